"""MEGC2019 metrics: unweighted F1 (UF1) and unweighted average recall (UAR). Pure numpy.

Both are computed on predictions **pooled over all leave-one-subject-out folds**, then averaged over
an explicit label set, as the MEGC2019 guideline prescribes. A class in ``labels`` that never occurs
in ``y_true`` and is never predicted gets F1 = 0 and recall = 0 (with an
:class:`~featref.errors.UndefinedMetricWarning`), so that scores on subsets stay comparable.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from featref.errors import UndefinedMetricWarning

__all__ = [
    "accuracy",
    "confusion_matrix",
    "uar",
    "uar_from_confusion",
    "uf1",
    "uf1_from_confusion",
    "unweighted_average_recall",
    "unweighted_f1",
    "weighted_f1",
]


def _prepare(y_true, y_pred, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    yt = np.asarray(y_true)
    yp = np.asarray(y_pred)
    lab = np.asarray(labels)
    if yt.ndim != 1 or yp.ndim != 1 or yt.shape != yp.shape:
        raise ValueError(
            f"y_true and y_pred must be 1-D of equal length. Got shapes {yt.shape} and {yp.shape}."
        )
    if yt.size == 0:
        raise ValueError("y_true is empty: there is nothing to score.")
    if lab.ndim != 1 or lab.size == 0 or len(np.unique(lab)) != lab.size:
        raise ValueError(f"labels must be a non-empty list of distinct classes. Got {labels!r}.")
    unknown = np.setdiff1d(np.union1d(yt, yp), lab)
    if unknown.size:
        raise ValueError(
            f"y_true/y_pred contain classes {unknown.tolist()} that are not in labels "
            f"{lab.tolist()}; pass every class of the task in labels."
        )
    return yt, yp, lab


def confusion_matrix(y_true, y_pred, *, labels: Sequence) -> np.ndarray:
    """Counts ``C[i, j]`` of samples of class ``labels[i]`` predicted as ``labels[j]``.

    >>> confusion_matrix([0, 0, 1, 2], [0, 1, 1, 2], labels=[0, 1, 2]).tolist()
    [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    """
    yt, yp, lab = _prepare(y_true, y_pred, labels)
    index = {v: i for i, v in enumerate(lab.tolist())}
    ti = np.array([index[v] for v in yt.tolist()])
    pi = np.array([index[v] for v in yp.tolist()])
    cm = np.zeros((lab.size, lab.size), dtype=np.int64)
    np.add.at(cm, (ti, pi), 1)
    return cm


def uf1_from_confusion(conf: np.ndarray) -> np.ndarray:
    """UF1 of (a stack of) confusion matrices: the one F1 formula every score here uses.

    ``UF1 = mean over classes c of 2 TP_c / (2 TP_c + FP_c + FN_c)``.

    A class with a zero denominator (never true, never predicted) scores 0, as the MEGC2019
    guideline counts it. No warning (bootstraps call this on thousands of resamples).

    Args:
        conf: Confusion counts (..., K, K), rows true classes, columns predictions.

    Returns:
        UF1, shape ``conf.shape[:-2]``.

    Example:
        >>> round(float(uf1_from_confusion(np.array([[1, 1, 0], [0, 2, 0], [1, 0, 1]]))), 4)
        0.6556
    """
    conf = np.asarray(conf, dtype=float)
    tp = np.diagonal(conf, axis1=-2, axis2=-1)
    denom = conf.sum(-2) + conf.sum(-1)  # = 2 TP + FP + FN
    return np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0).mean(-1)


def uar_from_confusion(conf: np.ndarray) -> np.ndarray:
    """UAR of (a stack of) confusion matrices: mean over classes of ``TP_c / N_c``.

    A class that never occurs scores 0 (MEGC2019 guideline). No warning.

    Args:
        conf: Confusion counts (..., K, K), rows true classes, columns predictions.

    Returns:
        UAR, shape ``conf.shape[:-2]``.

    Example:
        >>> round(float(uar_from_confusion(np.array([[1, 1, 0], [0, 2, 0], [1, 0, 1]]))), 4)
        0.6667
    """
    conf = np.asarray(conf, dtype=float)
    tp = np.diagonal(conf, axis1=-2, axis2=-1)
    n = conf.sum(-1)
    return np.divide(tp, n, out=np.zeros_like(tp), where=n > 0).mean(-1)


def unweighted_f1(y_true, y_pred, *, labels: Sequence) -> float:
    """Unweighted (macro) F1 over ``labels``: UF1 of the MEGC2019 guideline.

    .. math::
        \\mathrm{UF1} = \\frac{1}{C}\\sum_{c=1}^{C} \\frac{2\\,TP_c}{2\\,TP_c + FP_c + FN_c}

    Args:
        y_true: True classes, one per sample.
        y_pred: Predicted classes, one per sample.
        labels: Every class of the task. Required, so that a class absent from a subset counts.

    Returns:
        UF1 in [0, 1].

    Raises:
        ValueError: for mismatched lengths, empty input, or classes outside ``labels``.

    Notes:
        Pass the predictions of **all** folds at once: the guideline pools TP/FP/FN over the
        folds before averaging over classes (averaging per-fold scores gives other numbers).

    Example:
        >>> round(unweighted_f1([0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 2, 0], labels=[0, 1, 2]), 4)
        0.6556

    References:
        MEGC2019 recognition challenge guideline (See et al., FG 2019); Forman & Scholz, "Apples
        to apples in cross-validation studies", SIGKDD Explorations 12(1), 2010.
    """
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    if np.any(cm.sum(0) + cm.sum(1) == 0):
        warnings.warn(
            "UF1: some labels never occur in y_true or y_pred; their F1 counts as 0.",
            UndefinedMetricWarning,
            stacklevel=2,
        )
    return float(uf1_from_confusion(cm))


def unweighted_average_recall(y_true, y_pred, *, labels: Sequence) -> float:
    """Unweighted average recall over ``labels``: UAR of the MEGC2019 guideline.

    .. math::
        \\mathrm{UAR} = \\frac{1}{C}\\sum_{c=1}^{C} \\frac{TP_c}{N_c}

    where :math:`N_c` is the number of samples of class *c*.

    Args:
        y_true: True classes, one per sample.
        y_pred: Predicted classes, one per sample.
        labels: Every class of the task (required).

    Returns:
        UAR in [0, 1].

    Raises:
        ValueError: for mismatched lengths, empty input, or classes outside ``labels``.

    Notes:
        Pool the predictions of all folds before calling, as for :func:`unweighted_f1`.

    Example:
        >>> round(unweighted_average_recall([0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 2, 0],
        ...                                 labels=[0, 1, 2]), 4)
        0.6667

    References:
        MEGC2019 recognition challenge guideline (See et al., FG 2019).
    """
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    if np.any(cm.sum(1) == 0):
        warnings.warn(
            "UAR: some labels never occur in y_true; their recall counts as 0.",
            UndefinedMetricWarning,
            stacklevel=2,
        )
    return float(uar_from_confusion(cm))


def accuracy(y_true, y_pred) -> float:
    """Fraction of correct predictions.

    >>> accuracy([0, 1, 2, 2], [0, 1, 1, 2])
    0.75
    """
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    if yt.shape != yp.shape or yt.size == 0:
        raise ValueError(
            f"y_true and y_pred must be non-empty and equal length; got {yt.shape}, {yp.shape}."
        )
    return float(np.mean(yt == yp))


def weighted_f1(y_true, y_pred, *, labels: Sequence) -> float:
    """Support-weighted F1 over ``labels`` (scikit-learn's ``f1_score(average="weighted")``).

    Reported by part of the single-database literature (CASME II, SAMM 5-class) next to
    accuracy; unlike UF1 it favours the large classes. Classes absent from ``y_true`` weigh 0.

    >>> round(weighted_f1([0, 0, 0, 1, 2, 2], [0, 0, 1, 1, 2, 0], labels=[0, 1, 2]), 4)
    0.6667
    """
    cm = confusion_matrix(y_true, y_pred, labels=labels).astype(float)
    tp, support = np.diagonal(cm), cm.sum(1)
    denom = support + cm.sum(0)
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return float((f1 * support).sum() / support.sum())


uf1 = unweighted_f1
uar = unweighted_average_recall
