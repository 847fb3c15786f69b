"""Create, update (PUT), patch and server-side apply, with the server-owned fields kept honest."""

from __future__ import annotations

from typing import Any

import yaml

from . import crds, deletion, jsonio, pruning
from .defaults import apply_defaults, initial_status
from .errors import already_exists, bad_request, conflict, invalid, not_found, unsupported_media_type
from .kinds import Kind
from .meta import clone, generated_name, metadata, new_uid, now, spec_part, without_volatile
from .patching import json_patch, merge_patch, strategic_merge_patch
from .routing import Target
from .state import State

Obj = dict[str, Any]

# metadata fields a client cannot change through an update.
_SERVER_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation")


def _check_identity(kind: Kind, body: Any, target: Target) -> Obj:
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    if body.get("kind") and body["kind"] != kind.kind:
        raise bad_request(f"the kind of the object ({body['kind']}) does not match the resource ({kind.kind})")
    api_version = body.get("apiVersion")
    if api_version and api_version.rpartition("/")[0] != kind.group:
        raise bad_request(f"the API version of the object ({api_version}) does not match the group {kind.group!r}")
    meta = body.get("metadata") or {}
    if not isinstance(meta, dict):
        raise bad_request("metadata must be an object")
    ns = meta.get("namespace")
    if kind.namespaced and target.namespace and ns and ns != target.namespace:
        raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
    return body


def _normalize(kind: Kind, obj: Obj, namespace: str | None) -> Obj:
    obj["apiVersion"] = kind.api_version
    obj["kind"] = kind.kind
    meta = metadata(obj)
    if kind.namespaced:
        meta["namespace"] = namespace or meta.get("namespace") or "default"
    else:
        meta.pop("namespace", None)
    return obj


def _prune(kind: Kind, value: Any, schema: dict[str, Any] | None, strict: bool, *, root: bool = False) -> None:
    """Drops the fields the CRD's schema does not declare; with `fieldValidation=Strict` a
    write holding any is refused instead, naming them, as the API server does."""
    dropped = pruning.prune(value, schema, root=root)
    if dropped and strict:
        unknown = ", ".join(f'unknown field "{path}"' for path in dropped)
        raise bad_request(f"{kind.kind} in version \"{kind.version}\" cannot be handled as a {kind.kind}: "
                          f"strict decoding error: {unknown}")


def create(state: State, target: Target, body: Any, *, dry_run: bool = False, manager: str | None = None,
           strict: bool = False) -> Obj:
    """Create an object from `body`, a private object (a fresh parse) that this takes over."""
    kind = target.kind
    obj = _check_identity(kind, body, target)
    obj = _normalize(kind, obj, target.namespace)
    meta = obj["metadata"]
    if not meta.get("name"):
        if not meta.get("generateName"):
            raise invalid(kind.group, kind.plural, None, "metadata.name: Required value: name or generateName is required")
        meta["name"] = generated_name(meta["generateName"])
    if kind.namespaced and not meta.get("namespace"):
        raise bad_request("a namespace is required")
    if state.store.get(kind.key, meta.get("namespace") or "", meta["name"]) is not None:
        raise already_exists(kind.group, kind.plural, meta["name"])
    for field in ("deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion", "selfLink", "managedFields"):
        meta.pop(field, None)
    meta["uid"] = new_uid()
    meta["creationTimestamp"] = now()
    if manager:
        _record_manager(obj, manager, "Apply", None, kind.api_version)
    meta["generation"] = 1
    if kind.has_status:
        obj.pop("status", None)
    status = initial_status(kind, obj)
    if status is not None and "status" not in obj:
        obj["status"] = status
    apply_defaults(kind, obj, creating=True)
    if kind.crd is not None:
        _prune(kind, obj, kind.schema, strict, root=True)
    if crds.is_crd(kind.key):
        crds.validate(obj)
        crds.with_status(obj, None)
    if dry_run:
        meta["resourceVersion"] = str(state.store.rv)
        return obj
    meta["resourceVersion"] = state.store.next_rv()
    state.store.put(kind.key, obj)
    if crds.is_crd(kind.key):
        crds.register(state, obj)
    refs = meta.get("ownerReferences") or []
    if refs and not any(ref.get("uid") in state.uids for ref in refs):
        # As the garbage collector does: a dependent whose owners are all gone is deleted.
        state.defer(lambda: deletion.collect_garbage(state, refs[0].get("uid", "")))
    return obj


def _existing(state: State, target: Target) -> Obj:
    kind = target.kind
    obj = state.store.get(kind.key, target.namespace or "", target.name or "")
    if obj is None:
        raise not_found(kind.group, kind.plural, target.name)
    return obj


def commit_update(state: State, target: Target, old: Obj, candidate: Obj, *, dry_run: bool = False,
                  strict: bool = False) -> Obj:
    """Turn a client's intended object into the stored one; `candidate` is a private copy."""
    kind = target.kind
    wanted_rv = (candidate.get("metadata") or {}).get("resourceVersion")
    if wanted_rv and wanted_rv != old["metadata"]["resourceVersion"]:
        raise conflict(kind.group, kind.plural, target.name or "")
    if target.subresource == "status":
        # Stored objects are never mutated, so the new version shares all but its top level
        # and metadata (written below) with the old one.
        new = dict(old, metadata=dict(old["metadata"]))
        if "status" in candidate:
            new["status"] = candidate["status"]
            if kind.crd is not None and kind.schema:
                _prune(kind, new["status"], (kind.schema.get("properties") or {}).get("status"), strict)
        else:
            new.pop("status", None)
    else:
        new = _normalize(kind, candidate, target.namespace)
        meta = metadata(new)
        if meta.get("name") != old["metadata"]["name"]:
            raise bad_request("the name of the object does not match the name on the URL")
        for field in _SERVER_META:
            if field in old["metadata"]:
                meta[field] = old["metadata"][field]
            else:
                meta.pop(field, None)
        if kind.has_status:
            if "status" in old:
                new["status"] = clone(old["status"])
            else:
                new.pop("status", None)
        apply_defaults(kind, new, creating=False)
        if kind.crd is not None:
            _prune(kind, new, kind.schema, strict, root=True)
        if crds.is_crd(kind.key):
            crds.validate(new)
            crds.with_status(new, old)
    new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
    if spec_part(new, kind.has_status) != spec_part(old, kind.has_status):
        new["metadata"]["generation"] = int(old["metadata"].get("generation") or 1) + 1
    if without_volatile(new) == without_volatile(old):
        return old  # a no-op write: no new resourceVersion, no watch event
    if dry_run:
        return new
    new["metadata"]["resourceVersion"] = state.store.next_rv()
    meta = new["metadata"]
    if meta.get("deletionTimestamp") and not meta.get("finalizers"):
        return deletion.remove_now(state, kind, new)
    state.store.put(kind.key, new)
    if crds.is_crd(kind.key):
        crds.register(state, new)
    return new


def update(state: State, target: Target, body: Any, *, dry_run: bool = False, strict: bool = False) -> Obj:
    """Replace an object with `body`, a private object (a fresh parse) that this takes over."""
    old = _existing(state, target)
    candidate = _check_identity(target.kind, body, target)
    return commit_update(state, target, old, candidate, dry_run=dry_run, strict=strict)


def _parse_apply_body(raw: bytes) -> Any:
    try:
        return jsonio.loads(raw)
    except ValueError:
        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise bad_request(f"the apply body is neither JSON nor YAML: {exc}") from exc


def _record_manager(obj: Obj, manager: str, operation: str, subresource: str | None, api_version: str) -> None:
    entries = [
        e
        for e in metadata(obj).get("managedFields") or []
        if not (e.get("manager") == manager and e.get("operation") == operation and e.get("subresource") == subresource)
    ]
    entry: dict[str, Any] = {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": now(),
        "fieldsType": "FieldsV1",
        "fieldsV1": {},
    }
    if subresource:
        entry["subresource"] = subresource
    entries.append(entry)
    obj["metadata"]["managedFields"] = entries


def patch(
    state: State,
    target: Target,
    raw: bytes,
    content_type: str,
    params: dict[str, str],
    *,
    dry_run: bool = False,
    strict: bool = False,
) -> tuple[Obj, bool]:
    """Apply a patch; returns (object, created). Only server-side apply creates missing objects."""
    kind = target.kind
    ctype = content_type.split(";")[0].strip().lower()
    if ctype == "application/apply-patch+yaml":
        return _apply(state, target, raw, params, dry_run=dry_run, strict=strict)
    try:
        body = jsonio.loads(raw or b"null")
    except ValueError as exc:
        raise bad_request(f"the patch is not valid JSON: {exc}") from exc
    old = _existing(state, target)
    if ctype == "application/merge-patch+json":
        if not isinstance(body, dict):
            raise bad_request("a merge patch must be a JSON object")
        candidate = merge_patch(clone(old), body)
    elif ctype == "application/strategic-merge-patch+json":
        if not isinstance(body, dict):
            raise bad_request("a strategic merge patch must be a JSON object")
        candidate = strategic_merge_patch(clone(old), body)
    elif ctype == "application/json-patch+json":
        candidate = json_patch(old, body)
        if not isinstance(candidate, dict):
            raise bad_request("the JSON patch did not produce an object")
    else:
        raise unsupported_media_type(content_type)
    if not (body and isinstance(body, dict) and (body.get("metadata") or {}).get("resourceVersion")):
        if ctype != "application/json-patch+json":
            metadata(candidate)["resourceVersion"] = old["metadata"]["resourceVersion"]
    return commit_update(state, Target(kind, target.namespace, target.name, target.subresource), old, candidate,
                         dry_run=dry_run, strict=strict), False


def _apply(state: State, target: Target, raw: bytes, params: dict[str, str], *, dry_run: bool,
           strict: bool) -> tuple[Obj, bool]:
    kind = target.kind
    manager = params.get("fieldManager")
    if not manager:
        raise bad_request("PATCH /apply requests require a fieldManager query parameter")
    body = _parse_apply_body(raw)
    if not isinstance(body, dict) or not body.get("apiVersion") or not body.get("kind"):
        raise bad_request("an applied configuration must be an object with apiVersion and kind")
    _check_identity(kind, body, target)
    name = (body.get("metadata") or {}).get("name")
    if name and name != target.name:
        raise bad_request("the name of the applied object does not match the name on the URL")
    metadata(body).pop("managedFields", None)  # `body` is a fresh parse: private
    old = state.store.get(kind.key, target.namespace or "", target.name or "")
    if old is None:
        if target.subresource:
            raise not_found(kind.group, kind.plural, target.name)
        metadata(body)["name"] = target.name
        created = create(state, Target(kind, target.namespace, None, None), body, dry_run=dry_run, manager=manager,
                         strict=strict)
        return created, True
    candidate = merge_patch(clone(old), body)
    if not (body.get("metadata") or {}).get("resourceVersion"):
        candidate["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
    if target.subresource != "status":
        _record_manager(candidate, manager, "Apply", None, kind.api_version)
    return commit_update(state, target, old, candidate, dry_run=dry_run, strict=strict), False
