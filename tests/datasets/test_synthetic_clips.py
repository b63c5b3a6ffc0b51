"""The synthetic clip generator: faces, determinism, the CASME II layout it writes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from featref.datasets import Casme2
from featref.datasets.synthetic import (
    BASE_FACES,
    MARKER,
    SyntheticConfig,
    base_image,
    clip_specs,
    make_subject,
    render_clip,
    write_casme2,
)
from featref.errors import ConfigError, DataQualityWarning
from featref.labels import megc2019_class

#: A small database: 4 subjects (both base faces, mirrored or not), one clip per class, at
#: 50 fps so clips have about 15 frames (same rendering, shorter clips).
SMALL = SyntheticConfig(subjects=4, clips_per_class=1, seed=3, fps=50)


@pytest.fixture(scope="module")
def small_db(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic") / "casme2"
    assert write_casme2(root, SMALL) is True
    return root


def test_database_reads_back_through_the_casme2_reader(small_db):
    reader = Casme2(small_db)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataQualityWarning)
        info = reader.info()
        assert reader.validate() == []  # every onset/apex/offset file exists, no frame gap
    assert info.num_samples == 12
    assert info.per_subject == {"sub01": 3, "sub02": 3, "sub03": 3, "sub04": 3}
    assert info.per_label == {"disgust": 4, "happiness": 4, "surprise": 4}
    specs = {f"sub{s.subject:02d}/{s.clip}": s for s in clip_specs(SMALL)}
    for sample in reader.samples():
        spec = specs[f"{sample.subject}/{sample.clip}"]
        assert (sample.onset, sample.apex, sample.offset) == (spec.onset, spec.apex, spec.offset)
        assert sample.onset < sample.apex < sample.offset
        assert sample.action_units == spec.action_units
        assert megc2019_class("casme2", sample.emotion) == spec.megc_class
        frames = reader.frames(sample)
        assert len(frames) == spec.num_frames
        assert frames[0].name == f"img{spec.onset}.jpg"


def test_negative_clips_cycle_through_disgust_and_repression():
    specs = clip_specs(SyntheticConfig(subjects=2, clips_per_class=2))
    negative = sorted((s.emotion, s.action_units) for s in specs if s.megc_class == "negative")
    assert negative == [("disgust", "4")] * 2 + [("repression", "4+24")] * 2
    # micro-expression timing at 200 fps: apex 70-130 ms after the onset, offset 100-200 ms later
    for s in specs:
        assert 14 <= s.apex - s.onset <= 26 and 20 <= s.offset - s.apex <= 40


def test_face_backend_finds_a_face_in_every_frame(small_db):
    import cv2

    from featref.preprocess.faces import HaarDetector

    detector = HaarDetector()
    reader = Casme2(small_db)
    missed, total = [], 0
    for sample in reader.samples():
        for path in reader.frames(sample):
            total += 1
            if detector.detect(cv2.imread(str(path))) is None:
                missed.append(f"{sample.sample_id}/{path.name}")
    assert total > 100
    assert missed == []


def test_generator_is_deterministic_for_a_seed(tmp_path):
    cfg = SyntheticConfig(subjects=1, clips_per_class=1, seed=7, fps=50)
    a, b = tmp_path / "a", tmp_path / "b"
    write_casme2(a, cfg)
    write_casme2(b, cfg)
    frames_a = sorted(p.relative_to(a) for p in a.rglob("*.jpg"))
    assert frames_a == sorted(p.relative_to(b) for p in b.rglob("*.jpg"))
    assert all((a / p).read_bytes() == (b / p).read_bytes() for p in frames_a)
    assert [s.sample_id for s in Casme2(a).samples()] == [s.sample_id for s in Casme2(b).samples()]
    # another seed: other identities and clips
    other = SyntheticConfig(subjects=1, clips_per_class=1, seed=8, fps=50)
    first = next(render_clip(make_subject(1, other), clip_specs(other)[0], other))
    mine = next(render_clip(make_subject(1, cfg), clip_specs(cfg)[0], cfg))
    assert first.shape == mine.shape == (192, 192, 3)
    assert not np.array_equal(first, mine)


def test_motion_is_a_few_pixels_and_peaks_at_the_apex():
    """Frame-to-onset change grows to the apex and falls back (a micro-expression profile)."""
    cfg = SyntheticConfig(subjects=1, clips_per_class=1, seed=1)
    subject = make_subject(1, cfg)
    spec = next(s for s in clip_specs(cfg) if s.megc_class == "surprise")
    frames = [f.astype(np.float32) for f in render_clip(subject, spec, cfg)]
    still = SyntheticConfig(subjects=1, clips_per_class=1, seed=1, au_scale=0.0)
    frames0 = [f.astype(np.float32) for f in render_clip(subject, spec, still)]
    # the expression alone: the same clip with and without the action units
    change = [np.abs(f - g).mean() for f, g in zip(frames, frames0)]
    apex = spec.apex - spec.onset
    assert change[0] == pytest.approx(0.0, abs=1e-6)
    assert change[-1] == pytest.approx(0.0, abs=1e-6)
    assert int(np.argmax(change)) in range(apex - 2, apex + 3)


def test_base_landmarks_agree_with_haar():
    from featref.preprocess.faces import HaarDetector

    detector = HaarDetector()
    for name, face in BASE_FACES.items():
        found = detector.detect(base_image(name))
        assert found is not None
        assert found.box[2] == pytest.approx(face.face_width, rel=0.05)
        if not found.eyes_estimated:  # the astronaut: the eye cascade finds both eyes
            assert np.allclose(found.left_eye, face.eye_l, atol=3)
            assert np.allclose(found.right_eye, face.eye_r, atol=3)


def test_subjects_vary_in_identity():
    cfg = SyntheticConfig(subjects=4)
    subjects = [make_subject(i, cfg) for i in range(1, 5)]
    distances = [s.eye_distance for s in subjects]
    assert max(distances) - min(distances) > 2
    assert all(35 < d < 65 for d in distances)
    assert len({round(float(s.image.mean()), 3) for s in subjects}) == 4


def test_existing_database_is_reused_and_never_overwritten(small_db, tmp_path):
    assert write_casme2(small_db, SMALL) is False  # complete and same settings: reused
    with pytest.raises(ConfigError, match="another configuration|made with"):
        write_casme2(small_db, SyntheticConfig(subjects=5, clips_per_class=1, seed=3, fps=50))
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("not a database")
    with pytest.raises(ConfigError, match=f"no {MARKER}"):
        write_casme2(foreign, SMALL)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"subjects": 0}, "subjects"),
        ({"clips_per_class": 0}, "clips_per_class"),
        ({"fps": 5}, "fps"),
    ],
)
def test_config_validation(kwargs, field):
    with pytest.raises(ConfigError, match=f"`{field}`"):
        SyntheticConfig(**kwargs)
