"""Server-side defaulting: the few built-in defaults controllers read, and CRD schema defaults."""

from __future__ import annotations

import base64
from typing import Any

from .kinds import Kind
from .meta import clone

Obj = dict[str, Any]


def apply_schema_defaults(value: Any, schema: dict[str, Any] | None) -> Any:
    """Fill `default`s of an openAPIV3Schema into `value` (objects and array items, recursively)."""
    if not schema:
        return value
    if isinstance(value, dict) and schema.get("type", "object") == "object":
        for name, prop in (schema.get("properties") or {}).items():
            if name not in value and "default" in prop:
                value[name] = clone(prop["default"])
            if name in value:
                value[name] = apply_schema_defaults(value[name], prop)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            known = schema.get("properties") or {}
            for name in list(value):
                if name not in known:
                    value[name] = apply_schema_defaults(value[name], extra)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [apply_schema_defaults(item, schema["items"]) for item in value]
    return value


def _job_defaults(obj: Obj, creating: bool) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completions", 1)
    spec.setdefault("parallelism", 1)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    if creating and not spec.get("manualSelector"):
        uid = obj["metadata"]["uid"]
        name = obj["metadata"]["name"]
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        template = spec.setdefault("template", {})
        labels = template.setdefault("metadata", {}).setdefault("labels", {})
        labels.update(
            {
                "batch.kubernetes.io/controller-uid": uid,
                "batch.kubernetes.io/job-name": name,
                "controller-uid": uid,
                "job-name": name,
            }
        )
    pod_spec = spec.get("template", {}).get("spec")
    if isinstance(pod_spec, dict):
        _pod_spec_defaults(pod_spec)


def _pod_spec_defaults(pod_spec: Obj) -> None:
    pod_spec.setdefault("restartPolicy", "Always")
    pod_spec.setdefault("terminationGracePeriodSeconds", 30)
    pod_spec.setdefault("dnsPolicy", "ClusterFirst")
    for container in pod_spec.get("containers") or []:
        if isinstance(container, dict):
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("terminationMessagePolicy", "File")
            container.setdefault("imagePullPolicy", "IfNotPresent")


def _replicated_defaults(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    pod_spec = spec.get("template", {}).get("spec")
    if isinstance(pod_spec, dict):
        _pod_spec_defaults(pod_spec)


def _secret_defaults(obj: Obj) -> None:
    """As the API server does: `stringData` is folded into base64 `data` and never stored."""
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        obj["data"] = data


def apply_defaults(kind: Kind, obj: Obj, *, creating: bool) -> Obj:
    """Default `obj` in place (it is a private copy) and return it."""
    if kind.crd is not None:
        schema = kind.schema
        if schema:
            apply_schema_defaults(obj, schema)
        return obj
    name = (kind.group, kind.plural)
    if name == ("batch", "jobs"):
        _job_defaults(obj, creating)
    elif name in (("apps", "deployments"), ("apps", "statefulsets"), ("apps", "replicasets")):
        _replicated_defaults(obj)
    elif name == ("", "secrets"):
        _secret_defaults(obj)
    elif name == ("", "pods"):
        if isinstance(obj.get("spec"), dict):
            _pod_spec_defaults(obj["spec"])
    return obj


def initial_status(kind: Kind, obj: Obj) -> Any:
    """The status a freshly created object starts with (client-sent status is dropped)."""
    name = (kind.group, kind.plural)
    if name == ("", "pods"):
        return {"phase": "Pending", "qosClass": "BestEffort"}
    if name == ("", "namespaces"):
        return {"phase": "Active"}
    if name == ("", "persistentvolumeclaims"):
        return {"phase": "Pending"}
    return None
