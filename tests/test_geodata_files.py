"""Trip and fleet files in, plans out: every format, every kind of bad row, and exports that
geopandas reads back with the same content."""
from __future__ import annotations

import csv
import json

import geopandas
import pytest
from shapely.geometry import LineString, Point

from geodata.export import export_plan, plan_layers
from geodata.readers import load_problem, parse_layouts, read_fleet, read_trips
from geodata.travel import RoadNetworkProvider
from optimiser.errors import InputFormatError
from optimiser.domain.model import format_clock
from optimiser import SolveOptions, solve
from tests.conftest import assert_feasible

OAKHAM_DEPOT = (52.6712, -0.7234)
CATMOSE = (52.6688, -0.7207)
TRIPS = [
    # id, service, pickup (lat, lon), dropoff, extra columns
    ("T1", "school", (52.6790, -0.7390), CATMOSE, {"earliest_pickup": "07:45", "earliest_arrival": "08:25",
                                                    "latest_arrival": "08:45", "passenger": "Alice"}),
    ("T2", "sen", (52.6650, -0.7420), CATMOSE, {"earliest_pickup": "07:45", "earliest_arrival": "08:25",
                                                 "latest_arrival": "08:45", "wheelchair_spaces": "1",
                                                 "needs_assistant": "yes", "passenger": "Bob", "notes": "ramp"}),
    ("T3", "nept", (52.6560, -0.7110), (52.6732, -0.7343), {"earliest_pickup": "08:30", "latest_arrival": "10:00",
                                                            "max_ride_minutes": "60", "passenger": "Carol"}),
    ("T4", "social_care", (52.6820, -0.7200), (52.6732, -0.7343), {"earliest_pickup": "09:10",
                                                                   "latest_arrival": "10:30", "passenger": "Dan"}),
]
COLUMNS = ["id", "service", "pickup_latitude", "pickup_longitude", "dropoff_location", "dropoff_latitude",
           "dropoff_longitude", "earliest_pickup", "earliest_arrival", "latest_arrival", "wheelchair_spaces",
           "needs_assistant", "max_ride_minutes", "passenger", "notes"]


def write_trips_csv(path, trips=TRIPS, columns=COLUMNS, extra_rows=()):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for trip_id, service, a, b, extra in trips:
            values = {"id": trip_id, "service": service, "pickup_latitude": a[0], "pickup_longitude": a[1],
                      "dropoff_location": "catmose" if b == CATMOSE else "memorial", "dropoff_latitude": b[0],
                      "dropoff_longitude": b[1], **extra}
            writer.writerow([values.get(c, "") for c in columns])
        for row in extra_rows:
            writer.writerow(row)
    return path


def write_fleet_csv(path):
    path.write_text(
        "name,count,depot,depot_latitude,depot_longitude,layouts,shift_start,shift_end,passenger_assistant,"
        "cost_per_day,cost_per_km,cost_per_hour,assistant_cost_per_hour,co2_kg_per_km\n"
        f"minibus,2,Oakham depot,{OAKHAM_DEPOT[0]},{OAKHAM_DEPOT[1]},16 seats | 12 seats + 1 wheelchair,"
        "07:00,18:00,yes,60,0.35,14.5,13.5,0.40\n")
    return path


def write_fleet_json(path, **changes):
    doc = {"depots": {"oakham": list(OAKHAM_DEPOT)},
           "vehicle_types": [{"name": "minibus", "count": 2, "depot": "oakham", "passenger_assistant": True,
                              "layouts": ["16 seats", {"name": "12+1", "seats": 12, "wheelchair_spaces": 1}],
                              "shift_start": "07:00", "shift_end": "18:00", "cost_per_day": 60, "cost_per_km": 0.35,
                              "cost_per_hour": 14.5}],
           "tariffs": [{"name": "taxi", "flag_fall": 3.5, "per_km": 1.9, "needs": ["ambulant"]}]}
    doc.update(changes)
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def files(tmp_path):
    return write_trips_csv(tmp_path / "trips.csv"), write_fleet_csv(tmp_path / "fleet.csv")


def test_csv_trips_and_fleet_make_a_problem(files):
    loaded = load_problem(*files)
    problem = loaded.problem
    assert [t.id for t in problem.trips] == ["T1", "T2", "T3", "T4"]
    t2 = problem.trip("T2")
    assert (t2.wheelchair_spaces, t2.seats, t2.needs_assistant, t2.pickup_service_s) == (1, 0, True, 300.0)
    assert t2.latest_arrival_s == 8 * 3600 + 45 * 60
    assert problem.trip("T1").dropoff == problem.trip("T2").dropoff == "catmose"  # named places are shared
    assert problem.trip("T3").max_ride_s == 3600
    vt = problem.vehicle_types[0]
    assert [l.describe() for l in vt.layouts] == ["16 seats", "12 seats + 1 wheelchair"]
    assert vt.depot == "Oakham depot" and vt.passenger_assistant
    assert loaded.trip_text["T2"] == {"passenger": "Bob", "notes": "ramp"}
    assert loaded.locations["catmose"] == CATMOSE
    assert loaded.warnings == []


def test_json_fleet_reads_the_same_as_csv(files, tmp_path):
    from_json = load_problem(files[0], write_fleet_json(tmp_path / "fleet.json")).problem
    assert [l.capacity for l in from_json.vehicle_types[0].layouts] == \
        [l.capacity for l in load_problem(*files).problem.vehicle_types[0].layouts]
    assert from_json.tariffs[0].name == "taxi"


def _as_frame(trips, geometry_kind):
    records, geometries = [], []
    for trip_id, service, a, b, extra in trips:
        record = {"id": trip_id, "service": service, **extra}
        if geometry_kind == "point":
            record.update(dropoff_latitude=b[0], dropoff_longitude=b[1])
            geometries.append(Point(a[1], a[0]))
        else:
            geometries.append(LineString([(a[1], a[0]), (b[1], b[0])]))
        records.append(record)
    return geopandas.GeoDataFrame(records, geometry=geometries, crs=4326)


@pytest.mark.parametrize("suffix, geometry_kind", [(".geojson", "line"), (".gpkg", "line"), (".gpkg", "point"),
                                                   (".geojson", "point")])
def test_gis_trip_files_read_like_csv(files, tmp_path, suffix, geometry_kind):
    frame = _as_frame(TRIPS, geometry_kind)
    path = tmp_path / f"trips{suffix}"
    frame.to_file(path, driver="GPKG" if suffix == ".gpkg" else "GeoJSON")
    from_gis = load_problem(path, files[1]).problem
    from_csv = load_problem(*files).problem
    for a, b in zip(from_gis.trips, from_csv.trips):
        assert (a.id, a.service, a.latest_arrival_s, a.wheelchair_spaces, a.needs_assistant) == \
            (b.id, b.service, b.latest_arrival_s, b.wheelchair_spaces, b.needs_assistant)
        assert from_gis.direct_s(a) == pytest.approx(from_csv.direct_s(b), rel=1e-6)


def test_projected_gis_file_is_reprojected(files, tmp_path):
    path = tmp_path / "trips-bng.gpkg"
    _as_frame(TRIPS, "line").to_crs(27700).to_file(path, driver="GPKG")  # British National Grid
    problem = load_problem(path, files[1]).problem
    assert problem.direct_s(problem.trip("T1")) == pytest.approx(
        load_problem(*files).problem.direct_s(load_problem(*files).problem.trip("T1")), rel=1e-4)


def test_every_bad_row_is_listed_at_once(tmp_path, files):
    bad = write_trips_csv(tmp_path / "bad.csv", columns=COLUMNS + ["lastest_pickup"], extra_rows=[
        ["T1", "school", 52.67, -0.73, "catmose", *CATMOSE, "07:45", "", "08:45"],  # duplicate id, row 6
        ["T6", "bus", 52.67, -0.73, "catmose", *CATMOSE, "07:45", "", "08:45"],  # unknown service
        ["T7", "school", 52.67, "west", "catmose", *CATMOSE, "07:45", "", "08:45"],  # not a number
        ["T8", "school", 52.67, -0.73, "catmose", *CATMOSE, "7.45am", "", "08:45"],  # unparseable time
        ["T9", "school", 52.67, -0.73, "catmose", *CATMOSE, "07:45", "08:50", "08:45"],  # window closes first
        ["", "school", 52.67, -0.73, "catmose", *CATMOSE, "07:45", "", "08:45"],  # no id
        ["T11", "school", 52.67, -0.73, "catmose", *CATMOSE, "07:45", "", "08:45", "", "", "-1"],
    ])
    with pytest.raises(InputFormatError) as caught:
        load_problem(bad, files[1])
    found = {(p.get("row"), p.get("trip_id"), p.get("column")) for p in caught.value.problems}
    assert found == {
        (None, None, "lastest_pickup"), (6, "T1", "id"), (7, "T6", "service"), (8, "T7", "pickup_longitude"),
        (9, "T8", "earliest_pickup"), (10, "T9", "latest_arrival"), (11, None, "id"), (12, "T11", "max_ride_minutes"),
    }
    assert "did you mean 'latest_pickup'" in str(caught.value)
    assert "nothing imported" in str(caught.value)


def test_file_errors_name_the_file(tmp_path, files):
    with pytest.raises(InputFormatError, match="no such file"):
        load_problem(tmp_path / "missing.csv", files[1])
    (tmp_path / "trips.xlsx").write_text("x")
    with pytest.raises(InputFormatError, match="use .csv, .geojson or .gpkg"):
        read_trips(tmp_path / "trips.xlsx")
    (tmp_path / "broken.geojson").write_text("{not json")
    with pytest.raises(InputFormatError, match="broken.geojson"):
        read_trips(tmp_path / "broken.geojson")
    (tmp_path / "nocols.csv").write_text("name,when\nx,y\n")
    with pytest.raises(InputFormatError, match="missing column"):
        read_trips(tmp_path / "nocols.csv")


def test_bad_fleet_rows_are_listed_at_once(tmp_path, files):
    fleet = tmp_path / "fleet.csv"
    fleet.write_text("name,count,depot_latitude,depot_longitude,layouts,cost_per_km,shift_start\n"
                     "minibus,two,52.67,-0.72,16 seats,0.35,07:00\n"
                     "car,1,52.67,-0.72,4 chairs,0.2,07:00\n"
                     "van,1,,,,cheap,7 o'clock\n")
    with pytest.raises(InputFormatError) as caught:
        read_fleet(fleet)
    found = {(p.get("row"), p.get("column")) for p in caught.value.problems}
    assert found == {(2, "count"), (3, "layouts"), (4, "layouts"), (4, "cost_per_km"), (4, "shift_start"),
                     (4, "depot_latitude")}
    with pytest.raises(InputFormatError, match="unknown depot"):
        read_fleet(write_fleet_json(tmp_path / "f.json", vehicle_types=[
            {"name": "minibus", "count": 1, "depot": "nowhere", "layouts": ["16 seats"]}]))
    with pytest.raises(InputFormatError, match="negative"):
        load_problem(files[0], write_fleet_json(tmp_path / "g.json", vehicle_types=[
            {"name": "minibus", "count": 1, "depot": "oakham", "layouts": ["16 seats"], "cost_per_km": -1}]))


def test_layout_text():
    layouts = parse_layouts("16 seats | 12 seats + 1 wheelchair | 1 stretcher + 2 seats")
    assert [l.capacity for l in layouts] == [
        {"seats": 16, "wheelchair_spaces": 0, "stretchers": 0, "staff_seats": 0},
        {"seats": 12, "wheelchair_spaces": 1, "stretchers": 0, "staff_seats": 0},
        {"seats": 2, "wheelchair_spaces": 0, "stretchers": 1, "staff_seats": 0}]
    with pytest.raises(ValueError, match="expected e.g."):
        parse_layouts("sixteen seats")


def test_services_come_from_the_fleet_file(tmp_path):
    trips = write_trips_csv(tmp_path / "t.csv", trips=[("X1", "dialysis", (52.679, -0.739), CATMOSE, {})])
    with pytest.raises(InputFormatError, match="unknown service 'dialysis'"):
        load_problem(trips, write_fleet_json(tmp_path / "a.json"))
    loaded = load_problem(trips, write_fleet_json(tmp_path / "b.json", services=["dialysis"]))
    assert loaded.problem.services == ("dialysis",)


@pytest.mark.shared
def test_points_far_from_roads_are_errors_or_warnings_as_configured(rutland_pbf, tmp_path, files):
    north_sea = (53.5, 1.5)
    trips = write_trips_csv(tmp_path / "far.csv", trips=TRIPS + [("T9", "school", north_sea, CATMOSE, {})])
    provider = RoadNetworkProvider(rutland_pbf)
    with pytest.raises(InputFormatError) as caught:
        load_problem(trips, files[1], travel=provider)
    (problem,) = caught.value.problems
    assert (problem["row"], problem["trip_id"], problem["column"]) == (6, "T9", "pickup_latitude")
    assert "from the nearest road" in problem["message"]
    loaded = load_problem(trips, files[1], travel=provider, far_points="warn")
    assert len(loaded.warnings) == 1 and "T9" in loaded.warnings[0]
    assert loaded.snap_m[next(k for k, v in loaded.locations.items() if v == north_sea)] > 50_000


# -- exports --------------------------------------------------------------------------------------------
def _solved(files, travel=None):
    loaded = load_problem(*files, travel=travel)
    plan = solve(loaded.problem, SolveOptions(time_limit_s=2, workers=1))
    assert_feasible(loaded.problem, plan)
    return loaded, plan


def test_exports_read_back_with_the_same_content(files, tmp_path):
    loaded, plan = _solved(files)
    written = export_plan(plan, loaded.problem, loaded.locations, tmp_path / "out", trip_text=loaded.trip_text)
    stops_in_plan = [(f"{r.vehicle_type} {r.vehicle_number + 1}", k, s.kind, s.trip_id or "")
                     for r in plan.routes for k, s in enumerate(r.stops)]
    for source in (tmp_path / "out" / "stops.geojson", tmp_path / "out" / "plan.gpkg"):
        stops = geopandas.read_file(source, layer="stops") if source.suffix == ".gpkg" else geopandas.read_file(source)
        assert sorted(zip(stops["vehicle"], stops["stop_number"], stops["kind"], stops["trip_id"].fillna(""))) == \
            sorted(stops_in_plan)
        first = plan.routes[0].stops[1]
        row = stops[(stops["stop_number"] == 1) & (stops["vehicle"] == stops_in_plan[0][0])].iloc[0]
        # GDAL may read "08:25:09" back as a time of day; either way it is the same clock time
        assert (row["trip_id"], str(row["service_start"])) == (first.trip_id, format_clock(first.service_start_s))
        assert row.geometry.y == pytest.approx(loaded.locations[first.location][0])
    routes = geopandas.read_file(tmp_path / "out" / "plan.gpkg", layer="routes")
    assert len(routes) == len(plan.routes)
    assert sorted(routes["cost"]) == pytest.approx(sorted(round(r.cost, 2) for r in plan.routes))
    assert routes.crs.to_epsg() == 4326
    schedules = written["schedules"]
    assert len(schedules) == len(plan.routes)
    rows = list(csv.DictReader(schedules[0].open()))
    assert rows[0]["kind"] == "start" and rows[-1]["kind"] == "end"
    sheet = written["run_sheets"][1].read_text()
    passengers = {loaded.trip_text[t]["passenger"] for t in plan.routes[0].trip_ids}
    assert all(p in sheet for p in passengers) and "Run sheet" in sheet
    page = written["map"][0].read_text()
    assert "L.map(" in page and "OpenStreetMap" in page and "cdn" not in page.lower()  # Leaflet inlined


@pytest.mark.shared
def test_routes_follow_the_roads_with_a_road_network(files, rutland_pbf, tmp_path):
    provider = RoadNetworkProvider(rutland_pbf)
    loaded, plan = _solved(files, travel=provider)
    layers = plan_layers(plan, loaded.problem, loaded.locations, network=provider.network)
    straight = plan_layers(plan, loaded.problem, loaded.locations)
    for on_roads, direct, route in zip(layers["routes"].geometry, straight["routes"].geometry, plan.routes):
        assert len(on_roads.coords) > len(route.stops)  # bends in the road, not stop to stop
        assert on_roads.length >= direct.length * 0.999
        km_drawn = geopandas.GeoSeries([on_roads], crs=4326).to_crs(27700).length.iloc[0] / 1000
        assert km_drawn == pytest.approx(route.km, rel=0.15)  # the drawn line is the road distance charged


def test_contracted_trips_are_drawn_with_their_reason(tmp_path):
    trips = write_trips_csv(tmp_path / "t.csv", trips=[TRIPS[0]])
    fleet = write_fleet_json(tmp_path / "f.json", vehicle_types=[])
    loaded = load_problem(trips, fleet)
    plan = solve(loaded.problem, SolveOptions(time_limit_s=1, workers=1))
    assert_feasible(loaded.problem, plan)
    layers = plan_layers(plan, loaded.problem, loaded.locations)
    (row,) = layers["contracted"].to_dict("records")
    assert row["trip_id"] == "T1" and row["tariff"] == "taxi" and row["reason"]


def test_a_councils_own_fleet_column_is_a_warning_not_an_error(tmp_path, files):
    fleet = tmp_path / "fleet.csv"
    lines = files[1].read_text().splitlines()
    fleet.write_text(lines[0] + ",fleet_number\n" + lines[1] + ",MB-07\n")
    loaded = load_problem(files[0], fleet)
    assert loaded.warnings == ["fleet.csv: column 'fleet_number' is not used"]
