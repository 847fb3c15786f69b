"""Kubernetes `Status` errors with the standard `reason` strings clients match on."""

from __future__ import annotations

from typing import Any

import attrs
import kmock


@attrs.frozen
class ApiError(kmock.KubernetesError):
    """An API error rendered as a `v1.Status` object with a standard reason."""

    status: int = 500
    reason: str | None = "InternalError"
    message: str | None = None
    details: Any | None = None

    def to_status(self) -> dict[str, Any]:
        return status_object(self.status, self.reason or "InternalError", self.message or "", self.details)


def status_object(code: int, reason: str, message: str, details: Any | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


def success_status(details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
    if details:
        body["details"] = details
    return body


def _details(name: str | None, group: str, plural: str) -> dict[str, Any]:
    details: dict[str, Any] = {"group": group, "kind": plural}
    if name:
        details["name"] = name
    return details


def _qualified(group: str, plural: str) -> str:
    return f"{plural}.{group}" if group else plural


def not_found(group: str, plural: str, name: str | None) -> ApiError:
    what = _qualified(group, plural)
    message = f'{what} "{name}" not found' if name else f"the server could not find the requested resource ({what})"
    return ApiError(404, "NotFound", message, _details(name, group, plural))


def resource_not_found(path: str) -> ApiError:
    return ApiError(404, "NotFound", f"the server could not find the requested resource ({path})", None)


def already_exists(group: str, plural: str, name: str) -> ApiError:
    return ApiError(
        409, "AlreadyExists", f'{_qualified(group, plural)} "{name}" already exists', _details(name, group, plural)
    )


def conflict(group: str, plural: str, name: str, why: str | None = None) -> ApiError:
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(group, plural)} "{name}": {why}',
        _details(name, group, plural),
    )


def invalid(group: str, plural: str, name: str | None, message: str) -> ApiError:
    kind_name = _qualified(group, plural)
    return ApiError(422, "Invalid", f'{kind_name} "{name or ""}" is invalid: {message}', _details(name, group, plural))


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message, None)


def method_not_allowed(message: str = "the server does not allow this method on the requested resource") -> ApiError:
    return ApiError(405, "MethodNotAllowed", message, None)


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format: {content_type}")


def expired(message: str) -> ApiError:
    return ApiError(410, "Expired", message, None)
