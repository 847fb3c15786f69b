"""Watch streams: from a resourceVersion, with timeouts, BOOKMARKs, and 410 Expired when too old."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp.web

from . import jsonio
from .errors import bad_request, status_object
from .kinds import Kind
from .selectors import Predicate
from .state import State
from .store import Change

Obj = dict[str, Any]


def as_version(kind: Kind, obj: Obj) -> Obj:
    """Serve an object under the requested version (versions share storage, no conversion)."""
    if obj.get("apiVersion") == kind.api_version:
        return obj
    return dict(obj, apiVersion=kind.api_version)


def translate(change: Change, predicate: Predicate) -> tuple[str, Obj] | None:
    """The event a filtered watcher sees: objects entering/leaving the selection become ADDED/DELETED."""
    if change.type == "ADDED":
        return ("ADDED", change.obj) if predicate(change.obj) else None
    if change.type == "DELETED":
        matched = predicate(change.obj) or (change.old is not None and predicate(change.old))
        return ("DELETED", change.obj) if matched else None
    now_matches = predicate(change.obj)
    was_matching = change.old is not None and predicate(change.old)
    if now_matches and was_matching:
        return ("MODIFIED", change.obj)
    if now_matches:
        return ("ADDED", change.obj)
    if was_matching:
        return ("DELETED", change.obj)
    return None


def _line(event_type: str, obj: Obj) -> bytes:
    return jsonio.dumps({"type": event_type, "object": obj}) + b"\n"


def _bookmark(kind: Kind, rv: int, initial_end: bool = False) -> bytes:
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return _line("BOOKMARK", {"kind": kind.kind, "apiVersion": kind.api_version, "metadata": meta})


async def serve_watch(
    state: State,
    kind: Kind,
    predicate: Predicate,
    params: dict[str, str],
    raw_request: aiohttp.web.BaseRequest,
) -> aiohttp.web.StreamResponse:
    store = state.store
    rv_param = params.get("resourceVersion") or ""
    send_initial = params.get("sendInitialEvents") == "true"
    bookmarks = params.get("allowWatchBookmarks") in ("true", "1")
    try:
        timeout = float(params["timeoutSeconds"]) if params.get("timeoutSeconds") else state.settings.default_watch_timeout
        since = int(rv_param) if rv_param not in ("", "0") else None
    except ValueError as exc:
        raise bad_request(f"invalid watch parameter: {exc}") from exc

    lines: list[bytes] = []
    subscription = None
    if since is None or send_initial:
        for obj in store.list(kind.key):
            if predicate(obj):
                lines.append(_line("ADDED", as_version(kind, obj)))
        if send_initial and bookmarks:
            lines.append(_bookmark(kind, store.rv, initial_end=True))
        subscribed = store.subscribe(kind.key, store.rv)
    else:
        subscribed = store.subscribe(kind.key, min(since, store.rv))
        if subscribed is None:
            message = f"too old resource version: {since} ({store.oldest_retained_rv + 1})"
            lines.append(_line("ERROR", status_object(410, "Expired", message)))
    if subscribed is not None:
        subscription, backlog = subscribed
        for change in backlog:
            event = translate(change, predicate)
            if event is not None:
                lines.append(_line(event[0], as_version(kind, event[1])))

    response = aiohttp.web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    try:
        await response.prepare(raw_request)
        if lines:
            await response.write(b"".join(lines))
        if subscription is None:
            await response.write_eof()
            return response
        deadline = time.monotonic() + timeout
        next_bookmark = time.monotonic() + state.settings.bookmark_interval
        while True:
            now = time.monotonic()
            if now >= deadline:
                break
            wake = min(deadline, next_bookmark) if bookmarks else deadline
            try:
                change = await asyncio.wait_for(subscription.queue.get(), timeout=max(0.0, wake - now))
            except TimeoutError:
                if bookmarks and time.monotonic() >= next_bookmark:
                    await response.write(_bookmark(kind, store.rv))
                    next_bookmark = time.monotonic() + state.settings.bookmark_interval
                continue
            batch = [change]
            while not subscription.queue.empty():
                batch.append(subscription.queue.get_nowait())
            out = []
            for item in batch:
                event = translate(item, predicate)
                if event is not None:
                    out.append(_line(event[0], as_version(kind, event[1])))
            if out:
                await response.write(b"".join(out))
        if bookmarks:
            await response.write(_bookmark(kind, store.rv))
        await response.write_eof()
    except ConnectionError:
        pass  # the client went away
    finally:
        if subscription is not None:
            subscription.close()
    return response
