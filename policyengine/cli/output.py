"""What every command shares: exit codes, one-line errors, ``--json``, aligned tables,
and the one place where an exception becomes an exit code."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime

from policyengine.errors import (
    InvalidValue,
    KeyRequestError,
    MonitorError,
    PolicyEngineError,
    PolicyError,
)

#: Exit codes: done (or allowed, or valid); failed (denied, errors found); misused.
OK, FAILED, MISUSE = 0, 1, 2

Handler = Callable[[argparse.Namespace], int]


def print_error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def print_json(value: object) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def moment(value: datetime | None, empty: str = "-") -> str:
    return empty if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(header) for header in headers]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]
    lines = [headers, *rows]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def details(fields: Sequence[tuple[str, str]]) -> str:
    """``name: value`` lines, the values aligned."""
    width = max(len(name) for name, _ in fields)
    return "\n".join(f"{name + ':':<{width + 1}} {value}" for name, value in fields)


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def guard(handler: Handler, args: argparse.Namespace) -> int:
    """Run a command; whatever it raises becomes one clear report and an exit code."""
    try:
        return handler(args)
    except PolicyError as error:
        # Commands that read the policies as a means (keys, check) say which they read.
        if getattr(args, "policies", None) is not None:
            print_error(f"the policies in {args.policies} do not load:")
        for diagnostic in error.diagnostics:
            print(diagnostic, file=sys.stderr)
        count = len(error.diagnostics)
        print(f"{count} error{'s' if count != 1 else ''}", file=sys.stderr)
        return FAILED
    except (KeyRequestError, InvalidValue, MonitorError) as error:
        print_error(str(error))
        return MISUSE
    except PolicyEngineError as error:
        print_error(str(error))
        return FAILED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return OK
    except OSError as error:
        print_error(str(error))
        return FAILED
    except Exception as error:  # a bug; still one line for the person at the terminal
        if os.environ.get("POLICYENGINE_DEBUG"):
            raise
        print(
            f"internal error: {type(error).__name__}: {error} "
            "(set POLICYENGINE_DEBUG=1 to see where)",
            file=sys.stderr,
        )
        return FAILED
