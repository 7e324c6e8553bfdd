"""The problem document (JSON) in, the plan (JSON and CSV) out.

The document is described in docs/problem-format.md. Every error names the
path of the offending field, e.g. ``trips[3].latest_arrival``.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from optimiser.errors import InputFormatError, ProblemError
from optimiser.domain.model import Layout, Problem, ProblemBuilder, TravelMatrix, crow_fly, format_clock
from optimiser.domain.plan import Plan

TRIP_FIELDS = {"id", "service", "pickup", "dropoff", "earliest_pickup", "latest_pickup", "earliest_arrival",
               "latest_arrival", "seats", "wheelchair_spaces", "stretchers", "staff_seats", "escorts",
               "travels_alone", "needs_assistant", "max_ride_minutes", "max_ride_factor", "pickup_service_minutes",
               "dropoff_service_minutes"}
VEHICLE_FIELDS = {"name", "count", "depot", "layouts", "shift_start", "shift_end", "max_duty_hours",
                  "passenger_assistant", "cost_per_day", "cost_per_km", "cost_per_hour", "assistant_cost_per_hour",
                  "co2_kg_per_km", "services", "duties"}
LAYOUT_FIELDS = {"name", "seats", "wheelchair_spaces", "stretchers", "staff_seats"}
TARIFF_FIELDS = {"name", "flag_fall", "per_km", "services", "needs", "provides_assistant"}


def _object(value: Any, where: str, allowed: set[str], required: tuple[str, ...]) -> dict:
    if not isinstance(value, dict):
        raise InputFormatError(f"expected an object, got {type(value).__name__}", where=where)
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise InputFormatError(f"unknown field(s) {unknown}; known: {sorted(allowed)}", where=where)
    for key in required:
        if key not in value:
            raise InputFormatError("missing", where=f"{where}.{key}")
    return value


def _call(where: str, fn, *args, **kwargs):
    """Run a builder step, turning a wrong type into an error that says where."""
    try:
        return fn(*args, **kwargs)
    except ProblemError:
        raise
    except (TypeError, ValueError) as exc:
        raise InputFormatError(f"wrong type or value: {exc}", where=where) from None


def _matrix(doc: dict) -> TravelMatrix:
    if "matrix" in doc:
        m = _object(doc["matrix"], "matrix", {"location_ids", "seconds", "metres"}, ("location_ids", "seconds",
                                                                                      "metres"))
        return _call("matrix", TravelMatrix, tuple(m["location_ids"]), m["seconds"], m["metres"])
    if "locations" not in doc:
        raise InputFormatError("give either 'locations' ({id: [latitude, longitude]}) or 'matrix'",
                               where="locations")
    points = {}
    if not isinstance(doc["locations"], dict) or not doc["locations"]:
        raise InputFormatError("expected an object of id: [latitude, longitude]", where="locations")
    for key, value in doc["locations"].items():
        where = f"locations.{key}"
        if (not isinstance(value, (list, tuple)) or len(value) != 2
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value)):
            raise InputFormatError("expected [latitude, longitude]", where=where)
        lat, lon = value
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise InputFormatError(f"latitude {lat}, longitude {lon} is not on Earth", where=where)
        points[str(key)] = (float(lat), float(lon))
    travel = _object(doc.get("travel", {}), "travel", {"circuity", "speed_kph"}, ())
    return _call("travel", crow_fly, points, **travel)


def problem_from_dict(doc: Any) -> Problem:
    doc = _object(doc, "document", {"name", "locations", "matrix", "travel", "trips", "vehicle_types", "tariffs"},
                  ("trips",))
    builder = ProblemBuilder(_matrix(doc), name=str(doc.get("name", "problem")))
    if not isinstance(doc["trips"], list):
        raise InputFormatError("expected a list", where="trips")
    for i, raw in enumerate(doc["trips"]):
        where = f"trips[{i}]"
        trip = _object(raw, where, TRIP_FIELDS, ("id", "service", "pickup", "dropoff"))
        args = {k: v for k, v in trip.items() if k not in ("id", "service", "pickup", "dropoff")}
        _call(where, builder.add_trip, str(trip["id"]), str(trip["service"]), str(trip["pickup"]),
              str(trip["dropoff"]), **args)
    for i, raw in enumerate(doc.get("vehicle_types", [])):
        where = f"vehicle_types[{i}]"
        vt = dict(_object(raw, where, VEHICLE_FIELDS, ("name", "count", "depot", "layouts")))
        if not isinstance(vt["layouts"], list) or not vt["layouts"]:
            raise InputFormatError("expected a non-empty list", where=f"{where}.layouts")
        layouts = []
        for j, lay in enumerate(vt.pop("layouts")):
            lw = f"{where}.layouts[{j}]"
            lay = _object(lay, lw, LAYOUT_FIELDS, ("name",))
            layouts.append(_call(lw, Layout, **{k: (int(v) if k != "name" else str(v)) for k, v in lay.items()}))
        _call(where, builder.add_vehicle_type, str(vt.pop("name")), layouts=layouts, **vt)
    for i, raw in enumerate(doc.get("tariffs", [])):
        where = f"tariffs[{i}]"
        tariff = dict(_object(raw, where, TARIFF_FIELDS, ("name", "flag_fall", "per_km")))
        _call(where, builder.add_tariff, str(tariff.pop("name")), **tariff)
    return builder.build()


def _load_json(path: str | Path) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        raise InputFormatError(f"cannot read: {exc.strerror}", where=str(path)) from None
    except json.JSONDecodeError as exc:
        raise InputFormatError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                               where=str(path)) from None


FLEET_DOCUMENT_FIELDS = {"vehicle_types", "tariffs", "fleet_by_service", "today_trip_prices", "today_route_prices"}


def read_trips_and_fleet(trips_path: str | Path, fleet_path: str | Path | None = None) -> tuple[Problem, dict]:
    """A trips document and a fleet document (vehicle types, tariffs and, for comparisons, the fleet each
    service may use alone and today's prices); the fleet may also sit in the trips document.
    Returns the problem and the comparison settings found."""
    doc = _load_json(trips_path)
    if not isinstance(doc, dict):
        raise InputFormatError("expected an object", where=str(trips_path))
    settings = {k: doc.pop(k) for k in ("fleet_by_service", "today_trip_prices", "today_route_prices") if k in doc}
    if fleet_path is not None:
        fleet = _object(_load_json(fleet_path), str(fleet_path), FLEET_DOCUMENT_FIELDS, ("vehicle_types",))
        doc["vehicle_types"] = fleet["vehicle_types"]
        doc["tariffs"] = fleet.get("tariffs", doc.get("tariffs", []))
        settings.update({k: fleet[k] for k in ("fleet_by_service", "today_trip_prices", "today_route_prices")
                         if k in fleet})
    return problem_from_dict(doc), comparison_settings(settings)


def comparison_settings(settings: dict) -> dict:
    """Check and normalise the comparison settings a fleet document may carry:
    ``fleet_by_service``, ``today_trip_prices`` and ``today_route_prices``."""
    settings = dict(settings)
    fleet_by_service = settings.get("fleet_by_service")
    if fleet_by_service is not None and (not isinstance(fleet_by_service, dict) or not all(
            isinstance(v, dict) and all(isinstance(n, int) and n >= 0 for n in v.values())
            for v in fleet_by_service.values())):
        raise InputFormatError("expected {service: {vehicle type: count}}", where="fleet_by_service")
    routes = settings.get("today_route_prices", [])
    if not isinstance(routes, list) or not all(isinstance(r, dict) and set(r) == {"price", "trips"} for r in routes):
        raise InputFormatError('expected a list of {"price": ..., "trips": [...]}', where="today_route_prices")
    settings["today_route_prices"] = [(float(r["price"]), list(r["trips"])) for r in routes]
    prices = settings.get("today_trip_prices", {})
    if not isinstance(prices, dict):
        raise InputFormatError("expected {trip id: price}", where="today_trip_prices")
    settings["today_trip_prices"] = {str(k): float(v) for k, v in prices.items()}
    return settings


ROUTE_COLUMNS = ("vehicle_type", "vehicle_number", "layout", "stop", "kind", "location", "trip_id", "service",
                 "arrival", "service_start", "departure", "seats", "wheelchair_spaces", "stretchers", "staff_seats",
                 "duty")


def write_plan(plan: Plan, out_dir: str | Path) -> list[Path]:
    """``plan.json`` (the whole plan) and ``routes.csv`` (one row per stop) into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plan_path = out / "plan.json"
    plan_path.write_text(json.dumps(plan.to_dict(), indent=2))
    routes_path = out / "routes.csv"
    with routes_path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(ROUTE_COLUMNS)
        writer.writerows(route_rows(plan))
    return [plan_path, routes_path]


def route_rows(plan: Plan):
    """One row per stop, in ROUTE_COLUMNS order."""
    for route in plan.routes:
        for k, s in enumerate(route.stops):
            yield [route.vehicle_type, route.vehicle_number, route.layout, k, s.kind, s.location, s.trip_id or "",
                   s.service or "", format_clock(s.arrival_s), format_clock(s.service_start_s),
                   format_clock(s.departure_s), s.load.get("seats", 0), s.load.get("wheelchair_spaces", 0),
                   s.load.get("stretchers", 0), s.load.get("staff_seats", 0), route.duty + 1]
