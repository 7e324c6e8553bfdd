"""Re-planning a published day with the least disruption.

    changes = changes_from_document(json.load(open("changes.json")), problem, published)
    result = replan(problem, published, changes, ReplanOptions(prices=DisruptionPrices(moved_vehicle=25)))
    result.plan          # the new checked plan
    result.calls         # each change a dispatcher must phone through

What it does (the engine's search cannot price disruption, so this is the honest simpler way):

1. the published routes are kept; the trips a change touches are taken out of them (a cancelled
   trip, a trip whose window moved and no longer fits where it was, the trips of a vehicle off the
   road from its time on); a vehicle off the road carries nothing after its time;
2. each trip taken out, and each trip added, is put back where it costs least counting the
   disruption price: the route's cost rise, plus the price of every passenger the insertion moves
   to another vehicle or whose pickup it shifts beyond the tolerance (the other passengers of the
   route included), against its contract price; stops before ``now`` never move and nothing is
   placed before ``now``. The places are tested in compiled code first (engine/places.py) and
   only those that can still be cheapest are timed, as the plan is, in Python;
3. with ``ReplanOptions.resolve``, a full search is also run from those repaired routes; its routes
   are matched to the published vehicles (a type's vehicles are alike, so a vehicle is the one
   sharing most passengers) and it is kept only if it leaves every stop before ``now`` where it was,
   honours every vehicle off the road and its cost plus disruption price is lower.

The published plan is read, never written.
"""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping, Sequence

from optimiser.checker import checked_plan
from optimiser.domain.model import Problem, Trip, format_clock, parse_clock
from optimiser.domain.plan import ContractedTrip, Plan, RouteOrder, UnservedTrip, build_plan, route_order, time_route
from optimiser.engine.places import InsertionPlaces
from optimiser.errors import InputFormatError, ItuError, ProblemError
from optimiser.options import SolveOptions

#: Change kinds a changes document may hold.
CHANGE_KINDS = ("cancel", "add", "move_window", "vehicle_off")
WINDOW_FIELDS = ("earliest_pickup", "latest_pickup", "earliest_arrival", "latest_arrival")
#: Two stop times this close (seconds) are the same time.
SAME_TIME_S = 1.0


# ------------------------------------------------------------------------------ parameters
@dataclass(frozen=True)
class DisruptionPrices:
    """What disruption costs, in pounds, beside the plan's own cost."""

    #: Per passenger (trip) carried by another vehicle than the published plan's.
    moved_vehicle: float = 20.0
    #: Per pickup moved further than ``tolerance_s`` from the published time.
    moved_pickup: float = 10.0
    tolerance_s: float = 600.0

    def __post_init__(self):
        for name in ("moved_vehicle", "moved_pickup", "tolerance_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ProblemError(f"{name} must be a number of at least 0, not {value!r}", where=f"prices.{name}")


@dataclass(frozen=True)
class ReplanOptions:
    prices: DisruptionPrices = field(default_factory=DisruptionPrices)
    #: Also run a full search from the repaired routes and keep it if it is cheaper, disruption
    #: included, and keeps every fixed stop.
    resolve: bool = False
    #: The full search's options (place_left_out is set).
    solve: SolveOptions = field(default_factory=lambda: SolveOptions(time_limit_s=10.0))
    #: Test the places for a trip in compiled code (the search's schedule test) and time exactly
    #: only those that can be cheapest; False: time every place in Python (some 50 times slower;
    #: the reference the compiled test is checked against).
    compiled_places: bool = True


# ------------------------------------------------------------------------------ the changes
@dataclass(frozen=True)
class Cancel:
    index: int
    trip_id: str


@dataclass(frozen=True)
class Add:
    index: int
    trip: Trip


@dataclass(frozen=True)
class MoveWindow:
    index: int
    trip: Trip  # with its new window


@dataclass(frozen=True)
class VehicleOff:
    index: int
    vehicle_type: str
    vehicle_number: int
    from_s: float


@dataclass(frozen=True)
class Changes:
    now_s: float = 0.0
    items: tuple = ()


@dataclass(frozen=True)
class Published:
    """Where each trip was in the published plan: vehicle and stop times."""

    vehicle: Mapping[str, tuple[str, int]]
    pickup_s: Mapping[str, float]
    dropoff_s: Mapping[str, float]
    contracted: frozenset

    @classmethod
    def of(cls, plan: Plan) -> "Published":
        vehicle, pickup, dropoff = {}, {}, {}
        for route in plan.routes:
            for stop in route.stops:
                if stop.kind == "pickup":
                    vehicle[stop.trip_id] = (route.vehicle_type, route.vehicle_number)
                    pickup[stop.trip_id] = stop.service_start_s
                elif stop.kind == "dropoff":
                    dropoff[stop.trip_id] = stop.service_start_s
        return cls(vehicle, pickup, dropoff, frozenset(c.trip_id for c in plan.contracted))


def _clock(value, where: str) -> float:
    try:
        return parse_clock(value, where=where)
    except ProblemError as exc:
        raise InputFormatError(exc.message, where=exc.where) from None


def changes_from_document(document, problem: Problem, plan: Plan, added: Mapping[str, Trip] | None = None) -> Changes:
    """Changes from a document ``{"now": "07:00", "changes": [{"kind": ...}, ...]}`` checked against
    the day's ``problem`` and its published ``plan``; ``added``: the trips the ``add`` changes name,
    by id (built from their rows by the caller, who knows the travel matrix). Raises
    ``InputFormatError`` naming the change's index and field."""
    if not isinstance(document, Mapping):
        raise InputFormatError("expected an object with now and changes", where="changes")
    now = _clock(document.get("now", "00:00"), "now")
    raw = document.get("changes")
    if not isinstance(raw, list):
        raise InputFormatError("expected a list of changes", where="changes")
    published = Published.of(plan)
    known = {t.id for t in problem.trips}
    added = dict(added or {})
    items, seen = [], set()
    for i, change in enumerate(raw):
        where = f"changes[{i}]"
        if not isinstance(change, Mapping) or change.get("kind") not in CHANGE_KINDS:
            raise InputFormatError(f"expected an object whose kind is one of {', '.join(CHANGE_KINDS)}",
                                   where=f"{where}.kind")
        kind = change["kind"]
        if kind == "vehicle_off":
            items.append(_vehicle_off(i, change, problem, published, now))
            continue
        if kind == "add":
            trip_id = str((change.get("trip") or {}).get("id", ""))
            if trip_id in known or trip_id in seen:
                raise InputFormatError(f"trip {trip_id!r} is already in the day", where=f"{where}.trip.id")
            if trip_id not in added:
                raise InputFormatError(f"no trip row for {trip_id!r}", where=f"{where}.trip")
            trip = added[trip_id]
            if min(trip.latest_pickup_s, trip.latest_arrival_s) < now:
                raise InputFormatError(f"trip {trip_id!r} must be served before now ({format_clock(now)})",
                                       where=f"{where}.trip")
            seen.add(trip_id)
            items.append(Add(i, trip))
            continue
        trip_id = str(change.get("trip_id", ""))
        if trip_id not in known:
            raise InputFormatError(f"unknown trip {trip_id!r}", where=f"{where}.trip_id")
        if trip_id in seen:
            raise InputFormatError(f"trip {trip_id!r} is changed twice", where=f"{where}.trip_id")
        seen.add(trip_id)
        if published.pickup_s.get(trip_id, now) < now:
            raise InputFormatError(f"trip {trip_id!r} was picked up at {format_clock(published.pickup_s[trip_id])}, "
                                   f"before now ({format_clock(now)}): a change in the past", where=f"{where}.trip_id")
        if kind == "cancel":
            items.append(Cancel(i, trip_id))
            continue
        trip = problem.trip(trip_id)
        new = {}
        for name in WINDOW_FIELDS:
            if change.get(name) not in (None, ""):
                new[f"{name}_s"] = _clock(change[name], f"{where}.{name}")
        if not new:
            raise InputFormatError(f"give at least one of {', '.join(WINDOW_FIELDS)}", where=where)
        trip = replace(trip, **new)
        if min(trip.latest_pickup_s, trip.latest_arrival_s) < now:
            raise InputFormatError(f"the new window ends before now ({format_clock(now)}): a change in the past",
                                   where=f"{where}.{next(iter(new))[:-2]}")
        items.append(MoveWindow(i, trip))
    return Changes(now, tuple(items))


def _vehicle_off(i: int, change: Mapping, problem: Problem, published: Published, now: float) -> VehicleOff:
    where = f"changes[{i}]"
    name = str(change.get("vehicle_type", ""))
    vt = next((v for v in problem.vehicle_types if v.name == name), None)
    if vt is None:
        raise InputFormatError(f"unknown vehicle type {name!r}", where=f"{where}.vehicle_type")
    number = change.get("vehicle_number")
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number < vt.count:
        raise InputFormatError(f"{name} has vehicles 0 to {vt.count - 1}, not {number!r}",
                               where=f"{where}.vehicle_number")
    off = _clock(change.get("from", format_clock(now)), f"{where}.from")
    if off < now:
        raise InputFormatError(f"{format_clock(off)} is before now ({format_clock(now)}): a change in the past",
                               where=f"{where}.from")
    for trip_id, vehicle in published.vehicle.items():
        if vehicle == (name, number) and published.pickup_s[trip_id] < now and published.dropoff_s[trip_id] > off:
            raise InputFormatError(f"{name} {number} carries trip {trip_id!r} (on board since "
                                   f"{format_clock(published.pickup_s[trip_id])}) past {format_clock(off)}: a vehicle "
                                   "cannot leave the road with a passenger on board", where=f"{where}.from")
    return VehicleOff(i, name, number, off)


# ------------------------------------------------------------------------------ the result
@dataclass(frozen=True)
class Call:
    """One change a dispatcher phones through."""

    trip_id: str
    reason: str
    old_vehicle: str | None
    old_pickup: str | None
    new_vehicle: str | None
    new_pickup: str | None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


CALL_COLUMNS = ("trip_id", "reason", "old_vehicle", "old_pickup", "new_vehicle", "new_pickup")


@dataclass(frozen=True)
class ReplanResult:
    plan: Plan
    calls: tuple[Call, ...]
    disruption: float
    published_cost: float
    #: "repair" or "full search".
    method: str
    notes: tuple[str, ...] = ()
    #: The day after the changes (cancelled trips gone, added ones in): what ``plan`` plans.
    problem: Problem | None = None

    def to_dict(self) -> dict:
        return {"method": self.method, "cost": round(self.plan.cost.total, 2),
                "published_cost": round(self.published_cost, 2), "disruption": round(self.disruption, 2),
                "calls": [c.to_dict() for c in self.calls], "notes": list(self.notes)}

    def calls_csv(self) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, CALL_COLUMNS)
        writer.writeheader()
        for call in self.calls:
            writer.writerow(call.to_dict())
        return out.getvalue()

    def markdown(self) -> str:
        lines = [f"# Re-plan of {self.plan.problem_name}", "",
                 f"- method: {self.method}",
                 f"- cost £{self.plan.cost.total:,.2f} a day (published £{self.published_cost:,.2f}); "
                 f"disruption price £{self.disruption:,.2f}",
                 f"- {len(self.calls)} calls to make", *[f"- {n}" for n in self.notes], "",
                 "| trip | why | old vehicle | old pickup | new vehicle | new pickup |", "|---|---|---|---|---|---|"]
        for c in self.calls:
            lines.append(f"| {c.trip_id} | {c.reason} | {c.old_vehicle or '-'} | {c.old_pickup or '-'} | "
                         f"{c.new_vehicle or '-'} | {c.new_pickup or '-'} |")
        return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------ re-planning
class _Day:
    """The repair's working state: route orders by (type, number, duty), and the pricing."""

    def __init__(self, problem: Problem, published: Published, prices: DisruptionPrices, now: float,
                 off: Mapping[tuple[str, int], float]):
        self.problem, self.published, self.prices, self.now, self.off = problem, published, prices, now, off
        self.trip_ids = frozenset(t.id for t in problem.trips)

    def disruption_of(self, trip_id: str, vehicle: tuple[str, int] | None, pickup_s: float | None) -> float:
        old = self.published.vehicle.get(trip_id)
        if old is None:
            return 0.0  # added, or contracted before: nobody was told a vehicle
        price = 0.0
        if vehicle != old:
            price += self.prices.moved_vehicle
        if pickup_s is None or abs(pickup_s - self.published.pickup_s[trip_id]) > self.prices.tolerance_s:
            price += self.prices.moved_pickup
        return price

    def route_price(self, order: RouteOrder):
        """(cost + disruption of the route, timed route), or None when it breaks a rule of the re-plan."""
        if not order.events:
            return 0.0, None
        if not _fits_on_board(order):
            return None
        try:
            route = time_route(self.problem, order)
        except ProblemError:
            return None
        vehicle = (order.vehicle_type.name, order.vehicle_number)
        off = self.off.get(vehicle)
        price = route.cost
        for stop in route.stops:
            if stop.trip_id is None:
                continue
            if off is not None and stop.service_start_s > off + SAME_TIME_S:
                return None
            old = (self.published.pickup_s if stop.kind == "pickup" else self.published.dropoff_s).get(stop.trip_id)
            fixed = old is not None and old < self.now
            if fixed and (abs(stop.service_start_s - old) > SAME_TIME_S
                          or self.published.vehicle[stop.trip_id] != vehicle):
                return None
            if not fixed and stop.service_start_s < self.now - SAME_TIME_S:
                return None
            if stop.kind == "pickup":
                price += self.disruption_of(stop.trip_id, vehicle, stop.service_start_s)
        return price, route


def _pinned(trip: Trip, published: Published, now: float) -> Trip:
    """``trip`` with its stops served before now pinned to their published times: a route's
    schedule is chosen afresh each time it is timed, and what has happened cannot move."""
    pickup, dropoff = published.pickup_s.get(trip.id), published.dropoff_s.get(trip.id)
    if pickup is None or pickup >= now:
        return trip
    # whole seconds either side: the search model keeps its times in whole seconds
    trip = replace(trip, earliest_pickup_s=math.floor(pickup), latest_pickup_s=math.ceil(pickup))
    if dropoff < now:
        trip = replace(trip, earliest_arrival_s=math.floor(dropoff), latest_arrival_s=math.ceil(dropoff))
    return trip


def _fits_on_board(order: RouteOrder) -> bool:
    """Every stop's load within the layout, and a passenger travelling alone alone on board
    (timing a route does not look at either)."""
    capacity = order.layout.capacity
    on_board: set = set()
    load = dict.fromkeys(capacity, 0)
    for kind, trip in order.events:
        sign = 1 if kind == "pickup" else -1
        (on_board.add if kind == "pickup" else on_board.discard)(trip.id)
        for resource, amount in trip.demand.items():
            load[resource] = load.get(resource, 0) + sign * amount
            if load[resource] > capacity.get(resource, 0):
                return False
        if kind == "pickup" and len(on_board) > 1 and any(t.travels_alone for k, t in order.events
                                                          if t.id in on_board):
            return False
    return True


def _published_orders(day: _Day, plan: Plan, original: Problem) -> list[RouteOrder]:
    """The published routes on the changed day: cancelled trips gone, moved windows applied."""
    orders = []
    for route in plan.routes:
        order = route_order(original, route)
        events = tuple((kind, day.problem.trip(trip.id)) for kind, trip in order.events if trip.id in day.trip_ids)
        orders.append(replace(order, events=events))
    return orders


def replan(problem: Problem, plan: Plan, changes: Changes, options: ReplanOptions | None = None, *,
           cancel=None) -> ReplanResult:
    """A new checked plan for ``problem`` (the day as published) after ``changes``, changing as
    little as the disruption price makes worthwhile. ``plan`` is not altered. ``cancel`` (anything
    with ``is_set()``) stops the full search early, as it stops ``solve``: its best routes so far
    are weighed against the repair's."""
    options = options or ReplanOptions()
    now = changes.now_s
    published = Published.of(plan)
    cancelled = {c.trip_id for c in changes.items if isinstance(c, Cancel)}
    moved = {c.trip.id: c.trip for c in changes.items if isinstance(c, MoveWindow)}
    added = [c.trip for c in changes.items if isinstance(c, Add)]
    off = {(c.vehicle_type, c.vehicle_number): c.from_s for c in changes.items if isinstance(c, VehicleOff)}
    trips = [_pinned(moved.get(t.id, t), published, now) for t in problem.trips if t.id not in cancelled] + added
    day_problem = replace(problem, trips=tuple(trips))
    day = _Day(day_problem, published, options.prices, now, off)

    reasons: dict[str, str] = {t.id: "added" for t in added}
    for trip_id in moved:
        reasons[trip_id] = "window moved"
    orders: dict[tuple[str, int, int], RouteOrder] = {}
    waiting: list[str] = [t.id for t in added]
    for order in _published_orders(day, plan, problem):
        vehicle = (order.vehicle_type.name, order.vehicle_number)
        out = set()
        for kind, trip in order.events:
            if vehicle in off and published.dropoff_s[trip.id] > off[vehicle] - SAME_TIME_S \
                    and published.pickup_s[trip.id] >= now:
                out.add(trip.id)
                reasons.setdefault(trip.id, "vehicle off the road")
        keep = tuple(e for e in order.events if e[1].id not in out)
        kept = replace(order, events=keep)
        if day.route_price(kept) is None:
            # a moved window that no longer fits: take the moved trips out, then any not yet begun
            trial = replace(kept, events=tuple(e for e in keep if e[1].id not in moved))
            out |= {e[1].id for e in keep if e[1].id in moved}
            if day.route_price(trial) is None:
                trial = replace(kept, events=tuple(e for e in keep if published.pickup_s[e[1].id] < now))
                for e in keep:
                    if published.pickup_s[e[1].id] >= now and e[1].id not in out:
                        out.add(e[1].id)
                        reasons.setdefault(e[1].id, "moved for cost")
            kept = trial
        orders[(order.vehicle_type.name, order.vehicle_number, order.duty)] = kept
        waiting.extend(sorted(out))
    listed = set(published.vehicle) | published.contracted | {u.trip_id for u in plan.unserved}
    for trip in problem.trips:  # a plan that leaves a trip out altogether: the trip is placed now
        if trip.id not in listed and trip.id not in cancelled:
            waiting.append(trip.id)
            reasons.setdefault(trip.id, "not in the published plan")
    unserved_before = {u.trip_id for u in plan.unserved}
    for trip_id in moved:  # a moved trip that was contracted or unserved is offered to the fleet again
        if trip_id in published.contracted or trip_id in unserved_before:
            waiting.append(trip_id)

    contracted = [c for c in plan.contracted if c.trip_id not in cancelled and c.trip_id not in moved]
    unserved = [u for u in plan.unserved if u.trip_id not in cancelled and u.trip_id not in moved]
    order_of = {tid: k for k, tid in enumerate(waiting)}
    waiting = sorted(dict.fromkeys(waiting), key=lambda t: (day_problem.trip(t).earliest_pickup_s, order_of[t]))
    routes = _Routes(day, orders, options.compiled_places)
    for trip_id in waiting:
        trip = day_problem.trip(trip_id)
        best = _best_insertion(day, routes, trip)
        offer = day_problem.contract_price(trip)
        contract_price = None if offer is None else offer[1] + day.disruption_of(trip_id, None, None)
        if best is not None and (contract_price is None or best[0] <= contract_price):
            routes.put(best[1], best[2])
        elif offer is not None:
            contracted.append(ContractedTrip(trip_id, trip.service, offer[0].name, offer[1],
                                             f"re-planned ({reasons.get(trip_id, 'changed')}): the contract is "
                                             "cheaper than any place in the fleet's routes, disruption included"))
        else:
            unserved.append(UnservedTrip(trip_id, trip.service, f"re-planned ({reasons.get(trip_id, 'changed')}): "
                                                                "no route can take it and no contract applies"))
    repaired = checked_plan(day_problem, build_plan(day_problem, list(orders.values()), contracted, unserved))
    result_plan, method, notes = repaired, "repair", []
    best_score = repaired.cost.total + _disruption(day, repaired)
    if options.resolve:
        searched, why = _full_search(day, list(orders.values()), options.solve, cancel)
        if searched is None:
            notes.append(f"the full search was not kept: {why}")
        else:
            score = searched.cost.total + _disruption(day, searched)
            if score < best_score - 1e-6:
                result_plan, method, best_score = searched, "full search", score
                notes.append(f"the full search from the repaired routes saved £{best_score - score:,.2f}")
            else:
                notes.append("the full search found nothing cheaper, disruption included")
    calls = _calls(day, result_plan, cancelled, reasons)
    return ReplanResult(result_plan, calls, _disruption(day, result_plan), plan.cost.total, method, tuple(notes),
                        day_problem)


def _free_vehicles(problem: Problem, orders: Mapping[tuple[str, int, int], RouteOrder]):
    """Empty (type, number, duty) slots of the fleet, each with every layout."""
    for vt in problem.vehicle_types:
        for number in range(vt.count):
            for duty in range(len(vt.duty_windows)):
                if (vt.name, number, duty) not in orders or not orders[(vt.name, number, duty)].events:
                    for layout in vt.layouts:
                        yield (vt.name, number, duty), RouteOrder(vt, number, layout, (), duty)


def _first_open(day: _Day, events) -> int:
    """The first position of a route after its stops served before now: nothing is placed among them."""
    first = 0
    while first < len(events):
        kind, served = events[first]
        times = day.published.pickup_s if kind == "pickup" else day.published.dropoff_s
        if times.get(served.id, day.now) >= day.now:
            break
        first += 1
    return first


def _not_before_now(trip: Trip, published: Published, now: float) -> Trip:
    """``trip`` as the compiled test of places sees it: its stops not served yet start no earlier
    than the repair allows (``route_price`` refuses a schedule that puts them before now), so
    the test does not offer places only such a schedule would have."""
    earliest = now - SAME_TIME_S - 1.0  # a second's margin: the test only narrows what is timed exactly
    changes = {}
    if published.pickup_s.get(trip.id, now) >= now:
        changes["earliest_pickup_s"] = min(max(trip.earliest_pickup_s, earliest), trip.latest_pickup_s)
    if published.dropoff_s.get(trip.id, now) >= now:
        changes["earliest_arrival_s"] = min(max(trip.earliest_arrival_s, earliest), trip.latest_arrival_s)
    return replace(trip, **changes)


class _Routes:
    """The repair's routes by (type, number, duty), each one's price kept until the route
    changes, and (with ``ReplanOptions.compiled_places``) a copy held as the search holds routes
    to test places in compiled code."""

    def __init__(self, day: _Day, orders: dict, compiled: bool):
        self.day = day
        self.orders = orders
        self._priced: dict = {}
        self.places = None
        self._compiled: set = set()  # routes whose compiled copy matches and has a schedule
        if compiled:
            trips = [_not_before_now(t, day.published, day.now) for t in day.problem.trips]
            self.places = InsertionPlaces(day.problem, trips)
            self._compiled = {(vt.name, number, duty) for vt in day.problem.vehicle_types
                              for number in range(vt.count) for duty in range(len(vt.duty_windows))}
            for key, order in orders.items():
                self._copy(key, order)

    def put(self, key, order: RouteOrder) -> None:
        self.orders[key] = order
        if self.places is not None:
            self._copy(key, order)

    def _copy(self, key, order: RouteOrder) -> None:
        if self.places.set_route(key, order.events):
            self._compiled.add(key)
        else:  # a route timed exactly but not in whole centiseconds: its places are timed in Python
            self._compiled.discard(key)

    def compiled(self, key) -> bool:
        return key in self._compiled

    def price(self, key, order: RouteOrder):
        """``day.route_price(order)`` of the route ``key`` holds now, worked out once."""
        if not order.events:
            return self.day.route_price(order)
        kept = self._priced.get(key)
        if kept is None or kept[0] is not order:
            kept = (order, self.day.route_price(order))
            self._priced[key] = kept
        return kept[1]


def _pickups_beyond_tolerance(day: _Day, route) -> float:
    """The price already paid on ``route`` (timed) for pickups moved beyond the tolerance: the most
    a place on it can take back from the disruption price by pulling them in again."""
    if route is None:
        return 0.0
    late = 0
    for stop in route.stops:
        if stop.kind == "pickup" and stop.trip_id in day.published.vehicle:
            if abs(stop.service_start_s - day.published.pickup_s[stop.trip_id]) > day.prices.tolerance_s:
                late += 1
    return late * day.prices.moved_pickup


def _best_insertion(day: _Day, routes: _Routes, trip: Trip):
    """(price rise, key, new order) of the cheapest place for ``trip``, or None.

    Every place on every route and idle vehicle is a candidate; a candidate's exact price comes
    from timing its route (``route_price``). With compiled places, only the places with a
    schedule are candidates, each with a lower bound on its price rise (the compiled route cost
    rise, the day rate of a vehicle not used yet, the price of moving the trip to another
    vehicle, less what the route already pays for late pickups), and they are timed cheapest
    bound first until no bound can beat the best: the same place as timing them all."""
    orders = routes.orders
    used = {(k[0], k[1]) for k, o in orders.items() if o.events}
    candidates = [(k, o) for k, o in orders.items() if o.events] + list(_free_vehicles(day.problem, orders))
    old_vehicle = day.published.vehicle.get(trip.id)
    bounds = []  # (bound, rank, i, j)
    open_routes = []  # (rank, key, order, base, first gap)
    asked: dict = {}  # route key -> its index among the compiled routes asked about
    for rank, (key, order) in enumerate(candidates):
        if not order.layout.fits(trip) or not day.problem.can_carry(order.vehicle_type, trip):
            continue
        before = routes.price(key, order)
        if before is None:
            continue
        base = before[0]
        if not order.events and (key[0], key[1]) in used:
            base += order.vehicle_type.cost_per_day  # the day rate is paid once a vehicle
        first = _first_open(day, order.events)
        open_routes.append((rank, key, order, base, first))
        if routes.compiled(key):
            asked.setdefault(key, len(asked))
        else:
            n = len(order.events)
            bounds.extend((-math.inf, rank, i, j) for i in range(first, n + 1) for j in range(i, n + 1))
    if asked:
        by_key = {}
        for rank, key, order, base, first in open_routes:
            by_key.setdefault(key, (order, first))
        # a vehicle off the road: no stop after its time (a second's margin: the exact timing decides)
        ask = [(key, by_key[key][1], day.off.get((key[0], key[1]), math.inf) + SAME_TIME_S + 1.0) for key in asked]
        route_at, gap_i, gap_j, cost, duty = routes.places.places(trip.id, ask)
        rises: dict = {}
        for x, (key, _, _) in enumerate(ask):
            order = by_key[key][0]
            vt = order.vehicle_type
            rate = vt.staff_cost_per_hour / 3600.0
            # Added to any place: its day rate on a vehicle not used yet, the price of a move to
            # another vehicle; taken off: the late pickups the route already pays for. The compiled
            # duty is at most a centisecond an arc longer than the exact one (travel rounded up).
            extra = ((vt.cost_per_day if not order.events and (key[0], key[1]) not in used else 0.0)
                     + (day.prices.moved_vehicle if old_vehicle is not None and old_vehicle != (key[0], key[1])
                        else 0.0)
                     - _pickups_beyond_tolerance(day, routes.price(key, order)[1])
                     - rate * 0.02 * (len(order.events) + 5) - 1e-4)
            rises[x] = (rate, extra)
        for rank, key, order, base, first in open_routes:
            if key not in asked:
                continue
            x = asked[key]
            rate, extra = rises[x]
            mine = route_at == x
            bounds.extend(zip((cost[mine] + duty[mine] * rate + extra).tolist(), [rank] * int(mine.sum()),
                              gap_i[mine].tolist(), gap_j[mine].tolist()))
    bounds.sort()
    by_rank = {r[0]: r for r in open_routes}
    timed = []  # (rank, i, j, rise, key, new order)
    least = math.inf
    for bound, rank, i, j in bounds:
        if bound > least + 1e-9:
            break
        _, key, order, base, _ = by_rank[rank]
        events = order.events
        new = replace(order, events=events[:i] + (("pickup", trip),) + events[i:j] + (("dropoff", trip),) + events[j:])
        priced = day.route_price(new)
        if priced is None:
            continue
        rise = priced[0] - base
        least = min(least, rise)
        timed.append((rank, i, j, rise, key, new))
    best = None
    for rank, i, j, rise, key, new in sorted(timed, key=lambda c: c[:3]):  # as if every place were timed in order
        if best is None or rise < best[0] - 1e-9:
            best = (rise, key, new)
    return best


def _disruption(day: _Day, plan: Plan) -> float:
    where = Published.of(plan)
    total = 0.0
    for trip_id in day.published.vehicle:
        if trip_id in day.trip_ids:
            total += day.disruption_of(trip_id, where.vehicle.get(trip_id), where.pickup_s.get(trip_id))
    return total


def _full_search(day: _Day, start: Sequence[RouteOrder], options: SolveOptions, cancel=None):
    """The full search from the repaired routes, its vehicles matched to the published ones; or
    None and why it cannot be kept."""
    from optimiser.solving import solve

    try:
        plan = solve(day.problem, replace(options, place_left_out=True), start_routes=[o for o in start if o.events],
                     cancel=cancel)
    except ItuError as exc:
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - the repaired plan stands; the search's failure is reported
        return None, f"the search failed ({type(exc).__name__}: {exc})"
    # a type's vehicles are alike: give each searched vehicle the published number it shares most passengers with
    groups: dict[tuple[str, int], set] = {}
    last: dict[tuple[str, int], float] = {}
    for route in plan.routes:
        vehicle = (route.vehicle_type, route.vehicle_number)
        groups.setdefault(vehicle, set()).update(route.trip_ids)
        last[vehicle] = max([last.get(vehicle, 0.0)] + [s.service_start_s for s in route.stops if s.trip_id])
    pairs = []
    for (name, number), trips in groups.items():
        for vt in day.problem.vehicle_types:
            if vt.name == name:
                for target in range(vt.count):
                    if last[(name, number)] > day.off.get((name, target), math.inf) + SAME_TIME_S:
                        continue  # a vehicle off the road cannot drive this one's day
                    shared = sum(1 for t in trips if day.published.vehicle.get(t) == (name, target))
                    pairs.append((-shared, name, number, target))
    pairs.sort()
    mapping, taken = {}, set()
    for _, name, number, target in pairs:
        if (name, number) not in mapping and (name, target) not in taken:
            mapping[(name, number)] = target
            taken.add((name, target))
    if len(mapping) < len(groups):
        return None, "it needs more vehicles than remain on the road"
    orders = [route_order(day.problem, r, mapping[(r.vehicle_type, r.vehicle_number)]) for r in plan.routes]
    for order in orders:
        if day.route_price(order) is None:
            return None, (f"it moves a stop before now or drives {order.vehicle_type.name} {order.vehicle_number} "
                          "while off the road")
    fixed = {t for t, p in day.published.pickup_s.items() if p < day.now and t in day.trip_ids}
    if not fixed <= plan.served_trip_ids:
        return None, "it takes a passenger already picked up off the fleet"
    rebuilt = build_plan(day.problem, orders, plan.contracted, plan.unserved, plan.solver)
    return checked_plan(day.problem, rebuilt), None


def _vehicle_name(vehicle: tuple[str, int] | None) -> str | None:
    return None if vehicle is None else f"{vehicle[0]} {vehicle[1]}"


def _calls(day: _Day, plan: Plan, cancelled: set, reasons: Mapping[str, str]) -> tuple[Call, ...]:
    new = Published.of(plan)
    old = day.published
    calls = []
    for trip_id in sorted(cancelled):
        calls.append(Call(trip_id, "cancelled", _vehicle_name(old.vehicle.get(trip_id)),
                          _time(old.pickup_s.get(trip_id)), None, None))
    for trip in day.problem.trips:
        before, after = old.vehicle.get(trip.id), new.vehicle.get(trip.id)
        t0, t1 = old.pickup_s.get(trip.id), new.pickup_s.get(trip.id)
        changed = before != after or (t0 is not None and t1 is not None
                                            and abs(t1 - t0) > day.prices.tolerance_s)
        if trip.id in reasons and reasons[trip.id] == "added" or changed:
            reason = reasons.get(trip.id, "moved for cost")
            if after is None and trip.id in {c.trip_id for c in plan.contracted}:
                reason += "; contracted"
            calls.append(Call(trip.id, reason, _vehicle_name(before), _time(t0), _vehicle_name(after), _time(t1)))
    return tuple(calls)


def _time(seconds: float | None) -> str | None:
    return None if seconds is None else format_clock(seconds)


# ------------------------------------------------------------------------------ files
def plan_from_document(document, problem: Problem, *, where: str = "plan") -> Plan:
    """A plan as ``itu solve`` writes plan.json, re-timed on ``problem`` (which must hold its trips)."""
    try:
        routes = document["routes"]
        orders = []
        for r, route in enumerate(routes):
            vt = next((v for v in problem.vehicle_types if v.name == route["vehicle_type"]), None)
            if vt is None:
                raise InputFormatError(f"vehicle type {route['vehicle_type']!r} is not in the fleet",
                                       where=f"{where}.routes[{r}]")
            layout = next((x for x in vt.layouts if x.name == route["layout"]), None)
            if layout is None:
                raise InputFormatError(f"{vt.name} has no layout {route['layout']!r}", where=f"{where}.routes[{r}]")
            events = []
            for stop in route["stops"]:
                if stop["kind"] in ("pickup", "dropoff"):
                    if stop["trip_id"] not in {t.id for t in problem.trips}:
                        raise InputFormatError(f"trip {stop['trip_id']!r} is not in the trip file",
                                               where=f"{where}.routes[{r}]")
                    events.append((stop["kind"], problem.trip(stop["trip_id"])))
            orders.append(RouteOrder(vt, int(route["vehicle_number"]), layout, tuple(events),
                                     int(route.get("duty", 0))))
        contracted = [ContractedTrip(**c) for c in document.get("contracted", [])]
        unserved = [UnservedTrip(**u) for u in document.get("unserved", [])]
    except (KeyError, TypeError, ValueError) as exc:
        raise InputFormatError(f"not a plan.json as itu solve writes it ({exc})", where=where) from None
    try:
        return build_plan(problem, orders, contracted, unserved)
    except ProblemError as exc:
        raise InputFormatError(f"the plan does not fit these trips and fleet: {exc}", where=where) from None


def write_replan(result: ReplanResult, out_dir: str | Path) -> list[Path]:
    """``replan.json``, ``calls.csv``, ``replan.md`` and the new ``plan.json`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"replan.json": json.dumps(result.to_dict(), indent=2), "calls.csv": result.calls_csv(),
             "replan.md": result.markdown(), "plan.json": json.dumps(result.plan.to_dict(), indent=2)}
    for name, text in paths.items():
        (out / name).write_text(text)
    return [out / name for name in paths]
