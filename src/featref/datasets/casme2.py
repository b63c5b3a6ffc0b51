"""CASME II: the Chinese Academy of Sciences Micro-Expression database II (255 clips, 26 subjects).

Clips were recorded at 200 fps, 640x480. The coding spreadsheet gives, per clip, the onset, apex
and offset frame numbers (those of the ``imgN.jpg`` file names), the action units and the
estimated emotion (happiness, disgust, repression, surprise, fear, sadness, others).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from featref.datasets._reader import AnnotatedDataset, cell_text, read_xlsx_rows
from featref.datasets.base import Sample
from featref.errors import ConfigError

__all__ = ["CODINGS", "LAYOUTS", "Casme2"]

#: Coding spreadsheets by version: the original (2014-05-08) and the update (2019-07-01, which
#: relabels three sub24 clips from sadness to surprise and revises many action units).
CODINGS: dict[str, str] = {
    "2014": "CASME2-coding-20140508.xlsx",
    "2019": "CASME2-coding-20190701.xlsx",
}
#: Frame layouts: folder under the root and the frame file name pattern.
LAYOUTS: dict[str, tuple[str, str]] = {
    "raw": ("CASME2_RAW_selected", "img{n}.jpg"),
    "cropped": ("Cropped", "reg_img{n}.jpg"),
}
_COLUMNS = {
    "subject": "Subject",
    "clip": "Filename",
    "onset": "OnsetFrame",
    "apex": "ApexFrame",
    "offset": "OffsetFrame",
    "action_units": "Action Units",
    "emotion": "Estimated Emotion",
}


class Casme2(AnnotatedDataset):
    """CASME II with its coding spreadsheet and the raw or cropped frame layout.

    Args:
        root: Folder holding the spreadsheet and the frame folder.
        coding: ``"2014"`` (``CASME2-coding-20140508.xlsx``, the one the MEGC2019 composite uses)
            or ``"2019"`` (``CASME2-coding-20190701.xlsx``).
        layout: ``"raw"`` (``CASME2_RAW_selected/subXX/EPxx_xx/imgN.jpg``) or ``"cropped"``
            (``Cropped/subXX/EPxx_xx/reg_imgN.jpg``).

    References:
        W.-J. Yan, X. Li, S.-J. Wang, G. Zhao, Y.-J. Liu, Y.-H. Chen, X. Fu, "CASME II: An
        Improved Spontaneous Micro-Expression Database and the Baseline Evaluation", PLoS ONE
        9(1): e86041, 2014, doi:10.1371/journal.pone.0086041.
    """

    name = "casme2"
    title = "CASME II"
    homepage = "http://casme.psych.ac.cn/casme/e2"
    citation = (
        "W.-J. Yan et al., CASME II: An Improved Spontaneous Micro-Expression Database and the "
        "Baseline Evaluation, PLoS ONE 9(1): e86041, 2014, doi:10.1371/journal.pone.0086041"
    )
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
CASME II is licensed for research by its authors (Institute of Psychology, Chinese Academy of
Sciences): sign the licence agreement from http://casme.psych.ac.cn/casme/e2 and email it to the
address given there; you receive a download link. Place under the root:
  CASME2-coding-20140508.xlsx                      (coding spreadsheet; or
  CASME2-coding-20190701.xlsx                       the 2019 update, with --coding 2019)
  CASME2_RAW_selected/subXX/EPxx_xx/imgN.jpg       (raw frames, the default layout; or
  Cropped/subXX/EPxx_xx/reg_imgN.jpg                the cropped frames, with --layout cropped)
Subject folders are named sub01..sub26 and clip folders as in the spreadsheet's Filename column.
"""
    REQUIRED_PATHS = ("CASME2-coding-20140508.xlsx", "CASME2_RAW_selected/sub*/*")

    def __init__(
        self, root: str | os.PathLike, *, coding: str = "2014", layout: str = "raw"
    ) -> None:
        super().__init__(root)
        if coding not in CODINGS:
            raise ConfigError(f"CASME II `coding` must be one of {list(CODINGS)}. Got {coding!r}.")
        if layout not in LAYOUTS:
            raise ConfigError(f"CASME II `layout` must be one of {list(LAYOUTS)}. Got {layout!r}.")
        self.coding = coding
        self.layout = layout

    @property
    def annotation_path(self) -> Path:
        return self.root / CODINGS[self.coding]

    def required_paths(self) -> tuple[str, ...]:
        return (CODINGS[self.coding], f"{LAYOUTS[self.layout][0]}/sub*/*")

    def annotation_rows(self) -> list[dict[str, Any]]:
        rows = read_xlsx_rows(self.annotation_path, _COLUMNS)
        for row in rows:
            subject = cell_text(row["subject"])
            row["subject"] = f"sub{int(subject):02d}" if subject.isdigit() else subject
            row["clip"] = cell_text(row["clip"])
        return rows

    def clip_dir(self, subject: str, clip: str, row: dict[str, Any]) -> Path:
        return self.root / LAYOUTS[self.layout][0] / subject / clip

    def frame_file(self, sample: Sample, number: int) -> Path | None:
        return sample.frame_dir / LAYOUTS[self.layout][1].format(n=number)
