"""Running a Pod's containers as real containers (podman), applying the pod spec as a kubelet does.

What is applied: the user and group (`runAsUser`/`runAsGroup`, `fsGroup` and
`supplementalGroups` as extra groups, `runAsNonRoot` checked), `readOnlyRootFilesystem`,
capabilities (drop/add), `allowPrivilegeEscalation: false` (no-new-privileges), `privileged`,
emptyDir volumes (mode 0777, group fsGroup with setgid, as the kubelet makes them) and
Secret/ConfigMap volumes (files with `defaultMode`/item modes, mounted read-only) at their
`mountPath`/`subPath`, env (resolved by `envres`, handed to podman through its environment so
values never appear in arguments), command/args/workingDir, the termination-message file
bind-mounted at `terminationMessagePath`, hostAliases.

Networking is the host's (`--network=host`), so containers reach the test servers on
127.0.0.1. Containers of one pod therefore do not share a private loopback: a sidecar's
`containerPort` is moved to a free host port, and the pod's env values, probe commands and
arguments naming that port are rewritten (`PortMap`), as the process executor does.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
from typing import Any

from .client import Client, collection_path
from .envres import ConfigError
from .processes import StartError

Obj = dict[str, Any]
PODMAN = ["podman", "--runtime", "runc"]
# Names the podman process itself needs from its environment; a container's variable of the
# same name is passed as an argument instead (these are never secrets in Tidemark's pods).
PODMAN_ENV = ("PATH", "HOME", "CONTAINERS_CONF", "TMPDIR", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "XDG_DATA_HOME")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PortMap:
    """In-pod ports (a sidecar's containerPorts) → free host ports, and the rewriting of text."""

    def __init__(self) -> None:
        self.ports: dict[str, str] = {}

    def add(self, container: Obj) -> None:
        for port in container.get("ports") or []:
            if port.get("containerPort"):
                self.ports[str(port["containerPort"])] = str(free_port())

    def text(self, value: str) -> str:
        for old, new in self.ports.items():
            for host in LOCAL_HOSTS:
                value = value.replace(f"{host}:{old}", f"{host}:{new}")
            value = re.sub(rf"(--port=|-p=){old}\b", rf"\g<1>{new}", value)
        return value

    def env(self, env: dict[str, str]) -> dict[str, str]:
        return {k: self.ports.get(v, v) if k.upper().endswith("PORT") else self.text(v) for k, v in env.items()}

    def argv(self, values: list[str]) -> list[str]:
        return [self.text(v) for v in values]


def _podman_env() -> dict[str, str]:
    return {k: os.environ[k] for k in PODMAN_ENV if k in os.environ}


def _security(pod: Obj, container: Obj, image_user: str | None) -> list[str]:
    psc = (pod.get("spec") or {}).get("securityContext") or {}
    csc = container.get("securityContext") or {}
    uid = csc.get("runAsUser", psc.get("runAsUser"))
    gid = csc.get("runAsGroup", psc.get("runAsGroup"))
    if csc.get("runAsNonRoot", psc.get("runAsNonRoot")):
        if uid == 0:
            raise ConfigError("container's runAsUser breaks non-root policy")
        if uid is None and (image_user or "0").split(":")[0] in ("", "0", "root"):
            raise ConfigError("container has runAsNonRoot and image will run as root")
        if uid is None and not (image_user or "").split(":")[0].isdigit():
            raise ConfigError("container has runAsNonRoot and image has non-numeric user, cannot verify user is non-root")
    args: list[str] = []
    if uid is not None:
        args += ["--user", f"{uid}:{gid}" if gid is not None else str(uid)]
    for group in [psc.get("fsGroup"), *(psc.get("supplementalGroups") or [])]:
        if group is not None:
            args += ["--group-add", str(group)]
    if csc.get("readOnlyRootFilesystem"):
        args += ["--read-only", "--read-only-tmpfs=false"]
    caps = csc.get("capabilities") or {}
    for cap in caps.get("drop") or []:
        args += ["--cap-drop", str(cap)]
    for cap in caps.get("add") or []:
        args += ["--cap-add", str(cap)]
    if csc.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    if csc.get("privileged"):
        args.append("--privileged")
    seccomp = (csc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
    if seccomp == "Unconfined":
        args += ["--security-opt", "seccomp=unconfined"]
    return args


async def _source_data(client: Client, namespace: str, plural: str, name: str, optional: bool) -> dict[str, bytes] | None:
    obj = await client.get(f"{collection_path('v1', plural, namespace)}/{name}")
    if obj is None:
        if optional:
            return None
        raise ConfigError(f'{"secret" if plural == "secrets" else "configmap"} "{name}" not found')
    if plural == "secrets":
        return {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
    data = {k: str(v).encode() for k, v in (obj.get("data") or {}).items()}
    data.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
    return data


async def prepare_volumes(client: Client, pod: Obj, root: pathlib.Path) -> dict[str, tuple[pathlib.Path, bool]]:
    """Host directories of the pod's volumes: name → (path, always read-only)."""
    spec = pod.get("spec") or {}
    fs_group = (spec.get("securityContext") or {}).get("fsGroup")
    namespace = pod["metadata"]["namespace"]
    volumes: dict[str, tuple[pathlib.Path, bool]] = {}
    for volume in spec.get("volumes") or []:
        name = volume.get("name", "")
        path = root / name
        path.mkdir(parents=True, exist_ok=True)
        if "emptyDir" in volume:
            os.chmod(path, 0o777)
            if fs_group is not None:
                os.chown(path, -1, int(fs_group))
                os.chmod(path, 0o2777)
            volumes[name] = (path, False)
            continue
        if "secret" in volume:
            source, plural, key = volume["secret"], "secrets", "secretName"
        elif "configMap" in volume:
            source, plural, key = volume["configMap"], "configmaps", "name"
        else:
            raise ConfigError(f"volume {name!r}: only emptyDir, secret and configMap volumes are supported")
        data = await _source_data(client, namespace, plural, source.get(key, ""), bool(source.get("optional")))
        default_mode = int(source.get("defaultMode", 0o644))
        items = source.get("items") or [{"key": k, "path": k} for k in sorted(data or {})]
        for item in items:
            if item["key"] not in (data or {}):
                if source.get("optional"):
                    continue
                raise ConfigError(f"couldn't find key {item['key']} in {plural} {namespace}/{source.get(key)}")
            target = path / item["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes((data or {})[item["key"]])
            mode = int(item.get("mode", default_mode))
            if fs_group is not None:
                os.chown(target, -1, int(fs_group))
                mode |= 0o040
            os.chmod(target, mode)
        os.chmod(path, 0o755)
        volumes[name] = (path, True)
    return volumes


def _mounts(container: Obj, volumes: dict[str, tuple[pathlib.Path, bool]]) -> list[str]:
    args: list[str] = []
    for mount in container.get("volumeMounts") or []:
        name = mount.get("name", "")
        if name not in volumes:
            raise ConfigError(f"volumeMount {name!r} names no volume of the pod")
        host, read_only = volumes[name]
        if mount.get("subPath"):
            host = host / mount["subPath"]
            host.mkdir(parents=True, exist_ok=True)
        options = "ro" if read_only or mount.get("readOnly") else "rw"
        args += ["--volume", f"{host}:{mount['mountPath']}:{options}"]
    return args


def image_user(image: str) -> str | None:
    out = subprocess.run([*PODMAN, "image", "inspect", "--format", "{{.Config.User}}", image],
                         capture_output=True, text=True, timeout=60, env=_podman_env(), check=False)
    return out.stdout.strip() if out.returncode == 0 else None


class PodmanContainer:
    """One container of a pod, run by an attached `podman run` (its exit status is the container's)."""

    def __init__(self, name: str, image: str, pod: Obj, container: Obj, env: dict[str, str],
                 volumes: dict[str, tuple[pathlib.Path, bool]], ports: PortMap, log_path: pathlib.Path,
                 term_path: pathlib.Path | None) -> None:
        self.name = name
        self.log_path = log_path
        self.proc: asyncio.subprocess.Process | None = None
        self.pod = pod
        self.container = container
        self.image = image
        self.env = ports.env(env)
        self.volumes = volumes
        self.ports = ports
        self.term_path = term_path

    def argv(self) -> list[str]:
        from .envres import expand

        c = self.container
        argv = [*PODMAN, "run", "--name", self.name, "--network=host", "--pull=never", "--log-driver=k8s-file",
                "--label", f"tidemark.dev/standin-pod={self.pod['metadata']['uid']}"]
        argv += _security(self.pod, c, image_user(self.image))
        argv += _mounts(c, self.volumes)
        if self.term_path is not None:
            self.term_path.write_bytes(b"")
            os.chmod(self.term_path, 0o666)
            argv += ["--volume", f"{self.term_path}:{c.get('terminationMessagePath') or '/dev/termination-log'}:rw"]
        for alias in (self.pod.get("spec") or {}).get("hostAliases") or []:
            for host in alias.get("hostnames") or []:
                argv += ["--add-host", f"{host}:{alias.get('ip')}"]
        for name, value in self.env.items():
            argv += ["--env", f"{name}={value}"] if name in PODMAN_ENV else ["--env", name]
        if c.get("workingDir"):
            argv += ["--workdir", c["workingDir"]]
        command = self.ports.argv([expand(str(x), self.env) for x in c.get("command") or []])
        args = self.ports.argv([expand(str(x), self.env) for x in c.get("args") or []])
        if command:
            argv += ["--entrypoint", json.dumps(command)]
        return [*argv, self.image, *args]

    async def start(self) -> None:
        await remove([self.name])
        argv = self.argv()
        env = {**_podman_env(), **{k: v for k, v in self.env.items() if k not in PODMAN_ENV}}
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed below
        try:
            self.proc = await asyncio.create_subprocess_exec(*argv, env=env, stdin=asyncio.subprocess.DEVNULL,
                                                             stdout=log, stderr=log, start_new_session=True)
        except OSError as exc:
            raise StartError(f"podman run {self.image}: {exc}") from exc
        finally:
            log.close()

    async def wait(self) -> int:
        assert self.proc is not None
        return await self.proc.wait()

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.returncode is None:
            subprocess.run([*PODMAN, "kill", "--signal", str(int(sig)), self.name], capture_output=True,
                           timeout=30, env=_podman_env(), check=False)

    async def stop(self, grace: float) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            stopper = await asyncio.create_subprocess_exec(
                *PODMAN, "stop", "--time", str(max(0, int(grace))), self.name, env=_podman_env(),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            await stopper.wait()
        code = await self.proc.wait()
        return 128 - code if code < 0 else code

    async def probe(self, probe: Obj) -> bool:
        """An exec probe inside the container (the only kind Tidemark's pods use)."""
        command = self.ports.argv([str(x) for x in (probe.get("exec") or {}).get("command") or []])
        if not command:
            return True
        checker = await asyncio.create_subprocess_exec(*PODMAN, "exec", self.name, *command, env=_podman_env(),
                                                       stdout=asyncio.subprocess.DEVNULL,
                                                       stderr=asyncio.subprocess.DEVNULL)
        try:
            return await asyncio.wait_for(checker.wait(), timeout=float(probe.get("timeoutSeconds", 1)) + 5) == 0
        except TimeoutError:
            checker.kill()
            return False

    async def started(self) -> None:
        """Until the startupProbe passes (or at once without one); raises when it cannot."""
        probe = self.container.get("startupProbe")
        await asyncio.sleep(0.2)
        if not probe:
            return
        period = float(probe.get("periodSeconds", 10))
        for _ in range(int(probe.get("failureThreshold", 3))):
            if self.proc is not None and self.proc.returncode is not None:
                raise StartError(f"container {self.container.get('name')} exited with {self.proc.returncode} "
                                 f"before its startup probe passed")
            if await self.probe(probe):
                return
            await asyncio.sleep(period)
        raise StartError(f"container {self.container.get('name')}: startup probe failed")


async def remove(names: list[str]) -> None:
    if not names:
        return
    proc = await asyncio.create_subprocess_exec(*PODMAN, "rm", "--force", "--ignore", "--time", "0", *names,
                                                env=_podman_env(), stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.DEVNULL)
    await proc.wait()


def container_name(pod: Obj, container: Obj) -> str:
    return f"tm-{pod['metadata']['name']}-{container.get('name', 'c')}"[:120]


SIGKILL = signal.SIGKILL
