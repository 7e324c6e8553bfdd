# The two commands a new user types: `make run` and `make test`. Both create or reuse
# the virtual environment in .venv and install what they need from the project's own files.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SHARED ?= ../shared
BENCH_SECONDS ?= 10
BENCH_WORKERS ?= 2

.PHONY: run test bench bench-het install clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/itu solve examples/rutland-morning-small.json --seconds 20 --out out/rutland-morning-small

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

clean:
	rm -rf $(VENV) out bench-results *.egg-info
