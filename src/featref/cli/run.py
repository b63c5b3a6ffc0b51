"""``featref run``: leave-one-subject-out training and evaluation."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from featref.config import CHANNELS, DATA_SOURCES

DESCRIPTION = """\
Leave-one-subject-out evaluation of a model: one fold per subject, every seed, predictions pooled
over all folds, UF1/UAR (MEGC2019 definitions) overall and per database.

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


def add_experiment_args(p: argparse.ArgumentParser) -> None:
    """Options of the commands that train one configuration (run, train)."""
    p.add_argument(
        "--config",
        type=str,
        default=None,
        help="TOML config file, or a shipped preset name (e.g. megc2019_featref)",
    )
    p.add_argument(
        "--channels",
        type=str,
        default=None,
        help=f"comma-separated flow channels from {','.join(CHANNELS)}",
    )
    p.add_argument("--model", type=str, default=None, help="model name (see list-models)")
    p.add_argument(
        "--model-arg",
        type=str,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="model keyword argument, repeatable (e.g. fusion=sum, attention=false)",
    )
    p.add_argument("--seeds", type=str, default=None, help="comma-separated seeds, e.g. 0,1,2")
    add_data_train_args(p)
    add_execution_args(p)


def add_data_train_args(p: argparse.ArgumentParser, *, scope: str = "") -> None:
    """Data and recipe overrides (``scope``: e.g. ``", for all configs"`` in ``grid``)."""
    p.add_argument(
        "--data",
        type=str,
        choices=DATA_SOURCES,
        default=None,
        help=f"data source{scope} (default: the config's, else synthetic)",
    )
    p.add_argument(
        "--data-dir",
        type=str,
        default=None,
        help=f"data folder{scope} (default: $FEATREF_DATA_DIR/<data>)",
    )
    p.add_argument(
        "--databases",
        type=str,
        default=None,
        help=f"comma-separated databases to keep (e.g. casme2,samm){scope}; default all",
    )
    p.add_argument("--epochs", type=int, default=None, help=f"epochs per fold{scope}")
    p.add_argument("--batch-size", type=int, default=None, help=f"mini-batch size{scope}")
    p.add_argument("--lr", type=float, default=None, help=f"AdamW learning rate{scope}")
    p.add_argument("--device", type=str, choices=("cpu", "cuda"), default=None, help="device")
    p.add_argument("--threads", type=int, default=None, help="torch threads per worker")


def add_execution_args(p: argparse.ArgumentParser) -> None:
    """Workers, progress bar, backend and nested selection (run, train, grid)."""
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="parallel worker processes (default: the number of CPU cores)",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar (default: when stderr is a terminal)",
    )
    add_backend_args(p)
    from featref.cli.grid import add_select_args

    add_select_args(p)


def add_backend_args(p: argparse.ArgumentParser) -> None:
    """``--backend`` and ``--ray-address`` (run, grid, train, prepare)."""
    p.add_argument(
        "--backend",
        type=str,
        choices=("local", "ray"),
        default="local",
        help='where the work runs: local processes, or Ray tasks (pip install "featref[ray]"; '
        "see docs/ray.md)",
    )
    p.add_argument(
        "--ray-address",
        type=str,
        default=None,
        help="with --backend ray: the Ray cluster to join ('auto': the one `ray start` began on "
        "this machine, or HOST:PORT of its head node); default: start a local Ray instance with "
        "--workers CPUs",
    )


class _ExecutorNames:
    """``choices`` for --executor: the names in EXECUTORS, looked up only when needed (the
    executors import torch, which the parser must not)."""

    def _names(self) -> list[str]:
        from featref.evaluation.executors import EXECUTORS

        return sorted(EXECUTORS)

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __iter__(self):
        return iter(self._names())


def add_executor_arg(p: argparse.ArgumentParser) -> None:
    """``--executor NAME`` (run, grid)."""
    p.add_argument(
        "--executor",
        type=str,
        choices=_ExecutorNames(),
        metavar="NAME",
        default=None,
        help="where units run, by name from featref.evaluation.executors.EXECUTORS: inprocess "
        "(this process), pool (--workers processes), ray (Ray tasks, as --backend ray); "
        "default: ray with --backend ray, else pool (docs/experiments.md)",
    )


def executor_choice(args: argparse.Namespace) -> str:
    """The executor name: --executor, else the one --backend maps to (local: the default)."""
    from featref.errors import ConfigError
    from featref.evaluation.runner import executor_name

    if args.executor is not None and args.backend == "ray" and args.executor != "ray":
        raise ConfigError(
            f"--backend ray and --executor {args.executor} disagree: --backend ray means "
            "--executor ray. Give one of them."
        )
    return executor_name(args.executor, args.backend)


def _uses_ray(args: argparse.Namespace) -> bool:
    return args.backend == "ray" or getattr(args, "executor", None) == "ray"


def check_backend(args: argparse.Namespace) -> None:
    """Reject inconsistent backend options, and a missing Ray, before any work is done."""
    from featref.errors import ConfigError

    if _uses_ray(args):
        from featref import _ray

        _ray.import_ray()
    elif args.ray_address:
        raise ConfigError("--ray-address only applies with --backend ray (or --executor ray).")


def backend_session(args: argparse.Namespace, workers: int):
    """A context manager for the chosen backend: nothing for local; for ray, a connection to the
    cluster at ``--ray-address``, else a local Ray instance with ``workers`` CPUs, shut down on
    exit. Pass ``backend=args.backend`` to the runner inside it."""
    import contextlib

    check_backend(args)
    if not _uses_ray(args):
        return contextlib.nullcontext()
    from featref import _ray

    return _ray.session(args.ray_address, num_cpus=workers)


def _literal(text: str):
    import tomllib

    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_model_args(items: list[str]) -> dict:
    """``["fusion=sum", "attention=false"]`` -> ``{"fusion": "sum", "attention": False}``."""
    from featref.errors import ConfigError

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--model-arg must look like KEY=VALUE. Got {item!r}.")
        out[key.strip().replace("-", "_")] = _literal(value.strip())
    return out


def _seeds(values: tuple[str, ...]) -> tuple[int, ...]:
    from featref.errors import ConfigError

    try:
        return tuple(int(v) for v in values)
    except ValueError:
        raise ConfigError(
            f"--seeds must be comma-separated integers, e.g. 0,1,2. Got {','.join(values)!r}."
        ) from None


def experiment_config(args: argparse.Namespace):
    """Defaults < --config < explicit flags."""
    from featref.cli.grid import select_overrides
    from featref.config import load_config

    split = lambda s: tuple(v.strip() for v in s.split(",") if v.strip()) if s else None  # noqa: E731
    seeds = _seeds(split(args.seeds)) if args.seeds else None
    overrides = {
        "data": {
            "source": args.data,
            "data_dir": args.data_dir,
            "channels": split(args.channels),
            "databases": split(args.databases),
        },
        "model": {"name": args.model, "kwargs": parse_model_args(args.model_arg)},
        "train": {
            "seeds": seeds,
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "device": args.device,
            "threads": args.threads,
        },
        "select": select_overrides(args),
    }
    return load_config(args.config, overrides)


def format_summary(metrics: dict) -> str:
    """A small text table: UF1/UAR mean +- std, overall and per database."""
    summ = metrics["summary"]
    n = len(metrics["seeds"])
    lines = [f"{'':10s} {'UF1':>17s} {'UAR':>17s}   ({n} seed{'s' if n > 1 else ''})"]

    def row(name: str, m: dict) -> str:
        return (
            f"{name:10s} {m['uf1']['mean']:.4f} ± {m['uf1']['std']:.4f}   "
            f"{m['uar']['mean']:.4f} ± {m['uar']['std']:.4f}"
        )

    lines.append(row("all", summ["all"]))
    if len(summ["per_database"]) > 1:
        lines += [row(db, m) for db, m in summ["per_database"].items()]
    return "\n".join(lines)


def describe_executor(args: argparse.Namespace, executor: str, workers: int) -> str:
    """Where the units run, in words (for the plan line the CLI prints)."""
    if executor == "ray" and args.ray_address:
        return f"Ray tasks on the cluster at {args.ray_address}"
    if executor == "ray":
        return f"Ray tasks on a local Ray instance with {workers} CPU(s)"
    if executor == "inprocess":
        return "this process"
    return f"{workers} worker(s) ({executor} executor)"


def main(args: argparse.Namespace) -> int:
    from featref.evaluation.runner import Job, execute_plan, plan_run
    from featref.preprocess.sources import load_flows

    cfg = experiment_config(args)
    check_backend(args)
    executor = executor_choice(args)
    flows = load_flows(cfg.data)
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
