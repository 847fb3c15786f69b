"""The status subresource is kept apart from the main resource both ways; the scale subresource."""

from __future__ import annotations

from helpers import BP_PATH, backup_policy, ensure_crd


def _policy(standin, ns):
    ensure_crd(standin)
    path = f"{BP_PATH}/namespaces/{ns}/backuppolicies"
    created = standin.post(path, backup_policy("p"))
    assert created.status_code == 201, created.text
    return f"{path}/p"


def test_writes_to_the_main_resource_ignore_status(standin, ns):
    path = _policy(standin, ns)
    patched = standin.patch(path, {"spec": {"schedule": "5 * * * *"}, "status": {"phase": "Hacked"}}).json()
    assert patched["spec"]["schedule"] == "5 * * * *"
    assert "status" not in patched
    current = standin.get(path).json()
    current["status"] = {"phase": "Hacked"}
    assert "status" not in standin.put(path, current).json()


def test_writes_to_the_status_subresource_change_only_status(standin, ns):
    path = _policy(standin, ns)
    body = {"spec": {"schedule": "changed"}, "metadata": {"labels": {"x": "y"}}, "status": {"phase": "Ready"}}
    patched = standin.patch(f"{path}/status", body).json()
    assert patched["status"] == {"phase": "Ready"}
    assert patched["spec"]["schedule"] == "0 * * * *"
    assert "labels" not in patched["metadata"]
    assert patched["metadata"]["generation"] == 1
    current = standin.get(f"{path}/status").json()
    current["status"]["phase"] = "Again"
    current["spec"]["schedule"] = "changed"
    replaced = standin.put(f"{path}/status", current).json()
    assert (replaced["status"]["phase"], replaced["spec"]["schedule"]) == ("Again", "0 * * * *")


def test_a_status_write_keeps_the_status_across_later_spec_writes(standin, ns):
    path = _policy(standin, ns)
    standin.patch(f"{path}/status", {"status": {"phase": "Ready"}})
    after = standin.patch(path, {"spec": {"schedule": "1 * * * *"}}).json()
    assert after["status"] == {"phase": "Ready"}
    assert after["metadata"]["generation"] == 2


def test_builtin_kinds_with_status_keep_status_apart_too(standin, ns):
    path = f"/apis/batch/v1/namespaces/{ns}/jobs"
    standin.post(path, {"metadata": {"name": "j"}, "spec": {"template": {"spec": {"containers": []}}}})
    standin.patch(f"{path}/j/status", {"status": {"active": 1}})
    after = standin.patch(f"{path}/j", {"metadata": {"labels": {"a": "b"}}, "status": {"active": 7}}).json()
    assert after["status"] == {"active": 1}


def test_kinds_without_a_status_subresource_take_status_in_main_writes(standin, ns):
    ensure_crd(standin)
    crd_path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    crd = {"metadata": {"name": "plains.example.com"}, "spec": {
        "group": "example.com", "scope": "Namespaced",
        "names": {"plural": "plains", "singular": "plain", "kind": "Plain"},
        "versions": [{"name": "v1", "served": True, "storage": True,
                      "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}
    assert standin.post(crd_path, crd).status_code in (201, 409)
    path = f"/apis/example.com/v1/namespaces/{ns}/plains"
    created = standin.post(path, {"metadata": {"name": "x"}, "status": {"a": 1}}).json()
    assert created["status"] == {"a": 1}
    assert standin.get(f"{path}/x/status").status_code == 404


def test_the_scale_subresource_reads_and_writes_replicas(standin, ns):
    path = f"/apis/apps/v1/namespaces/{ns}/statefulsets"
    standin.post(path, {"metadata": {"name": "db"}, "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "db"}}}})
    scale = standin.get(f"{path}/db/scale").json()
    assert (scale["kind"], scale["spec"]["replicas"]) == ("Scale", 2)
    assert scale["status"]["selector"] == "app=db"
    patched = standin.patch(f"{path}/db/scale", {"spec": {"replicas": 0}}).json()
    assert patched["spec"]["replicas"] == 0
    assert standin.get(f"{path}/db").json()["spec"]["replicas"] == 0
    scale = standin.get(f"{path}/db/scale").json()
    scale["spec"]["replicas"] = 1
    assert standin.put(f"{path}/db/scale", scale).json()["spec"]["replicas"] == 1
