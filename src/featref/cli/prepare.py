"""``featref prepare``: from a database's clips to cached flow input (u, v, strain)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

__all__ = ["register"]

CACHE_ENV = "FEATREF_CACHE_DIR"


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``prepare`` subcommand."""
    from featref.cli import HelpFormatter
    from featref.cli.options import add_backend_args, add_reader_args, add_workers_args
    from featref.datasets import DATASETS  # light: no torch, no OpenCV
    from featref.labels import LABEL_TABLES
    from featref.preprocess.config import (
        APEX_FALLBACKS,
        APEX_MODES,
        FACE_BACKEND_NAMES,
        NORMALISATIONS,
    )

    defaults = _defaults()
    p = subparsers.add_parser(
        "prepare",
        parents=[common],
        formatter_class=HelpFormatter,
        help="compute the flow input (TV-L1 u, v, optical strain) of a database, cached",
        description=(
            "Prepare a database for training: per clip, find the face on the onset frame, align\n"
            "it by the eyes, crop, compute TV-L1 flow onset -> apex and optical strain, shrink to\n"
            "the model input and normalise. Entries are cached under\n"
            "<cache-dir>/<dataset>/<config-hash>/ and reused when valid; an interrupted run\n"
            "resumes. Clips where no face is found are listed at the end; the rest are kept.\n"
            "Every setting is documented in docs/preprocessing.md.\n\n"
            "Then: featref run --data prepared --data-dir <the printed folder>"
        ),
    )
    p.add_argument("dataset", type=str, choices=tuple(DATASETS), help="database to prepare")
    p.add_argument("--data-dir", type=Path, default=None, help="root folder of the database")
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help=f"cache root (default ${CACHE_ENV}, else ~/.cache/featref)",
    )
    add_workers_args(
        p, workers_help="worker processes (with --backend ray: CPUs of a local Ray instance)"
    )
    p.set_defaults(workers=1)
    add_backend_args(p)
    p.add_argument(
        "--face-backend",
        type=str,
        choices=FACE_BACKEND_NAMES,
        default=defaults["face_backend"],
        help="face detector/landmarks: haar (OpenCV, always available), mediapipe, dlib",
    )
    p.add_argument(
        "--align",
        action=argparse.BooleanOptionalAction,
        default=defaults["align"],
        help="align by the eyes and crop the face (--no-align: use whole frames)",
    )
    p.add_argument(
        "--margin",
        type=float,
        default=defaults["margin"],
        help="border added on each side of the face box, as a fraction of its side",
    )
    p.add_argument(
        "--crop-size", type=int, default=defaults["crop_size"], help="face crop side for the flow"
    )
    p.add_argument(
        "--output-size", type=int, default=defaults["output_size"], help="model input side"
    )
    p.add_argument(
        "--strain",
        action=argparse.BooleanOptionalAction,
        default=defaults["strain"],
        help="add the optical strain channel",
    )
    p.add_argument(
        "--normalisation",
        type=str,
        choices=NORMALISATIONS,
        default=defaults["normalisation"],
        help="per-image, per-channel normalisation",
    )
    p.add_argument(
        "--apex",
        type=str,
        choices=APEX_MODES,
        default=defaults["apex"],
        help="apex frame: annotated, middle of onset-offset, or spotted (peak motion, label-free)",
    )
    p.add_argument(
        "--apex-fallback",
        type=str,
        choices=APEX_FALLBACKS,
        default=defaults["apex_fallback"],
        help="apex of clips with none annotated (SMIC-HS) when --apex annotated",
    )
    p.add_argument(
        "--label-scheme",
        type=str,
        choices=("auto", "megc2019", "own", *LABEL_TABLES),
        default="auto",
        help="classes: megc2019 (negative/positive/surprise), own (the database's emotions), "
        "or a single-database task's table (featref.labels.LABEL_TABLES, e.g. casme2_5); "
        "auto = megc2019 for the composite, else own",
    )
    add_reader_args(p)
    p.set_defaults(func=_prepare)


_FLAG_KEYS = (
    "face_backend", "align", "margin", "crop_size", "output_size", "strain", "normalisation",
    "apex", "apex_fallback",
)  # fmt: skip


def _defaults() -> dict:
    """The defaults of the settings that are flags, from :class:`PreprocessConfig` itself
    (``featref.preprocess.config`` is light: no numpy, OpenCV or readers)."""
    from featref.preprocess.config import PreprocessConfig

    every = PreprocessConfig.defaults()
    return {k: every[k] for k in _FLAG_KEYS}


def _prepare(args: argparse.Namespace) -> int:
    from featref.cli.options import backend_session, check_backend, reader_from_args
    from featref.errors import ConfigError
    from featref.preprocess.config import PreprocessConfig
    from featref.preprocess.pipeline import prepare

    if args.workers < 1:
        raise ConfigError(f"--workers must be at least 1. Got {args.workers}.")
    check_backend(args)
    cfg = PreprocessConfig(**{k: getattr(args, k) for k in _defaults()})
    cache_dir = args.cache_dir or Path(
        os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "featref"
    )
    reader = reader_from_args(args)
    scheme = None if args.label_scheme == "auto" else args.label_scheme
    with backend_session(args, args.workers):
        result = prepare(
            reader,
            cfg,
            cache_dir,
            workers=args.workers,
            progress=args.progress,
            label_scheme=scheme,
            backend=args.backend,
        )
    total = len(result.paths) + len(result.failures)
    print(
        f"{args.dataset}: prepared {len(result.paths)} of {total} samples "
        f"({result.computed} computed, {result.reused} reused from the cache), "
        f"{len(result.failures)} failed, {len(result.excluded)} left out (no class)."
    )
    print(f"output: {result.folder}")
    if result.failures:
        print(f"failures ({len(result.failures)}):")
        for f in result.failures:
            print(f"  {f.sample_id}: {f.stage}: {f.message}")
    return 0
