"""``featref run``: leave-one-subject-out training and evaluation."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from featref.cli.options import (
    add_executor_arg,
    add_experiment_args,
    backend_session,
    check_backend,
    describe_executor,
    executor_choice,
    experiment_config,
    format_summary,
)

if TYPE_CHECKING:
    from featref.config import ExperimentConfig
    from featref.datasets.flowset import FlowSet

DESCRIPTION = """\
Leave-one-subject-out evaluation of a model: one fold per subject, every seed, predictions pooled
over all folds, UF1/UAR (MEGC2019 definitions) overall and per database.

Other protocols (cross-database, single-database tasks): --protocol, --config <preset>;
featref list-protocols lists them (docs/protocols.md).

The training of a fold never sees its test subject; the model of the last epoch is used (fixed
schedule). Folds run in parallel worker processes; an interrupted run resumes from the folds
already finished when the same command is run again (same --output-dir).

Examples:
  featref run                                   # embedded synthetic data, no download needed
  featref run --data megc2019 --data-dir ../shared/data/megc2019 --seeds 0,1,2
  featref run --config megc2019_featref --model-arg fusion=sum --channels u,v
"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    from featref.cli import HelpFormatter

    p = sub.add_parser(
        "run",
        parents=[common],
        help="leave-one-subject-out training and evaluation",
        description=DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    add_experiment_args(p)
    add_executor_arg(p)
    p.add_argument(
        "--output-dir",
        type=Path,
        default=None,
        help="run folder (default: runs/<data>-<model>-<config hash>; rerun to resume)",
    )
    p.set_defaults(func=main)


def _load_flows(args: argparse.Namespace, cfg: ExperimentConfig) -> FlowSet:
    """``load_flows``; for a protocol preset whose data are missing, an error naming the preset,
    the path and what to request."""
    from featref.errors import CacheError, ConfigError, DatasetNotFoundError
    from featref.evaluation.protocols import PROTOCOL_PRESETS, missing_data_message
    from featref.preprocess.sources import load_flows

    name = Path(str(args.config)).stem if args.config else None
    try:
        return load_flows(cfg.data)
    except (DatasetNotFoundError, CacheError, ConfigError) as exc:
        no_dir = cfg.data.source == "prepared" and cfg.data.data_dir is None
        if name not in PROTOCOL_PRESETS or (isinstance(exc, ConfigError) and not no_dir):
            raise
        raise DatasetNotFoundError(missing_data_message(name, cfg.data.data_dir, exc)) from exc


def main(args: argparse.Namespace) -> int:
    from featref.evaluation.runner import Job, execute_plan, plan_run

    cfg = experiment_config(args)
    check_backend(args)
    executor = executor_choice(args, cfg.train.device)
    flows = _load_flows(args, cfg)
    command = "featref " + " ".join(sys.argv[1:]) if sys.argv[0].endswith("featref") else None
    plan = plan_run([Job(flows, cfg, args.output_dir, command)])  # planned once, printed, run
    out = plan.jobs[0].out_dir
    workers = args.workers or min(os.cpu_count() or 1, max(1, plan.todo))
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    n_subjects = len(set(flows.subjects))
    print(
        f"featref run: {cfg.model.name} on {cfg.data.source} ({len(flows)} samples, "
        f"{n_subjects} subjects, channels {','.join(flows.channels)}), seeds "
        f"{list(cfg.train.seeds)}, {plan.describe()} "
        f"with {describe_executor(args, executor, workers)} -> {out}",
        flush=True,
    )
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=plan.todo, desc="folds", unit="fold", file=sys.stderr)

    def on_unit(rec: dict, running_uf1: float | None) -> None:
        if bar is not None:
            bar.set_postfix_str(f"seed {rec['seed']} {rec['test_subject']} UF1 {running_uf1:.3f}")
            bar.update(1)

    with backend_session(args, workers):
        result = execute_plan(plan, executor=executor, workers=workers, on_unit=on_unit)[0]
    if bar is not None:
        bar.close()
    print(format_summary(result.metrics))
    print(f"wall time {result.metrics['wall_time_s']:.1f} s; outputs in {result.out_dir}")
    return 0
