"""``featref grid``: configs x seeds in one execute_plan call, resumable, tables, comparison."""

from __future__ import annotations

import csv
import json

import pytest

import featref.evaluation.runner as runner
import featref.evaluation.units as units
import featref.preprocess.sources as sources
from featref.cli import main
from featref.config import load_config
from featref.errors import CacheError, ConfigError
from featref.evaluation.grid import (
    GridSpec,
    config_changes,
    load_grid_file,
    resolve_grid,
    run_grid,
)
from featref.preprocess.synthetic_flow import make_synthetic_flows
from featref.reports.grid import write_grid_report

FAST = ["--data", "synthetic", "--epochs", "1", "--batch-size", "32", "--workers", "1"]
#: A small FR (fast to build and train); the presets themselves are tested in test_presets.py.
TINY = '[data]\nsource = "synthetic"\n{data}[model]\nname = "featref"\n[model.kwargs]\n'
TINY += "branch_channels = 4\nbranch_width = 8\n{kwargs}"


@pytest.fixture
def tiny(tmp_path):
    """Write a small FR config ``<name>.toml``; returns its path."""

    def write(name: str, data: str = "", kwargs: str = "") -> str:
        path = tmp_path / "configs" / f"{name}.toml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(TINY.format(data=data, kwargs=kwargs))
        return str(path)

    return write


@pytest.fixture
def small_data(monkeypatch):
    """The embedded synthetic source, shrunk to 3 subjects x 6 clips (3 folds, fast)."""
    flows = make_synthetic_flows(subjects=3, clips_per_class=2)
    loads = []

    def fake(*a, **k):
        loads.append(1)
        return flows

    monkeypatch.setattr(sources, "_synthetic", fake)
    return loads


def _read_csv(path):
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_grid_cli_runs_all_units_in_one_call_and_writes_the_tables(
    small_data, tiny, tmp_path, monkeypatch, capsys
):
    calls = []
    real_execute_plan = runner.execute_plan

    def spy(plan, **kw):
        calls.append([j.out_dir.name for j in plan.jobs])
        return real_execute_plan(plan, **kw)

    monkeypatch.setattr(runner, "execute_plan", spy)
    out = tmp_path / "grid"
    argv = ["grid", "--configs", tiny("fr"), tiny("fr_uv", 'channels = ["u", "v"]\n')]
    argv += ["--reference", "fr", "--seeds", "0,1"]
    argv += ["--output-dir", str(out), "--resamples", "200", *FAST]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "12 of 12 fold units" in printed and "Paired comparison" in printed
    # one execute_plan call for the configs; one data load shared by all of them
    assert calls == [["fr", "fr_uv"]]
    assert small_data == [1]
    for name in ("fr", "fr_uv"):
        assert (out / name / "predictions.csv").is_file()
        assert (out / name / "metrics.json").is_file()
    for f in ("results.csv", "results.md", "comparison.json", "comparison.png", "grid.json"):
        assert (out / f).is_file()
    rows = {r["config"]: r for r in _read_csv(out / "results.csv")}
    assert list(rows) == ["fr", "fr_uv"]
    assert rows["fr"]["changes"] == "(reference)"
    assert rows["fr_uv"]["changes"] == "channels=u,v"
    assert rows["fr_uv"]["channels"] == "u,v"
    # the table's means and the per-seed differences come from the run folders
    m_ref = json.loads((out / "fr" / "metrics.json").read_text())
    m_uv = json.loads((out / "fr_uv" / "metrics.json").read_text())
    assert float(rows["fr_uv"]["uf1_mean"]) == m_uv["summary"]["all"]["uf1"]["mean"]
    per_seed = [float(v) for v in rows["fr_uv"]["duf1_per_seed"].split(";")]
    expected = [
        m_uv["per_seed"][s]["all"]["uf1"] - m_ref["per_seed"][s]["all"]["uf1"] for s in ("0", "1")
    ]
    assert per_seed == pytest.approx(expected, abs=1e-4)
    comp = json.loads((out / "comparison.json").read_text())["comparisons"]["fr_uv"]
    boot = comp["uf1"]["bootstrap"]
    assert boot["n_subjects"] == 3 and boot["low"] <= boot["estimate"] <= boot["high"]
    assert comp["uf1"]["sign_test"]["wins"] + comp["uf1"]["sign_test"]["losses"] <= 2
    md = (out / "results.md").read_text()
    assert "| `fr_uv` | channels=u,v |" in md and "95% CI ΔUF1" in md
    grid = json.loads((out / "grid.json").read_text())
    assert grid["reference"] == "fr" and grid["seeds"] == [0, 1]


def test_grid_resumes_only_missing_units(small_data, tiny, tmp_path, monkeypatch):
    spec = GridSpec((tiny("fr"), tiny("fr_sum", kwargs='fusion = "sum"\n')))
    over = {"train": {"seeds": (0,), "epochs": 1, "batch_size": 32}}
    first = run_grid(spec, tmp_path, overrides=over, n_resamples=100)
    (tmp_path / "fr_sum" / "units" / "seed0" / "fold002.json").unlink()
    computed = []
    real_compute_unit = units.compute_unit

    def spy(job, unit):
        computed.append((job.cfg.model.kwargs.get("fusion", "concat"), unit.seed, unit.fold.index))
        return real_compute_unit(job, unit)

    monkeypatch.setattr(units, "compute_unit", spy)
    second = run_grid(spec, tmp_path, overrides=over, n_resamples=100)
    assert computed == [("sum", 0, 2)]  # only the missing unit
    assert second.rows == first.rows  # deterministic units: the same table
    # a new seed computes only the new seed's units
    computed.clear()
    run_grid(spec, tmp_path, overrides={"train": {"seeds": (0, 1), "epochs": 1, "batch_size": 32}})
    assert sorted(computed) == sorted((f, 1, i) for f in ("concat", "sum") for i in range(3))
    # other settings in the same folder are refused, not mixed
    with pytest.raises(CacheError, match="config hash"):
        run_grid(spec, tmp_path, overrides={"train": {"seeds": (0,), "epochs": 2}})


def test_grid_file_with_local_config_and_shared_overrides(small_data, tiny, tmp_path):
    tiny("fr")
    tiny("mine", kwargs='fusion = "attention_sum"\n')
    (tmp_path / "configs" / "g.toml").write_text(
        '[grid]\nconfigs = ["fr.toml", "mine.toml"]\nreference = "fr"\n'
        'seeds = [3]\n[data]\nsource = "synthetic"\n[train]\nepochs = 1\nbatch_size = 32\n'
    )
    spec = load_grid_file(tmp_path / "configs" / "g.toml")
    result = run_grid(spec, tmp_path / "out", n_resamples=50)
    assert result.names == ["fr", "mine"]
    assert [r["seeds"] for r in result.rows] == ["3", "3"]
    assert result.rows[1]["changes"] == "fusion=attention_sum"
    cfg = json.loads((tmp_path / "out" / "mine" / "config.json").read_text())
    assert cfg["train"]["epochs"] == 1 and cfg["data"]["source"] == "synthetic"
    # evaluation returns data; the tables and the figure are the reports' (the CLI writes them)
    assert not (tmp_path / "out" / "results.md").exists()
    paths = write_grid_report(result)
    assert [p.name for p in paths] == ["results.csv", "results.md", "comparison.png"]
    assert "| `mine` | fusion=attention_sum |" in (tmp_path / "out" / "results.md").read_text()


def test_grid_errors_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="not one of the grid's configurations"):
        resolve_grid(GridSpec(("megc2019_featref", "fr_uv"), "megc2019_ststnet"))
    with pytest.raises(ConfigError, match="appear twice"):
        resolve_grid(GridSpec(("megc2019_featref", "megc2019_featref")))
    (tmp_path / "copy.toml").write_text('[data]\nsource = "megc2019"\n[model]\nname = "featref"\n')
    with pytest.raises(ConfigError, match="resolve to the same settings"):
        resolve_grid(GridSpec(("megc2019_featref", str(tmp_path / "copy.toml"))))
    (tmp_path / "seeds.toml").write_text(
        '[data]\nsource = "megc2019"\n[train]\nseeds = [5]\nlr = 0.01\n'
    )
    with pytest.raises(ConfigError, match="different seeds"):
        resolve_grid(GridSpec(("megc2019_featref", str(tmp_path / "seeds.toml"))))
    named, _ = resolve_grid(
        GridSpec(("megc2019_featref", str(tmp_path / "seeds.toml"))), {"train": {"seeds": (0,)}}
    )
    assert [c.train.seeds for _, c in named] == [(0,), (0,)]
    (tmp_path / "bad.toml").write_text('[grid]\nconfigs = ["megc2019_featref"]\n[model]\nx = 1\n')
    with pytest.raises(ConfigError, match="Unknown section"):
        load_grid_file(tmp_path / "bad.toml")
    with pytest.raises(ConfigError, match="not a shipped grid"):
        load_grid_file(tmp_path / "missing.toml")


def test_grid_cli_needs_configs(capsys):
    assert main(["grid", "--output-dir", "x"]) == 1
    assert "needs --configs" in capsys.readouterr().err


def test_config_changes_reads_like_the_ablation():
    ref = load_config("megc2019_featref")
    assert config_changes(ref, ref) == ""
    assert config_changes(load_config("megc2019_ststnet"), ref) == "model=ststnet"
    assert config_changes(ref, load_config("megc2019_fr_fusion_sum")) == "fusion=(default)"
    lr = load_config("megc2019_featref", {"train": {"lr": 0.01}})
    assert config_changes(lr, ref) == "lr=0.01"
