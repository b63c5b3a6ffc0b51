from __future__ import annotations

import warnings

import pytest
from tests.fakes import CASME2_ROWS, make_casme2

from featref.datasets import Casme2, get_dataset
from featref.errors import AnnotationError, ConfigError, DataQualityWarning, DatasetNotFoundError

# Expected info() of the default fake (TFDS-style declaration).
EXPECTED_SUBJECTS = {"sub01": 3, "sub02": 1, "sub04": 1, "sub05": 1, "sub11": 1}
EXPECTED_LABELS = {"disgust": 3, "happiness": 1, "others": 1, "repression": 1, "surprise": 1}


@pytest.mark.parametrize(
    ("layout", "folder", "name"),
    [("raw", "CASME2_RAW_selected", "img46.jpg"), ("cropped", "Cropped", "reg_img46.jpg")],
)
def test_info_frames_and_frame_path(tmp_path, layout, folder, name):
    make_casme2(tmp_path, layout=layout)
    ds = Casme2(tmp_path, layout=layout)
    with pytest.warns(DataQualityWarning):
        info = ds.info()
    assert info.num_samples == len(CASME2_ROWS) == 7
    assert info.per_subject == EXPECTED_SUBJECTS
    assert info.per_label == EXPECTED_LABELS
    s = next(s for s in ds.samples() if s.clip == "EP02_01f")
    assert s.sample_id == "casme2/sub01/EP02_01f"
    assert (s.onset, s.apex, s.offset, s.action_units) == (46, 49, 51, "12")
    assert s.frame_dir == tmp_path.resolve() / folder / "sub01" / "EP02_01f"
    frames = ds.frames(s)
    assert [p.name for p in frames][:3] == [name.replace("46", str(n)) for n in (45, 46, 47)]
    assert ds.frame_path(s, 46).name == name


def test_frames_sorted_naturally(tmp_path):
    make_casme2(tmp_path, [("01", "EP01_01", 8, 9, 11, 4, "surprise")])
    ds = Casme2(tmp_path)
    s = ds.samples()[0]
    assert [p.name for p in ds.frames(s)] == [f"img{n}.jpg" for n in range(7, 13)]


def test_missing_apex_and_apex_equal_onset_warn_with_sample_id(tmp_path):
    make_casme2(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        samples = {s.clip: s for s in Casme2(tmp_path).samples()}
    messages = [str(w.message) for w in caught if w.category is DataQualityWarning]
    assert samples["EP12_01f"].apex is None  # by the correction, not by a guess
    assert any(m.startswith("casme2/sub04/EP12_01f: no apex annotated") for m in messages)
    assert any(m.startswith("casme2/sub05/EP09_05f: apex equals onset") for m in messages)
    assert len(messages) == 2


def test_apex_outside_interval_and_frame_gap_warn(tmp_path):
    make_casme2(tmp_path, [("03", "EP01_2", 10, 30, 20, 1, "surprise")])
    ds = Casme2(tmp_path)
    with pytest.warns(DataQualityWarning, match=r"casme2/sub03/EP01_2: apex 30 is outside"):
        s = ds.samples()[0]
    ds.frame_path(s, 12).unlink()
    with pytest.warns(DataQualityWarning) as record:
        problems = ds.validate()
    text = "\n".join(problems)
    assert "apex frame 30 has no file" in text
    assert "1 gap(s) in frame numbers: missing 12-12" in text
    assert len(record) == len(problems) == 2


def test_frame_path_names_the_missing_frame(tmp_path):
    make_casme2(tmp_path, [("01", "EP01_01", 8, 9, 11, 4, "surprise")])
    ds = Casme2(tmp_path)
    s = ds.samples()[0]
    with pytest.raises(DatasetNotFoundError, match=r"Frame 99 of casme2/sub01/EP01_01.*img99\.jpg"):
        ds.frame_path(s, 99)


def test_2019_coding(tmp_path):
    make_casme2(tmp_path, [("24", "EP07_01", 24, 41, 66, 1, "surprise")], coding="2019")
    ds = get_dataset("casme2", tmp_path, coding="2019")
    assert ds.info().per_label == {"surprise": 1}
    with pytest.raises(DatasetNotFoundError, match="CASME2-coding-20140508.xlsx"):
        Casme2(tmp_path).samples()


def test_annotations_need_no_frames(tmp_path):
    make_casme2(tmp_path, frames=False)
    with pytest.warns(DataQualityWarning):
        assert len(Casme2(tmp_path).annotations()) == 7


def test_missing_clip_folders_listed_in_one_error(tmp_path):
    make_casme2(tmp_path)
    for clip in ("sub02/EP01_11f", "sub11/EP19_03f"):
        for f in (tmp_path / "CASME2_RAW_selected" / clip).iterdir():
            f.unlink()
        (tmp_path / "CASME2_RAW_selected" / clip).rmdir()
    with pytest.warns(DataQualityWarning), pytest.raises(DatasetNotFoundError) as exc:
        Casme2(tmp_path).samples()
    text = str(exc.value)
    assert "CASME2_RAW_selected/sub02/EP01_11f" in text
    assert "CASME2_RAW_selected/sub11/EP19_03f" in text
    assert "Re-check with: featref check-data casme2" in text


def test_unparseable_frame_number_is_an_annotation_error(tmp_path):
    make_casme2(tmp_path, [("01", "EP01_01", 8, "?", 11, 4, "surprise")])
    with pytest.raises(AnnotationError, match=r"apex of casme2/sub01/EP01_01 .* Got '\?'"):
        Casme2(tmp_path).samples()


def test_bad_options():
    with pytest.raises(ConfigError, match="coding"):
        Casme2("/nonexistent", coding="2020")
    with pytest.raises(ConfigError, match="layout"):
        Casme2("/nonexistent", layout="aligned")
