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


# ----------------------------------------------------------------------------- named protocols


@dataclass(frozen=True)
class ProtocolPreset:
    """A shipped preset (``featref/configs/<name>.toml``) that is an evaluation protocol.

    Attributes:
        name: The preset's name (``featref run --config <name>``).
        title: One line: what is trained on and what is tested.
        reader: The database the preset's data come from: ``"megc2019_flow"`` (the published
            composite flow images) or a reader name (``"casme2"`` ...), prepared with
            ``label_scheme``.
        label_scheme: ``featref prepare --label-scheme`` of a prepared preset (else ``None``).
        metrics: The metrics the literature of this protocol reports (all are in metrics.json).
    """

    name: str
    title: str
    reader: str
    label_scheme: str | None = None
    metrics: tuple[str, ...] = ("uf1", "uar")

    @property
    def prepare_command(self) -> str | None:
        """How to make this preset's data from the raw clips, or ``None`` for the composite."""
        if self.label_scheme is None:
            return None
        return (
            f"featref prepare {self.reader} --data-dir <root of {self.reader}> "
            f"--label-scheme {self.label_scheme}"
        )


_COMPOSITE = ("casme2", "samm", "smic")
_TITLES = {"casme2": "CASME II", "samm": "SAMM", "smic": "SMIC-HS", "casme3": "CAS(ME)^3 A"}


def _protocol_presets() -> dict[str, ProtocolPreset]:
    out: list[ProtocolPreset] = []
    for db in _COMPOSITE:
        out.append(
            ProtocolPreset(
                f"megc2019_{db}_only",
                f"{_TITLES[db]} alone, 3 classes, LOSO, from the composite flow images",
                "megc2019_flow",
            )
        )
    for target in _COMPOSITE:
        sources = tuple(d for d in _COMPOSITE if d != target)
        out.append(
            ProtocolPreset(
                f"megc2019_cross_{'+'.join(sources)}_to_{target}",
                f"hold {_TITLES[target]} out: train on "
                f"{' + '.join(_TITLES[d] for d in sources)}, test on {_TITLES[target]} (3 classes)",
                "megc2019_flow",
            )
        )
    for source in _COMPOSITE:
        for target in _COMPOSITE:
            if source != target:
                out.append(
                    ProtocolPreset(
                        f"megc2019_cross_{source}_to_{target}",
                        f"train on {_TITLES[source]}, test on {_TITLES[target]} (3 classes)",
                        "megc2019_flow",
                    )
                )
    single = ("uf1", "uar", "accuracy", "weighted_f1")
    out += [
        ProtocolPreset(
            "casme2_5class",
            "CASME II 5 classes (2014 coding, 246 clips, 26 subjects), LOSO, prepared clips",
            "casme2",
            "casme2_5",
            single,
        ),
        ProtocolPreset(
            "samm_5class",
            "SAMM 5 classes (emotions with >= 10 clips, 136 clips), LOSO, prepared clips",
            "samm",
            "samm_5",
            single,
        ),
        ProtocolPreset(
            "smic_3class",
            "SMIC-HS 3 classes (164 clips, 16 subjects), LOSO, prepared clips",
            "smic",
            "smic_3",
            single,
        ),
        ProtocolPreset(
            "casme3_3class",
            "CAS(ME)^3 part A 3 classes (label_for_3, 687 clips), LOSO, prepared clips",
            "casme3",
            "casme3_3",
            single,
        ),
        ProtocolPreset(
            "casme3_7class",
            "CAS(ME)^3 part A label_for_7 (6 classes present, 687 clips), LOSO, prepared clips",
            "casme3",
            "casme3_7",
            single,
        ),
    ]
    return {p.name: p for p in out}


#: The shipped presets that are evaluation protocols, by name, in listing order.
PROTOCOL_PRESETS: dict[str, ProtocolPreset] = _protocol_presets()


def missing_data_message(name: str, data_dir: str | None, exc: Exception) -> str:
    """The message of a protocol preset ``name`` whose data are missing: the preset, the path,
    what to request (the reader's ``MANUAL_DOWNLOAD_INSTRUCTIONS``) and how to prepare it.

    Args:
        name: A :data:`PROTOCOL_PRESETS` name.
        data_dir: The data folder the run was given (``None``: none given).
        exc: The error of the data loader (its message names the paths tried).
    """
    from featref.datasets import DATASETS

    preset = PROTOCOL_PRESETS[name]
    reader = DATASETS[preset.reader]
    where = data_dir if data_dir is not None else "(no --data-dir given)"
    lines = [
        f"Protocol preset {name!r} ({preset.title}) needs the {reader.title} data at {where}, "
        f"which could not be loaded: {exc}",
        "",
    ]
    if preset.prepare_command is not None:
        lines += [
            "Prepare the clips first, then pass the printed folder:",
            f"  {preset.prepare_command}",
            f"  featref run --config {name} --data-dir <the printed folder>",
            "",
        ]
    lines += [f"What to request and place ({reader.title}):", reader.MANUAL_DOWNLOAD_INSTRUCTIONS]
    return "\n".join(lines)
