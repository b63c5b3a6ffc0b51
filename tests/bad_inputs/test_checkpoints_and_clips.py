"""Bad checkpoints and clips given to ``featref predict``."""

from __future__ import annotations

import zipfile

import pytest
import torch

from .conftest import fails


@pytest.fixture
def clip(tmp_path):
    d = tmp_path / "clip"
    d.mkdir()
    return d


def _foreign(p):
    torch.save({"weights": torch.zeros(2)}, p)


def _bare_state_dict(p):
    torch.save({"conv.weight": torch.zeros(1, 1, 3, 3)}, p)


def _pickled_object(p):
    torch.save({"format": "featref-checkpoint", "obj": zipfile.ZipInfo("x")}, p)


def _garbage(p):
    p.write_bytes(b"\x00\x01 not a torch file")


def _truncated(p):
    _foreign(p)
    p.write_bytes(p.read_bytes()[:100])


def _empty(p):
    p.write_bytes(b"")


BAD_CHECKPOINTS = [
    (_foreign, "is not a featref checkpoint"),
    (_bare_state_dict, "A bare state_dict loads with"),
    (_pickled_object, "refuses to unpickle"),
    (_garbage, "not a readable PyTorch file"),
    (_truncated, "not a readable PyTorch file"),
    (_empty, "not a readable PyTorch file"),
]


@pytest.mark.parametrize(("make", "needle"), BAD_CHECKPOINTS, ids=[n for _, n in BAD_CHECKPOINTS])
def test_bad_checkpoint(cli, tmp_path, clip, make, needle):
    ckpt = tmp_path / "model.pt"
    make(ckpt)
    fails(cli("predict", "--checkpoint", ckpt, clip), str(ckpt), needle)


def test_missing_checkpoint(cli, tmp_path, clip):
    fails(
        cli("predict", "--checkpoint", tmp_path / "nope.pt", clip),
        "nope.pt does not exist",
        "featref train",
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from featref.cli import main

    ckpt = tmp_path_factory.mktemp("ckpt") / "syn.pt"
    argv = ["train", "--model", "ststnet", "--epochs", "1", "--output", str(ckpt)]
    assert main(argv + ["--no-progress", "--seeds", "0"]) == 0
    return ckpt


def test_clip_that_does_not_exist(cli, trained, tmp_path):
    res = cli("predict", "--checkpoint", trained, tmp_path / "no_clip")
    fails(res, "no_clip")


def test_clip_folder_without_frames(cli, trained, clip):
    (clip / "notes.txt").write_text("hello")
    fails(cli("predict", "--checkpoint", trained, clip), str(clip))


def test_clip_that_is_not_a_video(cli, trained, tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("hello")
    fails(cli("predict", "--checkpoint", trained, f), "not a frame folder or a video file")


def test_bad_output_suffix(cli, trained, clip):
    res = cli("predict", "--checkpoint", trained, clip, "--output", clip / "p.txt")
    fails(res, "--output must end in .json or .csv")
