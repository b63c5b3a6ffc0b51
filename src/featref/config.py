"""Typed, frozen configuration: the single source of defaults.

One dataclass per concern, composed by :class:`ExperimentConfig`. Each default says where it comes
from: ``[paper]`` the FR paper, ``[DI-code]`` the authors' Dual-Inception release, ``[MEGC]`` the
MEGC2019 protocol, ``[inferred]`` our choice where the paper is silent (documented in
``docs/method.md``). Precedence: dataclass defaults < ``--config FILE`` (TOML) < explicit flags.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from featref.errors import ConfigError

__all__ = [
    "CHANNELS",
    "DataConfig",
    "ExperimentConfig",
    "HASH_OMIT_AT_DEFAULT",
    "PRECISIONS",
    "PROTOCOL_DATABASES",
    "ModelConfig",
    "SelectConfig",
    "TrainConfig",
    "check_model_kwargs",
    "check_value",
    "hashed_config",
    "load_config",
    "parse_protocol",
    "resolved_config",
]

#: Arithmetic of the training forward pass ([train] precision): fp32, or bfloat16 autocast (the
#: weights, optimiser state, loss and prediction stay fp32).
PRECISIONS: tuple[str, ...] = ("fp32", "bf16")
#: Flow channels a model can take, by name.
CHANNELS: tuple[str, ...] = ("u", "v", "strain")
DATA_SOURCES: tuple[str, ...] = ("synthetic", "megc2019", "prepared")
#: Databases a cross-database protocol can name (the reader names of the composite and CAS(ME)^3).
PROTOCOL_DATABASES: tuple[str, ...] = ("casme2", "samm", "smic", "casme3")
_CROSS = re.compile(r"^cross:([a-z0-9_]+(?:\+[a-z0-9_]+)*)->([a-z0-9_]+)$")


def parse_protocol(protocol: str) -> tuple[tuple[str, ...], str] | None:
    """``None`` for ``"loso"``; ``(sources, target)`` for ``"cross:<src>[+<src>]-><target>"``.

    Raises:
        ConfigError: for another form, an unknown database, a repeated source, or a target that
            is also a source.
    """
    if protocol == "loso":
        return None
    m = _CROSS.match(protocol.replace(" ", ""))
    if m is None:
        raise ConfigError(
            f"`protocol` in [data] must be 'loso' or 'cross:<source>[+<source>]-><target>' "
            f"(e.g. 'cross:casme2+samm->smic'). Got {protocol!r}."
        )
    sources, target = tuple(m.group(1).split("+")), m.group(2)
    unknown = [d for d in (*sources, target) if d not in PROTOCOL_DATABASES]
    if unknown:
        raise ConfigError(
            f"`protocol` {protocol!r} names unknown database(s) {unknown}. Known: "
            f"{list(PROTOCOL_DATABASES)}."
        )
    if len(set(sources)) != len(sources) or target in sources:
        raise ConfigError(
            f"`protocol` {protocol!r}: the source databases must be distinct and the target "
            "must not be one of them (training never sees a target sample)."
        )
    return sources, target


@dataclass(frozen=True)
class DataConfig:
    """Which flow data a run reads."""

    source: str = "synthetic"  # synthetic (embedded default) | megc2019 (published flow) | prepared
    data_dir: str | None = None  # root of the data; None -> $FEATREF_DATA_DIR, see datasets.base
    channels: tuple[str, ...] = ("u", "v", "strain")  # u, v [paper]; strain [inferred] (STSTNet)
    databases: tuple[str, ...] = ()  # restrict the composite to these databases; () = all
    protocol: str = "loso"  # loso | cross:<source>[+<source>]-><target> (docs/protocols.md)

    def __post_init__(self) -> None:
        _check_fields(self, "data")
        parse_protocol(self.protocol)
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

    def __post_init__(self) -> None:
        _check_fields(self, "model")
        object.__setattr__(self, "kwargs", check_model_kwargs(self.name, self.kwargs))


@dataclass(frozen=True)
class TrainConfig:
    """The training recipe. Model selection is a fixed schedule: the last epoch is used."""

    epochs: int = 24  # [inferred] fixed schedule (docs/method.md), never chosen on test data
    batch_size: int = 32  # [inferred]
    lr: float = 1e-3  # [inferred] Adam
    weight_decay: float = 1e-4  # [inferred] decoupled (AdamW)
    lr_schedule: str = "cosine"  # [inferred] cosine | constant
    seeds: tuple[int, ...] = (0, 1, 2)  # a run repeats the whole protocol once per seed
    threads: int = 1  # torch/OpenCV threads; 1 is fastest on a busy 2-core machine
    device: str = "cpu"  # cpu | cuda
    class_weighting: bool = True  # [inferred] inverse-frequency CE weights from training labels
    proposal_weight: float = 1.0  # [inferred] lambda of FR's proposal loss (models with proposals)
    class_weight_power: float = 1.0  # [inferred] CE weights (N/(K n_k))**power: 1 inverse, .5 sqrt
    flip: bool = True  # [inferred] mirror half the samples per epoch (exact for flow: u -> 1 - u)
    mixup: float = 0.0  # [inferred] mixup Beta(a, a) parameter a; 0 = off
    ema_decay: float = 0.0  # [inferred] predict with an exponential moving average of the weights
    ensemble_size: int = 0  # models per fold-batched ensemble (--executor batched); 0 = one seed
    precision: str = "fp32"  # fp32 | bf16: the training forward pass under bfloat16 autocast

    def __post_init__(self) -> None:
        _check_fields(self, "train")
        checks = {
            "epochs": self.epochs >= 1,
            "batch_size": self.batch_size >= 1,
            "lr": self.lr > 0,
            "weight_decay": self.weight_decay >= 0,
            "threads": self.threads >= 1,
            "seeds": len(self.seeds) >= 1,
            "proposal_weight": self.proposal_weight >= 0,
            "class_weight_power": self.class_weight_power >= 0,
            "mixup": self.mixup >= 0,
            "ema_decay": 0 <= self.ema_decay < 1,
            "ensemble_size": self.ensemble_size >= 0,
        }
        for key, ok in checks.items():
            if not ok:
                raise ConfigError(
                    f"`{key}` in [train] is out of range. Got {getattr(self, key)!r}; "
                    "epochs, batch_size, threads and seeds need at least 1, lr > 0, "
                    "weight_decay >= 0, proposal_weight, class_weight_power and mixup >= 0, "
                    "0 <= ema_decay < 1."
                )
        if self.lr_schedule not in ("cosine", "constant"):
            raise ConfigError(
                "`lr_schedule` in [train] must be 'cosine' or 'constant'. "
                f"Got {self.lr_schedule!r}."
            )
        if self.precision not in PRECISIONS:
            raise ConfigError(
                f"`precision` in [train] must be one of {list(PRECISIONS)}. Got {self.precision!r}."
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
    "class_weight_power",
    "flip",
    "mixup",
    "ema_decay",
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
        _check_fields(self, "select")
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

    def __post_init__(self) -> None:
        _check_fields(self, "experiment")
        _check_grid(self)


_SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig, "select": SelectConfig}
_MERGED_TABLES = {"model": "kwargs", "select": "grid"}  # flags update these tables key by key


#: The config hash rule: a field added to a config dataclass after v0.1.0 is left out of the run
#: folder's config hash while it holds the value given here -- the behaviour before the field
#: existed -- so run folders made before it still resume; any other value enters the hash. Section
#: -> field -> that value. Add every new field here. It is the field's dataclass default unless the
#: default changed later (``flip``: True since 2026-12-02), and then the new default is hashed.
HASH_OMIT_AT_DEFAULT: dict[str, dict[str, Any]] = {
    "data": {"protocol": "loso"},
    "train": {
        "proposal_weight": 1.0,
        "class_weight_power": 1.0,
        "flip": False,
        "mixup": 0.0,
        "ema_decay": 0.0,
        "precision": "fp32",
    },
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
    file: Path | None = None
    if path is not None:
        file = _find_config(path)
        try:
            raw = tomllib.loads(file.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"Config file {file} is not valid TOML: {exc}.") from exc
    unknown = sorted(set(raw) - set(_SECTIONS))
    if unknown:
        raise ConfigError(
            f"Unknown section(s) {unknown} in {file}. Valid sections: {sorted(_SECTIONS)}."
        )
    for section, table in raw.items():
        if not isinstance(table, Mapping):
            raise ConfigError(
                f"[{section}] in {file} must be a table (a [{section}] header followed by "
                f"key = value lines). Got {section} = {table!r}."
            )
    merged = {s: dict(raw.get(s, {})) for s in _SECTIONS}
    for section, values in (overrides or {}).items():
        table = _MERGED_TABLES.get(section)
        if table is not None and table in values:
            kw = dict(merged[section].get(table, {}))
            kw.update(values[table] or {})
            values = {**values, table: kw}
        merged[section].update({k: v for k, v in values.items() if v is not None})
    origins = _origins(raw, overrides or {}, file)
    try:
        cfg = ExperimentConfig(**{s: _build(cls, s, merged[s]) for s, cls in _SECTIONS.items()})
        _check_model_builds(cfg)
    except ConfigError as exc:
        raise ConfigError(_with_origin(str(exc), origins, file)) from None
    return cfg


def _origins(
    raw: Mapping[str, Mapping[str, Any]],
    overrides: Mapping[str, Mapping[str, Any]],
    file: Path | None,
) -> dict[tuple[str, str], str]:
    """Where each value came from: ``(section, key) -> "in FILE"`` or ``"by a command-line flag"``
    (tables such as ``[model.kwargs]`` key by key)."""
    out: dict[tuple[str, str], str] = {}
    for values, where in ((raw, f"in {file}"), (overrides, "by a command-line flag")):
        for section, table in values.items():
            for key, value in (table or {}).items():
                if value is None:
                    continue
                out[(section, key)] = where
                if key == _MERGED_TABLES.get(section) and isinstance(value, Mapping):
                    for sub, subvalue in value.items():
                        out[(f"{section}.{key}", sub)] = where
                        if isinstance(subvalue, Mapping):  # [select.grid] model.x = [...]
                            for k in subvalue:
                                out[(f"{section}.{key}", f"{sub}.{k}")] = where
    return out


def _with_origin(message: str, origins: Mapping[tuple[str, str], str], file: Path | None) -> str:
    """``message`` plus where the offending value was set, so the user knows what to edit."""
    m = re.search(r"`([^`]+)` in \[([\w.]+)\]", message) or re.search(
        r"\[([\w.]+)\] ([\w.]+)", message
    )
    if m:
        key, section = (m[1], m[2]) if message[m.start()] == "`" else (m[2], m[1])
        where = origins.get((section, key))
        if where:
            return f"{message} It was set {where}; fix it there."
    return f"{message} Config file: {file}." if file is not None else message


def _check_model_builds(cfg: ExperimentConfig) -> None:
    """Build the model once (tiny, on CPU) so that a value the model itself refuses (e.g.
    ``fusion = "max"``) is a config error now, not a failure in a worker later."""
    from featref.models import create_model

    kwargs = dict(cfg.model.kwargs)
    try:
        create_model(cfg.model.name, num_classes=3, in_channels=len(cfg.data.channels), **kwargs)
    except ConfigError:
        raise
    except (ValueError, TypeError, RuntimeError) as exc:
        raise ConfigError(
            f"Model {cfg.model.name!r} refuses [model.kwargs] {kwargs} with channels "
            f"{list(cfg.data.channels)}: {exc} Fix the value in [model.kwargs] (or --model-arg); "
            "`featref list-models` shows each model's arguments."
        ) from None


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


# -- validation: the type and range of every config value, in one place ----------------------
#
# Types come from the dataclasses' own field annotations (``dataclasses.fields`` + type hints) and,
# for ``[model.kwargs]``, from the model's signature (``models.model_parameters``), so a field or
# keyword argument added later is checked without extra code. Ranges stay in ``__post_init__``.

_BOOL_HELP = "true or false (TOML booleans; on the command line KEY=true or KEY=false)"


def _describe(hint: Any) -> str:
    """What a type annotation asks for, in words a user understands."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return "any value"
    if hint is bool:
        return _BOOL_HELP
    if hint is int:
        return "an integer (e.g. 12)"
    if hint is float:
        return "a number (e.g. 0.001)"
    if hint is str:
        return "a string in quotes"
    if hint is type(None):
        return "nothing (leave the key out)"
    if origin is Literal:
        return f"one of {list(args)}"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args if a is not type(None)) + (
            " (or left out)" if type(None) in args else ""
        )
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_plural(args[0])} (e.g. [...])"
        return f"a list of exactly {len(args)} {_plural(args[0]) if args else 'values'}"
    if origin is list:
        return f"a list of {_plural(args[0]) if args else 'values'}"
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        return "a table of key = value pairs"
    return f"a {getattr(hint, '__name__', hint)}"


def _plural(hint: Any) -> str:
    return {int: "integers", float: "numbers", str: "strings", bool: "booleans"}.get(
        hint, f"values of type {getattr(hint, '__name__', hint)}"
    )


def _kind_of(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "a table"
    return names.get(type(value), f"a {type(value).__name__}")


class _Mismatch(Exception):
    pass


def _coerce(value: Any, hint: Any) -> Any:
    """``value`` checked against ``hint`` (lists become tuples for tuple fields, ints floats for
    float fields); raises :class:`_Mismatch` when it does not fit."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if hint is type(None):
        if value is None:
            return None
        raise _Mismatch
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _Mismatch
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise _Mismatch
            return float(value)
        raise _Mismatch
    if hint is str:
        if isinstance(value, str):
            return value
        raise _Mismatch
    if origin is Literal:
        if any(value == a and type(value) is type(a) for a in args):
            return value
        raise _Mismatch
    if origin in (typing.Union, types.UnionType):
        for a in args:
            try:
                return _coerce(value, a)
            except _Mismatch:
                continue
        raise _Mismatch
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise _Mismatch
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if args and len(value) != len(args):
                raise _Mismatch
            items = tuple(_coerce(v, a) for v, a in zip(value, args)) if args else tuple(value)
        else:
            item = args[0] if args else Any
            items = tuple(_coerce(v, item) for v in value)
        return items if origin is tuple else list(items)
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise _Mismatch
        return dict(value)
    if isinstance(hint, type):
        if isinstance(value, hint):
            return value
        raise _Mismatch
    return value  # an annotation we cannot check (e.g. a forward reference): accept


def check_value(value: Any, hint: Any, key: str, section: str) -> Any:
    """``value`` of ``key`` in ``[section]`` checked against the type annotation ``hint``.

    Integers must be integers (not booleans, not strings), booleans TOML ``true``/``false`` only,
    lists lists, strings strings. Returns the value normalised (lists of tuple fields become
    tuples, integers of float fields floats).

    Raises:
        ConfigError: naming the key, the section, what it must be and what was found.
    """
    try:
        return _coerce(value, hint)
    except _Mismatch:
        raise ConfigError(
            f"`{key}` in [{section}] must be {_describe(hint)}. Got {value!r} ({_kind_of(value)})."
        ) from None


def _check_fields(obj: Any, section: str) -> None:
    """Check (and normalise, on the frozen instance) every field of a config dataclass."""
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        checked = check_value(value, hints.get(f.name, Any), f.name, section)
        if checked is not value:
            object.__setattr__(obj, f.name, checked)


def check_model_kwargs(name: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``[model.kwargs]`` checked against model ``name``'s own keyword arguments.

    Raises:
        ConfigError: for an unknown model (with the closest name), an unknown keyword argument
            (listing the valid ones with their defaults) or a value of the wrong type.
    """
    from featref.models._registry import model_parameters

    try:
        params = model_parameters(name)
    except ValueError as exc:  # unknown model: the registry's message names the closest one
        raise ConfigError(f"`name` in [model]: {exc} See `featref list-models`.") from None
    unknown = sorted(set(kwargs) - set(params))
    if unknown:
        valid = ", ".join(f"{k} (default {d!r})" for k, (_, d) in params.items())
        raise ConfigError(
            f"Unknown keyword argument(s) {unknown} in [model.kwargs] for model {name!r}. "
            f"Valid: {valid or 'none'}."
        )
    out = {}
    for k, v in kwargs.items():
        try:
            check_value(v, params[k][0], k, "model.kwargs")
            out[k] = v  # checked, passed on as written (the model takes lists and tuples alike)
        except ConfigError as exc:
            raise ConfigError(
                f"{exc} Model {name!r}'s default is {k} = {params[k][1]!r}."
            ) from None
    return out


def _check_grid(cfg: ExperimentConfig) -> None:
    """Every candidate of ``[select.grid]`` has the type of the key it varies."""
    if not cfg.select.grid:
        return
    hints = typing.get_type_hints(TrainConfig)
    params = None
    for key, values in cfg.select.grid.items():
        if key.startswith("model."):
            if params is None:
                from featref.models._registry import model_parameters

                params = model_parameters(cfg.model.name)
            kw = key[len("model.") :]
            if kw not in params:
                raise ConfigError(
                    f"[select.grid] {key}: model {cfg.model.name!r} has no keyword argument "
                    f"{kw!r}. Valid: {sorted(params)}."
                )
            hint = params[kw][0]
        else:
            hint = hints.get(key, Any)
        for v in values:
            check_value(v, hint, key, "select.grid")
