#!/usr/bin/env bash
# Builds the web console into web/dist when it changed: `npm ci` (against the committed
# package-lock.json) only when package.json, the lockfile or Node's version changed since the
# last install, then `npm run build` only when a source is newer than web/dist. Idempotent and
# quick when nothing changed; tessera-server serves web/dist at / (docs/console.md).
#   ./deploy/build-console.sh           build if needed
#   ./deploy/build-console.sh --force   install and build again
set -euo pipefail
source "$(dirname "$0")/lib.sh"

force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    *) die "unknown option $arg" ;;
  esac
done

WEB="$TESSERA_ROOT/web"
command -v npm >/dev/null 2>&1 || die "npm not found (./deploy/setup.sh --no-build installs Node.js)"
stamp="$WEB/node_modules/.tessera-install-stamp"
want="$(cat "$WEB/package.json" "$WEB/package-lock.json" | sha256sum | cut -c1-16) node-$(node --version)"
if [ "$force" -eq 1 ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "installing the console's npm packages (npm ci)"
  (cd "$WEB" && npm ci --no-audit --no-fund --loglevel=error)
  printf '%s\n' "$want" > "$stamp"
fi
if [ "$force" -eq 1 ] || [ ! -f "$WEB/dist/index.html" ] ||
  [ -n "$(find "$WEB/src" "$WEB/index.html" "$WEB/vite.config.ts" "$WEB/tsconfig.json" "$WEB/package-lock.json" \
    -newer "$WEB/dist/index.html" -print -quit)" ]; then
  log "building the web console (web/dist)"
  (cd "$WEB" && npm run --silent build)
fi
