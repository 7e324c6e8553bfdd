"""The operator cost model prices a vehicle's day by its stated rules, to the penny."""
import pytest

from optimiser.domain.model import Layout, VehicleType
from optimiser.domain.operator_costs import OperatorCostModel, VehicleRates, vehicle_days
from optimiser.domain.plan import Route
from optimiser.errors import ProblemError


def route(number, duty, hours, km):
    return Route(vehicle_type="minibus", vehicle_number=number, layout="16 seats", stops=(), km=km,
                 duty_s=hours * 3600, cost_fixed=0, cost_distance=0, cost_time=0, cost_assistant=0,
                 co2_kg=0, duty=duty)


MINIBUS = VehicleType(name="minibus", count=3, depot="d", layouts=(Layout("16 seats", seats=16),),
                      passenger_assistant=True)


def test_split_duties_pay_the_vehicle_once_and_each_duty_at_least_the_minimum():
    model = OperatorCostModel(driver_per_hour=15, assistant_per_hour=12, minimum_paid_hours=2,
                              overhead_share=0.1, margin_share=0.2)
    # a 1.5 h morning run is paid 2 h; a 2.5 h afternoon run 2.5 h: 4.5 paid hours
    price = model.price_vehicle_day([route(1, 0, 1.5, 40), route(1, 1, 2.5, 60)], MINIBUS)
    assert price.paid_hours == pytest.approx(4.5)
    assert price.vehicle == 75.0  # a 16-seat minibus: the third size band
    assert price.driver == pytest.approx(67.5)
    assert price.assistant == pytest.approx(54.0)
    assert price.distance == pytest.approx(100 * 0.40)
    direct = 75 + 67.5 + 54 + 40
    assert price.total == pytest.approx(direct * 1.1 * 1.2)


def test_named_rates_come_before_the_size_bands_and_no_assistant_is_paid_without_one():
    car = VehicleType(name="taxi", count=1, depot="d", layouts=(Layout("4 seats", seats=4),))
    model = OperatorCostModel(vehicle_rates={"taxi": VehicleRates(day_rate=10, per_km=1)}, overhead_share=0,
                              margin_share=0)
    price = model.price_vehicle_day([route(1, 0, 3, 5)], car)
    assert (price.vehicle, price.assistant, price.distance) == (10, 0.0, 5)
    assert price.total == pytest.approx(10 + 3 * 15.0 + 5)


def test_vehicle_days_group_duties_by_vehicle_in_duty_order():
    days = vehicle_days([route(2, 1, 1, 1), route(1, 0, 1, 1), route(2, 0, 1, 1)])
    assert sorted(days) == [("minibus", 1), ("minibus", 2)]
    assert [r.duty for r in days[("minibus", 2)]] == [0, 1]


def test_a_negative_rate_is_refused_naming_it():
    with pytest.raises(ProblemError) as error:
        OperatorCostModel(margin_share=-0.1)
    assert error.value.where == "cost_model.margin_share"
