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

install_packages
if [ "$build" -eq 1 ]; then build_tessera; fi
