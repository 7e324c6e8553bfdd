"""Every place a trip can go in given routes, tested in compiled code, for callers that price
places themselves (re-planning a published day prices disruption, which the search cannot).

The search's ``best_insertion`` answers one question, the cheapest place by the search's own
cost. ``InsertionPlaces`` answers another: each place (pickup gap, drop-off gap) in each route
that has a schedule, with what it adds to the route's distance cost and to its least duty. It
works on the search's own state (``RuinAndRecreate``'s day, routes and scratch arrays) with the
search's exact schedule test (``propagate``, ``least_duty``), so a test costs microseconds.

Times in the search model are whole centiseconds, travel rounded up and windows inwards, so a
place that the domain's schedule (``domain/schedule.py``) finds feasible by less than a
centisecond can be missed here; a place found here always has a schedule there.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from optimiser.domain.model import Problem, Trip

from .ruin_recreate import INF, RuinAndRecreate, least_duty, propagate, refresh, search_jit
from .search_model import COST_UNITS_PER_POUND, TIME_UNITS_PER_SECOND, build_search_model, node_matrices


@search_jit
def _route_duty(day, st, sc, s):
    """Slot s's least duty (time units), or -1 if its stops have no schedule."""
    n = st.length[s]
    if n == 0:
        return 0
    v = st.vehicle[s]
    npairs = propagate(day, st.nodes[s], n, v, sc.E, sc.U, sc)
    if npairs < 0:
        return -1
    return least_duty(n, day.duty[v], sc.arc, sc.E, sc.U, sc.U2, npairs, sc.pair_p, sc.pair_d, sc.pair_limit)


@search_jit
def _fits_a_layout(day, k, first, count, layouts, peak):
    """Whether one of the slot's ``layouts`` (a bit mask of its ``count``) holds ``peak`` with trip k on board."""
    R = day.demand.shape[1]
    for b in range(count):
        if (layouts >> b) & 1:
            w = day.slot_vehicles[first + b]
            ok = True
            for r in range(R):
                if peak[r] + day.demand[k, r] > day.capacity[w, r]:
                    ok = False
                    break
            if ok:
                return True
    return False


@search_jit
def insertion_places(day, st, sc, k, slots, m, first_gaps, latest_starts, out_slot, out_i, out_j, out_cost,
                     out_duty):
    """Every place for trip k in the slots ``slots[:m]`` that has a schedule: the pickup in gap
    ``first_gaps[t]`` or later (gap g lies between positions g and g + 1; position 0 is leaving
    the depot), and every stop of the route starting by ``latest_starts[t]`` at the earliest.
    Writes each place's slot index t, pickup gap, drop-off gap, added distance cost and added
    least duty (units) to the ``out`` arrays; returns how many, or -1 - t if slot ``slots[t]``'s
    own stops have no schedule in the search model."""
    nd = day.n_depots
    p = nd + 2 * k
    d = p + 1
    T = day.T
    lo_p = day.implied_lo[p]
    hi_p = day.implied_hi[p]
    lo_d = day.implied_lo[d]
    hi_d = day.implied_hi[d]
    limit = day.ride[k]
    solo = day.solo[k]
    R = day.demand.shape[1]
    peak = sc.peak
    cand = sc.seq
    found = 0
    for t in range(m):
        s = slots[t]
        n = st.length[s]
        if n + 2 > st.nodes.shape[1]:
            continue
        first = day.slot_first[s]
        layouts = 0
        for b in range(day.slot_count[s]):
            if (st.layouts[s] >> b) & 1 and day.allowed[k, day.slot_vehicles[first + b]]:
                layouts |= 1 << b
        if layouts == 0:
            continue
        old_duty = _route_duty(day, st, sc, s)
        if old_duty < 0:
            return -1 - t
        v = st.vehicle[s]
        dep = day.depot[v]
        C = day.C[day.rate[v]]
        old_cost = 0
        for x in range(n + 1):
            old_cost += st.arc_cost[s, x]
        seq = st.nodes[s]
        E = st.earliest[s]
        U = st.latest[s]
        latest = latest_starts[t]
        # latest starts rise along a route: no pickup goes before a stop that must start before it can
        g = first_gaps[t]
        while g < n and U[g + 1] < lo_p:
            g += 1
        for i in range(g, n + 1):
            if E[i] > hi_p:
                break
            a = dep if i == 0 else seq[i - 1]
            b = dep if i == n else seq[i]
            tp = max(E[i] + T[a, p], lo_p)
            if tp > hi_p or st.solo_gap[s, i] or (solo and st.onboard[s, i] > 0):
                continue
            latest_p = min(hi_p, U[i + 1] - T[p, b])  # for a drop-off further on, b follows the pickup
            pushed = tp
            for r in range(R):
                peak[r] = st.load[s, i, r]
            for j in range(i, n + 1):
                if j == i:
                    td = max(tp + T[p, d], lo_d)
                    if td > hi_d:
                        continue
                else:
                    if solo or st.solo_gap[s, j] or tp > latest_p:
                        break
                    c = seq[j - 1]
                    # stop c's earliest start once the pickup is in, pushed on stop by stop
                    pushed = max(tp + T[p, c] if j == i + 1 else pushed + T[seq[j - 2], c], E[j])
                    if pushed > U[j]:
                        break
                    td = pushed + T[c, d]
                    if td > hi_d or td - latest_p > limit:
                        break
                    for r in range(R):
                        if st.load[s, j, r] > peak[r]:
                            peak[r] = st.load[s, j, r]
                if not _fits_a_layout(day, k, first, day.slot_count[s], layouts, peak):
                    break  # the load only grows as the drop-off moves on
                for y in range(i):
                    cand[y] = seq[y]
                cand[i] = p
                for y in range(i, j):
                    cand[y + 1] = seq[y]
                cand[j + 1] = d
                for y in range(j, n):
                    cand[y + 2] = seq[y]
                npairs = propagate(day, cand, n + 2, v, sc.E, sc.U, sc)
                if npairs < 0:
                    continue
                late = False
                for x in range(1, n + 3):
                    if sc.E[x] > latest:
                        late = True
                        break
                if late:
                    continue
                duty = least_duty(n + 2, day.duty[v], sc.arc, sc.E, sc.U, sc.U2, npairs, sc.pair_p, sc.pair_d,
                                  sc.pair_limit)
                cost = C[dep, cand[0]] + C[cand[n + 1], dep] - old_cost
                for y in range(n + 1):
                    cost += C[cand[y], cand[y + 1]]
                out_slot[found] = t
                out_i[found] = i
                out_j[found] = j
                out_cost[found] = cost
                out_duty[found] = duty - old_duty
                found += 1
    return found


@search_jit
def _set_route(day, st, sc, s, nodes):
    """Make ``nodes`` slot s's stops; False if no layout of it holds them or they have no schedule."""
    n = nodes.shape[0]
    for x in range(n):
        st.nodes[s, x] = nodes[x]
        st.where[(nodes[x] - day.n_depots) >> 1] = s
    st.length[s] = n
    return refresh(day, st, sc, s)


class InsertionPlaces:
    """Routes of one day's fleet held as the search holds them, and every place a trip can go in
    them. Routes are named by vehicle: (vehicle type name, vehicle number, duty)."""

    def __init__(self, problem: Problem, trips: Sequence[Trip]):
        m = build_search_model(problem, trips)
        time_units, cost_units = node_matrices(m)
        self._search = RuinAndRecreate(m, [[] for _ in m.vehicles], time_units, cost_units)
        day = self._search.day
        self._slot = {}
        for s in range(len(day.slot_first)):
            ti, number, duty, _ = m.vehicles[int(day.slot_vehicles[day.slot_first[s]])]
            self._slot[(problem.vehicle_types[ti].name, number, duty)] = s
        self._trip = {t.id: k for k, t in enumerate(trips)}
        self._n_depots = m.n_depots

    def set_route(self, vehicle: tuple[str, int, int], events: Sequence[tuple[str, Trip]]) -> bool:
        """The route of ``vehicle`` is now ``events`` (("pickup" | "dropoff", trip), in order);
        False if its stops have no schedule in the search model (then no place in it is found)."""
        nodes = np.asarray([self._n_depots + 2 * self._trip[trip.id] + (kind == "dropoff") for kind, trip in events],
                           dtype=np.int64)
        search = self._search
        return bool(_set_route(search.day, search.st, search.sc, self._slot[vehicle], nodes))

    def places(self, trip_id: str, routes: Sequence[tuple[tuple[str, int, int], int, float]]):
        """Every place for the trip in ``routes``, each (vehicle, first pickup gap, latest start in
        seconds of any stop or math.inf), as arrays: route index into ``routes``, pickup gap,
        drop-off gap, added distance cost (pounds), added least duty (seconds). Raises
        ``ValueError`` naming the vehicle if a route's own stops have no schedule here."""
        search = self._search
        st = search.st
        slots = np.asarray([self._slot[r[0]] for r in routes], dtype=np.int64)
        first_gaps = np.asarray([r[1] for r in routes], dtype=np.int64)
        latest = np.asarray([INF if math.isinf(r[2]) else math.ceil(r[2] * TIME_UNITS_PER_SECOND) for r in routes],
                            dtype=np.int64)
        lengths = st.length[slots] if len(slots) else np.zeros(0, dtype=np.int64)
        size = int(((lengths + 1) * (lengths + 2) // 2).sum())
        out = [np.empty(max(1, size), dtype=np.int64) for _ in range(5)]
        found = insertion_places(search.day, st, search.sc, self._trip[trip_id], slots, len(slots), first_gaps, latest,
                                 *out)
        if found < 0:
            raise ValueError(f"the route of {routes[-1 - found][0]} has no schedule in the search model")
        route, i, j, cost, duty = (x[:found] for x in out)
        return route, i, j, cost / COST_UNITS_PER_POUND, duty / TIME_UNITS_PER_SECOND
