// The planner's "plan a week" section (templates/week-section.html): uploads a week's trip file and
// a fleet (or the bundled Rutland week), submits a week job to /v1/week-jobs, follows it solve by
// solve, then shows the week's figures and charts, each vehicle's duties by day and the continuity
// of regular passengers by service.
(() => {
  const $ = id => document.getElementById(id);
  const client = window.jobClient;
  let example = null, cancelJob = null;  // the bundled week as it loads: a run clicked meanwhile waits for it
  $("week-use-example").onclick = async () => {
    example = Promise.all([client.exampleFile("trips.csv", "rutland-week"),
                           client.exampleFile("fleet.json", "rutland-week")]);
    await example;
    $("week-chosen").textContent = "The Rutland week: the example's day, Monday to Friday, 80% of passengers regular.";
  };
  $("week-run").onclick = async () => {
    $("week-error").textContent = "";
    const chosenTrips = $("week-trips-file").files[0], chosenFleet = $("week-fleet-file").files[0];
    if (!(chosenTrips && chosenFleet) && !example) {
      $("week-error").textContent = "Choose a week's trip file and a fleet, or the bundled week."; return;
    }
    $("week-run").disabled = true;
    try {
      const [exampleTrips, exampleFleet] = (chosenTrips && chosenFleet) ? [] : await example;
      const trips = chosenTrips || exampleTrips, fleet = chosenFleet || exampleFleet;
      const body = {trip_set_id: (await client.send("/v1/trip-sets", trips)).id,
                    fleet_id: (await client.send("/v1/fleets", fleet)).id,
                    time_limit_s: Number($("week-seconds").value), tolerance_minutes: Number($("week-tolerance").value),
                    compare_independent: $("week-alone").checked, [$("week-school").value]: ["school"]};
      const job = await client.submit("/v1/week-jobs", body);
      $("week-status").hidden = false; $("week-results").hidden = true;
      cancelJob = client.follow(job, progress, ended);
    } catch (e) { $("week-error").textContent = e.message; $("week-run").disabled = false; }
  };
  $("week-cancel").onclick = async () => {
    if (cancelJob) await cancelJob().catch(e => $("week-error").textContent = e.message);
  };
  function progress(job) {
    const p = job.progress || {};
    $("week-bar").style.width = Math.round(100 * (p.fraction || 0)) + "%";
    $("week-status-text").textContent = job.state + (p.solves_total ? " · " + p.solves_done + " of " +
      p.solves_total + " solves" : "");
  }
  function ended(job, failure) {
    $("week-run").disabled = false;
    if (failure) $("week-error").textContent = failure.message;
    else if (job.state === "succeeded") { $("week-status").hidden = true; show(job); }
    else $("week-error").textContent = client.describeError(job.error || {message: job.state});
  }
  function text(tag, value) { const e = document.createElement(tag); e.textContent = value; return e; }
  function figure(label, value) { const box = text("div", label); box.className = "figure"; box.append(text("b", value)); return box; }
  const percent = x => x === null || x === undefined ? "–" : (100 * x).toFixed(1) + "%";
  function clock(seconds) {
    const minutes = Math.round(seconds / 60);
    return String(Math.floor(minutes / 60)).padStart(2, "0") + ":" + String(minutes % 60).padStart(2, "0");
  }
  async function show(finished) {
    const s = finished.summary, pounds = client.pounds;
    const urls = await client.downloads(finished.results, $("week-downloads"));
    const week = await (await fetch(urls["week.json"])).json();
    $("week-figures").replaceChildren(
      figure("The week, " + week.days.length + " days", pounds(week.cost)),
      ...(week.independent_cost === null ? [] : [
        figure("Each day planned alone", pounds(week.independent_cost)),
        figure("What consistency costs", (100 * week.premium).toFixed(2) + "%")]),
      figure("Regular " + week.consistent_services.join(", ") + " passengers kept steady", percent(s.consistent_share)));
    $("week-charts").replaceChildren(...["chart-week-cost.svg", "chart-continuity.svg"].filter(n => urls[n]).map(n => {
      const box = document.createElement("figure"), img = document.createElement("img");
      box.className = "chart"; img.src = urls[n]; img.alt = n;
      box.append(img);
      return box;
    }));
    // each vehicle's duties by day, from the day plans
    const byVehicle = new Map();
    for (const day of week.days) {
      const plan = await (await fetch(urls[day + "-plan.json"])).json();
      for (const route of plan.routes.filter(r => r.stops.length)) {
        const name = route.vehicle_type + " " + (route.vehicle_number + 1);
        if (!byVehicle.has(name)) byVehicle.set(name, {});
        const cell = byVehicle.get(name)[day] || (byVehicle.get(name)[day] = {duties: [], trips: 0});
        cell.duties.push(clock(route.stops[0].departure_s) + "–" + clock(route.stops[route.stops.length - 1].arrival_s));
        cell.trips += route.stops.filter(stop => stop.kind === "pickup").length;
      }
    }
    const head = $("week-vehicles").tHead.rows[0];
    head.replaceChildren(text("th", "Vehicle"), ...week.days.map(day => text("th", day)));
    const names = [...byVehicle.keys()].sort((a, b) => a.localeCompare(b, "en", {numeric: true}));
    $("week-vehicles").tBodies[0].replaceChildren(...names.map(name => {
      const row = document.createElement("tr");
      row.append(text("td", name), ...week.days.map(day => {
        const cell = byVehicle.get(name)[day];
        return text("td", cell ? cell.duties.join(", ") + " · " + cell.trips + " trips" : "–");
      }));
      return row;
    }));
    const alone = (week.independent_continuity || {}).by_service || {};
    $("week-continuity").tBodies[0].replaceChildren(...Object.entries(week.continuity.by_service).map(([service, f]) => {
      const row = document.createElement("tr");
      row.append(text("td", service), text("td", String(f.regular_passengers)), text("td", percent(f.one_vehicle_share)),
                 text("td", percent(f.within_tolerance_share)), text("td", percent(f.both_share)),
                 text("td", f.largest_spread_minutes.toFixed(0)),
                 text("td", alone[service] ? percent(alone[service].both_share) : "–"));
      return row;
    }));
    $("week-results").hidden = false;
  }
})();
