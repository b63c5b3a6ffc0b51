"""Bad predictions.csv files and MEGC2019 logs given to ``featref evaluate``."""

from __future__ import annotations

import pytest

from .conftest import fails

HEAD = (
    "seed,fold,test_subject,sample_id,dataset,subject,y_true,y_pred,"
    "prob_negative,prob_positive,prob_surprise"
)
ROWS = [
    "0,0,casme2/sub01,casme2/sub01/EP02_01f,casme2,casme2/sub01,positive,positive,0.1,0.8,0.1",
    "0,1,samm/006,samm/006/006_1_2,samm,samm/006,negative,surprise,0.3,0.2,0.5",
    "0,2,smic/s01,smic/s01/s01_ne_01,smic,smic/s01,surprise,surprise,0.1,0.1,0.8",
]


def _csv(tmp_path, lines, name="predictions.csv"):
    f = tmp_path / name
    f.write_text("\n".join(lines) + "\n")
    return f


BAD_CSV = [
    ([HEAD.replace(",y_pred", ""), *[r.rsplit(",", 4)[0] for r in ROWS]], ["lacks column(s)"]),
    ([HEAD, ROWS[0], ROWS[1][:40]], ["line 3", "fields, expected 11", "truncated"]),
    ([HEAD, ROWS[0].replace(",positive,positive", ",happy,positive")], ["line 2", "'happy'"]),
    ([HEAD, ROWS[0], ROWS[1], ROWS[0]], ["line 4", "appears twice", "first on line 2"]),
    ([HEAD, "x" + ROWS[0]], ["line 2", "seed and fold must be integers"]),
    ([HEAD, ROWS[0].replace("0.8", "abc")], ["line 2", "numbers"]),
    ([HEAD, ROWS[0].replace("0.8", "1.8")], ["line 2", "in [0, 1]"]),
    ([HEAD, ROWS[0].replace("0.8", "nan")], ["line 2", "finite"]),
    ([HEAD, ROWS[0].replace("casme2/sub01/EP02", "samm/006/EP02")], ["line 2", "do not agree"]),
    ([HEAD], ["no rows"]),
    ([HEAD, ROWS[0].replace(",positive,positive", ",1,1")], ["line 2", "class names"]),
]


@pytest.mark.parametrize(
    ("lines", "needles"), BAD_CSV, ids=[f"csv{i}" for i in range(len(BAD_CSV))]
)
def test_bad_predictions_csv(cli, tmp_path, lines, needles):
    f = _csv(tmp_path, lines)
    fails(cli("evaluate", f), str(f), *needles)


def test_missing_predictions_file(cli, tmp_path):
    fails(cli("evaluate", tmp_path / "nope.csv"), "nope.csv does not exist")


def test_binary_file_is_refused(cli, tmp_path):
    f = tmp_path / "p.csv"
    f.write_bytes(b"seed,\xff\xfe\x00garbage\n")
    fails(cli("evaluate", f), "not UTF-8 text")


def test_byte_order_mark_is_accepted_and_scores_match(cli, tmp_path):
    # Accepted: a CSV saved by Excel starts with a UTF-8 byte-order mark; it is dropped and the
    # scores are exactly those of the same file without it.
    plain = cli("evaluate", _csv(tmp_path, [HEAD, *ROWS], "a.csv"))
    f = tmp_path / "b.csv"
    f.write_text("\ufeff" + "\n".join([HEAD, *ROWS]) + "\n", encoding="utf-8")
    bom = cli("evaluate", f)
    assert plain.rc == bom.rc == 0
    assert plain.out.split("\n", 1)[1] == bom.out.split("\n", 1)[1]


LOG = ["casme2 sub01", "EP02_01f 1 1", "EP19_05f 0 0", "samm 006", "006_1_2 0 2", "006_1_3 2 2"]

BAD_LOG = [
    # the example: a clip line that lost its prediction is not taken for a header
    ([*LOG[:2], "EP19_05f 0", *LOG[3:]], ["line 3", "2 field(s)", "one seems missing"]),
    ([*LOG[:2], "EP19_05f 0 3", *LOG[3:]], ["line 3", "'3'", "not a class index"]),
    ([*LOG[:2], "EP19_05f -1 0", *LOG[3:]], ["line 3", "'-1'"]),
    ([*LOG, "006_1_2 0 2"], ["line 7", "listed twice", "first on line 5"]),
    (["EP02_01f 1 1", *LOG], ["line 1", "before any subject line"]),
    (["casme sub01", *LOG[1:]], ["line 1", "'casme' is not a known database"]),
    (["\u200bcasme2 sub01", *LOG[1:]], ["line 1", "\\u200bcasme2"]),
    ([*LOG[:2], "EP19_05f 0 0 1", *LOG[3:]], ["line 3", "4 field(s)"]),
    (["casme2 sub01", "casme2 sub02", *LOG[1:]], ["line 1", "no sample lines"]),
    (["", "  "], ["no prediction lines"]),
]


@pytest.mark.parametrize(
    ("lines", "needles"), BAD_LOG, ids=[f"log{i}" for i in range(len(BAD_LOG))]
)
def test_bad_megc_log(cli, tmp_path, lines, needles):
    f = _csv(tmp_path, lines, "log.txt")
    fails(cli("evaluate", f), str(f), *needles)


def test_log_labels_outside_labels_flag(cli, tmp_path):
    f = _csv(tmp_path, LOG, "log.txt")
    fails(cli("evaluate", f, "--labels", "0,1"), "line 5", "'2'", "--labels")


def test_sound_log_with_samm_numeric_subjects_is_scored(cli, tmp_path):
    # Accepted: SAMM's subject names are numbers ("samm 006"); such a header is a header.
    res = cli("evaluate", _csv(tmp_path, LOG, "log.txt"))
    assert res.rc == 0 and "4 predictions" in res.out
