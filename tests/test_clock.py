"""The clock advisor: shift files checked row by row, impossible moves left out with their reason,
and a recommendation as good as solving every combination on a day small enough to do so."""
from __future__ import annotations

import itertools
import json
import statistics
import subprocess
import sys

import pytest

from optimiser import advise_clock
from optimiser.analysis.clock import (ClockLimits, ClockOptions, Move, apply_moves, candidate_moves, coarse_first,
                                      full_solve, shift_options_from_csv_text, shift_options_from_document)
from optimiser.analysis.scenarios import ShiftWindows
from optimiser.errors import InputFormatError, ProblemError
from tests.conftest import ROOT, assert_feasible
from tests.instances import line_builder

EXAMPLE = ROOT / "examples" / "rutland-morning-small.json"
#: Deterministic and quick: every solve stops after a round budget, one at a time in this process.
QUICK = ClockOptions(time_limit_s=20, seeds=2, max_rounds=300, screen_rounds=100, workers=1)


def two_schools():
    """Two schools on the road, both with a bell at 08:30 (arrivals from 08:25) and two pupils each;
    two cars at £50 a day, £1 a km and £10 an hour, from 07:30. One car cannot reach both schools by
    08:30, so the unmoved day needs both cars; school A 15 minutes earlier, or school B 15 minutes
    later, lets one car serve both. Moving both is dearer than either alone: the car waits."""
    b = line_builder({"home_a": 5, "school_a": 10, "home_b": 20, "school_b": 25}, count=2, cost_per_day=50.0,
                     cost_per_hour=10.0, shift_start="07:30")
    for k in range(2):
        for school in ("a", "b"):
            b.add_trip(f"{school}{k}", "school", f"home_{school}", f"school_{school}", earliest_arrival="08:25",
                       latest_arrival="08:30", max_ride_minutes=20, pickup_service_minutes=0,
                       dropoff_service_minutes=0)
    return b.build()


SHIFTS = "destination,from_minutes,to_minutes,step_minutes,trips\nschool_a,-15,15,15,both\nschool_b,-15,15,15,both\n"


# ------------------------------------------------------------------------------ the shift file
def test_every_bad_row_is_listed_with_its_row_and_column_and_nothing_runs():
    text = ("destination,from_minutes,to_minutes,step_minutes,trips\n"
            "nowhere,-15,15,5,both\n"           # row 2: unknown destination
            "school_a,15,-15,5,both\n"          # row 3: runs backwards
            "school_b,-20,20,15,both\n"         # row 4: 15 does not divide 40
            "school_b,-30,30,10,sideways\n"     # row 5: unknown trips
            "school_b,0,30,10,both\n"           # row 6: fine
            "school_b,20,40,10,both\n"          # row 7: overlaps row 6
            "school_a,soon,,,\n")               # row 8: not a number
    with pytest.raises(InputFormatError) as caught:
        shift_options_from_csv_text(text, two_schools(), source="shifts.csv")
    found = {(p["row"], p.get("column")) for p in caught.value.problems}
    assert found == {(2, "destination"), (3, "to_minutes"), (4, "step_minutes"), (5, "trips"), (7, "from_minutes"),
                     (8, "from_minutes")}
    assert "row 2, column destination: unknown destination 'nowhere'" in str(caught.value)
    assert all(p["file"] == "shifts.csv" for p in caught.value.problems)


def test_a_destination_may_be_named_by_its_place_name_in_any_case():
    shifts = shift_options_from_csv_text("destination,from_minutes\nTHE FIRST SCHOOL,10\n", two_schools(),
                                         names={"school_a": "The First School"})
    assert [(o.destination, o.minutes()) for o in shifts.options] == [("school_a", [10.0])]
    assert shifts.names == {"school_a": "The First School"}


def test_a_json_document_carries_its_limits_and_is_checked_the_same_way():
    shifts = shift_options_from_document({"options": [{"destination": "school_b", "from_minutes": 0, "to_minutes": 30,
                                                       "step_minutes": 10, "trips": "to"}],
                                          "limits": {"most_moved": 1, "earliest_bell": "08:15"}}, two_schools())
    assert shifts.limits == ClockLimits(1, 8 * 3600 + 15 * 60)
    assert shifts.options[0].minutes() == [10.0, 20.0, 30.0] and shifts.options[0].trips == "to"
    with pytest.raises(InputFormatError) as caught:
        shift_options_from_document([{"destination": "school_b", "from_minutes": 0, "to_minutes": 30}], two_schools())
    assert caught.value.problems == [{"file": "shifts", "row": 1, "column": "step_minutes",
                                      "message": "missing: a range needs a step (e.g. 5)"}]


def test_moving_only_the_arrivals_leaves_the_afternoon_alone():
    b = line_builder({"home": 5, "school": 10})
    b.add_trip("am", "school", "home", "school", latest_arrival="08:30")
    b.add_trip("pm", "school", "school", "home", earliest_pickup="15:30")
    moved = ShiftWindows("school", 15, "to").apply(b.build())
    assert moved.trip("am").latest_arrival_s == 8.75 * 3600
    assert moved.trip("pm").earliest_pickup_s == 15.5 * 3600


# ------------------------------------------------------------------------------ moves left out
def test_a_move_that_makes_a_trip_impossible_is_left_out_with_the_reason():
    shifts = shift_options_from_csv_text("destination,from_minutes,to_minutes,step_minutes\nschool_b,-60,0,30\n",
                                         two_schools())
    moves, excluded = candidate_moves(two_schools(), shifts)
    assert moves == [Move("school_b", -30.0)]
    assert [(e["minutes"], e["reason"].split(":")[0]) for e in excluded] == [(-60.0, "trip b0 could no longer be served")]
    assert "before a vehicle from a depot could get the passenger there" in excluded[0]["reason"]


def test_no_bell_before_the_earliest_allowed():
    shifts = shift_options_from_csv_text("destination,from_minutes,to_minutes,step_minutes\nschool_a,-30,0,15\n",
                                         two_schools(), limits=ClockLimits(earliest_bell_s=8 * 3600 + 10 * 60))
    moves, excluded = candidate_moves(two_schools(), shifts)
    assert moves == [Move("school_a", -15.0)]
    assert "before the earliest bell allowed (08:10)" in excluded[0]["reason"]


# ------------------------------------------------------------------------------ the recommendation
def test_the_recommendation_is_the_best_of_every_combination():
    """2 destinations x 3 options: the advisor's pick costs no more than the best of all 9
    combinations solved with the same settings and seeds (the solves are deterministic here)."""
    problem = two_schools()
    shifts = shift_options_from_csv_text(SHIFTS, problem)
    advice = advise_clock(problem, shifts, QUICK)
    medians = {}
    for a, b in itertools.product((-15, 0, 15), repeat=2):
        moves = tuple(m for m in (Move("school_a", a), Move("school_b", b)) if m.minutes)
        medians[moves] = statistics.median(full_solve(problem, moves, QUICK.solve_options(s)).cost.total
                                           for s in range(QUICK.seeds))
    best = min(medians.values())
    assert best < medians[()] - 40  # a vehicle's day rate is there to be saved
    assert advice.moves and medians[tuple(sorted(advice.moves))] == pytest.approx(best)
    assert advice.saving["median"] == pytest.approx(medians[()] - best, abs=0.01)
    assert (advice.before["vehicles"], advice.after["vehicles"]) == (2, 1)
    assert advice.before["peak_vehicles"] == 2 and advice.after["peak_vehicles"] == 1
    # one move is enough; the report still shows what two would do
    assert len(advice.moves) == 1 and [c["moves"] for c in advice.curve] == [0, 1, 2]
    (part,) = advice.contributions
    assert part["alone"]["median"] == pytest.approx(advice.saving["median"])
    # every plan it reports passes the independent checker, each against its own day
    assert_feasible(problem, advice.baseline_plan)
    assert_feasible(apply_moves(problem, advice.moves), advice.recommended_plan)


def test_the_limit_on_destinations_moved_holds_and_a_set_reports_each_moves_part():
    problem = two_schools()
    shifts = shift_options_from_csv_text(SHIFTS, problem, limits=ClockLimits(most_moved=1))
    advice = advise_clock(problem, shifts, QUICK)
    assert [c["moves"] for c in advice.curve] == [0, 1]
    # forced to move both (one option each), each move's part is its marginal saving and its own
    shifts = shift_options_from_csv_text("destination,from_minutes\nschool_a,-15\nschool_b,15\n", problem)
    advice = advise_clock(problem, shifts, replace_options(least_saving_per_move=-100.0))
    assert sorted(advice.moves) == [Move("school_a", -15.0), Move("school_b", 15.0)]
    parts = {c["destination"]: c for c in advice.contributions}
    assert set(parts) == {"school_a", "school_b"}
    for c in parts.values():
        # either move alone saves the car; the second adds only waiting, so leaving it out saves
        assert c["alone"]["median"] > 40 and c["marginal"]["median"] < 0
    assert_feasible(apply_moves(problem, advice.moves), advice.recommended_plan)


def replace_options(**changes) -> ClockOptions:
    from dataclasses import replace

    return replace(QUICK, **changes)


def test_single_moves_are_scored_coarse_to_fine_every_destination_in_turn():
    moves = [Move(d, float(m)) for d in ("a", "b") for m in range(-30, 31, 5) if m]
    ordered = coarse_first(moves)
    assert sorted(ordered) == sorted(moves)
    # each destination's largest moves either way, then multiples of 15, of 10, then the rest
    assert [(m.destination, m.minutes) for m in ordered[:8]] == [
        ("a", -30), ("b", -30), ("a", 30), ("b", 30), ("a", -15), ("b", -15), ("a", 15), ("b", 15)]
    assert {m.minutes for m in ordered[8:12]} == {-20, 20}
    assert {abs(m.minutes) for m in ordered[16:]} == {5, 25}


def test_a_search_time_limit_stops_the_scoring_and_confirms_what_it_has():
    problem = two_schools()
    shifts = shift_options_from_csv_text(SHIFTS, problem)
    unlimited = advise_clock(problem, shifts, QUICK)
    assert unlimited.search["moves_tried"] == 4
    # a limit already past once the incumbent is planned: no scoring solve is started, and the
    # advice still stands (move nothing), confirmed like any other
    advice = advise_clock(problem, shifts, replace_options(search_limit_s=1e-6))
    assert advice.search["moves_tried"] == 0 and advice.search["screening_solves"] == 0
    assert advice.search["search_limit_s"] == 1e-6 and advice.moves == []
    assert advice.saving is None or advice.saving["median"] <= unlimited.saving["median"] + 1e-6
    assert_feasible(problem, advice.baseline_plan)
    assert_feasible(apply_moves(problem, advice.moves), advice.recommended_plan)
    with pytest.raises(ProblemError, match="search_limit_s"):
        ClockOptions(search_limit_s=0)


# ------------------------------------------------------------------------------ the command line
def test_itu_bench_clock_on_a_generated_day_sweeps_by_the_scoring_solve(tmp_path):
    """The county benchmark's command on a small generated day: every school and day centre is
    offered -30 to +30 by 5 (no home, no hospital), and the sweep takes the moves of 30 minutes."""
    from benchmarks.clock_advice import MOVABLE_SERVICES
    from geodata.files import load_day
    from optimiser.analysis.clock import read_shift_options

    day_out = tmp_path / "day"
    proc = subprocess.run([sys.executable, "-m", "service.cli", "bench", "clock", "--generated-trips", "40",
                           "--scenario-seed", "3", "--day-out", str(day_out), "--seconds", "20", "--max-rounds",
                           "200", "--screen-rounds", "50", "--seeds", "1", "--most-moves", "2", "--confirm-per-size",
                           "1", "--search-limit", "600", "--sweep-by", "scoring", "--sweep-step", "30"],
                          capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert proc.returncode == 0, proc.stderr
    day = load_day(day_out / "trips.csv", day_out / "fleet.json")
    shifts = read_shift_options(day_out / "shifts.csv", day.problem, names=day.place_names)
    places = {t.dropoff for t in day.problem.trips
              if t.service in MOVABLE_SERVICES and not t.dropoff.startswith("home_")}
    assert {o.destination for o in shifts.options} == places
    assert all((o.from_minutes, o.to_minutes, o.step_minutes) == (-30, 30, 5) for o in shifts.options)
    moves, _ = candidate_moves(day.problem, shifts)
    swept = sum(1 for m in moves if m.minutes % 30 == 0)
    assert f"plain sweep of {swept} single moves" in proc.stdout and "by the scoring solve" in proc.stdout
    assert "the advisor beats or equals the best single move" in proc.stdout \
        or "the advisor falls short of the best single move" in proc.stdout


def test_itu_advise_clock_end_to_end(tmp_path):
    shifts = tmp_path / "shifts.csv"
    shifts.write_text("destination,from_minutes,to_minutes,step_minutes,trips\n"
                      "catmose_college,-15,15,15,both\nspecial_school,0,30,15,both\n")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "service.cli", "advise", "clock", str(EXAMPLE), "--shifts", str(shifts),
                           "--seconds", "20", "--max-rounds", "300", "--screen-rounds", "100", "--seeds", "2",
                           "--parallel", "1", "--search-limit", "900", "--out", str(out), "--json"],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr
    advice = json.loads(proc.stdout)
    assert advice["problem"] == "rutland-morning-small"
    assert advice["search"]["search_limit_s"] == 900
    assert len(advice["saving"]["by_seed"]) == 2 and advice["curve"][0]["moves"] == 0
    assert {p.name for p in out.iterdir()} == {"clock.json", "clock.md", "clock.html", "moves.csv", "vehicles.svg",
                                               "saving.svg"}
    assert json.loads((out / "clock.json").read_text()) == advice
    html = (out / "clock.html").read_text()
    assert "<svg" in html and "Vehicles on the road through the day" in html
    assert (out / "moves.csv").read_text().startswith("destination,name,minutes,trips,saving_alone_median")


def test_itu_advise_clock_names_the_bad_row_without_a_traceback(tmp_path):
    shifts = tmp_path / "shifts.csv"
    shifts.write_text("destination,from_minutes,to_minutes,step_minutes\ncatmose,-15,15,15\n")
    proc = subprocess.run([sys.executable, "-m", "service.cli", "advise", "clock", str(EXAMPLE), "--shifts", str(shifts)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "row 2, column destination: unknown destination 'catmose'" in proc.stderr


# ------------------------------------------------------------------------------ the API job
@pytest.fixture
def service(dev_service):
    return dev_service


def submit_clock(client, **body):
    from tests.test_service_api import submit_on_the_example

    return submit_on_the_example(client, "/v1/clock-jobs", **body)


def test_a_clock_job_with_bad_shift_rows_is_refused_naming_each_row_and_column(service):
    app, _ = service
    client = app.test_client()
    response = submit_clock(client, shifts_csv="destination,from_minutes,to_minutes,step_minutes\n"
                                               "Oakham Secondary (synthetic),-30,30,7\nNowhere School,5,,\n")
    assert response.status_code == 422
    error = response.get_json()
    assert error["where"] == "body.shifts_csv"
    assert [(p["row"], p["column"]) for p in error["problems"]] == [(2, "step_minutes"), (3, "destination")]
    response = submit_clock(client, shifts=[{"destination": "Oakham Secondary (synthetic)", "from_minutes": 10}],
                            earliest_bell="8 o'clock")
    assert response.status_code == 422 and response.get_json()["where"] == "body.earliest_bell"
    response = submit_clock(client)
    assert response.status_code == 422 and response.get_json()["where"] == "body.shifts"


def test_a_clock_job_runs_end_to_end(service):
    from service.jobs import run_job
    from service.store import Job

    app, url = service
    client = app.test_client()
    response = submit_clock(client, shifts={"options": [{"destination": "Oakham Primary B (synthetic)",
                                                         "from_minutes": -15, "to_minutes": 15, "step_minutes": 15}],
                                            "limits": {"most_moved": 1}},
                            time_limit_s=20, seeds=2, max_rounds=300, screen_rounds=100)
    assert response.status_code == 202, response.get_json()
    job = response.get_json()
    assert job["kind"] == "clock"
    with app.extensions["itu.store"].session() as s, s.begin():  # claimed, as a job runner claims it
        s.get(Job, job["id"]).dispatched_by = "this test"
    assert run_job(job["id"], url, dict(app.config)) == "succeeded"
    done = client.get(job["url"]).get_json()
    assert {"clock.json", "clock.html", "clock.md", "moves.csv", "vehicles.svg", "saving.svg",
            "recommended-plan.json"} <= set(done["results"])
    advice = client.get(done["results"]["clock.json"]).get_json()
    assert len(advice["saving"]["by_seed"]) == 2
    assert done["summary"]["saving"] == advice["saving"]["median"]
    assert done["progress"]["solves_done"] == done["progress"]["solves_total"] > 2
    assert client.get("/v1/jobs?kind=clock").get_json()["total"] == 1


@pytest.mark.parametrize("limit", [0, -5, 10**9, "soon"])
def test_a_clock_job_with_a_search_limit_out_of_range_is_refused_naming_it(service, limit):
    app, _ = service
    response = submit_clock(app.test_client(), shifts_csv="destination,from_minutes,to_minutes,step_minutes\n"
                                                          "Oakham Primary B (synthetic),-15,15,15\n",
                            search_limit_s=limit)
    assert response.status_code == 422
    assert response.get_json()["where"] == "body.search_limit_s"


def test_the_exhaustive_harness_finds_the_advisors_pick_among_the_best_on_a_generated_day():
    """benchmarks/clock_advice.py's check (625 combinations in the benchmark), at 2 x 3 options."""
    from benchmarks.clock_advice import run_exhaustive_check

    check = run_exhaustive_check(trips=40, destinations=2, minutes=(-15, 15), options=replace_options(workers=1))
    assert check.combinations == 9
    assert check.advised_median <= check.best_median + check.spread + 1e-6
    assert check.best_median <= check.baseline_median


# ------------------------------------------------------------------------------ the planner's page
@pytest.mark.slow
def test_advise_from_the_planners_page(served, browser, tmp_path):
    """The page's clock section: a shift file chosen, the job followed, the report and downloads shown."""
    shifts = tmp_path / "shifts.csv"
    shifts.write_text("destination,from_minutes,to_minutes,step_minutes\nOakham Primary B (synthetic),-15,15,15\n")
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(served + "/")
    page.click("#clock-run")  # no shift file yet: said on the page
    assert "Choose a shift file" in page.inner_text("#clock-error")
    page.set_input_files("#clock-shifts-file", str(shifts))
    page.fill("#clock-seconds", "1")
    page.fill("#clock-seeds", "1")
    page.click("#clock-run")
    page.wait_for_selector("#clock-results:not([hidden])", timeout=300_000)
    assert "a day" in page.inner_text("#clock-headline") or "Move nothing" in page.inner_text("#clock-headline")
    page.frame_locator("#clock-report").locator("svg").first.wait_for(timeout=30_000)
    assert "clock.json" in page.inner_text("#clock-downloads")
    assert not errors


def test_when_every_move_is_impossible_the_advice_is_to_move_nothing_and_says_why():
    problem = two_schools()
    shifts = shift_options_from_csv_text("destination,from_minutes\nschool_b,-60\n", problem)
    advice = advise_clock(problem, shifts, QUICK)
    assert advice.moves == [] and advice.saving["median"] == 0
    assert [c["moves"] for c in advice.curve] == [0]
    assert [e["description"] for e in advice.excluded] == ["school_b -60 min"]
    from optimiser.reporting.clock_report import markdown

    assert "Recommendation: move nothing" in markdown(advice)


@pytest.mark.slow
def test_the_advice_on_a_dask_cluster_is_the_advice_in_this_process(dask_cluster):
    from distributed import Client

    problem = two_schools()
    shifts = shift_options_from_csv_text(SHIFTS, problem)
    here = advise_clock(problem, shifts, QUICK)
    with Client(dask_cluster) as client:
        there = advise_clock(problem, shifts, QUICK, executor=client)
    assert there.moves == here.moves and there.saving == here.saving


@pytest.mark.parametrize("where", ["thread", pytest.param("cluster", marks=pytest.mark.slow)])
def test_a_cancel_stops_the_advice_while_its_solves_run_not_after_them(where, request):
    """Each solve here may run a minute (no round budget): a cancel must end the advice within
    seconds, its solves under way told to stop, whether they run in a thread of this process or on
    a Dask cluster (the service's case)."""
    import threading
    import time

    from distributed import Client

    from geodata.files import load_day
    from optimiser.errors import SolveCancelled
    from tests.conftest import cluster_cpu_seconds, stops_left_on_scheduler

    problem = load_day(EXAMPLE).problem
    shifts = shift_options_from_document({"options": [{"destination": "oakham_primary", "from_minutes": -15,
                                                       "to_minutes": 15, "step_minutes": 15}]}, problem)
    slow = ClockOptions(time_limit_s=60, seeds=1, max_rounds=None, screen_rounds=10**7, workers=1)

    def cancelled_after_two_seconds(executor=None) -> float:
        """Seconds from the start of the advice to its end (the clock starts once the cluster is up)."""
        cancel = threading.Event()
        threading.Timer(2.0, cancel.set).start()
        started = time.monotonic()
        with pytest.raises(SolveCancelled):
            advise_clock(problem, shifts, slow, cancel=cancel, executor=executor)
        return time.monotonic() - started

    # before, it ran out the first solve's minute: the cancel was seen between batches only
    if where == "thread":
        assert cancelled_after_two_seconds() < 30
        return
    with Client(request.getfixturevalue("dask_cluster")) as client:
        assert cancelled_after_two_seconds(client) < 30
        assert cluster_cpu_seconds(client) < 0.5  # the solve on the cluster has stopped too
        assert stops_left_on_scheduler(client) == []  # and its stop is gone from the scheduler


def test_left_out_trips_are_put_back_into_the_start_routes():
    from optimiser import SolveOptions, solve

    problem = two_schools()
    plan = solve(problem, SolveOptions(time_limit_s=20, max_rounds=1, place_left_out=True), start_routes=[])
    assert plan.served_trip_ids == {t.id for t in problem.trips}
    assert_feasible(problem, plan)
