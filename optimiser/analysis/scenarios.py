"""What-if studies: declare variants of a base problem, run them all, get a table.

    study = run_variants(problem, [
        Variant("two more accessible minibuses", [SetFleetCount("minibus", 6)]),
        Variant("Catmose bell 15 min later", [ShiftWindows("catmose_college", 15)]),
        Variant("ride caps 20% longer", [ScaleRideCaps(1.2)]),
        Variant("taxis 10% dearer", [ChangeTariff("taxi", scale=1.1)]),
    ], time_limit_s=20)
    study.table      # a pandas DataFrame: cost, vehicles, km, CO2, ride times, saving against the base
    study.plans      # the plans by variant name

Variants run side by side on any ``concurrent.futures`` executor: local processes by default,
or a Dask ``distributed.Client`` (or its executor) to sweep on a cluster. A variant whose
changes make the problem impossible (a window that can no longer be met) is a row with its
reason, not a crash.
"""
from __future__ import annotations

import os
import statistics
import time
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from typing import Iterable, Mapping, Sequence

from optimiser.errors import ItuError, ProblemError
from optimiser.domain.model import DAY_END_S, Problem, Trip
from optimiser.domain.plan import Plan
from optimiser.options import Progress, ProgressCallback, SolveOptions
from optimiser.solving import solve

BASE = "base"


class Change:
    """One change to a problem; subclasses say what."""

    def apply(self, problem: Problem) -> Problem:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class SetFleetCount(Change):
    """How many vehicles of one type are available."""

    vehicle_type: str
    count: int

    def apply(self, problem: Problem) -> Problem:
        if self.vehicle_type not in {v.name for v in problem.vehicle_types}:
            raise ProblemError(f"no vehicle type {self.vehicle_type!r}; the fleet has "
                               f"{', '.join(v.name for v in problem.vehicle_types)}", where="SetFleetCount")
        types = tuple(replace(v, count=self.count) if v.name == self.vehicle_type else v
                      for v in problem.vehicle_types)
        return Problem(problem.trips, types, problem.matrix, problem.tariffs, problem.name)

    def describe(self) -> str:
        return f"{self.count} × {self.vehicle_type}"


def _shift(value: float, seconds: float, open_value: float) -> float:
    return value if value == open_value else value + seconds


#: Which trips a moved clock moves: those going to the place, those leaving it, or both.
SHIFT_TRIPS = ("both", "to", "from")


@dataclass(frozen=True)
class ShiftWindows(Change):
    """Move a place's clock: every trip to or from ``location`` (a school's bell, a day
    centre's opening time) has all its windows moved by ``minutes`` (negative is earlier).
    ``trips``: "both" (a school day keeps its length), "to" (only the trips arriving there: the
    morning bell) or "from" (only the trips leaving it: the afternoon bell)."""

    location: str
    minutes: float
    trips: str = "both"

    def moves(self, trip: Trip) -> bool:
        """Whether this change moves ``trip``'s windows."""
        if self.trips == "to":
            return trip.dropoff == self.location
        if self.trips == "from":
            return trip.pickup == self.location
        return self.location in (trip.pickup, trip.dropoff)

    def apply(self, problem: Problem) -> Problem:
        if self.location not in problem.matrix.index:
            raise ProblemError(f"unknown location {self.location!r}", where="ShiftWindows")
        if self.trips not in SHIFT_TRIPS:
            raise ProblemError(f"trips must be one of {', '.join(SHIFT_TRIPS)}, not {self.trips!r}",
                               where="ShiftWindows.trips")
        seconds = 60.0 * self.minutes

        def moved(t: Trip) -> Trip:
            if not self.moves(t):
                return t
            return replace(t, earliest_pickup_s=_shift(t.earliest_pickup_s, seconds, 0.0),
                           latest_pickup_s=_shift(t.latest_pickup_s, seconds, DAY_END_S),
                           earliest_arrival_s=_shift(t.earliest_arrival_s, seconds, 0.0),
                           latest_arrival_s=_shift(t.latest_arrival_s, seconds, DAY_END_S))

        return Problem(tuple(moved(t) for t in problem.trips), problem.vehicle_types, problem.matrix,
                       problem.tariffs, problem.name)

    def describe(self) -> str:
        which = {"both": "", "to": " (arrivals)", "from": " (departures)"}[self.trips]
        return f"{self.location} {self.minutes:+g} min{which}"


@dataclass(frozen=True)
class ScaleRideCaps(Change):
    """Tighten (below 1) or relax (above 1) every ride-time cap, optionally for one service.
    A factor cap never drops below the direct journey."""

    factor: float
    service: str | None = None

    def apply(self, problem: Problem) -> Problem:
        if self.factor <= 0:
            raise ProblemError("factor must be positive", where="ScaleRideCaps")

        def scaled(t: Trip) -> Trip:
            if self.service is not None and t.service != self.service:
                return t
            return replace(t, max_ride_s=None if t.max_ride_s is None else t.max_ride_s * self.factor,
                           max_ride_factor=None if t.max_ride_factor is None
                           else max(1.0, t.max_ride_factor * self.factor))

        return Problem(tuple(scaled(t) for t in problem.trips), problem.vehicle_types, problem.matrix,
                       problem.tariffs, problem.name)

    def describe(self) -> str:
        return f"ride caps × {self.factor:g}" + (f" ({self.service})" if self.service else "")


@dataclass(frozen=True)
class ChangeTariff(Change):
    """A contract tariff's prices: set ``flag_fall`` and/or ``per_km``, or ``scale`` both."""

    name: str
    flag_fall: float | None = None
    per_km: float | None = None
    scale: float | None = None

    def apply(self, problem: Problem) -> Problem:
        if self.name not in {t.name for t in problem.tariffs}:
            raise ProblemError(f"no tariff {self.name!r}; the problem has "
                               f"{', '.join(t.name for t in problem.tariffs) or 'none'}", where="ChangeTariff")

        def changed(t):
            if t.name != self.name:
                return t
            flag_fall = t.flag_fall if self.flag_fall is None else self.flag_fall
            per_km = t.per_km if self.per_km is None else self.per_km
            if self.scale is not None:
                flag_fall, per_km = flag_fall * self.scale, per_km * self.scale
            return replace(t, flag_fall=flag_fall, per_km=per_km)

        return Problem(problem.trips, problem.vehicle_types, problem.matrix,
                       tuple(changed(t) for t in problem.tariffs), problem.name)

    def describe(self) -> str:
        parts = [f"flag fall £{self.flag_fall:g}" if self.flag_fall is not None else "",
                 f"£{self.per_km:g}/km" if self.per_km is not None else "",
                 f"× {self.scale:g}" if self.scale is not None else ""]
        return f"tariff {self.name}: " + ", ".join(p for p in parts if p)


@dataclass(frozen=True)
class Variant:
    name: str
    changes: Sequence[Change] = ()

    def apply(self, problem: Problem) -> Problem:
        for change in self.changes:
            problem = change.apply(problem)
        return replace(problem, name=f"{problem.name} [{self.name}]") if self.changes else problem

    def describe(self) -> str:
        return "; ".join(c.describe() for c in self.changes) or "no change"


@dataclass
class ScenarioStudy:
    """The results: ``table`` (a pandas DataFrame, one row per variant, the base first) and
    ``plans`` by variant name (variants that could not be planned have no plan)."""

    table: "object"
    plans: dict[str, Plan] = field(default_factory=dict)

    def best(self) -> str:
        """The cheapest variant that served every trip it could."""
        planned = self.table[self.table["error"].isna()]
        return str(planned.sort_values("cost").iloc[0]["variant"])


def plan_row(name: str, description: str, plan: Plan) -> dict:
    rides = [f.ride_minutes_mean for f in plan.by_service.values() if f.ride_minutes_mean is not None]
    longest = [f.ride_minutes_max for f in plan.by_service.values() if f.ride_minutes_max is not None]
    row = {"variant": name, "changes": description, "cost": round(plan.cost.total, 2),
           "vehicles": plan.vehicles_used, "km": round(plan.km, 1), "co2_kg": round(plan.co2_kg, 1),
           "contracted": len(plan.contracted), "unserved": len(plan.unserved),
           "ride_minutes_mean": round(statistics.fmean(rides), 1) if rides else None,
           "ride_minutes_max": round(max(longest), 1) if longest else None, "error": None}
    for service, figures in plan.by_service.items():
        row[f"cost_{service}"] = round(figures.cost.total, 2)
    return row


def run_variants(base: Problem, variants: Iterable[Variant], *, time_limit_s: float = 10.0, seed: int = 0,
                 executor: Executor | object | None = None, on_progress: ProgressCallback | None = None,
                 include_base: bool = True) -> ScenarioStudy:
    """Solve the base and every variant with the same time limit and seed, side by side on
    ``executor`` (local processes by default, or a Dask client or its executor), and tabulate them
    with the saving of each against the base. ``on_progress`` gets a ``Progress`` with the solves
    finished (``done`` of ``total``); ``optimiser.reporting.progress_bar()`` draws it as a bar."""
    import pandas as pd

    variants = list(variants)
    names = [v.name for v in variants]
    if len(set(names)) != len(names) or (include_base and BASE in names):
        raise ProblemError(f"variant names must be unique and not {BASE!r}", where="variants")
    options = SolveOptions(time_limit_s=time_limit_s, seed=seed)
    problems: dict[str, Problem] = {}
    rows: dict[str, dict] = {}
    if include_base:
        problems[BASE] = base
    descriptions = {BASE: "as it is"}
    for variant in variants:
        descriptions[variant.name] = variant.describe()
        try:
            problems[variant.name] = variant.apply(base)
        except ItuError as exc:  # the change itself makes the problem impossible: a row that says why
            rows[variant.name] = {"variant": variant.name, "changes": variant.describe(), "error": str(exc)}
    if hasattr(executor, "get_executor"):  # a Dask distributed Client
        executor = executor.get_executor()
    own = executor is None
    if own:
        import multiprocessing

        executor = ProcessPoolExecutor(max_workers=min(len(problems), os.cpu_count() or 1) or 1,
                                       mp_context=multiprocessing.get_context("spawn"))
    plans: dict[str, Plan] = {}
    started, finished = time.monotonic(), 0
    try:
        futures = {executor.submit(solve, problem, options): name for name, problem in problems.items()}
        for future in as_completed(futures):
            name = futures[future]
            try:
                plans[name] = future.result()
                rows[name] = plan_row(name, descriptions[name], plans[name])
            except ItuError as exc:
                rows[name] = {"variant": name, "changes": descriptions[name], "error": str(exc)}
            finished += 1
            if on_progress:
                on_progress(Progress(time.monotonic() - started, None, time_limit_s, done=finished,
                                     total=len(problems)))
    finally:
        if own:
            executor.shutdown(wait=True)
    order = ([BASE] if include_base else []) + names
    table = pd.DataFrame([rows[n] for n in order])
    if include_base and BASE in plans:
        base_cost = plans[BASE].cost.total
        table["saving"] = (base_cost - table["cost"]).round(2)
        table["saving_percent"] = (100 * table["saving"] / base_cost).round(2) if base_cost else None
    return ScenarioStudy(table.set_index("variant", drop=False), plans)


def shift_grid(locations: Iterable[str], minutes: Iterable[float]) -> list[Variant]:
    """One variant per location and shift: the sweep of moving each bell or opening time."""
    return [Variant(f"{location} {m:+g} min", [ShiftWindows(location, m)])
            for location in locations for m in minutes if m]


def fleet_grid(vehicle_type: str, counts: Iterable[int], tariff_scales: Mapping[str, Iterable[float]] | None = None
               ) -> list[Variant]:
    """Variants over a vehicle type's count, optionally crossed with tariff price levels."""
    variants = []
    for count in counts:
        if not tariff_scales:
            variants.append(Variant(f"{count} {vehicle_type}", [SetFleetCount(vehicle_type, count)]))
            continue
        for tariff, scales in tariff_scales.items():
            for scale in scales:
                variants.append(Variant(f"{count} {vehicle_type}, {tariff} × {scale:g}",
                                        [SetFleetCount(vehicle_type, count), ChangeTariff(tariff, scale=scale)]))
    return variants
