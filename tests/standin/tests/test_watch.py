"""Watches: from a resourceVersion, timeouts, BOOKMARKs, 410 Expired, selector transitions."""

from __future__ import annotations

import threading
import time

from helpers import configmap


def test_a_watch_from_a_resource_version_replays_later_changes_in_order(standin, ns):
    path = f"/api/v1/namespaces/{ns}/configmaps"
    start = standin.get(path).json()["metadata"]["resourceVersion"]
    standin.post(path, configmap("a"))
    standin.patch(f"{path}/a", {"data": {"x": "1"}})
    standin.delete(f"{path}/a")
    events = list(standin.watch(path, resourceVersion=start, timeoutSeconds=1))
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs) and rvs[0] > int(start)


def test_a_watch_without_resource_version_starts_with_the_current_objects(standin, ns):
    path = f"/api/v1/namespaces/{ns}/configmaps"
    standin.post(path, configmap("a"))
    standin.post(path, configmap("b"))
    events = list(standin.watch(path, timeoutSeconds=1))
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "a"), ("ADDED", "b")]


def test_a_watch_delivers_live_events(standin, ns):
    path = f"/api/v1/namespaces/{ns}/configmaps"
    rv = standin.get(path).json()["metadata"]["resourceVersion"]

    def later():
        time.sleep(0.3)
        standin.post(path, configmap("live"))

    threading.Thread(target=later).start()
    started = time.monotonic()
    for event in standin.watch(path, resourceVersion=rv, timeoutSeconds=5):
        assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "live")
        break
    assert time.monotonic() - started < 2


def test_a_watch_ends_after_timeout_seconds(standin, ns):
    started = time.monotonic()
    events = list(standin.watch(f"/api/v1/namespaces/{ns}/secrets", resourceVersion="1", timeoutSeconds=1))
    assert 0.9 < time.monotonic() - started < 3
    assert all(e["type"] != "ERROR" for e in events)


def test_watch_bookmarks_carry_the_latest_resource_version(standin, ns):
    path = f"/api/v1/namespaces/{ns}/configmaps"
    standin.post(path, configmap("a"))
    rv = standin.get(path).json()["metadata"]["resourceVersion"]
    events = list(standin.watch(path, resourceVersion=rv, timeoutSeconds=1.2, allowWatchBookmarks="true"))
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert bookmarks, events
    obj = bookmarks[-1]["object"]
    assert (obj["kind"], obj["apiVersion"]) == ("ConfigMap", "v1")
    assert int(obj["metadata"]["resourceVersion"]) >= int(rv)


def test_a_too_old_resource_version_gets_a_410_expired_error_event(make_standin):
    server = make_standin("--history-size", "3")
    path = "/api/v1/namespaces/default/configmaps"
    first = server.post(path, configmap("a")).json()["metadata"]["resourceVersion"]
    for i in range(5):
        server.patch(f"{path}/a", {"data": {"i": str(i)}})
    events = list(server.watch(path, resourceVersion=first, timeoutSeconds=5))
    assert len(events) == 1
    assert events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")


def test_a_label_selected_watch_sees_objects_enter_and_leave_the_selection(standin, ns):
    path = f"/api/v1/namespaces/{ns}/configmaps"
    rv = standin.get(path).json()["metadata"]["resourceVersion"]
    standin.post(path, configmap("a"))
    standin.patch(f"{path}/a", {"metadata": {"labels": {"pick": "me"}}})
    standin.patch(f"{path}/a", {"data": {"x": "1"}})
    standin.patch(f"{path}/a", {"metadata": {"labels": {"pick": None}}})
    events = list(standin.watch(path, resourceVersion=rv, timeoutSeconds=1, labelSelector="pick=me"))
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]


def test_a_field_selected_watch_follows_one_object(standin, ns):
    path = f"/api/v1/namespaces/{ns}/configmaps"
    rv = standin.get(path).json()["metadata"]["resourceVersion"]
    standin.post(path, configmap("a"))
    standin.post(path, configmap("b"))
    events = list(standin.watch(path, resourceVersion=rv, timeoutSeconds=1, fieldSelector="metadata.name=b"))
    assert [e["object"]["metadata"]["name"] for e in events] == ["b"]


def test_send_initial_events_ends_with_an_annotated_bookmark(standin, ns):
    path = f"/api/v1/namespaces/{ns}/configmaps"
    standin.post(path, configmap("a"))
    events = list(standin.watch(path, timeoutSeconds=1, sendInitialEvents="true", allowWatchBookmarks="true",
                                resourceVersionMatch="NotOlderThan"))
    assert events[0]["type"] == "ADDED"
    assert events[1]["type"] == "BOOKMARK"
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
