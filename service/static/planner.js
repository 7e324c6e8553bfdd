const devMode = document.body.dataset.devMode === "true";
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
  if (error.problems) text += "\n" + error.problems.map(p =>
    [p.file, p.row && "row " + p.row, p.trip_id && "trip " + p.trip_id, p.column && "column " + p.column]
      .filter(Boolean).join(", ") + ": " + p.message).join("\n");
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
    listPast();
  }
}
// Past comparisons of this key (or of development mode's one owner), newest first: each can be
// reopened, its map, report and downloads shown again. Text goes in as text, never as markup.
async function listPast() {
  let page;
  try { page = await api("GET", "/v1/jobs?kind=comparison&limit=20"); } catch (e) { return; }
  const body = $("past-runs").querySelector("tbody");
  body.replaceChildren(...page.items.map(item => {
    const row = document.createElement("tr");
    const cells = [item.created_at.replace("T", " ").replace("Z", ""), item.state,
      item.summary && item.summary.saving !== undefined ? money(item.summary.saving) + " a day" : ""];
    for (const text of cells) { const cell = row.insertCell(); cell.textContent = text; }
    const open = document.createElement("button");
    open.type = "button"; open.className = "secondary open-past"; open.textContent = "Open";
    open.disabled = item.state !== "succeeded";
    open.onclick = async () => { $("error").textContent = ""; job = await api("GET", item.url); show(job); };
    row.insertCell().append(open);
    return row;
  }));
  $("past-runs").hidden = page.items.length === 0;
  $("past-empty").hidden = page.items.length > 0;
}
$("refresh-past").onclick = listPast;
if (devMode || $("api-key").value) listPast();
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
  $("run-sheets").src = urls["integrated-run-sheets.html"];
  $("downloads").innerHTML = Object.keys(job.results).map(name =>
    '<li><a href="' + urls[name] + '" download="' + name + '">' + name + "</a></li>").join("");
  $("results").hidden = false;
  showPlan(await api("GET", job.results["integrated-plan.json"]));  // laid out once it can be measured
}

// The plan itself: a lane per vehicle across the day with its stops, the routes, and the trips
// given to contracts with the reason. Every string goes in as text.
const SERVICE_COLOURS = JSON.parse(document.body.dataset.serviceColours);  // the map's own
function clock(seconds) {
  const minutes = Math.round(seconds / 60);
  return String(Math.floor(minutes / 60)).padStart(2, "0") + ":" + String(minutes % 60).padStart(2, "0");
}
function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}
function tableRows(table, rows) {
  table.querySelector("tbody").replaceChildren(...rows.map(cells => {
    const row = document.createElement("tr");
    for (const text of cells) row.insertCell().textContent = text;
    return row;
  }));
}
function vehicleName(route) {
  // as the map names them: duties are counted from 0 in the plan, from 1 for people
  return route.vehicle_type + " " + (route.vehicle_number + 1) + (route.duty > 0 ? ", duty " + (route.duty + 1) : "");
}
function showPlan(plan) {
  const routes = plan.routes.filter(r => r.stops.length);
  const first = Math.min(...routes.map(r => r.stops[0].departure_s));
  const last = Math.max(...routes.map(r => r.stops[r.stops.length - 1].arrival_s));
  const from = Math.floor(first / 3600) * 3600, to = Math.ceil(last / 3600) * 3600;
  const at = s => (150 + (s - from) / Math.max(1, to - from) * ($("timeline").clientWidth - 160)) + "px";
  const lanes = [];
  const axis = element("div", "axis");
  for (let hour = from; hour <= to; hour += 3600) {
    const tick = element("span", "tick", clock(hour));
    tick.style.left = at(hour);
    axis.append(tick);
  }
  lanes.push(axis);
  for (const route of routes) {
    const lane = element("div", "lane");
    lane.append(element("span", "name", vehicleName(route)));
    const bar = element("div", "bar");
    bar.style.left = at(route.stops[0].departure_s);
    bar.style.width = "calc(" + at(route.stops[route.stops.length - 1].arrival_s) + " - " + at(route.stops[0].departure_s) + ")";
    bar.title = vehicleName(route) + ": " + clock(route.stops[0].departure_s) + " to " +
      clock(route.stops[route.stops.length - 1].arrival_s);
    lane.append(bar);
    for (const stop of route.stops.filter(s => s.trip_id)) {
      const mark = element("div", "stop");
      mark.style.left = at(stop.service_start_s);
      mark.style.background = SERVICE_COLOURS[stop.service] || "#555";
      mark.title = clock(stop.service_start_s) + " " + stop.kind + " " + stop.trip_id + " at " + stop.location;
      lane.append(mark);
    }
    lanes.push(lane);
  }
  $("timeline").replaceChildren(...lanes);
  tableRows($("routes"), routes.map(r => [vehicleName(r), r.layout, clock(r.stops[0].departure_s),
    clock(r.stops[r.stops.length - 1].arrival_s), String(r.stops.length - 2), r.km.toFixed(1), money(r.cost)]));
  tableRows($("contracted"), plan.contracted.map(c => [c.trip_id, c.service, c.tariff, money(c.price), c.reason]));
  $("contracted").hidden = plan.contracted.length === 0;
  $("contracted-none").hidden = plan.contracted.length > 0;
}
