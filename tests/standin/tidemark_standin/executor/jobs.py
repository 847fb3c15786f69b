"""The Job controller part: Pods for Jobs, retries up to backoffLimit, deadlines, suspend, status."""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any

from ..meta import generated_name, now, parse_time
from .client import ApiFailure, Client, collection_path
from .kubelet import Kubelet, Outcome

log = logging.getLogger("tidemark_standin.executor")
Obj = dict[str, Any]
KILL_AFTER = "tidemark.dev/test-kill-after-seconds"
KILL_ATTEMPTS = "tidemark.dev/test-kill-attempts"


def finished(job: Obj) -> bool:
    conditions = (job.get("status") or {}).get("conditions") or []
    return any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in conditions)


def _condition(kind: str, reason: str, message: str) -> Obj:
    stamp = now()
    return {"type": kind, "status": "True", "reason": reason, "message": message,
            "lastProbeTime": stamp, "lastTransitionTime": stamp}


def _annotation(job: Obj, name: str) -> str | None:
    for source in (job.get("metadata") or {}, ((job.get("spec") or {}).get("template") or {}).get("metadata") or {}):
        value = (source.get("annotations") or {}).get(name)
        if value is not None:
            return str(value)
    return None


def build_pod(job: Obj) -> Obj:
    meta = job["metadata"]
    template = copy.deepcopy((job.get("spec") or {}).get("template") or {})
    tmeta = template.get("metadata") or {}
    labels = dict(tmeta.get("labels") or {})
    labels.update({"job-name": meta["name"], "controller-uid": meta["uid"],
                   "batch.kubernetes.io/job-name": meta["name"], "batch.kubernetes.io/controller-uid": meta["uid"]})
    spec = template.get("spec") or {}
    spec.setdefault("nodeName", "standin-node")
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": generated_name(f"{meta['name']}-"),
            "namespace": meta["namespace"],
            "labels": labels,
            "annotations": dict(tmeta.get("annotations") or {}),
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": meta["name"], "uid": meta["uid"],
                                 "controller": True, "blockOwnerDeletion": True}],
        },
        "spec": spec,
    }


class JobController:
    def __init__(self, client: Client, kubelet: Kubelet, retry_delay: float = 0.2) -> None:
        self.client = client
        self.kubelet = kubelet
        self.retry_delay = retry_delay
        self.latest: dict[str, Obj] = {}
        self.changed: dict[str, asyncio.Event] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.active_pod: dict[str, Obj] = {}

    async def on_job_event(self, kind: str, job: Obj) -> None:
        uid = job["metadata"]["uid"]
        if kind == "DELETED":
            task = self.tasks.pop(uid, None)
            if task is not None:
                task.cancel()
            self.latest.pop(uid, None)
            self.changed.pop(uid, None)
            return
        self.latest[uid] = job
        self.changed.setdefault(uid, asyncio.Event()).set()
        if (job.get("spec") or {}).get("suspend") and uid in self.active_pod:
            pod = self.active_pod[uid]["metadata"]
            await self.client.delete(f"{collection_path('v1', 'pods', pod['namespace'])}/{pod['name']}")
        if uid not in self.tasks and not finished(job) and not (job["metadata"].get("deletionTimestamp")):
            self.tasks[uid] = asyncio.create_task(self._run(uid))

    def _status_path(self, job: Obj) -> str:
        meta = job["metadata"]
        return f"{collection_path('batch/v1', 'jobs', meta['namespace'])}/{meta['name']}/status"

    async def _status(self, job: Obj, status: Obj) -> None:
        await self.client.merge_patch(self._status_path(job), {"status": status})

    async def _wait_unsuspended(self, uid: str) -> Obj:
        job = self.latest[uid]
        while (job.get("spec") or {}).get("suspend"):
            await self._status(job, {"active": 0, "ready": 0, "startTime": None, "conditions": [
                _condition("Suspended", "JobSuspended", "Job suspended")]})
            event = self.changed[uid]
            event.clear()
            await event.wait()
            job = self.latest[uid]
        return job

    async def _run(self, uid: str) -> None:
        try:
            await self._run_job(uid)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - one Job's failure must not stop the executor
            log.exception("job %s failed in the executor", uid)
        finally:
            self.active_pod.pop(uid, None)

    async def _run_job(self, uid: str) -> None:
        loop = asyncio.get_running_loop()
        job = await self._wait_unsuspended(uid)
        status = dict(job.get("status") or {})
        start = status.get("startTime") or now()
        failed = int(status.get("failed") or 0)
        spec = job.get("spec") or {}
        backoff_limit = int(spec.get("backoffLimit", 6))
        deadline = None
        if spec.get("activeDeadlineSeconds") is not None:
            started = parse_time(start)
            elapsed = (parse_time(now()) - started).total_seconds() if started else 0.0  # type: ignore[operator]
            deadline = loop.time() + float(spec["activeDeadlineSeconds"]) - elapsed
        kill_after_text = _annotation(job, KILL_AFTER)
        kill_after = float(kill_after_text) if kill_after_text else None
        kill_attempts = int(_annotation(job, KILL_ATTEMPTS) or 1)
        attempt = 0
        while True:
            job = self.latest.get(uid, job)
            if (job.get("spec") or {}).get("suspend"):
                job = await self._wait_unsuspended(uid)
            if deadline is not None and loop.time() >= deadline:
                await self._fail(job, start, failed, "DeadlineExceeded", "Job was active longer than specified deadline")
                return
            if uid not in self.latest:
                return  # the Job was deleted meanwhile
            pod_body = build_pod(job)
            try:
                pod = await self.client.create(collection_path("v1", "pods", job["metadata"]["namespace"]), pod_body)
            except ApiFailure as exc:
                log.warning("creating a pod for job %s failed: %s", job["metadata"]["name"], exc)
                await asyncio.sleep(1)
                continue
            self.active_pod[uid] = pod
            await self._status(job, {"startTime": start, "active": 1, "ready": 0, "terminating": 0, "failed": failed,
                                     "succeeded": 0, "uncountedTerminatedPods": {}, "conditions": None})
            outcome: Outcome = await self.kubelet.run_pod(pod, deadline, kill_after if attempt < kill_attempts else None)
            self.active_pod.pop(uid, None)
            attempt += 1
            if outcome.phase == "Succeeded":
                await self._complete(job, start, failed)
                return
            suspended = (self.latest.get(uid, job).get("spec") or {}).get("suspend")
            if outcome.reason == "Deleted" and suspended:
                continue
            failed += 1
            if outcome.reason == "DeadlineExceeded":
                await self._fail(job, start, failed, "DeadlineExceeded", "Job was active longer than specified deadline")
                return
            if failed > backoff_limit:
                await self._fail(job, start, failed, "BackoffLimitExceeded", "Job has reached the specified backoff limit")
                return
            await self._status(job, {"active": 0, "failed": failed})
            await asyncio.sleep(self.retry_delay)

    async def _complete(self, job: Obj, start: str, failed: int) -> None:
        message = "Reached expected number of succeeded pods"
        await self._status(job, {
            "startTime": start, "completionTime": now(), "active": 0, "ready": 0, "terminating": 0,
            "succeeded": 1, "failed": failed, "uncountedTerminatedPods": {},
            "conditions": [_condition("SuccessCriteriaMet", "CompletionsReached", message),
                           _condition("Complete", "CompletionsReached", message)],
        })

    async def _fail(self, job: Obj, start: str, failed: int, reason: str, message: str) -> None:
        await self._status(job, {
            "startTime": start, "active": 0, "ready": 0, "terminating": 0, "succeeded": 0, "failed": failed,
            "uncountedTerminatedPods": {},
            "conditions": [_condition("FailureTarget", reason, message), _condition("Failed", reason, message)],
        })
