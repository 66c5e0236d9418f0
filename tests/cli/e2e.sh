#!/usr/bin/env bash
# tests/cli/e2e.sh — the real `kluis` against a real `kluisd` on 127.0.0.1, end to end:
# an admin registers people, a citizen enrolls and grants, a professional reads and writes, the
# citizen revokes and the professional is refused; journal, export, sessions, --json, and every exit
# code (2 usage, 3 connection, 4 verification — the last through tests/cli/tamper_proxy.py, a
# hostile vault that alters answers). Prints "ok - ..." / "not ok - ..." lines for tests/run.sh.
#
# Binaries: the kluis and kluisd beside this script's directory when it was copied into
# build[/asan]/tests/ (as the C harness does), else $KLUIS_BIN_DIR, else build/ of the checkout.
set -u
d=${KLUIS_ROOT:-$(cd "$(dirname "$0")" && pwd)}
while [ "$d" != / ] && [ ! -f "$d/tests/cli/lib.bash" ]; do d=$(dirname "$d"); done
. "$d/tests/cli/lib.bash" cli
PROXY="$ROOT/tests/cli/tamper_proxy.py"

# ---- a vault -----------------------------------------------------------------------------------
"$KLUIS" keygen --no-passphrase --id beheer --out admin.key >/dev/null &&
"$KLUIS" keygen --no-passphrase --authority --id bureau --out authority.key >/dev/null &&
"$KLUIS" keygen --no-passphrase --id wijk-anna --out anna.key >/dev/null &&
"$KLUIS" keygen --no-passphrase --id schuld-bram --out bram.key >/dev/null &&
"$KLUISD" init --dir vault --origin test.example/kluis --charter "$CHARTER" \
    --admin-pub admin.key.pub --authority-pub authority.key.pub >/dev/null 2>"$T/err"
check "kluisd init" '[ $? -eq 0 ]'
"$KLUISD" serve --dir vault --listen 127.0.0.1:0 --port-file port 2>"$T/kluisd.log" &
pids+=($!)
for _ in $(seq 100); do [ -s port ] && break; sleep 0.05; done
check "kluisd serves" '[ -s port ]'
export KLUIS_SERVER="http://127.0.0.1:$(cat port)"

# ---- usage and connection ----------------------------------------------------------------------
run 0 "help lists commands" -- help
check "help has one line per command" 'grep -q "kluis read CITIZEN" out && grep -q "kluis admin register" out'
run 0 "help COMMAND explains with examples" -- help read
check "help read shows an example" 'grep -q "Example" out'
run 2 "unknown command" -- frobnicate
run 2 "unknown option" -- vault --frob
run 2 "missing argument" -- --key anna.key read
run 2 "bad number" -- --key admin.key grant --to x --purpose p --sections plan --days soon
run 2 "no identity" -- whoami
run 2 "plain http to a remote host refused" -- --server http://192.0.2.1:8080 vault
run 3 "closed port" -- --server http://127.0.0.1:1 vault
check "closed port message" 'grep -q "cannot reach" err'
run 3 "closed port, --json error object" -- --json --server http://127.0.0.1:1 vault
check "json error has exit 3" '[ "$(jq -r .exit out)" = 3 ]'

# ---- anyone ------------------------------------------------------------------------------------
run 0 "vault" -- vault
check "vault shows the verified checkpoint" 'grep -q "checkpoint signature verified" out'
run 0 "vault --json" -- --json vault
check "vault --json fields" 'jq -e ".origin == \"test.example/kluis\" and .log.verified == true" out >/dev/null'
run 0 "charter show" -- charter show
check "charter show lists sections" 'grep -q "Ondersteuningsplan" out'
run 0 "charter show --json is the charter" -- --json charter show
check "charter --json parses" 'jq -e ".charter == \"voorbeeldstad-sociaal-domein\"" out >/dev/null'

# ---- admin -------------------------------------------------------------------------------------
run 0 "admin whoami" -- --key admin.key whoami
check "admin role" 'grep -q "admin" out'
check "session cached 0600 in a 0700 dir" \
  '[ "$(stat -c %a "$XDG_RUNTIME_DIR/kluis")" = 700 ] && [ "$(stat -c %a "$XDG_RUNTIME_DIR"/kluis/*.session | sort -u)" = 600 ]'
check "no token on stdout/stderr" '! grep -q "$(jq -r .token "$XDG_RUNTIME_DIR"/kluis/*.session | head -1)" out err'
run 0 "admin register professional" -- --key admin.key admin register --role professional --id wijk-anna \
    --name "Anna de Vries" --org "Wijkteam Noord" --pub anna.key.pub
run 0 "admin register second professional" -- --key admin.key --json admin register --role professional \
    --id schuld-bram --name "Bram Bos" --org "Schuldhulp" --pub bram.key.pub
check "register --json" 'jq -e ".id == \"schuld-bram\"" out >/dev/null'
run 2 "register with mismatching id" -- --key admin.key admin register --role professional --id iemand \
    --name X --org Y --pub anna.key.pub
run 1 "register twice is refused" -- --key admin.key admin register --role professional --id wijk-anna \
    --name "Anna" --org "W" --pub anna.key.pub
check "refusal names the code" 'grep -q "refused: conflict" err'
run 1 "professional may not register" -- --key anna.key admin register --role professional --id schuld-bram \
    --name B --org S --pub bram.key.pub
check "forbidden" 'grep -q "refused: forbidden" err'
run 0 "citizen-add" -- --key admin.key --json admin citizen-add jan-jansen --name "Jan Jansen"
CODE=$(jq -r .enrollment_code out)
check "enrollment code shown" '[ -n "$CODE" ] && [ "$CODE" != null ]'

# ---- citizen -----------------------------------------------------------------------------------
export KLUIS_PASSPHRASE="lange zin voor jan"
run 1 "enroll with a wrong code" -- citizen enroll --id jan-jansen --code AAAAA-AAAAA-AAAAA-AAAAA --out bad.key
check "no key file left after a refused enroll" '[ ! -e bad.key ]'
run 0 "citizen enroll" -- citizen enroll --id jan-jansen --code "$CODE" --out jan.key
check "citizen key file 0600" '[ "$(stat -c %a jan.key)" = 600 ]'
check "key file sealed (no plain secret)" 'jq -e ".kdf == \"argon2id13\"" jan.key >/dev/null'
run 0 "citizen whoami" -- --key jan.key whoami
check "citizen role" 'grep -q "citizen" out'
( export KLUIS_PASSPHRASE=fout; "$KLUIS" citizen login --id jan-jansen >"$T/out" 2>"$T/err" ); rc=$?
check "bundle login, wrong passphrase refused (exit 1, bad_credentials)" '[ $rc -eq 1 ] && grep -q bad_credentials err'
run 0 "bundle login writes a key file" -- citizen login --id jan-jansen --out jan2.key
run 0 "--citizen uses the bundle path" -- --citizen jan-jansen --json whoami
check "--citizen whoami" 'jq -e ".role == \"citizen\"" out >/dev/null'

# requests
run 0 "professional requests access" -- --key anna.key --json request jan-jansen --purpose ondersteuning \
    --sections plan,wonen --days 60 --write --note "Graag voor het keukentafelgesprek"
REQ=$(jq -r .id out)
run 0 "citizen lists requests" -- --key jan.key requests
check "request shown with requester" 'grep -q "$REQ" out && grep -q "wijk-anna" out'
run 0 "professional requests again" -- --key bram.key --json request jan-jansen --purpose schuldhulp \
    --sections schulden --days 30
REQ2=$(jq -r .id out)
run 0 "decline" -- --key jan.key decline "$REQ2"

# grants
run 0 "grant answering the request" -- --key jan.key --json grant --request "$REQ"
GRANT=$(jq -r .id out)
check "grant id" '[ -n "$GRANT" ] && [ "$GRANT" != null ]'
run 0 "grants" -- --key jan.key grants
check "grant active" 'grep "$GRANT" out | grep -q active'
run 0 "my-grants" -- --key anna.key --json my-grants
check "my-grants shows it" 'jq -e ".grants | map(select(.id == \"$GRANT\" and .access == \"write\")) | length == 1" out >/dev/null'
run 1 "grant beyond the charter" -- --key jan.key grant --to schuld-bram --purpose huisvesting --sections wonen --days 91
check "duration_exceeds_charter" 'grep -q duration_exceeds_charter err'
run 0 "read-only grant to bram" -- --key jan.key --json grant --to schuld-bram --purpose schuldhulp \
    --sections schulden --days 30
GRANT2=$(jq -r .id out)

# ---- dossier: write and read -------------------------------------------------------------------
echo "Keukentafelgesprek gehad. Jan wil hulp bij de huur." > note1.txt
runin 0 "professional writes" note1.txt -- --key anna.key write jan-jansen --section wonen --title "Gesprek"
printf 'Mijn eigen aantekening.\nTweede regel.\n' > note2.txt
runin 0 "citizen writes" note2.txt -- --key jan.key write jan-jansen --section plan
run 0 "professional reads" -- --key anna.key read jan-jansen
check "reads the professional's entry with author" 'grep -q "Jan wil hulp bij de huur" out && grep -q "by wijk-anna" out'
check "reads the citizen's entry with author" 'grep -q "Mijn eigen aantekening" out && grep -q "by jan-jansen" out'
run 0 "read --json" -- --key anna.key --json read jan-jansen --section wonen
check "read --json verified entries" 'jq -e ".verified == true and .sections[0].entries[0].author == \"wijk-anna\"" out >/dev/null'
run 0 "read --out" -- --key anna.key read jan-jansen --out jan-out
check "read --out writes 0600 files" '[ "$(stat -c %a jan-out/wonen/*.json | sort -u)" = 600 ]'
run 1 "section not granted" -- --key anna.key read jan-jansen --section schulden
check "section_not_granted" 'grep -q section_not_granted err'
runin 1 "write under a read grant" note1.txt -- --key bram.key write jan-jansen --section schulden
check "write_not_allowed" 'grep -q write_not_allowed err'
run 0 "citizen reads own dossier" -- --key jan.key read jan-jansen
run 2 "write without input" -- --key anna.key write jan-jansen --section wonen

# ---- rotation --------------------------------------------------------------------------------------
run 0 "rotate" -- --key jan.key --json rotate wonen
check "rotate to epoch 2" 'jq -e ".epoch == 2" out >/dev/null'
runin 0 "professional writes under epoch 2" note1.txt -- --key anna.key write jan-jansen --section wonen
run 0 "professional reads both epochs" -- --key anna.key --json read jan-jansen --section wonen
check "two entries, two epochs" 'jq -e "[.sections[0].entries[].epoch] == [1,2]" out >/dev/null'

# ---- a hostile vault: every alteration is exit 4 ---------------------------------------------------
if command -v python3 >/dev/null && [ -f "$PROXY" ]; then
  python3 "$PROXY" "$(cat port)" pport mode 2>"$T/proxy.log" &
  pids+=($!)
  for _ in $(seq 100); do [ -s pport ] && break; sleep 0.05; done
  P="http://127.0.0.1:$(cat pport)"
  : > mode
  run 0 "through the proxy, unaltered" -- --server "$P" --key anna.key read jan-jansen
  echo charter > mode
  run 4 "altered charter text" -- --server "$P" vault
  echo checkpoint > mode
  run 4 "altered checkpoint" -- --server "$P" vault
  echo blob > mode
  run 4 "altered entry blob" -- --server "$P" --key anna.key read jan-jansen --section wonen
  check "names the blob" 'grep -q "not the one its author signed" err'
  run 4 "altered entry blob, --json" -- --server "$P" --key anna.key --json read jan-jansen --section wonen
  check "no entry shown as success" '! grep -q "Jan wil hulp" out && jq -e ".exit == 4" out >/dev/null'
  echo swapwrap > mode
  run 4 "key that does not match its commitment" -- --server "$P" --key jan.key read jan-jansen
  check "names the commitment" 'grep -q "commitment" err'
  echo citizenkey > mode
  run 4 "another signing key for the citizen than the pinned one" -- --server "$P" --key anna.key read jan-jansen
  check "names the pin" 'grep -q "pinned" err'
  echo journal > mode
  run 4 "altered journal event" -- --server "$P" --key jan.key journal --verify
  : > mode
else
  nok "python3 needed for the hostile-vault tests"
fi

# ---- revoke ------------------------------------------------------------------------------------
run 0 "revoke" -- --key jan.key --json revoke "$GRANT"
check "revoke rotated the sections" 'jq -e ".state == \"revoked\" and (.rotated | length) == 2" out >/dev/null'
run 1 "professional's read after revoke" -- --key anna.key read jan-jansen
check "grant_revoked" 'grep -q "refused: grant_revoked" err'
run 1 "revoked: --json names the code" -- --key anna.key --json read jan-jansen
check "json error code grant_revoked" 'jq -e ".error == \"grant_revoked\" and .exit == 1" out >/dev/null'
run 0 "the other grantee still reads" -- --key bram.key read jan-jansen --section schulden

# ---- journal, export, erase ----------------------------------------------------------------------
run 0 "journal" -- --key jan.key journal
check "journal shows reads by anna" 'grep -q "wijk-anna" out'
run 0 "journal --verify" -- --key jan.key journal --verify
check "journal verified" 'grep -q "journal verified" out'
run 0 "export" -- --key jan.key export --out export.json
check "export is readable, decrypted JSON" 'jq -e ".journal.verified == true" export.json >/dev/null && grep -q "Jan wil hulp" export.json'
check "export 0600" '[ "$(stat -c %a export.json)" = 600 ]'
run 4 "export refuses to overwrite" -- --key jan.key export --out export.json
run 2 "erase needs confirmation" -- --key jan.key erase schulden
run 0 "erase" -- --key jan.key erase schulden --yes
before=$(ls "$XDG_RUNTIME_DIR"/kluis | wc -l)
run 0 "logout" -- --key jan.key logout
check "logout removed the cached session" '[ "$(ls "$XDG_RUNTIME_DIR"/kluis | wc -l)" -eq $((before - 1)) ]'
run 0 "after logout, a new login" -- --key jan.key whoami

# ---- admin deactivates ---------------------------------------------------------------------------
run 0 "deactivate" -- --key admin.key admin deactivate schuld-bram
run 1 "deactivated professional is refused" -- --key bram.key read jan-jansen
echo "# $n checks, $failed failed"
[ "$failed" -eq 0 ]
