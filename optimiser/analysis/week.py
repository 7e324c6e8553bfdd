"""Planning a week so that regular passengers keep their vehicle and their pickup time.

    week = Week.of(days, problems, passenger_of)      # or geodata.week.load_week(...).week
    result = plan_week(week, WeekOptions(solve=SolveOptions(time_limit_s=30)))
    result.plans["Mon"], result.continuity, result.premium

A plan that is cheapest on Monday and different on Tuesday is not operable: SEN pupils and adults
at day centres need the same driver and assistant and a time their families can rely on. Two ways
are offered and measured against each other (docs/week.md, BENCHMARKS.md):

- ``template`` (the default, chosen by measurement): the regular trips of the hard and preferred
  services (rows that run on two days or more) are planned once, as one day; each day starts from
  the template's routes with the trips that run that day, on the same vehicles, each hard service's
  pickup held within the tolerance of the template's time (the time the passenger is told), and a
  hard service's trip the template contracted stays contracted; one search of the day adds the day's
  other trips, on the template's vehicles or free ones, with each hard service's regular trip
  assigned to its vehicle (``Problem.assigned_vehicles``) but free to change order and time within
  the tolerance (``share_template_vehicles``; off, the template's routes are kept as planned and the
  other trips go on the vehicles it leaves free). A preferred service's trips start where the
  template put them and go wherever the day's search finds it pays. Consistency of a hard service
  is a hard rule: it gives way only where the day's fleet lacks the template's vehicle or the
  vehicle cannot take the trip that day.
- ``independent``: each day is planned alone, then each day's vehicles of a type are renumbered to
  match Monday's (a vehicle is the one sharing most regular trips with it; vehicles of a type are
  alike, so the cost does not change).

Each day is also planned alone (``independent``'s plans) for the premium: what consistency costs
against five independently planned days, each given an equal share of the search the week's own
plans had (``WeekOptions.alone_solve``). Continuity is measured on the plans themselves; the
checker's week extension (optimiser/checker_week.py) measures it again without this code.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping

import numpy as np
from scipy.optimize import linear_sum_assignment

from optimiser.checker import checked_plan
from optimiser.domain.model import Problem, Trip
from optimiser.domain.plan import ContractedTrip, Plan, RouteOrder, build_plan, route_order
from optimiser.engine.screening import screen_trip, why_duty_cannot_serve
from optimiser.errors import ProblemError
from optimiser.options import SolveOptions

METHODS = ("template", "independent")
CONSISTENCY = ("hard", "preferred", "free")
#: Consistency by service (docs/domain.md): pupils with special needs and adults at day centres need
#: the same crew and time; patients' journeys are mostly one-off; mainstream pupils ride fixed routes
#: (``preferred`` lets each day move them where it pays: cheaper, and far fewer keep one vehicle).
DEFAULT_CONSISTENCY = (("sen", "hard"), ("social_care", "hard"), ("school", "hard"), ("nept", "free"))


@dataclass(frozen=True)
class WeekOptions:
    """How a week is planned."""

    #: Each day's search (and the template's).
    solve: SolveOptions = field(default_factory=lambda: SolveOptions(time_limit_s=30.0))
    method: str = "template"
    #: (service, "hard" | "preferred" | "free") pairs; a service not named is free. Hard: held to
    #: the template's vehicle and within the tolerance of its time every day. Preferred: planned in
    #: the template and started there each day, but the day's search may move the trip to another
    #: vehicle or time (or a contract) where that pays (with ``share_template_vehicles`` off, the
    #: template's routes are kept as planned, theirs too). Free: planned afresh each day.
    consistency: tuple[tuple[str, str], ...] = DEFAULT_CONSISTENCY
    #: A regular passenger's pickup may move this far either side of the time they were told.
    tolerance_s: float = 600.0
    #: Plan each day alone as well, for the premium (the ``independent`` method always does).
    compare_independent: bool = True
    #: ``template``: the day's other trips may join the template's vehicles, and the regular trips
    #: move within their vehicle and the tolerance, in one search of the day; off: the template's
    #: routes are kept as planned and the other trips go on the vehicles it leaves free.
    share_template_vehicles: bool = True
    #: ``template``: the template's solve gets this many times each day's time limit (and round
    #: budget, where one is set). It is planned once and every day is built around it, so search
    #: spent on it pays five times over; chosen on a tuning week and confirmed on two weeks never
    #: used to choose it (docs/lab/week.md).
    template_search: float = 8.0

    def __post_init__(self):
        if self.method not in METHODS:
            raise ProblemError(f"method must be one of {', '.join(METHODS)}, not {self.method!r}",
                               where="week_options.method")
        for service, rule in self.consistency:
            if rule not in CONSISTENCY:
                raise ProblemError(f"consistency of {service!r} must be one of {', '.join(CONSISTENCY)}, not "
                                   f"{rule!r}", where="week_options.consistency")
        for name, least in (("tolerance_s", 0), ("template_search", 1)):
            value = getattr(self, name)
            if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
                    or value < least):
                raise ProblemError(f"{name} must be a number of at least {least}, not {value!r}",
                                   where=f"week_options.{name}")

    @property
    def hard_services(self) -> frozenset[str]:
        return frozenset(s for s, rule in self.consistency if rule == "hard")

    @property
    def template_services(self) -> frozenset[str]:
        """The services whose regular trips the template plans: the hard ones, held to their
        template vehicle and time each day, and the preferred ones, which start each day where the
        template put them and may move."""
        return frozenset(s for s, rule in self.consistency if rule in ("hard", "preferred"))

    @property
    def template_solve(self) -> SolveOptions:
        """The template's search: ``template_search`` times a day's time limit and round budget."""
        return self._day_search_times(self.template_search)

    def alone_solve(self, days: int, with_template: bool = True) -> SolveOptions:
        """Each day planned alone, for the premium: the week's own search (the template's and each
        day's) shared equally between its ``days`` days, so the premium compares plans given the
        same search in all; with less, it would count the template's extra search as consistency
        costing less. ``independent``, or no template to plan (``with_template`` false): each
        day's own search."""
        if self.method == "independent" or not with_template:
            return self.solve
        return self._day_search_times((self.template_search + days) / days)

    def _day_search_times(self, factor: float) -> SolveOptions:
        rounds = self.solve.max_rounds
        return replace(self.solve, time_limit_s=self.solve.time_limit_s * factor,
                       max_rounds=None if rounds is None else max(1, round(rounds * factor)))

    def solve_count(self, days: int) -> int:
        """How many solves a week of ``days`` days runs (``solve_seconds`` adds up their limits)."""
        if self.method == "independent":
            return days
        return 1 + days * (2 if self.compare_independent else 1)

    def solve_seconds(self, days: int) -> float:
        """The time limits of a week of ``days`` days added up: the template's (``template``), each
        day's, and each day alone (for the premium, as much again; or as ``independent``'s plans)."""
        limit = self.solve.time_limit_s
        if self.method == "independent":
            return days * limit
        return limit * (self.template_search + days) * (2 if self.compare_independent else 1)


@dataclass(frozen=True)
class Week:
    """The days of a week in order, each day's validated problem, and each trip row's passenger.
    A trip id is one row of the week's file: the same journey on each day it runs."""

    days: tuple[str, ...]
    problems: Mapping[str, Problem]
    passenger_of: Mapping[str, str]

    def __post_init__(self):
        if not self.days:
            raise ProblemError("a week needs at least one day", where="week.days")
        missing = [d for d in self.days if d not in self.problems]
        if missing:
            raise ProblemError(f"no problem for {missing[0]}", where="week.problems")

    def days_of(self, trip_id: str) -> tuple[str, ...]:
        return tuple(d for d in self.days if trip_id in self._trips_of_day[d])

    @property
    def _trips_of_day(self) -> Mapping[str, frozenset[str]]:
        cached = self.__dict__.get("_trips_cache")
        if cached is None:
            cached = {d: frozenset(t.id for t in self.problems[d].trips) for d in self.days}
            object.__setattr__(self, "_trips_cache", cached)
        return cached

    @property
    def regular_trips(self) -> frozenset[str]:
        """Trip rows that run on two days or more."""
        return frozenset(t for d in self.days for t in self._trips_of_day[d] if len(self.days_of(t)) >= 2)

    def passenger(self, trip_id: str) -> str:
        return self.passenger_of.get(trip_id, trip_id)


# ------------------------------------------------------------------------------ continuity
def vehicle_of_trips(plan: Plan) -> dict[str, tuple[str, float | None]]:
    """Each trip's vehicle ("minibus #3", "contract taxi" or "unserved") and pickup time (None off the fleet)."""
    where: dict[str, tuple[str, float | None]] = {}
    for route in plan.routes:
        for stop in route.stops:
            if stop.kind == "pickup":
                where[stop.trip_id] = (f"{route.vehicle_type} #{route.vehicle_number}", stop.service_start_s)
    for c in plan.contracted:
        where[c.trip_id] = (f"contract {c.tariff}", None)
    for u in plan.unserved:
        where[u.trip_id] = ("unserved", None)
    return where


def continuity(week: Week, plans: Mapping[str, Plan], tolerance_s: float) -> dict:
    """Per regular passenger (one with a trip row on two days or more): the vehicle of each regular
    trip on each day, whether every such trip keeps one vehicle all week, and the largest pickup-time
    spread (latest less earliest pickup of one trip over the days); then by service the share of
    regular passengers with one vehicle, within the tolerance (a spread of at most twice it: one
    time told, every day within it either side), and both."""
    where = {d: vehicle_of_trips(plans[d]) for d in week.days}
    regular = week.regular_trips
    people: dict[str, dict] = {}
    for trip_id in sorted(regular):
        person = people.setdefault(week.passenger(trip_id), {"trips": {}, "service": None})
        days = week.days_of(trip_id)
        seen = {d: where[d].get(trip_id, ("missing", None)) for d in days}
        person["service"] = week.problems[days[0]].trip(trip_id).service
        times = [t for _, t in seen.values() if t is not None]
        person["trips"][trip_id] = {"vehicles": {d: v for d, (v, _) in seen.items()},
                                    "spread_s": (max(times) - min(times)) if len(times) >= 2 else 0.0}
    passengers, by_service = [], {}
    for name, person in sorted(people.items()):
        one_vehicle = all(len(set(t["vehicles"].values())) == 1 and "unserved" not in t["vehicles"].values()
                          for t in person["trips"].values())
        spread = max(t["spread_s"] for t in person["trips"].values())
        within = spread <= 2 * tolerance_s + 1e-6
        passengers.append({"passenger": name, "service": person["service"], "one_vehicle": one_vehicle,
                           "largest_spread_minutes": round(spread / 60, 1), "within_tolerance": within,
                           "trips": {t: v["vehicles"] for t, v in person["trips"].items()}})
        figures = by_service.setdefault(person["service"], {"regular_passengers": 0, "one_vehicle": 0,
                                                            "within_tolerance": 0, "both": 0, "spreads": []})
        figures["regular_passengers"] += 1
        figures["one_vehicle"] += one_vehicle
        figures["within_tolerance"] += within
        figures["both"] += one_vehicle and within
        figures["spreads"].append(spread / 60)
    summary = {}
    for service, f in sorted(by_service.items()):
        n = f["regular_passengers"]
        summary[service] = {"regular_passengers": n, "one_vehicle_share": round(f["one_vehicle"] / n, 4),
                            "within_tolerance_share": round(f["within_tolerance"] / n, 4),
                            "both_share": round(f["both"] / n, 4),
                            "largest_spread_minutes": round(max(f["spreads"]), 1),
                            "median_spread_minutes": round(statistics.median(f["spreads"]), 1)}
    return {"tolerance_minutes": tolerance_s / 60, "by_service": summary, "passengers": passengers}


def share_of(figures: Mapping, services, key: str = "both_share") -> float | None:
    """The share ``key`` over the regular passengers of ``services``, weighted by their numbers."""
    rows = [figures["by_service"][s] for s in services if s in figures["by_service"]]
    total = sum(r["regular_passengers"] for r in rows)
    return None if not total else sum(r[key] * r["regular_passengers"] for r in rows) / total


# ------------------------------------------------------------------------------ the result
@dataclass(frozen=True)
class WeekResult:
    week: Week
    options: WeekOptions
    #: The week's checked plan of each day.
    plans: Mapping[str, Plan]
    continuity: Mapping
    #: Each day planned alone (None when not asked for), for the premium.
    independent: Mapping[str, Plan] | None = None
    independent_continuity: Mapping | None = None
    notes: tuple[str, ...] = ()
    #: The time limit each day alone was given, where plan_week planned them (None when passed in).
    seconds_per_day_alone: float | None = None

    @property
    def cost(self) -> float:
        return sum(p.cost.total for p in self.plans.values())

    @property
    def independent_cost(self) -> float | None:
        return None if self.independent is None else sum(p.cost.total for p in self.independent.values())

    @property
    def premium(self) -> float | None:
        """The week's cost over the days planned alone, as a share of theirs."""
        alone = self.independent_cost
        return None if not alone else self.cost / alone - 1

    def to_dict(self) -> dict:
        hard = sorted(self.options.hard_services)
        return {
            "method": self.options.method, "days": list(self.week.days),
            "cost": round(self.cost, 2),
            "independent_cost": None if self.independent is None else round(self.independent_cost, 2),
            "premium": None if self.premium is None else round(self.premium, 5),
            "consistent_services": hard,
            "preferred_services": sorted(self.options.template_services - self.options.hard_services),
            "tolerance_minutes": self.options.tolerance_s / 60,
            "share_template_vehicles": self.options.share_template_vehicles,
            "seconds_per_solve": self.options.solve.time_limit_s,
            "seconds_per_day_alone": self.seconds_per_day_alone,
            "template_search": self.options.template_search,
            "consistent_share": share_of(self.continuity, hard),
            "independent_consistent_share": (None if self.independent_continuity is None
                                             else share_of(self.independent_continuity, hard)),
            "by_day": [{"day": d, "cost": round(p.cost.total, 2), "trips": sum(
                f.trips for f in p.by_service.values()), "vehicles": p.vehicles_used,
                "contracted": len(p.contracted), "unserved": len(p.unserved),
                "independent_cost": None if self.independent is None else round(self.independent[d].cost.total, 2)}
                for d, p in self.plans.items()],
            "continuity": self.continuity,
            "independent_continuity": self.independent_continuity,
            "notes": list(self.notes),
        }

    def markdown(self) -> str:
        data = self.to_dict()
        lines = [f"# Week plan ({self.options.method}): {', '.join(self.week.days)}", "",
                 f"- cost £{self.cost:,.2f} over {len(self.week.days)} days"
                 + ("" if self.premium is None else
                    f"; planned alone £{self.independent_cost:,.2f}"
                    + ("" if self.seconds_per_day_alone is None else
                       f" (each day given {self.seconds_per_day_alone:g} s)")
                    + f"; premium {100 * self.premium:+.2f}%"),
                 f"- consistent services: {', '.join(data['consistent_services']) or 'none'}; pickup tolerance "
                 f"±{data['tolerance_minutes']:.0f} min"
                 + (f"; preferred (planned in the template, free to move): {', '.join(data['preferred_services'])}"
                    if data["preferred_services"] else ""), *[f"- {n}" for n in self.notes], "",
                 "| day | cost | planned alone | vehicles | contracted | unserved |", "|---|---|---|---|---|---|"]
        for row in data["by_day"]:
            alone = "-" if row["independent_cost"] is None else f"£{row['independent_cost']:,.2f}"
            lines.append(f"| {row['day']} | £{row['cost']:,.2f} | {alone} | {row['vehicles']} | {row['contracted']} "
                         f"| {row['unserved']} |")
        lines += ["", "| service | regular passengers | one vehicle | within ±tolerance | both | largest spread "
                      "(min) | planned alone: both |", "|---|---|---|---|---|---|---|"]
        for service, f in data["continuity"]["by_service"].items():
            alone = (data["independent_continuity"] or {}).get("by_service", {}).get(service)
            lines.append(f"| {service} | {f['regular_passengers']} | {100 * f['one_vehicle_share']:.1f}% | "
                         f"{100 * f['within_tolerance_share']:.1f}% | {100 * f['both_share']:.1f}% | "
                         f"{f['largest_spread_minutes']:.0f} | "
                         + ("-" if alone is None else f"{100 * alone['both_share']:.1f}%") + " |")
        return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------ planning
def plan_week(week: Week, options: WeekOptions | None = None, *,
              solve_day: Callable[..., Plan] | None = None,
              alone: Mapping[str, Plan] | None = None) -> WeekResult:
    """Plan every day of ``week`` (``WeekOptions.method``), each plan checked; ``solve_day``
    replaces ``optimiser.solve`` (a notebook may pass one with progress; it is given
    ``start_routes=`` as ``solve`` is when the day starts from the template); ``alone``: each day
    already planned alone (another ``WeekResult.independent``), not planned again."""
    options = options or WeekOptions()
    if solve_day is None:
        from optimiser.solving import solve as solve_day
    independent, alone_seconds = None, None
    if alone is not None:
        independent = _matched(alone, week)
    elif options.method == "independent" or options.compare_independent:
        alone_options = options.alone_solve(len(week.days), with_template=bool(template_trips(week, options)))
        independent = _matched({d: solve_day(week.problems[d], alone_options) for d in week.days}, week)
        alone_seconds = alone_options.time_limit_s
    notes: list[str] = []
    if options.method == "independent":
        plans = independent
    else:
        plans = _from_template(week, options, solve_day, notes)
    plans = {d: checked_plan(week.problems[d], plans[d]) for d in week.days}
    return WeekResult(week, options, plans, continuity(week, plans, options.tolerance_s), independent,
                      None if independent is None else continuity(week, independent, options.tolerance_s),
                      tuple(notes), alone_seconds)


def template_trips(week: Week, options: WeekOptions) -> list[Trip]:
    """The regular trips of the hard and preferred services, each as on the first day it runs."""
    planned = options.template_services
    chosen = []
    for trip_id in sorted(week.regular_trips):
        trip = week.problems[week.days_of(trip_id)[0]].trip(trip_id)
        if trip.service in planned:
            chosen.append(trip)
    return chosen


def _from_template(week: Week, options: WeekOptions, solve_day, notes: list[str]) -> dict[str, Plan]:
    trips = template_trips(week, options)
    first = week.problems[week.days[0]]
    if not trips:
        notes.append("no regular trip of a consistent service: each day planned alone")
        return {d: solve_day(week.problems[d], options.solve) for d in week.days}
    template = solve_day(replace(first, trips=tuple(trips), name=f"{first.name} template"), options.template_solve)
    notes.append(f"template: {len(trips)} regular trips of {', '.join(sorted(options.template_services))}, "
                 f"£{template.cost.total:,.2f} as one day, searched {options.template_search:g} times a day's "
                 f"time limit")
    return {day: day_from_template(week.problems[day], template, options, solve_day) for day in week.days}


def day_from_template(problem: Problem, template: Plan, options: WeekOptions, solve_day) -> Plan:
    """One day from the template: its routes keep the day's regular trips on their vehicles, each
    hard service's pickup within the tolerance of the template's time (the others taken out); a hard
    service's trip the template contracted stays contracted. With
    ``WeekOptions.share_template_vehicles`` one search plans the whole day from those routes: the
    day's other trips may join the template's vehicles, and the regular trips may change order and
    time within their vehicle and the tolerance (a preferred service's may move anywhere). Without
    it the template's routes are kept as they are, a preferred service's trips on them too, and the
    day's other trips (and any regular trip whose vehicle the day's fleet lacks) are planned on the
    vehicles the template leaves free."""
    kept, told, contracted = _template_routes(problem, template, options)
    if options.share_template_vehicles:
        return _day_around_template(problem, kept, told, contracted, options, solve_day)
    today = {t.id: t for t in problem.trips}
    types = {vt.name: vt for vt in problem.vehicle_types}
    placed = set(told) | {c.trip_id for c in contracted}
    used = {(o.vehicle_type.name, o.vehicle_number) for o in kept}
    free_numbers = {vt.name: [n for n in range(vt.count) if (vt.name, n) not in used] for vt in problem.vehicle_types}
    free_fleet = tuple(replace(vt, count=len(free_numbers[vt.name])) for vt in problem.vehicle_types)
    rest = tuple(t for t in problem.trips if t.id not in placed)
    orders = list(kept)
    unserved, solver = [], None
    if rest:
        free = solve_day(replace(problem, trips=rest, vehicle_types=free_fleet, name=f"{problem.name} rest"),
                         options.solve)
        orders += [_order_on(types[r.vehicle_type], free_numbers[r.vehicle_type][r.vehicle_number], r, today)
                   for r in free.routes]
        contracted, unserved, solver = contracted + list(free.contracted), free.unserved, free.solver
    return build_plan(problem, orders, contracted, unserved, solver)


def _template_routes(problem: Problem, template: Plan, options: WeekOptions):
    """The template's routes cut to the day's trips, on the same vehicles in the same order, each
    regular trip's pickup window narrowed to the tolerance about the template's time; those trips
    as narrowed, by id (a preferred service's trips keep their own windows); and the hard services'
    trips the template contracted, contracted again where the day has a tariff for them."""
    today = {t.id: t for t in problem.trips}
    types = {vt.name: vt for vt in problem.vehicle_types}
    hard = options.hard_services
    kept, told_trips = [], {}
    for route in template.routes:
        vt = types.get(route.vehicle_type)
        trip_ids = [t for t in route.trip_ids if t in today]
        if (not trip_ids or vt is None or route.vehicle_number >= vt.count or route.duty >= len(vt.duty_windows)
                or route.layout not in {x.name for x in vt.layouts}):
            continue
        # each pickup within the tolerance of the template's, the time the passenger was told: the
        # template's own times remain a schedule of the route with the absent trips taken out
        told = {st.trip_id: st.service_start_s for st in route.stops if st.kind == "pickup"}
        pinned = {t: replace(today[t], earliest_pickup_s=max(today[t].earliest_pickup_s, told[t] - options.tolerance_s),
                             latest_pickup_s=min(today[t].latest_pickup_s, told[t] + options.tolerance_s))
                  if today[t].service in hard else today[t] for t in trip_ids}
        kept.append(_order_on(vt, route.vehicle_number, route, pinned))
        told_trips.update(pinned)
    contracted = []
    for c in template.contracted:  # contracted all week, as the template chose, where the day has a tariff
        if c.service not in hard:
            continue  # a preferred service's trip is the day's search's to place, as its routes are
        offer = problem.contract_price(today[c.trip_id]) if c.trip_id in today else None
        if offer is not None:
            contracted.append(ContractedTrip(c.trip_id, c.service, offer[0].name, offer[1],
                                             "contracted all week (the template's choice): " + c.reason))
    return kept, told_trips, contracted


def _day_around_template(problem: Problem, kept: list[RouteOrder], told: Mapping[str, Trip],
                         contracted: list[ContractedTrip], options: WeekOptions, solve_day) -> Plan:
    """The whole day planned by one search that starts from the template's routes: each hard
    service's regular trip on them is assigned to its template vehicle (``Problem.assigned_vehicles``)
    with its pickup window narrowed to the tolerance (a preferred service's trip only starts there);
    the day's other trips are first put where each costs least, on those routes or on free
    vehicles, then the search improves the whole."""
    contracted_ids = {c.trip_id for c in contracted}
    trips = tuple(told.get(t.id, t) for t in problem.trips if t.id not in contracted_ids)
    if kept:
        hard = options.hard_services
        assigned = tuple((trip.id, order.vehicle_type.name, order.vehicle_number)
                         for order in kept for kind, trip in order.events if kind == "pickup" and trip.service in hard)
        day = replace(problem, trips=trips, assigned_vehicles=assigned,
                      name=f"{problem.name} on the template's vehicles")
        # a trip its template vehicle's duty can never serve today (a day's fleet may keep other
        # hours) is left off the start: the search places a preferred trip elsewhere, and contracts
        # a held one, saying which vehicle it had to ride and why
        unable = {trip.id for order in kept for kind, trip in order.events
                  if kind == "pickup" and (screen_trip(day, trip) or why_duty_cannot_serve(
                      day, order.vehicle_type, order.vehicle_type.duty_windows[order.duty], trip, day.direct_s(trip)))}
        start = [replace(order, events=tuple(e for e in order.events if e[1].id not in unable)) for order in kept]
        start = [order for order in start if order.events]
        plan = solve_day(day, replace(options.solve, place_left_out=True), start_routes=start)
    else:  # nothing to start from: the day's own search, as the template left nothing on the fleet
        day = replace(problem, trips=trips)
        plan = solve_day(day, options.solve)
    # re-timed on the day as given, with the narrowed regular trips (their windows lie within the day's)
    return build_plan(problem, [route_order(day, r) for r in plan.routes], contracted + list(plan.contracted),
                      plan.unserved, plan.solver)


def _order_on(vehicle_type, number: int, route, trips: Mapping[str, Trip]) -> RouteOrder:
    """``route``'s stops among ``trips``, in its order, on vehicle ``number`` of ``vehicle_type``."""
    layout = next(x for x in vehicle_type.layouts if x.name == route.layout)
    events = tuple((s.kind, trips[s.trip_id]) for s in route.stops
                   if s.kind in ("pickup", "dropoff") and s.trip_id in trips)
    return RouteOrder(vehicle_type, number, layout, events, route.duty)


def _matched(plans: Mapping[str, Plan], week: Week) -> dict[str, Plan]:
    """Each day's vehicles of a type renumbered to share most regular trips with the first day's
    (an assignment per type; vehicles of a type are alike, so the cost is unchanged)."""
    days = list(plans)
    reference = vehicle_of_trips(plans[days[0]])
    regular = week.regular_trips
    out = {days[0]: plans[days[0]]}
    for day in days[1:]:
        plan, problem = plans[day], week.problems[day]
        mapping = {}
        for vt in problem.vehicle_types:
            mine = sorted({r.vehicle_number for r in plan.routes if r.vehicle_type == vt.name})
            if not mine:
                continue
            shared = np.zeros((len(mine), vt.count))
            for i, number in enumerate(mine):
                for route in plan.routes:
                    if route.vehicle_type == vt.name and route.vehicle_number == number:
                        for trip_id in route.trip_ids:
                            old = reference.get(trip_id, ("", None))[0] if trip_id in regular else ""
                            if old.startswith(f"{vt.name} #"):
                                target = int(old.rsplit("#", 1)[1])
                                if target < vt.count:
                                    shared[i, target] += 1
            rows, cols = linear_sum_assignment(-shared)
            mapping.update({(vt.name, mine[i]): int(c) for i, c in zip(rows, cols)})
        orders = [route_order(problem, r, mapping[(r.vehicle_type, r.vehicle_number)]) for r in plan.routes]
        out[day] = build_plan(problem, orders, plan.contracted, plan.unserved, plan.solver)
    return out


def consistency_with(consistent=(), free=(), preferred=()) -> tuple[tuple[str, str], ...]:
    """``DEFAULT_CONSISTENCY`` with the services in ``consistent`` made hard, those in ``preferred``
    preferred and those in ``free`` free (services it does not name are added); a service named
    twice is refused."""
    named = {"consistent": set(consistent), "preferred": set(preferred), "free": set(free)}
    for first, second in (("consistent", "preferred"), ("consistent", "free"), ("preferred", "free")):
        both = sorted(named[first] & named[second])
        if both:
            raise ProblemError(f"{both[0]!r} cannot be both {first} and {second}", where=f"week_options.{second}")
    rules = dict(DEFAULT_CONSISTENCY)
    rules.update({s: "hard" for s in named["consistent"]})
    rules.update({s: "preferred" for s in named["preferred"]})
    rules.update({s: "free" for s in named["free"]})
    return tuple(rules.items())
