"""featref: Feature Refinement (FR) micro-expression recognition, evaluated honestly.

Public names: :func:`featref.models.create_model`, :func:`featref.models.list_models`,
:func:`featref.config.load_config`, :func:`featref.evaluation.metrics.uf1` and ``uar``,
:class:`featref.evaluation.protocols.LeaveOneSubjectOut`.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
