"""The comparison as people read it: a Markdown report, a self-contained HTML report with charts
(inline SVG, no scripts, no network) rendered from ``templates/report.html``, the JSON document
and CSVs of the routes."""
from __future__ import annotations

import csv
import json
from functools import lru_cache
from pathlib import Path
from typing import Mapping

from optimiser.analysis.compare import Comparison, ride_minutes, vehicles_in_use
from optimiser.domain.documents import ROUTE_COLUMNS, route_rows
from optimiser.domain.plan import Plan
from optimiser.reporting.charts import (Chart, ChartStyle, continuity_chart, cost_components_chart, cost_curve_chart,
                                        cost_split_chart, ride_times_chart, savings_by_service_chart,
                                        vehicles_in_use_chart, week_cost_chart)

COMPONENT_WORDS = {"vehicles_fixed": "vehicles (fixed)", "distance": "distance", "driver_time": "driver time",
                   "assistants": "passenger assistants", "contracts": "contracts"}


def _money(x: float) -> str:
    return f"-£{-x:,.2f}" if x < 0 else f"£{x:,.2f}"


# ----------------------------------------------------------------------------- charts
def charts(c: Comparison, style: ChartStyle = ChartStyle()) -> dict[str, Chart]:
    """The report's charts by name; the service job also writes each as ``chart-NAME.svg``."""
    ap = c.apportionment
    rules = [sp.rule for sp in ap.splits]
    return {
        "cost_by_service": savings_by_service_chart(c.separate.cost_by_service, c.integrated.cost_by_service, style),
        "cost_split": cost_split_chart([r.replace("_", " ") for r in rules],
                                       {s: [sp.shares[s] for sp in ap.splits] for s in ap.services}, style),
        "cost_components": cost_components_chart(
            {COMPONENT_WORDS.get(k, k): (v, c.integrated.components.get(k, 0.0))
             for k, v in c.separate.components.items()}, style),
        "vehicles_in_use": vehicles_in_use_chart({"separate": c.separate.vehicles_in_use,
                                                  "integrated": c.integrated.vehicles_in_use}, style),
        "ride_times": ride_times_chart({
            "separate": [v for vs in c.separate.ride_minutes_all.values() for v in vs],
            "integrated": [v for vs in c.integrated.ride_minutes_all.values() for v in vs]}, style=style),
    }


def plan_charts(plan: Plan, style: ChartStyle = ChartStyle()) -> dict[str, Chart]:
    """One plan's charts by name (those it has data for): vehicles on the road through the day,
    ride times by service, and how the search's best cost fell. The service job writes each as
    ``chart-NAME.svg`` beside the plan."""
    drawn = {}
    steps = vehicles_in_use([plan])
    if steps:
        drawn["vehicles_in_use"] = vehicles_in_use_chart({"vehicles on the road": steps}, style)
    rides: dict[str, list[float]] = {}
    for service, minutes in ride_minutes(plan).values():
        rides.setdefault(service, []).append(minutes)
    if rides:
        drawn["ride_times"] = ride_times_chart(dict(sorted(rides.items())), style=style)
    if plan.solver.best_cost_over_time:
        drawn["search"] = cost_curve_chart("The search's best cost over time",
                                           {"best cost found": plan.solver.best_cost_over_time}, style=style)
    return drawn


def week_charts(week: Mapping, style: ChartStyle = ChartStyle()) -> dict[str, Chart]:
    """A planned week's charts by name, from its document (``WeekResult.to_dict()``): the cost of each
    day against the day planned alone, and each consistent service's regular passengers kept on one
    vehicle with a steady pickup, in the week's plans and in the days planned alone."""
    drawn = {"week_cost": week_cost_chart({d["day"]: (d["cost"], d["independent_cost"]) for d in week["by_day"]},
                                          style)}
    alone = (week.get("independent_continuity") or {}).get("by_service", {})
    shares = {service: (figures["both_share"], alone[service]["both_share"] if service in alone else None)
              for service, figures in week["continuity"]["by_service"].items()}
    if shares:
        drawn["continuity"] = continuity_chart(shares, style)
    return drawn


# ----------------------------------------------------------------------------- text
#: Characters that Markdown (or HTML inside it) would read as markup, written as entities so that a
#: trip id, service or name shows as typed and can never become a tag, a link or a table column.
_MARKDOWN_ENTITIES = {c: f"&#{ord(c)};" for c in "&<>|*_[]`\\#!()~"}


def markdown_text(value) -> str:
    """A user's string (trip id, service, tariff, name) as plain text inside Markdown."""
    text = " ".join(str(value).split())  # a line break would end a table row or a heading
    return "".join(_MARKDOWN_ENTITIES.get(ch, ch) for ch in text)


def _search_time(options) -> str:
    if options.search_by_size:
        return (f"{options.time_limit_s:g} s for each integrated solve and the same seconds per trip for each "
                f"smaller one (at least {min(options.least_time_s, options.time_limit_s):g} s)")
    return f"{options.time_limit_s:g} s per solve"


def _minutes_text(x) -> str:
    return "–" if x is None else f"{x:.0f}"


def report_context(c: Comparison) -> dict:
    """What the report says, once, for both its forms: figures formatted, users' strings (the
    day's name, services, trip ids, tariffs) as they are; the Markdown writer escapes those for
    Markdown and the HTML template for HTML."""
    s = c.savings["integrated_vs_separate"]
    money = s["money"]
    sides = (c.separate, c.integrated)
    ap = c.apportionment
    return {
        "problem_name": c.problem_name,
        "method": f"Each plan solved with {c.options.seeds} seed(s), {_search_time(c.options)}.",
        "answer": [f"Integrated planning {money['verdict']}.",
                   f"Median saving {_money(money['median'])} a day, range {_money(money['min'])} to "
                   f"{_money(money['max'])} over seeds (seed-to-seed spread {_money(money['seed_spread'])}).",
                   f"Against the national targets: {c.targets['statement']}.",
                   f"Passengers: {c.passenger_experience['note']}."],
        "warning": (f"{c.solves_cut_short} solve(s) ran out of time while still building routes, so trips they "
                    "had not reached went to contracts untried and their costs are too high; this saving is not "
                    "reliable. Allow more time per solve.") if c.solves_cut_short else None,
        "overview": [
            ("cost a day", _money(c.today["cost"]), *(_money(x.cost) for x in sides)),
            ("vehicles", "", *(str(x.vehicles) for x in sides)),
            ("vehicle km", "", *(f"{x.km:,.1f}" for x in sides)),
            ("driver hours", "", *(f"{x.driver_hours:,.1f}" for x in sides)),
            ("assistant hours", "", *(f"{x.assistant_hours:,.1f}" for x in sides)),
            ("CO2 kg", "", *(f"{x.co2_kg:,.1f}" for x in sides)),
            ("contracted trips", "all", *(str(x.contracted) for x in sides))],
        "components": [(COMPONENT_WORDS.get(k, k), _money(v["before"]), _money(v["after"]), _money(v["saving"]))
                       for k, v in s["by_component"].items()],
        "rides": [{"service": service,
                   "mean": f"{_minutes_text(e['separate']['mean_minutes'])} → "
                           f"{_minutes_text(e['integrated']['mean_minutes'])} min",
                   "max": f"{_minutes_text(e['separate']['max_minutes'])} → "
                          f"{_minutes_text(e['integrated']['max_minutes'])} min",
                   "over": " / ".join(f"{e['integrated'][k]:.0%}"
                                      for k in ("share_over_45", "share_over_60", "share_over_75")),
                   "wait": f"{_minutes_text(e['separate']['wait_at_destination_mean_minutes'])} → "
                           f"{_minutes_text(e['integrated']['wait_at_destination_mean_minutes'])} min"}
                  for service, e in c.passenger_experience["by_service"].items()],
        "recommended": ap.recommended.replace("_", " "), "why": ap.why,
        "rules": [sp.rule.replace("_", " ") for sp in ap.splits],
        "shares": [(service, [_money(sp.shares[service]) for sp in ap.splits]) for service in ap.services],
        "individually_rational": ["yes" if sp.individually_rational else "no" for sp in ap.splits],
        "in_core": ["yes" if sp.in_core else "no" for sp in ap.splits],
        "shapley_note": (None if ap.shapley_exact
                         else f"Shapley value sampled over {ap.shapley_samples} random orders."),
        "contracted": [{"trip_id": t["trip_id"], "service": t["service"], "tariff": t["tariff"],
                        "price": _money(t["price"]), "why": t["why"],
                        "fleet": "none" if t["cheapest_fleet_insertion"] is None
                        else _money(t["cheapest_fleet_insertion"])}
                       for t in c.contracted_in_integrated],
        "unpriced": len(c.today.get("unpriced_trips") or ()),
    }


def markdown(c: Comparison) -> str:
    r = report_context(c)
    m = markdown_text
    lines = [f"# Integrated against separate planning: {m(r['problem_name'])}", "", r["method"], "",
             "## The answer", "", *(f"- {line}" for line in r["answer"]),
             *([f"- **Warning:** {r['warning']}"] if r["warning"] else []), "",
             "| | today (contracts) | separate | integrated |", "|---|---:|---:|---:|",
             *("| " + " | ".join(row) + " |" for row in r["overview"]), "",
             "## Cost by component", "", "| component | separate | integrated | saving |", "|---|---:|---:|---:|",
             *("| " + " | ".join(row) + " |" for row in r["components"]), "",
             "## Ride times by service", "",
             "| service | mean (separate → integrated) | max | over 45 / 60 / 75 min (integrated) | waiting at destination |",
             "|---|---|---|---|---|",
             *(f"| {m(e['service'])} | {e['mean']} | {e['max']} | {e['over']} | {e['wait']} |" for e in r["rides"]),
             "", "## Who pays what", "",
             f"Recommended: **{r['recommended']}**, because {r['why']}.", "",
             "| service | " + " | ".join(r["rules"]) + " |", "|---|" + "---:|" * len(r["rules"]),
             *(f"| {m(service)} | " + " | ".join(shares) + " |" for service, shares in r["shares"]),
             "| no one pays more than alone | " + " | ".join(r["individually_rational"]) + " |",
             "| in the core | " + " | ".join(r["in_core"]) + " |"]
    if r["shapley_note"]:
        lines.append(f"\n{r['shapley_note']}")
    if r["contracted"]:
        lines += ["", "## Trips the integrated plan hands to contracts", "",
                  "| trip | service | tariff | price | cheapest place in the fleet | why |", "|---|---|---|---:|---:|---|"]
        lines += [f"| {m(t['trip_id'])} | {m(t['service'])} | {m(t['tariff'])} | {t['price']} | {t['fleet']} | "
                  f"{m(t['why'])} |" for t in r["contracted"]]
    if r["unpriced"]:
        lines += ["", f"Today's cost leaves out {r['unpriced']} trips with no price or tariff."]
    return "\n".join(lines) + "\n"


@lru_cache(maxsize=1)
def report_templates():
    """The report's Jinja2 templates (``templates/``), autoescaped: every string is shown as text."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(loader=PackageLoader("optimiser.reporting", "templates"),
                       autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


def html_report(c: Comparison, figures: Mapping[str, Chart] | None = None, style: ChartStyle = ChartStyle()) -> str:
    """The report as one HTML page with its charts inline. ``figures``: charts already drawn
    (``charts(c)``), so that a caller writing them as files too draws each once."""
    from markupsafe import Markup

    figures = charts(c, style) if figures is None else figures
    # the SVG is matplotlib's, which escapes every text it draws; it is placed as is
    return report_templates().get_template("report.html").render(
        report=report_context(c), charts=[(chart.title, Markup(chart.svg)) for chart in figures.values()])


def write_routes_csv(path: Path, plans: Mapping[str, Plan]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("plan",) + ROUTE_COLUMNS)
        for label, plan in plans.items():
            writer.writerows([label] + row for row in route_rows(plan))


def write_comparison(c: Comparison, out_dir: str | Path, style: ChartStyle = ChartStyle()) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "comparison.json", out / "report.md", out / "report.html", out / "routes-integrated.csv",
             out / "routes-separate.csv"]
    paths[0].write_text(json.dumps(c.to_dict(), indent=2))
    paths[1].write_text(markdown(c))
    paths[2].write_text(html_report(c, charts(c, style)))
    write_routes_csv(paths[3], {"integrated": c.integrated_plan})
    write_routes_csv(paths[4], {f"separate:{s}": p for s, p in c.separate_plans.items()})
    return paths
