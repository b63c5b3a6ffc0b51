"""Face detection and eye landmarks behind one small interface.

A backend is any object with a ``name`` and ``detect(image) -> Face | None``; backends are chosen
by name from :data:`FACE_BACKENDS`. Every backend runs offline: none downloads anything.

* ``"haar"`` (default): OpenCV's Viola-Jones cascades shipped in ``cv2.data.haarcascades``
  (frontal face + eyes). Works after a plain ``pip install featref``.
* ``"mediapipe"``: MediaPipe FaceMesh with iris refinement (478 landmarks), bundled with
  ``mediapipe==0.10.21`` (later releases dropped the bundled ``solutions`` models).
* ``"dlib"``: dlib's HOG face detector + the 68-point shape predictor of
  ``face-recognition-models``.

Eye centres are in image coordinates: ``left_eye`` is the eye that appears on the image's left
(the subject's right eye).
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from featref.errors import ConfigError, FaceNotFoundError

__all__ = [
    "BACKEND_PACKAGES",
    "FACE_BACKENDS",
    "DlibDetector",
    "Face",
    "FaceDetector",
    "FaceNotFoundError",
    "HaarDetector",
    "MediaPipeDetector",
    "available_backends",
    "check_backend",
    "create_detector",
]

log = logging.getLogger(__name__)

#: pip packages each backend needs (named in the error when one is missing).
BACKEND_PACKAGES: dict[str, str] = {
    "haar": "opencv-contrib-python-headless",
    "mediapipe": (
        "mediapipe==0.10.21 --no-deps, then absl-py attrs flatbuffers 'protobuf>=4.25.3,<5' "
        "matplotlib"
    ),
    "dlib": "dlib-bin face-recognition-models",
}


@dataclass(frozen=True, eq=False)
class Face:
    """A detected face.

    Attributes:
        box: ``(x, y, width, height)`` of the face in pixels.
        left_eye: ``(x, y)`` centre of the eye on the image's left.
        right_eye: ``(x, y)`` centre of the eye on the image's right.
        landmarks: ``(N, 2)`` landmark coordinates where the backend gives them, else ``None``.
        eyes_estimated: ``True`` when the eyes were placed at their mean position in the box
            because the backend found none (Haar only).
        backend: Name of the backend that found it.
    """

    box: tuple[float, float, float, float]
    left_eye: tuple[float, float]
    right_eye: tuple[float, float]
    landmarks: np.ndarray | None = None
    eyes_estimated: bool = False
    backend: str = ""

    @property
    def eye_angle(self) -> float:
        """Angle (radians) of the line from the left to the right eye; 0 when level."""
        return float(
            np.arctan2(self.right_eye[1] - self.left_eye[1], self.right_eye[0] - self.left_eye[0])
        )


@runtime_checkable
class FaceDetector(Protocol):
    """What a face backend provides."""

    name: str

    def detect(self, image: np.ndarray) -> Face | None:
        """The most prominent face in ``image`` (grayscale or BGR uint8), or ``None``."""
        ...


def _gray(image: np.ndarray) -> np.ndarray:
    import cv2

    if image.ndim == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.ndim != 2:
        raise ValueError(f"Expected a 2-D grayscale or 3-D BGR image. Got shape {image.shape}.")
    return image


def _bgr(image: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image


# Mean eye positions inside a Haar frontal-face box (fractions of width, height). [inferred] from
# the cascade's training crops; used only when the eye cascade finds no pair.
_HAAR_EYE_POS = ((0.30, 0.38), (0.70, 0.38))


class HaarDetector:
    """OpenCV Haar cascades: the largest frontal face, then the two eyes in its upper half.

    Args:
        scale_factor: Image pyramid step of ``detectMultiScale``.
        min_neighbors: Detections needed to keep a face.
        min_size: Smallest face side in pixels.
    """

    name = "haar"

    def __init__(
        self, *, scale_factor: float = 1.1, min_neighbors: int = 5, min_size: int = 40
    ) -> None:
        import cv2

        root = Path(cv2.data.haarcascades)
        self._face = cv2.CascadeClassifier(str(root / "haarcascade_frontalface_default.xml"))
        self._eyes = cv2.CascadeClassifier(str(root / "haarcascade_eye.xml"))
        if self._face.empty() or self._eyes.empty():
            raise ConfigError(
                f"OpenCV's Haar cascades could not be read from {root}. Reinstall "
                f"{BACKEND_PACKAGES['haar']}."
            )
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_size = min_size

    def detect(self, image: np.ndarray) -> Face | None:
        gray = _gray(image)
        faces = self._face.detectMultiScale(
            gray, self.scale_factor, self.min_neighbors, minSize=(self.min_size, self.min_size)
        )
        if len(faces) == 0:
            return None
        x, y, w, h = (float(v) for v in max(faces, key=lambda f: f[2] * f[3]))
        top = gray[int(y) : int(y + 0.6 * h), int(x) : int(x + w)]
        min_eye = max(8, int(w / 10))
        eyes = self._eyes.detectMultiScale(top, 1.1, 3, minSize=(min_eye, min_eye))
        pair = self._eye_pair(eyes, w)
        if pair is None:
            (lx, ly), (rx, ry) = _HAAR_EYE_POS
            left, right = (x + lx * w, y + ly * h), (x + rx * w, y + ry * h)
            return Face((x, y, w, h), left, right, eyes_estimated=True, backend=self.name)
        (ax, ay), (bx, by) = pair
        left, right = (float(x + ax), float(y + ay)), (float(x + bx), float(y + by))
        return Face((x, y, w, h), left, right, backend=self.name)

    @staticmethod
    def _eye_pair(eyes: np.ndarray, face_w: float) -> tuple | None:
        """The two biggest eye boxes, one on each half of the face, as centres (left, right)."""
        centres = [(ex + ew / 2, ey + eh / 2, ew * eh) for ex, ey, ew, eh in eyes]
        left = [c for c in centres if c[0] < face_w / 2]
        right = [c for c in centres if c[0] >= face_w / 2]
        if not left or not right:
            return None
        a = max(left, key=lambda c: c[2])
        b = max(right, key=lambda c: c[2])
        return (a[0], a[1]), (b[0], b[1])


class MediaPipeDetector:
    """MediaPipe FaceMesh (static images, iris refinement): eye centres are the iris centres."""

    name = "mediapipe"
    _LEFT_IRIS = slice(468, 473)  # on the image's left (subject's right)
    _RIGHT_IRIS = slice(473, 478)

    def __init__(self, *, min_detection_confidence: float = 0.5) -> None:
        import mediapipe as mp

        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True,
            max_num_faces=1,
            refine_landmarks=True,
            min_detection_confidence=min_detection_confidence,
        )

    def detect(self, image: np.ndarray) -> Face | None:
        import cv2

        rgb = cv2.cvtColor(_bgr(image), cv2.COLOR_BGR2RGB)
        result = self._mesh.process(rgb)
        if not result.multi_face_landmarks:
            return None
        h, w = rgb.shape[:2]
        pts = np.array([(p.x * w, p.y * h) for p in result.multi_face_landmarks[0].landmark])
        a = pts[self._LEFT_IRIS].mean(axis=0)
        b = pts[self._RIGHT_IRIS].mean(axis=0)
        left, right = (a, b) if a[0] <= b[0] else (b, a)
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        return Face(
            (float(x0), float(y0), float(x1 - x0), float(y1 - y0)),
            (float(left[0]), float(left[1])),
            (float(right[0]), float(right[1])),
            landmarks=pts.astype(np.float32),
            backend=self.name,
        )


class DlibDetector:
    """dlib's HOG frontal face detector and 68-point landmarks (iBUG 300-W markup).

    Eye centres are the means of points 36-41 and 42-47.
    """

    name = "dlib"

    def __init__(self, *, upsample: int = 1) -> None:
        import dlib

        spec = importlib.util.find_spec("face_recognition_models")
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError(
                "Face backend 'dlib' needs the 68-point model of face-recognition-models. "
                f"Install it with: pip install {BACKEND_PACKAGES['dlib']}"
            )
        # Located without importing the package (its __init__ needs pkg_resources).
        model = (
            Path(list(spec.submodule_search_locations)[0])
            / "models"
            / "shape_predictor_68_face_landmarks.dat"
        )
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(model))
        self._upsample = upsample

    def detect(self, image: np.ndarray) -> Face | None:
        gray = np.ascontiguousarray(_gray(image))
        rects = self._detector(gray, self._upsample)
        if len(rects) == 0:
            return None
        r = max(rects, key=lambda r: r.width() * r.height())
        shape = self._predictor(gray, r)
        pts = np.array([(shape.part(i).x, shape.part(i).y) for i in range(68)], dtype=np.float32)
        a, b = pts[36:42].mean(axis=0), pts[42:48].mean(axis=0)
        return Face(
            (float(r.left()), float(r.top()), float(r.width()), float(r.height())),
            (float(a[0]), float(a[1])),
            (float(b[0]), float(b[1])),
            landmarks=pts,
            backend=self.name,
        )


#: Backend name -> factory.
FACE_BACKENDS: dict[str, Callable[[], FaceDetector]] = {
    "haar": HaarDetector,
    "mediapipe": MediaPipeDetector,
    "dlib": DlibDetector,
}  # keys: featref.preprocess.config.FACE_BACKEND_NAMES (a test keeps them equal)

_MODULES = {"haar": ("cv2",), "mediapipe": ("mediapipe",), "dlib": ("dlib",)}


def available_backends() -> list[str]:
    """Names of the backends whose libraries are installed."""
    return [
        name
        for name, mods in _MODULES.items()
        if all(importlib.util.find_spec(m) is not None for m in mods)
    ]


def check_backend(name: str) -> None:
    """Check that backend ``name`` exists and its library is installed, without loading it.

    Raises:
        ConfigError: for an unknown name, or a backend whose library is not installed (the
            message names the pip package(s) to install).
    """
    if name not in FACE_BACKENDS:
        raise ConfigError(f"Unknown face backend {name!r}. Choose one of {sorted(FACE_BACKENDS)}.")
    missing = [m for m in _MODULES[name] if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(
            f"Face backend {name!r} needs {missing}, which is not installed. Install it with: "
            f"pip install {BACKEND_PACKAGES[name]} (or choose --face-backend haar)."
        )


def create_detector(name: str = "haar") -> FaceDetector:
    """Build the face backend ``name``.

    Raises:
        ConfigError: for an unknown name, or a backend whose library is not installed (the
            message names the pip package(s) to install).
    """
    check_backend(name)
    try:
        return FACE_BACKENDS[name]()
    except ImportError as exc:
        raise ConfigError(
            f"Face backend {name!r} failed to load ({exc}). Reinstall it with: "
            f"pip install {BACKEND_PACKAGES[name]}"
        ) from exc
