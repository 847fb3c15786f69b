"""A small asyncio client of the Kubernetes API (just what the executor needs)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp

log = logging.getLogger("tidemark_standin.executor")
Obj = dict[str, Any]


class ApiFailure(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body

    @property
    def reason(self) -> str:
        return self.body.get("reason", "") if isinstance(self.body, dict) else ""


def collection_path(api_version: str, plural: str, namespace: str | None) -> str:
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    return f"{base}/namespaces/{namespace}/{plural}" if namespace else f"{base}/{plural}"


class Client:
    def __init__(self, server: str) -> None:
        self.server = server.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Client:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=5))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("the client is not open")
        return self._session

    async def request(self, method: str, path: str, body: Any = None,
                      content_type: str = "application/json", params: dict[str, str] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": content_type} if body is not None else {}
        async with self.session.request(method, self.server + path, data=data, headers=headers,
                                        params=params, timeout=aiohttp.ClientTimeout(total=30)) as response:
            text = await response.text()
            try:
                parsed = json.loads(text) if text else None
            except ValueError:
                parsed = text
            if response.status >= 400:
                raise ApiFailure(response.status, parsed)
            return parsed

    async def get(self, path: str) -> Obj | None:
        try:
            return await self.request("GET", path)
        except ApiFailure as exc:
            if exc.status == 404:
                return None
            raise

    async def create(self, path: str, obj: Obj) -> Obj:
        return await self.request("POST", path, obj)

    async def merge_patch(self, path: str, patch: Obj) -> Obj | None:
        try:
            return await self.request("PATCH", path, patch, "application/merge-patch+json")
        except ApiFailure as exc:
            if exc.status == 404:
                return None
            raise

    async def delete(self, path: str) -> None:
        try:
            await self.request("DELETE", path)
        except ApiFailure as exc:
            if exc.status != 404:
                raise

    async def watch(self, path: str, resource_version: str, timeout: int = 60) -> AsyncIterator[Obj]:
        params = {"watch": "true", "resourceVersion": resource_version, "timeoutSeconds": str(timeout),
                  "allowWatchBookmarks": "true"}
        async with self.session.get(self.server + path, params=params,
                                    timeout=aiohttp.ClientTimeout(total=timeout + 30)) as response:
            if response.status >= 400:
                raise ApiFailure(response.status, await response.text())
            async for line in response.content:
                if line.strip():
                    yield json.loads(line)


Handler = Callable[[str, Obj], Awaitable[None] | None]


async def informer(client: Client, path: str, handler: Handler, synced: asyncio.Event | None = None) -> None:
    """List then watch `path` forever, re-listing on 410 and reconnecting on errors."""
    rv: str | None = None
    while True:
        try:
            if rv is None:
                listed = await client.request("GET", path)
                rv = listed["metadata"]["resourceVersion"]
                for item in listed.get("items") or []:
                    result = handler("ADDED", item)
                    if result is not None:
                        await result
                if synced is not None:
                    synced.set()
            async for event in client.watch(path, rv):
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    rv = None if obj.get("code") == 410 else rv
                    break
                rv = (obj.get("metadata") or {}).get("resourceVersion") or rv
                if kind in ("ADDED", "MODIFIED", "DELETED"):
                    result = handler(kind, obj)
                    if result is not None:
                        await result
        except asyncio.CancelledError:
            raise
        except (aiohttp.ClientError, ApiFailure, ValueError, OSError) as exc:
            log.warning("watch of %s failed (%s); retrying", path, exc)
            await asyncio.sleep(0.5)
