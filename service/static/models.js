// The planner's "operating models" section (templates/models-section.html): submits a models job to
// /v1/models-jobs with the trip and fleet files chosen above (or the bundled example) and the register
// chosen in the contracts section (or the example's), follows it solve by solve, then shows each
// model's cost a year with its spread, the charts, the report and the downloads.
(() => {
  const $ = id => document.getElementById(id);
  const client = window.jobClient;
  let cancelJob = null;
  $("models-run").onclick = async () => {
    $("models-error").textContent = "";
    $("models-run").disabled = true;
    try {
      const register = $("contracts-register-file").files[0] || await client.exampleFile("register.csv");
      const body = Object.assign(await client.dayIds(), {
        register_csv: await register.text(), time_limit_s: Number($("models-seconds").value),
        seeds: Number($("models-seeds").value), margin_share: Number($("models-margin").value) / 100});
      const job = await client.submit("/v1/models-jobs", body);
      $("models-status").hidden = false; $("models-results").hidden = true;
      cancelJob = client.follow(job, progress, ended);
    } catch (e) { $("models-error").textContent = e.message; $("models-run").disabled = false; }
  };
  $("models-cancel").onclick = async () => {
    if (cancelJob) await cancelJob().catch(e => $("models-error").textContent = e.message);
  };
  function progress(job) {
    const p = job.progress || {};
    $("models-bar").style.width = Math.round(100 * (p.fraction || 0)) + "%";
    $("models-status-text").textContent = job.state + (p.solves_total ? " · " + p.solves_done + " of " +
      p.solves_total + " solves" : "");
  }
  function ended(job, failure) {
    $("models-run").disabled = false;
    if (failure) $("models-error").textContent = failure.message;
    else if (job.state === "succeeded") { $("models-status").hidden = true; show(job); }
    else $("models-error").textContent = client.describeError(job.error || {message: job.state});
  }
  function cell(text) { const td = document.createElement("td"); td.textContent = text; return td; }
  const number = x => x === null || x === undefined ? "–" : String(Math.round(x * 10) / 10);
  async function show(finished) {
    const pounds = client.pounds;
    const urls = await client.downloads(finished.results, $("models-downloads"));
    const result = await (await fetch(urls["models.json"])).json();
    const today = result.models.find(m => m.key === "today");
    const preferred = result.models.find(m => m.key === result.preferred);
    $("models-headline").textContent = preferred ? "Cheapest a year: " + preferred.title + ", " +
      pounds(preferred.cost_a_year.median) + (today && today !== preferred ? ", " +
      pounds(today.cost_a_year.median - preferred.cost_a_year.median) + " a year less than today's register" : "") +
      "." : "";
    $("models-table").tBodies[0].replaceChildren(...result.models.map(m => {
      const row = document.createElement("tr");
      row.append(cell(m.title), cell(pounds(m.cost_a_year.median)),
                 cell(pounds(m.cost_a_year.min) + " – " + pounds(m.cost_a_year.max)),
                 cell(pounds(m.cost_a_school_day.median)), cell(number(m.vehicles.median)), cell(number(m.drivers)),
                 cell(number(m.assistants)), cell(m.capital_a_year ? pounds(m.capital_a_year) : "–"),
                 cell(number(m.taxi_trips)), cell(number(m.ride_minutes_mean)));
      return row;
    }));
    $("models-charts").replaceChildren(...["annual-cost.svg", "tornado.svg"].filter(n => urls[n]).map(n => {
      const box = document.createElement("figure"), img = document.createElement("img");
      box.className = "chart"; img.src = urls[n]; img.alt = n;
      box.append(img);
      return box;
    }));
    $("models-report").src = urls["models.html"];
    $("models-results").hidden = false;
  }
})();
