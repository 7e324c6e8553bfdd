"""The service as it runs in production: ``itu serve`` processes (gunicorn, each with its job
runner and a local Dask cluster) on one database, killed with SIGKILL, stopped with SIGTERM,
restarted at once, side by side on PostgreSQL. Nothing is lost and nothing waits for a start."""
from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta

import pytest
from sqlalchemy import select

from service.store import Job, Store, utcnow
from tests.conftest import ROOT
from tests.ports import free_port
from tests.test_service_api import FLEET, TRIPS

pytestmark = pytest.mark.slow
#: Longer than a service takes to start, so that a restart comes before the crashed one's lease
#: ends: the jobs must be taken back by a process that is already running, not by a start.
LEASE_S = 20


class Service:
    """One ``itu serve --dev`` process group (gunicorn and its Dask workers) on ``database_url``."""

    def __init__(self, database_url: str, workers: int = 2, args: tuple[str, ...] = (), **settings: str):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "ITU_DATABASE_URL": database_url,
               "ITU_SEED_EXAMPLE": "false", "ITU_DASK_WORKERS": str(workers),
               "ITU_JOBS_AT_ONCE": str(workers),  # these tests run jobs side by side on every worker
               "ITU_JOB_LEASE_S": str(LEASE_S),
               **{f"ITU_{name}": value for name, value in settings.items()}}
        # a free port can be taken by another process before the service binds it (a Dask worker of
        # a test running beside this one): the service then exits, and starts again on another port
        for _ in range(3):
            if self._start(env, args):
                return
        raise AssertionError("itu serve found no free port in three tries")

    def _start(self, env: dict, args: tuple[str, ...]) -> bool:
        """True once the service answers healthy; False if its port was taken before it bound it."""
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--dev", "--port",
                                         str(self.port), *args], cwd=ROOT, env=env, start_new_session=True,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(1200):
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode()
                if "Address already in use" in error or "Connection in use" in error:  # gunicorn says the latter
                    return False
                raise AssertionError(f"itu serve exited: {error[-2000:]}")
            try:
                if self.call("GET", "/v1/health")["status"] == "ok":
                    return True
            except (OSError, ValueError, http.client.HTTPException):  # not answering yet, or not it
                pass
            time.sleep(0.1)
        raise AssertionError("itu serve did not become healthy")

    def call(self, method: str, path: str, body: bytes | None = None, media_type: str = "application/json"):
        return json.loads(self.response(method, path, body, media_type)[1])

    def response(self, method: str, path: str, body: bytes | None = None, media_type: str = "application/json"):
        """(headers, body) of one request."""
        request = urllib.request.Request(self.base + path, data=body, method=method,
                                         headers={"Content-Type": media_type} if body is not None else {})
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.headers, response.read()

    def submit(self, time_limit_s: float) -> dict:
        trips = self.call("POST", "/v1/trip-sets", TRIPS, "text/csv")
        fleet = self.call("POST", "/v1/fleets", FLEET)
        return self.call("POST", "/v1/solve-jobs", json.dumps({"trip_set_id": trips["id"], "fleet_id": fleet["id"],
                                                                "time_limit_s": time_limit_s}).encode())

    def job(self, job: dict) -> dict:
        return self.call("GET", job["url"])

    def wait(self, jobs: list[dict], condition, timeout_s: float = 300) -> list[dict]:
        for _ in range(int(timeout_s / 0.5)):
            now = [self.job(j) for j in jobs]
            if condition(now):
                return now
            time.sleep(0.5)
        raise AssertionError(f"not reached in {timeout_s} s: {[(j['id'], j['state']) for j in now]}")

    def kill(self) -> None:
        """SIGKILL to the whole group: the service and its cluster die at once, handing nothing back."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=60)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                pass
        self.kill()  # whatever is left of the group


@pytest.mark.parametrize("args, server", [((), "gunicorn"), (("--debug",), "Werkzeug")])
def test_itu_serve_runs_gunicorn_unless_asked_for_the_development_server(tmp_path, args, server):
    service = Service(f"sqlite:///{tmp_path / 's.sqlite3'}", args=args, RUNNER="false")
    try:
        assert service.response("GET", "/v1/health")[0]["Server"].startswith(server)
        service.process.send_signal(signal.SIGTERM)  # a clean stop either way
        assert service.process.wait(timeout=90) == 0
    finally:
        service.stop()


def runner_processes(service: Service) -> list[int]:
    """The job runner processes ``itu serve`` started (children of its master)."""
    found = subprocess.run(["pgrep", "-P", str(service.process.pid), "-f", "service.runner"], capture_output=True,
                           text=True)
    return [int(pid) for pid in found.stdout.split()]


def test_several_gunicorn_workers_share_one_job_runner_which_is_started_again_when_it_dies(tmp_path):
    """The runner has a process of its own: more request workers do not mean more local clusters.
    When it dies it is started again and takes back the job it was running."""
    # a lease far longer than the wait: only the restarted runner taking back its own can explain the end
    service = Service(f"sqlite:///{tmp_path / 's.sqlite3'}", workers=1, args=("--workers", "2"), JOB_LEASE_S="3600")
    try:
        assert len(runner_processes(service)) == 1
        job = service.submit(time_limit_s=1)
        assert service.wait([job], finished)[0]["state"] == "succeeded"
        job = service.submit(time_limit_s=3)
        service.wait([job], running(1))
        [runner] = runner_processes(service)
        os.kill(runner, signal.SIGKILL)
        done = service.wait([job], finished)[0]
        assert (done["state"], done["attempts"]) == ("succeeded", 2), done["error"]
        assert len(runner_processes(service)) == 1 and runner_processes(service) != [runner]
    finally:
        service.stop()


def running(count: int):
    return lambda jobs: sum(j["state"] == "running" for j in jobs) >= count


def finished(jobs):
    return all(j["state"] in ("succeeded", "failed", "cancelled") for j in jobs)


def test_a_killed_service_restarted_at_once_runs_its_jobs_to_the_end(database_url):
    first = Service(database_url)
    try:
        jobs = [first.submit(time_limit_s=3) for _ in range(4)]
        during = first.wait(jobs, running(2))  # two run, two wait
        was_running = {j["id"] for j in during if j["state"] == "running"}
        first.kill()
    finally:
        first.stop()
    second = Service(database_url)  # at once: the dead service's leases have not run out yet
    try:
        done = second.wait(jobs, finished)
        assert [j["state"] for j in done] == ["succeeded"] * 4, [j["error"] for j in done]
        assert {j["id"] for j in done if j["attempts"] == 2} == was_running  # run again from the start
    finally:
        second.stop()


def test_sigterm_hands_running_jobs_back_without_counting_the_attempt(database_url):
    first = Service(database_url, workers=1)  # one job: one solver worker is enough
    try:
        job = first.submit(time_limit_s=120)
        first.wait([job], lambda jobs: jobs[0]["state"] == "running" and jobs[0]["progress"].get("best_cost"))
        first.process.send_signal(signal.SIGTERM)
        assert first.process.wait(timeout=90) == 0
    finally:
        first.stop()
    store = Store(database_url)
    try:
        with store.session() as s:
            handed_back = s.get(Job, job["id"])
        assert (handed_back.state, handed_back.dispatched_by, handed_back.attempts) == ("queued", None, 0)
    finally:
        store.dispose()
    second = Service(database_url, workers=1)
    try:  # the next service runs it at once, as its first attempt
        again = second.wait([job], running(1))[0]
        assert again["attempts"] == 1
        second.call("POST", job["cancel_url"])
        assert second.wait([job], finished)[0]["state"] == "cancelled"
    finally:
        second.stop()


def test_two_services_on_one_postgresql_take_over_each_others_jobs(postgres_url):
    from sqlalchemy import create_engine, text

    engine = create_engine(postgres_url)
    with engine.begin() as connection:  # a clean schema
        for table in ("job_results", "jobs", "trip_sets", "fleets", "api_keys", "health_checks", "alembic_version"):
            connection.execute(text(f"DROP TABLE IF EXISTS {table} CASCADE"))
    engine.dispose()
    first = Service(postgres_url, workers=1)
    second = None
    try:
        second = Service(postgres_url, workers=1)  # alive beside the first, on the same database
        jobs = [first.submit(time_limit_s=3) for _ in range(4)]
        # both run jobs: the first's are told apart by who dispatched them (a service names its
        # runner after its pid). It is killed while one of its jobs has just started, so that the
        # job is still running when it dies
        store = Store(postgres_url)
        try:
            was_running = set()
            for _ in range(1200):
                with store.session() as s:
                    running_now = s.execute(select(Job.id, Job.dispatched_by, Job.started_at)
                                            .where(Job.state == "running")).all()
                was_running = {job_id for job_id, by, started in running_now
                               if f":{first.process.pid}:" in (by or "") and utcnow() - started < timedelta(seconds=1)}
                if was_running:
                    break
                time.sleep(0.1)
            assert was_running, "the first service never started a job"
            first.kill()  # the second, already running, takes back what the first had
        finally:
            store.dispose()
        done = second.wait(jobs, finished)
        assert [j["state"] for j in done] == ["succeeded"] * 4, [j["error"] for j in done]
        assert all(j["attempts"] == 2 for j in done if j["id"] in was_running)
        assert sum(j["attempts"] for j in done) > 4  # something was run again
    finally:
        first.stop()
        if second is not None:
            second.stop()
