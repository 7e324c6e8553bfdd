"""What an operator would charge to run a route: the cost model behind re-tendered routes and tender lots.

    model = OperatorCostModel(driver_per_hour=15.0, margin_share=0.08)
    price = model.price_vehicle_day(routes_of_one_vehicle, vehicle_type)
    price.total          # pounds a day, overheads and margin included
    price.to_dict()      # the breakdown, for a lot sheet or a report

A council that re-tenders a route does not pay the fleet's own running costs (``VehicleType.cost_*``,
which describe the council's vehicles); it pays an operator's price. Operators build that price the
same way (a vehicle's standing cost a day, the driver's and assistant's paid hours, a rate a mile or
kilometre for fuel and wear, then overheads and a margin), so the model does too, with every rate
settable. The defaults are illustrative placeholders for a first look, not a market survey: set them
from the council's own recent tender returns. The assistant's default is the National Living Wage
from April 2026 (GOV.UK, "National Minimum Wage and National Living Wage rates": £12.71 an hour).

Pricing rules:

- a vehicle's standing cost is paid once for each vehicle used on the day, whatever its duties;
- a driver (and an assistant, where the vehicle carries one) is paid for each duty's hours, start to
  end, at least ``minimum_paid_hours`` a duty: an operator calls a driver out for a school run and
  pays a minimum whatever its length; the hours between split duties are not paid;
- distance is the routes' kilometres at the vehicle's rate a kilometre;
- overheads are a share of those direct costs, and the margin a share of direct costs plus overheads.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

from optimiser.domain.model import VehicleType
from optimiser.domain.plan import Route
from optimiser.errors import ProblemError


@dataclass(frozen=True)
class VehicleRates:
    """An operator's cost of one kind of vehicle."""

    #: Pounds a day the vehicle is used: lease or depreciation, insurance, licensing, maintenance.
    day_rate: float
    #: Pounds a kilometre driven: fuel or energy, tyres, wear.
    per_km: float

    def __post_init__(self):
        for name in ("day_rate", "per_km"):
            if getattr(self, name) < 0:
                raise ProblemError("must not be negative", where=f"vehicle_rates.{name}")


@dataclass(frozen=True)
class SizeBand:
    """The rates for vehicles of up to ``max_seats`` seats (wheelchair spaces count as seats here)."""

    max_seats: int
    rates: VehicleRates


#: Illustrative rates by vehicle size: a saloon or MPV, a people carrier, a minibus, a coach.
DEFAULT_SIZE_BANDS = (
    SizeBand(4, VehicleRates(day_rate=35.0, per_km=0.20)),
    SizeBand(8, VehicleRates(day_rate=50.0, per_km=0.28)),
    SizeBand(17, VehicleRates(day_rate=75.0, per_km=0.40)),
    SizeBand(10_000, VehicleRates(day_rate=140.0, per_km=0.85)),
)


@dataclass(frozen=True)
class RoutePrice:
    """An operator's price for one vehicle's day, broken down."""

    vehicle: float
    driver: float
    assistant: float
    distance: float
    overheads: float
    margin: float
    paid_hours: float
    km: float

    @property
    def direct(self) -> float:
        return self.vehicle + self.driver + self.assistant + self.distance

    @property
    def total(self) -> float:
        return self.direct + self.overheads + self.margin

    def to_dict(self) -> dict:
        return {"vehicle": round(self.vehicle, 2), "driver": round(self.driver, 2),
                "assistant": round(self.assistant, 2), "distance": round(self.distance, 2),
                "overheads": round(self.overheads, 2), "margin": round(self.margin, 2),
                "total": round(self.total, 2), "paid_hours": round(self.paid_hours, 2), "km": round(self.km, 2)}


@dataclass(frozen=True)
class OperatorCostModel:
    """The rates an operator's price is built from; every one is settable."""

    #: Pounds an hour a driver is paid (wage plus employer's on-costs).
    driver_per_hour: float = 15.0
    #: Pounds an hour a passenger assistant is paid.
    assistant_per_hour: float = 12.71
    #: The least hours a driver or assistant is paid for one duty.
    minimum_paid_hours: float = 2.0
    #: Overheads (premises, scheduling, management) as a share of direct costs.
    overhead_share: float = 0.15
    #: The operator's margin as a share of direct costs plus overheads.
    margin_share: float = 0.10
    #: Rates by the vehicle's size; the first band whose ``max_seats`` holds the vehicle applies.
    size_bands: tuple[SizeBand, ...] = DEFAULT_SIZE_BANDS
    #: Rates for named vehicle types, before the size bands.
    vehicle_rates: Mapping[str, VehicleRates] | None = None

    def __post_init__(self):
        for name in ("driver_per_hour", "assistant_per_hour", "minimum_paid_hours", "overhead_share",
                     "margin_share"):
            # NaN passes a "< 0" test and infinity makes every price infinite: refuse both
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ProblemError("must be a number, not negative", where=f"cost_model.{name}")
        if not self.size_bands:
            raise ProblemError("needs at least one size band", where="cost_model.size_bands")

    def rates_for(self, vehicle_type: VehicleType) -> VehicleRates:
        """The named rates of this vehicle type, else those of the smallest size band that holds it."""
        if self.vehicle_rates and vehicle_type.name in self.vehicle_rates:
            return self.vehicle_rates[vehicle_type.name]
        places = max((lay.seats + lay.wheelchair_spaces + lay.stretchers for lay in vehicle_type.layouts), default=0)
        for band in sorted(self.size_bands, key=lambda b: b.max_seats):
            if places <= band.max_seats:
                return band.rates
        return max(self.size_bands, key=lambda b: b.max_seats).rates

    def price_vehicle_day(self, routes: Sequence[Route], vehicle_type: VehicleType) -> RoutePrice:
        """The price of one vehicle's day: ``routes`` are its duties (one route each, split shifts
        included), all of ``vehicle_type``."""
        if not routes:
            return RoutePrice(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        rates = self.rates_for(vehicle_type)
        paid_hours = sum(max(route.duty_s / 3600.0, self.minimum_paid_hours) for route in routes)
        km = sum(route.km for route in routes)
        driver = paid_hours * self.driver_per_hour
        assistant = paid_hours * self.assistant_per_hour if vehicle_type.passenger_assistant else 0.0
        distance = km * rates.per_km
        direct = rates.day_rate + driver + assistant + distance
        overheads = direct * self.overhead_share
        margin = (direct + overheads) * self.margin_share
        return RoutePrice(vehicle=rates.day_rate, driver=driver, assistant=assistant, distance=distance,
                          overheads=overheads, margin=margin, paid_hours=paid_hours, km=km)

    def to_dict(self) -> dict:
        return {"driver_per_hour": self.driver_per_hour, "assistant_per_hour": self.assistant_per_hour,
                "minimum_paid_hours": self.minimum_paid_hours, "overhead_share": self.overhead_share,
                "margin_share": self.margin_share,
                "size_bands": [{"max_seats": b.max_seats, "day_rate": b.rates.day_rate, "per_km": b.rates.per_km}
                               for b in self.size_bands],
                "vehicle_rates": {name: {"day_rate": r.day_rate, "per_km": r.per_km}
                                  for name, r in (self.vehicle_rates or {}).items()}}


def vehicle_days(routes: Sequence[Route]) -> dict[tuple[str, int], list[Route]]:
    """The plan's routes grouped by vehicle (type and number), each vehicle's duties in order."""
    days: dict[tuple[str, int], list[Route]] = {}
    for route in routes:
        days.setdefault((route.vehicle_type, route.vehicle_number), []).append(route)
    for duties in days.values():
        duties.sort(key=lambda r: r.duty)
    return days
