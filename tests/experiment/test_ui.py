"""`make ui` serves the MLflow UI, and its experiment page shows the runs with their metrics.

The UI is a React single-page app, so the check renders it in headless Chromium (Debian's
package; `.ci/run` installs it) and reads the DOM. The runs table shows no metric column
by default; the test stores a shared view (the UI's own "share view" mechanism: an
experiment tag ``mlflow.sharedViewState.<key>`` holding the view state as JSON) that
selects metric and parameter columns, and opens it with ``?viewStateShareKey=<key>``.
"""

import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import pytest
from mlflow.tracking import MlflowClient

from logreg.experiment.tracking import Tracker
from servers import make_ui, stop

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]
SHARE_KEY = "logreg-test"
RUNS = {"ui-run-l2-0.01": 0.8125, "ui-run-l2-0.1": 0.9375}  # exact in binary: no rounding

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="/usr/bin/chromium not found: install Debian's 'chromium' package "
        "(.ci/run does) to check the MLflow UI in a browser",
    ),
]


class _Text(HTMLParser):
    """The visible text of an HTML document: everything outside script and style."""

    def __init__(self):
        super().__init__()
        self.parts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def page_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.parts)


def chromium(url: str, profile: Path, *args: str, timeout: float = 45) -> str:
    """Run headless Chromium on ``url`` with a fresh profile; return its stdout."""
    proc = subprocess.Popen(
        [
            str(CHROMIUM),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--window-size=1920,1000",
            "--virtual-time-budget=15000",
            *args,
            url,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        stop(proc)
        proc.communicate()
        raise AssertionError(
            f"chromium did not finish rendering {url} within {timeout:.0f} s"
        ) from exc
    finally:
        stop(proc)  # renderer and zygote processes, if any outlived the browser
    assert proc.returncode == 0, f"chromium exited with {proc.returncode}:\n{err[-3000:]}"
    return out


def make_store(uri: str) -> str:
    """Two finished runs through the project's tracker; return the experiment id."""
    for name, accuracy in RUNS.items():
        tracker = Tracker(uri, "ui_check", run_name=name, tags={"source": "test_ui"})
        tracker.log_params({"penalty.name": "l2", "penalty.l2": name.rsplit("-", 1)[1]})
        tracker.log_metrics([("test_accuracy", accuracy, 0), ("val_loss", 1 - accuracy, 0)])
        tracker.finish()
    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.get_experiment_by_name("ui_check").experiment_id
    view = {
        "selectedColumns": ["metrics.`test_accuracy`", "metrics.`val_loss`", "params.`penalty.l2`"]
    }
    client.set_experiment_tag(
        experiment_id, f"mlflow.sharedViewState.{SHARE_KEY}", json.dumps(view)
    )
    return experiment_id


def rendered_text(url: str, tmp_path: Path, wanted: list[str]) -> str:
    text = ""
    for attempt in range(3):  # a slow first render may miss the runs request
        profile = tmp_path / f"profile{abs(hash(url))}-{attempt}"
        text = page_text(chromium(url, profile, "--dump-dom"))
        if all(w in text for w in wanted):
            break
    missing = [w for w in wanted if w not in text]
    assert not missing, f"{url} lacks {missing}; it shows: {text[:3000]}"
    return text


def test_make_ui_shows_the_runs_with_their_metrics(tmp_path):
    store = f"sqlite:///{tmp_path}/mlflow.db"
    experiment_id = make_store(store)
    with make_ui(store, tmp_path) as base:
        url = f"{base}/#/experiments/{experiment_id}/runs?viewStateShareKey={SHARE_KEY}"
        wanted = [*RUNS, *(str(v) for v in RUNS.values()), "test_accuracy", "2 matching runs"]
        rendered_text(url, tmp_path, wanted)


def test_a_sweep_opens_on_its_runs_and_compares_the_swept_parameter_with_accuracy(tmp_path):
    """A real sweep through `python -m logreg.train -m`: the experiment opens on its
    training runs, named by what differs, with their dataset; the compare view plots the
    swept parameter against test accuracy."""
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
    client = MlflowClient(tracking_uri=store)
    experiment = client.get_experiment_by_name("gaussian_clouds")
    children = [
        run.info.run_id
        for run in client.search_runs([experiment.experiment_id])
        if "mlflow.parentRunId" in run.data.tags
    ]
    assert len(children) == 2
    with make_ui(store, tmp_path) as base:
        runs = rendered_text(
            f"{base}/#/experiments/{experiment.experiment_id}?workflowType=machine_learning",
            tmp_path,
            ["Runs", "sweep gaussian_clouds generated", "Dataset", "Source"],
        )
        assert "Token Usage" not in runs  # the training runs, not the GenAI overview
        compare = (
            f"{base}/#/compare-runs?runs={quote(json.dumps(children))}"
            f"&experiments={quote(json.dumps([experiment.experiment_id]))}"
        )
        text = rendered_text(compare, tmp_path, ["Parallel Coordinates Plot", "penalty.l2"])
        # The plot's default selection: the parameter that differs, the leading metric.
        selection = text.split("Parameters:")[1].split("Clear All")[0]
        assert "penalty.l2" in selection and "test_accuracy" in selection, selection
