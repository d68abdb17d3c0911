"""``python -m benchmarks [--quick] [--out DIR] [--only SECTION ...]``

Measures the engine beside a hand-written check, its peers (PyCasbin, cedarpy, Cerbos,
the ``limits`` library) and itself at scale, in one run, and writes ``results.md``,
``results.json`` and PNG plots. ``--quick`` is a smoke run on tiny workloads (about
twenty seconds) that skips Cerbos and the HTTP load; its goals are not judged.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from benchmarks.harness import sections
from benchmarks.report import Report, markdown

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n\n")[1]
    )
    parser.add_argument("--quick", action="store_true", help="tiny workloads, for a smoke run")
    parser.add_argument(
        "--out",
        type=Path,
        help=f"where to write the results (default: {RESULTS}, or its quick/ folder with --quick)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=list(sections()),
        metavar="SECTION",
        help=f"run only these sections: {', '.join(sections())}",
    )
    parser.add_argument(
        "--redis",
        default="redis://127.0.0.1:6379/0",
        help="Redis for the limiter parts ('' skips them)",
    )
    parser.add_argument(
        "--cerbos",
        default="auto",
        help="the cerbos binary; 'auto' finds it or installs the npm package 'cerbos'; '' skips",
    )
    args = parser.parse_args(argv)
    from benchmarks.harness import run

    out = args.out or (RESULTS / "quick" if args.quick else RESULTS)
    command = shlex.join(
        ["python", "-m", "benchmarks", *(argv if argv is not None else sys.argv[1:])]
    )
    report = run(
        quick=args.quick,
        out=out,
        only=args.only,
        redis_url=args.redis or None,
        cerbos=args.cerbos or None,
        command=command,
    )
    print(_headline(report))
    print(f"written: {out / 'results.md'}")
    return 0


def _headline(report: Report) -> str:
    """The goals table, as printed at the end of a run."""
    text = markdown(report)
    start = text.index("## Goals")
    end = text.index("\n## ", start + 1)
    return text[start:end]


if __name__ == "__main__":
    sys.exit(main())
