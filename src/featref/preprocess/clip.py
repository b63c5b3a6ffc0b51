"""One clip to model input: the per-clip maths ``featref prepare`` and ``featref predict`` share.

Per clip (:func:`compute_flow_stack`):

1. read the onset and apex frames (grayscale for flow; the detector sees the frame as stored);
2. find the face and eyes on the ONSET frame; build one similarity transform that levels the eyes
   and crops the face box plus ``margin`` to ``crop_size`` pixels; apply it to both frames;
3. TV-L1 flow onset -> apex on the crops (``cv2.optflow``); optical strain from its gradients;
4. shrink (u, v[, strain]) to ``output_size`` by area averaging; normalise each channel.

When the apex is not given, :func:`compute_spotted_flow` finds it with the label-free spotter
among the frames :func:`spotting_candidates` picks. :func:`clip_flow` does all of this for one new
clip (a folder of frames or a video file); :func:`featref.preprocess.pipeline.prepare` does it
for every sample of a database.

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

from featref.datasets.base import FRAME_SUFFIXES, frame_number, natural_key
from featref.errors import ClipError, FaceNotFoundError
from featref.preprocess.apex import apex_scores
from featref.preprocess.config import PreprocessConfig
from featref.preprocess.faces import FaceDetector
from featref.preprocess.flow import normalise, resize_channels, tvl1_flow
from featref.preprocess.strain import optical_strain

__all__ = [
    "VIDEO_SUFFIXES",
    "AlignedFlow",
    "ClipError",
    "ClipFlow",
    "ClipFrames",
    "aligned_flow",
    "clip_flow",
    "compute_flow_stack",
    "compute_spotted_flow",
    "open_clip",
    "read_frame",
    "spotting_candidates",
]

log = logging.getLogger(__name__)

#: File suffixes read as videos (through ``cv2.VideoCapture``).
VIDEO_SUFFIXES: tuple[str, ...] = (
    ".avi", ".mp4", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".wmv", ".webm",
)  # fmt: skip


# ----------------------------------------------------------------------------- the maths


def read_frame(path: str | os.PathLike, flags: int | None = None) -> np.ndarray:
    """A frame file as ``cv2.imread`` gives it (BGR uint8 by default).

    Raises:
        FileNotFoundError: for a missing or unreadable image.
    """
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR if flags is None else flags)
    if img is None:
        raise FileNotFoundError(f"{path} is missing or not a readable image")
    return img


def _gray(img: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img


def _crop_all(
    frames: Sequence[np.ndarray], cfg: PreprocessConfig, detector: FaceDetector | None
) -> tuple[list[np.ndarray], dict[str, Any]]:
    """Grayscale crops of ``frames`` with the transform found on ``frames[0]`` (the onset)."""
    import cv2

    from featref.preprocess.align import alignment_matrix, warp

    shapes = {f.shape[:2] for f in frames}
    if len(shapes) != 1:
        raise ValueError(f"the clip's frames differ in size: {sorted(shapes)}")
    grays = [_gray(f) for f in frames]
    if not cfg.align:
        size = (cfg.crop_size, cfg.crop_size)
        return [cv2.resize(g, size, interpolation=cv2.INTER_AREA) for g in grays], {}
    if detector is None:
        raise ValueError("align=True needs a face detector")
    face = detector.detect(frames[0])
    if face is None:
        raise FaceNotFoundError(f"no face found by the {detector.name!r} backend on the onset")
    matrix = alignment_matrix(face, margin=cfg.margin, size=cfg.crop_size)
    meta = {
        "face_box": [float(v) for v in face.box],
        "eyes": [list(face.left_eye), list(face.right_eye)],
        "eyes_estimated": face.eyes_estimated,
        "matrix": matrix.tolist(),
    }
    return [warp(g, matrix, cfg.crop_size) for g in grays], meta


def _flow_from_crops(onset: np.ndarray, apex: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    flow = tvl1_flow(onset, apex, **cfg.flow_params())
    chans = [flow[..., 0], flow[..., 1]]
    if cfg.strain:
        chans.append(optical_strain(flow))
    small = resize_channels(np.stack(chans), cfg.output_size)
    return normalise(small, cfg.normalisation)


def compute_flow_stack(
    onset: np.ndarray,
    apex: np.ndarray,
    cfg: PreprocessConfig,
    detector: FaceDetector | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The model input of one clip from its onset and apex frames.

    Args:
        onset: Onset frame, grayscale or BGR uint8 (as ``cv2.imread`` gives).
        apex: Apex frame of the same size.
        cfg: Settings.
        detector: Face backend (needed when ``cfg.align``).

    Returns:
        ``(stack, meta)``: float32 (C, output_size, output_size) with channels
        ``cfg.channels``, and the face box, eyes and transform used.

    Raises:
        FaceNotFoundError: when the detector finds no face on the onset frame.
    """
    (onset_c, apex_c), meta = _crop_all([onset, apex], cfg, detector)
    return _flow_from_crops(onset_c, apex_c, cfg), meta


@dataclass(frozen=True)
class AlignedFlow:
    """One clip's flow at crop resolution, before it is shrunk to the model input (what a figure
    of the clip shows).

    Attributes:
        onset_crop: Aligned grayscale onset, uint8 (crop_size, crop_size).
        apex_crop: Aligned grayscale apex, the same shape.
        u: Horizontal flow in pixels (+ right), float32 (crop_size, crop_size).
        v: Vertical flow in pixels (+ down), the same shape.
        strain: Optical strain magnitude of (u, v), the same shape.
    """

    onset_crop: np.ndarray
    apex_crop: np.ndarray
    u: np.ndarray
    v: np.ndarray
    strain: np.ndarray


def aligned_flow(
    onset: np.ndarray, apex: np.ndarray, matrix: np.ndarray, cfg: PreprocessConfig
) -> AlignedFlow:
    """TV-L1 flow onset -> apex and its strain on the crops ``matrix`` gives, at crop resolution.

    Args:
        onset: Onset frame, grayscale or BGR uint8 (as ``cv2.imread`` gives).
        apex: Apex frame of the same size.
        matrix: The 2x3 alignment transform (a cache entry's ``meta["matrix"]``).
        cfg: Settings (``crop_size`` and the TV-L1 parameters).
    """
    from featref.preprocess.align import warp

    matrix = np.asarray(matrix, dtype=np.float64)
    onset_c, apex_c = (warp(_gray(f), matrix, cfg.crop_size) for f in (onset, apex))
    flow = tvl1_flow(onset_c, apex_c, **cfg.flow_params())
    return AlignedFlow(onset_c, apex_c, flow[..., 0], flow[..., 1], optical_strain(flow))


def compute_spotted_flow(
    frames: Sequence[np.ndarray],
    cfg: PreprocessConfig,
    detector: FaceDetector | None = None,
) -> tuple[np.ndarray, int, dict[str, Any]]:
    """The model input of one clip whose apex is found by the label-free spotter.

    All frames are aligned with the transform found on ``frames[0]`` (the onset); the apex is the
    frame of largest motion against the onset (:func:`~featref.preprocess.apex.apex_scores` on
    the crops), never the onset itself when there is another frame.

    Args:
        frames: The onset frame, then the candidate frames (see :func:`spotting_candidates`).
        cfg: Settings.
        detector: Face backend (needed when ``cfg.align``).

    Returns:
        ``(stack, apex_index, meta)``: the input as :func:`compute_flow_stack` gives it, the
        index into ``frames`` of the spotted apex, and the face box, eyes and transform used.

    Raises:
        FaceNotFoundError: when the detector finds no face on the onset frame.
    """
    crops, meta = _crop_all(frames, cfg, detector)
    idx = int(np.argmax(apex_scores(crops, size=cfg.spot_size)))
    idx = max(idx, 1) if len(crops) > 1 else 0
    return _flow_from_crops(crops[0], crops[idx], cfg), idx, meta


def spotting_candidates(
    numbers: Sequence[int], onset: int, offset: int, max_frames: int
) -> list[int]:
    """Frame numbers the spotter scores: ``onset``, then at most ``max_frames - 1`` of the frames
    in ``(onset, offset]`` (all of them, or evenly spaced when there are more).

    Example:
        >>> spotting_candidates(range(1, 11), 2, 9, 4)
        [2, 3, 6, 9]
    """
    rest = [n for n in numbers if onset < n <= offset]
    if len(rest) > max_frames - 1:
        pick = np.linspace(0, len(rest) - 1, max_frames - 1).round().astype(int)
        rest = [rest[i] for i in sorted(set(pick.tolist()))]
    return [onset, *rest]


# ----------------------------------------------------------------------------- one new clip


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
                return [read_frame(self.files[n]) for n in numbers]
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
            (p for p in path.iterdir() if p.suffix.lower() in FRAME_SUFFIXES), key=natural_key
        )
        if not files:
            raise ClipError(
                f"{path}: the folder holds no frames (expected images with suffix "
                f"{'/'.join(FRAME_SUFFIXES)})."
            )
        numbers = [frame_number(p) for p in files]
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
