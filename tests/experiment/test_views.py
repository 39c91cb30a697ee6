"""What the MLflow UI opens on, without a browser: the views' columns, the run names and
descriptions (tests/experiment/test_ui.py reads them rendered in Chromium)."""

import json

from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf

from logreg.experiment import views
from logreg.experiment.config import compose, data_label, default_run_name
from logreg.experiment.sweep import swept_keys
from logreg.experiment.tracking import Tracker


def test_the_columns_are_the_parameters_that_differ_what_a_reader_compares_first():
    params = [
        {"penalty.l2": "0.1", "fit.solver": "lbfgs", "seed": "0", "dataset.path": "a", "z": "1"},
        {"penalty.l2": "1", "fit.solver": "gd", "seed": "1", "dataset.path": "b", "z": "1"},
        {"penalty.l2": "1", "fit.solver": "gd", "dataset.features": "hog", "fit.l2": "1", "z": "1"},
    ]
    # Features and the solver first (PARAM_PRIORITY), then the rest by name; what the run
    # name, the Dataset column or the l2 metric says already, and equal values, left out.
    assert views.differing_params(params) == ["dataset.features", "fit.solver", "penalty.l2"]
    assert views.differing_params(params, first=["penalty.l2"])[0] == "penalty.l2"
    many = [{f"k{i}": str(run) for i in range(10)} for run in range(2)]
    assert len(views.differing_params(many)) == views.MAX_PARAMS


def test_a_sweep_compares_the_keys_it_sweeps_and_a_group_by_its_solver():
    config = OmegaConf.create(
        {
            "hydra": {
                "overrides": {
                    "task": ["experiment=reviews", "penalty.l2=0.001,0.1", "optimizer=gd,lbfgs"]
                },
                "sweeper": {"params": {"optimizer.lr": "interval(0.01, 1)"}},
            }
        }
    )
    assert swept_keys(config) == ["penalty.l2", "optimizer", "optimizer.lr"]
    keys = {"penalty.l2", "optimizer.solver", "optimizer.lr", "optimizer.tol", "model.name"}
    assert views._swept_params(keys, swept_keys(config)) == [
        "penalty.l2",
        "optimizer.solver",
        "optimizer.lr",
    ]


def test_the_answer_view_sorts_by_accuracy_and_shows_it_first(tmp_path):
    view = views.table_view(["accuracy", "accuracy_ci_low", "accuracy_ci_high"], ["penalty.l2"])
    assert (view["orderByKey"], view["orderByAsc"]) == ("metrics.`accuracy`", False)
    assert view["columnOrder"][:4] == [
        views.RUN_NAME,
        "metrics.`accuracy`",
        "metrics.`accuracy_ci_low`",
        "metrics.`accuracy_ci_high`",
    ]
    (parallel,) = view["compareRunCharts"]
    assert parallel["selectedParams"] == ["penalty.l2"]
    assert parallel["selectedMetrics"] == ["accuracy"]
    # Written to the store where the UI reads it, with the description linking to it.
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    for l2 in ("0.1", "1"):
        tracker = Tracker(uri, "reviews_sentiment", f"run l2={l2}", {"dataset": "demo/x"})
        tracker.log_params({"penalty.l2": l2, "dataset.task": "reviews_sentiment"})
        tracker.log_metrics([("accuracy", 0.8, 0), ("accuracy_ci_low", 0.7, 0)])
        tracker.finish()
    views.refresh_experiment(tracker.client, tracker.experiment_id)
    tags = MlflowClient(uri).get_experiment(tracker.experiment_id).tags
    written = json.loads(tags[views.SHARE_TAG + views.ANSWER])
    assert written["selectedColumns"] == [
        "metrics.`accuracy`",
        "metrics.`accuracy_ci_low`",
        "params.`penalty.l2`",
        views.DATASET,
    ]
    assert written["groupBy"] is None  # one dataset: no groups
    note = tags["mlflow.note.content"]
    assert note.startswith("**accuracy** is each run's answer")
    assert f"#/experiments/{tracker.experiment_id}/runs?viewStateShareKey=answer" in note
    # A description edited in the UI is kept.
    MlflowClient(uri).set_experiment_tag(tracker.experiment_id, "mlflow.note.content", "mine")
    views.refresh_experiment(tracker.client, tracker.experiment_id)
    assert (
        MlflowClient(uri).get_experiment(tracker.experiment_id).tags["mlflow.note.content"]
        == "mine"
    )


def test_run_names_say_who_started_a_run_and_face_data_its_features(tmp_path):
    faces = compose([f"paths.results_dir={tmp_path}", "experiment=faces_softmax_pixels"])
    assert data_label(faces) == "demo/pixels"
    assert (
        default_run_name(faces, "penalty.l2=0.1")
        == "cli faces_softmax_pixels demo/pixels penalty.l2=0.1"
    )
    faces.source = "snakemake:train:faces_softmax_pixels/demo"
    assert default_run_name(faces) == "faces_softmax_pixels demo/pixels"
    reviews = compose(["experiment=reviews", "dataset.domain=electronics"])
    assert data_label(reviews) == "demo/electronics"


def test_a_run_description_leads_with_its_answer_then_says_what_it_is():
    cfg = compose(["experiment=reviews", "dataset.domain=electronics"])
    row = {
        "experiment": "reviews",
        "task": "reviews_sentiment",
        "model": "logistic",
        "penalty": "l2",
        "l1": 0.0,
        "l2": 0.000464,
        "solver": "newton_cg",
        "selection": "cv_path",
        "selection_edge": "low",
        "n_iter": 5,
        "accuracy": 0.9083,
        "accuracy_ci_low": 0.8515,
        "accuracy_ci_high": 0.9652,
        "f1": 0.9085,
        "auc": 0.9614,
        "data.text.weighting": "tfidf",
        "data.text.bigrams": True,
    }
    text = views.run_description(row, cfg, "results/runs/reviews/demo/electronics")
    first, what, where = text.split("\n\n")
    assert first.startswith("**accuracy 0.9083** [0.8515, 0.9652] (95% interval, 5-fold")
    assert "f1 0.9085 · auc 0.9614" in first
    assert what.startswith("**reviews** on **demo/electronics** (reviews_sentiment)")
    assert "tfidf bigrams features; L2 0.000464 chosen by inner CV (the low end" in what
    assert where == "Folder `results/runs/reviews/demo/electronics`; started by `cli`."
