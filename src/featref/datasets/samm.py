"""SAMM: the Spontaneous Actions and Micro-Movements database (159 micro-expressions, 29 subjects).

Clips were recorded at 200 fps, 2040x1088, grey-scale. ``SAMM_Micro_FACS_Codes_v2.xlsx`` holds a
preamble (title, notes, symbol key) above its header row, then one row per micro-expression with
the onset, apex and offset frame numbers (those of the ``<subject>_<NNNNN>.jpg`` file names), the
action units, the estimated emotion and the objective class.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from featref.datasets._reader import AnnotatedDataset, cell_text, read_xlsx_rows
from featref.datasets.base import Sample

__all__ = ["Samm"]

_COLUMNS = {
    "subject": "Subject",
    "clip": "Filename",
    "onset": "Onset Frame",
    "apex": "Apex Frame",
    "offset": "Offset Frame",
    "action_units": "Action Units",
    "emotion": "Estimated Emotion",
}


class Samm(AnnotatedDataset):
    """SAMM micro-expressions with the v2 FACS coding (estimated emotions and objective classes).

    Subjects are zero-padded to three digits (``"006"``), clips are the coding's Filename
    (``"006_1_2"``), so sample ids read ``"samm/006/006_1_2"``.

    Args:
        root: Folder holding the spreadsheet and the ``SAMM/`` frame folder.
        annotation: File name of the coding spreadsheet under ``root``.

    References:
        A. K. Davison, C. Lansley, N. Costen, K. Tan, M. H. Yap, "SAMM: A Spontaneous
        Micro-Facial Movement Dataset", IEEE Transactions on Affective Computing 9(1): 116-129,
        2018, doi:10.1109/TAFFC.2016.2573832. Emotion and objective classes: A. K. Davison,
        W. Merghani, M. H. Yap, "Objective Classes for Micro-Facial Expression Recognition",
        Journal of Imaging 4(10): 119, 2018, doi:10.3390/jimaging4100119.
    """

    name = "samm"
    title = "SAMM"
    homepage = "http://www2.docm.mmu.ac.uk/STAFF/m.yap/dataset.php"
    citation = (
        "A. K. Davison et al., SAMM: A Spontaneous Micro-Facial Movement Dataset, IEEE "
        "Transactions on Affective Computing 9(1): 116-129, 2018, doi:10.1109/TAFFC.2016.2573832"
    )
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
SAMM is licensed for research by Manchester Metropolitan University: sign the licence agreement
from http://www2.docm.mmu.ac.uk/STAFF/m.yap/dataset.php and send it to the address given there;
you receive a download link. Place under the root:
  SAMM_Micro_FACS_Codes_v2.xlsx                    (coding spreadsheet, sheet MICRO_ONLY)
  SAMM/<subject>/<clip>/<subject>_<NNNNN>.jpg      (frames, e.g. SAMM/006/006_1_2/006_05562.jpg)
"""
    REQUIRED_PATHS = ("SAMM_Micro_FACS_Codes_v2.xlsx", "SAMM/*/*")

    def __init__(
        self, root: str | os.PathLike, *, annotation: str = "SAMM_Micro_FACS_Codes_v2.xlsx"
    ) -> None:
        super().__init__(root)
        self.annotation = annotation

    @property
    def annotation_path(self) -> Path:
        return self.root / self.annotation

    def required_paths(self) -> tuple[str, ...]:
        return (self.annotation, "SAMM/*/*")

    def annotation_rows(self) -> list[dict[str, Any]]:
        rows = read_xlsx_rows(self.annotation_path, _COLUMNS)
        for row in rows:
            subject = cell_text(row["subject"])
            row["subject"] = subject.zfill(3) if subject.isdigit() else subject
            row["clip"] = cell_text(row["clip"])
        return rows

    def clip_dir(self, subject: str, clip: str, row: dict[str, Any]) -> Path:
        return self.root / "SAMM" / subject / clip

    def frame_file(self, sample: Sample, number: int) -> Path | None:
        return sample.frame_dir / f"{sample.subject}_{number:05d}.jpg"
