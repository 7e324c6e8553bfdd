"""Improving a large day part by part: free a few routes near each other, with the trips left to
contracts around them, and re-solve that part alone with OR-Tools, starting from its current routes.

On a county-sized day OR-Tools' local search over the whole model barely moves: the model has
thousands of nodes and hundreds of vehicles, and one pass of its neighbourhoods outlasts a
short time limit (docs/lab/: nothing found in the 5 s left after construction on 2,000
trips). A part of six routes and their neighbours is a model OR-Tools searches well in a couple
of seconds. The part's objective is exactly its share of the whole day's (the routes' costs, the
vehicles' day rates and the penalties or contract prices of its trips), so a cheaper part is a
cheaper day.

Works on the search model (``SearchModel``) through plain lists; the OR-Tools search
of a part is passed in (``solve_part``) so this module stays independent of how it is run.
"""
from __future__ import annotations

import logging
import random
from dataclasses import replace
from typing import Callable

import numpy as np

_log = logging.getLogger(__name__)

#: Routes freed together, and trips left to contracts offered to them.
ROUTES_PER_PART = 6
DROPPED_PER_PART = 12
SECONDS_PER_PART = 2.0


def _route_anchor(m, route: list[int]) -> tuple[int, float]:
    """Where and when a route is, roughly: the location and window middle of its middle stop."""
    node = route[len(route) // 2]
    lo, hi = m.node_window[node]
    return m.node_location[node], (lo + hi) / 2.0


def _nearness(m, a: tuple[int, float], b: tuple[int, float]) -> float:
    """Travel time between two places plus how far apart in the day they are (both in time units)."""
    seconds = float(m.travel_s[a[0], b[0]])
    return seconds * 100.0 + abs(a[1] - b[1])  # solver.TIME_UNITS_PER_SECOND


def _groups(m) -> dict[tuple[int, int], list[int]]:
    out: dict[tuple[int, int], list[int]] = {}
    for v, (ti, _, duty, _) in enumerate(m.vehicles):
        out.setdefault((ti, duty), []).append(v)
    return out


def choose_part(m, routes: list[list[int]], rng: random.Random, busy_vehicles=frozenset(),
                busy_trips=frozenset()) -> tuple[list[int], list[int]]:
    """(vehicles whose routes are freed, trips currently left out to offer them), avoiding the
    vehicles and trips of parts still being searched."""
    n_depots = m.n_depots
    active = [v for v, r in enumerate(routes) if r and v not in busy_vehicles]
    if not active:
        return [], []
    anchors = {v: _route_anchor(m, routes[v]) for v in active}
    seed = rng.choice(active)
    nearest = sorted(active, key=lambda v: _nearness(m, anchors[seed], anchors[v]))[:ROUTES_PER_PART]
    served = {(node - n_depots) // 2 for r in routes for node in r}
    left_out = [k for k in range(len(m.trip_ids)) if k not in served and k not in busy_trips]
    if left_out:
        def trip_anchor(k):
            p = n_depots + 2 * k
            lo, hi = m.node_window[p]
            return m.node_location[p], (lo + hi) / 2.0
        left_out.sort(key=lambda k: _nearness(m, anchors[seed], trip_anchor(k)))
    return nearest, left_out[:DROPPED_PER_PART]


def part_model(m, routes: list[list[int]], freed: list[int], offered: list[int], busy_vehicles=frozenset()):
    """The sub-model of a part, the full vehicle index of each of its vehicles, the full trip
    position of each of its trips, and its starting routes (in its own numbering). Vehicles in
    ``busy_vehicles`` (those of parts still being searched) count as in use."""
    n_depots = m.n_depots
    trips = sorted({(node - n_depots) // 2 for v in freed for node in routes[v]} | set(offered))
    active = {v for v, r in enumerate(routes) if r} | set(busy_vehicles)
    # vehicles: the freed routes' own, the other layouts of those vehicles if idle, and one idle
    # vehicle per group (type, duty) if the group has one to spare
    by_key = {}
    for v, (ti, number, duty, li) in enumerate(m.vehicles):
        by_key.setdefault((ti, number, duty), []).append(v)
    vehicles: list[int] = []
    budgets: dict[tuple[int, int], int] = {}
    for v in freed:
        ti, number, duty, _ = m.vehicles[v]
        budgets[(ti, duty)] = budgets.get((ti, duty), 0) + 1
        for other in by_key[(ti, number, duty)]:
            if (other == v or other not in active) and other not in vehicles:
                vehicles.append(other)
    groups = _groups(m)
    count_of = {}
    for (ti, number, duty, _) in m.vehicles:
        count_of[ti] = max(count_of.get(ti, 0), number + 1)
    for (ti, duty) in list(budgets):
        # the group's routes, plus a route for every vehicle a part still being searched holds
        # idle (it may use it): one more must still fit in the count
        routes_in_group = sum(1 for v in groups[(ti, duty)] if routes[v])
        held = len({m.vehicles[v][1] for v in groups[(ti, duty)] if v in busy_vehicles and not routes[v]})
        if routes_in_group + held < count_of[ti]:
            spare = next((key for key, vs in by_key.items() if key[0] == ti and key[2] == duty
                          and not any(x in active for x in vs)), None)
            if spare is not None:
                vehicles.extend(x for x in by_key[spare] if x not in vehicles)
                budgets[(ti, duty)] += 1
    vehicles.sort()
    new_vehicle = {v: i for i, v in enumerate(vehicles)}
    node_location = list(m.node_location[:n_depots])
    node_service = list(m.node_service_s[:n_depots])
    node_window = list(m.node_window[:n_depots])
    for k in trips:
        for node in (n_depots + 2 * k, n_depots + 2 * k + 1):
            node_location.append(m.node_location[node])
            node_service.append(m.node_service_s[node])
            node_window.append(m.node_window[node])
    demand = {r: list(d[:n_depots]) + [x for k in trips for x in (d[n_depots + 2 * k], d[n_depots + 2 * k + 1])]
              for r, d in m.demand.items()}
    allowed = {}
    for i, k in enumerate(trips):
        if k in m.allowed_vehicles:
            ok = [new_vehicle[v] for v in m.allowed_vehicles[k] if v in new_vehicle]
            if len(ok) < len(vehicles):
                allowed[i] = ok
    type_counts = []
    for group, budget in budgets.items():
        members = [new_vehicle[v] for v in groups[group] if v in new_vehicle]
        if len(members) > budget:
            type_counts.append((members, budget))
    # groups of which at most one may run (a held vehicle's layouts; a multi-layout type of one
    # vehicle, which its budget above already bounds) hold in the part too
    for members, most in m.type_counts:
        if most == 1:
            members = [new_vehicle[v] for v in members if v in new_vehicle]
            if len(members) > 1:
                type_counts.append((members, 1))
    # only the part's own places travel with it (to a worker process, say): a county's matrix is
    # tens of megabytes, a part's a few kilobytes
    places = sorted(set(node_location))
    compact = {place: i for i, place in enumerate(places)}
    node_location = [compact[place] for place in node_location]
    sub = replace(
        m, trip_ids=[m.trip_ids[k] for k in trips], vehicles=[m.vehicles[v] for v in vehicles],
        starts=[m.starts[v] for v in vehicles], node_location=node_location, node_service_s=node_service,
        node_window=node_window, travel_s=m.travel_s[np.ix_(places, places)],
        metres=m.metres[np.ix_(places, places)],
        cost_per_km_by_vehicle=[m.cost_per_km_by_vehicle[v] for v in vehicles],
        fixed_cost_units=[m.fixed_cost_units[v] for v in vehicles],
        span_cost_per_unit=[m.span_cost_per_unit[v] for v in vehicles],
        shift_units=[m.shift_units[v] for v in vehicles], duty_units=[m.duty_units[v] for v in vehicles],
        capacities={r: [c[v] for v in vehicles] for r, c in m.capacities.items()}, demand=demand,
        allowed_vehicles=allowed, ride_limit_units=[m.ride_limit_units[k] for k in trips],
        drop_penalty_units=[m.drop_penalty_units[k] for k in trips], solo=[m.solo[k] for k in trips],
        type_counts=type_counts,
        held_excess_units={i: m.held_excess_units[k] for i, k in enumerate(trips) if k in m.held_excess_units},
        unpriced_units={i: m.unpriced_units[k] for i, k in enumerate(trips) if k in m.unpriced_units})
    new_trip = {k: i for i, k in enumerate(trips)}
    start_routes = [[] for _ in vehicles]
    for v in freed:
        start_routes[new_vehicle[v]] = [n_depots + 2 * new_trip[(node - n_depots) // 2] + (node - n_depots) % 2
                                        for node in routes[v]]
    return sub, vehicles, trips, start_routes


def improve_by_parts(m, routes: list[list[int]], solve_part: Callable, stop: Callable[[], bool],
                     on_better: Callable[[int], None], seed: int = 0, executor=None,
                     in_flight: int = 1) -> list[list[int]]:
    """Re-solve parts until ``stop()``; ``solve_part(sub_model, start_routes, seconds)`` returns
    (objective of the start routes, best objective, best routes in the part's numbering) or None.
    ``on_better(saving)`` is told each saving (objective units) as it is accepted.

    With ``executor`` (a ``concurrent.futures`` executor: processes on this machine, or a Dask
    client's ``get_executor()``), ``in_flight`` parts are searched at once. Parts in flight never
    share a vehicle or a trip, so each result applies as it stands."""
    from concurrent.futures import FIRST_COMPLETED, wait

    rng = random.Random(seed)
    routes = [list(r) for r in routes]
    n_depots = m.n_depots
    pending = {}  # future -> (vehicles, trips)

    def apply(vehicles, trips, result):
        if result is None:
            return
        before, after, found = result
        if before is None or after >= before:
            return
        for v in vehicles:
            routes[v] = []
        for i, nodes in enumerate(found):
            routes[vehicles[i]] = [n_depots + 2 * trips[(x - n_depots) // 2] + (x - n_depots) % 2 for x in nodes]
        on_better(before - after)

    def here():
        while not stop():
            freed, offered = choose_part(m, routes, rng)
            if not freed:
                break
            sub, vehicles, trips, start = part_model(m, routes, freed, offered)
            apply(vehicles, trips, solve_part(sub, start, SECONDS_PER_PART))
        return routes

    if executor is None:
        return here()
    broken = False
    while True:
        while not broken and not stop() and len(pending) < in_flight:
            busy_vehicles = {v for vs, _ in pending.values() for v in vs}
            busy_trips = {k for _, ks in pending.values() for k in ks}
            freed, offered = choose_part(m, routes, rng, busy_vehicles, busy_trips)
            if not freed:
                break
            sub, vehicles, trips, start = part_model(m, routes, freed, offered, busy_vehicles)
            try:
                pending[executor.submit(solve_part, sub, start, SECONDS_PER_PART)] = (vehicles, trips)
            except Exception as exc:  # e.g. a pool whose worker was killed: carry on here
                _log.warning("part workers unavailable (%r); searching parts in this process", exc)
                broken = True
        if not pending:
            return here() if broken else routes
        done, _ = wait(list(pending), timeout=0.5, return_when=FIRST_COMPLETED)
        for future in done:
            vehicles, trips = pending.pop(future)
            try:
                result = future.result()
            except Exception as exc:  # a part that fails in a worker is a part not improved
                _log.warning("a part failed in its worker: %r", exc)
                result = None
            apply(vehicles, trips, result)
        if stop():
            for future in pending:  # the deadline has come: what is still running is left
                future.cancel()
            break
    return routes
