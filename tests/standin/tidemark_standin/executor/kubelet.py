"""The kubelet part: run one Pod's first container as a local process and report its status."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import pathlib
import shutil
import signal
from typing import Any

from ..meta import now
from .client import Client, collection_path
from .envres import ConfigError, resolve_env
from .pgsidecar import PostgresSidecar, is_postgres_sidecar, newest_pg_bin
from .processes import ContainerProcess, StartError, map_path, match_image, resolve_argv, termination_message
from .containers import PodmanContainer, PortMap, container_name, prepare_volumes, remove

log = logging.getLogger("tidemark_standin.executor")
Obj = dict[str, Any]
KILL_ANNOTATION = "tidemark.dev/test-kill"  # set to any value on a running Pod: SIGKILL at once


@dataclasses.dataclass
class Settings:
    workdir: pathlib.Path
    runner_paths: dict[str, str]
    default_binary: str | None = None
    kill_grace: float | None = None
    pg_bin: str | None = None
    config_retry: float = 1.0
    # Pod image → local podman image: pods whose first container's image maps here run as
    # real containers (containers.py); all others as local processes.
    container_images: dict[str, str] = dataclasses.field(default_factory=dict)
    # What an image's ENV would set for process-run containers (e.g. TIDEMARK_PG_BIN_ROOT
    # pointing at the PostgreSQL majors the runner image ships); the pod's env overrides it.
    image_env: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Outcome:
    phase: str  # Succeeded, Failed
    reason: str | None = None  # DeadlineExceeded, Deleted, Killed, StartError...
    exit_code: int | None = None
    message: str = ""


def _container_status(container: Obj, state: Obj, ready: bool, started: bool) -> Obj:
    return {
        "name": container.get("name", ""),
        "image": container.get("image", ""),
        "imageID": "",
        "ready": ready,
        "started": started,
        "restartCount": 0,
        "state": state,
        "lastState": {},
    }


def _is_native_sidecar(container: Obj) -> bool:
    """An init container with `restartPolicy: Always` (Kubernetes >= 1.29 native sidecar)."""
    return container.get("restartPolicy") == "Always"


def _statuses(main: Obj, main_state: Obj, others: list[Obj], others_state: Obj, ready: bool, started: bool) -> Obj:
    """`containerStatuses`, plus `initContainerStatuses` for native sidecars, as the kubelet reports them."""
    status: Obj = {
        "containerStatuses": [_container_status(main, main_state, ready, started)]
        + [_container_status(c, others_state, ready, started) for c in others if not _is_native_sidecar(c)],
    }
    native = [_container_status(c, others_state, ready, started) for c in others if _is_native_sidecar(c)]
    if native:
        status["initContainerStatuses"] = native
    return status


def _conditions(ready: bool, reason: str | None = None) -> list[Obj]:
    stamp = now()
    result = []
    for kind in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"):
        is_ready_kind = kind in ("Ready", "ContainersReady")
        status = "True" if (ready or not is_ready_kind) else "False"
        condition = {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": stamp}
        if is_ready_kind and not ready and reason:
            condition["reason"] = reason
        result.append(condition)
    return result


class Kubelet:
    def __init__(self, client: Client, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.pg_bin = settings.pg_bin or newest_pg_bin()
        self._deleted: dict[str, asyncio.Event] = {}
        self._kill: dict[str, asyncio.Event] = {}

    # --- pod events (from the pod informer) ---------------------------------------------------
    def on_pod_event(self, kind: str, pod: Obj) -> None:
        uid = pod.get("metadata", {}).get("uid", "")
        meta = pod.get("metadata") or {}
        if kind == "DELETED" or meta.get("deletionTimestamp"):
            if uid in self._deleted:
                self._deleted[uid].set()
        elif KILL_ANNOTATION in (meta.get("annotations") or {}) and uid in self._kill:
            self._kill[uid].set()

    # --- running ------------------------------------------------------------------------------
    async def _patch_status(self, pod: Obj, status: Obj) -> None:
        meta = pod["metadata"]
        path = f"{collection_path('v1', 'pods', meta['namespace'])}/{meta['name']}/status"
        await self.client.merge_patch(path, {"status": status})

    def _grace(self, pod: Obj) -> float:
        if self.settings.kill_grace is not None:
            return self.settings.kill_grace
        return float((pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30))

    async def run_pod(self, pod: Obj, deadline: float | None, kill_after: float | None) -> Outcome:
        uid = pod["metadata"]["uid"]
        self._deleted[uid] = asyncio.Event()
        self._kill[uid] = asyncio.Event()
        try:
            return await self._run(pod, deadline, kill_after)
        finally:
            self._deleted.pop(uid, None)
            self._kill.pop(uid, None)

    async def _wait_config(self, pod: Obj, main: Obj, others: list[Obj], deadline: float | None) -> Outcome | None:
        """Pending with CreateContainerConfigError until the Secret/ConfigMap appears (as the kubelet)."""
        loop = asyncio.get_running_loop()
        reported = None
        while True:
            try:
                for container in [main, *others]:
                    await resolve_env(self.client, pod, container)
                return None
            except ConfigError as exc:
                if str(exc) != reported:
                    reported = str(exc)
                    waiting = {"waiting": {"reason": "CreateContainerConfigError", "message": reported}}
                    await self._patch_status(pod, {
                        "phase": "Pending",
                        "conditions": _conditions(False, "ContainersNotReady"),
                        **_statuses(main, waiting, others, waiting, False, False),
                    })
            uid = pod["metadata"]["uid"]
            timeout = self.settings.config_retry
            if deadline is not None:
                timeout = min(timeout, max(0.0, deadline - loop.time()))
            try:
                await asyncio.wait_for(self._deleted[uid].wait(), timeout=timeout)
                return Outcome("Failed", "Deleted")
            except TimeoutError:
                pass
            if deadline is not None and loop.time() >= deadline:
                await self._patch_status(pod, {"phase": "Failed", "reason": "DeadlineExceeded",
                                               "message": "Pod was active on the node longer than the specified deadline"})
                return Outcome("Failed", "DeadlineExceeded", None, reported or "")

    def _base_env(self, pod: Obj, pod_dir: pathlib.Path) -> dict[str, str]:
        env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "HOME": str(pod_dir),
               "HOSTNAME": pod["metadata"]["name"], "TMPDIR": str(pod_dir / "tmp")}
        for name in ("LANG", "LC_ALL", "TZ"):
            if name in os.environ:
                env[name] = os.environ[name]
        env.update(self.settings.image_env)
        return env

    async def _run(self, pod: Obj, deadline: float | None, kill_after: float | None) -> Outcome:
        meta = pod["metadata"]
        containers = (pod.get("spec") or {}).get("containers") or []
        if not containers:
            return Outcome("Failed", "NoContainers")
        # Native sidecars (init containers with `restartPolicy: Always`, Kubernetes >= 1.29)
        # run beside the main container like extra containers.
        native = [c for c in (pod.get("spec") or {}).get("initContainers") or [] if _is_native_sidecar(c)]
        main, others = containers[0], [*containers[1:], *native]
        pod_dir = self.settings.workdir / meta["namespace"] / meta["name"]
        (pod_dir / "tmp").mkdir(parents=True, exist_ok=True)
        creating = {"waiting": {"reason": "ContainerCreating"}}
        await self._patch_status(pod, {
            "phase": "Pending", "hostIP": "127.0.0.1", "conditions": _conditions(False, "ContainersNotReady"),
            **_statuses(main, creating, others, creating, False, False),
        })
        waited = await self._wait_config(pod, main, others, deadline)
        if waited is not None:
            return waited
        if match_image(main.get("image", ""), self.settings.container_images):
            return await self._run_in_containers(pod, main, others, pod_dir, deadline, kill_after)
        env = self._base_env(pod, pod_dir)
        env.update(await resolve_env(self.client, pod, main))
        sidecars: list[PostgresSidecar] = []
        started_at = now()
        try:
            for container in others:
                if is_postgres_sidecar(container) and self.pg_bin:
                    sidecar = PostgresSidecar(self.pg_bin, container, await resolve_env(self.client, pod, container),
                                              pod_dir / f"{container.get('name', 'postgres')}.log")
                    sidecars.append(sidecar)
                    try:
                        await sidecar.start()
                    except (RuntimeError, OSError) as exc:
                        failure = Outcome("Failed", "StartError", 128, f"postgres sidecar: {exc}")
                        return await self._finish(pod, main, others, failure, started_at)
                    env.update(sidecar.env_overrides(env))
            return await self._run_main(pod, main, others, env, pod_dir, deadline, kill_after, sidecars, started_at)
        finally:
            for sidecar in sidecars:
                await sidecar.stop()

    async def _run_main(self, pod: Obj, main: Obj, others: list[Obj], env: dict[str, str], pod_dir: pathlib.Path,
                        deadline: float | None, kill_after: float | None, sidecars: list[PostgresSidecar],
                        started_at: str) -> Outcome:
        term_path = pod_dir / "termination-log"
        term_path.unlink(missing_ok=True)
        container_term = main.get("terminationMessagePath") or "/dev/termination-log"
        env = {k: v.replace(container_term, str(term_path)) if container_term in v else v for k, v in env.items()}
        env["TIDEMARK_TERMINATION_LOG"] = str(term_path)
        env = {k: _map_empty_dirs(v, pod, main, pod_dir) for k, v in env.items()}
        log_path = pod_dir / f"{main.get('name', 'main')}.log"
        try:
            argv = map_path(resolve_argv(main, env, self.settings.runner_paths, self.settings.default_binary),
                            container_term, str(term_path))
            for sidecar in sidecars:
                argv = [sidecar.rewrite(a) for a in argv]
            process = ContainerProcess(argv, env, pod_dir, log_path)
            await process.start()
        except StartError as exc:
            log_path.write_text(str(exc) + "\n")
            return await self._finish(pod, main, others, Outcome("Failed", "StartError", 128, str(exc)), started_at)
        log.info("pod %s/%s: started %s", pod["metadata"]["namespace"], pod["metadata"]["name"], argv)
        return await self._supervise(pod, main, others, process, term_path, log_path, deadline, kill_after,
                                     started_at)

    async def _run_in_containers(self, pod: Obj, main: Obj, others: list[Obj], pod_dir: pathlib.Path,
                                 deadline: float | None, kill_after: float | None) -> Outcome:
        """The pod as podman containers: init containers in order, then native sidecars (each
        until its startup probe passes), then the main container; sidecars stop after it."""
        spec = pod.get("spec") or {}
        inits = [c for c in spec.get("initContainers") or [] if not _is_native_sidecar(c)]
        ports = PortMap()
        for container in others:
            ports.add(container)
        started_at = now()
        names = [container_name(pod, c) for c in [*inits, *others, main]]
        sidecars: list[PodmanContainer] = []
        term_path = pod_dir / "termination-log"
        log_path = pod_dir / f"{main.get('name', 'main')}.log"

        async def make(container: Obj, term: pathlib.Path | None) -> PodmanContainer:
            image = match_image(container.get("image", ""), self.settings.container_images)
            if image is None:
                raise StartError(f"image {container.get('image')!r} is not available on the node (ErrImageNeverPull)")
            env = await resolve_env(self.client, pod, container)
            return PodmanContainer(container_name(pod, container), image, pod, container, env, volumes, ports,
                                   pod_dir / f"{container.get('name', 'c')}.log", term)

        try:
            try:
                volumes = await prepare_volumes(self.client, pod, pod_dir / "volumes")
                for container in inits:
                    init = await make(container, pod_dir / f"{container.get('name')}-termination-log")
                    await init.start()
                    code = await init.wait()
                    if code != 0:
                        failure = Outcome("Failed", "Init:Error", code, f"init container {container.get('name')} exited {code}")
                        return await self._finish(pod, main, others, failure, started_at)
                for container in others:
                    sidecar = await make(container, None)
                    sidecars.append(sidecar)
                    await sidecar.start()
                    await sidecar.started()
                process = await make(main, term_path)
                await process.start()
            except (StartError, ConfigError) as exc:
                log_path.write_text(str(exc) + "\n")
                failure = Outcome("Failed", "StartError", 128, str(exc))
                return await self._finish(pod, main, others, failure, started_at)
            log.info("pod %s/%s: started container %s", pod["metadata"]["namespace"], pod["metadata"]["name"],
                     process.name)
            outcome = await self._supervise(pod, main, others, process, term_path, log_path, deadline, kill_after,
                                            started_at)
            labels = pod["metadata"].get("labels") or {}
            log.info("container pod %s/%s run-kind=%s image=%s: %s exit=%s", pod["metadata"]["namespace"],
                     pod["metadata"]["name"], labels.get("tidemark.dev/run-kind", "-"), process.image,
                     outcome.phase, outcome.exit_code)
            return outcome
        finally:
            for sidecar in reversed(sidecars):
                await sidecar.stop(self._grace(pod))
            await remove(names)
            # The volumes go with the pod's containers (Secret files are not left on disk).
            shutil.rmtree(pod_dir / "volumes", ignore_errors=True)

    async def _supervise(self, pod: Obj, main: Obj, others: list[Obj], process: ContainerProcess | PodmanContainer,
                         term_path: pathlib.Path, log_path: pathlib.Path, deadline: float | None,
                         kill_after: float | None, started_at: str) -> Outcome:
        """From the main container's start to its end: status Running, then the outcome."""
        uid = pod["metadata"]["uid"]
        loop = asyncio.get_running_loop()
        running = {"running": {"startedAt": started_at}}
        await self._patch_status(pod, {
            "phase": "Running", "startTime": started_at, "podIP": "127.0.0.1",
            "podIPs": [{"ip": "127.0.0.1"}], "hostIP": "127.0.0.1", "conditions": _conditions(True),
            **_statuses(main, running, others, running, True, True),
        })
        waits = {
            asyncio.ensure_future(process.wait()): "exited",
            asyncio.ensure_future(self._deleted[uid].wait()): "deleted",
            asyncio.ensure_future(self._kill[uid].wait()): "killed",
        }
        if deadline is not None:
            waits[asyncio.ensure_future(asyncio.sleep(max(0.0, deadline - loop.time())))] = "deadline"
        if kill_after is not None:
            waits[asyncio.ensure_future(asyncio.sleep(kill_after))] = "killed"
        try:
            done, _ = await asyncio.wait(list(waits), return_when=asyncio.FIRST_COMPLETED)
            why = next(waits[f] for f in waits if f in done)
        except asyncio.CancelledError:
            process.signal(signal.SIGKILL)  # the executor is stopping, or the Job went away
            raise
        finally:
            for future in waits:
                future.cancel()
        policy = main.get("terminationMessagePolicy", "File")
        if why == "exited":
            code = ContainerProcess.exit_code(await process.wait())
            outcome = Outcome("Succeeded" if code == 0 else "Failed", "Completed" if code == 0 else "Error", code)
        elif why == "killed":
            process.signal(signal.SIGKILL)
            code = ContainerProcess.exit_code(await process.wait())
            outcome = Outcome("Failed", "Error", code)
        else:
            code = await process.stop(self._grace(pod))
            outcome = Outcome("Failed", "DeadlineExceeded" if why == "deadline" else "Deleted", code)
        outcome.message = termination_message(term_path, log_path, policy, outcome.phase == "Failed")
        log.info("pod %s/%s: %s (%s, exit %s)", pod["metadata"]["namespace"], pod["metadata"]["name"],
                 outcome.phase, outcome.reason, outcome.exit_code)
        if outcome.reason == "Deleted":
            return outcome
        return await self._finish(pod, main, others, outcome, started_at)

    async def _finish(self, pod: Obj, main: Obj, others: list[Obj], outcome: Outcome, started_at: str) -> Outcome:
        finished = now()
        terminated = {"terminated": {
            "exitCode": outcome.exit_code if outcome.exit_code is not None else 1,
            "reason": outcome.reason or ("Completed" if outcome.phase == "Succeeded" else "Error"),
            "message": outcome.message,
            "startedAt": started_at,
            "finishedAt": finished,
            "containerID": (f"podman://{container_name(pod, main)}"
                            if match_image(main.get("image", ""), self.settings.container_images)
                            else f"standin://{pod['metadata']['uid']}"),
        }}
        if not outcome.message:
            del terminated["terminated"]["message"]
        side = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started_at, "finishedAt": finished}}
        status: Obj = {
            "phase": outcome.phase,
            "conditions": _conditions(False, "PodCompleted" if outcome.phase == "Succeeded" else "PodFailed"),
            **_statuses(main, terminated, others, side, False, False),
        }
        if outcome.reason == "DeadlineExceeded":
            status["reason"] = "DeadlineExceeded"
            status["message"] = "Pod was active on the node longer than the specified deadline"
        await self._patch_status(pod, status)
        return outcome


def _map_empty_dirs(value: str, pod: Obj, container: Obj, pod_dir: pathlib.Path) -> str:
    """A process has no mounts: an env value naming an emptyDir's mount path (other than
    /tmp, which TMPDIR covers) names a fresh directory of the pod instead."""
    empty = {v["name"] for v in (pod.get("spec") or {}).get("volumes") or [] if "emptyDir" in v}
    for mount in container.get("volumeMounts") or []:
        path = mount.get("mountPath", "")
        if mount.get("name") not in empty or path in ("", "/tmp"):
            continue
        if value == path or value.startswith(path + "/"):
            host = pod_dir / "volumes" / mount["name"]
            host.mkdir(parents=True, exist_ok=True)
            return str(host) + value[len(path):]
    return value
