"""Deletion: finalizers and deletionTimestamp, owner references and garbage collection, cascades."""

from __future__ import annotations

import time

from helpers import configmap


def _wait_gone(standin, path, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if standin.get(path).status_code == 404:
            return True
        time.sleep(0.02)
    return False


def test_delete_without_finalizers_removes_the_object(standin, ns):
    path = f"/api/v1/namespaces/{ns}/configmaps"
    standin.post(path, configmap("a"))
    response = standin.delete(f"{path}/a")
    assert response.status_code == 200
    assert response.json()["metadata"]["name"] == "a"
    assert standin.get(f"{path}/a").status_code == 404
    assert standin.delete(f"{path}/a").json()["reason"] == "NotFound"


def test_delete_with_finalizers_sets_deletion_timestamp_and_keeps_the_object(standin, ns):
    path = f"/api/v1/namespaces/{ns}/configmaps"
    body = configmap("a")
    body["metadata"]["finalizers"] = ["tidemark.dev/cleanup", "other/one"]
    standin.post(path, body)
    deleted = standin.delete(f"{path}/a").json()
    assert deleted["metadata"]["deletionTimestamp"]
    again = standin.delete(f"{path}/a").json()
    assert again["metadata"]["resourceVersion"] == deleted["metadata"]["resourceVersion"]
    standin.patch(f"{path}/a", {"metadata": {"finalizers": ["other/one"]}})
    assert standin.get(f"{path}/a").status_code == 200


def test_removing_the_last_finalizer_deletes_the_object(standin, ns):
    path = f"/api/v1/namespaces/{ns}/configmaps"
    body = configmap("a")
    body["metadata"]["finalizers"] = ["tidemark.dev/cleanup"]
    standin.post(path, body)
    standin.delete(f"{path}/a")
    ops = [{"op": "remove", "path": "/metadata/finalizers"}]
    response = standin.patch(f"{path}/a", ops, content_type="application/json-patch+json")
    assert response.status_code == 200
    assert standin.get(f"{path}/a").status_code == 404


def test_owner_references_are_kept_and_dependents_are_garbage_collected(standin, ns):
    jobs = f"/apis/batch/v1/namespaces/{ns}/jobs"
    job = standin.post(jobs, {"metadata": {"name": "j"}, "spec": {"template": {"spec": {"containers": []}}}}).json()
    owner = {"apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": job["metadata"]["uid"],
             "controller": True, "blockOwnerDeletion": True}
    pods = f"/api/v1/namespaces/{ns}/pods"
    pod = standin.post(pods, {"metadata": {"name": "j-1", "ownerReferences": [owner]}, "spec": {"containers": []}}).json()
    assert pod["metadata"]["ownerReferences"] == [owner]
    standin.delete(f"{jobs}/j", {"propagationPolicy": "Background"})
    assert _wait_gone(standin, f"{pods}/j-1")


def test_a_dependent_with_another_living_owner_survives(standin, ns):
    cms = f"/api/v1/namespaces/{ns}/configmaps"
    a = standin.post(cms, configmap("owner-a")).json()
    b = standin.post(cms, configmap("owner-b")).json()
    refs = [{"apiVersion": "v1", "kind": "ConfigMap", "name": o["metadata"]["name"], "uid": o["metadata"]["uid"]}
            for o in (a, b)]
    standin.post(cms, {"metadata": {"name": "dep", "ownerReferences": refs}})
    standin.delete(f"{cms}/owner-a")
    time.sleep(0.1)
    assert standin.get(f"{cms}/dep").status_code == 200


def test_orphan_propagation_keeps_dependents_and_drops_the_owner_reference(standin, ns):
    cms = f"/api/v1/namespaces/{ns}/configmaps"
    owner = standin.post(cms, configmap("owner")).json()
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
    standin.post(cms, {"metadata": {"name": "dep", "ownerReferences": [ref]}})
    standin.delete(f"{cms}/owner?propagationPolicy=Orphan")
    time.sleep(0.1)
    dep = standin.get(f"{cms}/dep").json()
    assert dep["metadata"].get("ownerReferences") in (None, [])


def test_a_dependent_with_finalizers_is_only_marked_for_deletion(standin, ns):
    cms = f"/api/v1/namespaces/{ns}/configmaps"
    owner = standin.post(cms, configmap("owner")).json()
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
    standin.post(cms, {"metadata": {"name": "dep", "ownerReferences": [ref], "finalizers": ["x/y"]}})
    standin.delete(f"{cms}/owner")
    deadline = time.monotonic() + 5
    while not standin.get(f"{cms}/dep").json()["metadata"].get("deletionTimestamp"):
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_deleting_a_namespace_deletes_its_objects(standin, ns):
    standin.post(f"/api/v1/namespaces/{ns}/configmaps", configmap("a"))
    standin.delete(f"/api/v1/namespaces/{ns}")
    assert _wait_gone(standin, f"/api/v1/namespaces/{ns}/configmaps/a")


def test_delete_preconditions_are_checked(standin, ns):
    path = f"/api/v1/namespaces/{ns}/configmaps"
    standin.post(path, configmap("a"))
    response = standin.delete(f"{path}/a", {"preconditions": {"uid": "not-the-uid"}})
    assert (response.status_code, response.json()["reason"]) == (409, "Conflict")


def test_delete_collection_honours_the_label_selector(standin, ns):
    path = f"/api/v1/namespaces/{ns}/configmaps"
    for name, tier in (("a", "x"), ("b", "x"), ("c", "y")):
        body = configmap(name)
        body["metadata"]["labels"] = {"tier": tier}
        standin.post(path, body)
    standin.delete(f"{path}?labelSelector=tier%3Dx")
    names = [o["metadata"]["name"] for o in standin.get(path).json()["items"]]
    assert names == ["c"]


def test_an_object_created_with_only_missing_owners_is_garbage_collected(standin, ns):
    cms = f"/api/v1/namespaces/{ns}/configmaps"
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost", "uid": "00000000-0000-0000-0000-000000000000"}
    assert standin.post(cms, {"metadata": {"name": "orphan", "ownerReferences": [ref]}}).status_code == 201
    assert _wait_gone(standin, f"{cms}/orphan")
