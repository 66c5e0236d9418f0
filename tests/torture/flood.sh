#!/usr/bin/env bash
# tests/torture/flood.sh — issue 8, row 6: slowloris headers and slow bodies from 500 sockets, a
# connection flood from one address, huge Content-Length, endless chunked bodies, 64 KB headers and
# URLs, all at once for FLOOD_SECONDS (default 60), while a normal client reads and writes. Prints the
# normal client's p50/p99 alone and under attack, kluisd's peak memory and descriptors; fails on any
# wrong answer or unbounded memory. Timing is reported, not asserted (client and server share the cores).
# Usage: tests/torture/flood.sh [BUILD_DIR]   (default build; run `make all tests` first)
set -eu
B=${1:-build}
export KLUIS_FLOOD_SECONDS=${FLOOD_SECONDS:-60}
echo "flood: ${KLUIS_FLOOD_SECONDS} s of attack, $(nproc) cores"
exec "$B/tests/api_flood"
