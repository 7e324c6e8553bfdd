"""Loads the solver on every Dask worker when it joins the cluster, before it is given a job.

A worker's first job would otherwise import the optimiser and load the compiled search, about
two seconds of CPU, inside its time limit; and on a service just started, that CPU is spent
beside the first requests, at the service's own priority (the import runs on the worker's
event loop, not in the job's lowered thread). ``JobRunner.start`` registers this plugin and
waits for it on the workers already there, so the service reports itself ready once its
workers are; a worker that joins later loads itself the same way.
"""
from __future__ import annotations

import asyncio
import logging
import threading

from distributed.diagnostics.plugin import WorkerPlugin

log = logging.getLogger(__name__)


class SolverWarmUp(WorkerPlugin):
    #: registered again by a runner that restarts against the same scheduler: nothing to redo
    idempotent = True
    name = "itu-solver-warm-up"

    def __init__(self, niceness: int):
        self.niceness = niceness

    async def setup(self, worker) -> None:
        # in a thread of its own, lowered as a job's is, while the event loop keeps answering
        # the scheduler: the worker's own threads keep the priority they have
        thread = threading.Thread(target=self.load_solver, name="itu-solver-warm-up", daemon=True)
        thread.start()
        while thread.is_alive():
            await asyncio.sleep(0.05)

    def load_solver(self) -> None:
        try:
            from optimiser.engine.ruin_recreate import compile_now

            from .jobs import run_below_the_service

            run_below_the_service(self.niceness)
            compile_now()
        except Exception:  # noqa: BLE001 - a worker that cannot warm up still runs jobs (and says why then)
            log.exception("the solver could not be loaded ahead of the first job")
