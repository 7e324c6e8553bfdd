"""The plan: what the solver returns and every report reads.

A plan is built from route orders alone (``build_plan``): times come from
``schedule.py``, costs and figures from the problem's rates, so the same
code prices a plan whether the routes came from OR-Tools, from a benchmark
solution file or from a person.
"""
from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field, replace
from typing import Mapping, Sequence

from optimiser.errors import ProblemError
from optimiser.domain.model import DAY_END_S, RESOURCES, Layout, Problem, Trip, VehicleType, format_clock
from optimiser.domain.schedule import route_stops, schedule_route, service_time_s

#: Ride-time thresholds reported per service (minutes): the DfE 45/75-minute norms and NEPT's 60.
RIDE_THRESHOLDS_MIN = (45, 60, 75)


@dataclass(frozen=True)
class Stop:
    kind: str  # start, pickup, dropoff, end
    location: str
    trip_id: str | None
    service: str | None
    arrival_s: float
    service_start_s: float
    departure_s: float
    #: On board after this stop, per resource.
    load: Mapping[str, int]

    @property
    def wait_s(self) -> float:
        return self.service_start_s - self.arrival_s


@dataclass(frozen=True)
class Route:
    vehicle_type: str
    vehicle_number: int
    layout: str
    stops: tuple[Stop, ...]
    km: float
    duty_s: float
    cost_fixed: float
    cost_distance: float
    cost_time: float
    cost_assistant: float
    co2_kg: float
    #: Which of the vehicle type's duties (split shifts) this route is driven in.
    duty: int = 0

    @property
    def trip_ids(self) -> tuple[str, ...]:
        return tuple(s.trip_id for s in self.stops if s.kind == "pickup")

    @property
    def cost(self) -> float:
        return self.cost_fixed + self.cost_distance + self.cost_time + self.cost_assistant


@dataclass(frozen=True)
class ContractedTrip:
    trip_id: str
    service: str
    tariff: str
    price: float
    reason: str


@dataclass(frozen=True)
class UnservedTrip:
    trip_id: str
    service: str
    reason: str


@dataclass(frozen=True)
class CostBreakdown:
    vehicles_fixed: float = 0.0
    distance: float = 0.0
    driver_time: float = 0.0
    assistants: float = 0.0
    contracts: float = 0.0

    @property
    def total(self) -> float:
        return self.vehicles_fixed + self.distance + self.driver_time + self.assistants + self.contracts

    def to_dict(self) -> dict:
        return {**asdict(self), "total": self.total}


@dataclass(frozen=True)
class ServiceFigures:
    """Key figures for one service. Shared routes are split between the services on board
    in proportion to the direct km of their trips on that route (passenger-km share)."""

    service: str
    trips: int
    served_by_fleet: int
    contracted: int
    unserved: int
    vehicles: int
    km: float
    hours: float
    co2_kg: float
    cost: CostBreakdown
    ride_minutes_mean: float | None
    ride_minutes_max: float | None
    share_over_minutes: Mapping[int, float]
    wait_at_destination_minutes_mean: float | None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["cost"] = self.cost.to_dict()
        d["share_over_minutes"] = {str(k): v for k, v in self.share_over_minutes.items()}
        return d


@dataclass(frozen=True)
class SolveRecord:
    """What produced a plan: the search's settings, what it did and how its best cost fell.

    ``plan.json`` holds it as the ``solver`` object (``as_dict``); keys whose value is None are
    left out there."""

    engine: str = "ortools"
    time_limit_s: float = 0.0
    seed: int = 0
    workers: int = 1
    #: Wall seconds from the start of the solve to the checked plan.
    seconds: float = 0.0
    #: The search's own objective in pounds (contract prices and penalties of dropped trips
    #: included), as it ranks its plans: ruin and recreate's pays each vehicle's day rate once
    #: (OR-Tools' charges each duty its share).
    objective: float = 0.0
    #: (elapsed seconds, best cost in pounds) each time the best cost fell. A list, not a tuple: a
    #: day solved in parts appends to it as the phases after a part's plan improve the whole.
    best_cost_over_time: list = field(default_factory=list)
    cancelled: bool = False
    #: False when the time limit ran out while first routes were still being built.
    construction_complete: bool = True
    #: Seconds from the start to the first plan whose every trip the search itself had placed in a
    #: route or sent to its contract (on a day planned in parts: every part planned once, not
    #: stood in for by its contract prices). None when no search ran.
    first_plan_s: float | None = None
    first_solution: str | None = None
    #: "ruin_and_recreate", "parts" or "ortools_local_search".
    improvement: str | None = None
    #: What ruin and recreate did (rounds, accepted rounds, ...), when it ran.
    ruin_and_recreate: Mapping | None = None
    #: How a day planned in parts was split and how each part went, when it was.
    regions: Mapping | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class Plan:
    problem_name: str
    routes: tuple[Route, ...]
    contracted: tuple[ContractedTrip, ...]
    unserved: tuple[UnservedTrip, ...]
    cost: CostBreakdown
    by_service: Mapping[str, ServiceFigures]
    #: What produced it: the search's settings, seconds, objective, best cost over time, ...
    solver: SolveRecord = field(default_factory=SolveRecord)

    @property
    def vehicles_used(self) -> int:
        """Vehicles, not routes: a vehicle on split shifts drives one route per duty."""
        return len({(r.vehicle_type, r.vehicle_number) for r in self.routes})

    @property
    def vehicles_by_type(self) -> dict[str, int]:
        """``vehicles_used`` by vehicle type."""
        counts: dict[str, int] = {}
        for name, _ in {(r.vehicle_type, r.vehicle_number) for r in self.routes}:
            counts[name] = counts.get(name, 0) + 1
        return counts

    @property
    def km(self) -> float:
        return sum(r.km for r in self.routes)

    @property
    def co2_kg(self) -> float:
        return sum(r.co2_kg for r in self.routes)

    @property
    def served_trip_ids(self) -> set[str]:
        return {t for r in self.routes for t in r.trip_ids}

    def to_dict(self) -> dict:
        return {
            "problem": self.problem_name,
            "cost": self.cost.to_dict(),
            "vehicles_used": self.vehicles_used,
            "km": self.km,
            "co2_kg": self.co2_kg,
            "by_service": {s: f.to_dict() for s, f in self.by_service.items()},
            "routes": [
                {"vehicle_type": r.vehicle_type, "vehicle_number": r.vehicle_number, "duty": r.duty, "layout": r.layout,
                 "km": r.km, "duty_hours": r.duty_s / 3600, "cost": r.cost, "co2_kg": r.co2_kg,
                 "stops": [{"kind": s.kind, "location": s.location, "trip_id": s.trip_id, "service": s.service,
                            "arrival": format_clock(s.arrival_s), "service_start": format_clock(s.service_start_s),
                            "departure": format_clock(s.departure_s), "arrival_s": s.arrival_s,
                            "service_start_s": s.service_start_s, "departure_s": s.departure_s,
                            "load": dict(s.load)} for s in r.stops]}
                for r in self.routes],
            "contracted": [asdict(c) for c in self.contracted],
            "unserved": [asdict(u) for u in self.unserved],
            "solver": self.solver.as_dict(),
        }

    def summary(self) -> str:
        lines = [f"{self.problem_name}: £{self.cost.total:,.2f} a day, {self.vehicles_used} vehicles, "
                 f"{self.km:,.1f} km, {self.co2_kg:,.1f} kg CO2; {len(self.contracted)} trips contracted, "
                 f"{len(self.unserved)} unserved"]
        for name, f in self.by_service.items():
            ride = "" if f.ride_minutes_mean is None else (
                f", ride {f.ride_minutes_mean:.0f} min mean / {f.ride_minutes_max:.0f} max")
            lines.append(f"  {name:12s} {f.trips:4d} trips  £{f.cost.total:10,.2f}  {f.vehicles} vehicles  "
                         f"{f.km:8,.1f} km{ride}")
        for u in self.unserved:
            lines.append(f"  unserved {u.trip_id}: {u.reason}")
        regions = self.solver.regions
        if regions:
            if regions.get("split") == "duty":
                line = (f"  planned as {regions['count']} parts of the day side by side: the duties before and "
                        f"after {regions['cut']}")
            else:
                line = f"  planned as {regions['count']} regions side by side"
            seam = regions.get("seam")
            if seam and seam.get("kept"):
                line += (f"; searching the seams between them again ({seam['trips']} trips) "
                         f"saved £{seam['saving']:,.2f}")
            elif seam and "failure" in seam:
                line += f"; the seams between them could not be searched again: {seam['failure']}"
            elif seam:
                line += f"; searching the seams between them again ({seam['trips']} trips) found nothing cheaper"
            second = regions.get("second_phase")
            if second and "after" in second:
                outcome = (f"saved £{second['before'] - second['after']:,.2f}" if second.get("kept")
                           else "found nothing cheaper")
                line += ("; searching each side again, a vehicle paying one day rate whichever duties it "
                         f"drives, {outcome}")
            lines.append(line)
        if not self.solver.construction_complete:
            lines.append("  warning: the time limit ran out while routes were still being built, so trips not "
                         "reached yet went to contracts untried; allow more time for a fair plan")
        return "\n".join(lines)


@dataclass(frozen=True)
class RouteOrder:
    """A route before it is timed and priced: which vehicle, which layout, which stops in order."""

    vehicle_type: VehicleType
    vehicle_number: int
    layout: Layout
    events: tuple[tuple[str, Trip], ...]  # ("pickup" | "dropoff", trip)
    duty: int = 0  # which of the vehicle type's duty windows


def route_order(problem: Problem, route: Route, vehicle_number: int | None = None) -> RouteOrder:
    """A planned route back as an order (to re-time it, move it into another plan, or start a
    search from it), on vehicle ``vehicle_number`` if given."""
    vt = next(x for x in problem.vehicle_types if x.name == route.vehicle_type)
    layout = next(x for x in vt.layouts if x.name == route.layout)
    events = tuple((stop.kind, problem.trip(stop.trip_id)) for stop in route.stops
                   if stop.kind in ("pickup", "dropoff"))
    number = route.vehicle_number if vehicle_number is None else vehicle_number
    return RouteOrder(vt, number, layout, events, route.duty)


def time_route(problem: Problem, order: RouteOrder) -> Route:
    """Times, loads, costs and CO2 of one route; raises ProblemError if no schedule exists."""
    vt = order.vehicle_type
    stops = route_stops(vt, order.events)
    if not 0 <= order.duty < len(vt.duty_windows):
        raise ProblemError(f"{vt.name} has {len(vt.duty_windows)} duties; there is no duty {order.duty + 1}",
                           where=f"route of {vt.name} #{order.vehicle_number}")
    times = schedule_route(problem, vt, stops, order.duty)
    if times is None:
        raise ProblemError("no schedule meets every window, ride-time cap and the duty limit for this stop order",
                           where=f"route of {vt.name} #{order.vehicle_number}")
    load = dict.fromkeys(RESOURCES, 0)
    timed: list[Stop] = []
    metres = 0.0
    for k, stop in enumerate(stops):
        if k == 0:
            arrival = times[0]
        else:
            prev = stops[k - 1]
            arrival = times[k - 1] + service_time_s(prev) + problem.matrix.travel_s(prev.location, stop.location)
            metres += problem.matrix.distance_m(prev.location, stop.location)
        if stop.trip is not None:
            sign = 1 if stop.kind == "pickup" else -1
            for r, q in stop.trip.demand.items():
                load[r] += sign * q
        timed.append(Stop(stop.kind, stop.location, stop.trip.id if stop.trip else None,
                          stop.trip.service if stop.trip else None, arrival, times[k],
                          times[k] + service_time_s(stop), dict(load)))
    km = metres / 1000.0
    duty_s = times[-1] - times[0]
    hours = duty_s / 3600.0
    return Route(vt.name, order.vehicle_number, order.layout.name, tuple(timed), km, duty_s,
                 cost_fixed=vt.cost_per_day, cost_distance=vt.cost_per_km * km, cost_time=vt.cost_per_hour * hours,
                 cost_assistant=(vt.assistant_cost_per_hour * hours) if vt.passenger_assistant else 0.0,
                 co2_kg=vt.co2_kg_per_km * km, duty=order.duty)


def build_plan(problem: Problem, orders: Sequence[RouteOrder], contracted: Sequence[ContractedTrip],
               unserved: Sequence[UnservedTrip], solver: SolveRecord | None = None) -> Plan:
    orders = sorted((o for o in orders if o.events), key=lambda o: (o.vehicle_type.name, o.vehicle_number, o.duty))
    routes, seen = [], set()
    for o in orders:
        route = time_route(problem, o)
        vehicle = (o.vehicle_type.name, o.vehicle_number)
        if vehicle in seen:  # the day rate is paid once however many duties the vehicle drives
            route = replace(route, cost_fixed=0.0)
        seen.add(vehicle)
        routes.append(route)
    routes = tuple(routes)
    contracted, unserved = tuple(contracted), tuple(unserved)
    cost = CostBreakdown(
        vehicles_fixed=sum(r.cost_fixed for r in routes), distance=sum(r.cost_distance for r in routes),
        driver_time=sum(r.cost_time for r in routes), assistants=sum(r.cost_assistant for r in routes),
        contracts=sum(c.price for c in contracted))
    return Plan(problem.name, routes, contracted, unserved, cost,
                service_figures(problem, routes, contracted, unserved), solver or SolveRecord())


def service_figures(problem: Problem, routes: Sequence[Route], contracted: Sequence[ContractedTrip],
                    unserved: Sequence[UnservedTrip]) -> dict[str, ServiceFigures]:
    acc = {s: {"served": 0, "vehicles": set(), "km": 0.0, "hours": 0.0, "co2": 0.0, "fixed": 0.0, "distance": 0.0,
               "time": 0.0, "assistant": 0.0, "rides": [], "waits": []} for s in problem.services}
    for route in routes:
        weights: dict[str, float] = {}
        pickup_end: dict[str, float] = {}
        for stop in route.stops:
            if stop.kind == "pickup":
                trip = problem.trip(stop.trip_id)
                # a zero-length trip still shares the route: give it a tiny weight
                weights[trip.service] = weights.get(trip.service, 0.0) + max(problem.direct_km(trip), 1e-6)
                pickup_end[stop.trip_id] = stop.departure_s
                acc[trip.service]["served"] += 1
            elif stop.kind == "dropoff":
                trip = problem.trip(stop.trip_id)
                acc[trip.service]["rides"].append((stop.service_start_s - pickup_end[stop.trip_id]) / 60.0)
                if trip.latest_arrival_s < DAY_END_S:  # time to spare before the bell or appointment
                    acc[trip.service]["waits"].append((trip.latest_arrival_s - stop.service_start_s) / 60.0)
        total = sum(weights.values())
        for service, w in weights.items():
            share = w / total
            a = acc[service]
            a["vehicles"].add((route.vehicle_type, route.vehicle_number))
            a["km"] += share * route.km
            a["hours"] += share * route.duty_s / 3600.0
            a["co2"] += share * route.co2_kg
            a["fixed"] += share * route.cost_fixed
            a["distance"] += share * route.cost_distance
            a["time"] += share * route.cost_time
            a["assistant"] += share * route.cost_assistant
    counts = {s: 0 for s in problem.services}
    for t in problem.trips:
        counts[t.service] += 1
    figures = {}
    for service, a in acc.items():
        rides = a["rides"]
        contract_cost = sum(c.price for c in contracted if c.service == service)
        figures[service] = ServiceFigures(
            service=service, trips=counts[service], served_by_fleet=a["served"],
            contracted=sum(1 for c in contracted if c.service == service),
            unserved=sum(1 for u in unserved if u.service == service),
            vehicles=len(a["vehicles"]), km=a["km"], hours=a["hours"], co2_kg=a["co2"],
            cost=CostBreakdown(a["fixed"], a["distance"], a["time"], a["assistant"], contract_cost),
            ride_minutes_mean=statistics.fmean(rides) if rides else None,
            ride_minutes_max=max(rides) if rides else None,
            share_over_minutes={m: (sum(1 for r in rides if r > m + 1e-9) / len(rides)) if rides else 0.0
                                for m in RIDE_THRESHOLDS_MIN},
            wait_at_destination_minutes_mean=statistics.fmean(a["waits"]) if a["waits"] else None,
        )
    return figures
