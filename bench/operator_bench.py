"""Operator benchmark: N BackupPolicies on the API stand-in, one scheduled tick.

Run through bench/operator.sh (it builds the operator and passes --operator). Starts the
stand-in, creates the CRDs, N policies in --namespaces namespaces whose schedule fires
once at a minute T chosen far enough ahead (`M H * * *`, UTC), starts the operator,
waits until it has settled (every policy has a nextScheduleTime, CPU idle), then watches
Jobs across T and reports tick → Job delays, Job counts, the operator's RSS and CPU, and
the stand-in's CPU (a single-threaded Python server: if it is busy for the whole tick
window, the delays are its, not the operator's).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
import yaml

CLK_TCK = os.sysconf("SC_CLK_TCK")
BP = "/apis/tidemark.dev/v1alpha1"
TARGET_DELAY_S = 1.0
TARGET_RSS_MIB = 200.0  # at 10,000 policies (issue #19)
TARGET_CPU_RATIO = 1.3  # operator CPU per policy at a tick, against the series' first run
PROFILED_STANDIN = """
import cProfile, runpy, sys
out = sys.argv.pop(1)
profiler = cProfile.Profile()
profiler.enable()
try:
    runpy.run_module("tidemark_standin", run_name="__main__")
except SystemExit:
    pass
finally:
    profiler.disable()
    profiler.dump_stats(out)
"""


def log(msg: str) -> None:
    print(f"\033[1;35m[bench]\033[0m {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


# BENCH_COUNT_REQUESTS=FILE: the stand-in logs "time method path" per request to FILE.
COUNTED_STANDIN = """
import runpy, sys, time
from tidemark_standin import server
out = open(sys.argv.pop(1), "w", buffering=1)
original = server.parse_request
async def parse_request(raw, request_id):
    out.write(f"{time.time():.3f} {raw.method} {raw.path} {'watch' if raw.query.get('watch') else ''}\\n")
    return await original(raw, request_id)
server.parse_request = parse_request
runpy.run_module("tidemark_standin", run_name="__main__")
"""


# --- processes ---------------------------------------------------------------------------
def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM in KiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_idle(pid: int, window: float = 2.0, max_cpu: float = 0.05, timeout: float = 120) -> bool:
    """Waits until the process used at most `max_cpu` CPU seconds over `window` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(window)
        if cpu_seconds(pid) - before <= max_cpu:
            return True
    return False


# --- objects -----------------------------------------------------------------------------
def policy(name: str, namespace: str, schedule: str) -> dict:
    ref = lambda secret, key: {"name": secret, "key": key}  # noqa: E731
    return {
        "apiVersion": "tidemark.dev/v1alpha1",
        "kind": "BackupPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "schedule": schedule,
            "timeZone": "UTC",
            "database": {
                "host": "db.example",
                "database": name,
                "userSecretRef": ref("db", "username"),
                "passwordSecretRef": ref("db", "password"),
            },
            "s3": {
                "bucket": "bench",
                "prefix": "postgres",
                "region": "us-east-1",
                "credentials": {
                    "accessKeyIdSecretRef": ref("s3", "access-key-id"),
                    "secretAccessKeySecretRef": ref("s3", "secret-access-key"),
                },
            },
            "verification": {"enabled": False},
        },
    }


class Watch(threading.Thread):
    """A watch on `path` from `rv`, handing each event with the client's receive time to `on_event`."""

    def __init__(self, url: str, path: str, rv: str) -> None:
        super().__init__(daemon=True)
        self.url, self.path, self.rv = url, path, rv
        self.response: requests.Response | None = None
        self.closing = False

    def close(self) -> None:
        """Ends the watch (the stand-in waits for open requests when it stops)."""
        self.closing = True
        if self.response is not None:
            self.response.close()

    def run(self) -> None:
        params = {"watch": "true", "resourceVersion": self.rv, "timeoutSeconds": "3600", "allowWatchBookmarks": "true"}
        try:
            with requests.get(self.url + self.path, params=params, stream=True, timeout=3600) as resp:
                self.response = resp
                for line in resp.iter_lines():
                    received = time.time()
                    if line:
                        self.on_event(json.loads(line), received)
        except (requests.RequestException, AttributeError, ValueError):
            if not self.closing:
                raise

    def on_event(self, event: dict, received: float) -> None:
        raise NotImplementedError


class JobWatch(Watch):
    """Records every Job ADDED event with the client's receive time."""

    def __init__(self, url: str, rv: str) -> None:
        super().__init__(url, "/apis/batch/v1/jobs", rv)
        self.added: list[dict] = []
        self.lock = threading.Lock()

    def on_event(self, event: dict, received: float) -> None:
        if event["type"] != "ADDED":
            return
        meta = event["object"]["metadata"]
        with self.lock:
            self.added.append(
                {
                    "received": received,
                    "namespace": meta["namespace"],
                    "name": meta["name"],
                    "policy": meta.get("labels", {}).get("tidemark.dev/policy"),
                    "scheduled": (meta.get("annotations") or {}).get("tidemark.dev/scheduled-time"),
                    "created": meta.get("creationTimestamp"),
                }
            )

    def count(self) -> int:
        with self.lock:
            return len(self.added)


def parse_time(text: str | None) -> float | None:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() if text else None


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


# --- the stand-in alone ----------------------------------------------------------------------
BASELINE_MODES = {
    "create": "create Job",
    "list-create": "list by label + create Job",
    "tick": "create Job + create Event + apply status",
    "list-tick": "list by label + create Job + create Event + apply status",
}


class CountingWatch(Watch):
    """Counts the events of one type on a watch (the operator's BackupPolicy watch in --baseline)."""

    def __init__(self, url: str, path: str, rv: str, event_type: str) -> None:
        super().__init__(url, path, rv)
        self.event_type = event_type
        self.seen = 0

    def on_event(self, event: dict, received: float) -> None:
        if event["type"] == self.event_type:
            self.seen += 1


def baseline_status(job: str, scheduled: str, next_time: str, generation: int) -> dict:
    """A BackupPolicy status as the operator applies it at a tick (one active backup)."""
    condition = lambda type_, status, reason, message: {  # noqa: E731
        "type": type_, "status": status, "reason": reason, "message": message,
        "lastTransitionTime": scheduled, "observedGeneration": generation,
    }
    return {
        "observedGeneration": generation,
        "lastScheduleTime": scheduled,
        "nextScheduleTime": next_time,
        "active": [{"kind": "Backup", "name": job, "scheduledTime": scheduled}],
        "backupCount": 0,
        "consecutiveFailures": 0,
        "conditions": [
            condition("Ready", "True", "SpecValid", "the policy is valid and scheduled"),
            condition("BackupRunning", "True", "JobActive", f"Job {job} is running"),
            condition("LastBackupSucceeded", "Unknown", "NoBackupYet", "no backup has completed yet"),
        ],
    }


def baseline_event(policy_ref: dict, job: str, scheduled: str) -> dict:
    """An events.k8s.io/v1 Event shaped as kube-runtime's Recorder sends it."""
    now = dt.datetime.now(dt.UTC)
    return {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": f"{policy_ref['name']}.{time.time_ns():x}", "namespace": policy_ref["namespace"]},
        "action": "CreateJob",
        "reason": "BackupStarted",
        "note": f"created Job {job} (scheduled for {scheduled})",
        "type": "Normal",
        "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "regarding": policy_ref,
        "reportingController": "tidemark-operator",
        "reportingInstance": "tidemark-operator",
    }


def baseline(args: argparse.Namespace) -> int:
    """The stand-in's floor for the operator's minimum per policy at a tick, with the bench's
    Job watch and an operator-like Job watch open. Modes (--baseline-mode): `create` a Job
    (the body of a Job the operator created in the last full run); `list-create`: list the
    policy's Jobs by label first; `tick`: what the operator sends per policy at a tick —
    create the Job (owned by the policy), create an events.k8s.io/v1 Event, server-side
    apply the policy's status (with the operator's BackupPolicy watch open too);
    `list-tick`: list first, then as `tick`."""
    import asyncio

    import aiohttp

    mode = args.baseline_mode or ("create" if args.create_only else "list-create")
    tick_mode = mode.endswith("tick")
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    root = Path(__file__).resolve().parent.parent
    golden = root / "operator/tests/golden/webshop-backup-job.yaml"
    sample = json.loads(json.dumps(yaml.safe_load(golden.read_text()), default=str))
    n = args.policies
    entry = ["-m", "tidemark_standin"]
    if args.baseline_profile:
        # CPU time, not wall time: on 2 shared cores the wall clock charges waits to whatever ran last.
        cpu_profiled = PROFILED_STANDIN.replace("cProfile.Profile()", "cProfile.Profile(__import__('time').thread_time)")
        entry = ["-c", cpu_profiled, args.baseline_profile]
    standin = subprocess.Popen(
        [sys.executable, *entry, "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=open(work / "standin-baseline.log", "w"), text=True,
    )
    watches: list = []
    tick = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    scheduled, next_time = (t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in (tick, tick + dt.timedelta(days=1)))
    try:
        url = standin.stdout.readline().strip().removeprefix("READY ")
        s = requests.Session()
        namespaces = [f"bench-{i:02d}" for i in range(args.namespaces)]
        for ns in namespaces:
            s.post(url + "/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        policies: list[dict] = []
        if tick_mode:
            crds = Path(args.crds)
            texts = [crds.read_text()] if crds.is_file() else [p.read_text() for p in sorted((root / "charts/tidemark/files/crds").glob("*.yaml"))]
            for text in texts:
                for crd in yaml.safe_load_all(text):
                    if crd:
                        r = s.post(url + "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd)
                        assert r.status_code == 201, r.text
            for i in range(n):
                ns = namespaces[i % len(namespaces)]
                r = s.post(f"{url}{BP}/namespaces/{ns}/backuppolicies", json=policy(f"bp-{i:04d}", ns, "0 0 * * *"))
                assert r.status_code == 201, r.text
                meta = r.json()["metadata"]
                policies.append({"apiVersion": "tidemark.dev/v1alpha1", "kind": "BackupPolicy", "name": meta["name"],
                                 "namespace": ns, "uid": meta["uid"], "resourceVersion": meta["resourceVersion"]})
        rv = s.get(url + "/apis/batch/v1/jobs").json()["metadata"]["resourceVersion"]
        watch, operator_watch = JobWatch(url, rv), JobWatch(url, rv)
        watches = [watch, operator_watch]
        policy_watch = None
        if tick_mode:
            policy_watch = CountingWatch(url, BP + "/backuppolicies", rv, "MODIFIED")
            watches.append(policy_watch)
        for w in watches:
            w.start()
        time.sleep(0.5)

        def job_for(i: int) -> dict:
            ns, name = namespaces[i % len(namespaces)], f"bp-{i:04d}"
            meta = sample["metadata"]
            body = {
                "apiVersion": "batch/v1", "kind": "Job", "spec": sample["spec"],
                "metadata": {"name": f"{name}-backup-bench", "namespace": ns,
                             "labels": dict(meta.get("labels", {}), **{"tidemark.dev/policy": name}),
                             "annotations": meta.get("annotations", {})},
            }
            if tick_mode:
                ref = policies[i]
                body["metadata"]["ownerReferences"] = [
                    {"apiVersion": ref["apiVersion"], "kind": ref["kind"], "name": ref["name"], "uid": ref["uid"],
                     "controller": True, "blockOwnerDeletion": True}
                ]
            return body

        async def run() -> list[float]:
            limit = asyncio.Semaphore(args.baseline or n)
            returned: list[float] = []
            apply_headers = {"Content-Type": "application/apply-patch+yaml"}
            apply_params = {"fieldManager": "tidemark-operator", "force": "true"}
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
                async def one(i: int) -> None:
                    body = job_for(i)
                    ns, policy_name = body["metadata"]["namespace"], body["metadata"]["labels"]["tidemark.dev/policy"]
                    async with limit:
                        params = {"labelSelector": f"tidemark.dev/policy={policy_name},app.kubernetes.io/managed-by=tidemark-operator"}
                        if mode.startswith("list"):
                            async with http.get(f"{url}/apis/batch/v1/namespaces/{ns}/jobs", params=params) as r:
                                await r.read()
                        async with http.post(f"{url}/apis/batch/v1/namespaces/{ns}/jobs", json=body) as r:
                            assert r.status == 201, await r.text()
                        if tick_mode:
                            job = body["metadata"]["name"]
                            event = baseline_event(policies[i], job, scheduled)
                            async with http.post(f"{url}/apis/events.k8s.io/v1/namespaces/{ns}/events", json=event) as r:
                                assert r.status == 201, await r.text()
                            status = {"apiVersion": "tidemark.dev/v1alpha1", "kind": "BackupPolicy",
                                      "status": baseline_status(job, scheduled, next_time, 1)}
                            async with http.patch(f"{url}{BP}/namespaces/{ns}/backuppolicies/{policy_name}/status",
                                                  params=apply_params, headers=apply_headers,
                                                  data=json.dumps(status)) as r:
                                assert r.status == 200, await r.text()
                        returned.append(time.time())
                await asyncio.gather(*(one(i) for i in range(n)))
            return returned

        cpu0 = cpu_seconds(standin.pid)
        t0 = time.time()
        returned = asyncio.run(run())
        while time.time() < t0 + 60 and (
            watch.count() < n or operator_watch.count() < n or (policy_watch is not None and policy_watch.seen < n)
        ):
            time.sleep(0.01)
        all_seen = time.time() - t0
        cpu = cpu_seconds(standin.pid) - cpu0
        seen = [j["received"] - t0 for j in watch.added]
        done = [t - t0 for t in returned]
        missing = [w for w in (watch, operator_watch) if w.count() < n]
        if missing or (policy_watch is not None and policy_watch.seen < n):
            print(f"WARNING: watches incomplete: Jobs {watch.count()}/{operator_watch.count()}, "
                  f"policies {policy_watch.seen if policy_watch else '-'} of {n}", file=sys.stderr)
    finally:
        for w in watches:
            w.close()
        stop(standin)
    c = args.baseline or "unbounded"
    requests_per_policy = {"create": 1, "list-create": 2, "tick": 3, "list-tick": 4}[mode]
    print(f"# stand-in alone: {n} × ({BASELINE_MODES[mode]}), concurrency {c}, {os.cpu_count()} cores"
          + (" (under cProfile)" if args.baseline_profile else ""))
    print(f"policy done      p50 {pct(done, 50) * 1000:.0f} ms, p95 {pct(done, 95) * 1000:.0f} ms, max {max(done) * 1000:.0f} ms")
    print(f"Job seen (watch) p50 {pct(seen, 50) * 1000:.0f} ms, p95 {pct(seen, 95) * 1000:.0f} ms, max {max(seen) * 1000:.0f} ms")
    print(f"all watch events {all_seen * 1000:.0f} ms")
    print(f"stand-in CPU     {cpu:.2f} s  ({cpu / n * 1000:.2f} ms per policy, "
          f"{cpu / n / requests_per_policy * 1000:.2f} ms per request)")
    return 0


# --- the run -----------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--summarize", nargs="+", default=None, metavar="WORKDIR",
                    help="print the series table from the results of earlier runs (first = baseline)")
    ap.add_argument("--operator", help="the tidemark-operator binary")
    ap.add_argument("--crds", help="output of `tidemark-operator crd`")
    ap.add_argument("--policies", type=int, default=1000)
    ap.add_argument("--namespaces", type=int, default=10)
    ap.add_argument("--lead", type=float, default=None, help="seconds from start to the earliest allowed tick")
    ap.add_argument("--workdir")
    ap.add_argument("--baseline", type=int, default=None, metavar="CONCURRENCY",
                    help="no operator: a trivial client does list+create per policy at this concurrency (0: all at once)")
    ap.add_argument("--create-only", action="store_true", help="with --baseline: no list before each create")
    ap.add_argument("--baseline-mode", choices=sorted(BASELINE_MODES), default=None,
                    help="with --baseline: the requests per policy (default list-create; create = --create-only)")
    ap.add_argument("--baseline-profile", default=None, metavar="FILE",
                    help="with --baseline: run the stand-in under cProfile, stats to FILE")
    args = ap.parse_args()
    if args.summarize:
        return summarize(args.summarize)
    if not args.workdir:
        ap.error("--workdir is required")
    if args.baseline is not None:
        return baseline(args)
    if not (args.operator and args.crds):
        ap.error("--operator and --crds are required")
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    (work / "results.json").unlink(missing_ok=True)
    n = args.policies
    # Creating N policies and the operator's first reconciles take about 3 ms per policy on
    # the stand-in; the lead covers both with room, so the tick never meets a busy stand-in.
    lead = args.lead if args.lead is not None else 40 + 0.01 * n

    # BENCH_PROFILE_STANDIN=FILE: the stand-in runs under cProfile (a slower stand-in).
    entry = ["-m", "tidemark_standin"]
    if os.environ.get("BENCH_PROFILE_STANDIN"):
        entry = ["-c", PROFILED_STANDIN, os.environ["BENCH_PROFILE_STANDIN"]]
    elif os.environ.get("BENCH_COUNT_REQUESTS"):
        entry = ["-c", COUNTED_STANDIN, os.environ["BENCH_COUNT_REQUESTS"]]
    standin = subprocess.Popen(
        [sys.executable, *entry, "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=open(work / "standin.log", "w"),
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    operator = None
    watch = None
    try:
        url = standin.stdout.readline().strip().removeprefix("READY ")
        assert url.startswith("http://"), f"stand-in did not start: {url!r}"
        kubeconfig = work / "kubeconfig"
        subprocess.run(
            [sys.executable, "-m", "tidemark_standin", "kubeconfig", "--server", url, "--out", str(kubeconfig)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        s = requests.Session()

        def post(path: str, body: dict) -> None:
            r = s.post(url + path, data=json.dumps(body), headers={"Content-Type": "application/json"})
            assert r.status_code in (200, 201), f"POST {path}: {r.status_code} {r.text[:300]}"

        for crd in yaml.safe_load_all(Path(args.crds).read_text()):
            if crd:
                post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
        namespaces = [f"bench-{i:02d}" for i in range(args.namespaces)]
        for ns in namespaces:
            post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})

        # The tick: the first minute boundary at least `lead` seconds away.
        tick = -(-int(time.time() + lead) // 60) * 60
        tick_dt = dt.datetime.fromtimestamp(tick, dt.UTC)
        schedule = f"{tick_dt.minute} {tick_dt.hour} * * *"
        log(f"stand-in {url}; {n} policies in {len(namespaces)} namespaces, schedule '{schedule}' UTC "
            f"(tick {tick_dt:%H:%M:%S}, {tick - time.time():.0f} s from now)")

        t0 = time.monotonic()
        for i in range(n):
            ns = namespaces[i % len(namespaces)]
            post(f"{BP}/namespaces/{ns}/backuppolicies", policy(f"bp-{i:04d}", ns, schedule))
        create_s = time.monotonic() - t0
        log(f"created {n} policies in {create_s:.1f} s")

        rv = s.get(url + "/apis/batch/v1/jobs").json()["metadata"]["resourceVersion"]
        watch = JobWatch(url, rv)
        watch.start()

        metrics_port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TIDEMARK_", "KUBE", "RUST_LOG"))}
        env["KUBECONFIG"] = str(kubeconfig)
        op_log = open(work / "operator.log", "w")
        started = time.monotonic()
        operator = subprocess.Popen(
            [args.operator, "run", "--runner-image", "ghcr.io/example/tidemark-runner:bench",
             "--metrics-addr", f"127.0.0.1:{metrics_port}", "--log-format", "json"],
            stdout=op_log, stderr=subprocess.STDOUT, env=env,
        )
        pid = operator.pid

        # Settle: every policy has status.nextScheduleTime, then the operator is idle.
        while True:
            time.sleep(1)
            if operator.poll() is not None:
                raise SystemExit(f"the operator exited ({operator.returncode}); see {work / 'operator.log'}")
            items = s.get(url + BP + "/backuppolicies").json()["items"]
            ready = sum(1 for p in items if (p.get("status") or {}).get("nextScheduleTime"))
            if ready == n:
                break
            if time.monotonic() - started > 300:
                raise SystemExit(f"only {ready}/{n} policies got a status within 300 s")
        status_s = time.monotonic() - started
        wait_idle(pid)
        settle_s = time.monotonic() - started
        settled = proc_status(pid)
        cpu_settle = cpu_seconds(pid)
        log(f"operator settled: statuses after {status_s:.1f} s, idle after {settle_s:.1f} s, "
            f"RSS {settled['VmRSS'] / 1024:.1f} MiB, CPU {cpu_settle:.2f} s")
        margin = tick - time.time()
        if margin < 3:
            log(f"WARNING: settled only {margin:.1f} s before the tick; rerun with a larger --lead")
        pre_jobs = watch.count()

        # The tick.
        cpu_before = cpu_seconds(pid)
        standin_cpu_before = cpu_seconds(standin.pid)
        while time.time() < tick:
            time.sleep(0.05)
        peak_rss_sampled = 0
        deadline = tick + 120
        while time.time() < deadline:
            peak_rss_sampled = max(peak_rss_sampled, proc_status(pid)["VmRSS"])
            if watch.count() - pre_jobs >= n:
                break
            time.sleep(0.1)
        all_seen = time.time()
        wait_idle(pid, timeout=120)
        idle_after = time.time()
        time.sleep(1)  # late duplicates would show up here
        cpu_tick = cpu_seconds(pid) - cpu_before
        standin_cpu_tick = cpu_seconds(standin.pid) - standin_cpu_before
        final = proc_status(pid)

        with watch.lock:
            jobs = list(watch.added[pre_jobs:])
        listed = s.get(url + "/apis/batch/v1/jobs").json()["items"]
    finally:
        if operator is not None:
            stop(operator)
        if watch is not None:
            watch.close()
        stop(standin)

    # --- report ----------------------------------------------------------------------------
    per_policy: dict[tuple[str, str], int] = {}
    for j in jobs:
        per_policy[(j["namespace"], j["policy"])] = per_policy.get((j["namespace"], j["policy"]), 0) + 1
    duplicates = sum(c - 1 for c in per_policy.values() if c > 1)
    wrong_tick = sum(1 for j in jobs if parse_time(j["scheduled"]) != tick)
    delays = [j["received"] - (parse_time(j["scheduled"]) or tick) for j in jobs]
    server = [parse_time(j["created"]) - tick for j in jobs]
    # The operator's own view: its "job created" log lines (after the POST returned).
    logged = []
    for line in (work / "operator.log").read_text().splitlines():
        if '"job created"' in line:
            entry = json.loads(line)
            logged.append(parse_time(entry["timestamp"]) - tick)
    if not delays:
        print("no Jobs were created at the tick", file=sys.stderr)
        return 1
    p50, p95, worst = pct(delays, 50), pct(delays, 95), max(delays)
    peak = max(final["VmHWM"], peak_rss_sampled) / 1024
    ok_count = len(jobs) == n and len(per_policy) == n and duplicates == 0 and wrong_tick == 0 and len(listed) == n
    rows = [
        ("policies / namespaces", f"{n} / {args.namespaces}"),
        ("policies created (client, sequential)", f"{create_s:.1f} s"),
        ("operator start → all statuses written", f"{status_s:.1f} s"),
        ("operator start → idle", f"{settle_s:.1f} s  (CPU {cpu_settle:.2f} s)"),
        ("tick (UTC)", f"{tick_dt:%Y-%m-%d %H:%M:%S}  (settled {margin:.0f} s before)"),
        ("Jobs created at the tick", f"{len(jobs)}  (policies with a Job {len(per_policy)}, duplicates {duplicates}, "
                                     f"other scheduled time {wrong_tick}, Jobs listed after {len(listed)})"),
        ("delay tick → Job seen, p50", f"{p50 * 1000:.0f} ms"),
        ("delay tick → Job seen, p95", f"{p95 * 1000:.0f} ms"),
        ("delay tick → Job seen, max", f"{worst * 1000:.0f} ms"),
        ("delay tick → Job seen, min", f"{min(delays) * 1000:.0f} ms"),
        ("delay tick → create returned (operator log)",
         f"p50 {pct(logged, 50) * 1000:.0f} ms, p95 {pct(logged, 95) * 1000:.0f} ms, max {max(logged) * 1000:.0f} ms"
         if logged else "no log lines"),
        ("creationTimestamp − tick (1 s resolution)", f"max {max(server):.0f} s, median {statistics.median(server):.0f} s"),
        ("tick → last Job seen / operator idle", f"{all_seen - tick:.1f} s / {idle_after - tick:.1f} s"),
        ("operator CPU for the tick", f"{cpu_tick:.2f} s"),
        ("stand-in CPU for the tick", f"{standin_cpu_tick:.2f} s  (single-threaded Python)"),
        ("operator RSS settled / after the tick", f"{settled['VmRSS'] / 1024:.1f} / {final['VmRSS'] / 1024:.1f} MiB"),
        ("operator peak RSS (VmHWM)", f"{peak:.1f} MiB"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"# tidemark operator benchmark {dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%SZ}, {os.cpu_count()} cores")
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    print(f"RATIO peak RSS      target {TARGET_RSS_MIB:.0f} MiB ÷ {peak:.1f} MiB = {TARGET_RSS_MIB / peak:.2f}"
          f"   ({'met' if peak < TARGET_RSS_MIB else 'NOT met'})")
    print(f"RATIO delay p95     target {TARGET_DELAY_S * 1000:.0f} ms ÷ {p95 * 1000:.0f} ms = {TARGET_DELAY_S / p95:.2f}"
          f"   ({'met' if p95 < TARGET_DELAY_S else 'NOT met'})")
    print(f"RATIO delay max     target {TARGET_DELAY_S * 1000:.0f} ms ÷ {worst * 1000:.0f} ms = {TARGET_DELAY_S / worst:.2f}"
          f"   ({'met' if worst < TARGET_DELAY_S else 'NOT met'})")
    print(f"Job count           {'exactly one Job per policy' if ok_count else 'WRONG (see above)'}")
    (work / "delays.json").write_text(json.dumps(jobs))
    (work / "results.json").write_text(json.dumps({
        "policies": n, "operator_cpu_s": cpu_tick, "standin_cpu_s": standin_cpu_tick, "peak_rss_mib": peak,
        "settled_rss_mib": settled["VmRSS"] / 1024, "jobs": len(jobs), "policies_with_job": len(per_policy),
        "duplicates": duplicates, "wrong_tick": wrong_tick, "listed": len(listed), "p95_ms": p95 * 1000,
        "settled_before_tick_s": margin, "ok_count": ok_count,
    }))
    return 0 if ok_count else 1


def summarize(dirs: list[str]) -> int:
    """The series table: operator CPU per policy at the tick and its ratio to the first
    run's, peak RSS, Jobs against policies, the stand-in's CPU apart."""
    runs = []
    for d in dirs:
        f = Path(d) / "results.json"
        if not f.is_file():
            print(f"{d}: no results (the run failed; see its log)")
            continue
        runs.append(json.loads(f.read_text()))
    if not runs:
        return 1
    base = runs[0]["operator_cpu_s"] / runs[0]["policies"]
    print(f"# operator series, one tick each, {os.cpu_count()} cores; ratio = CPU per policy ÷ the {runs[0]['policies']}-policy run's")
    print(f"{'policies':>9} {'op CPU s':>9} {'ms/policy':>10} {'ratio':>6} {'peak RSS MiB':>13} "
          f"{'Jobs':>6} {'missing':>8} {'dupl.':>6} {'stand-in CPU s':>15} {'ms/policy':>10}")
    ok = True
    for r in runs:
        n = r["policies"]
        per = r["operator_cpu_s"] / n
        ratio = per / base if base > 0 else float("inf")
        missing = n - r["policies_with_job"]
        print(f"{n:>9} {r['operator_cpu_s']:>9.2f} {per * 1000:>10.3f} {ratio:>6.2f} {r['peak_rss_mib']:>13.1f} "
              f"{r['jobs']:>6} {missing:>8} {r['duplicates']:>6} {r['standin_cpu_s']:>15.2f} "
              f"{r['standin_cpu_s'] / n * 1000:>10.3f}")
        ok &= ratio <= TARGET_CPU_RATIO and r["ok_count"] and r["peak_rss_mib"] < TARGET_RSS_MIB
    last = runs[-1]
    last_ratio = last["operator_cpu_s"] / last["policies"] / base if base > 0 else float("inf")
    print(f"RATIO CPU per policy  {last['policies']} vs {runs[0]['policies']}: {last_ratio:.2f} "
          f"(target ≤ {TARGET_CPU_RATIO})   ({'met' if last_ratio <= TARGET_CPU_RATIO else 'NOT met'})")
    print(f"RATIO peak RSS        target {TARGET_RSS_MIB:.0f} MiB ÷ {last['peak_rss_mib']:.1f} MiB = "
          f"{TARGET_RSS_MIB / last['peak_rss_mib']:.2f} at {last['policies']}   "
          f"({'met' if last['peak_rss_mib'] < TARGET_RSS_MIB else 'NOT met'})")
    print(f"Jobs                  {'exactly one per policy in every run' if all(r['ok_count'] for r in runs) else 'WRONG (see above)'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
