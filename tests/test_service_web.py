"""The planner's workspace in headless Chromium (Debian's, driven by Playwright): pick the bundled
example, plan the day or run a comparison, watch it progress, see the plan view (map, vehicle
timeline, routes, run sheets, contracted trips) and the comparison view (charts, report), and
reopen past runs."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


#: Each solve's time limit: the views need routes, and in one second, beside a busy neighbouring
#: test, a solve could end before its first complete plan (every trip contracted, no timeline).
SOLVE_SECONDS = "3"


def start_run(page, served: str, button: str) -> None:
    """Open the page, choose the bundled example, press ``button`` and wait for the results."""
    page.goto(served + "/")
    assert page.title() == "Integrated transport planner"
    page.click("#use-example")
    page.wait_for_selector("text=Rutland example chosen")
    page.fill("#seconds", SOLVE_SECONDS)
    page.fill("#seeds", "1")
    page.click(button)
    page.wait_for_selector("#status:not([hidden])")
    page.wait_for_selector("#results:not([hidden])", timeout=300_000)


def check_plan_view(page, plan_file: str) -> None:
    """The plan view of the run shown: a map with routes drawn, one timeline bar per vehicle with
    its stops, the route list, run sheets, and the contracted trips with their reasons."""
    page.click("#show-plan")
    assert page.is_visible("#plan-view")
    frame = page.frame_locator("#map")
    frame.locator(".leaflet-container").wait_for(timeout=30_000)
    assert frame.locator(".legend").inner_text().count("trips") >= 1
    assert "OpenStreetMap" in frame.locator(".leaflet-control-attribution").inner_text()
    page.wait_for_selector("#timeline .lane")
    routes, contracted = page.evaluate("""async file => {
        const plan = await (await fetch(job.results[file])).json();
        return [plan.routes.filter(r => r.stops.length).length, plan.contracted.length]; }""", plan_file)
    assert routes > 0
    assert page.locator("#timeline .lane").count() == page.locator("#timeline .bar").count() == routes
    assert page.locator("#routes tbody tr").count() == routes
    assert page.locator("#timeline .stop").count() >= routes
    # every bar lies on the time axis: inside its lane, right of the vehicles' names, of some width
    for box in (page.locator("#timeline .bar").nth(k).bounding_box() for k in range(routes)):
        lane = page.locator("#timeline").bounding_box()
        assert lane["x"] + 140 <= box["x"] and box["x"] + box["width"] <= lane["x"] + lane["width"] + 1
        assert box["width"] > 2
    assert page.locator("#contracted tbody tr").count() == contracted
    if contracted:
        assert all(page.locator("#contracted tbody tr").nth(k).locator("td").nth(4).inner_text().strip()
                   for k in range(contracted))  # each with its reason
    sheets = page.frame_locator("#run-sheets").locator("section.sheet")
    sheets.first.wait_for(timeout=30_000)
    assert sheets.count() == routes
    # the routes are drawn on the map's canvas (no tiles here: the test has no network)
    canvas = page.frame_locator("#map").locator("canvas").first
    canvas.wait_for(timeout=30_000)
    assert drawn_share(canvas.screenshot()) > 0.02, "the map shows no routes"
    assert drawn_share(page.locator("#timeline").screenshot()) > 0.02, "the timeline shows no bars"
    assert_drawn(page.locator("#run-sheets").screenshot(), "the run sheets")


def test_run_a_comparison_from_the_page_and_see_both_views(served, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    start_run(page, served, "#run")
    figures = page.inner_text("#figures")
    assert "Separate contracts" in figures and "Integrated" in figures and "Saving" in figures
    # the comparison view opens first: the charts the job drew, each an image that loaded, and the report
    assert page.is_visible("#comparison-view") and page.is_visible("#show-comparison")
    charts = page.locator("#charts img")
    assert charts.count() == 5
    page.wait_for_function("[...document.querySelectorAll('#charts img')].every(i => i.complete && "
                           "i.naturalWidth > 100)", timeout=30_000)
    page.frame_locator("#report").locator("svg").first.wait_for(timeout=30_000)
    assert page.frame_locator("#report").locator("svg").count() == 5
    assert_drawn(page.locator("#report").screenshot(), "the report")
    check_plan_view(page, "integrated-plan.json")
    assert page.is_hidden("#plan-charts-box")  # a comparison's charts are in its own view
    downloads = page.inner_text("#downloads")
    assert "comparison.json" in downloads and "integrated-plan.geojson" in downloads
    page.screenshot(path=str(tmp_path / "planner.png"), full_page=True)
    assert not errors
    # the run is listed among the past runs, and reopens after the page is loaded again
    page.reload()
    page.wait_for_selector("#past-runs:not([hidden]) .open-past:not([disabled])")
    assert page.locator("#past-runs tbody tr").count() == 1 and "succeeded" in page.inner_text("#past-runs")
    assert "comparison" in page.inner_text("#past-runs")
    assert page.is_hidden("#results")
    page.click(".open-past")
    page.wait_for_selector("#results:not([hidden])", timeout=60_000)
    assert "Saving" in page.inner_text("#figures") and page.locator("#charts img").count() == 5
    page.click("#show-plan")
    page.frame_locator("#map").locator(".leaflet-container").wait_for(timeout=30_000)
    assert not errors


def test_plan_the_day_from_the_page_then_reopen_it_among_past_runs(served, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    start_run(page, served, "#plan-day")
    # a plan only: its figures, the plan view, and no comparison to show
    figures = page.inner_text("#figures")
    assert "Cost" in figures and "Vehicles" in figures and "Saving" not in figures
    assert page.is_hidden("#show-comparison") and page.is_hidden("#comparison-view")
    check_plan_view(page, "plan.json")
    # the plan's own charts, each drawn
    page.wait_for_selector("#plan-charts img")
    assert page.locator("#plan-charts img").count() == 3 and page.is_visible("#plan-charts-box")
    page.wait_for_function("[...document.querySelectorAll('#plan-charts img')].every(i => i.naturalWidth > 0)")
    assert_drawn(page.locator("#plan-charts img").first.screenshot(), "the vehicles chart")
    assert "routes.csv" in page.inner_text("#downloads")
    page.reload()
    page.wait_for_selector("#past-runs:not([hidden]) .open-past:not([disabled])")
    assert "plan of the day" in page.inner_text("#past-runs")
    page.click(".open-past")
    page.wait_for_selector("#results:not([hidden])", timeout=60_000)
    page.wait_for_selector("#timeline .bar")
    assert page.is_hidden("#show-comparison") and page.is_visible("#plan-view")
    assert not errors


# Every read of a job's state answered 2.5 s late, as a busy server may; each of its results fetched
# is counted by name.
SLOW_JOB_READS = """
const originalFetch = window.fetch;
window.resultsFetched = {};
window.fetch = async (url, init) => {
  const address = String(url), answer = await originalFetch(url, init);
  const result = address.match(/\\/results\\/([^/?]+)$/);
  if (result) window.resultsFetched[result[1]] = (window.resultsFetched[result[1]] || 0) + 1;
  if (/\\/v1\\/jobs\\/[^/?]+$/.test(address) && (!init || !init.method || init.method === "GET"))
    await new Promise(done => setTimeout(done, 2500));
  return answer;
};
"""


def test_a_slow_server_shows_a_finished_run_once_and_the_view_chosen_stays(served, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.add_init_script(SLOW_JOB_READS)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    start_run(page, served, "#run")
    page.click("#show-plan")
    page.wait_for_selector("#timeline .lane")
    # reads of the job asked for while earlier ones were unanswered would each see it ended and show
    # it again, reopening the comparison over the plan view chosen meanwhile
    page.wait_for_timeout(6_000)
    fetched = page.evaluate("window.resultsFetched")
    assert fetched.get("integrated-map.html") == 1, fetched
    assert page.is_visible("#plan-view") and page.is_hidden("#comparison-view")
    assert not errors


def test_names_written_as_markup_are_shown_as_text_in_the_workspace(served, browser, tmp_path):
    from tests.conftest import ROOT

    # every trip id an image whose error handler calls a function, a school named as a script: were
    # any of them read as markup, the page would report the call to a function that does not exist
    lines = (ROOT / "examples" / "rutland" / "trips.csv").read_text().splitlines()
    trips = [lines[0]] + [f"<img src=x onerror=pwned({k})>" + line[line.index(","):]
                          for k, line in enumerate(lines[1:])]
    (tmp_path / "trips.csv").write_text("\n".join(trips).replace("Oakham Special School (synthetic)",
                                                                 "<script>pwned()</script>") + "\n")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(served + "/")
    page.set_input_files("#trips-file", str(tmp_path / "trips.csv"))
    page.set_input_files("#fleet-file", str(ROOT / "examples" / "rutland" / "fleet.json"))
    page.fill("#seconds", SOLVE_SECONDS)
    page.click("#plan-day")
    page.wait_for_selector("#results:not([hidden])", timeout=300_000)
    page.wait_for_selector("#timeline .stop")
    titles = page.eval_on_selector_all("#timeline .stop", "marks => marks.map(m => m.title)")
    assert any("<img src=x onerror=pwned(" in t for t in titles)
    assert any("<script>pwned()</script>" in t for t in titles)  # the school, where a drop-off is
    assert page.locator("#timeline img, #routes img, #contracted img, #contracted script").count() == 0
    if page.locator("#contracted tbody tr").count():
        assert "<img src=x onerror=pwned(" in page.inner_text("#contracted")
    page.frame_locator("#run-sheets").locator("section.sheet").first.wait_for(timeout=30_000)
    page.frame_locator("#map").locator(".leaflet-container").wait_for(timeout=30_000)
    page.wait_for_timeout(500)  # time for any handler an image would have run
    assert not errors


def assert_drawn(png: bytes, what: str) -> None:
    """A screenshot that shows something: many colours, not a blank or one-colour box."""
    import io

    from PIL import Image

    colours = Image.open(io.BytesIO(png)).convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) >= 4, f"{what} looks blank: {len(colours)} colours"


def drawn_share(png: bytes) -> float:
    """The share of a screenshot's pixels that are not its background (its commonest colour)."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    colours = image.getcolors(maxcolors=image.width * image.height)
    return 1 - max(count for count, _ in colours) / (image.width * image.height)


def test_a_bad_file_is_explained_on_the_page(served, browser, tmp_path):
    bad = tmp_path / "trips.csv"
    bad.write_text("id,service,pickup_latitude\nT1,school,north\n")
    fleet = tmp_path / "fleet.json"
    fleet.write_text('{"vehicle_types": []}')
    page = browser.new_page()
    page.goto(served + "/")
    page.set_input_files("#trips-file", str(bad))
    page.set_input_files("#fleet-file", str(fleet))
    page.click("#run")
    page.wait_for_function("document.getElementById('error').textContent.length > 0", timeout=30_000)
    text = page.inner_text("#error")
    assert "row 2" in text and "pickup_latitude" in text


def test_re_plan_the_day_from_the_plan_view_and_see_the_calls(served, browser):
    """On a plan of the day: cancel a trip, take a vehicle off the road and add a pupil (whose id
    is written as markup) in the re-plan form, re-plan, and see the new plan with the calls to make."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    start_run(page, served, "#plan-day")
    page.wait_for_selector("#replan-box:not([hidden])")
    assert page.is_hidden("#calls-box")
    published_id, routes = page.evaluate("""async () => {
        const plan = await (await fetch(job.results["plan.json"])).json();
        return [job.id, plan.routes.filter(r => r.stops.length)]; }""")
    trips = [s["trip_id"] for r in routes for s in r["stops"] if s["kind"] == "pickup"]
    off = routes[-1]
    cancelled = next(t for t in trips if not any(s["trip_id"] == t for s in off["stops"]))
    page.fill("#replan-now", "06:00")
    page.fill("#replan-cancel-trip", trips[-1])
    page.click("#replan-add-cancel")
    page.click("#replan-changes .remove-change")  # a change taken back is not sent
    assert page.is_visible("#replan-changes-none")
    page.fill("#replan-cancel-trip", cancelled)
    page.click("#replan-add-cancel")
    page.select_option("#replan-vehicle", label=f"{off['vehicle_type']} {off['vehicle_number']}")
    page.fill("#replan-vehicle-from", "06:30")
    page.click("#replan-add-vehicle-off")
    pupil = "<img src=x onerror=pwned(1)>"
    for field, value in (("id", pupil), ("service", "school"), ("passenger", "<script>pwned(2)</script>"),
                         ("pickup_latitude", "52.6391"), ("pickup_longitude", "-0.6502"),
                         ("dropoff_latitude", "52.641955"), ("dropoff_longitude", "-0.640672"),
                         ("earliest_pickup", "07:45"), ("latest_arrival", "08:40")):
        page.fill(f"#replan-new-{field}", value)
    page.click("#replan-add-trip")
    assert page.locator("#replan-changes tbody tr").count() == 3
    page.click("#replan-run")
    page.wait_for_selector("#calls-box:not([hidden])", timeout=120_000)
    assert page.inner_text("#run-title").startswith("Re-plan")
    page.wait_for_selector("#calls tbody tr")
    calls = [[cell.strip() for cell in row] for row in page.eval_on_selector_all(
        "#calls tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")]
    by_trip = {row[1]: row for row in calls}
    assert by_trip[cancelled][2] == "cancelled"
    assert by_trip[pupil][0] == "<script>pwned(2)</script>" and by_trip[pupil][2].startswith("added")
    moved = [row for row in calls if row[2].startswith("vehicle off the road")]
    assert moved and all(row[3] == f"{off['vehicle_type']} {off['vehicle_number']}" for row in moved)
    assert all(row[5] != row[3] for row in moved)  # each moved to another vehicle, or to a contract ("–")
    assert "published" in page.inner_text("#calls-headline")
    assert page.locator("#calls img, #calls script, #replan-changes img").count() == 0
    # the new plan is the one shown: its timeline, its downloads with the calls, and it re-plans the published plan
    page.wait_for_selector("#timeline .bar")
    assert "calls.csv" in page.inner_text("#downloads")
    assert page.evaluate("job.kind") == "replan" and page.evaluate("job.options.plan_job_id") == published_id
    assert page.locator("#replan-changes tbody tr").count() == 3 and page.is_visible("#replan-box")
    page.wait_for_timeout(300)  # time for any handler an image would have run
    assert not errors


def test_the_api_documentation_page_renders_the_operations(served, browser):
    """The bundled Swagger UI renders the OpenAPI document: every job route is listed, the newest too."""
    page = browser.new_page()
    page.goto(served + "/v1/docs")
    operation = page.locator("[id$='-create_replan_job']")  # Swagger UI's block of the operation
    operation.wait_for(timeout=30_000)
    assert "/v1/plans/{plan_id}/changes" in operation.inner_text().replace("\u200b", "")
    for operation_id in ("create_solve_job", "create_contracts_job", "create_lots_job"):
        assert page.locator(f"[id$='-{operation_id}']").count() == 1, operation_id
    assert "Unable to render" not in page.inner_text("body")
