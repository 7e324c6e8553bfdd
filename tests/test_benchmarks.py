"""The harnesses behind ``itu bench`` and the benchmark scripts' ``--set``, as functions."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from benchmarks.darp import DarpRow, best_known_costs, run_darp, summary_line
from benchmarks.day import DayBenchmark, row_line, summarise, write_day
from benchmarks.day import summary_line as day_summary_line
from benchmarks.parameters import search_parameters
from benchmarks.roads import run_roads
from benchmarks.service_load import ServiceLoad
from optimiser import SearchParameters, SolveOptions
from optimiser.errors import InputFormatError, ProblemError


# -- search parameters from --set ----------------------------------------------------------------------
def test_settings_change_only_the_parameters_named_each_read_as_its_own_type():
    parameters = search_parameters(["ruin_recreate.most_removed=14", "decomposition.second_phase_share=0.2",
                                    "ruin_recreate.exchange_ends=false"])
    assert parameters.ruin_recreate.most_removed == 14 and isinstance(parameters.ruin_recreate.most_removed, int)
    assert parameters.decomposition.second_phase_share == 0.2
    assert parameters.ruin_recreate.exchange_ends is False
    defaults = SearchParameters()
    assert parameters.ruin_recreate.neighbours == defaults.ruin_recreate.neighbours
    assert parameters.strategy == defaults.strategy
    # they are options like any other: a solve takes them as they are
    assert SolveOptions(parameters=parameters).parameters.ruin_recreate.most_removed == 14


def test_settings_apply_on_top_of_given_parameters():
    base = search_parameters(["ruin_recreate.most_removed=14"])
    both = search_parameters(["ruin_recreate.blink=0.05"], base)
    assert (both.ruin_recreate.most_removed, both.ruin_recreate.blink) == (14, 0.05)


@pytest.mark.parametrize("setting, expected", [
    ("most_removed=14", "is not GROUP.NAME=VALUE"),
    ("ruin_recreate.most_removed", "is not GROUP.NAME=VALUE"),
    ("search.most_removed=14", "no group 'search'"),
    ("ruin_recreate.most_remove=14", "ruin_recreate has no parameter 'most_remove'"),
    ("ruin_recreate.most_removed=many", "expected a whole number"),
    ("ruin_recreate.most_removed=1.5", "expected a whole number"),
    ("ruin_recreate.blink=often", "expected a number"),
    ("ruin_recreate.exchange_ends=maybe", "expected true or false"),
])
def test_a_setting_that_cannot_be_read_is_named(setting, expected):
    with pytest.raises(InputFormatError) as caught:
        search_parameters([setting])
    assert caught.value.where == "--set" and expected in caught.value.message and setting in caught.value.message


def test_a_value_the_parameters_refuse_names_the_parameter():
    with pytest.raises(ProblemError) as caught:
        search_parameters(["ruin_recreate.most_removed=0"])
    assert caught.value.where == "parameters.ruin_recreate.most_removed"


# -- itu bench darp ------------------------------------------------------------------------------------
def row(name, cost, best, served=16, requests=16, feasible=True):
    gap = None if best is None or served < requests else 100.0 * (cost - best) / best
    return DarpRow(name, requests, served, feasible, cost, best, gap, 2.0, 2.0, [])


def test_the_darp_summary_counts_only_instances_with_a_gap():
    rows = [row("a", 110.0, 100.0), row("b", 204.0, 200.0), row("c", 90.0, 80.0, served=15),
            row("d", 50.0, None, feasible=False)]
    assert [r.gap_percent for r in rows] == [pytest.approx(10.0), pytest.approx(2.0), None, None]
    assert summary_line(rows) == ("4 instances, 3 feasible, 3 fully served; gap to best known: mean 6.00%, "
                                  "median 6.00%, worst 10.00%")
    assert summary_line([row("d", 50.0, None)]) is None
    assert rows[2].as_dict()["gap_percent"] is None and rows[0].as_dict()["gap_percent"] == 10.0


def test_darp_options_are_checked_before_any_instance_is_read(tmp_path):
    with pytest.raises(ProblemError):
        run_darp([tmp_path / "missing.txt"], seconds=0)
    rows = run_darp([tmp_path / "missing.txt"], seconds=1, workers=1)  # nothing read until asked
    with pytest.raises(InputFormatError) as caught:
        next(iter(rows))
    assert caught.value.where.endswith("missing.txt") and "cannot read" in caught.value.message


def test_no_best_known_file_means_no_gaps(tmp_path):
    assert best_known_costs(tmp_path / "missing.csv") == {}


@pytest.mark.shared
def test_a_darp_instance_is_solved_checked_and_compared_with_its_best_known(darp_dir):
    best = best_known_costs(darp_dir / "bks.csv")
    (result,) = run_darp([darp_dir / "cordeau2006" / "a2-16.txt"], seconds=2, workers=1, best_known=best)
    assert result.instance == "a2-16" and result.feasible and result.served == result.requests == 16
    assert result.best_known == best["a2-16"]
    assert result.gap_percent == pytest.approx(100.0 * (result.cost - best["a2-16"]) / best["a2-16"])
    assert result.cost >= best["a2-16"] - 0.01  # a proven optimum cannot be beaten
    assert sorted(n for r in result.routes for n in r) == list(range(1, 33))
    assert json.loads(json.dumps(result.as_dict()))["instance"] == "a2-16"


# -- itu bench day -------------------------------------------------------------------------------------
@pytest.mark.parametrize("changes, field", [({"seconds": 0}, "seconds"), ({"against": -5.0}, "against"),
                                            ({"workers": 0}, "workers"), ({"seeds": ()}, "seeds")])
def test_a_day_benchmark_refuses_what_cannot_run(tmp_path, changes, field):
    with pytest.raises(InputFormatError) as caught:
        DayBenchmark(tmp_path, **changes)
    assert caught.value.where == field


def test_the_day_is_generated_once_and_then_reused(tmp_path):
    bench = DayBenchmark(tmp_path / "out", trips=30, scenario_seed=2, seconds=1)
    scenario, written = write_day(bench)
    assert [p.name for p in written] == ["trips.csv", "fleet.json", "scenario.json"]
    assert all(p.parent == bench.day for p in written)
    assert len((bench.day / "trips.csv").read_text().splitlines()) == len(scenario.trips) + 1
    before = (bench.day / "trips.csv").read_text()
    assert write_day(bench) is None  # a day already there is the day benchmarked
    assert (bench.day / "trips.csv").read_text() == before


def test_the_summary_gives_the_median_the_mean_and_how_far_above_the_reference(tmp_path):
    bench = DayBenchmark(tmp_path, trips=30, seconds=1, seeds=(0, 1, 2), against=100.0)
    runs = [{"seed": s, "cost": c, "at_60_s": None, "first_plan_s": f, "vehicles": 3, "contracted": 1,
             "unserved": 0, "wall_s": 2.0, "largest_process_gb": 0.2}
            for s, c, f in ((0, 110.0, 4.0), (1, 100.0, 9.5), (2, 130.0, 6.0))]
    summary = summarise(bench, runs)
    assert (summary["median"], summary["mean"]) == (110.0, pytest.approx(113.33))
    assert (summary["median_above_percent"], summary["mean_above_percent"]) == (10.0, 13.33)
    assert day_summary_line(summary) == ("median £110.00, mean £113.33 of 3 seeds; above £100.00: median 10.00%, "
                                         "mean 13.33%; first complete plan after 6.0 s (median), 9.5 s at the latest")
    assert "against" not in summarise(DayBenchmark(tmp_path, seeds=(0, 1, 2)), runs)
    assert row_line(runs[0]).split() == ["0", "110.00", "4.0", "3", "1", "0", "2.0", "0.20"]
    runs[1]["first_plan_s"] = None  # a seed whose search never ran: no median of the others alone
    assert "first_plan_s_median" not in summarise(bench, runs)


# -- itu bench days ------------------------------------------------------------------------------------
def test_generated_days_are_split_once_each_shape_and_size_in_both_halves():
    from benchmarks.families import GENERATED_DAYS, generated_days

    tuning, validation = generated_days("tuning"), generated_days("validation")
    assert tuning and validation and set(tuning) | set(validation) == set(GENERATED_DAYS)
    assert not {d.name for d in tuning} & {d.name for d in validation}
    assert {(d.shape, d.trips) for d in tuning} == {(d.shape, d.trips) for d in validation}
    # the day the large-day search was tuned on is never a validation day
    assert ("council", 2000, 1) in {(d.shape, d.trips, d.scenario_seed) for d in tuning}
    assert all(d.scenario_seed != 1 for d in validation)
    with pytest.raises(ValueError):
        generated_days("both")


@pytest.mark.parametrize("changes, field", [({"half": "all"}, "half"), ({"seconds": 0}, "seconds"),
                                            ({"seconds": float("nan")}, "seconds"), ({"workers": 0}, "workers"),
                                            ({"seeds": ()}, "seeds"), ({"seeds": (0, 0)}, "seeds"),
                                            ({"settings": ("ruin_recreate.no_such=1",)}, "--set"),
                                            ({"settings": ("ruin_recreate.most_removed=0",)}, "--set")])
def test_a_days_benchmark_refuses_what_cannot_run_before_any_solve(tmp_path, changes, field):
    from benchmarks.days import DaysBenchmark

    with pytest.raises(InputFormatError) as caught:
        DaysBenchmark(tmp_path, **changes)
    assert caught.value.where == field


def test_a_days_summary_pairs_each_seed_with_its_own_defaults_and_counts_refused_plans(tmp_path):
    from benchmarks.days import CHANGED, DEFAULTS, DaysBenchmark, summarise
    from benchmarks.families import GeneratedDay

    small, large = GeneratedDay("council", 600, 2, "validation"), GeneratedDay("council", 2000, 2, "validation")
    bench = DaysBenchmark(tmp_path, seeds=(0, 1, 2), days=(small, large), settings=("ruin_recreate.blink=0",))

    def row(day, seed, variant, cost, feasible=True):
        return {"day": day.name, "seed": seed, "variant": variant, "cost": cost, "feasible": feasible, "unserved": 0}

    # given out of order; each seed's change is against the defaults at that seed, not at another
    rows = [row(small, 2, CHANGED, 99.0), row(small, 0, DEFAULTS, 100.0), row(small, 1, CHANGED, 220.0),
            row(small, 2, DEFAULTS, 100.0), row(small, 1, DEFAULTS, 200.0), row(small, 0, CHANGED, 80.0),
            row(large, 0, DEFAULTS, 1000.0), row(large, 0, CHANGED, 1010.0, feasible=False),
            row(large, 1, DEFAULTS, 1000.0), row(large, 1, CHANGED, 1030.0),
            row(large, 2, DEFAULTS, 1000.0), row(large, 2, CHANGED, 1020.0)]
    summary = summarise(bench, rows, commit="abc1234")
    first, second = summary["days"]
    # small: -20%, +10%, -1% -> median -1%, cheaper at two seeds; medians of costs 100 and 99
    assert (first[DEFAULTS]["median"], first[CHANGED]["median"]) == (100.0, 99.0)
    assert (first["change_percent_median"], first["seeds_cheaper"]) == (-1.0, 2)
    assert (second["change_percent_median"], second["seeds_cheaper"]) == (2.0, 0)
    assert summary["change_percent_mean_of_days"] == 0.5 and summary["days_cheaper"] == 1
    assert (summary["plans"], summary["plans_failing_the_checker"], summary["commit"]) == (12, 1, "abc1234")


def test_a_days_run_stops_for_a_change_to_the_code_it_runs_not_to_anything_else(tmp_path):
    import subprocess

    from benchmarks.days import CODE_FOLDERS, code_state

    def git(*args):
        subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    git("init", "-q")
    for folder in CODE_FOLDERS:
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "code.py").write_text("x = 1\n")
    (tmp_path / "BENCHMARKS.md").write_text("figures\n")
    git("add", "-A")
    git("commit", "-qm", "first")
    before = code_state(tmp_path)
    (tmp_path / "BENCHMARKS.md").write_text("new figures\n")  # a report written during a run
    git("commit", "-qam", "report")
    assert code_state(tmp_path) == before
    (tmp_path / "optimiser" / "code.py").write_text("x = 2\n")  # the search edited, not committed
    edited = code_state(tmp_path)
    assert edited != before
    git("commit", "-qam", "search")
    assert code_state(tmp_path) not in (before, edited)


@pytest.mark.slow
def test_a_days_benchmark_measures_a_change_against_the_defaults_seed_by_seed_every_plan_checked(tmp_path):
    from benchmarks.days import CHANGED, DEFAULTS, DaysBenchmark, run_days, summary_lines
    from benchmarks.families import GeneratedDay

    day = GeneratedDay("dial-a-ride", 24, 3, "validation")
    bench = DaysBenchmark(tmp_path, seconds=1, seeds=(0,), workers=1, days=(day,),
                          settings=("ruin_recreate.forced_rounds=0.5",))
    seen, waits = [], []
    summary = run_days(bench, on_row=seen.append, on_wait=waits.append)
    # progress over both solves' time limits, never back and never past them
    assert waits and waits == sorted(waits) and waits[-1] <= 2 * bench.seconds
    # each seed with the defaults, then with the change; in a process of their own, each plan checked
    assert [(r["seed"], r["variant"]) for r in seen] == [(0, DEFAULTS), (0, CHANGED)]
    assert all(r["feasible"] and r["unserved"] == 0 and r["cost"] > 0 for r in seen)
    assert (summary["plans"], summary["plans_failing_the_checker"]) == (2, 0)
    [entry] = summary["days"]
    expected = round(100 * (seen[1]["cost"] / seen[0]["cost"] - 1), 2)
    assert entry["change_percent_median"] == expected == summary["change_percent_mean_of_days"]
    assert entry["seeds_cheaper"] == summary["days_cheaper"] == (expected < 0)
    assert json.loads((tmp_path / "summary.json").read_text())["days"] == summary["days"]
    assert (tmp_path / day.name / "scenario.json").exists() and (tmp_path / day.name / "changed-seed-0.log").exists()
    # a line a solve as it ends, kept if a later one fails; the commit measured is recorded
    assert [json.loads(line)["variant"] for line in (tmp_path / "runs.jsonl").read_text().splitlines()] == \
        [DEFAULTS, CHANGED]
    assert summary["commit"] and summary["commit"] != "unknown"
    assert summary_lines(summary)[-1].startswith("validation half: 2 plans, 0 failing the checker, 0 trips unserved")


# -- itu bench roads -----------------------------------------------------------------------------------
def test_road_timings_cover_every_repeat_and_worker_count(small_pbf):
    timings = run_roads(small_pbf, points=40, repeats=1, workers=2)
    assert len(timings.builds) == len(timings.loads) == len(timings.plain) == 1
    assert sorted(timings.matrices) == [1, 2] and all(len(t) == 1 for t in timings.matrices.values())
    lines = timings.report()
    assert lines[0].startswith(f"{small_pbf.name}: {timings.node_count:,} nodes")
    assert [line.split(",")[0] for line in lines[-2:]] == ["40 x 40 times and distances"] * 2


def test_road_timings_need_a_repeat(small_pbf):
    with pytest.raises(InputFormatError) as caught:
        run_roads(small_pbf, repeats=0)
    assert caught.value.where == "repeats"


# -- itu bench service ---------------------------------------------------------------------------------
def test_a_service_load_fails_when_a_job_is_lost_or_a_client_saw_an_error():
    load = ServiceLoad(clients=3, jobs_per_client=2, trips=20, seconds=1.0, poll_s=0.5, wall_s=4.0,
                       submit_s=[0.01] * 6, status_s=[0.02] * 20,
                       final={f"j{k}": "succeeded" for k in range(5)} | {"j5": "failed"}, stored={"j0": "succeeded"})
    assert load.submitted == 6 and load.lost == 0 and load.ok
    assert load.report()[-1] == "jobs: 6 submitted, 5 succeeded, 1 ended otherwise, 0 lost; 1 in the store (succeeded)"
    load.final.pop("j5")
    assert load.lost == 1 and not load.ok
    load.errors.append("client 2: timed out")
    assert load.lost == 0 and not load.ok and load.report()[-1] == "error: client 2: timed out"


def test_the_load_clients_are_not_stopped_by_collections_through_what_the_bench_holds():
    """While the clients run, what the bench process held before is frozen (a full collection
    through it would stop every client at once, timed as the server's); afterwards it is not."""
    import gc

    from benchmarks.service_load import closed_loop

    held = [object()]
    seen = []

    def one_round(n, r, times, lock):
        with lock:
            seen.append(any(found is held for found in gc.get_objects()))

    closed_loop(3, 2, one_round)
    assert seen == [False] * 6
    assert any(found is held for found in gc.get_objects())


def _floor_round_trip(client) -> None:
    job = client.post("/jobs", json={"trip_set_id": "t", "seed": 4})
    assert job.status_code == 202
    status = client.get(job.get_json()["url"]).get_json()
    assert (status["state"], status["options"]) == ("queued", {"trip_set_id": "t", "seed": 4})
    assert client.get("/jobs/nothing").status_code == 404


def test_the_floor_app_stores_a_job_as_one_row_and_answers_its_status_from_it(tmp_path):
    from benchmarks.service_floor import floor_app

    _floor_round_trip(floor_app(str(tmp_path / "floor.sqlite3")).test_client())


def test_the_floor_app_runs_on_postgresql_too_its_row_in_that_server(postgres_url):
    """A PostgreSQL run's reference: the same trivial app, its table on the run's server."""
    from sqlalchemy import create_engine, text

    from benchmarks.service_floor import floor_app, trial_database

    with trial_database(postgres_url, 1) as url:
        # gunicorn's workers make their apps at once: creating the table must not race
        with ThreadPoolExecutor(4) as pool:
            apps = list(pool.map(lambda _: floor_app(url), range(4)))
        _floor_round_trip(apps[0].test_client())
        engine = create_engine(url)
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM floor_jobs")) == 1
        engine.dispose()


def test_the_floor_app_takes_its_database_from_the_environment_or_says_what_is_missing(tmp_path, monkeypatch):
    from benchmarks.service_floor import FLOOR_DATABASE_VARIABLE, floor_app

    monkeypatch.delenv(FLOOR_DATABASE_VARIABLE, raising=False)
    with pytest.raises(InputFormatError) as missing:
        floor_app()
    assert missing.value.where == FLOOR_DATABASE_VARIABLE
    monkeypatch.setenv(FLOOR_DATABASE_VARIABLE, str(tmp_path / "floor.sqlite3"))
    _floor_round_trip(floor_app().test_client())


def test_the_service_is_held_to_the_floor_by_ratios_of_the_same_run():
    from benchmarks.service_floor import FloorComparison
    from benchmarks.service_load import LoadProtocol, RequestTimes

    protocol = LoadProtocol(clients=2, rounds=10)
    service = ServiceLoad(clients=2, jobs_per_client=10, trips=20, seconds=0.5, wall_s=4.0,
                          submit_s=[0.030] * 19 + [0.2], status_s=[0.010] * 20,
                          final={f"j{k}": "succeeded" for k in range(20)} | {f"s{k}": "cancelled" for k in range(20)},
                          submit_by_size_s={20: [0.02] * 10, 2000: [0.025] * 10}, size_jobs=20)
    floor = RequestTimes(submit_s=[0.020] * 20, status_s=[0.008] * 20, wall_s=2.0)
    ratios = FloorComparison("sqlite", protocol, service, floor).ratios
    # the 95th percentile by nearest rank: the 19th of 20, not the one slow outlier
    assert (ratios["submit_p95_ratio"], ratios["status_p95_ratio"]) == (1.5, 1.25)
    assert ratios["throughput_ratio"] == 0.5 and ratios["size_p95_ratio"] == 1.25
    assert (ratios["errors"], ratios["jobs_lost"]) == (0, 0)
    targets = FloorComparison("sqlite", protocol, service, floor).targets()
    assert [name for name, met in targets.items() if not met] == ["throughput >= 0.7x floor"]
    assert ratios["database_floor_throughput_ratio"] is None  # a SQLite run has no second floor
    # a PostgreSQL run's floor on that server is a reference beside the targets, which stay the SQLite floor's
    on_server = RequestTimes(submit_s=[0.024] * 20, status_s=[0.010] * 20, wall_s=2.5, errors=["client 1: refused"])
    both = FloorComparison("postgresql", protocol, service, floor, on_server)
    assert (both.ratios["database_floor_submit_p95_ratio"], both.ratios["database_floor_status_p95_ratio"],
            both.ratios["database_floor_throughput_ratio"]) == (1.25, 1.0, 0.62)
    assert both.ratios["throughput_ratio"] == 0.5 and both.ratios["errors"] == 1
    assert "service / that floor: submit p95 1.25x, status p95 1.0x, throughput 0.62x" in both.report()
    service.final.pop("s3")  # a size-check job that never ended is lost like any other
    assert FloorComparison("sqlite", protocol, service, floor).ratios["jobs_lost"] == 1
    assert json.loads(json.dumps(ratios)) == ratios  # the line --json ends with


def test_the_service_ratios_are_medians_over_trials_and_every_trials_jobs_count():
    from benchmarks.service_floor import FloorComparison, FloorTrials
    from benchmarks.service_load import LoadProtocol, RequestTimes

    protocol = LoadProtocol(clients=2, rounds=10)

    def trial(submit_s: float, wall_s: float, lost: int = 0) -> FloorComparison:
        service = ServiceLoad(clients=2, jobs_per_client=10, trips=20, seconds=0.5, wall_s=wall_s,
                              submit_s=[submit_s] * 20, status_s=[0.010] * 20,
                              final={f"j{k}": "succeeded" for k in range(20 - lost)})
        return FloorComparison("sqlite", protocol, service, RequestTimes(submit_s=[0.020] * 20, status_s=[0.010] * 20,
                                                                           wall_s=2.0))

    trials = FloorTrials([trial(0.030, 2.5), trial(0.080, 8.0), trial(0.024, 2.0, lost=1)])
    ratios = trials.ratios
    # one slow trial (a busy moment of the machine) moves no median
    assert (ratios["submit_p95_ratio"], ratios["throughput_ratio"]) == (1.5, 0.8)
    assert [t["submit_p95_ratio"] for t in ratios["trials"]] == [1.5, 4.0, 1.2]
    assert (ratios["jobs_lost"], ratios["jobs_succeeded"]) == (1, 59) and not trials.ok
    assert trials.targets()["submit p95 <= 1.5x floor"] and not trials.targets()["no job lost"]
    assert json.loads(json.dumps(ratios)) == ratios


# -- families, halves and size bands --------------------------------------------------------------------
def test_each_family_is_split_once_alternately_into_tuning_and_validation(tmp_path):
    from benchmarks.families import family_of, split

    files = []
    for folder, names in (("cordeau2006", ["a2-16", "a2-20", "b2-16"]), ("ropke2007", ["a5-40"]),
                          ("cordeau-laporte2003", ["pr01", "pr02", "pr03", "pr11"])):
        (tmp_path / folder).mkdir()
        files += [tmp_path / folder / f"{n}.txt" for n in names]
    assert {family_of(f) for f in files} == {"a/b", "pr"}
    tuning, validation = split(list(reversed(files)))  # the order given does not matter
    # within a family, in name order (the a/b family spans two folders), tuning first
    assert [f.stem for f in tuning] == ["pr01", "pr03", "a2-16", "a5-40"]
    assert [f.stem for f in validation] == ["pr02", "pr11", "a2-20", "b2-16"]
    assert not set(tuning) & set(validation) and set(tuning) | set(validation) == set(files)


def test_a_run_over_several_families_is_summarised_by_family_and_by_size_band():
    from benchmarks.darp import summaries_by_group

    def member(name, family, requests, gap, half):
        return DarpRow(name, requests, requests, True, 100.0 + gap, 100.0, gap, 1.0, 1.0, [], family, half)

    rows = [member("a2-16", "a/b", 16, 0.0, "tuning"), member("a8-96", "a/b", 96, 1.0, "validation"),
            member("pr05", "pr", 120, 4.0, "tuning")]
    lines = summaries_by_group(rows)
    assert lines[0].startswith("family a/b: 2 instances") and "mean 0.50%" in lines[0]
    assert lines[1].startswith("family pr: 1 instances") and "worst 4.00%" in lines[1]
    assert [line.split(":")[0] for line in lines[2:5]] == ["half a/b tuning", "half a/b validation", "half pr tuning"]
    assert "worst 1.00%" in lines[3]  # the validation half alone, never what the parameters were chosen on
    assert [line.split(":")[0] for line in lines[5:]] == ["size up to 48 requests", "size 49 to 96", "size over 96"]
    assert summaries_by_group(rows[:1]) == []  # one family, one half, one band: nothing more to say


def test_an_instance_knows_its_half_from_every_instance_of_its_family_on_disk(tmp_path):
    from benchmarks.families import half_of

    for folder, names in (("cordeau2006", ["a2-16", "a2-20"]), ("ropke2007", ["a5-40", "b5-40"]),
                          ("cordeau-laporte2003", ["pr01", "pr02"])):
        (tmp_path / folder).mkdir()
        for n in names:
            (tmp_path / folder / f"{n}.txt").write_text("")
    # a/b in name order across both folders: a2-16 t, a2-20 v, a5-40 t, b5-40 v
    assert [half_of(tmp_path / "ropke2007" / f"{n}.txt") for n in ("a5-40", "b5-40")] == ["tuning", "validation"]
    assert half_of(tmp_path / "cordeau-laporte2003" / "pr02.txt") == "validation"


# -- itu bench replan ----------------------------------------------------------------------------------
def test_a_replan_benchmark_re_plans_the_published_day_and_moves_only_what_the_change_touches(tmp_path):
    from benchmarks.replan_day import run_replan_benchmark, summary_lines

    rows = run_replan_benchmark(trips=80, scenario_seed=2, publish_seconds=4, seeds=(0,), workers=1,
                                day_out=tmp_path)
    published = next(rows)
    rows = list(rows)
    assert [r.change for r in rows] == ["vehicle off", "cancel and add"]
    off, cancel_add = rows
    assert off.touched >= 1  # the vehicle taken off had trips after 07:30
    assert cancel_add.touched == 30 and cancel_add.calls >= 30  # each cancelled and added trip is a call
    for row in rows:
        assert row.feasible and row.published_cost == published.cost.total
        # nobody the change did not touch is moved unless moving them pays for itself: on this small
        # day the repair leaves them all where they were
        assert row.others_moved <= row.touched
    assert len(summary_lines(rows)) == 2


def test_itu_bench_replan_refuses_a_day_too_small_for_its_changes():
    import subprocess
    import sys

    from tests.conftest import ROOT

    proc = subprocess.run([sys.executable, "-m", "service.cli", "bench", "replan", "--trips", "10"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "--trips" in proc.stderr


def test_a_week_benchmark_checks_every_row_and_the_template_keeps_everyone_consistent(tmp_path):
    from benchmarks.week import run_week_benchmark

    rows = run_week_benchmark(trips=20, scenario_seed=1, seconds=0.5, seeds=(0,), workers=1, day_out=str(tmp_path))
    week = next(rows)
    assert week.days == ("Mon", "Tue", "Wed", "Thu", "Fri")
    done = list(rows)
    assert [r.method for r in done] == ["independent, vehicles matched", "template: school, SEN, social care",
                                        "template: SEN, social care; school preferred", "template: SEN, social care"]
    assert all(r.checked and r.alone == done[0].cost for r in done)
    assert all(r.consistent_share == 1.0 and r.largest_spread_minutes <= 20.05 for r in done[1:])
    assert done[1].school_share == 1.0  # held, school pupils are as steady as the target's passengers


def test_each_postgresql_trial_runs_on_a_database_of_its_own_dropped_after_it(postgres_url):
    """No trial's service finds another trial's (or an earlier run's) jobs waiting in its queue. The
    URL names a schema (``options=-csearch_path=...``), as the tests' own do: the trial's database
    has none, so the service's tables go to its default schema."""
    from sqlalchemy import create_engine, text

    from benchmarks.service_floor import trial_database
    from service.store import migrate
    from tests.conftest import POSTGRES_SERVER

    def databases() -> set[str]:
        engine = create_engine(POSTGRES_SERVER)
        try:
            with engine.connect() as connection:
                return set(connection.scalars(text("SELECT datname FROM pg_database")))
        finally:
            engine.dispose()

    with trial_database(postgres_url, 1) as first:
        migrate(first)
        engine = create_engine(first)
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO health_checks VALUES ('left over', now())"))
        with trial_database(postgres_url, 2) as second:
            assert second != first
            other = create_engine(second)
            with other.connect() as connection:
                assert connection.scalar(text("SELECT to_regclass('health_checks')")) is None
            other.dispose()
        # a connection still open (a service that did not close its pool) does not stop the drop
        held = engine.connect()
        names = [create_engine(url).url.database for url in (first, second)]
        assert names[0] in databases() and names[1] not in databases()
    assert names[0] not in databases()
    held.invalidate()
    engine.dispose()


def test_a_trial_drops_what_a_killed_bench_of_this_machine_left_and_nothing_else(postgres_url):
    """A bench killed outright (SIGKILL) cannot drop its trial's database; the next one on this
    machine does, keeping those of live benches and of other machines sharing the server."""
    import os

    from sqlalchemy import create_engine, text

    from benchmarks.service_floor import trial_database, trial_database_prefix
    from tests.conftest import POSTGRES_SERVER

    dead_pid = _a_pid_not_running()
    prefix = trial_database_prefix(create_engine(postgres_url).url.database)
    other_machine = "000000" if not prefix.endswith("_000000_") else "111111"
    left = {"dead": f"{prefix}{dead_pid}_2", "live": f"{prefix}{os.getppid()}_1",
            "elsewhere": f"{prefix[:-7]}{other_machine}_{dead_pid}_1"}
    admin = create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")

    def databases() -> set[str]:
        with admin.connect() as connection:
            return set(connection.scalars(text("SELECT datname FROM pg_database")))

    try:
        with admin.connect() as connection:
            for name in left.values():
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        with trial_database(postgres_url, 1):
            present = databases()
        assert left["dead"] not in present
        assert left["live"] in present and left["elsewhere"] in present
    finally:
        with admin.connect() as connection:
            for name in left.values():
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def _a_pid_not_running() -> int:
    import os

    from benchmarks.service_floor import process_alive

    pid = os.getpid() + 50_000
    while process_alive(pid):
        pid += 1
    return pid


def test_a_sigterm_stops_the_service_bench_with_the_servers_it_started(tmp_path):
    """The servers run in sessions of their own: a run stopped by SIGTERM (a CI's timeout) must stop
    them too, not leave a service and its Dask cluster running."""
    import signal
    import subprocess
    import sys
    import time

    import psutil

    from tests.conftest import ROOT

    bench = subprocess.Popen([sys.executable, "-m", "service.cli", "bench", "service", "--clients", "2",
                              "--rounds", "2", "--large-trips", "0", "--trials", "1", "--drain-s", "5"], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parent = psutil.Process(bench.pid)

    def serving(started: list) -> bool:
        # a child may still be starting (no command line yet) or already gone: skip it, look again
        for child in started:
            try:
                if "service.cli serve" in " ".join(child.cmdline()) and child.children():
                    return True  # the service and its own processes are up
            except psutil.Error:
                pass
        return False

    try:
        deadline, started = time.monotonic() + 120, []
        while time.monotonic() < deadline and bench.poll() is None and not serving(started):
            time.sleep(0.2)
            started = parent.children(recursive=True)
        assert serving(started), "the service never started"
        bench.send_signal(signal.SIGTERM)
        bench.wait(timeout=180)

        def ended(process) -> bool:  # a zombie has ended: only its exit status waits to be read
            try:
                return process.status() == psutil.STATUS_ZOMBIE
            except psutil.NoSuchProcess:
                return True

        _, alive = psutil.wait_procs(started, timeout=60)
        running = [process for process in alive if not ended(process)]
        for process in alive:
            process.kill()
        assert not running, f"still running after the bench stopped: {running}"
    finally:
        if bench.poll() is None:
            bench.kill()
