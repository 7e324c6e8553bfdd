"""Parts of one day planned side by side and joined: what regions and duty sides share.

A part is a smaller day (``part_of``): some trips, some vehicles, the piece of the travel matrix
they use. ``plan_parts`` plans the parts on an executor's slots (local processes by default, or
a Dask cluster's workers), each with the whole-day engine (``solve_part``), reports their
summed best cost as they search, and joins their plans into one checked plan (``join_parts``);
then, as the caller asks, searches each part again (``second_phase``) or the seams between them
(``mend``).
"""
from __future__ import annotations

import logging
import math
import multiprocessing
import os
import queue
import threading
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import replace
from typing import Callable, Sequence

import numpy as np

from optimiser.checker import checked_plan
from optimiser.domain.model import Problem, TravelMatrix, Trip, VehicleType
from optimiser.domain.plan import ContractedTrip, Plan, RouteOrder, SolveRecord, UnservedTrip, build_plan
from optimiser.engine.single import solve_single
from optimiser.errors import ItuError, SolveCancelled, SolveFailed
from optimiser.options import Progress, ProgressCallback, SolveOptions


log = logging.getLogger(__name__)

def part_of(problem: Problem, trips: Sequence[Trip], fleet_counts: Sequence[int], name: str,
             fleet: Sequence[VehicleType] | None = None) -> Problem:
    """A smaller day of ``problem``: these trips, this many vehicles of each type (of ``fleet``,
    the problem's own types if None), and the part of the travel matrix they use."""
    index = problem.matrix.index
    used = {vt.depot for vt in problem.vehicle_types} | {t.pickup for t in trips} | {t.dropoff for t in trips}
    ids = [loc for loc in problem.matrix.location_ids if loc in used]
    rows = np.asarray([index[loc] for loc in ids], dtype=np.intp)
    matrix = TravelMatrix(ids, problem.matrix.seconds[np.ix_(rows, rows)], problem.matrix.metres[np.ix_(rows, rows)])
    fleet = tuple(replace(vt, count=fleet_counts[ti]) for ti, vt in enumerate(fleet or problem.vehicle_types))
    return Problem(tuple(trips), fleet, matrix, problem.tariffs, name)

def solve_part(region: Problem, options: SolveOptions, stop, start_routes=None, progress=None, part: int = 0,
                  cooled: bool = False, sent_at: float | None = None) -> Plan:
    """One region's plan (runs in a worker process or on a Dask worker); ``stop`` is the whole
    solve's cancel, shared across processes; ``start_routes``: improve these rather than plan anew
    (``cooled``: they are this solve's own search's, so the search does not heat them again);
    ``progress``: a shared queue taking (part, best cost, vehicles of each type in use) at most
    every ``progress_every_s``;
    ``sent_at``: when the part was sent (``time.time()``), so that the time it took to arrive
    comes off its limit."""
    if sent_at is not None:
        # a new worker process takes 1.5 s to start and import the optimiser on an idle 2-core
        # machine, a Dask task a moment to arrive: the part's time limit counts from when it was
        # sent. Wall clocks: a Dask worker may be another machine. At most half the limit comes
        # off, whatever a clock that is set wrong says.
        late = min(max(0.0, time.time() - sent_at), 0.5 * options.time_limit_s)
        options = replace(options, time_limit_s=options.time_limit_s - late)
    parent = os.getppid()

    class Stop:  # a local worker whose parent was killed outright stops too, rather than plan for nobody
        @staticmethod
        def is_set() -> bool:
            return stop.is_set() or os.getppid() != parent

    sent = [-math.inf]
    every_s = options.parameters.decomposition.progress_every_s

    def on_progress(p) -> None:
        now = time.monotonic()
        if progress is not None and now - sent[0] >= every_s:
            sent[0] = now
            progress.put((part, p.best_cost, p.vehicles_by_type))

    return solve_single(region, options, cancel=Stop(), start_routes=start_routes, on_progress=on_progress,
                        cooled_start=cooled)

class SharedStop:
    """What every solve run on ``executor`` shares with the caller: a cancel (a Dask Event on a
    cluster, a manager's Event across local processes, a plain Event across threads) and, off a
    cluster, a queue for their best costs while they search."""

    def __init__(self, executor):
        self._manager = None
        self._on_scheduler = False
        self._was_set = False
        client = getattr(executor, "_client", None)
        if isinstance(executor, ThreadPoolExecutor):  # one process: nothing to share across
            self.event = threading.Event()
            self.progress = queue.Queue()
        elif client is not None:  # a Dask client's executor
            from uuid import uuid4

            from distributed import Event

            self.event = Event(f"itu-stop-{uuid4().hex}", client=client)
            self._on_scheduler = True
            # a distributed.Queue here hung a job planning regions from inside a Dask worker (the
            # service's case), so on a cluster the regions report only when they are done
            self.progress = None
        else:
            self._manager = multiprocessing.get_context("spawn").Manager()
            self.event = self._manager.Event()
            self.progress = self._manager.Queue()

    def set(self) -> None:
        self._was_set = True
        self.event.set()

    def withdraw(self, futures) -> None:
        """Withdraw the solves of ``futures`` not started yet, once this stop is set. Not on a
        cluster: there a withdrawn future counts as ended while its task, if it had started,
        runs on; each task is left to see the stop instead (at once, if it starts after it), so
        that its future ends when the task does and the stop is cleared only then."""
        if not self._on_scheduler:
            for future in futures:
                future.cancel()

    def reports(self) -> list[tuple[int, float, dict[str, int] | None]]:
        """The (part, best cost, vehicles of each type in use) reports waiting, oldest first."""
        if self.progress is None:
            return []
        out = []
        while True:
            try:
                out.append(self.progress.get_nowait())
            except queue.Empty:
                return out

    def close(self, every_part_ended: bool = False) -> None:
        """Let go of what was shared. A Dask Event once set stays on the scheduler until it is
        cleared, one for every stopped solve of a long-lived service; it is cleared only when the
        caller knows that every solve asking it has ended (``every_part_ended``): a solve still
        searching (given up, or not waited for after a cancel) must go on seeing the stop."""
        if self._manager is not None:
            self._manager.shutdown()
        if self._on_scheduler and self._was_set and every_part_ended:
            try:
                self.event.clear()
            except Exception:  # noqa: BLE001 - a scheduler gone by now has nothing left to clear
                log.debug("could not clear the stop on the scheduler", exc_info=True)

    def close_when_ended(self, futures) -> None:
        """``close(every_part_ended=True)`` once every one of ``futures`` (the solves asking this
        stop) has ended: for a caller that does not wait for its solves after a stop (a cancelled
        comparison), so that the stop is cleared from the scheduler only when none asks it."""
        running = [f for f in futures if not f.done()]
        if not running:
            self.close(every_part_ended=True)
            return
        lock = threading.Lock()
        left = [len(running)]

        def one_ended(_future) -> None:
            with lock:
                left[0] -= 1
                last = left[0] == 0
            if last:
                # a Dask future's callbacks run on the client's event loop, where the event's
                # own (blocking) calls to the scheduler cannot
                threading.Thread(target=self.close, kwargs={"every_part_ended": True},
                                 name="itu-stop-clear", daemon=True).start()

        for future in running:
            future.add_done_callback(one_ended)


class StopCheck:
    """A ``SharedStop``'s event as a solve in a worker asks it (a cancel token): at most every
    ``every_s``, since on a cluster each question is a round trip to the scheduler."""

    def __init__(self, event, every_s: float = 0.5):
        self.event, self.every_s = event, every_s
        self._next = 0.0
        self._set = False

    def is_set(self) -> bool:
        if not self._set and time.monotonic() >= self._next:
            self._next = time.monotonic() + self.every_s
            try:
                self._set = bool(self.event.is_set())
            except Exception:  # noqa: BLE001 - a scheduler or manager that did not answer this once
                # must not fail the solve asking: a stop missed now is seen at the next look
                log.debug("could not ask whether to stop", exc_info=True)
        return self._set

def plan_parts(problem: Problem, options: SolveOptions, parts: list[Problem], place: Callable, split_info: dict,
               started: float, *, mend: Callable | None, on_progress: ProgressCallback | None, cancel, executor,
               slots: int, second_phase: Callable | None = None, joined_cost: Callable | None = None) -> Plan:
    """Plan ``parts`` (smaller days that share nothing: no trip, and no vehicle in the same duty),
    ``slots`` at a time, and join their plans, ``place(part, route)`` giving each route its vehicle
    and duty in the whole day; with ``mend`` (regions.py's seam search), then search the seams
    between the parts again. With
    ``second_phase`` (a function of the parts' plans giving parts priced again, their start routes
    and how to place their routes, or None), the last ``second_phase_share`` of the time searches
    those parts again from their plans; the cheaper joined plan is kept. ``joined_cost`` (a
    function of each part's (best cost, vehicles of each type in use, None where unknown) giving
    what the joined plan would cost) prices the progress before the parts are joined, where parts
    priced apart do not add up to the joined plan (the sides of a day split by duty share their
    vehicles' day rates); without it the parts' costs are summed."""
    decomposition = options.parameters.decomposition

    own = executor is None
    if own:
        slots = max(1, options.workers)
        executor = ProcessPoolExecutor(max_workers=min(slots, len(parts)),
                                       mp_context=multiprocessing.get_context("spawn"))
    slots = max(1, min(slots, len(parts)))
    waves = math.ceil(len(parts) / slots)
    largest = max(len(p.trips) for p in parts)
    mending = (mend is not None and len(parts) > 1
               and options.time_limit_s * decomposition.seam_share >= decomposition.seam_least_s)
    second_s = 0.0
    if second_phase is not None and waves == 1:
        second_s = options.time_limit_s * decomposition.second_phase_share
        if second_s - decomposition.overhead_s_per_trip * largest < decomposition.second_phase_least_s:
            second_s = 0.0
    # the time already spent (splitting the day) is the first phase's: the seam's and the second
    # phase's shares are kept as they are
    first_s = (options.time_limit_s - (time.monotonic() - started)
               - (options.time_limit_s * decomposition.seam_share if mending else 0.0) - second_s)
    share = first_s / waves
    search_s = max(5.0, share - decomposition.overhead_s_per_trip * largest)
    region_options = replace(options, time_limit_s=search_s, workers=1, part_workers=1, regions=1)
    history: list[tuple[float, float]] = []
    plans: dict[int, Plan] = {}
    failures: dict[int, str] = {}
    # until a region is planned, its trips count at their contract prices: the cost of the plan
    # that could be given now
    unplanned = [sum((problem.contract_price(t) or (None, 0.0))[1] for t in p.trips) for p in parts]

    def record(cost: float, elapsed: float | None = None) -> None:
        if history and round(cost, 2) == history[-1][1]:
            return
        elapsed = time.monotonic() - started if elapsed is None else elapsed
        history.append((round(elapsed, 3), round(cost, 2)))
        if on_progress:
            on_progress(Progress(elapsed, cost, options.time_limit_s))

    stop = SharedStop(executor)
    stopped = False
    # a part overran its time limit by ``part_overrun_s``: every part was told to stop (their
    # plans so far are kept), and parts overrunning by twice that were given up
    overran = False
    given_up = False
    first_plan_s: float | None = None  # when every part had sent a plan of its own
    # a part submitted and not yet seen to end (a run left by an error, or a part given up)
    parts_running = False

    def run(parts_now: list[Problem], part_options, done_plans: dict[int, Plan], failed: dict[int, str],
            starts=None, offset: float = 0.0) -> None:
        """Plan every part of ``parts_now`` into ``done_plans`` (or its failure into ``failed``),
        reporting the sum of their costs so far plus ``offset``; parts started from ``starts``
        report only once each has sent a cost of its own."""
        nonlocal stopped, overran, given_up, parts_running
        parts_running = True
        # the best cost each part still searching has sent, and the vehicles of each type its plan uses
        searching: dict[int, tuple[float, dict[str, int] | None]] = {}
        heard: set[int] = set()  # parts that have sent a plan of their own, or ended
        if starts is None:
            searching.update((r, (cost, {})) for r, cost in enumerate(unplanned))

        def report():
            nonlocal first_plan_s
            now = time.monotonic() - started  # one reading: the first plan is never before its curve point
            if first_plan_s is None and starts is None and len(heard) == len(parts_now):
                first_plan_s = round(now, 3)
            if all(r in done_plans or r in searching for r in range(len(parts_now))):
                each = [(done_plans[r].cost.total, done_plans[r].vehicles_by_type) if r in done_plans
                        else searching[r] for r in range(len(parts_now))]
                # the second phase's parts are priced as the joined plan prices them already
                cost = offset + (joined_cost(each) if joined_cost is not None and starts is None
                                 else sum(c for c, _ in each))
                # parts searched again (``starts``) may report above the plan the day already has,
                # which it keeps if cheaper: the best cost so far does not rise
                if starts is None or not history or cost < history[-1][1]:
                    record(cost, now)

        waiting = list(range(len(parts_now)))  # submitted only as slots free up, so a cancel starts no more
        running: dict = {}
        due: dict = {}  # when each running part should have ended: its search and its overhead from when it was sent
        while waiting or running:
            while waiting and len(running) < slots and not stopped and not overran:
                r = waiting.pop(0)
                with warnings.catch_warnings():  # Dask warns of any task over 10 MB: a region is sent once
                    warnings.filterwarnings("ignore", message="Sending large graph")
                    future = executor.submit(solve_part, parts_now[r], part_options, stop.event,
                                             start_routes=None if starts is None else starts[r],
                                             progress=stop.progress, part=r, cooled=starts is not None,
                                             sent_at=time.time())
                running[future] = r
                due[future] = (time.monotonic() + part_options.time_limit_s
                               + decomposition.overhead_s_per_trip * len(parts_now[r].trips))
            done, _ = wait(list(running), timeout=0.2, return_when=FIRST_COMPLETED)
            reports = stop.reports()
            for r, cost, vehicles in reports:  # oldest first, each a new best
                heard.add(r)
                if r not in done_plans:
                    searching[r] = (cost, vehicles)
            if reports:
                report()
            for future in done:
                r = running.pop(future)
                heard.add(r)
                try:
                    done_plans[r] = future.result()
                except ItuError as exc:
                    failed[r] = str(exc)
                report()
            if not stopped and cancel is not None and cancel.is_set():
                stopped = True
                stop.set()
                for r in waiting:
                    failed[r] = "the solve was cancelled before this region was planned"
                waiting = []
            if running:
                late_parts = _overran(running, due, decomposition.part_overrun_s)
                if late_parts and not overran:
                    # a part's search that does not stop at its time limit (a construction
                    # without one, a busy machine) must not hold the whole solve: every part
                    # is told to stop and keeps its plan so far
                    overran = True
                    stop.set()
                    for r in waiting:
                        failed[r] = "not planned: another part overran its time limit, so no more parts were started"
                    waiting = []
                for future, late in late_parts.items():
                    if late >= 2 * decomposition.part_overrun_s:
                        r = running.pop(future)
                        future.cancel()  # a task already running runs on, but nothing waits for it
                        given_up = True
                        heard.add(r)
                        failed[r] = (f"given up: still running {late:.0f} s after its time limit of "
                                     f"{part_options.time_limit_s:g} s")
                        report()
        parts_running = given_up  # the loop ends once nothing runs but the parts given up

    try:
        run(parts, region_options, plans, failures)
        if not plans:
            if stopped:
                raise SolveCancelled("the solve was cancelled before any region was planned")
            raise SolveFailed("no region could be planned: " + "; ".join(failures.values()), where="regions")
        joined = join_parts(problem, parts, plans, failures, options, place, split_info, started, history, slots, stopped)
        # the joined plan's own price: the progress until now priced the parts as ``joined_cost``
        # says, or summed them (regions share no vehicle)
        record(joined.cost.total)
        if second_s and not stopped and not overran and len(plans) == len(parts):
            joined = _second_phase(problem, options, parts, plans, joined, place, split_info, started, history,
                                   slots, second_phase, run, record, region_options)
        seconds = options.time_limit_s - (time.monotonic() - started)
        # the parts may take the whole limit and more (processes slow to start on a busy machine):
        # then the day keeps its joined plan rather than mend its seam in no time at all
        if (mending and seconds > 0 and not stopped and not overran
                and not (cancel is not None and cancel.is_set())):
            # in local processes the seam's search may use every slot (a portfolio of its own);
            # a Dask worker's process may not start processes of its own
            seam_options = replace(region_options, time_limit_s=seconds, workers=slots if own else 1)
            parts_running = True  # the seam's search, until mend has seen it end
            joined = mend(problem, parts, joined, seam_options, executor, stop, history, started,
                         on_progress, cancel)
            parts_running = False
        return replace(joined, solver=replace(joined.solver, first_plan_s=first_plan_s))
    finally:
        stop.close(every_part_ended=not parts_running)
        if own:
            # a part given up may still be running: wait for it no longer than the solve did
            executor.shutdown(wait=not given_up, cancel_futures=True)

def _overran(running: dict, due: dict, overrun_s: float) -> dict:
    """The running parts' futures that are at least ``overrun_s`` past when they were due, with
    how many seconds past it each is."""
    now = time.monotonic()
    return {future: now - due[future] for future in running if now - due[future] >= overrun_s}

def _second_phase(problem: Problem, options, parts: list[Problem], plans: dict[int, Plan], joined: Plan,
                  place: Callable, split_info: dict, started: float, history, slots: int, second_phase: Callable,
                  run: Callable, record: Callable, region_options) -> Plan:
    """The parts searched again from their plans, priced as ``second_phase`` says, in the time
    left; the joined plan of whichever parts' plans is cheaper, the first phase's or the second's."""
    again = second_phase(plans)
    if again is None:
        return joined
    parts2, starts, place2, offset, phase_info = again
    seconds = options.time_limit_s - (time.monotonic() - started)
    decomposition = options.parameters.decomposition
    search_s = seconds - decomposition.overhead_s_per_trip * max(len(p.trips) for p in parts2)
    if search_s < decomposition.second_phase_least_s / 2:
        return joined
    phase_started = time.monotonic()
    plans2: dict[int, Plan] = {}
    failures2: dict[int, str] = {}
    run(parts2, replace(region_options, time_limit_s=search_s), plans2, failures2, starts, offset)
    # a part the second phase could not plan keeps its first plan (vehicle numbers cannot clash:
    # the parts share no duty)
    final_parts = [parts2[r] if r in plans2 else parts[r] for r in range(len(parts))]
    final_plans = {r: plans2.get(r, plans[r]) for r in range(len(parts))}

    def final_place(r: int, route) -> RouteOrder:
        return place2(r, route, plans2[r]) if r in plans2 else place(r, route)

    info = {**phase_info, "search_s": round(search_s, 3), "planned_again": sorted(r + 1 for r in plans2),
            **({"failures": {str(r + 1): f for r, f in failures2.items()}} if failures2 else {}),
            "before": round(joined.cost.total, 2)}
    candidate = join_parts(problem, final_parts, final_plans, {}, options, final_place, split_info, started, history,
                      slots, bool(any(p.solver.cancelled for p in plans2.values())))
    info.update(after=round(candidate.cost.total, 2), seconds=round(time.monotonic() - phase_started, 3))
    kept = candidate.cost.total < joined.cost.total - 0.005
    info["kept"] = kept
    best = candidate if kept else joined
    record(best.cost.total)
    record = best.solver
    if kept:  # the sides' objectives leave out the day rates of the vehicles already paid for
        record = replace(record, objective=round(record.objective + offset, 2))
    record = replace(record, seconds=round(time.monotonic() - started, 3),
                     regions={**record.regions, "second_phase": info})
    return replace(best, solver=record)

def join_parts(problem: Problem, parts: list[Problem], plans: dict[int, Plan], failures: dict[int, str], options,
          place: Callable, split_info: dict, started: float, history, slots: int, cancelled: bool) -> Plan:
    """One plan of the parts' plans, ``place`` giving each route its vehicle and duty in the whole day."""
    orders, contracted, unserved = [], [], []
    regions_info = []
    for r, part in enumerate(parts):
        plan = plans.get(r)
        if plan is None:
            # the part's own name: "... region 2 of 5", or "... after 11:30" for a day split by duty
            reason = f"{part.name} was not planned: {failures.get(r, 'unknown')}"
            for trip in part.trips:
                offer = problem.contract_price(trip)
                if offer:
                    contracted.append(ContractedTrip(trip.id, trip.service, offer[0].name, offer[1], reason))
                else:
                    unserved.append(UnservedTrip(trip.id, trip.service, reason))
        else:
            for route in plan.routes:
                orders.append(place(r, route))
            contracted.extend(plan.contracted)
            unserved.extend(plan.unserved)
        regions_info.append({
            "region": r + 1, "trips": len(part.trips), "vehicles": sum(vt.count for vt in part.vehicle_types),
            "planned": plan is not None, "cost": round(plan.cost.total, 2) if plan else None,
            "seconds": plan.solver.seconds if plan else None,
            "search_s": plan.solver.time_limit_s if plan else None,
            "cancelled": plan.solver.cancelled if plan else True,
            **({"failure": failures[r]} if r in failures else {}),
        })
    planned = [plans[r] for r in sorted(plans)]
    record = SolveRecord(
        time_limit_s=options.time_limit_s, seed=options.seed, workers=options.workers,
        seconds=round(time.monotonic() - started, 3),
        objective=round(sum(p.solver.objective for p in planned), 2),
        best_cost_over_time=history, cancelled=cancelled,
        construction_complete=all(p.solver.construction_complete for p in planned) and len(planned) == len(parts),
        first_solution=planned[0].solver.first_solution, improvement=planned[0].solver.improvement,
        regions={**split_info, "count": len(parts), "at_once": slots, "each": regions_info},
    )
    return checked_plan(problem, build_plan(problem, orders, contracted, unserved, record), options.check)
