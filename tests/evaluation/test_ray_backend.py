"""The Ray backend: the local backend's predictions, and killed workers or drivers lose nothing.

One local Ray instance (2 CPUs) is shared by the tests of this module; Ray's start-up and its
workers' first torch import take most of the time. Tests that need Ray skip when it is not
installed; the missing-install message is checked without it.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from featref.cli import main
from featref.config import load_config
from featref.evaluation import executors
from featref.evaluation.runner import Job, run_jobs
from featref.preprocess.synthetic_flow import make_synthetic_flows

RAY_MISSING = 'Ray is not installed (pip install "featref[ray]"); the Ray backend is untested'


@pytest.fixture(scope="module")
def ray_address():
    """A local Ray cluster with 2 CPUs for this module; yields its address."""
    ray = pytest.importorskip("ray", reason=RAY_MISSING)
    if ray.is_initialized():
        ray.shutdown()
    ctx = ray.init(
        address="local", num_cpus=2, include_dashboard=False, logging_level=logging.WARNING
    )
    yield ctx.address_info["address"]
    ray.shutdown()


def _grid(root: Path) -> list[Job]:
    """2 configs x 2 seeds x 4 folds of the small synthetic set, 1 epoch."""
    flows = make_synthetic_flows(subjects=4, clips_per_class=2)
    jobs = []
    for model in ("featref", "ststnet"):
        cfg = load_config(None, {"model": {"name": model}, "train": {"epochs": 1, "seeds": (0, 1)}})
        jobs.append(Job(flows, cfg, root / model))
    return jobs


def _untimed(record: dict) -> dict:
    return {k: v for k, v in record.items() if not k.endswith("time_s")}


def _metrics(out: Path) -> dict:
    return _untimed(json.loads((out / "metrics.json").read_text()))


def _busy_ray_worker(timeout: float = 5.0) -> int:
    """The pid of a Ray worker process running a unit (Ray names it ``ray::_compute_unit``)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and (proc / "cmdline").read_bytes().startswith(
                    b"ray::_compute_unit"
                ):
                    return int(proc.name)
            except OSError:  # the process ended meanwhile
                continue
        time.sleep(0.01)
    raise AssertionError("no Ray worker was running a unit")


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds Ray's workers through /proc")
def test_ray_grid_gives_the_local_backends_predictions_despite_a_killed_worker(
    ray_address, tmp_path
):
    local = run_jobs(_grid(tmp_path / "local"), workers=1)
    seen, killed = [], []

    def on_unit(rec: dict, _) -> None:
        seen.append(rec)
        if len(seen) == 2:  # SIGKILL a worker in the middle of a unit: Ray retries that unit
            killed.append(_busy_ray_worker())
            os.kill(killed[0], signal.SIGKILL)

    remote = run_jobs(_grid(tmp_path / "ray"), workers=2, backend="ray", on_unit=on_unit)
    assert killed
    assert len(seen) == 2 * 2 * 4  # every (config, seed, fold) unit, each once
    assert len({(r["job"], r["seed"], r["fold"]) for r in seen}) == len(seen)
    for a, b in zip(local, remote):
        text = (a.out_dir / "predictions.csv").read_text()
        assert len(text.splitlines()) == 1 + 2 * 24
        assert (b.out_dir / "predictions.csv").read_text() == text  # identical, probabilities too
        assert _metrics(b.out_dir) == _metrics(a.out_dir)
        units = sorted(p.relative_to(a.out_dir) for p in a.out_dir.glob("units/*/*.json"))
        assert units == sorted(p.relative_to(b.out_dir) for p in b.out_dir.glob("units/*/*.json"))
        for unit in units:  # the driver stored each unit exactly as a local worker does
            ra, rb = (json.loads((d / unit).read_text()) for d in (a.out_dir, b.out_dir))
            assert ra["rows"] == rb["rows"]
            assert [_untimed(e) for e in ra["epochs"]] == [_untimed(e) for e in rb["epochs"]]


_KILLED_DRIVER = textwrap.dedent(
    """
    import os, signal, sys

    from featref.cli import main
    from featref.evaluation import executors

    real = executors.EXECUTORS["ray"]

    def iterate(*args, **kwargs):  # SIGKILL this driver once 3 units are yielded (and stored)
        for n, finished in enumerate(real(*args, **kwargs), 1):
            yield finished
            if n == 3:
                os.kill(os.getpid(), signal.SIGKILL)

    executors.EXECUTORS["ray"] = iterate
    sys.exit(main(sys.argv[1:]))
    """
)


@pytest.mark.slow  # a second driver process: its own Ray workers start and import torch
def test_killed_driver_loses_only_units_in_flight(ray_address, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    argv = ["run", "--model", "ststnet", "--epochs", "1", "--seeds", "0,1", "--no-progress"]
    argv += ["--output-dir", str(out)]
    ray_args = ["--backend", "ray", "--ray-address", ray_address]
    # A driver process joins the cluster and is killed (SIGKILL) with units still in flight.
    proc = subprocess.run(
        [sys.executable, "-c", _KILLED_DRIVER, *argv, *ray_args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -9, proc.stderr[-2000:]
    stored = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob("units/*/*.json")}
    assert len(stored) == 3 and not (out / "predictions.csv").exists()

    # The rerun computes only the rest, leaves the stored units untouched, and finishes.
    computed = []
    real = executors.EXECUTORS["ray"]

    def counting(*args, **kwargs):
        for finished in real(*args, **kwargs):
            computed.append((finished.record["seed"], finished.record["fold"]))
            yield finished

    monkeypatch.setitem(executors.EXECUTORS, "ray", counting)
    assert main([*argv, *ray_args]) == 0
    total = 2 * 12  # 2 seeds x 12 subjects of the default synthetic set
    assert "21 of 24 fold units to train" in capsys.readouterr().out
    assert len(computed) == len(set(computed)) == total - 3
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in stored} == stored
    assert len(list(out.glob("units/*/*.json"))) == total

    # Nothing lost: the same predictions as one uninterrupted local run.
    assert main([*argv[:-1], str(tmp_path / "local")]) == 0
    expected = (tmp_path / "local" / "predictions.csv").read_text()
    assert (out / "predictions.csv").read_text() == expected


def test_missing_ray_is_one_clear_error(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    assert main(["run", "--backend", "ray", "--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert 'pip install "featref[ray]"' in err and "Traceback" not in err


def test_ray_address_needs_the_ray_backend(capsys):
    assert main(["run", "--ray-address", "auto"]) == 1
    assert "--ray-address only applies with --backend ray" in capsys.readouterr().err


def test_a_featref_error_on_a_worker_reaches_the_driver_as_itself(ray_address):
    from featref import _ray
    from featref.config import load_config
    from featref.errors import ConfigError

    with pytest.raises(ConfigError, match="does not exist") as info:
        list(_ray.imap_unordered(load_config, [("/nonexistent/grid.toml",)]))
    assert type(info.value) is ConfigError  # not Ray's wrapper: the CLI prints its message
