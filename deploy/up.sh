#!/usr/bin/env bash
# Sets up, builds and runs the local federation in the foreground: a PostgreSQL it creates
# under .tessera/, and tessera-server on https://127.0.0.1:8443 with an admin kubeconfig in
# .tessera/kubeconfig. Ctrl-C stops everything it started. State survives restarts.
#   ./deploy/up.sh            start (TESSERA_PORT=9443 to use another port)
#   ./deploy/up.sh --reset    delete the local state first (database, certificates, kubeconfig)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pki.sh"

reset=0
for arg in "$@"; do
  case "$arg" in
    --reset) reset=1 ;;
    *) die "unknown option $arg" ;;
  esac
done

STATE="${TESSERA_STATE:-$TESSERA_ROOT/.tessera}"
PORT="${TESSERA_PORT:-8443}"
PGPORT=5432

"$TESSERA_ROOT/deploy/setup.sh"

mkdir -p "$STATE"
PGPARENT="$(pg_data_parent "$STATE")"
if [ "$reset" -eq 1 ]; then
  log "resetting local state"
  as_pg_user "$PG_BIN/pg_ctl" -D "$PGPARENT/pg" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$PGPARENT/pg" "$PGPARENT/run" "$STATE/pki" "$STATE/kubeconfig" "$STATE"/*.log
fi
PGDATA="$PGPARENT/pg"
PGSOCK="$PGPARENT/run"
if [ ${#PGSOCK} -gt 90 ]; then  # unix socket paths are limited to 107 bytes
  PGSOCK="/tmp/tessera-$(printf '%s' "$PGPARENT" | sha256sum | cut -c1-12)"
fi
mkdir -p "$PGSOCK"
if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$PGPARENT" "$PGSOCK"; fi
[ "$PGPARENT" = "$STATE" ] || ln -sfn "$PGDATA" "$STATE/pg"

SERVER_PID=""
cleanup() {
  trap - INT TERM EXIT
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    log "stopping tessera-server"
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  log "stopping PostgreSQL"
  as_pg_user "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast stop >/dev/null 2>&1 || true
}
trap cleanup INT TERM EXIT

if [ ! -f "$PGDATA/PG_VERSION" ]; then
  log "creating PostgreSQL cluster in $PGDATA"
  mkdir -p "$PGDATA"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$PGDATA"; fi
  as_pg_user "$PG_BIN/initdb" -D "$PGDATA" -A trust -U postgres -E UTF8 >/dev/null
fi
log "starting PostgreSQL (unix socket in $PGSOCK)"
as_pg_user "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/postgres.log" -w \
  -o "-k $PGSOCK -c listen_addresses='' -p $PGPORT" start >/dev/null
if ! "$PG_BIN/psql" -h "$PGSOCK" -p "$PGPORT" -U postgres -Atc "SELECT 1 FROM pg_database WHERE datname='tessera'" | grep -q 1; then
  "$PG_BIN/createdb" -h "$PGSOCK" -p "$PGPORT" -U postgres tessera
fi

ensure_local_pki "$STATE/pki"

rm -f "$STATE/server.port"
log "starting tessera-server (log: $STATE/server.log)"
"$TESSERA_ROOT/build/apiserver/tessera-server" \
  --listen "127.0.0.1:$PORT" \
  --db "host=$PGSOCK port=$PGPORT user=postgres dbname=tessera" \
  --tls-cert "$STATE/pki/server.crt" --tls-key "$STATE/pki/server.key" --tls-ca "$STATE/pki/ca.crt" \
  --admin-kubeconfig "$STATE/kubeconfig" \
  --port-file "$STATE/server.port" >>"$STATE/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 300); do
  [ -f "$STATE/server.port" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$STATE/server.log" >&2; die "tessera-server exited"; }
  sleep 0.1
done
[ -f "$STATE/server.port" ] || die "tessera-server did not start within 30s (see $STATE/server.log)"

cat <<BANNER

  Tessera is running.
    API         https://127.0.0.1:$PORT   (CA: $STATE/pki/ca.crt)
    kubeconfig  $STATE/kubeconfig   (admin; mode 0600)

  Try:
    export KUBECONFIG=$STATE/kubeconfig
    kubectl api-resources
    kubectl apply -f docs/examples/cells.yaml
    kubectl get cells -w

  Ctrl-C stops the server and PostgreSQL (the data stays in $STATE).

BANNER
wait "$SERVER_PID"
