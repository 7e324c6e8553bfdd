"""Contract commands: ``itu contracts analyse``, what today's contracts waste."""
from __future__ import annotations

import json

from .planning import add_travel_arguments, load_from_arguments


def cmd_contracts_analyse(args) -> int:
    from optimiser.analysis.contracts import ContractAnalysisOptions, analyse_contracts
    from optimiser.domain.register import read_register
    from optimiser.reporting.contracts_report import markdown, write_contract_analysis

    day = load_from_arguments(args)
    register = read_register(args.register, day.problem, complete=args.complete)
    options = ContractAnalysisOptions(turnaround_minutes=args.turnaround_minutes,
                                      deadhead_per_mile=args.deadhead_per_mile,
                                      waiting_per_hour=args.waiting_per_hour,
                                      longest_gap_minutes=args.longest_gap_minutes, near_km=args.near_km,
                                      overlap_share=args.overlap_share)
    analysis = analyse_contracts(day.problem, register, options)
    if args.json:
        print(json.dumps(analysis.to_dict()))
    else:
        print(markdown(analysis))
    if args.out:
        written = write_contract_analysis(analysis, args.out, day.locations)
        if not args.json:
            for path in written:
                print(f"wrote {path}")
    return 0


def add_commands(sub) -> None:
    contracts = sub.add_parser("contracts", help="today's contracts: what could be chained, what is duplicated")
    contracts_sub = contracts.add_subparsers(dest="contracts_action", required=True)
    analyse = contracts_sub.add_parser(
        "analyse", help="chains of one operator's contracts, near-identical runs, occupancy and idle time, priced")
    analyse.add_argument("trips", help="trip file (CSV, GeoJSON, GeoPackage) or problem document (JSON)")
    analyse.add_argument("fleet", nargs="?", help="fleet file (CSV or JSON) for a trip file")
    add_travel_arguments(analyse)
    analyse.add_argument("--register", required=True, help="the contract register, CSV (docs/contracts.md)")
    analyse.add_argument("--complete", action="store_true",
                         help="the register holds every contract of the day: a trip on no contract is an error")
    analyse.add_argument("--deadhead-per-mile", type=float, default=1.50,
                         help="pounds a mile of empty running between chained duties or a duplicate's detour "
                              "(default 1.50)")
    analyse.add_argument("--waiting-per-hour", type=float, default=0.0,
                         help="pounds an hour for the time between chained duties (default 0)")
    analyse.add_argument("--longest-gap-minutes", type=float, default=90.0,
                         help="chain duties at most this many minutes apart (default 90)")
    analyse.add_argument("--turnaround-minutes", type=float, default=5.0,
                         help="minutes between chained duties besides the drive (default 5)")
    analyse.add_argument("--near-km", type=float, default=3.0,
                         help="duplicates: first stops, and last stops, at most this far apart (default 3)")
    analyse.add_argument("--overlap-share", type=float, default=0.5,
                         help="duplicates: duties overlapping by at least this share of the shorter (default 0.5)")
    analyse.add_argument("--out", help="folder for findings.json, contracts.md, contracts.html, findings.csv, "
                                       "contracts.csv and contracts.geojson")
    analyse.add_argument("--json", action="store_true", help="print the analysis as one JSON object")
    analyse.set_defaults(func=cmd_contracts_analyse)
