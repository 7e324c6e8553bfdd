"""The compiled test of places (engine/places.py) against timing every place in Python: on a
generated day it finds the places the plan builder's schedule finds, and prices each as that
schedule does."""
from __future__ import annotations

import functools
import math
from dataclasses import replace

import pytest

from optimiser import SolveOptions, solve
from optimiser.domain.plan import route_order, time_route
from optimiser.engine.places import InsertionPlaces
from optimiser.errors import ProblemError
from tests.instances import generated_day


@functools.lru_cache(maxsize=None)
def planned_day():
    problem = generated_day(80, 3)
    return problem, solve(problem, SolveOptions(time_limit_s=60, max_rounds=300))


def holds(vehicle_type, events) -> bool:
    """Whether one layout of the vehicle type carries every trip of ``events`` and every load on
    the way, and a passenger travelling alone travels alone."""
    for layout in vehicle_type.layouts:
        load, on_board, ok = dict.fromkeys(layout.capacity, 0), set(), True
        for kind, trip in events:
            sign = 1 if kind == "pickup" else -1
            (on_board.add if kind == "pickup" else on_board.discard)(trip.id)
            ok = ok and layout.fits(trip) and not (len(on_board) > 1 and any(
                t.travels_alone and t.id in on_board for _, t in events))
            for resource, amount in trip.demand.items():
                load[resource] += sign * amount
                ok = ok and load[resource] <= layout.capacity[resource]
        if ok:
            return True
    return False


def test_every_place_with_a_schedule_is_found_and_priced_as_the_plan_prices_it():
    problem, plan = planned_day()
    orders = [route_order(problem, r) for r in plan.routes]
    places = InsertionPlaces(problem, problem.trips)
    tested = 0
    for order in orders[:1]:  # each trip of one route, taken out and put back anywhere
        for kind, trip in order.events:
            if kind != "pickup":
                continue
            out = [(o.vehicle_type.name, o.vehicle_number, o.duty,
                    tuple(e for e in o.events if e[1].id != trip.id)) for o in orders]
            for name, number, duty, events in out:
                assert places.set_route((name, number, duty), events)
            routes = [((name, number, duty), 0, math.inf) for name, number, duty, _ in out]
            at, gap_i, gap_j, cost, duty_s = places.places(trip.id, routes)
            found = {(int(r), int(i), int(j)): (c, d) for r, i, j, c, d in zip(at, gap_i, gap_j, cost, duty_s)}
            timed = {}
            for r, (o, (_, _, _, events)) in enumerate(zip(orders, out)):
                before = time_route(problem, replace(o, events=events))
                for i in range(len(events) + 1):
                    for j in range(i, len(events) + 1):
                        new = events[:i] + (("pickup", trip),) + events[i:j] + (("dropoff", trip),) + events[j:]
                        if not holds(o.vehicle_type, new) or not problem.can_carry(o.vehicle_type, trip):
                            continue
                        try:
                            after = time_route(problem, replace(o, events=new))
                        except ProblemError:
                            continue
                        timed[(r, i, j)] = (after.cost_distance - before.cost_distance, after.duty_s - before.duty_s)
            assert set(found) == set(timed), trip.id
            for place, (cost_rise, duty_rise) in timed.items():
                assert found[place][0] == pytest.approx(cost_rise, abs=1e-4)
                assert found[place][1] == pytest.approx(duty_rise, abs=0.5)
            tested += len(timed)
    assert tested > 40, "too few places to mean anything"
