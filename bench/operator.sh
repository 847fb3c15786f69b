#!/usr/bin/env bash
# Operator benchmark: N BackupPolicies on the API stand-in, one scheduled tick for all of
# them; prints the tick → Job delays, the Job count and the operator's peak RSS and CPU,
# with ratios against the targets (delay < 1 s, peak RSS < 100 MiB).
#
#   bench/operator.sh                  # 1,000 policies in 10 namespaces
#   bench/operator.sh --quick          # 100 policies
#   bench/operator.sh --policies 500   # any number
#   bench/operator.sh --lead 120       # seconds before the earliest allowed tick (default 40 + N/20)
#
# Sets itself up (scripts/setup.sh, a release build of the operator). Logs under
# .tidemark/bench/operator-<N>/; results: stdout and .tidemark/bench/operator-results-<N>.txt.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../scripts/setup.sh
source "$ROOT/scripts/setup.sh"

POLICIES=1000
EXTRA=()
while (($#)); do
  case "$1" in
    --quick) POLICIES=100 ;;
    --policies) POLICIES=$2; shift ;;
    --namespaces|--lead) EXTRA+=("$1" "$2"); shift ;;
    *) echo "usage: $0 [--quick] [--policies N] [--namespaces K] [--lead SECONDS]" >&2; exit 2 ;;
  esac
  shift
done

BENCH="$TIDEMARK_STATE/bench"
WORK="$BENCH/operator-$POLICIES"
OPERATOR="$ROOT/target/release/tidemark-operator"
mkdir -p "$WORK"

printf '\033[1;35m[bench]\033[0m %s\n' "building the operator (release, niced: the cores are shared)" >&2
nice -n 10 cargo build --release -q -p tidemark-operator --manifest-path "$ROOT/Cargo.toml"
"$OPERATOR" crd >"$WORK/crds.yaml"

"$TIDEMARK_VENV/bin/python" "$ROOT/bench/operator_bench.py" --operator "$OPERATOR" \
  --crds "$WORK/crds.yaml" --policies "$POLICIES" --workdir "$WORK" "${EXTRA[@]}" |
  tee "$BENCH/operator-results-$POLICIES.txt"
