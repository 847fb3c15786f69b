"""Label selectors (`=`, `==`, `!=`, `in`, `notin`, exists, `!`) and field selectors."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

from .errors import bad_request

Predicate = Callable[[dict[str, Any]], bool]

_SET_RE = re.compile(r"^\s*(\S+?)\s+(in|notin)\s*\(([^)]*)\)\s*$")
_CMP_RE = re.compile(r"^\s*([^=!\s]+)\s*(==|=|!=)\s*(\S*)\s*$")
_EXISTS_RE = re.compile(r"^\s*(!?)\s*([^=!\s()]+)\s*$")


@dataclasses.dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!exists"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "=":
            return present and value == self.values[0]
        if self.op == "!=":
            return not present or value != self.values[0]
        if self.op == "in":
            return present and value in self.values
        if self.op == "notin":
            return not present or value not in self.values
        if self.op == "exists":
            return present
        return not present  # "!exists"


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts, depth, current = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p for p in (p.strip() for p in parts) if p]


def parse_label_selector(text: str | None) -> list[Requirement]:
    if not text:
        return []
    requirements = []
    for part in _split_top_level(text):
        if m := _SET_RE.match(part):
            values = tuple(v.strip() for v in m.group(3).split(",") if v.strip())
            requirements.append(Requirement(m.group(1), m.group(2), values))
        elif m := _CMP_RE.match(part):
            op = "!=" if m.group(2) == "!=" else "="
            requirements.append(Requirement(m.group(1), op, (m.group(3),)))
        elif m := _EXISTS_RE.match(part):
            requirements.append(Requirement(m.group(2), "!exists" if m.group(1) else "exists"))
        else:
            raise bad_request(f"unable to parse requirement: {part!r}")
    return requirements


def required_labels(text: str | None) -> dict[str, str]:
    """Labels every object a selector matches carries (`k=v`, `k==v`, `k in (v)`): for index lookups."""
    required = {}
    for req in parse_label_selector(text):
        if req.op == "=" or (req.op == "in" and len(req.values) == 1):
            required[req.key] = req.values[0]
    return required


def label_selector_from_object(selector: dict[str, Any] | None) -> list[Requirement]:
    """A metav1.LabelSelector (matchLabels + matchExpressions) as requirements."""
    if not selector:
        return []
    reqs = [Requirement(k, "=", (str(v),)) for k, v in (selector.get("matchLabels") or {}).items()]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}
    for expr in selector.get("matchExpressions") or []:
        reqs.append(Requirement(expr["key"], ops[expr["operator"]], tuple(expr.get("values") or ())))
    return reqs


def selector_to_string(selector: dict[str, Any] | None) -> str:
    parts = []
    for req in label_selector_from_object(selector):
        if req.op == "=":
            parts.append(f"{req.key}={req.values[0]}")
        elif req.op in ("in", "notin"):
            parts.append(f"{req.key} {req.op} ({','.join(req.values)})")
        elif req.op == "exists":
            parts.append(req.key)
        else:
            parts.append(f"!{req.key}")
    return ",".join(parts)


def field_value(obj: dict[str, Any], path: str) -> Any:
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current


def parse_field_selector(text: str | None) -> list[tuple[str, str, str]]:
    """Field selector terms as (dotted path, op, value); any dotted path is accepted."""
    if not text:
        return []
    terms = []
    for part in _split_top_level(text):
        m = _CMP_RE.match(part)
        if not m:
            raise bad_request(f"invalid field selector: {part!r}")
        op = "!=" if m.group(2) == "!=" else "="
        terms.append((m.group(1), op, m.group(3)))
    return terms


def compile_selectors(label_selector: str | None, field_selector: str | None) -> Predicate:
    labels = parse_label_selector(label_selector)
    fields = parse_field_selector(field_selector)

    def predicate(obj: dict[str, Any]) -> bool:
        if labels:
            obj_labels = (obj.get("metadata") or {}).get("labels") or {}
            if not all(req.matches(obj_labels) for req in labels):
                return False
        for path, op, value in fields:
            actual = field_value(obj, path)
            actual_text = "" if actual is None else str(actual).lower() if isinstance(actual, bool) else str(actual)
            if (actual_text == value) != (op == "="):
                return False
        return True

    return predicate
