"""The Python API: featref.run / featref.load / Result."""

from __future__ import annotations

import subprocess
import sys

import pytest

import featref
import featref.preprocess.sources as sources
from featref.errors import ConfigError
from featref.preprocess.synthetic_flow import make_synthetic_flows


@pytest.fixture()
def small_synthetic(monkeypatch):
    monkeypatch.setattr(
        sources, "_synthetic", lambda: make_synthetic_flows(subjects=3, clips_per_class=2)
    )


def test_import_featref_is_light():
    code = "import sys, featref; featref.__version__; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_run_then_load_then_report(small_synthetic, tmp_path):
    result = featref.run(
        model="featref", epochs=1, seeds=(0,), batch_size=8, output_dir=tmp_path / "r"
    )
    assert isinstance(result, featref.Result)
    assert 0.0 <= result.uf1 <= 1.0 and 0.0 <= result.uar <= 1.0
    assert len(result.predictions) == 18  # 3 subjects x 3 classes x 2 clips, one seed
    row = result.predictions[0]
    assert {"sample_id", "subject", "y_true", "y_pred", "seed", "fold"} <= set(row)
    again = featref.load(tmp_path / "r")
    assert again.metrics == result.metrics and again.predictions == result.predictions
    html = result.report(tmp_path / "report")
    assert html.is_file() and html.suffix == ".html"


def test_run_rejects_unknown_and_bad_overrides():
    with pytest.raises(ConfigError, match="`epoch` is not a setting"):
        featref.run(epoch=3)
    with pytest.raises(ConfigError, match="takes a dict"):
        featref.run(train=3)


def test_load_missing_folder_names_it(tmp_path):
    with pytest.raises(featref.errors.CacheError, match="does not exist"):
        featref.load(tmp_path / "nope")


def test_readme_python_example_runs(tmp_path, monkeypatch):
    """The README's "From Python" block is a doctest; it runs as written."""
    import doctest
    import re
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme.split("## From Python (notebooks)", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    test = doctest.DocTestParser().get_doctest(block, {"tmp": tmp_path}, "README", "README.md", 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
