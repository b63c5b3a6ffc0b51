"""Load the flow data a run's ``[data]`` section names, as one :class:`FlowSet`.

The dispatcher over the flow sources sits here, in ``preprocess``, above the database readers:
it chooses among a reader of published flow images (``datasets.megc2019``), the reader of
prepared folders (:func:`featref.preprocess.cache.load_prepared`) and the embedded synthetic
flow (:mod:`featref.preprocess.synthetic_flow`), so it must import both stages and may only
live in the higher one. Training, evaluation and the CLI call it.
"""

from __future__ import annotations

from featref.config import DataConfig
from featref.datasets.base import resolve_root
from featref.datasets.flowset import FlowSet
from featref.errors import ConfigError

__all__ = ["load_flows"]


def load_flows(cfg: DataConfig) -> FlowSet:
    """The FlowSet of ``cfg.source`` with ``cfg.channels`` and ``cfg.databases`` applied.

    Sources: ``synthetic`` (embedded default, no files), ``megc2019`` (published composite flow
    images under ``data_dir`` or ``$FEATREF_DATA_DIR/megc2019``), ``prepared`` (a folder written by
    ``featref prepare``).
    """
    if cfg.source == "synthetic":
        flows = _synthetic()
    elif cfg.source == "megc2019":
        from featref.datasets.megc2019 import Megc2019Flow

        flows = Megc2019Flow(resolve_root("megc2019", cfg.data_dir)).load()
    elif cfg.source == "prepared":
        if cfg.data_dir is None:
            raise ConfigError(
                "source 'prepared' needs --data-dir: the folder `featref prepare` printed."
            )
        from featref.preprocess.cache import load_prepared

        flows = load_prepared(cfg.data_dir)
    else:  # DataConfig validates, this is for type checkers
        raise ConfigError(f"Unknown data source {cfg.source!r}.")
    return flows.select_databases(cfg.databases).select_channels(cfg.channels)


def _synthetic() -> FlowSet:
    from featref.preprocess.synthetic_flow import make_synthetic_flows

    return make_synthetic_flows()
