"""Broken inputs, each named after its fault: every one is refused with the trip/vehicle and field."""
import pytest

from optimiser import Layout, ProblemError, crow_fly, format_clock, parse_clock
from tests.instances import line_builder, line_matrix, one_trip_with, school_road


def test_clock_strings_and_seconds():
    assert parse_clock("08:40", where="x") == 8 * 3600 + 40 * 60
    assert parse_clock("07:05:30", where="x") == 7 * 3600 + 5 * 60 + 30
    assert parse_clock(100, where="x") == 100.0
    assert format_clock(8 * 3600 + 40 * 60) == "08:40"


@pytest.mark.parametrize("bad", ["8.40", "25:61", "", "noon", None])
def test_unreadable_clock_names_the_field(bad):
    b = school_road()
    with pytest.raises(ProblemError) as err:
        b.add_trip("t1", "school", "home", "school", latest_arrival=bad if bad is not None else [])
    assert err.value.where == "trip t1.latest_arrival"


def test_window_closes_before_it_opens():
    b = school_road()
    b.add_trip("t1", "school", "home", "school", earliest_pickup="08:00", latest_pickup="07:50")
    with pytest.raises(ProblemError, match="pickup window closes") as err:
        b.build()
    assert err.value.where == "trip t1.latest_pickup"


def test_arrival_window_closes_before_it_opens():
    b = school_road()
    b.add_trip("t1", "school", "home", "school", earliest_arrival="09:00", latest_arrival="08:50")
    with pytest.raises(ProblemError, match="arrival window closes"):
        b.build()


def test_cannot_arrive_in_time_even_direct():
    b = line_builder({"home": 5, "school": 65})  # an hour's drive
    b.add_trip("t1", "school", "home", "school", earliest_pickup="08:00", latest_arrival="08:30")
    with pytest.raises(ProblemError, match="cannot arrive by 08:30") as err:
        b.build()
    assert err.value.where == "trip t1.latest_arrival"


def test_ride_cap_shorter_than_direct_journey():
    b = line_builder({"home": 5, "school": 45})  # 40 minutes direct
    b.add_trip("t1", "school", "home", "school", max_ride_minutes=30)
    with pytest.raises(ProblemError, match="shorter than the direct journey") as err:
        b.build()
    assert err.value.where == "trip t1.max_ride"


def test_ride_factor_below_one():
    b = school_road()
    b.add_trip("t1", "school", "home", "school", max_ride_factor=0.8)
    with pytest.raises(ProblemError, match="below 1"):
        b.build()


def test_trip_no_vehicle_and_no_tariff_can_carry():
    b = school_road()
    b.add_trip("t1", "sen", "home", "school", wheelchair_spaces=2)
    with pytest.raises(ProblemError, match="needs 2 wheelchair spaces; largest layout has 0") as err:
        b.build()
    assert err.value.where == "trip t1"


def test_trip_the_fleet_cannot_carry_is_fine_when_a_tariff_can():
    b = school_road()
    b.add_trip("t1", "sen", "home", "school", wheelchair_spaces=2)
    b.add_tariff("wheelchair taxi", flag_fall=5, per_km=2, needs=["wheelchair"])
    assert len(b.build().trips) == 1


def test_trip_needing_assistant_without_any():
    b = school_road()
    b.add_trip("t1", "sen", "home", "school", needs_assistant=True)
    with pytest.raises(ProblemError, match="passenger assistant"):
        b.build()


@pytest.mark.parametrize("field", ["cost_per_day", "cost_per_km", "cost_per_hour", "co2_kg_per_km"])
def test_negative_vehicle_cost(field):
    b = school_road(**{field: -1.0})
    b.add_trip("t1", "school", "home", "school")
    with pytest.raises(ProblemError, match="non-negative") as err:
        b.build()
    assert err.value.where == f"vehicle_types[0] (car).{field}"


def test_negative_tariff():
    b = school_road()
    b.add_trip("t1", "school", "home", "school")
    b.add_tariff("taxi", flag_fall=-2, per_km=1)
    with pytest.raises(ProblemError, match="flag_fall"):
        b.build()


def test_unknown_location():
    b = school_road()
    b.add_trip("t1", "school", "home", "nowhere")
    with pytest.raises(ProblemError, match="unknown location 'nowhere'") as err:
        b.build()
    assert err.value.where == "trip t1.dropoff"


def test_unknown_depot():
    b = school_road(depot="garage")
    with pytest.raises(ProblemError, match="unknown location 'garage'"):
        b.build()


def test_duplicate_trip_id():
    b = school_road()
    b.add_trip("t1", "school", "home", "school")
    b.add_trip("t1", "school", "home", "school")
    with pytest.raises(ProblemError, match="duplicate trip id"):
        b.build()


def test_shift_ends_before_it_starts():
    b = school_road(shift_start="10:00", shift_end="09:00")
    with pytest.raises(ProblemError, match="shift ends before it starts"):
        b.build()


def test_matrix_with_missing_values():
    import numpy as np

    m = line_matrix({"a": 0, "b": 1})
    seconds = np.array(m.seconds)
    seconds[0, 1] = np.inf
    with pytest.raises(ProblemError, match="missing or infinite"):
        type(m)(m.location_ids, seconds, m.metres)


def test_problem_is_immutable():
    problem = one_trip_with()  # a fresh one: the ladder's own rungs are shared
    with pytest.raises(AttributeError):
        problem.trips[0].seats = 3
    with pytest.raises(ValueError):
        problem.matrix.seconds[0, 0] = 1.0


def test_ride_cap_is_the_tighter_of_minutes_and_factor():
    b = line_builder({"home": 5, "school": 15})  # 10 minutes direct
    b.add_trip("a", "school", "home", "school", max_ride_minutes=30, max_ride_factor=2.0)
    b.add_trip("b", "school", "home", "school", max_ride_minutes=15, max_ride_factor=2.0)
    p = b.build()
    assert p.ride_cap_s(p.trip("a")) == pytest.approx(20 * 60)
    assert p.ride_cap_s(p.trip("b")) == pytest.approx(15 * 60)


def test_defaults_by_need():
    b = school_road(layouts=[Layout("wav", seats=2, wheelchair_spaces=1)])
    walker = b.add_trip("a", "nept", "home", "school")
    chair = b.add_trip("b", "nept", "home", "school", wheelchair_spaces=1)
    assert (walker.seats, walker.pickup_service_s) == (1, 120.0)
    assert (chair.seats, chair.pickup_service_s, chair.need) == (0, 300.0, "wheelchair")


def test_crow_fly_known_distance():
    # Oakham to Uppingham: about 9.2 km as the crow flies
    m = crow_fly({"oakham": (52.6703, -0.7285), "uppingham": (52.5867, -0.7232)}, circuity=1.0, speed_kph=60)
    assert m.distance_m("oakham", "uppingham") == pytest.approx(9_310, rel=0.01)
    assert m.travel_s("oakham", "uppingham") == pytest.approx(m.distance_m("oakham", "uppingham") * 0.06)
    assert m.distance_m("oakham", "oakham") == 0.0
