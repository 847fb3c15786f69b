"""Patches: merge, strategic merge (as kubectl sends it), JSON patch, server-side apply."""

from __future__ import annotations

import json

from helpers import configmap


def test_merge_patch_merges_objects_and_null_deletes(standin, ns):
    path = f"/api/v1/namespaces/{ns}/configmaps"
    standin.post(path, configmap("a", x="1", y="2"))
    patched = standin.patch(f"{path}/a", {"data": {"x": "9", "y": None, "z": "3"}}).json()
    assert patched["data"] == {"x": "9", "z": "3"}


def test_strategic_merge_patch_merges_containers_by_name(standin, ns):
    path = f"/apis/apps/v1/namespaces/{ns}/deployments"
    body = {"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
        "metadata": {"labels": {"a": "b"}},
        "spec": {"containers": [{"name": "one", "image": "i1"}, {"name": "two", "image": "i2"}]}}}}
    standin.post(path, body)
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "one"}, {"name": "two"}],
        "containers": [{"name": "two", "image": "i2-new"}]}}}}
    patched = standin.patch(f"{path}/d", patch, content_type="application/strategic-merge-patch+json").json()
    containers = patched["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("one", "i1"), ("two", "i2-new")]


def test_json_patch_applies_operations_in_order(standin, ns):
    path = f"/api/v1/namespaces/{ns}/configmaps"
    standin.post(path, configmap("a", x="1"))
    ops = [{"op": "test", "path": "/data/x", "value": "1"}, {"op": "add", "path": "/data/y", "value": "2"},
           {"op": "remove", "path": "/data/x"}, {"op": "add", "path": "/metadata/labels", "value": {"k": "v"}}]
    patched = standin.patch(f"{path}/a", ops, content_type="application/json-patch+json").json()
    assert patched["data"] == {"y": "2"}
    assert patched["metadata"]["labels"] == {"k": "v"}


def test_a_failed_json_patch_test_operation_is_422_and_changes_nothing(standin, ns):
    path = f"/api/v1/namespaces/{ns}/configmaps"
    before = standin.post(path, configmap("a", x="1")).json()
    ops = [{"op": "replace", "path": "/data/x", "value": "2"}, {"op": "test", "path": "/data/x", "value": "1"}]
    response = standin.patch(f"{path}/a", ops, content_type="application/json-patch+json")
    assert response.status_code == 422
    assert response.json()["reason"] == "Invalid"
    assert standin.get(f"{path}/a").json() == before


def test_a_merge_patch_with_a_stale_resource_version_conflicts(standin, ns):
    path = f"/api/v1/namespaces/{ns}/configmaps"
    created = standin.post(path, configmap("a", x="1")).json()
    standin.patch(f"{path}/a", {"data": {"x": "2"}})
    stale = {"metadata": {"resourceVersion": created["metadata"]["resourceVersion"]}, "data": {"x": "3"}}
    response = standin.patch(f"{path}/a", stale)
    assert (response.status_code, response.json()["reason"]) == (409, "Conflict")


def test_an_unknown_patch_content_type_is_415(standin, ns):
    path = f"/api/v1/namespaces/{ns}/configmaps"
    standin.post(path, configmap("a"))
    response = standin.patch(f"{path}/a", {"data": {}}, content_type="text/plain")
    assert response.status_code == 415


def test_patching_a_missing_object_is_not_found(standin, ns):
    response = standin.patch(f"/api/v1/namespaces/{ns}/configmaps/nope", {"data": {}})
    assert (response.status_code, response.json()["reason"]) == (404, "NotFound")


def test_server_side_apply_creates_a_missing_object_and_records_the_field_manager(standin, ns):
    path = f"/api/v1/namespaces/{ns}/configmaps/applied?fieldManager=tidemark&force=true"
    yaml_body = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: '1'\n"
    response = standin.patch(path, yaml_body, content_type="application/apply-patch+yaml")
    assert response.status_code == 201
    created = response.json()
    assert created["data"] == {"a": "1"}
    assert created["metadata"]["managedFields"][0]["manager"] == "tidemark"
    assert created["metadata"]["managedFields"][0]["operation"] == "Apply"


def test_server_side_apply_merges_into_an_existing_object(standin, ns):
    base = f"/api/v1/namespaces/{ns}/configmaps"
    standin.post(base, configmap("a", keep="1"))
    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"new": "2"}})
    response = standin.patch(f"{base}/a?fieldManager=tidemark", body, content_type="application/apply-patch+yaml")
    assert response.status_code == 200
    assert response.json()["data"] == {"keep": "1", "new": "2"}


def test_server_side_apply_without_field_manager_is_a_bad_request(standin, ns):
    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}})
    response = standin.patch(f"/api/v1/namespaces/{ns}/configmaps/a", body, content_type="application/apply-patch+yaml")
    assert (response.status_code, response.json()["reason"]) == (400, "BadRequest")


def test_repeating_the_same_server_side_apply_is_a_no_op(standin, ns):
    path = f"/api/v1/namespaces/{ns}/configmaps/a?fieldManager=tidemark"
    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"x": "1"}})
    first = standin.patch(path, body, content_type="application/apply-patch+yaml").json()
    second = standin.patch(path, body, content_type="application/apply-patch+yaml").json()
    assert first["metadata"]["resourceVersion"] == second["metadata"]["resourceVersion"]
