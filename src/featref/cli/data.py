"""``featref list-datasets`` and ``featref check-data``: what databases featref reads, and whether
one is in place and sound."""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``list-datasets`` and ``check-data`` subcommands."""
    from featref.cli import HelpFormatter
    from featref.cli.options import add_reader_args
    from featref.datasets import DATASETS  # light: no torch, no OpenCV

    p = subparsers.add_parser(
        "list-datasets",
        parents=[common],
        formatter_class=HelpFormatter,
        help="list the databases featref reads",
        description="List the databases featref reads (name and title).",
    )
    p.add_argument(
        "--markdown",
        action="store_true",
        help="print the getting-the-data guide (docs/datasets.md) instead",
    )
    p.set_defaults(func=_list_datasets)

    p = subparsers.add_parser(
        "check-data",
        parents=[common],
        formatter_class=HelpFormatter,
        help="check that a database is in place and report its clips and problems",
        description=(
            "Check that a database is where featref looks for it: print the clips per subject and\n"
            "label, the annotation corrections applied and every problem found. A missing file\n"
            "exits with code 1 and lists every missing path with the download instructions; a\n"
            "missing, unreadable, grayscale or wrongly sized flow image (megc2019_flow) exits 1\n"
            "too: the same check `featref run` applies before training.\n\n"
            "Data root: --data-dir, else $FEATREF_DATA_DIR/<dataset> (for megc2019, the folder\n"
            "holding casme2/, samm/ and smic/: --data-dir, else $FEATREF_DATA_DIR)."
        ),
    )
    p.add_argument("dataset", type=str, choices=tuple(DATASETS), help="database to check")
    p.add_argument("--data-dir", type=Path, default=None, help="root folder of the database")
    p.add_argument(
        "--strict",
        action="store_true",
        help="treat data-quality warnings (e.g. apex outside onset-offset) as errors",
    )
    add_reader_args(p)
    p.set_defaults(func=_check_data)


def _list_datasets(args: argparse.Namespace) -> int:
    from featref.datasets import DATASETS, render_datasets_doc

    if args.markdown:
        sys.stdout.write(render_datasets_doc())
        return 0
    width = max(len(n) for n in DATASETS)
    for name, cls in DATASETS.items():
        print(f"{name:<{width}}  {cls.title}")
    return 0


def _table(rows: list[tuple[str, str]]) -> list[str]:
    """Counts of (subject, label) pairs as text lines: one row per subject, one column per label."""

    def natural(text: str) -> list:
        return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]

    labels = sorted({label for _, label in rows})
    subjects = sorted({subject for subject, _ in rows}, key=natural)
    counts = Counter(rows)
    w0 = max([len("subject")] + [len(s) for s in subjects])
    widths = [max(len(lab), 3) for lab in labels]
    head = "  ".join([f"{'subject':<{w0}}"] + [f"{lab:>{w}}" for lab, w in zip(labels, widths)])
    lines = [head + "  total"]
    for s in subjects:
        cells = [f"{counts[(s, lab)]:>{w}}" for lab, w in zip(labels, widths)]
        total = sum(counts[(s, lab)] for lab in labels)
        lines.append("  ".join([f"{s:<{w0}}"] + cells) + f"  {total:>5}")
    cells = [f"{sum(counts[(s, lab)] for s in subjects):>{w}}" for lab, w in zip(labels, widths)]
    lines.append("  ".join([f"{'total':<{w0}}"] + cells) + f"  {len(rows):>5}")
    return lines


def _check_data(args: argparse.Namespace) -> int:
    import warnings

    from featref.cli.options import reader_from_args
    from featref.datasets.composite import Megc2019Composite
    from featref.errors import AnnotationError, DataQualityWarning

    reader = reader_from_args(args)
    composite = isinstance(reader, Megc2019Composite)
    parts = list(reader.readers.values()) if composite else [reader]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reader.check()
        samples = reader.samples()
        errors = [e for part in parts for e in _file_problems(part)]
    problems = list(errors)
    for w in caught:
        if issubclass(w.category, DataQualityWarning):
            if str(w.message) not in problems:
                problems.append(str(w.message))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)

    print(f"{reader.title} ({reader.name}) under {reader.root}")
    for part in parts:
        print(f"annotation: {part.annotation_path}")
    if composite:
        gt = reader.ground_truth
        print(f"ground truth: {gt if gt else 'not found (official counts checked only)'}")
    n_subjects = len({s.subject_id for s in samples})
    print(f"{len(samples)} clips, {n_subjects} subjects\n")
    key = (lambda s: s.subject_id) if composite else (lambda s: s.subject)
    print("\n".join(_table([(key(s), s.emotion) for s in samples])))
    corrections = [(p.name, c) for p in parts for c in p.applied_corrections]
    print(f"\ncorrections applied: {len(corrections)}")
    for name, c in corrections:
        print(f"  - {name}/{c.subject}/{c.clip}: {c.field} {c.old!r} -> {c.new!r} ({c.reason})")
    print(f"\nproblems found: {len(problems)}")
    for msg in problems:
        print(f"  - {msg}")
    if errors:
        raise AnnotationError(
            f"{len(errors)} file problem(s) in {reader.title} under {reader.root} (listed "
            "above): `featref run` would refuse this data too. Restore or fix the files named, "
            f"then re-check with: featref check-data {reader.name} --data-dir {reader.root}"
        )
    if problems and args.strict:
        raise AnnotationError(
            f"{len(problems)} data-quality problem(s) in {reader.title} under {reader.root} "
            "(listed above); --strict treats them as errors. Fix the data, add a correction, or "
            "drop --strict."
        )
    return 0


def _file_problems(part) -> list[str]:
    """The problems that make a reader's data unusable (the check ``run`` applies too).

    The published flow images are checked image by image (errors); a raw database's frame
    problems are data-quality warnings (``--strict`` makes them errors).
    """
    from featref.datasets.megc2019 import Megc2019Flow

    if isinstance(part, Megc2019Flow):
        return part.problems()
    part.validate()
    return []
