"""Deletion: finalizers and deletionTimestamp, preconditions, garbage collection, cascades."""

from __future__ import annotations

from typing import Any

from . import crds
from .errors import conflict, not_found
from .kinds import Kind
from .meta import clone, now
from .routing import Target
from .selectors import Predicate
from .state import State
from .store import StoreKey

Obj = dict[str, Any]


def delete(state: State, target: Target, options: dict[str, Any], *, dry_run: bool = False) -> Obj:
    """DELETE one object; returns its last state (terminating, or as removed)."""
    kind = target.kind
    obj = state.store.get(kind.key, target.namespace or "", target.name or "")
    if obj is None:
        raise not_found(kind.group, kind.plural, target.name)
    pre = options.get("preconditions") or {}
    if pre.get("uid") and pre["uid"] != obj["metadata"].get("uid"):
        raise conflict(kind.group, kind.plural, target.name or "", "Precondition failed: UID in precondition does not match")
    if pre.get("resourceVersion") and pre["resourceVersion"] != obj["metadata"].get("resourceVersion"):
        raise conflict(kind.group, kind.plural, target.name or "", "Precondition failed: resourceVersion does not match")
    if dry_run:
        return obj
    if options.get("propagationPolicy") == "Orphan":
        _orphan_dependents(state, obj["metadata"].get("uid"))
    return begin_deletion(state, kind, obj)


def begin_deletion(state: State, kind: Kind, obj: Obj) -> Obj:
    meta = obj["metadata"]
    if meta.get("finalizers"):
        if meta.get("deletionTimestamp"):
            return obj  # already terminating
        new = clone(obj)
        new["metadata"]["deletionTimestamp"] = now()
        new["metadata"]["deletionGracePeriodSeconds"] = 0
        new["metadata"]["resourceVersion"] = state.store.next_rv()
        state.store.put(kind.key, new)
        return new
    final = clone(obj)
    final["metadata"]["resourceVersion"] = state.store.next_rv()
    return remove_now(state, kind, final)


def remove_now(state: State, kind: Kind, final: Obj) -> Obj:
    """Remove an object for good; `final` carries its last state with a fresh resourceVersion."""
    state.store.remove(kind.key, final)
    uid = final["metadata"].get("uid")
    if crds.is_crd(kind.key):
        served = crds.unregister(state, final)
        if served is not None:
            state.defer(lambda: _drop_all(state, served))
    if kind.key == ("", "namespaces"):
        namespace = final["metadata"]["name"]
        state.defer(lambda: _drop_namespace(state, namespace))
    if uid:
        state.defer(lambda: collect_garbage(state, uid))
    return final


def _delete_quietly(state: State, key: StoreKey, obj: Obj) -> None:
    kind = state.kind_for_key(key)
    current = state.store.get(key, obj["metadata"].get("namespace") or "", obj["metadata"]["name"])
    if kind is not None and current is not None:
        begin_deletion(state, kind, current)


def collect_garbage(state: State, owner_uid: str) -> None:
    """Background propagation: delete dependents none of whose owners exist any more."""
    for key, obj in list(state.store.all_objects()):
        refs = obj["metadata"].get("ownerReferences") or []
        if not any(ref.get("uid") == owner_uid for ref in refs):
            continue
        if any(ref.get("uid") in state.uids for ref in refs):
            continue
        _delete_quietly(state, key, obj)


def _orphan_dependents(state: State, owner_uid: str | None) -> None:
    if not owner_uid:
        return
    for key, obj in list(state.store.all_objects()):
        refs = obj["metadata"].get("ownerReferences") or []
        if any(ref.get("uid") == owner_uid for ref in refs):
            new = clone(obj)
            new["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != owner_uid]
            new["metadata"]["resourceVersion"] = state.store.next_rv()
            state.store.put(key, new)


def _drop_namespace(state: State, namespace: str) -> None:
    for key, obj in list(state.store.all_objects()):
        if obj["metadata"].get("namespace") == namespace:
            _delete_quietly(state, key, obj)


def _drop_all(state: State, key: StoreKey) -> None:
    """A CRD went away: its custom objects go too (watchers see DELETED events)."""
    for obj in state.store.list(key):
        final = clone(obj)
        final["metadata"]["resourceVersion"] = state.store.next_rv()
        state.store.remove(key, final)


def delete_collection(state: State, target: Target, predicate: Predicate, options: dict[str, Any]) -> list[Obj]:
    kind = target.kind
    deleted = []
    for obj in state.store.list(kind.key, target.namespace):
        if predicate(obj):
            deleted.append(begin_deletion(state, kind, obj))
    return deleted
