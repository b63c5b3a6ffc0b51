"""``featref grid``: several configurations x seeds under one protocol, with paired comparisons."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from featref.cli.options import (
    add_data_train_args,
    add_execution_args,
    add_executor_arg,
    backend_session,
    check_backend,
    config_overrides,
    describe_executor,
    executor_choice,
)

DESCRIPTION = """\
Runs every configuration x seed leave-one-subject-out under the same protocol (same data, seeds,
folds and training recipe), all units on one pool of workers with each data source loaded once,
and writes one table of mean ± std UF1/UAR (overall and per database) with a paired comparison of
every configuration against the reference: per-seed differences, a sign test over seeds, and a
bootstrap interval over subjects. Rerun the same command to resume: only missing units are
computed (adding a seed or a configuration computes only the new ones).

Outputs in --output-dir: results.md and results.csv (the table), comparison.json and
comparison.png (the paired differences as a forest plot), grid.json, and one ordinary run folder
per configuration (<config name>/).

On one GPU: --device cuda with many --workers (e.g. 14 on 16 cores), after starting NVIDIA MPS
(nvidia-cuda-mps-control -d) so that the workers' small kernels run concurrently
(docs/experiments.md).

Examples:
  featref grid --grid megc2019_ablations --data-dir ../shared/data/megc2019 --output-dir runs/abl
  featref grid --configs megc2019_featref megc2019_fr_no_attention megc2019_fr_shared_only \\
      --reference megc2019_featref --seeds 0,1,2 --output-dir runs/abl
  featref grid --configs megc2019_featref megc2019_fr_uv --data synthetic --epochs 2 \\
      --output-dir runs/smoke                        # smoke test on the embedded data
"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    from featref.cli import HelpFormatter

    p = sub.add_parser(
        "grid",
        parents=[common],
        help="run configurations x seeds and compare them with a reference",
        description=DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    p.add_argument(
        "--configs",
        type=str,
        nargs="+",
        default=None,
        metavar="CONFIG",
        help="TOML config files or shipped preset names (replaces the grid file's list)",
    )
    p.add_argument(
        "--grid",
        type=str,
        default=None,
        help="grid TOML file ([grid] configs/reference/seeds, optional [data]/[train]/[select] "
        "for all), or a shipped grid name (e.g. megc2019_ablations)",
    )
    p.add_argument(
        "--reference",
        type=str,
        default=None,
        help="configuration the others are compared with (default: the grid's, else the first)",
    )
    p.add_argument("--output-dir", type=Path, required=True, help="grid folder (rerun to resume)")
    p.add_argument("--seeds", type=str, default=None, help="comma-separated seeds for all configs")
    add_data_train_args(p, scope=", for all configs")
    add_execution_args(p)
    add_executor_arg(p)
    p.add_argument(
        "--resamples",
        type=int,
        default=10_000,
        help="bootstrap resamples of subjects for the paired comparison",
    )
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from featref.errors import ConfigError
    from featref.evaluation.grid import GridSpec, execute_grid, load_grid_file, prepare_grid
    from featref.reports.grid import write_grid_report

    if args.grid is None and not args.configs:
        raise ConfigError("featref grid needs --configs A B ... or --grid FILE.")
    spec = load_grid_file(args.grid) if args.grid else GridSpec(tuple(args.configs))
    if args.configs and args.grid:
        spec = GridSpec(tuple(args.configs), spec.reference, spec.overrides)
    if args.reference:
        spec = GridSpec(spec.configs, args.reference, spec.overrides)
    overrides = config_overrides(args)
    check_backend(args)
    executor = executor_choice(args, getattr(args, "device", None) or "cpu")
    command = "featref " + " ".join(sys.argv[1:]) if sys.argv[0].endswith("featref") else None
    prepared = prepare_grid(spec, args.output_dir, overrides=overrides, command=command)
    plan = prepared.plan  # planned once by prepare_grid: printed here, then executed
    todo = plan.todo
    workers = args.workers or min(os.cpu_count() or 1, max(1, todo))
    names = [n for n, _ in prepared.named]
    print(
        f"featref grid: {len(names)} configs x seeds {prepared.record['seeds']}, reference "
        f"{prepared.reference}; {plan.describe()} with "
        f"{describe_executor(args, executor, workers)} -> {args.output_dir}",
        flush=True,
    )
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=todo, desc="units", unit="unit", file=sys.stderr)

    def on_unit(rec: dict, running_uf1: float | None) -> None:
        if bar is not None:
            bar.set_postfix_str(
                f"{names[rec['job']]} seed {rec['seed']} {rec['test_subject']} "
                f"UF1 {running_uf1:.3f}"
            )
            bar.update(1)

    with backend_session(args, workers):
        result = execute_grid(
            prepared,
            workers=workers,
            executor=executor,
            on_unit=on_unit,
            n_resamples=args.resamples,
        )
    if bar is not None:
        bar.close()
    write_grid_report(result)
    print((result.out_dir / "results.md").read_text())
    print(f"tables: {result.out_dir / 'results.md'}, {result.out_dir / 'results.csv'}")
    return 0
