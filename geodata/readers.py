"""Trips and fleets from councils' files: CSV, GeoJSON, GeoPackage; fleets as CSV or JSON.

Everything is validated at the edge and every problem is listed at once, each with its
row, trip id and column (``InputFormatError.problems``); a file with any error imports
nothing. The columns are documented in docs/geodata-formats.md.
"""
from __future__ import annotations

import csv
import difflib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from optimiser.domain.days import parse_week_days, runs_on
from optimiser.errors import InputFormatError, ItuError, ProblemError
from optimiser.domain.documents import LAYOUT_FIELDS, TARIFF_FIELDS, VEHICLE_FIELDS
from optimiser.domain.model import (LAYOUT_WORDS, Layout, Problem, ProblemBuilder, format_clock, great_circle_m,
                                    parse_clock, parse_duties, parse_layouts, problem_faults)

from .travel import TravelProvider, TravelTable, travel_provider

#: The budget holders a council usually has; a fleet file may name its own with ``services``.
DEFAULT_SERVICES = ("school", "sen", "social_care", "nept")

TIME_COLUMNS = ("earliest_pickup", "latest_pickup", "earliest_arrival", "latest_arrival")
COUNT_COLUMNS = ("seats", "wheelchair_spaces", "stretchers", "staff_seats", "escorts")
FLAG_COLUMNS = ("travels_alone", "needs_assistant")
NUMBER_COLUMNS = ("max_ride_minutes", "max_ride_factor", "pickup_service_minutes", "dropoff_service_minutes")
COORDINATE_COLUMNS = ("pickup_latitude", "pickup_longitude", "dropoff_latitude", "dropoff_longitude")
#: Free text carried to run sheets and maps, never to the solver.
TEXT_COLUMNS = ("passenger", "notes", "pickup_name", "dropoff_name")
#: A week of trips: the days each row runs (``Mon;Tue;Wed``, ``weekdays`` or ISO dates; blank: every
#: day). ``passenger`` ties one person's rows together across the days (docs/week.md).
WEEK_COLUMNS = ("days",)
TRIP_COLUMNS = ("id", "service", "pickup_location", "dropoff_location", *COORDINATE_COLUMNS, *TIME_COLUMNS,
                *COUNT_COLUMNS, *FLAG_COLUMNS, *NUMBER_COLUMNS, *TEXT_COLUMNS, *WEEK_COLUMNS)
#: Columns GIS tools add on their own; never reported as unknown.
GIS_COLUMNS = ("geometry", "fid", "ogc_fid")

TRUE_WORDS = {"yes", "y", "true", "t", "1"}
FALSE_WORDS = {"no", "n", "false", "f", "0"}
#: Two uses of one named place further apart than this are a mistake in the file.
SAME_PLACE_TOLERANCE_M = 100.0
#: Locations further than this from the nearest road are reported (error or warning, see ``far_points``).
DEFAULT_MAX_SNAP_M = 1000.0


@dataclass
class Problems:
    """Collects what is wrong with a file, so that the user sees everything at once."""

    source: str
    items: list[dict] = field(default_factory=list)

    def add(self, message: str, *, row: int | None = None, trip_id: str | None = None, column: str | None = None):
        item = {"message": message}
        if row is not None:
            item["row"] = row
        if trip_id:
            item["trip_id"] = trip_id
        if column:
            item["column"] = column
        item["file"] = self.source
        self.items.append(item)

    def raise_if_any(self) -> None:
        if self.items:
            raise problems_error(self.items)


def describe_problem(item: Mapping) -> str:
    place = [item.get("file")] if item.get("file") else []
    if "row" in item:
        place.append(f"row {item['row']}")
    if item.get("trip_id"):
        place.append(f"trip {item['trip_id']}")
    if item.get("column"):
        place.append(f"column {item['column']}")
    return f"{', '.join(place)}: {item['message']}" if place else item["message"]


def problems_error(items: list[dict]) -> InputFormatError:
    shown = "; ".join(describe_problem(i) for i in items[:5])
    more = f" (and {len(items) - 5} more)" if len(items) > 5 else ""
    noun = "problem" if len(items) == 1 else "problems"
    files = sorted({i.get("file") for i in items if i.get("file")})
    return InputFormatError(f"{len(items)} {noun}, nothing imported: {shown}{more}",
                            where=", ".join(files) or None, problems=items)


# -- raw rows from each format ---------------------------------------------------------------------------
def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (
        isinstance(value, str) and not value.strip())


def _csv_delimiter(header: str) -> str:
    """Commas, or semicolons where the header has them and no commas: spreadsheets set to a
    European locale (where the comma is the decimal mark) export semicolon-separated files."""
    return ";" if ";" in header and "," not in header else ","


def _read_csv_rows(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:  # Excel writes a byte-order mark
            reader = csv.DictReader(handle, delimiter=_csv_delimiter(handle.readline()))
            handle.seek(0)
            columns = [c.strip() for c in (reader.fieldnames or [])]
            rows = []
            for number, raw in enumerate(reader, start=2):  # row 1 is the header, as a spreadsheet shows it
                if None in raw:
                    rows.append((number, {"__extra__": raw[None]}))
                    continue
                rows.append((number, {k.strip(): v for k, v in raw.items() if k is not None}))
    except OSError as exc:
        raise InputFormatError(f"cannot read: {exc.strerror}", where=str(path)) from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputFormatError(f"not a readable CSV file: {exc}", where=str(path)) from None
    return columns, rows


def _read_gis_rows(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    """GeoJSON or GeoPackage through geopandas, reprojected to WGS84; each feature's
    geometry gives the pickup (Point) or the pickup and drop-off (two-point LineString
    or MultiPoint)."""
    import geopandas

    try:
        frame = geopandas.read_file(path)
    except Exception as exc:  # pyogrio raises its own errors for unreadable files
        raise InputFormatError(f"cannot read as GeoJSON or GeoPackage: {exc}", where=str(path)) from None
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    columns = [str(c) for c in frame.columns]
    rows = []
    for number, (_, record) in enumerate(frame.iterrows(), start=1):  # features count from 1, as GIS tools do
        row = {k: record[k] for k in frame.columns if k != "geometry"}
        geometry = record.get("geometry")
        if geometry is not None and not geometry.is_empty:
            row["__geometry__"] = geometry
        rows.append((number, row))
    return columns, rows


def read_rows(path: str | Path) -> tuple[list[str], list[tuple[int, dict]]]:
    path = Path(path)
    if not path.is_file():
        raise InputFormatError("no such file", where=str(path))
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv_rows(path)
    if suffix in (".geojson", ".json", ".gpkg"):
        return _read_gis_rows(path)
    raise InputFormatError(f"unknown file type {suffix!r}: use .csv, .geojson or .gpkg", where=str(path))


# -- field parsers -----------------------------------------------------------------------------------------
def _text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _number(value) -> float:
    number = float(str(value).strip()) if isinstance(value, str) else float(value)
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    return number


def _count(value) -> int:
    number = _number(value)
    if not number.is_integer():
        raise ValueError(f"{value!r} is not a whole number")
    if number < 0:
        raise ValueError(f"{value!r} is negative")
    return int(number)


def _flag(value) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueError(f"{value!r} is not yes or no")


def _clock(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return parse_clock(_text(value), where="")


def _unknown_columns(columns: Iterable[str], known: Iterable[str], problems: Problems, warnings: list[str]):
    """A column close to a known name is surely a typo that would drop a constraint: an error.
    Others are the council's own columns: a warning, then ignored."""
    known = list(known)
    for column in columns:
        if column in known or column in GIS_COLUMNS or column.startswith("__"):
            continue
        close = difflib.get_close_matches(column, known, n=1, cutoff=0.8)
        if close:
            problems.add(f"unknown column; did you mean {close[0]!r}?", column=column)
        else:
            warnings.append(f"{problems.source}: column {column!r} is not used")


def _place_id(name, lat: float, lon: float) -> str:
    return _text(name) if not _missing(name) else f"{lat:.5f},{lon:.5f}"


# -- trips -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TripRow:
    """One validated row: the builder's arguments plus where it came from and what it says
    for people (passenger, notes, place names)."""

    row: int
    trip_id: str
    service: str
    pickup_id: str
    dropoff_id: str
    pickup: tuple[float, float]
    dropoff: tuple[float, float]
    options: Mapping[str, Any]
    text: Mapping[str, str]
    #: The days the row runs (``parse_week_days``); empty: every day.
    days: tuple[str, ...] = ()


@dataclass
class TripTable:
    source: str
    rows: list[TripRow]
    warnings: list[str]

    @property
    def locations(self) -> dict[str, tuple[float, float]]:
        points = {}
        for r in self.rows:
            points.setdefault(r.pickup_id, r.pickup)
            points.setdefault(r.dropoff_id, r.dropoff)
        return points


def _coordinates(raw: dict, end: str, geometry, problems: Problems, row: int, trip_id: str):
    lat_col, lon_col = f"{end}_latitude", f"{end}_longitude"
    if not _missing(raw.get(lat_col)) or not _missing(raw.get(lon_col)):
        try:
            lat, lon = _number(raw.get(lat_col)), _number(raw.get(lon_col))
        except (TypeError, ValueError):
            bad = lat_col if _bad_number(raw.get(lat_col)) else lon_col
            problems.add(f"cannot read {raw.get(bad)!r} as a number", row=row, trip_id=trip_id, column=bad)
            return None
    elif geometry is not None:
        lat, lon = geometry
    else:
        problems.add(f"missing: give {lat_col} and {lon_col}" + (" or a geometry" if end == "pickup" else ""),
                     row=row, trip_id=trip_id, column=lat_col)
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        problems.add(f"latitude {lat}, longitude {lon} is not on Earth", row=row, trip_id=trip_id, column=lat_col)
        return None
    return lat, lon


def _bad_number(value) -> bool:
    try:
        _number(value)
        return False
    except (TypeError, ValueError):
        return True


def _geometry_ends(geometry):
    """(pickup, dropoff) as (lat, lon) from a feature's geometry; either may be None."""
    if geometry is None:
        return None, None
    kind = geometry.geom_type
    if kind == "Point":
        return (geometry.y, geometry.x), None
    if kind in ("LineString", "MultiPoint"):
        coords = list(geometry.coords) if kind == "LineString" else [(p.x, p.y) for p in geometry.geoms]
        if len(coords) >= 2:
            return (coords[0][1], coords[0][0]), (coords[-1][1], coords[-1][0])
    return "bad", "bad"


def read_trips(path: str | Path, *, services: Iterable[str] | None = DEFAULT_SERVICES) -> TripTable:
    """Read a trip file (CSV with latitude/longitude columns, GeoJSON or GeoPackage).

    ``services=None`` accepts any service label (the fleet decides later which are known).
    Raises ``InputFormatError`` listing every bad row at once."""
    problems = Problems(Path(path).name)
    table = _read_trips(Path(path), services, problems)
    problems.raise_if_any()
    return table


def _read_trips(path: Path, services: Iterable[str], problems: Problems) -> TripTable:
    """The good rows; what is wrong with the others goes to ``problems``."""
    columns, raw_rows = read_rows(path)
    warnings: list[str] = []
    _unknown_columns(columns, TRIP_COLUMNS, problems, warnings)
    missing_columns = [c for c in ("id", "service") if c not in columns]
    for required in missing_columns:
        problems.add("missing column", column=required)
    if missing_columns:
        problems.raise_if_any()
    known_services = None if services is None else tuple(services)
    seen_ids: dict[str, int] = {}
    places: dict[str, tuple[tuple[float, float], int]] = {}
    rows: list[TripRow] = []
    for number, raw in raw_rows:
        if "__extra__" in raw:
            problems.add(f"more values than columns: {raw['__extra__']}", row=number)
            continue
        trip_id = "" if _missing(raw.get("id")) else _text(raw["id"])
        if not trip_id:
            problems.add("missing trip id", row=number, column="id")
            continue
        if trip_id in seen_ids:
            problems.add(f"duplicate trip id (first on row {seen_ids[trip_id]})", row=number, trip_id=trip_id,
                         column="id")
            continue
        seen_ids[trip_id] = number
        service = "" if _missing(raw.get("service")) else _text(raw["service"])
        if not service:
            problems.add("missing service", row=number, trip_id=trip_id, column="service")
        elif known_services is not None and service not in known_services:
            problems.add(f"unknown service {service!r}; known: {', '.join(known_services)}", row=number,
                         trip_id=trip_id, column="service")
        pickup_geometry, dropoff_geometry = _geometry_ends(raw.get("__geometry__"))
        if pickup_geometry == "bad":
            problems.add("geometry must be a Point (pickup) or a two-point LineString (pickup to drop-off)",
                         row=number, trip_id=trip_id, column="geometry")
            continue
        pickup = _coordinates(raw, "pickup", pickup_geometry, problems, number, trip_id)
        dropoff = _coordinates(raw, "dropoff", dropoff_geometry, problems, number, trip_id)
        options: dict[str, Any] = {}
        for columns_of_kind, parse in ((TIME_COLUMNS, _clock), (COUNT_COLUMNS, _count), (FLAG_COLUMNS, _flag),
                                       (NUMBER_COLUMNS, _number)):
            for column in columns_of_kind:
                value = raw.get(column)
                if _missing(value):
                    continue
                try:
                    options[column] = parse(value)
                except (ProblemError, TypeError, ValueError) as exc:
                    message = exc.message if isinstance(exc, ItuError) else str(exc)
                    problems.add(message if message.startswith("cannot read") else f"cannot read {value!r}: {message}",
                                 row=number, trip_id=trip_id, column=column)
        for column in ("max_ride_minutes", "pickup_service_minutes", "dropoff_service_minutes"):
            if options.get(column, 0) < 0:
                problems.add("must not be negative", row=number, trip_id=trip_id, column=column)
        if pickup is None or dropoff is None:
            continue
        ids = []
        for end, point in (("pickup", pickup), ("dropoff", dropoff)):
            place = _place_id(raw.get(f"{end}_location"), *point)
            if place in places and _distance_m(places[place][0], point) > SAME_PLACE_TOLERANCE_M:
                problems.add(f"place {place!r} is {_distance_m(places[place][0], point):,.0f} m from where row "
                             f"{places[place][1]} puts it", row=number, trip_id=trip_id, column=f"{end}_location")
            places.setdefault(place, (point, number))
            ids.append(place)
        text = {c: _text(raw[c]) for c in TEXT_COLUMNS if not _missing(raw.get(c))}
        rows.append(TripRow(number, trip_id, service, ids[0], ids[1], places[ids[0]][0], places[ids[1]][0],
                            options, text, _days(raw.get("days"), problems, row=number, trip_id=trip_id)))
    if not raw_rows:
        problems.add("the file has no trips")
    return TripTable(path.name, rows, warnings)


def _days(value, problems: Problems, column: str = "days", **where) -> tuple[str, ...]:
    """A row's ``days`` (``parse_week_days``); what cannot be read goes to ``problems``."""
    try:
        return parse_week_days(None if _missing(value) else str(value))
    except ValueError as exc:
        problems.add(str(exc), column=column, **where)
        return ()


def _distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(great_circle_m({"a": a, "b": b})[1][0, 1])


# -- fleets ------------------------------------------------------------------------------------------------
@dataclass
class Fleet:
    """Vehicle types and tariffs as builder arguments, depots as coordinates, and the
    comparison settings a fleet file may carry."""

    source: str
    vehicle_types: list[dict]
    tariffs: list[dict]
    depots: dict[str, tuple[float, float]]
    services: tuple[str, ...]
    settings: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


FLEET_JSON_FIELDS = {"depots", "services", "vehicle_types", "tariffs", "fleet_by_service", "today_trip_prices",
                     "today_route_prices"}
FLEET_CSV_COLUMNS = ("name", "count", "depot", "depot_latitude", "depot_longitude", "layouts", "shift_start",
                     "shift_end", "max_duty_hours", "passenger_assistant", "cost_per_day", "cost_per_km",
                     "cost_per_hour", "assistant_cost_per_hour", "co2_kg_per_km", "services", "duties", "days")
TARIFF_CSV_COLUMNS = ("name", "flag_fall", "per_km", "services", "needs", "provides_assistant", "days")
#: A fleet row or tariff may run on some days of a week only (``days``, as a trip's); a problem
#: document's vehicle types and tariffs have no days.
DAY_FIELD = "days"
def _split_list(value) -> list[str]:
    if _missing(value):
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [w.strip() for w in str(value).replace(",", ";").split(";") if w.strip()]


def _fleet_from_csv(path: Path, problems: Problems) -> Fleet:
    columns, raw_rows = _read_csv_rows(path)
    warnings: list[str] = []
    _unknown_columns(columns, FLEET_CSV_COLUMNS, problems, warnings)
    for required in ("name", "count", "layouts"):
        if required not in columns:
            problems.add("missing column", column=required)
    problems.raise_if_any()
    vehicle_types, depots = [], {}
    numbers = ("max_duty_hours", "cost_per_day", "cost_per_km", "cost_per_hour", "assistant_cost_per_hour",
               "co2_kg_per_km")
    for number, raw in raw_rows:
        name = _text(raw.get("name") or "")
        where = {"row": number, "trip_id": None}
        if not name:
            problems.add("missing vehicle type name", column="name", **where)
            continue
        spec: dict[str, Any] = {"name": name}
        try:
            spec["count"] = _count(raw.get("count"))
        except (TypeError, ValueError) as exc:
            problems.add(f"cannot read count: {exc}", column="count", **where)
        try:
            spec["layouts"] = parse_layouts(raw.get("layouts") or "")
        except (TypeError, ValueError) as exc:
            problems.add(str(exc), column="layouts", **where)
        for column in numbers:
            if not _missing(raw.get(column)):
                try:
                    spec[column] = _number(raw[column])
                except (TypeError, ValueError):
                    problems.add(f"cannot read {raw[column]!r} as a number", column=column, **where)
        for column in ("shift_start", "shift_end"):
            if not _missing(raw.get(column)):
                try:
                    spec[column] = _clock(raw[column])
                except ProblemError as exc:
                    problems.add(exc.message, column=column, **where)
        if not _missing(raw.get("passenger_assistant")):
            try:
                spec["passenger_assistant"] = _flag(raw["passenger_assistant"])
            except ValueError as exc:
                problems.add(str(exc), column="passenger_assistant", **where)
        spec["services"] = _split_list(raw.get("services"))
        spec[DAY_FIELD] = _days(raw.get("days"), problems, **where)
        if not _missing(raw.get("duties")):  # split shifts: "07:00-10:30; 14:30-18:30"
            try:
                spec["duties"] = [f"{format_clock(a)}-{format_clock(b)}"
                                  for a, b in parse_duties(raw["duties"], where="duties")]
            except ProblemError as exc:
                problems.add(exc.message, column="duties", **where)
        depot_point = None
        if not _missing(raw.get("depot_latitude")) or not _missing(raw.get("depot_longitude")):
            try:
                depot_point = (_number(raw.get("depot_latitude")), _number(raw.get("depot_longitude")))
            except (TypeError, ValueError):
                problems.add("cannot read the depot's latitude and longitude", column="depot_latitude", **where)
        else:
            problems.add("missing: give depot_latitude and depot_longitude", column="depot_latitude", **where)
        if depot_point is not None:
            depot_id = _place_id(raw.get("depot"), *depot_point)
            depots.setdefault(depot_id, depot_point)
            spec["depot"] = depot_id
        spec["_row"] = number
        vehicle_types.append(spec)
    return Fleet(path.name, vehicle_types, [], depots, DEFAULT_SERVICES, warnings=warnings)


def _fleet_from_json(path: Path, problems: Problems) -> Fleet:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputFormatError(f"cannot read: {exc.strerror}", where=str(path)) from None
    except json.JSONDecodeError as exc:
        raise InputFormatError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                               where=str(path)) from None
    except UnicodeDecodeError as exc:
        raise InputFormatError(f"not UTF-8 text: byte {exc.start} cannot be read", where=str(path)) from None
    except RecursionError:
        raise InputFormatError("nested too deeply to be a fleet", where=str(path)) from None
    if not isinstance(doc, dict):
        raise InputFormatError("expected an object", where=str(path))
    for key in sorted(set(doc) - FLEET_JSON_FIELDS):
        problems.add(f"unknown field; known: {sorted(FLEET_JSON_FIELDS)}", column=key)
    depots = {}
    for key, value in (doc.get("depots") or {}).items():
        if (isinstance(value, (list, tuple)) and len(value) == 2
                and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value)):
            depots[str(key)] = (float(value[0]), float(value[1]))
        else:
            problems.add("expected [latitude, longitude]", column=f"depots.{key}")
    vehicle_types = []
    for i, raw in enumerate(doc.get("vehicle_types") or []):
        where = f"vehicle_types[{i}]"
        if not isinstance(raw, dict):
            problems.add("expected an object", column=where)
            continue
        for key in sorted(set(raw) - VEHICLE_FIELDS - {DAY_FIELD}):
            problems.add(f"unknown field; known: {sorted(VEHICLE_FIELDS | {DAY_FIELD})}", column=f"{where}.{key}")
        spec = {k: v for k, v in raw.items() if k in VEHICLE_FIELDS}
        spec[DAY_FIELD] = _days(raw.get(DAY_FIELD), problems, column=f"{where}.days")
        for key in ("name", "count", "depot", "layouts"):
            if key not in spec:
                problems.add("missing", column=f"{where}.{key}")
        depot = spec.get("depot")
        if isinstance(depot, (list, tuple)) and len(depot) == 2:
            depot_id = f"{float(depot[0]):.5f},{float(depot[1]):.5f}"
            depots.setdefault(depot_id, (float(depot[0]), float(depot[1])))
            spec["depot"] = depot_id
        elif depot is not None and str(depot) not in depots:
            problems.add(f"unknown depot {depot!r}: list it under 'depots' or give [latitude, longitude]",
                         column=f"{where}.depot")
        layouts = []
        for j, lay in enumerate(spec.get("layouts") or []):
            if isinstance(lay, str):
                try:
                    layouts.extend(parse_layouts(lay))
                except ValueError as exc:
                    problems.add(str(exc), column=f"{where}.layouts[{j}]")
            elif isinstance(lay, dict) and set(lay) <= LAYOUT_FIELDS and "name" in lay:
                try:
                    layouts.append(Layout(str(lay["name"]), **{k: _count(v) for k, v in lay.items() if k != "name"}))
                except (TypeError, ValueError) as exc:
                    problems.add(str(exc), column=f"{where}.layouts[{j}]")
            else:
                problems.add(f"expected a layout like '12 seats + 1 wheelchair' or an object with {sorted(LAYOUT_FIELDS)}",
                             column=f"{where}.layouts[{j}]")
        spec["layouts"] = layouts
        if "duties" in spec:  # split shifts: ["07:00-10:30", "14:30-18:30"] or [["07:00", "10:30"], ...]
            try:
                spec["duties"] = [f"{format_clock(a)}-{format_clock(b)}"
                                  for a, b in parse_duties(spec["duties"], where="duties")]
            except ProblemError as exc:
                problems.add(exc.message, column=f"{where}.duties")
                del spec["duties"]
        spec["_row"] = where
        vehicle_types.append(spec)
    tariffs = []
    for i, raw in enumerate(doc.get("tariffs") or []):
        where = f"tariffs[{i}]"
        if (not isinstance(raw, dict) or not {"name", "flag_fall", "per_km"} <= set(raw)
                or set(raw) - TARIFF_FIELDS - {DAY_FIELD}):
            problems.add(f"expected an object with name, flag_fall, per_km and optionally "
                         f"{sorted(TARIFF_FIELDS - {'name', 'flag_fall', 'per_km'} | {DAY_FIELD})}", column=where)
            continue
        tariffs.append({**raw, DAY_FIELD: _days(raw.get(DAY_FIELD), problems, column=f"{where}.days"), "_row": where})
    services = tuple(doc.get("services") or DEFAULT_SERVICES)
    settings = {k: doc[k] for k in ("fleet_by_service", "today_trip_prices", "today_route_prices") if k in doc}
    return Fleet(path.name, vehicle_types, tariffs, depots, services, settings)


def read_tariffs_csv(path: str | Path) -> list[dict]:
    path = Path(path)
    columns, raw_rows = _read_csv_rows(path)
    problems, warnings = Problems(path.name), []
    _unknown_columns(columns, TARIFF_CSV_COLUMNS, problems, warnings)
    tariffs = []
    for number, raw in raw_rows:
        spec: dict[str, Any] = {"name": _text(raw.get("name") or f"tariff row {number}"), "_row": number}
        for column in ("flag_fall", "per_km"):
            try:
                spec[column] = _number(raw.get(column))
            except (TypeError, ValueError):
                problems.add(f"cannot read {raw.get(column)!r} as a number", row=number, column=column)
        spec["services"] = _split_list(raw.get("services"))
        spec["needs"] = _split_list(raw.get("needs"))
        spec[DAY_FIELD] = _days(raw.get("days"), problems, row=number)
        if not _missing(raw.get("provides_assistant")):
            try:
                spec["provides_assistant"] = _flag(raw["provides_assistant"])
            except ValueError as exc:
                problems.add(str(exc), row=number, column="provides_assistant")
        tariffs.append(spec)
    problems.raise_if_any()
    return tariffs


def read_fleet(path: str | Path, *, tariffs_path: str | Path | None = None) -> Fleet:
    """A fleet as CSV (one row per vehicle type) or JSON (vehicle types, tariffs, depots,
    services and comparison settings). Every problem is listed at once."""
    path = Path(path)
    if not path.is_file():
        raise InputFormatError("no such file", where=str(path))
    problems = Problems(path.name)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        fleet = _fleet_from_csv(path, problems)
    elif suffix == ".json":
        fleet = _fleet_from_json(path, problems)
    else:
        raise InputFormatError(f"unknown fleet file type {suffix!r}: use .csv or .json", where=str(path))
    problems.raise_if_any()
    if tariffs_path is not None:
        fleet.tariffs = fleet.tariffs + read_tariffs_csv(tariffs_path)
    return fleet


# -- a problem from files ------------------------------------------------------------------------------------
@dataclass
class LoadedProblem:
    """A validated problem plus what the files said that the solver does not need: where
    each location is, how far it was from a road, the people's text, and the warnings."""

    problem: Problem
    locations: dict[str, tuple[float, float]]
    snap_m: dict[str, float]
    trip_text: dict[str, dict[str, str]]
    place_names: dict[str, str]
    warnings: list[str]
    settings: dict
    travel: str


def load_problem(trips_path: str | Path, fleet_path: str | Path, *, travel: TravelProvider | Mapping | None = None,
                 tariffs_path: str | Path | None = None, max_snap_m: float = DEFAULT_MAX_SNAP_M,
                 far_points: str = "error", name: str | None = None, day: str | None = None) -> LoadedProblem:
    """Read trips and a fleet, compute travel times, and build a validated problem.

    ``day`` (a day name or an ISO date) takes from a week's files (``days`` columns) the trips,
    vehicle types and tariffs that run that day; the travel times still cover every place of the
    week, so each day's problem has the same locations. None: every row, whatever its days.

    ``far_points`` decides what a location more than ``max_snap_m`` from the nearest road
    is: ``"error"`` (the default: a typo'd coordinate or a point outside the network's
    area) or ``"warn"``. Any error anywhere imports nothing."""
    if far_points not in ("error", "warn"):
        raise InputFormatError("far_points must be 'error' or 'warn'", where="far_points")
    fleet = read_fleet(fleet_path, tariffs_path=tariffs_path)
    services = tuple(dict.fromkeys([*fleet.services, *(s for v in fleet.vehicle_types for s in v.get("services", [])),
                                    *(s for t in fleet.tariffs for s in t.get("services", []))]))
    trip_file, fleet_file = Problems(Path(trips_path).name), Problems(fleet.source)
    table_rows = _read_trips(Path(trips_path), services, trip_file)
    provider = travel if hasattr(travel, "table") else travel_provider(travel)
    points = {**table_rows.locations, **fleet.depots}
    table: TravelTable = provider.table(points)
    warnings = list(table_rows.warnings) + fleet.warnings
    if day is None and any(r.days for r in table_rows.rows):
        warnings.append(f"{trip_file.source}: rows name their days, but every row is planned as one day; "
                        "itu solve-week plans a week (docs/week.md)")
    for row in table_rows.rows:
        for end, place in (("pickup", row.pickup_id), ("dropoff", row.dropoff_id)):
            snap = table.snap_m.get(place, 0.0)
            if snap > max_snap_m:
                message = f"{snap:,.0f} m from the nearest road (more than {max_snap_m:,.0f} m): outside the road " \
                          "network's area, or a wrong coordinate?"
                if far_points == "error":
                    trip_file.add(message, row=row.row, trip_id=row.trip_id, column=f"{end}_latitude")
                else:
                    warnings.append(describe_problem({"file": trip_file.source, "row": row.row, "trip_id": row.trip_id,
                                                      "column": f"{end}_latitude", "message": message}))
    for depot, point in fleet.depots.items():
        snap = table.snap_m.get(depot, 0.0)
        if snap > max_snap_m:
            fleet_file.add(f"depot {depot} is {snap:,.0f} m from the nearest road", column="depot_latitude")
    stem = Path(trips_path).stem
    # a file called trips.csv says less than the folder it sits in (examples/rutland/trips.csv)
    builder = ProblemBuilder(table.matrix, name=name or (Path(trips_path).resolve().parent.name
                                                          if stem == "trips" else stem))
    row_of_trip = {}
    for row in table_rows.rows:
        if day is not None and not runs_on(row.days, day):
            continue
        row_of_trip[row.trip_id] = row.row
        try:
            builder.add_trip(row.trip_id, row.service, row.pickup_id, row.dropoff_id, **row.options)
        except ProblemError as exc:
            trip_file.add(exc.message, row=row.row, trip_id=row.trip_id, column=exc.where.rsplit(".", 1)[-1])
    row_of_vehicle = {}
    for spec in fleet.vehicle_types:
        spec = dict(spec)
        row = spec.pop("_row")
        if day is not None and not runs_on(spec.pop(DAY_FIELD, ()), day):
            continue
        spec.pop(DAY_FIELD, None)
        try:
            vt = builder.add_vehicle_type(str(spec.pop("name")), **spec)
            row_of_vehicle[vt.name] = row
        except (ProblemError, TypeError, ValueError) as exc:
            fleet_file.add(exc.message if isinstance(exc, ItuError) else str(exc), **_fleet_place(row))
    for spec in fleet.tariffs:
        spec = dict(spec)
        row = spec.pop("_row")
        if day is not None and not runs_on(spec.pop(DAY_FIELD, ()), day):
            continue
        spec.pop(DAY_FIELD, None)
        try:
            builder.add_tariff(str(spec.pop("name")), **spec)
        except (ProblemError, TypeError, ValueError) as exc:
            fleet_file.add(exc.message if isinstance(exc, ItuError) else str(exc), **_fleet_place(row))
    for fault in problem_faults(builder.trips, builder.vehicle_types, builder.matrix, builder.tariffs):
        trip_id = getattr(fault, "trip_id", None)
        if trip_id is not None:
            trip_file.add(fault.message, row=row_of_trip.get(trip_id), trip_id=trip_id,
                          column=_trip_column(getattr(fault, "field", None)))
        else:
            fleet_file.add(fault.message, column=fault.where)
    everything = trip_file.items + fleet_file.items
    if everything:
        raise problems_error(everything)
    problem = builder.build()
    text = {r.trip_id: dict(r.text) for r in table_rows.rows}
    names = {}
    for r in table_rows.rows:
        if "pickup_name" in r.text:
            names.setdefault(r.pickup_id, r.text["pickup_name"])
        if "dropoff_name" in r.text:
            names.setdefault(r.dropoff_id, r.text["dropoff_name"])
    return LoadedProblem(problem, points, dict(table.snap_m), text, names, warnings, fleet.settings, provider.name)


def _fleet_place(row) -> dict:
    return {"row": row} if isinstance(row, int) else {"column": str(row)}


def _trip_column(field_name: str | None) -> str | None:
    """The file's column for a model field (the model speaks seconds, the file minutes)."""
    return {"pickup": "pickup_latitude", "dropoff": "dropoff_latitude", "max_ride": "max_ride_minutes",
            "pickup_service_s": "pickup_service_minutes", "dropoff_service_s": "dropoff_service_minutes"}.get(
        field_name or "", field_name)
