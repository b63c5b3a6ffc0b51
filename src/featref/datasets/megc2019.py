"""The MEGC2019 composite as published flow images (CASME II + SAMM + SMIC-HS, 3 classes).

The public copy holds one 28x28 RGB PNG per sample, TV-L1 flow from onset to apex with channels
R = u (horizontal), G = v (vertical), B = optical strain, each min-max scaled to 0-255 per image;
file names are ``<subject>_<clip> .png`` (with a space before ``.png``). This reader joins them to
the official ground truth and checks the composite against the official counts.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import numpy as np

from featref.datasets.base import ManualDataset, Sample
from featref.datasets.flowset import FlowSet
from featref.errors import (
    AnnotationError,
    AnnotationMismatchError,
    DatasetNotFoundError,
)
from featref.labels import MEGC2019_CLASSES

__all__ = ["MEGC2019_COUNTS", "Megc2019Flow"]

#: Official per-database class counts (negative, positive, surprise) and subject counts.
MEGC2019_COUNTS: dict[str, dict[str, int]] = {
    "casme2": {"negative": 88, "positive": 32, "surprise": 25, "subjects": 24},
    "samm": {"negative": 92, "positive": 26, "surprise": 15, "subjects": 28},
    "smic": {"negative": 70, "positive": 51, "surprise": 43, "subjects": 16},
}
_PNG_CHANNELS = ("u", "v", "strain")  # R, G, B of the published images
_IMAGE_SHAPE = (28, 28, 3)  # height, width, channels of every published flow image
#: Subject names of each database in the official ground truth (after SAMM's zero padding).
_SUBJECT_NAME = {
    "casme2": re.compile(r"sub\d{2}"),
    "samm": re.compile(r"\d{3}"),
    "smic": re.compile(r"s\d{1,2}"),
}
_SUBJECT_EXAMPLE = {"casme2": "'sub01'", "samm": "'006' (or 6)", "smic": "'s1' or 's01'"}


class Megc2019Flow(ManualDataset):
    """Published MEGC2019 composite flow images with the official ground truth.

    References:
        J. See, M. H. Yap, J. Li, X. Hong, S.-J. Wang, "MEGC 2019 - The Second Facial
        Micro-Expressions Grand Challenge", IEEE FG 2019, doi:10.1109/FG.2019.8756611.
    """

    name = "megc2019_flow"
    title = "MEGC2019 composite, published flow images"
    homepage = "https://facial-micro-expressions.github.io/megc2019/"
    citation = "See et al., MEGC 2019, IEEE FG 2019, doi:10.1109/FG.2019.8756611"
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
The composite is derived from CASME II, SAMM and SMIC-HS, each licensed by its authors: request
all three, then either run `featref prepare megc2019` on them, or place the public 28x28 flow
images of the composite (as used by STSTNet) under the root:
  STSNet_whole_norm_u_v_os/<subject>_<clip> .png   (442 files, RGB = u, v, strain)
  combined_3class_gt.csv                           (official ground truth, no header:
                                                    dataset,subject,clip,label)
"""
    REQUIRED_PATHS = ("STSNet_whole_norm_u_v_os", "combined_3class_gt.csv")

    def __init__(self, root, *, annotation: str = "combined_3class_gt.csv") -> None:
        super().__init__(root)
        self.annotation = annotation
        self.image_dir = self.root / "STSNet_whole_norm_u_v_os"

    def _load_samples(self) -> list[Sample]:
        path = self.root / self.annotation
        if not path.is_file():
            raise DatasetNotFoundError(f"Annotation file {path} does not exist.")
        try:  # a leading byte-order mark (Excel's "CSV UTF-8") is accepted and dropped
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise AnnotationError(
                f"{path} is not UTF-8 text ({exc}). Expected the official "
                "combined_3class_gt.csv; restore it from the original copy."
            ) from None
        rows = list(csv.reader(text.splitlines()))
        start = 1
        if rows and [c.strip() for c in rows[0][:2]] == ["dataset", "sub"]:  # the 442-row CSV
            head = [c.strip() for c in rows[0]]
            need = ("dataset", "sub", "filename_o", "label")
            if not all(k in head for k in need):
                raise AnnotationError(
                    f"{path}: the header {head} lacks {[k for k in need if k not in head]}."
                )
            rows = [
                [r[head.index(k)] if head.index(k) < len(r) else "" for k in need] for r in rows[1:]
            ]
            start = 2
        samples = []
        seen: dict[str, int] = {}
        for line, row in enumerate(rows, start=start):
            if not row or all(not c.strip() for c in row):
                continue
            where = f"{path}, line {line}"
            if len(row) < 4 or not row[3].strip().isdigit() or int(row[3]) >= len(MEGC2019_CLASSES):
                raise AnnotationError(
                    f"{where}: expected 'dataset,subject,clip,label' with label 0-2. Got {row!r}."
                )
            dataset, subject, clip, label = (v.strip() for v in row[:4])
            if dataset not in MEGC2019_COUNTS:
                raise AnnotationError(
                    f"{where}: unknown database {dataset!r} (read as {ascii(dataset)}); expected "
                    f"one of {sorted(MEGC2019_COUNTS)}. An invisible character (e.g. a "
                    "byte-order mark or a non-breaking space) shows in the escaped form; fix "
                    "the line."
                )
            if dataset == "samm" and subject.isdigit():
                subject = subject.zfill(3)  # the official file writes SAMM subject 006 as 6
            if not _SUBJECT_NAME[dataset].fullmatch(subject) or not clip or clip != clip.strip():
                raise AnnotationError(
                    f"{where}: subject {subject!r} (read as {ascii(subject)}) or clip "
                    f"{clip!r} is not a {dataset} name; expected subjects like "
                    f"{_SUBJECT_EXAMPLE[dataset]}. Fix the line."
                )
            sample = Sample(
                dataset, subject, clip, MEGC2019_CLASSES[int(label)], None, None, None, None
            )
            if sample.sample_id in seen:
                raise AnnotationError(
                    f"{where}: sample {sample.sample_id} is listed twice (first on line "
                    f"{seen[sample.sample_id]}). Each sample must appear once; remove the "
                    "duplicate row."
                )
            seen[sample.sample_id] = line
            samples.append(sample)
        self._verify(samples, path)
        return samples

    def _verify(self, samples: list[Sample], path: Path) -> None:
        """Check the official counts (442 samples, 68 subjects, per-database classes)."""
        problems = []
        for db, want in MEGC2019_COUNTS.items():
            mine = [s for s in samples if s.dataset == db]
            got = Counter(s.emotion for s in mine)
            got_subjects = len({s.subject for s in mine})
            for cls in MEGC2019_CLASSES:
                if got[cls] != want[cls]:
                    problems.append(f"{db} {cls}: expected {want[cls]}, found {got[cls]}")
            if got_subjects != want["subjects"]:
                problems.append(f"{db} subjects: expected {want['subjects']}, found {got_subjects}")
        if len(samples) != 442:
            problems.append(f"samples: expected 442, found {len(samples)}")
        if problems:
            raise AnnotationMismatchError(
                f"The annotation {path} does not give the official MEGC2019 composite:\n  - "
                + "\n  - ".join(problems)
            )

    #: The published copy needs no annotation corrections (``check-data`` lists applied ones).
    applied_corrections: tuple = ()

    @property
    def annotation_path(self) -> Path:
        """The ground-truth file in use."""
        return self.root / self.annotation

    def problems(self) -> list[str]:
        """Every problem of the flow images: the one check ``check-data`` and ``run`` share.

        Each annotated sample needs a readable 8-bit 28x28 RGB PNG (a grayscale or RGBA image
        is refused: its channels are not u, v, strain), and every image needs an annotation.

        Returns:
            One line per problem, naming the sample id and the file (empty when all is well).
        """
        out = []
        for sample in self.samples():
            problem = _image_problem(self.image_path(sample))[1]
            if problem:
                out.append(f"{sample.sample_id}: {problem}")
        known = {self.image_path(s).name for s in self.samples()}
        if self.image_dir.is_dir():
            for p in sorted(self.image_dir.glob("*.png")):
                if p.name not in known:
                    out.append(
                        f"{p} has no row in {self.annotation_path} (an extra or misnamed image; "
                        "expected '<subject>_<clip> .png')"
                    )
        return out

    def validate(self) -> list[str]:
        """Raise unless :meth:`problems` finds nothing.

        Raises:
            AnnotationMismatchError: listing up to 10 problems and what to do.
        """
        problems = self.problems()
        if problems:
            shown = "\n  - ".join(problems[:10])
            more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
            raise AnnotationMismatchError(
                f"{len(problems)} problem(s) with the flow images in {self.image_dir}:\n  - "
                f"{shown}{more}\nRestore the images from the original copy of the published "
                f"composite (28x28 RGB PNGs, R=u, G=v, B=strain); re-check with: featref "
                f"check-data megc2019_flow --data-dir {self.root}"
            )
        return []

    def image_path(self, sample: Sample) -> Path:
        """The flow image of ``sample`` (the public copy's name has a space before ``.png``)."""
        for name in (f"{sample.subject}_{sample.clip} .png", f"{sample.subject}_{sample.clip}.png"):
            if (self.image_dir / name).is_file():
                return self.image_dir / name
        return self.image_dir / f"{sample.subject}_{sample.clip} .png"

    def load(self, channels: tuple[str, ...] = _PNG_CHANNELS) -> FlowSet:
        """Read every flow image into a :class:`FlowSet` with the named ``channels``.

        Raises:
            AnnotationError: when :meth:`problems` finds anything (missing, unreadable, grayscale
                or wrongly sized images, images without annotation), up to 10 listed.
        """
        self.validate()
        samples = self.samples()
        x = np.empty((len(samples), 3, 28, 28), dtype=np.float32)
        for i, sample in enumerate(samples):
            img = _image_problem(self.image_path(sample))[0]
            x[i] = img[:, :, ::-1].transpose(2, 0, 1) / 255.0  # BGR -> RGB = (u, v, strain)
        flows = FlowSet(
            sample_ids=tuple(s.sample_id for s in samples),
            datasets=tuple(s.dataset for s in samples),
            subjects=tuple(s.subject_id for s in samples),
            labels=np.array([MEGC2019_CLASSES.index(s.emotion) for s in samples]),
            x=x,
            channels=_PNG_CHANNELS,
            class_names=MEGC2019_CLASSES,
        )
        return flows.select_channels(tuple(channels))


def _image_problem(path: Path) -> tuple[np.ndarray | None, str | None]:
    """``(BGR image, None)`` for a sound flow image, else ``(None, what is wrong)``."""
    import cv2

    if not path.is_file():
        return None, f"flow image {path} is missing"
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        return None, f"flow image {path} cannot be read as an image (damaged or not a PNG)"
    channels = 1 if img.ndim == 2 else img.shape[2]
    if channels != 3:
        kind = {1: "grayscale", 2: "grayscale+alpha", 4: "RGBA"}.get(channels, "")
        return None, (
            f"flow image {path} has {channels} channel(s) ({kind}); expected 3 (RGB = u, v, strain)"
        )
    if img.shape != _IMAGE_SHAPE:
        return None, f"flow image {path} is {img.shape[1]}x{img.shape[0]}; expected 28x28"
    if img.dtype != np.uint8:
        return None, f"flow image {path} has {img.dtype} pixels; expected 8-bit (uint8)"
    return img, None
