"""Write a fake run folder in the format ``featref run`` produces (synthetic predictions).

Used by the report tests; no training, no data. The predictions are right with probability
``accuracy`` and otherwise a random other class; attention peaks on the true class's branch;
refined features separate the classes more than shared ones.
"""

from __future__ import annotations

import csv
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from featref.evaluation import metrics as M

CLASSES = ("negative", "positive", "surprise")


@dataclass(frozen=True)
class FakeRun:
    """What was written: the folder and the rows (for recomputing numbers in tests)."""

    path: Path
    class_names: tuple[str, ...]
    rows: list[dict]
    seeds: tuple[int, ...]
    datasets: tuple[str, ...]


def _scores(rows: list[dict]) -> dict:
    yt = [r["y_true"] for r in rows]
    yp = [r["y_pred"] for r in rows]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "uf1": M.uf1(yt, yp, labels=list(CLASSES)),
            "uar": M.uar(yt, yp, labels=list(CLASSES)),
            "accuracy": M.accuracy(yt, yp),
            "n": len(rows),
        }


def write_fake_run(
    path: str | Path,
    *,
    datasets: tuple[str, ...] = ("casme2", "samm", "smic"),
    subjects_per_dataset: int = 4,
    samples_per_subject: int = 5,
    seeds: tuple[int, ...] = (0, 1),
    accuracy: float = 0.7,
    epochs: int = 4,
    with_attention: bool = True,
    with_features: bool = True,
    with_log: bool = True,
    model: str = "featref",
    random_state: int = 0,
) -> FakeRun:
    """Write predictions.csv, metrics.json, log.jsonl, config.json, features.npz into ``path``."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(random_state)
    samples = []  # (sample_id, dataset, subject, class index)
    k = 0
    for db in datasets:
        for s in range(1, subjects_per_dataset + 1):
            subject = f"{db}/sub{s:02d}"
            for c in range(samples_per_subject):
                samples.append((f"{subject}/clip{c:02d}", db, subject, k % len(CLASSES)))
                k += 1
    subjects = sorted({s[2] for s in samples})
    fold_of = {s: i for i, s in enumerate(subjects)}

    rows: list[dict] = []
    for seed in seeds:
        for sid, db, subject, ci in samples:
            correct = rng.random() < accuracy
            pi = ci if correct else int(rng.choice([j for j in range(len(CLASSES)) if j != ci]))
            logits = rng.normal(0, 0.5, len(CLASSES))
            logits[pi] += 2.0
            prob = np.exp(logits) / np.exp(logits).sum()
            att_logits = rng.normal(0, 0.3, len(CLASSES))
            att_logits[ci] += 1.0
            att = np.exp(att_logits) / np.exp(att_logits).sum()
            row = {
                "seed": seed,
                "fold": fold_of[subject],
                "test_subject": subject,
                "sample_id": sid,
                "dataset": db,
                "subject": subject,
                "y_true": CLASSES[ci],
                "y_pred": CLASSES[pi],
            }
            row.update({f"prob_{c}": float(p) for c, p in zip(CLASSES, prob)})
            if with_attention:
                row.update({f"attention_{c}": float(a) for c, a in zip(CLASSES, att)})
            rows.append(row)
    with (path / "predictions.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    per_seed = {}
    for seed in seeds:
        sr = [r for r in rows if r["seed"] == seed]
        per_seed[str(seed)] = {
            "all": _scores(sr),
            "per_database": {db: _scores([r for r in sr if r["dataset"] == db]) for db in datasets},
        }

    def summary(get):
        out = {}
        for key in ("uf1", "uar", "accuracy"):
            vals = [get(per_seed[str(s)])[key] for s in seeds]
            std = float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0  # as the runner
            out[key] = {"mean": float(np.mean(vals)), "std": std}
        return out

    metrics = {
        "class_names": list(CLASSES),
        "model": model,
        "per_seed": per_seed,
        "summary": {
            "all": summary(lambda b: b["all"]),
            "per_database": {
                db: summary(lambda b, db=db: b["per_database"][db]) for db in datasets
            },
        },
        "wall_time_s": 1.0,
        "seeds": list(seeds),
    }
    (path / "metrics.json").write_text(json.dumps(metrics, indent=2))
    config = {
        "data": {"dataset": "megc2019"},
        "model": {"name": model, "kwargs": {}},
        "train": {"epochs": epochs, "lr": 1e-3},
    }
    (path / "config.json").write_text(json.dumps(config, indent=2))

    if with_log:
        # the runner's shape: one line per (seed, fold, epoch)
        with (path / "log.jsonl").open("w") as fh:
            for seed in seeds:
                for fold in range(len(subjects)):
                    for epoch in range(1, epochs + 1):
                        rec = {
                            "seed": seed,
                            "fold": fold,
                            "epoch": epoch,
                            "lr": 1e-3,
                            "loss": float(1.2 / epoch + 0.05 * rng.random()),
                            "accuracy": 0.5,
                            "time_s": 0.1,
                        }
                        fh.write(json.dumps(rec) + "\n")

    if with_features:
        n = len(samples)
        y = np.array([s[3] for s in samples] * len(seeds))
        centres_shared = rng.normal(0, 0.3, (len(CLASSES), 40))
        centres_refined = rng.normal(0, 3.0, (len(CLASSES), 3 * 8))
        np.savez(
            path / "features.npz",
            sample_ids=np.array([s[0] for s in samples] * len(seeds)),
            seed=np.repeat(np.array(seeds), n),
            shared=centres_shared[y] + rng.normal(0, 1, (n * len(seeds), 40)),
            refined=centres_refined[y] + rng.normal(0, 1, (n * len(seeds), 3 * 8)),
            attention=rng.dirichlet(np.ones(3), n * len(seeds)),
            y_true=y,
        )
    return FakeRun(path, CLASSES, rows, tuple(seeds), tuple(datasets))
