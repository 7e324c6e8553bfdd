"""Route pool and set partitioning: recombine the good routes the search has already met.

Ruin and recreate (ruin_recreate.py) meets many more good routes than ever sit together in one
plan: a round that finds a better route for one school run may have made a worse one beside it,
and annealing moves on. Every route of an accepted round goes into a pool, one column per set of
trips and vehicle group (type and duty), at the cheapest cost the search has met for that set.
Now and then a set-partitioning model picks routes from the pool that together carry every trip
once, or leave it to its contract at its contract price, with no more routes in a group than it
has vehicles, at the least total cost; the search then goes on from that plan. This is the
matheuristic of Grangier et al. (2017, vehicle routing with cross-docking) on the large
neighbourhood search; Parragh and Schmid (2013) combine column generation with a neighbourhood
search for the dial-a-ride problem itself.

HiGHS solves the model, through ``scipy.optimize.milp`` (scipy is already a dependency). The
pool's routes are each feasible on their own, so any selection is a feasible plan, and the
search's best plan is always one of the selections: the result is never dearer than it.
"""
from __future__ import annotations

import numpy as np

#: Columns kept; beyond this the routes met longest ago go first (the best plan's are kept).
MOST_COLUMNS = 60_000


class RoutePool:
    """Columns met by one search on one model: ``take`` them from the search's buffer, then
    ``recombine`` to the cheapest selection."""

    def __init__(self, n_depots: int, slot_group: np.ndarray, penalty: np.ndarray):
        self.n_depots = n_depots
        self.slot_group = np.asarray(slot_group)
        self.penalty = np.asarray(penalty, dtype=np.float64)
        self.n_groups = int(self.slot_group.max()) + 1 if len(self.slot_group) else 0
        self.group_size = np.bincount(self.slot_group, minlength=self.n_groups)
        # (group, trips as bytes) -> (cost in units, stops); insertion order is age
        self.columns: dict[tuple[int, bytes], tuple[int, np.ndarray]] = {}
        self.solves = 0
        self.improved = 0
        self.seconds = 0.0

    def add(self, slot: int, stops: np.ndarray, cost: int) -> None:
        stops = np.asarray(stops, dtype=np.int64)
        if not len(stops):
            return
        pickups = stops[(stops - self.n_depots) % 2 == 0]
        key = (int(self.slot_group[slot]), np.sort((pickups - self.n_depots) // 2).tobytes())
        old = self.columns.pop(key, None)
        if old is not None and old[0] <= cost:
            self.columns[key] = old  # seen again: it counts as recent
        else:
            self.columns[key] = (int(cost), stops.copy())

    def take(self, sc) -> int:
        """Move the routes the compiled rounds left in the scratch buffer into the pool."""
        count = int(sc.pool_count[0])
        for c in range(count):
            self.add(int(sc.pool_slot[c]), sc.pool_nodes[c, :int(sc.pool_length[c])], int(sc.pool_cost[c]))
        sc.pool_count[0] = 0
        excess = len(self.columns) - MOST_COLUMNS
        if excess > 0:
            for key in list(self.columns)[:excess]:
                del self.columns[key]
        return count

    def recombine(self, seconds: float) -> tuple[int, list[tuple[int, np.ndarray]]] | None:
        """The cheapest selection HiGHS finds within ``seconds``: (total in cost units, the chosen
        routes as (group, stops)), or None if it found no selection in time."""
        import time

        from scipy.optimize import Bounds, LinearConstraint, milp
        from scipy.sparse import csc_matrix

        started = time.monotonic()
        n_trips = len(self.penalty)
        keys = list(self.columns)
        n_cols = len(keys)
        if not n_cols or seconds <= 0:
            return None
        costs = np.empty(n_cols + n_trips)
        rows, cols = [], []
        groups = np.empty(n_cols, dtype=np.int64)
        for c, key in enumerate(keys):
            trips = np.frombuffer(key[1], dtype=np.int64)
            rows.append(trips)
            cols.append(np.full(len(trips), c))
            costs[c] = self.columns[key][0]
            groups[c] = key[0]
        costs[n_cols:] = self.penalty
        # a trip left out of every chosen route goes to its contract: one slack column per trip
        rows.append(np.arange(n_trips))
        cols.append(np.arange(n_cols, n_cols + n_trips))
        rows = np.concatenate(rows)
        cols = np.concatenate(cols)
        cover = csc_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_trips, n_cols + n_trips))
        fleet = csc_matrix((np.ones(n_cols), (groups, np.arange(n_cols))), shape=(self.n_groups, n_cols + n_trips))
        # in pounds-sized numbers: HiGHS's tolerances are relative, but its output is easier to read
        scale = 1.0 / max(1.0, float(np.median(costs[:n_cols])))
        result = milp(costs * scale, integrality=np.ones(n_cols + n_trips), bounds=Bounds(0, 1),
                      constraints=[LinearConstraint(cover, 1, 1), LinearConstraint(fleet, 0, self.group_size)],
                      options={"time_limit": max(0.05, seconds), "mip_rel_gap": 1e-9, "presolve": True})
        self.solves += 1
        self.seconds += time.monotonic() - started
        if result.x is None:
            return None
        chosen = np.flatnonzero(result.x[:n_cols] > 0.5)
        total = int(costs[chosen].sum() + self.penalty[result.x[n_cols:] > 0.5].sum())
        return total, [(int(groups[c]), self.columns[keys[c]][1]) for c in chosen]
