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


@lru_cache(maxsize=1)
def page_templates():
    """The Jinja2 templates of the pages geodata writes (``templates/``: the map, run sheets),
    autoescaped, so that every string a template is given is shown as text."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    environment = Environment(loader=PackageLoader("geodata", "templates"), autoescape=select_autoescape(["html"]),
                              trim_blocks=True, lstrip_blocks=True)
    environment.filters["minute"] = lambda clock: str(clock)[:5]  # drivers read minutes: 08:25:40 -> 08:25
    return environment


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
    from markupsafe import Markup

    # what goes inside <script> and <style> is placed as is: Leaflet's own files, and JSON that
    # script_json has made safe there; everything else in the template is escaped
    return page_templates().get_template("map.html").render(
        title=title, leaflet_css=Markup(style), leaflet_js=Markup(script), data=Markup(script_json(data)),
        tiles=Markup(script_json(OSM_TILES)), tile_attribution=Markup(script_json(OSM_TILE_ATTRIBUTION)),
        attribution=Markup(script_json(_html_escape(attribution or ""))))


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
