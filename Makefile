# The two commands a new user types: `make run` and `make test`. Both create or reuse
# the virtual environment in .venv and install what they need from the project's own files.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SHARED ?= ../shared
BENCH_SECONDS ?= 10
BENCH_WORKERS ?= 2
PORT ?= 8000
# a benchmark piped into tee fails when the benchmark fails, not only when tee does
SHELL := bash
.SHELLFLAGS := -o pipefail -c

.PHONY: run test chromium notebooks bench bench-ab bench-pr bench-day bench-days bench-het bench-roads bench-service bench-fuzz bench-clock bench-clock-county bench-replan bench-week install clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -c 'from optimiser.engine.ruin_recreate import compile_now; print(f"search compiled in {compile_now():.0f} s")'
	touch $(STAMP)

install: $(STAMP)

# The service on 127.0.0.1:8000 in development mode (no API keys, loopback only), SQLite under
# instance/, a local Dask cluster, and the bundled Rutland example already uploaded.
run: $(STAMP)
	$(BIN)/itu serve --dev --host 127.0.0.1 --port $(PORT)

# JupyterLab on the scenario notebooks (installs the notebooks extra first).
notebooks: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[notebooks]'
	cd notebooks && ../$(BIN)/jupyter lab

# The browser test drives Debian's chromium; install it where this machine lets us (root, apt).
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && \
	   apt-get install -y -q chromium >/dev/null 2>&1)); } || \
	  echo "chromium is not installed and cannot be installed here: the browser test will be skipped"

# Whole test files run in two processes (about 15 minutes on a busy 2-core machine, against 18 to
# 35 in one); the servers tests start take ports from a block of their own process (tests/ports.py).
# TEST_PROCESSES=1 runs them in one. The county-sized solve job that hung under two processes
# waited on an OR-Tools construction with no time limit: every such solve is now bounded.
TEST_PROCESSES ?= 2
test: $(STAMP) chromium
	$(BIN)/python -m pytest $(if $(filter-out 1,$(TEST_PROCESSES)),-n $(TEST_PROCESSES) --dist loadfile)

# The dial-a-ride benchmark, every published family, one table each: the 48 Cordeau/Ropke a/b
# instances, the Cordeau-Laporte 2003 pr instances and the heterogeneous set; then a summary per
# family and size band. BENCH_HALF=tuning or validation runs one half of each family
# (benchmarks/families.py). Figures go to bench-results/ and, by hand, to BENCHMARKS.md.
DARP := $(SHARED)/benchmarks/darp
BENCH_HALF ?=
bench: $(STAMP)
	mkdir -p bench-results
	$(BIN)/itu bench darp $(DARP)/cordeau2006/*.txt $(DARP)/ropke2007/*.txt $(DARP)/cordeau-laporte2003/*.txt \
	  $(DARP)/mdhdarp-malheiros2021/*.txt --seconds $(BENCH_SECONDS) --workers $(BENCH_WORKERS) \
	  $(if $(BENCH_HALF),--half $(BENCH_HALF)) | tee bench-results/darp-$(BENCH_SECONDS)s$(if $(BENCH_HALF),-$(BENCH_HALF)).txt

# The 48 a/b instances alone (the table issue 7 and BENCHMARKS.md's first suite use).
bench-ab: $(STAMP)
	mkdir -p bench-results
	$(BIN)/itu bench darp $(DARP)/cordeau2006/*.txt $(DARP)/ropke2007/*.txt \
	  --seconds $(BENCH_SECONDS) --workers $(BENCH_WORKERS) | tee bench-results/ab-$(BENCH_SECONDS)s.txt

# The ten Cordeau-Laporte 2003 instances alone (pr01-pr05, pr11-pr15: requests over a whole day).
bench-pr: $(STAMP)
	mkdir -p bench-results
	$(BIN)/itu bench darp $(DARP)/cordeau-laporte2003/*.txt \
	  --seconds $(BENCH_SECONDS) --workers $(BENCH_WORKERS) | tee bench-results/pr-$(BENCH_SECONDS)s.txt

bench-het: $(STAMP)
	mkdir -p bench-results
	$(BIN)/itu bench darp $(SHARED)/benchmarks/darp/mdhdarp-malheiros2021/*.txt \
	  --seconds $(BENCH_SECONDS) --workers $(BENCH_WORKERS) | tee bench-results/het-$(BENCH_SECONDS)s.txt

# The generated 2,000-trip day at five seeds, five minutes each, one after another (issue 7's
# protocol), against the best thirty-minute plan on record (BENCHMARKS.md). About 26 minutes.
DAY_AGAINST ?= 14379.16
bench-day: $(STAMP)
	mkdir -p bench-results
	$(BIN)/itu bench day --trips 2000 --seconds 300 --seeds 0 1 2 3 4 --workers 2 --against $(DAY_AGAINST) \
	  --out bench-results/day-2000 | tee bench-results/day-2000.txt

# The generated days of one half (benchmarks/families.py), three seeds, a minute each; with
# BENCH_SET="GROUP.NAME=VALUE ..." each seed also with that change, in turns with the defaults.
DAYS_HALF ?= validation
bench-days: $(STAMP)
	mkdir -p bench-results
	$(BIN)/itu bench days --half $(DAYS_HALF) --seconds 60 --seeds 0 1 2 --workers 2 \
	  $(foreach s,$(BENCH_SET),--set $(s)) --out bench-results/days-$(DAYS_HALF) | tee bench-results/days-$(DAYS_HALF).txt

# The clock advisor on the bundled Rutland day and its shift file, three seeds, against a plain
# sweep of one move at a time (BENCHMARKS.md, "Moving the clock").
bench-clock: $(STAMP)
	mkdir -p bench-results
	$(BIN)/itu bench clock --seeds 3 | tee bench-results/clock.txt

# The clock advisor on the generated 2,000-trip day (scenario seed 1, as bench-day), every school
# and day centre -30 to +30 minutes by 5, within 15 minutes on 2 cores: a search limit, then the
# confirming solves; a sweep of the moves of 15 and 30 minutes by the advisor's scoring solve.
bench-clock-county: $(STAMP)
	mkdir -p bench-results
	$(BIN)/itu bench clock --generated-trips 2000 --scenario-seed 1 --day-out bench-results/clock-county-day \
	  --seeds 3 --seconds 120 --max-rounds 5000 --screen-rounds 500 --search-limit 420 --most-moves 3 \
	  --confirm-per-size 1 --sweep-by scoring --sweep-step 15 | tee bench-results/clock-county.txt

# Re-planning a published generated 500-trip day: a vehicle off the road at 07:30, and 20
# cancellations with 10 new trips, at three seeds (BENCHMARKS.md, "Re-planning a published day").
bench-replan: $(STAMP)
	mkdir -p bench-results
	$(BIN)/itu bench replan --trips 500 --seeds 0 1 2 | tee bench-results/replan.txt

# A generated week of five 300-trip weekdays planned with consistent routes, against each day
# planned alone, at two seeds (BENCHMARKS.md, "A week with consistent routes").
bench-week: $(STAMP)
	mkdir -p bench-results
	$(BIN)/itu bench week --trips 300 --seconds 15 --seeds 0 1 --chart bench-results/week-tradeoff.svg | tee bench-results/week.txt

# Road network build and a 2,000 x 2,000 travel matrix on the Rutland extract.
bench-roads: $(STAMP)
	mkdir -p bench-results
	$(BIN)/itu bench roads $(SHARED)/geodata/rutland-latest.osm.pbf --points 2000 --repeats 7 \
	  | tee bench-results/roads.txt

# 30 concurrent clients submitting small jobs and asking their status, against a service started
# here. The service against a trivial Flask + SQLite floor app (same gunicorn settings, same
# clients, one run), on SQLite and then on PostgreSQL (BENCH_DATABASE_URL's server: each trial
# creates a database of its own beside it and drops it after). Each run ends with one JSON line
# of the ratios issue 31 sets targets for.
BENCH_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/itu_bench
BENCH_CLIENTS ?= 30
bench-service: $(STAMP)
	mkdir -p bench-results
	$(BIN)/itu bench service --clients $(BENCH_CLIENTS) --json | tee bench-results/service-sqlite.txt
	$(BIN)/itu bench service --clients $(BENCH_CLIENTS) --json --database $(BENCH_DATABASE_URL) \
	  | tee bench-results/service-postgresql.txt

# The API fuzz (schemathesis from the OpenAPI document, and hostile bodies: not UTF-8, nested
# 200,000 deep, over the size limit) at 1,000 examples per operation instead of the suite's 100.
bench-fuzz: $(STAMP)
	mkdir -p bench-results
	ITU_FUZZ_EXAMPLES=1000 $(BIN)/python -m pytest tests/test_service_fuzz.py -q -p no:cacheprovider \
	  | tee bench-results/fuzz.txt

clean:
	rm -rf $(VENV) out bench-results *.egg-info
