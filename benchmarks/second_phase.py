"""Pairs for the second phase of a day split by duty: each side's first phase run once and saved,
then the second phase run from those same plans as often as wanted, with search parameters
changed. A change to the second phase is then measured against the same start, without the first
phase's spread (which is as large as the effect).

The search's parameters are data passed to every process that searches (``--set
GROUP.NAME=VALUE``, e.g. ``--set ruin_recreate.cooled_end=0.05``), so a change to one is measured
from this same code, not from a copy of it. Run it from the project's folder:

    python -m benchmarks.second_phase first  --seed 0 --plans P0.pkl DAY/trips.csv DAY/fleet.json
    python -m benchmarks.second_phase second --seed 10 --plans P0.pkl DAY/trips.csv DAY/fleet.json \\
        --set ruin_recreate.cooled_end=0.05

Each prints the package path it loaded, the settings, the sides' costs and the joined plan's cost
(BENCHMARKS.md). The sides are searched as ``solve`` searches them (``solve_part`` in processes of
their own), priced again for the second phase by ``priced_as_joined`` and joined by ``join_parts``.
"""
from __future__ import annotations

import argparse
import multiprocessing
import pickle
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from functools import partial

import optimiser
from geodata.files import load_day
from optimiser import SolveOptions
from optimiser.decompose.duty_split import place_on_side, priced_as_joined, split_by_duty
from optimiser.decompose.side_by_side import join_parts, solve_part
from optimiser.errors import ItuError

from benchmarks.parameters import search_parameters


class NeverStop:
    """The sides' cancel: these runs always search to their time limit (picklable, unlike an Event)."""

    def is_set(self) -> bool:
        return False


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
    parser.add_argument("--set", action="append", default=[], metavar="GROUP.NAME=VALUE",
                        help="a search parameter, e.g. ruin_recreate.cooled_end=0.05 (optimiser/options.py)")
    args = parser.parse_args()
    parameters = search_parameters(args.set)
    print("code:", optimiser.__file__, "settings:", args.set or "none", flush=True)
    problem = load_day(args.trips, args.fleet).problem
    decomposition = parameters.decomposition
    sides = split_by_duty(problem, decomposition)
    if sides is None:
        raise SystemExit("this day's fleet has no break to split it at")
    largest = max(len(s.problem.trips) for s in sides)
    options = SolveOptions(time_limit_s=args.seconds, seed=args.seed, workers=2, ruin_and_recreate=True,
                           parameters=parameters)
    executor = ProcessPoolExecutor(len(sides), mp_context=multiprocessing.get_context("spawn"))
    with executor:
        if args.phase == "first":
            # each side's share of the whole solve's time, as plan_parts gives it
            search_s = (args.seconds * (1 - decomposition.second_phase_share)
                        - decomposition.overhead_s_per_trip * largest)
            side_options = replace(options, time_limit_s=search_s, workers=1, part_workers=1, regions=1)
            futures = [executor.submit(solve_part, s.problem, side_options, NeverStop(), part=r)
                       for r, s in enumerate(sides)]
            plans = {r: f.result() for r, f in enumerate(futures)}

            place = partial(place_on_side, problem, sides)
            parts = [s.problem for s in sides]
            with open(args.plans, "wb") as out:
                pickle.dump(plans, out)
        else:
            with open(args.plans, "rb") as saved:
                first = pickle.load(saved)
            again = priced_as_joined(problem, sides, first)
            if again is None:
                raise SystemExit("no vehicle type works on both sides: the second phase would price nothing again")
            parts, starts, place_again, _, info = again
            print("vehicles each side:", info["vehicles_each_side"], "free:", info["already_paid_for"])
            side_options = replace(options, time_limit_s=args.second_search_s, workers=1, part_workers=1, regions=1)
            futures = [executor.submit(solve_part, parts[r], side_options, NeverStop(), start_routes=starts[r],
                                       part=r, cooled=True) for r in range(len(parts))]
            plans = {r: f.result() for r, f in enumerate(futures)}

            def place(r, route):
                return place_again(r, route, plans[r])

    joined = join_parts(problem, parts, plans, {}, options, place, {}, time.monotonic(), [], len(parts), False)
    # in the second phase the sides' costs leave out the day rates of the vehicles free on both
    print(f"{args.phase} phase, seed {args.seed}: sides £{sum(p.cost.total for p in plans.values()):,.2f}, "
          f"joined £{joined.cost.total:,.2f}, {len(joined.routes)} routes, {len(joined.contracted)} contracted, "
          f"{len(joined.unserved)} unserved")


if __name__ == "__main__":
    try:
        main()
    except ItuError as exc:  # a setting or a file that cannot be read: one line, as itu says it
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
