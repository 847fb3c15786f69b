"""Running a container as a local process: command resolution, signals, termination messages."""

from __future__ import annotations

import asyncio
import fnmatch
import os
import pathlib
import shutil
import signal
from typing import Any

from .envres import expand

Obj = dict[str, Any]
MAX_MESSAGE = 4096  # the kubelet's limit for one container's termination message


class StartError(Exception):
    """The container could not be started (exec failed): exit code 128, reason StartError."""


def image_repository(image: str) -> str:
    """`registry/repo/name:tag@digest` → `registry/repo/name`."""
    without_digest = image.split("@", 1)[0]
    last = without_digest.rsplit("/", 1)
    if ":" in last[-1]:
        last[-1] = last[-1].split(":", 1)[0]
    return "/".join(last)


def match_image(image: str, mapping: dict[str, str]) -> str | None:
    """The local binary for `image`: exact, then repository, then short name, then glob patterns."""
    repo = image_repository(image)
    for candidate in (image, repo, repo.rsplit("/", 1)[-1]):
        if candidate in mapping:
            return mapping[candidate]
    for pattern, binary in mapping.items():
        if any(ch in pattern for ch in "*?[") and (fnmatch.fnmatch(image, pattern) or fnmatch.fnmatch(repo, pattern)):
            return binary
    return None


def resolve_argv(container: Obj, env: dict[str, str], mapping: dict[str, str], default_binary: str | None) -> list[str]:
    """command+args with `$(VAR)` expanded; the executable mapped to a local binary.

    1. `command[0]` that is an absolute path existing locally runs as is;
    2. else the image's mapped binary replaces `command[0]` (or is the entrypoint when there is no command);
    3. else `command[0]` found on PATH runs as is;
    4. else the default binary replaces `command[0]` (or is the entrypoint).
    """
    command = [expand(str(c), env) for c in container.get("command") or []]
    args = [expand(str(a), env) for a in container.get("args") or []]
    mapped = match_image(container.get("image", ""), mapping)
    if command and os.path.isabs(command[0]) and os.path.exists(command[0]):
        return command + args
    if mapped:
        return [mapped] + command[1:] + args if command else [mapped] + args
    if command and shutil.which(command[0]):
        return command + args
    if default_binary:
        return [default_binary] + command[1:] + args if command else [default_binary] + args
    what = command[0] if command else f"the entrypoint of image {container.get('image')!r}"
    raise StartError(f'exec: "{what}": executable file not found (map the image with --runner-path-map)')


def map_path(values: list[str], original: str, replacement: str) -> list[str]:
    """Replace a container path (e.g. /dev/termination-log) inside arguments like `--flag=PATH`."""
    return [v.replace(original, replacement) if original and original in v else v for v in values]


class ContainerProcess:
    """One container's process, in its own process group."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: pathlib.Path, log_path: pathlib.Path) -> None:
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.log_path = log_path
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed below
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv, env=self.env, cwd=str(self.cwd), stdin=asyncio.subprocess.DEVNULL,
                stdout=log, stderr=log, start_new_session=True,
            )
        except OSError as exc:
            raise StartError(f"exec {self.argv[0]!r}: {exc}") from exc
        finally:
            log.close()

    async def wait(self) -> int:
        assert self.proc is not None
        return await self.proc.wait()

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.returncode is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    async def stop(self, grace: float) -> int:
        """SIGTERM, wait up to `grace` seconds, then SIGKILL; returns the exit code (128+signal)."""
        assert self.proc is not None
        self.signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), timeout=max(grace, 0.0))
        except TimeoutError:
            self.signal(signal.SIGKILL)
        code = await self.proc.wait()
        return 128 - code if code < 0 else code

    @staticmethod
    def exit_code(code: int) -> int:
        """asyncio reports death by signal N as -N; Kubernetes shows 128+N."""
        return 128 - code if code < 0 else code


def termination_message(path: pathlib.Path, log_path: pathlib.Path, policy: str, failed: bool) -> str:
    message = ""
    if path.exists():
        message = path.read_bytes()[:MAX_MESSAGE].decode("utf-8", errors="replace")
    if not message and failed and policy == "FallbackToLogsOnError" and log_path.exists():
        lines = log_path.read_bytes()[-2048:].decode("utf-8", errors="replace").splitlines()[-80:]
        message = "\n".join(lines)
    return message
