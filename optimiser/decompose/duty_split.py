"""Split shifts give a second, almost free way to split a day in time rather than in space
(``split_by_duty``): the search prices each duty on its own, so the duties before a break and the
duties after it are two days that share only the vehicles' numbers. From ``duty_split_from_trips``
trips, with two or more workers, each worker searches one side instead of every worker the whole
day: on the generated 2,000-trip day that took the five-minute plan from £16,170 to £15,644 (the
median of three seeds; docs/lab/). A vehicle pays one day rate however many duties it drives,
which neither side's search can see on its own: the last ``second_phase_share`` of the time searches
each side again from its plan, priced as the joined plan prices it (``priced_as_joined``).
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, replace
from functools import partial
from typing import Sequence

import numpy as np

from optimiser.domain.model import Problem, Trip, VehicleType, format_clock
from optimiser.domain.plan import Plan, RouteOrder, route_order
from optimiser.engine.screening import why_duty_cannot_serve
from optimiser.options import DecompositionParameters, ProgressCallback, SolveOptions

from .side_by_side import part_of, plan_parts


@dataclass(frozen=True)
class DutySide:
    """One side of a day split by duty: a smaller day whose vehicle types keep only their duties
    on this side, for each type the whole day's duty number of each duty it kept, and the clock
    time of the break the day was split at."""

    problem: Problem
    duties: dict[str, tuple[int, ...]]
    cut_s: float

def split_by_duty(problem: Problem, decomposition: DecompositionParameters | None = None) -> list[DutySide] | None:
    """The day as two days either side of a break between duties, or None if the fleet's duties
    leave no break that holds at least ``duty_split_least_share`` of the trips on each side.

    With split shifts the search already prices each duty on its own (a duty's share of the day
    rate, its own hours), so the morning and the afternoon are separate searches that only share
    the vehicles' numbers: searched side by side, one worker each, each gets a whole core for half
    the day instead of every worker searching the whole day (docs/lab/). What is lost is only
    where a side is chosen: a duty that reaches across the break (an all-day ambulance, say) goes
    wholly to one side, and a trip either side could carry goes to the side with more vehicles
    that could carry it, so it cannot move to the other later."""
    decomposition = decomposition or DecompositionParameters()
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
        if not before or not after or len(spanning) > decomposition.duty_split_most_spanning:
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
    if best is None or best[0] < decomposition.duty_split_least_share:
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
        out.append(DutySide(part_of(problem, members, counts, name, fleet),
                            {vts[ti].name: tuple(kept[ti]) for ti in range(len(vts)) if kept[ti]}, cut))
    return out

def _could_serve_in(problem: Problem, vt: VehicleType, window: tuple[float, float], trip: Trip) -> bool:
    """Whether a vehicle of this type could carry the trip on its own within this duty, from its
    depot and back (the solver's own screen, duty by duty)."""
    return problem.can_carry(vt, trip) and why_duty_cannot_serve(problem, vt, window, trip,
                                                                  problem.direct_s(trip)) is None

def solve_by_duty(problem: Problem, options: SolveOptions, sides: Sequence[DutySide], *,
                  on_progress: ProgressCallback | None = None, cancel=None, executor=None, slots: int = 1) -> Plan:
    """Plan the two sides of a day split by duty (``split_by_duty``) side by side, as regions are,
    then join them: each side's duty #k of a type is the whole day's vehicle #k in that duty, so a
    vehicle that works both sides pays its day rate once. Then, in a second phase, each side is
    searched again priced as the joined plan prices it (``priced_as_joined``)."""
    started = time.monotonic()
    split_info = {"asked": None, "split": "duty", "cut": format_clock(sides[0].cut_s)}
    return plan_parts(problem, options, [s.problem for s in sides], partial(place_on_side, problem, sides),
                      split_info, started, mend=None,
                      on_progress=on_progress, cancel=cancel, executor=executor, slots=slots,
                      second_phase=lambda plans: priced_as_joined(problem, sides, plans),
                      joined_cost=partial(joined_cost, problem, sides))


def joined_cost(problem: Problem, sides: Sequence[DutySide],
                each: Sequence[tuple[float, dict[str, int] | None]]) -> float:
    """What the joined plan of the sides' plans costs, from each side's (cost, vehicles of each
    type it uses): a side charges each vehicle its duties' share of the day rate, the joined plan
    the whole rate once for as many vehicles as the side using more of them uses (each side's
    vehicles are numbered from 0 in each duty, and side #k is the day's #k). Summed as they are,
    the sides came to £60 to £120 below the joined plan on the generated 2,000-trip day, so the
    progress shown before the join was that much too low (docs/lab/county-day.md). Where a side's
    vehicles are not known, the sum."""
    total = sum(cost for cost, _ in each)
    if any(vehicles is None for _, vehicles in each):
        return total
    for ti, vt in enumerate(problem.vehicle_types):
        if not all(vt.name in side.duties for side in sides):
            continue
        used = [vehicles.get(vt.name, 0) for _, vehicles in each]
        total += vt.cost_per_day * max(used) - sum(side.problem.vehicle_types[ti].cost_per_day * n
                                                   for side, n in zip(sides, used))
    return total

def place_on_side(problem: Problem, sides: Sequence[DutySide], r: int, route) -> RouteOrder:
    """A route of side ``r``'s plan in the whole day: side #k of a type is the day's vehicle #k, in
    the day's duty that the side's duty is."""
    return replace(route_order(problem, route), duty=sides[r].duties[route.vehicle_type][route.duty])

def priced_as_joined(problem: Problem, sides: Sequence[DutySide], plans: dict[int, Plan]):
    """The two sides again, each priced as the joined plan prices it, with its plan as start routes.

    Each side's search charges a vehicle its duties' share of the day rate, but the joined plan
    pays a whole day rate for every vehicle either side uses: half a rate more for each vehicle one
    side uses beyond the other (£60 to £150 on the generated 2,000-trip day, docs/lab/). Here
    a type working on both sides is split in two: as many vehicles as the side using more of them
    used come free on both sides (their day rates are paid already), the rest at the whole day
    rate. The side that used fewer may so take up the vehicles the other side pays for anyway (to
    carry contracted trips, or to shorten long routes); the side that used more gains nothing by
    giving one up, which it could not count on anyway while the other side searches at the same
    time. On the generated 2,000-trip day, three first-phase plans each searched again twice this
    way ended £19 cheaper on average than with only the fewer side's vehicles free (£3 to £42
    cheaper in five pairs of six, £3 dearer in one; docs/lab/). Each side's search is never
    dearer than its start, and the joined plan never dearer than the first phase's: a type's day
    rates are at most the free vehicles' plus the rest's.

    Returns (the sides as problems, their start routes, how to place a side's route of its plan in
    the whole day, the free vehicles' day rates, what to record), or None if no type works on both
    sides."""
    vts = problem.vehicle_types
    on_both = {vt.name for vt in vts if all(vt.name in side.duties for side in sides)}
    if not on_both:
        return None
    used = [{name: plans[s].vehicles_by_type.get(name, 0) for name in on_both} for s in range(len(sides))]
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
