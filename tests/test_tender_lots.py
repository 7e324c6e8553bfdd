"""Tender lots: a plan's vehicle days partitioned into the lots asked for, each priced as the sum of
its vehicles' operator prices to the penny, and the tender pack safe to open and print."""
from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest
from dataclasses import replace

from optimiser import InputFormatError, LotOptions, ProblemError, make_lots
from optimiser.analysis.tender_lots import lot_options_from_fields
from optimiser.domain.documents import problem_from_dict
from optimiser.domain.operator_costs import OperatorCostModel, vehicle_days
from optimiser.domain.plan import RouteOrder, build_plan
from tests.conftest import ROOT, assert_feasible

#: Two areas 13 km apart, each with four homes, a school, and a day centre between them.
WEST, EAST = -0.80, -0.61


def day_document(school_trip: str = "w-s0-am") -> dict:
    locations = {"depot": [52.66, -0.705], "centre": [52.66, -0.705]}
    trips = []
    for area, lon in (("w", WEST), ("e", EAST)):
        locations[f"{area}-school"] = [52.66, lon]
        for h in range(3):
            locations[f"{area}-home{h}"] = [52.67 + 0.004 * h, lon + 0.01 * (h + 1)]
        trips += [
            {"id": school_trip if area == "w" else f"{area}-s0-am", "service": "school", "pickup": f"{area}-home0",
             "dropoff": f"{area}-school", "earliest_arrival": "08:30", "latest_arrival": "08:50"},
            {"id": f"{area}-s0-pm", "service": "school", "pickup": f"{area}-school", "dropoff": f"{area}-home0",
             "earliest_pickup": "15:15", "latest_pickup": "15:30"},
            {"id": f"{area}-s1-am", "service": "sen", "pickup": f"{area}-home1", "dropoff": f"{area}-school",
             "earliest_arrival": "08:30", "latest_arrival": "08:50", "wheelchair_spaces": 1},
            # back from the day centre after the school peak: the vehicle that brings it works a split shift
            {"id": f"{area}-c1-pm", "service": "social_care", "pickup": "centre", "dropoff": f"{area}-home1",
             "earliest_pickup": "17:40", "latest_pickup": "17:50"},
            {"id": f"{area}-c2-out", "service": "social_care", "pickup": f"{area}-home2", "dropoff": "centre",
             "earliest_arrival": "10:00", "latest_arrival": "10:30", "needs_assistant": True},
            {"id": f"{area}-c2-back", "service": "social_care", "pickup": "centre", "dropoff": f"{area}-home2",
             "earliest_pickup": "12:00", "latest_pickup": "12:30", "needs_assistant": True},
        ]
    return {"name": "two areas", "locations": locations, "trips": trips, "vehicle_types": [
        {"name": "minibus", "count": 4, "depot": "depot", "shift_start": "07:00", "shift_end": "18:30",
         "duties": ["07:00-11:00", "14:00-18:30"],
         "layouts": [{"name": "12 seats + 1 wheelchair", "seats": 12, "wheelchair_spaces": 1}]},
        {"name": "minibus with assistant", "count": 2, "depot": "depot", "shift_start": "07:00", "shift_end": "18:30",
         "passenger_assistant": True, "layouts": [{"name": "16 seats", "seats": 16}]}]}


def planned_day(school_trip: str = "w-s0-am"):
    """The day and a plan of it made by hand: per area a minibus on the school runs only, one on
    a school run and a late day-centre run (a split shift), one with an assistant all day."""
    problem = problem_from_dict(day_document(school_trip))
    types = {vt.name: vt for vt in problem.vehicle_types}
    trip = {t.id: t for t in problem.trips}

    def order(type_name, number, duty, *trip_ids):
        vt = types[type_name]
        events = tuple(e for t in trip_ids for e in (("pickup", trip[t]), ("dropoff", trip[t])))
        return RouteOrder(vt, number, vt.layouts[0], events, duty)

    orders = []
    for k, area in enumerate(("w", "e")):
        first = school_trip if area == "w" else f"{area}-s0-am"
        orders += [order("minibus", 2 * k, 0, first), order("minibus", 2 * k, 1, f"{area}-s0-pm"),
                   order("minibus", 2 * k + 1, 0, f"{area}-s1-am"), order("minibus", 2 * k + 1, 1, f"{area}-c1-pm"),
                   order("minibus with assistant", k, 0, f"{area}-c2-out", f"{area}-c2-back")]
    plan = build_plan(problem, orders, [], [])
    assert_feasible(problem, plan)
    return problem, plan


@pytest.fixture(scope="module")
def day():
    return planned_day()


def duties_of(lots):
    return [(r.vehicle_type, r.vehicle_number, r.duty) for lot in lots.lots for r in lot.routes]


@pytest.mark.parametrize("options", [
    LotOptions(lots=1), LotOptions(lots=2), LotOptions(lots=4), LotOptions(lots=6), LotOptions(lot_size=4),
    LotOptions(lots=3, group_by=("time_band",)), LotOptions(lots=5, group_by=("vehicle_type", "area")),
    LotOptions(lots=4, group_by=("time_band", "vehicle_type", "area")),
])
def test_lots_partition_the_vehicle_days_exactly_into_the_lots_asked_for(day, options):
    problem, plan = day
    lots = make_lots(problem, plan, options)
    # every route in exactly one lot, and all of one vehicle's duties in the same lot
    assert sorted(duties_of(lots)) == sorted((r.vehicle_type, r.vehicle_number, r.duty) for r in plan.routes)
    lot_of_vehicle = {}
    for lot in lots.lots:
        for r in lot.routes:
            assert lot_of_vehicle.setdefault((r.vehicle_type, r.vehicle_number), lot.number) == lot.number
    if options.lots is not None:
        assert len(lots.lots) == options.lots
    else:
        assert max(lot.vehicles for lot in lots.lots) <= options.lot_size
        assert len(lots.lots) == 2  # 6 vehicles, at most 4 a lot
    # lots of one group differ by at most one vehicle
    by_group = {}
    for lot in lots.lots:
        by_group.setdefault(tuple(sorted(lot.group.items())), []).append(lot.vehicles)
    assert all(max(sizes) - min(sizes) <= 1 for sizes in by_group.values())


def test_an_area_split_keeps_each_areas_vehicles_together(day):
    problem, plan = day
    lots = make_lots(problem, plan, LotOptions(lots=2))
    areas = [{s.location.split("-")[0] for r in lot.routes for s in r.stops if s.kind == "pickup"} - {"centre"}
             for lot in lots.lots]
    assert sorted(map(sorted, areas)) == [["e"], ["w"]]


def test_time_bands_and_vehicle_types_keep_lots_apart(day):
    problem, plan = day
    lots = make_lots(problem, plan, LotOptions(lots=3, group_by=("time_band",)))
    bands = {lot.group["time_band"]: sorted(v.name for v in lot.vehicle_days) for lot in lots.lots}
    assert bands == {"school-peak": ["minibus 1", "minibus 3"], "split-shift": ["minibus 2", "minibus 4"],
                     "all-day": ["minibus with assistant 1", "minibus with assistant 2"]}
    by_type = make_lots(problem, plan, LotOptions(lots=2, group_by=("vehicle_type",)))
    assert [lot.group["vehicle_type"] for lot in by_type.lots] == ["minibus", "minibus with assistant"]
    assert [(lot.drivers, lot.assistants) for lot in by_type.lots] == [(4, 0), (2, 2)]


def test_a_lots_price_is_its_vehicle_days_prices_to_the_penny(day):
    problem, plan = day
    model = OperatorCostModel(driver_per_hour=16.25, assistant_per_hour=13.10, minimum_paid_hours=2.5,
                              overhead_share=0.12, margin_share=0.085)
    lots = make_lots(problem, plan, LotOptions(lots=2, cost_model=model, school_days=190, other_days=60))
    types = {vt.name: vt for vt in problem.vehicle_types}
    days = vehicle_days(plan.routes)
    total = 0.0
    for lot in lots.lots:
        vehicles = {(r.vehicle_type, r.vehicle_number) for r in lot.routes}
        pennies = [round(model.price_vehicle_day(days[v], types[v[0]]).total, 2) for v in vehicles]
        assert lot.price_a_day == round(sum(pennies), 2)
        assert round(100 * lot.price_a_day) == sum(round(100 * p) for p in pennies)
        # out of term only the day-centre duties run: the school-only minibus costs nothing then
        other = [round(model.price_vehicle_day([r for r in days[v] if any(
            s.service == "social_care" for s in r.stops)], types[v[0]]).total, 2) for v in vehicles]
        assert lot.price_other_day == round(sum(other), 2)
        assert lot.price_a_year == round(190 * lot.price_a_day + 60 * lot.price_other_day, 2)
        assert lot.paid_hours == pytest.approx(sum(model.price_vehicle_day(days[v], types[v[0]]).paid_hours
                                                   for v in vehicles))
        total += lot.price_a_day
    assert lots.price_a_day == round(total, 2)
    school_only = next(v for lot in lots.lots for v in lot.vehicle_days if v.time_band == "school-peak")
    assert school_only.price_other_day == 0.0 and school_only.price_a_day > 0


@pytest.mark.parametrize("fields, field", [
    ({}, "lots"), ({"lots": 2, "lot_size": 3}, "lots"), ({"lots": 0}, "lots"), ({"lot_size": -1}, "lot_size"),
    ({"lots": 2.5}, "lots"), ({"lots": 2, "group_by": ["area", "colour"]}, "group_by"),
    ({"lots": 2, "school_days": 400}, "school_days"), ({"lots": 2, "school_days": 300, "other_days": 100}, "other_days"),
])
def test_bad_options_are_refused_naming_the_field(fields, field):
    with pytest.raises(ProblemError) as caught:
        LotOptions(**{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})
    assert caught.value.where == f"lot_options.{field}"


def test_lots_the_plan_cannot_make_are_refused_naming_the_field(day):
    problem, plan = day
    with pytest.raises(ProblemError, match="7 lots asked for, but the plan has 6 vehicles") as caught:
        make_lots(problem, plan, LotOptions(lots=7))
    assert caught.value.where == "lot_options.lots"
    with pytest.raises(ProblemError, match="the plan.s 3 groups by time band × vehicle type; ask for at least 3") as caught:
        make_lots(problem, plan, LotOptions(lots=2, group_by=("time_band", "vehicle_type")))
    assert caught.value.where == "lot_options.lots"
    with pytest.raises(ProblemError) as caught:
        lot_options_from_fields({"lots": 2, "margin_share": -0.1})
    assert caught.value.where == "cost_model.margin_share"


def test_a_lot_sheet_shows_a_hostile_trip_id_as_text_and_the_csv_as_text(tmp_path):
    from geodata.tender import write_tender_pack

    hostile = '<script>alert("lot")</script>'
    problem, plan = planned_day(school_trip=hostile)
    lots = make_lots(problem, plan, LotOptions(lots=2))
    locations = {k: tuple(v) for k, v in day_document()["locations"].items()}
    write_tender_pack(lots, plan, problem, tmp_path, locations=locations)
    sheet = next(p for p in sorted(tmp_path.glob("lot-*.html"))
                 if "alert" in p.read_text())
    text = sheet.read_text()
    assert "<script>" not in text and "&lt;script&gt;alert(&#34;lot&#34;)&lt;/script&gt;" in text
    assert "<script>alert" not in (tmp_path / "lots-map.html").read_text()
    formula = '=HYPERLINK("http://x")'
    problem, plan = planned_day(school_trip=formula)
    write_tender_pack(make_lots(problem, plan, LotOptions(lots=2)), plan, problem, tmp_path / "f")
    rows = [row for p in (tmp_path / "f").glob("lot-*-schedule.csv") for row in csv.DictReader(p.open())]
    assert [row["trip_id"] for row in rows if "HYPERLINK" in row["trip_id"]] == ["'" + formula] * 2


def test_the_tender_pack_lists_every_stop_once_and_the_routes_with_their_lot(day, tmp_path):
    import geopandas

    from geodata.tender import write_tender_pack

    problem, plan = day
    lots = make_lots(problem, plan, LotOptions(lots=3))
    locations = {k: tuple(v) for k, v in day_document()["locations"].items()}
    written = {p.name for p in write_tender_pack(lots, plan, problem, tmp_path, locations=locations)}
    assert {"index.html", "lots.json", "lots.csv", "lots.md", "lots.gpkg", "lots-map.html", "lot-01.html",
            "lot-03-schedule.csv"} <= written
    rows = [row for p in sorted(tmp_path.glob("lot-*-schedule.csv")) for row in csv.DictReader(p.open())]
    assert sorted(r["trip_id"] for r in rows if r["kind"] == "pickup") == sorted(t.id for t in problem.trips)
    assert len(rows) == sum(len(r.stops) for r in plan.routes)
    routes = geopandas.read_file(tmp_path / "lots.gpkg", layer="routes")
    assert sorted(routes["lot"]) == sorted(lots.lot_of(r.vehicle_type, r.vehicle_number).number for r in plan.routes)
    saved = json.loads((tmp_path / "lots.json").read_text())
    assert [lot["price_a_day"] for lot in saved["lots"]] == [lot.price_a_day for lot in lots.lots]
    assert saved["overall"]["vehicles"] == plan.vehicles_used


# ------------------------------------------------------------------------------ the command line
def itu(*args):
    return subprocess.run([sys.executable, "-m", "service.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


def test_itu_contracts_lots_writes_the_pack_from_a_plan_json(day, tmp_path):
    problem, plan = day
    (tmp_path / "day.json").write_text(json.dumps(day_document()))
    (tmp_path / "plan.json").write_text(json.dumps(plan.to_dict()))
    proc = itu("contracts", "lots", str(tmp_path / "plan.json"), "--trips", str(tmp_path / "day.json"),
               "--lot-size", "2", "--by", "time_band,area", "--margin-share", "0.2", "--out", str(tmp_path / "pack"),
               "--json")
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    assert printed == json.loads((tmp_path / "pack" / "lots.json").read_text())
    expected = make_lots(problem, plan, LotOptions(lot_size=2, group_by=("time_band", "area"),
                                                   cost_model=OperatorCostModel(margin_share=0.2)))
    assert printed["overall"]["price_a_day"] == expected.price_a_day
    assert len(printed["lots"]) == 3
    bad = itu("contracts", "lots", str(tmp_path / "plan.json"), "--trips", str(tmp_path / "day.json"), "--lots", "2",
              "--by", "area,colour")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "lot_options.group_by: unknown key 'colour'" in bad.stderr


def test_a_plan_that_does_not_fit_the_trips_is_refused_naming_the_file(day):
    from optimiser.analysis.tender_lots import plan_to_put_in_lots

    problem, plan = day
    document = plan.to_dict()
    document["routes"][0]["stops"][1]["trip_id"] = "nobody"
    with pytest.raises(InputFormatError) as caught:
        plan_to_put_in_lots(document, problem, where="plan.json")
    assert caught.value.where.startswith("plan.json") and "nobody" in caught.value.message
    # a plan of another fleet: more vehicles than this one has
    document = plan.to_dict()
    document["routes"][0]["vehicle_number"] = 9
    with pytest.raises(InputFormatError, match="minibus #9 does not exist") as caught:
        plan_to_put_in_lots(document, problem, where="plan.json")
    assert caught.value.where == "plan.json"


# ------------------------------------------------------------------------------ the API job
def rutland_plan_by_hand():
    """The bundled example's day and a plan made in milliseconds, not searched: each vehicle
    carries on each duty the first trip it can on its own; the other trips are listed unserved."""
    from geodata.files import load_day
    from optimiser.domain.plan import UnservedTrip, time_route

    day = load_day(ROOT / "examples" / "rutland" / "trips.csv", ROOT / "examples" / "rutland" / "fleet.json")
    problem, orders, used = day.problem, [], set()
    for vt in problem.vehicle_types:
        for number in range(vt.count):
            for duty in range(len(vt.duty_windows)):
                for trip in problem.trips:
                    if trip.id in used or not problem.can_carry(vt, trip):
                        continue
                    layout = next(lay for lay in vt.layouts if lay.fits(trip))
                    order = RouteOrder(vt, number, layout, (("pickup", trip), ("dropoff", trip)), duty)
                    try:
                        time_route(problem, order)
                    except ProblemError:
                        continue
                    orders.append(order)
                    used.add(trip.id)
                    break
    unserved = [UnservedTrip(t.id, t.service, "left out of this test's plan") for t in problem.trips
                if t.id not in used]
    plan = build_plan(problem, orders, [], unserved)
    assert_feasible(problem, plan)
    return day, plan


@pytest.fixture
def service(dev_service):
    return dev_service


def stored_solve_job(app, client, plan):
    """The example's trip set and fleet uploaded, and a succeeded solve job holding ``plan``."""
    from service.store import DEVELOPMENT_OWNER, Job, JobResult, new_id, utcnow
    from tests.test_service_api import FLEET, TRIPS, upload

    trip_set = upload(client, "/v1/trip-sets", TRIPS, "rutland.csv", {}).get_json()["id"]
    fleet = upload(client, "/v1/fleets", FLEET, "fleet.json", {}).get_json()["id"]
    job_id = new_id("job")
    with app.extensions["itu.store"].session() as s, s.begin():
        s.add(Job(id=job_id, owner=DEVELOPMENT_OWNER, kind="solve", trip_set_id=trip_set, fleet_id=fleet, options={},
                  state="succeeded", attempts=1, progress={}, created_at=utcnow(), finished_at=utcnow()))
        s.flush()
        s.add(JobResult(job_id=job_id, name="plan.json", media_type="application/json",
                        content=json.dumps(plan.to_dict()).encode()))
    return trip_set, fleet, job_id


def test_a_lots_job_makes_the_pack_the_command_line_makes_from_a_stored_plan(service):
    from tests.test_contracts import run_claimed

    app, url = service
    client = app.test_client()
    day, plan = rutland_plan_by_hand()
    trip_set, fleet, plan_job = stored_solve_job(app, client, plan)

    def submit(**body):
        return client.post("/v1/lots-jobs", data=json.dumps({"trip_set_id": trip_set, "fleet_id": fleet, **body}),
                           content_type="application/json")

    assert submit(lots=2).get_json()["where"] == "body.plan_job_id"
    refused = submit(plan_job_id=plan_job, lots=2, group_by=["area", "colour"])
    assert refused.status_code == 422 and refused.get_json()["where"] == "body.group_by"
    assert submit(plan_job_id=plan_job, lot_size=0).get_json()["where"] == "body.lot_size"
    assert submit(plan_job_id=plan_job, lots=2, margin_share=-1).get_json()["where"] == "body.margin_share"
    assert submit(plan_job_id="job_nobody", lots=2).status_code == 404
    response = submit(plan_job_id=plan_job, lots=3, group_by=["time_band", "area"], overhead_share=0.2)
    assert response.status_code == 202, response.get_json()
    job = response.get_json()
    assert job["kind"] == "lots"
    assert run_claimed(app, url, job["id"]) == "succeeded"
    done = client.get(job["url"]).get_json()
    assert {"index.html", "lots.json", "lots.csv", "lot-01.html", "lot-03-schedule.csv", "lots.gpkg",
            "lots-map.html"} <= set(done["results"])
    saved = client.get(done["results"]["lots.json"]).get_json()
    problem = replace(day.problem, name=plan.problem_name)
    expected = make_lots(problem, plan, LotOptions(lots=3, group_by=("time_band", "area"),
                                                   cost_model=OperatorCostModel(overhead_share=0.2)))
    assert saved["overall"] == expected.to_dict()["overall"]
    assert done["summary"]["price_a_day"] == expected.price_a_day
    assert client.get("/v1/jobs?kind=lots").get_json()["total"] == 1


# ------------------------------------------------------------------------------ the planner's page
@pytest.mark.slow
def test_make_tender_lots_of_the_plan_shown_on_the_planners_page(served, browser):
    """The page's lots section: before a plan is shown it says to plan first; after planning the
    example it makes the lots asked for, lists each with its price and shows the pack."""
    from tests.test_service_web import start_run

    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(served + "/")
    page.click("#lots-run")
    assert "Plan the day" in page.inner_text("#lots-error")
    start_run(page, served, "#plan-day")
    page.fill("#lots-count", "2")
    page.uncheck("#lots-by-time-band")  # a quick plan's vehicles may fall in three time bands
    page.click("#lots-run")
    page.wait_for_function("""() => !document.getElementById("lots-results").hidden
                              || document.getElementById("lots-error").textContent""", timeout=300_000)
    assert not page.inner_text("#lots-error")
    rows = page.locator("#lots-table tbody tr")
    assert rows.count() == 2
    assert all(rows.nth(k).locator("td").nth(7).inner_text().startswith("£") for k in range(2))
    assert "2 lots" in page.inner_text("#lots-headline")
    page.frame_locator("#lots-index").locator("h1").first.wait_for(timeout=30_000)
    downloads = page.inner_text("#lots-downloads")
    assert "lot-01.html" in downloads and "lot-02-schedule.csv" in downloads
    assert not page.inner_text("#lots-error")
    assert not errors


@pytest.mark.parametrize("rate", ["driver_per_hour", "overhead_share"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_lot_options_refuse_a_rate_that_is_not_a_number(rate, value):
    """NaN and Infinity passed the cost model's "not negative" test and priced every lot at them."""
    with pytest.raises(ProblemError) as refused:
        lot_options_from_fields({"lots": 2, rate: value})
    assert refused.value.where == f"cost_model.{rate}"


def test_a_lots_job_asking_for_more_lots_than_vehicles_fails_naming_the_body_field(service):
    """Found only once the plan is read: the job fails naming body.lots, not the library's name."""
    from tests.test_contracts import run_claimed

    app, url = service
    client = app.test_client()
    _, plan = rutland_plan_by_hand()
    trip_set, fleet, plan_job = stored_solve_job(app, client, plan)
    job = client.post("/v1/lots-jobs", content_type="application/json", data=json.dumps(
        {"trip_set_id": trip_set, "fleet_id": fleet, "plan_job_id": plan_job, "lots": 1000})).get_json()
    assert run_claimed(app, url, job["id"]) == "failed"
    error = client.get(job["url"]).get_json()["error"]
    assert error["where"] == "body.lots" and "1000 lots" in error["message"]
