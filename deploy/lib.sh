# Shared helpers for the deploy scripts. Source it; do not run it.
# shellcheck shell=bash

TESSERA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"

# Debian packages the build and the local federation need (see docs/development.md).
TESSERA_PACKAGES=(
  build-essential cmake pkg-config ccache git openssl curl ca-certificates
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-system1.81-dev
  libpqxx-dev libpq-dev postgresql
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libssl-dev libspdlog-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libcli11-dev libyaml-cpp-dev
  nodejs
)
# What only the tests and benchmarks need on top: the proxy benchmark's baseline and load
# generator, and the browser the console's end-to-end test drives (deploy/test.sh installs them).
# shellcheck disable=SC2034 # used by test.sh
TESSERA_TEST_PACKAGES=(wrk nginx chromium)

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@";
  elif command -v sudo >/dev/null 2>&1; then sudo "$@";
  else die "need root to run: $* (no sudo found)"; fi
}

# Installs the packages that are missing; does nothing (and needs no network) otherwise.
install_packages() {
  local missing=() p
  for p in "${TESSERA_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then return 0; fi
  log "installing ${#missing[@]} missing packages: ${missing[*]}"
  # nginx (the proxy benchmark's baseline) would start a system service on install; Tessera
  # runs its own short-lived instances only, so services are kept from starting.
  local guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    guard=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$guard" >/dev/null
    as_root chmod 755 "$guard"
  fi
  local rc=0
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || rc=$?
  if [ "$rc" -eq 0 ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" || rc=$?
  fi
  if [ -n "$guard" ]; then as_root rm -f "$guard"; fi
  [ "$rc" -eq 0 ] || die "installing packages failed (apt-get exit $rc)"
}

# Configures (once) and builds one build tree: build_tree DIR [cmake arguments...].
# TESSERA_WERROR=ON (implied by CI=true) turns warnings into errors.
build_tree() {
  local dir="$1"
  shift
  local werror="${TESSERA_WERROR:-OFF}"
  if [ "${CI:-}" = "true" ]; then werror=ON; fi
  local jobs="${TESSERA_JOBS:-2}"
  log "configuring ${dir#"$TESSERA_ROOT"/}/ (warnings as errors: $werror)"
  cmake -S "$TESSERA_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE="${TESSERA_BUILD_TYPE:-RelWithDebInfo}" \
    -DTESSERA_WERROR="$werror" "$@" >/dev/null
  log "building ${dir#"$TESSERA_ROOT"/}/ with -j$jobs"
  cmake --build "$dir" -j "$jobs"
}

# The plain build in build/ (what up.sh runs and the benchmarks measure).
build_tessera() { build_tree "$TESSERA_ROOT/build" "$@"; }

# The build with AddressSanitizer and UndefinedBehaviorSanitizer, in build-asan/, aborting on
# the first finding. Unoptimised (Debug: assertions on): with both sanitizers, -O0 compiles
# about as fast as build/'s -O2 and three times faster than -O2 with them.
build_sanitized() {
  TESSERA_BUILD_TYPE=Debug build_tree "$TESSERA_ROOT/build-asan" \
    -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
    "$@"
}

# Runs a command as the owner PostgreSQL needs: the 'postgres' user when we are root
# (PostgreSQL refuses to run as root), ourselves otherwise.
as_pg_user() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# A directory PostgreSQL's user can own and reach: $1 if it can, else one under /var/tmp.
pg_data_parent() {
  local want="$1"
  mkdir -p "$want"
  if [ "$(id -u)" -ne 0 ] || runuser -u postgres -- test -x "$want" 2>/dev/null; then
    echo "$want"
  else
    local alt
    alt="/var/tmp/tessera-$(printf '%s' "$want" | sha256sum | cut -c1-12)"
    mkdir -p "$alt"
    echo "$alt"
  fi
}
