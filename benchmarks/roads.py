"""Road network build and many-to-many matrix times on an extract: ``itu bench roads`` and
``make bench-roads``. Medians of repeats, against the reference the issue quotes (one plain
Dijkstra per point over the whole graph)."""
from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from geodata.roads import build_road_network
from optimiser.errors import InputFormatError


@dataclass(frozen=True)
class RoadTimings:
    """Seconds of each repeat: ``builds`` from the extract with a cold cache, ``loads`` from the
    cache, ``matrices`` by worker count (snapping included), and ``plain``, the reference."""

    extract: str
    node_count: int
    arc_count: int
    points: int
    builds: list[float]
    loads: list[float]
    matrices: dict[int, list[float]]
    plain: list[float]

    def report(self) -> list[str]:
        """The figures as ``itu bench roads`` prints them."""
        median = statistics.median
        lines = [
            f"{self.extract}: {self.node_count:,} nodes, {self.arc_count:,} arcs in the largest strongly "
            f"connected component",
            f"build from the extract (cold cache): median {median(self.builds):.2f} s over {len(self.builds)} "
            f"(min {min(self.builds):.2f}, max {max(self.builds):.2f})",
            f"load from the cache: median {median(self.loads) * 1000:.0f} ms",
            f"reference, plain Dijkstra per point over the whole graph, times only: median {median(self.plain):.2f} s",
        ]
        for workers, times in self.matrices.items():
            lines.append(f"{self.points:,} x {self.points:,} times and distances, snapping included, {workers} "
                         f"worker(s): median {median(times):.2f} s (min {min(times):.2f}, max {max(times):.2f}); "
                         f"{median(self.plain) / median(times):.1f}x faster than the reference")
        return lines


def run_roads(pbf: str | Path, points: int = 2000, repeats: int = 5, workers: int = 2, seed: int = 0) -> RoadTimings:
    """Build the road network of ``pbf`` ``repeats`` times from a cold cache (and load it back
    each time), then time a ``points`` x ``points`` matrix of times and distances, on one worker
    and on ``workers``, and the plain reference on up to three repeats."""
    if repeats < 1:
        raise InputFormatError("must be at least 1", where="repeats")
    builds, loads, matrices = [], [], {}
    network = None
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as cache:  # a cold build every time
            started = time.perf_counter()
            network = build_road_network(pbf, cache_dir=cache)
            builds.append(time.perf_counter() - started)
            started = time.perf_counter()
            build_road_network(pbf, cache_dir=cache)
            loads.append(time.perf_counter() - started)
    rng = np.random.default_rng(seed)
    picked = rng.choice(network.node_count, points, replace=points > network.node_count)
    # points near real roads, as homes and schools are: a road node moved by up to about 100 m
    located = {f"p{i}": (float(network.latitude[n] + rng.normal(0, 0.0005)),
                         float(network.longitude[n] + rng.normal(0, 0.0008))) for i, n in enumerate(picked)}
    for count in sorted({1, workers}):
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            snapped = network.snap(located)
            network.node_matrix([s.node for s in snapped], workers=count)
            times.append(time.perf_counter() - started)
        matrices[count] = times
    whole = sp.csr_matrix((network.arc_time_s, (network.arc_tail, network.arc_head)),
                          shape=(network.node_count, network.node_count))
    plain = []
    for _ in range(min(3, repeats)):
        started = time.perf_counter()
        nodes = [s.node for s in network.snap(located)]
        dijkstra(whole, indices=nodes)[:, nodes]
        plain.append(time.perf_counter() - started)
    return RoadTimings(Path(pbf).name, network.node_count, network.arc_count, points, builds, loads, matrices, plain)
