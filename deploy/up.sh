#!/usr/bin/env bash
# Sets up, builds and runs the local federation in the foreground: a PostgreSQL it creates
# under .tessera/, tessera-server on https://127.0.0.1:8443 (agents on :8444) with an admin
# kubeconfig in .tessera/kubeconfig, three agents standing for three datacenters (cluster-a
# in dc-a and cluster-b in dc-b of region-1, cluster-c in dc-c of region-2), the demo
# application running in every RZone cell, and a gateway tessera-proxy per datacenter
# (programmed by the server's mesh control plane on :8445) routing each user to the cell that
# owns the user's bucket. Ctrl-C stops everything it started. State survives restarts.
#   ./deploy/up.sh            start (TESSERA_PORT=9443 TESSERA_AGENT_PORT=9444
#                             TESSERA_MESH_PORT=9445 TESSERA_GATEWAY_PORT=28080 for other ports)
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
AGENT_PORT="${TESSERA_AGENT_PORT:-8444}"
MESH_PORT="${TESSERA_MESH_PORT:-8445}"
GATEWAY_PORT="${TESSERA_GATEWAY_PORT:-18080}"  # dc-a; dc-b and dc-c take the next two
BUILD="$TESSERA_ROOT/build"
PGPORT=5432

"$TESSERA_ROOT/deploy/setup.sh"

mkdir -p "$STATE"
PGPARENT="$(pg_data_parent "$STATE")"
if [ "$reset" -eq 1 ]; then
  log "resetting local state"
  as_pg_user "$PG_BIN/pg_ctl" -D "$PGPARENT/pg" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$PGPARENT/pg" "$PGPARENT/run" "$STATE/pki" "$STATE/kubeconfig" "$STATE"/*.log \
    "$STATE/agents" "$STATE/proxies"
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
AGENT_PIDS=()
PROXY_PIDS=()
cleanup() {
  trap - INT TERM EXIT
  if [ ${#PROXY_PIDS[@]} -gt 0 ]; then
    log "stopping the gateway proxies"
    kill -TERM "${PROXY_PIDS[@]}" 2>/dev/null || true
    wait "${PROXY_PIDS[@]}" 2>/dev/null || true
  fi
  if [ ${#AGENT_PIDS[@]} -gt 0 ]; then
    log "stopping the agents (and their replicas)"
    kill -TERM "${AGENT_PIDS[@]}" 2>/dev/null || true
    wait "${AGENT_PIDS[@]}" 2>/dev/null || true
  fi
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
"$BUILD/tessera-server" \
  --listen "127.0.0.1:$PORT" \
  --agent-listen "127.0.0.1:$AGENT_PORT" \
  --mesh-listen "127.0.0.1:$MESH_PORT" \
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

export KUBECONFIG="$STATE/kubeconfig"
KUBECTL=(kubectl --request-timeout=30s)

# Cells, then one agent per datacenter. A new agent registers with a fresh bootstrap token;
# later starts reuse the credential it keeps in its state directory.
"${KUBECTL[@]}" apply -f "$TESSERA_ROOT/docs/examples/cells.yaml" -f "$TESSERA_ROOT/docs/examples/shardmap.yaml" >/dev/null
mkdir -p "$STATE/agents"
start_agent() {  # cluster region zone first-port
  local cluster="$1" region="$2" zone="$3" first="$4" dir="$STATE/agents/$1" token=()
  mkdir -p "$dir"
  if [ ! -s "$dir/credential" ]; then
    token=(--token "$(printf 'apiVersion: tessera.io/v1\nkind: BootstrapToken\nmetadata: {generateName: up-}\nspec: {cluster: %s}\n' "$cluster" |
      "${KUBECTL[@]}" create -f - -o jsonpath='{.status.token}')")
  fi
  # Replicas inherit the agent's PATH: templates may name tessera-demo-app without a path.
  PATH="$BUILD/federation/demo_app:$PATH" "$BUILD/federation/tessera-agent" --server "127.0.0.1:$AGENT_PORT" --ca-file "$STATE/pki/ca.crt" \
    --cluster "$cluster" --region "$region" --zone "$zone" --runtime process \
    --state-dir "$dir" --port-range "$first-$((first + 999))" "${token[@]}" >>"$dir.log" 2>&1 &
  AGENT_PIDS+=($!)
}
log "starting agents for dc-a, dc-b (region-1) and dc-c (region-2) (logs: $STATE/agents/)"
start_agent cluster-a region-1 dc-a 21000
start_agent cluster-b region-1 dc-b 22000
start_agent cluster-c region-2 dc-c 23000
ready_status() {
  "${KUBECTL[@]}" get cluster "$1" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null
}
for c in cluster-a cluster-b cluster-c; do
  for _ in $(seq 300); do
    [ "$(ready_status "$c")" = True ] && break
    sleep 0.2
  done
  [ "$(ready_status "$c")" = True ] ||
    die "cluster $c did not become Ready within 60s (see $STATE/agents/$c.log and $STATE/server.log)"
done

log "deploying the demo application (the scheduler places it into the RZone cells)"
sed "s|@DEMO_APP@|$BUILD/federation/demo_app/tessera-demo-app|g" "$TESSERA_ROOT/deploy/demo.yaml" |
  "${KUBECTL[@]}" apply -f - >/dev/null
demo_ready() {
  "${KUBECTL[@]}" get application demo -n demo -o 'jsonpath={.status.readyReplicas}' 2>/dev/null
}
for _ in $(seq 300); do
  [ "$(demo_ready)" = 6 ] && break
  sleep 0.2
done
[ "$(demo_ready)" = 6 ] ||
  die "the demo application has $(demo_ready) of 6 replicas ready after 60s (kubectl get replicas -n demo)"
# One gateway proxy per datacenter. Each authenticates with an APIToken of role "proxy" (kept
# in its state directory, mode 0600) and takes its whole configuration from the control plane.
mkdir -p "$STATE/proxies"
start_gateway() {  # datacenter listen-port admin-port
  local dc="$1" port="$2" admin="$3" id="gw-$1" dir="$STATE/proxies/gw-$1"
  mkdir -p "$dir"
  if [ ! -s "$dir/token" ]; then
    "${KUBECTL[@]}" delete apitoken "proxy-$id" --ignore-not-found >/dev/null
    (umask 077 && printf 'apiVersion: tessera.io/v1\nkind: APIToken\nmetadata: {name: proxy-%s}\nspec: {user: "system:proxy:%s", role: proxy}\n' "$id" "$id" |
      "${KUBECTL[@]}" create -f - -o jsonpath='{.status.token}' >"$dir/token")
  fi
  "$BUILD/mesh/proxy/tessera-proxy" --control-plane "127.0.0.1:$MESH_PORT" \
    --token-file "$dir/token" --ca-file "$STATE/pki/ca.crt" \
    --id "$id" --datacenter "$dc" --role gateway --advertise "127.0.0.1:$port" \
    --admin "127.0.0.1:$admin" --workers 1 >>"$dir.log" 2>&1 &
  PROXY_PIDS+=($!)
}
log "starting a gateway proxy per datacenter (logs: $STATE/proxies/)"
start_gateway dc-a "$GATEWAY_PORT" $((GATEWAY_PORT + 1000))
start_gateway dc-b $((GATEWAY_PORT + 1)) $((GATEWAY_PORT + 1001))
start_gateway dc-c $((GATEWAY_PORT + 2)) $((GATEWAY_PORT + 1002))
in_sync() {
  "${KUBECTL[@]}" get proxies -o 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="InSync")].status}{"\n"}{end}' 2>/dev/null |
    grep -c True || true
}
for _ in $(seq 300); do
  [ "$(in_sync)" -ge 3 ] && curl -fsS -o /dev/null -H 'x-user-id: 7' "http://127.0.0.1:$GATEWAY_PORT/" 2>/dev/null && break
  sleep 0.2
done
[ "$(in_sync)" -ge 3 ] ||
  die "the gateway proxies are not in sync after 60s (kubectl get proxies; $STATE/proxies/*.log)"

"${KUBECTL[@]}" get clusters
echo
"${KUBECTL[@]}" get replicas -n demo
echo
"${KUBECTL[@]}" get proxies
FIRST="$("${KUBECTL[@]}" get replicas -n demo -o 'jsonpath={.items[0].status.endpoint}')"

cat <<BANNER

  Tessera is running.
    API         https://127.0.0.1:$PORT   (CA: $STATE/pki/ca.crt)
    agents      127.0.0.1:$AGENT_PORT   (cluster-a/dc-a, cluster-b/dc-b, cluster-c/dc-c)
    gateways    http://127.0.0.1:$GATEWAY_PORT (dc-a)  :$((GATEWAY_PORT + 1)) (dc-b)  :$((GATEWAY_PORT + 2)) (dc-c)
    kubeconfig  $STATE/kubeconfig   (admin; mode 0600)
    console     https://127.0.0.1:$PORT/   (the browser warns about the local CA: trust $STATE/pki/ca.crt or accept)
                log in with the admin token: awk '/token:/ {print \$2}' $STATE/kubeconfig

  Try:
    export KUBECONFIG=$STATE/kubeconfig
    kubectl get clusters,cells
    kubectl get replicas -A
    curl http://$FIRST/
    curl -H 'x-user-id: 1042' http://127.0.0.1:$GATEWAY_PORT/     # bucket 42: cell rz-b, via dc-b's gateway
    kubectl patch shardmap default --type=merge -p '{"spec":{"reason":"move 40-49","assignments":[{"cell":"rz-a","buckets":"0-39"},{"cell":"rz-b","buckets":"50-69"},{"cell":"rz-c","buckets":"40-49,70-99"}]}}'
    curl -H 'x-user-id: 1042' http://127.0.0.1:$GATEWAY_PORT/     # now cell rz-c, within a second
    kubectl get shardmaps,proxies                                   # rollout: every proxy acked
    kubectl get --raw "/apis/tessera.io/v1/namespaces/demo/replicas/\$(kubectl get replicas -n demo -o jsonpath='{.items[0].metadata.name}')/log?tailLines=5"

  A read-only (viewer) console login for a colleague; the token is printed once:
    kubectl create -o jsonpath='{.status.token}{"\\n"}' -f - <<<'{"apiVersion":"tessera.io/v1","kind":"APIToken","metadata":{"name":"vera"},"spec":{"user":"vera","role":"viewer"}}'

  Ctrl-C stops the agents (and their replicas), the server and PostgreSQL (data stays in $STATE).

BANNER
wait "$SERVER_PID"
