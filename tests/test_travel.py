"""Travel-time providers: crow-fly against known distances, the road network against an
independent shortest-path implementation, one-way streets, caching, and OSRM against a
small fake server speaking its table protocol."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import networkx as nx
import numpy as np
import pytest
from pyproj import Geod

from geodata.roads import RoadNetwork, build_road_network, parse_maxspeed_kph
from geodata.travel import (AREA_SPEED_KPH, CrowFlyProvider, OsrmProvider, RoadNetworkProvider,
                            great_circle_m, travel_provider)
from optimiser.errors import InputFormatError

OAKHAM = (52.6706, -0.7279)
UPPINGHAM = (52.5891, -0.7239)
WGS84 = Geod(ellps="WGS84")


# -- crow-fly ---------------------------------------------------------------------------------------
def test_one_degree_of_latitude_is_111_km():
    _, m = great_circle_m({"a": (0.0, 0.0), "b": (1.0, 0.0)})
    assert m[0, 1] == pytest.approx(111_195, abs=1)


@pytest.mark.parametrize("a, b", [(OAKHAM, UPPINGHAM), ((51.5074, -0.1278), (55.9533, -3.1883)),
                                  ((50.0657, -5.7132), (58.6373, -3.0689))])
def test_great_circle_agrees_with_the_ellipsoid_within_half_a_percent(a, b):
    """Oakham-Uppingham, London-Edinburgh, Land's End-John o'Groats, against pyproj's geodesic."""
    _, m = great_circle_m({"a": a, "b": b})
    _, _, geodesic = WGS84.inv(a[1], a[0], b[1], b[0])
    assert m[0, 1] == pytest.approx(geodesic, rel=0.005)


def test_crow_fly_applies_circuity_and_area_speed():
    table = CrowFlyProvider(circuity=1.3, area_type="rural").table({"o": OAKHAM, "u": UPPINGHAM})
    straight = great_circle_m({"o": OAKHAM, "u": UPPINGHAM})[1][0, 1]
    assert table.matrix.distance_m("o", "u") == pytest.approx(1.3 * straight)
    assert table.matrix.travel_s("o", "u") == pytest.approx(1.3 * straight / (AREA_SPEED_KPH["rural"] / 3.6))
    assert table.snap_m == {"o": 0.0, "u": 0.0}


def test_mixed_area_is_slow_in_town_and_fast_between_towns():
    provider = CrowFlyProvider()
    speeds = provider.speed_kph_for(np.array([500.0, 8_000.0, 30_000.0]))
    assert speeds[0] == AREA_SPEED_KPH["urban"] and speeds[2] == AREA_SPEED_KPH["rural"]
    assert AREA_SPEED_KPH["urban"] < speeds[1] < AREA_SPEED_KPH["rural"]


@pytest.mark.parametrize("config, message", [
    ({"provider": "teleport"}, "unknown travel provider"),
    ({"provider": "road"}, "needs 'pbf'"),
    ({"provider": "crow-fly", "circuity": 0.5}, "circuity"),
    ({"provider": "crow-fly", "area_type": "lunar"}, "unknown area type"),
    ({"provider": "osrm", "url": "ftp://x"}, "http"),
    ({"provider": "crow-fly", "speed": 3}, "unknown setting"),
])
def test_bad_travel_configuration_says_what_is_wrong(config, message):
    with pytest.raises(InputFormatError, match=message):
        travel_provider(config)


# -- speeds and directions from tags ---------------------------------------------------------------------
@pytest.mark.parametrize("tag, kph", [("30 mph", 48.28), ("50", 50.0), ("GB:nsl_single", 96.56), ("70 mph;50 mph", 112.65),
                                      ("20 km/h", 20.0), ("signals", None), ("none", None), (None, None)])
def test_maxspeed_tags(tag, kph):
    value = parse_maxspeed_kph(tag)
    assert (value is None and kph is None) or value == pytest.approx(kph, abs=0.01)


# -- road networks ---------------------------------------------------------------------------------------
def _grid_network(one_way_arcs=()) -> RoadNetwork:
    """A 4 x 4 grid of two-way streets 100 m apart, some made one-way, plus chains of
    pass-through nodes on the edges so that contraction has work to do."""
    lat0, lon0 = 52.0, -1.0
    coords, arcs = [], []
    index = {}
    for i in range(4):
        for j in range(4):
            index[(i, j)] = len(coords)
            coords.append((lat0 + i * 0.0009, lon0 + j * 0.00146))

    def street(a, b, one_way):
        # two intermediate nodes make a chain between the junctions a and b
        pa, pb = coords[a], coords[b]
        chain = [a]
        for t in (1 / 3, 2 / 3):
            coords.append((pa[0] + t * (pb[0] - pa[0]), pa[1] + t * (pb[1] - pa[1])))
            chain.append(len(coords) - 1)
        chain.append(b)
        for x, y in zip(chain, chain[1:]):
            arcs.append((x, y))
            if not one_way:
                arcs.append((y, x))

    for i in range(4):
        for j in range(4):
            for di, dj in ((0, 1), (1, 0)):
                if i + di < 4 and j + dj < 4:
                    a, b = index[(i, j)], index[(i + di, j + dj)]
                    street(a, b, (a, b) in one_way_arcs)
    tail = np.array([a for a, _ in arcs])
    head = np.array([b for _, b in arcs])
    lat = np.array([c[0] for c in coords])
    lon = np.array([c[1] for c in coords])
    length = np.array([great_circle_m({"a": coords[a], "b": coords[b]})[1][0, 1] for a, b in arcs])
    speeds = np.where(tail % 3 == 0, 13.4, 8.9)  # some streets faster: fastest is not shortest
    return RoadNetwork(np.arange(len(coords)), lat, lon, tail, head, length, length / speeds)


def _networkx(network: RoadNetwork, weight: str) -> nx.DiGraph:
    graph = nx.DiGraph()
    values = network.arc_time_s if weight == "time" else network.arc_length_m
    for t, h, w in zip(network.arc_tail, network.arc_head, values):
        if not graph.has_edge(t, h) or graph[t][h]["w"] > w:
            graph.add_edge(int(t), int(h), w=float(w))
    return graph


def test_contracted_matrix_equals_networkx_on_the_full_graph():
    network = _grid_network(one_way_arcs={(0, 1), (5, 9), (10, 11)})
    nodes = [0, 3, 5, 12, 15, 17, 20, 30]  # junctions and chain nodes alike
    seconds, metres = network.node_matrix(nodes, workers=1)
    graph = _networkx(network, "time")
    for i, a in enumerate(nodes):
        lengths, paths = nx.single_source_dijkstra(graph, a, weight="w")
        for j, b in enumerate(nodes):
            assert seconds[i, j] == pytest.approx(lengths[b], abs=0.01 * len(paths[b]))
            path_metres = sum(network.arc_length_m[(network.arc_tail == x) & (network.arc_head == y)].min()
                              for x, y in zip(paths[b], paths[b][1:]))
            assert metres[i, j] == pytest.approx(path_metres, abs=0.1 * len(paths[b]))


def test_one_way_street_is_driven_only_one_way():
    network = _grid_network(one_way_arcs={(0, 1)})
    seconds, metres = network.node_matrix([0, 1], workers=1)
    assert metres[0, 1] == pytest.approx(100, rel=0.02)  # straight along the street
    assert metres[1, 0] == pytest.approx(300, rel=0.02)  # round the block
    assert seconds[1, 0] > seconds[0, 1]


def test_parallel_workers_give_the_same_matrix():
    network = _grid_network(one_way_arcs={(0, 1), (5, 6)})
    nodes = list(range(network.node_count)) * 8  # enough sources to split over processes
    one = network.node_matrix(nodes, workers=1)
    two = network.node_matrix(nodes, workers=2)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])


def test_small_extract_builds_a_strongly_connected_network_with_its_one_way_streets(small_pbf, tmp_path):
    network = build_road_network(small_pbf, cache_dir=tmp_path)
    graph = nx.DiGraph(list(zip(network.arc_tail.tolist(), network.arc_head.tolist())))
    assert nx.is_strongly_connected(graph) and graph.number_of_nodes() == network.node_count
    pairs = set(zip(network.arc_tail.tolist(), network.arc_head.tolist()))
    one_way = [(t, h) for t, h in pairs if (h, t) not in pairs]
    assert len(one_way) > 50  # the extract's motorway and its one-way links
    t, h = one_way[0]
    seconds, _ = network.node_matrix([t, h], workers=1)
    assert seconds[1, 0] > seconds[0, 1]


def test_small_extract_times_match_networkx(small_pbf, tmp_path):
    network = build_road_network(small_pbf, cache_dir=tmp_path)
    rng = np.random.default_rng(7)
    nodes = rng.choice(network.node_count, 25, replace=False).tolist()
    seconds, _ = network.node_matrix(nodes, workers=1)
    graph = _networkx(network, "time")
    for i, a in enumerate(nodes):
        lengths = nx.single_source_dijkstra_path_length(graph, a, weight="w")
        # each arc's time is rounded to the centisecond inside the search
        assert [seconds[i, j] for j in range(len(nodes))] == pytest.approx([lengths[b] for b in nodes], abs=0.5)


def test_network_is_cached_by_content(small_pbf, tmp_path):
    cache = tmp_path / "cache"
    first = build_road_network(small_pbf, cache_dir=cache)
    files = list(cache.glob("roads-*.npz"))
    assert len(files) == 1
    copy = tmp_path / "renamed.osm.pbf"
    copy.write_bytes(small_pbf.read_bytes())
    second = build_road_network(copy, cache_dir=cache)  # same content, other name: same entry
    assert list(cache.glob("roads-*.npz")) == files
    np.testing.assert_array_equal(first.arc_time_s, second.arc_time_s)
    build_road_network(small_pbf, cache_dir=cache, speed_factor=0.7)  # other settings: a new entry
    assert len(list(cache.glob("roads-*.npz"))) == 2


def test_unreadable_extract_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.osm.pbf"
    bad.write_bytes(b"not a protobuf")
    with pytest.raises(InputFormatError, match="bad.osm.pbf"):
        build_road_network(bad, cache_dir=tmp_path)
    with pytest.raises(InputFormatError, match="no such"):
        build_road_network(tmp_path / "missing.osm.pbf", cache_dir=tmp_path)


@pytest.mark.shared
def test_rutland_network_and_a_real_journey(rutland_pbf):
    provider = RoadNetworkProvider(rutland_pbf)
    assert 12_000 < provider.network.node_count < 20_000
    table = provider.table({"oakham": OAKHAM, "uppingham": UPPINGHAM})
    km = table.matrix.distance_m("oakham", "uppingham") / 1000
    minutes = table.matrix.travel_s("oakham", "uppingham") / 60
    # the A6003 between the two towns: about 10 km, 12-13 minutes in traffic; free-flow times
    # without junction delays (as OSRM gives too) come out a little shorter
    assert 9 < km < 13 and 8 < minutes < 20
    straight = great_circle_m({"o": OAKHAM, "u": UPPINGHAM})[1][0, 1] / 1000
    assert km > straight
    assert all(d < 300 for d in table.snap_m.values())


# -- OSRM ------------------------------------------------------------------------------------------------
class FakeOsrm(BaseHTTPRequestHandler):
    """Answers /table/v1/driving/... as osrm-routed does: crow-fly metres at 10 m/s, snapping
    distance 5 m; refuses more than ``max_locations`` coordinates; a location at latitude 0 is
    unreachable (null)."""

    max_locations = 100
    requests: list = []
    #: when set, every table request gets this answer instead (a server that is not quite OSRM)
    broken_answer: dict | None = None

    def do_GET(self):
        if type(self).broken_answer is not None:
            return self._send(200, type(self).broken_answer)
        url = urlsplit(self.path)
        parts = url.path.split("/")
        if parts[1:4] != ["table", "v1", "driving"]:
            return self._send(400, {"code": "InvalidUrl", "message": "URL string malformed"})
        coords = [tuple(map(float, c.split(","))) for c in parts[4].split(";")]
        if len(coords) > self.max_locations:
            return self._send(400, {"code": "TooBig", "message": "Too many table coordinates"})
        query = parse_qs(url.query)
        sources = [int(i) for i in query["sources"][0].split(";")]
        destinations = [int(i) for i in query["destinations"][0].split(";")]
        type(self).requests.append((len(sources), len(destinations)))
        durations, distances = [], []
        for s in sources:
            row_t, row_d = [], []
            for d in destinations:
                (lon1, lat1), (lon2, lat2) = coords[s], coords[d]
                metres = great_circle_m({"a": (lat1, lon1), "b": (lat2, lon2)})[1][0, 1]
                unreachable = lat1 == 0 or lat2 == 0
                row_t.append(None if unreachable else metres / 10)
                row_d.append(None if unreachable else metres)
            durations.append(row_t)
            distances.append(row_d)
        self._send(200, {"code": "Ok", "durations": durations, "distances": distances,
                         "sources": [{"location": list(coords[s]), "distance": 5.0} for s in sources],
                         "destinations": [{"location": list(coords[d]), "distance": 5.0} for d in destinations]})

    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def osrm_url():
    FakeOsrm.requests = []
    FakeOsrm.broken_answer = None
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOsrm)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _points(n):
    return {f"p{i}": (52.6 + 0.01 * i, -0.7 + 0.013 * (i % 3)) for i in range(n)}


def test_osrm_table_is_assembled_from_chunks(osrm_url):
    points = _points(8)
    table = OsrmProvider(osrm_url, chunk=3).table(points)
    assert len(FakeOsrm.requests) == 9  # 3 blocks of sources x 3 blocks of destinations
    assert all(s <= 3 and d <= 3 for s, d in FakeOsrm.requests)
    straight = great_circle_m(points)[1]
    np.testing.assert_allclose(table.matrix.metres, straight, rtol=1e-9)
    np.testing.assert_allclose(table.matrix.seconds, straight / 10, rtol=1e-9)
    assert table.snap_m["p0"] == 5.0


def test_osrm_one_request_when_the_table_fits(osrm_url):
    OsrmProvider(osrm_url, chunk=50).table(_points(20))
    assert FakeOsrm.requests == [(20, 20)]


def test_osrm_refusal_and_unreachable_points_are_clear_errors(osrm_url):
    with pytest.raises(InputFormatError, match="Too many table coordinates"):
        OsrmProvider(osrm_url, chunk=60).table(_points(60))  # 120 coordinates in one request
    points = {**_points(3), "at sea": (0.0, 0.0)}
    with pytest.raises(InputFormatError, match="no route between"):
        OsrmProvider(osrm_url).table(points)
    with pytest.raises(InputFormatError, match="cannot reach the server"):
        OsrmProvider("http://127.0.0.1:9", timeout_s=2).table(_points(2))


@pytest.mark.parametrize("answer", [
    {"code": "Ok"},  # no table at all
    {"code": "Ok", "durations": "soon", "sources": []},
    {"code": "Ok", "durations": [[0, 1], [1, 0]], "distances": [[0, 1], [1, 0]], "sources": [{}]},  # one source short
])
def test_an_answer_that_is_not_an_osrm_table_is_a_clear_error(osrm_url, answer):
    FakeOsrm.broken_answer = answer
    with pytest.raises(InputFormatError, match="not an OSRM table") as caught:
        OsrmProvider(osrm_url).table(_points(2))
    assert caught.value.where == f"OSRM server {osrm_url}"


@pytest.mark.parametrize("maxspeed, highway, kph", [
    (None, "residential", 25.0), ("10 mph", "residential", 10 * 1.609344 * 0.8), ("20 mph", "residential", 25.0),
    ("60 mph", "primary", 65.0), ("30 mph", "primary", 30 * 1.609344 * 0.8), (None, "bridleway", 25.0)])
def test_segment_speed_is_the_class_speed_lowered_by_a_tagged_limit(maxspeed, highway, kph):
    from geodata.roads import segment_speed_kph

    assert segment_speed_kph(maxspeed, highway) == pytest.approx(kph)


def test_matrix_rows_and_columns_follow_the_callers_order_with_repeats():
    network = _grid_network(one_way_arcs={(0, 1)})
    seconds, _ = network.node_matrix([1, 0, 1, 7], workers=1)
    reference, _ = network.node_matrix([0, 1, 7], workers=1)
    assert seconds[0, 1] == reference[1, 0] and seconds[1, 0] == reference[0, 1]
    np.testing.assert_array_equal(seconds[0], seconds[2])
    assert seconds[3, 1] == reference[2, 0]
