#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit, integration against a real
# PostgreSQL the tests start themselves, end-to-end with stock kubectl). Exits non-zero on any
# failure. Extra arguments go to ctest (e.g. -R Watch).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

"$TESSERA_ROOT/deploy/setup.sh"
command -v kubectl >/dev/null 2>&1 || log "warning: kubectl not found; the kubectl end-to-end test will fail"
mkdir -p "$TESSERA_ROOT/tests/artifacts"
log "running tests"
cd "$TESSERA_ROOT/build"
ctest --output-on-failure --timeout 600 -j "${TESSERA_TEST_JOBS:-2}" "$@"
