"""Evaluation protocols as splitter objects (like scikit-learn's ``LeaveOneGroupOut``), and
:func:`protocol_folds`, the one place a run turns its ``[data] protocol`` into folds.

Protocols (``docs/protocols.md``):

* ``"loso"``: leave one subject out over every sample of the data (:class:`LeaveOneSubjectOut`);
* ``"cross:<source>[+<source>]-><target>"``: cross-database, one fold that trains on every sample
  of the source databases and tests on every sample of the target (:class:`CrossDatabase`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from featref.config import DataConfig, ExperimentConfig, parse_protocol
from featref.errors import ConfigError

if TYPE_CHECKING:
    from featref.datasets.flowset import FlowSet

__all__ = ["CrossDatabase", "Fold", "LeaveOneSubjectOut", "protocol_folds"]


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


@dataclass(frozen=True)
class CrossDatabase:
    """Cross-database: train on every sample of ``sources``, test on every sample of ``target``.

    One fold (index 0) whose ``test_subject`` is the target database's name; samples of other
    databases are in neither side. Training never sees a target sample.
    """

    sources: tuple[str, ...]
    target: str

    def split(self, sample_ids: Sequence[str], datasets: Sequence[str]) -> Iterator[Fold]:
        """Yield the one fold.

        Args:
            sample_ids: One id per sample.
            datasets: The database of each sample.

        Raises:
            ConfigError: when the target is a source, or a source or the target has no sample.
        """
        if len(sample_ids) != len(datasets):
            raise ConfigError(
                f"sample_ids and datasets differ in length ({len(sample_ids)} vs {len(datasets)})."
            )
        if self.target in self.sources or len(set(self.sources)) != len(self.sources):
            raise ConfigError(
                f"Cross-database sources {list(self.sources)} must be distinct and exclude the "
                f"target {self.target!r}."
            )
        present = sorted(set(datasets))
        absent = [d for d in (*self.sources, self.target) if d not in present]
        if absent:
            raise ConfigError(
                f"Cross-database protocol {list(self.sources)} -> {self.target!r}: the data hold "
                f"no sample of {absent}; they have {present}. Load data that include them (no "
                "`databases` restriction that leaves them out)."
            )
        yield Fold(
            index=0,
            test_subject=self.target,
            train_ids=tuple(s for s, d in zip(sample_ids, datasets) if d in self.sources),
            test_ids=tuple(s for s, d in zip(sample_ids, datasets) if d == self.target),
        )

    def get_n_splits(self, datasets: Sequence[str] = ()) -> int:
        """Number of folds: one."""
        return 1


def protocol_folds(cfg: ExperimentConfig | DataConfig, flows: FlowSet) -> list[Fold]:
    """The folds of the run's ``[data] protocol`` over ``flows``, in their fixed order.

    Args:
        cfg: The run's configuration (or its ``[data]`` section).
        flows: The run's data.

    Raises:
        ConfigError: for a malformed protocol, or databases the data do not hold.
    """
    data = cfg.data if isinstance(cfg, ExperimentConfig) else cfg
    cross = parse_protocol(data.protocol)
    if cross is None:
        return list(LeaveOneSubjectOut().split(flows.sample_ids, flows.subjects))
    return list(CrossDatabase(*cross).split(flows.sample_ids, flows.datasets))
