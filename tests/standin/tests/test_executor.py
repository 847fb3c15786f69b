"""The executor: Jobs become Pods and local processes, with env, messages, retries, deadlines."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import time
import uuid
from typing import Any

import pytest
from conftest import PACKAGE_ROOT, Standin

RUNNER_SCRIPT = """#!/bin/sh
echo "runner got: $*" > "$TIDEMARK_TERMINATION_LOG"
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    """A stand-in plus an executor that maps the image `tidemark-runner` to a local script."""
    from conftest import start_standin

    tmp = tmp_path_factory.mktemp("executor")
    script = tmp / "fake-runner"
    script.write_text(RUNNER_SCRIPT)
    script.chmod(0o755)
    server = start_standin()
    env = dict(os.environ, PYTHONPATH=str(PACKAGE_ROOT))
    cmd = [sys.executable, "-m", "tidemark_standin", "executor", "--server", server.url, "--workdir", str(tmp / "work"),
           "--runner-path-map", f"tidemark-runner={script}"]
    log = open(tmp / "executor.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("READY "), line
    yield server, tmp
    proc.terminate()
    proc.wait(timeout=10)
    log.close()
    server.stop()


def _ns(server: Standin) -> str:
    name = "x-" + uuid.uuid4().hex[:8]
    server.post("/api/v1/namespaces", {"metadata": {"name": name}})
    return name


def _job(name: str, script: str, **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "main", "image": "busybox:1.36", "command": ["/bin/sh", "-c", script]}
    container.update(spec.pop("container", {}))
    pod_spec: dict[str, Any] = {"restartPolicy": "Never", "containers": [container]}
    pod_spec.update(spec.pop("pod", {}))
    metadata = {"name": name, **spec.pop("metadata", {})}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata,
            "spec": {"backoffLimit": 0, "template": {"spec": pod_spec}, **spec}}


def _wait(predicate, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _finished_job(server: Standin, ns: str, name: str, timeout: float = 20.0) -> dict[str, Any]:
    def done():
        job = server.get(f"/apis/batch/v1/namespaces/{ns}/jobs/{name}").json()
        conds = {c["type"] for c in (job.get("status") or {}).get("conditions") or [] if c["status"] == "True"}
        return job if conds & {"Complete", "Failed"} else None

    return _wait(done, timeout, f"job {name} to finish")


def _pods(server: Standin, ns: str, job: str) -> list[dict[str, Any]]:
    return server.get(f"/api/v1/namespaces/{ns}/pods?labelSelector=job-name%3D{job}").json()["items"]


def test_a_job_runs_with_a_secret_env_var_and_reports_its_termination_message(cluster):
    server, _ = cluster
    ns = _ns(server)
    server.post(f"/api/v1/namespaces/{ns}/secrets", {"metadata": {"name": "db"}, "stringData": {"password": "s3cret"}})
    env = [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]
    body = _job("ok", 'echo "pw=$DB_PASSWORD" > "$TIDEMARK_TERMINATION_LOG"', container={"env": env})
    assert server.post(f"/apis/batch/v1/namespaces/{ns}/jobs", body).status_code == 201
    job = _finished_job(server, ns, "ok")
    types = [c["type"] for c in job["status"]["conditions"]]
    assert types == ["SuccessCriteriaMet", "Complete"]
    assert (job["status"]["succeeded"], job["status"]["active"]) == (1, 0)
    assert job["status"]["startTime"] and job["status"]["completionTime"]
    (pod,) = _pods(server, ns, "ok")
    assert pod["status"]["phase"] == "Succeeded"
    assert pod["metadata"]["ownerReferences"][0]["uid"] == job["metadata"]["uid"]
    assert pod["metadata"]["labels"]["controller-uid"] == job["metadata"]["uid"]
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"], terminated["message"]) == (0, "Completed", "pw=s3cret\n")
    assert terminated["startedAt"] and terminated["finishedAt"]


def test_the_termination_message_path_is_mapped_to_a_local_file(cluster):
    server, _ = cluster
    ns = _ns(server)
    body = _job("path", "echo mapped > /dev/termination-log")
    server.post(f"/apis/batch/v1/namespaces/{ns}/jobs", body)
    _finished_job(server, ns, "path")
    (pod,) = _pods(server, ns, "path")
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["message"] == "mapped\n"


def test_a_failing_job_retries_up_to_its_backoff_limit_then_fails(cluster):
    server, _ = cluster
    ns = _ns(server)
    body = _job("bad", "echo oops > $TIDEMARK_TERMINATION_LOG; exit 3", backoffLimit=1)
    server.post(f"/apis/batch/v1/namespaces/{ns}/jobs", body)
    job = _finished_job(server, ns, "bad")
    failed = {c["type"]: c for c in job["status"]["conditions"]}
    assert failed["Failed"]["reason"] == "BackoffLimitExceeded"
    assert failed["FailureTarget"]["reason"] == "BackoffLimitExceeded"
    assert job["status"]["failed"] == 2
    pods = _pods(server, ns, "bad")
    assert len(pods) == 2
    for pod in pods:
        terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
        assert (pod["status"]["phase"], terminated["exitCode"], terminated["reason"]) == ("Failed", 3, "Error")
        assert terminated["message"] == "oops\n"


def test_active_deadline_seconds_kills_the_process_and_fails_the_job(cluster):
    server, tmp = cluster
    ns = _ns(server)
    pid_file = tmp / f"{ns}.pid"
    body = _job("slow", f"echo $$$$ > {pid_file}; exec sleep 30", activeDeadlineSeconds=1,
                pod={"terminationGracePeriodSeconds": 1})
    started = time.monotonic()
    server.post(f"/apis/batch/v1/namespaces/{ns}/jobs", body)
    job = _finished_job(server, ns, "slow")
    assert time.monotonic() - started < 10
    assert {c["type"]: c["reason"] for c in job["status"]["conditions"]}["Failed"] == "DeadlineExceeded"
    (pod,) = _pods(server, ns, "slow")
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["reason"] == "DeadlineExceeded"
    assert terminated["exitCode"] in (143, 137)
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_missing_secret_keeps_the_pod_pending_with_create_container_config_error(cluster):
    server, _ = cluster
    ns = _ns(server)
    env = [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "later", "key": "token"}}}]
    body = _job("waits", 'echo "$TOKEN" > "$TIDEMARK_TERMINATION_LOG"', container={"env": env})
    server.post(f"/apis/batch/v1/namespaces/{ns}/jobs", body)

    def waiting():
        pods = _pods(server, ns, "waits")
        statuses = pods[0]["status"].get("containerStatuses") if pods else None
        state = statuses[0]["state"] if statuses else {}
        return state.get("waiting") if state.get("waiting", {}).get("reason") == "CreateContainerConfigError" else None

    waiting_state = _wait(waiting, what="CreateContainerConfigError")
    assert waiting_state["message"] == 'secret "later" not found'
    assert _pods(server, ns, "waits")[0]["status"]["phase"] == "Pending"
    server.post(f"/api/v1/namespaces/{ns}/secrets", {"metadata": {"name": "later"}, "stringData": {"token": "t0k"}})
    job = _finished_job(server, ns, "waits")
    assert job["status"]["succeeded"] == 1


def test_env_from_config_maps_field_refs_optional_keys_and_var_expansion_resolve_like_kubernetes(cluster):
    server, _ = cluster
    ns = _ns(server)
    server.post(f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": "cfg"}, "data": {"A": "1", "B": "2"}})
    server.post(f"/api/v1/namespaces/{ns}/secrets", {"metadata": {"name": "sec"}, "stringData": {"S": "x"}})
    container = {
        "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}, {"secretRef": {"name": "sec"}},
                    {"secretRef": {"name": "absent", "optional": True}}],
        "env": [
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "ONE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "A"}}},
            {"name": "OPT", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "nope", "optional": True}}},
            {"name": "BOTH", "value": "$(CFG_A)-$(S)-$$(CFG_B)"},
        ],
        "args": ["$(ONE)"],
    }
    script = 'echo "$CFG_A $CFG_B $S $NS $ONE ${OPT:-unset} $BOTH $0" > "$TIDEMARK_TERMINATION_LOG"; echo "$POD" >> "$TIDEMARK_TERMINATION_LOG"'
    server.post(f"/apis/batch/v1/namespaces/{ns}/jobs", _job("env", script, container=container))
    _finished_job(server, ns, "env")
    (pod,) = _pods(server, ns, "env")
    message = pod["status"]["containerStatuses"][0]["state"]["terminated"]["message"]
    first, second = message.splitlines()
    assert first == f"1 2 x {ns} 1 unset 1-x-$(CFG_B) 1"
    assert second == pod["metadata"]["name"]


def test_the_image_maps_to_a_local_runner_binary(cluster):
    server, _ = cluster
    ns = _ns(server)
    body = _job("mapped", "", container={"image": "ghcr.io/tidemark-dev/tidemark-runner:0.1.0",
                                         "command": ["/usr/local/bin/tidemark-runner"], "args": ["backup", "--x"]})
    server.post(f"/apis/batch/v1/namespaces/{ns}/jobs", body)
    _finished_job(server, ns, "mapped")
    (pod,) = _pods(server, ns, "mapped")
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["message"] == "runner got: backup --x\n"


def test_the_kill_annotation_kills_the_first_attempt_and_the_retry_succeeds(cluster):
    server, _ = cluster
    ns = _ns(server)
    body = _job("flaky", 'if [ -f "$HOME/../marker" ]; then exit 0; fi; touch "$HOME/../marker"; sleep 30',
                backoffLimit=2, metadata={"annotations": {"tidemark.dev/test-kill-after-seconds": "0.5"}})
    server.post(f"/apis/batch/v1/namespaces/{ns}/jobs", body)
    job = _finished_job(server, ns, "flaky")
    assert (job["status"]["succeeded"], job["status"]["failed"]) == (1, 1)
    exits = sorted(p["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] for p in _pods(server, ns, "flaky"))
    assert exits == [0, 137]


def test_a_suspended_job_starts_only_when_resumed(cluster):
    server, _ = cluster
    ns = _ns(server)
    server.post(f"/apis/batch/v1/namespaces/{ns}/jobs", _job("later", "true", suspend=True))
    path = f"/apis/batch/v1/namespaces/{ns}/jobs/later"
    _wait(lambda: any(c["type"] == "Suspended" for c in (server.get(path).json().get("status") or {}).get("conditions") or []),
          what="Suspended condition")
    assert _pods(server, ns, "later") == []
    server.patch(path, {"spec": {"suspend": False}})
    assert _finished_job(server, ns, "later")["status"]["succeeded"] == 1


def test_deleting_a_running_job_kills_its_process(cluster):
    server, tmp = cluster
    ns = _ns(server)
    pid_file = tmp / f"{ns}.pid"
    server.post(f"/apis/batch/v1/namespaces/{ns}/jobs",
                _job("gone", f"echo $$$$ > {pid_file}; exec sleep 30", pod={"terminationGracePeriodSeconds": 1}))
    _wait(lambda: pid_file.exists() and pid_file.read_text().strip(), what="the process to start")
    pid = int(pid_file.read_text())
    server.delete(f"/apis/batch/v1/namespaces/{ns}/jobs/gone")

    def dead():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    _wait(dead, timeout=10, what="the process to be killed")


def test_scaling_a_statefulset_to_zero_removes_its_pods(cluster):
    server, _ = cluster
    ns = _ns(server)
    path = f"/apis/apps/v1/namespaces/{ns}/statefulsets"
    body = {"metadata": {"name": "db"}, "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "db"}},
                                                  "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": []}}}}
    server.post(path, body)

    def pods():
        return sorted(p["metadata"]["name"] for p in server.get(f"/api/v1/namespaces/{ns}/pods?labelSelector=app%3Ddb").json()["items"])

    _wait(lambda: pods() == ["db-0", "db-1"], what="two pods")
    _wait(lambda: (server.get(f"{path}/db").json().get("status") or {}).get("readyReplicas") == 2, what="ready 2")
    server.patch(f"{path}/db/scale", {"spec": {"replicas": 0}})
    _wait(lambda: pods() == [], what="pods gone")
    status = server.get(f"{path}/db").json()["status"]
    assert (status["replicas"], status["readyReplicas"], status["availableReplicas"]) == (0, 0, 0)


def test_a_deployment_scales_its_pods_up_and_down(cluster):
    server, _ = cluster
    ns = _ns(server)
    path = f"/apis/apps/v1/namespaces/{ns}/deployments"
    body = {"metadata": {"name": "web"}, "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                                                   "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}}}}
    server.post(path, body)
    count = lambda: len(server.get(f"/api/v1/namespaces/{ns}/pods?labelSelector=app%3Dweb").json()["items"])  # noqa: E731
    _wait(lambda: count() == 3, what="3 pods")
    server.patch(f"{path}/web", {"spec": {"replicas": 1}})
    _wait(lambda: count() == 1, what="1 pod")


@pytest.mark.skipif(not pathlib.Path("/usr/lib/postgresql").exists(), reason="PostgreSQL is not installed")
def test_a_postgres_sidecar_is_a_throwaway_server_reachable_from_the_main_container(cluster):
    server, _ = cluster
    ns = _ns(server)
    sidecar = {"name": "scratch", "image": "postgres:17", "ports": [{"containerPort": 5432}],
               "env": [{"name": "POSTGRES_PASSWORD", "value": "pw"}, {"name": "POSTGRES_DB", "value": "scratch"}]}
    container = {"env": [{"name": "SCRATCH_HOST", "value": "localhost"}, {"name": "SCRATCH_PORT", "value": "5432"},
                         {"name": "SCRATCH_URL", "value": "postgres://postgres:pw@localhost:5432/scratch"}]}
    script = ('psql "$SCRATCH_URL" -tAc "select current_database()" > "$TIDEMARK_TERMINATION_LOG" && '
              'echo "$PGHOST $SCRATCH_HOST $([ "$PGPORT" = "$SCRATCH_PORT" ] && echo same)" >> "$TIDEMARK_TERMINATION_LOG"')
    body = _job("restore-test", script, container=container, pod={"containers": None})
    body["spec"]["template"]["spec"]["containers"] = [
        {"name": "main", "image": "busybox", "command": ["/bin/sh", "-c", script], **container}, sidecar]
    server.post(f"/apis/batch/v1/namespaces/{ns}/jobs", body)
    job = _finished_job(server, ns, "restore-test", timeout=60)
    (pod,) = _pods(server, ns, "restore-test")
    main = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert job["status"].get("succeeded") == 1, main
    assert main["message"].splitlines() == ["scratch", "127.0.0.1 127.0.0.1 same"]


@pytest.mark.skipif(not pathlib.Path("/usr/lib/postgresql").exists(), reason="PostgreSQL is not installed")
def test_a_native_postgres_sidecar_init_container_with_restart_policy_always_is_run_too(cluster):
    server, _ = cluster
    ns = _ns(server)
    sidecar = {"name": "scratch", "image": "postgres:17", "restartPolicy": "Always",
               "ports": [{"containerPort": 5432}], "env": [{"name": "POSTGRES_DB", "value": "scratch"}]}
    script = 'psql "postgres://postgres@localhost:5432/scratch" -tAc "select current_database()" > "$TIDEMARK_TERMINATION_LOG"'
    body = _job("native-sidecar", script)
    body["spec"]["template"]["spec"]["initContainers"] = [sidecar]
    server.post(f"/apis/batch/v1/namespaces/{ns}/jobs", body)
    job = _finished_job(server, ns, "native-sidecar", timeout=60)
    (pod,) = _pods(server, ns, "native-sidecar")
    main = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert job["status"].get("succeeded") == 1, main
    assert main["message"].strip() == "scratch"


@pytest.mark.skipif(not pathlib.Path("/usr/lib/postgresql").exists(), reason="PostgreSQL is not installed")
def test_a_native_postgres_sidecar_is_ready_before_the_main_container_and_stopped_after_it(cluster):
    """The operator's restore-test pod shape: the server is a native sidecar (trust auth, localhost only)."""
    import socket

    server, _ = cluster
    ns = _ns(server)
    sidecar = {
        "name": "postgres", "image": "postgres:17", "restartPolicy": "Always",
        "args": ["-c", "listen_addresses=localhost"],
        "env": [{"name": "POSTGRES_HOST_AUTH_METHOD", "value": "trust"}, {"name": "PGPORT", "value": "5432"}],
        "startupProbe": {"exec": {"command": ["pg_isready", "--host=localhost", "--port=5432"]}},
    }
    container = {"env": [{"name": "PGHOST", "value": "localhost"}, {"name": "PGPORT", "value": "5432"},
                         {"name": "PGUSER", "value": "postgres"}, {"name": "PGDATABASE", "value": "postgres"}]}
    # No retry loop: the server must accept connections the moment the main container starts.
    script = 'psql -tAc "select 40 + 2" > "$TIDEMARK_TERMINATION_LOG" && echo "$PGPORT" >> "$TIDEMARK_TERMINATION_LOG"'
    body = _job("native-order", script, container=container)
    body["spec"]["template"]["spec"]["initContainers"] = [sidecar]
    server.post(f"/apis/batch/v1/namespaces/{ns}/jobs", body)
    job = _finished_job(server, ns, "native-order", timeout=60)
    (pod,) = _pods(server, ns, "native-order")
    status = pod["status"]
    main = status["containerStatuses"][0]["state"]["terminated"]
    assert job["status"].get("succeeded") == 1, main
    answer, port = main["message"].split()
    assert answer == "42"
    # Reported as the kubelet does: the sidecar under initContainerStatuses, terminated once the main one ended.
    assert [c["name"] for c in status["containerStatuses"]] == ["main"]
    (side,) = status["initContainerStatuses"]
    assert side["name"] == "postgres"
    assert side["state"]["terminated"]["reason"] == "Completed"
    # The server is gone: its port accepts no connection any more.
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", int(port)), timeout=2):
        pass
