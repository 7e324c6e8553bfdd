"""The floor the service is measured against (issue 31): a trivial Flask + SQLite app that stores
a submitted job as one row and answers its status from one row, served by gunicorn with the
service's own settings (gthread workers and threads) and pressed by the same clients in the same
run. ``compare_with_floor`` runs both and gives the ratios the service is held to:

- submit and status 95th percentiles at most 1.5 times the floor's;
- throughput at least 0.7 times the floor's;
- no errors and no job lost, and the submit 95th percentile of a 2,000-trip day within 1.5
  times that of a 20-trip day (a submission does not depend on the size of the day).

The floor app is the trivial thing on purpose: nothing in it is made slower to flatter the service.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from optimiser import InputFormatError

from .service_load import (LoadProtocol, RequestTimes, ServiceLoad, call, closed_loop, free_port, percentile_ms,
                           run_service_load, stop, wait_until_up)

#: What the service is held to (issue 31).
MOST_P95_RATIO = 1.5
LEAST_THROUGHPUT_RATIO = 0.7
MOST_SIZE_P95_RATIO = 1.5


#: The environment variable ``run_floor`` names the floor's database in, so that a URL's
#: password is not on gunicorn's command line.
FLOOR_DATABASE_VARIABLE = "ITU_BENCH_FLOOR_DATABASE"


def floor_app(database: str | None = None):
    """The floor: POST /jobs inserts the body as a row and answers its id and URL; GET /jobs/<id>
    selects the row. ``database``: a SQLite file, one connection per thread, in WAL mode with
    synchronous=NORMAL as the service's; or a PostgreSQL URL (SQLAlchemy's form), one psycopg
    connection per thread in autocommit, for the same app on the server a PostgreSQL run uses:
    what that server costs by itself, beside the floor the targets are about. None: the one the
    environment names (``FLOOR_DATABASE_VARIABLE``)."""
    from flask import Flask, jsonify, request

    database = database or os.environ.get(FLOOR_DATABASE_VARIABLE)
    if not database:
        raise InputFormatError("give the floor app its database (a SQLite file or a PostgreSQL URL)",
                               where=FLOOR_DATABASE_VARIABLE)
    local = threading.local()
    if database_kind(database) == "postgresql":
        import psycopg
        from sqlalchemy.engine import make_url

        conninfo = make_url(database).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(conninfo) as connection, connection.transaction():
            # one creator at a time: gunicorn's workers start together, and PostgreSQL's CREATE
            # TABLE IF NOT EXISTS is not safe from a concurrent one
            connection.execute("SELECT pg_advisory_xact_lock(hashtext('floor_jobs'))")
            connection.execute("CREATE TABLE IF NOT EXISTS floor_jobs (id TEXT PRIMARY KEY, body TEXT, state TEXT)")

        def postgresql() -> "psycopg.Connection":
            if not hasattr(local, "connection"):
                local.connection = psycopg.connect(conninfo, autocommit=True)
            return local.connection

        def insert(job_id: str, body: str) -> None:
            postgresql().execute("INSERT INTO floor_jobs (id, body, state) VALUES (%s, %s, 'queued')", (job_id, body))

        def select(job_id: str):
            return postgresql().execute("SELECT id, body, state FROM floor_jobs WHERE id = %s", (job_id,)).fetchone()
    else:
        with sqlite3.connect(database) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("CREATE TABLE IF NOT EXISTS floor_jobs (id TEXT PRIMARY KEY, body TEXT, state TEXT)")

        def sqlite() -> sqlite3.Connection:
            if not hasattr(local, "connection"):
                local.connection = sqlite3.connect(database, timeout=30)
                # the service's own SQLite settings (service/store.py), so that the two are compared on
                # their code and not on how often they wait for the disk
                local.connection.execute("PRAGMA synchronous=NORMAL")
            return local.connection

        def insert(job_id: str, body: str) -> None:
            with sqlite() as connection:
                connection.execute("INSERT INTO floor_jobs (id, body, state) VALUES (?, ?, 'queued')", (job_id, body))

        def select(job_id: str):
            return sqlite().execute("SELECT id, body, state FROM floor_jobs WHERE id = ?", (job_id,)).fetchone()

    app = Flask("floor")

    @app.get("/health")
    def health():
        return jsonify({"status": "ok"})

    @app.post("/jobs")
    def submit():
        job_id = uuid.uuid4().hex
        insert(job_id, json.dumps(request.get_json()))
        return jsonify({"id": job_id, "state": "queued", "url": f"/jobs/{job_id}"}), 202

    @app.get("/jobs/<job_id>")
    def status(job_id: str):
        row = select(job_id)
        if row is None:
            return jsonify({"error": "no such job"}), 404
        return jsonify({"id": row[0], "options": json.loads(row[1]), "state": row[2], "url": f"/jobs/{row[0]}"})

    return app


def run_floor(protocol: LoadProtocol, folder: Path | None = None, database: str | None = None) -> RequestTimes:
    """The floor app under gunicorn with the service's worker settings, pressed by the clients
    of the service's load phase (a submission, then a status request, ``protocol.rounds`` times).
    ``database``: a PostgreSQL URL for the floor on that server (None: a SQLite file of its own)."""
    folder = folder or Path(tempfile.mkdtemp(prefix="itu-floor-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # the service's own gunicorn settings (service/server.py): gthread workers, same timeout, no access log
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(protocol.workers),
         "--threads", str(protocol.threads), "--worker-class", "gthread", "--timeout", "120",
         "--graceful-timeout", "30", "--log-level", "warning", "--error-logfile", "-",
         "benchmarks.service_floor:floor_app()"],
        env={**os.environ, FLOOR_DATABASE_VARIABLE: database or str(folder / "floor.sqlite3")},
        stdout=subprocess.DEVNULL, stderr=open(folder / "floor.log", "ab"), start_new_session=True)
    try:
        wait_until_up(base, "/health", server, timeout_s=120)
        json_type = {"Content-Type": "application/json"}

        def one_round(n: int, r: int, times: RequestTimes, lock: threading.Lock) -> None:
            body = json.dumps({"trip_set_id": "trips", "fleet_id": "fleet", "time_limit_s": protocol.seconds,
                               "seed": n * protocol.rounds + r}).encode()
            job, took = call(base, "POST", "/jobs", body, {**json_type, "Idempotency-Key": uuid.uuid4().hex})
            with lock:
                times.submit_s.append(took)
            _, took = call(base, "GET", job["url"])
            with lock:
                times.status_s.append(took)

        return closed_loop(protocol.clients, protocol.rounds, one_round)
    finally:
        stop(server)


@dataclass
class FloorComparison:
    """The service and the floor, measured in one run."""

    database: str
    protocol: LoadProtocol
    service: ServiceLoad
    floor: RequestTimes
    #: on a PostgreSQL run, the same floor app on the trial's database: a reference beside the
    #: targets (they are held to the SQLite floor), telling the server's share from the service's
    database_floor: RequestTimes | None = None

    @property
    def ratios(self) -> dict:
        """The figures the targets are about, service over floor (the line ``--json`` ends with),
        and the service over the floor on the run's own database (None on SQLite)."""
        size = self.service.size_p95_ratio
        reference = self.database_floor
        return {
            "database": self.database, "clients": self.protocol.clients, "rounds": self.protocol.rounds,
            "workers": self.protocol.workers, "threads": self.protocol.threads,
            "submit_p95_ms": round(percentile_ms(self.service.submit_s, 0.95), 1),
            "status_p95_ms": round(percentile_ms(self.service.status_s, 0.95), 1),
            "throughput_rps": round(self.service.throughput, 1),
            **self._over(self.floor, "floor_", ""),
            "size_p95_ratio": None if size is None else round(size, 2),
            "size_submit_p95_ms": {str(trips): round(percentile_ms(times, 0.95), 1)
                                   for trips, times in sorted(self.service.submit_by_size_s.items())},
            "errors": (len(self.service.errors) + len(self.floor.errors)
                       + len(reference.errors if reference else [])),
            "jobs_lost": self.service.lost,
            "jobs_succeeded": sum(1 for s in self.service.final.values() if s == "succeeded"),
            **self._over(reference, "database_floor_", "database_floor_"),
        }

    def _over(self, floor: RequestTimes | None, floor_prefix: str, ratio_prefix: str) -> dict:
        """A floor's own figures (named with ``floor_prefix``) and the service's over them (with
        ``ratio_prefix``); all None without that floor."""
        names = ([f"{floor_prefix}{name}" for name in ("submit_p95_ms", "status_p95_ms", "throughput_rps")]
                 + [f"{ratio_prefix}{name}" for name in ("submit_p95_ratio", "status_p95_ratio", "throughput_ratio")])
        if floor is None:
            return dict.fromkeys(names)

        def ratio(a: float, b: float) -> float | None:
            return round(a / b, 2) if b and not math.isnan(a) and not math.isnan(b) else None

        submit, status = percentile_ms(floor.submit_s, 0.95), percentile_ms(floor.status_s, 0.95)
        return dict(zip(names, [round(submit, 1), round(status, 1), round(floor.throughput, 1),
                                ratio(percentile_ms(self.service.submit_s, 0.95), submit),
                                ratio(percentile_ms(self.service.status_s, 0.95), status),
                                ratio(self.service.throughput, floor.throughput)]))

    def targets(self) -> dict[str, bool]:
        return targets_met(self.ratios)

    def report(self, with_targets: bool = True) -> list[str]:
        floor_submit = percentile_ms(self.floor.submit_s, 0.95)
        floor_status = percentile_ms(self.floor.status_s, 0.95)
        lines = [f"database: {self.database}; gunicorn {self.protocol.workers} worker(s) x {self.protocol.threads} "
                 f"threads for both", "the service:"]
        lines += ["  " + line for line in self.service.report()]
        lines.append(f"the floor (Flask + SQLite, one row in, one row out): submit 95th percentile {floor_submit:.0f} ms, "
                     f"status {floor_status:.0f} ms, {self.floor.throughput:.1f} requests a second, "
                     f"{len(self.floor.errors)} errors")
        lines.append("service / floor: " + ratios_line(self.ratios))
        reference = self.database_floor
        if reference is not None:
            lines.append(f"the same floor app on {self.database} (a reference, not a target): submit 95th percentile "
                         f"{percentile_ms(reference.submit_s, 0.95):.0f} ms, status "
                         f"{percentile_ms(reference.status_s, 0.95):.0f} ms, {reference.throughput:.1f} requests a "
                         f"second, {len(reference.errors)} errors")
            lines.append(f"service / that floor: {database_floor_line(self.ratios)}")
        if with_targets:
            lines.append(targets_line(self.targets()))
        lines.extend(f"floor error: {error}" for error in self.floor.errors[:5])
        lines.extend(f"{self.database} floor error: {error}" for error in (reference.errors if reference else [])[:5])
        return lines


def ratios_line(r: dict) -> str:
    return (f"submit p95 {r['submit_p95_ratio']}x, status p95 {r['status_p95_ratio']}x, throughput "
            f"{r['throughput_ratio']}x; submit p95 of the large day over the small {r['size_p95_ratio']}")


def database_floor_line(r: dict) -> str:
    return (f"submit p95 {r['database_floor_submit_p95_ratio']}x, status p95 {r['database_floor_status_p95_ratio']}x, "
            f"throughput {r['database_floor_throughput_ratio']}x")


def targets_line(targets: dict[str, bool]) -> str:
    return "targets: " + "; ".join(f"{name} {'met' if met else 'NOT met'}" for name, met in targets.items())


def targets_met(r: dict) -> dict[str, bool]:
    """Each target of issue 31, met or not, by the figures of ``FloorComparison.ratios``."""
    return {"submit p95 <= 1.5x floor": r["submit_p95_ratio"] is not None and r["submit_p95_ratio"] <= MOST_P95_RATIO,
            "status p95 <= 1.5x floor": r["status_p95_ratio"] is not None and r["status_p95_ratio"] <= MOST_P95_RATIO,
            "throughput >= 0.7x floor": (r["throughput_ratio"] is not None
                                         and r["throughput_ratio"] >= LEAST_THROUGHPUT_RATIO),
            "no errors": r["errors"] == 0, "no job lost": r["jobs_lost"] == 0,
            "size p95 ratio <= 1.5": r["size_p95_ratio"] is not None and r["size_p95_ratio"] <= MOST_SIZE_P95_RATIO}


def database_kind(url: str | None) -> str:
    return "sqlite" if not url or url.startswith("sqlite") else url.split(":", 1)[0].split("+", 1)[0]


@contextlib.contextmanager
def trial_database(url: str | None, number: int):
    """The database of one trial: on PostgreSQL, a database of its own on ``url``'s server,
    created for the trial and dropped after it, so that no trial (and no earlier run) leaves jobs
    for the next one's service to run first or to count in its pace, and nothing in the named
    database is touched (it need not exist). A ``search_path`` in the URL's ``options`` is dropped:
    its schemas are not in the new database. Anything else is used as given (None: the service
    makes a fresh SQLite file of its own; a SQLite URL given is shared by the trials)."""
    if database_kind(url) != "postgresql":
        yield url
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url).difference_update_query(["options"])
    # short enough for PostgreSQL's 63 bytes with this machine's mark, the pid and the trial number whole
    prefix = trial_database_prefix(target.database)
    name = f"{prefix}{os.getpid()}_{number}"
    server = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")

    def drop(connection, name: str) -> None:  # a connection the stopped service left behind is ended first
        connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
        connection.execute(text(f"DROP DATABASE IF EXISTS {server.dialect.identifier_preparer.quote(name)}"))

    try:
        with server.connect() as connection:
            # a bench of this machine's killed outright (SIGKILL) could not drop its own: done here
            for found in connection.scalars(text("SELECT datname FROM pg_database WHERE starts_with(datname, :prefix)"),
                                            {"prefix": prefix}):
                if not process_alive(int(found[len(prefix):].split("_")[0])):
                    drop(connection, found)
            drop(connection, name)
            connection.execute(text(f"CREATE DATABASE {server.dialect.identifier_preparer.quote(name)}"))
        yield target.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            drop(connection, name)
        server.dispose()


def trial_database_prefix(database: str | None) -> str:
    """What the names of this machine's trial databases of ``database`` start with, before the
    bench's pid: the machine is marked, so that another machine's live bench on a shared server is
    never taken for a dead one of this machine's."""
    machine = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]
    return f"{(database or 'itu')[:30]}_trial_{machine}_"


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


#: The figures of ``FloorComparison.ratios`` that are medians over trials; the rest are the last
#: trial's (the size check runs there) or totals over every trial (errors, jobs).
MEDIAN_FIGURES = ("submit_p95_ms", "status_p95_ms", "floor_submit_p95_ms", "floor_status_p95_ms", "throughput_rps",
                  "floor_throughput_rps", "submit_p95_ratio", "status_p95_ratio", "throughput_ratio",
                  "database_floor_submit_p95_ms", "database_floor_status_p95_ms", "database_floor_throughput_rps",
                  "database_floor_submit_p95_ratio", "database_floor_status_p95_ratio",
                  "database_floor_throughput_ratio")
TOTAL_FIGURES = ("errors", "jobs_lost", "jobs_succeeded")


@dataclass
class FloorTrials:
    """Several trials of the floor then the service, each on fresh servers: the ratios the
    targets are held to are the medians of the trials' ratios (each trial's ratio is of two
    phases measured one after the other, so a slow moment of the machine moves both less than
    it moves either)."""

    trials: list[FloorComparison]

    @property
    def ratios(self) -> dict:
        each = [trial.ratios for trial in self.trials]
        figures = dict(each[-1])
        for name in MEDIAN_FIGURES:
            values = [r[name] for r in each if r[name] is not None]
            figures[name] = round(statistics.median(values), 2) if values else None
        for name in TOTAL_FIGURES:
            figures[name] = sum(r[name] for r in each)
        figures["trials"] = [{name: r[name] for name in ("submit_p95_ratio", "status_p95_ratio", "throughput_ratio")}
                             for r in each]
        return figures

    @property
    def ok(self) -> bool:
        return all(trial.service.ok and not trial.floor.errors
                   and not (trial.database_floor.errors if trial.database_floor else []) for trial in self.trials)

    def targets(self) -> dict[str, bool]:
        return targets_met(self.ratios)

    def report(self) -> list[str]:
        lines = []
        for number, trial in enumerate(self.trials, 1):
            lines.append(f"trial {number} of {len(self.trials)}:")
            lines += ["  " + line for line in trial.report(with_targets=False)]  # the targets once, below
        lines.append(f"medians over {len(self.trials)} trials, service / floor: " + ratios_line(self.ratios))
        if self.ratios["database_floor_throughput_ratio"] is not None:
            lines.append(f"medians over {len(self.trials)} trials, service / the floor on {self.trials[0].database}: "
                         + database_floor_line(self.ratios))
        lines.append(targets_line(self.targets()))
        return lines


def compare_with_floor(protocol: LoadProtocol, database: str | None = None, size_check: bool = True,
                       on_phase=lambda text: None) -> FloorTrials:
    """``protocol.trials`` times: the floor, on a quiet machine, then the service (on the database
    of ``trial_database``) under the same clients; nothing of one runs while the other
    is measured. On PostgreSQL the floor app also runs on the trial's database, between the two.
    The size check, and the wait for every job to end, are the last trial's; the jobs of earlier
    trials still waiting when their service stops are cancelled."""
    if protocol.trials < 1:
        raise InputFormatError("must be at least 1", where="trials")
    trials = []
    for number in range(1, protocol.trials + 1):
        last = number == protocol.trials
        folder = Path(tempfile.mkdtemp(prefix=f"itu-bench-{number}-"))
        on_phase(f"the floor app (trial {number} of {protocol.trials})")
        floor = run_floor(protocol, folder)
        with trial_database(database, number) as trial_url:
            database_floor = None
            if database_kind(database) == "postgresql":
                on_phase(f"the floor app on PostgreSQL (trial {number} of {protocol.trials})")
                database_floor = run_floor(protocol, folder, trial_url)
            on_phase(f"the service (trial {number} of {protocol.trials})")
            service = run_service_load(protocol, trial_url, size_check=size_check and last, folder=folder,
                                       drain_jobs=last)
        trials.append(FloorComparison(database_kind(database), protocol, service, floor, database_floor))
    return FloorTrials(trials)
