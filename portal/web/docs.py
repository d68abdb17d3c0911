"""The Sphinx site at ``/docs``: built from ``docs/`` into a directory the portal serves.

The portal builds it itself, in a separate process, when the built site is missing or
older than its sources (so a fresh clone's first ``policyengine serve`` builds it, and a
later one rebuilds only after the docs changed); until the build is done ``/docs`` says
so. ``sphinx-build -b html docs docs/_build/html``, the README's command, builds the
same site into the same place.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from pathlib import Path

from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

log = logging.getLogger("portal")

#: The repository's docs, beside the portal package.
SOURCE = Path(__file__).resolve().parents[2] / "docs"


class DocsSite:
    """The built site, and the build that makes it when needed."""

    def __init__(self, source: Path = SOURCE, build: Path | None = None) -> None:
        self.source = source
        self.build = build if build is not None else source / "_build" / "html"
        self.error: str | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def ready(self) -> bool:
        return (self.build / "index.html").is_file()

    @property
    def building(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stale(self) -> bool:
        """Missing, or older than a source file (sources under ``_build`` do not count)."""
        if not self.ready:
            return True
        built = (self.build / "index.html").stat().st_mtime
        return any(
            path.stat().st_mtime > built
            for path in self.source.rglob("*")
            if path.is_file() and "_build" not in path.relative_to(self.source).parts
        )

    def ensure(self) -> None:
        """Start a build in the background when the site is stale and the sources exist."""
        if not (self.source / "conf.py").is_file():
            return
        with self._lock:
            if self.building or not self.stale():
                return
            self.error = None
            self._thread = threading.Thread(target=self._build, name="docs-build", daemon=True)
            self._thread.start()

    def wait(self, timeout: float) -> bool:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.ready and not self.building

    def _build(self) -> None:
        log.info("building the docs from %s into %s", self.source, self.build)
        command = [
            sys.executable,
            "-m",
            "sphinx",
            "-q",
            "-b",
            "html",
            str(self.source),
            str(self.build),
        ]
        try:
            result = subprocess.run(  # noqa: S603 - our own interpreter and paths
                command, capture_output=True, text=True, timeout=600, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            self.error = str(error)
        else:
            if result.returncode != 0:
                self.error = (result.stderr or result.stdout).strip()[-2000:] or "sphinx failed"
        if self.error:
            log.warning("the docs did not build: %s", self.error)

    def files(self) -> StaticFiles:
        return StaticFiles(directory=self.build, html=True, check_dir=False)


class DocsApp:
    """``/docs``: the built site's files, or a page that says why there is none yet."""

    def __init__(self, site: DocsSite, pending: object) -> None:
        self.site = site
        self.pending = pending
        self._files: StaticFiles | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.site.ready:
            if self._files is None:
                self._files = self.site.files()
            await self._files(scope, receive, send)
            return
        await self.pending(scope, receive, send)  # type: ignore[operator]
