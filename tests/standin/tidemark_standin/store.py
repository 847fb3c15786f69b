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


class Store:
    def __init__(self, history_size: int = 10_000) -> None:
        self.rv = 0
        self._objects: dict[StoreKey, dict[ObjKey, Obj]] = collections.defaultdict(dict)
        self._history: collections.deque[Change] = collections.deque(maxlen=max(1, history_size))
        self._compacted_rv = 0  # changes at or below this rv are no longer retained
        self._subscriptions: dict[StoreKey, set[Subscription]] = collections.defaultdict(set)
        self._listeners: list[Any] = []  # callables(change) run after every commit
        self.dirty = False

    # --- reading ---------------------------------------------------------------------------
    def get(self, key: StoreKey, namespace: str, name: str) -> Obj | None:
        return self._objects[key].get((namespace, name))

    def list(self, key: StoreKey, namespace: str | None = None) -> list[Obj]:
        objs = self._objects.get(key, {})
        if namespace is None:
            return [objs[k] for k in sorted(objs)]
        return [objs[k] for k in sorted(objs) if k[0] == namespace]

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
        return self._commit(Change(int(obj["metadata"]["resourceVersion"]), key, "MODIFIED" if old else "ADDED", obj, old))

    def remove(self, key: StoreKey, obj: Obj) -> Change:
        """Remove an object; `obj` is its final state carrying a fresh resourceVersion."""
        old = self._objects[key].pop(obj_key(obj), None)
        return self._commit(Change(int(obj["metadata"]["resourceVersion"]), key, "DELETED", obj, old))

    def drop_kind(self, key: StoreKey) -> list[Obj]:
        objs = list(self._objects.pop(key, {}).values())
        return objs

    def load(self, rv: int, items: list[tuple[StoreKey, Obj]]) -> None:
        """Restore a snapshot (no events: watchers start after a restart anyway)."""
        for key, obj in items:
            self._objects[key][obj_key(obj)] = obj
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
