"""The clock advisor: which school bells and centre opening times to move, by how much, and what
each move saves.

    shifts = read_shift_options("shifts.csv", problem, place_names)
    advice = advise_clock(problem, shifts, ClockOptions(time_limit_s=10, seeds=3))
    advice.moves            # the recommended moves, e.g. Oakham Special School +30 min
    advice.to_dict()        # saving (median and spread over seeds), each move's part, passengers

Moving every clock is what councils will not accept (Boston's start-time plan moved 85% of its
schools and was abandoned), so the advisor looks for the few moves that save most and shows the
saving against the number of places moved. The space is too large to solve every combination, so:

1. the unmoved day is planned once with a round budget (``screen_rounds``): the incumbent;
2. every single move is scored cheaply: the trips it moves are taken out of the incumbent's
   routes and put back where each costs least, then a short search (the same round budget)
   improves the whole; the incumbent re-searched the same way with nothing moved is the reference,
   so the score is what the move saves and not what the extra search found;
3. sets of moves are built up a move at a time (a beam of the best sets of each size), each
   scored from its parent's routes against its parent re-searched alike;
4. the best sets of each size, and the unmoved day, are solved in full over several seeds: the
   saving of a set is the median of its seeds' savings against the unmoved day solved the same
   way, with the spread. The recommendation is the confirmed set with the best median less a
   threshold per move (by default half a percent of the unmoved day's cost: the few moves that
   save most, not every move that saves a little), and each of its moves is solved alone and left
   out, for its own part.

Every solve runs on ``executor`` (local processes by default, or a Dask client), as
``run_variants`` does. A move that makes a trip impossible (a window that can no longer be met) is
left out with its reason; a bad shift file is an ``InputFormatError`` listing every row and column
at fault, before anything is solved.
"""
from __future__ import annotations

import difflib
import json
import math
import os
import statistics
import time
from concurrent.futures import FIRST_COMPLETED, Executor, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from optimiser.decompose.side_by_side import SharedStop, StopCheck
from optimiser.domain.csv_text import csv_text_rows
from optimiser.domain.model import Problem, format_clock, parse_clock
from optimiser.domain.plan import Plan, RouteOrder, route_order, time_route
from optimiser.engine.screening import screen_trip
from optimiser.errors import InputFormatError, ItuError, ProblemError, SolveCancelled
from optimiser.options import CancelToken, Progress, ProgressCallback, SolveOptions
from optimiser.solving import solve

from .scenarios import SHIFT_TRIPS, ShiftWindows

#: Columns of a shift file; ``destination`` and ``from_minutes`` are required.
SHIFT_COLUMNS = ("destination", "from_minutes", "to_minutes", "step_minutes", "trips")
#: Stands for the cells of a CSV row beyond its header's columns.
EXTRA_CELLS = "(extra cells)"
OBJECTIVES = ("cost", "vehicles")
#: A shift moves a clock by at most this many minutes either way, and a row offers at most this
#: many shifts: a council's options are a few, and a typing error must not ask for millions of solves.
MOST_SHIFT_MINUTES = 720
MOST_SHIFTS_PER_ROW = 100
#: Pupils picked up before this are counted in the passenger impact (an early start is a cost too).
EARLY_PICKUP_S = 7 * 3600 + 15 * 60
#: Vehicles on the road are counted every this many seconds for the chart and the peak.
ROAD_STEP_S = 15 * 60
#: The "vehicles" objective ranks plans by vehicles first, then cost: a vehicle weighs this many pounds.
VEHICLE_WEIGHT = 1_000_000.0


# ------------------------------------------------------------------------------ the shift options
@dataclass(frozen=True)
class ShiftOption:
    """The shifts one destination could accept (one row of a shift file): every multiple of
    ``step_minutes`` from ``from_minutes`` to ``to_minutes`` (one value when they are equal),
    applied to the trips ``trips`` says ("both", "to" or "from")."""

    destination: str
    from_minutes: float
    to_minutes: float
    step_minutes: float | None = None
    trips: str = "both"
    #: Where it came from (a file's row, a document's index), for messages.
    row: int | None = None

    def minutes(self) -> list[float]:
        """Each shift offered, not counting no shift at all."""
        if self.from_minutes == self.to_minutes or not self.step_minutes:
            values = [self.from_minutes]
        else:
            count = round((self.to_minutes - self.from_minutes) / self.step_minutes)
            values = [self.from_minutes + k * self.step_minutes for k in range(count + 1)]
        return [v for v in values if v != 0]


@dataclass(frozen=True)
class ClockLimits:
    """Limits on a recommendation: at most ``most_moved`` destinations moved; no arrival at a
    moved destination before ``earliest_bell_s`` (seconds after midnight, e.g. 08:15)."""

    most_moved: int | None = None
    earliest_bell_s: float | None = None

    def __post_init__(self):
        if self.most_moved is not None and (isinstance(self.most_moved, bool) or not isinstance(self.most_moved, int)
                                            or self.most_moved < 1):
            raise ProblemError("most_moved must be a whole number of at least 1", where="limits.most_moved")


@dataclass(frozen=True)
class ShiftOptions:
    """What may move: the options (already checked against the problem) and the limits."""

    options: tuple[ShiftOption, ...]
    limits: ClockLimits = field(default_factory=ClockLimits)
    #: Display names of the destinations by location id (a trip file's names), where known.
    names: Mapping[str, str] = field(default_factory=dict)


def _number(value) -> float:
    number = float(str(value).strip()) if isinstance(value, str) else float(value)
    if isinstance(value, bool) or not math.isfinite(number):
        raise ValueError(value)
    return number


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def places_of(problem: Problem | Iterable[str]) -> set[str]:
    """The places trips go to or from: a problem's, or a trip file's location ids as given (a
    request is checked against its trip set before any problem is built)."""
    if isinstance(problem, Problem):
        return {loc for t in problem.trips for loc in (t.pickup, t.dropoff)}
    return set(problem)


def resolve_destination(text: str, problem: Problem | Iterable[str], names: Mapping[str, str]
                        ) -> tuple[str | None, str | None]:
    """The location id ``text`` names (an id or a place name, any case) among the places trips go
    to or from (``places_of(problem)``), or None and why not."""
    wanted = text.strip().casefold()
    ids = places_of(problem)
    found = {loc for loc in ids if loc.casefold() == wanted or names.get(loc, "").casefold() == wanted}
    if len(found) == 1:
        return found.pop(), None
    if len(found) > 1:
        return None, f"{text!r} names more than one place ({', '.join(sorted(found))}); give the location id"
    if isinstance(problem, Problem) and text.strip() in problem.matrix.index:
        return None, f"no trip goes to or from {text!r}"
    known = sorted({names.get(loc, loc) for loc in ids if not loc.startswith("home_")})
    close = difflib.get_close_matches(text.strip(), known, n=1)
    return None, f"unknown destination {text!r}" + (f"; did you mean {close[0]!r}?" if close else "")


def shift_options_from_rows(rows: Iterable[tuple[int, Mapping]], problem: Problem | Iterable[str], *,
                            names: Mapping[str, str] | None = None, limits: ClockLimits | None = None,
                            source: str = "shifts") -> ShiftOptions:
    """Shift options from numbered rows (a CSV's data rows from 2, or a document's items), checked
    against ``problem``. Raises ``InputFormatError`` listing every row and column at fault: an
    unknown destination, a range that runs backwards or overlaps another of the same destination, a
    step that does not divide its range, an unknown ``trips``. ``problem``: the problem, or the
    location ids of a trip file (``places_of``)."""
    names = dict(names or {})
    problems: list[dict] = []

    def fault(row, column, message):
        item = {"file": source, "row": row, "message": message}
        if column:
            item["column"] = column
        problems.append(item)

    options: list[ShiftOption] = []
    for number, raw in rows:
        if not isinstance(raw, Mapping):
            fault(number, None, "expected an object with destination, from_minutes, to_minutes, step_minutes, trips")
            continue
        if EXTRA_CELLS in raw:
            fault(number, None, "more cells than the header has columns (a comma in a name needs quotes)")
            continue
        unknown = sorted(set(raw) - set(SHIFT_COLUMNS))
        for column in unknown:
            fault(number, str(column), f"unknown column; the columns are {', '.join(SHIFT_COLUMNS)}")
        text = raw.get("destination")
        destination = None
        if _blank(text):
            fault(number, "destination", "missing destination (a location id or a place name)")
        else:
            destination, why = resolve_destination(str(text), problem, names)
            if why:
                fault(number, "destination", why)
        values: dict[str, float | None] = {}
        for column in ("from_minutes", "to_minutes", "step_minutes"):
            value = raw.get(column)
            if _blank(value):
                values[column] = None
                continue
            try:
                values[column] = _number(value)
            except (TypeError, ValueError):
                fault(number, column, f"{value!r} is not a number of minutes")
                values[column] = math.nan
        low, high, step = values["from_minutes"], values["to_minutes"], values["step_minutes"]
        if low is None:
            fault(number, "from_minutes", "missing: the earliest shift in minutes (negative is earlier)")
        high = low if high is None else high
        trips = "both" if _blank(raw.get("trips")) else str(raw.get("trips")).strip().lower()
        if trips not in SHIFT_TRIPS:
            fault(number, "trips", f"{raw.get('trips')!r} is not one of {', '.join(SHIFT_TRIPS)}")
        if low is None or any(isinstance(v, float) and math.isnan(v) for v in (low, high, step)):
            continue
        far = next((c for c, v in (("from_minutes", low), ("to_minutes", high)) if abs(v) > MOST_SHIFT_MINUTES), None)
        if far:
            fault(number, far, f"a shift of {values[far]:g} minutes is more than {MOST_SHIFT_MINUTES} minutes either way")
            continue
        if high < low:
            fault(number, "to_minutes", f"the range runs backwards: to_minutes {high:g} is before from_minutes "
                                        f"{low:g}")
            continue
        if step is not None and step <= 0:
            fault(number, "step_minutes", f"step {step:g} must be positive")
            continue
        if high > low:
            if step is None:
                fault(number, "step_minutes", "missing: a range needs a step (e.g. 5)")
                continue
            count = (high - low) / step
            if abs(count - round(count)) > 1e-9:
                fault(number, "step_minutes", f"step {step:g} does not divide the range {low:g} to {high:g}")
                continue
            if count + 1 > MOST_SHIFTS_PER_ROW:
                fault(number, "step_minutes", f"{count + 1:.0f} shifts in one row; at most {MOST_SHIFTS_PER_ROW} "
                                              "(a larger step)")
                continue
        option = ShiftOption(destination or "", low, high, step, trips, number)
        if destination is not None:
            for other in options:
                if other.destination == destination and low <= other.to_minutes and other.from_minutes <= high:
                    fault(number, "from_minutes", f"the range {low:g} to {high:g} overlaps row {other.row}'s "
                                                  f"{other.from_minutes:g} to {other.to_minutes:g} for the same "
                                                  "destination")
                    break
            else:
                if trips in SHIFT_TRIPS:
                    options.append(option)
    if not problems and not any(o.minutes() for o in options):
        fault(None, None, "no shift to try: every row offers only no shift at all")
    if problems:
        for item in problems:
            if item["row"] is None:
                del item["row"]
        shown = "; ".join(_describe(i) for i in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise InputFormatError(f"{len(problems)} problem{'s' if len(problems) > 1 else ''} in the shift options, "
                               f"nothing run: {shown}{more}", where=source, problems=problems)
    return ShiftOptions(tuple(options), limits or ClockLimits(),
                        {o.destination: names.get(o.destination, o.destination) for o in options})


def _describe(item: Mapping) -> str:
    place = [f"row {item['row']}"] if "row" in item else []
    if item.get("column"):
        place.append(f"column {item['column']}")
    return f"{', '.join(place)}: {item['message']}" if place else item["message"]


def limits_from_document(value, *, where: str = "limits") -> ClockLimits:
    """``{"most_moved": 3, "earliest_bell": "08:15"}`` (either may be left out)."""
    if value is None:
        return ClockLimits()
    if not isinstance(value, Mapping):
        raise InputFormatError("expected an object with most_moved and earliest_bell", where=where)
    unknown = sorted(set(value) - {"most_moved", "earliest_bell"})
    if unknown:
        raise InputFormatError(f"unknown field {unknown[0]!r}; limits has most_moved and earliest_bell",
                               where=f"{where}.{unknown[0]}")
    most = value.get("most_moved")
    if most is not None and (isinstance(most, bool) or not isinstance(most, int) or most < 1):
        raise InputFormatError(f"most_moved must be a whole number of at least 1, not {most!r}",
                               where=f"{where}.most_moved")
    bell = value.get("earliest_bell")
    try:
        bell_s = None if bell in (None, "") else parse_clock(bell, where=f"{where}.earliest_bell")
    except ProblemError as exc:
        raise InputFormatError(exc.message, where=exc.where) from None
    return ClockLimits(most, bell_s)


def shift_options_from_document(document, problem: Problem | Iterable[str], *, names: Mapping[str, str] | None = None,
                                source: str = "shifts") -> ShiftOptions:
    """Shift options from JSON: ``{"options": [{"destination": ..., "from_minutes": ..., ...}],
    "limits": {...}}``, or the list of options alone. Rows are counted from 1."""
    limits = ClockLimits()
    if isinstance(document, Mapping):
        unknown = sorted(set(document) - {"options", "limits"})
        if unknown:
            raise InputFormatError(f"unknown field {unknown[0]!r}; a shift document has options and limits",
                                   where=f"{source}.{unknown[0]}")
        limits = limits_from_document(document.get("limits"), where=f"{source}.limits")
        document = document.get("options")
    if not isinstance(document, list) or not document:
        raise InputFormatError("expected a non-empty list of shift options", where=f"{source}.options")
    return shift_options_from_rows(enumerate(document, start=1), problem, names=names, limits=limits, source=source)


def shift_options_from_csv_text(text: str, problem: Problem | Iterable[str], *, names: Mapping[str, str] | None = None,
                                limits: ClockLimits | None = None, source: str = "shifts.csv") -> ShiftOptions:
    """Shift options from a CSV's text (a header row, then one row per option; row 1 is the header)."""
    columns, rows = csv_text_rows(text, source=source, extra=EXTRA_CELLS, keep="destination")
    if "destination" not in columns or "from_minutes" not in columns:
        missing = [c for c in ("destination", "from_minutes") if c not in columns]
        raise InputFormatError(f"missing column {missing[0]}; the columns are {', '.join(SHIFT_COLUMNS)}",
                               where=source, problems=[{"file": source, "row": 1, "column": m,
                                                        "message": "missing column"} for m in missing])
    return shift_options_from_rows(rows, problem, names=names, limits=limits, source=source)


def read_shift_options(path: str | Path, problem: Problem, *, names: Mapping[str, str] | None = None,
                       limits: ClockLimits | None = None) -> ShiftOptions:
    """A shift file: CSV (columns ``SHIFT_COLUMNS``) or JSON (``shift_options_from_document``).
    ``limits`` override a JSON file's."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputFormatError(f"cannot read: {exc.strerror}", where=str(path)) from None
    if path.suffix.lower() == ".json":
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise InputFormatError(f"not JSON: {exc}", where=str(path)) from None
        shifts = shift_options_from_document(document, problem, names=names, source=path.name)
        return replace(shifts, limits=limits) if limits is not None else shifts
    return shift_options_from_csv_text(text, problem, names=names, limits=limits, source=path.name)


# ------------------------------------------------------------------------------ moves
@dataclass(frozen=True, order=True)
class Move:
    """One destination's clock moved by ``minutes`` for the trips ``trips`` says."""

    destination: str
    minutes: float
    trips: str = "both"

    def change(self) -> ShiftWindows:
        return ShiftWindows(self.destination, self.minutes, self.trips)

    def describe(self, names: Mapping[str, str] | None = None) -> str:
        which = {"both": "", "to": " (arrivals only)", "from": " (departures only)"}[self.trips]
        return f"{(names or {}).get(self.destination, self.destination)} {self.minutes:+g} min{which}"

    def to_dict(self, names: Mapping[str, str] | None = None) -> dict:
        return {"destination": self.destination, "name": (names or {}).get(self.destination, self.destination),
                "minutes": self.minutes, "trips": self.trips, "description": self.describe(names)}


def apply_moves(problem: Problem, moves: Iterable[Move]) -> Problem:
    for move in moves:
        problem = move.change().apply(problem)
    return problem


def moved_trip_ids(problem: Problem, moves: Iterable[Move]) -> set[str]:
    changes = [m.change() for m in moves]
    return {t.id for t in problem.trips if any(c.moves(t) for c in changes)}


def why_excluded(problem: Problem, move: Move, limits: ClockLimits) -> str | None:
    """Why ``move`` cannot be part of a recommendation (a window no vehicle can meet any more, a
    bell before the earliest allowed), or None."""
    change = move.change()
    try:
        moved = change.apply(problem)
    except ItuError as exc:
        return str(exc)
    for before, after in zip(problem.trips, moved.trips):
        if before is after:
            continue
        if (limits.earliest_bell_s is not None and after.dropoff == move.destination and move.minutes < 0
                and after.latest_arrival_s < limits.earliest_bell_s):
            return (f"trip {after.id} would have to arrive by {format_clock(after.latest_arrival_s)}, before the "
                    f"earliest bell allowed ({format_clock(limits.earliest_bell_s)})")
        if screen_trip(problem, before) is None:
            reason = screen_trip(moved, after)
            if reason:
                return f"trip {after.id} could no longer be served: {reason}"
    return None


def candidate_moves(problem: Problem, shifts: ShiftOptions) -> tuple[list[Move], list[dict]]:
    """Every move the options offer, and those left out with their reasons."""
    moves, excluded = [], []
    for option in shifts.options:
        for minutes in option.minutes():
            move = Move(option.destination, minutes, option.trips)
            reason = why_excluded(problem, move, shifts.limits)
            if reason:
                excluded.append({**move.to_dict(shifts.names), "reason": reason})
            else:
                moves.append(move)
    return moves, excluded


# ------------------------------------------------------------------------------ options and results
@dataclass(frozen=True)
class ClockOptions:
    """How hard the advisor searches. The confirming solves use ``time_limit_s`` and, when set,
    ``max_rounds`` (a round budget makes them deterministic for their seed); the scoring solves use
    ``screen_rounds`` rounds each from the incumbent's routes."""

    time_limit_s: float = 10.0
    seeds: int = 3
    max_rounds: int | None = None
    #: Rounds of ruin and recreate per scoring solve (the unmoved day gets four times as many).
    screen_rounds: int = 1000
    #: Sets of moves of each size kept to grow into the next size.
    beam_width: int = 3
    #: Destinations (those whose best single move scored highest) tried when growing a set, and
    #: the best moves of each tried; None: every destination.
    breadth: int | None = 8
    moves_per_destination: int = 3
    #: Sets of each size confirmed by full solves over the seeds.
    confirm_per_size: int = 2
    #: Largest set tried when the limits give no ``most_moved``.
    most_moves: int = 5
    #: "cost" (pounds a day) or "vehicles" (vehicles first, then pounds).
    objective: str = "cost"
    #: Each move recommended must add at least this much to the saving (pounds a day), plus
    #: ``least_share_per_move`` of the unmoved day's cost: a set of five moves that saves £2 more
    #: than a set of four is not worth the fifth school's disruption.
    least_saving_per_move: float = 0.0
    least_share_per_move: float = 0.005
    #: Seconds from the start of the advice after which the scoring search stops: scoring solves
    #: not started yet are dropped (single moves are scored coarse to fine, every destination in
    #: turn, so all are tried) and the sets found so far are confirmed. None: no limit.
    search_limit_s: float | None = None
    #: Solves at once on local processes (0: one per core; 1: one at a time in this process);
    #: with an executor, the solves kept in flight under ``search_limit_s``.
    workers: int = 0

    def __post_init__(self):
        if self.objective not in OBJECTIVES:
            raise ProblemError(f"objective must be one of {', '.join(OBJECTIVES)}, not {self.objective!r}",
                               where="options.objective")
        for name in ("seeds", "screen_rounds", "beam_width", "confirm_per_size", "most_moves", "moves_per_destination"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ProblemError(f"{name} must be a whole number of at least 1, not {value!r}",
                                   where=f"options.{name}")
        if self.breadth is not None and self.breadth < 1:
            raise ProblemError("breadth must be at least 1", where="options.breadth")
        if not (math.isfinite(self.least_share_per_move) and 0 <= self.least_share_per_move < 1):
            raise ProblemError("least_share_per_move must be a share from 0 up to 1", where="options.least_share_per_move")
        if self.search_limit_s is not None and not (math.isfinite(self.search_limit_s) and self.search_limit_s > 0):
            raise ProblemError("search_limit_s must be a positive number of seconds", where="options.search_limit_s")
        if self.workers < 0:
            raise ProblemError("workers must be 0 (one per core) or more", where="options.workers")
        SolveOptions(time_limit_s=self.time_limit_s, max_rounds=self.max_rounds)  # checks both

    def solve_options(self, seed: int) -> SolveOptions:
        return SolveOptions(time_limit_s=self.time_limit_s, seed=seed, max_rounds=self.max_rounds)

    def scoring_options(self) -> SolveOptions:
        """A scoring solve's: ``screen_rounds`` rounds with seed 0. Scoring solves are never
        reported, so they skip the checker; every reported plan is checked."""
        return SolveOptions(time_limit_s=max(60.0, self.time_limit_s), seed=0, max_rounds=self.screen_rounds,
                            check=False)

    def incumbent_options(self) -> SolveOptions:
        """The unmoved day's, planned once as every scoring solve's start: four times the rounds."""
        return replace(self.scoring_options(), max_rounds=4 * self.screen_rounds)


@dataclass
class ClockAdvice:
    """The advisor's answer. ``to_dict()`` is clock.json; ``baseline_plan`` and ``recommended_plan``
    are the seeds' median plans of the unmoved day and of the recommended moves."""

    problem_name: str
    objective: str
    moves: list[Move]
    names: Mapping[str, str]
    saving: dict
    contributions: list[dict]
    before: dict
    after: dict
    curve: list[dict]
    excluded: list[dict]
    vehicles_by_time: dict
    passengers: dict
    search: dict
    baseline_plan: Plan
    recommended_plan: Plan

    def to_dict(self) -> dict:
        return {"problem": self.problem_name, "objective": self.objective,
                "moves": [m.to_dict(self.names) for m in self.moves], "saving": self.saving,
                "contributions": self.contributions, "before": self.before, "after": self.after,
                "curve": self.curve, "excluded": self.excluded, "vehicles_by_time": self.vehicles_by_time,
                "passengers": self.passengers, "search": self.search}


# ------------------------------------------------------------------------------ what a plan shows
def score_of(plan: Plan, objective: str) -> float:
    """What the advisor minimises: pounds, or vehicles first and then pounds."""
    return plan.cost.total + (VEHICLE_WEIGHT * plan.vehicles_used if objective == "vehicles" else 0.0)


def vehicles_on_road(plan: Plan, times: Sequence[float]) -> list[int]:
    """Vehicles driving a route at each of ``times`` (from leaving the depot to coming back)."""
    spans = [(r.stops[0].departure_s, r.stops[-1].arrival_s) for r in plan.routes if r.stops]
    return [sum(1 for a, b in spans if a <= t < b) for t in times]


def road_times(*plans: Plan) -> list[float]:
    starts = [r.stops[0].departure_s for p in plans for r in p.routes if r.stops]
    ends = [r.stops[-1].arrival_s for p in plans for r in p.routes if r.stops]
    if not starts:
        return []
    first = math.floor(min(starts) / ROAD_STEP_S) * ROAD_STEP_S
    return [float(t) for t in range(int(first), int(max(ends)) + ROAD_STEP_S, ROAD_STEP_S)]


def plan_figures(plan: Plan) -> dict:
    times = road_times(plan)
    on_road = vehicles_on_road(plan, times)
    return {"cost": round(plan.cost.total, 2), "vehicles": plan.vehicles_used,
            "peak_vehicles": max(on_road, default=0),
            "peak_at": format_clock(times[on_road.index(max(on_road))]) if on_road else None,
            "km": round(plan.km, 1), "contracted": len(plan.contracted), "unserved": len(plan.unserved)}


def passenger_impact(problem: Problem, plan: Plan) -> dict[str, dict]:
    """Per service: ride times, waiting at the destination, the earliest pickup and the share of
    the fleet's pickups before 07:15."""
    pickups: dict[str, list[float]] = {}
    for route in plan.routes:
        for stop in route.stops:
            if stop.kind == "pickup":
                pickups.setdefault(stop.service, []).append(stop.service_start_s)
    out = {}
    for service, figures in sorted(plan.by_service.items()):
        times = pickups.get(service, [])
        out[service] = {
            "ride_minutes_mean": _round(figures.ride_minutes_mean, 1),
            "ride_minutes_max": _round(figures.ride_minutes_max, 1),
            "wait_at_destination_minutes_mean": _round(figures.wait_at_destination_minutes_mean, 1),
            "earliest_pickup": format_clock(min(times)) if times else None,
            "share_picked_up_before_0715": round(sum(1 for t in times if t < EARLY_PICKUP_S) / len(times), 3)
            if times else None}
    return out


# ------------------------------------------------------------------------------ the solves
def screen_solve(problem: Problem, moves: tuple[Move, ...], start: Sequence[RouteOrder], leave_out: tuple[Move, ...],
                 options: SolveOptions, objective: str, stop=None) -> dict:
    """One scoring solve (run in a worker): ``problem`` with ``moves`` applied, starting from the
    routes ``start`` less the trips ``leave_out`` moves, those trips put back where each costs
    least, then ``options.max_rounds`` rounds of search. ``stop``: the advice's shared stop event
    (None: none), which ends the search early."""
    moved = apply_moves(problem, moves)
    out_ids = moved_trip_ids(problem, leave_out)
    routes = []
    for order in start:
        events = tuple((kind, moved.trip(trip.id)) for kind, trip in order.events if trip.id not in out_ids)
        if not events:
            continue
        kept = replace(order, events=events)
        try:
            time_route(moved, kept)
        except ProblemError:  # a route that no longer keeps time: its trips are put back one by one
            continue
        routes.append(kept)
    plan = solve(moved, replace(options, place_left_out=True), start_routes=routes,
                 cancel=None if stop is None else StopCheck(stop))
    return {"score": score_of(plan, objective), "cost": plan.cost.total, "vehicles": plan.vehicles_used,
            "unserved": len(plan.unserved), "routes": [route_order(moved, r) for r in plan.routes]}


def full_solve(problem: Problem, moves: tuple[Move, ...], options: SolveOptions, stop=None) -> Plan:
    """One confirming solve (run in a worker): ``problem`` with ``moves`` applied, from scratch;
    ``stop`` as ``screen_solve``'s."""
    return solve(apply_moves(problem, moves), options, cancel=None if stop is None else StopCheck(stop))


class _Runner:
    """Runs batches of solves on the executor and counts them for the progress callback."""

    def __init__(self, executor, on_progress: ProgressCallback | None, time_limit_s: float,
                 cancel: CancelToken | None = None, slots: int = 1):
        self.executor, self.on_progress, self.time_limit_s = executor, on_progress, time_limit_s
        #: Solves in flight at once when a deadline may stop the rest: the executor's workers.
        self.slots = slots
        self.cancel = cancel
        self.started = time.monotonic()
        self.done = 0
        self.expected = 0
        #: what the solves under way are stopped by when the advice is cancelled: a cancel must not
        #: wait for a batch whose solves each run their whole time limit (up to an hour)
        self._shared = None if cancel is None else SharedStop(executor)
        self.stop = None if self._shared is None else self._shared.event
        #: every solve sent, so that the stop is cleared only once they have all ended
        self._sent: list = []

    def stop_solves(self) -> None:
        """The solves under way stop at their next look (the advice ended early, whatever ended it)."""
        if self._shared is not None:
            self._shared.set()

    def close(self) -> None:
        if self._shared is not None:
            self._shared.close_when_ended(self._sent)

    def run(self, calls: Sequence[tuple[Callable, tuple]], deadline: float | None = None) -> list:
        """Each call's result (or the ``ItuError`` it raised), in order. With ``deadline`` (a
        ``time.monotonic()``) at most ``slots`` calls are in flight, and none is started past it:
        the results of those never started are None."""
        if self.cancel is not None and self.cancel.is_set():
            raise SolveCancelled("the clock advice was cancelled")
        self.expected = max(self.expected, self.done + len(calls))
        results: list = [None] * len(calls)
        waiting = list(enumerate(calls))[::-1]  # popped from the end: in order
        in_flight = self.slots if deadline is not None else len(calls)
        running: dict = {}
        while waiting or running:
            while waiting and len(running) < in_flight and (deadline is None or time.monotonic() <= deadline):
                k, (fn, args) = waiting.pop()
                future = self.executor.submit(fn, *args, stop=self.stop)
                self._sent.append(future)
                running[future] = k
            if not running:  # past the deadline with nothing under way: the rest are dropped
                self.expected -= len(waiting)
                break
            done, _ = wait(running, timeout=None if self.cancel is None else 0.5, return_when=FIRST_COMPLETED)
            if self.cancel is not None and self.cancel.is_set():  # advise_clock stops the solves under way
                self._shared.set()
                self._shared.withdraw(running)
                raise SolveCancelled("the clock advice was cancelled")
            for future in done:
                k = running.pop(future)
                try:
                    results[k] = future.result()
                except ItuError as exc:
                    results[k] = exc
                self.done += 1
                if self.on_progress:
                    self.on_progress(Progress(time.monotonic() - self.started, None, self.time_limit_s,
                                              done=self.done, total=self.expected))
        self._sent = [f for f in self._sent if not f.done()]
        return results


@dataclass
class _Candidate:
    moves: tuple[Move, ...]
    estimate: float  # screened saving against the unmoved day, in score units
    routes: list


def advise_clock(problem: Problem, shifts: ShiftOptions, options: ClockOptions | None = None, *,
                 executor: Executor | object | None = None, on_progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None) -> ClockAdvice:
    """Which moves of ``shifts`` to make, what they save and what they do to passengers (see the
    module's docstring for how). ``executor``: any ``concurrent.futures`` executor, or a Dask
    client; local processes by default. ``on_progress`` gets the solves finished so far (``done`` of
    an estimated ``total`` that grows as the search goes). ``cancel`` (anything with ``is_set()``)
    stops the advice within about a second with ``SolveCancelled``: the solves under way are told
    to stop (through an event shared with the processes or cluster running them) and no more start."""
    options = options or ClockOptions()
    started = time.monotonic()
    moves, excluded = candidate_moves(problem, shifts)
    names = dict(shifts.names)
    if hasattr(executor, "get_executor"):  # a Dask distributed Client
        executor = executor.get_executor()
    own = executor is None
    if own and options.workers == 1:  # one at a time: in this process, without starting another
        executor = ThreadPoolExecutor(max_workers=1)
    elif own:
        import multiprocessing

        workers = options.workers or os.cpu_count() or 1
        executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    runner = None
    try:
        runner = _Runner(executor, on_progress, options.time_limit_s, cancel,
                         slots=options.workers or os.cpu_count() or 1)
        advice = _advise(problem, shifts, options, moves, excluded, names, runner)
    except BaseException:
        if runner is not None:  # cancelled, or a solve failed: the others need not run on
            runner.stop_solves()
        raise
    finally:
        try:
            if own:
                executor.shutdown(wait=True)
        finally:
            if runner is not None:  # after the pool: its processes ask the stop until they end
                runner.close()
    advice.search["seconds"] = round(time.monotonic() - started, 1)
    return advice


def _advise(problem, shifts, options, moves, excluded, names, runner: _Runner) -> ClockAdvice:
    objective = options.objective
    screen = options.scoring_options()
    deadline = None if options.search_limit_s is None else runner.started + options.search_limit_s
    # the incumbent: the unmoved day with a longer round budget, then re-searched as every candidate is
    base = runner.run([(full_solve, (problem, (), options.incumbent_options()))])[0]
    if isinstance(base, ItuError):
        raise base
    base_routes = [route_order(problem, r) for r in base.routes]
    base_unserved = len(base.unserved)
    most = min(shifts.limits.most_moved or options.most_moves, len({m.destination for m in moves}))
    screens = 0
    singles_tried = 0  # single moves whose scoring solve ran (fewer than offered past search_limit_s)

    def grow(parents: list[_Candidate], tries: Callable[[_Candidate], list[Move]]) -> list[_Candidate]:
        nonlocal screens, singles_tried
        calls, owners = [], []
        for p, parent in enumerate(parents):
            calls.append((screen_solve, (problem, parent.moves, parent.routes, (), screen, objective)))
            owners.append((p, None))
            for move in tries(parent):
                calls.append((screen_solve, (problem, tuple(sorted(parent.moves + (move,))), parent.routes, (move,),
                                             screen, objective)))
                owners.append((p, move))
        results = runner.run(calls, deadline)
        screens += sum(1 for r in results if r is not None)
        singles_tried += sum(1 for (p, move), r in zip(owners, results)
                             if move is not None and r is not None and not parents[p].moves)
        references = {p: r for (p, move), r in zip(owners, results) if move is None}
        children: dict[frozenset, _Candidate] = {}
        for (p, move), result in zip(owners, results):
            if move is None:
                continue
            reference = references[p]
            if result is None or reference is None:  # dropped at the search's time limit: not scored
                continue
            if isinstance(result, ItuError) or isinstance(reference, ItuError):
                reason = str(result if isinstance(result, ItuError) else reference)
                if not parents[p].moves:
                    excluded.append({**move.to_dict(names), "reason": reason})
                continue
            if result["unserved"] > base_unserved:
                if not parents[p].moves:
                    excluded.append({**move.to_dict(names), "reason": f"{result['unserved'] - base_unserved} more "
                                                                      "trips could not be served"})
                continue
            parent = parents[p]
            estimate = parent.estimate + reference["score"] - result["score"]
            key = frozenset(parent.moves + (move,))
            if key not in children or children[key].estimate < estimate:
                children[key] = _Candidate(tuple(sorted(key)), estimate, result["routes"])
        return sorted(children.values(), key=lambda c: (-c.estimate, c.moves))

    # every single move, scored against the incumbent re-searched alike
    root = _Candidate((), 0.0, base_routes)
    singles = grow([root], lambda parent: coarse_first(moves))
    single_estimate = {c.moves[0]: c.estimate for c in singles}
    promising = promising_moves(singles, options.breadth, options.moves_per_destination)
    levels = [singles]
    beam = singles[:options.beam_width]
    while beam and len(levels) < most and (deadline is None or time.monotonic() < deadline):
        def tries(parent: _Candidate) -> list[Move]:
            taken = {m.destination for m in parent.moves}
            return [m for m in promising if m.destination not in taken]

        grown = grow(beam, tries)
        if not grown:
            break
        levels.append(grown)
        beam = grown[:options.beam_width]

    # confirm: the best sets of each size and the unmoved day, solved in full over the seeds
    sets: list[tuple[Move, ...]] = [()]
    for level in levels:
        for candidate in level[:options.confirm_per_size]:
            if candidate.moves not in sets:
                sets.append(candidate.moves)
    plans = _confirm(problem, sets, options, runner)
    baseline = plans[()]
    if isinstance(baseline, ItuError):
        raise baseline

    def saving_of(key) -> dict | None:
        result = plans.get(key)
        if result is None or isinstance(result, ItuError):
            return None
        return _saving(baseline, result, objective)

    best_by_size: dict[int, tuple[Move, ...]] = {}
    for key in sets[1:]:
        s = saving_of(key)
        if s is None:
            continue
        size = len(key)
        if size not in best_by_size or s["rank"] > saving_of(best_by_size[size])["rank"]:
            best_by_size[size] = key
    per_move = (options.least_saving_per_move
                + options.least_share_per_move * statistics.median(p.cost.total for p in baseline))
    choice, value = (), 0.0
    for size, key in sorted(best_by_size.items()):
        worth = saving_of(key)["rank"] - per_move * size
        if worth > value + 1e-9:
            choice, value = key, worth
    # each chosen move's own part: solved alone and left out of the set
    parts = {key for move in choice for key in (tuple(sorted(set(choice) - {move})), (move,))} if len(choice) > 1 \
        else set()
    missing = [key for key in parts if key not in plans]
    plans.update(_confirm(problem, missing, options, runner))
    chosen = plans[choice]
    contributions = []
    if len(choice) == 1:
        s = saving_of(choice)
        contributions.append({**choice[0].to_dict(names), "alone": s, "marginal": s,
                              "screened": _round(single_estimate.get(choice[0]))})
    else:
        for move in choice:
            whole = [p.cost.total for p in chosen]
            without = plans[tuple(sorted(set(choice) - {move}))]
            marginal = ([a.cost.total - b for a, b in zip(without, whole)]
                        if not isinstance(without, ItuError) else None)
            contributions.append({**move.to_dict(names), "alone": saving_of((move,)),
                                  "marginal": _spread(marginal) if marginal else None,
                                  "screened": _round(single_estimate.get(move))})
    base_plan, chosen_plan = _median_plan(baseline, objective), _median_plan(chosen, objective)
    times = road_times(base_plan, chosen_plan)
    curve = [{"moves": 0, "set": [], "screened": 0.0, "saving": saving_of(())}]
    for size, level in enumerate(levels, start=1):
        if not level:  # no move could be tried at all
            continue
        key = best_by_size.get(size)
        curve.append({"moves": size,
                      "set": [m.to_dict(names) for m in (key or level[0].moves)],
                      "screened": _round(level[0].estimate),
                      "saving": saving_of(key) if key else None})
    return ClockAdvice(
        problem_name=problem.name, objective=objective, moves=list(choice), names=names,
        saving=saving_of(choice), contributions=contributions,
        before=plan_figures(base_plan), after=plan_figures(chosen_plan), curve=curve,
        excluded=sorted(excluded, key=lambda e: (e["name"], e["minutes"])),
        vehicles_by_time={"times": [format_clock(t) for t in times],
                          "before": vehicles_on_road(base_plan, times), "after": vehicles_on_road(chosen_plan, times)},
        passengers={"before": passenger_impact(problem, base_plan),
                    "after": passenger_impact(apply_moves(problem, choice), chosen_plan)},
        search={"moves_offered": len(moves) + len(excluded), "moves_tried": singles_tried, "screening_solves": screens,
                "sets_confirmed": len(sets), "full_solves": sum(len(v) for v in plans.values()
                                                              if not isinstance(v, ItuError)),
                "least_saving_per_move": round(per_move, 2),
                "seeds": list(range(options.seeds)), "time_limit_s": options.time_limit_s,
                "max_rounds": options.max_rounds, "screen_rounds": options.screen_rounds,
                "search_limit_s": options.search_limit_s},
        baseline_plan=base_plan, recommended_plan=chosen_plan)


def coarse_first(moves: Sequence[Move]) -> list[Move]:
    """``moves`` in the order they are scored: every destination's largest moves either way first,
    then the others coarse to fine (multiples of 15 minutes before those of 10, before the rest),
    taking the destinations in turn at each step. A search stopped at its time limit has then tried
    every destination, at a coarser step, rather than some destinations at every minute and the
    rest not at all."""
    by_destination: dict[str, list[Move]] = {}
    for move in moves:
        by_destination.setdefault(move.destination, []).append(move)

    def coarseness(move: Move, extremes: tuple[float, float]) -> tuple:
        if move.minutes in extremes:
            return (0, -abs(move.minutes))
        step = next((k for k, unit in enumerate((15, 10)) if move.minutes % unit == 0), 2)
        return (1 + step, -abs(move.minutes), move.minutes)

    queues = []
    for own in by_destination.values():
        extremes = (min(m.minutes for m in own), max(m.minutes for m in own))
        queues.append(sorted(own, key=lambda m: coarseness(m, extremes)))
    ordered = []
    for k in range(max((len(q) for q in queues), default=0)):
        ordered.extend(q[k] for q in queues if k < len(q))
    return ordered


def promising_moves(singles: Sequence[_Candidate], breadth: int | None, per_destination: int) -> list[Move]:
    """The moves tried when growing a set: the best ``per_destination`` moves of each of the
    ``breadth`` destinations whose best single move scored highest. Taking the best moves overall
    instead would let one destination's many good minutes crowd out every other destination."""
    by_destination: dict[str, list[Move]] = {}
    for candidate in singles:  # best first
        by_destination.setdefault(candidate.moves[0].destination, []).append(candidate.moves[0])
    chosen = list(by_destination.values())[:breadth or len(by_destination)]
    return [move for moves in chosen for move in moves[:per_destination]]


def _confirm(problem: Problem, sets: Sequence[tuple[Move, ...]], options: ClockOptions, runner: _Runner) -> dict:
    calls = [(full_solve, (problem, key, options.solve_options(seed))) for key in sets for seed in range(options.seeds)]
    results = runner.run(calls)
    out: dict = {}
    for k, key in enumerate(sets):
        plans = results[k * options.seeds:(k + 1) * options.seeds]
        failed = next((p for p in plans if isinstance(p, ItuError)), None)
        out[key] = failed if failed is not None else plans
    return out


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _spread(values: Sequence[float]) -> dict:
    return {"median": round(statistics.median(values), 2), "min": round(min(values), 2),
            "max": round(max(values), 2), "by_seed": [round(v, 2) for v in values]}


def _saving(baseline: Sequence[Plan], plans: Sequence[Plan], objective: str) -> dict:
    """The saving in pounds a day seed by seed (the unmoved day and the moved one solved with the
    same seed): median, spread and each seed; the vehicles saved; and ``rank``, the median saving by
    the objective, which orders sets."""
    pounds = [b.cost.total - p.cost.total for b, p in zip(baseline, plans)]
    out = _spread(pounds)
    base = statistics.median(b.cost.total for b in baseline)
    out["percent"] = round(100 * statistics.median(pounds) / base, 2) if base else None
    out["vehicles_saved_median"] = statistics.median(b.vehicles_used - p.vehicles_used
                                                     for b, p in zip(baseline, plans))
    out["distinguishable"] = out["min"] > 0 or out["max"] < 0
    out["rank"] = round(statistics.median(score_of(b, objective) - score_of(p, objective)
                                          for b, p in zip(baseline, plans)), 2)
    return out


def _median_plan(plans: Sequence[Plan], objective: str) -> Plan:
    ranked = sorted(plans, key=lambda p: score_of(p, objective))
    return ranked[(len(ranked) - 1) // 2]
