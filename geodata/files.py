"""A day of trips from files, and a plan back out to files, with plain arguments.

``load_day`` reads either a problem document (JSON, docs/problem-format.md) or a trip file
(CSV, GeoJSON, GeoPackage; docs/geodata-formats.md) with the fleet file beside it, and keeps
what the exports need besides the problem: where each location is, the passengers' text, the
places' names and the road network the times came over. ``write_plan_files`` writes the plan
and, when every location it visits has coordinates, its map, layers, schedules and run sheets.
The command line, the benchmarks and notebooks all load days this way.
"""
from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from optimiser.domain.documents import comparison_settings, read_trips_and_fleet, write_plan
from optimiser.domain.model import Problem
from optimiser.domain.plan import Plan
from optimiser.errors import InputFormatError

from .readers import DEFAULT_MAX_SNAP_M, load_problem
from .travel import TravelProvider, travel_provider

#: A trip file in one of these formats is read as geodata, with a fleet file beside it; anything
#: else is read as a problem document.
GEODATA_SUFFIXES = (".csv", ".geojson", ".gpkg")


@dataclass
class LoadedDay:
    """A validated problem and what the files said besides it."""

    problem: Problem
    #: The comparison settings the fleet (or the document) carries, checked:
    #: ``fleet_by_service``, ``today_trip_prices``, ``today_route_prices``.
    settings: dict
    #: (latitude, longitude) of each location; empty for a document without coordinates.
    locations: dict[str, tuple[float, float]]
    trip_text: dict[str, dict[str, str]] = field(default_factory=dict)
    place_names: dict[str, str] = field(default_factory=dict)
    #: The road network the travel times came over, for drawing routes along the roads (None:
    #: crow-fly, OSRM, or a document).
    network: object | None = None
    #: How far each location was from the road it was snapped to, in metres.
    snap_m: dict[str, float] = field(default_factory=dict)
    #: What the files said that is worth knowing but not an error (a location far from a road
    #: with ``far_points="warn"``, an unknown column, ...).
    warnings: list[str] = field(default_factory=list)


def travel_config(*, pbf: str | Path | None = None, osrm_url: str | None = None,
                  area_type: str | None = None) -> dict:
    """The travel provider's configuration (``travel_provider``'s mapping): times over the
    roads of an OpenStreetMap extract, from an OSRM server, or crow-fly (by default, at the
    speeds of ``area_type``)."""
    if pbf and osrm_url:
        raise InputFormatError("give a road extract or an OSRM server, not both", where="travel")
    if pbf:
        return {"provider": "road", "pbf": str(pbf)}
    if osrm_url:
        return {"provider": "osrm", "url": osrm_url}
    config = {"provider": "crow-fly"}
    if area_type:
        config["area_type"] = area_type
    return config


def load_day(trips_path: str | Path, fleet_path: str | Path | None = None, *,
             travel: TravelProvider | Mapping | None = None, tariffs_path: str | Path | None = None,
             far_points: str = "error", max_snap_m: float = DEFAULT_MAX_SNAP_M, day: str | None = None) -> LoadedDay:
    """The day in ``trips_path``: a trip file (by its suffix, ``GEODATA_SUFFIXES``) with its
    fleet file, travel times from ``travel`` (a provider, or ``travel_config``'s mapping;
    crow-fly if None), ``tariffs_path`` added to the fleet's tariffs and locations further than
    ``max_snap_m`` from a road an error or a warning (``far_points``); or a problem document,
    which may hold its fleet or take it from ``fleet_path`` (``travel`` and the rest do not
    apply: a document carries its own times). ``day``: one day of a week's trip file (its rows
    whose ``days`` include it; geodata/week.py). Raises ``InputFormatError`` naming the file, row
    and column of every problem."""
    trips_path = Path(trips_path)
    if trips_path.suffix.lower() in GEODATA_SUFFIXES:
        if not fleet_path:
            raise InputFormatError("a trip file needs a fleet file beside it (CSV or JSON)", where="fleet")
        provider = travel if hasattr(travel, "table") else travel_provider(travel)
        loaded = load_problem(trips_path, fleet_path, travel=provider, tariffs_path=tariffs_path,
                              far_points=far_points, max_snap_m=max_snap_m, day=day)
        return LoadedDay(loaded.problem, comparison_settings(loaded.settings), dict(loaded.locations),
                         trip_text=loaded.trip_text, place_names=loaded.place_names,
                         network=getattr(provider, "network", None), snap_m=dict(loaded.snap_m),
                         warnings=list(loaded.warnings))
    problem, settings = read_trips_and_fleet(trips_path, fleet_path)
    return LoadedDay(problem, settings, _document_locations(trips_path))


def _document_locations(path: Path) -> dict[str, tuple[float, float]]:
    """A document's ``locations``, when it has them: a document with coordinates can be drawn on
    a map too. The document has been read and checked already, so anything unreadable here only
    means there is no map."""
    try:
        doc = json.loads(path.read_text())
        return {str(k): (float(v[0]), float(v[1])) for k, v in (doc.get("locations") or {}).items()}
    except (ValueError, TypeError, AttributeError, IndexError):
        return {}


def snapping_summary(day: LoadedDay) -> str | None:
    """One line on how far the locations were from the road network (the median and the
    furthest, by name), or None when the times did not come over a road network."""
    if day.network is None or not day.snap_m:
        return None
    distances = sorted(day.snap_m.values())
    worst = max(day.snap_m, key=day.snap_m.get)
    return (f"snapped {len(distances)} locations to the road network: median {statistics.median(distances):,.0f} m, "
            f"furthest {distances[-1]:,.0f} m ({worst})")


def write_plan_files(plan: Plan, day: LoadedDay, out_dir: str | Path) -> list[Path]:
    """``plan.json`` and ``routes.csv`` under ``out_dir``, and, when every location the plan uses
    has coordinates, the map, the GeoJSON and GeoPackage layers, per-vehicle schedules and run
    sheets (``geodata.export.export_plan``). Returns every file written."""
    written = list(write_plan(plan, out_dir))
    problem = day.problem
    needed = {s.location for r in plan.routes for s in r.stops} | {
        loc for c in plan.contracted for loc in (problem.trip(c.trip_id).pickup, problem.trip(c.trip_id).dropoff)}
    if day.locations and needed <= set(day.locations):
        from .export import export_plan  # geopandas and the map's assets: only when there is a map to draw

        for files in export_plan(plan, problem, day.locations, out_dir, network=day.network,
                                 trip_text=day.trip_text, place_names=day.place_names).values():
            written.extend(files)
    return written
