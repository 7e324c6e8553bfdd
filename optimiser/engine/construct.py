"""First routes of our own: cheapest insertion in time order, with push-forward feasibility tests.

OR-Tools' own first-solution strategies evaluate each insertion by propagating its whole
constraint model; on a county-sized day (2,000 trips) neither of its insertion strategies
finishes in five minutes (docs/lab/). This module builds first routes in seconds on the
same integer data the OR-Tools model is made of (``SearchModel``), so that every route it
returns is one OR-Tools accepts as it stands; the solver then hands them to OR-Tools' local
search as its starting point.

How an insertion is tested. Each route keeps a feasible schedule ``start`` (service-start times
in time units) and, for every stop, ``push_room``: how much later that stop could start with
every later stop pushed along (waiting absorbs pushes) and no window, ride cap or shift end
broken. Inserting a trip only ever pushes later stops, so a candidate is tested by walking
from the new pickup to the new drop-off and comparing the push that reaches the next original
stop with its room: the test is exact for the schedule kept, and conservative otherwise. Pushes
never grow along a route, so a passenger picked up after the insertion point rides no longer
than before; only those already on board need their ride caps checked.

The order: trips by the earliest time they can be picked up, each placed where it adds least
cost (distance, duty time and, for a new vehicle, its day rate), with as many vehicles of each
type as help: the first trip on a vehicle always looks dearer than a taxi, so the choice
between fleet and contract is made on whole routes. ``select_routes`` then keeps, per vehicle
type and duty, the routes that save most against contracting their trips, as many as there are
vehicles; the trips of the others go back in where they cost less than their contract price.
Which vehicle to open is chosen by cost per place, since the first trip alone always favours
the smallest vehicle. Orders and choices were measured (docs/lab/).
"""
from __future__ import annotations

import bisect
from array import array
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

#: Larger than any cost or time in the model: "no place found".
_NONE = 1 << 62


def _rows(matrix: np.ndarray) -> list[array]:
    """A square int64 matrix as rows of ``array('q')``: indexing gives Python ints (fast in
    loops), at 8 bytes an entry (a list of lists of ints would take about five times that)."""
    rows = []
    for row in np.ascontiguousarray(matrix, dtype=np.int64):
        a = array("q")
        a.frombytes(row.tobytes())
        rows.append(a)
    return rows


@dataclass
class _Route:
    vehicle: int  # the OR-Tools vehicle (vehicle type, number, layout) the route runs on
    depot: int  # the depot's node
    stops: list[int] = field(default_factory=list)  # trip nodes, depots excluded
    start: list[int] = field(default_factory=list)  # service-start time of each stop
    # derived by _Constructor._refresh:
    push_room: list[int] = field(default_factory=list)  # one more entry: the end depot
    latest_reach: list[int] = field(default_factory=list)  # running max of start + push_room
    waited: list[int] = field(default_factory=list)  # waiting so far, by stop (prefix sums)
    load_before: list[tuple] = field(default_factory=list)  # per gap: load on board, per resource
    solo_before: list[bool] = field(default_factory=list)  # per gap: a passenger travelling alone on board
    count_before: list[int] = field(default_factory=list)  # per gap: passengers (trips) on board
    pickup_position: dict = field(default_factory=dict)  # trip -> position of its pickup
    end: int = 0  # arrival back at the depot
    departure: int = 0  # latest departure from the depot that keeps the first stop's time


class _Constructor:
    def __init__(self, m, time_units: np.ndarray, cost_units: dict):
        self.m = m
        self.n_depots = m.n_depots
        self.T = _rows(time_units)
        self.cost_rows = {rate: _rows(c) for rate, c in cost_units.items()}
        self.lo = [w[0] for w in m.node_window]
        self.hi = [w[1] for w in m.node_window]
        self.resources = list(m.capacities)
        n_trips = len(m.trip_ids)
        self.demand = [tuple(m.demand[r][self.n_depots + 2 * k] for r in self.resources) for k in range(n_trips)]
        self.capacity = [tuple(m.capacities[r][v] for r in self.resources) for v in range(len(m.vehicles))]
        self.allowed = {k: set(vs) for k, vs in m.allowed_vehicles.items()}
        # While routes are built they run on vehicle 0 of their type and duty (a type's vehicles
        # share depot, duty windows, rates and layouts); ``numbered_routes`` gives each kept route
        # a vehicle number of its own at the end. A group is (vehicle type, duty).
        self.group_layouts: dict[tuple[int, int], list[int]] = {}  # group -> OR-Tools vehicles of vehicle 0
        self.vehicle_of: dict[tuple[int, int, int, int], int] = {}
        self.type_count: dict[int, int] = {}
        for v, (ti, number, duty, li) in enumerate(m.vehicles):
            self.vehicle_of[(ti, number, duty, li)] = v
            self.type_count[ti] = max(self.type_count.get(ti, 0), number + 1)
            if number == 0:
                self.group_layouts.setdefault((ti, duty), []).append(v)
        #: Open as many routes of a type as help, then keep the best ``count`` (``select_routes``).
        self.unlimited = True
        self.routes: list[_Route] = []

    # ---------------------------------------------------------------- helpers
    def _trip(self, node: int) -> int:
        return (node - self.n_depots) // 2

    def _is_dropoff(self, node: int) -> bool:
        return (node - self.n_depots) % 2 == 1

    def _allowed(self, k: int, v: int) -> bool:
        return k not in self.allowed or v in self.allowed[k]

    def _refresh(self, r: _Route) -> None:
        """Recompute what insertion tests read, from the route's stops and schedule."""
        m, T, hi = self.m, self.T, self.hi
        stops, start = r.stops, r.start
        n = len(stops)
        depot = r.depot
        r.end = (start[-1] + T[stops[-1]][depot]) if n else 0
        r.departure = (start[0] - T[depot][stops[0]]) if n else 0
        waited, total = [], 0
        prev_node, prev_time = depot, None
        for i, node in enumerate(stops):
            if prev_time is not None:
                total += start[i] - (prev_time + T[prev_node][node])
            waited.append(total)
            prev_node, prev_time = node, start[i]
        r.waited = waited
        zero = tuple(0 for _ in self.resources)
        load, on_board_solo, count = zero, 0, 0
        load_before, solo_before, count_before, pickup_position = [zero], [False], [0], {}
        for i, node in enumerate(stops):
            k = self._trip(node)
            if self._is_dropoff(node):
                load = tuple(a - b for a, b in zip(load, self.demand[k]))
                count -= 1
                if m.solo[k]:
                    on_board_solo -= 1
            else:
                pickup_position[k] = i
                load = tuple(a + b for a, b in zip(load, self.demand[k]))
                count += 1
                if m.solo[k]:
                    on_board_solo += 1
            load_before.append(load)
            solo_before.append(on_board_solo > 0)
            count_before.append(count)
        r.load_before, r.solo_before, r.pickup_position = load_before, solo_before, pickup_position
        r.count_before = count_before
        # push_room, backwards: own window, the next stop's room plus the waiting in between,
        # and the ride caps of passengers on board whose pickup comes earlier.
        shift_hi = m.shift_units[r.vehicle][1]
        room = [0] * (n + 1)
        room[n] = shift_hi - r.end
        on_board: dict[int, int] = {}  # trip -> room its ride cap leaves at its drop-off, as a time
        for i in range(n - 1, -1, -1):
            node = stops[i]
            k = self._trip(node)
            own = hi[node] - start[i]
            if i + 1 < n:
                nxt = room[i + 1] + (waited[i + 1] - waited[i])
            else:
                nxt = room[n]
            best = own if own < nxt else nxt
            if self._is_dropoff(node):
                limit = m.ride_limit_units[k]
                if limit is not None:
                    p = pickup_position[k]
                    # for stops after the pickup and up to here: room = slack + waiting in between
                    on_board[k] = (limit - (start[i] - start[p])) + waited[i]
            else:
                on_board.pop(k, None)
            for slack_plus_wait in on_board.values():
                if slack_plus_wait - waited[i] < best:
                    best = slack_plus_wait - waited[i]
            room[i] = best
            # the pickup's own ride cap binds only stops strictly after it (handled above by pop)
        r.push_room = room
        latest, top = [], -_NONE
        for i in range(n):
            reach = start[i] + room[i]
            top = reach if reach > top else top
            latest.append(top)
        r.latest_reach = latest

    def _route_cost_rate(self, v: int):
        return self.cost_rows[self.m.cost_per_km_by_vehicle[v]], self.m.span_cost_per_unit[v]

    # ---------------------------------------------------------------- evaluation
    def _evaluate(self, r: _Route, k: int, layouts: list[int], bound: int | None = None):
        """Cheapest feasible insertion of trip k into route r costing less than ``bound``:
        (cost, i, j, vehicle, pickup time, drop-off time) or None.

        i is the gap the pickup goes into (before stop i), j the gap of the drop-off (j >= i, in
        the original numbering)."""
        m, T, lo, hi = self.m, self.T, self.lo, self.hi
        p = self.n_depots + 2 * k
        d = p + 1
        stops, start, waited = r.stops, r.start, r.waited
        n = len(stops)
        depot = r.depot
        demand = self.demand[k]
        solo = m.solo[k]
        limit = m.ride_limit_units[k]
        shift_lo, shift_hi = m.shift_units[r.vehicle]
        duty = m.duty_units[r.vehicle]
        cost, span_rate = self._route_cost_rate(r.vehicle)
        old_duty = r.end - r.departure if n else 0
        fixed = 0 if n else m.fixed_cost_units[r.vehicle]
        capacity = self.capacity
        roomiest = tuple(map(max, *(capacity[v] for v in layouts))) if len(layouts) > 1 else capacity[layouts[0]]
        best = None
        # the pickup can go before stop i only if stop i can still start after the pickup is served
        i_lo = bisect.bisect_left(r.latest_reach, lo[p]) if n else 0
        i_hi = bisect.bisect_right(start, hi[p])  # stop i-1 must start by the pickup's latest time
        for i in range(i_lo, min(i_hi, n) + 1):
            if r.solo_before[i]:
                continue
            if solo and r.count_before[i]:
                continue
            prev = stops[i - 1] if i else depot
            arrive_p = (start[i - 1] + T[prev][p]) if i else (shift_lo + T[depot][p])
            t_p0 = arrive_p if arrive_p > lo[p] else lo[p]
            if t_p0 > hi[p]:
                break  # later gaps only start later
            nxt_i = stops[i] if i < n else depot
            pickup_added = cost[prev][p] + cost[p][nxt_i] - cost[prev][nxt_i]
            j_range = (i,) if solo else range(i, n + 1)
            peak = r.load_before[i]  # the most on board in gaps i..j, per resource
            for j in j_range:
                if j > i:
                    if r.solo_before[j]:
                        break
                    before_d = stops[j - 1]
                    reach_d = start[j - 1] + T[before_d][d]  # intermediate stops only move later
                    if reach_d > hi[d] or (limit is not None and reach_d - hi[p] > limit):
                        break
                # capacity: every gap from i to j carries the trip too, so a layout must hold the
                # most on board in any of them plus the trip's demand; beyond the largest layout's
                # room, no later drop-off gap can do better
                if j > i:
                    peak = tuple(map(max, peak, r.load_before[j]))
                if any(a + b > c for a, b, c in zip(peak, demand, roomiest)):
                    break
                # distance first: duty never shrinks, so it is a lower bound on the added cost
                if i == j:
                    added = cost[prev][p] + cost[p][d] + cost[d][nxt_i] - cost[prev][nxt_i] + fixed
                else:
                    nxt_j = stops[j] if j < n else depot
                    added = pickup_added + cost[before_d][d] + cost[d][nxt_j] - cost[before_d][nxt_j] + fixed
                limit_cost = best[0] if best is not None else bound
                if limit_cost is not None and added >= limit_cost:
                    continue
                fitting = [v for v in layouts if all(a + b <= c for a, b, c in zip(peak, demand, capacity[v]))]
                if not fitting:
                    continue
                result = self._walk(r, i, j, t_p0, limit, p, d)
                if result is None:
                    continue
                t_p, t_d, push_next = result
                # the end of the route and the duty
                if j < n:
                    push_end = push_next - (waited[n - 1] - waited[j])
                    new_end = r.end + (push_end if push_end > 0 else 0)
                else:
                    new_end = t_d + T[d][depot]
                    if new_end > shift_hi:
                        continue
                new_departure = (t_p - T[depot][p]) if i == 0 else r.departure
                if new_end - new_departure > duty:
                    continue
                added += span_rate * ((new_end - new_departure) - old_duty)
                if limit_cost is None or added < limit_cost:
                    best = (added, i, j, fitting[0], t_p, t_d)
        return best

    def _walk(self, r: _Route, i: int, j: int, t_p: int, limit, p: int, d: int):
        """Times of the new pickup and drop-off and the push reaching stop j (None: infeasible)."""
        for attempt in (0, 1):
            ok, t_d, push_next = self._walk_once(r, i, j, t_p, p, d)
            if not ok or push_next is None:
                return None
            if limit is None or t_d - t_p <= limit:
                return t_p, t_d, push_next
            if attempt:
                return None
            # the ride is too long because the drop-off waits for its window: pick up later
            later = t_d - limit
            if later > self.hi[p]:
                return None
            t_p = later
        return None

    def _walk_once(self, r: _Route, i: int, j: int, t_p: int, p: int, d: int):
        T, lo, hi, m = self.T, self.lo, self.hi, self.m
        stops, start, room = r.stops, r.start, r.push_room
        n = len(stops)
        node, now = p, t_p
        push = 0
        for x in range(i, j):
            arrive = now + T[node][stops[x]]
            push = arrive - start[x]
            if push <= 0:
                # the rest up to the drop-off is untouched
                node, now = stops[j - 1], start[j - 1]
                break
            s = stops[x]
            if start[x] + push > hi[s]:
                return False, 0, None
            kx = self._trip(s)
            if self._is_dropoff(s):
                limit = m.ride_limit_units[kx]
                px = r.pickup_position.get(kx, -1)
                if limit is not None and px < i and start[x] + push - start[px] > limit:
                    return False, 0, None
            node, now = s, start[x] + push
        arrive_d = now + T[node][d]
        t_d = arrive_d if arrive_d > lo[d] else lo[d]
        if t_d > hi[d]:
            return False, 0, None
        if j < n:
            push_next = t_d + T[d][stops[j]] - start[j]
            if push_next < 0:
                push_next = 0
            if push_next > room[j]:
                return False, t_d, None
            # passengers on board across the new drop-off whose pickup precedes gap i are
            # covered by room[j]; those picked up within i..j-1 ride no longer (pushes shrink)
        else:
            push_next = 0
        return True, t_d, push_next

    # ---------------------------------------------------------------- applying
    def _insert(self, r: _Route, k: int, i: int, j: int, vehicle: int, t_p: int, t_d: int) -> None:
        T = self.T
        p = self.n_depots + 2 * k
        d = p + 1
        stops = r.stops[:i] + [p] + r.stops[i:j] + [d] + r.stops[j:]
        times = r.start[:i] + [t_p]
        node, now = p, t_p
        for x in range(i, j):
            s = r.stops[x]
            arrive = now + T[node][s]
            now = max(arrive, r.start[x])
            node = s
            times.append(now)
        arrive = now + T[node][d]
        times.append(max(arrive, t_d))
        node, now = d, times[-1]
        for x in range(j, len(r.stops)):
            s = r.stops[x]
            now = max(now + T[node][s], r.start[x])
            node = s
            times.append(now)
        r.stops, r.start, r.vehicle = stops, times, vehicle
        self._refresh(r)

    def _group(self, v: int) -> tuple[int, int]:
        ti, _, duty, _ = self.m.vehicles[v]
        return ti, duty

    def _routes_in_group(self, group: tuple[int, int]) -> int:
        return sum(1 for r in self.routes if self._group(r.vehicle) == group)

    def _new_route(self, k: int):
        """The cheapest unused vehicle for trip k alone: (cost, route) or None."""
        best = None
        for group, layouts in self.group_layouts.items():
            if not self.unlimited and self._routes_in_group(group) >= self.type_count[group[0]]:
                continue
            vehicles = [v for v in layouts if self._allowed(k, v)]
            if not vehicles:
                continue
            r = _Route(vehicle=vehicles[0], depot=self.m.starts[vehicles[0]])
            self._refresh(r)
            found = self._evaluate(r, k, vehicles)
            if not found:
                continue
            # Which kind of vehicle to open: the first trip alone always favours the smallest,
            # though the vehicle will carry others too. Compare cost per place the layout offers.
            score = found[0] / max(1, sum(self.capacity[found[3]]))
            if best is None or score < best[2]:
                best = (found, r, score)
        return best and best[:2]

    def place(self, k: int, worth: int | None = None) -> bool:
        """Put trip k where it adds least cost; with ``worth``, only if that costs less."""
        best = None
        for r in self.routes:
            layouts = self._layouts_for(r, k)
            if not layouts:
                continue
            found = self._evaluate(r, k, layouts, best[0][0] if best else worth)
            if found and (best is None or found[0] < best[0][0]):
                best = (found, r)
        opened = self._new_route(k)
        if opened and (best is None or opened[0][0] < best[0][0]):
            best = opened
        if best is None or (worth is not None and best[0][0] >= worth):
            return False
        (_, i, j, vehicle, t_p, t_d), r = best
        if opened is not None and r is opened[1]:  # a vehicle not used so far
            self.routes.append(r)
        self._insert(r, k, i, j, vehicle, t_p, t_d)
        return True

    def _layouts_for(self, r: _Route, k: int) -> list[int]:
        """The route's own layout first, then the vehicle's other layouts that hold its loads."""
        peak = [max(load[x] for load in r.load_before) for x in range(len(self.resources))]
        out = [r.vehicle] if self._allowed(k, r.vehicle) else []
        for v in self.group_layouts[self._group(r.vehicle)]:
            if v != r.vehicle and self._allowed(k, v) and all(peak[x] <= self.capacity[v][x] for x in range(len(peak))):
                out.append(v)
        return out

    def select_routes(self) -> list[int]:
        """Keep, per vehicle type and duty, the routes that save most against contracting their
        trips, as many as the type has vehicles; return the trips of the routes let go."""
        penalty = self.m.drop_penalty_units
        worth = []
        for r in self.routes:
            trips = {self._trip(s) for s in r.stops}
            worth.append((sum(penalty[k] for k in trips) - self.route_cost(r), r))
        worth.sort(key=lambda item: -item[0])
        kept, used, released = [], {}, []
        for saving, r in worth:
            group = self._group(r.vehicle)
            if saving > 0 and used.get(group, 0) < self.type_count[group[0]]:
                used[group] = used.get(group, 0) + 1
                kept.append(r)
            else:
                released.extend(self._trip(s) for s in r.stops if not self._is_dropoff(s))
        self.routes = kept
        self.unlimited = False
        return released

    def numbered_routes(self) -> list[list[int]]:
        """One list of nodes per OR-Tools vehicle: each kept route on a vehicle number of its own."""
        out = [[] for _ in self.m.vehicles]
        next_number: dict[tuple[int, int], int] = {}
        for r in self.routes:
            ti, _, duty, li = self.m.vehicles[r.vehicle]
            number = next_number.get((ti, duty), 0)
            next_number[(ti, duty)] = number + 1
            out[self.vehicle_of[(ti, number, duty, li)]] = list(r.stops)
        return out

    # ---------------------------------------------------------------- releasing dear trips
    def route_cost(self, r: _Route) -> int:
        if not r.stops:
            return 0
        cost, span_rate = self._route_cost_rate(r.vehicle)
        nodes = [r.depot] + r.stops + [r.depot]
        distance = sum(cost[a][b] for a, b in zip(nodes, nodes[1:]))
        return self.m.fixed_cost_units[r.vehicle] + distance + span_rate * (r.end - r.departure)


def construct_routes(m, time_units: np.ndarray, cost_units: dict,
                     stop: Callable[[], bool] = lambda: False) -> tuple[list[list[int]], bool, int]:
    """First routes for the OR-Tools model ``m``: one list of node indices per OR-Tools vehicle
    (depots excluded, empty for unused vehicles), each feasible in that model; whether ``stop``
    cut the construction short (trips not reached yet are left out); and the model's objective
    for them as priced here (duty from our schedules, which OR-Tools may shorten)."""
    c = _Constructor(m, time_units, cost_units)
    n_depots = c.n_depots
    window = m.node_window
    # by the earliest pickup: measured best of the orders tried (docs/lab/)
    order = sorted(range(len(m.trip_ids)), key=lambda k: (window[n_depots + 2 * k][0], k))
    cut = False
    for count, k in enumerate(order):
        if count % 32 == 0 and stop():
            cut = True
            break
        c.place(k)
    released = set(c.select_routes())
    penalty = m.drop_penalty_units
    for count, k in enumerate(order):
        if k in released:
            if cut or (count % 32 == 0 and stop()):
                cut = True
                break
            c.place(k, worth=penalty[k])
    placed = {c._trip(node) for r in c.routes for node in r.stops}
    estimate = sum(c.route_cost(r) for r in c.routes) + sum(penalty[k] for k in range(len(m.trip_ids))
                                                            if k not in placed)
    return c.numbered_routes(), cut, estimate
