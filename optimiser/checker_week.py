"""The independent checker's week extension: every day's plan, and the consistency a week claims.

It shares no code with the week's planning (optimiser/analysis/week.py) nor with the search: it
reads each day's problem and plan (routes' stops, contracted and unserved trips) and the claims of
``week.json`` (the ``continuity`` section), and

- passes every day's plan through the day's checker (``check_plan``);
- measures again, from the plans alone, which vehicle carried each regular trip (a trip row on two
  days or more) each day and the spread of its pickup times, and reports each claim that differs:
  a passenger claimed to keep one vehicle who does not, a spread claimed smaller than it is, a
  share of a service claimed higher than the plans give.
"""
from __future__ import annotations

from typing import Mapping

from optimiser.checker import CheckReport, check_plan

#: Spreads are claimed rounded to a tenth of a minute.
SPREAD_SLACK_MINUTES = 0.05


def _carrier(plan) -> dict[str, tuple[str, float | None]]:
    found = {}
    for route in plan.routes:
        for stop in route.stops:
            if stop.kind == "pickup":
                found[stop.trip_id] = (f"{route.vehicle_type} #{route.vehicle_number}", stop.service_start_s)
    for c in plan.contracted:
        found[c.trip_id] = (f"contract {c.tariff}", None)
    for u in plan.unserved:
        found[u.trip_id] = ("unserved", None)
    return found


def measure_week(days, problems: Mapping, plans: Mapping, passenger_of: Mapping[str, str]) -> dict[str, dict]:
    """Per regular passenger: ``one_vehicle`` (each of their regular trips on one vehicle every day
    it runs, never unserved), ``spread_minutes`` (the largest latest-less-earliest pickup of one
    trip) and ``service``."""
    carried = {d: _carrier(plans[d]) for d in days}
    runs: dict[str, list[str]] = {}
    for d in days:
        for trip in problems[d].trips:
            runs.setdefault(trip.id, []).append(d)
    people: dict[str, dict] = {}
    for trip_id, on in runs.items():
        if len(on) < 2:
            continue
        person = people.setdefault(passenger_of.get(trip_id, trip_id),
                                   {"one_vehicle": True, "spread_minutes": 0.0, "service": None})
        person["service"] = next(t.service for t in problems[on[0]].trips if t.id == trip_id)
        seen = [carried[d].get(trip_id, ("missing", None)) for d in on]
        vehicles = {v for v, _ in seen}
        if len(vehicles) != 1 or "unserved" in vehicles or "missing" in vehicles:
            person["one_vehicle"] = False
        times = [t for _, t in seen if t is not None]
        if len(times) >= 2:
            person["spread_minutes"] = max(person["spread_minutes"], (max(times) - min(times)) / 60)
    return people


def check_week(days, problems: Mapping, plans: Mapping, passenger_of: Mapping[str, str],
               claims: Mapping | None = None, *, hard_services=(), tolerance_minutes: float = 10.0) -> CheckReport:
    """Every day's plan through the day's checker, then the week's ``claims`` (week.json's
    ``continuity``) against what the plans show. ``hard_services``: each regular passenger of these
    must keep one vehicle with a spread of at most twice ``tolerance_minutes``; a breach is reported
    as a violation of the rule (pass ``()`` to check only the claims)."""
    report = CheckReport()
    for d in days:
        day = check_plan(problems[d], plans[d])
        for violation in day.violations:
            report.add(f"{d}: {violation}")
    people = measure_week(days, problems, plans, passenger_of)
    for name, person in sorted(people.items()):
        if person["service"] in hard_services:
            if not person["one_vehicle"]:
                report.add(f"{name} ({person['service']}): not on one vehicle all week")
            if person["spread_minutes"] > 2 * tolerance_minutes + SPREAD_SLACK_MINUTES:
                report.add(f"{name} ({person['service']}): pickups {person['spread_minutes']:.1f} min apart, more "
                           f"than ±{tolerance_minutes:g} min")
    if claims is None:
        return report
    claimed = {p["passenger"]: p for p in claims.get("passengers", [])}
    for name in sorted(set(people) - set(claimed)):
        report.add(f"{name} is a regular passenger the week does not report")
    for name, claim in sorted(claimed.items()):
        person = people.get(name)
        if person is None:
            report.add(f"{name} is reported as a regular passenger but travels on fewer than two days")
            continue
        if claim.get("one_vehicle") and not person["one_vehicle"]:
            report.add(f"{name}: claimed on one vehicle all week, but is not")
        if claim.get("largest_spread_minutes", 0.0) + SPREAD_SLACK_MINUTES < person["spread_minutes"]:
            report.add(f"{name}: claimed pickups {claim['largest_spread_minutes']} min apart at most, the plans "
                       f"give {person['spread_minutes']:.1f}")
    for service, figures in (claims.get("by_service") or {}).items():
        mine = [p for p in people.values() if p["service"] == service]
        if not mine:
            continue
        share = sum(p["one_vehicle"] for p in mine) / len(mine)
        if figures.get("one_vehicle_share", 0.0) > share + 1e-3:
            report.add(f"{service}: claimed {100 * figures['one_vehicle_share']:.1f}% on one vehicle, the plans "
                       f"give {100 * share:.1f}%")
    return report
