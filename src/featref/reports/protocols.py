"""Single- and cross-database results side by side: a table and a source x target UF1 matrix.

Reads finished run folders (``metrics.json`` + ``config.json``, as the runner writes them) and
places each by its protocol: a leave-one-subject-out run restricted to one database is the
*within-database* cell (train = test = that database); a ``cross:<sources>-><target>`` run is the
cell (sources, target). ``featref protocol-report`` writes ``protocols.md``, ``protocols.csv`` and
``protocols.png`` (one UF1 matrix per model: rows are what was trained on, columns the target).

Example (FR and the baselines on every composite protocol preset):

    bash scripts/run_protocols.sh ../shared/data/megc2019 runs/protocols
    featref protocol-report runs/protocols --output-dir docs/figures/protocols
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from featref.atomic import atomic_write_text
from featref.config import parse_protocol
from featref.errors import CacheError

__all__ = [
    "ProtocolResult",
    "collect_protocol_results",
    "protocol_markdown",
    "write_protocol_report",
]

_DATABASE_ORDER = ("casme2", "samm", "smic", "casme3")


@dataclass(frozen=True)
class ProtocolResult:
    """One finished run placed in the source x target matrix."""

    run_dir: str
    model: str
    channels: str  # e.g. "u,v,strain"
    train_on: str  # "casme2", or "samm+smic" (sorted sources of a cross-database run)
    target: str
    kind: str  # "within" (LOSO on one database) | "cross"
    seeds: str  # "0,1,2"
    metrics: dict  # metric -> {"mean", "std"} on the target database


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise CacheError(
            f"{path} could not be read as JSON ({e}). Rerun that run (`featref run` with the same "
            "--output-dir resumes it) or remove its folder from the report's root."
        ) from None


def _place(cfg: dict) -> tuple[str, str, str] | None:
    """(kind, train_on, target) of a run's config; None for a run of no single target."""
    data = cfg["data"]
    protocol = parse_protocol(data.get("protocol", "loso"))
    if protocol is not None:  # cross-database
        sources, target = protocol
        return "cross", "+".join(sorted(sources, key=_DATABASE_ORDER.index)), target
    databases = list(data.get("databases") or [])
    if len(databases) == 1:
        return "within", databases[0], databases[0]
    return None  # the composite (several databases in one LOSO run): not a matrix cell


def collect_protocol_results(root: str | Path) -> list[ProtocolResult]:
    """Every finished run folder under ``root`` (any depth) that is a matrix cell.

    Raises:
        CacheError: when ``root`` holds no finished run folder, or one's files are unreadable.
    """
    root = Path(root)
    found = sorted(root.rglob("metrics.json"))
    if not found:
        raise CacheError(
            f"No finished run folder (metrics.json) under {root}. Run the protocols first, e.g. "
            f"`bash scripts/run_protocols.sh <composite data dir> {root}`."
        )
    out = []
    for metrics_path in found:
        run_dir = metrics_path.parent
        cfg = _read_json(run_dir / "config.json")
        place = _place(cfg)
        if place is None:
            continue
        kind, train_on, target = place
        metrics = _read_json(metrics_path)
        per_db = metrics["summary"]["per_database"]
        if target not in per_db:
            raise CacheError(
                f"{metrics_path} has no scores for its target database {target!r} (it has "
                f"{sorted(per_db)}). Rerun that run with the same --output-dir to rewrite it."
            )
        summary = per_db[target]
        out.append(
            ProtocolResult(
                run_dir=str(run_dir),
                model=cfg["model"]["name"],
                channels=",".join(cfg["data"]["channels"]),
                train_on=train_on,
                target=target,
                kind=kind,
                seeds=",".join(str(s) for s in metrics["seeds"]),
                metrics=summary,
            )
        )
    return sorted(out, key=_order)


def _order(r: ProtocolResult) -> tuple:
    return (
        r.model,
        r.kind != "within",
        _DATABASE_ORDER.index(r.target),
        len(r.train_on),
        r.train_on,
    )


def _pm(r: ProtocolResult, key: str) -> str:
    m = r.metrics.get(key)
    return "–" if m is None else f"{m['mean']:.4f} ± {m['std']:.4f}"


def protocol_markdown(results: list[ProtocolResult]) -> str:
    """The table: one row per run, metrics (mean ± std over seeds) on the target database.

    Accuracy and weighted F1 sit beside UF1/UAR because part of the single-database literature
    reports those instead.
    """
    lines = [
        "| model | channels | trained on | tested on | protocol | UF1 | UAR | accuracy "
        "| weighted F1 | seeds |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        proto = "LOSO within" if r.kind == "within" else "cross-database"
        lines.append(
            f"| `{r.model}` | {r.channels} | {r.train_on} | {r.target} | {proto} | "
            f"{_pm(r, 'uf1')} | {_pm(r, 'uar')} | {_pm(r, 'accuracy')} | "
            f"{_pm(r, 'weighted_f1')} | {r.seeds} |"
        )
    return "\n".join(lines) + "\n"


def _csv(results: list[ProtocolResult]) -> str:
    buf = io.StringIO()
    keys = ("uf1", "uar", "accuracy", "weighted_f1")
    w = csv.writer(buf, lineterminator="\n")
    head = ["model", "channels", "train_on", "target", "kind", "seeds", "run_dir"]
    w.writerow(head + [f"{k}_{s}" for k in keys for s in ("mean", "std")])
    for r in results:
        vals = [r.metrics.get(k, {}).get(s, "") for k in keys for s in ("mean", "std")]
        w.writerow([r.model, r.channels, r.train_on, r.target, r.kind, r.seeds, r.run_dir, *vals])
    return buf.getvalue()


def plot_protocol_matrix(results: list[ProtocolResult]):
    """One heat map per model: rows what was trained on, columns the target, cells UF1 mean."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    models = sorted({r.model for r in results})
    targets = [d for d in _DATABASE_ORDER if any(r.target == d for r in results)]
    rows = sorted({r.train_on for r in results}, key=lambda t: (len(t.split("+")), t))
    # Two matrices a row: four models side by side are too wide to read on a page.
    ncols = min(2, len(models))
    nrows = -(-len(models) // ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(2.2 + 1.6 * len(targets) * ncols, 0.8 + (0.9 + 0.5 * len(rows)) * nrows),
        squeeze=False,
        gridspec_kw={"hspace": 0.45},
    )
    for ax in axes.flat[len(models) :]:
        ax.set_visible(False)
    for k, (ax, model) in enumerate(zip(axes.flat, models)):
        grid = np.full((len(rows), len(targets)), np.nan)
        text = [["" for _ in targets] for _ in rows]
        for r in results:
            if r.model != model:
                continue
            i, j = rows.index(r.train_on), targets.index(r.target)
            m = r.metrics["uf1"]
            grid[i, j] = m["mean"]
            text[i][j] = f"{m['mean']:.2f}\n±{m['std']:.2f}"
        im = ax.imshow(grid, vmin=0.2, vmax=0.9, cmap="viridis", aspect="auto")
        for i in range(len(rows)):
            for j in range(len(targets)):
                if text[i][j]:
                    dark = grid[i, j] > 0.6
                    ax.text(
                        j,
                        i,
                        text[i][j],
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="black" if dark else "white",
                    )
        ax.set_xticks(range(len(targets)), targets)
        first_column = k % ncols == 0
        ax.set_yticks(range(len(rows)), rows if first_column else [""] * len(rows))
        if first_column:
            ax.set_ylabel("trained on")
        ax.set_xlabel("tested on")
        ax.set_title(model, fontsize=9)
    fig.colorbar(im, ax=axes.ravel().tolist(), label="UF1 (mean over seeds)", shrink=0.8)
    fig.suptitle(
        "UF1 by training and target database (diagonal: LOSO within the database)", fontsize=9
    )
    return fig


def write_protocol_report(root: str | Path, out_dir: str | Path) -> list[Path]:
    """Write ``protocols.md``, ``protocols.csv`` and ``protocols.png`` for the runs under root."""
    from featref.reports.plots import save_figure

    results = collect_protocol_results(root)
    if not results:
        raise CacheError(
            f"The run folders under {root} are all composite runs; the protocol report needs "
            "single-database (`databases` = one) or cross-database (`protocol = cross:...`) runs."
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md, cs = out / "protocols.md", out / "protocols.csv"
    atomic_write_text(md, protocol_markdown(results))
    atomic_write_text(cs, _csv(results))
    import matplotlib.pyplot as plt

    fig = plot_protocol_matrix(results)
    paths = save_figure(fig, out, "protocols", formats=("png",))
    plt.close(fig)
    return [md, cs, *paths]
