"""``featref report`` end to end on fake run folders: files, numbers, and the HTML in Chromium."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import warnings

import numpy as np
import pytest

from featref.cli import main
from featref.evaluation import metrics as M

CLASSES = ["negative", "positive", "surprise"]
FIGURES = (
    "confusion_counts",
    "confusion_normalised",
    "subject_accuracy",
    "learning_curves",
    "attention_by_class",
    "feature_embedding",
)
TABLES = (
    "summary",
    "metrics_per_seed",
    "confusion_all",
    "confusion_all_normalised",
    "confusion_per_seed",
    "subject_accuracy",
    "learning_curves",
    "attention_by_class",
    *(f"confusion_{db}{s}" for db in ("casme2", "samm", "smic") for s in ("", "_normalised")),
)


def _read_csv(path):
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def report(tmp_path_factory, fake_run_module):
    """One fake FR run with every optional file (60 samples x 2 seeds), reported via the CLI."""
    run = fake_run_module.write_fake_run(tmp_path_factory.mktemp("fr") / "fr_run")
    assert main(["report", str(run.path)]) == 0
    return run, run.path / "report"


def test_report_writes_every_file(report, capsys):
    run, out = report
    assert (out / "report.html").is_file() and (out / "report.md").is_file()
    for stem in FIGURES:
        for ext in ("png", "pdf"):
            assert (out / "figures" / f"{stem}.{ext}").stat().st_size > 1000, stem
    for stem in TABLES:
        for ext in ("csv", "md"):
            assert (out / "tables" / f"{stem}.{ext}").is_file(), stem
    md = (out / "report.md").read_text()
    assert "figures/confusion_counts.png" in md and "### Scores" in md


def test_report_tables_hold_the_right_numbers(report):
    run, out = report
    rows = run.rows
    yt, yp = [r["y_true"] for r in rows], [r["y_pred"] for r in rows]
    # confusion pooled over folds, summed over seeds
    cm = M.confusion_matrix(yt, yp, labels=CLASSES)
    got = _read_csv(out / "tables" / "confusion_all.csv")
    assert [r["true \\ predicted"] for r in got] == CLASSES
    np.testing.assert_array_equal([[int(r[c]) for c in CLASSES] for r in got], cm)
    got = _read_csv(out / "tables" / "confusion_samm_normalised.csv")
    sel = [r for r in rows if r["dataset"] == "samm"]
    cm = M.confusion_matrix([r["y_true"] for r in sel], [r["y_pred"] for r in sel], labels=CLASSES)
    np.testing.assert_allclose(
        [[float(r[c]) for c in CLASSES] for r in got], cm / cm.sum(1, keepdims=True)
    )
    # summary: mean +- std over seeds of pooled scores
    per_seed = {}
    for seed in run.seeds:
        s = [r for r in rows if r["seed"] == seed and r["dataset"] == "casme2"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            per_seed[seed] = M.uf1(
                [r["y_true"] for r in s], [r["y_pred"] for r in s], labels=CLASSES
            )
    (casme2,) = [r for r in _read_csv(out / "tables" / "summary.csv") if r["scope"] == "casme2"]
    assert float(casme2["uf1_mean"]) == pytest.approx(np.mean(list(per_seed.values())))
    assert float(casme2["uf1_std"]) == pytest.approx(np.std(list(per_seed.values()), ddof=1))
    ps = _read_csv(out / "tables" / "metrics_per_seed.csv")
    (row,) = [r for r in ps if r["seed"] == "1" and r["scope"] == "casme2"]
    assert float(row["uf1"]) == pytest.approx(per_seed[1])
    # per subject
    subj = {r["subject"]: r for r in _read_csv(out / "tables" / "subject_accuracy.csv")}
    assert len(subj) == 12
    accs = [
        M.accuracy(
            [r["y_true"] for r in rows if r["subject"] == "smic/sub02" and r["seed"] == s],
            [r["y_pred"] for r in rows if r["subject"] == "smic/sub02" and r["seed"] == s],
        )
        for s in run.seeds
    ]
    assert float(subj["smic/sub02"]["accuracy_mean"]) == pytest.approx(np.mean(accs))


def test_html_is_self_contained(report):
    _, out = report
    html = (out / "report.html").read_text()
    srcs = re.findall(r'<img src="([^"]+)"', html)
    assert len(srcs) == len(FIGURES)
    assert all(s.startswith("data:image/png;base64,") for s in srcs)
    assert not re.search(r'(src|href)="(https?:|//|file:)', html)
    assert "<script" not in html
    assert "Notes" not in html  # every optional file was there


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if path := shutil.which(name):
            return path
    pytest.skip(
        "Chromium is not installed (apt-get install -y chromium); the HTML render check needs it."
    )


_CHECK_SCRIPT = """<script>
window.addEventListener("load", function () {
  var imgs = document.images, ok = 0;
  for (var i = 0; i < imgs.length; i++) {
    if (imgs[i].complete && imgs[i].naturalWidth > 0) ok++;
  }
  var m = document.createElement("div");
  m.id = "img-check";
  m.setAttribute("data-loaded", ok);
  m.setAttribute("data-total", imgs.length);
  document.body.appendChild(m);
});
</script>"""


def _chromium_run(browser, tmp_path, page, *extra):
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    cmd = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",
        *extra,
        page.as_uri(),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def _loaded_images(browser, tmp_path, html_text):
    page = tmp_path / "check.html"
    page.write_text(html_text.replace("</body>", _CHECK_SCRIPT + "</body>"))
    proc = _chromium_run(browser, tmp_path, page, "--dump-dom")
    m = re.search(r'id="img-check" data-loaded="(\d+)" data-total="(\d+)"', proc.stdout)
    assert m, f"no marker in Chromium's DOM dump; stderr: {proc.stderr[-2000:]}"
    return int(m.group(1)), int(m.group(2))


def test_html_renders_every_image_in_headless_chromium(report, tmp_path):
    browser = _chromium()
    _, out = report
    html = (out / "report.html").read_text()
    loaded, total = _loaded_images(browser, tmp_path, html)
    assert total == len(FIGURES)
    assert loaded == total
    # negative control: the same check notices a broken image
    broken = html.replace("data:image/png;base64,", "data:image/png;base64,AAAA", 1)
    assert _loaded_images(browser, tmp_path, broken) == (total - 1, total)
    shot = out / "screenshot.png"
    proc = _chromium_run(
        browser, tmp_path, out / "report.html", f"--screenshot={shot}", "--window-size=1280,2400"
    )
    assert shot.is_file() and shot.stat().st_size > 50_000, proc.stderr[-2000:]


def test_comparison_of_two_runs(small_run, fake_run_module, tmp_path):
    run_a = small_run  # FR with attention, no features
    run_b = fake_run_module.write_fake_run(
        tmp_path / "di_run",
        datasets=("casme2", "samm"),
        subjects_per_dataset=2,
        model="dual_inception",
        with_attention=False,
        with_features=False,
        random_state=3,
    )
    out = tmp_path / "cmp"
    assert (
        main(["report", str(run_a.path), str(run_b.path), "--output-dir", str(out), "--no-pdf"])
        == 0
    )
    assert (out / "report.html").is_file()
    assert (out / "figures" / "comparison.png").is_file()
    assert not list(out.rglob("*.pdf"))
    for label in ("small", "di_run"):
        assert (out / "runs" / label / "figures" / "confusion_counts.png").is_file()
        assert (out / "runs" / label / "tables" / "summary.csv").is_file()
    assert (out / "runs" / "small" / "figures" / "attention_by_class.png").is_file()
    assert not (out / "runs" / "di_run" / "figures" / "attention_by_class.png").exists()
    comp = {r["run"]: r for r in _read_csv(out / "tables" / "comparison.csv")}
    for label, run in (("small", run_a), ("di_run", run_b)):
        s = json.loads((run.path / "metrics.json").read_text())["summary"]
        assert float(comp[label]["all_uf1_mean"]) == pytest.approx(s["all"]["uf1"]["mean"])
        assert float(comp[label]["samm_uar_std"]) == pytest.approx(
            s["per_database"]["samm"]["uar"]["std"]
        )
    assert comp["di_run"]["model"] == "dual_inception"
    assert comp["di_run"]["smic_uf1_mean"] == ""  # run di_run has no SMIC
    html = (out / "report.html").read_text()
    assert "attention heatmap is skipped" in html and "t-SNE/PCA plots" in html


def test_several_runs_need_output_dir(report, capsys):
    run, _ = report
    assert main(["report", str(run.path), str(run.path)]) == 1
    assert "--output-dir" in capsys.readouterr().err


def test_missing_run_folder_is_one_line_error(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("featref report: error: Run folder") and "nope" in err
    assert "Traceback" not in err
