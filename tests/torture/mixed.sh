#!/usr/bin/env bash
# tests/torture/mixed.sh — issue 8, row 7: a mixed load (reads, writes, grants, revocations) against a
# real kluisd for MIXED_SECONDS (default 600), then: no wrong answer, no heap or descriptor growth after
# warm-up, every kind of call's p99 under MIXED_P99_MS (default 50 ms). Prints the figures.
# Usage: tests/torture/mixed.sh [BUILD_DIR]   (default build; run `make all tests` first)
set -eu
B=${1:-build}
export KLUIS_MIXED_SECONDS=${MIXED_SECONDS:-600}
export KLUIS_MIXED_P99_MS=${MIXED_P99_MS:-50}
echo "mixed load: ${KLUIS_MIXED_SECONDS} s, p99 target ${KLUIS_MIXED_P99_MS} ms, $(nproc) cores"
exec "$B/tests/api_mixed"
