#!/usr/bin/env bash
# Runs test programs, counts "ok"/"not ok" lines over all of them, and ends with
# "N passed, N failed". A program that crashes, or exits non-zero without a failing
# check, counts as one failure more. Usage: tests/run.sh PROGRAM...
set -u
passed=0; failed=0
for prog in "$@"; do
  name=$(basename "$prog")
  out=$(mktemp)
  "$prog" >"$out" 2>"$out.err"
  rc=$?
  p=$(grep -c '^ok - ' "$out")
  f=$(grep -c '^not ok - ' "$out")
  grep '^not ok - ' "$out" | sed "s|^|[$name] |"
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "not ok - $name exited with status $rc"; tail -n 20 "$out.err" | sed 's/^/    /'
    f=$((f + 1))
  fi
  [ "$f" -gt 0 ] && tail -n 20 "$out.err" | sed 's/^/    stderr: /'
  printf '%-28s %5d passed, %d failed\n' "$name" "$p" "$f"
  passed=$((passed + p)); failed=$((failed + f))
  rm -f "$out" "$out.err"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
