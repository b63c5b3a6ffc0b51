"""Leave-one-subject-out runs: folds x seeds, resumable, with fixed outputs.

A run folder holds ``config.json`` (resolved), ``run_info.json`` (command, versions, machine, wall
time), ``units/seed<S>/fold<FFF>.json`` (one finished (seed, fold) unit each, written atomically:
an interrupted run resumes from them), and, once every unit is done, ``predictions.csv``,
``metrics.json``, ``log.jsonl``, ``features.npz`` and ``megc2019_seed<S>.txt`` per seed.

Each unit trains on the training subjects only (:func:`featref.training.loop.train_one_fold`) and
only then predicts its test subject. Units are independent and deterministic given
``(config, seed, fold)``, so the result does not depend on how many workers ran them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing as mp
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from featref import __version__
from featref.config import ExperimentConfig, resolved_config
from featref.datasets.flowset import FlowSet
from featref.errors import CacheError
from featref.evaluation.predictions import (
    Prediction,
    summarise,
    write_megc_log,
    write_predictions,
)
from featref.evaluation.protocols import Fold, LeaveOneSubjectOut

__all__ = ["RunResult", "Unit", "config_hash", "pending_units", "run_loso", "run_unit"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Unit:
    """One (seed, fold) piece of work."""

    seed: int
    fold: Fold


@dataclass(frozen=True)
class RunResult:
    """What :func:`run_loso` returns: the run folder and its ``metrics.json`` content."""

    out_dir: Path
    metrics: dict


def config_hash(cfg: ExperimentConfig, flows: FlowSet) -> str:
    """Hash of everything that determines a unit's result (config minus seeds/threads, data)."""
    conf = resolved_config(cfg)
    for key in ("seeds", "threads", "fold_batch"):
        conf["train"].pop(key, None)
    h = hashlib.sha256(json.dumps(conf, sort_keys=True).encode())
    h.update("\n".join(flows.sample_ids).encode())
    h.update(np.ascontiguousarray(flows.labels).tobytes())
    h.update(np.ascontiguousarray(flows.x).tobytes())
    return h.hexdigest()[:16]


def _unit_path(out_dir: Path, seed: int, fold: Fold) -> Path:
    return out_dir / "units" / f"seed{seed}" / f"fold{fold.index:03d}.json"


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _load_unit(path: Path, digest: str) -> dict | None:
    """A finished unit, or None if absent; a corrupt or foreign file is discarded (recomputed)."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        log.warning("Discarding corrupt unit file %s; it will be recomputed.", path)
        return None
    if data.get("config_hash") != digest:
        raise CacheError(
            f"{path} was computed with config hash {data.get('config_hash')}, this run has "
            f"{digest}. Use a new --output-dir, or delete {path.parent.parent} to start over."
        )
    return data


def run_unit(flows: FlowSet, cfg: ExperimentConfig, unit: Unit, digest: str) -> dict:
    """Train one fold for one seed, then predict its test subject. Returns the unit record."""
    import torch

    from featref.models import create_model
    from featref.training.loop import fold_seed, predict, train_one_fold

    index = {sid: i for i, sid in enumerate(flows.sample_ids)}
    train = np.array([index[s] for s in unit.fold.train_ids])
    test = np.array([index[s] for s in unit.fold.test_ids])
    device = torch.device(cfg.train.device)
    s = fold_seed(unit.seed, unit.fold.index)
    torch.manual_seed(s)
    model = create_model(
        cfg.model.name,
        num_classes=len(flows.class_names),
        in_channels=len(flows.channels),
        **dict(cfg.model.kwargs),
    ).to(device)
    epochs: list[dict] = []
    t0 = time.perf_counter()
    # Only the training samples are handed to the training loop.
    model = train_one_fold(
        model,
        torch.as_tensor(flows.x[train], device=device),
        torch.as_tensor(flows.labels[train], device=device),
        cfg.train,
        seed=s,
        num_classes=len(flows.class_names),
        on_epoch=epochs.append,
    )
    out = predict(model, torch.as_tensor(flows.x[test], device=device))
    names = flows.class_names
    preds = out["probs"].argmax(1)
    return {
        "config_hash": digest,
        "seed": unit.seed,
        "fold": unit.fold.index,
        "test_subject": unit.fold.test_subject,
        "train_time_s": round(time.perf_counter() - t0, 3),
        "epochs": epochs,
        "rows": [
            {
                "sample_id": flows.sample_ids[i],
                "dataset": flows.datasets[i],
                "y_true": names[int(flows.labels[i])],
                "y_pred": names[int(p)],
                "probs": [round(float(v), 6) for v in out["probs"][k]],
                "attention": [round(float(v), 6) for v in out["attention"][k]],
                "shared": [round(float(v), 5) for v in out["shared"][k]],
                "refined": [round(float(v), 5) for v in out["refined"][k]],
            }
            for k, (i, p) in enumerate(zip(test, preds))
        ],
    }


# Worker-process state: the data and config are sent once per worker, not once per unit.
_WORKER: dict = {}


def _init_worker(flows: FlowSet, cfg: ExperimentConfig, digest: str, out_dir: Path) -> None:
    from featref.training.loop import set_threads

    set_threads(cfg.train.threads)
    _WORKER.update(flows=flows, cfg=cfg, digest=digest, out_dir=out_dir)


def _work(unit: Unit) -> dict:
    rec = run_unit(_WORKER["flows"], _WORKER["cfg"], unit, _WORKER["digest"])
    _atomic_write(_unit_path(_WORKER["out_dir"], unit.seed, unit.fold), json.dumps(rec))
    return rec


def pending_units(flows: FlowSet, cfg: ExperimentConfig, out_dir: Path) -> tuple[list[Unit], dict]:
    """Units still to compute, and the finished ones' records keyed by (seed, fold index)."""
    digest = config_hash(cfg, flows)
    folds = list(LeaveOneSubjectOut().split(flows.sample_ids, flows.subjects))
    todo, done = [], {}
    for seed in cfg.train.seeds:
        for fold in folds:
            rec = _load_unit(_unit_path(out_dir, seed, fold), digest)
            if rec is None:
                todo.append(Unit(seed, fold))
            else:
                done[(seed, fold.index)] = rec
    return todo, done


def _iterate(
    todo: list[Unit],
    flows: FlowSet,
    cfg: ExperimentConfig,
    digest: str,
    out_dir: Path,
    workers: int,
) -> Iterator[dict]:
    if workers <= 1 or len(todo) <= 1:
        _init_worker(flows, cfg, digest, out_dir)
        for unit in todo:
            yield _work(unit)
        return
    ctx = mp.get_context("spawn")  # fork after torch/OpenMP initialisation can deadlock
    with ctx.Pool(
        workers, initializer=_init_worker, initargs=(flows, cfg, digest, out_dir)
    ) as pool:
        yield from pool.imap_unordered(_work, todo)


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


def _environment() -> dict:
    import torch

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
        import cv2

        info["opencv"] = cv2.__version__
    except ImportError:
        info["opencv"] = None
    return info


def run_loso(
    flows: FlowSet,
    cfg: ExperimentConfig,
    out_dir: str | Path,
    *,
    workers: int = 1,
    command: str | None = None,
    on_unit: Callable[[dict, float | None], None] | None = None,
) -> RunResult:
    """Leave-one-subject-out over ``flows`` for every seed of ``cfg``; resumable.

    Args:
        flows: The data (all subjects). Each fold trains on all subjects but one.
        cfg: Data, model and training configuration.
        out_dir: The run folder. An existing one with finished units is resumed; one made with
            another configuration or data is an error.
        workers: Worker processes (each uses ``cfg.train.threads`` threads).
        command: The command line, recorded in ``run_info.json``.
        on_unit: Called after each finished unit with its record and the running pooled UF1 of
            the finished units (for progress bars).

    Returns:
        The run folder and the content of ``metrics.json``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    digest = config_hash(cfg, flows)
    conf = resolved_config(cfg)
    conf["config_hash"] = digest
    cfg_file = out / "config.json"
    if cfg_file.is_file():
        old = json.loads(cfg_file.read_text()).get("config_hash")
        if old != digest:
            raise CacheError(
                f"{out} holds a run with config hash {old}; this run has {digest}. "
                "Use a new --output-dir, or delete the folder to start over."
            )
    _atomic_write(cfg_file, json.dumps(conf, indent=2))
    t0 = time.perf_counter()
    todo, done = pending_units(flows, cfg, out)
    if done:
        log.info("Resuming %s: %d units done, %d to go.", out, len(done), len(todo))
    labels = list(flows.class_names)
    pooled_true = [r["y_true"] for rec in done.values() for r in rec["rows"]]
    pooled_pred = [r["y_pred"] for rec in done.values() for r in rec["rows"]]
    for rec in _iterate(todo, flows, cfg, digest, out, workers):
        done[(rec["seed"], rec["fold"])] = rec
        pooled_true += [r["y_true"] for r in rec["rows"]]
        pooled_pred += [r["y_pred"] for r in rec["rows"]]
        if on_unit is not None:
            from featref.evaluation.metrics import uf1

            on_unit(rec, uf1(pooled_true, pooled_pred, labels=labels))
    metrics = _finalise(out, flows, cfg, done, time.perf_counter() - t0, command)
    return RunResult(out, metrics)


def _finalise(
    out: Path, flows: FlowSet, cfg: ExperimentConfig, done: dict, wall: float, command: str | None
) -> dict:
    """Write predictions.csv, metrics.json, log.jsonl, features.npz and the MEGC logs."""
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
    _atomic_write(out / "log.jsonl", "\n".join(log_lines) + "\n")
    np.savez_compressed(
        out / "features.npz",
        sample_ids=np.array(feats["sample_ids"]),
        seed=np.array(feats["seed"]),
        shared=np.array(feats["shared"], dtype=np.float32),
        refined=np.array(feats["refined"], dtype=np.float32),
        attention=np.array(feats["attention"], dtype=np.float32),
        y_true=np.array([int(flows.labels[order[s]]) for s in feats["sample_ids"]]),
    )
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
    _atomic_write(out / "metrics.json", json.dumps(metrics, indent=2))
    info = {
        "command": command or " ".join(sys.argv),
        **_environment(),
        "wall_time_s": round(wall, 1),
    }
    _atomic_write(out / "run_info.json", json.dumps(info, indent=2))
    return metrics
