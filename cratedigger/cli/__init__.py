"""The `cratedigger` command: a thin argparse layer over the engine.

Each subcommand lives in its own module with `register(subparsers)`; it sets `func(args) -> int`.
Engine errors become one readable line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from cratedigger import __version__
from cratedigger.errors import CancelledError, CrateDiggerError

# Subcommand modules under cratedigger.cli, in the order `--help` lists them.
COMMAND_MODULES = ["generate", "extend", "library", "dataset", "train", "analyze", "slice", "chop"]

EXIT_ERROR = 2
EXIT_CANCELLED = 130


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
        return int(args.func(args) or 0)
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
        print(f"cratedigger: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
