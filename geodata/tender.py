"""The tender pack's geography: the plan's routes and stops with the lot each belongs to, as a
GeoPackage (``lots.gpkg``) and a self-contained map coloured by lot (``lots-map.html``), beside
the sheets and schedules of ``optimiser/reporting/tender_report.py``.

The layers come from ``export.plan_layers`` without the trip file's passenger names and notes: a
tender pack goes to bidders, so stops carry trip ids."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

from optimiser.analysis.tender_lots import TenderLots
from optimiser.domain.model import Problem
from optimiser.domain.plan import Plan
from optimiser.reporting.tender_report import tender_files, write_tender_files

from .export import VEHICLE_COLOURS, plan_layers, service_colour, vehicle_label, write_geopackage


def lot_layers(lots: TenderLots, plan: Plan, problem: Problem, locations: Mapping[str, tuple[float, float]], *,
               network=None, place_names: Mapping | None = None) -> dict:
    """``{"routes", "stops"}`` GeoDataFrames (WGS84) of the lots' routes, each row with its ``lot``."""
    layers = plan_layers(plan, problem, locations, network=network, place_names=place_names)
    lot_of = {vehicle_label(r): lots.lot_of(r.vehicle_type, r.vehicle_number).number for r in plan.routes}
    out = {}
    for name in ("routes", "stops"):
        frame = layers[name].copy()
        frame.insert(0, "lot", [lot_of[v] for v in frame["vehicle"]] if len(frame) else [])
        out[name] = frame
    return out


def lots_map(layers: Mapping, lots: TenderLots) -> str:
    """The map page (``webmap.plan_map_html``) with each route coloured by its lot and named
    ``Lot N: vehicle`` in the legend."""
    from .webmap import plan_map_html

    routes = layers["routes"].sort_values(["lot", "vehicle"], kind="stable")
    stops = layers["stops"].copy()
    routes["vehicle"] = [f"Lot {n}: {v}" for n, v in zip(routes["lot"], routes["vehicle"])]
    stops["vehicle"] = [f"Lot {n}: {v}" for n, v in zip(stops["lot"], stops["vehicle"])]
    services = sorted({s for s in stops["service"] if s}) if len(stops) else []
    colours = {v: VEHICLE_COLOURS[(n - 1) % len(VEHICLE_COLOURS)] for n, v in zip(routes["lot"], routes["vehicle"])}
    contracted = layers["routes"].iloc[0:0][["geometry"]].assign(trip_id=[], service=[], tariff=[], price=[],
                                                                 reason=[])
    overall = lots.to_dict()["overall"]
    summary = (f"{overall['lots']} lots · {overall['vehicles']} vehicles · £{overall['price_a_day']:,.2f} a school "
               f"day · £{overall['price_a_year']:,.2f} a year")
    return plan_map_html({"routes": routes, "stops": stops, "contracted": contracted},
                         title=f"{lots.problem_name}: tender lots", summary=summary,
                         service_colours={s: service_colour(s, services) for s in services},
                         vehicle_colours=colours, attribution=None)


def write_tender_pack(lots: TenderLots, plan: Plan, problem: Problem, out_dir: str | Path, *,
                      locations: Mapping[str, tuple[float, float]] | None = None,
                      place_names: Mapping[str, str] | None = None, network=None) -> list[Path]:
    """The whole pack in ``out_dir``: the sheets, schedules, lots.json and lots.csv, and, when
    every place has coordinates, lots.gpkg and lots-map.html. Returns the paths written."""
    out = Path(out_dir)
    places = {s.location for r in plan.routes for s in r.stops}
    mapped = bool(locations) and places <= set(locations)
    paths = write_tender_files(tender_files(lots, problem, place_names, has_map=mapped), out)
    if mapped:
        layers = lot_layers(lots, plan, problem, locations, network=network, place_names=place_names)
        paths.append(write_geopackage(layers, out / "lots.gpkg"))
        (out / "lots-map.html").write_text(lots_map(layers, lots), encoding="utf-8")
        paths.append(out / "lots-map.html")
    return paths
