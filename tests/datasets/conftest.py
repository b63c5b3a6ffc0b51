"""Fixtures of the dataset tests: the real annotation files (skipped when absent) and the CLI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def real_data_dir() -> Path:
    """``$FEATREF_DATA_DIR``, else ``../shared/data`` next to the repository."""
    env = os.environ.get("FEATREF_DATA_DIR")
    return Path(env) if env else Path(__file__).parents[2] / ".." / "shared" / "data"


def real_file(*candidates: str) -> Path:
    """The first existing file among ``candidates`` (relative to the real data folder); skips the
    test with the paths tried when none exists."""
    root = real_data_dir().resolve()
    for rel in candidates:
        if (root / rel).is_file():
            return root / rel
    pytest.skip(
        f"real data not found: none of {[str(root / c) for c in candidates]} exists "
        "(set FEATREF_DATA_DIR to the folder holding the annotations)"
    )


@pytest.fixture
def run_cli(monkeypatch):
    """``featref.cli.main`` with only the ``data`` subcommands registered (keeps these tests
    independent of the other subcommands' modules)."""
    import featref.cli as cli

    monkeypatch.setattr(cli, "COMMAND_MODULES", ("data",))
    return cli.main
