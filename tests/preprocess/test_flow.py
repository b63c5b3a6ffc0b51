"""TV-L1 flow against a known motion; normalisation and resizing."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from featref.preprocess.flow import flow_magnitude, normalise, resize_channels, tvl1_flow


def _smooth_field(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    du = 0.7 * np.sin(2 * np.pi * xx / w) * np.cos(np.pi * yy / h)
    dv = 0.5 * np.cos(2 * np.pi * yy / h) + 0.2
    return du.astype(np.float32), dv.astype(np.float32)


def test_tvl1_recovers_known_subpixel_motion_of_a_real_face(face_gray):
    # next = the face; prev(x) = next(x + d(x)) exactly, so the flow prev -> next is d.
    h, w = face_gray.shape
    du, dv = _smooth_field(h, w)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    prev = cv2.remap(face_gray, xx + du, yy + dv, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    flow = tvl1_flow(prev, face_gray)
    assert flow.shape == (h, w, 2) and flow.dtype == np.float32
    epe = np.hypot(flow[..., 0] - du, flow[..., 1] - dv)[12:-12, 12:-12].mean()
    assert epe < 0.1, f"mean end-point error {epe:.3f} px"
    # float input in [0, 1] gives the same answer as uint8
    flow_f = tvl1_flow(prev.astype(np.float32) / 255, face_gray.astype(np.float32) / 255)
    np.testing.assert_allclose(flow_f, flow, atol=1e-3)


def test_tvl1_of_identical_frames_is_zero(face_gray):
    assert np.abs(tvl1_flow(face_gray, face_gray)).max() < 1e-3


@pytest.mark.parametrize(
    ("a", "b", "match"),
    [
        (np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8), "2-D grayscale"),
        (np.zeros((8, 8), np.uint8), np.zeros((9, 8), np.uint8), "share shape"),
        (np.zeros((8, 8), np.int32), np.zeros((8, 8), np.int32), "uint8 or float"),
    ],
)
def test_tvl1_rejects_bad_frames(a, b, match):
    with pytest.raises(ValueError, match=match):
        tvl1_flow(a, b)


def test_minmax_normalises_each_channel_to_unit_range():
    rng = np.random.default_rng(0)
    x = np.stack([rng.normal(5, 3, (6, 6)), rng.normal(-2, 0.1, (6, 6)), np.full((6, 6), 7.0)])
    out = normalise(x, "minmax")
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[:2].min(axis=(1, 2)), 0, atol=1e-7)
    np.testing.assert_allclose(out[:2].max(axis=(1, 2)), 1, atol=1e-6)
    assert (out[2] == 0).all()  # a constant channel becomes 0, never NaN


def test_standardise_gives_zero_mean_unit_std():
    x = np.random.default_rng(1).normal(3, 2, (2, 10, 10))
    out = normalise(x, "standardise")
    np.testing.assert_allclose(out.mean(axis=(1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(1, 2)), 1, atol=1e-5)
    with pytest.raises(ValueError, match="minmax"):
        normalise(x, "zscore")


def test_resize_channels_area_average():
    x = np.arange(2 * 8 * 8, dtype=np.float32).reshape(2, 8, 8)
    out = resize_channels(x, 4)
    assert out.shape == (2, 4, 4)
    np.testing.assert_allclose(out[1, 0, 0], x[1, :2, :2].mean())
    assert resize_channels(x[:1], 2).shape == (1, 2, 2)


def test_flow_magnitude():
    flow = np.zeros((2, 2, 2), np.float32)
    flow[..., 0], flow[..., 1] = 3, 4
    assert (flow_magnitude(flow) == 5).all()


def test_aligned_flow_is_the_crop_resolution_flow_of_the_pipeline():
    from featref.preprocess.clip import aligned_flow
    from featref.preprocess.config import PreprocessConfig
    from featref.preprocess.strain import optical_strain

    rng = np.random.default_rng(0)
    onset = cv2.GaussianBlur((rng.random((80, 80)) * 255).astype(np.uint8), (7, 7), 2)
    apex = np.roll(onset, 1, axis=1)
    cfg = PreprocessConfig(crop_size=48)
    matrix = np.array([[1.0, 0.0, -10.0], [0.0, 1.0, -10.0]])
    out = aligned_flow(cv2.cvtColor(onset, cv2.COLOR_GRAY2BGR), apex, matrix, cfg)
    assert out.onset_crop.shape == out.u.shape == out.strain.shape == (48, 48)
    assert np.array_equal(out.onset_crop, onset[10:58, 10:58])
    flow = tvl1_flow(out.onset_crop, out.apex_crop, **cfg.flow_params())
    assert np.array_equal(out.u, flow[..., 0]) and np.array_equal(out.v, flow[..., 1])
    assert np.array_equal(out.strain, optical_strain(flow))
    assert float(np.median(out.u[8:-8, 8:-8])) == pytest.approx(1.0, abs=0.3)  # shift right
