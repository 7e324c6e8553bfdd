"""How ``itu serve`` runs the application: gunicorn by default (a production server: worker
processes, threads, graceful stop on SIGTERM), Werkzeug's development server only when asked
for with ``--debug``. Either way SIGTERM stops the service cleanly: it stops claiming jobs and
hands its running ones back to the queue before it exits.

Under gunicorn the job runner (claiming jobs, the Dask client, writing results) runs in a
process of its own beside the request workers, started, watched and restarted by gunicorn's
master: request workers then only answer HTTP and talk to the database, and never wait behind
the runner for the interpreter or the CPU."""
from __future__ import annotations

import gc
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
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
    #: gunicorn worker processes (requests only: the job runner has a process of its own)
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
    from sqlalchemy.exc import OperationalError

    from .config import load_config
    from .store import migrate

    instance = Path(Flask("service", instance_relative_config=True).instance_path)
    # the default database is a SQLite file in the instance folder, which a fresh checkout lacks
    instance.mkdir(parents=True, exist_ok=True)
    config = load_config(instance, overrides(options))
    if options.workers < 1 or options.threads < 1:
        raise ConfigurationError("workers and threads must be at least 1", where="--workers/--threads")
    try:
        migrate(config["DATABASE_URL"])
    except OperationalError as exc:  # a folder that is not there, a server that does not answer
        raise ConfigurationError(f"cannot open the database: {exc.orig}", where="ITU_DATABASE_URL") from None
    return config


def describe(config: dict, options: ServerOptions) -> None:
    from .runner import cluster_shape

    host = f"[{options.host}]" if ":" in options.host else options.host
    url = f"http://{host}:{options.port}/"
    if config["DEV_MODE"]:
        print("DEVELOPMENT MODE: no API keys are asked for; everything belongs to one 'development' owner. "
              "Listening on a loopback address only.", file=sys.stderr)
    workers, at_once = cluster_shape(config)
    if config["DASK_SCHEDULER"]:
        where = f"the Dask scheduler at {config['DASK_SCHEDULER']}" + (f", {at_once} job(s) at once" if at_once else "")
    else:
        where = f"a local Dask cluster of {workers} worker(s), {at_once} job(s) at once"
    server = ("Werkzeug's development server (--debug)" if options.debug
              else f"gunicorn, {options.workers} worker(s) x {options.threads} thread(s)")
    print(f"Database: {config['DATABASE_URL']}; solves run on {where}; served by {server}.", file=sys.stderr)
    print(f"The planner's page: {url}   API: {url}v1/   API documentation: {url}v1/docs", flush=True)


def serve(options: ServerOptions) -> int:
    config = checked_config(options)
    describe(config, options)
    if options.debug:
        return _serve_development(options)
    return _serve_gunicorn(options, config)


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


class RunnerProcess:
    """The job runner's own process: started before gunicorn's workers, started again if it
    dies, and stopped (its jobs handed back) after the workers when the service stops. The
    workers wake it through a pipe they inherit and read its status file."""

    def __init__(self, config: dict):
        self.config = config
        self.folder = Path(tempfile.mkdtemp(prefix="itu-runner-"))
        self.status_file = self.folder / "status.json"
        # one name across restarts: a runner started again takes back its former self's jobs at once
        self.instance = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.wake_read, self.wake_write = os.pipe()
        os.set_blocking(self.wake_write, False)
        self.process: subprocess.Popen | None = None
        self.stopping = False

    @property
    def link(self) -> dict:
        """What a request worker needs to reach the runner (``RunnerLink``)."""
        return {"wake_fd": self.wake_write, "status_file": str(self.status_file)}

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", "import sys; from service.runner import main; sys.exit(main())",
             "--wake-fd", str(self.wake_read), "--status-file", str(self.status_file), "--instance", self.instance],
            stdin=subprocess.PIPE, pass_fds=(self.wake_read,))
        self.process.stdin.write(json.dumps(self.config).encode())
        self.process.stdin.close()

    def keep_running(self) -> None:
        """Start the runner again if it died (the master calls this about once a second). A
        process reaped by gunicorn's own wait for its workers reads as ended too."""
        if self.process is not None and not self.stopping and self.process.poll() is not None:
            print(f"the job runner stopped (exit status {self.process.returncode}); starting it again",
                  file=sys.stderr, flush=True)
            self.start()

    def stop(self, timeout_s: float) -> None:
        self.stopping = True
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.status_file.unlink(missing_ok=True)
        self.folder.rmdir()


def request_worker_app(settings: dict):
    """A request worker's application, with every object the worker holds by then frozen.

    Once the application is loaded a worker holds about 160,000 objects (Flask, SQLAlchemy, the
    optimiser's modules), and Python's collector went through all of them in each full
    collection: 60 ms in a worker under load, during which none of its threads answered. The
    first came within the first few hundred requests after a start. Frozen, they are left out of
    every collection (the same full collection then took 0.7 ms); what requests make is collected
    as before."""
    from . import create_app

    app = create_app(settings)
    gc.collect()  # what loading left as garbage is freed first, not frozen for the worker's life
    gc.freeze()
    return app


def _serve_gunicorn(options: ServerOptions, config: dict) -> int:
    from gunicorn.app.base import BaseApplication
    from gunicorn.arbiter import Arbiter

    from . import stop_app

    apps = []
    runner = RunnerProcess(config) if config["RUNNER"] else None
    app_settings = {**overrides(options), "CONNECTION_PER_THREAD": True,
                    **({"RUNNER": False, "RUNNER_LINK": runner.link} if runner else {})}

    def worker_exit(_server, _worker):  # SIGTERM, or a restart: close the database before exiting
        while apps:
            stop_app(apps.pop())

    class Master(Arbiter):
        def manage_workers(self):  # about once a second, and whenever a worker ended
            super().manage_workers()
            if runner is not None:
                runner.keep_running()

    class Service(BaseApplication):
        def load_config(self):
            host = f"[{options.host}]" if ":" in options.host else options.host
            for name, value in {"bind": [f"{host}:{options.port}"], "workers": options.workers,
                                "threads": options.threads, "worker_class": "gthread",
                                "timeout": options.timeout_s, "graceful_timeout": options.graceful_timeout_s,
                                "worker_exit": worker_exit, "accesslog": None, "errorlog": "-",
                                "loglevel": "warning", "proc_name": "itu-serve"}.items():
                self.cfg.set(name, value)

        def load(self):  # in each worker, after the fork: its own database pool
            app = request_worker_app(app_settings)
            apps.append(app)
            return app

        def run(self):
            try:
                Master(self).run()
            except RuntimeError as exc:
                print(f"\nError: {exc}\n", file=sys.stderr)
                sys.exit(1)

    master = os.getpid()
    if runner is not None:
        runner.start()
    try:
        Service().run()
    finally:  # after the workers have stopped: the runner hands its jobs back, then exits
        # (a worker, forked inside run(), leaves through here too: the runner is not its to stop)
        if runner is not None and os.getpid() == master:
            runner.stop(timeout_s=options.graceful_timeout_s + 30)
    return 0
