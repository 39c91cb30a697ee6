r"""Confidence intervals and paired tests for comparing runs.

Cross-validation folds share training examples, so their scores are correlated and the
naive standard error :math:`s/\sqrt{J}` is too small. Over :math:`J` folds (all repeats)
with :math:`n_1` training and :math:`n_2` test examples each, the corrected resampled
t statistic of Nadeau and Bengio (2003) inflates the variance of the mean to

.. math::  \hat\sigma^2 = \Big(\frac{1}{J} + \frac{n_2}{n_1}\Big) s^2,
           \qquad s^2 = \frac{1}{J-1}\sum_j (x_j - \bar x)^2,

and the interval is :math:`\bar x \pm t_{J-1,\,0.975}\,\hat\sigma`. It is used both for
one configuration's mean score (:func:`cv_interval`) and for the per-fold differences of
two configurations evaluated on the same folds (:func:`corrected_resampled_ttest`).
One test set (FER2013's PrivateTest) gets a percentile bootstrap over its examples
(:func:`bootstrap_interval`) and paired comparisons the exact McNemar test
(:func:`mcnemar`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.stats

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    """A mean with its spread: ``std`` of the values, ``[low, high]`` its CI."""

    mean: float
    std: float
    low: float
    high: float

    def as_metrics(self, name: str) -> dict[str, float]:
        """``<name>_mean``, ``<name>_std``, ``<name>_ci_low``, ``<name>_ci_high``."""
        return {
            f"{name}_mean": self.mean,
            f"{name}_std": self.std,
            f"{name}_ci_low": self.low,
            f"{name}_ci_high": self.high,
        }


def cv_interval(values, n_train: int, n_test: int, confidence: float = CONFIDENCE) -> Interval:
    """Mean of per-fold ``values`` with the Nadeau-Bengio corrected t interval.

    Parameters
    ----------
    values : array-like of shape (n_folds,)
        One score per fold (every repeat's folds together); at least 2.
    n_train, n_test : int
        Examples in a fold's training and test parts (their mean over folds).
    """
    x = np.asarray(values, dtype=np.float64)
    if x.size < 2:
        raise ValueError(f"need at least 2 fold scores, got {x.size}")
    mean, std = float(x.mean()), float(x.std(ddof=1))
    half = _t_quantile(confidence, x.size - 1) * np.sqrt((1.0 / x.size + n_test / n_train) * std**2)
    return Interval(mean, std, float(mean - half), float(mean + half))


#: Resampled indices drawn at a time by :func:`bootstrap_interval` (32 MB of int64).
BOOTSTRAP_BLOCK = 1 << 22


def bootstrap_interval(
    values, n_boot: int = 2000, seed: int = 0, confidence: float = CONFIDENCE
) -> Interval:
    """Mean of per-example ``values`` (e.g. 1 for a correct prediction) with the
    percentile bootstrap interval; ``std`` is the bootstrap standard error.

    Resamples come from ``numpy.random.default_rng(seed)``: same seed, same interval.
    """
    x = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    # Resamples in blocks of about BOOTSTRAP_BLOCK indices: all at once they took
    # 16 bytes x n_boot x n (6.4 GB for the 2x10^5 test reviews of a 10^6-review domain).
    # The generator draws the same numbers in blocks as in one call, so the interval is
    # the same bit for bit (tests/experiment/test_protocol.py).
    rows = max(1, BOOTSTRAP_BLOCK // max(x.size, 1))
    means = np.concatenate(
        [
            x[rng.integers(0, x.size, size=(min(rows, n_boot - start), x.size))].mean(axis=1)
            for start in range(0, n_boot, rows)
        ]
    )
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return Interval(float(x.mean()), float(means.std(ddof=1)), float(low), float(high))


@dataclass(frozen=True)
class PairedTest:
    """Mean difference (A - B) with its CI and the two-sided p-value of no difference."""

    method: str
    mean_difference: float
    low: float
    high: float
    p_value: float

    @property
    def distinguishable(self) -> bool:
        """True when the CI excludes 0 (at the interval's confidence)."""
        return not self.low <= 0.0 <= self.high


def corrected_resampled_ttest(
    scores_a, scores_b, n_train: int, n_test: int, confidence: float = CONFIDENCE
) -> PairedTest:
    """Nadeau-Bengio corrected resampled t-test of two configurations on the same folds."""
    d = np.asarray(scores_a, dtype=np.float64) - np.asarray(scores_b, dtype=np.float64)
    interval = cv_interval(d, n_train, n_test, confidence)
    se = np.sqrt(1.0 / d.size + n_test / n_train) * interval.std
    if se == 0:
        p = 1.0 if interval.mean == 0 else 0.0
    else:
        t = interval.mean / se
        p = float(2 * scipy.stats.t.sf(abs(t), d.size - 1))
    return PairedTest("corrected resampled t-test", interval.mean, interval.low, interval.high, p)


def mcnemar(correct_a, correct_b, n_boot: int = 2000, seed: int = 0) -> PairedTest:
    """Exact McNemar test of two classifiers on one test set, with a paired bootstrap
    CI of the accuracy difference (A - B)."""
    a = np.asarray(correct_a, dtype=bool)
    b = np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"the runs were scored on different test sets ({a.size} vs {b.size})")
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    p = (
        1.0
        if only_a + only_b == 0
        else float(scipy.stats.binomtest(only_a, only_a + only_b, 0.5).pvalue)
    )
    interval = bootstrap_interval(a.astype(float) - b.astype(float), n_boot, seed)
    return PairedTest("McNemar (exact)", interval.mean, interval.low, interval.high, p)


def _t_quantile(confidence: float, dof: int) -> float:
    return float(scipy.stats.t.ppf(1 - (1 - confidence) / 2, dof))
