"""Executors: where units run. In this process, in a pool of worker processes, or on Ray.

An executor is a function ``execute(work, *, workers, threads) -> Iterator[Finished]`` chosen by
name from :data:`EXECUTORS`. It receives MANY units, possibly of several runs (jobs) at once, as
:class:`WorkItem` s, and yields each finished unit as ``Finished(item, record)`` as soon as it is
done, in any order. Executors never touch run folders: the runner
(:func:`featref.evaluation.runner.execute_plan`) stores each yielded record atomically as it
arrives, so a ``kill -9`` loses only the units in flight, and a rerun computes only the rest.

* ``"inprocess"``: one unit after the other in this process (``workers`` is ignored);
* ``"pool"``: ``workers`` spawned processes, each with ``threads`` torch/OpenCV threads; each
  job's data travel once per worker (a per-worker cache keyed by job), the units one by one;
  with one worker or one unit it runs in this process;
* ``"batched"``: the units of each fixed chunk (``[train] ensemble_size``; 0 = all folds of a
  seed) trained together as one fold-batched ensemble (:mod:`featref.training.ensemble`) in this
  process; nested selection runs unit by unit;
* ``"ray"``: one Ray task per unit (1 CPU, ``threads`` threads) on the current Ray connection,
  else on a local Ray instance with ``workers`` CPUs started for the duration; each job's data go
  to the object store once. Worker nodes need no shared file system: records come back to the
  driver. A lost worker costs its task, which Ray retries elsewhere (see ``docs/ray.md``).

A unit is deterministic given (config, seed, fold) and the executor: ``inprocess``, ``pool`` and
``ray`` all run :func:`featref.evaluation.units.compute_unit` and give identical records;
``batched`` gives each (seed, fold) model the same initial weights, batches, augmentation draws
and (on the CPU) dropout masks, so its records differ from theirs by the rounding of its grouped
kernels only (see docs/experiments.md; on CUDA its dropout masks are per model but not the
per-fold path's).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from featref import _ray
from featref.config import ExperimentConfig
from featref.evaluation import units
from featref.evaluation.protocols import Fold, protocol_folds
from featref.evaluation.units import Unit, UnitJob, UnitRecord
from featref.training.loop import set_threads

__all__ = [
    "DEFAULT_EXECUTOR",
    "DEFAULT_EXECUTORS",
    "EXECUTORS",
    "Executor",
    "Finished",
    "WorkItem",
    "chunk_of",
    "run_batched",
    "run_inprocess",
    "run_pool",
    "run_ray",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkItem:
    """One unit to compute: which job of the plan it belongs to, the job and the unit."""

    key: int  # the job's index in the run plan (the runner's key for storing the record)
    job: UnitJob
    unit: Unit


class Finished(NamedTuple):
    """A finished unit: its work item and record."""

    item: WorkItem
    record: UnitRecord


class Executor(Protocol):
    """The executor interface (see the module docstring)."""

    def __call__(
        self, work: list[WorkItem], *, workers: int, threads: int
    ) -> Iterator[Finished]: ...


def run_inprocess(
    work: list[WorkItem], *, workers: int = 1, threads: int = 1
) -> Iterator[Finished]:
    """Compute the units one after the other in this process."""
    set_threads(threads)
    for item in work:
        yield Finished(item, units.compute_unit(item.job, item.unit))


# Per-worker cache of a pool worker: the jobs, sent once per worker by the initializer.
_WORKER_JOBS: dict[int, UnitJob] = {}


def _init_pool_worker(jobs: dict[int, UnitJob], threads: int) -> None:
    set_threads(threads)
    _WORKER_JOBS.clear()
    _WORKER_JOBS.update(jobs)


def _pool_task(task: tuple[int, int, Unit]) -> tuple[int, UnitRecord]:
    i, key, unit = task
    return i, units.compute_unit(_WORKER_JOBS[key], unit)


def run_pool(work: list[WorkItem], *, workers: int, threads: int = 1) -> Iterator[Finished]:
    """Compute the units in ``workers`` spawned processes (in this one for a single worker)."""
    if workers <= 1 or len(work) <= 1:
        yield from run_inprocess(work, workers=1, threads=threads)
        return
    jobs = {item.key: item.job for item in work}
    tasks = [(i, item.key, item.unit) for i, item in enumerate(work)]
    ctx = mp.get_context("spawn")  # fork after torch/OpenMP initialisation can deadlock
    with ctx.Pool(workers, initializer=_init_pool_worker, initargs=(jobs, threads)) as pool:
        for i, rec in pool.imap_unordered(_pool_task, tasks):
            yield Finished(work[i], rec)


def _compute_unit(job: UnitJob, unit: Unit, threads: int) -> UnitRecord:
    """One unit on a Ray worker; returns its record (the driver stores it)."""
    set_threads(threads)
    return units.compute_unit(job, unit)


def run_ray(work: list[WorkItem], *, workers: int, threads: int = 1) -> Iterator[Finished]:
    """Compute the units as Ray tasks; yield each as it finishes.

    Raises:
        ConfigError: when Ray is not installed or the cluster cannot be reached.
    """
    if not work:
        return
    with _ray.session(num_cpus=workers) as ray:
        # The data go to the object store once per job, not once per unit.
        refs = {item.key: None for item in work}
        for item in work:
            if refs[item.key] is None:
                refs[item.key] = ray.put(item.job)
        calls = [(refs[item.key], item.unit, threads) for item in work]
        log.info("Submitting %d units to Ray (%s).", len(work), ray.cluster_resources())
        for i, rec in _ray.imap_unordered(_compute_unit, calls):
            yield Finished(work[i], rec)


def chunk_of(cfg: ExperimentConfig, unit: Unit, n_folds: int) -> tuple[int, int]:
    """The fixed chunk of a unit in the fold-batched executor: ``(seed, block of folds)``.

    The folds of each seed are cut in order into blocks of ``[train] ensemble_size`` (0: all
    folds of the seed). Chunks depend only on the seed, the fold and that size (not on the other
    seeds of the run), so a resumed run, or the same seed run on its own, trains exactly the
    ensembles an uninterrupted run would have trained.
    """
    size = cfg.train.ensemble_size or n_folds
    return unit.seed, unit.fold.index // size


def deterministic_cuda() -> None:
    """PyTorch's deterministic settings for CUDA, where they exist (warnings where they don't)."""
    import os

    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.use_deterministic_algorithms(True, warn_only=True)


def run_batched(work: list[WorkItem], *, workers: int = 1, threads: int = 1) -> Iterator[Finished]:
    """Train each chunk of units as one fold-batched ensemble in this process.

    A chunk with any pending unit is trained whole (its finished units too, whose records are
    then not yielded again), so every unit's result is that of its fixed chunk. Nested selection
    runs unit by unit instead. ``workers`` is ignored: one process, ``threads`` threads. On
    CUDA, PyTorch's deterministic algorithms are switched on where they exist
    (docs/experiments.md lists what stays nondeterministic).
    """
    set_threads(threads)
    if any(item.job.cfg.train.device == "cuda" for item in work):
        deterministic_cuda()
    per_unit: list[WorkItem] = []
    chunks: dict[tuple[int, tuple[int, int]], list[WorkItem]] = {}
    folds_by_key: dict[int, list[Fold]] = {}
    for item in work:
        cfg, flows = item.job.cfg, item.job.flows
        if item.key not in folds_by_key:
            folds_by_key[item.key] = protocol_folds(cfg, flows)
        if cfg.select.grid:  # inner trainings differ per outer fold: one by one
            per_unit.append(item)
            continue
        c = chunk_of(cfg, item.unit, len(folds_by_key[item.key]))
        chunks.setdefault((item.key, c), []).append(item)
    if per_unit:
        log.info("%d units with nested selection run one by one.", len(per_unit))
        yield from run_inprocess(per_unit, threads=threads)
    for (key, c), items in chunks.items():
        job = items[0].job
        folds = folds_by_key[key]
        seed = c[0]
        members = [
            Unit(seed, fold)
            for fold in folds
            if chunk_of(job.cfg, Unit(seed, fold), len(folds)) == c
        ]
        wanted = {(it.unit.seed, it.unit.fold.index): it for it in items}
        for unit, rec in zip(members, units.compute_units(job, members)):
            item = wanted.get((unit.seed, unit.fold.index))
            if item is not None:
                yield Finished(item, rec)


#: Executors by name (``--executor``).
EXECUTORS: dict[str, Executor] = {
    "inprocess": run_inprocess,
    "pool": run_pool,
    "ray": run_ray,
    "batched": run_batched,
}

#: The executor used on each device when none is named (``--backend local`` or neither option):
#: the fastest in ``benchmarks/bench_loso.py`` on the 2-core CPU (docs/experiments.md); on CUDA
#: the fold-batched one, which needs one process and no MPS (not yet measured on a GPU).
DEFAULT_EXECUTORS: dict[str, str] = {"cpu": "pool", "cuda": "batched"}
DEFAULT_EXECUTOR: str = DEFAULT_EXECUTORS["cpu"]
