"""SMIC-HS: the high-speed (100 fps) part of the Spontaneous Micro-expression Corpus.

SMIC-HS holds 164 micro-expression clips of 16 subjects, labelled negative, positive or surprise
by the folder they sit in (``HS/s1/micro/negative/s1_ne_01/``). The clips are cut from onset to
offset and no apex is annotated: ``onset`` and ``offset`` are the first and last frame numbers of
the clip's files and ``apex`` is ``None`` (preprocessing picks one).

Subjects and clips are renamed with two-digit subject numbers (``s1`` -> ``s01``,
``s1_ne_01`` -> ``s01_ne_01``), as in the MEGC2019 ground truth.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

from featref.datasets._reader import FRAME_SUFFIXES, AnnotatedDataset, frame_number
from featref.errors import DataQualityWarning

__all__ = ["SmicHS", "smic_name"]

_SUBJECT = re.compile(r"^s(\d+)$", re.IGNORECASE)
_CLIP = re.compile(r"^s(\d+)_(.+)$", re.IGNORECASE)


def smic_name(name: str) -> str:
    """Two-digit subject number in a SMIC subject or clip name: ``s1_ne_01`` -> ``s01_ne_01``."""
    m = _SUBJECT.match(name) or _CLIP.match(name)
    if m is None:
        return name
    rest = f"_{m.group(2)}" if m.re is _CLIP else ""
    return f"s{int(m.group(1)):02d}{rest}"


class SmicHS(AnnotatedDataset):
    """SMIC-HS micro-expression clips, labelled by their folder.

    Args:
        root: Folder holding ``HS/``.

    References:
        X. Li, T. Pfister, X. Huang, G. Zhao, M. Pietikainen, "A Spontaneous Micro-expression
        Database: Inducement, Collection and Baseline", IEEE FG 2013,
        doi:10.1109/FG.2013.6553717.
    """

    name = "smic"
    title = "SMIC-HS"
    homepage = "https://www.oulu.fi/cmvs/node/41319"
    citation = (
        "X. Li et al., A Spontaneous Micro-expression Database: Inducement, Collection and "
        "Baseline, IEEE FG 2013, doi:10.1109/FG.2013.6553717"
    )
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
SMIC is licensed for research by the Center for Machine Vision and Signal Analysis, University
of Oulu: request it (licence agreement) from the SMIC page of the CMVS website; you receive a
download link. Place the high-speed part under the root:
  HS/s<n>/micro/<emotion>/s<n>_<em>_<kk>/<frame>.bmp  (e.g. HS/s1/micro/negative/s1_ne_01/,
                                                    emotion negative, positive or surprise;
                                                    .jpg frames are read too)
The labels come from the folder names; the non_micro/ folders are not read.
"""
    REQUIRED_PATHS = ("HS/s*/micro/*/*",)
    HAS_APEX = False

    def __init__(self, root: str | os.PathLike) -> None:
        super().__init__(root)

    @property
    def annotation_path(self) -> Path:
        return self.root / "HS"

    def annotation_rows(self) -> list[dict[str, Any]]:
        rows = []
        for clip_dir in sorted(self.annotation_path.glob("s*/micro/*/*"), key=lambda p: p.parts):
            if not clip_dir.is_dir():
                continue
            subject_dir, emotion = clip_dir.parents[2].name, clip_dir.parent.name
            subject, clip = smic_name(subject_dir), smic_name(clip_dir.name)
            if not clip.startswith(f"{subject}_"):
                warnings.warn(
                    f"smic/{subject}/{clip}: the clip folder {clip_dir} does not start with its "
                    f"subject's name {subject_dir}_.",
                    DataQualityWarning,
                    stacklevel=2,
                )
            numbers = [
                n
                for p in clip_dir.iterdir()
                if p.suffix.lower() in FRAME_SUFFIXES and (n := frame_number(p)) is not None
            ]
            rows.append(
                {
                    "subject": subject,
                    "clip": clip,
                    "onset": min(numbers) if numbers else None,
                    "apex": None,
                    "offset": max(numbers) if numbers else None,
                    "emotion": emotion,
                    "action_units": None,
                    "_dir": clip_dir,
                }
            )
        return rows

    def clip_dir(self, subject: str, clip: str, row: dict[str, Any]) -> Path:
        return row["_dir"]
