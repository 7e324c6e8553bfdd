"""The scenario generator: seeded, sized, in the proportions and windows of docs/domain.md,
and plannable: every generated day loads cleanly and the solver plans it feasibly."""
from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest

from geodata.readers import load_problem
from geodata.scenario import DEFAULT_SERVICE_MIX, area_from_osm, generate_scenario, synthetic_area, write_scenario
from geodata.travel import RoadNetworkProvider
from optimiser.domain.model import parse_clock
from optimiser import SolveOptions, solve
from tests.conftest import ROOT, assert_feasible


def test_same_seed_same_day_other_seed_other_day():
    area = synthetic_area()
    first = generate_scenario(area, trips=60, seed=4)
    again = generate_scenario(synthetic_area(), trips=60, seed=4)
    other = generate_scenario(area, trips=60, seed=5)
    assert first.trips == again.trips and first.fleet == again.fleet
    assert first.trips != other.trips


@pytest.mark.parametrize("size", [50, 5000])
def test_sizes_from_50_to_5000(size):
    scenario = generate_scenario(synthetic_area(), trips=size, seed=1)
    assert len(scenario.trips) == size
    assert len({t["id"] for t in scenario.trips}) == size


def test_proportions_and_windows_follow_the_domain_notes():
    trips = generate_scenario(synthetic_area(), trips=4000, seed=2).trips
    shares = Counter(t["service"] for t in trips)
    for service, share in DEFAULT_SERVICE_MIX.items():
        assert shares[service] / len(trips) == pytest.approx(share, abs=0.03)
    clock = lambda value: parse_clock(value, where="test") / 60  # noqa: E731
    for t in trips:
        if t["service"] in ("school", "sen") and t["id"].endswith("-am"):
            # at school 5 to 20 minutes before a bell between 08:40 and 09:00
            assert 8 * 60 + 20 <= clock(t["earliest_arrival"]) and clock(t["latest_arrival"]) <= 8 * 60 + 55
            assert clock(t["latest_arrival"]) - clock(t["earliest_arrival"]) == 15
        if t["service"] == "social_care" and t["id"].endswith("-am"):
            assert t["earliest_pickup"] == "09:10"
        if t["service"] == "nept" and t["id"].endswith("-back"):
            assert clock(t["latest_pickup"]) - clock(t["earliest_pickup"]) == 60  # collected within the hour
        assert float(t["max_ride_minutes"]) >= 45
    sen_out = [t for t in trips if t["service"] == "sen" and t["id"].endswith("-am")]
    alone = sum(t["travels_alone"] == "yes" for t in sen_out) / len(sen_out)
    assert alone == pytest.approx(0.09, abs=0.04)  # DfE: about 9% of SEN pupils travel alone
    nept_out = [t for t in trips if t["service"] == "nept" and t["id"].endswith("-out")]
    wheelchair = sum(int(t["wheelchair_spaces"]) for t in nept_out) / len(nept_out)
    assert wheelchair == pytest.approx(0.14, abs=0.05)  # Calderdale: 14% wheelchair


def test_a_generated_day_loads_and_plans_feasibly(tmp_path):
    scenario = generate_scenario(synthetic_area(), trips=80, seed=3)
    write_scenario(scenario, tmp_path)
    loaded = load_problem(tmp_path / "trips.csv", tmp_path / "fleet.json")
    assert loaded.warnings == []
    assert set(loaded.problem.services) == set(DEFAULT_SERVICE_MIX)
    plan = solve(loaded.problem, SolveOptions(time_limit_s=5, workers=1))
    assert_feasible(loaded.problem, plan)
    assert not plan.unserved
    assert len(plan.served_trip_ids) + len(plan.contracted) == 80
    # the fleet carries a good part of the day; taxis take the rest where they are cheaper
    assert len(plan.served_trip_ids) >= 24


@pytest.mark.shared
def test_rutland_extract_gives_real_places_and_a_plannable_day(rutland_pbf, tmp_path):
    area = area_from_osm(rutland_pbf)
    names = {s.name for s in area.schools}
    assert {"Catmose College", "Uppingham Community College", "Oakham Church of England Primary School"} <= names
    assert any(p.kind == "hospital" and "Rutland Memorial" in p.name for p in area.health)
    provider = RoadNetworkProvider(rutland_pbf)
    scenario = generate_scenario(area, trips=60, seed=8, travel=provider)
    write_scenario(scenario, tmp_path)
    loaded = load_problem(tmp_path / "trips.csv", tmp_path / "fleet.json", travel=provider)
    assert max(loaded.snap_m.values()) < 1000
    plan = solve(loaded.problem, SolveOptions(time_limit_s=5, workers=1))
    assert_feasible(loaded.problem, plan)
    assert not plan.unserved


def _itu(*args):
    return subprocess.run([sys.executable, "-m", "service.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


def test_command_line_generates_plans_and_exports(tmp_path):
    proc = _itu("scenario", "generate", "--trips", "40", "--seed", "2", "--out", str(tmp_path / "day"))
    assert proc.returncode == 0, proc.stderr
    assert "40 trips" in proc.stdout
    proc = _itu("solve", str(tmp_path / "day" / "trips.csv"), str(tmp_path / "day" / "fleet.json"), "--seconds", "3",
                "--out", str(tmp_path / "plan"))
    assert proc.returncode == 0, proc.stderr
    for name in ("plan.json", "routes.csv", "routes.geojson", "stops.geojson", "plan.gpkg", "map.html",
                 "run-sheets/index.html"):
        assert (tmp_path / "plan" / name).is_file(), name
    assert list((tmp_path / "plan" / "schedules").glob("*.csv"))


def test_command_line_lists_every_problem_without_a_traceback(tmp_path):
    scenario = generate_scenario(synthetic_area(), trips=10, seed=1)
    scenario.trips[1]["latest_arrival"] = "quarter to nine"
    scenario.trips[4]["service"] = "ambulance"
    write_scenario(scenario, tmp_path)
    proc = _itu("solve", str(tmp_path / "trips.csv"), str(tmp_path / "fleet.json"), "--seconds", "1")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "row 3" in proc.stderr and "latest_arrival" in proc.stderr
    assert "row 6" in proc.stderr and "unknown service 'ambulance'" in proc.stderr


def test_a_time_limit_that_cuts_construction_short_is_said_so(tmp_path):
    """The bundled 200-trip day needs about 0.3 s to build its first routes (more on a busy
    machine): 0.05 s is not enough, and the plan must say that its taxis were not a considered
    choice."""
    loaded = load_problem(ROOT / "examples" / "rutland" / "trips.csv", ROOT / "examples" / "rutland" / "fleet.json")
    rushed = solve(loaded.problem, SolveOptions(time_limit_s=0.05, workers=1))
    assert_feasible(loaded.problem, rushed)
    assert rushed.solver.construction_complete is False
    assert all("time limit ran out" in c.reason for c in rushed.contracted
               if "cannot serve" not in c.reason)
    assert "warning: the time limit ran out" in rushed.summary()
    small = generate_scenario(synthetic_area(), trips=20, seed=2)
    write_scenario(small, tmp_path)
    calm = solve(load_problem(tmp_path / "trips.csv", tmp_path / "fleet.json").problem,
                 SolveOptions(time_limit_s=3, workers=1))
    assert calm.solver.construction_complete is True
