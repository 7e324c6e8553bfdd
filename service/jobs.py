"""What a solver worker does with a job: read its inputs from the database, plan, write the
results and progress back. Runs in a Dask worker process (local or on another machine), so
it takes only the job id and the database URL and shares nothing else with the service."""
from __future__ import annotations

import csv
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
from types import SimpleNamespace
from typing import Any

from sqlalchemy import delete, insert, select, update

from optimiser.errors import InputFormatError, ItuError, ProblemError, SolveCancelled

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


def load_job_week(trip_set: TripSet, fleet: Fleet, options: dict, settings: dict):
    """A week job's days (``geodata.week.load_week``), each built and validated as a day is; a
    problem with the inputs is an ItuError listing every day's rows and columns."""
    from geodata.week import load_week

    with tempfile.TemporaryDirectory(prefix="itu-job-") as folder:
        trips_path, fleet_path = materialise_inputs(trip_set, fleet, Path(folder))
        try:
            return load_week(trips_path, fleet_path, travel=travel_config(options, settings),
                             far_points=options.get("far_points", "warn"))
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
        # the inputs read before the job changes: on SQLite the write lock is then held for the
        # update and the commit, not while the files are read
        trip_set, fleet = s.get(TripSet, job.trip_set_id), s.get(Fleet, job.fleet_id)
        job.attempts += 1
        if job.attempts > settings["MAX_JOB_ATTEMPTS"]:
            _finish(job, "failed", error={
                "code": "worker_lost", "message": f"started {job.attempts - 1} times and never finished: the "
                "worker running it died each time (out of memory, killed, or the machine went away)"})
            return "failed"
        now = utcnow()
        job.state, job.started_at, job.heartbeat_at = "running", now, now
        kind, options = job.kind, dict(job.options)
    control = _JobControl(store, job_id, float(options.get("time_limit_s", 30)), run_started_at=now)
    try:
        if kind == "replan":  # its day is the published one with the added trips: built its own way
            results, summary = _replan(store, trip_set, fleet, options, control, settings)
        else:
            loaded = _build(trip_set, fleet, options, settings, control,
                            load=load_job_week if kind == "week" else load_job_problem)
            if kind == "solve":
                results, summary = _solve(loaded, options, control, settings)
            elif kind == "clock":
                results, summary = _clock(loaded, options, control)
            elif kind == "contracts":
                results, summary = _contracts(loaded, options, control)
            elif kind == "lots":
                results, summary = _lots(loaded, options, control)
            elif kind == "week":
                results, summary = _week(loaded, options, control, settings)
            elif kind == "models":
                results, summary = _models(loaded, options, control)
            else:
                results, summary = _compare(loaded, options, control)
            summary = {**summary, **input_warnings(loaded)}
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
        # one delete and one insert of every file (a run started again replaces what an earlier
        # run wrote): on SQLite the write lock is held for two statements, by a thread running at
        # the solvers' lower priority, rather than across a read and a write of each file
        s.execute(delete(JobResult).where(JobResult.job_id == job_id))
        if results:
            s.execute(insert(JobResult), [{"job_id": job_id, "name": name, "media_type": media_type,
                                           "content": content} for name, (media_type, content) in results.items()])
    if control.cancelled:  # cancelled mid-search: the best plan found so far is kept as its result
        summary["stopped_early"] = True
        return _end(control, "cancelled", summary=summary, progress=control.progress,
                    error={"code": "cancelled", "message": "cancelled while running; the best plan found so far "
                                                           "is kept"})
    return _end(control, "succeeded", summary=summary, progress={**control.progress, "fraction": 1.0})


#: Warnings a job's summary lists at most (a day's places far from a road can be thousands).
MOST_WARNINGS = 20


def input_warnings(loaded) -> dict:
    """What the job's files said that is worth knowing but not an error, as ``itu solve`` prints
    it (a week's file planned as one day, a place far from a road, a column not used), for its
    summary: ``{"warnings": [...]}``, or nothing when there are none."""
    if hasattr(loaded, "days_of_trip"):  # a week: each day's, once
        warnings = list(dict.fromkeys(w for day in loaded.days for w in loaded.day[day].warnings))
        if tuple(loaded.days) == ("day",):
            warnings.insert(0, "the trip set's rows do not say their days (no days column): the week is "
                               "one day, 'day'")
    else:
        warnings = list(getattr(loaded, "warnings", []))
    if len(warnings) > MOST_WARNINGS:
        warnings = warnings[:MOST_WARNINGS] + [f"and {len(warnings) - MOST_WARNINGS:,} more"]
    return {"warnings": warnings} if warnings else {}


def _finish(job: Job, state: str, **fields) -> None:
    job.state, job.finished_at = state, utcnow()
    for key, value in fields.items():
        setattr(job, key, value)


def _build(trip_set: TripSet, fleet: Fleet, options: dict, settings: dict, control: _JobControl,
           load=load_job_problem):
    """The job's problem, built in a thread while this run keeps the heartbeat and watches for
    cancellation: building a big day (reading it, the travel matrix, a road network or an OSRM
    server) takes seconds to minutes and has no checks of its own. A cancel ends the job within
    about a second; the build runs on to its end in the background (bounded by the limits) and
    is dropped."""
    outcome: dict[str, Any] = {}

    def build() -> None:
        try:
            outcome["loaded"] = load(trip_set, fleet, options, settings)
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
        other_days=int(options.get("other_days", 63)),
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


#: Media types of the tender pack's files, by suffix.
PACK_MEDIA_TYPES = {".json": "application/json", ".csv": "text/csv", ".md": "text/markdown", ".html": "text/html",
                    ".gpkg": "application/geopackage+sqlite3"}


def _lots(loaded, options: dict, control: _JobControl):
    """A stored plan (``plan_job_id``'s ``plan_result``) put in tender lots: no solve, so the job
    is over in seconds. The pack's files are its results, the GeoPackage included."""
    from geodata.tender import write_tender_pack
    from optimiser.analysis.tender_lots import (COST_FIELDS, LOT_FIELDS, lot_options_from_fields, make_lots,
                                                plan_to_put_in_lots)
    from optimiser.errors import InputFormatError

    control.update(force=True, phase="making lots", fraction=0.0)
    with control.store.session() as s:
        stored = s.get(JobResult, (options["plan_job_id"], options.get("plan_result", "plan.json")))
        content = None if stored is None else stored.content
    if content is None:
        raise InputFormatError("the plan's job has no such result any more", where="body.plan_job_id")
    document = json.loads(content)
    problem = loaded.problem
    if isinstance(document, dict) and isinstance(document.get("problem"), str):
        problem = replace(problem, name=document["problem"])
    plan = plan_to_put_in_lots(document, problem, where="body.plan_job_id")
    try:
        lots = make_lots(problem, plan, lot_options_from_fields({k: options[k] for k in LOT_FIELDS + COST_FIELDS
                                                                 if k in options}))
    except ProblemError as exc:  # more lots than the plan has vehicles, ...: named as the body names them
        raise ProblemError(exc.message, where=exc.where.replace("lot_options.", "body.", 1)) from None
    with tempfile.TemporaryDirectory(prefix="itu-lots-") as folder:
        written = write_tender_pack(lots, plan, problem, folder, locations=loaded.locations,
                                    place_names=loaded.place_names)
        files = {p.name: (PACK_MEDIA_TYPES[p.suffix], p.read_bytes()) for p in written}
    overall = lots.to_dict()["overall"]
    summary = {k: overall[k] for k in ("lots", "vehicles", "drivers", "assistants", "smallest_lot", "largest_lot",
                                       "price_a_day", "price_a_year")}
    return files, summary


# -- re-planning a published plan ------------------------------------------------------------------------------
#: How a flag of an added trip (JSON true or false) is written into the trip file.
FLAG_WORDS = {True: "yes", False: "no"}


def _cell(value) -> str:
    if value is None:
        return ""
    return FLAG_WORDS[value] if isinstance(value, bool) else str(value)


def trips_with_added(trip_set, rows: dict[int, dict]) -> bytes:
    """The trip set's file with the added trips (a trip file's rows, by the index of their change)
    after its own rows, so that they are read, and reach the travel table, as the day's trips are.
    A CSV gains lines in its own delimiter; a GeoJSON file gains features with no geometry."""
    if trip_set.file_format == "geojson":
        document = json.loads(trip_set.content)
        features = list(document.get("features") or [])
        _refuse_known_ids(rows, {str((f.get("properties") or {}).get("id", "")).strip() for f in features})
        document["features"] = features + [
            {"type": "Feature", "geometry": None, "properties": dict(row)} for row in rows.values()]
        return json.dumps(document).encode()
    text = trip_set.content.decode("utf-8-sig")
    header = text.splitlines()[0] if text else ""
    delimiter = ";" if ";" in header and "," not in header else ","  # as the trip reader tells them apart
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    columns = [c.strip() for c in next(reader)]
    if "id" in columns:
        at = columns.index("id")
        _refuse_known_ids(rows, {line[at].strip() for line in reader if len(line) > at})
    out = io.StringIO()
    out.write(text if text.endswith("\n") else text + "\n")
    writer = csv.writer(out, delimiter=delimiter)
    for index, row in rows.items():
        unknown = sorted(set(row) - set(columns))
        if unknown:
            raise InputFormatError(f"unknown column {unknown[0]!r}; the trip file's columns are {', '.join(columns)}",
                                   where=f"body.changes[{index}].trip.{unknown[0]}")
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue().encode()


def _refuse_known_ids(rows: dict[int, dict], known: set[str]) -> None:
    """An added trip must be new to the day: were its id the file's already, the file would not read."""
    for index, row in rows.items():
        if str(row["id"]).strip() in known:
            raise InputFormatError(f"trip {str(row['id']).strip()!r} is already in the day",
                                   where=f"body.changes[{index}].trip.id")


def _told_of_the_change(error: ItuError, change_of_trip: dict[str, int]) -> ItuError:
    """An error of the re-plan's inputs told in the request's terms: a change's field is under
    ``body``, and a problem with an added trip names its change rather than a row of a file."""
    if error.where and (error.where.startswith("changes") or error.where == "now"):
        error.where = f"body.{error.where}"
    for item in getattr(error, "problems", []):
        if item.get("trip_id") in change_of_trip:
            item["file"] = f"body.changes[{change_of_trip[item['trip_id']]}].trip"
            item.pop("row", None)
    return error


def replan_prices(options: dict):
    from optimiser.analysis.replan import DisruptionPrices

    prices = options.get("prices") or {}
    defaults = DisruptionPrices()
    return DisruptionPrices(moved_vehicle=prices.get("moved_vehicle", defaults.moved_vehicle),
                            moved_pickup=prices.get("moved_pickup", defaults.moved_pickup),
                            tolerance_s=60.0 * prices.get("tolerance_minutes", defaults.tolerance_s / 60.0))


#: The columns of a re-plan's calls: the CLI's, with the passenger's name beside the trip.
CALL_COLUMNS = ("trip_id", "passenger", "reason", "old_vehicle", "old_pickup", "new_vehicle", "new_pickup")


def _replan(store: Store, trip_set: TripSet, fleet: Fleet, options: dict, control: _JobControl, settings: dict):
    """The published plan (its solve job's plan.json, read and never written) re-planned after
    the body's changes on the same day, travel and fleet; results: the new plan's files, the
    calls as JSON and CSV, and the re-plan's summary."""
    from optimiser import SolveOptions
    from optimiser.analysis.replan import ReplanOptions, changes_from_document, plan_from_document, replan

    with store.session() as s:
        published_file = s.get(JobResult, (options["plan_job_id"], "plan.json"))
    if published_file is None:
        raise InputFormatError("the published plan has no plan.json", where="path.plan_id")
    rows = {i: c["trip"] for i, c in enumerate(options["changes"]) if c["kind"] == "add"}
    change_of_trip = {str(row["id"]): i for i, row in rows.items()}
    day = SimpleNamespace(name=trip_set.name, file_format=trip_set.file_format,
                          content=trips_with_added(trip_set, rows) if rows else trip_set.content)
    try:
        loaded = _build(day, fleet, options, settings, control)
        problem = replace(loaded.problem, trips=tuple(t for t in loaded.problem.trips if t.id not in change_of_trip))
        added = {t.id: t for t in loaded.problem.trips if t.id in change_of_trip}
        published = plan_from_document(json.loads(published_file.content), problem, where="path.plan_id")
        changes = changes_from_document({k: options[k] for k in ("now", "changes") if k in options}, problem,
                                        published, added)
    except ItuError as exc:
        raise _told_of_the_change(exc, change_of_trip) from None
    limit = float(options.get("time_limit_s", 10))
    control.update(force=True, phase="re-planning", fraction=0.0)
    if options.get("resolve"):
        control.searching = (time.monotonic(), limit)
    result = replan(problem, published, changes, ReplanOptions(
        prices=replan_prices(options), resolve=bool(options.get("resolve")),
        solve=SolveOptions(time_limit_s=limit, seed=int(options.get("seed", 0)), workers=1)), cancel=control)
    new_day = replace(loaded, problem=result.problem)
    calls = [{"trip_id": c.trip_id, "passenger": loaded.trip_text.get(c.trip_id, {}).get("passenger") or None,
              **{k: v for k, v in c.to_dict().items() if k != "trip_id"}} for c in result.calls]
    calls_csv = io.StringIO()
    writer = csv.DictWriter(calls_csv, CALL_COLUMNS)
    writer.writeheader()
    writer.writerows({k: spreadsheet_cell(v) for k, v in call.items()} for call in calls)
    report = {**result.to_dict(), "plan_job_id": options["plan_job_id"], "calls": calls}
    files = {**plan_files(result.plan, new_day),
             "replan.json": ("application/json", json.dumps(report).encode()),
             "calls.json": ("application/json", json.dumps(calls).encode()),
             "calls.csv": ("text/csv", calls_csv.getvalue().encode()),
             "replan.md": ("text/markdown", result.markdown().encode())}
    summary = {**plan_summary(result.plan), "published_cost": report["published_cost"],
               "disruption": report["disruption"], "calls": len(calls), "method": result.method,
               "plan_job_id": options["plan_job_id"]}
    return files, summary


def week_options(body: dict):
    """A week job's ``WeekOptions`` from its body (the request checks them too, before the days
    are known)."""
    from optimiser import SolveOptions
    from optimiser.analysis.week import WeekOptions, consistency_with

    return WeekOptions(
        solve=SolveOptions(time_limit_s=float(body["time_limit_s"]), seed=int(body.get("seed", 0)), workers=1),
        method=body.get("method", "template"),
        consistency=consistency_with(body.get("consistent", ()), body.get("free", ()), body.get("preferred", ())),
        tolerance_s=60.0 * float(body.get("tolerance_minutes", 10)),
        compare_independent=bool(body.get("compare_independent", True)),
        share_template_vehicles=bool(body.get("share_template_vehicles", True)),
        template_search=body.get("template_search", 8))


def _week(loaded, options: dict, control: _JobControl, settings: dict):
    """A week planned with consistent routes (optimiser.analysis.week, docs/week.md): every day's plan
    checked, and the week's consistency checked again by the week checker; results are week.json,
    week.md and each day's plan files, named ``Mon-plan.json`` and so on."""
    from optimiser import solve
    from optimiser.analysis.week import plan_week
    from optimiser.checker_week import check_week
    from optimiser.errors import InputFormatError, PlanCheckError, ProblemError
    from optimiser.reporting.report import week_charts

    try:
        chosen = week_options(options)
    except ProblemError as exc:
        field = exc.where.rsplit(".", 1)[-1]
        field = {"tolerance_s": "tolerance_minutes"}.get(field, field)  # named as the body names it
        raise InputFormatError(exc.message, where=f"body.{field}") from None
    days = len(loaded.days)
    seconds = chosen.solve_seconds(days)
    most = float(settings["MAX_COMPARISON_SECONDS"])
    if seconds > most:
        raise InputFormatError(f"a week of {days} days runs {seconds:g} s of solving in all (docs/week.md); at most "
                               f"{most:g} s a job", where="body.time_limit_s")
    solves = chosen.solve_count(days)
    # progress in seconds of time limit, so the template's longer search moves the bar in proportion
    done = {"solves": 0, "seconds": 0.0}
    control.update(force=True, phase="solving", solves_done=0, solves_total=solves, fraction=0.0)

    def solve_day(problem, solve_options, start_routes=None):
        def on_progress(p):
            within = min(p.elapsed_s, p.time_limit_s)
            control.update(best_cost=round(p.best_cost, 2),
                           fraction=round(min(1.0, (done["seconds"] + within) / seconds), 3))

        plan = solve(problem, solve_options, on_progress=on_progress, cancel=control, start_routes=start_routes)
        done["solves"] += 1
        done["seconds"] += solve_options.time_limit_s
        control.update(force=True, solves_done=done["solves"], fraction=round(min(1.0, done["seconds"] / seconds), 3))
        return plan

    week = loaded.week
    result = plan_week(week, chosen, solve_day=solve_day)
    report = check_week(week.days, week.problems, result.plans, week.passenger_of, result.continuity)
    if not report.feasible:
        raise PlanCheckError("the week's plans fail the week checker: " + "; ".join(report.violations[:5]))
    document = result.to_dict()
    files = {"week.json": ("application/json", json.dumps(document).encode()),
             "week.md": ("text/markdown", result.markdown().encode())}
    for day, plan in result.plans.items():
        files.update(plan_files(plan, loaded.day[day], prefix=f"{day}-"))
    files.update(chart_files(week_charts(document)))
    summary = {k: document[k] for k in ("days", "cost", "independent_cost", "premium", "consistent_share",
                                        "independent_consistent_share")}
    return files, summary
