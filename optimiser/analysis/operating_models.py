"""Operating models compared side by side: what the same trips cost run four ways.

    register = read_register("register.csv", problem)
    result = compare_operating_models(problem, register, OperatingModelOptions(seeds=3, time_limit_s=20))
    result.models["hybrid"].year          # median over seeds, pounds a year
    result.to_dict()                      # every model, every seed, the sensitivity

The models (the efficiency programme's "three or four exemplar models" of integrated transport):

- ``today``: today's register as it is. Each contract at its price a day (``Contract.price_for_day``,
  per-mile contracts without miles at the travel model's estimate of their run), each trip on no
  contract at the problem's taxi tariffs. Nothing is solved, so there is no spread.
- ``retendered``: everything contracted, re-tendered as integrated routes. The integrated plan's
  routes (the same solve as ``hybrid``) each priced as an operator would price the vehicle's day
  (``OperatorCostModel.price_vehicle_day``), plus the trips the plan gives to taxis, at the tariffs.
- ``in_house``: an owned fleet sized by the solver. The fleet's vehicle types may each run up to
  ``in_house_fleet_factor`` times the vehicles held, with no taxi offered, so the solver carries
  everything a vehicle can; the trips it cannot carry go to contracts at the tariffs. The fleet is
  costed at its own rates (``VehicleType.cost_*``); the vehicles beyond those held today are the
  vehicles to buy or lease, their price (``CapitalPrices``) annualised over their life.
- ``hybrid``: the integrated plan the product makes (``itu solve``): the fleet held, plus taxis
  where a taxi is cheaper or the fleet cannot carry a trip.
- with ``clock_moves``, each of ``clock_models`` again on the day with those clocks moved
  (``retendered+clock`` and so on).

A year is ``school_days`` days with every trip and ``other_days`` days (the other weekdays out of term:
63 in 2026, its 253 weekdays less bank holidays less 190 school days, as tender lots count them) with the trips of services not in ``school_services``; each solved model is
solved for both days, with the same seeds and time limit. The solver is a heuristic, so each
solved model is solved with ``seeds`` seeds and reported as the median with its range.

Sensitivity: each rate (register prices, taxi tariffs, the operator's pay, vehicle rates,
overheads and margin, the fleet's day, distance and staff costs, vehicle prices) is moved
``sensitivity_step`` either way, one at a time, and the preferred model's annual saving against
``today`` is priced again. The plans are held fixed and re-priced: the tornado shows how far the
answer rests on each price, not what a re-optimised plan would do at that price.
"""
from __future__ import annotations

import math
import statistics
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

from optimiser.analysis.clock import Move, ShiftOptions, apply_moves
from optimiser.analysis.compare import CompareOptions, ride_minutes, run_solves
from optimiser.analysis.contracts import contract_run
from optimiser.checker import check_plan
from optimiser.domain.model import Problem, VehicleType
from optimiser.domain.operator_costs import OperatorCostModel, SizeBand, VehicleRates, vehicle_days
from optimiser.domain.plan import ContractedTrip, CostBreakdown, Plan, service_figures
from optimiser.domain.register import Register
from optimiser.errors import InputFormatError, PlanCheckError, ProblemError
from optimiser.options import CancelToken, ProgressCallback

#: The models in the order they are shown, with their names for people.
MODEL_TITLES = {"today": "(a) today's register", "retendered": "(b) re-tendered integrated routes",
                "in_house": "(c) in-house fleet plus contracts", "hybrid": "(d) hybrid integrated plan"}
MODELS = tuple(MODEL_TITLES)
SOLVED_MODELS = ("retendered", "in_house", "hybrid")
CLOCK_SUFFIX = "+clock"


@dataclass(frozen=True)
class CapitalPrices:
    """What a vehicle costs to buy (or the capital value a lease stands for), and over how long it is paid."""

    #: Pounds a vehicle by the fleet's type name, before the size bands.
    by_type: Mapping[str, float] | None = None
    #: (most places, pounds) by size: the first band that holds the vehicle's places applies.
    #: Illustrative: a car, a people carrier, an accessible minibus, a coach.
    by_size: tuple[tuple[int, float], ...] = ((4, 25_000.0), (8, 40_000.0), (17, 70_000.0), (10_000, 180_000.0))
    #: Years the price is spread over.
    life_years: float = 7.0
    #: Yearly interest on the capital (0: the price divided by the life).
    interest_rate: float = 0.0

    def __post_init__(self):
        if not (math.isfinite(self.life_years) and self.life_years > 0):
            raise ProblemError("must be a positive number", where="capital.life_years")
        if not (math.isfinite(self.interest_rate) and self.interest_rate >= 0):
            raise ProblemError("must be a number, not negative", where="capital.interest_rate")
        if not self.by_size:
            raise ProblemError("needs at least one size band", where="capital.by_size")
        for name, price in list((self.by_type or {}).items()) + [(f"{m} places", p) for m, p in self.by_size]:
            if not (math.isfinite(price) and price >= 0):
                raise ProblemError("must be a number, not negative", where=f"capital.{name}")

    def price_of(self, vehicle_type: VehicleType) -> float:
        if self.by_type and vehicle_type.name in self.by_type:
            return float(self.by_type[vehicle_type.name])
        places = max((lay.seats + lay.wheelchair_spaces + lay.stretchers for lay in vehicle_type.layouts), default=0)
        bands = sorted(self.by_size)
        return float(next((price for most, price in bands if places <= most), bands[-1][1]))

    def a_year(self, price: float) -> float:
        """``price`` as a yearly payment over the life: straight line, or an annuity with interest."""
        r, n = self.interest_rate, self.life_years
        return price / n if r == 0 else price * r / (1 - (1 + r) ** -n)

    def to_dict(self) -> dict:
        return {"by_type": dict(self.by_type or {}), "by_size": [list(b) for b in self.by_size],
                "life_years": self.life_years, "interest_rate": self.interest_rate}


@dataclass(frozen=True)
class OperatingModelOptions:
    """How the models are solved and priced; every one is settable."""

    seeds: int = 3
    #: Seconds for each solve (every model's day and the other days' solves alike).
    time_limit_s: float = 20.0
    #: Solves side by side in separate processes; 0: one per core.
    workers: int = 0
    cost_model: OperatorCostModel = field(default_factory=OperatorCostModel)
    capital: CapitalPrices = field(default_factory=CapitalPrices)
    #: Days a year with every trip, and the other weekdays (with no trips of ``school_services``).
    school_days: int = 190
    other_days: int = 63
    school_services: tuple[str, ...] = ("school", "sen")
    models: tuple[str, ...] = MODELS
    #: Moves of clocks (e.g. the clock advisor's recommendation) and the models to price with them too.
    clock_moves: tuple[Move, ...] = ()
    clock_models: tuple[str, ...] = SOLVED_MODELS
    #: In-house: each vehicle type may run up to this many times the vehicles held.
    in_house_fleet_factor: float = 3.0
    #: The share each rate moves either way in the sensitivity.
    sensitivity_step: float = 0.20

    def __post_init__(self):
        if self.seeds < 1:
            raise ProblemError("at least one seed", where="options.seeds")
        if not self.time_limit_s > 0:
            raise ProblemError("time limit must be positive", where="options.time_limit_s")
        if self.workers < 0:
            raise ProblemError("workers must be 0 (one per core) or more", where="options.workers")
        for name in ("school_days", "other_days"):
            if not 0 <= getattr(self, name) <= 366:
                raise ProblemError("must be between 0 and 366", where=f"options.{name}")
        if self.school_days + self.other_days > 366:
            raise ProblemError("school days and other days come to more than a year", where="options.other_days")
        for name in ("models", "clock_models"):
            unknown = [m for m in getattr(self, name) if m not in MODELS]
            if unknown:
                raise ProblemError(f"unknown model {unknown[0]!r}; the models are {', '.join(MODELS)}",
                                   where=f"options.{name}")
        if not self.models:
            raise ProblemError("choose at least one model", where="options.models")
        if "today" in self.clock_models and self.clock_moves:
            raise ProblemError("today's register has no plan to move clocks in", where="options.clock_models")
        if not (math.isfinite(self.in_house_fleet_factor) and self.in_house_fleet_factor >= 1):
            raise ProblemError("must be at least 1 (the vehicles held)", where="options.in_house_fleet_factor")
        if not 0 < self.sensitivity_step < 1:
            raise ProblemError("must be more than 0 and less than 1", where="options.sensitivity_step")

    def model_keys(self) -> tuple[str, ...]:
        """Every model to report, clock variants after their models."""
        keys = [m for m in MODELS if m in self.models]
        if self.clock_moves:
            keys += [m + CLOCK_SUFFIX for m in MODELS if m in self.clock_models and m in self.models]
        return tuple(keys)


@dataclass(frozen=True)
class PriceFactors:
    """Multipliers on each rate, for the sensitivity (1.0: as given)."""

    register: float = 1.0
    taxi: float = 1.0
    operator_pay: float = 1.0
    operator_vehicles: float = 1.0
    operator_overheads: float = 1.0
    operator_margin: float = 1.0
    fleet_day: float = 1.0
    fleet_km: float = 1.0
    fleet_hour: float = 1.0
    capital: float = 1.0


#: The numbers a request may set besides seeds and days: the operator's rates, the capital's terms
#: and the models' own settings.
MODEL_RATE_FIELDS = ("driver_per_hour", "assistant_per_hour", "minimum_paid_hours", "overhead_share", "margin_share",
                     "life_years", "interest_rate", "in_house_fleet_factor", "sensitivity_step")


#: The rates the sensitivity moves, by the name a chart shows.
SENSITIVITY_RATES = {"register prices": "register", "taxi tariffs": "taxi",
                     "operator pay (driver, assistant)": "operator_pay",
                     "operator vehicle rates (day, km)": "operator_vehicles",
                     "operator overheads": "operator_overheads",
                     "operator margin": "operator_margin", "fleet day cost": "fleet_day",
                     "fleet cost a km": "fleet_km", "fleet staff cost an hour": "fleet_hour",
                     "vehicle prices (capital)": "capital"}


def scaled_cost_model(model: OperatorCostModel, factors: PriceFactors) -> OperatorCostModel:
    """``model`` with its pay, vehicle rates, overheads and margin multiplied by ``factors``."""
    def rates(r: VehicleRates) -> VehicleRates:
        k = factors.operator_vehicles
        return VehicleRates(day_rate=r.day_rate * k, per_km=r.per_km * k)

    return replace(model, driver_per_hour=model.driver_per_hour * factors.operator_pay,
                   assistant_per_hour=model.assistant_per_hour * factors.operator_pay,
                   overhead_share=model.overhead_share * factors.operator_overheads,
                   margin_share=model.margin_share * factors.operator_margin,
                   size_bands=tuple(SizeBand(b.max_seats, rates(b.rates)) for b in model.size_bands),
                   vehicle_rates=None if model.vehicle_rates is None else {
                       name: rates(r) for name, r in model.vehicle_rates.items()})


def fixed_moves(shifts: ShiftOptions, source: str = "shifts") -> tuple[Move, ...]:
    """The clock moves a shift file gives when each row offers one shift (as the clock advisor's
    recommendation is written: a destination and its minutes); a row offering a range is refused."""
    moves, problems = [], []
    for option in shifts.options:
        offered = option.minutes()
        if len(offered) != 1:
            problems.append(f"row {option.row}: {option.destination} offers {len(offered)} shifts; give the one "
                            "to price (from_minutes alone)")
            continue
        moves.append(Move(option.destination, offered[0], option.trips))
    if problems:
        raise InputFormatError("an operating model prices one move a destination: " + "; ".join(problems[:5]),
                               where=source)
    return tuple(moves)


# ------------------------------------------------------------------------------ the days
def other_day_problem(problem: Problem, school_services: Sequence[str]) -> Problem | None:
    """The day without the trips of ``school_services`` (a weekday in the holidays); None if no trip is left."""
    trips = tuple(t for t in problem.trips if t.service not in school_services)
    if not trips:
        return None
    return Problem(trips, problem.vehicle_types, problem.matrix, problem.tariffs, f"{problem.name} [other days]")


def in_house_problem(problem: Problem, factor: float) -> Problem:
    """The day for an owned fleet: each vehicle type up to ``factor`` times the vehicles held (at
    least one), and no taxi offered, so the solver carries every trip a vehicle can."""
    types = tuple(replace(vt, count=max(1, math.ceil(vt.count * factor))) for vt in problem.vehicle_types)
    return Problem(problem.trips, types, problem.matrix, (), f"{problem.name} [in-house]")


def contract_the_rest(problem: Problem, in_house: Problem, plan: Plan) -> tuple[Plan, Problem]:
    """The in-house plan with the trips its fleet left to contracts at the problem's tariffs; and
    the problem it is checked against (the in-house fleet with the tariffs)."""
    priced = replace(in_house, tariffs=problem.tariffs)
    contracted = list(plan.contracted)
    unserved = []
    for u in plan.unserved:
        offer = problem.contract_price(problem.trip(u.trip_id))
        if offer is None:
            unserved.append(u)
        else:
            contracted.append(ContractedTrip(u.trip_id, u.service, offer[0].name, offer[1],
                                             f"the fleet cannot carry it: {u.reason}"))
    cost = replace(plan.cost, contracts=sum(c.price for c in contracted))
    by_service = service_figures(priced, plan.routes, contracted, unserved)
    return replace(plan, contracted=tuple(contracted), unserved=tuple(unserved), cost=cost,
                   by_service=by_service), priced


# ------------------------------------------------------------------------------ pricing
def register_day_cost(problem: Problem, register: Register, school_services: Sequence[str], *,
                      school_day: bool) -> dict:
    """Today's register on a school day (every contract) or another day (the contracts carrying a
    trip of a service outside ``school_services``; a per-trip contract for those trips only), and
    the trips on no contract at the tariffs. Pounds, not rounded."""
    contracts = taxis = 0.0
    routes = assistants = 0
    unpriced = []
    for c in register.contracts:
        trips = [problem.trip(t) for t in c.trip_ids]
        running = trips if school_day else [t for t in trips if t.service not in school_services]
        if not running:
            continue
        if c.price_basis == "trip":
            contracts += c.price * len(running)
        else:
            contracts += contract_run(problem, c).price
        if c.kind == "route":
            routes += 1
            assistants += c.assistant
    for trip_id in register.uncovered:
        trip = problem.trip(trip_id)
        if not school_day and trip.service in school_services:
            continue
        offer = problem.contract_price(trip)
        if offer is None:
            unpriced.append(trip_id)
        else:
            taxis += offer[1]
    return {"contracts": contracts, "taxis": taxis, "vehicles": routes, "assistants": assistants,
            "unpriced": unpriced, "taxi_trips": sum(1 for t in register.uncovered if t not in unpriced)}


def fleet_cost(plan: Plan, factors: PriceFactors) -> float:
    """The plan's routes at the fleet's own rates, each part moved by its factor."""
    return sum(r.cost_fixed * factors.fleet_day + r.cost_distance * factors.fleet_km
               + (r.cost_time + r.cost_assistant) * factors.fleet_hour for r in plan.routes)


def operator_cost(plan: Plan, problem: Problem, model: OperatorCostModel) -> float:
    """The plan's routes as an operator would price each vehicle's day."""
    types = {vt.name: vt for vt in problem.vehicle_types}
    return sum(model.price_vehicle_day(duties, types[name]).total
               for (name, _), duties in vehicle_days(plan.routes).items())


def taxi_cost(plan: Plan, factors: PriceFactors) -> float:
    return sum(c.price for c in plan.contracted) * factors.taxi


def vehicles_by_type(plan: Plan) -> dict[str, int]:
    return {name: len(numbers) for name, numbers in
            _numbers_by_type(plan).items()}


def _numbers_by_type(plan: Plan) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for r in plan.routes:
        out.setdefault(r.vehicle_type, set()).add(r.vehicle_number)
    return out


@dataclass(frozen=True)
class SolvedDay:
    """One seed of a solved model: its plan for a school day and for another day (None: no such day)."""

    model: str
    seed: int
    school: Plan
    other: Plan | None
    problem: Problem
    other_problem: Problem | None


def _acquire(problem: Problem, plan: Plan, capital: CapitalPrices) -> dict:
    """The vehicles the in-house plan runs beyond those held today, and their price."""
    held = {vt.name: vt.count for vt in problem.vehicle_types}
    types = {vt.name: vt for vt in problem.vehicle_types}
    needed = vehicles_by_type(plan)
    to_acquire = {name: max(0, n - held.get(name, 0)) for name, n in needed.items()}
    price = sum(capital.price_of(types[name]) * n for name, n in to_acquire.items())
    return {"needed": needed, "held": {k: held[k] for k in needed}, "to_acquire": {k: v for k, v in to_acquire.items()
                                                                                  if v}, "price": price}


def price_solved(day: SolvedDay, base: Problem, options: OperatingModelOptions, factors: PriceFactors) -> dict:
    """A solved model's cost a school day, another day and a year, under ``factors``."""
    model = day.model.removesuffix(CLOCK_SUFFIX)
    operator_model = scaled_cost_model(options.cost_model, factors)

    def day_cost(plan: Plan | None, problem: Problem | None) -> float:
        if plan is None:
            return 0.0
        routes = (operator_cost(plan, problem, operator_model) if model == "retendered"
                  else fleet_cost(plan, factors))
        return routes + taxi_cost(plan, factors)

    school = day_cost(day.school, day.problem)
    other = day_cost(day.other, day.other_problem)
    capital_price = capital_year = 0.0
    if model == "in_house":
        capital_price = _acquire(base, day.school, options.capital)["price"] * factors.capital
        capital_year = options.capital.a_year(capital_price)
    return {"school_day": school, "other_day": other, "capital": capital_price, "capital_a_year": capital_year,
            "year": school * options.school_days + other * options.other_days + capital_year}


def price_today(problem: Problem, register: Register, options: OperatingModelOptions, factors: PriceFactors) -> dict:
    school = register_day_cost(problem, register, options.school_services, school_day=True)
    other = register_day_cost(problem, register, options.school_services, school_day=False)

    def total(d):
        return d["contracts"] * factors.register + d["taxis"] * factors.taxi

    return {"school_day": total(school), "other_day": total(other), "capital": 0.0, "capital_a_year": 0.0,
            "year": total(school) * options.school_days + total(other) * options.other_days,
            "detail": school}


# ------------------------------------------------------------------------------ results
def _spread(values: Sequence[float]) -> dict:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def _median_index(values: Sequence[float]) -> int:
    order = sorted(range(len(values)), key=lambda i: values[i])
    return order[(len(order) - 1) // 2]


@dataclass(frozen=True)
class ModelResult:
    """One operating model: its figures for each seed, and the seed at the median a year."""

    key: str
    title: str
    seeds: tuple[Mapping, ...]
    plans: tuple[SolvedDay, ...] = ()

    @property
    def median_index(self) -> int:
        return _median_index([s["year"] for s in self.seeds])

    @property
    def year(self) -> float:
        return statistics.median(s["year"] for s in self.seeds)

    @property
    def school_day(self) -> float:
        return statistics.median(s["school_day"] for s in self.seeds)

    @property
    def median(self) -> Mapping:
        return self.seeds[self.median_index]

    def to_dict(self) -> dict:
        median = self.median
        return {"key": self.key, "title": self.title, "solved": bool(self.plans),
                "cost_a_school_day": _spread([s["school_day"] for s in self.seeds]),
                "cost_an_other_day": _spread([s["other_day"] for s in self.seeds]),
                "cost_a_year": _spread([s["year"] for s in self.seeds]),
                "vehicles": _spread([s["vehicles"] for s in self.seeds]),
                **{k: median[k] for k in ("drivers", "assistants", "capital", "capital_a_year", "taxi_trips",
                                          "unserved_trips", "ride_minutes_mean", "ride_minutes_max", "checked",
                                          "vehicles_to_acquire", "note")},
                "by_seed": [dict(s) for s in self.seeds]}


@dataclass(frozen=True)
class OperatingModels:
    problem_name: str
    options: OperatingModelOptions
    models: Mapping[str, ModelResult]
    preferred: str | None
    sensitivity: Mapping

    def to_dict(self) -> dict:
        o = self.options
        return {"problem": self.problem_name,
                "settings": {"seeds": o.seeds, "time_limit_s": o.time_limit_s, "school_days": o.school_days,
                             "other_days": o.other_days, "school_services": list(o.school_services),
                             "models": list(o.models), "clock_moves": [m.to_dict() for m in o.clock_moves],
                             "clock_models": list(o.clock_models), "in_house_fleet_factor": o.in_house_fleet_factor,
                             "sensitivity_step": o.sensitivity_step, "cost_model": o.cost_model.to_dict(),
                             "capital": o.capital.to_dict()},
                "models": [m.to_dict() for m in self.models.values()], "preferred": self.preferred,
                "sensitivity": dict(self.sensitivity)}


def _plan_figures(day: SolvedDay, base: Problem, options: OperatingModelOptions) -> dict:
    """Vehicles, staff, rides and checks of a solved model's school-day plan (the busiest day)."""
    plan, problem = day.school, day.problem
    types = {vt.name: vt for vt in problem.vehicle_types}
    numbers = _numbers_by_type(plan)
    rides = [minutes for _, minutes in ride_minutes(plan).values()]
    acquire = _acquire(base, plan, options.capital) if day.model.startswith("in_house") else None
    return {"vehicles": sum(len(n) for n in numbers.values()), "drivers": sum(len(n) for n in numbers.values()),
            "assistants": sum(len(n) for name, n in numbers.items() if types[name].passenger_assistant),
            "taxi_trips": len(plan.contracted), "unserved_trips": len(plan.unserved),
            "ride_minutes_mean": statistics.fmean(rides) if rides else None,
            "ride_minutes_max": max(rides) if rides else None, "checked": True,
            "vehicles_to_acquire": acquire["to_acquire"] if acquire else {},
            "note": (f"{len(plan.unserved)} trips neither the fleet nor a tariff can carry" if plan.unserved else "")}


def _check(problem: Problem, plan: Plan, what: str) -> None:
    report = check_plan(problem, plan)
    if not report.feasible:
        raise PlanCheckError(f"the {what} plan fails the independent checker: " + "; ".join(report.violations[:5]))


def compare_operating_models(problem: Problem, register: Register, options: OperatingModelOptions | None = None, *,
                             on_progress: ProgressCallback | None = None, executor: Executor | None = None,
                             cancel: CancelToken | None = None) -> OperatingModels:
    """Price ``options.models`` on ``problem``'s day with ``register`` as today's contracts (read
    against the same problem: ``read_register``): every solved model over ``options.seeds`` seeds,
    each plan through the independent checker, and the sensitivity of the preferred model's saving.
    ``on_progress`` gets each finished solve (``done`` of ``total``); ``executor`` runs the solves
    (a Dask client's, for a cluster); ``cancel`` stops early with ``SolveCancelled``."""
    options = options or OperatingModelOptions()
    unknown = sorted({t for c in register.contracts for t in c.trip_ids} - {t.id for t in problem.trips})
    if unknown:
        raise ProblemError(f"the register names trips the day does not have: {', '.join(unknown[:5])}",
                           where="register")
    keys = options.model_keys()
    moved = apply_moves(problem, options.clock_moves) if options.clock_moves else None
    # each solved model's day: the fleet held with taxis (re-tendered and hybrid share it) or the in-house fleet
    variants: dict[str, Problem] = {}
    for key in keys:
        if key == "today":
            continue
        day_problem = moved if key.endswith(CLOCK_SUFFIX) else problem
        model = key.removesuffix(CLOCK_SUFFIX)
        fleet = "in_house" if model == "in_house" else "held"
        variant = fleet + (CLOCK_SUFFIX if key.endswith(CLOCK_SUFFIX) else "")
        if variant not in variants:
            variants[variant] = (in_house_problem(day_problem, options.in_house_fleet_factor) if fleet == "in_house"
                                 else day_problem)
    jobs = {}
    days: dict[tuple[str, str], Problem] = {}
    for variant, day_problem in variants.items():
        days[(variant, "school")] = day_problem
        other = other_day_problem(day_problem, options.school_services) if options.other_days else None
        if other is not None:
            days[(variant, "other")] = other
    for seed in range(options.seeds):
        for (variant, kind), day_problem in days.items():
            jobs[(variant, kind, seed)] = (day_problem, seed, options.time_limit_s)
    solve_options = CompareOptions(time_limit_s=options.time_limit_s, seeds=options.seeds, workers=options.workers)
    plans = run_solves(jobs, solve_options, on_progress, executor, cancel) if jobs else {}

    base = PriceFactors()
    results: dict[str, ModelResult] = {}
    solved: dict[str, list[SolvedDay]] = {}
    for key in keys:
        if key == "today":
            continue
        model = key.removesuffix(CLOCK_SUFFIX)
        clock = CLOCK_SUFFIX if key.endswith(CLOCK_SUFFIX) else ""
        variant = ("in_house" if model == "in_house" else "held") + clock
        day_problem = moved if clock else problem
        runs = []
        for seed in range(options.seeds):
            school, other = plans[(variant, "school", seed)], plans.get((variant, "other", seed))
            school_problem, other_problem = days[(variant, "school")], days.get((variant, "other"))
            if model == "in_house":
                school, school_problem = contract_the_rest(day_problem, school_problem, school)
                if other is not None:
                    other, other_problem = contract_the_rest(day_problem, other_problem, other)
            _check(school_problem, school, f"{key} (seed {seed})")
            if other is not None:
                _check(other_problem, other, f"{key} other days (seed {seed})")
            runs.append(SolvedDay(key, seed, school, other, school_problem, other_problem))
        solved[key] = runs
        title = MODEL_TITLES[model] + (" with the clock moves" if clock else "")
        results[key] = ModelResult(key, title, tuple({"seed": r.seed, **price_solved(r, problem, options, base),
                                                      **_plan_figures(r, problem, options)} for r in runs),
                                   tuple(runs))
    if "today" in keys:
        today = price_today(problem, register, options, base)
        detail = today.pop("detail")
        unpriced = detail["unpriced"]
        results = {"today": ModelResult("today", MODEL_TITLES["today"], ({
            "seed": None, **today, "vehicles": detail["vehicles"], "drivers": detail["vehicles"],
            "assistants": detail["assistants"], "taxi_trips": detail["taxi_trips"],
            "unserved_trips": len(unpriced), "ride_minutes_mean": None, "ride_minutes_max": None,
            "checked": None, "vehicles_to_acquire": {},
            "note": ("a register does not say what a contract's vehicle does, so its ride times are not known"
                     + (f"; {len(unpriced)} trips on no contract have no tariff and are left out"
                        if unpriced else ""))},)), **results}
    order = [k for k in keys if k in results]
    results = {k: results[k] for k in order}
    candidates = [k for k in results if k != "today"]
    preferred = min(candidates, key=lambda k: results[k].year) if candidates else None
    sensitivity = _sensitivity(problem, register, options, results, preferred) if preferred else {}
    return OperatingModels(problem.name, options, results, preferred, sensitivity)


def _sensitivity(problem: Problem, register: Register, options: OperatingModelOptions,
                 results: Mapping[str, ModelResult], preferred: str) -> dict:
    """The preferred model's saving a year against today's register with each rate moved
    ``sensitivity_step`` down and up, the plans of its median seed held fixed."""
    chosen = results[preferred]
    day = chosen.plans[chosen.median_index]

    def saving(factors: PriceFactors) -> float:
        today = price_today(problem, register, options, factors)["year"]
        return today - price_solved(day, problem, options, factors)["year"]

    base = saving(PriceFactors())
    step = options.sensitivity_step
    rates = []
    for label, name in SENSITIVITY_RATES.items():
        low = saving(PriceFactors(**{name: 1 - step}))
        high = saving(PriceFactors(**{name: 1 + step}))
        if abs(high - low) > 0.005:
            rates.append({"rate": label, "low": low, "high": high, "swing": abs(high - low)})
    rates.sort(key=lambda r: -r["swing"])
    return {"model": preferred, "title": chosen.title, "seed": day.seed, "step": step, "saving_a_year": base,
            "rates": rates}
