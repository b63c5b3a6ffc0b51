"""The real annotation spreadsheets (no frames): counts and the official composite membership.

Skipped, with the paths tried, when the annotations are not in ``$FEATREF_DATA_DIR`` or
``../shared/data``.
"""

from __future__ import annotations

import warnings
from collections import Counter

import pytest
from tests.datasets.conftest import real_file

from featref.datasets import Casme2, Casme3PartA, Samm
from featref.datasets.composite import ground_truth_diff, read_ground_truth, select_megc2019

pytestmark = pytest.mark.real_data


def _real(db, name):
    """The real annotation ``name``: in ``annotations/`` (shared data) or ``<db>/`` (a user's)."""
    return real_file(f"annotations/{name}", f"{db}/{name}")


def _annotations(reader):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        samples = reader.annotations()
    return samples, [str(w.message) for w in caught]


@pytest.fixture(scope="module")
def casme2_2014():
    path = _real("casme2", "CASME2-coding-20140508.xlsx")
    return _annotations(Casme2(path.parent))


@pytest.fixture(scope="module")
def samm():
    path = _real("samm", "SAMM_Micro_FACS_Codes_v2.xlsx")
    return _annotations(Samm(path.parent))


@pytest.fixture(scope="module")
def ground_truth():
    return real_file("megc2019/combined_3class_gt.csv")


def test_casme2_2014_counts(casme2_2014):
    samples, problems = casme2_2014
    assert len(samples) == 255
    assert len({s.subject for s in samples}) == 26
    assert Counter(s.emotion for s in samples) == {
        "others": 99, "disgust": 63, "happiness": 32, "repression": 27, "surprise": 25,
        "sadness": 7, "fear": 2,
    }  # fmt: skip
    assert {s.subject for s in samples} == {f"sub{i:02d}" for i in range(1, 27)}
    assert problems == [
        "casme2/sub04/EP12_01f: no apex annotated "
        f"({samples[0].frame_dir.parents[2] / 'CASME2-coding-20140508.xlsx'}).",
        "casme2/sub05/EP09_05f: apex equals onset (69): no onset-to-apex motion "
        f"({samples[0].frame_dir.parents[2] / 'CASME2-coding-20140508.xlsx'}).",
    ]


def test_samm_counts(samm):
    samples, problems = samm
    assert len(samples) == 159
    assert len({s.subject for s in samples}) == 29
    assert all(len(s.subject) == 3 and s.clip.startswith(s.subject) for s in samples)
    assert problems == []


def test_casme2_composite_membership_is_official(casme2_2014, ground_truth):
    selected = select_megc2019(casme2_2014[0])
    assert len(selected) == 145
    assert len({s.subject for s in selected}) == 24
    assert Counter(s.emotion for s in selected) == {"negative": 88, "positive": 32, "surprise": 25}
    assert ground_truth_diff(selected, ground_truth, datasets=["casme2"]) == ([], [], [])


def test_samm_composite_membership_is_official(samm, ground_truth):
    selected = select_megc2019(samm[0])
    assert len(selected) == 133
    assert len({s.subject for s in selected}) == 28
    assert Counter(s.emotion for s in selected) == {"negative": 92, "positive": 26, "surprise": 15}
    assert ground_truth_diff(selected, ground_truth, datasets=["samm"]) == ([], [], [])


def test_ground_truth_file(ground_truth):
    truth = read_ground_truth(ground_truth)
    assert len(truth) == 442
    assert Counter(k.split("/")[0] for k in truth) == {"casme2": 145, "samm": 133, "smic": 164}


def test_casme2_2019_coding_relabels_three_sub24_clips(ground_truth):
    path = _real("casme2", "CASME2-coding-20190701.xlsx")
    samples, _ = _annotations(Casme2(path.parent, coding="2019"))
    assert len(samples) == 255
    missing, extra, relabelled = ground_truth_diff(
        select_megc2019(samples), ground_truth, datasets=["casme2"]
    )
    assert (missing, relabelled) == ([], [])
    assert extra == ["casme2/sub24/EP07_01", "casme2/sub24/EP07_04f", "casme2/sub24/EP10_03"]


def test_casme3_part_a_annotation():
    path = _real("casme3", "cas(me)3_part_A_edited.csv")
    samples, problems = _annotations(Casme3PartA(path.parent))
    assert len(samples) == 687
    assert len({s.subject for s in samples}) == 87
    assert len({s.sample_id for s in samples}) == 687
    assert any(
        "casme3/spNO.149/d_112: apex 83 is outside onset-offset 112-358" in p for p in problems
    )
