"""Configuration: built-in defaults, then ``instance/config.json``, then ``ITU_*`` environment
variables, then whatever a test passes to ``create_app``. Every setting has a default that
works on a laptop: SQLite under the instance folder and a local Dask cluster."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigurationError


@dataclass(frozen=True)
class Limits:
    """What one API key may ask of the service, enforced at the edge before any heavy work (a
    problem too big for the machine is refused with the figure, not discovered by a worker running
    out of memory). Read from the ``MAX_*`` settings; documented in the OpenAPI document."""

    #: seconds of one solve (a comparison: of each of its solves)
    solve_seconds: float = 3600
    #: seeds of one comparison
    seeds: int = 20
    #: a comparison's seeds times its seconds per solve
    comparison_seconds: float = 7200
    trips_per_set: int = 5000
    #: distinct pickup, drop-off and depot places of one problem
    locations: int = 10000
    vehicles_per_type: int = 500
    #: vehicles of one fleet, all types together
    vehicles: int = 2000
    #: the memory a job is estimated to need (see ``jobs.estimated_memory_mb``)
    job_memory_mb: float = 4096
    #: jobs of one key being solved at once; the rest wait in the queue
    running_jobs_per_key: int = 2
    #: jobs of one key waiting or running; more submissions get 429
    queued_jobs_per_key: int = 20
    #: submissions of one key in any 60 seconds; more get 429 with Retry-After
    submissions_per_minute: int = 30

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Limits":
        return cls(solve_seconds=float(config["MAX_SOLVE_SECONDS"]), seeds=int(config["MAX_SEEDS"]),
                   comparison_seconds=float(config["MAX_COMPARISON_SECONDS"]),
                   trips_per_set=int(config["MAX_TRIPS_PER_SET"]), locations=int(config["MAX_LOCATIONS"]),
                   vehicles_per_type=int(config["MAX_VEHICLES_PER_TYPE"]), vehicles=int(config["MAX_VEHICLES"]),
                   job_memory_mb=float(config["MAX_JOB_MEMORY_MB"]),
                   running_jobs_per_key=int(config["MAX_RUNNING_JOBS_PER_KEY"]),
                   queued_jobs_per_key=int(config["MAX_QUEUED_JOBS_PER_KEY"]),
                   submissions_per_minute=int(config["MAX_SUBMISSIONS_PER_MINUTE"]))


DEFAULTS: dict[str, Any] = {
    #: SQLAlchemy URL; default: a SQLite file in the instance folder.
    "DATABASE_URL": None,
    #: A Dask scheduler address (tcp://host:8786); default: a LocalCluster started by the service.
    "DASK_SCHEDULER": None,
    #: Workers of the local cluster (one process each, one thread each); default: one per core.
    "DASK_WORKERS": None,
    #: Jobs in the cluster at once, over all keys (each key also keeps to MAX_RUNNING_JOBS_PER_KEY).
    #: Default: on a local cluster, one fewer than the usable cores (at least one), so that a core
    #: is left for the requests: solves holding every core slow the service's answers even at a
    #: lower priority (docs/service.md). Default with a scheduler address: no limit of the
    #: service's own, the cluster's workers are elsewhere.
    "JOBS_AT_ONCE": None,
    #: Start the job runner (dispatching queued jobs to Dask). Off only for tests of the API surface.
    "RUNNER": True,
    #: Set by ``itu serve``, which runs the job runner in a process of its own: how the request
    #: workers reach it ({"wake_fd": N, "status_file": PATH}). Not a setting to write by hand.
    "RUNNER_LINK": None,
    #: Set by ``itu serve``, whose gunicorn threads live as long as their worker: each keeps its
    #: own database connection from one request to the next instead of taking one from the pool
    #: and giving it back every time. Off for servers that start a thread per request.
    "CONNECTION_PER_THREAD": False,
    #: How many steps of niceness a solve runs below the service, so that requests win the CPU
    #: over solves on a shared machine; where the service already sits too near the bottom of the
    #: range (19) for that, solves run in the idle scheduling class instead. 0 leaves them alone.
    "SOLVER_NICENESS": 10,
    #: Development mode: no API keys; refused unless the service listens on a loopback address.
    "DEV_MODE": False,
    "BIND_HOST": None,
    #: Largest request body (bytes): trip files of a few thousand trips are well under this.
    "MAX_CONTENT_LENGTH": 20 * 1024 * 1024,
    #: How often a job may be started before it fails (a worker that dies takes its job with it).
    "MAX_JOB_ATTEMPTS": 3,
    #: A running job whose heartbeat is older than this is taken to be lost and is run again.
    "JOB_LEASE_S": 60,
    "DEFAULT_SOLVE_SECONDS": 30,
    #: What one request may cost (see ``Limits``): checked before any heavy work is done.
    "MAX_SOLVE_SECONDS": Limits.solve_seconds,
    "MAX_SEEDS": Limits.seeds,
    "MAX_COMPARISON_SECONDS": Limits.comparison_seconds,
    "MAX_TRIPS_PER_SET": Limits.trips_per_set,
    "MAX_LOCATIONS": Limits.locations,
    "MAX_VEHICLES_PER_TYPE": Limits.vehicles_per_type,
    "MAX_VEHICLES": Limits.vehicles,
    "MAX_JOB_MEMORY_MB": Limits.job_memory_mb,
    "MAX_RUNNING_JOBS_PER_KEY": Limits.running_jobs_per_key,
    "MAX_QUEUED_JOBS_PER_KEY": Limits.queued_jobs_per_key,
    "MAX_SUBMISSIONS_PER_MINUTE": Limits.submissions_per_minute,
    #: Server-side travel data: an .osm.pbf extract for "road", a server for "osrm".
    "ROADS_PBF": None,
    "OSRM_URL": None,
    #: Put the bundled Rutland example into development mode's store at start-up.
    "SEED_EXAMPLE": True,
}
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


def _parse_env(name: str, raw: str, default: Any) -> Any:
    if isinstance(default, bool) or name in ("DEV_MODE", "RUNNER", "SEED_EXAMPLE"):
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off", ""):
            return False
        raise ConfigurationError(f"expected true or false, got {raw!r}", where=f"ITU_{name}")
    if isinstance(default, int) or name in ("DASK_WORKERS", "JOBS_AT_ONCE"):
        try:
            return int(raw)
        except ValueError:
            raise ConfigurationError(f"expected a whole number, got {raw!r}", where=f"ITU_{name}") from None
    if isinstance(default, float):
        try:
            return float(raw)
        except ValueError:
            raise ConfigurationError(f"expected a number, got {raw!r}", where=f"ITU_{name}") from None
    return raw


def load_config(instance_path: Path, overrides: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    config = dict(DEFAULTS)
    file = instance_path / "config.json"
    if file.is_file():
        try:
            from_file = json.loads(file.read_text())
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"not valid JSON: {exc.msg}", where=str(file)) from None
        unknown = sorted(set(from_file) - set(DEFAULTS))
        if unknown:
            raise ConfigurationError(f"unknown setting(s) {unknown}", where=str(file))
        config.update(from_file)
    environ = os.environ if environ is None else environ
    for name, default in DEFAULTS.items():
        if f"ITU_{name}" in environ:
            config[name] = _parse_env(name, environ[f"ITU_{name}"], default)
    config.update(overrides or {})
    if not config["DATABASE_URL"]:
        config["DATABASE_URL"] = f"sqlite:///{instance_path / 'itu.sqlite3'}"
    for name in ("DASK_WORKERS", "JOBS_AT_ONCE"):
        if config[name] is not None and (type(config[name]) is not int or config[name] < 1):
            raise ConfigurationError(f"expected a whole number of at least 1, got {config[name]!r}",
                                     where=f"ITU_{name} or {name} in config.json")
    if config["DEV_MODE"] and config["BIND_HOST"] not in LOOPBACK_HOSTS:
        raise ConfigurationError(
            "development mode (no API keys) is only allowed when the service listens on a loopback address "
            f"({', '.join(LOOPBACK_HOSTS)}); it was asked to listen on {config['BIND_HOST'] or 'an unknown address'}",
            where="DEV_MODE")
    return config
