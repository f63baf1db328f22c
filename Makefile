# 连心 Lianxin — `make run` runs everything, `make test` runs every test.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench scenario clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m tools.stack

lint: $(STAMP)
	$(BIN)/ruff check services tools tests
	$(BIN)/ruff format --check services tools tests

format: $(STAMP)
	$(BIN)/ruff check --fix services tools tests
	$(BIN)/ruff format services tools tests

test: lint
	$(BIN)/python -m pytest --ignore=tests/bench $(PYTEST_ARGS)

# Benchmarks: figures beside a baseline measured in the same run; never part of `make test`.
bench: $(STAMP)
	mkdir -p var/bench
	$(BIN)/python -m pytest tests/bench -s -q $(PYTEST_ARGS)

# Replay Lanzhou's 2024 on a stack of its own (free ports, private SQLite databases and vhost,
# back-dating on for it alone) and compare the 2024 yearly figures exactly, before and after a
# rebuild; exit 0 only when every row is = (SCALE=0.05 for a quick one). Needs RabbitMQ and its
# management API (LIANXIN_RABBIT_MGMT, default http://127.0.0.1:15672, guest/guest).
scenario: $(STAMP)
	$(BIN)/python -m tools.scenario --scale $(or $(SCALE),1.0)

clean:
	rm -rf var .pytest_cache
