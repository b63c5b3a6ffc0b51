"""The ``featref`` command: one console script with verb subcommands.

Each subcommand lives in its own module of this package, exposing ``register(subparsers,
common)``; only this package touches ``sys.argv``, prints and chooses exit codes. Parsing imports
no heavy library (torch, OpenCV): a subcommand imports what it needs when it runs.

Exit codes: 0 success, 2 usage error (argparse), 1 any error: a
:class:`~featref.errors.MerError`, an ``OSError`` or anything unexpected becomes one message
without a traceback (``--debug`` adds it); 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import traceback

from featref import __version__
from featref.errors import MerError

__all__ = ["main", "user_message"]

#: Subcommand modules of this package, in the order ``--help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "run",
    "evaluate",
    "evaluate_weights",
    "models",
    "protocols",
    "protocol_report",
    "report",
    "data",
    "prepare",
    "grid",
    "compare",
    "train",
    "predict",
    "demo",
)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows defaults and keeps the line breaks of descriptions.

    A default that the help text already explains (it says "default"), or that is ``None``/empty
    (the config decides), is not repeated as "(default: None)".
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or action.default in (None, [], argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)


def common_parser() -> argparse.ArgumentParser:
    """Options every subcommand shares."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    return common


def build_parser() -> argparse.ArgumentParser:
    """The full parser (cheap: no heavy imports)."""
    parser = argparse.ArgumentParser(
        prog="featref",
        description="Feature Refinement micro-expression recognition with honest "
        "leave-one-subject-out evaluation.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"featref {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = common_parser()
    for name in COMMAND_MODULES:
        importlib.import_module(f"featref.cli.{name}").register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (tests call this in-process)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(
            f"featref {args.command}: interrupted; rerun the same command to resume.",
            file=sys.stderr,
        )
        return 130
    except Exception as exc:  # noqa: BLE001 -- no traceback reaches a user without --debug
        if args.debug:
            traceback.print_exc()
        print(f"featref {args.command}: error: {user_message(exc)}", file=sys.stderr)
        return 1


def user_message(exc: BaseException) -> str:
    """The one-line (or one-block) message a user sees for ``exc``, without a traceback.

    A :class:`~featref.errors.MerError` is already written for users; an ``OSError`` (a file
    that cannot be read or written, a full disk) names the file and the system's reason; any
    other exception is a featref bug: its type and text, and how to get the traceback.
    """
    if isinstance(exc, MerError):
        return str(exc)
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        reason = exc.strerror or str(exc)
        return (
            f"cannot access{where}: {reason}. Check that the path exists, is readable (and "
            "writable for outputs) and that the disk is not full; --debug shows the traceback."
        )
    if isinstance(exc, MemoryError):
        return (
            "out of memory. Use fewer --workers, a smaller --batch-size, or a machine with more "
            "memory; --debug shows the traceback."
        )
    return (
        f"unexpected {type(exc).__name__}: {exc}. This is a featref bug, not your input: rerun "
        "with --debug and report the traceback."
    )
