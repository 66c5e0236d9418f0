#!/bin/sh
# web/build.sh — builds the citizen web page into web/dist/, the folder kluisd serves (--web).
# Copies web/src/ and, from node_modules, only what the page needs (libsodium's ESM build, the NL
# Design System CSS and tokens, the Noto Sans font); writes index.html with Subresource Integrity
# on every script and stylesheet. Needs node and `npm ci` done first (web/test.sh does both).
set -eu
cd "$(dirname "$0")"
if [ ! -d node_modules/libsodium-wrappers-sumo ]; then
  echo "web/build.sh: node_modules missing: run 'npm ci' in web/ first" >&2
  exit 1
fi
exec node build.mjs "$@"
