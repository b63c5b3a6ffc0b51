"""Apex choice: middle frame and the label-free spotter."""

from __future__ import annotations

import pytest

from featref.preprocess.apex import middle_frame, spot_apex

from .conftest import AMPLITUDES, face_frame, local_warp


def test_middle_frame():
    assert middle_frame(10, 20) == 15 and middle_frame(3, 4) == 3
    with pytest.raises(ValueError, match="before onset"):
        middle_frame(5, 4)


def test_spotter_finds_the_peak_of_a_local_facial_movement():
    base = face_frame(128)[:, :, 1]
    frames = [local_warp(base, a) for a in AMPLITUDES]
    assert spot_apex(frames) == AMPLITUDES.index(max(AMPLITUDES))
    assert spot_apex(frames[:1]) == 0
