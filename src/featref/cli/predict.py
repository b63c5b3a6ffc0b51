"""``featref predict``: the class of new clips, with a checkpoint from ``featref train``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["register"]

DESCRIPTION = """\
Predict the class of each CLIP (a folder of frames or a video file) with a checkpoint written by
`featref train`. Each clip goes through the preprocessing the checkpoint's training data went
through: face found on the onset frame with the checkpoint's face backend, eye alignment and
crop, TV-L1 flow onset -> apex, optical strain, shrink and normalise.

Frames: --onset/--apex/--offset are frame numbers; in a folder of numbered frames (img46.jpg)
the number in the file name, as the databases annotate clips; in a video (or a folder of
unnumbered images) the 0-based frame index. Without --apex the apex is found by the label-free
spotter (the frame of largest motion against the onset, between --onset and --offset); the
onset is the first frame unless given. The same values apply to every clip given.

For each clip it prints the class, the probability of each class and, for FR models, the
attention factor of each expression-proposal branch. A clip that fails (no face, unreadable)
is reported on one line and the others are still predicted; the exit code is then 1.

Examples:
  featref predict --checkpoint fr.pt clips/sub01_EP02/
  featref predict --checkpoint fr.pt clip.mp4 --onset 0 --apex 17 --save-flow flows/
  featref predict --checkpoint fr.pt clips/*/ --output predictions.csv
"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``predict`` subcommand."""
    from featref.cli import HelpFormatter

    p = sub.add_parser(
        "predict",
        parents=[common],
        help="predict the class of new clips (frame folders or videos) with a checkpoint",
        description=DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    p.add_argument("clips", type=Path, nargs="+", metavar="CLIP", help="frame folder or video")
    p.add_argument(
        "--checkpoint",
        type=Path,
        required=True,
        metavar="FILE",
        help="checkpoint file written by `featref train`",
    )
    p.add_argument(
        "--onset", type=int, default=None, metavar="N", help="onset frame; None: the first frame"
    )
    p.add_argument(
        "--apex",
        type=int,
        default=None,
        metavar="N",
        help="apex frame; None: found by the label-free spotter",
    )
    p.add_argument(
        "--offset",
        type=int,
        default=None,
        metavar="N",
        help="last frame the spotter considers; None: the last frame",
    )
    p.add_argument(
        "--face-backend",
        type=str,
        choices=("haar", "mediapipe", "dlib"),
        default=None,
        help="face backend; None: the checkpoint's (the one its training data was prepared with)",
    )
    p.add_argument(
        "--output",
        type=Path,
        default=None,
        metavar="FILE",
        help="also write the predictions to this .json or .csv file (one row per clip)",
    )
    p.add_argument(
        "--save-flow",
        type=Path,
        default=None,
        metavar="DIR",
        help="save each clip's model input in this folder as PNG images, one per channel "
        "(<clip>_u.png, <clip>_v.png, <clip>_strain.png)",
    )
    p.add_argument("--threads", type=int, default=1, help="torch and OpenCV threads")
    p.set_defaults(func=main)


def _format(pred) -> str:
    def row(values: dict) -> str:
        return "  ".join(f"{k} {v:.3f}" for k, v in values.items())

    lines = [
        f"{pred.clip}",
        f"  frames:        onset {pred.onset}, apex {pred.apex} ({pred.apex_source})",
        f"  class:         {pred.label}",
        f"  probabilities: {row(pred.probabilities)}",
    ]
    if pred.attention:
        lines.append(f"  attention:     {row(pred.attention)}")
    return "\n".join(lines)


def _flow_names(clips: list[Path]) -> list[str]:
    """A file-name stem per clip: its name, made unique with a suffix where names repeat."""
    import re

    names, seen = [], {}
    for clip in clips:
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", clip.resolve().stem) or "clip"
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base}_{seen[base]}")
    return names


def _save_flow(folder: Path, name: str, pred) -> list[str]:
    """One 8-bit grayscale PNG per channel, min-max scaled to 0-255 for viewing."""
    import cv2
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for channel, img in zip(pred.channels, pred.flow):
        lo, hi = float(img.min()), float(img.max())
        scaled = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
        path = folder / f"{name}_{channel}.png"
        if not cv2.imwrite(str(path), np.round(scaled * 255).astype(np.uint8)):
            from featref.errors import ConfigError

            raise ConfigError(f"Could not write {path}; check that --save-flow is writable.")
        files.append(str(path))
    return files


def _write_output(path: Path, records: list[dict], ckpt) -> None:
    import csv
    import io
    import json

    from featref.atomic import atomic_write_text

    class_names = ckpt.class_names
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".json":
        head = {
            "checkpoint": str(ckpt.path),
            "model": ckpt.model_name,
            "class_names": list(class_names),
        }
        atomic_write_text(path, json.dumps({**head, "predictions": records}, indent=2) + "\n")
        return
    branches = {k for r in records for k in r.get("attention", {})}
    ordered = [b for b in class_names if b in branches] + sorted(branches - set(class_names))
    head = ["clip", "status", "error", "onset", "apex", "apex_source", "label"]
    head += [f"p_{n}" for n in class_names] + [f"attention_{b}" for b in ordered]
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(head)
    for r in records:
        probs, att = r.get("probabilities", {}), r.get("attention", {})
        w.writerow(
            [r["clip"], r["status"], r.get("error", "")]
            + [r.get(k, "") for k in ("onset", "apex", "apex_source", "label")]
            + [f"{probs[n]:.6f}" if n in probs else "" for n in class_names]
            + [f"{att[b]:.6f}" if b in att else "" for b in ordered]
        )
    atomic_write_text(path, buf.getvalue())


def main(args: argparse.Namespace) -> int:
    """Handler of ``featref predict``."""
    import traceback

    from featref.errors import ConfigError, MerError
    from featref.predict import Predictor
    from featref.training.loop import set_threads

    if args.output is not None and args.output.suffix.lower() not in (".json", ".csv"):
        raise ConfigError(f"--output must end in .json or .csv. Got {args.output}.")
    if args.threads < 1:
        raise ConfigError(f"--threads must be at least 1. Got {args.threads}.")
    set_threads(args.threads)
    predictor = Predictor.from_file(args.checkpoint, face_backend=args.face_backend)
    ckpt = predictor.checkpoint
    print(
        f"featref predict: {ckpt.model_name} from {ckpt.path} (classes "
        f"{','.join(ckpt.class_names)}; trained on {ckpt.data.get('source', '?')}), "
        f"{len(args.clips)} clip(s)",
        flush=True,
    )
    records, failed = [], 0
    for clip, name in zip(args.clips, _flow_names(args.clips)):
        try:
            pred = predictor.predict_clip(
                clip, onset=args.onset, apex=args.apex, offset=args.offset
            )
        except MerError as exc:
            failed += 1
            if args.debug:
                traceback.print_exc()
            print(f"featref predict: error: {exc}", file=sys.stderr, flush=True)
            records.append({"clip": str(clip.resolve()), "status": "error", "error": str(exc)})
            continue
        record = {"status": "ok", **pred.to_record()}
        if args.save_flow is not None:
            record["flow_images"] = _save_flow(args.save_flow, name, pred)
        records.append(record)
        print(_format(pred), flush=True)
    if args.output is not None:
        _write_output(args.output, records, ckpt)
        print(f"wrote {len(records)} prediction(s) to {args.output}")
    if args.save_flow is not None:
        print(f"flow images in {args.save_flow}")
    if failed and len(args.clips) > 1:
        print(
            f"featref predict: {failed} of {len(args.clips)} clip(s) failed (see above).",
            file=sys.stderr,
        )
    return 1 if failed else 0
