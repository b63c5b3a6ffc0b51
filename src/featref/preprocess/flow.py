"""TV-L1 optical flow (OpenCV), per-channel normalisation and resizing to the model input.

All functions are pure: arrays in, arrays out.

References:
    C. Zach, T. Pock, H. Bischof, "A Duality Based Approach for Realtime TV-L1 Optical Flow",
    DAGM 2007. J. Sánchez Pérez, E. Meinhardt-Llopis, G. Facciolo, "TV-L1 Optical Flow
    Estimation", IPOL 2013, doi:10.5201/ipol.2013.26.
"""

from __future__ import annotations

import numpy as np

from featref.preprocess.config import NORMALISATIONS

__all__ = ["NORMALISATIONS", "flow_magnitude", "normalise", "resize_channels", "tvl1_flow"]


def _check_frame(name: str, img: np.ndarray) -> np.ndarray:
    if img.ndim != 2:
        raise ValueError(
            f"tvl1_flow needs 2-D grayscale frames; `{name}` has shape {img.shape}. Convert with "
            "cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)."
        )
    if img.dtype == np.uint8:
        return img
    if np.issubdtype(img.dtype, np.floating):
        # OpenCV scales float input by 255, so floats must be intensities in [0, 1].
        return np.ascontiguousarray(img, dtype=np.float32)
    raise ValueError(f"`{name}` must be uint8 or float in [0, 1]. Got dtype {img.dtype}.")


def tvl1_flow(
    prev: np.ndarray,
    next: np.ndarray,  # noqa: A002 - mirrors OpenCV's calc(I0, I1)
    *,
    tau: float = 0.25,
    lam: float = 0.15,
    theta: float = 0.3,
    nscales: int = 5,
    warps: int = 5,
    epsilon: float = 0.01,
    inner_iterations: int = 30,
    outer_iterations: int = 10,
    scale_step: float = 0.8,
    gamma: float = 0.0,
    median_filtering: int = 5,
) -> np.ndarray:
    """Dense TV-L1 flow from ``prev`` to ``next`` with ``cv2.optflow.DualTVL1OpticalFlow``.

    The flow ``f`` satisfies ``prev(x) ≈ next(x + f(x))``; ``f[..., 0]`` is the horizontal
    component u (pixels, positive to the right), ``f[..., 1]`` the vertical v (positive down).
    The defaults are OpenCV's (which follow Sánchez Pérez et al., IPOL 2013).

    Args:
        prev: Grayscale frame (uint8, or float in [0, 1]), e.g. the onset.
        next: Grayscale frame of the same shape and dtype, e.g. the apex.
        tau: Time step of the numerical scheme.
        lam: Weight of the data term (smaller gives smoother flow).
        theta: Tightness coupling the data and regularisation terms.
        nscales: Pyramid levels.
        warps: Warpings per level.
        epsilon: Stopping threshold.
        inner_iterations: Inner iterations between outlier filtering.
        outer_iterations: Outer iterations.
        scale_step: Pyramid scale step (< 1).
        gamma: Weight of the illumination-change term (0 = off).
        median_filtering: Median filter size applied to the flow (1 = none).

    Returns:
        float32 array of shape (H, W, 2).

    Raises:
        ValueError: for frames that are not 2-D, differ in shape or dtype, or have another dtype.
    """
    import cv2

    a, b = _check_frame("prev", prev), _check_frame("next", next)
    if a.shape != b.shape or a.dtype != b.dtype:
        raise ValueError(
            f"prev and next must share shape and dtype. Got {a.shape}/{a.dtype} and "
            f"{b.shape}/{b.dtype}."
        )
    algo = cv2.optflow.DualTVL1OpticalFlow_create(
        tau=tau,
        lambda_=lam,
        theta=theta,
        nscales=nscales,
        warps=warps,
        epsilon=epsilon,
        innnerIterations=inner_iterations,  # sic: OpenCV's keyword is spelled so
        outerIterations=outer_iterations,
        scaleStep=scale_step,
        gamma=gamma,
        medianFiltering=median_filtering,
    )
    return algo.calc(a, b, None).astype(np.float32, copy=False)


def flow_magnitude(flow: np.ndarray) -> np.ndarray:
    """Per-pixel end-point length ``sqrt(u^2 + v^2)`` of an (H, W, 2) flow."""
    return np.hypot(flow[..., 0], flow[..., 1])


def normalise(channels: np.ndarray, mode: str = "minmax") -> np.ndarray:
    """Normalise each channel of a (C, H, W) stack on its own.

    * ``"minmax"``: ``(x - min) / (max - min)`` into [0, 1] per image and channel, as the
      published MEGC2019 flow images (a constant channel becomes 0).
    * ``"standardise"``: ``(x - mean) / std`` per image and channel (a constant channel
      becomes 0).

    Returns:
        float32 array of the same shape.
    """
    if mode not in NORMALISATIONS:
        raise ValueError(f"Normalisation must be one of {list(NORMALISATIONS)}. Got {mode!r}.")
    x = np.asarray(channels, dtype=np.float64)
    axes = (-2, -1)
    if mode == "minmax":
        lo = x.min(axis=axes, keepdims=True)
        span = x.max(axis=axes, keepdims=True) - lo
        out = np.divide(x - lo, span, out=np.zeros_like(x), where=span > 0)
    else:
        mean = x.mean(axis=axes, keepdims=True)
        std = x.std(axis=axes, keepdims=True)
        out = np.divide(x - mean, std, out=np.zeros_like(x), where=std > 0)
    return out.astype(np.float32)


def resize_channels(channels: np.ndarray, size: int) -> np.ndarray:
    """Resize a (C, H, W) stack to (C, size, size) with area averaging (no aliasing when
    shrinking, as from a 128-pixel crop to the 28-pixel model input)."""
    import cv2

    hwc = np.ascontiguousarray(np.moveaxis(np.asarray(channels, dtype=np.float32), 0, -1))
    out = cv2.resize(hwc, (size, size), interpolation=cv2.INTER_AREA)
    if out.ndim == 2:  # OpenCV drops a single channel axis
        out = out[:, :, None]
    return np.ascontiguousarray(np.moveaxis(out, -1, 0))
