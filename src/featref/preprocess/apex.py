"""Choosing the apex frame of a clip.

Modes (``PreprocessConfig.apex``):

* ``"annotated"``: the database's apex; clips without one (SMIC-HS) use
  ``PreprocessConfig.apex_fallback`` (``"middle"`` by default, or ``"spotted"``).
* ``"middle"``: the frame half-way between onset and offset (the usual SMIC choice).
* ``"spotted"``: label-free spotting: the frame whose motion against the onset is largest
  (:func:`spot_apex`), never reading the annotated apex.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from featref.preprocess.config import APEX_MODES

__all__ = ["APEX_MODES", "apex_scores", "middle_frame", "spot_apex"]


def middle_frame(onset: int, offset: int) -> int:
    """The frame number half-way between ``onset`` and ``offset`` (rounded down)."""
    if offset < onset:
        raise ValueError(f"offset {offset} comes before onset {onset}.")
    return (onset + offset) // 2


def apex_scores(frames: Sequence[np.ndarray], *, size: int = 64) -> np.ndarray:
    """Motion of each frame against the first (the onset): mean Farnebäck flow magnitude.

    Frames are aligned grayscale crops; they are shrunk to ``size x size`` first, so scoring a
    100-frame clip costs well under a second. Farnebäck (not TV-L1) is used because only the
    ranking of frames matters here.

    Returns:
        float array of len(frames), 0 for the onset itself, smoothed over 3 frames.
    """
    import cv2

    if len(frames) == 0:
        raise ValueError("apex_scores needs at least one frame.")
    small = [cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in frames]
    ref = small[0]
    scores = np.zeros(len(small))
    for i, img in enumerate(small[1:], start=1):
        flow = cv2.calcOpticalFlowFarneback(ref, img, None, 0.5, 3, 9, 3, 5, 1.1, 0)
        scores[i] = float(np.hypot(flow[..., 0], flow[..., 1]).mean())
    if len(scores) >= 3:  # 3-tap moving average damps single-frame noise (blinks, jpeg)
        padded = np.pad(scores, 1, mode="edge")
        scores = (padded[:-2] + padded[1:-1] + padded[2:]) / 3.0
        scores[0] = 0.0
    return scores


def spot_apex(frames: Sequence[np.ndarray], *, size: int = 64) -> int:
    """Index (into ``frames``, where ``frames[0]`` is the onset) of the spotted apex.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> base = (rng.random((64, 64)) * 255).astype(np.uint8)
        >>> frames = [np.roll(base, s, axis=1) for s in (0, 1, 2, 3, 2, 1)]
        >>> spot_apex(frames)
        3
    """
    if len(frames) == 1:
        return 0
    return int(np.argmax(apex_scores(frames, size=size)))
