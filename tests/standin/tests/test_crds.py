"""CRDs: Established in discovery, served at once, defaults, deletion of the CRD."""

from __future__ import annotations

import time

from helpers import BP_PATH, backup_policy, ensure_crd, load_fixture

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def test_a_created_crd_is_established_and_names_accepted(standin):
    ensure_crd(standin)
    crd = standin.get(f"{CRDS}/backuppolicies.tidemark.dev").json()
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions == {"Established": "True", "NamesAccepted": "True"}
    assert crd["status"]["acceptedNames"]["shortNames"] == ["bp"]
    assert crd["status"]["storedVersions"] == ["v1alpha1"]


def test_a_created_crd_appears_in_discovery_with_short_names_and_categories(standin):
    ensure_crd(standin)
    groups = standin.get("/apis").json()
    group = next(g for g in groups["groups"] if g["name"] == "tidemark.dev")
    assert group["preferredVersion"]["version"] == "v1alpha1"
    resources = standin.get("/apis/tidemark.dev/v1alpha1").json()
    assert resources["kind"] == "APIResourceList"
    by_name = {r["name"]: r for r in resources["resources"]}
    assert by_name["backuppolicies"]["kind"] == "BackupPolicy"
    assert by_name["backuppolicies"]["shortNames"] == ["bp"]
    assert by_name["backuppolicies"]["categories"] == ["tidemark"]
    assert by_name["backuppolicies"]["namespaced"] is True
    assert "watch" in by_name["backuppolicies"]["verbs"]
    assert "backuppolicies/status" in by_name
    assert standin.get("/apis/tidemark.dev").json()["kind"] == "APIGroup"


def test_custom_objects_get_schema_defaults(standin, ns):
    ensure_crd(standin)
    created = standin.post(f"{BP_PATH}/namespaces/{ns}/backuppolicies", backup_policy("p")).json()
    assert created["spec"]["suspend"] is False
    assert created["spec"]["retention"] == {"hourly": 24}


def test_a_crd_with_a_wrong_name_is_invalid(standin):
    crd = load_fixture("backuppolicy-crd.yaml")
    crd["metadata"]["name"] = "wrong.tidemark.dev"
    response = standin.post(CRDS, crd)
    assert (response.status_code, response.json()["reason"]) == (422, "Invalid")


def test_deleting_a_crd_removes_the_resource_and_its_objects(make_standin):
    server = make_standin()
    crd = load_fixture("backuppolicy-crd.yaml")
    assert server.post(CRDS, crd).status_code == 201
    path = f"{BP_PATH}/namespaces/default/backuppolicies"
    assert server.post(path, backup_policy("p")).status_code == 201
    assert server.delete(f"{CRDS}/backuppolicies.tidemark.dev").status_code == 200
    time.sleep(0.1)
    assert server.get(path).status_code == 404
    assert server.get("/apis/tidemark.dev/v1alpha1").status_code == 404
    assert server.post(CRDS, crd).status_code == 201
    assert server.get(path).json()["items"] == []


def test_discovery_version_health_and_openapi_endpoints_answer(standin):
    assert standin.get("/version").json()["major"] == "1"
    for path in ("/healthz", "/readyz", "/livez"):
        assert standin.get(path).text == "ok"
    assert standin.get("/api").json()["versions"] == ["v1"]
    core = {r["name"] for r in standin.get("/api/v1").json()["resources"]}
    assert {"pods", "pods/status", "secrets", "configmaps", "namespaces", "events", "serviceaccounts"} <= core
    apps = {r["name"] for r in standin.get("/apis/apps/v1").json()["resources"]}
    assert {"deployments", "deployments/scale", "statefulsets", "statefulsets/scale"} <= apps
    assert standin.get("/openapi/v2").status_code == 200
    assert standin.get("/openapi/v3").status_code == 200


def test_a_table_is_served_when_kubectl_asks_for_one(standin, ns):
    ensure_crd(standin)
    standin.post(f"{BP_PATH}/namespaces/{ns}/backuppolicies", backup_policy("p", "5 * * * *"))
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    table = standin.get(f"{BP_PATH}/namespaces/{ns}/backuppolicies", headers={"Accept": accept}).json()
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Schedule", "Ready", "Age"]
    assert table["rows"][0]["cells"][:3] == ["p", "5 * * * *", "<none>"]


def test_fields_the_schema_does_not_declare_are_pruned_on_every_write(standin, ns):
    ensure_crd(standin)
    path = f"{BP_PATH}/namespaces/{ns}/backuppolicies"
    policy = backup_policy("typo")
    policy["spec"]["retenton"] = {"hourly": 3}  # misspelt: dropped, the default applies
    policy["spec"]["retention"] = {"hourly": 5, "minutely": 60}
    created = standin.post(path, policy).json()
    assert "retenton" not in created["spec"]
    assert created["spec"]["retention"] == {"hourly": 5}
    assert created["metadata"]["name"] == "typo"

    patched = standin.patch(f"{path}/typo", {"spec": {"schedul": "@daily"}},
                            headers={"Content-Type": "application/merge-patch+json"}).json()
    assert "schedul" not in patched["spec"]
    # The status schema preserves unknown fields: kept.
    status = standin.patch(f"{path}/typo/status", {"status": {"anything": {"x": 1}}},
                           headers={"Content-Type": "application/merge-patch+json"}).json()
    assert status["status"]["anything"] == {"x": 1}
