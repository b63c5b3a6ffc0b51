"""Read a run folder's outputs (never raw data) into plain records for tables and plots.

A run folder written by ``featref run`` holds:

* ``predictions.csv`` -- one row per sample and seed: ``seed, fold, test_subject, sample_id,
  dataset, subject, y_true, y_pred, prob_<class>..., [attention_<class>...]`` with class *names*;
* ``metrics.json`` -- class names, model name, per-seed and summary UF1/UAR/accuracy;
* ``log.jsonl`` -- one line per (seed, fold, epoch): ``seed, fold, epoch, lr, loss, accuracy,
  time_s``;
* ``config.json`` -- the resolved configuration;
* ``features.npz`` (optional) -- expression-shared and refined features for the feature plots.

Only ``predictions.csv`` and ``metrics.json`` are required; a missing optional file makes the
report skip the figures that need it, with a note.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from featref.errors import CacheError

__all__ = ["FeatureSet", "Predictions", "RunOutputs", "load_run", "natural_key"]

logger = logging.getLogger(__name__)


def natural_key(text: str) -> tuple:
    """Sort key that orders embedded numbers numerically (``sub2`` before ``sub10``)."""
    return tuple(int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text))


@dataclass(frozen=True)
class Predictions:
    """The columns of ``predictions.csv`` as arrays (one entry per sample and seed).

    Attributes:
        seed: Seed of each row.
        fold: Fold index of each row.
        sample_id: Stable sample id (``"casme2/sub01/EP02_01f"``).
        dataset: Database of each row (``"casme2"``, ``"samm"``, ``"smic"`` or ``"synthetic"``).
        subject: Namespaced subject (``"casme2/sub01"``).
        y_true: True class name.
        y_pred: Predicted class name.
        probs: ``(n, C)`` class probabilities, columns in ``class_names`` order.
        attention: ``(n, K)`` attention factors of the proposal branches, or ``None`` when the
            model has none.
        attention_names: Names of the proposal branches (the ``attention_<name>`` suffixes).
    """

    seed: np.ndarray
    fold: np.ndarray
    sample_id: np.ndarray
    dataset: np.ndarray
    subject: np.ndarray
    y_true: np.ndarray
    y_pred: np.ndarray
    probs: np.ndarray
    attention: np.ndarray | None
    attention_names: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.seed.size)

    @property
    def seeds(self) -> list[int]:
        """Distinct seeds, ascending."""
        return sorted({int(s) for s in self.seed.tolist()})

    @property
    def datasets(self) -> list[str]:
        """Distinct databases, sorted (``casme2, samm, smic`` for the composite)."""
        return sorted(set(self.dataset.tolist()))


@dataclass(frozen=True)
class FeatureSet:
    """Contents of ``features.npz`` (see the module docstring).

    Attributes:
        sample_ids: Sample id of each row.
        seed: Seed of each row.
        shared: ``(N, D)`` expression-shared features.
        refined: ``(N, K*W)`` expression-specific (refined) features.
        attention: ``(N, K)`` attention factors, or ``None``.
        y_true: ``(N,)`` true class indices into the run's class names.
    """

    sample_ids: np.ndarray
    seed: np.ndarray
    shared: np.ndarray
    refined: np.ndarray
    attention: np.ndarray | None
    y_true: np.ndarray


@dataclass(frozen=True)
class RunOutputs:
    """Everything a report reads from one run folder.

    Attributes:
        path: The run folder (absolute).
        class_names: Class names in label order (from ``metrics.json``).
        model: Model name (``metrics.json``'s ``"model"``, else the config's, else ``"?"``).
        predictions: The rows of ``predictions.csv``.
        metrics: The parsed ``metrics.json``.
        log: The records of ``log.jsonl`` (empty when the file is absent).
        config: The parsed ``config.json`` (empty when absent).
        features: The feature arrays, or ``None`` when ``features.npz`` is absent.
        notes: Human-readable notes about missing optional files.
    """

    path: Path
    class_names: tuple[str, ...]
    model: str
    predictions: Predictions
    metrics: dict[str, Any]
    log: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    features: FeatureSet | None = None
    notes: tuple[str, ...] = ()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CacheError(
            f"{path} is not valid JSON ({exc}). Expected the file a featref run writes; rerun "
            "the run or restore the file."
        ) from exc


def _read_predictions(path: Path, class_names: tuple[str, ...]) -> Predictions:
    """The rows of ``predictions.csv`` as columns, read by the one predictions reader."""
    from featref.errors import AnnotationError
    from featref.evaluation.predictions import read_predictions

    try:
        rows = read_predictions(path, class_names)
    except AnnotationError as exc:
        raise CacheError(f"{exc} (classes from metrics.json: {list(class_names)})") from None
    if any(len(r.probs) != len(class_names) for r in rows):
        raise CacheError(
            f"{path} lacks prob_<class> columns for the classes {list(class_names)} (from "
            "metrics.json). Rerun the run with this featref version."
        )
    with path.open(encoding="utf-8-sig") as fh:
        header = [h.strip() for h in fh.readline().strip().split(",")]
    att_cols = [c for c in header if c.startswith("attention_")]

    def column(values: list) -> np.ndarray:
        return np.array(values, dtype=object).astype(str)

    return Predictions(
        seed=np.array([r.seed for r in rows]),
        fold=np.array([r.fold for r in rows]),
        sample_id=column([r.sample_id for r in rows]),
        dataset=column([r.dataset for r in rows]),
        subject=column([r.subject for r in rows]),
        y_true=column([r.y_true for r in rows]),
        y_pred=column([r.y_pred for r in rows]),
        probs=np.array([r.probs for r in rows], dtype=float),
        attention=np.array([r.attention for r in rows], dtype=float) if att_cols else None,
        attention_names=tuple(c[len("attention_") :] for c in att_cols),
    )


#: Keys of a ``log.jsonl`` record that the reports use (the runner writes them all).
_LOG_KEYS = frozenset({"seed", "fold", "epoch", "lr", "loss"})


def _read_log(path: Path) -> list[dict[str, Any]]:
    records = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            # A run killed mid-write leaves a partial last line: keep what is readable.
            logger.warning("%s:%d is not valid JSON; skipped.", path, lineno)
            continue
        if isinstance(rec, dict) and _LOG_KEYS <= rec.keys():
            records.append(rec)
        else:
            logger.warning("%s:%d is not a (seed, fold, epoch) record; skipped.", path, lineno)
    return records


def _read_features(path: Path, n_classes: int) -> FeatureSet:
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as exc:
        raise CacheError(f"{path} cannot be read as .npz ({exc}); delete it or rerun.") from exc
    missing = [k for k in ("sample_ids", "shared", "refined", "y_true") if k not in data]
    if missing:
        raise CacheError(
            f"{path} lacks the arrays {missing}. Expected sample_ids, seed, shared, refined, "
            f"attention, y_true; found {sorted(data)}."
        )
    n = len(data["sample_ids"])
    shared = np.asarray(data["shared"], dtype=float).reshape(n, -1)
    refined = np.asarray(data["refined"], dtype=float).reshape(n, -1)
    y_true = np.asarray(data["y_true"]).astype(int)
    seed = np.asarray(data.get("seed", np.zeros(n, dtype=int))).astype(int).reshape(-1)
    if seed.size == 1 and n > 1:
        seed = np.full(n, int(seed[0]))
    lengths = {"shared": len(shared), "refined": len(refined), "y_true": len(y_true)}
    lengths["seed"] = len(seed)
    bad = {k: v for k, v in lengths.items() if v != n}
    if bad or (y_true.size and (y_true.min() < 0 or y_true.max() >= n_classes)):
        raise CacheError(
            f"{path} is inconsistent: {n} sample_ids but array lengths {bad or lengths}, y_true "
            f"must index the {n_classes} classes. Rerun the run to rewrite it."
        )
    attention = data.get("attention")
    return FeatureSet(
        sample_ids=np.asarray(data["sample_ids"]).astype(str),
        seed=seed,
        shared=shared,
        refined=refined,
        attention=None if attention is None else np.asarray(attention, dtype=float),
        y_true=y_true,
    )


def load_run(run_dir: str | Path) -> RunOutputs:
    """Read one run folder.

    Args:
        run_dir: A folder written by ``featref run``.

    Returns:
        The run's outputs.

    Raises:
        CacheError: when the folder, ``predictions.csv`` or ``metrics.json`` is missing, or a file
            is malformed (the message names the file and what was expected).
    """
    path = Path(run_dir).expanduser().resolve()
    if not path.is_dir():
        raise CacheError(
            f"Run folder {path} does not exist. Expected a folder written by 'featref run' "
            "(with predictions.csv and metrics.json); check the path."
        )
    missing = [n for n in ("predictions.csv", "metrics.json") if not (path / n).is_file()]
    if missing:
        raise CacheError(
            f"Run folder {path} lacks {missing}. A finished 'featref run' writes both; if the run "
            "was interrupted, rerun the same command to resume it."
        )
    metrics = _read_json(path / "metrics.json")
    class_names = tuple(str(c) for c in (metrics.get("class_names") or ()))
    if not class_names:
        raise CacheError(
            f"{path / 'metrics.json'} has no 'class_names' list. Expected e.g. "
            '["negative", "positive", "surprise"]; rerun the run with this featref version.'
        )
    predictions = _read_predictions(path / "predictions.csv", class_names)
    notes: list[str] = []
    log: list[dict[str, Any]] = []
    if (path / "log.jsonl").is_file():
        log = _read_log(path / "log.jsonl")
    if not log:
        notes.append("log.jsonl is absent or empty: learning curves are skipped.")
    config: dict[str, Any] = {}
    if (path / "config.json").is_file():
        config = _read_json(path / "config.json")
    else:
        notes.append("config.json is absent: the configuration is not shown.")
    features = None
    if (path / "features.npz").is_file():
        features = _read_features(path / "features.npz", len(class_names))
    else:
        notes.append(
            "features.npz is absent: the t-SNE/PCA plots of expression-shared and refined "
            "features are skipped (the run did not save features)."
        )
    if predictions.attention is None:
        notes.append(
            "predictions.csv has no attention_* columns (the model has no attention factors): "
            "the attention heatmap is skipped."
        )
    model = metrics.get("model") or (config.get("model") or {}).get("name") or "?"
    return RunOutputs(
        path=path,
        class_names=class_names,
        model=str(model),
        predictions=predictions,
        metrics=metrics,
        log=log,
        config=config,
        features=features,
        notes=tuple(notes),
    )
