"""From clips to model input: face, alignment, apex, TV-L1 flow, strain, cache, FlowSet.

:func:`prepare` turns a database reader (or a list of :class:`~featref.datasets.base.Sample`)
into a prepared folder of cached entries; :func:`load_prepared` reads that folder into the same
:class:`~featref.datasets.flowset.FlowSet` the published MEGC2019 flow images give. Every choice
is a field of :class:`PreprocessConfig`; ``docs/preprocessing.md`` explains each one.

Per clip (:func:`compute_flow_stack`):

1. read the onset and apex frames (grayscale for flow; the detector sees the frame as stored);
2. find the face and eyes on the ONSET frame; build one similarity transform that levels the eyes
   and crops the face box plus ``margin`` to ``crop_size`` pixels; apply it to both frames;
3. TV-L1 flow onset -> apex on the crops (``cv2.optflow``); optical strain from its gradients;
4. shrink (u, v[, strain]) to ``output_size`` by area averaging; normalise each channel.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import logging
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from featref.datasets.base import Sample, natural_key
from featref.datasets.flowset import FlowSet
from featref.errors import CacheError, ConfigError, MerError
from featref.labels import MEGC2019_CLASSES, megc2019_class
from featref.preprocess import cache
from featref.preprocess.apex import APEX_MODES, apex_scores, middle_frame
from featref.preprocess.faces import (
    FACE_BACKENDS,
    FaceDetector,
    FaceNotFoundError,
    check_backend,
)
from featref.preprocess.flow import NORMALISATIONS, normalise, resize_channels, tvl1_flow
from featref.preprocess.strain import optical_strain

__all__ = [
    "Failure",
    "PrepareResult",
    "PreprocessConfig",
    "compute_flow_stack",
    "compute_spotted_flow",
    "load_prepared",
    "prepare",
    "prepared_config",
    "spotting_candidates",
]

log = logging.getLogger(__name__)

_FRAME_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")


@dataclass(frozen=True)
class PreprocessConfig:
    """Every setting that shapes the prepared flow (all part of the cache's config hash).

    Sources: ``[OpenCV]`` OpenCV's TV-L1 defaults (Sánchez Pérez et al., IPOL 2013), ``[MEGC]``
    the published MEGC2019 flow images (STSTNet / FR input), ``[inferred]`` our choice where
    no source fixes it (reasons in ``docs/preprocessing.md``).
    """

    face_backend: str = "haar"  # [inferred] the backend that needs no extra install
    align: bool = True  # [inferred] False: use whole frames (already-cropped databases)
    margin: float = 0.1  # [inferred] border added on each side, fraction of the face box side
    crop_size: int = 128  # [inferred] side of the aligned face crop the flow is computed on
    output_size: int = 28  # [MEGC] 28x28 model input of STSTNet / FR
    tau: float = 0.25  # [OpenCV] TV-L1 time step
    lam: float = 0.15  # [OpenCV] TV-L1 data-term weight
    theta: float = 0.3  # [OpenCV] TV-L1 tightness
    nscales: int = 5  # [OpenCV] pyramid levels
    warps: int = 5  # [OpenCV] warpings per level
    epsilon: float = 0.01  # [OpenCV] stopping threshold
    inner_iterations: int = 30  # [OpenCV]
    outer_iterations: int = 10  # [OpenCV]
    scale_step: float = 0.8  # [OpenCV]
    gamma: float = 0.0  # [OpenCV] no illumination term
    median_filtering: int = 5  # [OpenCV]
    strain: bool = True  # [MEGC] third channel = optical strain
    normalisation: str = "minmax"  # [MEGC] min-max per image and channel | standardise
    apex: str = "annotated"  # [MEGC] annotated | middle | spotted
    apex_fallback: str = "middle"  # [inferred] for clips with no annotated apex (SMIC-HS)
    spot_size: int = 64  # [inferred] side of the frames the apex spotter scores
    spot_max_frames: int = 48  # [inferred] frames scored per clip at most (evenly spaced)

    def __post_init__(self) -> None:
        def bad(key: str, expected: str) -> ConfigError:
            return ConfigError(
                f"`{key}` in [preprocess] must be {expected}. Got {getattr(self, key)!r} instead."
            )

        if self.face_backend not in FACE_BACKENDS:
            raise bad("face_backend", f"one of {sorted(FACE_BACKENDS)}")
        if not 0 <= self.margin <= 1:
            raise bad("margin", "a fraction in [0, 1]")
        if self.crop_size < 32 or self.crop_size % 2:
            raise bad("crop_size", "an even int >= 32")
        if not 4 <= self.output_size <= self.crop_size:
            raise bad("output_size", f"an int in [4, crop_size={self.crop_size}]")
        if self.normalisation not in NORMALISATIONS:
            raise bad("normalisation", f"one of {list(NORMALISATIONS)}")
        if self.apex not in APEX_MODES:
            raise bad("apex", f"one of {list(APEX_MODES)}")
        if self.apex_fallback not in ("middle", "spotted"):
            raise bad("apex_fallback", "'middle' or 'spotted'")
        positive = ("tau", "lam", "theta", "nscales", "warps", "epsilon", "spot_size")
        for key in positive + ("inner_iterations", "outer_iterations", "spot_max_frames"):
            if getattr(self, key) <= 0:
                raise bad(key, "positive")
        if not 0 < self.scale_step < 1:
            raise bad("scale_step", "in (0, 1)")

    @property
    def channels(self) -> tuple[str, ...]:
        """Names of the output channels."""
        return ("u", "v", "strain") if self.strain else ("u", "v")

    def flow_params(self) -> dict[str, Any]:
        """Keyword arguments of :func:`~featref.preprocess.flow.tvl1_flow`."""
        keys = (
            "tau", "lam", "theta", "nscales", "warps", "epsilon", "inner_iterations",
            "outer_iterations", "scale_step", "gamma", "median_filtering",
        )  # fmt: skip
        return {k: getattr(self, k) for k in keys}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able settings."""
        return dataclasses.asdict(self)

    def config_hash(self) -> str:
        """Hash of these settings and ``PREPROCESS_VERSION`` (names the cache folder)."""
        return cache.hash_config(self.to_dict())


@dataclass(frozen=True)
class Failure:
    """A sample that could not be prepared (``stage``: frames, face or flow)."""

    sample_id: str
    stage: str
    message: str


@dataclass(frozen=True)
class PrepareResult:
    """What :func:`prepare` did.

    Attributes:
        folder: The prepared folder (pass it to :func:`load_prepared`).
        paths: ``sample_id`` -> entry file, for every prepared sample.
        failures: Samples that could not be prepared, in input order.
        computed: Entries computed by this call.
        reused: Valid entries found in the cache and reused.
        excluded: Samples left out because their emotion has no class (e.g. CASME II "others" in
            the MEGC2019 composite).
    """

    folder: Path
    paths: dict[str, Path]
    failures: tuple[Failure, ...] = ()
    computed: int = 0
    reused: int = 0
    excluded: tuple[str, ...] = field(default_factory=tuple)


# ----------------------------------------------------------------------------- one clip


def _read(path: str | os.PathLike, flags: int | None = None) -> np.ndarray:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR if flags is None else flags)
    if img is None:
        raise FileNotFoundError(f"{path} is missing or not a readable image")
    return img


def _gray(img: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img


def _crop_all(
    frames: Sequence[np.ndarray], cfg: PreprocessConfig, detector: FaceDetector | None
) -> tuple[list[np.ndarray], dict[str, Any]]:
    """Grayscale crops of ``frames`` with the transform found on ``frames[0]`` (the onset)."""
    import cv2

    from featref.preprocess.align import alignment_matrix, warp

    shapes = {f.shape[:2] for f in frames}
    if len(shapes) != 1:
        raise ValueError(f"the clip's frames differ in size: {sorted(shapes)}")
    grays = [_gray(f) for f in frames]
    if not cfg.align:
        size = (cfg.crop_size, cfg.crop_size)
        return [cv2.resize(g, size, interpolation=cv2.INTER_AREA) for g in grays], {}
    if detector is None:
        raise ValueError("align=True needs a face detector")
    face = detector.detect(frames[0])
    if face is None:
        raise FaceNotFoundError(f"no face found by the {detector.name!r} backend on the onset")
    matrix = alignment_matrix(face, margin=cfg.margin, size=cfg.crop_size)
    meta = {
        "face_box": [float(v) for v in face.box],
        "eyes": [list(face.left_eye), list(face.right_eye)],
        "eyes_estimated": face.eyes_estimated,
        "matrix": matrix.tolist(),
    }
    return [warp(g, matrix, cfg.crop_size) for g in grays], meta


def _flow_from_crops(onset: np.ndarray, apex: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    flow = tvl1_flow(onset, apex, **cfg.flow_params())
    chans = [flow[..., 0], flow[..., 1]]
    if cfg.strain:
        chans.append(optical_strain(flow))
    small = resize_channels(np.stack(chans), cfg.output_size)
    return normalise(small, cfg.normalisation)


def compute_flow_stack(
    onset: np.ndarray,
    apex: np.ndarray,
    cfg: PreprocessConfig,
    detector: FaceDetector | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The model input of one clip from its onset and apex frames.

    Args:
        onset: Onset frame, grayscale or BGR uint8 (as ``cv2.imread`` gives).
        apex: Apex frame of the same size.
        cfg: Settings.
        detector: Face backend (needed when ``cfg.align``).

    Returns:
        ``(stack, meta)``: float32 (C, output_size, output_size) with channels
        ``cfg.channels``, and the face box, eyes and transform used.

    Raises:
        FaceNotFoundError: when the detector finds no face on the onset frame.
    """
    (onset_c, apex_c), meta = _crop_all([onset, apex], cfg, detector)
    return _flow_from_crops(onset_c, apex_c, cfg), meta


def compute_spotted_flow(
    frames: Sequence[np.ndarray],
    cfg: PreprocessConfig,
    detector: FaceDetector | None = None,
) -> tuple[np.ndarray, int, dict[str, Any]]:
    """The model input of one clip whose apex is found by the label-free spotter.

    All frames are aligned with the transform found on ``frames[0]`` (the onset); the apex is the
    frame of largest motion against the onset (:func:`~featref.preprocess.apex.apex_scores` on
    the crops), never the onset itself when there is another frame.

    Args:
        frames: The onset frame, then the candidate frames (see :func:`spotting_candidates`).
        cfg: Settings.
        detector: Face backend (needed when ``cfg.align``).

    Returns:
        ``(stack, apex_index, meta)``: the input as :func:`compute_flow_stack` gives it, the
        index into ``frames`` of the spotted apex, and the face box, eyes and transform used.

    Raises:
        FaceNotFoundError: when the detector finds no face on the onset frame.
    """
    crops, meta = _crop_all(frames, cfg, detector)
    idx = int(np.argmax(apex_scores(crops, size=cfg.spot_size)))
    idx = max(idx, 1) if len(crops) > 1 else 0
    return _flow_from_crops(crops[0], crops[idx], cfg), idx, meta


def spotting_candidates(
    numbers: Sequence[int], onset: int, offset: int, max_frames: int
) -> list[int]:
    """Frame numbers the spotter scores: ``onset``, then at most ``max_frames - 1`` of the frames
    in ``(onset, offset]`` (all of them, or evenly spaced when there are more).

    Example:
        >>> spotting_candidates(range(1, 11), 2, 9, 4)
        [2, 3, 6, 9]
    """
    rest = [n for n in numbers if onset < n <= offset]
    if len(rest) > max_frames - 1:
        pick = np.linspace(0, len(rest) - 1, max_frames - 1).round().astype(int)
        rest = [rest[i] for i in sorted(set(pick.tolist()))]
    return [onset, *rest]


# ----------------------------------------------------------------------------- workers


@dataclass(frozen=True)
class _Task:
    """Everything a worker needs for one sample (plain, picklable)."""

    sample_id: str
    onset: str
    apex: str | None  # None: spot it among `candidates`
    apex_frame: int | None
    apex_source: str
    candidates: tuple[tuple[int, str], ...]  # (frame number, path), onset first
    entry: str
    key: str


_DETECTORS: dict[str, FaceDetector] = {}


def _detector(name: str) -> FaceDetector:
    from featref.preprocess.faces import create_detector

    if name not in _DETECTORS:  # one per process: cascades/models load once
        _DETECTORS[name] = create_detector(name)
    return _DETECTORS[name]


def _worker_init() -> None:
    import cv2

    cv2.setNumThreads(1)  # the processes are the parallelism
    _DETECTORS.clear()  # never use a detector inherited through fork (MediaPipe runs threads)


def _ray_task(task: _Task, cfg: PreprocessConfig) -> tuple[str, Failure | None, dict[str, Any]]:
    """:func:`_run_task` as a Ray task: one OpenCV thread, the tasks are the parallelism."""
    import cv2

    cv2.setNumThreads(1)  # Ray workers are fresh processes: no inherited detector to clear
    return _run_task(task, cfg)


def _run_task(task: _Task, cfg: PreprocessConfig) -> tuple[str, Failure | None, dict[str, Any]]:
    """Compute and write one entry; never raises for a per-sample problem."""
    try:
        detector = _detector(cfg.face_backend) if cfg.align else None
        if task.apex is not None:
            stack, meta = compute_flow_stack(_read(task.onset), _read(task.apex), cfg, detector)
            apex_frame = task.apex_frame
        else:
            frames = [_read(p) for _, p in task.candidates]
            stack, idx, meta = compute_spotted_flow(frames, cfg, detector)
            apex_frame = task.candidates[idx][0]
    except FaceNotFoundError as exc:
        return task.sample_id, Failure(task.sample_id, "face", str(exc)), {}
    except FileNotFoundError as exc:
        return task.sample_id, Failure(task.sample_id, "frames", str(exc)), {}
    except (MerError, ValueError, OSError) as exc:
        return task.sample_id, Failure(task.sample_id, "flow", f"{type(exc).__name__}: {exc}"), {}
    meta.update(apex_frame=apex_frame, apex_source=task.apex_source)
    cache.write_entry(task.entry, sample_id=task.sample_id, flow=stack, key=task.key, meta=meta)
    return task.sample_id, None, meta


# ----------------------------------------------------------------------------- planning


def _frame_number(path: Path) -> int | None:
    digits = re.findall(r"\d+", path.stem)
    return int(digits[-1]) if digits else None


def _list_frames(source: Any, sample: Sample) -> list[Path]:
    if source is not None and hasattr(source, "frames"):
        return list(source.frames(sample))
    if sample.frame_dir is None or not Path(sample.frame_dir).is_dir():
        raise FileNotFoundError(f"frame folder {sample.frame_dir} does not exist")
    files = [p for p in Path(sample.frame_dir).iterdir() if p.suffix.lower() in _FRAME_SUFFIXES]
    return sorted(files, key=natural_key)


def _plan(
    source: Any, sample: Sample, cfg: PreprocessConfig, folder: Path, config_hash: str
) -> _Task:
    """Resolve a sample's onset/apex files and its cache key (cheap: listing and stat only)."""
    frames = _list_frames(source, sample)
    numbered = [(n, p) for p in frames if (n := _frame_number(p)) is not None]
    if not numbered:
        raise FileNotFoundError(f"no numbered frames in {sample.frame_dir}")
    lookup = dict(numbered)
    onset = sample.onset if sample.onset is not None else numbered[0][0]
    offset = sample.offset if sample.offset is not None else numbered[-1][0]

    def path_of(n: int, what: str) -> Path:
        if source is not None and hasattr(source, "frame_path"):
            p = Path(source.frame_path(sample, n))
        else:
            p = lookup.get(n)
        if p is None or not p.is_file():
            raise FileNotFoundError(f"the {what} frame {n} ({p or 'no file'}) does not exist")
        return p

    mode = cfg.apex
    source_name = mode
    if mode == "annotated" and sample.apex is None:
        mode = source_name = cfg.apex_fallback
    onset_path = path_of(onset, "onset")
    apex_path: Path | None = None
    apex_frame: int | None = None
    candidates: tuple[tuple[int, str], ...] = ()
    if mode == "annotated":
        apex_frame = sample.apex
        apex_path = path_of(apex_frame, "apex")
    elif mode == "middle":
        in_range = [n for n, _ in numbered if onset <= n <= offset] or [onset]
        mid = middle_frame(onset, max(offset, onset))
        apex_frame = min(in_range, key=lambda n: (abs(n - mid), n))  # nearest existing frame
        apex_path = path_of(apex_frame, "middle")
    else:
        picked = spotting_candidates([n for n, _ in numbered], onset, offset, cfg.spot_max_frames)
        candidates = ((onset, str(onset_path)),) + tuple((n, str(lookup[n])) for n in picked[1:])
    inputs = [onset_path, apex_path] if apex_path is not None else [p for _, p in candidates]
    key = cache.entry_key(config_hash, cache.input_fingerprint(inputs))
    return _Task(
        sample.sample_id,
        str(onset_path),
        None if apex_path is None else str(apex_path),
        apex_frame,
        source_name,
        candidates,
        str(folder / cache.entry_filename(sample.sample_id)),
        key,
    )


def _class_names(source: Any, samples: Sequence[Sample], scheme: str | None) -> tuple[str, ...]:
    if scheme is None:
        composite = getattr(source, "name", None) == "megc2019"
        scheme = "megc2019" if composite or len({s.dataset for s in samples}) > 1 else "own"
    if scheme == "megc2019":
        return MEGC2019_CLASSES
    if scheme == "own":
        return tuple(sorted({s.emotion for s in samples}))
    raise ConfigError(f"`label_scheme` must be 'megc2019', 'own' or None. Got {scheme!r}.")


def _label(sample: Sample, class_names: tuple[str, ...]) -> int | None:
    if class_names == MEGC2019_CLASSES:
        cls = megc2019_class(sample.dataset, sample.emotion)
        return None if cls is None else class_names.index(cls)
    return class_names.index(sample.emotion) if sample.emotion in class_names else None


def _show_progress(progress: bool | None) -> bool:
    return bool(progress) if progress is not None else sys.stderr.isatty()


# ----------------------------------------------------------------------------- public API


def prepare(
    source: Any,
    cfg: PreprocessConfig | None = None,
    cache_dir: str | os.PathLike = "featref_cache",
    *,
    workers: int = 1,
    progress: bool | None = None,
    dataset: str | None = None,
    label_scheme: str | None = None,
    backend: str = "local",
) -> PrepareResult:
    """Prepare the flow input of every sample, reusing valid cache entries.

    Args:
        source: A database reader (``samples()``, ``frames(sample)``, optionally
            ``frame_path(sample, n)``) or an iterable of :class:`Sample` whose ``frame_dir``
            holds numbered frames.
        cfg: Settings (defaults when ``None``).
        cache_dir: Root of the cache; the entries go to ``<cache_dir>/<dataset>/<config_hash>``.
        workers: Worker processes (1 computes in this process).
        progress: Show a tqdm bar; ``None`` shows it only when stderr is a terminal.
        dataset: Folder name under ``cache_dir`` (default: the reader's ``name``, else the
            samples' single database, else ``"mixed"``).
        label_scheme: ``"megc2019"`` (3 classes via :func:`featref.labels.megc2019_class`),
            ``"own"`` (the database's emotions, sorted) or ``None``: MEGC2019 for the composite
            or samples of several databases, else own.
        backend: ``"local"`` (``workers`` processes here) or ``"ray"``: one Ray task per
            sample on the connected Ray cluster, else on a local Ray instance with ``workers``
            CPUs (see ``docs/ray.md``). Ray workers read the frames and write the cache entries
            themselves, so both must be on a filesystem every node sees at the same path.

    Returns:
        A :class:`PrepareResult`; samples that failed (missing frames, no face) are listed in
        ``failures`` and the run continues with the rest. An interrupted run resumes: entries
        written before the interruption are reused.

    Raises:
        CacheError: when the folder holds a manifest of other settings or library versions.
        ConfigError: for ``workers < 1``, an unknown label scheme or backend, or a missing Ray.
    """
    from tqdm.auto import tqdm

    cfg = cfg or PreprocessConfig()
    if workers < 1:
        raise ConfigError(f"`workers` must be at least 1. Got {workers}.")
    if backend not in ("local", "ray"):
        raise ConfigError(f"`backend` must be 'local' or 'ray'. Got {backend!r}.")
    samples = list(source.samples()) if hasattr(source, "samples") else list(source)
    reader = source if hasattr(source, "samples") else None
    if dataset is None:
        names = {s.dataset for s in samples}
        dataset = getattr(reader, "name", None) or (names.pop() if len(names) == 1 else "mixed")
    class_names = _class_names(reader, samples, label_scheme)
    labels = {s.sample_id: _label(s, class_names) for s in samples}
    excluded = tuple(s.sample_id for s in samples if labels[s.sample_id] is None)
    if excluded:
        log.info("%d samples have no class in %s and are left out.", len(excluded), class_names)
    samples = [s for s in samples if labels[s.sample_id] is not None]

    if cfg.align:  # a missing backend is one error, not one failure per sample
        check_backend(cfg.face_backend)
        if workers == 1:
            _detector(cfg.face_backend)
    config_hash = cfg.config_hash()
    folder = Path(cache_dir).expanduser().resolve() / dataset / config_hash
    extra = (cfg.face_backend,) if cfg.align else ()
    versions = cache.library_versions(extra)
    cache.check_manifest(folder, config_hash, versions)
    manifest: dict[str, Any] = {
        "config": cfg.to_dict(),
        "config_hash": config_hash,
        "preprocess_version": cache.PREPROCESS_VERSION,
        "library_versions": versions,
        "dataset": dataset,
        "channels": list(cfg.channels),
        "class_names": list(class_names),
        "complete": False,
    }
    folder.mkdir(parents=True, exist_ok=True)
    cache.write_manifest(folder, manifest)

    shape = (len(cfg.channels), cfg.output_size, cfg.output_size)
    failures: dict[str, Failure] = {}
    metas: dict[str, dict[str, Any]] = {}
    todo: list[_Task] = []
    for s in samples:
        try:
            task = _plan(reader, s, cfg, folder, config_hash)
        except (FileNotFoundError, MerError, ValueError) as exc:
            failures[s.sample_id] = Failure(s.sample_id, "frames", str(exc))
            continue
        entry = cache.read_entry(task.entry, sample_id=s.sample_id, key=task.key, shape=shape)
        if entry is not None:
            metas[s.sample_id] = entry.meta
        else:
            todo.append(task)
    reused = len(metas)
    log.info(
        "Preparing %d samples into %s (%d cached, %d to compute, %d workers).",
        len(samples), folder, reused, len(todo), workers,
    )  # fmt: skip

    bar = tqdm(total=len(todo), desc=f"prepare {dataset}", disable=not _show_progress(progress))

    def collect(result: tuple[str, Failure | None, dict[str, Any]]) -> None:
        sid, failure, meta = result
        if failure is not None:
            failures[sid] = failure
            log.warning("%s: %s failed: %s", sid, failure.stage, failure.message)
        else:
            metas[sid] = meta
        bar.update(1)

    try:
        if backend == "ray" and todo:
            from featref import _ray

            with _ray.session(num_cpus=workers):
                for _, result in _ray.imap_unordered(_ray_task, [(t, cfg) for t in todo]):
                    collect(result)
        elif workers == 1 or len(todo) <= 1:
            import cv2

            threads = cv2.getNumThreads()
            cv2.setNumThreads(1)
            try:
                for task in todo:
                    collect(_run_task(task, cfg))
            finally:
                cv2.setNumThreads(threads)
        else:
            with cf.ProcessPoolExecutor(max_workers=workers, initializer=_worker_init) as pool:
                futures = [pool.submit(_run_task, t, cfg) for t in todo]
                try:
                    for fut in cf.as_completed(futures):
                        collect(fut.result())
                except BaseException:
                    for fut in futures:
                        fut.cancel()
                    raise
    finally:
        bar.close()

    order = [s for s in samples if s.sample_id in metas]
    paths = {s.sample_id: folder / cache.entry_filename(s.sample_id) for s in order}
    manifest["samples"] = [
        {
            "sample_id": s.sample_id,
            "dataset": s.dataset,
            "subject": s.subject_id,
            "emotion": s.emotion,
            "label": labels[s.sample_id],
            "file": paths[s.sample_id].name,
            "apex_frame": metas[s.sample_id].get("apex_frame"),
            "apex_source": metas[s.sample_id].get("apex_source"),
        }
        for s in order
    ]
    ordered_failures = tuple(failures[s.sample_id] for s in samples if s.sample_id in failures)
    manifest["failures"] = [dataclasses.asdict(f) for f in ordered_failures]
    manifest["excluded"] = list(excluded)
    manifest["complete"] = True
    cache.write_manifest(folder, manifest)
    computed = sum(1 for t in todo if t.sample_id in metas)
    return PrepareResult(folder, paths, ordered_failures, computed, reused, excluded)


def _find_folder(path: Path) -> Path:
    if (path / cache.MANIFEST).is_file():
        return path
    subs = sorted(p for p in path.glob(f"*/{cache.MANIFEST}")) if path.is_dir() else []
    if len(subs) == 1:
        return subs[0].parent
    if not subs:
        raise CacheError(
            f"No prepared data at {path}: expected {path / cache.MANIFEST} (or one "
            f"<config_hash>/{cache.MANIFEST} below it). Run `featref prepare` first."
        )
    raise CacheError(
        f"{path} holds several prepared configurations ({[p.parent.name for p in subs]}); pass "
        "the folder of the one you want."
    )


def prepared_config(path: str | os.PathLike) -> PreprocessConfig:
    """The settings a prepared folder was made with (the folder as :func:`load_prepared` takes it).

    Raises:
        CacheError: for a folder without a featref manifest or with unknown settings.
    """
    folder = _find_folder(Path(path).expanduser().resolve())
    manifest = cache.read_manifest(folder) or {}
    try:
        return PreprocessConfig(**manifest["config"])
    except (KeyError, TypeError, ConfigError) as exc:
        raise CacheError(
            f"The manifest of {folder} holds no valid preprocessing settings ({exc}). Run "
            "`featref prepare` again."
        ) from exc


def load_prepared(path: str | os.PathLike, channels: Iterable[str] | None = None) -> FlowSet:
    """Read a prepared folder into a :class:`FlowSet` (as the published flow images give).

    Args:
        path: The folder :func:`prepare` returned, or its parent ``<cache_dir>/<dataset>`` when
            that holds a single configuration.
        channels: Channels to keep, in order (default: all that were prepared).

    Returns:
        x of shape (N, C, H, W) float32 (in [0, 1] when min-max normalised), labels indexing
        the manifest's ``class_names``, subjects namespaced (``"casme2/sub01"``).

    Raises:
        CacheError: for a missing, unfinished, stale or corrupt prepared folder.
    """
    folder = _find_folder(Path(path).expanduser().resolve())
    manifest = cache.read_manifest(folder) or {}
    if manifest.get("preprocess_version") != cache.PREPROCESS_VERSION:
        raise CacheError(
            f"{folder} was prepared with PREPROCESS_VERSION {manifest.get('preprocess_version')} "
            f"(config hash {manifest.get('config_hash')!r}); this featref writes version "
            f"{cache.PREPROCESS_VERSION}. Run `featref prepare` again."
        )
    if not manifest.get("complete") or "samples" not in manifest:
        raise CacheError(
            f"{folder} is unfinished (the prepare run was interrupted). Rerun the same "
            "`featref prepare` command to resume."
        )
    rows = manifest["samples"]
    size = int(manifest["config"]["output_size"])
    chans = tuple(manifest["channels"])
    x = np.empty((len(rows), len(chans), size, size), dtype=np.float32)
    for i, row in enumerate(rows):
        entry = cache.read_entry(
            folder / row["file"], sample_id=row["sample_id"], shape=(len(chans), size, size)
        )
        if entry is None:
            raise CacheError(
                f"Entry {folder / row['file']} of {row['sample_id']} is missing or corrupt. "
                "Rerun `featref prepare` (it recomputes invalid entries)."
            )
        x[i] = entry.flow
    flows = FlowSet(
        sample_ids=tuple(r["sample_id"] for r in rows),
        datasets=tuple(r["dataset"] for r in rows),
        subjects=tuple(r["subject"] for r in rows),
        labels=np.array([r["label"] for r in rows], dtype=np.int64),
        x=x,
        channels=chans,
        class_names=tuple(manifest["class_names"]),
    )
    return flows.select_channels(tuple(channels)) if channels is not None else flows
