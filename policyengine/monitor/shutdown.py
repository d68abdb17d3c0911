"""Flushing on the way out: at interpreter exit, and on SIGTERM and SIGINT.

Each open engine registers its flush here (weakly: a forgotten engine is not kept alive).
The signal handlers flush every engine, then hand the signal on to whatever handled it
before, so that a host application's own handlers still run; where there was none, the
default action follows (the process ends, with the signal's status). They are installed
once, from the main thread only, which is the only thread Python lets set them.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
import weakref
from collections.abc import Callable
from types import FrameType
from typing import Any

log = logging.getLogger("policyengine.monitor")

#: Seconds each engine gets to flush when the process is told to stop.
FLUSH_TIMEOUT = 10.0
SIGNALS = (signal.SIGTERM, signal.SIGINT)

_lock = threading.Lock()
_flushes: dict[int, weakref.WeakMethod[Callable[[float], object]]] = {}
_previous: dict[int, Any] = {}
_atexit_registered = False


def register(flush: Callable[[float], object], signals: bool = True) -> int:
    """Call ``flush(timeout)`` at exit (and on SIGTERM/SIGINT when ``signals``) until
    :func:`unregister`; ``flush`` must be a bound method."""
    global _atexit_registered
    handle = id(flush.__self__)  # type: ignore[attr-defined]
    with _lock:
        _flushes[handle] = weakref.WeakMethod(flush)
        if not _atexit_registered:
            atexit.register(flush_all)
            _atexit_registered = True
    if signals:
        _install()
    return handle


def unregister(handle: int) -> None:
    with _lock:
        _flushes.pop(handle, None)


def flush_all(timeout: float = FLUSH_TIMEOUT) -> None:
    with _lock:
        flushes = [ref() for ref in _flushes.values()]
    for flush in flushes:
        if flush is None:
            continue
        try:
            flush(timeout)
        except Exception:
            log.exception("flushing the monitor on the way out failed")


def _install() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    with _lock:
        for signum in SIGNALS:
            if signum in _previous:
                continue
            current = signal.getsignal(signum)
            if current is _handle:
                continue
            _previous[signum] = current
            signal.signal(signum, _handle)


def _handle(signum: int, frame: FrameType | None) -> None:
    flush_all()
    previous = _previous.get(signum)
    if callable(previous):
        previous(signum, frame)  # for SIGINT by default: KeyboardInterrupt
    elif previous == signal.SIG_IGN:
        return
    else:
        # The default action, as if no handler had been installed: for SIGTERM, the end.
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
