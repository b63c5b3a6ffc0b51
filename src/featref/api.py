"""The Python API for notebooks: :func:`run` an experiment, :func:`load` a finished one.

Both return a :class:`Result`: the pooled metrics, the predictions as rows, and a
:meth:`Result.report` method that writes the same HTML report as ``featref report``. ``run``
goes through the engine the CLI uses (:func:`featref.evaluation.runner.run_loso`), so a run
folder written here is an ordinary one: ``featref report`` reads it and rerunning resumes it.

Example:
    >>> import featref
    >>> result = featref.run(epochs=1, seeds=(0,), workers=1,
    ...                      output_dir=tmp / "quick")  # doctest: +SKIP
    >>> len(result.predictions), 0 <= result.uf1 <= 1  # doctest: +SKIP
    (144, True)
    >>> featref.load(tmp / "quick").uf1 == result.uf1  # doctest: +SKIP
    True
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from featref.config import (
    DataConfig,
    ExperimentConfig,
    ModelConfig,
    SelectConfig,
    TrainConfig,
    load_config,
)
from featref.errors import ConfigError

__all__ = ["Result", "load", "run"]

_SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "model": ModelConfig,
    "train": TrainConfig,
    "select": SelectConfig,
}
#: A section name given a plain value means this key of it (``model="ststnet"``).
_SECTION_SHORTHAND = {"data": "source", "model": "name"}


@dataclass(frozen=True)
class Result:
    """A finished leave-one-subject-out run.

    Attributes:
        run_dir: The run folder (absolute).
        metrics: The content of ``metrics.json`` (pooled UF1/UAR per seed, their mean ± std
            under ``"summary"``, per database, class names).
        predictions: One dict per row of ``predictions.csv`` (``seed, fold, sample_id,
            dataset, subject, y_true, y_pred, probs, attention``).
        config: The resolved configuration of the run (``config.json``), or empty.
    """

    run_dir: Path
    metrics: dict[str, Any]
    predictions: list[dict[str, Any]] = field(repr=False)
    config: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def uf1(self) -> float:
        """Mean over seeds of the UF1 pooled over all folds and databases."""
        return float(self.metrics["summary"]["all"]["uf1"]["mean"])

    @property
    def uar(self) -> float:
        """Mean over seeds of the UAR pooled over all folds and databases."""
        return float(self.metrics["summary"]["all"]["uar"]["mean"])

    def report(self, path: str | os.PathLike | None = None, *, pdf: bool = False) -> Path:
        """Write the HTML/Markdown report (as ``featref report``) and return the HTML file.

        Args:
            path: The report folder (default ``<run_dir>/report``).
            pdf: Also save every figure as PDF.
        """
        from featref.reports import build_report

        return build_report([self.run_dir], path, pdf=pdf).html


def load(run_dir: str | os.PathLike) -> Result:
    """Read a finished run folder (one ``featref run`` or :func:`run` wrote).

    Raises:
        CacheError: when the folder, its ``predictions.csv`` or ``metrics.json`` is missing or
            malformed (the message names the file and what to do).
    """
    from featref.evaluation.predictions import read_predictions
    from featref.reports import load_run

    outputs = load_run(run_dir)  # checks the folder and its files
    rows = read_predictions(outputs.path / "predictions.csv", outputs.class_names)
    return Result(
        run_dir=outputs.path,
        metrics=outputs.metrics,
        predictions=[dataclasses.asdict(r) for r in rows],
        config=outputs.config,
    )


def run(
    config_or_preset: str | os.PathLike | ExperimentConfig | None = None,
    *,
    output_dir: str | os.PathLike | None = None,
    workers: int = 1,
    **overrides: Any,
) -> Result:
    """Leave-one-subject-out evaluation of one configuration, as ``featref run`` does it.

    Args:
        config_or_preset: A TOML file, a shipped preset name (``"megc2019_featref"``), an
            :class:`~featref.config.ExperimentConfig`, or ``None`` for the defaults (FR on the
            embedded synthetic flow data).
        output_dir: The run folder (default ``runs/<data>-<model>-<config hash>``, as the CLI);
            an interrupted run in it resumes.
        workers: Worker processes (1: everything in this process).
        **overrides: Settings applied last, by key of any section (``epochs=2``,
            ``seeds=(0, 1)``, ``channels=("u", "v")``, ``data_dir="..."``), a whole section as a
            dict (``train={"lr": 1e-3}``, ``model={"name": "ststnet"}``), or the shorthands
            ``data="megc2019"`` (the source) and ``model="ststnet"`` (the name).

    Returns:
        The finished run's :class:`Result`.

    Raises:
        ConfigError: for an unknown or ambiguous override key, or an invalid value (the message
            names the key and the valid ones).
    """
    from featref.evaluation.runner import run_loso
    from featref.preprocess.sources import load_flows

    cfg = _config(config_or_preset, overrides)
    flows = load_flows(cfg.data)
    out = Path(output_dir) if output_dir is not None else _default_dir(cfg, flows)
    result = run_loso(flows, cfg, out, workers=workers)
    return load(result.out_dir)


def _config(config_or_preset: Any, overrides: Mapping[str, Any]) -> ExperimentConfig:
    sections = _sections(overrides)
    if isinstance(config_or_preset, ExperimentConfig):
        try:
            return dataclasses.replace(
                config_or_preset,
                **{
                    s: _replace_section(getattr(config_or_preset, s), values)
                    for s, values in sections.items()
                },
            )
        except TypeError as exc:
            raise ConfigError(f"featref.run: invalid override ({exc}).") from exc
    return load_config(config_or_preset, sections)


def _replace_section(section: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(section, ModelConfig) and "kwargs" in values:
        values = {**values, "kwargs": {**dict(section.kwargs), **dict(values["kwargs"])}}
    return dataclasses.replace(section, **values)


def _sections(overrides: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Flat keyword overrides -> ``{section: {key: value}}`` (what ``load_config`` takes)."""
    fields = {s: {f.name for f in dataclasses.fields(c)} for s, c in _SECTIONS.items()}
    out: dict[str, dict[str, Any]] = {}
    for key, value in overrides.items():
        if key in _SECTIONS:
            if isinstance(value, Mapping):
                out.setdefault(key, {}).update(value)
            elif key in _SECTION_SHORTHAND:
                out.setdefault(key, {})[_SECTION_SHORTHAND[key]] = value
            else:
                raise ConfigError(
                    f"featref.run: `{key}=` takes a dict of [{key}] settings. Got {value!r}."
                )
            continue
        owners = [s for s, names in fields.items() if key in names]
        if len(owners) != 1:
            valid = sorted(set().union(*fields.values()) | set(_SECTIONS))
            why = "is in several sections" if owners else "is not a setting"
            raise ConfigError(
                f"featref.run: override `{key}` {why}. Use a section dict (e.g. "
                f"train={{{key!r}: ...}}) or one of {valid}."
            )
        value = tuple(value) if isinstance(value, list) else value
        out.setdefault(owners[0], {})[key] = value
    return out


def _default_dir(cfg: ExperimentConfig, flows: Any) -> Path:
    """``runs/<data>-<model>-<config hash>``, the folder ``featref run`` would pick."""
    try:
        from featref.evaluation.run_folder import config_hash
    except ImportError:  # before the engine split
        from featref.evaluation.runner import config_hash  # type: ignore[attr-defined,no-redef]
    return Path("runs") / f"{cfg.data.source}-{cfg.model.name}-{config_hash(cfg, flows)[:8]}"
