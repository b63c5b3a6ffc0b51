"""The whole preprocessing on a tiny fake clip set, end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from featref.datasets.flowset import FlowSet
from featref.errors import CacheError, ConfigError
from featref.labels import MEGC2019_CLASSES
from featref.preprocess import pipeline
from featref.preprocess.cache import load_prepared
from featref.preprocess.config import PreprocessConfig
from featref.preprocess.pipeline import prepare


def test_prepare_then_load_gives_a_flowset(fake_reader, tmp_path):
    result = prepare(fake_reader, PreprocessConfig(), tmp_path / "cache", progress=False)
    assert result.folder.parent == (tmp_path / "cache" / "fakedb").resolve()
    assert (result.computed, result.reused) == (3, 0)
    assert [(f.sample_id, f.stage) for f in result.failures] == [("fakedb/sub03/EP09", "face")]
    flows = load_prepared(result.folder)
    assert isinstance(flows, FlowSet)
    assert flows.x.shape == (3, 3, 28, 28) and flows.x.dtype == np.float32
    assert flows.channels == ("u", "v", "strain")
    assert flows.x.min() == 0.0 and flows.x.max() == 1.0
    assert flows.class_names == ("disgust", "happiness", "surprise")  # the database's own
    assert [flows.class_names[i] for i in flows.labels] == ["happiness", "disgust", "surprise"]
    assert flows.subjects == ("fakedb/sub01", "fakedb/sub01", "fakedb/sub02")
    manifest = json.loads((result.folder / "manifest.json").read_text())
    assert manifest["preprocess_version"] == pipeline.cache.PREPROCESS_VERSION
    assert {"numpy", "opencv"} <= set(manifest["library_versions"])
    apex = {r["sample_id"]: (r["apex_frame"], r["apex_source"]) for r in manifest["samples"]}
    assert apex["fakedb/sub01/EP01_01"] == (13, "annotated")
    assert apex["fakedb/sub02/EP03"] == (7, "middle")  # no annotated apex: middle of 5..10
    assert load_prepared(result.folder.parent, channels=("u", "v")).x.shape == (3, 2, 28, 28)


def test_rerun_reuses_everything_and_two_workers_give_identical_output(fake_reader, tmp_path):
    one = prepare(fake_reader, PreprocessConfig(), tmp_path / "a")
    again = prepare(fake_reader, PreprocessConfig(), tmp_path / "a")
    assert (again.computed, again.reused) == (0, 3)
    two = prepare(fake_reader, PreprocessConfig(), tmp_path / "b", workers=2)
    assert len(two.failures) == 1
    np.testing.assert_array_equal(load_prepared(one.folder).x, load_prepared(two.folder).x)


def test_interrupted_run_resumes(fake_reader, tmp_path, monkeypatch):
    real = pipeline._run_task
    calls = []

    def interrupt_second(task, cfg):
        calls.append(task.sample_id)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(task, cfg)

    monkeypatch.setattr(pipeline, "_run_task", interrupt_second)
    with pytest.raises(KeyboardInterrupt):
        prepare(fake_reader, PreprocessConfig(), tmp_path / "cache")
    monkeypatch.setattr(pipeline, "_run_task", real)
    folder = next((tmp_path / "cache" / "fakedb").iterdir())
    with pytest.raises(CacheError, match="unfinished"):
        load_prepared(folder)
    resumed = prepare(fake_reader, PreprocessConfig(), tmp_path / "cache")
    assert (resumed.computed, resumed.reused) == (2, 1)
    assert len(load_prepared(folder)) == 3


def test_spotted_apex_and_megc_labels(fake_reader, tmp_path):
    cfg = PreprocessConfig(apex="spotted", strain=False, normalisation="standardise")
    result = prepare(fake_reader.samples()[:3], cfg, tmp_path / "cache", label_scheme="megc2019")
    flows = load_prepared(result.folder)
    assert flows.channels == ("u", "v") and flows.class_names == MEGC2019_CLASSES
    assert [MEGC2019_CLASSES[i] for i in flows.labels] == ["positive", "negative", "surprise"]
    np.testing.assert_allclose(flows.x.mean(axis=(2, 3)), 0, atol=1e-5)
    manifest = json.loads((result.folder / "manifest.json").read_text())
    assert [r["apex_frame"] for r in manifest["samples"]] == [13, 23, 8]  # the true peaks


def test_samples_without_a_class_are_excluded(fake_reader, tmp_path):
    s = fake_reader.samples()[0]
    others = type(s)(s.dataset, "sub09", "EP00", "others", s.onset, s.apex, s.offset, s.frame_dir)
    result = prepare([others, s], PreprocessConfig(), tmp_path / "c", label_scheme="megc2019")
    assert result.excluded == ("fakedb/sub09/EP00",) and list(result.paths) == [s.sample_id]


def test_missing_frames_are_reported_and_the_run_continues(fake_reader, tmp_path):
    s = fake_reader.samples()[0]
    broken = type(s)(s.dataset, s.subject, "EP77", s.emotion, s.onset, 99, s.offset, s.frame_dir)
    result = prepare([broken, s], PreprocessConfig(), tmp_path / "c")
    assert [(f.sample_id, f.stage) for f in result.failures] == [("fakedb/sub01/EP77", "frames")]
    assert "apex frame 99" in result.failures[0].message
    assert list(result.paths) == [s.sample_id]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"crop_size": 0}, "crop_size"),
        ({"apex": "peak"}, "apex"),
        ({"face_backend": "retina"}, "face_backend"),
        ({"normalisation": "l2"}, "normalisation"),
    ],
)
def test_config_validation(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        PreprocessConfig(**kwargs)


def test_load_prepared_without_data_is_a_clear_error(tmp_path):
    with pytest.raises(CacheError, match="Run `featref prepare` first"):
        load_prepared(tmp_path)
