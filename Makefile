# Two commands do all the set-up (see README.md):
#   make run    create .venv from requirements.lock and run the whole workflow (demo data)
#   make test   create .venv from requirements.lock and run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
CORES ?= 2
STORE ?= sqlite:///results/mlflow.db
PORT ?= 5000

.PHONY: run test test-fast ui server lint report lock clean

$(STAMP): requirements.lock pyproject.toml
	rm -f $(VENV)/.installed-*
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)

test: $(STAMP)
	@echo "make test: all 1068 tests, the demo and real-data workflows and a throw-away SLURM cluster among them (~24 min on 2 cores); make test-fast runs the quick ones alone"
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The tests not marked slow or realdata: the unit tests and the quick demo runs (~3.5 min on 2 cores).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not realdata"

report: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --report results/report.html

# make lint: ruff (rules and format in pyproject.toml) on the package, tests and benchmarks,
# then Snakemake's own linter on the workflow (scripts/lint_workflow.py: all but the
# deliberate conda note).
lint: $(STAMP)
	$(BIN)/ruff check --no-cache src tests benchmarks scripts
	$(BIN)/ruff format --no-cache --check src tests benchmarks scripts
	$(BIN)/python scripts/lint_workflow.py

# make ui [STORE=tracking-store-uri] [ARTIFACTS=folder] [PORT=n]: the MLflow UI on 127.0.0.1.
# Job execution off and one worker: 2 processes, ready in ~10 s (the defaults start 10
# processes, ~25 s on 2 busy cores). The store names artifacts by mlflow-artifacts:/ URIs,
# served from ARTIFACTS: for a sqlite store the artifacts/ folder beside it, wherever the
# results folder was moved (docs/tracking.md). tests/test_ui.py runs this target (with
# STAMP= BIN=<its venv>/bin).
ARTIFACTS ?= $(dir $(patsubst sqlite:///%,%,$(STORE)))artifacts
# First it refreshes each experiment's shared view (the headline metrics and the parameters
# that differ as columns, best accuracy first) and prints its link: the page to open
# (logreg.experiment.views; a store it cannot write still opens, `-` ignores that).
ui: $(STAMP)
	-@$(BIN)/python -m logreg.experiment.views --store $(STORE) --url http://127.0.0.1:$(PORT)
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false $(BIN)/mlflow ui --host 127.0.0.1 --port $(PORT) \
		--workers 1 --backend-store-uri $(STORE) \
		--serve-artifacts --artifacts-destination $(ARTIFACTS)

# make server: the shared MLflow tracking server for cluster jobs (PostgreSQL, proxied
# artifacts, MLflow's basic-auth). Settings (database URIs, artifact folder, admin user) come
# from the environment or MLFLOW_SERVER_ENV: see scripts/tracking_server.sh.
# tests/cluster/test_cluster.py runs this target.
server: $(STAMP)
	BIN=$(BIN) scripts/tracking_server.sh

lock:
	$(PYTHON) -m venv /tmp/logreg-lock && /tmp/logreg-lock/bin/pip install --quiet . -r requirements-dev.in
	{ sed -n '1,2p' requirements.lock; /tmp/logreg-lock/bin/pip freeze --exclude-editable | grep -v '^logreg'; } > requirements.lock.new
	mv requirements.lock.new requirements.lock

clean:
	find results -mindepth 1 -maxdepth 1 ! -name .gitkeep -exec rm -rf {} +
	rm -rf data/demo
