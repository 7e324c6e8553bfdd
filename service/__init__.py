"""The service: an HTTP API (/v1) for scheduling systems and a web page for planners, with jobs
stored in a database and run on Dask. ``create_app`` is the application factory."""
from __future__ import annotations

import atexit
import logging
from pathlib import Path
from typing import Any, Mapping

from flask import Flask, jsonify, request
from sqlalchemy.exc import InternalError, OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from optimiser import ItuError

from .config import Limits, load_config
from .errors import PayloadTooLarge, ServiceUnavailable, headers_for, status_for

log = logging.getLogger(__name__)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    config = load_config(instance, test_config)
    app.config.update(config)
    app.json.sort_keys = False

    from .store import Store, migrate

    migrate(config["DATABASE_URL"])
    store = Store(config["DATABASE_URL"])
    app.extensions["itu.store"] = store
    app.extensions["itu.limits"] = Limits.from_config(config)

    from . import api, web

    app.register_blueprint(api.bp)
    app.register_blueprint(web.bp)
    _register_error_handlers(app)
    if config["DEV_MODE"] and config["SEED_EXAMPLE"]:
        _seed_example(store)
    if config["RUNNER"]:
        from .runner import JobRunner

        runner = JobRunner(store, config)
        runner.start()
        app.extensions["itu.runner"] = runner
        atexit.register(runner.stop)
    elif config["RUNNER_LINK"]:  # ``itu serve``: the runner has a process of its own
        from .runner import RunnerLink

        app.extensions["itu.runner"] = RunnerLink(**config["RUNNER_LINK"])
    return app


def stop_app(app: Flask) -> None:
    """Stop the app's job runner (its unfinished jobs go back to the queue) and close the database."""
    runner = app.extensions.pop("itu.runner", None)
    if runner is not None:
        atexit.unregister(runner.stop)
        runner.stop()  # a link to a runner in its own process: that process is its service's to stop
    app.extensions["itu.store"].dispose()


def _error_response(error: ItuError, status: int):
    return jsonify(error.to_dict()), status, headers_for(error)


def _register_error_handlers(app: Flask) -> None:
    """Every error becomes JSON with a stable code, a message and where; the one place where
    the project's exceptions meet HTTP statuses is ``errors.HTTP_STATUS``."""

    @app.errorhandler(ItuError)
    def project_error(error: ItuError):
        return _error_response(error, status_for(error))

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_error):
        limit = app.config["MAX_CONTENT_LENGTH"]
        return _error_response(PayloadTooLarge(f"the body is larger than {limit // (1024 * 1024)} MB", where="body"),
                               413)

    @app.errorhandler(OperationalError)
    @app.errorhandler(InternalError)
    def database_unavailable(error):  # a disk that no longer takes writes, a read-only server, a lost connection
        log.error("database error on %s %s: %s", request.method, request.path, error.orig or error)
        return _error_response(ServiceUnavailable("the database cannot be used just now; try again later",
                                                  where="database"), 503)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        code = (error.name or "error").lower().replace(" ", "_")
        return jsonify({"code": code, "message": error.description, "where": request.path}), error.code

    @app.errorhandler(Exception)
    def unexpected(error: Exception):  # a bug: logged in full, reported without internals
        log.exception("unexpected error on %s %s", request.method, request.path)
        return jsonify({"code": "internal_error", "message": "an unexpected error; it has been logged",
                        "where": request.path}), 500


def _seed_example(store) -> None:
    """Development mode starts with the bundled Rutland example already uploaded."""
    import datetime as dt

    from sqlalchemy import select

    from .store import DEVELOPMENT_OWNER, Fleet, TripSet, new_id, utcnow
    from .web import example_files

    with store.session() as s:
        if s.scalar(select(TripSet.id).where(TripSet.owner == DEVELOPMENT_OWNER, TripSet.name == "Rutland example")):
            return
    files = example_files()
    trips = files["trips.csv"]
    count = trips.count(b"\n") - 1
    with store.session() as s, s.begin():
        now = utcnow() - dt.timedelta(seconds=1)
        s.add(TripSet(id=new_id("trips"), owner=DEVELOPMENT_OWNER, name="Rutland example", file_format="csv",
                      content=trips, trip_count=count, services=["nept", "school", "sen", "social_care"],
                      created_at=now))
        s.add(Fleet(id=new_id("fleet"), owner=DEVELOPMENT_OWNER, name="Rutland example", file_format="json",
                    content=files["fleet.json"], vehicle_types=4, created_at=now))
