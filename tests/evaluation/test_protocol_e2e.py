"""End to end: a single-database protocol preset on a fake database in the official layout.

``featref prepare <db> --label-scheme <table>`` then ``featref run --config <preset>`` on the
prepared cache, 1 epoch, one seed, a slim model: the run folder holds the task's classes, every
kept clip predicted once, and the task's metrics.
"""

from __future__ import annotations

import json
from collections import Counter

from tests.fakes import make_casme3, make_samm

from featref.cli import main
from featref.labels import LABEL_TABLES

SLIM = [
    "--model-arg", "stream_filters=[2, 4]",
    "--model-arg", "branch_width=8",
    "--epochs", "1", "--batch-size", "8", "--seeds", "0",
    "--workers", "1", "--executor", "inprocess", "--no-progress",
]  # fmt: skip

#: SAMM rows: the five classes of samm_5 over three subjects, plus a left-out emotion (Disgust).
SAMM = tuple(
    (subject, f"{subject}_{i}_1", 100 * i + 10, 100 * i + 12, 100 * i + 14, "4", emotion)
    for i, (subject, emotion) in enumerate(
        [
            ("006", "Anger"), ("006", "Happiness"), ("006", "Other"), ("007", "Contempt"),
            ("007", "Surprise"), ("007", "Anger"), ("011", "Happiness"), ("011", "Disgust"),
        ]
    )
)  # fmt: skip

#: CAS(ME)^3 rows: the six label_for_7 classes over three subjects.
CASME3 = tuple(
    (subject, video, 10 * i + 10, 10 * i + 12, 10 * i + 14, "4", "III", emotion)
    for i, (subject, video, emotion) in enumerate(
        [
            ("spNO.1", "a", "happy"), ("spNO.1", "a", "surprise"), ("spNO.1", "b", "sad"),
            ("spNO.2", "a", "disgust"), ("spNO.2", "c", "fear"), ("spNO.3", "a", "anger"),
            ("spNO.3", "d", "disgust"),
        ]
    )
)  # fmt: skip


def _prepare_and_run(tmp_path, capsys, db, table, preset):
    cache = tmp_path / "cache"
    argv = ["prepare", db, "--data-dir", str(tmp_path / db), "--cache-dir", str(cache)]
    argv += ["--label-scheme", table, "--no-align", "--no-progress"]
    assert main(argv) == 0, capsys.readouterr().err
    (manifest,) = cache.glob(f"{db}/*/manifest.json")
    run_dir = tmp_path / "run"
    argv = ["run", "--config", preset, "--data-dir", str(manifest.parent)]
    argv += ["--output-dir", str(run_dir), *SLIM]
    assert main(argv) == 0, capsys.readouterr().err
    return run_dir


def _check(run_dir, table, kept):
    metrics = json.loads((run_dir / "metrics.json").read_text())
    summary = metrics["summary"]["all"]
    assert {"uf1", "uar", "accuracy", "weighted_f1"} <= set(summary)
    (seed,) = metrics["per_seed"].values()
    assert seed["all"]["n"] == kept
    assert metrics["class_names"] == list(LABEL_TABLES[table].classes)
    assert metrics["num_samples"] == kept and metrics["num_subjects"] == 3


def test_samm_5class_end_to_end(tmp_path, capsys):
    make_samm(tmp_path / "samm", SAMM)
    run_dir = _prepare_and_run(tmp_path, capsys, "samm", "samm_5", "samm_5class")
    _check(run_dir, "samm_5", kept=len(SAMM) - 1)  # Disgust is left out


def test_casme3_7class_end_to_end(tmp_path, capsys):
    make_casme3(tmp_path / "casme3", CASME3)
    run_dir = _prepare_and_run(tmp_path, capsys, "casme3", "casme3_7", "casme3_7class")
    _check(run_dir, "casme3_7", kept=len(CASME3))
    assert Counter(LABEL_TABLES["casme3_7"].label(r[-1]) for r in CASME3)["disgust"] == 2
