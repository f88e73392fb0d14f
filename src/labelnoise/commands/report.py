"""``labelnoise report RUN_DIR``: (re)write report.html and its PNG plots."""

from __future__ import annotations

import argparse

HELP = "Write report.html with PNG plots for a finished run directory."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="a run directory written by `labelnoise train`")


def run(args: argparse.Namespace) -> int:
    from labelnoise.engine.report import write_report

    print(write_report(args.run_dir))
    return 0
