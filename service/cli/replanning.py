"""``itu replan``: re-plan a published day after changes, with the least disruption
(optimiser/analysis/replan.py; docs/replanning.md)."""
from __future__ import annotations

import csv
import json
import tempfile
from dataclasses import replace
from pathlib import Path

from geodata.files import load_day
from optimiser.errors import InputFormatError


def read_json(path: str, what: str):
    try:
        return json.loads(Path(path).read_text())
    except OSError as exc:
        raise InputFormatError(f"cannot read the {what}: {exc.strerror}", where=path) from None
    except ValueError as exc:
        raise InputFormatError(f"the {what} is not JSON: {exc}", where=path) from None


def load_day_with_added(trips_path: str, fleet_path: str, document) -> tuple:
    """The published day's problem, and the trips the ``add`` changes bring by id: their rows are
    read with the trip file's so that the travel times reach their places too."""
    rows = [c.get("trip") for c in (document.get("changes") or []) if isinstance(c, dict) and c.get("kind") == "add"]
    if not rows:
        return load_day(trips_path, fleet_path).problem, {}
    for k, row in enumerate(rows):
        if not isinstance(row, dict) or not row.get("id"):
            raise InputFormatError("an added trip is a trip file's row as an object with an id", where=f"add[{k}].trip")
    with open(trips_path, newline="") as f:
        reader = csv.DictReader(f)
        columns, existing = list(reader.fieldnames or []), list(reader)
    unknown = sorted({c for row in rows for c in row} - set(columns))
    if unknown:
        raise InputFormatError(f"unknown column {unknown[0]!r} in an added trip; the trip file's columns are "
                               f"{', '.join(columns)}", where="changes")
    with tempfile.TemporaryDirectory(prefix="itu-replan-") as folder:
        combined = Path(folder) / Path(trips_path).name
        with combined.open("w", newline="") as f:
            writer = csv.DictWriter(f, columns)
            writer.writeheader()
            writer.writerows(existing + rows)
        problem = load_day(combined, fleet_path).problem
    ids = {str(row["id"]) for row in rows}
    added = {t.id: t for t in problem.trips if t.id in ids}
    return replace(problem, trips=tuple(t for t in problem.trips if t.id not in ids)), added


def cmd_replan(args) -> int:
    from optimiser import SolveOptions
    from optimiser.analysis.replan import (DisruptionPrices, ReplanOptions, changes_from_document, plan_from_document,
                                           replan, write_replan)

    plan_document = read_json(args.plan, "plan")
    change_document = read_json(args.changes, "changes")
    if not isinstance(change_document, dict):
        raise InputFormatError("expected an object with now and changes", where=args.changes)
    problem, added = load_day_with_added(args.trips, args.fleet, change_document)
    if isinstance(plan_document, dict) and isinstance(plan_document.get("problem"), str):
        problem = replace(problem, name=plan_document["problem"])  # not the temporary file's name
    published = plan_from_document(plan_document, problem, where=args.plan)
    changes = changes_from_document(change_document, problem, published, added)
    options = ReplanOptions(prices=DisruptionPrices(args.moved_vehicle_price, args.moved_pickup_price,
                                                    args.tolerance_minutes * 60.0),
                            resolve=args.resolve, solve=SolveOptions(time_limit_s=args.seconds, seed=args.seed))
    result = replan(problem, published, changes, options)
    print(result.markdown())
    if args.out:
        for path in write_replan(result, args.out):
            print(f"wrote {path}")
    return 0


def add_commands(sub) -> None:
    rp = sub.add_parser("replan", help="re-plan a published day after changes, with the least disruption")
    rp.add_argument("plan", help="plan.json as itu solve --out writes it (read, never written)")
    rp.add_argument("changes", help="changes JSON (docs/replanning.md)")
    rp.add_argument("--trips", required=True, help="the trip file the plan was made from (plan.json does not carry it)")
    rp.add_argument("--fleet", required=True, help="the fleet file the plan was made from")
    rp.add_argument("--seconds", type=float, default=10.0, help="time limit of the full search (with --resolve)")
    rp.add_argument("--seed", type=int, default=0)
    rp.add_argument("--resolve", action="store_true",
                    help="also search the whole day from the repaired routes; keep it if cheaper, disruption included")
    rp.add_argument("--moved-vehicle-price", type=float, default=20.0, help="£ per passenger on another vehicle")
    rp.add_argument("--moved-pickup-price", type=float, default=10.0, help="£ per pickup moved beyond the tolerance")
    rp.add_argument("--tolerance-minutes", type=float, default=10.0, help="pickup tolerance (default 10)")
    rp.add_argument("--out", help="folder for replan.json, calls.csv, replan.md and the new plan.json")
    rp.set_defaults(func=cmd_replan)
