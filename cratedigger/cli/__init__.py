"""The `cratedigger` command: a thin argparse layer over the engine.

Each subcommand lives in its own module with `register(subparsers)`; it sets `func(args) -> int`.
Engine errors become one readable line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from cratedigger import __version__
from cratedigger.errors import CancelledError, CrateDiggerError

# Subcommand modules under cratedigger.cli, in the order `--help` lists them.
COMMAND_MODULES = ["generate", "extend", "library", "dataset", "train", "analyze", "slice", "chop"]

EXIT_ERROR = 2
EXIT_CANCELLED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell tool killed by the closed pipe returns


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cratedigger", description="Grow, analyse, slice and keep drum breaks.")
    parser.add_argument("--version", action="version", version=f"cratedigger {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the engine does")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"cratedigger.cli.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_ERROR
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        status = int(args.func(args) or 0)
        sys.stdout.flush()  # inside the try: a closed pipe shows up here, not at interpreter exit
        return status
    except BrokenPipeError:
        # `cratedigger library list | head`: the reader has gone, which is no error of ours. Point
        # stdout at /dev/null so the interpreter's final flush does not complain either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except CancelledError:
        print("cratedigger: cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except KeyboardInterrupt:
        print("cratedigger: interrupted", file=sys.stderr)
        return EXIT_CANCELLED
    except CrateDiggerError as exc:
        print(f"cratedigger: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:  # disk full, permission denied... outside the engine's own checks
        from cratedigger.audio.io import describe_write_error

        print(f"cratedigger: error: {describe_write_error(exc)}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
