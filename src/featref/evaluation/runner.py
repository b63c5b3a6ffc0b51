"""Leave-one-subject-out runs: folds x seeds, resumable, with fixed outputs.

A run folder holds ``config.json`` (resolved), ``invocations.jsonl`` (one line per command that
computed units: when, command, units to compute, versions, machine),
``units/seed<S>/fold<FFF>.json`` (one finished (seed, fold) unit each, written atomically: an
interrupted run resumes from them), and, once every unit is done, ``run_info.json`` (the finishing
command, versions, machine, wall time, and every invocation), ``predictions.csv``,
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
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from featref import __version__
from featref.config import ExperimentConfig, hashed_config, resolved_config
from featref.datasets.flowset import FlowSet
from featref.errors import CacheError, ConfigError
from featref.evaluation.predictions import (
    Prediction,
    summarise,
    write_megc_log,
    write_predictions,
)
from featref.evaluation.protocols import Fold, LeaveOneSubjectOut

__all__ = [
    "Job",
    "RunResult",
    "Task",
    "Unit",
    "config_hash",
    "execute_task",
    "iterate_tasks",
    "pending_units",
    "run_jobs",
    "run_loso",
    "run_unit",
]

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
    """Hash of everything that determines a unit's result (config minus seeds/threads, data).

    The data enter by content, not by folder: a run stays valid when the data move (another
    machine, another mount point), and becomes invalid when their content changes.
    """
    conf = hashed_config(cfg)
    for key in ("seeds", "threads"):
        conf["train"].pop(key, None)
    conf["data"]["data_dir"] = None  # None, not removed: keeps the hashes of earlier runs
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
    if cfg.select.grid:  # nested selection on the training subjects, then this with the choice
        from featref.evaluation.nested import run_nested_unit

        return run_nested_unit(flows, cfg, unit, digest)
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


@dataclass(frozen=True)
class Job:
    """One run to compute: its data, configuration and folder."""

    flows: FlowSet
    cfg: ExperimentConfig
    out_dir: Path
    command: str | None = None


@dataclass(frozen=True)
class Task:
    """One unit of one job, as sent to a worker (the job's data travels once per worker)."""

    job: int
    unit: Unit


# Worker-process state: the jobs are sent once per worker, not once per unit.
_WORKER: dict = {}


def _init_worker(jobs: list[tuple[FlowSet, ExperimentConfig, str, Path]], threads: int) -> None:
    from featref.training.loop import set_threads

    set_threads(threads)
    _WORKER["jobs"] = jobs


def execute_task(job: tuple[FlowSet, ExperimentConfig, str, Path], unit: Unit) -> dict:
    """Compute one unit and store its record atomically; returns the record."""
    flows, cfg, digest, out_dir = job
    rec = run_unit(flows, cfg, unit, digest)
    _atomic_write(_unit_path(out_dir, unit.seed, unit.fold), json.dumps(rec))
    return rec


def _work(task: Task) -> dict:
    rec = execute_task(_WORKER["jobs"][task.job], task.unit)
    rec["job"] = task.job
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


def iterate_tasks(
    tasks: list[Task], specs: list, *, workers: int, threads: int, backend: str
) -> Iterator[dict]:
    """Run tasks and yield their records as they finish (in any order)."""
    if backend == "ray":
        from featref.evaluation import ray_backend

        yield from ray_backend.iterate(tasks, specs, workers=workers, threads=threads)
        return
    if backend != "local":
        raise ConfigError(f"backend must be 'local' or 'ray'. Got {backend!r}.")
    if workers <= 1 or len(tasks) <= 1:
        _init_worker(specs, threads)
        for task in tasks:
            yield _work(task)
        return
    ctx = mp.get_context("spawn")  # fork after torch/OpenMP initialisation can deadlock
    with ctx.Pool(workers, initializer=_init_worker, initargs=(specs, threads)) as pool:
        yield from pool.imap_unordered(_work, tasks)


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
    backend: str = "local",
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
        backend: ``"local"`` (processes on this machine) or ``"ray"`` (a Ray cluster).
        command: The command line, recorded in ``run_info.json``.
        on_unit: Called after each finished unit with its record and the running pooled UF1 of
            the run's finished units (for progress bars).

    Returns:
        The run folder and the content of ``metrics.json``.
    """
    job = Job(flows, cfg, Path(out_dir), command)
    return run_jobs([job], workers=workers, backend=backend, on_unit=on_unit)[0]


def _check_model(job: Job) -> None:
    from featref.models import create_model

    try:
        create_model(
            job.cfg.model.name,
            num_classes=len(job.flows.class_names),
            in_channels=len(job.flows.channels),
            **dict(job.cfg.model.kwargs),
        )
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"[model] of {job.out_dir}: {exc}") from exc


def run_jobs(
    jobs: list[Job],
    *,
    workers: int = 1,
    backend: str = "local",
    on_unit: Callable[[dict, float | None], None] | None = None,
) -> list[RunResult]:
    """Run several leave-one-subject-out jobs, their units interleaved on one pool of workers.

    Every (job, seed, fold) unit is independent; each is stored as it finishes, so an
    interrupted call loses only the units in flight and a rerun computes only the rest.

    Returns:
        One :class:`RunResult` per job, in order.
    """
    specs, tasks, done_by_job, digests = [], [], [], []
    for job in jobs:  # fail fast, before any worker starts, on a bad model name or argument
        _check_model(job)
    for j, job in enumerate(jobs):
        out = Path(job.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        digest = config_hash(job.cfg, job.flows)
        conf = resolved_config(job.cfg)
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
        todo, done = pending_units(job.flows, job.cfg, out)
        if done:
            log.info("Resuming %s: %d units done, %d to go.", out, len(done), len(todo))
        specs.append((job.flows, job.cfg, digest, out))
        tasks += [Task(j, u) for u in todo]
        done_by_job.append(done)
        digests.append(digest)
    if tasks:  # a finished run needs no device (its tables can be rebuilt anywhere)
        from featref.training.loop import check_device

        for job in jobs:
            check_device(job.cfg.train.device)
    for j, job in enumerate(jobs):  # provenance: which command and machine computed which units
        todo_j = sum(task.job == j for task in tasks)
        if todo_j:
            _record_invocation(Path(job.out_dir), job, todo_j)
    t0 = time.perf_counter()
    threads = jobs[0].cfg.train.threads if jobs else 1
    pooled: list[tuple[list[str], list[str]]] = [
        (
            [r["y_true"] for rec in d.values() for r in rec["rows"]],
            [r["y_pred"] for rec in d.values() for r in rec["rows"]],
        )
        for d in done_by_job
    ]
    for rec in iterate_tasks(tasks, specs, workers=workers, threads=threads, backend=backend):
        j = rec.pop("job")
        done_by_job[j][(rec["seed"], rec["fold"])] = rec
        pooled[j][0].extend(r["y_true"] for r in rec["rows"])
        pooled[j][1].extend(r["y_pred"] for r in rec["rows"])
        if on_unit is not None:
            from featref.evaluation.metrics import uf1

            labels = list(jobs[j].flows.class_names)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                running = uf1(*pooled[j], labels=labels)
            on_unit({**rec, "job": j}, running)
    wall = time.perf_counter() - t0
    return [
        RunResult(
            Path(job.out_dir),
            _finalise(Path(job.out_dir), job.flows, job.cfg, done, wall, job.command),
        )
        for job, done in zip(jobs, done_by_job)
    ]


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
    if cfg.select.grid:
        from featref.evaluation.nested import write_selection

        write_selection(out, done, cfg)
    info = {
        "command": command or " ".join(sys.argv),
        **_environment(),
        "wall_time_s": round(wall, 1),
        "invocations": _read_invocations(out),
    }
    _atomic_write(out / "run_info.json", json.dumps(info, indent=2))
    return metrics


def _record_invocation(out: Path, job: Job, units: int) -> None:
    """Append this command's line to ``invocations.jsonl`` (a resumed run keeps every line)."""
    from datetime import UTC, datetime

    entry = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": job.command or " ".join(sys.argv),
        "units_to_compute": units,
        "device": job.cfg.train.device,
        **_environment(),
    }
    with open(out / "invocations.jsonl", "a") as f:
        f.write(json.dumps(entry) + "\n")


def _read_invocations(out: Path) -> list[dict]:
    path = out / "invocations.jsonl"
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut by a crash: provenance only, keep the rest
            log.warning("Skipping an unreadable line of %s.", path)
    return entries
