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

# bench_start_postgres: an ephemeral cluster in $PGDATA (initdb defaults, fsync on), Unix
# socket in $WORK only, port 5432; sets PG_PID.
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
}

bench_steal_ticks() { awk '/^cpu /{print $9}' /proc/stat; }  # time the hypervisor ran others

# bench_machine_note WHO: "done: N cores WHO; load average before/after; stolen time".
bench_machine_note() {
  log "done: $(nproc) cores $1;" \
    "load average before ${LOAD_BEFORE:-?}, after $(cut -d' ' -f1-3 /proc/loadavg);" \
    "CPU time stolen by the hypervisor:" \
    "$(( ($(bench_steal_ticks) - STEAL_BEFORE) * 1000 / $(getconf CLK_TCK) )) ms"
}
