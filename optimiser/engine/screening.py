"""Screening: the trips no vehicle of the fleet could ever serve, and why, in a planner's words.

A screened trip never enters the search: it goes to its contract (or is unserved) with the
reason. The same tests tell a day split into parts which duties could carry a trip at all.
"""
from __future__ import annotations

from optimiser.domain.model import Problem, Trip, VehicleType, format_clock


def screen_trip(problem: Problem, trip: Trip) -> str | None:
    """Why no vehicle of the fleet could ever serve this trip, or None if one might."""
    reason = problem.why_fleet_cannot_carry(trip) or why_assigned_vehicle_cannot_serve(problem, trip)
    if reason:
        return reason
    direct_s = problem.direct_s(trip)
    reasons = []
    for vt in problem.vehicle_types:
        if vt.count == 0 or not problem.can_carry(vt, trip):
            continue
        why = [why_duty_cannot_serve(problem, vt, window, trip, direct_s) for window in vt.duty_windows]
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


def assigned_vehicle_name(problem: Problem, trip: Trip) -> str | None:
    """The vehicle ``trip`` must ride (``Problem.assigned_vehicles``) as people count it, or None."""
    assigned = problem.assigned_vehicle(trip.id)
    return None if assigned is None else f"{assigned[0]} {assigned[1] + 1}"


def why_assigned_vehicle_cannot_serve(problem: Problem, trip: Trip) -> str | None:
    """Why the vehicle ``trip`` is assigned to could never serve it, whatever else it carries, or
    None if it might (or the trip is not assigned). Its type may carry the trip (problems are
    refused otherwise); its duties may still start too late or end too early."""
    assigned = problem.assigned_vehicle(trip.id)
    if assigned is None:
        return None
    vt = next(v for v in problem.vehicle_types if v.name == assigned[0])
    direct_s = problem.direct_s(trip)
    why = [why_duty_cannot_serve(problem, vt, window, trip, direct_s) for window in vt.duty_windows]
    if None in why:
        return None
    return f"it must ride {assigned_vehicle_name(problem, trip)}, which cannot serve it: {why[0]}"


def why_duty_cannot_serve(problem: Problem, vt: VehicleType, window: tuple[float, float], trip: Trip,
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


def why_dropped(problem: Problem, trip: Trip) -> str:
    """Why a trip the search could have placed was left out and no contract takes it."""
    vehicle = assigned_vehicle_name(problem, trip)
    if vehicle:
        return (f"no room on {vehicle}, the vehicle it must ride, around its other trips between "
                f"{format_clock(trip.earliest_pickup_s)} and {format_clock(trip.latest_arrival_s)} within its "
                "ride-time cap, and no contract tariff applies")
    able = [vt for vt in problem.vehicle_types if problem.can_carry(vt, trip) and vt.count]
    count = sum(vt.count for vt in able)
    return (f"no room around the other trips: none of the {count} vehicles able to carry it "
            f"({', '.join(vt.name for vt in able)}) could fit it in between {format_clock(trip.earliest_pickup_s)} "
            f"and {format_clock(trip.latest_arrival_s)} within its ride-time cap, and no contract tariff applies")
