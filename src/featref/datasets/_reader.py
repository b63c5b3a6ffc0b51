"""Shared machinery of the readers of annotated databases (CASME II, SAMM, SMIC-HS, CAS(ME)^3).

A reader turns its annotation (spreadsheet, CSV or folder tree) into rows of raw cells keyed by
canonical field names (``subject, clip, onset, apex, offset, emotion, action_units``), applies the
corrections of ``datasets/corrections/<name>.csv`` by key, then builds :class:`Sample` records and
warns (:class:`~featref.errors.DataQualityWarning`) about suspicious annotations.

Annotations can be read without any frame folder (:meth:`AnnotatedDataset.annotations`), so the
spreadsheets alone can be checked; :meth:`~AnnotatedDataset.samples` also requires every annotated
clip folder.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

from featref.datasets.base import FRAME_SUFFIXES, ManualDataset, Sample, frame_number, natural_key
from featref.errors import AnnotationError, DataQualityWarning, DatasetNotFoundError

__all__ = [
    "FRAME_SUFFIXES",
    "AnnotatedDataset",
    "Correction",
    "apply_corrections",
    "cell_text",
    "frame_number",
    "load_corrections",
    "read_xlsx_rows",
]

logger = logging.getLogger(__name__)

#: Fields a correction may change.
CORRECTABLE_FIELDS: tuple[str, ...] = ("onset", "apex", "offset", "emotion", "action_units")
_CORRECTION_COLUMNS = ("subject", "clip", "field", "old", "new", "reason", "source")


def cell_text(value: Any) -> str:
    """A spreadsheet cell as text: ``None`` -> ``""``, ``46.0`` -> ``"46"``, strings stripped."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _norm(name: Any) -> str:
    return " ".join(cell_text(name).lower().split())


def read_xlsx_rows(
    path: Path, columns: dict[str, str], *, sheet: str | None = None
) -> list[dict[str, Any]]:
    """Rows of an .xlsx sheet as dicts keyed by the canonical names of ``columns``.

    The header is the first row that holds every column name of ``columns`` (compared without
    case or extra spaces), so preamble rows above it are skipped. Empty rows are dropped.

    Raises:
        AnnotationError: when no row holds all the column names.
    """
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        ws = wb[sheet] if sheet else wb.worksheets[0]
        rows = list(ws.iter_rows(values_only=True))
    finally:
        wb.close()
    wanted = {k: _norm(v) for k, v in columns.items()}
    for i, row in enumerate(rows):
        header = [_norm(c) for c in row]
        if all(w in header for w in wanted.values()):
            index = {k: header.index(w) for k, w in wanted.items()}
            out = []
            for values in rows[i + 1 :]:
                if all(cell_text(v) == "" for v in values):
                    continue
                values = tuple(values) + (None,) * max(0, len(header) - len(values))
                out.append({k: values[j] for k, j in index.items()})
            return out
    raise AnnotationError(
        f"{path}: no header row with the columns {list(columns.values())} in sheet "
        f"{sheet or ws.title!r}. Is this the official annotation file?"
    )


@dataclass(frozen=True)
class Correction:
    """One row of ``datasets/corrections/<db>.csv``: set ``field`` of clip ``subject/clip`` from
    ``old`` to ``new`` (``new`` empty means "not annotated"), for ``reason``, per ``source``."""

    subject: str
    clip: str
    field: str
    old: str
    new: str
    reason: str
    source: str


def load_corrections(name: str) -> tuple[Correction, ...]:
    """The corrections shipped for database ``name`` (none when it has no file).

    Raises:
        AnnotationError: when the file lacks a column or names a field that cannot be corrected.
    """
    ref = resources.files("featref.datasets").joinpath("corrections", f"{name}.csv")
    if not ref.is_file():
        return ()
    reader = csv.DictReader(io.StringIO(ref.read_text(encoding="utf-8")))
    if tuple(reader.fieldnames or ()) != _CORRECTION_COLUMNS:
        raise AnnotationError(
            f"Corrections file {ref} must have the columns {','.join(_CORRECTION_COLUMNS)}. "
            f"Got {reader.fieldnames}."
        )
    out = []
    for line, row in enumerate(reader, start=2):
        if row["field"] not in CORRECTABLE_FIELDS:
            raise AnnotationError(
                f"Corrections file {ref}, line {line}: field must be one of "
                f"{list(CORRECTABLE_FIELDS)}. Got {row['field']!r}."
            )
        out.append(Correction(**{k: (row[k] or "").strip() for k in _CORRECTION_COLUMNS}))
    return tuple(out)


def apply_corrections(
    rows: list[dict[str, Any]], corrections: tuple[Correction, ...], *, dataset: str, source: Path
) -> list[Correction]:
    """Apply ``corrections`` to ``rows`` in place, matched by ``(subject, clip)``, never by row.

    A correction applies when exactly one row has its key and that row's cell equals ``old``.
    When no row has the key it is skipped (logged); when several do, or the cell differs from
    ``old`` (another annotation version), it is skipped with a :class:`DataQualityWarning`.

    Returns:
        The corrections applied, each logged once at INFO.
    """
    applied = []
    for c in corrections:
        hits = [r for r in rows if r["subject"] == c.subject and r["clip"] == c.clip]
        sample_id = f"{dataset}/{c.subject}/{c.clip}"
        if not hits:  # e.g. a partial or different annotation version: nothing to correct
            logger.info("%s: no row in %s; correction of %s not needed", sample_id, source, c.field)
            continue
        if len(hits) != 1:
            warnings.warn(
                f"{sample_id}: correction of {c.field} not applied: it matches {len(hits)} rows "
                f"of {source} (expected exactly 1).",
                DataQualityWarning,
                stacklevel=2,
            )
            continue
        found = cell_text(hits[0].get(c.field))
        if found != c.old:
            warnings.warn(
                f"{sample_id}: correction of {c.field} not applied: expected the value {c.old!r} "
                f"in {source}, found {found!r}.",
                DataQualityWarning,
                stacklevel=2,
            )
            continue
        hits[0][c.field] = c.new
        logger.info(
            "%s: corrected %s %r -> %r in %s (%s; source: %s)",
            sample_id,
            c.field,
            c.old,
            c.new,
            source,
            c.reason,
            c.source,
        )
        applied.append(c)
    return applied


class AnnotatedDataset(ManualDataset):
    """A :class:`ManualDataset` whose samples come from an annotation plus one folder per clip.

    Subclasses implement :meth:`annotation_rows` and :meth:`clip_dir`, and may override
    :meth:`frame_file` (the expected file of frame N, for a fast :meth:`frame_path`).
    """

    #: Whether the database annotates an apex frame (SMIC does not).
    HAS_APEX: ClassVar[bool] = True

    def __init__(self, root: str | os.PathLike) -> None:
        super().__init__(root)
        self._annotations: list[Sample] | None = None
        #: Corrections applied by the last parse of the annotation.
        self.applied_corrections: list[Correction] = []

    # -- to implement -------------------------------------------------------------------------
    @property
    def annotation_path(self) -> Path:
        """The annotation file (or folder) the samples come from."""
        raise NotImplementedError

    def annotation_rows(self) -> list[dict[str, Any]]:
        """Raw rows with keys ``subject, clip, onset, apex, offset, emotion, action_units``."""
        raise NotImplementedError

    def clip_dir(self, subject: str, clip: str, row: dict[str, Any]) -> Path:
        """The frame folder of one clip."""
        raise NotImplementedError

    def frame_file(self, sample: Sample, number: int) -> Path | None:
        """The file frame ``number`` of ``sample`` should have in the official layout."""
        return None

    # -- annotations --------------------------------------------------------------------------
    def annotations(self) -> list[Sample]:
        """The annotated samples, parsed once; needs the annotation only, no frame folder.

        Raises:
            DatasetNotFoundError: when the annotation file is missing.
            AnnotationError: when it is malformed.
        """
        if self._annotations is None:
            if not self.annotation_path.exists():
                raise DatasetNotFoundError(
                    f"The {self.title} annotation {self.annotation_path} does not exist. "
                    f"Place it under {self.root} (see `featref check-data {self.name} --data-dir "
                    f"{self.root}` for the expected layout)."
                )
            rows = self.annotation_rows()
            self.applied_corrections = apply_corrections(
                rows, load_corrections(self.name), dataset=self.name, source=self.annotation_path
            )
            samples = [self._to_sample(row) for row in rows]
            seen: dict[str, int] = {}
            dupes = []
            for s in samples:
                seen[s.sample_id] = seen.get(s.sample_id, 0) + 1
                if seen[s.sample_id] == 2:
                    dupes.append(s.sample_id)
            if dupes:
                raise AnnotationError(
                    f"{self.annotation_path} annotates the same clip more than once: "
                    f"{dupes[:10]}. Each (subject, clip) must be unique; fix or remove the rows."
                )
            self._annotations = samples
        return list(self._annotations)

    def _frame(self, row: dict[str, Any], field: str) -> int | None:
        text = cell_text(row.get(field))
        if text == "":
            return None
        try:
            return int(text)
        except ValueError:
            raise AnnotationError(
                f"{self.annotation_path}: the {field} of {self.name}/{row['subject']}/"
                f"{row['clip']} must be a frame number. Got {text!r}. Add a row to "
                f"datasets/corrections/{self.name}.csv with the value to use."
            ) from None

    def _to_sample(self, row: dict[str, Any]) -> Sample:
        subject, clip = row["subject"], row["clip"]
        onset, apex, offset = (self._frame(row, f) for f in ("onset", "apex", "offset"))
        sample = Sample(
            dataset=self.name,
            subject=subject,
            clip=clip,
            emotion=cell_text(row.get("emotion")),
            onset=onset,
            apex=apex,
            offset=offset,
            frame_dir=self.clip_dir(subject, clip, row),
            action_units=cell_text(row.get("action_units")) or None,
        )
        for problem in annotation_problems(sample, has_apex=self.HAS_APEX):
            warnings.warn(
                f"{sample.sample_id}: {problem} ({self.annotation_path}).",
                DataQualityWarning,
                stacklevel=3,
            )
        return sample

    # -- files --------------------------------------------------------------------------------
    def missing_paths(self) -> list[str]:
        """The required paths with no match; when all match, every annotated clip folder that
        does not exist."""
        missing = super().missing_paths()
        if missing:
            return missing
        return [
            str(s.frame_dir.relative_to(self.root))
            for s in self.annotations()
            if s.frame_dir is not None and not s.frame_dir.is_dir()
        ]

    def _load_samples(self) -> list[Sample]:
        return self.annotations()

    def frames(self, sample: Sample) -> list[Path]:
        """The frame files of ``sample``, sorted naturally by frame number.

        Raises:
            DatasetNotFoundError: when the clip folder does not exist.
        """
        if sample.frame_dir is None or not sample.frame_dir.is_dir():
            raise DatasetNotFoundError(
                f"The frame folder of {sample.sample_id} does not exist: {sample.frame_dir}. "
                f"Re-check with: featref check-data {self.name} --data-dir {self.root}"
            )
        files = [
            p
            for p in sample.frame_dir.iterdir()
            if p.suffix.lower() in FRAME_SUFFIXES and not p.name.startswith(".")
        ]
        return sorted(files, key=natural_key)

    def frame_path(self, sample: Sample, number: int) -> Path:
        """The file of frame ``number`` (the database's own numbering, not a list position).

        Raises:
            DatasetNotFoundError: when no frame of the clip has that number.
        """
        expected = self.frame_file(sample, number)
        if expected is not None and expected.is_file():
            return expected
        for path in self.frames(sample):
            if frame_number(path) == number:
                return path
        raise DatasetNotFoundError(
            f"Frame {number} of {sample.sample_id} was not found in {sample.frame_dir}"
            + (f" (expected {expected.name})" if expected is not None else "")
            + f". Re-check with: featref check-data {self.name} --data-dir {self.root}"
        )

    def validate(self) -> list[str]:
        """Check every sample's frames against its annotation; warn about each problem.

        Checks: the onset, apex and offset frame files exist, and the frame numbers of the clip
        have no gap. Each problem is a :class:`DataQualityWarning` naming the ``sample_id``.

        Returns:
            The problems found (also warned).
        """
        problems = []
        for sample in self.samples():
            for problem in frame_problems(sample, self.frames(sample)):
                msg = f"{sample.sample_id}: {problem} ({sample.frame_dir})."
                warnings.warn(msg, DataQualityWarning, stacklevel=2)
                problems.append(msg)
        return problems


def annotation_problems(sample: Sample, *, has_apex: bool = True) -> list[str]:
    """Suspicious annotations of one sample (empty when it looks right)."""
    on, ap, off = sample.onset, sample.apex, sample.offset
    out = []
    if on is None or off is None:
        out.append(f"onset or offset not annotated (onset={on}, offset={off})")
    elif off < on:
        out.append(f"offset {off} is before onset {on}")
    if has_apex:
        if ap is None:
            out.append("no apex annotated")
        elif on is not None and off is not None and not on <= ap <= off:
            out.append(f"apex {ap} is outside onset-offset {on}-{off}")
        elif ap == on:
            out.append(f"apex equals onset ({on}): no onset-to-apex motion")
    if not sample.emotion:
        out.append("no emotion annotated")
    return out


def frame_problems(sample: Sample, frames: list[Path]) -> list[str]:
    """Disagreements between a sample's annotation and its frame files."""
    if not frames:
        return ["no frame files"]
    numbers = [frame_number(p) for p in frames]
    if None in numbers:
        bad = [p.name for p, n in zip(frames, numbers) if n is None][:5]
        return [f"frame file names without a frame number: {bad}"]
    present = set(numbers)
    out = []
    for field in ("onset", "apex", "offset"):
        n = getattr(sample, field)
        if n is not None and n not in present:
            out.append(f"{field} frame {n} has no file (frames {min(present)}-{max(present)})")
    ordered = sorted(present)
    gaps = [(a, b) for a, b in zip(ordered, ordered[1:]) if b - a > 1]
    if gaps:
        shown = ", ".join(f"{a + 1}-{b - 1}" for a, b in gaps[:5])
        out.append(f"{len(gaps)} gap(s) in frame numbers: missing {shown}")
    if len(numbers) != len(present):
        out.append("several files have the same frame number")
    return out
