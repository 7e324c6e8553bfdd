"""A week of trips from files: one trip file whose rows say the days they run, and a fleet whose
vehicle types and tariffs may say theirs (docs/week.md).

``load_week`` reads the files once per day of the week (``load_day(..., day=d)``), so each day is
validated exactly as a day is, and lists every problem of every day at once, each with its file,
row, trip id and column. Every day's travel times cover every place of the week. A trip file
without a ``days`` column is a week of one day.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from optimiser.analysis.week import Week
from optimiser.domain.days import week_of
from optimiser.errors import InputFormatError

from .files import LoadedDay, load_day
from .readers import DEFAULT_MAX_SNAP_M, problems_error, read_trips
from .travel import TravelProvider, travel_provider


@dataclass
class LoadedWeek:
    """The days of a week in order, each a validated day, and who travels on which rows."""

    days: tuple[str, ...]
    day: dict[str, LoadedDay]
    #: The passenger of each trip row (the ``passenger`` column; the trip id when blank): one
    #: person's rows across the days share it.
    passenger_of: dict[str, str]
    #: The days each trip row runs, among the week's days.
    days_of_trip: dict[str, tuple[str, ...]]

    @property
    def week(self) -> Week:
        """The week as the planning core takes it (``optimiser.analysis.week.plan_week``)."""
        return Week(self.days, {d: self.day[d].problem for d in self.days}, dict(self.passenger_of))


def load_week(trips_path: str | Path, fleet_path: str | Path, *, travel: TravelProvider | Mapping | None = None,
              tariffs_path: str | Path | None = None, far_points: str = "error",
              max_snap_m: float = DEFAULT_MAX_SNAP_M) -> LoadedWeek:
    """The week in ``trips_path`` (CSV, GeoJSON or GeoPackage with a ``days`` column) and its
    fleet file, each day a ``LoadedDay``. Raises ``InputFormatError`` listing every problem of
    every day at once."""
    trips_path = Path(trips_path)
    if trips_path.suffix.lower() not in (".csv", ".geojson", ".gpkg"):
        raise InputFormatError("a week is a trip file (CSV, GeoJSON or GeoPackage) with a days column",
                               where=str(trips_path))
    table = read_trips(trips_path, services=None)
    days = week_of(r.days for r in table.rows)
    provider = travel if hasattr(travel, "table") else travel_provider(travel)
    loaded: dict[str, LoadedDay] = {}
    problems: list[dict] = []
    for day in days:
        try:
            loaded[day] = load_day(trips_path, fleet_path, travel=provider, tariffs_path=tariffs_path,
                                   far_points=far_points, max_snap_m=max_snap_m,
                                   day=None if day == "day" else day)
        except InputFormatError as exc:
            if not exc.problems:
                raise
            problems.extend(p for p in exc.problems if p not in problems)
    if problems:
        raise problems_error(problems)
    days_of_trip: dict[str, tuple[str, ...]] = {}
    for day in days:
        for trip in loaded[day].problem.trips:
            days_of_trip[trip.id] = days_of_trip.get(trip.id, ()) + (day,)
    passenger_of = {r.trip_id: r.text.get("passenger") or r.trip_id for r in table.rows}
    return LoadedWeek(days, loaded, passenger_of, days_of_trip)
