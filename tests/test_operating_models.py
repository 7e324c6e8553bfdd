"""Operating models side by side: today's register and re-tendered routes priced to the penny on a
hand-built day, every plan of every model through the independent checker, and the bundled example
end to end with tiny time limits."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from optimiser import Layout
from optimiser.analysis.clock import shift_options_from_csv_text
from optimiser.analysis.operating_models import (CapitalPrices, OperatingModelOptions, compare_operating_models,
                                                 fixed_moves)
from optimiser.checker import check_plan
from optimiser.domain.operator_costs import OperatorCostModel, SizeBand, VehicleRates
from optimiser.domain.register import read_register, register_from_csv_text
from optimiser.errors import InputFormatError, ProblemError
from tests.conftest import ROOT
from tests.instances import school_road

RUTLAND = ROOT / "examples" / "rutland"
HEADER = "id,operator,kind,services,layout,price_basis,price,duty_start,duty_end,trips\n"
#: No pay and one size band, so an operator's price is its day rate and kilometres, with overheads and margin.
OPERATOR = OperatorCostModel(driver_per_hour=0.0, assistant_per_hour=0.0, overhead_share=0.15, margin_share=0.10,
                             size_bands=(SizeBand(100, VehicleRates(day_rate=35.0, per_km=0.20)),))


def hand_day():
    """The school road (home 5 km out, school 10 km; the car costs £1 a km): a school run to
    school in the morning and a social-care run home in the afternoon. A taxi costs £50 plus £2 a
    km (£60 for either trip), so the fleet carries both on one loop of 20 km (£20)."""
    b = school_road(layouts=[Layout("4 seats", seats=4)])
    b.add_trip("S1", "school", "home", "school", earliest_arrival="08:30", latest_arrival="08:45")
    b.add_trip("C1", "social_care", "school", "home", earliest_pickup="15:00", latest_pickup="15:30")
    b.add_tariff("taxi", flag_fall=50.0, per_km=2.0)
    return b.build()


def hand_register(problem):
    """One route contract at £40 a day carries the school run; the social-care run is on no contract."""
    return register_from_csv_text(HEADER + "R1,Acme,route,school,4 seats,day,40.00,08:00,09:00,S1\n", problem)


@pytest.fixture(scope="module")
def hand_result():
    problem = hand_day()
    options = OperatingModelOptions(seeds=2, time_limit_s=1, workers=1, cost_model=OPERATOR, school_days=190,
                                    other_days=70)
    return problem, compare_operating_models(problem, hand_register(problem), options)


def test_todays_register_is_priced_to_the_penny(hand_result):
    _, result = hand_result
    today = result.models["today"].to_dict()
    # a school day: the contract's £40 and the taxi's £50 + 5 km at £2; another day: the taxi alone
    assert today["cost_a_school_day"]["median"] == pytest.approx(100.00, abs=0.005)
    assert today["cost_an_other_day"]["median"] == pytest.approx(60.00, abs=0.005)
    assert today["cost_a_year"]["median"] == pytest.approx(100.00 * 190 + 60.00 * 70, abs=0.005)
    assert today["vehicles"]["median"] == 1 and today["taxi_trips"] == 1


def test_retendered_routes_are_priced_by_the_operator_cost_model_to_the_penny(hand_result):
    _, result = hand_result
    retendered = result.models["retendered"].to_dict()
    # one car, 20 km: £35 + 20 x £0.20 = £39 direct, 15% overheads (£5.85), 10% margin (£4.485)
    day = (35.0 + 20 * 0.20) * 1.15 * 1.10
    assert round(day, 3) == 49.335
    for seed in retendered["by_seed"]:
        assert seed["school_day"] == pytest.approx(day, abs=0.005)
        assert seed["other_day"] == pytest.approx(day, abs=0.005)  # C1 alone is a 20 km loop too
        assert seed["taxi_trips"] == 0
    assert retendered["cost_a_year"]["median"] == pytest.approx(day * (190 + 70), abs=0.005)
    # the hybrid plan is the same routes at the fleet's own £1 a km
    assert result.models["hybrid"].to_dict()["cost_a_year"]["median"] == pytest.approx(20.0 * 260, abs=0.005)
    assert result.preferred in ("hybrid", "in_house")
    assert result.sensitivity["saving_a_year"] == pytest.approx(23200.0 - 5200.0, abs=0.005)


def test_every_plan_of_every_model_passes_the_checker(hand_result):
    _, result = hand_result
    plans = 0
    for model in result.models.values():
        for day in model.plans:
            assert check_plan(day.problem, day.school).feasible
            assert day.other is not None and check_plan(day.other_problem, day.other).feasible
            plans += 2
    assert plans == 3 * 2 * 2  # three solved models, two seeds, two days


def test_the_sensitivity_moves_the_saving_by_the_rates_share():
    problem = hand_day()
    options = OperatingModelOptions(seeds=1, time_limit_s=1, workers=1, models=("today", "hybrid"))
    result = compare_operating_models(problem, hand_register(problem), options)
    rates = {r["rate"]: r for r in result.sensitivity["rates"]}
    # register prices: £40 a school day, 190 days, moved 20% either way
    assert rates["register prices"]["high"] - rates["register prices"]["low"] == pytest.approx(0.4 * 40 * 190)
    # the fleet's km cost is the hybrid plan's whole cost (£20 a day, 190 + 63 days); more cost, less saving
    assert rates["fleet cost a km"]["low"] - rates["fleet cost a km"]["high"] == pytest.approx(0.4 * 20 * (190 + 63))
    assert "operator margin" not in rates  # no re-tendered model in this comparison


def test_in_house_buys_the_vehicles_beyond_those_held():
    b = school_road(layouts=[Layout("4 seats", seats=4)], shift_start="08:00", shift_end="09:30")
    b.add_trip("S1", "school", "home", "school", earliest_arrival="08:40", latest_arrival="08:45")
    b.add_trip("S2", "school", "home", "school", earliest_arrival="08:40", latest_arrival="08:45", seats=4)
    b.add_tariff("taxi", flag_fall=50.0, per_km=2.0)
    problem = b.build()
    register = register_from_csv_text(HEADER + "R1,Acme,route,school,4 seats,day,40.00,08:00,09:00,S1\n"
                                      "R2,Acme,route,school,4 seats,day,40.00,08:00,09:00,S2\n", problem)
    capital = CapitalPrices(by_type={"car": 21_000.0}, life_years=7)
    options = OperatingModelOptions(seeds=1, time_limit_s=1, workers=1, models=("in_house",), capital=capital)
    model = compare_operating_models(problem, register, options).models["in_house"].to_dict()
    # the two runs arrive within the same five minutes and do not fit one car together: one held,
    # one to buy, £21,000 over 7 years
    assert model["vehicles_to_acquire"] == {"car": 1}
    assert model["capital"] == 21_000.0 and model["capital_a_year"] == pytest.approx(3000.0)
    assert model["taxi_trips"] == 0
    assert CapitalPrices(life_years=2, interest_rate=0.1).a_year(100.0) == pytest.approx(100 * 0.1 / (1 - 1.1 ** -2))


def test_clock_moves_add_each_solved_model_with_the_moves():
    problem = hand_day()
    moves = fixed_moves(shift_options_from_csv_text("destination,from_minutes\nschool,30\n", problem))
    options = OperatingModelOptions(seeds=1, time_limit_s=1, workers=1, models=("today", "hybrid"), clock_moves=moves,
                                    clock_models=("hybrid",))
    result = compare_operating_models(problem, hand_register(problem), options)
    assert list(result.models) == ["today", "hybrid", "hybrid+clock"]
    moved = result.models["hybrid+clock"].plans[0]
    assert moved.problem.trip("S1").latest_arrival_s == problem.trip("S1").latest_arrival_s + 1800
    assert check_plan(moved.problem, moved.school).feasible
    with pytest.raises(InputFormatError, match="row 2: school offers 2 shifts"):
        fixed_moves(shift_options_from_csv_text("destination,from_minutes,to_minutes,step_minutes\n"
                                                "school,-30,30,30\n", problem))


def test_bad_options_are_refused_with_the_field():
    with pytest.raises(ProblemError) as err:
        OperatingModelOptions(models=("today", "council-owned"))
    assert err.value.where == "options.models" and "council-owned" in str(err.value)
    with pytest.raises(ProblemError) as err:
        OperatingModelOptions(school_days=300, other_days=100)
    assert err.value.where == "options.other_days"


def test_the_example_end_to_end_with_tiny_time_limits(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "service.cli", "contracts", "models", str(RUTLAND / "trips.csv"),
                           str(RUTLAND / "fleet.json"), "--register", str(RUTLAND / "register.csv"), "--seeds", "2",
                           "--seconds", "1", "--parallel", "1", "--quiet", "--out", str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / "models.json").read_text())
    assert [m["key"] for m in doc["models"]] == ["today", "retendered", "in_house", "hybrid"]
    for m in doc["models"][1:]:
        assert m["checked"] and len(m["by_seed"]) == 2
        assert m["cost_a_year"]["min"] <= m["cost_a_year"]["median"] <= m["cost_a_year"]["max"]
    # today's register is priced as the contract analysis prices it a day, with no taxi beside it
    assert doc["models"][0]["cost_a_school_day"]["median"] == pytest.approx(5272.31, abs=0.005)
    for name in ("models.md", "models.html", "models.csv", "seeds.csv", "annual-cost.svg", "tornado.svg"):
        assert (tmp_path / name).stat().st_size > 0
    assert "<script" not in (tmp_path / "models.html").read_text()


# ------------------------------------------------------------------------------ the API job
@pytest.fixture
def service(dev_service):
    return dev_service


def test_a_models_job_prices_the_models_and_refuses_bad_settings_by_field(service):
    from tests.test_contracts import run_claimed
    from tests.test_service_api import submit_on_the_example

    app, url = service
    client = app.test_client()
    register_text = (RUTLAND / "register.csv").read_text()
    refused = submit_on_the_example(client, "/v1/models-jobs", register_csv=register_text, margin_share=-0.1)
    assert refused.status_code == 422 and refused.get_json()["where"] == "body.margin_share"
    refused = submit_on_the_example(client, "/v1/models-jobs", register_csv=register_text, models=["today", "x"])
    assert refused.status_code == 422 and refused.get_json()["where"] == "body.models"
    response = submit_on_the_example(client, "/v1/models-jobs", register_csv=register_text, seeds=1, time_limit_s=1,
                                     models=["today", "hybrid"], school_days=195, other_days=0)
    assert response.status_code == 202, response.get_json()
    job = response.get_json()
    assert job["kind"] == "models"
    assert run_claimed(app, url, job["id"]) == "succeeded"
    done = client.get(job["url"]).get_json()
    assert {"models.json", "models.html", "models.md", "models.csv", "seeds.csv", "annual-cost.svg",
            "tornado.svg"} <= set(done["results"])
    doc = client.get(done["results"]["models.json"]).get_json()
    today = doc["models"][0]
    assert today["cost_a_year"]["median"] == pytest.approx(195 * today["cost_a_school_day"]["median"])
    assert done["summary"]["preferred"] == "hybrid"


@pytest.mark.slow
def test_compare_the_models_from_the_planners_page(served, browser):
    """The page's operating-models section on the example's register: each model's year with its
    range, the cheapest named, the charts, the report and the downloads."""
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(served + "/")
    page.fill("#models-seconds", "1")
    page.fill("#models-seeds", "1")
    page.click("#models-run")
    page.wait_for_function("""() => !document.getElementById("models-results").hidden
                              || document.getElementById("models-error").textContent""", timeout=300_000)
    assert not page.inner_text("#models-error")
    titles = [page.locator("#models-table tbody tr").nth(k).locator("td").first.inner_text() for k in range(4)]
    assert [t[:3] for t in titles] == ["(a)", "(b)", "(c)", "(d)"]
    assert "Cheapest a year" in page.inner_text("#models-headline")
    assert page.locator("#models-charts img").count() == 2
    page.frame_locator("#models-report").locator("h1").first.wait_for(timeout=30_000)
    assert "models.json" in page.inner_text("#models-downloads")
    assert not errors


@pytest.mark.parametrize("body, where", [
    ({"vehicle_prices": {"minibus": -1}}, "body.vehicle_prices.minibus"),
    # the in-house fleet is the fleet times the factor: within the vehicles a problem may have
    ({"in_house_fleet_factor": 1e9}, "body.in_house_fleet_factor"),
])
def test_a_models_job_names_a_vehicle_price_and_refuses_too_big_an_in_house_fleet(service, body, where):
    """A vehicle's price was named body.<type>; a factor of a billion was queued to build a fleet
    of billions of vehicles."""
    from tests.test_service_api import submit_on_the_example

    app, _ = service
    register_text = (RUTLAND / "register.csv").read_text()
    refused = submit_on_the_example(app.test_client(), "/v1/models-jobs", register_csv=register_text, **body)
    assert refused.status_code == 422 and refused.get_json()["where"] == where, refused.get_json()


@pytest.mark.parametrize("make, where", [
    (lambda x: OperatorCostModel(driver_per_hour=x), "cost_model.driver_per_hour"),
    (lambda x: OperatorCostModel(margin_share=x), "cost_model.margin_share"),
    (lambda x: CapitalPrices(life_years=x), "capital.life_years"),
    (lambda x: CapitalPrices(interest_rate=x), "capital.interest_rate"),
    (lambda x: CapitalPrices(by_type={"minibus": x}), "capital.minibus"),
    (lambda x: OperatingModelOptions(in_house_fleet_factor=x), "options.in_house_fleet_factor"),
])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_rates_that_are_not_numbers_are_refused_by_name(make, where, value):
    """NaN passed a "not negative" test and infinity priced every vehicle at infinity."""
    with pytest.raises(ProblemError) as refused:
        make(value)
    assert refused.value.where == where
