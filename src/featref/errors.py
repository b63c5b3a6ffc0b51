"""Exception and warning classes of featref.

Every class subclasses the built-in type that fits (as scikit-learn does), so callers can catch
``FileNotFoundError`` or ``ValueError`` without knowing featref. ``featref``'s CLI turns any
:class:`MerError` into a one-line message and exit code 1.
"""

from __future__ import annotations

__all__ = [
    "AnnotationError",
    "AnnotationMismatchError",
    "CacheError",
    "CheckpointError",
    "ClipError",
    "ConfigError",
    "DataQualityWarning",
    "DatasetNotFoundError",
    "FaceNotFoundError",
    "MerError",
    "UndefinedMetricWarning",
]


class MerError(Exception):
    """Base class of every error featref raises on purpose."""


class DatasetNotFoundError(MerError, FileNotFoundError):
    """A database (or one of its required files) is not where it was looked for."""


class AnnotationError(MerError, ValueError):
    """An annotation file or record is malformed."""


class AnnotationMismatchError(AnnotationError):
    """Samples found disagree with an official list (counts or membership)."""


class ConfigError(MerError, ValueError):
    """A configuration value, file or flag is invalid."""


class CacheError(MerError, RuntimeError):
    """A cache or run folder is stale, mixed or corrupt."""


class CheckpointError(MerError, ValueError):
    """A model checkpoint file is missing, corrupt, foreign or of an unsupported format."""


class FaceNotFoundError(MerError, LookupError):
    """No face (or no usable landmarks) was found in a frame."""


class ClipError(MerError, ValueError):
    """A clip is missing, unreadable, empty, or its onset/apex frames are not in it."""


class DataQualityWarning(UserWarning):
    """Suspicious but usable data (apex outside onset-offset, frame gaps, ...)."""


class UndefinedMetricWarning(UserWarning):
    """A metric is ill-defined for the given inputs (e.g. a class never appears)."""
