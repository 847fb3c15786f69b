"""A throwaway PostgreSQL for a pod's `postgres` sidecar container (the restore test's scratch DB)."""

from __future__ import annotations

import asyncio
import glob
import os
import pathlib
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
from typing import Any

Obj = dict[str, Any]
IN_POD_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")


def newest_pg_bin() -> str | None:
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(re.sub(r"\D", "", d.split("/")[-2]) or 0))
    return dirs[-1] if dirs else None


def is_postgres_sidecar(container: Obj) -> bool:
    return "postgres" in str(container.get("image", ""))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def container_port(container: Obj, env: dict[str, str]) -> str:
    for port in container.get("ports") or []:
        if port.get("containerPort"):
            return str(port["containerPort"])
    return env.get("PGPORT", "5432")


class PostgresSidecar:
    """initdb in a temp dir, started on a free port as the `postgres` user when we are root."""

    def __init__(self, pg_bin: str, container: Obj, env: dict[str, str], log_path: pathlib.Path) -> None:
        self.pg_bin = pg_bin
        self.user = env.get("POSTGRES_USER") or "postgres"
        self.password = env.get("POSTGRES_PASSWORD") or ""
        self.database = env.get("POSTGRES_DB") or self.user
        self.in_pod_port = container_port(container, env)
        self.port = free_port()
        self.log_path = log_path
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="tidemark-pg-"))
        self.proc: asyncio.subprocess.Process | None = None
        self._as_postgres = os.geteuid() == 0

    def _run_kwargs(self) -> dict[str, Any]:
        if not self._as_postgres:
            return {}
        entry = pwd.getpwnam("postgres")
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    async def start(self) -> None:
        data = self.dir / "data"
        if self._as_postgres:
            entry = pwd.getpwnam("postgres")
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        pwfile = self.dir / "pwfile"
        pwfile.write_text(self.password or "postgres")
        if self._as_postgres:
            os.chown(pwfile, pwd.getpwnam("postgres").pw_uid, -1)
        with open(self.log_path, "ab") as log:
            initdb = await asyncio.create_subprocess_exec(
                f"{self.pg_bin}/initdb", "-D", str(data), "-U", self.user, f"--pwfile={pwfile}",
                "--auth-local=trust", "--auth-host=trust", "-E", "UTF8", "--no-sync",
                stdout=log, stderr=log, **self._run_kwargs(),
            )
            if await initdb.wait() != 0:
                raise RuntimeError(f"initdb failed; see {self.log_path}")
            self.proc = await asyncio.create_subprocess_exec(
                f"{self.pg_bin}/postgres", "-D", str(data), "-p", str(self.port),
                "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.dir}",
                "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                stdout=log, stderr=log, start_new_session=True, **self._run_kwargs(),
            )
        await self._wait_ready()
        if self.database != "postgres":
            with open(self.log_path, "ab") as log:
                created = await asyncio.create_subprocess_exec(
                    f"{self.pg_bin}/createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, self.database,
                    stdout=log, stderr=log,
                )
                if await created.wait() != 0:
                    raise RuntimeError(f"createdb {self.database} failed; see {self.log_path}")

    async def _wait_ready(self, timeout: float = 30.0) -> None:
        """Until `pg_isready` says the server accepts connections (not merely listens)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if self.proc is not None and self.proc.returncode is not None:
                raise RuntimeError(f"postgres exited early; see {self.log_path}")
            probe = await asyncio.create_subprocess_exec(
                f"{self.pg_bin}/pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            if await probe.wait() == 0:
                return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"postgres not ready within {timeout}s; see {self.log_path}")

    def env_overrides(self, main_env: dict[str, str]) -> dict[str, str]:
        """What the main container sees (documented in tests/standin/README.md)."""
        overrides = {"PGHOST": "127.0.0.1", "PGPORT": str(self.port)}
        for name, value in main_env.items():
            upper = name.upper()
            if upper.endswith("PORT") and value == self.in_pod_port:
                overrides[name] = str(self.port)
            elif upper.endswith("HOST") and value in IN_POD_HOSTS:
                overrides[name] = "127.0.0.1"
            else:
                rewritten = self.rewrite(value)
                if rewritten != value:
                    overrides[name] = rewritten
        return overrides

    def rewrite(self, text: str) -> str:
        """`localhost:<in-pod port>` (and 127.0.0.1/[::1]) in URLs and flags → the real port."""
        for host in IN_POD_HOSTS:
            text = text.replace(f"{host}:{self.in_pod_port}", f"127.0.0.1:{self.port}")
        return text

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            try:
                os.killpg(self.proc.pid, signal.SIGINT)
                await asyncio.wait_for(self.proc.wait(), timeout=10)
            except (ProcessLookupError, TimeoutError):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                await self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
