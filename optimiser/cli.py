"""``itu``: the one command line of the project.

    itu solve PROBLEM.json [--seconds S] [--workers W] [--out DIR]
    itu compare TRIPS [FLEET] [--seconds S] [--seeds K] [--out DIR]
    itu bench darp FILES... [--seconds S] [--workers W] [--json]

Errors the user can fix are printed as one line (what and where), exit code 2;
never a traceback.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from .errors import ItuError

DEFAULT_BKS = Path(__file__).resolve().parent.parent.parent / "shared" / "benchmarks" / "darp" / "bks.csv"


class _ProgressBar:
    """A tqdm bar over the time limit, showing the best cost so far."""

    def __init__(self, seconds: float, label: str, enabled: bool):
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=round(seconds, 1), desc=label, unit="s", leave=False, file=sys.stderr,
                            bar_format="{desc} {bar} {n:.0f}/{total:.0f}s {postfix}")

    def __call__(self, progress) -> None:
        if self.bar is not None:
            self.bar.n = min(round(progress.elapsed_s, 1), self.bar.total)
            self.bar.set_postfix_str(f"best £{progress.best_cost:,.2f}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _solve_with_bar(problem, options, label: str, show: bool):
    import threading
    import time

    from .solver import Progress, solve

    bar = _ProgressBar(options.time_limit_s, label, show)
    latest: list = [None]
    done = threading.Event()
    started = time.monotonic()

    def tick():  # move the bar with the clock, not only when the cost improves
        while not done.wait(0.5):
            best = latest[0]
            bar(Progress(time.monotonic() - started, best.best_cost if best else float("nan"),
                         options.time_limit_s))

    ticker = threading.Thread(target=tick, daemon=True)
    if show:
        ticker.start()

    def on_progress(p):
        latest[0] = p
        bar(p)

    try:
        return solve(problem, options, on_progress=on_progress)
    finally:
        done.set()
        bar.close()


def cmd_solve(args) -> int:
    from .io import read_problem_json, write_plan
    from .solver import SolveOptions

    problem = read_problem_json(args.problem)
    options = SolveOptions(time_limit_s=args.seconds, seed=args.seed, workers=args.workers)
    plan = _solve_with_bar(problem, options, problem.name, sys.stderr.isatty() and not args.quiet)
    print(plan.summary())
    if args.out:
        written = write_plan(plan, args.out)
        for path in written:
            print(f"wrote {path}")
    return 0


def cmd_bench_darp(args) -> int:
    from .darp import read_best_known, read_instance, routes_as_node_ids
    from .solver import SolveOptions

    bks = {}
    bks_path = Path(args.bks) if args.bks else DEFAULT_BKS
    if bks_path.exists():
        bks = read_best_known(bks_path)
    options = SolveOptions(time_limit_s=args.seconds, seed=args.seed, workers=args.workers)
    rows = []
    if not args.json:
        print(f"{'instance':14s} {'requests':>8s} {'served':>6s} {'feasible':>8s} {'cost':>10s} {'best known':>10s} "
              f"{'gap %':>7s} {'seconds':>7s}")
    for file in args.files:
        instance = read_instance(file)
        plan = _solve_with_bar(instance.problem, options, instance.name, sys.stderr.isatty() and not args.json)
        from .checker import check_plan

        feasible = check_plan(instance.problem, plan).feasible
        served = len(plan.served_trip_ids)
        cost = plan.cost.total
        best = bks.get(instance.name)
        gap = None if best is None or served < instance.requests else 100.0 * (cost - best) / best
        row = {"instance": instance.name, "seconds": plan.solver["seconds"], "time_limit_s": args.seconds,
               "cost": round(cost, 4), "feasible": feasible, "served": served, "requests": instance.requests,
               "best_known": best, "gap_percent": None if gap is None else round(gap, 4),
               "routes": routes_as_node_ids(instance, plan)}
        rows.append(row)
        if args.json:
            print(json.dumps(row), flush=True)
        else:
            print(f"{instance.name:14s} {instance.requests:8d} {served:6d} {str(feasible):>8s} {cost:10.2f} "
                  f"{'' if best is None else f'{best:10.2f}':>10s} {'' if gap is None else f'{gap:7.2f}':>7s} "
                  f"{plan.solver['seconds']:7.1f}", flush=True)
    gaps = [r["gap_percent"] for r in rows if r["gap_percent"] is not None]
    if gaps and not args.json:
        print(f"\n{len(rows)} instances, {sum(r['feasible'] for r in rows)} feasible, "
              f"{sum(r['served'] == r['requests'] for r in rows)} fully served; gap to best known: mean "
              f"{statistics.fmean(gaps):.2f}%, median {statistics.median(gaps):.2f}%, worst {max(gaps):.2f}%")
    return 0


def cmd_compare(args) -> int:
    from .compare import CompareOptions, compare
    from .io import read_trips_and_fleet
    from .report import markdown, write_comparison

    problem, settings = read_trips_and_fleet(args.trips, args.fleet)
    options = CompareOptions(time_limit_s=args.seconds, seeds=args.seeds, parallel=args.parallel, **settings)
    bar = None
    if sys.stderr.isatty() and not args.quiet:
        from tqdm import tqdm

        bar = tqdm(desc="solves", unit="solve", file=sys.stderr, leave=False)

    def on_progress(done: int, total: int) -> None:
        if bar is not None:
            bar.total = total
            bar.n = done
            bar.refresh()

    try:
        result = compare(problem, options, on_progress=on_progress)
    finally:
        if bar is not None:
            bar.close()
    print(markdown(result))
    if args.out:
        for path in write_comparison(result, args.out):
            print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="itu", description="Integrated transport route optimiser")
    sub = parser.add_subparsers(dest="command", required=True)

    solve = sub.add_parser("solve", help="plan a problem (JSON: locations, trips, fleet, tariffs)")
    solve.add_argument("problem", help="problem document (see docs/problem-format.md)")
    solve.add_argument("--seconds", type=float, default=30.0, help="time limit (default 30)")
    solve.add_argument("--seed", type=int, default=0)
    solve.add_argument("--workers", type=int, default=1, help="parallel searches; the best wins (default 1)")
    solve.add_argument("--out", help="folder for plan.json and routes.csv")
    solve.add_argument("--quiet", action="store_true", help="no progress bar")
    solve.set_defaults(func=cmd_solve)

    comp = sub.add_parser("compare", help="separate contracts against integrated planning, and the cost split")
    comp.add_argument("trips", help="trips document (JSON; may hold the fleet too)")
    comp.add_argument("fleet", nargs="?", help="fleet document: vehicle_types, tariffs, fleet_by_service, "
                                               "today_trip_prices, today_route_prices")
    comp.add_argument("--seconds", type=float, default=20.0, help="time limit of each solve (default 20)")
    comp.add_argument("--seeds", type=int, default=3, help="solves per plan, for the spread (default 3)")
    comp.add_argument("--parallel", type=int, default=0, help="solves at once (default: one per core)")
    comp.add_argument("--out", help="folder for comparison.json, report.md, report.html and route CSVs")
    comp.add_argument("--quiet", action="store_true")
    comp.set_defaults(func=cmd_compare)

    bench = sub.add_parser("bench", help="benchmarks")
    bench_sub = bench.add_subparsers(dest="suite", required=True)
    darp = bench_sub.add_parser("darp", help="standard dial-a-ride instances against their best-known costs")
    darp.add_argument("files", nargs="+")
    darp.add_argument("--seconds", type=float, default=10.0)
    darp.add_argument("--seed", type=int, default=0)
    darp.add_argument("--workers", type=int, default=2, help="parallel searches per instance (default 2)")
    darp.add_argument("--json", action="store_true", help="one JSON object per instance")
    darp.add_argument("--bks", help=f"best-known values CSV (default {DEFAULT_BKS})")
    darp.set_defaults(func=cmd_bench_darp)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ItuError as exc:
        print(f"itu: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("itu: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
