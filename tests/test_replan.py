"""Re-planning a published day: the changes are applied, everyone else keeps their vehicle and
time, nothing before now moves, bad changes are refused naming them, and every plan is checked."""
from __future__ import annotations

import csv
import functools
import json

import pytest

from optimiser import Layout, ProblemBuilder, SolveOptions, Trip, check_plan, solve
from optimiser.analysis.replan import (DisruptionPrices, ReplanOptions, changes_from_document, plan_from_document,
                                       replan)
from optimiser.errors import InputFormatError
from tests.instances import line_matrix

NOW = "07:20"


@functools.lru_cache(maxsize=None)
def school_morning():
    """Two 4-seat buses and eight pupils on a road (1 km a minute) to a school at 30 km: two
    collected by 06:50 and at school by 07:25 (before now), the rest later in the morning, two in the afternoon; a
    dear taxi. h7 is a home no trip uses yet (for an added pupil)."""
    points = {"depot": 0.0, **{f"h{k}": 2.0 * k for k in range(1, 8)}, "school": 30.0}
    b = ProblemBuilder(line_matrix(points), name="school-morning")
    b.add_vehicle_type("bus", count=2, depot="depot", layouts=[Layout("4 seats", seats=4)], cost_per_km=1.0,
                       cost_per_day=20.0, shift_start="06:30", shift_end="17:00")
    b.add_tariff("taxi", flag_fall=60.0, per_km=3.0)
    quick = dict(pickup_service_minutes=1, dropoff_service_minutes=1)
    b.add_trip("a", "school", "h1", "school", earliest_pickup="06:40", latest_pickup="06:50",
               latest_arrival="07:25", **quick)
    b.add_trip("b", "school", "h2", "school", earliest_pickup="06:40", latest_pickup="06:50",
               latest_arrival="07:25", **quick)
    for tid, home in (("c", "h3"), ("d", "h4"), ("e", "h5"), ("f", "h6")):
        b.add_trip(tid, "school", home, "school", earliest_pickup="07:40", latest_arrival="08:50", **quick)
    b.add_trip("g", "school", "school", "h1", earliest_pickup="15:30", latest_pickup="15:45", **quick)
    b.add_trip("h", "school", "school", "h3", earliest_pickup="15:30", latest_pickup="15:45", **quick)
    problem = b.build()
    return problem, solve(problem, SolveOptions(time_limit_s=120, max_rounds=20))


def vehicles_and_pickups(plan):
    return {s.trip_id: ((r.vehicle_type, r.vehicle_number), s.service_start_s)
            for r in plan.routes for s in r.stops if s.kind == "pickup"}


def run(document, added=None, **options):
    problem, published = school_morning()
    changes = changes_from_document(document, problem, published, added)
    return replan(problem, published, changes, ReplanOptions(**options))


def test_cancellations_leave_everyone_else_where_they_were():
    problem, published = school_morning()
    result = run({"now": NOW, "changes": [{"kind": "cancel", "trip_id": "d"}, {"kind": "cancel", "trip_id": "h"}]})
    assert check_plan(result.problem, result.plan).feasible
    before, after = vehicles_and_pickups(published), vehicles_and_pickups(result.plan)
    assert "d" not in after and "h" not in after
    tolerance = DisruptionPrices().tolerance_s
    for trip_id, (vehicle, pickup) in before.items():
        if trip_id in ("d", "h"):
            continue
        assert after[trip_id][0] == vehicle, trip_id
        assert abs(after[trip_id][1] - pickup) <= tolerance, trip_id
    assert {c.trip_id: c.reason for c in result.calls} == {"d": "cancelled", "h": "cancelled"}
    assert result.plan.cost.total <= published.cost.total


def test_a_vehicle_off_the_road_carries_nothing_after_its_time_and_nothing_before_now_moves():
    problem, published = school_morning()
    # the bus that drives most after 07:30 breaks down then
    later = {}
    for r in published.routes:
        later[r.vehicle_number] = later.get(r.vehicle_number, 0) + sum(
            1 for s in r.stops if s.trip_id and s.service_start_s > 7.5 * 3600)
    broken = max(later, key=later.get)
    assert later[broken] > 0
    result = run({"now": NOW, "changes": [{"kind": "vehicle_off", "vehicle_type": "bus", "vehicle_number": broken,
                                           "from": "07:30"}]})
    assert check_plan(result.problem, result.plan).feasible
    for r in result.plan.routes:
        if r.vehicle_number == broken:
            assert all(s.service_start_s <= 7.5 * 3600 + 1 for s in r.stops if s.trip_id), r
    old = {(s.trip_id, s.kind): (r.vehicle_number, s.service_start_s) for r in published.routes for s in r.stops
           if s.trip_id}
    new = {(s.trip_id, s.kind): (r.vehicle_number, s.service_start_s) for r in result.plan.routes for s in r.stops
           if s.trip_id}
    served_before_now = [k for k, (_, t) in old.items() if t < 7 * 3600 + 20 * 60]
    assert served_before_now, "the day must have stops before now for this test to mean anything"
    for key in served_before_now:
        assert new[key][0] == old[key][0] and abs(new[key][1] - old[key][1]) <= 1.0, key
    assert all(t >= 7 * 3600 + 20 * 60 - 1 for k, (_, t) in new.items() if k not in served_before_now)
    moved = {c.trip_id for c in result.calls}
    assert moved and all(c.reason in ("vehicle off the road", "moved for cost") for c in result.calls)


def test_an_added_pupil_and_a_moved_window_are_placed():
    problem, published = school_morning()
    pupil = Trip("n", "school", "h7", "school", earliest_pickup_s=7 * 3600 + 40 * 60,
                 latest_arrival_s=8 * 3600 + 50 * 60,
                 pickup_service_s=60, dropoff_service_s=60)
    result = run({"now": NOW, "changes": [{"kind": "add", "trip": {"id": "n"}},
                                          {"kind": "move_window", "trip_id": "g", "earliest_pickup": "16:00",
                                           "latest_pickup": "16:10"}]}, added={"n": pupil})
    assert check_plan(result.problem, result.plan).feasible
    after = vehicles_and_pickups(result.plan)
    assert "n" in after and after["g"][1] >= 16 * 3600
    assert [c.reason for c in result.calls if c.trip_id == "n"] == ["added"]


@pytest.mark.parametrize("change, where", [
    ({"kind": "cancel", "trip_id": "zz"}, "changes[1].trip_id"),
    ({"kind": "vehicle_off", "vehicle_type": "lorry", "vehicle_number": 0}, "changes[1].vehicle_type"),
    ({"kind": "vehicle_off", "vehicle_type": "bus", "vehicle_number": 7}, "changes[1].vehicle_number"),
    ({"kind": "vehicle_off", "vehicle_type": "bus", "vehicle_number": 0, "from": "07:00"}, "changes[1].from"),
    ({"kind": "cancel", "trip_id": "a"}, "changes[1].trip_id"),  # picked up before now
    ({"kind": "move_window", "trip_id": "c", "latest_pickup": "07:05"}, "changes[1].latest_pickup"),
])
def test_a_bad_change_is_refused_naming_it(change, where):
    problem, published = school_morning()
    document = {"now": NOW, "changes": [{"kind": "cancel", "trip_id": "e"}, change]}
    with pytest.raises(InputFormatError) as caught:
        changes_from_document(document, problem, published)
    assert caught.value.where == where
    if change.get("trip_id") == "zz":
        assert "'zz'" in caught.value.message


def test_a_vehicle_cannot_leave_the_road_with_a_passenger_on_board():
    problem, published = school_morning()
    carrying = next(r.vehicle_number for r in published.routes for s in r.stops if s.trip_id == "a")
    document = {"now": "06:55", "changes": [{"kind": "vehicle_off", "vehicle_type": "bus",
                                              "vehicle_number": carrying, "from": "06:55"}]}
    with pytest.raises(InputFormatError, match="on board") as caught:
        changes_from_document(document, problem, published)
    assert caught.value.where == "changes[0].from"


def test_the_published_plan_read_back_from_its_file_is_the_same_and_the_full_search_is_checked(tmp_path):
    problem, published = school_morning()
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(published.to_dict()))
    text = path.read_text()
    again = plan_from_document(json.loads(text), problem)
    assert vehicles_and_pickups(again) == vehicles_and_pickups(published)
    result = run({"now": NOW, "changes": [{"kind": "cancel", "trip_id": "c"}]}, resolve=True,
                 solve=SolveOptions(time_limit_s=120, max_rounds=10))
    assert check_plan(result.problem, result.plan).feasible
    assert result.method in ("repair", "full search") and result.notes
    assert path.read_text() == text


def test_itu_replan_writes_the_calls_and_refuses_an_unknown_trip(tmp_path, capsys):
    """The example day with a published plan that serves nobody (every trip unserved): the added
    pupils of examples/rutland/changes.json are placed and called; an unknown trip is refused."""
    from pathlib import Path

    from service.cli import main

    example = Path(__file__).resolve().parent.parent / "examples" / "rutland"
    plan = tmp_path / "plan.json"
    with (example / "trips.csv").open(newline="") as f:
        unserved = [{"trip_id": row["id"], "service": row["service"], "reason": "not planned"}
                    for row in csv.DictReader(f)]
    plan.write_text(json.dumps({"problem": "rutland", "routes": [], "contracted": [], "unserved": unserved}))
    text = plan.read_text()
    document = json.loads((example / "changes.json").read_text())
    document["changes"] = [c for c in document["changes"] if c["kind"] == "add"]
    changes = tmp_path / "changes.json"
    changes.write_text(json.dumps(document))
    files = ["--trips", str(example / "trips.csv"), "--fleet", str(example / "fleet.json")]
    assert main(["replan", str(plan), str(changes), *files, "--out", str(tmp_path / "out")]) == 0
    calls = (tmp_path / "out" / "calls.csv").read_text().splitlines()
    assert calls[0] == "trip_id,reason,old_vehicle,old_pickup,new_vehicle,new_pickup"
    assert sorted(line.split(",")[0] for line in calls[1:]) == ["nept-0101-out", "school-0101-am"]
    assert json.loads((tmp_path / "out" / "replan.json").read_text())["method"] == "repair"
    changes.write_text(json.dumps({"now": "07:00", "changes": [{"kind": "cancel", "trip_id": "nobody"}]}))
    capsys.readouterr()
    assert main(["replan", str(plan), str(changes), *files]) == 2
    assert "changes[0].trip_id: unknown trip 'nobody'" in capsys.readouterr().err
    assert plan.read_text() == text


def test_the_disruption_price_is_settable_and_checked():
    with pytest.raises(Exception) as caught:
        DisruptionPrices(moved_vehicle=-1)
    assert caught.value.where == "prices.moved_vehicle"
    problem, published = school_morning()
    # with moving free the disruption price is nought; priced (no tolerance), it is what the
    # calls say: every vehicle changed and every pickup time moved
    document = {"now": NOW, "changes": [{"kind": "cancel", "trip_id": "e"}]}
    free = run(document, prices=DisruptionPrices(moved_vehicle=0, moved_pickup=0))
    dear = run(document, prices=DisruptionPrices(moved_vehicle=500, moved_pickup=500, tolerance_s=0))
    assert free.disruption == 0
    moved = [c for c in dear.calls if c.reason != "cancelled"]
    assert dear.disruption == pytest.approx(sum(
        (500 if c.old_vehicle != c.new_vehicle else 0) + (500 if c.old_pickup != c.new_pickup else 0) for c in moved))
    for result in (free, dear):
        assert check_plan(result.problem, result.plan).feasible


def test_the_compiled_test_of_places_makes_the_plan_that_timing_every_place_makes():
    """On a generated day, a vehicle off the road mid-morning and a few trips cancelled and
    added: the repair that tests places in compiled code and times only those that can be
    cheapest makes the same plan, calls and disruption price as timing every place in Python."""
    from benchmarks.replan_day import cancel_and_add_document, vehicle_off_document
    from tests.instances import generated_day

    problem = generated_day(80, 3)
    published = solve(problem, SolveOptions(time_limit_s=60, max_rounds=300))
    off, _ = vehicle_off_document(published, seed=0)
    cancel_and_add, added, _ = cancel_and_add_document(problem, published, seed=0, cancel=6, add=4)
    for document, trips in ((off, {}), (cancel_and_add, added)):
        changes = changes_from_document(document, problem, published, trips)
        compiled, timed = (replan(problem, published, changes, ReplanOptions(compiled_places=flag))
                           for flag in (True, False))
        assert check_plan(compiled.problem, compiled.plan).feasible
        assert compiled.calls and compiled.calls == timed.calls
        assert [(r.vehicle_type, r.vehicle_number, r.duty, [(s.trip_id, s.kind, s.service_start_s) for s in r.stops])
                for r in compiled.plan.routes] == [
            (r.vehicle_type, r.vehicle_number, r.duty, [(s.trip_id, s.kind, s.service_start_s) for s in r.stops])
            for r in timed.plan.routes]
        assert compiled.disruption == timed.disruption
