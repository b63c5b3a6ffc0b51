"""The unit of a run: one (seed, fold), what its record holds, and how it is computed.

A unit trains one leave-one-subject-out fold for one seed on the fold's training subjects only
(:func:`featref.training.fit.fit_predict`) and only then predicts its test subject. Units are
independent and deterministic given ``(config, seed, fold)``, so a run's result does not depend on
where or in which order its units run (:mod:`featref.evaluation.executors`).

A **unit record** (:data:`UnitRecord`, stored as ``units/seed<S>/fold<FFF>.json`` by
:mod:`featref.evaluation.run_folder`) is a JSON object with ``config_hash``, ``seed``, ``fold``,
``test_subject``, ``train_time_s``, ``epochs`` (one training-log dict per epoch) and ``rows``, one
per test sample: ``sample_id``, ``dataset``, ``y_true``, ``y_pred``, ``probs`` and the model's
extra outputs ``attention``, ``shared``, ``refined`` (empty lists for a model without them). With
nested selection it also holds ``selection`` (:meth:`featref.evaluation.nested.Selection.record`).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from featref.config import ExperimentConfig
from featref.datasets.flowset import FlowSet
from featref.evaluation.nested import apply_values, select_hyperparameters
from featref.evaluation.protocols import Fold
from featref.training.fit import fit_predict, fit_predict_many
from featref.training.loop import EXTRA_OUTPUTS, fold_seed

__all__ = [
    "RECORD_KEYS",
    "Unit",
    "UnitJob",
    "UnitRecord",
    "check_record",
    "compute_unit",
    "compute_units",
    "unit_record",
]

#: A unit record: plain JSON-able data (see the module docstring).
UnitRecord = dict[str, Any]

#: The keys every unit record has.
RECORD_KEYS: tuple[str, ...] = (
    "config_hash",
    "seed",
    "fold",
    "test_subject",
    "train_time_s",
    "epochs",
    "rows",
)


@dataclasses.dataclass(frozen=True)
class Unit:
    """One (seed, fold) piece of work."""

    seed: int
    fold: Fold


@dataclasses.dataclass(frozen=True, eq=False)
class UnitJob:
    """What computing any unit of one run needs: its data, configuration and config hash.

    Executors send a job's data once per worker (or once to Ray's object store), not once per
    unit; ``eq=False`` makes two jobs equal only when they are the same object.
    """

    flows: FlowSet
    cfg: ExperimentConfig
    digest: str


def check_record(rec: Any) -> str | None:
    """What is wrong with a loaded unit record, or None when it has the expected shape."""
    if not isinstance(rec, dict):
        return f"a JSON {type(rec).__name__}, expected an object"
    missing = [k for k in RECORD_KEYS if k not in rec]
    if missing:
        return f"missing the keys {missing}"
    if not isinstance(rec["rows"], list) or not isinstance(rec["epochs"], list):
        return "`rows` and `epochs` must be lists"
    return None


def compute_unit(job: UnitJob, unit: Unit) -> UnitRecord:
    """Train one fold for one seed (with nested selection when ``[select]`` has a grid), then
    predict its test subject.

    Args:
        job: The run's data, configuration and config hash.
        unit: The seed and fold.

    Returns:
        The unit record.
    """
    flows, cfg = job.flows, job.cfg
    index = {sid: i for i, sid in enumerate(flows.sample_ids)}
    train = np.array([index[s] for s in unit.fold.train_ids])
    test = np.array([index[s] for s in unit.fold.test_ids])
    s = fold_seed(unit.seed, unit.fold.index)
    selection = None
    if cfg.select.grid:  # nested selection on the outer training subjects only
        selection = select_hyperparameters(flows.take(train), cfg, seed=s)
        cfg = apply_values(cfg, selection.chosen)
    epochs: list[dict] = []
    t0 = time.perf_counter()
    # Only the training samples are handed to the training; the test inputs only to predict.
    out = fit_predict(
        cfg,
        flows.x[train],
        flows.labels[train],
        flows.x[test],
        seed=s,
        num_classes=len(flows.class_names),
        on_epoch=epochs.append,
    )
    rec = unit_record(job, unit, test, out, epochs, time.perf_counter() - t0)
    if selection is not None:
        rec["selection"] = selection.record()
    return rec


def compute_units(job: UnitJob, todo: list[Unit]) -> list[UnitRecord]:
    """Train the units ``todo`` of one job together as one fold-batched ensemble, then predict.

    Each unit's model trains on its fold's training subjects only and predicts its test subject
    after all training returned (:func:`featref.training.fit.fit_predict_many`).

    Returns:
        One record per unit, in order.
    """
    flows, cfg = job.flows, job.cfg
    index = {sid: i for i, sid in enumerate(flows.sample_ids)}
    trains = [np.array([index[s] for s in u.fold.train_ids]) for u in todo]
    tests = [np.array([index[s] for s in u.fold.test_ids]) for u in todo]
    epochs: list[list[dict]] = [[] for _ in todo]
    t0 = time.perf_counter()
    outs = fit_predict_many(
        cfg,
        flows.x,
        flows.labels,
        trains,
        tests,
        seeds=[fold_seed(u.seed, u.fold.index) for u in todo],
        num_classes=len(flows.class_names),
        on_epoch=lambda m, e: epochs[m].append(e),
    )
    share = (time.perf_counter() - t0) / len(todo)  # the ensemble's time, shared out
    return [
        unit_record(job, u, test, out, ep, share)
        for u, test, out, ep in zip(todo, tests, outs, epochs)
    ]


def unit_record(
    job: UnitJob,
    unit: Unit,
    test: np.ndarray,
    out: dict[str, np.ndarray],
    epochs: list[dict],
    train_time_s: float,
) -> UnitRecord:
    """The record of a unit from its predictions (also for executors that train many at once).

    Args:
        job: The unit's job.
        unit: The seed and fold.
        test: Indices of the test samples in ``job.flows``, in the order of ``out``'s rows.
        out: :func:`featref.training.loop.predict` outputs on the test samples.
        epochs: The training log, one dict per epoch.
        train_time_s: Seconds spent on the unit.
    """
    flows = job.flows
    names = flows.class_names
    preds = out["probs"].argmax(1)
    rows = []
    for k, (i, p) in enumerate(zip(test, preds)):
        row = {
            "sample_id": flows.sample_ids[i],
            "dataset": flows.datasets[i],
            "y_true": names[int(flows.labels[i])],
            "y_pred": names[int(p)],
            "probs": [round(float(v), 6) for v in out["probs"][k]],
        }
        for key in EXTRA_OUTPUTS:
            digits = 6 if key == "attention" else 5
            row[key] = [round(float(v), digits) for v in out[key][k]]
        rows.append(row)
    return {
        "config_hash": job.digest,
        "seed": unit.seed,
        "fold": unit.fold.index,
        "test_subject": unit.fold.test_subject,
        "train_time_s": round(train_time_s, 3),
        "epochs": epochs,
        "rows": rows,
    }
