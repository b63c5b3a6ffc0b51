"""``featref demo``: the whole system on synthetic clips, from video frames to a report."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

DESCRIPTION = """\
See featref work end to end without any licensed data, in one command:

  1. generate  synthetic 200 fps face clips (two real photographs shipped with scikit-image and
               matplotlib, per-subject identities, action-unit micro-expressions, head jitter,
               noise, flicker), written in CASME II's folder layout with its coding
               spreadsheet (reused when already there);
  2. prepare   the same path as real data: CASME II reader, Haar face detection and eye
               alignment on the onset, TV-L1 flow onset -> apex, optical strain, cache;
  3. samples   PNGs of a few onset and apex frames and their flow (u, v, strain) to look at;
  4. evaluate  leave-one-subject-out with FR (featref model), every fold in worker processes;
  5. report    HTML/Markdown report, figures and tables; a final UF1/UAR table is printed.

Classes (MEGC2019): surprise = brow raise (AU1+2), positive = lip-corner pull (AU12),
negative = brow lowerer (AU4) or brow lowerer + lip press (AU4+24).
--shuffle-labels permutes the labels across clips before training, so motion and label are
unrelated: UF1 must then fall to chance (about 0.33), which shows the score comes from the
motion and not from an artefact of the data.

Outputs under --output-dir: casme2/ (the synthetic database), cache/ (prepared flow),
samples/ (PNGs), loso-<hash>/ (predictions.csv, metrics.json, report/report.html).
An interrupted demo resumes when the same command is run again.

examples:
  featref demo
  featref demo --seeds 0,1,2 --output-dir runs/demo
  featref demo --shuffle-labels
"""

#: MEGC2019 classes in the order the samples are shown.
_SAMPLE_CLASSES = ("surprise", "positive", "negative")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``demo`` subcommand."""
    from featref.cli import HelpFormatter
    from featref.cli.options import add_workers_args

    p = sub.add_parser(
        "demo",
        parents=[common],
        help="the whole pipeline on synthetic clips: generate, prepare, evaluate, report",
        description=DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    p.add_argument(
        "--output-dir", type=Path, default=Path("runs/demo"), help="folder of every output"
    )
    p.add_argument(
        "--subjects", type=int, default=12, help="synthetic subjects (leave-one-subject-out folds)"
    )
    p.add_argument("--clips-per-class", type=int, default=3, help="clips of each class per subject")
    p.add_argument(
        "--fps",
        type=int,
        default=200,
        help="frame rate of the synthetic clips (CASME II: 200); lower writes fewer frames",
    )
    p.add_argument(
        "--data-seed", type=int, default=0, help="seed of the synthetic clips (and of the shuffle)"
    )
    p.add_argument(
        "--seeds", type=str, default="0", help="comma-separated training seeds, e.g. 0,1,2"
    )
    p.add_argument("--epochs", type=int, default=15, help="epochs per fold (fixed schedule)")
    add_workers_args(
        p, workers_help="worker processes for generation, flow and folds (None: one per CPU core)"
    )
    p.add_argument(
        "--shuffle-labels",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="permute the labels across clips before training (a control: expect chance)",
    )
    p.add_argument(
        "--samples",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="save sample frames and flow images (PNG) under OUTPUT_DIR/samples",
    )
    p.add_argument(
        "--report",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write the HTML/Markdown report of the run",
    )
    p.set_defaults(func=main)


def _check_args(args: argparse.Namespace) -> tuple[int, ...]:
    from featref.errors import ConfigError

    if args.subjects < 2:
        raise ConfigError(
            f"--subjects must be at least 2 (leave-one-subject-out). Got {args.subjects}."
        )
    for flag, value in (
        ("--clips-per-class", args.clips_per_class),
        ("--epochs", args.epochs),
        ("--workers", args.workers if args.workers is not None else 1),
    ):
        if value < 1:
            raise ConfigError(f"{flag} must be at least 1. Got {value}.")
    try:
        seeds = tuple(int(s) for s in args.seeds.split(",") if s.strip())
    except ValueError:
        raise ConfigError(
            f"--seeds must be comma-separated integers. Got {args.seeds!r}."
        ) from None
    if not seeds:
        raise ConfigError(f"--seeds must name at least one seed. Got {args.seeds!r}.")
    return seeds


def main(args: argparse.Namespace) -> int:
    import dataclasses

    import numpy as np

    from featref.atomic import atomic_write_text
    from featref.cli.options import format_summary
    from featref.config import load_config
    from featref.datasets import Casme2
    from featref.datasets.synthetic import SyntheticConfig, write_casme2
    from featref.evaluation.run_folder import config_hash
    from featref.evaluation.runner import Job, execute_plan, plan_run
    from featref.preprocess.cache import load_prepared
    from featref.preprocess.config import PreprocessConfig
    from featref.preprocess.pipeline import prepare

    seeds = _check_args(args)
    t_start = time.perf_counter()
    workers = args.workers or os.cpu_count() or 1
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    out = args.output_dir.expanduser().resolve()
    syn = SyntheticConfig(
        subjects=args.subjects,
        clips_per_class=args.clips_per_class,
        seed=args.data_seed,
        fps=args.fps,
    )
    print(
        f"featref demo: {syn.subjects} subjects x 3 classes x {syn.clips_per_class} clips = "
        f"{syn.num_clips} synthetic clips -> {out}",
        flush=True,
    )
    times: dict[str, float] = {}

    # 1. the synthetic database, in CASME II's layout
    t = time.perf_counter()
    data_root = out / "casme2"
    written = write_casme2(data_root, syn, workers=workers, progress=progress)
    times["generate"] = time.perf_counter() - t
    print(
        f"[1/5] synthetic CASME II database {'written' if written else 'reused'}: {data_root} "
        f"({times['generate']:.1f} s)",
        flush=True,
    )

    # 2. the same preprocessing as real data: reader -> face -> alignment -> TV-L1 -> cache
    t = time.perf_counter()
    reader = Casme2(data_root)
    pre = PreprocessConfig()
    prepared = prepare(
        reader,
        pre,
        out / "cache",
        workers=workers,
        progress=progress,
        label_scheme="megc2019",
    )
    times["prepare"] = time.perf_counter() - t
    print(
        f"[2/5] flow prepared for {len(prepared.paths)} clips ({prepared.computed} computed, "
        f"{prepared.reused} reused, {len(prepared.failures)} failed): {prepared.folder} "
        f"({times['prepare']:.1f} s)",
        flush=True,
    )
    for failure in prepared.failures[:5]:
        print(f"  failed: {failure.sample_id} ({failure.stage}): {failure.message}")

    # 3. images a person can look at
    if args.samples:
        t = time.perf_counter()
        sample_files = _save_samples(reader, prepared, pre, out / "samples")
        times["samples"] = time.perf_counter() - t
        print(
            f"[3/5] {len(sample_files)} sample images (frames and flow): {out / 'samples'} "
            f"({times['samples']:.1f} s)",
            flush=True,
        )
    else:
        print("[3/5] sample images skipped (--no-samples)", flush=True)

    # 4. leave-one-subject-out with FR
    flows = load_prepared(prepared.folder)
    if args.shuffle_labels:
        rng = np.random.default_rng(args.data_seed)
        flows = dataclasses.replace(flows, labels=rng.permutation(flows.labels))
    cfg = load_config(
        None,
        {
            "data": {"source": "prepared", "data_dir": str(prepared.folder)},
            "model": {"name": "featref"},
            "train": {"epochs": args.epochs, "seeds": seeds, "threads": 1},
        },
    )
    suffix = "-shuffled" if args.shuffle_labels else ""
    run_dir = out / f"loso-{config_hash(cfg, flows)[:8]}{suffix}"
    command = "featref " + " ".join(sys.argv[1:]) if sys.argv[0].endswith("featref") else None
    plan = plan_run([Job(flows, cfg, run_dir, command)])
    fold_workers = max(1, min(workers, plan.todo))
    print(
        f"[4/5] leave-one-subject-out, FR, {len(flows)} clips, {len(set(flows.subjects))} "
        f"subjects, seeds {list(seeds)}, {args.epochs} epochs: {plan.describe()} "
        f"with {fold_workers} worker(s)" + (" [labels shuffled]" if args.shuffle_labels else ""),
        flush=True,
    )
    t = time.perf_counter()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=plan.todo, desc="folds", unit="fold", file=sys.stderr)

    def on_unit(rec: dict, running_uf1: float | None) -> None:
        if bar is not None:
            bar.set_postfix_str(f"seed {rec['seed']} {rec['test_subject']} UF1 {running_uf1:.3f}")
            bar.update(1)

    try:
        result = execute_plan(plan, workers=fold_workers, on_unit=on_unit)[0]
    finally:
        if bar is not None:
            bar.close()
    times["evaluate"] = time.perf_counter() - t
    atomic_write_text(
        run_dir / "demo.json",
        json.dumps(
            {
                "synthetic": syn.to_dict(),
                "database": str(data_root),
                "prepared": str(prepared.folder),
                "shuffle_labels": bool(args.shuffle_labels),
                "shuffle_seed": args.data_seed if args.shuffle_labels else None,
            },
            indent=2,
        ),
    )
    print(f"      {run_dir} ({times['evaluate']:.1f} s)", flush=True)

    # 5. report
    report_html = None
    if args.report:
        from featref.reports import build_report

        t = time.perf_counter()
        files = build_report([run_dir], pdf=False)
        report_html = files.html
        times["report"] = time.perf_counter() - t
        print(f"[5/5] report: {report_html} ({times['report']:.1f} s)", flush=True)
    else:
        print("[5/5] report skipped (--no-report)", flush=True)

    total = time.perf_counter() - t_start
    print()
    print(format_summary(result.metrics))
    if args.shuffle_labels:
        print("labels were shuffled: chance is UF1 ~ 0.33; a score near it is the expected result")
    print(f"total wall time {total:.1f} s; outputs in {out}")
    if report_html is not None:
        print(f"open {report_html}")
    return 0


# ----------------------------------------------------------------------------- sample images


def _save_samples(reader, prepared, pre, folder: Path) -> list[Path]:
    """Onset/apex frames and flow figures of the first clip of each class (PNG)."""
    import cv2

    from featref.labels import megc2019_class
    from featref.preprocess import cache
    from featref.reports.plots import plot_flow_samples, save_figure

    png = {"formats": ("png",), "dpi": 100}

    folder.mkdir(parents=True, exist_ok=True)
    for pattern in ("*_onset.png", "*_apex.png", "*_flow.png", "overview.png"):
        for old in folder.glob(pattern):  # images of an earlier demo in this folder
            old.unlink()
    # the first clip of each class, from different subjects where there are enough
    samples = [s for s in reader.samples() if s.sample_id in prepared.paths]
    subjects = sorted({s.subject for s in samples})
    picked = {}
    for k, cls in enumerate(_SAMPLE_CLASSES):
        of_class = [s for s in samples if megc2019_class(s.dataset, s.emotion) == cls]
        preferred = [s for s in of_class if subjects and s.subject == subjects[k % len(subjects)]]
        if preferred or of_class:
            picked[cls] = (preferred or of_class)[0]
    files: list[Path] = []
    rows = []
    for cls in _SAMPLE_CLASSES:
        sample = picked.get(cls)
        if sample is None:
            continue
        entry = cache.read_entry(prepared.paths[sample.sample_id], sample_id=sample.sample_id)
        if entry is None or "matrix" not in entry.meta:
            continue
        stem = f"{cls}_{sample.subject}_{sample.clip}"
        onset = cv2.imread(str(reader.frame_path(sample, sample.onset)), cv2.IMREAD_COLOR)
        apex_no = int(entry.meta.get("apex_frame") or sample.apex)
        apex = cv2.imread(str(reader.frame_path(sample, apex_no)), cv2.IMREAD_COLOR)
        for name, img in (("onset", onset), ("apex", apex)):
            path = folder / f"{stem}_{name}.png"
            cv2.imwrite(str(path), img)
            files.append(path)
        rows.append(_flow_panels(sample, cls, onset, apex, entry, pre))
        files += save_figure(plot_flow_samples(rows[-1:]), folder, f"{stem}_flow", **png)
    if rows:
        files += save_figure(plot_flow_samples(rows), folder, "overview", **png)
    return files


def _flow_panels(sample, cls: str, onset, apex, entry, pre) -> dict:
    """What one row of the flow figure shows: the arguments of ``plot_flow_sample``."""
    import cv2

    from featref.preprocess.clip import aligned_flow

    flow = aligned_flow(onset, apex, entry.meta["matrix"], pre)
    return {
        "title": f"{cls} ({sample.emotion}, AU {sample.action_units}) {sample.sample_id}",
        "onset": cv2.cvtColor(onset, cv2.COLOR_BGR2RGB),
        "onset_crop": flow.onset_crop,
        "apex_crop": flow.apex_crop,
        "u": flow.u,
        "v": flow.v,
        "strain": flow.strain,
        "model_input": entry.flow,
        "apex_frame": int(entry.meta.get("apex_frame") or sample.apex),
    }
