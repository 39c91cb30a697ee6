"""What the MLflow UI opens on: each experiment's runs table with the answer, each sweep's
comparison, and descriptions that say what a run or an experiment is.

MLflow 3.17's UI cannot be configured by the server; what a project can set lives in
the tracking store:

- a *shared view*: an experiment tag ``mlflow.sharedViewState.<key>`` holding the runs
  page's state as JSON (the runs table's search facets ``searchFilter``, ``orderByKey``,
  ``orderByAsc``; its UI state ``selectedColumns``, ``columnOrder``, ``columnWidths``,
  ``runsHiddenMode``; the chart view's ``compareRunCharts`` and ``compareRunSections``),
  applied when the page is opened with ``?viewStateShareKey=<key>``; ``&compareRunsMode=
  CHART`` opens its charts;
- descriptions: the ``mlflow.note.content`` tag (markdown) of an experiment (shown above
  its runs) and of a run (the top of its page).

Every experiment gets the view :data:`ANSWER` (the headline metrics and the parameters
that differ as columns, best accuracy first, one group per dataset when there are several)
and a description linking to it; every sweep
a view ``sweep-<parent run id>`` (its jobs, the swept parameters against ``accuracy``).
``make ui`` refreshes them and prints the links (``python -m logreg.experiment.views``).
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Mapping, Sequence
from urllib.parse import quote

from logreg.experiment import headline
from logreg.experiment.config import data_label
from logreg.experiment.tracking import NOTE

log = logging.getLogger(__name__)

SHARE_TAG = "mlflow.sharedViewState."
GENERATED_NOTE = "logreg.note"  # the note as last written here: a user's edit is kept
ANSWER = "answer"
SUMMARY_EXPERIMENT = "summary"  # logreg.experiment.summary's runs
MAKE_UI = "http://127.0.0.1:5000"  # where `make ui` serves a sqlite store by default
MAX_PARAMS = 6
#: The parameters a reader compares first, when they differ between runs.
PARAM_PRIORITY = (
    "dataset.features",
    "model.name",
    "fit.penalty",
    "fit.solver",
    "selection.name",
    "evaluation.name",
)
# Said by another column (the run name, Dataset, the l1/l2 metrics), or bookkeeping.
PARAM_NOISE = ("dataset.", "data.", "fit.l1", "fit.l2", "experiment_name", "seed", "sweep.")
PARAM_NOT_NOISE = ("dataset.features",)
TASKS = {
    "reviews_sentiment": "Positive or negative product reviews (Multi-Domain Sentiment "
    "Dataset), one dataset per product domain",
    "fer2013_emotions": "The 7 emotions of 48x48 FER2013 faces, on pixel, HOG or k-means features",
    "fer2013_happy_vs_sad": "FER2013 faces, happy against sad",
    "gaussian_clouds": "Two Gaussian clouds in 2-D drawn from the seed: a sanity check",
}
RUN_NAME, DATASET = "attributes.`Run Name`", "attributes.`Dataset`"
CREATED, DURATION = "runDateAndNestInfo", "duration"


def column(kind: str, key: str) -> str:
    """A runs-table column id: ``metrics.`accuracy```, ``params.`fit.solver```."""
    return f"{kind}.`{key}`"


def experiment_url(base: str, experiment_id: str, key: str = ANSWER, charts=False) -> str:
    """The runs page of an experiment opened on the shared view ``key``."""
    url = f"{base}/#/experiments/{experiment_id}/runs?viewStateShareKey={quote(key)}"
    return url + ("&compareRunsMode=CHART" if charts else "")


def run_url(base: str, experiment_id: str, run_id: str) -> str:
    return f"{base}/#/experiments/{experiment_id}/runs/{run_id}"


def ui_base(tracking_uri: str) -> str:
    """Where a user opens the UI of a store: the server itself, or `make ui` for sqlite."""
    return tracking_uri.rstrip("/") if tracking_uri.startswith("http") else MAKE_UI


def _is_noise(key: str) -> bool:
    return key.startswith(PARAM_NOISE) and key not in PARAM_NOT_NOISE


def differing_params(params: Sequence[Mapping[str, str]], first: Sequence[str] = ()) -> list[str]:
    """The parameters whose value (or presence) differs between runs, at most
    :data:`MAX_PARAMS`: those in ``first`` (e.g. a sweep's swept keys), then
    :data:`PARAM_PRIORITY`, then the rest by name; bookkeeping left out."""
    keys = {k for p in params for k in p}
    differ = {k for k in keys if len({p.get(k) for p in params}) > 1 and not _is_noise(k)}
    ranked = [k for k in first if k in differ]
    ranked += [k for k in PARAM_PRIORITY if k in differ and k not in ranked]
    ranked += sorted(differ - set(ranked))
    return ranked[:MAX_PARAMS]


def _charts(section: str, params: Sequence[str], scatter: bool) -> tuple[list, list]:
    """A chart section of its own, first: accuracy across the params (parallel
    coordinates) and, with ``scatter``, accuracy against each param."""
    charts = [
        {
            "uuid": f"{section}-parallel",
            "type": "PARALLEL",
            "metricSectionId": section,
            "displayName": "accuracy by " + ", ".join(params) if params else "accuracy",
            "selectedParams": list(params),
            "selectedMetrics": ["accuracy"],
            "showAllRuns": True,
            "runsCountToCompare": 100,
            "deleted": False,
            "isGenerated": False,
        }
    ]
    if scatter:
        charts += [
            {
                "uuid": f"{section}-scatter-{n}",
                "type": "SCATTER",
                "metricSectionId": section,
                "xaxis": {"key": param, "type": "PARAM"},
                "yaxis": {"key": "accuracy", "type": "METRIC"},
                "runsCountToCompare": 100,
                "deleted": False,
                "isGenerated": False,
            }
            for n, param in enumerate(params)
        ]
    sections = [
        {"uuid": section, "name": section, "display": True, "isReordered": True, "deleted": False}
    ]
    return charts, sections


def table_view(
    metrics: Sequence[str],
    params: Sequence[str],
    *,
    search_filter: str = "",
    charts_of: str = "the answer",
    chart_params: Sequence[str] | None = None,
    scatter: bool = False,
    name_width: int = 280,
    group_by_tag: str | None = None,
) -> dict:
    """The shared-view JSON of a runs table: Run Name, the headline ``metrics``, the
    ``params``, Dataset; best ``accuracy`` first; every run in the charts, which open on a
    section ``charts_of`` comparing ``chart_params`` (default: ``params``) against
    accuracy. With ``group_by_tag`` the table is grouped by that tag (each group sorted, its
    row the best value), the charts still show each run."""
    metric_columns = [column("metrics", m) for m in metrics]
    param_columns = [column("params", p) for p in params]
    charts, sections = _charts(charts_of, params if chart_params is None else chart_params, scatter)
    return {
        "searchFilter": search_filter,
        "orderByKey": column("metrics", "accuracy"),
        "orderByAsc": False,
        "selectedColumns": [*metric_columns, *param_columns, DATASET],
        "columnOrder": [RUN_NAME, *metric_columns, *param_columns, DATASET, CREATED, DURATION],
        "columnWidths": {
            RUN_NAME: name_width,
            **{c: _width(c) for c in metric_columns},
            **{c: 130 for c in param_columns},
            DATASET: 200,
        },
        "runsHiddenMode": "SHOW_ALL",
        "groupBy": (
            {
                "aggregateFunction": "max",
                "groupByKeys": [{"mode": "tag", "groupByData": group_by_tag}],
            }
            if group_by_tag
            else None
        ),
        "useGroupedValuesInCharts": False,
        "compareRunCharts": charts,
        "compareRunSections": sections,
        "isAccordionReordered": True,
    }


def _width(column_id: str) -> int:
    # Room for the header at the UI's font (~7.5 px a character) and its sort arrow, and
    # for a value with a group's "(max)".
    return int(max(115, 30 + 7.5 * len(column_id.split("`")[1])))


def _headline_columns(metric_keys: set[str]) -> list[str]:
    return [m for m in (*headline.SCORES, *headline.PENALTIES) if m in metric_keys]


def _name_width(names: Sequence[str]) -> int:
    # ~7.5 px per character of the UI's font, bounded so the metrics stay in view.
    return int(min(max(24 + 7.5 * max((len(n) for n in names), default=0), 200), 320))


def experiment_description(task: str, experiment_id: str) -> str:
    """The experiment's note: the task, how to read a run, where the answer is."""
    what = TASKS.get(task, f"Task {task}")
    view = experiment_url("", experiment_id)
    return (
        f"**accuracy** is each run's answer, with its interval **accuracy_ci_low** … "
        f"**accuracy_ci_high**: [runs by accuracy, with what differs]({view}) · "
        f"[their charts]({view}&compareRunsMode=CHART). {what}.\n\n"
        "**accuracy** is the cross-validated mean (evaluation=cv) or the accuracy on the "
        "held-out test split (holdout), its interval 95% by default; **f1** and **auc** "
        "are estimated the same way; **l2** / **l1** is the penalty the model was fitted "
        "with. Overlapping intervals are not a test: `python -m logreg.compare RUN_A RUN_B` "
        "pairs two runs on the same folds or test examples. Series: `cv/` per fold, "
        "`path/` per penalty value, `epoch/` per epoch; `test_*`, `val_*`, `train_*` are "
        "the served model's scores on each split."
    )


def _penalty(row: Mapping[str, object], cfg) -> str:
    strengths = [f"{p.upper()} {float(row[p]):.3g}" for p in headline.PENALTIES if row.get(p)]
    if not strengths:
        return "no penalty"
    text = " + ".join(strengths)
    if row.get("selection") == "cv_path":
        scored = "on the validation split" if cfg.selection.scored_on == "val" else "by inner CV"
        text += f" chosen {scored}"
        if row.get("selection_edge"):
            text += f" (the {row['selection_edge']} end of its grid: the best may lie beyond)"
    return text


def _protocol(cfg) -> str:
    e = cfg.evaluation
    if e.name == "cv":
        repeats = f", repeated {e.n_repeats} times" if e.n_repeats > 1 else ""
        return f"{e.n_splits}-fold cross-validation{repeats}"
    return "bootstrap over the held-out test split"


def plan_description(cfg) -> str:
    """A run's description while it runs (and below the error if it stops): what it fits."""
    features = f" on {cfg.dataset.features} features" if cfg.dataset.kind == "faces" else ""
    penalty = "chosen by selection" if cfg.selection.name == "cv_path" else "as configured"
    return (
        f"**{cfg.experiment_name}** on **{data_label(cfg)}** ({cfg.dataset.task}): "
        f"{cfg.model.name} regression{features}, penalty {penalty}, solver "
        f"{cfg.optimizer.solver}, evaluation {cfg.evaluation.name}."
    )


def run_description(row: Mapping[str, object], cfg, folder: str) -> str:
    """A finished run's description: its answer with the interval, then what it is."""
    level = f"{cfg.evaluation.confidence:.0%}"
    return (
        f"**accuracy {row['accuracy']:.4f}** [{row['accuracy_ci_low']:.4f}, "
        f"{row['accuracy_ci_high']:.4f}] ({level} interval, {_protocol(cfg)}) · "
        f"f1 {row['f1']:.4f} · auc {row['auc']:.4f}\n\n"
        f"**{row['experiment']}** on **{data_label(cfg)}** ({row['task']}): {row['model']} "
        f"regression on {headline.features(row)} features; {_penalty(row, cfg)}; "
        f"solver {row['solver']}, {row['n_iter']} iterations.\n\n"
        f"Folder `{folder}`; started by `{cfg.source}`."
    )


def _runs(client, experiment_id: str) -> list:
    """The experiment's training runs (a sweep's own run is no model)."""
    runs = client.search_runs([experiment_id], max_results=1000)
    return [r for r in runs if r.data.tags.get("source") != "sweep"]


def set_note(client, experiment_id: str, text: str) -> None:
    """Set an experiment's description unless a user wrote their own since."""
    tags = client.get_experiment(experiment_id).tags
    current, generated = tags.get(NOTE), tags.get(GENERATED_NOTE)
    if current is None or current == generated:
        if current != text:
            client.set_experiment_tag(experiment_id, NOTE, text)
            client.set_experiment_tag(experiment_id, GENERATED_NOTE, text)


def refresh_experiment(client, experiment_id: str) -> None:
    """Write the experiment's :data:`ANSWER` view from its runs, and its description."""
    runs = _runs(client, experiment_id)
    metrics = _headline_columns({k for r in runs for k in r.data.metrics})
    params = differing_params([r.data.params for r in runs])
    # Several datasets (review domains): one group each, so the best of each reads first.
    datasets = {r.data.tags.get("dataset") for r in runs}
    view = table_view(
        metrics or ["accuracy"],
        params,
        name_width=_name_width([r.info.run_name for r in runs]),
        group_by_tag="dataset" if len(datasets) > 1 else None,
    )
    client.set_experiment_tag(experiment_id, SHARE_TAG + ANSWER, json.dumps(view))
    # One experiment per task, by default named after it (tracking.experiment).
    tasks = [r.data.params["dataset.task"] for r in runs if "dataset.task" in r.data.params]
    task = tasks[0] if tasks else client.get_experiment(experiment_id).name
    set_note(client, experiment_id, experiment_description(task, experiment_id))


def _swept_params(keys: set[str], swept: Sequence[str]) -> list[str]:
    """The params of the swept keys: a key itself, a group by its solver or name
    (``optimizer`` -> ``optimizer.solver``), else all of the group's params."""
    found = []
    for key in swept:
        if key in keys:
            found.append(key)
            continue
        named = [f"{key}.{n}" for n in ("name", "solver") if f"{key}.{n}" in keys]
        found += named[:1] or sorted(k for k in keys if k.startswith(f"{key}."))
    return found


def sweep_key(parent_run_id: str) -> str:
    return f"sweep-{parent_run_id}"


def refresh_sweep(client, experiment_id: str, parent_run_id: str, swept: Sequence[str]) -> str:
    """Write the view of a sweep's jobs: the swept parameters (``swept``: keys of the
    overrides, a group's name for a group) against accuracy. Returns its key."""
    search = f"tags.mlflow.parentRunId = '{parent_run_id}'"
    children = client.search_runs([experiment_id], filter_string=search, max_results=1000)
    params = [r.data.params for r in children]
    first = _swept_params({k for p in params for k in p}, swept)
    differ = differing_params(params, first)
    view = table_view(
        _headline_columns({k for r in children for k in r.data.metrics}) or ["accuracy"],
        differ,
        search_filter=search,
        charts_of="the sweep",
        chart_params=[k for k in first if k in differ] or differ[:3],
        scatter=True,
        name_width=_name_width([r.info.run_name for r in children]),
    )
    key = sweep_key(parent_run_id)
    client.set_experiment_tag(experiment_id, SHARE_TAG + key, json.dumps(view))
    return key


def main(argv: Sequence[str] | None = None) -> None:
    from mlflow.tracking import MlflowClient

    from logreg.serving import artifact_store

    parser = argparse.ArgumentParser(
        prog="python -m logreg.experiment.views",
        description="Refresh each experiment's answer view and print the links to open.",
    )
    parser.add_argument("--store", required=True, help="tracking store URI")
    parser.add_argument("--url", default=MAKE_UI, help="where the UI is served")
    args = parser.parse_args(argv)
    base = args.url.rstrip("/")
    database = artifact_store.sqlite_file(args.store)
    print(f"MLflow UI: {base}")
    if database is not None and not database.is_file():
        print(f"  no runs yet: {database} does not exist")
        return
    client = MlflowClient(tracking_uri=args.store)
    experiments = [e for e in client.search_experiments() if e.name != "Default"]
    if experiments:
        print("  each experiment's runs, best accuracy first, what differs as columns:")
    width = max((len(e.name) + 5 for e in experiments), default=0)
    for experiment in sorted(experiments, key=lambda e: int(e.experiment_id)):
        if experiment.name == SUMMARY_EXPERIMENT:  # one run per summary: its picture
            for run in client.search_runs([experiment.experiment_id]):
                url = run_url(base, experiment.experiment_id, run.info.run_id)
                print(f"  {run.info.run_name:<{width}}  {url}")
            continue
        try:
            refresh_experiment(client, experiment.experiment_id)
        except Exception as exc:  # a read-only or remote store: the links still work
            log.warning("could not refresh the view of %s: %s", experiment.name, exc)
        print(f"  {experiment.name:<{width}}  {experiment_url(base, experiment.experiment_id)}")


if __name__ == "__main__":
    from logreg.cli import run_cli

    run_cli(main)
