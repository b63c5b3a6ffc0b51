"""A grid's report artefacts: ``results.csv``, ``results.md`` and ``comparison.png``.

They are drawn from the :class:`~featref.evaluation.grid.GridResult` that
:func:`featref.evaluation.grid.execute_grid` (or ``run_grid``) returns; evaluation itself writes
only its data (``grid.json``, ``comparison.json`` and the run folders). ``featref grid`` calls
:func:`write_grid_report` after the grid ran.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from featref.atomic import atomic_write_text
from featref.evaluation.grid import GridResult
from featref.reports.plots import plot_paired_differences, save_figure

__all__ = ["grid_markdown", "write_comparison_figure", "write_grid_report", "write_grid_tables"]


def _pm(row: dict, key: str) -> str:
    if f"{key}_mean" not in row:
        return "–"
    return f"{row[f'{key}_mean']:.4f} ± {row[f'{key}_std']:.4f}"


def grid_markdown(result: GridResult) -> str:
    """``results.md`` of a grid: the scores table and the paired comparison table."""
    rows = result.rows
    dbs = sorted({k[: -len("_uf1_mean")] for r in rows for k in r if k.endswith("_uf1_mean")})
    dbs = dbs if len(dbs) > 1 else []  # one database: its columns repeat the overall ones
    seeds = rows[0]["seeds"] if rows else ""
    n = len(seeds.split(",")) if seeds else 0
    lines = [
        f"# Grid results ({n} seed{'s' if n != 1 else ''}: {seeds}; reference "
        f"`{result.reference}`)",
        "",
        "Pooled over all leave-one-subject-out folds; mean ± sample standard deviation over seeds.",
        "",
        "| "
        + " | ".join(
            ["Config", "Changes vs reference", "UF1", "UAR"]
            + [f"{d} {m}" for d in dbs for m in ("UF1", "UAR")]
        )
        + " |",
        "|" + "---|" * (4 + 2 * len(dbs)),
    ]
    for r in rows:
        cells = [f"`{r['config']}`", r["changes"] or "–", _pm(r, "uf1"), _pm(r, "uar")]
        for d in dbs:
            cells += [_pm(r, f"{d}_uf1"), _pm(r, f"{d}_uar")]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        f"## Paired comparison with `{result.reference}`",
        "",
        "ΔUF1 = UF1(config) − UF1(reference) for the same seed (same folds, same fold seeds). "
        "Sign test: wins/losses/ties over seeds, exact two-sided p. Bootstrap: subjects resampled "
        "with replacement (same resample for both), ΔUF1 recomputed on the pooled predictions "
        "(mean over seeds); 95% percentile interval and the fraction of resamples with ΔUF1 > 0.",
        "",
        "| Config | ΔUF1 per seed | mean ΔUF1 | sign test W/L/T (p) | 95% CI ΔUF1 | P(ΔUF1 > 0) "
        "| mean ΔUAR | 95% CI ΔUAR |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["config"] == result.reference:
            continue
        if "duf1_mean" not in r:
            lines.append(
                f"| `{r['config']}` | not paired: {r.get('comparison_error', 'n/a')} |||||||"
            )
            continue
        lines.append(
            f"| `{r['config']}` | {r['duf1_per_seed'].replace(';', ' ')} | {r['duf1_mean']:+.4f} "
            f"| {r['sign_wins']}/{r['sign_losses']}/{r['sign_ties']} ({r['sign_p']:.3g}) "
            f"| [{r['duf1_ci_low']:+.4f}, {r['duf1_ci_high']:+.4f}] "
            f"| {r['duf1_frac_positive']:.3f} "
            f"| {r['duar_mean']:+.4f} | [{r['duar_ci_low']:+.4f}, {r['duar_ci_high']:+.4f}] |"
        )
    return "\n".join(lines) + "\n"


def write_grid_tables(result: GridResult) -> tuple[Path, Path]:
    """Write ``results.csv`` and ``results.md`` into the grid folder (atomically); returns their
    paths."""
    rows = result.rows
    columns: list[str] = []
    for r in rows:
        columns += [k for k in r if k not in columns]
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=columns, restval="")
    w.writeheader()
    w.writerows(rows)
    csv_path = result.out_dir / "results.csv"
    atomic_write_text(csv_path, buf.getvalue())
    md_path = result.out_dir / "results.md"
    atomic_write_text(md_path, grid_markdown(result))
    return csv_path, md_path


def write_comparison_figure(result: GridResult) -> Path | None:
    """Draw the paired comparison as ``comparison.png`` in the grid folder; returns its path, or
    ``None`` when no configuration could be paired with the reference (nothing to draw)."""
    if not any("error" not in c for c in result.comparisons.values()):
        return None
    fig = plot_paired_differences(result.reference, result.comparisons)
    return save_figure(fig, result.out_dir, "comparison", formats=("png",))[0]


def write_grid_report(result: GridResult) -> list[Path]:
    """Write every report artefact of a grid (tables, then the figure); returns their paths."""
    paths = list(write_grid_tables(result))
    figure = write_comparison_figure(result)
    return paths + ([figure] if figure is not None else [])
