"""Stop times for a route whose order is fixed.

Windows, ride-time caps and the duty limit are all of the form
``B_j - B_i <= w`` on the service-start times ``B``, so a route's schedule is
a system of difference constraints: feasible exactly when its constraint
graph has no negative cycle, and its earliest and latest solutions are
shortest-path distances. We pick the schedule a planner wants: the shortest
duty (which is what costs money), and within it every stop as early as possible.

This module serves the plan builder. The independent checker deliberately
has its own implementation (``checker.py``) so that a mistake here cannot
hide a mistake there.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from optimiser.domain.model import TIME_TOLERANCE_S, Problem, Trip, VehicleType

INFINITY = float("inf")


@dataclass(frozen=True)
class RouteStop:
    """A stop of a route before times are known: a depot end or one end of a trip."""

    kind: str  # "start", "pickup", "dropoff", "end"
    location: str
    trip: Trip | None = None


def route_stops(vehicle_type: VehicleType, trips_in_order: Sequence[tuple[str, Trip]]) -> list[RouteStop]:
    """``[("pickup", trip), ("dropoff", trip), ...]`` framed by the depot at both ends."""
    stops = [RouteStop("start", vehicle_type.depot)]
    for kind, trip in trips_in_order:
        stops.append(RouteStop(kind, trip.pickup if kind == "pickup" else trip.dropoff, trip))
    stops.append(RouteStop("end", vehicle_type.depot))
    return stops


def service_time_s(stop: RouteStop) -> float:
    if stop.trip is None:
        return 0.0
    return stop.trip.pickup_service_s if stop.kind == "pickup" else stop.trip.dropoff_service_s


def _constraints(problem: Problem, vehicle_type: VehicleType, stops: Sequence[RouteStop], duty: int):
    """Edges (i, j, w) meaning B_j - B_i <= w; node len(stops) is the time origin."""
    window = vehicle_type.duty_windows[duty]
    origin = len(stops)
    edges: list[tuple[int, int, float]] = []
    pickup_at: dict[str, int] = {}
    for k, stop in enumerate(stops):
        if stop.kind in ("start", "end"):
            lo, hi = window
        elif stop.kind == "pickup":
            lo, hi = stop.trip.earliest_pickup_s, stop.trip.latest_pickup_s
            pickup_at[stop.trip.id] = k
        else:
            lo, hi = stop.trip.earliest_arrival_s, stop.trip.latest_arrival_s
            cap = problem.ride_cap_s(stop.trip)
            p = pickup_at.get(stop.trip.id)
            if cap is not None and p is not None:
                edges.append((p, k, cap + stops[p].trip.pickup_service_s))
        edges.append((origin, k, hi))
        edges.append((k, origin, -lo))
        if k + 1 < len(stops):
            travel = problem.matrix.travel_s(stop.location, stops[k + 1].location)
            edges.append((k + 1, k, -(service_time_s(stop) + travel)))
    edges.append((0, len(stops) - 1, vehicle_type.duty_limit_within(window)))
    return origin + 1, edges


def _shortest(n: int, edges, source: int, reverse: bool = False) -> list[float] | None:
    dist = [INFINITY] * n
    dist[source] = 0.0
    for _ in range(n):
        changed = False
        for i, j, w in edges:
            if reverse:
                i, j = j, i
            if dist[i] + w < dist[j] - TIME_TOLERANCE_S:
                dist[j] = dist[i] + w
                changed = True
        if not changed:
            return dist
    return None  # a negative cycle: no schedule exists


def schedule_route(problem: Problem, vehicle_type: VehicleType, stops: Sequence[RouteStop],
                   duty: int = 0) -> list[float] | None:
    """Service-start times of the shortest-duty, earliest schedule within the vehicle's duty
    number ``duty``; None when none exists."""
    n, edges = _constraints(problem, vehicle_type, stops, duty)
    origin, first, last = n - 1, 0, len(stops) - 1
    if _shortest(n, edges, origin) is None:
        return None
    # The least duty is minus the longest the start can trail the end: -dist(last -> first).
    from_last = _shortest(n, edges, last)
    edges.append((first, last, -from_last[first]))
    to_origin = _shortest(n, edges, origin, reverse=True)
    if to_origin is None:
        return None
    return [-to_origin[k] for k in range(len(stops))]
