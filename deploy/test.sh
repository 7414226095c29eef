#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit, integration against a real
# PostgreSQL the tests start themselves, end-to-end with stock kubectl, a short benchmark run).
# Exits non-zero on any failure. Extra arguments go to ctest (e.g. -R watch).
#
# With TESSERA_SANITIZE=1 (the default under CI=true) the tests then run a second time, built
# with AddressSanitizer and UndefinedBehaviorSanitizer in build-asan/: coroutine code on GCC 12
# has memory traps that only a sanitizer shows (docs/architecture.md).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

sanitize="${TESSERA_SANITIZE:-}"
if [ -z "$sanitize" ] && [ "${CI:-}" = "true" ]; then sanitize=1; fi

install_packages "${TESSERA_TEST_PACKAGES[@]}"
"$TESSERA_ROOT/deploy/setup.sh"
command -v kubectl >/dev/null 2>&1 || log "warning: kubectl not found; the kubectl end-to-end test will fail"
log "running tests"
(cd "$TESSERA_ROOT/build" && ctest --output-on-failure --timeout 900 -j "${TESSERA_TEST_JOBS:-2}" "$@")

if [ "$sanitize" = "1" ]; then
  log "building with AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)"
  cmake -S "$TESSERA_ROOT" -B "$TESSERA_ROOT/build-asan" -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
    -DTESSERA_WERROR="${TESSERA_WERROR:-OFF}" -DTESSERA_BUILD_BENCH=OFF >/dev/null
  cmake --build "$TESSERA_ROOT/build-asan" -j "${TESSERA_JOBS:-2}"
  log "running tests under the sanitizers"
  (cd "$TESSERA_ROOT/build-asan" &&
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      ctest --output-on-failure --timeout 900 -j "${TESSERA_TEST_JOBS:-2}" "$@")
fi
