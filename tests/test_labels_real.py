"""The single-database label tables against the real annotation files (no frames): sample,
subject and per-class counts.

Skipped, with the paths tried, when the annotations are not in ``$FEATREF_DATA_DIR`` or
``../shared/data``.
"""

from __future__ import annotations

import csv
import warnings
from collections import Counter

import pytest
from tests.datasets.conftest import real_file

from featref.datasets import Casme2, Casme3PartA, Samm
from featref.labels import LABEL_TABLES, MEGC2019_CLASSES, label_table

pytestmark = pytest.mark.real_data


def _samples(reader_cls, name, db):
    path = real_file(f"annotations/{name}", f"{db}/{name}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return reader_cls(path.parent).annotations(), path


def _task(table_name, samples):
    table = LABEL_TABLES[table_name]
    kept = [(s, table.label(s.emotion)) for s in samples]
    return [(s, c) for s, c in kept if c is not None]


def test_casme2_5_class():
    samples, _ = _samples(Casme2, "CASME2-coding-20140508.xlsx", "casme2")
    kept = _task("casme2_5", samples)
    assert len(kept) == 246
    assert len({s.subject for s, _ in kept}) == 26
    assert Counter(c for _, c in kept) == {
        "others": 99, "disgust": 63, "happiness": 32, "repression": 27, "surprise": 25,
    }  # fmt: skip


def test_samm_5_class():
    samples, _ = _samples(Samm, "SAMM_Micro_FACS_Codes_v2.xlsx", "samm")
    kept = _task("samm_5", samples)
    assert len(kept) == 136
    assert len({s.subject for s, _ in kept}) == 27  # of 29: two have only left-out emotions
    counts = Counter(c for _, c in kept)
    assert counts == {"anger": 57, "other": 26, "happiness": 26, "surprise": 15, "contempt": 12}
    # the rule: every estimated emotion with at least 10 clips, and no other
    every = Counter(s.emotion.lower() for s in samples)
    assert set(counts) == {e for e, n in every.items() if n >= 10}


def test_smic_3_class_from_the_composite_ground_truth():
    """SMIC-HS has no spreadsheet (labels are folder names); its 164 clips are those of the
    MEGC2019 ground truth, whose labels are the folder labels."""
    path = real_file("megc2019/combined_3class_gt.csv")
    with path.open(newline="") as f:
        rows = [r for r in csv.reader(f) if r and r[0] == "smic"]
    table = LABEL_TABLES["smic_3"]
    labels = [table.label(MEGC2019_CLASSES[int(r[3])]) for r in rows]
    assert len(rows) == 164
    assert len({r[1] for r in rows}) == 16
    assert Counter(labels) == {"negative": 70, "positive": 51, "surprise": 43}


@pytest.mark.parametrize(
    ("name", "column"), [("casme3_3", "label_for_3"), ("casme3_7", "label_for_7")]
)
def test_casme3_tables_match_the_annotation_columns(name, column):
    samples, path = _samples(Casme3PartA, "cas(me)3_part_A_edited.csv", "casme3")
    with path.open(newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    table = label_table(name)
    offset = 0 if column == "label_for_3" else 1  # label_for_7's 0 (others) is absent
    for r in rows:
        assert table.classes.index(table.label(r["emotion"])) == int(r[column]) - offset, r
    kept = _task(name, samples)
    assert len(kept) == 687
    assert len({s.subject for s, _ in kept}) == 87
    if name == "casme3_3":
        assert Counter(c for _, c in kept) == {"negative": 449, "positive": 54, "surprise": 184}
    else:
        assert Counter(c for _, c in kept) == {
            "disgust": 247, "surprise": 184, "fear": 83, "anger": 64, "sad": 55, "happy": 54,
        }  # fmt: skip
