"""Optional Ray support shared by preprocessing and evaluation (``--backend ray``).

Ray is an optional extra (``pip install "featref[ray]"``): this module imports it only when a
function here is called, never at import time, and turns a missing install into one
:class:`~featref.errors.ConfigError` that says what to install.

* :func:`session` connects to Ray for the duration of a ``with`` block: an existing cluster when
  given an address (``"auto"`` or ``"host:port"``), else a new local instance with ``num_cpus``
  CPUs; a process already connected keeps its connection. Only what it started is shut down.
* :func:`imap_unordered` runs one Ray task (1 CPU) per call and yields each result as soon as it
  finishes (``ray.wait``), so callers can store every result before the next one arrives.

Ray retries a task whose worker process died (``max_retries``, 3 by default); a task that raised
is not retried, and its error is re-raised here (a featref error as itself, without Ray's
wrapping).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from featref.errors import ConfigError, MerError

__all__ = ["INSTALL_HINT", "import_ray", "imap_unordered", "session"]

log = logging.getLogger(__name__)

INSTALL_HINT = 'pip install "featref[ray]"'


def import_ray() -> Any:
    """The ``ray`` module.

    Raises:
        ConfigError: when Ray is not installed (names the pip command).
    """
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(
            f"--backend ray needs Ray, which is not installed ({exc}). Install it with "
            f"`{INSTALL_HINT}`, or use --backend local."
        ) from exc
    return ray


@contextmanager
def session(address: str | None = None, *, num_cpus: int | None = None) -> Iterator[Any]:
    """Be connected to Ray inside the block; yields the ``ray`` module.

    Args:
        address: ``None`` starts a new local Ray instance (shut down on exit); ``"auto"`` joins
            the cluster that ``ray start`` began on this machine; ``"host:port"`` joins the
            cluster whose head node is there. Ignored when this process is already connected.
        num_cpus: CPUs of a new local instance (the number of tasks run at once).

    Raises:
        ConfigError: when Ray is missing, ``num_cpus < 1``, or the cluster cannot be reached.
    """
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    if num_cpus is not None and num_cpus < 1:
        raise ConfigError(f"The number of Ray workers must be at least 1. Got {num_cpus}.")
    options: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING}
    try:
        if address is None:
            # "local" always starts a new instance, even when $RAY_ADDRESS is set.
            ray.init(address="local", num_cpus=num_cpus, **options)
            log.info("Started a local Ray instance with %s CPUs.", num_cpus)
        else:
            ray.init(address=address, **options)
            log.info("Connected to the Ray cluster at %s: %s", address, ray.cluster_resources())
    except ConnectionError as exc:
        raise ConfigError(
            f"Could not connect to a Ray cluster at --ray-address {address!r}: "
            f"{str(exc).rstrip('.')}. Start one "
            "with `ray start --head` (see docs/ray.md), or leave out --ray-address to start a "
            "local Ray instance."
        ) from exc
    try:
        yield ray
    finally:
        ray.shutdown()


def _result(ray: Any, ref: Any) -> Any:
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, MerError):  # a user-facing error: show its message, not Ray's
            raise cause from exc
        raise


def imap_unordered(
    fn: Callable[..., Any], calls: Iterable[tuple], *, in_flight: int | None = None
) -> Iterator[tuple[int, Any]]:
    """Run ``fn(*args)`` as a Ray task (1 CPU) for each ``args`` of ``calls``.

    Must be called while connected (inside :func:`session`). ``fn`` must be importable on the
    workers (a module-level function of featref). Arguments that are ``ray.ObjectRef`` are
    fetched by the worker, so large shared data can be ``ray.put`` once.

    Args:
        fn: The function to run on the workers.
        calls: Positional arguments of each call.
        in_flight: Tasks submitted at once (default: twice the cluster's CPUs, which keeps every
            CPU busy while finished results are handled). More are submitted as tasks finish.

    Yields:
        ``(position in calls, result)`` in the order the tasks finish. Leaving the loop early
        (an error, Ctrl-C) cancels the tasks not yet finished.
    """
    ray = import_ray()
    remote = ray.remote(num_cpus=1)(fn)
    calls = list(calls)
    limit = in_flight or max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
    pending: dict[Any, int] = {}
    submitted = 0
    try:
        while submitted < len(calls) or pending:
            while submitted < len(calls) and len(pending) < limit:
                pending[remote.remote(*calls[submitted])] = submitted
                submitted += 1
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                yield pending.pop(ref), _result(ray, ref)
    finally:
        for ref in pending:
            try:
                ray.cancel(ref)
            except Exception:  # already finished or gone: nothing to cancel
                pass
