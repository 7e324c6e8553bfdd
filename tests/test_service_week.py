"""A week planned over HTTP: POST /v1/week-jobs on a trip set whose rows say their days, each day's
plan and the week's continuity as results, and bad options refused naming the field."""
from __future__ import annotations

import json

import pytest

from geodata.scenario import generate_week, synthetic_area, write_scenario
from geodata.week import load_week
from optimiser.analysis.replan import plan_from_document
from optimiser.checker_week import check_week
from tests.conftest import assert_feasible
from tests.test_contracts import run_claimed
from tests.test_service_api import upload


@pytest.fixture(scope="module")
def small_week(tmp_path_factory):
    folder = tmp_path_factory.mktemp("week")
    trips, fleet, _ = write_scenario(generate_week(synthetic_area("rutland"), trips=40, days=3, seed=1), folder)
    return trips, fleet


@pytest.fixture
def submit_week(dev_service, small_week):
    """POST a week job on the small week with ``body``; the trips text may be replaced."""
    app, _ = dev_service
    client = app.test_client()

    def submit(trips_text: bytes | None = None, **body):
        trips, fleet = small_week
        trip_set = upload(client, "/v1/trip-sets", trips_text or trips.read_bytes(), "week.csv", {}).get_json()["id"]
        fleet_id = upload(client, "/v1/fleets", fleet.read_bytes(), "fleet.json", {}).get_json()["id"]
        return client.post("/v1/week-jobs", data=json.dumps({"trip_set_id": trip_set, "fleet_id": fleet_id, **body}),
                           content_type="application/json")
    return submit


def test_a_week_job_plans_every_day_and_reports_continuity(dev_service, submit_week, small_week):
    app, url = dev_service
    client = app.test_client()
    response = submit_week(time_limit_s=1, tolerance_minutes=15)
    assert response.status_code == 202, response.get_json()
    job = response.get_json()
    assert job["kind"] == "week"
    assert run_claimed(app, url, job["id"]) == "succeeded"
    done = client.get(job["url"]).get_json()
    assert done["summary"]["days"] == ["Mon", "Tue", "Wed"]
    assert done["progress"]["solves_done"] == done["progress"]["solves_total"] == 7  # template, 3 days, 3 alone
    assert done["progress"]["fraction"] == 1.0
    assert {"week.json", "week.md", "Mon-plan.json", "Tue-routes.csv", "Wed-map.html"} <= set(done["results"])
    week_document = client.get(done["results"]["week.json"]).get_json()
    assert week_document["tolerance_minutes"] == 15 and week_document["share_template_vehicles"] is True
    assert week_document["premium"] == done["summary"]["premium"] is not None
    # each day's stored plan passes the checker on its own day, and the week's claims are measured again
    week = load_week(*small_week).week
    plans = {d: plan_from_document(client.get(done["results"][f"{d}-plan.json"]).get_json(), week.problems[d])
             for d in week.days}
    for day, plan in plans.items():
        assert_feasible(week.problems[day], plan)
    assert check_week(week.days, week.problems, plans, week.passenger_of, week_document["continuity"]).feasible
    assert client.get("/v1/jobs?kind=week").get_json()["total"] == 1


def test_a_week_job_may_keep_the_templates_routes_as_planned(dev_service, submit_week):
    app, _ = dev_service
    response = submit_week(time_limit_s=1, share_template_vehicles=False, compare_independent=False)
    assert response.status_code == 202, response.get_json()
    job = response.get_json()
    assert run_claimed(app, dev_service[1], job["id"]) == "succeeded"
    client = app.test_client()
    done = client.get(job["url"]).get_json()
    assert client.get(done["results"]["week.json"]).get_json()["share_template_vehicles"] is False


@pytest.mark.parametrize("body, where", [
    ({"method": "weekly"}, "body.method"),
    ({"tolerance_minutes": -5}, "body.tolerance_minutes"),
    ({"consistent": ["nept"], "free": ["nept"]}, "body.free"),
    ({"free": "nept"}, "body.free"),
    ({"consistent": ["sen"], "preferred": ["sen"]}, "body.preferred"),
    ({"preferred": ["school"], "free": ["school"]}, "body.free"),
    ({"preferred": "school"}, "body.preferred"),
    ({"compare_independent": "yes"}, "body.compare_independent"),
    ({"share_template_vehicles": 1}, "body.share_template_vehicles"),
    ({"time_limit_s": 3000}, "body.time_limit_s"),  # the template 8 times and a day, twice: 54,000 s
    ({"template_search": 0.5}, "body.template_search"),
    ({"template_search": "8"}, "body.template_search"),
    ({"time_limit_s": 20, "template_search": 400}, "body.time_limit_s"),  # 20 s x (400 + 1) x 2 > 7,200 s
])
def test_a_week_job_with_bad_options_is_refused_naming_the_field(submit_week, body, where):
    response = submit_week(**body)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["where"] == where


def test_a_week_whose_days_cannot_be_read_is_refused_at_upload_naming_row_trip_and_column(dev_service, small_week):
    app, _ = dev_service
    lines = small_week[0].read_text().splitlines()
    header, row = lines[0].split(","), lines[1].split(",")
    row[header.index("days")] = "Funday"
    response = upload(app.test_client(), "/v1/trip-sets", "\n".join([lines[0], ",".join(row), *lines[2:]]).encode(),
                      "week.csv", {})
    assert response.status_code == 422
    assert [(p["row"], p["trip_id"], p["column"]) for p in response.get_json()["problems"]] == [(2, row[0], "days")]


@pytest.mark.slow
def test_plan_the_bundled_week_from_the_planners_page(served, browser):
    """The page's week section: nothing chosen is said on the page; the bundled Rutland week
    planned, its figures and charts, a row per vehicle with a column per day, continuity by service."""
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(served + "/")
    page.click("#week-run")
    assert "Choose a week's trip file" in page.inner_text("#week-error")
    page.click("#week-use-example")
    page.wait_for_selector("text=The Rutland week")
    page.fill("#week-seconds", "1")
    page.uncheck("#week-alone")
    page.select_option("#week-school", "preferred")  # school pupils start on the template, not held
    page.click("#week-run")
    page.wait_for_function("""() => !document.getElementById("week-results").hidden
                              || document.getElementById("week-error").textContent""", timeout=300_000)
    assert not page.inner_text("#week-error")
    assert [page.locator("#week-vehicles thead th").nth(k).inner_text() for k in range(6)] == [
        "Vehicle", "Mon", "Tue", "Wed", "Thu", "Fri"]
    vehicles = page.locator("#week-vehicles tbody tr")
    assert vehicles.count() > 0
    assert "trips" in vehicles.first.inner_text()
    services = [page.locator("#week-continuity tbody tr").nth(k).locator("td").first.inner_text()
                for k in range(page.locator("#week-continuity tbody tr").count())]
    assert "sen" in services and "social_care" in services
    assert "Regular sen, social_care passengers kept steady" in page.inner_text("#week-figures")
    assert page.locator("#week-charts img").count() == 2
    assert "week.json" in page.inner_text("#week-downloads")
    assert not errors


def test_the_week_charts_name_every_day_service_and_method_as_text():
    from optimiser.reporting.charts import continuity_tradeoff_chart
    from optimiser.reporting.report import week_charts

    week = {"by_day": [{"day": "Mon", "cost": 400.0, "independent_cost": 380.0},
                       {"day": "<b>Tue</b>", "cost": 410.0, "independent_cost": 390.0}],
            "continuity": {"by_service": {"sen": {"both_share": 1.0}, "social_care": {"both_share": 0.5}}},
            "independent_continuity": {"by_service": {"sen": {"both_share": 0.25}}}}
    drawn = week_charts(week)
    assert set(drawn) == {"week_cost", "continuity"}
    assert "Mon" in drawn["week_cost"].svg and "&lt;b&gt;Tue&lt;/b&gt;" in drawn["week_cost"].svg
    assert "each day alone" in drawn["week_cost"].svg
    # a service with no figure planned alone: the week's bars only, no made-up zero beside them
    assert "social_care" in drawn["continuity"].svg and "each day alone" not in drawn["continuity"].svg
    tradeoff = continuity_tradeoff_chart({"template": [(0.11, 1.0), (0.108, 1.0)], "independent": [(0.0, 0.086)]})
    assert "template" in tradeoff.svg and "independent" in tradeoff.svg and "%" in tradeoff.svg


def test_a_week_file_on_a_day_job_and_a_day_file_on_a_week_job_say_so(dev_service, submit_week, small_week,
                                                                       tmp_path):
    """The warnings ``itu solve`` prints were dropped by the service: a week's file given to a
    day's job planned every row as one day, and a day's file given to a week job made a week of
    one day, each without a word."""
    from geodata.readers import load_problem

    app, url = dev_service
    client = app.test_client()
    trips, fleet = small_week
    trip_set = upload(client, "/v1/trip-sets", trips.read_bytes(), "week.csv", {}).get_json()["id"]
    fleet_id = upload(client, "/v1/fleets", fleet.read_bytes(), "fleet.json", {}).get_json()["id"]
    day_job = client.post("/v1/solve-jobs", content_type="application/json", data=json.dumps(
        {"trip_set_id": trip_set, "fleet_id": fleet_id, "time_limit_s": 0.5})).get_json()
    assert run_claimed(app, url, day_job["id"]) == "succeeded"
    done = client.get(day_job["url"]).get_json()
    assert any("rows name their days" in w for w in done["summary"]["warnings"])
    whole = load_problem(trips, fleet)  # every row as one day, as the job planned it
    assert_feasible(whole.problem, plan_from_document(client.get(done["results"]["plan.json"]).get_json(),
                                                      whole.problem))

    lines = trips.read_text().splitlines()
    days_column = lines[0].split(",").index("days")
    one_day = "\n".join(",".join(c for k, c in enumerate(line.split(",")) if k != days_column) for line in lines)
    (tmp_path / "day.csv").write_text(one_day + "\n")
    week_job = submit_week(trips_text=one_day.encode(), time_limit_s=0.5).get_json()
    assert run_claimed(app, url, week_job["id"]) == "succeeded"
    done = client.get(week_job["url"]).get_json()
    assert done["summary"]["days"] == ["day"]
    assert any("do not say their days" in w for w in done["summary"]["warnings"])
    day = load_problem(tmp_path / "day.csv", fleet)
    assert_feasible(day.problem, plan_from_document(client.get(done["results"]["day-plan.json"]).get_json(),
                                                    day.problem))
