"""The chart's life cycle with real Helm on a stand-in of its own: CRDs that `helm upgrade`
delivers and `helm uninstall` keeps, installing as a subchart with `global` values,
`--reuse-values` upgrades that keep the operator and runner images in step, name
overrides, the PodDisruptionBudget and the kubeVersion constraint."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import helm_sdkpy
import pytest
import yaml

from conftest import CHART, Cluster, manifest_objects, start_cluster
from test_chart import _free_port as free_port
from test_chart import operator_binary

CRD_FILES = CHART / "files" / "crds"
CRD_NAMES = ["backuppolicies.tidemark.dev", "restorerequests.tidemark.dev"]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A stand-in for this module only: the CRD tests own its CRDs."""
    yield from start_cluster(tmp_path_factory.mktemp("lifecycle"))


def release_ns() -> str:
    return "lc-" + uuid.uuid4().hex[:8]


def chart_copy(tmp: pathlib.Path, version: str, app_version: str | None = None) -> pathlib.Path:
    """The chart copied to `tmp` with another version (and appVersion)."""
    target = tmp / f"tidemark-{version}" / "tidemark"
    shutil.copytree(CHART, target)
    meta = yaml.safe_load((target / "Chart.yaml").read_text())
    meta["version"] = version
    meta["appVersion"] = app_version or version
    (target / "Chart.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    return target


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def env_of(objects: list[dict[str, Any]]) -> dict[str, str]:
    (deployment,) = by_kind(objects, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", "") for e in container["env"]}


def operator_image(objects: list[dict[str, Any]]) -> str:
    (deployment,) = by_kind(objects, "Deployment")
    return deployment["spec"]["template"]["spec"]["containers"][0]["image"]


# --- CRDs -----------------------------------------------------------------------------


def test_crds_dir_is_gone_and_the_templates_use_the_generated_files() -> None:
    # Helm installs crds/ once and never upgrades it: the chart must not have one.
    assert not (CHART / "crds").exists()
    assert sorted(p.name for p in CRD_FILES.glob("*.yaml")) == [f"{n}.yaml" for n in CRD_NAMES]


def test_crds_are_rendered_from_the_generated_files_and_kept_on_uninstall(fresh: Cluster, tmp_path: pathlib.Path) -> None:
    ns = release_ns()
    objects = manifest_objects(fresh.install("tidemark", ns, crds=True))
    crds = {o["metadata"]["name"]: o for o in by_kind(objects, "CustomResourceDefinition")}
    assert sorted(crds) == CRD_NAMES
    for name, crd in crds.items():
        generated = yaml.safe_load((CRD_FILES / f"{name}.yaml").read_text())
        assert crd["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
        assert crd["metadata"]["labels"]["app.kubernetes.io/instance"] == "tidemark"
        assert {k: v for k, v in crd.items() if k != "metadata"} == {k: v for k, v in generated.items() if k != "metadata"}
        stored = fresh.get("crd", name)
        assert stored["spec"] == generated["spec"]
    try:
        # Uninstall keeps the CRDs (and so every policy and request) ...
        fresh.uninstall("tidemark", ns)
        names = {c["metadata"]["name"] for c in fresh.get("crd")["items"]}
        assert set(CRD_NAMES) <= names
        # ... and a new install with the same release name adopts them again.
        again = manifest_objects(fresh.install("tidemark", ns, crds=True))
        assert len(by_kind(again, "CustomResourceDefinition")) == 2
    finally:
        fresh.uninstall("tidemark", ns)
        delete_crds(fresh)


def delete_crds(cluster: Cluster) -> None:
    """What docs/install.md says to do after `helm uninstall` to remove Tidemark entirely."""
    cluster.kubectl("delete", "crd", *CRD_NAMES, "--ignore-not-found")


def test_helm_upgrade_delivers_a_crd_change(fresh: Cluster, tmp_path: pathlib.Path) -> None:
    ns = release_ns()
    fresh.install("crd-upgrade", ns, chart=chart_copy(tmp_path / "a", "0.9.0"), crds=True)
    before = fresh.get("crd", "backuppolicies.tidemark.dev")
    columns = before["spec"]["versions"][0]["additionalPrinterColumns"]
    assert "Upgraded" not in [c["name"] for c in columns]
    # The next chart version's CRD has one more printer column and a new field.
    newer = chart_copy(tmp_path / "b", "0.9.1")
    path = newer / "files" / "crds" / "backuppolicies.tidemark.dev.yaml"
    crd = yaml.safe_load(path.read_text())
    version = crd["spec"]["versions"][0]
    version["additionalPrinterColumns"].append({"name": "Upgraded", "type": "string", "jsonPath": ".spec.upgradedField"})
    version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["upgradedField"] = {
        "type": "string",
        "description": "A field only the newer chart's CRD has.",
    }
    path.write_text("# Generated\n" + yaml.safe_dump(crd, sort_keys=False))
    try:
        release = fresh.upgrade("crd-upgrade", ns, chart=newer, values={"crds": {"install": True}})
        assert release["version"] == 2 and release["info"]["status"] == "deployed"
        after = fresh.get("crd", "backuppolicies.tidemark.dev")
        assert after["spec"]["versions"][0]["additionalPrinterColumns"][-1]["name"] == "Upgraded"
        spec_props = after["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
        assert spec_props["upgradedField"]["type"] == "string"
    finally:
        fresh.uninstall("crd-upgrade", ns)
        delete_crds(fresh)


def test_crds_of_an_older_chart_are_adopted_as_the_docs_say(fresh: Cluster) -> None:
    """Chart 0.1.0 installed the CRDs from crds/, without Helm's ownership metadata; the
    upgrade fails until they are labelled and annotated as docs/install.md shows."""
    for name in CRD_NAMES:
        fresh.kubectl("apply", "--validate=false", "-f", str(CRD_FILES / f"{name}.yaml"))
    ns = release_ns()
    try:
        with pytest.raises(helm_sdkpy.InstallError, match="invalid ownership metadata"):
            fresh.install("tidemark", ns, crds=True)
        for name in CRD_NAMES:
            fresh.kubectl("label", "crd", name, "app.kubernetes.io/managed-by=Helm", "--overwrite")
            fresh.kubectl(
                "annotate", "crd", name, "meta.helm.sh/release-name=tidemark",
                f"meta.helm.sh/release-namespace={ns}", "--overwrite",
            )
        objects = manifest_objects(fresh.install("tidemark", ns, crds=True))
        assert len(by_kind(objects, "CustomResourceDefinition")) == 2
        stored = fresh.get("crd", CRD_NAMES[0])
        assert stored["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    finally:
        fresh.uninstall("tidemark", ns)
        delete_crds(fresh)


def test_crds_install_false_renders_no_crd(fresh: Cluster) -> None:
    ns = release_ns()
    objects = manifest_objects(fresh.install(ns, ns, {"crds": {"install": False}}))
    assert not by_kind(objects, "CustomResourceDefinition")


# --- as a subchart ----------------------------------------------------------------------


def test_installs_as_a_dependency_of_an_umbrella_chart_with_global_values(fresh: Cluster, tmp_path: pathlib.Path) -> None:
    umbrella = tmp_path / "platform"
    (umbrella / "charts").mkdir(parents=True)
    shutil.copytree(CHART, umbrella / "charts" / "tidemark")
    version = yaml.safe_load((CHART / "Chart.yaml").read_text())["version"]
    (umbrella / "Chart.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v2",
                "name": "platform",
                "version": "1.0.0",
                "dependencies": [
                    {"name": "tidemark", "version": version, "repository": "file://charts/tidemark"}
                ],
            }
        )
    )
    # Helm hands `global` to every subchart; Tidemark's schema must accept it.
    (umbrella / "values.yaml").write_text(
        yaml.safe_dump({"global": {"imageRegistry": "registry.example", "storageClass": "fast"}})
    )
    ns = release_ns()
    values = {"tidemark": {"crds": {"install": False}, "extraLabels": {"team": "platform"}}}
    release = fresh.install("platform", ns, values, chart=umbrella)
    assert release["info"]["status"] == "deployed"
    objects = manifest_objects(release)
    (deployment,) = by_kind(objects, "Deployment")
    assert deployment["metadata"]["name"] == "platform-tidemark"
    assert deployment["metadata"]["labels"]["team"] == "platform"
    # The subchart's schema still checks its own values under the parent's key.
    with pytest.raises(helm_sdkpy.InstallError, match="logFormat"):
        fresh.install("platform", release_ns(), {"tidemark": {"operator": {"logFormat": "xml"}}}, chart=umbrella)


# --- images follow the chart's appVersion ------------------------------------------------


def test_reuse_values_upgrade_moves_operator_and_runner_to_the_new_app_version(fresh: Cluster, tmp_path: pathlib.Path) -> None:
    """`helm upgrade --reuse-values` reuses the old release's values (the old chart's
    defaults included); with empty tags both images follow the new chart's appVersion."""
    ns = release_ns()
    a = chart_copy(tmp_path / "a", "1.4.0", "1.4.0")
    b = chart_copy(tmp_path / "b", "1.5.0", "1.5.2")
    first = manifest_objects(fresh.install("images", ns, {"operator": {"logFormat": "text"}}, chart=a))
    assert operator_image(first) == "ghcr.io/tidemark-dev/tidemark-operator:1.4.0"
    assert env_of(first)["TIDEMARK_RUNNER_IMAGE"] == "ghcr.io/tidemark-dev/tidemark-runner:1.4.0"
    try:
        upgraded = manifest_objects(fresh.upgrade("images", ns, chart=b, reuse_values=True))
        assert operator_image(upgraded) == "ghcr.io/tidemark-dev/tidemark-operator:1.5.2"
        assert env_of(upgraded)["TIDEMARK_RUNNER_IMAGE"] == "ghcr.io/tidemark-dev/tidemark-runner:1.5.2"
        assert env_of(upgraded)["TIDEMARK_LOG_FORMAT"] == "text"  # the user's value was reused
        stored = fresh.get("deployment", "images-tidemark", "-n", ns)
        (container,) = stored["spec"]["template"]["spec"]["containers"]
        runner = next(e["value"] for e in container["env"] if e["name"] == "TIDEMARK_RUNNER_IMAGE")
        assert container["image"].rsplit(":", 1)[1] == runner.rsplit(":", 1)[1] == "1.5.2"
    finally:
        fresh.uninstall("images", ns)


def test_runner_image_tag_and_digest(fresh: Cluster) -> None:
    ns = release_ns()
    digest = "sha256:" + "ab" * 32
    pinned = manifest_objects(fresh.install(ns, ns, {"runner": {"image": {"repository": "registry.example/runner", "tag": "7", "digest": digest}}}))
    assert env_of(pinned)["TIDEMARK_RUNNER_IMAGE"] == f"registry.example/runner@{digest}"
    ns = release_ns()
    tagged = manifest_objects(fresh.install(ns, ns, {"runner": {"image": {"repository": "registry.example/runner", "tag": "7"}}}))
    assert env_of(tagged)["TIDEMARK_RUNNER_IMAGE"] == "registry.example/runner:7"


# --- names, Pod labels, PodDisruptionBudget, kubeVersion ----------------------------------


def test_name_overrides_and_pod_labels(fresh: Cluster) -> None:
    ns = release_ns()
    objects = manifest_objects(fresh.install("rel", ns, {"nameOverride": "backups", "operator": {"podLabels": {"cost-center": "db"}}}))
    (deployment,) = by_kind(objects, "Deployment")
    assert deployment["metadata"]["name"] == "rel-backups"
    assert deployment["metadata"]["labels"]["app.kubernetes.io/name"] == "backups"
    assert deployment["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] == "backups"
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pod_labels["cost-center"] == "db"
    assert "cost-center" not in deployment["metadata"]["labels"]  # Pods only
    ns = release_ns()
    objects = manifest_objects(fresh.install("rel", ns, {"fullnameOverride": "tm"}))
    names = {o["metadata"]["name"] for o in objects if o["kind"] in ("Deployment", "ServiceAccount", "ClusterRole")}
    assert names == {"tm"}
    assert {o["metadata"]["name"] for o in by_kind(objects, "Service")} == {"tm-metrics"}


def test_pod_disruption_budget_only_with_several_replicas(fresh: Cluster) -> None:
    ns = release_ns()
    assert not by_kind(manifest_objects(fresh.install(ns, ns)), "PodDisruptionBudget")
    ns = release_ns()
    objects = manifest_objects(fresh.install(ns, ns, {"operator": {"replicas": 3}, "leaderElection": {"enabled": True}}))
    (pdb,) = by_kind(objects, "PodDisruptionBudget")
    (deployment,) = by_kind(objects, "Deployment")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


@pytest.mark.parametrize(("version", "accepted"), [("1.28.9", False), ("1.29.0", True)])
def test_kube_version_is_enforced(tmp_path: pathlib.Path, version: str, accepted: bool) -> None:
    """Helm refuses a cluster older than Chart.yaml's kubeVersion (1.29: native sidecars)."""
    assert yaml.safe_load((CHART / "Chart.yaml").read_text())["kubeVersion"] == ">=1.29.0-0"
    for cluster in start_cluster(tmp_path, version=version):
        ns = release_ns()
        if accepted:
            assert fresh_install_ok(cluster, ns)
        else:
            with pytest.raises(helm_sdkpy.InstallError, match="kubeVersion"):
                cluster.install(ns, ns)


def fresh_install_ok(cluster: Cluster, ns: str) -> bool:
    return cluster.install(ns, ns, crds=True)["info"]["status"] == "deployed"


# --- the stopWriters switch ---------------------------------------------------------------

STOP_WRITERS = {
    ("apps", r, v) for r in ("deployments", "statefulsets", "deployments/scale", "statefulsets/scale") for v in ("get", "patch")
}


@pytest.mark.parametrize("watch", [[], ["shop-a"]])
def test_stop_writers_rbac_is_a_switch(fresh: Cluster, watch: list[str]) -> None:
    from test_chart import OPERATOR_NEEDS, grants

    def rules(values: dict[str, Any]) -> set[tuple[str, str, str]]:
        ns = release_ns()
        objects = manifest_objects(fresh.install(ns, ns, {"watchNamespaces": watch, **values}))
        kind = "Role" if watch else "ClusterRole"
        (role,) = [o for o in by_kind(objects, kind) if not o["metadata"]["name"].endswith("-leader-election")]
        return grants(role["rules"])

    assert STOP_WRITERS <= OPERATOR_NEEDS
    assert rules({}) == OPERATOR_NEEDS  # on by default
    assert rules({"rbac": {"stopWriters": {"enabled": True}}}) == OPERATOR_NEEDS
    assert rules({"rbac": {"stopWriters": {"enabled": False}}}) == OPERATOR_NEEDS - STOP_WRITERS


def test_security_doc_shows_the_stop_writers_rules_the_chart_renders() -> None:
    doc = (CHART.parents[1] / "docs" / "security.md").read_text()
    section = doc.split("### The `stopWriters` rights", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    from test_chart import grants

    assert grants(yaml.safe_load(section)) == STOP_WRITERS


# --- chart-wide defaults of the runner Jobs ---------------------------------------------------

JOB_DEFAULTS = {
    "imagePullSecrets": [{"name": "regcred"}],
    "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}},
    "nodeSelector": {"tidemark.dev/pool": "backup"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "backup", "effect": "NoSchedule"}],
}


def test_job_defaults_are_rendered_for_the_operator(fresh: Cluster) -> None:
    ns = release_ns()
    env = env_of(manifest_objects(fresh.install(ns, ns, {"runner": {"image": {"repository": "r"}, **JOB_DEFAULTS}})))
    assert json.loads(env["TIDEMARK_JOB_DEFAULTS"]) == JOB_DEFAULTS
    ns = release_ns()
    assert json.loads(env_of(manifest_objects(fresh.install(ns, ns)))["TIDEMARK_JOB_DEFAULTS"]) == {}


def test_job_defaults_reach_the_jobs_the_operator_creates(fresh: Cluster, tmp_path: pathlib.Path) -> None:
    """The operator binary, run with the rendered Deployment's environment against the
    stand-in, creates a backup Job with the chart's defaults where the policy sets none,
    and with the policy's own setting where it has one."""
    binary = operator_binary()
    if not binary.exists():
        pytest.skip(f"{binary} is not built (scripts/test builds it before this suite)")
    ns = release_ns()
    objects = manifest_objects(fresh.install(ns, ns, {"runner": JOB_DEFAULTS}, crds=True))
    env = env_of(objects)
    app_ns = "jd-" + uuid.uuid4().hex[:6]
    fresh.kubectl("apply", "--validate=false", "-f", "-", stdin=f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {app_ns}\n")
    policy = yaml.safe_load((CHART.parents[1] / "examples" / "webshop-hourly.yaml").read_text())
    policy["metadata"]["namespace"] = app_ns
    policy["spec"]["jobTemplate"].pop("resources")  # the chart's apply
    policy["spec"]["jobTemplate"]["nodeSelector"] = {"own": "pool"}  # the policy's wins
    policy["spec"]["runNow"] = "now-1"
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(policy))
    fresh.kubectl("apply", "--validate=false", "-f", str(tmp_path / "policy.yaml"))
    port = free_port()
    env.update(
        TIDEMARK_METRICS_ADDR=f"127.0.0.1:{port}",
        TIDEMARK_WATCH_NAMESPACES=app_ns,
        POD_NAMESPACE=ns,
        POD_NAME="tidemark-jd-0",
        KUBECONFIG=str(fresh.kubeconfig),
        PATH=os.environ["PATH"],
    )
    log = tmp_path / "operator.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([binary, "run"], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        jobs: list[dict[str, Any]] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not jobs:
            assert proc.poll() is None, f"the operator exited ({proc.returncode}): {log.read_text()[-2000:]}"
            jobs = [j for j in fresh.get("jobs", "-n", app_ns)["items"] if j["metadata"]["labels"].get("tidemark.dev/run-kind") == "backup"]
            time.sleep(0.3)
        assert jobs, f"no backup Job; log: {log.read_text()[-2000:]}"
        pod = jobs[0]["spec"]["template"]["spec"]
        assert pod["imagePullSecrets"] == JOB_DEFAULTS["imagePullSecrets"]
        assert pod["tolerations"] == JOB_DEFAULTS["tolerations"]
        assert pod["containers"][0]["resources"] == JOB_DEFAULTS["resources"]
        assert pod["nodeSelector"] == {"own": "pool"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        fresh.uninstall(ns, ns)
        delete_crds(fresh)
