"""The embedded default data: synthetic flow fields at the model's input size.

No licensed data is needed to see featref work: each sample is a 28x28 (u, v, strain) flow field
in which each class is a distinct local motion pattern at facial landmark positions, with
per-subject variation (face position, scale, motion amplitude), global head motion and noise:

* surprise: both brows move up;
* positive: the lip corners move outwards and up;
* negative: the brows move down and inwards (brow lowerer).

Channels are min-max scaled to [0, 1] per image, as in the published MEGC2019 flow images.
For synthetic *video clips* that go through face alignment and TV-L1, see
``featref.datasets.synthetic``. This module sits in ``preprocess`` because its output is what
preprocessing outputs (a FlowSet with the strain channel of :mod:`featref.preprocess.strain`).
"""

from __future__ import annotations

import numpy as np

from featref.datasets.flowset import FlowSet
from featref.labels import MEGC2019_CLASSES
from featref.preprocess.strain import strain_magnitude

__all__ = ["make_synthetic_flows"]


def _bump(yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, sigma: float) -> np.ndarray:
    return np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))


def make_synthetic_flows(
    *,
    subjects: int = 12,
    clips_per_class: int = 4,
    size: int = 28,
    noise: float = 0.35,
    seed: int = 0,
) -> FlowSet:
    """Generate the synthetic flow dataset.

    Args:
        subjects: Number of subjects (leave-one-subject-out folds).
        clips_per_class: Clips of each class per subject.
        size: Height and width of the flow fields.
        noise: Standard deviation of the per-pixel flow noise, relative to the motion amplitude.
        seed: Random seed; the same seed gives the same data.

    Returns:
        A :class:`FlowSet` with channels ``("u", "v", "strain")`` and the MEGC2019 class names.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    s = size / 28.0
    ids, subj, labels, xs = [], [], [], []
    for si in range(subjects):
        # per-subject identity: face position, face scale, motion amplitude
        cy0, cx0 = size / 2 + rng.normal(0, 1.0 * s, 2)
        scale = rng.uniform(0.9, 1.1) * s
        gain = rng.uniform(0.7, 1.3)
        brows = [(cy0 - 6 * scale, cx0 + dx * scale) for dx in (-5, 5)]
        corners = [(cy0 + 6 * scale, cx0 + dx * scale) for dx in (-5, 5)]
        for label, name in enumerate(MEGC2019_CLASSES):
            for c in range(clips_per_class):
                amp = gain * rng.uniform(0.6, 1.4)
                u = np.zeros((size, size))
                v = np.zeros((size, size))
                sigma = 2.5 * scale
                if name == "surprise":
                    for cy, cx in brows:
                        v -= amp * _bump(yy, xx, cy, cx, sigma)
                elif name == "positive":
                    for (cy, cx), side in zip(corners, (-1, 1)):
                        b = _bump(yy, xx, cy, cx, sigma)
                        u += side * amp * b
                        v -= 0.6 * amp * b
                else:  # negative: brow lowerer
                    for (cy, cx), side in zip(brows, (1, -1)):
                        b = _bump(yy, xx, cy, cx, sigma)
                        u += side * 0.7 * amp * b
                        v += 0.6 * amp * b
                # head motion and sensor noise
                u += rng.normal(0, 0.15) + rng.normal(0, noise * amp, (size, size))
                v += rng.normal(0, 0.15) + rng.normal(0, noise * amp, (size, size))
                flow = np.stack([u, v, strain_magnitude(np.stack([u, v], axis=-1))])
                lo = flow.min(axis=(1, 2), keepdims=True)
                hi = flow.max(axis=(1, 2), keepdims=True)
                xs.append(((flow - lo) / np.maximum(hi - lo, 1e-8)).astype(np.float32))
                ids.append(f"synthetic/s{si + 1:02d}/{name}_{c + 1:02d}")
                subj.append(f"synthetic/s{si + 1:02d}")
                labels.append(label)
    return FlowSet(
        sample_ids=tuple(ids),
        datasets=("synthetic",) * len(ids),
        subjects=tuple(subj),
        labels=np.array(labels),
        x=np.stack(xs),
        channels=("u", "v", "strain"),
        class_names=MEGC2019_CLASSES,
    )
