"""Tables of a run (or several): computed from a run's outputs, written as CSV and Markdown.

Conventions (also printed in the report):

* **Pooling over folds.** Every score and confusion matrix pools the predictions of all
  leave-one-subject-out folds before averaging over classes (the MEGC2019 rule; see
  :mod:`featref.evaluation.metrics`).
* **Pooling over seeds.** A run repeats the whole protocol for several seeds. Scores are computed
  per seed and summarised as mean and sample standard deviation (``ddof=1``; 0 for one seed) over
  seeds, as ``metrics.json`` records them.
  Confusion matrices are **summed over seeds**: each sample is counted once per seed, so the counts
  add up to ``n_samples * n_seeds``; the row-normalised matrix is unaffected by the number of seeds.
  The per-seed matrices are in ``confusion_per_seed.csv``.
* **Scopes.** ``all`` is the full (composite) set; the other scopes are the databases.
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from featref.atomic import atomic_write_text
from featref.errors import UndefinedMetricWarning
from featref.evaluation import metrics as mer_metrics
from featref.reports.runs import Predictions, RunOutputs, natural_key

__all__ = [
    "Table",
    "attention_by_class",
    "attention_table",
    "comparison_table",
    "comparison_values",
    "confusion_per_seed_table",
    "confusion_table",
    "find_metric_mismatches",
    "learning_curves",
    "learning_curve_table",
    "per_seed_metrics_table",
    "pooled_confusion",
    "row_normalise",
    "scopes",
    "subject_accuracy",
    "subject_accuracy_table",
    "summary_table",
]

#: Name of the scope that covers every sample.
ALL = "all"


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float | np.floating):
        return f"{value:.{digits}f}"
    return str(value)


def _pm(mean: float | None, std: float | None) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    if std is None or (isinstance(std, float) and math.isnan(std)):
        return f"{mean:.3f}"
    return f"{mean:.3f} ± {std:.3f}"


@dataclass(frozen=True)
class Table:
    """A small table: raw values for CSV, formatted text for Markdown and HTML.

    Attributes:
        name: File stem (``"summary"`` -> ``summary.csv`` / ``summary.md``).
        title: One-line title.
        columns: CSV column names.
        rows: Raw values (numbers at full precision), one list per row.
        caption: What the numbers are and how they were pooled.
        display_columns: Column names for Markdown/HTML (default: ``columns``).
        display_rows: Formatted cells for Markdown/HTML (default: floats to 3 decimals).
    """

    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    caption: str = ""
    display_columns: tuple[str, ...] | None = None
    display_rows: tuple[tuple[str, ...], ...] | None = None

    def shown(self) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
        """Column names and formatted cells used for Markdown and HTML."""
        cols = self.display_columns or self.columns
        rows = self.display_rows or tuple(tuple(_fmt(v) for v in r) for r in self.rows)
        return cols, rows

    def to_csv(self, path: str | Path) -> Path:
        """Write the raw values as CSV (floats at full precision; ``None`` as empty)."""
        path = Path(path)
        buf = io.StringIO(newline="")
        writer = csv.writer(buf)
        writer.writerow(self.columns)
        for row in self.rows:
            writer.writerow(["" if v is None else v for v in row])
        atomic_write_text(path, buf.getvalue())
        return path

    def to_markdown(self) -> str:
        """A GitHub-flavoured Markdown table with its title and caption."""
        cols, rows = self.shown()

        def esc(s: str) -> str:
            return str(s).replace("|", "\\|")

        lines = [f"### {self.title}", ""]
        if self.caption:
            lines += [self.caption, ""]
        lines.append("| " + " | ".join(esc(c) for c in cols) + " |")
        lines.append("|" + "|".join("---" for _ in cols) + "|")
        lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
        return "\n".join(lines) + "\n"

    def write(self, directory: str | Path) -> tuple[Path, Path]:
        """Write ``<name>.csv`` and ``<name>.md`` into ``directory``; returns both paths."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        csv_path = self.to_csv(directory / f"{self.name}.csv")
        md_path = directory / f"{self.name}.md"
        atomic_write_text(md_path, self.to_markdown())
        return csv_path, md_path


# --------------------------------------------------------------------------- selection helpers


def _mask(pred: Predictions, *, dataset: str | None = None, seed: int | None = None) -> np.ndarray:
    mask = np.ones(len(pred), dtype=bool)
    if dataset is not None and dataset != ALL:
        mask &= pred.dataset == dataset
    if seed is not None:
        mask &= pred.seed == seed
    return mask


def scopes(pred: Predictions) -> list[str]:
    """``["all", <database>...]`` (databases sorted)."""
    return [ALL, *pred.datasets]


# --------------------------------------------------------------------------- confusion matrices


def pooled_confusion(
    pred: Predictions,
    class_names: Sequence[str],
    *,
    dataset: str | None = None,
    seed: int | None = None,
) -> np.ndarray:
    """Confusion counts pooled over folds, and summed over seeds unless ``seed`` is given.

    Args:
        pred: The run's predictions.
        class_names: Class order of rows (true) and columns (predicted).
        dataset: Restrict to one database (``None`` or ``"all"``: every sample).
        seed: Restrict to one seed (``None``: sum over seeds).

    Returns:
        ``(C, C)`` integer counts; rows are true classes, columns predicted classes.
    """
    m = _mask(pred, dataset=dataset, seed=seed)
    if not m.any():
        return np.zeros((len(class_names), len(class_names)), dtype=np.int64)
    return mer_metrics.confusion_matrix(pred.y_true[m], pred.y_pred[m], labels=list(class_names))


def row_normalise(cm: np.ndarray) -> np.ndarray:
    """Divide each row by its total (recall on the diagonal); empty rows stay 0."""
    cm = np.asarray(cm, dtype=float)
    totals = cm.sum(axis=1, keepdims=True)
    return np.divide(cm, totals, out=np.zeros_like(cm), where=totals > 0)


def confusion_table(
    cm: np.ndarray,
    class_names: Sequence[str],
    *,
    name: str,
    title: str,
    normalised: bool = False,
    caption: str = "",
) -> Table:
    """A confusion matrix as a table: one row per true class, one column per predicted class."""
    corner = "true \\ predicted"
    rows = []
    for i, cls in enumerate(class_names):
        vals = [float(v) if normalised else int(v) for v in cm[i]]
        rows.append((cls, *vals))
    return Table(
        name=name,
        title=title,
        columns=(corner, *class_names),
        rows=tuple(rows),
        caption=caption,
    )


def confusion_per_seed_table(pred: Predictions, class_names: Sequence[str]) -> Table:
    """Long-format counts for every seed and scope (``seed, scope, true, predicted, count``)."""
    rows = []
    for seed in pred.seeds:
        for scope in scopes(pred):
            cm = pooled_confusion(pred, class_names, dataset=scope, seed=seed)
            for i, t in enumerate(class_names):
                for j, p in enumerate(class_names):
                    rows.append((seed, scope, t, p, int(cm[i, j])))
    return Table(
        name="confusion_per_seed",
        title="Confusion counts per seed",
        columns=("seed", "scope", "true", "predicted", "count"),
        rows=tuple(rows),
        caption="Counts pooled over all folds of each seed.",
    )


# --------------------------------------------------------------------------- scores


def _scores(y_true, y_pred, class_names) -> dict[str, float]:
    labels = list(class_names)
    with warnings.catch_warnings():
        # A database may lack a class; the metric counts it as 0 (MEGC rule), which is expected.
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        return {
            "uf1": mer_metrics.uf1(y_true, y_pred, labels=labels),
            "uar": mer_metrics.uar(y_true, y_pred, labels=labels),
            "accuracy": mer_metrics.accuracy(y_true, y_pred),
        }


def per_seed_metrics_table(pred: Predictions, class_names: Sequence[str]) -> Table:
    """UF1, UAR and accuracy per seed and scope, recomputed from ``predictions.csv``."""
    rows = []
    for seed in pred.seeds:
        for scope in scopes(pred):
            m = _mask(pred, dataset=scope, seed=seed)
            s = _scores(pred.y_true[m], pred.y_pred[m], class_names)
            rows.append((seed, scope, int(m.sum()), s["uf1"], s["uar"], s["accuracy"]))
    return Table(
        name="metrics_per_seed",
        title="Scores per seed (recomputed from predictions.csv)",
        columns=("seed", "scope", "n", "uf1", "uar", "accuracy"),
        rows=tuple(rows),
        caption="Each score pools the predictions of all folds of one seed before averaging "
        "over classes.",
    )


def find_metric_mismatches(
    per_seed: Table, metrics: dict[str, Any], *, tol: float = 5e-6
) -> list[str]:
    """Compare recomputed per-seed scores with ``metrics.json``'s; returns one line per mismatch.

    ``metrics.json`` rounds to 6 decimals, hence the default tolerance.
    """
    problems = []
    recorded = metrics.get("per_seed") or {}
    for seed, scope, _n, *values in per_seed.rows:
        entry = recorded.get(str(seed)) or {}
        block = entry.get("all") if scope == ALL else (entry.get("per_database") or {}).get(scope)
        if not block:
            continue
        for key, mine in zip(("uf1", "uar", "accuracy"), values):
            theirs = block.get(key)
            if theirs is not None and abs(float(theirs) - mine) > tol:
                problems.append(
                    f"seed {seed}, {scope}: {key} is {float(theirs):.6f} in metrics.json but "
                    f"{mine:.6f} from predictions.csv"
                )
    return problems


def _summary_block(block: dict[str, Any] | None) -> dict[str, tuple[float | None, float | None]]:
    out = {}
    for key in ("uf1", "uar", "accuracy"):
        entry = (block or {}).get(key)
        if isinstance(entry, dict):
            out[key] = (entry.get("mean"), entry.get("std"))
        elif isinstance(entry, int | float):
            out[key] = (float(entry), None)
        else:
            out[key] = (None, None)
    return out


def _summary_scopes(metrics: dict[str, Any]) -> list[tuple[str, dict[str, Any] | None]]:
    summary = metrics.get("summary") or {}
    per_db = summary.get("per_database") or {}
    return [(ALL, summary.get("all")), *[(db, per_db[db]) for db in sorted(per_db)]]


def _ensemble_caption(metrics: dict[str, Any]) -> str:
    ens = metrics.get("seed_ensemble")
    if not ens:
        return ""
    return (
        f" Seed ensemble (softmax of the {len(ens['seeds'])} seeds averaged per sample): "
        f"UF1 {ens['all']['uf1']:.4f}, UAR {ens['all']['uar']:.4f}."
    )


def summary_table(metrics: dict[str, Any]) -> Table:
    """Mean and standard deviation over seeds, as recorded in ``metrics.json``."""
    rows, shown = [], []
    n_seeds = len(metrics.get("seeds") or metrics.get("per_seed") or [])
    for scope, block in _summary_scopes(metrics):
        s = _summary_block(block)
        row: list[Any] = [scope]
        cells = [scope]
        for key in ("uf1", "uar", "accuracy"):
            row += list(s[key])
            cells.append(_pm(*s[key]))
        rows.append(tuple(row))
        shown.append(tuple(cells))
    return Table(
        name="summary",
        title="Scores (mean ± std over seeds, from metrics.json)",
        columns=(
            "scope",
            "uf1_mean",
            "uf1_std",
            "uar_mean",
            "uar_std",
            "accuracy_mean",
            "accuracy_std",
        ),
        rows=tuple(rows),
        caption=f"Pooled over all leave-one-subject-out folds; mean ± std over {n_seeds} seed(s)."
        + _ensemble_caption(metrics),
        display_columns=("scope", "UF1", "UAR", "accuracy"),
        display_rows=tuple(shown),
    )


def comparison_values(
    runs: Sequence[RunOutputs],
) -> tuple[list[str], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Scores of several runs from their ``metrics.json`` summaries.

    Returns:
        ``(scopes, means, stds)``: ``["all", <databases of any run>...]`` and, for ``"uf1"`` and
        ``"uar"``, ``(runs, scopes)`` arrays of means and standard deviations over seeds (NaN where
        a run lacks a database or a value).
    """
    dbs = sorted({db for r in runs for db, _ in _summary_scopes(r.metrics) if db != ALL})
    all_scopes = [ALL, *dbs]
    means = {k: np.full((len(runs), len(all_scopes)), np.nan) for k in ("uf1", "uar")}
    stds = {k: np.full((len(runs), len(all_scopes)), np.nan) for k in ("uf1", "uar")}
    for i, run in enumerate(runs):
        blocks = dict(_summary_scopes(run.metrics))
        for j, scope in enumerate(all_scopes):
            s = _summary_block(blocks.get(scope))
            for key in ("uf1", "uar"):
                mean, std = s[key]
                means[key][i, j] = np.nan if mean is None else float(mean)
                stds[key][i, j] = np.nan if std is None else float(std)
    return all_scopes, means, stds


def comparison_table(runs: Sequence[RunOutputs], labels: Sequence[str]) -> Table:
    """UF1 and UAR (mean ± std over seeds) of several runs, full set and per database."""
    all_scopes, means, stds = comparison_values(runs)
    columns = ["run", "model", "n_seeds"]
    shown_cols = ["run", "model", "seeds"]
    for scope in all_scopes:
        for key in ("uf1", "uar"):
            columns += [f"{scope}_{key}_mean", f"{scope}_{key}_std"]
            shown_cols.append(f"{scope} {key.upper()}")

    def val(x: float) -> float | None:
        return None if np.isnan(x) else float(x)

    rows, shown = [], []
    for i, (run, label) in enumerate(zip(runs, labels)):
        n_seeds = len(run.metrics.get("seeds") or run.predictions.seeds)
        row: list[Any] = [label, run.model, n_seeds]
        cells = [label, run.model, str(n_seeds)]
        for j in range(len(all_scopes)):
            for key in ("uf1", "uar"):
                mean, std = val(means[key][i, j]), val(stds[key][i, j])
                row += [mean, std]
                cells.append(_pm(mean, std))
        rows.append(tuple(row))
        shown.append(tuple(cells))
    return Table(
        name="comparison",
        title="Comparison of runs (mean ± std over seeds)",
        columns=tuple(columns),
        rows=tuple(rows),
        caption="From each run's metrics.json; scores pool all folds of a seed before averaging "
        "over classes. '–' marks a database a run did not cover.",
        display_columns=tuple(shown_cols),
        display_rows=tuple(shown),
    )


# --------------------------------------------------------------------------- per subject


def _std(values: Sequence[float]) -> float:
    """Sample standard deviation (``ddof=1``), 0 for a single value (as ``metrics.json``)."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


@dataclass(frozen=True)
class SubjectAccuracy:
    """Accuracy of one test subject over seeds."""

    dataset: str
    subject: str
    n_samples: int
    mean: float
    std: float
    n_seeds: int


def subject_accuracy(pred: Predictions) -> list[SubjectAccuracy]:
    """Per-subject accuracy (mean and sample std over seeds), sorted by database, then subject."""
    out = []
    keys = sorted(
        set(zip(pred.dataset.tolist(), pred.subject.tolist())),
        key=lambda k: (k[0], natural_key(k[1])),
    )
    for dataset, subject in keys:
        per_seed, sizes = [], []
        for seed in pred.seeds:
            m = (pred.subject == subject) & (pred.dataset == dataset) & (pred.seed == seed)
            if m.any():
                per_seed.append(float(np.mean(pred.y_true[m] == pred.y_pred[m])))
                sizes.append(int(m.sum()))
        out.append(
            SubjectAccuracy(
                dataset=dataset,
                subject=subject,
                n_samples=max(sizes),
                mean=float(np.mean(per_seed)),
                std=_std(per_seed),
                n_seeds=len(per_seed),
            )
        )
    return out


def subject_accuracy_table(rows: Sequence[SubjectAccuracy]) -> Table:
    """Per-subject accuracy as a table."""
    return Table(
        name="subject_accuracy",
        title="Accuracy per test subject",
        columns=("dataset", "subject", "n_samples", "accuracy_mean", "accuracy_std", "n_seeds"),
        rows=tuple((r.dataset, r.subject, r.n_samples, r.mean, r.std, r.n_seeds) for r in rows),
        caption="Each subject is the test fold of its own leave-one-subject-out split; "
        "n_samples per seed; mean ± sample std over seeds.",
    )


# --------------------------------------------------------------------------- learning curves


@dataclass(frozen=True)
class LearningCurve:
    """Training loss of one seed per epoch, averaged over every fold of that seed."""

    seed: int
    epochs: np.ndarray
    loss_mean: np.ndarray
    loss_std: np.ndarray
    n_folds: np.ndarray
    lr: np.ndarray


def learning_curves(log: Sequence[dict[str, Any]]) -> list[LearningCurve]:
    """Mean training loss over folds per epoch, one curve per seed.

    ``log.jsonl`` has one record per (seed, fold, epoch) with keys ``seed, fold, epoch, lr,
    loss, accuracy, time_s`` (see :mod:`featref.evaluation.run_folder`); each record's ``loss``
    counts once. The band is the population std over folds.
    """
    by_seed: dict[int, dict[int, dict[str, list[float]]]] = {}
    for rec in log:
        seed = int(rec["seed"])
        epoch = int(rec["epoch"])
        cell = by_seed.setdefault(seed, {}).setdefault(epoch, {"loss": [], "lr": []})
        cell["loss"].append(float(rec["loss"]))
        cell["lr"].append(float(rec["lr"]))
    curves = []
    for seed in sorted(by_seed):
        epochs = sorted(by_seed[seed])
        cells = [by_seed[seed][e] for e in epochs]
        curves.append(
            LearningCurve(
                seed=seed,
                epochs=np.array(epochs),
                loss_mean=np.array([np.mean(c["loss"]) for c in cells]),
                loss_std=np.array([np.std(c["loss"]) for c in cells]),
                n_folds=np.array([len(c["loss"]) for c in cells]),
                lr=np.array([np.mean(c["lr"]) if c["lr"] else np.nan for c in cells]),
            )
        )
    return curves


def learning_curve_table(curves: Sequence[LearningCurve]) -> Table:
    """Learning curves as a long table (``seed, epoch, n_folds, loss_mean, loss_std, lr``)."""
    rows = []
    for c in curves:
        for i, epoch in enumerate(c.epochs.tolist()):
            lr = None if np.isnan(c.lr[i]) else float(c.lr[i])
            rows.append(
                (c.seed, epoch, int(c.n_folds[i]), float(c.loss_mean[i]), float(c.loss_std[i]), lr)
            )
    return Table(
        name="learning_curves",
        title="Training loss per epoch (mean and std over folds)",
        columns=("seed", "epoch", "n_folds", "loss_mean", "loss_std", "lr"),
        rows=tuple(rows),
        caption="From log.jsonl: each fold's training loss, averaged over the folds of a seed.",
        display_rows=tuple(
            tuple(_fmt(v, 4) if isinstance(v, float) else _fmt(v) for v in r) for r in rows
        ),
    )


# --------------------------------------------------------------------------- attention


def attention_by_class(
    pred: Predictions, class_names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray] | None:
    """Mean attention factor of each proposal branch per true class.

    Returns:
        ``(mean, counts)``: ``mean[i, k]`` is the mean attention of branch ``k`` over the rows whose
        true class is ``class_names[i]`` (all seeds and folds pooled); ``counts[i]`` is the number
        of rows. ``None`` when the predictions carry no attention columns.
    """
    if pred.attention is None:
        return None
    mean = np.full((len(class_names), pred.attention.shape[1]), np.nan)
    counts = np.zeros(len(class_names), dtype=np.int64)
    for i, cls in enumerate(class_names):
        m = pred.y_true == cls
        counts[i] = int(m.sum())
        if m.any():
            mean[i] = pred.attention[m].mean(axis=0)
    return mean, counts


def attention_table(
    mean: np.ndarray, counts: np.ndarray, class_names: Sequence[str], branch_names: Sequence[str]
) -> Table:
    """The attention heatmap's numbers as a table."""
    rows = tuple(
        (cls, int(counts[i]), *[float(v) for v in mean[i]]) for i, cls in enumerate(class_names)
    )
    return Table(
        name="attention_by_class",
        title="Mean attention factor of each proposal branch per true class",
        columns=("true class", "n", *[f"branch {b}" for b in branch_names]),
        rows=rows,
        caption="Averaged over every test prediction (all folds and seeds) of that true class.",
    )
