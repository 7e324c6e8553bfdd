"""The comparison's charts, drawn by matplotlib as SVG: savings by service, the cost split
between services, cost by component, vehicles through the day, ride times, and a search's
best cost against time.

Each chart is a function of the figures it shows and a ``ChartStyle``; it returns a ``Chart``
(its title and its SVG text). Text is kept as text in the SVG (``svg.fonttype: none``), so a
chart stays small, searchable and sharp when printed; matplotlib escapes it, so a service or
place named like markup is shown as typed. Figures are made with ``matplotlib.figure.Figure``
and never through pyplot, so charts can be drawn from several threads of a worker at once.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

#: Enough distinct colours for ten series (a benchmark of ten seeds) before any repeats.
SERIES_COLOURS = ("#8c8c8c", "#1b7837", "#2166ac", "#b2182b", "#e08214", "#762a83", "#35978f", "#c51b7d",
                  "#543005", "#4d4d4d")
#: The four services as the map and the planner's page colour them.
SERVICE_COLOURS = {"school": "#1b9e77", "sen": "#d95f02", "social_care": "#7570b3", "nept": "#e7298a"}
#: Services a council names otherwise, in turn.
OTHER_SERVICE_COLOURS = ("#66a61e", "#e6ab02", "#a6761d", "#666666")
#: Labels of the time axis of a search: the first minute and the last hour of a long search both show.
SEARCH_TIME_TICKS = ((1, "1 s"), (3, "3 s"), (10, "10 s"), (30, "30 s"), (60, "1 min"), (120, "2 min"),
                     (300, "5 min"), (600, "10 min"), (1800, "30 min"), (3600, "1 h"), (7200, "2 h"),
                     (14400, "4 h"))


@dataclass(frozen=True)
class ChartStyle:
    """How every chart looks; pass another to change sizes, colours or the font."""
    width_in: float = 7.0
    height_in: float = 3.6
    font_family: str = "DejaVu Sans"
    font_size: float = 9.0
    title_size: float = 11.0
    #: colours of the series of one chart (separate, integrated; seeds of a benchmark), in turn
    series_colours: tuple[str, ...] = SERIES_COLOURS
    service_colours: Mapping[str, str] = field(default_factory=lambda: dict(SERVICE_COLOURS))
    other_service_colours: tuple[str, ...] = OTHER_SERVICE_COLOURS
    grid_colour: str = "#dddddd"
    reference_colour: str = "#555555"
    #: the legend gets a row for this many entries before it wraps onto another
    legend_columns: int = 4

    def series_colour(self, index: int) -> str:
        return self.series_colours[index % len(self.series_colours)]

    def service_colour(self, service: str, services: Sequence[str]) -> str:
        """A service's own colour, or the next of the others for one the style does not know."""
        if service in self.service_colours:
            return self.service_colours[service]
        others = [s for s in services if s not in self.service_colours]
        return self.other_service_colours[others.index(service) % len(self.other_service_colours)]


@dataclass(frozen=True)
class Chart:
    title: str
    svg: str


def _figure(style: ChartStyle, title: str, *, height_in: float | None = None):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(style.width_in, height_in or style.height_in), layout="constrained")
    figure.suptitle(title, fontsize=style.title_size, fontweight="bold")
    axes = figure.add_subplot()
    axes.grid(True, axis="y", color=style.grid_colour, linewidth=0.8)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    return figure, axes


def _rc(style: ChartStyle, name: str) -> dict:
    # the hash salt makes the ids of clip paths differ between charts, which share one HTML page
    return {"font.family": style.font_family, "font.size": style.font_size, "svg.fonttype": "none",
            "svg.hashsalt": name, "axes.titlesize": style.title_size}


def svg_text(figure) -> str:
    """The figure as an SVG element to place in a page or write as a file (no XML prolog)."""
    buffer = io.StringIO()
    # no metadata block: it carries a date (charts of one comparison would differ run to run) and URLs
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _draw(style: ChartStyle, name: str, title: str, draw, *, height_in: float | None = None) -> Chart:
    from matplotlib import rc_context

    with rc_context(_rc(style, name)):
        figure, axes = _figure(style, title, height_in=height_in)
        draw(figure, axes)
        return Chart(title, svg_text(figure))


def _legend(figure, axes, style: ChartStyle) -> None:
    handles, labels = axes.get_legend_handles_labels()
    if handles:  # below the plot, wrapping onto rows: ten seeds' names never run off the edge
        figure.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), style.legend_columns),
                      frameon=False)


def _pounds_text(value: float) -> str:
    digits = 0 if float(value).is_integer() else 2
    return f"-£{-value:,.{digits}f}" if value < 0 else f"£{value:,.{digits}f}"


def _pounds(axes) -> None:
    """A money axis: ticks at round sums (steps of 1, 2 or 5 of a power of ten), in pounds."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    axes.yaxis.set_major_locator(MaxNLocator(steps=[1, 2, 5, 10]))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: _pounds_text(value)))


def _grouped_bars(axes, categories: Sequence[str], series: Mapping[str, Sequence[float]], colours: Sequence[str]):
    width = 0.8 / max(len(series), 1)
    for j, ((name, values), colour) in enumerate(zip(series.items(), colours)):
        axes.bar([i - 0.4 + width * (j + 0.5) for i in range(len(categories))], values, width * 0.95,
                 label=name, color=colour)
    axes.set_xticks(range(len(categories)), categories)


def savings_by_service_chart(separate: Mapping[str, float], integrated: Mapping[str, float],
                             style: ChartStyle = ChartStyle()) -> Chart:
    """Each service's cost a day planned alone against its part of the integrated plan."""
    services = list(separate)

    def draw(figure, axes):
        _grouped_bars(axes, services, {"separate": [separate.get(s, 0.0) for s in services],
                                       "integrated": [integrated.get(s, 0.0) for s in services]},
                      [style.series_colour(0), style.series_colour(1)])
        _pounds(axes)
        axes.set_ylabel("cost a day")
        _legend(figure, axes, style)

    return _draw(style, "cost_by_service", "Cost per service: separate against integrated", draw)


def cost_components_chart(components: Mapping[str, tuple[float, float]], style: ChartStyle = ChartStyle()) -> Chart:
    """``components``: name -> (separate, integrated) pounds a day."""
    def draw(figure, axes):
        _grouped_bars(axes, list(components), {"separate": [a for a, _ in components.values()],
                                               "integrated": [b for _, b in components.values()]},
                      [style.series_colour(0), style.series_colour(1)])
        _pounds(axes)
        axes.set_ylabel("cost a day")
        _legend(figure, axes, style)

    return _draw(style, "cost_components", "Cost by component", draw)


def cost_split_chart(rules: Sequence[str], shares: Mapping[str, Sequence[float]],
                     style: ChartStyle = ChartStyle()) -> Chart:
    """Who pays what under each rule: one stacked bar per rule, a segment per service in its
    colour. ``shares``: service -> its share under each of ``rules``, in order."""
    services = list(shares)

    def draw(figure, axes):
        below = [0.0] * len(rules)
        for service in services:
            values = list(shares[service])
            axes.bar(range(len(rules)), values, 0.6, bottom=below, label=service,
                     color=style.service_colour(service, services))
            below = [b + v for b, v in zip(below, values)]
        axes.set_xticks(range(len(rules)), rules)
        _pounds(axes)
        axes.set_ylabel("share of the integrated cost a day")
        _legend(figure, axes, style)

    return _draw(style, "cost_split", "Who pays what under each rule", draw)


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")[:2]
    return int(hours) * 60 + int(minutes)


def _clock_axis(axis, first: float, last: float) -> None:
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    axis.set_major_locator(MultipleLocator(120 if last - first > 12 * 60 else 60))
    axis.set_major_formatter(FuncFormatter(lambda m, _: f"{int(m) // 60 % 24:02d}:{int(m) % 60:02d}"))


def vehicles_in_use_chart(series: Mapping[str, Sequence[tuple[str, int]]], style: ChartStyle = ChartStyle()) -> Chart:
    """Vehicles on the road through the day. ``series``: name -> (``HH:MM``, vehicles) steps."""
    def draw(figure, axes):
        from matplotlib.ticker import MaxNLocator

        times = [_minutes(t) for steps in series.values() for t, _ in steps]
        for j, (name, steps) in enumerate(series.items()):
            if steps:
                axes.step([_minutes(t) for t, _ in steps], [n for _, n in steps], where="post", label=name,
                          color=style.series_colour(j), linewidth=2)
        if times:
            first, last = math.floor(min(times) / 60) * 60, math.ceil(max(times) / 60) * 60
            axes.set_xlim(first, max(last, first + 60))
            _clock_axis(axes.xaxis, first, last)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_ylim(bottom=0)
        axes.set_ylabel("vehicles on the road")
        _legend(figure, axes, style)

    return _draw(style, "vehicles_in_use", "Vehicles on the road through the day", draw)


def ride_times_chart(series: Mapping[str, Sequence[float]], band_minutes: int = 10, up_to_minutes: int = 120,
                     style: ChartStyle = ChartStyle()) -> Chart:
    """How long passengers ride: trips per band of ``band_minutes`` (the last band holds every
    longer ride). ``series``: name -> ride minutes of each trip."""
    edges = list(range(0, up_to_minutes + 1, band_minutes))

    def draw(figure, axes):
        from matplotlib.ticker import MaxNLocator

        width = band_minutes * 0.8 / max(len(series), 1)
        for j, (name, rides) in enumerate(series.items()):
            counts = [0] * len(edges)
            for ride in rides:
                counts[min(int(max(ride, 0) // band_minutes), len(edges) - 1)] += 1
            axes.bar([e + band_minutes * 0.1 + width * j for e in edges], counts, width * 0.95, align="edge",
                     label=name, color=style.series_colour(j))
        axes.set_xticks(edges, [f"{e}+" if e == edges[-1] else str(e) for e in edges])
        axes.set_xlabel("minutes on board")
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_ylabel("trips")
        _legend(figure, axes, style)

    return _draw(style, "ride_times", f"Ride times (trips per {band_minutes}-minute band)", draw)


def cost_curve_chart(title: str, curves: Mapping[str, Sequence[tuple[float, float]]],
                     lines: Mapping[str, float] | None = None, style: ChartStyle = ChartStyle()) -> Chart:
    """Best cost against time, one step line per search (``(seconds, pounds)`` points, as in a
    plan's ``solver.best_cost_over_time``). Time runs on a log scale, so that the first minute and
    the last of a long search both show; the cost axis spans the costs found, from the cheapest
    to a fifth above it (a first plan dearer than that is drawn at the top edge). ``lines``: costs to
    compare against (a target, another run's best), drawn dashed across the chart and named."""
    lines = dict(lines or {})
    points = [(t, c) for curve in curves.values() for t, c in curve]
    if not points:
        raise ValueError("no curve has a point to draw")
    first = max(1.0, min(t for t, _ in points))
    last = max(first * 10, 1.05 * max(t for t, _ in points))  # room for the last step to show
    cheapest = min([c for _, c in points] + list(lines.values()))
    dearest = min(max([c for _, c in points] + list(lines.values())), cheapest * 1.2)
    span = max(dearest - cheapest, 1.0)

    def draw(figure, axes):
        from matplotlib.ticker import FixedLocator, NullLocator

        for j, (name, curve) in enumerate(curves.items()):
            ordered = sorted(curve)
            if ordered:  # the best so far holds until the next one, and to the end of the search
                times = [max(t, first) for t, _ in ordered] + [max(t for t, _ in points)]
                costs = [min(c, dearest) for _, c in ordered] + [min(ordered[-1][1], dearest)]
                axes.step(times, costs, where="post", label=name, color=style.series_colour(j), linewidth=1.8,
                          gid=f"curve-{j}")  # the SVG group of each curve is named, for readers of the file
        for name, cost in lines.items():
            axes.axhline(cost, color=style.reference_colour, linestyle=(0, (6, 4)), linewidth=1, gid="reference")
            axes.annotate(f"{name}: £{cost:,.0f}", (1, cost), xycoords=("axes fraction", "data"), ha="right",
                          va="bottom", color=style.reference_colour, xytext=(-4, 2), textcoords="offset points")
        axes.set_xscale("log")
        axes.set_xlim(first, last)
        ticks = [(t, label) for t, label in SEARCH_TIME_TICKS if first <= t <= last]
        axes.xaxis.set_major_locator(FixedLocator([t for t, _ in ticks]))
        axes.set_xticks([t for t, _ in ticks], [label for _, label in ticks])
        axes.xaxis.set_minor_locator(NullLocator())
        axes.grid(True, axis="x", color=style.grid_colour, linewidth=0.6)
        axes.set_ylim(cheapest - span * 0.03, dearest + span * 0.03)
        _pounds(axes)
        axes.set_xlabel("time searching")
        axes.set_ylabel("best cost a day")
        _legend(figure, axes, style)

    return _draw(style, "cost_curves", title, draw)


def week_cost_chart(by_day: Mapping[str, tuple[float, float | None]], style: ChartStyle = ChartStyle()) -> Chart:
    """``by_day``: day -> (the consistent week's cost that day, the day planned alone or None)."""
    days = list(by_day)
    series = {"consistent week": [week for week, _ in by_day.values()]}
    if all(alone is not None for _, alone in by_day.values()):
        series["each day alone"] = [alone for _, alone in by_day.values()]

    def draw(figure, axes):
        _grouped_bars(axes, days, series, [style.series_colour(1), style.series_colour(0)][:len(series)])
        _pounds(axes)
        axes.set_ylabel("cost a day")
        _legend(figure, axes, style)

    return _draw(style, "week_cost", "Cost by day: the consistent week against each day planned alone", draw)


def continuity_chart(by_service: Mapping[str, tuple[float, float | None]], style: ChartStyle = ChartStyle()) -> Chart:
    """``by_service``: service -> (share of its regular passengers with one vehicle all week and every
    pickup within the tolerance in the week's plans, the same share with each day planned alone)."""
    services = list(by_service)
    series = {"consistent week": [100 * week for week, _ in by_service.values()]}
    if all(alone is not None for _, alone in by_service.values()):
        series["each day alone"] = [100 * alone for _, alone in by_service.values()]

    def draw(figure, axes):
        from matplotlib.ticker import PercentFormatter

        _grouped_bars(axes, services, series, [style.series_colour(1), style.series_colour(0)][:len(series)])
        axes.set_ylim(0, 100)
        axes.yaxis.set_major_formatter(PercentFormatter(decimals=0))
        axes.set_ylabel("regular passengers")
        _legend(figure, axes, style)

    return _draw(style, "continuity", "Regular passengers with one vehicle and a steady pickup all week", draw)


def model_costs_chart(costs: Mapping[str, tuple[float, float, float]], style: ChartStyle = ChartStyle()) -> Chart:
    """Operating models' cost a year: a bar at each model's median, its whiskers from the least to
    the most over seeds. ``costs``: model name -> (least, median, most) pounds a year."""
    names = list(costs)

    def draw(figure, axes):
        medians = [costs[n][1] for n in names]
        below = [costs[n][1] - costs[n][0] for n in names]
        above = [costs[n][2] - costs[n][1] for n in names]
        axes.bar(range(len(names)), medians, 0.6, color=[style.series_colour(i) for i in range(len(names))],
                 yerr=[below, above], capsize=4, ecolor=style.reference_colour)
        axes.set_xticks(range(len(names)), names, rotation=15, ha="right")
        _pounds(axes)
        axes.set_ylabel("cost a year (median; range over seeds)")

    return _draw(style, "model_costs", "Operating models: cost a year", draw)


def tornado_chart(title: str, base: float, swings: Mapping[str, tuple[float, float]], *, low_label: str = "rate down",
                  high_label: str = "rate up", style: ChartStyle = ChartStyle()) -> Chart:
    """How far a figure moves when each input moves down and up, one at a time: a horizontal bar
    each side of ``base`` per input, the widest at the top. ``swings``: input -> (figure with the
    input down, figure with it up)."""
    names = sorted(swings, key=lambda n: abs(swings[n][1] - swings[n][0]))

    def draw(figure, axes):
        axes.grid(True, axis="x", color=style.grid_colour, linewidth=0.8)
        axes.grid(False, axis="y")
        rows = range(len(names))
        axes.barh(rows, [swings[n][0] - base for n in names], 0.6, left=base, color=style.series_colour(3),
                  label=low_label)
        axes.barh(rows, [swings[n][1] - base for n in names], 0.6, left=base, color=style.series_colour(2),
                  label=high_label)
        axes.axvline(base, color=style.reference_colour, linewidth=1)
        axes.set_yticks(list(rows), names)
        from matplotlib.ticker import FuncFormatter, MaxNLocator

        axes.xaxis.set_major_locator(MaxNLocator(steps=[1, 2, 5, 10], nbins=6))
        axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: _pounds_text(value)))
        _legend(figure, axes, style)

    return _draw(style, "tornado", title, draw, height_in=max(style.height_in, 0.45 * len(names) + 1.6))


def continuity_tradeoff_chart(points: Mapping[str, Sequence[tuple[float, float]]],
                              target: tuple[float, float] | None = (0.03, 0.95),
                              style: ChartStyle = ChartStyle(legend_columns=1)) -> Chart:
    """What consistency costs: ``points``: method -> (premium over days planned alone, share of
    regular passengers kept steady) per seed, as fractions; one colour a method. ``target``: the
    most premium and the least share asked for (issue 34: 3% and 95%), drawn as dashed lines."""
    def draw(figure, axes):
        from matplotlib.ticker import MultipleLocator, PercentFormatter

        for j, (method, seeds) in enumerate(points.items()):
            axes.scatter([100 * p for p, _ in seeds], [100 * s for _, s in seeds], s=36, label=method,
                         color=style.series_colour(j + 1), zorder=3)
        if target is not None:
            most_premium, least_share = target
            axes.axvline(100 * most_premium, color=style.reference_colour, linestyle=(0, (6, 4)), linewidth=1)
            axes.axhline(100 * least_share, color=style.reference_colour, linestyle=(0, (6, 4)), linewidth=1)
            axes.annotate(f"target: at most {100 * most_premium:g}% dearer, {100 * least_share:g}% steady",
                          (100 * most_premium, 100 * least_share), xytext=(4, -12), textcoords="offset points",
                          color=style.reference_colour)
        axes.set_ylim(0, 105)
        axes.set_xlim(left=min(-1.0, axes.get_xlim()[0]))
        axes.xaxis.set_major_locator(MultipleLocator(5))
        axes.xaxis.set_major_formatter(PercentFormatter(decimals=0))
        axes.yaxis.set_major_formatter(PercentFormatter(decimals=0))
        axes.grid(True, color=style.grid_colour, linewidth=0.6)
        axes.set_xlabel("the week's cost over the days planned alone")
        axes.set_ylabel("passengers kept steady")
        _legend(figure, axes, style)

    return _draw(style, "continuity_tradeoff", "Regular SEN and day-centre passengers kept steady, against cost",
                 draw)
