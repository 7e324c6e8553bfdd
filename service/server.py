"""How ``itu serve`` runs the application: gunicorn by default (a production server: worker
processes, threads, graceful stop on SIGTERM), Werkzeug's development server only when asked
for with ``--debug``. Either way SIGTERM stops the service cleanly: it stops claiming jobs and
hands its running ones back to the queue before it exits."""
from __future__ import annotations

import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigurationError


@dataclass(frozen=True)
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    #: development mode: no API keys (loopback only)
    dev: bool = False
    #: Werkzeug's development server instead of gunicorn
    debug: bool = False
    #: gunicorn worker processes; each runs its own job runner
    workers: int = 1
    #: threads per gunicorn worker (requests served at once by each)
    threads: int = 8
    #: seconds a gunicorn worker may take over one request before it is restarted
    timeout_s: int = 120
    #: seconds a stopping worker is given to finish its requests and hand its jobs back
    graceful_timeout_s: int = 30


def overrides(options: ServerOptions) -> dict:
    return {"BIND_HOST": options.host, **({"DEV_MODE": True} if options.dev else {})}


def checked_config(options: ServerOptions) -> dict:
    """The configuration the workers will run with, checked and the database migrated here, once,
    before any worker starts (a bad setting is one clear message, not a worker failing to boot)."""
    from flask import Flask

    from .config import load_config
    from .store import migrate

    config = load_config(Path(Flask("service", instance_relative_config=True).instance_path), overrides(options))
    if options.workers < 1 or options.threads < 1:
        raise ConfigurationError("workers and threads must be at least 1", where="--workers/--threads")
    if options.workers > 1 and not config["DASK_SCHEDULER"] and config["RUNNER"]:
        raise ConfigurationError(
            "several workers need one Dask scheduler to share (ITU_DASK_SCHEDULER=tcp://host:8786): each worker "
            "would otherwise start a local cluster of its own", where="--workers")
    migrate(config["DATABASE_URL"])
    return config


def describe(config: dict, options: ServerOptions) -> None:
    host = f"[{options.host}]" if ":" in options.host else options.host
    url = f"http://{host}:{options.port}/"
    if config["DEV_MODE"]:
        print("DEVELOPMENT MODE: no API keys are asked for; everything belongs to one 'development' owner. "
              "Listening on a loopback address only.", file=sys.stderr)
    workers = config["DASK_WORKERS"] or "one per core"
    where = config["DASK_SCHEDULER"] or f"a local Dask cluster ({workers} workers)"
    server = ("Werkzeug's development server (--debug)" if options.debug
              else f"gunicorn, {options.workers} worker(s) x {options.threads} thread(s)")
    print(f"Database: {config['DATABASE_URL']}; solves run on {where}; served by {server}.", file=sys.stderr)
    print(f"The planner's page: {url}   API: {url}v1/   API documentation: {url}v1/docs", flush=True)


def serve(options: ServerOptions) -> int:
    config = checked_config(options)
    describe(config, options)
    if options.debug:
        return _serve_development(options)
    return _serve_gunicorn(options)


def _serve_development(options: ServerOptions) -> int:
    from werkzeug.serving import run_simple

    from . import create_app, stop_app

    app = create_app(overrides(options))

    def terminate(_signum, _frame):  # SIGTERM as a clean stop, not a crash: the finally below runs
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, terminate)
    try:
        run_simple(options.host, options.port, app, threaded=True, use_reloader=False, use_debugger=False)
    finally:
        stop_app(app)
    return 0


def _serve_gunicorn(options: ServerOptions) -> int:
    from gunicorn.app.base import BaseApplication

    from . import create_app, stop_app

    apps = []

    def worker_exit(_server, _worker):  # SIGTERM, or a restart: hand the jobs back before exiting
        while apps:
            stop_app(apps.pop())

    class Service(BaseApplication):
        def load_config(self):
            host = f"[{options.host}]" if ":" in options.host else options.host
            for name, value in {"bind": [f"{host}:{options.port}"], "workers": options.workers,
                                "threads": options.threads, "worker_class": "gthread",
                                "timeout": options.timeout_s, "graceful_timeout": options.graceful_timeout_s,
                                "worker_exit": worker_exit, "accesslog": None, "errorlog": "-",
                                "loglevel": "warning", "proc_name": "itu-serve"}.items():
                self.cfg.set(name, value)

        def load(self):  # in each worker, after the fork: its own database pool and job runner
            app = create_app(overrides(options))
            apps.append(app)
            return app

    Service().run()
    return 0
