# shellcheck shell=bash
# Shared by the bench/run_*_bench.sh scripts (after deploy/lib.sh): building the targets,
# a throwaway work directory with PostgreSQL torn down on any exit, and how busy the
# machine was while the figures were taken.

# bench_build BUILD TARGET...: with BUILD=1 builds TARGETs in $BUILD_DIR (deploy/setup.sh
# installs what is missing; without TESSERA_BENCH_BUILD_DIR it builds build/ entirely).
bench_build() {
  local build="$1"
  shift
  [ "$build" -eq 1 ] || return 0
  if [ -z "${TESSERA_BENCH_BUILD_DIR:-}" ]; then
    "$TESSERA_ROOT/deploy/setup.sh"
  else
    "$TESSERA_ROOT/deploy/setup.sh" --no-build
    [ -f "$BUILD_DIR/CMakeCache.txt" ] ||
      cmake -S "$TESSERA_ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$BUILD_DIR" -j "${TESSERA_JOBS:-2}" --target "$@"
  fi
}

# bench_binaries BUILD TARGET: BUILD_DIR ($TESSERA_BENCH_BUILD_DIR, default build/), TARGET and
# tessera-server built in it when BUILD=1 (bench_build); BENCH_BIN and SERVER_BIN, which must
# exist.
bench_binaries() {
  BUILD_DIR="${TESSERA_BENCH_BUILD_DIR:-$TESSERA_ROOT/build}"
  bench_build "$1" "$2" tessera-server
  SERVER_BIN="$BUILD_DIR/tessera-server"
  BENCH_BIN="$BUILD_DIR/bench/$2"
  [ -x "$SERVER_BIN" ] || die "$SERVER_BIN not built"
  [ -x "$BENCH_BIN" ] || die "$BENCH_BIN not built"
}

# bench_begin PREFIX: $WORK (a new directory) and $PGDATA in it; on any exit the server
# ($SERVER_PID) and PostgreSQL are stopped, their logs' tails shown if the script failed, and
# $WORK removed. Also notes the load and the hypervisor's stolen time (bench_machine_note).
bench_begin() {
  WORK="$(mktemp -d "/tmp/$1-XXXXXX")"
  PGDATA="$WORK/pg"
  SERVER_PID=""
  PG_STARTED=0
  trap bench_cleanup INT TERM EXIT
  bench_note_start
}

# bench_note_start: how busy the machine is now, for bench_machine_note.
bench_note_start() {
  LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
  STEAL_BEFORE="$(bench_steal_ticks)"
}

bench_cleanup() {
  local rc=$?
  trap - INT TERM EXIT
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ "$PG_STARTED" -eq 1 ]; then
    as_pg_user "$PG_BIN/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [ "$rc" -ne 0 ]; then
    for f in "$WORK/server.log" "$PGDATA/postgres.log"; do
      [ -s "$f" ] && { echo "--- tail of $f" >&2; tail -20 "$f" >&2; }
    done
  fi
  rm -rf "$WORK"
  exit "$rc"
}

# bench_start_postgres [DB...]: an ephemeral cluster in $PGDATA (initdb defaults, fsync on),
# Unix socket in $WORK only, port 5432, with the databases DB created; sets PG_PID.
bench_start_postgres() {
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$WORK"; fi
  chmod 755 "$WORK"
  log "creating a PostgreSQL cluster in $PGDATA (initdb defaults, fsync on)"
  as_pg_user "$PG_BIN/initdb" -D "$PGDATA" -A trust -U postgres -E UTF8 >/dev/null
  as_pg_user "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/postgres.log" -w -t 60 \
    -o "-k $WORK -c listen_addresses='' -p 5432" start >/dev/null
  PG_STARTED=1
  # shellcheck disable=SC2034 # read by the calling script
  PG_PID="$(head -1 "$PGDATA/postmaster.pid")"
  if [ $# -gt 0 ]; then
    local db creates=()
    for db in "$@"; do creates+=(-c "CREATE DATABASE $db"); done
    bench_psql -d postgres "${creates[@]}"
  fi
}

# bench_psql ARG...: psql as postgres on the cluster of bench_start_postgres, stopping at the
# first error, unaligned output without headers (-qAt); ARGs name the database (-d DB).
bench_psql() {
  "$PG_BIN/psql" -h "$WORK" -p 5432 -U postgres -v ON_ERROR_STOP=1 -qAt "$@"
}

# bench_start_server DB [FLAG...]: tessera-server ($SERVER_BIN) in the background on database DB
# of that cluster, API and agent listeners on 127.0.0.1 (any port), warnings only, its log
# appended to $WORK/server.log, and FLAGs. Sets SERVER_PID; once it serves (its migrations have
# run by then) PORT, its API port. It also waits for every file that a FLAG "--*-port-file F"
# names (e.g. --agent-port-file "$WORK/agent.port"). Dies when the server exits or is not
# serving within 30 s.
bench_start_server() {
  local db="$1"
  shift
  local wait_for=("$WORK/server.port") prev="" arg f ready tries
  for arg in "$@"; do
    case "$prev" in --*-port-file) wait_for+=("$arg") ;; esac
    prev="$arg"
  done
  rm -f "${wait_for[@]}"
  "$SERVER_BIN" --listen 127.0.0.1:0 --port-file "$WORK/server.port" --agent-listen 127.0.0.1:0 \
    --db "host=$WORK port=5432 user=postgres dbname=$db" --log-level warn "$@" \
    >>"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for ((tries = 0; ; tries++)); do
    ready=1
    for f in "${wait_for[@]}"; do [ -f "$f" ] || ready=0; done
    [ "$ready" -eq 1 ] && break
    [ "$tries" -lt 300 ] || die "tessera-server did not start within 30 s"
    kill -0 "$SERVER_PID" 2>/dev/null || die "tessera-server exited"
    sleep 0.1
  done
  # shellcheck disable=SC2034 # read by the calling script
  PORT="$(cat "$WORK/server.port")"
}

# bench_stop_server: stops the server of bench_start_server (TERM) and waits for it.
bench_stop_server() {
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" || true
  SERVER_PID=""
}

# bench_log_complaints: how many warning/error lines the server's log and PostgreSQL's log
# hold, and the first five of each (on stderr).
bench_log_complaints() {
  local server_complaints pg_complaints
  server_complaints="$(grep -ciE '\[(warning|error|critical)\]' "$WORK/server.log" || true)"
  pg_complaints="$(grep -cE '(ERROR|FATAL|PANIC):' "$PGDATA/postgres.log" || true)"
  log "server log: $server_complaints warning/error lines; PostgreSQL log: $pg_complaints ERROR/FATAL lines"
  grep -iE '\[(warning|error|critical)\]' "$WORK/server.log" | head -5 >&2 || true
  grep -E '(ERROR|FATAL|PANIC):' "$PGDATA/postgres.log" | head -5 >&2 || true
}

bench_steal_ticks() { awk '/^cpu /{print $9}' /proc/stat; }  # time the hypervisor ran others

# bench_machine_note WHO: "done: N cores WHO; load average before/after; stolen time".
bench_machine_note() {
  log "done: $(nproc) cores $1;" \
    "load average before ${LOAD_BEFORE:-?}, after $(cut -d' ' -f1-3 /proc/loadavg);" \
    "CPU time stolen by the hypervisor:" \
    "$(( ($(bench_steal_ticks) - STEAL_BEFORE) * 1000 / $(getconf CLK_TCK) )) ms"
}
