"""The standard dial-a-ride instances (Cordeau 2006, Ropke 2007, ...) against their best-known
costs: ``itu bench darp`` and ``make bench`` / ``make bench-het``.

``run_darp`` solves each instance as ``solve`` would and gives one row per instance, as each
is solved: its cost, whether the independent checker accepts the plan, how many requests were
served, and the gap to the best-known cost (only when every request was served: a plan that
leaves one out is not comparable).
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from optimiser import Plan, Problem, SearchParameters, SolveOptions, check_plan, solve
from optimiser.domain.darp import read_best_known, read_instance, routes_as_node_ids

from .families import family_of, half_of, size_band

#: Where the best-known costs are when ../shared sits beside the checkout.
DEFAULT_BKS = Path(__file__).resolve().parent.parent.parent / "shared" / "benchmarks" / "darp" / "bks.csv"

#: How one instance is solved: (problem, options, instance name) to a plan; ``solve`` by default.
InstanceSolver = Callable[[Problem, SolveOptions, str], Plan]

HEADER = (f"{'instance':14s} {'requests':>8s} {'served':>6s} {'feasible':>8s} {'cost':>10s} {'best known':>10s} "
          f"{'gap %':>7s} {'seconds':>7s}")


def best_known_costs(path: str | Path | None = None) -> dict[str, float]:
    """The best-known cost of each instance by name, from ``path`` (``DEFAULT_BKS`` if None);
    none when the file is not there (the rows then have no gap)."""
    path = Path(path) if path else DEFAULT_BKS
    return read_best_known(path) if path.exists() else {}


@dataclass(frozen=True)
class DarpRow:
    """One instance's result. ``as_dict`` is the row as ``itu bench darp --json`` prints it."""

    instance: str
    requests: int
    served: int
    feasible: bool
    #: The plan's cost and the gap to the best known, in percent (None: no best known, or not
    #: every request served).
    cost: float
    best_known: float | None
    gap_percent: float | None
    seconds: float
    time_limit_s: float
    #: The routes as the instance's node numbers, one list per vehicle.
    routes: list[list[int]]
    #: The published family the instance belongs to (``benchmarks.families``).
    family: str = ""
    #: "tuning" or "validation": the half of its family the instance is in (``benchmarks.families``).
    half: str = ""

    def as_dict(self) -> dict:
        return {"instance": self.instance, "seconds": self.seconds, "time_limit_s": self.time_limit_s,
                "cost": round(self.cost, 4), "feasible": self.feasible, "served": self.served,
                "requests": self.requests, "best_known": self.best_known, "family": self.family,
                "half": self.half,
                "gap_percent": None if self.gap_percent is None else round(self.gap_percent, 4),
                "routes": self.routes}

    def line(self) -> str:
        """The row in the table under ``HEADER``."""
        best, gap = self.best_known, self.gap_percent
        return (f"{self.instance:14s} {self.requests:8d} {self.served:6d} {str(self.feasible):>8s} {self.cost:10.2f} "
                f"{'' if best is None else f'{best:10.2f}':>10s} {'' if gap is None else f'{gap:7.2f}':>7s} "
                f"{self.seconds:7.1f}")


def run_darp(files: Iterable[str | Path], seconds: float = 10.0, workers: int = 2, *, seed: int = 0,
             best_known: dict[str, float] | None = None, solver: InstanceSolver | None = None,
             parameters: SearchParameters | None = None) -> Iterator[DarpRow]:
    """Solve each instance file in turn, ``seconds`` each with ``workers`` parallel searches, and
    give its row as soon as it is solved (``list(run_darp(...))`` for all of them). The options
    are checked here, before any instance is read. ``solver`` solves one instance (e.g. with a
    progress bar); ``best_known`` maps instance names to costs (``best_known_costs()``);
    ``parameters``: the search's parameters (the defaults if None)."""
    options = SolveOptions(time_limit_s=seconds, seed=seed, workers=workers,
                           parameters=parameters or SearchParameters())
    return _rows(list(files), options, best_known or {}, solver or (lambda problem, o, name: solve(problem, o)))


def _rows(files: list, options: SolveOptions, best_known: dict[str, float], solver: InstanceSolver
          ) -> Iterator[DarpRow]:
    for file in files:
        instance = read_instance(file)
        family, half = family_of(file), half_of(file)
        plan = solver(instance.problem, options, instance.name)
        served = len(plan.served_trip_ids)
        cost = plan.cost.total
        best = best_known.get(instance.name)
        gap = None if best is None or served < instance.requests else 100.0 * (cost - best) / best
        yield DarpRow(instance.name, instance.requests, served, check_plan(instance.problem, plan).feasible, cost,
                      best, gap, plan.solver.seconds, options.time_limit_s, routes_as_node_ids(instance, plan),
                      family, half)


def summary_line(rows: list[DarpRow]) -> str | None:
    """How many instances were feasible and fully served, and the mean, median and worst gap to
    the best known; None when no row has a gap."""
    gaps = [r.as_dict()["gap_percent"] for r in rows if r.gap_percent is not None]
    if not gaps:
        return None
    return (f"{len(rows)} instances, {sum(r.feasible for r in rows)} feasible, "
            f"{sum(r.served == r.requests for r in rows)} fully served; gap to best known: mean "
            f"{statistics.fmean(gaps):.2f}%, median {statistics.median(gaps):.2f}%, worst {max(gaps):.2f}%")


def summaries_by_group(rows: list[DarpRow]) -> list[str]:
    """One summary line per family, per half of a family (tuning or validation) and per size band
    (``benchmarks.families.SIZE_BANDS``), where a run has more than one of them: a figure on one
    family, or on the instances the parameters were chosen on, is not a property of the search."""
    lines = []
    for title, key in (("family", lambda r: r.family),
                       ("half", lambda r: f"{r.family} {r.half}" if r.half else None),
                       ("size", lambda r: size_band(r.requests))):
        groups: dict[str, list[DarpRow]] = {}
        for row in rows:
            name = key(row)
            if name is not None:
                groups.setdefault(name, []).append(row)
        if len(groups) > 1:
            for name, members in groups.items():
                summary = summary_line(members)
                if summary:
                    lines.append(f"{title} {name}: {summary}")
    return lines
