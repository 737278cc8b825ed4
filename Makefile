# The everyday commands, in one place. Everything runs from the project's own virtualenv (.venv).
PY ?= .venv/bin/python

.PHONY: help venv test test-fast lint format typecheck compile bench image check

help:  ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

venv:  ## create .venv with shipyard and the test tools (what CI installs)
	python3 -m venv .venv && .venv/bin/pip install -c constraints.txt -e '.[test]'

test:  ## every test, as CI runs them
	$(PY) -m pytest

test-fast:  ## the fast tier: no whole-pipeline runs
	$(PY) -m pytest -m "not slow"

lint:  ## ruff: lint, import order, format check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format:  ## ruff: fix imports and format in place
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

typecheck:  ## mypy (strict on shipyard/stages and shipyard/store)
	$(PY) -m mypy

compile:  ## refresh the golden compiled pipelines; review the diff before committing
	.venv/bin/shipyard compile --out pipelines/compiled

bench:  ## benchmarks: print their tables and the commands that produced them
	@for script in bench/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

image:  ## build the project image (needs a Docker engine; tag: $SHIPYARD_IMAGE or the default)
	scripts/build-image.sh

check: lint typecheck test  ## everything CI checks

.PHONY: kind-e2e
kind-e2e:  ## kind cluster, KFP, image, upload, a training run, schedules (needs docker + kind)
	scripts/kind-e2e.sh $(E2E_ARGS)
