"""The `itu` command line as a user runs it: real processes, real files."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

EXAMPLE = ROOT / "examples" / "rutland-morning-small.json"


def itu(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "service.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_solve_the_bundled_example(tmp_path):
    # a round budget, not the clock: the same plan on a busy machine (the seconds only bound a broken search)
    proc = itu("solve", str(EXAMPLE), "--seconds", "60", "--max-rounds", "2000", "--out", str(tmp_path))
    assert "rutland-morning-small" in proc.stdout
    plan = json.loads((tmp_path / "plan.json").read_text())
    trips = json.loads(EXAMPLE.read_text())["trips"]
    accounted = {s["trip_id"] for r in plan["routes"] for s in r["stops"] if s["kind"] == "pickup"}
    accounted |= {c["trip_id"] for c in plan["contracted"]} | {u["trip_id"] for u in plan["unserved"]}
    assert accounted == {t["id"] for t in trips}
    header = (tmp_path / "routes.csv").read_text().splitlines()[0]
    assert header.startswith("vehicle_type,vehicle_number,layout,stop,kind")
    assert plan["solver"]["improvement"] == "ruin_and_recreate"


@pytest.mark.parametrize("choice, recorded", [("or-tools", "ortools_local_search"), ("parts", "parts")])
def test_the_improvement_can_be_chosen(tmp_path, choice, recorded):
    itu("solve", str(EXAMPLE), "--seconds", "2", "--improvement", choice, "--quiet", "--out", str(tmp_path))
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["solver"]["improvement"] == recorded


def test_a_day_planned_in_regions_on_a_local_dask_cluster(tmp_path):
    """`--dask-scheduler local` starts a cluster of --workers processes; the regions go to it."""
    day = ROOT / "examples" / "rutland"
    proc = itu("solve", str(day / "trips.csv"), str(day / "fleet.json"), "--seconds", "120", "--max-rounds", "3000",
               "--regions", "2", "--workers", "2", "--dask-scheduler", "local", "--out", str(tmp_path))
    assert "as 2 regions" in proc.stdout and "planning regions on local: 2 workers" in proc.stdout
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert [r["planned"] for r in plan["solver"]["regions"]["each"]] == [True, True]
    served = [s["trip_id"] for r in plan["routes"] for s in r["stops"] if s["kind"] == "pickup"]
    others = [c["trip_id"] for c in plan["contracted"]] + [u["trip_id"] for u in plan["unserved"]]
    assert len(served) + len(others) == len(set(served + others)) == 200
    # the search's curve, drawn beside the plan, and again with another plan's by `itu curves`
    assert len(plan["solver"]["best_cost_over_time"]) >= 2
    chart = (tmp_path / "search.svg").read_text()
    assert chart.startswith("<svg") and chart.count('id="curve-') == 1
    proc = itu("curves", str(tmp_path / "plan.json"), str(tmp_path / "plan.json"), "--label", "first",
               "--out", str(tmp_path / "both.svg"))
    both = (tmp_path / "both.svg").read_text()
    assert both.count('id="curve-') == 2 and ">first</text>" in both and f">{tmp_path.name}</text>" in both


def test_bench_day_solves_each_seed_in_its_own_process_and_gives_the_median_and_the_gap(tmp_path):
    """The five-seed protocol of issue 7 as one command: a generated day, one checked solve per
    seed (``itu solve`` refuses a plan the checker rejects), the median, the mean and the gap."""
    proc = itu("bench", "day", "--trips", "30", "--seconds", "2", "--seeds", "3", "0", "--workers", "1",
               "--against", "100", "--out", str(tmp_path))
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["code"] == str(ROOT)  # the folder whose code the solves are started with
    assert [r["seed"] for r in summary["runs"]] == [3, 0]
    trips = (tmp_path / "day" / "trips.csv").read_text().splitlines()[1:]
    for run in summary["runs"]:
        plan = json.loads((tmp_path / f"seed-{run['seed']}" / "plan.json").read_text())
        assert plan["cost"]["total"] == pytest.approx(run["cost"], abs=0.005)
        accounted = [s["trip_id"] for r in plan["routes"] for s in r["stops"] if s["kind"] == "pickup"]
        accounted += [c["trip_id"] for c in plan["contracted"]] + [u["trip_id"] for u in plan["unserved"]]
        assert len(accounted) == len(set(accounted)) == len(trips)
        assert run["largest_process_gb"] > 0
    costs = sorted(r["cost"] for r in summary["runs"])
    assert summary["median"] == pytest.approx((costs[0] + costs[1]) / 2, abs=0.01)
    assert summary["median_above_percent"] == pytest.approx(summary["median"] - 100, abs=0.01)
    assert f"median £{summary['median']:,.2f}" in proc.stdout
    assert (tmp_path / "curves.svg").read_text().count('id="curve-') == 2


def test_bench_day_refuses_no_time(tmp_path):
    proc = itu("bench", "day", "--seconds", "0", "--out", str(tmp_path), check=False)
    assert proc.returncode == 2 and "--seconds" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "day").exists()


@pytest.mark.parametrize("flags, named", [(["--seconds", "0"], "itu: error: --seconds: "),
                                          (["--set", "ruin_recreate.no_such=1"], "itu: error: --set: ")])
def test_bench_days_names_the_flag_it_refuses_before_any_solve(tmp_path, flags, named):
    proc = itu("bench", "days", *flags, "--out", str(tmp_path / "out"), check=False)
    assert proc.returncode == 2 and proc.stderr.startswith(named) and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_curves_of_files_that_are_not_plans_are_one_clear_line(tmp_path):
    (tmp_path / "other.json").write_text('{"trips": []}')
    proc = itu("curves", str(tmp_path / "other.json"), "--out", str(tmp_path / "c.svg"), check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "other.json: not a plan.json with solver.best_cost_over_time" in proc.stderr
    proc = itu("curves", str(tmp_path / "missing.json"), "--out", str(tmp_path / "c.svg"), check=False)
    assert proc.returncode == 2 and "missing.json: cannot read" in proc.stderr
    assert not (tmp_path / "c.svg").exists()


def test_curves_compare_against_named_costs_drawn_across_the_chart(tmp_path):
    plan = tmp_path / "run" / "plan.json"
    plan.parent.mkdir()
    plan.write_text(json.dumps({"solver": {"best_cost_over_time": [[2, 130.0], [20, 112.0], [200, 105.0]]}}))
    itu("curves", str(plan), "--line", "2% above the 30-minute best=102", "--line", "30-minute best=£100",
        "--out", str(tmp_path / "c.svg"))
    chart = (tmp_path / "c.svg").read_text()
    assert chart.count('id="reference"') == 2 and chart.count("stroke-dasharray: 6,4") == 2
    assert "2% above the 30-minute best: £102</text>" in chart and "30-minute best: £100</text>" in chart
    # the cost axis reaches down to the cheapest line, below every cost the search found
    assert ">£100</text>" in chart
    proc = itu("curves", str(plan), "--line", "target=cheap", "--out", str(tmp_path / "d.svg"), check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--line: 'target=cheap' is not NAME=POUNDS" in proc.stderr
    assert not (tmp_path / "d.svg").exists()


def test_regions_must_be_at_least_one(tmp_path):
    proc = itu("solve", str(EXAMPLE), "--regions", "0", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "options.regions: regions must be at least 1" in proc.stderr
    proc = itu("solve", str(EXAMPLE), "--max-rounds", "0", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "options.max_rounds: max_rounds must be at least 1" in proc.stderr


def test_searches_stop_when_the_command_is_killed_outright():
    """A parent killed with SIGKILL cannot stop its worker processes: they notice and stop."""
    import os
    import signal
    import time

    import psutil

    proc = subprocess.Popen([sys.executable, "-m", "service.cli", "solve", str(EXAMPLE), "--seconds", "120",
                             "--workers", "2", "--quiet"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    parent = psutil.Process(proc.pid)

    def search_workers() -> list:
        # A child may still be starting (no command line yet) or already gone: skip it, look again.
        found = []
        for child in parent.children():
            try:
                if "spawn_main" in " ".join(child.cmdline()):
                    found.append(child)
            except psutil.Error:
                pass
        return found

    # two workers: one search in the command's own process, the other in a worker process
    deadline = time.monotonic() + 60
    workers = search_workers()
    while not workers and time.monotonic() < deadline:
        time.sleep(0.2)
        workers = search_workers()
    assert workers, "the searches did not start"
    time.sleep(3)  # into the search
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    gone, alive = psutil.wait_procs(workers, timeout=60)
    for p in alive:
        p.kill()
    assert not alive  # long before their 120 s limit


def test_bad_problem_file_is_one_clear_line(tmp_path):
    doc = json.loads(EXAMPLE.read_text())
    doc["trips"][2]["latest_arrival"] = "8h45"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    proc = itu("solve", str(bad), check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "trip T003.latest_arrival: cannot read '8h45' as a time of day" in proc.stderr


@pytest.mark.parametrize("mutate, expected", [
    (lambda d: d["trips"][0].update(colour="red"), "trips[0]: unknown field(s) ['colour']"),
    (lambda d: d["trips"][0].pop("pickup"), "trips[0].pickup: missing"),
    (lambda d: d["vehicle_types"][0].update(count="three"), "vehicle_types[0]: wrong type or value"),
    (lambda d: d["locations"].update(bad=[95, 0]), "locations.bad: latitude 95"),
])
def test_document_errors_name_the_field(tmp_path, mutate, expected):
    doc = json.loads(EXAMPLE.read_text())
    mutate(doc)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    proc = itu("solve", str(bad), check=False)
    assert proc.returncode == 2 and expected in proc.stderr, proc.stderr


def test_not_json(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{trips: ")
    proc = itu("solve", str(bad), check=False)
    assert proc.returncode == 2 and "not valid JSON" in proc.stderr


@pytest.mark.shared
def test_bench_darp_json_lines(darp_dir):
    proc = itu("bench", "darp", str(darp_dir / "cordeau2006" / "a2-16.txt"), "--seconds", "2", "--workers", "1",
               "--json")
    (line,) = proc.stdout.strip().splitlines()
    row = json.loads(line)
    assert {"instance", "seconds", "cost", "feasible", "served", "requests", "routes"} <= set(row)
    assert row["instance"] == "a2-16" and row["requests"] == 16 and row["feasible"] is True
    assert sorted(n for r in row["routes"] for n in r) == list(range(1, 33))


def test_compare_writes_every_report(tmp_path):
    doc = json.loads(EXAMPLE.read_text())
    fleet = {"vehicle_types": doc.pop("vehicle_types"), "tariffs": doc.pop("tariffs"),
             "today_trip_prices": {"T001": 25.0}}
    (tmp_path / "trips.json").write_text(json.dumps(doc))
    (tmp_path / "fleet.json").write_text(json.dumps(fleet))
    proc = itu("compare", str(tmp_path / "trips.json"), str(tmp_path / "fleet.json"), "--seconds", "1",
               "--seeds", "1", "--out", str(tmp_path / "out"))
    assert "Integrated against separate planning" in proc.stdout and "Who pays what" in proc.stdout
    result = json.loads((tmp_path / "out" / "comparison.json").read_text())
    assert set(result["apportionment"]["services"]) == {"school", "sen", "social_care", "nept"}
    shares = result["apportionment"]["splits"][2]["shares"]
    assert sum(shares.values()) == pytest.approx(min(result["integrated"]["cost_by_seed"]), rel=1e-9)
    for name in ("report.md", "report.html", "routes-integrated.csv", "routes-separate.csv"):
        assert (tmp_path / "out" / name).stat().st_size > 0


def test_compare_fleet_document_with_unknown_field(tmp_path):
    (tmp_path / "fleet.json").write_text(json.dumps({"vehicle_types": [], "buses": 3}))
    proc = itu("compare", str(EXAMPLE), str(tmp_path / "fleet.json"), check=False)
    assert proc.returncode == 2 and "unknown field(s) ['buses']" in proc.stderr


def test_the_console_script_entry_point_is_main(tmp_path, capsys):
    """setup.cfg's ``itu = service.cli:main``: a trip file without its fleet is one line, exit 2."""
    from service.cli import main

    trips = tmp_path / "trips.csv"
    trips.write_text("id,service\n")
    assert main(["solve", str(trips)]) == 2
    err = capsys.readouterr().err
    assert err == "itu: error: fleet: a trip file needs a fleet file beside it (CSV or JSON)\n"


def test_roads_or_osrm_not_both(tmp_path):
    day = ROOT / "examples" / "rutland"
    proc = itu("solve", str(day / "trips.csv"), str(day / "fleet.json"), "--roads", "x.osm.pbf", "--osrm",
               "http://localhost:5000", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "travel: give --roads or --osrm, not both" in proc.stderr


def test_bench_roads_names_the_flag_it_refuses():
    proc = itu("bench", "roads", "nowhere.osm.pbf", "--repeats", "0", check=False)
    assert proc.returncode == 2 and proc.stderr == "itu: error: --repeats: must be at least 1\n"


@pytest.mark.shared
def test_bench_darp_table_ends_with_the_gaps(darp_dir):
    proc = itu("bench", "darp", str(darp_dir / "cordeau2006" / "a2-16.txt"), "--seconds", "2", "--workers", "1")
    header, row, blank, summary = proc.stdout.splitlines()
    assert header.split() == ["instance", "requests", "served", "feasible", "cost", "best", "known", "gap", "%",
                              "seconds"]
    assert row.split()[:4] == ["a2-16", "16", "16", "True"] and blank == ""
    assert summary.startswith("1 instances, 1 feasible, 1 fully served; gap to best known: mean ")


@pytest.mark.shared
def test_bench_darp_prints_a_table_per_family_and_takes_search_parameters(darp_dir):
    proc = itu("bench", "darp", str(darp_dir / "cordeau2006" / "a2-16.txt"),
               str(darp_dir / "cordeau-laporte2003" / "pr01.txt"), "--seconds", "2", "--workers", "1",
               "--set", "ruin_recreate.most_removed=8")
    lines = proc.stdout.splitlines()
    assert lines[0] == "family a/b" and lines[1].startswith("instance") and lines[2].startswith("a2-16 ")
    assert lines[4].startswith("1 instances") and lines[6] == "family pr" and lines[8].startswith("pr01 ")
    assert any(line.startswith("family a/b: ") for line in lines)
    assert lines[-1].startswith("all: 2 instances, 2 feasible, 2 fully served")
    refused = itu("bench", "darp", str(darp_dir / "cordeau2006" / "a2-16.txt"), "--set", "ruin_recreate.nope=1",
                  check=False)
    assert refused.returncode == 2 and "ruin_recreate has no parameter 'nope'" in refused.stderr


def test_a_request_worker_leaves_what_it_loaded_out_of_every_collection(tmp_path):
    """A gunicorn worker freezes the objects of its loaded application, so that Python's full
    collections (60 ms through them) never stop its requests; what comes after is collected."""
    import gc

    from service import stop_app
    from service.server import request_worker_app

    app = request_worker_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'worker.sqlite3'}", "RUNNER": False,
                              "SEED_EXAMPLE": False})
    try:
        assert not any(found is app for found in gc.get_objects())  # in no generation the collector visits
        made_later = [app]
        assert any(found is made_later for found in gc.get_objects())
    finally:
        gc.unfreeze()
        stop_app(app)


def test_serve_makes_its_instance_folder_and_names_a_database_it_cannot_open(tmp_path, monkeypatch):
    """A fresh checkout has no instance folder, where the default SQLite file goes: the service
    makes it. A database it cannot open is one line naming the setting, not a traceback."""
    from flask import Flask

    from service.errors import ConfigurationError
    from service.server import ServerOptions, checked_config

    for name in ("ITU_DATABASE_URL", "ITU_DEV_MODE"):
        monkeypatch.delenv(name, raising=False)
    fresh = tmp_path / "checkout" / "instance"
    monkeypatch.setattr(Flask, "auto_find_instance_path", lambda self: str(fresh))
    config = checked_config(ServerOptions(dev=True))
    assert config["DATABASE_URL"].endswith("itu.sqlite3") and (fresh / "itu.sqlite3").is_file()
    monkeypatch.setenv("ITU_DATABASE_URL", f"sqlite:///{tmp_path / 'no such folder' / 'itu.sqlite3'}")
    with pytest.raises(ConfigurationError) as refused:
        checked_config(ServerOptions(dev=True))
    assert refused.value.where == "ITU_DATABASE_URL" and "unable to open" in refused.value.message
