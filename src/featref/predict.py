"""Predict the class of new clips with a trained checkpoint.

The clip goes through the preprocessing the checkpoint's training data went through
(:func:`featref.preprocess.clip.clip_flow` with the checkpoint's
:class:`~featref.preprocess.config.PreprocessConfig`), then through the model
(:func:`featref.training.loop.predict`).

Example:
    >>> from featref.predict import Predictor  # doctest: +SKIP
    >>> predictor = Predictor.from_file("featref.pt")  # doctest: +SKIP
    >>> predictor.predict_clip("clips/EP02_01f").label  # doctest: +SKIP
    'positive'
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from featref.errors import CheckpointError, ConfigError
from featref.preprocess.clip import ClipFlow, clip_flow
from featref.preprocess.config import PreprocessConfig
from featref.training.checkpoint import Checkpoint, load_checkpoint

__all__ = ["ClipPrediction", "Predictor", "preprocess_config"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClipPrediction:
    """The prediction for one clip.

    Attributes:
        clip: The clip's path.
        label: The predicted class.
        probabilities: Softmax probability of each class, in the checkpoint's class order.
        attention: Attention factor of each expression-proposal branch (keyed by the branch's
            class), or empty for models without attention.
        onset: Onset frame number.
        apex: Apex frame number.
        apex_source: ``"given"`` or ``"spotted"``.
        flow: The model input (C, H, W), channels as the checkpoint's.
        channels: Names of the input channels.
    """

    clip: Path
    label: str
    probabilities: dict[str, float]
    attention: dict[str, float]
    onset: int
    apex: int
    apex_source: str
    flow: np.ndarray
    channels: tuple[str, ...]

    def to_record(self) -> dict[str, Any]:
        """Plain JSON-able fields (without the flow)."""
        out = dataclasses.asdict(self)
        del out["flow"]
        out["clip"] = str(self.clip)
        out["channels"] = list(self.channels)
        return out


def preprocess_config(
    checkpoint: Checkpoint, *, face_backend: str | None = None
) -> PreprocessConfig:
    """The preprocessing settings for new clips: the checkpoint's, or, for a model trained on
    flow images featref did not make (the published MEGC2019 images), featref's defaults with the
    checkpoint's input size, channels and normalisation.

    Args:
        checkpoint: The trained model.
        face_backend: Use this face backend instead of the checkpoint's (the alignment can
            differ slightly from the training data's).

    Raises:
        CheckpointError: when the stored settings are invalid or disagree with the input size.
    """
    where = checkpoint.path or "the checkpoint"
    try:
        if checkpoint.preprocess is not None:
            cfg = PreprocessConfig(**checkpoint.preprocess)
        else:
            cfg = PreprocessConfig(
                output_size=checkpoint.input_size[-1],
                strain="strain" in checkpoint.channels,
                normalisation=checkpoint.normalisation,
            )
        if face_backend is not None:
            cfg = dataclasses.replace(cfg, face_backend=face_backend)
    except (TypeError, ConfigError) as exc:
        raise CheckpointError(f"The preprocessing settings in {where} are invalid: {exc}") from exc
    missing = [c for c in checkpoint.channels if c not in cfg.channels]
    size = checkpoint.input_size
    if missing or size[1] != size[2] or size[1] != cfg.output_size:
        raise CheckpointError(
            f"{where} expects input {list(size)} with channels {list(checkpoint.channels)}, but "
            f"its preprocessing gives {cfg.output_size}x{cfg.output_size} with channels "
            f"{list(cfg.channels)}. Retrain with `featref train`."
        )
    return cfg


class Predictor:
    """A checkpoint's model plus its preprocessing, ready for clips.

    Args:
        checkpoint: The trained model (see :func:`~featref.training.checkpoint.load_checkpoint`).
        face_backend: Override the checkpoint's face backend.
    """

    def __init__(self, checkpoint: Checkpoint, *, face_backend: str | None = None) -> None:
        self.checkpoint = checkpoint
        self.cfg = preprocess_config(checkpoint, face_backend=face_backend)
        self.model = checkpoint.build_model()
        self._order = [self.cfg.channels.index(c) for c in checkpoint.channels]
        self._detector = None
        if checkpoint.data.get("source") == "synthetic":
            log.warning(
                "%s was trained on featref's embedded synthetic flow; its predictions on real "
                "clips mean nothing.",
                checkpoint.path,
            )
        if checkpoint.preprocess is None:
            log.info(
                "%s was trained on flow images featref did not make; new clips use featref's "
                "default preprocessing (TV-L1, %s normalisation%s).",
                checkpoint.path,
                checkpoint.normalisation,
                ", 8-bit levels" if checkpoint.uint8_levels else "",
            )

    @classmethod
    def from_file(cls, path: str | os.PathLike, *, face_backend: str | None = None) -> Predictor:
        """Load a checkpoint file (``weights_only=True``) and build the predictor."""
        return cls(load_checkpoint(path), face_backend=face_backend)

    @property
    def detector(self):
        """The face backend (built on first use; ``None`` when the settings do not align)."""
        if self._detector is None and self.cfg.align:
            from featref.preprocess.faces import create_detector

            self._detector = create_detector(self.cfg.face_backend)
        return self._detector

    def model_input(self, flow: ClipFlow) -> np.ndarray:
        """The checkpoint's channels of a clip's flow, as its training input was stored."""
        x = np.ascontiguousarray(flow.flow[self._order], dtype=np.float32)
        if self.checkpoint.uint8_levels:  # the training images held 256 levels per channel
            x = np.round(x * 255.0) / np.float32(255.0)
        return x

    def predict_input(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities (N, K) and attention factors (N, K or 0) of inputs ``x`` (N, C, H, W)."""
        import torch

        from featref.training.loop import predict

        out = predict(self.model, torch.as_tensor(np.asarray(x, dtype=np.float32)))
        return out["probs"], out["attention"]

    def predict_clip(
        self,
        clip: str | os.PathLike,
        *,
        onset: int | None = None,
        apex: int | None = None,
        offset: int | None = None,
    ) -> ClipPrediction:
        """Preprocess one clip and predict its class.

        Args:
            clip: A frame folder or a video file.
            onset: Onset frame number (default: the first frame).
            apex: Apex frame number (default: found by the label-free spotter).
            offset: Last frame the spotter considers (default: the last frame).

        Raises:
            ClipError: for a missing or unreadable clip, or frames not in it.
            FaceNotFoundError: when no face is found on the onset frame.
        """
        flow = clip_flow(clip, self.cfg, self.detector, onset=onset, apex=apex, offset=offset)
        x = self.model_input(flow)
        probs, attention = self.predict_input(x[None])
        names = self.checkpoint.class_names
        p = probs[0]
        att = attention[0]
        branches = names if len(att) == len(names) else [f"branch{i}" for i in range(len(att))]
        return ClipPrediction(
            clip=flow.clip,
            label=names[int(np.argmax(p))],
            probabilities={n: float(v) for n, v in zip(names, p)},
            attention={n: float(v) for n, v in zip(branches, att)},
            onset=flow.onset,
            apex=flow.apex,
            apex_source=flow.apex_source,
            flow=x,
            channels=self.checkpoint.channels,
        )
