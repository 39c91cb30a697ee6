"""`make ui` opens on the answer: what a user relies on, read in headless Chromium.

The UI is a React single-page app that fetches runs after its first render, so the checks
drive Debian's Chromium over the DevTools protocol (tests/browser.py; `.ci/run` installs
it), wait until the page shows what a user waits for, and read the rendered grid, text and
plots. scripts/screenshots.py takes the docs' pictures the same way.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from mlflow.tracking import MlflowClient

from browser import CHROMIUM, Chromium
from logreg.experiment.config import compose
from logreg.experiment.headline import SCORES
from logreg.experiment.run import train
from servers import make_ui

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="/usr/bin/chromium not found: install Debian's 'chromium' package "
        "(.ci/run does) to check the MLflow UI in a browser",
    ),
]
# The runs grid: its header cells in display order, its rows in display order.
COLUMNS = """[...document.querySelectorAll('.ag-header-row-column .ag-header-cell[col-id]')]
  .sort((a, b) => a.getAttribute('aria-colindex') - b.getAttribute('aria-colindex'))
  .map(e => e.getAttribute('col-id'))"""
CELLS = """[...document.querySelectorAll('.ag-center-cols-container .ag-row')]
  .sort((a, b) => a.getAttribute('row-index') - b.getAttribute('row-index'))
  .map(r => r.querySelector('[col-id="{column}"]')?.innerText.trim())"""
ROWS_SHOWN = "document.querySelectorAll('.ag-center-cols-container .ag-row').length >= {n}"
SVG_TEXT = "[...document.querySelectorAll('svg text')].map(t => t.textContent)"


def printed_link(log: Path, experiment: str) -> str:
    """The link `make ui` printed for ``experiment``."""
    found = re.search(rf"^  {re.escape(experiment)}\s+(http://\S+)$", log.read_text(), re.M)
    assert found, f"make ui printed no link for {experiment}:\n{log.read_text()[:2000]}"
    return found[1]


def test_make_ui_opens_the_runs_on_their_answer(tmp_path):
    """Two runs that differ by their penalty: the link make ui prints opens their table
    with accuracy and its interval as the first columns, the penalty beside them, the
    best accuracy first, and a run's page leads with its answer."""
    store = f"sqlite:///{tmp_path}/mlflow.db"
    rows = {}
    for name, overrides in {
        "weak": ["penalty.l2=0.001"],
        "strong": ["penalty.l2=30", "optimizer.max_iter=3"],
    }.items():
        cfg = compose(
            [
                f"paths.results_dir={tmp_path}",
                "experiment=gaussian_clouds",
                "dataset.n_samples=300",
                "dataset.mean0=[-0.4,-0.4]",
                "dataset.mean1=[0.4,0.4]",
                f"tracking.uri={store}",
                "progress=false",
                *overrides,
            ]
        )
        rows[name] = train(cfg, tmp_path / name)
    best_first = sorted(rows.values(), key=lambda r: -r["accuracy"])
    # Wide enough that the grid renders every column (it leaves those out of view out).
    with make_ui(store, tmp_path) as base, Chromium(width=3000) as browser:
        browser.open(printed_link(tmp_path / "ui.log", "gaussian_clouds"))
        browser.wait_for(ROWS_SHOWN.format(n=2))
        columns = browser.evaluate(COLUMNS)
        headline = [c for c in columns if c.startswith("metrics.")]
        assert headline[:3] == [f"metrics.`{m}`" for m in SCORES[:3]], columns
        assert "params.`penalty.l2`" in columns, columns
        assert columns.index("params.`penalty.l2`") > columns.index("metrics.`auc`")
        shown = browser.evaluate(CELLS.replace("{column}", "metrics.`accuracy`"))
        assert shown == [f"{r['accuracy']:g}" for r in best_first], shown
        lows = browser.evaluate(CELLS.replace("{column}", "metrics.`accuracy_ci_low`"))
        assert lows == [f"{r['accuracy_ci_low']:g}" for r in best_first], lows

        best = best_first[0]
        experiment_id = MlflowClient(store).get_run(best["mlflow_run_id"]).info.experiment_id
        browser.open(f"{base}/#/experiments/{experiment_id}/runs/{best['mlflow_run_id']}")
        text = browser.wait_for(
            "document.body.innerText.includes('Metrics (') && document.body.innerText"
        )
        description = text.split("Description", 1)[1]
        assert description.lstrip().startswith(f"accuracy {best['accuracy']:.4f}")
        listed = text.split("Metrics (", 1)[1].split("Value", 1)[1].split()
        assert listed[: 2 * 3 : 2] == list(SCORES[:3]), listed[:12]  # name, value, ...


def test_a_sweep_opens_on_its_jobs_and_compares_the_swept_parameter_with_accuracy(tmp_path):
    """A real sweep through `python -m logreg.train -m`: the link in its description
    plots the swept parameter against the headline accuracy over its jobs only; MLflow's
    own compare page plots it against accuracy too (the first metric the runs share)."""
    store = f"sqlite:///{tmp_path}/mlflow.db"
    sweep = subprocess.run(
        [
            sys.executable,
            "-m",
            "logreg.train",
            "-m",
            "experiment=gaussian_clouds",
            "dataset.n_samples=400",
            "penalty.l2=0.001,0.1",
            f"tracking.uri={store}",
            f"paths.results_dir={tmp_path}/results",
            "progress=false",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env=dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true"),
    )
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    assert "compare the sweep's jobs" in sweep.stdout + sweep.stderr
    client = MlflowClient(tracking_uri=store)
    experiment = client.get_experiment_by_name("gaussian_clouds")
    runs = client.search_runs([experiment.experiment_id])
    (parent,) = [r for r in runs if r.data.tags.get("source") == "sweep"]
    children = [r.info.run_id for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(children) == 2
    link = re.search(
        r"\((/#/[^)]*compareRunsMode=CHART)\)", parent.data.tags["mlflow.note.content"]
    )
    with make_ui(store, tmp_path) as base, Chromium() as browser:
        browser.open(base + link[1])
        axes = browser.wait_for(f"{SVG_TEXT}.includes('accuracy') && {SVG_TEXT}", settle=2)
        assert "penalty.l2" in axes and "accuracy" in axes, axes
        text = browser.text()
        assert "2 matching runs" in text and "Parallel Coordinates" in text
        assert "penalty.l2 vs. accuracy" in text

        browser.open(printed_link(tmp_path / "ui.log", "gaussian_clouds"))
        browser.wait_for(ROWS_SHOWN.format(n=3))
        text = browser.text()
        assert "sweep gaussian_clouds generated" in text
        assert "#0 dataset.n_samples=400,penalty.l2=0.001" in text  # a job by what differs
        assert "Token Usage" not in text  # the training runs, not the GenAI overview

        browser.open(
            f"{base}/#/compare-runs?runs={quote(json.dumps(children))}"
            f"&experiments={quote(json.dumps([experiment.experiment_id]))}"
        )
        text = browser.wait_for(
            "document.body.innerText.includes('Clear All') && document.body.innerText"
        )
        # The plot's default selection: the parameters that differ, the first metric.
        selection = text.split("Parameters:")[1].split("Clear All")[0]
        assert "penalty.l2" in selection and "accuracy" in selection, selection
        assert "fit.n_iter" not in selection and "test_accuracy" not in selection, selection
