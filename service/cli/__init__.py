"""``itu``: the one command line of the project.

    itu solve PROBLEM.json | TRIPS FLEET [--roads PBF | --osrm URL] [--seconds S] [--out DIR]
    itu compare TRIPS [FLEET] [--roads PBF | --osrm URL] [--seconds S] [--seeds K] [--out DIR]
    itu advise clock TRIPS [FLEET] --shifts SHIFTS.csv [--seconds S] [--seeds K] [--out DIR] [--json]
    itu contracts analyse TRIPS FLEET --register REGISTER.csv [--complete] [--out DIR] [--json]
    itu contracts models TRIPS FLEET --register REGISTER.csv [--seeds K] [--seconds S] [--shifts SHIFTS.csv] [--out DIR]
    itu contracts lots PLAN.json --trips TRIPS [--fleet FLEET] --lots N | --lot-size S [--by KEYS] [--out DIR]
    itu curves PLAN.json... --out SVG
    itu solve-week TRIPS FLEET [--seconds S] [--method template|independent] [--out DIR]
    itu replan PLAN.json CHANGES.json --trips TRIPS --fleet FLEET [--resolve] [--seconds S] [--out DIR]
    itu scenario generate --trips N --seed S --out DIR [--pbf PBF] [--register];  itu scenario register TRIPS FLEET
    itu serve [--dev] [--host H] [--port P];  itu keys create NAME | list | revoke ID
    itu bench darp FILES... [--seconds S] [--workers W] [--json]
    itu bench day [--trips N] [--seconds S] [--seeds N...] [--against POUNDS] --out DIR
    itu bench replan [--trips N] [--publish-seconds S] [--seeds N...] [--json]
    itu bench week [--trips N] [--seconds S] [--seeds N...] [--json]
    itu bench roads PBF;  itu bench service [--clients N]

The commands live by what they are for: planning.py (solve, compare, curves, scenario),
weekly.py (solve-week), replanning.py (replan), advising.py (advise clock), contracts.py (contracts
analyse, models and lots), serving.py (serve, keys) and bench.py (the harnesses of benchmarks/).
Errors the user can fix are printed as one line (what and where), exit code 2; never a traceback.
"""
from __future__ import annotations

import argparse
import sys

from optimiser.errors import ItuError

from . import advising, bench, contracts, planning, replanning, serving, weekly


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="itu", description="Integrated transport route optimiser")
    sub = parser.add_subparsers(dest="command", required=True)
    planning.add_commands(sub)
    weekly.add_commands(sub)
    replanning.add_commands(sub)
    advising.add_commands(sub)
    contracts.add_commands(sub)
    serving.add_commands(sub)
    bench.add_commands(sub)
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
