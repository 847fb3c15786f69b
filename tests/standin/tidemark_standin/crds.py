"""CustomResourceDefinitions: validation, the Established/NamesAccepted status, registration."""

from __future__ import annotations

from typing import Any

from .errors import invalid
from .kinds import Kind
from .meta import clone, now
from .state import State

CRD_KEY = ("apiextensions.k8s.io", "customresourcedefinitions")
Obj = dict[str, Any]


def is_crd(key: tuple[str, str]) -> bool:
    return key == CRD_KEY


def validate(crd: Obj) -> None:
    name = crd.get("metadata", {}).get("name", "")
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group, plural = spec.get("group"), names.get("plural")
    problems = []
    if not group:
        problems.append("spec.group: Required value")
    if not plural:
        problems.append("spec.names.plural: Required value")
    if not names.get("kind"):
        problems.append("spec.names.kind: Required value")
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        problems.append("spec.scope: Unsupported value: must be Namespaced or Cluster")
    versions = spec.get("versions") or []
    if not versions:
        problems.append("spec.versions: Required value")
    if versions and sum(1 for v in versions if v.get("storage")) != 1:
        problems.append("spec.versions: Invalid value: must have exactly one version marked as storage version")
    if group and plural and name != f"{plural}.{group}":
        problems.append(f"metadata.name: Invalid value: {name!r}: must be spec.names.plural+\".\"+spec.group")
    if problems:
        raise invalid(*CRD_KEY, name, ", ".join(problems))


def with_status(crd: Obj, old: Obj | None) -> Obj:
    """The CRD with the status a healthy apiserver gives it within milliseconds."""
    spec = crd.get("spec") or {}
    names = clone(spec.get("names") or {})
    names.setdefault("singular", names.get("kind", "").lower())
    names.setdefault("listKind", f"{names.get('kind', '')}List")
    stamp = now()
    old_conditions = {c.get("type"): c for c in ((old or {}).get("status") or {}).get("conditions") or []}

    def condition(kind: str, reason: str, message: str) -> dict[str, Any]:
        previous = old_conditions.get(kind)
        since = previous.get("lastTransitionTime") if previous and previous.get("status") == "True" else stamp
        return {"type": kind, "status": "True", "lastTransitionTime": since, "reason": reason, "message": message}

    stored = [v["name"] for v in spec.get("versions") or [] if v.get("storage")]
    previously = ((old or {}).get("status") or {}).get("storedVersions") or []
    crd["status"] = {
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "acceptedNames": names,
        "storedVersions": sorted(set(previously) | set(stored)),
    }
    return crd


def register(state: State, crd: Obj) -> None:
    name = crd["metadata"]["name"]
    state.registry.remove_crd(name)
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        subresources = version.get("subresources") or spec.get("subresources") or {}
        scale = subresources.get("scale") or {}
        columns = version.get("additionalPrinterColumns") or spec.get("additionalPrinterColumns") or []
        schema = (version.get("schema") or spec.get("validation") or {}).get("openAPIV3Schema")
        kind = Kind(
            group=spec["group"],
            version=version["name"],
            plural=names["plural"],
            kind=names["kind"],
            singular=names.get("singular") or names["kind"].lower(),
            namespaced=spec.get("scope") == "Namespaced",
            verbs=["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
            short_names=list(names.get("shortNames") or []),
            categories=list(names.get("categories") or []),
            subresources={s for s in ("status", "scale") if s in subresources},
            crd=name,
            schema=schema,
            printer_columns=list(columns),
        )
        if scale:
            kind.scale_spec_path = scale.get("specReplicasPath", ".spec.replicas").lstrip(".")
            kind.scale_status_path = scale.get("statusReplicasPath", ".status.replicas").lstrip(".")
            selector = scale.get("labelSelectorPath")
            kind.scale_selector_path = selector.lstrip(".") if selector else None
        state.registry.add(kind)


def unregister(state: State, crd: Obj) -> tuple[str, str] | None:
    removed = state.registry.remove_crd(crd["metadata"]["name"])
    return removed[0].key if removed else None
