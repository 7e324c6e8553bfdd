"""The project's one small exception hierarchy.

Every error a user can cause is an ``ItuError``; ``service/`` maps each class
to one HTTP status in a single place, and the command line prints the message
without a traceback.
"""
from __future__ import annotations


class ItuError(Exception):
    """Base class of every error this product raises on purpose."""

    #: Stable machine-readable code, used by the HTTP API and JSON output.
    code = "itu_error"

    def __init__(self, message: str, *, where: str | None = None):
        super().__init__(message)
        self.message = message
        #: Path of the offending input, e.g. ``trips[3].latest_pickup`` or ``row 12``.
        self.where = where

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "where": self.where}


class ProblemError(ItuError):
    """The trips, fleet, tariffs or travel matrix describe an impossible or inconsistent problem."""

    code = "invalid_problem"


class InputFormatError(ItuError):
    """A file or document could not be read: wrong format, missing column, unparseable value."""

    code = "invalid_input"

    def __init__(self, message: str, *, where: str | None = None, problems: list[dict] | None = None):
        super().__init__(message, where=where)
        #: Every problem found, when a reader lists them all at once: dicts with ``row``,
        #: ``trip_id``, ``column`` and ``message`` (absent keys are unknown).
        self.problems = list(problems or [])

    def to_dict(self) -> dict:
        return {**super().to_dict(), **({"problems": self.problems} if self.problems else {})}


class SolveFailed(ItuError):
    """The solver produced no plan at all, typically because the time limit ran out first."""

    code = "solve_failed"


class SolveCancelled(ItuError):
    """A solve was cancelled before it produced a plan."""

    code = "cancelled"


class PlanCheckError(ItuError):
    """A plan failed the independent checker; raised only where a plan must be feasible."""

    code = "infeasible_plan"
