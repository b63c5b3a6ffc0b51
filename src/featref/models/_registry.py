"""A deliberately small model registry: name -> factory, with a model card per variant.

No downloads: weights come from a local ``checkpoint_path`` only.
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from featref.errors import ConfigError

__all__ = [
    "ModelCard",
    "create_model",
    "get_model_card",
    "list_models",
    "model_parameters",
    "register_model",
]


@dataclass(frozen=True)
class ModelCard:
    """Metadata of one registered variant (timm's ``PretrainedCfg``, trimmed).

    ``param_count`` is for the card's default ``input_size`` and ``num_classes``; the contract tests
    check it against the built model.
    """

    name: str
    input_size: tuple[int, int, int]  # (channels, height, width)
    channels: tuple[str, ...]  # flow channel names, in input order
    num_classes: int
    paper: str
    param_count: int
    notes: str = ""


_FACTORIES: dict[str, Callable[..., nn.Module]] = {}
_CARDS: dict[str, ModelCard] = {}


def register_model(
    card: ModelCard,
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator: register ``factory`` under ``card.name``; duplicate names are refused."""

    def deco(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if card.name in _FACTORIES:
            raise ValueError(f"A model named {card.name!r} is already registered.")
        _FACTORIES[card.name] = factory
        _CARDS[card.name] = card
        return factory

    return deco


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style ``pattern``, sorted."""
    _import_all()
    return sorted(n for n in _FACTORIES if fnmatch.fnmatch(n, pattern))


def _check_name(name: str) -> None:
    _import_all()
    if name not in _FACTORIES:
        close = difflib.get_close_matches(name, list(_FACTORIES), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"Unknown model {name!r}.{hint} Available models: {sorted(_FACTORIES)} "
            "(`featref list-models` describes them)."
        )


def get_model_card(name: str) -> ModelCard:
    """The :class:`ModelCard` of a registered model."""
    _check_name(name)
    return _CARDS[name]


#: Arguments ``create_model`` itself passes; not a model's own keyword arguments.
_BUILD_ARGS = ("self", "num_classes", "in_channels")


def model_parameters(name: str) -> dict[str, tuple[object, object]]:
    """A registered model's own keyword arguments: ``name -> (type annotation, default)``.

    Read from the factory's signature; a factory that forwards ``**kwargs`` is read through the
    class it returns (its return annotation), i.e. the model class's ``__init__``. The config
    validates ``[model.kwargs]`` against this, so a new argument is covered without extra code.
    """
    _check_name(name)
    target = _FACTORIES[name]
    params = inspect.signature(target).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        cls = typing.get_type_hints(target).get("return")
        if isinstance(cls, type):
            target = cls.__init__
            params = inspect.signature(target).parameters
    hints = typing.get_type_hints(target)
    return {
        n: (hints.get(n, typing.Any), p.default)
        for n, p in params.items()
        if n not in _BUILD_ARGS and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    }


def create_model(
    name: str,
    *,
    num_classes: int,
    in_channels: int | None = None,
    checkpoint_path: str | Path | None = None,
    **kwargs,
) -> nn.Module:
    """Build a registered model.

    Args:
        name: A name from :func:`list_models`.
        num_classes: Number of output classes.
        in_channels: Number of flow channels (default: the model card's).
        checkpoint_path: Optional local file with a ``state_dict`` (or a featref checkpoint with a
            ``"state_dict"`` entry), loaded with ``weights_only=True`` and ``strict=True``.
        **kwargs: The model's own keyword arguments (see its docstring).

    Raises:
        ConfigError: (a ``ValueError``) for an unknown name, with the closest name and the full
            list, or keyword arguments the model does not take.
        FileNotFoundError: for a missing checkpoint.
    """
    _check_name(name)
    card = _CARDS[name]
    try:
        model = _FACTORIES[name](
            num_classes=num_classes,
            in_channels=card.input_size[0] if in_channels is None else in_channels,
            **kwargs,
        )
    except TypeError as exc:  # an unknown or mistyped keyword argument
        raise ConfigError(f"Model {name!r} rejects its arguments {kwargs}: {exc}.") from exc
    if checkpoint_path is not None:
        path = Path(checkpoint_path)
        if not path.is_file():
            raise FileNotFoundError(f"Checkpoint {path.resolve()} does not exist.")
        state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        model.load_state_dict(state, strict=True)
    return model


def _import_all() -> None:
    # Importing the package registers every family; done lazily so that the CLI's parser stays
    # light. Each family module registers itself on import.
    import featref.models  # noqa: F401
