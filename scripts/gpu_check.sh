#!/usr/bin/env bash
# The GPU checks of the run engine (issue 14) as one script, for a lent device machine whose
# 15 minutes of device time must hold one run of this and a rerun. Each step has its own time
# limit and writes its log to OUT_DIR; a step that fails or runs out of time does not stop the next.
#   1. FR, default preset, all seeds x 68 folds, --device cuda, fold-batched executor, one
#      process: the wall time (the issue's target: 5 seeds in <= 20 s) and UF1/UAR;
#   2. seed 0 again into a second folder: are its predictions identical to step 1's (determinism;
#      docs/experiments.md says what can stay nondeterministic)?
#   3. the per-fold executor (inprocess) on the same GPU, seeds 0-2, against step 1 on the seeds
#      both have: per-seed UF1/UAR, mean ± std, largest probability difference (do the two
#      executors agree within one seed std?).
#
# Usage: bash scripts/gpu_check.sh DATA_DIR OUT_DIR [DEVICE]
#   DATA_DIR  the folder that holds megc2019/ (the published composite flows; ../shared/data here,
#             a carried copy on the device machine, which ../shared does not reach)
#   OUT_DIR   logs, summary.txt and the three metrics.json files (the run folders go to a fresh
#             temporary folder, printed, so that OUT_DIR stays within the device's 8 files back)
#   DEVICE    cuda (default), or cpu to try the script out on a CPU machine first
# Environment: GPU_CHECK_SEEDS (default 0,1,2,3,4), GPU_CHECK_ARGS (extra `featref run` options,
# e.g. "--epochs 1" for a CPU trial), GPU_CHECK_LIMIT_S (per step, default 150).
set -uo pipefail
cd "$(dirname "$0")/.."
data=${1:?DATA_DIR: the folder holding megc2019/}
out=${2:?OUT_DIR: where the logs go}
device=${3:-cuda}
seeds=${GPU_CHECK_SEEDS:-0,1,2,3,4}
limit=${GPU_CHECK_LIMIT_S:-150}
read -r -a extra <<<"${GPU_CHECK_ARGS:-}"
mkdir -p "$out"
runs=$(mktemp -d)
echo "run folders: $runs"
# featref from this tree; the device image has torch and the other dependencies (not opencv-contrib,
# which only preprocessing of raw clips needs).
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
featref() { python3 -m featref "$@"; }

{
  date -u
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), \
torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
} >"$out/env.txt" 2>&1
cat "$out/env.txt"

step() {  # step NAME COMMAND...: run with a time limit, log to OUT_DIR/NAME.log, print the wall time
  local name=$1
  shift
  local t0=$SECONDS
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  local rc=$?
  echo "$name: rc=$rc wall=$((SECONDS - t0)) s (limit $limit s)" | tee -a "$out/summary.txt"
  tail -n 4 "$out/$name.log"
}

common=(--config megc2019_featref --data-dir "$data/megc2019" --device "$device" --no-progress "${extra[@]}")
step batched featref run "${common[@]}" --seeds "$seeds" --executor batched \
  --output-dir "$runs/batched"
step batched_seed0_again featref run "${common[@]}" --seeds 0 --executor batched \
  --output-dir "$runs/batched_seed0_again"
step inprocess featref run "${common[@]}" --seeds 0,1,2 --executor inprocess \
  --output-dir "$runs/inprocess"
# Determinism (batched seed 0 twice) and executor agreement (batched vs inprocess) on the seeds
# both runs have: per-seed UF1/UAR, their mean and std, and the largest probability difference.
python3 - "$runs" <<'PY' 2>&1 | tee -a "$out/summary.txt"
import sys
from pathlib import Path
import numpy as np
from featref.evaluation.predictions import read_predictions, score

runs = Path(sys.argv[1])


def load(name):
    path = runs / name / "predictions.csv"
    return read_predictions(path) if path.is_file() else None


def per_seed(rows, seeds):
    labels = sorted({r.y_true for r in rows})
    out = {}
    for s in seeds:
        sel = [r for r in rows if r.seed == s]
        m = score([r.y_true for r in sel], [r.y_pred for r in sel], labels)
        out[s] = (m["uf1"], m["uar"])
    return out


def pair(a_name, b_name):
    a, b = load(a_name), load(b_name)
    if a is None or b is None:
        print(f"{a_name} vs {b_name}: a run is missing (see its log)")
        return
    seeds = sorted({r.seed for r in a} & {r.seed for r in b})
    pa, pb = per_seed(a, seeds), per_seed(b, seeds)
    key = lambda r: (r.seed, r.sample_id)  # noqa: E731
    probs_b = {key(r): np.asarray(r.probs) for r in b if r.seed in seeds}
    diffs = [np.abs(np.asarray(r.probs) - probs_b[key(r)]).max() for r in a if key(r) in probs_b]
    largest = f"{max(diffs):.3g}" if diffs else "n/a (no probabilities stored)"
    print(f"{a_name} vs {b_name}, seeds {seeds}: max |prob difference| {largest}")
    for i, metric in enumerate(("UF1", "UAR")):
        va = np.array([pa[s][i] for s in seeds])
        vb = np.array([pb[s][i] for s in seeds])
        std = f" ± {va.std(ddof=1):.4f} / ± {vb.std(ddof=1):.4f}" if len(seeds) > 1 else ""
        print(f"  {metric}: {va.mean():.4f} vs {vb.mean():.4f}{std}; per seed "
              + ", ".join(f"{x:.4f}/{y:.4f}" for x, y in zip(va, vb)))


pair("batched_seed0_again", "batched")
pair("inprocess", "batched")
PY
for name in batched batched_seed0_again inprocess; do
  cp "$runs/$name/metrics.json" "$out/metrics_$name.json" 2>/dev/null || true
done
