"""Pairs for the second phase of a day split by duty: each side's first phase run once and saved,
then the second phase run from those same plans as often as wanted, with module settings changed
in every process that searches. A change to the second phase is then measured against the same
start, without the first phase's spread (which is as large as the effect).

Run from the project's folder, with the code to measure first on the path:

    python benchmarks/second_phase.py first  --seed 0 --plans P0.pkl DAY/trips.csv DAY/fleet.json
    python benchmarks/second_phase.py second --seed 10 --plans P0.pkl DAY/trips.csv DAY/fleet.json \
        --set optimiser.ruin_recreate.COOLED_END=1

Each prints the module path it loaded, the sides' costs and the joined plan's cost (BENCHMARKS.md).
"""
from __future__ import annotations

import argparse
import importlib
import multiprocessing
import pickle
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from functools import partial

import optimiser.regions as regions
from optimiser.regions import _join, _priced_as_joined, _solve_region, place_on_side, split_by_duty
from optimiser.solver import SolveOptions
from service.cli import _load, build_parser


class _NeverStop:
    def is_set(self) -> bool:
        return False


def _apply(settings: list[str]) -> None:
    """``module.NAME=value`` settings, applied in each searching process as it starts."""
    for setting in settings:
        target, value = setting.split("=", 1)
        module_name, name = target.rsplit(".", 1)
        module = importlib.import_module(module_name)
        setattr(module, name, type(getattr(module, name))(value))  # as the constant's own type


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("phase", choices=("first", "second"))
    parser.add_argument("trips")
    parser.add_argument("fleet")
    parser.add_argument("--plans", required=True, help="the first phase's plans (written by first, read by second)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=300.0, help="the whole solve's time limit it stands for")
    parser.add_argument("--second-search-s", type=float, default=40.0,
                        help="each side's search in the second phase, in seconds (a five-minute solve records it in "
                             "plan.json as solver.regions.second_phase.search_s: 43 s, then 40 s, in BENCHMARKS.md)")
    parser.add_argument("--set", action="append", default=[], metavar="MODULE.NAME=VALUE")
    args = parser.parse_args()
    _apply(args.set)
    print("code:", regions.__file__, "settings:", args.set or "none", flush=True)
    problem = _load(build_parser().parse_args(["solve", args.trips, args.fleet]))[0]
    sides = split_by_duty(problem)
    if sides is None:
        raise SystemExit("this day's fleet has no break to split it at")
    largest = max(len(s.problem.trips) for s in sides)
    options = SolveOptions(time_limit_s=args.seconds, seed=args.seed, workers=2, ruin_and_recreate=True)
    executor = ProcessPoolExecutor(len(sides), mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_apply, initargs=(args.set,))
    with executor:
        if args.phase == "first":
            search_s = args.seconds * (1 - regions.SECOND_PHASE_SHARE) - regions.OVERHEAD_S_PER_TRIP * largest
            side_options = replace(options, time_limit_s=search_s, workers=1, part_workers=1, regions=1)
            futures = [executor.submit(_solve_region, s.problem, side_options, _NeverStop(), part=r)
                       for r, s in enumerate(sides)]
            plans = {r: f.result() for r, f in enumerate(futures)}

            place = partial(place_on_side, problem, sides)
            parts = [s.problem for s in sides]
            with open(args.plans, "wb") as out:
                pickle.dump(plans, out)
        else:
            with open(args.plans, "rb") as saved:
                first = pickle.load(saved)
            parts, starts, place_again, _, info = _priced_as_joined(problem, sides, first)
            print("vehicles each side:", info["vehicles_each_side"], "free:", info["already_paid_for"])
            side_options = replace(options, time_limit_s=args.second_search_s, workers=1, part_workers=1, regions=1)
            futures = [executor.submit(_solve_region, parts[r], side_options, _NeverStop(), start_routes=starts[r],
                                       part=r, cooled=True) for r in range(len(parts))]
            plans = {r: f.result() for r, f in enumerate(futures)}

            def place(r, route):
                return place_again(r, route, plans[r])

    joined = _join(problem, parts, plans, {}, options, place, {}, time.monotonic(), [], len(parts), False)
    # in the second phase the sides' costs leave out the day rates of the vehicles free on both
    print(f"{args.phase} phase, seed {args.seed}: sides £{sum(p.cost.total for p in plans.values()):,.2f}, "
          f"joined £{joined.cost.total:,.2f}, {len(joined.routes)} routes, {len(joined.contracted)} contracted, "
          f"{len(joined.unserved)} unserved")


if __name__ == "__main__":
    main()
