"""The solver on tiny named instances whose optimum is known by hand or by exhaustive search."""
from __future__ import annotations

import itertools
import random
import threading
import time

import pytest

from optimiser import Layout, ProblemBuilder, ProblemError, SolveOptions, solve
from optimiser.domain.plan import ContractedTrip, RouteOrder, build_plan
from tests.conftest import assert_feasible
from tests.instances import line_builder, line_matrix

QUICK = SolveOptions(time_limit_s=2)


def solved(problem, options=QUICK):
    plan = solve(problem, options)
    assert_feasible(problem, plan)
    return plan


# ---------------------------------------------------------------- exhaustive search
def _orders_of(trips):
    """Every stop sequence of these trips with each pickup before its drop-off."""
    events = [(kind, t) for t in trips for kind in ("pickup", "dropoff")]
    for perm in itertools.permutations(events):
        seen = set()
        ok = True
        for kind, t in perm:
            if kind == "pickup":
                seen.add(t.id)
            elif t.id not in seen:
                ok = False
                break
        if ok:
            yield perm


def exhaustive_optimum(problem) -> float:
    """Cheapest plan over every assignment of trips to vehicles (or contracts), every layout and
    every stop order; infeasible candidates are those the independent checker rejects."""
    from optimiser import check_plan
    from optimiser.errors import ProblemError as _PE

    vehicles = [(vt, n) for vt in problem.vehicle_types for n in range(vt.count)]
    best = float("inf")
    options = list(range(len(vehicles))) + ["contract"]
    for assignment in itertools.product(options, repeat=len(problem.trips)):
        contracted = []
        feasible_base = True
        for trip, a in zip(problem.trips, assignment):
            if a == "contract":
                offer = problem.contract_price(trip)
                if offer is None:
                    feasible_base = False
                    break
                contracted.append(ContractedTrip(trip.id, trip.service, offer[0].name, offer[1], "x"))
        if not feasible_base:
            continue
        per_vehicle = [[t for t, a in zip(problem.trips, assignment) if a == v] for v in range(len(vehicles))]
        choices = []
        for (vt, n), trips in zip(vehicles, per_vehicle):
            if not trips:
                choices.append([None])
                continue
            choices.append([RouteOrder(vt, n, layout, order) for layout in vt.layouts for order in _orders_of(trips)])
        for combo in itertools.product(*choices):
            orders = [o for o in combo if o is not None]
            try:
                plan = build_plan(problem, orders, contracted, [])
            except _PE:
                continue
            if check_plan(problem, plan).feasible:
                best = min(best, plan.cost.total)
    return best


def random_instance(seed: int):
    rng = random.Random(seed)
    points = {f"h{i}": rng.uniform(1, 20) for i in range(3)}
    points.update({"school": 25.0, "centre": 12.0})
    b = ProblemBuilder(line_matrix({"depot": 0.0, **points}), name=f"random-{seed}")
    b.add_vehicle_type("minibus", count=2, depot="depot", cost_per_km=1.0, cost_per_day=5.0, cost_per_hour=3.0,
                       layouts=[Layout("3 seats", seats=3), Layout("1 seat + 1 wheelchair", seats=1,
                                                                   wheelchair_spaces=1)],
                       shift_start="07:00", shift_end="10:00")
    b.add_tariff("taxi", flag_fall=8.0, per_km=1.5)
    for i in range(3):
        dest = rng.choice(["school", "centre"])
        start = 7 * 60 + rng.randint(0, 40)
        b.add_trip(f"t{i}", "school" if dest == "school" else "social_care", f"h{i}", dest,
                   earliest_pickup=start * 60, latest_arrival=(start + rng.randint(35, 70)) * 60,
                   max_ride_minutes=rng.choice([None, 30, 45]), wheelchair_spaces=int(rng.random() < 0.3),
                   travels_alone=rng.random() < 0.15, pickup_service_minutes=1, dropoff_service_minutes=1)
    return b.build()


@pytest.mark.parametrize("seed", range(1, 7))
def test_solver_finds_the_exhaustive_optimum(seed):
    problem = random_instance(seed)
    plan = solved(problem)
    assert plan.cost.total == pytest.approx(exhaustive_optimum(problem), abs=0.01)


# ---------------------------------------------------------------- named instances
def test_single_trip_is_the_loop_depot_home_school_depot():
    b = line_builder({"home": 5, "school": 10})
    b.add_trip("t1", "school", "home", "school", latest_arrival="08:45")
    plan = solved(b.build())
    assert plan.cost.total == pytest.approx(20.0)
    assert [s.kind for s in plan.routes[0].stops] == ["start", "pickup", "dropoff", "end"]
    assert plan.routes[0].stops[2].service_start_s <= 8 * 3600 + 45 * 60


def test_two_pupils_on_the_way_share_one_car():
    b = line_builder({"near": 3, "far": 6, "school": 10}, count=2, cost_per_day=10.0)
    b.add_trip("a", "school", "near", "school", latest_arrival="08:45")
    b.add_trip("b", "school", "far", "school", latest_arrival="08:45")
    plan = solved(b.build())
    assert plan.vehicles_used == 1
    assert plan.cost.total == pytest.approx(10.0 + 20.0)


def test_seats_run_out_so_two_vehicles():
    b = line_builder({"home": 5, "school": 10}, count=2)
    # both must be at school by 08:15: no time for one car to make two runs
    b.add_trip("family", "school", "home", "school", seats=3, earliest_pickup="08:00", latest_arrival="08:15")
    b.add_trip("twins", "school", "home", "school", seats=2, earliest_pickup="08:00", latest_arrival="08:15")
    plan = solved(b.build())
    assert plan.vehicles_used == 2
    assert plan.cost.total == pytest.approx(40.0)


def test_solo_traveller_is_never_shared():
    b = line_builder({"home": 5, "school": 10}, count=2)
    b.add_trip("solo", "sen", "home", "school", travels_alone=True)
    b.add_trip("other", "sen", "home", "school")
    plan = solved(b.build())
    for route in plan.routes:
        stops = [s for s in route.stops if s.trip_id == "solo"]
        if stops:
            assert all(s.trip_id in ("solo", None) for s in route.stops[route.stops.index(stops[0]):
                                                                          route.stops.index(stops[1]) + 1])
    # sharing would cost 20; solo forces a second loop or a second trip: 20 + 10 (back from school) = 30
    assert plan.cost.total == pytest.approx(30.0)


def test_wheelchair_user_gets_a_layout_with_a_wheelchair_space():
    b = line_builder({"home": 5, "school": 10},
                     layouts=[Layout("4 seats", seats=4), Layout("2 seats + 1 wheelchair", seats=2,
                                                                 wheelchair_spaces=1)])
    b.add_trip("chair", "sen", "home", "school", wheelchair_spaces=1)
    b.add_trip("walker", "sen", "home", "school", seats=2)
    plan = solved(b.build())
    assert plan.vehicles_used == 1
    assert plan.routes[0].layout == "2 seats + 1 wheelchair"


def test_layouts_do_not_multiply_the_fleet():
    # one car with two layouts is still one car: the second trip must be contracted
    b = line_builder({"home": 5, "school": 10, "far": 40},
                     layouts=[Layout("4 seats", seats=4), Layout("1 wheelchair", wheelchair_spaces=1)])
    b.add_trip("a", "school", "home", "school", earliest_pickup="08:00", latest_arrival="08:15")
    b.add_trip("b", "school", "far", "school", earliest_pickup="08:00", latest_arrival="08:35")
    b.add_tariff("taxi", flag_fall=5.0, per_km=3.0)
    plan = solved(b.build())
    assert plan.vehicles_used == 1
    assert len(plan.contracted) == 1


def test_passenger_assistant_trip_goes_to_the_vehicle_with_one():
    b = line_builder({"home": 5, "school": 10})
    b.add_vehicle_type("sen minibus", count=1, depot="depot", layouts=[Layout("8 seats", seats=8)],
                       passenger_assistant=True, cost_per_km=2.0, assistant_cost_per_hour=12.0)
    b.add_trip("t1", "sen", "home", "school", needs_assistant=True, latest_arrival="09:00")
    plan = solved(b.build())
    assert plan.routes[0].vehicle_type == "sen minibus"
    assert plan.cost.assistants > 0


def test_contract_is_used_when_cheaper_and_says_why():
    b = line_builder({"home": 50, "school": 55}, cost_per_day=200.0)
    b.add_trip("t1", "nept", "home", "school")
    b.add_tariff("taxi", flag_fall=3.0, per_km=2.0)
    plan = solved(b.build())
    assert not plan.routes
    assert plan.contracted[0].price == pytest.approx(13.0)
    assert "cheaper" in plan.contracted[0].reason
    assert plan.cost.total == pytest.approx(13.0)


def test_pickup_before_any_vehicle_can_arrive_is_unserved_with_reason():
    b = line_builder({"home": 30, "school": 35}, shift_start="08:00")
    b.add_trip("early", "nept", "home", "school", latest_pickup="08:10")
    b.add_trip("fine", "nept", "home", "school", earliest_pickup="09:00")
    plan = solved(b.build())
    assert [u.trip_id for u in plan.unserved] == ["early"]
    assert "pickup window closes before any vehicle can reach it" in plan.unserved[0].reason
    assert plan.served_trip_ids == {"fine"}


def test_fleet_that_cannot_carry_hands_the_trip_to_its_tariff():
    b = line_builder({"home": 5, "school": 10})
    b.add_trip("chair", "sen", "home", "school", wheelchair_spaces=2)
    b.add_tariff("wheelchair taxi", flag_fall=5.0, per_km=2.0, needs=["wheelchair"])
    plan = solved(b.build())
    assert plan.contracted[0].reason.endswith("needs 2 wheelchair spaces; largest layout has 0")


def test_ride_cap_prevents_a_long_detour():
    # sharing would take a on a 20-km detour to pick up b; its cap of 15 minutes forbids that
    b = line_builder({"a_home": 10, "b_home": 30, "school": 15}, count=2)
    b.add_trip("a", "school", "a_home", "school", max_ride_minutes=15)
    b.add_trip("b", "school", "b_home", "school")
    plan = solved(b.build())
    route = next(r for r in plan.routes if "a" in r.trip_ids)
    kinds = [(s.kind, s.trip_id) for s in route.stops]
    aboard = kinds[kinds.index(("pickup", "a")):kinds.index(("dropoff", "a"))]
    assert ("pickup", "b") not in aboard
    assert plan.by_service["school"].ride_minutes_max <= 15 + 1e-6


def test_duty_limit_makes_a_trip_unserved_when_too_long():
    b = line_builder({"home": 100, "school": 110}, max_duty_hours=1.0)
    b.add_trip("t1", "nept", "home", "school")
    plan = solved(b.build())
    assert "maximum duty" in plan.unserved[0].reason


def test_no_room_left_is_explained():
    b = line_builder({"h1": 5, "h2": 6, "school": 10}, layouts=[Layout("1 seat", seats=1)])
    b.add_trip("a", "school", "h1", "school", earliest_pickup="08:00", latest_arrival="08:12")
    b.add_trip("b", "school", "h2", "school", earliest_pickup="08:00", latest_arrival="08:12")
    plan = solved(b.build())
    assert len(plan.unserved) == 1 and "no room" in plan.unserved[0].reason


def test_cost_breakdown_and_service_figures_add_up():
    b = line_builder({"h1": 5, "h2": 8, "school": 10, "centre": 12}, cost_per_day=20.0, cost_per_hour=10.0,
                     co2_kg_per_km=0.3)
    b.add_trip("a", "school", "h1", "school", latest_arrival="08:45")
    b.add_trip("b", "social_care", "h2", "centre", earliest_pickup="08:50", latest_arrival="09:30")
    plan = solved(b.build())
    by = plan.by_service
    assert sum(f.cost.total for f in by.values()) == pytest.approx(plan.cost.total)
    assert sum(f.km for f in by.values()) == pytest.approx(plan.km)
    assert plan.co2_kg == pytest.approx(0.3 * plan.km)
    assert plan.cost.total == pytest.approx(sum(r.cost for r in plan.routes))
    assert by["school"].ride_minutes_mean == pytest.approx(5.0)  # 5 km at 60 km/h, straight to school


# ---------------------------------------------------------------- options, progress, cancel
def test_options_check_themselves():
    with pytest.raises(ProblemError, match="time limit"):
        SolveOptions(time_limit_s=0)
    with pytest.raises(ProblemError, match="unknown metaheuristic"):
        SolveOptions(metaheuristic="HILL_CLIMB")


def test_progress_reports_improving_costs():
    problem = random_instance(3)
    seen = []
    plan = solve(problem, SolveOptions(time_limit_s=1), on_progress=seen.append)
    assert seen, "no progress reported"
    costs = [p.best_cost for p in seen]
    assert costs == sorted(costs, reverse=True)
    assert plan.solver.best_cost_over_time[-1][1] == pytest.approx(costs[-1])


def test_progress_counts_the_contracts_of_trips_no_vehicle_can_carry():
    # the wheelchair user's contract (£5 + 5 km x £2 = £15) is part of every plan the search
    # could give, so the last cost reported is the plan's, contracts and all
    b = line_builder({"home": 5, "school": 10})
    b.add_trip("walker", "school", "home", "school")
    b.add_trip("chair", "sen", "home", "school", wheelchair_spaces=1)
    b.add_tariff("wheelchair taxi", flag_fall=5.0, per_km=2.0, needs=["wheelchair"])
    seen = []
    plan = solve(b.build(), SolveOptions(time_limit_s=1), on_progress=seen.append)
    assert [c.trip_id for c in plan.contracted] == ["chair"] and plan.cost.contracts == pytest.approx(15.0)
    assert seen[-1].best_cost == pytest.approx(plan.cost.total)
    assert plan.solver.best_cost_over_time[-1][1] == pytest.approx(plan.cost.total)


def test_cancel_stops_a_long_solve_early():
    problem = random_instance(4)
    cancel = threading.Event()
    timer = threading.Timer(0.5, cancel.set)
    timer.start()
    started = time.monotonic()
    plan = solve(problem, SolveOptions(time_limit_s=60), cancel=cancel)
    assert time.monotonic() - started < 30
    assert plan.solver.cancelled is True
    assert_feasible(problem, plan)


def test_same_seed_same_plan_with_a_solution_limit():
    problem = random_instance(5)
    options = SolveOptions(time_limit_s=30, seed=3, max_solutions=50)
    first, second = solve(problem, options), solve(problem, options)
    assert [r.trip_ids for r in first.routes] == [r.trip_ids for r in second.routes]
    assert first.cost.total == second.cost.total


def test_portfolio_of_two_processes():
    problem = random_instance(6)
    plan = solved(problem, SolveOptions(time_limit_s=2, workers=2))
    assert plan.cost.total == pytest.approx(exhaustive_optimum(problem), abs=0.01)
