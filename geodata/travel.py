"""Travel times: one interface, three providers, chosen by configuration.

Every provider turns ``{location_id: (latitude, longitude)}`` into a ``TravelTable``:
the optimiser's ``TravelMatrix`` (seconds and metres) plus, per location, how far it
was from the road it was snapped to (0 for crow-fly).

- ``CrowFlyProvider``: no data needed; great-circle distance times a circuity factor,
  at a speed set by the area type. The default.
- ``RoadNetworkProvider``: an OpenStreetMap extract (``.osm.pbf``), see ``roads.py``.
- ``OsrmProvider``: an OSRM server's table service, for county or national scale.

``travel_provider({"provider": "road", "pbf": "rutland.osm.pbf"})`` builds one from a
configuration mapping (the command line and the service use it).
"""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Protocol

import numpy as np

from optimiser.errors import InputFormatError
from optimiser.domain.model import DEFAULT_CIRCUITY, TravelMatrix, great_circle_m

Points = Mapping[str, "tuple[float, float]"]


@dataclass(frozen=True)
class TravelTable:
    matrix: TravelMatrix
    #: Straight-line metres from each location to the road point it was snapped to.
    snap_m: Mapping[str, float]


class TravelProvider(Protocol):
    name: str

    def table(self, points: Points) -> TravelTable: ...


#: Average door-to-door driving speeds by area type (km/h). Guesses in line with DfT's
#: published average speeds on local 'A' roads (roughly 20-30 mph in towns, faster in the
#: country); changeable per provider. "mixed" grows from the urban speed on short hops
#: to the rural speed on long legs, which suits a shire county of market towns.
AREA_SPEED_KPH = {"urban": 24.0, "suburban": 32.0, "rural": 48.0}
MIXED_SHORT_LEG_M = 2_000.0
MIXED_LONG_LEG_M = 15_000.0


@dataclass(frozen=True)
class CrowFlyProvider:
    circuity: float = DEFAULT_CIRCUITY
    area_type: str = "mixed"
    #: Overrides the area type's speed when given.
    speed_kph: float | None = None
    name: str = "crow-fly"

    def __post_init__(self):
        if self.circuity < 1:
            raise InputFormatError("circuity must be at least 1", where="travel.circuity")
        if self.area_type not in (*AREA_SPEED_KPH, "mixed"):
            raise InputFormatError(f"unknown area type {self.area_type!r}; known: {sorted(AREA_SPEED_KPH) + ['mixed']}",
                                   where="travel.area_type")
        if self.speed_kph is not None and self.speed_kph <= 0:
            raise InputFormatError("speed must be positive", where="travel.speed_kph")

    def speed_kph_for(self, road_m: np.ndarray) -> np.ndarray:
        if self.speed_kph is not None:
            return np.full_like(road_m, self.speed_kph)
        if self.area_type != "mixed":
            return np.full_like(road_m, AREA_SPEED_KPH[self.area_type])
        share = np.clip((road_m - MIXED_SHORT_LEG_M) / (MIXED_LONG_LEG_M - MIXED_SHORT_LEG_M), 0, 1)
        return AREA_SPEED_KPH["urban"] + share * (AREA_SPEED_KPH["rural"] - AREA_SPEED_KPH["urban"])

    def table(self, points: Points) -> TravelTable:
        ids, straight = great_circle_m(points)
        metres = straight * self.circuity
        seconds = metres / (self.speed_kph_for(metres) / 3.6)
        return TravelTable(TravelMatrix(tuple(ids), seconds, metres), {i: 0.0 for i in ids})


class RoadNetworkProvider:
    """Fastest times over an OpenStreetMap extract's drivable roads."""

    name = "road"

    def __init__(self, pbf: str | Path, *, cache_dir: str | Path | None = None, speed_factor: float | None = None,
                 workers: int | None = None):
        from .roads import DEFAULT_SPEED_FACTOR, build_road_network

        self.pbf = Path(pbf)
        self.network = build_road_network(pbf, cache_dir=cache_dir,
                                          speed_factor=DEFAULT_SPEED_FACTOR if speed_factor is None else speed_factor)
        self.workers = workers

    def table(self, points: Points) -> TravelTable:
        snapped = self.network.snap(points)
        seconds, metres = self.network.node_matrix([s.node for s in snapped], workers=self.workers)
        ids = tuple(s.location_id for s in snapped)
        return TravelTable(TravelMatrix(ids, seconds, metres), {s.location_id: s.snap_m for s in snapped})


class OsrmProvider:
    """An OSRM server's ``table`` service (``osrm-routed`` with the car profile).

    OSRM refuses tables above its ``--max-table-size`` (100 locations by default), so a
    large table is asked for in blocks of ``chunk`` sources by ``chunk`` destinations.
    """

    name = "osrm"

    def __init__(self, url: str, *, profile: str = "driving", chunk: int = 50, timeout_s: float = 60.0):
        if not url.startswith(("http://", "https://")):
            raise InputFormatError("expected an http:// or https:// address", where="travel.url")
        if chunk < 1:
            raise InputFormatError("chunk must be at least 1", where="travel.chunk")
        self.url = url.rstrip("/")
        self.profile = profile
        self.chunk = chunk
        self.timeout_s = timeout_s

    def _block(self, coords: list[tuple[float, float]], sources: list[int], destinations: list[int]) -> dict:
        where = f"OSRM server {self.url}"
        path = ";".join(f"{lon:.6f},{lat:.6f}" for lat, lon in coords)
        query = urllib.parse.urlencode({"sources": ";".join(map(str, sources)),
                                        "destinations": ";".join(map(str, destinations)),
                                        "annotations": "duration,distance"})
        request = f"{self.url}/table/v1/{self.profile}/{path}?{query}"
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                body = json.loads(response.read().decode())
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read().decode()).get("message", exc.reason)
            except (ValueError, AttributeError):
                detail = exc.reason
            raise InputFormatError(f"table request refused ({exc.code}): {detail}", where=where) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise InputFormatError(f"cannot reach the server: {exc}", where=where) from None
        if body.get("code") != "Ok":
            raise InputFormatError(f"table request failed: {body.get('code')} {body.get('message', '')}".strip(),
                                   where=where)
        return body

    def table(self, points: Points) -> TravelTable:
        ids = list(points)
        n = len(ids)
        seconds = np.zeros((n, n))
        metres = np.zeros((n, n))
        snap_m = {i: 0.0 for i in ids}
        blocks = [list(range(start, min(start + self.chunk, n))) for start in range(0, n, self.chunk)]
        for rows in blocks:
            for cols in blocks:
                coords = [points[ids[i]] for i in rows] + [points[ids[j]] for j in cols]
                body = self._block(coords, list(range(len(rows))), list(range(len(rows), len(rows) + len(cols))))
                try:
                    durations = np.array(body["durations"], dtype=float)  # null (unreachable) becomes nan
                    distances = np.array(body.get("distances") or np.full(durations.shape, np.nan), dtype=float)
                    snapped = [float(body["sources"][k].get("distance", 0.0)) for k in range(len(rows))]
                except (KeyError, IndexError, TypeError, ValueError, AttributeError):
                    raise InputFormatError("its answer is not an OSRM table (durations, distances and sources "
                                           "for every point)", where=f"OSRM server {self.url}") from None
                if durations.shape != (len(rows), len(cols)) or np.isnan(durations).any() or np.isnan(distances).any():
                    bad = np.argwhere(np.isnan(durations) | np.isnan(distances))
                    pair = (ids[rows[bad[0][0]]], ids[cols[bad[0][1]]]) if len(bad) else ("?", "?")
                    raise InputFormatError(f"no route between {pair[0]} and {pair[1]}",
                                           where=f"OSRM server {self.url}")
                seconds[np.ix_(rows, cols)] = durations
                metres[np.ix_(rows, cols)] = distances
                for k, i in enumerate(rows):
                    snap_m[ids[i]] = max(snap_m[ids[i]], snapped[k])
        return TravelTable(TravelMatrix(tuple(ids), seconds, metres), snap_m)


def travel_provider(config: Mapping | None = None) -> TravelProvider:
    """A provider from configuration: ``{"provider": "crow-fly" | "road" | "osrm", ...}``.

    crow-fly: ``circuity``, ``area_type``, ``speed_kph``; road: ``pbf``, ``cache_dir``,
    ``speed_factor``; osrm: ``url``, ``profile``, ``chunk``."""
    config = dict(config or {})
    kind = config.pop("provider", "crow-fly")
    allowed = {"crow-fly": {"circuity", "area_type", "speed_kph"}, "road": {"pbf", "cache_dir", "speed_factor", "workers"},
               "osrm": {"url", "profile", "chunk", "timeout_s"}}
    if kind not in allowed:
        raise InputFormatError(f"unknown travel provider {kind!r}; known: {sorted(allowed)}", where="travel.provider")
    unknown = sorted(set(config) - allowed[kind])
    if unknown:
        raise InputFormatError(f"unknown setting(s) {unknown} for the {kind} provider; known: {sorted(allowed[kind])}",
                               where="travel")
    try:
        if kind == "crow-fly":
            return CrowFlyProvider(**config)
        if kind == "road":
            if "pbf" not in config:
                raise InputFormatError("the road provider needs 'pbf', the path of an .osm.pbf extract",
                                       where="travel.pbf")
            return RoadNetworkProvider(config.pop("pbf"), **config)
        if "url" not in config:
            raise InputFormatError("the osrm provider needs 'url'", where="travel.url")
        return OsrmProvider(config.pop("url"), **config)
    except TypeError as exc:
        raise InputFormatError(f"wrong setting: {exc}", where="travel") from None

