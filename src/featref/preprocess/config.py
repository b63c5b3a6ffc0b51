"""The preprocessing settings and their vocabularies: the one source of their defaults.

Light on purpose (no numpy, OpenCV or readers): the CLI builds ``featref prepare``'s flags from
:class:`PreprocessConfig`'s fields, and ``featref predict`` and ``featref train`` read a
checkpoint's or prepared folder's settings, without importing the batch driver.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from featref.errors import ConfigError

__all__ = [
    "APEX_FALLBACKS",
    "APEX_MODES",
    "FACE_BACKEND_NAMES",
    "NORMALISATIONS",
    "PREPROCESS_VERSION",
    "PreprocessConfig",
    "hash_config",
]

#: Version of the preprocessing output; part of every config hash. Bump it (and note it in
#: ``CHANGELOG.md``) whenever the output would change for the same settings.
PREPROCESS_VERSION = 1

#: Face backends by name (:data:`featref.preprocess.faces.FACE_BACKENDS` holds their classes).
FACE_BACKEND_NAMES: tuple[str, ...] = ("haar", "mediapipe", "dlib")
#: Per-image, per-channel normalisations of :func:`featref.preprocess.flow.normalise`.
NORMALISATIONS: tuple[str, ...] = ("minmax", "standardise")
#: How the apex frame is chosen (:mod:`featref.preprocess.apex`).
APEX_MODES: tuple[str, ...] = ("annotated", "middle", "spotted")
#: Apex of clips with none annotated, when ``apex="annotated"``.
APEX_FALLBACKS: tuple[str, ...] = ("middle", "spotted")

_FLOW_KEYS = (
    "tau", "lam", "theta", "nscales", "warps", "epsilon", "inner_iterations",
    "outer_iterations", "scale_step", "gamma", "median_filtering",
)  # fmt: skip


def hash_config(config: Mapping[str, Any]) -> str:
    """16-hex-digit hash of the preprocessing settings (canonical JSON) and the version."""
    blob = json.dumps(
        {"config": config, "preprocess_version": PREPROCESS_VERSION}, sort_keys=True
    ).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class PreprocessConfig:
    """Every setting that shapes the prepared flow (all part of the cache's config hash).

    Sources: ``[OpenCV]`` OpenCV's TV-L1 defaults (Sánchez Pérez et al., IPOL 2013), ``[MEGC]``
    the published MEGC2019 flow images (STSTNet / FR input), ``[inferred]`` our choice where
    no source fixes it (reasons in ``docs/preprocessing.md``).

    Raises:
        ConfigError: for a value out of its range or vocabulary (the message names the key).
    """

    face_backend: str = "haar"  # [inferred] the backend that needs no extra install
    align: bool = True  # [inferred] False: use whole frames (already-cropped databases)
    margin: float = 0.1  # [inferred] border added on each side, fraction of the face box side
    crop_size: int = 128  # [inferred] side of the aligned face crop the flow is computed on
    output_size: int = 28  # [MEGC] 28x28 model input of STSTNet / FR
    tau: float = 0.25  # [OpenCV] TV-L1 time step
    lam: float = 0.15  # [OpenCV] TV-L1 data-term weight
    theta: float = 0.3  # [OpenCV] TV-L1 tightness
    nscales: int = 5  # [OpenCV] pyramid levels
    warps: int = 5  # [OpenCV] warpings per level
    epsilon: float = 0.01  # [OpenCV] stopping threshold
    inner_iterations: int = 30  # [OpenCV]
    outer_iterations: int = 10  # [OpenCV]
    scale_step: float = 0.8  # [OpenCV]
    gamma: float = 0.0  # [OpenCV] no illumination term
    median_filtering: int = 5  # [OpenCV]
    strain: bool = True  # [MEGC] third channel = optical strain
    normalisation: str = "minmax"  # [MEGC] min-max per image and channel | standardise
    apex: str = "annotated"  # [MEGC] annotated | middle | spotted
    apex_fallback: str = "middle"  # [inferred] for clips with no annotated apex (SMIC-HS)
    spot_size: int = 64  # [inferred] side of the frames the apex spotter scores
    spot_max_frames: int = 48  # [inferred] frames scored per clip at most (evenly spaced)

    def __post_init__(self) -> None:
        def bad(key: str, expected: str) -> ConfigError:
            return ConfigError(
                f"`{key}` in [preprocess] must be {expected}. Got {getattr(self, key)!r} instead."
            )

        if self.face_backend not in FACE_BACKEND_NAMES:
            raise bad("face_backend", f"one of {sorted(FACE_BACKEND_NAMES)}")
        if not 0 <= self.margin <= 1:
            raise bad("margin", "a fraction in [0, 1]")
        if self.crop_size < 32 or self.crop_size % 2:
            raise bad("crop_size", "an even int >= 32")
        if not 4 <= self.output_size <= self.crop_size:
            raise bad("output_size", f"an int in [4, crop_size={self.crop_size}]")
        if self.normalisation not in NORMALISATIONS:
            raise bad("normalisation", f"one of {list(NORMALISATIONS)}")
        if self.apex not in APEX_MODES:
            raise bad("apex", f"one of {list(APEX_MODES)}")
        if self.apex_fallback not in APEX_FALLBACKS:
            raise bad("apex_fallback", " or ".join(repr(m) for m in APEX_FALLBACKS))
        positive = ("tau", "lam", "theta", "nscales", "warps", "epsilon", "spot_size")
        for key in positive + ("inner_iterations", "outer_iterations", "spot_max_frames"):
            if getattr(self, key) <= 0:
                raise bad(key, "positive")
        if not 0 < self.scale_step < 1:
            raise bad("scale_step", "in (0, 1)")

    @property
    def channels(self) -> tuple[str, ...]:
        """Names of the output channels."""
        return ("u", "v", "strain") if self.strain else ("u", "v")

    def flow_params(self) -> dict[str, Any]:
        """Keyword arguments of :func:`~featref.preprocess.flow.tvl1_flow`."""
        return {k: getattr(self, k) for k in _FLOW_KEYS}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able settings."""
        return dataclasses.asdict(self)

    def config_hash(self) -> str:
        """Hash of these settings and ``PREPROCESS_VERSION`` (names the cache folder)."""
        return hash_config(self.to_dict())

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Every field's default value, by name (the CLI's flag defaults)."""
        return {f.name: f.default for f in dataclasses.fields(cls)}
