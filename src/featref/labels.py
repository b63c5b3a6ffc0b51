"""Class vocabularies and the tables that map database emotions onto them.

Readers return each database's own emotion labels; the mapping to a task's classes lives here, as
data, so one reader serves every protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from featref.errors import ConfigError

__all__ = [
    "LABEL_TABLES",
    "MEGC2019_CLASSES",
    "MEGC2019_EMOTION_MAP",
    "LabelTable",
    "label_table",
    "megc2019_class",
]

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


@dataclass(frozen=True)
class LabelTable:
    """A single-database task's classes and the map from the database's emotions onto them.

    Attributes:
        name: The table's name (``featref prepare --label-scheme <name>``).
        dataset: The reader the table applies to (``"casme2"`` ...).
        classes: Class names in label order (label ``i`` is ``classes[i]``).
        emotion_map: Database emotion (lower-case) -> class; emotions not listed are left out.
        rule: Where the table comes from and what it leaves out.
    """

    name: str
    dataset: str
    classes: tuple[str, ...]
    emotion_map: Mapping[str, str]
    rule: str

    def label(self, emotion: str) -> str | None:
        """The class of a database ``emotion``, or ``None`` when the task leaves it out."""
        return self.emotion_map.get(emotion.strip().lower())


def _table(name: str, dataset: str, classes: tuple[str, ...], m: dict, rule: str) -> LabelTable:
    assert set(m.values()) == set(classes), name
    return LabelTable(name, dataset, classes, MappingProxyType(m), rule)


_IDENTITY = lambda names: {c: c for c in names}  # noqa: E731

#: The single-database label tables, by name. Counts are those of the real annotation files
#: (checked by ``tests/test_labels_real.py``).
LABEL_TABLES: Mapping[str, LabelTable] = MappingProxyType(
    {
        t.name: t
        for t in (
            _table(
                "casme2_5",
                "casme2",
                ("happiness", "disgust", "repression", "surprise", "others"),
                _IDENTITY(("happiness", "disgust", "repression", "surprise", "others")),
                "CASME II 5-class (2014 coding, CASME2-coding-20140508.xlsx): the five emotions "
                "with enough clips; fear (2) and sadness (7) are left out: 246 clips, 26 subjects "
                "[recollection: the usual single-database CASME II protocol].",
            ),
            _table(
                "samm_5",
                "samm",
                ("anger", "contempt", "happiness", "surprise", "other"),
                _IDENTITY(("anger", "contempt", "happiness", "surprise", "other")),
                "SAMM 5-class (SAMM_Micro_FACS_Codes_v2.xlsx): the estimated emotions with at "
                "least 10 clips; disgust (9), fear (8) and sadness (6) are left out: 136 clips "
                "[recollection: the usual single-database SAMM protocol].",
            ),
            _table(
                "smic_3",
                "smic",
                ("negative", "positive", "surprise"),
                _IDENTITY(("negative", "positive", "surprise")),
                "SMIC-HS 3-class: the folder labels as they are: 164 clips, 16 subjects.",
            ),
            _table(
                "casme3_3",
                "casme3",
                MEGC2019_CLASSES,
                {
                    "disgust": "negative",
                    "fear": "negative",
                    "anger": "negative",
                    "sad": "negative",
                    "happy": "positive",
                    "surprise": "surprise",
                },
                "CAS(ME)^3 part A 3-class: the annotation's label_for_3 column "
                "(0 negative, 1 positive, 2 surprise) of cas(me)3_part_A_edited.csv, as a map "
                "of its emotion column: 687 clips.",
            ),
            _table(
                "casme3_7",
                "casme3",
                ("happy", "surprise", "sad", "disgust", "fear", "anger"),
                _IDENTITY(("happy", "surprise", "sad", "disgust", "fear", "anger")),
                "CAS(ME)^3 part A 7-class: the annotation's label_for_7 column (1 happy, "
                "2 surprise, 3 sad, 4 disgust, 5 fear, 6 anger) of cas(me)3_part_A_edited.csv; "
                "its label 0 ('others' [inferred]) occurs in no clip of the edited file, so the "
                "task has the six classes present, in label_for_7 order: 687 clips.",
            ),
        )
    }
)


def label_table(name: str) -> LabelTable:
    """The :data:`LABEL_TABLES` entry ``name``.

    Raises:
        ConfigError: for an unknown name (the message lists the known ones).
    """
    try:
        return LABEL_TABLES[name]
    except KeyError:
        raise ConfigError(
            f"Unknown label table {name!r}. Known: {sorted(LABEL_TABLES)} (or 'megc2019')."
        ) from None
