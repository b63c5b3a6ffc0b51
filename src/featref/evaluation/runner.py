"""Leave-one-subject-out runs: plan once, execute, finalise.

:func:`plan_run` turns jobs (data, configuration, run folder) into a :class:`RunPlan`, computed
once: each job's config hash, the units still to compute and the finished ones (resume). The CLI
prints that plan and hands it to :func:`execute_plan`, which writes each folder's
``config.json`` and provenance line, sends every pending unit of every job to one executor
(:data:`featref.evaluation.executors.EXECUTORS`), stores each record the moment it arrives
(:func:`featref.evaluation.run_folder.write_unit`, atomic) and writes the final outputs once a
job's units are all done. :func:`run_loso` and :func:`run_jobs` are the two-step call in one.

Modules, imported downward only: :mod:`~featref.evaluation.units` (what a unit is and how it is
computed) <- :mod:`~featref.evaluation.run_folder` (what a run folder holds) and
:mod:`~featref.evaluation.executors` (where units run) <- this module (the orchestration).
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from featref.config import ExperimentConfig
from featref.datasets.flowset import FlowSet
from featref.errors import ConfigError
from featref.evaluation import run_folder
from featref.evaluation.executors import DEFAULT_EXECUTOR, DEFAULT_EXECUTORS, EXECUTORS, WorkItem
from featref.evaluation.metrics import uf1
from featref.evaluation.units import Unit, UnitJob, UnitRecord
from featref.training.fit import build_model
from featref.training.loop import check_device

__all__ = [
    "Job",
    "JobPlan",
    "RunPlan",
    "RunResult",
    "execute_plan",
    "executor_name",
    "plan_run",
    "run_jobs",
    "run_loso",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """One run to compute: its data, configuration and folder.

    ``out_dir=None`` means :func:`featref.evaluation.run_folder.default_run_dir` (named after
    the config hash, which :func:`plan_run` computes once).
    """

    flows: FlowSet
    cfg: ExperimentConfig
    out_dir: Path | None = None
    command: str | None = None


@dataclass(frozen=True)
class JobPlan:
    """One job, planned: its folder, config hash, pending units and finished records."""

    job: Job
    out_dir: Path
    digest: str
    todo: tuple[Unit, ...]
    done: dict[tuple[int, int], UnitRecord]

    @property
    def total(self) -> int:
        """Units of the job, finished or not."""
        return len(self.todo) + len(self.done)


@dataclass(frozen=True)
class RunPlan:
    """What :func:`execute_plan` will do: one :class:`JobPlan` per job, in order."""

    jobs: tuple[JobPlan, ...]

    @property
    def todo(self) -> int:
        """Units to compute, over all jobs."""
        return sum(len(j.todo) for j in self.jobs)

    @property
    def total(self) -> int:
        """Units of all jobs, finished or not."""
        return sum(j.total for j in self.jobs)

    def describe(self) -> str:
        """One line: ``"N of M fold units to train"``."""
        return f"{self.todo} of {self.total} fold units to train"


@dataclass(frozen=True)
class RunResult:
    """What :func:`run_loso` returns: the run folder and its ``metrics.json`` content."""

    out_dir: Path
    metrics: dict


def _check_model(job: Job, out_dir: Path) -> None:
    try:
        build_model(
            job.cfg.model,
            num_classes=len(job.flows.class_names),
            in_channels=len(job.flows.channels),
        )
    except ConfigError as exc:
        raise ConfigError(f"The run for {out_dir}: {exc}") from exc


def plan_run(jobs: list[Job]) -> RunPlan:
    """Plan jobs: check each model builds, hash each config once, find finished units.

    Reads run folders only; writes nothing.

    Raises:
        ConfigError: a ``[model]`` that does not build (before any work starts).
        CacheError: a folder that holds a run with another config hash.
    """
    planned = []
    for job in jobs:
        digest = run_folder.config_hash(job.cfg, job.flows)
        out = Path(job.out_dir) if job.out_dir is not None else None
        out = out or run_folder.default_run_dir(job.cfg, digest)
        _check_model(job, out)  # fail fast, before any worker starts
        run_folder.check_folder(out, digest, job.cfg)
        todo, done = run_folder.pending_units(job.flows, job.cfg, out, digest)
        if done:
            log.info("Resuming %s: %d units done, %d to go.", out, len(done), len(todo))
        planned.append(JobPlan(job, out, digest, tuple(todo), done))
    return RunPlan(tuple(planned))


def execute_plan(
    plan: RunPlan,
    *,
    executor: str = DEFAULT_EXECUTOR,
    workers: int = 1,
    on_unit: Callable[[dict, float | None], None] | None = None,
) -> list[RunResult]:
    """Compute a plan's pending units on one executor, store each as it arrives, finalise.

    Args:
        plan: From :func:`plan_run`.
        executor: A name in :data:`featref.evaluation.executors.EXECUTORS`.
        workers: Worker processes (pool) or CPUs of a local Ray instance.
        on_unit: Called after each stored unit with its record (plus ``"job"``, the job's index)
            and the running pooled UF1 of the job's finished units (for progress bars).

    Returns:
        One :class:`RunResult` per job, in order.
    """
    if executor not in EXECUTORS:
        raise ConfigError(
            f"Unknown executor {executor!r} (--executor). Valid executors: {sorted(EXECUTORS)}."
        )
    if plan.todo:  # a finished run needs no device (its tables can be rebuilt anywhere)
        for jp in plan.jobs:
            check_device(jp.job.cfg.train.device)
    work: list[WorkItem] = []
    done: list[dict[tuple[int, int], UnitRecord]] = []
    for j, jp in enumerate(plan.jobs):
        jp.out_dir.mkdir(parents=True, exist_ok=True)
        run_folder.write_config(jp.out_dir, jp.job.cfg, jp.digest)
        if jp.todo:  # provenance: which command and machine computed which units
            run_folder.record_invocation(
                jp.out_dir, jp.job.command, jp.job.cfg.train.device, len(jp.todo)
            )
        unit_job = UnitJob(jp.job.flows, jp.job.cfg, jp.digest)
        work += [WorkItem(j, unit_job, u) for u in jp.todo]
        done.append(dict(jp.done))
    pooled = [
        (
            [r["y_true"] for rec in d.values() for r in rec["rows"]],
            [r["y_pred"] for rec in d.values() for r in rec["rows"]],
        )
        for d in done
    ]
    threads = plan.jobs[0].job.cfg.train.threads if plan.jobs else 1
    t0 = time.perf_counter()
    for item, rec in EXECUTORS[executor](work, workers=workers, threads=threads):
        j = item.key
        run_folder.write_unit(plan.jobs[j].out_dir, rec)  # stored before anything else
        done[j][(rec["seed"], rec["fold"])] = rec
        pooled[j][0].extend(r["y_true"] for r in rec["rows"])
        pooled[j][1].extend(r["y_pred"] for r in rec["rows"])
        if on_unit is not None:
            labels = list(plan.jobs[j].job.flows.class_names)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                running = uf1(*pooled[j], labels=labels)
            on_unit({**rec, "job": j}, running)
    wall = time.perf_counter() - t0
    return [
        RunResult(
            jp.out_dir,
            run_folder.finalise(jp.out_dir, jp.job.flows, jp.job.cfg, d, wall, jp.job.command),
        )
        for jp, d in zip(plan.jobs, done)
    ]


def executor_name(executor: str | None, backend: str | None, device: str = "cpu") -> str:
    """The executor to use: ``executor`` if given, else ``"ray"`` for ``backend="ray"`` and the
    device's :data:`~featref.evaluation.executors.DEFAULT_EXECUTORS` entry for ``"local"``."""
    if executor is not None:
        return executor
    backend = backend or "local"
    if backend not in ("local", "ray"):
        raise ConfigError(
            f"backend must be 'local' or 'ray'. Got {backend!r}; or choose an executor by "
            f"name: {sorted(EXECUTORS)}."
        )
    return "ray" if backend == "ray" else DEFAULT_EXECUTORS.get(device, DEFAULT_EXECUTOR)


def run_jobs(
    jobs: list[Job],
    *,
    workers: int = 1,
    backend: str | None = None,
    executor: str | None = None,
    on_unit: Callable[[dict, float | None], None] | None = None,
) -> list[RunResult]:
    """Plan and execute several jobs, their units interleaved on one executor.

    Every (job, seed, fold) unit is independent; each is stored as it finishes, so an
    interrupted call loses only the units in flight and a rerun computes only the rest.

    Args:
        jobs: The runs.
        workers: Worker processes (each uses ``cfg.train.threads`` threads).
        backend: ``"local"`` (the default executor) or ``"ray"`` (executor ``"ray"``); kept for
            older callers, ignored when ``executor`` is given.
        executor: A name in :data:`~featref.evaluation.executors.EXECUTORS` (default
            :data:`~featref.evaluation.executors.DEFAULT_EXECUTOR`).
        on_unit: See :func:`execute_plan`.

    Returns:
        One :class:`RunResult` per job, in order.
    """
    name = executor_name(executor, backend, jobs[0].cfg.train.device if jobs else "cpu")
    return execute_plan(plan_run(jobs), executor=name, workers=workers, on_unit=on_unit)


def run_loso(
    flows: FlowSet,
    cfg: ExperimentConfig,
    out_dir: str | Path,
    *,
    workers: int = 1,
    backend: str | None = None,
    executor: str | None = None,
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
        backend: ``"local"`` or ``"ray"`` (see :func:`run_jobs`).
        executor: An executor name (see :func:`run_jobs`).
        command: The command line, recorded in ``run_info.json``.
        on_unit: See :func:`execute_plan`.

    Returns:
        The run folder and the content of ``metrics.json``.
    """
    job = Job(flows, cfg, Path(out_dir), command)
    return run_jobs([job], workers=workers, backend=backend, executor=executor, on_unit=on_unit)[0]
