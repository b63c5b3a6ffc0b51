"""Database readers: one class per micro-expression database, plus the MEGC2019 composite.

Readers are registered by name in :data:`DATASETS`; :func:`get_dataset` builds one from its name
and data root (rule: explicit root, else ``$FEATREF_DATA_DIR/<name>``).

Example:
    >>> sorted(DATASETS)
    ['casme2', 'casme3', 'megc2019', 'megc2019_flow', 'samm', 'smic']
"""

from __future__ import annotations

import difflib
import os
from typing import Any

from featref.datasets._reader import load_corrections
from featref.datasets.base import (
    DATA_DIR_ENV,
    DatasetInfo,
    ManualDataset,
    Sample,
    natural_key,
    resolve_root,
)
from featref.datasets.casme2 import Casme2
from featref.datasets.casme3 import Casme3PartA
from featref.datasets.composite import MEMBERSHIP_RULE, Megc2019Composite
from featref.datasets.megc2019 import Megc2019Flow
from featref.datasets.samm import Samm
from featref.datasets.smic import SmicHS
from featref.errors import ConfigError, DatasetNotFoundError

__all__ = [
    "DATASETS",
    "Casme2",
    "Casme3PartA",
    "DatasetInfo",
    "ManualDataset",
    "Megc2019Composite",
    "Megc2019Flow",
    "Sample",
    "Samm",
    "SmicHS",
    "dataset_root",
    "get_dataset",
    "natural_key",
    "render_datasets_doc",
    "resolve_root",
]

#: Reader classes by name.
DATASETS: dict[str, type[ManualDataset]] = {
    cls.name: cls for cls in (Casme2, Samm, SmicHS, Casme3PartA, Megc2019Composite, Megc2019Flow)
}


def _reader_class(name: str) -> type[ManualDataset]:
    if name not in DATASETS:
        close = difflib.get_close_matches(name, list(DATASETS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"Unknown dataset {name!r}.{hint} Available: {', '.join(sorted(DATASETS))} "
            "(see `featref list-datasets`)."
        )
    return DATASETS[name]


def dataset_root(name: str, root: str | os.PathLike | None = None) -> str | os.PathLike:
    """The data root of dataset ``name``: ``root`` if given, else ``$FEATREF_DATA_DIR/<name>``.

    The composite ``megc2019`` reads ``casme2/``, ``samm/`` and ``smic/`` side by side, so its
    default root is ``$FEATREF_DATA_DIR`` itself.

    Raises:
        DatasetNotFoundError: when neither ``root`` nor the environment variable is set.
    """
    if root is not None or _reader_class(name) is not Megc2019Composite:
        return resolve_root(name, root)
    env = os.environ.get(DATA_DIR_ENV)
    if not env:
        raise DatasetNotFoundError(
            f"No data directory for 'megc2019': pass --data-dir (or root=...) or set "
            f"{DATA_DIR_ENV} to the folder that holds 'casme2/', 'samm/' and 'smic/'."
        )
    return os.path.abspath(os.path.expanduser(env))


def get_dataset(name: str, root: str | os.PathLike | None = None, **kwargs: Any) -> ManualDataset:
    """Build the reader registered as ``name``.

    Args:
        name: A key of :data:`DATASETS` (``"casme2"``, ``"samm"``, ``"smic"``, ``"casme3"``,
            ``"megc2019"``).
        root: Data root; default from :func:`dataset_root`.
        **kwargs: Reader options (e.g. ``coding="2019"`` for CASME II).

    Raises:
        ConfigError: for an unknown name (with the closest name) or an option the reader lacks.
        DatasetNotFoundError: when no root is given and ``FEATREF_DATA_DIR`` is not set.
    """
    cls = _reader_class(name)
    try:
        return cls(dataset_root(name, root), **kwargs)
    except TypeError as exc:
        raise ConfigError(f"Invalid options {sorted(kwargs)} for dataset {name!r}: {exc}") from None


def render_datasets_doc() -> str:
    """The text of ``docs/datasets.md``: one section per database, from the readers' attributes.

    Regenerate the file with ``featref list-datasets --markdown > docs/datasets.md``.
    """
    parts = [
        "# Getting the data\n",
        "<!-- Generated from the readers' MANUAL_DOWNLOAD_INSTRUCTIONS by "
        "`featref list-datasets --markdown > docs/datasets.md`; do not edit by hand. -->\n",
        "featref never downloads a database: each is licensed by its authors, and you request it "
        "yourself. Place each one under its own root, e.g. `$FEATREF_DATA_DIR/<name>/`, or pass "
        "`--data-dir`. Then check it with `featref check-data <name> --data-dir PATH`, which "
        "prints the clips per subject and label and every problem found (`--strict` makes "
        "data-quality warnings errors).\n",
    ]
    for name, cls in DATASETS.items():
        required = "\n".join(f"- `{p}`" for p in cls.REQUIRED_PATHS)
        required = required or "- those of casme2/, samm/ and smic/, as above"
        parts.append(
            f"## {cls.title} (`{name}`)\n\n"
            f"Homepage: {cls.homepage}\n\n"
            f"Cite: {cls.citation}\n\n"
            f"```text\n{cls.MANUAL_DOWNLOAD_INSTRUCTIONS.strip()}\n```\n\n"
            f"Required paths (relative globs):\n\n{required}\n"
            + _corrections_section(name)
            + (f"\n{MEMBERSHIP_RULE}" if cls is Megc2019Composite else "")
        )
    return "\n".join(parts)


def _corrections_section(name: str) -> str:
    corrections = load_corrections(name)
    if not corrections:
        return ""
    rows = "\n".join(
        f"| {c.subject}/{c.clip} | {c.field} | `{c.old}` | {f'`{c.new}`' if c.new else '(none)'} "
        f"| {c.reason} |"
        for c in corrections
    )
    return (
        f"\nAnnotation corrections applied (`datasets/corrections/{name}.csv`; a new value "
        "(none) means not annotated):\n\n"
        "| clip | field | old | new | reason |\n|---|---|---|---|---|\n"
        f"{rows}\n"
    )
