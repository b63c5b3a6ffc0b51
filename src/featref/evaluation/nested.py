"""Nested leave-one-subject-out: hyperparameters chosen on the training subjects only.

With a ``[select]`` section (or ``featref run --select KEY=V1,V2 ...``), each outer
leave-one-subject-out unit (seed, fold) does three things:

1. **inner cross-validation** -- the outer fold's *training* subjects are split into
   ``inner_folds`` groups (grouped k-fold over subjects, default 4; 0 = leave-one-subject-out).
   Every combination of the ``[select.grid]`` values is trained on all groups but one and
   predicts the held-out group; its score is the pooled UF1 (or UAR) over the inner predictions;
2. **choice** -- the best combination (ties: the first in grid order);
3. **outer training** -- a model with the chosen values is trained on *all* outer training
   subjects and only then predicts the outer test subject
   (:func:`featref.evaluation.units.compute_unit` does the three steps).

Honesty is structural: :func:`select_hyperparameters` receives a :class:`FlowSet` that holds only
the outer training subjects, so the outer test subject cannot influence the choice (a test
changes that subject's inputs and labels and checks that the choice and every inner score stay
identical). Every training, inner and outer, is :func:`featref.training.fit.fit_predict`. The chosen
values of every (seed, fold) are stored in the unit files and summarised in ``selection.json``
and ``selection.csv`` in the run folder (:func:`featref.evaluation.run_folder.write_selection`).

Cost: ``len(candidates) * inner_folds + 1`` trainings per outer unit instead of 1.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from featref.config import ExperimentConfig, SelectConfig
from featref.datasets.flowset import FlowSet
from featref.errors import ConfigError
from featref.evaluation.metrics import uar, uf1
from featref.training.fit import fit_predict
from featref.training.loop import fold_seed

__all__ = [
    "Selection",
    "apply_values",
    "candidates",
    "inner_groups",
    "select_hyperparameters",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Selection:
    """The outcome of one inner cross-validation."""

    chosen: dict[str, Any]  # the winning values, e.g. {"lr": 0.001, "model.dropout": 0.5}
    scores: list[dict]  # [{"values": {...}, "score": float}] in grid order
    groups: list[list[str]]  # the inner folds: held-out subjects of each
    metric: str

    def record(self) -> dict:
        """JSON-able form, stored in the unit file."""
        return {
            "chosen": self.chosen,
            "metric": self.metric,
            "inner_groups": self.groups,
            "candidates": self.scores,
        }


def candidates(grid: Mapping[str, Sequence]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, in grid order (the first key varies slowest).

    Example:
        >>> candidates({"lr": [1, 2], "epochs": [5]})
        [{'lr': 1, 'epochs': 5}, {'lr': 2, 'epochs': 5}]
    """
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def apply_values(cfg: ExperimentConfig, values: Mapping[str, Any]) -> ExperimentConfig:
    """``cfg`` with ``values`` set (``model.<name>`` keys go to the model's keyword arguments).

    The returned configuration has no ``[select]`` grid: it is one plain training recipe.

    Raises:
        ConfigError: when a value is out of range for its ``[train]`` key.
    """
    train = {k: v for k, v in values.items() if not k.startswith("model.")}
    model = {k[len("model.") :]: v for k, v in values.items() if k.startswith("model.")}
    return dataclasses.replace(
        cfg,
        train=dataclasses.replace(cfg.train, **train),
        model=dataclasses.replace(cfg.model, kwargs={**dict(cfg.model.kwargs), **model}),
        select=SelectConfig(),
    )


def inner_groups(subjects: Sequence[str], inner_folds: int, seed: int) -> list[list[str]]:
    """Split subjects into the held-out groups of a grouped k-fold.

    Args:
        subjects: The (training) subjects; duplicates are ignored.
        inner_folds: ``k``; 0, or more than the number of subjects, gives one group per subject.
        seed: Seeds the shuffle of the subjects before they are dealt round-robin into groups.

    Returns:
        ``k`` disjoint, non-empty lists of subjects (sorted within each) covering all subjects.

    Raises:
        ConfigError: with fewer than two subjects.

    Example:
        >>> inner_groups(["a", "b", "c", "d", "e"], 0, seed=0)
        [['a'], ['b'], ['c'], ['d'], ['e']]
        >>> sorted(len(g) for g in inner_groups(["a", "b", "c", "d", "e"], 2, seed=0))
        [2, 3]
    """
    order = sorted(set(subjects))
    if len(order) < 2:
        raise ConfigError(
            f"Nested selection needs at least two training subjects per outer fold. Got {order}."
        )
    if inner_folds == 0 or inner_folds >= len(order):
        return [[s] for s in order]
    perm = np.random.default_rng(seed).permutation(len(order))
    shuffled = [order[i] for i in perm]
    return [sorted(shuffled[g::inner_folds]) for g in range(inner_folds)]


def select_hyperparameters(train: FlowSet, cfg: ExperimentConfig, *, seed: int) -> Selection:
    """Choose hyperparameters by grouped k-fold over the subjects of ``train``.

    Args:
        train: The outer fold's **training** samples only (the outer test subject is not here).
        cfg: The configuration; ``cfg.select`` holds the grid, ``inner_folds`` and ``metric``.
        seed: Seeds the grouping and every inner training (use the outer unit's fold seed); all
            candidates see the same groups and seeds, so they are compared on equal terms.

    Returns:
        The chosen values, every candidate's inner score and the inner groups.

    Raises:
        ConfigError: for an empty grid, fewer than two subjects, or a candidate the model or the
            training recipe rejects.
    """
    sel = cfg.select
    if not sel.grid:
        raise ConfigError("Nested selection needs a non-empty [select.grid] (or --select).")
    groups = inner_groups(train.subjects, sel.inner_folds, seed)
    combos = candidates(sel.grid)
    subjects = np.array(train.subjects)
    names = list(train.class_names)
    score_fn = uf1 if sel.metric == "uf1" else uar
    scores = []
    for values in combos:
        cand = apply_values(cfg, values)
        y_true: list[str] = []
        y_pred: list[str] = []
        for g, held in enumerate(groups):
            mask = np.isin(subjects, held)
            inner = train.take(~mask)  # the held-out group is handed over only to predict
            out = fit_predict(
                cand,
                inner.x,
                inner.labels,
                train.x[mask],
                seed=fold_seed(seed, g),
                num_classes=len(names),
            )
            pred = out["probs"].argmax(1)
            y_true += [names[int(v)] for v in train.labels[mask]]
            y_pred += [names[int(v)] for v in pred]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a class may be absent from small inner folds
            score = float(score_fn(y_true, y_pred, labels=names))
        scores.append({"values": values, "score": round(score, 6)})
    best = max(range(len(scores)), key=lambda i: (scores[i]["score"], -i))
    log.info(
        "Nested selection chose %s (inner %s %.4f).",
        combos[best],
        sel.metric,
        scores[best]["score"],
    )
    return Selection(chosen=combos[best], scores=scores, groups=groups, metric=sel.metric)
