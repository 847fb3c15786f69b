"""Performance: ready in under a second; 1,000 custom objects with a watch staying responsive."""

from __future__ import annotations

import json
import statistics
import threading
import time

import requests
from helpers import BP_PATH, backup_policy, ensure_crd


def test_the_server_is_ready_in_under_a_second(make_standin):
    timings = [make_standin().startup_seconds for _ in range(3)]
    assert statistics.median(timings) < 1.0, timings


def test_a_thousand_backup_policies_with_a_watch_stay_responsive(make_standin):
    server = make_standin()
    ensure_crd(server)
    path = f"{BP_PATH}/namespaces/default/backuppolicies"
    rv = server.get(path).json()["metadata"]["resourceVersion"]
    seen: list[str] = []
    done = threading.Event()

    def watch():
        params = {"watch": "true", "resourceVersion": rv, "timeoutSeconds": "60"}
        with requests.get(server.url + path, params=params, stream=True, timeout=60) as response:
            for line in response.iter_lines():
                if line:
                    seen.append(json.loads(line)["object"]["metadata"]["name"])
                    if len(seen) == 1000:
                        done.set()
                        return

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    session = requests.Session()
    started = time.monotonic()
    for i in range(1000):
        body = json.dumps(backup_policy(f"bp-{i:04d}"))
        response = session.post(server.url + path, data=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 201
    created = time.monotonic() - started
    assert done.wait(10), f"the watch saw {len(seen)} of 1000"
    assert seen[0] == "bp-0000" and seen[-1] == "bp-0999"
    t0 = time.monotonic()
    listed = session.get(server.url + path).json()
    list_time = time.monotonic() - t0
    assert len(listed["items"]) == 1000
    t0 = time.monotonic()
    assert session.get(f"{server.url}{path}/bp-0500").status_code == 200
    get_time = time.monotonic() - t0
    assert created < 30, created
    assert list_time < 2, list_time
    assert get_time < 0.2, get_time
