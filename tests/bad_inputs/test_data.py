"""Bad data folders: ``check-data`` and ``run`` apply the same check and both exit 1."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from tests.fakes import CASME2_ROWS, make_casme2

from .conftest import fails, first_image


def _both(cli, root, tmp_path):
    """check-data and run on the same folder (run must stop before any training)."""
    check = cli("check-data", "megc2019_flow", "--data-dir", root)
    run = cli("run", "--data", "megc2019", "--data-dir", root, "--output-dir", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    return check, run


def _gray(p):
    cv2.imwrite(str(p), np.full((28, 28), 128, np.uint8))


def _rgba(p):
    cv2.imwrite(str(p), np.full((28, 28, 4), 128, np.uint8))


def _big(p):
    cv2.imwrite(str(p), np.full((32, 32, 3), 128, np.uint8))


def _deep(p):
    cv2.imwrite(str(p), np.full((28, 28, 3), 30000, np.uint16))


def _garbage(p):
    p.write_bytes(b"not a png")


def _gone(p):
    p.unlink()


IMAGE_DAMAGE = [
    (_gray, "1 channel(s) (grayscale)"),
    (_rgba, "4 channel(s) (RGBA)"),
    (_big, "is 32x32; expected 28x28"),
    (_deep, "uint16 pixels; expected 8-bit"),
    (_garbage, "cannot be read as an image"),
    (_gone, "is missing"),
]


@pytest.mark.parametrize(("damage", "needle"), IMAGE_DAMAGE, ids=[n for _, n in IMAGE_DAMAGE])
def test_damaged_flow_image_is_refused_by_check_data_and_run(
    cli, flow_dir, tmp_path, damage, needle
):
    img = first_image(flow_dir)
    damage(img)
    check, run = _both(cli, flow_dir, tmp_path)
    fails(check, "file problem(s)", "featref check-data megc2019_flow")
    assert needle in check.out and img.name in check.out  # listed under "problems found"
    fails(run, needle, img.name, "Restore the images")


def test_unannotated_image_is_refused(cli, flow_dir, tmp_path):
    cv2.imwrite(str(flow_dir / "STSNet_whole_norm_u_v_os" / "sub99_x .png"), np.zeros((28, 28, 3)))
    check, run = _both(cli, flow_dir, tmp_path)
    fails(check, "file problem(s)")
    fails(run, "sub99_x .png has no row")


def _edit_gt(root, fn):
    gt = root / "combined_3class_gt.csv"
    lines = gt.read_text().splitlines()
    gt.write_text("\n".join(fn(lines)) + "\n", encoding="utf-8")


GT_DAMAGE = [
    (lambda ls: [*ls, ls[0]], ["line 443", "listed twice", "first on line 1"]),
    (lambda ls: ["\ufeff" + ls[0], *ls[1:]], None),  # accepted: a leading BOM is dropped
    (lambda ls: [ls[0], "\ufeff" + ls[1], *ls[2:]], ["line 2", "\\ufeffcasme2"]),
    (lambda ls: [ls[0].replace("casme2", "casme2\u200b"), *ls[1:]], ["line 1", "\\u200b"]),
    (lambda ls: [ls[0].replace("sub01", "subject01"), *ls[1:]], ["line 1", "'subject01'"]),
    (lambda ls: [ls[0].replace("casme2", "casme"), *ls[1:]], ["line 1", "unknown database"]),
    (lambda ls: [ls[0][:-1] + "5", *ls[1:]], ["line 1", "label 0-2"]),
    (lambda ls: [ls[0].rsplit(",", 1)[0], *ls[1:]], ["line 1", "label 0-2"]),
    (lambda ls: ls[1:], ["does not give the official MEGC2019 composite", "expected 88"]),
]


@pytest.mark.parametrize(("edit", "needles"), GT_DAMAGE, ids=[f"gt{i}" for i in range(9)])
def test_bad_ground_truth(cli, flow_dir, tmp_path, edit, needles):
    _edit_gt(flow_dir, edit)
    if needles is None:  # accepted and handled: same 442 samples as without the mark
        check = cli("check-data", "megc2019_flow", "--data-dir", flow_dir)
        assert check.rc == 0 and "442 clips, 68 subjects" in check.out, check.text
        return
    check, run = _both(cli, flow_dir, tmp_path)
    for res in (check, run):
        fails(res, "combined_3class_gt.csv", *needles)


def test_missing_data_dir_lists_what_to_place(cli, tmp_path):
    fails(
        cli("check-data", "megc2019_flow", "--data-dir", tmp_path / "none"),
        "Missing paths",
        "STSNet_whole_norm_u_v_os",
        "Re-check with: featref check-data megc2019_flow",
    )


def test_sound_fake_composite_passes_check_data(cli, flow_dir):
    res = cli("check-data", "megc2019_flow", "--data-dir", flow_dir)
    assert res.rc == 0 and "problems found: 0" in res.out


def test_casme2_missing_clip_folder(cli, tmp_path):
    root = make_casme2(tmp_path / "c2")
    (root / "CASME2_RAW_selected" / "sub01" / "EP02_01f").rename(root / "elsewhere")
    fails(cli("check-data", "casme2", "--data-dir", root), "sub01/EP02_01f", "Missing paths")


def test_casme2_duplicate_clip_rows(cli, tmp_path):
    root = make_casme2(tmp_path / "c2", [*CASME2_ROWS, CASME2_ROWS[0]])
    fails(cli("check-data", "casme2", "--data-dir", root), "more than once", "sub01/EP02_01f")


def test_casme2_quality_warnings_fail_only_with_strict(cli, tmp_path):
    # Accepted without --strict: CASME II's own sheet has a missing apex (sub04/EP12_01f); it is
    # listed under "problems found" and exits 0; --strict makes it exit 1.
    root = make_casme2(tmp_path / "c2")
    ok = cli("check-data", "casme2", "--data-dir", root)
    assert ok.rc == 0 and "casme2/sub04/EP12_01f: no apex annotated" in ok.out
    fails(cli("check-data", "casme2", "--data-dir", root, "--strict"), "--strict")


def test_casme2_non_numeric_frame(cli, tmp_path):
    rows = [("01", "EP02_01f", 46, "forty", 51, 12, "happiness")]
    root = make_casme2(tmp_path / "c2", rows, frames=False)
    (root / "CASME2_RAW_selected" / "sub01" / "EP02_01f").mkdir(parents=True)
    fails(cli("check-data", "casme2", "--data-dir", root), "must be a frame number", "'forty'")


def test_prepared_source_without_data_dir(cli, tmp_path):
    fails(cli("run", "--data", "prepared", "--output-dir", tmp_path / "o"), "needs --data-dir")
