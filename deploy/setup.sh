#!/usr/bin/env bash
# Installs the Debian packages Tessera needs (only those missing), then configures and builds.
# Idempotent: a second run with nothing to do takes seconds. Both README commands start here.
#   ./deploy/setup.sh              install + build everything
#   ./deploy/setup.sh --no-build   install only
set -euo pipefail
source "$(dirname "$0")/lib.sh"

build=1
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    *) die "unknown option $arg" ;;
  esac
done

# Node.js from Debian when there is none (a Node.js from elsewhere brings its own npm).
if command -v npm >/dev/null 2>&1; then install_packages; else install_packages npm; fi
if [ "$build" -eq 1 ]; then
  # shellcheck disable=SC2119 # build_tessera takes no arguments
  build_tessera
  "$TESSERA_ROOT/deploy/build-console.sh"  # the web console (web/dist), after the C++ build
fi
