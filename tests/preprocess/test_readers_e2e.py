"""prepare() through the real readers on fake databases in the official layouts."""

from __future__ import annotations

import pytest
from tests.fakes import make_casme2, make_smic

from featref.datasets import Casme2, SmicHS
from featref.preprocess.cache import load_prepared
from featref.preprocess.config import PreprocessConfig
from featref.preprocess.pipeline import prepare

from .conftest import face_frame, local_warp

BASE = face_frame(128)
FAST = PreprocessConfig(crop_size=64, nscales=3, warps=3)  # keeps the test fast


def _frame(number: int):
    return local_warp(BASE, 0.3 * (number % 5))


@pytest.mark.filterwarnings("ignore::featref.errors.DataQualityWarning")
def test_prepare_casme2_and_smic_readers(tmp_path):
    casme2 = Casme2(make_casme2(tmp_path / "casme2", frame_fn=_frame))
    result = prepare(casme2, FAST, tmp_path / "cache")
    flows = load_prepared(result.folder)
    assert not result.failures and len(flows) == len(casme2.samples())
    assert set(flows.class_names) == {s.emotion for s in casme2.samples()}
    assert all(sub.startswith("casme2/sub") for sub in flows.subjects)

    smic = SmicHS(make_smic(tmp_path / "smic", frame_fn=_frame))
    result = prepare(smic, FAST, tmp_path / "cache")
    assert not result.failures and len(load_prepared(result.folder)) == len(smic.samples())
