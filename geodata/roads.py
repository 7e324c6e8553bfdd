"""Road networks from OpenStreetMap extracts, and travel times over them.

``build_road_network(path)`` reads any ``.osm.pbf`` extract with pyrosm, keeps
the car-drivable ways, gives every segment a speed (its ``maxspeed`` tag, or a
UK default for its road class), respects one-way streets and keeps the largest
strongly connected component, so that every snapped location can reach every
other. The result is cached on disk keyed by the extract's content.

``RoadNetwork.matrix(points)`` snaps locations to their nearest road node and
computes many-to-many fastest times with their distances in one pass of
scipy's Dijkstra per source over a graph contracted to its junctions.
"""
from __future__ import annotations

import hashlib
import mmap
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from optimiser.errors import InputFormatError
from optimiser.domain.model import EARTH_RADIUS_M

MPH_TO_KPH = 1.609344

#: Typical driving speeds (km/h) by road class, as OSRM's default car profile has them
#: (profiles/car.lua). They also cap the speed taken from a ``maxspeed`` tag: a 60 mph
#: single-carriageway A road is not driven at 60 mph from end to end.
CLASS_SPEED_KPH = {
    "motorway": 90.0, "motorway_link": 45.0, "trunk": 85.0, "trunk_link": 40.0,
    "primary": 65.0, "primary_link": 30.0, "secondary": 55.0, "secondary_link": 25.0,
    "tertiary": 40.0, "tertiary_link": 20.0, "unclassified": 25.0, "road": 25.0,
    "residential": 25.0, "living_street": 10.0, "service": 15.0, "track": 5.0,
}
FALLBACK_SPEED_KPH = 25.0
#: A tagged limit is a ceiling, not an average: OSRM's car profile drives at 0.8 of it.
DEFAULT_SPEED_FACTOR = 0.8
#: UK ``maxspeed`` values that name a limit instead of giving a number.
NAMED_LIMITS_KPH = {
    "gb:nsl_single": 60 * MPH_TO_KPH, "gb:nsl_dual": 70 * MPH_TO_KPH, "gb:motorway": 70 * MPH_TO_KPH,
    "uk:nsl_single": 60 * MPH_TO_KPH, "uk:nsl_dual": 70 * MPH_TO_KPH, "uk:motorway": 70 * MPH_TO_KPH,
    "national": 60 * MPH_TO_KPH, "gb:urban": 30 * MPH_TO_KPH, "walk": 5.0,
}
#: Time and distance travel together through Dijkstra as one exact integer in a float64:
#: centiseconds * DISTANCE_RADIX + decimetres. Paths are compared by time first and then by
#: distance, and both are recovered exactly (products stay far below 2**53).
CENTISECONDS_PER_SECOND = 100
DECIMETRES_PER_METRE = 10
DISTANCE_RADIX = 2 ** 27  # 13,400 km in decimetres: longer than any road journey
NETWORK_FORMAT_VERSION = 2


def parse_maxspeed_kph(value) -> float | None:
    """``"30 mph"`` -> 48.3, ``"50"`` -> 50, ``"GB:nsl_single"`` -> 96.6; None when unusable."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip().lower().split(";")[0].strip()
    if text in NAMED_LIMITS_KPH:
        return NAMED_LIMITS_KPH[text]
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph)?", text)
    if not match:
        return None
    number = float(match.group(1))
    if number <= 0:
        return None
    return number * MPH_TO_KPH if match.group(2) == "mph" else number


def segment_speed_kph(maxspeed, highway: str, speed_factor: float = DEFAULT_SPEED_FACTOR) -> float:
    """The speed a segment is driven at: its class speed, lowered to ``speed_factor`` times
    its tagged limit where that is lower."""
    class_speed = CLASS_SPEED_KPH.get(str(highway), FALLBACK_SPEED_KPH)
    limit = parse_maxspeed_kph(maxspeed)
    return class_speed if limit is None else min(class_speed, limit * speed_factor)


def _directions(oneway, highway, junction) -> tuple[bool, bool]:
    """(forward, backward) allowed along the way's node order."""
    text = "" if oneway is None or (isinstance(oneway, float) and np.isnan(oneway)) else str(oneway).lower()
    if text in ("yes", "true", "1"):
        return True, False
    if text in ("-1", "reverse"):
        return False, True
    if text in ("no", "false", "0"):
        return True, True
    implied = str(highway) in ("motorway",) or str(junction).lower() in ("roundabout", "circular")
    return (True, False) if implied else (True, True)


@dataclass(frozen=True)
class SnappedPoint:
    location_id: str
    node: int  # index into the network's nodes
    snap_m: float  # straight-line distance from the point to that road node


@dataclass
class RoadNetwork:
    """A directed, strongly connected car network: nodes with coordinates, arcs with
    length (metres) and free-flow time (seconds)."""

    node_osm_ids: np.ndarray
    latitude: np.ndarray
    longitude: np.ndarray
    arc_tail: np.ndarray
    arc_head: np.ndarray
    arc_length_m: np.ndarray
    arc_time_s: np.ndarray
    source: str = ""
    _tree: cKDTree | None = field(default=None, init=False, repr=False)

    # -- sizes and geometry --------------------------------------------------------------------
    @property
    def node_count(self) -> int:
        return len(self.node_osm_ids)

    @property
    def arc_count(self) -> int:
        return len(self.arc_tail)

    def _xy(self, lat, lon) -> np.ndarray:
        """Local equirectangular metres: accurate to well under 1% across a county."""
        lat0 = np.radians(float(np.mean(self.latitude)))
        return np.column_stack([np.radians(lon) * np.cos(lat0) * EARTH_RADIUS_M, np.radians(lat) * EARTH_RADIUS_M])

    def bounds(self) -> tuple[float, float, float, float]:
        """(min latitude, min longitude, max latitude, max longitude)."""
        return (float(self.latitude.min()), float(self.longitude.min()), float(self.latitude.max()),
                float(self.longitude.max()))

    def snap(self, points: Mapping[str, tuple[float, float]]) -> list[SnappedPoint]:
        """The nearest road node of each (latitude, longitude), with the distance to it."""
        if self._tree is None:
            self._tree = cKDTree(self._xy(self.latitude, self.longitude))
        ids = list(points)
        if not ids:
            return []
        lat = np.array([points[i][0] for i in ids], dtype=float)
        lon = np.array([points[i][1] for i in ids], dtype=float)
        dist, node = self._tree.query(self._xy(lat, lon))
        return [SnappedPoint(i, int(n), float(d)) for i, n, d in zip(ids, node, dist)]

    # -- contraction -----------------------------------------------------------------------------
    def contracted(self, keep: Sequence[int]) -> tuple[np.ndarray, sp.csr_matrix]:
        """The graph over junctions and the ``keep`` nodes, exact for shortest paths between them.

        Two reductions, both exact: dead ends (side roads leading only to nodes nobody needs)
        are cut off, repeatedly; then chains of pass-through nodes (one way in and one way
        out, or the same two neighbours both ways) become one arc whose weight is the exact
        sum (time and distance packed together). Returns the kept node indices (position =
        index in the contracted graph) and the graph."""
        n = self.node_count
        needed = np.zeros(n, dtype=bool)
        needed[np.asarray(keep, dtype=int)] = True
        tail, head, weight = self.arc_tail, self.arc_head, self._packed_weights()
        node_of_pair, neighbour_of_pair = _neighbour_pairs(tail, head, n)
        neighbours = np.bincount(node_of_pair, minlength=n)
        alive = np.ones(n, dtype=bool)
        while True:  # a dead end reaches one neighbour only; cutting it may expose another
            dead = alive & ~needed & (neighbours <= 1)
            if not dead.any():
                break
            alive &= ~dead
            lost = dead[neighbour_of_pair] & alive[node_of_pair]
            neighbours -= np.bincount(node_of_pair[lost], minlength=n)
            keep_pair = ~dead[neighbour_of_pair] & ~dead[node_of_pair]
            node_of_pair, neighbour_of_pair = node_of_pair[keep_pair], neighbour_of_pair[keep_pair]
        arcs = alive[tail] & alive[head]
        tail, head, weight = tail[arcs], head[arcs], weight[arcs]
        out_deg = np.bincount(tail, minlength=n)
        in_deg = np.bincount(head, minlength=n)
        passable = ((neighbours == 2) & (((out_deg == 1) & (in_deg == 1)) | ((out_deg == 2) & (in_deg == 2)))
                    & ~needed & alive)
        # a one-way node whose single in and out neighbour coincide is a dead end, not a chain
        kept = np.flatnonzero(alive & ~passable)
        compact = np.full(n, -1, dtype=np.int64)
        compact[kept] = np.arange(len(kept))
        order = np.argsort(tail, kind="stable")
        tails = tail[order]
        heads = head[order].tolist()
        weights = weight[order].tolist()
        starts = np.searchsorted(tails, np.arange(n + 1)).tolist()
        out_t, out_h, out_w = [], [], []
        passable_list = passable.tolist()
        for u in kept.tolist():
            for a in range(starts[u], starts[u + 1]):
                prev, x, w = u, heads[a], weights[a]
                steps = 0
                while passable_list[x] and steps <= n:
                    lo, hi = starts[x], starts[x + 1]
                    nxt = lo if heads[lo] != prev or hi - lo == 1 else lo + 1
                    prev, x, w = x, heads[nxt], w + weights[nxt]
                    steps += 1
                if x != u:
                    out_t.append(u)
                    out_h.append(x)
                    out_w.append(w)
        out_t = compact[np.array(out_t, dtype=np.int64)]
        out_h = compact[np.array(out_h, dtype=np.int64)]
        out_w = np.array(out_w, dtype=float)
        # parallel arcs: keep the cheapest (a sparse matrix would add them up)
        order = np.lexsort((out_w, out_h, out_t))
        out_t, out_h, out_w = out_t[order], out_h[order], out_w[order]
        first = np.ones(len(out_t), dtype=bool)
        first[1:] = (out_t[1:] != out_t[:-1]) | (out_h[1:] != out_h[:-1])
        graph = sp.csr_matrix((out_w[first], (out_t[first], out_h[first])), shape=(len(kept), len(kept)))
        return kept, graph

    def _packed_weights(self) -> np.ndarray:
        centiseconds = np.maximum(1, np.rint(self.arc_time_s * CENTISECONDS_PER_SECOND))
        decimetres = np.rint(self.arc_length_m * DECIMETRES_PER_METRE)
        return centiseconds * DISTANCE_RADIX + decimetres

    # -- many-to-many ---------------------------------------------------------------------------
    def node_matrix(self, nodes: Sequence[int], *, workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Fastest times (seconds) and their distances (metres) between road nodes."""
        nodes = np.asarray(nodes, dtype=int)
        unique, inverse = np.unique(nodes, return_inverse=True)
        kept, graph = self.contracted(unique)
        position = np.searchsorted(kept, unique)
        packed = _dijkstra_rows(graph, position, workers)
        if len(unique) < len(nodes) or np.any(inverse != np.arange(len(nodes))):  # back to the caller's order
            packed = packed.take(inverse, axis=0).take(inverse, axis=1)
        seconds = np.floor_divide(packed, DISTANCE_RADIX)  # whole centiseconds
        packed -= seconds * DISTANCE_RADIX  # now decimetres
        seconds /= CENTISECONDS_PER_SECOND
        packed /= DECIMETRES_PER_METRE
        return seconds, packed

    def paths(self, legs: Sequence[tuple[int, int]]) -> list[list[int]]:
        graph = sp.csr_matrix((self._packed_weights(), (self.arc_tail, self.arc_head)),
                              shape=(self.node_count, self.node_count))
        origins = sorted({o for o, _ in legs})
        if not origins:
            return []
        _, predecessors = dijkstra(graph, indices=origins, return_predecessors=True)
        row = {o: i for i, o in enumerate(origins)}
        result = []
        for o, d in legs:
            pred = predecessors[row[o]]
            nodes = [d]
            while nodes[-1] != o and pred[nodes[-1]] >= 0:
                nodes.append(int(pred[nodes[-1]]))
            result.append(nodes[::-1])
        return result

    # -- persistence -------------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, node_osm_ids=self.node_osm_ids, latitude=self.latitude, longitude=self.longitude,
                 arc_tail=self.arc_tail, arc_head=self.arc_head, arc_length_m=self.arc_length_m,
                 arc_time_s=self.arc_time_s, source=np.array(self.source))
        os.replace(tmp, path)  # readers never see half a file

    @classmethod
    def load(cls, path: Path) -> "RoadNetwork":
        with np.load(path) as data:
            return cls(data["node_osm_ids"], data["latitude"], data["longitude"], data["arc_tail"],
                       data["arc_head"], data["arc_length_m"], data["arc_time_s"], str(data["source"]))


def _neighbour_pairs(tail: np.ndarray, head: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Every (node, neighbour) pair once, whichever way the arcs between them run."""
    pairs = np.unique(np.concatenate([tail, head]) * np.int64(n) + np.concatenate([head, tail]))
    return pairs // n, pairs % n


def _dijkstra_block(graph, sources, columns):
    return dijkstra(graph, directed=True, indices=sources)[:, columns]


def _dijkstra_rows(graph: sp.csr_matrix, sources: np.ndarray, workers: int | None) -> np.ndarray:
    """Packed shortest paths among ``sources`` (rows and columns).

    scipy's Dijkstra holds the GIL, so a large table is split over forked processes that
    write their rows straight into memory shared with this one: no pickling of results, and
    the graph reaches the children for free. Where fork is unavailable it runs here."""
    workers = workers or min(os.cpu_count() or 1, 8)
    count = len(sources)
    if workers <= 1 or count < 400 or not hasattr(os, "fork"):
        return _checked(_dijkstra_block(graph, sources, sources))
    shared = mmap.mmap(-1, count * count * 8)  # anonymous and shared across fork
    result = np.frombuffer(shared, dtype=np.float64).reshape(count, count)
    blocks = np.array_split(np.arange(count), workers)
    children = []
    for rows in blocks[1:]:
        pid = os.fork()
        if pid == 0:  # the child: compute its rows, write them, leave without cleanup handlers
            status = 1
            try:
                result[rows] = _dijkstra_block(graph, sources[rows], sources)
                status = 0
            finally:
                os._exit(status)
        children.append((pid, rows))
    result[blocks[0]] = _dijkstra_block(graph, sources[blocks[0]], sources)
    for pid, rows in children:
        _, status = os.waitpid(pid, 0)
        if status != 0:  # a child that failed (out of memory, killed): do its share here
            result[rows] = _dijkstra_block(graph, sources[rows], sources)
    copy = np.array(result)
    del result
    shared.close()
    return _checked(copy)


def _checked(packed: np.ndarray) -> np.ndarray:
    if np.isinf(packed).any():
        raise InputFormatError("some locations cannot reach each other on the road network", where="road network")
    return packed


# -- building from an extract --------------------------------------------------------------------------
def _content_key(path: Path, speed_factor: float) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    digest.update(f"v{NETWORK_FORMAT_VERSION};speed_factor={speed_factor}".encode())
    return digest.hexdigest()[:24]


def default_cache_dir() -> Path:
    return Path(os.environ.get("ITU_CACHE_DIR", Path.home() / ".cache" / "itu"))


def build_road_network(pbf_path: str | Path, *, cache_dir: str | Path | None = None,
                       speed_factor: float = DEFAULT_SPEED_FACTOR) -> RoadNetwork:
    """The drivable network of an OSM extract, from the on-disk cache when this exact file
    (by content) was built before with the same settings."""
    pbf_path = Path(pbf_path)
    if not pbf_path.is_file():
        raise InputFormatError("no such OpenStreetMap extract", where=str(pbf_path))
    if not 0 < speed_factor <= 1.5:
        raise InputFormatError("speed_factor must be in (0, 1.5]", where="speed_factor")
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cached = cache / f"roads-{_content_key(pbf_path, speed_factor)}.npz"
    if cached.is_file():
        try:
            return RoadNetwork.load(cached)
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache entry is rebuilt
    network = _read_extract(pbf_path, speed_factor)
    try:
        cache.mkdir(parents=True, exist_ok=True)
        network.save(cached)
    except OSError:
        pass  # a read-only cache costs time, not correctness
    return network


def _read_extract(pbf_path: Path, speed_factor: float) -> RoadNetwork:
    import pyrosm

    try:
        osm = pyrosm.OSM(str(pbf_path))
        nodes, edges = osm.get_network(network_type="driving", nodes=True)
    except Exception as exc:  # pyrosm raises plain exceptions for files it cannot parse
        raise InputFormatError(f"cannot read as an OpenStreetMap extract: {exc}", where=str(pbf_path)) from None
    if edges is None or nodes is None or len(edges) == 0:
        raise InputFormatError("the extract has no drivable roads", where=str(pbf_path))
    node_ids = nodes["id"].to_numpy(dtype=np.int64)
    order = np.argsort(node_ids)
    node_ids = node_ids[order]
    lat = nodes["lat"].to_numpy(dtype=float)[order]
    lon = nodes["lon"].to_numpy(dtype=float)[order]
    u = np.searchsorted(node_ids, edges["u"].to_numpy(dtype=np.int64))
    v = np.searchsorted(node_ids, edges["v"].to_numpy(dtype=np.int64))
    length = edges["length"].to_numpy(dtype=float)
    highway = edges["highway"].astype(str).to_numpy()
    junction = edges["junction"].to_numpy() if "junction" in edges else np.full(len(edges), None)
    oneway = edges["oneway"].to_numpy() if "oneway" in edges else np.full(len(edges), None)
    maxspeed = edges["maxspeed"].to_numpy() if "maxspeed" in edges else np.full(len(edges), None)
    speed = np.array([segment_speed_kph(m, h, speed_factor) for m, h in zip(maxspeed, highway)])
    time_s = length / (speed / 3.6)
    directions = [_directions(o, h, j) for o, h, j in zip(oneway, highway, junction)]
    forward = np.array([d[0] for d in directions])
    backward = np.array([d[1] for d in directions])
    tail = np.concatenate([u[forward], v[backward]])
    head = np.concatenate([v[forward], u[backward]])
    arc_length = np.concatenate([length[forward], length[backward]])
    arc_time = np.concatenate([time_s[forward], time_s[backward]])
    keep_arc = tail != head
    tail, head, arc_length, arc_time = tail[keep_arc], head[keep_arc], arc_length[keep_arc], arc_time[keep_arc]
    # the largest strongly connected component: from anywhere in it you can drive anywhere in it
    n = len(node_ids)
    graph = sp.csr_matrix((np.ones(len(tail)), (tail, head)), shape=(n, n))
    _, labels = connected_components(graph, directed=True, connection="strong")
    largest = np.argmax(np.bincount(labels))
    in_component = labels == largest
    renumber = np.full(n, -1, dtype=np.int64)
    renumber[in_component] = np.arange(int(in_component.sum()))
    keep_arc = in_component[tail] & in_component[head]
    return RoadNetwork(node_ids[in_component], lat[in_component], lon[in_component], renumber[tail[keep_arc]],
                       renumber[head[keep_arc]], arc_length[keep_arc], arc_time[keep_arc], source=pbf_path.name)
