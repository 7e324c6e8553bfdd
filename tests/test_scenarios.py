"""The scenario API: each kind of change does what it says and nothing more, an impossible
variant is a row with its reason, and a sweep runs on real executors (local processes and a
Dask cluster) with every plan checked."""
from __future__ import annotations

import pytest

from optimiser.errors import ProblemError
from optimiser.domain.model import DAY_END_S
from optimiser.analysis.scenarios import (ChangeTariff, ScaleRideCaps, SetFleetCount, ShiftWindows, Variant, fleet_grid,
                                 run_variants, shift_grid)
from tests.conftest import assert_feasible
from tests.instances import line_builder


def day():
    """Two pupils to a school at km 10 (bell 08:50), one patient to a clinic at km 4."""
    b = line_builder({"a": 6.0, "b": 8.0, "school": 10.0, "home": 2.0, "clinic": 4.0}, count=2)
    b.add_trip("P1", "school", "a", "school", earliest_arrival="08:30", latest_arrival="08:45", max_ride_minutes=20)
    b.add_trip("P2", "school", "b", "school", earliest_arrival="08:30", latest_arrival="08:45", max_ride_minutes=20)
    b.add_trip("N1", "nept", "home", "clinic", earliest_pickup="09:00", latest_arrival="10:00", max_ride_factor=2.0)
    b.add_tariff("taxi", flag_fall=3.0, per_km=2.0)
    return b.build()


def test_shifting_a_place_moves_only_its_trips_and_keeps_open_windows_open():
    problem = ShiftWindows("school", 15).apply(day())
    p1, n1 = problem.trip("P1"), problem.trip("N1")
    assert (p1.earliest_arrival_s, p1.latest_arrival_s) == (8 * 3600 + 45 * 60, 9 * 3600)
    assert p1.earliest_pickup_s == 0.0 and p1.latest_pickup_s == DAY_END_S  # open stays open
    assert n1 == day().trip("N1")


def test_fleet_caps_and_tariffs():
    base = day()
    assert SetFleetCount("car", 5).apply(base).vehicle_types[0].count == 5
    relaxed = ScaleRideCaps(1.5).apply(base)
    assert relaxed.trip("P1").max_ride_s == 30 * 60 and relaxed.trip("N1").max_ride_factor == 3.0
    only_nept = ScaleRideCaps(0.25, service="nept").apply(base)
    assert only_nept.trip("N1").max_ride_factor == 1.0 and only_nept.trip("P1").max_ride_s == 20 * 60
    dearer = ChangeTariff("taxi", scale=2).apply(base).tariffs[0]
    assert (dearer.flag_fall, dearer.per_km) == (6.0, 4.0)
    assert ChangeTariff("taxi", per_km=1.0).apply(base).tariffs[0].flag_fall == 3.0
    with pytest.raises(ProblemError, match="no vehicle type 'bus'"):
        SetFleetCount("bus", 1).apply(base)


def test_grids():
    assert [v.name for v in shift_grid(["school"], [-15, 0, 15])] == ["school -15 min", "school +15 min"]
    assert len(fleet_grid("car", [1, 2], {"taxi": [1.0, 1.5]})) == 4


def test_a_sweep_tabulates_every_variant_against_the_base():
    base = day()
    variants = [Variant("one car", [SetFleetCount("car", 1)]),
                Variant("no cars", [SetFleetCount("car", 0)]),
                Variant("school an hour early", [ShiftWindows("school", -600)]),  # before midnight: impossible
                Variant("cheap taxis", [ChangeTariff("taxi", flag_fall=0.0, per_km=0.1)])]
    study = run_variants(base, variants, time_limit_s=1)
    table = study.table
    assert list(table["variant"]) == ["base", "one car", "no cars", "school an hour early", "cheap taxis"]
    assert table.loc["base", "saving"] == 0
    assert table.loc["no cars", "contracted"] == 3 and table.loc["no cars", "vehicles"] == 0
    assert table.loc["cheap taxis", "saving"] > 0 and table.loc["no cars", "saving"] < 0
    assert isinstance(table.loc["school an hour early", "error"], str)
    assert study.best() == "cheap taxis"
    for name, plan in study.plans.items():
        assert_feasible(base if name == "base" else next(v for v in variants if v.name == name).apply(base), plan)
    assert table.loc["base", "cost"] == pytest.approx(study.plans["base"].cost.total, abs=0.01)


@pytest.mark.slow
def test_a_sweep_on_a_dask_cluster():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster, Client(cluster) as client:
        study = run_variants(day(), fleet_grid("car", [0, 1, 2]), time_limit_s=1, executor=client)
    assert list(study.table["vehicles"]) [1] == 0 and study.table["error"].isna().all()
    assert set(study.plans) == {"base", "0 car", "1 car", "2 car"}
