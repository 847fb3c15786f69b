"""Non-resource endpoints: API discovery, /version, health checks, a minimal OpenAPI."""

from __future__ import annotations

from typing import Any

from .errors import resource_not_found
from .kinds import Registry

VERSION_INFO = {
    "major": "1",
    "minor": "36",
    "gitVersion": "v1.36.0-tidemark-standin",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.24.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}

HEALTH_PATHS = {"/healthz", "/readyz", "/livez"}


def _openapi_v3_paths(registry: Registry) -> list[str]:
    """The group versions of the OpenAPI v3 root: `api/v1` and `apis/<group>/<version>`."""
    paths = ["api/v1"] if registry.in_group_version("", "v1") else []
    for group, versions in registry.groups():
        paths.extend(f"apis/{group}/{v}" for v in versions)
    return paths


def _openapi_v3_document(registry: Registry, group: str, version: str) -> dict[str, Any]:
    """An OpenAPI v3 document of one group version, only as far as kubectl reads it to learn that
    the server validates fields itself: a PATCH operation per kind that takes `fieldValidation`
    (no schemas: kubectl then computes patches from its built-in types, as with no OpenAPI). So
    `kubectl apply` works without `--validate=false` and sends `fieldValidation=Strict`, and the
    stand-in refuses unknown fields of custom objects (see writes.py)."""
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    paths: dict[str, Any] = {}
    for kind in registry.in_group_version(group, version):
        scope = f"{prefix}/namespaces/{{namespace}}" if kind.namespaced else prefix
        paths[f"{scope}/{kind.plural}/{{name}}"] = {
            "patch": {
                "operationId": f"patch{kind.kind}",
                "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": {"description": "OK"}},
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": kind.kind},
            },
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": VERSION_INFO["gitVersion"]},
        "paths": paths,
        "components": {"schemas": {}},
    }


def _group_entry(group: str, versions: list[str]) -> dict[str, Any]:
    return {
        "name": group,
        "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in versions],
        "preferredVersion": {"groupVersion": f"{group}/{versions[0]}", "version": versions[0]},
    }


def discover(registry: Registry, path: str, server_address: str) -> Any | None:
    """The discovery document at `path`, None when `path` is no discovery path."""
    parts = [p for p in path.strip("/").split("/") if p]
    if parts == ["api"]:
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
        }
    if parts == ["apis"]:
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [_group_entry(g, vs) for g, vs in registry.groups()],
        }
    if len(parts) == 2 and parts[0] == "apis":
        for group, versions in registry.groups():
            if group == parts[1]:
                return dict(_group_entry(group, versions), kind="APIGroup", apiVersion="v1")
        raise resource_not_found(path)
    if (len(parts) == 2 and parts[0] == "api") or (len(parts) == 3 and parts[0] == "apis"):
        group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
        kinds = registry.in_group_version(group, version)
        if not kinds:
            raise resource_not_found(path)
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": [entry for kind in sorted(kinds, key=lambda k: k.plural) for entry in kind.discovery_entries()],
        }
    if parts == ["version"]:
        return VERSION_INFO
    if parts == ["openapi", "v2"]:
        return {
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": VERSION_INFO["gitVersion"]},
            "paths": {},
            "definitions": {},
        }
    if parts == ["openapi", "v3"]:
        return {"paths": {p: {"serverRelativeURL": f"/openapi/v3/{p}"} for p in _openapi_v3_paths(registry)}}
    if parts[:2] == ["openapi", "v3"]:
        gv = parts[2:]
        if "/".join(gv) not in _openapi_v3_paths(registry):
            raise resource_not_found(path)
        group, version = ("", gv[1]) if gv[0] == "api" else (gv[1], gv[2])
        return _openapi_v3_document(registry, group, version)
    if not parts:
        paths = ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v2", "/openapi/v3", "/readyz", "/version"]
        for group, versions in registry.groups():
            paths.append(f"/apis/{group}")
            paths.extend(f"/apis/{group}/{v}" for v in versions)
        return {"paths": sorted(paths)}
    return None
