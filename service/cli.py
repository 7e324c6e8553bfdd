"""``itu``: the one command line of the project.

    itu solve PROBLEM.json | TRIPS FLEET [--roads PBF | --osrm URL] [--seconds S] [--out DIR]
    itu compare TRIPS [FLEET] [--roads PBF | --osrm URL] [--seconds S] [--seeds K] [--out DIR]
    itu scenario generate --trips N --seed S --out DIR [--pbf PBF]
    itu bench darp FILES... [--seconds S] [--workers W] [--json]
    itu bench day [--trips N] [--seconds S] [--seeds N...] [--against POUNDS] --out DIR

Errors the user can fix are printed as one line (what and where), exit code 2;
never a traceback.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from optimiser.errors import InputFormatError, ItuError

DEFAULT_BKS = Path(__file__).resolve().parent.parent.parent / "shared" / "benchmarks" / "darp" / "bks.csv"


class _ProgressBar:
    """A tqdm bar over the time limit, showing the best cost so far."""

    def __init__(self, seconds: float, label: str, enabled: bool):
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=round(seconds, 1), desc=label, unit="s", leave=False, file=sys.stderr,
                            bar_format="{desc} {bar} {n:.0f}/{total:.0f}s {postfix}")

    def __call__(self, progress) -> None:
        if self.bar is not None:
            self.bar.n = min(round(progress.elapsed_s, 1), self.bar.total)
            self.bar.set_postfix_str(f"best £{progress.best_cost:,.2f}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _solve_with_bar(problem, options, label: str, show: bool, part_executor=None):
    import threading
    import time

    from optimiser.solver import Progress, solve

    bar = _ProgressBar(options.time_limit_s, label, show)
    latest: list = [None]
    done = threading.Event()
    started = time.monotonic()

    def tick():  # move the bar with the clock, not only when the cost improves
        while not done.wait(0.5):
            best = latest[0]
            bar(Progress(time.monotonic() - started, best.best_cost if best else float("nan"),
                         options.time_limit_s))

    ticker = threading.Thread(target=tick, daemon=True)
    if show:
        ticker.start()

    def on_progress(p):
        latest[0] = p
        bar(p)

    try:
        return solve(problem, options, on_progress=on_progress, part_executor=part_executor)
    finally:
        done.set()
        bar.close()


GEODATA_SUFFIXES = (".csv", ".geojson", ".gpkg")


def _travel_config(args) -> dict:
    if getattr(args, "roads", None) and getattr(args, "osrm", None):
        raise ItuError("give --roads or --osrm, not both", where="travel")
    if getattr(args, "roads", None):
        return {"provider": "road", "pbf": args.roads}
    if getattr(args, "osrm", None):
        return {"provider": "osrm", "url": args.osrm}
    config = {"provider": "crow-fly"}
    if getattr(args, "area_type", None):
        config["area_type"] = args.area_type
    return config


def _load(args):
    """The problem and what exports need, from a problem document or from trip and fleet files.
    Returns (problem, settings, locations, extras) where extras feed the geodata exports."""
    import json as _json

    from optimiser.io import comparison_settings, read_trips_and_fleet

    trips_path = Path(args.trips)
    if trips_path.suffix.lower() in GEODATA_SUFFIXES:
        if not args.fleet:
            raise ItuError("a trip file needs a fleet file beside it (CSV or JSON)", where="fleet")
        from geodata.readers import load_problem
        from geodata.travel import travel_provider

        provider = travel_provider(_travel_config(args))
        loaded = load_problem(trips_path, args.fleet, travel=provider, tariffs_path=args.tariffs,
                              far_points=args.far_points, max_snap_m=args.max_snap_m)
        for warning in loaded.warnings:
            print(f"itu: warning: {warning}", file=sys.stderr)
        extras = {"trip_text": loaded.trip_text, "place_names": loaded.place_names,
                  "network": getattr(provider, "network", None), "snap_m": loaded.snap_m}
        return loaded.problem, comparison_settings(loaded.settings), loaded.locations, extras
    problem, settings = read_trips_and_fleet(trips_path, args.fleet)
    locations = {}
    try:  # a document with coordinates can be drawn on a map too
        doc = _json.loads(trips_path.read_text())
        locations = {str(k): (float(v[0]), float(v[1])) for k, v in (doc.get("locations") or {}).items()}
    except (ValueError, TypeError, AttributeError, IndexError):
        locations = {}
    return problem, settings, locations, {}


def _export(plan, problem, locations, extras, out: str) -> list[Path]:
    from optimiser.io import write_plan

    extras = {k: v for k, v in extras.items() if k != "snap_m"}
    written = list(write_plan(plan, out))
    needed = {s.location for r in plan.routes for s in r.stops} | {
        loc for c in plan.contracted for loc in (problem.trip(c.trip_id).pickup, problem.trip(c.trip_id).dropoff)}
    if locations and needed <= set(locations):
        from geodata.export import export_plan

        for files in export_plan(plan, problem, locations, out, **extras).values():
            written.extend(files)
    return written


def _write_search_chart(plan, out: str) -> list[Path]:
    """``search.svg``: the search's best cost against time, when it found more than one plan."""
    from optimiser.report import cost_curve_chart

    curve = plan.solver.get("best_cost_over_time") or []
    if len(curve) < 2:
        return []
    path = Path(out) / "search.svg"
    title = f"{plan.problem_name or 'plan'}: best cost found against time"
    path.write_text(cost_curve_chart(title, {"this solve": curve}))
    return [path]


def cmd_curves(args) -> int:
    """Draw the searches of several saved plans on one chart (e.g. runs of different lengths or seeds)."""
    from optimiser.report import cost_curve_chart

    curves = {}
    for k, name in enumerate(args.plans):
        path = Path(name)
        try:
            doc = json.loads(path.read_text())
            curve = [(float(t), float(c)) for t, c in doc["solver"]["best_cost_over_time"]]
        except OSError as exc:
            raise InputFormatError(f"cannot read: {exc.strerror}", where=str(path)) from None
        except (ValueError, KeyError, TypeError):
            raise InputFormatError("not a plan.json with solver.best_cost_over_time", where=str(path)) from None
        label = args.label[k] if args.label and k < len(args.label) else path.parent.name or path.stem
        while label in curves:  # two plans of one name are still two curves
            label += "'"
        curves[label] = curve
    if not any(curves.values()):
        raise InputFormatError("no plan has a point on its curve", where="plans")
    lines = {}
    for text in args.line or []:
        name, _, cost = text.rpartition("=")
        try:
            lines[name.strip() or "reference"] = float(cost.replace(",", "").lstrip("£"))
        except ValueError:
            raise InputFormatError(f"{text!r} is not NAME=POUNDS (e.g. \"2% target=14989\")", where="--line") from None
    Path(args.out).write_text(cost_curve_chart(args.title, curves, lines=lines))
    print(f"wrote {args.out}")
    return 0


def _report_snapping(extras: dict) -> None:
    snap_m = extras.get("snap_m") or {}
    if extras.get("network") is None or not snap_m:
        return
    distances = sorted(snap_m.values())
    worst = max(snap_m, key=snap_m.get)
    print(f"snapped {len(distances)} locations to the road network: median {statistics.median(distances):,.0f} m, "
          f"furthest {distances[-1]:,.0f} m ({worst})", file=sys.stderr)


#: ``itu solve --improvement`` as SolveOptions.
IMPROVEMENTS = {
    "ruin-and-recreate": {"ruin_and_recreate": True},
    "parts": {"ruin_and_recreate": False, "improve_by_parts": True},
    "or-tools": {"ruin_and_recreate": False, "improve_by_parts": False},
}


def cmd_solve(args) -> int:
    from dataclasses import replace

    from optimiser.regions import region_count
    from optimiser.solver import SolveOptions

    problem, _, locations, extras = _load(args)
    _report_snapping(extras)
    extras.pop("snap_m", None)
    options = SolveOptions(time_limit_s=args.seconds, seed=args.seed, workers=args.workers, regions=args.regions,
                           **IMPROVEMENTS[args.improvement])
    regions = region_count(len(problem.trips), args.regions)
    if regions > 1 and not args.quiet:
        print(f"planning {len(problem.trips)} trips as {regions} regions")
    client = cluster = None
    if args.dask_scheduler:
        import logging

        from distributed import Client, LocalCluster

        if args.dask_scheduler == "local":  # a cluster of this machine's cores, one worker process per --workers
            cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                   dashboard_address=":0", silence_logs=logging.ERROR)
            client = Client(cluster)
        else:
            client = Client(args.dask_scheduler)
        threads = sum(client.nthreads().values())
        if regions == 1:  # one region: the cluster searches parts of it
            options = replace(options, **IMPROVEMENTS["parts"])
        options = replace(options, part_workers=max(1, threads))
        print(f"planning {'regions' if regions > 1 else 'parts'} on {args.dask_scheduler}: "
              f"{len(client.nthreads())} workers, {threads} threads")
    try:
        plan = _solve_with_bar(problem, options, problem.name, sys.stderr.isatty() and not args.quiet,
                               part_executor=client.get_executor() if client else None)
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    print(plan.summary())
    if args.out:
        written = _export(plan, problem, locations, extras, args.out)
        written += _write_search_chart(plan, args.out)
        shown = [p for p in written if p.parent == Path(args.out)]
        for path in shown:
            print(f"wrote {path}")
        if len(written) > len(shown):
            print(f"wrote {len(written) - len(shown)} schedules and run sheets under {args.out}/")
    return 0


def cmd_scenario_generate(args) -> int:
    from geodata.scenario import area_from_osm, generate_scenario, synthetic_area, write_scenario
    from geodata.travel import travel_provider

    area = area_from_osm(args.pbf) if args.pbf else synthetic_area(args.area)
    if args.pbf and not args.roads and not args.osrm:
        args.roads = args.pbf  # windows and ride caps from the same roads the plan will use
    scenario = generate_scenario(area, trips=args.trips, seed=args.seed, travel=travel_provider(_travel_config(args)))
    for path in write_scenario(scenario, args.out):
        print(f"wrote {path}")
    counts = ", ".join(f"{n} {s}" for s, n in scenario.summary["by_service"].items())
    print(f"{scenario.name}: {len(scenario.trips)} trips ({counts}) in {area.name}; travel: {scenario.summary['travel']}")
    return 0


def cmd_bench_darp(args) -> int:
    from optimiser.darp import read_best_known, read_instance, routes_as_node_ids
    from optimiser.solver import SolveOptions

    bks = {}
    bks_path = Path(args.bks) if args.bks else DEFAULT_BKS
    if bks_path.exists():
        bks = read_best_known(bks_path)
    options = SolveOptions(time_limit_s=args.seconds, seed=args.seed, workers=args.workers)
    rows = []
    if not args.json:
        print(f"{'instance':14s} {'requests':>8s} {'served':>6s} {'feasible':>8s} {'cost':>10s} {'best known':>10s} "
              f"{'gap %':>7s} {'seconds':>7s}")
    for file in args.files:
        instance = read_instance(file)
        plan = _solve_with_bar(instance.problem, options, instance.name, sys.stderr.isatty() and not args.json)
        from optimiser.checker import check_plan

        feasible = check_plan(instance.problem, plan).feasible
        served = len(plan.served_trip_ids)
        cost = plan.cost.total
        best = bks.get(instance.name)
        gap = None if best is None or served < instance.requests else 100.0 * (cost - best) / best
        row = {"instance": instance.name, "seconds": plan.solver["seconds"], "time_limit_s": args.seconds,
               "cost": round(cost, 4), "feasible": feasible, "served": served, "requests": instance.requests,
               "best_known": best, "gap_percent": None if gap is None else round(gap, 4),
               "routes": routes_as_node_ids(instance, plan)}
        rows.append(row)
        if args.json:
            print(json.dumps(row), flush=True)
        else:
            print(f"{instance.name:14s} {instance.requests:8d} {served:6d} {str(feasible):>8s} {cost:10.2f} "
                  f"{'' if best is None else f'{best:10.2f}':>10s} {'' if gap is None else f'{gap:7.2f}':>7s} "
                  f"{plan.solver['seconds']:7.1f}", flush=True)
    gaps = [r["gap_percent"] for r in rows if r["gap_percent"] is not None]
    if gaps and not args.json:
        print(f"\n{len(rows)} instances, {sum(r['feasible'] for r in rows)} feasible, "
              f"{sum(r['served'] == r['requests'] for r in rows)} fully served; gap to best known: mean "
              f"{statistics.fmean(gaps):.2f}%, median {statistics.median(gaps):.2f}%, worst {max(gaps):.2f}%")
    return 0


def cmd_bench_day(args) -> int:
    """A generated day solved at several seeds, each in a process of its own as ``itu solve`` runs,
    one after another: each seed's cost, vehicles, contracts, wall time and largest process, then
    the median and mean, and with ``--against`` how far they are above that cost (issue 7's
    protocol: the median of five seeds, because runs of one seed differ by up to 0.8% here).

    The solves run the code this command was started from, whatever the working directory: Python
    puts the working directory first on its path for ``-m``, so a copy of the code benchmarked from
    the main checkout would otherwise quietly run the checkout's code."""
    import os
    import subprocess
    import time

    from optimiser.report import cost_curve_chart

    if args.seconds <= 0:
        raise InputFormatError("must be more than 0", where="--seconds")
    if args.against is not None and args.against <= 0:
        raise InputFormatError("must be a cost in pounds, more than 0", where="--against")
    if args.workers < 1:
        raise InputFormatError("must be at least 1", where="--workers")
    out = Path(args.out).resolve()
    day = out / "day"
    if not (day / "trips.csv").exists():
        cmd_scenario_generate(argparse.Namespace(trips=args.trips, seed=args.scenario_seed, out=str(day), pbf=None,
                                                 area="rutland", roads=None, osrm=None))
    code = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(code), os.environ.get("PYTHONPATH")]))}
    print(f"code: {code}; day: {day}; {args.seconds:g} s, {args.workers} workers, seeds "
          + " ".join(str(n) for n in args.seeds), flush=True)
    print(f"{'seed':>4s} {'cost':>10s} {'at 60 s':>10s} {'vehicles':>8s} {'contracted':>10s} {'unserved':>8s} "
          f"{'wall s':>7s} {'largest GB':>10s}", flush=True)
    rows, curves = [], {}
    bar, done_s = None, 0.0
    if sys.stderr.isatty():  # one bar over every seed's time limit
        from tqdm import tqdm

        bar = tqdm(total=args.seconds * len(args.seeds), unit="s", leave=False, file=sys.stderr,
                   bar_format="{desc} {bar} {n:.0f}/{total:.0f}s")
    for seed in args.seeds:
        folder = out / f"seed-{seed}"
        command = [sys.executable, "-m", "service.cli", "solve", str(day / "trips.csv"), str(day / "fleet.json"),
                   "--seconds", f"{args.seconds:g}", "--workers", str(args.workers), "--seed", str(seed), "--quiet",
                   "--out", str(folder)]
        started = time.monotonic()
        with open(out / f"seed-{seed}.log", "w") as log:
            child = subprocess.Popen(command, cwd=code, env=env, stdout=log, stderr=subprocess.STDOUT)
            while True:
                # the child's rusage: its own largest size, or its largest waited-for worker's (as
                # /usr/bin/time reports it)
                pid, status, usage = os.wait4(child.pid, os.WNOHANG)
                if pid:
                    break
                if bar is not None:
                    bar.n = min(bar.total, round(done_s + time.monotonic() - started, 1))
                    bar.set_description_str(f"seed {seed}")
                    bar.refresh()
                time.sleep(0.5)
        wall = time.monotonic() - started
        done_s += args.seconds
        if os.waitstatus_to_exitcode(status) != 0:
            if bar is not None:
                bar.close()
            raise ItuError(f"the solve of seed {seed} failed: see {out / f'seed-{seed}.log'}")
        plan = json.loads((folder / "plan.json").read_text())
        curve = [(float(t), float(c)) for t, c in plan["solver"].get("best_cost_over_time") or []]
        at_60 = [c for t, c in curve if t <= 60.0]
        vehicles = len({(r["vehicle_type"], r["vehicle_number"]) for r in plan["routes"]})
        row = {"seed": seed, "cost": round(plan["cost"]["total"], 2), "at_60_s": at_60[-1] if at_60 else None,
               "vehicles": vehicles, "contracted": len(plan["contracted"]), "unserved": len(plan["unserved"]),
               "wall_s": round(wall, 1), "largest_process_gb": round(usage.ru_maxrss / 1024 ** 2, 2)}
        rows.append(row)
        curves[f"seed {seed}"] = curve
        shown_60 = "" if row["at_60_s"] is None else f"{row['at_60_s']:.2f}"
        print(f"{seed:4d} {row['cost']:10.2f} {shown_60:>10s} "
              f"{vehicles:8d} {row['contracted']:10d} {row['unserved']:8d} {row['wall_s']:7.1f} "
              f"{row['largest_process_gb']:10.2f}", flush=True)
    if bar is not None:
        bar.close()
    costs = [r["cost"] for r in rows]
    summary = {"code": str(code), "trips": args.trips, "scenario_seed": args.scenario_seed, "seconds": args.seconds,
               "workers": args.workers, "runs": rows, "median": round(statistics.median(costs), 2),
               "mean": round(statistics.fmean(costs), 2)}
    line = f"median £{summary['median']:,.2f}, mean £{summary['mean']:,.2f} of {len(costs)} seeds"
    lines = {}
    if args.against is not None:
        summary["against"] = args.against
        summary["median_above_percent"] = round(100.0 * (summary["median"] / args.against - 1), 2)
        summary["mean_above_percent"] = round(100.0 * (summary["mean"] / args.against - 1), 2)
        line += (f"; above £{args.against:,.2f}: median {summary['median_above_percent']:.2f}%, "
                 f"mean {summary['mean_above_percent']:.2f}%")
        lines = {f"£{args.against:,.2f}": args.against}
    print(line)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if any(len(c) >= 2 for c in curves.values()):
        title = f"{args.trips} trips, {args.seconds:g} s: best cost found against time"
        (out / "curves.svg").write_text(cost_curve_chart(title, curves, lines=lines))
    print(f"wrote {out / 'summary.json'}")
    return 0


def cmd_bench_roads(args) -> int:
    """Road network build and many-to-many matrix times on an extract: medians of repeats."""
    import tempfile
    import time

    import numpy as np

    from geodata.roads import build_road_network

    builds, loads, matrices = [], [], {}
    network = None
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as cache:  # a cold build every time
            started = time.perf_counter()
            network = build_road_network(args.pbf, cache_dir=cache)
            builds.append(time.perf_counter() - started)
            started = time.perf_counter()
            build_road_network(args.pbf, cache_dir=cache)
            loads.append(time.perf_counter() - started)
    rng = np.random.default_rng(args.seed)
    picked = rng.choice(network.node_count, args.points, replace=args.points > network.node_count)
    # points near real roads, as homes and schools are: a road node moved by up to about 100 m
    points = {f"p{i}": (float(network.latitude[n] + rng.normal(0, 0.0005)),
                        float(network.longitude[n] + rng.normal(0, 0.0008))) for i, n in enumerate(picked)}
    for workers in sorted({1, args.workers}):
        times = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            snapped = network.snap(points)
            network.node_matrix([s.node for s in snapped], workers=workers)
            times.append(time.perf_counter() - started)
        matrices[workers] = times
    # the reference the issue quotes: one plain Dijkstra per point over the whole graph
    import scipy.sparse as sp
    from scipy.sparse.csgraph import dijkstra

    whole = sp.csr_matrix((network.arc_time_s, (network.arc_tail, network.arc_head)),
                          shape=(network.node_count, network.node_count))
    plain = []
    for _ in range(min(3, args.repeats)):
        started = time.perf_counter()
        nodes = [s.node for s in network.snap(points)]
        dijkstra(whole, indices=nodes)[:, nodes]
        plain.append(time.perf_counter() - started)
    median = statistics.median
    print(f"{Path(args.pbf).name}: {network.node_count:,} nodes, {network.arc_count:,} arcs in the largest strongly "
          f"connected component")
    print(f"build from the extract (cold cache): median {median(builds):.2f} s over {len(builds)} "
          f"(min {min(builds):.2f}, max {max(builds):.2f})")
    print(f"load from the cache: median {median(loads) * 1000:.0f} ms")
    print(f"reference, plain Dijkstra per point over the whole graph, times only: median {median(plain):.2f} s")
    for workers, times in matrices.items():
        print(f"{args.points:,} x {args.points:,} times and distances, snapping included, {workers} worker(s): "
              f"median {median(times):.2f} s (min {min(times):.2f}, max {max(times):.2f}); "
              f"{median(plain) / median(times):.1f}x faster than the reference")
    return 0


def cmd_bench_service(args) -> int:
    """Many clients at once against a real service process: submit small solve jobs, poll them to
    the end, and time every request."""
    import json as _json
    import socket
    import subprocess
    import tempfile
    import threading
    import time
    import urllib.request
    import uuid

    from geodata.scenario import generate_scenario, synthetic_area, write_scenario

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    folder = Path(tempfile.mkdtemp(prefix="itu-bench-"))
    # every client submits as the one development owner: the per-key pace limits would measure themselves
    env = {**__import__("os").environ, "ITU_DATABASE_URL": args.database or f"sqlite:///{folder / 'bench.sqlite3'}",
           "ITU_SEED_EXAMPLE": "false", "ITU_MAX_SUBMISSIONS_PER_MINUTE": str(10**6),
           "ITU_MAX_QUEUED_JOBS_PER_KEY": str(10**6), "ITU_MAX_RUNNING_JOBS_PER_KEY": str(10**6)}
    server = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--dev", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def call(method, path, body=None, headers=None):
        request = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=120) as response:
            data = _json.loads(response.read())
        return data, time.perf_counter() - started

    try:
        for _ in range(600):
            try:
                call("GET", "/v1/health")
                break
            except OSError:
                time.sleep(0.1)
        write_scenario(generate_scenario(synthetic_area(), trips=args.trips, seed=3), folder)
        trip_set, _ = call("POST", "/v1/trip-sets?name=bench", (folder / "trips.csv").read_bytes(),
                           {"Content-Type": "text/csv"})
        fleet, _ = call("POST", "/v1/fleets?name=bench", (folder / "fleet.json").read_bytes(),
                        {"Content-Type": "application/json"})
        submit_s, status_s, final, errors = [], [], {}, []
        lock = threading.Lock()

        def client(n: int) -> None:
            try:
                for k in range(args.jobs_per_client):
                    body = _json.dumps({"trip_set_id": trip_set["id"], "fleet_id": fleet["id"],
                                        "time_limit_s": args.seconds, "seed": n}).encode()
                    job, took = call("POST", "/v1/solve-jobs", body, {"Content-Type": "application/json",
                                                                      "Idempotency-Key": uuid.uuid4().hex})
                    with lock:
                        submit_s.append(took)
                    while True:
                        time.sleep(args.poll_s)
                        job, took = call("GET", job["url"])
                        with lock:
                            status_s.append(took)
                        if job["state"] in ("succeeded", "failed", "cancelled"):
                            with lock:
                                final[job["id"]] = job["state"]
                            break
            except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
                with lock:
                    errors.append(f"client {n}: {exc}")

        started = time.perf_counter()
        threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
        listing, _ = call("GET", "/v1/jobs?limit=200")
        stored = {j["id"]: j["state"] for j in listing["items"]}
    finally:
        server.terminate()
        server.wait(timeout=60)

    def quantiles(values):
        ordered = sorted(values)
        return statistics.median(ordered) * 1000, ordered[max(0, int(round(0.95 * len(ordered))) - 1)] * 1000

    submitted = args.clients * args.jobs_per_client
    lost = submitted - len(final) - len(errors)
    print(f"{args.clients} clients x {args.jobs_per_client} solve jobs of {args.trips} trips, {args.seconds} s each, "
          f"polling every {args.poll_s} s; wall time {wall:.1f} s")
    if submit_s:
        median, p95 = quantiles(submit_s)
        print(f"submit: {len(submit_s)} requests, median {median:.0f} ms, 95th percentile {p95:.0f} ms")
    if status_s:
        median, p95 = quantiles(status_s)
        print(f"status: {len(status_s)} requests, median {median:.0f} ms, 95th percentile {p95:.0f} ms")
    states = statistics.multimode(final.values()) if final else []
    print(f"jobs: {submitted} submitted, {sum(1 for s in final.values() if s == 'succeeded')} succeeded, "
          f"{sum(1 for s in final.values() if s != 'succeeded')} ended otherwise, {lost} lost; "
          f"{len(stored)} in the store ({', '.join(states)})")
    for error in errors[:5]:
        print(f"error: {error}")
    return 0 if not errors and lost == 0 else 1


def cmd_compare(args) -> int:
    from optimiser.compare import CompareOptions, compare
    from optimiser.report import markdown, write_comparison

    problem, settings, locations, extras = _load(args)
    options = CompareOptions(time_limit_s=args.seconds, seeds=args.seeds, parallel=args.parallel, **settings)
    bar = None
    if sys.stderr.isatty() and not args.quiet:
        from tqdm import tqdm

        bar = tqdm(desc="solves", unit="solve", file=sys.stderr, leave=False)

    def on_progress(done: int, total: int) -> None:
        if bar is not None:
            bar.total = total
            bar.n = done
            bar.refresh()

    try:
        result = compare(problem, options, on_progress=on_progress)
    finally:
        if bar is not None:
            bar.close()
    print(markdown(result))
    if args.out:
        for path in write_comparison(result, args.out):
            print(f"wrote {path}")
        integrated = Path(args.out) / "integrated"
        written = _export(result.integrated_plan, problem, locations, extras, str(integrated))
        if any(p.name == "map.html" for p in written):
            print(f"wrote the integrated plan's map, layers, schedules and run sheets under {integrated}/")
    return 0


def cmd_serve(args) -> int:
    from service.server import ServerOptions, serve

    return serve(ServerOptions(host=args.host, port=args.port, dev=args.dev, debug=args.debug,
                               workers=args.workers, threads=args.threads))


def _key_store():
    from service import create_app

    app = create_app({"RUNNER": False, "SEED_EXAMPLE": False})
    return app.extensions["itu.store"]


def cmd_keys(args) -> int:
    store = _key_store()
    if args.action == "create":
        record, key = store.create_key(args.name)
        print(f"created {record.id} ({record.name})")
        print(f"key: {key}")
        print("Keep it safe: only its hash is stored, it cannot be shown again.", file=sys.stderr)
    elif args.action == "list":
        for record in store.list_keys():
            state = f"revoked {record.revoked_at:%Y-%m-%d %H:%M}" if record.revoked_at else "active"
            print(f"{record.id}  {record.name:30s}  created {record.created_at:%Y-%m-%d %H:%M}  {state}")
    else:
        if not store.revoke_key(args.key_id):
            raise ItuError("no active key with that id", where=args.key_id)
        print(f"revoked {args.key_id}")
    return 0


def _add_travel_arguments(parser: argparse.ArgumentParser) -> None:
    travel = parser.add_argument_group("travel times (trip files only; crow-fly unless told)")
    travel.add_argument("--roads", metavar="PBF", help="OpenStreetMap extract (.osm.pbf): times over its roads")
    travel.add_argument("--osrm", metavar="URL", help="OSRM server, e.g. http://localhost:5000")
    travel.add_argument("--area-type", choices=("mixed", "urban", "suburban", "rural"),
                        help="crow-fly speeds (default mixed)")
    travel.add_argument("--tariffs", help="contract tariffs CSV, added to the fleet file's")
    travel.add_argument("--far-points", choices=("error", "warn"), default="error",
                        help="a location far from any road is an error (default) or a warning")
    travel.add_argument("--max-snap-m", type=float, default=1000.0,
                        help="how far from a road a location may be, in metres (default 1000)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="itu", description="Integrated transport route optimiser")
    sub = parser.add_subparsers(dest="command", required=True)

    solve = sub.add_parser("solve", help="plan trips: a problem document, or trip and fleet files")
    solve.add_argument("trips", help="problem document (JSON, docs/problem-format.md) or a trip file (CSV, GeoJSON, "
                                     "GeoPackage; docs/geodata-formats.md)")
    solve.add_argument("fleet", nargs="?", help="fleet file (CSV or JSON) for a trip file")
    _add_travel_arguments(solve)
    solve.add_argument("--seconds", type=float, default=30.0, help="time limit (default 30)")
    solve.add_argument("--seed", type=int, default=0)
    solve.add_argument("--workers", type=int, default=1,
                       help="cores to use: parallel searches, the best wins; with --improvement parts, parts of one "
                            "plan searched at once (default 1)")
    solve.add_argument("--improvement", choices=sorted(IMPROVEMENTS), default="ruin-and-recreate",
                       help="how the first routes are improved: our own ruin and recreate (default), OR-Tools "
                            "re-solving parts of a few routes at a time, or OR-Tools' local search on the whole day")
    solve.add_argument("--regions", type=int, metavar="N",
                       help="plan the day as N regions side by side (default: by size, one region per 2,000 trips "
                            "from 4,000 trips, and from 1,000 trips on split shifts with --workers 2 or more, the duties "
                            "before and after the midday break side by side; 1 never splits)")
    solve.add_argument("--dask-scheduler", metavar="ADDRESS",
                       help="plan the regions on this Dask cluster (e.g. tcp://host:8786, or 'local' for a cluster "
                            "of --workers processes on this machine); a day in one region has its parts searched "
                            "there instead (implies --improvement parts)")
    solve.add_argument("--out", help="folder for the plan (JSON, CSV), map, GeoJSON/GeoPackage layers, schedules "
                                     "and run sheets")
    solve.add_argument("--quiet", action="store_true", help="no progress bar")
    solve.set_defaults(func=cmd_solve)

    curves = sub.add_parser("curves", help="chart the best cost against time of saved plans' searches (SVG)")
    curves.add_argument("plans", nargs="+", help="plan.json files written by itu solve --out")
    curves.add_argument("--label", action="append", help="a name for each plan in turn (default: its folder's name)")
    curves.add_argument("--title", default="Best cost found against time", help="the chart's title")
    curves.add_argument("--line", action="append", metavar="NAME=POUNDS",
                        help="a cost to compare against, drawn dashed across the chart (a target, another run's best)")
    curves.add_argument("--out", required=True, help="the SVG file to write")
    curves.set_defaults(func=cmd_curves)

    comp = sub.add_parser("compare", help="separate contracts against integrated planning, and the cost split")
    comp.add_argument("trips", help="trips document (JSON; may hold the fleet too) or a trip file (CSV, GeoJSON, "
                                    "GeoPackage)")
    comp.add_argument("fleet", nargs="?", help="fleet document: vehicle_types, tariffs, fleet_by_service, "
                                               "today_trip_prices, today_route_prices")
    _add_travel_arguments(comp)
    comp.add_argument("--seconds", type=float, default=20.0, help="time limit of each solve (default 20)")
    comp.add_argument("--seeds", type=int, default=3, help="solves per plan, for the spread (default 3)")
    comp.add_argument("--parallel", type=int, default=0, help="solves at once (default: one per core)")
    comp.add_argument("--out", help="folder for comparison.json, report.md, report.html and route CSVs")
    comp.add_argument("--quiet", action="store_true")
    comp.set_defaults(func=cmd_compare)

    scenario = sub.add_parser("scenario", help="generate realistic days of trips")
    scenario_sub = scenario.add_subparsers(dest="action", required=True)
    gen = scenario_sub.add_parser("generate", help="a seeded day of school, SEN, day-centre and patient trips")
    gen.add_argument("--trips", type=int, default=200, help="about how many trips (default 200)")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--out", required=True, help="folder for trips.csv, fleet.json and scenario.json")
    gen.add_argument("--pbf", help="OpenStreetMap extract: its real schools, hospitals and day centres, homes "
                                   "along its residential roads, times over its roads")
    gen.add_argument("--area", default="rutland", help="built-in synthetic area when no --pbf (default rutland)")
    gen.add_argument("--roads", help=argparse.SUPPRESS)
    gen.add_argument("--osrm", help="OSRM server for the direct journey times")
    gen.set_defaults(func=cmd_scenario_generate)

    serve = sub.add_parser("serve", help="the HTTP API and the planner's web page")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--dev", action="store_true", help="development mode: no API keys (loopback only)")
    serve.add_argument("--debug", action="store_true", help="Werkzeug's development server instead of gunicorn")
    serve.add_argument("--workers", type=int, default=1, help="gunicorn worker processes (default 1; more need "
                                                             "ITU_DASK_SCHEDULER)")
    serve.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker (default 8)")
    serve.set_defaults(func=cmd_serve)

    keys = sub.add_parser("keys", help="API keys: create, list, revoke")
    keys_sub = keys.add_subparsers(dest="action", required=True)
    create = keys_sub.add_parser("create", help="a new key; shown once")
    create.add_argument("name", help="who or what the key is for")
    keys_sub.add_parser("list", help="every key, active or revoked")
    revoke = keys_sub.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    keys.set_defaults(func=cmd_keys)

    bench = sub.add_parser("bench", help="benchmarks")
    bench_sub = bench.add_subparsers(dest="suite", required=True)
    darp = bench_sub.add_parser("darp", help="standard dial-a-ride instances against their best-known costs")
    darp.add_argument("files", nargs="+")
    darp.add_argument("--seconds", type=float, default=10.0)
    darp.add_argument("--seed", type=int, default=0)
    darp.add_argument("--workers", type=int, default=2, help="parallel searches per instance (default 2)")
    darp.add_argument("--json", action="store_true", help="one JSON object per instance")
    darp.add_argument("--bks", help=f"best-known values CSV (default {DEFAULT_BKS})")
    darp.set_defaults(func=cmd_bench_darp)
    service_bench = bench_sub.add_parser("service", help="concurrent clients against a real service process")
    service_bench.add_argument("--clients", type=int, default=50)
    service_bench.add_argument("--jobs-per-client", type=int, default=1)
    service_bench.add_argument("--trips", type=int, default=20, help="trips per job (default 20)")
    service_bench.add_argument("--seconds", type=float, default=1.0, help="time limit per job (default 1)")
    service_bench.add_argument("--poll-s", type=float, default=0.5)
    service_bench.add_argument("--database", help="SQLAlchemy URL (default: a fresh SQLite file)")
    service_bench.set_defaults(func=cmd_bench_service)
    bench_day = bench_sub.add_parser("day", help="a generated day solved at several seeds: median, mean, gap")
    bench_day.add_argument("--trips", type=int, default=2000, help="trips in the generated day (default 2000)")
    bench_day.add_argument("--scenario-seed", type=int, default=1, help="the generator's seed (default 1)")
    bench_day.add_argument("--seconds", type=float, default=300.0, help="time limit per solve (default 300)")
    bench_day.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4],
                           help="the solver's seeds, one solve each (default 0 1 2 3 4)")
    bench_day.add_argument("--workers", type=int, default=2)
    bench_day.add_argument("--against", type=float, help="a cost to compare with, in pounds (e.g. the best "
                                                         "thirty-minute plan on record)")
    bench_day.add_argument("--out", required=True, help="folder for the day, each seed's plan and the summary")
    bench_day.set_defaults(func=cmd_bench_day)
    roads = bench_sub.add_parser("roads", help="road network build and travel matrix times on an extract")
    roads.add_argument("pbf", help="OpenStreetMap extract (.osm.pbf)")
    roads.add_argument("--points", type=int, default=2000, help="matrix size (default 2000)")
    roads.add_argument("--repeats", type=int, default=5)
    roads.add_argument("--workers", type=int, default=2, help="processes for the matrix (default 2)")
    roads.add_argument("--seed", type=int, default=0)
    roads.set_defaults(func=cmd_bench_roads)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ItuError as exc:
        print(f"itu: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("itu: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
