"""Where one path's time goes: cProfile over many checks of it.

    python -m benchmarks.profile [PATH ...] [--calls 50000] [--top 25]

``PATH`` is part of a path's name, as in the results table ("allowed: read-only",
"forged", "rate limit"); without one, the allowed check. Prints the functions that
took the most time of their own, per check.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
from functools import partial

from benchmarks.fixtures import Keyring, expect
from benchmarks.paths import ALLOWED, engine_paths


def profile(path: str, calls: int, top: int) -> str:
    ring = Keyring()
    try:
        paths = engine_paths(ring)
        chosen = [name for name in paths if path.lower() in name.lower()]
        if not chosen:
            raise SystemExit(f"no path matches {path!r}; the paths are:\n  " + "\n  ".join(paths))
        name = chosen[0]
        asked, code = paths[name]
        expect(ring.engine, asked, code, name)
        check = partial(ring.engine.check, asked)
        for _ in range(min(calls, 5_000)):
            check()
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(calls):
            check()
        profiler.disable()
    finally:
        ring.close()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(top)
    total = sum(entry[2] for entry in stats.stats.values())  # type: ignore[attr-defined]
    head = f"{name} ({code.value}): {total / calls * 1e6:.2f} µs per check under cProfile\n"
    return head + text.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.profile", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("paths", nargs="*", default=[ALLOWED])
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    for path in args.paths:
        print(profile(path, args.calls, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
