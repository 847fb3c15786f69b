"""A kubeconfig pointing at the stand-in (plain HTTP on 127.0.0.1, no credentials)."""

from __future__ import annotations

import pathlib

import yaml


def render(server: str, namespace: str = "default", name: str = "tidemark-standin") -> str:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server}}],
        "users": [{"name": name, "user": {}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name, "namespace": namespace}}],
        "current-context": name,
        "preferences": {},
    }
    return yaml.safe_dump(config, sort_keys=False)


def write(server: str, out: str | pathlib.Path, namespace: str = "default") -> pathlib.Path:
    path = pathlib.Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(server, namespace))
    return path
