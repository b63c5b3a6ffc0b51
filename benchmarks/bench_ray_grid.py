"""Wall time of a small experiment grid: local backend vs Ray with 1 and 2 local workers.

The grid is 2 configs (FR and STSTNet) x 2 seeds x leave-one-subject-out folds on the embedded
synthetic flow data (no licensed data), a fixed number of epochs. Every setting computes the same
units from an empty run folder and must give identical predictions (checked here).

Settings, measured in the same run:

* ``local``: the runner's local backend with 1 worker, in this process (the straightforward way);
* ``ray-1`` / ``ray-2``: a fresh local Ray instance with 1 / 2 CPUs; ``startup`` is
  ``ray.init``, ``grid`` is the whole :func:`~featref.evaluation.runner.run_jobs` call (it
  includes starting the Ray workers and their first torch import).

Usage:
    python benchmarks/bench_ray_grid.py [--subjects 8] [--clips 4] [--epochs 3] [--seeds 0,1]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from featref.config import load_config
from featref.evaluation.runner import Job, run_jobs
from featref.preprocess.synthetic_flow import make_synthetic_flows


def _grid(root: Path, args: argparse.Namespace) -> list[Job]:
    flows = make_synthetic_flows(subjects=args.subjects, clips_per_class=args.clips)
    seeds = tuple(int(s) for s in args.seeds.split(","))
    jobs = []
    for model in ("featref", "ststnet"):
        cfg = load_config(
            None, {"model": {"name": model}, "train": {"epochs": args.epochs, "seeds": seeds}}
        )
        jobs.append(Job(flows, cfg, root / model))
    return jobs


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--subjects", type=int, default=8, help="subjects (folds) of the synthetic set")
    p.add_argument("--clips", type=int, default=4, help="clips per class and subject")
    p.add_argument("--epochs", type=int, default=3, help="epochs per fold")
    p.add_argument("--seeds", type=str, default="0,1", help="comma-separated seeds")
    args = p.parse_args()
    import ray

    torch.set_num_threads(1)
    print(
        f"machine: {_cpu_name()}, {os.cpu_count()} cores; load average at start "
        f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}; Python {platform.python_version()}, "
        f"torch {torch.__version__}, ray {ray.__version__}"
    )
    rows, predictions = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        units = None
        for name in ("local", "ray-1", "ray-2"):
            root = Path(tmp) / name
            startup = 0.0
            if name.startswith("ray"):
                t0 = time.perf_counter()
                ray.init(
                    address="local",
                    num_cpus=int(name[-1]),
                    include_dashboard=False,
                    logging_level=logging.WARNING,
                )
                startup = time.perf_counter() - t0
            t0 = time.perf_counter()
            jobs = _grid(root, args)
            results = run_jobs(
                jobs, workers=1, backend="ray" if name.startswith("ray") else "local"
            )
            grid = time.perf_counter() - t0
            if name.startswith("ray"):
                ray.shutdown()
            units = len(list(root.glob("*/units/*/*.json")))
            predictions[name] = [(r.out_dir / "predictions.csv").read_text() for r in results]
            rows.append((name, startup, grid))
            print(f"{name}: startup {startup:.1f} s, grid {grid:.1f} s", flush=True)
    same = all(predictions[k] == predictions["local"] for k in predictions)
    base = rows[0][2]
    print(
        f"\ngrid: 2 configs x {len(args.seeds.split(','))} seeds x {args.subjects} folds = {units} "
        f"units, {args.epochs} epochs, {args.subjects * args.clips * 3} samples; identical "
        f"predictions in every setting: {same}"
    )
    print(f"load average at end {' '.join(f'{v:.2f}' for v in os.getloadavg())}\n")
    print("| setting | Ray start-up (s) | grid wall time (s) | speed-up vs local |")
    print("| --- | ---: | ---: | ---: |")
    for name, startup, grid in rows:
        print(f"| {name} | {startup:.1f} | {grid:.1f} | {base / grid:.2f}x |")


if __name__ == "__main__":
    main()
