"""`python -m tidemark_standin executor`: informers for Jobs, Pods and workloads."""

from __future__ import annotations

import argparse
import asyncio
import logging
import pathlib
import signal
import sys
import tempfile

from .client import Client, informer
from .jobs import JobController
from .kubelet import Kubelet, Settings
from .workloads import WorkloadController


def parse_mapping(items: list[str], flag: str = "--runner-path-map", paths: bool = True) -> dict[str, str]:
    mapping = {}
    for item in items:
        image, sep, path = item.partition("=")
        if not sep or not image or not path:
            raise SystemExit(f"{flag} wants IMAGE={'PATH' if paths else 'LOCAL'}, got {item!r}")
        mapping[image] = str(pathlib.Path(path).resolve()) if paths else path
    return mapping


def parse_env(items: list[str]) -> dict[str, str]:
    env = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"--image-env wants NAME=VALUE, got {item!r}")
        env[name] = value
    return env


async def run(args: argparse.Namespace) -> None:
    workdir = pathlib.Path(args.workdir or tempfile.mkdtemp(prefix="tidemark-executor-"))
    workdir.mkdir(parents=True, exist_ok=True)
    settings = Settings(workdir=workdir, runner_paths=parse_mapping(args.runner_path_map),
                        default_binary=args.default_binary, kill_grace=args.kill_grace, pg_bin=args.pg_bin,
                        container_images=parse_mapping(args.container_image, "--container-image", paths=False),
                        image_env=parse_env(args.image_env))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with Client(args.server) as client:
        kubelet = Kubelet(client, settings)
        jobs = JobController(client, kubelet)
        workloads = WorkloadController(client)
        synced = [asyncio.Event() for _ in range(4)]
        tasks = [
            asyncio.create_task(informer(client, "/api/v1/pods", kubelet.on_pod_event, synced[0])),
            asyncio.create_task(informer(client, "/apis/batch/v1/jobs", jobs.on_job_event, synced[1])),
            asyncio.create_task(informer(client, "/apis/apps/v1/deployments", workloads.on_event, synced[2])),
            asyncio.create_task(informer(client, "/apis/apps/v1/statefulsets", workloads.on_event, synced[3])),
        ]
        all_synced = asyncio.ensure_future(asyncio.gather(*(e.wait() for e in synced)))
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait([all_synced, stopping], return_when=asyncio.FIRST_COMPLETED)
        if all_synced.done():
            print(f"READY {workdir}", flush=True)
        await stop.wait()
        for task in [*tasks, *jobs.tasks.values()]:
            task.cancel()
        await asyncio.gather(*tasks, *jobs.tasks.values(), return_exceptions=True)


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(run(args))
    return 0
