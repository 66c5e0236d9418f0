#!/bin/sh
# web/test.sh — the citizen page's browser tests, self-contained: installs what is missing
# (npm ci; Debian's chromium when run as root), builds the page (web/build.sh), starts a kluisd on
# a free port with a fresh vault, runs tests/run.mjs in headless Chromium, and prints one
# "ok - NAME" / "not ok - NAME" line per check and a final "N passed, N failed".
# Exit status: 0 when everything passed. Uses build/kluisd and build/kluis (KLUIS_BIN overrides).
set -u
# make check passes KLUIS_VECTORS relative to the checkout (../shared/vectors): resolve it before cd.
case "${KLUIS_VECTORS:-/}" in
  /*) ;;
  *) KLUIS_VECTORS=$(cd "$KLUIS_VECTORS" 2>/dev/null && pwd || echo "$KLUIS_VECTORS"); export KLUIS_VECTORS ;;
esac
cd "$(dirname "$0")"
WEB=$(pwd)
REPO=$(cd .. && pwd)
BIN=${KLUIS_BIN:-$REPO/build}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
export CHROMIUM

fail() {
  echo "not ok - web: $1"
  echo "0 passed, 1 failed"
  exit 1
}

command -v node >/dev/null 2>&1 || fail "node is not installed (Debian: apt-get install nodejs npm)"
if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/@axe-core/playwright ] ||
   [ ! -d node_modules/libsodium-wrappers-sumo ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error >&2 || fail "npm ci in web/"
fi
if [ ! -x "$CHROMIUM" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  { apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }; } >&2 2>&1
fi
[ -x "$CHROMIUM" ] || fail "no $CHROMIUM (apt-get install chromium)"
if [ ! -x "$BIN/kluisd" ] || [ ! -x "$BIN/kluis" ]; then
  (cd "$REPO" && make all >&2) || fail "make all (kluisd and kluis)"
fi
sh build.sh >&2 || fail "web/build.sh"
exec node tests/run.mjs --repo "$REPO" --bin "$BIN" --dist "$WEB/dist" --shots "$WEB/test-output"
