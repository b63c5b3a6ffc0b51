"""Fixtures of the report tests: fake run folders written by ``fake_run.py``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest


def _load_fake_run():
    name = "featref_tests_fake_run"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("fake_run.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses need the module registered
        spec.loader.exec_module(module)
    return sys.modules[name]


fake_run = _load_fake_run()


@pytest.fixture(scope="session")
def fake_run_module():
    """The ``fake_run.py`` helper module."""
    return fake_run


@pytest.fixture
def write_fake_run():
    """The ``write_fake_run(path, **options)`` function of ``fake_run.py``."""
    return fake_run.write_fake_run


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """A fake run without features (fast: no t-SNE), 3 databases, 2 seeds."""
    return fake_run.write_fake_run(
        tmp_path_factory.mktemp("runs") / "small",
        subjects_per_dataset=3,
        samples_per_subject=4,
        with_features=False,
    )
