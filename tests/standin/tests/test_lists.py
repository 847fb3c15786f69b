"""Lists: kind, apiVersion, resourceVersion, label and field selectors, paging."""

from __future__ import annotations

import urllib.parse

from helpers import configmap


def _labelled(standin, ns):
    path = f"/api/v1/namespaces/{ns}/configmaps"
    for name, labels in {"a": {"tier": "db", "env": "prod"}, "b": {"tier": "web", "env": "prod"},
                         "c": {"tier": "cache"}, "d": {}}.items():
        body = configmap(name)
        body["metadata"]["labels"] = labels
        standin.post(path, body)
    return path


def _names(standin, path, **params):
    query = urllib.parse.urlencode(params)
    response = standin.get(f"{path}?{query}")
    assert response.status_code == 200, response.text
    return [o["metadata"]["name"] for o in response.json()["items"]]


def test_a_list_has_kind_api_version_and_the_current_resource_version(standin, ns):
    path = f"/apis/batch/v1/namespaces/{ns}/jobs"
    created = standin.post(path, {"metadata": {"name": "j"}, "spec": {"template": {"spec": {}}}}).json()
    listed = standin.get(path).json()
    assert (listed["kind"], listed["apiVersion"]) == ("JobList", "batch/v1")
    assert int(listed["metadata"]["resourceVersion"]) >= int(created["metadata"]["resourceVersion"])
    assert [i["kind"] for i in listed["items"]] == ["Job"]


def test_label_selectors_support_equality_inequality_sets_and_existence(standin, ns):
    path = _labelled(standin, ns)
    assert _names(standin, path, labelSelector="tier=db") == ["a"]
    assert _names(standin, path, labelSelector="tier==db") == ["a"]
    assert _names(standin, path, labelSelector="tier!=db") == ["b", "c", "d"]
    assert _names(standin, path, labelSelector="tier in (db,web)") == ["a", "b"]
    assert _names(standin, path, labelSelector="tier notin (db,web)") == ["c", "d"]
    assert _names(standin, path, labelSelector="env") == ["a", "b"]
    assert _names(standin, path, labelSelector="!env") == ["c", "d"]
    assert _names(standin, path, labelSelector="env=prod,tier in (web)") == ["b"]


def test_label_selectors_follow_label_changes_deletions_and_namespaces(standin, ns):
    path = _labelled(standin, ns)
    standin.patch(f"{path}/c", {"metadata": {"labels": {"tier": "db"}}})
    standin.patch(f"{path}/a", {"metadata": {"labels": {"tier": None, "env": "dev"}}})
    standin.put(f"{path}/d", dict(configmap("d"), metadata={"name": "d", "labels": {"tier": "db", "env": "prod"}}))
    standin.delete(f"{path}/b")
    assert _names(standin, path, labelSelector="tier=db") == ["c", "d"]
    assert _names(standin, path, labelSelector="tier=db,env=prod") == ["d"]
    assert _names(standin, path, labelSelector="env in (dev)") == ["a"]
    assert _names(standin, path, labelSelector="tier=web") == []
    other = f"{ns}-other"
    standin.post("/api/v1/namespaces", {"metadata": {"name": other}})
    standin.post(f"/api/v1/namespaces/{other}/configmaps",
                 dict(configmap("a"), metadata={"name": "a", "labels": {"tier": "db"}}))
    assert _names(standin, path, labelSelector="tier=db") == ["c", "d"]
    everywhere = [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in standin.get(
        "/api/v1/configmaps?" + urllib.parse.urlencode({"labelSelector": "tier=db"})).json()["items"]
        if o["metadata"]["namespace"] in (ns, other)]
    assert everywhere == [(ns, "c"), (ns, "d"), (other, "a")]


def test_field_selectors_match_name_namespace_and_pod_phase(standin, ns):
    path = _labelled(standin, ns)
    assert _names(standin, path, fieldSelector="metadata.name=c") == ["c"]
    assert _names(standin, path, fieldSelector="metadata.name!=c") == ["a", "b", "d"]
    assert _names(standin, "/api/v1/configmaps", fieldSelector=f"metadata.namespace={ns}") == ["a", "b", "c", "d"]
    pods = f"/api/v1/namespaces/{ns}/pods"
    for name in ("p1", "p2"):
        standin.post(pods, {"metadata": {"name": name}, "spec": {"containers": []}})
    standin.patch(f"{pods}/p2/status", {"status": {"phase": "Running"}})
    assert _names(standin, pods, fieldSelector="status.phase=Running") == ["p2"]
    assert _names(standin, pods, fieldSelector="status.phase!=Running") == ["p1"]


def test_a_malformed_label_selector_is_a_bad_request(standin, ns):
    response = standin.get(f"/api/v1/namespaces/{ns}/configmaps?labelSelector=a%20in%20b")
    assert response.status_code == 400


def test_listing_across_namespaces_returns_all_namespaces(standin, ns):
    standin.post(f"/api/v1/namespaces/{ns}/configmaps", configmap("here"))
    names = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in standin.get("/api/v1/configmaps").json()["items"]}
    assert (ns, "here") in names


def test_limit_and_continue_page_through_a_list(standin, ns):
    path = f"/api/v1/namespaces/{ns}/configmaps"
    for i in range(5):
        standin.post(path, configmap(f"cm-{i}"))
    first = standin.get(f"{path}?limit=2").json()
    assert len(first["items"]) == 2 and first["metadata"]["remainingItemCount"] == 3
    seen = [o["metadata"]["name"] for o in first["items"]]
    token = first["metadata"]["continue"]
    while token:
        page = standin.get(f"{path}?limit=2&continue={urllib.parse.quote(token)}").json()
        assert page["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
        seen += [o["metadata"]["name"] for o in page["items"]]
        token = page["metadata"].get("continue")
    assert seen == [f"cm-{i}" for i in range(5)]
