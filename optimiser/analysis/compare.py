"""Separate contracts against integrated planning: the savings and who should pay what.

Three plans for one set of trips and one fleet:

1. as contracted today: every trip at its contract tariff, or at a price per trip or per route
   the council supplies;
2. separate: each service planned on its own with the vehicles it is allowed;
3. integrated: every service planned together on the shared fleet.

Both solved plans use the same solver, the same seeds and the same search per trip: the
integrated plan gets the time limit, and each smaller plan (a service alone, a coalition for
the split) the same seconds per trip (``CompareOptions.search_by_size``). With one time limit
for all, the integrated problem, several times larger than each service alone, would get less
search per trip, and the saving would be biased downwards; with the same seconds per trip a
saving never comes from optimising one side harder than the other. The solver is a heuristic: each
plan is solved with several seeds and the saving is reported as a median with its range; a
saving smaller than the seed-to-seed spread is reported as not distinguishable from zero.
"""
from __future__ import annotations

import os
import statistics
import time
from concurrent.futures import FIRST_COMPLETED, Executor, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

from optimiser.analysis.apportion import Apportionment, apportion
from optimiser.errors import ProblemError, SolveCancelled
from optimiser.domain.model import Problem, Trip
from optimiser.domain.plan import Plan, RouteOrder, route_order, time_route
from optimiser.options import CancelToken, Progress, ProgressCallback, SolveOptions
from optimiser.solving import solve

#: The 2006 efficiency programme's target (Gershon, 7.5%) and what it expected from integrated
#: transport units (7 to 10%); ../shared/docs/domain.md.
GERSHON_TARGET_PERCENT = 7.5
ITU_EXPECTED_PERCENT = (7.0, 10.0)
RIDE_THRESHOLDS_MIN = (45, 60, 75)


@dataclass(frozen=True)
class CompareOptions:
    #: Seconds for each integrated solve (every service together); with ``search_by_size`` each
    #: smaller solve gets its share by trips, else every solve gets this.
    time_limit_s: float = 20.0
    seeds: int = 3
    #: solves run side by side in separate processes (or at once on an executor's slots);
    #: 0: one per core
    workers: int = 0
    #: vehicles each service may use when planned on its own: {service: {vehicle type: count}};
    #: None lets each service hire any vehicle type at the same rates.
    fleet_by_service: Mapping[str, Mapping[str, int]] | None = None
    #: what the council pays today, where known: per trip, and per route (price, trip ids)
    today_trip_prices: Mapping[str, float] = field(default_factory=dict)
    today_route_prices: Sequence[tuple[float, Sequence[str]]] = ()
    #: Shapley value: exact up to 6 services; beyond, this many sampled orders
    shapley_samples: int | None = None
    #: Give each solve the integrated solve's seconds per trip (True), or every solve the whole
    #: time limit (False, the behaviour before 2026-12-04).
    search_by_size: bool = True
    #: The least time any one solve gets when ``search_by_size`` shares the time out (at most
    #: ``time_limit_s``): below a second or two a solve is mostly setting up.
    least_time_s: float = 2.0

    def __post_init__(self):
        if self.seeds < 1:
            raise ProblemError("at least one seed", where="options.seeds")
        if self.time_limit_s <= 0:
            raise ProblemError("time limit must be positive", where="options.time_limit_s")
        if self.workers < 0:
            raise ProblemError("workers must be 0 (one per core) or more", where="options.workers")
        if not self.least_time_s > 0:
            raise ProblemError("least time must be positive", where="options.least_time_s")

    def seconds_for(self, trips: int, all_trips: int) -> float:
        """The time limit of a solve of ``trips`` of the day's ``all_trips`` trips."""
        if not self.search_by_size or all_trips <= 0 or trips >= all_trips:
            return self.time_limit_s
        share = self.time_limit_s * trips / all_trips
        return max(min(self.least_time_s, self.time_limit_s), share)


# ----------------------------------------------------------------------------- sub-problems
def coalition_problem(problem: Problem, services: frozenset, fleet_by_service=None) -> Problem:
    """The trips of ``services`` with the vehicles they may use: with ``fleet_by_service``, the sum
    of the members' allowances of each type (never more than the fleet has); otherwise the whole fleet."""
    trips = tuple(t for t in problem.trips if t.service in services)
    vehicle_types = []
    for vt in problem.vehicle_types:
        if vt.services and not (vt.services & services):
            continue
        count = vt.count
        if fleet_by_service is not None:
            count = min(vt.count, sum(int(fleet_by_service.get(s, {}).get(vt.name, 0)) for s in services))
        vehicle_types.append(replace(vt, count=count))
    name = f"{problem.name} [{' + '.join(sorted(services))}]"
    return Problem(trips, tuple(vehicle_types), problem.matrix, problem.tariffs, name)


def run_solves(jobs: dict, options: CompareOptions, on_progress: ProgressCallback | None,
                executor: Executor | None = None, cancel: CancelToken | None = None) -> dict:
    """Solve every (key -> problem, seed, seconds) job; returns key -> plan.

    On ``executor`` when given (a Dask client's executor spreads the solves over a cluster),
    else in local processes, or one after another when ``options.workers`` is 1."""
    parallel = options.workers or os.cpu_count() or 1
    results = {}
    done = 0
    started = time.monotonic()

    def report() -> None:
        if on_progress:
            on_progress(Progress(time.monotonic() - started, None, options.time_limit_s, done=done, total=len(jobs)))

    if executor is None and (parallel == 1 or len(jobs) == 1):
        for key, (problem, seed, seconds) in jobs.items():
            if cancel is not None and cancel.is_set():
                raise SolveCancelled("comparison cancelled")
            results[key] = solve(problem, SolveOptions(time_limit_s=seconds, seed=seed), cancel=cancel)
            done += 1
            report()
        return results
    import multiprocessing

    from optimiser.decompose.side_by_side import SharedStop, StopCheck

    own_pool = executor is None
    pool = executor or ProcessPoolExecutor(max_workers=min(parallel, len(jobs)),
                                           mp_context=multiprocessing.get_context("spawn"))
    stop = None
    futures: dict = {}
    try:
        # a cancel stops the solves under way too, wherever they run: otherwise each ran out its time
        # limit, holding a cluster's workers (or, here, the wait for the pool) after the job had ended
        stop = None if cancel is None else SharedStop(pool)
        futures = {pool.submit(solve, problem, SolveOptions(time_limit_s=seconds, seed=seed),
                               cancel=None if stop is None else StopCheck(stop.event)): key
                   for key, (problem, seed, seconds) in jobs.items()}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            if cancel is not None and cancel.is_set():
                stop.set()
                stop.withdraw(pending)
                raise SolveCancelled("comparison cancelled")
            for future in finished:
                results[futures[future]] = future.result()
                done += 1
                report()
    except BaseException:
        if stop is not None:  # cancelled, or one solve failed: the others need not run on
            stop.set()
        raise
    finally:
        try:
            if own_pool:
                pool.shutdown(wait=True, cancel_futures=True)
        finally:
            if stop is not None:  # after the pool: its processes ask the event until they end
                # a cluster's solves are not waited for after a cancel: the stop is cleared from
                # the scheduler once they have seen it and ended
                stop.close_when_ended(futures)
    return results


# ----------------------------------------------------------------------------- figures
def ride_minutes(plan: Plan) -> dict[str, tuple[str, float]]:
    """trip id -> (service, minutes on board)."""
    out = {}
    for route in plan.routes:
        boarded = {}
        for stop in route.stops:
            if stop.kind == "pickup":
                boarded[stop.trip_id] = stop.departure_s
            elif stop.kind == "dropoff":
                out[stop.trip_id] = (stop.service, (stop.service_start_s - boarded[stop.trip_id]) / 60.0)
    return out


@dataclass(frozen=True)
class SideFigures:
    """One way of planning (separate or integrated), added up over its plans (one per service when
    separate). Money is the median over seeds; ``cost_by_seed`` shows the spread."""

    cost_by_seed: tuple[float, ...]
    cost: float
    components: Mapping[str, float]
    cost_by_service: Mapping[str, float]
    vehicles: int
    km: float
    driver_hours: float
    assistant_hours: float
    co2_kg: float
    contracted: int
    unserved: int
    rides: Mapping[str, Mapping[str, float | None]]
    vehicles_in_use: Sequence[tuple[str, int]]
    ride_minutes_all: Mapping[str, Sequence[float]]

    def to_dict(self) -> dict:
        return {"cost": self.cost, "cost_by_seed": list(self.cost_by_seed), "components": dict(self.components),
                "cost_by_service": dict(self.cost_by_service), "vehicles": self.vehicles, "km": self.km,
                "driver_hours": self.driver_hours, "assistant_hours": self.assistant_hours, "co2_kg": self.co2_kg,
                "contracted_trips": self.contracted, "unserved_trips": self.unserved,
                "ride_times": {k: dict(v) for k, v in self.rides.items()},
                "vehicles_in_use": [list(x) for x in self.vehicles_in_use]}


def _side_figures(plans_by_seed: Sequence[Sequence[Plan]], problem: Problem) -> tuple[SideFigures, int]:
    """Figures of the median seed; returns them and that seed's index."""
    totals = [sum(p.cost.total for p in plans) for plans in plans_by_seed]
    order = sorted(range(len(totals)), key=lambda i: totals[i])
    median_index = order[(len(order) - 1) // 2]
    plans = plans_by_seed[median_index]
    components = {}
    for p in plans:
        for k, v in p.cost.to_dict().items():
            if k != "total":
                components[k] = components.get(k, 0.0) + v
    by_service: dict[str, float] = {}
    for p in plans:
        for s, f in p.by_service.items():
            by_service[s] = by_service.get(s, 0.0) + f.cost.total
    types = {vt.name: vt for vt in problem.vehicle_types}
    driver_hours = sum(r.duty_s for p in plans for r in p.routes) / 3600.0
    assistant_hours = sum(r.duty_s for p in plans for r in p.routes
                          if types[r.vehicle_type].passenger_assistant) / 3600.0
    rides_by_service: dict[str, list[float]] = {}
    waits: dict[str, list[float]] = {}
    for p in plans:
        for service, minutes in ride_minutes(p).values():
            rides_by_service.setdefault(service, []).append(minutes)
        for s, f in p.by_service.items():
            if f.wait_at_destination_minutes_mean is not None:
                waits.setdefault(s, []).append(f.wait_at_destination_minutes_mean)
    rides = {}
    for service in problem.services:
        r = rides_by_service.get(service, [])
        rides[service] = {"trips_on_fleet": len(r), "mean_minutes": statistics.fmean(r) if r else None,
                          "max_minutes": max(r) if r else None,
                          **{f"share_over_{m}": (sum(1 for x in r if x > m + 1e-9) / len(r)) if r else 0.0
                             for m in RIDE_THRESHOLDS_MIN},
                          "wait_at_destination_mean_minutes": statistics.fmean(waits[service]) if waits.get(
                              service) else None}
    return SideFigures(
        cost_by_seed=tuple(totals), cost=statistics.median(totals), components=components,
        cost_by_service=by_service, vehicles=sum(p.vehicles_used for p in plans), km=sum(p.km for p in plans),
        driver_hours=driver_hours, assistant_hours=assistant_hours, co2_kg=sum(p.co2_kg for p in plans),
        contracted=sum(len(p.contracted) for p in plans), unserved=sum(len(p.unserved) for p in plans),
        rides=rides, vehicles_in_use=vehicles_in_use(plans), ride_minutes_all=rides_by_service), median_index


def vehicles_in_use(plans: Sequence[Plan], slot_minutes: int = 15) -> list[tuple[str, int]]:
    """Vehicles on the road in each ``slot_minutes`` of the day, over ``plans`` together (the
    parts of one side of a comparison): (``HH:MM``, vehicles) steps."""
    spans = [(r.stops[0].service_start_s, r.stops[-1].service_start_s) for p in plans for r in p.routes]
    if not spans:
        return []
    slot = slot_minutes * 60
    first = int(min(s for s, _ in spans) // slot) * slot
    last = int(max(e for _, e in spans) // slot + 1) * slot
    from optimiser.domain.model import format_clock

    return [(format_clock(t), sum(1 for s, e in spans if s < t + slot and e > t)) for t in range(first, last, slot)]


# ----------------------------------------------------------------------------- today
def price_today(problem: Problem, options: CompareOptions) -> dict:
    """What the council pays today: supplied route prices, then trip prices, then tariffs."""
    covered: set[str] = set()
    routes_cost = 0.0
    for i, (price, trip_ids) in enumerate(options.today_route_prices):
        unknown = [t for t in trip_ids if t not in {x.id for x in problem.trips}]
        if unknown:
            raise ProblemError(f"unknown trips {unknown[:3]}", where=f"today_route_prices[{i}]")
        routes_cost += float(price)
        covered.update(trip_ids)
    by_service: dict[str, float] = {}
    unpriced = []
    for trip in problem.trips:
        if trip.id in covered:
            continue
        if trip.id in options.today_trip_prices:
            price = float(options.today_trip_prices[trip.id])
        else:
            offer = problem.contract_price(trip)
            if offer is None:
                unpriced.append(trip.id)
                continue
            price = offer[1]
        by_service[trip.service] = by_service.get(trip.service, 0.0) + price
    return {"cost": routes_cost + sum(by_service.values()), "cost_by_service": by_service,
            "route_prices_total": routes_cost, "unpriced_trips": unpriced,
            "note": ("trips without a supplied price and without a tariff are left out of today's cost"
                     if unpriced else "")}


# ----------------------------------------------------------------------------- contracts
def cheapest_fleet_insertion(problem: Problem, plan: Plan, trip: Trip, *, candidates: int = 150) -> float | None:
    """The least extra fleet cost of carrying ``trip`` in ``plan``: inserted into a route (tried in
    order of added km, each checked exactly), or on a vehicle left unused. None if nowhere fits."""
    types = {vt.name: vt for vt in problem.vehicle_types}
    options = []
    for route in plan.routes:
        vt = types[route.vehicle_type]
        if not problem.can_carry(vt, trip):
            continue
        order = route_order(problem, route)
        layout, events = order.layout, list(order.events)
        locs = [vt.depot] + [e[1].pickup if e[0] == "pickup" else e[1].dropoff for e in events] + [vt.depot]
        m = problem.matrix
        for i in range(len(events) + 1):
            for j in range(i, len(events) + 1):
                if i == j:
                    added = (m.distance_m(locs[i], trip.pickup) + m.distance_m(trip.pickup, trip.dropoff)
                             + m.distance_m(trip.dropoff, locs[i + 1]) - m.distance_m(locs[i], locs[i + 1]))
                else:
                    added = (m.distance_m(locs[i], trip.pickup) + m.distance_m(trip.pickup, locs[i + 1])
                             - m.distance_m(locs[i], locs[i + 1]) + m.distance_m(locs[j], trip.dropoff)
                             + m.distance_m(trip.dropoff, locs[j + 1]) - m.distance_m(locs[j], locs[j + 1]))
                options.append((added, route, vt, layout, events, i, j))
    options.sort(key=lambda o: o[0])
    best = None
    for _, route, vt, layout, events, i, j in options[:candidates]:
        new = events[:i] + [("pickup", trip)] + events[i:j] + [("dropoff", trip)] + events[j:]
        if not _fits(new, layout):
            continue
        try:
            timed = time_route(problem, RouteOrder(vt, route.vehicle_number, layout, tuple(new), route.duty))
        except ProblemError:
            continue
        extra = (timed.cost - timed.cost_fixed) - (route.cost - route.cost_fixed)  # the day rate is paid already
        best = extra if best is None else min(best, extra)
    in_duty: dict[tuple[str, int], int] = {}
    vehicles: dict[str, set[int]] = {}
    for r in plan.routes:
        in_duty[(r.vehicle_type, r.duty)] = in_duty.get((r.vehicle_type, r.duty), 0) + 1
        vehicles.setdefault(r.vehicle_type, set()).add(r.vehicle_number)
    for vt in problem.vehicle_types:
        if not problem.can_carry(vt, trip):
            continue
        for duty in range(len(vt.duty_windows)):
            busy = in_duty.get((vt.name, duty), 0)
            if busy >= vt.count:
                continue
            # a vehicle that drives another duty but not this one has paid its day rate already
            day_rate_paid = busy < len(vehicles.get(vt.name, ()))
            for layout in vt.layouts:
                if layout.fits(trip):
                    try:
                        timed = time_route(problem, RouteOrder(vt, 0, layout, (("pickup", trip), ("dropoff", trip)),
                                                               duty))
                    except ProblemError:
                        continue
                    cost = timed.cost - (timed.cost_fixed if day_rate_paid else 0.0)
                    best = cost if best is None else min(best, cost)
    return best


def _fits(events, layout) -> bool:
    load = dict.fromkeys(layout.capacity, 0)
    for kind, trip in events:
        for r, q in trip.demand.items():
            load[r] += q if kind == "pickup" else -q
            if load[r] > layout.capacity[r]:
                return False
    return True


# ----------------------------------------------------------------------------- the comparison
@dataclass(frozen=True)
class Comparison:
    problem_name: str
    options: CompareOptions
    today: Mapping
    separate: SideFigures
    integrated: SideFigures
    savings: Mapping
    passenger_experience: Mapping
    targets: Mapping
    apportionment: Apportionment
    contracted_in_integrated: Sequence[Mapping]
    separate_plans: Mapping[str, Plan]
    integrated_plan: Plan
    #: Solves whose time limit ran out while they were still building routes: their costs are too high.
    solves_cut_short: int = 0

    def to_dict(self) -> dict:
        return {
            "problem": self.problem_name,
            "settings": {"time_limit_s": self.options.time_limit_s, "seeds": self.options.seeds,
                         "search_by_size": self.options.search_by_size,
                         "fleet_by_service": None if self.options.fleet_by_service is None else {
                             k: dict(v) for k, v in self.options.fleet_by_service.items()}},
            "today": dict(self.today), "separate": self.separate.to_dict(),
            "integrated": self.integrated.to_dict(), "savings": dict(self.savings),
            "passenger_experience": dict(self.passenger_experience), "targets": dict(self.targets),
            "apportionment": self.apportionment.to_dict(),
            "contracted_in_integrated": [dict(c) for c in self.contracted_in_integrated],
            "solves_cut_short": self.solves_cut_short,
        }


def _saving(before: float, after: float) -> dict:
    return {"before": before, "after": after, "saving": before - after,
            "percent": (100.0 * (before - after) / before) if before else 0.0}


def compare(problem: Problem, options: CompareOptions | None = None, *,
            on_progress: ProgressCallback | None = None, executor: Executor | None = None,
            cancel: CancelToken | None = None) -> Comparison:
    """Plan each service alone and all together, over ``options.seeds`` seeds, and work out the
    savings and the cost split. ``on_progress`` gets a ``Progress`` with the finished solves (``done`` of ``total``); solves run on
    ``executor`` when given (e.g. a Dask client's, to use a cluster); ``cancel`` stops early with
    ``SolveCancelled``."""
    options = options or CompareOptions()
    services = problem.services
    fleet = options.fleet_by_service
    if fleet is not None:
        names = {vt.name for vt in problem.vehicle_types}
        for service, counts in fleet.items():
            for name in counts:
                if name not in names:
                    raise ProblemError(f"unknown vehicle type {name!r}", where=f"fleet_by_service.{service}")
    seeds = list(range(options.seeds))
    grand = frozenset(services)
    all_trips = len(problem.trips)

    def job(coalition: frozenset, seed: int, fleet_of) -> tuple[Problem, int, float]:
        part = coalition_problem(problem, coalition, fleet_of)
        return part, seed, options.seconds_for(len(part.trips), all_trips)

    jobs = {}
    for seed in seeds:
        for s in services:
            jobs[(frozenset([s]), seed)] = job(frozenset([s]), seed, fleet)
        jobs[(grand, seed)] = job(grand, seed, None)
    # the cost game for the split: each intermediate coalition solved once (exact Shapley up to 6)
    from optimiser.analysis.apportion import EXACT_SHAPLEY_MAX_SERVICES

    exact = len(services) <= EXACT_SHAPLEY_MAX_SERVICES and options.shapley_samples is None
    if exact:
        import itertools

        for size in range(2, len(services)):
            for subset in itertools.combinations(services, size):
                c = frozenset(subset)
                jobs[(c, 0)] = job(c, 0, fleet)
    plans = run_solves(jobs, options, on_progress, executor, cancel)

    def best_cost(coalition: frozenset) -> float:
        found = [p.cost.total for (c, _), p in plans.items() if c == coalition]
        if not found:  # sampled Shapley beyond 6 services: solve on demand, once
            part, _, seconds = job(coalition, 0, fleet)
            plan = solve(part, SolveOptions(time_limit_s=seconds))
            plans[(coalition, 0)] = plan
            found = [plan.cost.total]
        return min(found)  # a heuristic's best run is the best estimate of what the coalition costs

    separate_by_seed = [[plans[(frozenset([s]), seed)] for s in services] for seed in seeds]
    integrated_by_seed = [[plans[(grand, seed)]] for seed in seeds]
    separate, sep_index = _side_figures(separate_by_seed, problem)
    integrated, int_index = _side_figures(integrated_by_seed, problem)
    today = price_today(problem, options)

    per_seed = [sum(p.cost.total for p in separate_by_seed[i]) - integrated_by_seed[i][0].cost.total for i in seeds]
    spread = max(max(separate.cost_by_seed) - min(separate.cost_by_seed),
                 max(integrated.cost_by_seed) - min(integrated.cost_by_seed))
    median_saving = statistics.median(per_seed)
    distinguishable = abs(median_saving) > spread + 1e-9
    money = {**_saving(separate.cost, integrated.cost), "median": median_saving, "min": min(per_seed),
             "max": max(per_seed), "seed_spread": spread, "distinguishable_from_zero": distinguishable,
             "verdict": (f"saves £{median_saving:,.2f} a day ({100 * median_saving / separate.cost:.1f}%)"
                         if distinguishable and median_saving > 0 else
                         f"costs £{-median_saving:,.2f} a day more" if distinguishable else
                         "not distinguishable from zero: the saving is smaller than the seed-to-seed spread "
                         f"(£{spread:,.2f})")}
    savings = {
        "integrated_vs_separate": {
            "money": money,
            "by_component": {k: _saving(separate.components.get(k, 0.0), integrated.components.get(k, 0.0))
                             for k in separate.components},
            "vehicles": _saving(separate.vehicles, integrated.vehicles),
            "km": _saving(separate.km, integrated.km),
            "driver_hours": _saving(separate.driver_hours, integrated.driver_hours),
            "assistant_hours": _saving(separate.assistant_hours, integrated.assistant_hours),
            "co2_kg": _saving(separate.co2_kg, integrated.co2_kg),
        },
        "integrated_vs_today": {"money": _saving(today["cost"], integrated.cost)},
        "separate_vs_today": {"money": _saving(today["cost"], separate.cost)},
    }
    experience = {}
    longer = []
    for s in services:
        before, after = separate.rides[s], integrated.rides[s]
        change = None
        if before["mean_minutes"] is not None and after["mean_minutes"] is not None:
            change = after["mean_minutes"] - before["mean_minutes"]
            if change > 0.5 or after["share_over_60"] > before["share_over_60"] + 1e-9:
                longer.append(s)
        experience[s] = {"separate": before, "integrated": after, "mean_ride_change_minutes": change}
    experience_note = ("integration lengthens journeys for " + ", ".join(longer) + ": see the ride times next to "
                       "the saving") if longer else "integration does not lengthen mean journeys"
    percent = 100 * median_saving / separate.cost if separate.cost else 0.0
    targets = {"saving_percent": percent, "gershon_target_percent": GERSHON_TARGET_PERCENT,
               "itu_expected_percent": list(ITU_EXPECTED_PERCENT),
               "meets_gershon": distinguishable and percent >= GERSHON_TARGET_PERCENT,
               "statement": _target_statement(percent, distinguishable),
               "journeys": experience_note}
    share = apportion(services, best_cost, shapley_samples=options.shapley_samples)
    integrated_plan = integrated_by_seed[int_index][0]
    contracted = []
    for c in integrated_plan.contracted:
        trip = problem.trip(c.trip_id)
        fleet_cost = cheapest_fleet_insertion(problem, integrated_plan, trip)
        contracted.append({"trip_id": c.trip_id, "service": c.service, "tariff": c.tariff, "price": c.price,
                           "cheapest_fleet_insertion": fleet_cost,
                           "why": (c.reason if fleet_cost is None else
                                   f"the tariff (£{c.price:.2f}) is cheaper than the cheapest place in the fleet "
                                   f"(£{fleet_cost:.2f} extra)" if fleet_cost > c.price else
                                   f"the fleet could carry it for £{fleet_cost:.2f} extra; the solver did not find "
                                   "that place in its time limit")})
    return Comparison(problem.name, options, today, separate, integrated, savings,
                      {"by_service": experience, "note": experience_note}, targets, share, contracted,
                      {s: separate_by_seed[sep_index][i] for i, s in enumerate(services)}, integrated_plan,
                      sum(1 for p in plans.values() if not p.solver.construction_complete))


def _target_statement(percent: float, distinguishable: bool) -> str:
    lo, hi = ITU_EXPECTED_PERCENT
    if not distinguishable:
        return ("the saving cannot be told apart from solver noise, so it says nothing against the "
                f"{GERSHON_TARGET_PERCENT}% efficiency target")
    if percent >= hi:
        return f"{percent:.1f}% beats the {GERSHON_TARGET_PERCENT}% target and the {lo:.0f}-{hi:.0f}% expected"
    if percent >= GERSHON_TARGET_PERCENT:
        return f"{percent:.1f}% meets the {GERSHON_TARGET_PERCENT}% target, within the {lo:.0f}-{hi:.0f}% expected"
    if percent >= lo:
        return (f"{percent:.1f}% is within the {lo:.0f}-{hi:.0f}% expected but under the "
                f"{GERSHON_TARGET_PERCENT}% target")
    return f"{percent:.1f}% falls short of the {GERSHON_TARGET_PERCENT}% target and the {lo:.0f}-{hi:.0f}% expected"
