"""Jobs on a real Dask cluster: they run, report progress, can be cancelled, survive a worker
killed under them and a restart of the service, and lose nothing."""
from __future__ import annotations

import json
import os
import signal
import time

import pytest

from sqlalchemy import func, select

from service import create_app, stop_app
from service.store import Job
from tests.test_service_api import FLEET, TRIPS, upload

pytestmark = pytest.mark.slow


def make_app(url, **config):
    return create_app({"DATABASE_URL": url, "SEED_EXAMPLE": False, "DEV_MODE": True, "BIND_HOST": "127.0.0.1",
                       "DASK_WORKERS": 2, **config})


@pytest.fixture(scope="module")
def cluster():
    """One cluster for the module: apps connect to it by address, as they would in production."""
    import dask
    from distributed import LocalCluster

    dask.config.set({"distributed.scheduler.allowed-failures": 2})
    local = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    yield local
    local.close()


def submit(client, kind="solve-jobs", **body):
    trip_set = upload(client, "/v1/trip-sets", TRIPS, "rutland.csv", {}).get_json()["id"]
    fleet = upload(client, "/v1/fleets", FLEET, "fleet.json", {}).get_json()["id"]
    response = client.post(f"/v1/{kind}", data=json.dumps({"trip_set_id": trip_set, "fleet_id": fleet, **body}),
                           content_type="application/json")
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def wait_for(client, url, states, timeout=180, condition=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(url).get_json()
        if job["state"] in states and (condition is None or condition(job)):
            return job
        time.sleep(0.3)
    raise AssertionError(f"job did not reach {states} in {timeout} s: {job}")


def test_health_is_degraded_while_the_cluster_has_no_workers(tmp_path):
    from distributed import LocalCluster

    empty = LocalCluster(n_workers=0, threads_per_worker=1, processes=True, dashboard_address=":0")
    app = make_app(f"sqlite:///{tmp_path / 'h.sqlite3'}", DASK_SCHEDULER=empty.scheduler_address)
    try:
        client = app.test_client()
        response = client.get("/v1/health")  # development mode: the details come with it
        assert response.status_code == 503 and response.get_json()["status"] == "degraded"
        assert response.get_json()["problems"] == ["the Dask cluster has no workers"]
        empty.scale(1)
        empty.wait_for_workers(1, timeout=120)
        for _ in range(100):  # the client hears of the new worker within moments
            if client.get("/v1/health").status_code == 200:
                break
            time.sleep(0.2)
        healthy = client.get("/v1/health").get_json()
        assert (healthy["status"], healthy["problems"], healthy["workers"]) == ("ok", [], 1)
        # the worker that joined loaded the solver before any job came: its first job does not
        # spend its time limit (nor, on a service just started, the requests' CPU) doing so
        from distributed import Client

        with Client(empty.scheduler_address) as look:
            loaded = look.run(lambda: "optimiser.engine.ruin_recreate" in __import__("sys").modules)
        assert list(loaded.values()) == [True]
    finally:
        stop_app(app)
        empty.close()


def test_a_solve_job_runs_reports_progress_and_returns_results(database_url, cluster):
    app = make_app(database_url, DASK_SCHEDULER=cluster.scheduler_address)
    try:
        client = app.test_client()
        job = submit(client, time_limit_s=4)
        running = wait_for(client, job["url"], ("running", "succeeded"),
                           condition=lambda j: j["state"] == "succeeded" or "elapsed_s" in j["progress"])
        assert running["attempts"] == 1
        done = wait_for(client, job["url"], ("succeeded",))
        assert done["progress"]["fraction"] == 1.0 and done["progress"]["best_cost"] > 0
        summary = done["summary"]
        assert summary["served_by_fleet"] + summary["contracted"] + summary["unserved"] == 200
        assert set(done["results"]) == {"plan.json", "plan.geojson", "routes.csv", "map.html", "run-sheets.html",
                                        "chart-vehicles-in-use.svg", "chart-ride-times.svg", "chart-search.svg"}
        chart = client.get(done["results"]["chart-vehicles-in-use.svg"])
        assert chart.mimetype == "image/svg+xml" and b"vehicles on the road" in chart.data
        plan = client.get(done["results"]["plan.json"]).get_json()
        assert plan["cost"]["total"] == pytest.approx(summary["cost"], abs=0.01)
        geojson = client.get(done["results"]["plan.geojson"]).get_json()
        layers = {f["properties"]["layer"] for f in geojson["features"]}
        assert layers <= {"routes", "stops", "contracted"} and "routes" in layers
        page = client.get(done["results"]["map.html"])
        assert page.mimetype == "text/html" and b"L.map(" in page.data
        assert client.get(done["results"]["routes.csv"]).data.startswith(b"vehicle_type,vehicle_number")
    finally:
        stop_app(app)


def test_a_county_sized_solve_job_on_split_shifts_searches_both_sides_of_the_day_on_the_cluster(tmp_path, cluster):
    from geodata.scenario import generate_scenario, synthetic_area, write_scenario
    from optimiser import DecompositionParameters

    DUTY_SPLIT_FROM_TRIPS = DecompositionParameters().duty_split_from_trips

    write_scenario(generate_scenario(synthetic_area(), trips=DUTY_SPLIT_FROM_TRIPS, seed=3), tmp_path)
    app = make_app(f"sqlite:///{tmp_path / 'd.sqlite3'}", DASK_SCHEDULER=cluster.scheduler_address)
    try:
        client = app.test_client()
        trip_set = upload(client, "/v1/trip-sets", (tmp_path / "trips.csv").read_bytes(), "trips.csv", {})
        fleet = upload(client, "/v1/fleets", (tmp_path / "fleet.json").read_bytes(), "fleet.json", {})
        assert trip_set.status_code == 201 and fleet.status_code == 201, (trip_set.get_json(), fleet.get_json())
        response = client.post("/v1/solve-jobs", data=json.dumps({
            "trip_set_id": trip_set.get_json()["id"], "fleet_id": fleet.get_json()["id"], "time_limit_s": 20}),
            content_type="application/json")
        assert response.status_code == 202, response.get_json()
        url = response.get_json()["url"]
        # the job's progress moves with the clock while the sides search (on a cluster they report
        # only when done)
        moving = wait_for(client, url, ("running", "succeeded"),
                          condition=lambda j: j["state"] == "succeeded" or 0 < j["progress"].get("fraction", 0) < 1)
        done = wait_for(client, url, ("succeeded", "failed"), timeout=300)
        assert done["state"] == "succeeded", done["error"]
        assert moving["state"] == "running"
        summary = done["summary"]
        assert summary["served_by_fleet"] + summary["contracted"] + summary["unserved"] == DUTY_SPLIT_FROM_TRIPS
        plan = client.get(done["results"]["plan.json"]).get_json()
        sides = plan["solver"]["regions"]
        assert sides["split"] == "duty" and sides["count"] == 2 and sides["at_once"] == 2
        assert all(r["planned"] for r in sides["each"])
    finally:
        stop_app(app)


def test_a_solve_job_in_regions_spreads_them_over_the_cluster(tmp_path, cluster):
    # one job at once, as on a 2-core machine's local cluster: its own parts still use every worker
    app = make_app(f"sqlite:///{tmp_path / 'r.sqlite3'}", DASK_SCHEDULER=cluster.scheduler_address, JOBS_AT_ONCE=1)
    try:
        client = app.test_client()
        job = submit(client, time_limit_s=16, regions=2)
        done = wait_for(client, job["url"], ("succeeded", "failed"), timeout=300)
        assert done["state"] == "succeeded", done["error"]
        assert done["progress"]["regions"] == 2
        summary = done["summary"]
        assert summary["served_by_fleet"] + summary["contracted"] + summary["unserved"] == 200
        plan = client.get(done["results"]["plan.json"]).get_json()
        regions = plan["solver"]["regions"]
        assert regions["count"] == 2 and regions["at_once"] == 2  # both workers of the cluster
        assert all(r["planned"] for r in regions["each"])
        bad = client.post("/v1/solve-jobs", data=json.dumps({"trip_set_id": "x", "fleet_id": "y", "regions": 0}),
                          content_type="application/json")
        assert bad.status_code == 422 and bad.get_json()["where"] == "body.regions"
    finally:
        stop_app(app)


def test_a_comparison_job_spreads_its_solves_over_the_cluster(tmp_path, cluster):
    app = make_app(f"sqlite:///{tmp_path / 'c.sqlite3'}", DASK_SCHEDULER=cluster.scheduler_address)
    try:
        client = app.test_client()
        job = submit(client, "comparison-jobs", time_limit_s=1, seeds=1)
        done = wait_for(client, job["url"], ("succeeded", "failed"), timeout=300)
        assert done["state"] == "succeeded", done["error"]
        assert done["progress"]["solves_done"] == done["progress"]["solves_total"] >= 5
        assert {"comparison.json", "report.html", "integrated-map.html", "integrated-plan.json"} <= set(done["results"])
        comparison = client.get(done["results"]["comparison.json"]).get_json()
        assert done["summary"]["integrated_cost"] == pytest.approx(comparison["integrated"]["cost"], abs=0.01)
        assert b"<svg" in client.get(done["results"]["report.html"]).data
        # each of the report's charts also on its own, for the planner's comparison view
        charts = sorted(n for n in done["results"] if n.startswith("chart-"))
        assert charts == ["chart-cost-by-service.svg", "chart-cost-components.svg", "chart-cost-split.svg",
                          "chart-ride-times.svg", "chart-vehicles-in-use.svg"]
        chart = client.get(done["results"]["chart-cost-split.svg"])
        assert chart.mimetype == "image/svg+xml" and chart.data.startswith(b"<svg")
    finally:
        stop_app(app)


def test_a_key_has_no_more_jobs_in_the_cluster_at_once_than_its_limit(tmp_path, cluster):
    app = make_app(f"sqlite:///{tmp_path / 'p.sqlite3'}", DASK_SCHEDULER=cluster.scheduler_address,
                   MAX_RUNNING_JOBS_PER_KEY=1)
    try:
        client = app.test_client()
        first, second = submit(client, time_limit_s=3), submit(client, time_limit_s=3)
        seen_running = set()
        for _ in range(1500):  # at most five minutes
            states = {j["id"]: j["state"] for j in (client.get(x["url"]).get_json() for x in (first, second))}
            seen_running.add(sum(s == "running" for s in states.values()))
            if all(s in ("succeeded", "failed") for s in states.values()):
                break
            time.sleep(0.2)
        first, second = (client.get(x["url"]).get_json() for x in (first, second))
        assert first["state"] == second["state"] == "succeeded"
        # the cluster has two workers, but the second job waited for the first
        assert max(seen_running) == 1 and second["started_at"] >= first["finished_at"]
    finally:
        stop_app(app)


def test_a_service_has_no_more_jobs_in_the_cluster_at_once_than_it_may_run(tmp_path, cluster):
    app = make_app(f"sqlite:///{tmp_path / 'o.sqlite3'}", DASK_SCHEDULER=cluster.scheduler_address,
                   JOBS_AT_ONCE=1, MAX_RUNNING_JOBS_PER_KEY=2)
    store = app.extensions["itu.store"]
    try:
        client = app.test_client()
        jobs = [submit(client, time_limit_s=2) for _ in range(3)]
        most_running = most_dispatched = 0
        for _ in range(1500):  # at most five minutes
            with store.session() as s:
                dispatched = s.scalar(select(func.count()).select_from(Job).where(
                    Job.state.in_(("queued", "running")), Job.dispatched_by.is_not(None)))
                running = s.scalar(select(func.count()).select_from(Job).where(Job.state == "running"))
                unfinished = s.scalar(select(func.count()).select_from(Job).where(
                    Job.state.in_(("queued", "running"))))
            most_running, most_dispatched = max(most_running, running), max(most_dispatched, dispatched)
            if not unfinished:
                break
            time.sleep(0.2)
        done = [client.get(job["url"]).get_json() for job in jobs]
        assert [job["state"] for job in done] == ["succeeded"] * 3, [job["error"] for job in done]
        # the key may have two in the cluster and the cluster has two workers, but the service one
        assert most_running == 1 and most_dispatched == 1
        assert done[0]["finished_at"] <= done[1]["started_at"] and done[1]["finished_at"] <= done[2]["started_at"]
    finally:
        stop_app(app)


def test_a_job_that_ends_lets_the_next_one_in_without_waiting_for_the_next_look(tmp_path, cluster):
    from service.runner import JobRunner, RunnerPace

    app = make_app(f"sqlite:///{tmp_path / 'w.sqlite3'}", DASK_SCHEDULER=cluster.scheduler_address, RUNNER=False,
                   JOBS_AT_ONCE=1)
    client = app.test_client()
    first, second = submit(client, time_limit_s=2), submit(client, time_limit_s=2)
    # nothing else wakes this runner: it looks at the queue once at its start, then only when woken
    # or every 10 minutes. The second job can only go in on the first one's end.
    runner = JobRunner(app.extensions["itu.store"], dict(app.config), pace=RunnerPace(poll_s=600))
    runner.start()
    try:
        done = wait_for(client, second["url"], ("succeeded", "failed"), timeout=240)
        first = client.get(first["url"]).get_json()
        assert first["state"] == done["state"] == "succeeded", (first["error"], done["error"])
        assert done["started_at"] >= first["finished_at"]
    finally:
        runner.stop()
        stop_app(app)


def test_cancelling_a_running_solve_keeps_the_best_plan_so_far(tmp_path, cluster):
    app = make_app(f"sqlite:///{tmp_path / 'x.sqlite3'}", DASK_SCHEDULER=cluster.scheduler_address)
    try:
        client = app.test_client()
        job = submit(client, time_limit_s=120)
        wait_for(client, job["url"], ("running",), condition=lambda j: j["progress"].get("best_cost"))
        started = time.monotonic()
        assert client.post(job["cancel_url"]).status_code == 202
        done = wait_for(client, job["url"], ("cancelled",), timeout=60)
        assert time.monotonic() - started < 60  # long before the 120 s limit
        assert done["summary"]["stopped_early"] and "plan.json" in done["results"]
    finally:
        stop_app(app)


@pytest.fixture
def slow_osrm():
    """An OSRM server that answers nothing until the test is over: a job's build waits on it."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    release = threading.Event()

    class Slow(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the standard library's name
            release.wait()
            self.send_response(503)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    release.set()
    server.shutdown()


def test_cancel_stops_a_job_while_its_problem_is_being_built(tmp_path, cluster, slow_osrm):
    app = make_app(f"sqlite:///{tmp_path / 'b.sqlite3'}", DASK_SCHEDULER=cluster.scheduler_address,
                   OSRM_URL=slow_osrm)
    try:
        client = app.test_client()
        job = submit(client, time_limit_s=5, travel="osrm")
        building = wait_for(client, job["url"], ("running",), condition=lambda j: j["progress"].get("phase"))
        assert building["progress"]["phase"] == "building"  # waiting on the travel server
        assert client.post(job["cancel_url"]).status_code == 202
        # the travel server has still not answered: only a cancel that does not wait for the build ends it
        done = wait_for(client, job["url"], ("cancelled", "failed", "succeeded"), timeout=120)
        assert done["state"] == "cancelled" and "built" in done["error"]["message"]
    finally:
        stop_app(app)


def _worker_running(cluster, client_app, key_prefix: str):
    from distributed import Client

    with Client(cluster.scheduler_address) as observer:
        for _ in range(200):
            for worker, keys in observer.processing().items():
                if any(str(k).startswith(key_prefix) for k in keys):
                    return worker, observer.run(os.getpid, workers=[worker])[worker]
            time.sleep(0.1)
    raise AssertionError("no worker picked the job up")


def test_a_job_survives_its_worker_being_killed(tmp_path, cluster):
    app = make_app(f"sqlite:///{tmp_path / 'k.sqlite3'}", DASK_SCHEDULER=cluster.scheduler_address)
    try:
        client = app.test_client()
        job = submit(client, time_limit_s=6)
        wait_for(client, job["url"], ("running",))
        _, pid = _worker_running(cluster, app, f"job-{job['id']}")
        os.kill(pid, signal.SIGKILL)  # the worker process dies mid-solve; its nanny starts a new one
        done = wait_for(client, job["url"], ("succeeded", "failed"), timeout=240)
        assert done["state"] == "succeeded", done["error"]
        assert done["attempts"] == 2  # run again from the start on a worker that is alive
    finally:
        stop_app(app)


def test_a_job_that_keeps_killing_workers_fails_with_a_reason(tmp_path, cluster):
    app = make_app(f"sqlite:///{tmp_path / 'kk.sqlite3'}", DASK_SCHEDULER=cluster.scheduler_address,
                   MAX_JOB_ATTEMPTS=2)
    try:
        client = app.test_client()
        job = submit(client, time_limit_s=30)
        for _ in range(3):  # Dask allows two failures (the fixture's setting), then gives up
            try:
                wait_for(client, job["url"], ("running", "failed"), timeout=60)
                _, pid = _worker_running(cluster, app, f"job-{job['id']}")
            except AssertionError:
                break
            os.kill(pid, signal.SIGKILL)
            time.sleep(1.5)
        done = wait_for(client, job["url"], ("failed",), timeout=120)
        assert done["error"]["code"] == "worker_lost" and "died" in done["error"]["message"]
    finally:
        stop_app(app)


def test_a_restart_of_the_service_loses_nothing(tmp_path):
    """The service runs its own local cluster; stopping it kills the running solve. The next
    start finds the job in the database and runs it to the end."""
    url = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    first = make_app(url)
    client = first.test_client()
    # long enough to be still running when the service stops (it stops as soon as the job runs)
    running = submit(client, time_limit_s=8)
    queued = submit(client, time_limit_s=2)
    wait_for(client, running["url"], ("running",))
    stop_app(first)  # the cluster and its workers go with it
    second = make_app(url)
    try:
        client = second.test_client()
        for job in (running, queued):
            done = wait_for(client, job["url"], ("succeeded", "failed"), timeout=240)
            assert done["state"] == "succeeded", done["error"]
        # handed back by a clean stop: run again from the start, and the stop is not counted
        assert client.get(running["url"]).get_json()["attempts"] == 1
    finally:
        stop_app(second)


def test_a_crashed_service_is_taken_over_when_its_lease_runs_out(tmp_path):
    """No clean stop this time: the jobs' heartbeats go stale and the next service takes them."""
    url = f"sqlite:///{tmp_path / 'z.sqlite3'}"
    # a lease long enough that a heartbeat delayed by a loaded machine (the suite runs in two
    # processes) does not look like a crash of the second service too
    first = make_app(url, JOB_LEASE_S=6)
    client = first.test_client()
    job = submit(client, time_limit_s=8)
    wait_for(client, job["url"], ("running",))
    runner = first.extensions.pop("itu.runner")
    import atexit

    atexit.unregister(runner.stop)
    runner.stop(requeue=False)  # as if killed: nothing is handed back
    time.sleep(7)
    second = make_app(url, JOB_LEASE_S=6)
    try:
        done = wait_for(second.test_client(), job["url"], ("succeeded", "failed"), timeout=240)
        assert (done["state"], done["attempts"]) == ("succeeded", 2), done.get("error")
    finally:
        stop_app(second)


def test_a_job_that_crashes_in_its_worker_fails_without_the_servers_internals(tmp_path, cluster):
    """A bug, not bad input: the job ends `failed` with a reason its owner can read, and the
    crash's own text (which can name server paths) stays in the log."""
    from service.store import DEVELOPMENT_OWNER, Job, Store, new_id

    url = f"sqlite:///{tmp_path / 'crash.sqlite3'}"
    app = make_app(url, DASK_SCHEDULER=cluster.scheduler_address)
    try:
        client = app.test_client()
        trip_set = upload(client, "/v1/trip-sets", TRIPS, "rutland.csv", {}).get_json()["id"]
        fleet = upload(client, "/v1/fleets", FLEET, "fleet.json", {}).get_json()["id"]
        # options the API would never store: the worker's first use of them raises
        job_id = new_id("job")
        with Store(url).session() as s, s.begin():
            s.add(Job(id=job_id, owner=DEVELOPMENT_OWNER, kind="solve", trip_set_id=trip_set, fleet_id=fleet,
                      options={"time_limit_s": "/srv/itu/private/settings"}))
        app.extensions["itu.runner"].wake()
        done = wait_for(client, f"/v1/jobs/{job_id}", ("failed", "succeeded"), timeout=120)
        assert done["state"] == "failed" and done["error"]["code"] == "internal_error"
        assert "/srv" not in json.dumps(done["error"]) and "ValueError" not in json.dumps(done["error"])
        assert "unexpected error" in done["error"]["message"]
    finally:
        stop_app(app)
