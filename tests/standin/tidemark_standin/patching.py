"""Patch formats: JSON merge patch (RFC 7386), a light strategic merge patch, JSON patch (RFC 6902)."""

from __future__ import annotations

from typing import Any

from .errors import ApiError, bad_request
from .meta import clone

# Merge keys of well-known lists in strategic merge patches (by field name).
_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
    "conditions": "type",
    "imagePullSecrets": "name",
    "ownerReferences": "uid",
    "tolerations": "key",
    "hostAliases": "ip",
}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return clone(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any, field: str | None = None) -> Any:
    """Merge patch plus list merging by the usual merge keys and the common `$` directives."""
    if isinstance(patch, list):
        return _merge_list(target, patch, field)
    if not isinstance(patch, dict):
        return clone(patch)
    if patch.get("$patch") == "replace":
        return {k: clone(v) for k, v in patch.items() if not k.startswith("$")}
    if patch.get("$patch") == "delete":
        return None
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            result[name] = [v for v in result.get(name) or [] if v not in (value or [])]
        elif key.startswith("$"):
            continue  # $setElementOrder/..., $retainKeys: ordering and pruning hints, ignored
        elif value is None:
            result.pop(key, None)
        else:
            result[key] = strategic_merge_patch(result.get(key), value, key)
    return result


def _merge_list(target: Any, patch: list[Any], field: str | None) -> list[Any]:
    merge_key = _MERGE_KEYS.get(field or "")
    items = [p for p in patch if not (isinstance(p, dict) and p.get("$patch") == "replace")]
    if merge_key is None or not all(isinstance(p, dict) and merge_key in p for p in items):
        return clone([p for p in patch if not (isinstance(p, dict) and "$patch" in p)])
    if len(items) != len(patch):  # an explicit {"$patch": "replace"} element
        return clone([p for p in items if p.get("$patch") != "delete"])
    result = list(target) if isinstance(target, list) else []
    for item in items:
        index = next(
            (i for i, t in enumerate(result) if isinstance(t, dict) and t.get(merge_key) == item[merge_key]), None
        )
        if item.get("$patch") == "delete":
            if index is not None:
                result.pop(index)
        elif index is None:
            result.append({k: v for k, v in item.items() if not k.startswith("$")})
        else:
            result[index] = strategic_merge_patch(result[index], item)
    return result


# --- JSON patch ------------------------------------------------------------------------------


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _split_pointer(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise bad_request(f"invalid JSON pointer: {pointer!r}")
    return [_unescape(t) for t in pointer[1:].split("/")]


def _index(container: list[Any], token: str, *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit():
        raise _unprocessable(f"invalid array index {token!r}")
    index = int(token)
    if index > len(container) or (index == len(container) and not allow_end):
        raise _unprocessable(f"array index {index} out of range")
    return index


def _unprocessable(message: str) -> ApiError:
    return ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: {message}")


def _resolve(doc: Any, tokens: list[str]) -> Any:
    current = doc
    for token in tokens:
        if isinstance(current, dict):
            if token not in current:
                raise _unprocessable(f"path element {token!r} not found")
            current = current[token]
        elif isinstance(current, list):
            current = current[_index(current, token, allow_end=False)]
        else:
            raise _unprocessable(f"cannot descend into a scalar at {token!r}")
    return current


def _add(doc: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return clone(value)
    parent = _resolve(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = clone(value)
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, allow_end=True), clone(value))
    else:
        raise _unprocessable("cannot add to a scalar")
    return doc


def _remove(doc: Any, tokens: list[str]) -> tuple[Any, Any]:
    if not tokens:
        raise _unprocessable("cannot remove the whole document")
    parent = _resolve(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _unprocessable(f"path element {last!r} not found")
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, last, allow_end=False))
    raise _unprocessable("cannot remove from a scalar")


def json_patch(doc: Any, operations: Any) -> Any:
    """RFC 6902; a failed `test` or a missing path raises 422 Invalid, malformed input 400."""
    if not isinstance(operations, list):
        raise bad_request("a JSON patch must be an array of operations")
    doc = clone(doc)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise bad_request(f"invalid JSON patch operation: {op!r}")
        name, tokens = op["op"], _split_pointer(op["path"])
        if name == "add":
            doc = _add(doc, tokens, op.get("value"))
        elif name == "remove":
            doc, _ = _remove(doc, tokens)
        elif name == "replace":
            _resolve(doc, tokens)  # must exist
            doc, _ = _remove(doc, tokens) if tokens else (doc, None)
            doc = _add(doc, tokens, op.get("value"))
        elif name in ("move", "copy"):
            source = _split_pointer(op.get("from", ""))
            if name == "move":
                doc, value = _remove(doc, source)
            else:
                value = clone(_resolve(doc, source))
            doc = _add(doc, tokens, value)
        elif name == "test":
            if _resolve(doc, tokens) != op.get("value"):
                raise _unprocessable(f"testing value {op['path']} failed")
        else:
            raise bad_request(f"unknown JSON patch operation {name!r}")
    return doc
