"""Leave-one-subject-out runs: outputs, resume, determinism and honesty."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from featref.config import ExperimentConfig, ModelConfig, TrainConfig
from featref.errors import CacheError, ConfigError
from featref.evaluation.predictions import read_megc_log, read_predictions
from featref.evaluation.runner import run_loso
from featref.preprocess.synthetic_flow import make_synthetic_flows

CFG = ExperimentConfig(
    model=ModelConfig("featref", {"branch_width": 16}),
    train=TrainConfig(epochs=2, batch_size=8, seeds=(0, 1)),
)


@pytest.fixture(scope="module")
def flows():
    return make_synthetic_flows(subjects=3, clips_per_class=2)


@pytest.fixture(scope="module")
def finished(flows, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    return run_loso(flows, CFG, out)


def test_outputs(finished, flows):
    out = finished.out_dir
    for name in (
        "predictions.csv",
        "metrics.json",
        "log.jsonl",
        "config.json",
        "run_info.json",
        "features.npz",
        "megc2019_seed0.txt",
        "megc2019_seed1.txt",
    ):
        assert (out / name).is_file(), name
    rows = read_predictions(out / "predictions.csv")
    assert len(rows) == 2 * len(flows)  # one row per sample and seed
    assert {r.sample_id for r in rows} == set(flows.sample_ids)
    m = json.loads((out / "metrics.json").read_text())
    assert set(m["per_seed"]) == {"0", "1"}
    assert 0 <= m["summary"]["all"]["uf1"]["mean"] <= 1
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert len(log) == 2 * 3 * CFG.train.epochs  # seeds x folds x epochs
    assert len(read_megc_log(out / "megc2019_seed0.txt")) == len(flows)
    info = json.loads((out / "run_info.json").read_text())
    assert {"featref", "torch", "numpy", "git_sha", "command"} <= set(info)
    conf = json.loads((out / "config.json").read_text())
    assert conf["model"]["kwargs"] == {"branch_width": 16}


def test_resume_recomputes_only_missing_units(finished, flows, tmp_path):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(finished.out_dir, out)
    kept = out / "units" / "seed0" / "fold000.json"
    mtime = kept.stat().st_mtime_ns
    (out / "units" / "seed1" / "fold002.json").unlink()
    (out / "units" / "seed1" / "fold001.json").write_text("{truncated")  # corrupt: recomputed
    seen = []
    result = run_loso(flows, CFG, out, on_unit=lambda rec, uf1: seen.append(rec["fold"]))
    assert sorted(seen) == [1, 2]
    assert kept.stat().st_mtime_ns == mtime
    # units are deterministic: the resumed run equals the uninterrupted one
    assert result.metrics["per_seed"] == finished.metrics["per_seed"]
    # provenance: both commands that computed units are kept, with what each computed
    info = json.loads((out / "run_info.json").read_text())
    assert [e["units_to_compute"] for e in info["invocations"]] == [6, 2]
    assert all({"started", "command", "device", "torch"} <= set(e) for e in info["invocations"])


def test_workers_do_not_change_results(finished, flows, tmp_path):
    run_loso(flows, CFG, tmp_path / "two", workers=2)
    a = read_predictions(finished.out_dir / "predictions.csv")
    b = read_predictions(tmp_path / "two" / "predictions.csv")
    assert a == b


def test_other_config_in_same_folder_is_an_error(finished, flows):
    other = dataclasses.replace(CFG, train=dataclasses.replace(CFG.train, lr=0.5))
    with pytest.raises(CacheError, match="config hash"):
        run_loso(flows, other, finished.out_dir)


def test_run_survives_moved_data_but_not_changed_data(finished, flows):
    # the data enter the hash by content: another folder (machine, mount point) resumes the run
    moved = dataclasses.replace(CFG, data=dataclasses.replace(CFG.data, data_dir="/elsewhere"))
    seen = []
    run_loso(flows, moved, finished.out_dir, on_unit=lambda rec, uf1: seen.append(rec))
    assert seen == []  # nothing recomputed
    changed = dataclasses.replace(flows, x=flows.x + 1e-3)
    with pytest.raises(CacheError, match="config hash"):
        run_loso(changed, CFG, finished.out_dir)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_cuda_without_gpu_fails_before_work(flows, tmp_path):
    cuda = dataclasses.replace(CFG, train=dataclasses.replace(CFG.train, device="cuda"))
    with pytest.raises(ConfigError, match="no CUDA device"):
        run_loso(flows, cuda, tmp_path / "cuda")
    assert not (tmp_path / "cuda" / "units").exists()
    assert not (tmp_path / "cuda" / "invocations.jsonl").exists()  # nothing was computed


def test_test_subject_never_influences_its_own_fold(flows, tmp_path):
    # Change the labels of one subject: every other fold changes (it trains on that subject), but
    # that subject's own fold trains on identical data, so its predictions are bit-identical.
    cfg = dataclasses.replace(CFG, train=dataclasses.replace(CFG.train, seeds=(0,)))
    run_loso(flows, cfg, tmp_path / "a")
    victim = "synthetic/s02"
    mask = np.array([s == victim for s in flows.subjects])
    labels = flows.labels.copy()
    labels[mask] = (labels[mask] + 1) % 3
    run_loso(dataclasses.replace(flows, labels=labels), cfg, tmp_path / "b")
    rows_a = read_predictions(tmp_path / "a" / "predictions.csv")
    rows_b = read_predictions(tmp_path / "b" / "predictions.csv")
    own_a = [r.probs for r in rows_a if r.subject == victim]
    own_b = [r.probs for r in rows_b if r.subject == victim]
    assert own_a and own_a == own_b
    others_a = [r.probs for r in rows_a if r.subject != victim]
    others_b = [r.probs for r in rows_b if r.subject != victim]
    assert others_a != others_b  # the other folds did train on the changed labels
