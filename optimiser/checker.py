"""The independent plan checker.

It decides whether a plan is feasible for a problem using only the problem's
own data and the plan's stop orders and reported figures. It shares no code
with the OR-Tools model nor with the plan builder's scheduler: it recomputes
loads from the trips, and it decides schedule feasibility exactly, for the
stop order given, with its own longest-path propagation over the stop times
(windows, travel, ride-time caps and the duty limit all at once, so a route
whose only feasible schedule starts later than the earliest one still passes,
and one that no schedule can serve fails).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from optimiser.errors import PlanCheckError

#: Floating-point slack when comparing times (seconds) and distances (km).
TOLERANCE_S = 1e-5
TOLERANCE_KM = 1e-6
RESOURCE_NAMES = ("seats", "wheelchair_spaces", "stretchers", "staff_seats")


@dataclass
class CheckReport:
    violations: list[str] = field(default_factory=list)

    @property
    def feasible(self) -> bool:
        return not self.violations

    def add(self, message: str) -> None:
        self.violations.append(message)


def _on_board(trip) -> dict[str, int]:
    return {"seats": trip.seats + trip.escorts, "wheelchair_spaces": trip.wheelchair_spaces,
            "stretchers": trip.stretchers, "staff_seats": trip.staff_seats}


def _ride_cap(problem, trip) -> float | None:
    direct = problem.matrix.travel_s(trip.pickup, trip.dropoff)
    caps = [c for c in (trip.max_ride_s, None if trip.max_ride_factor is None else trip.max_ride_factor * direct)
            if c is not None]
    return min(caps) if caps else None


def _earliest_times(n_vars: int, lower: list[tuple[int, int, float]]) -> list[float] | None:
    """Least x with x[j] >= x[i] + c for every (i, j, c) and x[0] == 0 (variable 0 is the clock's
    origin). None when the constraints contradict each other (a positive cycle)."""
    x = [float("-inf")] * n_vars
    x[0] = 0.0
    for _ in range(n_vars + 1):
        moved = False
        for i, j, c in lower:
            if x[i] != float("-inf") and x[i] + c > x[j] + TOLERANCE_S:
                x[j] = x[i] + c
                moved = True
        if not moved:
            return x if x[0] <= TOLERANCE_S else None
    return None


def check_plan(problem, plan) -> CheckReport:
    report = CheckReport()
    trips = {t.id: t for t in problem.trips}
    types = {vt.name: vt for vt in problem.vehicle_types}

    # -- every trip exactly once: on one route, or contracted, or unserved --------------
    seen = Counter()
    for route in plan.routes:
        for stop in route.stops:
            if stop.kind == "pickup":
                seen[stop.trip_id] += 1
    for c in plan.contracted:
        seen[c.trip_id] += 1
    for u in plan.unserved:
        seen[u.trip_id] += 1
    for trip_id, count in seen.items():
        if trip_id not in trips:
            report.add(f"trip {trip_id} is in the plan but not in the problem")
        elif count > 1:
            report.add(f"trip {trip_id} appears {count} times (routes, contracts, unserved)")
    for trip_id in trips:
        if trip_id not in seen:
            report.add(f"trip {trip_id} is neither served, contracted nor listed unserved")
    for u in plan.unserved:
        if not u.reason:
            report.add(f"unserved trip {u.trip_id} has no reason")

    for c in plan.contracted:
        trip = trips.get(c.trip_id)
        tariff = next((t for t in problem.tariffs if t.name == c.tariff), None)
        if trip is None:
            continue
        if tariff is None:
            report.add(f"trip {c.trip_id} is contracted on unknown tariff {c.tariff!r}")
            continue
        if not ((not tariff.services or trip.service in tariff.services)
                and (not tariff.needs or _need(trip) in tariff.needs)
                and (tariff.provides_assistant or not trip.needs_assistant)):
            report.add(f"trip {c.trip_id}: tariff {c.tariff!r} does not apply to it")
        km = problem.matrix.distance_m(trip.pickup, trip.dropoff) / 1000.0
        price = tariff.flag_fall + tariff.per_km * km
        if abs(price - c.price) > 1e-6 * max(1.0, price):
            report.add(f"trip {c.trip_id}: contract price {c.price:.2f} differs from the tariff's {price:.2f}")

    # -- the fleet: no vehicle used twice, no more vehicles than there are -------------
    # (a vehicle on split shifts drives one route in each of its duties)
    used = Counter((r.vehicle_type, r.vehicle_number, r.duty) for r in plan.routes)
    for (name, number, duty), count in used.items():
        if count > 1:
            report.add(f"vehicle {name} #{number} drives {count} routes in duty {duty + 1}")
    for route in plan.routes:
        vt = types.get(route.vehicle_type)
        if vt is None:
            report.add(f"route uses unknown vehicle type {route.vehicle_type!r}")
            continue
        if not 0 <= route.vehicle_number < vt.count:
            report.add(f"{vt.name} #{route.vehicle_number} does not exist (the fleet has {vt.count})")
        if not 0 <= route.duty < len(_duty_windows(vt)):
            report.add(f"{vt.name} #{route.vehicle_number}: duty {route.duty + 1} does not exist "
                       f"(the type has {len(_duty_windows(vt))})")
            continue
        _check_route(problem, trips, vt, route, report)

    # -- a trip assigned to one vehicle rides no other (it may be contracted) ----------
    must_ride = {trip_id: (name, number) for trip_id, name, number in getattr(problem, "assigned_vehicles", ())}
    for route in plan.routes:
        for stop in route.stops:
            wanted = must_ride.get(stop.trip_id) if stop.kind == "pickup" else None
            if wanted is not None and wanted != (route.vehicle_type, route.vehicle_number):
                report.add(f"trip {stop.trip_id} rides {route.vehicle_type} #{route.vehicle_number}, not its "
                           f"assigned {wanted[0]} #{wanted[1]}")
    return report



def checked_plan(problem, plan, check: bool = True):
    """The plan, once the checker has passed it (``check``); PlanCheckError naming the first
    violations if not. Every solve returns its plan through this."""
    if check:
        report = check_plan(problem, plan)
        if not report.feasible:
            raise PlanCheckError("the solver returned a plan the independent checker rejects: "
                                 + "; ".join(report.violations[:5]))
    return plan


def _duty_windows(vt) -> list[tuple[float, float]]:
    """The windows a route may use: each split-shift duty, or the whole shift."""
    return list(vt.duties) if vt.duties else [(vt.shift_start_s, vt.shift_end_s)]


def _need(trip) -> str:
    return "stretcher" if trip.stretchers else "wheelchair" if trip.wheelchair_spaces else "ambulant"


def _check_route(problem, trips, vt, route, report: CheckReport) -> None:
    name = f"{vt.name} #{route.vehicle_number}"
    layout = next((lay for lay in vt.layouts if lay.name == route.layout), None)
    if layout is None:
        report.add(f"{name}: layout {route.layout!r} is not one of the type's layouts")
        return
    stops = route.stops
    if len(stops) < 2 or stops[0].kind != "start" or stops[-1].kind != "end":
        report.add(f"{name}: a route must start and end at its depot")
        return
    for stop in (stops[0], stops[-1]):
        if stop.location != vt.depot:
            report.add(f"{name}: starts or ends at {stop.location}, not at depot {vt.depot}")

    capacity = {r: getattr(layout, r) for r in RESOURCE_NAMES}
    load = dict.fromkeys(RESOURCE_NAMES, 0)
    position: dict[str, dict[str, int]] = {}
    for k, stop in enumerate(stops[1:-1], start=1):
        trip = trips.get(stop.trip_id)
        if trip is None or stop.kind not in ("pickup", "dropoff"):
            report.add(f"{name}: stop {k} is not a pickup or drop-off of a known trip")
            return
        where = trip.pickup if stop.kind == "pickup" else trip.dropoff
        if stop.location != where:
            report.add(f"{name}: trip {trip.id} {stop.kind} at {stop.location}, expected {where}")
        if stop.kind in position.get(trip.id, {}):
            report.add(f"{name}: trip {trip.id} has two {stop.kind}s")
        position.setdefault(trip.id, {})[stop.kind] = k
        if stop.kind == "pickup":
            if vt.services and trip.service not in vt.services:
                report.add(f"{name}: may not carry service {trip.service!r} (trip {trip.id})")
            if trip.needs_assistant and not vt.passenger_assistant:
                report.add(f"{name}: trip {trip.id} needs a passenger assistant and none rides along")
            if trip.travels_alone:
                if any(load.values()):
                    report.add(f"{name}: trip {trip.id} travels alone but others are on board at its pickup")
                nxt = stops[k + 1]
                if nxt.kind != "dropoff" or nxt.trip_id != trip.id:
                    report.add(f"{name}: trip {trip.id} travels alone but the vehicle stops elsewhere before "
                               "its drop-off")
        sign = 1 if stop.kind == "pickup" else -1
        for r, q in _on_board(trip).items():
            load[r] += sign * q
        for r in RESOURCE_NAMES:
            if load[r] > capacity[r]:
                report.add(f"{name}: {load[r]} {r} on board after stop {k} (trip {trip.id}), layout "
                           f"{layout.name!r} has {capacity[r]}")
        if dict(stop.load) != load and stop.load:
            report.add(f"{name}: reported load after stop {k} {dict(stop.load)} differs from {load}")
    for trip_id, kinds in position.items():
        if set(kinds) != {"pickup", "dropoff"}:
            report.add(f"{name}: trip {trip_id} is picked up or dropped off but not both on this route")
        elif kinds["pickup"] > kinds["dropoff"]:
            report.add(f"{name}: trip {trip_id} is dropped off before it is picked up")
    if any(set(k) != {"pickup", "dropoff"} or k["pickup"] > k["dropoff"] for k in position.values()):
        return
    _check_schedule(problem, trips, vt, route, position, name, report)


def _check_schedule(problem, trips, vt, route, position, name, report: CheckReport) -> None:
    stops = route.stops
    shift = _duty_windows(vt)[route.duty]
    matrix = problem.matrix

    def service(stop):
        if stop.kind == "pickup":
            return trips[stop.trip_id].pickup_service_s
        if stop.kind == "dropoff":
            return trips[stop.trip_id].dropoff_service_s
        return 0.0

    def window(stop):
        if stop.kind in ("start", "end"):
            return shift
        trip = trips[stop.trip_id]
        if stop.kind == "pickup":
            return trip.earliest_pickup_s, trip.latest_pickup_s
        return trip.earliest_arrival_s, trip.latest_arrival_s

    # variable 0 is the origin of the clock; stop k is variable k + 1
    lower: list[tuple[int, int, float]] = []
    km = 0.0
    for k, stop in enumerate(stops):
        lo, hi = window(stop)
        lower.append((0, k + 1, lo))
        lower.append((k + 1, 0, -hi))
        if k:
            prev = stops[k - 1]
            lower.append((k, k + 1, service(prev) + matrix.travel_s(prev.location, stop.location)))
            km += matrix.distance_m(prev.location, stop.location) / 1000.0
    duty_limit = shift[1] - shift[0]
    if vt.max_duty_s is not None:
        duty_limit = min(duty_limit, vt.max_duty_s)
    last = len(stops)
    lower.append((last, 1, -duty_limit))
    rides = []
    for trip_id, kinds in position.items():
        trip = trips[trip_id]
        cap = _ride_cap(problem, trip)
        if cap is not None:
            p, d = kinds["pickup"] + 1, kinds["dropoff"] + 1
            lower.append((d, p, -(cap + trip.pickup_service_s)))
            rides.append((trip, kinds["pickup"], kinds["dropoff"], cap))
    if _earliest_times(len(stops) + 1, lower) is None:
        report.add(f"{name}: no schedule for this stop order meets every window, ride-time cap and the duty "
                   "limit")
        return
    if abs(km - route.km) > TOLERANCE_KM * max(1.0, km):
        report.add(f"{name}: reported {route.km:.3f} km, the stops add up to {km:.3f} km")

    # The reported times must themselves be one such schedule.
    times = [s.service_start_s for s in stops]
    for k, stop in enumerate(stops):
        lo, hi = window(stop)
        if not lo - TOLERANCE_S <= times[k] <= hi + TOLERANCE_S:
            report.add(f"{name}: stop {k} ({stop.kind} {stop.trip_id or ''}) starts at {times[k]:.1f} s, outside "
                       f"its window [{lo:.1f}, {hi:.1f}]")
        if k:
            prev = stops[k - 1]
            ready = times[k - 1] + service(prev) + matrix.travel_s(prev.location, stop.location)
            if times[k] < ready - TOLERANCE_S:
                report.add(f"{name}: stop {k} starts at {times[k]:.1f} s, before the vehicle can get there "
                           f"({ready:.1f} s)")
    if times[-1] - times[0] > duty_limit + TOLERANCE_S:
        report.add(f"{name}: duty {(times[-1] - times[0]) / 3600:.2f} h exceeds {duty_limit / 3600:.2f} h")
    for trip, p, d, cap in rides:
        ride = times[d] - (times[p] + trip.pickup_service_s)
        if ride > cap + TOLERANCE_S:
            report.add(f"{name}: trip {trip.id} rides {ride / 60:.2f} min, over its cap of {cap / 60:.2f} min")
