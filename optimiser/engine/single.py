"""One day planned as a whole: screening, the search (one, or a portfolio side by side), the plan.

Every plan goes through the independent checker before it is returned.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import queue as queue_module
import random
import threading
import time
from dataclasses import replace
from typing import Sequence

from optimiser.checker import checked_plan
from optimiser.domain.model import Problem, Trip
from optimiser.domain.plan import ContractedTrip, Plan, RouteOrder, SolveRecord, UnservedTrip, build_plan
from optimiser.errors import ItuError, ProblemError, SolveCancelled, SolveFailed
from optimiser.options import CancelToken, Progress, ProgressCallback, SolveOptions

from .ortools_search import solve_model
from .screening import assigned_vehicle_name, screen_trip, why_dropped
from .search_model import COST_UNITS_PER_POUND, build_search_model, plan_vehicle_numbers, vehicle_list

log = logging.getLogger(__name__)

#: A first plan found this late in the time limit means construction was still running at the end.
CONSTRUCTION_CUT_SHARE = 0.97


def resolve_whole_day_options(options: SolveOptions, searchable_trips: int, *, start_routes: bool = False
                              ) -> SolveOptions:
    """The options with what they leave open decided, for a day searched whole with
    ``searchable_trips`` trips a vehicle could serve: which first routes, which improvement, and
    whether a county-sized day's cores search parts of one plan together."""
    if start_routes:
        options = replace(options, regions=1, ruin_and_recreate=True, first_solution="TIME_ORDERED_INSERTION",
                          improve_by_parts=False)
    sizes = options.parameters.strategy
    if options.ruin_and_recreate is None:
        # by default our own search improves our own first routes, unless parts were asked for, or
        # a number of solutions (which makes OR-Tools' search deterministic; ours runs on the clock)
        options = replace(options, ruin_and_recreate=not options.improve_by_parts and options.max_solutions is None
                          and options.first_solution in ("BY_SIZE", "TIME_ORDERED_INSERTION"))
    if options.first_solution == "BY_SIZE":
        size = searchable_trips
        options = replace(options, first_solution=(
            "TIME_ORDERED_INSERTION" if size >= sizes.county_day_trips or options.ruin_and_recreate
            else "LOCAL_CHEAPEST_INSERTION" if size >= sizes.large_day_trips else "PARALLEL_CHEAPEST_INSERTION"))
    if options.first_solution != "TIME_ORDERED_INSERTION":
        options = replace(options, ruin_and_recreate=False)  # it improves our own first routes only

    if options.improve_by_parts is None:
        options = replace(options, improve_by_parts=not options.ruin_and_recreate
                          and searchable_trips >= sizes.parts_day_trips)
    if (options.first_solution == "TIME_ORDERED_INSERTION" and options.improve_by_parts and options.workers > 1
            and options.part_workers == 1):
        # a county-sized day: the cores search parts of one plan together rather than each a plan
        options = replace(options, part_workers=options.workers)
    if options.workers > 1 and options.part_workers == 1 and options.time_limit_s < sizes.portfolio_least_s:
        # too short for a portfolio: its other searches would still be starting when the time is up
        options = replace(options, workers=1)
    return options


def improvement_of(options: SolveOptions) -> str:
    """The name of the improvement resolved options run, as the plan's solve record gives it."""
    return ("ruin_and_recreate" if options.ruin_and_recreate else "parts" if options.improve_by_parts
            else "ortools_local_search")


def solve_single(problem: Problem, options: SolveOptions, *, on_progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None, executor=None, start_routes: Sequence[RouteOrder] | None = None,
                 cooled_start: bool = False) -> Plan:
    """Plan ``problem`` as one day (never split): screen the trips no vehicle can serve, search the
    rest (``options.workers`` searches side by side, the cheapest wins; or parts on ``executor``),
    and give the checked plan. ``optimiser.solve`` documents the arguments; the decomposition of
    large days calls this for each part."""
    started = time.monotonic()
    history: list[tuple[float, float]] = []

    screened: dict[str, str] = {}
    for trip in problem.trips:
        reason = screen_trip(problem, trip)
        if reason:
            screened[trip.id] = reason
    model_trips = [t for t in problem.trips if t.id not in screened]
    start = None
    if start_routes is not None:
        start = start_of(problem, start_routes)
        if any(tid in screened for *_, events in start for _, tid in events):
            raise ProblemError("a start route carries a trip the fleet cannot serve", where="start_routes")
    fleet_size = sum(vt.count for vt in problem.vehicle_types)
    options = resolve_whole_day_options(options, len(model_trips), start_routes=start_routes is not None)

    best_units: float | None = None
    # the trips no vehicle can carry go to their contracts whatever the search does: the progress
    # and the curve report what the plan given now would cost, so they count those contracts too
    screened_contracts = sum((problem.contract_price(t) or (None, 0.0))[1] for t in problem.trips if t.id in screened)

    def relay(worker: int, elapsed: float, value: int, plan_value: int, vehicles: tuple[int, ...] | None = None):
        # ranked by the search's objective, shown as the plan prices it (solve_model's report)
        nonlocal best_units
        if best_units is None or value < best_units:
            best_units = value
            cost = plan_value / COST_UNITS_PER_POUND + screened_contracts
            history.append((round(elapsed, 3), cost))
            if on_progress:
                in_use = None if vehicles is None else {
                    vt.name: n for vt, n in zip(problem.vehicle_types, vehicles) if n}
                on_progress(Progress(elapsed, cost, options.time_limit_s, worker, vehicles_by_type=in_use))

    result = None
    if model_trips and fleet_size:
        if options.workers == 1 or options.part_workers > 1 or executor is not None:
            trips = _ordered_trips(model_trips, options.seed)
            model = build_search_model(problem, trips)
            # the time limit is the whole solve's: the screening and the search model count too
            result = solve_model(model, options,
                                 lambda v, *shown: relay(0, time.monotonic() - started, v, *shown),
                                 (cancel.is_set if cancel else (lambda: False)), executor=executor, start=start,
                                 cooled=cooled_start, deadline=started + options.time_limit_s)
        else:
            result = _portfolio_with_restart(problem, model_trips, options, relay, cancel, start, cooled_start,
                                             started)
        if result is None and not (cancel and cancel.is_set()):
            raise SolveFailed(f"no first plan for {len(model_trips)} trips within the time limit of "
                              f"{options.time_limit_s:g} s; allow more time", where="options.time_limit_s")
        if result is None:
            raise SolveCancelled("the solve was cancelled before a first plan was found")

    # The first plan arrives when construction ends. If it only arrives as the time limit
    # expires, construction was cut short: trips not reached yet went to contracts untried.
    # No first plan reported at all means OR-Tools gave up construction and dropped every trip.
    cancelled_early = bool(cancel and cancel.is_set())
    searched = bool(model_trips and fleet_size) and not cancelled_early
    # Our own constructions say themselves whether they were cut; one may end well after 97% of
    # the limit, since only the time for making the plan of its routes is kept from it.
    construction_complete = not searched or bool(result and not result.construction_cut) and bool(
        history and (options.ruin_and_recreate or history[0][0] < CONSTRUCTION_CUT_SHARE * options.time_limit_s))

    vts = problem.vehicle_types
    orders, served = [], set()
    vehicles = vehicle_list(problem)
    routes = result.routes if result else []
    # OR-Tools has one vehicle per (vehicle, duty, layout): a route carrying a trip assigned to a
    # vehicle keeps that vehicle's number, the rest are numbered from 0 in each duty around those
    used = [(v, any(problem.assigned_vehicle(tid) for _, tid in events)) for v, events in routes]
    for (v, events), number in zip(routes, plan_vehicle_numbers(vehicles, used)):
        ti, _, duty, li = vehicles[v]
        orders.append(RouteOrder(vts[ti], number, vts[ti].layouts[li],
                                 tuple((kind, problem.trip(tid)) for kind, tid in events), duty))
        served.update(tid for _, tid in events)

    contracted, unserved = [], []
    for trip in problem.trips:
        if trip.id in served:
            continue
        offer = problem.contract_price(trip)
        if trip.id in screened:
            reason = screened[trip.id]
            if offer:
                contracted.append(ContractedTrip(trip.id, trip.service, offer[0].name, offer[1],
                                                 f"the fleet cannot serve it: {reason}"))
            else:
                unserved.append(UnservedTrip(trip.id, trip.service, reason))
        elif offer and not construction_complete:
            contracted.append(ContractedTrip(trip.id, trip.service, offer[0].name, offer[1],
                                             f"not placed in a route before the time limit ran out (routes were "
                                             f"still being built); contracted at £{offer[1]:.2f}: a longer solve "
                                             "may fit it into the fleet"))
        elif offer and assigned_vehicle_name(problem, trip):
            contracted.append(ContractedTrip(trip.id, trip.service, offer[0].name, offer[1],
                                             f"no place found for it on {assigned_vehicle_name(problem, trip)}, the "
                                             f"vehicle it must ride; contracted at £{offer[1]:.2f}"))
        elif offer:
            contracted.append(ContractedTrip(trip.id, trip.service, offer[0].name, offer[1],
                                             f"contract at £{offer[1]:.2f} is cheaper than any place found for it "
                                             "in the fleet's routes"))
        else:
            unserved.append(UnservedTrip(trip.id, trip.service, why_dropped(problem, trip)))

    record = SolveRecord(
        time_limit_s=options.time_limit_s, seed=options.seed, workers=options.workers,
        seconds=round(time.monotonic() - started, 3),
        objective=(result.objective_units / COST_UNITS_PER_POUND) if result else 0.0,
        best_cost_over_time=history, cancelled=bool(cancel and cancel.is_set()),
        construction_complete=construction_complete,
        first_plan_s=history[0][0] if history and construction_complete else None,
        first_solution=options.first_solution, improvement=improvement_of(options),
        ruin_and_recreate=(result.improvement_counts.get("ruin_and_recreate") if result else None),
    )
    return checked_plan(problem, build_plan(problem, orders, contracted, unserved, record), options.check)


def start_of(problem: Problem, orders: Sequence[RouteOrder]) -> list[tuple]:
    """Routes to start a solve from, as plain data a worker process can take: (type index, vehicle
    number, duty, layout index, ((kind, trip id), ...)) per route."""
    type_index = {vt.name: ti for ti, vt in enumerate(problem.vehicle_types)}
    known = {t.id for t in problem.trips}
    seen: set[str] = set()
    used: set[tuple[str, int, int]] = set()
    out = []
    for r, order in enumerate(orders):
        vt = order.vehicle_type
        where = f"start_routes[{r}]"
        if vt.name not in type_index:
            raise ProblemError(f"vehicle type {vt.name!r} is not in the fleet", where=where)
        vt = problem.vehicle_types[type_index[vt.name]]
        if not 0 <= order.vehicle_number < vt.count or not 0 <= order.duty < len(vt.duty_windows):
            raise ProblemError(f"{vt.name} #{order.vehicle_number} in duty {order.duty} is not in the fleet "
                               f"({vt.count} vehicles, {len(vt.duty_windows)} duties)", where=where)
        if order.layout not in vt.layouts:
            raise ProblemError(f"{vt.name} has no layout {order.layout.name!r}", where=where)
        key = (vt.name, order.vehicle_number, order.duty)
        if key in used:
            raise ProblemError(f"{vt.name} #{order.vehicle_number} has two routes in duty {order.duty}", where=where)
        used.add(key)
        on_board: set[str] = set()
        for kind, trip in order.events:
            if trip.id not in known:
                raise ProblemError(f"trip {trip.id!r} is not in the problem", where=where)
            if kind == "pickup" and trip.id not in seen:
                seen.add(trip.id)
                on_board.add(trip.id)
            elif kind == "dropoff" and trip.id in on_board:
                on_board.remove(trip.id)
            else:
                raise ProblemError(f"trip {trip.id!r}: each trip is picked up once, then dropped off on the "
                                   "same route", where=where)
        if on_board:
            raise ProblemError(f"trip {sorted(on_board)[0]!r} is picked up but never dropped off", where=where)
        out.append((type_index[vt.name], order.vehicle_number, order.duty, vt.layouts.index(order.layout),
                    tuple((kind, trip.id) for kind, trip in order.events)))
    return out




def _portfolio_configs(options: SolveOptions) -> list[tuple[SolveOptions, int]]:
    """Each worker searches differently: its own trip order (from the seed) and, for the
    second worker on, another first-solution strategy."""
    alternatives = ["PARALLEL_CHEAPEST_INSERTION", "LOCAL_CHEAPEST_INSERTION", "LOCAL_CHEAPEST_COST_INSERTION"]
    if options.first_solution == "TIME_ORDERED_INSERTION":
        # on a day this size OR-Tools' own constructions do not finish: every worker starts from ours
        return [(options, options.seed + 1000 * w) for w in range(options.workers)]
    others = [a for a in alternatives if a != options.first_solution]
    configs = [(options, options.seed)]
    for w in range(1, options.workers):
        first = others[(w - 1) % len(others)] if options.first_solution in alternatives else options.first_solution
        configs.append((replace(options, first_solution=first), options.seed + 1000 * w))
    return configs




def _ordered_trips(trips: Sequence[Trip], seed: int) -> list[Trip]:
    """OR-Tools has no seed of its own; the order of the trips steers its insertion heuristics."""
    order = list(trips)
    if seed:
        random.Random(seed).shuffle(order)
    return order


def _search_one(problem: Problem, trips_ids: list[str], options: SolveOptions, seed: int, worker: int, send,
                stop, start, cooled: bool, started: float, deadline: float, may_bow_out: bool):
    """One search of a portfolio: ``options`` with its own seed and trip order, until ``deadline``
    (the monotonic clock, system-wide on the platforms we run on, so a worker process reads the
    same clock as its parent); each new best goes to ``send`` as a progress message timed from
    ``started``, the solve's own start, so the curve and the first plan's time count the workers'
    start-up too. With ``may_bow_out`` a search that is ready only after the deadline gives None
    (a worker process; not the first search, nor any in a run with a solution limit)."""
    options = replace(options, seed=seed)  # each worker's own search (ruin and recreate draws from it)
    trips = _ordered_trips([problem.trip(t) for t in trips_ids], seed)
    model = build_search_model(problem, trips)
    if may_bow_out and time.monotonic() >= deadline:
        return None  # started too late (a process on a busy machine): the first search has the time
    return solve_model(model, options,
                       lambda value, *shown: send(("progress", worker, time.monotonic() - started, value, *shown)),
                       stop, start=start, cooled=cooled, deadline=deadline)


def _worker_main(problem: Problem, trips_ids: list[str], options: SolveOptions, seed: int, worker: int,
                 out, cancel_event, start, cooled: bool, started: float, deadline: float, may_bow_out: bool):
    parent = os.getppid()

    def stop() -> bool:
        # a parent killed outright (SIGKILL, or SIGTERM to it alone) cannot stop its daemonic
        # workers; they stop themselves once they are orphaned rather than search on for nobody
        return cancel_event.is_set() or os.getppid() != parent

    result = _search_one(problem, trips_ids, options, seed, worker, out.put, stop, start, cooled, started, deadline,
                         may_bow_out)
    out.put(("result", worker, result))


def _portfolio_with_restart(problem: Problem, trips: Sequence[Trip], options: SolveOptions, relay, cancel, start,
                            cooled: bool, started: float):
    """The portfolio; with ``portfolio_restart_share``, for that last share of the time every
    worker searches on from the best plan of the first part, each with a seed of its own, and the
    cheaper of the two parts' bests is the result."""
    share = options.parameters.ruin_recreate.portfolio_restart_share
    deadline = started + options.time_limit_s
    if not share or not options.ruin_and_recreate or start is not None:
        return _run_portfolio(problem, trips, options, relay, cancel, started, deadline, start, cooled)
    first = _run_portfolio(problem, trips, options, relay, cancel, started,
                           started + options.time_limit_s * (1 - share), None, False)
    offset = time.monotonic() - started
    if first is None or deadline - time.monotonic() < 1.0 or (cancel is not None and cancel.is_set()):
        return first
    vehicles = vehicle_list(problem)
    best = [(*vehicles[v], tuple(events)) for v, events in first.routes]
    again = _run_portfolio(problem, trips, replace(options, seed=options.seed + 500), relay, cancel, started,
                           deadline, best, True)
    chosen = first if again is None or again.objective_units > first.objective_units else again
    counts = dict(chosen.improvement_counts.get("ruin_and_recreate") or {})
    counts["restarted_from_best_at_s"] = round(offset, 3)
    return replace(chosen, improvement_counts={**chosen.improvement_counts, "ruin_and_recreate": counts})


def _run_portfolio(problem: Problem, trips: Sequence[Trip], options: SolveOptions, relay, cancel, started: float,
                   deadline: float, start=None, cooled: bool = False):
    """``options.workers`` searches side by side until ``deadline``, the cheapest result wins. The
    first searches in this process (a thread), the others in processes of their own: a process
    takes a second or more to start and load the search, so a short time limit still gets the
    first search's plan, and the solve does not run past its limit by that start-up. With
    ``max_solutions`` (OR-Tools' deterministic runs) every search is waited for, however late."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    cancel_event = context.Event()
    ids = [t.id for t in trips]
    configs = _portfolio_configs(options)
    on_time = options.max_solutions is None
    # the first search's progress, put at once (a process queue's feeder thread could still hold
    # its last best when the search has ended), its result, or the error it raised
    here_progress: queue_module.SimpleQueue = queue_module.SimpleQueue()
    here_result: list = []
    failure: list[BaseException] = []
    # the first search is stopped only by a cancel or an error here: it ends by itself at the
    # deadline, or once OR-Tools has finished a construction its limit cut (stopped, that would
    # give no plan)
    stop_here = threading.Event()

    def cancelled() -> bool:
        if cancel is not None and cancel.is_set():
            stop_here.set()
            cancel_event.set()
            return True
        return False

    def search_here() -> None:
        worker_options, seed = configs[0]
        try:
            here_result.append(_search_one(problem, ids, worker_options, seed, 0, here_progress.put, stop_here.is_set,
                                           start, cooled, started, deadline, False))
        except BaseException as exc:  # raised in the caller if no other search found a plan
            failure.append(exc)

    heard: set[int] = set()  # the searches that have sent a plan

    def pass_on(message) -> None:
        _, worker, elapsed, value, *shown = message
        heard.add(worker)
        relay(worker, elapsed, value, *shown)

    def pass_on_here() -> None:
        while True:
            try:
                pass_on(here_progress.get_nowait())
            except queue_module.Empty:
                return

    here = threading.Thread(target=search_here, name="itu-portfolio-0", daemon=True)
    here.start()
    processes = []
    results: dict[int, object] = {}
    ended = False
    try:
        for worker, (worker_options, seed) in enumerate(configs[1:], start=1):
            # starting a process waits until it has read its problem (a second or more of
            # imports), while the first search goes on: none starts after a cancel or the deadline
            if cancelled() or (on_time and time.monotonic() >= deadline):
                break
            proc = context.Process(target=_worker_main,
                                   args=(problem, ids, worker_options, seed, worker, out, cancel_event, start,
                                         cooled, started, deadline, on_time),
                                   daemon=True)
            proc.start()
            processes.append(proc)
        wait_past = options.parameters.strategy.portfolio_wait_past_limit_s
        while True:
            pass_on_here()
            if 0 not in results and not here.is_alive():
                pass_on_here()  # its last best, put before it ended
                results[0] = here_result[0] if here_result else None
            if len(results) == len(processes) + 1:
                break
            now = time.monotonic()
            if cancelled() and 0 in results:
                break  # the caller stops: the first search's plan so far is the result
            if on_time and now > deadline:
                # the worker processes still running are told to stop; one that has sent a plan
                # gets ``wait_past`` to send its result (its routes and their price), one that has sent
                # none by now (still starting, or in OR-Tools' construction) is not waited for
                cancel_event.set()
                if 0 in results and (now > deadline + wait_past
                                     or all(w in results or w not in heard for w in range(len(processes) + 1))):
                    break
            try:
                message = out.get(timeout=0.1)
            except queue_module.Empty:
                if 0 in results and all(not p.is_alive() for p in processes) and out.empty():
                    break  # a worker process died without its result
                continue
            if message[0] == "progress":
                pass_on(message)
            else:
                results[message[1]] = message[2]
        ended = True
    finally:
        if len(results) < len(processes) + 1:  # stopped early, or an error here (the relay, an interrupt)
            cancel_event.set()
            if 0 not in results:
                stop_here.set()
        # after an error here the first search is not waited for long: an OR-Tools construction
        # has no cancel (the thread is a daemon)
        here.join(timeout=None if ended else 1.0)
        for worker, proc in enumerate(processes, start=1):
            if worker not in results:
                proc.terminate()  # still starting, or in OR-Tools' construction, which has no cancel
        # a worker that has sent its result still takes half a second to exit: the solve does not
        # wait for that, a thread reaps it
        threading.Thread(target=lambda: [proc.join() for proc in processes], name="itu-portfolio-reaper",
                         daemon=True).start()
    found = [r for r in results.values() if r is not None]
    if failure:
        if not found or not isinstance(failure[0], ItuError):
            raise failure[0]
        log.warning("the first search of a portfolio failed; the others' plan is given: %s", failure[0])
    if not found:
        return None
    return min(found, key=lambda r: r.objective_units)
