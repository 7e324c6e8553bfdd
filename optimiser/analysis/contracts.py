"""Today's contracts and what they waste: chains, duplicates, occupancy and idle time.

    register = read_register("register.csv", problem)
    analysis = analyse_contracts(problem, register, ContractAnalysisOptions(deadhead_per_mile=1.5))
    analysis.findings       # chains and duplicates, each with its contracts and a price
    analysis.to_dict()      # everything, per operator and overall

No plan is solved: the analysis reads the register and the day's trips and uses the problem's travel
model (its times and distances) for every journey between two contracts. What a contract's vehicle
does inside its duty is not in a register, so each contract's run is estimated from its trips
(``ContractRun``): each trip rides its direct journey, anchored at the tighter of its windows (an
outward school trip arrives by its latest arrival; a trip home leaves at its earliest pickup). The
run's first stop is the first such pickup, its last stop the last drop-off.

- Chains: two route contracts of one operator whose duties one vehicle could run back to back: the
  earlier duty's end, plus the drive empty from its last stop to the later run's first stop, plus
  ``turnaround_minutes``, is no later than the later duty's start, at most ``longest_gap_minutes``
  after the earlier ends; on a day both run; and one of the two vehicles carries both runs (its
  layout holds the other run's peak load, with an assistant if the other's trips need one). The
  merged duty is priced by a stated rule: the dearer of the two contracts' prices a day, plus the
  empty miles between them at ``deadhead_per_mile``, plus the hours between the duties at
  ``waiting_per_hour``; the saving is the two prices less that. Per operator, the contracts are also chained greedily into sequences
  (each contract joins the sequence it saves most on), for the vehicles and money an operator's
  contracts could save together.
- Duplicates: two route contracts of any operators running near-identical journeys at the same time
  (first stops within ``near_km`` of each other and last stops too, duties overlapping by at least
  ``overlap_share`` of the shorter) whose passengers fit one of the two vehicles together. One
  contract is dropped; the kept vehicle detours by the distance between the first stops plus that
  between the last stops, priced at ``deadhead_per_mile``; the saving is the dropped contract's
  price less the detour.
- Occupancy and idle time, per contract: the peak passengers on board against the vehicle's places,
  passenger-minutes against place-minutes over the duty, and the minutes of the duty with no
  passenger on board and no empty drive to the next pickup.

Every finding is a lead to confirm (ride times on the merged run are not checked); the prices are
exact under the rules above, to the penny.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Mapping, Sequence

from optimiser.domain.model import DAY_END_S, RESOURCES, Problem, Trip, format_clock
from optimiser.domain.register import METRES_PER_MILE, Contract, Register
from optimiser.errors import ProblemError


@dataclass(frozen=True)
class ContractAnalysisOptions:
    """The rules the analysis prices by; every one is settable."""

    #: Minutes a vehicle needs between two duties besides the drive (a driver's break, a tidy-up).
    turnaround_minutes: float = 5.0
    #: Pounds a mile of empty running between chained duties, and of a duplicate's detour.
    deadhead_per_mile: float = 1.50
    #: Pounds an hour for the time between chained duties (a driver waiting); 0: the dearer day rate covers it.
    waiting_per_hour: float = 0.0
    #: Chains only where the later duty starts at most this many minutes after the earlier ends (None: any
    #: gap): a vehicle idle for half a day between two runs is a split shift, which operators price otherwise.
    longest_gap_minutes: float | None = 90.0
    #: Duplicates: the most kilometres (road distance) between their first stops, and between their last.
    near_km: float = 3.0
    #: Duplicates: the least overlap of their duties, as a share of the shorter duty.
    overlap_share: float = 0.5

    def __post_init__(self):
        for name in ("turnaround_minutes", "deadhead_per_mile", "waiting_per_hour", "near_km"):
            if getattr(self, name) < 0:
                raise ProblemError("must not be negative", where=f"options.{name}")
        if self.longest_gap_minutes is not None and self.longest_gap_minutes < 0:
            raise ProblemError("must not be negative", where="options.longest_gap_minutes")
        if not 0 < self.overlap_share <= 1:
            raise ProblemError("must be more than 0 and at most 1", where="options.overlap_share")


#: The names of the rules, as a request or a command line may set them.
RULE_NAMES = tuple(f.name for f in fields(ContractAnalysisOptions))


@dataclass(frozen=True)
class ContractRun:
    """What a contract's vehicle does on its day, as estimated from its trips."""

    contract: Contract
    #: (start, end) of each trip's ride, seconds after midnight, by trip id.
    rides: Mapping[str, tuple[float, float]]
    #: Locations in the order the run reaches them (pickups at ride start, drop-offs at ride end).
    stops: tuple[str, ...]
    duty_start_s: float
    duty_end_s: float
    miles: float
    price: float
    #: The most of each resource on board at once.
    peak: Mapping[str, int]
    peak_passengers: int
    places: int
    passenger_minutes: float
    idle_minutes: float
    #: Whether any of its trips needs a passenger assistant, and the services of its trips.
    needs_assistant: bool
    services: tuple[str, ...]

    @property
    def first_stop(self) -> str:
        return self.stops[0]

    @property
    def last_stop(self) -> str:
        return self.stops[-1]

    @property
    def duty_minutes(self) -> float:
        return (self.duty_end_s - self.duty_start_s) / 60

    def to_dict(self) -> dict:
        c = self.contract
        return {"contract": c.id, "operator": c.operator, "kind": c.kind, "services": list(self.services),
                "vehicle_type": c.vehicle_type, "layouts": [lay.name for lay in c.layouts], "days": list(c.days),
                "price_basis": c.price_basis, "price_a_day": round(self.price, 2),
                "price_a_week": round(self.price * len(c.days), 2), "trips": len(c.trip_ids),
                "price_per_trip": round(self.price / len(c.trip_ids), 2) if c.trip_ids else None,
                "duty_start": format_clock(self.duty_start_s), "duty_end": format_clock(self.duty_end_s),
                "duty_minutes": round(self.duty_minutes, 1), "miles": round(self.miles, 2),
                "first_stop": self.first_stop, "last_stop": self.last_stop,
                "peak_passengers": self.peak_passengers, "places": self.places,
                "peak_occupancy": round(self.peak_passengers / self.places, 3) if self.places else None,
                "mean_occupancy": round(self.passenger_minutes / (self.places * self.duty_minutes), 3)
                if self.places and self.duty_minutes > 0 else None,
                "idle_minutes": round(self.idle_minutes, 1)}


def ride_window(problem: Problem, trip: Trip) -> tuple[float, float]:
    """The estimated (start, end) of a trip's ride: its direct journey, anchored at the end whose
    window is tighter (an arrival by the bell, a pickup from the end of the school day)."""
    direct = problem.direct_s(trip) + trip.pickup_service_s + trip.dropoff_service_s
    pickup_width = min(trip.latest_pickup_s, DAY_END_S) - trip.earliest_pickup_s
    arrival_width = min(trip.latest_arrival_s, DAY_END_S) - trip.earliest_arrival_s
    if trip.latest_arrival_s < DAY_END_S and arrival_width <= pickup_width:
        return trip.latest_arrival_s - direct, trip.latest_arrival_s
    return trip.earliest_pickup_s, trip.earliest_pickup_s + direct


def contract_run(problem: Problem, contract: Contract) -> ContractRun:
    """The run ``contract`` stands for: its rides, stops, duty, miles, price, load and idle time."""
    trips = [problem.trip(t) for t in contract.trip_ids]
    rides = {t.id: ride_window(problem, t) for t in trips}
    events = sorted([(rides[t.id][0], 0, t.pickup, t.id) for t in trips] +
                    [(rides[t.id][1], 1, t.dropoff, t.id) for t in trips])
    stops: list[str] = []
    for _, _, location, _ in events:
        if not stops or stops[-1] != location:
            stops.append(location)
    metres = sum(problem.matrix.distance_m(a, b) for a, b in zip(stops, stops[1:]))
    start = contract.duty_start_s if contract.duty_start_s is not None else min(r[0] for r in rides.values())
    end = contract.duty_end_s if contract.duty_end_s is not None else max(r[1] for r in rides.values())
    miles = metres / METRES_PER_MILE
    price = contract.price_for_day(None if contract.miles is not None else miles)
    # the load on board: up at each pickup, down at each drop-off (drop-offs first at equal times)
    on_board = {r: 0 for r in RESOURCES}
    peak = {r: 0 for r in RESOURCES}
    passengers = peak_passengers = 0
    for _, kind, _, trip_id in sorted(events, key=lambda e: (e[0], -e[1])):
        trip = problem.trip(trip_id)
        sign = 1 if kind == 0 else -1
        for r in RESOURCES:
            on_board[r] += sign * trip.demand[r]
            peak[r] = max(peak[r], on_board[r])
        passengers += sign * trip.passengers
        peak_passengers = max(peak_passengers, passengers)
    passenger_minutes = sum(t.passengers * (rides[t.id][1] - rides[t.id][0]) / 60 for t in trips)
    places = max((sum(lay.capacity.values()) for lay in contract.layouts), default=0)
    return ContractRun(contract, rides, tuple(stops), start, end, miles, price, peak, peak_passengers, places,
                       passenger_minutes, _idle_minutes(problem, trips, rides, start, end),
                       any(t.needs_assistant for t in trips), tuple(sorted({t.service for t in trips})))


def _idle_minutes(problem: Problem, trips: Sequence[Trip], rides: Mapping[str, tuple[float, float]],
                  start: float, end: float) -> float:
    """Minutes of the duty with nobody on board and no empty drive to the next pickup."""
    blocks: list[list] = []  # [start, end, first pickup, last drop-off] of each spell with someone on board
    for trip in sorted(trips, key=lambda t: rides[t.id]):
        a, b = rides[trip.id]
        if blocks and a <= blocks[-1][1]:
            if b > blocks[-1][1]:
                blocks[-1][1], blocks[-1][3] = b, trip.dropoff
        else:
            blocks.append([a, b, trip.pickup, trip.dropoff])
    busy = 0.0
    for k, (a, b, _, last) in enumerate(blocks):
        a, b = max(a, start), min(b, end)
        busy += max(0.0, b - a)
        if k + 1 < len(blocks):
            gap = max(0.0, min(blocks[k + 1][0], end) - b)
            busy += min(gap, problem.matrix.travel_s(last, blocks[k + 1][2]))
    return max(0.0, (end - start) - busy) / 60


def carries(vehicle: ContractRun, other: ContractRun, *, together: bool = False) -> bool:
    """Whether ``vehicle``'s contract vehicle can run ``other``'s run (``together``: both runs' loads
    at once): a layout holds the peak load, and an assistant is on board where a trip needs one."""
    need = {r: other.peak[r] + (vehicle.peak[r] if together else 0) for r in RESOURCES}
    if other.needs_assistant and not vehicle.contract.assistant:
        return False
    return any(all(need[r] <= lay.capacity[r] for r in RESOURCES) for lay in vehicle.contract.layouts)


def _pence(x: float) -> float:
    return round(x + 0.0, 2)


def _priced(before: float, after: float, days: int) -> dict:
    """The prices of a finding in pence, the saving being exactly the difference of the two shown."""
    before, after = _pence(before), _pence(after)
    saving = _pence(before - after)
    return {"price_before": before, "price_after": after, "saving_a_day": saving,
            "saving_a_week": _pence(saving * days)}


@dataclass
class ContractAnalysis:
    """The analysis of one register on one day."""

    problem_name: str
    options: ContractAnalysisOptions
    runs: list[ContractRun]
    chains: list[dict]
    sequences: list[dict]
    duplicates: list[dict]
    operators: list[dict]
    overall: dict
    uncovered: list[str] = field(default_factory=list)

    @property
    def findings(self) -> list[dict]:
        """Chains and duplicates, largest saving first: each with its contracts and a price."""
        return sorted(self.chains + self.duplicates, key=lambda f: (-f["saving_a_day"], f["contracts"]))

    def to_dict(self) -> dict:
        return {"problem": self.problem_name, "options": asdict(self.options), "overall": self.overall,
                "operators": self.operators, "findings": self.findings, "sequences": self.sequences,
                "contracts": [r.to_dict() for r in self.runs], "uncovered_trips": self.uncovered}


def _chain(a: ContractRun, b: ContractRun, problem: Problem, options: ContractAnalysisOptions) -> dict | None:
    """The finding that ``b`` can follow ``a`` on one vehicle, priced; None when it cannot."""
    common = [d for d in a.contract.days if d in b.contract.days]
    if not common or a.duty_end_s > b.duty_start_s:
        return None
    gap_s = b.duty_start_s - a.duty_end_s
    if options.longest_gap_minutes is not None and gap_s > 60 * options.longest_gap_minutes:
        return None
    deadhead_s = problem.matrix.travel_s(a.last_stop, b.first_stop)
    if a.duty_end_s + deadhead_s + 60 * options.turnaround_minutes > b.duty_start_s:
        return None
    if carries(a, b):
        vehicle = a
    elif carries(b, a):
        vehicle = b
    else:
        return None
    deadhead_miles = problem.matrix.distance_m(a.last_stop, b.first_stop) / METRES_PER_MILE
    before = a.price + b.price
    after = (max(a.price, b.price) + deadhead_miles * options.deadhead_per_mile
             + gap_s / 3600 * options.waiting_per_hour)
    saving = before - after
    if saving <= 0:
        return None
    return {"kind": "chain", "operators": [a.contract.operator], "contracts": [a.contract.id, b.contract.id],
            "vehicle_of": vehicle.contract.id, "days": common,
            "gap_minutes": round(gap_s / 60, 1),
            "deadhead_minutes": round(deadhead_s / 60, 1), "deadhead_miles": round(deadhead_miles, 3),
            "from_stop": a.last_stop, "to_stop": b.first_stop,
            **_priced(before, after, len(common)),
            "description": f"{b.contract.id} can follow {a.contract.id} on {vehicle.contract.id}'s vehicle: "
                           f"{a.contract.operator}'s duty ends {format_clock(a.duty_end_s)}, the next starts "
                           f"{format_clock(b.duty_start_s)}, {deadhead_s / 60:.0f} min empty between them"}


def _duplicate(a: ContractRun, b: ContractRun, problem: Problem, options: ContractAnalysisOptions) -> dict | None:
    """The finding that ``a`` and ``b`` run near-identical journeys one vehicle could run; or None."""
    common = [d for d in a.contract.days if d in b.contract.days]
    if not common:
        return None
    overlap = min(a.duty_end_s, b.duty_end_s) - max(a.duty_start_s, b.duty_start_s)
    shorter = min(a.duty_end_s - a.duty_start_s, b.duty_end_s - b.duty_start_s)
    if shorter <= 0 or overlap < options.overlap_share * shorter:
        return None
    first_m = problem.matrix.distance_m(a.first_stop, b.first_stop)
    last_m = problem.matrix.distance_m(a.last_stop, b.last_stop)
    if first_m > 1000 * options.near_km or last_m > 1000 * options.near_km:
        return None
    detour_miles = (first_m + last_m) / METRES_PER_MILE
    best = None
    for keep, drop in ((a, b), (b, a)):
        if not carries(keep, drop, together=True):
            continue
        saving = drop.price - detour_miles * options.deadhead_per_mile
        if saving > 0 and (best is None or saving > best[2]):
            best = (keep, drop, saving)
    if best is None:
        return None
    keep, drop, saving = best
    places = keep.places
    together = keep.peak_passengers + drop.peak_passengers
    return {"kind": "duplicate", "operators": sorted({a.contract.operator, b.contract.operator}),
            "contracts": [keep.contract.id, drop.contract.id], "keep": keep.contract.id, "drop": drop.contract.id,
            "operator_dropped": drop.contract.operator,
            "days": common, "overlap_minutes": round(overlap / 60, 1),
            "first_stops_km": round(first_m / 1000, 2), "last_stops_km": round(last_m / 1000, 2),
            "detour_miles": round(detour_miles, 3), "passengers_together": together, "places": places,
            **_priced(keep.price + drop.price, keep.price + drop.price - saving, len(common)),
            "description": f"{keep.contract.id} ({keep.contract.operator}) and {drop.contract.id} "
                           f"({drop.contract.operator}) run near-identical journeys at the same time with "
                           f"{together} passengers at most between them; {keep.contract.id}'s vehicle "
                           f"({places} places) could carry both"}


def _sequences(runs: Sequence[ContractRun], problem: Problem, options: ContractAnalysisOptions) -> list[dict]:
    """One operator's route contracts chained greedily into vehicle sequences: in order of duty start,
    each contract joins the sequence whose last contract it saves most after (``_chain``), on a
    vehicle that carries every run of the sequence, on the same days; else it starts a sequence."""
    chains: list[dict] = []
    for run in sorted(runs, key=lambda r: (r.duty_start_s, r.contract.id)):
        best = None
        for chain in chains:
            last = chain["runs"][-1]
            if tuple(last.contract.days) != tuple(run.contract.days):
                continue
            found = _chain(last, run, problem, options)
            if found is None:
                continue
            vehicle = chain["vehicle"]
            if carries(vehicle, run):
                new_vehicle = vehicle
            elif all(carries(run, r) for r in chain["runs"]):
                new_vehicle = run
            else:
                continue
            if best is None or found["saving_a_day"] > best[1]["saving_a_day"]:
                best = (chain, found, new_vehicle)
        if best is None:
            chains.append({"runs": [run], "vehicle": run, "deadhead_miles": 0.0, "gap_s": 0.0})
        else:
            chain, found, vehicle = best
            chain["runs"].append(run)
            chain["vehicle"] = vehicle
            chain["deadhead_miles"] += problem.matrix.distance_m(chain["runs"][-2].last_stop,
                                                                 run.first_stop) / METRES_PER_MILE
            chain["gap_s"] += run.duty_start_s - chain["runs"][-2].duty_end_s
    out = []
    for chain in chains:
        if len(chain["runs"]) < 2:
            continue
        before = sum(r.price for r in chain["runs"])
        after = (max(r.price for r in chain["runs"]) + chain["deadhead_miles"] * options.deadhead_per_mile
                 + chain["gap_s"] / 3600 * options.waiting_per_hour)
        days = list(chain["runs"][0].contract.days)
        out.append({"operator": chain["runs"][0].contract.operator,
                    "contracts": [r.contract.id for r in chain["runs"]], "vehicle_of": chain["vehicle"].contract.id,
                    "days": days, "deadhead_miles": round(chain["deadhead_miles"], 3),
                    **_priced(before, after, len(days)),
                    "vehicles_saved": len(chain["runs"]) - 1})
    return out


def _disjoint_saving(findings: Sequence[dict], key: str) -> tuple[float, list[dict]]:
    """The findings, largest saving first, that share no contract (``key``: the contracts each frees)."""
    used: set[str] = set()
    chosen = []
    for f in sorted(findings, key=lambda f: (-f["saving_a_day"], f["contracts"])):
        if used.isdisjoint(f[key]):
            chosen.append(f)
            used.update(f[key])
    return _pence(sum(f["saving_a_day"] for f in chosen)), chosen


def analyse_contracts(problem: Problem, register: Register, options: ContractAnalysisOptions | None = None
                      ) -> ContractAnalysis:
    """Chains, duplicates, occupancy and idle time of ``register``'s contracts on ``problem``'s day
    (the register read against that problem: ``read_register``)."""
    options = options or ContractAnalysisOptions()
    unknown = sorted({t for c in register.contracts for t in c.trip_ids} - {t.id for t in problem.trips})
    if unknown:
        raise ProblemError(f"the register names trips the day does not have: {', '.join(unknown[:5])}",
                           where="register")
    runs = [contract_run(problem, c) for c in register.contracts]
    routes = [r for r in runs if r.contract.kind == "route"]
    chains = []
    for a in routes:
        for b in routes:
            if a is not b and a.contract.operator == b.contract.operator:
                found = _chain(a, b, problem, options)
                if found:
                    chains.append(found)
    duplicates = []
    for i, a in enumerate(routes):
        for b in routes[i + 1:]:
            found = _duplicate(a, b, problem, options)
            if found:
                duplicates.append(found)
    sequences = []
    for operator in register.operators:
        sequences.extend(_sequences([r for r in routes if r.contract.operator == operator], problem, options))
    duplicate_saving, duplicates_chosen = _disjoint_saving(
        [dict(d, frees=[d["drop"], d["keep"]]) for d in duplicates], "frees")
    operators = []
    for operator in register.operators:
        mine = [r for r in runs if r.contract.operator == operator]
        mine_routes = [r for r in mine if r.contract.kind == "route"]
        seqs = [s for s in sequences if s["operator"] == operator]
        dups = [d for d in duplicates_chosen if operator in d["operators"]]
        places = sum(r.places * r.duty_minutes for r in mine_routes)
        operators.append({
            "operator": operator, "contracts": len(mine), "routes": len(mine_routes),
            "taxi_arrangements": len(mine) - len(mine_routes),
            "services": sorted({s for r in mine for s in r.services}),
            "trips": sum(len(r.contract.trip_ids) for r in mine),
            "price_a_day": _pence(sum(r.price for r in mine)),
            "price_a_week": _pence(sum(r.price * len(r.contract.days) for r in mine)),
            "mean_occupancy": round(sum(r.passenger_minutes for r in mine_routes) / places, 3) if places else None,
            "idle_minutes": round(sum(r.idle_minutes for r in mine_routes), 1),
            "chains": sum(1 for c in chains if c["operators"] == [operator]),
            "chain_saving_a_day": _pence(sum(s["saving_a_day"] for s in seqs)),
            "vehicles_saved_by_chains": sum(s["vehicles_saved"] for s in seqs),
            "duplicates": sum(1 for d in duplicates if operator in d["operators"]),
            # a duplicate's saving is counted with the operator whose contract would go
            "duplicate_saving_a_day": _pence(sum(d["saving_a_day"] for d in dups if d["operator_dropped"] == operator)),
        })
    total_places = sum(r.places * r.duty_minutes for r in routes)
    total = sum(r.price for r in runs)
    chain_saving = _pence(sum(s["saving_a_day"] for s in sequences))
    overall = {
        "contracts": len(runs), "routes": len(routes), "taxi_arrangements": len(runs) - len(routes),
        "operators": len(register.operators), "trips": sum(len(r.contract.trip_ids) for r in runs),
        "price_a_day": _pence(total), "price_a_week": _pence(sum(r.price * len(r.contract.days) for r in runs)),
        "mean_occupancy": round(sum(r.passenger_minutes for r in routes) / total_places, 3) if total_places else None,
        "idle_minutes": round(sum(r.idle_minutes for r in routes), 1),
        "peak_occupancy_mean": round(sum(r.peak_passengers / r.places for r in routes if r.places)
                                     / sum(1 for r in routes if r.places), 3) if any(r.places for r in routes) else None,
        "chains": len(chains), "chain_saving_a_day": chain_saving,
        "vehicles_saved_by_chains": sum(s["vehicles_saved"] for s in sequences),
        "chain_saving_percent": round(100 * chain_saving / total, 1) if total else None,
        "duplicates": len(duplicates), "duplicate_saving_a_day": duplicate_saving,
        "duplicate_saving_percent": round(100 * duplicate_saving / total, 1) if total else None,
    }
    return ContractAnalysis(problem.name, options, runs, chains, sequences, duplicates, operators, overall,
                            list(register.uncovered))
