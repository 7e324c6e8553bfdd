"""A generated week planned with consistent routes: ``itu bench week``.

Issue 34's protocol, at a size this machine plans in minutes: a week of five weekdays generated
from one day (``itu scenario generate --days 5``: 80% of the passengers regular), then, at each
solver seed,

- each day planned alone (the reference: its cost is what consistency is priced against, and its
  vehicles matched to Monday's give the ``independent`` method's continuity), each day given an
  equal share of the search the week's own plans have (``WeekOptions.alone_solve``);
- the ``template`` method with its default consistency (school, SEN and social care);
- the ``template`` method with school pupils preferred (planned in the template and started there
  each day, free to move where it pays) and SEN and social care held: a second point of the
  trade-off between continuity and cost;
- the ``template`` method with SEN and social care only (school pupils planned afresh each day):
  a third.

Each row: the week's cost, the premium over the days planned alone, and the share of regular SEN and
social-care passengers on one vehicle all week with every pickup within ±10 minutes of one time,
measured by the checker's week extension from the plans (which also passes every day's plan).
"""
from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from optimiser import SolveOptions
from optimiser.analysis.week import WeekOptions, consistency_with, plan_week
from optimiser.checker_week import check_week, measure_week

TARGET_SERVICES = ("sen", "social_care")
HEADER = (f"{'method':44s} {'seed':>4s} {'week £':>10s} {'alone £':>10s} {'premium':>8s} "
          f"{'SEN+care consistent':>19s} {'school':>7s} {'largest spread':>14s} {'checked':>7s} {'seconds':>7s}")


@dataclass(frozen=True)
class WeekRow:
    method: str
    seed: int
    cost: float
    alone: float
    #: Regular SEN and social-care passengers on one vehicle all week within ±tolerance, re-measured.
    consistent_share: float
    largest_spread_minutes: float
    checked: bool
    seconds: float
    #: The same share for regular school pupils (not in the target, but what the school rule costs them).
    school_share: float = 1.0

    @property
    def premium(self) -> float:
        return self.cost / self.alone - 1

    def line(self) -> str:
        return (f"{self.method:44s} {self.seed:4d} {self.cost:10.2f} {self.alone:10.2f} {100 * self.premium:+7.2f}% "
                f"{100 * self.consistent_share:18.1f}% {100 * self.school_share:6.1f}% "
                f"{self.largest_spread_minutes:13.1f}m {str(self.checked):>7s} {self.seconds:7.0f}")

    def as_dict(self) -> dict:
        return {"method": self.method, "seed": self.seed, "cost": round(self.cost, 2), "alone": round(self.alone, 2),
                "premium": round(self.premium, 5), "consistent_share": round(self.consistent_share, 4),
                "school_share": round(self.school_share, 4),
                "largest_spread_minutes": round(self.largest_spread_minutes, 1), "checked": self.checked,
                "seconds": round(self.seconds, 1)}


def _row(method: str, seed: int, week, plans, alone_cost: float, seconds: float, tolerance_minutes: float = 10.0,
         claims=None) -> WeekRow:
    report = check_week(week.days, week.problems, plans, week.passenger_of, claims)
    measured = measure_week(week.days, week.problems, plans, week.passenger_of).values()

    def steady(people) -> float:
        good = sum(1 for p in people if p["one_vehicle"] and p["spread_minutes"] <= 2 * tolerance_minutes + 0.05)
        return good / len(people) if people else 1.0

    people = [p for p in measured if p["service"] in TARGET_SERVICES]
    return WeekRow(method, seed, sum(p.cost.total for p in plans.values()), alone_cost, steady(people),
                   max((p["spread_minutes"] for p in people), default=0.0), report.feasible, seconds,
                   steady([p for p in measured if p["service"] == "school"]))


def run_week_benchmark(*, trips: int, scenario_seed: int, seconds: float, seeds: tuple[int, ...], workers: int,
                       day_out: str | None = None):
    """Yields the week (``geodata.week.LoadedWeek``), then one ``WeekRow`` per method and seed."""
    from geodata.scenario import generate_week, synthetic_area, write_scenario
    from geodata.week import load_week

    folder = Path(day_out or tempfile.mkdtemp(prefix="itu-bench-week-"))
    scenario = generate_week(synthetic_area("rutland"), trips=trips, days=5, seed=scenario_seed)
    trips_path, fleet_path, _ = write_scenario(scenario, folder)
    loaded = load_week(trips_path, fleet_path)
    yield loaded
    week = loaded.week
    care_only = consistency_with(free=["school"])  # SEN and social care kept, the rest free
    school_preferred = consistency_with(preferred=["school"])
    for seed in seeds:
        solve_options = SolveOptions(time_limit_s=seconds, seed=seed, workers=workers)
        start = time.monotonic()
        default = plan_week(week, WeekOptions(solve=solve_options))
        elapsed = time.monotonic() - start
        alone = default.independent
        alone_cost = default.independent_cost
        yield _row("independent, vehicles matched", seed, week, alone, alone_cost, 0.0)
        yield _row("template: school, SEN, social care", seed, week, default.plans, alone_cost, elapsed,
                   claims=default.continuity)
        start = time.monotonic()
        preferred = plan_week(week, WeekOptions(solve=solve_options, consistency=school_preferred), alone=alone)
        yield _row("template: SEN, social care; school preferred", seed, week, preferred.plans, alone_cost,
                   time.monotonic() - start, claims=preferred.continuity)
        start = time.monotonic()
        narrow = plan_week(week, WeekOptions(solve=solve_options, consistency=care_only), alone=alone)
        yield _row("template: SEN, social care", seed, week, narrow.plans, alone_cost, time.monotonic() - start,
                   claims=narrow.continuity)


def summary_lines(rows: list[WeekRow]) -> list[str]:
    lines = []
    for method in dict.fromkeys(r.method for r in rows):
        mine = [r for r in rows if r.method == method]
        lines.append(f"{method}: median premium {100 * statistics.median(r.premium for r in mine):+.2f}%, median "
                     f"SEN+care consistent {100 * statistics.median(r.consistent_share for r in mine):.1f}% over "
                     f"{len(mine)} seeds")
    return lines
