"""``featref train`` then ``featref predict`` on synthetic clips whose class is known.

The clips come from :mod:`featref.datasets.synthetic` (faces from installed packages, animated
with action-unit-like motions, one distinct motion per class), written in CASME II's layout. The
model is trained with ``featref prepare`` + ``featref train`` on one synthetic database and
predicts the clips of another (other seed: other identity draws, other clips).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from featref.cli import main
from featref.datasets.casme2 import Casme2
from featref.datasets.synthetic import SyntheticConfig, write_casme2
from featref.labels import megc2019_class
from featref.preprocess.clip import ClipError, clip_flow, open_clip
from featref.preprocess.pipeline import PreprocessConfig, prepared_config
from featref.training.checkpoint import Checkpoint, load_checkpoint

# Small and fast: 50 fps clips (about 15 frames), a slim FR model, no dropout.
FPS = 50
TRAIN_ARGS = [
    "--model", "featref",
    "--model-arg", "stream_filters=[2, 4]",
    "--model-arg", "branch_width=16",
    "--model-arg", "dropout=0.0",
    "--epochs", "60",
    "--batch-size", "16",
    "--lr", "3e-3",
    "--seeds", "0",
    "--no-progress",
]  # fmt: skip


@dataclass(frozen=True)
class Trained:
    checkpoint: Path
    prepared: Path
    clips: list[tuple[Path, int, int, int, str]]  # folder, onset, apex, offset, class


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Trained:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    try:
        root = tmp_path_factory.mktemp("train_predict")
        write_casme2(root / "train", SyntheticConfig(subjects=3, clips_per_class=2, fps=FPS))
        write_casme2(root / "test", SyntheticConfig(subjects=1, clips_per_class=1, fps=FPS, seed=7))
        prepare = ["prepare", "casme2", "--data-dir", str(root / "train")]
        prepare += ["--cache-dir", str(root / "cache"), "--label-scheme", "megc2019"]
        assert main(prepare + ["--no-progress"]) == 0
        (manifest,) = (root / "cache").glob("casme2/*/manifest.json")
        ckpt = root / "fr.pt"
        train = ["train", "--data", "prepared", "--data-dir", str(manifest.parent)]
        assert main(train + TRAIN_ARGS + ["--output", str(ckpt)]) == 0
    finally:
        torch.set_num_threads(threads)
    clips = [
        (s.frame_dir, s.onset, s.apex, s.offset, megc2019_class("casme2", s.emotion))
        for s in Casme2(root / "test").samples()
    ]
    assert sorted(c[-1] for c in clips) == ["negative", "positive", "surprise"]
    return Trained(ckpt, manifest.parent, clips)


def _predict(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(["predict", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_checkpoint_carries_everything_predict_needs(trained):
    raw = torch.load(trained.checkpoint, map_location="cpu", weights_only=True)
    assert raw["format"] == "featref-checkpoint"
    ckpt = load_checkpoint(trained.checkpoint)
    assert ckpt.model_name == "featref" and ckpt.model_card["name"] == "featref"
    assert ckpt.model_kwargs == {"stream_filters": [2, 4], "branch_width": 16, "dropout": 0.0}
    assert ckpt.class_names == ("negative", "positive", "surprise")
    assert ckpt.channels == ("u", "v", "strain") and ckpt.input_size == (3, 28, 28)
    assert PreprocessConfig(**ckpt.preprocess) == prepared_config(trained.prepared)
    assert ckpt.train_config["train"]["epochs"] == 60 and ckpt.seed == 0
    assert ckpt.train_config["train"]["seeds"] == (0,)
    assert ckpt.data["source"] == "prepared" and ckpt.data["num_subjects"] >= 2
    assert len(ckpt.history) == 60 and ckpt.normalisation == "minmax"


@pytest.mark.slow
def test_predict_gives_the_known_class_of_held_out_clips(trained, capsys, tmp_path):
    for folder, onset, apex, _, cls in trained.clips:
        out_file = tmp_path / f"{folder.name}.json"
        argv = ["--checkpoint", str(trained.checkpoint), str(folder)]
        argv += ["--onset", str(onset), "--apex", str(apex), "--output", str(out_file)]
        code, out, err = _predict(argv, capsys)
        assert code == 0, err
        assert f"class:         {cls}" in out
        assert f"onset {onset}, apex {apex} (given)" in out
        (rec,) = json.loads(out_file.read_text())["predictions"]
        assert rec["label"] == cls and rec["status"] == "ok"
        assert max(rec["probabilities"], key=rec["probabilities"].get) == cls
        assert sum(rec["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert set(rec["attention"]) == {"negative", "positive", "surprise"}


@pytest.mark.slow
def test_predict_spots_the_apex_and_writes_csv_and_flow_images(trained, capsys, tmp_path):
    folders = [c[0] for c in trained.clips]
    argv = ["--checkpoint", str(trained.checkpoint), *map(str, folders)]
    argv += ["--output", str(tmp_path / "p.csv"), "--save-flow", str(tmp_path / "flow")]
    code, out, err = _predict(argv, capsys)
    assert code == 0, err
    assert out.count("(spotted)") == 3 and "wrote 3 prediction(s)" in out
    with open(tmp_path / "p.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["clip"] for r in rows] == [str(f) for f in folders]
    for row, (_, onset, _, offset, _) in zip(rows, trained.clips):
        assert row["status"] == "ok" and row["apex_source"] == "spotted"
        assert int(row["onset"]) == onset and onset < int(row["apex"]) <= offset
        probs = [float(row[f"p_{c}"]) for c in ("negative", "positive", "surprise")]
        assert sum(probs) == pytest.approx(1.0, abs=1e-4)
        assert float(row["attention_positive"]) > 0
    for folder in folders:
        for channel in ("u", "v", "strain"):
            img = cv2.imread(str(tmp_path / "flow" / f"{folder.name}_{channel}.png"), 0)
            assert img is not None and img.shape == (28, 28) and img.max() == 255


@pytest.mark.slow
def test_predict_a_video_file(trained, capsys, tmp_path):
    folder, onset, apex, offset, cls = trained.clips[0]
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (192, 192))
    for n in range(onset, offset + 1):
        writer.write(cv2.imread(str(folder / f"img{n}.jpg")))
    writer.release()
    argv = ["--checkpoint", str(trained.checkpoint), str(video), "--apex", str(apex - onset)]
    code, out, err = _predict(argv, capsys)
    assert code == 0, err
    assert f"onset 0, apex {apex - onset} (given)" in out and f"class:         {cls}" in out


@pytest.mark.slow
def test_no_face_is_one_clear_error_and_other_clips_still_predicted(trained, capsys, tmp_path):
    gray = tmp_path / "gray_clip"
    gray.mkdir()
    for n in range(1, 9):
        cv2.imwrite(str(gray / f"img{n}.jpg"), np.full((192, 192, 3), 128, np.uint8))
    code, out, err = _predict(["--checkpoint", str(trained.checkpoint), str(gray)], capsys)
    assert code == 1
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and str(gray) in lines[0] and "no face found" in lines[0]
    assert "Traceback" not in err

    good = trained.clips[0][0]
    out_file = tmp_path / "p.json"
    argv = ["--checkpoint", str(trained.checkpoint), str(gray), str(good)]
    code, out, err = _predict(argv + ["--output", str(out_file)], capsys)
    assert code == 1 and "1 of 2 clip(s) failed" in err
    assert f"{good}\n  frames:" in out and out.count("class:") == 1
    recs = json.loads(out_file.read_text())["predictions"]
    assert [r["status"] for r in recs] == ["error", "ok"] and "no face" in recs[0]["error"]


@pytest.mark.slow
def test_clip_frame_numbers_and_bad_onset_apex(trained, tmp_path):
    folder, onset, apex, offset, _ = trained.clips[0]
    frames = open_clip(folder)
    assert frames.kind == "folder" and frames.numbers == tuple(range(onset, offset + 1))
    cfg = prepared_config(trained.prepared)
    with pytest.raises(ClipError, match=rf"no apex frame {offset + 5}; .* numbered {onset}\."):
        clip_flow(frames, cfg, None, apex=offset + 5)
    with pytest.raises(ClipError, match="must come after the onset"):
        clip_flow(frames, cfg, None, onset=apex, apex=apex)


def test_train_and_predict_refuse_bad_options(tmp_path, capsys):
    assert main(["train", "--seeds", "0,1", "--epochs", "1"]) == 1
    assert "trains one model: give one seed" in capsys.readouterr().err
    assert main(["train", "--workers", "2"]) == 1
    assert "--workers does not apply" in capsys.readouterr().err
    ckpt = tmp_path / "missing.pt"
    assert main(["predict", "--checkpoint", str(ckpt), str(tmp_path)]) == 1
    assert f"{ckpt} does not exist" in capsys.readouterr().err
    assert main(["predict", "--checkpoint", str(ckpt), str(tmp_path), "--output", "p.txt"]) == 1
    assert "--output must end in .json or .csv" in capsys.readouterr().err


def test_missing_clip_and_empty_folder(tmp_path):
    with pytest.raises(ClipError, match=r"nowhere does not exist \(expected a frame folder"):
        open_clip(tmp_path / "nowhere")
    with pytest.raises(ClipError, match="holds no frames"):
        open_clip(tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ClipError, match="not a frame folder or a video file"):
        open_clip(tmp_path / "notes.txt")


def test_train_on_synthetic_flow_records_no_preprocessing(tmp_path, capsys):
    ckpt = tmp_path / "syn.pt"
    argv = ["train", "--model", "ststnet", "--epochs", "1", "--output", str(ckpt)]
    assert main(argv + ["--no-progress"]) == 0
    assert f"checkpoint: {ckpt}" in capsys.readouterr().out
    loaded = load_checkpoint(ckpt)
    assert loaded.preprocess is None and loaded.data["source"] == "synthetic"
    assert loaded.normalisation == "minmax" and not loaded.uint8_levels


def test_published_image_checkpoints_use_default_preprocessing_and_8bit_levels():
    from featref.predict import preprocess_config

    ckpt = Checkpoint(
        model_name="ststnet",
        model_kwargs={},
        model_card={},
        state_dict={},
        class_names=("negative", "positive", "surprise"),
        channels=("u", "v"),
        input_size=(2, 28, 28),
        preprocess=None,
        normalisation="minmax",
        uint8_levels=True,
    )
    cfg = preprocess_config(ckpt, face_backend="haar")
    assert cfg.output_size == 28 and not cfg.strain and cfg.normalisation == "minmax"
    assert cfg.crop_size == PreprocessConfig().crop_size
