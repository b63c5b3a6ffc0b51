"""One file per trained model: weights plus everything needed to use them on new clips.

A checkpoint (written by ``featref train``, read by ``featref predict``) is a ``torch.save``
file of one dict that holds only tensors and plain Python types (str, int, float, bool, None,
list, tuple, dict), so it loads with ``torch.load(..., weights_only=True)``: opening a file from
someone else never runs code. Its entries:

* ``format`` (``"featref-checkpoint"``) and ``format_version``, ``featref_version``;
* ``model``: the registered ``name``, its ``kwargs`` and its :class:`~featref.models.ModelCard`
  fields (``card``); ``state_dict``: the weights (CPU tensors);
* ``class_names``, ``channels`` (input order) and ``input_size`` ``(C, H, W)``;
* ``preprocess``: the full :class:`~featref.preprocess.config.PreprocessConfig` as a dict when
  the model was trained on data made by ``featref prepare``, else ``None``; ``normalisation``
  (``"minmax"`` per image and channel for the published MEGC2019 flow images) and
  ``uint8_levels`` (``True`` when the training input was stored as 8-bit images);
* ``train_config``: the fully resolved experiment configuration; ``seed``; ``data``: where the
  training data came from (source, folder, counts); ``history``: one dict per epoch.
"""

from __future__ import annotations

import dataclasses
import io
import os
import pickle
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from featref import __version__
from featref.atomic import atomic_write_bytes
from featref.errors import CheckpointError

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "Checkpoint",
    "load_checkpoint",
    "save_checkpoint",
]

CHECKPOINT_FORMAT = "featref-checkpoint"
#: Version of the checkpoint layout; bump it when an entry changes meaning.
CHECKPOINT_VERSION = 1

_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "format_version": int,
    "featref_version": str,
    "model": dict,
    "state_dict": dict,
    "class_names": (list, tuple),
    "channels": (list, tuple),
    "input_size": (list, tuple),
    "preprocess": (dict, type(None)),
    "normalisation": str,
    "uint8_levels": bool,
    "train_config": dict,
    "seed": int,
    "data": dict,
    "history": (list, tuple),
}


@dataclass(frozen=True)
class Checkpoint:
    """A trained model and what it needs to run on new clips.

    Attributes:
        model_name: Registered model name (``featref list-models``).
        model_kwargs: Keyword arguments the model was built with.
        model_card: Fields of the model's :class:`~featref.models.ModelCard`.
        state_dict: The weights (CPU tensors).
        class_names: Output classes, in logit order.
        channels: Input flow channels, in order (e.g. ``("u", "v", "strain")``).
        input_size: ``(C, H, W)`` of one input.
        preprocess: The preprocessing settings of the training data (a
            :class:`~featref.preprocess.config.PreprocessConfig` as a dict), or ``None`` when
            it was not made by ``featref prepare`` (published flow images, synthetic flow).
        normalisation: Per-image, per-channel normalisation of the input (``"minmax"`` or
            ``"standardise"``).
        uint8_levels: ``True`` when the training input was 8-bit images scaled to [0, 1]
            (the published MEGC2019 flow images); new input is quantised the same way.
        train_config: The fully resolved experiment configuration (data, model, train).
        seed: The seed of the training run.
        data: Where the training data came from (source, folder, sample and subject counts).
        history: One dict per epoch (loss and accuracy on the training batches).
        featref_version: The featref version that wrote the file.
        path: The file it was loaded from (``None`` before saving).
    """

    model_name: str
    model_kwargs: dict[str, Any]
    model_card: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    class_names: tuple[str, ...]
    channels: tuple[str, ...]
    input_size: tuple[int, int, int]
    preprocess: dict[str, Any] | None
    normalisation: str = "minmax"
    uint8_levels: bool = False
    train_config: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    data: dict[str, Any] = field(default_factory=dict)
    history: tuple[dict[str, Any], ...] = ()
    featref_version: str = __version__
    path: Path | None = None

    @classmethod
    def from_model(
        cls,
        model: nn.Module,
        *,
        model_name: str,
        model_kwargs: Mapping[str, Any],
        class_names: Sequence[str],
        channels: Sequence[str],
        input_size: Sequence[int],
        preprocess: Mapping[str, Any] | None,
        normalisation: str = "minmax",
        uint8_levels: bool = False,
        train_config: Mapping[str, Any] | None = None,
        seed: int = 0,
        data: Mapping[str, Any] | None = None,
        history: Sequence[Mapping[str, Any]] = (),
    ) -> Checkpoint:
        """Collect a trained model's weights and metadata (the model card comes from the
        registry)."""
        from featref.models import get_model_card

        card = dataclasses.asdict(get_model_card(model_name))
        state = {
            k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()
        }
        return cls(
            model_name=model_name,
            model_kwargs=dict(model_kwargs),
            model_card=card,
            state_dict=state,
            class_names=tuple(class_names),
            channels=tuple(channels),
            input_size=tuple(int(v) for v in input_size),  # type: ignore[arg-type]
            preprocess=None if preprocess is None else dict(preprocess),
            normalisation=normalisation,
            uint8_levels=uint8_levels,
            train_config=dict(train_config or {}),
            seed=int(seed),
            data=dict(data or {}),
            history=tuple(dict(h) for h in history),
        )

    def build_model(self) -> nn.Module:
        """The model with these weights, in eval mode on the CPU.

        Raises:
            CheckpointError: when the weights do not fit the model the checkpoint names.
        """
        from featref.models import create_model

        where = self.path or "the checkpoint"
        try:
            model = create_model(
                self.model_name,
                num_classes=len(self.class_names),
                in_channels=len(self.channels),
                **self.model_kwargs,
            )
            model.load_state_dict(self.state_dict, strict=True)
        except (ValueError, TypeError, RuntimeError) as exc:
            raise CheckpointError(
                f"The weights in {where} do not fit model {self.model_name!r} with "
                f"{self.model_kwargs}: {exc}. Was the file written by another featref version "
                f"({self.featref_version}; this is {__version__})? Retrain with `featref train`."
            ) from exc
        return model.eval()

    def to_dict(self) -> dict[str, Any]:
        """The plain payload written to the file (tensors and plain Python types only)."""
        payload = {
            "format": CHECKPOINT_FORMAT,
            "format_version": CHECKPOINT_VERSION,
            "featref_version": self.featref_version,
            "model": {
                "name": self.model_name,
                "kwargs": dict(self.model_kwargs),
                "card": dict(self.model_card),
            },
            "state_dict": dict(self.state_dict),
            "class_names": list(self.class_names),
            "channels": list(self.channels),
            "input_size": list(self.input_size),
            "preprocess": None if self.preprocess is None else dict(self.preprocess),
            "normalisation": self.normalisation,
            "uint8_levels": self.uint8_levels,
            "train_config": dict(self.train_config),
            "seed": self.seed,
            "data": dict(self.data),
            "history": [dict(h) for h in self.history],
        }
        _check_plain(payload, "checkpoint")
        return payload


def _check_plain(value: Any, where: str) -> None:
    """Refuse anything ``weights_only=True`` could not load back."""
    if isinstance(value, torch.Tensor) or value is None:
        return
    if isinstance(value, (bool, int, float, str)):
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, str):
                raise CheckpointError(f"{where} has a non-string key {k!r}.")
            _check_plain(v, f"{where}.{k}")
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_plain(v, f"{where}[{i}]")
        return
    raise CheckpointError(
        f"{where} is a {type(value).__name__} ({value!r}); a checkpoint holds only tensors and "
        "plain Python types (str, int, float, bool, None, list, dict). Pass plain values."
    )


def save_checkpoint(checkpoint: Checkpoint, path: str | os.PathLike) -> Path:
    """Write ``checkpoint`` to ``path`` atomically (a crash never leaves a half-written file).

    Returns:
        The absolute path written.

    Raises:
        CheckpointError: when an entry is not a tensor or a plain Python value.
    """
    path = Path(path).expanduser().resolve()
    buffer = io.BytesIO()
    torch.save(checkpoint.to_dict(), buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read and validate a checkpoint written by :func:`save_checkpoint`.

    The file is read with ``torch.load(..., weights_only=True)``: a file holding anything but
    tensors and plain Python types is refused, never unpickled.

    Raises:
        CheckpointError: for a missing, unreadable, truncated or foreign file, an unsupported
            format version, or a missing or malformed entry; the message names the file and
            what is wrong.
    """
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise CheckpointError(
            f"Checkpoint {path} does not exist. Write one with `featref train ... --output "
            f"{path.name}`."
        )
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive
        raise CheckpointError(
            f"{path} is not a readable PyTorch file (not the zip archive torch.save writes): it "
            "is truncated, corrupt or another kind of file. Write it again with `featref train`."
        )
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = re.search(r"WeightsUnpickler error: ([^.]*)", str(exc))
        raise CheckpointError(
            f"{path} is not a featref checkpoint: it holds objects other than tensors and plain "
            "Python types, which featref refuses to unpickle"
            + (f" ({reason.group(1).strip()})." if reason else ".")
        ) from exc
    except Exception as exc:  # zip errors, EOFError, RuntimeError ... all mean "unreadable"
        raise CheckpointError(
            f"{path} is not a readable PyTorch file ({type(exc).__name__}: {exc}); it may be "
            "truncated or corrupt. Write it again with `featref train`."
        ) from exc
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        found = sorted(map(str, data))[:8] if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(
            f"{path} is not a featref checkpoint: expected a dict with format "
            f"{CHECKPOINT_FORMAT!r}, found {found}. A bare state_dict loads with "
            "featref.models.create_model(name, num_classes=..., checkpoint_path=...)."
        )
    version = data.get("format_version")
    if not isinstance(version, int) or version > CHECKPOINT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {version!r}, written by featref "
            f"{data.get('featref_version')}; this featref ({__version__}) reads version "
            f"{CHECKPOINT_VERSION} and older. Upgrade featref."
        )
    problems = [
        f"{key!r} is {'missing' if key not in data else type(data[key]).__name__}"
        for key, kind in _REQUIRED.items()
        if not isinstance(data.get(key), kind) or (key not in data)
    ]
    model = data.get("model") if isinstance(data.get("model"), dict) else {}
    if not isinstance(model.get("name"), str) or not isinstance(model.get("kwargs"), dict):
        problems.append("'model' lacks a 'name' or 'kwargs'")
    state = data.get("state_dict") if isinstance(data.get("state_dict"), dict) else {}
    if not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        problems.append("'state_dict' is empty or holds non-tensors")
    size = data.get("input_size")
    if not isinstance(size, (list, tuple)) or len(size) != 3:
        problems.append(f"'input_size' must be (C, H, W), found {size!r}")
    elif isinstance(data.get("channels"), (list, tuple)) and size[0] != len(data["channels"]):
        problems.append(f"'input_size' {list(size)} disagrees with channels {data['channels']}")
    if problems:
        raise CheckpointError(
            f"{path} is a damaged featref checkpoint: {'; '.join(problems)}. Write it again "
            "with `featref train`."
        )
    return Checkpoint(
        model_name=model["name"],
        model_kwargs=dict(model["kwargs"]),
        model_card=dict(model.get("card") or {}),
        state_dict=dict(state),
        class_names=tuple(data["class_names"]),
        channels=tuple(data["channels"]),
        input_size=tuple(int(v) for v in size),  # type: ignore[arg-type]
        preprocess=data["preprocess"],
        normalisation=data["normalisation"],
        uint8_levels=data["uint8_levels"],
        train_config=data["train_config"],
        seed=data["seed"],
        data=data["data"],
        history=tuple(data["history"]),
        featref_version=data["featref_version"],
        path=path,
    )
