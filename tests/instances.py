"""A ladder of tiny named problems on a straight road, so distances are easy to check by hand.

Positions are km along the road from the depot at 0; vehicles drive at 60 km/h, so one km is
one minute. Costs: £1 per km and nothing else unless a test says so.
"""
from __future__ import annotations

import numpy as np

from optimiser import Layout, ProblemBuilder, TravelMatrix


def line_matrix(points: dict[str, float]) -> TravelMatrix:
    ids = list(points)
    km = np.abs(np.array([points[i] for i in ids])[:, None] - np.array([points[i] for i in ids])[None, :])
    return TravelMatrix(tuple(ids), km * 60.0, km * 1000.0)


def line_builder(points: dict[str, float], **fleet) -> ProblemBuilder:
    builder = ProblemBuilder(line_matrix({"depot": 0.0, **points}), name="line")
    defaults = dict(count=1, depot="depot", layouts=[Layout("4 seats", seats=4)], cost_per_km=1.0)
    defaults.update(fleet)
    builder.add_vehicle_type("car", **defaults)
    return builder
