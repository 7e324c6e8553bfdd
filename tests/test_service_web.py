"""The planner's page in headless Chromium (Debian's, driven by Playwright): pick the bundled
example, run a comparison, watch it progress, then see the map and the summary."""
from __future__ import annotations

import shutil
import threading

import pytest

from service import create_app, stop_app

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture
def served(tmp_path):
    from werkzeug.serving import make_server

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'web.sqlite3'}", "DEV_MODE": True,
                      "BIND_HOST": "127.0.0.1", "DASK_WORKERS": 2})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    stop_app(app)


@pytest.fixture
def browser():
    if not shutil.which("chromium"):
        pytest.skip("needs Debian's chromium (make test installs it with apt-get where it can)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def test_run_a_comparison_from_the_page_and_see_the_map_and_summary(served, browser, tmp_path):
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(served + "/")
    assert page.title() == "Integrated transport planner"
    page.click("#use-example")
    page.wait_for_selector("text=Rutland example chosen")
    page.fill("#seconds", "1")
    page.fill("#seeds", "1")
    page.click("#run")
    page.wait_for_selector("#status:not([hidden])")
    page.wait_for_function("document.getElementById('bar').style.width !== '0%'", timeout=240_000)
    page.wait_for_selector("#results:not([hidden])", timeout=300_000)
    figures = page.inner_text("#figures")
    assert "Separate contracts" in figures and "Integrated" in figures and "Saving" in figures
    # the map: Leaflet drew the integrated routes inside its frame
    frame = page.frame_locator("#map")
    frame.locator(".leaflet-container").wait_for(timeout=30_000)
    assert frame.locator(".legend").inner_text().count("trips") >= 1
    assert "OpenStreetMap" in frame.locator(".leaflet-control-attribution").inner_text()
    report = page.frame_locator("#report")
    report.locator("svg").first.wait_for(timeout=30_000)
    # the plan: a lane per vehicle with its stops, the routes, run sheets to print, the contracted trips
    page.wait_for_selector("#timeline .lane")
    routes, contracted = page.evaluate("""async () => {
        const plan = await (await fetch(job.results["integrated-plan.json"])).json();
        return [plan.routes.filter(r => r.stops.length).length, plan.contracted.length]; }""")
    assert page.locator("#timeline .lane").count() == page.locator("#routes tbody tr").count() == routes > 0
    assert page.locator("#contracted tbody tr").count() == contracted
    assert page.locator("#timeline .stop").count() >= routes
    page.frame_locator("#run-sheets").locator("section.sheet").first.wait_for(timeout=30_000)
    assert page.frame_locator("#run-sheets").locator("section.sheet").count() == routes
    assert_drawn(page.locator("#timeline").screenshot(), "the timeline")
    assert_drawn(page.locator("#map").screenshot(), "the map")
    (tmp_path / "run-sheets.png").write_bytes(page.locator("#run-sheets").screenshot())
    assert_drawn((tmp_path / "run-sheets.png").read_bytes(), "the run sheets")
    downloads = page.inner_text("#downloads")
    assert "comparison.json" in downloads and "integrated-plan.geojson" in downloads
    page.screenshot(path=str(tmp_path / "planner.png"), full_page=True)
    assert not errors
    # the run is listed among the past comparisons, and reopens after the page is loaded again
    page.reload()
    page.wait_for_selector("#past-runs:not([hidden]) .open-past:not([disabled])")
    assert page.locator("#past-runs tbody tr").count() == 1 and "succeeded" in page.inner_text("#past-runs")
    assert page.is_hidden("#results")
    page.click(".open-past")
    page.wait_for_selector("#results:not([hidden])", timeout=60_000)
    page.frame_locator("#map").locator(".leaflet-container").wait_for(timeout=30_000)
    assert "Saving" in page.inner_text("#figures") and not errors


def assert_drawn(png: bytes, what: str) -> None:
    """A screenshot that shows something: many colours, not a blank or one-colour box."""
    import io

    from PIL import Image

    colours = Image.open(io.BytesIO(png)).convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) >= 4, f"{what} looks blank: {len(colours)} colours"


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
