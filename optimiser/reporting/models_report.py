"""The operating models as people read them: models.json, models.md and models.html (Jinja2
templates, the HTML autoescaped, the charts inline), models.csv (one row a model), seeds.csv (one
row a model and seed), and the charts as SVG files: annual-cost.svg (each model's cost a year with
its spread over seeds) and tornado.svg (the preferred model's saving against today's register as
each rate moves)."""
from __future__ import annotations

import json
from pathlib import Path

from markupsafe import Markup

from optimiser.analysis.operating_models import OperatingModels
from optimiser.reporting.charts import Chart, model_costs_chart, tornado_chart
from optimiser.reporting.clock_report import template_environment
from optimiser.reporting.contracts_report import cell_text, csv_text
from optimiser.reporting.report import markdown_text

MODEL_COLUMNS = ("key", "title", "cost_a_school_day", "cost_an_other_day", "cost_a_year", "cost_a_year_min",
                 "cost_a_year_max", "vehicles", "drivers", "assistants", "capital", "capital_a_year",
                 "vehicles_to_acquire", "taxi_trips", "unserved_trips", "ride_minutes_mean", "ride_minutes_max",
                 "checked", "note")
SEED_COLUMNS = ("key", "seed", "school_day", "other_day", "capital_a_year", "year", "vehicles", "drivers",
                "assistants", "taxi_trips", "unserved_trips", "ride_minutes_mean", "ride_minutes_max")


def _templates(autoescape: bool):
    env = template_environment(autoescape)
    env.filters["md"] = markdown_text
    return env


def charts(result: OperatingModels) -> dict[str, Chart]:
    """The cost a year of every model, and, when a model is preferred, the tornado of its saving."""
    doc = result.to_dict()
    drawn = {"annual-cost.svg": model_costs_chart({
        m["title"]: (m["cost_a_year"]["min"], m["cost_a_year"]["median"], m["cost_a_year"]["max"])
        for m in doc["models"]})}
    s = doc["sensitivity"]
    if s and s["rates"]:
        step = round(100 * s["step"])
        drawn["tornado.svg"] = tornado_chart(
            f"{s['title']}: saving a year against today's register, each rate ±{step}%", s["saving_a_year"],
            {r["rate"]: (r["low"], r["high"]) for r in s["rates"]}, low_label=f"rate -{step}%",
            high_label=f"rate +{step}%")
    return drawn


def model_rows(result: OperatingModels) -> list[dict]:
    rows = []
    for m in result.to_dict()["models"]:
        rows.append({**{k: cell_text(m.get(k)) for k in MODEL_COLUMNS},
                     "cost_a_school_day": round(m["cost_a_school_day"]["median"], 2),
                     "cost_an_other_day": round(m["cost_an_other_day"]["median"], 2),
                     "cost_a_year": round(m["cost_a_year"]["median"], 2),
                     "cost_a_year_min": round(m["cost_a_year"]["min"], 2),
                     "cost_a_year_max": round(m["cost_a_year"]["max"], 2), "vehicles": m["vehicles"]["median"],
                     "capital": round(m["capital"], 2), "capital_a_year": round(m["capital_a_year"], 2),
                     "vehicles_to_acquire": cell_text([f"{k}={v}" for k, v in m["vehicles_to_acquire"].items()])})
    return rows


def seed_rows(result: OperatingModels) -> list[dict]:
    return [{"key": m["key"], **{k: s.get(k) for k in SEED_COLUMNS if k != "key"}}
            for m in result.to_dict()["models"] for s in m["by_seed"]]


def markdown(result: OperatingModels) -> str:
    return _templates(False).get_template("models.md.j2").render(r=result.to_dict())


def html_report(result: OperatingModels, drawn: dict[str, Chart] | None = None) -> str:
    drawn = charts(result) if drawn is None else drawn
    return _templates(True).get_template("models.html.j2").render(
        r=result.to_dict(), charts={name: Markup(chart.svg) for name, chart in drawn.items()})


def model_files(result: OperatingModels) -> dict[str, tuple[str, str]]:
    """Each file of the comparison by name, with its media type and text."""
    drawn = charts(result)
    return {
        "models.json": ("application/json", json.dumps(result.to_dict(), indent=2)),
        "models.md": ("text/markdown", markdown(result)),
        "models.html": ("text/html", html_report(result, drawn)),
        "models.csv": ("text/csv", csv_text(MODEL_COLUMNS, model_rows(result))),
        "seeds.csv": ("text/csv", csv_text(SEED_COLUMNS, seed_rows(result))),
        **{name: ("image/svg+xml", chart.svg) for name, chart in drawn.items()},
    }


def write_operating_models(result: OperatingModels, out_dir: str | Path) -> list[Path]:
    """``model_files`` in ``out_dir``; returns the files written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, (_, text) in model_files(result).items():
        paths.append(out / name)
        paths[-1].write_text(text)
    return paths
