// The planner's workspace: send trips and a fleet, plan the day or run a comparison, watch it
// progress, list past runs and reopen any of them in a plan view (map, vehicle timeline, routes,
// run sheets, contracted trips) and, for a comparison, a comparison view (its charts and report).
// Every string from a run goes in as text (textContent, attributes set as properties), never as markup.
const devMode = document.body.dataset.devMode === "true";
const $ = id => document.getElementById(id);
let example = null, job = null, blobs = [];
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
function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}
function money(x) { return (x < 0 ? "-£" : "£") + Math.abs(x).toLocaleString("en-GB", {maximumFractionDigits: 0}); }

// ---------------------------------------------------------------- submitting a run
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
// kind: "solve" (plan the day) or "comparison"; each sends the same files and seconds
async function submit(kind) {
  $("error").textContent = "";
  const trips = $("trips-file").files[0] || (example && example.trips);
  const fleet = $("fleet-file").files[0] || (example && example.fleet);
  if (!trips || !fleet) { $("error").textContent = "Choose a trip file and a fleet file, or the example."; return; }
  running(true);
  try {
    const tripSet = await upload("/v1/trip-sets", trips);
    const fleetRecord = await upload("/v1/fleets", fleet);
    const options = {trip_set_id: tripSet.id, fleet_id: fleetRecord.id, time_limit_s: Number($("seconds").value)};
    if (kind === "comparison") options.seeds = Number($("seeds").value);
    job = await api("POST", kind === "comparison" ? "/v1/comparison-jobs" : "/v1/solve-jobs",
      JSON.stringify(options), {"Content-Type": "application/json", "Idempotency-Key": crypto.randomUUID()});
    $("status").hidden = false; $("results").hidden = true;
    window.jobClient.follow(job, showProgress, ended);
  } catch (e) { $("error").textContent = e.message; running(false); }
}
function running(yes) { $("run").disabled = $("plan-day").disabled = yes; }
$("run").onclick = () => submit("comparison");
$("plan-day").onclick = () => submit("solve");
$("cancel").onclick = async () => { if (job) await api("POST", job.cancel_url).catch(e => $("error").textContent = e.message); };
function showProgress(current) {
  job = current;
  const p = job.progress || {};
  $("bar").style.width = Math.round(100 * (p.fraction || 0)) + "%";
  $("status-text").textContent = job.state + (p.solves_total ? " · " + p.solves_done + " of " + p.solves_total +
    " solves" : "") + (p.best_cost ? " · best " + money(p.best_cost) + " a day" : "") +
    (p.elapsed_s ? " · " + p.elapsed_s.toFixed(0) + " s" : "");
}
function ended(current, failure) {
  running(false);
  if (failure) $("error").textContent = failure.message;
  else if (current.state === "succeeded") show(current);
  else $("error").textContent = describe(current.error || {message: current.state});
  listPast();
}

// ---------------------------------------------------------------- past runs
// Runs of this key (or of development mode's one owner), newest first, plans and comparisons alike.
const RUN_NAMES = {comparison: "comparison", replan: "re-plan", solve: "plan of the day"};
function runName(item) { return RUN_NAMES[item.kind] || item.kind; }
function runResult(item) {
  const s = item.summary;
  if (!s) return "";
  if (s.saving !== undefined) return "saves " + money(s.saving) + " a day";
  if (s.cost !== undefined) return money(s.cost) + " a day · " + s.vehicles + " vehicles";
  return "";
}
async function listPast() {
  let page;
  try { page = await api("GET", "/v1/jobs?limit=20"); } catch (e) { return; }
  $("past-runs").querySelector("tbody").replaceChildren(...page.items.map(item => {
    const row = document.createElement("tr");
    row.className = "past-" + item.kind;
    for (const text of [item.created_at.replace("T", " ").replace("Z", "").slice(0, 19), runName(item), item.state,
                        runResult(item)]) row.insertCell().textContent = text;
    const open = element("button", "secondary open-past", "Open");
    open.type = "button";
    open.disabled = !Object.keys(item.results || {}).length;  // a run that ended without a plan has nothing to show
    open.onclick = async () => {
      $("error").textContent = "";
      try { job = await api("GET", item.url); await show(job); } catch (e) { $("error").textContent = e.message; }
    };
    row.insertCell().append(open);
    return row;
  }));
  $("past-runs").hidden = page.items.length === 0;
  $("past-empty").hidden = page.items.length > 0;
}
$("refresh-past").onclick = listPast;
if (devMode || $("api-key").value) listPast();

// ---------------------------------------------------------------- a run's views
async function blobUrl(url) {  // results need the API key, which an iframe, an image or a link cannot send
  const response = await fetch(url, {headers: headers()});
  const address = URL.createObjectURL(await response.blob());
  blobs.push(address);
  return address;
}
function figure(label, value) {
  const box = element("div", "figure", label);
  box.append(element("b", "", value));
  return box;
}
function chooseView(id) {
  for (const tab of document.querySelectorAll(".view-tab")) {
    const chosen = tab.dataset.view === id;
    tab.setAttribute("aria-selected", String(chosen));
    $(tab.dataset.view).hidden = !chosen;
  }
}
for (const tab of document.querySelectorAll(".view-tab")) tab.onclick = () => chooseView(tab.dataset.view);
// A comparison's files of its integrated plan are named "integrated-..."; a plan's carry no prefix.
async function show(run) {
  const comparison = run.kind === "comparison";
  const prefix = comparison ? "integrated-" : "";
  const s = run.summary || {};
  blobs.forEach(URL.revokeObjectURL); blobs = [];
  $("run-title").textContent = (comparison ? "Comparison" : run.kind === "replan" ? "Re-plan" : "Plan of the day") +
    " started " +
    run.created_at.replace("T", " ").replace("Z", "").slice(0, 16) + (run.state === "cancelled" ? " (cancelled: " +
    "the best plan found before it stopped)" : "");
  $("figures").replaceChildren(...(comparison ? [
    figure("Separate contracts", money(s.separate_cost) + " a day"),
    figure("Integrated", money(s.integrated_cost) + " a day"),
    figure("Saving", money(s.saving) + " (" + (s.saving_percent ?? 0).toFixed(1) + "%)")] : [
    figure("Cost", money(s.cost) + " a day"), figure("Vehicles", String(s.vehicles)),
    figure("Distance", (s.km ?? 0).toLocaleString("en-GB") + " km"),
    figure("Contracted trips", String(s.contracted))]));
  $("cut-short").hidden = !(comparison && s.solves_cut_short);
  const urls = {};
  for (const [name, url] of Object.entries(run.results)) urls[name] = await blobUrl(url);
  $("map").src = urls[prefix + "map.html"];
  $("run-sheets").src = urls[prefix + "run-sheets.html"];
  $("downloads").replaceChildren(...Object.keys(run.results).map(name => {
    const link = element("a", "", name);
    link.href = urls[name]; link.download = name;
    const item = document.createElement("li");
    item.append(link);
    return item;
  }));
  $("show-comparison").hidden = !comparison;
  // a plan's own charts beside it; a comparison's charts are in the comparison view
  showCharts(comparison ? [] : chartNames(run), urls, "plan-charts");
  $("plan-charts-box").hidden = comparison || chartNames(run).length === 0;
  if (comparison) showComparison(run, urls);
  $("results").hidden = false;
  chooseView(comparison ? "comparison-view" : "plan-view");
  const plan = await api("GET", run.results[prefix + "plan.json"]);
  showPlan(plan);
  showReplan(run, plan);  // static/replan.js: the re-plan form, and a re-plan's calls
}
// The charts a job drew (chart-*.svg), each an image in the box with id ``into``.
function chartNames(run) {
  return Object.keys(run.results).filter(n => n.startsWith("chart-") && n.endsWith(".svg")).sort();
}
function showCharts(names, urls, into) {
  $(into).replaceChildren(...names.map(name => {
    const box = $("chart-figure").content.firstElementChild.cloneNode(true);
    const image = box.querySelector("img");
    image.src = urls[name];
    image.alt = name.slice(6, -4).replaceAll("-", " ");
    return box;
  }));
}
// A comparison's charts, and the whole report beneath them.
function showComparison(run, urls) {
  showCharts(chartNames(run), urls, "charts");
  $("report").src = urls["report.html"];
}

// The plan itself: a lane per vehicle across the day with its stops, the routes, and the trips
// given to contracts with the reason.
const SERVICE_COLOURS = JSON.parse(document.body.dataset.serviceColours);  // the map's own
function clock(seconds) {
  const minutes = Math.round(seconds / 60);
  return String(Math.floor(minutes / 60)).padStart(2, "0") + ":" + String(minutes % 60).padStart(2, "0");
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
  const leaves = r => r.stops[0].departure_s, back = r => r.stops[r.stops.length - 1].arrival_s;
  showTimeline(routes, leaves, back);
  tableRows($("routes"), routes.map(r => [vehicleName(r), r.layout, clock(leaves(r)), clock(back(r)),
    String(r.stops.length - 2), r.km.toFixed(1), money(r.cost)]));
  tableRows($("contracted"), plan.contracted.map(c => [c.trip_id, c.service, c.tariff, money(c.price), c.reason]));
  $("contracted").hidden = plan.contracted.length === 0;
  $("contracted-none").hidden = plan.contracted.length > 0;
}
function showTimeline(routes, leaves, back) {
  if (!routes.length) {
    $("timeline").replaceChildren(element("p", "muted", "No vehicle goes out: every trip is contracted or unserved."));
    return;
  }
  const from = Math.floor(Math.min(...routes.map(leaves)) / 3600) * 3600;
  const to = Math.max(from + 3600, Math.ceil(Math.max(...routes.map(back)) / 3600) * 3600);
  // positions as a share of the lane beyond the names' column, so the timeline lays itself out
  // at any width, even drawn while its view is hidden
  const share = s => (s - from) / (to - from);
  const at = s => "calc(150px + (100% - 160px) * " + share(s).toFixed(5) + ")";
  const axis = element("div", "axis");
  for (let hour = from; hour <= to; hour += 3600) {
    const tick = element("span", "tick", clock(hour));
    tick.style.left = at(hour);
    axis.append(tick);
  }
  const lanes = routes.map(route => {
    const lane = element("div", "lane");
    lane.append(element("span", "name", vehicleName(route)));
    const bar = element("div", "bar");
    bar.style.left = at(leaves(route));
    bar.style.width = "calc((100% - 160px) * " + (share(back(route)) - share(leaves(route))).toFixed(5) + ")";
    bar.title = vehicleName(route) + ": " + clock(leaves(route)) + " to " + clock(back(route));
    lane.append(bar);
    for (const stop of route.stops.filter(s => s.trip_id)) {
      const mark = element("div", "stop");
      mark.style.left = at(stop.service_start_s);
      mark.style.background = SERVICE_COLOURS[stop.service] || "#555";
      mark.title = clock(stop.service_start_s) + " " + stop.kind + " " + stop.trip_id + " at " + stop.location;
      lane.append(mark);
    }
    return lane;
  });
  $("timeline").replaceChildren(axis, ...lanes);
}
