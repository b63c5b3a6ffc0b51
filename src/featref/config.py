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
    "HASH_OMIT_AT_DEFAULT",
    "ModelConfig",
    "SelectConfig",
    "TrainConfig",
    "hashed_config",
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
    channels: tuple[str, ...] = ("u", "v", "strain")  # u, v [paper]; strain [inferred] (STSTNet)
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

    epochs: int = 12  # [inferred] fixed schedule (training-loss plateau), never chosen on test data
    batch_size: int = 32  # [inferred]
    lr: float = 1e-3  # [inferred] Adam
    weight_decay: float = 1e-4  # [inferred] decoupled (AdamW)
    lr_schedule: str = "cosine"  # [inferred] cosine | constant
    seeds: tuple[int, ...] = (0, 1, 2)  # a run repeats the whole protocol once per seed
    threads: int = 1  # torch/OpenCV threads; 1 is fastest on a busy 2-core machine
    device: str = "cpu"  # cpu | cuda
    class_weighting: bool = True  # [inferred] inverse-frequency CE weights from training labels
    proposal_weight: float = 1.0  # [inferred] lambda of FR's proposal loss (models with proposals)

    def __post_init__(self) -> None:
        checks = {
            "epochs": self.epochs >= 1,
            "batch_size": self.batch_size >= 1,
            "lr": self.lr > 0,
            "weight_decay": self.weight_decay >= 0,
            "threads": self.threads >= 1,
            "seeds": len(self.seeds) >= 1,
            "proposal_weight": self.proposal_weight >= 0,
        }
        for key, ok in checks.items():
            if not ok:
                raise ConfigError(
                    f"`{key}` in [train] is out of range. Got {getattr(self, key)!r}; "
                    "epochs, batch_size, threads and seeds need at least 1, lr > 0, "
                    "weight_decay >= 0, proposal_weight >= 0."
                )
        if self.lr_schedule not in ("cosine", "constant"):
            raise ConfigError(
                "`lr_schedule` in [train] must be 'cosine' or 'constant'. "
                f"Got {self.lr_schedule!r}."
            )
        if self.device not in ("cpu", "cuda"):
            raise ConfigError(f"`device` in [train] must be 'cpu' or 'cuda'. Got {self.device!r}.")


#: [train] keys a [select] grid may vary; model keyword arguments are written ``model.<name>``.
SELECTABLE_TRAIN: tuple[str, ...] = (
    "epochs",
    "batch_size",
    "lr",
    "weight_decay",
    "lr_schedule",
    "class_weighting",
    "proposal_weight",
)


@dataclass(frozen=True)
class SelectConfig:
    """Nested leave-one-subject-out hyperparameter selection; off while ``grid`` is empty.

    See :mod:`featref.evaluation.nested`: per outer fold, every combination of ``grid`` values is
    scored by an inner cross-validation over the outer fold's *training* subjects only.
    """

    grid: Mapping[str, Any] = field(default_factory=dict)  # key -> candidate values; {} = off
    inner_folds: int = 4  # [inferred] grouped k-fold over training subjects; 0 = inner LOSO
    metric: str = "uf1"  # inner score, pooled over inner folds: uf1 | uar

    def __post_init__(self) -> None:
        flat: dict[str, Any] = {}
        for key, values in dict(self.grid).items():
            if key == "model" and isinstance(values, Mapping):  # TOML dotted keys model.x = [...]
                flat.update({f"model.{k}": v for k, v in values.items()})
            else:
                flat[key] = values
        valid = [*SELECTABLE_TRAIN, "model.<kwarg>"]
        for key, values in flat.items():
            if key not in SELECTABLE_TRAIN and not (key.startswith("model.") and len(key) > 6):
                raise ConfigError(
                    f"Unknown key {key!r} in [select.grid]. Valid keys: {valid}; e.g. "
                    "lr = [1e-3, 3e-3] or proposal_weight = [0.5, 1.0]."
                )
            if not isinstance(values, list | tuple) or len(values) == 0:
                raise ConfigError(
                    f"[select.grid] {key} must be a non-empty list of candidate values. "
                    f"Got {values!r}."
                )
        object.__setattr__(self, "grid", {k: tuple(v) for k, v in flat.items()})
        if self.inner_folds < 0 or self.inner_folds == 1:
            raise ConfigError(
                f"`inner_folds` in [select] must be 0 (leave-one-subject-out) or >= 2. "
                f"Got {self.inner_folds}."
            )
        if self.metric not in ("uf1", "uar"):
            raise ConfigError(f"`metric` in [select] must be 'uf1' or 'uar'. Got {self.metric!r}.")


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything that determines a run's results."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    select: SelectConfig = field(default_factory=SelectConfig)


_SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig, "select": SelectConfig}
_MERGED_TABLES = {"model": "kwargs", "select": "grid"}  # flags update these tables key by key


#: The config hash rule: a field added to a config dataclass after v0.1.0 is left out of the run
#: folder's config hash while it holds the default given here (its dataclass default), so run
#: folders made before the field existed still resume; any other value enters the hash. Section ->
#: field -> default. Add every new field here (tests check the defaults match the dataclasses).
HASH_OMIT_AT_DEFAULT: dict[str, dict[str, Any]] = {
    "train": {"proposal_weight": 1.0},
}


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
            table), ``[train]`` and ``[select]`` (with a ``[select.grid]`` table) sections, or
            the name of a preset shipped in ``featref/configs`` (e.g. ``megc2019_featref``).
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
        table = _MERGED_TABLES.get(section)
        if table is not None and table in values:
            kw = dict(merged[section].get(table, {}))
            kw.update(values[table] or {})
            values = {**values, table: kw}
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
    if cfg.select.grid:
        out["select"]["grid"] = {k: list(v) for k, v in cfg.select.grid.items()}
    else:  # no selection: leave it out, so plain runs keep their config hash
        del out["select"]
    return out


def hashed_config(cfg: ExperimentConfig) -> dict[str, Any]:
    """:func:`resolved_config` less the fields :data:`HASH_OMIT_AT_DEFAULT` omits at default.

    This is what a run folder's config hash covers (with the data); ``config.json`` keeps the full
    :func:`resolved_config`.
    """
    out = resolved_config(cfg)
    for section, fields in HASH_OMIT_AT_DEFAULT.items():
        values = out.get(section, {})
        for name, default in fields.items():
            if name in values and values[name] == default:
                del values[name]
    return out
