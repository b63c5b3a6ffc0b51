"""Cross-database protocol and :func:`protocol_folds`, the one dispatcher the run folder and the
executors use."""

from __future__ import annotations

import dataclasses

import pytest

from featref.config import DataConfig, ExperimentConfig, hashed_config, parse_protocol
from featref.errors import ConfigError
from featref.evaluation.protocols import CrossDatabase, LeaveOneSubjectOut, protocol_folds
from featref.preprocess.synthetic_flow import make_synthetic_flows


@pytest.fixture(scope="module")
def composite():
    """Synthetic flows relabelled as three databases of four subjects each."""
    flows = make_synthetic_flows(subjects=12, clips_per_class=1)
    subject_db = {
        s: ("casme2", "samm", "smic")[i % 3] for i, s in enumerate(sorted(set(flows.subjects)))
    }
    datasets = tuple(subject_db[s] for s in flows.subjects)
    return dataclasses.replace(
        flows,
        datasets=datasets,
        subjects=tuple(f"{d}/{s}" for d, s in zip(datasets, flows.subjects)),
        sample_ids=tuple(f"{d}/{i}" for d, i in zip(datasets, flows.sample_ids)),
    )


def _cfg(protocol):
    return ExperimentConfig(data=DataConfig(protocol=protocol))


def test_loso_is_the_default_and_unchanged(composite):
    folds = protocol_folds(_cfg("loso"), composite)
    assert folds == list(LeaveOneSubjectOut().split(composite.sample_ids, composite.subjects))
    assert "protocol" not in hashed_config(ExperimentConfig())["data"]
    assert hashed_config(_cfg("cross:samm->smic"))["data"]["protocol"] == "cross:samm->smic"


@pytest.mark.parametrize(
    ("protocol", "sources", "target"),
    [
        ("cross:casme2+samm->smic", ("casme2", "samm"), "smic"),
        ("cross:smic->casme2", ("smic",), "casme2"),
    ],
)
def test_cross_fold_never_trains_on_the_target(composite, protocol, sources, target):
    (fold,) = protocol_folds(_cfg(protocol), composite)
    db = dict(zip(composite.sample_ids, composite.datasets))
    assert fold.index == 0 and fold.test_subject == target
    assert {db[s] for s in fold.train_ids} == set(sources)
    assert {db[s] for s in fold.test_ids} == {target}
    assert not set(fold.train_ids) & set(fold.test_ids)
    assert set(fold.test_ids) == {s for s, d in db.items() if d == target}
    assert set(fold.train_ids) == {s for s, d in db.items() if d in sources}


@pytest.mark.parametrize(
    ("protocol", "match"),
    [
        ("cross:samm->samm", "must not be one of them"),
        ("cross:samm+samm->smic", "distinct"),
        ("cross:casme2->mmew", "unknown database"),
        ("leave-one-database-out", "must be 'loso' or 'cross"),
        ("cross:casme2", "must be 'loso' or 'cross"),
    ],
)
def test_bad_protocols_are_config_errors(protocol, match):
    with pytest.raises(ConfigError, match=match):
        DataConfig(protocol=protocol)


def test_cross_needs_both_sides_in_the_data(composite):
    only = composite.select_databases(("casme2", "samm"))
    with pytest.raises(ConfigError, match=r"no sample of \['smic'\]"):
        protocol_folds(_cfg("cross:casme2+samm->smic"), only)
    with pytest.raises(ConfigError, match="differ in length"):
        list(CrossDatabase(("a",), "b").split(["x"], ["a", "b"]))


def test_parse_protocol():
    assert parse_protocol("loso") is None
    assert parse_protocol("cross:casme2+samm->smic") == (("casme2", "samm"), "smic")


@pytest.mark.parametrize("executor", ["inprocess", "batched"])
def test_cross_run_end_to_end_scores_only_the_target(composite, tmp_path, executor):
    """A run folder of a cross-database protocol: one fold per seed, predictions and per-database
    metrics of the target only (both executors that share :func:`protocol_folds`)."""
    import csv
    import json

    from featref.config import TrainConfig
    from featref.evaluation.runner import Job, execute_plan, plan_run

    cfg = ExperimentConfig(
        data=DataConfig(protocol="cross:casme2+samm->smic"),
        train=TrainConfig(epochs=1, seeds=(0, 1), batch_size=16),
    )
    plan = plan_run([Job(composite, cfg, tmp_path / "run")])
    assert plan.jobs[0].total == 2  # one fold x two seeds
    execute_plan(plan, executor=executor)
    with (tmp_path / "run" / "predictions.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {r["dataset"] for r in rows} == {"smic"}
    assert len(rows) == 2 * composite.datasets.count("smic")
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert set(metrics["summary"]["per_database"]) == {"smic"}
