# Two commands do all the set-up (see README.md):
#   make run    create .venv from requirements.lock and run the whole workflow (demo data)
#   make test   create .venv from requirements.lock and run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
CORES ?= 2

.PHONY: run test ui lint report lock clean

$(STAMP): requirements.lock pyproject.toml
	rm -f $(VENV)/.installed-*
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)

test: $(STAMP)
	$(BIN)/python -m pytest

report: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --report results/report.html

lint: $(STAMP)
	$(BIN)/snakemake --lint

ui: $(STAMP)
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false $(BIN)/mlflow ui --host 127.0.0.1 --port 5000 \
		--backend-store-uri sqlite:///results/mlflow.db

lock:
	$(PYTHON) -m venv /tmp/logreg-lock && /tmp/logreg-lock/bin/pip install --quiet . -r requirements-dev.in
	{ sed -n '1,2p' requirements.lock; /tmp/logreg-lock/bin/pip freeze --exclude-editable | grep -v '^logreg'; } > requirements.lock.new
	mv requirements.lock.new requirements.lock

clean:
	rm -rf results/* data/demo
