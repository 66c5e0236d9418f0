#!/usr/bin/env bash
# tests/coredump.sh — issue 8, hygiene: kluisd runs with core dumps off (RLIMIT_CORE 0, not dumpable),
# and a core taken of a running kluisd anyway (gcore, as root) holds none of the vault's secret keys in
# clear: the storage key, the gate key and the log signing key (read from DIR/keys/*.key) must not
# appear in it, because they live only in sodium_malloc'd pages marked MADV_DONTDUMP.
# Usage: tests/coredump.sh [BUILD_DIR]   (needs gdb's gcore and root or CAP_SYS_PTRACE)
set -eu
B=${1:-build}
command -v gcore >/dev/null || { echo "coredump: gcore not installed"; exit 77; }
T=$(mktemp -d /tmp/kluis-core-XXXXXX)
trap 'kill $PID 2>/dev/null || true; rm -rf "$T"' EXIT
KLUIS_PASSPHRASE=x "$B/kluis" keygen --id beheer --out "$T/admin.key" --no-passphrase >/dev/null
KLUIS_PASSPHRASE=x "$B/kluis" keygen --id burgemeester --out "$T/auth.key" --authority --no-passphrase >/dev/null
"$B/kluisd" init --dir "$T/vault" --origin core.test/kluis --charter policy/charter.example.json \
    --admin-pub "$T/admin.key.pub" --authority-pub "$T/auth.key.pub" >/dev/null
"$B/kluisd" serve --dir "$T/vault" --listen 127.0.0.1:0 --port-file "$T/port" --web none 2>"$T/stderr" &
PID=$!
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
PORT=$(cat "$T/port")
curl -fsS "http://127.0.0.1:$PORT/v1/log/checkpoint" >/dev/null   # the log key has signed
fail=0
lim=$(awk '/Max core file size/ {print $5, $6}' "/proc/$PID/limits")
echo "RLIMIT_CORE (soft hard): $lim"
[ "$lim" = "0 0" ] || { echo "FAIL: core file size limit is not 0"; fail=1; }
# A process that is not dumpable has its /proc/PID files owned by root, whoever runs it: the
# flag itself is read from /proc/PID/status by gdb's standards, so check it through ptrace's eyes.
# PR_GET_DUMPABLE (3), asked inside the running kluisd through gdb: must be 0.
dumpable=$(gdb -p "$PID" -batch -ex 'print (int)prctl(3, 0, 0, 0, 0)' 2>/dev/null | awk '/^\$1 =/ {print $3}')
echo "PR_GET_DUMPABLE: ${dumpable:-?}"
[ "${dumpable:-1}" = "0" ] || { echo "FAIL: kluisd is dumpable"; fail=1; }
# Count the pages kluisd marked "do not dump" (VmFlags dd) in its maps.
dd=$(grep -c '^VmFlags:.* dd' "/proc/$PID/smaps" || true)
echo "mappings marked MADV_DONTDUMP: $dd"
gcore -o "$T/core" "$PID" >/dev/null 2>&1 || { echo "FAIL: gcore could not dump"; exit 1; }
CORE=$(ls "$T"/core.* | head -1)
echo "gcore wrote $(stat -c %s "$CORE") bytes"
python3 - "$CORE" "$T/vault/keys" <<'PY' || fail=1
import base64, glob, os, re, sys
core = open(sys.argv[1], 'rb').read()
found = 0
for path in sorted(glob.glob(os.path.join(sys.argv[2], '*.key'))):
    raw = open(path, 'rb').read()
    # Key files are JSON or raw bytes: try every base64/base64url/hex value of 32+ bytes in them.
    secrets = []
    if len(raw) in (32, 64):
        secrets.append(raw)
    for tok in re.findall(rb'[A-Za-z0-9_\-+/=]{40,}', raw):
        n = core.count(tok)
        print(f"{os.path.basename(path)}: the key's text form found {n} time(s) in the core")
        found += n
        for dec in (base64.urlsafe_b64decode, base64.b64decode):
            try:
                b = dec(tok + b'=' * (-len(tok) % 4))
            except Exception:
                continue
            if len(b) >= 32:
                secrets.append(b)
        try:
            b = bytes.fromhex(tok.decode())
            if len(b) >= 32:
                secrets.append(b)
        except ValueError:
            pass
    for s in secrets:
        for part, label in ((s, 'whole'), (s[:32], 'first 32 bytes')):
            n = core.count(part)
            print(f"{os.path.basename(path)}: {label} ({len(part)} bytes) found {n} time(s) in the core")
            found += n
    if not secrets:
        print(f"{os.path.basename(path)}: no key material recognised")
sys.exit(1 if found else 0)
PY
# Control: the same search on a core that includes the MADV_DONTDUMP pages must find the keys,
# or the search above proves nothing.
gdb -p "$PID" -batch -ex 'set dump-excluded-mappings on' -ex "gcore $T/control" >/dev/null 2>&1
if [ -f "$T/control" ]; then
    if python3 - "$T/control" "$T/vault/keys" <<'PY'
import base64, glob, os, re, sys
core = open(sys.argv[1], 'rb').read()
hits = 0
for path in glob.glob(os.path.join(sys.argv[2], '*.key')):
    for tok in re.findall(rb'"secret":"([A-Za-z0-9_\-]+)"', open(path, 'rb').read()):
        key = base64.urlsafe_b64decode(tok + b'=' * (-len(tok) % 4))[:32]
        n = core.count(key)
        print(f"control: {os.path.basename(path)} found {n} time(s)")
        hits += n > 0
# The log and gate keys are held as they are; the storage key only through the subkeys derived
# from it (it is wiped after derivation), so it is not expected even here.
sys.exit(0 if hits >= 2 else 1)
PY
    then echo "control: with dump-excluded-mappings on, the held keys are found (the search works)"
    else echo "FAIL: control core does not show the keys: the search is not trustworthy"; fail=1; fi
    rm -f "$T/control"
fi
grep -q . "$T/stderr" && echo "kluisd stderr: $(tr '\n' '|' < "$T/stderr")"
[ $fail -eq 0 ] && echo "coredump: pass" || echo "coredump: FAIL"
exit $fail
