"""The production shape, for real: a Dask scheduler and two Dask worker processes started on
their own (each in a working directory of its own, sharing nothing with the service but the
database URL), ``itu serve`` and ``itu solve --dask-scheduler`` sending work to them, a worker
killed mid-job and started again, and the scheduler itself restarted."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.ports import free_port
from tests.test_service_processes import Service, finished, running

pytestmark = pytest.mark.slow
DASK = Path(sys.executable).with_name("dask")


class Processes:
    """Process groups started here and stopped, whatever happens, at the end."""

    def __init__(self, root: Path):
        self.root = root
        self.started: list[subprocess.Popen] = []
        # solver workers start processes of their own, which a daemonic process may not
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}

    def start(self, name: str, *args: str) -> subprocess.Popen:
        folder = self.root / name
        folder.mkdir(exist_ok=True)
        process = subprocess.Popen([str(DASK), *args], cwd=folder, env=self.env, start_new_session=True,
                                   stdout=subprocess.DEVNULL, stderr=open(folder / "log.txt", "ab"))
        self.started.append(process)
        return process

    def scheduler(self, port: int) -> subprocess.Popen:
        self.current_scheduler = self.start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                            "--no-dashboard")
        return self.current_scheduler

    def worker(self, name: str, address: str) -> subprocess.Popen:
        return self.start(name, "worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                          "--local-directory", str(self.root / name / "space"))

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=60)

    def stop_all(self) -> None:
        for process in self.started:
            self.kill(process)


def workers_connected(address: str, count: int, timeout_s: float = 180) -> None:
    from distributed import Client

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with Client(address, timeout="5s") as client:
                client.wait_for_workers(count, timeout=max(1.0, deadline - time.monotonic()))
                return
        except (OSError, TimeoutError):
            time.sleep(0.5)
    raise AssertionError(f"{count} workers did not connect to {address}")


def worker_running(address: str, key_prefix: str) -> int:
    """The process id of the worker running a task whose name starts with ``key_prefix``."""
    from distributed import Client

    with Client(address, timeout="10s") as observer:
        for _ in range(600):
            for worker, keys in observer.processing().items():
                if any(str(k).startswith(key_prefix) for k in keys):
                    return observer.run(os.getpid, workers=[worker])[worker]
            time.sleep(0.1)
    raise AssertionError("no worker picked the job up")


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory):
    """One scheduler and two workers for the module (starting them is most of a test's time); a
    test that kills some of them starts them again, as an operator would."""
    processes = Processes(tmp_path_factory.mktemp("cluster"))
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    processes.scheduler(port)
    workers = {name: processes.worker(name, address) for name in ("worker-a", "worker-b")}
    try:
        yield processes, address, workers, port
    finally:
        processes.stop_all()


@pytest.fixture
def cluster(shared_cluster):
    """The module's cluster, whole again: its scheduler and both workers connected."""
    _, address, _, _ = shared_cluster
    workers_connected(address, 2)
    return shared_cluster


def test_itu_serve_on_a_separate_cluster_survives_a_worker_killed_and_started_again(cluster, database_url):
    processes, address, workers, _ = cluster
    service = Service(database_url, DASK_SCHEDULER=address)
    try:
        job = service.submit(time_limit_s=6)
        service.wait([job], running(1))
        busy = os.getpgid(worker_running(address, f"job-{job['id']}"))
        # that worker dies with its nanny (kill -9 of its process group); a new one is started
        name = next(n for n, p in workers.items() if p.pid == busy)
        processes.kill(workers[name])
        workers[name] = processes.worker(f"{name}-again-{len(processes.started)}", address)
        done = service.wait([job], finished)[0]
        assert done["state"] == "succeeded", done["error"]
        assert done["attempts"] == 2  # run again from the start on a live worker
        assert service.call("GET", "/v1/health")["status"] == "ok"
    finally:
        service.stop()


def test_itu_serve_outlives_a_restart_of_the_scheduler(cluster, tmp_path):
    processes, address, workers, port = cluster
    # nothing here races a restart of the service: a short lease only brings the take-back sooner
    service = Service(f"sqlite:///{tmp_path / 's.sqlite3'}", DASK_SCHEDULER=address, JOB_LEASE_S="10")
    try:
        first = service.submit(time_limit_s=10)  # still running when everything is killed below
        service.wait([first], running(1))
        # the scheduler dies, and the workers with it (they shut down without one); all start again
        for process in [processes.current_scheduler, *workers.values()]:
            processes.kill(process)
        processes.scheduler(port)
        for name in list(workers):
            workers[name] = processes.worker(f"{name}-again-{len(processes.started)}", address)
        workers_connected(address, 2)
        # the job that was running is taken back when its lease runs out, and runs again
        done = service.wait([first], finished, timeout_s=400)[0]
        assert done["state"] == "succeeded", done["error"]
        later = service.submit(time_limit_s=2)  # and new work goes to the new scheduler
        assert service.wait([later], finished)[0]["state"] == "succeeded"
    finally:
        service.stop()


def test_itu_solve_sends_its_regions_to_the_cluster(cluster, tmp_path):
    _, address, _, _ = cluster
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    example = ROOT / "examples" / "rutland"
    result = subprocess.run([sys.executable, "-m", "service.cli", "solve", str(example / "trips.csv"),
                             str(example / "fleet.json"), "--seconds", "120", "--max-rounds", "3000", "--regions", "2",
                             "--dask-scheduler", address, "--quiet", "--out", str(out)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"planning regions on {address}: 2 workers" in result.stdout
    regions = json.loads((out / "plan.json").read_text())["solver"]["regions"]
    assert regions["count"] == 2 and regions["at_once"] == 2 and all(r["planned"] for r in regions["each"])
