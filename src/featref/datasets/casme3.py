"""CAS(ME)^3 part A: the micro-expressions of the third Chinese Academy of Sciences database.

Part A holds 100 subjects' long videos with colour and depth frames at 30 fps; its annotation
gives per micro-expression the subject (``spNO.<n>``), the video (``a`` ... ``m``), onset, apex
and offset frame numbers (those of the ``color/<N>.jpg`` file names), action units, objective
class and emotion. Several micro-expressions can share one video, so a clip is named
``<video>_<onset>`` (``"casme3/spNO.1/j_28"``).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

from featref.datasets._reader import AnnotatedDataset, cell_text, frame_number
from featref.datasets.base import Sample
from featref.errors import AnnotationError

__all__ = ["Casme3PartA"]

_COLUMNS = {
    "subject": "Subject",
    "video": "Filename",
    "onset": "Onset",
    "apex": "Apex",
    "offset": "Offset",
    "action_units": "AU",
    "emotion": "emotion",
}


class Casme3PartA(AnnotatedDataset):
    """CAS(ME)^3 part A micro-expressions, colour frames.

    Args:
        root: Folder holding the annotation and the ``part_A/`` frame folder.
        annotation: File name of the annotation CSV under ``root``.

    References:
        J. Li, Z. Dong, S. Lu, S.-J. Wang, W.-J. Yan, Y. Ma, Y. Liu, C. Huang, X. Fu,
        "CAS(ME)^3: A Third Generation Facial Spontaneous Micro-Expression Database with Depth
        Information and High Ecological Validity", IEEE TPAMI 45(3): 2782-2800, 2023,
        doi:10.1109/TPAMI.2022.3174895.
    """

    name = "casme3"
    title = "CAS(ME)^3 part A"
    homepage = "http://casme.psych.ac.cn/casme/e4"
    citation = (
        "J. Li et al., CAS(ME)^3: A Third Generation Facial Spontaneous Micro-Expression Database "
        "with Depth Information and High Ecological Validity, IEEE TPAMI 45(3): 2782-2800, 2023, "
        "doi:10.1109/TPAMI.2022.3174895"
    )
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
CAS(ME)^3 is licensed for research by its authors (Institute of Psychology, Chinese Academy of
Sciences): sign the licence agreement from http://casme.psych.ac.cn/casme/e4 and email it to the
address given there; you receive a download link. Place under the root:
  cas(me)3_part_A_edited.csv                       (part A annotation: Subject, Filename, Onset,
                                                    Apex, Offset, AU, Objective class, emotion)
  part_A/spNO.<n>/<video>/color/<N>.jpg            (part A colour frames, e.g.
                                                    part_A/spNO.1/j/color/28.jpg)
The frame layout is the one the annotation's imagename_* columns name (spNO.1/b/color/175.jpg),
placed under part_A/; depth frames (depth/) are not read.
"""
    REQUIRED_PATHS = ("cas(me)3_part_A_edited.csv", "part_A/spNO.*/*/color")

    def __init__(
        self, root: str | os.PathLike, *, annotation: str = "cas(me)3_part_A_edited.csv"
    ) -> None:
        super().__init__(root)
        self.annotation = annotation

    @property
    def annotation_path(self) -> Path:
        return self.root / self.annotation

    def required_paths(self) -> tuple[str, ...]:
        return (self.annotation, "part_A/spNO.*/*/color")

    def annotation_rows(self) -> list[dict[str, Any]]:
        with self.annotation_path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [cell_text(h) for h in reader.fieldnames or ()]
            absent = [c for c in _COLUMNS.values() if c not in header]
            if absent:
                raise AnnotationError(
                    f"{self.annotation_path}: the columns {absent} are missing. Expected "
                    f"{list(_COLUMNS.values())}; found {header}."
                )
            raw = [{cell_text(k): v for k, v in r.items()} for r in reader]
        rows = []
        for r in raw:
            if all(cell_text(v) == "" for v in r.values()):
                continue
            row = {k: cell_text(r[c]) for k, c in _COLUMNS.items()}
            row["clip"] = f"{row['video']}_{row['onset']}"
            rows.append(row)
        return rows

    def clip_dir(self, subject: str, clip: str, row: dict[str, Any]) -> Path:
        return self.root / "part_A" / subject / row["video"] / "color"

    def frame_file(self, sample: Sample, number: int) -> Path | None:
        return sample.frame_dir / f"{number}.jpg"

    def frames(self, sample: Sample) -> list[Path]:
        """The frames from onset to offset of ``sample`` (its folder holds the whole video)."""
        files = super().frames(sample)
        if sample.onset is None or sample.offset is None:
            return files
        return [p for p in files if sample.onset <= (frame_number(p) or -1) <= sample.offset]
