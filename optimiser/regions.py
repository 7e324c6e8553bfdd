"""Very large days in regions: split the day, plan every region on its own, join the plans.

One search over a whole 10,000-trip day would need node matrices of 20,000 x 20,000 stops (3.2 GB
each, one for time and one per distance rate). Split into regions of about ``REGION_TRIPS`` trips, each region is a
day of the size the search handles well (BENCHMARKS.md), and the regions are planned side by side:
in local processes, or on the workers of a Dask cluster, where adding workers shortens the wall
time until there is one worker per region.

How the day is split. Each trip is placed by its anchor, the end it shares with more trips (the
school, day centre or hospital, whichever way it travels), so a destination's passengers stay
together as far as sizes allow; then by its other end. The trips are halved again and again along
the line between the two anchors farthest apart among them, each half sized in proportion to the
regions it will hold (recursive bisection on road distance: it needs no coordinates, so it works
on any travel matrix). The fleet is shared out type by type in proportion to the trips each type
can carry in each region (largest remainder), so a region gets wheelchair and stretcher vehicles
where it has such passengers.

What is lost: no route crosses a region's boundary and a vehicle works in one region all day, so
the joined plan is a little dearer than one search over the whole day would find with unlimited
time; BENCHMARKS.md measures by how much on the 2,000-trip day. Every region's plan and the joined
plan go through the independent checker.
"""
from __future__ import annotations

import math
import multiprocessing
import os
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import replace
from typing import Callable, Sequence

import numpy as np

from .errors import ItuError, SolveCancelled, SolveFailed
from .model import Problem, TravelMatrix, Trip
from .plan import ContractedTrip, Plan, RouteOrder, UnservedTrip, build_plan

#: Trips per region when a day is split by itself: one search on the generated 2,000-trip day has
#: its first plan at 18 s, on node matrices of 4,000 x 4,000 (128 MB each; BENCHMARKS.md).
REGION_TRIPS = 2_000
#: A day is split by itself from this many trips (SolveOptions.regions None). Splitting costs:
#: the 2,000-trip day as two regions was 6.1% dearer than one search in five minutes
#: (BENCHMARKS.md); where between 2,000 and 4,000 trips one search stops being the better
#: choice was not measured.
REGIONS_FROM_TRIPS = 4_000
#: How far (a share of the trips being halved) a cut may move to keep one place's trips together.
CUT_SLACK = 0.1
#: Seconds each region needs besides its search, per trip: reading the model, building the
#: matrices, then timing, pricing and checking its plan (on the 10,000-trip day, 5.4 to 12.9 s
#: for regions of 1,590 to 2,274 trips: BENCHMARKS.md).
OVERHEAD_S_PER_TRIP = 0.006


def region_count(trips: int, asked: int | None) -> int:
    """How many regions a day of ``trips`` trips is planned in: ``asked``, or by size if None."""
    if asked is not None:
        return max(1, min(asked, trips))
    if trips < REGIONS_FROM_TRIPS:
        return 1
    return math.ceil(trips / REGION_TRIPS)


def split_into_regions(problem: Problem, count: int) -> list[Problem]:
    """The day as ``count`` smaller days: each has its trips, its share of the fleet and the part
    of the travel matrix they use (see the module's docstring for how)."""
    trips = list(problem.trips)
    if count <= 1 or len(trips) <= 1:
        return [problem]
    count = min(count, len(trips))
    index = problem.matrix.index
    shared = {}
    for t in trips:
        for place in (t.pickup, t.dropoff):
            shared[place] = shared.get(place, 0) + 1
    anchored = [(t.pickup, t.dropoff) if shared[t.pickup] > shared[t.dropoff] else (t.dropoff, t.pickup)
                for t in trips]
    anchor = np.asarray([index[a] for a, _ in anchored], dtype=np.intp)
    other = np.asarray([index[b] for _, b in anchored], dtype=np.intp)
    metres = problem.matrix.metres
    groups: list[np.ndarray] = []

    def halve(members: np.ndarray, parts: int) -> None:
        if parts == 1:
            groups.append(members)
            return
        places = np.unique(anchor[members])
        if len(places) > 1:
            start = places[0]
            pole_a = places[np.argmax(metres[start, places] + metres[places, start])]
            pole_b = places[np.argmax(metres[pole_a, places] + metres[places, pole_a])]
        else:  # one destination for all: split by where the passengers live
            ends = np.unique(other[members])
            pole_a = ends[np.argmax(metres[places[0], ends])]
            pole_b = ends[np.argmax(metres[pole_a, ends] + metres[ends, pole_a])]

        def side(where: np.ndarray) -> np.ndarray:  # negative: nearer pole a
            return (metres[where, pole_a] + metres[pole_a, where]) - (metres[where, pole_b] + metres[pole_b, where])

        order = np.lexsort((side(other[members]), side(anchor[members])))
        left_parts = parts // 2
        cut = round(len(members) * left_parts / parts)
        # move the cut off a place's trips to the nearer end of them, if that keeps the halves
        # within CUT_SLACK of their sizes: one school's runs in one region are worth more than
        # regions of exactly equal size
        ranked = anchor[members[order]]
        if 0 < cut < len(ranked) and ranked[cut - 1] == ranked[cut]:
            same = np.flatnonzero(ranked == ranked[cut])
            ends = [e for e in (int(same[0]), int(same[-1]) + 1) if 0 < e < len(ranked)]
            if ends:
                nearest = min(ends, key=lambda e: abs(e - cut))
                if abs(nearest - cut) <= CUT_SLACK * len(ranked):
                    cut = nearest
        halve(members[order[:cut]], left_parts)
        halve(members[order[cut:]], parts - left_parts)

    halve(np.arange(len(trips)), count)
    region_trips = [[trips[i] for i in sorted(g)] for g in groups if len(g)]
    counts = _share_fleet(problem, region_trips)
    depots = {vt.depot for vt in problem.vehicle_types}
    out = []
    for r, members in enumerate(region_trips):
        used = depots | {t.pickup for t in members} | {t.dropoff for t in members}
        ids = [loc for loc in problem.matrix.location_ids if loc in used]
        rows = np.asarray([index[loc] for loc in ids], dtype=np.intp)
        matrix = TravelMatrix(ids, problem.matrix.seconds[np.ix_(rows, rows)], metres[np.ix_(rows, rows)])
        fleet = tuple(replace(vt, count=counts[ti][r]) for ti, vt in enumerate(problem.vehicle_types))
        out.append(Problem(tuple(members), fleet, matrix, problem.tariffs,
                           f"{problem.name} region {r + 1} of {len(region_trips)}"))
    return out


def _share_fleet(problem: Problem, region_trips: Sequence[Sequence[Trip]]) -> list[list[int]]:
    """Vehicles of each type per region, in proportion to the trips the type can carry there."""
    counts = []
    for vt in problem.vehicle_types:
        weights = np.asarray([sum(problem.can_carry(vt, t) for t in members) for members in region_trips], float)
        if weights.sum() == 0:
            weights = np.asarray([len(m) for m in region_trips], float)
        exact = vt.count * weights / weights.sum()
        given = np.floor(exact).astype(int)
        for r in np.argsort(-(exact - given), kind="stable")[:vt.count - int(given.sum())]:
            given[r] += 1
        counts.append([int(x) for x in given])
    return counts


def _solve_region(region: Problem, options, stop) -> Plan:
    """One region's plan (runs in a worker process or on a Dask worker); ``stop`` is the whole
    solve's cancel, shared across processes."""
    from .solver import solve

    parent = os.getppid()

    class Stop:  # a local worker whose parent was killed outright stops too, rather than plan for nobody
        @staticmethod
        def is_set() -> bool:
            return stop.is_set() or os.getppid() != parent

    return solve(region, options, cancel=Stop())


class _SharedStop:
    """A cancel every region's process sees: a Dask Event on a cluster, a manager's Event locally."""

    def __init__(self, executor):
        self._manager = None
        client = getattr(executor, "_client", None)
        if client is not None:  # a Dask client's executor
            from uuid import uuid4

            from distributed import Event

            self.event = Event(f"itu-regions-{uuid4().hex}", client=client)
        else:
            self._manager = multiprocessing.get_context("spawn").Manager()
            self.event = self._manager.Event()

    def set(self) -> None:
        self.event.set()

    def close(self) -> None:
        if self._manager is not None:
            self._manager.shutdown()


def solve_by_regions(problem: Problem, options, regions: int, *,
                     on_progress: Callable | None = None, cancel=None, executor=None, slots: int = 1) -> Plan:
    """Plan ``problem`` as ``regions`` regions, ``slots`` at a time on ``executor`` (a
    ``concurrent.futures`` executor, e.g. a Dask client's ``get_executor()``; None: local
    processes, one per ``options.workers``), then join the regions' plans into one and check it.

    The time limit is the whole solve's: every region gets an equal share of it for its search,
    less what reading its model and checking its plan take, by the waves of regions the slots
    allow. A region whose solve raises one of our errors (ItuError) leaves its trips to contracts
    with the reason; anything else (a worker lost) fails the whole solve. A cancel stops the
    regions being planned (each keeps its best plan so far) and starts no more."""
    from .solver import Progress

    started = time.monotonic()
    parts = split_into_regions(problem, regions)
    own = executor is None
    if own:
        slots = max(1, options.workers)
        executor = ProcessPoolExecutor(max_workers=min(slots, len(parts)),
                                       mp_context=multiprocessing.get_context("spawn"))
    slots = max(1, min(slots, len(parts)))
    waves = math.ceil(len(parts) / slots)
    largest = max(len(p.trips) for p in parts)
    share = options.time_limit_s / waves
    search_s = max(5.0, share - OVERHEAD_S_PER_TRIP * largest)
    region_options = replace(options, time_limit_s=search_s, workers=1, part_workers=1, regions=1)
    history: list[tuple[float, float]] = []
    plans: dict[int, Plan] = {}
    failures: dict[int, str] = {}
    # until a region is planned, its trips count at their contract prices: the cost of the plan
    # that could be given now
    unplanned = [sum((problem.contract_price(t) or (None, 0.0))[1] for t in p.trips) for p in parts]

    def report():
        cost = sum(plans[r].cost.total if r in plans else unplanned[r] for r in range(len(parts)))
        elapsed = time.monotonic() - started
        history.append((round(elapsed, 3), round(cost, 2)))
        if on_progress:
            on_progress(Progress(elapsed, cost, options.time_limit_s))

    stop = _SharedStop(executor)
    waiting = list(range(len(parts)))  # submitted only as slots free up, so a cancel starts no more
    running: dict = {}
    stopped = False
    try:
        while waiting or running:
            while waiting and len(running) < slots and not stopped:
                r = waiting.pop(0)
                with warnings.catch_warnings():  # Dask warns of any task over 10 MB: a region is sent once
                    warnings.filterwarnings("ignore", message="Sending large graph")
                    running[executor.submit(_solve_region, parts[r], region_options, stop.event)] = r
            done, _ = wait(list(running), timeout=0.2, return_when=FIRST_COMPLETED)
            for future in done:
                r = running.pop(future)
                try:
                    plans[r] = future.result()
                except ItuError as exc:
                    failures[r] = str(exc)
                report()
            if not stopped and cancel is not None and cancel.is_set():
                stopped = True
                stop.set()
                for r in waiting:
                    failures[r] = "the solve was cancelled before this region was planned"
                waiting = []
    finally:
        stop.close()
        if own:
            executor.shutdown(wait=True, cancel_futures=True)
    if not plans:
        if stopped:
            raise SolveCancelled("the solve was cancelled before any region was planned")
        raise SolveFailed("no region could be planned: " + "; ".join(failures.values()), where="regions")
    return _join(problem, parts, plans, failures, options, regions, started, history, slots, stopped)


def _join(problem: Problem, parts: list[Problem], plans: dict[int, Plan], failures: dict[int, str], options,
          asked: int, started: float, history, slots: int, cancelled: bool) -> Plan:
    """One plan of the regions' plans: vehicles renumbered so each keeps its own number per type."""
    types = {vt.name: vt for vt in problem.vehicle_types}
    offset = {name: 0 for name in types}
    orders, contracted, unserved = [], [], []
    regions_info = []
    for r, part in enumerate(parts):
        plan = plans.get(r)
        if plan is None:
            reason = f"region {r + 1} of {len(parts)} was not planned: {failures.get(r, 'unknown')}"
            for trip in part.trips:
                offer = problem.contract_price(trip)
                if offer:
                    contracted.append(ContractedTrip(trip.id, trip.service, offer[0].name, offer[1], reason))
                else:
                    unserved.append(UnservedTrip(trip.id, trip.service, reason))
        else:
            for route in plan.routes:
                vt = types[route.vehicle_type]
                layout = next(x for x in vt.layouts if x.name == route.layout)
                events = tuple((stop.kind, problem.trip(stop.trip_id)) for stop in route.stops
                               if stop.kind in ("pickup", "dropoff"))
                orders.append(RouteOrder(vt, offset[vt.name] + route.vehicle_number, layout, events, route.duty))
            contracted.extend(plan.contracted)
            unserved.extend(plan.unserved)
        for vt in part.vehicle_types:
            offset[vt.name] += vt.count
        regions_info.append({
            "region": r + 1, "trips": len(part.trips), "vehicles": sum(vt.count for vt in part.vehicle_types),
            "planned": plan is not None, "cost": round(plan.cost.total, 2) if plan else None,
            "seconds": plan.solver.get("seconds") if plan else None,
            "search_s": plan.solver.get("time_limit_s") if plan else None,
            "cancelled": bool(plan.solver.get("cancelled")) if plan else True,
            **({"failure": failures[r]} if r in failures else {}),
        })
    planned = [plans[r] for r in sorted(plans)]
    info = {
        "engine": "ortools", "time_limit_s": options.time_limit_s, "seed": options.seed, "workers": options.workers,
        "seconds": round(time.monotonic() - started, 3),
        "objective": round(sum(p.solver.get("objective", 0.0) for p in planned), 2),
        "best_cost_over_time": history, "cancelled": cancelled,
        "construction_complete": all(p.solver.get("construction_complete", True) for p in planned)
        and len(planned) == len(parts),
        "first_solution": planned[0].solver.get("first_solution"),
        "improvement": planned[0].solver.get("improvement"),
        "regions": {"asked": asked, "count": len(parts), "at_once": slots, "each": regions_info},
    }
    from .solver import checked_plan

    return checked_plan(problem, build_plan(problem, orders, contracted, unserved, info), options.check)
