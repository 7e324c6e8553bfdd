"""Advice commands: ``itu advise clock``, which bells and opening times to move."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from optimiser.errors import InputFormatError, ProblemError

from .planning import add_travel_arguments, load_from_arguments
from .progress import SolvesBar


def limits_from_arguments(args):
    """The limits ``--most-moved`` and ``--earliest-bell`` ask for, or None to keep a JSON file's."""
    from optimiser.analysis.clock import ClockLimits
    from optimiser.domain.model import parse_clock

    if args.most_moved is None and args.earliest_bell is None:
        return None
    if args.most_moved is not None and args.most_moved < 1:
        raise InputFormatError("must be at least 1", where="--most-moved")
    try:
        bell = None if args.earliest_bell is None else parse_clock(args.earliest_bell, where="--earliest-bell")
    except ProblemError as exc:
        raise InputFormatError(exc.message, where=exc.where) from None
    return ClockLimits(args.most_moved, bell)


def cmd_advise_clock(args) -> int:
    from optimiser.analysis.clock import ClockOptions, advise_clock, read_shift_options
    from optimiser.reporting.clock_report import markdown, write_clock_advice

    day = load_from_arguments(args)
    shifts = read_shift_options(args.shifts, day.problem, names=day.place_names, limits=limits_from_arguments(args))
    options = ClockOptions(time_limit_s=args.seconds, seeds=args.seeds, max_rounds=args.max_rounds,
                           screen_rounds=args.screen_rounds, objective=args.objective, workers=args.parallel,
                           least_share_per_move=args.least_share_per_move, search_limit_s=args.search_limit)

    client = None
    if args.dask_scheduler:
        from distributed import Client

        client = Client(args.dask_scheduler)
    try:
        with SolvesBar(sys.stderr.isatty() and not args.quiet) as on_progress:
            advice = advise_clock(day.problem, shifts, options, executor=client, on_progress=on_progress)
    finally:
        if client is not None:
            client.close()
    if args.json:
        print(json.dumps(advice.to_dict()))
    else:
        print(markdown(advice))
    if args.out:
        written = write_clock_advice(advice, args.out)
        if not args.json:
            for path in written:
                print(f"wrote {path}")
    return 0


def add_commands(sub) -> None:
    advise = sub.add_parser("advise", help="advice on what to change: which clocks to move")
    advise_sub = advise.add_subparsers(dest="advice", required=True)
    clock = advise_sub.add_parser("clock", help="which school bells and centre opening times to move, by how much, "
                                                "and what each move saves")
    clock.add_argument("trips", help="trip file (CSV, GeoJSON, GeoPackage) or problem document (JSON)")
    clock.add_argument("fleet", nargs="?", help="fleet file (CSV or JSON) for a trip file")
    add_travel_arguments(clock)
    clock.add_argument("--shifts", required=True,
                       help="shift options, CSV or JSON (docs/clock-advisor.md): per destination a range and step "
                            "of minutes, or one fixed shift")
    clock.add_argument("--seconds", type=float, default=10.0, help="time limit of each confirming solve (default 10)")
    clock.add_argument("--seeds", type=int, default=3, help="confirming solves per set of moves, for the spread "
                                                            "(default 3)")
    clock.add_argument("--max-rounds", type=int, help="round budget of each confirming solve (deterministic runs)")
    clock.add_argument("--screen-rounds", type=int, default=1000,
                       help="rounds of each short scoring solve (default 1000)")
    clock.add_argument("--most-moved", type=int, metavar="K", help="move at most K destinations")
    clock.add_argument("--earliest-bell", metavar="HH:MM", help="no arrival at a moved destination before this")
    clock.add_argument("--objective", choices=("cost", "vehicles"), default="cost",
                       help="minimise the day's cost (default) or vehicles first, then cost")
    clock.add_argument("--least-share-per-move", type=float, default=0.005, metavar="SHARE",
                       help="each move recommended must add at least this share of the unmoved day's cost to the "
                            "saving (default 0.005: half a percent; 0 recommends the largest median saving)")
    clock.add_argument("--search-limit", type=float, metavar="SECONDS",
                       help="stop scoring moves after this many seconds and confirm the best found so far "
                            "(single moves are scored coarse to fine, every destination in turn, so a county "
                            "day gets a recommendation in bounded time; default: no limit)")
    clock.add_argument("--parallel", type=int, default=0, help="solves at once (default: one per core)")
    clock.add_argument("--dask-scheduler", metavar="ADDRESS", help="run the solves on this Dask cluster")
    clock.add_argument("--out", help="folder for clock.json, clock.md, clock.html, moves.csv and the charts")
    clock.add_argument("--json", action="store_true", help="print the recommendation as one JSON object")
    clock.add_argument("--quiet", action="store_true", help="no progress bar")
    clock.set_defaults(func=cmd_advise_clock)
