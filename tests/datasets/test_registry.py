from __future__ import annotations

from pathlib import Path

import pytest

from featref.datasets import (
    DATASETS,
    Casme2,
    Megc2019Composite,
    dataset_root,
    get_dataset,
    render_datasets_doc,
)
from featref.errors import ConfigError, DatasetNotFoundError

DOC = Path(__file__).parents[2] / "docs" / "datasets.md"


def test_registry_names_and_metadata():
    assert list(DATASETS) == ["casme2", "samm", "smic", "casme3", "megc2019", "megc2019_flow"]
    for name, cls in DATASETS.items():
        assert cls.name == name
        assert cls.title and cls.homepage.startswith("http") and cls.MANUAL_DOWNLOAD_INSTRUCTIONS
        assert "doi:10." in cls.citation, name


def test_get_dataset_suggests_the_closest_name(tmp_path):
    assert isinstance(get_dataset("casme2", tmp_path), Casme2)
    with pytest.raises(ConfigError, match=r"Unknown dataset 'casme22'\. Did you mean 'casme2'\?"):
        get_dataset("casme22", tmp_path)
    with pytest.raises(ConfigError, match="Invalid options"):
        get_dataset("samm", tmp_path, coding="2019")


def test_data_root_order(tmp_path, monkeypatch):
    monkeypatch.setenv("FEATREF_DATA_DIR", str(tmp_path))
    assert get_dataset("samm").root == tmp_path.resolve() / "samm"
    assert get_dataset("samm", tmp_path / "x").root == tmp_path.resolve() / "x"
    composite = get_dataset("megc2019")
    assert isinstance(composite, Megc2019Composite)
    assert composite.root == tmp_path.resolve()
    assert composite.readers["smic"].root == tmp_path.resolve() / "smic"
    monkeypatch.delenv("FEATREF_DATA_DIR")
    with pytest.raises(DatasetNotFoundError, match="pass --data-dir"):
        dataset_root("megc2019")
    with pytest.raises(DatasetNotFoundError, match="pass --data-dir"):
        get_dataset("casme2")


def test_docs_datasets_md_is_in_sync_with_the_code():
    assert DOC.read_text() == render_datasets_doc(), (
        "docs/datasets.md is out of date: regenerate it with "
        "`featref list-datasets --markdown > docs/datasets.md`"
    )
    for cls in DATASETS.values():
        assert cls.MANUAL_DOWNLOAD_INSTRUCTIONS.strip() in DOC.read_text()
