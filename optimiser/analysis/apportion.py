"""Splitting a shared cost between budget holders: a cooperative cost game over services.

``cost_of`` gives the cost of planning any coalition (set of services) together. The rules
compared (Frisk et al., EJOR 2010, compare the same family for collaborative transport):

* stand-alone: what each service would pay on its own (the reference, not a split);
* proportional: the integrated cost shared in proportion to stand-alone costs;
* Shapley value: each service's average marginal cost over every order of joining;
* equal relative savings (EPM): shares as close as possible to the same percentage saving
  for everyone, subject to the core (no group of services would do better on its own).
"""
from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

#: Up to this many services the Shapley value is exact (2^6 - 1 = 63 coalitions to plan).
EXACT_SHAPLEY_MAX_SERVICES = 6
DEFAULT_SHAPLEY_SAMPLES = 200
TOLERANCE = 1e-6


@dataclass(frozen=True)
class Split:
    rule: str
    shares: Mapping[str, float]
    #: every service pays no more than it would alone
    individually_rational: bool
    #: no coalition pays more than it would alone (the core)
    in_core: bool
    note: str = ""

    def to_dict(self) -> dict:
        return {"rule": self.rule, "shares": dict(self.shares), "individually_rational": self.individually_rational,
                "in_core": self.in_core, "note": self.note}


@dataclass(frozen=True)
class Apportionment:
    services: tuple[str, ...]
    coalition_costs: Mapping[frozenset, float]
    splits: tuple[Split, ...]
    recommended: str
    why: str
    shapley_exact: bool
    shapley_samples: int | None = None
    subadditive: bool = True

    def split(self, rule: str) -> Split:
        return next(s for s in self.splits if s.rule == rule)

    def to_dict(self) -> dict:
        return {"services": list(self.services),
                "coalition_costs": {"+".join(sorted(k)): v for k, v in self.coalition_costs.items()},
                "splits": [s.to_dict() for s in self.splits], "recommended": self.recommended, "why": self.why,
                "shapley_exact": self.shapley_exact, "shapley_samples": self.shapley_samples,
                "subadditive": self.subadditive}


def _check(shares: Mapping[str, float], costs: Mapping[frozenset, float]) -> tuple[bool, bool]:
    rational = all(shares[s] <= costs[frozenset([s])] + TOLERANCE * max(1, costs[frozenset([s])])
                   for s in shares if frozenset([s]) in costs)
    core = all(sum(shares[s] for s in coalition) <= cost + TOLERANCE * max(1.0, cost)
               for coalition, cost in costs.items())
    return rational, core


def shapley(services: Sequence[str], cost_of: Callable[[frozenset], float], *, samples: int | None = None,
            seed: int = 0) -> tuple[dict[str, float], bool, int | None]:
    """Exact over all coalitions for up to EXACT_SHAPLEY_MAX_SERVICES services, else sampled orders."""
    n = len(services)
    if n <= EXACT_SHAPLEY_MAX_SERVICES and samples is None:
        values = dict.fromkeys(services, 0.0)
        for s in services:
            others = [o for o in services if o != s]
            for size in range(n):
                weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
                for subset in itertools.combinations(others, size):
                    before = frozenset(subset)
                    values[s] += weight * (cost_of(before | {s}) - (cost_of(before) if before else 0.0))
        return values, True, None
    samples = samples or DEFAULT_SHAPLEY_SAMPLES
    rng = random.Random(seed)
    values = dict.fromkeys(services, 0.0)
    for _ in range(samples):
        order = list(services)
        rng.shuffle(order)
        joined: frozenset = frozenset()
        previous = 0.0
        for s in order:
            joined = joined | {s}
            cost = cost_of(joined)
            values[s] += (cost - previous) / samples
            previous = cost
    return values, False, samples


def equal_relative_savings(services: Sequence[str], costs: Mapping[frozenset, float]) -> dict[str, float] | None:
    """EPM: minimise the largest difference between two services' relative savings, subject to the
    shares adding up to the grand coalition's cost and the core constraints on every coalition known.
    None when the core is empty."""
    from scipy.optimize import linprog

    n = len(services)
    grand = costs[frozenset(services)]
    alone = [costs[frozenset([s])] for s in services]
    if any(a <= 0 for a in alone):
        return None
    # variables: x_0..x_{n-1}, f ; minimise f
    c = [0.0] * n + [1.0]
    a_ub, b_ub = [], []
    for i in range(n):
        for j in range(n):
            if i != j:  # x_i / alone_i - x_j / alone_j <= f
                row = [0.0] * (n + 1)
                row[i] = 1.0 / alone[i]
                row[j] = -1.0 / alone[j]
                row[n] = -1.0
                a_ub.append(row)
                b_ub.append(0.0)
    for coalition, cost in costs.items():
        if len(coalition) < n:
            a_ub.append([1.0 if s in coalition else 0.0 for s in services] + [0.0])
            b_ub.append(cost)
    result = linprog(c, A_ub=a_ub or None, b_ub=b_ub or None, A_eq=[[1.0] * n + [0.0]], b_eq=[grand],
                     bounds=[(0, None)] * n + [(0, None)], method="highs")
    if not result.success:
        return None
    return {s: float(result.x[i]) for i, s in enumerate(services)}


def apportion(services: Sequence[str], cost_of: Callable[[frozenset], float], *,
              shapley_samples: int | None = None) -> Apportionment:
    """Every split of the grand coalition's cost, checked against stand-alone costs and the core."""
    services = tuple(sorted(services))
    n = len(services)
    cache: dict[frozenset, float] = {}

    def cached(coalition: frozenset) -> float:
        if coalition not in cache:
            cache[coalition] = cost_of(coalition)
        return cache[coalition]

    grand = cached(frozenset(services))
    alone = {s: cached(frozenset([s])) for s in services}
    values, exact, samples = shapley(services, cached, samples=shapley_samples)
    if exact:  # every coalition is known: the core can be checked in full
        for size in range(2, n):
            for subset in itertools.combinations(services, size):
                cached(frozenset(subset))
    costs = dict(cache)
    subadditive = all(costs[a | b] <= costs[a] + costs[b] + TOLERANCE * max(1.0, costs[a] + costs[b])
                      for a in costs for b in costs if not (a & b) and (a | b) in costs)
    total_alone = sum(alone.values())
    proportional = {s: grand * alone[s] / total_alone if total_alone else grand / n for s in services}
    splits = [Split("stand_alone", alone, True, sum(alone.values()) <= grand + TOLERANCE,
                    "what each service would pay planning on its own (adds up to more than the integrated cost "
                    "when integration saves)"),
              Split("proportional", proportional, *_check(proportional, costs),
                    note="integrated cost shared in proportion to stand-alone costs")]
    splits.append(Split("shapley", values, *_check(values, costs),
                        note="average marginal cost over every order of joining"
                        + ("" if exact else f" (sampled: {samples} random orders)")))
    epm = equal_relative_savings(services, costs)
    if epm is not None:
        splits.append(Split("equal_relative_savings", epm, *_check(epm, costs),
                            note="relative savings as equal as the core allows"))
    shapley_split = splits[2]
    if shapley_split.in_core:
        recommended, why = "shapley", ("the Shapley value lies in the core: no service and no group of services "
                                       "would pay less on its own, and each pays its average marginal cost")
    elif epm is not None:
        recommended, why = "equal_relative_savings", (
            "the Shapley value falls outside the core (some group would pay less alone); equal relative "
            "savings stays in the core and gives every service as nearly the same percentage saving as possible")
    else:
        why = ("the core is empty, so no split can satisfy every group; proportional shares are the simplest "
               "defensible rule")
        cheaper = [(costs[a] + costs[frozenset(services) - a], a) for a in costs
                   if 0 < len(a) < n and frozenset(services) - a in costs]
        if cheaper and min(cheaper, key=lambda x: x[0])[0] < grand - TOLERANCE * max(1.0, grand):
            total, part = min(cheaper, key=lambda x: x[0])
            why += (f". The plans found are not subadditive: planning {' + '.join(sorted(part))} apart from the rest "
                    f"costs {total:,.2f}, less than the {grand:,.2f} found for everyone together, so the solver "
                    "did not find the best integrated plan in its time limit; allow more time per solve")
        recommended = "proportional"
    return Apportionment(services, costs, tuple(splits), recommended, why, exact, samples, subadditive)
