"""Class vocabularies and the tables that map database emotions onto them.

Readers return each database's own emotion labels; the mapping to a task's classes lives here, as
data, so one reader serves every protocol.
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = ["MEGC2019_CLASSES", "MEGC2019_EMOTION_MAP", "megc2019_class"]

#: Class names of the MEGC2019 composite, in the official label order (0, 1, 2).
MEGC2019_CLASSES: tuple[str, ...] = ("negative", "positive", "surprise")

#: Database emotion (lower-case) -> MEGC2019 class. Emotions not listed are excluded from the
#: composite (e.g. CASME II "others", "fear", "sadness"; SAMM "other"). Source: MEGC2019 guideline.
MEGC2019_EMOTION_MAP = MappingProxyType(
    {
        # CASME II
        "disgust": "negative",
        "repression": "negative",
        "happiness": "positive",
        "surprise": "surprise",
        # SAMM (disgust, happiness, surprise as above)
        "anger": "negative",
        "contempt": "negative",
        "fear": "negative",
        "sadness": "negative",
        # SMIC (folder names)
        "negative": "negative",
        "positive": "positive",
    }
)


def megc2019_class(dataset: str, emotion: str) -> str | None:
    """Map a database emotion to its MEGC2019 class, or ``None`` when excluded.

    CASME II's fear and sadness are excluded by the MEGC2019 guideline (too few, ambiguous), while
    SAMM's are negative; this is the one per-database rule of the table.

    Args:
        dataset: Reader name (``"casme2"``, ``"samm"``, ``"smic"``).
        emotion: The database's own emotion label.

    Returns:
        ``"negative"``, ``"positive"``, ``"surprise"`` or ``None``.
    """
    key = emotion.strip().lower()
    if dataset == "casme2" and key in ("fear", "sadness"):
        return None
    return MEGC2019_EMOTION_MAP.get(key)
