"""The HTTP API over real databases (SQLite and PostgreSQL): uploads, validation at the edge,
errors as JSON, pagination, idempotent submission, access control and the OpenAPI contract.
The job runner is off here (jobs stay queued); test_service_jobs.py runs them on Dask."""
from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys

import pytest

from service import create_app, stop_app
from service.errors import ConfigurationError
from tests.conftest import ROOT

TRIPS = (ROOT / "examples" / "rutland" / "trips.csv").read_bytes()
FLEET = (ROOT / "examples" / "rutland" / "fleet.json").read_bytes()


def make_app(database_url, **config):
    return create_app({"DATABASE_URL": database_url, "RUNNER": False, "SEED_EXAMPLE": False, **config})


@pytest.fixture
def app(database_url):
    app = make_app(database_url)
    yield app
    stop_app(app)


@pytest.fixture
def keys(app):
    store = app.extensions["itu.store"]
    return {name: {"Authorization": f"Bearer {store.create_key(name)[1]}"} for name in ("county", "nhs")}


def upload(client, url, content, filename, headers, name=None):
    data = {"file": (io.BytesIO(content), filename)}
    if name:
        data["name"] = name
    return client.post(url, data=data, headers=headers, content_type="multipart/form-data")


def submit_on_the_example(client, path: str, **body):
    """POST ``body`` to a job route ``path`` with the bundled Rutland trip set and fleet uploaded."""
    trip_set = upload(client, "/v1/trip-sets", TRIPS, "rutland.csv", {}).get_json()["id"]
    fleet = upload(client, "/v1/fleets", FLEET, "fleet.json", {}).get_json()["id"]
    return client.post(path, data=json.dumps({"trip_set_id": trip_set, "fleet_id": fleet, **body}),
                       content_type="application/json")


def inputs(client, headers):
    trips = upload(client, "/v1/trip-sets", TRIPS, "rutland.csv", headers).get_json()
    fleet = upload(client, "/v1/fleets", FLEET, "fleet.json", headers).get_json()
    return trips["id"], fleet["id"]


def test_upload_trips_and_fleet_then_read_them_back(app, keys):
    client = app.test_client()
    response = upload(client, "/v1/trip-sets", TRIPS, "rutland.csv", keys["county"], name="Rutland day")
    assert response.status_code == 201
    body = response.get_json()
    assert (body["name"], body["format"], body["trip_count"]) == ("Rutland day", "csv", 200)
    assert body["services"] == ["nept", "school", "sen", "social_care"]
    assert response.headers["Location"] == body["url"]
    assert client.get(body["url"], headers=keys["county"]).get_json()["trip_count"] == 200
    raw = client.post("/v1/fleets?name=raw", data=FLEET, headers={**keys["county"], "Content-Type": "application/json"})
    assert raw.status_code == 201 and raw.get_json()["vehicle_types"] == 4


def test_bad_trip_file_lists_every_problem_and_stores_nothing(app, keys):
    client = app.test_client()
    lines = TRIPS.decode().splitlines()
    lines[2] = lines[2].replace(",15:25,", ",3.25pm,", 1)  # row 3: a time nobody can read
    lines[5] = lines[5].replace(",52.", ",lat", 1)
    response = upload(client, "/v1/trip-sets", "\n".join(lines).encode(), "day.csv", keys["county"])
    assert response.status_code == 422
    error = response.get_json()
    assert error["code"] == "invalid_input"
    rows = {(p["row"], p["column"]) for p in error["problems"]}
    assert rows == {(3, "earliest_pickup"), (6, "pickup_latitude")}
    assert all(p["file"] == "day.csv" for p in error["problems"])
    assert client.get("/v1/trip-sets", headers=keys["county"]).get_json()["total"] == 0


@pytest.mark.parametrize("kwargs, status, code", [
    (lambda: {"data": b"id,service\n", "content_type": "text/plain"}, 422, "invalid_input"),
    (lambda: {"data": b"", "content_type": "text/csv"}, 422, "invalid_input"),
    (lambda: {"data": {"other": (io.BytesIO(b"x"), "t.csv")}, "content_type": "multipart/form-data"}, 422,
     "invalid_input"),
    (lambda: {"data": {"file": (io.BytesIO(b"x"), "t.xlsx")}, "content_type": "multipart/form-data"}, 422,
     "invalid_input"),
    (lambda: {"data": b"\xff\xfe\x00garbage", "content_type": "application/geopackage+sqlite3"}, 422,
     "invalid_input"),
    (lambda: {"data": b'{"type": "FeatureCollection", "features": []}', "content_type": "application/geo+json"},
     422, "invalid_input"),
], ids=["wrong-type", "empty", "no-file-field", "xlsx", "not-a-geopackage", "no-features"])
def test_malformed_uploads_are_clear_json_errors(app, keys, kwargs, status, code):
    response = app.test_client().post("/v1/trip-sets", headers=keys["county"], **kwargs())
    assert response.status_code == status, response.get_json()
    assert response.get_json()["code"] == code and response.get_json()["message"]


def test_body_over_the_limit_is_413(database_url):
    app = make_app(database_url, MAX_CONTENT_LENGTH=1000)
    try:
        store = app.extensions["itu.store"]
        headers = {"Authorization": f"Bearer {store.create_key('k')[1]}", "Content-Type": "text/csv"}
        response = app.test_client().post("/v1/trip-sets", data=TRIPS, headers=headers)
        assert response.status_code == 413 and response.get_json()["code"] == "payload_too_large"
    finally:
        stop_app(app)


def test_unknown_routes_and_methods_answer_in_json(app, keys):
    client = app.test_client()
    assert client.get("/v1/nothing", headers=keys["county"]).get_json()["code"] == "not_found"
    response = client.delete("/v1/health")
    assert response.status_code == 405 and response.get_json()["code"] == "method_not_allowed"


def test_pagination(app, keys):
    client = app.test_client()
    for n in range(5):
        upload(client, "/v1/fleets", FLEET, f"fleet{n}.json", keys["county"])
    first = client.get("/v1/fleets?limit=2", headers=keys["county"]).get_json()
    assert (first["total"], len(first["items"]), first["offset"]) == (5, 2, 0)
    second = client.get(first["next"], headers=keys["county"]).get_json()
    third = client.get(second["next"], headers=keys["county"]).get_json()
    assert len(third["items"]) == 1 and third["next"] is None
    names = [f["name"] for page in (first, second, third) for f in page["items"]]
    assert sorted(names) == [f"fleet{n}" for n in range(5)]  # every one once
    bad = client.get("/v1/fleets?limit=0", headers=keys["county"])
    assert bad.status_code == 422 and bad.get_json()["where"] == "query.limit"


def submit(client, headers, body, key=None, kind="solve-jobs"):
    extra = {"Idempotency-Key": key} if key else {}
    return client.post(f"/v1/{kind}", data=json.dumps(body), headers={**headers, **extra,
                                                                       "Content-Type": "application/json"})


def test_submission_is_queued_with_a_job_url(app, keys):
    client = app.test_client()
    trip_set, fleet = inputs(client, keys["county"])
    response = submit(client, keys["county"], {"trip_set_id": trip_set, "fleet_id": fleet, "time_limit_s": 5})
    assert response.status_code == 202
    job = response.get_json()
    assert (job["state"], job["kind"], job["attempts"]) == ("queued", "solve", 0)
    assert response.headers["Location"] == job["url"]
    status = client.get(job["url"], headers=keys["county"]).get_json()
    assert status["progress"]["time_limit_s"] == 5
    not_ready = client.get(f"{job['url']}/results/plan.json", headers=keys["county"])
    assert not_ready.status_code == 409 and not_ready.get_json()["code"] == "not_ready"


def test_a_status_request_runs_its_statements_and_nothing_around_them(tmp_path):
    """The API's pool makes its connections in autocommit once: a status request is the key's
    lookup and the job's, with no isolation level set before them and reset after (on SQLite, a
    PRAGMA each way, which cost as much as the request's own statements)."""
    from sqlalchemy import event

    app = make_app(f"sqlite:///{tmp_path / 'statements.sqlite3'}")
    try:
        store = app.extensions["itu.store"]
        headers = {"Authorization": f"Bearer {store.create_key('county')[1]}"}
        client = app.test_client()
        trip_set, fleet = inputs(client, headers)
        job = submit(client, headers, {"trip_set_id": trip_set, "fleet_id": fleet}).get_json()
        statements: list[str] = []
        event.listen(store.requests, "checkout",
                     lambda dbapi, _record, _proxy: dbapi.set_trace_callback(statements.append))
        assert client.get(job["url"], headers=headers).status_code == 200
        assert [s.split()[0].upper() for s in statements] == ["SELECT", "SELECT"], statements
    finally:
        stop_app(app)


def test_the_hot_statements_on_the_drivers_connection_read_and_write_as_sqlalchemy(database_url):
    """A submission's insert and a status request's read run on the driver's own connection
    (``DriverStatement``): what they write reads back through the ORM as written, what they read is
    what SQLAlchemy reads, on both databases; a key used twice is still SQLAlchemy's IntegrityError
    (the submission's race for one Idempotency-Key relies on it)."""
    import datetime as dt

    from sqlalchemy import event, select
    from sqlalchemy.exc import IntegrityError

    from service.api import JOB_INSERT, OWNED
    from service.store import Job

    app = make_app(database_url)
    try:
        store = app.extensions["itu.store"]
        headers = {"Authorization": f"Bearer {store.create_key('county')[1]}"}
        trip_set, fleet = inputs(app.test_client(), headers)
        owner = store.owner_of_key(headers["Authorization"][7:])
        values = {
            "id": "job_driver", "owner": owner, "kind": "solve", "trip_set_id": trip_set, "fleet_id": fleet,
            "options": {"time_limit_s": 2.5, "label": "Oakham – “Rutland”", "nested": [1, {"a": None}]},
            "idempotency_key": "once", "state": "queued", "attempts": 0, "cancel_requested": True,
            "progress": {}, "error": None, "summary": None,
            "created_at": dt.datetime(2026, 12, 7, 8, 30, 0, 0),  # no microseconds: stored with them all the same
            "started_at": dt.datetime(2026, 12, 7, 8, 30, 1, 250), "finished_at": None, "dispatched_by": None,
            "heartbeat_at": None}
        through_sqlalchemy: list[str] = []  # a statement the driver refused is run again by SQLAlchemy
        event.listen(store.requests, "before_cursor_execute", lambda *a: through_sqlalchemy.append(a[2]))
        with store.requests.connect() as connection:
            JOB_INSERT.run(connection, values)
            read = OWNED[Job].first(connection, {"id": "job_driver"})
            assert OWNED[Job].first(connection, {"id": "job_none"}) is None
            assert through_sqlalchemy == []  # the driver took the values as they were given
            by_sqlalchemy = connection.execute(OWNED[Job].statement, {"id": "job_driver"}).one()
            assert tuple(read) == tuple(by_sqlalchemy)
            through_sqlalchemy.clear()
            with pytest.raises(IntegrityError):
                JOB_INSERT.run(connection, {**values, "id": "job_again"})  # the same owner and key
            assert through_sqlalchemy == []  # raised as SQLAlchemy raises it, not run a second time
        with store.session() as s, s.begin():
            s.add(Job(**{**values, "id": "job_orm", "idempotency_key": "orm"}))
        with store.session() as s:
            stored = s.get(Job, "job_driver")
            assert {name: getattr(stored, name) for name in values} == values
            assert s.get(Job, "job_again") is None
            # a JSON column's None is stored as the ORM stores it (JSON null, not SQL NULL)
            nulls = dict(s.execute(select(Job.id, Job.error.is_(None))).all())
            assert nulls["job_driver"] == nulls["job_orm"]
            # the pace count compares times as stored: one written here is later than a second before it
            later = s.query(Job).filter(Job.id == "job_driver", Job.created_at > dt.datetime(2026, 12, 7, 8, 29, 59))
            assert later.count() == 1
            assert later.filter(Job.created_at > dt.datetime(2026, 12, 7, 8, 30, 0)).count() == 0
    finally:
        stop_app(app)


def test_a_request_thread_keeps_its_connection_and_replaces_one_the_database_dropped(database_url):
    """Under gunicorn (``CONNECTION_PER_THREAD``) a request thread keeps one connection from request
    to request; when the database drops it (a restart, an idle timeout), that request is a 503 and
    the thread's next request works on a new one."""
    from sqlalchemy import event, text

    app = make_app(database_url, CONNECTION_PER_THREAD=True, DEV_MODE=True, BIND_HOST="127.0.0.1")
    try:
        store = app.extensions["itu.store"]
        checkouts, backends = [], []
        event.listen(store.requests, "checkout", lambda *_: checkouts.append(1))
        event.listen(store.requests, "connect", lambda dbapi, _record: backends.append(getattr(
            getattr(dbapi, "info", None), "backend_pid", None)))
        client = app.test_client()
        trip_set, fleet = inputs(client, {})
        job = submit(client, {}, {"trip_set_id": trip_set, "fleet_id": fleet}).get_json()
        for _ in range(5):
            assert client.get(job["url"]).status_code == 200
        assert len(checkouts) == 1
        if not database_url.startswith("postgresql"):
            return
        with store.engine.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backends[0]})
        dropped = client.get(job["url"])
        assert dropped.status_code == 503 and dropped.get_json()["where"] == "database"
        assert client.get(job["url"]).get_json()["state"] == "queued"
        assert len(checkouts) == 2 and len(backends) == 2 and backends[1] != backends[0]
    finally:
        stop_app(app)


@pytest.mark.parametrize("body, where", [
    ({"fleet_id": "x"}, "body.trip_set_id"),
    ({"trip_set_id": "x", "fleet_id": "y", "colour": "red"}, "body"),
    ({"trip_set_id": "x", "fleet_id": "y", "time_limit_s": "ten"}, "body.time_limit_s"),
    ({"trip_set_id": "x", "fleet_id": "y", "time_limit_s": 0}, "body.time_limit_s"),
    ({"trip_set_id": "x", "fleet_id": "y", "travel": "road"}, "body.travel"),  # no extract on this server
    ({"trip_set_id": "nope", "fleet_id": "y"}, "body.trip_set_id"),
])
def test_bad_job_requests_say_where(app, keys, body, where):
    response = submit(app.test_client(), keys["county"], body)
    assert response.status_code in (404, 422)
    assert response.get_json()["where"] == where


def test_inputs_that_do_not_fit_together_fail_the_job_with_the_problems(app, keys, database_url):
    """Submission checks only what is cheap; building the problem is the worker's, and what it
    finds is the job's error, listed as a 422 would list it."""
    from service.jobs import run_job

    client = app.test_client()
    trips = TRIPS.decode().replace(",nept,", ",dialysis,", 1).encode()
    trip_set = upload(client, "/v1/trip-sets", trips, "t.csv", keys["county"]).get_json()["id"]  # any label uploads
    fleet = upload(client, "/v1/fleets", FLEET, "f.json", keys["county"]).get_json()["id"]
    response = submit(client, keys["county"], {"trip_set_id": trip_set, "fleet_id": fleet})
    assert response.status_code == 202  # the request did not build the problem
    job = response.get_json()
    from service.store import Job

    with app.extensions["itu.store"].session() as s, s.begin():  # claimed, as a job runner claims it
        s.get(Job, job["id"]).dispatched_by = "this test"
    assert run_job(job["id"], database_url, dict(app.config)) == "failed"  # what a worker does with it
    failed = client.get(job["url"], headers=keys["county"]).get_json()
    assert failed["state"] == "failed" and failed["error"]["code"] == "invalid_input"
    (problem,) = failed["error"]["problems"]
    assert problem["column"] == "service" and "dialysis" in problem["message"] and problem["row"] >= 2
    assert "itu-job-" not in json.dumps(failed["error"])  # no path of the worker's


def test_job_urls_are_the_routes_own_under_a_mount_prefix(app, keys):
    """The job's URLs are put together without the URL map (they are on every status answer):
    they must be what the map builds, also for a service mounted below a path, and lead there."""
    from flask import url_for

    client = app.test_client()
    trip_set, fleet = inputs(client, keys["county"])
    mounted = "http://localhost/planning"
    response = client.post("/v1/solve-jobs", data=json.dumps({"trip_set_id": trip_set, "fleet_id": fleet}),
                           headers={**keys["county"], "Content-Type": "application/json"}, base_url=mounted)
    job = response.get_json()
    with app.test_request_context(base_url=mounted):
        assert job["url"] == url_for("v1.get_job", job_id=job["id"]) == f"/planning/v1/jobs/{job['id']}"
        assert job["cancel_url"] == url_for("v1.cancel_job", job_id=job["id"])
    status = client.get(job["url"].removeprefix("/planning"), headers=keys["county"], base_url=mounted)
    assert status.get_json()["url"] == job["url"]


def test_idempotent_submission(app, keys):
    client = app.test_client()
    trip_set, fleet = inputs(client, keys["county"])
    body = {"trip_set_id": trip_set, "fleet_id": fleet, "time_limit_s": 5}
    first = submit(client, keys["county"], body, key="retry-me")
    again = submit(client, keys["county"], body, key="retry-me")
    assert first.status_code == again.status_code == 202
    assert first.get_json()["id"] == again.get_json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    other = submit(client, keys["county"], {**body, "time_limit_s": 9}, key="retry-me")
    assert other.status_code == 409 and other.get_json()["where"] == "header.Idempotency-Key"
    assert client.get("/v1/jobs", headers=keys["county"]).get_json()["total"] == 1
    # keys are per owner: another key may use the same idempotency key for its own job
    trip_b, fleet_b = inputs(client, keys["nhs"])
    theirs = submit(client, keys["nhs"], {"trip_set_id": trip_b, "fleet_id": fleet_b}, key="retry-me")
    assert theirs.status_code == 202 and theirs.get_json()["id"] != first.get_json()["id"]


def test_cancel_a_queued_job_at_once_and_only_once(app, keys):
    client = app.test_client()
    trip_set, fleet = inputs(client, keys["county"])
    job = submit(client, keys["county"], {"trip_set_id": trip_set, "fleet_id": fleet}).get_json()
    cancelled = client.post(job["cancel_url"], headers=keys["county"])
    assert cancelled.status_code == 202 and cancelled.get_json()["state"] == "cancelled"
    again = client.post(job["cancel_url"], headers=keys["county"])
    assert again.status_code == 409
    assert client.get("/v1/jobs?state=cancelled", headers=keys["county"]).get_json()["total"] == 1
    assert client.get("/v1/jobs?state=queued", headers=keys["county"]).get_json()["total"] == 0


def test_api_keys_are_required_and_revocable(app):
    client = app.test_client()
    store = app.extensions["itu.store"]
    assert client.get("/v1/jobs").status_code == 401
    assert client.get("/v1/jobs", headers={"Authorization": "Bearer itu_made_up"}).status_code == 401
    record, key = store.create_key("depot")
    assert client.get("/v1/jobs", headers={"X-API-Key": key}).status_code == 200
    assert store.revoke_key(record.id)
    response = client.get("/v1/jobs", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 401 and response.get_json()["code"] == "authentication_required"
    assert client.get("/v1/health").status_code == 200  # public
    with store.session() as s:
        from service.store import ApiKey

        stored = s.get(ApiKey, record.id)
    assert key not in stored.key_hash and len(stored.key_hash) == 64  # only the hash is kept


def test_one_key_never_sees_or_touches_anothers_data(app, keys):
    client = app.test_client()
    trip_set, fleet = inputs(client, keys["county"])
    job = submit(client, keys["county"], {"trip_set_id": trip_set, "fleet_id": fleet}).get_json()
    nhs = keys["nhs"]
    assert client.get(f"/v1/trip-sets/{trip_set}", headers=nhs).status_code == 404
    assert client.get(f"/v1/fleets/{fleet}", headers=nhs).status_code == 404
    assert client.get(job["url"], headers=nhs).status_code == 404
    assert client.post(job["cancel_url"], headers=nhs).status_code == 404
    assert client.get(f"{job['url']}/results/plan.json", headers=nhs).status_code == 404
    for listing in ("/v1/trip-sets", "/v1/fleets", "/v1/jobs"):
        assert client.get(listing, headers=nhs).get_json()["total"] == 0
    # nor build a job on them
    response = submit(client, nhs, {"trip_set_id": trip_set, "fleet_id": fleet})
    assert response.status_code == 404
    assert client.get(job["url"], headers=keys["county"]).get_json()["state"] == "queued"


def test_keys_from_the_command_line(tmp_path):
    env = {"ITU_DATABASE_URL": f"sqlite:///{tmp_path / 'k.sqlite3'}", "PATH": "/usr/bin:/bin"}

    def itu(*args):
        return subprocess.run([sys.executable, "-m", "service.cli", "keys", *args], capture_output=True, text=True,
                              cwd=ROOT, env=env, timeout=120)

    created = itu("create", "Rutland transport unit")
    assert created.returncode == 0, created.stderr
    key_id = re.search(r"created (key_\w+)", created.stdout).group(1)
    assert re.search(r"key: itu_\S{40,}", created.stdout)
    assert "active" in itu("list").stdout
    assert itu("revoke", key_id).returncode == 0
    assert "revoked" in itu("list").stdout
    assert itu("revoke", key_id).returncode == 2


def test_development_mode_needs_no_key_and_refuses_other_addresses(tmp_path):
    url = f"sqlite:///{tmp_path / 'd.sqlite3'}"
    with pytest.raises(ConfigurationError, match="loopback"):
        create_app({"DATABASE_URL": url, "RUNNER": False, "DEV_MODE": True, "BIND_HOST": "0.0.0.0"})
    app = create_app({"DATABASE_URL": url, "RUNNER": False, "DEV_MODE": True, "BIND_HOST": "127.0.0.1"})
    try:
        listing = app.test_client().get("/v1/trip-sets").get_json()
        assert [t["name"] for t in listing["items"]] == ["Rutland example"]  # seeded for make run
    finally:
        stop_app(app)
    proc = subprocess.run([sys.executable, "-m", "service.cli", "serve", "--dev", "--host", "0.0.0.0"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={"ITU_DATABASE_URL": url, "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2 and "loopback" in proc.stderr and "Traceback" not in proc.stderr


def test_every_route_is_in_the_openapi_document_and_back(app):
    document = app.test_client().get("/v1/openapi.json").get_json()
    documented = {(path, method.upper()) for path, item in document["paths"].items() for method in item}
    served = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/v1/"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        served |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == documented
    docs = app.test_client().get("/v1/docs")
    assert docs.status_code == 200 and 'data-document-url="/v1/openapi.json"' in docs.text
    assert app.test_client().get("/static/api-docs.js").status_code == 200
    assert app.test_client().get("/assets/swagger/swagger-ui-bundle.js").status_code == 200


def test_configuration_defaults_then_instance_file_then_environment(tmp_path):
    from service.config import load_config

    assert load_config(tmp_path, environ={})["DATABASE_URL"] == f"sqlite:///{tmp_path / 'itu.sqlite3'}"
    (tmp_path / "config.json").write_text('{"MAX_JOB_ATTEMPTS": 5, "DASK_SCHEDULER": "tcp://file:8786"}')
    config = load_config(tmp_path, environ={"ITU_DASK_SCHEDULER": "tcp://env:8786"})
    assert config["MAX_JOB_ATTEMPTS"] == 5 and config["DASK_SCHEDULER"] == "tcp://env:8786"
    assert load_config(tmp_path, {"MAX_JOB_ATTEMPTS": 1}, environ={})["MAX_JOB_ATTEMPTS"] == 1
    with pytest.raises(ConfigurationError, match="ITU_MAX_JOB_ATTEMPTS"):
        load_config(tmp_path, environ={"ITU_MAX_JOB_ATTEMPTS": "many"})
    assert load_config(tmp_path, environ={"ITU_JOBS_AT_ONCE": "3"})["JOBS_AT_ONCE"] == 3
    for name, value in (("JOBS_AT_ONCE", "0"), ("JOBS_AT_ONCE", "-1"), ("DASK_WORKERS", "0")):
        with pytest.raises(ConfigurationError, match=f"ITU_{name}"):
            load_config(tmp_path, environ={f"ITU_{name}": value})
    with pytest.raises(ConfigurationError, match="JOBS_AT_ONCE in config.json"):
        load_config(tmp_path, {"JOBS_AT_ONCE": True}, environ={})  # not a number of jobs
    (tmp_path / "config.json").write_text('{"DATABASE": "x"}')
    with pytest.raises(ConfigurationError, match="unknown setting"):
        load_config(tmp_path, environ={})


def test_a_local_cluster_leaves_a_core_to_the_requests_and_a_cluster_of_its_own_does_not():
    from service import runner

    cores = len(os.sched_getaffinity(0))
    assert runner.usable_cores() == cores
    assert runner.jobs_at_once(None, None, local_workers=cores) == max(1, cores - 1)
    assert runner.jobs_at_once(None, None, local_workers=1) == 1  # never none at all
    assert runner.jobs_at_once(None, "tcp://scheduler:8786", local_workers=cores) is None
    assert runner.jobs_at_once(3, None, local_workers=cores) == 3  # the setting wins
    assert runner.jobs_at_once(3, "tcp://scheduler:8786", local_workers=cores) == 3


# -- malformed bodies, paths in errors, CSV dialects -------------------------------------------------------
@pytest.mark.parametrize("url, data", [
    ("/v1/fleets", b'{"vehicle_types": [{"name": "\xff\xfe minibus"}]}'),
    ("/v1/fleets", b"[" * 100_000 + b"]" * 100_000),
    ("/v1/solve-jobs", b'{"trip_set_id": "\xff\xfe", "fleet_id": "x"}'),
    ("/v1/solve-jobs", b'{"trip_set_id": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    ("/v1/solve-jobs", b'{"trip_set_id": "\\ud800", "fleet_id": "x"}'),
    ("/v1/comparison-jobs", b"{" * 100_000),
], ids=["fleet-not-utf8", "fleet-deep", "job-not-utf8", "job-deep", "job-lone-surrogate", "job-deep-unclosed"])
def test_malformed_json_is_a_422_naming_the_body_never_a_500(app, keys, url, data):
    response = app.test_client().post(url, data=data, headers={**keys["county"], "Content-Type": "application/json"})
    assert response.status_code == 422, response.get_json()
    error = response.get_json()
    assert error["code"] == "invalid_input" and error["where"] == "body"


@pytest.mark.parametrize("multipart", [True, False], ids=["multipart", "raw"])
def test_errors_name_the_field_never_a_server_path(app, keys, multipart):
    client = app.test_client()
    bad = b'{"vehicle_types": [}'
    if multipart:
        response = upload(client, "/v1/fleets", bad, "fleet.json", keys["county"])
    else:
        response = client.post("/v1/fleets", data=bad, headers={**keys["county"], "Content-Type": "application/json"})
    assert response.status_code == 422
    error = response.get_json()
    assert error["where"] == ("body.file" if multipart else "body")
    assert "itu-upload-" not in json.dumps(error) and "/tmp" not in json.dumps(error)


def test_a_semicolon_separated_trip_file_is_read(app, keys):
    import csv

    rows = list(csv.reader(io.StringIO(TRIPS.decode())))
    text = io.StringIO()
    csv.writer(text, delimiter=";").writerows(rows)  # as a spreadsheet in a European locale exports it
    response = upload(app.test_client(), "/v1/trip-sets", text.getvalue().encode(), "day.csv", keys["county"])
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["trip_count"] == 200


# -- health ----------------------------------------------------------------------------------------------------
def test_health_says_only_ok_without_a_key_and_the_keys_own_figures_with_one(app, keys):
    client = app.test_client()
    trip_set, fleet = inputs(client, keys["county"])
    submit(client, keys["county"], {"trip_set_id": trip_set, "fleet_id": fleet})
    anonymous = client.get("/v1/health")
    assert anonymous.status_code == 200 and anonymous.get_json() == {"status": "ok"}
    county = client.get("/v1/health", headers=keys["county"]).get_json()
    assert county["status"] == "ok" and county["problems"] == [] and county["jobs_queued"] == 1
    assert county["database"] in ("sqlite", "postgresql")
    assert client.get("/v1/health", headers=keys["nhs"]).get_json()["jobs_queued"] == 0  # not another key's


def read_only(database_url: str) -> str:
    if database_url.startswith("sqlite"):
        return database_url.replace("sqlite:///", "sqlite:///file:") + "?mode=ro&uri=true"
    return database_url + "%20-cdefault_transaction_read_only%3Don"


def test_health_is_degraded_and_writes_are_503_when_the_database_refuses_writes(database_url):
    writable = make_app(database_url)
    _, key = writable.extensions["itu.store"].create_key("county")
    stop_app(writable)
    app = make_app(read_only(database_url))  # the same database, now refusing every write
    try:
        client = app.test_client()
        headers = {"Authorization": f"Bearer {key}"}
        anonymous = client.get("/v1/health")
        assert anonymous.status_code == 503 and anonymous.get_json() == {"status": "degraded"}
        detailed = client.get("/v1/health", headers=headers).get_json()
        assert detailed["status"] == "degraded" and "does not take writes" in detailed["problems"][0]
        response = upload(client, "/v1/trip-sets", TRIPS, "day.csv", headers)
        assert response.status_code == 503 and response.get_json()["code"] == "service_unavailable"
    finally:
        stop_app(app)


def test_a_runner_in_its_own_process_is_woken_through_its_pipe_and_heard_of_through_its_status_file(
        tmp_path, database_url):
    """``itu serve`` runs the job runner in a process of its own: a submission wakes it with a byte
    down its pipe, and health reports it from its status file, as not running once that goes stale."""
    import os
    import time

    from service.runner import STATUS_STALE_S, write_status

    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    status_file = tmp_path / "status.json"
    app = create_app({"DATABASE_URL": database_url, "SEED_EXAMPLE": False, "DEV_MODE": True, "BIND_HOST": "127.0.0.1",
                      "RUNNER": False, "RUNNER_LINK": {"wake_fd": write_end, "status_file": str(status_file)}})
    try:
        client = app.test_client()
        health = client.get("/v1/health")  # no report yet
        assert health.status_code == 503 and health.get_json()["problems"] == ["the job runner is not running"]
        write_status(status_file, {"problems": [], "workers": ["tcp://127.0.0.1:1", "tcp://127.0.0.1:2"]})
        health = client.get("/v1/health").get_json()
        assert (health["status"], health["workers"]) == ("ok", 2)
        write_status(status_file, {"problems": ["the Dask cluster has no workers"], "workers": []})
        assert client.get("/v1/health").get_json()["problems"] == ["the Dask cluster has no workers"]
        stale = json.loads(status_file.read_text()) | {"problems": [], "written_at": time.time() - STATUS_STALE_S - 1}
        status_file.write_text(json.dumps(stale))
        assert client.get("/v1/health").get_json()["problems"] == ["the job runner is not running"]

        with pytest.raises(BlockingIOError):
            os.read(read_end, 16)  # nothing woke it yet
        trip_set, fleet = inputs(client, {})
        submit(client, {}, {"trip_set_id": trip_set, "fleet_id": fleet})
        assert os.read(read_end, 16) == b"w"
    finally:
        stop_app(app)
        os.close(read_end)
        os.close(write_end)


# -- results: safe to open -------------------------------------------------------------------------------------
def test_results_are_attachments_that_a_browser_may_not_sniff_or_let_run_free(app, keys):
    from service.store import Job, JobResult

    client = app.test_client()
    trip_set, fleet = inputs(client, keys["county"])
    job = submit(client, keys["county"], {"trip_set_id": trip_set, "fleet_id": fleet}).get_json()
    with app.extensions["itu.store"].session() as s, s.begin():
        s.get(Job, job["id"]).state = "succeeded"
        s.add(JobResult(job_id=job["id"], name="map.html", media_type="text/html", content=b"<!doctype html>"))
        s.add(JobResult(job_id=job["id"], name="routes.csv", media_type="text/csv", content=b"a,b\n"))
    for name in ("map.html", "routes.csv"):
        response = client.get(f"{job['url']}/results/{name}", headers=keys["county"])
        assert response.status_code == 200
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Disposition"].startswith("attachment;")
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "sandbox" in policy and "connect-src" not in policy
    assert client.get("/v1/jobs", headers=keys["county"]).headers["X-Content-Type-Options"] == "nosniff"


def test_the_page_keeps_the_key_for_the_tab_only_and_sandboxes_results(app):
    client = app.test_client()
    page = client.get("/").get_data(as_text=True)
    script = client.get(re.search(r'<script src="([^"]+)"', page).group(1)).get_data(as_text=True)
    assert "localStorage" not in script and "sessionStorage.setItem" in script
    # map, run sheets and report each in a sandbox of an origin of its own; the report runs no script
    frames = dict(re.findall(r'<iframe id="([^"]+)"[^>]*?(sandbox(?:="[^"]*")?)', page))
    assert frames == {"map": 'sandbox="allow-scripts"', "run-sheets": 'sandbox="allow-scripts allow-modals"',
                      "report": "sandbox", "clock-report": 'sandbox=""', "contracts-report": 'sandbox=""',
                      "lots-index": 'sandbox=""', "models-report": 'sandbox=""'}
    assert "allow-same-origin" not in page


# -- limits ------------------------------------------------------------------------------------------------------
def limited_app(database_url, **limits):
    app = make_app(database_url, **limits)
    store = app.extensions["itu.store"]
    return app, {name: {"Authorization": f"Bearer {store.create_key(name)[1]}"} for name in ("county", "nhs")}


@pytest.mark.parametrize("limits, words", [
    ({"MAX_TRIPS_PER_SET": 150}, "200 trips"),
    ({"MAX_TRIPS_PER_SET": 50}, "lines"),  # refused by its line count, before the file is parsed
    ({"MAX_LOCATIONS": 40}, "distinct places"),
])
def test_a_trip_set_over_the_limits_is_refused_and_not_stored(database_url, limits, words):
    app, keys = limited_app(database_url, **limits)
    try:
        client = app.test_client()
        response = upload(client, "/v1/trip-sets", TRIPS, "day.csv", keys["county"])
        assert response.status_code == 422
        error = response.get_json()
        assert error["code"] == "limit_exceeded" and error["where"] == "body.file" and words in error["message"]
        assert client.get("/v1/trip-sets", headers=keys["county"]).get_json()["total"] == 0
    finally:
        stop_app(app)


@pytest.mark.parametrize("count, limits, words", [
    (1_000_000_000_000, {}, "1,000,000,000,000 vehicles of type 'minibus'"),
    (1_000_000, {}, "1,000,000 vehicles of type 'minibus'"),
    (4, {"MAX_VEHICLES": 5}, "vehicles in all; at most 5"),
])
def test_a_fleet_over_the_limits_is_refused(database_url, count, limits, words):
    app, keys = limited_app(database_url, **limits)
    try:
        fleet = json.loads(FLEET)
        fleet["vehicle_types"][0]["count"] = count
        response = upload(app.test_client(), "/v1/fleets", json.dumps(fleet).encode(), "f.json", keys["county"])
        assert response.status_code == 422
        assert response.get_json()["code"] == "limit_exceeded" and words in response.get_json()["message"]
    finally:
        stop_app(app)


@pytest.mark.parametrize("kind, body, where", [
    ("solve-jobs", {"time_limit_s": 3601}, "body.time_limit_s"),
    ("comparison-jobs", {"seeds": 21}, "body.seeds"),
    ("comparison-jobs", {"seeds": 20, "time_limit_s": 3600}, "body.seeds"),  # 20 hours of solving
])
def test_seconds_and_seeds_over_the_limits_are_refused(app, keys, kind, body, where):
    client = app.test_client()
    trip_set, fleet = inputs(client, keys["county"])
    response = submit(client, keys["county"], {"trip_set_id": trip_set, "fleet_id": fleet, **body}, kind=kind)
    assert response.status_code == 422 and response.get_json()["where"] == where


def test_a_job_that_would_need_too_much_memory_is_refused_with_the_figure(database_url):
    app, keys = limited_app(database_url, MAX_JOB_MEMORY_MB=200)
    try:
        client = app.test_client()
        trip_set, fleet = inputs(client, keys["county"])
        response = submit(client, keys["county"], {"trip_set_id": trip_set, "fleet_id": fleet})
        assert response.status_code == 422
        error = response.get_json()
        assert error["code"] == "limit_exceeded"
        needed = int(re.search(r"about ([\d,]+) MB", error["message"]).group(1).replace(",", ""))
        assert needed > 200 and "at most 200 MB" in error["message"]
        assert client.get("/v1/jobs", headers=keys["county"]).get_json()["total"] == 0
    finally:
        stop_app(app)


def test_too_many_submissions_a_minute_get_429_with_retry_after(database_url):
    app, keys = limited_app(database_url, MAX_SUBMISSIONS_PER_MINUTE=3)
    try:
        client = app.test_client()
        trip_set, fleet = inputs(client, keys["county"])
        body = {"trip_set_id": trip_set, "fleet_id": fleet}
        assert [submit(client, keys["county"], body).status_code for _ in range(3)] == [202] * 3
        refused = submit(client, keys["county"], body)
        assert refused.status_code == 429 and refused.get_json()["code"] == "too_many_requests"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert client.get("/v1/jobs", headers=keys["county"]).get_json()["total"] == 3
        # another key is not held back by this one
        trip_b, fleet_b = inputs(client, keys["nhs"])
        assert submit(client, keys["nhs"], {"trip_set_id": trip_b, "fleet_id": fleet_b}).status_code == 202
    finally:
        stop_app(app)


def test_too_many_unfinished_jobs_get_429_until_one_ends(database_url):
    app, keys = limited_app(database_url, MAX_QUEUED_JOBS_PER_KEY=2)
    try:
        client = app.test_client()
        trip_set, fleet = inputs(client, keys["county"])
        body = {"trip_set_id": trip_set, "fleet_id": fleet}
        first, _ = (submit(client, keys["county"], body).get_json() for _ in range(2))
        refused = submit(client, keys["county"], body)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        client.post(first["cancel_url"], headers=keys["county"])
        assert submit(client, keys["county"], body).status_code == 202
    finally:
        stop_app(app)


def test_the_openapi_document_states_this_services_limits(database_url):
    app = make_app(database_url, MAX_SEEDS=7, MAX_TRIPS_PER_SET=1234)
    try:
        document = app.test_client().get("/v1/openapi.json").get_json()
        assert document["info"]["x-limits"]["seeds"] == 7 and "1,234 trips" in document["info"]["description"]
        seeds = document["paths"]["/v1/comparison-jobs"]["post"]["requestBody"]["content"]["application/json"]
        assert seeds["schema"]["properties"]["seeds"]["maximum"] == 7
        assert "429" in document["paths"]["/v1/solve-jobs"]["post"]["responses"]
    finally:
        stop_app(app)


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_number_json_does_not_allow_is_a_422_naming_the_body(app, keys, number):
    """Python's JSON reads NaN and Infinity (and 1e400 as infinity): they went through the field
    checks into the job's options, and PostgreSQL refused to store them (a 500)."""
    client = app.test_client()
    trip_set, fleet = inputs(client, keys["county"])
    for path, field in (("/v1/contracts-jobs", '"register_csv": "x", "turnaround_minutes"'),
                        ("/v1/solve-jobs", '"time_limit_s": 5, "seed": 1, "far_points": "warn", "regions"')):
        data = f'{{"trip_set_id": "{trip_set}", "fleet_id": "{fleet}", {field}: {number}}}'
        response = client.post(path, data=data, headers={**keys["county"], "Content-Type": "application/json"})
        assert response.status_code == 422, response.get_json()
        assert response.get_json()["where"] == "body" and number.lstrip("-")[:3] in response.get_json()["message"]
