"""The object store: one global resourceVersion counter, objects per kind, a bounded event history.

Stored objects are treated as immutable: writers always store a fresh dict and readers
never mutate what they get, so reads need no copying.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
from collections.abc import Iterator
from typing import Any

StoreKey = tuple[str, str]  # (group, plural)
ObjKey = tuple[str, str]  # (namespace or "", name)
Obj = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Change:
    """One committed change; `old` is the previous state (None for ADDED)."""

    rv: int
    key: StoreKey
    type: str  # ADDED, MODIFIED, DELETED
    obj: Obj
    old: Obj | None


class Subscription:
    """A live feed of changes of one kind, for one watch request."""

    def __init__(self, store: Store, key: StoreKey) -> None:
        self.key = key
        self.queue: asyncio.Queue[Change] = asyncio.Queue()
        self._store = store

    def close(self) -> None:
        self._store._subscriptions[self.key].discard(self)


def obj_key(obj: Obj) -> ObjKey:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "", meta.get("name") or "")


def _labels(obj: Obj) -> Any:
    return (obj.get("metadata") or {}).get("labels")


class _Index:
    """One kind's object keys by namespace and by label (key, value), and in order (cached)."""

    def __init__(self) -> None:
        self.by_namespace: dict[str, set[ObjKey]] = collections.defaultdict(set)
        self.by_label: dict[tuple[str, Any], set[ObjKey]] = collections.defaultdict(set)
        # Objects whose labels are not a map of hashable values (invalid, but stored): always candidates.
        self.unindexed: set[ObjKey] = set()
        self.ordered: list[ObjKey] | None = []

    def add(self, ok: ObjKey, obj: Obj, old: Obj | None) -> None:
        if old is None:
            self.by_namespace[ok[0]].add(ok)
            self.ordered = None
        else:
            if _labels(old) == _labels(obj):
                return
            self._unlabel(ok, old)
        labels = _labels(obj)
        if not labels:
            return
        if not isinstance(labels, dict) or not all(_hashable(v) for v in labels.values()):
            self.unindexed.add(ok)
            return
        for item in labels.items():
            self.by_label[item].add(ok)

    def remove(self, ok: ObjKey, old: Obj) -> None:
        keys = self.by_namespace.get(ok[0])
        if keys is not None:
            keys.discard(ok)
        self._unlabel(ok, old)
        self.ordered = None

    def _unlabel(self, ok: ObjKey, old: Obj) -> None:
        if ok in self.unindexed:
            self.unindexed.discard(ok)
            return
        for item in (_labels(old) or {}).items():
            keys = self.by_label.get(item)
            if keys is not None:
                keys.discard(ok)
                if not keys:
                    del self.by_label[item]


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


class Store:
    def __init__(self, history_size: int = 10_000) -> None:
        self.rv = 0
        self._objects: dict[StoreKey, dict[ObjKey, Obj]] = collections.defaultdict(dict)
        self._indexes: dict[StoreKey, _Index] = collections.defaultdict(_Index)
        self._history: collections.deque[Change] = collections.deque(maxlen=max(1, history_size))
        self._compacted_rv = 0  # changes at or below this rv are no longer retained
        self._subscriptions: dict[StoreKey, set[Subscription]] = collections.defaultdict(set)
        self._listeners: list[Any] = []  # callables(change) run after every commit
        self.dirty = False

    # --- reading ---------------------------------------------------------------------------
    def get(self, key: StoreKey, namespace: str, name: str) -> Obj | None:
        return self._objects[key].get((namespace, name))

    def list(self, key: StoreKey, namespace: str | None = None, labels: dict[str, str] | None = None) -> list[Obj]:
        """Objects by (namespace, name); only those in `namespace` if given, and only those that
        may carry all `labels` (a superset: callers still apply their whole selector)."""
        objs = self._objects.get(key)
        if not objs:
            return []
        index = self._indexes[key]
        candidates: set[ObjKey] | None = None
        for item in (labels or {}).items():
            keys = index.by_label.get(item) or set()
            if candidates is None or len(keys) < len(candidates):
                candidates = keys
        if candidates is not None:
            if index.unindexed:
                candidates = candidates | index.unindexed
            if namespace is None:
                return [objs[k] for k in sorted(candidates)]
            return [objs[k] for k in sorted(candidates) if k[0] == namespace]
        if namespace is not None:
            return [objs[k] for k in sorted(index.by_namespace.get(namespace, ()))]
        if index.ordered is None:
            index.ordered = sorted(objs)
        return [objs[k] for k in index.ordered]

    def keys(self) -> list[StoreKey]:
        return [k for k, v in self._objects.items() if v]

    def all_objects(self) -> Iterator[tuple[StoreKey, Obj]]:
        for key, objs in list(self._objects.items()):
            for obj in list(objs.values()):
                yield key, obj

    # --- writing ---------------------------------------------------------------------------
    def next_rv(self) -> str:
        self.rv += 1
        return str(self.rv)

    def put(self, key: StoreKey, obj: Obj) -> Change:
        """Store a new or updated object; its metadata.resourceVersion must be freshly assigned."""
        ok = obj_key(obj)
        old = self._objects[key].get(ok)
        self._objects[key][ok] = obj
        self._indexes[key].add(ok, obj, old)
        return self._commit(Change(int(obj["metadata"]["resourceVersion"]), key, "MODIFIED" if old else "ADDED", obj, old))

    def remove(self, key: StoreKey, obj: Obj) -> Change:
        """Remove an object; `obj` is its final state carrying a fresh resourceVersion."""
        ok = obj_key(obj)
        old = self._objects[key].pop(ok, None)
        if old is not None:
            self._indexes[key].remove(ok, old)
        return self._commit(Change(int(obj["metadata"]["resourceVersion"]), key, "DELETED", obj, old))

    def drop_kind(self, key: StoreKey) -> list[Obj]:
        objs = list(self._objects.pop(key, {}).values())
        self._indexes.pop(key, None)
        return objs

    def load(self, rv: int, items: list[tuple[StoreKey, Obj]]) -> None:
        """Restore a snapshot (no events: watchers start after a restart anyway)."""
        for key, obj in items:
            ok = obj_key(obj)
            old = self._objects[key].get(ok)
            self._objects[key][ok] = obj
            self._indexes[key].add(ok, obj, old)
        self.rv = max(self.rv, rv)
        self._compacted_rv = self.rv

    def _commit(self, change: Change) -> Change:
        if len(self._history) == self._history.maxlen:
            self._compacted_rv = self._history[0].rv
        self._history.append(change)
        self.dirty = True
        for sub in list(self._subscriptions.get(change.key, ())):
            sub.queue.put_nowait(change)
        for listener in list(self._listeners):
            listener(change)
        return change

    def add_listener(self, listener: Any) -> None:
        self._listeners.append(listener)

    # --- watching --------------------------------------------------------------------------
    def subscribe(self, key: StoreKey, since_rv: int) -> tuple[Subscription, list[Change]] | None:
        """Changes after `since_rv` plus a live subscription, or None if `since_rv` is too old."""
        if since_rv < self._compacted_rv:
            return None
        backlog = [c for c in self._history if c.rv > since_rv and c.key == key]
        sub = Subscription(self, key)
        self._subscriptions[key].add(sub)
        return sub, backlog

    @property
    def oldest_retained_rv(self) -> int:
        return self._compacted_rv
