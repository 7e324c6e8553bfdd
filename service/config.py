"""Configuration: built-in defaults, then ``instance/config.json``, then ``ITU_*`` environment
variables, then whatever a test passes to ``create_app``. Every setting has a default that
works on a laptop: SQLite under the instance folder and a local Dask cluster."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigurationError

DEFAULTS: dict[str, Any] = {
    #: SQLAlchemy URL; default: a SQLite file in the instance folder.
    "DATABASE_URL": None,
    #: A Dask scheduler address (tcp://host:8786); default: a LocalCluster started by the service.
    "DASK_SCHEDULER": None,
    #: Workers of the local cluster (one process each, one thread each); default: one per core.
    "DASK_WORKERS": None,
    #: Start the job runner (dispatching queued jobs to Dask). Off only for tests of the API surface.
    "RUNNER": True,
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
    "MAX_SOLVE_SECONDS": 3600,
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
    if isinstance(default, int) or name in ("DASK_WORKERS",):
        try:
            return int(raw)
        except ValueError:
            raise ConfigurationError(f"expected a whole number, got {raw!r}", where=f"ITU_{name}") from None
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
    if config["DEV_MODE"] and config["BIND_HOST"] not in LOOPBACK_HOSTS:
        raise ConfigurationError(
            "development mode (no API keys) is only allowed when the service listens on a loopback address "
            f"({', '.join(LOOPBACK_HOSTS)}); it was asked to listen on {config['BIND_HOST'] or 'an unknown address'}",
            where="DEV_MODE")
    return config
