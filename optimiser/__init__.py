"""Integrated transport route optimiser: the pure planning core.

Imports neither Flask, SQLAlchemy nor geopandas: a validated ``Problem`` and
a travel matrix in, a checked ``Plan`` out.
"""
from .checker import CheckReport, check_plan
from .errors import InputFormatError, ItuError, PlanCheckError, ProblemError, SolveCancelled, SolveFailed
from .model import (RESOURCES, ContractTariff, Layout, Problem, ProblemBuilder, TravelMatrix, Trip, VehicleType,
                    crow_fly, format_clock, parse_clock)
from .plan import ContractedTrip, CostBreakdown, Plan, Route, ServiceFigures, Stop, UnservedTrip
from .solver import Progress, SolveOptions, solve

__all__ = [
    "CheckReport", "check_plan", "InputFormatError", "ItuError", "PlanCheckError", "ProblemError", "SolveCancelled", "SolveFailed",
    "RESOURCES", "ContractTariff", "Layout", "Problem", "ProblemBuilder", "TravelMatrix", "Trip", "VehicleType",
    "crow_fly", "format_clock", "parse_clock", "ContractedTrip", "CostBreakdown", "Plan", "Route",
    "ServiceFigures", "Stop", "UnservedTrip", "Progress", "SolveOptions", "solve",
]
