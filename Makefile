# The two commands a new user types: `make run` and `make test`. Both create or reuse
# the virtual environment in .venv and install what they need from the project's own files.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SHARED ?= ../shared
BENCH_SECONDS ?= 10
BENCH_WORKERS ?= 2

.PHONY: run test bench bench-het bench-roads install clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/itu solve examples/rutland/trips.csv examples/rutland/fleet.json --seconds 30 --workers 2 --out out/rutland
	@echo "Open out/rutland/map.html in a browser for the map; run sheets are in out/rutland/run-sheets/."

test: $(STAMP)
	$(BIN)/python -m pytest

# The dial-a-ride benchmark: all 48 Cordeau/Ropke instances, then the heterogeneous set.
# Figures go to bench-results/ and, by hand with the command and machine, to BENCHMARKS.md.
bench: $(STAMP)
	mkdir -p bench-results
	$(BIN)/itu bench darp $(SHARED)/benchmarks/darp/cordeau2006/*.txt $(SHARED)/benchmarks/darp/ropke2007/*.txt \
	  --seconds $(BENCH_SECONDS) --workers $(BENCH_WORKERS) | tee bench-results/darp-$(BENCH_SECONDS)s.txt

bench-het: $(STAMP)
	mkdir -p bench-results
	$(BIN)/itu bench darp $(SHARED)/benchmarks/darp/mdhdarp-malheiros2021/*.txt \
	  --seconds $(BENCH_SECONDS) --workers $(BENCH_WORKERS) | tee bench-results/het-$(BENCH_SECONDS)s.txt

# Road network build and a 2,000 x 2,000 travel matrix on the Rutland extract.
bench-roads: $(STAMP)
	mkdir -p bench-results
	$(BIN)/itu bench roads $(SHARED)/geodata/rutland-latest.osm.pbf --points 2000 --repeats 7 \
	  | tee bench-results/roads.txt

clean:
	rm -rf $(VENV) out bench-results *.egg-info
