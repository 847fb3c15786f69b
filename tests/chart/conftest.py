"""Fixtures for the chart checks: the API stand-in (behind the OpenAPI v3 proxy), Helm v4's
library (helm-sdkpy) pointed at it, and kubectl."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

# Helm keeps its release records in memory instead of a Secret: client-go's typed Secret
# client writes protobuf, which the stand-in does not speak (415). The chart's own objects
# go through Helm's JSON (unstructured) client and are stored in the stand-in as usual.
# Helm's Go runtime copies the process environment when it loads, before any test could
# set it, so the variable must come from outside: HELM_DRIVER=memory python -m pytest tests/chart
if os.environ.get("HELM_DRIVER") != "memory":
    raise RuntimeError("run the chart checks with HELM_DRIVER=memory (see tests/chart/README.md)")

import helm_sdkpy  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
CHART = REPO / "charts" / "tidemark"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests" / "standin"))

from openapi_proxy import OpenApiProxy  # noqa: E402


class Cluster:
    """The stand-in as Helm and kubectl see it."""

    def __init__(self, url: str, kubeconfig: pathlib.Path) -> None:
        self.url = url
        self.kubeconfig = kubeconfig
        self._helm: dict[str, helm_sdkpy.Configuration] = {}

    def helm(self, namespace: str) -> helm_sdkpy.Configuration:
        """One configuration per namespace: with HELM_DRIVER=memory the release records
        live in it, so upgrade and uninstall must use the one that installed."""
        if namespace not in self._helm:
            self._helm[namespace] = helm_sdkpy.Configuration(namespace=namespace, kubeconfig=str(self.kubeconfig))
        return self._helm[namespace]

    def install(
        self,
        release: str,
        namespace: str,
        values: dict[str, Any] | None = None,
        chart: pathlib.Path = CHART,
        crds: bool = False,
    ) -> dict[str, Any]:
        """`helm install --create-namespace` (no --wait: nothing runs the operator's Pods).

        The CRDs belong to one release per cluster, so unless `crds` (or the values) say
        otherwise the release is installed with `crds.install=false`."""
        values = dict(values or {})
        values.setdefault("crds", {"install": crds})
        action = helm_sdkpy.Install(self.helm(namespace))
        return asyncio.run(
            action.run(release, str(chart), values=values, create_namespace=True, wait=False, timeout=120)
        )

    def upgrade(
        self,
        release: str,
        namespace: str,
        chart: pathlib.Path = CHART,
        values: dict[str, Any] | None = None,
        reuse_values: bool = False,
    ) -> dict[str, Any]:
        """`helm upgrade` (no --wait)."""
        action = helm_sdkpy.Upgrade(self.helm(namespace))
        return asyncio.run(
            action.run(release, str(chart), values=values or {}, wait=False, timeout=120, reuse_values=reuse_values)
        )

    def uninstall(self, release: str, namespace: str) -> dict[str, Any]:
        return asyncio.run(helm_sdkpy.Uninstall(self.helm(namespace)).run(release, wait=False))

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        kubectl = shutil.which("kubectl") or str(pathlib.Path(sys.executable).parent / "kubectl")
        result = subprocess.run(
            [kubectl, "--kubeconfig", str(self.kubeconfig), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result

    def get(self, *args: str) -> dict[str, Any]:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)


def manifest_objects(release: dict[str, Any]) -> list[dict[str, Any]]:
    """The objects Helm rendered and applied for a release (its stored manifest)."""
    return [doc for doc in yaml.safe_load_all(release["manifest"]) if doc]


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from start_cluster(tmp_path_factory.mktemp("standin"))


def start_cluster(tmp: pathlib.Path, version: str | None = None) -> Iterator[Cluster]:
    """A stand-in of its own behind the OpenAPI proxy (which reports `version`, e.g.
    "1.28.5", as the server's /version when given)."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "tests" / "standin"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tidemark_standin", "serve", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=open(tmp / "standin.log", "w"),
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("READY "):
        proc.kill()
        raise RuntimeError(f"the stand-in did not start: {line!r}; see {tmp / 'standin.log'}")
    proxy = OpenApiProxy(line.split(" ", 1)[1], version=version).start()
    kubeconfig = tmp / "kubeconfig"
    subprocess.run(
        [sys.executable, "-m", "tidemark_standin", "kubeconfig", "--server", proxy.url, "--out", str(kubeconfig)],
        check=True,
        capture_output=True,
        env=env,
    )
    yield Cluster(proxy.url, kubeconfig)
    proxy.stop()
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
