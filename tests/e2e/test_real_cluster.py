"""End to end on a real Kubernetes cluster (kind, k3d or any other): install the chart with
real images, take a backup of a real PostgreSQL into an in-cluster S3 server, restore it
into a new database with a RestoreRequest, and compare row counts.

Runs only when TIDEMARK_E2E_KUBECONFIG points at a cluster; see docs/real-cluster.md.
Without it every test here is skipped with that message (the manifest checks at the end
always run).
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
CHART = REPO / "charts" / "tidemark"
KUBECONFIG = os.environ.get("TIDEMARK_E2E_KUBECONFIG", "")
SYSTEM_NS = "tidemark-e2e-system"
NS = "tidemark-e2e"
S3_ENDPOINT = f"http://e2e-s3.{NS}.svc:8333"
BUCKET = "e2e-backups"

needs_cluster = pytest.mark.skipif(
    not KUBECONFIG,
    reason="no real cluster: set TIDEMARK_E2E_KUBECONFIG (and TIDEMARK_E2E_OPERATOR_IMAGE, "
    "TIDEMARK_E2E_RUNNER_IMAGE) to run it, see docs/real-cluster.md",
)


def kubectl(*args: str, stdin: str | None = None, check: bool = True, timeout: int = 120) -> str:
    kubectl_bin = shutil.which("kubectl") or str(pathlib.Path(sys.executable).parent / "kubectl")
    result = subprocess.run(
        [kubectl_bin, "--kubeconfig", KUBECONFIG, *args], input=stdin, capture_output=True, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {result.stderr}")
    return result.stdout


def apply(objects: list[dict[str, Any]] | dict[str, Any], namespace: str = NS) -> None:
    docs = objects if isinstance(objects, list) else [objects]
    kubectl("apply", "-n", namespace, "-f", "-", stdin="\n---\n".join(json.dumps(d) for d in docs))


def wait_for(what: str, check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(3)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}")


def image_values(image: str) -> dict[str, str]:
    repository, _, tag = image.rpartition(":")
    if not repository or "/" in tag:
        return {"repository": image, "tag": "latest"}
    return {"repository": repository, "tag": tag}


def age_keypair() -> tuple[str, str]:
    out = subprocess.run(["age-keygen"], capture_output=True, text=True, check=True)
    identity = next(line for line in out.stdout.splitlines() if line.startswith("AGE-SECRET-KEY-"))
    recipient = next(line.split(": ", 1)[1] for line in out.stderr.splitlines() if "public key" in line)
    return identity, recipient


def policy(recipient: str) -> dict[str, Any]:
    return {
        "apiVersion": "tidemark.dev/v1alpha1",
        "kind": "BackupPolicy",
        "metadata": {"name": "e2e", "namespace": NS},
        "spec": {
            # Yearly: the test triggers its backup with runNow and never waits for the cron.
            "schedule": "0 0 1 1 *",
            "timeZone": "UTC",
            "runNow": "e2e-1",
            "database": {
                "host": f"e2e-db.{NS}.svc",
                "database": "shop",
                "userSecretRef": {"name": "e2e-db", "key": "username"},
                "passwordSecretRef": {"name": "e2e-db", "key": "password"},
                "sslMode": "disable",
            },
            "encryption": {"recipients": [recipient]},
            "s3": {
                "bucket": BUCKET,
                "prefix": "tidemark",
                "region": "us-east-1",
                "endpoint": S3_ENDPOINT,
                "forcePathStyle": True,
                "credentials": {
                    "accessKeyIdSecretRef": {"name": "e2e-s3", "key": "access-key-id"},
                    "secretAccessKeySecretRef": {"name": "e2e-s3", "key": "secret-access-key"},
                },
            },
            "retention": {"hourly": 24},
        },
    }


def restore_request() -> dict[str, Any]:
    return {
        "apiVersion": "tidemark.dev/v1alpha1",
        "kind": "RestoreRequest",
        "metadata": {"name": "e2e-restore", "namespace": NS},
        "spec": {
            "source": {"policyRef": {"name": "e2e"}},
            "decryptionIdentitySecretRef": {"name": "e2e-identity", "key": "identity"},
            "backup": {"latest": True},
            "target": {
                "connection": {
                    "host": f"e2e-db.{NS}.svc",
                    "database": "shop_restored",
                    "userSecretRef": {"name": "e2e-db", "key": "username"},
                    "passwordSecretRef": {"name": "e2e-db", "key": "password"},
                    "sslMode": "disable",
                },
                "createDatabase": True,
            },
            "mode": {"content": "Full"},
            "verify": {"rowCounts": True},
        },
    }


def make_bucket_job() -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "e2e-make-bucket"},
        "spec": {
            "backoffLimit": 10,
            "template": {
                "spec": {
                    "restartPolicy": "OnFailure",
                    "containers": [
                        {
                            "name": "aws",
                            "image": "amazon/aws-cli:latest",
                            "args": ["--endpoint-url", S3_ENDPOINT, "s3", "mb", f"s3://{BUCKET}"],
                            "env": [
                                {"name": "AWS_REGION", "value": "us-east-1"},
                                {"name": "AWS_ACCESS_KEY_ID", "value": "e2e-access"},
                                {"name": "AWS_SECRET_ACCESS_KEY", "value": "e2e-secret-key"},
                            ],
                        }
                    ],
                }
            },
        },
    }


@pytest.fixture(scope="module")
def installed() -> Iterator[None]:
    operator_image = os.environ.get("TIDEMARK_E2E_OPERATOR_IMAGE")
    runner_image = os.environ.get("TIDEMARK_E2E_RUNNER_IMAGE")
    if not operator_image or not runner_image:
        pytest.fail("TIDEMARK_E2E_OPERATOR_IMAGE and TIDEMARK_E2E_RUNNER_IMAGE must name the images to test")
    import helm_sdkpy

    config = helm_sdkpy.Configuration(namespace=SYSTEM_NS, kubeconfig=KUBECONFIG)
    values = {
        "operator": {"image": {**image_values(operator_image), "pullPolicy": "IfNotPresent"}},
        "runner": {"image": image_values(runner_image)},
        "watchNamespaces": [NS],
    }
    kubectl("create", "namespace", NS, check=False)
    asyncio.run(helm_sdkpy.Install(config).run("tidemark-e2e", str(CHART), values=values, create_namespace=True, wait=True, timeout=300))
    try:
        yield
    finally:
        if not os.environ.get("TIDEMARK_E2E_KEEP"):
            kubectl("delete", "namespace", NS, "--wait=false", check=False)
            asyncio.run(helm_sdkpy.Uninstall(config).run("tidemark-e2e", wait=False))


@needs_cluster
def test_backup_and_restore_on_a_real_cluster(installed: None) -> None:
    apply(list(yaml.safe_load_all((HERE / "manifests.yaml").read_text())))
    kubectl("wait", "-n", NS, "--for=condition=Available", "deployment/e2e-db", "deployment/e2e-s3", "--timeout=300s", timeout=320)
    apply(make_bucket_job())
    kubectl("wait", "-n", NS, "--for=condition=Complete", "job/e2e-make-bucket", "--timeout=300s", timeout=320)

    identity, recipient = age_keypair()
    apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "e2e-identity"}, "stringData": {"identity": identity}})
    apply(policy(recipient))

    def last_backup() -> dict[str, Any] | None:
        status = json.loads(kubectl("get", "bp", "e2e", "-n", NS, "-o", "json")).get("status", {})
        return status.get("lastBackup")

    backup = wait_for("the runNow backup", last_backup, 600)
    assert backup["key"].startswith(f"tidemark/{NS}/e2e/") and backup["key"].endswith(".dump.zst.age")

    apply(restore_request())

    def finished() -> str | None:
        phase = json.loads(kubectl("get", "rr", "e2e-restore", "-n", NS, "-o", "json")).get("status", {}).get("phase")
        return phase if phase in ("Succeeded", "Failed") else None

    phase = wait_for("the restore", finished, 900)
    rr = json.loads(kubectl("get", "rr", "e2e-restore", "-n", NS, "-o", "json"))
    assert phase == "Succeeded", rr.get("status")
    assert rr["status"]["resolvedBackup"]["key"] == backup["key"]

    for table, rows in (("orders", 5000), ("customers", 700)):
        count = kubectl("exec", "-n", NS, "deploy/e2e-db", "--", "psql", "-U", "postgres", "-d", "shop_restored", "-Atc", f"SELECT count(*) FROM {table}")
        assert int(count.strip()) == rows, table

    service = json.loads(kubectl("get", "svc", "-n", SYSTEM_NS, "-l", "app.kubernetes.io/instance=tidemark-e2e", "-o", "json"))["items"][0]
    metrics = kubectl("get", "--raw", f"/api/v1/namespaces/{SYSTEM_NS}/services/{service['metadata']['name']}:metrics/proxy/metrics")
    assert f'tidemark_backup_last_success_timestamp_seconds{{namespace="{NS}",policy="e2e"}}' in metrics


# --- always run: the objects above match the CRDs ---------------------------------------


def crd_schema(plural: str) -> dict[str, Any]:
    crd = yaml.safe_load((CHART / "files" / "crds" / f"{plural}.tidemark.dev.yaml").read_text())
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def strict(schema: Any) -> Any:
    """The CRD schema as plain JSON Schema: nullable → null allowed, unknown fields refused."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items() if not k.startswith("x-kubernetes-") and k != "nullable"}
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if out.get("type") == "object" and "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


@pytest.mark.parametrize(("obj", "plural"), [(policy("age1" + "q" * 58), "backuppolicies"), (restore_request(), "restorerequests")])
def test_e2e_resources_match_the_crds(obj: dict[str, Any], plural: str) -> None:
    import jsonschema

    schema = strict(crd_schema(plural))
    schema["properties"].update(metadata={"type": "object"}, apiVersion={"const": "tidemark.dev/v1alpha1"}, kind={"type": "string"})
    jsonschema.validate(obj, schema)


def test_the_crd_check_catches_a_misspelt_field() -> None:
    import jsonschema

    bad = policy("age1" + "q" * 58)
    bad["spec"]["s3"]["forcePathstyle"] = bad["spec"]["s3"].pop("forcePathStyle")
    schema = strict(crd_schema("backuppolicies"))
    schema["properties"].update(metadata={"type": "object"}, apiVersion={"type": "string"}, kind={"type": "string"})
    with pytest.raises(jsonschema.ValidationError, match="forcePathstyle"):
        jsonschema.validate(bad, schema)
