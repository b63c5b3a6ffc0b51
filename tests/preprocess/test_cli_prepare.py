"""``featref prepare`` in-process: counts, output folder, failures, missing data."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import pytest

from featref.cli import main
from featref.cli.prepare import _defaults
from featref.datasets import DATASETS
from featref.datasets.base import ManualDataset, Sample, natural_key
from featref.preprocess.cache import load_prepared
from featref.preprocess.config import PreprocessConfig

from .conftest import make_fake_reader


class FakeDb(ManualDataset):
    """A reader over ``labels.csv`` (subject, clip, emotion, onset, apex, offset) + frames."""

    name = "fakedb"
    title = "Fake database"
    MANUAL_DOWNLOAD_INSTRUCTIONS = "Build it with tests/preprocess/conftest.py."
    REQUIRED_PATHS = ("labels.csv",)

    def _load_samples(self) -> list[Sample]:
        with open(self.root / "labels.csv") as fh:
            rows = list(csv.DictReader(fh))
        return [
            Sample(
                self.name,
                r["subject"],
                r["clip"],
                r["emotion"],
                int(r["onset"]),
                int(r["apex"]) if r["apex"] else None,
                int(r["offset"]),
                self.root / r["subject"] / r["clip"],
            )  # fmt: skip
            for r in rows
        ]

    def frames(self, sample: Sample) -> list[Path]:
        return sorted(sample.frame_dir.glob("*.jpg"), key=natural_key)

    def frame_path(self, sample: Sample, number: int) -> Path:
        return sample.frame_dir / f"img{number}.jpg"


@pytest.fixture
def fake_db(tmp_path, monkeypatch) -> Path:
    reader = make_fake_reader(tmp_path / "data")
    root = tmp_path / "data" / "fakedb"
    with open(root / "labels.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["subject", "clip", "emotion", "onset", "apex", "offset"])
        for s in reader.samples():
            w.writerow([s.subject, s.clip, s.emotion, s.onset, s.apex or "", s.offset])
    monkeypatch.setitem(DATASETS, "fakedb", FakeDb)
    return root


def test_prepare_prints_counts_folder_and_failures(fake_db, tmp_path, capsys):
    argv = ["prepare", "fakedb", "--data-dir", str(fake_db), "--cache-dir", str(tmp_path / "c")]
    assert main(argv + ["--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "prepared 3 of 4 samples (3 computed, 0 reused" in out
    assert "1 failed" in out and "fakedb/sub03/EP09: face: no face found" in out
    folder = Path(out.split("output: ")[1].splitlines()[0])
    assert len(load_prepared(folder)) == 3
    assert main(argv + ["--workers", "2"]) == 0
    assert "(0 computed, 3 reused" in capsys.readouterr().out


def test_prepare_missing_database_is_one_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(DATASETS, "fakedb", FakeDb)
    code = main(["prepare", "fakedb", "--data-dir", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err
    assert code == 1
    assert "labels.csv" in err and "featref check-data fakedb" in err


def test_prepare_bad_values_exit_1(fake_db, capsys):
    assert main(["prepare", "fakedb", "--data-dir", str(fake_db), "--crop-size", "7"]) == 1
    assert "crop_size" in capsys.readouterr().err
    assert main(["prepare", "fakedb", "--data-dir", str(fake_db), "--workers", "0"]) == 1


def test_cli_defaults_match_the_config():
    fields = {f.name: f.default for f in dataclasses.fields(PreprocessConfig)}
    assert {k: fields[k] for k in _defaults()} == _defaults()
