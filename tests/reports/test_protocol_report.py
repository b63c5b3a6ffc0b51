"""featref protocol-report: single- and cross-database run folders placed in the UF1 matrix."""

from __future__ import annotations

import dataclasses
import json

import pytest

from featref.cli import main as cli_main
from featref.config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig
from featref.evaluation.runner import Job, execute_plan, plan_run
from featref.preprocess.synthetic_flow import make_synthetic_flows
from featref.reports.protocols import collect_protocol_results, write_protocol_report


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three tiny run folders: CASME II alone (LOSO), SAMM -> SMIC, and the whole composite."""
    flows = make_synthetic_flows(subjects=6, clips_per_class=1)
    subject_db = {
        s: ("casme2", "samm", "smic")[i % 3] for i, s in enumerate(sorted(set(flows.subjects)))
    }
    datasets = tuple(subject_db[s] for s in flows.subjects)
    flows = dataclasses.replace(
        flows,
        datasets=datasets,
        subjects=tuple(f"{d}/{s}" for d, s in zip(datasets, flows.subjects)),
        sample_ids=tuple(f"{d}/{i}" for d, i in zip(datasets, flows.sample_ids)),
    )
    root = tmp_path_factory.mktemp("protocols")
    train = TrainConfig(epochs=1, seeds=(0, 1), batch_size=16)
    model = ModelConfig("featref", {"branch_width": 8, "branch_channels": 4})
    cases = {
        "casme2_only": DataConfig(databases=("casme2",)),
        "samm_to_smic": DataConfig(protocol="cross:samm->smic"),
        "composite": DataConfig(),
    }
    jobs = []
    for name, data in cases.items():
        cfg = ExperimentConfig(data=data, model=model, train=train)
        keep = [not data.databases or d in data.databases for d in datasets]
        jobs.append(Job(flows.take(keep), cfg, root / name / "featref"))
    execute_plan(plan_run(jobs), executor="inprocess")
    return root


def test_cells_are_placed_by_protocol_and_scored_on_the_target(runs):
    results = collect_protocol_results(runs)
    cells = {(r.kind, r.train_on, r.target) for r in results}
    assert cells == {("within", "casme2", "casme2"), ("cross", "samm", "smic")}  # composite skipped
    folder = {"casme2": "casme2_only", "smic": "samm_to_smic"}
    for r in results:
        metrics = json.loads((runs / folder[r.target] / "featref" / "metrics.json").read_text())
        assert r.metrics == metrics["summary"]["per_database"][r.target]
        assert r.seeds == "0,1"


def test_cli_writes_table_csv_and_figure(runs, tmp_path, capsys):
    assert cli_main(["protocol-report", str(runs), "--output-dir", str(tmp_path)]) == 0
    md = (tmp_path / "protocols.md").read_text()
    assert "| `featref` | u,v,strain | samm | smic | cross-database |" in md
    assert "| `featref` | u,v,strain | casme2 | casme2 | LOSO within |" in md
    assert (tmp_path / "protocols.png").stat().st_size > 1000
    assert len((tmp_path / "protocols.csv").read_text().splitlines()) == 3


def test_empty_root_is_a_clear_error(tmp_path, capsys):
    assert cli_main(["protocol-report", str(tmp_path), "--output-dir", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "No finished run folder" in err and str(tmp_path) in err and "Traceback" not in err


def test_only_composite_runs_is_a_clear_error(runs, tmp_path):
    from featref.errors import CacheError

    with pytest.raises(CacheError, match="all composite runs"):
        write_protocol_report(runs / "composite", tmp_path)


def test_a_metrics_file_without_its_target_is_a_clear_error(runs, tmp_path):
    import shutil

    from featref.errors import CacheError

    copy = tmp_path / "r"
    shutil.copytree(runs / "samm_to_smic", copy / "samm_to_smic")
    path = copy / "samm_to_smic" / "featref" / "metrics.json"
    metrics = json.loads(path.read_text())
    metrics["summary"]["per_database"] = {"samm": metrics["summary"]["per_database"]["smic"]}
    path.write_text(json.dumps(metrics))
    with pytest.raises(CacheError, match="no scores for its target database 'smic'"):
        collect_protocol_results(copy)
