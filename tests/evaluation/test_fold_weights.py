"""Predictions from published per-fold weights: file lookup, strict loading, input encodings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from featref.cli import main as cli_main
from featref.errors import CheckpointError, ConfigError, DatasetNotFoundError
from featref.evaluation.fold_weights import (
    predict_with_fold_weights,
    ststnet_release_input,
    weight_path,
)
from featref.evaluation.predictions import read_megc_log, read_predictions
from featref.models import create_model
from featref.preprocess.synthetic_flow import make_synthetic_flows


def _save_fold_weights(folder, subjects, model="ststnet") -> dict[str, dict]:
    """One differently initialised model per subject, saved as the release does (a state dict)."""
    folder.mkdir(parents=True, exist_ok=True)
    states = {}
    for k, subject in enumerate(subjects):
        torch.manual_seed(100 + k)
        net = create_model(model, num_classes=3, in_channels=3)
        for name, buf in net.named_buffers():  # non-trivial BatchNorm statistics
            if name.endswith("running_mean"):
                buf.normal_()
            elif name.endswith("running_var"):
                buf.uniform_(0.5, 2.0)
        states[subject] = net.state_dict()
        torch.save(states[subject], weight_path(folder, subject))
    return states


def _direct(state: dict, x: np.ndarray, model: str = "ststnet") -> np.ndarray:
    net = create_model(model, num_classes=3, in_channels=x.shape[1])
    net.load_state_dict(state)
    with torch.no_grad():
        return torch.softmax(net.eval()(torch.as_tensor(x)), -1).numpy()


@pytest.fixture(scope="module")
def flows():
    return make_synthetic_flows(subjects=3, clips_per_class=2)


def test_weight_path_uses_the_databases_own_subject_id(tmp_path):
    assert weight_path(tmp_path, "samm/006") == tmp_path / "006.pth"
    assert weight_path(tmp_path, "casme2/sub01", "{database}_{subject}.pt") == (
        tmp_path / "casme2_sub01.pt"
    )


def test_each_subject_is_predicted_by_its_own_folds_weights(flows, tmp_path):
    subjects = list(dict.fromkeys(flows.subjects))
    states = _save_fold_weights(tmp_path, subjects)
    rows = predict_with_fold_weights(flows, "ststnet", tmp_path)
    assert [r.sample_id for r in rows] == list(flows.sample_ids)
    for subject in subjects:
        idx = [i for i, s in enumerate(flows.subjects) if s == subject]
        expected = _direct(states[subject], flows.x[idx])
        got = np.array([rows[i].probs for i in idx])
        np.testing.assert_allclose(got, expected, atol=2e-6)
        assert [rows[i].y_pred for i in idx] == [flows.class_names[p] for p in expected.argmax(1)]
        assert {rows[i].subject for i in idx} == {subject}
    # the mapping matters: another subject's weights give other outputs
    other = _direct(states[subjects[1]], flows.x[:1])
    assert not np.allclose(rows[0].probs, other[0], atol=1e-4)


def test_missing_files_are_listed(flows, tmp_path):
    subjects = list(dict.fromkeys(flows.subjects))
    _save_fold_weights(tmp_path, subjects[:1])
    with pytest.raises(DatasetNotFoundError, match=r"2 of 3 subjects have no weight file"):
        predict_with_fold_weights(flows, "ststnet", tmp_path)


def test_foreign_or_broken_files_are_refused(flows, tmp_path):
    subjects = list(dict.fromkeys(flows.subjects))
    _save_fold_weights(tmp_path, subjects)
    bad = weight_path(tmp_path, subjects[0])
    torch.save({"conv1.weight": torch.zeros(3, 3, 3, 3)}, bad)  # keys of another model
    with pytest.raises(CheckpointError, match=str(bad.name)):
        predict_with_fold_weights(flows, "ststnet", tmp_path)
    torch.save(torch.zeros(3), bad)  # not a state dict
    with pytest.raises(CheckpointError, match="not a state dict"):
        predict_with_fold_weights(flows, "ststnet", tmp_path)
    bad.write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="not a readable"):
        predict_with_fold_weights(flows, "ststnet", tmp_path)


def test_release_encoding_is_bgr_order_at_8_bit_levels():
    levels = np.random.default_rng(0).integers(0, 256, size=(2, 3, 4, 4))
    x = (levels / 255.0).astype(np.float32)  # as the reader stores an 8-bit image
    out = ststnet_release_input(x, ("u", "v", "strain"))
    np.testing.assert_array_equal(out, levels[:, ::-1].astype(np.float32))
    with pytest.raises(ConfigError, match="u, v, strain"):
        ststnet_release_input(x[:, :2], ("u", "v"))


@pytest.mark.real_data
def test_release_workflow_on_the_composite(megc2019_dir, tmp_path, capsys):
    """The command reads the published images as the release does (cv2.imread, unscaled)."""
    import cv2

    from featref.datasets.megc2019 import Megc2019Flow

    reader = Megc2019Flow(megc2019_dir)
    flows = reader.load()
    subjects = list(dict.fromkeys(flows.subjects))
    states = _save_fold_weights(tmp_path / "w", subjects)
    code = cli_main(
        [
            "evaluate-weights",
            "--model",
            "ststnet",
            "--weights-dir",
            str(tmp_path / "w"),
            "--encoding",
            "ststnet_release",
            "--data-dir",
            str(megc2019_dir),
            "--output-dir",
            str(tmp_path / "out"),
        ]
    )
    assert code == 0
    assert "all" in capsys.readouterr().out
    rows = read_predictions(tmp_path / "out" / "predictions.csv")
    assert len(rows) == 442 and len(read_megc_log(tmp_path / "out" / "megc2019.txt")) == 442
    by_id = {r.sample_id: r for r in rows}
    for subject in (subjects[0], "samm/006", "smic/s01"):
        samples = [s for s in reader.samples() if s.subject_id == subject]
        # the release's own input: cv2.imread (BGR), float, channels first, no scaling
        x = np.stack(
            [cv2.imread(str(reader.image_path(s))).transpose(2, 0, 1) for s in samples]
        ).astype(np.float32)
        expected = _direct(states[subject], x)
        got = np.array([by_id[s.sample_id].probs for s in samples])
        np.testing.assert_allclose(got, expected, atol=2e-6)
