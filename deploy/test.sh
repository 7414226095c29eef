#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit, integration against a real
# PostgreSQL the tests start themselves, end-to-end with stock kubectl and a real browser, short
# benchmark runs). Exits non-zero on any failure. Extra arguments go to ctest (e.g. -R watch).
#
# TESSERA_SANITIZE picks the build the tests run against:
#   0     the plain build in build/ (the default on a workstation)
#   1     the same build with AddressSanitizer and UndefinedBehaviorSanitizer, in build-asan/,
#         aborting on the first finding (the default under CI=true): coroutine code on GCC 12
#         has memory traps that only a sanitizer shows (docs/architecture.md)
#   both  build/ first, then build-asan/
set -euo pipefail
source "$(dirname "$0")/lib.sh"

sanitize="${TESSERA_SANITIZE:-}"
if [ -z "$sanitize" ]; then
  if [ "${CI:-}" = "true" ]; then sanitize=1; else sanitize=0; fi
fi
case "$sanitize" in
  0 | 1 | both) ;;
  *) die "TESSERA_SANITIZE must be 0, 1 or both, not '$sanitize'" ;;
esac

install_packages "${TESSERA_TEST_PACKAGES[@]}"
command -v kubectl >/dev/null 2>&1 || log "warning: kubectl not found; the kubectl end-to-end test will fail"

run_tests() {
  (cd "$1" && ctest --output-on-failure --timeout 900 -j "${TESSERA_TEST_JOBS:-2}" "${@:2}")
}

"$TESSERA_ROOT/deploy/setup.sh" --no-build  # the packages the build and the federation need
"$TESSERA_ROOT/deploy/build-console.sh"
if [ "$sanitize" != "1" ]; then
  build_tessera
  log "running tests (build/)"
  run_tests "$TESSERA_ROOT/build" "$@"
fi
if [ "$sanitize" != "0" ]; then
  build_sanitized
  log "running tests under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)"
  # LeakSanitizer reports at exit: the test binaries and whatever they stop gracefully
  # (servers they SIGKILL report nothing). Third-party leaks: deploy/lsan-suppressions.txt.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    LSAN_OPTIONS="suppressions=$TESSERA_ROOT/deploy/lsan-suppressions.txt:print_suppressions=0" \
    run_tests "$TESSERA_ROOT/build-asan" "$@"
fi
