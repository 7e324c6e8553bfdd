"""Generated days of one half, solved with the search's defaults and, given settings, with a
change: ``itu bench days`` and ``make bench-days``.

The published families say how the search does on small whole-day instances; a council's own day
is larger, and the large-day search was tuned on one generated day. So generated days are split
too (``benchmarks/families.py``: scenario seed 1 for tuning, seed 2 for validation), and a change
to the search is kept only if it also helps the validation days. No best-known costs exist for
them: a change is measured against the defaults on the same day, seed and time limit, solved in
turns (defaults, then the change, seed by seed) so that both meet the same machine.

Each solve runs in a process of its own, as ``itu solve`` runs it (our own first routes, ruin and
recreate, the strategy chosen by the day's size), with the code of the checkout this module is in
as it stands when that solve starts (the commit is recorded, and the run stops if that code changes), and
its plan goes through the independent checker. Run it from the project's folder:

    itu bench days --half validation --seconds 60 --seeds 0 1 2 --set ruin_recreate.forced_rounds=0.1
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from benchmarks.day import CODE, code_environment
from benchmarks.families import GeneratedDay, generated_days
from optimiser.errors import InputFormatError, ItuError, ProblemError


DEFAULTS = "defaults"
CHANGED = "changed"


@dataclass(frozen=True)
class DaysBenchmark:
    """What to run: the generated ``days`` (by default those of ``half``), ``seconds`` and
    ``workers`` per solve, the solver's ``seeds``, and ``settings`` (``GROUP.NAME=VALUE``) for the
    change measured against the defaults (none: the defaults alone). Everything is written under
    ``out``: each day, each solve's figures and log, ``runs.jsonl`` (a line a solve, as it ends)
    and ``summary.json``."""

    out: Path
    half: str = "validation"
    seconds: float = 60.0
    seeds: tuple[int, ...] = (0, 1, 2)
    workers: int = 2
    settings: tuple[str, ...] = ()
    days: tuple[GeneratedDay, ...] | None = None

    def __post_init__(self):
        if self.half not in ("tuning", "validation"):
            raise InputFormatError("must be tuning or validation", where="half")
        if not (math.isfinite(self.seconds) and self.seconds > 0):
            raise InputFormatError("must be a number of seconds, more than 0", where="seconds")
        if self.workers < 1:
            raise InputFormatError("must be at least 1", where="workers")
        if not self.seeds:
            raise InputFormatError("give at least one seed", where="seeds")
        if len(set(self.seeds)) < len(self.seeds):
            raise InputFormatError("each seed once: a seed's two solves are paired by it", where="seeds")
        if self.settings:
            from benchmarks.parameters import search_parameters

            try:  # a setting that cannot be read, or that the parameters refuse, fails here, not after an hour
                search_parameters(self.settings)
            except ProblemError as exc:
                raise InputFormatError(f"{' '.join(self.settings)}: {exc.message}", where="--set") from None
        object.__setattr__(self, "out", Path(self.out).resolve())
        object.__setattr__(self, "seeds", tuple(self.seeds))
        object.__setattr__(self, "settings", tuple(self.settings))
        object.__setattr__(self, "days", tuple(self.days if self.days is not None else generated_days(self.half)))

    @property
    def variants(self) -> tuple[str, ...]:
        return (DEFAULTS, CHANGED) if self.settings else (DEFAULTS,)


#: The folders whose code a solve runs: a change to anything else (the reports, say) during a run
#: does not make its solves run different code.
CODE_FOLDERS = ("optimiser", "geodata", "benchmarks")


def _git(*args: str, root: Path = CODE) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()


def code_commit() -> str:
    """The checkout's commit, with "+changes" when the code a solve runs differs from it
    ("unknown" outside a git checkout)."""
    try:
        head = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no", "--", *CODE_FOLDERS)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+changes" if dirty else "")


def code_state(root: Path = CODE) -> str:
    """What the solves' code is in the checkout at ``root``: the committed trees of
    ``CODE_FOLDERS`` and any change to them not committed; the same whatever else is committed
    or edited."""
    try:
        return _git("rev-parse", *(f"HEAD:{folder}" for folder in CODE_FOLDERS), root=root) + _git(
            "diff", "HEAD", "--", *CODE_FOLDERS, root=root)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def day_folder(bench: DaysBenchmark, day: GeneratedDay) -> Path:
    return bench.out / day.name


def write_day(bench: DaysBenchmark, day: GeneratedDay) -> bool:
    """Generate and write ``day`` under ``out`` unless it is there already (its ``scenario.json``,
    written last, says so); True if written."""
    from geodata.scenario import generate_scenario, synthetic_area, write_scenario

    folder = day_folder(bench, day)
    if (folder / "scenario.json").exists():
        return False
    scenario = generate_scenario(synthetic_area("rutland"), trips=day.trips, seed=day.scenario_seed, shape=day.shape)
    write_scenario(scenario, folder)
    return True


def run_days(bench: DaysBenchmark, *, on_row: Callable[[dict], None] | None = None,
             on_day: Callable[[GeneratedDay], None] | None = None,
             on_wait: Callable[[float], None] | None = None) -> dict:
    """Every day of the benchmark, each seed with the defaults and (with settings) the change, in
    turns; the summary, also written to ``summary.json``. ``on_day`` is called as a day begins,
    ``on_row`` with each solve's row as it ends, ``on_wait`` about twice a second while a solve
    runs, with the seconds of every solve's time limit gone so far (earlier solves' whole limits
    included). Raises ``ItuError`` naming the log of a solve that failed."""
    bench.out.mkdir(parents=True, exist_ok=True)
    commit, state = code_commit(), code_state()
    for name in ("summary.json", "runs.jsonl"):  # an earlier run's, which this one replaces
        (bench.out / name).unlink(missing_ok=True)
    # compiled once before the first solve: a stale cache (the search's code edited since it was
    # compiled) would otherwise spend the first solve's time limit compiling, and its plan say so
    compile_log = bench.out / "compile.log"
    with open(compile_log, "w") as log:
        compiled = subprocess.run([sys.executable, "-c", "from optimiser.engine.ruin_recreate import compile_now; "
                                   "compile_now()"], cwd=CODE, env=code_environment(), stdout=log,
                                  stderr=subprocess.STDOUT)
    if compiled.returncode != 0:
        raise ItuError(f"the search did not compile: see {compile_log}")
    rows = []
    for day in bench.days:
        write_day(bench, day)
        if on_day is not None:
            on_day(day)
        for k, seed in enumerate(bench.seeds):
            # in turns, the first of each pair alternating: a machine that slows through a run
            # does not always favour the same side
            for variant in (bench.variants if k % 2 == 0 else bench.variants[::-1]):
                if code_state() != state:
                    raise ItuError(f"the code changed during the run (from {commit} to {code_commit()}): "
                                   f"its solves would not all run one code")
                before = len(rows) * bench.seconds
                row = solve_in_process(bench, day, seed, variant, on_wait=None if on_wait is None else
                                       (lambda elapsed, before=before: on_wait(before + min(elapsed, bench.seconds))))
                rows.append(row)
                with open(bench.out / "runs.jsonl", "a") as runs:  # kept if a later solve fails
                    runs.write(json.dumps(row) + "\n")
                if on_row is not None:
                    on_row(row)
    summary = summarise(bench, rows, commit=commit)
    (bench.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def solve_in_process(bench: DaysBenchmark, day: GeneratedDay, seed: int, variant: str,
                     on_wait: Callable[[float], None] | None = None) -> dict:
    """One solve in a process of its own with ``CODE`` first on its path: its row. ``on_wait``
    is called with the seconds since it started, about twice a second, while it runs."""
    folder = day_folder(bench, day)
    result = folder / f"{variant}-seed-{seed}.json"
    result.unlink(missing_ok=True)
    command = [sys.executable, "-m", "benchmarks.days", str(folder), "--seconds", f"{bench.seconds:g}",
               "--workers", str(bench.workers), "--seed", str(seed), "--result", str(result)]
    if variant == CHANGED:
        for setting in bench.settings:
            command += ["--set", setting]
    log_path = folder / f"{variant}-seed-{seed}.log"
    started = time.monotonic()
    with open(log_path, "w") as log:
        child = subprocess.Popen(command, cwd=CODE, env=code_environment(), stdout=log, stderr=subprocess.STDOUT)
        while child.poll() is None:
            if on_wait is not None:
                on_wait(time.monotonic() - started)
            time.sleep(0.5)
    if child.returncode != 0:
        raise ItuError(f"the solve of {day.name}, seed {seed}, {variant}, failed: see {log_path}")
    return {"day": day.name, "half": day.half, "trips": day.trips, "shape": day.shape, "seed": seed,
            "variant": variant, "settings": list(bench.settings) if variant == CHANGED else [],
            **json.loads(result.read_text())}


def summarise(bench: DaysBenchmark, rows: Sequence[dict], commit: str | None = None) -> dict:
    """By day: each variant's median cost, and with a change, the change's median over seeds of
    its cost against the defaults' at the same seed (percent; below zero is cheaper) and how many
    seeds it made cheaper. Over the days: the mean of the days' median changes and how many days
    the change made cheaper. Every plan's check is counted."""
    days = []
    for day in bench.days:
        mine = [r for r in rows if r["day"] == day.name]
        if not mine:
            continue
        entry = {"day": day.name, "half": day.half, "trips": day.trips, "shape": day.shape}
        by_variant = {v: {r["seed"]: r for r in mine if r["variant"] == v} for v in bench.variants}
        for variant, runs in by_variant.items():
            entry[variant] = {"median": round(statistics.median(r["cost"] for r in runs.values()), 2),
                              "costs": [runs[s]["cost"] for s in sorted(runs)]}
        if bench.settings:
            paired = [s for s in by_variant[DEFAULTS] if s in by_variant[CHANGED]]
            changes = [100.0 * (by_variant[CHANGED][s]["cost"] / by_variant[DEFAULTS][s]["cost"] - 1) for s in paired]
            entry["change_percent_median"] = round(statistics.median(changes), 2)
            entry["seeds_cheaper"] = sum(c < 0 for c in changes)
        days.append(entry)
    summary = {"code": str(CODE), "commit": commit, "half": bench.half, "seconds": bench.seconds,
               "workers": bench.workers, "seeds": list(bench.seeds), "settings": list(bench.settings), "days": days,
               "plans": len(rows), "plans_failing_the_checker": sum(not r["feasible"] for r in rows),
               "trips_unserved": sum(r["unserved"] for r in rows), "runs": list(rows)}
    if bench.settings and days:
        summary["change_percent_mean_of_days"] = round(statistics.fmean(d["change_percent_median"] for d in days), 2)
        summary["days_cheaper"] = sum(d["change_percent_median"] < 0 for d in days)
    return summary


def row_line(row: dict) -> str:
    first = row.get("first_plan_s")
    return (f"{row['day']:28s} {row['seed']:4d} {row['variant']:9s} {row['cost']:11.2f} {row['vehicles']:8d} "
            f"{row['contracted']:10d} {row['unserved']:8d} {'' if first is None else f'{first:.1f}':>8s} "
            f"{'yes' if row['feasible'] else 'NO':>7s}")


HEADER = (f"{'day':28s} {'seed':>4s} {'variant':9s} {'cost':>11s} {'vehicles':>8s} {'contracted':>10s} "
          f"{'unserved':>8s} {'first s':>8s} {'checked':>7s}")


def summary_lines(summary: dict) -> list[str]:
    """A line per day and one for the half."""
    lines = []
    for d in summary["days"]:
        line = f"{d['day']}: defaults median £{d[DEFAULTS]['median']:,.2f}"
        if CHANGED in d:
            line += (f", changed £{d[CHANGED]['median']:,.2f}; the change against the defaults at the same "
                     f"seed: median {d['change_percent_median']:+.2f}%, cheaper at {d['seeds_cheaper']} of "
                     f"{len(d[CHANGED]['costs'])} seeds")
        lines.append(line)
    tail = (f"{summary['half']} half: {summary['plans']} plans, {summary['plans_failing_the_checker']} failing "
            f"the checker, {summary['trips_unserved']} trips unserved")
    if "change_percent_mean_of_days" in summary:
        tail += (f"; the change: {summary['change_percent_mean_of_days']:+.2f}% on the mean of the days' medians, "
                 f"cheaper on {summary['days_cheaper']} of {len(summary['days'])} days")
    lines.append(tail)
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """One solve of a written day (the child process of ``solve_in_process``): its figures as JSON."""
    from benchmarks.parameters import search_parameters
    from geodata.files import load_day
    from optimiser import SolveOptions, solve
    from optimiser.checker import check_plan

    parser = argparse.ArgumentParser(description="one solve of a generated day, for itu bench days")
    parser.add_argument("day", help="a folder with trips.csv and fleet.json")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--set", action="append", default=[], metavar="GROUP.NAME=VALUE")
    parser.add_argument("--result", required=True, help="where to write the figures (JSON)")
    args = parser.parse_args(argv)
    problem = load_day(Path(args.day) / "trips.csv", Path(args.day) / "fleet.json").problem
    # the checker below decides, so that a plan it refuses is counted rather than ending the run
    options = SolveOptions(time_limit_s=args.seconds, seed=args.seed, workers=args.workers, ruin_and_recreate=True,
                           parameters=search_parameters(args.set), check=False)
    started = time.monotonic()
    plan = solve(problem, options)
    wall = time.monotonic() - started
    report = check_plan(problem, plan)
    for violation in report.violations[:20]:
        print(f"checker: {violation}", file=sys.stderr)
    figures = {"cost": round(plan.cost.total, 2),
               "vehicles": len({(r.vehicle_type, r.vehicle_number) for r in plan.routes}),
               "contracted": len(plan.contracted), "unserved": len(plan.unserved), "feasible": report.feasible,
               "first_plan_s": plan.solver.first_plan_s, "wall_s": round(wall, 1)}
    Path(args.result).write_text(json.dumps(figures) + "\n")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
