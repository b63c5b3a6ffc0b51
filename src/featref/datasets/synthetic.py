"""Synthetic micro-expression video clips written as a CASME II database.

Anyone can see the whole pipeline work without licensed data: this module renders short
200 fps face clips from two real photographs that installed packages ship, and writes them in
CASME II's own layout (``CASME2_RAW_selected/subXX/EPxx_xx/imgN.jpg`` plus the coding
spreadsheet with the official columns). The :class:`~featref.datasets.casme2.Casme2` reader,
face detection, alignment, TV-L1 flow and the cache then treat them exactly like the real
database: nothing is short-circuited.

How a clip is made:

* **Faces.** Two public-domain portraits: ``skimage.data.astronaut()`` (Eileen Collins, NASA) and
  matplotlib's ``grace_hopper.jpg`` (US Navy). Their landmarks (eye centres, brows, mouth) are
  facts measured by hand on zoomed crops and hard-coded in :data:`BASE_FACES`; OpenCV's Haar
  eye cascade finds the astronaut's eyes within 2 px of them.
* **Identity.** Each subject is one base face with its own geometry (eye distance, anisotropic
  scale, a smooth random warp of the face shape, mirroring), skin tone (a CIELAB shift),
  lighting (a directional shading gradient), pose (in-plane roll, position), sensor noise
  level and micro-expression amplitude.
* **Motion.** Action-unit-like local deformations: Gaussian-windowed displacement fields placed
  relative to the face's landmarks, applied with one ``cv2.remap`` per frame. Each class is a
  distinct set of action units (:data:`CLASS_AUS`): surprise = AU1+AU2 (inner and outer brow
  raise), positive = AU12 (lip-corner pull), negative = AU4 (brow lowerer), alone or with AU24
  (lip press). Timing follows micro-expressions at 200 fps: onset -> apex in 70-130 ms (14-26
  frames), apex -> offset in 100-200 ms (20-40 frames), raised-cosine profiles; the largest
  displacement at the apex is 2-4 pixels for a 48-pixel eye distance (1.5-5 pixels in all).
* **Nuisances** (independent of the class): smooth head-motion jitter (sub-pixel translation
  and roll), sensor noise, a lighting flicker and JPEG compression.

Frames are 192x192 colour JPEGs; the Haar face box is 100-125 pixels wide (eye distance 38-60
pixels), close to the 128-pixel crops the flow is computed on, so TV-L1 is fast. Every subject's
neutral face is checked to be well within the Haar detector's reach (:func:`make_subject`).

What is *not* realistic: the motion is a 2-D warp of a still photograph (no 3-D shape, no
wrinkles or shading change), the two photographs are the only identities behind all subjects,
and every clip shows exactly one clean expression.

Example:
    >>> from featref.datasets.synthetic import SyntheticConfig
    >>> SyntheticConfig(subjects=2, clips_per_class=1).num_clips
    6
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import io
import json
import logging
import math
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from featref.atomic import atomic_write_bytes, atomic_write_text
from featref.errors import ConfigError

__all__ = [
    "AU_FIELDS",
    "BASE_FACES",
    "CLASS_AUS",
    "GENERATOR_VERSION",
    "MARKER",
    "MIN_FACE_NEIGHBOURS",
    "BaseFace",
    "ClipSpec",
    "Subject",
    "SyntheticConfig",
    "base_image",
    "clip_specs",
    "make_subject",
    "neutral_frame",
    "read_marker",
    "render_clip",
    "write_casme2",
]

log = logging.getLogger(__name__)

#: Bump when the frames a configuration produces change (a stored database is then rebuilt).
GENERATOR_VERSION = 1
#: File at the database root that records how it was generated.
MARKER = "featref_synthetic.json"
#: Overlapping Haar detections a subject's neutral face needs (OpenCV's default asks for 3,
#: featref's Haar backend for 5): the margin that keeps every noisy frame detectable.
MIN_FACE_NEIGHBOURS = 15
_MAX_DRAWS = 30
_CODING = "CASME2-coding-20140508.xlsx"
_FRAMES = "CASME2_RAW_selected"

#: MEGC2019 class -> ((CASME II emotion word, action units), ...); a class's clips cycle through
#: its entries. The AU strings use CASME II's notation and name the AUs the clips really show.
CLASS_AUS: dict[str, tuple[tuple[str, str], ...]] = {
    "surprise": (("surprise", "1+2"),),
    "positive": (("happiness", "12"),),
    "negative": (("disgust", "4"), ("repression", "4+24")),
}


@dataclass(frozen=True)
class BaseFace:
    """A face photograph and its landmarks, in that image's pixels (x, y).

    ``face_width`` is the side of the box OpenCV's Haar frontal-face cascade finds on the
    photograph. Left and right are as seen in the image (``eye_l`` is the subject's right eye).
    """

    name: str
    face_width: float
    eye_l: tuple[float, float]
    eye_r: tuple[float, float]
    brow_inner_l: tuple[float, float]
    brow_inner_r: tuple[float, float]
    brow_outer_l: tuple[float, float]
    brow_outer_r: tuple[float, float]
    mouth_l: tuple[float, float]
    mouth_r: tuple[float, float]
    lip_upper: tuple[float, float]
    lip_lower: tuple[float, float]

    def points(self) -> dict[str, np.ndarray]:
        """Landmarks by name as float arrays."""
        return {
            f.name: np.array(getattr(self, f.name), dtype=np.float64)
            for f in dataclasses.fields(self)
            if f.name not in ("name", "face_width")
        }


#: Landmarks measured by hand on 3x and 6x zoomed crops (pixel grid overlaid) of the images the
#: packages ship: skimage 0.26 ``data.astronaut()`` (512x512) and matplotlib 3.11
#: ``sample_data/grace_hopper.jpg`` (512 wide, 600 high). Grace Hopper's brows are behind the
#: top of her glasses' frame; the points are on that frame. The face widths are the Haar boxes
#: (``HaarDetector().detect``): astronaut (177, 66, 95, 95), Grace Hopper (155, 105, 222, 222).
BASE_FACES: dict[str, BaseFace] = {
    "astronaut": BaseFace(
        name="astronaut",
        face_width=95.0,
        eye_l=(201.7, 100.8),
        eye_r=(245.8, 103.7),
        brow_inner_l=(211.0, 93.0),
        brow_inner_r=(239.5, 93.5),
        brow_outer_l=(191.5, 92.5),
        brow_outer_r=(256.5, 94.0),
        mouth_l=(203.5, 141.0),
        mouth_r=(244.0, 141.5),
        lip_upper=(223.5, 140.0),
        lip_lower=(223.5, 151.0),
    ),
    "grace_hopper": BaseFace(
        name="grace_hopper",
        face_width=222.0,
        eye_l=(220.0, 188.0),
        eye_r=(305.0, 185.0),
        brow_inner_l=(246.5, 181.5),
        brow_inner_r=(283.5, 178.5),
        brow_outer_l=(187.0, 180.0),
        brow_outer_r=(336.5, 175.0),
        mouth_l=(238.0, 277.0),
        mouth_r=(297.0, 275.0),
        lip_upper=(268.0, 273.5),
        lip_lower=(268.0, 290.0),
    ),
}

#: Action unit -> ((landmark, sigma in eye distances, (dx, dy) as a fraction of the clip's
#: amplitude; dx > 0 points away from the face's midline), ...). The content at a landmark moves
#: by (dx, dy) * amplitude at the apex; the displacement fades with a Gaussian window.
AU_FIELDS: dict[str, tuple[tuple[str, float, tuple[float, float]], ...]] = {
    "1": (("brow_inner", 0.22, (0.0, -1.0)),),  # inner brow raiser
    "2": (("brow_outer", 0.22, (0.0, -1.0)),),  # outer brow raiser
    "4": (("brow_inner", 0.22, (-0.6, 0.8)), ("brow_outer", 0.25, (0.0, 0.5))),  # brow lowerer
    "12": (("mouth", 0.20, (0.7, -0.7)),),  # lip corner puller
    "24": (("lip_upper", 0.18, (0.0, 0.6)), ("lip_lower", 0.18, (0.0, -0.7))),  # lip pressor
}


@dataclass(frozen=True)
class SyntheticConfig:
    """What to generate (every field is recorded in the database's marker file).

    Args:
        subjects: Number of subjects (``sub01`` ...); at least 2 for leave-one-subject-out.
        clips_per_class: Clips of each of the 3 classes per subject.
        seed: Random seed; the same configuration gives the same frames, byte for byte.
        size: Side of the square frames in pixels.
        fps: Frame rate the timing is expressed at (CASME II: 200).
        jpeg_quality: JPEG quality of the frames.
        au_scale: Scale of the action-unit displacements; 0 renders clips with no expression
            at all (every other random draw unchanged), a control for tests.
    """

    subjects: int = 12
    clips_per_class: int = 3
    seed: int = 0
    size: int = 192
    fps: int = 200
    jpeg_quality: int = 95
    au_scale: float = 1.0

    def __post_init__(self) -> None:
        checks = {
            "subjects": (self.subjects >= 1, "at least 1"),
            "clips_per_class": (self.clips_per_class >= 1, "at least 1"),
            "size": (96 <= self.size <= 1024, "between 96 and 1024"),
            "fps": (self.fps >= 25, "at least 25"),
            "jpeg_quality": (50 <= self.jpeg_quality <= 100, "between 50 and 100"),
            "au_scale": (0 <= self.au_scale <= 3, "between 0 and 3"),
        }
        for key, (ok, expected) in checks.items():
            if not ok:
                raise ConfigError(
                    f"`{key}` of the synthetic clips must be {expected}. "
                    f"Got {getattr(self, key)!r}."
                )

    @property
    def num_clips(self) -> int:
        """Clips in the database."""
        return self.subjects * self.clips_per_class * len(CLASS_AUS)

    def to_dict(self) -> dict[str, Any]:
        """Plain settings plus the generator version (what the marker records)."""
        return {**dataclasses.asdict(self), "generator_version": GENERATOR_VERSION}


@dataclass(frozen=True)
class Subject:
    """One synthetic identity: a base face prepared once, plus its per-frame nuisance levels.

    Attributes:
        index: 1-based subject number.
        image: The subject's base image (float32 BGR in [0, 1]): the photograph resized, maybe
            mirrored, with its skin tone and lighting applied.
        to_frame: 2x3 affine map from ``image`` pixels to frame pixels (scale, roll, position).
        warp: (size, size, 2) smooth displacement (frame pixels) changing the face's shape.
        landmarks: Landmark positions in frame pixels (``"eye_l"``, ``"mouth_r"``...).
        eye_distance: Distance between the eyes in frame pixels.
        noise: Standard deviation of the sensor noise (grey levels).
        flicker: Relative amplitude of the lighting flicker.
        jitter: Amplitude of the head-motion jitter (pixels).
        amplitude: Scale of this subject's micro-expression displacements.
    """

    index: int
    image: np.ndarray
    to_frame: np.ndarray
    warp: np.ndarray
    landmarks: dict[str, np.ndarray]
    eye_distance: float
    noise: float
    flicker: float
    jitter: float
    amplitude: float


@dataclass(frozen=True)
class ClipSpec:
    """One clip: where it goes, what it shows and its timing.

    ``onset``, ``apex`` and ``offset`` are CASME II frame numbers (of the ``imgN.jpg`` names);
    the clip's frames are ``onset`` .. ``offset``.
    """

    subject: int
    clip: str
    megc_class: str
    emotion: str
    action_units: str
    onset: int
    apex: int
    offset: int
    index: int

    @property
    def num_frames(self) -> int:
        return self.offset - self.onset + 1


# ----------------------------------------------------------------------------- base faces


@lru_cache(maxsize=4)
def base_image(name: str) -> np.ndarray:
    """The photograph of base face ``name`` as BGR uint8 (read from the installed packages).

    Raises:
        ConfigError: for an unknown name.
    """
    import cv2

    if name == "astronaut":
        import skimage.data

        img = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    elif name == "grace_hopper":
        import matplotlib.cbook

        path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise ConfigError(f"matplotlib's sample image {path} could not be read.")
    else:
        raise ConfigError(f"Unknown base face {name!r}. Available: {sorted(BASE_FACES)}.")
    img.setflags(write=False)
    return img


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(k) for k in key]))


def _affine_apply(m: np.ndarray, p: np.ndarray) -> np.ndarray:
    return p @ m[:, :2].T + m[:, 2]


def _affine_inverse(m: np.ndarray) -> np.ndarray:
    a = np.linalg.inv(m[:, :2])
    return np.hstack([a, -(a @ m[:, 2])[:, None]])


def _sample(field: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear samples of a (H, W, C) float32 field at float coordinates (edges replicated)."""
    import cv2

    return cv2.remap(
        field, x.astype(np.float32), y.astype(np.float32), cv2.INTER_LINEAR, cv2.BORDER_REPLICATE
    )


def make_subject(index: int, cfg: SyntheticConfig) -> Subject:
    """Draw subject ``index`` (1-based) of ``cfg``: its base face and identity variation.

    Identities are drawn until OpenCV's Haar frontal-face cascade finds the subject's neutral,
    noise-free face with a wide margin (at least :data:`MIN_FACE_NEIGHBOURS` overlapping
    detections), so the face stays detectable in every noisy, moving frame of its clips.
    """
    rng = _rng(cfg.seed, 1, index)
    subject = _draw_subject(rng, index, cfg)
    for _ in range(_MAX_DRAWS - 1):
        if _detectable(neutral_frame(subject, cfg)):
            break
        subject = _draw_subject(rng, index, cfg)
    else:
        log.warning("Subject %d: no easily detectable identity in %d draws.", index, _MAX_DRAWS)
    return subject


def _detectable(frame: np.ndarray) -> bool:
    import cv2

    cascade = _cascade()
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    faces = cascade.detectMultiScale(gray, 1.1, MIN_FACE_NEIGHBOURS, minSize=(40, 40))
    return len(faces) > 0


@lru_cache(maxsize=1)
def _cascade():
    import cv2

    path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise ConfigError(f"OpenCV's Haar cascade {path} could not be read; reinstall OpenCV.")
    return cascade


def _photo_map(subject: Subject, rx: np.ndarray, ry: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Photograph coordinates of the face positions ``(rx, ry)`` (shape warp, then placement)."""
    from_frame = _affine_inverse(subject.to_frame)
    wd = _sample(subject.warp, rx, ry)
    wx, wy = rx + wd[..., 0], ry + wd[..., 1]
    mx = from_frame[0, 0] * wx + from_frame[0, 1] * wy + from_frame[0, 2]
    my = from_frame[1, 0] * wx + from_frame[1, 1] * wy + from_frame[1, 2]
    return mx.astype(np.float32), my.astype(np.float32)


def _remap_photo(subject: Subject, mx: np.ndarray, my: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.remap(subject.image, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def neutral_frame(subject: Subject, cfg: SyntheticConfig) -> np.ndarray:
    """The subject's face at rest: no action unit, jitter, flicker or noise (BGR uint8)."""
    yy, xx = np.mgrid[0 : cfg.size, 0 : cfg.size].astype(np.float32)
    frame = _remap_photo(subject, *_photo_map(subject, xx, yy))
    return np.clip(frame * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _draw_subject(rng: np.random.Generator, index: int, cfg: SyntheticConfig) -> Subject:
    import cv2

    size = cfg.size
    names = sorted(BASE_FACES)
    face = BASE_FACES[names[(index - 1) % len(names)]]
    img = base_image(face.name).astype(np.float32) / 255.0
    pts = face.points()
    # Mirror every other pair of subjects (left and right landmarks swap).
    if rng.random() < 0.5:
        img = img[:, ::-1]
        w = img.shape[1]
        flipped = {}
        for k, p in pts.items():
            q = np.array([w - 1 - p[0], p[1]])
            swap = k[:-2] + ("_r" if k.endswith("_l") else "_l") if k[-2:] in ("_l", "_r") else k
            flipped[swap] = q
        pts = flipped
    # Geometry: face size (Haar box 100-125 px in a 192-px frame), roll, anisotropic scale and
    # position in the frame.
    d_base = float(np.linalg.norm(pts["eye_r"] - pts["eye_l"]))
    d_target = rng.uniform(100.0, 125.0) * size / 192.0 * d_base / face.face_width
    # Pre-scale the photograph close to the target size (area filter: no aliasing).
    k = d_target / d_base
    img = cv2.resize(img, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    pts = {n: p * k for n, p in pts.items()}
    mid = (pts["eye_l"] + pts["eye_r"]) / 2
    base_angle = math.atan2(*(pts["eye_r"] - pts["eye_l"])[::-1])
    roll = math.radians(rng.uniform(-3.0, 3.0))
    sx, sy = rng.uniform(0.93, 1.07, size=2)
    centre = np.array([size / 2 + rng.uniform(-6, 6), 0.42 * size + rng.uniform(-6, 6)])
    c, s = math.cos(roll - base_angle), math.sin(roll - base_angle)
    rot = np.array([[c, -s], [s, c]])
    lin = rot @ np.diag([sx, sy])
    to_frame = np.hstack([lin, (centre - lin @ mid)[:, None]])
    # Skin tone (CIELAB shift) and lighting (directional shading) on the photograph.
    lab = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_BGR2LAB)
    lab[..., 0] = np.clip(lab[..., 0] * rng.uniform(0.92, 1.08) + rng.uniform(-4, 8), 0, 100)
    lab[..., 1] += rng.uniform(-6, 8)
    lab[..., 2] += rng.uniform(-10, 12)
    img = cv2.cvtColor(lab, cv2.COLOR_LAB2BGR)
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    phi = rng.uniform(0, 2 * math.pi)
    ramp = ((xx - mid[0]) * math.cos(phi) + (yy - mid[1]) * math.sin(phi)) / (3 * d_target)
    shade = np.clip(1 + rng.uniform(0.08, 0.3) * ramp, 0.6, 1.4)
    img = np.clip(img * shade[..., None], 0, 1).astype(np.float32)
    # Face shape: a smooth random warp (a 4x4 grid of displacements, cubic upsampling).
    coarse = rng.normal(0, 0.012 * size, size=(4, 4, 2)).astype(np.float32)
    warp = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    # Landmarks in frame pixels: solve p + warp(p) = to_frame(l) by fixed-point iteration.
    landmarks = {}
    for name, p in pts.items():
        target = _affine_apply(to_frame, p[None])[0]
        q = target.copy()
        for _ in range(8):
            disp = _sample(warp, np.array([[q[0]]]), np.array([[q[1]]]))[0, 0]
            q = target - disp
        landmarks[name] = q
    return Subject(
        index=index,
        image=np.ascontiguousarray(img),
        to_frame=to_frame,
        warp=warp,
        landmarks=landmarks,
        eye_distance=float(np.linalg.norm(landmarks["eye_r"] - landmarks["eye_l"])),
        noise=float(rng.uniform(1.5, 3.0)),
        flicker=float(rng.uniform(0.004, 0.015)),
        jitter=float(rng.uniform(0.2, 0.6)),
        amplitude=float(rng.uniform(0.85, 1.15)),
    )


# ----------------------------------------------------------------------------- clips


def clip_specs(cfg: SyntheticConfig) -> list[ClipSpec]:
    """Every clip of the database, subject by subject (deterministic for ``cfg``)."""
    specs = []
    classes = list(CLASS_AUS)
    for subject in range(1, cfg.subjects + 1):
        rng = _rng(cfg.seed, 2, subject)
        order = [(c, k) for k in range(cfg.clips_per_class) for c in classes]
        order = [order[i] for i in rng.permutation(len(order))]
        for i, (cls, k) in enumerate(order):
            emotion, aus = CLASS_AUS[cls][k % len(CLASS_AUS[cls])]
            scale = cfg.fps / 200.0
            rise = max(2, round(rng.integers(14, 27) * scale))
            fall = max(2, round(rng.integers(20, 41) * scale))
            onset = int(rng.integers(1, 300))
            specs.append(
                ClipSpec(
                    subject=subject,
                    clip=f"EP{i + 1:02d}_{k + 1:02d}",
                    megc_class=cls,
                    emotion=emotion,
                    action_units=aus,
                    onset=onset,
                    apex=onset + rise,
                    offset=onset + rise + fall,
                    index=i,
                )
            )
    return specs


def _profile(n: int, rise: int) -> np.ndarray:
    """Raised-cosine activation: 0 at the onset (frame 0), 1 at the apex, 0 at the last frame."""
    t = np.arange(n, dtype=np.float64)
    fall = max(1, n - 1 - rise)
    up = 0.5 * (1 - np.cos(np.pi * np.clip(t / max(rise, 1), 0, 1)))
    down = 0.5 * (1 + np.cos(np.pi * np.clip((t - rise) / fall, 0, 1)))
    return np.where(t <= rise, up, down)


def _smooth_walk(rng: np.random.Generator, n: int, amplitude: float, fps: int) -> np.ndarray:
    """A smooth random trajectory of ``n`` frames with peak ``amplitude`` (zero mean).

    A random walk smoothed over about 45 ms (9 frames at 200 fps), whatever the frame rate.
    """
    width = max(3, round(0.045 * fps) | 1)
    steps = rng.normal(size=n + width)
    kernel = np.hanning(width + 2)[1:-1]
    walk = np.convolve(np.cumsum(steps), kernel / kernel.sum(), mode="valid")[:n]
    walk = walk - walk.mean()
    peak = np.abs(walk).max()
    return walk * (amplitude / peak) if peak > 0 else walk


def _au_field(subject: Subject, aus: str, amplitude: float, rng: np.random.Generator, size: int):
    """The (size, size, 2) apex displacement of action units ``aus`` in frame pixels.

    Its largest displacement is ``amplitude`` pixels.
    """
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    field = np.zeros((size, size, 2), dtype=np.float64)
    lm = subject.landmarks
    midline = (lm["eye_l"][0] + lm["eye_r"][0]) / 2
    d = subject.eye_distance
    for au in aus.split("+"):
        for point, sigma, (dx, dy) in AU_FIELDS[au]:
            names = [point] if point in lm else [f"{point}_l", f"{point}_r"]
            for name in names:
                centre = lm[name] + rng.normal(0, 0.03 * d, size=2)
                side = 1.0 if centre[0] >= midline else -1.0  # dx points away from the midline
                gain = amplitude * rng.uniform(0.85, 1.15)  # slight asymmetry
                sig = sigma * d
                win = np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * sig**2))
                field[..., 0] += win * dx * side * gain
                field[..., 1] += win * dy * gain
    peak = float(np.sqrt((field**2).sum(-1)).max())
    if peak > 0:  # overlapping windows add up: the clip's amplitude is its peak displacement
        field *= amplitude / peak
    return field.astype(np.float32)


def render_clip(subject: Subject, spec: ClipSpec, cfg: SyntheticConfig) -> Iterator[np.ndarray]:
    """The frames of one clip, onset to offset, as BGR uint8 (cfg.size x cfg.size).

    Each frame is one ``cv2.remap`` of the subject's photograph through: head-motion jitter ->
    action-unit displacement (scaled by the raised-cosine activation) -> face-shape warp ->
    the subject's placement; then the lighting flicker and sensor noise are added.
    """

    size = cfg.size
    rng = _rng(cfg.seed, 3, spec.subject, spec.index)
    n = spec.num_frames
    act = _profile(n, spec.apex - spec.onset)
    amp = rng.uniform(2.2, 3.4) * subject.amplitude * subject.eye_distance / 48.0 * cfg.au_scale
    au = _au_field(subject, spec.action_units, amp, rng, size)
    # head-motion jitter: smooth translation and roll about the face centre
    tx = _smooth_walk(rng, n, subject.jitter, cfg.fps)
    ty = _smooth_walk(rng, n, subject.jitter, cfg.fps)
    roll = _smooth_walk(rng, n, math.radians(0.25), cfg.fps)
    flick_f = rng.uniform(3.0, 12.0) / cfg.fps
    flick_phase = rng.uniform(0, 2 * math.pi)
    gain = 1 + subject.flicker * np.sin(2 * math.pi * flick_f * np.arange(n) + flick_phase)
    centre = (subject.landmarks["eye_l"] + subject.landmarks["eye_r"]) / 2
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    for t in range(n):
        # frame pixel p -> face position q (undo the jitter)
        c, s = math.cos(-roll[t]), math.sin(-roll[t])
        px, py = xx - tx[t] - centre[0], yy - ty[t] - centre[1]
        qx = c * px - s * py + centre[0]
        qy = s * px + c * py + centre[1]
        # q -> r: the content at r moved to q (backward action-unit displacement)
        disp = _sample(au, qx, qy)
        rx = qx - act[t] * disp[..., 0]
        ry = qy - act[t] * disp[..., 1]
        # r -> photograph: the face-shape warp, then the subject's placement
        frame = _remap_photo(subject, *_photo_map(subject, rx, ry))
        noise = rng.normal(0, subject.noise, size=(size, size, 1)).astype(np.float32)
        out = frame * (255.0 * gain[t]) + noise
        yield np.clip(out + 0.5, 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------- database


def read_marker(root: str | os.PathLike) -> dict[str, Any] | None:
    """The generation record of a synthetic database at ``root``, or ``None`` when absent."""
    path = Path(root) / MARKER
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _database_complete(root: Path, cfg: SyntheticConfig) -> bool:
    marker = read_marker(root)
    if not marker or not marker.get("complete") or marker.get("config") != cfg.to_dict():
        return False
    if not (root / _CODING).is_file():
        return False
    for spec in clip_specs(cfg):
        folder = root / _FRAMES / f"sub{spec.subject:02d}" / spec.clip
        if not folder.is_dir() or len(list(folder.glob("img*.jpg"))) != spec.num_frames:
            return False
    return True


def _write_coding(path: Path, specs: Sequence[ClipSpec]) -> None:
    """The coding spreadsheet with CASME II's columns (and its blank columns)."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    ws.append(
        [
            "Subject",
            "Filename",
            None,
            "OnsetFrame",
            "ApexFrame",
            "OffsetFrame",
            None,
            "Action Units",
            "Estimated Emotion",
        ]
    )
    for s in specs:
        ws.append(
            [
                f"{s.subject:02d}",
                s.clip,
                None,
                s.onset,
                s.apex,
                s.offset,
                None,
                s.action_units,
                s.emotion,
            ]
        )
    buf = io.BytesIO()
    wb.save(buf)
    atomic_write_bytes(path, buf.getvalue())


def _write_subject(root: str, cfg: SyntheticConfig, index: int) -> int:
    """Render and write every clip of subject ``index``; returns the number of clips."""
    import cv2

    subject = make_subject(index, cfg)
    specs = [s for s in clip_specs(cfg) if s.subject == index]
    params = [cv2.IMWRITE_JPEG_QUALITY, cfg.jpeg_quality]
    for spec in specs:
        folder = Path(root) / _FRAMES / f"sub{index:02d}" / spec.clip
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("img*.jpg"):
            old.unlink()
        for n, frame in enumerate(render_clip(subject, spec, cfg), start=spec.onset):
            ok, buf = cv2.imencode(".jpg", frame, params)
            if not ok:
                raise OSError(f"JPEG encoding of frame {n} of sub{index:02d}/{spec.clip} failed")
            (folder / f"img{n}.jpg").write_bytes(buf.tobytes())
    return len(specs)


def _worker_init() -> None:
    import cv2

    cv2.setNumThreads(1)


def write_casme2(
    root: str | os.PathLike,
    cfg: SyntheticConfig | None = None,
    *,
    workers: int = 1,
    progress: bool | None = None,
) -> bool:
    """Write (or reuse) a synthetic database in CASME II's layout at ``root``.

    Writes ``CASME2-coding-20140508.xlsx`` (columns ``Subject, Filename, OnsetFrame,
    ApexFrame, OffsetFrame, Action Units, Estimated Emotion``),
    ``CASME2_RAW_selected/subXX/EPxx_xx/imgN.jpg`` and the marker :data:`MARKER`. Read it
    with ``Casme2(root)``; its emotions map onto the 3 MEGC2019 classes.

    Args:
        root: The database folder (created if needed).
        cfg: What to generate (defaults when ``None``).
        workers: Processes rendering subjects in parallel.
        progress: Show a tqdm bar (``None``: only when stderr is a terminal).

    Returns:
        ``True`` when the database was written, ``False`` when a complete one made with the
        same configuration was already there (reused).

    Raises:
        ConfigError: when ``root`` holds files that are not a synthetic database, or one made
            with another configuration (it is never overwritten), or ``workers < 1``.
    """
    from tqdm.auto import tqdm

    cfg = cfg or SyntheticConfig()
    if workers < 1:
        raise ConfigError(f"`workers` must be at least 1. Got {workers}.")
    root = Path(root).expanduser().resolve()
    if _database_complete(root, cfg):
        log.info("Reusing the synthetic database at %s.", root)
        return False
    marker = read_marker(root)
    if marker is None and root.is_dir() and any(root.iterdir()):
        raise ConfigError(
            f"{root} is not empty and holds no {MARKER}: it is not a synthetic database made by "
            "featref, so it is not overwritten. Choose another folder (e.g. another "
            "--output-dir)."
        )
    if marker is not None and marker.get("config") != cfg.to_dict():
        raise ConfigError(
            f"{root} holds a synthetic database made with {marker.get('config')}; this asks for "
            f"{cfg.to_dict()}. Use another folder (e.g. another --output-dir), or delete {root} "
            "to rebuild it."
        )
    root.mkdir(parents=True, exist_ok=True)
    record = {"config": cfg.to_dict(), "complete": False, "num_clips": cfg.num_clips}
    atomic_write_text(root / MARKER, json.dumps(record, indent=2))
    specs = clip_specs(cfg)
    _write_coding(root / _CODING, specs)
    show = bool(progress) if progress is not None else sys.stderr.isatty()
    bar = tqdm(total=cfg.num_clips, desc="generate clips", unit="clip", disable=not show)
    subjects = range(1, cfg.subjects + 1)
    try:
        if workers == 1 or cfg.subjects == 1:
            for i in subjects:
                bar.update(_write_subject(str(root), cfg, i))
        else:
            with cf.ProcessPoolExecutor(max_workers=workers, initializer=_worker_init) as pool:
                futures = [pool.submit(_write_subject, str(root), cfg, i) for i in subjects]
                for fut in cf.as_completed(futures):
                    bar.update(fut.result())
    finally:
        bar.close()
    record["complete"] = True
    atomic_write_text(root / MARKER, json.dumps(record, indent=2))
    atomic_write_text(
        root / "README.txt",
        "Synthetic micro-expression clips written by featref.datasets.synthetic in CASME II's\n"
        "layout (not the CASME II database). Faces: skimage.data.astronaut() and matplotlib's\n"
        "grace_hopper.jpg, animated with action-unit-like deformations. Settings: "
        f"{MARKER}.\n",
    )
    log.info("Wrote %d synthetic clips to %s.", cfg.num_clips, root)
    return True
