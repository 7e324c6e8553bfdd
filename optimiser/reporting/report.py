"""The comparison as people read it: a Markdown report, a self-contained HTML report with charts
(inline SVG, no scripts, no network), the JSON document and CSVs of the routes."""
from __future__ import annotations

import csv
import html
import json
import math
from pathlib import Path
from typing import Mapping, Sequence

from optimiser.analysis.compare import Comparison
from optimiser.domain.documents import ROUTE_COLUMNS, route_rows
from optimiser.domain.plan import Plan

#: Enough distinct colours for ten series (a benchmark of ten seeds), before any repeats.
COLOURS = ("#8c8c8c", "#1b7837", "#2166ac", "#b2182b", "#e08214", "#762a83", "#35978f", "#c51b7d", "#543005",
           "#4d4d4d")
#: Width of one legend entry and height of one row of them: entries wrap onto new rows below the
#: chart, which grows to hold them, rather than run off its right edge.
LEGEND_ENTRY_W = 170
LEGEND_ROW_H = 18
COMPONENT_WORDS = {"vehicles_fixed": "vehicles (fixed)", "distance": "distance", "driver_time": "driver time",
                   "assistants": "passenger assistants", "contracts": "contracts"}


def _money(x: float) -> str:
    return f"-£{-x:,.2f}" if x < 0 else f"£{x:,.2f}"


# ----------------------------------------------------------------------------- SVG charts
def _svg_start(title: str, width: int, height: int) -> list[str]:
    """The opening of a chart: its size, an accessible name and the title drawn above it."""
    return [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
            f'aria-label="{html.escape(title)}"><title>{html.escape(title)}</title>',
            f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">'
            f'{html.escape(title)}</text>']


def bar_chart(title: str, categories: Sequence[str], series: Mapping[str, Sequence[float]], unit: str = "£",
              width: int = 640, height: int = 300) -> str:
    """Grouped bars, one group per category, one bar per series."""
    left, bottom, top = 70, 60, 40
    extra = _legend_extra_height(len(series), left, width)
    height, bottom = height + extra, bottom + extra
    plot_w, plot_h = width - left - 20, height - bottom - top
    peak = max([v for values in series.values() for v in values] + [1e-9])
    group_w = plot_w / max(len(categories), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)
    out = _svg_start(title, width, height)
    for k in range(5):
        value = peak * k / 4
        y = top + plot_h - plot_h * k / 4
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">'
                   f'{unit}{value:,.0f}</text>')
    for i, category in enumerate(categories):
        x0 = left + i * group_w + group_w * 0.1
        for j, (name, values) in enumerate(series.items()):
            value = values[i]
            h = plot_h * value / peak
            x = x0 + j * bar_w
            out.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}" '
                       f'fill="{COLOURS[j % len(COLOURS)]}"><title>{html.escape(name)}, {html.escape(category)}: '
                       f'{unit}{value:,.2f}</title></rect>')
        out.append(f'<text x="{x0 + group_w * 0.4:.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
                   f'font-size="12">{html.escape(category)}</text>')
    out.append(_legend(list(series), left, height - bottom + 42, width))
    out.append("</svg>")
    return "".join(out)


def line_chart(title: str, labels: Sequence[str], series: Mapping[str, Sequence[float]], unit: str = "",
               width: int = 640, height: int = 300) -> str:
    left, bottom, top = 50, 60, 40
    extra = _legend_extra_height(len(series), left, width)
    height, bottom = height + extra, bottom + extra
    plot_w, plot_h = width - left - 20, height - bottom - top
    peak = max([v for values in series.values() for v in values] + [1])
    if all(float(v).is_integer() for values in series.values() for v in values):
        peak = -(-peak // 4) * 4  # counts get whole-number gridlines
    n = max(len(labels), 2)
    out = _svg_start(title, width, height)
    for k in range(5):
        y = top + plot_h - plot_h * k / 4
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">'
                   f'{peak * k / 4:,.{0 if peak % 4 == 0 or peak >= 40 else 1}f}{unit}</text>')
    step = max(1, len(labels) // 8)
    for i in range(0, len(labels), step):
        x = left + plot_w * i / (n - 1)
        out.append(f'<text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="middle" font-size="11">'
                   f'{html.escape(labels[i])}</text>')
    for j, (name, values) in enumerate(series.items()):
        path = " L ".join(f"{left + plot_w * i / (n - 1):.1f} {top + plot_h - plot_h * v / peak:.1f}"
                          for i, v in enumerate(values))
        out.append(f'<path fill="none" style="fill:none" stroke="{COLOURS[j % len(COLOURS)]}" stroke-width="2.5" d="M {path}">'
                   f'<title>{html.escape(name)}</title></path>')
    out.append(_legend(list(series), left, height - bottom + 42, width))
    out.append("</svg>")
    return "".join(out)


def cost_curve_chart(title: str, curves: Mapping[str, Sequence[tuple[float, float]]], width: int = 720,
                     height: int = 340, lines: Mapping[str, float] | None = None) -> str:
    """Best cost against time, one step line per search (``(seconds, pounds)`` points, as in a
    plan's ``solver.best_cost_over_time``). Time runs on a log scale, so that the first minute and
    the last of a long search both show; the cost axis spans the costs found, from the cheapest
    to a fifth above it (a first plan dearer than that is drawn at the top edge). ``lines``: costs
    to compare against (a target, another run's best), drawn dashed across the chart and named."""
    lines = dict(lines or {})
    left, bottom, top, right = 70, 62, 40, 20
    extra = _legend_extra_height(len(curves), left, width)
    height, bottom = height + extra, bottom + extra
    plot_w, plot_h = width - left - right, height - bottom - top
    points = [(t, c) for curve in curves.values() for t, c in curve]
    if not points:
        raise ValueError("no curve has a point to draw")
    first = max(1.0, min(t for t, _ in points))
    last = max(first * 10, 1.05 * max(t for t, _ in points))  # room for the last step to show
    cheapest = min([c for _, c in points] + list(lines.values()))
    dearest = min(max([c for _, c in points] + list(lines.values())), cheapest * 1.2)
    span = max(dearest - cheapest, 1.0)

    def x(t: float) -> float:
        return left + plot_w * (math.log10(max(t, first)) - math.log10(first)) / (math.log10(last) - math.log10(first))

    def y(c: float) -> float:
        return top + plot_h * (1 - (min(c, dearest) - cheapest) / span)

    out = _svg_start(title, width, height)
    for k in range(5):
        cost = cheapest + span * k / 4
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(cost):.1f}" y2="{y(cost):.1f}" stroke="#ddd"/>'
                   f'<text x="{left - 6}" y="{y(cost) + 4:.1f}" text-anchor="end" font-size="11">£{cost:,.0f}</text>')
    for t, label in ((1, "1 s"), (3, "3 s"), (10, "10 s"), (30, "30 s"), (60, "1 min"), (120, "2 min"),
                     (300, "5 min"), (600, "10 min"), (1800, "30 min"), (3600, "1 h"), (7200, "2 h")):
        if first <= t <= last:
            out.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top}" y2="{top + plot_h}" stroke="#eee"/>'
                       f'<text x="{x(t):.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
                       f'font-size="11">{label}</text>')
    for name, cost in lines.items():
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(cost):.1f}" y2="{y(cost):.1f}" stroke="#555" '
                   f'stroke-dasharray="6 4"><title>{html.escape(name)}</title></line>'
                   f'<text x="{left + plot_w - 4}" y="{y(cost) - 4:.1f}" text-anchor="end" font-size="11" '
                   f'fill="#333">{html.escape(name)}: £{cost:,.0f}</text>')
    for j, (name, curve) in enumerate(curves.items()):
        steps, previous = [], None
        for t, c in sorted(curve):
            if previous is not None:
                steps.append(f"{x(t):.1f} {y(previous):.1f}")  # the best so far holds until the next one
            steps.append(f"{x(t):.1f} {y(c):.1f}")
            previous = c
        if steps:
            out.append(f'<path fill="none" style="fill:none" stroke="{COLOURS[j % len(COLOURS)]}" stroke-width="2" '
                       f'd="M {" L ".join(steps)}"><title>{html.escape(name)}</title></path>')
    out.append(_legend(list(curves), left, height - bottom + 48, width))
    out.append("</svg>")
    return "".join(out)


def _legend_per_row(x: float, width: int) -> int:
    return max(1, int((width - x) // LEGEND_ENTRY_W))


def _legend_extra_height(count: int, x: float, width: int) -> int:
    """Height the legend's rows beyond the first add to a chart."""
    return LEGEND_ROW_H * max(0, math.ceil(count / _legend_per_row(x, width)) - 1)


def _legend(names: Sequence[str], x: float, y: float, width: int) -> str:
    """One entry per series from (x, y), wrapping onto rows of LEGEND_ROW_H below within ``width``."""
    per_row = _legend_per_row(x, width)
    parts = []
    for j, name in enumerate(names):
        ex, ey = x + (j % per_row) * LEGEND_ENTRY_W, y + (j // per_row) * LEGEND_ROW_H
        parts.append(f'<rect x="{ex}" y="{ey - 10}" width="12" height="12" fill="{COLOURS[j % len(COLOURS)]}"/>'
                     f'<text x="{ex + 16}" y="{ey}" font-size="12">{html.escape(name)}</text>')
    return "".join(parts)


def _aligned_timeline(a: Sequence[tuple[str, int]], b: Sequence[tuple[str, int]]):
    labels = sorted({t for t, _ in a} | {t for t, _ in b})
    da, db = dict(a), dict(b)
    return labels, [da.get(t, 0) for t in labels], [db.get(t, 0) for t in labels]


def _histogram(values: Sequence[float], edges: Sequence[int]) -> list[int]:
    counts = [0] * len(edges)
    for v in values:
        for i in range(len(edges) - 1, -1, -1):
            if v >= edges[i]:
                counts[i] += 1
                break
    return counts


def charts(c: Comparison) -> dict[str, str]:
    services = list(c.separate.cost_by_service)
    out = {
        "cost_by_service": bar_chart("Cost per service: separate against integrated", services, {
            "separate": [c.separate.cost_by_service.get(s, 0.0) for s in services],
            "integrated": [c.integrated.cost_by_service.get(s, 0.0) for s in services]}),
        "cost_components": bar_chart("Cost by component", [COMPONENT_WORDS.get(k, k) for k in c.separate.components], {
            "separate": list(c.separate.components.values()),
            "integrated": [c.integrated.components.get(k, 0.0) for k in c.separate.components]}),
    }
    labels, sep, integ = _aligned_timeline(c.separate.vehicles_in_use, c.integrated.vehicles_in_use)
    out["vehicles_in_use"] = line_chart("Vehicles on the road through the day", labels,
                                        {"separate": sep, "integrated": integ})
    edges = list(range(0, 121, 10))
    rides_sep = [v for vs in c.separate.ride_minutes_all.values() for v in vs]
    rides_int = [v for vs in c.integrated.ride_minutes_all.values() for v in vs]
    out["ride_times"] = bar_chart("Ride times (trips per 10-minute band)", [f"{e}+" for e in edges], {
        "separate": _histogram(rides_sep, edges), "integrated": _histogram(rides_int, edges)}, unit="")
    return out


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


def markdown(c: Comparison) -> str:
    s = c.savings["integrated_vs_separate"]
    m = markdown_text
    money = s["money"]
    lines = [f"# Integrated against separate planning: {m(c.problem_name)}", "",
             f"Each plan solved with {c.options.seeds} seed(s), {_search_time(c.options)}.", "",
             "## The answer", "",
             f"- Integrated planning {money['verdict']}.",
             f"- Median saving {_money(money['median'])} a day, range {_money(money['min'])} to "
             f"{_money(money['max'])} over seeds (seed-to-seed spread {_money(money['seed_spread'])}).",
             f"- Against the national targets: {c.targets['statement']}.",
             f"- Passengers: {c.passenger_experience['note']}.",
             *([f"- **Warning:** {c.solves_cut_short} solve(s) ran out of time while still building routes, so "
                "trips they had not reached went to contracts untried and their costs are too high; this saving "
                "is not reliable. Allow more time per solve."] if c.solves_cut_short else []), "",
             "| | today (contracts) | separate | integrated |", "|---|---:|---:|---:|",
             f"| cost a day | {_money(c.today['cost'])} | {_money(c.separate.cost)} | {_money(c.integrated.cost)} |",
             f"| vehicles | | {c.separate.vehicles} | {c.integrated.vehicles} |",
             f"| vehicle km | | {c.separate.km:,.1f} | {c.integrated.km:,.1f} |",
             f"| driver hours | | {c.separate.driver_hours:,.1f} | {c.integrated.driver_hours:,.1f} |",
             f"| assistant hours | | {c.separate.assistant_hours:,.1f} | {c.integrated.assistant_hours:,.1f} |",
             f"| CO2 kg | | {c.separate.co2_kg:,.1f} | {c.integrated.co2_kg:,.1f} |",
             f"| contracted trips | all | {c.separate.contracted} | {c.integrated.contracted} |", "",
             "## Cost by component", "", "| component | separate | integrated | saving |", "|---|---:|---:|---:|"]
    for k, v in s["by_component"].items():
        lines.append(f"| {COMPONENT_WORDS.get(k, k)} | {_money(v['before'])} | {_money(v['after'])} | "
                     f"{_money(v['saving'])} |")
    lines += ["", "## Ride times by service", "",
              "| service | mean (separate → integrated) | max | over 45 / 60 / 75 min (integrated) | waiting at destination |",
              "|---|---|---|---|---|"]
    for service, e in c.passenger_experience["by_service"].items():
        a, b = e["separate"], e["integrated"]
        fmt = (lambda x: "–" if x is None else f"{x:.0f}")
        lines.append(f"| {m(service)} | {fmt(a['mean_minutes'])} → {fmt(b['mean_minutes'])} min | "
                     f"{fmt(a['max_minutes'])} → {fmt(b['max_minutes'])} min | "
                     f"{b['share_over_45']:.0%} / {b['share_over_60']:.0%} / {b['share_over_75']:.0%} | "
                     f"{fmt(a['wait_at_destination_mean_minutes'])} → {fmt(b['wait_at_destination_mean_minutes'])} "
                     "min |")
    ap = c.apportionment
    lines += ["", "## Who pays what", "",
              f"Recommended: **{ap.recommended.replace('_', ' ')}**, because {ap.why}.", "",
              "| service | " + " | ".join(sp.rule.replace("_", " ") for sp in ap.splits) + " |",
              "|---|" + "---:|" * len(ap.splits)]
    for service in ap.services:
        lines.append(f"| {m(service)} | " + " | ".join(_money(sp.shares[service]) for sp in ap.splits) + " |")
    lines.append("| no one pays more than alone | " + " | ".join(
        "yes" if sp.individually_rational else "no" for sp in ap.splits) + " |")
    lines.append("| in the core | " + " | ".join("yes" if sp.in_core else "no" for sp in ap.splits) + " |")
    if not ap.shapley_exact:
        lines.append(f"\nShapley value sampled over {ap.shapley_samples} random orders.")
    if c.contracted_in_integrated:
        lines += ["", "## Trips the integrated plan hands to contracts", "",
                  "| trip | service | tariff | price | cheapest place in the fleet | why |", "|---|---|---|---:|---:|---|"]
        for t in c.contracted_in_integrated:
            fleet = "none" if t["cheapest_fleet_insertion"] is None else _money(t["cheapest_fleet_insertion"])
            lines.append(f"| {m(t['trip_id'])} | {m(t['service'])} | {m(t['tariff'])} | {_money(t['price'])} | "
                         f"{fleet} | {m(t['why'])} |")
    if c.today.get("unpriced_trips"):
        lines += ["", f"Today's cost leaves out {len(c.today['unpriced_trips'])} trips with no price or tariff."]
    return "\n".join(lines) + "\n"


def html_report(c: Comparison) -> str:
    import re

    body = markdown(c)
    # a small Markdown subset is all the report uses: headings, lists, tables, bold
    out, table = [], []

    def flush():
        if table:
            rows = [r for r in table if not re.match(r"^\|[-:| ]+\|$", r)]
            # cells come from Markdown: entities (a user's string, see markdown_text) are read, then escaped
            cells = [[html.escape(html.unescape(x.strip())) for x in r.strip("|").split("|")] for r in rows]
            out.append("<table><thead><tr>" + "".join(f"<th>{x}</th>" for x in cells[0]) + "</tr></thead><tbody>"
                       + "".join("<tr>" + "".join(f"<td>{x}</td>" for x in r) + "</tr>" for r in cells[1:])
                       + "</tbody></table>")
            table.clear()

    for line in body.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush()
        text = html.escape(html.unescape(re.sub(r"\*\*(.+?)\*\*", "\x00\\1\x01", line)))
        text = text.replace("\x00", "<b>").replace("\x01", "</b>")
        if line.startswith("# "):
            out.append(f"<h1>{text[2:]}</h1>")
        elif line.startswith("## "):
            out.append(f"<h2>{text[3:]}</h2>")
        elif line.startswith("- "):
            out.append(f"<li>{text[2:]}</li>")
        elif line.strip():
            out.append(f"<p>{text}</p>")
    flush()
    figures = "".join(f'<figure>{svg}</figure>' for svg in charts(c).values())
    style = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px}"
             "th{background:#f3f3f3}figure{display:inline-block;margin:0.5em}")
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(c.problem_name)}: "
            f"integrated against separate</title><style>{style}</style></head><body>{''.join(out[:1])}"
            f"<section>{figures}</section>{''.join(out[1:])}</body></html>")


def write_routes_csv(path: Path, plans: Mapping[str, Plan]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("plan",) + ROUTE_COLUMNS)
        for label, plan in plans.items():
            writer.writerows([label] + row for row in route_rows(plan))


def write_comparison(c: Comparison, out_dir: str | Path) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "comparison.json", out / "report.md", out / "report.html", out / "routes-integrated.csv",
             out / "routes-separate.csv"]
    paths[0].write_text(json.dumps(c.to_dict(), indent=2))
    paths[1].write_text(markdown(c))
    paths[2].write_text(html_report(c))
    write_routes_csv(paths[3], {"integrated": c.integrated_plan})
    write_routes_csv(paths[4], {f"separate:{s}": p for s, p in c.separate_plans.items()})
    return paths
