"""The resource API: routes each request to reads, watches, writes and deletes."""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

import aiohttp.web

from . import deletion, discovery, jsonio, scale, tables, writes
from .errors import (
    ApiError,
    bad_request,
    method_not_allowed,
    not_found,
    resource_not_found,
    success_status,
    unsupported_media_type,
)
from .routing import Target, resolve
from .selectors import Predicate, compile_selectors, required_labels
from .state import State
from .watch import as_version, serve_watch

Obj = dict[str, Any]


def json_response(body: Any, status: int = 200) -> aiohttp.web.Response:
    return aiohttp.web.Response(
        body=jsonio.dumps(body), status=status, content_type="application/json"
    )


def _encode_continue(rv: str, after: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps({"rv": rv, "after": list(after)}).encode()).decode()


def _decode_continue(token: str) -> tuple[str, tuple[str, str]]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return str(data["rv"]), (data["after"][0], data["after"][1])
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise bad_request("invalid continue token") from exc


@dataclasses.dataclass(slots=True)
class ApiRequest:
    """What the API reads of an HTTP request."""

    method: str  # upper case
    path: str  # decoded, without the query
    params: dict[str, str]
    headers: dict[str, str]
    body: bytes
    raw: aiohttp.web.BaseRequest | None = None  # the live connection (watches stream on it)


class Api:
    def __init__(self, state: State) -> None:
        self.state = state
        self.server_address = "127.0.0.1:0"

    async def handle(self, request: ApiRequest) -> aiohttp.web.StreamResponse:
        path = request.path
        method = request.method
        if path in discovery.HEALTH_PATHS:
            return aiohttp.web.Response(text="ok")
        target = resolve(self.state.registry, path)
        if target is None:
            if method != "GET":
                raise method_not_allowed()
            doc = discovery.discover(self.state.registry, path, self.server_address)
            if doc is None:
                raise resource_not_found(path)
            return json_response(doc)
        content_type = request.headers.get("Content-Type", "")
        if request.body and ("protobuf" in content_type or "cbor" in content_type):
            raise unsupported_media_type(content_type)  # client-go then retries with JSON
        params = dict(request.params)
        dry_run = params.get("dryRun") == "All"
        strict = params.get("fieldValidation") == "Strict"
        if target.subresource == "scale":
            if method == "GET":
                return json_response(scale.read(self.state, target))
            if method in ("PUT", "PATCH"):
                return json_response(scale.write(self.state, target, method, request.body, content_type, dry_run=dry_run))
            raise method_not_allowed()
        if method == "GET":
            return await self._get(request, target, params)
        if method == "POST":
            if target.name is not None:
                raise method_not_allowed()
            created = writes.create(self.state, target, self._json(request.body), dry_run=dry_run,
                                    strict=strict)
            return json_response(as_version(target.kind, created), 201)
        if method == "PUT":
            self._require_name(target)
            return json_response(as_version(target.kind, writes.update(self.state, target, self._json(request.body),
                                                                           dry_run=dry_run, strict=strict)))
        if method == "PATCH":
            self._require_name(target)
            obj, created = writes.patch(self.state, target, request.body, content_type, params, dry_run=dry_run,
                                       strict=strict)
            return json_response(as_version(target.kind, obj), 201 if created else 200)
        if method == "DELETE":
            options = self._delete_options(request.body, params)
            if target.name is None:
                deleted = deletion.delete_collection(self.state, target, self._predicate(target, params), options)
                return json_response(self._list_body(target, deleted, str(self.state.store.rv)))
            if target.subresource:
                raise method_not_allowed()
            return json_response(as_version(target.kind, deletion.delete(self.state, target, options, dry_run=dry_run)))
        raise method_not_allowed()

    @staticmethod
    def _require_name(target: Target) -> None:
        if target.name is None:
            raise method_not_allowed()

    @staticmethod
    def _json(raw: bytes) -> Any:
        try:
            return jsonio.loads(raw or b"null")
        except ValueError:
            try:
                import yaml

                return yaml.safe_load(raw)
            except Exception as exc:  # noqa: BLE001 - any parse failure is the client's
                raise bad_request(f"the request body is not valid JSON: {exc}") from exc

    @staticmethod
    def _delete_options(raw: bytes, params: dict[str, str]) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if raw.strip():
            try:
                parsed = jsonio.loads(raw)
            except ValueError as exc:
                raise bad_request(f"invalid DeleteOptions: {exc}") from exc
            if isinstance(parsed, dict):
                options = parsed
        if params.get("propagationPolicy"):
            options["propagationPolicy"] = params["propagationPolicy"]
        return options

    @staticmethod
    def _predicate(target: Target, params: dict[str, str]) -> Predicate:
        selected = compile_selectors(params.get("labelSelector"), params.get("fieldSelector"))
        namespace, name = target.namespace, target.name

        def predicate(obj: Obj) -> bool:
            meta = obj.get("metadata") or {}
            if namespace is not None and (meta.get("namespace") or "") != namespace:
                return False
            if name is not None and meta.get("name") != name:
                return False
            return selected(obj)

        return predicate

    async def _get(self, request: ApiRequest, target: Target, params: dict[str, str]) -> aiohttp.web.StreamResponse:
        kind = target.kind
        if params.get("watch") in ("true", "1"):
            if request.raw is None:
                raise ApiError(500, "InternalError", "watch needs a live connection")
            return await serve_watch(self.state, kind, self._predicate(target, params), params, request.raw)
        accept = request.headers.get("Accept")
        if target.name is not None:
            obj = self.state.store.get(kind.key, target.namespace or "", target.name)
            if obj is None:
                raise not_found(kind.group, kind.plural, target.name)
            obj = as_version(kind, obj)
            if tables.wants_table(accept):
                return json_response(tables.to_table(kind, [obj], obj["metadata"]["resourceVersion"], params.get("includeObject")))
            return json_response(obj)
        rv = str(self.state.store.rv)
        after: tuple[str, str] | None = None
        if params.get("continue"):
            rv, after = _decode_continue(params["continue"])
        predicate = self._predicate(target, params)
        labels = required_labels(params.get("labelSelector"))
        items = [o for o in self.state.store.list(kind.key, target.namespace, labels) if predicate(o)]
        if after is not None:
            items = [o for o in items if ((o["metadata"].get("namespace") or ""), o["metadata"]["name"]) > after]
        limit = int(params.get("limit") or 0)
        token = None
        remaining = 0
        if limit > 0 and len(items) > limit:
            remaining = len(items) - limit
            items = items[:limit]
            last = items[-1]["metadata"]
            token = _encode_continue(rv, (last.get("namespace") or "", last["name"]))
        items = [as_version(kind, o) for o in items]
        if tables.wants_table(accept):
            table = tables.to_table(kind, items, rv, params.get("includeObject"))
            if token:
                table["metadata"]["continue"] = token
            return json_response(table)
        body = self._list_body(target, items, rv)
        if token:
            body["metadata"]["continue"] = token
            body["metadata"]["remainingItemCount"] = remaining
        return json_response(body)

    @staticmethod
    def _list_body(target: Target, items: list[Obj], rv: str) -> Obj:
        return {
            "kind": f"{target.kind.kind}List",
            "apiVersion": target.kind.api_version,
            "metadata": {"resourceVersion": rv},
            "items": items,
        }


__all__ = ["Api", "ApiRequest", "json_response", "success_status"]
