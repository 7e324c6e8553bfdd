"""The planner's web page: upload trips and a fleet (or take the bundled Rutland example), run a
comparison, watch it progress, then see the integrated routes on a map, the savings with
their charts, the cost split, and download links. It is a client of the /v1 API like any
scheduling system; nothing here plans or prices anything."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, current_app, send_from_directory

bp = Blueprint("web", __name__)
EXAMPLE_DIR = Path(__file__).resolve().parent.parent / "examples" / "rutland"


def example_files() -> dict[str, bytes]:
    """The bundled example: the committed files, or the same day generated afresh (seed 1,
    200 trips) where the package was installed without the examples folder."""
    if (EXAMPLE_DIR / "trips.csv").is_file() and (EXAMPLE_DIR / "fleet.json").is_file():
        return {"trips.csv": (EXAMPLE_DIR / "trips.csv").read_bytes(),
                "fleet.json": (EXAMPLE_DIR / "fleet.json").read_bytes()}
    import tempfile

    from geodata.scenario import generate_scenario, synthetic_area, write_scenario

    with tempfile.TemporaryDirectory() as folder:
        write_scenario(generate_scenario(synthetic_area("rutland"), trips=200, seed=1), folder)
        return {name: (Path(folder) / name).read_bytes() for name in ("trips.csv", "fleet.json")}


@bp.get("/examples/rutland/<name>")
def example_file(name: str):
    files = example_files()
    if name not in files:
        abort(404)
    return Response(files[name], mimetype="text/csv" if name.endswith(".csv") else "application/json")


@bp.get("/assets/swagger/<path:name>")
def swagger_asset(name: str):
    import swagger_ui_bundle

    return send_from_directory(swagger_ui_bundle.swagger_ui_path, name)


@bp.get("/")
def planner_page():
    return Response(PAGE.replace("%DEV_MODE%", "true" if current_app.config["DEV_MODE"] else "false"),
                    mimetype="text/html")


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Integrated transport planner</title>
<style>
body{font:15px system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#222;background:#f6f7f9}
header{background:#1f3a5f;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;opacity:.85;font-size:13px}
main{max-width:1200px;margin:0 auto;padding:16px 24px}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:16px;margin-bottom:16px}
h2{font-size:16px;margin:0 0 10px}label{display:inline-block;margin:4px 16px 4px 0}
button{font:inherit;padding:7px 14px;border-radius:4px;border:1px solid #1f3a5f;background:#1f3a5f;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#1f3a5f}button:disabled{opacity:.5;cursor:default}
input[type=number]{width:5em}
.progress{height:14px;background:#e6e9ee;border-radius:7px;overflow:hidden;margin:8px 0}
.progress div{height:100%;background:#2e7d32;width:0;transition:width .4s}
.error{color:#b00020;white-space:pre-wrap}.muted{color:#666;font-size:13px}
.figures{display:flex;gap:24px;flex-wrap:wrap}.figure{min-width:160px}.figure b{display:block;font-size:22px}
iframe{width:100%;border:1px solid #dde1e6;border-radius:4px;background:#fff}
#map{height:560px}#report{height:900px}ul.downloads{columns:2}
</style></head><body>
<header><h1>Integrated transport planner</h1>
<p>School, SEN, day-centre and patient trips planned together on one fleet, against separate contracts.</p></header>
<main>
<section id="inputs"><h2>1. Trips and fleet</h2>
<p><label>Trip file (CSV, GeoJSON, GeoPackage) <input type="file" id="trips-file" accept=".csv,.geojson,.json,.gpkg"></label>
<label>Fleet file (CSV, JSON) <input type="file" id="fleet-file" accept=".csv,.json"></label></p>
<p><button class="secondary" id="use-example" type="button">Use the bundled Rutland example</button>
<span id="chosen" class="muted"></span></p>
<p id="key-row" hidden><label>API key <input type="password" id="api-key" size="40"></label></p>
</section>
<section><h2>2. Compare separate contracts with integrated planning</h2>
<label>Seconds per solve <input type="number" id="seconds" value="20" min="1" max="600"></label>
<label>Seeds <input type="number" id="seeds" value="2" min="1" max="10"></label>
<button id="run" type="button">Run comparison</button>
<div id="status" hidden><div class="progress"><div id="bar"></div></div><span id="status-text"></span>
<button class="secondary" id="cancel" type="button">Cancel</button></div>
<div id="error" class="error"></div>
</section>
<section id="results" hidden><h2>3. Results</h2>
<div class="figures" id="figures"></div>
<h2 style="margin-top:16px">Integrated routes</h2>
<iframe id="map" title="Map of the integrated plan" sandbox="allow-scripts"></iframe>
<h2 style="margin-top:16px">Savings, charts and the cost split</h2>
<iframe id="report" title="Comparison report" sandbox="allow-scripts"></iframe>
<h2 style="margin-top:16px">Downloads</h2><ul class="downloads" id="downloads"></ul>
</section>
</main>
<script>
const devMode = %DEV_MODE%;
const $ = id => document.getElementById(id);
let example = null, job = null, polling = null;
// the key is kept for this tab only (sessionStorage), never on the disk for good
if (!devMode) { $("key-row").hidden = false; $("api-key").value = sessionStorage.getItem("itu-api-key") || ""; }
function headers(extra) {
  const h = Object.assign({}, extra || {});
  const key = $("api-key").value.trim();
  if (key) { h["Authorization"] = "Bearer " + key; sessionStorage.setItem("itu-api-key", key); }
  return h;
}
function describe(error) {
  let text = error.message || "failed";
  if (error.where) text = error.where + ": " + text;
  if (error.problems) text += "\\n" + error.problems.map(p =>
    [p.file, p.row && "row " + p.row, p.trip_id && "trip " + p.trip_id, p.column && "column " + p.column]
      .filter(Boolean).join(", ") + ": " + p.message).join("\\n");
  return text;
}
async function api(method, url, body, extraHeaders) {
  const response = await fetch(url, {method, body, headers: headers(extraHeaders)});
  const data = await response.json().catch(() => ({message: response.statusText}));
  if (!response.ok) throw new Error(describe(data));
  return data;
}
$("use-example").onclick = async () => {
  const [trips, fleet] = await Promise.all(["trips.csv", "fleet.json"].map(n =>
    fetch("/examples/rutland/" + n).then(r => r.blob())));
  example = {trips: new File([trips], "rutland-trips.csv"), fleet: new File([fleet], "rutland-fleet.json")};
  $("chosen").textContent = "Rutland example chosen: 200 trips, 4 services.";
};
async function upload(url, file) {
  const form = new FormData();
  form.append("file", file);
  return api("POST", url, form);
}
$("run").onclick = async () => {
  $("error").textContent = "";
  const trips = $("trips-file").files[0] || (example && example.trips);
  const fleet = $("fleet-file").files[0] || (example && example.fleet);
  if (!trips || !fleet) { $("error").textContent = "Choose a trip file and a fleet file, or the example."; return; }
  $("run").disabled = true;
  try {
    const tripSet = await upload("/v1/trip-sets", trips);
    const fleetRecord = await upload("/v1/fleets", fleet);
    job = await api("POST", "/v1/comparison-jobs", JSON.stringify({trip_set_id: tripSet.id,
      fleet_id: fleetRecord.id, time_limit_s: Number($("seconds").value), seeds: Number($("seeds").value)}),
      {"Content-Type": "application/json", "Idempotency-Key": crypto.randomUUID()});
    $("status").hidden = false; $("results").hidden = true;
    polling = setInterval(poll, 1000); poll();
  } catch (e) { $("error").textContent = e.message; $("run").disabled = false; }
};
$("cancel").onclick = async () => { if (job) await api("POST", job.cancel_url).catch(e => $("error").textContent = e.message); };
async function poll() {
  try { job = await api("GET", job.url); } catch (e) { $("error").textContent = e.message; return; }
  const p = job.progress || {};
  $("bar").style.width = Math.round(100 * (p.fraction || 0)) + "%";
  $("status-text").textContent = job.state + (p.solves_total ? " · " + p.solves_done + " of " + p.solves_total +
    " solves" : "") + (p.elapsed_s ? " · " + p.elapsed_s.toFixed(0) + " s" : "");
  if (["succeeded", "failed", "cancelled"].includes(job.state)) {
    clearInterval(polling); $("run").disabled = false;
    if (job.state === "succeeded") show(job); else $("error").textContent = describe(job.error || {message: job.state});
  }
}
function money(x) { return (x < 0 ? "-£" : "£") + Math.abs(x).toLocaleString("en-GB", {maximumFractionDigits: 0}); }
async function blobUrl(url) {  // results need the API key, which an iframe or a link cannot send
  const response = await fetch(url, {headers: headers()});
  return URL.createObjectURL(await response.blob());
}
async function show(job) {
  const s = job.summary;
  $("figures").innerHTML = [["Separate contracts", money(s.separate_cost) + " a day"],
    ["Integrated", money(s.integrated_cost) + " a day"],
    ["Saving", money(s.saving) + " (" + (s.saving_percent ?? 0).toFixed(1) + "%)"]]
    .map(([k, v]) => '<div class="figure">' + k + "<b>" + v + "</b></div>").join("") +
    (s.solves_cut_short ? '<p class="error">' + s.solves_cut_short + " solve(s) ran out of time while still " +
      "building routes: trips they had not reached went to taxis untried, so this saving is not reliable. " +
      "Run again with more seconds per solve.</p>" : "");
  const urls = {};
  for (const [name, url] of Object.entries(job.results)) urls[name] = await blobUrl(url);
  $("map").src = urls["integrated-map.html"];
  $("report").src = urls["report.html"];
  $("downloads").innerHTML = Object.keys(job.results).map(name =>
    '<li><a href="' + urls[name] + '" download="' + name + '">' + name + "</a></li>").join("");
  $("results").hidden = false;
}
</script></body></html>
"""
