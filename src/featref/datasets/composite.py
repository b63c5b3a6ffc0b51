"""The MEGC2019 composite built from the raw databases: CASME II + SAMM + SMIC-HS, 3 classes.

See :data:`MEMBERSHIP_RULE` for which clips are members; :func:`verify_megc2019` checks the
official counts and, when the official ground truth file is available, the membership and labels,
sample id by sample id.
"""

from __future__ import annotations

import csv
import logging
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from featref.datasets._reader import AnnotatedDataset
from featref.datasets.base import ManualDataset, Sample
from featref.datasets.casme2 import Casme2
from featref.datasets.megc2019 import MEGC2019_COUNTS
from featref.datasets.samm import Samm
from featref.datasets.smic import SmicHS
from featref.errors import AnnotationError, AnnotationMismatchError
from featref.labels import MEGC2019_CLASSES, megc2019_class

__all__ = [
    "GROUND_TRUTH",
    "MEMBERSHIP_RULE",
    "Megc2019Composite",
    "ground_truth_diff",
    "read_ground_truth",
    "select_megc2019",
    "verify_megc2019",
]

logger = logging.getLogger(__name__)

#: Where the composite looks for the official ground truth, relative to its root.
GROUND_TRUTH = "megc2019/combined_3class_gt.csv"
_MAX_LISTED = 10

#: How the composite's members are chosen; rendered into docs/datasets.md.
MEMBERSHIP_RULE = """\
Membership rule (it reproduces the official 442-sample ground truth exactly):

- each database's own emotion is mapped by the table in `featref.labels` (`megc2019_class`);
  clips whose emotion maps to no class are left out (CASME II others, fear, sadness; SAMM Other);
- CASME II and SAMM clips without a usable onset-to-apex interval are left out: no apex
  annotated (CASME II sub04/EP12_01f) or apex equal to onset (CASME II sub05/EP09_05f);
  SMIC-HS has no apex annotation and keeps every clip.

With CASME II's 2014-05-08 coding this gives 145 CASME II (24 subjects), 133 SAMM (28) and 164
SMIC-HS (16) samples (442, 68 subjects). The composite checks these official counts and, when the
official ground truth file is available, the membership and labels, sample id by sample id. The
2019-07-01 coding relabels three sub24 clips (sadness -> surprise), which adds them.
"""


def select_megc2019(samples: Iterable[Sample]) -> list[Sample]:
    """The samples of the MEGC2019 composite, with ``emotion`` set to the 3-class label.

    Args:
        samples: Samples of CASME II, SAMM and/or SMIC-HS with their databases' own emotions.

    Returns:
        The members, in input order; ``emotion`` is ``"negative"``, ``"positive"`` or
        ``"surprise"``.
    """
    out = []
    for s in samples:
        cls = megc2019_class(s.dataset, s.emotion)
        if cls is None:
            continue
        if s.dataset != "smic" and (s.apex is None or s.apex == s.onset):
            logger.info(
                "%s left out of the MEGC2019 composite: no onset-to-apex interval", s.sample_id
            )
            continue
        out.append(replace(s, emotion=cls))
    return out


def read_ground_truth(path: Path) -> dict[str, str]:
    """The official ground truth: ``sample_id -> class name``.

    The file has no header and the rows ``dataset,subject,clip,label`` (label 0 negative,
    1 positive, 2 surprise); SAMM subjects written without padding (``6``) are padded (``006``).

    Raises:
        AnnotationError: on a malformed row, an unknown database or a sample listed twice,
            naming the line.
    """
    out: dict[str, str] = {}
    lines: dict[str, int] = {}
    text = path.read_text(encoding="utf-8-sig")  # a leading byte-order mark is dropped
    for line, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or all(not c.strip() for c in row):
            continue
        label = row[3].strip() if len(row) >= 4 else ""
        if not label.isdigit() or int(label) >= len(MEGC2019_CLASSES):
            raise AnnotationError(
                f"{path}, line {line}: expected 'dataset,subject,clip,label' with label 0-2. "
                f"Got {row!r}."
            )
        dataset, subject, clip = (v.strip() for v in row[:3])
        if dataset == "samm" and subject.isdigit():
            subject = subject.zfill(3)
        if dataset not in MEGC2019_COUNTS:
            raise AnnotationError(
                f"{path}, line {line}: unknown database {dataset!r} (read as {ascii(dataset)}); "
                f"expected one of {sorted(MEGC2019_COUNTS)}. Fix the line."
            )
        key = f"{dataset}/{subject}/{clip}"
        if key in out:
            raise AnnotationError(
                f"{path}, line {line}: {key} is listed twice (first on line {lines[key]}); "
                "remove the duplicate row."
            )
        out[key], lines[key] = MEGC2019_CLASSES[int(label)], line
    return out


def ground_truth_diff(
    samples: Iterable[Sample], path: Path, *, datasets: Iterable[str] | None = None
) -> tuple[list[str], list[str], list[str]]:
    """Compare composite samples with the official ground truth.

    Args:
        samples: Composite samples (``emotion`` = class name).
        path: The ground truth file.
        datasets: Compare only these databases (default: all).

    Returns:
        ``(missing, extra, relabelled)`` sample ids: in the ground truth but not in ``samples``,
        in ``samples`` but not in the ground truth, and in both with different labels.
    """
    truth = read_ground_truth(path)
    mine = {s.sample_id: s.emotion for s in samples}
    if datasets is not None:
        keep = tuple(f"{d}/" for d in datasets)
        truth = {k: v for k, v in truth.items() if k.startswith(keep)}
        mine = {k: v for k, v in mine.items() if k.startswith(keep)}
    missing = sorted(set(truth) - set(mine))
    extra = sorted(set(mine) - set(truth))
    relabelled = sorted(k for k in set(truth) & set(mine) if truth[k] != mine[k])
    return missing, extra, relabelled


def verify_megc2019(
    samples: list[Sample], *, sources: Iterable[Path] = (), ground_truth: Path | None = None
) -> None:
    """Check the composite against the official numbers (and ground truth, when given).

    Args:
        samples: The composite's samples.
        sources: The annotation files the samples come from (named in the error).
        ground_truth: The official ``combined_3class_gt.csv``; ``None`` checks the counts only.

    Raises:
        AnnotationMismatchError: listing every count that differs and up to 10 missing, extra
            and relabelled sample ids.
    """
    problems = []
    if ground_truth is not None:
        missing, extra, relabelled = ground_truth_diff(samples, ground_truth)
        for what, ids in (("missing", missing), ("extra", extra), ("relabelled", relabelled)):
            if ids:
                more = f" and {len(ids) - _MAX_LISTED} more" if len(ids) > _MAX_LISTED else ""
                problems.append(
                    f"{len(ids)} {what} sample ids (vs {ground_truth}): "
                    f"{', '.join(ids[:_MAX_LISTED])}{more}"
                )
    for db, want in MEGC2019_COUNTS.items():
        mine = [s for s in samples if s.dataset == db]
        got = Counter(s.emotion for s in mine)
        for cls in MEGC2019_CLASSES:
            if got[cls] != want[cls]:
                problems.append(f"{db} {cls}: expected {want[cls]}, found {got[cls]}")
        n_subjects = len({s.subject for s in mine})
        if n_subjects != want["subjects"]:
            problems.append(f"{db} subjects: expected {want['subjects']}, found {n_subjects}")
    expected_total = sum(sum(v[c] for c in MEGC2019_CLASSES) for v in MEGC2019_COUNTS.values())
    if len(samples) != expected_total:
        problems.append(f"samples: expected {expected_total}, found {len(samples)}")
    if problems:
        files = ", ".join(str(p) for p in sources) or "(unknown annotation files)"
        raise AnnotationMismatchError(
            f"The MEGC2019 composite built from {files} does not match the official one:\n  - "
            + "\n  - ".join(problems)
            + "\nCheck that CASME II uses the 2014-05-08 coding and that every clip folder is "
            "present (featref check-data <db> --data-dir ...)."
        )


class Megc2019Composite(ManualDataset):
    """The MEGC2019 composite from the raw CASME II, SAMM and SMIC-HS databases.

    Samples keep their databases' sample ids (``"samm/006/006_1_2"``), frame folders and frame
    numbers; ``emotion`` is the 3-class label. Frames are read through the database readers.

    Args:
        root: Folder holding ``casme2/``, ``samm/`` and ``smic/`` (each laid out as its reader
            documents), and optionally ``megc2019/combined_3class_gt.csv``.
        ground_truth: The official ground truth file; default ``<root>/megc2019/
            combined_3class_gt.csv`` when it exists (else only the official counts are checked).
        casme2, samm, smic: Readers to use instead of the default ones under ``root``
            (e.g. ``Casme2(path, layout="cropped")``).

    References:
        J. See, M. H. Yap, J. Li, X. Hong, S.-J. Wang, "MEGC 2019 - The Second Facial
        Micro-Expressions Grand Challenge", IEEE FG 2019, doi:10.1109/FG.2019.8756611.
    """

    name = "megc2019"
    title = "MEGC2019 composite (CASME II + SAMM + SMIC-HS)"
    homepage = "https://facial-micro-expressions.github.io/megc2019/"
    citation = (
        "J. See et al., MEGC 2019 - The Second Facial Micro-Expressions Grand Challenge, "
        "IEEE FG 2019, doi:10.1109/FG.2019.8756611"
    )
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "The composite is built from three databases, each licensed by its authors. Place them "
        "under the root as casme2/, samm/ and smic/, laid out as follows.\n\n"
        "casme2/:\n"
        + Casme2.MANUAL_DOWNLOAD_INSTRUCTIONS
        + "\nsamm/:\n"
        + Samm.MANUAL_DOWNLOAD_INSTRUCTIONS
        + "\nsmic/:\n"
        + SmicHS.MANUAL_DOWNLOAD_INSTRUCTIONS
        + "\nOptionally place the official ground truth (no header; dataset,subject,clip,label)\n"
        "at megc2019/combined_3class_gt.csv to check the composite sample by sample\n"
        "(otherwise only the official counts are checked).\n"
    )

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        ground_truth: str | os.PathLike | None = None,
        casme2: Casme2 | None = None,
        samm: Samm | None = None,
        smic: SmicHS | None = None,
    ) -> None:
        super().__init__(root)
        self.readers: dict[str, AnnotatedDataset] = {
            "casme2": casme2 if casme2 is not None else Casme2(self.root / "casme2"),
            "samm": samm if samm is not None else Samm(self.root / "samm"),
            "smic": smic if smic is not None else SmicHS(self.root / "smic"),
        }
        self._ground_truth = Path(ground_truth).expanduser().resolve() if ground_truth else None

    @property
    def ground_truth(self) -> Path | None:
        """The ground truth file used for the check, or ``None`` (counts only)."""
        if self._ground_truth is not None:
            return self._ground_truth
        default = self.root / GROUND_TRUTH
        return default if default.is_file() else None

    def _relative(self, reader: ManualDataset, paths: Iterable[str]) -> list[str]:
        out = []
        for p in paths:
            full = reader.root / p
            out.append(
                str(full.relative_to(self.root)) if full.is_relative_to(self.root) else str(full)
            )
        return out

    def required_paths(self) -> tuple[str, ...]:
        return tuple(
            p for r in self.readers.values() for p in self._relative(r, r.required_paths())
        )

    def missing_paths(self) -> list[str]:
        out = []
        for r in self.readers.values():
            missing = r.missing_paths() if r.root.is_dir() else list(r.required_paths())
            out += self._relative(r, missing)
        if self._ground_truth is not None and not self._ground_truth.is_file():
            out.append(str(self._ground_truth))
        return out

    def _load_samples(self) -> list[Sample]:
        samples = [s for r in self.readers.values() for s in r.samples()]
        selected = select_megc2019(samples)
        sources = [r.annotation_path for r in self.readers.values()]
        verify_megc2019(selected, sources=sources, ground_truth=self.ground_truth)
        return selected

    def frames(self, sample: Sample) -> list[Path]:
        """The frame files of ``sample``, read by its database's reader."""
        return self.readers[sample.dataset].frames(sample)

    def frame_path(self, sample: Sample, number: int) -> Path:
        """The file of frame ``number`` of ``sample``, found by its database's reader."""
        return self.readers[sample.dataset].frame_path(sample, number)
