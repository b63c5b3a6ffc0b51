"""The MEGC2019 composite as published flow images (CASME II + SAMM + SMIC-HS, 3 classes).

The public copy holds one 28x28 RGB PNG per sample, TV-L1 flow from onset to apex with channels
R = u (horizontal), G = v (vertical), B = optical strain, each min-max scaled to 0-255 per image;
file names are ``<subject>_<clip> .png`` (with a space before ``.png``). This reader joins them to
the official ground truth and checks the composite against the official counts.
"""

from __future__ import annotations

import csv
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

from featref.datasets.base import ManualDataset, Sample
from featref.datasets.flowset import FlowSet
from featref.errors import (
    AnnotationError,
    AnnotationMismatchError,
    DataQualityWarning,
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
        rows = list(csv.reader(path.read_text().splitlines()))
        if rows and rows[0][:2] == ["dataset", "sub"]:  # the 442-row CSV with a header
            head = rows[0]
            rows = [
                [r[head.index(k)] for k in ("dataset", "sub", "filename_o", "label")]
                for r in rows[1:]
            ]
        samples = []
        for line, row in enumerate(rows, start=1):
            if not row:
                continue
            if len(row) < 4 or not row[3].strip().isdigit() or int(row[3]) >= len(MEGC2019_CLASSES):
                raise AnnotationError(
                    f"{path}, line {line}: expected 'dataset,subject,clip,label' with label 0-2. "
                    f"Got {row!r}."
                )
            dataset, subject, clip, label = (v.strip() for v in row[:4])
            if dataset == "samm":
                subject = subject.zfill(3)  # the official file writes SAMM subject 006 as 6
            samples.append(
                Sample(dataset, subject, clip, MEGC2019_CLASSES[int(label)], None, None, None, None)
            )
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

    def validate(self) -> list[str]:
        """Check that every annotated sample has a readable 28x28 flow image; warn per problem.

        Returns:
            The problems found (each also a :class:`DataQualityWarning` naming the sample id).
        """
        import cv2

        problems = []
        for sample in self.samples():
            path = self.image_path(sample)
            img = cv2.imread(str(path)) if path.is_file() else None
            if img is None or img.shape != (28, 28, 3):
                problems.append(f"{sample.sample_id}: flow image {path} is missing or unreadable.")
        for msg in problems:
            warnings.warn(msg, DataQualityWarning, stacklevel=2)
        return problems

    def image_path(self, sample: Sample) -> Path:
        """The flow image of ``sample`` (the public copy's name has a space before ``.png``)."""
        for name in (f"{sample.subject}_{sample.clip} .png", f"{sample.subject}_{sample.clip}.png"):
            if (self.image_dir / name).is_file():
                return self.image_dir / name
        return self.image_dir / f"{sample.subject}_{sample.clip} .png"

    def load(self, channels: tuple[str, ...] = _PNG_CHANNELS) -> FlowSet:
        """Read every flow image into a :class:`FlowSet` with the named ``channels``.

        Raises:
            AnnotationMismatchError: when images are missing for annotated samples, or images
                exist that no annotation names (up to 10 of each are listed).
        """
        import cv2

        samples = self.samples()
        paths = [self.image_path(s) for s in samples]
        missing = [s.sample_id for s, p in zip(samples, paths) if not p.is_file()]
        known = {p.name for p in paths}
        extra = sorted(p.name for p in self.image_dir.glob("*.png") if p.name not in known)
        if missing or extra:
            raise AnnotationMismatchError(
                f"Flow images in {self.image_dir} do not match {self.root / self.annotation}: "
                f"{len(missing)} annotated samples have no image (first: {missing[:10]}), "
                f"{len(extra)} images have no annotation (first: {extra[:10]})."
            )
        x = np.empty((len(samples), 3, 28, 28), dtype=np.float32)
        for i, p in enumerate(paths):
            img = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if img is None or img.shape != (28, 28, 3):
                raise AnnotationError(
                    f"{p} is not a readable 28x28 RGB image (got "
                    f"{None if img is None else img.shape}); restore it from the original copy."
                )
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
