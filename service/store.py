"""Persistence: API keys, trip sets, fleets and jobs, in SQLite by default or PostgreSQL.

SQLAlchemy 2 models; the schema is owned by Alembic (``service/migrations``) and brought up
to date by ``migrate(url)`` when the service starts. Job state lives here, not in memory, so
a restart of the service or the death of a solver worker loses nothing.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import secrets
import sqlite3
import threading
import uuid
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import (JSON, Boolean, DateTime, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint,
                        bindparam, create_engine, event, select, update)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from .driver_statements import DriverStatement

log = logging.getLogger(__name__)

#: What a job can be doing. ``queued`` and ``running`` are live; the rest are final.
JOB_STATES = ("queued", "running", "succeeded", "failed", "cancelled")
FINAL_STATES = ("succeeded", "failed", "cancelled")
#: The owner of everything created in development mode, where no API key is asked for.
DEVELOPMENT_OWNER = "development"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class ApiKey(Base):
    """A key as stored: only its SHA-256 (keys are 32 random bytes, so a fast hash is enough)."""

    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class TripSet(Base):
    __tablename__ = "trip_sets"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(200))
    file_format: Mapped[str] = mapped_column(String(10))  # csv, geojson, gpkg
    content: Mapped[bytes] = mapped_column(LargeBinary)  # the file as uploaded
    trip_count: Mapped[int] = mapped_column(Integer)
    #: distinct pickup and drop-off places (none for sets stored before limits were counted)
    location_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    services: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class Fleet(Base):
    __tablename__ = "fleets"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(200))
    file_format: Mapped[str] = mapped_column(String(10))  # csv, json
    content: Mapped[bytes] = mapped_column(LargeBinary)
    vehicle_types: Mapped[int] = mapped_column(Integer)
    #: vehicles of all types together (none for fleets stored before limits were counted)
    vehicle_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class Job(Base):
    """A solve or a comparison: its inputs, where it stands, and its result once done."""

    __tablename__ = "jobs"
    __table_args__ = (UniqueConstraint("owner", "idempotency_key", name="uq_jobs_owner_idempotency_key"),
                      # the per-key pace check of every submission (migration 0003)
                      Index("ix_jobs_owner_created_at", "owner", "created_at"),
                      Index("ix_jobs_owner_state", "owner", "state"))
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    #: read through the (owner, ...) indexes above, never alone (migration 0004)
    owner: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))  # solve, comparison
    trip_set_id: Mapped[str] = mapped_column(ForeignKey("trip_sets.id"))
    fleet_id: Mapped[str] = mapped_column(ForeignKey("fleets.id"))
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    state: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    #: Which service instance handed the job to the cluster, and when it last heard of it.
    dispatched_by: Mapped[str | None] = mapped_column(String(60), nullable=True)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class JobResult(Base):
    """The files a finished job produced (plan JSON, GeoJSON, CSV, map, report), by name."""

    __tablename__ = "job_results"
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(80))
    content: Mapped[bytes] = mapped_column(LargeBinary)


class HealthCheck(Base):
    """One row the health check rewrites: the proof that the database still takes writes."""

    __tablename__ = "health_checks"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    checked_at: Mapped[dt.datetime] = mapped_column(DateTime)


# -- engines -------------------------------------------------------------------------------------------
#: Connections each process keeps open, and how many more it may open for a moment. A request
#: holds one from its first statement to its end, so a gunicorn worker needs as many as it has
#: threads (8 by default): beyond the pool, a connection is opened and closed for each use (on
#: SQLite with its pragmas; SQLAlchemy's default of 5 did that under the default 8 threads).
POOL_SIZE = 10
POOL_OVERFLOW = 20


@dataclass(frozen=True)
class LogCheckpoints:
    """When SQLite's write-ahead log is copied back into the database file (a checkpoint).

    SQLite's default runs a checkpoint inside whichever commit takes the log past 1,000 pages: on
    the service that was a submission, which then took about 3 ms instead of 0.04 (and held the
    process's write turn meanwhile, so the submissions behind it waited too), about every hundred
    submissions. A thread of each ``Store`` checkpoints instead, off the request path; commits
    checkpoint only past ``commit_pages``, so that the log stays bounded if that thread cannot run."""

    #: how often the store's thread checkpoints (seconds); one with nothing to copy costs microseconds
    every_s: float = 1.0
    #: a commit that takes the log past this many pages checkpoints itself (SQLite's
    #: ``wal_autocheckpoint``), as SQLite does by default at 1,000
    commit_pages: int = 10_000


def make_engine(url: str, checkpoints: LogCheckpoints | None = None, **options) -> Engine:
    """An engine on ``url`` with the service's pool and, on SQLite, its pragmas; ``options`` go to
    ``create_engine`` (``isolation_level``). ``checkpoints``: SQLite's log is checkpointed by a
    ``LogCheckpointer`` rather than by the commits (None: by the commits, SQLite's default)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, pool_size=POOL_SIZE,
                               max_overflow=POOL_OVERFLOW, **options)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record):  # several processes write: WAL and a busy timeout
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # in WAL mode NORMAL syncs at checkpoints rather than at every commit: a commit survives
            # the service or its machine's processes dying (kill -9 included) and the database is
            # never corrupted; only a power cut or an OS crash can take back the last commits. FULL
            # made every submission wait for the disk (about 10 ms on this machine's, BENCHMARKS.md)
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            if checkpoints is not None:
                cursor.execute(f"PRAGMA wal_autocheckpoint={int(checkpoints.commit_pages)}")
            cursor.close()

        return engine
    # No ping before each use: it was a round trip on every request. A connection the server
    # dropped (a restart) fails its request with a 503 and is then replaced: in the pool, all of
    # them at once; a gunicorn thread's own (``Store.thread_connection``), at its thread's next request.
    return create_engine(url, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW, **options)


def migrate(url: str) -> None:
    """Bring the database schema up to the latest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")


class LogCheckpointer:
    """A thread that checkpoints a SQLite database's write-ahead log every ``LogCheckpoints.every_s``
    on a connection of its own (``PRAGMA wal_checkpoint(PASSIVE)``: it copies what no reader still
    needs and waits for nobody). The driver lets go of the interpreter while SQLite works, so the
    request threads go on meanwhile. Several processes may each run one: SQLite lets one checkpoint
    run at a time, and the others find nothing left to copy or try again a second later."""

    def __init__(self, path: str, checkpoints: LogCheckpoints):
        self.path, self.checkpoints = path, checkpoints
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="itu-log-checkpoints", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        connection = None
        try:
            while not self._stop.wait(self.checkpoints.every_s):
                try:
                    if connection is None:  # read-write, never create: a file removed stays removed
                        connection = sqlite3.connect(f"file:{quote(self.path)}?mode=rw", uri=True, timeout=1)
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # locked or gone: the commits' own checkpoints still bound the log
                    log.debug("checkpoint of %s not done: %s", self.path, exc)
        finally:
            if connection is not None:
                connection.close()

    def stop(self, wait: bool = True) -> None:
        self._stop.set()
        if wait:
            self._thread.join(timeout=10)


def _database_file(url: str) -> str | None:
    """The file of a SQLite URL, or None: another database, SQLite in memory, or a URL in SQLite's
    own ``file:`` form (``?uri=true``), whose path the checkpointer does not take apart (its
    commits then checkpoint as SQLite's default does)."""
    parsed = make_url(url)
    if (not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:")
            or parsed.query.get("uri") in ("true", "1")):
        return None
    return parsed.database


#: The key lookup every authenticated request makes, built once.
KEY_OWNER = DriverStatement(select(ApiKey.id, ApiKey.revoked_at).where(ApiKey.key_hash == bindparam("key_hash")))


class Store:
    """Sessions over one database; every query is scoped to an owner by the caller."""

    def __init__(self, url: str, checkpoints: LogCheckpoints | None = LogCheckpoints()):
        self.url = url
        database_file = _database_file(url)
        if database_file is None:
            checkpoints = None
        self.engine = make_engine(url, checkpoints)
        #: The API's requests: each statement commits on its own. A status request is then one
        #: round trip on PostgreSQL (no BEGIN, no ROLLBACK), a submission two (its reads, its
        #: insert); nothing an API request does needs statements to be atomic together (two
        #: submissions with one Idempotency-Key meet in the unique constraint). A pool of its own,
        #: whose connections are made in autocommit once: set per checkout on a shared pool, the
        #: level was set and reset around every request (on SQLite, a PRAGMA each time).
        self.requests = make_engine(url, checkpoints, isolation_level="AUTOCOMMIT")
        #: SQLite's log checkpointed off the request path (``LogCheckpoints``)
        self.checkpointer = LogCheckpointer(database_file, checkpoints) if checkpoints is not None else None
        if self.checkpointer is not None:  # a store dropped without ``dispose`` (a cache evicting it) stops it too
            weakref.finalize(self, self.checkpointer.stop, False)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        #: Held by a request thread while it writes. SQLite takes one writer at a time, and a
        #: writer that finds the file locked sleeps (1, 2, 5 ms and more) before it tries again;
        #: the request threads of one process wait for each other here instead, and go on the
        #: moment the last one is done. Writers in other processes still meet in SQLite's lock.
        #: PostgreSQL takes concurrent inserts: nothing to wait for.
        self.write_turn = threading.Lock() if url.startswith("sqlite") else contextlib.nullcontext()
        #: the request threads' own connections (``thread_connection``), and all of them for ``dispose``
        self._threads = threading.local()
        self._kept: list[Connection] = []
        self._kept_lock = threading.Lock()

    def thread_connection(self) -> Connection:
        """The calling thread's own connection to the API's pool, kept from one request to the
        next (``CONNECTION_PER_THREAD``: gunicorn's threads live as long as their worker). Taking
        a connection from the pool and giving it back at every request cost as much as a status
        request's statement, and the pool's lock made the threads wait for each other. One that
        was closed (the database dropped it, and its request gave it back) is replaced."""
        found = getattr(self._threads, "connection", None)
        if found is None or found.closed:
            found = self._threads.connection = self.requests.connect()
            with self._kept_lock:
                self._kept = [kept for kept in self._kept if not kept.closed] + [found]
        return found

    def dispose(self) -> None:
        """Close every connection, the threads' own included (the service stops)."""
        with self._kept_lock:
            kept, self._kept = self._kept, []
        for found in kept:
            try:
                found.close()
            except Exception:  # noqa: BLE001 - one the database dropped already: nothing to close
                pass
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self.requests.dispose()
        self.engine.dispose()

    def session(self) -> Session:
        return self.sessions()

    def write_failure(self) -> str | None:
        """Why the database does not take a write now (one small row is rewritten), or None."""
        try:
            with self.session() as s, s.begin():
                if not s.execute(update(HealthCheck).where(HealthCheck.id == "probe")
                                 .values(checked_at=utcnow())).rowcount:
                    s.add(HealthCheck(id="probe", checked_at=utcnow()))
        except IntegrityError:  # another process wrote the first row at the same moment: writes work
            return None
        except SQLAlchemyError as exc:
            reason = getattr(exc, "orig", None) or exc
            return f"{type(reason).__name__}: {str(reason).splitlines()[0] if str(reason) else ''}".rstrip(": ")
        return None

    # -- API keys --------------------------------------------------------------------------------------
    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    def create_key(self, name: str) -> tuple[ApiKey, str]:
        """A new key: returns the record and the key itself, which is shown once and never stored."""
        key = "itu_" + secrets.token_urlsafe(32)
        record = ApiKey(id=new_id("key"), name=name, key_hash=self.hash_key(key), created_at=utcnow())
        with self.session() as s, s.begin():
            s.add(record)
        return record, key

    def owner_of_key(self, key: str, connection: Connection | None = None) -> str | None:
        """The key's owner, or None for a key unknown or revoked. Asked afresh on every request
        (one indexed Core statement, on the request's own ``connection`` when given), so that a
        revocation holds from the next request on, in every service process."""
        if connection is None:  # the API's pool: autocommit, as the statement's driver path expects
            with self.requests.connect() as own:
                return self.owner_of_key(key, own)
        record = KEY_OWNER.first(connection, {"key_hash": self.hash_key(key)})
        if record is None or record.revoked_at is not None:
            return None
        return record.id

    def list_keys(self) -> list[ApiKey]:
        with self.session() as s:
            return list(s.scalars(select(ApiKey).order_by(ApiKey.created_at)))

    def revoke_key(self, key_id: str) -> bool:
        with self.session() as s, s.begin():
            done = s.execute(update(ApiKey).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
                             .values(revoked_at=utcnow()))
            return done.rowcount == 1
