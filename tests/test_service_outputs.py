"""What the service hands out carries users' strings (trip ids, place and depot names, the trip
set's name): none of them may run as code in a browser or a spreadsheet, whatever they hold."""
from __future__ import annotations

import csv
import io
import json
import re

import pytest

from optimiser import Layout, ProblemBuilder, SolveOptions, solve
from service.jobs import plan_files
from tests.conftest import ROOT
from tests.instances import line_matrix

TRIPS = (ROOT / "examples" / "rutland" / "trips.csv").read_text()
FLEET = json.loads((ROOT / "examples" / "rutland" / "fleet.json").read_text())
DEPOT = "<!--<script>"  # opens an HTML comment and a script: the rest of the page would be swallowed
HYPERLINK = '=HYPERLINK("http://example.com/{}","click")'  # the trip's own id goes inside


@pytest.fixture(scope="module")
def hostile_plan_files(tmp_path_factory):
    """The Rutland day with a depot, a trip id and places named to attack the outputs, planned for
    a second and turned into the files a job stores."""
    from geodata.readers import load_problem

    folder = tmp_path_factory.mktemp("hostile")
    # every trip id a formula, every home a formula of one kind or another (some trips go to contracts)
    lines = TRIPS.splitlines()
    trips = "\n".join(lines[:1] + ['"' + HYPERLINK.format(line.split(",", 1)[0]).replace('"', '""') + '",'
                                    + line.split(",", 1)[1] for line in lines[1:]]) + "\n"
    trips = re.sub(r"home_(\d+)", lambda m: "=+@-"[int(m.group(1)) % 4] + m.group(1), trips)
    (folder / "trips.csv").write_text(trips)
    fleet = json.loads(json.dumps(FLEET))
    fleet["depots"] = {DEPOT: fleet["depots"]["depot"]}
    for vehicle_type in fleet["vehicle_types"]:
        vehicle_type["depot"] = DEPOT
    (folder / "fleet.json").write_text(json.dumps(fleet))
    loaded = load_problem(folder / "trips.csv", folder / "fleet.json", far_points="warn",
                          name="</title><script>alert(1)</script>")
    plan = solve(loaded.problem, SolveOptions(time_limit_s=1, seed=0, workers=1))
    return {name: content for name, (_, content) in plan_files(plan, loaded).items()}


def test_no_place_name_can_end_or_comment_out_the_maps_data_script(hostile_plan_files):
    page = hostile_plan_files["map.html"].decode()
    data = re.search(r"const data = (.*?);\n", page).group(1)
    # no markup character at all inside the data: the HTML parser cannot leave the script or enter
    # its escaped states ("<!--", "<script"), and nothing ends the JavaScript string early
    assert not set(data) & {"<", ">", "&", "\u2028", "\u2029"}
    decoded = json.loads(data)
    assert DEPOT in {d["place"] for d in decoded["depots"]}  # shown as typed, once decoded
    assert page.count("<script") == page.count("</script>")
    assert "&lt;/title&gt;&lt;script&gt;" in page and "</title><script>alert" not in page


def test_route_csv_cells_that_a_spreadsheet_would_run_are_neutralised(hostile_plan_files):
    rows = list(csv.DictReader(io.StringIO(hostile_plan_files["routes.csv"].decode())))
    cells = [value for row in rows for value in row.values()]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")]
    trip_ids = {row["trip_id"] for row in rows if row["trip_id"]}
    assert trip_ids and all(t.startswith("'=HYPERLINK(") for t in trip_ids)  # kept, readable, but text
    homes = {row["location"][:2] for row in rows if re.fullmatch(r"'.\d+", row["location"])}
    assert homes == {"'=", "'+", "'@", "'-"}


def test_markdown_report_shows_users_strings_as_text():
    from optimiser import CompareOptions, compare
    from optimiser.reporting.report import html_report, markdown

    b = ProblemBuilder(line_matrix({"depot": 0, "a": 5, "b": 10}), "<script>alert('name')</script>")
    b.add_vehicle_type("car", count=1, depot="depot", layouts=[Layout("4", seats=4)], shift_start="07:00",
                       shift_end="09:00", cost_per_day=50.0, cost_per_km=0.5)
    b.add_trip("morning", "school", "a", "b", earliest_pickup="07:30", latest_arrival="08:00")
    # out of every shift: it can only go to a contract, so its id reaches the report's table
    b.add_trip("<img src=x onerror=alert(1)>|[x](javascript:alert(2))", "school", "a", "b",
               earliest_pickup="15:00", latest_arrival="15:30")
    b.add_tariff("taxi <b>", flag_fall=5.0, per_km=2.0, services=["school"])
    result = compare(b.build(), CompareOptions(time_limit_s=1, seeds=1, workers=1))
    assert result.contracted_in_integrated  # the case below is exercised
    text = markdown(result)
    assert "<script" not in text and "<img" not in text and "<b>" not in text
    assert "](javascript:" not in text  # no link can be made of it
    contracted = [line for line in text.splitlines() if "onerror" in line]
    assert len(contracted) == 1 and contracted[0].count("|") == 7  # the id's "|" made no extra column
    page = html_report(result)
    assert "<img" not in page and "<script" not in page
    # the HTML report still shows the strings as typed
    assert "&lt;img src=x onerror=alert(1)&gt;|[x](javascript:alert(2))" in page
    assert "&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;" in page


SCRIPT = "<script>alert(1)</script>"


def test_a_service_and_a_place_named_as_a_script_stay_text_in_the_report_and_its_charts():
    from optimiser import CompareOptions, compare
    from optimiser.reporting.report import charts, html_report

    b = ProblemBuilder(line_matrix({"depot": 0, SCRIPT: 5, "school": 10}), SCRIPT)
    b.add_vehicle_type("car", count=1, depot="depot", layouts=[Layout("4", seats=4)], shift_start="07:00",
                       shift_end="09:00", cost_per_day=50.0, cost_per_km=0.5)
    for k in range(2):
        b.add_trip(f"s{k}", SCRIPT, SCRIPT, "school", earliest_pickup="07:30", latest_arrival="08:00")
        b.add_trip(f"p{k}", "school", "depot", SCRIPT, earliest_pickup="07:30", latest_arrival="08:00")
    b.add_trip("late", SCRIPT, SCRIPT, "school", earliest_pickup="15:00", latest_arrival="15:30")
    b.add_tariff(SCRIPT, flag_fall=5.0, per_km=2.0)
    result = compare(b.build(), CompareOptions(time_limit_s=1, seeds=1, workers=1))
    assert SCRIPT in result.separate.cost_by_service  # the name reaches the charts' axes and legends
    drawn = charts(result)
    page = html_report(result, drawn)
    for name, chart in {**{f"chart {k}": c.svg for k, c in drawn.items()}, "report": page}.items():
        assert "<script" not in chart, name
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4  # the name shown as typed: title, tables
    # on the axes of the charts by service, and in the legend of the cost split
    assert all("&lt;script&gt;alert(1)&lt;/script&gt;" in drawn[k].svg for k in ("cost_by_service", "cost_split"))


def test_the_map_renders_in_a_browser_whatever_its_place_names(hostile_plan_files, browser, tmp_path):
    page_file = tmp_path / "map.html"
    page_file.write_bytes(hostile_plan_files["map.html"])
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(page_file.as_uri())
    page.locator(".leaflet-container").wait_for(timeout=30_000)
    assert page.evaluate("() => data.depots.map(d => d.place)") == [DEPOT]  # the script read all of its data
    assert page.locator(".legend").inner_text().count("trips") >= 1  # and went on to draw the legend
    assert not errors


def test_a_jobs_run_sheets_print_every_vehicle_with_names_as_text(hostile_plan_files):
    plan = json.loads(hostile_plan_files["plan.json"])
    page = hostile_plan_files["run-sheets.html"].decode()
    assert page.count('<section class="sheet">') == len(plan["routes"]) > 0
    assert "<!--<script>" not in page and "&lt;!--&lt;script&gt;" in page  # the depot, as text


def test_run_sheets_show_passengers_and_places_as_text(tmp_path):
    from geodata.export import run_sheet_html

    stop = {"kind": "pickup", "departure": "08:00:00", "arrival": "08:00:00", "service_start": "08:05:30",
            "place": "<img src=x onerror=alert(1)>", "passenger": "</td><script>alert(2)</script>",
            "service": "school", "needs": "", "notes": "&amp; 'quoted'", "seats_on_board": 1,
            "wheelchairs_on_board": 0}
    page = run_sheet_html("<b>minibus 1</b>", [stop], {"layout": "16 seats", "leaves": "07:45:00",
                                                        "returns": "09:10:00", "trips": 1, "km": 12.34},
                          ["school"], None)
    assert "<img" not in page and "<script" not in page and "<b>" not in page
    assert "&lt;/td&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in page and "&amp;amp; &#39;quoted&#39;" in page
    assert "08:05" in page and "08:05:30" not in page and "12.3 km" in page


def test_a_map_loaded_in_a_hidden_frame_fits_and_draws_its_routes_once_shown(hostile_plan_files, browser, tmp_path):
    """The planner's page fills the map's frame while the frame is still hidden: the map then had
    no size to fit the routes to, and its canvas could stay empty (seen once on a busy machine)."""
    from tests.test_service_web import drawn_share

    (tmp_path / "map.html").write_bytes(hostile_plan_files["map.html"])
    (tmp_path / "host.html").write_text('<!doctype html><div id="box" hidden><iframe id="map" src="map.html" '
                                        'style="width:900px;height:600px;border:0"></iframe></div>')
    page = browser.new_page(viewport={"width": 1000, "height": 700})
    page.goto((tmp_path / "host.html").as_uri())
    frame = page.frame(url=re.compile(r"map\.html$"))
    frame.wait_for_function("() => typeof map !== 'undefined' && typeof legend !== 'undefined'")
    page.evaluate("() => { document.getElementById('box').hidden = false; }")
    # the zoom that fits the routes in the frame as shown, and the map at it
    fitting = frame.wait_for_function("() => map.getSize().x > 0 && map.getBoundsZoom(bounds.pad(0.05))").json_value()
    frame.wait_for_function("z => Math.abs(map.getZoom() - z) <= 0.25", arg=fitting, timeout=10_000)
    canvas = page.frame_locator("#map").locator("canvas").first
    canvas.wait_for(timeout=10_000)
    assert drawn_share(canvas.screenshot()) > 0.01, "the map shows no routes"
