"""Optical strain: the magnitude of the infinitesimal strain tensor of a flow field.

For a flow (u, v) the strain tensor is

.. math::

    \\varepsilon = \\tfrac12 (\\nabla \\mathbf{u} + \\nabla \\mathbf{u}^T)
    = \\begin{pmatrix} \\varepsilon_{xx} & \\varepsilon_{xy} \\\\
                       \\varepsilon_{xy} & \\varepsilon_{yy} \\end{pmatrix},\\quad
    \\varepsilon_{xx} = \\frac{\\partial u}{\\partial x},\\;
    \\varepsilon_{yy} = \\frac{\\partial v}{\\partial y},\\;
    \\varepsilon_{xy} = \\tfrac12\\Big(\\frac{\\partial u}{\\partial y}
                                    + \\frac{\\partial v}{\\partial x}\\Big)

and the optical strain magnitude is its Frobenius norm
``|ε| = sqrt(εxx² + εyy² + 2 εxy²)``, as in Shreve et al. and Liong et al. (the "OS" channel of
STSTNet and the MEGC2019 flow images). Derivatives are central differences (``np.gradient``,
one-sided at the border), in flow units per pixel.

References:
    M. Shreve, S. Godavarthy, D. Goldgof, S. Sarkar, "Macro- and micro-expression spotting in
    long videos using spatio-temporal strain", IEEE FG 2011, doi:10.1109/FG.2011.5771451.
    S.-T. Liong, J. See, Y. S. Gan, W.-C. Yau, "Shallow triple stream three-dimensional CNN
    (STSTNet) for micro-expression recognition", IEEE FG 2019, doi:10.1109/FG.2019.8756567.
"""

from __future__ import annotations

import numpy as np

__all__ = ["optical_strain", "strain_components", "strain_magnitude"]


def strain_components(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(εxx, εyy, εxy)`` of an (H, W, 2) flow (u = ``flow[..., 0]``, v = ``flow[..., 1]``).

    Raises:
        ValueError: when ``flow`` is not (H, W, 2) with H, W >= 2.
    """
    f = np.asarray(flow, dtype=np.float64)
    if f.ndim != 3 or f.shape[2] != 2 or min(f.shape[:2]) < 2:
        raise ValueError(f"Expected a flow of shape (H, W, 2) with H, W >= 2. Got {f.shape}.")
    u_y, u_x = np.gradient(f[..., 0])  # axis 0 is y (rows), axis 1 is x (columns)
    v_y, v_x = np.gradient(f[..., 1])
    return u_x, v_y, 0.5 * (u_y + v_x)


def strain_magnitude(flow: np.ndarray) -> np.ndarray:
    """``sqrt(εxx² + εyy² + 2 εxy²)`` of an (H, W, 2) flow in float64 (the one formula)."""
    exx, eyy, exy = strain_components(flow)
    return np.sqrt(exx**2 + eyy**2 + 2.0 * exy**2)


def optical_strain(flow: np.ndarray) -> np.ndarray:
    """Optical strain magnitude ``sqrt(εxx² + εyy² + 2 εxy²)`` of an (H, W, 2) flow.

    Returns:
        float32 array of shape (H, W) (:func:`strain_magnitude`, cast).

    Example:
        >>> import numpy as np
        >>> yy, xx = np.mgrid[0:8, 0:8].astype(float)
        >>> flow = np.stack([0.1 * xx, 0.2 * yy], axis=-1)  # uniform stretch
        >>> round(float(optical_strain(flow)[4, 4]), 4)  # sqrt(0.1**2 + 0.2**2)
        0.2236
    """
    return strain_magnitude(flow).astype(np.float32)
