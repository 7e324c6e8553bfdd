"""The benchmark reader and a few instances solved to their published optimum."""
from __future__ import annotations

import pytest

from optimiser import InputFormatError, SolveOptions, solve
from optimiser.domain.darp import read_instance, routes_as_node_ids
from tests.conftest import assert_feasible
from tests.instances import darp_instance

pytestmark = pytest.mark.shared


def test_format_a_reads_into_the_domain_model(darp_dir):
    inst = read_instance(darp_dir / "cordeau2006" / "a2-16.txt")
    p = inst.problem
    assert inst.requests == 16 and len(p.trips) == 16
    (fleet,) = p.vehicle_types
    assert fleet.count == 2 and fleet.layouts[0].seats == 3 and fleet.max_duty_s == 480 * 60
    assert {p.ride_cap_s(t) for t in p.trips} == {30 * 60}
    # outbound requests have their window on the drop-off, inbound on the pickup
    assert p.trips[0].latest_arrival_s < 1440 * 60 and p.trips[-1].latest_pickup_s < 1440 * 60


def test_format_c_maps_resources(darp_dir):
    inst = read_instance(darp_dir / "mdhdarp-malheiros2021" / "a9-72hetIUY.txt")
    p = inst.problem
    assert sum(v.count for v in p.vehicle_types) == 9
    layouts = {(v.layouts[0].staff_seats, v.layouts[0].seats, v.layouts[0].stretchers,
                v.layouts[0].wheelchair_spaces) for v in p.vehicle_types}
    assert layouts <= {(1, 6, 0, 1), (2, 1, 1, 1)}
    assert p.trips[0].staff_seats == 1 and p.trips[0].seats == 1


def test_bad_file_says_where(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("2 16 480 3\n")
    with pytest.raises(InputFormatError, match="header has 4 numbers"):
        read_instance(bad)
    bad.write_text("2 1 480 3 30\n0 0 0 0 0 0 480\n1 x 1 3 1 0 1440\n")
    with pytest.raises(InputFormatError, match="cannot read numbers") as err:
        read_instance(bad)
    assert err.value.where == "bad.txt line 3"


@pytest.mark.parametrize("name", ["a2-16", "b2-16"])
def test_small_instances_reach_the_known_optimum(name):
    inst, best = darp_instance(name)
    # a round budget, not the clock (20,000 rounds take well under a second here; the time limit
    # only bounds a broken search)
    plan = solve(inst.problem, SolveOptions(time_limit_s=300, seed=1, workers=1, max_rounds=20_000))
    assert_feasible(inst.problem, plan)
    assert plan.solver.ruin_and_recreate["rounds"] == 20_000
    assert len(plan.served_trip_ids) == inst.requests
    assert plan.cost.total == pytest.approx(best, abs=0.006)
    nodes = sorted(n for route in routes_as_node_ids(inst, plan) for n in route)
    assert nodes == list(range(1, 2 * inst.requests + 1))
