"""The prepared-data cache: versioned folders of validated, atomically written entries.

The writer (:func:`write_entry`, :func:`write_manifest`, used by
:func:`featref.preprocess.pipeline.prepare`) and the reader of finished prepared folders
(:func:`load_prepared`, :func:`prepared_config`) live here, side by side, so the format has one
home.

Layout (TFDS's prepared data, trimmed)::

    <cache_dir>/<dataset>/<config_hash>/
        manifest.json                       # config, PREPROCESS_VERSION, library versions, index
        casme2__sub01__EP02_01f.npz         # one entry per sample_id ("/" -> "__")

``config_hash`` hashes the preprocessing settings and :data:`PREPROCESS_VERSION`. Each entry also
records a key that hashes the config hash with the input files (paths, sizes, modification
times), so an entry whose frames changed is recomputed. Entries are written atomically
(:mod:`featref.atomic`), so a crash never leaves a half-written entry under the final name;
on read every entry is validated (readable, expected keys, sample id, key, shape, finite
values, checksum) and an invalid one is recomputed, never used.

Bump :data:`PREPROCESS_VERSION` (and note it in ``CHANGELOG.md``) whenever the output would
change for the same settings.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from featref.atomic import atomic_write_bytes
from featref.datasets.flowset import FlowSet
from featref.errors import CacheError, ConfigError
from featref.preprocess.config import PREPROCESS_VERSION, PreprocessConfig, hash_config

__all__ = [
    "MANIFEST",
    "PREPROCESS_VERSION",
    "CacheEntry",
    "check_manifest",
    "entry_filename",
    "hash_config",
    "input_fingerprint",
    "library_versions",
    "load_prepared",
    "prepared_config",
    "read_entry",
    "read_manifest",
    "write_entry",
    "write_manifest",
]

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FORMAT = "featref-prepared"
_ENTRY_KEYS = {"flow", "sample_id", "key", "checksum", "meta"}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def input_fingerprint(paths: Iterable[str | os.PathLike]) -> str:
    """Hash of the input files' absolute paths, sizes and modification times (nanoseconds).

    Raises:
        FileNotFoundError: when a path does not exist.
    """
    h = hashlib.sha256()
    for p in paths:
        path = Path(p).resolve()
        st = path.stat()
        h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def entry_key(config_hash: str, fingerprint: str) -> str:
    """The key an entry must carry to be reused: settings + inputs."""
    return f"{config_hash}-{fingerprint}"


def entry_filename(sample_id: str) -> str:
    """File name of a sample's entry: ``casme2/sub01/EP02_01f`` -> ``casme2__sub01__EP02_01f.npz``.

    Characters other than letters, digits, ``.``, ``-`` and ``_`` become ``_`` (the exact id is
    stored inside the entry).
    """
    parts = [re.sub(r"[^A-Za-z0-9._-]", "_", p) for p in sample_id.split("/")]
    return "__".join(parts) + ".npz"


def library_versions(extra: Iterable[str] = ()) -> dict[str, str]:
    """Versions of the libraries whose behaviour shapes the output."""
    import importlib.metadata as md

    import cv2

    out = {"numpy": np.__version__, "opencv": cv2.__version__}
    for name in extra:
        for dist in {"mediapipe": ("mediapipe",), "dlib": ("dlib-bin", "dlib")}.get(name, ()):
            try:
                out[name] = md.version(dist)
                break
            except md.PackageNotFoundError:
                continue
    return out


@dataclass(frozen=True, eq=False)
class CacheEntry:
    """One validated entry: the (C, H, W) float32 flow stack and its metadata."""

    sample_id: str
    flow: np.ndarray
    key: str
    meta: dict[str, Any]


def write_entry(
    path: str | os.PathLike,
    *,
    sample_id: str,
    flow: np.ndarray,
    key: str,
    meta: Mapping[str, Any] | None = None,
) -> None:
    """Write one entry atomically (``np.savez``, no pickles)."""
    flow = np.ascontiguousarray(flow, dtype=np.float32)
    buf = io.BytesIO()
    np.savez(
        buf,
        flow=flow,
        sample_id=np.array(sample_id),
        key=np.array(key),
        checksum=np.array(_sha(flow.tobytes())),
        meta=np.array(json.dumps(dict(meta or {}), sort_keys=True)),
    )
    atomic_write_bytes(path, buf.getvalue())


def read_entry(
    path: str | os.PathLike,
    *,
    sample_id: str,
    key: str | None = None,
    shape: tuple[int, ...] | None = None,
) -> CacheEntry | None:
    """Read and validate an entry; ``None`` (with the reason logged) when it must be recomputed.

    Args:
        path: The entry file.
        sample_id: The sample it must belong to.
        key: The key it must carry (``None`` skips the check, e.g. when loading a prepared folder
            without its raw inputs).
        shape: The flow shape it must have.
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            if set(z.files) != _ENTRY_KEYS:
                raise ValueError(f"arrays {sorted(z.files)}, expected {sorted(_ENTRY_KEYS)}")
            flow = z["flow"]
            found_id, found_key = str(z["sample_id"]), str(z["key"])
            checksum, meta = str(z["checksum"]), json.loads(str(z["meta"]))
    except Exception as exc:  # zipfile, OSError, ValueError, EOFError ... all mean "corrupt"
        log.warning("Cache entry %s is unreadable (%s); it will be recomputed.", path, exc)
        return None
    problem = None
    if found_id != sample_id:
        problem = f"belongs to {found_id!r}, not {sample_id!r}"
    elif key is not None and found_key != key:
        problem = "was made from other settings or input files"
    elif flow.dtype != np.float32 or (shape is not None and flow.shape != tuple(shape)):
        problem = f"has flow {flow.dtype}{flow.shape}, expected float32{shape}"
    elif not np.isfinite(flow).all():
        problem = "holds non-finite values"
    elif _sha(np.ascontiguousarray(flow).tobytes()) != checksum:
        problem = "fails its checksum"
    if problem:
        log.warning("Cache entry %s %s; it will be recomputed.", path, problem)
        return None
    return CacheEntry(found_id, flow, found_key, meta)


def read_manifest(folder: str | os.PathLike) -> dict[str, Any] | None:
    """The folder's manifest, or ``None`` when it has none.

    Raises:
        CacheError: when the manifest exists but is not valid JSON of this format.
    """
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CacheError(
            f"The manifest {path} is unreadable ({exc}). Delete the folder {path.parent} and "
            "run `featref prepare` again."
        ) from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CacheError(
            f"{path} is not a featref prepared-data manifest (format {FORMAT!r}). Point to a "
            "folder written by `featref prepare`."
        )
    return data


def write_manifest(folder: str | os.PathLike, manifest: Mapping[str, Any]) -> None:
    """Write ``manifest.json`` atomically."""
    data = {"format": FORMAT, **manifest}
    atomic_write_bytes(Path(folder) / MANIFEST, json.dumps(data, indent=2, sort_keys=True).encode())


def check_manifest(
    folder: str | os.PathLike, config_hash: str, versions: Mapping[str, str]
) -> None:
    """Refuse to reuse a folder built from other settings, another version or another OpenCV.

    Raises:
        CacheError: naming both hashes (or versions) and what to do.
    """
    found = read_manifest(folder)
    if found is None:
        return
    path = Path(folder) / MANIFEST
    if found.get("config_hash") != config_hash or (
        found.get("preprocess_version") != PREPROCESS_VERSION
    ):
        raise CacheError(
            f"Stale or mixed cache at {path}: it was built with config hash "
            f"{found.get('config_hash')!r} (PREPROCESS_VERSION {found.get('preprocess_version')}), "
            f"but these settings hash to {config_hash!r} (PREPROCESS_VERSION "
            f"{PREPROCESS_VERSION}). Delete {Path(folder)} or use another --cache-dir."
        )
    old = found.get("library_versions", {})
    changed = {k: (old.get(k), v) for k, v in versions.items() if old.get(k) != v}
    if changed:
        detail = ", ".join(f"{k} {a} -> {b}" for k, (a, b) in sorted(changed.items()))
        raise CacheError(
            f"The cache at {path} (config hash {config_hash!r}) was built with other library "
            f"versions ({detail}); its flow may differ. Delete {Path(folder)} or use another "
            "--cache-dir."
        )


# ----------------------------------------------------------------------------- reading


def _find_folder(path: Path) -> Path:
    if (path / MANIFEST).is_file():
        return path
    subs = sorted(p for p in path.glob(f"*/{MANIFEST}")) if path.is_dir() else []
    if len(subs) == 1:
        return subs[0].parent
    if not subs:
        raise CacheError(
            f"No prepared data at {path}: expected {path / MANIFEST} (or one "
            f"<config_hash>/{MANIFEST} below it). Run `featref prepare` first."
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
    manifest = read_manifest(folder) or {}
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
    manifest = read_manifest(folder) or {}
    if manifest.get("preprocess_version") != PREPROCESS_VERSION:
        raise CacheError(
            f"{folder} was prepared with PREPROCESS_VERSION {manifest.get('preprocess_version')} "
            f"(config hash {manifest.get('config_hash')!r}); this featref writes version "
            f"{PREPROCESS_VERSION}. Run `featref prepare` again."
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
        entry = read_entry(
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
