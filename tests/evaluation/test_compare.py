"""Paired statistics: sign test, per-subject confusions, metric from confusion, bootstrap."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from featref.errors import ConfigError
from featref.evaluation.compare import (
    _resampled_differences,
    compare_predictions,
    metric_from_confusion,
    paired_subject_bootstrap,
    seed_differences,
    sign_test,
    subject_confusions,
)
from featref.evaluation.metrics import confusion_matrix, uar, uf1
from featref.evaluation.predictions import Prediction

LABELS = ["negative", "positive", "surprise"]


def _binom_two_sided(wins: int, n: int) -> float:
    """Reference: scipy's exact binomial test if present, else the textbook formula."""
    try:
        from scipy.stats import binomtest
    except ImportError:
        k = min(wins, n - wins)
        return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)
    return float(binomtest(wins, n, 0.5).pvalue)


@pytest.mark.parametrize(
    ("wins", "losses"), [(0, 0), (1, 0), (3, 0), (2, 1), (5, 1), (8, 0), (7, 3), (10, 10), (0, 9)]
)
def test_sign_test_matches_exact_binomial(wins, losses):
    diffs = [0.1] * wins + [-0.2] * losses + [0.0, 0.0]
    res = sign_test(diffs)
    assert (res.wins, res.losses, res.ties) == (wins, losses, 2)
    expected = 1.0 if wins + losses == 0 else _binom_two_sided(wins, wins + losses)
    assert res.p_value == pytest.approx(expected, rel=1e-12)


def test_sign_test_hand_computed():
    # n = 6, one loss: 2 * (C(6,0) + C(6,1)) / 64 = 14 / 64
    assert sign_test([1, 1, 1, 1, 1, -1]).p_value == pytest.approx(14 / 64)
    # three seeds, all wins: the smallest p three seeds can give
    assert sign_test([0.01, 0.02, 0.03]).p_value == pytest.approx(0.25)


def test_seed_differences_need_the_same_seeds():
    assert seed_differences({1: 0.5, 0: 0.7}, {0: 0.6, 1: 0.5}) == {0: pytest.approx(0.1), 1: 0.0}
    with pytest.raises(ConfigError, match="same seeds"):
        seed_differences({0: 0.5, 1: 0.6}, {0: 0.5, 2: 0.6})


def _random_run(rng, n=60, subjects=8, k=3, skip_class=None):
    y_true = rng.integers(0, k, n)
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, k, n))
    if skip_class is not None:
        y_pred[y_pred == skip_class] = (skip_class + 1) % k
        y_true[y_true == skip_class] = (skip_class + 1) % k
    subs = np.array([f"db/s{i:02d}" for i in rng.integers(0, subjects, n)])
    return y_true, y_pred, subs


@pytest.mark.parametrize("skip_class", [None, 2])
def test_metric_from_confusion_matches_metrics(skip_class):
    rng = np.random.default_rng(1)
    for _ in range(5):
        y_true, y_pred, subs = _random_run(rng, skip_class=skip_class)
        order, conf = subject_confusions(y_true, y_pred, subs, labels=[0, 1, 2])
        assert order == sorted(set(subs))
        pooled = conf.sum(0)
        assert (pooled == confusion_matrix(y_true, y_pred, labels=[0, 1, 2])).all()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert metric_from_confusion(pooled, "uf1") == pytest.approx(
                uf1(y_true, y_pred, labels=[0, 1, 2])
            )
            assert metric_from_confusion(pooled, "uar") == pytest.approx(
                uar(y_true, y_pred, labels=[0, 1, 2])
            )
    with pytest.raises(ConfigError, match="metric must be one of"):
        metric_from_confusion(pooled, "accuracy")


def test_resampled_difference_equals_recomputation_on_repeated_subjects():
    """The vectorised statistic equals UF1 recomputed on the rows of the drawn subjects."""
    rng = np.random.default_rng(2)
    ya, pa, subs = _random_run(rng, n=50, subjects=6)
    pb = np.where(rng.random(50) < 0.5, ya, rng.integers(0, 3, 50))
    order, ca = subject_confusions(ya, pa, subs, labels=[0, 1, 2])
    _, cb = subject_confusions(ya, pb, subs, labels=[0, 1, 2])
    weights = rng.multinomial(len(order), np.full(len(order), 1 / len(order)), size=4)
    fast = _resampled_differences(ca[None], cb[None], weights.astype(float), "uf1")
    for w, value in zip(weights, fast):
        idx = np.concatenate(
            [np.flatnonzero(subs == s) for s, m in zip(order, w) for _ in range(m)]
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            slow = uf1(ya[idx], pa[idx], labels=[0, 1, 2]) - uf1(ya[idx], pb[idx], labels=[0, 1, 2])
        assert value == pytest.approx(slow)


def test_bootstrap_edge_cases_and_determinism():
    rng = np.random.default_rng(3)
    y, p, subs = _random_run(rng)
    _, c = subject_confusions(y, p, subs, labels=[0, 1, 2])
    same = paired_subject_bootstrap(c, c, n_resamples=300)
    assert (same.estimate, same.low, same.high, same.frac_positive) == (0, 0, 0, 0)
    _, perfect = subject_confusions(y, y, subs, labels=[0, 1, 2])
    better = paired_subject_bootstrap(perfect, c, n_resamples=300)
    assert better.frac_positive == 1.0 and better.low > 0
    assert better.low <= better.estimate <= better.high
    again = paired_subject_bootstrap(perfect, c, n_resamples=300)
    assert again == better  # same seed, same result
    worse = paired_subject_bootstrap(c, perfect, n_resamples=300)
    assert worse.estimate == pytest.approx(-better.estimate) and worse.frac_positive == 0.0
    with pytest.raises(ConfigError, match="equal shape"):
        paired_subject_bootstrap(c, c[:-1])
    with pytest.raises(ConfigError, match="confidence"):
        paired_subject_bootstrap(c, c, confidence=1.5)


def _rows(seed, y_true, y_pred, subs, prefix="x"):
    return [
        Prediction(seed, 0, f"db/{s}/{prefix}{i}", "db", s, LABELS[t], LABELS[q])
        for i, (t, q, s) in enumerate(zip(y_true, y_pred, subs))
    ]


def test_compare_predictions_pairs_seeds_and_samples():
    rng = np.random.default_rng(4)
    rows_a, rows_b, per = [], [], {}
    for seed in (0, 1, 2):
        y, pa, subs = _random_run(rng)
        pb = np.where(rng.random(len(y)) < 0.5, y, rng.integers(0, 3, len(y)))
        rows_a += _rows(seed, y, pa, subs)
        rows_b += _rows(seed, y, pb, subs)
        per[seed] = uf1([LABELS[v] for v in y], [LABELS[v] for v in pa], labels=LABELS) - uf1(
            [LABELS[v] for v in y], [LABELS[v] for v in pb], labels=LABELS
        )
    comp = compare_predictions(rows_a, rows_b, labels=LABELS, n_resamples=500)
    assert list(comp.per_seed) == [0, 1, 2]
    for seed, d in per.items():
        assert comp.per_seed[seed] == pytest.approx(d)
    assert comp.mean_difference == pytest.approx(np.mean(list(per.values())))
    assert comp.bootstrap.estimate == pytest.approx(comp.mean_difference)
    assert comp.sign.wins + comp.sign.losses + comp.sign.ties == 3
    with pytest.raises(ConfigError, match="same seeds"):
        compare_predictions(rows_a, [r for r in rows_b if r.seed != 2], labels=LABELS)
    with pytest.raises(ConfigError, match="different samples"):
        compare_predictions(rows_a, rows_b[1:], labels=LABELS)
