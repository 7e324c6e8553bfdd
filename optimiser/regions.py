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

What is lost: no region's route crosses its boundary and a vehicle works in one region all day,
so the joined plan is dearer than one search over the whole day would find with unlimited time
(BENCHMARKS.md measures by how much on the 2,000-trip day). To win some of that back, the last
SEAM_SHARE of the time searches the seams again: the vehicles whose routes run nearest another
region's, with their trips, the contracted trips near them and the vehicles no region used, as
one more day started from those routes as they are (``_mend_seams``). Every region's plan, the
joined plan and the mended plan go through the independent checker.

Split shifts give a second, almost free way to split a day in time rather than in space
(``split_by_duty``): the search prices each duty on its own, so the duties before a break and the
duties after it are two days that share only the vehicles' numbers. From DUTY_SPLIT_FROM_TRIPS
trips, with two or more workers, each worker searches one side instead of every worker the whole
day: on the generated 2,000-trip day that took the five-minute plan from £16,170 to £15,644 (the
median of three seeds; BENCHMARKS.md). A vehicle pays one day rate however many duties it drives,
which neither side's search can see on its own: the last SECOND_PHASE_SHARE of the time searches
each side again from its plan, priced as the joined plan prices it (``_priced_as_joined``).
"""
from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import queue
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from functools import partial
from typing import Callable, Sequence

import numpy as np

from .errors import ItuError, SolveCancelled, SolveFailed
from .model import Problem, TravelMatrix, Trip, VehicleType, format_clock
from .plan import ContractedTrip, Plan, RouteOrder, UnservedTrip, build_plan, route_order

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
#: Share of the time limit kept for mending the seams between regions (``_mend_seams``), when
#: that is at least SEAM_LEAST_S seconds.
SEAM_SHARE = 0.2
SEAM_LEAST_S = 5.0
#: Most trips in the seam: about one region's worth, and never more than half the day.
SEAM_TRIPS = REGION_TRIPS
#: Seconds each region needs besides its search, per trip: reading the model, building the
#: matrices, then timing, pricing and checking its plan (on the 10,000-trip day, 5.4 to 12.9 s
#: for regions of 1,590 to 2,274 trips: BENCHMARKS.md).
OVERHEAD_S_PER_TRIP = 0.006
#: A day of at least this many trips searched by two or more workers is split by duty when its
#: fleet works split shifts: the morning duties and the afternoon duties are searched side by
#: side, one worker each (``split_by_duty``). On the generated 1,000-trip day, 60 s, the split
#: plan was 1.8% cheaper than whole-day searches (BENCHMARKS.md); smaller days were not measured.
DUTY_SPLIT_FROM_TRIPS = 1_000
#: ... and only if each side of the break holds at least this share of the day's trips.
DUTY_SPLIT_LEAST_SHARE = 0.25
#: Most duties reaching across the break (a single all-day duty, say) to try on each side.
DUTY_SPLIT_MOST_SPANNING = 8
#: Share of the time limit kept, on a day split by duty, for searching each side again priced as
#: the joined plan prices it (``_priced_as_joined``), when that leaves at least
#: SECOND_PHASE_LEAST_S seconds of search.
SECOND_PHASE_SHARE = 0.15
SECOND_PHASE_LEAST_S = 10.0
#: Seconds between the best costs a region sends back while it searches (for the progress bar,
#: a job's status and the curve of cost against time).
PROGRESS_EVERY_S = 1.0


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
    return [_part_of(problem, members, [counts[ti][r] for ti in range(len(problem.vehicle_types))],
                     f"{problem.name} region {r + 1} of {len(region_trips)}")
            for r, members in enumerate(region_trips)]


def _part_of(problem: Problem, trips: Sequence[Trip], fleet_counts: Sequence[int], name: str,
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


@dataclass(frozen=True)
class DutySide:
    """One side of a day split by duty: a smaller day whose vehicle types keep only their duties
    on this side, for each type the whole day's duty number of each duty it kept, and the clock
    time of the break the day was split at."""

    problem: Problem
    duties: dict[str, tuple[int, ...]]
    cut_s: float


def split_by_duty(problem: Problem) -> list[DutySide] | None:
    """The day as two days either side of a break between duties, or None if the fleet's duties
    leave no break that holds at least DUTY_SPLIT_LEAST_SHARE of the trips on each side.

    With split shifts the search already prices each duty on its own (a duty's share of the day
    rate, its own hours), so the morning and the afternoon are separate searches that only share
    the vehicles' numbers: searched side by side, one worker each, each gets a whole core for half
    the day instead of every worker searching the whole day (BENCHMARKS.md). What is lost is only
    where a side is chosen: a duty that reaches across the break (an all-day ambulance, say) goes
    wholly to one side, and a trip either side could carry goes to the side with more vehicles
    that could carry it, so it cannot move to the other later."""
    vts = problem.vehicle_types
    trips = list(problem.trips)
    if len(trips) < 2:
        return None
    duties = [(ti, j, w) for ti, vt in enumerate(vts) if vt.count for j, w in enumerate(vt.duty_windows)]
    fits = {(ti, j): np.asarray([_could_serve_in(problem, vts[ti], w, t) for t in trips], dtype=bool)
            for ti, j, w in duties}
    best = None
    for cut in sorted({w[1] for *_, w in duties}):
        before = [d for d in duties if d[2][1] <= cut]
        after = [d for d in duties if d[2][0] >= cut]
        spanning = [d for d in duties if d not in before and d not in after]
        if not before or not after or len(spanning) > DUTY_SPLIT_MOST_SPANNING:
            continue
        for choice in itertools.product((0, 1), repeat=len(spanning)):
            sides = (before + [d for d, c in zip(spanning, choice) if c == 0],
                     after + [d for d, c in zip(spanning, choice) if c == 1])
            # vehicles on each side that could carry each trip
            able = [sum((vts[ti].count * fits[(ti, j)] for ti, j, _ in side), np.zeros(len(trips))) for side in sides]
            side_of = np.where(able[1] > able[0], 1, 0)
            neither = (able[0] == 0) & (able[1] == 0)
            # trips no duty could carry go to contracts whichever side they are on: balance the sides
            side_of[neither] = np.arange(int(neither.sum())) % 2
            share = min(int((side_of == 0).sum()), int((side_of == 1).sum())) / len(trips)
            if best is None or share > best[0]:
                best = (share, cut, sides, side_of)
    if best is None or best[0] < DUTY_SPLIT_LEAST_SHARE:
        return None
    _, cut, sides, side_of = best
    out = []
    for s, side in enumerate(sides):
        kept = {ti: [j for t2, j, _ in side if t2 == ti] for ti in range(len(vts))}
        fleet, counts = [], []
        for ti, vt in enumerate(vts):
            mine = kept[ti]
            if not mine:
                fleet.append(vt)
                counts.append(0)
                continue
            # a side's duties pay their share of the day rate, as the search charges them
            fleet.append(replace(vt, duties=tuple(vt.duty_windows[j] for j in mine) if vt.duties else (),
                                 cost_per_day=vt.cost_per_day * len(mine) / len(vt.duty_windows)))
            counts.append(vt.count)
        members = [t for t, k in zip(trips, side_of) if k == s]
        name = f"{problem.name} {'before' if s == 0 else 'after'} {format_clock(cut)}"
        out.append(DutySide(_part_of(problem, members, counts, name, fleet),
                            {vts[ti].name: tuple(kept[ti]) for ti in range(len(vts)) if kept[ti]}, cut))
    return out


def _could_serve_in(problem: Problem, vt: VehicleType, window: tuple[float, float], trip: Trip) -> bool:
    """Whether a vehicle of this type could carry the trip on its own within this duty, from its
    depot and back (the solver's own screen, duty by duty)."""
    from .solver import _why_duty_cannot_serve

    return problem.can_carry(vt, trip) and _why_duty_cannot_serve(problem, vt, window, trip,
                                                                   problem.direct_s(trip)) is None


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


def _solve_region(region: Problem, options, stop, start_routes=None, progress=None, part: int = 0,
                  cooled: bool = False) -> Plan:
    """One region's plan (runs in a worker process or on a Dask worker); ``stop`` is the whole
    solve's cancel, shared across processes; ``start_routes``: improve these rather than plan anew
    (``cooled``: they are this solve's own search's, so the search does not heat them again);
    ``progress``: a shared queue taking (part, best cost) at most every PROGRESS_EVERY_S."""
    from .solver import solve

    parent = os.getppid()

    class Stop:  # a local worker whose parent was killed outright stops too, rather than plan for nobody
        @staticmethod
        def is_set() -> bool:
            return stop.is_set() or os.getppid() != parent

    sent = [-math.inf]

    def on_progress(p) -> None:
        now = time.monotonic()
        if progress is not None and now - sent[0] >= PROGRESS_EVERY_S:
            sent[0] = now
            progress.put((part, p.best_cost))

    return solve(region, options, cancel=Stop(), start_routes=start_routes, on_progress=on_progress,
                 cooled_start=cooled)


class _SharedStop:
    """What every region's process shares with the solve: a cancel (a Dask Event on a cluster, a
    manager's Event locally) and, locally, a queue for their best costs while they search."""

    def __init__(self, executor):
        self._manager = None
        client = getattr(executor, "_client", None)
        if client is not None:  # a Dask client's executor
            from uuid import uuid4

            from distributed import Event

            self.event = Event(f"itu-regions-{uuid4().hex}", client=client)
            # a distributed.Queue here hung a job planning regions from inside a Dask worker (the
            # service's case), so on a cluster the regions report only when they are done
            self.progress = None
        else:
            self._manager = multiprocessing.get_context("spawn").Manager()
            self.event = self._manager.Event()
            self.progress = self._manager.Queue()

    def set(self) -> None:
        self.event.set()

    def reports(self) -> list[tuple[int, float]]:
        """The (part, best cost) reports waiting, oldest first."""
        if self.progress is None:
            return []
        out = []
        while True:
            try:
                out.append(self.progress.get_nowait())
            except queue.Empty:
                return out

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
    started = time.monotonic()
    parts = split_into_regions(problem, regions)
    # each region's vehicles keep their own numbers: region r's #0 of a type follows the earlier regions'
    first_number = []
    offset = {vt.name: 0 for vt in problem.vehicle_types}
    for part in parts:
        first_number.append(dict(offset))
        for vt in part.vehicle_types:
            offset[vt.name] += vt.count

    def place(r: int, route) -> RouteOrder:
        return route_order(problem, route, first_number[r][route.vehicle_type] + route.vehicle_number)

    return _plan_parts(problem, options, parts, place, {"asked": regions, "split": "area"}, started,
                       mend=True, on_progress=on_progress, cancel=cancel, executor=executor, slots=slots)


def solve_by_duty(problem: Problem, options, sides: Sequence[DutySide], *,
                  on_progress: Callable | None = None, cancel=None, executor=None, slots: int = 1) -> Plan:
    """Plan the two sides of a day split by duty (``split_by_duty``) side by side, as regions are,
    then join them: each side's duty #k of a type is the whole day's vehicle #k in that duty, so a
    vehicle that works both sides pays its day rate once. Then, in a second phase, each side is
    searched again priced as the joined plan prices it (``_priced_as_joined``)."""
    started = time.monotonic()
    split_info = {"asked": None, "split": "duty", "cut": format_clock(sides[0].cut_s)}
    return _plan_parts(problem, options, [s.problem for s in sides], partial(place_on_side, problem, sides),
                       split_info, started, mend=False,
                       on_progress=on_progress, cancel=cancel, executor=executor, slots=slots,
                       second_phase=lambda plans: _priced_as_joined(problem, sides, plans))


def place_on_side(problem: Problem, sides: Sequence[DutySide], r: int, route) -> RouteOrder:
    """A route of side ``r``'s plan in the whole day: side #k of a type is the day's vehicle #k, in
    the day's duty that the side's duty is."""
    return replace(route_order(problem, route), duty=sides[r].duties[route.vehicle_type][route.duty])


def _priced_as_joined(problem: Problem, sides: Sequence[DutySide], plans: dict[int, Plan]):
    """The two sides again, each priced as the joined plan prices it, with its plan as start routes.

    Each side's search charges a vehicle its duties' share of the day rate, but the joined plan
    pays a whole day rate for every vehicle either side uses: half a rate more for each vehicle one
    side uses beyond the other (£60 to £150 on the generated 2,000-trip day, BENCHMARKS.md). Here
    a type working on both sides is split in two: as many vehicles as the side using more of them
    used come free on both sides (their day rates are paid already), the rest at the whole day
    rate. The side that used fewer may so take up the vehicles the other side pays for anyway (to
    carry contracted trips, or to shorten long routes); the side that used more gains nothing by
    giving one up, which it could not count on anyway while the other side searches at the same
    time. On the generated 2,000-trip day, three first-phase plans each searched again twice this
    way ended £19 cheaper on average than with only the fewer side's vehicles free (£3 to £42
    cheaper in five pairs of six, £3 dearer in one; BENCHMARKS.md). Each side's search is never
    dearer than its start, and the joined plan never dearer than the first phase's: a type's day
    rates are at most the free vehicles' plus the rest's.

    Returns (the sides as problems, their start routes, how to place a side's route of its plan in
    the whole day, the free vehicles' day rates, what to record), or None if no type works on both
    sides."""
    vts = problem.vehicle_types
    on_both = {vt.name for vt in vts if all(vt.name in side.duties for side in sides)}
    if not on_both:
        return None
    used = [{name: len({r.vehicle_number for r in plans[s].routes if r.vehicle_type == name}) for name in on_both}
            for s in range(len(sides))]
    shared = {name: max(u[name] for u in used) for name in on_both}
    taken_names = {vt.name for vt in vts}
    parts, starts, original = [], [], []
    for s, side in enumerate(sides):
        fleet, free_types = [], []
        # this side's type name: (the whole day's type, the name of its free copy the numbers follow)
        named: dict[str, tuple[str, str | None]] = {}
        by_name: dict[str, tuple] = {}  # the whole day's type name: (its free copy or None, the rest)
        for svt, vt in zip(side.problem.vehicle_types, vts):
            if vt.name not in on_both:
                fleet.append(svt)
                named[svt.name] = (vt.name, None)
                by_name[vt.name] = (None, svt)
                continue
            free_count = shared[vt.name]
            rest = replace(svt, count=svt.count - free_count, cost_per_day=vt.cost_per_day)
            fleet.append(rest)
            free = None
            if free_count:
                name = f"{vt.name} (already paid for)"
                while name in taken_names:
                    name += "*"
                taken_names.add(name)
                free = replace(svt, name=name, count=free_count, cost_per_day=0.0)
                free_types.append(free)
                named[name] = (vt.name, None)
            named[rest.name] = (vt.name, free.name if free else None)
            by_name[vt.name] = (free, rest)
        part = Problem(side.problem.trips, tuple(fleet + free_types), side.problem.matrix, side.problem.tariffs,
                       side.problem.name)
        start = []
        for route in plans[s].routes:
            order = route_order(side.problem, route)
            free, rest = by_name[route.vehicle_type]
            if free is not None and route.vehicle_number < free.count:
                start.append(replace(order, vehicle_type=free))
            else:
                start.append(replace(order, vehicle_type=rest,
                                     vehicle_number=route.vehicle_number - (free.count if free else 0)))
        parts.append(part)
        starts.append(start)
        original.append(named)

    def place(r: int, route, plan: Plan) -> RouteOrder:
        name, free = original[r][route.vehicle_type]
        # the rest of a type follow the free vehicles this duty used (each type's vehicles are
        # numbered from 0 in each duty), so the type needs no more vehicles than its busiest duty
        first = 0 if free is None else sum(1 for x in plan.routes if x.vehicle_type == free and x.duty == route.duty)
        order = route_order(problem, replace(route, vehicle_type=name), first + route.vehicle_number)
        return replace(order, duty=sides[r].duties[name][route.duty])

    offset = sum(shared[vt.name] * vt.cost_per_day for vt in vts if vt.name in on_both)
    info = {"vehicles_each_side": [dict(sorted(u.items())) for u in used],
            "already_paid_for": dict(sorted(shared.items()))}
    return parts, starts, place, offset, info


def _plan_parts(problem: Problem, options, parts: list[Problem], place: Callable, split_info: dict, started: float, *,
                mend: bool, on_progress: Callable | None, cancel, executor, slots: int,
                second_phase: Callable | None = None) -> Plan:
    """Plan ``parts`` (smaller days that share nothing: no trip, and no vehicle in the same duty),
    ``slots`` at a time, and join their plans, ``place(part, route)`` giving each route its vehicle
    and duty in the whole day; with ``mend``, then search the seams between them again. With
    ``second_phase`` (a function of the parts' plans giving parts priced again, their start routes
    and how to place their routes, or None), the last SECOND_PHASE_SHARE of the time searches
    those parts again from their plans; the cheaper joined plan is kept."""
    from .solver import Progress

    own = executor is None
    if own:
        slots = max(1, options.workers)
        executor = ProcessPoolExecutor(max_workers=min(slots, len(parts)),
                                       mp_context=multiprocessing.get_context("spawn"))
    slots = max(1, min(slots, len(parts)))
    waves = math.ceil(len(parts) / slots)
    largest = max(len(p.trips) for p in parts)
    mend = mend and len(parts) > 1 and options.time_limit_s * SEAM_SHARE >= SEAM_LEAST_S
    second_s = 0.0
    if second_phase is not None and waves == 1:
        second_s = options.time_limit_s * SECOND_PHASE_SHARE
        if second_s - OVERHEAD_S_PER_TRIP * largest < SECOND_PHASE_LEAST_S:
            second_s = 0.0
    share = (options.time_limit_s * (1 - SEAM_SHARE if mend else 1) - second_s) / waves
    search_s = max(5.0, share - OVERHEAD_S_PER_TRIP * largest)
    region_options = replace(options, time_limit_s=search_s, workers=1, part_workers=1, regions=1)
    history: list[tuple[float, float]] = []
    plans: dict[int, Plan] = {}
    failures: dict[int, str] = {}
    # until a region is planned, its trips count at their contract prices: the cost of the plan
    # that could be given now
    unplanned = [sum((problem.contract_price(t) or (None, 0.0))[1] for t in p.trips) for p in parts]

    def record(cost: float) -> None:
        if history and round(cost, 2) == history[-1][1]:
            return
        elapsed = time.monotonic() - started
        history.append((round(elapsed, 3), round(cost, 2)))
        if on_progress:
            on_progress(Progress(elapsed, cost, options.time_limit_s))

    stop = _SharedStop(executor)
    stopped = False

    def run(parts_now: list[Problem], part_options, done_plans: dict[int, Plan], failed: dict[int, str],
            starts=None, offset: float = 0.0) -> None:
        """Plan every part of ``parts_now`` into ``done_plans`` (or its failure into ``failed``),
        reporting the sum of their costs so far plus ``offset``; parts started from ``starts``
        report only once each has sent a cost of its own."""
        nonlocal stopped
        searching: dict[int, float] = {}  # the best cost each part still searching has sent
        if starts is None:
            searching.update(enumerate(unplanned))

        def report():
            if all(r in done_plans or r in searching for r in range(len(parts_now))):
                record(offset + sum(done_plans[r].cost.total if r in done_plans else searching[r]
                                    for r in range(len(parts_now))))

        waiting = list(range(len(parts_now)))  # submitted only as slots free up, so a cancel starts no more
        running: dict = {}
        while waiting or running:
            while waiting and len(running) < slots and not stopped:
                r = waiting.pop(0)
                with warnings.catch_warnings():  # Dask warns of any task over 10 MB: a region is sent once
                    warnings.filterwarnings("ignore", message="Sending large graph")
                    running[executor.submit(_solve_region, parts_now[r], part_options, stop.event,
                                            start_routes=None if starts is None else starts[r],
                                            progress=stop.progress, part=r, cooled=starts is not None)] = r
            done, _ = wait(list(running), timeout=0.2, return_when=FIRST_COMPLETED)
            reports = stop.reports()
            for r, cost in reports:  # oldest first, each a new best
                if r not in done_plans:
                    searching[r] = cost
            if reports:
                report()
            for future in done:
                r = running.pop(future)
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

    try:
        run(parts, region_options, plans, failures)
        if not plans:
            if stopped:
                raise SolveCancelled("the solve was cancelled before any region was planned")
            raise SolveFailed("no region could be planned: " + "; ".join(failures.values()), where="regions")
        joined = _join(problem, parts, plans, failures, options, place, split_info, started, history, slots, stopped)
        # the parts were priced apart: a vehicle working duties on both sides of a break pays its
        # day rate once in the whole day, however the two parts shared it
        record(joined.cost.total)
        if second_s and not stopped and len(plans) == len(parts):
            joined = _second_phase(problem, options, parts, plans, joined, place, split_info, started, history,
                                   slots, second_phase, run, record, region_options)
        seconds = options.time_limit_s - (time.monotonic() - started)
        if mend and not stopped and not (cancel is not None and cancel.is_set()):
            # in local processes the seam's search may use every slot (a portfolio of its own);
            # a Dask worker's process may not start processes of its own
            seam_options = replace(region_options, time_limit_s=seconds, workers=slots if own else 1)
            joined = _mend_seams(problem, parts, joined, seam_options, executor, stop, history, started,
                                 on_progress, cancel)
        return joined
    finally:
        stop.close()
        if own:
            executor.shutdown(wait=True, cancel_futures=True)


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
    search_s = seconds - OVERHEAD_S_PER_TRIP * max(len(p.trips) for p in parts2)
    if search_s < SECOND_PHASE_LEAST_S / 2:
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
    candidate = _join(problem, final_parts, final_plans, {}, options, final_place, split_info, started, history,
                      slots, bool(any(p.solver.get("cancelled") for p in plans2.values())))
    info.update(after=round(candidate.cost.total, 2), seconds=round(time.monotonic() - phase_started, 3))
    kept = candidate.cost.total < joined.cost.total - 0.005
    info["kept"] = kept
    best = candidate if kept else joined
    record(best.cost.total)
    solver_info = dict(best.solver)
    if kept:  # the sides' objectives leave out the day rates of the vehicles already paid for
        solver_info["objective"] = round(solver_info["objective"] + offset, 2)
    solver_info["seconds"] = round(time.monotonic() - started, 3)
    solver_info["regions"] = {**solver_info["regions"], "second_phase": info}
    return replace(best, solver=solver_info)


def _join(problem: Problem, parts: list[Problem], plans: dict[int, Plan], failures: dict[int, str], options,
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
        "regions": {**split_info, "count": len(parts), "at_once": slots, "each": regions_info},
    }
    from .solver import checked_plan

    return checked_plan(problem, build_plan(problem, orders, contracted, unserved, info), options.check)


def _mend_seams(problem: Problem, parts: list[Problem], joined: Plan, options, executor, stop, history,
                started: float, on_progress, cancel) -> Plan:
    """The joined plan with the routes along the regions' boundaries searched again together.

    No route crosses a boundary in the joined plan, so trips on either side of one that a
    vehicle could carry together are in different vehicles. The seam is the vehicles whose
    routes run nearest to another region's routes (whole vehicles, every duty of each, so each
    vehicle's day rate stays in one place), the trips they carry, the trips left to contracts
    near them and the vehicles no region used. Ruin and recreate starts from those routes as
    they are, so the seam's plan is never dearer than what it replaces by the search's own
    objective; it is kept only if the priced plan is cheaper too."""
    from .solver import Progress

    region_of = {t.id: r for r, part in enumerate(parts) for t in part.trips}
    seam = _seam(problem, region_of, joined)
    if seam is None:
        return joined
    seam_problem, start, chosen, taken_contracts = seam
    search_s = options.time_limit_s - OVERHEAD_S_PER_TRIP * len(seam_problem.trips)
    if search_s < SEAM_LEAST_S / 2:
        return joined
    options = replace(options, time_limit_s=search_s)
    before = build_plan(seam_problem, start, [c for c in joined.contracted if c.trip_id in taken_contracts], [])
    seam_started = time.monotonic()
    info = {"trips": len(seam_problem.trips), "vehicles": sum(vt.count for vt in seam_problem.vehicle_types),
            "routes": len(start), "from_regions": sorted({region_of[t.id] + 1 for t in seam_problem.trips}),
            "before": round(before.cost.total, 2)}
    try:
        with warnings.catch_warnings():  # as for the regions: the seam is sent once
            warnings.filterwarnings("ignore", message="Sending large graph")
            future = executor.submit(_solve_region, seam_problem, options, stop.event, start)
        while not wait([future], timeout=0.2).done:
            if cancel is not None and cancel.is_set():
                stop.set()  # the seam's search stops and keeps its best, which is no dearer than its start
        mended = future.result()
        if cancel is not None and cancel.is_set():
            info["cancelled"] = True
    except ItuError as exc:
        info["failure"] = str(exc)
        return _with_seam_info(joined, info, started)
    info.update(after=round(mended.cost.total, 2), seconds=round(time.monotonic() - seam_started, 3))
    if mended.cost.total >= before.cost.total - 0.005:
        info["kept"] = False
        return _with_seam_info(joined, info, started)
    info["kept"] = True
    # the seam's vehicles take the numbers the rest of the plan leaves free, type by type
    kept_routes = [r for i, r in enumerate(joined.routes) if i not in chosen]
    taken = {}
    for route in kept_routes:
        taken.setdefault(route.vehicle_type, set()).add(route.vehicle_number)
    free = {vt.name: [n for n in range(vt.count) if n not in taken.get(vt.name, set())]
            for vt in problem.vehicle_types}
    orders = [route_order(problem, r) for r in kept_routes]
    for route in mended.routes:
        orders.append(route_order(problem, route, free[route.vehicle_type][route.vehicle_number]))
    contracted = [c for c in joined.contracted if c.trip_id not in taken_contracts] + list(mended.contracted)
    unserved = list(joined.unserved) + list(mended.unserved)
    plan = build_plan(problem, orders, contracted, unserved, dict(joined.solver))
    history.append((round(time.monotonic() - started, 3), round(plan.cost.total, 2)))
    if on_progress:
        on_progress(Progress(time.monotonic() - started, plan.cost.total, joined.solver["time_limit_s"]))
    info["saving"] = round(joined.cost.total - plan.cost.total, 2)
    from .solver import checked_plan

    return _with_seam_info(checked_plan(problem, plan, options.check), info, started)


def _with_seam_info(plan: Plan, info: dict, started: float) -> Plan:
    solver_info = dict(plan.solver)
    solver_info["seconds"] = round(time.monotonic() - started, 3)
    solver_info["regions"] = {**solver_info["regions"], "seam": info}
    solver_info["cancelled"] = bool(solver_info.get("cancelled") or info.get("cancelled"))
    return replace(plan, solver=solver_info)


def _seam(problem: Problem, region_of: dict[str, int], joined: Plan):
    """(the seam as a problem, its routes as they are, indices of those routes in the joined
    plan, ids of the contracted trips it takes), or None if there is no seam to mend."""
    routes = joined.routes
    if len(routes) < 2:
        return None
    index = problem.matrix.index
    metres = problem.matrix.metres
    # a route is where its middle stop is; how far apart two routes are, both ways round
    place = np.asarray([index[r.stops[len(r.stops) // 2].location] for r in routes], dtype=np.intp)
    region = np.asarray([region_of[r.trip_ids[0]] for r in routes])
    apart = metres[np.ix_(place, place)] + metres[np.ix_(place, place)].T
    across = np.where(region[:, None] != region[None, :], apart, np.inf).min(axis=1)
    # each contracted trip goes with its nearest route
    nearest_route = np.zeros(0, dtype=np.intp)
    if joined.contracted:
        trip_place = np.asarray([index[problem.trip(c.trip_id).pickup] for c in joined.contracted], dtype=np.intp)
        nearest_route = (metres[np.ix_(trip_place, place)] + metres[np.ix_(place, trip_place)].T).argmin(axis=1)
    contracts_near = np.bincount(nearest_route, minlength=len(routes))
    vehicles: dict[tuple[str, int], list[int]] = {}
    for i, r in enumerate(routes):
        vehicles.setdefault((r.vehicle_type, r.vehicle_number), []).append(i)
    most = min(SEAM_TRIPS, len(problem.trips) // 2)
    chosen: list[int] = []
    carried = 0
    for key in sorted(vehicles, key=lambda k: min(across[i] for i in vehicles[k])):
        if not np.isfinite(min(across[i] for i in vehicles[key])):
            break
        size = sum(len(routes[i].trip_ids) + int(contracts_near[i]) for i in vehicles[key])
        if carried + size > most:
            if chosen:
                break
            continue  # a vehicle carrying more than the whole seam may hold: try the next
        chosen.extend(vehicles[key])
        carried += size
    if not chosen:
        return None
    chosen_set = set(chosen)
    taken_contracts = {c.trip_id for c, i in zip(joined.contracted, nearest_route) if int(i) in chosen_set}
    trips = [problem.trip(tid) for i in chosen for tid in routes[i].trip_ids] + \
        [problem.trip(tid) for tid in sorted(taken_contracts)]
    used = {}
    for r in routes:
        used.setdefault(r.vehicle_type, set()).add(r.vehicle_number)
    mine = {}
    for i in chosen:
        mine.setdefault(routes[i].vehicle_type, set()).add(routes[i].vehicle_number)
    counts = [len(mine.get(vt.name, ())) + vt.count - len(used.get(vt.name, ())) for vt in problem.vehicle_types]
    seam_problem = _part_of(problem, trips, counts, f"{problem.name} seams between regions")
    number = {name: {n: k for k, n in enumerate(sorted(ns))} for name, ns in mine.items()}
    start = [route_order(seam_problem, routes[i], number[routes[i].vehicle_type][routes[i].vehicle_number])
             for i in chosen]
    return seam_problem, start, chosen_set, taken_contracts
