"""Benchmark: a leave-one-subject-out seed three ways, against the machine's FLOP and memory limits.

In one invocation, on the same folds of the same data with the same model and recipe:

* ``loop``: the straightforward per-fold loop one writes first: one process, PyTorch's default
  thread count, NCHW tensors, a ``DataLoader`` over a ``TensorDataset`` with ``shuffle=True``,
  ``torch.optim.AdamW`` without the fused kernel, the recipe's horizontal flip written inline,
  folds one after another (before 2026-12-03 15:00 the loop had no flip, while featref's executors
  flipped: figures of then understate featref's speed-up by the flip's cost);
* ``runner``: featref's per-fold executor (``--executor pool``: one spawned process per core, one
  thread each, channels-last tensors, fused AdamW, index-based batching);
* ``batched``: featref's fold-batched executor (``--executor batched``: every fold of the seed
  trained as one vectorised ensemble in one process with ``--threads`` threads);
* ``runner_bf16``: the per-fold executor again with ``[train] precision = "bf16"`` (the forward
  pass under bfloat16 autocast; an option, not the default), reported beside the fp32 figures
  (``runner_bf16_s``, ``speedup_vs_loop_bf16``, ``ratio_to_flop_limit_bf16``, the latter still
  against the fp32 FLOP limit).

It also measures what bounds the work on this machine: a 2048x2048 GEMM's rate in fp32 and bf16
with all threads (``gemm_gflops_*``), the model's multiply-accumulates per sample
(``macs_per_sample``, counted by ``torch.utils.flop_counter``), hence the time a seed would take at
the fp32 GEMM rate (``flop_limit_s`` = folds x epochs x training samples x 3 (forward, two
backward products) x 2 x MACs / rate), and a memory-traffic bound (``memory_limit_s``: every
activation written once and read three times per step, at the measured copy bandwidth).

Usage (the MEGC2019 composite, FR u, v, strain, the default recipe)::

    python benchmarks/bench_loso.py --data megc2019 --data-dir ../shared/data/megc2019 \\
        --json bench.json
    python benchmarks/bench_loso.py --folds 4            # embedded synthetic data, 4 folds

Run it on an otherwise idle machine (no tests or other runs beside it) and say the load you saw.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import time

import numpy as np
import torch

from featref.config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig
from featref.evaluation.executors import EXECUTORS, WorkItem
from featref.evaluation.metrics import accuracy, uf1
from featref.evaluation.protocols import LeaveOneSubjectOut
from featref.evaluation.run_folder import config_hash
from featref.evaluation.units import Unit, UnitJob
from featref.preprocess.sources import load_flows
from featref.training.fit import build_model
from featref.training.losses import class_weights, model_loss, output_logits


def straightforward_fold(flows, fold, cfg: ExperimentConfig, seed: int) -> np.ndarray:
    """One fold the plain way; returns the predicted classes of the test subject."""
    index = {s: i for i, s in enumerate(flows.sample_ids)}
    train = [index[s] for s in fold.train_ids]
    test = [index[s] for s in fold.test_ids]
    torch.manual_seed(seed)
    k = len(flows.class_names)
    model = build_model(cfg.model, num_classes=k, in_channels=len(flows.channels))
    x = torch.as_tensor(flows.x[train])
    y = torch.as_tensor(flows.labels[train])
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y), batch_size=cfg.train.batch_size, shuffle=True
    )
    opt = torch.optim.AdamW(
        model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay
    )
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.train.epochs * len(loader))
    weight = class_weights(y, k)
    u = [i for i, c in enumerate(flows.channels) if c == "u"]
    model.train()
    for _ in range(cfg.train.epochs):
        for xb, yb in loader:
            if cfg.train.flip:  # the recipe's flip, written plainly: mirror half, u -> 1 - u
                mirrored = xb.flip(-1)
                mirrored[:, u] = 1 - mirrored[:, u]
                xb = torch.where((torch.rand(len(xb)) < 0.5).view(-1, 1, 1, 1), mirrored, xb)
            out = model(xb)
            loss = model_loss(
                out, yb, class_weight=weight, proposal_weight=cfg.train.proposal_weight
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    with torch.no_grad():
        out = model(torch.as_tensor(flows.x[test]))
    return output_logits(out).argmax(1).numpy()


def executor_folds(name: str, flows, cfg, folds, *, workers: int, threads: int) -> dict[str, int]:
    """One of featref's executors on exactly these folds (the units ``run_loso`` would compute).

    Returns:
        The predicted class index of every test sample, by sample id.
    """
    job = UnitJob(flows, cfg, config_hash(cfg, flows))
    work = [WorkItem(0, job, Unit(0, f)) for f in folds]
    names = list(flows.class_names)
    pred = {}
    for _, rec in EXECUTORS[name](work, workers=workers, threads=threads):
        pred.update({r["sample_id"]: names.index(r["y_pred"]) for r in rec["rows"]})
    return pred


def gemm_gflops(dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """Best rate of an n x n GEMM with the current thread count."""
    a = torch.randn(n, n).to(dtype)
    b = torch.randn(n, n).to(dtype)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def copy_gbps(mb: int = 256, repeats: int = 5) -> float:
    """Memory bandwidth of a large tensor copy (bytes read + written per second)."""
    src = torch.ones(mb * 2**20 // 4)
    dst = torch.empty_like(src)
    dst.copy_(src)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        dst.copy_(src)
        best = min(best, time.perf_counter() - t0)
    return 2 * src.numel() * 4 / best / 1e9


def model_costs(cfg: ExperimentConfig, in_channels: int, k: int, hw: tuple[int, int]):
    """(MACs per sample of one forward pass, activation bytes per sample of one forward pass)."""
    from torch.utils.flop_counter import FlopCounterMode

    model = build_model(cfg.model, num_classes=k, in_channels=in_channels).train()
    x = torch.rand(8, in_channels, *hw)
    with FlopCounterMode(display=False) as counter:
        model(x)
    macs = counter.get_total_flops() / 2 / len(x)
    sizes: list[int] = []

    def hook(_module, _inputs, output):
        for t in output if isinstance(output, tuple) else (output,):
            if isinstance(t, torch.Tensor):
                sizes.append(t.numel() * t.element_size())

    handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
    model(x)
    for h in handles:
        h.remove()
    return macs, sum(sizes) / len(x)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data", type=str, default="synthetic", help="synthetic | megc2019")
    p.add_argument("--data-dir", type=str, default=None, help="data folder for megc2019")
    p.add_argument("--model", type=str, default="featref", help="model name")
    p.add_argument("--folds", type=int, default=0, help="time the first N folds (0 = all)")
    p.add_argument("--epochs", type=int, default=TrainConfig().epochs, help="epochs per fold")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="runner workers")
    p.add_argument(
        "--threads", type=int, default=os.cpu_count() or 1, help="batched executor threads"
    )
    p.add_argument("--skip-loop", action="store_true", help="do not time the plain loop")
    p.add_argument(
        "--skip-batched", action="store_true", help="do not time the fold-batched executor"
    )
    p.add_argument("--json", type=str, default=None, help="also write the results here")
    args = p.parse_args()

    cfg = ExperimentConfig(
        data=DataConfig(source=args.data, data_dir=args.data_dir),
        model=ModelConfig(args.model),
        train=TrainConfig(epochs=args.epochs, seeds=(0,)),
    )
    flows = load_flows(cfg.data)
    folds = list(LeaveOneSubjectOut().split(flows.sample_ids, flows.subjects))
    n_all = len(folds)
    n = args.folds or n_all
    folds = folds[:n]
    k = len(flows.class_names)
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
        f"{torch.__version__}; {args.model} on {args.data} ({','.join(flows.channels)}): "
        f"{n} of {n_all} folds, {args.epochs} epochs; load average before: "
        f"{os.getloadavg()[0]:.2f}"
    )
    ids = [s for f in folds for s in f.test_ids]
    truth = [int(flows.labels[flows.sample_ids.index(s)]) for s in ids]
    results: dict[str, object] = {
        "folds": n,
        "folds_in_protocol": n_all,
        "epochs": args.epochs,
        "model": args.model,
    }
    preds: dict[str, list[int]] = {}

    torch.set_num_threads(os.cpu_count() or 1)
    results["gemm_gflops_fp32"] = round(gemm_gflops(torch.float32), 1)
    results["gemm_gflops_bf16"] = round(gemm_gflops(torch.bfloat16), 1)
    results["copy_gbps"] = round(copy_gbps(), 1)
    macs, act_bytes = model_costs(cfg, len(flows.channels), k, flows.x.shape[2:])
    results["macs_per_sample"] = int(macs)
    results["activation_bytes_per_sample"] = int(act_bytes)
    samples = sum(len(f.train_ids) for f in folds) * args.epochs  # training sample-passes
    results["flop_limit_s"] = round(samples * 3 * 2 * macs / (results["gemm_gflops_fp32"] * 1e9), 1)
    results["memory_limit_s"] = round(samples * act_bytes * 4 / (results["copy_gbps"] * 1e9), 1)

    if not args.skip_loop:
        t0 = time.perf_counter()
        plain: list[int] = []
        for fold in folds:
            plain += straightforward_fold(flows, fold, cfg, seed=fold.index).tolist()
        results["loop_s"] = round(time.perf_counter() - t0, 1)
        preds["loop_s"] = plain
    bf16 = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, precision="bf16"))
    for key, name, run_cfg, kw in (
        ("runner_s", "pool", cfg, {"workers": args.workers, "threads": 1}),
        ("runner_bf16_s", "pool", bf16, {"workers": args.workers, "threads": 1}),
        ("batched_s", "batched", cfg, {"workers": 1, "threads": args.threads}),
    ):
        if key == "batched_s" and args.skip_batched:
            continue
        torch.set_num_threads(os.cpu_count() or 1)
        t0 = time.perf_counter()
        by_id = executor_folds(name, flows, run_cfg, folds, **kw)
        results[key] = round(time.perf_counter() - t0, 1)
        preds[key] = [by_id[i] for i in ids]
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    results["peak_rss_mb"] = round(max(usage, children) / 1024, 1)
    timed = {"pool": results["runner_s"], "batched": results.get("batched_s", float("inf"))}
    results["fastest_executor"] = min(timed, key=timed.get)
    best = timed[results["fastest_executor"]]
    if "loop_s" in results:
        results["speedup_vs_loop"] = round(results["loop_s"] / best, 2)
        results["speedup_vs_loop_bf16"] = round(results["loop_s"] / results["runner_bf16_s"], 2)
    results["ratio_to_flop_limit"] = round(best / results["flop_limit_s"], 2)
    results["ratio_to_flop_limit_bf16"] = round(
        results["runner_bf16_s"] / results["flop_limit_s"], 2
    )
    results["binding_limit"] = (
        "memory" if results["memory_limit_s"] > results["flop_limit_s"] else "flops"
    )
    results["load_average_after"] = round(os.getloadavg()[0], 2)

    labels = list(range(k))
    print(f"{'approach':36s} {'wall s':>8s} {'s/fold':>8s} {'UF1':>7s} {'acc':>7s}")
    for key, title in (
        ("loop_s", "straightforward per-fold loop"),
        ("runner_s", f"featref pool ({args.workers} workers)"),
        ("runner_bf16_s", f"featref pool, bf16 ({args.workers} workers)"),
        ("batched_s", f"featref batched ({args.threads} threads)"),
    ):
        if key in preds:
            t = results[key]
            print(
                f"{title:36s} {t:8.1f} {t / n:8.2f} {uf1(truth, preds[key], labels=labels):7.3f} "
                f"{accuracy(truth, preds[key]):7.3f}"
            )
    for key in (
        "macs_per_sample",
        "activation_bytes_per_sample",
        "gemm_gflops_fp32",
        "gemm_gflops_bf16",
        "copy_gbps",
        "flop_limit_s",
        "memory_limit_s",
        "binding_limit",
        "fastest_executor",
        "speedup_vs_loop",
        "ratio_to_flop_limit",
        "speedup_vs_loop_bf16",
        "ratio_to_flop_limit_bf16",
        "peak_rss_mb",
        "load_average_after",
    ):
        if key in results:
            print(f"{key:28s} {results[key]}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
