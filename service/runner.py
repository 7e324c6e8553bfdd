"""Hands queued jobs to Dask and watches them: a LocalCluster by default, or an existing
scheduler by address so that solver workers can run on many machines.

The database is the only source of truth. The runner claims a queued job atomically (so two
service processes never run one job twice), keeps its heartbeat fresh while the job is in
the cluster, and requeues or fails it when its worker dies. On start it takes back jobs whose
heartbeat went stale (the service or its worker stopped) and runs them again; the worker
side counts attempts and fails a job that keeps dying, with a reason.

``itu serve`` runs the runner in a process of its own beside gunicorn (``main`` below), so that
the Dask client, its event loop and the writing of results never compete with requests for the
interpreter: a request worker only wakes the runner (a byte down a pipe, ``RunnerLink``) and
reads how it is doing from the small status file the runner rewrites every second. Tests and
the development server run it in a thread of the application instead (``create_app``).
"""
from __future__ import annotations

import json
import logging
import os
import select as readiness
import signal
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Integer, bindparam, func, or_, select, update

from .config import Limits
from .jobs import INTERNAL_ERROR_MESSAGE, run_job
from .store import Job, Store, utcnow

log = logging.getLogger(__name__)
#: How old a runner's status file may be before the request workers report the runner as not
#: running (it rewrites the file every ``RunnerPace.status_every_s``).
STATUS_STALE_S = 10.0
#: The oldest queued jobs nobody has taken (at most ``most``), read at every pass.
QUEUE_HEAD = (select(Job.id, Job.owner).where(Job.state == "queued", Job.dispatched_by.is_(None))
              .order_by(Job.created_at).limit(bindparam("most", type_=Integer)))
#: Each key's jobs in the cluster already (dispatched by any service process): while a key has
#: its ``Limits.running_jobs_per_key``, the rest of its jobs wait.
JOBS_IN_THE_CLUSTER_BY_KEY = (select(Job.owner, func.count())
                              .where(Job.state.in_(("queued", "running")), Job.dispatched_by.is_not(None))
                              .group_by(Job.owner))


@dataclass(frozen=True)
class RunnerPace:
    """How often the runner's loop looks at the queue and the cluster."""

    #: how long the loop sleeps when nobody wakes it (a submission, or a job that ends in the
    #: cluster, wakes it at once)
    poll_s: float = 0.5
    #: the shortest time from one pass of the loop to the next, however often it is woken: a burst
    #: of submissions (hundreds a second) is claimed a pass at a time instead of costing two reads
    #: and a write each, which compete with the requests for the CPU and, on SQLite, the write lock
    min_pass_s: float = 0.1
    #: how often at most the runner rewrites the leases of the jobs it has in the cluster, as a
    #: share of the lease (and never less often than every 5 s): each is a write the request
    #: workers' inserts wait for on SQLite, so not one every pass
    heartbeats_per_lease: int = 6
    #: how often a runner in its own process rewrites its status file
    status_every_s: float = 1.0
    #: queued jobs read per pass (the oldest first)
    queue_read: int = 50


def usable_cores() -> int:
    """The cores this process may run on (its affinity, which a container or ``taskset`` can
    narrow), not every core of the machine."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def jobs_at_once(setting: int | None, scheduler: str | None, local_workers: int) -> int | None:
    """How many jobs the runner keeps in the cluster at once, over all keys (None: no limit of its
    own). Given: the setting. On a cluster of its own elsewhere (a scheduler address): no limit,
    the solves do not share the service's cores. On a local cluster: one fewer than the usable
    cores, at least one, and no more than the workers: solves that hold every core slow the
    requests' answers even at a lower priority, so a core is left for them."""
    if setting is not None:
        return setting
    if scheduler:
        return None
    return max(1, min(local_workers, usable_cores() - 1))


def cluster_shape(settings: dict) -> tuple[int, int | None]:
    """(workers of a local cluster, jobs at once) as a runner with ``settings`` runs them."""
    workers = settings.get("DASK_WORKERS") or usable_cores()
    return workers, jobs_at_once(settings.get("JOBS_AT_ONCE"), settings.get("DASK_SCHEDULER"), workers)


class JobRunner:
    def __init__(self, store: Store, settings: dict, *, instance: str | None = None, wake_fd: int | None = None,
                 status_file: Path | None = None, pace: RunnerPace = RunnerPace()):
        """``instance``: the name it claims jobs under (a runner restarted by its service takes
        back the jobs of its former self at once); ``wake_fd``: the read end of a pipe others
        wake it through besides its own pipe (``wake``); ``status_file``: where it
        reports how it is doing, for request workers in other processes; ``pace``: how often its
        loop looks at the queue and the cluster."""
        self.store = store
        self.settings = {k: settings[k] for k in ("MAX_JOB_ATTEMPTS", "DEFAULT_SOLVE_SECONDS", "ROADS_PBF", "OSRM_URL",
                                                  "SOLVER_NICENESS", "MAX_COMPARISON_SECONDS")}
        self.scheduler = settings.get("DASK_SCHEDULER")
        #: workers of a local cluster, and jobs in the cluster at once (None: no limit of the
        #: runner's own); the rest wait queued
        self.n_workers, self.jobs_at_once = cluster_shape(settings)
        self.lease = timedelta(seconds=settings["JOB_LEASE_S"])
        self.limits = Limits.from_config(settings)
        #: why the last pass of the loop failed (None when it worked): the health check reports it
        self.last_failure: str | None = None
        self.instance = instance or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.client = None
        self.cluster = None
        self.futures: dict[str, object] = {}
        self._stop = threading.Event()
        # the runner's own pipe: ``wake`` and a job that ends in the cluster (a Dask callback, from
        # another thread) write to it, so that a job waiting for room goes in at once rather than
        # at the next poll; the loop also reads the pipe others wake it through, if given
        self._own_read, self._own_write = os.pipe()
        os.set_blocking(self._own_write, False)
        self._own_lock = threading.Lock()  # the pipe is not closed while a wake writes to it
        self._wake_reads = [self._own_read] + ([wake_fd] if wake_fd is not None else [])
        for fd in self._wake_reads:
            os.set_blocking(fd, False)
        self.status_file = status_file
        self._status_written = 0.0
        self._thread: threading.Thread | None = None
        self._next_recovery = 0.0
        self._next_heartbeat = 0.0
        self.pace = pace
        self.heartbeat_every_s = min(5.0, self.lease.total_seconds() / pace.heartbeats_per_lease)

    # -- life cycle --------------------------------------------------------------------------------------
    def start(self) -> None:
        import dask
        from distributed import Client, LocalCluster

        # solver workers start processes of their own (portfolio searches), which daemonic
        # processes may not; and a job that keeps killing its worker stops being retried
        dask.config.set({"distributed.worker.daemon": False,
                         "distributed.scheduler.allowed-failures": self.settings["MAX_JOB_ATTEMPTS"] - 1})
        if self.scheduler:
            self.client = Client(self.scheduler, timeout="20s")
        else:
            self.cluster = LocalCluster(n_workers=self.n_workers, threads_per_worker=1, processes=True,
                                        dashboard_address=":0", silence_logs=logging.ERROR)
            self.client = Client(self.cluster)
        from .solver_warm_up import SolverWarmUp

        # every worker loads the solver before its first job; waited for here, so that the
        # status file (and with it the health check) says ready once the workers are
        self.client.register_plugin(SolverWarmUp(int(self.settings["SOLVER_NICENESS"])))
        self.hand_back(count_attempts=True)  # a former self of this instance (restarted by its service) had them
        self.recover()
        self._thread = threading.Thread(target=self._loop, name="itu-job-runner", daemon=True)
        self._thread.start()

    def stop(self, *, requeue: bool = True) -> None:
        """Stop dispatching; hand this instance's unfinished jobs back to the queue so that any
        live instance (or the next start) runs them at once, then close the cluster. A running
        job handed back does not count the attempt: it did not fail, its service stopped. Its
        run, if it goes on (on a cluster that outlives this service), stops at its next progress
        check, seeing the job is no longer its own."""
        self._stop.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(timeout=10)
        # a loop still in a pass (a database that hangs) may yet select on the pipes: they stay
        # open rather than closed under it, where their numbers could be reused by another file
        loop_ended = self._thread is None or not self._thread.is_alive()
        if requeue:
            if self.client is not None and self.futures:  # tasks not started yet must not start
                self.client.cancel(list(self.futures.values()))
            self.hand_back(count_attempts=False)
        if self.client is not None:
            self.client.close(timeout=10)
        if self.cluster is not None:
            self.cluster.close(timeout=10)
        with self._own_lock:
            if self._own_write is not None and loop_ended:
                os.close(self._own_write)
                os.close(self._own_read)
                self._own_write = None

    def hand_back(self, *, count_attempts: bool) -> None:
        """Put the jobs this instance dispatched back in the queue for any live runner. Running
        ones keep their attempt only when ``count_attempts`` (the run died with its runner); a
        clean stop does not count it."""
        mine = update(Job).where(Job.dispatched_by == self.instance)
        with self.store.session() as s, s.begin():
            s.execute(mine.where(Job.state == "running")
                      .values(state="queued", dispatched_by=None, heartbeat_at=None,
                              **({} if count_attempts else {"attempts": Job.attempts - 1})))
            s.execute(mine.where(Job.state == "queued").values(dispatched_by=None, heartbeat_at=None))

    def wake(self) -> None:
        """A job was submitted, or one ended in the cluster: look now rather than at the next poll."""
        with self._own_lock:
            if self._own_write is not None:
                wake_through(self._own_write)

    def workers(self) -> list[str]:
        return sorted(self.client.scheduler_info()["workers"]) if self.client else []

    def problems(self) -> list[str]:
        """What stops jobs from running now; empty when the runner is working."""
        found = []
        if self._thread is None or not self._thread.is_alive():
            found.append("the job runner is not running")
        if self.last_failure:
            found.append(f"the job runner's last pass failed ({self.last_failure})")
        try:
            if not self.workers():
                found.append("the Dask cluster has no workers")
        except Exception as exc:  # noqa: BLE001 - a scheduler that went away is what is being reported
            found.append(f"the Dask scheduler cannot be reached ({type(exc).__name__})")
        return found

    # -- the loop ------------------------------------------------------------------------------------------
    def recover(self) -> int:
        """Take back live jobs whose lease expired (no heartbeat for ``JOB_LEASE_S``): the service
        that dispatched them, or the worker running them, is gone. Any live instance does this,
        a few times a lease from its loop, so a crashed peer's jobs do not wait for the next start."""
        stale = utcnow() - self.lease
        with self.store.session() as s, s.begin():
            done = s.execute(update(Job).where(
                or_(Job.state == "running", (Job.state == "queued") & Job.dispatched_by.is_not(None)),
                or_(Job.heartbeat_at.is_(None), Job.heartbeat_at < stale))
                .values(state="queued", dispatched_by=None, heartbeat_at=None))
            if done.rowcount:
                log.warning("took back %d job(s) whose lease of %s expired", done.rowcount, self.lease)
            return done.rowcount or 0

    def _loop(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                if time.monotonic() >= self._next_recovery:  # not only at start: a crashed peer's jobs
                    self.recover()
                    self._next_recovery = time.monotonic() + self.lease.total_seconds() / 4
                self._watch()  # first: jobs that ended make room for the queue
                self._dispatch()
                self.last_failure = None
            except Exception as exc:  # the loop must outlive a database hiccup
                log.exception("job runner iteration failed")
                self.last_failure = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            self._report_status()
            if self._stop.wait(max(0.0, self.pace.min_pass_s - (time.monotonic() - began))):
                break
            for ready in readiness.select(self._wake_reads, [], [], self.pace.poll_s)[0]:
                try:
                    os.read(ready, 4096)  # every wake so far is answered by the next pass
                except (BlockingIOError, OSError):
                    pass

    def _report_status(self) -> None:
        if self.status_file is None or time.monotonic() - self._status_written < self.pace.status_every_s:
            return
        self._status_written = time.monotonic()
        try:
            workers = self.workers()
        except Exception:  # noqa: BLE001 - problems() names it
            workers = []
        write_status(self.status_file, {"instance": self.instance, "problems": self.problems(), "workers": workers})

    def _dispatch(self) -> None:
        room = self.pace.queue_read if self.jobs_at_once is None else self.jobs_at_once - len(self.futures)
        if room <= 0:  # the queue waits until a job in the cluster ends (it wakes the loop)
            return
        with self.store.session() as s:
            queued = list(s.execute(QUEUE_HEAD, {"most": self.pace.queue_read}))
            busy = dict(s.execute(JOBS_IN_THE_CLUSTER_BY_KEY).all())
        for job_id, owner in queued:
            if room <= 0:
                break
            if job_id in self.futures:  # taken back from this runner (its lease ran out) while its run goes on
                continue
            if busy.get(owner, 0) >= self.limits.running_jobs_per_key:
                continue
            with self.store.session() as s, s.begin():
                claimed = s.execute(update(Job).where(Job.id == job_id, Job.dispatched_by.is_(None))
                                    .values(dispatched_by=self.instance, heartbeat_at=utcnow())).rowcount
            if claimed:
                busy[owner] = busy.get(owner, 0) + 1
                room -= 1
                future = self.client.submit(run_job, job_id, self.store.url, self.settings,
                                            key=f"job-{job_id}-{uuid.uuid4().hex[:6]}", pure=False)
                self.futures[job_id] = future
                future.add_done_callback(lambda _: self.wake())

    def _watch(self) -> None:
        if self.futures and time.monotonic() >= self._next_heartbeat:  # alive: keep its jobs' leases fresh
            self._next_heartbeat = time.monotonic() + self.heartbeat_every_s
            with self.store.session() as s, s.begin():
                s.execute(update(Job).where(Job.id.in_(list(self.futures)), Job.state == "queued")
                          .values(heartbeat_at=utcnow()))
                s.execute(update(Job).where(Job.id.in_(list(self.futures)), Job.state == "running",
                                            Job.heartbeat_at < utcnow() - timedelta(seconds=5))
                          .values(heartbeat_at=utcnow()))
        for job_id, future in list(self.futures.items()):
            if not future.done():
                continue
            del self.futures[job_id]
            if future.status == "error":
                self._worker_failed(job_id, future.exception())

    def _worker_failed(self, job_id: str, error: BaseException) -> None:
        """The task itself failed (Dask gave up after workers died running it, or the job
        function crashed): fail the job with the reason unless it already ended."""
        name = type(error).__name__
        if name == "KilledWorker":
            message = "its worker died every time it ran it (out of memory, or killed)"
        else:  # the text of a crash is for the log, not for the job's owner (it can name server paths)
            log.error("job %s failed in its worker: %s: %s", job_id, name, error)
            message = INTERNAL_ERROR_MESSAGE
        with self.store.session() as s, s.begin():
            s.execute(update(Job).where(Job.id == job_id, Job.state.in_(("queued", "running")))
                      .values(state="failed", finished_at=utcnow(),
                              error={"code": "worker_lost" if name == "KilledWorker" else "internal_error",
                                     "message": message}))


# -- the runner in a process of its own -------------------------------------------------------------------
def wake_through(fd: int) -> None:
    """One byte down the runner's pipe; a full pipe already holds a wake it has not read."""
    try:
        os.write(fd, b"w")
    except (BlockingIOError, OSError):
        pass


def write_status(path: Path, status: dict) -> None:
    """Replace the status file in one step, so a reader never sees half of it."""
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps({**status, "written_at": time.time()}))
    os.replace(partial, path)


class RunnerLink:
    """What a request worker knows of a runner in another process: how to wake it, and how it is
    doing (from its status file). Shaped like ``JobRunner`` where the API uses it."""

    def __init__(self, wake_fd: int, status_file: str | Path):
        self.wake_fd, self.status_file = wake_fd, Path(status_file)

    def wake(self) -> None:
        wake_through(self.wake_fd)

    def _status(self) -> dict | None:
        try:
            status = json.loads(self.status_file.read_text())
        except (OSError, ValueError):
            return None
        return status if time.time() - status.get("written_at", 0) <= STATUS_STALE_S else None

    def problems(self) -> list[str]:
        status = self._status()
        return ["the job runner is not running"] if status is None else list(status["problems"])

    def workers(self) -> list[str]:
        status = self._status()
        return [] if status is None else list(status["workers"])

    def stop(self, requeue: bool = True) -> None:  # the service stops the runner's process itself
        return None


def main() -> int:
    """The runner's own process, as ``itu serve`` starts it: the configuration as JSON on standard
    input; ``--wake-fd N``, ``--status-file PATH`` and ``--instance NAME`` as arguments. SIGTERM
    (or SIGINT) stops it cleanly: its jobs go back to the queue. It also stops when its service
    goes away without a word (its parent changes), rather than running on as an orphan."""
    import argparse

    parser = argparse.ArgumentParser(prog="itu-job-runner")
    parser.add_argument("--wake-fd", type=int, required=True)
    parser.add_argument("--status-file", type=Path, required=True)
    parser.add_argument("--instance", required=True)
    args = parser.parse_args()
    config = json.load(sys.stdin)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s [job runner] %(levelname)s %(message)s")
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    parent = os.getppid()
    runner = JobRunner(Store(config["DATABASE_URL"]), config, instance=args.instance, wake_fd=args.wake_fd,
                       status_file=args.status_file)
    runner.start()
    try:
        while not stopping.wait(1.0) and os.getppid() == parent:
            pass
    finally:
        runner.stop()
        runner.store.dispose()
    return 0
