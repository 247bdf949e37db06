# One entry point for people and CI. `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR := .local/demo
DEMO_ACCOUNTS ?= 20000

.PHONY: help venv vendor demo test test-unit check lint typecheck imports doctest services-up services-down lock bench clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP) ## create the virtualenv and install Ringwatch with its dev tools

vendor: ## refresh the console's JavaScript (web/package-lock.json) into ringwatch/console/static/vendor
	bash scripts/vendor.sh

demo: venv ## generate a world, ingest it into the embedded engine, show what the graph holds
	rm -rf $(DEMO_DIR)
	RINGWATCH_DATA_DIR=$(DEMO_DIR)/engine bash scripts/demo.sh $(DEMO_DIR) $(DEMO_ACCOUNTS)

test: venv vendor lint typecheck imports doctest ## lint, types, layers, doctests, then the whole suite on Neo4j and Redis
	bash scripts/test.sh

test-unit: venv ## tests that need no server (the embedded engine is spawned as needed)
	$(BIN)/pytest -m "not neo4j and not redis"

lint: venv
	$(BIN)/ruff check ringwatch tests bench

typecheck: venv
	$(BIN)/mypy

imports: venv ## the layer contract of docs/architecture.md (import-linter, pyproject.toml)
	$(BIN)/lint-imports

doctest: venv ## the examples in the detectors' docstrings
	$(BIN)/pytest -q -p no:cacheprovider --doctest-modules ringwatch/detectors

check: test ## the same as `make test` (which now runs ruff, mypy --strict and the layers first)

services-up: ## start the test Neo4j and Redis (left running)
	bash scripts/redis.sh start
	bash scripts/neo4j.sh start

services-down: ## stop them
	-bash scripts/neo4j.sh stop
	-bash scripts/redis.sh stop

lock: venv ## refresh constraints.txt from the current virtualenv
	$(BIN)/pip freeze --exclude-editable | grep -v '^-e ' > constraints.txt

bench: venv ## ingest benchmark on both engines (needs `make services-up`)
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) .local .pytest_cache .mypy_cache .ruff_cache
