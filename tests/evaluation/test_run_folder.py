"""The run folder and the engine's modules: hash rule, validated unit files, kill -9 and resume."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap

import pytest

from featref.config import (
    HASH_OMIT_AT_DEFAULT,
    ExperimentConfig,
    ModelConfig,
    TrainConfig,
    hashed_config,
)
from featref.evaluation import run_folder
from featref.evaluation.executors import EXECUTORS
from featref.evaluation.runner import Job, execute_plan, plan_run
from featref.preprocess.synthetic_flow import make_synthetic_flows

CFG = ExperimentConfig(
    model=ModelConfig("featref", {"branch_width": 8, "branch_channels": 4}),
    train=TrainConfig(epochs=1, batch_size=16, seeds=(0, 1)),
)


@pytest.fixture(scope="module")
def flows():
    return make_synthetic_flows(subjects=3, clips_per_class=2)


def test_hash_omits_new_fields_at_their_default_only(flows):
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    changed_since = {"flip"}  # defaults changed after the field was added: hashed at the default
    for name, before in HASH_OMIT_AT_DEFAULT["train"].items():
        assert (defaults[name] == before) == (name not in changed_since), name
    flipped_off = dataclasses.replace(CFG, train=dataclasses.replace(CFG.train, flip=False))
    assert "flip" in hashed_config(CFG)["train"]  # the new default enters the hash
    assert "flip" not in hashed_config(flipped_off)["train"]  # the old behaviour keeps its hash
    base = run_folder.config_hash(CFG, flows)
    at_default = dataclasses.replace(CFG, train=dataclasses.replace(CFG.train, proposal_weight=1.0))
    other = dataclasses.replace(CFG, train=dataclasses.replace(CFG.train, proposal_weight=0.5))
    assert run_folder.config_hash(at_default, flows) == base
    assert run_folder.config_hash(other, flows) != base


def test_plan_is_computed_once_and_writes_nothing(flows, tmp_path):
    plan = plan_run([Job(flows, CFG, tmp_path / "run")])
    assert not (tmp_path / "run").exists()
    assert (plan.todo, plan.total) == (6, 6) and plan.describe() == "6 of 6 fold units to train"
    assert set(EXECUTORS) >= {"inprocess", "pool", "ray"}
    [result] = execute_plan(plan, executor="inprocess")
    conf = json.loads((result.out_dir / "config.json").read_text())
    assert conf["config_hash"] == plan.jobs[0].digest
    assert plan_run([Job(flows, CFG, tmp_path / "run")]).todo == 0


def test_incomplete_unit_file_is_recomputed(flows, tmp_path):
    execute_plan(plan_run([Job(flows, CFG, tmp_path)]), executor="inprocess")
    path = run_folder.unit_path(tmp_path, 0, 1)
    path.write_text(json.dumps({"config_hash": "x", "seed": 0}))  # valid JSON, not a record
    todo, done = run_folder.pending_units(flows, CFG, tmp_path)
    assert [(u.seed, u.fold.index) for u in todo] == [(0, 1)] and len(done) == 5


_KILLED = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path

    from featref.config import ExperimentConfig, ModelConfig, TrainConfig
    from featref.evaluation import executors
    from featref.evaluation.runner import run_loso
    from featref.preprocess.synthetic_flow import make_synthetic_flows

    real = executors.EXECUTORS["inprocess"]

    def killed_after_two(*args, **kwargs):  # SIGKILL once 2 units are yielded (and stored)
        for n, finished in enumerate(real(*args, **kwargs), 1):
            yield finished
            if n == 2:
                os.kill(os.getpid(), signal.SIGKILL)

    executors.EXECUTORS["inprocess"] = killed_after_two
    cfg = ExperimentConfig(
        model=ModelConfig("featref", {"branch_width": 8, "branch_channels": 4}),
        train=TrainConfig(epochs=1, batch_size=16, seeds=(0, 1)),
    )
    flows = make_synthetic_flows(subjects=3, clips_per_class=2)
    run_loso(flows, cfg, Path(sys.argv[1]), executor="inprocess")
    """
)


def test_kill_9_then_rerun_recomputes_only_missing_units_byte_identical(flows, tmp_path):
    out = tmp_path / "killed"
    proc = subprocess.run(
        [sys.executable, "-c", _KILLED, str(out)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == -9, proc.stderr[-2000:]
    stored = {p: p.read_bytes() for p in out.glob("units/*/*.json")}
    assert len(stored) == 2 and not (out / "predictions.csv").exists()
    plan = plan_run([Job(flows, CFG, out)])
    assert plan.todo == 4  # only the missing units
    computed = []
    execute_plan(plan, executor="inprocess", on_unit=lambda rec, _: computed.append(rec["fold"]))
    assert len(computed) == 4
    assert {p: p.read_bytes() for p in stored} == stored  # stored units untouched
    whole = tmp_path / "whole"
    execute_plan(plan_run([Job(flows, CFG, whole)]), executor="pool", workers=2)
    for name in ("predictions.csv", "features.npz", "megc2019_seed0.txt", "megc2019_seed1.txt"):
        assert (out / name).read_bytes() == (whole / name).read_bytes(), name


def test_a_rerun_that_only_tabulates_keeps_the_wall_time(flows, tmp_path):
    execute_plan(plan_run([Job(flows, CFG, tmp_path)]), executor="inprocess")
    first = json.loads((tmp_path / "metrics.json").read_text())["wall_time_s"]
    assert first > 0
    execute_plan(plan_run([Job(flows, CFG, tmp_path)]), executor="inprocess")  # nothing to train
    again = json.loads((tmp_path / "metrics.json").read_text())
    assert first <= again["wall_time_s"] < first + 1.0
    info = json.loads((tmp_path / "run_info.json").read_text())
    assert info["wall_time_s"] == again["wall_time_s"]
