"""The service's commands: ``itu serve`` and ``itu keys``."""
from __future__ import annotations

import sys

from optimiser.errors import ItuError


def cmd_serve(args) -> int:
    from service.server import ServerOptions, serve

    return serve(ServerOptions(host=args.host, port=args.port, dev=args.dev, debug=args.debug,
                               workers=args.workers, threads=args.threads))


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
    serve.add_argument("--debug", action="store_true", help="Werkzeug's development server instead of gunicorn")
    serve.add_argument("--workers", type=int, default=1, help="gunicorn worker processes for requests (default 1; "
                                                             "the job runner has a process of its own)")
    serve.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker (default 8)")
    serve.set_defaults(func=cmd_serve)

    keys = sub.add_parser("keys", help="API keys: create, list, revoke")
    keys_sub = keys.add_subparsers(dest="action", required=True)
    create = keys_sub.add_parser("create", help="a new key; shown once")
    create.add_argument("name", help="who or what the key is for")
    keys_sub.add_parser("list", help="every key, active or revoked")
    revoke = keys_sub.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    keys.set_defaults(func=cmd_keys)
