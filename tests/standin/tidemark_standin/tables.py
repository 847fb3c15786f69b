"""`meta.k8s.io/v1` Table responses for kubectl's human-readable `get` (incl. CRD printer columns)."""

from __future__ import annotations

import datetime
import re
from typing import Any

from .kinds import Kind
from .meta import parse_time

Obj = dict[str, Any]

_NAME_COLUMN = {"name": "Name", "type": "string", "format": "name", "description": "Name of the object", "priority": 0}
_AGE_COLUMN = {"name": "Age", "type": "date", "format": "", "description": "Time since creation", "priority": 0}
_STEP_RE = re.compile(r"([^.\[\]]+)|\[(\d+)\]|\[\?\(@\.([\w.]+)\s*==\s*['\"]([^'\"]*)['\"]\)\]")


def wants_table(accept: str | None) -> bool:
    return bool(accept) and "as=Table" in (accept or "")


def human_age(timestamp: str | None) -> str:
    created = parse_time(timestamp)
    if created is None:
        return "<unknown>"
    seconds = int((datetime.datetime.now(tz=datetime.UTC) - created).total_seconds())
    if seconds < -1:
        # What the API server's printer (HumanDuration) shows for a time in the future.
        return "<invalid>"
    seconds = max(seconds, 0)
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 48:
        return f"{hours}h"
    return f"{hours // 24}d"


def json_path(obj: Any, path: str) -> Any:
    """A small JSONPath: `.a.b`, `[0]`, and `[?(@.type=="Ready")]` filters."""
    current: list[Any] = [obj]
    for match in _STEP_RE.finditer(path.strip().lstrip("{").rstrip("}").lstrip(".")):
        field, index, filter_key, filter_value = match.groups()
        nxt: list[Any] = []
        for item in current:
            if field is not None and isinstance(item, dict) and field in item:
                nxt.append(item[field])
            elif index is not None and isinstance(item, list) and int(index) < len(item):
                nxt.append(item[int(index)])
            elif filter_key is not None and isinstance(item, list):
                for element in item:
                    value: Any = element
                    for part in filter_key.split("."):
                        value = value.get(part) if isinstance(value, dict) else None
                    if value is not None and str(value) == filter_value:
                        nxt.append(element)
        current = nxt
    if not current:
        return None
    return current[0] if len(current) == 1 else current


def _builtin_columns(kind: Kind) -> list[tuple[dict[str, Any], str]]:
    if (kind.group, kind.plural) == ("", "pods"):
        return [({"name": "Status", "type": "string", "format": "", "description": "Phase", "priority": 0}, ".status.phase")]
    if (kind.group, kind.plural) == ("batch", "jobs"):
        return [
            ({"name": "Succeeded", "type": "integer", "format": "", "description": "", "priority": 0}, ".status.succeeded"),
            ({"name": "Failed", "type": "integer", "format": "", "description": "", "priority": 0}, ".status.failed"),
        ]
    return []


def _columns(kind: Kind) -> list[tuple[dict[str, Any], str | None]]:
    columns: list[tuple[dict[str, Any], str | None]] = [(_NAME_COLUMN, None)]
    if kind.crd is not None:
        has_age = False
        for col in kind.printer_columns:
            definition = {
                "name": col.get("name", ""),
                "type": col.get("type", "string"),
                "format": col.get("format", ""),
                "description": col.get("description", ""),
                "priority": col.get("priority", 0),
            }
            has_age = has_age or col.get("jsonPath") == ".metadata.creationTimestamp"
            columns.append((definition, col.get("jsonPath", "")))
        if not has_age:
            columns.append((_AGE_COLUMN, ".metadata.creationTimestamp"))
    else:
        columns.extend(_builtin_columns(kind))
        columns.append((_AGE_COLUMN, ".metadata.creationTimestamp"))
    return columns


def _cell(definition: dict[str, Any], value: Any) -> Any:
    if value is None:
        return "<none>" if definition["type"] == "string" else None
    if definition["type"] == "date":
        return human_age(str(value))
    if isinstance(value, (dict, list)):
        return str(value)
    return value


def to_table(kind: Kind, objs: list[Obj], resource_version: str, include: str | None) -> Obj:
    columns = _columns(kind)
    rows = []
    for obj in objs:
        cells = [obj["metadata"]["name"] if path is None else _cell(d, json_path(obj, path)) for d, path in columns]
        row: dict[str, Any] = {"cells": cells}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [d for d, _ in columns],
        "rows": rows,
    }
