"""Cache entries: atomic writes, validation on read, stale manifests."""

from __future__ import annotations

import os

import numpy as np
import pytest

from featref import atomic
from featref.errors import CacheError
from featref.preprocess import cache
from featref.preprocess.config import PreprocessConfig
from featref.preprocess.pipeline import prepare


def _entry(tmp_path, **kw):
    path = tmp_path / "e.npz"
    flow = np.random.default_rng(0).random((3, 4, 4)).astype(np.float32)
    cache.write_entry(path, sample_id="db/s1/c1", flow=flow, key="k1", meta={"apex_frame": 3})
    return path, flow


def test_entry_round_trip_and_validation(tmp_path):
    path, flow = _entry(tmp_path)
    e = cache.read_entry(path, sample_id="db/s1/c1", key="k1", shape=(3, 4, 4))
    np.testing.assert_array_equal(e.flow, flow)
    assert e.meta == {"apex_frame": 3}
    assert cache.read_entry(path, sample_id="db/s1/c2") is None  # another sample's entry
    assert cache.read_entry(path, sample_id="db/s1/c1", key="k2") is None  # other inputs
    assert cache.read_entry(path, sample_id="db/s1/c1", shape=(2, 4, 4)) is None
    assert cache.read_entry(tmp_path / "none.npz", sample_id="db/s1/c1") is None


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_entry_is_rejected(tmp_path, damage):
    path, _ = _entry(tmp_path)
    data = path.read_bytes()
    path.write_bytes(
        {"truncate": data[: len(data) // 2], "garbage": b"x" * 100, "empty": b""}[damage]
    )
    assert cache.read_entry(path, sample_id="db/s1/c1", key="k1") is None


def test_atomic_write_leaves_old_entry_intact_on_failure(tmp_path, monkeypatch):
    path, flow = _entry(tmp_path)

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        cache.write_entry(path, sample_id="db/s1/c1", flow=flow * 0, key="k1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.npz"]  # no temporary file left
    np.testing.assert_array_equal(cache.read_entry(path, sample_id="db/s1/c1").flow, flow)


def test_entry_filename_is_flat_and_safe():
    assert cache.entry_filename("casme2/sub01/EP02_01f") == "casme2__sub01__EP02_01f.npz"
    assert cache.entry_filename("smic/s1/s1_ne 01?") == "smic__s1__s1_ne_01_.npz"


def test_config_hash_depends_on_every_setting():
    base = PreprocessConfig()
    assert base.config_hash() == PreprocessConfig().config_hash()
    assert base.config_hash() != PreprocessConfig(lam=0.2).config_hash()
    assert base.config_hash() != PreprocessConfig(margin=0.2).config_hash()


def test_corrupt_entry_is_recomputed_not_used(fake_reader, tmp_path):
    cfg = PreprocessConfig()
    first = prepare(fake_reader, cfg, tmp_path / "cache")
    sid = "fakedb/sub01/EP01_01"
    good = first.paths[sid].read_bytes()
    first.paths[sid].write_bytes(good[:200])  # truncated, as by a crash of another tool
    again = prepare(fake_reader, cfg, tmp_path / "cache")
    assert (again.computed, again.reused) == (1, 2)
    assert cache.read_entry(again.paths[sid], sample_id=sid) is not None


def test_changed_input_frame_is_recomputed(fake_reader, tmp_path):
    cfg = PreprocessConfig()
    prepare(fake_reader, cfg, tmp_path / "cache")
    sample = fake_reader.samples()[0]
    apex = fake_reader.frame_path(sample, sample.apex)
    st = apex.stat()
    os.utime(apex, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    again = prepare(fake_reader, cfg, tmp_path / "cache")
    assert (again.computed, again.reused) == (1, 2)


def test_stale_manifest_is_an_error_with_both_hashes(fake_reader, tmp_path):
    cfg = PreprocessConfig()
    result = prepare(fake_reader.samples()[:1], cfg, tmp_path / "cache")
    manifest = cache.read_manifest(result.folder)
    cache.write_manifest(result.folder, {**manifest, "config_hash": "0123456789abcdef"})
    with pytest.raises(CacheError, match=f"0123456789abcdef.*{cfg.config_hash()}"):
        prepare(fake_reader.samples()[:1], cfg, tmp_path / "cache")
    cache.write_manifest(
        result.folder,
        {**manifest, "library_versions": {**manifest["library_versions"], "opencv": "3.0"}},
    )
    with pytest.raises(CacheError, match="opencv 3.0 ->"):
        prepare(fake_reader.samples()[:1], cfg, tmp_path / "cache")
