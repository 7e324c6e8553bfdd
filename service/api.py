"""The HTTP API, version 1: trip sets, fleets, solve, comparison, clock and contracts jobs, their status,
cancellation and results. Thin on purpose: parse and validate at the edge, store, queue,
report. The contract is the OpenAPI document in ``openapi.py``, served at /v1/openapi.json.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, render_template, request, url_for
from sqlalchemy import bindparam, func, insert, or_, select, true
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from optimiser.analysis.contracts import RULE_NAMES, ContractAnalysisOptions
from optimiser.analysis.operating_models import MODEL_RATE_FIELDS
from optimiser.analysis.replan import WINDOW_FIELDS
from optimiser.analysis.tender_lots import COST_FIELDS, LOT_FIELDS, lot_options_from_fields
from optimiser.domain.model import parse_clock
from optimiser.errors import InputFormatError, ProblemError

from .config import Limits
from .driver_statements import DriverStatement
from .errors import AuthenticationRequired, Conflict, LimitExceeded, NotFound, NotReady, TooManyRequests, relocated
from .jobs import estimated_memory_mb, week_options  # on every submission: imported once, not in the request
from .openapi import JOB_KINDS
from .store import DEVELOPMENT_OWNER, FINAL_STATES, JOB_STATES, Fleet, Job, JobResult, Store, TripSet, new_id, utcnow

bp = Blueprint("v1", __name__, url_prefix="/v1")
PUBLIC_ENDPOINTS = {"v1.health", "v1.openapi_document", "v1.api_docs"}
TRIP_FORMATS = {"csv": "csv", "geojson": "geojson", "json": "geojson", "gpkg": "gpkg"}
FLEET_FORMATS = {"csv": "csv", "json": "json"}
MEDIA_TYPES = {"text/csv": "csv", "application/geo+json": "geojson", "application/geopackage+sqlite3": "gpkg",
               "application/json": "json"}
PAGE_LIMIT_MAX = 200
#: Result files are the service's own output but carry users' strings: a browser must not guess
#: their type, a page may run only its own inline script and load only map tiles, and it runs in a
#: sandbox (an origin of its own), so that even a bug in escaping cannot reach the API key.
RESULT_POLICY = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                 "img-src data: https://tile.openstreetmap.org; sandbox allow-scripts")


def store() -> Store:
    return current_app.extensions["itu.store"]


def limits() -> Limits:
    return current_app.extensions["itu.limits"]


def connection() -> Connection:
    """The request's one database connection, each statement committing on its own
    (``Store.requests``): a status request is one round trip to the database. Taken from the pool
    at the request's first statement and given back when it ends (``give_back_connection``);
    with ``CONNECTION_PER_THREAD``, the thread's own, kept from request to request."""
    found = g.get("connection")
    if found is None:
        per_thread = current_app.config["CONNECTION_PER_THREAD"]
        found = g.connection = store().thread_connection() if per_thread else store().requests.connect()
    return found


@bp.teardown_request
def give_back_connection(_error) -> None:
    found = g.pop("connection", None)
    if found is None:
        return
    if current_app.config["CONNECTION_PER_THREAD"] and not found.invalidated:
        if found.in_transaction():  # autocommit leaves none open; a failed statement might
            found.rollback()
        return
    # a connection the database dropped goes back too: the thread's next request takes a new one
    found.close()  # what was not committed is rolled back


def _key_owner() -> tuple[str, str | None]:
    """(the key sent, its owner or None); development mode's one owner needs no key."""
    if current_app.config["DEV_MODE"]:
        return "", DEVELOPMENT_OWNER
    header = request.headers.get("Authorization", "")
    key = header[7:].strip() if header.lower().startswith("bearer ") else request.headers.get("X-API-Key", "")
    return key, store().owner_of_key(key, connection()) if key else None


@bp.before_request
def authenticate():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    key, owner = _key_owner()
    if owner is None:
        raise AuthenticationRequired("send an API key as 'Authorization: Bearer <key>' (create one with "
                                     "'itu keys create NAME')" if not key else "unknown or revoked API key",
                                     where="Authorization")
    g.owner = owner


# -- small helpers ---------------------------------------------------------------------------------------
def _iso(value) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds") + "Z"


def _page_arguments() -> tuple[int, int]:
    def number(name: str, default: int, low: int, high: int) -> int:
        raw = request.args.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise InputFormatError(f"expected a whole number, got {raw!r}", where=f"query.{name}") from None
        if not low <= value <= high:
            raise InputFormatError(f"must be between {low} and {high}", where=f"query.{name}")
        return value

    return number("limit", 50, 1, PAGE_LIMIT_MAX), number("offset", 0, 0, 10**9)


def _page(query, count_query, render, endpoint: str, **filters) -> Response:
    limit, offset = _page_arguments()
    with store().session() as s:
        total = s.scalar(count_query)
        items = [render(x) for x in s.scalars(query.limit(limit).offset(offset))]
    following = offset + limit < total
    return jsonify({"items": items, "total": total, "limit": limit, "offset": offset,
                    "next": url_for(endpoint, limit=limit, offset=offset + limit, **filters) if following else None})


def _columns_but_content(model) -> list:
    return [c for c in model.__table__.c if c.name != "content"]


#: The statements of the status and submit paths, built once (building one costs more than
#: running it on SQLite), compiled once per database and run on the driver's connection.
OWNED = {model: DriverStatement(select(*_columns_but_content(model)).where(model.__table__.c.id == bindparam("id")))
         for model in (TripSet, Fleet, Job)}
REPLAY = select(*Job.__table__.c).where(Job.owner == bindparam("owner"), Job.idempotency_key == bindparam("key"))
JOB_INSERT = DriverStatement(insert(Job.__table__), column_keys=[c.name for c in Job.__table__.c])
NOUNS = {TripSet: "trip set", Fleet: "fleet", Job: "job"}


def _owned(model, item_id: str, where: str = "path.id"):
    """The caller's record as a row (read-only, attributes by column), without a file's content:
    no answer of the API needs it, and a submission must not read a day's trips to queue a job.
    One statement on the driver's side of the request's connection (``DriverStatement``): these
    are the status and submit paths."""
    item = OWNED[model].first(connection(), {"id": item_id})
    if item is None or item.owner != g.owner:
        raise NotFound(f"no {NOUNS[model]} {item_id!r}", where=where)
    return item


#: What a submission's checks read of its trip set and fleet (``_check_job_size``, the clock's
#: shift options): the counts stored at upload, not the files.
SUBMISSION_INPUTS = {TripSet: ("id", "file_format", "trip_count", "location_count"),
                     Fleet: ("id", "file_format", "vehicle_types", "vehicle_count")}


def _submission_statement():
    """Everything a submission reads, in one statement of index lookups (built once, bound per
    request): the caller's trip set and fleet (no row when either is not the caller's), the job
    already made with this Idempotency-Key if any, and the key's pace: its submissions of the last
    minute and its unfinished jobs. The two counts stop at their limits (``most_recent``,
    ``most_unfinished``): whether a limit is reached is all they are for, and a key's busy minute
    then costs its next submission no more than the limit's rows."""
    owner, since = bindparam("owner"), bindparam("since")
    recent = select(Job.created_at).where(Job.owner == owner, Job.created_at > since).limit(bindparam("most_recent"))
    # two comparisons, not IN (...): a literal IN list is rendered again on every execution
    # the state, not the id: the (owner, state) index then answers it alone, with no row read
    unfinished = (select(Job.state).where(Job.owner == owner, or_(Job.state == "queued", Job.state == "running"))
                  .limit(bindparam("most_unfinished")))
    return (select(*[TripSet.__table__.c[name].label(f"t_{name}") for name in SUBMISSION_INPUTS[TripSet]],
                   *[Fleet.__table__.c[name].label(f"f_{name}") for name in SUBMISSION_INPUTS[Fleet]],
                   select(Job.id).where(Job.owner == owner, Job.idempotency_key == bindparam("key"))
                   .scalar_subquery().label("replay_id"),
                   select(func.count()).select_from(recent.subquery()).scalar_subquery().label("recent"),
                   select(func.count()).select_from(unfinished.subquery()).scalar_subquery().label("unfinished"))
            .select_from(TripSet.__table__).join(Fleet.__table__, true())
            .where(TripSet.id == bindparam("trip_set_id"), Fleet.id == bindparam("fleet_id"),
                   TripSet.owner == owner, Fleet.owner == owner))


SUBMISSION = DriverStatement(_submission_statement())
#: The oldest of a key's submissions since ``since``: when it leaves the window, the key may submit again.
OLDEST_RECENT = select(func.min(Job.created_at)).where(Job.owner == bindparam("owner"),
                                                      Job.created_at > bindparam("since"))
#: A key's submissions counted over this window for ``Limits.submissions_per_minute``.
PACE_WINDOW = dt.timedelta(seconds=60)


def _submission_inputs(options: dict, key: str | None, now: dt.datetime):
    """(trip set, fleet, pace) of a submission, the caller's own, read in one statement; or the
    answer already given for this Idempotency-Key (``_idempotent_replay``) as the fourth item.
    Which input is missing is asked again only when one is, after the replay."""
    most = limits()
    row = SUBMISSION.first(connection(), {"trip_set_id": options["trip_set_id"], "fleet_id": options["fleet_id"],
                                          "owner": g.owner, "key": key, "since": now - PACE_WINDOW,
                                          "most_recent": most.submissions_per_minute,
                                          "most_unfinished": most.queued_jobs_per_key})
    if row is None or (key and row.replay_id is not None):
        replay = _idempotent_replay(key, options["fingerprint"]) if key else None
        if replay is not None:
            return None, None, None, replay
        # name the one that is not the caller's
        _owned(TripSet, options["trip_set_id"], "body.trip_set_id")
        _owned(Fleet, options["fleet_id"], "body.fleet_id")
    trip_set = SimpleNamespace(**{name: getattr(row, f"t_{name}") for name in SUBMISSION_INPUTS[TripSet]})
    fleet = SimpleNamespace(**{name: getattr(row, f"f_{name}") for name in SUBMISSION_INPUTS[Fleet]})
    return trip_set, fleet, (row.recent, row.unfinished), None


def _uploaded_file(allowed: dict[str, str], noun: str) -> tuple[str, str, bytes]:
    """(name, format, bytes) from a multipart upload (field ``file``) or a raw body; the name is
    also what error messages call the file."""
    if request.files:
        upload = request.files.get("file")
        if upload is None:
            raise InputFormatError("send the file in a form field called 'file'", where="body.file")
        suffix = Path(upload.filename or "").suffix.lower().lstrip(".")
        file_format = allowed.get(suffix)
        if file_format is None:
            raise InputFormatError(f"cannot tell the {noun} file's format from its name {upload.filename!r}: use "
                                   f"{', '.join('.' + s for s in allowed)}", where="body.file")
        name = request.form.get("name") or Path(upload.filename or noun).stem
        return name[:200], file_format, upload.read()
    media_type = (request.mimetype or "").lower()
    file_format = allowed.get(MEDIA_TYPES.get(media_type, ""))
    if file_format is None:
        raise InputFormatError(f"send a {noun} as multipart/form-data (field 'file') or with Content-Type "
                               + ", ".join(m for m, f in MEDIA_TYPES.items() if f in allowed), where="header.Content-Type")
    content = request.get_data()
    if not content:
        raise InputFormatError("the body is empty", where="body")
    return (request.args.get("name") or noun)[:200], file_format, content


def _with_file(content: bytes, name: str, suffix: str, read):
    """``read`` on the upload written to a temporary file. Its errors name the request's field
    (``body.file``, or ``body`` for a raw body), never the server's temporary path."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-")[:100] or "upload"
    field = "body.file" if request.files else "body"
    with tempfile.TemporaryDirectory(prefix="itu-upload-") as folder:
        path = Path(folder) / f"{safe}.{suffix}"
        path.write_bytes(content)
        try:
            return read(path)
        except InputFormatError as exc:
            raise relocated(exc, folder, field) from None
        except (UnicodeDecodeError, RecursionError) as exc:  # a reader's parser meeting a hostile file
            reason = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else "nested too deeply"
            raise InputFormatError(f"cannot read the file: {reason}", where=field) from None


#: A JSON escape of a UTF-16 surrogate (``\ud800`` to ``\udfff``), paired or not.
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


def _not_a_json_number(word: str):
    """Python's JSON reads NaN and Infinity, which JSON has not (RFC 8259), no price or time can
    be, and PostgreSQL will not store in a job's options."""
    raise ValueError(f"{word} is not a number JSON allows")


def _finite_number(digits: str) -> float:
    value = float(digits)
    if not math.isfinite(value):  # 1e400: read as infinity
        raise ValueError(f"{digits[:20]} is too large a number")
    return value


def _json_body() -> Any:
    """The request's JSON, read strictly: a body that is not UTF-8, nests too deeply or holds a
    string no database can store is a 422 naming the body, never a 500."""
    if not request.is_json:
        raise InputFormatError("expected a JSON object (Content-Type: application/json)", where="body")
    try:
        text = request.get_data(cache=True).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFormatError(f"not UTF-8: byte {exc.start} cannot be read", where="body") from None
    try:
        body = json.loads(text, parse_constant=_not_a_json_number, parse_float=_finite_number)
    except RecursionError:
        raise InputFormatError("nested too deeply", where="body") from None
    except ValueError as exc:
        raise InputFormatError(f"not valid JSON: {exc}", where="body") from None
    # "\ud800" is valid JSON but not text: refused here rather than by the database driver. The
    # text was UTF-8, so a surrogate can only have come from such an escape: only then is it looked for
    if SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(body, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise InputFormatError("a string holds an unpaired surrogate (\\ud800-\\udfff)", where="body") from None
    return body


# -- health, document, docs --------------------------------------------------------------------------------
@bp.get("/health")
def health():
    """ok or degraded for anyone (a load balancer needs no key); what is wrong, the database, the
    workers and the caller's own jobs only with a key. Degraded (503) when the database does not
    take a write or the job runner is not working."""
    problems = []
    write_failure = store().write_failure()
    if write_failure:
        problems.append(f"the database does not take writes ({write_failure})")
    runner = current_app.extensions.get("itu.runner")
    if runner is not None:
        problems.extend(runner.problems())
    body: dict[str, Any] = {"status": "degraded" if problems else "ok"}
    _, owner = _key_owner()
    if owner is not None:
        with store().session() as s:
            mine = select(func.count()).select_from(Job).where(Job.owner == owner)
            queued = s.scalar(mine.where(Job.state == "queued"))
            running = s.scalar(mine.where(Job.state == "running"))
        body.update({"problems": problems, "database": store().engine.dialect.name, "jobs_queued": queued,
                     "jobs_running": running, "workers": len(runner.workers()) if runner else 0,
                     "development_mode": bool(current_app.config["DEV_MODE"])})
    return jsonify(body), 503 if problems else 200


@bp.get("/openapi.json")
def openapi_document():
    from .openapi import document

    return jsonify(document(limits()))


@bp.get("/docs")
def api_docs():
    # Swagger UI from the swagger-ui-bundle package, served by this app: no CDN
    return render_template("api_docs.html", document_url=url_for("v1.openapi_document"),
                           assets_url=url_for("web.swagger_asset", name=""))


# -- trip sets -----------------------------------------------------------------------------------------------
def trip_set_body(t: TripSet) -> dict:
    return {"id": t.id, "name": t.name, "format": t.file_format, "trip_count": t.trip_count, "services": t.services,
            "created_at": _iso(t.created_at), "url": url_for("v1.get_trip_set", trip_set_id=t.id)}


@bp.post("/trip-sets")
def create_trip_set():
    from geodata.readers import read_trips

    name, file_format, content = _uploaded_file(TRIP_FORMATS, "trip")
    limit = limits()
    field = "body.file" if request.files else "body"
    # far too many lines (twice the limit, room for a cell broken over lines) is refused before the
    # file is parsed, which for 100,000 rows takes seconds; the exact count is checked after
    lines = content.count(b"\n") if file_format == "csv" else 0
    if lines > 2 * limit.trips_per_set + 1:
        raise LimitExceeded(f"{lines:,} lines; this service plans at most "
                            f"{limit.trips_per_set:,} trips a set", where=field)
    table = _with_file(content, name, file_format, lambda path: read_trips(path, services=None))
    if len(table.rows) > limit.trips_per_set:
        raise LimitExceeded(f"{len(table.rows):,} trips; this service plans at most {limit.trips_per_set:,} a set",
                            where=field)
    if len(table.locations) > limit.locations:
        raise LimitExceeded(f"{len(table.locations):,} distinct places; at most {limit.locations:,}", where=field)
    record = TripSet(id=new_id("trips"), owner=g.owner, name=name, file_format=file_format, content=content,
                     trip_count=len(table.rows), location_count=len(table.locations),
                     services=sorted({r.service for r in table.rows}), created_at=utcnow())
    with store().session() as s, s.begin():
        s.add(record)
    body = {**trip_set_body(record), "warnings": table.warnings}
    return jsonify(body), 201, {"Location": body["url"]}


def _list_owned(model, render, endpoint: str) -> Response:
    """The caller's own records of ``model``, newest first, a page at a time."""
    query = select(model).where(model.owner == g.owner).order_by(model.created_at.desc(), model.id)
    count = select(func.count()).select_from(model).where(model.owner == g.owner)
    return _page(query, count, render, endpoint)


@bp.get("/trip-sets")
def list_trip_sets():
    return _list_owned(TripSet, trip_set_body, "v1.list_trip_sets")


@bp.get("/trip-sets/<trip_set_id>")
def get_trip_set(trip_set_id: str):
    return jsonify(trip_set_body(_owned(TripSet, trip_set_id)))


# -- fleets ----------------------------------------------------------------------------------------------------
def fleet_body(f: Fleet) -> dict:
    return {"id": f.id, "name": f.name, "format": f.file_format, "vehicle_types": f.vehicle_types,
            "created_at": _iso(f.created_at), "url": url_for("v1.get_fleet", fleet_id=f.id)}


@bp.post("/fleets")
def create_fleet():
    from geodata.readers import read_fleet

    name, file_format, content = _uploaded_file(FLEET_FORMATS, "fleet")
    fleet = _with_file(content, name, file_format, read_fleet)
    limit, field = limits(), "body.file" if request.files else "body"
    for vehicle_type in fleet.vehicle_types:
        if vehicle_type["count"] > limit.vehicles_per_type:
            raise LimitExceeded(f"{vehicle_type['count']:,} vehicles of type {vehicle_type['name']!r}; at most "
                                f"{limit.vehicles_per_type:,} of one type", where=field)
    vehicles = sum(v["count"] for v in fleet.vehicle_types)
    if vehicles > limit.vehicles:
        raise LimitExceeded(f"{vehicles:,} vehicles in all; at most {limit.vehicles:,}", where=field)
    record = Fleet(id=new_id("fleet"), owner=g.owner, name=name, file_format=file_format, content=content,
                   vehicle_types=len(fleet.vehicle_types), vehicle_count=vehicles, created_at=utcnow())
    with store().session() as s, s.begin():
        s.add(record)
    body = fleet_body(record)
    return jsonify(body), 201, {"Location": body["url"]}


@bp.get("/fleets")
def list_fleets():
    return _list_owned(Fleet, fleet_body, "v1.list_fleets")


@bp.get("/fleets/<fleet_id>")
def get_fleet(fleet_id: str):
    return jsonify(fleet_body(_owned(Fleet, fleet_id)))


# -- jobs ------------------------------------------------------------------------------------------------------
SOLVE_FIELDS = {"trip_set_id": str, "fleet_id": str, "time_limit_s": (int, float), "seed": int, "travel": str,
                "far_points": str, "regions": int}
COMPARISON_FIELDS = {"trip_set_id": str, "fleet_id": str, "time_limit_s": (int, float), "seeds": int,
                     "travel": str, "far_points": str}
#: A clock job: the shift options as a document (``shifts``) or a CSV file's text (``shifts_csv``).
CLOCK_FIELDS = {**COMPARISON_FIELDS, "shifts": (list, dict), "shifts_csv": str, "most_moved": int,
                "earliest_bell": str, "objective": str, "max_rounds": int, "screen_rounds": int,
                "search_limit_s": (int, float)}
#: A contracts job: the register as a CSV file's text (docs/contracts.md) and the analysis's rules.
CONTRACTS_FIELDS = {"trip_set_id": str, "fleet_id": str, "travel": str, "far_points": str, "register_csv": str,
                    "complete": bool, **{name: (int, float) for name in RULE_NAMES}}
#: A lots job: a stored plan (a result of one of the caller's jobs on the same trip set and fleet),
#: how to cut it into lots and the operator cost model's rates (docs/contracts.md, "Tender lots").
LOTS_FIELDS = {"trip_set_id": str, "fleet_id": str, "travel": str, "far_points": str, "plan_job_id": str,
               "plan_result": str, "lots": int, "lot_size": int, "group_by": list, "school_days": int,
               "other_days": int, "term_time_services": list, **{name: (int, float) for name in COST_FIELDS}}
#: A week job: a trip set whose rows say the days they run (docs/week.md), planned so that regular
#: passengers keep their vehicle and pickup time.
WEEK_FIELDS = {"trip_set_id": str, "fleet_id": str, "travel": str, "far_points": str, "time_limit_s": (int, float),
               "seed": int, "method": str, "tolerance_minutes": (int, float), "consistent": list, "free": list,
               "preferred": list, "compare_independent": bool, "share_template_vehicles": bool,
               "template_search": (int, float)}
#: The plans a lots job may start from: a solve's, a comparison's integrated plan, the clock advisor's.
PLAN_RESULTS = ("plan.json", "integrated-plan.json", "recommended-plan.json")
#: An operating-models job: the register, and how the models are solved and priced (docs/contracts.md).
MODELS_FIELDS = {**COMPARISON_FIELDS, "register_csv": str, "complete": bool, "shifts_csv": str,
                 "models": list, "school_services": list, "school_days": int, "other_days": int,
                 "vehicle_prices": dict, **{name: (int, float) for name in MODEL_RATE_FIELDS}}


def _job_request(fields: dict[str, Any], kind: str) -> dict:
    body = _json_body()
    if not isinstance(body, dict):
        raise InputFormatError("expected a JSON object (Content-Type: application/json)", where="body")
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise InputFormatError(f"unknown field(s) {unknown}; known: {sorted(fields)}", where="body")
    for name in ("trip_set_id", "fleet_id"):
        if name not in body:
            raise InputFormatError("missing", where=f"body.{name}")
    for name, kinds in fields.items():
        if name in body and (not isinstance(body[name], kinds) or (isinstance(body[name], bool) and kinds is not bool)):
            raise InputFormatError(f"wrong type: {type(body[name]).__name__}", where=f"body.{name}")
    config, most = current_app.config, limits()
    limit = float(body.get("time_limit_s", config["DEFAULT_SOLVE_SECONDS"] if kind == "solve" else 20))
    if not 0.5 <= limit <= most.solve_seconds:
        raise InputFormatError(f"must be between 0.5 and {most.solve_seconds:g} seconds", where="body.time_limit_s")
    if kind in ("comparison", "clock", "models"):
        if not 1 <= body.get("seeds", 3) <= most.seeds:
            raise InputFormatError(f"must be between 1 and {most.seeds}", where="body.seeds")
        if body.get("seeds", 3) * limit > most.comparison_seconds:
            raise LimitExceeded(f"{body.get('seeds', 3)} seeds of {limit:g} s is {body.get('seeds', 3) * limit:g} s "
                                f"of solving a plan; at most {most.comparison_seconds:g} s a comparison",
                                where="body.seeds")
    if kind == "clock":
        _check_clock_request(body)
    if kind == "contracts":
        _check_contracts_request(body)
    if kind == "models":
        _check_models_request(body)
    if kind == "lots":
        _check_lots_request(body)
    if kind == "week":
        _check_week_request(body, limit, most)
    if "regions" in body and not 1 <= body["regions"] <= 1000:
        raise InputFormatError("must be between 1 and 1000 (1 never splits the day)", where="body.regions")
    if "seed" in body and not 0 <= body["seed"] < 2**31:
        raise InputFormatError("must be between 0 and 2**31 - 1", where="body.seed")
    travel = body.get("travel", "crow-fly")
    if travel not in ("crow-fly", "road", "osrm"):
        raise InputFormatError("must be crow-fly, road or osrm", where="body.travel")
    if travel == "road" and not config["ROADS_PBF"]:
        raise InputFormatError("this server has no road network (ITU_ROADS_PBF is not set)", where="body.travel")
    if travel == "osrm" and not config["OSRM_URL"]:
        raise InputFormatError("this server has no OSRM server (ITU_OSRM_URL is not set)", where="body.travel")
    if body.get("far_points", "warn") not in ("error", "warn"):
        raise InputFormatError("must be error or warn", where="body.far_points")
    return {**body, "time_limit_s": limit, "travel": travel}


def _check_clock_request(body: dict) -> None:
    """What a clock job's body says besides the shift options themselves (checked against the
    trip set in ``_check_shift_options``)."""
    if ("shifts" in body) == ("shifts_csv" in body):
        raise InputFormatError("give the shift options as shifts (a JSON document) or shifts_csv (a CSV file's "
                               "text), one of them", where="body.shifts")
    if body.get("objective", "cost") not in ("cost", "vehicles"):
        raise InputFormatError("must be cost or vehicles", where="body.objective")
    for name, most in (("most_moved", 100), ("max_rounds", 10**7), ("screen_rounds", 10**6)):
        if name in body and not 1 <= body[name] <= most:
            raise InputFormatError(f"must be between 1 and {most:,}", where=f"body.{name}")
    if "search_limit_s" in body:
        most = limits().comparison_seconds
        if not (math.isfinite(body["search_limit_s"]) and 1 <= body["search_limit_s"] <= most):
            raise InputFormatError(f"must be between 1 and {most:g} seconds", where="body.search_limit_s")


def _check_contracts_request(body: dict) -> None:
    """A contracts job's register is there (it is checked against the day when the job runs, which
    fails listing every row, contract and column at fault) and its rules are ones the analysis takes."""
    if "register_csv" not in body:
        raise InputFormatError("missing: the contract register as a CSV file's text (docs/contracts.md)",
                               where="body.register_csv")
    try:
        ContractAnalysisOptions(**{k: body[k] for k in RULE_NAMES if k in body})
    except ProblemError as exc:
        raise InputFormatError(exc.message, where=f"body.{exc.where.rsplit('.', 1)[-1]}") from None


def _check_week_request(body: dict, limit: float, most) -> None:
    """A week job's options; its days are known only once the trip set is read in the worker, which
    refuses a week whose solves take more than a comparison may (``WeekOptions.solve_seconds``)."""
    from optimiser.analysis.week import METHODS

    if body.get("method", "template") not in METHODS:
        raise InputFormatError(f"must be one of {', '.join(METHODS)}", where="body.method")
    tolerance = body.get("tolerance_minutes", 10)
    if not (math.isfinite(tolerance) and 0 <= tolerance <= 180):
        raise InputFormatError("must be between 0 and 180 minutes", where="body.tolerance_minutes")
    for name in ("consistent", "preferred", "free"):
        if not all(isinstance(item, str) for item in body.get(name, [])):
            raise InputFormatError("must be a list of service names", where=f"body.{name}")
    try:  # a service named in two of the lists is refused here too, naming the second
        seconds = week_options({**body, "time_limit_s": limit}).solve_seconds(1)
    except ProblemError as exc:
        raise InputFormatError(exc.message, where=f"body.{exc.where.rsplit('.', 1)[-1]}") from None
    if seconds > most.comparison_seconds:
        raise LimitExceeded(f"even a week of one day runs {seconds:g} s of solving (docs/week.md); at most "
                            f"{most.comparison_seconds:g} s of solving a job", where="body.time_limit_s")


def _check_models_request(body: dict) -> None:
    """An operating-models job's register is there and its settings make options (the register
    and any clock moves are checked against the day when the job runs)."""
    from .jobs import models_options

    if "register_csv" not in body:
        raise InputFormatError("missing: the contract register as a CSV file's text (docs/contracts.md)",
                               where="body.register_csv")
    try:
        models_options(body)
    except ProblemError as exc:
        # a vehicle's price is named within vehicle_prices; every other setting is a field of the body
        where = exc.where.split(".")[-1]
        if where in body.get("vehicle_prices", {}) and where not in body:
            where = f"vehicle_prices.{where}"
        raise InputFormatError(exc.message, where=f"body.{where}") from None


def _check_in_house_fleet(options: dict):
    """The in-house model's fleet is the fleet's vehicles times ``in_house_fleet_factor``: it must
    stay within the vehicles a problem may have, as the fleet itself must."""
    def check(trip_set) -> None:
        fleet = _owned(Fleet, options["fleet_id"], "body.fleet_id")
        factor = options.get("in_house_fleet_factor", 3.0)
        if fleet.vehicle_count is None or "in_house" not in options.get("models", ["in_house"]):
            return  # a fleet stored before its vehicles were counted: the worker's problem limits hold
        if fleet.vehicle_count * factor > limits().vehicles:
            raise LimitExceeded(f"{fleet.vehicle_count:,} vehicles times {factor:g} is more than "
                                f"{limits().vehicles:,}, the most a problem may have", where="body.in_house_fleet_factor")
    return check


def _check_lots_request(body: dict) -> None:
    """A lots job names its plan and asks for lots the options allow (the plan itself is checked
    in ``_check_plan_job`` once the caller's inputs are known)."""
    if "plan_job_id" not in body:
        raise InputFormatError("missing: the job whose plan to put in lots", where="body.plan_job_id")
    if body.get("plan_result", "plan.json") not in PLAN_RESULTS:
        raise InputFormatError(f"must be one of {', '.join(PLAN_RESULTS)}", where="body.plan_result")
    for name in ("group_by", "term_time_services"):
        if not all(isinstance(item, str) for item in body.get(name, [])):
            raise InputFormatError("must be a list of strings", where=f"body.{name}")
    try:
        lot_options_from_fields({k: body[k] for k in LOT_FIELDS + COST_FIELDS if k in body})
    except ProblemError as exc:
        raise InputFormatError(exc.message, where=f"body.{exc.where.rsplit('.', 1)[-1]}") from None


def _check_plan_job(options: dict) -> None:
    """The plan a lots job starts from: one of the caller's jobs, succeeded, on the same trip set
    and fleet, with the plan result named."""
    plan_job = _owned(Job, options["plan_job_id"], "body.plan_job_id")
    if plan_job.state != "succeeded":
        raise Conflict(f"job {plan_job.id} has {plan_job.state}, not succeeded: it has no plan yet",
                       where="body.plan_job_id")
    if (plan_job.trip_set_id, plan_job.fleet_id) != (options["trip_set_id"], options["fleet_id"]):
        raise InputFormatError(f"job {plan_job.id} planned trip set {plan_job.trip_set_id} on fleet "
                               f"{plan_job.fleet_id}; give those", where="body.plan_job_id")
    name = options.get("plan_result", "plan.json")
    found = connection().scalar(select(func.count()).select_from(JobResult).where(
        JobResult.job_id == plan_job.id, JobResult.name == name))
    if not found:
        raise InputFormatError(f"job {plan_job.id} has no result {name}", where="body.plan_result")


def _check_shift_options(options: dict, trip_set: TripSet) -> None:
    """The shift options against the trip set's places: a 422 listing every bad row and column."""
    from geodata.readers import read_trips

    from .jobs import clock_shifts

    with store().session() as s:
        content = s.scalar(select(TripSet.content).where(TripSet.id == trip_set.id))
    table = _with_file(content, "trips", trip_set.file_format, lambda p: read_trips(p, services=None))
    names = {}
    for row in table.rows:
        for end in ("pickup", "dropoff"):
            if row.text.get(f"{end}_name"):
                names.setdefault(getattr(row, f"{end}_id"), row.text[f"{end}_name"])
    clock_shifts(options, table.locations, names)


def _submit(kind: str, fields: dict) -> tuple[Response, int, dict]:
    return _queue(kind, _job_request(fields, kind))


def _queue(kind: str, options: dict, check=None) -> tuple[Response, int, dict]:
    """Queue a job of ``kind`` on ``options`` (which name its trip set and fleet), or answer with
    the job already made for the request's Idempotency-Key. ``check(trip_set)``: a kind's own
    check of the submission against its trip set's stored counts and format."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= 200:
        raise InputFormatError("must be 1 to 200 characters", where="header.Idempotency-Key")
    fingerprint = hashlib.sha256(json.dumps({"kind": kind, **options}, sort_keys=True).encode()).hexdigest()
    now = utcnow()
    trip_set, fleet, pace, replay = _submission_inputs({**options, "fingerprint": fingerprint}, key, now)
    if replay is not None:
        return replay
    # only what is cheap is checked here (fields, references, sizes, limits): building the problem
    # (the travel matrix, windows that cannot be met) is the worker's, and a problem found there
    # fails the job with the same field-level problems a 422 would list
    _check_job_size(trip_set, fleet)
    if kind == "clock":
        _check_shift_options(options, trip_set)
    if kind == "lots":
        _check_plan_job(options)
    if check is not None:
        check(trip_set)
    _check_key_pace(*pace, now)
    job = SimpleNamespace(
        id=new_id("job"), owner=g.owner, kind=kind, trip_set_id=trip_set.id, fleet_id=fleet.id,
        options={k: v for k, v in options.items() if k not in ("trip_set_id", "fleet_id")} | {
            "fingerprint": fingerprint},
        idempotency_key=key, state="queued", attempts=0, cancel_requested=False,
        progress={"time_limit_s": options["time_limit_s"]}, error=None, summary=None, created_at=now,
        started_at=None, finished_at=None, dispatched_by=None, heartbeat_at=None)
    try:  # one Core insert (no unit of work to flush), committed as it runs
        with store().write_turn:
            JOB_INSERT.run(connection(), vars(job))
    except IntegrityError:  # the same key arrived twice at once: the other request won
        connection().rollback()
        replay = _idempotent_replay(key, fingerprint)
        if replay is not None:
            return replay
        raise
    runner = current_app.extensions.get("itu.runner")
    if runner is not None:
        runner.wake()
    body = job_body(job)
    return jsonify(body), 202, {"Location": body["url"]}


def _check_job_size(trip_set: TripSet, fleet: Fleet) -> None:
    """Refuse a job whose problem would not fit, from the counts stored at upload: before the
    travel matrix is built, which is where the memory goes."""
    most = limits()
    if trip_set.location_count is None or fleet.vehicle_count is None:  # stored before these were counted
        from geodata.readers import read_fleet, read_trips

        with store().session() as s:
            trips_file = s.scalar(select(TripSet.content).where(TripSet.id == trip_set.id))
            fleet_content = s.scalar(select(Fleet.content).where(Fleet.id == fleet.id))
        table = _with_file(trips_file, "trips", trip_set.file_format, lambda p: read_trips(p, services=None))
        fleet_file = _with_file(fleet_content, "fleet", fleet.file_format, read_fleet)
        locations, vehicles = len(table.locations), sum(v["count"] for v in fleet_file.vehicle_types)
    else:
        locations, vehicles = trip_set.location_count, fleet.vehicle_count
    places = locations + fleet.vehicle_types  # each vehicle type adds at most its depot
    if trip_set.trip_count > most.trips_per_set:
        raise LimitExceeded(f"{trip_set.trip_count:,} trips; at most {most.trips_per_set:,}", where="body.trip_set_id")
    if places > most.locations:
        raise LimitExceeded(f"{places:,} places with the fleet's depots; at most {most.locations:,}",
                            where="body.trip_set_id")
    if vehicles > most.vehicles:
        raise LimitExceeded(f"{vehicles:,} vehicles; at most {most.vehicles:,}", where="body.fleet_id")
    needed = estimated_memory_mb(trip_set.trip_count, places, vehicles)
    if needed > most.job_memory_mb:
        raise LimitExceeded(f"this job would need about {needed:,.0f} MB of memory ({trip_set.trip_count:,} trips, "
                            f"{places:,} places, {vehicles:,} vehicles); at most {most.job_memory_mb:,.0f} MB a job",
                            where="body")


def _check_key_pace(recent: int, unfinished: int, now: dt.datetime) -> None:
    """At most so many submissions a minute and so many unfinished jobs per key, counted in the
    database (``SUBMISSION``) so that every service process sees the same figures."""
    most = limits()
    if recent >= most.submissions_per_minute:
        oldest = connection().scalar(OLDEST_RECENT, {"owner": g.owner, "since": now - PACE_WINDOW})
        wait = (oldest + PACE_WINDOW - now).total_seconds() if oldest else 1
        raise TooManyRequests(f"more than {most.submissions_per_minute} jobs submitted in a minute with this key",
                              where="Authorization", retry_after_s=max(1, math.ceil(wait)))
    if unfinished >= most.queued_jobs_per_key:
        raise TooManyRequests(f"this key has {most.queued_jobs_per_key} jobs waiting or running, the most it may "
                              f"have; submit more when some have finished",
                              where="Authorization",
                              retry_after_s=math.ceil(current_app.config["DEFAULT_SOLVE_SECONDS"]))


def _idempotent_replay(key: str, fingerprint: str):
    existing = connection().execute(REPLAY, {"owner": g.owner, "key": key}).first()
    if existing is None:
        return None
    if existing.options.get("fingerprint") != fingerprint:
        raise Conflict("this Idempotency-Key was used for a different request", where="header.Idempotency-Key")
    body = job_body(existing)
    return jsonify(body), 202, {"Location": body["url"], "Idempotent-Replayed": "true"}


def job_url(job_id: str) -> str:
    """What ``url_for("v1.get_job", job_id=job_id)`` gives, put together directly: every submission
    and status answer carries it, and building it through the URL map cost as much as reading the
    job. Job ids are the service's own (letters, digits, ``_``), with nothing to quote."""
    return f"{request.script_root}{bp.url_prefix}/jobs/{job_id}"


def job_body(job: Job) -> dict:
    url = job_url(job.id)
    body = {"id": job.id, "kind": job.kind, "state": job.state, "trip_set_id": job.trip_set_id,
            "fleet_id": job.fleet_id, "options": {k: v for k, v in job.options.items() if k != "fingerprint"},
            "attempts": job.attempts, "cancel_requested": job.cancel_requested, "progress": job.progress,
            "error": job.error, "summary": job.summary, "created_at": _iso(job.created_at),
            "started_at": _iso(job.started_at), "finished_at": _iso(job.finished_at), "url": url,
            "cancel_url": f"{url}/cancel", "results": {}}
    if job.state in ("succeeded", "cancelled"):
        names = connection().scalars(select(JobResult.name).where(JobResult.job_id == job.id)
                                     .order_by(JobResult.name)).all()
        body["results"] = {n: url_for("v1.get_job_result", job_id=job.id, name=n) for n in names}
    return body


@bp.post("/solve-jobs")
def create_solve_job():
    return _submit("solve", SOLVE_FIELDS)


@bp.post("/comparison-jobs")
def create_comparison_job():
    return _submit("comparison", COMPARISON_FIELDS)


@bp.post("/clock-jobs")
def create_clock_job():
    return _submit("clock", CLOCK_FIELDS)


@bp.post("/contracts-jobs")
def create_contracts_job():
    return _submit("contracts", CONTRACTS_FIELDS)


@bp.post("/models-jobs")
def create_models_job():
    options = _job_request(MODELS_FIELDS, "models")
    return _queue("models", options, _check_in_house_fleet(options))


@bp.post("/lots-jobs")
def create_lots_job():
    return _submit("lots", LOTS_FIELDS)


@bp.post("/week-jobs")
def create_week_job():
    return _submit("week", WEEK_FIELDS)


# -- re-planning a stored plan ------------------------------------------------------------------------------
#: A re-plan's body: the changes document of ``itu replan`` (``now``, ``changes``), the disruption
#: prices, and the optional full search (docs/replanning.md).
REPLAN_FIELDS = {"now": str, "changes": list, "prices": dict, "resolve": bool, "time_limit_s": (int, float),
                 "seed": int}
#: Each change kind's fields and their JSON types; the first after ``kind`` are required.
CHANGE_FIELDS = {"cancel": {"trip_id": str},
                 "move_window": {"trip_id": str, **{name: str for name in WINDOW_FIELDS}},
                 "vehicle_off": {"vehicle_type": str, "vehicle_number": int, "from": str},
                 "add": {"trip": dict}}
REQUIRED_CHANGE_FIELDS = {"cancel": ("trip_id",), "move_window": ("trip_id",),
                          "vehicle_off": ("vehicle_type", "vehicle_number"), "add": ("trip",)}
#: The disruption prices a body may set: pounds a passenger moved to another vehicle, pounds a
#: pickup moved beyond the tolerance, and the tolerance in minutes.
PRICE_FIELDS = ("moved_vehicle", "moved_pickup", "tolerance_minutes")
#: Trip file columns an added trip may carry at most (a row, not a document).
ADDED_TRIP_COLUMNS_MAX = 100


def _check_fields(value: dict, fields: dict, where: str) -> None:
    """Every key of ``value`` one of ``fields``, each of its JSON type (a number is not a flag)."""
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise InputFormatError(f"unknown field(s) {unknown}; known: {sorted(fields)}", where=where)
    for name, kinds in fields.items():
        if name in value and (not isinstance(value[name], kinds) or (isinstance(value[name], bool) and kinds is not bool)):
            raise InputFormatError(f"wrong type: {type(value[name]).__name__}", where=f"{where}.{name}")


def _check_clock(value, where: str) -> None:
    try:
        parse_clock(value, where=where)
    except ProblemError as exc:
        raise InputFormatError(exc.message, where=where) from None


def _check_change(change, where: str) -> None:
    """One change's shape: its kind, its fields and their types, its times readable. Whether it
    fits the day (a known trip or vehicle, not in the past) is the job's to find, on the day."""
    if not isinstance(change, dict) or change.get("kind") not in CHANGE_FIELDS:
        raise InputFormatError(f"expected an object whose kind is one of {', '.join(CHANGE_FIELDS)}",
                               where=f"{where}.kind")
    kind = change["kind"]
    _check_fields(change, {"kind": str, **CHANGE_FIELDS[kind]}, where)
    for name in REQUIRED_CHANGE_FIELDS[kind]:
        if name not in change:
            raise InputFormatError("missing", where=f"{where}.{name}")
    for name in (*WINDOW_FIELDS, "from"):
        if change.get(name) not in (None, ""):
            _check_clock(change[name], f"{where}.{name}")
    if kind == "add":
        row = change["trip"]
        if not isinstance(row.get("id"), (str, int)) or isinstance(row.get("id"), bool) or not str(row["id"]).strip():
            raise InputFormatError("an added trip is a trip file's row with an id", where=f"{where}.trip.id")
        if len(row) > ADDED_TRIP_COLUMNS_MAX:
            raise InputFormatError(f"more than {ADDED_TRIP_COLUMNS_MAX} columns", where=f"{where}.trip")
        for column, cell in row.items():
            if isinstance(cell, (dict, list)):
                raise InputFormatError("a trip file's cell: text, a number or null", where=f"{where}.trip.{column}")


def _replan_request(plan_job) -> dict:
    """The re-plan's options from its body, checked at the edge: its fields and their types,
    the changes' shapes and times, the prices; with the published plan's inputs and travel."""
    body = _json_body()
    if not isinstance(body, dict):
        raise InputFormatError("expected a JSON object (Content-Type: application/json)", where="body")
    _check_fields(body, REPLAN_FIELDS, "body")
    if "changes" not in body:
        raise InputFormatError("missing: the list of changes (docs/replanning.md)", where="body.changes")
    if len(body["changes"]) > limits().trips_per_set:
        raise LimitExceeded(f"{len(body['changes']):,} changes; at most {limits().trips_per_set:,}",
                            where="body.changes")
    if "now" in body:
        _check_clock(body["now"], "body.now")
    for i, change in enumerate(body["changes"]):
        _check_change(change, f"body.changes[{i}]")
    prices = body.get("prices", {})
    _check_fields(prices, {name: (int, float) for name in PRICE_FIELDS}, "body.prices")
    for name, value in prices.items():
        if not (math.isfinite(value) and value >= 0):
            raise InputFormatError("must be a number of at least 0", where=f"body.prices.{name}")
    limit = float(body.get("time_limit_s", 10))
    if not 0.5 <= limit <= limits().solve_seconds:
        raise InputFormatError(f"must be between 0.5 and {limits().solve_seconds:g} seconds",
                               where="body.time_limit_s")
    if "seed" in body and not 0 <= body["seed"] < 2**31:
        raise InputFormatError("must be between 0 and 2**31 - 1", where="body.seed")
    published = {k: plan_job.options[k] for k in ("travel", "far_points") if k in plan_job.options}
    return {**body, **published, "time_limit_s": limit, "plan_job_id": plan_job.id,
            "trip_set_id": plan_job.trip_set_id, "fleet_id": plan_job.fleet_id}


def _check_added_trips(options: dict):
    """Added trips are rows of the trip file: a CSV or GeoJSON trip set takes them."""
    def check(trip_set) -> None:
        if trip_set.file_format not in ("csv", "geojson"):
            for i, change in enumerate(options["changes"]):
                if change["kind"] == "add":
                    raise InputFormatError(f"a trip can be added to a trip set uploaded as CSV or GeoJSON; this "
                                           f"one is {trip_set.file_format}", where=f"body.changes[{i}].trip")
    return check


@bp.post("/plans/<plan_id>/changes")
def create_replan_job(plan_id: str):
    """Re-plan a stored plan (a finished solve job's) after the day's changes: a job like the
    others, whose results are the new plan, the calls to make and the map. The plan itself is
    read, never written."""
    plan_job = _owned(Job, plan_id, "path.plan_id")
    if plan_job.kind != "solve":
        raise NotFound(f"no plan {plan_id!r}: it is a {plan_job.kind} job; re-plan a solve job's plan "
                       "with all the day's changes", where="path.plan_id")
    if plan_job.state != "succeeded":
        raise NotReady(f"the solve job is {plan_job.state}; its plan can be re-planned once it has succeeded",
                       where="path.plan_id")
    options = _replan_request(plan_job)
    return _queue("replan", options, _check_added_trips(options))


@bp.get("/jobs")
def list_jobs():
    query = select(Job).where(Job.owner == g.owner)
    count = select(func.count()).select_from(Job).where(Job.owner == g.owner)
    filters = {}
    state = request.args.get("state")
    if state is not None:
        if state not in JOB_STATES:
            raise InputFormatError(f"unknown state; known: {', '.join(JOB_STATES)}", where="query.state")
        query, count, filters["state"] = query.where(Job.state == state), count.where(Job.state == state), state
    kind = request.args.get("kind")
    if kind is not None:
        if kind not in JOB_KINDS:
            raise InputFormatError(f"must be {', '.join(JOB_KINDS[:-1])} or {JOB_KINDS[-1]}", where="query.kind")
        query, count, filters["kind"] = query.where(Job.kind == kind), count.where(Job.kind == kind), kind
    return _page(query.order_by(Job.created_at.desc(), Job.id), count, job_body, "v1.list_jobs", **filters)


@bp.get("/jobs/<job_id>")
def get_job(job_id: str):
    return jsonify(job_body(_owned(Job, job_id)))


@bp.post("/jobs/<job_id>/cancel")
def cancel_job(job_id: str):
    job = _owned(Job, job_id)
    if job.state in FINAL_STATES:
        raise Conflict(f"the job has already {job.state}", where="path.id")
    with store().session() as s, s.begin():
        live = s.get(Job, job_id, with_for_update=True)
        live.cancel_requested = True
        if live.state == "queued" and live.dispatched_by is None:  # nobody has it yet: done at once
            live.state, live.finished_at = "cancelled", utcnow()
            live.error = {"code": "cancelled", "message": "cancelled before it started"}
        job = live
    return jsonify(job_body(job)), 202


@bp.get("/jobs/<job_id>/results/<name>")
def get_job_result(job_id: str, name: str):
    job = _owned(Job, job_id)
    with store().session() as s:
        result = s.get(JobResult, (job_id, name))
    if job.state not in ("succeeded", "cancelled"):
        raise NotReady(f"the job is {job.state}; results exist once it has succeeded", where="path.id")
    if result is None:
        raise NotFound(f"no result {name!r}", where="path.name")
    return Response(result.content, mimetype=result.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{job_id}-{name}"',
                             "Content-Security-Policy": RESULT_POLICY})


@bp.after_request
def no_type_guessing(response: Response) -> Response:
    """Every answer of the API is what its Content-Type says; a browser must not sniff another."""
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
