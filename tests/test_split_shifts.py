"""Split shifts: a vehicle drives one route per duty, its driver is paid for the duties only
and its day rate is paid once (docs/domain.md: SEN drivers work split shifts)."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from geodata.readers import load_problem
from optimiser import ProblemError, check_plan
from optimiser.errors import InputFormatError
from tests import instances as ladder
from tests.conftest import solved_by
from tests.instances import school_day


def test_one_vehicle_drives_both_duties_pays_its_day_rate_once_and_no_idle_hours(engine):
    plan = solved_by(ladder.split_shifts(), engine)
    assert plan.vehicles_used == 1 and len(plan.routes) == 2
    assert sorted(r.duty for r in plan.routes) == [0, 1]
    assert plan.cost.vehicles_fixed == pytest.approx(50.0)
    # each duty: depot -> home -> school -> depot is 20 km and 20 minutes at £10/h
    assert plan.cost.distance == pytest.approx(40.0)
    assert plan.cost.driver_time == pytest.approx(2 * 10.0 * 20 / 60)
    assert plan.cost.total == pytest.approx(50.0 + 40.0 + 2 * 10.0 * 20 / 60)


def test_without_duties_the_driver_is_paid_from_the_morning_run_to_the_afternoon_run(engine):
    plan = solved_by(school_day(), engine)
    assert len(plan.routes) == 1
    assert plan.cost.driver_time > 10.0 * 7  # 08:25 to 15:50 at £10/h


def test_each_route_keeps_to_its_duty(engine):
    plan = solved_by(ladder.split_shifts(), engine)
    for route in plan.routes:
        start, end = [(7 * 3600, 10 * 3600), (14 * 3600, 18 * 3600)][route.duty]
        assert start <= route.stops[0].departure_s and route.stops[-1].arrival_s <= end


def test_the_checker_rejects_routes_in_the_wrong_duty_twice_in_a_duty_or_in_no_duty(engine):
    problem = ladder.split_shifts()
    plan = solved_by(problem, engine)
    morning = next(r for r in plan.routes if r.duty == 0)
    wrong = replace(plan, routes=tuple(replace(r, duty=1 - r.duty) for r in plan.routes))
    assert any("no schedule" in v for v in check_plan(problem, wrong).violations)
    missing = replace(plan, routes=tuple(replace(r, duty=5) if r is morning else r for r in plan.routes))
    assert any("duty 6 does not exist" in v for v in check_plan(problem, missing).violations)
    twice = replace(plan, routes=tuple(replace(r, duty=0) for r in plan.routes))
    assert any("drives 2 routes in duty 1" in v for v in check_plan(problem, twice).violations)


def test_a_trip_between_the_duties_is_contracted_with_the_reason(engine):
    plan = solved_by(ladder.trip_between_duties(), engine)
    assert not plan.routes
    assert "fits in none of the duties of the vehicles that can carry it (07:00-10:00, 14:00-18:00)" \
        in plan.contracted[0].reason


@pytest.mark.parametrize("duties, message", [
    (["06:00-10:00"], "within the shift"),
    (["07:00-10:00", "09:00-12:00"], "after the duty before it"),
    (["10:00-09:00"], "ends before it starts"),
])
def test_duties_outside_the_shift_overlapping_or_backwards_are_refused(duties, message):
    with pytest.raises(ProblemError, match=message) as info:
        school_day(duties=duties)
    assert "duties" in info.value.where


def _fleet(tmp_path, duties):
    fleet = {"depots": {"depot": [52.66, -0.73]}, "vehicle_types": [
        {"name": "minibus", "count": 2, "depot": "depot", "layouts": ["8 seats"], "shift_start": "07:00",
         "shift_end": "18:00", "duties": duties}]}
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps(fleet))
    trips = tmp_path / "trips.csv"
    trips.write_text("id,service,pickup_latitude,pickup_longitude,dropoff_latitude,dropoff_longitude,"
                     "earliest_pickup,latest_arrival\n"
                     "t1,school,52.60,-0.70,52.65,-0.72,08:00,08:45\n")
    return trips, path


def test_a_fleet_file_gives_duties_as_text_and_a_bad_duty_names_its_field(tmp_path):
    trips, fleet = _fleet(tmp_path, ["07:00-10:30", ["14:30", "18:00"]])
    problem = load_problem(trips, fleet).problem
    assert problem.vehicle_types[0].duty_windows == ((7 * 3600, 10.5 * 3600), (14.5 * 3600, 18 * 3600))
    trips, fleet = _fleet(tmp_path, ["7 to 10"])
    with pytest.raises(InputFormatError) as info:
        load_problem(trips, fleet)
    assert any(p.get("column") == "vehicle_types[0].duties" for p in info.value.problems), info.value.problems


def test_a_fleet_csv_has_a_duties_column(tmp_path):
    (tmp_path / "fleet.csv").write_text(
        "name,count,depot_latitude,depot_longitude,layouts,shift_start,shift_end,duties\n"
        "minibus,2,52.66,-0.73,8 seats,07:00,18:00,07:00-10:30; 14:30-18:00\n")
    trips, _ = _fleet(tmp_path, [])
    problem = load_problem(trips, tmp_path / "fleet.csv").problem
    assert len(problem.vehicle_types[0].duty_windows) == 2
