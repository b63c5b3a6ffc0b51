"""Paired comparison of two runs evaluated under the same protocol (same samples, same seeds).

Two sources of variation matter when one configuration is compared with another:

* **seeds** (initialisation, batch order, dropout): :func:`seed_differences` pairs the pooled
  scores of the two runs seed by seed, and :func:`sign_test` asks whether one run wins more often
  than chance would give (exact two-sided binomial test, ties dropped);
* **subjects** (which people happen to be in the data): :func:`paired_subject_bootstrap`
  resamples subjects with replacement -- the same resample for both runs -- and recomputes the
  pooled score difference, giving a percentile interval and the fraction of resamples in which
  the first run is better.

All functions are pure (numpy only). :func:`compare_predictions` applies them to the rows of two
``predictions.csv`` files.

References:
    B. Efron, R. Tibshirani, *An Introduction to the Bootstrap*, Chapman & Hall, 1993 (percentile
    interval; resampling the independent units -- here subjects -- as in a cluster bootstrap).
    W. J. Conover, *Practical Nonparametric Statistics*, 3rd ed., Wiley, 1999 (sign test).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from featref.errors import ConfigError
from featref.evaluation.metrics import uar_from_confusion, uf1_from_confusion

__all__ = [
    "BootstrapResult",
    "Comparison",
    "SignTestResult",
    "compare_predictions",
    "metric_from_confusion",
    "paired_subject_bootstrap",
    "seed_differences",
    "sign_test",
    "subject_confusions",
]

METRICS: tuple[str, ...] = ("uf1", "uar")


@dataclass(frozen=True)
class SignTestResult:
    """Outcome of a two-sided sign test: wins (> 0), losses (< 0), ties (== 0) and the p-value."""

    wins: int
    losses: int
    ties: int
    p_value: float


@dataclass(frozen=True)
class BootstrapResult:
    """A paired bootstrap over subjects of a score difference (first run minus second).

    ``estimate`` is the difference on the original data; ``low``/``high`` the percentile interval
    at ``confidence``; ``frac_positive`` the fraction of resamples with a difference > 0.
    """

    estimate: float
    low: float
    high: float
    frac_positive: float
    confidence: float
    n_resamples: int
    n_subjects: int


@dataclass(frozen=True)
class Comparison:
    """Everything :func:`compare_predictions` finds for one metric."""

    metric: str
    per_seed: dict[int, float]  # seed -> score(a) - score(b), pooled over all folds
    mean_difference: float
    sign: SignTestResult
    bootstrap: BootstrapResult


def seed_differences(a: Mapping[int, float], b: Mapping[int, float]) -> dict[int, float]:
    """Per-seed differences ``a[seed] - b[seed]`` of two runs' pooled scores.

    Args:
        a: Seed -> score of the first run.
        b: Seed -> score of the second run (the reference).

    Returns:
        Seed -> difference, in seed order.

    Raises:
        ConfigError: when the two runs do not have the same seeds (the pairing would be false).

    Example:
        >>> seed_differences({0: 0.7, 1: 0.6}, {0: 0.65, 1: 0.6})
        {0: 0.05, 1: 0.0}
    """
    if set(a) != set(b):
        raise ConfigError(
            f"Paired comparison needs the same seeds in both runs. Got {sorted(a)} and "
            f"{sorted(b)}; rerun both with the same --seeds."
        )
    return {s: round(float(a[s]) - float(b[s]), 12) for s in sorted(a)}


def sign_test(differences: Sequence[float]) -> SignTestResult:
    """Exact two-sided sign test of paired differences against a median of zero.

    Zero differences (ties) are dropped; with ``n`` non-zero differences of which ``w`` are
    positive, the p-value is ``min(1, 2 * sum_{k <= min(w, n - w)} C(n, k) / 2^n)`` (1 when
    ``n == 0``), the same as ``scipy.stats.binomtest(w, n, 0.5).pvalue``.

    With ``n`` pairs the smallest reachable p-value is ``2 / 2^n``: 0.25 for 3 seeds, 0.0625 for
    5, below 0.05 only from 6 seeds on.

    Args:
        differences: Paired differences (e.g. per-seed UF1 differences).

    Returns:
        Wins, losses, ties and the p-value.

    Example:
        >>> sign_test([0.02, 0.01, -0.005, 0.0])
        SignTestResult(wins=2, losses=1, ties=1, p_value=1.0)
        >>> round(sign_test([0.1] * 8).p_value, 6)
        0.007812
    """
    d = np.asarray(differences, dtype=float)
    wins, losses = int((d > 0).sum()), int((d < 0).sum())
    ties = int(d.size - wins - losses)
    n = wins + losses
    if n == 0:
        return SignTestResult(wins, losses, ties, 1.0)
    tail = sum(math.comb(n, k) for k in range(min(wins, losses) + 1)) / 2**n
    return SignTestResult(wins, losses, ties, min(1.0, 2 * tail))


def subject_confusions(
    y_true: Sequence, y_pred: Sequence, subjects: Sequence[str], *, labels: Sequence
) -> tuple[list[str], np.ndarray]:
    """One confusion matrix per subject (pooled scores are functions of their sum).

    Args:
        y_true: True classes.
        y_pred: Predicted classes.
        subjects: The subject of each sample.
        labels: Every class of the task.

    Returns:
        The sorted subjects and an int array (S, K, K): ``C[s, i, j]`` counts samples of subject
        ``s`` and class ``labels[i]`` predicted as ``labels[j]``.

    Raises:
        ValueError: for mismatched lengths or classes outside ``labels``.

    Example:
        >>> subs, c = subject_confusions([0, 1, 1], [0, 1, 0], ["a", "b", "b"], labels=[0, 1])
        >>> subs, c.tolist()
        (['a', 'b'], [[[1, 0], [0, 0]], [[0, 0], [1, 1]]])
    """
    if not (len(y_true) == len(y_pred) == len(subjects)):
        raise ValueError(
            f"y_true, y_pred and subjects differ in length: {len(y_true)}, {len(y_pred)}, "
            f"{len(subjects)}."
        )
    index = {c: i for i, c in enumerate(labels)}
    order = sorted(set(subjects))
    sidx = {s: i for i, s in enumerate(order)}
    conf = np.zeros((len(order), len(labels), len(labels)), dtype=np.int64)
    try:
        ti = np.array([index[v] for v in y_true], dtype=np.int64)
        pi = np.array([index[v] for v in y_pred], dtype=np.int64)
    except KeyError as exc:
        raise ValueError(f"Class {exc.args[0]!r} is not in labels {list(labels)}.") from None
    si = np.array([sidx[s] for s in subjects], dtype=np.int64)
    np.add.at(conf, (si, ti, pi), 1)
    return order, conf


def metric_from_confusion(conf: np.ndarray, metric: str = "uf1") -> np.ndarray:
    """UF1 or UAR of (a stack of) pooled confusion matrices, with the MEGC2019 conventions.

    The formulas are :func:`featref.evaluation.metrics.uf1_from_confusion` and
    :func:`~featref.evaluation.metrics.uar_from_confusion` (the ones ``uf1``/``uar`` use): a class
    that never occurs scores 0.

    Args:
        conf: Confusion matrices (..., K, K), rows true classes, columns predictions.
        metric: ``"uf1"`` or ``"uar"``.

    Returns:
        The metric, shape ``conf.shape[:-2]``.

    Example:
        >>> c = np.array([[1, 1, 0], [0, 2, 0], [1, 0, 1]])
        >>> round(float(metric_from_confusion(c, "uf1")), 4), float(metric_from_confusion(c, "uar"))
        (0.6556, 0.6666666666666666)
    """
    if metric not in METRICS:
        raise ConfigError(f"metric must be one of {list(METRICS)}. Got {metric!r}.")
    return uf1_from_confusion(conf) if metric == "uf1" else uar_from_confusion(conf)


def paired_subject_bootstrap(
    conf_a: np.ndarray,
    conf_b: np.ndarray,
    *,
    metric: str = "uf1",
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> BootstrapResult:
    """Paired bootstrap over subjects of the pooled score difference ``score(a) - score(b)``.

    Each resample draws ``S`` subjects with replacement; both runs are scored on the same drawn
    subjects (a subject drawn twice counts twice), pooling their confusion matrices as the
    MEGC2019 metrics pool folds. With several seeds (replicates ``R``) the statistic is the mean
    over seeds of the per-seed pooled difference, so the point estimate equals the mean per-seed
    difference of :func:`seed_differences`.

    Args:
        conf_a: Per-subject confusions of the first run, (R, S, K, K) or (S, K, K).
        conf_b: Those of the second run (the reference), same shape and subject order.
        metric: ``"uf1"`` or ``"uar"``.
        n_resamples: Number of bootstrap resamples.
        confidence: Coverage of the percentile interval.
        seed: Seed of the resampling (the result is deterministic given it).

    Returns:
        The estimate, the percentile interval and the fraction of resamples > 0.

    Raises:
        ConfigError: for mismatched shapes or out-of-range arguments.

    Example:
        >>> a = np.array([[[2, 0], [0, 2]], [[1, 1], [0, 2]], [[2, 0], [1, 1]]])
        >>> b = np.array([[[1, 1], [1, 1]], [[1, 1], [1, 1]], [[2, 0], [1, 1]]])
        >>> r = paired_subject_bootstrap(a, b, n_resamples=2000)
        >>> round(r.estimate, 4), r.low <= r.estimate <= r.high, r.frac_positive > 0.5
        (0.2529, True, True)
    """
    a = np.asarray(conf_a, dtype=float)
    b = np.asarray(conf_b, dtype=float)
    if a.ndim == 3:
        a = a[None]
    if b.ndim == 3:
        b = b[None]
    if a.shape != b.shape or a.ndim != 4 or a.shape[-1] != a.shape[-2]:
        raise ConfigError(
            "Paired bootstrap needs confusion stacks of equal shape (R, S, K, K). "
            f"Got {np.shape(conf_a)} and {np.shape(conf_b)}."
        )
    if n_resamples < 1 or not 0 < confidence < 1:
        raise ConfigError(
            f"n_resamples must be >= 1 and confidence in (0, 1). Got {n_resamples}, {confidence}."
        )
    r, s, k, _ = a.shape
    estimate = float(
        (metric_from_confusion(a.sum(1), metric) - metric_from_confusion(b.sum(1), metric)).mean()
    )
    rng = np.random.default_rng(seed)
    stats = np.empty(n_resamples)
    chunk = max(1, 200_000 // max(1, s * r))
    for start in range(0, n_resamples, chunk):
        m = min(chunk, n_resamples - start)
        # subject multiplicities of m resamples: (m, S), each row sums to S
        w = rng.multinomial(s, np.full(s, 1.0 / s), size=m).astype(float)
        stats[start : start + m] = _resampled_differences(a, b, w, metric)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(stats, [alpha, 1 - alpha])
    return BootstrapResult(
        estimate=estimate,
        low=float(low),
        high=float(high),
        frac_positive=float((stats > 0).mean()),
        confidence=confidence,
        n_resamples=n_resamples,
        n_subjects=s,
    )


def _resampled_differences(
    a: np.ndarray, b: np.ndarray, weights: np.ndarray, metric: str
) -> np.ndarray:
    """Mean over replicates of ``metric(a) - metric(b)`` pooled with subject ``weights`` (M, S).

    ``a`` and ``b`` are (R, S, K, K) per-subject confusions; returns (M,).
    """
    r, s, k, _ = a.shape
    m = len(weights)
    pa = np.einsum("ms,rsc->mrc", weights, a.reshape(r, s, k * k)).reshape(m, r, k, k)
    pb = np.einsum("ms,rsc->mrc", weights, b.reshape(r, s, k * k)).reshape(m, r, k, k)
    return (metric_from_confusion(pa, metric) - metric_from_confusion(pb, metric)).mean(1)


def compare_predictions(
    rows_a: Sequence,
    rows_b: Sequence,
    *,
    labels: Sequence[str],
    metric: str = "uf1",
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Comparison:
    """Compare two runs from their prediction rows (``featref.evaluation.predictions``).

    Args:
        rows_a: :class:`~featref.evaluation.predictions.Prediction` rows of the first run.
        rows_b: Rows of the second run (the reference).
        labels: The class names.
        metric: ``"uf1"`` or ``"uar"``.
        n_resamples: Bootstrap resamples.
        confidence: Coverage of the bootstrap interval.
        seed: Seed of the bootstrap.

    Returns:
        Per-seed differences, their mean, the sign test over seeds and the subject bootstrap.

    Raises:
        ConfigError: when the runs differ in seeds or in the samples each seed predicted (they
            were not run under the same protocol, so no pairing exists).
    """
    seeds_a = sorted({r.seed for r in rows_a})
    seeds_b = sorted({r.seed for r in rows_b})
    if seeds_a != seeds_b:
        raise ConfigError(
            f"Paired comparison needs the same seeds in both runs. Got {seeds_a} and {seeds_b}; "
            "rerun both with the same --seeds."
        )
    confs_a, confs_b, per_a, per_b = [], [], {}, {}
    subjects_ref: list[str] | None = None
    for s in seeds_a:
        ra = sorted((r for r in rows_a if r.seed == s), key=lambda r: r.sample_id)
        rb = sorted((r for r in rows_b if r.seed == s), key=lambda r: r.sample_id)
        if [r.sample_id for r in ra] != [r.sample_id for r in rb]:
            only_a = sorted({r.sample_id for r in ra} - {r.sample_id for r in rb})[:5]
            only_b = sorted({r.sample_id for r in rb} - {r.sample_id for r in ra})[:5]
            raise ConfigError(
                f"Seed {s}: the runs predicted different samples (only in the first: {only_a}, "
                f"only in the second: {only_b}). Compare runs on the same data and databases."
            )
        subs, ca = subject_confusions(
            [r.y_true for r in ra], [r.y_pred for r in ra], [r.subject for r in ra], labels=labels
        )
        _, cb = subject_confusions(
            [r.y_true for r in rb], [r.y_pred for r in rb], [r.subject for r in rb], labels=labels
        )
        if subjects_ref is not None and subs != subjects_ref:
            raise ConfigError(f"Seed {s} covers other subjects than seed {seeds_a[0]}.")
        subjects_ref = subs
        confs_a.append(ca)
        confs_b.append(cb)
        per_a[s] = float(metric_from_confusion(ca.sum(0), metric))
        per_b[s] = float(metric_from_confusion(cb.sum(0), metric))
    diffs = seed_differences(per_a, per_b)
    boot = paired_subject_bootstrap(
        np.stack(confs_a),
        np.stack(confs_b),
        metric=metric,
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
    )
    return Comparison(
        metric=metric,
        per_seed=diffs,
        mean_difference=float(np.mean(list(diffs.values()))),
        sign=sign_test(list(diffs.values())),
        bootstrap=boot,
    )
