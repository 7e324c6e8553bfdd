"""``itu bench ...``: the harnesses in benchmarks/, their figures printed as they come."""
from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

from benchmarks.darp import DEFAULT_BKS
from optimiser.errors import InputFormatError


def flag_error(exc: InputFormatError) -> InputFormatError:
    """A harness's error about one of its arguments, named as the command line's flag."""
    if not exc.where or exc.where.startswith("-"):  # already named as the flag (``search_parameters``)
        return exc
    where = f"--{exc.where.replace('_', '-')}"
    return InputFormatError(exc.message, where=where)


def cmd_bench_darp(args) -> int:
    from benchmarks.darp import HEADER, best_known_costs, run_darp, summaries_by_group, summary_line
    from benchmarks.families import family_of, split
    from benchmarks.parameters import search_parameters

    from .progress import solve_with_bar

    show = sys.stderr.isatty() and not args.json
    files = args.files
    if args.half:  # the tuning or the validation half of each family (benchmarks/families.py)
        files = split(files)[0 if args.half == "tuning" else 1]
    rows = run_darp(files, args.seconds, args.workers, seed=args.seed, best_known=best_known_costs(args.bks),
                    solver=lambda problem, options, name: solve_with_bar(problem, options, name, show),
                    parameters=search_parameters(args.set))
    several = len({family_of(f) for f in files}) > 1
    done: list = []
    family = None
    for row in rows:
        if not args.json and row.family != family:
            if family is not None:  # the family before: its own table ends with its own summary
                print(f"\n{summary_line([r for r in done if r.family == family])}\n")
            family = row.family
            if several:
                print(f"family {family}")
            print(HEADER)
        done.append(row)
        print(json.dumps(row.as_dict()) if args.json else row.line(), flush=True)
    if not args.json:
        if several and done:
            print(f"\n{summary_line([r for r in done if r.family == family])}")
        summary = summary_line(done)
        if summary and not several:
            print(f"\n{summary}")
        groups = summaries_by_group(done)  # halves and size bands, and families when several
        if groups:
            print()
        for line in groups:
            print(line)
        if summary and several:
            print(f"\nall: {summary}")
    return 0


def cmd_bench_days(args) -> int:
    from benchmarks.days import CODE, HEADER, DaysBenchmark, row_line, run_days, summary_lines

    try:
        bench = DaysBenchmark(args.out, half=args.half, seconds=args.seconds, seeds=tuple(args.seeds),
                              workers=args.workers, settings=tuple(args.set))
    except InputFormatError as exc:
        raise flag_error(exc) from None
    solves = len(bench.days) * len(bench.seeds) * len(bench.variants)
    print(f"code: {CODE}; {bench.half} half, {len(bench.days)} days; {bench.seconds:g} s, {bench.workers} workers, "
          f"seeds {' '.join(str(n) for n in bench.seeds)}; {solves} solves"
          + (f"; the change: {' '.join(bench.settings)}" if bench.settings else ""), flush=True)
    print(HEADER, flush=True)
    bar = None
    if sys.stderr.isatty():  # one bar over every solve's time limit
        from tqdm import tqdm

        bar = tqdm(total=bench.seconds * solves, unit="s", leave=False, file=sys.stderr,
                   bar_format="{bar} {n:.0f}/{total:.0f}s of search")

    def on_wait(done_s: float) -> None:
        if bar is not None:
            bar.n = min(bar.total, round(done_s, 1))
            bar.refresh()

    def say(line: str) -> None:
        (bar.write if bar is not None else print)(line)
        sys.stdout.flush()

    try:
        summary = run_days(bench, on_row=lambda row: say(row_line(row)), on_wait=on_wait,
                           on_day=lambda day: say(f"-- {day.name}: {day.trips} trips, {day.shape} shape"))
    finally:
        if bar is not None:
            bar.close()
    for line in summary_lines(summary):
        print(line)
    print(f"wrote {bench.out / 'summary.json'}")
    return 0 if summary["plans_failing_the_checker"] == 0 else 1


def cmd_bench_day(args) -> int:
    from benchmarks.day import CODE, HEADER, DayBenchmark, row_line, run_day, summary_line, write_day

    from .planning import print_scenario

    try:
        bench = DayBenchmark(args.out, trips=args.trips, scenario_seed=args.scenario_seed, seconds=args.seconds,
                             seeds=tuple(args.seeds), workers=args.workers, against=args.against)
    except InputFormatError as exc:
        raise flag_error(exc) from None
    written = write_day(bench)
    if written is not None:
        print_scenario(*written)
    print(f"code: {CODE}; day: {bench.day}; {bench.seconds:g} s, {bench.workers} workers, seeds "
          + " ".join(str(n) for n in bench.seeds), flush=True)
    print(HEADER, flush=True)
    bar = None
    if sys.stderr.isatty():  # one bar over every seed's time limit
        from tqdm import tqdm

        bar = tqdm(total=bench.seconds * len(bench.seeds), unit="s", leave=False, file=sys.stderr,
                   bar_format="{desc} {bar} {n:.0f}/{total:.0f}s")

    def on_wait(seed: int, done_s: float) -> None:
        if bar is not None:
            bar.n = min(bar.total, round(done_s, 1))
            bar.set_description_str(f"seed {seed}")
            bar.refresh()

    try:
        summary = run_day(bench, on_row=lambda row: print(row_line(row), flush=True), on_wait=on_wait)
    finally:
        if bar is not None:
            bar.close()
    print(summary_line(summary))
    print(f"wrote {bench.out / 'summary.json'}")
    return 0


def cmd_bench_roads(args) -> int:
    """Road network build and many-to-many matrix times on an extract: medians of repeats."""
    from benchmarks.roads import run_roads

    try:
        timings = run_roads(args.pbf, points=args.points, repeats=args.repeats, workers=args.workers, seed=args.seed)
    except InputFormatError as exc:
        raise flag_error(exc) from None
    for line in timings.report():
        print(line)
    return 0


def cmd_bench_service(args) -> int:
    """The service against a trivial Flask + SQLite floor app, both under gunicorn with the same
    settings and the same clients, in one run: the ratios issue 31 holds the service to, and the
    submit time of a small day against a large one. Exit status 1 when a job was lost or a client
    saw an error (the ratios are reported, met or not)."""
    from benchmarks.service_floor import compare_with_floor
    from benchmarks.service_load import LoadProtocol

    protocol = LoadProtocol(clients=args.clients, rounds=args.rounds, trips=args.trips, large_trips=args.large_trips,
                            seconds=args.seconds, drain_s=args.drain_s, workers=args.workers, threads=args.threads,
                            trials=args.trials)
    # the servers run in sessions of their own (a terminal's Ctrl-C must not reach them first): a
    # SIGTERM (a CI's timeout, kill) stops the run as Ctrl-C does, so that they are stopped and a
    # trial's database dropped rather than left running

    def stop_cleanly(signum, _frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the cleaning up short
        sys.exit(128 + signum)

    before = signal.signal(signal.SIGTERM, stop_cleanly)
    try:
        comparison = compare_with_floor(protocol, args.database, size_check=args.large_trips > 0,
                                        on_phase=lambda name: print(f"measuring {name} ...", file=sys.stderr,
                                                                    flush=True))
    except InputFormatError as exc:
        raise flag_error(exc) from None
    finally:
        signal.signal(signal.SIGTERM, before)
    for line in comparison.report():
        print(line)
    if args.json:
        print(json.dumps(comparison.ratios), flush=True)
    return 0 if comparison.ok else 1


def cmd_bench_clock(args) -> int:
    """The clock advisor on a day and its shift file, against a plain sweep of one move at a time."""
    from benchmarks.clock_advice import run_clock_benchmark
    from optimiser.analysis.clock import ClockOptions

    options = ClockOptions(time_limit_s=args.seconds, seeds=args.seeds, max_rounds=args.max_rounds,
                           screen_rounds=args.screen_rounds, search_limit_s=args.search_limit,
                           most_moves=args.most_moves, confirm_per_size=args.confirm_per_size)
    if args.exhaustive:
        from benchmarks.clock_advice import run_exhaustive_check

        for line in run_exhaustive_check(trips=args.exhaustive_trips, options=options).lines():
            print(line, flush=True)
        return 0
    trips, fleet, shifts = args.trips, args.fleet, args.shifts
    if args.generated_trips:
        import tempfile

        from benchmarks.clock_advice import write_generated_day

        folder = args.day_out or tempfile.mkdtemp(prefix="itu-clock-day-")
        trips, fleet, shifts = write_generated_day(folder, args.generated_trips, args.scenario_seed)
        print(f"generated day: {args.generated_trips} trips, scenario seed {args.scenario_seed}, in {folder}",
              flush=True)
    result = run_clock_benchmark(trips, fleet, shifts, options, sweep=not args.no_sweep, sweep_by=args.sweep_by,
                                 sweep_step=args.sweep_step)
    for line in result.lines():
        print(line, flush=True)
    return 0


def cmd_bench_replan(args) -> int:
    from benchmarks.replan_day import HEADER, run_replan_benchmark, summary_lines

    if args.trips < 40:
        raise InputFormatError("must be at least 40 (20 cancelled and 10 added among them)", where="--trips")
    rows = run_replan_benchmark(trips=args.trips, scenario_seed=args.scenario_seed,
                                publish_seconds=args.publish_seconds, seeds=tuple(args.seeds), workers=args.workers,
                                day_out=args.day_out)
    published = next(rows)
    print(f"published plan: {args.trips} trips, scenario seed {args.scenario_seed}, £{published.cost.total:,.2f} "
          f"a day, {published.vehicles_used} vehicles ({args.publish_seconds:g} s on {args.workers} workers)",
          flush=True)
    if not args.json:
        print(HEADER, flush=True)
    done = []
    for row in rows:
        done.append(row)
        print(json.dumps(row.as_dict()) if args.json else row.line(), flush=True)
    if not args.json:
        print()
        for line in summary_lines(done):
            print(line)
    return 0 if all(r.feasible for r in done) else 1


def cmd_bench_week(args) -> int:
    from benchmarks.week import HEADER, run_week_benchmark, summary_lines

    rows = run_week_benchmark(trips=args.trips, scenario_seed=args.scenario_seed, seconds=args.seconds,
                              seeds=tuple(args.seeds), workers=args.workers, day_out=args.day_out)
    loaded = next(rows)
    sizes = ", ".join(f"{d} {len(loaded.day[d].problem.trips)}" for d in loaded.days)
    print(f"week: {sizes} trips; {len(loaded.week.regular_trips)} regular trip rows; scenario seed "
          f"{args.scenario_seed}; {args.seconds:g} s a solve on {args.workers} worker(s)", flush=True)
    if not args.json:
        print(HEADER, flush=True)
    done = []
    for row in rows:
        done.append(row)
        print(json.dumps(row.as_dict()) if args.json else row.line(), flush=True)
    if not args.json:
        print()
        for line in summary_lines(done):
            print(line)
    if args.chart:
        from optimiser.reporting.charts import continuity_tradeoff_chart

        points: dict[str, list[tuple[float, float]]] = {}
        for row in done:
            points.setdefault(row.method, []).append((row.premium, row.consistent_share))
        Path(args.chart).write_text(continuity_tradeoff_chart(points).svg)
        print(f"wrote {args.chart}")
    return 0 if all(r.checked for r in done if r.method.startswith("template")) else 1


def add_commands(sub) -> None:
    """``bench`` and its suites."""
    bench = sub.add_parser("bench", help="benchmarks")
    bench_sub = bench.add_subparsers(dest="suite", required=True)
    darp = bench_sub.add_parser("darp", help="standard dial-a-ride instances against their best-known costs")
    darp.add_argument("files", nargs="+")
    darp.add_argument("--seconds", type=float, default=10.0)
    darp.add_argument("--seed", type=int, default=0)
    darp.add_argument("--workers", type=int, default=2, help="parallel searches per instance (default 2)")
    darp.add_argument("--json", action="store_true", help="one JSON object per instance")
    darp.add_argument("--bks", help=f"best-known values CSV (default {DEFAULT_BKS})")
    darp.add_argument("--half", choices=("tuning", "validation"),
                      help="only the tuning or the validation half of each family (benchmarks/families.py)")
    darp.add_argument("--set", action="append", default=[], metavar="GROUP.NAME=VALUE",
                      help="a search parameter, e.g. ruin_recreate.most_removed=14 (repeatable)")
    darp.set_defaults(func=cmd_bench_darp)
    service_bench = bench_sub.add_parser("service", help="the service against a trivial floor app, same server "
                                                         "settings, same clients, one run")
    service_bench.add_argument("--clients", type=int, default=30, help="client threads (default 30)")
    service_bench.add_argument("--rounds", type=int, default=10,
                               help="submit + status rounds per client (default 10)")
    service_bench.add_argument("--trips", type=int, default=20, help="trips of the day submitted (default 20)")
    service_bench.add_argument("--large-trips", type=int, default=2000,
                               help="trips of the large day of the size check (default 2000; 0: no size check)")
    service_bench.add_argument("--seconds", type=float, default=0.5, help="time limit per job (default 0.5)")
    service_bench.add_argument("--drain-s", type=float, default=600.0,
                               help="how long the jobs are given to end after the clients stop (default 600)")
    service_bench.add_argument("--trials", type=int, default=3,
                               help="times the floor and the service are measured, on fresh servers; the ratios "
                                    "are medians over trials (default 3)")
    service_bench.add_argument("--workers", type=int, default=1, help="gunicorn workers, both apps (default 1)")
    service_bench.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker (default 8)")
    service_bench.add_argument("--database", help="SQLAlchemy URL for the service (default: a fresh SQLite file "
                                                  "each trial); on PostgreSQL each trial creates a database of its "
                                                  "own on that server and drops it after, and the floor app "
                                                  "also runs there, as a reference beside the targets")
    service_bench.add_argument("--json", action="store_true", help="end with one JSON line of the figures")
    service_bench.set_defaults(func=cmd_bench_service)
    bench_replan = bench_sub.add_parser("replan", help="a published generated day re-planned after a vehicle "
                                                       "goes off the road, and after cancellations and new trips")
    bench_replan.add_argument("--trips", type=int, default=500, help="trips in the generated day (default 500)")
    bench_replan.add_argument("--scenario-seed", type=int, default=1, help="the generator's seed (default 1)")
    bench_replan.add_argument("--publish-seconds", type=float, default=60.0,
                              help="time limit of the solve that makes the published plan (default 60)")
    bench_replan.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                              help="which vehicle, trips and new trips each run changes (default 0 1 2)")
    bench_replan.add_argument("--workers", type=int, default=2)
    bench_replan.add_argument("--day-out", help="folder for the generated day (default: a new temporary folder)")
    bench_replan.add_argument("--json", action="store_true", help="one JSON object per re-plan")
    bench_replan.set_defaults(func=cmd_bench_replan)
    bench_week = bench_sub.add_parser("week", help="a generated week of 5 weekdays planned with consistent routes, "
                                                   "against each day planned alone")
    bench_week.add_argument("--trips", type=int, default=300, help="trips a day (default 300)")
    bench_week.add_argument("--scenario-seed", type=int, default=1, help="the generator's seed (default 1)")
    bench_week.add_argument("--seconds", type=float, default=15.0, help="time limit of each solve (default 15)")
    bench_week.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="solver seeds (default 0 1)")
    bench_week.add_argument("--workers", type=int, default=1)
    bench_week.add_argument("--day-out", help="folder for the generated week (default: a new temporary folder)")
    bench_week.add_argument("--json", action="store_true", help="one JSON object per row")
    bench_week.add_argument("--chart", metavar="SVG", help="also draw continuity against cost, a point per method "
                                                          "and seed, to this SVG file")
    bench_week.set_defaults(func=cmd_bench_week)
    bench_day = bench_sub.add_parser("day", help="a generated day solved at several seeds: median, mean, gap")
    bench_day.add_argument("--trips", type=int, default=2000, help="trips in the generated day (default 2000)")
    bench_day.add_argument("--scenario-seed", type=int, default=1, help="the generator's seed (default 1)")
    bench_day.add_argument("--seconds", type=float, default=300.0, help="time limit per solve (default 300)")
    bench_day.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4],
                           help="the solver's seeds, one solve each (default 0 1 2 3 4)")
    bench_day.add_argument("--workers", type=int, default=2)
    bench_day.add_argument("--against", type=float, help="a cost to compare with, in pounds (e.g. the best "
                                                         "thirty-minute plan on record)")
    bench_day.add_argument("--out", required=True, help="folder for the day, each seed's plan and the summary")
    bench_day.set_defaults(func=cmd_bench_day)
    bench_days = bench_sub.add_parser("days", help="the generated days of the tuning or validation half, with the "
                                                   "search's defaults and with a change (--set), seed by seed")
    bench_days.add_argument("--half", choices=("tuning", "validation"), default="validation",
                            help="which half's days (benchmarks/families.py; default validation)")
    bench_days.add_argument("--seconds", type=float, default=60.0, help="time limit per solve (default 60)")
    bench_days.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                            help="the solver's seeds (default 0 1 2)")
    bench_days.add_argument("--workers", type=int, default=2)
    bench_days.add_argument("--set", action="append", default=[], metavar="GROUP.NAME=VALUE",
                            help="the change to measure against the defaults, e.g. "
                                 "ruin_recreate.forced_rounds=0.1 (repeatable; none: the defaults alone)")
    bench_days.add_argument("--out", required=True, help="folder for the days, each solve's figures and the summary")
    bench_days.set_defaults(func=cmd_bench_days)
    clock = bench_sub.add_parser("clock", help="the clock advisor on a day and its shift file, against a plain "
                                                "sweep of one move at a time")
    clock.add_argument("--trips", default="examples/rutland/trips.csv")
    clock.add_argument("--fleet", default="examples/rutland/fleet.json")
    clock.add_argument("--shifts", default="examples/rutland/shifts.csv")
    clock.add_argument("--seconds", type=float, default=30.0, help="time limit of each confirming solve (default 30)")
    clock.add_argument("--max-rounds", type=int, default=5000,
                       help="round budget of each confirming solve (default 5000: deterministic for its seed)")
    clock.add_argument("--screen-rounds", type=int, default=1000)
    clock.add_argument("--seeds", type=int, default=3)
    clock.add_argument("--no-sweep", action="store_true", help="the advisor only")
    clock.add_argument("--generated-trips", type=int, default=0,
                       help="instead of --trips, --fleet and --shifts: a generated day of this many trips (as itu "
                            "bench day makes it), every school and day centre offered -30 to +30 minutes by 5")
    clock.add_argument("--scenario-seed", type=int, default=1, help="the generated day's seed (default 1)")
    clock.add_argument("--day-out", help="folder for the generated day and its shift file (default: a new "
                                         "temporary folder)")
    clock.add_argument("--search-limit", type=float, default=None,
                       help="seconds after which the advisor's scoring search stops and confirms what it has")
    clock.add_argument("--most-moves", type=int, default=5, help="largest set of moves tried (default 5)")
    clock.add_argument("--confirm-per-size", type=int, default=2,
                       help="sets of each size confirmed over the seeds (default 2)")
    clock.add_argument("--sweep-by", choices=("full", "scoring"), default="full",
                       help="the plain sweep solves each move in full with seed 0 (full, default) or scores it "
                            "with the advisor's scoring solve from the same incumbent (scoring)")
    clock.add_argument("--sweep-step", type=int, default=None,
                       help="sweep only the moves of a whole number of this many minutes (default: every move)")
    clock.add_argument("--exhaustive", action="store_true",
                       help="instead: the advisor's pick against all 625 combinations of the busiest 4 destinations "
                            "x 5 options (-30, -15, none, +15, +30) on a small generated day, solved alike")
    clock.add_argument("--exhaustive-trips", type=int, default=60, help="trips in that day (default 60)")
    clock.set_defaults(func=cmd_bench_clock)
    roads = bench_sub.add_parser("roads", help="road network build and travel matrix times on an extract")
    roads.add_argument("pbf", help="OpenStreetMap extract (.osm.pbf)")
    roads.add_argument("--points", type=int, default=2000, help="matrix size (default 2000)")
    roads.add_argument("--repeats", type=int, default=5)
    roads.add_argument("--workers", type=int, default=2, help="processes for the matrix (default 2)")
    roads.add_argument("--seed", type=int, default=0)
    roads.set_defaults(func=cmd_bench_roads)
