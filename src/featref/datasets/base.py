"""Records and the base class of every database reader.

A reader stores its root and does no I/O until asked. ``check()`` verifies every required path and
raises one :class:`~featref.errors.DatasetNotFoundError` that lists them all, with the database's
download instructions and the command to re-check.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from featref.errors import DatasetNotFoundError

__all__ = [
    "FRAME_SUFFIXES",
    "DatasetInfo",
    "ManualDataset",
    "Sample",
    "frame_number",
    "natural_key",
    "resolve_root",
]

DATA_DIR_ENV = "FEATREF_DATA_DIR"

#: File suffixes (lower-case) counted as frames: the one list readers, ``prepare`` and
#: ``predict`` share.
FRAME_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")


def frame_number(path: str | os.PathLike) -> int | None:
    """The frame number of a frame file: the last run of digits in its stem.

    Examples: ``img46.jpg`` -> 46, ``reg_img46.jpg`` -> 46, ``006_05562.jpg`` -> 5562.
    """
    digits = re.findall(r"\d+", Path(path).stem)
    return int(digits[-1]) if digits else None


@dataclass(frozen=True)
class Sample:
    """One micro-expression clip as its database annotates it.

    ``emotion`` is the database's own label; ``labels.py`` maps it onto a task's classes.
    Frame numbers are the database's own (``None`` where not annotated, e.g. SMIC's apex).
    """

    dataset: str
    subject: str
    clip: str
    emotion: str
    onset: int | None
    apex: int | None
    offset: int | None
    frame_dir: Path | None
    action_units: str | None = None

    @property
    def sample_id(self) -> str:
        """Stable key ``"<dataset>/<subject>/<clip>"``, e.g. ``"casme2/sub01/EP02_01f"``."""
        return f"{self.dataset}/{self.subject}/{self.clip}"

    @property
    def subject_id(self) -> str:
        """Subject namespaced by database, e.g. ``"samm/006"``."""
        return f"{self.dataset}/{self.subject}"


@dataclass(frozen=True)
class DatasetInfo:
    """Counts of a reader's samples."""

    name: str
    root: Path
    num_samples: int
    per_subject: dict[str, int] = field(default_factory=dict)
    per_label: dict[str, int] = field(default_factory=dict)

    @property
    def num_subjects(self) -> int:
        return len(self.per_subject)


def natural_key(path: str | os.PathLike) -> list:
    """Sort key that orders ``img2`` before ``img10``."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", Path(path).name)]


def resolve_root(name: str, root: str | os.PathLike | None = None) -> Path:
    """The data root of database ``name``: ``root`` if given, else ``$FEATREF_DATA_DIR/<name>``.

    The working directory and its parents are never searched.

    Raises:
        DatasetNotFoundError: when neither is given.
    """
    if root is not None:
        return Path(root).expanduser().resolve()
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return (Path(env).expanduser() / name).resolve()
    raise DatasetNotFoundError(
        f"No data directory for {name!r}: pass --data-dir (or root=...) or set "
        f"{DATA_DIR_ENV} to the folder that holds '{name}/'."
    )


class ManualDataset:
    """Base of the readers of databases that users must request and download themselves."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    homepage: ClassVar[str] = ""
    citation: ClassVar[str] = ""
    MANUAL_DOWNLOAD_INSTRUCTIONS: ClassVar[str] = ""
    REQUIRED_PATHS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root).expanduser().resolve()
        self._samples: list[Sample] | None = None

    def required_paths(self) -> tuple[str, ...]:
        """Relative globs that must match under the root (``REQUIRED_PATHS`` unless a reader's
        options, e.g. a coding file or frame layout, change them)."""
        return self.REQUIRED_PATHS

    def missing_paths(self) -> list[str]:
        """Every required path (relative glob) with no match under the root."""
        return [p for p in self.required_paths() if not any(self.root.glob(p))]

    def check(self) -> None:
        """Verify every required path.

        Raises:
            DatasetNotFoundError: listing every missing path, the download instructions and the
                command to re-check.
        """
        missing = self.missing_paths() if self.root.is_dir() else list(self.required_paths())
        if not missing:
            return
        lines = "\n".join(f"  - {self.root / m}" for m in missing)
        raise DatasetNotFoundError(
            f"{self.title or self.name} was not found under {self.root}.\n"
            f"Missing paths:\n{lines}\n\n"
            f"{self.MANUAL_DOWNLOAD_INSTRUCTIONS.strip()}\n\n"
            f"Re-check with: featref check-data {self.name} --data-dir {self.root}"
        )

    def samples(self) -> list[Sample]:
        """All samples, parsed once and cached."""
        if self._samples is None:
            self.check()
            self._samples = self._load_samples()
        return list(self._samples)

    def _load_samples(self) -> list[Sample]:
        raise NotImplementedError

    def frames(self, sample: Sample) -> list[Path]:
        """The frame files of ``sample``, sorted naturally by frame number."""
        if sample.frame_dir is None:
            raise DatasetNotFoundError(f"{sample.sample_id} has no frame folder.")
        files = [p for p in sample.frame_dir.iterdir() if p.suffix.lower() in FRAME_SUFFIXES]
        return sorted(files, key=natural_key)

    def info(self) -> DatasetInfo:
        """Counts per subject and per label."""
        samples = self.samples()
        return DatasetInfo(
            name=self.name,
            root=self.root,
            num_samples=len(samples),
            per_subject=dict(sorted(Counter(s.subject for s in samples).items())),
            per_label=dict(sorted(Counter(s.emotion for s in samples).items())),
        )
