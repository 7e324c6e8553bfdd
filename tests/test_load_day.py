"""A day from files and a plan back to files (geodata/files.py), as the command line, the
benchmarks and notebooks use them: plain arguments in, what the exports need kept."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from geodata.files import load_day, snapping_summary, travel_config, write_plan_files
from optimiser import SolveOptions, solve
from optimiser.errors import InputFormatError
from tests.conftest import ROOT, assert_feasible

EXAMPLE = ROOT / "examples" / "rutland-morning-small.json"
RUTLAND = ROOT / "examples" / "rutland"


@pytest.fixture
def trip_file(tmp_path):
    """The first ten trips of the bundled Rutland day (five pupils, there and back)."""
    lines = (RUTLAND / "trips.csv").read_text().splitlines()
    path = tmp_path / "morning.csv"
    path.write_text("\n".join(lines[:11]) + "\n")
    return path


def test_a_trip_file_is_read_with_its_fleet_keeping_what_the_exports_need(trip_file):
    day = load_day(trip_file, RUTLAND / "fleet.json")
    assert len(day.problem.trips) == 10
    trip = day.problem.trip("sen-0001-am")
    assert day.locations[trip.pickup] == (52.675871, -0.607578)
    assert {loc for t in day.problem.trips for loc in (t.pickup, t.dropoff)} <= set(day.locations)
    assert day.place_names["home_00001"] == "Home 00001"
    assert day.trip_text["sen-0001-am"]["passenger"] == "SEN pupil 0001"
    assert day.network is None and snapping_summary(day) is None  # crow-fly: nothing was snapped
    assert day.problem.name == "morning"


def test_a_trip_file_needs_its_fleet(trip_file):
    with pytest.raises(InputFormatError) as caught:
        load_day(trip_file)
    assert caught.value.where == "fleet" and "fleet file" in caught.value.message


def test_a_problem_document_keeps_its_coordinates_for_the_map():
    day = load_day(EXAMPLE)
    doc = json.loads(EXAMPLE.read_text())
    assert [t.id for t in day.problem.trips] == [t["id"] for t in doc["trips"]]
    assert day.locations == {k: (v[0], v[1]) for k, v in doc["locations"].items()}
    assert day.warnings == [] and day.network is None


def test_the_travel_configuration_is_one_provider():
    assert travel_config() == {"provider": "crow-fly"}
    assert travel_config(area_type="rural") == {"provider": "crow-fly", "area_type": "rural"}
    assert travel_config(pbf="rutland.osm.pbf") == {"provider": "road", "pbf": "rutland.osm.pbf"}
    assert travel_config(osrm_url="http://localhost:5000") == {"provider": "osrm", "url": "http://localhost:5000"}
    with pytest.raises(InputFormatError) as caught:
        travel_config(pbf="rutland.osm.pbf", osrm_url="http://localhost:5000")
    assert caught.value.where == "travel"


def test_snapping_is_summed_up_by_its_median_and_its_furthest_location():
    day = replace(load_day(EXAMPLE), network=object(), snap_m={"school": 12.0, "home_1": 30.4, "farm": 1_450.0})
    assert snapping_summary(day) == ("snapped 3 locations to the road network: median 30 m, furthest 1,450 m "
                                     "(farm)")


def test_a_plan_is_written_with_its_map_only_when_every_location_it_uses_has_coordinates(tmp_path):
    day = load_day(EXAMPLE)
    plan = solve(day.problem, SolveOptions(time_limit_s=2, workers=1))
    assert_feasible(day.problem, plan)
    written = write_plan_files(plan, day, tmp_path / "mapped")
    names = {p.relative_to(tmp_path / "mapped").parts[0] for p in written}
    assert {"plan.json", "routes.csv", "map.html", "plan.gpkg", "schedules", "run-sheets"} <= names
    assert all(p.exists() for p in written)
    assert json.loads((tmp_path / "mapped" / "plan.json").read_text())["cost"]["total"] == pytest.approx(
        plan.cost.total, abs=0.005)

    used = next(s.location for r in plan.routes for s in r.stops)
    unmapped = replace(day, locations={k: v for k, v in day.locations.items() if k != used})
    written = write_plan_files(plan, unmapped, tmp_path / "unmapped")
    assert sorted(p.name for p in written) == ["plan.json", "routes.csv"]
    assert not (tmp_path / "unmapped" / "map.html").exists()
