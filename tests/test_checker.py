"""The independent checker, on hand-made plans that break one rule each (and one subtle feasible one)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from optimiser import check_plan
from optimiser.domain.plan import ContractedTrip, Route, Stop, UnservedTrip, build_plan, RouteOrder
from tests import instances as ladder
from tests.conftest import solved_by


def hand_route(problem, vehicle_type, layout, visits, number=0):
    """A route from (kind, trip_id, service_start_s) visits; arrival and km derived, loads left unreported."""
    vt = next(v for v in problem.vehicle_types if v.name == vehicle_type)
    stops, km, prev_loc, prev_end = [], 0.0, vt.depot, None
    for kind, trip_id, start in visits:
        trip = problem.trip(trip_id) if trip_id else None
        loc = vt.depot if trip is None else (trip.pickup if kind == "pickup" else trip.dropoff)
        service = 0.0 if trip is None else (trip.pickup_service_s if kind == "pickup" else trip.dropoff_service_s)
        km += problem.matrix.distance_m(prev_loc, loc) / 1000.0
        arrival = start if prev_end is None else prev_end + problem.matrix.travel_s(prev_loc, loc)
        stops.append(Stop(kind, loc, trip_id, trip.service if trip else None, arrival, start, start + service, {}))
        prev_loc, prev_end = loc, start + service
    return Route(vehicle_type, number, layout, tuple(stops), km, stops[-1].service_start_s - stops[0].service_start_s,
                 0, 0, 0, 0, 0)


def plan_of(problem, routes, contracted=(), unserved=()):
    base = build_plan(problem, [], list(contracted), list(unserved))
    return replace(base, routes=tuple(routes))


H = 3600.0


@pytest.fixture
def school_run():
    """The ladder's school run: depot 0, home 5 km, school 10 km; 60 km/h; two pupils from the
    same home due by 08:30 and a third at any time; service 1 minute; a 2-seat car."""
    return ladder.school_run()


def good_visits():
    t = 8 * H
    return [("start", None, t - 300), ("pickup", "a", t), ("pickup", "b", t + 60), ("dropoff", "a", t + 420),
            ("dropoff", "b", t + 480), ("end", None, t + 1140)]


def violations(problem, plan):
    return "\n".join(check_plan(problem, plan).violations)


def test_a_correct_hand_made_plan_passes(school_run):
    plan = plan_of(school_run, [hand_route(school_run, "car", "2 seats", good_visits())],
                   [ContractedTrip("c", "school", "taxi", 13.0, "x")])
    assert check_plan(school_run, plan).feasible, violations(school_run, plan)


def test_missing_trip(school_run):
    plan = plan_of(school_run, [hand_route(school_run, "car", "2 seats", good_visits())])
    assert "trip c is neither served, contracted nor listed unserved" in violations(school_run, plan)


def test_trip_both_served_and_contracted(school_run):
    plan = plan_of(school_run, [hand_route(school_run, "car", "2 seats", good_visits())],
                   [ContractedTrip("c", "school", "taxi", 13.0, "x"), ContractedTrip("a", "school", "taxi", 13.0, "x")])
    assert "trip a appears 2 times" in violations(school_run, plan)


def test_wrong_contract_price(school_run):
    plan = plan_of(school_run, [hand_route(school_run, "car", "2 seats", good_visits())],
                   [ContractedTrip("c", "school", "taxi", 9.0, "x")])
    assert "differs from the tariff's 13.00" in violations(school_run, plan)


def test_unserved_without_reason(school_run):
    plan = plan_of(school_run, [hand_route(school_run, "car", "2 seats", good_visits())],
                   unserved=[UnservedTrip("c", "school", "")])
    assert "has no reason" in violations(school_run, plan)


def test_too_many_on_board(school_run):
    t = 8 * H
    visits = [("start", None, t - 300), ("pickup", "a", t), ("pickup", "b", t + 60), ("pickup", "c", t + 120),
              ("dropoff", "a", t + 480), ("dropoff", "b", t + 540), ("dropoff", "c", t + 600),
              ("end", None, t + 1260)]
    plan = plan_of(school_run, [hand_route(school_run, "car", "2 seats", visits)])
    assert "3 seats on board after stop 3 (trip c), layout '2 seats' has 2" in violations(school_run, plan)


def test_drop_off_before_pick_up(school_run):
    t = 8 * H
    visits = [("start", None, t - 300), ("dropoff", "a", t), ("pickup", "a", t + 400),
              ("pickup", "b", t + 460), ("dropoff", "b", t + 880), ("end", None, t + 1500)]
    plan = plan_of(school_run, [hand_route(school_run, "car", "2 seats", visits)],
                   [ContractedTrip("c", "school", "taxi", 13.0, "x")])
    assert "dropped off before it is picked up" in violations(school_run, plan)


def test_window_missed_in_reported_times(school_run):
    visits = good_visits()
    visits[3] = ("dropoff", "a", 8 * H + 2000)  # 08:33, after the 08:30 bell
    visits[4] = ("dropoff", "b", 8 * H + 2060)
    visits[5] = ("end", None, 8 * H + 2700)
    plan = plan_of(school_run, [hand_route(school_run, "car", "2 seats", visits)],
                   [ContractedTrip("c", "school", "taxi", 13.0, "x")])
    text = violations(school_run, plan)
    assert "outside its window" in text and "dropoff a" in text


def test_stop_before_the_vehicle_can_get_there(school_run):
    visits = good_visits()
    visits[3] = ("dropoff", "a", 8 * H + 200)  # 5 km takes 300 s, plus the 60 s at the pickup
    plan = plan_of(school_run, [hand_route(school_run, "car", "2 seats", visits)],
                   [ContractedTrip("c", "school", "taxi", 13.0, "x")])
    assert "before the vehicle can get there" in violations(school_run, plan)


def test_ride_cap_broken_by_reported_times_but_order_is_fine(school_run):
    visits = good_visits()
    visits[1] = ("pickup", "a", 8 * H - 900)  # waiting on board 15 minutes before setting off
    visits[0] = ("start", None, 8 * H - 1200)
    plan = plan_of(school_run, [hand_route(school_run, "car", "2 seats", visits)],
                   [ContractedTrip("c", "school", "taxi", 13.0, "x")])
    text = violations(school_run, plan)
    assert "outside its window" in text or "over its cap" in text


def test_order_that_no_schedule_can_serve():
    # a must be at school by 08:10, b cannot be collected before 08:20: doing b first is hopeless
    problem = ladder.order_with_no_schedule()
    t = 8 * H
    visits = [("start", None, t), ("pickup", "b", t + 1200), ("pickup", "a", t + 1380), ("dropoff", "a", t + 1800),
              ("dropoff", "b", t + 1920), ("end", None, t + 2700)]
    plan = plan_of(problem, [hand_route(problem, "car", "4 seats", visits)])
    assert "no schedule for this stop order" in violations(problem, plan)


def test_feasible_only_when_the_start_is_delayed():
    """The earliest schedule breaks the ride cap (pick up at 08:00, the centre opens 08:30), but waiting
    at the depot makes it feasible: the checker must look for the best schedule, not the earliest."""
    problem = ladder.the_bell()
    vt = problem.vehicle_types[0]
    trip = problem.trip("t")
    plan = build_plan(problem, [RouteOrder(vt, 0, vt.layouts[0], (("pickup", trip), ("dropoff", trip)))], [], [])
    assert check_plan(problem, plan).feasible, violations(problem, plan)
    pickup = plan.routes[0].stops[1]
    assert pickup.service_start_s >= 8.5 * H - 15 * 60  # it waited instead of riding early
    # and the naive earliest schedule really would have broken the cap
    naive_pickup = trip.earliest_pickup_s
    assert naive_pickup == 8 * H
    naive_dropoff = max(naive_pickup + 300, trip.earliest_arrival_s)
    assert naive_dropoff - naive_pickup > 15 * 60


def test_solo_traveller_with_company():
    problem = ladder.alone_with_company_at_home()
    t = 8 * H
    visits = [("start", None, t - 300), ("pickup", "b", t), ("pickup", "a", t + 60), ("dropoff", "a", t + 420),
              ("dropoff", "b", t + 480), ("end", None, t + 1140)]
    plan = plan_of(problem, [hand_route(problem, "car", "2 seats", visits)])
    assert "travels alone but others are on board" in violations(problem, plan)


def test_assistant_missing():
    problem = ladder.passenger_assistant()
    t = 8 * H
    visits = [("start", None, t), ("pickup", "t1", t + 300), ("dropoff", "t1", t + 720), ("end", None, t + 1440)]
    plan = plan_of(problem, [hand_route(problem, "car", "4 seats", visits)])
    assert "needs a passenger assistant and none rides along" in violations(problem, plan)


def test_one_vehicle_driving_two_routes_and_a_vehicle_that_does_not_exist(school_run):
    visits = good_visits()
    r = hand_route(school_run, "car", "2 seats", visits)
    plan = plan_of(school_run, [r, r], [ContractedTrip("c", "school", "taxi", 13.0, "x")])
    assert "drives 2 routes" in violations(school_run, plan)
    plan = plan_of(school_run, [replace(r, vehicle_number=3)], [ContractedTrip("c", "school", "taxi", 13.0, "x")])
    assert "does not exist" in violations(school_run, plan)


def test_duty_limit_exceeded():
    problem = ladder.one_trip_with(max_duty_hours=0.5)
    t = 8 * H
    visits = [("start", None, t), ("pickup", "t1", t + 300), ("dropoff", "t1", t + 720), ("end", None, t + 2400)]
    plan = plan_of(problem, [hand_route(problem, "car", "4 seats", visits)])
    assert "duty 0.67 h exceeds 0.50 h" in violations(problem, plan)


def test_reported_km_must_match_the_stops(school_run):
    r = hand_route(school_run, "car", "2 seats", good_visits())
    plan = plan_of(school_run, [replace(r, km=r.km - 3)], [ContractedTrip("c", "school", "taxi", 13.0, "x")])
    assert "the stops add up to 20.000 km" in violations(school_run, plan)


def test_solver_plan_passes(school_run, engine):
    plan = solved_by(school_run, engine)
    assert check_plan(school_run, plan).feasible
