#!/usr/bin/env bash
# The API server benchmark in one command (see docs/benchmarks.md):
#   1. builds (deploy/setup.sh, or the targets in $TESSERA_BENCH_BUILD_DIR when set),
#   2. creates an ephemeral PostgreSQL cluster (initdb defaults, fsync on, Unix socket only),
#   3. measures the pgbench baselines on it first, with as many clients as the create phase:
#      a tiny single-row insert; a single-row insert shaped like ours (text key columns + the
#      same JSON body as jsonb); and, for diagnosis, the server's own per-create SQL
#      (SELECT tessera.write(...), on a database the server's migrations prepared),
#   4. starts tessera-server on a fresh database of that cluster and runs apiserver_bench
#      against it (create, get, list, watch, fixed-rate mixed), printing create throughput as
#      a ratio of each baseline,
#   5. measures the tiny-insert baseline once more (a large change means other work on the
#      machine interfered), and removes everything it started or created (also on error).
# Traffic stays on loopback and Unix sockets. Bounded: about 100 s of load by default.
#
#   bench/run_apiserver_bench.sh                 default: 10 s per phase, 8 connections
#   bench/run_apiserver_bench.sh --quick         2 s per phase (smoke run)
#   bench/run_apiserver_bench.sh --tls           HTTPS (a throwaway CA) instead of plain HTTP
#   bench/run_apiserver_bench.sh --pairs 5     then 5 adjacent (pgbench, API create) pairs of
#                                                D/2 s each: a steadier ratio on a busy machine
#   options: --duration S --connections C --rate R --watchers W --no-build --results FILE
#   env: TESSERA_BENCH_BUILD_DIR (build dir to use, default build/), TESSERA_BENCH_SERVER_ARGS
#        (extra tessera-server flags, e.g. "--db-pool-size 16")
set -euo pipefail
source "$(dirname "$0")/../deploy/lib.sh"
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../deploy/pki.sh"

duration=10
connections=8
rate=500
watchers=4
tls=0
pairs=0
build=1
results=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) duration=2 ;;
    --duration) duration="$2"; shift ;;
    --connections) connections="$2"; shift ;;
    --rate) rate="$2"; shift ;;
    --watchers) watchers="$2"; shift ;;
    --tls) tls=1 ;;
    --pairs) pairs="$2"; shift ;;
    --no-build) build=0 ;;
    --results) results="$2"; shift ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
[ "$connections" -ge 2 ] || die "--connections must be at least 2 (pgbench runs with -j 2)"

bench_binaries "$build" apiserver_bench

bench_begin tessera-bench

# ---- PostgreSQL: an ephemeral cluster, Unix socket only ----
bench_start_postgres pgbench tessera writefn
echo "fsync=$(bench_psql -d postgres -c 'SHOW fsync') synchronous_commit=$(bench_psql -d postgres -c 'SHOW synchronous_commit')" >&2

# ---- pgbench baselines, first, with as many clients as the create phase ----
# The schema of tessera.write(): a server started once on its own database, then stopped.
bench_start_server writefn
bench_stop_server
BODY="$("$BENCH_BIN" --print-body)"
bench_psql -d pgbench <<'SQL'
CREATE TABLE tiny (id bigserial PRIMARY KEY, v int NOT NULL);
CREATE TABLE objects (
  kind      text COLLATE "C" NOT NULL,
  namespace text COLLATE "C" NOT NULL,
  name      text COLLATE "C" NOT NULL,
  body      jsonb NOT NULL,
  PRIMARY KEY (kind, namespace, name)
);
CREATE SEQUENCE object_names;
SQL
cat > "$WORK/tiny.sql" <<'SQL'
\set v random(1, 1000000)
INSERT INTO tiny (v) VALUES (:v);
SQL
# Same body as the benchmark's creates, a unique name per insert.
printf "INSERT INTO objects (kind, namespace, name, body) VALUES ('Application', 'bench', 'app-' || nextval('object_names'), '%s'::jsonb);\n" \
  "${BODY//NAME/app}" > "$WORK/shape.sql"
# What the server runs per create (advisory lock, objects + revisions + audit rows), minus HTTP.
printf "SELECT * FROM tessera.write('create', 'Application', 'bench', 'app-' || nextval('object_names'), 0, '%s'::jsonb, NULL, now(), 'admin', 'admin', 'create', 'applications', '', 201, 'pgbench', '127.0.0.1', 'pgbench');\n" \
  "${BODY//NAME/app}" > "$WORK/write.sql"
bench_psql -d writefn -c "CREATE SEQUENCE object_names"

pgbench_tps() {  # $1: script, $2: database
  local out
  out="$("$PG_BIN/pgbench" -h "$WORK" -p 5432 -U postgres -n -M prepared -c "$connections" -j 2 \
    -T "$duration" -f "$1" "$2" 2>&1)" || { echo "$out" >&2; return 0; }
  echo "$out" | sed -n 's/^latency average = \(.*\)$/  latency average \1/p' >&2
  echo "$out" | sed -n 's/^tps = \([0-9.]*\) .*$/\1/p' | head -1
}
log "pgbench: tiny single-row insert (-n -M prepared -c $connections -j 2 -T $duration)"
TPS_TINY="$(pgbench_tps "$WORK/tiny.sql" pgbench)"
[ -n "$TPS_TINY" ] || die "pgbench (tiny insert) failed"
echo "  tps $TPS_TINY" >&2
log "pgbench: same-shape single-row insert (text keys + jsonb body of $(printf '%s' "$BODY" | wc -c) bytes)"
TPS_SHAPE="$(pgbench_tps "$WORK/shape.sql" pgbench)"
[ -n "$TPS_SHAPE" ] || die "pgbench (same-shape insert) failed"
echo "  tps $TPS_SHAPE" >&2
log "pgbench: SELECT tessera.write(...), the server's per-create SQL (diagnostic)"
TPS_WRITE="$(pgbench_tps "$WORK/write.sql" writefn)"
[ -n "$TPS_WRITE" ] || die "pgbench (tessera.write) failed"
echo "  tps $TPS_WRITE" >&2

# ---- tessera-server on a fresh database of the same cluster ----
TLS_ARGS=()
BENCH_TLS=()
if [ "$tls" -eq 1 ]; then
  ensure_local_pki "$WORK/pki" 2>/dev/null
  TLS_ARGS=(--tls-cert "$WORK/pki/server.crt" --tls-key "$WORK/pki/server.key" --tls-ca "$WORK/pki/ca.crt")
  BENCH_TLS=(--ca "$WORK/pki/ca.crt")
fi
log "starting tessera-server"
# shellcheck disable=SC2086 # TESSERA_BENCH_SERVER_ARGS is a list of flags
bench_start_server tessera --admin-kubeconfig "$WORK/kubeconfig" "${TLS_ARGS[@]}" \
  ${TESSERA_BENCH_SERVER_ARGS:-}

log "apiserver_bench: $duration s per phase, $connections connections, $watchers watchers, $rate/s mixed"
timeout $((duration * 10 + 120)) "$BENCH_BIN" --port "$PORT" --kubeconfig "$WORK/kubeconfig" \
  "${BENCH_TLS[@]}" --duration "$duration" --connections "$connections" --watchers "$watchers" \
  --rate "$rate" --baseline "pgbench tiny insert=$TPS_TINY" \
  --baseline "pgbench same-shape insert=$TPS_SHAPE" \
  --baseline "pgbench tessera.write() SQL=$TPS_WRITE" --json-out "$WORK/result.json" --strict |
  tee "$WORK/bench.out"
if [ -n "$results" ]; then cp "$WORK/result.json" "$results"; fi

# Optional: N adjacent (pgbench tiny insert, API create) pairs of D/2 s each. On a machine
# that other work shares, the ratio within a pair is steadier than the one above.
if [ "$pairs" -gt 0 ]; then
  half=$(( duration / 2 > 1 ? duration / 2 : 1 ))
  ratios=()
  for i in $(seq "$pairs"); do
    tps="$("$PG_BIN/pgbench" -h "$WORK" -p 5432 -U postgres -n -M prepared -c "$connections" -j 2 \
      -T "$half" -f "$WORK/tiny.sql" pgbench 2>&1 | sed -n 's/^tps = \([0-9.]*\) .*$/\1/p')"
    create="$("$BENCH_BIN" --port "$PORT" --kubeconfig "$WORK/kubeconfig" "${BENCH_TLS[@]}" \
      --phases create --warmup 0 --duration "$half" --connections "$connections" |
      awk '$1 == "create" { print $6; exit }')"
    ratio="$(awk -v c="$create" -v b="$tps" 'BEGIN { printf "%.3f", (b > 0 ? c / b : 0) }')"
    ratios+=("$ratio")
    echo "pair $i: pgbench tiny insert $tps tps, API create $create/s, ratio $ratio"
  done
  echo "paired create/tiny ratio: median $(printf '%s\n' "${ratios[@]}" | sort -n |
    awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }')" \
    "of $pairs pairs (${ratios[*]})"
fi

# The baseline once more, server stopped as before: a large change means other work on the
# machine interfered with the figures above.
bench_stop_server
log "pgbench: tiny single-row insert again, after the API run (noise check)"
TPS_TINY_AFTER="$(pgbench_tps "$WORK/tiny.sql" pgbench)"
CREATE_TPS="$(awk '$1 == "create" { print $6; exit }' "$WORK/bench.out")"
awk -v b="$TPS_TINY" -v a="$TPS_TINY_AFTER" -v c="$CREATE_TPS" 'BEGIN {
  printf "pgbench tiny insert: %.1f tps before, %.1f after (%+.0f%%); create/tiny = %.3f before, %.3f after\n",
    b, a, (a - b) * 100 / b, c / b, (a > 0 ? c / a : 0) }'

# Anything the server or PostgreSQL complained about during the run.
bench_log_complaints
bench_machine_note "shared by tessera-server, PostgreSQL and the load generator"
