"""Deployments and StatefulSets, minimally: Pod objects (no processes) follow spec.replicas."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..meta import generated_name, now
from ..selectors import label_selector_from_object
from .client import ApiFailure, Client, collection_path

log = logging.getLogger("tidemark_standin.executor")
Obj = dict[str, Any]


class WorkloadController:
    """Keeps `replicas` Running Pods per Deployment/StatefulSet and writes their status."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._locks: dict[str, asyncio.Lock] = {}

    async def on_event(self, kind: str, obj: Obj) -> None:
        if kind == "DELETED":
            return  # the stand-in's garbage collector deletes the owned Pods
        uid = obj["metadata"]["uid"]
        lock = self._locks.setdefault(uid, asyncio.Lock())
        async with lock:
            try:
                await self._sync(obj)
            except ApiFailure as exc:
                log.warning("syncing %s failed: %s", obj["metadata"]["name"], exc)

    async def _sync(self, obj: Obj) -> None:
        meta = obj["metadata"]
        ns, name, uid = meta["namespace"], meta["name"], meta["uid"]
        is_sts = obj["kind"] == "StatefulSet"
        spec = obj.get("spec") or {}
        want = int(spec.get("replicas", 1))
        pods_path = collection_path("v1", "pods", ns)
        listed = await self.client.request("GET", pods_path)
        owned = [p for p in listed.get("items") or []
                 if any(r.get("uid") == uid for r in p["metadata"].get("ownerReferences") or [])
                 and not p["metadata"].get("deletionTimestamp")]
        owned.sort(key=lambda p: p["metadata"]["name"])
        template = spec.get("template") or {}
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        if not labels:
            labels = {r.key: r.values[0] for r in label_selector_from_object(spec.get("selector")) if r.op == "="}
        if is_sts:
            names = {p["metadata"]["name"] for p in owned}
            for index in range(want):
                pod_name = f"{name}-{index}"
                if pod_name not in names:
                    await self._create_pod(obj, pods_path, pod_name, labels, template)
            for pod in owned:
                suffix = pod["metadata"]["name"].rsplit("-", 1)[-1]
                if not suffix.isdigit() or int(suffix) >= want:
                    await self.client.delete(f"{pods_path}/{pod['metadata']['name']}")
        else:
            for _ in range(want - len(owned)):
                await self._create_pod(obj, pods_path, generated_name(f"{name}-"), labels, template)
            for pod in owned[want:] if len(owned) > want else []:
                await self.client.delete(f"{pods_path}/{pod['metadata']['name']}")
        status: Obj = {"replicas": want, "readyReplicas": want, "availableReplicas": want,
                       "updatedReplicas": want, "observedGeneration": meta.get("generation", 1)}
        if is_sts:
            status["currentReplicas"] = want
        else:
            status["conditions"] = [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                                     "lastUpdateTime": now(), "lastTransitionTime": now()}]
        api_version = obj.get("apiVersion", "apps/v1")
        plural = "statefulsets" if is_sts else "deployments"
        await self.client.merge_patch(f"{collection_path(api_version, plural, ns)}/{name}/status", {"status": status})

    async def _create_pod(self, owner: Obj, pods_path: str, pod_name: str, labels: dict[str, str], template: Obj) -> None:
        meta = owner["metadata"]
        body = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod_name, "namespace": meta["namespace"], "labels": labels,
                         "ownerReferences": [{"apiVersion": owner.get("apiVersion", "apps/v1"), "kind": owner["kind"],
                                              "name": meta["name"], "uid": meta["uid"], "controller": True,
                                              "blockOwnerDeletion": True}]},
            "spec": dict(template.get("spec") or {"containers": []}, nodeName="standin-node"),
        }
        try:
            pod = await self.client.create(pods_path, body)
        except ApiFailure as exc:
            if exc.reason == "AlreadyExists":
                return
            raise
        await self.client.merge_patch(f"{pods_path}/{pod['metadata']['name']}/status", {"status": {
            "phase": "Running", "podIP": "127.0.0.1", "hostIP": "127.0.0.1", "startTime": now(),
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now()}],
        }})
