"""Very large days in regions (optimiser/decompose/): how a day is split, that the joined plan is
one feasible plan of the whole day, locally and on a Dask cluster, and what a cancel leaves."""
from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace as changed

import pytest

from optimiser import DecompositionParameters, SearchParameters, SolveOptions, solve
from optimiser.errors import SolveCancelled
from optimiser.decompose.duty_split import split_by_duty
from optimiser.decompose.regions import region_count, split_into_regions
from optimiser.engine.screening import screen_trip
from tests.conftest import assert_feasible, stops_left_on_scheduler
from tests.instances import generated_day


@pytest.fixture(scope="module")
def day():
    """The ladder's generated day of 240 trips (seed 6), on split shifts."""
    return generated_day(240, 6)


def test_days_are_split_by_size_unless_told():
    defaults = DecompositionParameters()
    assert region_count(defaults.regions_from_trips - 1, None) == 1
    assert region_count(10_000, None) == 10_000 // defaults.region_trips
    assert region_count(10_000, 3) == 3
    assert region_count(2, 5) == 2  # never more regions than trips


def test_a_day_splits_into_compact_balanced_regions_that_share_the_fleet(day):
    regions = split_into_regions(day, 3)
    assert len(regions) == 3
    ids = [t.id for r in regions for t in r.trips]
    assert sorted(ids) == sorted(t.id for t in day.trips)  # each trip in exactly one region
    sizes = [len(r.trips) for r in regions]
    mean = len(day.trips) / 3
    assert all(abs(size - mean) <= 0.25 * mean for size in sizes), sizes  # cuts move a little to keep places whole
    for vt in day.vehicle_types:  # the whole fleet, shared out
        assert sum(r.vehicle_types[i].count for r in regions
                   for i, x in enumerate(r.vehicle_types) if x.name == vt.name) == vt.count
    for r in regions:  # each region's matrix holds its places and agrees with the whole day's
        t = r.trips[0]
        assert r.matrix.travel_s(t.pickup, t.dropoff) == day.matrix.travel_s(t.pickup, t.dropoff)
        assert r.vehicle_types[0].depot in r.matrix.index
    # the passengers of one school or day centre stay together as far as sizes allow: of the
    # places twenty or more trips share, most trips are in that place's main region
    region_of = {t.id: n for n, r in enumerate(regions) for t in r.trips}
    by_place = defaultdict(Counter)
    for t in day.trips:
        for place in (t.pickup, t.dropoff):
            by_place[place][region_of[t.id]] += 1
    big = [c for c in by_place.values() if sum(c.values()) >= 20]
    assert big
    together = sum(c.most_common(1)[0][1] for c in big) / sum(sum(c.values()) for c in big)
    assert together >= 0.95


def _accounted_once(problem, plan):
    served = [t for r in plan.routes for t in r.trip_ids]
    others = [c.trip_id for c in plan.contracted] + [u.trip_id for u in plan.unserved]
    assert len(served) == len(set(served))
    assert sorted(served + others) == sorted(t.id for t in problem.trips)


def _vehicles_within_the_fleet(problem, plan):
    counts = {vt.name: vt.count for vt in problem.vehicle_types}
    seen = Counter((r.vehicle_type, r.vehicle_number, r.duty) for r in plan.routes)
    assert max(seen.values()) == 1  # no vehicle drives two routes in one duty
    assert all(0 <= number < counts[name] for name, number, _ in seen)


def _one_plan_of_the_whole_day(problem, plan):
    assert_feasible(problem, plan)
    _accounted_once(problem, plan)
    _vehicles_within_the_fleet(problem, plan)


def test_regions_planned_in_local_processes_join_into_one_feasible_plan(day):
    plan = solve(day, SolveOptions(time_limit_s=16, workers=2, regions=2))
    _one_plan_of_the_whole_day(day, plan)
    info = plan.solver.regions
    assert info["count"] == 2 and info["at_once"] == 2
    assert all(r["planned"] for r in info["each"])
    assert sum(r["trips"] for r in info["each"]) == len(day.trips)
    # the joined plan costs what its regions' plans cost together
    assert plan.cost.total == pytest.approx(sum(r["cost"] for r in info["each"]), abs=0.05)
    assert plan.solver.best_cost_over_time[-1][1] == pytest.approx(plan.cost.total, abs=0.05)
    assert len(plan.served_trip_ids) > len(day.trips) / 3  # the fleet carries a good part of the day
    # the first complete plan comes once both regions have sent one of their own: not at the first
    # point of the curve, where one region still stood at its contract prices
    first = plan.solver.first_plan_s
    assert first is not None and first <= plan.solver.seconds
    assert first >= plan.solver.best_cost_over_time[0][0]
    assert plan.solver.as_dict()["first_plan_s"] == first


def test_regions_and_the_sides_of_a_split_shift_day_planned_on_a_dask_cluster(day):
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        plan = solve(day, SolveOptions(time_limit_s=24, regions=3, part_workers=2), executor=client.get_executor())
        sides = solve(day, SolveOptions(time_limit_s=12, part_workers=2, parameters=_split_by_duty_within(12)),
                      executor=client.get_executor())
        # a solve stopped on the cluster leaves no stop behind on the scheduler: a long-lived
        # service stops one for every cancelled job
        cancel = threading.Event()
        cancel.set()
        try:
            solve(day, SolveOptions(time_limit_s=12, regions=2, part_workers=2), executor=client.get_executor(),
                  cancel=cancel)
        except SolveCancelled:
            pass
        assert stops_left_on_scheduler(client, wait_s=0) == []
    _one_plan_of_the_whole_day(day, plan)
    assert plan.solver.regions["count"] == 3
    assert all(r["planned"] for r in plan.solver.regions["each"])
    # a cluster's slots search the two sides of the day as local processes would
    _one_plan_of_the_whole_day(day, sides)
    info = sides.solver.regions
    assert info["split"] == "duty" and info["count"] == 2 and info["at_once"] == 2
    assert info["second_phase"]["planned_again"] == [1, 2]


def _split_by_duty_within(seconds: float) -> SearchParameters:
    """Parameters that split the test day (240 trips) by duty and keep enough of a short test
    solve for the second phase to run."""
    return SearchParameters(decomposition=DecompositionParameters(
        duty_split_from_trips=100, second_phase_share=0.4, second_phase_least_s=0.1 * seconds))


def test_a_cancel_leaves_regions_not_yet_started_to_contracts_with_the_reason(day):
    cancel = threading.Event()
    seen = []

    def on_progress(p):  # cancel as soon as the first region is in
        seen.append(p.best_cost)
        cancel.set()

    plan = solve(day, SolveOptions(time_limit_s=20, workers=1, regions=2), on_progress=on_progress, cancel=cancel)
    assert_feasible(day, plan)
    _accounted_once(day, plan)
    each = plan.solver.regions["each"]
    assert [r["planned"] for r in each].count(True) == 1
    assert plan.solver.cancelled
    unplanned = next(r for r in each if not r["planned"])
    reasons = [c.reason for c in plan.contracted if "was not planned" in c.reason]
    assert len(reasons) + sum("was not planned" in u.reason for u in plan.unserved) == unplanned["trips"]
    assert "cancelled" in reasons[0]


def test_a_cancel_reaches_the_regions_being_planned_and_each_keeps_its_best_plan(day):
    cancel = threading.Event()
    timer = threading.Timer(12.0, cancel.set)  # both regions have their first plans by then
    timer.start()
    try:
        plan = solve(day, SolveOptions(time_limit_s=600, workers=2, regions=2), cancel=cancel)
    finally:
        timer.cancel()
    assert_feasible(day, plan)
    _accounted_once(day, plan)
    each = plan.solver.regions["each"]
    assert all(r["planned"] and r["cancelled"] for r in each)  # stopped by the cancel, not by the clock


def test_a_solve_started_from_routes_starts_from_them(day):
    from optimiser.domain.plan import route_order

    # to round budgets: the same plans on a busy machine as on an idle one
    first = solve(day, SolveOptions(time_limit_s=120, workers=1, max_rounds=3_000))
    start = [route_order(day, r) for r in first.routes]
    cancel = threading.Event()
    cancel.set()  # stopped before its first round: what comes back is the start itself
    # two workers, as by default: the first once searched on while the second was starting,
    # before it heard of the cancel, and returned other routes than the start
    again = solve(day, SolveOptions(time_limit_s=6, workers=2), cancel=cancel, start_routes=start)
    assert_feasible(day, again)
    assert sorted(r.trip_ids for r in again.routes) == sorted(r.trip_ids for r in first.routes)
    assert again.cost.total == pytest.approx(first.cost.total, abs=0.01)
    assert again.solver.ruin_and_recreate["rounds"] == 0  # no worker searched
    # and searching on from them never ends dearer than they are, as the search ranks its plans
    # (its objective with each vehicle's day rate paid once)
    better = solve(day, SolveOptions(time_limit_s=120, workers=1, seed=3, max_rounds=2_000), start_routes=start)
    assert_feasible(day, better)
    assert better.solver.ruin_and_recreate["rounds"] == 2_000
    assert better.solver.objective <= again.solver.objective + 0.01


def test_the_seam_between_regions_is_searched_again_and_kept_only_if_cheaper(day):
    plan = solve(day, SolveOptions(time_limit_s=40, workers=2, regions=2))
    _one_plan_of_the_whole_day(day, plan)
    info = plan.solver.regions
    seam = info["seam"]
    assert seam["from_regions"] == [1, 2]  # it straddles the boundary
    assert 0 < seam["trips"] <= len(day.trips) // 2
    joined = sum(r["cost"] for r in info["each"])
    if seam["kept"]:
        assert seam["saving"] > 0
        assert plan.cost.total == pytest.approx(joined - seam["saving"], abs=0.05)
        assert plan.solver.best_cost_over_time[-1][1] == pytest.approx(plan.cost.total, abs=0.05)
    else:
        assert plan.cost.total == pytest.approx(joined, abs=0.05)


def test_regions_that_take_the_whole_limit_keep_their_joined_plan_without_a_seam():
    # mending is due (its least time set tiny) but starting the regions' processes alone takes
    # longer than the limit: the time left for the seam is below zero, which once failed the solve
    from tests.instances import random_day_near_a_depot

    problem = random_day_near_a_depot(5, trips=60, spread_min=300, slack_min=(20, 40))
    parameters = SearchParameters(decomposition=DecompositionParameters(seam_least_s=0.01))
    plan = solve(problem, SolveOptions(time_limit_s=0.3, regions=2, workers=1, parameters=parameters))
    assert_feasible(problem, plan)
    assert "seam" not in plan.solver.regions
    assert len(plan.served_trip_ids) + len(plan.contracted) + len(plan.unserved) == 60


class OneRegionNeverEnds(ThreadPoolExecutor):
    """Regions run in threads, but region 2's search neither stops at its time limit nor on a
    cancel (as a construction without a time limit did on a busy machine): it ends only when
    the test lets it go."""

    def __init__(self):
        super().__init__(max_workers=2)
        self.let_go = threading.Event()

    def submit(self, fn, *args, **kwargs):
        if kwargs.get("part") == 1:
            return super().submit(self.let_go.wait, 120)  # and then it has no plan
        return super().submit(fn, *args, **kwargs)


def test_a_region_that_never_ends_is_given_up_and_the_solve_ends_soon_after_its_time_limit():
    from tests.instances import random_day_near_a_depot

    problem = random_day_near_a_depot(5, trips=60, spread_min=300, slack_min=(20, 40))
    overrun_s = 10.0  # room for region 1 to end on a busy machine
    parameters = SearchParameters(decomposition=DecompositionParameters(part_overrun_s=overrun_s))
    options = SolveOptions(time_limit_s=4, regions=2, part_workers=2, parameters=parameters)
    executor = OneRegionNeverEnds()
    try:
        started = time.monotonic()
        plan = solve(problem, options, executor=executor)
        seconds = time.monotonic() - started
    finally:
        executor.let_go.set()
        executor.shutdown(wait=True)
    # each region searches at least 5 s; region 2 is given up twice the overrun after that, long
    # before it would end
    assert seconds < 5 + 2 * overrun_s + 20, seconds
    assert_feasible(problem, plan)
    _accounted_once(problem, plan)
    first, second = plan.solver.regions["each"]
    assert first["planned"] and not second["planned"]
    assert "given up: still running" in second["failure"]
    # its trips go to contracts (or unserved), saying why
    reasons = [x.reason for x in [*plan.contracted, *plan.unserved] if "was not planned" in x.reason]
    assert len(reasons) == second["trips"] and all("given up: still running" in r for r in reasons)


def test_start_routes_that_do_not_fit_the_problem_are_refused_with_where(day):
    from dataclasses import replace as changed

    from optimiser.errors import ProblemError
    from optimiser.domain.plan import RouteOrder

    vt = day.vehicle_types[0]
    trip = day.trips[0]
    good = RouteOrder(vt, 0, vt.layouts[0], (("pickup", trip), ("dropoff", trip)), 0)
    cases = [
        ([good, good], "two routes in duty 0"),
        ([changed(good, vehicle_number=vt.count)], "is not in the fleet"),
        ([changed(good, events=(("pickup", trip),))], "never dropped off"),
        ([changed(good, events=(("dropoff", trip), ("pickup", trip)))], "picked up once"),
        ([good, changed(good, vehicle_number=1)], "picked up once"),  # one trip in two routes
        ([changed(good, events=(("pickup", changed(trip, id="nobody")), ("dropoff", changed(trip, id="nobody"))))],
         "not in the problem"),
    ]
    assert vt.count >= 2
    for start, message in cases:
        with pytest.raises(ProblemError, match=message) as caught:
            solve(day, SolveOptions(time_limit_s=2), start_routes=start)
        assert caught.value.where.startswith("start_routes[")


def test_a_day_on_split_shifts_splits_at_the_break_between_duties(day):
    sides = split_by_duty(day)
    assert sides is not None and len(sides) == 2
    before, after = sides
    ids = [t.id for s in sides for t in s.problem.trips]
    assert sorted(ids) == sorted(t.id for t in day.trips)  # each trip on exactly one side
    assert min(len(s.problem.trips) for s in sides) >= DecompositionParameters().duty_split_least_share * len(day.trips)
    for vt in day.vehicle_types:
        if not vt.count:
            continue
        kept = [s.duties.get(vt.name, ()) for s in sides]
        # each duty of the type goes to exactly one side, and the sides' day rates add up to it
        assert sorted(j for k in kept for j in k) == list(range(len(vt.duty_windows)))
        rates = [x.cost_per_day for s in sides for x in s.problem.vehicle_types if x.name == vt.name and x.count]
        assert sum(rates) == pytest.approx(vt.cost_per_day)
        for s, duties in zip(sides, kept):
            own = next(x for x in s.problem.vehicle_types if x.name == vt.name)
            assert own.count == (vt.count if duties else 0)
            if duties:
                assert own.duty_windows == tuple(vt.duty_windows[j] for j in duties)
    cut = before.problem.name.rsplit(" ", 1)[-1]
    assert after.problem.name.endswith(cut)
    # no trip the whole fleet could serve is put where its side's fleet cannot serve it
    for side in sides:
        for trip in side.problem.trips:
            if screen_trip(day, trip) is None:
                assert screen_trip(side.problem, trip) is None, trip.id


def test_a_day_on_split_shifts_shows_its_progress_as_its_plan_is_priced(day):
    # the search charges each duty its share of a day rate; the plan pays a vehicle's whole rate
    # once. Its progress and curve give the plan's price (they ended £29 to £89 below the plan on
    # a generated 600-trip day), never rise, and end at the plan given
    seen = []
    plan = solve(day, SolveOptions(time_limit_s=120, max_rounds=3_000, regions=1), on_progress=seen.append)
    assert_feasible(day, plan)
    by_duty = {vt.name: Counter(r.duty for r in plan.routes if r.vehicle_type == vt.name) for vt in day.vehicle_types}
    # what makes the two prices differ: a type using more vehicles in one duty than in another
    assert any(len(set(c.values())) > 1 or 0 < len(c) < len(vt.duty_windows)
               for vt, c in zip(day.vehicle_types, by_duty.values()) if len(vt.duty_windows) > 1)
    history = plan.solver.best_cost_over_time
    costs = [cost for _, cost in history]
    assert costs == sorted(costs, reverse=True)
    # to the pence that the search's whole units and the plan's exact times price apart
    assert costs[-1] == pytest.approx(plan.cost.total, abs=0.5)
    assert seen[-1].best_cost == pytest.approx(plan.cost.total, abs=0.5)
    vehicles = Counter(name for name, _ in {(r.vehicle_type, r.vehicle_number) for r in plan.routes})
    assert seen[-1].vehicles_by_type == dict(vehicles) == plan.vehicles_by_type


def test_a_fleet_without_a_break_between_duties_is_not_split_by_duty(day):
    from dataclasses import replace as changed

    all_day = changed(day, vehicle_types=tuple(changed(vt, duties=()) for vt in day.vehicle_types))
    assert split_by_duty(all_day) is None


def test_the_second_phase_prices_each_side_as_the_joined_plan_does(day):
    from optimiser.domain.plan import ContractedTrip, UnservedTrip, build_plan, route_order
    from optimiser.decompose.duty_split import joined_cost, priced_as_joined

    sides = split_by_duty(day)
    # the first solution of each side, however long a busy machine takes to find it (the limit only
    # bounds a broken search): cut short by the clock, a side could come back with no vehicle used
    plans = {s: solve(side.problem, SolveOptions(time_limit_s=120, max_solutions=1)) for s, side in enumerate(sides)}
    # one side uses a vehicle fewer than the other: the afternoon's last vehicle of a type on both
    # sides is left out, its trips to contracts
    both = {vt.name for vt in day.vehicle_types if all(vt.name in side.duties for side in sides)}
    side, plan = sides[1].problem, plans[1]
    last = max((r for r in plan.routes if r.vehicle_type in both), key=lambda r: r.vehicle_number)
    contracted = list(plan.contracted)
    unserved = list(plan.unserved)
    for trip_id in last.trip_ids:
        trip = side.trip(trip_id)
        offer = side.contract_price(trip)
        if offer:
            contracted.append(ContractedTrip(trip.id, trip.service, offer[0].name, offer[1], "left out by the test"))
        else:
            unserved.append(UnservedTrip(trip.id, trip.service, "left out by the test"))
    plans[1] = build_plan(side, [route_order(side, r) for r in plan.routes if r is not last], contracted, unserved)
    assert_feasible(side, plans[1])
    joined = build_plan(day, [changed(route_order(day, r), duty=sides[s].duties[r.vehicle_type][r.duty])
                              for s, plan in plans.items() for r in plan.routes],
                        [c for p in plans.values() for c in p.contracted],
                        [u for p in plans.values() for u in p.unserved])
    assert_feasible(day, joined)
    # the progress before the join prices the sides' plans as this joined plan: summed as they
    # are, they come to half a day rate less for the vehicle the afternoon does without
    each = [(p.cost.total, p.vehicles_by_type) for p in plans.values()]
    assert sum(cost for cost, _ in each) < joined.cost.total - 1.0
    assert joined_cost(day, sides, each) == pytest.approx(joined.cost.total, abs=0.01)
    parts, starts, place, already_paid, info = priced_as_joined(day, sides, plans)
    rate = {vt.name: vt.cost_per_day for vt in day.vehicle_types}
    on_both = {vt.name for vt in day.vehicle_types if all(vt.name in side.duties for side in sides)}
    used = [Counter(name for name, _ in {(r.vehicle_type, r.vehicle_number) for r in p.routes}) for p in plans.values()]
    assert info["vehicles_each_side"] == [{name: u[name] for name in sorted(on_both)} for u in used]
    shared = info["already_paid_for"]
    # the busier side's vehicles are paid for whichever side uses them: free on both sides
    assert shared == {name: max(u[name] for u in used) for name in sorted(on_both)}
    assert used[0][last.vehicle_type] > used[1][last.vehicle_type]
    assert already_paid == pytest.approx(sum(rate[name] * n for name, n in shared.items()))
    for s, part in enumerate(parts):
        for name, n in shared.items():
            rest = next(vt for vt in part.vehicle_types if vt.name == name)
            whole = next(vt for vt in day.vehicle_types if vt.name == name)
            assert rest.cost_per_day == whole.cost_per_day  # beyond the free ones, the whole day rate
            free = [vt for vt in part.vehicle_types if vt.name.startswith(name + " (") and vt.cost_per_day == 0]
            assert [vt.count for vt in free] == ([n] if n else [])
            assert rest.count + n == whole.count
    # priced this way, the two sides' plans and the free vehicles cost exactly what the joined plan does
    again = [build_plan(part, starts[s], plans[s].contracted, plans[s].unserved) for s, part in enumerate(parts)]
    assert sum(p.cost.total for p in again) + already_paid == pytest.approx(joined.cost.total, abs=0.01)
    # and placed back in the whole day, the routes make the same plan
    placed = build_plan(day, [place(s, r, p) for s, p in enumerate(again) for r in p.routes],
                        joined.contracted, joined.unserved)
    assert_feasible(day, placed)
    assert placed.cost.total == pytest.approx(joined.cost.total, abs=0.01)
    assert Counter(r.vehicle_type for r in placed.routes) == Counter(r.vehicle_type for r in joined.routes)


def test_a_day_split_by_duty_is_searched_side_by_side_and_joined_into_one_plan(day):
    seen = []
    plan = solve(day, SolveOptions(time_limit_s=14, workers=2, parameters=_split_by_duty_within(14)),
                 on_progress=seen.append)
    _one_plan_of_the_whole_day(day, plan)
    info = plan.solver.regions
    assert info["split"] == "duty" and info["count"] == 2 and info["at_once"] == 2
    assert all(r["planned"] for r in info["each"])
    # the second phase searched both sides again and the plan is the cheaper of the two joined plans
    second = info["second_phase"]
    assert second["planned_again"] == [1, 2]
    assert plan.cost.total == pytest.approx(min(second["before"], second["after"]), abs=0.01)
    assert second["kept"] == (second["after"] < second["before"])
    assert "searching each side again" in plan.summary()
    # each vehicle pays its day rate once, and a type needs no more vehicles than its busiest duty
    rate = {vt.name: vt.cost_per_day for vt in day.vehicle_types}
    vehicles = {(r.vehicle_type, r.vehicle_number) for r in plan.routes}
    assert plan.cost.vehicles_fixed == pytest.approx(sum(rate[name] for name, _ in vehicles))
    for vt in day.vehicle_types:
        by_duty = Counter(r.duty for r in plan.routes if r.vehicle_type == vt.name)
        assert len({n for name, n in vehicles if name == vt.name}) == max(by_duty.values(), default=0)
    # the sides' best costs come back while they search, not only when they are done
    history = plan.solver.best_cost_over_time
    assert sum(1 for elapsed, _ in history if elapsed < 10) >= 2
    assert history[-1][1] == pytest.approx(plan.cost.total, abs=0.05)
    # from the first phase's joined plan on, the best cost does not rise when the second phase's
    # sides first report (to the pence a side's search and its plan may price apart): the day keeps
    # the cheaper joined plan. (Up to the join the curve prices the sides' best plans as the joined
    # plan would, ``joined_cost``; a side's search, ranking by its own price, can take a vehicle
    # beyond the other side's and so raise it.)
    joined_at = min(i for i, (_, cost) in enumerate(history) if cost == pytest.approx(second["before"], abs=0.01))
    costs = [cost for _, cost in history[joined_at:]]
    assert all(later <= earlier + 0.05 for earlier, later in zip(costs, costs[1:])), history[joined_at:]
    assert seen and seen[-1].best_cost == pytest.approx(plan.cost.total, abs=0.05)
    # one region asked for: the whole day in one search
    whole = solve(day, SolveOptions(time_limit_s=120, workers=2, regions=1, max_rounds=1_000))
    assert_feasible(day, whole)
    assert whole.solver.regions is None


def test_a_part_counts_its_time_limit_from_when_it_was_sent():
    # a new worker process takes a second or more to start: the part's search ends when the
    # solve expects its plan, not a limit later than its start
    from optimiser.decompose.side_by_side import solve_part
    from tests.instances import random_small_day

    region = random_small_day(3)
    options = SolveOptions(time_limit_s=10, max_rounds=50)
    plan = solve_part(region, options, threading.Event(), sent_at=time.time() - 3)
    assert 6.0 < plan.solver.time_limit_s <= 7.0
    assert_feasible(region, plan)
    # a worker's clock set wrong takes at most half the limit
    plan = solve_part(region, options, threading.Event(), sent_at=time.time() - 3600)
    assert plan.solver.time_limit_s == 5.0
    plan = solve_part(region, options, threading.Event(), sent_at=time.time() + 3600)
    assert plan.solver.time_limit_s == 10.0
