"""Parsing a resource URL into (kind, namespace, name, subresource)."""

from __future__ import annotations

import dataclasses

from .errors import resource_not_found
from .kinds import Kind, Registry


@dataclasses.dataclass(frozen=True)
class Target:
    kind: Kind
    namespace: str | None  # None: cluster-scoped kind, or all namespaces for lists
    name: str | None
    subresource: str | None


@dataclasses.dataclass(frozen=True)
class ResourcePath:
    group: str
    version: str
    plural: str
    namespace: str | None
    name: str | None
    subresource: str | None


def parse_resource_path(path: str) -> ResourcePath | None:
    """The resource parts of an API path, or None for non-resource paths (discovery etc.)."""
    parts = [p for p in path.strip("/").split("/") if p]
    if len(parts) >= 3 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if rest[0] == "watch":  # the deprecated /watch/ prefix
        rest = rest[1:]
        if not rest:
            return None
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3 and not (group == "" and rest[2] in ("status", "finalize")):
        namespace, rest = rest[1], rest[2:]
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else None
    subresource = "/".join(rest[2:]) or None
    return ResourcePath(group, version, plural, namespace, name, subresource)


def resolve(registry: Registry, path: str) -> Target | None:
    parsed = parse_resource_path(path)
    if parsed is None:
        return None
    kind = registry.get(parsed.group, parsed.version, parsed.plural)
    if kind is None:
        raise resource_not_found(path)
    if not kind.namespaced and parsed.namespace is not None:
        raise resource_not_found(path)
    if parsed.subresource is not None and parsed.subresource not in kind.subresources:
        raise resource_not_found(path)
    return Target(kind, parsed.namespace, parsed.name, parsed.subresource)
