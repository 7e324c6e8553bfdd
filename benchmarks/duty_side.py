"""One duty side of a day searched alone, as a five-minute solve searches it: a change to the search
measured on one core, side by side with the code before on the other, without the whole day's
join and second-phase repricing in the way.

The side is planned by ``solve`` as the whole day's solve plans it (one worker, our own first
routes, ruin and recreate), in two phases in the solve's proportions: the first
``1 - second_phase_share`` of the time searched as the first phase, then, from its plan, the rest
cooled as the second phase cools (``solve(start_routes=..., cooled_start=True)``, as each side's
second phase starts), priced the same (the whole day's second phase also prices the sides again;
this does not).

The search's parameters are data passed to the compiled search as arguments, so a change to one
is measured from this same code with ``--set GROUP.NAME=VALUE`` (e.g. ``--set
ruin_recreate.most_removed=14``), not from a copy of the code. Run it from the project's folder:

    python -m benchmarks.duty_side DAY/trips.csv DAY/fleet.json --side 0 --seconds 120 --seed 1

It prints one line of JSON: the package path it loaded, the settings, the side's plan cost (as
the side prices it), routes, contracted trips, and each phase's cost, objective and search
counts (BENCHMARKS.md).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace

import optimiser
from geodata.files import load_day
from optimiser import SolveOptions, solve
from optimiser.decompose.duty_split import split_by_duty
from optimiser.domain.plan import route_order
from optimiser.errors import ItuError

from benchmarks.parameters import search_parameters


def phase_figures(plan: optimiser.Plan) -> dict:
    """What one phase's search did: its plan's cost and objective, and ruin and recreate's counts."""
    return {"cost": round(plan.cost.total, 2), "objective": round(plan.solver.objective, 2),
            "seconds": plan.solver.seconds, **(plan.solver.ruin_and_recreate or {})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trips")
    parser.add_argument("fleet")
    parser.add_argument("--side", type=int, choices=(0, 1), required=True, help="0: before the break, 1: after it")
    parser.add_argument("--seconds", type=float, default=120.0, help="the side's whole solve, both phases")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--second-share", type=float,
                        help="the share of the time cooled as the second phase (default: the parameters' "
                             "decomposition.second_phase_share)")
    parser.add_argument("--set", action="append", default=[], metavar="GROUP.NAME=VALUE",
                        help="a search parameter, e.g. ruin_recreate.most_removed=14 (optimiser/options.py)")
    args = parser.parse_args()
    parameters = search_parameters(args.set)
    share = parameters.decomposition.second_phase_share if args.second_share is None else args.second_share
    if not 0 < share < 1:
        raise SystemExit("--second-share must be between 0 and 1")
    problem = load_day(args.trips, args.fleet).problem
    sides = split_by_duty(problem, parameters.decomposition)
    if sides is None:
        raise SystemExit("this day's fleet has no break to split it at")
    side = sides[args.side].problem
    options = SolveOptions(time_limit_s=args.seconds * (1 - share), seed=args.seed, workers=1, part_workers=1,
                           regions=1, ruin_and_recreate=True, parameters=parameters)
    started = time.monotonic()
    first = solve(side, options)
    # from the first phase's best routes, as the search's own second phase starts: cooled, not heated again
    second = solve(side, replace(options, time_limit_s=args.seconds * share),
                   start_routes=[route_order(side, route) for route in first.routes], cooled_start=True)
    print(json.dumps({"code": optimiser.__file__, "settings": args.set, "side": args.side, "seed": args.seed,
                      "seconds": args.seconds, "second_share": share, "cost": round(second.cost.total, 2),
                      "routes": len(second.routes), "contracted": len(second.contracted),
                      "wall_s": round(time.monotonic() - started, 1),
                      "first": phase_figures(first), "second": phase_figures(second)}))


if __name__ == "__main__":
    try:
        main()
    except ItuError as exc:  # a setting or a file that cannot be read: one line, as itu says it
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
