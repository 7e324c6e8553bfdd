"""The clock advisor on a day with its shift file: ``itu bench clock`` and ``make bench-clock``.

Runs ``advise_clock`` and prints the recommendation, its saving (median and spread over the
seeds), the vehicles saved, the passenger impact and the wall time; then a plain sweep of one
move at a time (every move the shift file offers, each solved once with the first seed and the
same settings) and the sweep's best move confirmed over the same seeds. The advisor should beat or
equal the best single move.

``write_generated_day`` makes the county-sized day of the issue's target instead of the bundled one:
a day of the product's own generator (as ``itu bench day`` makes it) and its shift file, every school
and day centre offered ``-30`` to ``+30`` minutes in 5-minute steps.
"""
from __future__ import annotations

import csv
import statistics
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from geodata.files import load_day
from optimiser.analysis.clock import (ClockAdvice, ClockOptions, advise_clock, apply_moves, candidate_moves,
                                      full_solve, read_shift_options)
from optimiser.checker import check_plan
from optimiser.errors import PlanCheckError


#: The services whose destinations are schools or centres (a hospital or clinic appointment does
#: not move with a council's agreement, so nept's destinations are not offered).
MOVABLE_SERVICES = ("school", "sen", "social_care")


def write_generated_day(folder: str | Path, trips: int, scenario_seed: int, *, minutes: int = 30,
                        step: int = 5) -> tuple[Path, Path, Path]:
    """Generate the day of ``itu scenario generate --trips N --seed S`` (the built-in Rutland area)
    into ``folder``, with ``shifts.csv`` offering every school and day centre ``-minutes`` to
    ``+minutes`` in ``step``-minute steps: (trips.csv, fleet.json, shifts.csv)."""
    from geodata.scenario import generate_scenario, synthetic_area, write_scenario

    folder = Path(folder)
    trips_path, fleet_path = folder / "trips.csv", folder / "fleet.json"
    write_scenario(generate_scenario(synthetic_area("rutland"), trips=trips, seed=scenario_seed), folder)
    day = load_day(trips_path, fleet_path)
    # the afternoon's trips of these services end at homes (``home_...``), which do not move
    places = sorted({t.dropoff for t in day.problem.trips
                     if t.service in MOVABLE_SERVICES and not t.dropoff.startswith("home_")})
    shifts_path = folder / "shifts.csv"
    with shifts_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("destination", "from_minutes", "to_minutes", "step_minutes", "trips"))
        for place in places:
            writer.writerow((day.place_names.get(place, place), -minutes, minutes, step, "both"))
    return trips_path, fleet_path, shifts_path


@dataclass
class ClockBenchmark:
    advice: ClockAdvice
    advisor_s: float
    sweep_s: float = 0.0
    #: The sweep's best move, its saving with the first seed and over every seed (median, min, max).
    sweep_best: str | None = None
    sweep_first_seed: float | None = None
    sweep_saving: dict = field(default_factory=dict)
    moves_swept: int = 0
    sweep_by: str = "full"

    def lines(self) -> list[str]:
        a = self.advice.to_dict()
        s = a["saving"] or {}
        out = [f"recommendation: {'; '.join(m['description'] for m in a['moves']) or 'move nothing'}",
               f"saving: £{s.get('median', 0):.2f} a day median of {len(s.get('by_seed', []))} seeds "
               f"(£{s.get('min', 0):.2f} to £{s.get('max', 0):.2f}), {s.get('percent')}% of £{a['before']['cost']:.2f}",
               f"vehicles: {a['before']['vehicles']} -> {a['after']['vehicles']}; peak on the road "
               f"{a['before']['peak_vehicles']} -> {a['after']['peak_vehicles']}",
               f"advisor wall time: {self.advisor_s:.0f} s ({a['search']['screening_solves']} scoring solves, "
               f"{a['search']['full_solves']} full solves)"]
        for service, before in a["passengers"]["before"].items():
            after = a["passengers"]["after"].get(service, {})
            out.append(f"  {service}: ride mean {before['ride_minutes_mean']} -> {after.get('ride_minutes_mean')} min, "
                       f"earliest pickup {before['earliest_pickup']} -> {after.get('earliest_pickup')}, before 07:15 "
                       f"{before['share_picked_up_before_0715']} -> {after.get('share_picked_up_before_0715')}")
        for c in a["curve"]:
            if c["saving"]:
                out.append(f"  best {c['moves']} move(s): £{c['saving']['median']:.2f} "
                           f"({'; '.join(m['description'] for m in c['set']) or 'as it is'})")
        if self.sweep_best:
            sw = self.sweep_saving
            how = "by the scoring solve" if self.sweep_by == "scoring" else "with seed 0"
            out.append(f"plain sweep of {self.moves_swept} single moves ({self.sweep_s:.0f} s): best "
                       f"{self.sweep_best}, £{self.sweep_first_seed:.2f} {how}, £{sw['median']:.2f} median of "
                       f"the seeds (£{sw['min']:.2f} to £{sw['max']:.2f})")
            verdict = "beats or equals" if s.get("median", 0) >= sw["median"] - 1e-6 else "falls short of"
            out.append(f"the advisor {verdict} the best single move")
        return out


def run_clock_benchmark(trips: str, fleet: str, shifts: str, options: ClockOptions, *, sweep: bool = True,
                        sweep_by: str = "full", sweep_step: int | None = None, on_progress=None) -> ClockBenchmark:
    """The advisor, then the plain sweep of one move at a time. ``sweep_by``: "full" solves each
    move once with seed 0 and the confirming settings; "scoring" (for a county-sized day, where a
    full solve per move is too dear) scores each with the advisor's own scoring solve from the same
    incumbent, against that incumbent re-searched alike. ``sweep_step``: only the moves of a whole
    number of that many minutes. Either way the sweep's best is then solved in full at every seed."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    day = load_day(trips, fleet)
    problem = day.problem
    shift_options = read_shift_options(shifts, problem, names=day.place_names)
    started = time.monotonic()
    advice = advise_clock(problem, shift_options, options, on_progress=on_progress)
    result = ClockBenchmark(advice, time.monotonic() - started)
    # every plan the advisor reports passes the independent checker, each against its own day
    for day_problem, plan in ((problem, advice.baseline_plan),
                              (apply_moves(problem, advice.moves), advice.recommended_plan)):
        report = check_plan(day_problem, plan)
        if not report.feasible:
            raise PlanCheckError("a reported plan fails the checker: " + "; ".join(report.violations[:3]))
    if not sweep:
        return result
    moves, _ = candidate_moves(problem, shift_options)
    if sweep_step:
        moves = [m for m in moves if m.minutes % sweep_step == 0]
    started = time.monotonic()
    with ProcessPoolExecutor(max_workers=options.workers or None,
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        if sweep_by == "scoring":
            savings = scoring_sweep(problem, moves, options, pool)
        else:
            first = options.solve_options(0)
            base = full_solve(problem, (), first).cost.total
            costs = list(pool.map(full_solve, [problem] * len(moves), [(m,) for m in moves], [first] * len(moves)))
            savings = [base - p.cost.total for p in costs]
        best = max(range(len(moves)), key=lambda k: savings[k])
        seeds = range(options.seeds)
        moved = list(pool.map(full_solve, [problem] * options.seeds, [(moves[best],)] * options.seeds,
                              [options.solve_options(s) for s in seeds]))
        unmoved = list(pool.map(full_solve, [problem] * options.seeds, [()] * options.seeds,
                                [options.solve_options(s) for s in seeds]))
    per_seed = [u.cost.total - m.cost.total for u, m in zip(unmoved, moved)]
    result.sweep_s = time.monotonic() - started
    result.sweep_best = moves[best].describe(shift_options.names)
    result.sweep_first_seed = savings[best]
    result.sweep_saving = {"median": statistics.median(per_seed), "min": min(per_seed), "max": max(per_seed)}
    result.moves_swept = len(moves)
    result.sweep_by = sweep_by
    return result


def scoring_sweep(problem, moves, options: ClockOptions, pool) -> list[float]:
    """Each move's saving by the advisor's scoring solve: the incumbent is the unmoved day solved
    with four times ``screen_rounds`` (as the advisor makes it), each move re-places its trips in
    the incumbent's routes and searches ``screen_rounds`` rounds, against the incumbent searched
    alike with nothing moved."""
    from optimiser.analysis.clock import screen_solve
    from optimiser.domain.plan import route_order

    screen = options.scoring_options()
    base = full_solve(problem, (), options.incumbent_options())
    routes = [route_order(problem, r) for r in base.routes]
    reference = screen_solve(problem, (), routes, (), screen, options.objective)["cost"]
    results = pool.map(screen_solve, [problem] * len(moves), [(m,) for m in moves], [routes] * len(moves),
                       [(m,) for m in moves], [screen] * len(moves), [options.objective] * len(moves))
    return [reference - r["cost"] for r in results]


@dataclass
class ExhaustiveCheck:
    """The advisor's pick against every combination of a few destinations' options."""

    combinations: int
    best: tuple
    best_median: float
    baseline_median: float
    advised: tuple
    advised_median: float
    advisor_s: float
    exhaustive_s: float
    spread: float

    def lines(self) -> list[str]:
        describe = lambda moves: "; ".join(m.describe() for m in moves) or "as it is"  # noqa: E731
        gap = self.advised_median - self.best_median
        return [f"every combination: {self.combinations} solved ({self.exhaustive_s:.0f} s); best {describe(self.best)}, "
                f"£{self.best_median:.2f} median (unmoved £{self.baseline_median:.2f})",
                f"the advisor ({self.advisor_s:.0f} s): {describe(self.advised)}, £{self.advised_median:.2f} median; "
                f"£{gap:.2f} above the best, against a seed spread of £{self.spread:.2f} for that set: "
                + ("equal within the spread" if gap <= self.spread + 1e-6 else "NOT within the spread")]


def run_exhaustive_check(trips: int = 60, scenario_seed: int = 3, destinations: int = 4,
                         minutes: tuple = (-30, -15, 15, 30), options: ClockOptions | None = None) -> ExhaustiveCheck:
    """On a small generated day, the busiest ``destinations`` each offered ``minutes`` (and no
    shift): every combination solved with the advisor's confirming settings and seeds, against the
    advisor's recommendation (5 options for 4 destinations: 625 combinations)."""
    import itertools
    import multiprocessing
    from collections import Counter
    from concurrent.futures import ProcessPoolExecutor

    import tempfile

    from geodata.scenario import generate_scenario, synthetic_area, write_scenario
    from optimiser.analysis.clock import Move, shift_options_from_rows

    options = options or ClockOptions(time_limit_s=30, seeds=3, max_rounds=2000, screen_rounds=500)
    # the plain optimum is what every combination is searched for: no threshold per move
    options = replace(options, least_share_per_move=0.0, least_saving_per_move=0.0)
    with tempfile.TemporaryDirectory(prefix="itu-clock-") as folder:
        write_scenario(generate_scenario(synthetic_area("rutland"), trips=trips, seed=scenario_seed), folder)
        problem = load_day(Path(folder) / "trips.csv", Path(folder) / "fleet.json").problem
    busiest = Counter(t.dropoff for t in problem.trips if t.service in ("school", "sen", "social_care"))
    places = [place for place, _ in busiest.most_common(destinations)]
    rows = [(k + 2, {"destination": place, "from_minutes": min(minutes), "to_minutes": max(minutes),
                     "step_minutes": abs(minutes[1] - minutes[0])}) for k, place in enumerate(places)]
    shifts = shift_options_from_rows(rows, problem)
    started = time.monotonic()
    advice = advise_clock(problem, shifts, options)
    advisor_s = time.monotonic() - started
    choices = [[None] + [Move(place, float(m)) for m in minutes] for place in places]
    combos = [tuple(sorted(m for m in combo if m is not None)) for combo in itertools.product(*choices)]
    started = time.monotonic()
    calls = [(combo, seed) for combo in combos for seed in range(options.seeds)]
    with ProcessPoolExecutor(max_workers=options.workers or None,
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        costs = list(pool.map(_cost_of, [problem] * len(calls), [c for c, _ in calls],
                              [options.solve_options(seed) for _, seed in calls], chunksize=8))
    by_combo: dict[tuple, list[float]] = {}
    for (combo, _), cost in zip(calls, costs):
        by_combo.setdefault(combo, []).append(cost)
    medians = {combo: statistics.median(values) for combo, values in by_combo.items()}
    best = min(medians, key=lambda c: (medians[c], len(c)))
    advised = tuple(sorted(advice.moves))
    advised_costs = by_combo[advised]
    return ExhaustiveCheck(len(combos), best, medians[best], medians[()], advised, medians[advised], advisor_s,
                           time.monotonic() - started, max(advised_costs) - min(advised_costs))


def _cost_of(problem, moves, options) -> float:
    return full_solve(problem, moves, options).cost.total
