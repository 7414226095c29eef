#!/usr/bin/env bash
# The federation benchmark in one command (see docs/benchmarks.md, "Federation fan-out"):
#   1. builds (deploy/setup.sh, or the targets in $TESSERA_BENCH_BUILD_DIR when set),
#   2. creates an ephemeral PostgreSQL cluster (initdb defaults, fsync on, Unix socket only),
#   3. starts tessera-server on it with --heartbeat-interval 1s, agents on 127.0.0.1,
#   4. runs federation_bench: the server's CPU idle (the baseline), then N simulated agents
#      (one gRPC channel and connection each) register, connect and heartbeat every second
#      while the server's CPU is measured again; then W writes of one Binding that places a
#      workload on every cluster, each timed from just before the PUT to the moment the last
#      agent holds its work, beside the PUT's own round trip and a REST watch event of it,
#   5. removes everything it started or created (also on error or Ctrl-C).
# Traffic stays on loopback and Unix sockets. Bounded: N agents, W writes, two CPU windows;
# about 3 minutes for the default.
#
#   bench/run_federation_bench.sh              default: 1,000 agents, 50 writes, 20 s windows
#   bench/run_federation_bench.sh --quick      50 agents, 5 writes, 3 s windows (smoke run)
#   options: --agents N --writes W --cpu-window S --no-build --results FILE.json
#   env: TESSERA_BENCH_BUILD_DIR (build dir to use, default build/), TESSERA_BENCH_SERVER_ARGS
#        (extra tessera-server flags)
# Exit status: non-zero when the run failed, or when any registration or stream failed, a
# write missed an agent or the watcher, or a cluster was not Ready (the figures still print).
set -euo pipefail
source "$(dirname "$0")/../deploy/lib.sh"
source "$(dirname "$0")/lib.sh"

agents=1000
writes=50
cpu_window=20
build=1
results=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) agents=50; writes=5; cpu_window=3 ;;
    --agents) agents="$2"; shift ;;
    --writes) writes="$2"; shift ;;
    --cpu-window) cpu_window="$2"; shift ;;
    --no-build) build=0 ;;
    --results) results="$2"; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done

bench_binaries "$build" federation_bench

# Every agent is a socket at both ends: the server (started below, inheriting this) and the
# load generator need more than the usual 1,024 open files.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge $((agents + 512)) ] ||
  die "the open-file limit ($(ulimit -n), hard $(ulimit -Hn)) is too low for $agents agents"

bench_begin tessera-fedbench

# ---- PostgreSQL: an ephemeral cluster, Unix socket only ----
bench_start_postgres tessera

# ---- tessera-server, heartbeats every second ----
log "starting tessera-server (--heartbeat-interval 1s)"
# shellcheck disable=SC2086 # TESSERA_BENCH_SERVER_ARGS is a list of flags
bench_start_server tessera --agent-port-file "$WORK/agent.port" --heartbeat-interval 1s \
  --admin-kubeconfig "$WORK/kubeconfig" ${TESSERA_BENCH_SERVER_ARGS:-}
AGENT_PORT="$(cat "$WORK/agent.port")"

log "federation_bench: $agents agents, $writes writes, ${cpu_window} s CPU windows"
set +e
timeout $((cpu_window * 3 + writes * 10 + agents / 2 + 300)) "$BENCH_BIN" \
  --server "127.0.0.1:$PORT" --agent-server "127.0.0.1:$AGENT_PORT" \
  --kubeconfig "$WORK/kubeconfig" --server-pid "$SERVER_PID" --postgres-pid "$PG_PID" \
  --agents "$agents" --writes "$writes" --cpu-window "$cpu_window" --json "$WORK/result.json"
bench_rc=$?
set -e
if [ -n "$results" ] && [ -f "$WORK/result.json" ]; then cp "$WORK/result.json" "$results"; fi

# Anything the server or PostgreSQL complained about during the run.
bench_log_complaints
bench_machine_note "shared by tessera-server, PostgreSQL and the load generator"
[ "$bench_rc" -eq 0 ] || die "federation_bench failed (exit $bench_rc)"
