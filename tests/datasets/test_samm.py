from __future__ import annotations

import openpyxl
import pytest
from tests.fakes import make_samm

from featref.datasets import Samm
from featref.errors import AnnotationError

EXPECTED_SUBJECTS = {"006": 2, "007": 1, "011": 1}
EXPECTED_LABELS = {"Anger": 2, "Happiness": 1, "Other": 1}


def test_info_frames_and_frame_path(tmp_path):
    make_samm(tmp_path)
    ds = Samm(tmp_path)
    info = ds.info()
    assert (info.num_samples, info.num_subjects) == (4, 3)
    assert info.per_subject == EXPECTED_SUBJECTS
    assert info.per_label == EXPECTED_LABELS  # the database's own labels, unmapped
    s = ds.samples()[0]
    assert s.sample_id == "samm/006/006_1_2"
    assert (s.onset, s.apex, s.offset, s.action_units) == (5562, 5564, 5566, "4+7")
    assert [p.name for p in ds.frames(s)][:2] == ["006_05561.jpg", "006_05562.jpg"]
    assert ds.frame_path(s, 5562) == tmp_path.resolve() / "SAMM/006/006_1_2/006_05562.jpg"
    assert ds.validate() == []


def test_subjects_written_as_numbers_are_padded(tmp_path):
    make_samm(tmp_path, frames=False)
    path = tmp_path / "SAMM_Micro_FACS_Codes_v2.xlsx"
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    for row in ws.iter_rows():
        if row[0].value == "006":
            row[0].value = 6
    wb.save(path)
    assert {s.subject for s in Samm(tmp_path).annotations()} == {"006", "007", "011"}


def test_no_header_row_is_an_annotation_error(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.append(["Subject", "Filename", "Onset"])
    wb.save(tmp_path / "SAMM_Micro_FACS_Codes_v2.xlsx")
    with pytest.raises(AnnotationError, match="no header row with the columns"):
        Samm(tmp_path).annotations()
