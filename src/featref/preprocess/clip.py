"""One new clip (a folder of frames or a video file) to model input, as ``featref prepare`` does.

The flow goes through the very functions :func:`~featref.preprocess.pipeline.prepare` uses:
:func:`~featref.preprocess.pipeline.compute_flow_stack` when the apex is given, and
:func:`~featref.preprocess.pipeline.compute_spotted_flow` over the frames chosen by
:func:`~featref.preprocess.pipeline.spotting_candidates` when it is not (label-free spotting).

Frame numbers: in a folder of numbered frames (``img46.jpg``) a frame's number is the one in its
file name, as the databases annotate clips; in a folder of unnumbered images it is the 0-based
position in natural order; in a video it is the 0-based index of the frame.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from featref.datasets.base import natural_key
from featref.errors import MerError
from featref.preprocess.faces import FaceDetector, FaceNotFoundError
from featref.preprocess.pipeline import (
    _FRAME_SUFFIXES,
    PreprocessConfig,
    _frame_number,
    _read,
    compute_flow_stack,
    compute_spotted_flow,
    spotting_candidates,
)

__all__ = ["VIDEO_SUFFIXES", "ClipError", "ClipFlow", "ClipFrames", "clip_flow", "open_clip"]

log = logging.getLogger(__name__)

#: File suffixes read as videos (through ``cv2.VideoCapture``).
VIDEO_SUFFIXES: tuple[str, ...] = (
    ".avi", ".mp4", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".wmv", ".webm",
)  # fmt: skip


class ClipError(MerError, ValueError):
    """A clip is missing, unreadable, empty, or its onset/apex frames are not in it."""


@dataclass(frozen=True)
class ClipFrames:
    """The frames of one clip, read on demand.

    Attributes:
        path: The frame folder or video file.
        kind: ``"folder"`` or ``"video"``.
        numbers: Frame numbers, in order (see the module docstring).
        files: For a folder, the frame file of each number.
    """

    path: Path
    kind: str
    numbers: tuple[int, ...]
    files: dict[int, Path] = field(default_factory=dict)

    def read(self, numbers: Sequence[int]) -> list[np.ndarray]:
        """The frames ``numbers`` as BGR uint8 arrays (as ``cv2.imread`` gives), in that order.

        Raises:
            ClipError: for a frame that cannot be read.
        """
        if self.kind == "folder":
            try:
                return [_read(self.files[n]) for n in numbers]
            except FileNotFoundError as exc:
                raise ClipError(f"{self.path}: {exc}.") from exc
        return self._read_video(numbers)

    def _read_video(self, numbers: Sequence[int]) -> list[np.ndarray]:
        import cv2

        wanted = set(numbers)
        got: dict[int, np.ndarray] = {}
        cap = cv2.VideoCapture(str(self.path))
        try:
            index = 0
            while len(got) < len(wanted):
                ok, frame = cap.read()
                if not ok:
                    break
                if index in wanted:
                    got[index] = frame
                index += 1
        finally:
            cap.release()
        missing = sorted(wanted - set(got))
        if missing:
            raise ClipError(
                f"{self.path}: frames {missing[:5]} could not be decoded (the video has "
                f"{len(self.numbers)} frames by count). Re-encode it or pass a frame folder."
            )
        return [got[n] for n in numbers]


def open_clip(path: str | os.PathLike) -> ClipFrames:
    """List the frames of a clip: a folder of images, or a video file.

    Raises:
        ClipError: for a missing path, a folder without images, or a video OpenCV cannot read.
    """
    path = Path(path).expanduser().resolve()
    if path.is_dir():
        files = sorted(
            (p for p in path.iterdir() if p.suffix.lower() in _FRAME_SUFFIXES), key=natural_key
        )
        if not files:
            raise ClipError(
                f"{path}: the folder holds no frames (expected images with suffix "
                f"{'/'.join(_FRAME_SUFFIXES)})."
            )
        numbers = [_frame_number(p) for p in files]
        if None in numbers or len(set(numbers)) != len(numbers):  # unnumbered: positions
            numbers = list(range(len(files)))
        return ClipFrames(path, "folder", tuple(numbers), dict(zip(numbers, files)))  # type: ignore[arg-type]
    if path.is_file():
        if path.suffix.lower() not in VIDEO_SUFFIXES:
            raise ClipError(
                f"{path}: not a frame folder or a video file (video suffixes: "
                f"{', '.join(VIDEO_SUFFIXES)})."
            )
        count = _count_video_frames(path)
        if count == 0:
            raise ClipError(
                f"{path}: OpenCV could not read any frame of this video. Check the file, or "
                "extract its frames into a folder (e.g. with ffmpeg) and pass the folder."
            )
        return ClipFrames(path, "video", tuple(range(count)))
    raise ClipError(f"Clip {path} does not exist (expected a frame folder or a video file).")


def _count_video_frames(path: Path) -> int:
    """Frames that decode (the container's frame count is not trusted)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            return 0
        count = 0
        while cap.grab():
            count += 1
        return count
    finally:
        cap.release()


@dataclass(frozen=True)
class ClipFlow:
    """The model input of one clip.

    Attributes:
        clip: The clip's path.
        flow: float32 (C, output_size, output_size) with channels ``channels``.
        channels: Channel names (``PreprocessConfig.channels``).
        onset: Onset frame number.
        apex: Apex frame number.
        apex_source: ``"given"`` or ``"spotted"``.
        meta: Face box, eyes and the alignment transform used.
    """

    clip: Path
    flow: np.ndarray
    channels: tuple[str, ...]
    onset: int
    apex: int
    apex_source: str
    meta: dict[str, Any]


def clip_flow(
    clip: str | os.PathLike | ClipFrames,
    cfg: PreprocessConfig,
    detector: FaceDetector | None = None,
    *,
    onset: int | None = None,
    apex: int | None = None,
    offset: int | None = None,
) -> ClipFlow:
    """Compute the flow input of one clip with the settings ``cfg``.

    Args:
        clip: A frame folder or video file (or an opened :class:`ClipFrames`).
        cfg: Preprocessing settings (a checkpoint's, so the input matches its training data).
        detector: Face backend (needed when ``cfg.align``).
        onset: Onset frame number (default: the first frame).
        apex: Apex frame number; ``None`` finds it with the label-free spotter among the frames
            after the onset (at most ``cfg.spot_max_frames``, evenly spaced).
        offset: Last frame the spotter considers (default: the last frame).

    Returns:
        A :class:`ClipFlow`.

    Raises:
        ClipError: for a missing or unreadable clip, or onset/apex/offset not in it.
        FaceNotFoundError: when no face is found on the onset frame; the message names the clip.
    """
    frames = clip if isinstance(clip, ClipFrames) else open_clip(clip)
    numbers = frames.numbers
    first, last = numbers[0], numbers[-1]
    onset = first if onset is None else onset
    offset = last if offset is None else offset
    known = set(numbers)
    for name, value in (("onset", onset), ("apex", apex), ("offset", offset)):
        if value is not None and value not in known:
            raise ClipError(
                f"{frames.path}: there is no {name} frame {value}; its {len(numbers)} frames "
                f"are numbered {first}..{last}."
            )
    if apex is not None and apex <= onset:
        raise ClipError(f"{frames.path}: the apex ({apex}) must come after the onset ({onset}).")
    if offset <= onset and apex is None:
        raise ClipError(
            f"{frames.path}: no frame after the onset ({onset}) up to the offset ({offset}) to "
            "spot the apex in; give --apex or a later --offset."
        )
    try:
        if apex is not None:
            onset_img, apex_img = frames.read([onset, apex])
            stack, meta = compute_flow_stack(onset_img, apex_img, cfg, detector)
            source = "given"
        else:
            picked = spotting_candidates(numbers, onset, offset, cfg.spot_max_frames)
            stack, idx, meta = compute_spotted_flow(frames.read(picked), cfg, detector)
            apex, source = picked[idx], "spotted"
    except FaceNotFoundError as exc:
        backend = getattr(detector, "name", cfg.face_backend)
        raise FaceNotFoundError(
            f"{frames.path}: no face found in this clip (the {backend!r} face backend found none "
            f"on the onset frame {onset}). Check that the clip shows a frontal face, or try "
            "another --face-backend."
        ) from exc
    except ValueError as exc:  # frames of different sizes
        raise ClipError(f"{frames.path}: {exc}.") from exc
    log.info("%s: onset %d, apex %d (%s).", frames.path, onset, apex, source)
    return ClipFlow(frames.path, stack, cfg.channels, onset, int(apex), source, meta)
