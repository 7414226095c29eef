#!/usr/bin/env bash
# The proxy benchmark in one command (see docs/benchmarks.md, "Mesh proxy"):
#   1. builds tessera-proxy (deploy/setup.sh, or the target in $TESSERA_BENCH_BUILD_DIR when set)
#      and installs nginx and wrk if they are missing (as root),
#   2. starts on loopback, each on a free port: the backend (nginx, 1 worker, `return 200 "ok"`),
#      nginx as a reverse proxy (1 worker, `proxy_pass` to an upstream with `keepalive 64`, HTTP/1.1)
#      and tessera-proxy standalone (--workers 1, one forward route to one cluster: the backend);
#      the proxies are pinned to CPU 0, the backend and wrk to the other CPUs (--no-pin: not),
#   3. measures with wrk, in one run: direct to the backend, through nginx, through tessera-proxy,
#      at 10 and 50 connections (1 s warm-up, then D s): requests/s, p50, p99, and requests per
#      CPU-second of the process measured (/proc/PID/stat utime+stime before and after; nginx:
#      master + worker; direct: the backend),
#   4. prints a table and the ratios against the goals (tessera-proxy ≥ 1.2 × nginx's requests
#      per core, p99 ≤ nginx's), then a JSON line with every figure,
#   5. starts tessera-proxy on a generated config of 1,000 routes and 10,000 endpoints and reads
#      its VmRSS once /ready answers 200 (goal ≤ 30 MiB),
#   6. stops everything it started and removes its files (also on error or Ctrl-C).
# Bounded: 2 × (1 + 2 N) wrk runs of D + 1 s: about 70 s with the default (N = 1), 20 s with
# --quick.
#
#   bench/run_proxy_bench.sh              10 s per run
#   bench/run_proxy_bench.sh --rounds 9   nginx and tessera-proxy alternately, 9 times each per
#                                         connection count: ratios per round and their median
#                                         (a VM's speed drifts between runs; this cancels most)
#   bench/run_proxy_bench.sh --quick      2 s per run (smoke run)
#   options: --duration S --rounds N --no-build --no-pin --results FILE.json
#   env: TESSERA_BENCH_BUILD_DIR (build dir to use, default build/), TESSERA_JOBS,
#        NGINX (the nginx binary, default: nginx on PATH or /usr/sbin/nginx)
# Exit status: non-zero when something did not start or a wrk run saw errors (socket errors or
# non-2xx answers): the figures still print. Missed goals are reported, not failed.
set -euo pipefail
source "$(dirname "$0")/../deploy/lib.sh"
source "$(dirname "$0")/lib.sh"

duration=10
rounds=1
build=1
pin=1
results=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) duration=2 ;;
    --duration) duration="$2"; shift ;;
    --rounds) rounds="$2"; shift ;;
    --no-build) build=0 ;;
    --no-pin) pin=0 ;;
    --results) results="$2"; shift ;;
    -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
[[ "$duration" =~ ^[1-9][0-9]*$ ]] || die "--duration must be a whole number of seconds"
[[ "$rounds" =~ ^[1-9][0-9]?$ ]] || die "--rounds must be a whole number from 1 to 99"

BUILD_DIR="${TESSERA_BENCH_BUILD_DIR:-$TESSERA_ROOT/build}"
bench_build "$build" tessera-proxy
PROXY_BIN="$BUILD_DIR/mesh/proxy/tessera-proxy"
[ -x "$PROXY_BIN" ] || die "$PROXY_BIN not built"

NGINX="${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"
if [ ! -x "$NGINX" ] || ! command -v wrk >/dev/null; then
  log "nginx or wrk is missing: installing the packages deploy/lib.sh lists (needs root)"
  install_packages nginx wrk
  NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
fi
[ -x "$NGINX" ] || die "nginx not found (apt-get install nginx)"
NGINX_VERSION="$("$NGINX" -v 2>&1 | sed -n 's|.*nginx/||p')"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# CPUs: the proxies on CPU 0; the backend and wrk on the rest (with 2 CPUs they share CPU 1).
ncpu="$(nproc)"
if [ "$pin" -eq 1 ] && [ "$ncpu" -ge 2 ]; then
  PROXY_CPUS=0
  if [ "$ncpu" -ge 4 ]; then BACKEND_CPUS=3; LOAD_CPUS="1-2"; else BACKEND_CPUS=1; LOAD_CPUS=1; fi
  pin_note="proxies pinned to CPU $PROXY_CPUS, backend to CPU $BACKEND_CPUS, wrk to CPU $LOAD_CPUS"
else
  PROXY_CPUS="0-$((ncpu - 1))"; BACKEND_CPUS="$PROXY_CPUS"; LOAD_CPUS="$PROXY_CPUS"
  pin_note="not pinned"
fi
# wrk's threads at 50 connections: 2 when there are CPUs for them (4 or more), else 1.
load_threads=1
if [ "$ncpu" -ge 4 ]; then load_threads=2; fi

# ---- processes and clean-up ----
WORK="$(mktemp -d /tmp/tessera-proxybench-XXXXXX)"
chmod 755 "$WORK"  # nginx workers run as nobody when started as root
PIDS=()
proxy_bench_cleanup() {
  local rc=$? pid
  trap - INT TERM EXIT
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ "$rc" -ne 0 ]; then
    for f in "$WORK"/*.log "$WORK"/*/error.log; do
      [ -s "$f" ] && { echo "--- tail of $f" >&2; tail -20 "$f" >&2; }
    done
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap proxy_bench_cleanup INT TERM EXIT
bench_note_start

# free_port VAR: a TCP port no socket uses now (random in 20000-59999), not handed out before
# in this run. A race with another program remains; the start checks below catch it.
USED_PORTS=" "
free_port() {
  local port hex
  for _ in $(seq 200); do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    case "$USED_PORTS" in *" $port "*) continue ;; esac
    hex="$(printf '%04X' "$port")"
    if awk -v h="$hex" 'FNR > 1 { split($2, a, ":"); if (a[2] == h) found = 1 }
                        END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
      continue
    fi
    USED_PORTS+="$port "
    printf -v "$1" '%s' "$port"
    return 0
  done
  die "no free TCP port found"
}

# wait_ok URL PID WHAT: until URL answers 200 (30 s at most; PID must stay alive).
wait_ok() {
  for _ in $(seq 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1" || true)" = 200 ] && return 0
    kill -0 "$2" 2>/dev/null || die "$3 exited (see its log above)"
    sleep 0.1
  done
  die "$3 did not answer 200 on $1 within 30 s"
}

# cpu_ticks PID...: "utime stime" of the processes (all their threads), in clock ticks.
cpu_ticks() {
  local user=0 sys=0 pid ticks
  for pid in "$@"; do
    ticks="$(awk '{ sub(/^.*\) /, ""); split($0, f, " "); print f[12], f[13] }' \
      "/proc/$pid/stat")" || die "process $pid is gone"
    user=$((user + ${ticks% *}))
    sys=$((sys + ${ticks#* }))
  done
  echo "$user $sys"
}

# children PID: its child processes (nginx's workers).
children() {
  if [ -r "/proc/$1/task/$1/children" ]; then
    tr ' ' '\n' <"/proc/$1/task/$1/children" | sed '/^$/d'
  else
    local stat
    for stat in /proc/[0-9]*/stat; do
      awk -v p="$1" '{ sub(/^.*\) /, ""); split($0, f, " ");
                       if (f[2] == p) { split(FILENAME, n, "/"); print n[3] } }' "$stat" \
        2>/dev/null || true
    done
  fi
}

# start_nginx NAME PORT CPUS HTTP_BODY: nginx -p $WORK/NAME in the foreground (1 worker),
# NGINX_PIDS set to master and worker once GET / answers 200.
start_nginx() {
  local dir="$WORK/$1"
  mkdir -p "$dir/tmp"
  cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_timeout 60s;
  keepalive_requests 100000000;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
$4
}
EOF
  taskset -c "$3" "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" &
  local master=$!
  PIDS+=("$master")
  wait_ok "http://127.0.0.1:$2/" "$master" "nginx ($1)"
  local workers
  workers="$(children "$master")"
  [ -n "$workers" ] || die "nginx ($1) has no worker process"
  # shellcheck disable=SC2206 # one pid per line
  NGINX_PIDS=("$master" $workers)
}

BACKEND_PORT="" NGINX_PORT="" TESSERA_PORT="" ADMIN_PORT="" RSS_PORT="" RSS_ADMIN_PORT=""
free_port BACKEND_PORT
free_port NGINX_PORT
free_port TESSERA_PORT
free_port ADMIN_PORT

log "backend: nginx $NGINX_VERSION, 1 worker, return 200 \"ok\", 127.0.0.1:$BACKEND_PORT (CPU $BACKEND_CPUS)"
start_nginx backend "$BACKEND_PORT" "$BACKEND_CPUS" "  server {
    listen 127.0.0.1:$BACKEND_PORT;
    location / { return 200 \"ok\"; }
  }"
BACKEND_PIDS=("${NGINX_PIDS[@]}")
[ "$(curl -s "http://127.0.0.1:$BACKEND_PORT/")" = ok ] || die "the backend does not answer ok"

log "nginx $NGINX_VERSION as the proxy: 1 worker, upstream keepalive 64, 127.0.0.1:$NGINX_PORT"
start_nginx proxy "$NGINX_PORT" "$PROXY_CPUS" "  upstream backend {
    server 127.0.0.1:$BACKEND_PORT;
    keepalive 64;
    keepalive_requests 100000000;
  }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
    }
  }"
NGINX_PROXY_PIDS=("${NGINX_PIDS[@]}")

log "tessera-proxy: --workers 1, one forward route, 127.0.0.1:$TESSERA_PORT (admin $ADMIN_PORT)"
cat >"$WORK/proxy.yaml" <<EOF
version: bench
listeners:
- {name: bench, address: 127.0.0.1, port: $TESSERA_PORT, routeTable: bench}
routeTables:
- name: bench
  routes:
  - {name: all, forward: {cluster: backend}}
clusters:
- name: backend
  endpoints: [{address: 127.0.0.1, port: $BACKEND_PORT}]
EOF
taskset -c "$PROXY_CPUS" "$PROXY_BIN" --config "$WORK/proxy.yaml" --workers 1 \
  --admin "127.0.0.1:$ADMIN_PORT" --log-level warn >>"$WORK/tessera-proxy.log" 2>&1 &
TESSERA_PID=$!
PIDS+=("$TESSERA_PID")
wait_ok "http://127.0.0.1:$ADMIN_PORT/ready" "$TESSERA_PID" "tessera-proxy"
wait_ok "http://127.0.0.1:$TESSERA_PORT/" "$TESSERA_PID" "tessera-proxy (listener)"
[ "$(curl -s "http://127.0.0.1:$TESSERA_PORT/")" = ok ] || die "tessera-proxy does not relay ok"

# ---- the runs ----
clk_tck="$(getconf CLK_TCK)"
ROWS=()      # "target conns requests rps p50 p99 cpu_s per_core user_us_per_request stolen_ms errors"
failures=0

# measure TARGET PORT CONNS PID...: a warm-up, then wrk for D s; appends to ROWS.
measure() {
  local target="$1" port="$2" conns="$3"
  shift 3
  local url="http://127.0.0.1:$port/" threads=1 out ub sb ua sa steal0 steal1
  if [ "$conns" -ge 50 ]; then threads="$load_threads"; fi
  taskset -c "$LOAD_CPUS" wrk -t1 -c"$conns" -d1s "$url" >/dev/null
  read -r ub sb <<<"$(cpu_ticks "$@")"
  steal0="$(bench_steal_ticks)"
  out="$(taskset -c "$LOAD_CPUS" wrk -t"$threads" -c"$conns" -d"${duration}s" --latency "$url")"
  steal1="$(bench_steal_ticks)"
  read -r ua sa <<<"$(cpu_ticks "$@")"
  echo "$out" >>"$WORK/wrk.out"
  local row
  row="$(echo "$out" | awk -v target="$target" -v conns="$conns" \
      -v ticks="$((ua + sa - ub - sb))" -v uticks="$((ua - ub))" -v hz="$clk_tck" \
      -v stolen="$((steal1 - steal0))" '
    function ms(v) {
      if (v ~ /us$/) return v / 1000
      if (v ~ /ms$/) return v + 0
      if (v ~ /m$/) return v * 60000
      if (v ~ /s$/) return v * 1000
      return v + 0
    }
    / requests in / { requests = $1 }
    /^Requests\/sec:/ { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    /Socket errors:/ { gsub(/,/, ""); errors += $4 + $6 + $8 + $10 }
    /Non-2xx or 3xx responses:/ { errors += $NF }
    END {
      cpu = ticks / hz
      printf "%s %d %d %.1f %.3f %.3f %.2f %.0f %.2f %d %d\n", target, conns, requests, rps, p50,
        p99, cpu, (cpu > 0 ? requests / cpu : 0),
        (requests > 0 ? uticks / hz * 1e6 / requests : 0), stolen * 1000 / hz, errors
    }')"
  ROWS+=("$row")
  local errors="${row##* }"
  if [ "$errors" -ne 0 ]; then
    log "$target at $conns connections: $errors errors"
    failures=$((failures + 1))
  fi
  echo "$row" | awk '{ printf "  %-14s %3d conns: %9.1f rps, p50 %.3f ms, p99 %.3f ms, %.2f CPU s (user %.2f us/request), %d ms stolen, %s errors\n",
    $1, $2, $4, $5, $6, $7, $9, $10, $11 }' >&2
}

for conns in 10 50; do
  log "wrk -c$conns, ${duration} s each (+1 s warm-up): direct, then nginx and tessera-proxy ($rounds round(s))"
  measure direct "$BACKEND_PORT" "$conns" "${BACKEND_PIDS[@]}"
  for ((round = 1; round <= rounds; round++)); do
    measure nginx "$NGINX_PORT" "$conns" "${NGINX_PROXY_PIDS[@]}"
    measure tessera-proxy "$TESSERA_PORT" "$conns" "$TESSERA_PID"
  done
done
kill -TERM "$TESSERA_PID" 2>/dev/null || true
wait "$TESSERA_PID" 2>/dev/null || true

# ---- RSS with 1,000 routes and 10,000 endpoints ----
free_port RSS_PORT
free_port RSS_ADMIN_PORT
# 100 clusters of 100 endpoints (10.0.C.E:8080, revisions v1/v2, never dialled: nothing is
# sent); 1,000 routes, every other one a 90/10 split between the revisions.
awk -v port="$RSS_PORT" 'BEGIN {
  printf "{\"version\": \"rss\", \"listeners\": [{\"name\": \"rss\", \"address\": \"127.0.0.1\", "
  printf "\"port\": %d, \"routeTable\": \"big\"}],\n\"clusters\": [\n", port
  for (c = 0; c < 100; c++) {
    printf "%s{\"name\": \"svc-%03d\", \"endpoints\": [", (c ? ",\n" : ""), c
    for (e = 1; e <= 100; e++) {
      printf "%s{\"address\": \"10.0.%d.%d\", \"port\": 8080, \"cell\": \"rz-a\", \"revision\": \"v%d\"}",
        (e > 1 ? ", " : ""), c, e, (e % 10 == 0 ? 2 : 1)
    }
    printf "]}"
  }
  printf "],\n\"routeTables\": [{\"name\": \"big\", \"routes\": [\n"
  for (r = 0; r < 1000; r++) {
    c = r % 100
    printf "%s{\"name\": \"r%04d\", \"match\": {\"prefix\": \"/svc-%03d/r%04d/\"}, ", (r ? ",\n" : ""), r, c, r
    if (r % 2 == 0) {
      printf "\"forward\": {\"targets\": [{\"cluster\": \"svc-%03d\", \"revision\": \"v1\", \"weight\": 90}, ", c
      printf "{\"cluster\": \"svc-%03d\", \"revision\": \"v2\", \"weight\": 10}]}}", c
    } else {
      printf "\"forward\": {\"cluster\": \"svc-%03d\"}}", c
    }
  }
  printf "]}]}\n"
}' >"$WORK/rss.json"
log "tessera-proxy RSS: 1,000 routes, 10,000 endpoints ($(($(wc -c <"$WORK/rss.json") / 1024)) KiB of JSON), --workers 1"
"$PROXY_BIN" --config "$WORK/rss.json" --workers 1 --admin "127.0.0.1:$RSS_ADMIN_PORT" \
  --log-level warn >>"$WORK/tessera-proxy-rss.log" 2>&1 &
RSS_PID=$!
PIDS+=("$RSS_PID")
wait_ok "http://127.0.0.1:$RSS_ADMIN_PORT/ready" "$RSS_PID" "tessera-proxy (1,000 routes)"
RSS_KIB="$(awk '/^VmRSS:/ { print $2 }' "/proc/$RSS_PID/status")"
HWM_KIB="$(awk '/^VmHWM:/ { print $2 }' "/proc/$RSS_PID/status")"
kill -TERM "$RSS_PID" 2>/dev/null || true
wait "$RSS_PID" 2>/dev/null || true

# ---- the table, the ratios, the goals ----
echo
echo "backend: nginx $NGINX_VERSION (1 worker, return 200 \"ok\"); $pin_note; wrk -t1 (50 conns: -t$load_threads)"
printf '%-15s %6s %10s %10s %8s %8s %7s %12s %9s %9s %7s\n' target conns requests "rps" "p50 ms" "p99 ms" "cpu s" "rps/core" "user us" "stolen ms" errors
for row in "${ROWS[@]}"; do
  # shellcheck disable=SC2086 # fields
  printf '%-15s %6s %10s %10s %8s %8s %7s %12s %9s %9s %7s\n' $row
done
echo "(cpu s: the measured process over the run: the backend for direct, else the proxy;"
echo " user us: its user-space CPU per request, in microseconds;"
echo " stolen ms: CPU time the hypervisor gave to others during the run, all CPUs: the tails follow it)"
echo

# compare CONNS: per round (the k-th nginx row against the k-th tessera-proxy row of that
# connection count), the rps-per-core ratio and whether p99 stayed at or below nginx's; the
# median of the ratios is the figure. Prints one line, then "RATIO P99RATIO" on the last line.
compare() {
  printf '%s\n' "${ROWS[@]}" | awk -v c="$1" -v rounds="$rounds" '
    function median(a, n,    i, j, t) {
      for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
        t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    $2 != c { next }
    $1 == "direct" { dr = $4 }
    $1 == "nginx" { nn++; ncore[nn] = $8; np99[nn] = $6; nrps[nn] = $4; nus[nn] = $9 }
    $1 == "tessera-proxy" { tn++; tcore[tn] = $8; tp99[tn] = $6; trps[tn] = $4; tus[tn] = $9 }
    END {
      n = (nn < tn ? nn : tn); list = ""; p99met = 0
      for (k = 1; k <= n; k++) {
        r[k] = (ncore[k] > 0 ? tcore[k] / ncore[k] : 0)
        q[k] = (np99[k] > 0 ? tp99[k] / np99[k] : 0)
        if (tp99[k] <= np99[k]) p99met++
        list = list sprintf(" %.2f", r[k])
        tr[k] = trps[k]; nr[k] = nrps[k]; tp[k] = tp99[k]; np[k] = np99[k]
      }
      core = median(r, n); p99r = median(q, n)
      printf "%d connections: tessera-proxy/nginx rps per core %.2f", c, core
      if (rounds > 1) printf " (median of %d alternating rounds:%s)", n, list
      printf " (goal >= 1.20: %s); ", (core >= 1.2 ? "met" : "NOT met")
      if (rounds > 1) {
        printf "p99 at or below nginx in %d of %d rounds, median p99 ratio %.2f (goal <= 1: %s); ",
          p99met, n, p99r, (p99r <= 1 ? "met" : "NOT met")
      } else {
        printf "p99 %.3f ms vs nginx %.3f ms (goal <= nginx: %s); ", tp[1], np[1],
          (tp[1] <= np[1] ? "met" : "NOT met")
      }
      printf "rps %.0f vs nginx %.0f vs direct %.0f%s; ", median(tr, n), median(nr, n), dr,
        (rounds > 1 ? " (medians)" : "")
      printf "user-space CPU per request %.2f us vs nginx %.2f us\n", median(tus, n), median(nus, n)
      printf "%.3f %.3f\n", core, p99r
    }'
}
ratio_json=""
for conns in 10 50; do
  out="$(compare "$conns")"
  echo "$out" | sed '$d'
  read -r core p99r <<<"$(echo "$out" | tail -1)"
  sep=""
  if [ -n "$ratio_json" ]; then sep=", "; fi
  ratio_json+="$sep\"c$conns\": {\"rps_per_core_ratio\": $core, \"p99_ratio\": $p99r}"
done
awk -v rss="$RSS_KIB" -v hwm="$HWM_KIB" 'BEGIN {
  printf "RSS with 1,000 routes and 10,000 endpoints: %.1f MiB (peak %.1f MiB); goal <= 30 MiB: %s\n",
    rss / 1024, hwm / 1024, (rss / 1024 <= 30 ? "met" : "NOT met") }'

runs_json="$(for row in "${ROWS[@]}"; do echo "$row"; done | awk '{
  printf "%s{\"target\": \"%s\", \"connections\": %d, \"requests\": %d, \"rps\": %s, \"p50_ms\": %s, \"p99_ms\": %s, \"cpu_s\": %s, \"rps_per_core\": %s, \"user_us_per_request\": %s, \"stolen_ms\": %d, \"errors\": %d}",
    (NR > 1 ? ", " : ""), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 }')"
json="{\"backend\": \"nginx $NGINX_VERSION return 200\", \"nginx_version\": \"$NGINX_VERSION\", \"duration_s\": $duration, \"rounds\": $rounds, \"pinned\": $pin, \"cpus\": $ncpu, \"runs\": [$runs_json], \"ratios\": {$ratio_json}, \"rss_kib\": $RSS_KIB, \"rss_peak_kib\": $HWM_KIB}"
echo "$json"
if [ -n "$results" ]; then echo "$json" >"$results"; fi

complaints="$(grep -ciE '\[(warning|error|critical)\]' "$WORK/tessera-proxy.log" || true)"
log "tessera-proxy log: $complaints warning/error lines"
grep -iE '\[(warning|error|critical)\]' "$WORK/tessera-proxy.log" | head -5 >&2 || true
bench_machine_note "shared by the proxies, the backend and wrk ($pin_note)"
[ "$failures" -eq 0 ] || die "$failures wrk runs saw errors"
