#!/usr/bin/env bash
# tests/cli/dishonest.sh — `kluis audit verify` and `kluis audit show` against a DELIBERATELY
# DISHONEST log (issue 5). The real kluisd and kluis produce an honest override history (request,
# approval, activation, escrow release, wraps, close), captured as the auditor sees it
# (GET /v1/log/entries). tests/cli/fakelog.c — built here, never committed as a binary — then
# replays it as a "vault" with its own log key, signing a fresh checkpoint over whatever leaves the
# scenario holds: the honest log, a forked log, a rolled-back log, a rewritten leaf, leaves that do
# not match the signed tree, an override activated without quorum, an escrow released before
# activation. The auditor must pass the first and name every other one.
# Prints "ok - ..." / "not ok - ..." lines for tests/run.sh.
set -u
d=${KLUIS_ROOT:-$(cd "$(dirname "$0")" && pwd)}
while [ "$d" != / ] && [ ! -f "$d/tests/cli/lib.bash" ]; do d=$(dirname "$d"); done
. "$d/tests/cli/lib.bash" dishonest
[ -e "$ROOT/tests/cli/fakelog.c" ] || { echo "not ok - missing $ROOT/tests/cli/fakelog.c"; exit 1; }
command -v jq >/dev/null || { echo "not ok - jq is needed"; exit 1; }

# ---- the fake log server: a test fixture, compiled here -------------------------------------------
# shellcheck disable=SC2046
${CC:-cc} -std=c11 -D_GNU_SOURCE -O1 -Wall -Wextra -Werror -I"$ROOT" -o fakelog "$ROOT/tests/cli/fakelog.c" \
    "$ROOT/vault/checkpoint.c" "$ROOT/vault/merkle.c" "$ROOT/vault/encoding.c" \
    $(pkg-config --cflags --libs libsodium libmicrohttpd jansson) 2>"$T/err"
check "the fake log server builds" '[ -x fakelog ]'
[ -x fakelog ] || { echo "# $n checks, $failed failed"; exit 1; }

# ---- honest material: a real override flow on the real kluisd -------------------------------------
for id in beheer burg-carla fg-olga wijk-anna audit-rob; do
  "$KLUIS" keygen --no-passphrase --id "$id" --out "$id.key" >/dev/null || echo "# keygen $id failed"
done
"$KLUIS" keygen --no-passphrase --authority --id bureau --out authority.key >/dev/null
"$KLUISD" init --dir vault --origin test.example/kluis --charter "$CHARTER" \
    --admin-pub beheer.key.pub --authority-pub authority.key.pub >/dev/null 2>"$T/err"
check "kluisd init" '[ $? -eq 0 ]'
"$KLUISD" serve --dir vault --listen 127.0.0.1:0 --port-file port 2>"$T/kluisd.log" &
pids+=($!)
for _ in $(seq 200); do [ -s port ] && break; sleep 0.05; done
export KLUIS_SERVER="http://127.0.0.1:$(cat port)"
A="--key beheer.key"
"$KLUIS" $A admin register --role mayor --id burg-carla --name "Carla Burgemeester" --org Gemeente \
    --pub burg-carla.key.pub >/dev/null 2>>"$T/err" &&
"$KLUIS" $A admin register --role officer --id fg-olga --name "Olga FG" --org Gemeente \
    --pub fg-olga.key.pub >/dev/null 2>>"$T/err" &&
"$KLUIS" $A admin register --role professional --id wijk-anna --name "Anna de Vries" --org "Wijkteam Noord" \
    --pub wijk-anna.key.pub >/dev/null 2>>"$T/err" &&
"$KLUIS" $A admin register --role auditor --id audit-rob --name "Rob Rekenkamer" --org Rekenkamer \
    --pub audit-rob.key.pub >/dev/null 2>>"$T/err"
check "principals registered" '[ $? -eq 0 ]'
CODE=$("$KLUIS" $A --json admin citizen-add jan-jansen --name "Jan Jansen" 2>>"$T/err" | jq -r .enrollment_code)
export KLUIS_PASSPHRASE="lange zin voor jan"
run 0 "citizen enroll" -- citizen enroll --id jan-jansen --code "$CODE" --out jan.key
JUST="Jan is sinds gisteren vermist; zijn zus meldt dat hij heeft gedreigd zichzelf iets aan te doen."
run 0 "the mayor requests an override" -- --key burg-carla.key --json override request jan-jansen \
    --beneficiary wijk-anna --ground acuut-gevaar --hours 24 --sections all --justification "$JUST"
OV=$(jq -r .id out)
run 0 "the officer approves" -- --key fg-olga.key override approve "$OV" --yes
run 0 "the mayor unlocks" -- --key burg-carla.key override unlock "$OV" --authority-key authority.key
run 0 "the beneficiary closes" -- --key wijk-anna.key override close "$OV" --reason "Jan is gevonden."
run 0 "the real vault's log verifies" -- --key audit-rob.key audit verify
TOKEN=$(jq -r 'select(.id == "audit-rob") | .token' "$XDG_RUNTIME_DIR"/kluis/*.session 2>/dev/null)
curl -s -H "Authorization: Bearer $TOKEN" "$KLUIS_SERVER/v1/log/entries?start=0&end=1000" >entries.json
kill "${pids[0]}" 2>/dev/null; wait "${pids[0]}" 2>/dev/null; pids=()
./fakelog import log.key <entries.json >honest.json 2>"$T/err"
check "the honest log captured" 'jq -e "(.leaves | length) > 10" honest.json >/dev/null'
N=$(jq '.leaves | length' honest.json)
# the index of the first leaf with EVENT (about the override)
at() { jq --arg e "$1" '[.leaves[] | fromjson | .event] | index($e)' honest.json; }
REQ=$(at override.requested); APP=$(at override.approved); ACT=$(at override.activated)
ESC=$(at override.escrow-released); CLO=$(at override.closed)
check "the history has request < approval < activation < escrow < close" \
  '[ "$REQ" -lt "$APP" ] && [ "$APP" -lt "$ACT" ] && [ "$ACT" -lt "$ESC" ] && [ "$ESC" -lt "$CLO" ]'

# ---- the fake vault serves scenario.json; "serve FILE" switches what it shows ----------------------
cp honest.json scenario.json
./fakelog serve log.key scenario.json fport 2>"$T/fakelog.log" &
pids+=($!)
for _ in $(seq 200); do [ -s fport ] && break; sleep 0.05; done
check "the fake vault serves" '[ -s fport ]'
export KLUIS_SERVER="http://127.0.0.1:$(cat fport)"
serve() { cp "$1" scenario.json.tmp && mv scenario.json.tmp scenario.json; }
AUD="--key audit-rob.key"

# jq helpers over scenario files: leaves are the exact leaf texts
# drop leaf I and renumber the rest
drop() { jq --argjson i "$1" '.leaves |= (del(.[$i]) | to_entries | map(.key as $k | .value | fromjson | .index = $k | tojson))'; }
# move leaf FROM to position TO (< FROM), give it the time of the leaf it lands before, renumber
move() {
  jq --argjson f "$1" --argjson t "$2" '
    .leaves as $l | ($l[$t] | fromjson | .time) as $tt
    | .leaves = ($l[:$t] + [($l[$f] | fromjson | .time = $tt | tojson)] + $l[$t:$f] + $l[$f+1:])
    | .leaves |= (to_entries | map(.key as $k | .value | fromjson | .index = $k | tojson))'
}

# ---- honest ----------------------------------------------------------------------------------------
run 0 "honest: audit verify passes (first run pins the fake's key)" -- $AUD audit verify --state st-main.json
check "honest: one report line for the override, verdict ok" \
  '[ "$(grep -c "^Override   " out)" = 1 ] && grep -q "^Override   $OV: .*verdict: ok$" out'
check "honest: the line says who, whom, why (ground title + justification), for whom, how long, approvals" \
  'grep "^Override   $OV" out | grep -q "mayor burg-carla opened citizen jan-jansen for wijk-anna; why: Acuut gevaar voor leven" &&
   grep "^Override   $OV" out | grep -q "(acuut-gevaar) \"Jan is sinds gisteren vermist" &&
   grep "^Override   $OV" out | grep -q "24 h asked; active .* h), closed by wijk-anna; approved by fg-olga;"'
check "honest: all checks passed" 'grep -q "Verdict    all checks passed" out'
run 0 "honest: --json report" -- $AUD --json audit verify --state st-main.json
check "json: the override object has who/whom/why/for whom/how long/approvals/verdict" \
  'jq -e ".ok and (.overrides | length) == 1 and (.overrides[0] | .mayor == \"burg-carla\" and .citizen == \"jan-jansen\"
     and .beneficiary == \"wijk-anna\" and (.ground_title | startswith(\"Acuut gevaar\")) and (.justification | startswith(\"Jan is\"))
     and .hours == 24 and .active_seconds >= 0 and .approvals == [\"fg-olga\"] and .verdict == \"ok\" and .rules == []
     and .charter.version == 1 and .state == \"closed\" and .closed_by == \"wijk-anna\")" out >/dev/null'
run 0 "honest: audit show" -- $AUD audit show "$OV" --state st-main.json
check "show: every leaf about it, in order, with signers and verified signatures" \
  'grep -q "override.requested .*statement $OV by burg-carla (mayor), signature verified" out &&
   grep -q "override.approved .* by fg-olga (officer), signature verified" out &&
   grep -q "override.activated .*active" out && grep -q "override.escrow-released" out &&
   grep -q "override.wraps-uploaded" out && grep -q "override.closed .* by wijk-anna (professional), signature verified" out'
check "show: the charter rules that applied, and the verdict" \
  'grep -q "charter  .* v1: requested by role mayor, 1 approval(s) by role officer, at most 72 h" out && grep -q "^Verdict    ok" out'
run 0 "honest: audit show --json" -- $AUD --json audit show "$OV" --state st-main.json
check "show json: history = every override leaf, in order; signatures verified; charter_rules" \
  'jq -e --argjson r $REQ --argjson c $CLO "(.history | map(.index)) as \$ix | \$ix[0] == \$r and \$ix[-1] == \$c and \$ix == (\$ix | sort)
     and ([.history[] | select(.statement) | .statement.signature] | all(. == \"verified\") and length == 3)
     and .charter_rules.approvals_required == 1 and .verdict == \"ok\" and .findings == [] and .log.size == $N" out >/dev/null'
run 2 "show: an override the log never requested" -- $AUD audit show ov-nope --state st-main.json
check "names it" 'grep -q "no override ov-nope" err'
run 2 "show: an ID is required" -- $AUD audit show --state st-main.json

# ---- a forked log: a later run sees a larger tree that does not extend the verified one -----------
SAVED=$(sha256sum st-main.json)
jq '.leaves[3] |= (fromjson | .display_name = "Anna de Vries (fork)" | tojson)
    | .leaves += [.leaves[-1] | fromjson | .index = (.index + 1) | tojson]' honest.json >fork.json
serve fork.json
run 4 "fork: a larger tree that does not extend the verified one" -- $AUD audit verify --state st-main.json
check "fork: named log-fork (consistency proof)" 'grep -q "log-fork" err && grep -q "consistency proof" err'
run 4 "fork: audit show refuses the same way" -- $AUD audit show "$OV" --state st-main.json
check "fork: the state is left as it was" '[ "$(sha256sum st-main.json)" = "$SAVED" ]'
run 4 "fork (--json): the error names the rule" -- $AUD --json audit verify --state st-main.json
check "fork json: error log-fork" 'jq -e ".error == \"log-fork\"" out >/dev/null'

# ---- a rolled-back log --------------------------------------------------------------------------------
jq '.leaves |= .[:-2]' honest.json >short.json
serve short.json
run 4 "rollback: a smaller tree than the verified one" -- $AUD audit verify --state st-main.json
check "rollback: named log-rollback" 'grep -q "log-rollback" err'

# ---- a rewritten leaf: same size, one leaf changed, checkpoint re-signed ------------------------------
# the activation now claims 48 h more than the 24 h asked
jq --argjson a "$ACT" '.leaves[$a] |= (fromjson | .expires = (.expires + 172800) | tojson)' honest.json >rewritten.json
serve rewritten.json
run 4 "rewritten: same size, another root, against the pinned checkpoint" -- $AUD audit verify --state st-main.json
check "rewritten: named log-fork (same size, another root)" 'grep -q "log-fork" err && grep -q "same size" err'
run 4 "rewritten: a first-time auditor still finds the rewrite" -- $AUD audit verify --state st-rw.json
check "rewritten: named activation-times at the activation leaf" 'grep -q "^leaf $ACT: activation-times:" out'
check "rewritten: the report line names the rule" 'grep -q "^Override   $OV: .*verdict: VIOLATION (activation-times)" out'
# leaves served that do not hash to the signed checkpoint
jq --argjson a "$ACT" '.entries = .leaves | .entries[$a] |= (fromjson | .expires = (.expires + 172800) | tojson)' \
    honest.json >mismatch.json
serve mismatch.json
run 4 "mismatch: leaves that are not the signed tree" -- $AUD audit verify --state st-mm.json
check "mismatch: named root-mismatch" 'grep -q "root-mismatch" err'
serve honest.json
run 0 "the honest log still verifies against the pinned state" -- $AUD audit verify --state st-main.json

# ---- an override activated without quorum -------------------------------------------------------------
drop "$APP" <honest.json >noquorum.json
serve noquorum.json
ACTQ=$((ACT - 1))
run 4 "no quorum: audit verify fails" -- $AUD audit verify --state st-nq.json
check "no quorum: activation-quorum named at the activation leaf" 'grep -q "^leaf $ACTQ: activation-quorum:" out'
check "no quorum: the report line: approved by nobody, the rule" \
  'grep -q "^Override   $OV: .*approved by nobody; verdict: VIOLATION (activation-quorum)" out'
run 4 "no quorum: audit show exits non-zero" -- $AUD audit show "$OV" --state st-nq.json
check "no quorum: show marks the activation leaf" \
  'grep -A1 "leaf $ACTQ .*override.activated" out | grep -q "! activation-quorum:" && grep -q "^Verdict    VIOLATION (activation-quorum)" out'
run 4 "no quorum: audit show --json" -- $AUD --json audit show "$OV" --state st-nq.json
check "no quorum json: findings and the history item" \
  'jq -e --argjson a $ACTQ "(.findings | map(.rule)) == [\"activation-quorum\"] and (.history[] | select(.index == \$a) | .violations[0].rule) == \"activation-quorum\" and .approvals == []" out >/dev/null'

# ---- escrow released before activation ------------------------------------------------------------------
move "$ESC" "$ACT" <honest.json >early.json
serve early.json
run 4 "early escrow: audit verify fails" -- $AUD audit verify --state st-ee.json
check "early escrow: escrow-not-active named at the moved leaf" 'grep -q "^leaf $ACT: escrow-not-active:" out'
check "early escrow: only that rule" '[ "$(grep -c "^leaf " out)" = 1 ]'
run 4 "early escrow: --json" -- $AUD --json audit verify --state st-ee.json
check "early escrow json: the override's rules" \
  'jq -e ".ok == false and .overrides[0].rules == [\"escrow-not-active\"] and .violations[0].index == $ACT" out >/dev/null'

echo "# $((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
