"""Checkpoints: round trip through ``weights_only=True``, and clear errors for bad files."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from featref import __version__
from featref.errors import CheckpointError, MerError
from featref.models import create_model
from featref.preprocess.pipeline import PreprocessConfig
from featref.training.checkpoint import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    Checkpoint,
    load_checkpoint,
    save_checkpoint,
)

KWARGS = {"stream_filters": [2, 4], "branch_width": 8}
CLASSES = ("negative", "positive", "surprise")


def _checkpoint(model: torch.nn.Module) -> Checkpoint:
    return Checkpoint.from_model(
        model,
        model_name="featref",
        model_kwargs=KWARGS,
        class_names=CLASSES,
        channels=("u", "v", "strain"),
        input_size=(3, 28, 28),
        preprocess=PreprocessConfig(crop_size=64).to_dict(),
        normalisation="minmax",
        train_config={"train": {"epochs": 3, "seeds": (0,)}, "model": {"name": "featref"}},
        seed=0,
        data={"source": "prepared", "num_samples": 12},
        history=[{"epoch": 1, "loss": 1.1, "accuracy": 0.3}],
    )


@pytest.fixture
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    net = create_model("featref", num_classes=3, in_channels=3, **KWARGS)
    # one optimiser step, so the weights differ from a fresh initialisation
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    net(torch.rand(4, 3, 28, 28)).logits.sum().backward()
    opt.step()
    return net.eval()


@pytest.fixture
def saved(tmp_path: Path, model: torch.nn.Module) -> Path:
    return save_checkpoint(_checkpoint(model), tmp_path / "model.pt")


def test_round_trip_loads_with_weights_only_and_predicts_identically(saved, model):
    raw = torch.load(saved, map_location="cpu", weights_only=True)  # plain types only
    assert raw["format"] == CHECKPOINT_FORMAT and raw["format_version"] == CHECKPOINT_VERSION
    ckpt = load_checkpoint(saved)
    assert ckpt.path == saved
    assert ckpt.model_name == "featref" and ckpt.model_kwargs == KWARGS
    assert ckpt.model_card["name"] == "featref" and ckpt.model_card["paper"]
    assert ckpt.class_names == CLASSES and ckpt.channels == ("u", "v", "strain")
    assert ckpt.input_size == (3, 28, 28)
    assert PreprocessConfig(**ckpt.preprocess) == PreprocessConfig(crop_size=64)
    assert ckpt.featref_version == __version__
    assert ckpt.history[0]["loss"] == 1.1 and ckpt.data["num_samples"] == 12
    x = torch.rand(5, 3, 28, 28)
    with torch.no_grad():
        before, after = model(x), ckpt.build_model()(x)
    assert torch.equal(before.logits, after.logits)
    assert torch.equal(before.attention, after.attention)


def test_save_refuses_values_weights_only_cannot_load(tmp_path, model):
    ckpt = _checkpoint(model)
    bad = Checkpoint(**{**ckpt.__dict__, "model_kwargs": {"where": Path("/x")}})
    with pytest.raises(CheckpointError, match=r"checkpoint\.model\.kwargs\.where is a .*Path"):
        save_checkpoint(bad, tmp_path / "bad.pt")
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match=r"nowhere\.pt does not exist.*featref train"):
        load_checkpoint(tmp_path / "nowhere.pt")


def test_truncated_and_garbage_files_are_unreadable(tmp_path, saved):
    cut = tmp_path / "cut.pt"
    cut.write_bytes(saved.read_bytes()[:2000])
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    for path in (cut, garbage):
        with pytest.raises(CheckpointError, match="is not a readable PyTorch file") as info:
            load_checkpoint(path)
        assert str(path) in str(info.value)


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_file_with_arbitrary_objects_is_refused_not_unpickled(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "payload": _Evil()}, path)
    with pytest.raises(CheckpointError, match="refuses to unpickle"):
        load_checkpoint(path)
    assert "must never run" not in capsys.readouterr().out
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(MerError, match=str(plain)):
        load_checkpoint(plain)


def test_foreign_torch_files_are_named_as_such(tmp_path, model):
    state = tmp_path / "state_dict.pt"
    torch.save(model.state_dict(), state)
    with pytest.raises(CheckpointError, match="not a featref checkpoint.*bare state_dict"):
        load_checkpoint(state)
    tensor = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), tensor)
    with pytest.raises(CheckpointError, match="not a featref checkpoint.*found Tensor"):
        load_checkpoint(tensor)


def test_newer_format_and_damaged_entries(tmp_path, saved):
    payload = torch.load(saved, weights_only=True)
    newer = tmp_path / "newer.pt"
    torch.save({**payload, "format_version": CHECKPOINT_VERSION + 1}, newer)
    with pytest.raises(CheckpointError, match="format version 2.*Upgrade featref"):
        load_checkpoint(newer)
    damaged = tmp_path / "damaged.pt"
    broken = {k: v for k, v in payload.items() if k != "class_names"}
    broken["input_size"] = [2, 28, 28]
    torch.save(broken, damaged)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(damaged)
    msg = str(info.value)
    assert str(damaged) in msg and "'class_names' is missing" in msg
    assert "disagrees with channels" in msg


def test_weights_of_another_model_give_a_clear_error(tmp_path, saved):
    payload = torch.load(saved, weights_only=True)
    payload["model"]["kwargs"] = {"stream_filters": [3, 6], "branch_width": 8}
    other = tmp_path / "other.pt"
    torch.save(payload, other)
    ckpt = load_checkpoint(other)
    with pytest.raises(CheckpointError, match=r"weights in .*other\.pt do not fit model"):
        ckpt.build_model()
