"""Annotation corrections are data: each hits exactly one row, and its ``old`` value matches."""

from __future__ import annotations

import warnings

import pytest
from tests.datasets.conftest import real_file
from tests.fakes import make_casme2

from featref.datasets import DATASETS, get_dataset
from featref.datasets._reader import apply_corrections, cell_text, load_corrections
from featref.errors import DataQualityWarning

# Annotation files each correction file is checked against: (reader options, candidate paths).
REAL_ANNOTATIONS = {
    "casme2": [
        ({"coding": "2014"}, ("annotations/CASME2-coding-20140508.xlsx",
                              "casme2/CASME2-coding-20140508.xlsx")),
        ({"coding": "2019"}, ("annotations/CASME2-coding-20190701.xlsx",
                              "casme2/CASME2-coding-20190701.xlsx")),
    ],
}  # fmt: skip


def test_correction_files_are_well_formed():
    for name in DATASETS:
        for c in load_corrections(name):
            assert c.reason and c.source, c
            assert c.old != c.new, c


def test_casme2_has_the_missing_apex_correction():
    (c,) = load_corrections("casme2")
    assert (c.subject, c.clip, c.field, c.old, c.new) == ("sub04", "EP12_01f", "apex", "/", "")


@pytest.mark.real_data
@pytest.mark.parametrize(
    ("name", "options", "candidates"),
    [(n, o, c) for n, cases in REAL_ANNOTATIONS.items() for o, c in cases],
)
def test_each_correction_hits_exactly_one_row_with_its_old_value(name, options, candidates):
    path = real_file(*candidates)
    reader = get_dataset(name, path.parent, **options)
    rows = reader.annotation_rows()
    for c in load_corrections(name):
        hits = [r for r in rows if (r["subject"], r["clip"]) == (c.subject, c.clip)]
        assert len(hits) == 1, f"{c} hits {len(hits)} rows of {path}"
        assert cell_text(hits[0][c.field]) == c.old, f"{c}: {path} has {hits[0][c.field]!r}"


def test_corrections_match_by_key_not_position(tmp_path):
    rows = [
        {"subject": "sub04", "clip": "EP12_02f", "apex": "/"},
        {"subject": "sub04", "clip": "EP12_01f", "apex": "/"},
    ]
    applied = apply_corrections(rows, load_corrections("casme2"), dataset="casme2", source=tmp_path)
    assert len(applied) == 1
    assert rows == [
        {"subject": "sub04", "clip": "EP12_02f", "apex": "/"},
        {"subject": "sub04", "clip": "EP12_01f", "apex": ""},
    ]


def test_old_value_mismatch_is_not_applied_and_warns(tmp_path):
    rows = [{"subject": "sub04", "clip": "EP12_01f", "apex": 300}]
    with pytest.warns(
        DataQualityWarning, match=r"casme2/sub04/EP12_01f: correction .* found '300'"
    ):
        applied = apply_corrections(
            rows, load_corrections("casme2"), dataset="casme2", source=tmp_path
        )
    assert applied == [] and rows[0]["apex"] == 300


def test_correction_logged_once_at_info(tmp_path, caplog):
    make_casme2(tmp_path, frames=False)
    ds = get_dataset("casme2", tmp_path)
    with caplog.at_level("INFO", logger="featref.datasets"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.annotations()
        ds.annotations()
    logs = [r.getMessage() for r in caplog.records if "corrected apex" in r.getMessage()]
    assert len(logs) == 1 and "casme2/sub04/EP12_01f" in logs[0]
    assert [c.clip for c in ds.applied_corrections] == ["EP12_01f"]
