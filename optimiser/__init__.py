"""Integrated transport route optimiser: the pure planning core.

Imports neither Flask, SQLAlchemy nor geopandas: a validated ``Problem`` and a travel matrix in,
a checked ``Plan`` out. The package is laid out by role:

- ``domain/``: the problem and the plan (model, plan, schedule), problem documents and the
  published benchmark instances' readers;
- ``engine/``: the search on one day (the search model, first routes, ruin and recreate,
  OR-Tools, parts);
- ``decompose/``: large days planned in parts side by side (regions, the sides of a break);
- ``analysis/``: what the plans mean (integration savings, the cost split, what-if variants, the
  clock advisor, today's contracts, re-planning a published day);
- ``reporting/``: reports and charts;
- ``checker.py``: the independent checker, which imports nothing of the engine;
- ``options.py`` and ``solving.py``: how to search, and ``solve`` itself.
"""
from .analysis.clock import ClockAdvice, ClockLimits, ClockOptions, advise_clock, read_shift_options
from .analysis.compare import CompareOptions, Comparison, compare
from .analysis.contracts import ContractAnalysis, ContractAnalysisOptions, analyse_contracts
from .analysis.replan import DisruptionPrices, ReplanOptions, ReplanResult, changes_from_document, replan
from .analysis.scenarios import Variant, run_variants
from .analysis.tender_lots import Lot, LotOptions, TenderLots, make_lots
from .checker import CheckReport, check_plan
from .domain.model import (RESOURCES, ContractTariff, Layout, Problem, ProblemBuilder, TravelMatrix, Trip, VehicleType,
                           crow_fly, format_clock, parse_clock)
from .domain.register import Contract, Register, read_register
from .domain.plan import ContractedTrip, CostBreakdown, Plan, Route, ServiceFigures, SolveRecord, Stop, UnservedTrip
from .errors import InputFormatError, ItuError, PlanCheckError, ProblemError, SolveCancelled, SolveFailed
from .options import (DecompositionParameters, Progress, ProgressCallback, RuinRecreateParameters, SearchParameters,
                      SolveOptions, StrategyParameters)
from .solving import Strategy, choose_strategy, solve

__all__ = [
    "ClockAdvice", "ClockLimits", "ClockOptions", "advise_clock", "read_shift_options",
    "CompareOptions", "Comparison", "compare", "ContractAnalysis", "ContractAnalysisOptions", "analyse_contracts",
    "Contract", "Register", "read_register", "Variant", "run_variants",
    "Lot", "LotOptions", "TenderLots", "make_lots",
    "DisruptionPrices", "ReplanOptions", "ReplanResult", "changes_from_document", "replan",
    "CheckReport", "check_plan", "InputFormatError", "ItuError", "PlanCheckError", "ProblemError", "SolveCancelled",
    "SolveFailed", "RESOURCES", "ContractTariff", "Layout", "Problem", "ProblemBuilder", "TravelMatrix", "Trip",
    "VehicleType", "crow_fly", "format_clock", "parse_clock", "ContractedTrip", "CostBreakdown", "Plan", "Route",
    "ServiceFigures", "SolveRecord", "Stop", "UnservedTrip", "DecompositionParameters", "Progress", "ProgressCallback",
    "RuinRecreateParameters", "SearchParameters", "SolveOptions", "StrategyParameters", "Strategy", "choose_strategy",
    "solve",
]
