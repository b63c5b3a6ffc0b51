"""Preprocessing throughput: clips per second for face + alignment + TV-L1 flow + strain.

Synthetic clips only (no licensed data): scikit-image's astronaut photo placed in a 640x480 frame
(CASME II's raw resolution) with a small local warp between onset and apex, written as JPEG.

Compared in the same run:

* ``prepare``, 1 and 2 worker processes, default settings (Haar face, eye alignment, 128-px crop,
  TV-L1 with OpenCV's defaults, strain, 28x28 output), cold cache;
* ``prepare`` again on the warm cache (every entry validated and reused);
* the straightforward approach: TV-L1 on the full 640x480 grayscale frames, then shrink to 28x28
  (no face crop), one process.

Usage:
    python benchmarks/preprocess_throughput.py [--clips 16] [--full-res-clips 3]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from featref.datasets.base import Sample, natural_key
from featref.preprocess.flow import normalise, resize_channels, tvl1_flow
from featref.preprocess.pipeline import PreprocessConfig, prepare
from featref.preprocess.strain import optical_strain


class _Reader:
    name = "bench"

    def __init__(self, samples: list[Sample]) -> None:
        self._samples = samples

    def samples(self) -> list[Sample]:
        return list(self._samples)

    def frames(self, sample: Sample) -> list[Path]:
        return sorted(sample.frame_dir.glob("*.jpg"), key=natural_key)

    def frame_path(self, sample: Sample, number: int) -> Path:
        return sample.frame_dir / f"img{number}.jpg"


def _frame() -> np.ndarray:
    face = cv2.resize(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR), (480, 480))
    return cv2.copyMakeBorder(face, 0, 0, 80, 80, cv2.BORDER_REPLICATE)  # 640x480


def _warp(img: np.ndarray, amplitude: float) -> np.ndarray:
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    g = np.exp(-(((xx - 0.47 * w) ** 2 + (yy - 0.42 * h) ** 2) / (2 * (0.05 * w) ** 2)))
    return cv2.remap(img, xx - amplitude * g, yy + amplitude * g, cv2.INTER_CUBIC)


def _make_clips(root: Path, n: int) -> _Reader:
    base = _frame()
    samples = []
    for i in range(n):
        folder = root / f"s{i:02d}" / "clip"
        folder.mkdir(parents=True)
        cv2.imwrite(str(folder / "img1.jpg"), base)
        cv2.imwrite(str(folder / "img2.jpg"), _warp(base, 1.0 + 0.1 * i))
        samples.append(Sample("bench", f"s{i:02d}", "clip", "happiness", 1, 2, 2, folder))
    return _Reader(samples)


def _full_resolution(reader: _Reader, n: int) -> float:
    start = time.perf_counter()
    for s in reader.samples()[:n]:
        a = cv2.imread(str(reader.frame_path(s, 1)), cv2.IMREAD_GRAYSCALE)
        b = cv2.imread(str(reader.frame_path(s, 2)), cv2.IMREAD_GRAYSCALE)
        flow = tvl1_flow(a, b)
        stack = np.stack([flow[..., 0], flow[..., 1], optical_strain(flow)])
        normalise(resize_channels(stack, 28))
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=16, help="synthetic clips per run")
    parser.add_argument("--full-res-clips", type=int, default=3, help="clips for full-res flow")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    cfg = PreprocessConfig()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        reader = _make_clips(Path(tmp) / "data", args.clips)
        for workers in (1, 2):
            cache = Path(tmp) / f"cache{workers}"
            start = time.perf_counter()
            result = prepare(reader, cfg, cache, workers=workers, progress=False)
            rate = args.clips / (time.perf_counter() - start)
            if result.failures:
                raise SystemExit(f"unexpected failures: {result.failures}")
            rows.append((f"prepare, {workers} worker(s), cold cache", rate))
        start = time.perf_counter()
        prepare(reader, cfg, Path(tmp) / "cache1", workers=1, progress=False)
        rows.append(
            ("prepare, warm cache (validate + reuse)", args.clips / (time.perf_counter() - start))
        )
        rows.append(
            (
                "full-res 640x480 TV-L1 + strain, 1 process",
                _full_resolution(reader, args.full_res_clips),
            )
        )
    print(f"machine: {platform.processor() or platform.machine()}, OpenCV {cv2.__version__}")
    print(f"{'method':<48} {'clips/s':>9} {'vs full-res':>12}")
    base = rows[-1][1]
    for name, rate in rows:
        print(f"{name:<48} {rate:>9.2f} {rate / base:>11.1f}x")


if __name__ == "__main__":
    main()
