"""``featref prepare --backend ray``: one Ray task per sample, the same cache entries as local."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from featref.cli import main
from featref.preprocess.cache import load_prepared

from .test_cli_prepare import fake_db  # noqa: F401  (fixture: the fake database, registered)

RAY_MISSING = 'Ray is not installed (pip install "featref[ray]"); the Ray backend is untested'


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray cluster with 2 CPUs for this module."""
    ray = pytest.importorskip("ray", reason=RAY_MISSING)
    if ray.is_initialized():
        ray.shutdown()
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    yield
    ray.shutdown()


def _prepare(root: Path, cache: Path, capsys, *extra: str) -> tuple[Path, str]:
    argv = ["prepare", "fakedb", "--data-dir", str(root), "--cache-dir", str(cache)]
    assert main([*argv, "--no-progress", *extra]) == 0
    out = capsys.readouterr().out
    return Path(out.split("output: ")[1].splitlines()[0]), out


def test_ray_prepare_writes_the_local_backends_entries(ray_cluster, fake_db, tmp_path, capsys):  # noqa: F811
    local, _ = _prepare(fake_db, tmp_path / "local", capsys)
    remote, out = _prepare(fake_db, tmp_path / "ray", capsys, "--backend", "ray", "--workers", "2")
    assert "prepared 3 of 4 samples (3 computed, 0 reused" in out
    assert "fakedb/sub03/EP09: face: no face found" in out  # a per-sample failure, not a crash
    a, b = load_prepared(local), load_prepared(remote)
    assert a.sample_ids == b.sample_ids and a.x.shape == (3, 3, 28, 28)
    np.testing.assert_array_equal(a.x, b.x)  # bit for bit
    manifests = [json.loads((f / "manifest.json").read_text()) for f in (local, remote)]
    for key in ("samples", "failures", "config_hash", "class_names", "complete"):
        assert manifests[0][key] == manifests[1][key]
    # The entries the Ray workers wrote are valid cache entries for the local backend.
    _, again = _prepare(fake_db, tmp_path / "ray", capsys)
    assert "(0 computed, 3 reused" in again
