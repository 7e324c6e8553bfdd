// The planner's "tender lots" section (templates/lots-section.html): submits a lots job to
// /v1/lots-jobs for the run shown in the results above (planner.js's `job`: a solve's plan.json or
// a comparison's integrated-plan.json), then shows each lot's figures, the pack's index and downloads.
(() => {
  const $ = id => document.getElementById(id);
  const client = window.jobClient;
  const PLANS = ["plan.json", "integrated-plan.json", "recommended-plan.json"];
  function shownPlan() {  // the run the results show, if it has a plan to let
    const shown = typeof job === "undefined" ? null : job;
    if (!shown || shown.state !== "succeeded") return null;
    const result = PLANS.find(name => shown.results && name in shown.results);
    return result ? {run: shown, result} : null;
  }
  $("lots-run").onclick = async () => {
    $("lots-error").textContent = "";
    const shown = shownPlan();
    if (!shown) { $("lots-error").textContent = "Plan the day (or run a comparison) first: lots are made from its plan."; return; }
    const groupBy = [["lots-by-time-band", "time_band"], ["lots-by-area", "area"], ["lots-by-vehicle-type", "vehicle_type"]]
      .filter(([id]) => $(id).checked).map(([, key]) => key);
    $("lots-run").disabled = true;
    try {
      const submitted = await client.submit("/v1/lots-jobs", {
        trip_set_id: shown.run.trip_set_id, fleet_id: shown.run.fleet_id, plan_job_id: shown.run.id,
        plan_result: shown.result, lots: Number($("lots-count").value), group_by: groupBy});
      $("lots-status").hidden = false; $("lots-results").hidden = true;
      client.follow(submitted, progress, ended);
    } catch (e) { $("lots-error").textContent = e.message; $("lots-run").disabled = false; }
  };
  function progress(lotsJob) {
    $("lots-bar").style.width = Math.round(100 * ((lotsJob.progress || {}).fraction || 0)) + "%";
    $("lots-status-text").textContent = lotsJob.state;
  }
  function ended(lotsJob, failure) {
    $("lots-run").disabled = false;
    if (failure) $("lots-error").textContent = failure.message;
    else if (lotsJob.state === "succeeded") { $("lots-status").hidden = true; show(lotsJob); }
    else $("lots-error").textContent = client.describeError(lotsJob.error || {message: lotsJob.state});
  }
  function cell(text) { const td = document.createElement("td"); td.textContent = text; return td; }
  async function show(finished) {
    const pounds = client.pounds;
    const urls = await client.downloads(finished.results, $("lots-downloads"));
    const pack = await (await fetch(urls["lots.json"])).json();
    const o = pack.overall;
    $("lots-headline").textContent = o.lots + " lots: " + o.vehicles + " vehicles, " + o.drivers + " drivers and " +
      o.assistants + " passenger assistants carry " + o.trips + " trips for an estimated " + pounds(o.price_a_day) +
      " a school day and " + pounds(o.price_a_year) + " a year" +
      (o.contracted_trips ? "; " + o.contracted_trips + " trips stay on per-trip contracts." : ".");
    $("lots-table").tBodies[0].replaceChildren(...pack.lots.map(lot => {
      const row = document.createElement("tr");
      row.append(cell(lot.name), cell(lot.area || ""), cell((lot.time_bands || []).join(", ")), cell(String(lot.vehicles)),
                 cell(String(lot.drivers)), cell(String(lot.assistants)), cell(String(lot.trips)),
                 cell(pounds(lot.price_a_day)), cell(pounds(lot.price_a_year)));
      return row;
    }));
    $("lots-index").src = urls["index.html"];
    $("lots-results").hidden = false;
  }
})();
