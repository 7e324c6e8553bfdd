"""Re-planning a published day: ``itu bench replan`` and ``make bench-replan``.

Issue 34's protocol: a generated day (500 trips by default) is planned once and published; then,
at each seed, two kinds of change arrive and the day is re-planned from the published plan:

- **vehicle off**: at 07:30 one vehicle leaves the road (the seed's choice among the vehicles with
  trips after 07:30 and nobody on board at 07:30); now is 07:30;
- **cancel and add**: 20 trips cancelled and 10 new ones added (copies of other trips of the day:
  real places and windows, new ids), chosen by the seed; now is before the first pickup.

Each row: the re-plan's wall time, whether the independent checker accepts the new plan, the calls
a dispatcher must make, and how many passengers the change did not touch were moved anyway (to
another vehicle, or their pickup beyond the tolerance): the repair only moves them where that pays
for itself under the disruption price.
"""
from __future__ import annotations

import random
import statistics
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from optimiser import SolveOptions, check_plan, solve
from optimiser.analysis.replan import Published, ReplanOptions, changes_from_document, replan
from optimiser.domain.model import format_clock
from optimiser.errors import InputFormatError

HEADER = (f"{'change':16s} {'seed':>4s} {'seconds':>7s} {'feasible':>8s} {'calls':>5s} {'touched':>7s} "
          f"{'others moved':>12s} {'cost before':>11s} {'cost after':>10s} {'disruption':>10s}")

VEHICLE_OFF_AT = "07:30"


@dataclass(frozen=True)
class ReplanRow:
    change: str
    seed: int
    seconds: float
    feasible: bool
    calls: int
    #: Trips the change itself touches: cancelled, added, or on the vehicle off the road after its time.
    touched: int
    #: Passengers the change did not touch who were moved anyway (another vehicle, or their pickup
    #: beyond the tolerance).
    others_moved: int
    published_cost: float
    cost: float
    disruption: float

    def line(self) -> str:
        return (f"{self.change:16s} {self.seed:4d} {self.seconds:7.2f} {str(self.feasible):>8s} {self.calls:5d} "
                f"{self.touched:7d} {self.others_moved:12d} {self.published_cost:11.2f} {self.cost:10.2f} "
                f"{self.disruption:10.2f}")

    def as_dict(self) -> dict:
        return {"change": self.change, "seed": self.seed, "seconds": round(self.seconds, 3),
                "feasible": self.feasible, "calls": self.calls, "touched": self.touched,
                "others_moved": self.others_moved, "published_cost": round(self.published_cost, 2),
                "cost": round(self.cost, 2), "disruption": round(self.disruption, 2)}


def vehicle_off_document(plan, seed: int, at: str = VEHICLE_OFF_AT) -> tuple[dict, set[str]]:
    """One vehicle off the road from ``at`` (now), chosen by ``seed`` among those with trips after
    ``at`` and nobody on board then; and the trips that takes off it."""
    from optimiser.domain.model import parse_clock

    at_s = parse_clock(at, where="at")
    published = Published.of(plan)
    on_board = {vehicle for trip_id, vehicle in published.vehicle.items()
                if published.pickup_s[trip_id] < at_s < published.dropoff_s[trip_id]}
    after: dict[tuple[str, int], set[str]] = {}
    for trip_id, vehicle in published.vehicle.items():
        if vehicle not in on_board and published.pickup_s[trip_id] >= at_s:
            after.setdefault(vehicle, set()).add(trip_id)
    eligible = sorted(after.items())
    if not eligible:
        raise InputFormatError(f"no vehicle has trips after {at} and nobody on board then", where="day")
    (vehicle_type, number), trips = random.Random(seed).choice(eligible)
    return ({"now": at, "changes": [{"kind": "vehicle_off", "vehicle_type": vehicle_type, "vehicle_number": number,
                                     "from": at}]}, trips)


def cancel_and_add_document(problem, plan, seed: int, cancel: int = 20, add: int = 10) -> tuple[dict, dict, set[str]]:
    """``cancel`` trips cancelled and ``add`` new ones (copies of other trips, new ids), chosen by
    ``seed``, now before the day's first pickup: (the document, the added trips by id, the trips touched)."""
    rng = random.Random(seed)
    trips = sorted(problem.trips, key=lambda t: t.id)
    cancelled = rng.sample(trips, cancel)
    copies = rng.sample([t for t in trips if t not in cancelled], add)
    added = {f"added-{seed}-{k}": replace(t, id=f"added-{seed}-{k}") for k, t in enumerate(copies)}
    first = min(s.service_start_s for r in plan.routes for s in r.stops) if plan.routes else 0.0
    now = format_clock(max(0.0, first - 60.0))
    document = {"now": now, "changes": [{"kind": "cancel", "trip_id": t.id} for t in cancelled]
                + [{"kind": "add", "trip": {"id": trip_id}} for trip_id in added]}
    return document, added, {t.id for t in cancelled} | set(added)


def others_moved(plan_before, plan_after, touched: set[str], tolerance_s: float) -> int:
    """Passengers outside ``touched`` carried by another vehicle, or picked up beyond the tolerance."""
    before, after = Published.of(plan_before), Published.of(plan_after)
    moved = 0
    for trip_id, vehicle in before.vehicle.items():
        if trip_id in touched:
            continue
        if after.vehicle.get(trip_id) != vehicle or \
                abs(after.pickup_s.get(trip_id, float("inf")) - before.pickup_s[trip_id]) > tolerance_s:
            moved += 1
    return moved


def run_replan_benchmark(trips: int = 500, scenario_seed: int = 1, publish_seconds: float = 60.0,
                         seeds: tuple[int, ...] = (0, 1, 2), options: ReplanOptions | None = None,
                         workers: int = 2, day_out: str | Path | None = None):
    """The published plan of the generated day, then the rows as each re-plan ends (a generator:
    ``list(...)`` for all). The first item is the published plan itself."""
    from geodata.files import load_day
    from geodata.scenario import generate_scenario, synthetic_area, write_scenario

    options = options or ReplanOptions()
    folder = Path(day_out) if day_out else Path(tempfile.mkdtemp(prefix="itu-replan-"))
    folder.mkdir(parents=True, exist_ok=True)
    write_scenario(generate_scenario(synthetic_area("rutland"), trips=trips, seed=scenario_seed), folder)
    problem = load_day(folder / "trips.csv", folder / "fleet.json").problem
    published = solve(problem, SolveOptions(time_limit_s=publish_seconds, workers=workers, seed=0))
    yield published
    for seed in seeds:
        document, touched = vehicle_off_document(published, seed)
        yield _row("vehicle off", seed, problem, published, document, {}, touched, options)
        document, added, touched = cancel_and_add_document(problem, published, seed)
        yield _row("cancel and add", seed, problem, published, document, added, touched, options)


def _row(change: str, seed: int, problem, published, document: dict, added: dict, touched: set[str],
         options: ReplanOptions) -> ReplanRow:
    started = time.monotonic()
    changes = changes_from_document(document, problem, published, added)
    result = replan(problem, published, changes, options)
    seconds = time.monotonic() - started
    feasible = check_plan(result.problem, result.plan).feasible
    return ReplanRow(change, seed, seconds, feasible, len(result.calls), len(touched),
                     others_moved(published, result.plan, touched, options.prices.tolerance_s),
                     published.cost.total, result.plan.cost.total, result.disruption)


def summary_lines(rows: list[ReplanRow]) -> list[str]:
    """Per change: the median and largest wall time, plans accepted, and passengers moved who were not touched."""
    lines = []
    for change in dict.fromkeys(r.change for r in rows):
        group = [r for r in rows if r.change == change]
        lines.append(f"{change}: median {statistics.median(r.seconds for r in group):.2f} s, largest "
                     f"{max(r.seconds for r in group):.2f} s; {sum(r.feasible for r in group)} of {len(group)} "
                     f"plans accepted by the checker; untouched passengers moved: "
                     f"{', '.join(str(r.others_moved) for r in group)}")
    return lines
