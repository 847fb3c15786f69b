"""Optional snapshots of the store in --state-dir, so a restarted stand-in keeps its objects."""

from __future__ import annotations

import asyncio
import os
import pathlib
from typing import Any

from . import crds, jsonio
from .state import State


def save(state: State, path: pathlib.Path) -> None:
    objects = [[key[0], key[1], obj] for key, obj in state.store.all_objects()]
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(jsonio.dumps({"rv": state.store.rv, "objects": objects}))
    os.replace(tmp, path)
    state.store.dirty = False


def load(state: State, path: pathlib.Path) -> None:
    if not path.exists():
        return
    data: dict[str, Any] = jsonio.loads(path.read_bytes())
    items = [((group, plural), obj) for group, plural, obj in data.get("objects", [])]
    state.store.load(int(data.get("rv", 0)), items)
    for (group, plural), obj in items:
        if crds.is_crd((group, plural)):
            crds.register(state, obj)
        uid = obj.get("metadata", {}).get("uid")
        if uid:
            meta = obj["metadata"]
            state.uids[uid] = ((group, plural), meta.get("namespace") or "", meta.get("name") or "")


async def autosave(state: State, path: pathlib.Path, interval: float = 1.0) -> None:
    while True:
        await asyncio.sleep(interval)
        if state.store.dirty:
            save(state, path)
