"""featref: Feature Refinement (FR) micro-expression recognition, evaluated honestly.

Public names: :func:`featref.run` (leave-one-subject-out evaluation of a config or preset),
:func:`featref.load` (a finished run folder), both returning a :class:`featref.Result`
(``featref.api``); :func:`featref.models.create_model`, :func:`featref.models.list_models`,
:func:`featref.config.load_config`, :func:`featref.evaluation.metrics.uf1` and ``uar``,
:class:`featref.evaluation.protocols.LeaveOneSubjectOut`.

``import featref`` stays light (no torch, numpy or OpenCV): the API is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Result", "__version__", "load", "run"]

if TYPE_CHECKING:
    from featref.api import Result, load, run


def __getattr__(name: str) -> Any:
    if name in ("Result", "load", "run"):
        from featref import api

        return getattr(api, name)
    raise AttributeError(f"module 'featref' has no attribute {name!r}")
