"""Ray backend of the runner: (config, seed, fold) units as Ray tasks across a cluster.

:func:`featref.evaluation.runner.run_jobs` calls :func:`iterate` when ``backend="ray"``. Each unit
is one Ray task with 1 CPU that sets torch/OpenCV to ``cfg.train.threads`` threads and returns
the unit record of :func:`~featref.evaluation.runner.run_unit`; the results stream back with
``ray.wait`` in the order they finish.

Where results are written: the DRIVER writes each unit file (``units/seed<S>/fold<FFF>.json``,
atomically, with the runner's writer) as soon as the unit's record arrives, before handing it on.
Workers never touch the run folder, so the run folder only has to exist on the driver's machine,
and worker nodes need no shared filesystem for training (the data travel through Ray's object
store, put there once per job). A lost worker costs its task, which Ray retries on another worker;
a killed or restarted driver loses only the units in flight, and rerunning the same command
skips every unit already stored.

Results do not depend on the backend: a unit is deterministic given (config, seed, fold), and it
runs the same code with the same thread count as a local worker, so predictions match the local
backend's exactly.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

from featref import _ray
from featref.evaluation.runner import Task, Unit, _atomic_write, _unit_path, run_unit

__all__ = ["iterate"]

log = logging.getLogger(__name__)


def _compute_unit(spec: tuple, unit: Unit, threads: int) -> dict:
    """One unit on a Ray worker; returns its record (the driver stores it)."""
    from featref.training.loop import set_threads

    set_threads(threads)
    flows, cfg, digest = spec
    return run_unit(flows, cfg, unit, digest)


def iterate(tasks: list[Task], specs: list[tuple], *, workers: int, threads: int) -> Iterator[dict]:
    """Run ``tasks`` as Ray tasks; store and yield each unit record as it finishes.

    Uses the current Ray connection when there is one (``featref run --ray-address`` makes it),
    else starts a local Ray instance with ``workers`` CPUs for the duration.

    Args:
        tasks: The units to compute, each naming its job.
        specs: Per job ``(flows, cfg, config_hash, out_dir)``.
        workers: CPUs of a local Ray instance started here (unused on an existing cluster).
        threads: torch/OpenCV threads per task.

    Yields:
        Unit records with ``"job"`` set, in the order they finish, each already stored in its
        job's run folder.

    Raises:
        ConfigError: when Ray is not installed or the cluster cannot be reached.
    """
    if not tasks:
        return
    with _ray.session(num_cpus=workers) as ray:
        # The data go to the object store once per job, not once per unit.
        refs = {j: ray.put(specs[j][:3]) for j in sorted({t.job for t in tasks})}
        calls = [(refs[t.job], t.unit, threads) for t in tasks]
        log.info("Submitting %d units to Ray (%s).", len(tasks), ray.cluster_resources())
        for i, rec in _ray.imap_unordered(_compute_unit, calls):
            task = tasks[i]
            out_dir = specs[task.job][3]
            _atomic_write(_unit_path(out_dir, task.unit.seed, task.unit.fold), json.dumps(rec))
            rec["job"] = task.job
            yield rec
