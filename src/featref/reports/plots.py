"""Figures of a run: each function takes data (and an optional ``ax=``) and returns the figure.

Figures are built on :class:`matplotlib.figure.Figure` with the Agg canvas, never ``pyplot``, so
making them changes no global state and needs no display. Colours are colour-blind safe: the
Okabe-Ito palette for categories and ``cividis`` for heatmaps; every axis is labelled and classes
are named.
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from featref.atomic import atomic_write_bytes
from featref.reports.tables import LearningCurve, SubjectAccuracy, row_normalise

__all__ = [
    "FLOW_SAMPLE_PANELS",
    "OKABE_ITO",
    "embed_2d",
    "plot_attention_heatmap",
    "plot_comparison",
    "plot_confusion_grid",
    "plot_confusion_matrix",
    "plot_embedding",
    "plot_feature_embeddings",
    "plot_flow_sample",
    "plot_flow_samples",
    "plot_learning_curves",
    "plot_paired_differences",
    "plot_subject_accuracy",
    "save_figure",
]

logger = logging.getLogger(__name__)

#: Okabe & Ito (2008) colour-blind-safe palette, reordered so the first colours contrast most on
#: white (yellow last).
OKABE_ITO: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow
)
#: Markers paired with the palette, so classes differ in shape as well as colour.
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "*")
#: Sequential colour map for heatmaps (perceptually uniform, colour-blind safe).
HEATMAP_CMAP = "cividis"
#: Fewer points than this are embedded with PCA rather than t-SNE.
MIN_TSNE_POINTS = 30


def _colour(i: int) -> str:
    return OKABE_ITO[i % len(OKABE_ITO)]


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def save_figure(
    fig: Figure,
    directory: str | Path,
    stem: str,
    *,
    formats: Sequence[str] = ("png", "pdf"),
    dpi: int = 150,
) -> list[Path]:
    """Save ``fig`` as ``<stem>.<format>`` in ``directory`` for each format; returns the paths.

    The layout is computed once, on the first save, and then frozen so that later formats reuse
    it (identical placement, and faster).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, ext in enumerate(formats):
        path = directory / f"{stem}.{ext}"
        # No creation date in PDFs, so that rebuilding a report gives the same bytes.
        buf = io.BytesIO()
        fig.savefig(
            buf, format=ext, dpi=dpi, metadata={"CreationDate": None} if ext == "pdf" else None
        )
        atomic_write_bytes(path, buf.getvalue())
        if i == 0 and fig.get_layout_engine() is not None:
            fig.set_layout_engine("none")
        paths.append(path)
    return paths


# --------------------------------------------------------------------------- confusion matrices


def plot_confusion_matrix(
    cm: np.ndarray,
    class_names: Sequence[str],
    *,
    normalised: bool = False,
    title: str | None = None,
    colorbar: bool = True,
    ax: Axes | None = None,
) -> Figure:
    """Heatmap of a confusion matrix with the value in each cell.

    Args:
        cm: ``(C, C)`` counts; rows are true classes, columns predicted classes.
        class_names: Names of the ``C`` classes.
        normalised: Show row-normalised fractions (recall on the diagonal) instead of counts.
        title: Axes title.
        colorbar: Draw a colour bar.
        ax: Axes to draw on (default: a new figure).

    Returns:
        The figure.
    """
    fig, ax = _axes(ax, (4.2, 3.6))
    counts = np.asarray(cm)
    values = row_normalise(counts) if normalised else counts.astype(float)
    vmax = 1.0 if normalised else max(1.0, float(values.max()))
    im = ax.imshow(values, cmap=HEATMAP_CMAP, vmin=0.0, vmax=vmax)
    n = len(class_names)
    for i in range(n):
        for j in range(n):
            v = values[i, j]
            text = f"{v:.2f}" if normalised else f"{int(counts[i, j])}"
            # cividis is dark at the low end: white text there, black on the bright end.
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=9,
                color="white" if v / vmax < 0.55 else "black",
            )
    ax.set_xticks(range(n), labels=list(class_names), rotation=30, ha="right")
    ax.set_yticks(range(n), labels=list(class_names))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if title:
        ax.set_title(title, fontsize=10)
    if colorbar:
        fig.colorbar(
            im,
            ax=ax,
            fraction=0.046,
            pad=0.04,
            label="fraction of true class" if normalised else "count",
        )
    return fig


def plot_confusion_grid(
    matrices: dict[str, np.ndarray],
    class_names: Sequence[str],
    *,
    normalised: bool = False,
    suptitle: str | None = None,
) -> Figure:
    """One confusion-matrix panel per scope (``all`` first, then each database)."""
    k = len(matrices)
    ncols = k if k <= 3 else math.ceil(k / 2)  # 4 panels (composite + 3 databases): 2 x 2
    nrows = math.ceil(k / ncols)
    fig = Figure(figsize=(4.3 * ncols + 0.3, 3.9 * nrows + 0.3), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (scope, cm) in zip(axes, matrices.items()):
        n = int(np.asarray(cm).sum())
        label = "all databases" if scope == "all" else scope
        plot_confusion_matrix(
            cm, class_names, normalised=normalised, title=f"{label} (n={n})", ax=ax
        )
    for ax in axes[k:]:
        ax.set_visible(False)
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    return fig


# --------------------------------------------------------------------------- per subject


def plot_subject_accuracy(rows: Sequence[SubjectAccuracy], *, ax: Axes | None = None) -> Figure:
    """Bar chart of per-subject accuracy (mean ± std over seeds), grouped and coloured by database.

    Args:
        rows: Output of :func:`featref.reports.tables.subject_accuracy` (sorted by database).
        ax: Axes to draw on (default: a new figure sized to the number of subjects).

    Returns:
        The figure.
    """
    fig, ax = _axes(ax, (max(6.0, 0.2 * len(rows) + 2.0), 3.8))
    datasets = list(dict.fromkeys(r.dataset for r in rows))
    x, pos = [], 0.0
    previous = None
    for r in rows:
        if previous is not None and r.dataset != previous:
            pos += 1.0  # gap between databases
        x.append(pos)
        pos += 1.0
        previous = r.dataset
    x_arr = np.array(x)
    for d_i, dataset in enumerate(datasets):
        idx = [i for i, r in enumerate(rows) if r.dataset == dataset]
        ax.bar(
            x_arr[idx],
            [rows[i].mean for i in idx],
            yerr=[rows[i].std for i in idx],
            color=_colour(d_i),
            edgecolor="black",
            linewidth=0.4,
            error_kw={"elinewidth": 0.8, "capsize": 1.5},
            label=dataset,
        )
    labels = [r.subject.split("/", 1)[-1] for r in rows]
    ax.set_xticks(x_arr, labels=labels, rotation=90, fontsize=7)
    ax.set_xlim(-0.8, (x_arr.max() if len(x_arr) else 0) + 0.8)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("test subject (leave-one-subject-out fold)")
    ax.set_ylabel("accuracy (mean ± std over seeds)")
    ax.set_title("Accuracy per test subject", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    if len(datasets) > 1 or datasets[:1] != ["synthetic"]:
        ax.legend(
            title="database",
            fontsize=8,
            title_fontsize=8,
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
        )
    return fig


# --------------------------------------------------------------------------- learning curves


def plot_learning_curves(curves: Sequence[LearningCurve], *, ax: Axes | None = None) -> Figure:
    """Training loss per epoch, one line per seed (mean over folds) with a ±std band over folds."""
    fig, ax = _axes(ax, (5.5, 3.6))
    for i, c in enumerate(curves):
        colour = _colour(i)
        ax.plot(
            c.epochs,
            c.loss_mean,
            color=colour,
            marker=MARKERS[i % len(MARKERS)],
            markersize=3,
            label=f"seed {c.seed} ({int(c.n_folds.max())} folds)",
        )
        ax.fill_between(
            c.epochs, c.loss_mean - c.loss_std, c.loss_mean + c.loss_std, color=colour, alpha=0.15
        )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (mean over folds)")
    ax.set_title("Learning curves (band: ±1 std over folds)", fontsize=10)
    ax.grid(alpha=0.3)
    if curves:
        ax.legend(fontsize=8)
    return fig


# --------------------------------------------------------------------------- attention


def plot_attention_heatmap(
    mean: np.ndarray,
    class_names: Sequence[str],
    branch_names: Sequence[str],
    *,
    ax: Axes | None = None,
) -> Figure:
    """Heatmap of the mean attention factor of each proposal branch (columns) per true class (rows).

    Args:
        mean: ``(C, K)`` mean attention, rows in ``class_names`` order.
        class_names: The true classes (rows).
        branch_names: The proposal branches (columns).
        ax: Axes to draw on (default: a new figure).

    Returns:
        The figure.
    """
    fig, ax = _axes(ax, (1.3 * len(branch_names) + 2.6, 0.75 * len(class_names) + 1.6))
    values = np.asarray(mean, dtype=float)
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    im = ax.imshow(values, cmap=HEATMAP_CMAP, vmin=lo, vmax=hi, aspect="auto")
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            ax.text(
                j,
                i,
                "–" if not np.isfinite(v) else f"{v:.2f}",
                ha="center",
                va="center",
                fontsize=9,
                color="white" if not np.isfinite(v) or (v - lo) / (hi - lo) < 0.55 else "black",
            )
    ax.set_xticks(range(len(branch_names)), labels=[f"branch {b}" for b in branch_names])
    ax.set_yticks(range(len(class_names)), labels=list(class_names))
    ax.set_xlabel("proposal branch")
    ax.set_ylabel("true class")
    ax.set_title("Mean attention factor per true class", fontsize=10)
    fig.colorbar(im, ax=ax, label="mean attention factor")
    return fig


# --------------------------------------------------------------------------- feature embeddings


def _pca(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Project centred rows on the first ``k`` principal axes; returns (scores, explained ratio)."""
    xc = x - x.mean(axis=0, keepdims=True)
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    k = min(k, vt.shape[0])
    var = s**2
    ratio = var[:k] / var.sum() if var.sum() > 0 else np.zeros(k)
    scores = xc @ vt[:k].T
    if scores.shape[1] < k:  # fewer axes than asked (e.g. one feature): pad with zeros
        scores = np.pad(scores, ((0, 0), (0, k - scores.shape[1])))
    return scores, ratio


def embed_2d(
    x: np.ndarray, *, method: str = "auto", random_state: int = 0, threads: int = 1
) -> tuple[np.ndarray, str]:
    """Embed rows of ``x`` in 2-D with t-SNE or PCA.

    Args:
        x: ``(n, d)`` features (flattened if higher-dimensional).
        method: ``"tsne"``, ``"pca"`` or ``"auto"``: t-SNE when scikit-learn is installed and there
            are at least :data:`MIN_TSNE_POINTS` points, else PCA (numpy SVD).
        random_state: Seed of t-SNE.
        threads: OpenMP/BLAS threads for t-SNE (featref's default of 1 thread; on a busy
            2-core machine more threads made a 60-point t-SNE 25x slower).

    Returns:
        ``(points, description)``: ``(n, 2)`` coordinates and the method actually used, e.g.
        ``"t-SNE (perplexity 19.7)"`` or ``"PCA (62% variance)"``.
    """
    x = np.asarray(x, dtype=float).reshape(len(x), -1)
    if method not in ("auto", "tsne", "pca"):
        raise ValueError(f"method must be 'auto', 'tsne' or 'pca'. Got {method!r}.")
    n = len(x)
    use_tsne = method == "tsne" or (method == "auto" and n >= MIN_TSNE_POINTS)
    if use_tsne:
        try:
            from sklearn.manifold import TSNE  # optional: scikit-learn is not a hard dependency
        except ImportError:
            if method == "tsne":
                raise
            logger.info("scikit-learn is not installed: embedding with PCA instead of t-SNE.")
            use_tsne = False
    if use_tsne and n > 3:
        # Reduce very wide features with PCA first (standard practice; also much faster).
        reduced = _pca(x, 50)[0] if x.shape[1] > 50 else x - x.mean(axis=0)
        perplexity = float(min(30.0, max(2.0, (n - 1) / 3.0)))
        tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=random_state)
        try:
            from threadpoolctl import threadpool_limits  # installed with scikit-learn
        except ImportError:  # pragma: no cover
            points = tsne.fit_transform(reduced)
        else:
            with threadpool_limits(limits=threads):
                points = tsne.fit_transform(reduced)
        return points, f"t-SNE (perplexity {perplexity:.0f})"
    points, ratio = _pca(x, 2)
    return points, f"PCA ({100 * float(ratio.sum()):.0f}% variance)"


def plot_embedding(
    points: np.ndarray,
    y: np.ndarray,
    class_names: Sequence[str],
    *,
    title: str = "",
    method: str = "",
    ax: Axes | None = None,
) -> Figure:
    """Scatter of 2-D points coloured (and shaped) by class.

    Args:
        points: ``(n, 2)`` coordinates.
        y: ``(n,)`` class indices into ``class_names``.
        class_names: Class names.
        title: Axes title.
        method: How the points were embedded (used in the axis labels), e.g. ``"t-SNE"``.
        ax: Axes to draw on (default: a new figure).

    Returns:
        The figure.
    """
    fig, ax = _axes(ax, (4.5, 4.2))
    short = method.split(" ")[0] if method else "dim"
    for i, cls in enumerate(class_names):
        m = np.asarray(y) == i
        if m.any():
            ax.scatter(
                points[m, 0],
                points[m, 1],
                s=22,
                color=_colour(i),
                marker=MARKERS[i % len(MARKERS)],
                edgecolors="black",
                linewidths=0.3,
                label=f"{cls} (n={int(m.sum())})",
            )
    ax.set_xlabel(f"{short} 1")
    ax.set_ylabel(f"{short} 2")
    ax.set_title(f"{title}\n{method}" if method else title, fontsize=10)
    ax.legend(fontsize=8, title="true class", title_fontsize=8)
    ax.grid(alpha=0.2)
    return fig


def plot_feature_embeddings(
    shared: np.ndarray,
    refined: np.ndarray,
    y: np.ndarray,
    class_names: Sequence[str],
    *,
    method: str = "auto",
    random_state: int = 0,
) -> Figure:
    """Side-by-side 2-D embeddings of expression-shared and refined (expression-specific) features.

    Args:
        shared: ``(n, D)`` expression-shared features.
        refined: ``(n, K*W)`` refined features.
        y: ``(n,)`` class indices into ``class_names``.
        class_names: Class names.
        method: Passed to :func:`embed_2d`.
        random_state: Seed of t-SNE.

    Returns:
        The figure.
    """
    fig = Figure(figsize=(9.5, 4.4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    for ax, feats, name in (
        (axes[0], shared, "expression-shared features"),
        (axes[1], refined, "refined (expression-specific) features"),
    ):
        pts, used = embed_2d(feats, method=method, random_state=random_state)
        plot_embedding(pts, y, class_names, title=name, method=used, ax=ax)
    return fig


# --------------------------------------------------------------------------- comparison


def plot_comparison(
    run_labels: Sequence[str],
    scopes: Sequence[str],
    means: dict[str, np.ndarray],
    stds: dict[str, np.ndarray],
) -> Figure:
    """Grouped bars of UF1 and UAR per scope, one bar per run (error bars: std over seeds).

    Args:
        run_labels: Name of each run.
        scopes: ``"all"`` and the databases.
        means: ``{"uf1": (runs, scopes), "uar": (runs, scopes)}`` means (NaN when absent).
        stds: Same shape, standard deviations over seeds (NaN when unknown).

    Returns:
        The figure.
    """
    fig = Figure(figsize=(max(7.0, 1.1 * len(scopes) * max(2, len(run_labels)) + 1.5), 3.8))
    fig.set_layout_engine("constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2, sharey=True)
    r = len(run_labels)
    width = 0.8 / max(r, 1)
    x = np.arange(len(scopes))
    for ax, key in zip(axes, ("uf1", "uar")):
        for i, label in enumerate(run_labels):
            mean = np.nan_to_num(np.asarray(means[key][i], dtype=float), nan=0.0)
            err = np.nan_to_num(np.asarray(stds[key][i], dtype=float), nan=0.0)
            ax.bar(
                x - 0.4 + width * (i + 0.5),
                mean,
                width,
                yerr=err,
                color=_colour(i),
                edgecolor="black",
                linewidth=0.4,
                capsize=2,
                label=label,
            )
        ax.set_xticks(x, labels=["all databases" if s == "all" else s for s in scopes])
        ax.set_ylim(0, 1.05)
        ax.set_xlabel("evaluation scope")
        ax.set_ylabel(f"{key.upper()} (mean ± std over seeds)")
        ax.set_title(key.upper(), fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    axes[1].legend(
        title="run", fontsize=8, title_fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0)
    )
    return fig


def plot_paired_differences(reference: str, comparisons: dict[str, dict]) -> Figure:
    """Forest plot of a grid's paired comparison: each configuration minus the reference.

    One row per configuration (in the given order, top to bottom) and one panel per metric:
    the bar is the subject-bootstrap interval, the large marker the mean difference over seeds,
    the small dots the per-seed differences; the vertical line is "no difference".

    Args:
        reference: Name of the reference configuration (for the axis label).
        comparisons: ``comparison.json``'s ``"comparisons"``: name -> {"uf1"|"uar": record};
            entries holding an ``"error"`` instead (not comparable) are left out.

    Returns:
        The figure.
    """
    names = [n for n, c in comparisons.items() if "error" not in c]
    fig = Figure(figsize=(9.0, 1.2 + 0.42 * max(len(names), 1)))
    fig.set_layout_engine("constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(names))[::-1]
    for ax, key in zip(axes, ("uf1", "uar")):
        ax.axvline(0.0, color="black", linewidth=0.8)
        for yi, name in zip(y, names):
            rec = comparisons[name][key]
            boot = rec["bootstrap"]
            excludes_zero = boot["low"] > 0 or boot["high"] < 0
            colour = OKABE_ITO[3] if excludes_zero else OKABE_ITO[0]
            ax.plot([boot["low"], boot["high"]], [yi, yi], color=colour, linewidth=2.2)
            ax.plot(rec["mean_difference"], yi, "o", color=colour, markersize=7, zorder=3)
            seeds = list(rec["per_seed"].values())
            ax.plot(seeds, [yi] * len(seeds), "|", color="black", markersize=9, alpha=0.7)
        ax.set_xlabel(f"{key.upper()}(config) − {key.upper()}({reference})")
        ax.set_title(f"Δ{key.upper()}", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        ax.set_axisbelow(True)
    axes[0].set_yticks(y, labels=names, fontsize=8)
    axes[0].set_ylim(-0.7, len(names) - 0.3)
    confidence = comparisons[names[0]]["uf1"]["bootstrap"]["confidence"] if names else 0.95
    fig.suptitle(
        f"dot: mean over seeds   |: each seed   bar: {confidence:.0%} subject-bootstrap interval "
        "(vermillion where it excludes 0)",
        fontsize=8,
    )
    return fig


# --------------------------------------------------------------------------- flow of one clip

#: Panels of :func:`plot_flow_sample`, left to right.
FLOW_SAMPLE_PANELS = 7


def plot_flow_sample(
    onset: np.ndarray,
    onset_crop: np.ndarray,
    apex_crop: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    strain: np.ndarray,
    model_input: np.ndarray,
    *,
    title: str = "",
    apex_frame: int | None = None,
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """One clip's flow as a row of panels: the frame, the aligned crops, u, v, strain, the input.

    Args:
        onset: The onset frame as stored, RGB (H, W, 3) or grayscale.
        onset_crop: Aligned grayscale onset, uint8 (crop_size, crop_size).
        apex_crop: Aligned grayscale apex, the same shape.
        u: Horizontal flow in pixels at crop resolution.
        v: Vertical flow in pixels, the same shape.
        strain: Optical strain magnitude, the same shape.
        model_input: The model input (C, size, size) with channels u, v, strain (the first three
            are shown as R, G, B, clipped to [0, 1]).
        title: Shown under the frame; its first word labels the row (e.g. the class).
        apex_frame: The apex frame number, for the apex panel's title.
        axes: :data:`FLOW_SAMPLE_PANELS` axes to draw into (one row of a larger figure);
            ``None`` makes a new figure.

    Returns:
        The figure.
    """
    if axes is None:
        fig = Figure(figsize=(2.3 * FLOW_SAMPLE_PANELS, 2.6), layout="constrained")
        FigureCanvasAgg(fig)
        axes = list(fig.subplots(1, FLOW_SAMPLE_PANELS, squeeze=False)[0])
    if len(axes) != FLOW_SAMPLE_PANELS:
        raise ValueError(f"plot_flow_sample needs {FLOW_SAMPLE_PANELS} axes; got {len(axes)}")
    ax = axes
    fig = ax[0].figure
    ax[0].imshow(onset, cmap=None if np.ndim(onset) == 3 else "gray")
    ax[0].set_title("onset frame", fontsize=8)
    ax[1].imshow(onset_crop, cmap="gray", vmin=0, vmax=255)
    ax[1].set_title("aligned onset", fontsize=8)
    ax[2].imshow(apex_crop, cmap="gray", vmin=0, vmax=255)
    apex_label = "aligned apex" if apex_frame is None else f"aligned apex (frame {apex_frame})"
    ax[2].set_title(apex_label, fontsize=8)
    both = np.abs(np.stack([u, v]))
    lim = max(float(np.percentile(both, 99.9)), 1e-3)  # a few border pixels run wild
    for k, (flow, label) in enumerate(((u, "u (px, + right)"), (v, "v (px, + down)"))):
        im = ax[3 + k].imshow(flow, cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax[3 + k].set_title(label, fontsize=8)
        fig.colorbar(im, ax=ax[3 + k], shrink=0.7)
    top = float(np.percentile(strain, 99.5)) or 1e-3  # a few edge pixels saturate
    im = ax[5].imshow(strain, cmap="magma", vmin=0, vmax=top)
    ax[5].set_title("optical strain", fontsize=8)
    fig.colorbar(im, ax=ax[5], shrink=0.7)
    ax[6].imshow(np.clip(np.moveaxis(model_input[:3], 0, -1), 0, 1), interpolation="nearest")
    ax[6].set_title("model input 28x28\n(R=u, G=v, B=strain)", fontsize=8)
    for a in ax:
        a.set_xticks([])
        a.set_yticks([])
    ax[0].set_ylabel(title.split(" ")[0], fontsize=10)
    ax[0].text(0.0, -0.08, title, transform=ax[0].transAxes, fontsize=7, va="top", ha="left")
    return fig


def plot_flow_samples(samples: Sequence[dict]) -> Figure:
    """Several clips' flow, one :func:`plot_flow_sample` row each.

    Args:
        samples: One dict per row: the arguments of :func:`plot_flow_sample` by name.

    Returns:
        The figure.
    """
    fig = Figure(
        figsize=(2.3 * FLOW_SAMPLE_PANELS, 2.6 * max(len(samples), 1)), layout="constrained"
    )
    FigureCanvasAgg(fig)
    rows = fig.subplots(max(len(samples), 1), FLOW_SAMPLE_PANELS, squeeze=False)
    for sample, axes in zip(samples, rows):
        plot_flow_sample(**sample, axes=list(axes))
    return fig
