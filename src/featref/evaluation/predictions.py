"""Prediction rows, their CSV file, scoring, and the MEGC2019 log format.

``predictions.csv`` has one row per sample and seed; metrics and reports read only these rows.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from featref.errors import AnnotationError
from featref.evaluation.metrics import accuracy, uar, uf1

__all__ = [
    "Prediction",
    "read_megc_log",
    "read_predictions",
    "score",
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
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(head)
        for r in rows:
            row = [r.seed, r.fold, r.subject, r.sample_id, r.dataset, r.subject, r.y_true, r.y_pred]
            row += [f"{p:.6f}" for p in r.probs] if has_probs else []
            row += [f"{a:.6f}" for a in r.attention] if has_att else []
            w.writerow(row)
    tmp.replace(path)


def read_predictions(path: Path) -> list[Prediction]:
    """Read ``predictions.csv``.

    Raises:
        AnnotationError: for a missing column, naming the file.
    """
    with Path(path).open(newline="") as f:
        reader = csv.DictReader(f)
        need = {"seed", "fold", "sample_id", "dataset", "subject", "y_true", "y_pred"}
        missing = need - set(reader.fieldnames or [])
        if missing:
            raise AnnotationError(
                f"{path} lacks column(s) {sorted(missing)}; expected a featref predictions.csv."
            )
        probs = [c for c in reader.fieldnames or [] if c.startswith("prob_")]
        atts = [c for c in reader.fieldnames or [] if c.startswith("attention_")]
        return [
            Prediction(
                seed=int(r["seed"]),
                fold=int(r["fold"]),
                sample_id=r["sample_id"],
                dataset=r["dataset"],
                subject=r["subject"],
                y_true=r["y_true"],
                y_pred=r["y_pred"],
                probs=tuple(float(r[c]) for c in probs),
                attention=tuple(float(r[c]) for c in atts),
            )
            for r in reader
        ]


def score(y_true: Sequence, y_pred: Sequence, labels: Sequence) -> dict[str, float]:
    """UF1, UAR and accuracy of pooled predictions, plus ``n``."""
    return {
        "uf1": round(uf1(y_true, y_pred, labels=labels), 6),
        "uar": round(uar(y_true, y_pred, labels=labels), 6),
        "accuracy": round(accuracy(y_true, y_pred), 6),
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
        for key in ("uf1", "uar", "accuracy"):
            vals = np.array([get(e)[key] for e in per_seed.values()])
            std = float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
            out[key] = {"mean": round(float(vals.mean()), 6), "std": round(std, 6)}
        return out

    dbs = sorted({r.dataset for r in rows})
    summary = {
        "all": agg(lambda e: e["all"]),
        "per_database": {db: agg(lambda e, db=db: e["per_database"][db]) for db in dbs},
    }
    return {"per_seed": per_seed, "summary": summary}


_SUBJECT_LINE = re.compile(r"^(\S+)\s+(\S+)$")
_SAMPLE_LINE = re.compile(r"^(\S+)\s+(\d+)\s+(\d+)$")


def read_megc_log(path: Path) -> list[tuple[str, str, str, int, int]]:
    """Parse a MEGC2019 result log.

    The format: a line ``<dataset> <subject>`` before each subject's samples, then one line
    ``<clip> <ground truth> <prediction>`` per sample (class indices).

    Returns:
        ``(dataset, subject, clip, y_true, y_pred)`` tuples in file order.

    Raises:
        AnnotationError: naming the file and line of anything else.
    """
    rows = []
    dataset = subject = None
    for n, line in enumerate(Path(path).read_text().splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if m := _SAMPLE_LINE.match(line):
            if dataset is None:
                raise AnnotationError(f"{path}, line {n}: a sample line before any subject line.")
            rows.append((dataset, subject, m[1], int(m[2]), int(m[3])))
        elif m := _SUBJECT_LINE.match(line):
            dataset, subject = m[1], m[2]
        else:
            raise AnnotationError(
                f"{path}, line {n}: expected '<dataset> <subject>' or "
                "'<clip> <truth> <prediction>'. "
                f"Got {line!r}."
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
    path.write_text("\n".join(lines) + "\n")
