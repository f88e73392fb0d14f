"""The ``labelnoise`` command line.

Subcommands live in ``labelnoise/commands/<name>.py``; each module defines
``HELP: str``, ``add_arguments(parser)`` and ``run(args) -> int``, and imports heavy
libraries inside ``run`` so ``labelnoise --help`` stays fast. The registry below is the
one place a subcommand is listed.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from labelnoise import __version__

COMMANDS: dict[str, str] = {
    "detect": "labelnoise.commands.detect",
    "aggregate": "labelnoise.commands.aggregate",
    "simulate": "labelnoise.commands.simulate",
    "train": "labelnoise.commands.train",
    "evaluate": "labelnoise.commands.evaluate",
    "report": "labelnoise.commands.report",
    "reproduce": "labelnoise.commands.reproduce",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labelnoise",
        description="Learning with noisy labels: simulate, detect, aggregate, train, evaluate, report.",
    )
    parser.add_argument("--version", action="version", version=f"labelnoise {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "_run"):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except (ValueError, FileNotFoundError, FileExistsError) as e:
        print(f"labelnoise {args.command}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a folder where a file was expected, a read-only folder, ...
        where = f": {e.filename}" if e.filename else ""
        print(f"labelnoise {args.command}: error: {e.strerror or e}{where}", file=sys.stderr)
        return 2
    except EOFError as e:  # numpy / torch on an empty or truncated file
        print(
            f"labelnoise {args.command}: error: an input file is empty or truncated ({e})",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
