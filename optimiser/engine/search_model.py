"""The search model: a Problem as the plain integer arrays every search works on.

Built once per solve (``build_search_model``) and sent as it is to worker processes: plain lists
and numpy arrays only. Times are whole centiseconds and costs whole ten-millionths of a pound,
converted once here (travel times rounded *up*, windows inwards, so the integer schedule is
feasible under the exact times too). Node 0 .. n_depots - 1 are depots; trip k's pickup is node
``n_depots + 2k`` and its drop-off the node after. One search vehicle per (vehicle, duty, layout).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from optimiser.domain.model import RESOURCES, Problem, Trip

#: The one boundary between the domain's floats and the search's integers.
TIME_UNITS_PER_SECOND = 100  # centiseconds: a benchmark minute is 6,000 units
COST_UNITS_PER_POUND = 10_000_000  # so a £20/hour span cost is still 556 units per centisecond
#: Dropping a trip no tariff can carry must cost more than any way of serving it.
MIN_UNSERVED_PENALTY_POUNDS = 100_000.0


@dataclass
class SearchModel:
    """Everything any search needs, in any process: plain lists and arrays only."""

    trip_ids: list[str]
    vehicles: list[tuple[int, int, int, int]]  # (vehicle type index, vehicle number, duty, layout index)
    starts: list[int]
    node_location: list[int]
    node_service_s: list[float]
    node_window: list[tuple[int, int]]
    travel_s: np.ndarray  # location x location, seconds, exact
    metres: np.ndarray  # location x location
    cost_per_km_by_vehicle: list[float]
    fixed_cost_units: list[int]
    span_cost_per_unit: list[int]
    shift_units: list[tuple[int, int]]
    duty_units: list[int]
    capacities: dict[str, list[int]]
    demand: dict[str, list[int]]
    allowed_vehicles: dict[int, list[int]]  # trip position -> vehicles (absent: all)
    ride_limit_units: list[int | None]  # per trip: cap + pickup service, floored
    drop_penalty_units: list[int]
    solo: list[bool]
    #: groups of vehicles and how many of each group may be used at once: a multi-layout type's
    #: vehicles in one duty (its count); the layouts of each vehicle that trips are held to, in one
    #: duty (one at a time)
    type_counts: list[tuple[list[int], int]]
    horizon_units: int
    #: each vehicle type's whole day rate: what the plan pays once for a vehicle, whatever duties it drives
    day_rate_units: list[int]
    #: each trip held to a vehicle (``Problem.assigned_vehicles``), by position: its drop penalty
    #: less its contract price (0 without one). The search leaves it out at the unserved price, so
    #: that it keeps its vehicle where it can; the plan contracts it.
    held_excess_units: dict[int, int] = field(default_factory=dict)
    #: each trip no contract can carry, by position: its drop penalty, which the search ranks by
    #: and the plan does not pay (the trip is unserved)
    unpriced_units: dict[int, int] = field(default_factory=dict)

    @property
    def n_depots(self) -> int:
        return len(self.node_location) - 2 * len(self.trip_ids)


def to_units(seconds: float, rounding=math.ceil) -> int:
    return int(rounding(round(seconds * TIME_UNITS_PER_SECOND, 6)))


def build_search_model(problem: Problem, trips: Sequence[Trip]) -> SearchModel:
    """The search model of ``trips`` (in this order) on ``problem``'s fleet."""
    matrix = problem.matrix
    depots = sorted({vt.depot for vt in problem.vehicle_types}, key=lambda d: matrix.index[d])
    depot_node = {d: i for i, d in enumerate(depots)}
    vehicles = vehicle_list(problem)
    starts = [depot_node[problem.vehicle_types[ti].depot] for ti, _, _, _ in vehicles]
    horizon_s = max([vt.shift_end_s for vt in problem.vehicle_types] + [0.0])
    horizon = to_units(horizon_s, math.floor)
    node_location = [matrix.index[d] for d in depots]
    node_service = [0] * len(depots)
    node_window = [(0, horizon)] * len(depots)
    for trip in trips:
        node_location += [matrix.index[trip.pickup], matrix.index[trip.dropoff]]
        node_service += [trip.pickup_service_s, trip.dropoff_service_s]
        node_window += [(to_units(trip.earliest_pickup_s), min(horizon, to_units(trip.latest_pickup_s, math.floor))),
                        (to_units(trip.earliest_arrival_s),
                         min(horizon, to_units(trip.latest_arrival_s, math.floor)))]
    metres = matrix.metres

    vts = problem.vehicle_types
    max_km = float(matrix.metres.max()) / 1000.0 if matrix.metres.size else 0.0
    worst_vehicle = max([vt.cost_per_day + 2 * max_km * vt.cost_per_km + 48 * vt.staff_cost_per_hour for vt in vts]
                        + [0.0])
    unserved_penalty = max(MIN_UNSERVED_PENALTY_POUNDS, 10 * worst_vehicle)
    capacities, demand = {}, {}
    for r in RESOURCES:
        if any(t.demand[r] for t in trips):
            capacities[r] = [vts[ti].layouts[li].capacity[r] for ti, _, _, li in vehicles]
            demand[r] = [0] * len(depots)
            for t in trips:
                demand[r] += [t.demand[r], -t.demand[r]]
    allowed = {}
    for k, trip in enumerate(trips):
        # by type and layout, not vehicle by vehicle: a fleet has far more vehicles than layouts
        fits = {(ti, li) for ti, vt in enumerate(vts) if problem.can_carry(vt, trip)
                for li, layout in enumerate(vt.layouts) if layout.fits(trip)}
        ok = [v for v, (ti, _, _, li) in enumerate(vehicles) if (ti, li) in fits]
        assigned = problem.assigned_vehicle(trip.id)
        if assigned is not None:  # the one vehicle it may ride (any duty and layout of it)
            ok = [v for v in ok if vts[vehicles[v][0]].name == assigned[0] and vehicles[v][1] == assigned[1]]
        if len(ok) < len(vehicles):
            allowed[k] = ok
    ride_limits, penalties, held_excess, unpriced = [], [], {}, {}
    for k, trip in enumerate(trips):
        cap = problem.ride_cap_s(trip)
        ride_limits.append(None if cap is None else to_units(cap + trip.pickup_service_s, math.floor))
        offer = problem.contract_price(trip)
        # a trip assigned to a vehicle is left out of it only where the vehicle cannot take it: its
        # passenger keeps that vehicle rather than a taxi on the days the taxi would be cheaper
        keep = problem.assigned_vehicle(trip.id) is not None
        penalties.append(int(round((offer[1] if offer and not keep else unserved_penalty) * COST_UNITS_PER_POUND)))
        if keep:
            held_excess[k] = penalties[-1] - int(round(offer[1] * COST_UNITS_PER_POUND)) if offer else 0
        if not offer:
            unpriced[k] = penalties[-1]
    type_counts = []
    for ti, vt in enumerate(vts):
        if len(vt.layouts) > 1 and vt.count > 0:
            for duty in range(len(vt.duty_windows)):
                type_counts.append(([v for v, (t, _, dv, _) in enumerate(vehicles) if t == ti and dv == duty],
                                    vt.count))
    # each vehicle that trips are held to keeps its number in the plan, so it runs one of its
    # layouts at a time in a duty (the type's count alone lets two layouts of it run at once)
    layouts_of: dict[tuple[int, int, int], list[int]] = {}
    for v, (ti, number, duty, _) in enumerate(vehicles):
        layouts_of.setdefault((ti, number, duty), []).append(v)
    type_index = {vt.name: ti for ti, vt in enumerate(vts)}
    for name, number in sorted({(name, number) for _, name, number in problem.assigned_vehicles}):
        ti = type_index.get(name)
        if ti is not None and len(vts[ti].layouts) > 1:
            for duty in range(len(vts[ti].duty_windows)):
                if (ti, number, duty) in layouts_of:
                    type_counts.append((layouts_of[(ti, number, duty)], 1))
    return SearchModel(
        trip_ids=[t.id for t in trips], vehicles=vehicles, starts=starts, node_location=node_location,
        node_service_s=node_service, node_window=node_window, travel_s=matrix.seconds, metres=metres,
        cost_per_km_by_vehicle=[vts[ti].cost_per_km for ti, _, _, _ in vehicles],
        # A vehicle on split shifts pays its day rate once: the search charges each duty its share
        # (the plan itself is priced exactly, in build_plan).
        fixed_cost_units=[int(round(vts[ti].cost_per_day / len(vts[ti].duty_windows) * COST_UNITS_PER_POUND))
                          for ti, _, _, _ in vehicles],
        span_cost_per_unit=[int(round(vts[ti].staff_cost_per_hour * COST_UNITS_PER_POUND
                                      / (3600 * TIME_UNITS_PER_SECOND))) for ti, _, _, _ in vehicles],
        shift_units=[(to_units(vts[ti].duty_windows[dv][0]), to_units(vts[ti].duty_windows[dv][1], math.floor))
                     for ti, _, dv, _ in vehicles],
        duty_units=[to_units(vts[ti].duty_limit_within(vts[ti].duty_windows[dv]), math.floor)
                    for ti, _, dv, _ in vehicles],
        capacities=capacities, demand=demand, allowed_vehicles=allowed, ride_limit_units=ride_limits,
        drop_penalty_units=penalties, solo=[t.travels_alone for t in trips], type_counts=type_counts,
        horizon_units=horizon, held_excess_units=held_excess, unpriced_units=unpriced,
        day_rate_units=[int(round(vt.cost_per_day * COST_UNITS_PER_POUND)) for vt in vts],
    )


def node_matrices(m: SearchModel):
    """Node-by-node integer matrices (numpy, int64): time transit (service at the tail + travel,
    rounded up) and distance cost per distinct per-km rate, the latter views of one array of all
    rates (``stacked_costs``). Vectorised: on a 2,000-trip day these are 4,000 x 4,000, which
    Python loops took 20 s to fill. Filled a block of rows at a time: memory a process touches
    for the first time is slow to come by on our machines (a fresh 4,000 x 4,000 array took 0.36 s
    to fill, the same again 0.02 s), and the whole-matrix temporaries made this take 2.1 to 3.4 s
    on that day (docs/lab/county-day.md)."""
    loc = np.asarray(m.node_location, dtype=np.intp)
    n = len(loc)
    travel = np.asarray(m.travel_s, dtype=float)
    metres = np.asarray(m.metres, dtype=float)
    service = np.asarray(m.node_service_s, dtype=float)
    rates = sorted(set(m.cost_per_km_by_vehicle))
    time_units = np.empty((n, n), dtype=np.int64)
    costs = np.empty((len(rates), n, n), dtype=np.int64)
    rows = max(1, 1_000_000 // max(1, n))  # about 8 MB of floats a block
    for begin in range(0, n, rows):
        end = min(n, begin + rows)
        block = travel[loc[begin:end]][:, loc]
        # service time joins the travel before rounding up, once per arc (as to_units does)
        block += service[begin:end, None]
        block *= TIME_UNITS_PER_SECOND
        np.round(block, 6, out=block)
        np.ceil(block, out=block)
        time_units[begin:end] = block
        distance = metres[loc[begin:end]][:, loc]
        for i, rate in enumerate(rates):
            np.multiply(distance, rate * COST_UNITS_PER_POUND / 1000.0, out=block)
            np.rint(block, out=block)
            costs[i, begin:end] = block
    np.fill_diagonal(time_units, 0)
    return time_units, {rate: costs[i] for i, rate in enumerate(rates)}


def stacked_costs(cost_units: dict, rates: Sequence) -> np.ndarray:
    """The cost matrices of ``rates`` (in that order) as one (rates, n, n) int64 array: without a
    copy where they are ``node_matrices``' own views, in its order."""
    views = [cost_units[r] for r in rates]
    base = views[0].base if views else None
    if (isinstance(base, np.ndarray) and base.dtype == np.int64 and base.ndim == 3 and base.shape[0] == len(views)
            and base.flags.c_contiguous
            and all(v.base is base and v.shape == base.shape[1:] and v.ctypes.data == base[i].ctypes.data
                    for i, v in enumerate(views))):
        return base
    return np.ascontiguousarray(np.stack(views), dtype=np.int64)


def symmetric_costs(costs: np.ndarray) -> bool:
    """Whether each (n, n) matrix of ``costs`` is its own transpose, compared a block of rows at
    a time (a whole-array comparison touches as much fresh memory as the matrices)."""
    n = costs.shape[1]
    rows = max(1, 1_000_000 // max(1, n))
    return all(np.array_equal(costs[:, begin:begin + rows, :], costs[:, :, begin:begin + rows].transpose(0, 2, 1))
               for begin in range(0, n, rows))


def plan_vehicle_numbers(vehicles: Sequence[tuple[int, int, int, int]],
                         used: Sequence[tuple[int, bool]]) -> list[int]:
    """The vehicle number in the plan of each used search vehicle, given as (search vehicle, whether
    its route carries a trip assigned to a vehicle). A route carrying an assigned trip keeps its
    vehicle's number (the search allows the trip on no other); the rest are numbered from 0 within
    each duty, around those: a type's vehicles are alike, so duty 1's #0 and duty 2's #0 are one
    vehicle, which pays its day rate once."""
    held: dict[tuple[int, int], set[int]] = {}
    for v, holds in used:
        if holds:
            ti, number, duty, _ = vehicles[v]
            held.setdefault((ti, duty), set()).add(number)
    next_number: dict[tuple[int, int], int] = {}
    numbers = []
    for v, holds in used:
        ti, number, duty, _ = vehicles[v]
        if not holds:
            number = next_number.get((ti, duty), 0)
            while number in held.get((ti, duty), ()):
                number += 1
            next_number[(ti, duty)] = number + 1
        numbers.append(number)
    return numbers


class DayRates:
    """What a plan pays in day rates for the vehicles some routes use, against what the search
    charged for them, and so how the plan prices a search's routes (``as_plan``). The search
    charges each duty its share of its type's day rate (it cannot know which duties one vehicle
    will drive until the routes are numbered); the plan pays the whole rate once for each vehicle
    it numbers (``plan_vehicle_numbers``). On split shifts the two differ, by half a rate for each
    vehicle one side of the break uses beyond the other: on a generated 600-trip day a search's
    last best was £29 below its plan (docs/lab/county-day.md), so its progress is given as the
    plan prices it."""

    def __init__(self, m: SearchModel):
        self.vehicles = m.vehicles
        self.n_depots = m.n_depots
        self.held = np.zeros(len(m.trip_ids), dtype=bool)
        self.held[list(m.held_excess_units)] = True
        # what a trip left out is ranked at beyond what the plan pays for it: a held trip's
        # unserved price less its contract, a trip no contract carries its unserved price
        self.left_out_units = {k: units for k, units in (*m.held_excess_units.items(), *m.unpriced_units.items())
                               if units}
        self.rates = np.asarray(m.day_rate_units, dtype=np.int64)
        self.charged = np.asarray(m.fixed_cost_units, dtype=np.int64)
        self.types = np.asarray([ti for ti, _, _, _ in m.vehicles], dtype=np.int64)
        self.duties = np.asarray([duty for _, _, duty, _ in m.vehicles], dtype=np.int64)
        self.n_duties = int(self.duties.max()) + 1 if len(self.duties) else 1
        #: only on split shifts does a plan pay other than the search charged
        self.split_shifts = self.n_duties > 1

    def of(self, used: np.ndarray, holds: np.ndarray | None = None) -> tuple[int, tuple[int, ...]]:
        """For the search vehicles ``used`` (an index array; ``holds``: whether each one's route
        carries a trip assigned to a vehicle, or None for none): the plan's day rates less the
        search's charges for them (cost units), and how many vehicles of each type the plan uses."""
        used = np.asarray(used, dtype=np.int64)
        n_types = len(self.rates)
        if holds is None or not holds.any():
            # numbered from 0 in each duty: a type uses as many vehicles as its busiest duty
            per_duty = np.bincount(self.types[used] * self.n_duties + self.duties[used],
                                   minlength=n_types * self.n_duties)
            counts = per_duty.reshape(n_types, self.n_duties).max(axis=1) if n_types else per_duty[:0]
        else:
            pairs = [(int(v), bool(h)) for v, h in zip(used, holds)]
            distinct: list[set[int]] = [set() for _ in range(n_types)]
            for (v, _), number in zip(pairs, plan_vehicle_numbers(self.vehicles, pairs)):
                distinct[self.vehicles[v][0]].add(number)
            counts = np.asarray([len(d) for d in distinct], dtype=np.int64)
        difference = int(counts @ self.rates) - int(self.charged[used].sum())
        return difference, tuple(int(c) for c in counts)

    def as_plan(self, objective: int, routes: Sequence[tuple[int, Sequence[int]]]) -> tuple[int, int, tuple[int, ...]]:
        """``objective``, the search's for ``routes`` ((search vehicle, its nodes) for each route in
        use): with each vehicle's whole day rate paid once, which is how the search ranks the plans
        it gives (a held trip left out keeps its unserved price there, so no plan given trades its
        vehicle away); the same as the plan prices it (a held trip left out at its contract, a trip
        no contract carries at nothing: the plan leaves it unserved); and the plan's vehicles of
        each type."""
        used = np.asarray([v for v, _ in routes], dtype=np.int64)
        holds, left_out = None, 0
        if self.left_out_units or self.held.any():
            trips = [(np.asarray(nodes, dtype=np.int64) - self.n_depots) // 2 for _, nodes in routes]
            if self.held.any():
                holds = np.asarray([self.held[t].any() for t in trips], dtype=bool)
            placed = np.zeros(len(self.held), dtype=bool)
            if trips:
                placed[np.concatenate(trips)] = True
            left_out = sum(units for k, units in self.left_out_units.items() if not placed[k])
        difference, vehicles = self.of(used, holds)
        return objective + difference, objective + difference - left_out, vehicles


def vehicle_list(problem: Problem) -> list[tuple[int, int, int, int]]:
    """The search vehicles (vehicle type index, vehicle number, duty, layout index), identical in every process (it does not depend on the seed)."""
    return [(ti, number, duty, li) for ti, vt in enumerate(problem.vehicle_types)
            for number in range(vt.count) for duty in range(len(vt.duty_windows)) for li, _ in enumerate(vt.layouts)]
