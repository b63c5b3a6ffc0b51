"""Evaluation protocols as splitter objects (like scikit-learn's ``LeaveOneGroupOut``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from featref.errors import ConfigError

__all__ = ["Fold", "LeaveOneSubjectOut"]


@dataclass(frozen=True)
class Fold:
    """One fold: its index, the held-out subject, and the sample ids on each side."""

    index: int
    test_subject: str
    train_ids: tuple[str, ...]
    test_ids: tuple[str, ...]


class LeaveOneSubjectOut:
    """Leave-one-subject-out: one fold per subject, that subject's samples form the test set.

    Folds are ordered by the namespaced subject name, sorted as strings (``casme2/sub01`` ...
    ``samm/006`` ... ``smic/s01`` ...); the order is part of the protocol because each fold's seed
    derives from its index.
    """

    def split(self, sample_ids: Sequence[str], subjects: Sequence[str]) -> Iterator[Fold]:
        """Yield the folds.

        Args:
            sample_ids: One id per sample.
            subjects: The namespaced subject of each sample.

        Raises:
            ConfigError: with fewer than two subjects or mismatched lengths.
        """
        if len(sample_ids) != len(subjects):
            raise ConfigError(
                f"sample_ids and subjects differ in length ({len(sample_ids)} vs {len(subjects)})."
            )
        order = sorted(set(subjects))
        if len(order) < 2:
            raise ConfigError(f"Leave-one-subject-out needs at least two subjects. Got {order}.")
        for i, subject in enumerate(order):
            yield Fold(
                index=i,
                test_subject=subject,
                train_ids=tuple(s for s, g in zip(sample_ids, subjects) if g != subject),
                test_ids=tuple(s for s, g in zip(sample_ids, subjects) if g == subject),
            )

    def get_n_splits(self, subjects: Sequence[str]) -> int:
        """Number of folds: the number of distinct subjects."""
        return len(set(subjects))
