"""Experiment grids: several configurations x seeds under one protocol, with paired comparisons.

A grid is a list of configurations (TOML files or shipped presets, see ``featref/configs``), one
of them the *reference*, and settings applied to all of them (seeds, data, training recipe). Every
(config, seed, fold) unit of every configuration goes through **one** call of
:func:`featref.evaluation.runner.execute_plan`, so all units share one pool of workers, and each
data source is loaded once (configurations that differ only in channels or databases take views
of the same loaded data). Runs are resumable per unit: rerunning the same grid computes only what is
missing, and adding a seed or a configuration computes only the new units.

Output folder::

    DIR/grid.json          the grid: configurations, reference, seeds, shared overrides, command
    DIR/<config name>/     one ordinary run folder per configuration (see runner)
    DIR/comparison.json    the comparison in full (per-seed differences, sign test, bootstrap)

This module returns the grid's data (:class:`GridResult`: metrics, comparisons, table rows); the
report artefacts beside them are written by :mod:`featref.reports.grid` (``featref grid`` calls
:func:`~featref.reports.grid.write_grid_report` after the grid ran)::

    DIR/results.csv        one row per configuration: scores and comparison with the reference
    DIR/results.md         the same as two Markdown tables (scores; paired comparison)
    DIR/comparison.png     the comparison as a forest plot (differences, intervals, per seed)

Grid file format (``--grid FILE`` or a shipped grid in ``featref/configs/grids``)::

    [grid]
    configs = ["megc2019_featref", "megc2019_fr_no_attention"]  # files or preset names
    reference = "megc2019_featref"   # default: the first configuration
    seeds = [0, 1, 2]                # default: each configuration's own seeds (must agree)

    [train]          # optional [data], [train] and [select] tables: applied to every config
    epochs = 12
"""

from __future__ import annotations

import json
import logging
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from featref.atomic import atomic_write_text
from featref.config import CHANNELS, DataConfig, ExperimentConfig, load_config, resolved_config
from featref.datasets.flowset import FlowSet
from featref.errors import ConfigError
from featref.evaluation import runner
from featref.evaluation.runner import Job, RunPlan, plan_run

__all__ = [
    "GridResult",
    "GridSpec",
    "PreparedGrid",
    "build_jobs",
    "config_changes",
    "config_name",
    "execute_grid",
    "find_grid_file",
    "load_grid_file",
    "prepare_grid",
    "resolve_grid",
    "run_grid",
    "summarise_grid",
]

log = logging.getLogger(__name__)

#: Grid files shipped with featref.
GRIDS_DIR = Path(__file__).parents[1] / "configs" / "grids"
#: Sections of a grid file besides [grid]: overrides applied to every configuration.
OVERRIDE_SECTIONS: tuple[str, ...] = ("data", "train", "select")
#: Settings that do not change results (or that a grid sets for all): left out of "changes".
_IGNORED = {"train.seeds", "train.threads", "train.device", "data.data_dir"}


@dataclass(frozen=True)
class GridSpec:
    """What to run: configurations, the reference, and settings shared by all."""

    configs: tuple[str, ...]  # TOML files or shipped preset names
    reference: str | None = None  # a configuration name; None = the first
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # for every config


@dataclass(frozen=True)
class GridResult:
    """What :func:`run_grid` returns."""

    out_dir: Path
    names: list[str]
    reference: str
    metrics: dict[str, dict]  # name -> metrics.json content
    comparisons: dict[str, dict]  # name -> {"uf1": {...}, "uar": {...}} or {"error": "..."}
    rows: list[dict]  # the table rows of results.csv


def config_name(config: str | Path) -> str:
    """The name of a configuration in a grid: its file name without ``.toml``.

    Example:
        >>> config_name("configs/megc2019_fr_no_attention.toml"), config_name("megc2019_featref")
        ('megc2019_fr_no_attention', 'megc2019_featref')
    """
    return Path(config).name.removesuffix(".toml")


def find_grid_file(path: str | Path) -> Path:
    """A grid file by path, or by the name of a grid shipped in ``featref/configs/grids``.

    Raises:
        ConfigError: when neither exists, listing the shipped grids.
    """
    file = Path(path)
    if file.is_file():
        return file
    shipped = GRIDS_DIR / f"{config_name(path)}.toml"
    if shipped.is_file():
        return shipped
    available = sorted(p.stem for p in GRIDS_DIR.glob("*.toml"))
    raise ConfigError(
        f"Grid file {file.resolve()} does not exist and is not a shipped grid. "
        f"Shipped grids: {available}."
    )


def load_grid_file(path: str | Path) -> GridSpec:
    """Read a grid TOML file (format in the module docstring).

    Relative configuration paths are looked up beside the grid file first, then as presets.

    Raises:
        ConfigError: for invalid TOML, unknown sections or keys, or an empty ``configs`` list.
    """
    file = find_grid_file(path)
    try:
        raw = tomllib.loads(file.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Grid file {file} is not valid TOML: {exc}.") from exc
    unknown = sorted(set(raw) - {"grid", *OVERRIDE_SECTIONS})
    if unknown:
        raise ConfigError(
            f"Unknown section(s) {unknown} in grid file {file}. Valid sections: "
            f"{['grid', *OVERRIDE_SECTIONS]}."
        )
    grid = dict(raw.get("grid", {}))
    bad = sorted(set(grid) - {"configs", "reference", "seeds"})
    if bad:
        raise ConfigError(
            f"Unknown key(s) {bad} in [grid] of {file}. Valid keys: configs, reference, seeds."
        )
    configs = grid.get("configs")
    if not isinstance(configs, list) or not configs:
        raise ConfigError(f"[grid] configs in {file} must be a non-empty list of config names.")
    resolved = []
    for c in configs:
        beside = file.parent / str(c)
        resolved.append(str(beside) if beside.is_file() else str(c))
    overrides: dict[str, dict] = {s: dict(raw[s]) for s in OVERRIDE_SECTIONS if s in raw}
    if "seeds" in grid:
        overrides.setdefault("train", {})["seeds"] = tuple(int(s) for s in grid["seeds"])
    return GridSpec(tuple(resolved), grid.get("reference"), overrides)


def _merge(base: Mapping[str, Mapping], top: Mapping[str, Mapping]) -> dict[str, dict]:
    out = {s: dict(v) for s, v in base.items()}
    for section, values in top.items():
        values = {k: v for k, v in values.items() if v is not None}
        if section == "select" and "grid" in values and "grid" in out.get(section, {}):
            values["grid"] = {**out[section]["grid"], **values["grid"]}
        out.setdefault(section, {}).update(values)
    return out


def resolve_grid(
    spec: GridSpec, overrides: Mapping[str, Mapping[str, Any]] | None = None
) -> tuple[list[tuple[str, ExperimentConfig]], str]:
    """Load every configuration with the grid's shared settings (and then ``overrides``).

    Args:
        spec: The grid.
        overrides: Applied last, e.g. the command line's flags.

    Returns:
        ``[(name, config)]`` in grid order, and the reference's name.

    Raises:
        ConfigError: for duplicate names, an unknown reference, two configurations that resolve to
            the same settings, or configurations whose seeds differ (no paired comparison).
    """
    shared = _merge(spec.overrides, overrides or {})
    names = [config_name(c) for c in spec.configs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"Configuration name(s) {dup} appear twice in the grid; keep one each.")
    reference = spec.reference or names[0]
    if config_name(reference) not in names:
        raise ConfigError(
            f"Reference {reference!r} is not one of the grid's configurations {names}."
        )
    reference = config_name(reference)
    named = []
    for name, c in zip(names, spec.configs):
        try:
            named.append((name, load_config(c, shared)))
        except ConfigError as exc:
            raise ConfigError(f"Configuration {name!r}: {exc}") from exc
    seeds = {name: cfg.train.seeds for name, cfg in named}
    if len(set(seeds.values())) > 1:
        raise ConfigError(
            f"The configurations have different seeds {seeds}; a paired comparison needs the same "
            "seeds. Set them for all with --seeds (or seeds in [grid])."
        )
    seen: dict[str, str] = {}
    for name, cfg in named:
        key = json.dumps(_comparable(cfg), sort_keys=True)
        if key in seen:
            raise ConfigError(
                f"Configurations {seen[key]!r} and {name!r} resolve to the same settings; "
                "drop one of them (they would compute the same units twice)."
            )
        seen[key] = name
    return named, reference


def _comparable(cfg: ExperimentConfig) -> dict[str, Any]:
    flat = _flatten(resolved_config(cfg))
    return {k: v for k, v in flat.items() if k not in _IGNORED}


def _flatten(d: Mapping, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v and key != "select.grid":
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return ",".join(_show(v) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(value, sort_keys=True)
    return str(value)


def config_changes(cfg: ExperimentConfig, reference: ExperimentConfig) -> str:
    """What sets ``cfg`` apart from ``reference``, e.g. ``"fusion=sum"`` or ``"channels=u,v"``.

    Seeds, threads, device and data folder are left out; a model keyword argument the reference
    sets and ``cfg`` does not shows as ``key=(default)``.
    """
    a, b = _comparable(cfg), _comparable(reference)
    parts = []
    for key in sorted(set(a) | set(b), key=lambda k: (not k.startswith("model.name"), k)):
        if a.get(key) == b.get(key) or (key == "model.kwargs" and not a.get(key)):
            continue
        short = key.removeprefix("model.kwargs.").removeprefix("data.").removeprefix("train.")
        short = "model" if key == "model.name" else short
        parts.append(f"{short}={_show(a[key]) if key in a else '(default)'}")
    return "; ".join(parts)


def build_jobs(
    named: Sequence[tuple[str, ExperimentConfig]], out_dir: str | Path, command: str | None = None
) -> list:
    """One :class:`~featref.evaluation.runner.Job` per configuration, loading each source once.

    Configurations with the same data source and folder share one loaded :class:`FlowSet`;
    those with the same channels and databases share the very same object (sent to each worker
    once).
    """
    from featref.preprocess.sources import load_flows

    loaded: dict[tuple, FlowSet] = {}
    views: dict[tuple, FlowSet] = {}
    groups: dict[tuple, set[str]] = {}
    for _, cfg in named:
        groups.setdefault((cfg.data.source, cfg.data.data_dir), set()).update(cfg.data.channels)
    jobs = []
    for name, cfg in named:
        src = (cfg.data.source, cfg.data.data_dir)
        if src not in loaded:
            channels = tuple(c for c in CHANNELS if c in groups[src])
            log.info("Loading %s data (channels %s) once for the grid.", src[0], channels)
            loaded[src] = load_flows(DataConfig(src[0], src[1], channels, ()))
        view_key = (src, cfg.data.databases, cfg.data.channels)
        if view_key not in views:
            views[view_key] = (
                loaded[src].select_databases(cfg.data.databases).select_channels(cfg.data.channels)
            )
        jobs.append(Job(views[view_key], cfg, Path(out_dir) / name, command))
    return jobs


@dataclass(frozen=True)
class PreparedGrid:
    """A resolved grid ready to run: configurations, reference, one job per configuration and
    the run plan of all of them (computed once; the CLI prints it)."""

    named: list[tuple[str, ExperimentConfig]]
    reference: str
    jobs: list[Job]
    out_dir: Path
    record: dict  # written to grid.json
    plan: RunPlan


def prepare_grid(
    spec: GridSpec,
    out_dir: str | Path,
    *,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    command: str | None = None,
) -> PreparedGrid:
    """Resolve the configurations, load the data (once per source) and plan; trains nothing.

    Args:
        spec: The grid.
        out_dir: The grid folder.
        overrides: Settings for every configuration, applied last (the command line's flags).
        command: The command line, recorded in ``grid.json`` and every run folder.
    """
    named, reference = resolve_grid(spec, overrides)
    out = Path(out_dir)
    jobs = build_jobs(named, out, command)
    record = {
        "configs": [{"name": n, "source": c} for (n, _), c in zip(named, spec.configs)],
        "reference": reference,
        "seeds": list(named[0][1].train.seeds),
        "overrides": _jsonable(_merge(spec.overrides, overrides or {})),
        "command": command,
    }
    return PreparedGrid(named, reference, jobs, out, record, plan_run(jobs))


def execute_grid(
    prepared: PreparedGrid,
    *,
    workers: int = 1,
    backend: str | None = None,
    executor: str | None = None,
    on_unit: Callable[[dict, float | None], None] | None = None,
    n_resamples: int = 10_000,
) -> GridResult:
    """Run a prepared grid's plan through one :func:`~featref.evaluation.runner.execute_plan`
    call, then compare with the reference. Arguments as in :func:`run_grid`."""
    atomic_write_text(prepared.out_dir / "grid.json", json.dumps(prepared.record, indent=2))
    device = prepared.plan.jobs[0].job.cfg.train.device if prepared.plan.jobs else "cpu"
    name = runner.executor_name(executor, backend, device)
    results = runner.execute_plan(prepared.plan, executor=name, workers=workers, on_unit=on_unit)
    metrics = {name: r.metrics for (name, _), r in zip(prepared.named, results)}
    return summarise_grid(
        prepared.out_dir, prepared.named, prepared.reference, metrics, n_resamples=n_resamples
    )


def run_grid(
    spec: GridSpec,
    out_dir: str | Path,
    *,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    workers: int = 1,
    backend: str | None = None,
    executor: str | None = None,
    command: str | None = None,
    on_unit: Callable[[dict, float | None], None] | None = None,
    n_resamples: int = 10_000,
) -> GridResult:
    """Run every configuration x seed of a grid, then compare with the reference.

    Writes ``grid.json``, the run folders and ``comparison.json``; the tables and the figure are
    :func:`featref.reports.grid.write_grid_report`'s.

    Args:
        spec: The grid.
        out_dir: The grid folder (created; rerun with the same folder to resume).
        overrides: Settings for every configuration, applied last (the command line's flags).
        workers: Worker processes shared by all configurations' units.
        backend: ``"local"`` or ``"ray"`` (see :func:`~featref.evaluation.runner.run_jobs`).
        executor: An executor name (see :func:`~featref.evaluation.runner.run_jobs`).
        command: The command line, recorded in ``grid.json`` and every run folder.
        on_unit: Progress callback of :func:`~featref.evaluation.runner.execute_plan` (its record
            carries ``"job"``, the configuration's index in the grid).
        n_resamples: Bootstrap resamples of the paired comparison.

    Returns:
        The grid folder, every configuration's metrics, the comparisons and the table rows.

    Raises:
        ConfigError: see :func:`resolve_grid`.
        CacheError: when a configuration's folder holds a run made with other settings.
    """
    prepared = prepare_grid(spec, out_dir, overrides=overrides, command=command)
    return execute_grid(
        prepared,
        workers=workers,
        backend=backend,
        executor=executor,
        on_unit=on_unit,
        n_resamples=n_resamples,
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _comparison_record(comp) -> dict:
    return {
        "per_seed": {str(k): v for k, v in comp.per_seed.items()},
        "mean_difference": comp.mean_difference,
        "sign_test": vars(comp.sign),
        "bootstrap": vars(comp.bootstrap),
    }


def summarise_grid(
    out_dir: str | Path,
    named: Sequence[tuple[str, ExperimentConfig]],
    reference: str,
    metrics: Mapping[str, dict],
    *,
    n_resamples: int = 10_000,
) -> GridResult:
    """Compare every configuration with the reference (no training); writes ``comparison.json``.

    Reads each run folder's ``predictions.csv``; a configuration whose samples differ from the
    reference's (other databases) gets no comparison, with the reason in ``comparison.json``.
    """
    from featref.evaluation.compare import compare_predictions
    from featref.evaluation.predictions import read_predictions

    out = Path(out_dir)
    cfgs = dict(named)
    ref_rows = read_predictions(out / reference / "predictions.csv")
    comparisons: dict[str, dict] = {}
    for name, _ in named:
        if name == reference:
            continue
        rows = read_predictions(out / name / "predictions.csv")
        labels = metrics[name]["class_names"]
        try:
            comparisons[name] = {
                m: _comparison_record(
                    compare_predictions(
                        rows, ref_rows, labels=labels, metric=m, n_resamples=n_resamples
                    )
                )
                for m in ("uf1", "uar")
            }
        except ConfigError as exc:
            log.warning("No paired comparison of %s with %s: %s", name, reference, exc)
            comparisons[name] = {"error": str(exc)}
    rows_out = []
    for name, cfg in named:
        rows_out.append(
            _table_row(name, cfg, cfgs[reference], reference, metrics[name], comparisons.get(name))
        )
    atomic_write_text(
        out / "comparison.json",
        json.dumps({"reference": reference, "comparisons": comparisons}, indent=2),
    )
    return GridResult(out, [n for n, _ in named], reference, dict(metrics), comparisons, rows_out)


def _table_row(
    name: str,
    cfg: ExperimentConfig,
    ref_cfg: ExperimentConfig,
    reference: str,
    metrics: dict,
    comp: dict | None,
) -> dict:
    summ = metrics["summary"]
    row: dict[str, Any] = {
        "config": name,
        "model": cfg.model.name,
        "channels": ",".join(cfg.data.channels),
        "changes": "(reference)" if name == reference else config_changes(cfg, ref_cfg),
        "seeds": ",".join(str(s) for s in metrics["seeds"]),
        "uf1_mean": summ["all"]["uf1"]["mean"],
        "uf1_std": summ["all"]["uf1"]["std"],
        "uar_mean": summ["all"]["uar"]["mean"],
        "uar_std": summ["all"]["uar"]["std"],
    }
    for db, m in summ["per_database"].items():
        for key in ("uf1", "uar"):
            row[f"{db}_{key}_mean"] = m[key]["mean"]
            row[f"{db}_{key}_std"] = m[key]["std"]
    if comp and "error" not in comp:
        for key in ("uf1", "uar"):
            c = comp[key]
            row[f"d{key}_mean"] = round(c["mean_difference"], 6)
            row[f"d{key}_per_seed"] = ";".join(f"{v:+.4f}" for v in c["per_seed"].values())
            row[f"d{key}_ci_low"] = round(c["bootstrap"]["low"], 6)
            row[f"d{key}_ci_high"] = round(c["bootstrap"]["high"], 6)
            row[f"d{key}_frac_positive"] = round(c["bootstrap"]["frac_positive"], 4)
        s = comp["uf1"]["sign_test"]
        row["sign_wins"], row["sign_losses"], row["sign_ties"] = s["wins"], s["losses"], s["ties"]
        row["sign_p"] = round(s["p_value"], 4)
    elif comp:
        row["comparison_error"] = comp["error"]
    return row
