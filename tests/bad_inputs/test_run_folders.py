"""Damaged run folders and refused reruns (embedded synthetic data, 1 epoch, 1 seed)."""

from __future__ import annotations

import json

import pytest

from .conftest import fails

FAST = ["--model", "ststnet", "--epochs", "1", "--seeds", "0", "--workers", "1"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    from featref.cli import main

    out = tmp_path_factory.mktemp("runs") / "r"
    assert main(["run", *FAST, "--output-dir", str(out), "--no-progress"]) == 0
    return out


def _copy(finished, tmp_path):
    import shutil

    dst = tmp_path / "r"
    shutil.copytree(finished, dst)
    return dst


def test_rerun_with_other_settings_names_what_differs(cli, finished, tmp_path):
    out = _copy(finished, tmp_path)
    res = cli("run", *FAST[:-4], "--epochs", "2", "--seeds", "0", "--output-dir", out)
    fails(res, "Settings that differ", "train.epochs: 1 -> 2", "Use a new --output-dir")


def test_truncated_config_json(cli, finished, tmp_path):
    out = _copy(finished, tmp_path)
    text = (out / "config.json").read_text()
    (out / "config.json").write_text(text[: len(text) // 2])
    fails(cli("run", *FAST, "--output-dir", out), "config.json is not a featref config.json")


def test_config_json_that_is_a_list(cli, finished, tmp_path):
    out = _copy(finished, tmp_path)
    (out / "config.json").write_text("[1, 2]")
    fails(cli("run", *FAST, "--output-dir", out), "config.json", "start over")


def test_damaged_unit_file_is_recomputed(cli, finished, tmp_path):
    # Accepted and handled: a damaged unit file is discarded and only that unit is recomputed;
    # the predictions are byte-identical to the intact run's.
    out = _copy(finished, tmp_path)
    unit = sorted((out / "units").rglob("*.json"))[0]
    unit.write_text(unit.read_text()[:50])
    res = cli("run", *FAST, "--output-dir", out, "--no-progress")
    assert res.rc == 0 and "1 of" in res.out
    assert (out / "predictions.csv").read_bytes() == (finished / "predictions.csv").read_bytes()


def test_report_of_damaged_metrics_json(cli, finished, tmp_path):
    out = _copy(finished, tmp_path)
    (out / "metrics.json").write_text("{")
    fails(cli("report", out), "metrics.json is not valid JSON", "rerun")


def test_report_of_truncated_predictions(cli, finished, tmp_path):
    out = _copy(finished, tmp_path)
    lines = (out / "predictions.csv").read_text().splitlines()
    (out / "predictions.csv").write_text("\n".join(lines[:-1] + [lines[-1][:20]]) + "\n")
    fails(cli("report", out), "predictions.csv", f"line {len(lines)}", "fields")


def test_report_of_missing_folder(cli, tmp_path):
    fails(cli("report", tmp_path / "nowhere"), "does not exist", "featref run")


def test_evaluate_a_run_folders_predictions(cli, finished):
    # Accepted: the run's own predictions.csv scores as the run reported.
    res = cli("evaluate", finished / "predictions.csv")
    metrics = json.loads((finished / "metrics.json").read_text())
    uf1 = metrics["summary"]["all"]["uf1"]["mean"]
    assert res.rc == 0 and f"{uf1:.4f}" in res.out


def test_compare_with_damaged_metrics_json(cli, finished, tmp_path):
    out = _copy(finished, tmp_path)
    (out / "metrics.json").write_text("[]")
    fails(cli("compare", out, finished), "metrics.json", "class_names", "rerun")
