"""Reader for the standard dial-a-ride benchmark instances (../shared/benchmarks/darp).

Format A (Cordeau 2006, Ropke et al. 2007), format B (Cordeau and Laporte 2003, the
tabu-search paper's: the header counts nodes, not requests, and there is no end-depot line)
and format C (Malheiros et al. 2021, heterogeneous) become ordinary ``Problem`` objects, so the benchmark exercises
exactly the code councils use. Conventions: one coordinate unit is one km, time
equals distance (one unit is one minute, so 60 km/h), cost is £1 per km: the
plan's total cost is then the benchmark's routing cost.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from optimiser.errors import InputFormatError
from optimiser.domain.model import Layout, Problem, TravelMatrix, Trip, VehicleType

BENCHMARK_SERVICE = "darp"


@dataclass(frozen=True)
class DarpInstance:
    name: str
    problem: Problem
    requests: int
    #: node id in the file of each trip's pickup and drop-off
    pickup_node: dict[str, int]
    dropoff_node: dict[str, int]


def _numbers(line: str, path: Path, line_no: int) -> list[float]:
    try:
        return [float(x) for x in line.split()]
    except ValueError:
        raise InputFormatError(f"cannot read numbers from {line.strip()[:60]!r}",
                               where=f"{path.name} line {line_no}") from None


def read_instance(path: str | Path) -> DarpInstance:
    """Read a format A, B or C file, told apart by the header's shape and the number of node lines."""
    path = Path(path)
    try:
        lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    except OSError as exc:
        raise InputFormatError(f"cannot read: {exc.strerror}", where=str(path)) from None
    if not lines:
        raise InputFormatError("empty file", where=str(path))
    header = _numbers(lines[0], path, 1)
    if len(header) == 5:
        second, nodes = int(header[1]), len(lines) - 1
        # format A's second number counts requests (2n + 2 node lines), format B's counts nodes
        # (2n + 1 lines, one depot line): the number of node lines tells them apart
        if second % 2 == 0 and nodes == second + 1:
            return _read_format_b(path, lines, header)
        return _read_format_a(path, lines, header)
    if len(header) == 2:
        return _read_format_c(path, lines, header)
    raise InputFormatError(f"header has {len(header)} numbers; expected 5 (format A or B) or 2 (format C)",
                           where=f"{path.name} line 1")


def _node_rows(path: Path, lines: list[str], first_line: int, count: int, width: int) -> list[list[float]]:
    """``count`` node lines of ``width`` numbers from file line ``first_line`` (1-based) on."""
    rows = []
    for k in range(count):
        line_no = first_line + k
        if line_no > len(lines):
            raise InputFormatError(f"expected {count} node lines after the header; the file ends after {k} "
                                   "(format A counts requests in the header's second number, format B nodes)",
                                   where=f"{path.name} line {line_no}")
        row = _numbers(lines[line_no - 1], path, line_no)
        if len(row) != width:
            raise InputFormatError(f"a node line has {len(row)} numbers; expected {width}",
                                   where=f"{path.name} line {line_no}")
        rows.append(row)
    return rows


def _matrix(coords: np.ndarray) -> TravelMatrix:
    diff = coords[:, None, :] - coords[None, :, :]
    units = np.sqrt((diff ** 2).sum(axis=2))
    return TravelMatrix(tuple(str(i) for i in range(len(coords))), units * 60.0, units * 1000.0)


def _trips(rows: list[list[float]], n: int, loads, ride_caps_min, dur_col: int) -> list[Trip]:
    trips = []
    for i in range(1, n + 1):
        p, d = rows[i], rows[n + i]
        trips.append(Trip(
            id=str(i), service=BENCHMARK_SERVICE, pickup=str(i), dropoff=str(n + i),
            earliest_pickup_s=p[-2] * 60, latest_pickup_s=p[-1] * 60,
            earliest_arrival_s=d[-2] * 60, latest_arrival_s=d[-1] * 60,
            pickup_service_s=p[dur_col] * 60, dropoff_service_s=d[dur_col] * 60,
            max_ride_s=ride_caps_min[i - 1] * 60, **loads[i - 1]))
    return trips


def _read_format_a(path: Path, lines: list[str], header: list[float]) -> DarpInstance:
    m, n, duration, capacity, ride = int(header[0]), int(header[1]), header[2], int(header[3]), header[4]
    rows = _node_rows(path, lines, 2, 2 * n + 1, 7)  # the end depot's line repeats the start's
    return _single_type_instance(path, rows, m, n, duration, capacity, ride)


def _read_format_b(path: Path, lines: list[str], header: list[float]) -> DarpInstance:
    # the same fields as format A, but the second number counts nodes (2n), node 0 is both depots,
    # and the depot's window is the whole day while ``duration`` bounds each route
    m, n, duration, capacity, ride = int(header[0]), int(header[1]) // 2, header[2], int(header[3]), header[4]
    rows = _node_rows(path, lines, 2, 2 * n + 1, 7)
    return _single_type_instance(path, rows, m, n, duration, capacity, ride)


def _single_type_instance(path: Path, rows: list[list[float]], m: int, n: int, duration: float, capacity: int,
                          ride: float) -> DarpInstance:
    coords = np.array([[r[1], r[2]] for r in rows])
    loads = [dict(seats=int(rows[i][4])) for i in range(1, n + 1)]
    trips = _trips(rows, n, loads, [ride] * n, dur_col=3)
    fleet = VehicleType("vehicle", count=m, depot="0", layouts=(Layout(f"{capacity} seats", seats=capacity),),
                        shift_start_s=rows[0][5] * 60, shift_end_s=rows[0][6] * 60, max_duty_s=duration * 60,
                        cost_per_km=1.0)
    problem = Problem(tuple(trips), (fleet,), _matrix(coords), (), path.stem)
    return DarpInstance(path.stem, problem, n, {str(i): i for i in range(1, n + 1)},
                        {str(i): n + i for i in range(1, n + 1)})


def _read_format_c(path: Path, lines: list[str], header: list[float]) -> DarpInstance:
    m, n = int(header[0]), int(header[1])
    vehicles = [_numbers(ln, path, k + 2) for k, ln in enumerate(lines[1:1 + m])]
    rows = _node_rows(path, lines, 2 + m, 2 * n + 1, 11)
    coords = np.array([[r[1], r[2]] for r in rows])
    # resources in the file: staff seat, patient seat, stretcher, wheelchair place
    loads = [dict(staff_seats=int(r[5]), seats=int(r[6]), stretchers=int(r[7]), wheelchair_spaces=int(r[8]))
             for r in rows[1:n + 1]]
    trips = _trips(rows, n, loads, [r[4] for r in rows[1:n + 1]], dur_col=3)
    kinds: dict[tuple, int] = {}
    for v in vehicles:
        kinds[tuple(v)] = kinds.get(tuple(v), 0) + 1
    fleet = []
    for k, (spec, count) in enumerate(sorted(kinds.items())):
        duration, staff, seats, stretchers, wheelchairs = spec
        layout = Layout(f"{int(staff)} staff + {int(seats)} seats + {int(stretchers)} stretcher + {int(wheelchairs)} "
                        "wheelchair", seats=int(seats), wheelchair_spaces=int(wheelchairs),
                        stretchers=int(stretchers), staff_seats=int(staff))
        fleet.append(VehicleType(f"type{k + 1}", count=count, depot="0", layouts=(layout,),
                                 shift_start_s=rows[0][-2] * 60, shift_end_s=rows[0][-1] * 60,
                                 max_duty_s=duration * 60, cost_per_km=1.0))
    problem = Problem(tuple(trips), tuple(fleet), _matrix(coords), (), path.stem)
    return DarpInstance(path.stem, problem, n, {str(i): i for i in range(1, n + 1)},
                        {str(i): n + i for i in range(1, n + 1)})


def read_best_known(path: str | Path) -> dict[str, float]:
    """``bks.csv``: instance name -> best-known routing cost (optimal for the a/b sets; an upper
    bound from the literature for the Cordeau-Laporte 2003 set)."""
    try:
        with open(path, newline="") as f:
            return {row["instance"]: float(row["bks"]) for row in csv.DictReader(f) if row.get("bks")}
    except (OSError, KeyError, ValueError) as exc:
        raise InputFormatError(f"cannot read best-known values: {exc}", where=str(path)) from None


def routes_as_node_ids(instance: DarpInstance, plan) -> list[list[int]]:
    """The plan's routes as node ids numbered as in the file, depots excluded."""
    out = []
    for route in plan.routes:
        ids = []
        for stop in route.stops:
            if stop.kind == "pickup":
                ids.append(instance.pickup_node[stop.trip_id])
            elif stop.kind == "dropoff":
                ids.append(instance.dropoff_node[stop.trip_id])
        out.append(ids)
    return out
