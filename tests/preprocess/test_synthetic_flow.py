"""The embedded default data."""

from __future__ import annotations

import numpy as np

from featref.preprocess.strain import strain_magnitude
from featref.preprocess.synthetic_flow import make_synthetic_flows


def test_shape_determinism_and_balance():
    a = make_synthetic_flows(subjects=3, clips_per_class=2, seed=1)
    b = make_synthetic_flows(subjects=3, clips_per_class=2, seed=1)
    assert np.array_equal(a.x, b.x) and a.sample_ids == b.sample_ids
    assert a.x.shape == (18, 3, 28, 28) and a.x.min() >= 0 and a.x.max() <= 1
    assert np.bincount(a.labels).tolist() == [6, 6, 6]
    assert len(set(a.subjects)) == 3


def test_classes_differ_in_motion_not_in_brightness():
    f = make_synthetic_flows(subjects=4, clips_per_class=5, noise=0.0)
    v = f.x[:, 1]
    # surprise moves the brows (upper face), positive the lip corners (lower face)
    upper = v[:, 6:12].std(axis=(1, 2))
    lower = v[:, 17:23].std(axis=(1, 2))
    assert upper[f.labels == 2].mean() > lower[f.labels == 2].mean()
    assert lower[f.labels == 1].mean() > upper[f.labels == 1].mean()


def test_strain_of_linear_shear():
    yy, xx = np.mgrid[0:10, 0:10].astype(float)
    u = 0.2 * yy  # du/dy = 0.2, everything else 0 -> exy = 0.1
    strain = strain_magnitude(np.stack([u, np.zeros_like(u)], axis=-1))
    assert np.allclose(strain, np.sqrt(2 * 0.1**2))
