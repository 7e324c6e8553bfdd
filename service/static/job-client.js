// What the page's self-contained sections (the clock advisor, today's contracts) share: calls to the
// /v1 API with the page's API key, uploads, the bundled example's files, results as local URLs, a
// job followed to its end, and a job's files offered as downloads. Text goes in as text, never as markup.
window.jobClient = (() => {
  const $ = id => document.getElementById(id);
  function headers(extra) {
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
      [p.file, p.row && "row " + p.row, p.contract_id && "contract " + p.contract_id,
       p.column && "column " + p.column].filter(Boolean).join(", ") + ": " + p.message).join("\n");
    return text;
  }
  async function call(method, url, body, extra) {
    const response = await fetch(url, {method, body, headers: headers(extra)});
    const data = await response.json().catch(() => ({message: response.statusText}));
    if (!response.ok) throw new Error(describeError(data));
    return data;
  }
  async function send(url, file) {
    const form = new FormData();
    form.append("file", file);
    return call("POST", url, form);
  }
  async function exampleFile(name, example = "rutland") {
    const response = await fetch("/examples/" + example + "/" + name);
    if (!response.ok) throw new Error("the bundled example has no " + name + " here");
    return new File([await response.blob()], example + "-" + name);
  }
  async function resultUrl(url) {  // results need the API key, which an iframe or a link cannot send
    const response = await fetch(url, {headers: headers()});
    return URL.createObjectURL(await response.blob());
  }
  async function dayIds() {  // the trip and fleet files chosen at the top of the page, or the example's
    const trips = $("trips-file").files[0] || await exampleFile("trips.csv");
    const fleet = $("fleet-file").files[0] || await exampleFile("fleet.json");
    return {trip_set_id: (await send("/v1/trip-sets", trips)).id, fleet_id: (await send("/v1/fleets", fleet)).id};
  }
  async function submit(url, body) {
    return call("POST", url, JSON.stringify(body),
                {"Content-Type": "application/json", "Idempotency-Key": crypto.randomUUID()});
  }
  // Follows a job to its end: onProgress(job) after each status read while it runs, then onEnd(job)
  // once, when it has ended. One read at a time: the next is asked for a second after the last answer,
  // so a slow server never has two reads of one job in flight (two could both see it end and show
  // its results twice, the second over whatever the planner opened meanwhile). A read that fails is
  // tried again; after a few failures in a row the job is given up as onEnd(null, error).
  function follow(job, onProgress, onEnd, everyMs = 1000, failuresAllowed = 5) {
    let current = job, failures = 0;
    async function read() {
      try { current = await call("GET", current.url); failures = 0; } catch (e) {
        if (++failures > failuresAllowed) { onEnd(null, e); return; }
        setTimeout(read, everyMs);
        return;
      }
      onProgress(current);
      if (["succeeded", "failed", "cancelled"].includes(current.state)) onEnd(current);
      else setTimeout(read, everyMs);
    }
    setTimeout(read, 0);
    return () => call("POST", current.cancel_url);
  }
  async function downloads(results, into) {  // {name: local URL} of every result, listed as links
    const urls = {};
    for (const [name, url] of Object.entries(results)) urls[name] = await resultUrl(url);
    into.replaceChildren(...Object.keys(urls).map(name => {
      const item = document.createElement("li"), link = document.createElement("a");
      link.href = urls[name]; link.download = name; link.textContent = name;
      item.append(link);
      return item;
    }));
    return urls;
  }
  const pounds = x => (x < 0 ? "-£" : "£") +
    Math.abs(x).toLocaleString("en-GB", {minimumFractionDigits: 2, maximumFractionDigits: 2});
  return {call, send, exampleFile, resultUrl, dayIds, submit, follow, downloads, describeError, pounds};
})();
