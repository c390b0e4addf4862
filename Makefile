# Two commands do all set-up on a fresh Debian machine with Python 3.11:
#   make run   - virtualenv, install, then the main job on the bundled spec
#   make test  - same set-up, then lint, type-check and the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck pytest bench clean system-deps browser-deps java-deps diagrams

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,browser,service,cohort,spark]'
	touch $(STAMP)

# Graphviz's `dot` turns DOT into SVG/PNG/PDF; installed from Debian when missing.
system-deps:
	@command -v dot >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing graphviz from Debian"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null; \
	  else echo "note: Graphviz 'dot' not found; image formats will be unavailable"; fi; }

# Headless Chromium for the governance-pack browser test (tests/test_report_browser.py).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium from Debian"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "note: chromium not found; the browser test will be skipped"; fi; }

# A Java runtime for Spark local mode (tests/test_cohort_spark.py; pyspark 4 needs Java 17+).
java-deps:
	@command -v java >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing openjdk-17-jre-headless from Debian"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; \
	  else echo "note: java not found; the Spark tests will be skipped"; fi; }

# Committed DOT/SVG of the shipped spec (tests fail when the DOT is stale) and the governance pack.
diagrams: $(STAMP) system-deps
	$(BIN)/crs-model render --out diagrams

run: $(STAMP) system-deps
	$(BIN)/crs-model check-spec
	$(BIN)/crs-model verify --bmc-depth 10
	$(BIN)/crs-model render --out diagrams
	$(BIN)/crs-model report --out out/cytosorb_crs.report.html
	$(BIN)/crs-model report --out out/cytosorb_crs.report.md
	$(BIN)/crs-model evaluate specs/examples/patients/
	$(BIN)/crs-model regress specs/cytosorb_crs.cases.jsonl
	$(BIN)/crs-model robustness
	@# v0.1 -> v0.2 differs by design: exit 1 (behaviour differs) is the expected answer, 2 an error
	$(BIN)/crs-model diff specs/history/cytosorb_crs-0.1.0.yaml specs/cytosorb_crs.yaml --format markdown \
	  > out/changes-0.1.0-to-0.2.0.md || [ $$? -eq 1 ]
	@# cohort audit of 100,000 generated snapshots on embedded DuckDB, with the impact report
	$(BIN)/crs-model cohort-gen 100000 --out out/cohort.parquet --seed 1
	$(BIN)/crs-model cohort out/cohort.parquet --out out/cohort-result.parquet --report out/cohort-impact.html

lint: $(STAMP)
	$(BIN)/ruff check crs_model tests benchmarks
	$(BIN)/ruff format --check crs_model tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

# One run, one collection: unit, backend and quality tests (a bare `pytest` skips the quality ones).
pytest: $(STAMP) system-deps browser-deps java-deps
	$(BIN)/pytest -q -m "not slow"

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_engine.py
	$(BIN)/python benchmarks/bench_fuzz.py
	$(BIN)/python benchmarks/bench_diff.py
	$(BIN)/python benchmarks/bench_fhir.py
	$(BIN)/python benchmarks/bench_service.py
	$(BIN)/python benchmarks/bench_cohort.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
