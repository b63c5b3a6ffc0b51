"""Fold-batched training (training.ensemble): equivalence with the per-fold path, and honesty."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from featref.config import ExperimentConfig, ModelConfig, TrainConfig
from featref.models import list_models
from featref.models._registry import model_parameters
from featref.training.ensemble import Member, train_ensemble
from featref.training.fit import build_model
from featref.training.loop import fold_seed, predict, train_one_fold
from featref.training.recipe import autocast

N, K = 90, 3


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = torch.rand(N, 3, 28, 28, generator=torch.Generator().manual_seed(seed))
    y = torch.as_tensor(rng.integers(0, K, N))
    subject = np.arange(N) % 5
    return x, y, subject


def _no_dropout(name: str) -> ModelConfig:
    """The model without dropout (why: :func:`test_batched_equals_per_fold`)."""
    params = model_parameters(name)
    return ModelConfig(name, {k: 0.0 for k in ("dropout", "branch_dropout") if k in params})


def _per_fold(mc, x, y, subject, cfg, folds):
    out = []
    for f in folds:
        s = fold_seed(0, f)
        torch.manual_seed(s)
        model = build_model(mc, num_classes=K, in_channels=3)
        tr = np.flatnonzero(subject != f)
        model = train_one_fold(
            model, x[tr], y[tr], cfg, seed=s, num_classes=K, negate_channels=(0,)
        )
        out.append(model)
    return out


def _batched(mc, x, y, subject, cfg, folds, *, x_train=None):
    models, members = [], []
    for f in folds:
        s = fold_seed(0, f)
        torch.manual_seed(s)
        models.append(build_model(mc, num_classes=K, in_channels=3))
        members.append(Member(s, np.flatnonzero(subject != f)))
    return train_ensemble(
        models,
        x if x_train is None else x_train,
        y,
        members,
        cfg,
        num_classes=K,
        negate_channels=(0,),
    )


def _per_fold_vs_batched(mc: ModelConfig, cfg: TrainConfig) -> dict[int, float]:
    """Both paths on folds 0, 1, 4 of unequal size: the max probability difference per fold.

    Fold 4 holds out 7 + 18 samples, the others 18 or fewer: different numbers of training
    samples, short last batches of different lengths, different LR schedules.
    """
    x, y, subject = _data()
    subject = subject.copy()
    subject[:7] = 4
    folds = [0, 1, 4]
    ref = _per_fold(mc, x, y, subject, cfg, folds)
    got = _batched(mc, x, y, subject, cfg, folds)
    diff = {}
    for f, a, b in zip(folds, ref, got):
        test = x[torch.as_tensor(subject == f)]
        diff[f] = float(np.abs(predict(a, test)["probs"] - predict(b, test)["probs"]).max())
    return diff


@pytest.mark.parametrize(
    "knobs",
    [
        {},
        {"flip": True},
        {"mixup": 0.3},
        {"ema_decay": 0.8},
        {"class_weight_power": 0.5},
        {"class_weighting": False, "lr_schedule": "constant"},
    ],
    ids=lambda k: ",".join(k) or "plain",
)
def test_batched_equals_per_fold(knobs):
    """Same initial weights and batches: predictions agree to 1e-4 after 3 epochs (fp32).

    (All knobs at once also agree, to ~1e-4: rounding differences of the two reductions grow over
    training, so the bound is checked knob by knob.) Without dropout: the masks are the
    per-fold path's too (the next tests), but by zeroing half the features dropout leaves many
    gradients near zero, where Adam's normalised step turns a rounding difference into one of up
    to the learning rate (with the constant LR here: 2.2e-3 on fold 4 after 3 epochs).
    """
    cfg = TrainConfig(epochs=3, batch_size=16, **knobs)
    assert max(_per_fold_vs_batched(_no_dropout("featref"), cfg).values()) <= 1e-4


def test_batched_equals_per_fold_with_dropout():
    """The default FR (dropout 0.5) and the default recipe (flip on): each model draws the
    per-fold path's masks, so predictions agree to 1e-4 after 3 epochs (before each model drew
    its own masks, the two paths differed by 0.038 here)."""
    cfg = TrainConfig(epochs=3, batch_size=16)
    assert cfg.flip and cfg.class_weighting
    assert max(_per_fold_vs_batched(ModelConfig("featref", {}), cfg).values()) <= 1e-4


@pytest.mark.parametrize(
    ("name", "kwargs", "precision"),
    [
        ("featref", {"branch_dropout": 0.3}, "fp32"),  # two dropout layers, 2-D inputs
        ("featref", {}, "bf16"),  # masks in the autocast dtype
        ("ststnet", {}, "fp32"),  # dropout on channels-last 4-D maps
    ],
)
def test_each_models_dropout_masks_are_its_per_fold_masks(name, kwargs, precision):
    """The ensemble's masks for a model are, bit for bit, the ones torch's dropout draws in the
    per-fold path after ``torch.manual_seed(seed)``, call after call, whoever trains beside it."""
    from featref.training.ensemble import _MemberDropout

    cfg = TrainConfig(precision=precision)
    mc = ModelConfig(name, kwargs)
    model = build_model(mc, num_classes=K, in_channels=3)
    seeds = [fold_seed(0, f) for f in range(3)]
    members = [Member(s, np.arange(10)) for s in seeds]
    base = copy.deepcopy(model).to("meta")
    ensemble = _MemberDropout(base, copy.deepcopy(model), members, torch.device("cpu"))
    steps = [ensemble.masks([0, 1, 2], 16, (3, 28, 28), cfg) for _ in range(2)]
    steps.append(ensemble.masks([2], 5, (3, 28, 28), cfg))  # a short last batch, one model
    assert steps[0], "the model has dropout layers"
    # what the per-fold path sees: the inputs its dropout layers get, and torch's masks for them
    calls: dict[int, list[tuple[torch.nn.Dropout, torch.Tensor]]] = {}  # in call order
    hooks = [
        m.register_forward_pre_hook(lambda mod, args: seen.append((mod, args[0])))
        for m in model.modules()
        if isinstance(m, torch.nn.Dropout)
    ]
    model = model.to(memory_format=torch.channels_last).train()
    for length in (16, 5):
        seen: list[tuple[torch.nn.Dropout, torch.Tensor]] = []
        x = torch.zeros(length, 3, 28, 28).contiguous(memory_format=torch.channels_last)
        with torch.no_grad(), autocast(cfg, torch.device("cpu")):
            model(x)
        calls[length] = [(mod, x) for mod, x in seen if mod.p > 0]
    for h in hooks:
        h.remove()
    for j, seed in enumerate(seeds):
        torch.manual_seed(seed)
        plan = [(16, steps[0]), (16, steps[1])] + ([(5, steps[2])] if j == 2 else [])
        for length, masks in plan:
            row = 0 if length == 5 else j
            for (layer, x), mask in zip(calls[length], masks, strict=True):
                expected = torch.nn.functional.dropout(torch.ones_like(x), layer.p, True)
                assert mask.dtype == x.dtype
                assert torch.equal(mask[row], expected), (name, j, length)


@pytest.mark.parametrize("name", list_models())
def test_every_registered_model_batches(name):
    x, y, subject = _data(1)
    cfg = TrainConfig(epochs=1, batch_size=16)
    mc = ModelConfig(name, {})  # with its dropout
    ref = _per_fold(mc, x, y, subject, cfg, [2])
    got = _batched(mc, x, y, subject, cfg, [2])
    test = x[torch.as_tensor(subject == 2)]
    diff = np.abs(predict(ref[0], test)["probs"] - predict(got[0], test)["probs"]).max()
    assert diff <= 1e-4


def test_test_subject_inputs_never_reach_its_model():
    """Poisoning fold 1's test subject with NaN leaves fold 1's trained weights bit-identical
    (the other folds train on those samples, so theirs change: the poison did reach the batch)."""
    x, y, subject = _data(2)
    cfg = TrainConfig(epochs=2, batch_size=16, flip=True, mixup=0.2)
    mc = ModelConfig("featref", {})  # with dropout: the honesty rule does not depend on it
    folds = [0, 1, 3]
    clean = _batched(mc, x, y, subject, cfg, folds)
    poisoned = x.clone()
    poisoned[torch.as_tensor(subject == 1)] = float("nan")
    dirty = _batched(mc, x, y, subject, cfg, folds, x_train=poisoned)
    for (name, a), (_, b) in zip(clean[1].named_parameters(), dirty[1].named_parameters()):
        assert torch.equal(a, b), name
    assert not all(
        torch.equal(a, b) for a, b in zip(clean[0].parameters(), dirty[0].parameters(), strict=True)
    )


def test_batchnorm_running_statistics_are_per_model():
    """BatchNorm in the streams: each model's running statistics equal its per-fold ones."""
    x, y, subject = _data(3)
    cfg = TrainConfig(epochs=1, batch_size=16)
    mc = ModelConfig("featref", {"batch_norm": True, "dropout": 0.0})
    ref = _per_fold(mc, x, y, subject, cfg, [0, 2])
    got = _batched(mc, x, y, subject, cfg, [0, 2])
    for a, b in zip(ref, got):
        for (name, u), (_, v) in zip(a.named_buffers(), b.named_buffers()):
            # BatchNorm amplifies float rounding (batch statistics in another order): 5e-3
            assert torch.allclose(u.float(), v.float(), rtol=5e-3, atol=5e-3), name
        test = x[:10]
        assert np.abs(predict(a, test)["probs"] - predict(b, test)["probs"]).max() <= 5e-3


def test_batched_executor_resumes_byte_identically(tmp_path):
    """kill -9 leaves some units of a chunk; the rerun retrains the chunk and writes only those."""
    from featref.evaluation.runner import run_loso
    from featref.preprocess.sources import load_flows as load

    cfg = ExperimentConfig(train=TrainConfig(epochs=1, seeds=(0,), ensemble_size=4))
    flows = load(cfg.data)
    out = tmp_path / "run"
    run_loso(flows, cfg, out, executor="batched")
    units = sorted((out / "units" / "seed0").glob("fold*.json"))
    before = (out / "predictions.csv").read_bytes()
    rows = {p.name: json.loads(p.read_text())["rows"] for p in units}
    for p in units[1:3] + units[5:6]:  # parts of two chunks, as an interrupted run leaves them
        p.unlink()
    (out / "predictions.csv").unlink()
    run_loso(flows, cfg, out, executor="batched")
    assert (out / "predictions.csv").read_bytes() == before
    assert {p.name: json.loads(p.read_text())["rows"] for p in units} == rows


@pytest.mark.real_data
@pytest.mark.slow
def test_batched_equals_per_fold_on_the_composite(megc2019_dir):
    """On the real composite, the default FR: the two executors' records agree
    to 2e-3 in probability, with the same predicted classes (the default recipe, flip included,
    3 epochs, the first 2 folds of seed 0)."""
    from featref.config import DataConfig
    from featref.evaluation.executors import EXECUTORS, WorkItem
    from featref.evaluation.protocols import protocol_folds
    from featref.evaluation.run_folder import config_hash
    from featref.evaluation.units import Unit, UnitJob
    from featref.preprocess.sources import load_flows

    cfg = ExperimentConfig(
        data=DataConfig(source="megc2019", data_dir=str(megc2019_dir)),
        model=ModelConfig("featref", {}),
        train=TrainConfig(epochs=3, seeds=(0,), ensemble_size=2),
    )
    flows = load_flows(cfg.data)
    job = UnitJob(flows, cfg, config_hash(cfg, flows))
    work = [WorkItem(0, job, Unit(0, f)) for f in protocol_folds(cfg, flows)[:2]]
    probs = {}
    for name in ("inprocess", "batched"):
        for _, rec in EXECUTORS[name](work, workers=1, threads=1):
            for row in rec["rows"]:
                probs.setdefault(row["sample_id"], []).append(np.array(row["probs"]))
    assert len(probs) == sum(len(w.unit.fold.test_ids) for w in work)
    # 42 steps on real data grow the two paths' rounding differences (channels-last per-fold
    # kernels vs grouped ones): measured 5.4e-4 with the default dropout and flip (before each
    # model drew the per-fold path's dropout masks: 0.081); the synthetic tests bound them at
    # 1e-4
    assert max(np.abs(a - b).max() for a, b in probs.values()) <= 2e-3
    assert all(int(np.argmax(a)) == int(np.argmax(b)) for a, b in probs.values())


def test_bf16_precision_trains_close_to_fp32_on_both_paths():
    """``[train] precision = "bf16"``: the forward pass under bfloat16 autocast, weights kept fp32.

    bf16 keeps 8 bits of mantissa, so the two precisions (and the two paths under bf16, whose
    kernels round differently) agree only loosely; the bound says "the same training", not
    "the same bits".
    """
    x, y, subject = _data(2)
    mc = ModelConfig("featref", {})
    fp32 = _per_fold(mc, x, y, subject, TrainConfig(epochs=3, batch_size=16), [3])[0]
    cfg = TrainConfig(epochs=3, batch_size=16, precision="bf16")
    per_fold = _per_fold(mc, x, y, subject, cfg, [3])[0]
    batched = _batched(mc, x, y, subject, cfg, [3])[0]
    assert all(p.dtype == torch.float32 for p in per_fold.parameters())
    test = x[torch.as_tensor(subject == 3)]
    p32, pf, pb = (predict(m, test)["probs"] for m in (fp32, per_fold, batched))
    assert pf.dtype == np.float32 and np.isfinite(pf).all()
    assert 0 < np.abs(pf - p32).max() <= 0.02  # bf16 did change the arithmetic, a little
    assert np.abs(pf - pb).max() <= 0.02
