#!/usr/bin/env bash
# Operator benchmark: N BackupPolicies on the API stand-in, one scheduled tick for all of
# them; prints the tick → Job delays, the Job count and the operator's peak RSS and CPU
# (apart from the stand-in's), with ratios against the targets.
#
#   bench/operator.sh                            # 1,000 policies in 10 namespaces
#   bench/operator.sh --quick                    # 100 policies
#   bench/operator.sh --policies 500             # any number
#   bench/operator.sh --series 1000,3000,10000   # one run each, then the series table:
#                                                # operator CPU per policy at the tick and its
#                                                # ratio to the first run's (target ≤ 1.3), peak
#                                                # RSS (target < 200 MiB), Jobs vs policies
#   bench/operator.sh --lead 120                 # seconds before the earliest allowed tick
#                                                # (default 40 + N/100)
#
# Sets itself up (scripts/setup.sh, a release build of the operator). Logs under
# .tidemark/bench/operator-<N>/; results: stdout and .tidemark/bench/operator-results-<N>.txt
# (the series table also in .tidemark/bench/operator-series.txt).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../scripts/setup.sh
source "$ROOT/scripts/setup.sh"

SERIES=1000
EXTRA=()
while (($#)); do
  case "$1" in
    --quick) SERIES=100 ;;
    --policies|--series) SERIES=$2; shift ;;
    --namespaces|--lead) EXTRA+=("$1" "$2"); shift ;;
    *) echo "usage: $0 [--quick] [--policies N | --series N1,N2,...] [--namespaces K] [--lead SECONDS]" >&2; exit 2 ;;
  esac
  shift
done

BENCH="$TIDEMARK_STATE/bench"
OPERATOR="$ROOT/target/release/tidemark-operator"
mkdir -p "$BENCH"

printf '\033[1;35m[bench]\033[0m %s\n' "building the operator (release, niced: the cores are shared)" >&2
nice -n 10 cargo build --release -q -p tidemark-operator --manifest-path "$ROOT/Cargo.toml"

IFS=, read -r -a COUNTS <<<"$SERIES"
DIRS=()
STATUS=0
for POLICIES in "${COUNTS[@]}"; do
  WORK="$BENCH/operator-$POLICIES"
  mkdir -p "$WORK"
  "$OPERATOR" crd >"$WORK/crds.yaml"
  "$TIDEMARK_VENV/bin/python" "$ROOT/bench/operator_bench.py" --operator "$OPERATOR" \
    --crds "$WORK/crds.yaml" --policies "$POLICIES" --workdir "$WORK" ${EXTRA[@]+"${EXTRA[@]}"} |
    tee "$BENCH/operator-results-$POLICIES.txt" || STATUS=1
  DIRS+=("$WORK")
done
if ((${#COUNTS[@]} > 1)); then
  echo
  "$TIDEMARK_VENV/bin/python" "$ROOT/bench/operator_bench.py" --summarize "${DIRS[@]}" |
    tee "$BENCH/operator-series.txt" || STATUS=1
fi
exit "$STATUS"
