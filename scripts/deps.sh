#!/bin/sh
# Installs what building and testing Kluis needs, from Debian's archive (and, for the web page,
# the npm registry). As root it installs; otherwise it prints the exact command and stops.
set -e
PKGS="build-essential pkg-config clang libclang-rt-14-dev libsodium-dev liblmdb-dev lmdb-utils \
libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev curl ca-certificates jq python3"
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || PKGS="$PKGS nodejs npm"
[ -n "$KLUIS_EXTRA_PKGS" ] && PKGS="$PKGS $KLUIS_EXTRA_PKGS"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q $missing >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q $missing; }
  else
    echo "deps: missing Debian packages. Run as root:"
    echo "  apt-get install -y$missing"
    exit 1
  fi
fi
