"""Planning commands: ``itu solve``, ``itu compare``, ``itu curves``, ``itu scenario generate`` and
``itu scenario register``.

Files are read and written by geodata/files.py; this module turns flags into its arguments and
prints what was done.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from geodata.files import GEODATA_SUFFIXES, LoadedDay, load_day, snapping_summary, travel_config, write_plan_files
from geodata.scenario import SHAPES
from optimiser import Plan
from optimiser.errors import InputFormatError, ItuError

from .progress import SolvesBar, solve_with_bar

#: ``itu solve --improvement`` as SolveOptions.
IMPROVEMENTS = {
    "ruin-and-recreate": {"ruin_and_recreate": True},
    "parts": {"ruin_and_recreate": False, "improve_by_parts": True},
    "or-tools": {"ruin_and_recreate": False, "improve_by_parts": False},
}


def travel_from_arguments(args: argparse.Namespace) -> dict:
    """The travel configuration ``--roads``, ``--osrm`` and ``--area-type`` ask for."""
    roads, osrm = getattr(args, "roads", None), getattr(args, "osrm", None)
    if roads and osrm:
        raise ItuError("give --roads or --osrm, not both", where="travel")
    return travel_config(pbf=roads, osrm_url=osrm, area_type=getattr(args, "area_type", None))


def load_from_arguments(args: argparse.Namespace) -> LoadedDay:
    """The day ``itu solve`` or ``itu compare`` was given; the files' warnings go to standard
    error as they are found."""
    # the travel flags apply to trip files only (a document carries its own times)
    trip_file = Path(args.trips).suffix.lower() in GEODATA_SUFFIXES and args.fleet
    day = load_day(args.trips, args.fleet, travel=travel_from_arguments(args) if trip_file else None,
                   tariffs_path=args.tariffs, far_points=args.far_points, max_snap_m=args.max_snap_m)
    for warning in day.warnings:
        print(f"itu: warning: {warning}", file=sys.stderr)
    return day


def write_search_chart(plan: Plan, out: str) -> list[Path]:
    """``search.svg``: the search's best cost against time, when it found more than one plan."""
    from optimiser.reporting.charts import cost_curve_chart

    curve = plan.solver.best_cost_over_time or []
    if len(curve) < 2:
        return []
    path = Path(out) / "search.svg"
    title = f"{plan.problem_name or 'plan'}: best cost found against time"
    path.write_text(cost_curve_chart(title, {"this solve": curve}).svg)
    return [path]


def cmd_solve(args) -> int:
    from optimiser import SolveOptions, choose_strategy

    day = load_from_arguments(args)
    problem = day.problem
    snapping = snapping_summary(day)
    if snapping:
        print(snapping, file=sys.stderr)
    options = SolveOptions(time_limit_s=args.seconds, seed=args.seed, workers=args.workers, regions=args.regions,
                           max_rounds=args.max_rounds, **IMPROVEMENTS[args.improvement])
    strategy = choose_strategy(problem, options)
    regions = strategy.parts if strategy.split == "regions" else 1
    if regions > 1 and not args.quiet:
        print(strategy.describe(len(problem.trips)))
    client = cluster = None
    if args.dask_scheduler:
        import logging

        from distributed import Client, LocalCluster

        if args.dask_scheduler == "local":  # a cluster of this machine's cores, one worker process per --workers
            cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                   dashboard_address=":0", silence_logs=logging.ERROR)
            client = Client(cluster)
        else:
            client = Client(args.dask_scheduler)
        threads = sum(client.nthreads().values())
        if regions == 1:  # one region: the cluster searches parts of it
            options = replace(options, **IMPROVEMENTS["parts"])
        options = replace(options, part_workers=max(1, threads))
        print(f"planning {'regions' if regions > 1 else 'parts'} on {args.dask_scheduler}: "
              f"{len(client.nthreads())} workers, {threads} threads")
    try:
        plan = solve_with_bar(problem, options, problem.name, sys.stderr.isatty() and not args.quiet,
                              executor=client.get_executor() if client else None)
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    print(plan.summary())
    if args.out:
        written = write_plan_files(plan, day, args.out)
        written += write_search_chart(plan, args.out)
        shown = [p for p in written if p.parent == Path(args.out)]
        for path in shown:
            print(f"wrote {path}")
        if len(written) > len(shown):
            print(f"wrote {len(written) - len(shown)} schedules and run sheets under {args.out}/")
    return 0


def cmd_curves(args) -> int:
    """Draw the searches of several saved plans on one chart (e.g. runs of different lengths or seeds)."""
    from optimiser.reporting.charts import cost_curve_chart

    curves = {}
    for k, name in enumerate(args.plans):
        path = Path(name)
        try:
            doc = json.loads(path.read_text())
            curve = [(float(t), float(c)) for t, c in doc["solver"]["best_cost_over_time"]]
        except OSError as exc:
            raise InputFormatError(f"cannot read: {exc.strerror}", where=str(path)) from None
        except (ValueError, KeyError, TypeError):
            raise InputFormatError("not a plan.json with solver.best_cost_over_time", where=str(path)) from None
        label = args.label[k] if args.label and k < len(args.label) else path.parent.name or path.stem
        while label in curves:  # two plans of one name are still two curves
            label += "'"
        curves[label] = curve
    if not any(curves.values()):
        raise InputFormatError("no plan has a point on its curve", where="plans")
    lines = {}
    for text in args.line or []:
        name, _, cost = text.rpartition("=")
        try:
            lines[name.strip() or "reference"] = float(cost.replace(",", "").lstrip("£"))
        except ValueError:
            raise InputFormatError(f"{text!r} is not NAME=POUNDS (e.g. \"2% target=14989\")", where="--line") from None
    Path(args.out).write_text(cost_curve_chart(args.title, curves, lines=lines).svg)
    print(f"wrote {args.out}")
    return 0


def cmd_compare(args) -> int:
    from optimiser.analysis.compare import CompareOptions, compare
    from optimiser.reporting.report import markdown, write_comparison

    day = load_from_arguments(args)
    options = CompareOptions(time_limit_s=args.seconds, seeds=args.seeds, workers=args.parallel,
                             search_by_size=not args.same_seconds, **day.settings)

    with SolvesBar(sys.stderr.isatty() and not args.quiet) as on_progress:
        result = compare(day.problem, options, on_progress=on_progress)
    print(markdown(result))
    if args.out:
        for path in write_comparison(result, args.out):
            print(f"wrote {path}")
        integrated = Path(args.out) / "integrated"
        written = write_plan_files(result.integrated_plan, day, str(integrated))
        if any(p.name == "map.html" for p in written):
            print(f"wrote the integrated plan's map, layers, schedules and run sheets under {integrated}/")
    return 0


def print_scenario(scenario, written: list[Path]) -> None:
    """What ``itu scenario generate`` says of a day it wrote: its files, then its trips by service."""
    for path in written:
        print(f"wrote {path}")
    counts = ", ".join(f"{n} {s}" for s, n in scenario.summary["by_service"].items())
    print(f"{scenario.name}: {len(scenario.trips)} trips ({counts}) in {scenario.summary['area']}; "
          f"travel: {scenario.summary['travel']}")


def cmd_scenario_generate(args) -> int:
    from geodata.scenario import area_from_osm, generate_scenario, synthetic_area, write_scenario
    from geodata.travel import travel_provider

    if args.register and args.days:
        raise InputFormatError("--register writes one day's contracts: generate the day without --days",
                               where="--register")
    area = area_from_osm(args.pbf) if args.pbf else synthetic_area(args.area)
    if args.pbf and not args.roads and not args.osrm:
        args.roads = args.pbf  # windows and ride caps from the same roads the plan will use
    travel = travel_provider(travel_from_arguments(args))
    if args.days:  # a week: the day's passengers over the days, most of them regular
        from geodata.scenario import generate_week

        scenario = generate_week(area, trips=args.trips, days=args.days, regular_share=args.regular_share,
                                 seed=args.seed, travel=travel, shape=args.shape)
    else:
        scenario = generate_scenario(area, trips=args.trips, seed=args.seed, travel=travel, shape=args.shape)
    written = write_scenario(scenario, args.out)
    if args.register:  # today's contracts for the day just written, read back as any day is
        day = load_day(written[0], written[1], travel=travel)
        written.append(write_day_register(day, Path(args.out) / "register.csv", seed=args.seed))
    print_scenario(scenario, written)
    return 0


def write_day_register(day: LoadedDay, path: Path, *, seed: int) -> Path:
    """A plausible register of today's contracts for ``day`` (``geodata.scenario.plausible_register``),
    written as a register CSV."""
    from geodata.scenario import plausible_register
    from optimiser.domain.register import write_register

    return write_register(plausible_register(day.problem, seed=seed), path)


def cmd_scenario_register(args) -> int:
    day = load_from_arguments(args)
    path = write_day_register(day, Path(args.out), seed=args.seed)
    print(f"wrote {path}")
    return 0


def add_travel_arguments(parser: argparse.ArgumentParser) -> None:
    travel = parser.add_argument_group("travel times (trip files only; crow-fly unless told)")
    travel.add_argument("--roads", metavar="PBF", help="OpenStreetMap extract (.osm.pbf): times over its roads")
    travel.add_argument("--osrm", metavar="URL", help="OSRM server, e.g. http://localhost:5000")
    travel.add_argument("--area-type", choices=("mixed", "urban", "suburban", "rural"),
                        help="crow-fly speeds (default mixed)")
    travel.add_argument("--tariffs", help="contract tariffs CSV, added to the fleet file's")
    travel.add_argument("--far-points", choices=("error", "warn"), default="error",
                        help="a location far from any road is an error (default) or a warning")
    travel.add_argument("--max-snap-m", type=float, default=1000.0,
                        help="how far from a road a location may be, in metres (default 1000)")


def add_commands(sub) -> None:
    """``solve``, ``curves``, ``compare`` and ``scenario``, in the order ``itu --help`` lists them."""
    solve = sub.add_parser("solve", help="plan trips: a problem document, or trip and fleet files")
    solve.add_argument("trips", help="problem document (JSON, docs/problem-format.md) or a trip file (CSV, GeoJSON, "
                                     "GeoPackage; docs/geodata-formats.md)")
    solve.add_argument("fleet", nargs="?", help="fleet file (CSV or JSON) for a trip file")
    add_travel_arguments(solve)
    solve.add_argument("--seconds", type=float, default=30.0, help="time limit (default 30)")
    solve.add_argument("--seed", type=int, default=0)
    solve.add_argument("--max-rounds", type=int, metavar="N",
                       help="stop the ruin and recreate search after N rounds, whatever the clock says: the same "
                            "plan for the same seed on a busy machine as on an idle one (--seconds still bounds it)")
    solve.add_argument("--workers", type=int, default=1,
                       help="cores to use: parallel searches, the best wins (from --seconds 3: a search's process "
                            "takes a second or two to start); with --improvement parts, parts of one plan searched at "
                            "once (default 1)")
    solve.add_argument("--improvement", choices=sorted(IMPROVEMENTS), default="ruin-and-recreate",
                       help="how the first routes are improved: our own ruin and recreate (default), OR-Tools "
                            "re-solving parts of a few routes at a time, or OR-Tools' local search on the whole day")
    solve.add_argument("--regions", type=int, metavar="N",
                       help="plan the day as N regions side by side (default: by size, one region per 2,000 trips "
                            "from 4,000 trips, and from 1,000 trips on split shifts with --workers 2 or more, the "
                            "duties before and after the midday break side by side; 1 never splits)")
    solve.add_argument("--dask-scheduler", metavar="ADDRESS",
                       help="plan the regions on this Dask cluster (e.g. tcp://host:8786, or 'local' for a cluster "
                            "of --workers processes on this machine); a day in one region has its parts searched "
                            "there instead (implies --improvement parts)")
    solve.add_argument("--out", help="folder for the plan (JSON, CSV), map, GeoJSON/GeoPackage layers, schedules "
                                     "and run sheets")
    solve.add_argument("--quiet", action="store_true", help="no progress bar")
    solve.set_defaults(func=cmd_solve)

    curves = sub.add_parser("curves", help="chart the best cost against time of saved plans' searches (SVG)")
    curves.add_argument("plans", nargs="+", help="plan.json files written by itu solve --out")
    curves.add_argument("--label", action="append", help="a name for each plan in turn (default: its folder's name)")
    curves.add_argument("--title", default="Best cost found against time", help="the chart's title")
    curves.add_argument("--line", action="append", metavar="NAME=POUNDS",
                        help="a cost to compare against, drawn dashed across the chart (a target, another run's best)")
    curves.add_argument("--out", required=True, help="the SVG file to write")
    curves.set_defaults(func=cmd_curves)

    comp = sub.add_parser("compare", help="separate contracts against integrated planning, and the cost split")
    comp.add_argument("trips", help="trips document (JSON; may hold the fleet too) or a trip file (CSV, GeoJSON, "
                                    "GeoPackage)")
    comp.add_argument("fleet", nargs="?", help="fleet document: vehicle_types, tariffs, fleet_by_service, "
                                               "today_trip_prices, today_route_prices")
    add_travel_arguments(comp)
    comp.add_argument("--seconds", type=float, default=20.0,
                      help="time limit of each integrated solve; each smaller solve gets the same seconds per "
                           "trip (default 20)")
    comp.add_argument("--same-seconds", action="store_true",
                      help="give every solve the whole --seconds, however few trips it has")
    comp.add_argument("--seeds", type=int, default=3, help="solves per plan, for the spread (default 3)")
    comp.add_argument("--parallel", type=int, default=0, help="solves at once (default: one per core)")
    comp.add_argument("--out", help="folder for comparison.json, report.md, report.html and route CSVs")
    comp.add_argument("--quiet", action="store_true")
    comp.set_defaults(func=cmd_compare)

    scenario = sub.add_parser("scenario", help="generate realistic days of trips")
    scenario_sub = scenario.add_subparsers(dest="action", required=True)
    gen = scenario_sub.add_parser("generate", help="a seeded day of school, SEN, day-centre and patient trips")
    gen.add_argument("--trips", type=int, default=200, help="about how many trips (default 200)")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--shape", choices=SHAPES, default="council",
                     help="council (bells, centres, appointments; split shifts) or the Cordeau-Laporte shape: "
                          "requests all day, a window on one end (dial-a-ride: 15-30 min; dial-a-ride-wide: 30-50)")
    gen.add_argument("--out", required=True, help="folder for trips.csv, fleet.json and scenario.json")
    gen.add_argument("--pbf", help="OpenStreetMap extract: its real schools, hospitals and day centres, homes "
                                   "along its residential roads, times over its roads")
    gen.add_argument("--area", default="rutland", help="built-in synthetic area when no --pbf (default rutland)")
    gen.add_argument("--roads", help=argparse.SUPPRESS)
    gen.add_argument("--osrm", help="OSRM server for the direct journey times")
    gen.add_argument("--days", type=int, metavar="N",
                     help="write a week of N weekdays (a days and a passenger column; docs/week.md): --trips a day")
    gen.add_argument("--regular-share", type=float, default=0.8,
                     help="with --days: the share of each day's passengers who travel every day at the same "
                          "times (default 0.8)")
    gen.add_argument("--register", action="store_true",
                     help="also write register.csv: a plausible register of today's contracts for the day")
    gen.set_defaults(func=cmd_scenario_generate)

    reg = scenario_sub.add_parser("register", help="a plausible register of today's contracts for a day "
                                                   "(each service let separately, with realistic waste)")
    reg.add_argument("trips", help="trip file (CSV, GeoJSON, GeoPackage) or problem document (JSON)")
    reg.add_argument("fleet", nargs="?", help="fleet file (CSV or JSON) for a trip file")
    add_travel_arguments(reg)
    reg.add_argument("--seed", type=int, default=0)
    reg.add_argument("--out", required=True, help="the register CSV to write")
    reg.set_defaults(func=cmd_scenario_register)
