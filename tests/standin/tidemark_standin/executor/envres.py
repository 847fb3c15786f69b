"""Container environment resolution as the kubelet does it (envFrom, env, valueFrom, $(VAR))."""

from __future__ import annotations

import base64
import re
from typing import Any

from .client import Client, collection_path

Obj = dict[str, Any]
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_REF = re.compile(r"\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)")


class ConfigError(Exception):
    """A CreateContainerConfigError: a missing non-optional Secret, ConfigMap, or key."""


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes `$(VAR)` expansion: known variables expand, `$$` escapes, unknown stay as is."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env[name] if name in env else match.group(0)

    return _REF.sub(replace, text)


class _Sources:
    """Secrets and ConfigMaps of one namespace, fetched once per resolution."""

    def __init__(self, client: Client, namespace: str) -> None:
        self.client = client
        self.namespace = namespace
        self._cache: dict[tuple[str, str], Obj | None] = {}

    async def fetch(self, plural: str, name: str) -> Obj | None:
        key = (plural, name)
        if key not in self._cache:
            self._cache[key] = await self.client.get(f"{collection_path('v1', plural, self.namespace)}/{name}")
        return self._cache[key]

    async def data(self, plural: str, name: str, optional: bool) -> dict[str, str] | None:
        obj = await self.fetch(plural, name)
        if obj is None:
            if optional:
                return None
            noun = "secret" if plural == "secrets" else "configmap"
            raise ConfigError(f'{noun} "{name}" not found')
        if plural == "secrets":
            return {k: base64.b64decode(v).decode("utf-8", errors="replace") for k, v in (obj.get("data") or {}).items()}
        values = dict(obj.get("data") or {})
        for k, v in (obj.get("binaryData") or {}).items():
            values[k] = base64.b64decode(v).decode("utf-8", errors="replace")
        return values

    async def key(self, plural: str, ref: Obj) -> str | None:
        optional = bool(ref.get("optional"))
        values = await self.data(plural, ref.get("name", ""), optional)
        if values is None:
            return None
        if ref.get("key") not in values:
            if optional:
                return None
            kind = "Secret" if plural == "secrets" else "ConfigMap"
            raise ConfigError(f"couldn't find key {ref.get('key')} in {kind} {self.namespace}/{ref.get('name')}")
        return values[ref["key"]]


def _field(pod: Obj, path: str) -> str:
    meta = pod.get("metadata") or {}
    match = re.match(r"^metadata\.(labels|annotations)\['([^']+)'\]$", path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": (pod.get("spec") or {}).get("nodeName"),
        "spec.serviceAccountName": (pod.get("spec") or {}).get("serviceAccountName", "default"),
        "status.podIP": "127.0.0.1",
        "status.hostIP": "127.0.0.1",
        "status.podIPs": "127.0.0.1",
    }
    if path not in simple:
        raise ConfigError(f"unsupported fieldRef path {path!r}")
    return str(simple[path] or "")


def _resource_field(container: Obj, ref: Obj) -> str:
    resource = ref.get("resource", "")
    section, _, name = resource.partition(".")
    value = ((container.get("resources") or {}).get(section) or {}).get(name)
    if value is not None:
        return str(value)
    return "1" if name == "cpu" else "0"


async def resolve_env(client: Client, pod: Obj, container: Obj) -> dict[str, str]:
    """The container's environment; raises ConfigError like the kubelet's CreateContainerConfigError."""
    namespace = pod["metadata"]["namespace"]
    sources = _Sources(client, namespace)
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix") or ""
        if "secretRef" in source:
            ref, plural = source["secretRef"], "secrets"
        elif "configMapRef" in source:
            ref, plural = source["configMapRef"], "configmaps"
        else:
            continue
        values = await sources.data(plural, ref.get("name", ""), bool(ref.get("optional")))
        for key, value in (values or {}).items():
            if _ENV_NAME.match(prefix + key):
                env[prefix + key] = value
    for var in container.get("env") or []:
        name = var.get("name", "")
        if "valueFrom" not in var:
            env[name] = expand(str(var.get("value", "")), env)
            continue
        source = var["valueFrom"]
        value: str | None
        if "secretKeyRef" in source:
            value = await sources.key("secrets", source["secretKeyRef"])
        elif "configMapKeyRef" in source:
            value = await sources.key("configmaps", source["configMapKeyRef"])
        elif "fieldRef" in source:
            value = _field(pod, source["fieldRef"].get("fieldPath", ""))
        elif "resourceFieldRef" in source:
            value = _resource_field(container, source["resourceFieldRef"])
        else:
            raise ConfigError(f"unsupported valueFrom in env {name!r}")
        if value is not None:
            env[name] = value
    return env
