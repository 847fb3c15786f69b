"""CLI: `serve`, `executor`, `kubeconfig`."""

from __future__ import annotations

import argparse
import sys


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tidemark_standin")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the Kubernetes API stand-in")
    serve.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1"], help="only loopback is allowed")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port (see the READY line)")
    serve.add_argument("--state-dir", default=None, help="keep a snapshot of all objects here across restarts")
    serve.add_argument("--history-size", type=int, default=10_000, help="watch events retained (older: 410)")
    serve.add_argument("--bookmark-interval", type=float, default=30.0, help="seconds between watch BOOKMARKs")

    execu = sub.add_parser("executor", help="run Jobs as local processes (kubelet + Job controller)")
    execu.add_argument("--server", required=True, help="the stand-in's URL")
    execu.add_argument("--workdir", default=None, help="per-pod directories and logs (default: a temp dir)")
    execu.add_argument(
        "--runner-path-map",
        action="append",
        default=[],
        metavar="IMAGE=PATH",
        help="run containers of IMAGE (an image name, or a prefix ending in '*') with the local binary PATH",
    )
    execu.add_argument(
        "--container-image", action="append", default=[], metavar="IMAGE=LOCAL",
        help="pods whose first container has IMAGE (exact, repository, short name or glob) run as real "
             "containers (podman, --network=host); their containers' images map to LOCAL podman images",
    )
    execu.add_argument("--default-binary", default=None, help="binary for images without a mapping")
    execu.add_argument("--kill-grace", type=float, default=None, help="override terminationGracePeriodSeconds")
    execu.add_argument("--pg-bin", default=None, help="PostgreSQL bin dir for sidecars (default: newest installed)")
    execu.add_argument(
        "--image-env", action="append", default=[], metavar="NAME=VALUE",
        help="environment every process-run container starts with, as an image's ENV would set it "
             "(the pod's own env overrides it)",
    )

    kube = sub.add_parser("kubeconfig", help="write a kubeconfig for the stand-in")
    kube.add_argument("--server", required=True)
    kube.add_argument("--out", required=True)
    kube.add_argument("--namespace", default="default")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        from .server import main as serve_main
        from .state import Settings

        settings = Settings(history_size=args.history_size, bookmark_interval=args.bookmark_interval)
        return serve_main(args.host, args.port, args.state_dir, settings)
    if args.command == "kubeconfig":
        from .kubeconfig import write

        print(write(args.server, args.out, args.namespace))
        return 0
    from .executor.main import main as executor_main

    return executor_main(args)


if __name__ == "__main__":
    sys.exit(main())
