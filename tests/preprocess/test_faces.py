"""Face backends: Haar finds the astronaut's face; missing backends name their pip packages."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from featref.errors import ConfigError
from featref.preprocess import faces
from featref.preprocess.faces import Face, FaceDetector, create_detector

from .conftest import astronaut_bgr

# The astronaut's face in the 512x512 image: box about (177, 66, 95, 95), eyes near y = 100.
FACE_CENTRE = (224, 113)


def _check_face(face: Face | None) -> None:
    assert face is not None
    x, y, w, h = face.box
    assert x < FACE_CENTRE[0] < x + w and y < FACE_CENTRE[1] < y + h
    assert 60 < w < 160
    (lx, ly), (rx, ry) = face.left_eye, face.right_eye
    assert x < lx < FACE_CENTRE[0] < rx < x + w  # one eye on each side of the face centre
    assert y < min(ly, ry) and max(ly, ry) < y + 0.6 * h  # in the upper part of the face
    assert abs(np.degrees(face.eye_angle)) < 10  # the photo is nearly upright


def test_haar_finds_the_astronaut_face():
    detector = create_detector("haar")
    assert isinstance(detector, FaceDetector)
    face = detector.detect(astronaut_bgr())
    _check_face(face)
    assert face.backend == "haar" and not face.eyes_estimated
    _check_face(detector.detect(astronaut_bgr()[:, :, 0]))  # grayscale input works too


def test_haar_returns_none_without_a_face():
    assert create_detector("haar").detect(np.full((200, 200), 90, np.uint8)) is None


@pytest.mark.parametrize("name", ["mediapipe", "dlib"])
def test_optional_backends_when_installed(name):
    module = {"mediapipe": "mediapipe", "dlib": "dlib"}[name]
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (optional backend {name!r})")
    face = create_detector(name).detect(astronaut_bgr())
    _check_face(face)
    assert face.landmarks is not None and face.landmarks.shape[1] == 2


def test_unknown_backend_lists_the_choices():
    with pytest.raises(ConfigError, match="Unknown face backend 'retina'.*'haar'"):
        create_detector("retina")


def test_missing_backend_names_the_pip_packages(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        faces.importlib.util, "find_spec", lambda n, *a: None if n == "dlib" else real(n, *a)
    )
    with pytest.raises(ConfigError, match="pip install dlib-bin face-recognition-models"):
        create_detector("dlib")
    assert "dlib" not in faces.available_backends()
