"""A seeded generator of realistic integrated-transport days.

``area_from_osm(pbf)`` finds the real schools, hospitals, clinics and day centres (social
facilities; community centres when an extract has none) in an OpenStreetMap extract, and
samples homes along its residential roads. ``synthetic_area("rutland")`` builds an area
from public town-centre coordinates only, with invented facilities around them: it needs
no data, which is how the bundled example is made (shared/geodata's licence note asks
that nothing derived from the extract be committed).

``generate_scenario(area, trips=N, seed=S)`` then builds a day: mainstream school and SEN
pupils (to school and home again), adults to day centres and back, and patients to
appointments and back, in the proportions and windows of docs/domain.md, with a fleet
and contract tariffs to match. ``write_scenario`` saves ``trips.csv`` and ``fleet.json``
that ``itu solve`` and ``itu compare`` read.
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from optimiser.analysis.contracts import contract_run, ride_window
from optimiser.domain.days import WEEKDAYS
from optimiser.domain.model import RESOURCES, format_clock, parse_layouts
from optimiser.domain.register import Contract
from optimiser.errors import InputFormatError

from .readers import TRIP_COLUMNS
from .travel import CrowFlyProvider, TravelProvider


@dataclass(frozen=True)
class Place:
    name: str
    latitude: float
    longitude: float
    kind: str = ""  # primary / secondary for schools; hospital / clinic for health


@dataclass
class Area:
    name: str
    schools: list[Place]
    day_centres: list[Place]
    health: list[Place]
    depot: Place
    #: ``sample_homes(rng, n)`` -> array of (latitude, longitude), shape (n, 2).
    sample_homes: Callable[[np.random.Generator, int], np.ndarray] = field(repr=False)
    attribution: str = ""


# -- the share of each service in a day, and their timings (docs/domain.md) --------------------------------
#: Share of trips per service. A guess for a shire ITU: mainstream pupils are the largest
#: group, SEN next (NAO 2025: SEND transport costs about five times more per pupil), then
#: day-centre adults and NEPT patients. Changeable.
#: The shapes of day ``generate_scenario`` makes, and the dial-a-ride shapes' window widths (minutes).
SHAPES = ("council", "dial-a-ride", "dial-a-ride-wide")
DIAL_A_RIDE_WINDOW_MIN = {"dial-a-ride": (15, 30), "dial-a-ride-wide": (30, 50)}
DEFAULT_SERVICE_MIX = {"school": 0.45, "sen": 0.25, "social_care": 0.15, "nept": 0.15}
#: Arrive 5 to 20 minutes before the bell (a guess; no national rule).
ARRIVE_BEFORE_BELL_MIN = (20, 5)
#: DfE 2014 best practice: 45 min primary, 75 min secondary, one way.
RIDE_CAP_MIN = {"primary": 45, "secondary": 75, "social_care": 60, "nept": 60}
#: Where the direct journey is long (rural), the cap stretches to this factor of it.
RIDE_CAP_FACTOR_FLOOR = 1.5
#: SEN pupils: about 9% travel alone (DfE via CCN); the rest are guesses.
SEN_TRAVELS_ALONE = 0.09
SEN_NEEDS_ASSISTANT = 0.45
SEN_WHEELCHAIR = 0.15
#: Day-centre adults: about a quarter use wheelchairs (Salford in-house fleet).
SOCIAL_CARE_WHEELCHAIR = 0.25
#: NEPT mobility mix (Calderdale CCG): 69% seated, 15% tail-lift, 14% wheelchair, 1.4% stretcher.
NEPT_MOBILITY = {"seated": 0.69, "tail_lift": 0.15, "wheelchair": 0.14, "stretcher": 0.014}
#: NEPT escorts only for a stated reason: a guess of 8% of patients.
NEPT_ESCORT = 0.08
#: Renal and cancer patients arrive within 45 minutes of the appointment, others within 60 (NWAS).
NEPT_RENAL_SHARE = 0.15
SIBLING_SHARE = 0.08  # mainstream pupils travelling with a brother or sister (one trip, two seats; guess)


# -- areas -----------------------------------------------------------------------------------------------------
#: Town and village centres of Rutland (public gazetteer coordinates, rounded) with a rough
#: share of the county's homes. No OpenStreetMap data is used.
RUTLAND_TOWNS = (
    ("Oakham", 52.6706, -0.7279, 0.36), ("Uppingham", 52.5891, -0.7239, 0.14),
    ("Ketton", 52.6279, -0.5544, 0.07), ("Cottesmore", 52.7129, -0.6647, 0.08),
    ("Empingham", 52.6669, -0.5972, 0.04), ("Ryhall", 52.6867, -0.4657, 0.05),
    ("Whissendine", 52.7197, -0.7722, 0.05), ("Great Casterton", 52.6712, -0.5175, 0.03),
    ("Edith Weston", 52.6375, -0.6328, 0.05), ("Langham", 52.6939, -0.7539, 0.05),
    ("Market Overton", 52.7375, -0.6845, 0.03), ("Greetham", 52.7217, -0.6308, 0.03),
    ("Exton", 52.6921, -0.6362, 0.02),
)


def synthetic_area(name: str = "rutland") -> Area:
    """An area made from town centres alone: each town gets primary schools, the two largest a
    secondary, the largest a special school, a hospital, a clinic and day centres, placed near
    the centre; homes cluster round the towns (standard deviation 0.9 km), with one in ten
    scattered in the countryside between them."""
    if name != "rutland":
        raise InputFormatError(f"no built-in synthetic area {name!r}; known: rutland (or give an .osm.pbf)",
                               where="area")
    rng = np.random.default_rng(20261125)  # fixed: the same area every time
    towns = RUTLAND_TOWNS
    by_size = sorted(towns, key=lambda t: -t[3])

    def near(town, spread_m=500.0):
        dlat = rng.normal(0, spread_m) / 111_320
        dlon = rng.normal(0, spread_m) / (111_320 * math.cos(math.radians(town[1])))
        return town[1] + dlat, town[2] + dlon

    schools = []
    for town in towns:
        for k in range(2 if town[3] > 0.1 else 1):
            schools.append(Place(f"{town[0]} Primary {'AB'[k]} (synthetic)", *near(town), kind="primary"))
    for town in by_size[:2]:
        schools.append(Place(f"{town[0]} Secondary (synthetic)", *near(town), kind="secondary"))
    schools.append(Place(f"{by_size[0][0]} Special School (synthetic)", *near(by_size[0]), kind="special"))
    health = [Place(f"{by_size[0][0]} Hospital (synthetic)", *near(by_size[0]), kind="hospital"),
              Place(f"{by_size[1][0]} Clinic (synthetic)", *near(by_size[1]), kind="clinic")]
    day_centres = [Place(f"{t[0]} Day Centre (synthetic)", *near(t), kind="day_centre") for t in by_size[:2]]
    depot = Place(f"{by_size[0][0]} Depot (synthetic)", *near(by_size[0], 1500), kind="depot")
    weights = np.array([t[3] for t in towns])
    weights = weights / weights.sum()
    lat_lo, lat_hi = min(t[1] for t in towns), max(t[1] for t in towns)
    lon_lo, lon_hi = min(t[2] for t in towns), max(t[2] for t in towns)

    def sample_homes(rng: np.random.Generator, n: int) -> np.ndarray:
        town_of = rng.choice(len(towns), size=n, p=weights)
        lat = np.array([towns[i][1] for i in town_of]) + rng.normal(0, 900, n) / 111_320
        lon = np.array([towns[i][2] for i in town_of]) + rng.normal(0, 900, n) / (111_320 * 0.61)
        rural = rng.random(n) < 0.1
        lat[rural] = rng.uniform(lat_lo, lat_hi, rural.sum())
        lon[rural] = rng.uniform(lon_lo, lon_hi, rural.sum())
        return np.column_stack([lat, lon])

    return Area("rutland (synthetic)", schools, day_centres, health, depot, sample_homes,
                attribution="Synthetic places around public town-centre coordinates")


#: Roads along which homes are sampled, and their relative weight per metre (guess).
HOME_ROAD_WEIGHT = {"residential": 1.0, "living_street": 1.0, "unclassified": 0.25, "tertiary": 0.15}


def area_from_osm(pbf_path: str | Path) -> Area:
    """The real schools, hospitals, clinics and day centres of an extract, and homes sampled
    along its residential roads."""
    import pyrosm
    import shapely

    pbf_path = Path(pbf_path)
    if not pbf_path.is_file():
        raise InputFormatError("no such OpenStreetMap extract", where=str(pbf_path))
    osm = pyrosm.OSM(str(pbf_path))
    pois = osm.get_pois(custom_filter={"amenity": ["school", "hospital", "clinic", "doctors", "social_facility",
                                                   "community_centre"]})
    if pois is None or len(pois) == 0:
        raise InputFormatError("the extract has no schools, hospitals or day centres", where=str(pbf_path))
    points = pois.geometry.representative_point()
    places: dict[str, list[Place]] = {"school": [], "health": [], "day": [], "community": []}
    for (_, poi), point in zip(pois.iterrows(), points):
        amenity = poi.get("amenity")
        name = poi.get("name")
        name = name if isinstance(name, str) and name else f"unnamed {amenity} {poi.get('id')}"
        if amenity == "school":
            secondary = any(w in name for w in ("College", "Academy", "High School", "Secondary", "Upper"))
            kind = "secondary" if secondary and "Primary" not in name else "primary"
            places["school"].append(Place(name, point.y, point.x, kind))
        elif amenity in ("hospital", "clinic", "doctors"):
            places["health"].append(Place(name, point.y, point.x, "hospital" if amenity == "hospital" else "clinic"))
        elif amenity == "social_facility":
            places["day"].append(Place(name, point.y, point.x, "day_centre"))
        else:
            places["community"].append(Place(name, point.y, point.x, "day_centre"))
    day_centres = places["day"] or places["community"]
    missing = [what for what, found in (("schools", places["school"]), ("hospitals or clinics", places["health"]),
                                        ("day centres or community centres", day_centres)) if not found]
    if missing:
        raise InputFormatError(f"the extract has no {', no '.join(missing)}", where=str(pbf_path))
    nodes, edges = osm.get_network(network_type="driving", nodes=True)
    edges = edges[edges["highway"].isin(list(HOME_ROAD_WEIGHT))]
    weight = edges["length"].to_numpy() * edges["highway"].map(HOME_ROAD_WEIGHT).to_numpy()
    probability = weight / weight.sum()
    geometries = edges.geometry.to_numpy()
    all_places = places["school"] + places["health"] + day_centres
    centre_lat = float(np.median([p.latitude for p in all_places]))
    centre_lon = float(np.median([p.longitude for p in all_places]))
    lat, lon = nodes["lat"].to_numpy(dtype=float), nodes["lon"].to_numpy(dtype=float)
    nearest = int(np.argmin((lat - centre_lat) ** 2 + ((lon - centre_lon) * math.cos(math.radians(centre_lat))) ** 2))
    depot = Place("Depot (central road node)", float(nodes["lat"].iloc[nearest]), float(nodes["lon"].iloc[nearest]),
                  "depot")

    def sample_homes(rng: np.random.Generator, n: int) -> np.ndarray:
        chosen = rng.choice(len(geometries), size=n, p=probability)
        pts = shapely.line_interpolate_point(geometries[chosen], rng.random(n), normalized=True)
        return np.column_stack([shapely.get_y(pts), shapely.get_x(pts)])

    return Area(pbf_path.stem, places["school"], day_centres, places["health"], depot, sample_homes,
                attribution="Places and roads © OpenStreetMap contributors (ODbL)")


# -- the day -----------------------------------------------------------------------------------------------
@dataclass
class Scenario:
    name: str
    trips: list[dict]  # rows in TRIP_COLUMNS
    fleet: dict  # a fleet document (see docs/geodata-formats.md)
    summary: dict


def _clock(minutes: float) -> str:
    return format_clock(round(minutes) * 60)


def generate_scenario(area: Area, *, trips: int, seed: int = 0, travel: TravelProvider | None = None,
                      service_mix: Mapping[str, float] | None = None, shape: str = "council") -> Scenario:
    """A day of about ``trips`` trips (each passenger travels there and back, so the count is
    rounded to an even number) in ``area``. Windows and ride caps are set from the direct
    journeys under ``travel`` (crow-fly by default), so every trip can be made on its own.

    ``shape``: "council" (bells, day-centre hours and appointments, a fleet on split shifts), or
    the shape of the Cordeau and Laporte (2003) dial-a-ride instances, which the council shape does
    not exercise: requests spread over the whole day, each with a window on one end only (the
    other bounded by its ride cap), on a fleet working all day: "dial-a-ride" with windows of 15
    to 30 minutes (as their pr01-pr05), "dial-a-ride-wide" with 30 to 50 (as pr11-pr15)."""
    if not 2 <= trips <= 20_000:
        raise InputFormatError("trips must be between 2 and 20,000", where="trips")
    if shape not in SHAPES:
        raise InputFormatError(f"unknown shape {shape!r}; one of {', '.join(SHAPES)}", where="shape")
    mix = dict(service_mix or DEFAULT_SERVICE_MIX)
    rng = np.random.default_rng(seed)
    passengers = max(1, trips // 2)
    services = rng.choice(list(mix), size=passengers, p=np.array(list(mix.values())) / sum(mix.values()))
    homes = area.sample_homes(rng, passengers)
    primary = [s for s in area.schools if s.kind != "secondary"]
    secondary = [s for s in area.schools if s.kind == "secondary"] or area.schools
    bells = {s.name: 8 * 60 + 40 + 5 * int(rng.integers(0, 5)) for s in area.schools}  # 08:40 to 09:00
    points: dict[str, tuple[float, float]] = {}
    people = []
    for k in range(passengers):
        home_id = f"home_{k + 1:05d}"
        points[home_id] = (float(homes[k, 0]), float(homes[k, 1]))
        service = str(services[k])
        if service in ("school", "sen"):
            is_secondary = rng.random() < 0.45
            pool = secondary if is_secondary else primary
            if service == "sen" and any(s.kind == "special" for s in area.schools) and rng.random() < 0.5:
                pool = [s for s in area.schools if s.kind == "special"]
            destination = _nearby(pool, points[home_id], rng, choices=3 if service == "school" else 6)
            kind = "secondary" if is_secondary else "primary"
        elif service == "social_care":
            destination, kind = _nearby(area.day_centres, points[home_id], rng, choices=2), "social_care"
        else:
            destination, kind = _nearby(area.health, points[home_id], rng, choices=2), "nept"
        points.setdefault(destination.name, (destination.latitude, destination.longitude))
        people.append((home_id, service, destination, kind))
    provider = travel or CrowFlyProvider()
    table = provider.table(points)
    rows: list[dict] = []
    counters = {s: 0 for s in mix}
    for home_id, service, destination, kind in people:
        counters[service] += 1
        number = counters[service]
        direct_min = table.matrix.travel_s(home_id, destination.name) / 60
        pair = _trips_for(service, kind, number, home_id, destination, direct_min, bells, rng, points)
        if shape != "council":
            _spread_over_the_day(pair, rng, DIAL_A_RIDE_WINDOW_MIN[shape])
        rows.extend(pair)
    fleet = _fleet_for(rows, area, all_day=shape != "council")
    summary = {"area": area.name, "seed": seed, "shape": shape, "trips": len(rows), "passengers": passengers,
               "by_service": {s: sum(1 for r in rows if r["service"] == s) for s in mix},
               "travel": provider.name, "attribution": area.attribution}
    return Scenario(f"{area.name.split()[0]}-{len(rows)}-seed{seed}", rows, fleet, summary)


def _nearby(places: list[Place], point: tuple[float, float], rng, choices: int) -> Place:
    """One of the few nearest places: pupils go to a local school, not the nearest by law."""
    distances = [(p.latitude - point[0]) ** 2 + ((p.longitude - point[1]) * 0.61) ** 2 for p in places]
    order = np.argsort(distances)[:max(1, min(choices, len(places)))]
    weights = np.array([1.0 / (1 + i) for i in range(len(order))])
    return places[int(order[rng.choice(len(order), p=weights / weights.sum())])]


def _ride_cap(policy_min: float, direct_min: float) -> int:
    return int(math.ceil(max(policy_min, RIDE_CAP_FACTOR_FLOOR * direct_min + 5)))


def _trips_for(service, kind, number, home_id, destination, direct_min, bells, rng, points) -> list[dict]:
    home = points[home_id]
    base = {"service": service, "seats": 1, "wheelchair_spaces": 0, "stretchers": 0, "escorts": 0,
            "travels_alone": "no", "needs_assistant": "no", "pickup_location": home_id,
            "pickup_latitude": round(home[0], 6), "pickup_longitude": round(home[1], 6),
            "dropoff_location": destination.name, "dropoff_latitude": round(destination.latitude, 6),
            "dropoff_longitude": round(destination.longitude, 6), "dropoff_name": destination.name,
            "pickup_name": f"Home {home_id[5:]}", "notes": ""}
    prefix = {"school": "Pupil", "sen": "SEN pupil", "social_care": "Client", "nept": "Patient"}[service]
    base["passenger"] = f"{prefix} {number:04d}"
    if service == "school":
        base["seats"] = 2 if rng.random() < SIBLING_SHARE else 1
        cap = _ride_cap(RIDE_CAP_MIN[kind], direct_min)
    elif service == "sen":
        cap = _ride_cap(RIDE_CAP_MIN[kind] + 15, direct_min)  # complex needs: longer allowed (guess: +15)
        if rng.random() < SEN_WHEELCHAIR:
            base.update(seats=0, wheelchair_spaces=1)
        base["needs_assistant"] = "yes" if rng.random() < SEN_NEEDS_ASSISTANT else "no"
        base["travels_alone"] = "yes" if rng.random() < SEN_TRAVELS_ALONE else "no"
    elif service == "social_care":
        cap = _ride_cap(RIDE_CAP_MIN[kind], direct_min)
        if rng.random() < SOCIAL_CARE_WHEELCHAIR:
            base.update(seats=0, wheelchair_spaces=1)
    else:
        cap = _ride_cap(RIDE_CAP_MIN[kind], direct_min)
        mobility = rng.choice(list(NEPT_MOBILITY), p=np.array(list(NEPT_MOBILITY.values())) / sum(NEPT_MOBILITY.values()))
        if mobility == "wheelchair":
            base.update(seats=0, wheelchair_spaces=1)
        elif mobility == "stretcher":
            base.update(seats=0, stretchers=1)
        elif mobility == "tail_lift":
            base.update(pickup_service_minutes=4, dropoff_service_minutes=4, notes="tail-lift")
        if rng.random() < NEPT_ESCORT:
            base["escorts"] = 1
    slack = cap + 20  # the earliest pickup leaves room to collect others on the way
    if service in ("school", "sen"):
        bell = bells[destination.name]
        end_of_day = bell + 6 * 60 + 30  # 15:10 to 15:30
        out = dict(base, id=f"{service}-{number:04d}-am", earliest_arrival=_clock(bell - ARRIVE_BEFORE_BELL_MIN[0]),
                   latest_arrival=_clock(bell - ARRIVE_BEFORE_BELL_MIN[1]),
                   earliest_pickup=_clock(bell - ARRIVE_BEFORE_BELL_MIN[0] - slack), max_ride_minutes=cap)
        back = _reverse(base, f"{service}-{number:04d}-pm", home_id, destination, points)
        back.update(earliest_pickup=_clock(end_of_day + 5), latest_pickup=_clock(end_of_day + 20),
                    latest_arrival=_clock(end_of_day + 20 + slack + 10), max_ride_minutes=cap)
        return [out, back]
    if service == "social_care":  # pick-ups from 09:10, at the centre by 10:30; home 16:30 to 17:45 (Lancashire)
        out = dict(base, id=f"social_care-{number:04d}-am", earliest_pickup="09:10", earliest_arrival="09:30",
                   latest_arrival=_clock(max(10 * 60 + 30, 9 * 60 + 10 + direct_min + 15)), max_ride_minutes=cap)
        back = _reverse(base, f"social_care-{number:04d}-pm", home_id, destination, points)
        back.update(earliest_pickup="16:30", latest_pickup="16:50",
                    latest_arrival=_clock(max(17 * 60 + 45, 16 * 60 + 50 + direct_min + 15)), max_ride_minutes=cap)
        return [out, back]
    renal = rng.random() < NEPT_RENAL_SHARE
    appointment = 9 * 60 + 15 * int(rng.integers(0, 21))  # 09:00 to 14:00
    before = 45 if renal else 60
    out = dict(base, id=f"nept-{number:04d}-out", earliest_arrival=_clock(appointment - before),
               latest_arrival=_clock(appointment), earliest_pickup=_clock(appointment - before - slack),
               max_ride_minutes=cap, notes=("renal; " if renal else "") + base["notes"])
    ready = appointment + (5 * 60 if renal else 30 + 15 * int(rng.integers(0, 7)))  # dialysis about 5 h
    back = _reverse(base, f"nept-{number:04d}-back", home_id, destination, points)
    back.update(earliest_pickup=_clock(ready), latest_pickup=_clock(ready + 60),  # within 60 min of ready (NWAS)
                latest_arrival=_clock(ready + 60 + slack + 10), max_ride_minutes=cap, notes=out["notes"])
    return [out, back]


def _spread_over_the_day(pair: list[dict], rng, widths_min: tuple[int, int]) -> None:
    """Re-time a passenger's two trips in the dial-a-ride shape: there by a time anywhere from 08:00
    to 17:00 (a window on the drop-off only), back from a time 30 minutes to 4 hours later (a
    window on the pickup only), each window ``widths_min`` wide; the open ends are bounded by the
    ride caps, which stay as the council shape sets them."""
    out, back = pair
    width = int(rng.integers(widths_min[0], widths_min[1] + 1))
    there = 8 * 60 + 5 * int(rng.integers(0, 109))  # 08:00 to 17:00
    ready = min(there + 30 + 5 * int(rng.integers(0, 43)), 18 * 60 + 30 - width)
    for key in ("earliest_pickup", "latest_pickup"):
        out.pop(key, None)
    out.update(earliest_arrival=_clock(there - width), latest_arrival=_clock(there))
    for key in ("earliest_arrival", "latest_arrival"):
        back.pop(key, None)
    back.update(earliest_pickup=_clock(ready), latest_pickup=_clock(ready + width))


def _reverse(base: dict, trip_id: str, home_id: str, destination: Place, points) -> dict:
    home = points[home_id]
    return dict(base, id=trip_id, pickup_location=destination.name, pickup_latitude=round(destination.latitude, 6),
                pickup_longitude=round(destination.longitude, 6), pickup_name=destination.name,
                dropoff_location=home_id, dropoff_latitude=round(home[0], 6), dropoff_longitude=round(home[1], 6),
                dropoff_name=base["pickup_name"])


def _fleet_for(rows: list[dict], area: Area, all_day: bool = False) -> dict:
    """An in-house fleet sized to the day, and the contract tariffs a council would hold.
    Costs from docs/domain.md: drivers at about the National Living Wage with on-costs
    (£14.50/h, a guess), CO2 from the UK conversion factors; sizes are guesses that leave
    the solver a real choice between fleet and contracts."""
    count = {s: sum(1 for r in rows if r["service"] == s) for s in ("school", "sen", "social_care", "nept")}
    wheelchair = sum(1 for r in rows if int(r["wheelchair_spaces"]))
    stretcher = sum(1 for r in rows if int(r["stretchers"]))
    peak = max(1, (count["school"] + count["sen"]) // 2)  # pupils in the morning peak
    # Drivers of school and day-centre runs work split shifts (docs/domain.md): a morning duty
    # for the school and day-centre runs in, an afternoon duty for the runs home. Patient
    # transport runs all day.
    split = ["07:00-11:30", "14:30-18:30"]
    vehicle_types = [
        {"name": "minibus", "count": max(1, math.ceil(peak / 20)), "depot": "depot",
         "layouts": ["16 seats", "12 seats + 1 wheelchair", "8 seats + 2 wheelchairs"],
         "shift_start": "07:00", "shift_end": "18:30", "duties": split, "max_duty_hours": 11, "cost_per_day": 60,
         "cost_per_km": 0.35, "cost_per_hour": 14.5, "co2_kg_per_km": 0.40},
        {"name": "minibus with assistant", "count": max(1, math.ceil(count["sen"] / 2 / 10)), "depot": "depot",
         "layouts": ["12 seats + 1 wheelchair", "8 seats + 2 wheelchairs"], "shift_start": "07:00",
         "shift_end": "18:30", "duties": split, "max_duty_hours": 11, "passenger_assistant": True, "cost_per_day": 60,
         "cost_per_km": 0.35, "cost_per_hour": 14.5, "assistant_cost_per_hour": 13.5, "co2_kg_per_km": 0.40},
        {"name": "accessible car", "count": max(1, math.ceil(wheelchair / 2 / 8)), "depot": "depot",
         "layouts": ["4 seats", "2 seats + 1 wheelchair"], "shift_start": "07:00", "shift_end": "18:30",
         "duties": split, "max_duty_hours": 11, "cost_per_day": 35, "cost_per_km": 0.22, "cost_per_hour": 14.5,
         "co2_kg_per_km": 0.27},
        {"name": "patient transport ambulance", "count": max(1, math.ceil(count["nept"] / 2 / 8)), "depot": "depot",
         "layouts": ["1 stretcher + 2 seats", "2 wheelchairs + 2 seats", "6 seats"], "shift_start": "07:30",
         "shift_end": "18:30", "max_duty_hours": 11, "cost_per_day": 80, "cost_per_km": 0.40,
         "cost_per_hour": 16.0, "co2_kg_per_km": 0.30, "services": ["nept"]},
    ]
    if not stretcher:
        vehicle_types[-1]["layouts"] = ["2 wheelchairs + 2 seats", "6 seats"]
    if all_day:  # requests all day long: every vehicle on one shift, at most 8 hours driven (as Cordeau-Laporte)
        for vt in vehicle_types:
            vt.pop("duties", None)
            vt.update(shift_start="07:00", shift_end="19:00", max_duty_hours=8)
    tariffs = [  # a taxi at about £3.06/mile (1.9/km) plus flag fall (2018 fare index range 2.2-3.1 per mile)
        {"name": "taxi", "flag_fall": 3.5, "per_km": 1.9, "needs": ["ambulant"], "provides_assistant": False},
        {"name": "taxi with escort", "flag_fall": 12.0, "per_km": 2.2, "needs": ["ambulant"], "services": ["sen"]},
        {"name": "wheelchair taxi", "flag_fall": 8.0, "per_km": 2.4, "needs": ["wheelchair"]},
        {"name": "private ambulance", "flag_fall": 45.0, "per_km": 2.6, "needs": ["stretcher", "wheelchair"],
         "services": ["nept"]},
    ]
    return {"depots": {"depot": [round(area.depot.latitude, 6), round(area.depot.longitude, 6)]},
            "services": ["school", "sen", "social_care", "nept"], "vehicle_types": vehicle_types,
            "tariffs": tariffs}


# -- a week -------------------------------------------------------------------------------------------------
def generate_week(area: Area, *, trips: int, days: int = 5, regular_share: float = 0.8, seed: int = 0,
                  travel: TravelProvider | None = None, shape: str = "council") -> Scenario:
    """A week of ``days`` weekdays of about ``trips`` trips a day, whose first day is the day
    ``generate_scenario`` makes with the same arguments: ``regular_share`` of that day's passengers
    are regular, on every day at the same times (one row each, ``days`` every day); the others travel
    on the first day and on some others (a patient on the first only, unless on renal dialysis), and
    passengers of another day of the area (ids ending ``-b``) take their places on the days they do
    not travel. Rows carry ``days`` and ``passenger`` (docs/week.md); the fleet is the first day's."""
    if not 1 <= days <= len(WEEKDAYS):
        raise InputFormatError(f"days must be between 1 and {len(WEEKDAYS)}", where="days")
    if not 0 <= regular_share <= 1:
        raise InputFormatError("the regular share must be between 0 and 1", where="regular_share")
    base = generate_scenario(area, trips=trips, seed=seed, travel=travel, shape=shape)
    others = generate_scenario(area, trips=trips, seed=seed + 7919, travel=travel, shape=shape)
    week = WEEKDAYS[:days]
    rng = np.random.default_rng(seed + 1)
    people = _people(base.trips)
    regular_count = round(regular_share * len(people))
    room = {d: 0 for d in week}
    rows: list[dict] = []
    regular = 0
    for person in people:
        if regular < regular_count and not _one_off(person):
            regular += 1
            chosen = week
        else:
            later = [d for d in week[1:] if not _one_off(person) and rng.random() < 0.5]
            chosen = (week[0], *later)
            for d in week[1:]:
                room[d] += d not in later
        rows.extend(dict(r, days=";".join(chosen)) for r in person)
    for person in _people([_renamed(r) for r in others.trips]):
        open_days = [d for d in week if room[d] > 0]
        if not open_days:
            break
        size = 1 if _one_off(person) or len(open_days) == 1 else int(rng.integers(1, len(open_days)))
        picked = {str(d) for d in rng.choice(open_days, size=size, replace=False)}
        chosen = tuple(d for d in week if d in picked)
        for d in chosen:
            room[d] -= 1
        rows.extend(dict(r, days=";".join(chosen)) for r in person)
    by_day = {d: sum(1 for r in rows if d in r["days"].split(";")) for d in week}
    summary = {**base.summary, "trips": len(rows), "days": list(week), "trips_by_day": by_day,
               "regular_share": regular_share, "regular_passengers": regular,
               "passengers": len({r["passenger"] for r in rows}),
               "by_service": {s: sum(1 for r in rows if r["service"] == s) for s in base.summary["by_service"]}}
    return Scenario(f"{base.name}-week", rows, base.fleet, summary)


def _people(rows: list[dict]) -> list[list[dict]]:
    """Rows grouped by passenger, in the order the passengers first appear."""
    people: dict[str, list[dict]] = {}
    for row in rows:
        people.setdefault(row["passenger"], []).append(row)
    return list(people.values())


def _one_off(person: list[dict]) -> bool:
    """Most patients travel once; renal patients travel on set days, as pupils and clients do."""
    return person[0]["service"] == "nept" and "renal" not in person[0].get("notes", "")


def _renamed(row: dict) -> dict:
    """A row of another day's passenger, its ids and homes told apart from the first day's."""
    row = dict(row, id=f"{row['id']}-b", passenger=f"{row['passenger']} (b)")
    for end in ("pickup", "dropoff"):
        if row[f"{end}_location"].startswith("home_"):
            row[f"{end}_location"] = f"{row[f'{end}_location']}b"
            row[f"{end}_name"] = f"{row[f'{end}_name']}b"
    return row


def write_scenario(scenario: Scenario, out_dir: str | Path) -> list[Path]:
    """``trips.csv``, ``fleet.json`` and ``scenario.json`` (how it was made) into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    trips_path = out / "trips.csv"
    columns = [c for c in TRIP_COLUMNS if any(c in r for r in scenario.trips)]
    with trips_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="raise")
        writer.writeheader()
        for row in scenario.trips:
            writer.writerow({c: row.get(c, "") for c in columns})
    fleet_path = out / "fleet.json"
    fleet_path.write_text(json.dumps(scenario.fleet, indent=2) + "\n")
    meta_path = out / "scenario.json"
    meta_path.write_text(json.dumps({"name": scenario.name, **scenario.summary}, indent=2) + "\n")
    return [trips_path, fleet_path, meta_path]


# -- today's contracts ----------------------------------------------------------------------------------------
#: Invented operators and the services each is let contracts for: every service is let separately, by
#: several operators, and some operators hold contracts for two services or more (the duplication an
#: integrated unit removes). Taxi firms take the per-trip arrangements.
REGISTER_OPERATORS = {
    "school": ("Vale Coaches", "Meadow Minibuses"),
    "sen": ("Meadow Minibuses", "Beacon Access Transport"),
    "social_care": ("Beacon Access Transport", "Vale Coaches"),
    "nept": ("Lakeside Ambulance Services", "Beacon Access Transport"),
}
TAXI_OPERATORS = ("Castle Cars", "Harbour Taxis")
REGISTER_PREFIX = {"school": "SCH", "sen": "SEN", "social_care": "ASC", "nept": "PTS"}
#: Shares of trips let as per-trip taxis besides those that must travel alone (guesses: SEN pupils
#: often go by taxi on their own; patients less so).
REGISTER_TAXI_SHARE = {"school": 0.02, "sen": 0.30, "social_care": 0.05, "nept": 0.10}
#: A run is let to two operators as two half-full vehicles this often (the near-duplicate runs).
REGISTER_SPLIT_SHARE = 0.2
#: An operator's price of a run: a fixed part, driver hours and miles (with 10 miles to and from its
#: yard), then a margin of 10 to 25%. Guesses in the range of councils' published contract rates.
RUN_PRICE = {"fixed": 25.0, "per_hour": 16.0, "per_mile": 1.10, "yard_miles": 10.0, "margin": (0.10, 0.25)}
#: Per-mile contracts: a rate a mile and the least paid a day.
MILE_RATE = (2.20, 2.80)
MILE_MINIMUM = 40.0


def plausible_register(problem, *, seed: int = 0) -> list[Contract]:
    """A plausible register of today's contracts for ``problem``'s day (any day, generated or not),
    as ``optimiser.domain.register.Contract``s: each service let separately, a morning and an
    afternoon run as separate contracts, to the operators of ``REGISTER_OPERATORS``; trips that
    travel alone (and a share of others) as per-trip taxis priced from the day's tariffs plus a
    margin; runs built round each school, centre and hospital in time bands, filled to between a
    third and all of the vehicle, and some let as two half-full vehicles to two operators. Every
    trip is on exactly one contract."""
    rng = np.random.default_rng(seed)
    uses: dict[str, int] = {}
    for t in problem.trips:
        uses[t.pickup] = uses.get(t.pickup, 0) + 1
        uses[t.dropoff] = uses.get(t.dropoff, 0) + 1
    contracts: list = []
    counters: dict[str, int] = {}

    def next_id(prefix: str) -> str:
        counters[prefix] = counters.get(prefix, 0) + 1
        return f"{prefix}-{counters[prefix]:03d}"

    groups: dict[tuple, list] = {}
    for trip in problem.trips:
        tariff = problem.contract_price(trip)
        alone = trip.travels_alone or trip.stretchers
        if tariff is not None and (alone or rng.random() < REGISTER_TAXI_SHARE.get(trip.service, 0.05)):
            name, price = tariff[0].name, tariff[1] * (1 + rng.uniform(0.0, 0.15))
            layout = ("1 stretcher + 2 seats" if trip.stretchers else "2 seats + 1 wheelchair"
                      if trip.wheelchair_spaces else "4 seats")
            contracts.append(Contract(
                id=next_id("TX"), operator=TAXI_OPERATORS[int(rng.integers(len(TAXI_OPERATORS)))],
                trip_ids=(trip.id,), price_basis="trip", price=round(price, 2), kind="taxi", services=(trip.service,),
                vehicle_type=name, layouts=tuple(parse_layouts(layout)), assistant=trip.needs_assistant,
                days=("Mon", "Tue", "Wed", "Thu", "Fri"), notes="per-trip arrangement"))
            continue
        inward = uses[trip.dropoff] >= uses[trip.pickup]  # towards the school, centre or hospital
        hub = trip.dropoff if inward else trip.pickup
        anchor = trip.latest_arrival_s if inward else trip.earliest_pickup_s
        groups.setdefault((trip.service, inward, hub, int(anchor // 5400)), []).append(trip)
    for (service, inward, hub, _), trips in sorted(groups.items(), key=lambda kv: (kv[0][0], not kv[0][1], kv[0][2],
                                                                                     kv[0][3])):
        vehicle = _register_vehicle(problem, trips)
        if vehicle is None:
            continue
        home = (lambda t: t.pickup) if inward else (lambda t: t.dropoff)
        left = sorted(trips, key=lambda t: (-problem.matrix.distance_m(home(t), hub), t.id))
        while left:
            places = max(sum(lay.capacity.values()) for lay in vehicle.layouts)
            target = int(rng.integers(max(1, places // 3), places + 1))
            seed_trip = left.pop(0)
            run = [seed_trip]
            left.sort(key=lambda t: (problem.matrix.distance_m(home(seed_trip), home(t)), t.id))
            while left and sum(t.passengers for t in run) + left[0].passengers <= target and any(
                    lay.fits(left[0]) for lay in vehicle.layouts) and _fits_together(vehicle, run + [left[0]]):
                run.append(left.pop(0))
            left.sort(key=lambda t: (-problem.matrix.distance_m(home(t), hub), t.id))
            split = len(run) >= 4 and rng.random() < REGISTER_SPLIT_SHARE
            parts = [run[: len(run) // 2], run[len(run) // 2:]] if split else [run]
            operators = list(REGISTER_OPERATORS.get(service, TAXI_OPERATORS))
            first = int(rng.integers(len(operators)))
            for k, part in enumerate(parts):
                operator = operators[(first + k) % len(operators)]
                contracts.append(_priced_run(problem, part, vehicle, operator, next_id(REGISTER_PREFIX.get(
                    service, service[:3].upper())), service, inward, rng))
    return contracts


def _register_vehicle(problem, trips):
    """The fleet's vehicle type a council would let these trips' runs on: one that may carry the
    service and every trip, with an assistant where one is needed; the most places wins, an
    accessible car for a handful of passengers."""
    candidates = [v for v in problem.vehicle_types
                  if all(problem.can_carry(v, t) for t in trips)]
    if not candidates:
        candidates = [v for v in problem.vehicle_types if any(problem.can_carry(v, t) for t in trips)]
    if not candidates:
        return None
    need = sum(t.passengers for t in trips)
    size = (lambda v: max(sum(lay.capacity.values()) for lay in v.layouts))
    small = [v for v in candidates if size(v) >= need]
    if small and need <= 4:
        return min(small, key=lambda v: (size(v), v.name))
    return max(candidates, key=lambda v: (size(v), not v.passenger_assistant, v.name))


def _fits_together(vehicle, trips) -> bool:
    """Whether one of the vehicle's layouts holds every trip at once."""
    need = {r: sum(t.demand[r] for t in trips) for r in RESOURCES}
    return (any(all(need[r] <= lay.capacity[r] for r in RESOURCES) for lay in vehicle.layouts)
            and (vehicle.passenger_assistant or not any(t.needs_assistant for t in trips)))


def _priced_run(problem, trips, vehicle, operator, contract_id, service, inward, rng) -> Contract:
    """One run as a contract: its duty from the trips' rides (a quarter of an hour to get to the first
    pickup, ten minutes after the last drop-off, on five-minute marks), priced by an operator's costs
    (``RUN_PRICE``) per day or, one time in three, per mile with a minimum (``MILE_RATE``)."""
    trips = [problem.trip(t.id) for t in sorted(trips, key=lambda t: t.id)]
    rides = [ride_window(problem, t) for t in trips]
    start = 300 * math.floor((min(r[0] for r in rides) - 900) / 300)
    end = 300 * math.ceil((max(r[1] for r in rides) + 600) / 300)
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat") if service == "nept" else ("Mon", "Tue", "Wed", "Thu", "Fri")
    draft = Contract(id=contract_id, operator=operator, trip_ids=tuple(t.id for t in trips), price_basis="day",
                           price=0.0, services=(service,), vehicle_type=vehicle.name, layouts=vehicle.layouts,
                           assistant=vehicle.passenger_assistant, days=days, duty_start_s=float(start),
                           duty_end_s=float(end), notes=("morning" if end <= 13 * 3600 else "afternoon") +
                           (" run in" if inward else " run home"))
    miles = contract_run(problem, draft).miles + RUN_PRICE["yard_miles"]
    cost = (RUN_PRICE["fixed"] + RUN_PRICE["per_hour"] * (end - start) / 3600 + RUN_PRICE["per_mile"] * miles
            + (RUN_PRICE["per_hour"] * (end - start) / 3600 if vehicle.passenger_assistant else 0.0))
    price = round(cost * (1 + rng.uniform(*RUN_PRICE["margin"])), 2)
    if rng.random() < 1 / 3:
        rate = round(float(rng.uniform(*MILE_RATE)), 2)
        return replace(draft, price_basis="mile", price=rate, minimum=MILE_MINIMUM, miles=round(miles, 1))
    return replace(draft, price=price)
