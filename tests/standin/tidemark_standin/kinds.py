"""The registry of served resource kinds: built-ins (from kmock's bundled discovery) and CRDs."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import kmock

# API groups of kmock's bundle that a stock cluster does not serve without add-ons.
_SKIPPED_GROUPS = {"gateway.networking.k8s.io", "metrics.k8s.io"}
# Subresources with real semantics here; the others (exec, log, proxy...) are not emulated.
_EMULATED_SUBRESOURCES = {"status", "scale"}


@dataclasses.dataclass
class Kind:
    """One served resource: a group/version/plural with its discovery facts."""

    group: str
    version: str
    plural: str
    kind: str
    singular: str
    namespaced: bool
    verbs: list[str]
    short_names: list[str] = dataclasses.field(default_factory=list)
    categories: list[str] = dataclasses.field(default_factory=list)
    subresources: set[str] = dataclasses.field(default_factory=set)
    crd: str | None = None  # the name of the defining CRD, None for built-ins
    schema: dict[str, Any] | None = None  # openAPIV3Schema of a CRD version (for defaults)
    printer_columns: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    # JSON paths of the scale subresource (dotted, without the leading dot).
    scale_spec_path: str = "spec.replicas"
    scale_status_path: str = "status.replicas"
    scale_selector_path: str | None = "status.selector"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        """The storage key: versions of one group/plural share their objects."""
        return (self.group, self.plural)

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    def discovery_entries(self) -> list[dict[str, Any]]:
        main: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": sorted(self.verbs),
        }
        if self.short_names:
            main["shortNames"] = list(self.short_names)
        if self.categories:
            main["categories"] = list(self.categories)
        entries = [main]
        for sub in sorted(self.subresources):
            sub_kind = "Scale" if sub == "scale" else self.kind
            entry: dict[str, Any] = {
                "name": f"{self.plural}/{sub}",
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": sub_kind,
                "verbs": ["get", "patch", "update"],
            }
            if sub == "scale":
                entry["group"] = "autoscaling"
                entry["version"] = "v1"
            entries.append(entry)
        return entries


_VERSION_RE = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key of Kubernetes version priority: GA > beta > alpha, higher numbers first."""
    match = _VERSION_RE.match(version)
    if not match:
        return (3, 0, 0, version)  # non-conforming versions go last, alphabetically
    major = int(match.group(1))
    stage = {None: 0, "beta": 1, "alpha": 2}[match.group(2)]
    minor = int(match.group(3) or 0)
    return (stage, -major, -minor, version)


class Registry:
    """All kinds served, keyed by (group, version, plural)."""

    def __init__(self) -> None:
        self._kinds: dict[tuple[str, str, str], Kind] = {}
        self._group_order: list[str] = []
        self._load_builtins()

    def _load_builtins(self) -> None:
        bundled = kmock.ResourcesArray()
        bundled.load_bundled()
        for res in bundled:
            info = bundled[res]
            if res.group in _SKIPPED_GROUPS or res.plural is None or res.version is None or res.group is None:
                continue
            kind = Kind(
                group=res.group,
                version=res.version,
                plural=res.plural,
                kind=info.kind or res.plural.capitalize(),
                singular=info.singular or (info.kind or res.plural).lower(),
                namespaced=bool(info.namespaced),
                verbs=sorted(info.verbs),
                short_names=sorted(info.shortnames),
                categories=sorted(info.categories),
                subresources=set(info.subresources) & _EMULATED_SUBRESOURCES,
            )
            if kind.kind in ("Deployment", "ReplicaSet", "StatefulSet"):
                kind.scale_selector_path = "spec.selector"
            self.add(kind)

    def add(self, kind: Kind) -> None:
        self._kinds[(kind.group, kind.version, kind.plural)] = kind
        if kind.group not in self._group_order:
            self._group_order.append(kind.group)

    def remove_crd(self, crd_name: str) -> list[Kind]:
        removed = [k for k in self._kinds.values() if k.crd == crd_name]
        for kind in removed:
            del self._kinds[(kind.group, kind.version, kind.plural)]
        groups = {k.group for k in self._kinds.values()}
        self._group_order = [g for g in self._group_order if g in groups]
        return removed

    def get(self, group: str, version: str, plural: str) -> Kind | None:
        return self._kinds.get((group, version, plural))

    def by_api_version(self, api_version: str, kind_name: str) -> Kind | None:
        group, _, version = api_version.rpartition("/")
        for kind in self._kinds.values():
            if kind.group == group and kind.version == version and kind.kind == kind_name:
                return kind
        return None

    def versions_of(self, group: str, plural: str) -> list[Kind]:
        return [k for k in self._kinds.values() if k.group == group and k.plural == plural]

    def in_group_version(self, group: str, version: str) -> list[Kind]:
        return [k for k in self._kinds.values() if k.group == group and k.version == version]

    def groups(self) -> list[tuple[str, list[str]]]:
        """Named groups (not the core group) with their versions, preferred version first."""
        result = []
        for group in self._group_order:
            if not group:
                continue
            versions = sorted({k.version for k in self._kinds.values() if k.group == group}, key=version_priority)
            if versions:
                result.append((group, versions))
        return result
