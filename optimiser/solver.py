"""The dial-a-ride solver on OR-Tools routing.

The model follows ../shared/docs/design.md ("learned the hard way"):

* every trip is a pickup-and-delivery pair on one vehicle, pickup first;
* every trip is optional: dropping it costs its contract price when a tariff
  applies (so the solver hands it to a taxi when that is cheaper) and a
  prohibitive penalty otherwise, so a first solution always exists;
* the ride-time cap is both a pickup-to-delivery limit on the time dimension
  (which local-search filters understand) and a plain constraint on the two
  cumuls (the limit alone lets routes through that no schedule can serve);
* travel times are rounded *up* to whole time units, windows inwards, so the
  integer schedule OR-Tools keeps is feasible under the exact times too;
* one capacity dimension per resource; a vehicle type with several layouts
  becomes one OR-Tools vehicle per (vehicle, layout), with at most ``count``
  of the type's vehicles in use;
* costs are integers, converted once here with the units in the names.

Every plan goes through the independent checker before it is returned.
"""
from __future__ import annotations

import concurrent.futures
import math
import multiprocessing
import os
import queue as queue_module
import random
import time
from dataclasses import dataclass, replace
from typing import Callable, Protocol, Sequence

import numpy as np

from .checker import check_plan
from .construct import construct_routes
from .lns import improve_by_parts
from .regions import DUTY_SPLIT_FROM_TRIPS, region_count, solve_by_duty, solve_by_regions, split_by_duty
from .ruin_recreate import RuinAndRecreate
from .errors import PlanCheckError, ProblemError, SolveCancelled, SolveFailed
from .model import RESOURCES, Problem, Trip, format_clock
from .plan import ContractedTrip, Plan, RouteOrder, UnservedTrip, build_plan

#: The one boundary between the domain's floats and the solver's integers.
TIME_UNITS_PER_SECOND = 100  # centiseconds: a benchmark minute is 6,000 units
COST_UNITS_PER_POUND = 10_000_000  # so a £20/hour span cost is still 556 units per centisecond
#: Dropping a trip no tariff can carry must cost more than any way of serving it.
MIN_UNSERVED_PENALTY_POUNDS = 100_000.0

#: Measured on generated days (BENCHMARKS.md): PARALLEL_CHEAPEST_INSERTION builds slightly better
#: first routes up to about a hundred trips, but on 200 it needs 28 s where LOCAL_CHEAPEST_INSERTION
#: needs 6 s, and LOCAL's plans at 10 s and 30 s are 2.6% and 6.6% cheaper. "BY_SIZE" picks by this.
LARGE_DAY_TRIPS = 150
#: From here our own construction (construct.py, "TIME_ORDERED_INSERTION"): on a generated 400-trip
#: day LOCAL does not finish in 30 s and ours does in about a second; on the 200-trip example
#: LOCAL's plan at 10 s is still cheaper (BENCHMARKS.md).
COUNTY_DAY_TRIPS = 300
#: From here the day is improved part by part (lns.py): on the generated 2,000-trip day OR-Tools'
#: local search on the whole model gains 0.14% in five minutes, parts gain 7% in one (two cores);
#: on 400 trips the whole model's search is still the better one (BENCHMARKS.md).
PARTS_DAY_TRIPS = 1000
FIRST_SOLUTION_STRATEGIES = ("BY_SIZE", "TIME_ORDERED_INSERTION", "PARALLEL_CHEAPEST_INSERTION",
                             "LOCAL_CHEAPEST_INSERTION", "LOCAL_CHEAPEST_COST_INSERTION", "SAVINGS", "PATH_CHEAPEST_ARC",
                             "GLOBAL_CHEAPEST_ARC", "AUTOMATIC")
METAHEURISTICS = ("GUIDED_LOCAL_SEARCH", "SIMULATED_ANNEALING", "TABU_SEARCH", "GREEDY_DESCENT", "AUTOMATIC")


class CancelToken(Protocol):
    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class SolveOptions:
    """How long and how to search. Checks itself on construction."""

    time_limit_s: float = 30.0
    seed: int = 0
    #: Searches run side by side in separate processes (a portfolio); the best plan wins.
    workers: int = 1
    #: Stop after this many improving solutions: with it, a run is deterministic for its seed (and
    #: OR-Tools' search is used rather than ruin and recreate, which runs on the clock).
    max_solutions: int | None = None
    #: OR-Tools' first-solution strategy; BY_SIZE chooses by the number of trips (LARGE_DAY_TRIPS).
    first_solution: str = "BY_SIZE"
    metaheuristic: str = "GUIDED_LOCAL_SEARCH"
    #: Further OR-Tools search parameters as (dotted field name, value) pairs, for experiments.
    tuning: tuple = ()
    check: bool = True
    #: On days built by TIME_ORDERED_INSERTION, re-solve parts of a few routes at a time (lns.py)
    #: instead of running OR-Tools' local search on the whole day; None: from PARTS_DAY_TRIPS.
    improve_by_parts: bool | None = None
    #: Processes searching parts at once (1: in this process).
    part_workers: int = 1
    #: Improve our own first routes by ruin and recreate (ruin_recreate.py) rather than OR-Tools'
    #: local search or parts; OR-Tools then only prices the result. None: on, unless
    #: improve_by_parts or max_solutions is set or an OR-Tools first-solution strategy is named.
    #: With BY_SIZE it implies our own first routes (TIME_ORDERED_INSERTION) at every size.
    ruin_and_recreate: bool | None = None
    #: Plan the day as this many regions side by side (regions.py): 1 never splits; None splits
    #: days from REGIONS_FROM_TRIPS trips into regions of about REGION_TRIPS.
    regions: int | None = None

    def __post_init__(self):
        if not (self.time_limit_s > 0 and math.isfinite(self.time_limit_s)):
            raise ProblemError(f"time limit {self.time_limit_s} must be a positive number of seconds",
                               where="options.time_limit_s")
        if self.workers < 1:
            raise ProblemError("workers must be at least 1", where="options.workers")
        if self.part_workers < 1:
            raise ProblemError("part_workers must be at least 1", where="options.part_workers")
        if self.regions is not None and self.regions < 1:
            raise ProblemError("regions must be at least 1", where="options.regions")
        if self.max_solutions is not None and self.max_solutions < 1:
            raise ProblemError("max_solutions must be at least 1", where="options.max_solutions")
        if self.first_solution not in FIRST_SOLUTION_STRATEGIES:
            raise ProblemError(f"unknown first-solution strategy {self.first_solution!r}; one of "
                               f"{', '.join(FIRST_SOLUTION_STRATEGIES)}", where="options.first_solution")
        if self.metaheuristic not in METAHEURISTICS:
            raise ProblemError(f"unknown metaheuristic {self.metaheuristic!r}; one of {', '.join(METAHEURISTICS)}",
                               where="options.metaheuristic")


@dataclass(frozen=True)
class Progress:
    """What a long solve reports each time its best cost improves."""

    elapsed_s: float
    best_cost: float  # pounds, including contract payments and penalties for trips still unplaced
    time_limit_s: float
    worker: int = 0


# ------------------------------------------------------------------ pre-screening
def screen_trip(problem: Problem, trip: Trip) -> str | None:
    """Why no vehicle of the fleet could ever serve this trip, or None if one might."""
    reason = problem.why_fleet_cannot_carry(trip)
    if reason:
        return reason
    direct_s = problem.direct_s(trip)
    reasons = []
    for vt in problem.vehicle_types:
        if vt.count == 0 or not problem.can_carry(vt, trip):
            continue
        why = [_why_duty_cannot_serve(problem, vt, window, trip, direct_s) for window in vt.duty_windows]
        if None in why:
            return None
        if len(why) > 1:  # split shifts: say which duties it falls outside
            duties = ", ".join(f"{format_clock(a)}-{format_clock(b)}" for a, b in vt.duty_windows)
            reasons.append(f"fits in none of the duties of the vehicles that can carry it ({duties}): {why[0]}")
        else:
            reasons.append(why[0])
    if not reasons:
        return "no vehicle that can carry it is available (count 0)"
    return reasons[0]


def _why_duty_cannot_serve(problem: Problem, vt, window: tuple[float, float], trip: Trip,
                           direct_s: float) -> str | None:
    matrix = problem.matrix
    start_s, end_s = window
    split = len(vt.duty_windows) > 1
    reach_s = start_s + matrix.travel_s(vt.depot, trip.pickup)
    if reach_s > trip.latest_pickup_s:
        return "pickup window closes before any vehicle can reach it from a depot"
    pickup_s = max(reach_s, trip.earliest_pickup_s)
    arrive_s = max(pickup_s + trip.pickup_service_s + direct_s, trip.earliest_arrival_s)
    if arrive_s > trip.latest_arrival_s:
        return "arrival window closes before a vehicle from a depot could get the passenger there"
    back_s = arrive_s + trip.dropoff_service_s + matrix.travel_s(trip.dropoff, vt.depot)
    if back_s > end_s:
        what = "duty" if split else "shift"
        return (f"no vehicle's {what} lasts long enough to serve it and return to the depot "
                f"(back at {format_clock(back_s)} at the earliest)")
    least_duty_s = (matrix.travel_s(vt.depot, trip.pickup) + trip.pickup_service_s + direct_s
                    + trip.dropoff_service_s + matrix.travel_s(trip.dropoff, vt.depot))
    if least_duty_s > vt.duty_limit_within(window):
        return "serving it from a depot takes longer than any vehicle's maximum duty"
    return None


# ------------------------------------------------------------------ the OR-Tools model
@dataclass
class _Model:
    """Everything needed to build the OR-Tools model in any process: plain lists only."""

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
    type_counts: list[tuple[list[int], int]]  # a multi-layout type's vehicles in one duty, how many may be used
    horizon_units: int


def _to_units(seconds: float, rounding=math.ceil) -> int:
    return int(rounding(round(seconds * TIME_UNITS_PER_SECOND, 6)))


def _prepare(problem: Problem, trips: Sequence[Trip]) -> _Model:
    matrix = problem.matrix
    depots = sorted({vt.depot for vt in problem.vehicle_types}, key=lambda d: matrix.index[d])
    depot_node = {d: i for i, d in enumerate(depots)}
    vehicles = _prepare_vehicle_list(problem)
    starts = [depot_node[problem.vehicle_types[ti].depot] for ti, _, _, _ in vehicles]
    horizon_s = max([vt.shift_end_s for vt in problem.vehicle_types] + [0.0])
    horizon = _to_units(horizon_s, math.floor)
    node_location = [matrix.index[d] for d in depots]
    node_service = [0] * len(depots)
    node_window = [(0, horizon)] * len(depots)
    for trip in trips:
        node_location += [matrix.index[trip.pickup], matrix.index[trip.dropoff]]
        node_service += [trip.pickup_service_s, trip.dropoff_service_s]
        node_window += [(_to_units(trip.earliest_pickup_s), min(horizon, _to_units(trip.latest_pickup_s, math.floor))),
                        (_to_units(trip.earliest_arrival_s),
                         min(horizon, _to_units(trip.latest_arrival_s, math.floor)))]
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
        ok = [v for v, (ti, _, _, li) in enumerate(vehicles)
              if problem.can_carry(vts[ti], trip) and vts[ti].layouts[li].fits(trip)]
        if len(ok) < len(vehicles):
            allowed[k] = ok
    ride_limits, penalties = [], []
    for trip in trips:
        cap = problem.ride_cap_s(trip)
        ride_limits.append(None if cap is None else _to_units(cap + trip.pickup_service_s, math.floor))
        offer = problem.contract_price(trip)
        penalties.append(int(round((offer[1] if offer else unserved_penalty) * COST_UNITS_PER_POUND)))
    type_counts = []
    for ti, vt in enumerate(vts):
        if len(vt.layouts) > 1 and vt.count > 0:
            for duty in range(len(vt.duty_windows)):
                type_counts.append(([v for v, (t, _, dv, _) in enumerate(vehicles) if t == ti and dv == duty],
                                    vt.count))
    return _Model(
        trip_ids=[t.id for t in trips], vehicles=vehicles, starts=starts, node_location=node_location,
        node_service_s=node_service, node_window=node_window, travel_s=matrix.seconds, metres=metres,
        cost_per_km_by_vehicle=[vts[ti].cost_per_km for ti, _, _, _ in vehicles],
        # A vehicle on split shifts pays its day rate once: the search charges each duty its share
        # (the plan itself is priced exactly, in build_plan).
        fixed_cost_units=[int(round(vts[ti].cost_per_day / len(vts[ti].duty_windows) * COST_UNITS_PER_POUND))
                          for ti, _, _, _ in vehicles],
        span_cost_per_unit=[int(round(vts[ti].staff_cost_per_hour * COST_UNITS_PER_POUND
                                      / (3600 * TIME_UNITS_PER_SECOND))) for ti, _, _, _ in vehicles],
        shift_units=[(_to_units(vts[ti].duty_windows[dv][0]), _to_units(vts[ti].duty_windows[dv][1], math.floor))
                     for ti, _, dv, _ in vehicles],
        duty_units=[_to_units(vts[ti].duty_limit_within(vts[ti].duty_windows[dv]), math.floor)
                    for ti, _, dv, _ in vehicles],
        capacities=capacities, demand=demand, allowed_vehicles=allowed, ride_limit_units=ride_limits,
        drop_penalty_units=penalties, solo=[t.travels_alone for t in trips], type_counts=type_counts,
        horizon_units=horizon,
    )


def _node_matrices(m: _Model):
    """Node-by-node integer matrices (numpy, int64): time transit (service at the tail + travel,
    rounded up) and distance cost per distinct per-km rate. Vectorised: on a 2,000-trip day
    these are 4,000 x 4,000, which Python loops took 20 s to fill."""
    loc = np.asarray(m.node_location, dtype=np.intp)
    travel = np.asarray(m.travel_s, dtype=float)[np.ix_(loc, loc)]
    service = np.asarray(m.node_service_s, dtype=float)
    # service time joins the travel before rounding up, once per arc (as _to_units does)
    time_units = np.ceil(np.round((service[:, None] + travel) * TIME_UNITS_PER_SECOND, 6)).astype(np.int64)
    np.fill_diagonal(time_units, 0)
    metres = np.asarray(m.metres, dtype=float)[np.ix_(loc, loc)]
    cost_units = {}
    for rate in sorted(set(m.cost_per_km_by_vehicle)):
        cost_units[rate] = np.rint(metres * (rate * COST_UNITS_PER_POUND / 1000.0)).astype(np.int64)
    return time_units, cost_units


def _search(m: _Model, options: SolveOptions, report: Callable[[float, int], None],
            cancelled: Callable[[], bool], initial_routes: list[list[int]] | None = None, part_executor=None,
            start: Sequence[tuple] | None = None, cooled: bool = False):
    """Build and solve the OR-Tools model; return (objective units, routes, construction cut short)
    or None. With ``initial_routes`` (node lists per vehicle) the search starts from them, and
    returns None if OR-Tools does not accept them. ``start`` (``_start_of``'s routes) is where
    ruin and recreate starts instead of building its own first routes; ``cooled``: searched from
    there at the temperature a search ends at (``RuinAndRecreate.improve``)."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    deadline = time.monotonic() + options.time_limit_s

    n_depots = len(m.node_location) - 2 * len(m.trip_ids)
    manager = pywrapcp.RoutingIndexManager(len(m.node_location), len(m.vehicles), m.starts, m.starts)
    routing = pywrapcp.RoutingModel(manager)
    solver = routing.solver()
    time_rows, cost_rows = _node_matrices(m)

    time_cb = routing.RegisterTransitMatrix(time_rows.tolist())
    cost_cbs = {rate: routing.RegisterTransitMatrix(rows.tolist()) for rate, rows in cost_rows.items()}
    for v, rate in enumerate(m.cost_per_km_by_vehicle):
        routing.SetArcCostEvaluatorOfVehicle(cost_cbs[rate], v)
        routing.SetFixedCostOfVehicle(m.fixed_cost_units[v], v)

    routing.AddDimension(time_cb, m.horizon_units, m.horizon_units, False, "time")
    time_dim = routing.GetDimensionOrDie("time")
    for v in range(len(m.vehicles)):
        lo, hi = m.shift_units[v]
        time_dim.CumulVar(routing.Start(v)).SetRange(lo, hi)
        time_dim.CumulVar(routing.End(v)).SetRange(lo, hi)
        time_dim.SetSpanUpperBoundForVehicle(m.duty_units[v], v)
        if m.span_cost_per_unit[v]:
            time_dim.SetSpanCostCoefficientForVehicle(m.span_cost_per_unit[v], v)
    for node in range(n_depots, len(m.node_location)):
        lo, hi = m.node_window[node]
        time_dim.CumulVar(manager.NodeToIndex(node)).SetRange(lo, hi)

    for resource, caps in m.capacities.items():
        cb = routing.RegisterUnaryTransitVector(m.demand[resource])
        routing.AddDimensionWithVehicleCapacity(cb, 0, caps, True, resource)
    if any(m.solo):
        on_board = routing.RegisterUnaryTransitVector([0] * n_depots + [1, -1] * len(m.trip_ids))
        routing.AddDimension(on_board, 0, len(m.trip_ids), True, "trips_on_board")
        on_board_dim = routing.GetDimensionOrDie("trips_on_board")

    for k in range(len(m.trip_ids)):
        p = manager.NodeToIndex(n_depots + 2 * k)
        d = manager.NodeToIndex(n_depots + 2 * k + 1)
        routing.AddPickupAndDelivery(p, d)
        solver.Add(routing.VehicleVar(p) == routing.VehicleVar(d))
        solver.Add(time_dim.CumulVar(p) <= time_dim.CumulVar(d))
        limit = m.ride_limit_units[k]
        if limit is not None:
            time_dim.SetPickupToDeliveryLimitFunctionForPair(lambda _p, _d, limit=limit: limit, k)
            solver.Add(time_dim.CumulVar(d) - time_dim.CumulVar(p) <= limit)
        half = m.drop_penalty_units[k] // 2
        routing.AddDisjunction([p], half)
        routing.AddDisjunction([d], m.drop_penalty_units[k] - half)
        if k in m.allowed_vehicles:
            # SetAllowedVehiclesForIndex's Python binding rejects every list in OR-Tools 9.15;
            # restricting the vehicle variable is equivalent (-1 keeps "not performed" possible).
            for index in (p, d):
                routing.VehicleVar(index).SetValues([-1] + m.allowed_vehicles[k])
        if m.solo[k]:
            # Alone on board: straight from pickup to drop-off, with nobody else on the vehicle.
            solver.Add(solver.IsEqualCstVar(routing.NextVar(p), d) >= routing.ActiveVar(p))
            solver.Add(on_board_dim.CumulVar(p) == 0)
    for vehicles, count in m.type_counts:
        if len(vehicles) > count:
            solver.Add(solver.Sum([routing.ActiveVehicleVar(v) for v in vehicles]) <= count)

    params = pywrapcp.DefaultRoutingSearchParameters()
    if options.first_solution != "TIME_ORDERED_INSERTION":
        params.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, options.first_solution)
    params.local_search_metaheuristic = getattr(routing_enums_pb2.LocalSearchMetaheuristic, options.metaheuristic)
    params.time_limit.FromMilliseconds(int(options.time_limit_s * 1000))
    if options.max_solutions:
        params.solution_limit = options.max_solutions
    for key, value in options.tuning:  # e.g. ("guided_local_search_lambda_coefficient", 0.5)
        target = params
        *path, last = key.split(".")
        for part in path:
            target = getattr(target, part)
        setattr(target, last, value)

    best = [None]

    # The model keeps the callback and the callback would keep the model: a cycle through C++
    # that Python's collector cannot see, which leaked every model (14 MB a part, until a part
    # worker was killed for memory after 20 minutes). The callback reaches the model through
    # this holder, emptied when the search is over.
    holder = {"routing": routing}

    def at_solution():
        model = holder.get("routing")
        if model is None:
            return
        value = model.CostVar().Value()
        if best[0] is None or value < best[0]:
            best[0] = value
            report(value)
        if cancelled() and not holder.get("restoring"):
            model.CancelSearch()

    routing.AddAtSolutionCallback(at_solution)
    try:
        matrices = [time_rows, cost_rows]
        del time_rows, cost_rows  # _run_search lets go of them once our construction is done
        return _run_search(m, options, routing, manager, n_depots, params, routing_enums_pb2, matrices,
                           best, report, cancelled, deadline, initial_routes, part_executor, holder, start, cooled)
    finally:
        holder.clear()


def _run_search(m, options, routing, manager, n_depots, params, routing_enums_pb2, matrices: list, best,
                report, cancelled, deadline, initial_routes, part_executor, holder: dict, start=None,
                cooled: bool = False):
    time_rows, cost_rows = matrices
    matrices.clear()
    initial = None
    construction_cut = False
    info: dict = {}  # what the improvement did, for plan.solver
    if initial_routes is not None:
        initial = routing.ReadAssignmentFromRoutes(initial_routes, True)
        if initial is None:
            return None
    elif options.first_solution == "TIME_ORDERED_INSERTION" and options.ruin_and_recreate:
        first_routes = None
        if start is not None:
            first_routes = _routes_on_model(m, start)
        elif len(m.trip_ids) < COUNTY_DAY_TRIPS:
            # below county size construct.py takes well under a second; the benchmark figures for
            # these days were measured starting from its routes (BENCHMARKS.md)
            first_routes, construction_cut, _ = construct_routes(
                m, time_rows, cost_rows, lambda: cancelled() or time.monotonic() > deadline)
        if construction_cut:
            improved = first_routes
        else:
            improved, info["ruin_and_recreate"] = _improve_by_ruin_and_recreate(
                m, first_routes, time_rows, cost_rows, deadline, best, report, cancelled, options.seed,
                cooled=start is not None and cooled)
        # from here OR-Tools only reads and prices what was found (reading runs a search of its
        # own, which reaches the solution callback): a cancel must not lose it
        holder["restoring"] = True
        initial = routing.ReadAssignmentFromRoutes(improved, True)
        if "ruin_and_recreate" in info:
            info["ruin_and_recreate"]["read_back"] = initial is not None
        if initial is None:
            # our tests are exact, so this is a defect: OR-Tools' own construction still gives a plan
            params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.LOCAL_CHEAPEST_INSERTION
        params.solution_limit = 1
        params.ClearField("time_limit")
    elif options.first_solution == "TIME_ORDERED_INSERTION":
        routes, construction_cut, estimate = construct_routes(
            m, time_rows, cost_rows, lambda: cancelled() or time.monotonic() > deadline)
        if options.improve_by_parts and not construction_cut:
            initial = _improve_by_parts(m, routing, routes, estimate, deadline, best, report, cancelled,
                                        options.seed, options.part_workers, part_executor, holder)
            # the parts had the time: restore their routes and price them, no search on the whole
            # model (on a day this size one pass of it can outlast the limit by most of a minute)
            params.solution_limit = 1
            params.ClearField("time_limit")
        else:
            initial = routing.ReadAssignmentFromRoutes(routes, True)
            # OR-Tools searches for what is left of the limit
            remaining_ms = max(1000, int((deadline - time.monotonic()) * 1000))
            params.time_limit.FromMilliseconds(remaining_ms)
        if initial is None:
            # Our routes are built on this model's own numbers, so this is a defect; OR-Tools'
            # own construction still gives a plan.
            params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.LOCAL_CHEAPEST_INSERTION
    del time_rows, cost_rows

    if initial is not None:
        assignment = routing.SolveFromAssignmentWithParameters(initial, params)
    else:
        assignment = routing.SolveWithParameters(params)
    if assignment is None and not cancelled():
        # The time limit ran out during construction (a large day, a short limit or a busy machine).
        # Construction always ends on its own since every trip is optional: finish it, and stop there.
        params.ClearField("time_limit")
        params.solution_limit = 1
        assignment = routing.SolveWithParameters(params)
    if assignment is None:
        return None
    routes = []
    for v in range(len(m.vehicles)):
        index = routing.Start(v)
        events = []
        index = assignment.Value(routing.NextVar(index))
        while not routing.IsEnd(index):
            node = manager.IndexToNode(index)
            k, is_dropoff = divmod(node - n_depots, 2)
            events.append(("dropoff" if is_dropoff else "pickup", m.trip_ids[k]))
            index = assignment.Value(routing.NextVar(index))
        if events:
            routes.append((v, events))
    return assignment.ObjectiveValue(), routes, construction_cut, info


def _start_of(problem: Problem, orders: Sequence[RouteOrder]) -> list[tuple]:
    """Routes to start a solve from, as plain data a worker process can take: (type index, vehicle
    number, duty, layout index, ((kind, trip id), ...)) per route."""
    type_index = {vt.name: ti for ti, vt in enumerate(problem.vehicle_types)}
    known = {t.id for t in problem.trips}
    seen: set[str] = set()
    used: set[tuple[str, int, int]] = set()
    out = []
    for r, order in enumerate(orders):
        vt = order.vehicle_type
        where = f"start_routes[{r}]"
        if vt.name not in type_index:
            raise ProblemError(f"vehicle type {vt.name!r} is not in the fleet", where=where)
        vt = problem.vehicle_types[type_index[vt.name]]
        if not 0 <= order.vehicle_number < vt.count or not 0 <= order.duty < len(vt.duty_windows):
            raise ProblemError(f"{vt.name} #{order.vehicle_number} in duty {order.duty} is not in the fleet "
                               f"({vt.count} vehicles, {len(vt.duty_windows)} duties)", where=where)
        if order.layout not in vt.layouts:
            raise ProblemError(f"{vt.name} has no layout {order.layout.name!r}", where=where)
        key = (vt.name, order.vehicle_number, order.duty)
        if key in used:
            raise ProblemError(f"{vt.name} #{order.vehicle_number} has two routes in duty {order.duty}", where=where)
        used.add(key)
        on_board: set[str] = set()
        for kind, trip in order.events:
            if trip.id not in known:
                raise ProblemError(f"trip {trip.id!r} is not in the problem", where=where)
            if kind == "pickup" and trip.id not in seen:
                seen.add(trip.id)
                on_board.add(trip.id)
            elif kind == "dropoff" and trip.id in on_board:
                on_board.remove(trip.id)
            else:
                raise ProblemError(f"trip {trip.id!r}: each trip is picked up once, then dropped off on the "
                                   "same route", where=where)
        if on_board:
            raise ProblemError(f"trip {sorted(on_board)[0]!r} is picked up but never dropped off", where=where)
        out.append((type_index[vt.name], order.vehicle_number, order.duty, vt.layouts.index(order.layout),
                    tuple((kind, trip.id) for kind, trip in order.events)))
    return out


def _routes_on_model(m: _Model, start: Sequence[tuple]) -> list[list[int]]:
    """``_start_of``'s routes as node lists per OR-Tools vehicle of the model ``m``."""
    n_depots = len(m.node_location) - 2 * len(m.trip_ids)
    trip_index = {tid: k for k, tid in enumerate(m.trip_ids)}
    vehicle_index = {key: v for v, key in enumerate(m.vehicles)}
    routes: list[list[int]] = [[] for _ in m.vehicles]
    for ti, number, duty, li, events in start:
        v = vehicle_index[(ti, number, duty, li)]
        routes[v] = [n_depots + 2 * trip_index[tid] + (kind == "dropoff") for kind, tid in events]
    return routes


def _improve_by_ruin_and_recreate(m: _Model, first_routes, time_rows, cost_rows, deadline: float, best: list,
                                  report, cancelled, seed: int, cooled: bool = False):
    """Improve ``first_routes`` by ruin and recreate until shortly before the deadline: the routes
    to read into the whole model and what the search did. Without first routes the search makes
    its own, inserting every trip in order of earliest pickup at any price: on the generated
    2,000-trip day that took 5 s where construct.py took 27 s (0.4 s since the quick time tests),
    and 30 s of search from it ended 2.8% cheaper than from construct.py's routes (BENCHMARKS.md)."""
    # keep back time to read the routes into the whole model and restore them
    reserve = 0.3 + 0.001 * len(m.trip_ids)
    if first_routes is None:
        search = RuinAndRecreate(m, [[] for _ in m.vehicles], time_rows, cost_rows, seed)
        search.place_all(forced=True)
    else:
        try:
            search = RuinAndRecreate(m, first_routes, time_rows, cost_rows, seed)
        except ValueError as exc:  # a first route without a schedule: a defect, but not worth the day
            return first_routes, {"rounds": 0, "accepted": 0, "not_started": str(exc)}
    best[0] = search.best
    report(search.best)

    def better(total: int):
        best[0] = total
        report(total)

    counts = search.improve(deadline - reserve, cancelled, better, cooled=cooled)
    return search.best_routes(), counts


def _improve_by_parts(m: _Model, routing, routes, estimate: int, deadline: float, best: list, report,
                      cancelled, seed: int, workers: int = 1, executor=None, holder: dict | None = None):
    """Improve our routes part by part (lns.py) until shortly before the deadline and return them
    as the whole model's starting point. The whole model is not solved before that: once solved,
    OR-Tools no longer reads routes into it. Progress is reported from ``estimate``, the
    construction's own pricing of its routes, less each saving found."""
    # keep back time to read the routes into the whole model and restore them
    reserve = 0.5 + 0.001 * len(m.trip_ids)
    current = [estimate]
    report(estimate)
    best[0] = estimate

    def accepted(saving: int):
        current[0] -= saving
        report(current[0])
        best[0] = current[0]

    own_pool = executor is None and workers > 1
    if own_pool:
        executor = concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        improved = improve_by_parts(m, routes, _solve_part,
                                    lambda: cancelled() or time.monotonic() > deadline - reserve, accepted, seed,
                                    executor=executor, in_flight=workers)
    finally:
        if own_pool:
            executor.shutdown(wait=False, cancel_futures=True)
    if holder is not None:
        holder["restoring"] = True  # reading the routes must not be cancelled (see _run_search)
    # parts keep every rule of the whole model, so this is a defect if it happens: keep the
    # construction's routes rather than lose the day
    return routing.ReadAssignmentFromRoutes(improved, True) or routing.ReadAssignmentFromRoutes(routes, True)


def _solve_part(sub: _Model, start_routes: list[list[int]], seconds: float):
    """One part of a large day, searched by OR-Tools from its current routes: (objective of the
    start, best objective, best routes as node lists) or None."""
    values: list[int] = []
    options = SolveOptions(time_limit_s=seconds, first_solution="PARALLEL_CHEAPEST_INSERTION", check=False)
    result = _search(sub, options, values.append, lambda: False, initial_routes=start_routes)
    if result is None or not values:
        return None
    objective, routes = result[:2]
    n_depots = len(sub.node_location) - 2 * len(sub.trip_ids)
    position = {trip_id: i for i, trip_id in enumerate(sub.trip_ids)}
    found: list[list[int]] = [[] for _ in sub.vehicles]
    for v, events in routes:
        found[v] = [n_depots + 2 * position[trip_id] + (kind == "dropoff") for kind, trip_id in events]
    return values[0], objective, found


#: A first plan found this late in the time limit means construction was still running at the end.
CONSTRUCTION_CUT_SHARE = 0.97


def _portfolio_configs(options: SolveOptions) -> list[tuple[SolveOptions, int]]:
    """Each worker searches differently: its own trip order (from the seed) and, for the
    second worker on, another first-solution strategy."""
    alternatives = ["PARALLEL_CHEAPEST_INSERTION", "LOCAL_CHEAPEST_INSERTION", "LOCAL_CHEAPEST_COST_INSERTION"]
    if options.first_solution == "TIME_ORDERED_INSERTION":
        # on a day this size OR-Tools' own constructions do not finish: every worker starts from ours
        return [(options, options.seed + 1000 * w) for w in range(options.workers)]
    others = [a for a in alternatives if a != options.first_solution]
    configs = [(options, options.seed)]
    for w in range(1, options.workers):
        first = others[(w - 1) % len(others)] if options.first_solution in alternatives else options.first_solution
        configs.append((replace(options, first_solution=first), options.seed + 1000 * w))
    return configs


def _ordered_trips(trips: Sequence[Trip], seed: int) -> list[Trip]:
    """OR-Tools has no seed of its own; the order of the trips steers its insertion heuristics."""
    order = list(trips)
    if seed:
        random.Random(seed).shuffle(order)
    return order


def _worker_main(problem: Problem, trips_ids: list[str], options: SolveOptions, seed: int, worker: int,
                 out, cancel_event, start=None, cooled: bool = False):
    started = time.monotonic()
    parent = os.getppid()
    options = replace(options, seed=seed)  # each worker's own search (ruin and recreate draws from it)
    trips = _ordered_trips([problem.trip(t) for t in trips_ids], seed)
    model = _prepare(problem, trips)

    def stop() -> bool:
        # a parent killed outright (SIGKILL, or SIGTERM to it alone) cannot stop its daemonic
        # workers; they stop themselves once they are orphaned rather than search on for nobody
        return cancel_event.is_set() or os.getppid() != parent

    result = _search(model, options,
                     lambda value: out.put(("progress", worker, time.monotonic() - started, value)), stop, start=start,
                     cooled=cooled)
    out.put(("result", worker, result))


def solve(problem: Problem, options: SolveOptions | None = None, *,
          on_progress: Callable[[Progress], None] | None = None, cancel: CancelToken | None = None,
          part_executor=None, start_routes: Sequence[RouteOrder] | None = None, cooled_start: bool = False) -> Plan:
    """Plan every trip of ``problem``: fleet routes, contracted trips, unserved trips with reasons.

    ``on_progress`` is called with the best cost so far each time it improves; ``cancel`` (anything
    with ``is_set()``, e.g. a ``threading.Event``) stops the search early and returns the best plan
    found so far, or raises ``SolveCancelled`` if there is none yet. ``part_executor``, a
    ``concurrent.futures`` executor such as a Dask client's ``get_executor()``, searches the parts
    of a county-sized day (``options.part_workers`` of them at once) instead of local processes,
    or, on a day planned in regions (``options.regions``), the regions, or the two sides of a
    county-sized day on split shifts.

    ``start_routes`` (routes of this problem's fleet, e.g. another plan's ``RouteOrder``s) is
    where the search starts instead of building first routes; the day is then never split and
    ruin and recreate improves it (it never returns a plan dearer than the start, by the model's
    objective). With ``cooled_start`` the start routes are taken as the end of a search already
    run (another part of the same solve): the search stays at the temperature a search cools to
    rather than heating them again.
    """
    options = options or SolveOptions()
    if start_routes is not None:
        options = replace(options, regions=1, ruin_and_recreate=True, first_solution="TIME_ORDERED_INSERTION",
                          improve_by_parts=False)
    regions = region_count(len(problem.trips), options.regions)
    if regions > 1:
        return solve_by_regions(problem, options, regions, on_progress=on_progress, cancel=cancel,
                                executor=part_executor, slots=options.part_workers)
    # two or more searches at once: local processes (workers), or an executor's slots (part_workers)
    side_by_side = options.part_workers > 1 if part_executor is not None else options.workers > 1
    if (options.regions is None and side_by_side
            and len(problem.trips) >= DUTY_SPLIT_FROM_TRIPS and options.max_solutions is None
            and options.ruin_and_recreate is not False and not options.improve_by_parts
            and options.first_solution in ("BY_SIZE", "TIME_ORDERED_INSERTION")):
        # a county-sized day on split shifts: each worker searches one side of the break between
        # duties rather than every worker the whole day (regions.split_by_duty)
        sides = split_by_duty(problem)
        if sides is not None:
            return solve_by_duty(problem, options, sides, on_progress=on_progress, cancel=cancel,
                                 executor=part_executor, slots=options.part_workers)
    started = time.monotonic()
    history: list[tuple[float, float]] = []

    screened: dict[str, str] = {}
    for trip in problem.trips:
        reason = screen_trip(problem, trip)
        if reason:
            screened[trip.id] = reason
    model_trips = [t for t in problem.trips if t.id not in screened]
    start = None
    if start_routes is not None:
        start = _start_of(problem, start_routes)
        if any(tid in screened for *_, events in start for _, tid in events):
            raise ProblemError("a start route carries a trip the fleet cannot serve", where="start_routes")
    fleet_size = sum(vt.count for vt in problem.vehicle_types)
    if options.ruin_and_recreate is None:
        # by default our own search improves our own first routes, unless parts were asked for, or
        # a number of solutions (which makes OR-Tools' search deterministic; ours runs on the clock)
        options = replace(options, ruin_and_recreate=not options.improve_by_parts and options.max_solutions is None
                          and options.first_solution in ("BY_SIZE", "TIME_ORDERED_INSERTION"))
    if options.first_solution == "BY_SIZE":
        size = len(model_trips)
        options = replace(options, first_solution=(
            "TIME_ORDERED_INSERTION" if size >= COUNTY_DAY_TRIPS or options.ruin_and_recreate
            else "LOCAL_CHEAPEST_INSERTION" if size >= LARGE_DAY_TRIPS else "PARALLEL_CHEAPEST_INSERTION"))
    if options.first_solution != "TIME_ORDERED_INSERTION":
        options = replace(options, ruin_and_recreate=False)  # it improves our own first routes only

    if options.improve_by_parts is None:
        options = replace(options, improve_by_parts=not options.ruin_and_recreate
                          and len(model_trips) >= PARTS_DAY_TRIPS)
    if (options.first_solution == "TIME_ORDERED_INSERTION" and options.improve_by_parts and options.workers > 1
            and options.part_workers == 1):
        # a county-sized day: the cores search parts of one plan together rather than each a plan
        options = replace(options, part_workers=options.workers)

    best_units: float | None = None
    # the trips no vehicle can carry go to their contracts whatever the search does: the progress
    # and the curve report what the plan given now would cost, so they count those contracts too
    screened_contracts = sum((problem.contract_price(t) or (None, 0.0))[1] for t in problem.trips if t.id in screened)

    def relay(worker: int, elapsed: float, value: int):
        nonlocal best_units
        if best_units is None or value < best_units:
            best_units = value
            cost = value / COST_UNITS_PER_POUND + screened_contracts
            history.append((round(elapsed, 3), cost))
            if on_progress:
                on_progress(Progress(elapsed, cost, options.time_limit_s, worker))

    result = None
    if model_trips and fleet_size:
        if options.workers == 1 or options.part_workers > 1 or part_executor is not None:
            trips = _ordered_trips(model_trips, options.seed)
            model = _prepare(problem, trips)
            result = _search(model, options, lambda v: relay(0, time.monotonic() - started, v),
                             (cancel.is_set if cancel else (lambda: False)), part_executor=part_executor, start=start,
                             cooled=cooled_start)
        else:
            result = _run_portfolio(problem, model_trips, options, relay, cancel, start, cooled_start)
        if result is None and not (cancel and cancel.is_set()):
            raise SolveFailed(f"no first plan for {len(model_trips)} trips within the time limit of "
                              f"{options.time_limit_s:g} s; allow more time", where="options.time_limit_s")
        if result is None:
            raise SolveCancelled("the solve was cancelled before a first plan was found")

    # The first plan arrives when construction ends. If it only arrives as the time limit
    # expires, construction was cut short: trips not reached yet went to contracts untried.
    # No first plan reported at all means OR-Tools gave up construction and dropped every trip.
    cancelled_early = bool(cancel and cancel.is_set())
    searched = bool(model_trips and fleet_size) and not cancelled_early
    construction_complete = not searched or bool(result and not result[2]) and bool(
        history and history[0][0] < CONSTRUCTION_CUT_SHARE * options.time_limit_s)

    vts = problem.vehicle_types
    orders, served = [], set()
    vehicles = _prepare_vehicle_list(problem)
    next_number: dict[tuple[int, int], int] = {}
    for v, events in (result[1] if result else []):
        ti, _, duty, li = vehicles[v]
        # OR-Tools has one vehicle per (vehicle, duty, layout); within each duty, number the vehicles
        # actually used from 0 (a type's vehicles are alike, so duty 1's #0 and duty 2's #0 are one vehicle).
        number = next_number.get((ti, duty), 0)
        next_number[(ti, duty)] = number + 1
        orders.append(RouteOrder(vts[ti], number, vts[ti].layouts[li],
                                 tuple((kind, problem.trip(tid)) for kind, tid in events), duty))
        served.update(tid for _, tid in events)

    contracted, unserved = [], []
    for trip in problem.trips:
        if trip.id in served:
            continue
        offer = problem.contract_price(trip)
        if trip.id in screened:
            reason = screened[trip.id]
            if offer:
                contracted.append(ContractedTrip(trip.id, trip.service, offer[0].name, offer[1],
                                                 f"the fleet cannot serve it: {reason}"))
            else:
                unserved.append(UnservedTrip(trip.id, trip.service, reason))
        elif offer and not construction_complete:
            contracted.append(ContractedTrip(trip.id, trip.service, offer[0].name, offer[1],
                                             f"not placed in a route before the time limit ran out (routes were "
                                             f"still being built); contracted at £{offer[1]:.2f}: a longer solve "
                                             "may fit it into the fleet"))
        elif offer:
            contracted.append(ContractedTrip(trip.id, trip.service, offer[0].name, offer[1],
                                             f"contract at £{offer[1]:.2f} is cheaper than any place found for it "
                                             "in the fleet's routes"))
        else:
            unserved.append(UnservedTrip(trip.id, trip.service, _why_dropped(problem, trip)))

    solver_info = {
        "engine": "ortools", "time_limit_s": options.time_limit_s, "seed": options.seed, "workers": options.workers,
        "seconds": round(time.monotonic() - started, 3),
        "objective": (result[0] / COST_UNITS_PER_POUND) if result else 0.0,
        "best_cost_over_time": history, "cancelled": bool(cancel and cancel.is_set()),
        "construction_complete": construction_complete, "first_solution": options.first_solution,
        "improvement": ("ruin_and_recreate" if options.ruin_and_recreate else "parts" if options.improve_by_parts
                        else "ortools_local_search"),
        **(result[3] if result else {}),
    }
    return checked_plan(problem, build_plan(problem, orders, contracted, unserved, solver_info), options.check)


def checked_plan(problem: Problem, plan: Plan, check: bool = True) -> Plan:
    """The plan, once the independent checker has passed it (``check``); PlanCheckError if not."""
    if check:
        report = check_plan(problem, plan)
        if not report.feasible:
            raise PlanCheckError("the solver returned a plan the independent checker rejects: "
                                 + "; ".join(report.violations[:5]))
    return plan


def _prepare_vehicle_list(problem: Problem) -> list[tuple[int, int, int]]:
    """The OR-Tools vehicle numbering, identical in every process (it does not depend on the seed)."""
    return [(ti, number, duty, li) for ti, vt in enumerate(problem.vehicle_types)
            for number in range(vt.count) for duty in range(len(vt.duty_windows)) for li, _ in enumerate(vt.layouts)]


def _why_dropped(problem: Problem, trip: Trip) -> str:
    able = [vt for vt in problem.vehicle_types if problem.can_carry(vt, trip) and vt.count]
    count = sum(vt.count for vt in able)
    return (f"no room around the other trips: none of the {count} vehicles able to carry it "
            f"({', '.join(vt.name for vt in able)}) could fit it in between {format_clock(trip.earliest_pickup_s)} "
            f"and {format_clock(trip.latest_arrival_s)} within its ride-time cap, and no contract tariff applies")


def _run_portfolio(problem: Problem, trips: Sequence[Trip], options: SolveOptions, relay, cancel, start=None,
                   cooled: bool = False):
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    cancel_event = context.Event()
    processes = []
    ids = [t.id for t in trips]
    for worker, (worker_options, seed) in enumerate(_portfolio_configs(options)):
        proc = context.Process(target=_worker_main,
                               args=(problem, ids, worker_options, seed, worker, out, cancel_event, start, cooled),
                               daemon=True)
        proc.start()
        processes.append(proc)
    results = {}
    while len(results) < len(processes):
        if cancel is not None and cancel.is_set():
            cancel_event.set()
        try:
            message = out.get(timeout=0.2)
        except queue_module.Empty:
            if all(not p.is_alive() for p in processes) and out.empty():
                break
            continue
        if message[0] == "progress":
            _, worker, elapsed, value = message
            relay(worker, elapsed, value)
        else:
            results[message[1]] = message[2]
    for proc in processes:
        proc.join(timeout=5)
    found = [r for r in results.values() if r is not None]
    if not found:
        return None
    return min(found, key=lambda r: r[0])
