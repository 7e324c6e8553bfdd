"""The contract analysis as people read it: findings.json, contracts.md and contracts.html (Jinja2
templates, the HTML autoescaped and the Markdown's user strings written as text), findings.csv and
contracts.csv, and, when the places have coordinates, contracts.geojson: each contract's run and
each finding's link as lines for the map."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Mapping

from optimiser.analysis.contracts import ContractAnalysis
from optimiser.reporting.clock_report import template_environment
from optimiser.reporting.report import markdown_text

FINDING_COLUMNS = ("kind", "contracts", "operators", "days", "price_before", "price_after", "saving_a_day",
                   "saving_a_week", "description")
CONTRACT_COLUMNS = ("contract", "operator", "kind", "services", "vehicle_type", "days", "price_basis", "price_a_day",
                    "price_a_week", "trips", "price_per_trip", "duty_start", "duty_end", "duty_minutes", "miles",
                    "peak_passengers", "places", "peak_occupancy", "mean_occupancy", "idle_minutes")


def _templates(autoescape: bool):
    env = template_environment(autoescape)
    env.filters["md"] = markdown_text
    return env


def markdown(analysis: ContractAnalysis) -> str:
    doc = analysis.to_dict()
    return _templates(False).get_template("contracts.md.j2").render(a=doc, o=doc["overall"])


def html_report(analysis: ContractAnalysis) -> str:
    doc = analysis.to_dict()
    return _templates(True).get_template("contracts.html.j2").render(a=doc, o=doc["overall"])


#: A text cell starting with one of these is a formula to a spreadsheet (=HYPERLINK(...)).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text(value) -> str:
    """A value as one cell of text: lists joined with ``;``, None as nothing."""
    if isinstance(value, (list, tuple)):
        return ";".join(str(v) for v in value)
    return "" if value is None else str(value)


def cell_text(value) -> str:
    """A CSV cell a spreadsheet shows as text: a user's string (an operator's name, a contract id)
    starting with a formula character gets a leading apostrophe, as Excel writes literal text;
    numbers stay numbers."""
    text = _text(value)
    if isinstance(value, (str, list, tuple)) and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def finding_rows(analysis: ContractAnalysis) -> list[dict]:
    return [{c: cell_text(f.get(c)) for c in FINDING_COLUMNS} for f in analysis.findings]


def contract_layer(analysis: ContractAnalysis, locations: Mapping[str, tuple[float, float]]) -> dict | None:
    """A GeoJSON FeatureCollection: each contract's run through its stops, each chain's empty drive
    and each duplicate's link between first stops, as lines; None when a place has no coordinates."""
    def point(location):
        lat, lon = locations[location]
        return [round(lon, 6), round(lat, 6)]

    needed = {s for r in analysis.runs for s in r.stops}
    if not needed or not needed <= set(locations):
        return None
    features = []
    for run in analysis.runs:
        coords = [point(s) for s in run.stops]
        geometry = ({"type": "LineString", "coordinates": coords} if len(coords) > 1
                    else {"type": "Point", "coordinates": coords[0]})
        features.append({"type": "Feature", "geometry": geometry,
                         "properties": {"layer": "contract", **{k: _text(v) for k, v in run.to_dict().items()}}})
    runs = {r.contract.id: r for r in analysis.runs}
    for f in analysis.findings:
        a, b = runs[f["contracts"][0]], runs[f["contracts"][1]]
        ends = (a.last_stop, b.first_stop) if f["kind"] == "chain" else (a.first_stop, b.first_stop)
        features.append({"type": "Feature",
                         "geometry": {"type": "LineString", "coordinates": [point(ends[0]), point(ends[1])]},
                         "properties": {"layer": f["kind"], **{c: _text(f.get(c)) for c in FINDING_COLUMNS}}})
    return {"type": "FeatureCollection", "features": features}


def csv_text(columns, rows) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def contract_files(analysis: ContractAnalysis, locations: Mapping[str, tuple[float, float]] | None = None
                   ) -> dict[str, tuple[str, str]]:
    """Each file of the analysis by name, with its media type and text: findings.json,
    contracts.md, contracts.html, findings.csv, contracts.csv and, with the places' coordinates,
    contracts.geojson. The command line writes them to a folder; the service keeps them as a job's
    results."""
    files = {
        "findings.json": ("application/json", json.dumps(analysis.to_dict(), indent=2)),
        "contracts.md": ("text/markdown", markdown(analysis)),
        "contracts.html": ("text/html", html_report(analysis)),
        "findings.csv": ("text/csv", csv_text(FINDING_COLUMNS, finding_rows(analysis))),
        "contracts.csv": ("text/csv", csv_text(CONTRACT_COLUMNS, ({k: cell_text(v) for k, v in r.to_dict().items()}
                                                                   for r in analysis.runs))),
    }
    layer = contract_layer(analysis, locations or {})
    if layer is not None:
        files["contracts.geojson"] = ("application/geo+json", json.dumps(layer))
    return files


def write_contract_analysis(analysis: ContractAnalysis, out_dir: str | Path,
                            locations: Mapping[str, tuple[float, float]] | None = None) -> list[Path]:
    """``contract_files`` in ``out_dir``; returns the files written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, (_, text) in contract_files(analysis, locations).items():
        paths.append(out / name)
        paths[-1].write_text(text)
    return paths
