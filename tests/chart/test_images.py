"""The Dockerfiles, checked without a container engine: what they copy is what
scripts/build-static builds (and .dockerignore lets through), they run as the non-root
user the chart expects, and the runner image carries every PostgreSQL major the runner
may pick."""

from __future__ import annotations

import pathlib
import re
import shlex
import subprocess

import pytest
import yaml

from conftest import CHART, REPO

DOCKER = REPO / "docker"
STATIC_DIR = "target/x86_64-unknown-linux-gnu/release"


def instructions(dockerfile: pathlib.Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def final_stage(dockerfile: pathlib.Path) -> list[tuple[str, str]]:
    steps = instructions(dockerfile)
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def stage_args(stage: list[tuple[str, str]]) -> dict[str, str]:
    """The ARG defaults of a stage (`ARG NAME=value`)."""
    return dict(a.split("=", 1) for word, a in stage if word == "ARG" and "=" in a)


def expand(text: str, args: dict[str, str]) -> str:
    """`${NAME}` replaced by the ARG default: what a build without --build-arg copies."""
    return re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)].strip('"'), text)


def dockerignore_allows(path: str) -> bool:
    allowed = False
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line == "*":
            allowed = False
        elif line.startswith("!") and line[1:] == path:
            allowed = True
    return allowed


@pytest.mark.parametrize(("name", "binary"), [("operator", "tidemark-operator"), ("runner", "tidemark-runner")])
def test_image_copies_the_static_binary_and_runs_it_as_non_root(name: str, binary: str) -> None:
    dockerfile = DOCKER / f"{name}.Dockerfile"
    stage = final_stage(dockerfile)
    defaults = stage_args(stage)
    copies = [shlex.split(expand(args, defaults)) for word, args in stage if word == "COPY" and "--from=" not in args]
    # The published image copies scripts/build-static's output (BIN_DIR's default).
    assert copies == [[f"{STATIC_DIR}/{binary}", copies[0][-1]]], copies
    source, destination = copies[0]
    assert dockerignore_allows(source), f".dockerignore keeps {source} out of the build context"
    build = (REPO / "scripts" / "build-static").read_text()
    assert "TARGET=x86_64-unknown-linux-gnu" in build and '/$TARGET/release"' in build, "scripts/build-static builds elsewhere"
    entrypoint = [args for word, args in stage if word == "ENTRYPOINT"]
    assert entrypoint and yaml.safe_load(entrypoint[-1])[0] == destination
    users = [args for word, args in stage if word == "USER"]
    assert users, "the image has no USER (it would run as root)"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0 and gid.isdigit() and int(gid) != 0, users[-1]
    # The chart's Pods run as the same numeric user (runAsNonRoot needs a numeric USER).
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert int(uid) == values["podSecurityContext"]["runAsUser"]


def test_operator_image_runs_the_run_subcommand_the_chart_passes() -> None:
    stage = final_stage(DOCKER / "operator.Dockerfile")
    assert stage[0] == ("FROM", "scratch")
    cmd = [yaml.safe_load(args) for word, args in stage if word == "CMD"]
    assert cmd == [["run"]]
    deployment = (CHART / "templates" / "deployment.yaml").read_text()
    assert "args: [run]" in deployment


def test_runner_image_has_every_postgresql_major_where_the_runner_looks() -> None:
    steps = instructions(DOCKER / "runner.Dockerfile")
    # The published image takes its tools from the stage PG_SOURCE names by default (PGDG);
    # PG_SOURCE=local is the test build's stand-in (docs/images.md).
    source = stage_args(steps[: next(i for i, (w, _) in enumerate(steps) if w == "FROM")])["PG_SOURCE"]
    assert source == "pgdg"
    start = steps.index(("FROM", f"debian:12-slim AS pg-{source}"))
    end = next(i for i in range(start + 1, len(steps)) if steps[i][0] == "FROM")
    stage = steps[start:end]
    majors = [int(m) for m in stage_args(stage)["PG_MAJORS"].strip('"').split()]
    assert majors == list(range(13, 19))
    run = " ".join(a for word, a in stage if word == "RUN")
    assert "postgresql-client-%s" in run
    for tool in ("pg_dump", "pg_restore", "psql"):
        assert tool in run, f"the build does not check {tool}"
    env = dict(a.split("=", 1) for word, a in steps if word == "ENV")
    cli = (REPO / "runner" / "src" / "cli" / "mod.rs").read_text()
    default = re.search(r'env = var::PG_BIN_ROOT,\s*default_value = "([^"]+)"', cli)
    assert default, "runner/src/cli/mod.rs: the PG_BIN_ROOT default not found"
    assert env["TIDEMARK_PG_BIN_ROOT"] == default.group(1) == "/usr/lib/postgresql"


@pytest.mark.parametrize("binary", ["tidemark-operator", "tidemark-runner"])
def test_built_binaries_are_static(binary: str) -> None:
    path = REPO / STATIC_DIR / binary
    if not path.exists():
        pytest.skip(f"{path} not built; scripts/build-static builds and checks it")
    description = subprocess.run(["file", "-b", str(path)], capture_output=True, text=True, check=True).stdout
    assert "statically linked" in description or "static-pie linked" in description, description
