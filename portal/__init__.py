"""tDoc's API, served with the policy engine in front of every route.

``create_app(engine)`` builds the application; ``policyengine serve`` runs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from portal.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> object:
    if name == "create_app":
        from portal.app import create_app

        return create_app
    raise AttributeError(f"module 'portal' has no attribute {name!r}")
