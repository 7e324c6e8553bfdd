// The plan view's re-plan form (templates/replan-section.html) and a re-plan's calls: the day's
// changes against the published plan (a plan of the day's, or the one a re-plan started from) are
// listed, sent to POST /v1/plans/{id}/changes, followed like any job, and the new plan is then shown
// in the plan view with the calls to make above it. Uses planner.js's helpers (api, show, element,
// tableRows, describe, money); every string goes in as text, never as markup.
let replanOf = null, replanChanges = [];
const WINDOW_NAMES = ["earliest_pickup", "latest_pickup", "earliest_arrival", "latest_arrival"];

// Called by show() once a run's plan is on the page.
function showReplan(run, plan) {
  const published = run.kind === "solve" ? run.id : run.kind === "replan" ? run.options.plan_job_id : null;
  $("replan-box").hidden = !published || run.state !== "succeeded";
  $("calls-box").hidden = run.kind !== "replan";
  if (run.kind === "replan") showCalls(run);
  if (!published || run.state !== "succeeded") return;
  if (published !== replanOf) {  // another published plan: its own list, starting from a re-plan's if this is one
    replanOf = published;
    replanChanges = run.kind === "replan" ? structuredClone(run.options.changes) : [];
    $("replan-now").value = run.kind === "replan" && run.options.now ? run.options.now : "";
  }
  const trips = new Set([...plan.routes.flatMap(r => r.stops.filter(s => s.kind === "pickup").map(s => s.trip_id)),
                         ...plan.contracted.map(c => c.trip_id), ...plan.unserved.map(u => u.trip_id)]);
  $("replan-trip-ids").replaceChildren(...[...trips].sort().map(id => {
    const option = document.createElement("option");
    option.value = id;
    return option;
  }));
  const vehicles = [...new Set(plan.routes.filter(r => r.stops.length)
    .map(r => JSON.stringify([r.vehicle_type, r.vehicle_number])))].map(v => JSON.parse(v));
  $("replan-vehicle").replaceChildren(...vehicles.map(([type, number]) => {
    const option = element("option", "", type + " " + number);  // as plan.json and the calls number them
    option.value = JSON.stringify([type, number]);
    return option;
  }));
  listChanges();
}

function describeChange(change) {
  if (change.kind === "cancel") return "Cancel trip " + change.trip_id;
  if (change.kind === "vehicle_off") return change.vehicle_type + " " + change.vehicle_number + " off the road" +
    (change.from ? " from " + change.from : " from now");
  if (change.kind === "move_window") return "Move trip " + change.trip_id + "'s window: " + WINDOW_NAMES
    .filter(n => change[n]).map(n => n.replace("_", " ") + " " + change[n]).join(", ");
  const t = change.trip;
  return "Add trip " + t.id + " (" + t.service + (t.passenger ? ", " + t.passenger : "") + "): pickup from " +
    (t.earliest_pickup || "any time") + ", there by " + (t.latest_arrival || "any time");
}
function listChanges() {
  $("replan-changes").querySelector("tbody").replaceChildren(...replanChanges.map((change, k) => {
    const row = document.createElement("tr");
    row.insertCell().textContent = describeChange(change);
    const remove = element("button", "secondary remove-change", "Remove");
    remove.type = "button";
    remove.onclick = () => { replanChanges.splice(k, 1); listChanges(); };
    row.insertCell().append(remove);
    return row;
  }));
  $("replan-changes").hidden = replanChanges.length === 0;
  $("replan-changes-none").hidden = replanChanges.length > 0;
}
function addChange(change) { $("replan-error").textContent = ""; replanChanges.push(change); listChanges(); }
function needed(id, what) {
  const value = $(id).value.trim();
  if (!value) throw new Error("Give " + what + ".");
  return value;
}
function adding(make) {
  return () => { try { addChange(make()); } catch (e) { $("replan-error").textContent = e.message; } };
}
$("replan-add-cancel").onclick = adding(() => ({kind: "cancel", trip_id: needed("replan-cancel-trip", "a trip")}));
$("replan-add-move").onclick = adding(() => {
  const change = {kind: "move_window", trip_id: needed("replan-move-trip", "a trip")};
  for (const name of WINDOW_NAMES) if ($("replan-move-" + name).value) change[name] = $("replan-move-" + name).value;
  if (Object.keys(change).length === 2) throw new Error("Give at least one new time of the window.");
  return change;
});
$("replan-add-vehicle-off").onclick = adding(() => {
  const [type, number] = JSON.parse(needed("replan-vehicle", "a vehicle"));
  const change = {kind: "vehicle_off", vehicle_type: type, vehicle_number: number};
  if ($("replan-vehicle-from").value) change.from = $("replan-vehicle-from").value;
  return change;
});
$("replan-add-trip").onclick = adding(() => {
  const trip = {id: needed("replan-new-id", "the new trip's id"), service: needed("replan-new-service", "its service")};
  for (const name of ["passenger", "pickup_latitude", "pickup_longitude", "dropoff_latitude", "dropoff_longitude",
                      "earliest_pickup", "latest_arrival"]) {
    const value = $("replan-new-" + name).value.trim();
    if (value) trip[name] = value;
  }
  return {kind: "add", trip};
});

$("replan-run").onclick = async () => {
  $("replan-error").textContent = "";
  const body = {changes: replanChanges};
  if ($("replan-now").value) body.now = $("replan-now").value;
  $("replan-run").disabled = true;
  try {
    const run = await api("POST", "/v1/plans/" + encodeURIComponent(replanOf) + "/changes", JSON.stringify(body),
      {"Content-Type": "application/json", "Idempotency-Key": crypto.randomUUID()});
    $("replan-status").hidden = false;
    window.jobClient.follow(run, current => {
      const p = current.progress || {};
      $("replan-bar").style.width = Math.round(100 * (p.fraction || 0)) + "%";
      $("replan-status-text").textContent = current.state + (p.phase ? " · " + p.phase : "");
    }, async (current, failure) => {
      $("replan-run").disabled = false;
      $("replan-status").hidden = true;
      if (failure) $("replan-error").textContent = failure.message;
      else if (current.state === "succeeded") {
        job = current;  // the page's run: its downloads and views are the new plan's
        await show(current);
        $("calls-box").scrollIntoView();
      } else {
        $("replan-error").textContent = describe(current.error || {message: current.state});
      }
      listPast();
    });
  } catch (e) { $("replan-error").textContent = e.message; $("replan-run").disabled = false; }
};

// A re-plan's calls, each a passenger to phone: who, why, the old vehicle and time, the new.
async function showCalls(run) {
  const s = run.summary || {};
  $("calls-headline").textContent = s.calls + " calls · " + money(s.cost) + " a day (published " +
    money(s.published_cost) + ") · disruption price " + money(s.disruption) + " · by " + s.method;
  const calls = await api("GET", run.results["calls.json"]);
  tableRows($("calls"), calls.map(c => [c.passenger || c.trip_id, c.trip_id, c.reason, c.old_vehicle || "–",
    c.old_pickup || "–", c.new_vehicle || "–", c.new_pickup || "–"]));
  $("calls").hidden = calls.length === 0;
  $("calls-none").hidden = calls.length > 0;
}
