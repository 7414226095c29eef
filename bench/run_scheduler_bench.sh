#!/usr/bin/env bash
# The placement solver benchmark in one command (see docs/benchmarks.md, "Scheduler"):
#   1. builds scheduler_bench (in $TESSERA_BENCH_BUILD_DIR, default build/; configures it when
#      it is not yet configured). The solver is a pure library: no PostgreSQL, no server.
#   2. runs it: one application over 1,000 member clusters (p50/p99/max of many runs) and
#      10,000 applications re-placed (from nothing, nothing changed, one cluster per cell lost,
#      a datacenter lost), each beside a trivial pass over the same input measured in the same
#      run, and the goals (one app p99 ≤ 5 ms; all apps ≤ 2 s),
#   3. says how busy the machine was (load average, CPU time stolen by the hypervisor).
# Bounded: about 15 s by default (single-threaded), 2 s with --quick.
#
#   bench/run_scheduler_bench.sh              1,000 clusters, 10,000 apps, 2,000 single-app runs
#   bench/run_scheduler_bench.sh --quick      1,000 apps, 200 runs (smoke run)
#   options: --clusters N (multiple of 100) --apps N --runs N --seed N --no-build
#            --results FILE.json (the JSON line with every figure)
#   env: TESSERA_BENCH_BUILD_DIR (build dir to use, default build/), TESSERA_JOBS (default 2)
# Exit status: non-zero when the build or the run failed, or when one of the bench's own checks
# failed (a cluster over capacity, a steady pass that moved replicas, a replica that left its
# cell): the figures still print.
set -euo pipefail
source "$(dirname "$0")/../deploy/lib.sh"
source "$(dirname "$0")/lib.sh"

build=1
results=""
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) args+=(--quick) ;;
    --clusters|--apps|--runs|--seed) args+=("$1" "$2"); shift ;;
    --no-build) build=0 ;;
    --results) results="$2"; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done

BUILD_DIR="${TESSERA_BENCH_BUILD_DIR:-$TESSERA_ROOT/build}"
if [ "$build" -eq 1 ]; then
  [ -f "$BUILD_DIR/CMakeCache.txt" ] ||
    cmake -S "$TESSERA_ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD_DIR" -j "${TESSERA_JOBS:-2}" --target scheduler_bench
fi
BENCH_BIN="$BUILD_DIR/bench/scheduler_bench"
[ -x "$BENCH_BIN" ] || die "$BENCH_BIN not built"
build_type="$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)"
case "$build_type" in
  Release|RelWithDebInfo) ;;
  *) log "warning: $BUILD_DIR is a '${build_type:-unknown}' build: figures are not comparable" ;;
esac

# Other work on the machine skews every figure: say how busy it was.
bench_note_start

OUT="$(mktemp /tmp/tessera-schedbench-XXXXXX)"
trap 'rm -f "$OUT"' EXIT
log "scheduler_bench ${args[*]:-}"
set +e
timeout 600 "$BENCH_BIN" "${args[@]}" | tee "$OUT"
bench_rc=${PIPESTATUS[0]}
set -e
if [ -n "$results" ]; then tail -1 "$OUT" > "$results"; fi

bench_machine_note "(the benchmark uses one)"
[ "$bench_rc" -eq 0 ] || die "scheduler_bench failed (exit $bench_rc)"
