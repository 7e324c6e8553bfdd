"""The tender pack as bidders read it: lots.json, lots.csv, a printable HTML sheet and a CSV schedule
per lot, and an index (Jinja2 templates, autoescaped, with print CSS). The GeoPackage of the routes
and the map of the lots are geodata's (``geodata/export.py``), which writes them beside these."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Mapping

from optimiser.analysis.tender_lots import SCHEDULE_COLUMNS, Lot, TenderLots, schedule_rows
from optimiser.domain.model import Problem, format_clock
from optimiser.reporting.clock_report import template_environment
from optimiser.reporting.contracts_report import FORMULA_STARTS
from optimiser.reporting.report import markdown_text

LOT_COLUMNS = ("lot", "name", "area", "time_bands", "vehicle_types", "vehicles", "drivers", "assistants", "duties",
               "trips", "km", "paid_hours", "price_a_day", "price_other_day", "price_a_year", "schedule", "sheet")
ACTIONS = {"start": "Leave depot", "end": "Back at depot", "pickup": "Pick up", "dropoff": "Drop off"}


def _templates():
    env = template_environment(True)
    env.filters["minute"] = lambda clock: str(clock)[:5]  # bidders read minutes: 08:25:40 -> 08:25
    return env


def lot_file_stem(lot: Lot) -> str:
    return f"lot-{lot.number:02d}"


def spreadsheet_text(value):
    """A cell a spreadsheet shows as text: a user's string (a trip id, a place) starting with a
    formula character gets a leading apostrophe, as Excel writes literal text; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv(columns, rows) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows({k: spreadsheet_text(v) for k, v in row.items()} for row in rows)
    return buffer.getvalue()


def _lot_view(lot: Lot, place_names: Mapping[str, str]) -> dict:
    view = lot.to_dict()
    view["area"] = place_names.get(lot.centre, lot.centre) if lot.centre else None
    stem = lot_file_stem(lot)
    view["sheet_file"], view["schedule_file"] = f"{stem}.html", f"{stem}-schedule.csv"
    return view


def lot_sheet(lots: TenderLots, lot: Lot, problem: Problem, place_names: Mapping[str, str] | None = None) -> str:
    """One lot's printable sheet: its figures, vehicles and staff, price and every duty's stops."""
    names = place_names or {}
    rows = schedule_rows(problem, lot, names)
    vehicles = []
    for v in lot.vehicle_days:
        duties = [{"number": r.duty + 1, "layout": r.layout, "km": r.km,
                   "stops": [row for row in rows if row["vehicle"] == v.name and row["duty"] == r.duty + 1]}
                  for r in v.routes]
        vehicles.append({"name": v.name, "duties": duties})
    options = lots.options
    all_year = sorted({s.service for r in lot.routes for s in r.stops if s.kind == "pickup"}
                      - set(options.term_time_services))
    view = _lot_view(lot, names)
    return _templates().get_template("tender_lot.html.j2").render(
        problem=lots.problem_name, lot=view, vehicles=vehicles, actions=ACTIONS, options=options,
        schedule_file=view["schedule_file"],
        all_year_text=", ".join(all_year) if all_year else "a service running all year (none in this lot)")


def lot_rows(lots: TenderLots, place_names: Mapping[str, str] | None = None) -> list[dict]:
    names = place_names or {}
    rows = []
    for lot in lots.lots:
        view = _lot_view(lot, names)
        rows.append({**{k: view.get(k) for k in LOT_COLUMNS}, "name": lot.name,
                     "time_bands": ";".join(lot.time_bands),
                     "vehicle_types": ";".join(dict.fromkeys(v.vehicle_type for v in lot.vehicle_days)),
                     "schedule": view["schedule_file"], "sheet": view["sheet_file"]})
    return rows


def markdown(lots: TenderLots, place_names: Mapping[str, str] | None = None) -> str:
    """The lots as a Markdown table, what ``itu contracts lots`` prints."""
    o = lots.to_dict()["overall"]
    lines = [f"# Tender lots: {markdown_text(lots.problem_name)}", "",
             f"{o['lots']} lots, {o['vehicles']} vehicles, {o['drivers']} drivers, {o['assistants']} assistants, "
             f"{o['trips']} trips, {o['km']:,.1f} km, {o['paid_hours']:,.2f} paid hours: "
             f"£{o['price_a_day']:,.2f} a school day, £{o['price_a_year']:,.2f} a year "
             f"({o['contracted_trips']} trips on per-trip contracts and {o['unserved_trips']} unserved in no lot)", "",
             "| lot | area around | time bands | vehicles | drivers | assistants | trips | km | paid hours | a day | a year |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in lot_rows(lots, place_names):
        lines.append(f"| {row['name']} | {markdown_text(row['area'] or '—')} | {row['time_bands']} | {row['vehicles']} | "
                     f"{row['drivers']} | {row['assistants']} | {row['trips']} | {row['km']:,.1f} | "
                     f"{row['paid_hours']:,.2f} | £{row['price_a_day']:,.2f} | £{row['price_a_year']:,.2f} |")
    return "\n".join(lines) + "\n"


def lots_document(lots: TenderLots, place_names: Mapping[str, str] | None = None) -> dict:
    """lots.json: ``TenderLots.to_dict`` with each lot's area named as the trip file names its centre."""
    names = place_names or {}
    doc = lots.to_dict()
    for lot_doc, lot in zip(doc["lots"], lots.lots):
        lot_doc["area"] = names.get(lot.centre, lot.centre) if lot.centre else None
    return doc


def tender_files(lots: TenderLots, problem: Problem, place_names: Mapping[str, str] | None = None, *,
                 has_map: bool = False) -> dict[str, tuple[str, str]]:
    """Each file of the pack by name, with its media type and text: lots.json, lots.csv, lots.md,
    index.html, and per lot ``lot-NN.html`` and ``lot-NN-schedule.csv``. The command line writes
    them to a folder; the service keeps them as a job's results."""
    names = place_names or {}
    doc = lots_document(lots, names)
    files = {"lots.json": ("application/json", json.dumps(doc, indent=2)),
             "lots.csv": ("text/csv", _csv(LOT_COLUMNS, lot_rows(lots, names))),
             "lots.md": ("text/markdown", markdown(lots, names)),
             "index.html": ("text/html", _templates().get_template("tender_index.html.j2").render(
                 problem=lots.problem_name, o=doc["overall"], options=lots.options, has_map=has_map,
                 peaks=[[format_clock(t)[:5] for t in p] for p in (lots.options.morning_peak, lots.options.afternoon_peak)],
                 lots=[_lot_view(lot, names) for lot in lots.lots]))}
    for lot in lots.lots:
        stem = lot_file_stem(lot)
        files[f"{stem}.html"] = ("text/html", lot_sheet(lots, lot, problem, names))
        files[f"{stem}-schedule.csv"] = ("text/csv", _csv(SCHEDULE_COLUMNS, schedule_rows(problem, lot, names)))
    return files


def write_tender_files(files: Mapping[str, tuple[str, str]], out_dir: str | Path) -> list[Path]:
    """``files`` (``tender_files``'s) in ``out_dir``; returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, (_, text) in files.items():
        paths.append(out / name)
        paths[-1].write_text(text, encoding="utf-8")
    return paths
