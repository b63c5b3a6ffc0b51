"""Typed, frozen configuration: the single source of defaults.

One dataclass per concern, composed by :class:`ExperimentConfig`. Each default says where it comes
from: ``[paper]`` the FR paper, ``[DI-code]`` the authors' Dual-Inception release, ``[MEGC]`` the
MEGC2019 protocol, ``[inferred]`` our choice where the paper is silent (documented in
``docs/method.md``). Precedence: dataclass defaults < ``--config FILE`` (TOML) < explicit flags.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from featref.errors import ConfigError

__all__ = [
    "CHANNELS",
    "DataConfig",
    "ExperimentConfig",
    "ModelConfig",
    "TrainConfig",
    "load_config",
    "resolved_config",
]

#: Flow channels a model can take, by name.
CHANNELS: tuple[str, ...] = ("u", "v", "strain")
DATA_SOURCES: tuple[str, ...] = ("synthetic", "megc2019", "prepared")


@dataclass(frozen=True)
class DataConfig:
    """Which flow data a run reads."""

    source: str = "synthetic"  # synthetic (embedded default) | megc2019 (published flow) | prepared
    data_dir: str | None = None  # root of the data; None -> $FEATREF_DATA_DIR, see datasets.base
    channels: tuple[str, ...] = ("u", "v", "strain")  # [paper] u, v (+ optional strain)
    databases: tuple[str, ...] = ()  # restrict the composite to these databases; () = all

    def __post_init__(self) -> None:
        if self.source not in DATA_SOURCES:
            raise ConfigError(
                f"`source` in [data] must be one of {list(DATA_SOURCES)}. Got {self.source!r}."
            )
        bad = [c for c in self.channels if c not in CHANNELS]
        if bad or not self.channels or len(set(self.channels)) != len(self.channels):
            raise ConfigError(
                f"`channels` in [data] must be distinct names from {list(CHANNELS)}. "
                f"Got {list(self.channels)}."
            )


@dataclass(frozen=True)
class ModelConfig:
    """A registered model name plus its keyword arguments (see ``featref list-models``)."""

    name: str = "featref"
    kwargs: Mapping[str, Any] = field(default_factory=dict)  # passed to the model factory


@dataclass(frozen=True)
class TrainConfig:
    """The training recipe. Model selection is a fixed schedule: the last epoch is used."""

    epochs: int = 40  # [inferred] fixed schedule, never chosen on test subjects
    batch_size: int = 32  # [inferred]
    lr: float = 1e-3  # [inferred] Adam
    weight_decay: float = 1e-4  # [inferred] decoupled (AdamW)
    lr_schedule: str = "cosine"  # [inferred] cosine | constant
    seeds: tuple[int, ...] = (0, 1, 2)  # a run repeats the whole protocol once per seed
    threads: int = 1  # torch/OpenCV threads; 1 is fastest on a busy 2-core machine
    device: str = "cpu"  # cpu | cuda
    fold_batch: int = 0  # folds trained together as one vectorised ensemble; 0 = all
    class_weighting: bool = True  # [inferred] inverse-frequency CE weights from training labels

    def __post_init__(self) -> None:
        checks = {
            "epochs": self.epochs >= 1,
            "batch_size": self.batch_size >= 1,
            "lr": self.lr > 0,
            "weight_decay": self.weight_decay >= 0,
            "threads": self.threads >= 1,
            "fold_batch": self.fold_batch >= 0,
            "seeds": len(self.seeds) >= 1,
        }
        for key, ok in checks.items():
            if not ok:
                raise ConfigError(
                    f"`{key}` in [train] is out of range. Got {getattr(self, key)!r}; "
                    "epochs, batch_size, threads and seeds need at least 1, lr > 0, "
                    "weight_decay and fold_batch >= 0."
                )
        if self.lr_schedule not in ("cosine", "constant"):
            raise ConfigError(
                f"`lr_schedule` in [train] must be 'cosine' or 'constant'. Got {self.lr_schedule!r}."
            )
        if self.device not in ("cpu", "cuda"):
            raise ConfigError(f"`device` in [train] must be 'cpu' or 'cuda'. Got {self.device!r}.")


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything that determines a run's results."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


_SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}


def _build(cls: type, section: str, values: Mapping[str, Any]) -> Any:
    valid = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - valid)
    if unknown:
        raise ConfigError(f"Unknown key(s) {unknown} in [{section}]. Valid keys: {sorted(valid)}.")
    converted = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return cls(**converted)


def load_config(
    path: str | Path | None = None, overrides: Mapping[str, Mapping[str, Any]] | None = None
) -> ExperimentConfig:
    """Build an :class:`ExperimentConfig` from defaults, an optional TOML file and overrides.

    Args:
        path: A TOML file with optional ``[data]``, ``[model]`` (``name`` and a ``[model.kwargs]``
            table) and ``[train]`` sections, or the name of a preset shipped in
            ``featref/configs`` (e.g. ``megc2019_featref``).
        overrides: ``{section: {key: value}}`` applied last (the CLI's explicit flags).

    Returns:
        The frozen, validated configuration.

    Raises:
        ConfigError: for a missing file, invalid TOML, an unknown section or key, or a bad value.
    """
    raw: dict[str, dict[str, Any]] = {}
    if path is not None:
        file = _find_config(path)
        try:
            raw = tomllib.loads(file.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"Config file {file} is not valid TOML: {exc}.") from exc
    unknown = sorted(set(raw) - set(_SECTIONS))
    if unknown:
        raise ConfigError(f"Unknown section(s) {unknown}. Valid sections: {sorted(_SECTIONS)}.")
    merged = {s: dict(raw.get(s, {})) for s in _SECTIONS}
    for section, values in (overrides or {}).items():
        if section == "model" and "kwargs" in values:
            kw = dict(merged["model"].get("kwargs", {}))
            kw.update(values["kwargs"])
            values = {**values, "kwargs": kw}
        merged[section].update({k: v for k, v in values.items() if v is not None})
    return ExperimentConfig(**{s: _build(cls, s, merged[s]) for s, cls in _SECTIONS.items()})


def _find_config(path: str | Path) -> Path:
    file = Path(path)
    if file.is_file():
        return file
    preset = Path(__file__).parent / "configs" / f"{Path(path).stem}.toml"
    if preset.is_file():
        return preset
    available = sorted(p.stem for p in (Path(__file__).parent / "configs").glob("*.toml"))
    raise ConfigError(
        f"Config file {Path(path).resolve()} does not exist and is not a shipped preset. "
        f"Presets: {available}."
    )


def resolved_config(cfg: ExperimentConfig) -> dict[str, Any]:
    """The fully resolved configuration as plain JSON-able data (written to ``config.json``)."""
    out = dataclasses.asdict(cfg)
    out["model"]["kwargs"] = dict(cfg.model.kwargs)
    return out
