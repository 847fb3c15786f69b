"""The Helm chart, checked with Helm v4's own library (helm-sdkpy): lint, the values schema,
installs onto the API stand-in in several configurations, every rendered object validated
against the Kubernetes JSON schemas, least-privilege RBAC, and the demo policy applied after
the install. The monitoring objects (ServiceMonitor, PrometheusRule, dashboard) are checked
in test_monitoring.py."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import re
import subprocess
import time
import urllib.request
import uuid
from typing import Any

import helm_sdkpy
import kubernetes_validate
import pytest
import yaml

from conftest import CHART, REPO, Cluster, manifest_objects

# The oldest Kubernetes minor the chart supports (Chart.yaml kubeVersion >=1.29: native
# sidecars for the restore test; the operator reads both Complete and SuccessCriteriaMet Job
# conditions) and the newest schemas known.
K8S_VERSIONS = ["1.29.0", kubernetes_validate.latest_version()]

# What the operator does, as (API group, resource, verb). The rendered rules must grant
# exactly this: nothing missing, nothing more (see docs/security.md).
OPERATOR_NEEDS = {
    *{("tidemark.dev", r, v) for r in ("backuppolicies", "restorerequests") for v in ("get", "list", "watch", "patch")},
    ("tidemark.dev", "backuppolicies/status", "patch"),
    ("tidemark.dev", "restorerequests/status", "patch"),
    ("tidemark.dev", "backuppolicies/finalizers", "update"),
    ("tidemark.dev", "restorerequests/finalizers", "update"),
    *{("batch", "jobs", v) for v in ("get", "list", "watch", "create", "delete")},
    *{("", "pods", v) for v in ("get", "list", "watch")},
    ("events.k8s.io", "events", "create"),
    ("events.k8s.io", "events", "patch"),
    ("", "events", "create"),
    ("", "events", "patch"),
    *{("apps", r, v) for r in ("deployments", "statefulsets", "deployments/scale", "statefulsets/scale") for v in ("get", "patch")},
}

# The operator's command line (fixed): the Deployment must set exactly these variables.
OPERATOR_ENV = {
    "TIDEMARK_RUNNER_IMAGE",
    "TIDEMARK_JOB_DEFAULTS",
    "TIDEMARK_WATCH_NAMESPACES",
    "TIDEMARK_METRICS_ADDR",
    "TIDEMARK_LEADER_ELECTION",
    "TIDEMARK_LEASE_NAME",
    "TIDEMARK_LOG_FORMAT",
    "POD_NAMESPACE",
    "POD_NAME",
}


def grants(rules: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(g, r, v) for rule in rules for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = by_kind(objects, kind)
    assert len(found) == 1, f"expected one {kind}, got {[o['metadata']['name'] for o in found]}"
    return found[0]


def release_ns() -> str:
    return "tm-" + uuid.uuid4().hex[:8]


def assert_valid_for_kind(obj: dict[str, Any]) -> None:
    if obj["apiVersion"].startswith("monitoring.coreos.com/"):
        return  # not a Kubernetes kind; checked in test_monitoring.py
    for version in K8S_VERSIONS:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            raise AssertionError(
                f"{obj['kind']} {obj['metadata']['name']} is not valid for Kubernetes {version}: "
                f"{'.'.join(str(p) for p in e.path)}: {e.message}"
            ) from e


# --- lint and the values schema -------------------------------------------------------


def test_lint_passes_without_warnings() -> None:
    result = asyncio.run(helm_sdkpy.Lint(helm_sdkpy.Configuration()).run(str(CHART)))
    assert result["TotalChartsLinted"] == 1
    assert not result["Errors"], result
    # Severity: 1 info (e.g. "icon is recommended"), 2 warning, 3 error.
    serious = [m for m in result["Messages"] if m["Severity"] >= 2]
    assert not serious, serious


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"operator": {"replica": 2}}, "replica"),
        ({"operator": {"replicas": 2}}, "leaderElection"),
        ({"operator": {"logFormat": "xml"}}, "logFormat"),
        ({"watchNamespaces": ["Not_A_Namespace"]}, "watchNamespaces"),
        ({"metrics": {"port": 80}}, "port"),
        ({"rbac": {"webhookSecrets": {"enabled": "yes"}}}, "enabled"),
        ({"runner": {"image": {"repository": ""}}}, "repository"),
        ({"runner": {"image": "ghcr.io/tidemark-dev/tidemark-runner:0.1.0"}}, "image"),
    ],
)
def test_values_schema_rejects_bad_values_naming_the_field(cluster: Cluster, values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm_sdkpy.InstallError) as error:
        cluster.install("tidemark", release_ns(), values)
    text = str(error.value)
    assert "values don't meet the specifications of the schema" in text, text
    assert message in text, text


# --- the default install ----------------------------------------------------------------


@pytest.fixture(scope="module")
def default_install(cluster: Cluster) -> tuple[str, list[dict[str, Any]]]:
    ns = release_ns()
    # The one release of this cluster that installs the CRDs (see Cluster.install).
    release = cluster.install(ns, ns, {"extraLabels": {"team": "dba"}}, crds=True)
    assert release["info"]["status"] == "deployed"
    return ns, manifest_objects(release)


def test_default_install_renders_the_expected_objects(default_install: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = default_install
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == [
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "CustomResourceDefinition",
        "Deployment",
        "Service",
        "ServiceAccount",
    ]


def test_every_rendered_object_is_valid_for_its_kind(default_install: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = default_install
    for obj in objects:
        assert_valid_for_kind(obj)


def test_install_created_the_objects_and_the_crds(cluster: Cluster, default_install: tuple[str, list[dict[str, Any]]]) -> None:
    ns, objects = default_install
    for obj in objects:
        namespace = ["-n", obj["metadata"]["namespace"]] if "namespace" in obj["metadata"] else []
        got = cluster.get(obj["kind"].lower(), obj["metadata"]["name"], *namespace)
        assert got["metadata"]["labels"]["team"] == "dba"
        assert got["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    crds = {c["metadata"]["name"] for c in cluster.get("crd")["items"]}
    assert {"backuppolicies.tidemark.dev", "restorerequests.tidemark.dev"} <= crds


def test_deployment_runs_the_operator_as_the_brief_says(default_install: tuple[str, list[dict[str, Any]]]) -> None:
    ns, objects = default_install
    deployment = one(objects, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"] == ["run"]
    env = {e["name"]: e for e in container["env"]}
    assert set(env) == OPERATOR_ENV
    assert env["TIDEMARK_RUNNER_IMAGE"]["value"] == "ghcr.io/tidemark-dev/tidemark-runner:0.1.0"
    assert env["TIDEMARK_WATCH_NAMESPACES"]["value"] == ""
    assert env["TIDEMARK_METRICS_ADDR"]["value"] == "0.0.0.0:8080"
    assert env["TIDEMARK_LEADER_ELECTION"]["value"] == "false"
    assert env["TIDEMARK_LOG_FORMAT"]["value"] == "json"
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert container["image"] == "ghcr.io/tidemark-dev/tidemark-operator:0.1.0"
    # Probes on the metrics port, which the metrics Service also targets.
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert container["ports"] == [{"name": "metrics", "containerPort": 8080, "protocol": "TCP"}]
    service = one(objects, "Service")
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert pod["serviceAccountName"] == one(objects, "ServiceAccount")["metadata"]["name"]
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]


def test_pod_meets_the_restricted_pod_security_standard(default_install: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = default_install
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in pod["containers"]:
        sc = container["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["capabilities"] == {"drop": ["ALL"]}
    assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("volumes")


def test_cluster_wide_rbac_grants_exactly_what_the_operator_needs(default_install: tuple[str, list[dict[str, Any]]]) -> None:
    ns, objects = default_install
    role = one(objects, "ClusterRole")
    assert grants(role["rules"]) == OPERATOR_NEEDS
    assert not any("resourceNames" in r for r in role["rules"])
    binding = one(objects, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": one(objects, "ServiceAccount")["metadata"]["name"], "namespace": ns}
    ]
    # No Secrets (the default), no leader election Lease role without leader election.
    assert not any(r["kind"] == "Role" for r in objects)


def test_every_rbac_rule_is_justified_by_a_comment() -> None:
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    rules = helpers.split('define "tidemark.watchRules"', 1)[1]
    lines = rules.splitlines()
    for i, line in enumerate(lines):
        if line.lstrip().startswith("- apiGroups:"):
            previous = lines[i - 1].strip()
            assert previous.startswith("#") or previous.startswith("{{- if"), f"rule without a comment: {line!r}"


def test_demo_policy_and_every_example_apply_after_the_install(cluster: Cluster, default_install: tuple[str, list[dict[str, Any]]]) -> None:
    cluster.kubectl("apply", "--validate=false", "-f", "-", stdin="apiVersion: v1\nkind: Namespace\nmetadata:\n  name: webshop\n")
    cluster.kubectl("apply", "--validate=false", "-f", str(REPO / "examples" / "secrets.yaml"))
    examples = sorted(p for p in (REPO / "examples").glob("*.yaml") if p.name != "secrets.yaml")
    assert len(examples) >= 6
    for example in examples:
        cluster.kubectl("apply", "--validate=false", "-f", str(example))
    names = {rr["metadata"]["name"] for rr in cluster.get("rr", "-n", "webshop")["items"]}
    assert {"webshop-restore-latest", "webshop-lost-server", "webshop-undo-migration"} <= names
    policy = cluster.get("bp", "webshop", "-n", "webshop")
    assert policy["spec"]["schedule"] == "0 * * * *"
    assert cluster.get("rr", "webshop-restore-latest", "-n", "webshop")["spec"]["backup"] == {"latest": True}
    printed = cluster.kubectl("get", "bp", "-n", "webshop").stdout
    assert "webshop" in printed


# --- namespaced install, leader election, webhook Secrets --------------------------------


@pytest.fixture(scope="module")
def namespaced_install(cluster: Cluster) -> tuple[str, list[dict[str, Any]]]:
    ns = release_ns()
    values = {
        "watchNamespaces": ["shop-a", "shop-b"],
        "operator": {"replicas": 2, "logFormat": "text"},
        "leaderElection": {"enabled": True},
        "rbac": {"webhookSecrets": {"enabled": True, "names": ["webshop-alerts"]}},
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}],
    }
    return ns, manifest_objects(cluster.install(ns, ns, values))


def test_namespaced_install_has_no_cluster_wide_rbac(namespaced_install: tuple[str, list[dict[str, Any]]]) -> None:
    ns, objects = namespaced_install
    assert not by_kind(objects, "ClusterRole") and not by_kind(objects, "ClusterRoleBinding")
    roles = {(r["metadata"]["namespace"], r["metadata"]["name"]): r for r in by_kind(objects, "Role")}
    name = f"{ns}-tidemark"  # release ns (each test installs its own release, named like its namespace)
    assert set(roles) == {("shop-a", name), ("shop-b", name), (ns, f"{name}-leader-election")}
    sa = one(objects, "ServiceAccount")["metadata"]["name"]
    for watched in ("shop-a", "shop-b"):
        rules = roles[(watched, name)]["rules"]
        assert grants(rules) == OPERATOR_NEEDS | {("", "secrets", "get")}
        (secret_rule,) = [r for r in rules if "secrets" in r["resources"]]
        assert secret_rule["resourceNames"] == ["webshop-alerts"]
    bindings = by_kind(objects, "RoleBinding")
    assert {b["metadata"]["namespace"] for b in bindings} == {"shop-a", "shop-b", ns}
    for b in bindings:
        assert b["subjects"] == [{"kind": "ServiceAccount", "name": sa, "namespace": ns}]
    lease_rules = roles[(ns, f"{name}-leader-election")]["rules"]
    assert grants(lease_rules) == {("coordination.k8s.io", "leases", v) for v in ("create", "get", "patch")}
    assert [r.get("resourceNames") for r in lease_rules if "get" in r["verbs"]] == [["tidemark-operator"]]
    for obj in objects:
        assert_valid_for_kind(obj)


def test_namespaced_install_configures_the_operator(namespaced_install: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = namespaced_install
    deployment = one(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["TIDEMARK_WATCH_NAMESPACES"] == "shop-a,shop-b"
    assert env["TIDEMARK_LEADER_ELECTION"] == "true"
    assert env["TIDEMARK_LEASE_NAME"] == "tidemark-operator"
    assert env["TIDEMARK_LOG_FORMAT"] == "text"
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["tolerations"][0]["key"] == "dedicated"


def test_webhook_secret_rule_without_names_is_get_only(cluster: Cluster) -> None:
    ns = release_ns()
    objects = manifest_objects(cluster.install(ns, ns, {"rbac": {"webhookSecrets": {"enabled": True}}}))
    rules = one(objects, "ClusterRole")["rules"]
    assert grants(rules) - OPERATOR_NEEDS == {("", "secrets", "get")}


# --- the operator binary with the Deployment's settings ---------------------------------


def operator_binary() -> pathlib.Path:
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return target / "debug" / "tidemark-operator"


def test_operator_accepts_every_variable_the_deployment_sets() -> None:
    binary = operator_binary()
    if not binary.exists():
        pytest.skip(f"{binary} is not built (scripts/test builds it before this suite)")
    help_text = subprocess.run([binary, "run", "--help"], capture_output=True, text=True, timeout=30)
    assert help_text.returncode == 0, help_text.stderr
    for name in OPERATOR_ENV:
        assert f"[env: {name}=" in help_text.stdout, f"`tidemark-operator run` does not read {name}"


def test_operator_serves_the_probe_paths_with_the_deployment_settings(
    cluster: Cluster, default_install: tuple[str, list[dict[str, Any]]], tmp_path: pathlib.Path
) -> None:
    """Runs the operator binary with the rendered Deployment's environment against the
    stand-in and asks the probe paths the kubelet would ask."""
    binary = operator_binary()
    if not binary.exists():
        pytest.skip(f"{binary} is not built (scripts/test builds it before this suite)")
    ns, objects = default_install
    container = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    port = _free_port()
    env.update(
        TIDEMARK_METRICS_ADDR=f"127.0.0.1:{port}",
        POD_NAMESPACE=ns,
        POD_NAME="tidemark-test-0",
        KUBECONFIG=str(cluster.kubeconfig),
        PATH=os.environ["PATH"],
    )
    log = tmp_path / "operator.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([binary, *container["args"]], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        status = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and set(status.values()) != {200}:
            assert proc.poll() is None, f"the operator exited ({proc.returncode}): {log.read_text()[-2000:]}"
            for path in ("/healthz", "/readyz"):
                status[path] = _http_status(f"http://127.0.0.1:{port}{path}")
            time.sleep(0.3)
        assert status == {"/healthz": 200, "/readyz": 200}, f"{status}; log: {log.read_text()[-2000:]}"
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        assert "tidemark_" in metrics
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http_status(url: str) -> int:
    try:
        return urllib.request.urlopen(url, timeout=2).status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0
