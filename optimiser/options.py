"""How to search: the options of one solve and the search's parameters, all as data.

``SolveOptions`` is what a caller sets (time, seed, workers, which improvement); its
``parameters`` field holds the search's tuning, three frozen dataclasses that are passed down
to the code that uses them (the compiled kernels take them as arguments), so a benchmark or a
test changes a parameter by building other options, never by patching a module. Every value
is checked when the dataclass is built. The figures behind the defaults are in docs/lab/.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Callable, Protocol

from .errors import ProblemError

FIRST_SOLUTION_STRATEGIES = ("BY_SIZE", "TIME_ORDERED_INSERTION", "PARALLEL_CHEAPEST_INSERTION",
                             "LOCAL_CHEAPEST_INSERTION", "LOCAL_CHEAPEST_COST_INSERTION", "SAVINGS", "PATH_CHEAPEST_ARC",
                             "GLOBAL_CHEAPEST_ARC", "AUTOMATIC")
METAHEURISTICS = ("GUIDED_LOCAL_SEARCH", "SIMULATED_ANNEALING", "TABU_SEARCH", "GREEDY_DESCENT", "AUTOMATIC")


class CancelToken(Protocol):
    """Anything with ``is_set()``, e.g. a ``threading.Event``: set, the search stops early."""

    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class Progress:
    """What a long solve, comparison or set of variants reports as it goes.

    A solve reports each time its search finds a better plan: ``best_cost``, in pounds, is what
    that plan costs, contract payments for trips not placed yet included (a trip no contract
    carries costs nothing while unserved, so a plan that serves it can cost more); a comparison or
    a set of variants reports each
    solve it finishes (``done`` of ``total``) with the elapsed time so far. ``vehicles_by_type``:
    how many vehicles of each type the best plan uses, where the search says."""

    elapsed_s: float
    best_cost: float | None
    time_limit_s: float
    worker: int = 0
    done: int | None = None
    total: int | None = None
    vehicles_by_type: dict[str, int] | None = None


#: The one progress callback type of the public API.
ProgressCallback = Callable[[Progress], None]


def _check_share(owner: str, name: str, value: float, low_open: bool = False) -> None:
    if not (math.isfinite(value) and (0 < value if low_open else 0 <= value) and value <= 1):
        raise ProblemError(f"{name} must be a share between 0 and 1, not {value!r}", where=f"{owner}.{name}")


def _check_positive(owner: str, name: str, value: float, allow_zero: bool = False) -> None:
    if not (math.isfinite(value) and (value >= 0 if allow_zero else value > 0)):
        raise ProblemError(f"{name} must be {'zero or more' if allow_zero else 'positive'}, not {value!r}",
                           where=f"{owner}.{name}")


@dataclass(frozen=True)
class RuinRecreateParameters:
    """The compiled ruin-and-recreate search (engine/ruin_recreate.py). Defaults were chosen on
    the tuning halves of the a/b and Cordeau-Laporte 2003 families and the generated 2,000-trip
    day, and kept only where they also helped the validation halves (benchmarks/families.py,
    docs/lab/)."""

    #: Related trips kept per trip for the removal moves.
    neighbours: int = 40
    #: Most trips taken out in one round on days below ``large_day_from_trips`` (at most a
    #: quarter of the trips on small days).
    most_removed: int = 20
    #: A candidate place is skipped at random with this probability ("blinks", Christiaens and
    #: Vanden Berghe 2020), which varies the recreation between rounds.
    blink: float = 0.01
    #: With more routes than this, a trip is first tried only in routes that carry a related trip.
    near_routes_from: int = 24
    #: Share of rounds that put trips back at any price: one trip alone never pays for opening a
    #: vehicle, several together may.
    forced_rounds: float = 0.2
    #: Share of rounds that take out one whole route (a vehicle emptied saves its day rate).
    whole_route_rounds: float = 0.05
    #: From this many trips a day is "large": smaller rounds, a hotter start and a warmer end
    #: (a few minutes are too few rounds per trip to profit from a cold end), and no going back
    #: to the best routes.
    large_day_from_trips: int = 500
    #: Most trips taken out in one round on a large day.
    large_day_most_removed: int = 10
    #: The start temperature as a multiple of the average cost of a placed trip, small and large
    #: days. Small days start hot (twice a trip's cost): on whole-day horizons a cooler start
    #: froze the search within seconds several percent above the best known.
    start_temperature: float = 2.0
    large_day_start_temperature: float = 1 / 5
    #: How many times colder the end temperature is than the start: small days cool to a
    #: three-hundredth, large days to a third.
    cooling_ratio: float = 300.0
    large_day_cooling_ratio: float = 3.0
    #: On small days, once this share of the search's time (or round budget) passes without a new
    #: best, the search goes back to its best routes rather than wander on from worse ones.
    back_to_best_after: float = 0.01
    #: After every batch of rounds, exchange route ends where both vehicles are empty and that pays.
    exchange_ends: bool = True
    #: A search from routes that have already cooled (the second phase of a day split by duty)
    #: starts at its end temperature and cools on to this share of it.
    cooled_end: float = 0.01
    #: Rounds per batch when the search runs to a round budget (on the clock, batches adapt to
    #: about a tenth of a second).
    budget_batch: int = 8
    #: Time kept back at the end of the search to read its routes back into a plan, price and
    #: check it: ``read_back_least_s`` plus ``read_back_scale`` times the trips to the power 1.5.
    #: Timed from the search's end to the plan (one core of this machine, idle; six solves of
    #: each size): 0.06 to 0.10 s at 200 trips, 0.07 to 0.15 s at 600, 0.14 to 0.30 s at 2,000;
    #: more is kept back (0.12 s, 0.20 s and 0.73 s). Until OR-Tools no longer read the routes back (0.55
    #: to 0.61 s at 2,000), 0.05 s plus 2e-5 a trip to the power 1.5 left a 12 s solve of 2,000
    #: trips idle for 1.5 s of it.
    read_back_least_s: float = 0.1
    read_back_scale: float = 7e-6
    #: With two or more workers side by side on one day, for the last this share of the time every
    #: worker searches on from the best plan found so far, cooled (0: each searches alone to the
    #: end). Off: 0.2 helped the Cordeau-Laporte tuning and validation trios at 60 s, but moved the
    #: generated days' validation half only within noise; the a/b set is not yet measured
    #: (docs/lab/search-experiments.md).
    portfolio_restart_share: float = 0.0

    def read_back_reserve_s(self, trips: int, time_limit_s: float) -> float:
        """Seconds kept back from a search of ``trips`` trips for reading back its routes: at most
        a fifth of its ``time_limit_s``, so that a short limit on a large day still searches (the
        reading then runs past the limit rather than leave every trip unplaced)."""
        return min(self.read_back_least_s + self.read_back_scale * trips ** 1.5, 0.2 * time_limit_s)

    def __post_init__(self):
        owner = "parameters.ruin_recreate"
        for name in ("neighbours", "most_removed", "near_routes_from", "large_day_from_trips",
                     "large_day_most_removed", "budget_batch"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ProblemError(f"{name} must be a whole number of at least 1, not {value!r}",
                                   where=f"{owner}.{name}")
        for name in ("blink", "forced_rounds", "whole_route_rounds", "back_to_best_after",
                     "portfolio_restart_share"):
            _check_share(owner, name, getattr(self, name))
        if self.portfolio_restart_share >= 1:
            raise ProblemError("portfolio_restart_share must leave time for the first part (below 1)",
                               where=f"{owner}.portfolio_restart_share")
        if self.whole_route_rounds > 0.45:  # the other three ways of choosing trips share the rest
            raise ProblemError("whole_route_rounds must be at most 0.45", where=f"{owner}.whole_route_rounds")
        _check_share(owner, "cooled_end", self.cooled_end, low_open=True)
        for name in ("start_temperature", "large_day_start_temperature"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
                raise ProblemError(f"{name} must be a number above 0 (a multiple of the average cost of a "
                                   f"placed trip), not {value!r}", where=f"{owner}.{name}")
        for name in ("cooling_ratio", "large_day_cooling_ratio"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 1):
                raise ProblemError(f"{name} must be at least 1 (the end no hotter than the start)",
                                   where=f"{owner}.{name}")
        for name, most in (("read_back_least_s", 60.0), ("read_back_scale", 1e-3)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= most:
                raise ProblemError(f"{name} must be a number from 0 to {most:g}, not {value!r}",
                                   where=f"{owner}.{name}")


@dataclass(frozen=True)
class DecompositionParameters:
    """How large days are split (optimiser/decompose/): regions in space, sides of a break in
    time, and the time each phase gets."""

    #: Trips per region when a day is split by itself.
    region_trips: int = 2_000
    #: A day is split into regions by itself from this many trips (SolveOptions.regions None).
    regions_from_trips: int = 4_000
    #: How far (a share of the trips being halved) a cut may move to keep one place's trips together.
    cut_slack: float = 0.1
    #: Share of the time kept for searching the seams between regions again, when that is at
    #: least ``seam_least_s`` seconds.
    seam_share: float = 0.2
    seam_least_s: float = 5.0
    #: Seconds kept back per trip of the largest part for what follows the parts' searches:
    #: sending their plans back, joining and checking them. Each part counts its own start
    #: (arriving, reading its model) and its plan's reading back and pricing within its limit.
    #: On the generated 2,000-trip day, two sides at 60 s: joining and checking took 0.10 s and the
    #: solve ended at 58.5 to 59.4 s; at 0.006 (before each part counted its start) at 56.6 s.
    overhead_s_per_trip: float = 0.002
    #: A day of at least this many trips searched by two or more workers is split by duty when its
    #: fleet works split shifts: the duties before and after the break, one worker each.
    duty_split_from_trips: int = 1_000
    #: ... and only if each side of the break holds at least this share of the day's trips.
    duty_split_least_share: float = 0.25
    #: Most duties reaching across the break (a single all-day duty, say) to try on each side.
    duty_split_most_spanning: int = 8
    #: Share of the time kept, on a day split by duty, for searching each side again priced as the
    #: joined plan prices it, when that leaves at least ``second_phase_least_s`` seconds.
    second_phase_share: float = 0.15
    second_phase_least_s: float = 10.0
    #: Seconds between the best costs a part sends back while it searches.
    progress_every_s: float = 1.0
    #: A part still running this long after it was due (its search time and its overhead from
    #: when it was sent) is told to stop, with every part; one still running twice this long
    #: after is given up and its trips go to contracts, so the solve ends whatever a part does.
    #: At least twice ``StrategyParameters.finish_past_limit_s``: a part may run two bounded
    #: OR-Tools solves past its limit (a fallback construction, then finishing it), and is given
    #: up only when it is stuck elsewhere; its clock also counts the part's start-up.
    part_overrun_s: float = 120.0

    def __post_init__(self):
        owner = "parameters.decomposition"
        for name in ("region_trips", "regions_from_trips", "duty_split_from_trips", "duty_split_most_spanning"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ProblemError(f"{name} must be a whole number of at least 1, not {value!r}",
                                   where=f"{owner}.{name}")
        for name in ("cut_slack", "duty_split_least_share"):
            _check_share(owner, name, getattr(self, name))
        for name in ("seam_share", "second_phase_share"):
            _check_share(owner, name, getattr(self, name))
            if getattr(self, name) >= 1:
                raise ProblemError(f"{name} must leave time for the first phase (below 1)", where=f"{owner}.{name}")
        for name in ("seam_least_s", "overhead_s_per_trip", "second_phase_least_s", "progress_every_s"):
            _check_positive(owner, name, getattr(self, name), allow_zero=True)
        _check_positive(owner, "part_overrun_s", self.part_overrun_s)


@dataclass(frozen=True)
class StrategyParameters:
    """Which construction and improvement a day gets by its size, when the options leave it open."""

    #: From here OR-Tools' LOCAL_CHEAPEST_INSERTION builds first routes rather than
    #: PARALLEL_CHEAPEST_INSERTION (which needs 28 s on 200 trips where LOCAL needs 6 s).
    large_day_trips: int = 150
    #: From here our own construction builds first routes (OR-Tools' do not finish in 30 s on 400).
    county_day_trips: int = 300
    #: From here, when OR-Tools improves the day, it does so part by part rather than on the whole model.
    parts_day_trips: int = 1000
    #: Seconds past the time limit that OR-Tools may take to finish a construction the limit cut
    #: short, to build one in place of routes it could not read, or to read and price ours: its
    #: own constructions have no cancel, and one on a 500-trip side of a day ran for minutes on a
    #: busy machine while the whole solve job waited for it.
    finish_past_limit_s: int = 60
    #: Seconds past the time limit a portfolio waits for its other searches once it holds a plan:
    #: a worker process still starting then (a second or more on a busy machine, longer than a
    #: short limit) or still in an OR-Tools construction is stopped, so the solve ends on time.
    portfolio_wait_past_limit_s: float = 0.5
    #: Below this time limit a day is searched once, whatever ``SolveOptions.workers`` says: a
    #: worker process took 1.4 to 1.5 s to start and load the search on an idle 2-core machine,
    #: and meanwhile takes a core from the first search. At 1 s the portfolio's plans were dearer
    #: than one search's; from 2 s on within the seeds' spread (examples/rutland, five seeds;
    #: docs/lab/).
    portfolio_least_s: float = 3.0

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "float":  # seconds: any number in range
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 600:
                    raise ProblemError(f"{f.name} must be a number from 0 to 600, not {value!r}",
                                       where=f"parameters.strategy.{f.name}")
            elif not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ProblemError(f"{f.name} must be a whole number of at least 1, not {value!r}",
                                   where=f"parameters.strategy.{f.name}")


@dataclass(frozen=True)
class SearchParameters:
    """The search's tuning, carried in ``SolveOptions.parameters``."""

    ruin_recreate: RuinRecreateParameters = field(default_factory=RuinRecreateParameters)
    decomposition: DecompositionParameters = field(default_factory=DecompositionParameters)
    strategy: StrategyParameters = field(default_factory=StrategyParameters)

    def __post_init__(self):
        for name, kind in (("ruin_recreate", RuinRecreateParameters), ("decomposition", DecompositionParameters),
                           ("strategy", StrategyParameters)):
            if not isinstance(getattr(self, name), kind):
                raise ProblemError(f"{name} must be a {kind.__name__}", where=f"parameters.{name}")


@dataclass(frozen=True)
class SolveOptions:
    """How long and how to search. Checks itself on construction."""

    time_limit_s: float = 30.0
    seed: int = 0
    #: Searches run side by side in separate processes (a portfolio); the best plan wins.
    workers: int = 1
    #: Stop OR-Tools' search after this many improving solutions: with it, a run is deterministic
    #: for its seed (and OR-Tools' search is used rather than ruin and recreate).
    max_solutions: int | None = None
    #: Stop ruin and recreate after this many rounds (the time limit still applies): with it, a
    #: single-worker run is deterministic for its seed, whatever the machine's speed.
    max_rounds: int | None = None
    #: OR-Tools' first-solution strategy; BY_SIZE chooses by the number of trips.
    first_solution: str = "BY_SIZE"
    metaheuristic: str = "GUIDED_LOCAL_SEARCH"
    #: Further OR-Tools search parameters as (dotted field name, value) pairs, for experiments.
    tuning: tuple = ()
    check: bool = True
    #: On days built by TIME_ORDERED_INSERTION, re-solve parts of a few routes at a time with
    #: OR-Tools instead of its local search on the whole day; None: by size.
    improve_by_parts: bool | None = None
    #: Searches at once on an executor, or processes searching parts at once (1: in this process).
    part_workers: int = 1
    #: Improve our own first routes by ruin and recreate rather than OR-Tools' local search or
    #: parts; OR-Tools then only prices the result. None: on, unless improve_by_parts or
    #: max_solutions is set or an OR-Tools first-solution strategy is named.
    ruin_and_recreate: bool | None = None
    #: Plan the day as this many regions side by side: 1 never splits; None splits by size.
    regions: int | None = None
    #: The search's tuning (see SearchParameters).
    parameters: SearchParameters = field(default_factory=SearchParameters)
    #: With start routes (``solve(start_routes=...)``): the trips they leave out are first put in
    #: where each costs least, then the search improves the whole. Used to re-place the trips a
    #: change touched (a moved bell) into routes planned before the change, rather than leave them
    #: to contracts until the search happens upon them.
    place_left_out: bool = False

    def __post_init__(self):
        if not (isinstance(self.time_limit_s, (int, float)) and self.time_limit_s > 0
                and math.isfinite(self.time_limit_s)):
            raise ProblemError(f"time limit {self.time_limit_s} must be a positive number of seconds",
                               where="options.time_limit_s")
        if self.workers < 1:
            raise ProblemError("workers must be at least 1", where="options.workers")
        if self.part_workers < 1:
            raise ProblemError("part_workers must be at least 1", where="options.part_workers")
        if self.regions is not None and self.regions < 1:
            raise ProblemError("regions must be at least 1", where="options.regions")
        if self.max_solutions is not None and self.max_solutions < 1:
            raise ProblemError("max_solutions must be at least 1", where="options.max_solutions")
        if self.max_rounds is not None and self.max_rounds < 1:
            raise ProblemError("max_rounds must be at least 1", where="options.max_rounds")
        if self.first_solution not in FIRST_SOLUTION_STRATEGIES:
            raise ProblemError(f"unknown first-solution strategy {self.first_solution!r}; one of "
                               f"{', '.join(FIRST_SOLUTION_STRATEGIES)}", where="options.first_solution")
        if self.metaheuristic not in METAHEURISTICS:
            raise ProblemError(f"unknown metaheuristic {self.metaheuristic!r}; one of {', '.join(METAHEURISTICS)}",
                               where="options.metaheuristic")
        if not isinstance(self.parameters, SearchParameters):
            raise ProblemError("parameters must be a SearchParameters", where="options.parameters")
