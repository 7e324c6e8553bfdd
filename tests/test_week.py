"""A week of trips: the days columns, the generated week, planning it with consistent routes and the
checker's week extension."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from geodata.scenario import generate_scenario, generate_week, synthetic_area, write_scenario
from geodata.week import load_week
from optimiser import InputFormatError, ProblemError, SolveOptions
from optimiser.analysis.week import WeekOptions, plan_week
from optimiser.checker_week import check_week
from optimiser.domain.days import parse_days, parse_week_days, runs_on, week_of
from service.cli import main
from tests.conftest import ROOT, assert_feasible

#: A round budget, so the plans are the same on a busy machine as on an idle one.
FAST = SolveOptions(time_limit_s=60, max_rounds=300)


@pytest.fixture(scope="module")
def small_week(tmp_path_factory):
    folder = tmp_path_factory.mktemp("week")
    scenario = generate_week(synthetic_area("rutland"), trips=40, days=3, seed=1)
    trips, fleet, _ = write_scenario(scenario, folder)
    return trips, fleet


@pytest.fixture(scope="module")
def planned(small_week):
    week = load_week(*small_week).week
    return week, plan_week(week, WeekOptions(solve=FAST))


def test_days_read_as_names_ranges_and_dates():
    assert parse_week_days("Mon;Wed") == ("Mon", "Wed")
    assert parse_week_days("weekdays") == ("Mon", "Tue", "Wed", "Thu", "Fri")
    assert parse_week_days("2027-01-12; Mon-Tue") == ("Mon", "Tue", "2027-01-12")
    assert parse_week_days("") == ()
    assert parse_days("") == ("Mon", "Tue", "Wed", "Thu", "Fri")  # the register's blank: weekdays
    # a day name runs on each date that falls on it (11 January 2027 is a Monday); blank runs every day
    assert runs_on(("Mon",), "2027-01-11") and not runs_on(("Mon",), "2027-01-12") and runs_on((), "Fri")
    assert week_of([("Tue",), ("Mon", "Tue")]) == ("Mon", "Tue")
    assert week_of([("Mon",), ("2027-01-12",)]) == ("2027-01-12",)
    for bad in ("Funday", "2027-13-01", "Fri-Mon"):
        with pytest.raises(ValueError):
            parse_week_days(bad)


def test_a_generated_week_starts_with_the_day_and_keeps_its_size(small_week):
    trips, _ = small_week
    rows = list(csv.DictReader(open(trips)))
    day = generate_scenario(synthetic_area("rutland"), trips=40, seed=1)
    assert {r["id"] for r in rows if "Mon" in r["days"].split(";")} == {r["id"] for r in day.trips}
    for d in ("Mon", "Tue", "Wed"):
        assert sum(1 for r in rows if d in r["days"].split(";")) == 40
    # 80% of the day's 20 passengers are regular; a few others may happen to travel every day too
    assert generate_week(synthetic_area("rutland"), trips=40, days=3, seed=1).summary["regular_passengers"] == 16
    everyday = {r["passenger"] for r in rows if r["days"] == "Mon;Tue;Wed"}
    assert 16 <= len(everyday) < 20


def test_a_bad_days_value_is_named_with_row_trip_and_column(small_week, tmp_path):
    trips, fleet = small_week
    rows = list(csv.DictReader(open(trips)))
    rows[2]["days"] = "Mon;Funday"
    bad = tmp_path / "trips.csv"
    with bad.open("w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(InputFormatError) as caught:
        load_week(bad, fleet)
    (problem,) = caught.value.problems
    assert problem["row"] == 4 and problem["trip_id"] == rows[2]["id"] and problem["column"] == "days"
    assert "funday" in problem["message"]


def test_solving_a_week_as_one_day_warns(small_week):
    from geodata.files import load_day

    assert any("solve-week" in w for w in load_day(*small_week).warnings)


def test_a_trip_file_without_days_is_one_day():
    week = load_week(ROOT / "examples/rutland/trips.csv", ROOT / "examples/rutland/fleet.json")
    assert week.days == ("day",) and len(week.day["day"].problem.trips) == 200 and not week.week.regular_trips


def test_a_fleet_may_differ_by_day(small_week, tmp_path):
    trips, fleet = small_week
    document = json.loads(Path(fleet).read_text())
    minibus = next(v for v in document["vehicle_types"] if v["name"] == "minibus")
    document["vehicle_types"].append(dict(minibus, count=minibus["count"] + 3, days="Wed"))
    minibus["days"] = "Mon;Tue"
    (tmp_path / "fleet.json").write_text(json.dumps(document))
    week = load_week(trips, tmp_path / "fleet.json")
    count = {d: next(v.count for v in week.day[d].problem.vehicle_types if v.name == "minibus") for d in week.days}
    assert count == {"Mon": minibus["count"], "Tue": minibus["count"], "Wed": minibus["count"] + 3}
    document["vehicle_types"][-1]["days"] = "Wednesday-ish"
    (tmp_path / "fleet.json").write_text(json.dumps(document))
    with pytest.raises(InputFormatError, match="days"):
        load_week(trips, tmp_path / "fleet.json")


def test_the_template_keeps_regular_passengers_on_one_vehicle_within_the_tolerance(planned):
    week, result = planned
    for day in week.days:
        assert_feasible(week.problems[day], result.plans[day])
    hard = sorted(result.options.hard_services)
    report = check_week(week.days, week.problems, result.plans, week.passenger_of, result.continuity,
                        hard_services=hard, tolerance_minutes=10)
    assert report.feasible, report.violations
    for service in hard:
        figures = result.continuity["by_service"].get(service)
        if figures:
            assert figures["both_share"] == 1.0 and figures["largest_spread_minutes"] <= 20
    assert result.premium is not None and result.to_dict()["by_day"][0]["independent_cost"] is not None


def test_the_week_checker_measures_the_claims_again(planned):
    week, result = planned
    claims = json.loads(json.dumps(result.continuity))
    claims["passengers"][0]["largest_spread_minutes"] = -1.0
    report = check_week(week.days, week.problems, result.plans, week.passenger_of, claims)
    assert any("claimed pickups" in v for v in report.violations)
    # each day planned alone, its vehicles matched to Monday's, breaks the hard rule somewhere
    alone = check_week(week.days, week.problems, result.independent, week.passenger_of,
                       hard_services=("school", "sen", "social_care"))
    assert not alone.feasible


def test_week_options_are_checked():
    with pytest.raises(ProblemError, match="method"):
        WeekOptions(method="weekly")
    with pytest.raises(ProblemError, match="consistency"):
        WeekOptions(consistency=(("sen", "sometimes"),))
    for bad in (0.5, float("nan"), True):
        with pytest.raises(ProblemError, match="template_search"):
            WeekOptions(template_search=bad)


def test_the_template_is_searched_longer_than_each_day_and_counted_in_the_weeks_seconds(small_week):
    """The template is planned once and every day is built around it: it gets ``template_search``
    times a day's time limit and round budget, and the week's seconds of solving count it."""
    from optimiser import solve

    week = load_week(*small_week).week
    budgets = []

    def solve_day(problem, options, start_routes=None):
        budgets.append((problem.name.endswith("template"), options.time_limit_s, options.max_rounds))
        return solve(problem, options, start_routes=start_routes)

    options = WeekOptions(solve=FAST, template_search=3, compare_independent=False)
    result = plan_week(week, options, solve_day=solve_day)
    assert budgets[0] == (True, 180, 900)
    assert budgets[1:] == [(False, 60, 300)] * len(week.days)
    assert options.solve_seconds(len(week.days)) == 60 * (3 + len(week.days))
    # days planned alone for the premium share the week's own search equally: 3 + 5 solves over 5 days
    assert WeekOptions(solve=FAST, template_search=3).solve_seconds(5) == 60 * (3 + 5) * 2
    alone = WeekOptions(solve=FAST, template_search=3).alone_solve(5)
    assert (alone.time_limit_s, alone.max_rounds) == (60 * 8 / 5, 300 * 8 / 5)
    assert WeekOptions(solve=FAST, method="independent").solve_seconds(5) == 60 * 5
    assert [WeekOptions(solve=FAST, **o).solve_count(5) for o in ({}, {"compare_independent": False},
                                                                    {"method": "independent"})] == [11, 6, 5]
    assert WeekOptions(solve=FAST, method="independent").alone_solve(5) == FAST
    assert WeekOptions(solve=FAST, template_search=3).alone_solve(5, with_template=False) == FAST
    assert result.to_dict()["template_search"] == 3
    assert result.to_dict()["seconds_per_day_alone"] is None  # not planned alone here
    assert "searched 3 times a day's time limit" in result.markdown()


def test_a_regular_trip_its_template_vehicle_cannot_serve_that_day_is_contracted_saying_so(small_week):
    """A day's fleet may keep other hours: a template trip its vehicle can never reach that day is
    left off the day's start and contracted naming the vehicle, not a failed week."""
    from dataclasses import replace

    from optimiser.analysis.week import day_from_template, template_trips
    from optimiser.solving import solve

    week = load_week(*small_week).week
    options = WeekOptions(solve=FAST, compare_independent=False)
    template = solve(replace(week.problems[week.days[0]], trips=tuple(template_trips(week, options))), FAST)
    day = week.problems[week.days[1]]
    today = {t.id for t in day.trips}
    route = next(r for r in template.routes if r.duty == 0 and today & set(r.trip_ids))
    early = min((day.trip(t) for t in route.trip_ids if t in today), key=lambda t: t.latest_pickup_s)
    usual = next(v for v in day.vehicle_types if v.name == route.vehicle_type)
    late = replace(usual, shift_start_s=early.latest_pickup_s + 600, duties=(),
                   shift_end_s=max(usual.shift_end_s, early.latest_pickup_s + 4 * 3600))
    later = replace(day, vehicle_types=tuple(late if v is usual else v for v in day.vehicle_types))
    plan = day_from_template(later, template, options, solve)
    assert_feasible(later, plan)
    reasons = {c.trip_id: c.reason for c in plan.contracted} | {u.trip_id: u.reason for u in plan.unserved}
    assert f"it must ride {route.vehicle_type} {route.vehicle_number + 1}, which cannot serve it" in reasons[early.id]


def test_itu_solve_week_writes_the_week_and_a_plan_per_day(small_week, tmp_path, capsys):
    trips, fleet = small_week
    assert main(["solve-week", str(trips), str(fleet), "--seconds", "2", "--no-independent", "--out",
                 str(tmp_path / "out")]) == 0
    week = json.loads((tmp_path / "out" / "week.json").read_text())
    assert [d["day"] for d in week["by_day"]] == ["Mon", "Tue", "Wed"] and week["premium"] is None
    assert all((tmp_path / "out" / d / "plan.json").is_file() for d in ("Mon", "Tue", "Wed"))
    assert "week checker passed" in capsys.readouterr().out
    assert main(["solve-week", str(trips), str(fleet), "--free", "sen", "--consistent", "sen"]) == 2
    capsys.readouterr()
    assert main(["solve-week", str(trips), str(fleet), "--template-search", "0.5"]) == 2
    assert "--template-search: template_search must be a number of at least 1" in capsys.readouterr().err


def _two_day_school_run():
    """Two neighbours going to one school: one every day (regular), one on Tuesday only; one
    minibus, and taxis dearer than the minibus's detour."""
    from optimiser.analysis.week import Week
    from optimiser.domain.model import Layout, ProblemBuilder, crow_fly

    places = crow_fly({"depot": (52.67, -0.73), "home": (52.66, -0.70), "next door": (52.661, -0.701),
                       "school": (52.65, -0.72)})
    problems = {}
    for day in ("Mon", "Tue"):
        b = ProblemBuilder(places, name=day)
        b.add_vehicle_type("minibus", count=1, depot="depot", layouts=[Layout("8 seats", seats=8)],
                           cost_per_day=50, cost_per_km=0.5)
        b.add_tariff("taxi", flag_fall=80, per_km=2)
        b.add_trip("pupil-am", "sen", "home", "school", earliest_pickup="08:00", latest_arrival="08:50")
        if day == "Tue":
            b.add_trip("visitor-am", "sen", "next door", "school", earliest_pickup="08:00", latest_arrival="08:50")
        problems[day] = b.build()
    return Week(("Mon", "Tue"), problems, {})


def test_a_day_from_the_template_puts_its_own_trips_on_the_template_vehicles():
    # Tuesday's one-off pupil rides the regular pupil's minibus, which passes next door, rather
    # than a taxi because the template's vehicle is not free for the day's search
    week = _two_day_school_run()
    shared = plan_week(week, WeekOptions(solve=FAST))
    tuesday = shared.plans["Tue"]
    assert_feasible(week.problems["Tue"], tuesday)
    assert [r.trip_ids for r in tuesday.routes] == [("pupil-am", "visitor-am")] or \
        [sorted(r.trip_ids) for r in tuesday.routes] == [["pupil-am", "visitor-am"]]
    assert not tuesday.contracted and shared.continuity["by_service"]["sen"]["both_share"] == 1.0
    apart = plan_week(week, WeekOptions(solve=FAST, share_template_vehicles=False), alone=shared.independent)
    assert [c.trip_id for c in apart.plans["Tue"].contracted] == ["visitor-am"]
    assert shared.cost < apart.cost


def _pupil_whose_minibus_starts_late_on_tuesday():
    """One regular pupil; the minibus is cheapest and the template puts the pupil on it, but on
    Tuesday its shift starts after school; the car dearer than the minibus, a taxi dearer still."""
    from optimiser.analysis.week import Week
    from optimiser.domain.model import Layout, ProblemBuilder, crow_fly

    places = crow_fly({"depot": (52.67, -0.73), "home": (52.66, -0.70), "school": (52.65, -0.72)})
    problems = {}
    for day, minibus_from in (("Mon", "07:00"), ("Tue", "10:00")):
        b = ProblemBuilder(places, name=day)
        b.add_vehicle_type("minibus", count=1, depot="depot", layouts=[Layout("8 seats", seats=8)],
                           shift_start=minibus_from, cost_per_day=50, cost_per_km=0.5)
        b.add_vehicle_type("car", count=1, depot="depot", layouts=[Layout("4 seats", seats=4)],
                           cost_per_day=60, cost_per_km=0.6)
        b.add_tariff("taxi", flag_fall=80, per_km=2)
        b.add_trip("pupil-am", "school", "home", "school", earliest_pickup="08:00", latest_arrival="08:50")
        problems[day] = b.build()
    return Week(("Mon", "Tue"), problems, {})


def test_a_preferred_service_starts_on_the_template_vehicle_and_moves_where_it_pays():
    # held (hard), the pupil can only be contracted on the day the template's minibus cannot come;
    # preferred, the day's search puts the pupil on the car, which is cheaper than the taxi
    from optimiser.analysis.week import consistency_with

    week = _pupil_whose_minibus_starts_late_on_tuesday()
    held = plan_week(week, WeekOptions(solve=FAST, consistency=consistency_with(consistent=["school"])))
    preferred = plan_week(week, WeekOptions(solve=FAST, consistency=consistency_with(preferred=["school"])),
                          alone=held.independent)
    for result in (held, preferred):
        for day in week.days:
            assert_feasible(week.problems[day], result.plans[day])
        assert [r.vehicle_type for r in result.plans["Mon"].routes] == ["minibus"]
    assert [c.trip_id for c in held.plans["Tue"].contracted] == ["pupil-am"]
    assert [(r.vehicle_type, r.trip_ids) for r in preferred.plans["Tue"].routes] == [("car", ("pupil-am",))]
    # Tuesday's search started from the template's routes with the pupil left off the minibus it
    # cannot ride that day, not from a start it had to refuse
    assert "not_started" not in preferred.plans["Tue"].solver.ruin_and_recreate
    assert preferred.cost < held.cost
    assert preferred.continuity["by_service"]["school"]["one_vehicle_share"] == 0.0
    assert preferred.to_dict()["preferred_services"] == ["school"]


def test_a_trip_assigned_to_a_vehicle_rides_only_that_vehicle(small_week):
    from dataclasses import replace

    from optimiser.checker import check_plan
    from optimiser.solving import solve

    problem = load_week(*small_week).week.problems["Mon"]
    minibus = next(vt for vt in problem.vehicle_types if vt.name == "minibus")
    carried = [t for t in problem.trips if problem.can_carry(minibus, t)][:4]
    assigned = problem.__class__(problem.trips, problem.vehicle_types, problem.matrix, problem.tariffs, problem.name,
                                 tuple((t.id, "minibus", minibus.count - 1) for t in carried))
    plan = solve(assigned, FAST)
    assert_feasible(assigned, plan)
    on = {t for r in plan.routes if (r.vehicle_type, r.vehicle_number) == ("minibus", minibus.count - 1)
          for t in r.trip_ids}
    elsewhere = {t for r in plan.routes for t in r.trip_ids} - on
    assert on & {t.id for t in carried} and not elsewhere & {t.id for t in carried}
    # the checker reports a trip moved to another vehicle
    route = next(r for r in plan.routes if carried[0].id in r.trip_ids)
    moved = replace(plan, routes=tuple(replace(r, vehicle_number=minibus.count) if r is route else r
                                       for r in plan.routes))
    minibus_more = replace(minibus, count=minibus.count + 1)
    wider = replace(assigned, vehicle_types=tuple(minibus_more if vt is minibus else vt
                                                  for vt in assigned.vehicle_types))
    assert any("not its assigned minibus" in v for v in check_plan(wider, moved).violations)


@pytest.mark.parametrize("row, field", [(("nobody", "minibus", 0), "trip_id"), (("?", "tram", 0), "vehicle_type"),
                                        (("?", "minibus", 99), "vehicle_number")])
def test_a_bad_vehicle_assignment_is_named(small_week, row, field):
    from dataclasses import replace

    problem = load_week(*small_week).week.problems["Mon"]
    row = (problem.trips[0].id if row[0] == "?" else row[0],) + row[1:]
    with pytest.raises(ProblemError) as caught:
        replace(problem, assigned_vehicles=(row,))
    assert caught.value.where == f"assigned_vehicles[0].{field}"


def test_a_day_with_trips_assigned_to_vehicles_is_never_split_into_parts(small_week):
    # parts rename and renumber vehicles, so an assignment would not reach them: the day is whole
    from dataclasses import replace

    from optimiser.solving import choose_strategy

    problem = load_week(*small_week).week.problems["Mon"]
    in_regions = replace(FAST, regions=2)
    assert choose_strategy(problem, in_regions).split == "regions"
    minibus = next(vt for vt in problem.vehicle_types if vt.name == "minibus")
    trip = next(t for t in problem.trips if problem.can_carry(minibus, t))
    assigned = replace(problem, assigned_vehicles=((trip.id, "minibus", 0),))
    assert choose_strategy(assigned, in_regions).split == "whole"


def test_a_trip_assigned_to_a_vehicle_keeps_its_number_when_lower_numbered_vehicles_stay_idle(small_week):
    # the plan numbers the vehicles it uses from 0; an assigned trip's vehicle keeps its own number
    from optimiser.checker import check_plan
    from optimiser.solving import solve

    problem = load_week(*small_week).week.problems["Mon"]
    from dataclasses import replace

    minibus = next(vt for vt in problem.vehicle_types if vt.name == "minibus")
    three = tuple(replace(vt, count=3) if vt is minibus else vt for vt in problem.vehicle_types)
    # trips the minibus carries when free to: a route of them, then only they, assigned to the last minibus
    free = solve(replace(problem, vehicle_types=three), FAST)
    route = next(r for r in free.routes if r.vehicle_type == "minibus")
    carried = [problem.trip(t) for t in dict.fromkeys(route.trip_ids)]
    last = 2
    alone = problem.__class__(tuple(carried), three, problem.matrix, problem.tariffs, problem.name,
                              tuple((t.id, "minibus", last) for t in carried))
    plan = solve(alone, FAST)
    assert check_plan(alone, plan).feasible
    riding = {(r.vehicle_type, r.vehicle_number) for r in plan.routes if set(r.trip_ids) & {t.id for t in carried}}
    assert riding == {("minibus", last)}


def test_a_trip_its_assigned_vehicle_cannot_serve_is_contracted_saying_which_vehicle_and_why(small_week):
    # a trip held to a vehicle whose shift starts after its pickup window closes goes to its contract
    # with that reason, not as "cheaper than any place in the fleet"
    from dataclasses import replace

    from optimiser.solving import solve

    problem = load_week(*small_week).week.problems["Mon"]
    minibus = next(vt for vt in problem.vehicle_types if vt.name == "minibus")
    trip = min((t for t in problem.trips if problem.can_carry(minibus, t) and problem.contract_price(t)),
               key=lambda t: t.latest_pickup_s)
    late = replace(minibus, shift_start_s=trip.latest_pickup_s + 600, duties=())
    held = replace(problem, vehicle_types=tuple(late if vt is minibus else vt for vt in problem.vehicle_types),
                   assigned_vehicles=((trip.id, "minibus", 0),))
    plan = solve(held, FAST)
    assert_feasible(held, plan)
    contracted = {c.trip_id: c.reason for c in plan.contracted}
    assert "it must ride minibus 1, which cannot serve it" in contracted[trip.id]
    assert "pickup window closes" in contracted[trip.id]


def _two_trips_held_to_one_minibus_at_once():
    """Two trips held to minibus 1 at the same time that need its two layouts (seven seats, a
    wheelchair): it can run only one, so one trip must be contracted."""
    from dataclasses import replace

    from optimiser.domain.model import Layout, ProblemBuilder, crow_fly

    places = {"depot": (52.67, -0.73), "home_a": (52.70, -0.76), "home_b": (52.64, -0.69),
              "school": (52.67, -0.72)}
    b = ProblemBuilder(crow_fly(places), name="one vehicle, two layouts")
    b.add_vehicle_type("minibus", count=2, depot="depot", cost_per_day=90, cost_per_km=0.5, cost_per_hour=18,
                       layouts=[Layout("8 seats", seats=8), Layout("2+1", seats=2, wheelchair_spaces=1)])
    b.add_tariff("taxi", flag_fall=3, per_km=2)
    b.add_trip("group", "school", "home_a", "school", earliest_arrival="08:45", latest_arrival="08:50", seats=7)
    b.add_trip("chair", "sen", "home_b", "school", earliest_arrival="08:45", latest_arrival="08:50",
               wheelchair_spaces=1)
    problem = b.build()
    return replace(problem, assigned_vehicles=(("group", "minibus", 0), ("chair", "minibus", 0)))


def test_one_vehicle_held_by_two_trips_runs_one_layout_at_a_time(engine):
    # OR-Tools has a vehicle per layout and once put both trips on minibus 1, in its two layouts
    from tests.conftest import solved_by

    held = _two_trips_held_to_one_minibus_at_once()
    plan = solved_by(held, engine)
    on_minibus_1 = [r for r in plan.routes if (r.vehicle_type, r.vehicle_number) == ("minibus", 0)]
    assert len(on_minibus_1) == 1
    assert len(plan.contracted) == 1 and "minibus 1, the vehicle it must ride" in plan.contracted[0].reason


@pytest.mark.parametrize("workers", [1, 2])
def test_the_progress_of_a_day_whose_held_trip_is_contracted_ends_at_the_plans_cost(engine, workers):
    # the search leaves a held trip out at the unserved price, so that it keeps its vehicle where it
    # can; the plan contracts it at its tariff, and so do the progress and the curve of best costs
    # (two workers: each worker's figures cross processes to the solve that ranks them)
    from dataclasses import replace

    from optimiser import solve

    held = _two_trips_held_to_one_minibus_at_once()
    reported = []
    plan = solve(held, replace(engine, workers=workers), on_progress=lambda p: reported.append(p.best_cost))
    assert_feasible(held, plan)
    assert len(plan.contracted) == 1
    assert reported[-1] == pytest.approx(plan.cost.total, abs=0.5)
    assert plan.solver.best_cost_over_time[-1][1] == pytest.approx(plan.cost.total, abs=0.5)
