"""``itu solve-week``: plan a week with consistent routes (optimiser/analysis/week.py; docs/week.md)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from optimiser.errors import InputFormatError, PlanCheckError, ProblemError

from .planning import add_travel_arguments, travel_from_arguments


def write_week(result, loaded, out_dir: str | Path) -> list[Path]:
    """``week.json``, ``week.md`` and, in a folder per day, the files ``itu solve --out`` writes."""
    from geodata.files import write_plan_files
    from optimiser.reporting.report import week_charts

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (("week.json", json.dumps(result.to_dict(), indent=2)), ("week.md", result.markdown())):
        (out / name).write_text(text)
        written.append(out / name)
    for day, plan in result.plans.items():
        written.extend(write_plan_files(plan, loaded.day[day], out / day))
    for name, chart in week_charts(result.to_dict()).items():
        (out / f"chart-{name.replace('_', '-')}.svg").write_text(chart.svg)
        written.append(out / f"chart-{name.replace('_', '-')}.svg")
    return written


def cmd_solve_week(args) -> int:
    from geodata.week import load_week
    from optimiser import SolveOptions
    from optimiser.analysis.week import WeekOptions, consistency_with, plan_week
    from optimiser.checker_week import check_week

    loaded = load_week(args.trips, args.fleet, travel=travel_from_arguments(args), tariffs_path=args.tariffs,
                       far_points=args.far_points, max_snap_m=args.max_snap_m)
    for day in loaded.days:
        for warning in loaded.day[day].warnings:
            print(f"itu: warning: {warning}", file=sys.stderr)
    try:
        consistency = consistency_with(args.consistent or (), args.free or (), args.preferred or ())
    except ProblemError as exc:
        raise InputFormatError(exc.message, where=f"--{exc.where.rsplit('.', 1)[-1]}") from None
    try:
        options = WeekOptions(solve=SolveOptions(time_limit_s=args.seconds, seed=args.seed, workers=args.workers),
                              method=args.method, consistency=consistency,
                              tolerance_s=args.tolerance_minutes * 60.0, compare_independent=not args.no_independent,
                              share_template_vehicles=not args.keep_template_routes,
                              template_search=args.template_search)
    except ProblemError as exc:  # named as the flag the user typed
        flag = {"tolerance_s": "--tolerance-minutes", "template_search": "--template-search",
                "time_limit_s": "--seconds", "workers": "--workers", "seed": "--seed"}.get(
            exc.where.rsplit(".", 1)[-1], exc.where)
        raise InputFormatError(exc.message, where=flag) from None
    week = loaded.week
    result = plan_week(week, options)
    report = check_week(week.days, week.problems, result.plans, week.passenger_of, result.continuity)
    if not report.feasible:
        raise PlanCheckError("the week's plans fail the week checker: " + "; ".join(report.violations[:5]))
    print(result.markdown())
    print("the week checker passed every day's plan and the continuity reported")
    if args.out:
        written = write_week(result, loaded, args.out)
        charts = [p for p in written if p.name.startswith("chart-")]
        print(f"wrote {written[0]}, {written[1]}, {', '.join(str(p) for p in charts)} and "
              f"{len(written) - 2 - len(charts)} files in a folder per day "
              f"({', '.join(str(Path(args.out) / d) for d in result.plans)})")
    return 0


def add_commands(sub) -> None:
    week = sub.add_parser("solve-week", help="plan a week: regular passengers keep their vehicle and pickup time")
    week.add_argument("trips", help="trip file with a days column (CSV, GeoJSON, GeoPackage; docs/week.md)")
    week.add_argument("fleet", help="fleet file (CSV or JSON); a vehicle type or tariff may have days")
    add_travel_arguments(week)
    week.add_argument("--seconds", type=float, default=30.0, help="time limit of each solve (default 30)")
    week.add_argument("--seed", type=int, default=0)
    week.add_argument("--workers", type=int, default=1, help="cores for each solve (default 1)")
    week.add_argument("--method", choices=("template", "independent"), default="template",
                      help="template of regular routes kept each day (default), or each day alone with its "
                           "vehicles matched to the first day's")
    week.add_argument("--consistent", action="append", metavar="SERVICE",
                      help="a service whose regular passengers keep vehicle and time (default: sen, social_care, "
                           "school)")
    week.add_argument("--preferred", action="append", metavar="SERVICE",
                      help="a service planned in the template and started there each day, free to move where it "
                           "pays (default: none)")
    week.add_argument("--free", action="append", metavar="SERVICE",
                      help="a service planned afresh each day (default: nept)")
    week.add_argument("--tolerance-minutes", type=float, default=10.0,
                      help="a regular pickup stays within this of the time told (default 10)")
    week.add_argument("--keep-template-routes", action="store_true",
                      help="keep the template's routes as planned and put each day's other trips on the vehicles "
                           "it leaves free (default: one search of each day may add them to the template's vehicles)")
    week.add_argument("--template-search", type=float, default=8.0, metavar="TIMES",
                      help="the template's solve gets TIMES the time limit of a day's (default 8; at least 1)")
    week.add_argument("--no-independent", action="store_true",
                      help="do not plan each day alone too (no premium reported; half the time)")
    week.add_argument("--out", help="folder for week.json, week.md and a plan folder per day")
    week.set_defaults(func=cmd_solve_week)
