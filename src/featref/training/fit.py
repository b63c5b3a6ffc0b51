"""The one fit recipe: seed -> build the model from ``[model]`` -> train -> predict.

:func:`build_model` is the only place in featref that turns a ``[model]`` section into a module;
:func:`fit` and :func:`fit_predict` are what the runner's unit
(:mod:`featref.evaluation.units`), nested selection (:mod:`featref.evaluation.nested`) and
``featref train`` all call, so the three cannot drift apart. The caller passes the seed: the run
engine uses :func:`featref.training.loop.fold_seed` of ``(seed, fold)``, ``featref train`` the
fold seed of ``(seed, 0)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from featref.config import ExperimentConfig, ModelConfig
from featref.errors import ConfigError
from featref.models import create_model, list_models
from featref.models.base import MerModel
from featref.training.ensemble import Member, train_ensemble
from featref.training.loop import predict, train_one_fold
from featref.training.recipe import mirror_negated

__all__ = ["build_model", "fit", "fit_predict", "fit_predict_many"]


def build_model(model_cfg: ModelConfig, *, num_classes: int, in_channels: int) -> MerModel:
    """Build the model a ``[model]`` section names, with its keyword arguments.

    Args:
        model_cfg: The ``[model]`` section: a registered name and ``[model.kwargs]``.
        num_classes: Number of classes of the data.
        in_channels: Number of flow channels of the data.

    Returns:
        The freshly initialised model (seed torch before calling for a reproducible one), on CPU.

    Raises:
        ConfigError: for an unknown name (with the valid names) or keyword arguments the model
            rejects, naming the ``[model]`` section; ``proposal_weight`` gets its new home.
    """
    kwargs = dict(model_cfg.kwargs)
    if "proposal_weight" in kwargs:
        raise ConfigError(
            "`proposal_weight` in [model.kwargs] (or --model-arg) is no longer a model argument: "
            f"lambda is a training setting. Got proposal_weight = {kwargs['proposal_weight']!r} "
            "there; move it to [train] (proposal_weight = ...), or use --select "
            "proposal_weight=... in a selection grid."
        )
    if model_cfg.name not in list_models():
        raise ConfigError(
            f"Unknown model {model_cfg.name!r} in [model] name. Valid names: {list_models()} "
            "(see `featref list-models`)."
        )
    try:
        model = create_model(
            model_cfg.name, num_classes=num_classes, in_channels=in_channels, **kwargs
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"[model] {model_cfg.name!r} rejects its keyword arguments {kwargs} (from "
            f"[model.kwargs], --model-arg or [select.grid]): {exc} See the model's options with "
            "`featref list-models` and docs/models.md."
        ) from exc
    if not isinstance(model, MerModel):  # a registration that bypassed the declared interface
        raise ConfigError(
            f"Model {model_cfg.name!r} is a {type(model).__name__}, not a "
            "featref.models.base.MerModel; register models that subclass MerModel."
        )
    return model


def fit(
    cfg: ExperimentConfig,
    x: np.ndarray,
    y: np.ndarray,
    *,
    seed: int,
    num_classes: int,
    on_epoch: Callable[[dict], None] | None = None,
) -> MerModel:
    """Seed, build and train a model on training samples only.

    Args:
        cfg: The configuration (its ``[model]`` and ``[train]`` sections are used).
        x: Training inputs (N, C, H, W), float32.
        y: Training class indices (N,).
        seed: Seeds the initial weights, the batch order and dropout.
        num_classes: Number of classes.
        on_epoch: Called after each epoch (see :func:`~featref.training.loop.train_one_fold`).

    Returns:
        The trained model on ``cfg.train.device``, in eval mode.
    """
    device = torch.device(cfg.train.device)
    torch.manual_seed(seed)
    model = build_model(cfg.model, num_classes=num_classes, in_channels=x.shape[1]).to(device)
    return train_one_fold(
        model,
        torch.as_tensor(x, device=device),
        torch.as_tensor(y, device=device),
        cfg.train,
        seed=seed,
        num_classes=num_classes,
        negate_channels=mirror_negated(cfg.data.channels),
        on_epoch=on_epoch,
    )


def fit_predict_many(
    cfg: ExperimentConfig,
    x: np.ndarray,
    y: np.ndarray,
    train_index: list[np.ndarray],
    test_index: list[np.ndarray],
    *,
    seeds: list[int],
    num_classes: int,
    on_epoch: Callable[[int, dict], None] | None = None,
) -> list[dict[str, np.ndarray]]:
    """:func:`fit_predict` for many models at once, as one fold-batched ensemble.

    Model ``i`` is seeded with ``seeds[i]`` exactly as :func:`fit` seeds it (same initial weights,
    batch order and augmentation draws), trained on ``x[train_index[i]]`` only
    (:func:`featref.training.ensemble.train_ensemble` gathers each model's batches from its own
    indices), and only then predicts ``x[test_index[i]]``.

    Returns:
        One :func:`~featref.training.loop.predict` output per model.
    """
    device = torch.device(cfg.train.device)
    models = []
    for seed in seeds:
        torch.manual_seed(seed)
        models.append(build_model(cfg.model, num_classes=num_classes, in_channels=x.shape[1]))
    models = [m.to(device) for m in models]
    xt = torch.as_tensor(x, device=device)
    members = [Member(seed, idx) for seed, idx in zip(seeds, train_index)]
    models = train_ensemble(
        models,
        xt,
        torch.as_tensor(y, device=device),
        members,
        cfg.train,
        num_classes=num_classes,
        negate_channels=mirror_negated(cfg.data.channels),
        on_epoch=on_epoch,
    )
    return [predict(m, xt[torch.as_tensor(t, device=device)]) for m, t in zip(models, test_index)]


def fit_predict(
    cfg: ExperimentConfig,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    *,
    seed: int,
    num_classes: int,
    on_epoch: Callable[[dict], None] | None = None,
) -> dict[str, np.ndarray]:
    """:func:`fit` on the training samples, then predict the test samples.

    Honesty is structural: the test inputs are handed over only to :func:`predict`, after
    training returned.

    Returns:
        The outputs of :func:`~featref.training.loop.predict` on ``x_test``.
    """
    model = fit(cfg, x_train, y_train, seed=seed, num_classes=num_classes, on_epoch=on_epoch)
    return predict(model, torch.as_tensor(x_test, device=torch.device(cfg.train.device)))
