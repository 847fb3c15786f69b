"""The stand-in's HTTP server: kmock's scaffold and serving, with this package's stateful API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pathlib
import signal
import sys
import traceback

import aiohttp.web
import attrs
import kmock
from kmock._internal import rendering

from . import jsonio, persistence
from .api import Api, ApiRequest, json_response
from .errors import ApiError, status_object
from .meta import new_uid, now
from .routing import parse_resource_path
from .state import Settings, State

log = logging.getLogger("tidemark_standin")

SEED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@attrs.define(kw_only=True)
class StandinHandler(kmock.KubernetesScaffold):
    """kmock's Kubernetes scaffold serving a stateful API.

    kmock reactions still come first, so tests can inject faults with kmock's DSL,
    e.g. ``handler['get /api/v1/pods'] << 500``; everything else goes to :class:`Api`.
    With ``record_requests`` (the default), the last requests are kept as kmock requests
    for assertions; the served process (:func:`run`), where nobody can read them or add
    reactions, turns that off and skips building them.
    """

    state: State = attrs.field(factory=State)
    keep_requests: int = 100
    record_requests: bool = True
    _api: Api = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        # kmock's scaffold would register stateless discovery fallbacks here; the stateful
        # API serves discovery itself (CRDs come and go), so they are deliberately skipped.
        self._api = Api(self.state)

    @property
    def api(self) -> Api:
        return self._api

    def _forget_old_requests(self) -> None:
        # kmock records every request (for assertions); a long-lived server must not grow.
        if len(self._requests) > 2 * self.keep_requests:
            del self._requests[: -self.keep_requests]
            for payload in self._payloads:
                del payload._requests[: -self.keep_requests]
            for errors in self._errors:
                del errors[: -self.keep_requests]

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        # kmock's own request parsing fails on `/api/v1/namespaces` (it takes "namespaces" for the
        # namespaced-path prefix); requests are parsed here with this package's routing instead.
        raw_response: aiohttp.web.StreamResponse | None = None
        try:
            request = await parse_request(raw_request, len(self._requests))
            try:
                if self.record_requests or self._payloads:
                    recorded = kmock_request(request, len(self._requests))
                    self._requests.append(recorded)
                    self._forget_old_requests()
                    if self._payloads:
                        with contextlib.suppress(NotImplementedError):
                            return await super()._handle(recorded)
                return await self._api.handle(request)
            except rendering.StreamingError as e:
                raw_response = e.args[0]
                raise e.__cause__ or e
        except Exception as e:  # noqa: BLE001 - every failure becomes a Status response
            if raw_response is None or not raw_response.prepared:
                return await self._render_error(e)
            await self._stream_error(e, raw_response)
            return raw_response

    async def _render_error(self, exc: Exception) -> aiohttp.web.StreamResponse:
        if isinstance(exc, ApiError):
            return json_response(exc.to_status(), exc.status)
        if isinstance(exc, kmock.KubernetesError):
            body = status_object(exc.status, exc.reason or "InternalError", exc.message or "")
            return json_response(body, exc.status)
        log.error("internal error: %s", "".join(traceback.format_exception(exc)))
        return json_response(status_object(500, "InternalError", repr(exc)), 500)

    async def _stream_error(self, exc: Exception, raw_response: aiohttp.web.StreamResponse) -> None:
        log.error("error in a stream: %r", exc)


async def parse_request(raw: aiohttp.web.BaseRequest, request_id: int) -> ApiRequest:
    """Read a request (its whole body) for the API; `request_id` numbers it in kmock's log."""
    body = await raw.read()
    return ApiRequest(
        method=raw.method.upper(),
        path=raw.path,
        params=dict(raw.query),
        headers=dict(raw.headers),
        body=body,
        raw=raw,
    )


_RESOURCES: dict[tuple[str, str, str], kmock.resource] = {}  # kmock resources are immutable
_ACTIONS = {kmock.method.GET: kmock.action.LIST, kmock.method.POST: kmock.action.CREATE}
_NAMED_ACTIONS = {
    kmock.method.GET: kmock.action.FETCH,
    kmock.method.PATCH: kmock.action.UPDATE,
    kmock.method.PUT: kmock.action.UPDATE,
    kmock.method.DELETE: kmock.action.DELETE,
}


def kmock_request(request: ApiRequest, request_id: int) -> kmock.Request:
    """The request as kmock records it and matches its reactions against it."""
    raw = request.raw
    assert raw is not None
    body = request.body
    text = body.decode("utf-8", errors="replace")
    try:
        data = jsonio.loads(body) if body else None
    except ValueError:
        data = None
    parsed = parse_resource_path(request.path)
    method = kmock.method(raw.method)
    resource = None
    action = None
    if parsed is not None:
        ref = (parsed.group, parsed.version, parsed.plural)
        resource = _RESOURCES.get(ref)
        if resource is None:
            resource = _RESOURCES.setdefault(ref, kmock.resource(group=ref[0], version=ref[1], plural=ref[2]))
        if method == kmock.method.GET and request.params.get("watch") in ("true", "1"):
            action = kmock.action.WATCH
        elif parsed.name is None:
            action = _ACTIONS.get(method)
        else:
            action = _NAMED_ACTIONS.get(method)
    return kmock.Request(
        id=request_id,
        raw_request=raw,
        url=raw.url,
        method=raw.method,
        params=dict(request.params),
        headers=dict(request.headers),
        cookies=dict(raw.cookies),
        data=data,
        body=body,
        text=text,
        action=action,
        resource=resource,
        namespace=parsed.namespace if parsed else None,
        name=parsed.name if parsed else None,
        subresource=parsed.subresource if parsed else None,
    )


def seed(state: State) -> None:
    for name in SEED_NAMESPACES:
        if state.store.get(("", "namespaces"), "", name) is None:
            obj = {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": name,
                    "uid": new_uid(),
                    "creationTimestamp": now(),
                    "labels": {"kubernetes.io/metadata.name": name},
                    "resourceVersion": state.store.next_rv(),
                },
                "spec": {},
                "status": {"phase": "Active"},
            }
            state.store.put(("", "namespaces"), obj)


async def run(host: str, port: int, state_dir: pathlib.Path | None, settings: Settings) -> None:
    state = State(settings)
    snapshot = None
    if state_dir is not None:
        state_dir.mkdir(parents=True, exist_ok=True)
        snapshot = state_dir / "state.json"
        persistence.load(state, snapshot)
    seed(state)
    handler = StandinHandler(state=state, record_requests=False)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with handler, kmock.Server(handler, host=host, port=port or None) as server:
        handler.api.server_address = f"{host}:{server.port}"
        saver = asyncio.create_task(persistence.autosave(state, snapshot)) if snapshot else None
        print(f"READY http://{host}:{server.port}", flush=True)
        await stop.wait()
        if saver is not None:
            saver.cancel()
    if snapshot is not None:
        persistence.save(state, snapshot)


def main(host: str, port: int, state_dir: str | None, settings: Settings) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    asyncio.run(run(host, port, pathlib.Path(state_dir) if state_dir else None, settings))
    return 0
