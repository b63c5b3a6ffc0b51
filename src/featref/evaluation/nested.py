"""Nested leave-one-subject-out: hyperparameters chosen on the training subjects only.

With a ``[select]`` section (or ``featref run --select KEY=V1,V2 ...``), each outer
leave-one-subject-out unit (seed, fold) does three things:

1. **inner cross-validation** -- the outer fold's *training* subjects are split into
   ``inner_folds`` groups (grouped k-fold over subjects, default 4; 0 = leave-one-subject-out).
   Every combination of the ``[select.grid]`` values is trained on all groups but one and
   predicts the held-out group; its score is the pooled UF1 (or UAR) over the inner predictions;
2. **choice** -- the best combination (ties: the first in grid order);
3. **outer training** -- a model with the chosen values is trained on *all* outer training
   subjects and only then predicts the outer test subject (:func:`featref.evaluation.runner.
   run_unit`).

Honesty is structural: :func:`select_hyperparameters` receives a :class:`FlowSet` that holds only
the outer training subjects, so the outer test subject cannot influence the choice (a test
changes that subject's inputs and labels and checks that the choice and every inner score stay
identical). The chosen values of every (seed, fold) are stored in the unit files and summarised in
``selection.json`` and ``selection.csv`` in the run folder.

Cost: ``len(candidates) * inner_folds + 1`` trainings per outer unit instead of 1.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import logging
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from featref.config import ExperimentConfig, SelectConfig
from featref.datasets.flowset import FlowSet
from featref.errors import ConfigError

__all__ = [
    "Selection",
    "apply_values",
    "candidates",
    "inner_groups",
    "parse_select",
    "run_nested_unit",
    "select_hyperparameters",
    "write_selection",
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


def _literal(text: str) -> Any:
    import tomllib

    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_select(items: Sequence[str]) -> dict[str, list]:
    """Parse ``--select`` flags into a ``[select.grid]`` table.

    Args:
        items: Strings ``KEY=V1,V2,...``; values are TOML literals (numbers, true/false) or bare
            strings.

    Returns:
        ``{key: [values]}``, later flags replacing earlier ones with the same key.

    Raises:
        ConfigError: for an item without ``=`` or without values.

    Example:
        >>> parse_select(["lr=1e-3,3e-3", "model.fusion=concat,sum"])
        {'lr': [0.001, 0.003], 'model.fusion': ['concat', 'sum']}
    """
    out: dict[str, list] = {}
    for item in items:
        key, sep, values = item.partition("=")
        vals = [_literal(v.strip()) for v in values.split(",") if v.strip()]
        if not sep or not key.strip() or not vals:
            raise ConfigError(
                f"--select must look like KEY=V1,V2 (e.g. lr=1e-3,3e-3). Got {item!r}."
            )
        out[key.strip().replace("-", "_")] = vals
    return out


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


def _train_and_predict(
    train: FlowSet, x_test: np.ndarray, cfg: ExperimentConfig, seed: int
) -> np.ndarray:
    """Build a seeded model, train it on ``train`` only, return class predictions on ``x_test``."""
    import torch

    from featref.models import create_model
    from featref.training.loop import predict, train_one_fold

    device = torch.device(cfg.train.device)
    torch.manual_seed(seed)
    k = len(train.class_names)
    try:
        model = create_model(
            cfg.model.name, num_classes=k, in_channels=len(train.channels), **dict(cfg.model.kwargs)
        ).to(device)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"Model {cfg.model.name!r} rejects the keyword arguments {dict(cfg.model.kwargs)} "
            f"(from [model.kwargs] and [select.grid]): {exc}"
        ) from exc
    model = train_one_fold(
        model,
        torch.as_tensor(train.x, device=device),
        torch.as_tensor(train.labels, device=device),
        cfg.train,
        seed=seed,
        num_classes=k,
    )
    return predict(model, torch.as_tensor(x_test, device=device))["probs"].argmax(1)


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
    from featref.evaluation.metrics import uar, uf1
    from featref.training.loop import fold_seed

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
            pred = _train_and_predict(
                train.take(~mask), train.x[mask], cand, seed=fold_seed(seed, g)
            )
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


def run_nested_unit(flows: FlowSet, cfg: ExperimentConfig, unit: Any, digest: str) -> dict:
    """One outer (seed, fold) unit with nested selection; the runner calls this for ``[select]``.

    Args:
        flows: All samples (the outer fold decides which are training and test).
        cfg: The configuration with a non-empty ``[select.grid]``.
        unit: The :class:`~featref.evaluation.runner.Unit` (seed and outer fold).
        digest: The run's config hash (stored in the unit record).

    Returns:
        The unit record of :func:`~featref.evaluation.runner.run_unit` for the chosen values,
        plus ``"selection"`` (:meth:`Selection.record`).
    """
    from featref.evaluation.runner import run_unit
    from featref.training.loop import fold_seed

    index = {sid: i for i, sid in enumerate(flows.sample_ids)}
    # Only the outer training subjects take part in the selection.
    train = flows.take(np.array([index[s] for s in unit.fold.train_ids]))
    selection = select_hyperparameters(train, cfg, seed=fold_seed(unit.seed, unit.fold.index))
    rec = run_unit(flows, apply_values(cfg, selection.chosen), unit, digest)
    rec["selection"] = selection.record()
    return rec


def write_selection(out_dir: str | Path, records: Mapping[tuple[int, int], dict], cfg) -> None:
    """Write ``selection.json`` and ``selection.csv``: the chosen values of every outer unit.

    Args:
        out_dir: The run folder.
        records: Finished unit records keyed by (seed, fold index), with ``"selection"``.
        cfg: The run's configuration (its ``[select]`` section is recorded).
    """
    out = Path(out_dir)
    keys = list(cfg.select.grid)
    folds, rows = [], []
    counts: dict[str, Counter] = {k: Counter() for k in keys}
    for (seed, fold), rec in sorted(records.items()):
        sel = rec.get("selection")
        if sel is None:
            continue
        chosen = sel["chosen"]
        best = max(c["score"] for c in sel["candidates"])
        folds.append({"seed": seed, "fold": fold, "test_subject": rec["test_subject"], **sel})
        rows.append([seed, fold, rec["test_subject"], *(chosen[k] for k in keys), best])
        for k in keys:
            counts[k][json.dumps(chosen[k])] += 1
    summary = {
        "grid": {k: list(v) for k, v in cfg.select.grid.items()},
        "inner_folds": cfg.select.inner_folds,
        "metric": cfg.select.metric,
        "times_chosen": {k: {v: n for v, n in c.most_common()} for k, c in counts.items()},
        "folds": folds,
    }
    (out / "selection.json").write_text(json.dumps(summary, indent=2))
    with (out / "selection.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["seed", "fold", "test_subject", *keys, f"inner_{cfg.select.metric}"])
        w.writerows(rows)
