"""The ``wearsdk`` command line: one module per command.

Each command module has ``add_parser(sub)`` and ``cmd(args)``; the session commands (``demo``,
``stream``, ``record``, ``replay``, ``run``) run a :class:`~wearsdk.session.Session` whose
terminal output, files and exports are its sinks.

Exit codes: 0 success; 1 a wearsdk error (device not found, protocol, configuration);
2 usage error (argparse); 3 ``wearsdk doctor`` found a problem; 130 interrupted; 141 the
reader of the output went away (a closed pipe).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import signal
import sys
import warnings
from collections.abc import Sequence
from typing import TextIO

from wearsdk._errors import WearError
from wearsdk._version import __version__

__all__ = ["build_parser", "main"]

logger = logging.getLogger("wearsdk.cli")

_COMMANDS = ("demo", "scan", "stream", "schema", "twin", "replay", "doctor", "report", "run")
"""In the order ``wearsdk --help`` lists them (``stream`` adds ``record``); their modules are
imported when the parser is built, inside :func:`main`, so that Ctrl-C while they load is an
interrupt like any other (exit 130, no traceback)."""
_MODULE_OF = {"record": "stream"}
"""Commands added by another command's module."""


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser (exposed for documentation and tests)."""
    return _parser(_COMMANDS)


def _parser_for(argv: Sequence[str] | None) -> argparse.ArgumentParser:
    """The parser of the command line ``argv``: when it names a command, with that command's
    module only (a command's start-up does not load the other commands), else all of them
    (``wearsdk --help``, an unknown command: the full list, the same messages).
    """  # noqa: D205
    for arg in sys.argv[1:] if argv is None else argv:
        if arg == "-v" or arg == "--verbose" or (arg[:2] == "-v" and set(arg[1:]) == {"v"}):
            continue  # the only option before a command that takes no value
        name = _MODULE_OF.get(arg, arg)
        return _parser((name,) if name in _COMMANDS else _COMMANDS)
    return _parser(_COMMANDS)


def _parser(commands: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wearsdk",
        description="Wearable physiology for affective computing: stream, process, estimate.",
        epilog=(
            "exit codes: 0 success, 1 a wearsdk error (device not found, protocol, "
            "configuration), 2 usage error, 3 `wearsdk doctor` found a problem, 130 "
            "interrupted, 141 the output's reader went away"
        ),
    )
    parser.add_argument("--version", action="version", version=f"wearsdk {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    for name in commands:
        importlib.import_module(f"wearsdk.cli.{name}").add_parser(sub)
    for command_parser in sub.choices.values():  # `wearsdk demo -v` as `wearsdk -v demo`
        with contextlib.suppress(argparse.ArgumentError):  # inherited (record from stream)
            command_parser.add_argument(
                "-v",
                "--verbose",
                action="count",
                default=argparse.SUPPRESS,
                help="more log output",
            )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``wearsdk`` console script; returns the exit code."""
    _interrupts_as_usual()  # from here on Ctrl-C is a KeyboardInterrupt, handled below
    try:
        args = _parser_for(argv).parse_args(argv)
    except KeyboardInterrupt:  # Ctrl-C while the commands load
        return 130
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    _warnings_as_lines()
    if not args.verbose:
        # bumble logs a failing HCI command with its traceback; the command says it in one line
        logging.getLogger("bumble").setLevel(logging.CRITICAL)
    from wearsdk.cli._undelivered import UNDELIVERED

    UNDELIVERED.install()  # each sink's undelivered count is said once, at the end
    try:
        return _run(args)
    finally:
        UNDELIVERED.release()


def _run(args: argparse.Namespace) -> int:
    """Run the command; a user's mistake or an unavailable resource is one line."""
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    except BaseExceptionGroup as group:
        # errors of background tasks (a sink, a device) arrive grouped: report the first
        first = _first_leaf(group)
        if isinstance(first, BrokenPipeError | WearError | OSError):
            return _error(first)
        raise
    except (WearError, OSError) as exc:
        return _error(exc)
    except Exception as exc:
        if not _is_validation_error(exc):
            raise  # a bug: its traceback is what a report needs
        return _error(exc)
    return code


def _interrupts_as_usual() -> None:
    """Ctrl-C is a ``KeyboardInterrupt`` again (what ``asyncio.run`` and the commands expect).

    While the ``wearsdk`` command loads, a SIGINT handler installed by the package's first
    lines (``wearsdk/__init__.py``, in the command's own process only) ends it with exit code
    130 and no traceback; this puts Python's handler back, if that one is still in place.
    """
    handler = signal.getsignal(signal.SIGINT)
    if getattr(handler, "__name__", None) == "_interrupted_while_loading":
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _is_validation_error(exc: BaseException) -> bool:
    """A pydantic ValidationError (without importing pydantic for the check): a value the
    user gave that a model refused, said in one line like a ConfigError."""  # noqa: D205, D209
    return type(exc).__name__ == "ValidationError" and type(exc).__module__.startswith("pydantic")


def _error(exc: BaseException) -> int:
    """Say what went wrong in one line on stderr; return the exit code.

    A wearsdk error (a device not found, a bad configuration) and an operating-system error
    (a file that cannot be read or written, a connection refused) are the user's to fix,
    not a bug: one line, exit code 1; the traceback only with ``-vv``.
    """
    if isinstance(exc, BrokenPipeError):
        return _reader_went_away()
    logger.debug("details", exc_info=exc)
    print(f"wearsdk: error: {_describe(exc)}", file=sys.stderr)
    return 1


def _describe(exc: BaseException) -> str:
    if _is_validation_error(exc):
        errors = exc.errors()  # type: ignore[attr-defined]
        where = ".".join(str(x) for x in errors[0]["loc"]) if errors else ""
        text = f"{where}: {errors[0]['msg']}" if errors else str(exc).splitlines()[0]
    elif isinstance(exc, WearError) or not isinstance(exc, OSError):
        text = str(exc) or type(exc).__name__
    elif exc.filename is not None:
        text = f"{exc.filename}: {exc.strerror or exc}"
    else:
        text = str(exc.strerror or exc) or type(exc).__name__
    return " ".join(text.split())  # one line


def _warnings_as_lines() -> None:
    """Show wearsdk's own warnings (a password in an MQTT URL...) as ``wearsdk: warning: ...``
    lines on stderr, each once; other warnings as Python shows them."""  # noqa: D205, D209
    shown = warnings.showwarning
    said: set[str] = set()

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        if category.__module__.startswith("wearsdk."):
            text = str(message)
            if text not in said:
                said.add(text)
                print(f"wearsdk: warning: {text}", file=sys.stderr)
            return
        shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def _reader_went_away() -> int:
    """The reader of our output closed it (``wearsdk ... --jsonl | head``): stop quietly, as
    Unix tools do, with the shell's code for SIGPIPE."""  # noqa: D205, D209
    # what is left in Python's stdout buffer would raise again at exit: send it nowhere
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141  # 128 + SIGPIPE (13)


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
