"""Re-planning a stored plan over HTTP (POST /v1/plans/{id}/changes), on SQLite and PostgreSQL:
a job like the others whose results are the new checked plan and the calls to make; bad changes
are a 422 naming the field, or a failed job naming the change; the published plan is never
altered, and another key's plan is not found. Jobs are run as a worker runs them (``run_job``)."""
from __future__ import annotations

import csv
import io
import json

import pytest

from geodata.readers import load_problem
from optimiser import check_plan
from optimiser.analysis.replan import plan_from_document
from service.jobs import run_job
from service.store import Job
from tests.conftest import ROOT
from tests.test_service_api import FLEET, TRIPS, inputs, make_app, submit

EXAMPLE = ROOT / "examples" / "rutland"
CHANGES = json.loads((EXAMPLE / "changes.json").read_text())


@pytest.fixture
def app(database_url):
    from service import stop_app

    app = make_app(database_url)
    yield app
    stop_app(app)


@pytest.fixture
def keys(app):
    store = app.extensions["itu.store"]
    return {name: {"Authorization": f"Bearer {store.create_key(name)[1]}"} for name in ("county", "nhs")}


def run(app, database_url, job: dict, headers: dict) -> dict:
    """The job run to its end as a worker runs it, then as its owner reads it."""
    with app.extensions["itu.store"].session() as s, s.begin():  # claimed, as a job runner claims it
        s.get(Job, job["id"]).dispatched_by = "this test"
    run_job(job["id"], database_url, dict(app.config))
    return app.test_client().get(job["url"], headers=headers).get_json()


def published(app, database_url, headers) -> dict:
    """A solve job of the Rutland example, run: the stored plan to re-plan."""
    client = app.test_client()
    trip_set, fleet = inputs(client, headers)
    job = submit(client, headers, {"trip_set_id": trip_set, "fleet_id": fleet, "time_limit_s": 2}).get_json()
    done = run(app, database_url, job, headers)
    assert done["state"] == "succeeded", done["error"]
    return done


def replan_request(client, plan_id: str, body, headers):
    return client.post(f"/v1/plans/{plan_id}/changes", data=body if isinstance(body, str) else json.dumps(body),
                       headers={**headers, "Content-Type": "application/json"})


def example_day(tmp_path, added_rows=()):
    """The example day as the service builds it (the trip file with any added rows), for the checker."""
    trips = tmp_path / "trips.csv"
    with trips.open("w", newline="") as f:
        f.write(TRIPS.decode())
        writer = csv.DictWriter(f, TRIPS.decode().splitlines()[0].split(","), restval="")
        writer.writerows(added_rows)
    (tmp_path / "fleet.json").write_bytes(FLEET)
    return load_problem(trips, tmp_path / "fleet.json", far_points="warn").problem


def test_a_stored_plan_is_re_planned_with_the_calls_and_the_published_plan_kept(app, keys, database_url, tmp_path):
    client, county = app.test_client(), keys["county"]
    plan_job = published(app, database_url, county)
    plan_file = client.get(plan_job["results"]["plan.json"], headers=county).data
    # the example's changes against this plan, less the vehicle off the road: whether minibus 1
    # carries someone across 07:15 depends on the published plan
    body = {**CHANGES, "changes": [c for c in CHANGES["changes"] if c["kind"] != "vehicle_off"],
            "prices": {"moved_vehicle": 25, "tolerance_minutes": 15}}
    response = replan_request(client, plan_job["id"], body, county)
    assert response.status_code == 202, response.get_json()
    job = response.get_json()
    assert (job["kind"], job["state"], job["trip_set_id"]) == ("replan", "queued", plan_job["trip_set_id"])
    assert job["options"]["plan_job_id"] == plan_job["id"] and response.headers["Location"] == job["url"]
    done = run(app, database_url, job, county)
    assert done["state"] == "succeeded", done["error"]
    assert {"plan.json", "map.html", "routes.csv", "replan.json", "calls.json", "calls.csv",
            "replan.md"} <= set(done["results"])
    summary = done["summary"]
    assert summary["published_cost"] == plan_job["summary"]["cost"] and summary["plan_job_id"] == plan_job["id"]
    # the new plan passes the checker on the day after the changes
    added = [c["trip"] for c in body["changes"] if c["kind"] == "add"]
    day = example_day(tmp_path, added)
    cancelled = {c["trip_id"] for c in body["changes"] if c["kind"] == "cancel"}
    moved = next(c for c in body["changes"] if c["kind"] == "move_window")
    from dataclasses import replace

    from optimiser.domain.model import parse_clock

    trips = tuple(replace(t, earliest_pickup_s=parse_clock(moved["earliest_pickup"], where="t"),
                          latest_arrival_s=parse_clock(moved["latest_arrival"], where="t"))
                  if t.id == moved["trip_id"] else t for t in day.trips if t.id not in cancelled)
    day = replace(day, trips=trips)
    new_plan = client.get(done["results"]["plan.json"], headers=county).get_json()
    report = check_plan(day, plan_from_document(new_plan, day))
    assert report.feasible, report.violations
    assert new_plan["cost"]["total"] == pytest.approx(summary["cost"], abs=0.01)
    # the calls: JSON and CSV alike, each cancelled and added trip among them, with who it is
    calls = client.get(done["results"]["calls.json"], headers=county).get_json()
    assert len(calls) == summary["calls"]
    reasons = {c["trip_id"]: c["reason"] for c in calls}
    assert {t: reasons[t] for t in cancelled} == {t: "cancelled" for t in cancelled}
    assert all(reasons[row["id"]].startswith("added") for row in added)
    assert next(c for c in calls if c["trip_id"] == "school-0101-am")["passenger"] == "Pupil 0101"
    rows = list(csv.DictReader(io.StringIO(client.get(done["results"]["calls.csv"], headers=county).text)))
    assert [r["trip_id"] for r in rows] == [c["trip_id"] for c in calls]
    assert list(rows[0]) == ["trip_id", "passenger", "reason", "old_vehicle", "old_pickup", "new_vehicle",
                             "new_pickup"]
    replan = client.get(done["results"]["replan.json"], headers=county).get_json()
    assert replan["method"] == "repair" and replan["calls"] == calls
    # the published plan is untouched, and re-planning it again starts from it
    assert client.get(plan_job["results"]["plan.json"], headers=county).data == plan_file
    assert client.get(plan_job["url"], headers=county).get_json()["summary"] == plan_job["summary"]
    assert client.get("/v1/jobs?kind=replan", headers=county).get_json()["total"] == 1
    # another key: no such plan, and nothing of the re-plan to see
    nhs = keys["nhs"]
    refused = replan_request(client, plan_job["id"], body, nhs)
    assert refused.status_code == 404 and refused.get_json()["where"] == "path.plan_id"
    assert client.get(done["url"], headers=nhs).status_code == 404


def succeeded_without_running(app, client, headers) -> str:
    """A solve job marked succeeded: what the edge's checks read of a stored plan (they never open it)."""
    trip_set, fleet = inputs(client, headers)
    job = submit(client, headers, {"trip_set_id": trip_set, "fleet_id": fleet}).get_json()
    with app.extensions["itu.store"].session() as s, s.begin():
        s.get(Job, job["id"]).state = "succeeded"
    return job["id"]


@pytest.mark.parametrize("body, where", [
    ('{"changes": [', "body"),  # malformed JSON
    ([], "body"),
    ({"changes": [], "colour": "red"}, "body"),
    ({"now": "07:15"}, "body.changes"),
    ({"now": "quarter past seven", "changes": []}, "body.now"),
    ({"changes": [{"kind": "cancel", "trip_id": "a"}, {"kind": "delay"}]}, "body.changes[1].kind"),
    ({"changes": ["cancel"]}, "body.changes[0].kind"),
    ({"changes": [{"kind": "cancel"}]}, "body.changes[0].trip_id"),
    ({"changes": [{"kind": "cancel", "trip_id": 9}]}, "body.changes[0].trip_id"),
    ({"changes": [{"kind": "cancel", "trip": "a"}]}, "body.changes[0]"),
    ({"changes": [{"kind": "move_window", "trip_id": "a", "latest_arrival": "25:99"}]},
     "body.changes[0].latest_arrival"),
    ({"changes": [{"kind": "vehicle_off", "vehicle_type": "minibus", "vehicle_number": "1"}]},
     "body.changes[0].vehicle_number"),
    ({"changes": [{"kind": "vehicle_off", "vehicle_type": "minibus", "vehicle_number": 1, "from": "7.30"}]},
     "body.changes[0].from"),
    ({"changes": [{"kind": "add", "trip": {"service": "school"}}]}, "body.changes[0].trip.id"),
    ({"changes": [{"kind": "add", "trip": {"id": "n", "seats": [1]}}]}, "body.changes[0].trip.seats"),
    ({"changes": [], "prices": {"moved_vehicle": -5}}, "body.prices.moved_vehicle"),
    ({"changes": [], "prices": {"per_km": 1}}, "body.prices"),
    ({"changes": [], "resolve": "yes"}, "body.resolve"),
    ({"changes": [], "time_limit_s": 0}, "body.time_limit_s"),
], ids=["malformed-json", "not-an-object", "unknown-field", "no-changes", "bad-now", "unknown-kind", "not-a-change",
        "no-trip-id", "trip-id-a-number", "unknown-change-field", "bad-window", "vehicle-number-text", "bad-from",
        "added-trip-without-id", "added-cell-a-list", "negative-price", "unknown-price", "resolve-not-a-flag",
        "no-seconds"])
def test_a_malformed_re_plan_is_a_422_naming_the_field(app, keys, body, where):
    client = app.test_client()
    plan_id = succeeded_without_running(app, client, keys["county"])
    response = replan_request(client, plan_id, body, keys["county"])
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["where"] == where and response.get_json()["message"]
    assert client.get("/v1/jobs?kind=replan", headers=keys["county"]).get_json()["total"] == 0


def test_only_a_finished_plan_of_ones_own_can_be_re_planned(app, keys):
    client, county = app.test_client(), keys["county"]
    trip_set, fleet = inputs(client, county)
    queued = submit(client, county, {"trip_set_id": trip_set, "fleet_id": fleet}).get_json()
    body = {"changes": []}
    not_yet = replan_request(client, queued["id"], body, county)
    assert not_yet.status_code == 409 and not_yet.get_json()["where"] == "path.plan_id"
    comparison = submit(client, county, {"trip_set_id": trip_set, "fleet_id": fleet}, kind="comparison-jobs")
    not_a_plan = replan_request(client, comparison.get_json()["id"], body, county)
    assert not_a_plan.status_code == 404 and "comparison" in not_a_plan.get_json()["message"]
    assert replan_request(client, "job_nothing", body, county).status_code == 404
    assert replan_request(client, queued["id"], body, keys["nhs"]).status_code == 404


def test_changes_that_do_not_fit_the_day_fail_the_job_naming_the_change(app, keys, database_url):
    """Whether a change fits the day (a known trip and vehicle, not in the past, no passenger left
    on board) is found on the day, by the job: it fails naming the change, and the published plan
    is what it was."""
    client, county = app.test_client(), keys["county"]
    plan_job = published(app, database_url, county)
    plan_file = client.get(plan_job["results"]["plan.json"], headers=county).data
    plan = json.loads(plan_file)
    # a passenger on board across a time: picked up before it, set down after it
    on_board = next((route, pickup, dropoff) for route in plan["routes"]
                    for pickup in route["stops"] if pickup["kind"] == "pickup"
                    for dropoff in route["stops"]
                    if dropoff["kind"] == "dropoff" and dropoff["trip_id"] == pickup["trip_id"]
                    and dropoff["service_start_s"] - pickup["service_start_s"] >= 180)
    route, pickup, dropoff = on_board
    between = (pickup["service_start_s"] + dropoff["service_start_s"]) / 2
    now = f"{int(between // 3600):02d}:{int(between % 3600 // 60):02d}"
    cases = [
        ({"now": "07:00", "changes": [{"kind": "cancel", "trip_id": "sen-0001-am"},
                                      {"kind": "cancel", "trip_id": "nobody"}]}, "body.changes[1].trip_id"),
        ({"now": "07:00", "changes": [{"kind": "vehicle_off", "vehicle_type": "lorry", "vehicle_number": 0}]},
         "body.changes[0].vehicle_type"),
        ({"now": "07:00", "changes": [{"kind": "vehicle_off", "vehicle_type": "minibus", "vehicle_number": 99}]},
         "body.changes[0].vehicle_number"),
        ({"now": now, "changes": [{"kind": "cancel", "trip_id": pickup["trip_id"]}]}, "body.changes[0].trip_id"),
        ({"now": now, "changes": [{"kind": "vehicle_off", "vehicle_type": route["vehicle_type"],
                                   "vehicle_number": route["vehicle_number"], "from": now}]},
         "body.changes[0].from"),
        ({"now": "07:00", "changes": [{"kind": "add", "trip": {"id": "sen-0001-am"}}]}, "body.changes[0].trip.id"),
        ({"now": "07:00", "changes": [{"kind": "add", "trip": {"id": "x-1", "colour": "red"}}]},
         "body.changes[0].trip.colour"),
    ]
    for body, where in cases:
        response = replan_request(client, plan_job["id"], body, county)
        assert response.status_code == 202, response.get_json()
        done = run(app, database_url, response.get_json(), county)
        assert done["state"] == "failed", (where, done)
        assert done["error"]["code"] == "invalid_input" and done["error"]["where"] == where, done["error"]
        assert done["results"] == {}
    # the message says why: a passenger on board, a change in the past
    failed = client.get("/v1/jobs?kind=replan&state=failed&limit=200", headers=county).get_json()["items"]
    messages = {job["error"]["where"]: job["error"]["message"] for job in failed}
    assert "on board" in messages["body.changes[0].from"] and "in the past" in messages["body.changes[0].trip_id"]
    assert "'nobody'" in messages["body.changes[1].trip_id"]
    # an added trip the trip file cannot take: named by its change, not by a row of a file
    bad_row = {"id": "x-2", "service": "school", "pickup_latitude": "north"}
    done = run(app, database_url, replan_request(client, plan_job["id"], {
        "now": "07:00", "changes": [{"kind": "cancel", "trip_id": "sen-0001-am"},
                                    {"kind": "add", "trip": bad_row}]}, county).get_json(), county)
    assert done["state"] == "failed" and done["error"]["code"] == "invalid_input"
    assert {p.get("file") for p in done["error"]["problems"] if p.get("trip_id") == "x-2"} == {"body.changes[1].trip"}
    assert client.get(plan_job["results"]["plan.json"], headers=county).data == plan_file
    assert client.get(plan_job["url"], headers=county).get_json()["state"] == "succeeded"


def test_the_openapi_document_describes_the_re_plan(app):
    document = app.test_client().get("/v1/openapi.json").get_json()
    operation = document["paths"]["/v1/plans/{plan_id}/changes"]["post"]
    assert operation["responses"]["202"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Job"}
    schemas = document["components"]["schemas"]
    kinds = {schemas[ref["$ref"].rsplit("/", 1)[-1]]["properties"]["kind"]["enum"][0]
             for ref in schemas["Changes"]["properties"]["changes"]["items"]["oneOf"]}
    assert kinds == {"cancel", "add", "move_window", "vehicle_off"}
    assert "replan" in schemas["Job"]["properties"]["kind"]["enum"]


def test_a_re_plan_with_the_full_search_stops_when_cancelled(app, keys, database_url):
    """``resolve`` runs the full search for up to ``time_limit_s`` (an hour at most): it never
    looked at the job's cancel, so a cancelled re-plan searched on to its end. It now stops at the
    search's next check and keeps the best plan so far, as a solve job does."""
    import threading
    import time

    client, county = app.test_client(), keys["county"]
    plan_job = published(app, database_url, county)
    job = replan_request(client, plan_job["id"], {"now": "07:00", "resolve": True, "time_limit_s": 600,
                                                  "changes": [{"kind": "cancel", "trip_id": "sen-0001-am"}]},
                         county).get_json()
    worker = threading.Thread(target=run, args=(app, database_url, job, county), daemon=True)
    worker.start()
    while client.get(job["url"], headers=county).get_json()["progress"].get("phase") != "re-planning":
        assert worker.is_alive()
        time.sleep(0.2)
    assert client.post(job["cancel_url"], headers=county).status_code == 202
    worker.join(timeout=120)  # the search's next check is within a second; 600 s if it is never made
    done = client.get(job["url"], headers=county).get_json()
    assert done["state"] == "cancelled" and done["summary"]["stopped_early"], done["error"]
    assert {"plan.json", "calls.csv"} <= set(done["results"])
