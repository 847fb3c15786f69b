"""Shared test helpers (objects and the test CRD)."""

from __future__ import annotations

import pathlib
from typing import Any

import yaml

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
BP_PATH = "/apis/tidemark.dev/v1alpha1"


def load_fixture(name: str) -> dict[str, Any]:
    return yaml.safe_load((FIXTURES / name).read_text())


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": dict(data)}


def backup_policy(name: str, schedule: str = "0 * * * *") -> dict[str, Any]:
    return {
        "apiVersion": "tidemark.dev/v1alpha1",
        "kind": "BackupPolicy",
        "metadata": {"name": name},
        "spec": {"schedule": schedule},
    }


def ensure_crd(standin: Any) -> None:
    crd = load_fixture("backuppolicy-crd.yaml")
    response = standin.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    assert response.status_code in (201, 409), response.text
