"""Our own first routes (optimiser/engine/construct.py): every plan they make is feasible as it stands.

``max_solutions=1`` stops OR-Tools at the first plan, which with TIME_ORDERED_INSERTION is the
construction itself, so these tests see our routes before any local search touches them."""
from __future__ import annotations

import pytest

from optimiser import SolveOptions, solve
from tests import instances as ladder
from tests.conftest import assert_feasible
from tests.instances import LADDER, generated_day, random_small_day

CONSTRUCTION_ONLY = SolveOptions(time_limit_s=20, first_solution="TIME_ORDERED_INSERTION", max_solutions=1)


def constructed(problem):
    plan = solve(problem, CONSTRUCTION_ONLY)
    assert_feasible(problem, plan)
    assert plan.solver.first_solution == "TIME_ORDERED_INSERTION"
    assert plan.solver.construction_complete is True
    accounted = len(plan.served_trip_ids) + len(plan.contracted) + len(plan.unserved)
    assert accounted == len(problem.trips)
    return plan


def test_two_pupils_on_the_way_share_one_car():
    plan = constructed(ladder.two_pupils_share_a_car())
    assert plan.vehicles_used == 1
    assert plan.cost.total == pytest.approx(30.0)  # the optimum (LADDER["two_pupils_share_a_car"])


def test_a_wheelchair_user_switches_the_route_to_a_layout_with_a_space():
    plan = constructed(ladder.wheelchair_user_on_the_way())
    assert plan.vehicles_used == 1 and set(plan.routes[0].trip_ids) == {"walker", "chair"}
    assert plan.routes[0].layout == "2 seats + 1 wheelchair"


def test_a_pupil_travelling_alone_rides_alone_and_ride_caps_hold():
    plan = constructed(ladder.alone_and_capped())  # the checker rejects any shared solo ride or broken cap
    assert plan.served_trip_ids == {"a", "b", "solo"}


def test_the_waiting_for_the_bell_does_not_count_against_the_ride_cap():
    # collected at the earliest pickup the client would ride 30 minutes; the cap of 15 forces a
    # late pickup
    problem = ladder.the_bell()
    plan = constructed(problem)
    assert plan.served_trip_ids == {"t"}
    pickup, dropoff = [s for s in plan.routes[0].stops if s.trip_id]
    assert dropoff.service_start_s - pickup.departure_s <= 15 * 60 + 1e-6
    assert problem.trip("t").earliest_arrival_s - problem.trip("t").earliest_pickup_s > 15 * 60


@pytest.mark.parametrize("rung", [r for r in LADDER.values() if len(r().trips) > 1], ids=lambda r: r.name)
def test_every_rung_of_the_ladder_is_constructed_feasibly(rung):
    constructed(rung())


@pytest.mark.parametrize("seed", range(1, 25))
def test_random_small_days_are_feasible(seed):
    constructed(random_small_day(seed))


def test_a_generated_day_of_400_trips_is_planned_feasibly():
    problem = generated_day(400, 11)
    plan = constructed(problem)
    assert not plan.unserved
    # the fleet carries a good part of the day (a quarter is far below what it manages)
    assert len(plan.served_trip_ids) >= 100
    # split shifts: vehicles drive a morning and an afternoon duty, and pay their day rate once
    assert len(plan.routes) > plan.vehicles_used
    assert plan.cost.vehicles_fixed == pytest.approx(sum(r.cost_fixed for r in plan.routes))
    fixed = {vt.name: vt.cost_per_day for vt in problem.vehicle_types}
    vehicles = {(r.vehicle_type, r.vehicle_number) for r in plan.routes}
    assert plan.cost.vehicles_fixed == pytest.approx(sum(fixed[name] for name, _ in vehicles))


def test_by_size_uses_our_construction_for_county_sized_days():
    problem = generated_day(320, 12)
    plan = solve(problem, SolveOptions(time_limit_s=60, max_rounds=200))
    assert_feasible(problem, plan)
    assert plan.solver.first_solution == "TIME_ORDERED_INSERTION"
    assert plan.solver.construction_complete is True


# ---------------------------------------------------------------- improving part by part (engine/parts.py)
def test_a_part_priced_alone_costs_what_it_costs_in_the_whole_day():
    """The part's objective is its exact share of the day's: re-pricing the part's start routes
    on the part alone and the day without the part adds up to the whole day."""
    import random

    from optimiser.engine import ortools_search
    from optimiser.engine.screening import screen_trip
    from optimiser.engine.search_model import build_search_model, node_matrices
    from optimiser.engine.construct import construct_routes
    from optimiser.engine.parts import choose_part, part_model

    problem = generated_day(320, 13)
    trips = [t for t in problem.trips if screen_trip(problem, t) is None]
    m = build_search_model(problem, trips)
    time_units, cost_units = node_matrices(m)
    routes, cut, _ = construct_routes(m, time_units, cost_units)
    assert not cut
    freed, offered = choose_part(m, routes, random.Random(1))
    assert freed and offered
    sub, vehicles, part_trips, start = part_model(m, routes, freed, offered)

    def price(model, start_routes):
        values = []
        options = SolveOptions(time_limit_s=5, first_solution="PARALLEL_CHEAPEST_INSERTION", max_solutions=1)
        assert ortools_search.solve_model(model, options, lambda units, *_: values.append(units), lambda: False,
                                          initial_routes=start_routes) is not None
        return values[0]

    rest = [[] if v in freed else r for v, r in enumerate(routes)]
    outside = [k for k in range(len(m.trip_ids)) if k not in set(part_trips)]
    # the rest of the day: its routes, plus the penalties of its own left-out trips
    whole, part, rest_cost = price(m, routes), price(sub, start), price(m, rest)
    part_penalties = sum(m.drop_penalty_units[k] for k in part_trips)
    assert whole == part + rest_cost - part_penalties
    assert len(outside) + len(part_trips) == len(m.trip_ids)


@pytest.mark.parametrize("workers", [1, 2])
def test_improving_by_parts_gives_a_cheaper_feasible_day(workers):
    # on the clock: the parts are OR-Tools searches of a few seconds each, with no budget of their own
    problem = generated_day(320, 14)
    base = solve(problem, SolveOptions(time_limit_s=30, first_solution="TIME_ORDERED_INSERTION", max_solutions=1,
                                       improve_by_parts=False))
    plan = solve(problem, SolveOptions(time_limit_s=12, first_solution="TIME_ORDERED_INSERTION",
                                       improve_by_parts=True, workers=workers))
    assert_feasible(problem, plan)
    assert len(plan.served_trip_ids) + len(plan.contracted) + len(plan.unserved) == len(problem.trips)
    assert plan.solver.objective < base.solver.objective


def test_parts_searched_on_a_dask_cluster():
    """The same code runs the parts on Dask workers (here a LocalCluster; a scheduler address
    in production: `itu solve --dask-scheduler`)."""
    from distributed import Client, LocalCluster

    problem = generated_day(320, 15)
    base = solve(problem, SolveOptions(time_limit_s=30, first_solution="TIME_ORDERED_INSERTION", max_solutions=1,
                                       improve_by_parts=False))
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster) as client:
        plan = solve(problem, SolveOptions(time_limit_s=15, first_solution="TIME_ORDERED_INSERTION",
                                           improve_by_parts=True, part_workers=2),
                     executor=client.get_executor())
    assert_feasible(problem, plan)
    assert plan.solver.objective < base.solver.objective


def test_a_broken_pool_of_part_workers_falls_back_to_this_process():
    """A part worker killed (say for memory) must not lose the day: parts go on here."""
    import multiprocessing
    import os
    import time as clock
    from concurrent.futures import ProcessPoolExecutor

    from optimiser.engine import ortools_search
    from optimiser.engine.screening import screen_trip
    from optimiser.engine.search_model import build_search_model, node_matrices
    from optimiser.engine.construct import construct_routes
    from optimiser.engine.parts import improve_by_parts

    problem = generated_day(320, 16)
    m = build_search_model(problem, [t for t in problem.trips if screen_trip(problem, t) is None])
    routes, _, _ = construct_routes(m, *node_matrices(m))
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    with pytest.raises(Exception):
        pool.submit(os._exit, 1).result()  # the worker dies: the pool is broken from now on
    savings = []
    deadline = clock.monotonic() + 8
    improved = improve_by_parts(m, routes, ortools_search.solve_part_model, lambda: clock.monotonic() > deadline, savings.append,
                                executor=pool, in_flight=2)
    pool.shutdown()
    assert sum(savings) > 0
    # and the improved routes are a day the whole model accepts
    values = []
    options = SolveOptions(time_limit_s=5, first_solution="PARALLEL_CHEAPEST_INSERTION", max_solutions=1)
    assert ortools_search.solve_model(m, options, lambda units, *_: values.append(units), lambda: False,
                                      initial_routes=improved) is not None
