"""Fixtures: the stand-in as a subprocess on a free port, and a small JSON client for it."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

PACKAGE_ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(PACKAGE_ROOT) not in sys.path:
    sys.path.insert(0, str(PACKAGE_ROOT))


class Standin:
    """A running stand-in process and a thin HTTP client."""

    def __init__(self, proc: subprocess.Popen[str], url: str, startup_seconds: float) -> None:
        self.proc = proc
        self.url = url
        self.startup_seconds = startup_seconds
        self.http = requests.Session()

    def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json",
                **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            headers.setdefault("Content-Type", content_type)
        return self.http.request(method, self.url + path, data=data, headers=headers, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, body, **kwargs)

    def put(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, body, **kwargs)

    def patch(self, path: str, body: Any, content_type: str = "application/merge-patch+json",
              **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, body, content_type=content_type, **kwargs)

    def delete(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, body, **kwargs)

    def watch(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Events of a watch request, until the server ends the stream."""
        params = {"watch": "true", **{k: str(v) for k, v in params.items()}}
        with self.http.get(self.url + path, params=params, stream=True, timeout=30) as response:
            assert response.status_code == 200, response.text
            for line in response.iter_lines():
                if line:
                    yield json.loads(line)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_standin(*extra: str, state_dir: pathlib.Path | None = None) -> Standin:
    cmd = [sys.executable, "-m", "tidemark_standin", "serve", "--port", "0", *extra]
    if state_dir is not None:
        cmd += ["--state-dir", str(state_dir)]
    env = dict(os.environ, PYTHONPATH=str(PACKAGE_ROOT))
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    elapsed = time.monotonic() - started
    if not line.startswith("READY "):
        proc.kill()
        raise RuntimeError(f"the stand-in did not start: {line!r}")
    return Standin(proc, line.split(" ", 1)[1], elapsed)


@pytest.fixture(scope="session")
def standin() -> Iterator[Standin]:
    server = start_standin("--bookmark-interval", "0.5")
    yield server
    server.stop()


@pytest.fixture()
def ns(standin: Standin) -> str:
    """A fresh namespace per test, so tests share one server without interfering."""
    name = "t-" + uuid.uuid4().hex[:8]
    response = standin.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert response.status_code == 201, response.text
    return name


@pytest.fixture()
def make_standin(tmp_path: pathlib.Path) -> Iterator[Any]:
    """Start extra stand-ins with special flags; all are stopped after the test."""
    started: list[Standin] = []

    def make(*extra: str, state_dir: pathlib.Path | None = None) -> Standin:
        server = start_standin(*extra, state_dir=state_dir)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


