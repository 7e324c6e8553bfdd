"""The service's SQLite store under the request path: where its write-ahead log is checkpointed,
and that every read of the jobs table the hot paths make is an index search (issue 31)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy import event

from service import create_app, stop_app
from service.runner import JOBS_IN_THE_CLUSTER_BY_KEY, QUEUE_HEAD
from service.store import LogCheckpoints, Store, migrate

ROWS = 3000  # one commit each: about 7,000 pages of log, seven of SQLite's default checkpoints


def insert_rows(store: Store, first: int = 0) -> None:
    with store.requests.connect() as connection:  # autocommit: each insert commits, as a submission does
        for n in range(first, first + ROWS):
            connection.exec_driver_sql("INSERT INTO health_checks (id, checked_at) VALUES (?, '2026-12-07')",
                                       (f"row-{n:05d}-{'x' * 40}",))


def fresh_store(folder: Path, checkpoints: LogCheckpoints | None) -> tuple[Store, Path]:
    path = folder / "itu.sqlite3"
    folder.mkdir()
    migrate(f"sqlite:///{path}")
    return Store(f"sqlite:///{path}", checkpoints), path


def test_commits_leave_the_log_to_the_stores_own_checkpoints(tmp_path):
    # SQLite's default: the commit that takes the log past 1,000 pages copies it into the file
    store, path = fresh_store(tmp_path / "default", None)
    before = path.stat().st_size
    insert_rows(store)
    store.dispose()
    assert path.stat().st_size > before

    # the service's: not the commits (the store's thread is held back for the whole test) ...
    store, path = fresh_store(tmp_path / "held-back", LogCheckpoints(every_s=3600, commit_pages=1_000_000))
    before = path.stat().st_size
    insert_rows(store)
    assert path.stat().st_size == before, "a commit copied the log into the database file itself"
    store.dispose()
    assert not store.checkpointer._thread.is_alive()

    # ... but the store's thread, soon after
    store, path = fresh_store(tmp_path / "service", LogCheckpoints(every_s=0.2))
    try:
        before = path.stat().st_size
        insert_rows(store)
        deadline = time.monotonic() + 30
        while path.stat().st_size == before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert path.stat().st_size > before, "the store's thread never checkpointed the log"
    finally:
        store.dispose()


def test_a_store_dropped_without_dispose_stops_its_thread(tmp_path):
    import gc

    store, _ = fresh_store(tmp_path / "db", LogCheckpoints(every_s=0.1))
    thread = store.checkpointer._thread
    assert thread.is_alive()
    del store
    gc.collect()
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_without_the_stores_thread_the_commits_still_bound_the_log(tmp_path):
    pages = 200
    store, path = fresh_store(tmp_path / "db", LogCheckpoints(every_s=3600, commit_pages=pages))  # no thread
    try:
        insert_rows(store)
        log_pages = os.path.getsize(f"{path}-wal") / 4096
        # a commit past ``pages`` checkpoints, and the log then starts again from its beginning
        assert log_pages < 2 * pages, f"the log grew to {log_pages:.0f} pages"
        assert path.stat().st_size > 100 * 4096  # the rows reached the database file
    finally:
        store.dispose()


def explained(connection, sql: str) -> list[str]:
    return [row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]


def test_every_read_of_jobs_on_the_hot_paths_searches_an_index(tmp_path, rutland):
    """A submission, a status request, the job lists and the runner's look at its queue each find
    their rows through an index, however many jobs are stored: a full scan of the jobs table would
    make every request slower as the service's history grows."""
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'itu.sqlite3'}", "DEV_MODE": True,
                      "BIND_HOST": "127.0.0.1", "RUNNER": False, "SEED_EXAMPLE": False})
    store = app.extensions["itu.store"]
    statements: list[str] = []
    for engine in (store.engine, store.requests):
        event.listen(engine, "connect", lambda dbapi, _record: dbapi.set_trace_callback(statements.append))
    try:
        client = app.test_client()
        trips = client.post("/v1/trip-sets?name=r", data=(rutland / "trips.csv").read_bytes(),
                            content_type="text/csv").get_json()
        fleet = client.post("/v1/fleets?name=r", data=(rutland / "fleet.json").read_bytes(),
                            content_type="application/json").get_json()
        for seed in range(3):
            job = client.post("/v1/solve-jobs", json={"trip_set_id": trips["id"], "fleet_id": fleet["id"],
                                                      "seed": seed}, headers={"Idempotency-Key": f"k{seed}"})
            assert job.status_code == 202, job.get_data(as_text=True)
        replay = client.post("/v1/solve-jobs", json={"trip_set_id": trips["id"], "fleet_id": fleet["id"], "seed": 0},
                             headers={"Idempotency-Key": "k0"})
        assert replay.headers.get("Idempotent-Replayed") == "true"
        for url in (job.get_json()["url"], "/v1/jobs", "/v1/jobs?state=queued", "/v1/jobs?kind=solve"):
            assert client.get(url).status_code == 200
        reads = [sql for sql in statements if sql.lstrip().upper().startswith("SELECT") and " jobs" in sql]
        with store.engine.connect() as connection:
            for statement in (QUEUE_HEAD.params(most=10), JOBS_IN_THE_CLUSTER_BY_KEY):
                reads.append(str(statement.compile(connection, compile_kwargs={"literal_binds": True})))
            assert len(reads) >= 10, reads
            for sql in reads:
                for step in explained(connection, sql):
                    if step.split(" ")[1:2] == ["jobs"]:
                        assert step.startswith("SEARCH"), f"{step!r} in {sql}"
    finally:
        stop_app(app)


@pytest.fixture
def rutland() -> Path:
    return Path(__file__).resolve().parents[1] / "examples" / "rutland"
