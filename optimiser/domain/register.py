"""The contract register: what a council lets today, one row per contract.

A council does not start from a blank fleet: it holds contracts (school routes let to bus and taxi
operators, social-care minibus contracts, patient-transport arrangements), often several with one
operator for different services. A register is a CSV file (docs/contracts.md), one row per
contract, read here and checked against the day's trips:

- ``kind`` ``route``: a vehicle and driver for a duty (``duty_start`` to ``duty_end``) carrying the
  trips listed; ``taxi``: a per-trip arrangement (each trip carried on its own, typically priced per
  trip; the duty may be left out);
- ``price_basis`` ``day`` (``price`` a day), ``trip`` (``price`` for each trip carried) or ``mile``
  (``price`` a mile, at least ``minimum`` a day; the miles a day from ``miles``, or estimated from
  the travel model when left out);
- ``trips``: the trip ids the contract carries, separated by ``;``.

Every problem is listed at once, each with its row (row 1 is the header), contract id, column and,
where one is at fault, trip id, in an ``InputFormatError`` as the trip files' readers do: a trip on
two contracts is refused naming both; an unknown trip id is named; with ``complete=True`` (the
register claims to hold every contract of the day) a trip on no contract is reported too.
"""
from __future__ import annotations

import csv
import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from optimiser.domain.csv_text import csv_text_rows
from optimiser.domain.days import DEFAULT_DAYS, WEEKDAYS, parse_days  # noqa: F401 - the register's days
from optimiser.domain.model import Layout, Problem, format_clock, parse_clock, parse_layouts
from optimiser.errors import InputFormatError, ProblemError

#: The register's columns, in the order they are written; ``id``, ``operator``, ``price_basis``,
#: ``price`` and ``trips`` are required (``duty_start`` and ``duty_end`` too for a route).
REGISTER_COLUMNS = ("id", "operator", "kind", "services", "vehicle_type", "layout", "assistant", "days",
                    "price_basis", "price", "minimum", "miles", "duty_start", "duty_end", "trips", "notes")
REQUIRED_COLUMNS = ("id", "operator", "price_basis", "price", "trips")
CONTRACT_KINDS = ("route", "taxi")
PRICE_BASES = ("day", "trip", "mile")
METRES_PER_MILE = 1609.344
TRUE_WORDS = {"yes", "y", "true", "t", "1"}
FALSE_WORDS = {"no", "n", "false", "f", "0", ""}


@dataclass(frozen=True)
class Contract:
    """One contract of the register, validated against the day's trips and fleet."""

    id: str
    operator: str
    trip_ids: tuple[str, ...]
    price_basis: str
    price: float
    kind: str = "route"
    #: Services the contract is let for (empty: the services of its trips).
    services: tuple[str, ...] = ()
    vehicle_type: str = ""
    #: The vehicle's layouts (from the ``layout`` column, else the fleet's vehicle type of that name).
    layouts: tuple[Layout, ...] = ()
    assistant: bool = False
    days: tuple[str, ...] = DEFAULT_DAYS
    #: Per-mile contracts: the least paid a day, and the contracted miles a day (None: estimated).
    minimum: float = 0.0
    miles: float | None = None
    duty_start_s: float | None = None
    duty_end_s: float | None = None
    notes: str = ""
    #: The register's row (row 1 is the header), for messages.
    row: int | None = None

    def price_for_day(self, miles: float | None = None) -> float:
        """What the contract costs on a day it runs: the day rate, the price of each trip, or the
        miles (``miles`` when given, else the contract's own) at the mile rate, at least the minimum."""
        if self.price_basis == "day":
            return self.price
        if self.price_basis == "trip":
            return self.price * len(self.trip_ids)
        day_miles = self.miles if miles is None else miles
        if day_miles is None:
            raise ProblemError(f"contract {self.id} is priced per mile and its miles a day are not known",
                               where=f"contracts.{self.id}.miles")
        return max(self.minimum, self.price * day_miles)

    def capacity(self) -> Mapping[str, int]:
        """The most of each resource any one of its layouts offers."""
        return {r: max((lay.capacity[r] for lay in self.layouts), default=0)
                for r in ("seats", "wheelchair_spaces", "stretchers", "staff_seats")}

    def to_dict(self) -> dict:
        return {"id": self.id, "operator": self.operator, "kind": self.kind, "services": list(self.services),
                "vehicle_type": self.vehicle_type, "layouts": [lay.name for lay in self.layouts],
                "assistant": self.assistant, "days": list(self.days), "price_basis": self.price_basis,
                "price": self.price, "minimum": self.minimum, "miles": self.miles,
                "duty_start": None if self.duty_start_s is None else format_clock(self.duty_start_s),
                "duty_end": None if self.duty_end_s is None else format_clock(self.duty_end_s),
                "trips": list(self.trip_ids), "notes": self.notes, "row": self.row}


@dataclass(frozen=True)
class Register:
    """The contracts of a register, and which carries each trip."""

    contracts: tuple[Contract, ...]
    source: str = "register"
    #: Whether the register claims to hold every contract of the day.
    complete: bool = False
    #: Trips of the day on no contract (only possible when not ``complete``).
    uncovered: tuple[str, ...] = ()
    contract_of_trip: Mapping[str, str] = field(default_factory=dict)

    def contract(self, contract_id: str) -> Contract:
        for c in self.contracts:
            if c.id == contract_id:
                return c
        raise KeyError(contract_id)

    @property
    def operators(self) -> tuple[str, ...]:
        return tuple(sorted({c.operator for c in self.contracts}))


# ------------------------------------------------------------------------------ reading
class _Faults:
    """Collects what is wrong with a register, so that the user sees everything at once."""

    def __init__(self, source: str):
        self.source = source
        self.items: list[dict] = []

    def add(self, message: str, *, row: int | None = None, contract_id: str | None = None,
            column: str | None = None, trip_id: str | None = None) -> None:
        item: dict = {"file": self.source, "message": message}
        for key, value in (("row", row), ("contract_id", contract_id), ("column", column), ("trip_id", trip_id)):
            if value not in (None, ""):
                item[key] = value
        self.items.append(item)

    def raise_if_any(self) -> None:
        if not self.items:
            return
        shown = "; ".join(describe_fault(i) for i in self.items[:5])
        more = f" (and {len(self.items) - 5} more)" if len(self.items) > 5 else ""
        noun = "problem" if len(self.items) == 1 else "problems"
        raise InputFormatError(f"{len(self.items)} {noun} in the contract register, nothing read: {shown}{more}",
                               where=self.source, problems=self.items)


def describe_fault(item: Mapping) -> str:
    """``register.csv, row 3, contract C-002, column price: cannot read 'abc' as a number``."""
    place = [item["file"]] if item.get("file") else []
    if "row" in item:
        place.append(f"row {item['row']}")
    if item.get("contract_id"):
        place.append(f"contract {item['contract_id']}")
    if item.get("column"):
        place.append(f"column {item['column']}")
    if item.get("trip_id"):
        place.append(f"trip {item['trip_id']}")
    return f"{', '.join(place)}: {item['message']}" if place else item["message"]


def _blank(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (
        isinstance(value, str) and not value.strip())


def _number(value) -> float:
    number = float(str(value).strip().lstrip("£").replace(",", "")) if isinstance(value, str) else float(value)
    if isinstance(value, bool) or not math.isfinite(number):
        raise ValueError(value)
    return number


def _split(value) -> list[str]:
    if _blank(value):
        return []
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [w.strip() for w in str(value).split(";") if w.strip()]


def format_days(days: Sequence[str]) -> str:
    """Days as the register writes them: a run of consecutive days as ``Mon-Fri``."""
    ks = sorted(WEEKDAYS.index(d) for d in days)
    if len(ks) > 2 and ks == list(range(ks[0], ks[-1] + 1)):
        return f"{WEEKDAYS[ks[0]]}-{WEEKDAYS[ks[-1]]}"
    return ";".join(WEEKDAYS[k] for k in ks)


def register_from_rows(rows: Iterable[tuple[int, Mapping]], problem: Problem, *, complete: bool = False,
                       source: str = "register") -> Register:
    """A register from numbered rows (a CSV's data rows from 2), checked against ``problem``'s
    trips and fleet. Raises ``InputFormatError`` listing every row, contract and column at fault."""
    faults = _Faults(source)
    fleet = {v.name: v for v in problem.vehicle_types}
    trips = {t.id: t for t in problem.trips}
    contracts: list[Contract] = []
    seen: dict[str, int] = {}
    holder: dict[str, tuple[str, int]] = {}  # trip id -> (contract id, row) of the first contract carrying it
    for number, raw in rows:
        if "__extra__" in raw:
            faults.add("more cells than the header has columns (a comma in a name or a list needs quotes)",
                       row=number, contract_id=str(raw.get("id") or "").strip() or None)
            continue
        cid = "" if _blank(raw.get("id")) else str(raw["id"]).strip()
        if not cid:
            faults.add("missing contract id", row=number, column="id")
            continue
        if cid in seen:
            faults.add(f"duplicate contract id (first on row {seen[cid]})", row=number, contract_id=cid, column="id")
            continue
        seen[cid] = number

        def fault(message, column=None, trip_id=None):
            faults.add(message, row=number, contract_id=cid, column=column, trip_id=trip_id)

        before = len(faults.items)
        operator = "" if _blank(raw.get("operator")) else str(raw["operator"]).strip()
        if not operator:
            fault("missing operator", "operator")
        kind = "route" if _blank(raw.get("kind")) else str(raw["kind"]).strip().lower()
        if kind not in CONTRACT_KINDS:
            fault(f"{raw.get('kind')!r} is not one of {', '.join(CONTRACT_KINDS)}", "kind")
        basis = "" if _blank(raw.get("price_basis")) else str(raw["price_basis"]).strip().lower()
        if basis not in PRICE_BASES:
            fault(f"missing price basis: one of {', '.join(PRICE_BASES)}" if not basis else
                  f"{raw.get('price_basis')!r} is not one of {', '.join(PRICE_BASES)}", "price_basis")
        values: dict[str, float | None] = {}
        for column in ("price", "minimum", "miles"):
            value = raw.get(column)
            values[column] = None
            if _blank(value):
                if column == "price":
                    fault("missing price (pounds)", column)
                continue
            try:
                values[column] = _number(value)
            except (TypeError, ValueError):
                fault(f"cannot read {value!r} as a number", column)
                continue
            if values[column] < 0:
                fault(f"{values[column]:g} is negative", column)
        if basis in ("day", "trip") and values["minimum"]:
            fault("a minimum applies to prices per mile only", "minimum")
        if basis != "mile" and values["miles"] is not None:
            fault("miles a day apply to prices per mile only", "miles")
        days = DEFAULT_DAYS
        try:
            days = parse_days(raw.get("days"))
        except ValueError as exc:
            fault(str(exc), "days")
        assistant_text = "" if _blank(raw.get("assistant")) else str(raw["assistant"]).strip().lower()
        if assistant_text not in TRUE_WORDS | FALSE_WORDS:
            fault(f"{raw.get('assistant')!r} is not yes or no", "assistant")
        assistant = assistant_text in TRUE_WORDS
        vehicle_type = "" if _blank(raw.get("vehicle_type")) else str(raw["vehicle_type"]).strip()
        layouts: tuple[Layout, ...] = ()
        if not _blank(raw.get("layout")):
            try:
                layouts = tuple(parse_layouts(raw["layout"]))
            except ValueError as exc:
                fault(str(exc), "layout")
        elif vehicle_type in fleet:  # the fleet's vehicle type says what the vehicle carries
            layouts = fleet[vehicle_type].layouts
            assistant = assistant or fleet[vehicle_type].passenger_assistant
        else:
            known = ", ".join(sorted(fleet)) or "none"
            fault(f"give a layout (e.g. '16 seats' or '12 seats + 1 wheelchair') or a vehicle type of the fleet "
                  f"({known})", "layout")
        duty: dict[str, float | None] = {"duty_start": None, "duty_end": None}
        for column in duty:
            value = raw.get(column)
            if _blank(value):
                if kind == "route":
                    fault(f"missing {column.replace('_', ' ')} (HH:MM): a route contract has a duty", column)
                continue
            try:
                duty[column] = parse_clock(str(value).strip(), where=column)
            except ProblemError as exc:
                fault(exc.message, column)
        if duty["duty_start"] is not None and duty["duty_end"] is not None and duty["duty_end"] <= duty["duty_start"]:
            fault(f"the duty ends ({format_clock(duty['duty_end'])}) before it starts "
                  f"({format_clock(duty['duty_start'])})", "duty_end")
        services = tuple(_split(raw.get("services")))
        for service in services:
            if service not in problem.services:
                close = difflib.get_close_matches(service, problem.services, n=1)
                fault(f"no trip of the day is of service {service!r}" + (f"; did you mean {close[0]!r}?" if close
                                                                          else ""), "services")
        trip_ids = _split(raw.get("trips"))
        if not trip_ids:
            fault("no trips: list the trip ids the contract carries, separated by ';'", "trips")
        on_this: set[str] = set()
        for trip_id in trip_ids:
            if trip_id in on_this:
                fault("listed twice on this contract", "trips", trip_id)
                continue
            on_this.add(trip_id)
            trip = trips.get(trip_id)
            if trip is None:
                close = difflib.get_close_matches(trip_id, list(trips), n=1)
                fault("unknown trip id" + (f"; did you mean {close[0]!r}?" if close else ""), "trips", trip_id)
                continue
            if trip_id in holder:
                other, other_row = holder[trip_id]
                fault(f"trip {trip_id} is on two contracts: {other} (row {other_row}) and {cid} (row {number})",
                      "trips", trip_id)
                continue
            holder[trip_id] = (cid, number)
            if services and trip.service not in services:
                fault(f"a {trip.service} trip on a contract let for {', '.join(services)}", "trips", trip_id)
            if layouts and not any(lay.fits(trip) for lay in layouts):
                fault(f"does not fit the vehicle ({' or '.join(lay.name for lay in layouts)})", "trips", trip_id)
            if trip.needs_assistant and not assistant:
                fault("needs a passenger assistant and the contract has none (column assistant)", "trips", trip_id)
        if len(faults.items) > before:
            continue
        contracts.append(Contract(
            id=cid, operator=operator, trip_ids=tuple(trip_ids), price_basis=basis, price=float(values["price"]),
            kind=kind, services=services, vehicle_type=vehicle_type, layouts=layouts, assistant=assistant, days=days,
            minimum=values["minimum"] or 0.0, miles=values["miles"], duty_start_s=duty["duty_start"],
            duty_end_s=duty["duty_end"], notes="" if _blank(raw.get("notes")) else str(raw["notes"]).strip(),
            row=number))
    uncovered = tuple(t.id for t in problem.trips if t.id not in holder)
    if complete:
        for trip_id in uncovered:
            faults.add("on no contract, and the register is said to be complete", trip_id=trip_id, column="trips")
    if not seen and not faults.items:
        faults.add("no contracts: the register has a header and no rows")
    faults.raise_if_any()
    return Register(tuple(contracts), source, complete, uncovered,
                    {trip_id: cid for trip_id, (cid, _) in holder.items()})


def register_from_csv_text(text: str, problem: Problem, *, complete: bool = False,
                           source: str = "register.csv") -> Register:
    """A register from a CSV's text: a header row, then one row per contract (row 1 is the header).
    Commas or, as spreadsheets set to a European locale write them, semicolons between cells."""
    columns, rows = csv_text_rows(text, source=source, extra="__extra__", keep="id")
    faults = _Faults(source)
    for column in REQUIRED_COLUMNS:
        if column not in columns:
            faults.add("missing column", row=1, column=column)
    for column in columns:
        if column and column not in REGISTER_COLUMNS:
            close = difflib.get_close_matches(column, REGISTER_COLUMNS, n=1, cutoff=0.75)
            faults.add("unknown column" + (f"; did you mean {close[0]!r}?" if close else
                                           f"; the columns are {', '.join(REGISTER_COLUMNS)}"), row=1, column=column)
    faults.raise_if_any()
    return register_from_rows(rows, problem, complete=complete, source=source)


def read_register(path: str | Path, problem: Problem, *, complete: bool = False) -> Register:
    """The contract register in the CSV file ``path``, checked against ``problem`` (docs/contracts.md)."""
    path = Path(path)
    if path.suffix.lower() != ".csv":
        raise InputFormatError(f"a contract register is a .csv file, not {path.suffix or 'a file without a suffix'}",
                               where=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputFormatError(f"cannot read: {exc.strerror}", where=str(path)) from None
    except UnicodeDecodeError as exc:
        raise InputFormatError(f"not UTF-8 text: byte {exc.start} cannot be read", where=str(path)) from None
    return register_from_csv_text(text, problem, complete=complete, source=path.name)


# ------------------------------------------------------------------------------ writing
def register_row(contract: Contract) -> dict:
    """One contract as the register's CSV row (``REGISTER_COLUMNS``)."""
    def money(x: float | None) -> str:
        return "" if x is None else f"{x:.2f}"

    return {"id": contract.id, "operator": contract.operator, "kind": contract.kind,
            "services": ";".join(contract.services), "vehicle_type": contract.vehicle_type,
            "layout": " | ".join(lay.name for lay in contract.layouts), "assistant": "yes" if contract.assistant else "no",
            "days": format_days(contract.days), "price_basis": contract.price_basis, "price": money(contract.price),
            "minimum": money(contract.minimum) if contract.price_basis == "mile" else "",
            "miles": "" if contract.miles is None else f"{contract.miles:.1f}",
            "duty_start": "" if contract.duty_start_s is None else format_clock(contract.duty_start_s),
            "duty_end": "" if contract.duty_end_s is None else format_clock(contract.duty_end_s),
            "trips": ";".join(contract.trip_ids), "notes": contract.notes}


def write_register(contracts: Iterable[Contract], path: str | Path) -> Path:
    """The contracts as a register CSV at ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=REGISTER_COLUMNS)
        writer.writeheader()
        for contract in contracts:
            writer.writerow(register_row(contract))
    return path
