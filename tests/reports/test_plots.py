"""Plot functions: take data and an optional ``ax=``, return the figure, label everything."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from featref.reports import plots, tables
from featref.reports.runs import load_run

CLASSES = ["negative", "positive", "surprise"]


def _labels(ax):
    return ax.get_xlabel(), ax.get_ylabel()


def test_confusion_matrix_on_given_axes():
    fig = Figure()
    ax = fig.add_subplot()
    cm = np.array([[5, 1, 0], [2, 3, 1], [0, 0, 4]])
    out = plots.plot_confusion_matrix(cm, CLASSES, normalised=True, ax=ax)
    assert out is fig
    assert _labels(ax) == ("predicted class", "true class")
    assert [t.get_text() for t in ax.get_xticklabels()] == CLASSES
    texts = [t.get_text() for t in ax.texts]
    assert texts[:3] == ["0.83", "0.17", "0.00"]
    assert ax.images[0].get_cmap().name == plots.HEATMAP_CMAP


def test_confusion_grid_is_two_by_two_for_the_composite():
    cm = np.eye(3, dtype=int)
    fig = plots.plot_confusion_grid({s: cm for s in ("all", "casme2", "samm", "smic")}, CLASSES)
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 4
    assert panels[0].get_title() == "all databases (n=3)"


def test_subject_accuracy_bars_grouped_and_coloured_by_database(small_run):
    rows = tables.subject_accuracy(load_run(small_run.path).predictions)
    fig = plots.plot_subject_accuracy(rows)
    (ax,) = [a for a in fig.axes if a.patches]
    assert isinstance(fig, Figure)
    assert "accuracy" in ax.get_ylabel() and "subject" in ax.get_xlabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["casme2", "samm", "smic"]
    colours = [to_hex(p.get_facecolor()) for p in ax.patches]
    assert colours[0] == plots.OKABE_ITO[0].lower() and colours[-1] == plots.OKABE_ITO[2].lower()
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, [r.mean for r in rows])
    # a gap separates databases
    xs = [p.get_x() for p in ax.patches]
    assert xs[3] - xs[2] == pytest.approx(2.0)


def test_learning_curves_and_attention(small_run):
    run = load_run(small_run.path)
    fig = plots.plot_learning_curves(tables.learning_curves(run.log))
    ax = fig.axes[0]
    assert _labels(ax) == ("epoch", "training loss (mean over folds)")
    assert len(ax.lines) == 2
    mean, _ = tables.attention_by_class(run.predictions, CLASSES)
    fig = plots.plot_attention_heatmap(mean, CLASSES, CLASSES)
    ax = fig.axes[0]
    assert _labels(ax) == ("proposal branch", "true class")
    assert [t.get_text() for t in ax.get_yticklabels()] == CLASSES


def test_embed_2d_uses_pca_when_small():
    x = np.random.default_rng(0).normal(size=(12, 30))
    pts, how = plots.embed_2d(x)
    assert pts.shape == (12, 2) and how.startswith("PCA")


def test_embed_2d_tsne_on_60_points():
    pytest.importorskip("sklearn", reason="t-SNE needs scikit-learn")
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 20)
    x = rng.normal(size=(60, 80)) + 6 * np.eye(3)[y] @ rng.normal(size=(3, 80))
    pts, how = plots.embed_2d(x)
    assert pts.shape == (60, 2) and how.startswith("t-SNE")
    fig = plots.plot_embedding(pts, y, CLASSES, title="t", method=how)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == [f"{c} (n=20)" for c in CLASSES]
    assert fig.axes[0].get_xlabel() == "t-SNE 1"


def test_embed_2d_falls_back_to_pca_without_sklearn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.manifold", None)  # import raises ImportError
    x = np.random.default_rng(1).normal(size=(40, 5))
    pts, how = plots.embed_2d(x)
    assert pts.shape == (40, 2) and how.startswith("PCA")
    with pytest.raises(ImportError):
        plots.embed_2d(x, method="tsne")


def test_pca_matches_covariance_eigenvectors():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(50, 4)) * [5.0, 2.0, 1.0, 0.1]
    pts, how = plots.embed_2d(x, method="pca")
    # first axis carries the variance of the widest feature
    assert np.var(pts[:, 0]) == pytest.approx(np.linalg.eigvalsh(np.cov(x.T, bias=True))[-1])
    assert "variance" in how


def test_comparison_plot():
    means = {
        "uf1": np.array([[0.7, 0.6], [0.5, np.nan]]),
        "uar": np.array([[0.7, 0.6], [0.5, 0.4]]),
    }
    stds = {k: np.full((2, 2), 0.01) for k in means}
    fig = plots.plot_comparison(["fr", "di"], ["all", "casme2"], means, stds)
    assert [a.get_ylabel() for a in fig.axes[:2]] == [
        "UF1 (mean ± std over seeds)",
        "UAR (mean ± std over seeds)",
    ]
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == ["fr", "di"]


def test_paired_differences_plot_marks_intervals_that_exclude_zero():
    def rec(mean, low, high):
        boot = {"low": low, "high": high, "confidence": 0.95}
        return {
            "per_seed": {"0": mean - 0.01, "1": mean + 0.01},
            "mean_difference": mean,
            "bootstrap": boot,
        }

    comparisons = {
        "a": {"uf1": rec(0.0, -0.01, 0.01), "uar": rec(0.0, -0.01, 0.01)},
        "b": {"uf1": rec(-0.03, -0.05, -0.01), "uar": rec(-0.02, -0.04, 0.001)},
        "c": {"error": "other samples"},  # not comparable: left out
    }
    fig = plots.plot_paired_differences("ref", comparisons)
    ax_uf1, ax_uar = fig.axes[:2]
    assert [t.get_text() for t in ax_uf1.get_yticklabels()] == ["a", "b"]
    assert ax_uf1.get_xlabel() == "UF1(config) − UF1(ref)"
    assert "95%" in fig.get_suptitle()
    # interval bars: blue when they include zero, vermillion when they exclude it
    bars = [ln for ln in ax_uf1.lines if len(ln.get_xdata()) == 2 and ln.get_linewidth() == 2.2]
    assert [ln.get_color() for ln in bars] == [plots.OKABE_ITO[0], plots.OKABE_ITO[3]]
    bars = [ln for ln in ax_uar.lines if len(ln.get_xdata()) == 2 and ln.get_linewidth() == 2.2]
    assert [ln.get_color() for ln in bars] == [plots.OKABE_ITO[0], plots.OKABE_ITO[0]]


def _flow_sample(rng, title="surprise (AU 1+2) casme2/sub01/EP01"):
    crop = (rng.random((32, 32)) * 255).astype(np.uint8)
    flow = rng.normal(size=(32, 32)).astype(np.float32)
    return {
        "onset": (rng.random((48, 64, 3)) * 255).astype(np.uint8),
        "onset_crop": crop,
        "apex_crop": crop,
        "u": flow,
        "v": -flow,
        "strain": np.abs(flow),
        "model_input": rng.random((3, 28, 28)).astype(np.float32),
        "title": title,
        "apex_frame": 7,
    }


def test_flow_sample_on_given_axes_and_as_rows():
    rng = np.random.default_rng(0)
    fig = Figure()
    axes = fig.subplots(1, plots.FLOW_SAMPLE_PANELS)
    out = plots.plot_flow_sample(**_flow_sample(rng), axes=list(axes))
    assert out is fig
    titles = [a.get_title() for a in axes]
    assert titles[2] == "aligned apex (frame 7)" and titles[5] == "optical strain"
    assert axes[0].get_ylabel() == "surprise"
    with pytest.raises(ValueError, match="needs 7 axes"):
        plots.plot_flow_sample(**_flow_sample(rng), axes=list(axes[:3]))
    two = plots.plot_flow_samples([_flow_sample(rng), _flow_sample(rng, "positive (AU 12) x")])
    labels = [a.get_ylabel() for a in two.axes if a.get_ylabel()]
    assert labels == ["surprise", "positive"]
