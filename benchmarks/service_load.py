"""Many clients at once against a real service process: ``itu bench service`` and
``make bench-service``. The clients submit small solve jobs and ask for their status as fast as
the service answers; every request is timed, and every job is accounted for (succeeded, ended
otherwise, or lost). benchmarks/service_floor.py measures a trivial app the same way, for the
ratios the service is held to.

(Named service_load.py, not service.py: run as a script from this folder, a service.py here
would stand in for the project's service package.)
"""
from __future__ import annotations

import gc
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from geodata.scenario import generate_scenario, synthetic_area, write_scenario

#: States a job does not leave.
FINAL_STATES = ("succeeded", "failed", "cancelled")


@dataclass(frozen=True)
class LoadProtocol:
    """How hard and how long the clients press: the same for the service and for the floor."""

    #: client threads, each a closed loop (its next request as soon as the last one is answered)
    clients: int = 30
    #: rounds of each client in the load phase: one submission, then one status request
    rounds: int = 10
    #: trips of the day the load phase submits
    trips: int = 20
    #: trips of the larger day the size phase submits, alternately with the small one
    large_trips: int = 2000
    #: time limit of each job (seconds)
    seconds: float = 0.5
    #: how long the jobs are given to end after the clients stop (seconds)
    drain_s: float = 600.0
    #: gunicorn worker processes and threads per worker, for the service and the floor alike
    workers: int = 1
    threads: int = 8
    #: times the floor and then the service are measured, each time on fresh servers and
    #: databases: a phase lasts a second or two, and on a shared machine one phase's figure
    #: moves by a quarter from one run to the next, so the ratios are medians over trials
    trials: int = 3


@dataclass
class RequestTimes:
    """What the clients of one phase saw: the time of every answered request (seconds), the
    phase's wall time, and the errors (a refused request or a connection that failed)."""

    submit_s: list[float] = field(default_factory=list)
    status_s: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        """Answered requests a second."""
        return (len(self.submit_s) + len(self.status_s)) / self.wall_s if self.wall_s else 0.0


def percentile_ms(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile, in milliseconds (nan for no values)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, int(round(fraction * len(ordered))) - 1)] * 1000


def _median_and_95th_ms(values: list[float]) -> tuple[float, float]:
    return statistics.median(values) * 1000, percentile_ms(values, 0.95)


@dataclass
class ServiceLoad:
    """What the clients saw of the service: the load phase's requests, the size phase's
    submissions by the size of the day, each job's final state by id, and the errors."""

    clients: int
    jobs_per_client: int
    trips: int
    seconds: float
    poll_s: float = 0.0
    wall_s: float = 0.0
    submit_s: list[float] = field(default_factory=list)
    status_s: list[float] = field(default_factory=list)
    final: dict[str, str] = field(default_factory=dict)
    stored: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    #: submission times of the size phase, by trips in the day
    submit_by_size_s: dict[int, list[float]] = field(default_factory=dict)
    #: jobs submitted in the size phase (cancelled once it is over: only their submission is measured)
    size_jobs: int = 0

    @property
    def submitted(self) -> int:
        return self.clients * self.jobs_per_client + self.size_jobs

    @property
    def lost(self) -> int:
        """Jobs neither seen to end nor failed by an error the client saw."""
        return max(0, self.submitted - len(self.final) - len(self.errors))

    @property
    def ok(self) -> bool:
        return not self.errors and self.lost == 0

    @property
    def throughput(self) -> float:
        return (len(self.submit_s) + len(self.status_s)) / self.wall_s if self.wall_s else 0.0

    @property
    def size_p95_ratio(self) -> float | None:
        """Submit p95 of the largest day over that of the smallest (None without a size phase)."""
        if len(self.submit_by_size_s) < 2:
            return None
        sizes = sorted(self.submit_by_size_s)
        return percentile_ms(self.submit_by_size_s[sizes[-1]], 0.95) / percentile_ms(self.submit_by_size_s[sizes[0]],
                                                                                      0.95)

    def report(self) -> list[str]:
        """The figures as ``itu bench service`` prints them (at most five errors)."""
        lines = [f"{self.clients} clients x {self.jobs_per_client} rounds (submit a solve job of {self.trips} trips, "
                 f"{self.seconds:g} s, then ask its status); wall time {self.wall_s:.1f} s"]
        if self.submit_s:
            median, p95 = _median_and_95th_ms(self.submit_s)
            lines.append(f"submit: {len(self.submit_s)} requests, median {median:.0f} ms, 95th percentile {p95:.0f} ms")
        if self.status_s:
            median, p95 = _median_and_95th_ms(self.status_s)
            lines.append(f"status: {len(self.status_s)} requests, median {median:.0f} ms, 95th percentile {p95:.0f} ms")
        if self.wall_s:
            lines.append(f"throughput: {self.throughput:.1f} requests a second")
        for size, times in sorted(self.submit_by_size_s.items()):
            median, p95 = _median_and_95th_ms(times)
            lines.append(f"submit, day of {size:,} trips: {len(times)} requests, median {median:.0f} ms, "
                         f"95th percentile {p95:.0f} ms")
        states = statistics.multimode(self.final.values()) if self.final else []
        lines.append(f"jobs: {self.submitted} submitted, {sum(1 for s in self.final.values() if s == 'succeeded')} "
                     f"succeeded, {sum(1 for s in self.final.values() if s != 'succeeded')} ended otherwise, "
                     f"{self.lost} lost; {len(self.stored)} in the store ({', '.join(states)})")
        lines.extend(f"error: {error}" for error in self.errors[:5])
        return lines


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def call(base: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
         timeout_s: float = 120) -> tuple[dict, float]:
    """(the JSON answer, seconds from sending to the last byte); a 4xx or 5xx raises."""
    request = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        data = json.loads(response.read())
    return data, time.perf_counter() - started


def wait_until_up(base: str, path: str, process: subprocess.Popen, ready: Callable[[dict], bool] = lambda _: True,
                  timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server stopped before it answered (exit status {process.returncode})")
        try:
            if ready(call(base, "GET", path, timeout_s=5)[0]):
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{base}{path} did not answer within {timeout_s:.0f} s")


def closed_loop(clients: int, rounds: int, one_round: Callable[[int, int, RequestTimes, threading.Lock], None]
                ) -> RequestTimes:
    """``clients`` threads each run ``rounds`` rounds back to back; a round that fails is an error
    and ends its client.

    The objects this process already holds (imported modules, the generated days: over 100,000)
    are frozen while the clients run: a full collection through them stops every client for
    about 30 ms, which would be timed as the server's, in the floor's phase or the service's
    by chance."""
    times, lock = RequestTimes(), threading.Lock()

    def client(n: int) -> None:
        try:
            for r in range(rounds):
                one_round(n, r, times, lock)
        except (OSError, ValueError, KeyError) as exc:  # every failure is counted and shown
            detail = exc.read().decode(errors="replace")[:200] if isinstance(exc, urllib.error.HTTPError) else ""
            with lock:
                times.errors.append(f"client {n}: {exc} {detail}".rstrip())

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    frozen_before = gc.get_freeze_count() > 0  # then what froze it also unfreezes it, not this
    gc.freeze()
    try:
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        times.wall_s = time.perf_counter() - started
    finally:
        if not frozen_before:
            gc.unfreeze()
    return times


def start_service(port: int, database: str, protocol: LoadProtocol, folder: Path) -> subprocess.Popen:
    """``itu serve --dev`` as production runs it (gunicorn, the job runner in its own process, a
    local Dask cluster), every submission made as the one development owner."""
    # the per-key pace limits would measure themselves: lifted; the running jobs per key and the
    # jobs at once stay at their defaults, as a council's service runs them
    env = {**os.environ, "ITU_DATABASE_URL": database, "ITU_SEED_EXAMPLE": "false",
           "ITU_MAX_SUBMISSIONS_PER_MINUTE": str(10**6), "ITU_MAX_QUEUED_JOBS_PER_KEY": str(10**6)}
    return subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--dev", "--port", str(port),
                             "--workers", str(protocol.workers), "--threads", str(protocol.threads)], env=env,
                            stdout=subprocess.DEVNULL, stderr=open(folder / "service.log", "ab"),
                            start_new_session=True)


def stop(process: subprocess.Popen, timeout_s: float = 120) -> None:
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait(timeout=30)


def run_service_load(protocol: LoadProtocol, database: str | None = None, size_check: bool = True,
                     folder: Path | None = None, drain_jobs: bool = True) -> ServiceLoad:
    """Start the service on a free port (its database ``database``, a SQLAlchemy URL, or a fresh
    SQLite file), upload a generated day of ``protocol.trips`` trips and its fleet, and run the
    load phase: every client submits a job and asks its status, ``protocol.rounds`` times. Then,
    with ``size_check``, the size phase: the clients submit jobs on the small day and on a day of
    ``protocol.large_trips`` alternately (only the submission is measured: those jobs are
    cancelled when the phase is over). Every job is then given ``protocol.drain_s`` to end; without
    ``drain_jobs`` (a trial before the last), the jobs still waiting are cancelled first, so that
    every job still ends and is counted. The service is stopped before this returns."""
    folder = folder or Path(tempfile.mkdtemp(prefix="itu-bench-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_service(port, database or f"sqlite:///{folder / 'bench.sqlite3'}", protocol, folder)
    load = ServiceLoad(protocol.clients, protocol.rounds, protocol.trips, protocol.seconds)
    json_type = {"Content-Type": "application/json"}
    try:
        wait_until_up(base, "/v1/health", server, ready=lambda health: health.get("status") == "ok")
        days = {}
        for trips in sorted({protocol.trips, *([protocol.large_trips] if size_check else [])}):
            day = folder / f"day-{trips}"
            write_scenario(generate_scenario(synthetic_area(), trips=trips, seed=3), day)
            trip_set, _ = call(base, "POST", f"/v1/trip-sets?name=bench-{trips}", (day / "trips.csv").read_bytes(),
                               {"Content-Type": "text/csv"})
            fleet, _ = call(base, "POST", f"/v1/fleets?name=bench-{trips}", (day / "fleet.json").read_bytes(),
                            json_type)
            days[trips] = (trip_set["id"], fleet["id"])
        job_urls: dict[str, str] = {}

        def submit(trips: int, seed: int, times: list[float], lock: threading.Lock) -> dict:
            trip_set, fleet = days[trips]
            body = json.dumps({"trip_set_id": trip_set, "fleet_id": fleet, "time_limit_s": protocol.seconds,
                               "seed": seed}).encode()
            job, took = call(base, "POST", "/v1/solve-jobs", body, {**json_type, "Idempotency-Key": uuid.uuid4().hex})
            with lock:
                times.append(took)
                job_urls[job["id"]] = job["url"]
            return job

        def load_round(n: int, r: int, times: RequestTimes, lock: threading.Lock) -> None:
            job = submit(protocol.trips, n * protocol.rounds + r, times.submit_s, lock)
            _, took = call(base, "GET", job["url"])
            with lock:
                times.status_s.append(took)

        phase = closed_loop(protocol.clients, protocol.rounds, load_round)
        load.submit_s, load.status_s, load.wall_s, load.errors = (phase.submit_s, phase.status_s, phase.wall_s,
                                                                  list(phase.errors))
        if size_check:
            by_size = {trips: [] for trips in days}
            size_ids: list[str] = []
            sizes = sorted(days)

            def size_round(n: int, r: int, times: RequestTimes, lock: threading.Lock) -> None:
                trips = sizes[(n + r) % len(sizes)]
                job = submit(trips, r, by_size[trips], lock)
                with lock:
                    size_ids.append(job["id"])

            phase = closed_loop(protocol.clients, protocol.rounds, size_round)
            load.submit_by_size_s, load.size_jobs = by_size, protocol.clients * protocol.rounds
            load.errors += phase.errors
            load.errors += cancel(base, size_ids)  # only their submission was to be measured
        if not drain_jobs:
            load.errors += cancel(base, list(job_urls))
        load.final = drain(base, job_urls, protocol.drain_s)
        load.stored = stored_jobs(base)
    finally:
        stop(server)
    return load


def cancel(base: str, job_ids: list[str]) -> list[str]:
    """Cancel each job that has not ended; the errors, if any (409, the job ended already, is none)."""
    errors = []
    for job_id in job_ids:
        try:
            call(base, "POST", f"/v1/jobs/{job_id}/cancel")
        except urllib.error.HTTPError as exc:
            if exc.code != 409:
                errors.append(f"cancel {job_id}: {exc}")
    return errors


def drain(base: str, job_urls: dict[str, str], drain_s: float) -> dict[str, str]:
    """Each job's final state, asked until every job has one or ``drain_s`` has passed; a job
    without one by then is not in the answer (it is lost)."""
    final: dict[str, str] = {}
    deadline = time.monotonic() + drain_s
    while time.monotonic() < deadline and len(final) < len(job_urls):
        for job_id, url in job_urls.items():
            if job_id in final:
                continue
            try:
                state = call(base, "GET", url)[0]["state"]
            except (OSError, ValueError):
                continue
            if state in FINAL_STATES:
                final[job_id] = state
        if len(final) < len(job_urls):
            time.sleep(1.0)
    return final


def stored_jobs(base: str) -> dict[str, str]:
    """Every job the store lists for the development owner, with its state."""
    found: dict[str, str] = {}
    path = "/v1/jobs?limit=200"
    while path:
        page, _ = call(base, "GET", path)
        found.update({j["id"]: j["state"] for j in page["items"]})
        path = page["next"]
    return found
