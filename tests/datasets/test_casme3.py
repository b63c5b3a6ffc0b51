from __future__ import annotations

import pytest
from tests.fakes import make_casme3

from featref.datasets import Casme3PartA
from featref.errors import AnnotationError

EXPECTED_SUBJECTS = {"spNO.1": 3, "spNO.2": 1}
EXPECTED_LABELS = {"disgust": 1, "happy": 1, "surprise": 2}


def test_info_and_clips_sharing_a_video(tmp_path):
    make_casme3(tmp_path)
    ds = Casme3PartA(tmp_path)
    info = ds.info()
    assert info.num_samples == 4
    assert info.per_subject == EXPECTED_SUBJECTS
    assert info.per_label == EXPECTED_LABELS
    by_id = {s.sample_id: s for s in ds.samples()}
    a, b = by_id["casme3/spNO.1/j_28"], by_id["casme3/spNO.1/j_102"]
    assert a.frame_dir == b.frame_dir == tmp_path.resolve() / "part_A/spNO.1/j/color"
    # frames() keeps each clip's own onset..offset out of the shared video folder
    assert [p.name for p in ds.frames(a)] == [f"{n}.jpg" for n in range(28, 33)]
    assert [p.name for p in ds.frames(b)] == [f"{n}.jpg" for n in range(102, 107)]
    assert ds.frame_path(b, 104).name == "104.jpg"
    assert (b.onset, b.apex, b.offset, b.action_units) == (102, 104, 106, "26+25")


def test_missing_column(tmp_path):
    (tmp_path / "cas(me)3_part_A_edited.csv").write_text("Subject,Filename,Onset\nspNO.1,a,1\n")
    with pytest.raises(AnnotationError, match=r"the columns \['Apex', 'Offset', 'AU', 'emotion'\]"):
        Casme3PartA(tmp_path).annotations()
