#!/usr/bin/env bash
# tests/valgrind.sh — issue 8, hygiene: every unit and API test program of the normal build under
# valgrind memcheck, and every kluisd those tests start (tests/api/harness.c runs it under valgrind
# when KLUIS_VALGRIND names a log directory). Leaks (definite, indirect, possible) and invalid
# accesses are errors (--error-exitcode). Slow: Argon2id and the load tests run 20-50x slower.
# Usage: tests/valgrind.sh [BUILD_DIR] [PROGRAM...]   (default: build, every test program)
set -u
B=${1:-build}
shift || true
LOGS=$(mktemp -d /tmp/kluis-valgrind-XXXXXX)
export KLUIS_VALGRIND=$LOGS
# The flood and mixed-load tests measure a server under load: under valgrind they prove nothing
# more than the API tests do and take minutes, so they run short.
export KLUIS_FLOOD_SECONDS=3 KLUIS_MIXED_SECONDS=3
PROGS=${*:-$(ls "$B"/tests/test_* "$B"/tests/api_* 2>/dev/null)}
VG="valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect,possible
    --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 --track-fds=no"
failed=0
for p in $PROGS; do
    name=$(basename "$p")
    $VG --log-file="$LOGS/$name.%p.log" "$p" >"$LOGS/$name.out" 2>&1
    rc=$?
    nok=$(grep -c '^not ok' "$LOGS/$name.out")
    ok=$(grep -c '^ok' "$LOGS/$name.out")
    printf '%-22s exit %3d  %4d ok  %d not ok\n' "$name" "$rc" "$ok" "$nok"
    [ "$rc" -eq 0 ] && [ "$nok" -eq 0 ] || failed=$((failed + 1))
done
# Every valgrind log that reports anything (test programs and each kluisd they started).
bad=0
for l in "$LOGS"/*.log; do
    [ -s "$l" ] || continue
    if grep -qE 'ERROR SUMMARY: [1-9]|definitely lost|indirectly lost|possibly lost|Invalid (read|write)|uninitialised' "$l"; then
        echo "--- $(basename "$l")"; head -60 "$l"; bad=$((bad + 1))
    fi
done
echo "valgrind: $failed program(s) failed, $bad log(s) with errors (logs in $LOGS)"
[ $failed -eq 0 ] && [ $bad -eq 0 ]
