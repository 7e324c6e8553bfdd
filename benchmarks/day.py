"""A generated day solved at several seeds: ``itu bench day`` and ``make bench-day``.

Each seed is solved in a process of its own as ``itu solve`` runs, one after another: its cost,
vehicles, contracts, wall time and largest process, then the median and mean, and with
``against`` how far they are above that cost (issue 7's protocol: the median of five seeds,
because runs of one seed differ by up to 0.8% here).

The solves run the code this module was loaded from, whatever the working directory: Python
puts the working directory first on its path for ``-m``, so a copy of the code benchmarked from
the main checkout would otherwise quietly run the checkout's code.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from geodata.scenario import Scenario, generate_scenario, synthetic_area, write_scenario
from optimiser.errors import InputFormatError, ItuError
from optimiser.reporting.charts import cost_curve_chart

#: The folder whose code every solve runs: the one this module was loaded from.
CODE = Path(__file__).resolve().parent.parent

HEADER = (f"{'seed':>4s} {'cost':>10s} {'at 60 s':>10s} {'first plan s':>12s} {'vehicles':>8s} {'contracted':>10s} "
          f"{'unserved':>8s} {'wall s':>7s} {'largest GB':>10s}")


def code_environment() -> dict:
    """The environment of a child process that runs ``CODE``'s code, whatever the working directory."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(CODE), os.environ.get("PYTHONPATH")]))}


#: Called about twice a second while a seed is solved: (seed, seconds of every seed's time limit
#: gone so far, the seeds before this one's full limits included).
WaitCallback = Callable[[int, float], None]


@dataclass(frozen=True)
class DayBenchmark:
    """What to run: the day (``trips`` generated with ``scenario_seed`` in the built-in Rutland
    area), ``seconds`` and ``workers`` per solve, the solver's ``seeds``, and a cost to compare
    with (``against``, pounds). Everything is written under ``out``: the day, each seed's plan
    and log, ``summary.json`` and ``curves.svg``. Checks itself on construction."""

    out: Path
    trips: int = 2000
    scenario_seed: int = 1
    seconds: float = 300.0
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    workers: int = 2
    against: float | None = None

    def __post_init__(self):
        if self.seconds <= 0:
            raise InputFormatError("must be more than 0", where="seconds")
        if self.against is not None and self.against <= 0:
            raise InputFormatError("must be a cost in pounds, more than 0", where="against")
        if self.workers < 1:
            raise InputFormatError("must be at least 1", where="workers")
        if not self.seeds:
            raise InputFormatError("give at least one seed", where="seeds")
        object.__setattr__(self, "out", Path(self.out).resolve())
        object.__setattr__(self, "seeds", tuple(self.seeds))

    @property
    def day(self) -> Path:
        """The folder of the generated day (trips.csv, fleet.json, scenario.json)."""
        return self.out / "day"


def write_day(bench: DayBenchmark) -> tuple[Scenario, list[Path]] | None:
    """Generate and write the benchmark's day, unless it is there already (then None): the same
    day as ``itu scenario generate --trips N --seed S`` in the built-in area."""
    if (bench.day / "trips.csv").exists():
        return None
    scenario = generate_scenario(synthetic_area("rutland"), trips=bench.trips, seed=bench.scenario_seed)
    return scenario, write_scenario(scenario, bench.day)


def run_day(bench: DayBenchmark, *, on_row: Callable[[dict], None] | None = None,
            on_wait: WaitCallback | None = None) -> dict:
    """Solve the day (written first if it is not there) at each seed in turn and return the
    summary, also written to ``summary.json`` (with ``curves.svg``, each seed's best cost against
    time, when the searches found more than one plan). ``on_row`` takes each seed's row as soon
    as its solve ends. Raises ``ItuError`` naming the log of a solve that failed."""
    write_day(bench)
    rows, curves = [], {}
    done_s = 0.0
    for seed in bench.seeds:
        row, curve = solve_seed(bench, seed, on_wait=None if on_wait is None else
                                (lambda s, elapsed, before=done_s: on_wait(s, before + elapsed)))
        done_s += bench.seconds
        rows.append(row)
        curves[f"seed {seed}"] = curve
        if on_row is not None:
            on_row(row)
    summary = summarise(bench, rows)
    (bench.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if any(len(c) >= 2 for c in curves.values()):
        title = f"{bench.trips} trips, {bench.seconds:g} s: best cost found against time"
        lines = {} if bench.against is None else {f"£{bench.against:,.2f}": bench.against}
        (bench.out / "curves.svg").write_text(cost_curve_chart(title, curves, lines=lines).svg)
    return summary


def solve_seed(bench: DayBenchmark, seed: int, *, on_wait: Callable[[int, float], None] | None = None
               ) -> tuple[dict, list[tuple[float, float]]]:
    """One seed's solve by ``itu solve`` in a process of its own, with ``CODE`` first on its path:
    its row and its best cost against time. ``on_wait(seed, elapsed seconds)`` is called about
    twice a second while it runs."""
    folder = bench.out / f"seed-{seed}"
    command = [sys.executable, "-m", "service.cli", "solve", str(bench.day / "trips.csv"),
               str(bench.day / "fleet.json"), "--seconds", f"{bench.seconds:g}", "--workers", str(bench.workers),
               "--seed", str(seed), "--quiet", "--out", str(folder)]
    log_path = bench.out / f"seed-{seed}.log"
    started = time.monotonic()
    with open(log_path, "w") as log:
        child = subprocess.Popen(command, cwd=CODE, env=code_environment(), stdout=log, stderr=subprocess.STDOUT)
        while True:
            # the child's rusage: its own largest size, or its largest waited-for worker's (as
            # /usr/bin/time reports it)
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if on_wait is not None:
                on_wait(seed, time.monotonic() - started)
            time.sleep(0.5)
    wall = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise ItuError(f"the solve of seed {seed} failed: see {log_path}")
    plan = json.loads((folder / "plan.json").read_text())
    curve = [(float(t), float(c)) for t, c in plan["solver"].get("best_cost_over_time") or []]
    at_60 = [c for t, c in curve if t <= 60.0]
    vehicles = len({(r["vehicle_type"], r["vehicle_number"]) for r in plan["routes"]})
    row = {"seed": seed, "cost": round(plan["cost"]["total"], 2), "at_60_s": at_60[-1] if at_60 else None,
           "first_plan_s": plan["solver"].get("first_plan_s"),
           "vehicles": vehicles, "contracted": len(plan["contracted"]), "unserved": len(plan["unserved"]),
           "wall_s": round(wall, 1), "largest_process_gb": round(usage.ru_maxrss / 1024 ** 2, 2)}
    return row, curve


def summarise(bench: DayBenchmark, rows: Sequence[dict]) -> dict:
    """The runs with their median and mean cost, and with ``against`` how far those are above it
    in percent."""
    costs = [r["cost"] for r in rows]
    summary = {"code": str(CODE), "trips": bench.trips, "scenario_seed": bench.scenario_seed,
               "seconds": bench.seconds, "workers": bench.workers, "runs": list(rows),
               "median": round(statistics.median(costs), 2), "mean": round(statistics.fmean(costs), 2)}
    if bench.against is not None:
        summary["against"] = bench.against
        summary["median_above_percent"] = round(100.0 * (summary["median"] / bench.against - 1), 2)
        summary["mean_above_percent"] = round(100.0 * (summary["mean"] / bench.against - 1), 2)
    firsts = [r.get("first_plan_s") for r in rows]
    if firsts and None not in firsts:  # the first plan that placed or contracted every trip
        summary["first_plan_s_median"] = round(statistics.median(firsts), 1)
        summary["first_plan_s_latest"] = round(max(firsts), 1)
    return summary


def row_line(row: dict) -> str:
    """One seed's row in the table under ``HEADER``."""
    shown_60 = "" if row["at_60_s"] is None else f"{row['at_60_s']:.2f}"
    first = row.get("first_plan_s")
    shown_first = "" if first is None else f"{first:.1f}"
    return (f"{row['seed']:4d} {row['cost']:10.2f} {shown_60:>10s} {shown_first:>12s} {row['vehicles']:8d} "
            f"{row['contracted']:10d} "
            f"{row['unserved']:8d} {row['wall_s']:7.1f} {row['largest_process_gb']:10.2f}")


def summary_line(summary: dict) -> str:
    """The median and mean, and how far above ``against`` they are."""
    line = f"median £{summary['median']:,.2f}, mean £{summary['mean']:,.2f} of {len(summary['runs'])} seeds"
    if "against" in summary:
        line += (f"; above £{summary['against']:,.2f}: median {summary['median_above_percent']:.2f}%, "
                 f"mean {summary['mean_above_percent']:.2f}%")
    if "first_plan_s_median" in summary:
        line += (f"; first complete plan after {summary['first_plan_s_median']:.1f} s (median), "
                 f"{summary['first_plan_s_latest']:.1f} s at the latest")
    return line
