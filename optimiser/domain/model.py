"""The domain model: trips, vehicle types, contract tariffs and the travel matrix.

Objects here are immutable and validated when the ``Problem`` is built: the
solver and the checker may trust every field. Times of day are seconds after
midnight, durations are seconds, distances metres, money pounds; every name
carries its unit where it is not one of those.

People build problems with ``ProblemBuilder`` (clock strings such as
``"08:40"``, minutes for durations); the builder turns them into these objects
and ``Problem`` validates the whole, naming the trip or vehicle and the field
at fault.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np

from optimiser.errors import ProblemError

#: Resources a vehicle layout offers and a trip occupies. Escorts take ordinary seats;
#: ``staff_seats`` exist for fleets that keep seats for accompanying staff only.
RESOURCES = ("seats", "wheelchair_spaces", "stretchers", "staff_seats")

SECONDS_PER_HOUR = 3600
DAY_END_S = 48 * SECONDS_PER_HOUR  # windows may run past midnight; two days is plenty

#: Service time at each stop, by the passenger's need (domain.md: ambulant 1-2 min,
#: wheelchair by tail-lift 4-6 min, stretcher 8-10 min; guesses, changeable per trip).
DEFAULT_SERVICE_MINUTES = MappingProxyType({"ambulant": 2.0, "wheelchair": 5.0, "stretcher": 9.0})

#: Tolerance for comparing times computed in floating point (seconds).
TIME_TOLERANCE_S = 1e-6


def format_clock(seconds: float) -> str:
    """``30600.0`` -> ``"08:30"``; seconds are shown only when not whole minutes."""
    seconds = float(seconds)
    whole = int(round(seconds))
    h, rem = divmod(whole, 3600)
    m, s = divmod(rem, 60)
    return f"{h:02d}:{m:02d}:{s:02d}" if s else f"{h:02d}:{m:02d}"


def parse_clock(value, *, where: str) -> float:
    """A time of day as seconds after midnight, from ``"HH:MM"``, ``"HH:MM:SS"`` or seconds."""
    if isinstance(value, bool):
        raise ProblemError(f"expected a time of day, got {value!r}", where=where)
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ProblemError(f"time {value!r} is not a finite number", where=where)
        return float(value)
    if isinstance(value, str):
        parts = value.strip().split(":")
        if 2 <= len(parts) <= 3 and all(p.strip().isdigit() for p in parts):
            h, m = int(parts[0]), int(parts[1])
            s = int(parts[2]) if len(parts) == 3 else 0
            if m < 60 and s < 60:
                return float(h * 3600 + m * 60 + s)
        raise ProblemError(f"cannot read {value!r} as a time of day (expected HH:MM)", where=where)
    raise ProblemError(f"expected a time of day, got {type(value).__name__}", where=where)


def parse_duties(value, *, where: str) -> tuple[tuple[float, float], ...]:
    """Duties as ``"07:00-10:30; 14:30-18:30"``, ``["07:00-10:30", ...]`` or ``[["07:00", "10:30"], ...]``."""
    if value is None or value == "":
        return ()
    parts = str(value).replace(",", ";").split(";") if isinstance(value, str) else list(value)
    duties = []
    for j, part in enumerate(parts):
        if isinstance(part, str):
            part = part.strip()
            if not part:
                continue
            ends = part.split("-")
        else:
            ends = list(part)
        if len(ends) != 2:
            raise ProblemError(f"cannot read duty {part!r}: expected a start and an end, e.g. '07:00-10:30'",
                               where=f"{where}[{j}]")
        duties.append((parse_clock(ends[0], where=f"{where}[{j}]"), parse_clock(ends[1], where=f"{where}[{j}]")))
    return tuple(duties)


@dataclass(frozen=True)
class TravelMatrix:
    """Travel times (seconds) and road distances (metres) between named locations.

    Supplied from outside: ``geodata`` builds them from road networks; ``crow_fly``
    below is enough for tests and quick studies. Arrays are made read-only.
    """

    location_ids: tuple[str, ...]
    seconds: np.ndarray
    metres: np.ndarray
    index: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        ids = tuple(str(i) for i in self.location_ids)
        n = len(ids)
        if len(set(ids)) != n:
            dup = sorted({i for i in ids if ids.count(i) > 1})[:3]
            raise ProblemError(f"duplicate location ids {dup}", where="matrix.location_ids")
        seconds = np.array(self.seconds, dtype=float)
        metres = np.array(self.metres, dtype=float)
        for name, arr in (("seconds", seconds), ("metres", metres)):
            if arr.shape != (n, n):
                raise ProblemError(f"{name} has shape {arr.shape}, expected ({n}, {n})", where=f"matrix.{name}")
            if not np.all(np.isfinite(arr)):
                raise ProblemError("contains missing or infinite values (unreachable locations?)", where=f"matrix.{name}")
            if np.any(arr < 0):
                raise ProblemError("contains negative values", where=f"matrix.{name}")
            arr.setflags(write=False)
        object.__setattr__(self, "location_ids", ids)
        object.__setattr__(self, "seconds", seconds)
        object.__setattr__(self, "metres", metres)
        object.__setattr__(self, "index", MappingProxyType({loc: i for i, loc in enumerate(ids)}))

    def __reduce__(self):  # the read-only index is rebuilt, not pickled
        return (TravelMatrix, (self.location_ids, self.seconds, self.metres))

    def position(self, location_id: str, *, where: str) -> int:
        try:
            return self.index[location_id]
        except KeyError:
            raise ProblemError(f"unknown location {location_id!r}", where=where) from None

    def travel_s(self, a: str, b: str) -> float:
        return float(self.seconds[self.index[a], self.index[b]])

    def distance_m(self, a: str, b: str) -> float:
        return float(self.metres[self.index[a], self.index[b]])


EARTH_RADIUS_M = 6_371_008.8
#: Roads are longer than the straight line: 1.3 is a common rural/suburban circuity
#: figure (Boscoe et al. 2012 report a mean detour index near 1.4 for the US); changeable.
DEFAULT_CIRCUITY = 1.3
DEFAULT_SPEED_KPH = 40.0


def great_circle_m(points: Mapping[str, tuple[float, float]]) -> tuple[list[str], np.ndarray]:
    """The ids and the matrix of great-circle distances (metres, haversine) between
    ``{location_id: (latitude, longitude)}``."""
    ids = list(points)
    lat = np.radians([points[i][0] for i in ids])
    lon = np.radians([points[i][1] for i in ids])
    dlat = lat[:, None] - lat[None, :]
    dlon = lon[:, None] - lon[None, :]
    a = np.sin(dlat / 2) ** 2 + np.cos(lat)[:, None] * np.cos(lat)[None, :] * np.sin(dlon / 2) ** 2
    return ids, 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def crow_fly(points: Mapping[str, tuple[float, float]], *, circuity: float = DEFAULT_CIRCUITY,
             speed_kph: float = DEFAULT_SPEED_KPH) -> TravelMatrix:
    """A travel matrix from ``{location_id: (latitude, longitude)}``: great-circle distance
    times a circuity factor, at one average speed. Enough for tests and first studies."""
    if circuity < 1 or speed_kph <= 0:
        raise ProblemError("circuity must be at least 1 and speed positive", where="crow_fly")
    ids, straight = great_circle_m(points)
    metres = straight * circuity
    return TravelMatrix(tuple(ids), metres / (speed_kph / 3.6), metres)


@dataclass(frozen=True)
class Trip:
    """One journey of one passenger (or a group travelling together) for one service."""

    id: str
    service: str
    pickup: str
    dropoff: str
    earliest_pickup_s: float = 0.0
    latest_pickup_s: float = DAY_END_S
    earliest_arrival_s: float = 0.0
    latest_arrival_s: float = DAY_END_S
    pickup_service_s: float = 120.0
    dropoff_service_s: float = 120.0
    seats: int = 1
    wheelchair_spaces: int = 0
    stretchers: int = 0
    staff_seats: int = 0
    escorts: int = 0
    travels_alone: bool = False
    needs_assistant: bool = False
    max_ride_s: float | None = None
    max_ride_factor: float | None = None

    @property
    def need(self) -> str:
        """``stretcher``, ``wheelchair`` or ``ambulant``: selects defaults and tariffs."""
        if self.stretchers:
            return "stretcher"
        if self.wheelchair_spaces:
            return "wheelchair"
        return "ambulant"

    @property
    def needs_text(self) -> str:
        """What a driver is told of the passenger's needs: ``wheelchair, 1 escort, passenger assistant``."""
        words = [self.need]
        if self.escorts:
            words.append(f"{self.escorts} escort" + ("s" if self.escorts > 1 else ""))
        if self.needs_assistant:
            words.append("passenger assistant")
        if self.travels_alone:
            words.append("travels alone")
        return ", ".join(words)

    @property
    def demand(self) -> Mapping[str, int]:
        """What the trip occupies on board, per resource (escorts take seats)."""
        return {"seats": self.seats + self.escorts, "wheelchair_spaces": self.wheelchair_spaces,
                "stretchers": self.stretchers, "staff_seats": self.staff_seats}

    @property
    def passengers(self) -> int:
        return self.seats + self.wheelchair_spaces + self.stretchers + self.escorts + self.staff_seats


@dataclass(frozen=True)
class Layout:
    """One configuration of a vehicle's interior (e.g. 16 seats, or 12 seats + 1 wheelchair)."""

    name: str
    seats: int = 0
    wheelchair_spaces: int = 0
    stretchers: int = 0
    staff_seats: int = 0

    @property
    def capacity(self) -> Mapping[str, int]:
        return {r: getattr(self, r) for r in RESOURCES}

    def fits(self, trip: Trip) -> bool:
        return all(trip.demand[r] <= self.capacity[r] for r in RESOURCES)

    def describe(self) -> str:
        words = {"seats": "seats", "wheelchair_spaces": "wheelchair", "stretchers": "stretcher",
                 "staff_seats": "staff seats"}
        return " + ".join(f"{v} {words[r]}" for r, v in self.capacity.items() if v) or "empty"


#: The words of a layout's text ("12 seats + 1 wheelchair") and the resource each counts.
LAYOUT_WORDS = {"seat": "seats", "seats": "seats", "wheelchair": "wheelchair_spaces", "wheelchairs":
                "wheelchair_spaces", "stretcher": "stretchers", "stretchers": "stretchers", "staff": "staff_seats"}


def parse_layouts(text: str) -> list[Layout]:
    """``"16 seats | 12 seats + 1 wheelchair | 8 seats + 2 wheelchairs"`` -> three layouts. Fleet
    files and contract registers both describe vehicles this way."""
    layouts = []
    for part in str(text).split("|"):
        part = part.strip()
        if not part:
            continue
        counts: dict[str, int] = {}
        for term in part.split("+"):
            words = term.split()
            try:
                if len(words) != 2 or words[1].lower() not in LAYOUT_WORDS:
                    raise ValueError
                number = float(words[0])
                if not number.is_integer() or number < 0:
                    raise ValueError
                counts[LAYOUT_WORDS[words[1].lower()]] = int(number)
            except ValueError:
                raise ValueError(f"cannot read {term.strip()!r}: expected e.g. '12 seats + 1 wheelchair'") from None
        layouts.append(Layout(part, **counts))
    if not layouts:
        raise ValueError("no layout given")
    return layouts


@dataclass(frozen=True)
class VehicleType:
    """A kind of vehicle in the fleet, how many there are, where and when they work, what they cost."""

    name: str
    count: int
    depot: str
    layouts: tuple[Layout, ...]
    shift_start_s: float = 0.0
    shift_end_s: float = DAY_END_S
    max_duty_s: float | None = None
    passenger_assistant: bool = False
    cost_per_day: float = 0.0
    cost_per_km: float = 0.0
    cost_per_hour: float = 0.0
    assistant_cost_per_hour: float = 0.0
    co2_kg_per_km: float = 0.0
    #: Services this vehicle may carry; empty means every service.
    services: frozenset[str] = frozenset()
    #: Split shifts: the (start, end) of each duty within the shift, in order. A vehicle may
    #: drive one route per duty; its driver is paid for the duties, not the hours between them
    #: (SEN drivers work split shifts: docs/domain.md), and its day rate is paid once. Empty: one
    #: duty, the whole shift.
    duties: tuple[tuple[float, float], ...] = ()

    @property
    def duty_windows(self) -> tuple[tuple[float, float], ...]:
        return self.duties or ((self.shift_start_s, self.shift_end_s),)

    def duty_limit_within(self, window: tuple[float, float]) -> float:
        """The longest a route may last in this duty: the duty's length or the maximum duty."""
        length = window[1] - window[0]
        return length if self.max_duty_s is None else min(length, self.max_duty_s)

    @property
    def staff_cost_per_hour(self) -> float:
        return self.cost_per_hour + (self.assistant_cost_per_hour if self.passenger_assistant else 0.0)

    def may_carry_service(self, service: str) -> bool:
        return not self.services or service in self.services


@dataclass(frozen=True)
class ContractTariff:
    """What a taxi or contracted operator charges to carry one trip on its own:
    a flag fall plus a price per km of the direct route."""

    name: str
    flag_fall: float
    per_km: float
    #: Services and needs (ambulant, wheelchair, stretcher) it applies to; empty means all.
    services: frozenset[str] = frozenset()
    needs: frozenset[str] = frozenset()
    #: Whether the operator can provide a passenger assistant for trips that need one.
    provides_assistant: bool = True

    def applies_to(self, trip: Trip) -> bool:
        return ((not self.services or trip.service in self.services)
                and (not self.needs or trip.need in self.needs)
                and (self.provides_assistant or not trip.needs_assistant))

    def price(self, direct_km: float) -> float:
        return self.flag_fall + self.per_km * direct_km


@dataclass(frozen=True)
class Problem:
    """A validated, immutable planning problem: trips, fleet, tariffs and the travel matrix."""

    trips: tuple[Trip, ...]
    vehicle_types: tuple[VehicleType, ...]
    matrix: TravelMatrix
    tariffs: tuple[ContractTariff, ...] = ()
    name: str = "problem"
    #: (trip id, vehicle type name, vehicle number): a trip the fleet carries only on that vehicle
    #: (any of its duties), e.g. a regular passenger's vehicle all week; the search contracts it
    #: only where that vehicle cannot take it.
    assigned_vehicles: tuple[tuple[str, str, int], ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "trips", tuple(self.trips))
        object.__setattr__(self, "vehicle_types", tuple(self.vehicle_types))
        object.__setattr__(self, "tariffs", tuple(self.tariffs))
        object.__setattr__(self, "assigned_vehicles", tuple(tuple(a) for a in self.assigned_vehicles))
        _validate(self)

    def __reduce__(self):  # caches are rebuilt, not pickled
        return (Problem, (self.trips, self.vehicle_types, self.matrix, self.tariffs, self.name, self.assigned_vehicles))

    def assigned_vehicle(self, trip_id: str) -> tuple[str, int] | None:
        """The (vehicle type name, number) ``trip_id`` must ride if the fleet carries it, or None."""
        cached = self.__dict__.get("_assigned_cache")
        if cached is None:
            cached = {t: (name, int(number)) for t, name, number in self.assigned_vehicles}
            object.__setattr__(self, "_assigned_cache", cached)
        return cached.get(trip_id)

    # -- derived facts the solver, checker and reports share -------------------------
    def trip(self, trip_id: str) -> Trip:
        return self._trip_index[trip_id]

    @property
    def _trip_index(self) -> Mapping[str, Trip]:
        cached = self.__dict__.get("_trip_index_cache")
        if cached is None:
            cached = {t.id: t for t in self.trips}
            object.__setattr__(self, "_trip_index_cache", cached)
        return cached

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(sorted({t.service for t in self.trips}))

    def direct_s(self, trip: Trip) -> float:
        return self.matrix.travel_s(trip.pickup, trip.dropoff)

    def direct_km(self, trip: Trip) -> float:
        return self.matrix.distance_m(trip.pickup, trip.dropoff) / 1000.0

    def ride_cap_s(self, trip: Trip) -> float | None:
        """The ride-time cap in force: the tighter of the absolute cap and the factor of direct time."""
        caps = []
        if trip.max_ride_s is not None:
            caps.append(trip.max_ride_s)
        if trip.max_ride_factor is not None:
            caps.append(trip.max_ride_factor * self.direct_s(trip))
        return min(caps) if caps else None

    def contract_price(self, trip: Trip) -> tuple[ContractTariff, float] | None:
        """The cheapest tariff that carries this trip, and its price; None if none applies."""
        offers = [(t.price(self.direct_km(trip)), i, t) for i, t in enumerate(self.tariffs) if t.applies_to(trip)]
        if not offers:
            return None
        price, _, tariff = min(offers)
        return tariff, price

    def can_carry(self, vehicle_type: VehicleType, trip: Trip) -> bool:
        return (vehicle_type.may_carry_service(trip.service)
                and (vehicle_type.passenger_assistant or not trip.needs_assistant)
                and any(layout.fits(trip) for layout in vehicle_type.layouts))

    def why_fleet_cannot_carry(self, trip: Trip) -> str | None:
        """A planner's sentence for why no vehicle type can carry this trip, or None if one can."""
        types = [v for v in self.vehicle_types if v.may_carry_service(trip.service)]
        if not types:
            return f"no vehicle type may carry service {trip.service!r}"
        if trip.needs_assistant and not any(v.passenger_assistant for v in types):
            return "needs a passenger assistant; no vehicle type carries one"
        if trip.needs_assistant:
            types = [v for v in types if v.passenger_assistant]
        if any(self.can_carry(v, trip) for v in types):
            return None
        words = {"seats": "seats", "wheelchair_spaces": "wheelchair spaces", "stretchers": "stretcher spaces",
                 "staff_seats": "staff seats"}
        for resource in RESOURCES:
            need = trip.demand[resource]
            largest = max(layout.capacity[resource] for v in types for layout in v.layouts)
            if need > largest:
                return f"needs {need} {words[resource]}; largest layout has {largest}"
        return "no single layout offers all of its needs at once (" + ", ".join(
            f"{trip.demand[r]} {words[r]}" for r in RESOURCES if trip.demand[r]) + ")"


def _validate(problem: Problem) -> None:
    for fault in _faults(problem):
        raise fault


def problem_faults(trips: Sequence[Trip], vehicle_types: Sequence[VehicleType], matrix: TravelMatrix,
                   tariffs: Sequence[ContractTariff] = ()) -> list[ProblemError]:
    """Every fault of a would-be problem at once (``Problem(...)`` stops at the first).

    File readers use it to list every bad row in one go. Trip faults carry ``trip_id`` and
    ``field`` attributes so a reader can point at the row and column."""
    draft = object.__new__(Problem)
    for name, value in (("trips", tuple(trips)), ("vehicle_types", tuple(vehicle_types)), ("matrix", matrix),
                        ("tariffs", tuple(tariffs)), ("name", "draft"), ("assigned_vehicles", ())):
        object.__setattr__(draft, name, value)
    return list(_faults(draft))


def _trip_fault(trip: Trip, field_name: str | None, message: str) -> ProblemError:
    fault = ProblemError(message, where=f"trip {trip.id}" + (f".{field_name}" if field_name else ""))
    fault.trip_id, fault.field = trip.id, field_name
    return fault


def _faults(problem: Problem) -> Iterator[ProblemError]:
    matrix = problem.matrix
    if not problem.vehicle_types and not problem.tariffs:
        yield ProblemError("a problem needs at least one vehicle type or one contract tariff", where="fleet")
    seen: set[str] = set()
    for i, v in enumerate(problem.vehicle_types):
        yield from _vehicle_type_faults(v, f"vehicle_types[{i}] ({v.name})", seen, matrix)
    for i, t in enumerate(problem.tariffs):
        for name in ("flag_fall", "per_km"):
            value = getattr(t, name)
            if not math.isfinite(value) or value < 0:
                yield ProblemError(f"{name} {value} must be a non-negative number",
                                   where=f"tariffs[{i}] ({t.name}).{name}")
        bad = set(t.needs) - set(DEFAULT_SERVICE_MINUTES)
        if bad:
            yield ProblemError(f"unknown needs {sorted(bad)} (use ambulant, wheelchair, stretcher)",
                               where=f"tariffs[{i}] ({t.name}).needs")
    ids: set[str] = set()
    for i, trip in enumerate(problem.trips):
        if not trip.id:
            yield ProblemError("trip has an empty id", where=f"trips[{i}].id")
            continue
        if trip.id in ids:
            yield _trip_fault(trip, "id", "duplicate trip id")
            continue
        ids.add(trip.id)
        # one fault per trip: a later check would only repeat the first in other words
        fault = next(_trip_faults(problem, trip), None)
        if fault is not None:
            yield fault
    yield from _assignment_faults(problem, ids)


def _assignment_faults(problem: Problem, trip_ids: set[str]) -> Iterator[ProblemError]:
    types = {v.name: v for v in problem.vehicle_types}
    assigned: set[str] = set()
    for i, row in enumerate(problem.assigned_vehicles):
        where = f"assigned_vehicles[{i}]"
        if len(row) != 3:
            yield ProblemError(f"must be (trip id, vehicle type, vehicle number), not {row!r}", where=where)
            continue
        trip_id, name, number = row
        if trip_id not in trip_ids:
            yield ProblemError(f"unknown trip {trip_id!r}", where=f"{where}.trip_id")
        elif trip_id in assigned:
            yield ProblemError(f"trip {trip_id!r} is assigned twice", where=f"{where}.trip_id")
        elif name not in types:
            yield ProblemError(f"unknown vehicle type {name!r}", where=f"{where}.vehicle_type")
        elif isinstance(number, bool) or not isinstance(number, (int, np.integer)) or not 0 <= number < types[name].count:
            yield ProblemError(f"vehicle number {number!r} is not one of {name}'s 0 to {types[name].count - 1}",
                               where=f"{where}.vehicle_number")
        elif not problem.can_carry(types[name], problem.trip(trip_id)):
            yield ProblemError(f"trip {trip_id!r} is assigned to {name}, which cannot carry it", where=where)
        assigned.add(trip_id)


def _vehicle_type_faults(v: VehicleType, where: str, seen: set[str], matrix: TravelMatrix) -> Iterator[ProblemError]:
    if v.name in seen:
        yield ProblemError("duplicate vehicle type name", where=f"{where}.name")
    seen.add(v.name)
    if v.depot not in matrix.index:
        yield ProblemError(f"unknown location {v.depot!r}", where=f"{where}.depot")
    if v.count < 0:
        yield ProblemError(f"count {v.count} is negative", where=f"{where}.count")
    if not v.layouts:
        yield ProblemError("has no layout", where=f"{where}.layouts")
    for j, layout in enumerate(v.layouts):
        for r in RESOURCES:
            if layout.capacity[r] < 0:
                yield ProblemError(f"{r} is negative", where=f"{where}.layouts[{j}].{r}")
    if v.shift_end_s <= v.shift_start_s:
        yield ProblemError("shift ends before it starts", where=f"{where}.shift_end")
    previous_end = v.shift_start_s
    for j, (start, end) in enumerate(v.duties):
        if end <= start:
            yield ProblemError(f"duty {j + 1} ends before it starts", where=f"{where}.duties[{j}]")
        elif start < previous_end - TIME_TOLERANCE_S or end > v.shift_end_s + TIME_TOLERANCE_S:
            yield ProblemError(f"duty {j + 1} ({format_clock(start)}-{format_clock(end)}) must lie within the shift "
                               f"({format_clock(v.shift_start_s)}-{format_clock(v.shift_end_s)}) and after the "
                               "duty before it", where=f"{where}.duties[{j}]")
        previous_end = max(previous_end, end)
    if v.max_duty_s is not None and v.max_duty_s <= 0:
        yield ProblemError("maximum duty must be positive", where=f"{where}.max_duty")
    for name in ("cost_per_day", "cost_per_km", "cost_per_hour", "assistant_cost_per_hour", "co2_kg_per_km"):
        value = getattr(v, name)
        if not math.isfinite(value) or value < 0:
            yield ProblemError(f"{name} {value} must be a non-negative number", where=f"{where}.{name}")


def _trip_faults(problem: Problem, trip: Trip) -> Iterator[ProblemError]:
    matrix = problem.matrix
    if not trip.service:
        yield _trip_fault(trip, "service", "service is empty")
    for name in ("pickup", "dropoff"):
        if getattr(trip, name) not in matrix.index:
            yield _trip_fault(trip, name, f"unknown location {getattr(trip, name)!r}")
            return
    for name in ("seats", "wheelchair_spaces", "stretchers", "staff_seats", "escorts"):
        if getattr(trip, name) < 0:
            yield _trip_fault(trip, name, f"{name} is negative")
    if trip.passengers == 0:
        yield _trip_fault(trip, "seats", "carries nobody: seats, wheelchair spaces and stretchers are all zero")
    for name in ("pickup_service_s", "dropoff_service_s"):
        if getattr(trip, name) < 0:
            yield _trip_fault(trip, name, "service time is negative")
    if trip.latest_pickup_s < trip.earliest_pickup_s:
        yield _trip_fault(trip, "latest_pickup",
                          f"pickup window closes ({format_clock(trip.latest_pickup_s)}) before it opens "
                          f"({format_clock(trip.earliest_pickup_s)})")
    if trip.latest_arrival_s < trip.earliest_arrival_s:
        yield _trip_fault(trip, "latest_arrival",
                          f"arrival window closes ({format_clock(trip.latest_arrival_s)}) before it opens "
                          f"({format_clock(trip.earliest_arrival_s)})")
    direct_s = problem.direct_s(trip)
    earliest_possible_arrival = trip.earliest_pickup_s + trip.pickup_service_s + direct_s
    if earliest_possible_arrival > trip.latest_arrival_s + TIME_TOLERANCE_S:
        yield _trip_fault(trip, "latest_arrival",
                          f"cannot arrive by {format_clock(trip.latest_arrival_s)}: picked up at "
                          f"{format_clock(trip.earliest_pickup_s)} at the earliest, the direct journey alone "
                          f"arrives {format_clock(earliest_possible_arrival)}")
    if trip.max_ride_s is not None and trip.max_ride_s < 0:
        yield _trip_fault(trip, "max_ride", "ride-time cap is negative")
    if trip.max_ride_factor is not None and trip.max_ride_factor < 1:
        yield _trip_fault(trip, "max_ride_factor", f"ride-time factor {trip.max_ride_factor} is below 1: shorter "
                          "than the direct journey")
    cap = problem.ride_cap_s(trip)
    if cap is not None and cap + TIME_TOLERANCE_S < direct_s:
        yield _trip_fault(trip, "max_ride", f"ride-time cap {cap / 60:.1f} min is shorter than the direct "
                          f"journey {direct_s / 60:.1f} min")
    reason = problem.why_fleet_cannot_carry(trip)
    if reason is not None and problem.contract_price(trip) is None:
        yield _trip_fault(trip, None, f"no vehicle type and no contract tariff can carry it: {reason}")


class ProblemBuilder:
    """A mutable, forgiving front door for people: clock strings, minutes, defaults by need.

    >>> b = ProblemBuilder(crow_fly({"depot": (52.67, -0.73), "home": (52.66, -0.70), "school": (52.65, -0.72)}))
    >>> b.add_vehicle_type("minibus", count=1, depot="depot", layouts=[Layout("16 seats", seats=16)])
    >>> b.add_trip("t1", "school", "home", "school", latest_arrival="08:50")
    >>> problem = b.build()
    """

    def __init__(self, matrix: TravelMatrix, name: str = "problem"):
        self.matrix = matrix
        self.name = name
        self.trips: list[Trip] = []
        self.vehicle_types: list[VehicleType] = []
        self.tariffs: list[ContractTariff] = []

    def add_trip(self, id: str, service: str, pickup: str, dropoff: str, *,
                 earliest_pickup=None, latest_pickup=None, earliest_arrival=None, latest_arrival=None,
                 seats: int | None = None, wheelchair_spaces: int = 0, stretchers: int = 0, staff_seats: int = 0,
                 escorts: int = 0, travels_alone: bool = False, needs_assistant: bool = False,
                 max_ride_minutes: float | None = None, max_ride_factor: float | None = None,
                 pickup_service_minutes: float | None = None,
                 dropoff_service_minutes: float | None = None) -> Trip:
        where = f"trip {id}"
        if seats is None:  # a wheelchair user or stretcher patient does not also take a seat
            seats = 0 if (wheelchair_spaces or stretchers) else 1
        need = "stretcher" if stretchers else "wheelchair" if wheelchair_spaces else "ambulant"
        default_service = DEFAULT_SERVICE_MINUTES[need]

        def clock(value, default, field_name):
            return default if value is None else parse_clock(value, where=f"{where}.{field_name}")

        trip = Trip(
            id=str(id), service=str(service), pickup=str(pickup), dropoff=str(dropoff),
            earliest_pickup_s=clock(earliest_pickup, 0.0, "earliest_pickup"),
            latest_pickup_s=clock(latest_pickup, float(DAY_END_S), "latest_pickup"),
            earliest_arrival_s=clock(earliest_arrival, 0.0, "earliest_arrival"),
            latest_arrival_s=clock(latest_arrival, float(DAY_END_S), "latest_arrival"),
            pickup_service_s=60.0 * (default_service if pickup_service_minutes is None else pickup_service_minutes),
            dropoff_service_s=60.0 * (default_service if dropoff_service_minutes is None else dropoff_service_minutes),
            seats=int(seats), wheelchair_spaces=int(wheelchair_spaces), stretchers=int(stretchers),
            staff_seats=int(staff_seats), escorts=int(escorts), travels_alone=bool(travels_alone),
            needs_assistant=bool(needs_assistant),
            max_ride_s=None if max_ride_minutes is None else 60.0 * float(max_ride_minutes),
            max_ride_factor=None if max_ride_factor is None else float(max_ride_factor),
        )
        self.trips.append(trip)
        return trip

    def add_vehicle_type(self, name: str, *, count: int, depot: str, layouts: Sequence[Layout],
                         shift_start="00:00", shift_end="24:00", max_duty_hours: float | None = None,
                         passenger_assistant: bool = False, cost_per_day: float = 0.0, cost_per_km: float = 0.0,
                         cost_per_hour: float = 0.0, assistant_cost_per_hour: float = 0.0,
                         co2_kg_per_km: float = 0.0, services: Iterable[str] = (),
                         duties: Iterable = ()) -> VehicleType:
        """``duties``: split shifts, as ``[("07:00", "10:30"), ("14:30", "18:30")]`` or
        ``["07:00-10:30", "14:30-18:30"]``."""
        where = f"vehicle type {name}"
        vehicle_type = VehicleType(
            name=str(name), count=int(count), depot=str(depot), layouts=tuple(layouts),
            shift_start_s=parse_clock(shift_start, where=f"{where}.shift_start"),
            shift_end_s=parse_clock(shift_end, where=f"{where}.shift_end"),
            max_duty_s=None if max_duty_hours is None else 3600.0 * float(max_duty_hours),
            passenger_assistant=bool(passenger_assistant), cost_per_day=float(cost_per_day),
            cost_per_km=float(cost_per_km), cost_per_hour=float(cost_per_hour),
            assistant_cost_per_hour=float(assistant_cost_per_hour), co2_kg_per_km=float(co2_kg_per_km),
            services=frozenset(services), duties=parse_duties(duties, where=f"{where}.duties"),
        )
        self.vehicle_types.append(vehicle_type)
        return vehicle_type

    def add_tariff(self, name: str, *, flag_fall: float, per_km: float, services: Iterable[str] = (),
                   needs: Iterable[str] = (), provides_assistant: bool = True) -> ContractTariff:
        tariff = ContractTariff(str(name), float(flag_fall), float(per_km), frozenset(services), frozenset(needs),
                                bool(provides_assistant))
        self.tariffs.append(tariff)
        return tariff

    def build(self) -> Problem:
        return Problem(tuple(self.trips), tuple(self.vehicle_types), self.matrix, tuple(self.tariffs), self.name)
