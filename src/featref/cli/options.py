"""The CLI's shared option groups and flag parsers: each defined once, used by every verb.

Verb modules (``run``, ``grid``, ``train``, ``prepare``, ``demo``, ``data``, ...) hold only their
own options and ``main``; they import from here, never from one another, so there is no import
circle between verbs. Nothing here imports torch, numpy or OpenCV at import time.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from featref.config import CHANNELS, DATA_SOURCES, PRECISIONS, SELECTABLE_TRAIN

__all__ = [
    "add_backend_args",
    "add_data_train_args",
    "add_execution_args",
    "add_executor_arg",
    "add_experiment_args",
    "add_reader_args",
    "add_select_args",
    "add_workers_args",
    "backend_session",
    "check_backend",
    "config_overrides",
    "describe_executor",
    "executor_choice",
    "experiment_config",
    "format_summary",
    "parse_model_args",
    "parse_select",
    "print_scores",
    "reader_from_args",
    "select_overrides",
]


def add_workers_args(p: argparse.ArgumentParser, *, workers_help: str) -> None:
    """``--workers N`` and ``--progress/--no-progress`` (run, train, grid, prepare, demo).

    ``workers_help`` says what the workers do in this command; ``None`` means one per core.
    """
    p.add_argument("--workers", type=int, default=None, help=workers_help)
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar (default: when stderr is a terminal)",
    )


def add_reader_args(p: argparse.ArgumentParser) -> None:
    """The reader options ``--coding``, ``--layout``, ``--ground-truth`` (check-data, prepare);
    :func:`featref.cli.data.reader_from_args` turns them into a reader."""
    p.add_argument(
        "--coding",
        type=str,
        choices=("2014", "2019"),
        default=argparse.SUPPRESS,  # absent unless given
        help="CASME II coding spreadsheet: 2014 (2014-05-08, used when not given) or 2019 "
        "(2019-07-01)",
    )
    p.add_argument(
        "--layout",
        type=str,
        choices=("raw", "cropped"),
        default=argparse.SUPPRESS,  # absent unless given
        help="CASME II frames: raw (CASME2_RAW_selected/, used when not given) or cropped "
        "(Cropped/)",
    )
    p.add_argument(
        "--ground-truth",
        type=Path,
        default=None,
        help="megc2019: the official combined_3class_gt.csv; None: <data-dir>/megc2019/"
        "combined_3class_gt.csv if present, else the official counts only",
    )


def reader_from_args(args: argparse.Namespace):
    """The database reader that ``dataset``, ``--data-dir`` and :func:`add_reader_args`'s flags
    name (check-data, prepare).

    Raises:
        ConfigError: for reader flags that do not apply to the database.
    """
    from featref.datasets import Casme2, dataset_root, get_dataset
    from featref.errors import ConfigError

    casme2_opts = {k: getattr(args, k) for k in ("coding", "layout") if hasattr(args, k)}
    if casme2_opts and args.dataset not in ("casme2", "megc2019"):
        flags = ", ".join(f"--{k}" for k in casme2_opts)
        raise ConfigError(f"{flags} only apply to casme2 and megc2019, not {args.dataset!r}.")
    if args.ground_truth is not None and args.dataset != "megc2019":
        raise ConfigError(f"--ground-truth only applies to megc2019, not {args.dataset!r}.")
    if args.dataset == "casme2":
        return get_dataset("casme2", args.data_dir, **casme2_opts)
    if args.dataset == "megc2019":
        root = Path(dataset_root("megc2019", args.data_dir))
        casme2 = Casme2(root / "casme2", **casme2_opts) if casme2_opts else None
        return get_dataset("megc2019", root, ground_truth=args.ground_truth, casme2=casme2)
    return get_dataset(args.dataset, args.data_dir)


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
        help="model keyword argument, repeatable (e.g. fusion=sum, attention=none)",
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
    p.add_argument(
        "--protocol",
        type=str,
        default=None,
        help=f"loso, or cross:<source>[+<source>]-><target> (e.g. cross:casme2+samm->smic){scope}; "
        "see featref list-protocols",
    )
    p.add_argument("--epochs", type=int, default=None, help=f"epochs per fold{scope}")
    p.add_argument("--batch-size", type=int, default=None, help=f"mini-batch size{scope}")
    p.add_argument("--lr", type=float, default=None, help=f"AdamW learning rate{scope}")
    p.add_argument("--device", type=str, choices=("cpu", "cuda"), default=None, help="device")
    p.add_argument("--threads", type=int, default=None, help="torch threads per worker")
    p.add_argument(
        "--precision",
        type=str,
        choices=PRECISIONS,
        default=None,
        help="arithmetic of the training forward pass: fp32 (default) or bf16 autocast "
        "(weights, loss and prediction stay fp32; results differ from fp32 at rounding level, "
        "so it is part of the config hash; see docs/results.md 'Wall time')",
    )
    p.add_argument(
        "--ensemble-size",
        type=int,
        default=None,
        help="--executor batched: (seed, fold) models trained together (0: all folds of a seed); "
        "a smaller one uses less memory and loses less to an interruption",
    )


def add_execution_args(p: argparse.ArgumentParser) -> None:
    """Workers, progress bar, backend and nested selection (run, train, grid)."""
    add_workers_args(p, workers_help="parallel worker processes (default: the number of CPU cores)")
    add_backend_args(p)
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
        "(this process), pool (--workers processes), batched (the folds of a seed trained "
        "together as one vectorised ensemble in this process), ray (Ray tasks, as --backend "
        "ray); default: ray with --backend ray, else pool on --device cpu and batched on "
        "--device cuda (docs/experiments.md)",
    )


def executor_choice(args: argparse.Namespace, device: str = "cpu") -> str:
    """The executor name: --executor, else the one --backend maps to (local: the default)."""
    from featref.errors import ConfigError
    from featref.evaluation.runner import executor_name

    if args.executor is not None and args.backend == "ray" and args.executor != "ray":
        raise ConfigError(
            f"--backend ray and --executor {args.executor} disagree: --backend ray means "
            "--executor ray. Give one of them."
        )
    return executor_name(args.executor, args.backend, device)


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


def _literal(text: str) -> Any:
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


def _split(text: str | None) -> tuple[str, ...] | None:
    return tuple(v.strip() for v in text.split(",") if v.strip()) if text else None


def config_overrides(args: argparse.Namespace) -> dict:
    """The ``{section: {key: value}}`` overrides of the data/recipe/select flags (``None``: not
    given); with the experiment flags (``--channels``, ``--model``, ``--model-arg``) when the
    command has them (run, train; grid applies them per configuration file instead)."""
    seeds = _seeds(_split(args.seeds)) if args.seeds else None
    overrides = {
        "data": {
            "source": args.data,
            "data_dir": args.data_dir,
            "databases": _split(args.databases),
            "protocol": getattr(args, "protocol", None),
        },
        "train": {
            "seeds": seeds,
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "device": args.device,
            "threads": args.threads,
            "ensemble_size": getattr(args, "ensemble_size", None),
            "precision": getattr(args, "precision", None),
        },
        "select": select_overrides(args),
    }
    if hasattr(args, "model_arg"):
        overrides["data"]["channels"] = _split(args.channels)
        overrides["model"] = {"name": args.model, "kwargs": parse_model_args(args.model_arg)}
    return overrides


def experiment_config(args: argparse.Namespace):
    """Defaults < --config < explicit flags."""
    from featref.config import load_config

    return load_config(args.config, config_overrides(args))


def add_select_args(p: argparse.ArgumentParser) -> None:
    """``--select`` / ``--inner-folds``: nested leave-one-subject-out hyperparameter selection."""
    p.add_argument(
        "--select",
        type=str,
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="choose KEY among the values by nested leave-one-subject-out (inner folds over the "
        "training subjects only), repeatable; KEY is a [train] key ("
        + ", ".join(SELECTABLE_TRAIN)
        + ") or model.<kwarg> (e.g. model.proposal_weight)",
    )
    p.add_argument(
        "--inner-folds",
        type=int,
        default=None,
        help="inner grouped k-fold over training subjects for --select (0 = leave-one-subject-out;"
        " default from config: 4)",
    )


def select_overrides(args: argparse.Namespace) -> dict:
    """The ``[select]`` overrides of ``--select`` and ``--inner-folds``."""
    return {"grid": parse_select(args.select), "inner_folds": args.inner_folds}


def parse_select(items: list[str]) -> dict[str, list]:
    """Parse ``--select`` flags into a ``[select.grid]`` table.

    Args:
        items: Strings ``KEY=V1,V2,...``; values are TOML literals (numbers, true/false) or bare
            strings.

    Returns:
        ``{key: [values]}``, later flags replacing earlier ones with the same key.

    Raises:
        ConfigError: for an item without ``=`` or without values.

    Example:
        >>> parse_select(["lr=1e-3,3e-3", "model.fusion=concat,sum"])
        {'lr': [0.001, 0.003], 'model.fusion': ['concat', 'sum']}
    """
    out: dict[str, list] = {}
    for item in items:
        key, sep, values = item.partition("=")
        vals = [_literal(v.strip()) for v in values.split(",") if v.strip()]
        if not sep or not key.strip() or not vals:
            raise _config_error(
                f"--select must look like KEY=V1,V2 (e.g. lr=1e-3,3e-3). Got {item!r}."
            )
        out[key.strip().replace("-", "_")] = vals
    return out


def describe_executor(args: argparse.Namespace, executor: str, workers: int) -> str:
    """Where the units run, in words (for the plan line the CLI prints)."""
    if executor == "ray" and args.ray_address:
        return f"Ray tasks on the cluster at {args.ray_address}"
    if executor == "ray":
        return f"Ray tasks on a local Ray instance with {workers} CPU(s)"
    if executor == "inprocess":
        return "this process"
    if executor == "batched":
        return "fold-batched ensembles in this process (batched executor)"
    return f"{workers} worker(s) ({executor} executor)"


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
    ens = metrics.get("seed_ensemble")
    if ens:  # the softmax averaged over seeds per sample: one predictor, no std
        lines.append(
            f"{'ensemble':10s} {ens['all']['uf1']:.4f}{'':11s} {ens['all']['uar']:.4f}"
            f"{'':11s}   (softmax of the {len(ens['seeds'])} seeds averaged per sample)"
        )
    return "\n".join(lines)


def print_scores(title: str, rows: list, labels: list[str]) -> None:
    """Print pooled UF1/UAR/accuracy of ``rows``, overall and per database (± over seeds)."""
    from featref.evaluation.predictions import summarise

    m = summarise(rows, labels)
    seeds = list(m["per_seed"])
    print(f"{title}: {len(rows)} predictions, {len(seeds)} seed(s), labels {labels}")
    print(f"{'':10s} {'n':>5s} {'UF1':>8s} {'UAR':>8s} {'acc':>8s}")
    for name, entry in [("all", None), *[(db, db) for db in m["summary"]["per_database"]]]:
        s = m["summary"]["all"] if entry is None else m["summary"]["per_database"][entry]
        n = sum(
            (e["all"] if entry is None else e["per_database"][entry])["n"]
            for e in m["per_seed"].values()
        ) // len(seeds)
        std = len(seeds) > 1
        print(
            f"{name:10s} {n:5d} "
            + " ".join(
                f"{s[k]['mean']:.4f}" + (f"±{s[k]['std']:.4f}" if std else "")
                for k in ("uf1", "uar", "accuracy")
            )
        )


def _config_error(message: str) -> Exception:
    from featref.errors import ConfigError

    return ConfigError(message)
