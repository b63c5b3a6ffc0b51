"""Optical strain against analytic flow fields."""

from __future__ import annotations

import numpy as np
import pytest

from featref.preprocess.strain import optical_strain, strain_components


def test_strain_of_a_quadratic_field_matches_the_analytic_tensor():
    # u = a x^2 + b y, v = c x y  =>  exx = 2 a x, eyy = c x, exy = (b + c y) / 2.
    # Central differences are exact for quadratics, so the interior must match to rounding.
    a, b, c = 0.01, 0.3, -0.02
    yy, xx = np.mgrid[0:20, 0:30].astype(np.float64)
    flow = np.stack([a * xx**2 + b * yy, c * xx * yy], axis=-1)
    exx, eyy, exy = 2 * a * xx, c * xx, 0.5 * (b + c * yy)
    expected = np.sqrt(exx**2 + eyy**2 + 2 * exy**2)
    got = optical_strain(flow)
    assert got.shape == (20, 30) and got.dtype == np.float32
    np.testing.assert_allclose(got[1:-1, 1:-1], expected[1:-1, 1:-1], rtol=1e-5, atol=1e-6)
    comps = strain_components(flow)
    np.testing.assert_allclose(comps[2][1:-1, 1:-1], exy[1:-1, 1:-1], atol=1e-12)


def test_rigid_motion_has_no_strain():
    yy, xx = np.mgrid[0:16, 0:16].astype(np.float64)
    theta = 0.01  # small rotation + translation: antisymmetric gradient, zero strain
    flow = np.stack([-theta * yy + 1.5, theta * xx - 0.5], axis=-1)
    assert np.abs(optical_strain(flow)).max() < 1e-6


def test_strain_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(H, W, 2\)"):
        optical_strain(np.zeros((4, 4, 3)))
