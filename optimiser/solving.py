"""``solve``: plan a day, choosing how by its size and the options (``choose_strategy``).

A day is planned whole (engine/single.py), or in parts side by side and joined
(optimiser/decompose/): regions in space for very large days, or the two sides of the break
between split-shift duties for county-sized ones. The choice is made here and only here; the
command line and the service ask ``choose_strategy`` rather than derive it again.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from .decompose.duty_split import DutySide, solve_by_duty, split_by_duty
from .decompose.regions import region_count, solve_by_regions
from .domain.model import Problem, format_clock
from .domain.plan import Plan, RouteOrder
from .engine.single import improvement_of, resolve_whole_day_options, solve_single
from .engine.screening import screen_trip
from .options import CancelToken, ProgressCallback, SolveOptions

SPLITS = ("whole", "regions", "duty")


@dataclass(frozen=True)
class Strategy:
    """How a day will be planned: whole, or in ``parts`` side by side (split by ``split``);
    ``improvement`` and ``first_solution`` are what a whole day's search uses (a part decides its
    own by its size)."""

    split: str
    parts: int
    improvement: str | None = None
    first_solution: str | None = None
    #: The two sides of the break when split by duty.
    sides: tuple[DutySide, ...] | None = field(default=None, compare=False, repr=False)

    def describe(self, trips: int) -> str:
        if self.split == "regions":
            return f"planning {trips} trips as {self.parts} regions"
        if self.split == "duty":
            return (f"planning {trips} trips as two sides of the day, the duties before and after "
                    f"{format_clock(self.sides[0].cut_s)}, side by side")
        return f"planning {trips} trips as one day ({self.improvement.replace('_', ' ')})"


def choose_strategy(problem: Problem, options: SolveOptions | None = None, *, slots: int | None = None,
                    start_routes: bool = False) -> Strategy:
    """How ``solve`` will plan ``problem`` with ``options``. ``slots``: how many searches can run
    at once (None: ``options.workers``); a day is split by duty only with two or more.
    ``start_routes``: the solve starts from given routes, so the day is never split."""
    options = options or SolveOptions()
    split = _split_strategy(problem, options, options.workers if slots is None else slots, start_routes)
    if split is not None:
        return split
    searchable = sum(1 for trip in problem.trips if screen_trip(problem, trip) is None)
    resolved = resolve_whole_day_options(options, searchable, start_routes=start_routes)
    return Strategy("whole", 1, improvement=improvement_of(resolved), first_solution=resolved.first_solution)


def _split_strategy(problem: Problem, options: SolveOptions, slots: int, start_routes: bool) -> Strategy | None:
    """The split ``choose_strategy`` chooses, or None for a day planned whole (whose search the
    whole-day solve settles as it screens the trips: ``solve`` need not screen them twice).
    A day whose trips are assigned to vehicles is never split: its parts rename and renumber
    vehicles, so an assignment would not carry over to them."""
    if start_routes or problem.assigned_vehicles:
        return None
    decomposition = options.parameters.decomposition
    regions = region_count(len(problem.trips), options.regions, decomposition)
    if regions > 1:
        return Strategy("regions", regions)
    if (options.regions is None and slots > 1
            and len(problem.trips) >= decomposition.duty_split_from_trips and options.max_solutions is None
            and options.ruin_and_recreate is not False and not options.improve_by_parts
            and options.first_solution in ("BY_SIZE", "TIME_ORDERED_INSERTION")):
        # a county-sized day on split shifts: each worker searches one side of the break
        # between duties rather than every worker the whole day
        sides = split_by_duty(problem, decomposition)
        if sides is not None:
            return Strategy("duty", len(sides), sides=tuple(sides))
    return None


def solve(problem: Problem, options: SolveOptions | None = None, *,
          on_progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
          executor=None, start_routes: Sequence[RouteOrder] | None = None, cooled_start: bool = False) -> Plan:
    """Plan every trip of ``problem``: fleet routes, contracted trips, unserved trips with reasons.

    ``on_progress`` is called with a ``Progress`` each time the best cost improves; ``cancel``
    (anything with ``is_set()``, e.g. a ``threading.Event``) stops the search early and returns
    the best plan found so far, or raises ``SolveCancelled`` if there is none yet. ``executor``, a
    ``concurrent.futures`` executor such as a Dask client's ``get_executor()``, runs the searches
    side by side (``options.part_workers`` of them at once) instead of local processes: the parts
    of a county-sized day, the regions of a day planned in regions, or the two sides of a
    county-sized day on split shifts.

    ``start_routes`` (routes of this problem's fleet, e.g. another plan's ``RouteOrder``s) is
    where the search starts instead of building first routes; the day is then never split and
    ruin and recreate improves it (it never returns a plan dearer than the start, by the model's
    objective). With ``cooled_start`` the start routes are taken as the end of a search already
    run (another part of the same solve): the search stays at the temperature a search cools to
    rather than heating them again.
    """
    options = options or SolveOptions()
    slots = options.part_workers if executor is not None else options.workers
    strategy = _split_strategy(problem, options, slots, start_routes is not None)
    if strategy is None:
        return solve_single(problem, options, on_progress=on_progress, cancel=cancel, executor=executor,
                            start_routes=start_routes, cooled_start=cooled_start)
    if strategy.split == "regions":
        return solve_by_regions(problem, options, strategy.parts, on_progress=on_progress, cancel=cancel,
                                executor=executor, slots=options.part_workers)
    return solve_by_duty(problem, options, list(strategy.sides), on_progress=on_progress, cancel=cancel,
                         executor=executor, slots=options.part_workers)


