"""Files that hold secrets (the key hashing secret, token signing keys): this process's
own, regular, and closed to everyone else, or they are refused."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from policyengine.errors import ConfigError


def check_private(path: Path, info: os.stat_result, what: str) -> None:
    """Refuse ``path`` (described as ``what``) unless it is a regular file that only this
    process's user can read or write."""
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{what} {path} is not a regular file")
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{what} {path} is open to other users "
            f"(mode {stat.S_IMODE(info.st_mode):o}); run: chmod 600 {path}"
        )
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise ConfigError(f"{what} {path} belongs to another user; it must be this process's own")
