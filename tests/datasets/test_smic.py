from __future__ import annotations

import pytest
from tests.fakes import make_smic

from featref.datasets import SmicHS
from featref.datasets.smic import smic_name

EXPECTED_SUBJECTS = {"s01": 2, "s02": 1, "s11": 1}
EXPECTED_LABELS = {"negative": 2, "positive": 1, "surprise": 1}


def test_info_from_folder_tree(tmp_path):
    make_smic(tmp_path)
    ds = SmicHS(tmp_path)
    info = ds.info()
    assert info.num_samples == 4  # the non_micro folder is not read
    assert info.per_subject == EXPECTED_SUBJECTS
    assert info.per_label == EXPECTED_LABELS
    ids = sorted(s.sample_id for s in ds.samples())
    assert ids == ["smic/s01/s01_ne_01", "smic/s01/s01_po_01", "smic/s02/s02_sur_01",
                   "smic/s11/s11_ne_02"]  # fmt: skip


def test_no_apex_onset_offset_from_frames(tmp_path):
    make_smic(tmp_path)
    ds = SmicHS(tmp_path)
    s = next(s for s in ds.samples() if s.clip == "s01_ne_01")
    assert s.apex is None
    assert (s.onset, s.offset) == (22587, 22591)
    assert s.frame_dir == tmp_path.resolve() / "HS/s1/micro/negative/s1_ne_01"
    frames = ds.frames(s)
    assert [p.name for p in frames] == [f"image{n:06d}.bmp" for n in range(22587, 22592)]
    assert ds.frame_path(s, 22589) == frames[2]
    jpg = next(s for s in ds.samples() if s.clip == "s02_sur_01")
    assert ds.frames(jpg)[0].suffix == ".jpg"
    assert ds.validate() == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [("s1", "s01"), ("s1_ne_01", "s01_ne_01"), ("s20_sur_03", "s20_sur_03"), ("x", "x")],
)
def test_smic_name(name, expected):
    assert smic_name(name) == expected
