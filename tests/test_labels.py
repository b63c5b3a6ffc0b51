"""The label tables themselves (no data)."""

from __future__ import annotations

import pytest

from featref.errors import ConfigError
from featref.labels import LABEL_TABLES, label_table


def test_every_table_maps_onto_its_classes():
    for name, t in LABEL_TABLES.items():
        assert t.name == name
        assert set(t.emotion_map.values()) == set(t.classes)
        assert len(set(t.classes)) == len(t.classes)
        assert t.rule


def test_label_is_case_insensitive_and_excludes_unlisted():
    t = label_table("samm_5")
    assert t.label(" Anger ") == "anger"
    assert t.label("Disgust") is None


def test_unknown_table_is_a_config_error():
    with pytest.raises(ConfigError, match="casme2_5"):
        label_table("casme2_9")
