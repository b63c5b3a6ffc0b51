"""The project's one atomic file write.

A file written with these functions is either absent, its old content, or its complete new
content: the data go to a temporary file in the same folder (so the final rename never crosses a
file system), are flushed and fsync'ed, and the temporary file is moved into place with
:func:`os.replace`, which is atomic on POSIX and Windows. A crash or ``kill -9`` mid-write leaves
at most a stray ``.<name>.*.tmp`` file, never a half-written target. Parent folders are created.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write_bytes", "atomic_write_text"]


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically.

    Args:
        path: The target file; its parent folders are created if missing.
        data: The complete new content.

    Raises:
        OSError: The folder is not writable or the disk is full; the target is left unchanged
            and the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`atomic_write_bytes`.

    Args:
        path: The target file; its parent folders are created if missing.
        text: The complete new content.
    """
    atomic_write_bytes(path, text.encode("utf-8"))
