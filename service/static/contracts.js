// The planner's "today's contracts" section (templates/contracts-section.html): submits a contracts
// job to /v1/contracts-jobs with the trip and fleet files chosen above (or the bundled example) and a
// register, then shows the headline figures, the largest findings, the report and the downloads.
(() => {
  const $ = id => document.getElementById(id);
  const client = window.jobClient;
  const SHOWN = 15;  // findings in the table; the report and findings.csv have them all
  let registerFile = null;  // the example's register as it loads: a run clicked meanwhile waits for it
  $("contracts-use-example").onclick = async () => {
    registerFile = client.exampleFile("register.csv");
    await registerFile;
    $("contracts-chosen").textContent = "The example's register: each service let separately, to six operators.";
  };
  $("contracts-run").onclick = async () => {
    $("contracts-error").textContent = "";
    const chosen = $("contracts-register-file").files[0];
    if (!chosen && !registerFile) { $("contracts-error").textContent = "Choose a contract register, or the example's."; return; }
    $("contracts-run").disabled = true;
    try {
      const register = chosen || await registerFile;
      const body = Object.assign(await client.dayIds(), {
        register_csv: await register.text(), complete: $("contracts-complete").checked,
        deadhead_per_mile: Number($("contracts-deadhead").value),
        longest_gap_minutes: Number($("contracts-longest-gap").value)});
      const job = await client.submit("/v1/contracts-jobs", body);
      $("contracts-status").hidden = false; $("contracts-results").hidden = true;
      client.follow(job, progress, ended);
    } catch (e) { $("contracts-error").textContent = e.message; $("contracts-run").disabled = false; }
  };
  function progress(job) {
    $("contracts-bar").style.width = Math.round(100 * ((job.progress || {}).fraction || 0)) + "%";
    $("contracts-status-text").textContent = job.state;
  }
  function ended(job, failure) {
    $("contracts-run").disabled = false;
    if (failure) $("contracts-error").textContent = failure.message;
    else if (job.state === "succeeded") { $("contracts-status").hidden = true; show(job); }
    else $("contracts-error").textContent = client.describeError(job.error || {message: job.state});
  }
  function cell(text) { const td = document.createElement("td"); td.textContent = text; return td; }
  function figure(label, value) {
    const box = document.createElement("div"), number = document.createElement("b");
    box.className = "figure"; box.textContent = label; number.textContent = value; box.append(number);
    return box;
  }
  async function show(finished) {
    const s = finished.summary || {}, pounds = client.pounds;
    $("contracts-figures").replaceChildren(
      figure("Contracts", s.contracts + " with " + s.operators + " operators"),
      figure("Price a day under the register", pounds(s.price_a_day)),
      figure("Duties one vehicle could chain", s.chains + ": " + pounds(s.chain_saving_a_day) + " a day, " +
             s.vehicles_saved_by_chains + " vehicles fewer"),
      figure("Duplicate runs", s.duplicates + ": " + pounds(s.duplicate_saving_a_day) + " a day"));
    const urls = await client.downloads(finished.results, $("contracts-downloads"));
    const findings = (await (await fetch(urls["findings.json"])).json()).findings
      .slice().sort((a, b) => b.saving_a_day - a.saving_a_day).slice(0, SHOWN);
    $("contracts-findings").tBodies[0].replaceChildren(...findings.map(f => {
      const row = document.createElement("tr");
      row.append(cell(f.kind), cell(f.contracts.join(", ")), cell(f.operators.join(", ")),
                 cell(pounds(f.saving_a_day)), cell(f.description));
      return row;
    }));
    $("contracts-report").src = urls["contracts.html"];
    $("contracts-results").hidden = false;
  }
})();
