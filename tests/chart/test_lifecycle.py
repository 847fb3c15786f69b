"""The chart's life cycle with real Helm on a stand-in of its own: CRDs that `helm upgrade`
delivers and `helm uninstall` keeps, installing as a subchart with `global` values,
`--reuse-values` upgrades that keep the operator and runner images in step, name
overrides, the PodDisruptionBudget and the kubeVersion constraint."""

from __future__ import annotations

import pathlib
import shutil
import uuid
from collections.abc import Iterator
from typing import Any

import helm_sdkpy
import pytest
import yaml

from conftest import CHART, Cluster, manifest_objects, start_cluster

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
