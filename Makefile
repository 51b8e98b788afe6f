# testbed: common tasks. `make demo` and `make test` work on a fresh Debian machine:
# they install gfortran (apt-get, as root) if it is missing, create .venv and build the package.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The build backend (meson-python) and the editable rebuild run meson, ninja and f90wrap from the venv:
# put its bin first on PATH so a bare shell (nothing activated) finds them.
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: install bytecode test test-fast demo bench lint clean

$(STAMP): pyproject.toml meson.build
	@command -v gfortran >/dev/null 2>&1 || { \
	  echo "gfortran not found: installing it with apt-get"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gfortran; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gfortran; fi; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "meson-python>=0.15" "meson>=1.1" ninja "numpy>=2.0" "f90wrap>=0.2.16"
	$(PY) -m pip install -q --no-build-isolation -e ".[test]"
	touch $@

install: $(STAMP)  ## set up .venv with testbed built from source (editable)

# meson-python's editable loader reads byte code but never writes it (see sagemath/sage#39992): without this every
# command compiles the package's Python sources again, 0.1-0.15 s per process (docs/performance.md). Stale files
# are only a cache: a changed source is compiled again, as Python always does.
bytecode: install
	@$(PY) -m compileall -q testbed

test: bytecode  ## the full test suite, as CI runs it (includes slow reference and oracle tests)
	$(PY) -m pytest -m "slow or not slow" -q

test-fast: bytecode  ## the quick tests only (what plain `pytest` runs)
	$(PY) -m pytest -q

demo: bytecode  ## synthetic example: spin-up and transient of CASA-CN and MIMICS-CN, summary table and figures
	$(VENV)/bin/testbed demo --out demo_output

# The original runs side by side when TESTBED_ORIGINAL_BIN (its binary) or TESTBED_ORIGINAL_MIRROR (a git directory
# of wwieder/biogeochem_testbed, built with ../shared/bench/original.sh outside the repository) is set; without it the
# results are absolute figures only. BENCH_ARGS: e.g. --quick (small smoke test) or --repeats 3.
bench: bytecode  ## ours and the original side by side (throughput, memory); writes benchmarks/results.md
	$(PY) benchmarks/run_benchmarks.py $(BENCH_ARGS)

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf build demo_output benchmarks/work .pytest_cache
