"""Objects: server-set metadata, generation, optimistic concurrency, PUT, errors, scopes."""

from __future__ import annotations

from helpers import configmap


def test_create_sets_uid_resource_version_generation_and_creation_timestamp(standin, ns):
    response = standin.post(f"/api/v1/namespaces/{ns}/configmaps", configmap("a", x="1"))
    assert response.status_code == 201
    meta = response.json()["metadata"]
    assert len(meta["uid"]) == 36
    assert int(meta["resourceVersion"]) > 0
    assert meta["generation"] == 1
    assert meta["creationTimestamp"].endswith("Z")
    assert meta["namespace"] == ns


def test_resource_versions_increase_globally_across_kinds(standin, ns):
    a = standin.post(f"/api/v1/namespaces/{ns}/configmaps", configmap("a")).json()
    b = standin.post(f"/api/v1/namespaces/{ns}/secrets", {"metadata": {"name": "b"}}).json()
    c = standin.patch(f"/api/v1/namespaces/{ns}/configmaps/a", {"data": {"y": "2"}}).json()
    rvs = [int(o["metadata"]["resourceVersion"]) for o in (a, b, c)]
    assert rvs == sorted(rvs) and len(set(rvs)) == 3


def test_client_sent_uid_and_timestamps_are_ignored(standin, ns):
    body = configmap("a")
    body["metadata"].update(uid="mine", creationTimestamp="2000-01-01T00:00:00Z", resourceVersion="999999")
    meta = standin.post(f"/api/v1/namespaces/{ns}/configmaps", body).json()["metadata"]
    assert meta["uid"] != "mine"
    assert meta["creationTimestamp"] != "2000-01-01T00:00:00Z"


def test_generate_name_produces_a_unique_name(standin, ns):
    body = {"metadata": {"generateName": "job-"}, "data": {}}
    first = standin.post(f"/api/v1/namespaces/{ns}/configmaps", body).json()["metadata"]["name"]
    second = standin.post(f"/api/v1/namespaces/{ns}/configmaps", body).json()["metadata"]["name"]
    assert first.startswith("job-") and second.startswith("job-") and first != second


def test_generation_bumps_on_spec_changes_only(standin, ns):
    path = f"/apis/apps/v1/namespaces/{ns}/deployments"
    body = {"metadata": {"name": "d"}, "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                                                  "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": []}}}}
    assert standin.post(path, body).json()["metadata"]["generation"] == 1
    labelled = standin.patch(f"{path}/d", {"metadata": {"labels": {"x": "y"}}}).json()
    assert labelled["metadata"]["generation"] == 1
    status = standin.patch(f"{path}/d/status", {"status": {"replicas": 1}}).json()
    assert status["metadata"]["generation"] == 1
    scaled = standin.patch(f"{path}/d", {"spec": {"replicas": 3}}).json()
    assert scaled["metadata"]["generation"] == 2


def test_a_stale_resource_version_on_put_is_a_409_conflict(standin, ns):
    path = f"/api/v1/namespaces/{ns}/configmaps"
    created = standin.post(path, configmap("a", x="1")).json()
    standin.patch(f"{path}/a", {"data": {"x": "2"}})
    created["data"]["x"] = "3"
    response = standin.put(f"{path}/a", created)
    assert response.status_code == 409
    assert response.json()["reason"] == "Conflict"


def test_put_with_the_current_resource_version_replaces_the_object(standin, ns):
    path = f"/api/v1/namespaces/{ns}/configmaps"
    created = standin.post(path, configmap("a", x="1", y="2")).json()
    created["data"] = {"z": "3"}
    response = standin.put(f"{path}/a", created)
    assert response.status_code == 200
    assert response.json()["data"] == {"z": "3"}
    assert int(response.json()["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])


def test_put_of_a_missing_object_is_not_found(standin, ns):
    response = standin.put(f"/api/v1/namespaces/{ns}/configmaps/nope", configmap("nope"))
    assert response.status_code == 404
    assert response.json()["reason"] == "NotFound"


def test_a_no_op_write_keeps_the_resource_version(standin, ns):
    path = f"/api/v1/namespaces/{ns}/configmaps"
    created = standin.post(path, configmap("a", x="1")).json()
    same = standin.patch(f"{path}/a", {"data": {"x": "1"}}).json()
    assert same["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_errors_are_status_objects_with_standard_reasons(standin, ns):
    path = f"/api/v1/namespaces/{ns}/configmaps"
    missing = standin.get(f"{path}/nope")
    assert missing.status_code == 404
    assert missing.json() | {"details": None} == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'configmaps "nope" not found', "reason": "NotFound", "code": 404, "details": None,
    }
    standin.post(path, configmap("a"))
    exists = standin.post(path, configmap("a"))
    assert (exists.status_code, exists.json()["reason"]) == (409, "AlreadyExists")
    bad = standin.post(path, b"{not json")
    assert (bad.status_code, bad.json()["reason"]) == (400, "BadRequest")
    not_allowed = standin.post(f"{path}/a", configmap("a"))
    assert (not_allowed.status_code, not_allowed.json()["reason"]) == (405, "MethodNotAllowed")
    nameless = standin.post(path, {"metadata": {}})
    assert (nameless.status_code, nameless.json()["reason"]) == (422, "Invalid")


def test_an_unknown_resource_is_not_found_with_reason(standin):
    response = standin.get("/apis/example.com/v1/widgets")
    assert response.status_code == 404
    assert response.json()["reason"] == "NotFound"


def test_a_mismatched_namespace_in_the_body_is_a_bad_request(standin, ns):
    body = configmap("a")
    body["metadata"]["namespace"] = "elsewhere"
    response = standin.post(f"/api/v1/namespaces/{ns}/configmaps", body)
    assert (response.status_code, response.json()["reason"]) == (400, "BadRequest")


def test_cluster_scoped_objects_have_no_namespace(standin):
    body = {"metadata": {"name": "test-cluster-scoped", "namespace": "ignored"}}
    created = standin.post("/api/v1/namespaces", body).json()
    assert "namespace" not in created["metadata"]
    assert created["status"]["phase"] == "Active"
    assert standin.get("/api/v1/namespaces/test-cluster-scoped").status_code == 200


def test_core_apps_batch_coordination_and_events_kinds_are_served(standin, ns):
    paths = {
        f"/api/v1/namespaces/{ns}/secrets": {"metadata": {"name": "s"}, "stringData": {"a": "b"}},
        f"/api/v1/namespaces/{ns}/pods": {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}},
        f"/api/v1/namespaces/{ns}/events": {"metadata": {"name": "e"}, "involvedObject": {"kind": "Pod", "name": "p"}},
        f"/api/v1/namespaces/{ns}/serviceaccounts": {"metadata": {"name": "sa"}},
        f"/apis/apps/v1/namespaces/{ns}/statefulsets": {"metadata": {"name": "ss"}, "spec": {"replicas": 1}},
        f"/apis/batch/v1/namespaces/{ns}/jobs": {"metadata": {"name": "j"}, "spec": {"template": {"spec": {"containers": []}}}},
        f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases": {"metadata": {"name": "l"}, "spec": {"holderIdentity": "me"}},
        f"/apis/events.k8s.io/v1/namespaces/{ns}/events": {"metadata": {"name": "ev"}, "reason": "Test", "action": "A"},
    }
    for path, body in paths.items():
        response = standin.post(path, body)
        assert response.status_code == 201, (path, response.text)
        assert standin.get(f"{path}/{body['metadata']['name']}").status_code == 200


def test_a_new_pod_starts_pending_and_a_new_job_gets_its_selector_and_defaults(standin, ns):
    pod = standin.post(f"/api/v1/namespaces/{ns}/pods",
                       {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]},
                        "status": {"phase": "Running"}}).json()
    assert pod["status"]["phase"] == "Pending"
    job = standin.post(f"/apis/batch/v1/namespaces/{ns}/jobs",
                       {"metadata": {"name": "j"}, "spec": {"template": {"spec": {"containers": []}}}}).json()
    uid = job["metadata"]["uid"]
    assert job["spec"]["backoffLimit"] == 6
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert job["spec"]["template"]["metadata"]["labels"]["job-name"] == "j"
    assert "status" not in job or job["status"] in ({}, None)


def test_dry_run_writes_nothing(standin, ns):
    path = f"/api/v1/namespaces/{ns}/configmaps"
    response = standin.post(path + "?dryRun=All", configmap("a"))
    assert response.status_code == 201
    assert standin.get(f"{path}/a").status_code == 404


def test_secret_string_data_is_stored_as_base64_data(standin, ns):
    created = standin.post(f"/api/v1/namespaces/{ns}/secrets",
                           {"metadata": {"name": "s"}, "data": {"a": "eA=="}, "stringData": {"b": "pw"}}).json()
    assert created["data"] == {"a": "eA==", "b": "cHc="}
    assert "stringData" not in created and created["type"] == "Opaque"
