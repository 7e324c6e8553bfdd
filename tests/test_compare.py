"""Separate against integrated, and the cost split, on cases whose answer is known."""
from __future__ import annotations

import json
import re

import pytest

from optimiser import Layout, ProblemBuilder
from optimiser.analysis.apportion import apportion, shapley
from optimiser.analysis.compare import CompareOptions, coalition_problem, compare
from optimiser.reporting.report import write_comparison
from optimiser.errors import ProblemError
from tests.conftest import assert_feasible
from tests.instances import line_matrix

FAST = dict(time_limit_s=1, seeds=2, workers=1)


def all_plans_feasible(problem, result):
    for service, plan in result.separate_plans.items():
        assert_feasible(coalition_problem(problem, frozenset([service])), plan)
    assert_feasible(problem, result.integrated_plan)


def chained_services():
    """A school run done by 08:30 and a day-centre run from 09:00, on one road: one minibus can do both."""
    b = ProblemBuilder(line_matrix({"depot": 0, "homes_a": 5, "school": 10, "homes_b": 6, "centre": 12}), "chain")
    b.add_vehicle_type("minibus", count=2, depot="depot", layouts=[Layout("8 seats", seats=8)], cost_per_day=100.0,
                       cost_per_km=0.5)
    for i in range(3):
        b.add_trip(f"s{i}", "school", "homes_a", "school", earliest_pickup="08:00", latest_arrival="08:30")
        b.add_trip(f"c{i}", "social_care", "homes_b", "centre", earliest_pickup="09:00", latest_arrival="09:40")
    return b.build()


def test_services_that_chain_halve_the_vehicles():
    problem = chained_services()
    result = compare(problem, CompareOptions(**FAST))
    assert result.separate.vehicles == 2 and result.integrated.vehicles == 1
    money = result.savings["integrated_vs_separate"]["money"]
    assert money["distinguishable_from_zero"] and money["median"] >= 100.0
    assert result.savings["integrated_vs_separate"]["vehicles"]["saving"] == 1
    all_plans_feasible(problem, result)


def test_services_apart_in_space_and_time_save_nothing_and_say_so():
    b = ProblemBuilder(line_matrix({"depot": 0, "west_home": -30, "west_school": -40, "east_home": 30,
                                    "east_centre": 40}), "apart")
    b.add_vehicle_type("car", count=2, depot="depot", layouts=[Layout("4", seats=4)], cost_per_day=50.0, cost_per_km=1)
    b.add_trip("w", "school", "west_home", "west_school", earliest_pickup="08:00", latest_arrival="08:15")
    b.add_trip("e", "social_care", "east_home", "east_centre", earliest_pickup="08:00", latest_arrival="08:15")
    problem = b.build()
    result = compare(problem, CompareOptions(**FAST))
    money = result.savings["integrated_vs_separate"]["money"]
    assert money["median"] == pytest.approx(0.0, abs=1e-6)
    assert not money["distinguishable_from_zero"]
    assert "not distinguishable from zero" in money["verdict"]
    all_plans_feasible(problem, result)


def test_one_service_alone_saves_zero_and_pays_its_cost():
    b = ProblemBuilder(line_matrix({"depot": 0, "home": 5, "school": 10}), "alone")
    b.add_vehicle_type("car", count=1, depot="depot", layouts=[Layout("4", seats=4)], cost_per_km=1.0)
    b.add_trip("t", "school", "home", "school")
    problem = b.build()
    result = compare(problem, CompareOptions(**FAST))
    assert result.savings["integrated_vs_separate"]["money"]["median"] == pytest.approx(0.0)
    assert result.apportionment.split("shapley").shares["school"] == pytest.approx(result.integrated.cost)
    assert result.integrated.cost == pytest.approx(20.0)


def test_today_prices_supplied_by_the_council_win_over_tariffs():
    problem = chained_services()
    b_options = CompareOptions(**FAST, today_trip_prices={"s0": 30.0},
                               today_route_prices=[(120.0, ["c0", "c1", "c2"])])
    # no tariff in this problem: trips s1, s2 have no price today and are listed as such
    result = compare(problem, b_options)
    assert result.today["cost"] == pytest.approx(150.0)
    assert sorted(result.today["unpriced_trips"]) == ["s1", "s2"]


# ---------------------------------------------------------------- the split, on games known exactly
def airport_game(costs: dict[str, float]):
    """Each service needs a runway of its own length: a coalition pays for the longest. Its Shapley
    value is known in closed form (Littlechild and Owen 1973)."""
    return lambda coalition: max(costs[s] for s in coalition)


def test_shapley_of_the_airport_game():
    values, exact, _ = shapley(["a", "b", "c"], airport_game({"a": 30.0, "b": 60.0, "c": 90.0}))
    assert exact
    assert values == pytest.approx({"a": 10.0, "b": 25.0, "c": 55.0})


def test_shapley_sums_to_the_grand_cost_and_stays_within_stand_alone():
    share = apportion(["a", "b", "c", "d"], airport_game({"a": 10.0, "b": 40.0, "c": 45.0, "d": 80.0}))
    shapley_split = share.split("shapley")
    assert sum(shapley_split.shares.values()) == pytest.approx(80.0)
    assert share.subadditive and shapley_split.individually_rational and shapley_split.in_core
    assert share.recommended == "shapley"
    epm = share.split("equal_relative_savings")
    assert sum(epm.shares.values()) == pytest.approx(80.0) and epm.in_core


def test_sampled_shapley_beyond_six_services_still_adds_up():
    costs = {f"s{i}": 10.0 * (i + 1) for i in range(8)}
    share = apportion(list(costs), airport_game(costs))
    assert not share.shapley_exact and share.shapley_samples > 0
    assert sum(share.split("shapley").shares.values()) == pytest.approx(80.0)


def test_core_violation_is_reported_and_a_core_split_recommended():
    # a saves a lot with b or with c, b and c nothing together: the core exists, but Shapley
    # (a 2.67, b and c 7.67 each) leaves a and b together paying 10.33 > their 10 as a pair
    table = {frozenset("a"): 10.0, frozenset("b"): 10.0, frozenset("c"): 10.0, frozenset("ab"): 10.0,
             frozenset("ac"): 10.0, frozenset("bc"): 20.0, frozenset("abc"): 18.0}
    share = apportion("abc", lambda c: table[c])
    assert share.subadditive
    shapley_split = share.split("shapley")
    assert shapley_split.shares == pytest.approx({"a": 8 / 3, "b": 23 / 3, "c": 23 / 3})
    assert shapley_split.individually_rational and not shapley_split.in_core
    assert share.recommended == "equal_relative_savings"
    assert share.split("equal_relative_savings").in_core


# ---------------------------------------------------------------- output
def test_reports_are_written_and_say_what_they_must(tmp_path):
    problem = chained_services()
    result = compare(problem, CompareOptions(time_limit_s=1, seeds=2, workers=2))
    paths = write_comparison(result, tmp_path)
    doc = json.loads((tmp_path / "comparison.json").read_text())
    assert {"today", "separate", "integrated", "savings", "passenger_experience", "targets", "apportionment",
            "contracted_in_integrated"} <= set(doc)
    assert "7.5" in doc["targets"]["statement"]
    page = (tmp_path / "report.html").read_text()
    # five charts, and nothing fetched from the network (namespaces name, they are not fetched)
    assert page.count("<svg") == 5 and "http" not in re.sub(r'xmlns(:\w+)?="[^"]*"', "", page)
    assert "Who pays what" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "routes-integrated.csv").read_text().startswith("plan,vehicle_type")
    assert len(paths) == 5
    all_plans_feasible(problem, result)


def test_a_chart_of_ten_runs_names_each_in_its_own_colour_on_a_readable_time_axis():
    import re

    from optimiser.reporting.charts import ChartStyle, cost_curve_chart

    curves = {f"seed {k}": [(5.0, 200.0 - k), (30.0, 170.0 - k), (300.0, 150.0 - k)] for k in range(10)}
    chart = cost_curve_chart("ten seeds", curves, lines={"2% target": 160.0})
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", chart.svg)
    assert [t for t in texts if t.startswith("seed ")] == list(curves)  # every legend entry, in order
    # the curves and their legend keys share ten colours, one per seed
    strokes = set(re.findall(r"stroke: (#[0-9a-f]{6})", chart.svg))
    assert set(ChartStyle().series_colours) <= strokes
    # time ticks at round durations on the log scale, money on the cost axis, the reference line named
    assert {"10 s", "30 s", "1 min", "2 min", "5 min"} <= set(texts)
    assert any(re.fullmatch(r"£1[4-7]\d", t) for t in texts)
    assert "2% target: £160" in texts
    assert chart.svg.startswith("<svg") and chart.title == "ten seeds"


def test_charts_follow_the_style_they_are_given():
    from optimiser.reporting.charts import ChartStyle, cost_split_chart

    style = ChartStyle(width_in=5.0, font_family="DejaVu Serif", service_colours={"school": "#123456"})
    chart = cost_split_chart(["proportional"], {"school": [40.0], "taxi <b>": [60.0]}, style)
    assert 'width="360pt"' in chart.svg  # 5 inches at 72 points an inch
    assert "DejaVu Serif" in chart.svg and "#123456" in chart.svg
    assert style.other_service_colours[0] in chart.svg  # a service the style does not know gets the next colour
    assert "taxi &lt;b&gt;" in chart.svg and "<b>" not in chart.svg


def test_vehicles_through_the_day_are_counted_in_whole_vehicles_against_clock_hours():
    import re

    from optimiser.reporting.charts import vehicles_in_use_chart

    chart = vehicles_in_use_chart({"separate": [("07:10", 3), ("08:40", 7), ("09:30", 0), ("15:00", 5),
                                                ("17:20", 0)],
                                   "integrated": [("07:20", 2), ("09:10", 0), ("15:10", 3), ("17:00", 0)]})
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", chart.svg)
    clocks = [t for t in texts if re.fullmatch(r"\d\d:\d\d", t)]
    assert clocks[0] == "07:00" and clocks[-1] == "18:00" and all(t.endswith(":00") for t in clocks)
    counts = [int(t) for t in texts if t.isdigit()]
    assert counts == sorted(counts) and counts[0] == 0 and counts[-1] >= 7  # whole vehicles from none up
    assert len(set(b - a for a, b in zip(counts, counts[1:]))) == 1  # evenly spaced


def test_the_html_report_has_a_row_per_service_and_every_chart():
    from optimiser.reporting.report import charts, html_report

    result = compare(chained_services(), CompareOptions(time_limit_s=1, seeds=1, workers=1))
    drawn = charts(result)
    page = html_report(result, drawn)
    assert page.startswith("<!doctype html>") and "<h2>Who pays what</h2>" in page
    split = page[page.index("<h2>Who pays what</h2>"):]
    table = split[:split.index("</table>")]
    services = list(result.apportionment.services)
    assert re.findall(r"<tr><td>([^<]+)</td><td class=\"n\">£", table) == services
    assert re.findall(r'<figure role="img" aria-label="([^"]+)">', page) == [c.title for c in drawn.values()]


def test_a_plan_alone_has_its_own_charts_of_the_day():
    from optimiser import SolveOptions, solve
    from optimiser.analysis.compare import vehicles_in_use
    from optimiser.reporting.report import plan_charts

    problem = chained_services()
    plan = solve(problem, SolveOptions(time_limit_s=1))
    assert_feasible(problem, plan)
    drawn = plan_charts(plan)
    assert list(drawn) == ["vehicles_in_use", "ride_times", "search"]
    # one minibus does the school run and then the day-centre run: never two on the road at once
    steps = vehicles_in_use([plan])
    assert max(n for _, n in steps) == 1 and steps[0][0] <= "08:00"
    assert "vehicles on the road" in drawn["vehicles_in_use"].svg
    assert "school" in drawn["ride_times"].svg and "social_care" in drawn["ride_times"].svg


def test_compare_and_run_variants_report_progress_as_solves_done_of_the_total():
    # one progress record across the public API: a comparison counts its finished solves
    from optimiser import Progress, Variant, run_variants
    from optimiser.analysis.scenarios import SetFleetCount

    problem = chained_services()
    seen: list[Progress] = []
    compare(problem, CompareOptions(**FAST), on_progress=seen.append)
    solves = 2 * (len(problem.services) + 1)  # each service alone and all together, at two seeds
    assert [p.done for p in seen] == list(range(1, solves + 1))
    assert {p.total for p in seen} == {solves} and all(isinstance(p, Progress) for p in seen)
    assert all(a.elapsed_s <= b.elapsed_s for a, b in zip(seen, seen[1:]))
    seen.clear()
    run_variants(problem, [Variant("one minibus", [SetFleetCount("minibus", 1)])], time_limit_s=1,
                 on_progress=seen.append)
    assert [(p.done, p.total) for p in seen] == [(1, 2), (2, 2)]


def test_each_solve_gets_the_integrated_solves_seconds_per_trip():
    """The integrated problem is larger than each service alone; with one time limit for every solve
    it would get less search per trip and the saving would be biased downwards."""
    b = ProblemBuilder(line_matrix({"depot": 0, "homes_a": 5, "school": 10, "homes_b": 6, "centre": 12}), "shares")
    b.add_vehicle_type("minibus", count=3, depot="depot", layouts=[Layout("8 seats", seats=8)], cost_per_day=100.0,
                       cost_per_km=0.5)
    for i in range(6):
        b.add_trip(f"s{i}", "school", "homes_a", "school", earliest_pickup="08:00", latest_arrival="08:30")
    for i in range(2):
        b.add_trip(f"c{i}", "social_care", "homes_b", "centre", earliest_pickup="09:00", latest_arrival="09:40")
    problem = b.build()
    options = CompareOptions(time_limit_s=4, seeds=1, workers=1, least_time_s=0.5)
    result = compare(problem, options)
    assert result.integrated_plan.solver.time_limit_s == 4
    assert result.separate_plans["school"].solver.time_limit_s == pytest.approx(3.0)  # 6 of 8 trips
    assert result.separate_plans["social_care"].solver.time_limit_s == pytest.approx(1.0)
    all_plans_feasible(problem, result)
    # never below the least time, nor above the time limit; and the old behaviour on request
    assert CompareOptions(time_limit_s=4, least_time_s=2).seconds_for(1, 100) == 2
    assert CompareOptions(time_limit_s=1, least_time_s=2).seconds_for(1, 100) == 1
    assert CompareOptions(time_limit_s=4, search_by_size=False).seconds_for(1, 100) == 4
    with pytest.raises(ProblemError, match="least time"):
        CompareOptions(least_time_s=0)


@pytest.mark.parametrize("where", ["processes", pytest.param("cluster", marks=pytest.mark.slow)])
def test_a_cancel_stops_the_comparisons_solves_under_way_not_only_the_wait(where, request):
    """Every solve here may run a minute. A cancel ends the comparison and the solves under way:
    in local processes (before, the pool was waited for until they ran out their time), and on a
    cluster, whose workers are free again within seconds (before, they went on solving for nobody)."""
    import threading
    import time

    from distributed import Client

    from geodata.files import load_day
    from optimiser.errors import SolveCancelled
    from tests.conftest import ROOT, cluster_cpu_seconds, stops_left_on_scheduler

    problem = load_day(ROOT / "examples" / "rutland-morning-small.json").problem
    options = CompareOptions(time_limit_s=60, seeds=1, workers=2, search_by_size=False)

    def cancelled_after_three_seconds(executor=None) -> float:
        cancel = threading.Event()
        threading.Timer(3.0, cancel.set).start()
        started = time.monotonic()
        with pytest.raises(SolveCancelled):
            compare(problem, options, cancel=cancel, executor=executor)
        return time.monotonic() - started

    if where == "processes":
        assert cancelled_after_three_seconds() < 30
        return
    with Client(request.getfixturevalue("dask_cluster")) as client:
        cancelled_after_three_seconds(client.get_executor(pure=False))
        busy_s = cluster_cpu_seconds(client)
        assert busy_s < 0.5, f"the workers used {busy_s:.1f} s of CPU in 2 s after the cancel"
        # and the stop they saw is gone from the scheduler once they have ended
        assert stops_left_on_scheduler(client) == []
