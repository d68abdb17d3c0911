"""HTTP method and path → resource and action, by the route templates of the policy files."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from policyengine.errors import InvalidValue
from policyengine.policy.model import Route

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
MAX_PATH = 2048
_SEGMENT = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@%-]+")
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class Param:
    name: str


Segment = str | Param


def parse_template(path: str) -> tuple[Segment, ...]:
    """``/v1/events/{id}`` → ``("v1", "events", Param("id"))``."""
    if not path.startswith("/"):
        raise InvalidValue(f"route path {path!r} must start with '/'")
    segments: list[Segment] = []
    names = set()
    parts = path[1:].split("/")
    for index, part in enumerate(parts):
        if part == "" and index == len(parts) - 1:
            segments.append("")  # the root, or a trailing slash: a path of its own
            continue
        param = _PARAM.fullmatch(part)
        if param:
            if param.group(1) in names:
                raise InvalidValue(f"route path {path!r} names '{{{param.group(1)}}}' twice")
            names.add(param.group(1))
            segments.append(Param(param.group(1)))
        elif _SEGMENT.fullmatch(part) and "{" not in part and "}" not in part:
            segments.append(part)
        else:
            raise InvalidValue(
                f"route path {path!r} has an invalid segment {part!r}: a segment is a name "
                "or a whole {parameter}"
            )
    return tuple(segments)


@dataclass(frozen=True, slots=True)
class RouteMatch:
    route: Route
    #: The resource instance the route names, such as ``evt_42``; ``""`` when none.
    instance: str


class RouteTable:
    def __init__(self, routes: tuple[Route, ...], cache_size: int = 4096) -> None:
        self._static: dict[tuple[str, str], Route] = {}
        self._templates: dict[tuple[str, int], list[tuple[tuple[Segment, ...], Route]]] = {}
        for route in routes:
            segments = parse_template(route.path)
            if all(isinstance(s, str) for s in segments):
                self._static[(route.method, route.path)] = route
            else:
                bucket = self._templates.setdefault((route.method, len(segments)), [])
                bucket.append((segments, route))
        for bucket in self._templates.values():
            # Static segments beat parameters, leftmost first: /keys/scan before /keys/{id}.
            bucket.sort(key=lambda item: tuple(isinstance(s, Param) for s in item[0]))
        self.match: Callable[[str, str], RouteMatch | None] = lru_cache(maxsize=cache_size)(
            self._match
        )

    def _match(self, method: str, path: str) -> RouteMatch | None:
        method = method.upper()
        found = self._find(method, path)
        if found is None and method == "HEAD":
            found = self._find("GET", path)
        return found

    def _find(self, method: str, path: str) -> RouteMatch | None:
        route = self._static.get((method, path))
        if route is not None:
            return RouteMatch(route, route.instance or "")
        if not path.startswith("/") or len(path) > MAX_PATH:
            return None
        parts = path[1:].split("/")
        for segments, route in self._templates.get((method, len(parts)), ()):
            params: dict[str, str] = {}
            for segment, part in zip(segments, parts, strict=True):
                if isinstance(segment, Param):
                    if not part:
                        break
                    params[segment.name] = part
                elif segment != part:
                    break
            else:
                instance = route.instance or ""
                if instance.startswith("{"):
                    instance = params[instance[1:-1]]
                return RouteMatch(route, instance)
        return None
