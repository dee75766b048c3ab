# The two commands that are the README's contract:
#   make quickstart   sets up the venv and serves the local quickstart on 127.0.0.1:$(PORT)
#   make test         sets up the venv and the real test environment, then runs the whole suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PORT ?= 8080
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv quickstart test test-fast testenv lint bench fuzz conformance-deep clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

quickstart: $(STAMP)
	$(BIN)/authgate quickstart --port $(PORT)

# Builds or finds etcd, kube-apiserver, helm, oauth2-proxy, Keycloak, dockerd
# and the debootstrap base image (cached under ~/.cache/authgate), then runs
# every test. Under CI=true a missing component fails the run.
test: $(STAMP) testenv
	source "$${XDG_CACHE_HOME:-$$HOME/.cache}/authgate/env.sh" && $(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest tests/core $(PYTEST_ARGS)

testenv: $(STAMP)
	bash scripts/testenv/setup.sh

# mypy and import-linter cannot follow setuptools' package-dir mapping, so lint checks a
# throwaway tree of symlinks that has the import layout (build/typecheck/authgate/...).
# Order: ruff check, ruff format --check, mypy --strict, import-linter (layers, see pyproject.toml), then the
# import-cycle check (scripts/import_cycles.py) that the contracts cannot express.
TYPECHECK := build/typecheck/authgate
LINT_PATHS := authgate core proxy operator client tests bench scripts
lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	rm -rf build/typecheck && mkdir -p $(TYPECHECK)
	for f in authgate/*.py; do ln -s "$(CURDIR)/$$f" $(TYPECHECK)/; done
	for d in core proxy operator client; do ln -s "$(CURDIR)/$$d" $(TYPECHECK)/$$d; done
	cd build/typecheck && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml -p authgate
	cd build/typecheck && PYTHONPATH=. $(CURDIR)/$(BIN)/lint-imports --no-cache --no-logo $(CURDIR)/pyproject.toml
	cd build/typecheck && PYTHONPATH=. $(CURDIR)/$(BIN)/python $(CURDIR)/scripts/import_cycles.py

# The benchmark needs wrk, nginx, oha and oauth2-proxy (bench/setup.sh installs
# them), not the cluster or Keycloak, so it does not run `testenv`.
bench: $(STAMP)
	{ f="$${XDG_CACHE_HOME:-$$HOME/.cache}/authgate/env.sh"; [ -f "$$f" ] && source "$$f"; } ; $(BIN)/python -m bench $(BENCH_ARGS)

# The differential conformance suite (tests/conformance) runs bounded and seeded in
# `make test`; this runs it deep (random seed, CONFORMANCE_EXAMPLES generated requests,
# AUTHGATE_CONFORMANCE_SEED=N replays one) and prints the figures. Needs no testenv.
conformance-deep: $(STAMP)
	AUTHGATE_CONFORMANCE_DEEP=1 AUTHGATE_CONFORMANCE_REPORT=1 \
	AUTHGATE_CONFORMANCE_EXAMPLES=$${CONFORMANCE_EXAMPLES:-20000} \
	$(BIN)/python -m pytest tests/conformance -q -p no:cacheprovider $(PYTEST_ARGS)

fuzz: $(STAMP)
	$(BIN)/python tests/fuzz/fuzz_targets.py -max_total_time=$${FUZZ_SECONDS:-300}

clean:
	rm -rf $(VENV) build *.egg-info
