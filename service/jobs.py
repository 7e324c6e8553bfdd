"""What a solver worker does with a job: read its inputs from the database, plan, write the
results and progress back. Runs in a Dask worker process (local or on another machine), so
it takes only the job id and the database URL and shares nothing else with the service."""
from __future__ import annotations

import io
import json
import logging
import os
import tempfile
import threading
import time
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from optimiser.errors import ItuError, ProblemError, SolveCancelled

from .errors import relocated
from .store import FINAL_STATES, Fleet, Job, JobResult, Store, TripSet, utcnow

log = logging.getLogger(__name__)

#: What a job's owner reads when the job ended on a bug rather than on its inputs.
INTERNAL_ERROR_MESSAGE = ("the job stopped on an unexpected error in the service, not in its inputs; "
                          "it has been logged where it ran")

#: How often progress and the heartbeat reach the database while a job runs (seconds).
PROGRESS_INTERVAL_S = 1.0


@lru_cache(maxsize=4)
def _store(url: str) -> Store:  # one engine per worker process and database
    return Store(url)


def materialise_inputs(trip_set: TripSet, fleet: Fleet, folder: Path) -> tuple[Path, Path]:
    """The stored files, back on disk with their suffixes, for the geodata readers."""
    trips_path = folder / f"trips.{trip_set.file_format}"
    trips_path.write_bytes(trip_set.content)
    fleet_path = folder / f"fleet.{fleet.file_format}"
    fleet_path.write_bytes(fleet.content)
    return trips_path, fleet_path


def travel_config(options: dict, settings: dict) -> dict:
    """The travel provider a job asked for, completed from the server's own settings: clients
    choose ``crow-fly``, ``road`` or ``osrm`` but never name files or servers."""
    kind = options.get("travel", "crow-fly")
    if kind == "road":
        return {"provider": "road", "pbf": settings["ROADS_PBF"]}
    if kind == "osrm":
        return {"provider": "osrm", "url": settings["OSRM_URL"]}
    return {"provider": "crow-fly"}


#: The memory model behind ``estimated_memory_mb``, in bytes: the interpreter with the search
#: compiled; two float64 matrices (seconds, metres) over the places; the search's int64 tables
#: over its nodes (a pickup and a drop-off per trip, depots) for times and two cost rates; and
#: per vehicle its slots. It reproduces the 0.72 GB measured for a 2,000-trip day (BENCHMARKS.md).
MEMORY_BASE_BYTES = 250e6
MEMORY_BYTES_PER_PLACE_PAIR = 16
MEMORY_BYTES_PER_NODE_PAIR = 24
MEMORY_BYTES_PER_VEHICLE = 2048


def estimated_memory_mb(trips: int, places: int, vehicles: int) -> float:
    """About how much memory (MB) a solve of this size needs at its peak."""
    nodes = 2 * trips  # the depots are few beside them
    return (MEMORY_BASE_BYTES + MEMORY_BYTES_PER_PLACE_PAIR * places ** 2 + MEMORY_BYTES_PER_NODE_PAIR * nodes ** 2
            + MEMORY_BYTES_PER_VEHICLE * vehicles) / 1e6


def load_job_problem(trip_set: TripSet, fleet: Fleet, options: dict, settings: dict):
    """The job's problem, built and validated; a problem with the inputs is an ItuError listing
    every row and column, naming the job's inputs rather than the worker's temporary files."""
    from geodata.readers import load_problem

    with tempfile.TemporaryDirectory(prefix="itu-job-") as folder:
        trips_path, fleet_path = materialise_inputs(trip_set, fleet, Path(folder))
        try:
            return load_problem(trips_path, fleet_path, travel=travel_config(options, settings),
                                far_points=options.get("far_points", "warn"), name=trip_set.name)
        except ItuError as exc:
            raise relocated(exc, folder, "inputs") from None


class _JobControl:
    """Progress out, cancellation in: both through the job's row, at most once a second."""

    def __init__(self, store: Store, job_id: str, time_limit_s: float, run_started_at=None):
        self.store, self.job_id, self.time_limit_s = store, job_id, time_limit_s
        #: this run's token: the job's started_at as this run set it. When the job is handed back
        #: (its service stopped) or taken over (its lease expired), the row no longer matches and
        #: this run stops without writing anything more
        self.run_started_at = run_started_at
        self.handed_back = threading.Event()
        self.started = time.monotonic()
        self.last_write = 0.0
        self.progress: dict[str, Any] = {"time_limit_s": time_limit_s}
        #: (when the search started, its time limit), for a fraction that moves with the clock: a
        #: day searched in parts on the cluster reports its cost only when the parts are done
        self.searching: tuple[float, float] | None = None
        self._cancelled = threading.Event()
        self._lock = threading.Lock()

    def update(self, force: bool = False, **fields) -> None:
        with self._lock:
            self.progress.update(fields)
            now = time.monotonic()
            self.progress["elapsed_s"] = round(now - self.started, 1)
            if self.searching is not None:
                since, limit = self.searching
                by_clock = round(min(1.0, (now - since) / max(limit, 1e-9)), 3)
                self.progress["fraction"] = max(self.progress.get("fraction") or 0.0, by_clock)
            if now - self.last_write < PROGRESS_INTERVAL_S and not force:
                return
            self.last_write = now
            progress = dict(self.progress)
        with self.store.session() as s, s.begin():
            mine = self.owned(update(Job)).values(progress=progress, heartbeat_at=utcnow())
            if not s.execute(mine).rowcount:
                self.handed_back.set()
                self._cancelled.set()  # the solver stops at its next check
            elif s.scalar(select(Job.cancel_requested).where(Job.id == self.job_id)):
                self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        """Whether a cancel was seen while the job ran (without asking the database again)."""
        return self._cancelled.is_set()

    def owned(self, statement):
        """``statement`` limited to the job's row while this run still holds it."""
        statement = statement.where(Job.id == self.job_id, Job.state == "running")
        return statement if self.run_started_at is None else statement.where(Job.started_at == self.run_started_at)

    def is_set(self) -> bool:  # the solver's cancel token
        if not self._cancelled.is_set() and time.monotonic() - self.last_write >= PROGRESS_INTERVAL_S:
            self.update()
        return self._cancelled.is_set()


_solver_thread = threading.local()


def run_below_the_service(steps: int) -> None:
    """Give the calling thread (and the threads and processes it starts: the build, the search)
    a lower CPU priority than the service's, ``steps`` of niceness, once per thread. On Linux
    niceness and the scheduling class belong to the thread, so the Dask worker's own threads
    (heartbeats to its scheduler) keep theirs. When the service already runs so nice that
    ``steps`` more would pass the bottom of the range, the idle class keeps solves below it."""
    if steps <= 0 or getattr(_solver_thread, "lowered", False):
        return
    _solver_thread.lowered = True
    try:
        before = os.nice(0)
        os.nice(steps)
        if before + steps > 19 and hasattr(os, "sched_setscheduler"):
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except OSError:  # a platform or a sandbox that does not allow it: solves run as they are
        log.debug("could not lower the solver's priority", exc_info=True)


def run_job(job_id: str, database_url: str, settings: dict) -> str:
    """Run one job to a final state; returns that state. Safe to call again for the same job:
    a finished job is left alone, and each start counts as an attempt."""
    if _on_dask_worker():  # not a test's or a command's own thread
        run_below_the_service(int(settings.get("SOLVER_NICENESS", 0)))
    store = _store(database_url)
    with store.session() as s, s.begin():
        job = s.get(Job, job_id, with_for_update=True)
        if job is None or job.state in FINAL_STATES:
            return job.state if job else "missing"
        if job.dispatched_by is None:  # handed back (its service stopped) after this task was sent
            return HANDED_BACK
        if job.cancel_requested:
            _finish(job, "cancelled", error={"code": "cancelled", "message": "cancelled before it started"})
            return "cancelled"
        job.attempts += 1
        if job.attempts > settings["MAX_JOB_ATTEMPTS"]:
            _finish(job, "failed", error={
                "code": "worker_lost", "message": f"started {job.attempts - 1} times and never finished: the "
                "worker running it died each time (out of memory, killed, or the machine went away)"})
            return "failed"
        now = utcnow()
        job.state, job.started_at, job.heartbeat_at = "running", now, now
        trip_set, fleet = s.get(TripSet, job.trip_set_id), s.get(Fleet, job.fleet_id)
        kind, options = job.kind, dict(job.options)
    control = _JobControl(store, job_id, float(options.get("time_limit_s", 30)), run_started_at=now)
    try:
        loaded = _build(trip_set, fleet, options, settings, control)
        if kind == "solve":
            results, summary = _solve(loaded, options, control, settings)
        elif kind == "clock":
            results, summary = _clock(loaded, options, control)
        elif kind == "contracts":
            results, summary = _contracts(loaded, options, control)
        elif kind == "models":
            results, summary = _models(loaded, options, control)
        else:
            results, summary = _compare(loaded, options, control)
    except SolveCancelled as exc:
        return _end(control, "cancelled",
                    error={"code": "cancelled", "message": exc.message or "cancelled while running"})
    except ItuError as exc:
        return _end(control, "failed", error=exc.to_dict())
    except Exception:  # a bug must still end the job with a reason, not leave it running
        # Logged in full where it ran; the job's owner is told what happened, not the worker's
        # internals (an exception's text can carry server paths and library detail).
        log.exception("job %s failed on an unexpected error", job_id)
        return _end(control, "failed", error={"code": "internal_error", "message": INTERNAL_ERROR_MESSAGE})
    if control.handed_back.is_set():
        return HANDED_BACK
    with store.session() as s, s.begin():
        for name, (media_type, content) in results.items():
            s.merge(JobResult(job_id=job_id, name=name, media_type=media_type, content=content))
    if control.cancelled:  # cancelled mid-search: the best plan found so far is kept as its result
        summary["stopped_early"] = True
        return _end(control, "cancelled", summary=summary, progress=control.progress,
                    error={"code": "cancelled", "message": "cancelled while running; the best plan found so far "
                                                           "is kept"})
    return _end(control, "succeeded", summary=summary, progress={**control.progress, "fraction": 1.0})


def _finish(job: Job, state: str, **fields) -> None:
    job.state, job.finished_at = state, utcnow()
    for key, value in fields.items():
        setattr(job, key, value)


def _build(trip_set: TripSet, fleet: Fleet, options: dict, settings: dict, control: _JobControl):
    """The job's problem, built in a thread while this run keeps the heartbeat and watches for
    cancellation: building a big day (reading it, the travel matrix, a road network or an OSRM
    server) takes seconds to minutes and has no checks of its own. A cancel ends the job within
    about a second; the build runs on to its end in the background (bounded by the limits) and
    is dropped."""
    outcome: dict[str, Any] = {}

    def build() -> None:
        try:
            outcome["loaded"] = load_job_problem(trip_set, fleet, options, settings)
        except BaseException as exc:  # noqa: BLE001 - handed to the run, which reports it
            outcome["error"] = exc

    thread = threading.Thread(target=build, name=f"itu-build-{control.job_id}", daemon=True)
    thread.start()
    control.update(force=True, phase="building")
    while thread.is_alive():
        thread.join(PROGRESS_INTERVAL_S)
        if thread.is_alive() and control.is_set():
            raise SolveCancelled("cancelled while its problem was being built")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["loaded"]


#: What ``run_job`` returns for a run whose job was handed back or taken over while it ran.
HANDED_BACK = "handed-back"


def _end(control: _JobControl, state: str, **fields) -> str:
    """End the job in ``state`` if this run still holds it; a run whose job was handed back
    (its service stopped) or taken over leaves the row to the run that has it now."""
    with control.store.session() as s, s.begin():
        done = s.execute(control.owned(update(Job)).values(state=state, finished_at=utcnow(), **fields)).rowcount
    return state if done else HANDED_BACK


def plan_files(plan, loaded, prefix: str = "") -> dict[str, tuple[str, bytes]]:
    from geodata.export import plan_headline, plan_layers, plan_map, run_sheets_page
    from optimiser.domain.documents import ROUTE_COLUMNS, route_rows

    layers = plan_layers(plan, loaded.problem, loaded.locations, trip_text=loaded.trip_text,
                         place_names=loaded.place_names)
    features = []
    for layer in ("routes", "stops", "contracted"):
        frame = layers[layer].copy()
        if len(frame):
            frame["layer"] = layer
            features.extend(json.loads(frame.to_json(drop_id=True))["features"])
    csv_text = io.StringIO()
    import csv

    writer = csv.writer(csv_text)
    writer.writerow(ROUTE_COLUMNS)
    writer.writerows([spreadsheet_cell(cell) for cell in row] for row in route_rows(plan))
    page = plan_map(layers, title=f"{plan.problem_name}: plan", summary=plan_headline(plan))
    return {
        f"{prefix}plan.json": ("application/json", json.dumps(plan.to_dict()).encode()),
        f"{prefix}plan.geojson": ("application/geo+json",
                                  json.dumps({"type": "FeatureCollection", "features": features}).encode()),
        f"{prefix}routes.csv": ("text/csv", csv_text.getvalue().encode()),
        f"{prefix}map.html": ("text/html", page.encode()),
        f"{prefix}run-sheets.html": ("text/html", run_sheets_page(layers, title=plan.problem_name).encode()),
    }


#: What a spreadsheet reads as the start of a formula (or, for tab and carriage return, a cell
#: it may shift into one): a trip id or place name starting with one is written with a quote first.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value):
    """A CSV cell that a spreadsheet shows as text instead of running it (=HYPERLINK(...), =1+2):
    a text cell starting with a formula character gets a leading apostrophe, as Excel itself
    writes literal text. Numbers are left alone, so a negative number stays a number."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def chart_files(drawn: dict) -> dict[str, tuple[str, bytes]]:
    """Charts by name as result files ``chart-NAME.svg``, which the planner's page shows."""
    return {f"chart-{name.replace('_', '-')}.svg": ("image/svg+xml", chart.svg.encode())
            for name, chart in drawn.items()}


def plan_summary(plan) -> dict:
    return {"cost": round(plan.cost.total, 2), "vehicles": plan.vehicles_used, "km": round(plan.km, 1),
            "co2_kg": round(plan.co2_kg, 1), "served_by_fleet": len(plan.served_trip_ids),
            "contracted": len(plan.contracted), "unserved": len(plan.unserved),
            "construction_complete": plan.solver.construction_complete}


def _on_dask_worker() -> bool:
    """True inside a task on a Dask worker; False elsewhere (a test calling run_job directly)."""
    from distributed import get_worker

    try:
        get_worker()
        return True
    except ValueError:
        return False


def _solve(loaded, options: dict, control: _JobControl, settings: dict):
    from optimiser import SolveOptions, choose_strategy, solve

    regions = options.get("regions")
    solve_options = SolveOptions(time_limit_s=float(options.get("time_limit_s", settings["DEFAULT_SOLVE_SECONDS"])),
                                 seed=int(options.get("seed", 0)), workers=1,
                                 regions=None if regions is None else int(regions))
    # how the solver would plan the day with the cluster's slots to run parts side by side
    strategy = choose_strategy(loaded.problem, solve_options, slots=2)
    split = strategy.parts if strategy.split == "regions" else 1
    control.update(force=True, phase="solving", best_cost=None, fraction=0.0, **({"regions": split} if split > 1 else {}))
    control.searching = (time.monotonic(), solve_options.time_limit_s)

    def on_progress(p):
        control.update(best_cost=round(p.best_cost, 2),
                       fraction=round(min(1.0, p.elapsed_s / max(p.time_limit_s, 1e-9)), 3))

    from distributed import worker_client

    # the regions, or the two sides of a county-sized day on split shifts, go to the whole
    # cluster; this task steps aside meanwhile
    if strategy.split != "whole" and _on_dask_worker():
        with worker_client() as client:
            threads = max(1, sum(client.nthreads().values()))
            plan = solve(loaded.problem, replace(solve_options, part_workers=threads), on_progress=on_progress,
                         cancel=control, executor=client.get_executor(pure=False))
    else:
        plan = solve(loaded.problem, solve_options, on_progress=on_progress, cancel=control)
    from optimiser.reporting.report import plan_charts

    return {**plan_files(plan, loaded), **chart_files(plan_charts(plan))}, plan_summary(plan)


def _compare(loaded, options: dict, control: _JobControl):
    from optimiser.analysis.compare import CompareOptions, compare
    from optimiser.domain.documents import comparison_settings
    from optimiser.reporting.report import charts, html_report, markdown

    compare_options = CompareOptions(time_limit_s=float(options.get("time_limit_s", 20)),
                                     seeds=int(options.get("seeds", 3)), **comparison_settings(loaded.settings))
    control.update(force=True, phase="solving", solves_done=0, fraction=0.0)

    def on_progress(p) -> None:
        control.update(solves_done=p.done, solves_total=p.total, fraction=round(p.done / p.total, 3), force=True)

    from distributed import worker_client

    if _on_dask_worker():  # spread the solves over the whole cluster; this task steps aside while they run
        with worker_client() as client:
            result = compare(loaded.problem, compare_options, on_progress=on_progress,
                             executor=client.get_executor(pure=False), cancel=control)
    else:
        result = compare(loaded.problem, compare_options, on_progress=on_progress, cancel=control)
    drawn = charts(result)
    files = {
        "comparison.json": ("application/json", json.dumps(result.to_dict()).encode()),
        "report.html": ("text/html", html_report(result, drawn).encode()),
        # each chart on its own too, for the planner's page to show beside the plan
        **chart_files(drawn),
        "report.md": ("text/markdown", markdown(result).encode()),
        **plan_files(result.integrated_plan, loaded, prefix="integrated-"),
    }
    summary = {"separate_cost": round(result.separate.cost, 2), "integrated_cost": round(result.integrated.cost, 2),
               "saving": round(result.separate.cost - result.integrated.cost, 2),
               "saving_percent": round(100 * (result.separate.cost - result.integrated.cost)
                                       / result.separate.cost, 2) if result.separate.cost else None,
               "solves_cut_short": result.solves_cut_short}
    return files, summary


def models_options(options: dict, moves=()):
    """An operating-models job's settings as ``OperatingModelOptions`` (``ProblemError`` naming the
    field when one is out of range)."""
    from optimiser.analysis.operating_models import (MODEL_RATE_FIELDS, MODELS, CapitalPrices,
                                                     OperatingModelOptions)
    from optimiser.domain.operator_costs import OperatorCostModel

    rates = {k: float(options[k]) for k in MODEL_RATE_FIELDS if k in options}
    cost_model = OperatorCostModel(**{k: rates[k] for k in ("driver_per_hour", "assistant_per_hour",
                                                            "minimum_paid_hours", "overhead_share", "margin_share")
                                      if k in rates})
    prices = options.get("vehicle_prices") or {}
    for name, price in prices.items():
        if isinstance(price, bool) or not isinstance(price, (int, float)):
            raise ProblemError("a price in pounds", where=f"options.vehicle_prices.{name}")
    capital = CapitalPrices(by_type={k: float(v) for k, v in prices.items()} or None,
                            **{k: rates[k] for k in ("life_years", "interest_rate") if k in rates})
    for name in ("models", "school_services"):
        if not all(isinstance(v, str) for v in options.get(name, [])):
            raise ProblemError("a list of names", where=f"options.{name}")
    return OperatingModelOptions(
        seeds=int(options.get("seeds", 3)), time_limit_s=float(options.get("time_limit_s", 20)), cost_model=cost_model,
        capital=capital, school_days=int(options.get("school_days", 190)),
        other_days=int(options.get("other_days", 70)),
        school_services=tuple(options.get("school_services", ("school", "sen"))),
        models=tuple(options.get("models", MODELS)), clock_moves=tuple(moves),
        **{k: rates[k] for k in ("in_house_fleet_factor", "sensitivity_step") if k in rates})


def _models(loaded, options: dict, control: _JobControl):
    """The operating models on the job's day: every solve spread over the cluster as a comparison's
    are; a bad register or shift file fails the job listing every row and column at fault."""
    from optimiser.analysis.clock import shift_options_from_csv_text
    from optimiser.analysis.operating_models import compare_operating_models, fixed_moves
    from optimiser.domain.register import register_from_csv_text
    from optimiser.reporting.models_report import model_files

    register = register_from_csv_text(options["register_csv"], loaded.problem, complete=bool(options.get("complete")),
                                      source="body.register_csv")
    moves = ()
    if "shifts_csv" in options:
        shifts = shift_options_from_csv_text(options["shifts_csv"], loaded.problem, names=loaded.place_names,
                                             source="body.shifts_csv")
        moves = fixed_moves(shifts, "body.shifts_csv")
    model_options = models_options(options, moves)

    def on_progress(p) -> None:
        control.update(solves_done=p.done, solves_total=p.total, fraction=round(p.done / p.total, 3), force=True)

    from distributed import worker_client

    if _on_dask_worker():  # spread the solves over the whole cluster; this task steps aside while they run
        with worker_client() as client:
            result = compare_operating_models(loaded.problem, register, model_options, on_progress=on_progress,
                                              executor=client.get_executor(pure=False), cancel=control)
    else:
        result = compare_operating_models(loaded.problem, register, model_options, on_progress=on_progress,
                                          cancel=control)
    files = {name: (media_type, text.encode()) for name, (media_type, text) in model_files(result).items()}
    summary = {"preferred": result.preferred,
               **{f"{key}_a_year": round(m.year, 2) for key, m in result.models.items()}}
    return files, summary


def clock_shifts(options: dict, places, names: dict):
    """A clock job's shift options (``shifts``, a document, or ``shifts_csv``, a CSV's text) and
    limits (``most_moved``, ``earliest_bell``), checked against ``places`` (a problem, or a trip
    file's location ids); ``InputFormatError`` naming the field, row and column."""
    from optimiser.analysis.clock import (limits_from_document, shift_options_from_csv_text,
                                          shift_options_from_document)

    if "shifts_csv" in options:
        shifts = shift_options_from_csv_text(options["shifts_csv"], places, names=names, source="body.shifts_csv")
    else:
        shifts = shift_options_from_document(options["shifts"], places, names=names, source="body.shifts")
    if "most_moved" in options or "earliest_bell" in options:
        limits = limits_from_document({k: options[k] for k in ("most_moved", "earliest_bell") if k in options},
                                      where="body")
        shifts = replace(shifts, limits=limits)
    return shifts


def _clock(loaded, options: dict, control: _JobControl):
    from optimiser.analysis.clock import ClockOptions, advise_clock, apply_moves
    from optimiser.reporting.clock_report import html_report, markdown, moves_rows, saving_chart, vehicles_chart

    shifts = clock_shifts(options, loaded.problem, loaded.place_names)
    clock_options = ClockOptions(time_limit_s=float(options.get("time_limit_s", 20)), seeds=int(options.get("seeds", 3)),
                                 max_rounds=options.get("max_rounds"), screen_rounds=int(options.get("screen_rounds", 1000)),
                                 objective=options.get("objective", "cost"), workers=1,
                                 search_limit_s=options.get("search_limit_s"))
    control.update(force=True, phase="solving", solves_done=0, fraction=0.0)

    def on_progress(p) -> None:  # the total grows as the search goes: the fraction is of the solves known so far
        control.update(solves_done=p.done, solves_total=p.total, fraction=round(p.done / p.total, 3), force=True)

    from distributed import worker_client

    if _on_dask_worker():  # spread the solves over the whole cluster; this task steps aside while they run
        with worker_client() as client:
            advice = advise_clock(loaded.problem, shifts, clock_options, on_progress=on_progress,
                                  executor=client.get_executor(pure=False), cancel=control)
    else:
        advice = advise_clock(loaded.problem, shifts, clock_options, on_progress=on_progress, cancel=control)
    moves_csv = io.StringIO()
    import csv

    rows = moves_rows(advice)
    writer = csv.DictWriter(moves_csv, fieldnames=list(rows[0]) if rows else ["destination"])
    writer.writeheader()
    writer.writerows({k: spreadsheet_cell(v) for k, v in row.items()} for row in rows)
    moved = replace(loaded, problem=apply_moves(loaded.problem, advice.moves))
    files = {
        "clock.json": ("application/json", json.dumps(advice.to_dict()).encode()),
        "clock.html": ("text/html", html_report(advice).encode()),
        "clock.md": ("text/markdown", markdown(advice).encode()),
        "moves.csv": ("text/csv", moves_csv.getvalue().encode()),
        "vehicles.svg": ("image/svg+xml", vehicles_chart(advice).encode()),
        "saving.svg": ("image/svg+xml", saving_chart(advice).encode()),
        **plan_files(advice.recommended_plan, moved, prefix="recommended-"),
    }
    saving = advice.saving or {}
    summary = {"moves": [m["description"] for m in advice.to_dict()["moves"]], "saving": saving.get("median"),
               "saving_min": saving.get("min"), "saving_max": saving.get("max"), "saving_percent": saving.get("percent"),
               "vehicles_before": advice.before["vehicles"], "vehicles_after": advice.after["vehicles"]}
    return files, summary


def _contracts(loaded, options: dict, control: _JobControl):
    """The contract register (``register_csv``) read against the day and analysed: no solve, so
    the job is over in seconds. A bad register fails the job listing every row, contract and column."""
    from optimiser.analysis.contracts import RULE_NAMES, ContractAnalysisOptions, analyse_contracts
    from optimiser.domain.register import register_from_csv_text
    from optimiser.reporting.contracts_report import contract_files

    control.update(force=True, phase="analysing", fraction=0.0)
    register = register_from_csv_text(options["register_csv"], loaded.problem, complete=bool(options.get("complete")),
                                      source="body.register_csv")
    rules = ContractAnalysisOptions(**{k: options[k] for k in RULE_NAMES if k in options})
    analysis = analyse_contracts(loaded.problem, register, rules)
    # the CSVs keep a register's formulas as text already, as spreadsheet_cell does
    files = {name: (media_type, text.encode()) for name, (media_type, text) in
             contract_files(analysis, loaded.locations).items()}
    overall = analysis.overall
    summary = {k: overall[k] for k in ("contracts", "operators", "price_a_day", "chains", "chain_saving_a_day",
                                       "vehicles_saved_by_chains", "duplicates", "duplicate_saving_a_day")}
    return files, summary
