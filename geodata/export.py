"""Plans out, where they live: GeoJSON, GeoPackage, CSV schedules per vehicle, a printable
run sheet per driver and a self-contained interactive map (webmap.py).

``plan_layers`` turns a plan into three GeoDataFrames (WGS84): ``routes`` (one
LineString per vehicle, along the roads when a road network is given), ``stops`` (one
Point per stop with its times and who boards and alights) and ``contracted`` (a straight
line per trip handed to a contract, with its tariff, price and reason).
"""
from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Mapping

from optimiser.domain.model import Problem, format_clock
from optimiser.domain.plan import Plan
# one colour per service on stop markers, so services are told apart on any vehicle's route: the
# colours the report's charts give them too
from optimiser.reporting.charts import OTHER_SERVICE_COLOURS, SERVICE_COLOURS

#: Distinct colours for up to twelve vehicles, then repeated (ColorBrewer Paired, reordered).
VEHICLE_COLOURS = ("#1f78b4", "#e31a1c", "#33a02c", "#ff7f00", "#6a3d9a", "#b15928", "#a6cee3", "#fb9a99",
                   "#b2df8a", "#fdbf6f", "#cab2d6", "#8c8c00")
OSM_ATTRIBUTION = "Road data © OpenStreetMap contributors (ODbL)"


def service_colour(service: str | None, services: list[str]) -> str:
    if service in SERVICE_COLOURS:
        return SERVICE_COLOURS[service]
    others = [s for s in services if s not in SERVICE_COLOURS]
    return OTHER_SERVICE_COLOURS[others.index(service) % len(OTHER_SERVICE_COLOURS)] if service in others else "#444444"


def vehicle_label(route) -> str:
    """``minibus 3``; on split shifts the afternoon's route is ``minibus 3, duty 2``."""
    duty = f", duty {route.duty + 1}" if getattr(route, "duty", 0) else ""
    return f"{route.vehicle_type} {route.vehicle_number + 1}{duty}"


def _stop_records(plan: Plan, problem: Problem, locations: Mapping, trip_text: Mapping, place_names: Mapping):
    for route in plan.routes:
        for number, stop in enumerate(route.stops):
            trip = problem.trip(stop.trip_id) if stop.trip_id else None
            text = trip_text.get(stop.trip_id, {}) if stop.trip_id else {}
            person = text.get("passenger", stop.trip_id or "")
            lat, lon = locations[stop.location]
            yield {
                "vehicle": vehicle_label(route), "vehicle_type": route.vehicle_type,
                "vehicle_number": route.vehicle_number, "duty": route.duty + 1, "layout": route.layout,
                "stop_number": number,
                "kind": stop.kind, "location": stop.location, "place": place_names.get(stop.location, stop.location),
                "trip_id": stop.trip_id or "", "service": stop.service or "", "passenger": person if trip else "",
                "boards": person if stop.kind == "pickup" else "", "alights": person if stop.kind == "dropoff" else "",
                "needs": trip.needs_text if trip else "", "notes": text.get("notes", ""),
                "arrival": format_clock(stop.arrival_s), "service_start": format_clock(stop.service_start_s),
                "departure": format_clock(stop.departure_s), "wait_minutes": round(stop.wait_s / 60, 1),
                "seats_on_board": stop.load.get("seats", 0),
                "wheelchairs_on_board": stop.load.get("wheelchair_spaces", 0),
                "stretchers_on_board": stop.load.get("stretchers", 0), "latitude": lat, "longitude": lon,
            }


def plan_layers(plan: Plan, problem: Problem, locations: Mapping[str, tuple[float, float]], *, network=None,
                trip_text: Mapping | None = None, place_names: Mapping | None = None) -> dict:
    """``{"routes", "stops", "contracted"}`` GeoDataFrames in WGS84 (EPSG:4326)."""
    import geopandas
    from shapely.geometry import LineString, Point

    trip_text, place_names = trip_text or {}, place_names or {}
    stops = list(_stop_records(plan, problem, locations, trip_text, place_names))
    stop_frame = geopandas.GeoDataFrame(
        stops, geometry=[Point(s["longitude"], s["latitude"]) for s in stops], crs=4326,
        columns=list(stops[0]) if stops else ["vehicle", "kind", "trip_id", "arrival"])
    route_lines = _route_geometries(plan, locations, network)
    routes = []
    for route, line in zip(plan.routes, route_lines):
        routes.append({"vehicle": vehicle_label(route), "vehicle_type": route.vehicle_type,
                       "vehicle_number": route.vehicle_number, "duty": route.duty + 1, "layout": route.layout,
                       "leaves": format_clock(route.stops[0].departure_s),
                       "returns": format_clock(route.stops[-1].arrival_s), "trips": len(route.trip_ids),
                       "services": ", ".join(sorted({s.service for s in route.stops if s.service})),
                       "km": round(route.km, 2), "duty_hours": round(route.duty_s / 3600, 2),
                       "cost": round(route.cost, 2), "co2_kg": round(route.co2_kg, 2),
                       "follows_roads": network is not None, "geometry": LineString(line)})
    route_frame = geopandas.GeoDataFrame(routes, geometry="geometry", crs=4326) if routes else \
        geopandas.GeoDataFrame({"vehicle": [], "geometry": []}, geometry="geometry", crs=4326)
    contracted = []
    for c in plan.contracted:
        trip = problem.trip(c.trip_id)
        a, b = locations[trip.pickup], locations[trip.dropoff]
        contracted.append({"trip_id": c.trip_id, "service": c.service, "tariff": c.tariff, "price": round(c.price, 2),
                           "reason": c.reason, "passenger": trip_text.get(c.trip_id, {}).get("passenger", ""),
                           "needs": trip.needs_text, "geometry": LineString([(a[1], a[0]), (b[1], b[0])])})
    contracted_frame = geopandas.GeoDataFrame(contracted, geometry="geometry", crs=4326) if contracted else \
        geopandas.GeoDataFrame({"trip_id": [], "geometry": []}, geometry="geometry", crs=4326)
    return {"routes": route_frame, "stops": stop_frame, "contracted": contracted_frame}


def _route_geometries(plan: Plan, locations: Mapping, network) -> list[list[tuple[float, float]]]:
    """(longitude, latitude) vertices per route: along the fastest roads between consecutive
    stops when a road network is given, else straight between stops."""
    if network is None:
        lines = []
        for route in plan.routes:
            pts = [(locations[s.location][1], locations[s.location][0]) for s in route.stops]
            lines.append(pts if len(pts) > 1 else pts * 2)
        return lines
    used = {s.location for r in plan.routes for s in r.stops}
    node_of = {p.location_id: p.node for p in network.snap({k: locations[k] for k in used})}
    legs = sorted({(node_of[a.location], node_of[b.location]) for r in plan.routes
                   for a, b in zip(r.stops, r.stops[1:]) if node_of[a.location] != node_of[b.location]})
    paths = dict(zip(legs, network.paths(legs)))
    lines = []
    for route in plan.routes:
        pts: list[tuple[float, float]] = []
        for a, b in zip(route.stops, route.stops[1:]):
            pa, pb = locations[a.location], locations[b.location]
            segment = [(pa[1], pa[0])]
            key = (node_of[a.location], node_of[b.location])
            if key in paths:
                segment += [(float(network.longitude[n]), float(network.latitude[n])) for n in paths[key]]
            segment.append((pb[1], pb[0]))
            pts.extend(segment if not pts else segment[1:])
        lines.append(pts if len(pts) > 1 else [(locations[route.stops[0].location][1],
                                                locations[route.stops[0].location][0])] * 2)
    return lines


def write_geojson(layers: Mapping, out_dir: Path) -> list[Path]:
    paths = []
    for name, frame in layers.items():
        path = out_dir / f"{name}.geojson"
        if path.exists():
            path.unlink()  # GDAL's GeoJSON driver will not overwrite
        frame.to_file(path, driver="GeoJSON")
        paths.append(path)
    return paths


def write_geopackage(layers: Mapping, path: Path) -> Path:
    if path.exists():
        path.unlink()
    for name, frame in layers.items():
        frame.to_file(path, layer=name, driver="GPKG")
    return path


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "vehicle"


SCHEDULE_COLUMNS = ("stop_number", "kind", "place", "arrival", "service_start", "departure", "wait_minutes",
                    "trip_id", "service", "passenger", "needs", "notes", "seats_on_board", "wheelchairs_on_board",
                    "stretchers_on_board", "latitude", "longitude")


def write_vehicle_schedules(stop_frame, out_dir: Path) -> list[Path]:
    """One CSV per vehicle, in stop order: what a depot prints or loads into a tablet."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for vehicle, group in stop_frame.groupby("vehicle", sort=False):
        path = out_dir / f"{_slug(vehicle)}.csv"
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(SCHEDULE_COLUMNS)
            for record in group.sort_values("stop_number").to_dict("records"):
                writer.writerow([record[c] for c in SCHEDULE_COLUMNS])
        paths.append(path)
    return paths


RUN_SHEET_ACTIONS = {"start": "Leave depot", "end": "Back at depot", "pickup": "Pick up", "dropoff": "Drop off"}


def _run_sheet_stops(records: list[dict], services: list[str]) -> list[dict]:
    """A vehicle's stops as its run sheet shows them (drivers read the time they act at)."""
    return [{"depot": r["kind"] in ("start", "end"), "action": RUN_SHEET_ACTIONS[r["kind"]],
             "when": r["departure"] if r["kind"] == "start" else r["arrival"] if r["kind"] == "end"
             else r["service_start"],
             "place": str(r["place"]), "passenger": r["passenger"], "service": r["service"], "needs": r["needs"],
             "notes": r["notes"], "seats": r["seats_on_board"], "wheelchairs": r["wheelchairs_on_board"],
             "colour": service_colour(r["service"], services) if r["service"] else None} for r in records]


def run_sheet_html(vehicle: str, records: list[dict], route_summary: Mapping, services: list[str],
                   attribution: str | None) -> str:
    """One driver's run sheet, from the template ``templates/run_sheet.html``."""
    from .webmap import page_templates

    return page_templates().get_template("run_sheet.html").render(
        vehicle=vehicle, stops=_run_sheet_stops(records, services), summary=route_summary, attribution=attribution)


def run_sheets_page(layers: Mapping, *, title: str, attribution: str | None = None) -> str:
    """Every driver's run sheet of a plan in one printable page (a sheet a printed page)."""
    from .webmap import page_templates

    stops, routes = layers["stops"], layers["routes"]
    services = sorted({s for s in stops["service"] if s}) if len(stops) else []
    vehicles = []
    for summary in routes.drop(columns="geometry").to_dict("records"):
        records = stops[stops["vehicle"] == summary["vehicle"]].sort_values("stop_number").drop(columns="geometry")
        vehicles.append({"name": summary["vehicle"], "summary": summary,
                         "stops": _run_sheet_stops(records.to_dict("records"), services)})
    return page_templates().get_template("run_sheets_print.html").render(title=title, vehicles=vehicles,
                                                                         attribution=attribution)


def write_run_sheets(layers: Mapping, out_dir: Path, *, attribution: str | None = None) -> list[Path]:
    """A printable HTML run sheet per driver, and an index linking them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stops, routes = layers["stops"], layers["routes"]
    services = sorted({s for s in stops["service"] if s}) if len(stops) else []
    from .webmap import page_templates

    paths, sheets = [], []
    for summary in routes.drop(columns="geometry").to_dict("records"):
        vehicle = summary["vehicle"]
        records = stops[stops["vehicle"] == vehicle].sort_values("stop_number").drop(columns="geometry")
        path = out_dir / f"{_slug(vehicle)}.html"
        path.write_text(run_sheet_html(vehicle, records.to_dict("records"), summary, services, attribution),
                        encoding="utf-8")
        paths.append(path)
        sheets.append({"file": path.name, "vehicle": vehicle, "leaves": summary["leaves"], "trips": summary["trips"]})
    index = out_dir / "index.html"
    index.write_text(page_templates().get_template("run_sheets_index.html").render(sheets=sheets), encoding="utf-8")
    return [index, *paths]


def plan_map(layers: Mapping, *, title: str = "Plan", summary: str = "", attribution: str | None = None) -> str:
    """A self-contained HTML map (Leaflet inlined): routes coloured per vehicle, stops
    coloured per service with pop-ups, contracted trips dashed, a legend that switches
    vehicles on and off, OpenStreetMap tiles with their attribution."""
    from .webmap import plan_map_html

    stops, routes = layers["stops"], layers["routes"]
    services = sorted({s for s in stops["service"] if s}) if len(stops) else []
    services += sorted({c for c in layers["contracted"]["service"]} - set(services)) if len(layers["contracted"]) else []
    vehicle_colours = {v: VEHICLE_COLOURS[i % len(VEHICLE_COLOURS)] for i, v in enumerate(routes["vehicle"])}
    return plan_map_html(layers, title=title, summary=summary,
                         service_colours={s: service_colour(s, services) for s in services},
                         vehicle_colours=vehicle_colours, attribution=attribution)


def export_plan(plan: Plan, problem: Problem, locations: Mapping[str, tuple[float, float]], out_dir: str | Path, *,
                network=None, trip_text: Mapping | None = None, place_names: Mapping | None = None,
                attribution: str | None = None) -> dict[str, list[Path]]:
    """Everything a transport unit hands out: GeoJSON and GeoPackage layers, per-vehicle CSV
    schedules, run sheets and the map, under ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    layers = plan_layers(plan, problem, locations, network=network, trip_text=trip_text, place_names=place_names)
    attribution = attribution or (OSM_ATTRIBUTION if network is not None else None)
    map_path = out / "map.html"
    map_path.write_text(plan_map(layers, title=f"{plan.problem_name}: plan", summary=plan_headline(plan),
                                 attribution=attribution), encoding="utf-8")
    return {
        "geojson": write_geojson(layers, out),
        "geopackage": [write_geopackage(layers, out / "plan.gpkg")],
        "schedules": write_vehicle_schedules(layers["stops"], out / "schedules"),
        "run_sheets": write_run_sheets(layers, out / "run-sheets", attribution=attribution),
        "map": [map_path],
    }


def plan_headline(plan: Plan) -> str:
    """The one line a map's legend opens with."""
    return (f"£{plan.cost.total:,.2f} a day · {plan.vehicles_used} vehicles · {plan.km:,.0f} km · "
            f"{len(plan.contracted)} trips contracted" + (f" · {len(plan.unserved)} unserved" if plan.unserved else ""))


def plan_map_page(plan: Plan, loaded, *, network=None) -> str:
    """The self-contained map page of a plan read from files (``load_problem``'s result)."""
    layers = plan_layers(plan, loaded.problem, loaded.locations, network=network, trip_text=loaded.trip_text,
                         place_names=loaded.place_names)
    return plan_map(layers, title=f"{plan.problem_name}: plan", summary=plan_headline(plan),
                    attribution=OSM_ATTRIBUTION if network is not None else None)


def show_map(plan: Plan, loaded, *, network=None, height: int = 520):
    """The map inside a notebook cell (an iframe holding the self-contained page)."""
    from IPython.display import HTML

    from .webmap import page_templates

    return HTML(page_templates().get_template("notebook_map.html").render(
        page=plan_map_page(plan, loaded, network=network), height=int(height)))
