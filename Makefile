# The two commands: `make run` and `make test`. Both create .venv with pip when missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test install lint format reproduce docs

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[all,test,dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	HF_HUB_OFFLINE=1 $(VENV)/bin/labelnoise train recipes/quickstart.yaml --overwrite

test: $(STAMP)
	HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -n 2 --dist load -q

# Every README results number from its recipe (hours on 2 cores; ONLY=pattern for a subset).
reproduce: $(STAMP)
	HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 $(PY) benchmarks/reproduce_all.py $(if $(ONLY),--only '$(ONLY)') $(if $(JOBS),--jobs $(JOBS))

docs: $(STAMP)
	PYTHONPATH=src $(VENV)/bin/mkdocs build --strict --site-dir site

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
