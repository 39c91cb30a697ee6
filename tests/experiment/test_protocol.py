"""Cross-validation, penalty selection and their statistics: folds, leakage, CIs, tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from reviews_data import prepare_domain

from logreg.data.reviews.demo import write_demo_data
from logreg.data.reviews.parse import read_reviews_table
from logreg.data.reviews.stages import document_texts
from logreg.data.reviews.vectorize import Vectorizer
from logreg.errors import ConfigError
from logreg.experiment import selection, statistics
from logreg.experiment.config import compose
from logreg.experiment.run import train
from logreg.experiment.text_features import ReviewCorpus, TextOptions
from logreg.linear.estimators import LogisticRegression
from logreg.linear.model_selection import repeated_stratified_kfold, stratified_kfold


# -- folds ----------------------------------------------------------------------------------
def test_kfold_folds_are_stratified_partitions_and_seed_reproducible():
    labels = np.array([0] * 23 + [1] * 41 + [2] * 9)
    pairs = repeated_stratified_kfold(labels, 4, 3, seed=7)
    assert len(pairs) == 12
    for repeat in range(3):
        tests = [pairs[repeat * 4 + k][1] for k in range(4)]
        np.testing.assert_array_equal(np.sort(np.concatenate(tests)), np.arange(labels.size))
        for fit_part, test in pairs[repeat * 4 : repeat * 4 + 4]:
            assert np.intersect1d(fit_part, test).size == 0
            assert fit_part.size + test.size == labels.size
            for c, n in zip(range(3), (23, 41, 9)):
                assert abs(np.sum(labels[test] == c) - n / 4) < 1  # each class split evenly
    again = repeated_stratified_kfold(labels, 4, 3, seed=7)
    for (a, b), (c, d) in zip(pairs, again):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    other = repeated_stratified_kfold(labels, 4, 1, seed=8)
    assert not np.array_equal(other[0][1], pairs[0][1])
    assert not np.array_equal(pairs[0][1], pairs[4][1])  # repeats differ


def test_kfold_refuses_more_folds_than_the_smallest_class():
    with pytest.raises(ValueError, match="smallest class size \\(2\\)"):
        stratified_kfold(np.array([0, 0, 1, 1, 1]), 3, np.random.default_rng(0))


# -- statistics on hand-computed cases -------------------------------------------------------
def test_cv_interval_matches_the_hand_computed_corrected_t_interval():
    # mean 2, s^2 = 1, corrected variance (1/3 + 1/2) * 1 = 5/6, t(2, 0.975) = 4.302653
    interval = statistics.cv_interval([1.0, 2.0, 3.0], n_train=2, n_test=1)
    half = 4.302653 * np.sqrt(5 / 6)
    assert interval.mean == 2.0 and interval.std == 1.0
    assert interval.low == pytest.approx(2 - half, abs=1e-5)
    assert interval.high == pytest.approx(2 + half, abs=1e-5)
    assert interval.as_metrics("test_accuracy")["test_accuracy_ci_low"] == interval.low


def test_corrected_resampled_ttest_matches_the_hand_computed_case():
    a = [0.90, 0.80, 0.85, 0.90]
    b = [0.85, 0.80, 0.80, 0.85]
    # d = (.05, 0, .05, .05): mean .0375, s^2 = .000625; var = (1/4 + 1/3) s^2 = .00036458
    test = statistics.corrected_resampled_ttest(a, b, n_train=3, n_test=1)
    se = np.sqrt(0.000625 * 7 / 12)
    assert test.mean_difference == pytest.approx(0.0375)
    assert test.low == pytest.approx(0.0375 - 3.182446 * se, abs=1e-6)
    assert test.high == pytest.approx(0.0375 + 3.182446 * se, abs=1e-6)
    # t = .0375 / .0190941 = 1.96396 on 3 degrees of freedom: two-sided p = 0.1443
    assert test.p_value == pytest.approx(0.1443, abs=5e-4)
    assert not test.distinguishable


def test_mcnemar_exact_p_value_and_bootstrap_interval():
    # 8 examples only A gets right, 2 only B: p = 2 * (1 + 10 + 45) / 2**10 = 0.109375
    a = np.r_[np.ones(8), np.zeros(2), np.ones(30)]
    b = np.r_[np.zeros(8), np.ones(2), np.ones(30)]
    test = statistics.mcnemar(a, b, seed=3)
    assert test.p_value == pytest.approx(0.109375)
    assert test.mean_difference == pytest.approx(6 / 40)
    assert test.low < 6 / 40 < test.high
    assert statistics.mcnemar(a, b, seed=3) == test  # same seed, same interval


def test_bootstrap_interval_of_a_constant_is_that_constant():
    interval = statistics.bootstrap_interval(np.ones(50))
    assert (interval.mean, interval.low, interval.high, interval.std) == (1.0, 1.0, 1.0, 0.0)


def test_bootstrap_interval_in_blocks_is_the_one_shot_interval_bit_for_bit(monkeypatch):
    # A large test split is resampled in blocks (memory); the interval must not change.
    correct = (np.random.default_rng(5).random(1001) < 0.8).astype(float)
    rng = np.random.default_rng(7)
    means = correct[rng.integers(0, correct.size, size=(300, correct.size))].mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    monkeypatch.setattr(statistics, "BOOTSTRAP_BLOCK", 7 * 1001)  # 43 blocks, the last short
    interval = statistics.bootstrap_interval(correct, n_boot=300, seed=7)
    assert (interval.low, interval.high, interval.std) == (low, high, means.std(ddof=1))


# -- the path ----------------------------------------------------------------------------------
def _problem(seed=0, n=300, d=20):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (X[:, :3].sum(axis=1) + rng.normal(size=n) > 0).astype(np.int64)
    return X, y


def test_selection_on_a_validation_set_returns_the_fit_of_the_chosen_penalty():
    X, y = _problem()
    X_val, y_val = _problem(seed=1)
    estimator = LogisticRegression(tol=1e-10, max_iter=2000)
    values = selection.penalty_grid(1.0, 1e-3, 6)
    result = selection.select_penalty(
        estimator, X, y, "l2", values, n_splits=3, seed=0, validation=(X_val, y_val)
    )
    assert result.scores.shape == (1, 6) and result.chosen in values
    cold = LogisticRegression(l2=result.chosen, tol=1e-10, max_iter=2000).fit(X, y)
    np.testing.assert_allclose(result.coef, cold.coef_, atol=1e-6)
    assert result.scores[0, list(values).index(result.chosen)] == cold.score(X_val, y_val)


def test_inner_cv_scores_every_fold_and_is_seed_reproducible():
    X, y = _problem()
    estimator = LogisticRegression(l1=0.0, tol=1e-8)
    values = selection.penalty_grid(1.0, 1e-3, 4)
    a = selection.select_penalty(estimator, X, y, "l2", values, n_splits=3, seed=5)
    b = selection.select_penalty(estimator, X, y, "l2", values, n_splits=3, seed=5)
    assert a.scores.shape == (3, 4) and a.coef is None
    np.testing.assert_array_equal(a.scores, b.scores)
    assert np.all(a.nonzero == X.shape[1])  # an L2 path keeps every weight


def test_choose_takes_the_best_mean_or_the_strongest_within_one_standard_error():
    values = np.array([1.0, 0.1, 0.01])
    scores = np.array([[0.80, 0.86, 0.87], [0.84, 0.86, 0.89]])
    assert values[selection.choose(values, scores, one_se=False)] == 0.01
    # best mean .88, se = std(.87, .89) / sqrt(2) = .01: 0.1 (mean .86) is out, 0.01 is it
    assert values[selection.choose(values, scores, one_se=True)] == 0.01
    scores[:, 1] = [0.87, 0.88]  # mean .875 >= .87: the stronger 0.1 is chosen
    assert values[selection.choose(values, scores, one_se=True)] == 0.1
    scores[:, 2] = [0.87, 0.88]  # a tie of means: the stronger penalty wins
    assert values[selection.choose(values, scores, one_se=False)] == 0.1


# -- review features per fold: no leakage ----------------------------------------------------------
@pytest.fixture(scope="module")
def demo_results(tmp_path_factory):
    root = tmp_path_factory.mktemp("reviews")
    write_demo_data(root / "raw", ["electronics"], seed=0, n_per_file=60)
    prepare_domain(root / "raw", root / "results", "demo", "electronics")
    return root / "results"


def test_fold_features_are_fitted_on_the_training_part_alone(demo_results):
    table = demo_results / "data" / "reviews" / "demo" / "electronics" / "reviews.parquet"
    options = TextOptions(
        fields=("title", "review_text"),
        stopwords=False,
        bigrams=True,
        min_count=2,
        max_size=None,
        weighting="tfidf",
        sublinear_tf=True,
    )
    corpus = ReviewCorpus(table, options)
    train, test = repeated_stratified_kfold(corpus.y, 5, 1, seed=0)[2]
    X_train, X_test, vectorizer = corpus.fold(train, test)

    reviews, _ = read_reviews_table(table)
    texts = np.array(document_texts(reviews), dtype=object)
    alone = Vectorizer(stopwords=False, bigrams=True, sublinear_tf=True).fit(list(texts[train]))
    assert vectorizer.feature_names == alone.feature_names
    np.testing.assert_array_equal(vectorizer.idf, alone.idf)
    np.testing.assert_array_equal(
        X_test.toarray(), alone.transform(list(texts[test])).toarray().astype(np.float64)
    )
    np.testing.assert_array_equal(
        X_train.toarray(), alone.transform(list(texts[train])).toarray().astype(np.float64)
    )
    # A different training part gives other statistics: they are the fold's own.
    everything = Vectorizer(stopwords=False, bigrams=True, sublinear_tf=True).fit(list(texts))
    assert everything.n_documents != vectorizer.n_documents


def _reviews_cfg(results, *overrides):
    return compose(
        [
            "experiment=reviews",
            f"paths.results_dir={results}",
            "dataset.source=demo",
            "tracking=none",
            "progress=false",
            "evaluation.n_splits=3",
            "evaluation.n_repeats=2",
            "selection.n_values=4",
            *overrides,
        ]
    )


def test_cv_run_reports_mean_and_interval_and_is_bit_identical(demo_results, tmp_path):
    cfg = _reviews_cfg(demo_results)
    first = train(cfg, tmp_path / "a")
    second = train(cfg, tmp_path / "b")
    for key in ("test_accuracy", "test_f1", "test_auc", "test_loss"):
        assert first[f"{key}_ci_low"] <= first[f"{key}_mean"] <= first[f"{key}_ci_high"]
    assert first["cv_folds"] == 6
    folds = pd.read_csv(tmp_path / "a" / "folds.csv")
    assert len(folds) == 6 and folds["test_accuracy"].mean() == pytest.approx(
        first["test_accuracy_mean"]
    )
    assert "selected_l2" in folds and first["l2"] == first["selected_l2"]
    assert (tmp_path / "a" / "figures" / "cv_path.png").is_file()
    assert (tmp_path / "a" / "selection_path.csv").is_file()
    for key in ("run_seconds", "fit_seconds"):
        first.pop(key), second.pop(key)
    assert first == second
    assert (tmp_path / "a" / "folds.csv").read_bytes() == (
        tmp_path / "b" / "folds.csv"
    ).read_bytes()


def test_holdout_fixed_run_is_unchanged_but_for_the_interval(tmp_path):
    cfg = compose(
        [
            f"paths.results_dir={tmp_path}",
            "experiment=gaussian_clouds",
            "dataset.n_samples=400",
            "progress=false",
            "tracking=none",
        ]
    )
    row = train(cfg, tmp_path / "run")
    assert row["test_accuracy_mean"] == row["test_accuracy"]
    assert row["test_accuracy_ci_low"] <= row["test_accuracy"] <= row["test_accuracy_ci_high"]
    assert "cv_folds" not in row and "selected_l2" not in row
    predictions = pd.read_csv(tmp_path / "run" / "test_predictions.csv")
    assert predictions["correct"].mean() == pytest.approx(row["test_accuracy"])


def test_cv_on_faces_is_refused_naming_the_key(tmp_path):
    cfg = compose([f"paths.results_dir={tmp_path}", "experiment=faces_softmax", "evaluation=cv"])
    with pytest.raises(ConfigError, match="evaluation.name.*official split"):
        train(cfg, tmp_path / "run")


# -- paired comparison of runs ------------------------------------------------------------------
def test_compare_uses_the_corrected_t_test_on_shared_folds(demo_results, tmp_path, capsys):
    from logreg.experiment.compare import compare_runs, load_run, main

    train(_reviews_cfg(demo_results), tmp_path / "a")
    train(_reviews_cfg(demo_results, "selection=fixed", "penalty.l2=0.5"), tmp_path / "b")
    a, b = load_run(str(tmp_path / "a")), load_run(str(tmp_path / "b"))
    test = compare_runs(a, b)
    folds_a = pd.read_csv(tmp_path / "a" / "folds.csv")
    folds_b = pd.read_csv(tmp_path / "b" / "folds.csv")
    expected = statistics.corrected_resampled_ttest(
        folds_a["test_accuracy"],
        folds_b["test_accuracy"],
        folds_a["n_train"].mean(),
        folds_a["n_test"].mean(),
    )
    assert test == expected and test.method == "corrected resampled t-test"
    main([str(tmp_path / "a"), str(tmp_path / "b")])
    out = capsys.readouterr().out
    assert "corrected resampled t-test" in out and "A - B" in out


def test_compare_uses_mcnemar_on_one_test_set(tmp_path):
    from logreg.errors import DataError
    from logreg.experiment.compare import compare_runs, load_run

    base = [f"paths.results_dir={tmp_path}", "experiment=gaussian_clouds", "tracking=none"]
    base += ["dataset.n_samples=200", "progress=false"]
    train(compose([*base, "penalty=l2", "penalty.l2=0.0"]), tmp_path / "a")
    train(compose([*base, "penalty=l2", "penalty.l2=3.0"]), tmp_path / "b")
    test = compare_runs(load_run(str(tmp_path / "a")), load_run(str(tmp_path / "b")))
    assert test.method == "McNemar (exact)"
    assert 0 <= test.p_value <= 1 and test.low <= test.mean_difference <= test.high
    # The same labels in the same order on other data (two demo review domains have that)
    # are other test examples: no paired test.
    other = load_run(str(tmp_path / "b"))
    other.metrics["dataset"] = "demo/kitchen_&_housewares"
    wanted = r"different test sets: A on generated .* on demo/kitchen_&_housewares \(generated"
    with pytest.raises(DataError, match=wanted):
        compare_runs(load_run(str(tmp_path / "a")), other)


def test_compare_refuses_a_folder_that_is_not_a_run(tmp_path):
    from logreg.errors import DataError
    from logreg.experiment.compare import load_run

    with pytest.raises(DataError, match="no metrics.json"):
        load_run(str(tmp_path))


def test_summary_marks_the_runs_not_distinguishable_from_the_best(tmp_path):
    from logreg.experiment.summary import summarize

    base = [f"paths.results_dir={tmp_path}", "experiment=gaussian_clouds", "tracking=none"]
    base += ["dataset.n_samples=200", "progress=false", "penalty=l2"]
    for name, l1 in (("a", "0.0"), ("b", "0.001"), ("c", "10.0")):
        train(compose([*base, f"penalty.l1={l1}"]), tmp_path / name / "metrics")
    files = [tmp_path / name / "metrics" / "metrics.json" for name in "abc"]
    frame = summarize(files, tmp_path / "summary.csv")
    marks = dict(zip(frame["l1"], frame["indistinguishable_from_best"]))
    # l1=0 and l1=0.001 fit the same clouds; l1=10 zeroes every weight: chance.
    assert marks[0.0] and marks[0.001] and not marks[10.0]
    assert "test_accuracy_ci_low" in pd.read_csv(tmp_path / "summary.csv")


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("evaluation.n_splits=100", "evaluation.n_splits"),
        ("selection.n_splits=100", "selection.n_splits"),
    ],
)
def test_more_folds_than_examples_of_a_class_names_the_key(tmp_path, override, key):
    cfg = compose(
        [
            f"paths.results_dir={tmp_path}",
            "experiment=gaussian_clouds",
            "dataset.n_samples=20",
            "tracking=none",
            "evaluation=cv",
            "selection=cv_path",
            "evaluation.n_splits=3",
            override,
        ]
    )
    with pytest.raises(ConfigError, match=f"'{key}'.*smallest class size"):
        train(cfg, tmp_path / "run")


def test_summary_leaves_runs_on_other_test_sets_unpaired(tmp_path):
    from logreg.experiment.summary import summarize

    base = [f"paths.results_dir={tmp_path}", "experiment=gaussian_clouds", "tracking=none"]
    for name, n in (("a", 200), ("b", 240)):
        train(compose([*base, f"dataset.n_samples={n}"]), tmp_path / name)
    frame = summarize([tmp_path / n / "metrics.json" for n in "ab"], tmp_path / "summary.csv")
    assert frame["indistinguishable_from_best"].isna().all()
