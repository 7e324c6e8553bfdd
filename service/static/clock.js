// The planner's "move the clock" section (templates/clock-section.html): submits a clock job to
// /v1/clock-jobs with the trip and fleet files chosen above (or the bundled example) and a shift
// file, follows its progress, then shows the report and the downloads.
(() => {
  const $ = id => document.getElementById(id);
  const client = window.jobClient;
  let shiftsFile = null, cancelJob = null;  // the example's shift file as it loads: a run clicked meanwhile waits
  $("clock-use-example").onclick = async () => {
    shiftsFile = client.exampleFile("shifts.csv");
    await shiftsFile;
    $("clock-chosen").textContent = "The example's shift file: every school ±30 minutes, the day centres -15 to +30.";
  };
  $("clock-run").onclick = async () => {
    $("clock-error").textContent = "";
    const chosen = $("clock-shifts-file").files[0];
    if (!chosen && !shiftsFile) { $("clock-error").textContent = "Choose a shift file, or the example's."; return; }
    $("clock-run").disabled = true;
    try {
      const shifts = chosen || await shiftsFile;
      const body = Object.assign(await client.dayIds(), {
        shifts_csv: await shifts.text(), time_limit_s: Number($("clock-seconds").value),
        seeds: Number($("clock-seeds").value), most_moved: Number($("clock-most-moved").value)});
      if ($("clock-earliest-bell").value) body.earliest_bell = $("clock-earliest-bell").value;
      const job = await client.submit("/v1/clock-jobs", body);
      $("clock-status").hidden = false; $("clock-results").hidden = true;
      cancelJob = client.follow(job, progress, ended);
    } catch (e) { $("clock-error").textContent = e.message; $("clock-run").disabled = false; }
  };
  $("clock-cancel").onclick = async () => {
    if (cancelJob) await cancelJob().catch(e => $("clock-error").textContent = e.message);
  };
  function progress(job) {
    const p = job.progress || {};
    $("clock-bar").style.width = Math.round(100 * (p.fraction || 0)) + "%";
    $("clock-status-text").textContent = job.state + (p.solves_total ? " · " + p.solves_done + " solves of " +
      p.solves_total + " known so far" : "");
  }
  function ended(job, failure) {
    $("clock-run").disabled = false;
    if (failure) $("clock-error").textContent = failure.message;
    else if (job.state === "succeeded") show(job);
    else $("clock-error").textContent = client.describeError(job.error || {message: job.state});
  }
  async function show(finished) {
    const s = finished.summary || {};
    const pounds = client.pounds;
    $("clock-headline").textContent = (s.moves && s.moves.length ? "Move " + s.moves.join("; ") + ": saves " +
      pounds(s.saving) + " a day (" + pounds(s.saving_min) + " to " + pounds(s.saving_max) + " over the seeds), " +
      s.vehicles_before + " → " + s.vehicles_after + " vehicles." : "Move nothing: no set of moves saved money.");
    const urls = await client.downloads(finished.results, $("clock-downloads"));
    $("clock-report").src = urls["clock.html"];
    $("clock-results").hidden = false;
  }
})();
