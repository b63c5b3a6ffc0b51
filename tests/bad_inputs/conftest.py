"""Helpers of the bad-input suite: run the CLI in-process, and tiny fake inputs.

Every case runs ``featref.cli.main([...])`` and checks the exit code, that the message names the
item and the fix, and that no traceback reaches the user (issue 11).
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from featref.cli import main
from featref.datasets.megc2019 import MEGC2019_COUNTS
from featref.labels import MEGC2019_CLASSES


class Result:
    """Exit code and captured output of one CLI call."""

    def __init__(self, rc: int, out: str, err: str) -> None:
        self.rc, self.out, self.err = rc, out, err
        self.text = out + err


@pytest.fixture
def cli(capsys):
    """``cli(*argv)`` -> :class:`Result`; asserts that no traceback was printed."""

    def run(*argv: str | Path) -> Result:
        rc = main([str(a) for a in argv])
        cap = capsys.readouterr()
        res = Result(rc, cap.out, cap.err)
        assert "Traceback" not in res.text, res.text
        return res

    return run


def fails(res: Result, *needles: str) -> None:
    """Exit code 1 and every needle (case-sensitive) in the message."""
    assert res.rc == 1, res.text
    for n in needles:
        assert n in res.err, f"{n!r} not in:\n{res.err}"


# -- a fake published MEGC2019 composite (442 tiny flow PNGs with the official counts) ----------


def _composite_rows() -> list[tuple[str, str, str, int]]:
    subject = {"casme2": "sub{:02d}", "samm": "{:03d}", "smic": "s{:02d}"}
    first = {"casme2": 1, "samm": 6, "smic": 1}
    rows = []
    for db, want in MEGC2019_COUNTS.items():
        labels = [c for c in MEGC2019_CLASSES for _ in range(want[c])]
        for k, cls in enumerate(labels):
            subj = subject[db].format(first[db] + k % want["subjects"])
            rows.append((db, subj, f"clip{k:03d}", MEGC2019_CLASSES.index(cls)))
    return rows


@pytest.fixture(scope="session")
def _flow_master(tmp_path_factory) -> Path:
    import cv2

    root = tmp_path_factory.mktemp("megc_flow") / "megc2019"
    images = root / "STSNet_whole_norm_u_v_os"
    images.mkdir(parents=True)
    rows = _composite_rows()
    with (root / "combined_3class_gt.csv").open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    rng = np.random.default_rng(0)
    for _db, subj, clip, _ in rows:
        img = rng.integers(0, 256, (28, 28, 3), dtype=np.uint8)
        cv2.imwrite(str(images / f"{subj}_{clip} .png"), img)
    return root


@pytest.fixture
def flow_dir(_flow_master, tmp_path) -> Path:
    """A fresh copy of a sound fake published composite (``megc2019/`` folder)."""
    dst = tmp_path / "megc2019"
    shutil.copytree(_flow_master, dst)
    return dst


def first_image(root: Path) -> Path:
    """The flow image of the ground truth's first row."""
    db, subj, clip, _ = next(csv.reader((root / "combined_3class_gt.csv").open()))
    return root / "STSNet_whole_norm_u_v_os" / f"{subj}_{clip} .png"
