"""Build the report of one run or the comparison of several: HTML, Markdown, PNG/PDF, CSV.

The report reads only run outputs (``predictions.csv``, ``metrics.json``, ``log.jsonl``,
``config.json``, ``features.npz``) and writes files; it never trains and never reads raw data.

Output layout (``OUT`` is the output folder)::

    OUT/report.html          self-contained page (figures embedded as base64 PNG)
    OUT/report.md            the same tables in Markdown, figures linked as PNG
    # one run:
    OUT/figures/<name>.png|.pdf
    OUT/tables/<name>.csv|.md
    # several runs:
    OUT/figures/comparison.png|.pdf, OUT/tables/comparison.csv|.md
    OUT/runs/<run label>/figures/..., OUT/runs/<run label>/tables/...
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from featref import __version__
from featref.atomic import atomic_write_text
from featref.errors import ConfigError
from featref.reports import plots, tables
from featref.reports.html import HtmlPage
from featref.reports.runs import RunOutputs, load_run
from featref.reports.tables import Table

__all__ = ["ReportFiles", "build_report", "run_labels"]

logger = logging.getLogger(__name__)

#: Figures are shown at their size in inches times this (CSS pixels per inch), so text has one
#: scale across figures.
CSS_PX_PER_INCH = 96

POOLING_NOTE = (
    "Scores and confusion matrices pool the test predictions of all leave-one-subject-out folds "
    "before averaging over classes (MEGC2019). Each seed repeats the whole protocol: scores are "
    "given as mean ± std over seeds, and confusion counts are summed over seeds (each sample "
    "counted once per seed; per-seed counts are in confusion_per_seed.csv). Row-normalised "
    "matrices show the fraction of each true class, i.e. per-class recall on the diagonal."
)


@dataclass
class ReportFiles:
    """What :func:`build_report` wrote.

    Attributes:
        html: The self-contained HTML report.
        markdown: The Markdown report.
        figures: Every PNG and PDF written.
        tables: Every CSV and Markdown table written.
        notes: Notes shown in the report (skipped figures, inconsistencies).
    """

    html: Path
    markdown: Path
    figures: list[Path] = field(default_factory=list)
    tables: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def run_labels(paths: Sequence[Path]) -> list[str]:
    """Short distinct labels for run folders: the folder name, widened or numbered if repeated."""
    names = [p.name for p in paths]
    labels = []
    for p, name in zip(paths, names):
        label = name if names.count(name) == 1 else f"{p.parent.name}_{name}"
        labels.append(re.sub(r"[^A-Za-z0-9._-]+", "_", label) or "run")
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if labels.count(label) == 1 else f"{label}-{seen[label]}")
    return out


class _Writer:
    """Writes figures and tables of one section and mirrors them into the HTML/Markdown pages."""

    def __init__(
        self,
        page: HtmlPage,
        md: list[str],
        out: Path,
        sub: Path,
        files: ReportFiles,
        formats: tuple[str, ...],
    ):
        self.page, self.md, self.out, self.sub, self.files = page, md, out, sub, files
        self.formats = formats

    def figure(self, fig, stem: str, *, alt: str, caption: str) -> None:
        width_px = int(round(fig.get_size_inches()[0] * CSS_PX_PER_INCH))
        paths = plots.save_figure(fig, self.sub / "figures", stem, formats=self.formats)
        self.files.figures += paths
        png = paths[0]
        self.page.figure(png, alt=alt, caption=caption, width_px=width_px)
        rel = png.relative_to(self.out).as_posix()
        self.md.append(f"![{alt}]({rel})\n\n*{caption}*\n")

    def table(self, table: Table, *, collapsed: bool = False, show: bool = True) -> None:
        self.files.tables += table.write(self.sub / "tables")
        if show:
            self.page.table(table, collapsed=collapsed)
            self.md.append(table.to_markdown())


def _section_run(run: RunOutputs, label: str, w: _Writer, *, level: int) -> list[str]:
    """Figures and tables of one run; returns the notes it added."""
    pred, classes = run.predictions, run.class_names
    notes = list(run.notes)
    h = "#" * level
    w.page.heading(f"Run {label}", level=level, anchor=f"run-{label}")
    w.md.append(f"{h} Run {label}\n")
    meta = (
        f"Folder {run.path} · model {run.model} · {len(set(pred.sample_id.tolist()))} samples · "
        f"{len(set(pred.subject.tolist()))} subjects · seeds {pred.seeds} · "
        f"databases {pred.datasets} · classes {list(classes)}"
    )
    w.page.paragraph(meta, css_class="meta")
    w.md.append(meta + "\n")
    notes_at_html, notes_at_md = len(w.page.parts), len(w.md)  # notes go first, filled in last

    # Scores: metrics.json's summary, plus per-seed scores recomputed from predictions.csv.
    per_seed = tables.per_seed_metrics_table(pred, classes)
    mismatches = tables.find_metric_mismatches(per_seed, run.metrics)
    if mismatches:
        msg = (
            f"metrics.json disagrees with predictions.csv in {len(mismatches)} value(s), e.g. "
            f"{mismatches[0]}; the run folder may mix outputs of different runs."
        )
        logger.warning("%s: %s", run.path, msg)
        notes.append(msg)
    w.table(tables.summary_table(run.metrics))
    w.table(per_seed, collapsed=True)

    # Confusion matrices: all samples, then each database (when there are several).
    scope_list = tables.scopes(pred) if len(pred.datasets) > 1 else [tables.ALL]
    matrices = {s: tables.pooled_confusion(pred, classes, dataset=s) for s in scope_list}
    n_seeds = len(pred.seeds)
    for scope, cm in matrices.items():
        title = "all databases" if scope == tables.ALL else scope
        w.table(
            tables.confusion_table(
                cm,
                classes,
                name=f"confusion_{scope}",
                title=f"Confusion counts, {title} (summed over {n_seeds} seed(s))",
            ),
            show=scope == tables.ALL,
        )
        w.table(
            tables.confusion_table(
                tables.row_normalise(cm),
                classes,
                name=f"confusion_{scope}_normalised",
                title=f"Row-normalised confusion, {title}",
                normalised=True,
            ),
            show=False,
        )
    w.table(tables.confusion_per_seed_table(pred, classes), show=False)
    w.figure(
        plots.plot_confusion_grid(
            matrices, classes, suptitle=f"Confusion counts (summed over {n_seeds} seed(s))"
        ),
        "confusion_counts",
        alt=f"{label}: confusion matrices (counts)",
        caption="Confusion counts pooled over all folds and summed over seeds; rows are true "
        "classes, columns predicted classes.",
    )
    w.figure(
        plots.plot_confusion_grid(
            matrices, classes, normalised=True, suptitle="Row-normalised confusion (recall)"
        ),
        "confusion_normalised",
        alt=f"{label}: row-normalised confusion matrices",
        caption="Each row divided by its total: the diagonal is the recall of each class.",
    )

    # Per-subject accuracy.
    subj = tables.subject_accuracy(pred)
    w.figure(
        plots.plot_subject_accuracy(subj),
        "subject_accuracy",
        alt=f"{label}: accuracy per test subject",
        caption="Accuracy of each leave-one-subject-out test fold, mean ± std over seeds, "
        "grouped by database.",
    )
    w.table(tables.subject_accuracy_table(subj), collapsed=True)

    # Learning curves.
    curves = tables.learning_curves(run.log)
    if curves:
        w.figure(
            plots.plot_learning_curves(curves),
            "learning_curves",
            alt=f"{label}: learning curves",
            caption="Training loss per epoch from log.jsonl, averaged over every fold of a seed "
            "(band: ±1 std over folds).",
        )
        w.table(tables.learning_curve_table(curves), collapsed=True)

    # Attention factors.
    att = tables.attention_by_class(pred, classes)
    if att is not None:
        mean, counts = att
        w.figure(
            plots.plot_attention_heatmap(mean, classes, pred.attention_names),
            "attention_by_class",
            alt=f"{label}: mean attention factor per true class",
            caption="Mean attention factor of each proposal branch over the test predictions "
            "of each true class (all folds and seeds).",
        )
        w.table(tables.attention_table(mean, counts, classes, pred.attention_names))

    # Feature embeddings.
    feats = run.features
    if feats is not None and (feats.shared.shape[1] == 0 or feats.refined.shape[1] == 0):
        notes.append(
            "features.npz holds no expression-shared or refined features (zero width; the model "
            "may not expose them): the t-SNE/PCA plots are skipped."
        )
        feats = None
    if feats is not None:
        seed = int(feats.seed.min())
        m = feats.seed == seed
        seeds_note = (
            f" Seed {seed} only (of {len(set(feats.seed.tolist()))})."
            if len(set(feats.seed.tolist())) > 1
            else ""
        )
        fig = plots.plot_feature_embeddings(
            feats.shared[m], feats.refined[m], feats.y_true[m], classes
        )
        w.figure(
            fig,
            "feature_embedding",
            alt=f"{label}: 2-D embedding of expression-shared and refined features",
            caption=f"{int(m.sum())} test samples embedded in 2-D (t-SNE, or PCA when there are "
            f"few samples or scikit-learn is missing), coloured by true class. Each sample's "
            "features come from its own fold's model (one model per test subject), so tight "
            f"clusters can reflect the fold as much as the class.{seeds_note}",
        )

    if run.config:
        text = json.dumps(run.config, indent=2, sort_keys=True)
        w.page.preformatted(text, summary="Resolved configuration (config.json)")
        w.md.append(
            f"<details><summary>config.json</summary>\n\n```json\n{text}\n```\n</details>\n"
        )
    w.page.notes(notes, at=notes_at_html)
    if notes:
        w.md.insert(notes_at_md, "**Notes**\n\n" + "\n".join(f"- {n}" for n in notes) + "\n")
    return notes


def build_report(
    run_dirs: Sequence[str | Path],
    output_dir: str | Path | None = None,
    *,
    pdf: bool = True,
) -> ReportFiles:
    """Write the report of one run, or of several runs with a comparison table.

    Args:
        run_dirs: One or more run folders written by ``featref run``.
        output_dir: Where to write (default for one run: ``<run_dir>/report``; required for
            several).
        pdf: Also save every figure as PDF (PNG is always written: the HTML embeds it).

    Returns:
        The files written.

    Raises:
        ConfigError: when no run is given, or several without ``output_dir``.
        CacheError: when a run folder is missing or malformed.
    """
    if not run_dirs:
        raise ConfigError("No run folder given. Pass at least one folder written by 'featref run'.")
    runs = [load_run(d) for d in run_dirs]
    if output_dir is None:
        if len(runs) > 1:
            raise ConfigError(
                f"{len(runs)} run folders given but no output folder. Pass --output-dir OUT to "
                "say where the comparison report goes."
            )
        output_dir = runs[0].path / "report"
    out = Path(output_dir).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    labels = run_labels([r.path for r in runs])
    several = len(runs) > 1
    formats = ("png", "pdf") if pdf else ("png",)

    title = "featref report" + (f": {labels[0]}" if not several else f": {len(runs)} runs")
    page = HtmlPage(title)
    md: list[str] = [f"# {title}\n"]
    files = ReportFiles(html=out / "report.html", markdown=out / "report.md")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    meta = (
        f"Generated {stamp} by featref {__version__} from {', '.join(str(r.path) for r in runs)}."
    )
    page.paragraph(meta, css_class="meta")
    page.paragraph(POOLING_NOTE)
    md += [meta + "\n", POOLING_NOTE + "\n"]

    if several:
        top = _Writer(page, md, out, out, files, formats)
        page.heading("Comparison", anchor="comparison")
        md.append("## Comparison\n")
        comp = tables.comparison_table(runs, labels)
        top.table(comp)
        scope_names, means, stds = tables.comparison_values(runs)
        top.figure(
            plots.plot_comparison(labels, scope_names, means, stds),
            "comparison",
            alt="UF1 and UAR of each run",
            caption="UF1 and UAR of each run, full set and per database (error bars: std over "
            "seeds).",
        )
    for run, label in zip(runs, labels):
        sub = out / "runs" / label if several else out
        writer = _Writer(page, md, out, sub, files, formats)
        files.notes += _section_run(run, label, writer, level=2)

    atomic_write_text(files.html, page.render())
    atomic_write_text(files.markdown, "\n".join(md))
    logger.info("Report written to %s", files.html)
    return files
