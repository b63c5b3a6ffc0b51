"""Nested leave-one-subject-out: the outer test subject never influences the choice."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import featref.preprocess.sources as sources
from featref.cli import main
from featref.cli.options import parse_select
from featref.config import SelectConfig, load_config, resolved_config
from featref.datasets.flowset import FlowSet
from featref.errors import ConfigError
from featref.evaluation.nested import (
    apply_values,
    candidates,
    inner_groups,
    select_hyperparameters,
)
from featref.evaluation.protocols import LeaveOneSubjectOut
from featref.evaluation.run_folder import config_hash
from featref.evaluation.units import Unit, UnitJob, compute_unit
from featref.preprocess.synthetic_flow import make_synthetic_flows

SMALL_MODEL = {"branch_channels": 4, "branch_width": 8}


def _cfg(grid, inner_folds=2):
    return load_config(
        None,
        {
            "model": {"kwargs": SMALL_MODEL},
            "train": {"epochs": 1, "batch_size": 32, "seeds": (0,)},
            "select": {"grid": grid, "inner_folds": inner_folds},
        },
    )


def _tamper(flows: FlowSet, subject: str) -> FlowSet:
    """Replace one subject's inputs by noise and all its labels by class 0: another subject."""
    mask = np.array([s == subject for s in flows.subjects])
    x = flows.x.copy()
    x[mask] = np.random.default_rng(99).random(x[mask].shape, dtype=np.float32)
    labels = flows.labels.copy()
    labels[mask] = 0
    return FlowSet(
        flows.sample_ids,
        flows.datasets,
        flows.subjects,
        labels,
        x,
        flows.channels,
        flows.class_names,
    )


def test_outer_test_subject_never_influences_the_choice():
    flows = make_synthetic_flows(subjects=4, clips_per_class=2)
    cfg = _cfg({"epochs": [1, 2]})
    fold = next(LeaveOneSubjectOut().split(flows.sample_ids, flows.subjects))
    changed = _tamper(flows, fold.test_subject)
    digest = config_hash(cfg, flows)
    a = compute_unit(UnitJob(flows, cfg, digest), Unit(0, fold))
    b = compute_unit(UnitJob(changed, cfg, digest), Unit(0, fold))
    # same chosen values, same inner groups, and every candidate's inner score is identical
    assert a["selection"] == b["selection"]
    assert len(a["selection"]["candidates"]) == 2
    inner = [s for g in a["selection"]["inner_groups"] for s in g]
    assert fold.test_subject not in inner and sorted(inner) == sorted(
        set(flows.subjects) - {fold.test_subject}
    )
    # ...while the test subject did change (its labels and its predictions' inputs)
    assert [r["y_true"] for r in a["rows"]] != [r["y_true"] for r in b["rows"]]
    # the final model was trained with the chosen values
    assert len(a["epochs"]) == a["selection"]["chosen"]["epochs"]


def test_selection_depends_on_training_subjects():
    """Sanity check of the test above: the inner scores do react to the data they see."""
    flows = make_synthetic_flows(subjects=4, clips_per_class=2)
    cfg = _cfg({"lr": [1e-3, 3e-2]})
    train = flows.take(np.array([s != flows.subjects[0] for s in flows.subjects]))
    a = select_hyperparameters(train, cfg, seed=1)
    b = select_hyperparameters(_tamper(train, train.subjects[0]), cfg, seed=1)
    assert [c["score"] for c in a.scores] != [c["score"] for c in b.scores]
    assert flows.subjects[0] not in {s for g in a.groups for s in g}


def test_nested_run_cli_records_choices_per_outer_fold(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(
        sources, "_synthetic", lambda: make_synthetic_flows(subjects=3, clips_per_class=2)
    )
    out = tmp_path / "run"
    argv = ["run", "--data", "synthetic", "--seeds", "0", "--epochs", "1", "--batch-size", "32"]
    argv += ["--model-arg", "branch_channels=4", "--model-arg", "branch_width=8", "--workers", "1"]
    argv += ["--select", "epochs=1,2", "--inner-folds", "0", "--output-dir", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    conf = json.loads((out / "config.json").read_text())
    assert conf["select"] == {"grid": {"epochs": [1, 2]}, "inner_folds": 0, "metric": "uf1"}
    sel = json.loads((out / "selection.json").read_text())
    assert [f["test_subject"] for f in sel["folds"]] == sorted(
        set(make_synthetic_flows(subjects=3, clips_per_class=2).subjects)
    )
    for f in sel["folds"]:
        assert f["test_subject"] not in {s for g in f["inner_groups"] for s in g}
        assert len(f["inner_groups"]) == 2  # inner leave-one-subject-out on 2 training subjects
    assert sum(sel["times_chosen"]["epochs"].values()) == 3
    with (out / "selection.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3 and set(rows[0]) == {
        "seed",
        "fold",
        "test_subject",
        "epochs",
        "inner_uf1",
    }
    assert (out / "metrics.json").is_file()


def test_parse_candidates_and_groups():
    assert parse_select(["lr=1e-3, 3e-3", "model.attention=true,false", "lr=0.1"]) == {
        "lr": [0.1],
        "model.attention": [True, False],
    }
    with pytest.raises(ConfigError, match="KEY=V1,V2"):
        parse_select(["lr"])
    assert candidates({"a": [1, 2], "b": ["x", "y"]}) == [
        {"a": 1, "b": "x"},
        {"a": 1, "b": "y"},
        {"a": 2, "b": "x"},
        {"a": 2, "b": "y"},
    ]
    subs = [f"db/s{i}" for i in range(10)] * 2
    groups = inner_groups(subs, 4, seed=7)
    assert len(groups) == 4 and sorted(s for g in groups for s in g) == sorted(set(subs))
    assert sorted(len(g) for g in groups) == [2, 2, 3, 3]
    assert groups == inner_groups(list(reversed(subs)), 4, seed=7)  # order-independent
    assert inner_groups(subs[:3], 4, seed=0) == [["db/s0"], ["db/s1"], ["db/s2"]]
    with pytest.raises(ConfigError, match="at least two training subjects"):
        inner_groups(["a", "a"], 2, seed=0)


def test_select_config_from_toml_and_validation(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text(
        '[select]\ninner_folds = 3\nmetric = "uar"\n[select.grid]\nlr = [1e-3, 3e-3]\n'
        "proposal_weight = [0.5, 1.0]\nmodel.dropout = [0.0, 0.5]\n"
    )
    cfg = load_config(f, {"select": {"grid": {"epochs": [5]}}})
    assert cfg.select.grid == {
        "lr": (1e-3, 3e-3),
        "proposal_weight": (0.5, 1.0),
        "model.dropout": (0.0, 0.5),
        "epochs": (5,),
    }
    assert cfg.select.inner_folds == 3 and cfg.select.metric == "uar"
    chosen = apply_values(
        cfg, {"lr": 3e-3, "proposal_weight": 0.5, "model.dropout": 0.0, "epochs": 5}
    )
    assert (chosen.train.lr, chosen.train.epochs, chosen.train.proposal_weight) == (3e-3, 5, 0.5)
    assert chosen.model.kwargs["dropout"] == 0.0
    assert chosen.select.grid == {}
    # plain runs keep their config hash: no [select] in the resolved config without a grid
    assert "select" not in resolved_config(load_config(None))
    assert resolved_config(cfg)["select"]["grid"]["lr"] == [1e-3, 3e-3]
    with pytest.raises(ConfigError, match="Unknown key 'seeds' in \\[select.grid\\]"):
        SelectConfig(grid={"seeds": [0, 1]})
    with pytest.raises(ConfigError, match="non-empty list"):
        SelectConfig(grid={"lr": []})
    with pytest.raises(ConfigError, match="inner_folds"):
        SelectConfig(grid={"lr": [1.0]}, inner_folds=1)
    flows = make_synthetic_flows(subjects=3, clips_per_class=1)
    with pytest.raises(ConfigError, match="no keyword argument .no_such_arg."):
        select_hyperparameters(flows, _cfg({"model.no_such_arg": [1]}), seed=0)
