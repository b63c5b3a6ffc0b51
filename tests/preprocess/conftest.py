"""Fixtures of the preprocessing tests: a real face image and a tiny fake clip set.

The face is scikit-image's ``astronaut`` (public domain, shipped with scikit-image); no frame of
a licensed database is used. Fake clips are that face with a small smooth local warp whose
amplitude rises to the apex and falls back, written as numbered JPEG frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from featref.datasets.base import Sample, natural_key


@pytest.fixture(autouse=True)
def _one_opencv_thread():
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    yield
    cv2.setNumThreads(threads)


def astronaut_bgr() -> np.ndarray:
    """The 512x512 astronaut photo as BGR uint8."""
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def face_frame(size: int = 160) -> np.ndarray:
    """A ``size x size`` BGR frame with the astronaut's face filling about 40 % of it."""
    return cv2.resize(astronaut_bgr()[10:250, 110:350], (size, size), interpolation=cv2.INTER_AREA)


def local_warp(img: np.ndarray, amplitude: float, centre=(0.55, 0.75), sigma=0.12) -> np.ndarray:
    """``img`` with a Gaussian bump of displacement (up/right, ``amplitude`` px at the peak)
    around ``centre`` (fractions of width, height): a stand-in for a mouth-corner movement."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    g = np.exp(-(((xx / w - centre[0]) ** 2 + (yy / h - centre[1]) ** 2) / (2 * sigma**2)))
    dx, dy = 0.6 * amplitude * g, -0.8 * amplitude * g
    return cv2.remap(img, xx - dx, yy - dy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


@dataclass
class FakeReader:
    """A minimal reader over frames written by :func:`write_clip` (the readers' interface)."""

    name: str
    _samples: list[Sample]

    def samples(self) -> list[Sample]:
        return list(self._samples)

    def frames(self, sample: Sample) -> list[Path]:
        return sorted(sample.frame_dir.glob("*.jpg"), key=natural_key)

    def frame_path(self, sample: Sample, number: int) -> Path:
        return sample.frame_dir / f"img{number}.jpg"


AMPLITUDES = (0.0, 0.5, 1.2, 2.0, 1.2, 0.5)  # px; the peak (apex) is at index 3


def write_clip(folder: Path, first: int = 10, *, blank: bool = False, size: int = 160) -> None:
    """Write frames ``img<first>.jpg`` ... (6 frames, apex at ``first + 3``)."""
    folder.mkdir(parents=True, exist_ok=True)
    base = np.full((size, size, 3), 128, np.uint8) if blank else face_frame(size)
    for i, amp in enumerate(AMPLITUDES):
        cv2.imwrite(
            str(folder / f"img{first + i}.jpg"),
            local_warp(base, amp),
            [cv2.IMWRITE_JPEG_QUALITY, 95],
        )


def make_fake_reader(root: Path, name: str = "fakedb") -> FakeReader:
    """Four clips of three subjects; ``sub03/EP09`` has no face, ``sub02/EP03`` no apex."""
    specs = [
        ("sub01", "EP01_01", "happiness", 10, 13, 15, False),
        ("sub01", "EP02_05", "disgust", 20, 23, 25, False),
        ("sub02", "EP03", "surprise", 5, None, 10, False),
        ("sub03", "EP09", "disgust", 1, 4, 6, True),
    ]
    samples = []
    for subject, clip, emotion, onset, apex, offset, blank in specs:
        folder = root / name / subject / clip
        write_clip(folder, onset, blank=blank)
        samples.append(Sample(name, subject, clip, emotion, onset, apex, offset, folder))
    return FakeReader(name, samples)


@pytest.fixture
def fake_reader(tmp_path: Path) -> FakeReader:
    return make_fake_reader(tmp_path / "data")


@pytest.fixture
def face_gray() -> np.ndarray:
    """The astronaut's face, 128x128 grayscale."""
    gray = cv2.cvtColor(astronaut_bgr(), cv2.COLOR_BGR2GRAY)
    return cv2.resize(gray[56:171, 167:282], (128, 128), interpolation=cv2.INTER_AREA)
