from __future__ import annotations

import warnings

import pytest
from tests.fakes import make_megc2019

from featref.datasets import Casme2, Megc2019Composite, Sample
from featref.datasets.composite import select_megc2019, verify_megc2019
from featref.errors import AnnotationMismatchError, DatasetNotFoundError


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    return make_megc2019(tmp_path_factory.mktemp("megc2019"))


def _quiet_samples(ds):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ds.samples()


def test_official_counts_and_ground_truth(fake_root):
    ds = Megc2019Composite(fake_root)
    assert ds.ground_truth == fake_root.resolve() / "megc2019/combined_3class_gt.csv"
    samples = _quiet_samples(ds)
    info = ds.info()
    assert info.num_samples == 442
    assert info.per_label == {"negative": 250, "positive": 109, "surprise": 83}
    by_db = {db: sum(s.dataset == db for s in samples) for db in ("casme2", "samm", "smic")}
    assert by_db == {"casme2": 145, "samm": 133, "smic": 164}
    ids = {s.sample_id for s in samples}
    assert "casme2/sub04/EP12_01f" not in ids  # no apex
    assert "casme2/sub04/EP903_01" not in ids  # apex == onset
    assert "samm/006/006_99_9" not in ids  # Other
    s = next(s for s in samples if s.dataset == "samm")
    assert ds.frame_path(s, s.apex).name == f"{s.subject}_{s.apex:05d}.jpg"
    assert len(ds.frames(s)) == 3


def test_mismatch_lists_sample_ids_and_files(fake_root, tmp_path):
    gt = (fake_root / "megc2019/combined_3class_gt.csv").read_text().splitlines()
    dropped = ("samm,6,", "samm,7,", "samm,8,")  # 15 rows: more than the 10 listed
    edited = [line for line in gt if not line.startswith(dropped)]
    edited.append("casme2,sub01,EP999_99,0")
    edited[0] = edited[0][:-1] + ("1" if edited[0][-1] != "1" else "0")  # relabel one
    path = tmp_path / "gt.csv"
    path.write_text("\n".join(edited) + "\n")
    with pytest.raises(AnnotationMismatchError) as exc:
        _quiet_samples(Megc2019Composite(fake_root, ground_truth=path))
    text = str(exc.value)
    assert "CASME2-coding-20140508.xlsx" in text and "SAMM_Micro_FACS_Codes_v2.xlsx" in text
    assert "1 missing sample ids" in text and "casme2/sub01/EP999_99" in text
    assert "15 extra sample ids" in text and "samm/006/006_0_1" in text
    assert "1 relabelled sample ids" in text
    assert text.split("extra sample ids")[1].splitlines()[0].endswith(" and 5 more")


def test_counts_checked_without_ground_truth():
    samples = [Sample("casme2", "sub01", "EP01", "negative", 1, 2, 3, None)]
    with pytest.raises(AnnotationMismatchError, match=r"casme2 negative: expected 88, found 1"):
        verify_megc2019(samples, sources=["a.xlsx"])


def test_select_maps_and_filters():
    rows = [
        Sample("casme2", "sub01", "A", "repression", 1, 2, 3, None),
        Sample("casme2", "sub01", "B", "fear", 1, 2, 3, None),
        Sample("casme2", "sub01", "C", "happiness", 1, None, 3, None),
        Sample("samm", "006", "D", "Contempt", 1, 2, 3, None),
        Sample("samm", "006", "E", "Other", 1, 2, 3, None),
        Sample("smic", "s01", "F", "surprise", 1, None, 3, None),
    ]
    got = [(s.clip, s.emotion) for s in select_megc2019(rows)]
    assert got == [("A", "negative"), ("D", "negative"), ("F", "surprise")]


def test_missing_databases_in_one_error(tmp_path):
    (tmp_path / "samm").mkdir()
    with pytest.raises(DatasetNotFoundError) as exc:
        Megc2019Composite(tmp_path).samples()
    text = str(exc.value)
    expected = (
        "casme2/CASME2-coding-20140508.xlsx",
        "casme2/CASME2_RAW_selected/sub*/*",
        "samm/SAMM_Micro_FACS_Codes_v2.xlsx",
        "samm/SAMM/*/*",
        "smic/HS/s*/micro/*/*",
    )
    for path in expected:
        assert str(tmp_path.resolve() / path) in text
    assert "Re-check with: featref check-data megc2019" in text


def test_custom_reader(fake_root):
    casme2 = Casme2(fake_root / "casme2", layout="raw")
    ds = Megc2019Composite(fake_root, casme2=casme2)
    assert ds.readers["casme2"] is casme2
