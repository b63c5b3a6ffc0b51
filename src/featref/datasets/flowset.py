"""``FlowSet``: flow inputs of many samples, keyed by ``sample_id``.

Every source of model input (the published MEGC2019 flow images, the embedded synthetic default,
a prepared cache) hands the training stage one ``FlowSet``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from featref.errors import AnnotationError, ConfigError

__all__ = ["FlowSet"]


@dataclass(frozen=True, eq=False)
class FlowSet:
    """Columnar records: one row per sample, flow ``x`` of shape (N, C, H, W), float32 in [0, 1].

    ``subjects`` are namespaced by database (``"samm/006"``); ``labels`` index ``class_names``.
    """

    sample_ids: tuple[str, ...]
    datasets: tuple[str, ...]
    subjects: tuple[str, ...]
    labels: np.ndarray
    x: np.ndarray
    channels: tuple[str, ...]
    class_names: tuple[str, ...]

    def __post_init__(self) -> None:
        n = len(self.sample_ids)
        sizes = {len(self.datasets), len(self.subjects), len(self.labels), len(self.x)}
        if sizes != {n}:
            raise ValueError(f"FlowSet columns differ in length: {sorted(sizes)} vs {n} ids.")
        if len(set(self.sample_ids)) != n:
            dup = [k for k, v in Counter(self.sample_ids).items() if v > 1][:10]
            raise AnnotationError(
                f"The data has duplicate sample ids, e.g. {dup}: each sample must appear once. "
                "Fix the annotation (or the prepared folder) that lists them twice."
            )
        if self.x.ndim != 4 or self.x.shape[1] != len(self.channels):
            raise ValueError(
                f"FlowSet.x must be (N, {len(self.channels)}, H, W) for channels "
                f"{self.channels}. Got {self.x.shape}."
            )

    def __len__(self) -> int:
        return len(self.sample_ids)

    def take(self, index: np.ndarray) -> FlowSet:
        """The rows at ``index`` (integer indices or a boolean mask)."""
        idx = np.flatnonzero(index) if np.asarray(index).dtype == bool else np.asarray(index)
        return FlowSet(
            sample_ids=tuple(self.sample_ids[i] for i in idx),
            datasets=tuple(self.datasets[i] for i in idx),
            subjects=tuple(self.subjects[i] for i in idx),
            labels=self.labels[idx],
            x=self.x[idx],
            channels=self.channels,
            class_names=self.class_names,
        )

    def select_channels(self, channels: tuple[str, ...]) -> FlowSet:
        """The same samples with only ``channels``, in that order."""
        missing = [c for c in channels if c not in self.channels]
        if missing:
            raise ConfigError(
                f"Channels {missing} are not in this data, which has {list(self.channels)}."
            )
        order = [self.channels.index(c) for c in channels]
        return FlowSet(
            self.sample_ids,
            self.datasets,
            self.subjects,
            self.labels,
            np.ascontiguousarray(self.x[:, order]),
            tuple(channels),
            self.class_names,
        )

    def select_databases(self, databases: tuple[str, ...]) -> FlowSet:
        """Only the samples of ``databases`` (all when empty)."""
        if not databases:
            return self
        unknown = sorted(set(databases) - set(self.datasets))
        if unknown:
            raise ConfigError(
                f"Databases {unknown} are not in this data, which has {sorted(set(self.datasets))}."
            )
        return self.take(np.array([d in databases for d in self.datasets]))
