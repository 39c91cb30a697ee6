"""The pictures of docs/, as anyone gets them: `make ui` on a results folder, read in
headless Chromium exactly as the tests read it (tests/browser.py, tests/servers.py).

    .venv/bin/python scripts/screenshots.py [--results results] [--out docs]

Writes, from the folder's MLflow store (``<results>/mlflow.db``):

- ``mlflow_runs.png``: an experiment's runs table as the link `make ui` prints opens it
  (``--experiment``, default reviews_sentiment);
- ``mlflow_run.png``: the page of that experiment's best run;
- ``mlflow_compare_sweep.png``: the latest sweep's comparison (its link in the sweep's
  description), when the store has a finished sweep;
- ``summary_<data>.png``: a copy of each forest plot in ``<results>/summary/``.

Needs /usr/bin/chromium (Debian's ``chromium``), `make run`, and for the sweep picture the
README's review sweep (``python -m logreg.train -m experiment=reviews selection=fixed
penalty.l2=0.001,0.01,0.1 optimizer=newton_cg,gd``). About a minute.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the tests' browser and `make ui` helpers

from browser import CHROMIUM, Chromium  # noqa: E402
from servers import make_ui  # noqa: E402

# What each page shows once it has loaded what a user waits for.
TABLE_READY = "document.querySelectorAll('.ag-center-cols-container .ag-row').length >= {rows}"
RUN_READY = "document.body.innerText.includes('Metrics (')"
# The parallel coordinates plot has drawn its accuracy axis (plotly SVG text).
CHARTS_READY = "[...document.querySelectorAll('svg text')].some(t => t.textContent === 'accuracy')"


def printed_links(log: Path) -> dict[str, str]:
    """Experiment (or summary run) name -> the link `make ui` printed for it."""
    found = re.findall(r"^  (\S[^\n]*?)\s{2,}(http://\S+)$", log.read_text(), re.M)
    return dict(found)


def best_run(client, experiment_id: str):
    (run,) = client.search_runs(
        [experiment_id],
        filter_string="attributes.status = 'FINISHED'",
        order_by=["metrics.accuracy DESC"],
        max_results=1,
    )
    return run


def latest_sweep(client, experiment_ids: list[str]):
    runs = client.search_runs(
        experiment_ids,
        filter_string="tags.source = 'sweep' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0] if runs else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=REPO / "results")
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    parser.add_argument("--experiment", default="reviews_sentiment")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        sys.exit(f"error: {CHROMIUM} not found: install Debian's chromium package")
    database = args.results.resolve() / "mlflow.db"
    if not database.is_file():
        sys.exit(f"error: no tracking store at {database}: run `make run` first")
    from mlflow.tracking import MlflowClient

    store = f"sqlite:///{database}"
    client = MlflowClient(tracking_uri=store)
    experiment = client.get_experiment_by_name(args.experiment)
    if experiment is None:
        sys.exit(f"error: no experiment {args.experiment} in {database}")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="logreg-screenshots-") as tmp:
        with make_ui(store, Path(tmp)) as base, Chromium(1700, 950) as browser:
            links = printed_links(Path(tmp) / "ui.log")
            n_runs = len(client.search_runs([experiment.experiment_id], max_results=20))
            browser.open(links[args.experiment])
            browser.wait_for(TABLE_READY.format(rows=min(n_runs, 8)))
            print(browser.screenshot(args.out / "mlflow_runs.png"))

            run = best_run(client, experiment.experiment_id)
            browser.open(f"{base}/#/experiments/{experiment.experiment_id}/runs/{run.info.run_id}")
            browser.wait_for(RUN_READY)
            print(browser.screenshot(args.out / "mlflow_run.png"))

            sweep = latest_sweep(client, [e.experiment_id for e in client.search_experiments()])
            if sweep is None:
                print("no finished sweep in the store: no mlflow_compare_sweep.png")
            else:
                # The link of the sweep's description, as a user follows it.
                path = re.search(
                    r"\((/#/[^)]*compareRunsMode=CHART)\)",
                    sweep.data.tags.get("mlflow.note.content", ""),
                )
                browser.open(base + path[1])
                browser.wait_for(CHARTS_READY, settle=3)
                print(browser.screenshot(args.out / "mlflow_compare_sweep.png"))
    for picture in sorted((args.results / "summary").glob("*.png")):
        target = args.out / f"summary_{picture.name}"
        shutil.copyfile(picture, target)
        print(target)


if __name__ == "__main__":
    main()
