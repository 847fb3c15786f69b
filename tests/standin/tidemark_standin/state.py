"""The server's shared state: kinds, objects, settings, and indexes kept in step with the store."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

from .kinds import Kind, Registry
from .store import Change, Store, StoreKey


@dataclasses.dataclass
class Settings:
    history_size: int = 10_000
    bookmark_interval: float = 30.0
    default_watch_timeout: float = 1800.0


class State:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.registry = Registry()
        self.store = Store(self.settings.history_size)
        self.uids: dict[str, tuple[StoreKey, str, str]] = {}
        self.store.add_listener(self._index)
        self._deferred: list[Callable[[], None]] = []

    def _index(self, change: Change) -> None:
        meta = change.obj.get("metadata") or {}
        uid = meta.get("uid")
        if not uid:
            return
        if change.type == "DELETED":
            self.uids.pop(uid, None)
        else:
            self.uids[uid] = (change.key, meta.get("namespace") or "", meta.get("name") or "")

    def kind_for_key(self, key: StoreKey) -> Kind | None:
        kinds = self.registry.versions_of(*key)
        return kinds[0] if kinds else None

    def defer(self, work: Callable[[], Any]) -> None:
        """Run `work` soon, after the current response (background GC and cascades)."""
        try:
            asyncio.get_running_loop().call_soon(work)
        except RuntimeError:
            work()
