"""A pass-through proxy in front of the API stand-in that adds OpenAPI v3 discovery.

Helm (through kubectl's validation code) first asks the server's OpenAPI v3 documents
whether it supports the `fieldValidation` query parameter; a real API server (1.27+) does,
and Helm then leaves validation to the server. The stand-in serves an empty OpenAPI v3
index, so Helm falls back to client-side validation with the protobuf OpenAPI v2 document,
which the stand-in cannot serve (JSON only), and every install fails with
"proto: cannot parse invalid wire-format data".

This proxy answers `/openapi/v3` (and `/openapi/v3/<group-version>`) with documents built
from the stand-in's own discovery, each PATCH operation declaring `fieldValidation`, and
forwards every other request unchanged (except `/version` when told to report another
Kubernetes version, for the chart's kubeVersion check). It does not validate anything itself: the stand-in
accepts the objects as a server without admission would, and the chart tests validate every
rendered object against the Kubernetes JSON schemas separately (kubernetes-validate).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

import aiohttp
from aiohttp import web

HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}


async def _discovery(session: aiohttp.ClientSession, upstream: str) -> dict[str, list[dict[str, Any]]]:
    """group-version path ("api/v1", "apis/apps/v1") -> its APIResource entries."""
    out: dict[str, list[dict[str, Any]]] = {}
    async with session.get(f"{upstream}/api") as r:
        for version in (await r.json())["versions"]:
            out[f"api/{version}"] = []
    async with session.get(f"{upstream}/apis") as r:
        for group in (await r.json())["groups"]:
            for version in group["versions"]:
                out[f"apis/{version['groupVersion']}"] = []
    for gv in out:
        async with session.get(f"{upstream}/{gv}") as r:
            if r.status == 200:
                out[gv] = [res for res in (await r.json())["resources"] if "/" not in res["name"]]
    return out


def _gv_document(gv: str, resources: list[dict[str, Any]]) -> dict[str, Any]:
    group, version = ("", gv.split("/")[1]) if gv.startswith("api/") else tuple(gv.split("/")[1:3])
    paths: dict[str, Any] = {}
    for res in resources:
        scope = "namespaces/{namespace}/" if res.get("namespaced") else ""
        paths[f"/{gv}/{scope}{res['name']}/{{name}}"] = {
            "patch": {
                "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": res["kind"]},
                "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": {"description": "OK"}},
            }
        }
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "stand-in"}, "paths": paths}


class OpenApiProxy:
    """Runs the proxy on 127.0.0.1 in a background thread; `url` is where to point clients."""

    def __init__(self, upstream: str, version: str | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        # Reported as the server's /version instead of the stand-in's, e.g. "1.28.5"
        # (to check the chart's kubeVersion constraint).
        self.version = version
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> OpenApiProxy:
        self._thread.start()
        if not self._ready.wait(20):
            raise RuntimeError("the OpenAPI proxy did not start")
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._runner is not None:
                # Watches of a client that is gone may keep a handler open: cut them short.
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._runner.cleanup(), 5)
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(20)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._loop.run_forever()

    async def _serve(self) -> None:
        session = aiohttp.ClientSession(auto_decompress=False)

        async def handle(request: web.Request) -> web.StreamResponse:
            path = request.path.strip("/")
            if path == "version" and self.version:
                major, minor, _ = self.version.split(".")
                return web.json_response(
                    {"major": major, "minor": minor, "gitVersion": f"v{self.version}", "platform": "linux/amd64"}
                )
            if path == "openapi/v3" or path.startswith("openapi/v3/"):
                discovery = await _discovery(session, self.upstream)
                if path == "openapi/v3":
                    return web.json_response(
                        {"paths": {gv: {"serverRelativeURL": f"/openapi/v3/{gv}"} for gv in discovery}}
                    )
                gv = path[len("openapi/v3/"):]
                if gv not in discovery:
                    return web.json_response({"kind": "Status", "code": 404}, status=404)
                return web.json_response(_gv_document(gv, discovery[gv]))
            headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
            body = await request.read()
            upstream = await session.request(
                request.method, self.upstream + request.path_qs, data=body or None, headers=headers, timeout=None
            )
            response = web.StreamResponse(
                status=upstream.status,
                headers={k: v for k, v in upstream.headers.items() if k.lower() not in HOP_HEADERS},
            )
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():  # watches stream
                await response.write(chunk)
            upstream.release()
            await response.write_eof()
            return response

        async def close_session(_: web.Application) -> None:
            await session.close()

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        app.on_cleanup.append(close_session)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        self._ready.set()
