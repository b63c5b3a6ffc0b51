"""``featref demo`` end to end, in-process, and the control that it learns the motion."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from featref.cli import main

TINY = ["--subjects", "2", "--clips-per-class", "1", "--fps", "50", "--epochs", "1"]


def _run_dir(out: Path, shuffled: bool = False) -> Path:
    runs = [p for p in out.glob("loso-*") if p.name.endswith("-shuffled") == shuffled]
    assert len(runs) == 1, runs
    return runs[0]


def test_demo_end_to_end_on_a_tiny_size(tmp_path, capsys):
    out = tmp_path / "demo"
    args = ["demo", "--output-dir", str(out), *TINY, "--workers", "1", "--no-progress"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "[1/5] synthetic CASME II database written" in text
    assert "6 computed, 0 reused, 0 failed" in text
    assert "UF1" in text and "UAR" in text
    assert text.splitlines()[-3].startswith("all ")  # the final table's pooled row
    # the synthetic database in CASME II's layout
    assert (out / "casme2" / "CASME2-coding-20140508.xlsx").is_file()
    assert len(list((out / "casme2" / "CASME2_RAW_selected").glob("sub*/EP*"))) == 6
    # images to look at: onset, apex and flow per class, and an overview
    pngs = sorted(p.name for p in (out / "samples").glob("*.png"))
    assert "overview.png" in pngs and len(pngs) == 10
    for cls in ("surprise", "positive", "negative"):
        assert sum(p.startswith(cls) for p in pngs) == 3
    # the run and its report
    run = _run_dir(out)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["model"] == "featref" and metrics["num_samples"] == 6
    assert metrics["class_names"] == ["negative", "positive", "surprise"]
    with (run / "predictions.csv").open() as f:
        assert len(list(csv.DictReader(f))) == 6
    assert (run / "report" / "report.html").is_file()
    assert json.loads((run / "demo.json").read_text())["shuffle_labels"] is False

    # a second run reuses everything
    assert main([*args, "--no-report", "--no-samples"]) == 0
    text = capsys.readouterr().out
    assert "database reused" in text and "0 computed, 6 reused" in text
    assert "0 of 2 fold units" in text


def test_demo_rejects_bad_sizes(tmp_path, capsys):
    assert main(["demo", "--output-dir", str(tmp_path), "--subjects", "1"]) == 1
    assert "--subjects must be at least 2" in capsys.readouterr().err
    assert main(["demo", "--output-dir", str(tmp_path), "--seeds", "a,b"]) == 1
    assert "--seeds must be comma-separated integers" in capsys.readouterr().err


@pytest.mark.slow
def test_fr_learns_the_motion_and_not_an_artefact(tmp_path, capsys):
    """High UF1 on the synthetic clips; chance when the labels are shuffled across clips."""
    out = tmp_path / "demo"
    # 30 clips at 50 fps (short clips, quick to write); one process: no worker start-up cost
    size = ["--subjects", "5", "--clips-per-class", "2", "--fps", "50", "--epochs", "30"]
    common = ["demo", "--output-dir", str(out), *size, "--workers", "1", "--no-report"]
    common += ["--no-samples"]
    assert main(common) == 0
    assert main([*common, "--shuffle-labels"]) == 0  # same database and cache, labels permuted
    capsys.readouterr()
    real = json.loads((_run_dir(out) / "metrics.json").read_text())["summary"]["all"]
    shuffled = json.loads((_run_dir(out, True) / "metrics.json").read_text())["summary"]["all"]
    assert real["uf1"]["mean"] >= 0.9
    assert real["uar"]["mean"] >= 0.9
    # chance is 1/3; with 30 clips the spread is wide (leave-one-subject-out with permuted
    # labels often scores below chance: each test subject's labels are missing from training)
    assert shuffled["uf1"]["mean"] <= 0.55
    assert shuffled["uar"]["mean"] <= 0.55
