"""A self-contained interactive map of a plan: one HTML file with Leaflet and the data inside.

Leaflet's script and style sheet are inlined (from the XStatic-Leaflet package), so the map
opens from a file, an e-mail or a folder with no web server and no CDN; only the background
tiles come from OpenStreetMap's tile servers, with their attribution shown. Without a
network the routes, stops, pop-ups and legend still work on a blank background.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Mapping

OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_TILE_ATTRIBUTION = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'


@lru_cache(maxsize=1)
def leaflet_assets() -> tuple[str, str]:
    """(leaflet.js, leaflet.css) of the installed XStatic-Leaflet."""
    import xstatic.pkg.leaflet as leaflet

    base = Path(leaflet.BASE_DIR)
    return (base / "leaflet.js").read_text(encoding="utf-8"), (base / "leaflet.css").read_text(encoding="utf-8")


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%(title)s</title>
<style>%(leaflet_css)s</style>
<style>
html,body{height:100%%;margin:0;font:14px system-ui,-apple-system,"Segoe UI",sans-serif}
#map{position:absolute;inset:0}
.legend{background:#fff;padding:8px 10px;border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.3);line-height:1.5;
 max-height:60vh;overflow:auto}
.legend h4{margin:0 0 4px;font-size:13px}.legend label{display:block;cursor:pointer;white-space:nowrap}
.dot{display:inline-block;width:10px;height:10px;border-radius:50%%;margin-right:6px;vertical-align:middle}
.bar{display:inline-block;width:16px;height:4px;margin-right:6px;vertical-align:middle}
.summary{font-size:12px;color:#444;margin-bottom:6px}
</style>
<script>%(leaflet_js)s</script>
</head><body><div id="map"></div>
<script>
const data = %(data)s;
const map = L.map("map", {preferCanvas: true, zoomSnap: 0.25});
L.tileLayer(%(tiles)s, {maxZoom: 19, attribution: %(tile_attribution)s}).addTo(map);
map.attributionControl.addAttribution(%(attribution)s);
const esc = s => String(s ?? "").replace(/[&<>"']/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;","'":"&#39;"})[c]);
const layers = {};
const bounds = L.latLngBounds([]);
for (const route of data.routes) {
  const group = L.layerGroup();
  const line = L.polyline(route.path, {color: route.colour, weight: 4, opacity: 0.8})
    .bindTooltip(esc(route.vehicle) + ": " + esc(route.services) + ", " + route.km.toFixed(1) + " km, £" + route.cost.toFixed(2));
  line.addTo(group);
  for (const p of route.path) bounds.extend(p);
  for (const s of route.stops) {
    if (s.kind === "start" || s.kind === "end") continue;
    L.circleMarker([s.latitude, s.longitude], {radius: s.kind === "pickup" ? 6 : 4, color: route.colour, weight: 2,
        fillColor: data.service_colours[s.service] || "#444", fillOpacity: 0.9})
      .bindPopup("<b>" + esc(route.vehicle) + "</b>, stop " + s.stop_number + "<br>" +
        (s.kind === "pickup" ? "Pick up " : "Drop off ") + esc(s.passenger) + " (" + esc(s.service) + ")<br>at " +
        esc(s.place) + "<br>" + esc(s.service_start) + " (arrives " + esc(s.arrival) + ")<br>" + esc(s.needs) +
        (s.notes ? "<br><i>" + esc(s.notes) + "</i>" : ""))
      .addTo(group);
  }
  group.addTo(map);
  layers[route.vehicle] = {group, colour: route.colour, label: route.vehicle + " (" + route.trips + " trips)"};
}
if (data.contracted.length) {
  const group = L.layerGroup();
  for (const c of data.contracted) {
    L.polyline(c.path, {color: "#555", weight: 2, dashArray: "6 6"})
      .bindPopup("<b>" + esc(c.trip_id) + "</b> (" + esc(c.service) + ")<br>" + esc(c.tariff) + ": £" +
        c.price.toFixed(2) + "<br>" + esc(c.reason)).addTo(group);
    for (const p of c.path) bounds.extend(p);
  }
  group.addTo(map);
  layers["__contracted"] = {group, colour: "#555", label: "Contracted (" + data.contracted.length + " trips)", dashed: true};
}
for (const d of data.depots) {
  L.marker([d.latitude, d.longitude], {icon: L.divIcon({className: "", html:
    '<div style="width:14px;height:14px;background:#333;border:2px solid #fff;box-shadow:0 0 2px #000"></div>',
    iconSize: [18, 18]})}).bindTooltip("Depot: " + esc(d.place)).addTo(map);
  bounds.extend([d.latitude, d.longitude]);
}
if (bounds.isValid()) map.fitBounds(bounds.pad(0.05)); else map.setView([54.0, -2.0], 6);
const legend = L.control({position: "topright"});
legend.onAdd = () => {
  const div = L.DomUtil.create("div", "legend");
  let html = '<div class="summary">' + esc(data.summary) + "</div><h4>Services (stop colour)</h4>";
  for (const [name, colour] of Object.entries(data.service_colours))
    html += '<div><span class="dot" style="background:' + colour + '"></span>' + esc(name) + "</div>";
  html += "<h4>Vehicles (line colour)</h4>";
  for (const [key, layer] of Object.entries(layers))
    html += '<label><input type="checkbox" checked data-layer="' + esc(key) + '"> <span class="bar" style="background:' +
      layer.colour + (layer.dashed ? ';background:repeating-linear-gradient(90deg,#555 0 4px,transparent 4px 7px)' : "") +
      '"></span>' + esc(layer.label) + "</label>";
  div.innerHTML = html;
  L.DomEvent.disableClickPropagation(div);
  div.addEventListener("change", e => {
    const layer = layers[e.target.dataset.layer];
    if (layer) e.target.checked ? layer.group.addTo(map) : map.removeLayer(layer.group);
  });
  return div;
};
legend.addTo(map);
L.control.scale({imperial: true}).addTo(map);
</script></body></html>
"""


def plan_map_html(layers: Mapping, *, title: str, summary: str, service_colours: Mapping[str, str],
                  vehicle_colours: Mapping[str, str], attribution: str | None) -> str:
    stops, routes, contracted = layers["stops"], layers["routes"], layers["contracted"]
    stop_records = stops.drop(columns="geometry").to_dict("records") if len(stops) else []
    by_vehicle: dict[str, list] = {}
    for s in stop_records:
        by_vehicle.setdefault(s["vehicle"], []).append(
            {k: s[k] for k in ("kind", "stop_number", "passenger", "service", "place", "service_start", "arrival",
                               "needs", "notes", "latitude", "longitude")})
    data = {
        "summary": summary, "service_colours": dict(service_colours),
        "routes": [{"vehicle": r["vehicle"], "colour": vehicle_colours[r["vehicle"]], "services": r["services"],
                    "km": r["km"], "cost": r["cost"], "trips": r["trips"],
                    "path": [[round(y, 6), round(x, 6)] for x, y in r["geometry"].coords],
                    "stops": sorted(by_vehicle.get(r["vehicle"], []), key=lambda s: s["stop_number"])}
                   for r in routes.to_dict("records")],
        "contracted": [{"trip_id": c["trip_id"], "service": c["service"], "tariff": c["tariff"], "price": c["price"],
                        "reason": c["reason"], "path": [[round(y, 6), round(x, 6)] for x, y in c["geometry"].coords]}
                       for c in contracted.to_dict("records")],
        "depots": [{"place": s["place"], "latitude": s["latitude"], "longitude": s["longitude"]}
                   for s in {s["location"]: s for s in stop_records if s["kind"] == "start"}.values()],
    }
    script, style = leaflet_assets()
    return PAGE % {"title": _html_escape(title), "leaflet_css": style, "leaflet_js": script,
                   "data": script_json(data), "tiles": script_json(OSM_TILES),
                   "tile_attribution": script_json(OSM_TILE_ATTRIBUTION),
                   "attribution": script_json(_html_escape(attribution or ""))}


#: Written as JSON escapes inside an inline script: "<" and ">" because "</script" ends the script
#: and "<!--" followed by "<script" makes the parser ignore the next "</script>" (the rest of the page
#: is swallowed); "&" for pages read as XHTML; U+2028/U+2029 because older JavaScript ends a string there.
_SCRIPT_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def script_json(value) -> str:
    """``value`` as JSON that is safe inside an HTML <script> element whatever its strings hold."""
    text = json.dumps(value, default=str)
    return "".join(_SCRIPT_ESCAPES.get(ch, ch) for ch in text)


def _html_escape(text: str) -> str:
    import html

    return html.escape(text, quote=True)
