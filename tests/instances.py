"""The ladder of named test problems, from hand-checkable ones up to a published dial-a-ride
instance and a generated county day.

The small rungs lie on a straight road: positions are km from the depot at 0; vehicles drive at
60 km/h, so one km is one minute, and cost £1 a km and nothing else unless the rung says so.
Each rung is a function that builds its problem (a ``Problem`` is immutable, so tests may share
one), registered in ``LADDER`` with what it exercises and, where there is one, its known answer:
the cheapest plan's cost, the vehicles it uses, which trips go to contracts and which are left
unserved. The answers are worked out by hand in each rung's docstring; test_solver checks them
against an exhaustive search over every plan and solves every rung with both engines.

Above the small rungs: ``darp_instance`` (a published Cordeau/Ropke instance, skipped with the
reason when ../shared is not beside this clone) and ``generated_day`` (a synthetic county day).
"""
from __future__ import annotations

import functools
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from optimiser import Layout, Problem, ProblemBuilder, TravelMatrix, crow_fly
from tests.conftest import DARP


# ---------------------------------------------------------------- the road and its fleet
def line_matrix(points: dict[str, float]) -> TravelMatrix:
    """Places on a straight road, ``points`` giving each one's km from 0."""
    ids = list(points)
    km = np.abs(np.array([points[i] for i in ids])[:, None] - np.array([points[i] for i in ids])[None, :])
    return TravelMatrix(tuple(ids), km * 60.0, km * 1000.0)


def line_builder(points: dict[str, float], **fleet) -> ProblemBuilder:
    """A builder on the road with the depot at 0 and ``points``, and one type of car (one 4-seat
    car at £1 a km unless ``fleet`` says otherwise)."""
    builder = ProblemBuilder(line_matrix({"depot": 0.0, **points}), name="line")
    defaults = dict(count=1, depot="depot", layouts=[Layout("4 seats", seats=4)], cost_per_km=1.0)
    defaults.update(fleet)
    builder.add_vehicle_type("car", **defaults)
    return builder


def school_road(**fleet) -> ProblemBuilder:
    """The school road: home at 5 km, school at 10 km, no trips yet. A loop from the depot to
    home, school and back is 20 km."""
    return line_builder({"home": 5, "school": 10}, **fleet)


# ---------------------------------------------------------------- the ladder
@dataclass(frozen=True)
class Rung:
    """A named problem, what it exercises and its known answer (None where the rung states none).
    ``vehicles`` is the number of vehicles the cheapest plan uses; ``contracted`` and ``unserved``
    the trips it gives to contracts and leaves unserved, sorted."""

    name: str
    exercises: str
    build: Callable[[], Problem]
    cost: float | None = None
    vehicles: int | None = None
    contracted: tuple[str, ...] | None = None
    unserved: tuple[str, ...] | None = None

    def __call__(self) -> Problem:
        return self.build()

    @property
    def has_known_answer(self) -> bool:
        return self.cost is not None


#: Every rung by name, smallest first.
LADDER: dict[str, Rung] = {}


def rung(*, cost=None, vehicles=None, contracted=None, unserved=None):
    """Register the decorated builder as a rung: its name is the function's, what it exercises
    the first line of its docstring; the problem is built once and shared."""
    def register(build):
        once = functools.lru_cache(maxsize=None)(build)
        LADDER[build.__name__] = Rung(build.__name__, build.__doc__.strip().splitlines()[0], once, cost, vehicles,
                                      None if contracted is None else tuple(sorted(contracted)),
                                      None if unserved is None else tuple(sorted(unserved)))
        functools.update_wrapper(once, build)
        return once
    return register


@rung(cost=20.0, vehicles=1, contracted=(), unserved=())
def one_trip() -> Problem:
    """One pupil on the school road: the loop depot, home, school, depot.

    5 + 5 + 10 km = £20; at school by 08:45."""
    return one_trip_with()


def one_trip_with(**fleet) -> Problem:
    """``one_trip`` with the car's ``fleet`` arguments changed (a duty limit, say)."""
    b = school_road(**fleet)
    b.add_trip("t1", "school", "home", "school", latest_arrival="08:45")
    return b.build()


@rung(cost=30.0, vehicles=1, contracted=(), unserved=())
def two_pupils_share_a_car() -> Problem:
    """Two pupils on the way to school share one car rather than use two.

    Near at 3 km, far at 6, school at 10; two cars at £10 a day: one loop of 20 km and one day
    rate, £30 (two cars would cost £20 more in day rates and km)."""
    b = line_builder({"near": 3, "far": 6, "school": 10}, count=2, cost_per_day=10.0)
    b.add_trip("a", "school", "near", "school", latest_arrival="08:45")
    b.add_trip("b", "school", "far", "school", latest_arrival="08:45")
    return b.build()


@rung(cost=40.0, vehicles=2, contracted=(), unserved=())
def seats_run_out() -> Problem:
    """Seats run out: a family of three and twins, both due by 08:15, need two 4-seat cars.

    Neither fits beside the other and there is no time for two runs: two loops of 20 km."""
    b = school_road(count=2)
    b.add_trip("family", "school", "home", "school", seats=3, earliest_pickup="08:00", latest_arrival="08:15")
    b.add_trip("twins", "school", "home", "school", seats=2, earliest_pickup="08:00", latest_arrival="08:15")
    return b.build()


@rung(cost=30.0, vehicles=1, contracted=(), unserved=())
def passenger_travelling_alone() -> Problem:
    """A passenger who travels alone is never shared, even with someone from the same home.

    Sharing would cost 20; instead one car runs home-school twice: 5 + 5 + 5 + 5 + 10 = £30."""
    b = school_road(count=2)
    b.add_trip("solo", "sen", "home", "school", travels_alone=True)
    b.add_trip("other", "sen", "home", "school")
    return b.build()


@rung(cost=20.0, vehicles=1, contracted=(), unserved=())
def wheelchair_needs_a_layout() -> Problem:
    """A wheelchair user and a pupil of two seats ride together in the car's wheelchair layout.

    The car runs as 4 seats or 2 seats + 1 wheelchair space: one loop of 20 km in the latter."""
    b = school_road(layouts=[Layout("4 seats", seats=4), Layout("2 seats + 1 wheelchair", seats=2,
                                                                wheelchair_spaces=1)])
    b.add_trip("chair", "sen", "home", "school", wheelchair_spaces=1)
    b.add_trip("walker", "sen", "home", "school", seats=2)
    return b.build()


@rung(cost=20.0, vehicles=1, contracted=(), unserved=())
def wheelchair_user_on_the_way() -> Problem:
    """A wheelchair user collected on the way switches the route to the layout with a space.

    Walker at 5 km from 08:00, wheelchair user at 7 km from 08:05, both at school (10 km) by
    08:45: one loop of 20 km in the 2 seats + 1 wheelchair layout."""
    b = line_builder({"home": 5, "chair_home": 7, "school": 10},
                     layouts=[Layout("4 seats", seats=4), Layout("2 seats + 1 wheelchair", seats=2,
                                                                 wheelchair_spaces=1)])
    b.add_trip("walker", "sen", "home", "school", earliest_pickup="08:00", latest_arrival="08:45")
    b.add_trip("chair", "sen", "chair_home", "school", wheelchair_spaces=1, earliest_pickup="08:05",
               latest_arrival="08:45")
    return b.build()


@rung(cost=100.0, vehicles=1, contracted=("a",), unserved=())
def layouts_do_not_multiply_the_fleet() -> Problem:
    """One car with two layouts is still one car: of two trips at the same time one is contracted.

    a (5 km to school, by 08:15) and b (40 km out, by 08:35) both from 08:00; a taxi costs £5 +
    £3 a km. The car takes b (40 + 30 + 10 = £80) and a goes by taxi (£5 + 5 x £3 = £20): £100,
    against £20 + £95 the other way round."""
    b = line_builder({"home": 5, "school": 10, "far": 40},
                     layouts=[Layout("4 seats", seats=4), Layout("1 wheelchair", wheelchair_spaces=1)])
    b.add_trip("a", "school", "home", "school", earliest_pickup="08:00", latest_arrival="08:15")
    b.add_trip("b", "school", "far", "school", earliest_pickup="08:00", latest_arrival="08:35")
    b.add_tariff("taxi", flag_fall=5.0, per_km=3.0)
    return b.build()


@rung(cost=44.8, vehicles=1, contracted=(), unserved=())
def passenger_assistant() -> Problem:
    """A passenger who needs an assistant rides in the minibus that carries one, not the car.

    The minibus costs £2 a km and £12 an hour for its assistant: 20 km (£40) and a duty of 24
    minutes (5 out, 2 to board, 5 to school, 2 to alight, 10 back: £4.80)."""
    b = school_road()
    b.add_vehicle_type("sen minibus", count=1, depot="depot", layouts=[Layout("8 seats", seats=8)],
                       passenger_assistant=True, cost_per_km=2.0, assistant_cost_per_hour=12.0)
    b.add_trip("t1", "sen", "home", "school", needs_assistant=True, latest_arrival="09:00")
    return b.build()


@rung(cost=13.0, vehicles=0, contracted=("t1",), unserved=())
def contract_cheaper_than_the_fleet() -> Problem:
    """A contract cheaper than the fleet: a taxi at £3 + £2 a km beats a car's £200 day rate.

    Home at 50 km, school at 55: the taxi's 5 km cost £13; the car would cost £200 + 110 km."""
    b = line_builder({"home": 50, "school": 55}, cost_per_day=200.0)
    b.add_trip("t1", "nept", "home", "school")
    b.add_tariff("taxi", flag_fall=3.0, per_km=2.0)
    return b.build()


@rung(cost=15.0, vehicles=0, contracted=("chair",), unserved=())
def fleet_cannot_carry() -> Problem:
    """A trip no vehicle can carry goes to the tariff that can: two wheelchair spaces, none in the car.

    The wheelchair taxi costs £5 + 5 km x £2 = £15."""
    b = school_road()
    b.add_trip("chair", "sen", "home", "school", wheelchair_spaces=2)
    b.add_tariff("wheelchair taxi", flag_fall=5.0, per_km=2.0, needs=["wheelchair"])
    return b.build()


@rung(cost=35.0, vehicles=1, contracted=("chair",), unserved=())
def walker_and_a_contracted_wheelchair_user() -> Problem:
    """A walker rides in the car, a wheelchair user the car cannot carry goes by wheelchair taxi.

    The car's loop is £20, the taxi £5 + 5 km x £2 = £15: £35, the contract part of every plan."""
    b = school_road()
    b.add_trip("walker", "school", "home", "school")
    b.add_trip("chair", "sen", "home", "school", wheelchair_spaces=1)
    b.add_tariff("wheelchair taxi", flag_fall=5.0, per_km=2.0, needs=["wheelchair"])
    return b.build()


@rung(cost=70.0, vehicles=1, contracted=(), unserved=("early",))
def pickup_before_any_vehicle_can_arrive() -> Problem:
    """A pickup window that closes before any vehicle can reach it leaves the trip unserved.

    The shift starts at 08:00 and home is 30 minutes away; "early" must be collected by 08:10.
    "fine" (from 09:00) is served by a loop of 30 + 5 + 35 = 70 km."""
    b = line_builder({"home": 30, "school": 35}, shift_start="08:00")
    b.add_trip("early", "nept", "home", "school", latest_pickup="08:10")
    b.add_trip("fine", "nept", "home", "school", earliest_pickup="09:00")
    return b.build()


@rung(cost=60.0, vehicles=1, contracted=(), unserved=())
def ride_cap_forbids_a_detour() -> Problem:
    """A ride cap forbids a detour: a (10 km, cap 15 minutes) may not ride out to b at 30 km.

    School at 15 km. Cheapest: one car takes a to school first, then fetches b: 10 + 5 + 15 +
    15 + 15 = £60 (carrying a out to b costs as much but breaks a's cap)."""
    b = line_builder({"a_home": 10, "b_home": 30, "school": 15}, count=2)
    b.add_trip("a", "school", "a_home", "school", max_ride_minutes=15)
    b.add_trip("b", "school", "b_home", "school")
    return b.build()


@rung(cost=0.0, vehicles=0, contracted=(), unserved=("t1",))
def duty_too_short() -> Problem:
    """A duty limit of one hour cannot cover a 220-km loop: the trip is unserved, saying why."""
    b = line_builder({"home": 100, "school": 110}, max_duty_hours=1.0)
    b.add_trip("t1", "nept", "home", "school")
    return b.build()


@rung(cost=20.0, vehicles=1)
def no_room_left() -> Problem:
    """One seat, two pupils at the same time: one is left unserved ("no room"), either one.

    Each pupil alone is a loop of 20 km."""
    b = line_builder({"h1": 5, "h2": 6, "school": 10}, layouts=[Layout("1 seat", seats=1)])
    b.add_trip("a", "school", "h1", "school", earliest_pickup="08:00", latest_arrival="08:12")
    b.add_trip("b", "school", "h2", "school", earliest_pickup="08:00", latest_arrival="08:12")
    return b.build()


@rung(cost=20.0 + 28.0 + 10.0 * 37 / 60, vehicles=1, contracted=(), unserved=())
def school_and_social_care() -> Problem:
    """Two services in one car, priced by km, hour and day, with CO2: the breakdown adds up.

    A pupil from 5 km to school at 10 by 08:45, then a social-care client from 8 km to the
    centre at 12 from 08:50; £20 a day, £1 a km, £10 an hour, 0.3 kg of CO2 a km. One loop of
    5 + 5 + 2 + 4 + 12 = 28 km; a duty of 37 minutes (22 driving, four stops of 2 minutes and
    one minute's wait at h2 for 08:50 after the 08:45 bell): £20 + £28 + £6.17."""
    b = line_builder({"h1": 5, "h2": 8, "school": 10, "centre": 12}, cost_per_day=20.0, cost_per_hour=10.0,
                     co2_kg_per_km=0.3)
    b.add_trip("a", "school", "h1", "school", latest_arrival="08:45")
    b.add_trip("b", "social_care", "h2", "centre", earliest_pickup="08:50", latest_arrival="09:30")
    return b.build()


@rung(cost=30.0, vehicles=1, contracted=(), unserved=())
def school_run() -> Problem:
    """Two pupils due by 08:30 in a 2-seat car (1-minute stops, 20-minute cap), and a third at any time.

    The checker's hand-made plans break one rule of it each. Cheapest: one car, the pair's loop
    then back for the third, 20 + 10 = £30 (the third's 10 km cost less than a taxi's £3 + 5 km
    x £2 = £13)."""
    b = school_road(layouts=[Layout("2 seats", seats=2)])
    for tid in ("a", "b"):
        b.add_trip(tid, "school", "home", "school", earliest_pickup="08:00", latest_arrival="08:30",
                   pickup_service_minutes=1, dropoff_service_minutes=1, max_ride_minutes=20)
    b.add_trip("c", "school", "home", "school", pickup_service_minutes=1, dropoff_service_minutes=1, seats=1)
    b.add_tariff("taxi", flag_fall=3.0, per_km=2.0)
    return b.build()


@rung(cost=20.0, vehicles=1, contracted=(), unserved=())
def the_bell() -> Problem:
    """A ride cap only a later pickup meets: waiting for the bell must not count as riding.

    Home at 5 km, day centre at 10; collected from 08:00 (until 08:30), not let in before 08:30
    (until 08:40), 15-minute cap, no time at the stops. Collected at 08:00 the client would ride
    30 minutes; collected at 08:15 or later, 15 or less. The least duty leaves at 08:20 and is
    back at 08:40 (20 minutes). ``bell(latest_pickup=...)`` narrows the pickup window."""
    return bell()


def bell(latest_pickup: str = "08:30") -> Problem:
    """``the_bell`` with the pickup window closing at ``latest_pickup``: at 08:16 the cap binds
    (out at 08:11, back at 08:40: a least duty of 29 minutes); at 08:14 no schedule meets it."""
    b = line_builder({"home": 5, "centre": 10})
    b.add_trip("t", "day_centre", "home", "centre", earliest_pickup="08:00", latest_pickup=latest_pickup,
               earliest_arrival="08:30", latest_arrival="08:40", max_ride_minutes=15,
               pickup_service_minutes=0, dropoff_service_minutes=0)
    return b.build()


@rung(cost=28.0, vehicles=1, contracted=(), unserved=())
def order_with_no_schedule() -> Problem:
    """Trip a is due at school by 08:10, b cannot be collected before 08:20: b first has no schedule.

    Homes at 5 and 6 km, school at 10. Cheapest: a to school, back for b: 5 + 5 + 4 + 4 + 10 =
    £28 (waiting for b with a aboard would make a late; a loop each is £40)."""
    b = line_builder({"home_a": 5, "home_b": 6, "school": 10})
    b.add_trip("a", "school", "home_a", "school", latest_arrival="08:10")
    b.add_trip("b", "school", "home_b", "school", earliest_pickup="08:20")
    return b.build()


@rung(cost=30.0, vehicles=1, contracted=(), unserved=())
def alone_with_company_at_home() -> Problem:
    """A passenger who travels alone and another from the same home, in a 2-seat car (1-minute stops).

    The checker's plan with both aboard breaks the rule; the cheapest plan runs twice: £30."""
    b = school_road(layouts=[Layout("2 seats", seats=2)])
    b.add_trip("a", "sen", "home", "school", travels_alone=True, pickup_service_minutes=1,
               dropoff_service_minutes=1)
    b.add_trip("b", "sen", "home", "school", pickup_service_minutes=1, dropoff_service_minutes=1)
    return b.build()


@rung(cost=24.0, vehicles=1, contracted=(), unserved=())
def minibus_changes_layout() -> Problem:
    """A minibus of 8 seats or 6 seats + 1 wheelchair space carries a walker and a wheelchair user.

    Homes at 5 and 6 km, the centre at 12, both due 09:00-09:30; a taxi costs £50 + £10 a km.
    One route in the 6+1 layout: 5 + 1 + 6 + 12 = £24."""
    b = line_builder({"home_a": 5, "home_b": 6, "centre": 12}, layouts=[Layout("8 seats", seats=8),
                                                                        Layout("6+1", seats=6, wheelchair_spaces=1)])
    b.add_tariff("taxi", flag_fall=50, per_km=10)
    b.add_trip("walker", "day_centre", "home_a", "centre", earliest_arrival="09:00", latest_arrival="09:30")
    b.add_trip("wheels", "day_centre", "home_b", "centre", earliest_arrival="09:00", latest_arrival="09:30",
               wheelchair_spaces=1)
    return b.build()


@rung(cost=30.0, vehicles=1, contracted=(), unserved=())
def alone_among_three() -> Problem:
    """Three passengers to school by 08:50 in an 8-seat car, one of whom travels alone.

    Homes both at 5 km, school at 10: the two others share one run, the one alone another: £30."""
    b = line_builder({"home_a": 5, "home_b": 5, "school": 10}, layouts=[Layout("8 seats", seats=8)])
    b.add_trip("alone", "sen", "home_a", "school", latest_arrival="08:50", travels_alone=True)
    b.add_trip("other", "sen", "home_b", "school", latest_arrival="08:50")
    b.add_trip("third", "sen", "home_b", "school", latest_arrival="08:50")
    return b.build()


@rung(cost=66.0, vehicles=1, contracted=(), unserved=())
def alone_and_capped() -> Problem:
    """A ride cap, a long way out and a passenger alone, three cars: the rules hold together.

    a (10 km, cap 15 minutes) and b (30 km) to school at 15, solo from 12 km travelling alone.
    Cheapest: one car, each to school in turn (no time windows): a, solo, b: 10 + 5 + 3 + 3 +
    15 + 15 + 15 = £66."""
    b = line_builder({"a_home": 10, "b_home": 30, "c_home": 12, "school": 15}, count=3)
    b.add_trip("a", "school", "a_home", "school", max_ride_minutes=15)
    b.add_trip("b", "school", "b_home", "school")
    b.add_trip("solo", "sen", "c_home", "school", travels_alone=True)
    return b.build()


SPLIT = ["07:00-10:00", "14:00-18:00"]


def school_day(**fleet) -> Problem:
    """A morning and an afternoon school run (home at 5 km, school at 10, no time at stops) for a
    car on 07:00-18:00 at £50 a day, £1 a km, £10 an hour; ``fleet`` adds e.g. ``duties``."""
    b = line_builder({"home": 5, "school": 10}, shift_start="07:00", shift_end="18:00", cost_per_day=50.0,
                     cost_per_hour=10.0, **fleet)
    b.add_trip("am", "school", "home", "school", earliest_pickup="08:00", latest_arrival="08:45",
               pickup_service_minutes=0, dropoff_service_minutes=0)
    b.add_trip("pm", "school", "school", "home", earliest_pickup="15:30", latest_pickup="15:45",
               pickup_service_minutes=0, dropoff_service_minutes=0)
    return b.build()


@rung(cost=50.0 + 40.0 + 2 * 10.0 * 20 / 60, vehicles=1, contracted=(), unserved=())
def split_shifts() -> Problem:
    """Split shifts: one car drives a morning and an afternoon duty and pays its day rate once.

    Duties 07:00-10:00 and 14:00-18:00 (``SPLIT``). Each duty's loop is 20 km and 20 minutes
    (£20 + £3.33); the day rate £50 once: £96.67, the driver paid for the duties only."""
    return school_day(duties=SPLIT)


@rung(cost=13.0, vehicles=0, contracted=("midday",), unserved=())
def trip_between_duties() -> Problem:
    """A trip between the duties of a split shift goes to its contract, saying why.

    Midday 11:30-12:30 falls in neither duty; the taxi's 5 km cost £3 + 5 x £2 = £13."""
    b = line_builder({"home": 5, "clinic": 10}, duties=SPLIT, shift_start="07:00", shift_end="18:00")
    b.add_trip("midday", "nept", "home", "clinic", earliest_pickup="11:30", latest_arrival="12:30")
    b.add_tariff("taxi", flag_fall=3.0, per_km=2.0)
    return b.build()


@rung(cost=126.0, vehicles=2, contracted=(), unserved=())
def trip_in_a_routes_waiting_time() -> Problem:
    """A trip fits in one car's waiting time though a lower bound ignoring the wait would rule it out.

    Car 1 does "early" (08:00) and "late" (10:00) near the depot and waits between them; car 0
    does "far" (09:30, at 20 km). Trip c (09:00, 5 to 6 km) fits in car 1's wait for 8 km more
    and no more duty; car 0 could take it on its way out but would then wait 13 minutes more
    at £60 an hour. test_ruin_recreate starts the search from those routes. Cheapest of all (2
    minutes at each stop): car 1 does "early" alone (4 km, 07:59-08:07); car 0 collects c at
    09:02, then "far" and "late" (5+1+14+1+20+1+2 = 44 km, 08:57-10:07): 48 km and 78 minutes at
    £60 an hour, £126."""
    b = line_builder({"a1": 1, "a2": 2, "c1": 5, "c2": 6, "m1": 20, "m2": 21}, count=2, cost_per_hour=60.0)
    b.add_trip("early", "sen", "a1", "a2", earliest_pickup="08:00", latest_pickup="08:05")
    b.add_trip("late", "sen", "a1", "a2", earliest_pickup="10:00", latest_pickup="10:05")
    b.add_trip("far", "sen", "m1", "m2", earliest_pickup="09:30", latest_pickup="09:35")
    b.add_trip("c", "sen", "c1", "c2", earliest_pickup="09:00", latest_pickup="09:02")
    return b.build()


@rung(cost=52.0, vehicles=2, contracted=(), unserved=())
def crossed_routes() -> Problem:
    """Two cars, each with an early and a late trip, paired near with far: exchanging ends pays.

    Early trips at 08:00 (1-2 km and 19-22 km), late ones at 09:00 (20-21 km and 3-4 km), each
    pair too close in time for one car to do both. Paired near-far, one trip after the other,
    the routes cost £88; near with near and far with far, £54 (1+1+1+1+4 + 19+3+2+1+21). No
    ride caps: cheapest of all, each early passenger stays aboard while the late one rides,
    0-1-3-4-2-0 and 0-19-20-21-22-0: 8 + 44 = £52."""
    b = line_builder({"a1": 1, "a2": 2, "d1": 3, "d2": 4, "c1": 19, "c2": 22, "b1": 20, "b2": 21}, count=2)
    b.add_trip("near_early", "sen", "a1", "a2", earliest_pickup="08:00", latest_pickup="08:05")
    b.add_trip("far_late", "sen", "b1", "b2", earliest_pickup="09:00", latest_pickup="09:05")
    b.add_trip("far_early", "sen", "c1", "c2", earliest_pickup="08:00", latest_pickup="08:05")
    b.add_trip("near_late", "sen", "d1", "d2", earliest_pickup="09:00", latest_pickup="09:05")
    return b.build()


@rung(vehicles=1, contracted=(), unserved=())
def open_pickup_to_school() -> Problem:
    """A pupil with an open pickup (from 07:00, no end) due at school 08:30-08:45 with a 30-minute cap.

    Real coordinates (crow-fly distances): the search narrows the pickup's window to the one its
    arrival and cap imply."""
    places = {"depot": (52.65, -0.70), "home": (52.60, -0.70), "school": (52.62, -0.70)}
    b = ProblemBuilder(crow_fly(places), name="school run")
    b.add_vehicle_type("taxi", count=1, depot="depot", layouts=[Layout("4", seats=4)], cost_per_km=1.0,
                       shift_start="06:00", shift_end="18:00")
    b.add_trip("pupil", "sen", "home", "school", earliest_pickup="07:00", earliest_arrival="08:30",
               latest_arrival="08:45", max_ride_minutes=30, pickup_service_minutes=2, dropoff_service_minutes=2)
    return b.build()


def random_small_day(seed: int) -> Problem:
    """Three random trips on the road (to a school at 25 km or a centre at 12) for two minibuses
    of two layouts on 07:00-10:00 priced by km, hour and day, and a taxi: windows, ride caps,
    wheelchairs and passengers travelling alone drawn at random. Small enough for the
    exhaustive search, whose answer is the known one."""
    import random

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


def random_day_near_a_depot(seed: int, trips: int = 6, spread_min: int = 120, slack_min=(10, 20, 40),
                            open_pickup: bool = False) -> Problem:
    """Random trips around Oakham (crow-fly distances) for two buses of 8 seats on 07:00-12:00 at
    £1 a km and £20 an hour, with a duty limit of 1.5 or 4 hours: pickups within ``spread_min``
    minutes of 07:00, pickup windows ``slack_min`` minutes wide, ride caps of 1.1 to 3 times the
    direct ride. ``open_pickup``: every other trip gives an earliest pickup and an arrival window
    but no latest pickup, as the generated pupils' trips to school do, so its pickup's own window
    runs to the end of the day and only its arrival and ride cap bound it (the implied windows).
    Used by test_ruin_recreate against its all-pairs oracle."""
    import random

    rng = random.Random(seed)
    places = {"depot": (52.65, -0.70)}
    for k in range(trips):
        places[f"p{k}"] = (52.6 + rng.random() * 0.1, -0.75 + rng.random() * 0.1)
        places[f"d{k}"] = (52.6 + rng.random() * 0.1, -0.75 + rng.random() * 0.1)
    b = ProblemBuilder(crow_fly(places), name=f"random{seed}")
    b.add_vehicle_type("bus", count=2, depot="depot", layouts=[Layout("8", seats=8)], cost_per_km=1.0,
                       cost_per_hour=20.0, shift_start="07:00", shift_end="12:00", max_duty_hours=rng.choice([1.5, 4]))
    for k in range(trips):
        start = 7 * 60 + rng.randrange(0, spread_min)
        hh, mm = divmod(start, 60)
        late = start + rng.choice(slack_min)
        if open_pickup and k % 2:
            b.add_trip(f"t{k}", "sen", f"p{k}", f"d{k}", earliest_pickup="07:00", earliest_arrival=f"{hh:02d}:{mm:02d}",
                       latest_arrival=f"{late // 60:02d}:{late % 60:02d}", max_ride_factor=rng.choice([1.1, 1.5, 3.0]))
            continue
        b.add_trip(f"t{k}", "sen", f"p{k}", f"d{k}", earliest_pickup=f"{hh:02d}:{mm:02d}",
                   latest_pickup=f"{late // 60:02d}:{late % 60:02d}", max_ride_factor=rng.choice([1.1, 1.5, 3.0]))
    return b.build()


def small_rungs() -> list[Rung]:
    """The rungs with a known cost small enough for test_solver's exhaustive search: at most four
    trips and three vehicles, no trip left unserved and no split shifts."""
    return [r for r in LADDER.values() if r.has_known_answer and r.unserved == () and len(r().trips) <= 4
            and sum(vt.count for vt in r().vehicle_types) <= 3 and not any(vt.duties for vt in r().vehicle_types)]


# ---------------------------------------------------------------- the top of the ladder
def darp_instance(name: str):
    """A published dial-a-ride instance (Cordeau 2006, Ropke 2007) and its best known cost, as
    ``(DarpInstance, best)``; the test is skipped, saying why, when ../shared is not beside this
    clone. a2-16 and b2-16 have 2 vehicles and 16 requests; b4-32 and b5-40 4 and 5, 32 and 40."""
    from optimiser.domain.darp import read_best_known, read_instance

    if not DARP.is_dir():
        pytest.skip(f"needs the benchmark instances in {DARP} (../shared is not beside this clone)")
    instance = read_instance(next(DARP.glob(f"*/{name}.txt")))
    return instance, read_best_known(DARP / "bks.csv")[instance.name]


@functools.lru_cache(maxsize=None)
def generated_day(trips: int, seed: int) -> Problem:
    """A synthetic county day: ``trips`` school, SEN, social-care and patient trips on the
    synthetic Rutland, a fleet on split shifts with contracts, written to files and read back as
    a user's would be (geodata.scenario)."""
    from geodata.readers import load_problem
    from geodata.scenario import generate_scenario, synthetic_area, write_scenario

    with tempfile.TemporaryDirectory(prefix="itu-day-") as folder:
        write_scenario(generate_scenario(synthetic_area(), trips=trips, seed=seed), folder)
        return load_problem(Path(folder) / "trips.csv", Path(folder) / "fleet.json").problem


if __name__ == "__main__":  # python -m tests.instances: the ladder as a table
    for r in LADDER.values():
        answer = [f"£{r.cost:.2f}" if r.cost is not None else "", "" if r.vehicles is None else f"{r.vehicles} vehicles",
                  f"contracted {', '.join(r.contracted)}" if r.contracted else "",
                  f"unserved {', '.join(r.unserved)}" if r.unserved else ""]
        print(f"{r.name:42} {len(r().trips)} trips  {'; '.join(a for a in answer if a) or '-':40} {r.exercises}")
