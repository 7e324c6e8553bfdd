"""Shared fixtures: where ../shared is, and the rule that every plan passes the checker."""
from __future__ import annotations

from pathlib import Path

import pytest

from optimiser import check_plan

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
DARP = SHARED / "benchmarks" / "darp"


@pytest.fixture
def darp_dir() -> Path:
    if not DARP.is_dir():
        pytest.skip(f"needs the benchmark instances in {DARP} (../shared is not beside this clone)")
    return DARP


def assert_feasible(problem, plan) -> None:
    """Every plan any test produces must pass the independent checker."""
    report = check_plan(problem, plan)
    assert report.feasible, report.violations
