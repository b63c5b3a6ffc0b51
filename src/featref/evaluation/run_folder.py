"""The run folder: its config hash, unit files, resume, final outputs, provenance and selections.

A run folder holds

* ``config.json``: the resolved configuration and its ``config_hash``;
* ``invocations.jsonl``: one line per command that computed units (when, command, units to
  compute, device, versions, machine);
* ``units/seed<S>/fold<FFF>.json``: one finished (seed, fold) unit record each
  (:mod:`featref.evaluation.units`), written atomically as it arrives: an interrupted run resumes
  from them and recomputes only the missing ones;
* once every unit is done: ``predictions.csv``, ``metrics.json``, ``log.jsonl``,
  ``features.npz``, ``megc2019_seed<S>.txt`` per seed, ``run_info.json`` (the finishing command,
  versions, machine, wall time and every invocation) and, with nested selection,
  ``selection.json`` and ``selection.csv``.

The config hash covers :func:`featref.config.hashed_config` (the resolved configuration less
seeds, threads, the data folder and the fields :data:`featref.config.HASH_OMIT_AT_DEFAULT` leaves
out at their default) and the data by content. Files are validated on read where that is cheap: a
unit file that is not valid JSON or lacks a record's keys is discarded (recomputed); one with
another config hash is an error.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import platform
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from featref import __version__
from featref.atomic import atomic_write_bytes, atomic_write_text
from featref.config import ExperimentConfig, hashed_config, resolved_config
from featref.datasets.flowset import FlowSet
from featref.errors import CacheError
from featref.evaluation.predictions import Prediction, summarise, write_megc_log, write_predictions
from featref.evaluation.protocols import protocol_folds
from featref.evaluation.units import Unit, UnitRecord, check_record

__all__ = [
    "check_folder",
    "config_hash",
    "default_run_dir",
    "environment",
    "finalise",
    "load_unit",
    "pending_units",
    "read_invocations",
    "record_invocation",
    "unit_path",
    "write_config",
    "write_selection",
    "write_unit",
]

log = logging.getLogger(__name__)


def config_hash(cfg: ExperimentConfig, flows: FlowSet) -> str:
    """Hash of everything that determines a unit's result (config minus seeds/threads, data).

    The data enter by content, not by folder: a run stays valid when the data move (another
    machine, another mount point), and becomes invalid when their content changes. Fields added
    to the config after v0.1.0 enter only when they differ from their default
    (:data:`featref.config.HASH_OMIT_AT_DEFAULT`), so older run folders keep their hash.
    """
    conf = hashed_config(cfg)
    for key in ("seeds", "threads", "ensemble_size"):  # how, not what, is computed
        conf["train"].pop(key, None)
    conf["data"]["data_dir"] = None  # None, not removed: keeps the hashes of earlier runs
    h = hashlib.sha256(json.dumps(conf, sort_keys=True).encode())
    h.update("\n".join(flows.sample_ids).encode())
    h.update(np.ascontiguousarray(flows.labels).tobytes())
    h.update(np.ascontiguousarray(flows.x).tobytes())
    return h.hexdigest()[:16]


def default_run_dir(cfg: ExperimentConfig, digest: str, root: str | Path = "runs") -> Path:
    """``<root>/<source>-<model>-<first 8 hex digits of the config hash>``."""
    return Path(root) / f"{cfg.data.source}-{cfg.model.name}-{digest[:8]}"


def unit_path(out_dir: str | Path, seed: int, fold_index: int) -> Path:
    """Where the record of unit (seed, fold) lives in a run folder."""
    return Path(out_dir) / "units" / f"seed{seed}" / f"fold{fold_index:03d}.json"


def load_unit(path: Path, digest: str) -> UnitRecord | None:
    """A finished unit, or None if absent; a corrupt or incomplete file is discarded (recomputed).

    Raises:
        CacheError: the file was computed with another config hash.
    """
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        log.warning("Discarding corrupt unit file %s; it will be recomputed.", path)
        return None
    problem = check_record(data)
    if problem is not None:
        log.warning("Discarding unit file %s (%s); it will be recomputed.", path, problem)
        return None
    if data.get("config_hash") != digest:
        raise CacheError(
            f"{path} was computed with config hash {data.get('config_hash')}, this run has "
            f"{digest}. Use a new --output-dir, or delete {path.parent.parent} to start over."
        )
    return data


def write_unit(out_dir: str | Path, rec: UnitRecord) -> Path:
    """Store a finished unit record atomically; returns its path."""
    path = unit_path(out_dir, rec["seed"], rec["fold"])
    atomic_write_text(path, json.dumps(rec))
    return path


def pending_units(
    flows: FlowSet, cfg: ExperimentConfig, out_dir: str | Path, digest: str | None = None
) -> tuple[list[Unit], dict[tuple[int, int], UnitRecord]]:
    """Units still to compute, and the finished ones' records keyed by (seed, fold index).

    Args:
        flows: The run's data.
        cfg: The run's configuration.
        out_dir: The run folder (need not exist).
        digest: The run's config hash, when the caller has it (else computed here).
    """
    digest = config_hash(cfg, flows) if digest is None else digest
    folds = protocol_folds(cfg, flows)
    todo, done = [], {}
    for seed in cfg.train.seeds:
        for fold in folds:
            rec = load_unit(unit_path(out_dir, seed, fold.index), digest)
            if rec is None:
                todo.append(Unit(seed, fold))
            else:
                done[(seed, fold.index)] = rec
    return todo, done


def check_folder(out_dir: str | Path, digest: str, cfg: ExperimentConfig | None = None) -> None:
    """Refuse a folder whose ``config.json`` holds a run with another config hash (reads only).

    Args:
        out_dir: The run folder.
        digest: This run's config hash.
        cfg: This run's configuration; when given, a refusal lists the settings that differ.

    Raises:
        CacheError: with both hashes, the settings that differ and what to do.
    """
    cfg_file = Path(out_dir) / "config.json"
    if not cfg_file.is_file():
        return
    try:
        stored = json.loads(cfg_file.read_text())
        old = stored.get("config_hash")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as exc:
        raise CacheError(
            f"{cfg_file} is not a featref config.json (expected a JSON object with "
            f"config_hash): {exc}. Use a new --output-dir, or delete the folder to start over."
        ) from exc
    if old != digest:
        changed = ""
        if cfg is not None:
            diffs = settings_diff(stored, resolved_config(cfg))
            changed = (
                " Settings that differ (stored -> this run): " + "; ".join(diffs[:12]) + "."
                if diffs
                else " The settings are equal, so the data differ (another data folder or "
                "changed files)."
            )
        raise CacheError(
            f"{out_dir} holds a run with config hash {old}; this run has {digest}.{changed} "
            "Use a new --output-dir, or delete the folder to start over."
        )


def settings_diff(stored: dict, new: dict) -> list[str]:
    """``"train.epochs: 12 -> 3"`` for every setting that differs between two resolved configs
    (``config.json``'s ``config_hash`` and unrecorded keys ignored)."""

    def flat(d: dict, prefix: str = "") -> dict:
        out = {}
        for k, v in d.items():
            if isinstance(v, dict) and v:
                out.update(flat(v, f"{prefix}{k}."))
            else:
                out[f"{prefix}{k}"] = list(v) if isinstance(v, tuple) else v
        return out

    a = flat({k: v for k, v in stored.items() if k != "config_hash"})
    b = json.loads(json.dumps(flat(new)))  # tuples -> lists, as stored
    missing = "(not set)"
    return [
        f"{k}: {a.get(k, missing)!r} -> {b.get(k, missing)!r}"
        for k in sorted(set(a) | set(b))
        if a.get(k, missing) != b.get(k, missing)
    ]


def write_config(out_dir: str | Path, cfg: ExperimentConfig, digest: str) -> None:
    """Write ``config.json``: the resolved configuration and its config hash."""
    conf = resolved_config(cfg)
    conf["config_hash"] = digest
    atomic_write_text(Path(out_dir) / "config.json", json.dumps(conf, indent=2))


def _git_sha() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict:
    """Versions and machine, recorded in ``run_info.json`` and ``invocations.jsonl``."""
    info = {
        "featref": __version__,
        "git_sha": _git_sha(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpu_count": os.cpu_count(),
    }
    try:
        import cv2  # optional: only needed for preprocessing

        info["opencv"] = cv2.__version__
    except ImportError:
        info["opencv"] = None
    return info


def record_invocation(out_dir: str | Path, command: str | None, device: str, units: int) -> None:
    """Append this command's line to ``invocations.jsonl`` (a resumed run keeps every line)."""
    entry = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command or " ".join(sys.argv),
        "units_to_compute": units,
        "device": device,
        **environment(),
    }
    with open(Path(out_dir) / "invocations.jsonl", "a") as f:
        f.write(json.dumps(entry) + "\n")


def read_invocations(out_dir: str | Path) -> list[dict]:
    """The lines of ``invocations.jsonl``; a line cut by a crash is skipped (provenance only)."""
    path = Path(out_dir) / "invocations.jsonl"
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            log.warning("Skipping an unreadable line of %s.", path)
    return entries


def _stored_wall_time(path: Path) -> float:
    """``wall_time_s`` of an earlier metrics.json, 0 when there is none (or it is unreadable,
    and so about to be rewritten)."""
    try:
        return float(json.loads(path.read_text()).get("wall_time_s", 0.0))
    except (OSError, ValueError, TypeError, AttributeError):
        return 0.0


def finalise(
    out_dir: str | Path,
    flows: FlowSet,
    cfg: ExperimentConfig,
    done: Mapping[tuple[int, int], UnitRecord],
    wall: float,
    command: str | None,
) -> dict:
    """Write the final outputs of a run whose units are all done; returns ``metrics.json``.

    ``wall`` is this invocation's training time; it is added to the ``wall_time_s`` of an earlier
    ``metrics.json`` of the folder (a rerun that adds seeds, or only tabulates, keeps the time of
    the invocations before it).
    """
    out = Path(out_dir)
    wall += _stored_wall_time(out / "metrics.json")
    names = flows.class_names
    order = {sid: i for i, sid in enumerate(flows.sample_ids)}
    subject = dict(zip(flows.sample_ids, flows.subjects))
    rows, feats = [], {"sample_ids": [], "seed": [], "shared": [], "refined": [], "attention": []}
    log_lines = []
    for (seed, fold), rec in sorted(done.items()):
        for e in rec["epochs"]:
            log_lines.append(json.dumps({"seed": seed, "fold": fold, **e}))
        for r in rec["rows"]:
            rows.append(
                Prediction(
                    seed=seed,
                    fold=fold,
                    sample_id=r["sample_id"],
                    dataset=r["dataset"],
                    subject=subject[r["sample_id"]],
                    y_true=r["y_true"],
                    y_pred=r["y_pred"],
                    probs=tuple(r["probs"]),
                    attention=tuple(r["attention"]),
                )
            )
            for key in ("shared", "refined", "attention"):
                feats[key].append(r[key])
            feats["sample_ids"].append(r["sample_id"])
            feats["seed"].append(seed)
    rows.sort(key=lambda r: (r.seed, order[r.sample_id]))
    write_predictions(out / "predictions.csv", rows, names)
    atomic_write_text(out / "log.jsonl", "\n".join(log_lines) + "\n")
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        sample_ids=np.array(feats["sample_ids"]),
        seed=np.array(feats["seed"]),
        shared=np.array(feats["shared"], dtype=np.float32),
        refined=np.array(feats["refined"], dtype=np.float32),
        attention=np.array(feats["attention"], dtype=np.float32),
        y_true=np.array([int(flows.labels[order[s]]) for s in feats["sample_ids"]]),
    )
    atomic_write_bytes(out / "features.npz", buf.getvalue())
    for seed in cfg.train.seeds:
        write_megc_log(out / f"megc2019_seed{seed}.txt", [r for r in rows if r.seed == seed], names)
    metrics = {
        "class_names": list(names),
        "model": cfg.model.name,
        "channels": list(flows.channels),
        "seeds": list(cfg.train.seeds),
        "num_samples": len(flows),
        "num_subjects": len(set(flows.subjects)),
        **summarise(rows, names),
        "wall_time_s": round(wall, 1),
        "unit_train_time_s": round(sum(r["train_time_s"] for r in done.values()), 1),
    }
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2))
    if cfg.select.grid:
        write_selection(out, done, cfg)
    info = {
        "command": command or " ".join(sys.argv),
        **environment(),
        "wall_time_s": round(wall, 1),
        "invocations": read_invocations(out),
    }
    atomic_write_text(out / "run_info.json", json.dumps(info, indent=2))
    return metrics


def write_selection(
    out_dir: str | Path, records: Mapping[tuple[int, int], UnitRecord], cfg: ExperimentConfig
) -> None:
    """Write ``selection.json`` and ``selection.csv``: the chosen values of every outer unit.

    Args:
        out_dir: The run folder.
        records: Finished unit records keyed by (seed, fold index), with ``"selection"``.
        cfg: The run's configuration (its ``[select]`` section is recorded).
    """
    out = Path(out_dir)
    keys = list(cfg.select.grid)
    folds, rows = [], []
    counts: dict[str, Counter] = {k: Counter() for k in keys}
    for (seed, fold), rec in sorted(records.items()):
        sel = rec.get("selection")
        if sel is None:
            continue
        chosen = sel["chosen"]
        best = max(c["score"] for c in sel["candidates"])
        folds.append({"seed": seed, "fold": fold, "test_subject": rec["test_subject"], **sel})
        rows.append([seed, fold, rec["test_subject"], *(chosen[k] for k in keys), best])
        for k in keys:
            counts[k][json.dumps(chosen[k])] += 1
    summary = {
        "grid": {k: list(v) for k, v in cfg.select.grid.items()},
        "inner_folds": cfg.select.inner_folds,
        "metric": cfg.select.metric,
        "times_chosen": {k: {v: n for v, n in c.most_common()} for k, c in counts.items()},
        "folds": folds,
    }
    atomic_write_text(out / "selection.json", json.dumps(summary, indent=2))
    text = io.StringIO(newline="")
    w = csv.writer(text)
    w.writerow(["seed", "fold", "test_subject", *keys, f"inner_{cfg.select.metric}"])
    w.writerows(rows)
    atomic_write_text(out / "selection.csv", text.getvalue())
