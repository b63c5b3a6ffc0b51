"""The batch driver: every sample of a database to a prepared folder of cached flow input.

:func:`prepare` turns a database reader (or a list of :class:`~featref.datasets.base.Sample`)
into a prepared folder of cached entries, in worker processes or Ray tasks, resuming an
interrupted run. The per-clip maths is :mod:`featref.preprocess.clip`; the settings are
:class:`~featref.preprocess.config.PreprocessConfig`; the folder format and its reader
(:func:`~featref.preprocess.cache.load_prepared`) are :mod:`featref.preprocess.cache`.
``docs/preprocessing.md`` explains every choice.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from featref.datasets.base import FRAME_SUFFIXES, Sample, frame_number, natural_key
from featref.errors import ConfigError, FaceNotFoundError, MerError
from featref.labels import LABEL_TABLES, MEGC2019_CLASSES, megc2019_class
from featref.preprocess import cache
from featref.preprocess.apex import middle_frame
from featref.preprocess.cache import load_prepared, prepared_config
from featref.preprocess.clip import (
    compute_flow_stack,
    compute_spotted_flow,
    read_frame,
    spotting_candidates,
)
from featref.preprocess.config import PreprocessConfig
from featref.preprocess.faces import FaceDetector, check_backend

__all__ = ["Failure", "PrepareResult", "prepare"]

# Importable from here as before the split (their homes: config, cache):
_MOVED = (PreprocessConfig, load_prepared, prepared_config)

log = logging.getLogger(__name__)


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
        folder: The prepared folder (pass it to
            :func:`~featref.preprocess.cache.load_prepared`).
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
            onset, apex = read_frame(task.onset), read_frame(task.apex)
            stack, meta = compute_flow_stack(onset, apex, cfg, detector)
            apex_frame = task.apex_frame
        else:
            frames = [read_frame(p) for _, p in task.candidates]
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


def _list_frames(source: Any, sample: Sample) -> list[Path]:
    if source is not None and hasattr(source, "frames"):
        return list(source.frames(sample))
    if sample.frame_dir is None or not Path(sample.frame_dir).is_dir():
        raise FileNotFoundError(f"frame folder {sample.frame_dir} does not exist")
    files = [p for p in Path(sample.frame_dir).iterdir() if p.suffix.lower() in FRAME_SUFFIXES]
    return sorted(files, key=natural_key)


def _plan(
    source: Any, sample: Sample, cfg: PreprocessConfig, folder: Path, config_hash: str
) -> _Task:
    """Resolve a sample's onset/apex files and its cache key (cheap: listing and stat only)."""
    frames = _list_frames(source, sample)
    numbered = [(n, p) for p in frames if (n := frame_number(p)) is not None]
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
    if scheme in LABEL_TABLES:
        return LABEL_TABLES[scheme].classes
    raise ConfigError(
        f"`label_scheme` must be 'megc2019', 'own', one of {sorted(LABEL_TABLES)} or None. "
        f"Got {scheme!r}."
    )


def _label(sample: Sample, class_names: tuple[str, ...], scheme: str | None = None) -> int | None:
    if scheme in LABEL_TABLES:
        table = LABEL_TABLES[scheme]
        if sample.dataset != table.dataset:
            raise ConfigError(
                f"The label table {scheme!r} is for {table.dataset!r}; {sample.sample_id} is "
                f"from {sample.dataset!r}. Prepare {table.dataset} with it."
            )
        cls = table.label(sample.emotion)
        return None if cls is None else class_names.index(cls)
    if class_names == MEGC2019_CLASSES:
        cls = megc2019_class(sample.dataset, sample.emotion)
        return None if cls is None else class_names.index(cls)
    return class_names.index(sample.emotion) if sample.emotion in class_names else None


def _show_progress(progress: bool | None) -> bool:
    return bool(progress) if progress is not None else sys.stderr.isatty()


# ----------------------------------------------------------------------------- the driver


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
            ``"own"`` (the database's emotions, sorted), a single-database table of
            :data:`featref.labels.LABEL_TABLES` (``"casme2_5"``, ``"samm_5"``, ``"smic_3"``,
            ``"casme3_3"``, ``"casme3_7"``) or ``None``: MEGC2019 for the composite
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
    labels = {s.sample_id: _label(s, class_names, label_scheme) for s in samples}
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
