# tests/cli/lib.bash — what every end-to-end CLI test script shares (sourced, never run on its own:
# the Makefile runs tests/cli/*.sh only). Sourced as `. lib.bash NAME` once the script has found the
# checkout; it sets:
#   BIN, ROOT, KLUIS, KLUISD, CHARTER   the binaries (beside the script when it was copied into
#                                       build[/asan]/tests/, else $KLUIS_BIN_DIR, else build/) and
#                                       the checkout (or $KLUIS_ROOT)
#   T                                   a private temporary directory, removed on exit, and the cwd
#   pids, SRV                           servers to stop on exit (append to pids, or set SRV)
#   ok/nok/check/run/runin              the "ok - " / "not ok - " lines tests/run.sh counts
# and gives the script a private HOME and XDG directories, so sessions and key pins of one run
# never meet another's.
set -u
here=$(cd "$(dirname "$0")" && pwd)
if [ -x "$here/../kluis" ] && [ -x "$here/../kluisd" ]; then
  BIN=$(cd "$here/.." && pwd)
else
  BIN=${KLUIS_BIN_DIR:-$(cd "$here/../.." && pwd)/build}
fi
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KLUIS="$BIN/kluis"
KLUISD="$BIN/kluisd"
CHARTER="$ROOT/policy/charter.example.json"

T=$(mktemp -d "/tmp/kluis-${1:-cli}.XXXXXX")
failed=0; n=0
pids=()
SRV=""
cleanup() {
  for p in "${pids[@]}" $SRV; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT

ok()  { n=$((n + 1)); echo "ok - $1"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok - $1"; sed 's/^/    # /' "$T/err" "$T/out" 2>/dev/null | head -12; }
check() { if eval "$2"; then ok "$1"; else nok "$1"; fi; }
# run WANT NAME -- ARGS...: kluis with ARGS; stdout in $T/out, stderr in $T/err; checks the exit code.
run() {
  local want=$1 name=$2; shift 3
  "$KLUIS" "$@" >"$T/out" 2>"$T/err" </dev/null
  local rc=$?
  if [ "$rc" -eq "$want" ]; then ok "$name (exit $rc)"; else nok "$name (exit $rc, wanted $want)"; fi
}
# runin WANT NAME FILE -- ARGS...: as run, with FILE on standard input.
runin() {
  local want=$1 name=$2 in=$3; shift 4
  "$KLUIS" "$@" >"$T/out" 2>"$T/err" <"$in"
  local rc=$?
  if [ "$rc" -eq "$want" ]; then ok "$name (exit $rc)"; else nok "$name (exit $rc, wanted $want)"; fi
}

for f in "$KLUIS" "$KLUISD" "$CHARTER"; do
  [ -e "$f" ] || { echo "not ok - missing $f"; exit 1; }
done
# A private home: sessions in $XDG_RUNTIME_DIR/kluis, pins in $XDG_CONFIG_HOME/kluis, auditor state in
# $XDG_STATE_HOME/kluis.
export HOME="$T/home" XDG_RUNTIME_DIR="$T/run" XDG_CONFIG_HOME="$T/config" XDG_STATE_HOME="$T/state"
mkdir -p "$HOME" && mkdir -m 700 "$XDG_RUNTIME_DIR"
unset KLUIS_KEY KLUIS_CITIZEN KLUIS_SERVER KLUIS_INSECURE_HTTP
cd "$T"
