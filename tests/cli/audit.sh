#!/usr/bin/env bash
# tests/cli/audit.sh — `kluis audit verify` against a real kluisd: the auditor pins the log key,
# passes on an honest log (fresh, and grown by registrations), and fails, naming the problem, on a
# rolled-back vault (an older copy of its directory restored), a forked one, a changed log key,
# and a role that may not read the log. When the vault has override endpoints (issue 5), a real
# override flow must verify too. Prints "ok - ..." / "not ok - ..." lines for tests/run.sh.
set -u
d=${KLUIS_ROOT:-$(cd "$(dirname "$0")" && pwd)}
while [ "$d" != / ] && [ ! -f "$d/tests/cli/lib.bash" ]; do d=$(dirname "$d"); done
. "$d/tests/cli/lib.bash" audit

# start DIR: serve the vault in DIR on a fresh port
start() {
  rm -f port
  "$KLUISD" serve --dir "$1" --listen 127.0.0.1:0 --port-file port 2>>"$T/kluisd.log" &
  SRV=$!
  for _ in $(seq 100); do [ -s port ] && break; sleep 0.05; done
  export KLUIS_SERVER="http://127.0.0.1:$(cat port)"
}
stop() { kill "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null; SRV=""; }

for k in beheer:admin fg-piet:officer accountant:auditor wijk-anna:anna schuld-bram:bram burgemeester:mayor; do
  "$KLUIS" keygen --no-passphrase --id "${k%%:*}" --out "${k##*:}.key" >/dev/null
done
"$KLUIS" keygen --no-passphrase --authority --id bureau --out authority.key >/dev/null
"$KLUISD" init --dir vault --origin test.example/kluis --charter "$CHARTER" \
    --admin-pub admin.key.pub --authority-pub authority.key.pub >/dev/null 2>"$T/err"
check "kluisd init" '[ $? -eq 0 ]'
start vault
check "kluisd serves" '[ -s port ]'
A="--key auditor.key"
run 0 "register the auditor" -- --key admin.key admin register --role auditor --id accountant \
    --name "Gemeentelijke accountant" --org "Rekenkamer" --pub auditor.key.pub

# ---- the endpoint ------------------------------------------------------------------------------
run 0 "auditor logs in" -- $A whoami
curl -s "$KLUIS_SERVER/v1/log/entries?start=0&end=10" >"$T/out" 2>/dev/null
check "GET /v1/log/entries without a session is 401" 'jq -e ".error == \"unauthenticated\"" out >/dev/null'
TOKEN=$(jq -r 'select(.id == "accountant") | .token' "$XDG_RUNTIME_DIR"/kluis/*.session)
curl -s -H "Authorization: Bearer $TOKEN" "$KLUIS_SERVER/v1/log/entries?start=0&end=100" >"$T/out"
check "auditor gets every leaf as b64url, index in order" \
  'jq -e "(.entries | length) == 4 and ([.entries[].index] == [0,1,2,3])" out >/dev/null'
check "leaf 0 decodes to vault.created" \
  '[ "$(jq -r ".entries[0].leaf" out | tr "_-" "/+" | { read -r l; pad=$(( (4 - ${#l} % 4) % 4 )); printf "%s%s" "$l" "$(head -c $pad </dev/zero | tr "\\0" "=")"; } | base64 -d | jq -r .event)" = vault.created ]'
curl -s -H "Authorization: Bearer $TOKEN" "$KLUIS_SERVER/v1/log/entries?start=4&end=10" >"$T/out"
check "start at the tree size is 400" 'jq -e ".error == \"bad_request\"" out >/dev/null'
curl -s -H "Authorization: Bearer $TOKEN" "$KLUIS_SERVER/v1/log/entries?start=0" >"$T/out"
check "end is required" 'jq -e ".error == \"bad_request\"" out >/dev/null'

# ---- honest log --------------------------------------------------------------------------------
run 0 "audit verify, first run pins the key" -- $A audit verify
check "first run says pinned" 'grep -q "log key pinned" out && grep -q "all checks passed" out'
ST=$(ls "$XDG_STATE_HOME"/kluis/audit-*.json 2>/dev/null | head -1)
check "state file 0600 under XDG_STATE_HOME" '[ -n "$ST" ] && [ "$(stat -c %a "$ST")" = 600 ]'
SIZE1=$(jq -r .size "$ST")
run 0 "audit verify again, nothing new" -- $A audit verify
run 0 "admin registers more" -- --key admin.key admin register --role professional --id wijk-anna \
    --name "Anna de Vries" --org "Wijkteam Noord" --pub anna.key.pub
run 0 "admin registers an officer" -- --key admin.key admin register --role officer --id fg-piet \
    --name "Piet (FG)" --org "Gemeente" --pub officer.key.pub
cp -a vault vault.old                     # a copy of the vault as it is now (served and signed)
run 0 "admin registers the mayor" -- --key admin.key admin register --role mayor --id burgemeester \
    --name "De burgemeester" --org "Gemeente" --pub mayor.key.pub
run 0 "audit verify after registrations (--json)" -- $A --json audit verify
check "json: ok, grown, previous size" \
  'jq -e ".ok == true and .size > '"$SIZE1"' and .previous_size == '"$SIZE1"' and .principals == 5 and (.violations|length) == 0" out >/dev/null'
run 0 "an explicit --state and --log-key on a first run" -- $A audit verify --state "$T/explicit.json" \
    --log-key "$(curl -s "$KLUIS_SERVER/v1/vault" | jq -r .log_pk)"
run 4 "a --log-key other than the vault's is refused" -- $A audit verify --state "$T/other.json" \
    --log-key AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
check "names log-key-changed" 'grep -q "log-key-changed" err'
run 1 "a professional may not read the log" -- --key anna.key audit verify --state "$T/anna.json"
check "forbidden" 'grep -q "refused: forbidden" err'
run 2 "audit verify takes no argument" -- $A audit verify extra

# ---- a real override flow, when the vault has one (issue 5) ----------------------------------------
if grep -q '"/v1/overrides"' "$ROOT/api/router.c" 2>/dev/null && "$KLUIS" help override >/dev/null 2>&1; then
  export KLUIS_PASSPHRASE="lange zin voor jan"
  run 0 "citizen-add" -- --key admin.key --json admin citizen-add jan-jansen --name "Jan Jansen"
  CODE=$(jq -r .enrollment_code out)
  run 0 "citizen enroll" -- citizen enroll --id jan-jansen --code "$CODE" --out jan.key
  run 0 "mayor requests an override" -- --key mayor.key --json override request jan-jansen \
      --beneficiary wijk-anna --ground acuut-gevaar --hours 24 --sections all \
      --justification "Acuut gevaar voor de bewoner; de wijkagent en de huisarts maken zich ernstig zorgen."
  OV=$(jq -r .id out)
  run 0 "officer approves" -- --key officer.key override approve "$OV" --yes
  run 0 "mayor unlocks" -- --key mayor.key override unlock "$OV" --authority-key authority.key
  run 0 "beneficiary reads under the override" -- --key anna.key read jan-jansen
  run 0 "mayor closes" -- --key mayor.key override close "$OV" --reason "Gevaar geweken"
  run 0 "audit verify after a real override" -- $A --json audit verify
  check "the override verified" 'jq -e ".ok == true and .overrides_checked == 1 and .overrides[0].verdict == \"ok\" and .overrides[0].state == \"closed\"" out >/dev/null'
  run 0 "audit verify, readable report" -- $A audit verify
  check "one line per override" 'grep -q "^Override   $OV" out'
else
  echo "# no override endpoints or commands in this build yet: the override flow is checked by tests/unit/test_audit.c only"
fi

# ---- rollback, fork, changed key -----------------------------------------------------------------
# (each restart listens on a new port, and the default state file is per server URL: --state "$ST")
stop
SAVED=$(sha256sum "$ST")
VERIFIED=$(jq -r .size "$ST")
mv vault vault.new && mv vault.old vault
start vault
run 4 "a rolled-back vault is detected" -- $A audit verify --state "$ST"
check "names log-rollback" 'grep -q "log-rollback" err'
run 0 "the rolled-back vault grows again (a fork)" -- --key admin.key admin register --role professional \
    --id schuld-bram --name "Bram Bos" --org "Schuldhulp" --pub bram.key.pub
i=0
while [ "$(curl -s "$KLUIS_SERVER/v1/log/checkpoint" | sed -n 2p)" -le "$VERIFIED" ] && [ $i -lt 60 ]; do
  i=$((i + 1))
  "$KLUIS" keygen --no-passphrase --id "extra-$i" --out "extra$i.key" >/dev/null
  "$KLUIS" --key admin.key admin register --role professional --id "extra-$i" --name "Extra $i" --org X \
      --pub "extra$i.key.pub" >/dev/null 2>&1
done
check "the fork is longer than the verified log" \
  '[ "$(curl -s "$KLUIS_SERVER/v1/log/checkpoint" | sed -n 2p)" -gt "$VERIFIED" ]'
run 4 "a forked log is detected" -- $A audit verify --state "$ST"
check "names log-fork (consistency proof)" 'grep -q "log-fork" err && grep -q "consistency proof" err'
check "failed runs leave the state as it was" '[ "$(sha256sum "$ST")" = "$SAVED" ]'
stop
mv vault vault.fork && mv vault.new vault
start vault
run 0 "the genuine vault still verifies" -- $A audit verify --state "$ST"
stop
# another vault under the same address: another log key
"$KLUISD" init --dir vault2 --origin test.example/kluis --charter "$CHARTER" \
    --admin-pub admin.key.pub --authority-pub authority.key.pub >/dev/null 2>"$T/err"
start vault2
run 0 "register the auditor at the impostor" -- --key admin.key admin register --role auditor --id accountant \
    --name "Gemeentelijke accountant" --org "Rekenkamer" --pub auditor.key.pub
run 4 "a changed log key is detected" -- $A audit verify --state "$ST"
check "names log-key-changed" 'grep -q "log-key-changed" err'
stop

echo "# $n checks, $failed failed"
[ "$failed" -eq 0 ]
