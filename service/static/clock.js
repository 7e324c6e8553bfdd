// The planner's "move the clock" section (templates/clock-section.html): submits a clock job to
// /v1/clock-jobs with the trip and fleet files chosen above (or the bundled example) and a shift
// file, follows its progress, then shows the report and the downloads. Self-contained: it shares
// only the page's inputs with planner.js. Text goes in as text, never as markup.
(() => {
  const $ = id => document.getElementById(id);
  let shiftsFile = null, clockJob = null, clockPolling = null;
  function clockHeaders(extra) {
    const h = Object.assign({}, extra || {});
    const keyInput = $("api-key");
    const key = keyInput ? keyInput.value.trim() : "";
    if (key) h["Authorization"] = "Bearer " + key;
    return h;
  }
  function describeError(error) {
    let text = error.message || "failed";
    if (error.where) text = error.where + ": " + text;
    if (error.problems) text += "\n" + error.problems.map(p =>
      [p.file, p.row && "row " + p.row, p.column && "column " + p.column].filter(Boolean).join(", ") + ": " +
      p.message).join("\n");
    return text;
  }
  async function call(method, url, body, extra) {
    const response = await fetch(url, {method, body, headers: clockHeaders(extra)});
    const data = await response.json().catch(() => ({message: response.statusText}));
    if (!response.ok) throw new Error(describeError(data));
    return data;
  }
  async function send(url, file) {
    const form = new FormData();
    form.append("file", file);
    return call("POST", url, form);
  }
  async function exampleFile(name) {
    return new File([await fetch("/examples/rutland/" + name).then(r => r.blob())], "rutland-" + name);
  }
  async function resultUrl(url) {  // results need the API key, which an iframe or a link cannot send
    const response = await fetch(url, {headers: clockHeaders()});
    return URL.createObjectURL(await response.blob());
  }
  $("clock-use-example").onclick = async () => {
    shiftsFile = await exampleFile("shifts.csv");
    $("clock-chosen").textContent = "The example's shift file: every school ±30 minutes, the day centres -15 to +30.";
  };
  $("clock-run").onclick = async () => {
    $("clock-error").textContent = "";
    const shifts = $("clock-shifts-file").files[0] || shiftsFile;
    if (!shifts) { $("clock-error").textContent = "Choose a shift file, or the example's."; return; }
    $("clock-run").disabled = true;
    try {
      const trips = $("trips-file").files[0] || await exampleFile("trips.csv");
      const fleet = $("fleet-file").files[0] || await exampleFile("fleet.json");
      const tripSet = await send("/v1/trip-sets", trips);
      const fleetRecord = await send("/v1/fleets", fleet);
      const body = {trip_set_id: tripSet.id, fleet_id: fleetRecord.id, shifts_csv: await shifts.text(),
                    time_limit_s: Number($("clock-seconds").value), seeds: Number($("clock-seeds").value),
                    most_moved: Number($("clock-most-moved").value)};
      if ($("clock-earliest-bell").value) body.earliest_bell = $("clock-earliest-bell").value;
      clockJob = await call("POST", "/v1/clock-jobs", JSON.stringify(body),
                            {"Content-Type": "application/json", "Idempotency-Key": crypto.randomUUID()});
      $("clock-status").hidden = false; $("clock-results").hidden = true;
      clockPolling = setInterval(poll, 1000); poll();
    } catch (e) { $("clock-error").textContent = e.message; $("clock-run").disabled = false; }
  };
  $("clock-cancel").onclick = async () => {
    if (clockJob) await call("POST", clockJob.cancel_url).catch(e => $("clock-error").textContent = e.message);
  };
  async function poll() {
    try { clockJob = await call("GET", clockJob.url); } catch (e) { $("clock-error").textContent = e.message; return; }
    const p = clockJob.progress || {};
    $("clock-bar").style.width = Math.round(100 * (p.fraction || 0)) + "%";
    $("clock-status-text").textContent = clockJob.state + (p.solves_total ? " · " + p.solves_done + " solves of " +
      p.solves_total + " known so far" : "");
    if (["succeeded", "failed", "cancelled"].includes(clockJob.state)) {
      clearInterval(clockPolling); $("clock-run").disabled = false;
      if (clockJob.state === "succeeded") show(clockJob);
      else $("clock-error").textContent = describeError(clockJob.error || {message: clockJob.state});
    }
  }
  async function show(finished) {
    const s = finished.summary || {};
    const pounds = x => (x < 0 ? "-£" : "£") + Math.abs(x).toFixed(2);
    $("clock-headline").textContent = (s.moves && s.moves.length ? "Move " + s.moves.join("; ") + ": saves " +
      pounds(s.saving) + " a day (" + pounds(s.saving_min) + " to " + pounds(s.saving_max) + " over the seeds), " +
      s.vehicles_before + " → " + s.vehicles_after + " vehicles." : "Move nothing: no set of moves saved money.");
    const urls = {};
    for (const [name, url] of Object.entries(finished.results)) urls[name] = await resultUrl(url);
    $("clock-report").src = urls["clock.html"];
    $("clock-downloads").replaceChildren(...Object.keys(finished.results).map(name => {
      const item = document.createElement("li"), link = document.createElement("a");
      link.href = urls[name]; link.download = name; link.textContent = name;
      item.append(link);
      return item;
    }));
    $("clock-results").hidden = false;
  }
})();
