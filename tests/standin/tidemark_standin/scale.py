"""The `/scale` subresource (autoscaling/v1 Scale) of workloads and CRDs that declare it."""

from __future__ import annotations

from typing import Any

from . import jsonio
from .errors import bad_request, unsupported_media_type
from .meta import clone, get_path, set_path
from .patching import json_patch, merge_patch
from .routing import Target
from .selectors import selector_to_string
from .state import State
from .writes import _existing, commit_update

Obj = dict[str, Any]


def to_scale(target: Target, obj: Obj) -> Obj:
    kind = target.kind
    meta = obj["metadata"]
    selector: Any = get_path(obj, kind.scale_selector_path) if kind.scale_selector_path else None
    if isinstance(selector, dict):
        selector = selector_to_string(selector)
    status: dict[str, Any] = {"replicas": get_path(obj, kind.scale_status_path) or 0}
    if selector:
        status["selector"] = selector
    scale_meta = {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta}
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": scale_meta,
        "spec": {"replicas": get_path(obj, kind.scale_spec_path) or 0},
        "status": status,
    }


def read(state: State, target: Target) -> Obj:
    return to_scale(target, _existing(state, target))


def write(state: State, target: Target, method: str, raw: bytes, content_type: str, *, dry_run: bool) -> Obj:
    old = _existing(state, target)
    current = to_scale(target, old)
    try:
        body = jsonio.loads(raw or b"null")
    except ValueError as exc:
        raise bad_request(f"invalid body: {exc}") from exc
    ctype = content_type.split(";")[0].strip().lower()
    if method == "PUT":
        wanted = body
    elif ctype in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
        wanted = merge_patch(clone(current), body)
    elif ctype == "application/json-patch+json":
        wanted = json_patch(current, body)
    elif ctype == "application/apply-patch+yaml":
        wanted = merge_patch(clone(current), body)
    else:
        raise unsupported_media_type(content_type)
    if not isinstance(wanted, dict):
        raise bad_request("a Scale object is expected")
    replicas = (wanted.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or replicas < 0:
        raise bad_request("spec.replicas must be a non-negative integer")
    candidate = clone(old)
    set_path(candidate, target.kind.scale_spec_path, replicas)
    rv = (wanted.get("metadata") or {}).get("resourceVersion")
    candidate["metadata"]["resourceVersion"] = rv or old["metadata"]["resourceVersion"]
    main = Target(target.kind, target.namespace, target.name, None)
    return to_scale(target, commit_update(state, main, old, candidate, dry_run=dry_run))
