"""The clock advisor's answer as people read it: clock.json, clock.md and clock.html (Jinja2
templates, the HTML autoescaped, with matplotlib's SVG charts inline), moves.csv and the charts as
SVG files."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from jinja2 import Environment, PackageLoader
from markupsafe import Markup

from optimiser.analysis.clock import ClockAdvice

MOVES_COLUMNS = ("destination", "name", "minutes", "trips", "saving_alone_median", "saving_alone_min",
                 "saving_alone_max", "marginal_saving_median", "marginal_saving_min", "marginal_saving_max",
                 "screened_saving")


def template_environment(autoescape: bool) -> Environment:
    """The advisers' templates (``templates/``) with their filters: money, minutes and shares;
    ``autoescape`` for HTML, so that every string is shown as text."""
    env = Environment(loader=PackageLoader("optimiser.reporting", "templates"),
                      autoescape=autoescape,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["money"] = lambda x: "—" if x is None else (f"-£{-x:,.2f}" if x < 0 else f"£{x:,.2f}")
    env.filters["minutes"] = lambda x: "—" if x is None else f"{x:.1f}"
    env.filters["share"] = lambda x: "—" if x is None else f"{100 * x:.0f}%"
    return env


def _svg(figure) -> str:
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # inline in HTML: no XML declaration or doctype


def vehicles_chart(advice: ClockAdvice) -> str:
    """Vehicles on the road through the day, before and after the recommended moves (SVG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = advice.vehicles_by_time
    figure, axes = plt.subplots(figsize=(8, 3.2))
    x = range(len(data["times"]))
    axes.step(x, data["before"], where="post", label="as it is", color="#8c8c8c", linewidth=2)
    axes.step(x, data["after"], where="post", label="with the moves", color="#1b7837", linewidth=2)
    ticks = list(x)[::4]
    axes.set_xticks(ticks, [data["times"][k] for k in ticks], rotation=45, fontsize=8)
    axes.set_ylabel("vehicles on the road")
    axes.set_title("Vehicles on the road through the day")
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.legend(frameon=False)
    axes.grid(axis="y", color="#ddd")
    return _svg(figure)


def saving_chart(advice: ClockAdvice) -> str:
    """The saving against the number of destinations moved: median with the seeds' range (SVG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [(c["moves"], c["saving"]) for c in advice.curve if c["saving"] is not None]
    figure, axes = plt.subplots(figsize=(6, 3.2))
    sizes = [k for k, _ in points]
    medians = [s["median"] for _, s in points]
    low = [s["median"] - s["min"] for _, s in points]
    high = [s["max"] - s["median"] for _, s in points]
    axes.errorbar(sizes, medians, yerr=[low, high], marker="o", color="#2166ac", capsize=4)
    axes.set_xticks(sizes)
    axes.set_xlabel("destinations moved (the best set of each size)")
    axes.set_ylabel("saving, £ a day")
    axes.set_title("Saving against the number of moves")
    axes.axhline(0, color="#999", linewidth=0.8)
    axes.grid(axis="y", color="#ddd")
    return _svg(figure)


def markdown(advice: ClockAdvice) -> str:
    return template_environment(False).get_template("clock.md.j2").render(a=advice.to_dict())


def html_report(advice: ClockAdvice) -> str:
    charts = {"vehicles": Markup(vehicles_chart(advice)), "saving": Markup(saving_chart(advice))}
    return template_environment(True).get_template("clock.html.j2").render(a=advice.to_dict(), charts=charts)


def moves_rows(advice: ClockAdvice) -> list[dict]:
    rows = []
    for c in advice.contributions:
        alone, marginal = c.get("alone") or {}, c.get("marginal") or {}
        rows.append({"destination": c["destination"], "name": c["name"], "minutes": c["minutes"], "trips": c["trips"],
                     "saving_alone_median": alone.get("median"), "saving_alone_min": alone.get("min"),
                     "saving_alone_max": alone.get("max"), "marginal_saving_median": marginal.get("median"),
                     "marginal_saving_min": marginal.get("min"), "marginal_saving_max": marginal.get("max"),
                     "screened_saving": c.get("screened")})
    return rows


def write_clock_advice(advice: ClockAdvice, out_dir: str | Path) -> list[Path]:
    """clock.json, clock.md, clock.html, moves.csv, vehicles.svg and saving.svg in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / name for name in ("clock.json", "clock.md", "clock.html", "moves.csv", "vehicles.svg",
                                     "saving.svg")]
    paths[0].write_text(json.dumps(advice.to_dict(), indent=2))
    paths[1].write_text(markdown(advice))
    paths[2].write_text(html_report(advice))
    with paths[3].open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=MOVES_COLUMNS)
        writer.writeheader()
        writer.writerows(moves_rows(advice))
    paths[4].write_text(vehicles_chart(advice))
    paths[5].write_text(saving_chart(advice))
    return paths
