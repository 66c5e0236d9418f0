#!/usr/bin/env bash
# tests/lint.sh — static analysis of the project's own code (vault/ policy/ api/ cli/), issue 8.
#
# cppcheck: warning, portability and performance checks (style is left to review: the code base
#   follows STYLE.md, not cppcheck's taste). Jansson's iteration macros come from a small prelude
#   (tests/lint/cppcheck-macros.h) so that system headers need not be parsed. One suppression:
#   va_end_missing in cli/util.c — cli_die()/cli_fail() hand the va_list to vfail(), which ends
#   the process with _exit() and never returns, so there is no path on which va_end could run.
# clang-tidy: the clang static analyzer, bugprone-* and cert-*, minus checks whose findings here are
#   by design rather than bugs (each with its reason):
#   - bugprone-easily-swappable-parameters: the libsodium convention (outputs, then input+length,
#     key last) puts same-typed parameters side by side everywhere;
#   - clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling, cert-err33-c: they ask
#     for Annex K *_s functions and for checking printf's result, neither of which glibc/C11 code does;
#   - bugprone-narrowing-conversions, bugprone-implicit-widening-of-multiplication-result: size
#     arithmetic on bounded constants; lengths from input are checked explicitly where they enter;
#   - bugprone-reserved-identifier, cert-dcl37-c, cert-dcl51-cpp: include guards and _-suffixed
#     private fields are the project's convention;
#   - bugprone-assignment-in-if-condition, bugprone-suspicious-string-compare: `if ((p = f()))` and
#     `!strcmp(a, b)` are idioms of this code base (STYLE.md models: OpenBSD, SQLite);
#   - bugprone-not-null-terminated-result: memcpy into fixed-size binary buffers (keys, hashes),
#     which are not strings;
#   - bugprone-sizeof-expression: `sizeof *p->v` for arrays of pointers is the intended element size;
#   - cert-dcl03-c: NEVER()/ALWAYS() are runtime checks (SQLite style), not static conditions.
# Exit status: 0 when both are clean, 1 otherwise. Usage: tests/lint.sh [FILES...]
set -u
cd "$(dirname "$0")/.."
FILES=${*:-$(ls vault/*.c policy/*.c api/*.c cli/*.c)}
rc=0
echo "== cppcheck $(cppcheck --version | awk '{print $2}')"
cppcheck --quiet --std=c11 --enable=warning,portability,performance --inline-suppr --error-exitcode=1 \
    -D_GNU_SOURCE -I. -j"$(nproc)" --include=tests/lint/cppcheck-macros.h \
    --suppress=missingIncludeSystem --suppress=va_end_missing:cli/util.c $FILES || rc=1
CHECKS='-*,clang-analyzer-*,bugprone-*,cert-*'
for c in bugprone-easily-swappable-parameters clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling \
         cert-err33-c bugprone-narrowing-conversions bugprone-implicit-widening-of-multiplication-result \
         bugprone-reserved-identifier cert-dcl37-c cert-dcl51-cpp bugprone-assignment-in-if-condition \
         bugprone-suspicious-string-compare bugprone-not-null-terminated-result bugprone-sizeof-expression \
         cert-dcl03-c; do
    CHECKS="$CHECKS,-$c"
done
FLAGS="-std=c11 -D_GNU_SOURCE -I. $(pkg-config --cflags libsodium lmdb libmicrohttpd jansson libcurl 2>/dev/null)"
echo "== clang-tidy $(clang-tidy --version | awk '/version/ {print $NF; exit}')"
out=$(mktemp)
printf '%s\n' $FILES | xargs -P"$(nproc)" -I{} sh -c "clang-tidy --quiet -checks='$CHECKS' {} -- $FLAGS 2>/dev/null" >"$out"
n=$(grep -cE ': (warning|error):' "$out")
grep -E ': (warning|error):' "$out" | sed "s|$PWD/||" | sort -u
echo "clang-tidy: $n finding(s)"
[ "$n" -eq 0 ] || rc=1
rm -f "$out"
[ $rc -eq 0 ] && echo "lint: clean" || echo "lint: FINDINGS"
exit $rc
