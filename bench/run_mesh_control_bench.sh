#!/usr/bin/env bash
# The mesh control plane benchmark in one command (see docs/benchmarks.md, "Mesh control plane"):
#   1. builds (deploy/setup.sh, or the targets in $TESSERA_BENCH_BUILD_DIR when set),
#   2. creates an ephemeral PostgreSQL cluster (initdb defaults, fsync on, Unix socket only),
#   3. starts tessera-server on it, the mesh listener on 127.0.0.1,
#   4. runs mesh_control_bench: N simulated proxy streams (over C gRPC channels) connect and
#      take their configuration; then W changes of the ShardMap "default" (a REST PUT), each
#      timed from just before the PUT to the moment every stream acknowledged the new version,
#      beside the PUT's own round trip and a REST watch event of it, and the moment the
#      ShardMap's status.rollout says done; the server's CPU over the changes,
#   5. removes everything it started or created (also on error or Ctrl-C).
# Traffic stays on loopback and Unix sockets. Bounded: N streams, W changes; about a minute for
# the default.
#
#   bench/run_mesh_control_bench.sh              default: 1,000 streams, 16 channels, 20 changes
#   bench/run_mesh_control_bench.sh --quick      100 streams, 4 channels, 3 changes (smoke run)
#   options: --proxies N --channels C --changes W --no-build --results FILE.json
#   env: TESSERA_BENCH_BUILD_DIR (build dir to use, default build/), TESSERA_BENCH_SERVER_ARGS
#        (extra tessera-server flags)
# Exit status: non-zero when the run failed, or when a stream ended, a change missed a stream,
# the watcher or the rollout (the figures still print).
set -euo pipefail
source "$(dirname "$0")/../deploy/lib.sh"
source "$(dirname "$0")/lib.sh"

proxies=1000
channels=16
changes=20
build=1
results=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) proxies=100; channels=4; changes=3 ;;
    --proxies) proxies="$2"; shift ;;
    --channels) channels="$2"; shift ;;
    --changes) changes="$2"; shift ;;
    --no-build) build=0 ;;
    --results) results="$2"; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done

bench_binaries "$build" mesh_control_bench
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

bench_begin tessera-meshbench

bench_start_postgres tessera

log "starting tessera-server (mesh on 127.0.0.1, any port)"
# shellcheck disable=SC2086 # TESSERA_BENCH_SERVER_ARGS is a list of flags
bench_start_server tessera --mesh-listen 127.0.0.1:0 --mesh-port-file "$WORK/mesh.port" \
  --admin-kubeconfig "$WORK/kubeconfig" ${TESSERA_BENCH_SERVER_ARGS:-}

log "mesh_control_bench: $proxies streams on $channels channels, $changes changes"
set +e
timeout $((changes * 40 + proxies / 2 + 300)) "$BENCH_BIN" \
  --server "127.0.0.1:$PORT" --mesh-server "127.0.0.1:$(cat "$WORK/mesh.port")" \
  --kubeconfig "$WORK/kubeconfig" --server-pid "$SERVER_PID" --postgres-pid "$PG_PID" \
  --proxies "$proxies" --channels "$channels" --changes "$changes" --json "$WORK/result.json"
bench_rc=$?
set -e
if [ -n "$results" ] && [ -f "$WORK/result.json" ]; then cp "$WORK/result.json" "$results"; fi

bench_log_complaints
bench_machine_note "shared by tessera-server, PostgreSQL and the load generator"
[ "$bench_rc" -eq 0 ] || die "mesh_control_bench failed (exit $bench_rc)"
