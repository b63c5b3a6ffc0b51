"""Alignment levels the eyes on the onset and applies the same transform to the apex."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from featref.preprocess.align import align_pair, alignment_matrix, transform_points, warp
from featref.preprocess.faces import Face


def test_matrix_levels_the_eyes_and_centres_the_box():
    face = Face((40.0, 30.0, 80.0, 80.0), (60.0, 60.0), (100.0, 70.0))  # eyes tilted by ~14 deg
    m = alignment_matrix(face, margin=0.25, size=100)
    (lx, ly), (rx, ry) = transform_points(m, [face.left_eye, face.right_eye])
    assert abs(ly - ry) < 1e-9 and rx > lx
    centre = transform_points(m, [(40 + 79 / 2, 30 + 79 / 2)])[0]
    np.testing.assert_allclose(centre, (49.5, 49.5), atol=1e-9)
    # scale: the box side (80) plus 25 % margin on each side (120 px) maps onto 100 px
    np.testing.assert_allclose(np.hypot(*m[:, 0]), 100 / 120)
    with pytest.raises(ValueError, match="margin"):
        alignment_matrix(face, margin=-1)


def test_align_pair_applies_the_onset_transform_to_the_apex():
    rng = np.random.default_rng(0)
    onset = (rng.random((120, 160)) * 200).astype(np.uint8)
    apex = onset.copy()
    apex[70, 90] = 255  # a bright mark only in the apex
    face = Face((50.0, 20.0, 70.0, 70.0), (65.0, 45.0), (105.0, 40.0))
    onset_c, apex_c, m = align_pair(onset, apex, face, margin=0.2, size=64)
    np.testing.assert_array_equal(onset_c, warp(onset, m, 64))
    np.testing.assert_array_equal(apex_c, warp(apex, m, 64))
    diff = cv2.absdiff(apex_c, onset_c).astype(float)
    peak = np.unravel_index(diff.argmax(), diff.shape)[::-1]  # (x, y)
    expected = transform_points(m, [(90, 70)])[0]
    assert np.hypot(*(np.array(peak) - expected)) <= 1.0
    with pytest.raises(ValueError, match="differ in shape"):
        align_pair(onset, apex[:, :-1], face)
