"""Many clients at once against a real service process: ``itu bench service`` and
``make bench-service``. Each client submits small solve jobs and polls them to the end; every
request is timed, and every job is accounted for (succeeded, ended otherwise, or lost).

(Named service_load.py, not service.py: run as a script from this folder, a service.py here
would stand in for the project's service package.)
"""
from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from geodata.scenario import generate_scenario, synthetic_area, write_scenario

#: States a job does not leave.
FINAL_STATES = ("succeeded", "failed", "cancelled")


@dataclass
class ServiceLoad:
    """What the clients saw: request times in seconds, each job's final state by id, the jobs
    the store lists at the end, and the clients' errors."""

    clients: int
    jobs_per_client: int
    trips: int
    seconds: float
    poll_s: float
    wall_s: float = 0.0
    submit_s: list[float] = field(default_factory=list)
    status_s: list[float] = field(default_factory=list)
    final: dict[str, str] = field(default_factory=dict)
    stored: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def submitted(self) -> int:
        return self.clients * self.jobs_per_client

    @property
    def lost(self) -> int:
        """Jobs neither seen to end nor failed by an error the client saw."""
        return self.submitted - len(self.final) - len(self.errors)

    @property
    def ok(self) -> bool:
        return not self.errors and self.lost == 0

    def report(self) -> list[str]:
        """The figures as ``itu bench service`` prints them (at most five errors)."""
        lines = [f"{self.clients} clients x {self.jobs_per_client} solve jobs of {self.trips} trips, {self.seconds} s "
                 f"each, polling every {self.poll_s} s; wall time {self.wall_s:.1f} s"]
        if self.submit_s:
            median, p95 = _median_and_95th_ms(self.submit_s)
            lines.append(f"submit: {len(self.submit_s)} requests, median {median:.0f} ms, 95th percentile {p95:.0f} ms")
        if self.status_s:
            median, p95 = _median_and_95th_ms(self.status_s)
            lines.append(f"status: {len(self.status_s)} requests, median {median:.0f} ms, 95th percentile {p95:.0f} ms")
        states = statistics.multimode(self.final.values()) if self.final else []
        lines.append(f"jobs: {self.submitted} submitted, {sum(1 for s in self.final.values() if s == 'succeeded')} "
                     f"succeeded, {sum(1 for s in self.final.values() if s != 'succeeded')} ended otherwise, "
                     f"{self.lost} lost; {len(self.stored)} in the store ({', '.join(states)})")
        lines.extend(f"error: {error}" for error in self.errors[:5])
        return lines


def _median_and_95th_ms(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered) * 1000, ordered[max(0, int(round(0.95 * len(ordered))) - 1)] * 1000


def run_service_load(clients: int = 50, jobs_per_client: int = 1, trips: int = 20, seconds: float = 1.0,
                     poll_s: float = 0.5, database: str | None = None) -> ServiceLoad:
    """Start ``itu serve --dev`` on a free port (its database ``database``, a SQLAlchemy URL, or
    a fresh SQLite file), upload a generated day of ``trips`` trips and its fleet, and let
    ``clients`` threads each submit ``jobs_per_client`` jobs of ``seconds`` and poll each every
    ``poll_s`` seconds until it ends. The service is stopped before this returns."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    folder = Path(tempfile.mkdtemp(prefix="itu-bench-"))
    # every client submits as the one development owner: the per-key pace limits would measure themselves
    env = {**os.environ, "ITU_DATABASE_URL": database or f"sqlite:///{folder / 'bench.sqlite3'}",
           "ITU_SEED_EXAMPLE": "false", "ITU_MAX_SUBMISSIONS_PER_MINUTE": str(10**6),
           "ITU_MAX_QUEUED_JOBS_PER_KEY": str(10**6), "ITU_MAX_RUNNING_JOBS_PER_KEY": str(10**6)}
    server = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--dev", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    load = ServiceLoad(clients, jobs_per_client, trips, seconds, poll_s)

    def call(method, path, body=None, headers=None):
        request = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=120) as response:
            data = json.loads(response.read())
        return data, time.perf_counter() - started

    try:
        for _ in range(600):
            try:
                call("GET", "/v1/health")
                break
            except OSError:
                time.sleep(0.1)
        write_scenario(generate_scenario(synthetic_area(), trips=trips, seed=3), folder)
        trip_set, _ = call("POST", "/v1/trip-sets?name=bench", (folder / "trips.csv").read_bytes(),
                           {"Content-Type": "text/csv"})
        fleet, _ = call("POST", "/v1/fleets?name=bench", (folder / "fleet.json").read_bytes(),
                        {"Content-Type": "application/json"})
        lock = threading.Lock()

        def client(n: int) -> None:
            try:
                for _ in range(jobs_per_client):
                    body = json.dumps({"trip_set_id": trip_set["id"], "fleet_id": fleet["id"],
                                       "time_limit_s": seconds, "seed": n}).encode()
                    job, took = call("POST", "/v1/solve-jobs", body, {"Content-Type": "application/json",
                                                                      "Idempotency-Key": uuid.uuid4().hex})
                    with lock:
                        load.submit_s.append(took)
                    while True:
                        time.sleep(poll_s)
                        job, took = call("GET", job["url"])
                        with lock:
                            load.status_s.append(took)
                        if job["state"] in FINAL_STATES:
                            with lock:
                                load.final[job["id"]] = job["state"]
                            break
            except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
                with lock:
                    load.errors.append(f"client {n}: {exc}")

        started = time.perf_counter()
        threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        load.wall_s = time.perf_counter() - started
        listing, _ = call("GET", "/v1/jobs?limit=200")
        load.stored = {j["id"]: j["state"] for j in listing["items"]}
    finally:
        server.terminate()
        server.wait(timeout=60)
    return load
