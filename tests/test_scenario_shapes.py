"""Generated days in the Cordeau-Laporte shape: requests spread over the whole day, each with a
window on one end only, on a fleet that works all day; larger validation days than the
published instances, of a shape the council days do not exercise."""
from __future__ import annotations

import pytest

from geodata.readers import load_problem
from geodata.scenario import generate_scenario, synthetic_area, write_scenario
from optimiser import InputFormatError, SolveOptions, solve
from optimiser.domain.model import DAY_END_S
from tests.conftest import assert_feasible


def _day(tmp_path, shape: str, trips: int = 80, seed: int = 4):
    write_scenario(generate_scenario(synthetic_area(), trips=trips, seed=seed, shape=shape), tmp_path)
    return load_problem(tmp_path / "trips.csv", tmp_path / "fleet.json").problem


@pytest.mark.parametrize("shape, widths", [("dial-a-ride", (15, 30)), ("dial-a-ride-wide", (30, 50))])
def test_each_request_has_a_window_on_one_end_spread_over_the_day(tmp_path, shape, widths):
    problem = _day(tmp_path, shape)
    there = [t for t in problem.trips if t.latest_arrival_s < DAY_END_S]
    back = [t for t in problem.trips if t.latest_pickup_s < DAY_END_S]
    assert len(there) == len(back) == len(problem.trips) // 2 and not set(there) & set(back)
    for t in there:  # the drop-off's window only; the pickup bounded by the ride cap alone
        assert widths[0] * 60 <= t.latest_arrival_s - t.earliest_arrival_s <= widths[1] * 60
        assert t.earliest_pickup_s == 0 and problem.ride_cap_s(t) is not None
    for t in back:
        assert widths[0] * 60 <= t.latest_pickup_s - t.earliest_pickup_s <= widths[1] * 60
        assert t.earliest_arrival_s == 0
    hours = sorted(t.latest_arrival_s / 3600 for t in there)
    assert hours[0] < 11 and hours[-1] > 13  # all day, not a morning and an afternoon peak
    # the fleet works all day, as the requests come
    assert all(len(vt.duty_windows) == 1 and vt.duty_windows[0] == (7 * 3600, 19 * 3600)
               for vt in problem.vehicle_types)


def test_a_dial_a_ride_day_is_planned_with_every_trip_accounted_for(tmp_path):
    problem = _day(tmp_path, "dial-a-ride", trips=60, seed=5)
    plan = solve(problem, SolveOptions(time_limit_s=120, max_rounds=2_000))
    assert_feasible(problem, plan)
    assert plan.routes and not plan.unserved
    assert len(plan.served_trip_ids) + len(plan.contracted) == len(problem.trips)


def test_an_unknown_shape_is_refused_naming_the_field():
    with pytest.raises(InputFormatError) as raised:
        generate_scenario(synthetic_area(), trips=10, shape="rush-hour")
    assert raised.value.where == "shape" and "dial-a-ride" in str(raised.value)
