"""One search model solved: by our own ruin and recreate, or on OR-Tools' routing model.

OR-Tools' model is the model of record (../shared/docs/design.md, "learned the hard way"), and
our own search keeps every one of its rules:

* every trip is a pickup-and-delivery pair on one vehicle, pickup first;
* every trip is optional: dropping it costs its contract price when a tariff applies (so the
  search hands it to a taxi when that is cheaper) and a prohibitive penalty otherwise, so a
  first solution always exists;
* the ride-time cap is both a pickup-to-delivery limit on the time dimension (which local-search
  filters understand) and a plain constraint on the two cumuls (the limit alone lets routes
  through that no schedule can serve);
* one capacity dimension per resource; a vehicle type with several layouts becomes one vehicle
  per (vehicle, layout), with at most ``count`` of the type's vehicles in use.

Ruin and recreate (ruin_recreate.py), from construct.py's first routes or its own, searches and
prices on its own: its schedule tests are exact and the plan made of its routes is checked
independently (checker.py). OR-Tools' model is built for OR-Tools' own local search and for
OR-Tools on parts of the day (parts.py), which reads the parts' result back and prices it.
"""
from __future__ import annotations

import concurrent.futures
import multiprocessing
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from optimiser.options import SolveOptions

from .construct import construct_routes
from .parts import improve_by_parts
from .ruin_recreate import RuinAndRecreate, UnschedulableStart
from .search_model import DayRates, SearchModel, node_matrices


@dataclass
class SearchResult:
    """What one search of a model found: its objective (cost units), the routes as
    (search vehicle, ((kind, trip id), ...)) pairs, whether construction was cut short by the time
    limit, and what the improvement did (for the plan's solve record)."""

    objective_units: int
    routes: list
    construction_cut: bool
    improvement_counts: dict = field(default_factory=dict)


def solve_model(m: SearchModel, options: SolveOptions, report: Callable[..., None],
                cancelled: Callable[[], bool], initial_routes: list[list[int]] | None = None, executor=None,
                start: Sequence[tuple] | None = None, cooled: bool = False,
                deadline: float | None = None) -> SearchResult | None:
    """Search ``m``: the search's result, or None. Ruin and recreate from our own first routes
    (``first_solution`` TIME_ORDERED_INSERTION with ``ruin_and_recreate``) runs on its own;
    otherwise OR-Tools' model of ``m`` is built and solved. With ``initial_routes`` (node lists per
    vehicle) OR-Tools starts from them, and None is returned if it does not accept them.
    ``start`` (``start_of``'s routes) is where ruin and recreate starts instead of building its
    own first routes; ``cooled``: searched from there at the temperature a search ends at
    (``RuinAndRecreate.improve``). ``deadline`` (on the monotonic clock): when the whole solve
    must end, when it began before this model was built (the caller's screening and model count
    against the time limit too); by default the time limit from now.

    ``report(units, plan_units, vehicles=None)`` is called with each new best: how the search
    ranks it (OR-Tools: its objective; ruin and recreate: its objective with each vehicle's whole
    day rate, ``RuinAndRecreate.priced_as_plan``), the same as the plan prices it, which is shown
    (a held trip left out is searched at the unserved price and contracted in the plan, a trip no
    contract carries left unserved at no price; a vehicle pays its whole day rate once,
    ``DayRates``), and the plan's vehicles of each type where the search knows them. The result's
    ``objective_units`` ranks the same way."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    if deadline is None:
        deadline = time.monotonic() + options.time_limit_s
    if initial_routes is None and options.first_solution == "TIME_ORDERED_INSERTION" and options.ruin_and_recreate:
        return _search_by_ruin_and_recreate(m, options, report, cancelled, deadline, start, cooled)

    n_depots = m.n_depots
    manager = pywrapcp.RoutingIndexManager(len(m.node_location), len(m.vehicles), m.starts, m.starts)
    routing = pywrapcp.RoutingModel(manager)
    solver = routing.solver()
    time_rows, cost_rows = node_matrices(m)

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
    # what is left until the deadline: building the model (and, in a portfolio's worker process,
    # starting it) came out of the limit. With a solution limit the run is to repeat for its seed:
    # that limit ends it, within the whole time limit from here whatever the clock says
    seconds = options.time_limit_s if options.max_solutions else deadline - time.monotonic()
    params.time_limit.FromMilliseconds(max(1, int(seconds * 1000)))
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
    day_rates = DayRates(m)
    # a held trip left out is searched at the unserved price and contracted in the plan, a trip no
    # contract carries is left unserved: progress reports them as the plan prices them (an
    # unperformed node is its own next)
    left_out_pickups = [(manager.NodeToIndex(n_depots + 2 * k), units)
                        for k, units in day_rates.left_out_units.items()]

    def as_plan(model, value: int):
        # the plan's price of this solution (solve_model's report) and its vehicles of each type
        if not day_rates.split_shifts:
            # the search charges the day rates the plan pays: no walk of every route on each new best
            return value - sum(units for index, units in left_out_pickups
                               if model.NextVar(index).Value() == index), None
        routes = []
        for v in range(len(m.vehicles)):
            nodes, index = [], model.NextVar(model.Start(v)).Value()
            while not model.IsEnd(index):
                nodes.append(manager.IndexToNode(index))
                index = model.NextVar(index).Value()
            if nodes:
                routes.append((v, nodes))
        return day_rates.as_plan(value, routes)[1:]

    def at_solution():
        model = holder.get("routing")
        if model is None:
            return
        value = model.CostVar().Value()
        if best[0] is None or value < best[0]:
            best[0] = value
            report(value, *as_plan(model, value))
        # while restoring, not even asked: on a cluster the cancel is a round trip to the
        # scheduler, and one failing inside this callback broke the reading of the routes
        if not holder.get("restoring") and cancelled():
            model.CancelSearch()

    routing.AddAtSolutionCallback(at_solution)
    try:
        matrices = [time_rows, cost_rows]
        del time_rows, cost_rows  # _run_search lets go of them once our construction is done
        return _run_search(m, options, routing, manager, n_depots, params, routing_enums_pb2, matrices,
                           best, report, cancelled, deadline, initial_routes, executor, holder)
    finally:
        holder.clear()


def _run_search(m, options, routing, manager, n_depots, params, routing_enums_pb2, matrices: list, best,
                report, cancelled, deadline, initial_routes, executor, holder: dict):
    time_rows, cost_rows = matrices
    matrices.clear()
    initial = None
    construction_cut = False
    info: dict = {}  # what the improvement did, for plan.solver
    if initial_routes is not None:
        initial = routing.ReadAssignmentFromRoutes(initial_routes, True)
        if initial is None:
            return None
    elif options.first_solution == "TIME_ORDERED_INSERTION":
        routes, construction_cut, estimate = construct_routes(
            m, time_rows, cost_rows, lambda: cancelled() or time.monotonic() > deadline)
        if options.improve_by_parts and not construction_cut:
            initial = _improve_by_parts(m, routing, routes, estimate, deadline, best, report, cancelled,
                                        options.seed, options.part_workers, executor, holder)
            # the parts had the time: their routes read back are the whole solution, priced; no
            # search on the whole model (even to one solution OR-Tools first tries to insert every
            # trip left to contracts, with no time limit)
            if initial is not None:
                return _search_result(m, routing, manager, initial, construction_cut, info)
            params.solution_limit = 1
            _finish_within(params, deadline, options)
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
        # Construction always ends on its own since every trip is optional: finish it, and stop
        # there, within a bound (finish_past_limit_s) past the limit, or give no plan
        _finish_within(params, deadline, options)
        params.solution_limit = 1
        assignment = routing.SolveWithParameters(params)
    if assignment is None:
        return None
    return _search_result(m, routing, manager, assignment, construction_cut, info)


def _search_result(m: SearchModel, routing, manager, assignment, construction_cut: bool, info: dict) -> SearchResult:
    """The routes and objective of ``assignment``, a whole solution of the model of ``m``."""
    nodes = []
    for v in range(len(m.vehicles)):
        route = []
        index = assignment.Value(routing.NextVar(routing.Start(v)))
        while not routing.IsEnd(index):
            route.append(manager.IndexToNode(index))
            index = assignment.Value(routing.NextVar(index))
        nodes.append(route)
    return SearchResult(assignment.ObjectiveValue(), _routes_as_events(m, nodes), construction_cut, info)


def _finish_within(params, deadline: float, options: SolveOptions) -> None:
    """Let OR-Tools' next solve run until ``finish_past_limit_s`` past the deadline, and no longer."""
    seconds = max(0.0, deadline - time.monotonic()) + options.parameters.strategy.finish_past_limit_s
    params.time_limit.FromMilliseconds(int(seconds * 1000))


def _routes_as_events(m: SearchModel, routes: list[list[int]]) -> list:
    """Node lists per vehicle as ``SearchResult.routes``: (vehicle, [(kind, trip id), ...])."""
    n_depots = m.n_depots
    out = []
    for v, nodes in enumerate(routes):
        if nodes:
            out.append((v, [("dropoff" if (node - n_depots) % 2 else "pickup", m.trip_ids[(node - n_depots) // 2])
                            for node in nodes]))
    return out


def routes_on_model(m: SearchModel, start: Sequence[tuple]) -> list[list[int]]:
    """``start_of``'s routes as node lists per OR-Tools vehicle of the model ``m``."""
    n_depots = m.n_depots
    trip_index = {tid: k for k, tid in enumerate(m.trip_ids)}
    vehicle_index = {key: v for v, key in enumerate(m.vehicles)}
    routes: list[list[int]] = [[] for _ in m.vehicles]
    for ti, number, duty, li, events in start:
        v = vehicle_index[(ti, number, duty, li)]
        routes[v] = [n_depots + 2 * trip_index[tid] + (kind == "dropoff") for kind, tid in events]
    return routes


def _search_by_ruin_and_recreate(m: SearchModel, options: SolveOptions, report, cancelled, deadline: float,
                                 start: Sequence[tuple] | None, cooled: bool) -> SearchResult:
    """Our own search from first routes (``start``'s; construct.py's below county size; else its
    own), without OR-Tools: its schedule tests are exact, its objective is the model's, and the
    plan made of its routes is checked on its own (checker.py). Building OR-Tools' model only to
    read the routes back into it took 3.9 s of a 2,000-trip day's time limit (node lists of the
    matrices 2.3 s, registering them 1.4 s, reading 0.55 s), so that a 10 s solve of the day gave
    every trip to contracts (docs/lab/county-day.md)."""
    time_rows, cost_rows = node_matrices(m)
    first_routes = None
    if start is not None:
        first_routes = routes_on_model(m, start)
    elif len(m.trip_ids) < options.parameters.strategy.county_day_trips and not m.held_excess_units:
        # below county size construct.py takes well under a second; the benchmark figures for
        # these days were measured starting from its routes (docs/lab/). It builds routes on
        # a type's first vehicle and numbers them afterwards, so a day with trips held to a
        # vehicle gets the search's own first routes, which keep every vehicle apart
        first_routes, construction_cut, estimate = construct_routes(
            m, time_rows, cost_rows, lambda: cancelled() or time.monotonic() > deadline)
        if construction_cut:
            # no time to search: the routes built so far (the trips not reached go to contracts),
            # ranked as the search ranks its plans; construct.py's own schedules price them, which
            # may wait longer than the search's would (its pounds then a little above the plan's)
            in_use = [(v, route) for v, route in enumerate(first_routes) if route]
            rank, shown, vehicles = DayRates(m).as_plan(estimate, in_use)
            report(rank, shown, vehicles)
            return SearchResult(rank, _routes_as_events(m, first_routes), True, {})
    routes, counts, construction_cut, objective = _improve_by_ruin_and_recreate(
        m, first_routes, time_rows, cost_rows, deadline, report, cancelled, options,
        cooled=start is not None and cooled)
    return SearchResult(objective, _routes_as_events(m, routes), construction_cut, {"ruin_and_recreate": counts})


def _improve_by_ruin_and_recreate(m: SearchModel, first_routes, time_rows, cost_rows, deadline: float,
                                  report, cancelled, options: SolveOptions, cooled: bool = False):
    """Improve ``first_routes`` by ruin and recreate until shortly before the deadline: the routes
    to give, what the search did, whether the deadline came while the first routes were still
    being built (then there was no search), and the routes' objective as the search ranks its
    plans (``RuinAndRecreate.cheaper_plan``). Without first routes the search makes its own,
    inserting every trip in order of earliest pickup at any price: on the generated 2,000-trip
    day that took 5 s where construct.py took 27 s (0.4 s since the quick time tests), and 30 s of
    search from it ended 2.8% cheaper than from construct.py's routes (docs/lab/)."""
    parameters = options.parameters.ruin_recreate
    # keep back time to make, price and check the plan of the routes
    reserve = parameters.read_back_reserve_s(len(m.trip_ids), options.time_limit_s)
    placed_all = True
    dropped: list[int] = []  # search vehicles whose start route no schedule serves
    if first_routes is None:
        search = RuinAndRecreate(m, [[] for _ in m.vehicles], time_rows, cost_rows, options.seed, parameters)
        placed_all = search.place_all(forced=True, until=deadline - reserve, stop=cancelled)
    else:
        first_routes = list(first_routes)
        while True:
            try:
                search = RuinAndRecreate(m, first_routes, time_rows, cost_rows, options.seed, parameters)
                break
            except UnschedulableStart as exc:
                # a start route no schedule serves (a week's template on a day whose times moved,
                # say): the search starts from the others, and its trips are placed again
                dropped.append(exc.vehicle)
                first_routes[exc.vehicle] = []
        if options.place_left_out or dropped:
            placed_all = search.place_all(forced=True, until=deadline - reserve, stop=cancelled)
    report(*search.cheaper_plan(search.best))
    if not placed_all:
        # the time ran out while the first routes were being built: give the routes built so far
        # (the trips not reached go to contracts), and no search
        return (search.best_routes(), {"rounds": 0, "accepted": 0, "placed_all": False}, True,
                search.cheapest_units)

    def better(total: int):
        cheaper = search.cheaper_plan(total)
        if cheaper is not None:  # the plan given is the cheapest of the bests: the curve shows those
            report(*cheaper)

    counts = search.improve(deadline - reserve, cancelled, better, cooled=cooled, max_rounds=options.max_rounds)
    if dropped:
        counts["start_routes_unscheduled"] = len(dropped)
    return search.best_routes(), counts, False, search.cheapest_units


def _improve_by_parts(m: SearchModel, routing, routes, estimate: int, deadline: float, best: list, report,
                      cancelled, seed: int, workers: int = 1, executor=None, holder: dict | None = None):
    """Improve our routes part by part (lns.py) until shortly before the deadline and return them
    as the whole model's starting point. The whole model is not solved before that: once solved,
    OR-Tools no longer reads routes into it. Progress is reported from ``estimate``, the
    construction's own pricing of its routes, less each saving found."""
    # keep back time to read the routes into the whole model and restore them
    reserve = 0.5 + 0.001 * len(m.trip_ids)
    current = [estimate]
    report(estimate, estimate)
    best[0] = estimate

    def accepted(saving: int):
        current[0] -= saving
        report(current[0], current[0])
        best[0] = current[0]

    own_pool = executor is None and workers > 1
    if own_pool:
        executor = concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        improved = improve_by_parts(m, routes, solve_part_model,
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


def solve_part_model(sub: SearchModel, start_routes: list[list[int]], seconds: float):
    """One part of a large day, searched by OR-Tools from its current routes: (objective of the
    start, best objective, best routes as node lists) or None."""
    values: list[int] = []
    options = SolveOptions(time_limit_s=seconds, first_solution="PARALLEL_CHEAPEST_INSERTION", check=False)
    result = solve_model(sub, options, lambda units, *_: values.append(units), lambda: False,
                         initial_routes=start_routes)
    if result is None or not values:
        return None
    objective, routes = result.objective_units, result.routes
    n_depots = sub.n_depots
    position = {trip_id: i for i, trip_id in enumerate(sub.trip_ids)}
    found: list[list[int]] = [[] for _ in sub.vehicles]
    for v, events in routes:
        found[v] = [n_depots + 2 * position[trip_id] + (kind == "dropoff") for kind, trip_id in events]
    return values[0], objective, found
