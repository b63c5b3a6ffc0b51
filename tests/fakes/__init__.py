"""Builders of tiny fake databases in the official layouts (TFDS's dummy data, MEB's "PER").

Every builder writes into a given root (a pytest ``tmp_path``) the official folder layout, file
names and annotation column names, with tiny synthetic frames (32x32 grey images) instead of
licensed ones, and returns the root. Rows are plain tuples so tests state their data explicitly;
the defaults are small and cover each reader's quirks (CASME II's "/" apex, SAMM's preamble,
SMIC's folder labels and one-digit subject folders, CAS(ME)^3's several clips per video).

Frames are written for numbers ``onset - pad`` to ``offset + pad``; ``frame_fn(number)`` may return
the image of each frame (default: one grey gradient for all), e.g. for preprocessing tests.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "CASME2_ROWS",
    "CASME3_ROWS",
    "SAMM_ROWS",
    "SMIC_CLIPS",
    "make_casme2",
    "make_casme3",
    "make_megc2019",
    "make_samm",
    "make_smic",
    "write_frames",
]

FrameFn = Callable[[int], np.ndarray]

#: (Subject, Filename, OnsetFrame, ApexFrame, OffsetFrame, Action Units, Estimated Emotion) in the
#: 2014 coding's cell types (subject a 2-digit string, frames ints, AUs int or str).
CASME2_ROWS: tuple[tuple, ...] = (
    ("01", "EP02_01f", 46, 49, 51, 12, "happiness"),
    ("01", "EP03_02", 11, 13, 15, 18, "others"),
    ("01", "EP19_05f", 396, 398, 400, "4+L10", "disgust"),
    ("02", "EP01_11f", 6, 8, 10, 15, "repression"),
    ("04", "EP12_01f", 261, "/", 264, "4+7", "disgust"),  # the real sheet's missing apex
    ("05", "EP09_05f", 69, 69, 72, "R2+15", "disgust"),  # apex equals onset, as in the sheet
    ("11", "EP19_03f", 2, 4, 6, "1+2", "surprise"),
)

#: (Subject, Filename, Onset Frame, Apex Frame, Offset Frame, Action Units, Estimated Emotion).
SAMM_ROWS: tuple[tuple, ...] = (
    ("006", "006_1_2", 5562, 5564, 5566, "4+7", "Anger"),
    ("006", "006_1_3", 3912, 3914, 3916, "4", "Anger"),
    ("007", "007_6_1", 100, 102, 104, "12", "Happiness"),
    ("011", "011_2_3", 20, 23, 25, "R14", "Other"),
)

#: (subject folder, emotion folder, clip folder, number of frames, frame suffix).
SMIC_CLIPS: tuple[tuple, ...] = (
    ("s1", "negative", "s1_ne_01", 5, ".bmp"),
    ("s1", "positive", "s1_po_01", 4, ".bmp"),
    ("s2", "surprise", "s2_sur_01", 3, ".jpg"),
    ("s11", "negative", "s11_ne_02", 6, ".bmp"),
)

#: (Subject, Filename, Onset, Apex, Offset, AU, Objective class, emotion); two clips share video j.
CASME3_ROWS: tuple[tuple, ...] = (
    ("spNO.1", "b", 166, 168, 170, "4", "III", "disgust"),
    ("spNO.1", "j", 28, 30, 32, "24", "VII", "happy"),
    ("spNO.1", "j", 102, 104, 106, "26+25", "II", "surprise"),
    ("spNO.2", "a", 10, 12, 14, "1+2", "II", "surprise"),
)


def _default_image() -> np.ndarray:
    ramp = np.linspace(0, 255, 32, dtype=np.float32)
    return (ramp[None, :] * 0.5 + ramp[:, None] * 0.5).astype(np.uint8)


def write_frames(
    folder: Path,
    names_by_number: Iterable[tuple[int, str]],
    frame_fn: FrameFn | None = None,
) -> None:
    """Write one tiny image per ``(number, file name)`` into ``folder``."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    encoded: dict[str, bytes] = {}
    for number, name in names_by_number:
        suffix = Path(name).suffix.lower()
        if frame_fn is not None:
            ok, buf = cv2.imencode(suffix, frame_fn(number))
            data = buf.tobytes()
        else:
            if suffix not in encoded:
                ok, buf = cv2.imencode(suffix, _default_image())
                encoded[suffix] = buf.tobytes()
            data = encoded[suffix]
        (folder / name).write_bytes(data)


def _frame_range(onset, offset, pad: int) -> range:
    return range(max(0, int(onset) - pad), int(offset) + pad + 1)


def _write_xlsx(path: Path, rows: Sequence[Sequence], *, sheet: str = "Sheet1") -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    for row in rows:
        ws.append(list(row))
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)


def make_casme2(
    root: Path,
    rows: Sequence[tuple] = CASME2_ROWS,
    *,
    coding: str = "2014",
    layout: str = "raw",
    frames: bool = True,
    pad: int = 1,
    frame_fn: FrameFn | None = None,
) -> Path:
    """A fake CASME II: the coding spreadsheet (official columns, with the real sheet's blank
    columns) and ``CASME2_RAW_selected/subXX/EPxx_xx/imgN.jpg`` or
    ``Cropped/subXX/EPxx_xx/reg_imgN.jpg`` frames."""
    name = {"2014": "CASME2-coding-20140508.xlsx", "2019": "CASME2-coding-20190701.xlsx"}[coding]
    header = ("Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None)
    header += ("Action Units", "Estimated Emotion")
    table = [header] + [
        (s, f, None, on, ap, off, None, au, em) for s, f, on, ap, off, au, em in rows
    ]
    _write_xlsx(root / name, table)
    if frames:
        folder, pattern = {
            "raw": ("CASME2_RAW_selected", "img{n}.jpg"),
            "cropped": ("Cropped", "reg_img{n}.jpg"),
        }[layout]
        for subject, clip, onset, _, offset, _, _ in rows:
            numbers = _frame_range(onset, offset, pad)
            write_frames(
                root / folder / f"sub{int(subject):02d}" / clip,
                ((n, pattern.format(n=n)) for n in numbers),
                frame_fn,
            )
    return root


def make_samm(
    root: Path,
    rows: Sequence[tuple] = SAMM_ROWS,
    *,
    frames: bool = True,
    pad: int = 1,
    frame_fn: FrameFn | None = None,
) -> Path:
    """A fake SAMM: ``SAMM_Micro_FACS_Codes_v2.xlsx`` with a preamble above the official header
    row, and ``SAMM/<subject>/<clip>/<subject>_<NNNNN>.jpg`` frames."""
    preamble = [
        ("SAMM Dataset - Master FACS Codes", None, None, None, "(Note to the users: ...)"),
        (None,),
        ("9/9/17 - New updates with Emotional and Objective Classes.",),
        (None,),
        ("Symbol Key:",),
        ('"/" = or',),
        (None,),
    ]
    header = ("Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame")
    header += ("Offset Frame", "Duration", "Micro", "Action Units", "Estimated Emotion")
    header += ("Objective Classes", "Notes")
    body = [
        (s, f, 1, on, ap, off, off - on + 1, "Micro - 1/2", au, em, 7, None)
        for s, f, on, ap, off, au, em in rows
    ]
    _write_xlsx(
        root / "SAMM_Micro_FACS_Codes_v2.xlsx", preamble + [header] + body, sheet="MICRO_ONLY"
    )
    if frames:
        for subject, clip, onset, _, offset, _, _ in rows:
            write_frames(
                root / "SAMM" / subject / clip,
                ((n, f"{subject}_{n:05d}.jpg") for n in _frame_range(onset, offset, pad)),
                frame_fn,
            )
    return root


def make_smic(
    root: Path,
    clips: Sequence[tuple] = SMIC_CLIPS,
    *,
    first_frame: int = 22587,
    frame_fn: FrameFn | None = None,
) -> Path:
    """A fake SMIC-HS: ``HS/s<n>/micro/<emotion>/<clip>/image<NNNNNN>.bmp`` (labels from the
    folders), plus a ``non_micro`` folder the reader must ignore."""
    for i, (subject, emotion, clip, n_frames, suffix) in enumerate(clips):
        start = first_frame + 1000 * i
        write_frames(
            root / "HS" / subject / "micro" / emotion / clip,
            ((n, f"image{n:06d}{suffix}") for n in range(start, start + n_frames)),
            frame_fn,
        )
    if clips:
        subject = clips[0][0]
        write_frames(root / "HS" / subject / "non_micro" / f"{subject}_no_01", [(1, "image1.bmp")])
    return root


def make_casme3(
    root: Path,
    rows: Sequence[tuple] = CASME3_ROWS,
    *,
    frames: bool = True,
    pad: int = 1,
    frame_fn: FrameFn | None = None,
) -> Path:
    """A fake CAS(ME)^3 part A: ``cas(me)3_part_A_edited.csv`` with the official header and
    ``part_A/spNO.<n>/<video>/color/<N>.jpg`` frames."""
    header = [
        "Subject",
        "Filename",
        "Onset",
        "Apex",
        "Offset",
        "AU",
        "Objective class",
        "emotion",
        "label_for_7",
        "label_for_3",
        "imagename_apex",
        "imagename_onset",
        "imagename_apex_offset",
    ]
    root.mkdir(parents=True, exist_ok=True)
    with (root / "cas(me)3_part_A_edited.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for s, v, on, ap, off, au, oc, em in rows:
            img = f"{s}/{v}/color/{{}}.jpg"
            w.writerow([s, v, on, ap, off, au, oc, em, 0, 0, img.format(ap), img.format(on)])
    if frames:
        for s, v, on, _, off, *_ in rows:
            write_frames(
                root / "part_A" / s / v / "color",
                ((n, f"{n}.jpg") for n in _frame_range(on, off, pad)),
                frame_fn,
            )
    return root


def _spread(counts: dict[str, int], n_subjects: int) -> list[tuple[int, str]]:
    """(subject index, label) pairs: every subject gets at least one clip, round robin."""
    labels = [lab for lab, n in counts.items() for _ in range(n)]
    return [(i % n_subjects, lab) for i, lab in enumerate(labels)]


def make_megc2019(root: Path, *, ground_truth: bool = True) -> Path:
    """A fake MEGC2019 composite with the official counts: ``casme2/``, ``samm/``, ``smic/``
    under ``root`` (145 / 133 / 164 member clips of 24 / 28 / 16 subjects, 3 frames each, plus
    non-members) and ``megc2019/combined_3class_gt.csv`` written from the same clips."""
    gt = []
    code = {"negative": 0, "positive": 1, "surprise": 2}
    emotion = {"negative": "disgust", "positive": "happiness", "surprise": "surprise"}
    rows = []
    for k, (i, lab) in enumerate(_spread({"negative": 88, "positive": 32, "surprise": 25}, 24)):
        subject, clip = f"{i + 1:02d}", f"EP{k:03d}_01"
        em = "repression" if lab == "negative" and k % 2 else emotion[lab]
        rows.append((subject, clip, 1, 2, 3, "4", em))
        gt.append(("casme2", f"sub{subject}", clip, code[lab]))
    rows += [("01", "EP900_01", 1, 2, 3, "4", "others"), ("02", "EP901_01", 1, 2, 3, "4", "fear")]
    rows += [
        ("04", "EP12_01f", 261, "/", 263, "4+7", "disgust"),
        ("04", "EP903_01", 2, 2, 3, "4", "disgust"),
    ]
    make_casme2(root / "casme2", rows, pad=0)

    samm_em = {"negative": "Anger", "positive": "Happiness", "surprise": "Surprise"}
    rows = []
    for k, (i, lab) in enumerate(_spread({"negative": 92, "positive": 26, "surprise": 15}, 28)):
        subject = f"{i + 6:03d}"
        em = (
            ("Contempt", "Disgust", "Fear", "Sadness", "Anger")[k % 5]
            if lab == "negative"
            else samm_em[lab]
        )
        rows.append((subject, f"{subject}_{k}_1", 10, 11, 12, "4", em))
        gt.append(("samm", str(i + 6), f"{subject}_{k}_1", code[lab]))
    rows.append(("006", "006_99_9", 10, 11, 12, "4", "Other"))
    make_samm(root / "samm", rows, pad=0)

    short = {"negative": "ne", "positive": "po", "surprise": "sur"}
    clips = []
    for k, (i, lab) in enumerate(_spread({"negative": 70, "positive": 51, "surprise": 43}, 16)):
        clips.append((f"s{i + 1}", lab, f"s{i + 1}_{short[lab]}_{k:02d}", 3, ".bmp"))
        gt.append(("smic", f"s{i + 1:02d}", f"s{i + 1:02d}_{short[lab]}_{k:02d}", code[lab]))
    make_smic(root / "smic", clips)

    if ground_truth:
        (root / "megc2019").mkdir(parents=True, exist_ok=True)
        with (root / "megc2019" / "combined_3class_gt.csv").open("w", newline="") as f:
            csv.writer(f).writerows(gt)
    return root
