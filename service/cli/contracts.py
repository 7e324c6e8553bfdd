"""Contract commands: ``itu contracts analyse``, what today's contracts waste; ``itu contracts
models``, operating models side by side; ``itu contracts lots``, a plan's vehicles in lots for tender."""
from __future__ import annotations

import json

from .planning import add_travel_arguments, load_from_arguments
from .progress import SolvesBar


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


def cmd_contracts_lots(args) -> int:
    from dataclasses import replace

    from geodata.tender import write_tender_pack
    from optimiser.analysis.tender_lots import (COST_FIELDS, LOT_FIELDS, lot_options_from_fields, make_lots,
                                                plan_to_put_in_lots)
    from optimiser.reporting.tender_report import lots_document, markdown

    from .replanning import read_json

    document = read_json(args.plan, "plan")
    fields = {k: getattr(args, k) for k in LOT_FIELDS + COST_FIELDS if hasattr(args, k)}
    fields["group_by"] = [k.strip() for k in args.by.split(",") if k.strip()]
    if args.term_time_services is not None:
        fields["term_time_services"] = [s.strip() for s in args.term_time_services.split(",") if s.strip()]
    options = lot_options_from_fields(fields)  # a bad option is refused before the day is read
    day = load_from_arguments(args)
    problem = day.problem
    if isinstance(document, dict) and isinstance(document.get("problem"), str):
        problem = replace(problem, name=document["problem"])
    plan = plan_to_put_in_lots(document, problem, where=args.plan)
    lots = make_lots(problem, plan, options)
    if args.json:
        print(json.dumps(lots_document(lots, day.place_names)))
    else:
        print(markdown(lots, day.place_names))
    if args.out:
        written = write_tender_pack(lots, plan, problem, args.out, locations=day.locations,
                                    place_names=day.place_names, network=day.network)
        if not args.json:
            print(f"wrote {len(written)} files under {args.out}: index.html, lots.json, lots.csv, a sheet and a "
                  f"schedule per lot" + (", lots.gpkg and lots-map.html" if any(p.suffix == ".gpkg" for p in written)
                                         else ""))
    return 0


def add_lots_command(contracts_sub) -> None:
    lots = contracts_sub.add_parser(
        "lots", help="a plan's vehicles in lots for tender, each with its schedules, staff and estimated price")
    lots.add_argument("plan", help="plan.json as itu solve --out writes it (read, never written)")
    lots.add_argument("--trips", required=True, help="the trip file (or problem document) the plan was made from "
                                                     "(plan.json does not carry it)")
    lots.add_argument("--fleet", help="the fleet file the plan was made from (for a trip file)")
    add_travel_arguments(lots)
    size = lots.add_mutually_exclusive_group(required=True)
    size.add_argument("--lots", type=int, help="how many lots")
    size.add_argument("--lot-size", type=int, help="the most vehicles in a lot; as few lots as that allows")
    lots.add_argument("--by", default="area",
                      help="what lots are kept apart by, comma-separated: area, time_band, vehicle_type (default area)")
    lots.add_argument("--school-days", type=int, help="school days in a year (default 190)")
    lots.add_argument("--other-days", type=int,
                      help="other days the all-year services run (default 63: 2026's weekdays out of term)")
    lots.add_argument("--term-time-services", help="services that run in term only, comma-separated "
                                                   "(default school,sen)")
    lots.add_argument("--driver-per-hour", type=float, help="operator's driver pay an hour (default 15.00)")
    lots.add_argument("--assistant-per-hour", type=float, help="operator's assistant pay an hour (default 12.71)")
    lots.add_argument("--minimum-paid-hours", type=float, help="least hours paid a duty (default 2)")
    lots.add_argument("--overhead-share", type=float, help="overheads as a share of direct costs (default 0.15)")
    lots.add_argument("--margin-share", type=float, help="operator's margin as a share (default 0.10)")
    lots.add_argument("--out", help="folder for the tender pack: index.html, lots.json, lots.csv, lots.md, "
                                    "lot-NN.html and lot-NN-schedule.csv, lots.gpkg and lots-map.html")
    lots.add_argument("--json", action="store_true", help="print the lots as one JSON object")
    lots.set_defaults(func=cmd_contracts_lots)


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
    add_lots_command(contracts_sub)
    add_models_command(contracts_sub)


def _money_by_name(texts, where: str) -> dict[str, float]:
    """``NAME=POUNDS`` flags as a mapping."""
    from optimiser.errors import InputFormatError

    out = {}
    for text in texts or []:
        name, _, value = text.rpartition("=")
        try:
            out[name.strip()] = float(value.replace(",", "").lstrip("£"))
        except ValueError:
            raise InputFormatError(f"{text!r} is not NAME=POUNDS (e.g. \"minibus=70000\")", where=where) from None
        if not name.strip():
            raise InputFormatError(f"{text!r} has no name before '='", where=where)
    return out


def cmd_contracts_models(args) -> int:
    import sys

    from optimiser.analysis.clock import read_shift_options
    from optimiser.analysis.operating_models import (CapitalPrices, OperatingModelOptions, compare_operating_models,
                                                     fixed_moves)
    from optimiser.domain.operator_costs import OperatorCostModel
    from optimiser.domain.register import read_register
    from optimiser.reporting.models_report import markdown, write_operating_models

    day = load_from_arguments(args)
    register = read_register(args.register, day.problem, complete=args.complete)
    moves = ()
    if args.shifts:
        moves = fixed_moves(read_shift_options(args.shifts, day.problem, names=day.place_names), args.shifts)
    cost_model = OperatorCostModel(driver_per_hour=args.driver_per_hour, assistant_per_hour=args.assistant_per_hour,
                                   minimum_paid_hours=args.minimum_paid_hours, overhead_share=args.overhead_share,
                                   margin_share=args.margin_share)
    capital = CapitalPrices(by_type=_money_by_name(args.vehicle_price, "--vehicle-price") or None,
                            life_years=args.vehicle_life_years, interest_rate=args.interest_rate)
    options = OperatingModelOptions(
        seeds=args.seeds, time_limit_s=args.seconds, workers=args.parallel, cost_model=cost_model, capital=capital,
        school_days=args.school_days, other_days=args.other_days,
        school_services=tuple(s.strip() for s in args.school_services.split(",") if s.strip()),
        models=tuple(m.strip() for m in args.models.split(",") if m.strip()), clock_moves=moves,
        in_house_fleet_factor=args.fleet_factor, sensitivity_step=args.sensitivity_step)

    with SolvesBar(sys.stderr.isatty() and not args.quiet) as on_progress:
        result = compare_operating_models(day.problem, register, options, on_progress=on_progress)
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(markdown(result))
    if args.out:
        for path in write_operating_models(result, args.out):
            if not args.json:
                print(f"wrote {path}")
    return 0


def add_models_command(contracts_sub) -> None:
    from optimiser.analysis.operating_models import MODELS

    models = contracts_sub.add_parser(
        "models", help="today's register, re-tendered routes, in-house and hybrid plans side by side, a year")
    models.add_argument("trips", help="trip file (CSV, GeoJSON, GeoPackage) or problem document (JSON)")
    models.add_argument("fleet", nargs="?", help="fleet file (CSV or JSON) for a trip file")
    add_travel_arguments(models)
    models.add_argument("--register", required=True, help="the contract register, CSV (docs/contracts.md)")
    models.add_argument("--complete", action="store_true",
                        help="the register holds every contract of the day: a trip on no contract is an error")
    models.add_argument("--seeds", type=int, default=3, help="solves of each model, one a seed (default 3)")
    models.add_argument("--seconds", type=float, default=20.0, help="time limit of each solve (default 20)")
    models.add_argument("--parallel", type=int, default=0, help="solves at once (default 0: one per core)")
    models.add_argument("--models", default=",".join(MODELS),
                        help=f"which models, comma-separated (default {','.join(MODELS)})")
    models.add_argument("--shifts", help="clock moves to price too (a shift file, one shift a destination, as "
                                         "the clock advisor reads): adds each solved model with the moves")
    models.add_argument("--school-days", type=int, default=190, help="days a year with every trip (default 190)")
    models.add_argument("--other-days", type=int, default=63,
                        help="other weekdays a year, without school trips (default 63: 2026's weekdays out of term)")
    models.add_argument("--school-services", default="school,sen",
                        help="services that run on school days only (default school,sen)")
    models.add_argument("--driver-per-hour", type=float, default=15.0, help="operator's driver pay (default 15.00)")
    models.add_argument("--assistant-per-hour", type=float, default=12.71,
                        help="operator's passenger assistant pay (default 12.71)")
    models.add_argument("--minimum-paid-hours", type=float, default=2.0,
                        help="least hours an operator pays for a duty (default 2)")
    models.add_argument("--overhead-share", type=float, default=0.15, help="operator's overheads (default 0.15)")
    models.add_argument("--margin-share", type=float, default=0.10, help="operator's margin (default 0.10)")
    models.add_argument("--fleet-factor", type=float, default=3.0,
                        help="in-house: each vehicle type up to this many times the vehicles held (default 3)")
    models.add_argument("--vehicle-price", action="append", metavar="TYPE=POUNDS",
                        help="price of a vehicle of a fleet type to buy (repeat; else by size)")
    models.add_argument("--vehicle-life-years", type=float, default=7.0,
                        help="years a vehicle's price is spread over (default 7)")
    models.add_argument("--interest-rate", type=float, default=0.0,
                        help="yearly interest on the capital (default 0: straight line)")
    models.add_argument("--sensitivity-step", type=float, default=0.20,
                        help="share each rate moves either way in the sensitivity (default 0.20)")
    models.add_argument("--out", help="folder for models.json, models.md, models.html, models.csv, seeds.csv, "
                                      "annual-cost.svg and tornado.svg")
    models.add_argument("--json", action="store_true", help="print the comparison as one JSON object")
    models.add_argument("--quiet", action="store_true", help="no progress bar")
    models.set_defaults(func=cmd_contracts_models)
