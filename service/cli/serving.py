"""The service's commands: ``itu serve`` and ``itu keys``."""
from __future__ import annotations

import sys

from optimiser.errors import ItuError


def cmd_serve(args) -> int:
    from werkzeug.serving import run_simple

    from service import create_app, stop_app

    overrides = {"BIND_HOST": args.host}
    if args.dev:
        overrides["DEV_MODE"] = True
    app = create_app(overrides)
    url = f"http://{'[' + args.host + ']' if ':' in args.host else args.host}:{args.port}/"
    if app.config["DEV_MODE"]:
        print("DEVELOPMENT MODE: no API keys are asked for; everything belongs to one 'development' owner. "
              "Listening on a loopback address only.", file=sys.stderr)
    runner = app.extensions.get("itu.runner")
    where = app.config["DASK_SCHEDULER"] or f"a local Dask cluster of {runner.n_workers if runner else 0} workers"
    print(f"Database: {app.config['DATABASE_URL']}; solves run on {where}.", file=sys.stderr)
    print(f"The planner's page: {url}   API: {url}v1/   API documentation: {url}v1/docs", flush=True)
    try:
        run_simple(args.host, args.port, app, threaded=True, use_reloader=False)
    finally:
        stop_app(app)
    return 0


def key_store():
    """The service's store of API keys, without starting its runner or seeding its example."""
    from service import create_app

    app = create_app({"RUNNER": False, "SEED_EXAMPLE": False})
    return app.extensions["itu.store"]


def cmd_keys(args) -> int:
    store = key_store()
    if args.action == "create":
        record, key = store.create_key(args.name)
        print(f"created {record.id} ({record.name})")
        print(f"key: {key}")
        print("Keep it safe: only its hash is stored, it cannot be shown again.", file=sys.stderr)
    elif args.action == "list":
        for record in store.list_keys():
            state = f"revoked {record.revoked_at:%Y-%m-%d %H:%M}" if record.revoked_at else "active"
            print(f"{record.id}  {record.name:30s}  created {record.created_at:%Y-%m-%d %H:%M}  {state}")
    else:
        if not store.revoke_key(args.key_id):
            raise ItuError("no active key with that id", where=args.key_id)
        print(f"revoked {args.key_id}")
    return 0


def add_commands(sub) -> None:
    """``serve`` and ``keys``."""
    serve = sub.add_parser("serve", help="the HTTP API and the planner's web page")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--dev", action="store_true", help="development mode: no API keys (loopback only)")
    serve.set_defaults(func=cmd_serve)

    keys = sub.add_parser("keys", help="API keys: create, list, revoke")
    keys_sub = keys.add_subparsers(dest="action", required=True)
    create = keys_sub.add_parser("create", help="a new key; shown once")
    create.add_argument("name", help="who or what the key is for")
    keys_sub.add_parser("list", help="every key, active or revoked")
    revoke = keys_sub.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    keys.set_defaults(func=cmd_keys)
