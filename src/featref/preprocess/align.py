"""Eye-based alignment and cropping.

One similarity transform (rotation + uniform scale + shift) is computed from the face found on
the ONSET frame and applied unchanged to every other frame of the clip (the apex), so the flow
between them measures facial motion, not a change of crop.

The transform rotates about the centre of the face box so the eyes are level, and maps a square
of side ``max(w, h) * (1 + 2 * margin)`` centred on the box onto ``size x size`` pixels.
"""

from __future__ import annotations

import numpy as np

from featref.preprocess.faces import Face

__all__ = ["align_pair", "alignment_matrix", "transform_points", "warp"]


def alignment_matrix(face: Face, *, margin: float = 0.1, size: int = 128) -> np.ndarray:
    """The 2x3 affine matrix (source -> crop) that levels the eyes and crops the face.

    Args:
        face: The face found on the reference (onset) frame.
        margin: Extra border on each side, as a fraction of the face box side.
        size: Side of the square crop in pixels.

    Returns:
        A float64 array of shape (2, 3) for ``cv2.warpAffine``.
    """
    if size < 1 or margin < 0:
        raise ValueError(f"Need size >= 1 and margin >= 0. Got size={size}, margin={margin}.")
    x, y, w, h = face.box
    cx, cy = x + (w - 1) / 2.0, y + (h - 1) / 2.0  # pixel centres at integer coordinates
    side = max(w, h) * (1.0 + 2.0 * margin)
    scale = size / side
    angle = face.eye_angle
    c, s = np.cos(angle), np.sin(angle)
    rot = scale * np.array([[c, s], [-s, c]])  # rotation by -angle: the eye line becomes level
    shift = np.array([(size - 1) / 2.0, (size - 1) / 2.0]) - rot @ np.array([cx, cy])
    return np.hstack([rot, shift[:, None]])


def transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine ``matrix`` to ``(N, 2)`` points."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return pts @ matrix[:, :2].T + matrix[:, 2]


def warp(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Resample ``image`` through ``matrix`` into a ``size x size`` crop (bilinear, edge pixels
    replicated outside the frame)."""
    import cv2

    return cv2.warpAffine(
        image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def align_pair(
    onset: np.ndarray,
    apex: np.ndarray,
    face: Face,
    *,
    margin: float = 0.1,
    size: int = 128,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Crop the onset and apex frames with the SAME transform, computed from ``face``.

    Args:
        onset: The onset frame (where ``face`` was found).
        apex: The apex frame, same shape as ``onset``.
        face: Face detected on the onset frame.
        margin: See :func:`alignment_matrix`.
        size: See :func:`alignment_matrix`.

    Returns:
        ``(onset_crop, apex_crop, matrix)``.
    """
    if onset.shape != apex.shape:
        raise ValueError(
            f"Onset and apex frames differ in shape: {onset.shape} vs {apex.shape}; a clip's "
            "frames must share one size."
        )
    matrix = alignment_matrix(face, margin=margin, size=size)
    return warp(onset, matrix, size), warp(apex, matrix, size), matrix
