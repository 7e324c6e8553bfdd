"""Very large days in regions: split the day, plan every region on its own, join the plans.

One search over a whole 10,000-trip day would need node matrices of 20,000 x 20,000 stops (3.2 GB
each, one for time and one per distance rate). Split into regions of about ``region_trips`` trips (DecompositionParameters), each region is a
day of the size the search handles well (docs/lab/), and the regions are planned side by side:
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
(docs/lab/ measures by how much on the 2,000-trip day). To win some of that back, the last
``seam_share`` of the time searches the seams again: the vehicles whose routes run nearest another
region's, with their trips, the contracted trips near them and the vehicles no region used, as
one more day started from those routes as they are (``_mend_seams``). Every region's plan, the
joined plan and the mended plan go through the independent checker.
"""
from __future__ import annotations

import math
import time
import warnings
from concurrent.futures import wait
from dataclasses import replace
from typing import Sequence

import numpy as np

from optimiser.checker import checked_plan
from optimiser.domain.model import Problem, Trip
from optimiser.domain.plan import Plan, RouteOrder, build_plan, route_order
from optimiser.errors import ItuError
from optimiser.options import DecompositionParameters, Progress, ProgressCallback, SolveOptions

from .side_by_side import part_of, plan_parts, solve_part


def region_count(trips: int, asked: int | None, decomposition: DecompositionParameters | None = None) -> int:
    """How many regions a day of ``trips`` trips is planned in: ``asked``, or by size if None."""
    decomposition = decomposition or DecompositionParameters()
    if asked is not None:
        return max(1, min(asked, trips))
    if trips < decomposition.regions_from_trips:
        return 1
    return math.ceil(trips / decomposition.region_trips)

def split_into_regions(problem: Problem, count: int, decomposition: DecompositionParameters | None = None
                       ) -> list[Problem]:
    """The day as ``count`` smaller days: each has its trips, its share of the fleet and the part
    of the travel matrix they use (see the module's docstring for how)."""
    trips = list(problem.trips)
    cut_slack = (decomposition or DecompositionParameters()).cut_slack
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
        # within the cut slack of their sizes: one school's runs in one region are worth more than
        # regions of exactly equal size
        ranked = anchor[members[order]]
        if 0 < cut < len(ranked) and ranked[cut - 1] == ranked[cut]:
            same = np.flatnonzero(ranked == ranked[cut])
            ends = [e for e in (int(same[0]), int(same[-1]) + 1) if 0 < e < len(ranked)]
            if ends:
                nearest = min(ends, key=lambda e: abs(e - cut))
                if abs(nearest - cut) <= cut_slack * len(ranked):
                    cut = nearest
        halve(members[order[:cut]], left_parts)
        halve(members[order[cut:]], parts - left_parts)

    halve(np.arange(len(trips)), count)
    region_trips = [[trips[i] for i in sorted(g)] for g in groups if len(g)]
    counts = _share_fleet(problem, region_trips)
    return [part_of(problem, members, [counts[ti][r] for ti in range(len(problem.vehicle_types))],
                     f"{problem.name} region {r + 1} of {len(region_trips)}")
            for r, members in enumerate(region_trips)]

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

def solve_by_regions(problem: Problem, options: SolveOptions, regions: int, *,
                     on_progress: ProgressCallback | None = None, cancel=None, executor=None, slots: int = 1) -> Plan:
    """Plan ``problem`` as ``regions`` regions, ``slots`` at a time on ``executor`` (a
    ``concurrent.futures`` executor, e.g. a Dask client's ``get_executor()``; None: local
    processes, one per ``options.workers``), then join the regions' plans into one and check it.

    The time limit is the whole solve's: every region gets an equal share of it for its search,
    less what reading its model and checking its plan take, by the waves of regions the slots
    allow. A region whose solve raises one of our errors (ItuError) leaves its trips to contracts
    with the reason; anything else (a worker lost) fails the whole solve. A cancel stops the
    regions being planned (each keeps its best plan so far) and starts no more."""
    started = time.monotonic()
    parts = split_into_regions(problem, regions, options.parameters.decomposition)
    # each region's vehicles keep their own numbers: region r's #0 of a type follows the earlier regions'
    first_number = []
    offset = {vt.name: 0 for vt in problem.vehicle_types}
    for part in parts:
        first_number.append(dict(offset))
        for vt in part.vehicle_types:
            offset[vt.name] += vt.count

    def place(r: int, route) -> RouteOrder:
        return route_order(problem, route, first_number[r][route.vehicle_type] + route.vehicle_number)

    return plan_parts(problem, options, parts, place, {"asked": regions, "split": "area"}, started,
                      mend=_mend_seams, on_progress=on_progress, cancel=cancel, executor=executor, slots=slots)

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
    decomposition = options.parameters.decomposition
    region_of = {t.id: r for r, part in enumerate(parts) for t in part.trips}
    seam = _seam(problem, region_of, joined, decomposition.region_trips)
    if seam is None:
        return joined
    seam_problem, start, chosen, taken_contracts = seam
    search_s = options.time_limit_s - decomposition.overhead_s_per_trip * len(seam_problem.trips)
    if search_s < decomposition.seam_least_s / 2:
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
            future = executor.submit(solve_part, seam_problem, options, stop.event, start)
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
    plan = build_plan(problem, orders, contracted, unserved, joined.solver)
    history.append((round(time.monotonic() - started, 3), round(plan.cost.total, 2)))
    if on_progress:
        on_progress(Progress(time.monotonic() - started, plan.cost.total, joined.solver.time_limit_s))
    info["saving"] = round(joined.cost.total - plan.cost.total, 2)
    return _with_seam_info(checked_plan(problem, plan, options.check), info, started)

def _with_seam_info(plan: Plan, info: dict, started: float) -> Plan:
    record = replace(plan.solver, seconds=round(time.monotonic() - started, 3),
                     regions={**plan.solver.regions, "seam": info},
                     cancelled=bool(plan.solver.cancelled or info.get("cancelled")))
    return replace(plan, solver=record)

def _seam(problem: Problem, region_of: dict[str, int], joined: Plan, most_trips: int):
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
    most = min(most_trips, len(problem.trips) // 2)  # about one region's worth, at most half the day
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
    seam_problem = part_of(problem, trips, counts, f"{problem.name} seams between regions")
    number = {name: {n: k for k, n in enumerate(sorted(ns))} for name, ns in mine.items()}
    start = [route_order(seam_problem, routes[i], number[routes[i].vehicle_type][routes[i].vehicle_number])
             for i in chosen]
    return seam_problem, start, chosen_set, taken_contracts
