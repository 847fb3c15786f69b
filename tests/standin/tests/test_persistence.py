"""--state-dir: a restarted stand-in keeps its objects, CRDs and resourceVersion counter."""

from __future__ import annotations

from helpers import BP_PATH, backup_policy, configmap, ensure_crd


def test_a_restarted_server_with_the_same_state_dir_keeps_objects_and_crds(make_standin, tmp_path):
    first = make_standin(state_dir=tmp_path)
    ensure_crd(first)
    policy = first.post(f"{BP_PATH}/namespaces/default/backuppolicies", backup_policy("kept")).json()
    cm = first.post("/api/v1/namespaces/default/configmaps", configmap("kept")).json()
    first.stop()
    second = make_standin(state_dir=tmp_path)
    again = second.get(f"{BP_PATH}/namespaces/default/backuppolicies/kept").json()
    assert again["metadata"]["uid"] == policy["metadata"]["uid"]
    assert second.get("/api/v1/namespaces/default/configmaps/kept").json()["metadata"]["uid"] == cm["metadata"]["uid"]
    newer = second.post("/api/v1/namespaces/default/configmaps", configmap("new")).json()
    assert int(newer["metadata"]["resourceVersion"]) > int(cm["metadata"]["resourceVersion"])
