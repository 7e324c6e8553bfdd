"""One duty side of a day searched alone, as a five-minute solve searches it: a change to the search
measured on one core, side by side with the code before on the other, without the whole day's
join and second-phase repricing in the way.

The side is planned by ``solve`` as the whole day's solve plans it (one worker, our own first
routes, ruin and recreate). The search's time is split in the solve's proportions: the first
``1 - SECOND_PHASE_SHARE`` of it searched as the first phase, then, from its best routes, the rest
cooled as the second phase cools (``improve(cooled=True)``), priced the same (the whole day's second
phase also prices the sides again; this does not).

Run from the folder of the code to measure, with that folder first on the path and a numba cache of
its own (module constants read inside the compiled search are fixed when it compiles, so a change
to one is measured from a copy of the code, not with ``--set``):

    cd COPY && NUMBA_CACHE_DIR=COPY/.numba PYTHONPATH=COPY python benchmarks/duty_side.py \\
        DAY/trips.csv DAY/fleet.json --side 0 --seconds 120 --seed 1

It prints one line of JSON: the module path it loaded, the side's plan cost (as the side prices
it), routes, contracted trips, and each phase's counts and best objective (BENCHMARKS.md).
"""
from __future__ import annotations

import argparse
import json
import time

import optimiser.engine.ruin_recreate as ruin_recreate
from optimiser.regions import SECOND_PHASE_SHARE, split_by_duty
from optimiser.solver import SolveOptions, solve
from service.cli import _load, build_parser

from second_phase import _apply


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trips")
    parser.add_argument("fleet")
    parser.add_argument("--side", type=int, choices=(0, 1), required=True, help="0: before the break, 1: after it")
    parser.add_argument("--seconds", type=float, default=120.0, help="the side's whole solve, both phases")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--second-share", type=float, default=SECOND_PHASE_SHARE,
                        help="the share of the search cooled as the second phase")
    parser.add_argument("--set", action="append", default=[], metavar="MODULE.NAME=VALUE",
                        help="a module constant read in Python (not inside the compiled search)")
    args = parser.parse_args()
    _apply(args.set)
    phases: dict = {}
    improve = ruin_recreate.RuinAndRecreate.improve

    def in_two_phases(search, until, stop=lambda: False, on_better=lambda total: None, **_):
        now = time.monotonic()
        phases["first"] = improve(search, now + (until - now) * (1 - args.second_share), stop, on_better)
        phases["first"]["best"] = search.best
        search.return_to_best()
        phases["second"] = improve(search, until, stop, on_better, cooled=True)
        phases["second"]["best"] = search.best
        return phases["first"]

    ruin_recreate.RuinAndRecreate.improve = in_two_phases
    problem = _load(build_parser().parse_args(["solve", args.trips, args.fleet]))[0]
    sides = split_by_duty(problem)
    if sides is None:
        raise SystemExit("this day's fleet has no break to split it at")
    options = SolveOptions(time_limit_s=args.seconds, seed=args.seed, workers=1, part_workers=1, regions=1,
                           ruin_and_recreate=True)
    started = time.monotonic()
    plan = solve(sides[args.side].problem, options)
    print(json.dumps({"code": ruin_recreate.__file__, "settings": args.set, "side": args.side, "seed": args.seed,
                      "seconds": args.seconds, "second_share": args.second_share, "cost": round(plan.cost.total, 2),
                      "routes": len(plan.routes), "contracted": len(plan.contracted),
                      "wall_s": round(time.monotonic() - started, 1), **phases}))


if __name__ == "__main__":
    main()
