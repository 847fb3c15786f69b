"""Pruning of unknown fields in custom objects, as the API server does for a structural schema.

A field of a custom object that its CRD's openAPIV3Schema does not declare is dropped when the
object is stored (unless `x-kubernetes-preserve-unknown-fields` keeps it), on the main resource
and on the status subresource alike. So an operator that writes a status field missing from its
CRD, or a manifest with a misspelt field, loses that field here exactly as on a real cluster.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

# Kept at the top of every object and of embedded resources; metadata is the server's business.
_ROOT_FIELDS = ("apiVersion", "kind", "metadata")


def prune(value: Any, schema: dict[str, Any] | None, *, root: bool = False) -> list[str]:
    """Drop, in place, the fields of `value` that `schema` does not declare; returns their paths."""
    dropped: list[str] = []
    if schema:
        _prune(value, schema, "", dropped, root)
    return dropped


def _prune(value: Any, schema: dict[str, Any], path: str, dropped: list[str], root: bool) -> None:
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        embedded = root or bool(schema.get("x-kubernetes-embedded-resource"))
        for name in list(value):
            child = f"{path}.{name}" if path else name
            if embedded and name in _ROOT_FIELDS:
                continue
            if name in props:
                _prune(value[name], props[name], child, dropped, False)
            elif isinstance(extra, dict):
                _prune(value[name], extra, child, dropped, False)
            elif extra is True or preserve:
                continue
            else:
                del value[name]
                dropped.append(child)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            _prune(item, schema["items"], f"{path}[{i}]", dropped, False)
