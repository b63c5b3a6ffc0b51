"""Prediction rows, their CSV file, scoring, and the MEGC2019 log format.

``predictions.csv`` has one row per sample and seed; metrics and reports read only these rows.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from featref.atomic import atomic_write_text
from featref.errors import AnnotationError
from featref.evaluation.metrics import accuracy, uar, uf1, weighted_f1

__all__ = [
    "PREDICTION_COLUMNS",
    "Prediction",
    "read_megc_log",
    "read_predictions",
    "score",
    "seed_ensemble_scores",
    "summarise",
    "write_megc_log",
    "write_predictions",
]


@dataclass(frozen=True)
class Prediction:
    """One test sample's prediction in one fold of one seed."""

    seed: int
    fold: int
    sample_id: str
    dataset: str
    subject: str  # namespaced, e.g. "samm/006"; the fold's test subject
    y_true: str
    y_pred: str
    probs: tuple[float, ...] = ()
    attention: tuple[float, ...] = field(default=())


def write_predictions(path: Path, rows: Sequence[Prediction], class_names: Sequence[str]) -> None:
    """Write rows to ``predictions.csv`` (prob_* per class; attention_* when present)."""
    has_probs = any(r.probs for r in rows)
    has_att = any(r.attention for r in rows)
    head = ["seed", "fold", "test_subject", "sample_id", "dataset", "subject", "y_true", "y_pred"]
    head += [f"prob_{c}" for c in class_names] if has_probs else []
    head += [f"attention_{c}" for c in class_names] if has_att else []
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(head)
    for r in rows:
        row = [r.seed, r.fold, r.subject, r.sample_id, r.dataset, r.subject, r.y_true, r.y_pred]
        row += [f"{p:.6f}" for p in r.probs] if has_probs else []
        row += [f"{a:.6f}" for a in r.attention] if has_att else []
        w.writerow(row)
    atomic_write_text(path, buf.getvalue())


#: Columns every ``predictions.csv`` has (``prob_<class>`` and ``attention_<class>`` may follow).
PREDICTION_COLUMNS: tuple[str, ...] = (
    "seed",
    "fold",
    "test_subject",
    "sample_id",
    "dataset",
    "subject",
    "y_true",
    "y_pred",
)
_NEEDED = ("seed", "fold", "sample_id", "dataset", "subject", "y_true", "y_pred")


def _text(path: Path, what: str) -> str:
    """The file's text (UTF-8; a leading byte-order mark is accepted and dropped)."""
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(f"{what} {path.resolve()} does not exist; check the path.")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AnnotationError(
            f"{what} {path} is not UTF-8 text ({exc}); is it the right file?"
        ) from None


def read_predictions(path: Path, class_names: Sequence[str] | None = None) -> list[Prediction]:
    """Read ``predictions.csv``: the one reader of featref's prediction files.

    Every row is checked: its field count, integer ``seed``/``fold``, finite probabilities, a
    ``sample_id`` of the form ``<subject>/<clip>`` with ``subject`` = ``<dataset>/<name>``,
    classes among ``class_names`` (default: the ``prob_<class>`` columns, when present), and no
    ``(seed, sample_id)`` twice.

    Args:
        path: The file.
        class_names: The run's classes (e.g. from ``metrics.json``); ``None``: the ``prob_*``
            columns, else unchecked.

    Raises:
        AnnotationError: naming the file, the line number and what was expected.
    """
    text = _text(path, "Predictions file")
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if not header:
        raise AnnotationError(f"{path} is empty; expected a featref predictions.csv.")
    header = [h.strip() for h in header]
    missing = [c for c in _NEEDED if c not in header]
    if missing:
        raise AnnotationError(
            f"{path} lacks column(s) {missing}; expected a featref predictions.csv with the "
            f"header {','.join(PREDICTION_COLUMNS)},prob_<class>... Found {header}."
        )
    col = {name: i for i, name in enumerate(header)}
    probs = [c for c in header if c.startswith("prob_")]
    atts = [c for c in header if c.startswith("attention_")]
    classes = list(class_names) if class_names is not None else [c[5:] for c in probs]
    if class_names is not None and probs and [c[5:] for c in probs] != classes:
        raise AnnotationError(
            f"{path}: the prob_* columns {probs} do not match the run's classes {classes} "
            f"(expected {[f'prob_{c}' for c in classes]}); the file belongs to another run or "
            "was edited: regenerate it (rerun the run)."
        )
    rows: list[Prediction] = []
    seen: dict[tuple[int, str], int] = {}
    for line, fields in enumerate(reader, start=2):
        if not fields or all(not f.strip() for f in fields):
            continue
        where = f"{path}, line {line}"
        if len(fields) != len(header):
            raise AnnotationError(
                f"{where}: {len(fields)} fields, expected {len(header)} (the header's columns). "
                "The file may be truncated or edited; regenerate it (rerun the run)."
            )
        r = {name: fields[i].strip() for name, i in col.items()}
        try:
            seed, fold = int(r["seed"]), int(r["fold"])
            p = tuple(float(r[c]) for c in probs)
            a = tuple(float(r[c]) for c in atts)
        except ValueError as exc:
            raise AnnotationError(
                f"{where}: seed and fold must be integers and prob_*/attention_* numbers ({exc})."
                " Regenerate the file (rerun the run)."
            ) from None
        if not all(math.isfinite(v) for v in p + a) or any(v < 0 or v > 1 for v in p):
            raise AnnotationError(
                f"{where}: probabilities must be finite numbers in [0, 1]. Got {list(p)}."
            )
        sid, dataset, subject = r["sample_id"], r["dataset"], r["subject"]
        if not (subject.startswith(f"{dataset}/") and sid.startswith(f"{subject}/")):
            raise AnnotationError(
                f"{where}: sample_id {sid!r}, dataset {dataset!r} and subject {subject!r} do "
                "not agree; expected sample_id '<dataset>/<subject>/<clip>' and subject "
                "'<dataset>/<subject>' (e.g. casme2/sub01/EP02_01f, casme2, casme2/sub01)."
            )
        for name in ("y_true", "y_pred"):
            if classes and r[name] not in classes:
                raise AnnotationError(
                    f"{where}: {name} {r[name]!r} is not one of the classes {classes}. Expected "
                    "class names (not indices); regenerate the file."
                )
        if (seed, sid) in seen:
            raise AnnotationError(
                f"{where}: sample {sid} appears twice for seed {seed} (first on line "
                f"{seen[(seed, sid)]}). Each sample has one prediction per seed; remove the "
                "duplicate or regenerate the file."
            )
        seen[(seed, sid)] = line
        rows.append(Prediction(seed, fold, sid, dataset, subject, r["y_true"], r["y_pred"], p, a))
    if not rows:
        raise AnnotationError(f"{path} has a header but no rows; the run wrote no predictions.")
    return rows


def score(y_true: Sequence, y_pred: Sequence, labels: Sequence) -> dict[str, float]:
    """UF1, UAR, accuracy and weighted F1 of pooled predictions, plus ``n``."""
    return {
        "uf1": round(uf1(y_true, y_pred, labels=labels), 6),
        "uar": round(uar(y_true, y_pred, labels=labels), 6),
        "accuracy": round(accuracy(y_true, y_pred), 6),
        "weighted_f1": round(weighted_f1(y_true, y_pred, labels=labels), 6),
        "n": len(y_true),
    }


def summarise(rows: Sequence[Prediction], class_names: Sequence[str]) -> dict:
    """Per-seed pooled scores (all samples and per database) and their mean +- std over seeds.

    The standard deviation is the sample standard deviation (ddof=1; 0 for a single seed).
    """
    per_seed: dict[str, dict] = {}
    for seed in sorted({r.seed for r in rows}):
        mine = [r for r in rows if r.seed == seed]
        entry = {
            "all": score([r.y_true for r in mine], [r.y_pred for r in mine], class_names),
            "per_database": {},
        }
        for db in sorted({r.dataset for r in mine}):
            sub = [r for r in mine if r.dataset == db]
            entry["per_database"][db] = score(
                [r.y_true for r in sub], [r.y_pred for r in sub], class_names
            )
        per_seed[str(seed)] = entry

    def agg(get) -> dict[str, dict[str, float]]:
        out = {}
        for key in ("uf1", "uar", "accuracy", "weighted_f1"):
            vals = np.array([get(e)[key] for e in per_seed.values()])
            std = float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
            out[key] = {"mean": round(float(vals.mean()), 6), "std": round(std, 6)}
        return out

    dbs = sorted({r.dataset for r in rows})
    summary = {
        "all": agg(lambda e: e["all"]),
        "per_database": {db: agg(lambda e, db=db: e["per_database"][db]) for db in dbs},
    }
    out = {"per_seed": per_seed, "summary": summary}
    ensemble = seed_ensemble_scores(rows, class_names) if len(per_seed) > 1 else None
    if ensemble is not None:
        out["seed_ensemble"] = ensemble
    return out


def seed_ensemble_scores(rows: Sequence[Prediction], class_names: Sequence[str]) -> dict | None:
    """Scores of the seed ensemble: each sample's class probabilities averaged over the seeds.

    An honest predictor (every seed's model of a sample is the one of that sample's own fold, so
    no seed saw it in training); reported beside the single-seed mean +- std, not instead of it.
    Only samples predicted by every seed enter (all of them in a finished run); None when there
    is no such sample.
    """
    seeds = sorted({r.seed for r in rows})
    by_sample: dict[str, list[Prediction]] = {}
    for r in rows:
        by_sample.setdefault(r.sample_id, []).append(r)
    members = [m for m in by_sample.values() if len(m) == len(seeds)]
    if not members:
        return None
    names = list(class_names)
    y_true = [m[0].y_true for m in members]
    y_pred = [names[int(np.mean([r.probs for r in m], axis=0).argmax())] for m in members]
    datasets = [m[0].dataset for m in members]
    per_db = {}
    for db in sorted(set(datasets)):
        keep = [i for i, d in enumerate(datasets) if d == db]
        per_db[db] = score([y_true[i] for i in keep], [y_pred[i] for i in keep], class_names)
    return {
        "seeds": seeds,
        "all": score(y_true, y_pred, class_names),
        "per_database": per_db,
    }


_INT = re.compile(r"^-?\d+$")


def _known_datasets() -> set[str]:
    from featref.datasets import DATASETS

    return set(DATASETS) | {"synthetic"}


def read_megc_log(
    path: Path, labels: Sequence[str] | None = None
) -> list[tuple[str, str, str, int, int]]:
    """Parse a MEGC2019 result log: the one reader of that format.

    The format: a line ``<dataset> <subject>`` before each subject's samples, then one line
    ``<clip> <ground truth> <prediction>`` per sample (class indices). A header's dataset must be
    a known database (``casme2``, ``samm``, ``smic``, ...), so a clip line that lost a field is
    never taken for a header.

    Args:
        path: The log file.
        labels: The valid class indices as text (default ``"0", "1", "2"``).

    Returns:
        ``(dataset, subject, clip, y_true, y_pred)`` tuples in file order.

    Raises:
        AnnotationError: naming the file and line of a line with the wrong field count, an
            unknown database, a class outside ``labels``, a clip listed twice or a subject with
            no clips.
    """
    labels = [str(v) for v in (labels if labels is not None else ("0", "1", "2"))]
    known = _known_datasets()
    rows: list[tuple[str, str, str, int, int]] = []
    seen: dict[tuple[str, str, str], int] = {}
    dataset = subject = None
    header_line, header_count = 0, 0
    expected = "'<dataset> <subject>' (e.g. 'casme2 sub01') or '<clip> <truth> <prediction>'"
    for n, line in enumerate(_text(path, "MEGC2019 log").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        where = f"{path}, line {n}"
        if len(fields) == 2 and (fields[0] in known or not _INT.match(fields[1])):
            if fields[0] not in known:
                raise AnnotationError(
                    f"{where}: {fields[0]!r} is not a known database (expected one of "
                    f"{sorted(known)}), so {line.strip()!r} is neither a subject line nor a "
                    f"sample line. Expected {expected}; fix the line."
                )
            if dataset is not None and header_count == len(rows):
                raise AnnotationError(
                    f"{path}, line {header_line}: subject '{dataset} {subject}' has no sample "
                    "lines; a sample line may have been merged or lost. Fix the log."
                )
            dataset, subject, header_line, header_count = fields[0], fields[1], n, len(rows)
            continue
        if len(fields) != 3:
            hint = (
                " A sample line needs the clip, its ground truth and the prediction; one seems "
                "missing."
                if len(fields) == 2
                else ""
            )
            raise AnnotationError(
                f"{where}: {len(fields)} field(s) in {line.strip()!r}; expected {expected}.{hint}"
            )
        clip, truth, pred = fields
        if dataset is None:
            raise AnnotationError(
                f"{where}: a sample line before any subject line; put '<dataset> <subject>' "
                "before each subject's samples."
            )
        for what, value in (("ground truth", truth), ("prediction", pred)):
            if value not in labels:
                raise AnnotationError(
                    f"{where}: the {what} {value!r} of {clip} is not a class index "
                    f"{labels}. Fix the line, or pass --labels with every class of the task."
                )
        key = (dataset, subject, clip)
        if key in seen:
            raise AnnotationError(
                f"{where}: {dataset}/{subject}/{clip} is listed twice (first on line "
                f"{seen[key]}). Each clip has one prediction; remove the duplicate."
            )
        seen[key] = n
        rows.append((dataset, subject, clip, int(truth), int(pred)))
    if dataset is not None and header_count == len(rows) and rows:
        raise AnnotationError(
            f"{path}, line {header_line}: subject '{dataset} {subject}' has no sample lines; "
            "fix the log."
        )
    if not rows:
        raise AnnotationError(f"{path} holds no prediction lines; is it a MEGC2019 log?")
    return rows


def write_megc_log(path: Path, rows: Iterable[Prediction], class_names: Sequence[str]) -> None:
    """Write one seed's predictions in the MEGC2019 log format (class indices)."""
    lines, last = [], None
    for r in rows:
        dataset, subject = r.subject.split("/", 1)
        if (dataset, subject) != last:
            lines.append(f"{dataset} {subject}")
            last = (dataset, subject)
        clip = r.sample_id.rsplit("/", 1)[-1]
        lines.append(f"{clip} {class_names.index(r.y_true)} {class_names.index(r.y_pred)}")
    atomic_write_text(path, "\n".join(lines) + "\n")
