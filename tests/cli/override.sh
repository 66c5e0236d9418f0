#!/usr/bin/env bash
# tests/cli/override.sh — the emergency override end to end with the real `kluis` and `kluisd`
# (issue 5): request → refusals by charter rule → approval → unlock with the authority key →
# the beneficiary reads → the citizen's journal → close → refused → the citizen's client rotates
# the opened sections on its next command → the auditor's verify passes on this honest log.
# Prints "ok - ..." / "not ok - ..." lines for tests/run.sh.
set -u
d=${KLUIS_ROOT:-$(cd "$(dirname "$0")" && pwd)}
while [ "$d" != / ] && [ ! -f "$d/tests/cli/lib.bash" ]; do d=$(dirname "$d"); done
. "$d/tests/cli/lib.bash" ovr

# ---- a vault with a mayor, an officer, a professional, an auditor and a citizen ---------------
for id in beheer burg-carla fg-olga wijk-anna audit-rob; do
  "$KLUIS" keygen --no-passphrase --id "$id" --out "$id.key" >/dev/null || echo "keygen $id failed"
done
"$KLUIS" keygen --no-passphrase --authority --id bureau --out authority.key >/dev/null
"$KLUIS" keygen --no-passphrase --authority --id ander --out other-authority.key >/dev/null
"$KLUISD" init --dir vault --origin test.example/kluis --charter "$CHARTER" \
    --admin-pub beheer.key.pub --authority-pub authority.key.pub >/dev/null 2>"$T/err"
check "kluisd init" '[ $? -eq 0 ]'
"$KLUISD" serve --dir vault --listen 127.0.0.1:0 --port-file port 2>"$T/kluisd.log" &
pids+=($!)
for _ in $(seq 200); do [ -s port ] && break; sleep 0.05; done
check "kluisd serves" '[ -s port ]'
export KLUIS_SERVER="http://127.0.0.1:$(cat port)"

A="--key beheer.key"
run 0 "register the mayor" -- $A admin register --role mayor --id burg-carla --name "Carla Burgemeester" \
    --org "Gemeente Voorbeeldstad" --pub burg-carla.key.pub
run 0 "register the officer" -- $A admin register --role officer --id fg-olga --name "Olga FG" \
    --org "Gemeente Voorbeeldstad" --pub fg-olga.key.pub
run 0 "register the professional" -- $A admin register --role professional --id wijk-anna --name "Anna de Vries" \
    --org "Wijkteam Noord" --pub wijk-anna.key.pub
run 0 "register the auditor" -- $A admin register --role auditor --id audit-rob --name "Rob Rekenkamer" \
    --org "Rekenkamer" --pub audit-rob.key.pub
run 0 "citizen-add" -- $A --json admin citizen-add jan-jansen --name "Jan Jansen"
CODE=$(jq -r .enrollment_code out)
export KLUIS_PASSPHRASE="lange zin voor jan"
run 0 "citizen enroll" -- citizen enroll --id jan-jansen --code "$CODE" --out jan.key
echo "Afspraak: elke dinsdag belt Jan met zijn zus." > note.txt
runin 0 "citizen writes in plan" note.txt -- --key jan.key write jan-jansen --section plan --title Afspraak
run 1 "without consent the professional cannot read" -- --key wijk-anna.key read jan-jansen

M="--key burg-carla.key"
JUST="Jan is sinds gisteren vermist; zijn zus meldt dat hij heeft gedreigd zichzelf iets aan te doen."

# ---- refusals by charter rule ------------------------------------------------------------------
run 1 "unknown ground" -- $M override request jan-jansen --beneficiary wijk-anna --ground zomaar --hours 24 \
    --sections plan --justification "$JUST"
check "ground_unknown" 'grep -q "ground_unknown" err'
run 1 "short justification" -- $M override request jan-jansen --beneficiary wijk-anna --ground acuut-gevaar \
    --hours 24 --sections plan --justification "Het moet."
check "justification_too_short" 'grep -q "justification_too_short" err'
run 1 "too many hours" -- $M override request jan-jansen --beneficiary wijk-anna --ground acuut-gevaar \
    --hours 100 --sections plan --justification "$JUST"
check "duration_exceeds_charter" 'grep -q "duration_exceeds_charter" err'
run 1 "an officer cannot request" -- --key fg-olga.key override request jan-jansen --beneficiary wijk-anna \
    --ground acuut-gevaar --hours 24 --sections plan --justification "$JUST"
check "forbidden" 'grep -q "forbidden" err'
run 2 "request without --sections" -- $M override request jan-jansen --beneficiary wijk-anna \
    --ground acuut-gevaar --hours 24 --justification "$JUST"

# ---- request, approve ---------------------------------------------------------------------------
run 0 "the mayor requests an override" -- $M --json override request jan-jansen --beneficiary wijk-anna \
    --ground acuut-gevaar --hours 24 --sections plan,wonen --justification "$JUST"
OV=$(jq -r .id out)
check "pending with an id" '[ "$(jq -r .state out)" = pending ] && [ -n "$OV" ]'
run 1 "unlock before approval" -- $M override unlock "$OV" --authority-key authority.key
check "quorum_pending" 'grep -q "quorum_pending" err'
run 1 "the mayor cannot approve" -- $M override approve "$OV" --yes
check "mayor approve forbidden" 'grep -q "forbidden" err'
run 2 "approve without a terminal needs --yes" -- --key fg-olga.key override approve "$OV"
check "the request was shown before asking" 'grep -q "justification:" out && grep -q "vermist" out'
run 0 "the officer approves" -- --key fg-olga.key override approve "$OV" --yes
check "active" 'grep -q "active until" out'
run 1 "approving twice" -- --key fg-olga.key override approve "$OV" --yes
check "conflict" 'grep -q "conflict" err'
run 0 "the auditor lists active overrides" -- --key audit-rob.key override list --state active
check "list shows the override" 'grep -q "$OV" out && grep -q "acuut-gevaar" out'
run 1 "a professional may not list" -- --key wijk-anna.key override list

# ---- unlock -------------------------------------------------------------------------------------
run 4 "unlock with another authority key" -- $M override unlock "$OV" --authority-key other-authority.key
run 0 "the mayor unlocks with the authority key" -- $M override unlock "$OV" --authority-key authority.key
check "keys checked and wrapped" 'grep -q "2 key(s) checked" out'

# ---- the beneficiary reads ---------------------------------------------------------------------
run 0 "the beneficiary reads under the override" -- --key wijk-anna.key read jan-jansen
check "the entry is shown" 'grep -q "elke dinsdag" out'
run 1 "a section outside the override stays closed" -- --key wijk-anna.key read jan-jansen --section schulden
run 0 "the citizen's journal" -- --key jan.key --json journal --verify
check "journal shows activation, release and the read with basis override:$OV" \
  'jq -e "[.events[] | select(.basis == \"override:$OV\") | .action] | (index(\"override-activated\") != null) and (index(\"escrow-released\") != null) and (index(\"read\") != null)" out >/dev/null'

# ---- close --------------------------------------------------------------------------------------
run 0 "the beneficiary closes the override" -- --key wijk-anna.key override close "$OV" --reason "Jan is gevonden."
run 1 "after close the beneficiary is refused" -- --key wijk-anna.key read jan-jansen
run 1 "closing twice" -- $M override close "$OV" --reason "nogmaals"
run 0 "closed overrides are listed" -- --key fg-olga.key --json override list --state closed
check "close reason recorded" 'jq -e ".overrides[0].close_reason == \"closed\"" out >/dev/null'

# ---- the citizen's client rotates what the override opened -------------------------------------
run 0 "the citizen's next command" -- --key jan.key whoami
check "it rotates plan and wonen" 'grep -q "section plan now uses key epoch 2" err && grep -q "section wonen now uses key epoch 2" err'
run 0 "the next command again" -- --key jan.key whoami
check "nothing left to rotate" '! grep -q "rotating" err'
run 0 "the citizen still reads their own dossier" -- --key jan.key read jan-jansen
check "old entry readable" 'grep -q "elke dinsdag" out'

# ---- the auditor ---------------------------------------------------------------------------------
if "$KLUIS" help audit verify >/dev/null 2>&1; then
  run 0 "audit verify passes on this honest log" -- --key audit-rob.key audit verify
  check "the report names the override" 'grep -q "$OV" out'
fi

kill "${pids[0]}" 2>/dev/null; wait "${pids[0]}" 2>/dev/null; pids=()
echo "# $((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
