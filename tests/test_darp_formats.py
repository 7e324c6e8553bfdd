"""Every published dial-a-ride format read as it is: format B (Cordeau and Laporte 2003) beside
A and C, told apart from the file alone, and a clear error naming the line for anything else."""
from __future__ import annotations

import pytest

from optimiser import InputFormatError
from optimiser.domain.darp import read_best_known, read_instance

# A format B day by hand: 2 vehicles, 2 requests (4 nodes), routes of at most 480 minutes,
# capacity 6, ride cap 90; node 0 is the only depot line and its window is the whole day.
FORMAT_B = """2 4 480 6 90
  0    0.000    0.000  0  0    0 1440
  1    1.000    0.000 10  1  420  450
  2    2.000    0.000 10  2    0 1440
  3    5.000    0.000 10 -1    0 1440
  4    6.000    0.000 10 -2  600  640
"""


def test_format_b_reads_nodes_not_requests_and_one_depot_line(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text(FORMAT_B)
    inst = read_instance(path)
    p = inst.problem
    assert inst.requests == 2 and [t.id for t in p.trips] == ["1", "2"]
    (fleet,) = p.vehicle_types
    assert fleet.count == 2 and fleet.layouts[0].seats == 6
    # the depot's window is the day; the header's duration bounds each route
    assert (fleet.shift_start_s, fleet.shift_end_s, fleet.max_duty_s) == (0, 1440 * 60, 480 * 60)
    first, second = p.trips
    assert (first.pickup, first.dropoff, second.pickup, second.dropoff) == ("1", "3", "2", "4")
    assert (first.earliest_pickup_s, first.latest_pickup_s) == (420 * 60, 450 * 60)  # a window on the pickup
    assert (second.earliest_arrival_s, second.latest_arrival_s) == (600 * 60, 640 * 60)  # on the drop-off
    assert second.seats == 2 and first.pickup_service_s == 600
    assert {p.ride_cap_s(t) for t in p.trips} == {90 * 60}
    assert p.matrix.travel_s("1", "3") == pytest.approx(4 * 60)  # one unit a minute


def test_a_file_of_neither_shape_names_the_line(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("2 3 480 6 90\n  0 0 0 0 0 0 1440\n  1 1 0 10 1 0 1440\n")
    with pytest.raises(InputFormatError, match="expected 7 node lines .* format B nodes") as raised:
        read_instance(path)
    assert raised.value.where == "short.txt line 4"
    path.write_text(FORMAT_B.replace("  3    5.000    0.000 10 -1    0 1440", "  3    5.000    0.000 10 -1"))
    with pytest.raises(InputFormatError, match="has 5 numbers; expected 7") as raised:
        read_instance(path)
    assert raised.value.where == "short.txt line 5"


@pytest.mark.shared
def test_the_cordeau_laporte_2003_instances_read_with_their_best_known_values(darp_dir):
    best = read_best_known(darp_dir / "bks.csv")
    files = sorted((darp_dir / "cordeau-laporte2003").glob("pr*.txt"))
    assert [f.stem for f in files] == ["pr01", "pr02", "pr03", "pr04", "pr05",
                                       "pr11", "pr12", "pr13", "pr14", "pr15"]
    for path in files:
        inst = read_instance(path)
        assert inst.requests in (24, 48, 72, 96, 120) and best[inst.name] > 0
        (fleet,) = inst.problem.vehicle_types
        assert fleet.max_duty_s == 480 * 60 and fleet.shift_end_s == 1440 * 60
        # every request has a window on exactly one of its ends
        for trip in inst.problem.trips:
            pickup_open = trip.latest_pickup_s >= 1440 * 60
            arrival_open = trip.latest_arrival_s >= 1440 * 60
            assert pickup_open != arrival_open, (inst.name, trip.id)
