#!/usr/bin/env bash
# tests/torture/run.sh — the long fault tests of issue 8 (make torture), against the build in $B
# (default build): kill -9 at 200 random moments of bursts of writes, grants, revocations and
# override steps (tests/api/test_crash.c with KLUIS_CRASH_ROUNDS), then the fault tests that make
# check also runs: disk and map full, failing fdatasync/pwrite (LD_PRELOAD shim), stale reader,
# clock. Prints each program's figures ("# " lines) and failures, the full output in
# $B/torture/*.log, and ends with "N passed, N failed". Run as root for the disk-full test.
# Usage: tests/torture/run.sh [ROUNDS]   (KLUIS_CRASH_SEED=N replays a run's kill moments)
set -u
B=${B:-build}
ROUNDS=${1:-${KLUIS_CRASH_ROUNDS:-200}}
cd "$(dirname "$0")/../.."
# A private copy of the binaries (the harness runs the kluisd beside the test program), so that a
# rebuild during the long run does not swap kluisd under it.
bin="$B/torture/bin"
rm -rf "$bin"; mkdir -p "$bin/tests"
cp "$B/kluisd" "$bin/" || { echo "missing $B/kluisd: run make first" >&2; exit 2; }
passed=0; failed=0
for t in crash storage faults stale_reader clock; do
  [ -x "$B/tests/api_$t" ] || { echo "missing $B/tests/api_$t: run make tests first" >&2; exit 2; }
  cp "$B/tests/api_$t" "$bin/tests/"
done
for t in crash storage faults stale_reader clock; do
  prog="$bin/tests/api_$t"
  log="$B/torture/$t.log"
  start=$(date +%s)
  KLUIS_CRASH_ROUNDS=$ROUNDS "$prog" >"$log" 2>"$log.err"
  rc=$?
  p=$(grep -c '^ok - ' "$log"); f=$(grep -c '^not ok - ' "$log")
  grep -E '^(# |not ok - )' "$log" | sed "s|^|[$t] |"
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "not ok - $t exited with status $rc"; tail -n 20 "$log.err" | sed 's/^/    /'; f=$((f + 1))
  fi
  printf '%-28s %5d passed, %d failed (%ds)\n' "api_$t" "$p" "$f" $(( $(date +%s) - start ))
  passed=$((passed + p)); failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
