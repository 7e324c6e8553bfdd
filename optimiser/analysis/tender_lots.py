"""Tender lots: the chosen plan's vehicle days grouped into lots an operator could bid for.

    lots = make_lots(problem, plan, LotOptions(lots=4, group_by=("time_band", "area")))
    lots.lots[0].price_a_day       # pounds, the operator cost model's price of its vehicle days
    lots.to_dict()                 # lots.json

An operator bids for whole vehicles, so the unit of a lot is a vehicle day: every route (duty) one
vehicle drives, split shifts included, stays in one lot. Vehicle days are first kept apart by the
grouping keys that are categories (the time band, the vehicle type), the requested number of lots
shared between those groups in proportion to their vehicles, then each group is split into lots
whose sizes differ by at most one vehicle: by area (a balanced k-medoids over the travel matrix's
distances between the vehicles' first pickups) when ``area`` is a key, else in order of the time
the vehicles leave.

Each lot is priced with the operator cost model (``optimiser/domain/operator_costs.py``): each
vehicle day's price is rounded to the penny and a lot's price a day is the sum of its vehicles'
prices, so the figures on a lot sheet add up. A year is ``school_days`` days as planned plus
``other_days`` days (weekdays out of term) on which only the duties that carry a trip of a service
running all year are driven, priced as planned. Trips the plan gives to per-trip contracts (taxis)
and trips it could not serve are in no lot.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from optimiser.analysis.replan import plan_from_document
from optimiser.checker import check_plan
from optimiser.domain.model import Problem, VehicleType, format_clock
from optimiser.domain.operator_costs import OperatorCostModel, RoutePrice, vehicle_days
from optimiser.domain.plan import Plan, Route
from optimiser.errors import InputFormatError, ProblemError

#: What lots may be kept apart by.
GROUPING_KEYS = ("area", "time_band", "vehicle_type")
#: A vehicle day whose every pickup and drop-off falls in a peak window; one on more than one duty
#: otherwise; one on a single duty otherwise.
TIME_BANDS = ("school-peak", "split-shift", "all-day")


def _clock_s(hours: int, minutes: int = 0) -> float:
    return hours * 3600.0 + minutes * 60.0


@dataclass(frozen=True)
class LotOptions:
    """How to cut the plan into lots; give ``lots`` (how many) or ``lot_size`` (most vehicles a lot)."""

    #: How many lots to make.
    lots: int | None = None
    #: The most vehicles in one lot; as few lots as that allows.
    lot_size: int | None = None
    #: What lots are kept apart by, among ``GROUPING_KEYS``.
    group_by: tuple[str, ...] = ("area",)
    #: How an operator's price is built.
    cost_model: OperatorCostModel = field(default_factory=OperatorCostModel)
    #: School days in the year (England's maintained schools: 190).
    school_days: int = 190
    #: Other days the all-year services run: the 253 weekdays of 2026 less its bank holidays, less
    #: the 190 school days.
    other_days: int = 63
    #: Services that run in term time only: their duties are not driven on other days.
    term_time_services: frozenset[str] = frozenset({"school", "sen"})
    #: The school peaks (seconds after midnight): a vehicle whose every pickup and drop-off falls
    #: inside one of them is in the school-peak band.
    morning_peak: tuple[float, float] = (_clock_s(7), _clock_s(9, 30))
    afternoon_peak: tuple[float, float] = (_clock_s(14, 30), _clock_s(17, 30))
    #: How many times an area split re-centres its lots at most.
    area_rounds: int = 20

    def __post_init__(self):
        def refuse(name: str, message: str):
            raise ProblemError(message, where=f"lot_options.{name}")

        if (self.lots is None) == (self.lot_size is None):
            refuse("lots", "give the number of lots or the lot size in vehicles, one of them")
        for name in ("lots", "lot_size"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                refuse(name, f"must be a whole number of at least 1, not {value!r}")
        if isinstance(self.group_by, str):
            refuse("group_by", "must be a list of keys, not one string")
        for key in self.group_by:
            if key not in GROUPING_KEYS:
                refuse("group_by", f"unknown key {key!r}; known: {', '.join(GROUPING_KEYS)}")
        if len(set(self.group_by)) != len(self.group_by):
            refuse("group_by", "names a key twice")
        if not isinstance(self.cost_model, OperatorCostModel):
            refuse("cost_model", "must be an OperatorCostModel")
        for name in ("school_days", "other_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 366:
                refuse(name, f"must be a whole number of days from 0 to 366, not {value!r}")
        if self.school_days + self.other_days > 366:
            refuse("other_days", f"school days and other days make {self.school_days + self.other_days}, "
                                 "more than a year")
        for name in ("morning_peak", "afternoon_peak"):
            start, end = getattr(self, name)
            if not 0 <= start < end:
                refuse(name, "must start before it ends")
        if self.area_rounds < 1:
            refuse("area_rounds", "must be at least 1")

    def to_dict(self) -> dict:
        return {"lots": self.lots, "lot_size": self.lot_size, "group_by": list(self.group_by),
                "school_days": self.school_days, "other_days": self.other_days,
                "term_time_services": sorted(self.term_time_services),
                "morning_peak": [format_clock(t) for t in self.morning_peak],
                "afternoon_peak": [format_clock(t) for t in self.afternoon_peak],
                "cost_model": self.cost_model.to_dict()}


@dataclass(frozen=True)
class VehicleDay:
    """One vehicle's day in the plan, priced as an operator would price it."""

    vehicle_type: str
    vehicle_number: int
    #: Its duties in order, one route each.
    routes: tuple[Route, ...]
    time_band: str
    #: The first pickup: where the vehicle's work begins, what an area split measures from.
    first_pickup: str
    passenger_assistant: bool
    #: On a school day, as planned.
    price: RoutePrice
    #: On another day: only its duties that carry a service running all year.
    other_day_price: RoutePrice

    @property
    def name(self) -> str:
        return f"{self.vehicle_type} {self.vehicle_number + 1}"

    @property
    def price_a_day(self) -> float:
        return round(self.price.total, 2)

    @property
    def price_other_day(self) -> float:
        return round(self.other_day_price.total, 2)

    @property
    def leaves_s(self) -> float:
        return self.routes[0].stops[0].departure_s

    @property
    def trip_ids(self) -> tuple[str, ...]:
        return tuple(t for r in self.routes for t in r.trip_ids)

    @property
    def layouts(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.layout for r in self.routes))

    def to_dict(self) -> dict:
        return {"vehicle": self.name, "vehicle_type": self.vehicle_type, "vehicle_number": self.vehicle_number,
                "layouts": list(self.layouts), "time_band": self.time_band, "first_pickup": self.first_pickup,
                "duties": len(self.routes), "trips": len(self.trip_ids),
                "leaves": format_clock(self.leaves_s), "returns": format_clock(self.routes[-1].stops[-1].arrival_s),
                "passenger_assistant": self.passenger_assistant, "km": round(self.price.km, 2),
                "paid_hours": round(self.price.paid_hours, 2), "price_a_day": self.price_a_day,
                "price_other_day": self.price_other_day, "price": self.price.to_dict()}


@dataclass(frozen=True)
class Lot:
    """Vehicle days an operator bids for together."""

    number: int
    #: What the lot was kept apart by: its time band and vehicle type when those are keys.
    group: Mapping[str, str]
    vehicle_days: tuple[VehicleDay, ...]
    #: The first pickup nearest the lot's others (the centre of its area), when split by area.
    centre: str | None
    school_days: int
    other_days: int

    @property
    def name(self) -> str:
        return f"Lot {self.number}"

    @property
    def vehicles(self) -> int:
        return len(self.vehicle_days)

    @property
    def drivers(self) -> int:
        """One driver a vehicle: a split shift's duties are the same driver's."""
        return len(self.vehicle_days)

    @property
    def assistants(self) -> int:
        return sum(1 for v in self.vehicle_days if v.passenger_assistant)

    @property
    def routes(self) -> tuple[Route, ...]:
        return tuple(r for v in self.vehicle_days for r in v.routes)

    @property
    def trips(self) -> int:
        return sum(len(v.trip_ids) for v in self.vehicle_days)

    @property
    def km(self) -> float:
        return sum(v.price.km for v in self.vehicle_days)

    @property
    def paid_hours(self) -> float:
        return sum(v.price.paid_hours for v in self.vehicle_days)

    @property
    def price_a_day(self) -> float:
        """The sum of its vehicle days' prices, each to the penny."""
        return round(sum(v.price_a_day for v in self.vehicle_days), 2)

    @property
    def price_other_day(self) -> float:
        return round(sum(v.price_other_day for v in self.vehicle_days), 2)

    @property
    def price_a_year(self) -> float:
        return round(self.price_a_day * self.school_days + self.price_other_day * self.other_days, 2)

    @property
    def time_bands(self) -> tuple[str, ...]:
        return tuple(b for b in TIME_BANDS if any(v.time_band == b for v in self.vehicle_days))

    def vehicles_by_type_and_layout(self) -> list[dict]:
        """How many vehicles of each type and layout, with the drivers and assistants they need."""
        counts: dict[tuple[str, str], list[VehicleDay]] = {}
        for v in self.vehicle_days:
            counts.setdefault((v.vehicle_type, " / ".join(sorted(v.layouts))), []).append(v)
        return [{"vehicle_type": t, "layout": lay, "vehicles": len(vs), "drivers": len(vs),
                 "assistants": sum(1 for v in vs if v.passenger_assistant)}
                for (t, lay), vs in sorted(counts.items())]

    def price_breakdown(self) -> dict:
        parts = ("vehicle", "driver", "assistant", "distance", "overheads", "margin")
        return {p: round(sum(getattr(v.price, p) for v in self.vehicle_days), 2) for p in parts}

    def to_dict(self) -> dict:
        return {"lot": self.number, "name": self.name, "group": dict(self.group), "centre": self.centre,
                "time_bands": list(self.time_bands), "vehicles": self.vehicles, "drivers": self.drivers,
                "assistants": self.assistants, "by_type_and_layout": self.vehicles_by_type_and_layout(),
                "duties": len(self.routes), "trips": self.trips, "km": round(self.km, 2),
                "paid_hours": round(self.paid_hours, 2), "price_a_day": self.price_a_day,
                "price_other_day": self.price_other_day, "price_a_year": self.price_a_year,
                "price_breakdown": self.price_breakdown(),
                "vehicle_days": [v.to_dict() for v in self.vehicle_days]}


@dataclass(frozen=True)
class TenderLots:
    problem_name: str
    lots: tuple[Lot, ...]
    options: LotOptions
    #: Trips the plan gives to per-trip contracts, and trips it could not serve: in no lot.
    contracted_trips: int
    unserved_trips: int

    @property
    def vehicles(self) -> int:
        return sum(lot.vehicles for lot in self.lots)

    @property
    def price_a_day(self) -> float:
        return round(sum(lot.price_a_day for lot in self.lots), 2)

    @property
    def price_a_year(self) -> float:
        return round(sum(lot.price_a_year for lot in self.lots), 2)

    def lot_of(self, vehicle_type: str, vehicle_number: int) -> Lot:
        return next(lot for lot in self.lots for v in lot.vehicle_days
                    if (v.vehicle_type, v.vehicle_number) == (vehicle_type, vehicle_number))

    def to_dict(self) -> dict:
        sizes = [lot.vehicles for lot in self.lots]
        return {"problem": self.problem_name, "options": self.options.to_dict(),
                "overall": {"lots": len(self.lots), "vehicles": self.vehicles,
                            "drivers": sum(lot.drivers for lot in self.lots),
                            "assistants": sum(lot.assistants for lot in self.lots),
                            "smallest_lot": min(sizes), "largest_lot": max(sizes),
                            "trips": sum(lot.trips for lot in self.lots),
                            "km": round(sum(lot.km for lot in self.lots), 2),
                            "paid_hours": round(sum(lot.paid_hours for lot in self.lots), 2),
                            "price_a_day": self.price_a_day, "price_a_year": self.price_a_year,
                            "contracted_trips": self.contracted_trips, "unserved_trips": self.unserved_trips},
                "lots": [lot.to_dict() for lot in self.lots]}


#: The operator cost model's rates a lot request may set (``OperatorCostModel``'s fields).
COST_FIELDS = ("driver_per_hour", "assistant_per_hour", "minimum_paid_hours", "overhead_share", "margin_share")
#: The lot options a request may set besides those.
LOT_FIELDS = ("lots", "lot_size", "group_by", "school_days", "other_days", "term_time_services")


def lot_options_from_fields(fields: Mapping) -> LotOptions:
    """``LotOptions`` from a request's flat fields (``LOT_FIELDS`` and ``COST_FIELDS``), as the
    command line and the API give them; ``ProblemError`` naming the field at fault."""
    unknown = sorted(set(fields) - set(LOT_FIELDS) - set(COST_FIELDS))
    if unknown:
        raise ProblemError(f"unknown option(s) {unknown}", where=f"lot_options.{unknown[0]}")
    model = OperatorCostModel(**{k: float(fields[k]) for k in COST_FIELDS if fields.get(k) is not None})
    chosen = {k: fields[k] for k in LOT_FIELDS if fields.get(k) is not None}
    if "group_by" in chosen and not isinstance(chosen["group_by"], str):
        chosen["group_by"] = tuple(chosen["group_by"])
    if "term_time_services" in chosen:
        chosen["term_time_services"] = frozenset(chosen["term_time_services"])
    return LotOptions(cost_model=model, **chosen)


def plan_to_put_in_lots(document, problem: Problem, *, where: str = "plan") -> Plan:
    """A plan.json (as ``itu solve`` writes it) re-timed on ``problem`` and passed by the
    independent checker; ``InputFormatError`` naming ``where`` when it does not fit the trips
    and fleet given."""
    plan = plan_from_document(document, problem, where=where)
    report = check_plan(problem, plan)
    if not report.feasible:
        raise InputFormatError("the plan breaks these trips' and fleet's rules: " + "; ".join(report.violations[:3]),
                               where=where)
    return plan


# ------------------------------------------------------------------------------ vehicle days
def _in_window(seconds: float, window: tuple[float, float]) -> bool:
    return window[0] <= seconds <= window[1]


def time_band(routes: Sequence[Route], options: LotOptions) -> str:
    """``school-peak`` when every pickup and drop-off is inside one peak, else ``split-shift``
    for a vehicle on more than one duty, else ``all-day``."""
    passenger_stops = [s for r in routes for s in r.stops if s.kind in ("pickup", "dropoff")]
    peaks = (options.morning_peak, options.afternoon_peak)
    for route in routes:
        stops = [s for s in route.stops if s.kind in ("pickup", "dropoff")]
        # a route may serve both peaks (a vehicle type without split duties): each stop in one
        if not all(any(_in_window(s.service_start_s, p) for p in peaks) for s in stops):
            break
    else:
        if passenger_stops:
            return "school-peak"
    return "split-shift" if len(routes) > 1 else "all-day"


def priced_vehicle_days(problem: Problem, plan: Plan, options: LotOptions) -> list[VehicleDay]:
    """Each vehicle of the plan with its duties, time band and operator's prices."""
    types: Mapping[str, VehicleType] = {vt.name: vt for vt in problem.vehicle_types}
    days = []
    for (type_name, number), routes in sorted(vehicle_days(plan.routes).items()):
        vt = types.get(type_name)
        if vt is None:
            raise ProblemError(f"vehicle type {type_name!r} is not in the fleet", where=f"plan.{type_name}")
        all_year = [r for r in routes
                    if any(s.service not in options.term_time_services for s in r.stops if s.kind == "pickup")]
        first = next((s.location for r in routes for s in r.stops if s.kind == "pickup"), routes[0].stops[0].location)
        model = options.cost_model
        days.append(VehicleDay(type_name, number, tuple(routes), time_band(routes, options), first,
                               vt.passenger_assistant, model.price_vehicle_day(routes, vt),
                               model.price_vehicle_day(all_year, vt)))
    return days


# ------------------------------------------------------------------------------ splitting
def balanced_sizes(count: int, parts: int) -> list[int]:
    """``count`` split into ``parts`` sizes differing by at most one, the larger first."""
    return [count // parts + (1 if k < count % parts else 0) for k in range(parts)]


def share_lots(group_sizes: Mapping[tuple, int], lots: int) -> dict[tuple, int]:
    """``lots`` shared between groups of vehicles: one each, then each next to the group whose
    lots are largest, so that lot sizes across groups are as even as the groups allow."""
    share = dict.fromkeys(group_sizes, 1)
    for _ in range(lots - len(group_sizes)):
        open_groups = [g for g in group_sizes if share[g] < group_sizes[g]]
        best = max(open_groups, key=lambda g: (group_sizes[g] / share[g], -sorted(group_sizes).index(g)))
        share[best] += 1
    return share


def _distance(problem: Problem, a: str, b: str) -> float:
    return (problem.matrix.distance_m(a, b) + problem.matrix.distance_m(b, a)) / 2.0


def split_by_area(problem: Problem, days: Sequence[VehicleDay], parts: int, rounds: int
                  ) -> list[tuple[str, list[VehicleDay]]]:
    """``days`` in ``parts`` areas of balanced sizes, each with its centre: centres spread out
    (each the first pickup farthest from those chosen), every vehicle given to the nearest centre
    with room, those with most to lose by waiting placed first, then each centre moved to its
    area's medoid, until nothing moves."""
    places = [d.first_pickup for d in days]
    unique = sorted(set(places))
    dist = {(a, b): _distance(problem, a, b) for a in unique for b in unique}
    medoid = min(unique, key=lambda a: (sum(dist[a, p] for p in places), a))
    centres = [max(unique, key=lambda a: (dist[a, medoid], a))]
    while len(centres) < parts:
        spare = [a for a in unique if a not in centres]
        if not spare:  # more lots than places: vehicles at one place go to several lots
            centres.append(centres[len(centres) % len(centres)])
            continue
        centres.append(max(spare, key=lambda a: (min(dist[a, c] for c in centres), a)))
    groups: list[list[int]] = []
    for _ in range(rounds):
        groups = _assign(places, centres, dist, len(days))
        moved = [min(sorted({places[i] for i in g}), key=lambda a: (sum(dist[a, places[i]] for i in g), a))
                 for g in groups]
        if moved == centres:
            break
        centres = moved
    return [(centres[k], [days[i] for i in g]) for k, g in enumerate(groups)]


def _assign(places: Sequence[str], centres: Sequence[str], dist: Mapping, count: int) -> list[list[int]]:
    """Each vehicle to its nearest centre with room; sizes floor or ceiling of the mean, the
    vehicles with most to lose by a second choice placed first."""
    parts = len(centres)
    small, large_left = count // parts, count % parts
    groups: list[list[int]] = [[] for _ in centres]

    def room(k: int) -> bool:
        return len(groups[k]) < small or (len(groups[k]) == small and large_left > 0)

    def regret(i: int) -> tuple:
        near = sorted(dist[places[i], c] for c in centres)
        return (-(near[1] - near[0]) if len(near) > 1 else 0.0, i)

    for i in sorted(range(count), key=regret):
        k = min((k for k in range(parts) if room(k)), key=lambda k: (dist[places[i], centres[k]], k))
        if len(groups[k]) == small:
            large_left -= 1
        groups[k].append(i)
    return groups


def split_in_order(days: Sequence[VehicleDay], parts: int) -> list[tuple[None, list[VehicleDay]]]:
    """``days`` in ``parts`` balanced runs in the order the vehicles leave."""
    ordered = sorted(days, key=lambda d: (d.leaves_s, d.vehicle_type, d.vehicle_number))
    out, start = [], 0
    for size in balanced_sizes(len(ordered), parts):
        out.append((None, ordered[start:start + size]))
        start += size
    return out


# ------------------------------------------------------------------------------ lots
def make_lots(problem: Problem, plan: Plan, options: LotOptions) -> TenderLots:
    """The plan's vehicle days in lots (see the module's notes); ``ProblemError`` naming the
    option when the lots asked for cannot be made from this plan."""
    days = priced_vehicle_days(problem, plan, options)
    if not days:
        raise ProblemError("the plan has no routes: every trip is contracted or unserved, so there is "
                           "nothing to put in lots", where="plan.routes")
    keys = [k for k in ("time_band", "vehicle_type") if k in options.group_by]
    groups: dict[tuple, list[VehicleDay]] = {}
    for d in days:
        groups.setdefault(tuple(getattr(d, k) for k in keys), []).append(d)
    groups = dict(sorted(groups.items(), key=lambda kv: tuple(
        TIME_BANDS.index(v) if k == "time_band" else v for k, v in zip(keys, kv[0]))))
    if options.lots is not None:
        if options.lots > len(days):
            raise ProblemError(f"{options.lots} lots asked for, but the plan has {len(days)} vehicles and a "
                               "vehicle is never split between lots", where="lot_options.lots")
        if options.lots < len(groups):
            named = " × ".join(k.replace("_", " ") for k in keys)
            raise ProblemError(f"{options.lots} lots cannot keep apart the plan's {len(groups)} groups by {named}; "
                               f"ask for at least {len(groups)} lots or group by fewer keys", where="lot_options.lots")
        share = share_lots({g: len(ds) for g, ds in groups.items()}, options.lots)
    else:
        share = {g: math.ceil(len(ds) / options.lot_size) for g, ds in groups.items()}
    lots: list[Lot] = []
    for group, group_days in groups.items():
        if "area" in options.group_by:
            parts = split_by_area(problem, group_days, share[group], options.area_rounds)
        else:
            parts = split_in_order(group_days, share[group])
        for centre, members in sorted(parts, key=lambda p: (min(d.leaves_s for d in p[1]), p[0] or "")):
            members = sorted(members, key=lambda d: (d.vehicle_type, d.vehicle_number))
            lots.append(Lot(len(lots) + 1, dict(zip(keys, group)), tuple(members), centre, options.school_days,
                            options.other_days))
    return TenderLots(plan.problem_name, tuple(lots), options, len(plan.contracted), len(plan.unserved))


# ------------------------------------------------------------------------------ schedules
SCHEDULE_COLUMNS = ("lot", "vehicle", "vehicle_type", "duty", "layout", "stop_number", "kind", "location", "place",
                    "trip_id", "service", "needs", "arrival", "service_start", "departure", "seats_on_board",
                    "wheelchairs_on_board", "stretchers_on_board")


def schedule_rows(problem: Problem, lot: Lot, place_names: Mapping[str, str] | None = None) -> list[dict]:
    """Every stop of every route of the lot, in vehicle, duty and stop order: what the operator
    would run. Trip ids, not passengers' names: a tender pack goes to bidders."""
    names = place_names or {}
    rows = []
    for v in lot.vehicle_days:
        for route in v.routes:
            for number, stop in enumerate(route.stops):
                rows.append({"lot": lot.number, "vehicle": v.name, "vehicle_type": v.vehicle_type,
                             "duty": route.duty + 1, "layout": route.layout, "stop_number": number, "kind": stop.kind,
                             "location": stop.location, "place": names.get(stop.location, stop.location),
                             "trip_id": stop.trip_id or "", "service": stop.service or "",
                             "needs": problem.trip(stop.trip_id).needs_text if stop.trip_id else "",
                             "arrival": format_clock(stop.arrival_s), "service_start": format_clock(stop.service_start_s),
                             "departure": format_clock(stop.departure_s),
                             "seats_on_board": stop.load.get("seats", 0),
                             "wheelchairs_on_board": stop.load.get("wheelchair_spaces", 0),
                             "stretchers_on_board": stop.load.get("stretchers", 0)})
    return rows
