"""Ruin and recreate: our own improvement search, compiled with numba.

OR-Tools' local search stalls after its first descent on the harder dial-a-ride instances and
barely moves on a county-sized day (docs/lab/). This search follows the large-neighbourhood
methods that hold the published records for pickup-and-delivery problems (Ropke and Pisinger
2006; Christiaens and Vanden Berghe 2020, "slack induction by string removals"): take out a
handful of related trips (neighbours in place and time, strings of consecutive stops from
nearby routes, now and then one whole route), put them back one by one where each costs
least, and accept the new plan by simulated annealing. Between batches of rounds, the ends of
two routes are exchanged where both vehicles are empty and that pays (2-opt* for dial-a-ride:
one move that ruin and recreate would need a whole route's worth of trips to make). Thousands
of such rounds a second need insertion tests that cost microseconds, so the whole loop runs in
compiled code on the search model (``SearchModel`` and its node matrices); Python
only starts batches, cools the temperature, reports progress and stops on time.

The feasibility test is exact for a given stop order. Windows, ride caps (drop-off start minus
pickup start), the shift and the duty limit are all difference constraints between service
start times, so a route is feasible if and only if bounds propagation over them reaches a fixed
point with every stop's earliest start no later than its latest (a simple temporal network).
The same bounds give the shortest duty a route can be driven in, which is what the span cost
charges: the route ends at its earliest possible end and leaves the depot as late as that allows
(the earliest schedule and any optimal one combine, component by component, into one that ends
earliest, so nothing is lost by fixing the end there).

Moves keep every rule of the OR-Tools model: capacities per resource on the layout the route
runs in (a route may change to another layout of its vehicle that holds its loads and trips),
vehicles allowed per trip, passengers who travel alone, and at most one route per vehicle and
duty. A trip is only put in a route where it costs less than its contract price (or the
prohibitive penalty of a trip no tariff covers), so the search decides fleet against contract
trip by trip as the whole model does. The solver reads the result back into OR-Tools, which
prices it and gives the plan its schedule, and the independent checker checks the plan.
"""
from __future__ import annotations

import math
import time
from collections import namedtuple
from typing import Callable

import numpy as np
from numba import njit

from optimiser.options import RuinRecreateParameters

from .construct import construct_routes
from .search_model import DayRates, SearchModel, build_search_model, node_matrices, stacked_costs, symmetric_costs

#: Larger than any cost or time in the model.
INF = 1 << 60


class UnschedulableStart(ValueError):
    """A start route no schedule can serve: its search ``vehicle``'s."""

    def __init__(self, vehicle: int):
        super().__init__(f"starting route on vehicle {vehicle} has no feasible schedule")
        self.vehicle = vehicle


#: Longest route, in stops (a route this long would carry 256 trips in one duty); routes are
#: held in arrays this wide.
MOST_STOPS = 512

#: The search's compiled functions run without numba's reference counting (``_nrt=False``), so
#: they must not allocate arrays (numba refuses to compile one that does). With it, numba counted
#: a reference to every array of the Day, Routes and Scratch tuples (some 70) on every call and
#: most reads of a member, two atomic operations each: over half of a round's time. Without it, 6,000
#: rounds on the 2,000-trip day's morning side took 3.3 s instead of 10.2 s, with the same routes
#: (docs/lab/).
search_jit = njit(cache=True, _nrt=False)

# Day: lo and hi are each stop's own window (the order trips are put back in follows them);
# implied_lo and implied_hi are those windows narrowed by the trip's other stop and ride cap
# (_implied_windows), which every test of a place and every schedule reads
Day = namedtuple("Day", [
    "T", "C", "TT", "CT", "lo", "hi", "implied_lo", "implied_hi", "n_depots", "ride", "demand", "capacity", "solo",
    "allowed", "depot", "shift_lo", "shift_hi", "duty", "fixed", "span_rate", "rate", "penalty", "slot_first",
    "slot_count", "slot_vehicles", "slot_group", "n_groups", "neighbours", "blink", "near_routes_from", "forced_rounds",
    "whole_route_rounds",
])
Routes = namedtuple("Routes", [
    "nodes", "length", "vehicle", "cost", "dur", "earliest", "latest", "load", "onboard",
    "solo_gap", "layouts", "where", "arc_time", "arc_cost", "changed",
])
Scratch = namedtuple("Scratch", [
    "seq", "arc", "E", "U", "U2", "pos_of", "pair_p", "pair_d", "pair_limit", "peak", "room", "removed",
    "flag", "touched", "saved_nodes", "saved_length", "saved_vehicle", "saved_cost", "saved_where",
    "group_seen", "best_nodes", "best_length", "best_vehicle", "order_key", "slot_mark", "cand_added", "cand_i", "cand_j",
    "slots_tried", "order", "cand_bound",
])


# ------------------------------------------------------------------ exact schedule bounds
@search_jit
def propagate(day, seq, n, v, E, U, sc):
    """Tightest earliest (E) and latest (U) service starts of the stops ``seq[:n]`` on vehicle v,
    positions 0 (leaving the depot) to n + 1 (back at the depot). Returns the number of ride
    caps on the route, or -1 if no schedule meets every window, ride cap, shift and duty."""
    # the route's own travel times, gathered once (sc.arc[x]: from position x - 1 to x): the
    # passes read them again and again, and a short contiguous row costs far less than
    # scattered reads of the whole day's matrix
    T = day.T
    dep = day.depot[v]
    arc = sc.arc
    prev = dep
    for x in range(n):
        arc[x + 1] = T[prev, seq[x]]
        prev = seq[x]
    arc[n + 1] = T[prev, dep]
    return _bounds_on_arcs(seq, n, day.n_depots, day.implied_lo, day.implied_hi, day.ride, day.shift_lo[v],
                           day.shift_hi[v], day.duty[v], arc, sc.pos_of, sc.pair_p, sc.pair_d, sc.pair_limit, E, U)


@search_jit
def _bounds_on_arcs(seq, n, nd, lo, hi, ride, shift_lo, shift_hi, duty, arc, pos_of, pair_p, pair_d, pair_limit,
                    E, U):
    """``propagate`` with the route's travel times already in ``arc`` and the vehicle's shift
    and duty limit given; the ride caps found are left in pair_p, pair_d and pair_limit."""
    npairs = 0
    for x in range(n):
        node = seq[x]
        k = (node - nd) >> 1
        if (node - nd) & 1 == 0:
            pos_of[k] = x + 1
        elif ride[k] < INF:
            pair_p[npairs] = pos_of[k]
            pair_d[npairs] = x + 1
            pair_limit[npairs] = ride[k]
            npairs += 1
    E[0] = shift_lo
    U[0] = shift_hi
    for x in range(1, n + 1):
        E[x] = lo[seq[x - 1]]
        U[x] = hi[seq[x - 1]]
    E[n + 1] = shift_lo
    U[n + 1] = shift_hi
    for _ in range(n + 4):
        changed = False
        for x in range(1, n + 2):
            a = E[x - 1] + arc[x]
            if a > E[x]:
                E[x] = a
                changed = True
        for q in range(npairs):
            a = E[pair_d[q]] - pair_limit[q]
            if a > E[pair_p[q]]:
                E[pair_p[q]] = a
                changed = True
        if E[n + 1] - duty > E[0]:
            E[0] = E[n + 1] - duty
            changed = True
        if _tighten_latest(n, duty, arc, U, npairs, pair_p, pair_d, pair_limit):
            changed = True
        for x in range(n + 2):
            if E[x] > U[x]:
                return -1
        if not changed:
            return npairs
    return -1


@search_jit
def least_duty(n, duty, arc, E, U, U2, npairs, pair_p, pair_d, pair_limit):
    """The shortest time from leaving the depot to returning that any schedule achieves, given the
    bounds ``_bounds_on_arcs`` left in E and U: end at the earliest end, leave as late as that allows."""
    for x in range(n + 2):
        U2[x] = U[x]
    U2[n + 1] = E[n + 1]
    for _ in range(n + 4):
        if not _tighten_latest(n, duty, arc, U2, npairs, pair_p, pair_d, pair_limit):
            break
    return E[n + 1] - U2[0]


@search_jit
def _tighten_latest(n, duty, arc, U, npairs, pair_p, pair_d, pair_limit):
    """One pass of the latest-start bounds: each stop early enough for the next, each drop-off
    within its ride cap of its pickup, the return within the duty limit. True if any moved.
    Reads the route's travel times from ``arc``, as ``propagate`` left them for this route."""
    changed = False
    for x in range(n, -1, -1):
        a = U[x + 1] - arc[x + 1]
        if a < U[x]:
            U[x] = a
            changed = True
    for q in range(npairs):
        a = U[pair_p[q]] + pair_limit[q]
        if a < U[pair_d[q]]:
            U[pair_d[q]] = a
            changed = True
    if U[0] + duty < U[n + 1]:
        U[n + 1] = U[0] + duty
        changed = True
    return changed


# ------------------------------------------------------------------ routes
@search_jit
def refresh(day, st, sc, s):
    """Recompute what insertion tests read for slot s from its stops; False if the route broke."""
    n = st.length[s]
    first = day.slot_first[s]
    count = day.slot_count[s]
    R = day.demand.shape[1]
    if n == 0:
        st.cost[s] = 0
        st.dur[s] = 0
        st.layouts[s] = (1 << count) - 1
        v0 = day.slot_vehicles[first]
        st.vehicle[s] = v0
        st.earliest[s, 0] = day.shift_lo[v0]
        st.earliest[s, 1] = day.shift_lo[v0]
        st.latest[s, 0] = day.shift_hi[v0]
        st.latest[s, 1] = day.shift_hi[v0]
        for r in range(R):
            st.load[s, 0, r] = 0
        st.onboard[s, 0] = 0
        st.solo_gap[s, 0] = 0
        st.arc_time[s, 0] = 0
        st.arc_cost[s, 0] = 0
        return True
    seq = st.nodes[s]
    nd = day.n_depots
    mask = (1 << count) - 1
    peak = sc.peak
    for r in range(R):
        peak[r] = 0
        st.load[s, 0, r] = 0
    st.onboard[s, 0] = 0
    st.solo_gap[s, 0] = 0
    solo_on = 0
    on = 0
    for x in range(n):
        node = seq[x]
        k = (node - nd) >> 1
        if (node - nd) & 1 == 0:
            sign = 1
            for b in range(count):
                if not day.allowed[k, day.slot_vehicles[first + b]]:
                    mask &= ~(1 << b)
        else:
            sign = -1
        on += sign
        if day.solo[k]:
            solo_on += sign
        for r in range(R):
            value = st.load[s, x, r] + sign * day.demand[k, r]
            st.load[s, x + 1, r] = value
            if value > peak[r]:
                peak[r] = value
        st.onboard[s, x + 1] = on
        st.solo_gap[s, x + 1] = 1 if solo_on > 0 else 0
    chosen = -1
    for b in range(count):
        if (mask >> b) & 1:
            w = day.slot_vehicles[first + b]
            for r in range(R):
                if peak[r] > day.capacity[w, r]:
                    mask &= ~(1 << b)
                    break
            if (mask >> b) & 1 and chosen < 0:
                chosen = w
    if chosen < 0:
        return False
    st.layouts[s] = mask
    st.vehicle[s] = chosen
    v = chosen
    npairs = propagate(day, seq, n, v, st.earliest[s], st.latest[s], sc)
    if npairs < 0:
        return False
    dur = 0
    if day.span_rate[v] > 0:
        dur = least_duty(n, day.duty[v], sc.arc, st.earliest[s], st.latest[s], sc.U2, npairs, sc.pair_p, sc.pair_d,
                          sc.pair_limit)
    st.dur[s] = dur
    C = day.C[day.rate[v]]
    dep = day.depot[v]
    total = day.fixed[v] + day.span_rate[v] * dur
    # each gap's arc, as best_insertion reads them: gap x runs from position x to x + 1
    for x in range(n + 1):
        st.arc_time[s, x] = sc.arc[x + 1]
    prev = dep
    for x in range(n):
        st.arc_cost[s, x] = C[prev, seq[x]]
        total += st.arc_cost[s, x]
        prev = seq[x]
    st.arc_cost[s, n] = C[prev, dep]
    total += st.arc_cost[s, n]
    st.cost[s] = total
    return True


@search_jit
def best_insertion(day, st, sc, k, slots, m, bound):
    """The cheapest feasible place for trip k in the slots ``slots[:m]`` costing less than
    ``bound``: (added cost, slot, pickup gap, drop-off gap), slot and gaps -1 if none. Gap g lies
    between position g and g + 1 (position 0 is the depot at the start); the drop-off gap is never
    before the pickup's."""
    best = bound
    bs = -1
    bi = -1
    bj = -1
    # Every read below is from the pickup's or the drop-off's own rows (the transposed matrices
    # give the arcs into them) or from the route's own arcs: a few rows that stay in the cache
    # while the trip is tried in route after route, not scattered reads of the whole day's matrices
    nd = day.n_depots
    p = nd + 2 * k
    d = p + 1
    from_p = day.T[p]
    to_p = day.TT[p]
    from_d = day.T[d]
    to_d = day.TT[d]
    lo_p = day.implied_lo[p]
    hi_p = day.implied_hi[p]
    lo_d = day.implied_lo[d]
    hi_d = day.implied_hi[d]
    limit = day.ride[k]
    solo = day.solo[k]
    room = sc.room
    peak = sc.peak
    cand = sc.seq
    R = day.demand.shape[1]
    for t in range(m):
        s = slots[t]
        n = st.length[s]
        if n + 2 > st.nodes.shape[1]:
            continue
        first = day.slot_first[s]
        count = day.slot_count[s]
        mask = st.layouts[s]
        layouts = 0
        for b in range(count):
            if (mask >> b) & 1 and day.allowed[k, day.slot_vehicles[first + b]]:
                layouts |= 1 << b
        if layouts == 0:
            continue
        for r in range(R):
            room[r] = 0
            for b in range(count):
                if (layouts >> b) & 1:
                    c = day.capacity[day.slot_vehicles[first + b], r]
                    if c > room[r]:
                        room[r] = c
        too_big = False
        for r in range(R):
            if day.demand[k, r] > room[r]:
                too_big = True
        if too_big:
            continue
        v = st.vehicle[s]
        rate = day.rate[v]
        cost_from_p = day.C[rate, p]
        cost_to_p = day.CT[rate, p]
        cost_from_d = day.C[rate, d]
        cost_to_d = day.CT[rate, d]
        arc_time = st.arc_time[s]
        arc_cost = st.arc_cost[s]
        dep = day.depot[v]
        shift_lo = day.shift_lo[v]
        shift_hi = day.shift_hi[v]
        duty = day.duty[v]
        fixed = day.fixed[v] if n == 0 else 0
        span = day.span_rate[v]
        old_dur = st.dur[s]
        # The duty lasts at least as long as its travel and service (any schedule's span does), so
        # an insertion that adds ``detour`` to them lengthens it by at least detour - wait, where
        # wait is the old duty's time beyond its travel and service: a lower bound on what a
        # place costs in hours, known before its exact test
        wait = old_dur
        if span > 0:
            for x in range(n + 1):
                wait -= arc_time[x]
        seq = st.nodes[s]
        E = st.earliest[s]
        U = st.latest[s]
        found = 0
        # A pickup in gap i must be served by lo_p and still reach stop i + 1 by its latest start:
        # the gaps before the first whose next stop may start at lo_p or later cannot take it
        first_gap = 0
        while first_gap < n and U[first_gap + 1] < lo_p:
            first_gap += 1
        for i in range(first_gap, n + 1):
            if E[i] > hi_p:
                break
            a = dep if i == 0 else seq[i - 1]
            b = dep if i == n else seq[i]
            tp = E[i] + to_p[a]
            if tp < lo_p:
                tp = lo_p
            if tp > hi_p:
                continue
            if st.solo_gap[s, i]:
                continue
            if solo and st.onboard[s, i] > 0:
                continue
            latest_p = hi_p
            if U[i + 1] - from_p[b] < latest_p:
                latest_p = U[i + 1] - from_p[b]  # for a drop-off further on, b follows the pickup
            pickup_added = cost_to_p[a] + cost_from_p[b] - arc_cost[i]
            pickup_detour = to_p[a] + from_p[b] - arc_time[i]
            pushed = tp
            for r in range(R):
                peak[r] = st.load[s, i, r]
            for j in range(i, n + 1):
                if j == i:
                    # straight from the pickup to the drop-off, then on to b no later than b's latest
                    td = tp + from_p[d]
                    if td < lo_d:
                        td = lo_d
                    if td > hi_d or td + from_d[b] > U[i + 1]:
                        continue
                    added = cost_to_p[a] + cost_from_p[d] + cost_from_d[b] - arc_cost[i] + fixed
                    detour = to_p[a] + from_p[d] + from_d[b] - arc_time[i]
                else:
                    if solo or st.solo_gap[s, j]:
                        break
                    if tp > latest_p:
                        break
                    c = seq[j - 1]
                    c2 = dep if j == n else seq[j]
                    # c's earliest start once the pickup is in: pushed on from the pickup, stop by stop
                    if j == i + 1:
                        pushed = tp + from_p[c]
                    else:
                        pushed = pushed + arc_time[j - 1]
                    if pushed < E[j]:
                        pushed = E[j]
                    if pushed > U[j]:
                        break
                    td = pushed + to_d[c]
                    if td > hi_d or td - latest_p > limit:
                        break
                    for r in range(R):
                        if st.load[s, j, r] > peak[r]:
                            peak[r] = st.load[s, j, r]
                    if td < lo_d:
                        td = lo_d
                    if td + from_d[c2] > U[j + 1]:
                        continue  # c2 could not be reached in time; a later drop-off may still fit
                    added = pickup_added + cost_to_d[c] + cost_from_d[c2] - arc_cost[j] + fixed
                    detour = pickup_detour + to_d[c] + from_d[c2] - arc_time[j]
                over = False
                for r in range(R):
                    if peak[r] + day.demand[k, r] > room[r]:
                        over = True
                        break
                if over:
                    break
                if added >= best:
                    continue
                least = added  # what the place adds at least, hours included (``bound`` is the caller's cap)
                if span > 0 and detour > wait:
                    least += span * (detour - wait)
                    if least >= best:
                        continue
                fits = False
                for bb in range(count):
                    if (layouts >> bb) & 1:
                        w = day.slot_vehicles[first + bb]
                        ok = True
                        for r in range(R):
                            if peak[r] + day.demand[k, r] > day.capacity[w, r]:
                                ok = False
                                break
                        if ok:
                            fits = True
                            break
                if not fits:
                    continue
                if day.blink > 0 and np.random.random() < day.blink:
                    continue
                sc.cand_added[found] = added
                sc.cand_bound[found] = least
                sc.cand_i[found] = i
                sc.cand_j[found] = j
                found += 1
        # The exact tests, lowest bound first: without a span cost the first that passes wins
        # (most candidates are never tested); with one, until no untested candidate can still win
        while found > 0:
            x = 0
            for y in range(1, found):
                if sc.cand_bound[y] < sc.cand_bound[x]:
                    x = y
            if sc.cand_bound[x] >= best:
                break
            added = sc.cand_added[x]
            i = sc.cand_i[x]
            j = sc.cand_j[x]
            found -= 1
            sc.cand_added[x] = sc.cand_added[found]
            sc.cand_bound[x] = sc.cand_bound[found]
            sc.cand_i[x] = sc.cand_i[found]
            sc.cand_j[x] = sc.cand_j[found]
            for y in range(i):
                cand[y] = seq[y]
            cand[i] = p
            for y in range(i, j):
                cand[y + 1] = seq[y]
            cand[j + 1] = d
            for y in range(j, n):
                cand[y + 2] = seq[y]
            # and its travel times: the route's own arcs, with those into and out of the pickup and
            # the drop-off from their rows (sc.arc[x]: from position x - 1 to x; the route's gap
            # x - 1 ends at its position x)
            arc = sc.arc
            for x in range(1, i + 1):
                arc[x] = arc_time[x - 1]
            arc[i + 1] = to_p[dep if i == 0 else seq[i - 1]]
            if j == i:
                arc[i + 2] = from_p[d]
                arc[i + 3] = from_d[dep if i == n else seq[i]]
            else:
                arc[i + 2] = from_p[seq[i]]
                for y in range(i + 2, j + 1):
                    arc[y + 1] = arc_time[y - 1]
                arc[j + 2] = to_d[seq[j - 1]]
                arc[j + 3] = from_d[dep if j == n else seq[j]]
            for y in range(j + 2, n + 2):
                arc[y + 2] = arc_time[y - 1]
            npairs = _bounds_on_arcs(cand, n + 2, nd, day.implied_lo, day.implied_hi, day.ride, shift_lo, shift_hi,
                                     duty, arc, sc.pos_of, sc.pair_p, sc.pair_d, sc.pair_limit, sc.E, sc.U)
            if npairs < 0:
                continue
            if span > 0:
                added += span * (least_duty(n + 2, duty, arc, sc.E, sc.U, sc.U2, npairs, sc.pair_p, sc.pair_d,
                                             sc.pair_limit) - old_dur)
                if added >= best:
                    continue
            best = added
            bs = s
            bi = i
            bj = j
            if span <= 0:
                break
    return best, bs, bi, bj


@search_jit
def _insert(day, st, s, k, i, j):
    n = st.length[s]
    seq = st.nodes[s]
    p = day.n_depots + 2 * k
    for x in range(n - 1, j - 1, -1):
        seq[x + 2] = seq[x]
    seq[j + 1] = p + 1
    for x in range(j - 1, i - 1, -1):
        seq[x + 1] = seq[x]
    seq[i] = p
    st.length[s] = n + 2
    st.where[k] = s


@search_jit
def place(day, st, sc, k, forced):
    """Put trip k where it costs least, if that is less than its contract price (``forced``: at
    any price): the slot or -1. Empty vehicles of one type and duty are alike, so only the
    first of each is tried."""
    best = INF if forced else day.penalty[k]
    bs = -1
    bi = -1
    bj = -1
    S = st.length.shape[0]
    # On a day with many vehicles, first only the routes that carry a related trip (and the empty
    # vehicles): the cheapest place is nearly always among them. If none takes it, a second pass
    # tries the other routes. On a small day, one pass over every route.
    near = S > day.near_routes_from
    if near:
        sc.slot_mark[:] = 0
        for x in range(day.neighbours.shape[1]):
            kk = day.neighbours[k, x]
            if kk >= 0 and st.where[kk] >= 0:
                sc.slot_mark[st.where[kk]] = 1
    sc.group_seen[:] = 0
    for second in range(2 if near else 1):
        m = 0
        for s in range(S):
            if st.length[s] == 0:
                if second:
                    continue  # every kind of empty vehicle was tried in the first pass
                g = day.slot_group[s]
                if sc.group_seen[g]:
                    continue
                sc.group_seen[g] = 1
            elif near and sc.slot_mark[s] == second:
                continue  # first pass: routes with a related trip; second: the others
            sc.slots_tried[m] = s
            m += 1
        c, s_found, i, j = best_insertion(day, st, sc, k, sc.slots_tried, m, best)
        if s_found >= 0:
            best = c
            bs = s_found
            bi = i
            bj = j
        if bs >= 0:
            break
    if bs >= 0:
        _touch(st, sc, bs)
        _insert(day, st, bs, k, bi, bj)
        if not refresh(day, st, sc, bs):
            # cannot happen with exact tests; undo rather than keep a broken route
            _take_out(day, st, bs, k)
            refresh(day, st, sc, bs)
            st.where[k] = -1
            return -1
    return bs


@search_jit
def _take_out(day, st, s, k):
    n = st.length[s]
    seq = st.nodes[s]
    nd = day.n_depots
    w = 0
    for x in range(n):
        if (seq[x] - nd) >> 1 != k:
            seq[w] = seq[x]
            w += 1
    st.length[s] = w


@search_jit
def _touch(st, sc, s):
    """Remember slot s as it was before this round changed it (once a round)."""
    count = sc.touched[0]
    for t in range(count):
        if sc.touched[t + 1] == s:
            return
    sc.touched[count + 1] = s
    sc.touched[0] = count + 1
    n = st.length[s]
    for x in range(n):
        sc.saved_nodes[count, x] = st.nodes[s, x]
    sc.saved_length[count] = n
    sc.saved_vehicle[count] = st.vehicle[s]
    sc.saved_cost[count] = st.cost[s]


@search_jit
def _restore_routes(day, st, sc):
    """Put the touched slots' stops back as _touch saved them."""
    for t in range(sc.touched[0]):
        s = sc.touched[t + 1]
        n = sc.saved_length[t]
        for x in range(n):
            st.nodes[s, x] = sc.saved_nodes[t, x]
        st.length[s] = n
        st.vehicle[s] = sc.saved_vehicle[t]
        refresh(day, st, sc, s)


@search_jit
def _restore(day, st, sc):
    _restore_routes(day, st, sc)
    for k in range(st.where.shape[0]):
        st.where[k] = sc.saved_where[k]


# ------------------------------------------------------------------ exchanging route ends
@search_jit
def _swap_ends(day, st, sc, s1, s2, i, j):
    """Give slot s1 the stops of s2 from position j on and s2 those of s1 from i on; keep the
    exchange if both routes still have a schedule and together cost less. Returns the change."""
    sc.touched[0] = 0
    _touch(st, sc, s1)
    _touch(st, sc, s2)
    n1 = st.length[s1]
    n2 = st.length[s2]
    before = st.cost[s1] + st.cost[s2]
    end1 = n1 - i
    for x in range(end1):
        sc.seq[x] = st.nodes[s1, i + x]
    for x in range(n2 - j):
        st.nodes[s1, i + x] = st.nodes[s2, j + x]
    st.length[s1] = i + n2 - j
    for x in range(end1):
        st.nodes[s2, j + x] = sc.seq[x]
    st.length[s2] = j + end1
    ok = refresh(day, st, sc, s1)
    ok = refresh(day, st, sc, s2) and ok
    if ok and st.cost[s1] + st.cost[s2] < before:
        st.changed[s1] = 1
        st.changed[s2] = 1
        nd = day.n_depots
        for s in (s1, s2):
            for x in range(st.length[s]):
                st.where[(st.nodes[s, x] - nd) >> 1] = s
        sc.touched[0] = 0
        return st.cost[s1] + st.cost[s2] - before
    _restore_routes(day, st, sc)  # st.where did not change
    sc.touched[0] = 0
    return 0


@search_jit
def _exchange_pair(day, st, sc, s1, s2):
    """The first exchange of ends between slots s1 and s2 that pays, made: its change, or 0."""
    n1 = st.length[s1]
    n2 = st.length[s2]
    v1 = st.vehicle[s1]
    v2 = st.vehicle[s2]
    if n1 == 0 or n2 == 0 or day.shift_lo[v1] >= day.shift_hi[v2] or day.shift_lo[v2] >= day.shift_hi[v1]:
        return 0  # an empty route, or duties that do not overlap in time (a morning and an afternoon)
    width = st.nodes.shape[1]
    T = day.T
    C1 = day.C[day.rate[v1]]
    C2 = day.C[day.rate[v2]]
    dep1 = day.depot[v1]
    dep2 = day.depot[v2]
    # Each vehicle must be able to start the other's end by that end's latest start, even with
    # no travel between. Earliest and latest starts rise along a route, so the cuts of s2 to try
    # are a run of consecutive ones whose first only moves on as i does, found on the routes' own
    # rows before any matrix is read
    first = 0
    for i in range(n1 + 1):
        if st.onboard[s1, i] != 0:
            continue
        a = st.nodes[s1, i - 1] if i > 0 else dep1
        a_next = st.nodes[s1, i] if i < n1 else dep1
        while first < n2 and st.earliest[s1, i] > st.latest[s2, first + 1]:
            first += 1
        for j in range(first, n2 + 1):
            if i < n1 and st.earliest[s2, j] > st.latest[s1, i + 1]:
                break
            if st.onboard[s2, j] != 0 or (i == 0 and j == 0) or (i == n1 and j == n2):
                continue
            if i + n2 - j > width - 2 or j + n1 - i > width - 2:
                continue
            b = st.nodes[s2, j - 1] if j > 0 else dep2
            b_next = st.nodes[s2, j] if j < n2 else dep2
            # what the two new joins cost against the two old ones; a route emptied by the
            # exchange also saves its vehicle's fixed cost
            change = (C1[a, b_next if j < n2 else dep1] + C2[b, a_next if i < n1 else dep2]
                      - st.arc_cost[s1, i] - st.arc_cost[s2, j])
            if i == 0 and j == n2:
                change -= day.fixed[v1]
            if i == n1 and j == 0:
                change -= day.fixed[v2]
            if change >= 0:
                continue
            if j < n2 and st.earliest[s1, i] + T[a, b_next] > st.latest[s2, j + 1]:
                continue
            if i < n1 and st.earliest[s2, j] + T[b, a_next] > st.latest[s1, i + 1]:
                continue
            found = _swap_ends(day, st, sc, s1, s2, i, j)
            if found < 0:
                return found
    return 0


@search_jit
def exchange_ends(day, st, sc):
    """2-opt* for dial-a-ride: exchange the ends of two routes cut where both vehicles are empty
    (no trip is split, so only windows, ride caps and seats can stop it), or join two routes
    into one. Ruin and recreate rarely finds these: it would have to take out and put back every
    trip of both ends at once. First improvement until none pays; returns the change (<= 0).

    Only pairs with a route changed since they were last tried (``st.changed``) are tried again:
    the answer for two unchanged routes is the same as last time, none."""
    S = st.length.shape[0]
    gained = 0
    again = sc.slot_mark
    for _ in range(20):
        before = gained
        for s in range(S):
            again[s] = st.changed[s]
            st.changed[s] = 0
        for s1 in range(S):
            for s2 in range(s1 + 1, S):
                if again[s1] or again[s2]:
                    gained += _exchange_pair(day, st, sc, s1, s2)
        if gained == before:
            break
    return gained


# ------------------------------------------------------------------ ruin
@search_jit
def _choose_removed(day, st, sc, q):
    """Up to q related trips, in sc.removed[:count]; returns count. Four ways, chosen at random:
    neighbours of a seed trip; strings of consecutive stops from the routes of those neighbours;
    trips at random; or every trip of the seed's route, however many."""
    n_trips = day.penalty.shape[0]
    nd = day.n_depots
    count = 0
    how = np.random.random()
    seed = np.random.randint(n_trips)
    if how < 0.1:
        while count < q:
            k = np.random.randint(n_trips)
            if not sc.flag[k]:
                sc.flag[k] = 1
                sc.removed[count] = k
                count += 1
        return count
    if how < 0.1 + day.whole_route_rounds:
        # the seed's whole route: no other way takes every trip out of one vehicle at once, and
        # a vehicle that can be emptied saves its share of the day rate and its driver's hours
        s = st.where[seed]
        if s >= 0:
            for y in range(st.length[s]):
                k = (st.nodes[s, y] - nd) >> 1
                if not sc.flag[k]:
                    sc.flag[k] = 1
                    sc.removed[count] = k
                    count += 1
            return count
    sc.flag[seed] = 1
    sc.removed[0] = seed
    count = 1
    K = day.neighbours.shape[1]
    if how < 0.55 + day.whole_route_rounds:
        for x in range(K):
            if count >= q:
                break
            k = day.neighbours[seed, x]
            if k < 0 or sc.flag[k] or np.random.random() < 0.2:
                continue
            sc.flag[k] = 1
            sc.removed[count] = k
            count += 1
        return count
    # strings: around each neighbour in a route not cut yet, a run of consecutive stops
    longest = max(2, q // 2)
    for x in range(-1, K):
        if count >= q:
            break
        k = seed if x < 0 else day.neighbours[seed, x]
        if k < 0:
            continue
        s = st.where[k]
        if s < 0:
            if not sc.flag[k]:
                sc.flag[k] = 1
                sc.removed[count] = k
                count += 1
            continue
        cut = False
        for t in range(sc.touched[0]):
            if sc.touched[t + 1] == s:
                cut = True
        if cut:
            continue
        sc.touched[sc.touched[0] + 1] = s  # only marks the route as cut; cleared by the caller
        sc.touched[0] += 1
        n = st.length[s]
        pos = 0
        for y in range(n):
            if st.nodes[s, y] == nd + 2 * k:
                pos = y
                break
        length = 1 + np.random.randint(min(longest, n))
        begin = pos - np.random.randint(length)
        if begin < 0:
            begin = 0
        for y in range(begin, min(n, begin + length)):
            kk = (st.nodes[s, y] - nd) >> 1
            if not sc.flag[kk] and count < q:
                sc.flag[kk] = 1
                sc.removed[count] = kk
                count += 1
    sc.touched[0] = 0
    return count


@search_jit
def _ruin(day, st, sc, count):
    """Take the removed trips out of their routes. False if a shortened route has no schedule
    (travel times without the triangle inequality can do that): the round is then abandoned."""
    nd = day.n_depots
    for x in range(count):
        k = sc.removed[x]
        s = st.where[k]
        if s >= 0:
            _touch(st, sc, s)
    ok = True
    for t in range(sc.touched[0]):
        s = sc.touched[t + 1]
        n = st.length[s]
        w = 0
        for y in range(n):
            node = st.nodes[s, y]
            if not sc.flag[(node - nd) >> 1]:
                st.nodes[s, w] = node
                w += 1
        st.length[s] = w
        if not refresh(day, st, sc, s):
            ok = False
    for x in range(count):
        st.where[sc.removed[x]] = -1
    return ok


# ------------------------------------------------------------------ rounds
@search_jit
def run_rounds(day, st, sc, rounds, temperature, current, best, most_removed):
    """Run ``rounds`` rounds of ruin and recreate with simulated annealing at ``temperature``.
    Returns (current total, best total, rounds accepted); the best routes are kept in sc.best_*."""
    n_trips = day.penalty.shape[0]
    nd = day.n_depots
    accepted = 0
    low = 2 if n_trips >= 2 else 1
    for _ in range(rounds):
        q = low + np.random.randint(max(1, most_removed - low + 1))
        if q > n_trips:
            q = n_trips
        sc.touched[0] = 0
        for k in range(n_trips):
            sc.saved_where[k] = st.where[k]
        count = _choose_removed(day, st, sc, q)
        before = 0
        for x in range(count):
            k = sc.removed[x]
            if st.where[k] < 0:
                before += day.penalty[k]
        ok = _ruin(day, st, sc, count)
        if ok:
            # the order to put them back in
            how = np.random.random()
            for x in range(count):
                k = sc.removed[x]
                if how < 0.4:
                    sc.order_key[x] = np.random.random()
                elif how < 0.7:
                    sc.order_key[x] = day.implied_lo[nd + 2 * k]
                elif how < 0.85:
                    sc.order_key[x] = -day.penalty[k]
                else:
                    sc.order_key[x] = -(day.implied_hi[nd + 2 * k + 1] - day.implied_lo[nd + 2 * k])
            # by key (a round takes out a few trips): insertion sort, in place
            order = sc.order
            for x in range(count):
                y = x
                while y > 0 and sc.order_key[order[y - 1]] > sc.order_key[x]:
                    order[y] = order[y - 1]
                    y -= 1
                order[y] = x
            # Now and then every trip goes in wherever it fits, dearer than its contract or not: one
            # trip alone never pays for opening a vehicle, several together may, and the round is
            # judged as a whole
            forced = np.random.random() < day.forced_rounds
            after = 0
            for x in range(count):
                k = sc.removed[order[x]]
                if place(day, st, sc, k, forced) < 0:
                    after += day.penalty[k]
        for x in range(count):
            sc.flag[sc.removed[x]] = 0
        if not ok:
            _restore(day, st, sc)
            continue
        change = after - before
        for t in range(sc.touched[0]):
            change += st.cost[sc.touched[t + 1]] - sc.saved_cost[t]
        candidate = current + change
        if candidate < current or (temperature > 0 and
                                   candidate < current - temperature * math.log(np.random.random() + 1e-300)):
            current = candidate
            accepted += 1
            for t in range(sc.touched[0]):
                st.changed[sc.touched[t + 1]] = 1
            if current < best:
                best = current
                _keep_best(st, sc)
        else:
            _restore(day, st, sc)
    return current, best, accepted


@search_jit
def _keep_best(st, sc):
    """Keep the current routes as the best found."""
    for s in range(st.length.shape[0]):
        for x in range(st.length[s]):
            sc.best_nodes[s, x] = st.nodes[s, x]
        sc.best_length[s] = st.length[s]
        sc.best_vehicle[s] = st.vehicle[s]


@search_jit
def _place_all(day, st, sc, order, forced):
    """Put the trips of ``order`` in, one by one, each where it costs least (first routes)."""
    for x in range(order.shape[0]):
        sc.touched[0] = 0
        s = place(day, st, sc, order[x], forced)
        if s >= 0:
            st.changed[s] = 1
    sc.touched[0] = 0


@search_jit
def _seed(value):
    np.random.seed(value)


# ------------------------------------------------------------------ from and to the solver's model
def _related_trips(lo: np.ndarray, time_units: np.ndarray, n_depots: int, count: int) -> np.ndarray:
    """For each trip, the ``count`` trips most like it: near its pickup and its drop-off, at about
    the same times (Shaw's relatedness, all in time units). ``lo``: each stop's earliest start as
    its trip implies it (``_implied_windows``). A stop's own window is no measure of when it
    happens where only the other end has one: a trip to an appointment may be picked up "from
    midnight", and by its own window every such trip would be as near in time as every other."""
    n = (len(lo) - n_depots) // 2
    out = np.full((n, max(1, count)), -1, dtype=np.int64)
    if n < 2 or count == 0:
        return out
    pickups = n_depots + 2 * np.arange(n)
    drops = pickups + 1
    for begin in range(0, n, 512):  # in blocks: a 10,000-trip day would need 800 MB at once
        rows = np.arange(begin, min(n, begin + 512))
        score = (time_units[np.ix_(pickups[rows], pickups)] + time_units[np.ix_(drops[rows], drops)]
                 + np.abs(lo[pickups[rows]][:, None] - lo[pickups][None, :])
                 + np.abs(lo[drops[rows]][:, None] - lo[drops][None, :])).astype(np.float64)
        score[np.arange(len(rows)), rows] = np.inf
        take = min(count, n - 1)
        nearest = np.argpartition(score, take - 1, axis=1)[:, :take]
        order = np.take_along_axis(score, nearest, axis=1).argsort(axis=1)
        out[rows, :take] = np.take_along_axis(nearest, order, axis=1)
    return out


def _implied_windows(lo: np.ndarray, hi: np.ndarray, time_units: np.ndarray, n_depots: int,
                     ride: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each stop's window of service starts, narrowed to what its trip's other stop and ride cap
    imply: a pickup starts no later than its drop-off's latest start less the shortest way out of
    the pickup (its service, then the travel to the nearest other stop), a drop-off no earlier than
    its pickup's earliest plus that, and the ride cap bounds each stop by the other's window.

    Only times no schedule can use are cut, so every route's bounds and costs are the same and the
    cheapest place for a trip costs the same (tests: the oracle knows only the stops' own windows).
    But the places tried for a trip now stop at the first stop that starts after its latest
    pickup. A trip that gives an earliest pickup and an arrival but no latest pickup (most pupils'
    trips to school on a generated day) has a pickup window to the end of the day, and every later
    stop of a route was tried. With these windows a whole-fleet scan for every trip took half the
    time, rounds on the 2,000-trip day's morning side 10% to 25% less, and a8-96 made 46% more
    rounds in 10 s (docs/lab/). Related trips and the orders trips are put back in use these
    windows too."""
    lo, hi = lo.copy(), hi.copy()
    n = len(ride)
    if n == 0:
        return lo, hi
    p = n_depots + 2 * np.arange(n)
    d = p + 1
    # the least transit out of a pickup: every arc out of it but the diagonal (service, then travel)
    leave = np.asarray([np.delete(time_units[x], x).min() for x in p], dtype=np.int64)
    # one pass reaches the fixed point for every trip a vehicle could serve at all (its ride cap is
    # at least the way out of the pickup); the schedule test rejects any other trip anyway
    hi[p] = np.minimum(hi[p], hi[d] - leave)
    lo[d] = np.maximum(lo[d], lo[p] + leave)
    lo[p] = np.maximum(lo[p], lo[d] - ride)
    hi[d] = np.minimum(hi[d], hi[p] + ride)
    return lo, hi


class RuinAndRecreate:
    """The search's state on one model: build it, ``improve`` for a while, read the routes."""

    def __init__(self, m: SearchModel, routes: list[list[int]], time_units: np.ndarray, cost_units: dict, seed: int = 0,
                 parameters: RuinRecreateParameters | None = None):
        self.m = m
        self.day_rates = DayRates(m)
        # the best routes that rank lowest with whole day rates (``cheaper_plan``), where they can be
        # other than the objective's best: (nodes, lengths, vehicles), and how they rank
        self._cheapest: tuple | None = None
        self._cheapest_units: int | None = None
        self.parameters = parameters = parameters or RuinRecreateParameters()
        n_trips = len(m.trip_ids)
        n_vehicles = len(m.vehicles)
        n_depots = len(m.node_location) - 2 * n_trips
        resources = list(m.capacities)
        R = max(1, len(resources))
        rates = sorted(cost_units)
        rate_index = {r: i for i, r in enumerate(rates)}
        demand = np.zeros((n_trips, R), dtype=np.int64)
        capacity = np.zeros((n_vehicles, R), dtype=np.int64)
        for x, r in enumerate(resources):
            demand[:, x] = np.asarray(m.demand[r], dtype=np.int64)[n_depots::2]
            capacity[:, x] = np.asarray(m.capacities[r], dtype=np.int64)
        allowed = np.ones((n_trips, n_vehicles), dtype=np.uint8)
        for k, vs in m.allowed_vehicles.items():
            allowed[k, :] = 0
            allowed[k, vs] = 1
        # one slot per vehicle and duty; its layouts are the OR-Tools vehicles it may run as
        slot_of_key: dict[tuple[int, int, int], int] = {}
        slot_vehicles: list[list[int]] = []
        slot_type_duty: list[tuple[int, int]] = []
        for v, (ti, number, duty, _) in enumerate(m.vehicles):
            key = (ti, number, duty)
            if key not in slot_of_key:
                slot_of_key[key] = len(slot_vehicles)
                slot_vehicles.append([])
                slot_type_duty.append((ti, duty))
            slot_vehicles[slot_of_key[key]].append(v)
        # empty vehicles of a group are alike, so a trip tries only the first: a vehicle some trips
        # are assigned to (Problem.assigned_vehicles) allows other trips than its type's others,
        # so it is a group of its own
        group_of: dict[tuple, int] = {}
        slot_group = [group_of.setdefault((ti, duty, allowed[:, vs].tobytes()), len(group_of))
                      for (ti, duty), vs in zip(slot_type_duty, slot_vehicles)]
        if max((len(x) for x in slot_vehicles), default=1) > 62:
            raise ValueError("more than 62 layouts for one vehicle type")
        first = np.cumsum([0] + [len(x) for x in slot_vehicles])[:-1]
        S = len(slot_vehicles)
        times = np.ascontiguousarray(time_units, dtype=np.int64)
        costs = stacked_costs(cost_units, rates)
        symmetric = symmetric_costs(costs)
        costs_in = costs if symmetric else np.ascontiguousarray(costs.transpose(0, 2, 1))
        ride = np.asarray([INF if x is None else x for x in m.ride_limit_units], dtype=np.int64)
        lo = np.asarray([w[0] for w in m.node_window], dtype=np.int64)
        hi = np.asarray([w[1] for w in m.node_window], dtype=np.int64)
        implied_lo, implied_hi = _implied_windows(lo, hi, times, n_depots, ride)
        self.day = Day(
            T=times,
            C=costs,
            # the arcs into each node as rows (see best_insertion); crow-fly costs are symmetric,
            # and then the matrix is its own transpose (a 2,000-trip region holds 128 MB a rate)
            TT=np.ascontiguousarray(times.T), CT=costs_in,
            lo=lo, hi=hi, implied_lo=implied_lo, implied_hi=implied_hi,
            n_depots=n_depots,
            ride=ride,
            demand=demand, capacity=capacity,
            solo=np.asarray(m.solo, dtype=np.uint8).reshape(-1) if n_trips else np.zeros(0, np.uint8),
            allowed=allowed,
            depot=np.asarray(m.starts, dtype=np.int64),
            shift_lo=np.asarray([x[0] for x in m.shift_units], dtype=np.int64),
            shift_hi=np.asarray([x[1] for x in m.shift_units], dtype=np.int64),
            duty=np.asarray(m.duty_units, dtype=np.int64),
            fixed=np.asarray(m.fixed_cost_units, dtype=np.int64),
            span_rate=np.asarray(m.span_cost_per_unit, dtype=np.int64),
            rate=np.asarray([rate_index[r] for r in m.cost_per_km_by_vehicle], dtype=np.int64),
            penalty=np.asarray(m.drop_penalty_units, dtype=np.int64),
            slot_first=np.asarray(first, dtype=np.int64),
            slot_count=np.asarray([len(x) for x in slot_vehicles], dtype=np.int64),
            slot_vehicles=np.asarray([v for x in slot_vehicles for v in x], dtype=np.int64),
            slot_group=np.asarray(slot_group, dtype=np.int64),
            n_groups=len(group_of),
            neighbours=_related_trips(implied_lo, times, n_depots, parameters.neighbours),
            blink=parameters.blink,
            near_routes_from=parameters.near_routes_from,
            forced_rounds=parameters.forced_rounds,
            whole_route_rounds=parameters.whole_route_rounds,
        )
        longest = max([MOST_STOPS] + [len(r) for r in routes])
        width = min(longest, 2 * n_trips) + 2
        self.st = Routes(
            nodes=np.zeros((S, width), dtype=np.int64), length=np.zeros(S, dtype=np.int64),
            vehicle=np.zeros(S, dtype=np.int64), cost=np.zeros(S, dtype=np.int64),
            dur=np.zeros(S, dtype=np.int64), earliest=np.zeros((S, width + 2), dtype=np.int64),
            latest=np.zeros((S, width + 2), dtype=np.int64), load=np.zeros((S, width + 1, R), dtype=np.int64),
            onboard=np.zeros((S, width + 1), dtype=np.int64), solo_gap=np.zeros((S, width + 1), dtype=np.uint8),
            layouts=np.zeros(S, dtype=np.int64), where=np.full(n_trips, -1, dtype=np.int64),
            arc_time=np.zeros((S, width + 1), dtype=np.int64), arc_cost=np.zeros((S, width + 1), dtype=np.int64),
            changed=np.ones(S, dtype=np.uint8),
        )
        places = (width + 1) * (width + 2) // 2  # pickup and drop-off places in the longest route
        self.sc = Scratch(
            seq=np.zeros(width + 2, dtype=np.int64), arc=np.zeros(width + 4, dtype=np.int64), E=np.zeros(width + 4, dtype=np.int64),
            U=np.zeros(width + 4, dtype=np.int64), U2=np.zeros(width + 4, dtype=np.int64),
            pos_of=np.zeros(max(1, n_trips), dtype=np.int64), pair_p=np.zeros(width, dtype=np.int64),
            pair_d=np.zeros(width, dtype=np.int64), pair_limit=np.zeros(width, dtype=np.int64),
            peak=np.zeros(R, dtype=np.int64), room=np.zeros(R, dtype=np.int64),
            removed=np.zeros(max(1, n_trips), dtype=np.int64), flag=np.zeros(max(1, n_trips), dtype=np.uint8),
            touched=np.zeros(S + 1, dtype=np.int64), saved_nodes=np.zeros((S, width), dtype=np.int64),
            saved_length=np.zeros(S, dtype=np.int64), saved_vehicle=np.zeros(S, dtype=np.int64),
            saved_cost=np.zeros(S, dtype=np.int64), saved_where=np.zeros(n_trips, dtype=np.int64),
            group_seen=np.zeros(max(1, len(group_of)), dtype=np.uint8),
            best_nodes=np.zeros((S, width), dtype=np.int64), best_length=np.zeros(S, dtype=np.int64),
            best_vehicle=np.zeros(S, dtype=np.int64), order_key=np.zeros(max(1, n_trips), dtype=np.float64),
            slot_mark=np.zeros(S, dtype=np.uint8),
            cand_added=np.zeros(places, dtype=np.int64), cand_i=np.zeros(places, dtype=np.int64),
            cand_j=np.zeros(places, dtype=np.int64), slots_tried=np.zeros(S, dtype=np.int64),
            order=np.zeros(max(1, n_trips), dtype=np.int64), cand_bound=np.zeros(places, dtype=np.int64),
        )
        # the starting routes, each on the first free vehicle of its type and duty in its layout
        st = self.st
        for s in range(S):
            st.vehicle[s] = slot_vehicles[s][0]
        taken = set()
        for v, route in enumerate(routes):
            if not route:
                continue
            ti, number, duty, li = m.vehicles[v]
            s = slot_of_key[(ti, number, duty)]
            if s in taken:
                s = next(x for x, key in enumerate(slot_of_key) if key[0] == ti and key[2] == duty
                         and x not in taken)
            taken.add(s)
            layout = m.vehicles[v][3]
            st.vehicle[s] = next(w for w in slot_vehicles[s] if m.vehicles[w][3] == layout)
            st.nodes[s, :len(route)] = route
            st.length[s] = len(route)
            for node in route:
                st.where[(node - n_depots) // 2] = s
        for s in range(S):
            if not refresh(self.day, st, self.sc, s):
                raise UnschedulableStart(int(st.vehicle[s]))
        self.current = self.total()
        self.best = self.current
        self._keep_best()
        _seed(int(seed) % (2 ** 31))

    def place_all(self, forced: bool = True, until: float = math.inf,
                  stop: Callable[[], bool] = lambda: False, batch: int = 32) -> bool:
        """First routes: every trip not in a route yet goes in where it costs least, in order of
        earliest pickup (``forced``: at any price, up to what the fleet can hold; the search then
        hands the trips that do not pay their way to contracts).

        Trips go in ``batch`` at a time, and placing stops once the monotonic clock reaches
        ``until`` or ``stop()``: on the generated 2,000-trip day with three times its fleet,
        placing every trip took longer than the whole time limit. The trips not reached stay out
        of the routes (the plan gives them to contracts). True if every trip was tried."""
        dropped = np.flatnonzero(self.st.where < 0)
        order = dropped[np.argsort(self.day.implied_lo[self.day.n_depots + 2 * dropped], kind="stable")]
        order = order.astype(np.int64)
        complete = True
        for begin in range(0, len(order), batch):
            if time.monotonic() >= until or stop():
                complete = False
                break
            _place_all(self.day, self.st, self.sc, order[begin:begin + batch], forced)
        self.current = self.total()
        self.best = self.current
        self._keep_best()
        return complete

    def total(self) -> int:
        dropped = self.st.where < 0
        return int(self.st.cost.sum() + self.day.penalty[dropped].sum())

    def return_to_best(self) -> None:
        """Make the best routes found so far the current ones."""
        st, sc = self.st, self.sc
        st.nodes[:, :] = sc.best_nodes
        st.length[:] = sc.best_length
        st.vehicle[:] = sc.best_vehicle
        st.where[:] = -1
        st.changed[:] = 1  # every route may differ from what the route-end exchange last tried
        nd = self.day.n_depots
        for s in range(st.nodes.shape[0]):
            for node in st.nodes[s, :st.length[s]]:
                st.where[(node - nd) // 2] = s
            if not refresh(self.day, st, sc, s):  # it was feasible when kept: a defect if not
                raise RuntimeError(f"the best route of slot {s} no longer has a schedule")
        self.current = self.total()

    def _keep_best(self):
        _keep_best(self.st, self.sc)

    def improve(self, until: float, stop: Callable[[], bool] = lambda: False,
                on_better: Callable[[int], None] = lambda total: None, start_temperature: float | None = None,
                end_temperature: float | None = None, cooled: bool = False, max_rounds: int | None = None) -> dict:
        """Search until the monotonic clock reaches ``until``, ``stop()``, or ``max_rounds`` rounds.

        The temperature cools geometrically over the time (or over the round budget, when there is
        one: the search is then the same for a seed whatever the machine's speed) from
        ``start_temperature`` of the average cost of a placed trip to ``cooling_ratio`` times less
        (the parameters' large-day values from ``large_day_from_trips`` trips). ``cooled``: the
        routes come from a search that has already cooled, so start at that end temperature rather
        than heat them again (which would spend a short search undoing and redoing) and cool on to
        ``cooled_end`` of it. Returns counts of rounds, accepted rounds, batches after which route
        ends were exchanged and returns to the best routes, and the seconds the exchanges took."""
        p = self.parameters
        n_trips = len(self.m.trip_ids)
        large = n_trips >= p.large_day_from_trips
        placed = int((self.st.where >= 0).sum())
        routed = int(self.st.cost.sum())
        scale = routed / max(1, placed)
        if start_temperature is None:
            hot = scale * (p.large_day_start_temperature if large else p.start_temperature)
        else:
            hot = start_temperature
        if end_temperature is None:
            cold = hot / (p.large_day_cooling_ratio if large else p.cooling_ratio)
        else:
            cold = end_temperature
        if cooled:
            hot = cold
            cold = cold * p.cooled_end
        most_removed = max(2, min(p.large_day_most_removed if large else p.most_removed, n_trips // 4))
        started = time.monotonic()
        span = max(1e-3, until - started)
        budget = max_rounds is not None
        batch, rounds, accepted = (p.budget_batch if budget else 8), 0, 0
        exchanges, exchange_s = 0, 0.0
        # large days' warm end is meant to keep them moving, so they never go back to the best
        back_after = math.inf if large else p.back_to_best_after * (max_rounds if budget else span)
        last_best_at, returns = (0 if budget else started), 0
        while n_trips and not stop():
            now = time.monotonic()
            if now >= until or (budget and rounds >= max_rounds):
                break
            progress = rounds if budget else now
            if progress - last_best_at > back_after and self.current > self.best:
                self.return_to_best()
                last_best_at = progress
                returns += 1
            share = min(1.0, rounds / max_rounds if budget else (now - started) / span)
            temperature = hot * (cold / hot) ** share if hot > 0 else 0.0
            if budget:
                batch = min(batch, max_rounds - rounds)
            before = self.best
            self.current, self.best, took = run_rounds(self.day, self.st, self.sc, batch, temperature,
                                                    self.current, self.best, most_removed)
            rounds += batch
            accepted += took
            if p.exchange_ends:
                began = time.monotonic()
                change = exchange_ends(self.day, self.st, self.sc)
                exchange_s += time.monotonic() - began
                if change < 0:
                    exchanges += 1
                    self.current += change
                    if self.current < self.best:
                        self.best = self.current
                        self._keep_best()
            if self.best < before:
                on_better(self.best)
                last_best_at = rounds if budget else time.monotonic()
            if not budget:
                spent = time.monotonic() - now
                # batches of about a tenth of a second: cheap to stop, little Python per round
                batch = int(min(max(1, batch * 2 if spent < 0.05 else batch // 2 if spent > 0.2 else batch), 10_000))
        return {"rounds": rounds, "accepted": accepted, "batches_with_exchanges": exchanges,
                "exchange_seconds": round(exchange_s, 3), "returns_to_best": returns, "best_units": int(self.best)}

    def priced_as_plan(self, total: int) -> tuple[int, int, tuple[int, ...]]:
        """``total``, the best routes' objective, as the search ranks the plans it gives and as the
        plan prices them, and the plan's vehicles of each type (``DayRates.as_plan``)."""
        lengths = self.sc.best_length
        return self.day_rates.as_plan(total, [(int(self.sc.best_vehicle[s]), self.sc.best_nodes[s, :lengths[s]])
                                              for s in np.flatnonzero(lengths > 0)])

    def cheaper_plan(self, total: int) -> tuple[int, int, tuple[int, ...]] | None:
        """The best routes just found (objective ``total``) as ``priced_as_plan`` gives them, if no
        best routes before ranked lower so; else None. The search's objective charges each duty its
        share of a day rate: on split shifts one of its bests can make a dearer plan than an
        earlier one (on a generated 600-trip day, by up to £25.81 in a 10 s solve;
        docs/lab/county-day.md), and the routes given (``best_routes``) are then the earlier's."""
        ranked = self.priced_as_plan(total)
        if self._cheapest_units is not None and ranked[0] >= self._cheapest_units:
            return None
        self._cheapest_units = ranked[0]
        if self.day_rates.split_shifts:
            # only there can the two rankings differ; elsewhere the objective's best is the one
            self._cheapest = (self.sc.best_nodes.copy(), self.sc.best_length.copy(), self.sc.best_vehicle.copy())
        return ranked

    @property
    def cheapest_units(self) -> int:
        """How the search ranks the routes ``best_routes`` gives (``priced_as_plan``'s first)."""
        if self._cheapest is not None:
            return self._cheapest_units
        return self.priced_as_plan(self.best)[0]

    def best_routes(self) -> list[list[int]]:
        """The best routes found, one list of nodes per OR-Tools vehicle (empty when unused): the
        cheapest plan of the search's bests where ``cheaper_plan`` has priced them."""
        nodes, lengths, vehicles = self._cheapest or (self.sc.best_nodes, self.sc.best_length, self.sc.best_vehicle)
        out: list[list[int]] = [[] for _ in self.m.vehicles]
        for s in range(len(lengths)):
            n = int(lengths[s])
            if n:
                out[int(vehicles[s])] = [int(x) for x in nodes[s, :n]]
        return out


def compile_now() -> float:
    """Compile the search (numba keeps the machine code in __pycache__) by running it briefly on a
    tiny made-up day, so that the first real solve does not spend its time limit compiling;
    returns the seconds it took. ``make`` runs it once after installing."""
    started = time.monotonic()
    problem = _tiny_day()
    m = build_search_model(problem, list(problem.trips))
    time_units, cost_units = node_matrices(m)
    routes, _, _ = construct_routes(m, time_units, cost_units)
    search = RuinAndRecreate(m, routes, time_units, cost_units, 0)
    search.improve(time.monotonic() + 0.2)
    # and the first routes of a county-sized day, which the search builds itself
    RuinAndRecreate(m, [[] for _ in m.vehicles], time_units, cost_units, 0).place_all(forced=True)
    # and the test of places that re-planning a published day uses
    from .places import InsertionPlaces

    places = InsertionPlaces(problem, problem.trips)
    places.set_route(("minibus", 0, 0), [("pickup", problem.trip("a")), ("dropoff", problem.trip("a"))])
    places.places("b", [(("minibus", 0, 0), 0, math.inf)])
    return time.monotonic() - started


def _tiny_day():
    """Four trips, two layouts, a span cost and a taxi tariff: every path the search compiles."""
    from optimiser.domain.model import Layout, ProblemBuilder, crow_fly

    places = {"depot": (52.67, -0.73), "home_a": (52.66, -0.70), "home_b": (52.64, -0.69),
              "school": (52.65, -0.72), "centre": (52.68, -0.66)}
    b = ProblemBuilder(crow_fly(places), name="compile")
    b.add_vehicle_type("minibus", count=2, depot="depot", cost_per_day=90, cost_per_km=0.5, cost_per_hour=18,
                       layouts=[Layout("8 seats", seats=8), Layout("6+1", seats=6, wheelchair_spaces=1)])
    b.add_tariff("taxi", flag_fall=3, per_km=2)
    b.add_trip("a", "school", "home_a", "school", latest_arrival="08:50", max_ride_minutes=40)
    b.add_trip("b", "school", "home_b", "school", latest_arrival="08:50", wheelchair_spaces=1)
    b.add_trip("c", "day_centre", "home_a", "centre", earliest_arrival="09:00", latest_arrival="09:30",
               travels_alone=True)
    b.add_trip("d", "day_centre", "home_b", "centre", earliest_arrival="09:00", latest_arrival="09:30")
    return b.build()
