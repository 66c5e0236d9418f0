#!/bin/sh
# `make run`: a demo vault under ./var/demo, served on 127.0.0.1:8080 (KLUIS_LISTEN overrides).
#
# The first run creates it: key files, `kluisd init`, then — with kluisd running in the background
# for a moment — the demo principals (three professionals, a mayor, a privacy officer, an auditor)
# and one citizen record, whose enrollment code is written to var/demo/README.txt. Every run then
# prints what to try and serves in the foreground (Ctrl-C stops). A second run reuses the vault and
# prints the same instructions again.
# Demo key files are written WITHOUT passphrase (kluis keygen --no-passphrase): for a demo only.
set -eu
cd "$(dirname "$0")/.."
D=var/demo
LISTEN=${KLUIS_LISTEN:-127.0.0.1:8080}
URL=http://$LISTEN
KLUIS=build/kluis
KLUISD=build/kluisd
CITIZEN=jan-jansen
README=$D/README.txt

if [ ! -f "$D/vault/data.mdb" ]; then
  echo "Creating the demo vault in $D ..."
  rm -rf "$D"; mkdir -p "$D/keys"; chmod 700 "$D" "$D/keys"
  $KLUIS keygen --no-passphrase --id beheer --out "$D/keys/beheer.key"
  $KLUIS keygen --no-passphrase --authority --id burgemeester-bureau --out "$D/keys/authority.key"
  for p in wijk-anna wijk-bram schuld-carla burgemeester fg-dirk auditor-eva; do
    $KLUIS keygen --no-passphrase --id "$p" --out "$D/keys/$p.key"
  done
  $KLUISD init --dir "$D/vault" --origin demo.voorbeeldstad.nl/kluis \
      --charter policy/charter.example.json \
      --admin-pub "$D/keys/beheer.key.pub" --authority-pub "$D/keys/authority.key.pub"
fi

# One-time setup of the people in the demo (also for a vault made by an older `make run`).
if [ ! -f "$README" ]; then
  echo "Registering the demo principals and a citizen ..."
  $KLUISD serve --dir "$D/vault" --listen "$LISTEN" >"$D/setup.log" 2>&1 &
  pid=$!
  stop_bg() { kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; }
  trap stop_bg EXIT INT TERM
  up=0
  for _ in $(seq 1 100); do
    if $KLUIS --server "$URL" --timeout 2 vault >/dev/null 2>&1; then up=1; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ "$up" != 1 ]; then
    echo "kluisd did not start on $LISTEN (see $D/setup.log)" >&2
    exit 1
  fi
  admin() { $KLUIS --server "$URL" --key "$D/keys/beheer.key" admin "$@"; }
  register() { # ROLE ID NAME ORG — tolerates a principal registered by an earlier, interrupted run
    admin register --role "$1" --id "$2" --name "$3" --org "$4" --pub "$D/keys/$2.key.pub" ||
      echo "  ($2 not registered now: already there?)"
  }
  register professional wijk-anna "Anna de Vries" "Wijkteam Noord"
  register professional wijk-bram "Bram Bakker" "Wijkteam Zuid"
  register professional schuld-carla "Carla Jansen" "Schuldhulp Voorbeeldstad"
  register mayor burgemeester "Burgemeester M. van Dam" "Gemeente Voorbeeldstad"
  register officer fg-dirk "Dirk Visser" "Functionaris gegevensbescherming"
  register auditor auditor-eva "Eva de Boer" "Rekenkamer Voorbeeldstad"
  out=$(admin citizen-add "$CITIZEN" --name "Jan Jansen")
  code=$(printf '%s\n' "$out" | sed -n 's/^enrollment code: //p')
  until=$(printf '%s\n' "$out" | sed -n 's/^valid until: //p')
  if [ -z "$code" ]; then
    echo "no enrollment code for $CITIZEN: $out" >&2
    exit 1
  fi
  stop_bg
  trap - EXIT INT TERM
  umask 077
  cat >"$README" <<EOF
Kluis demo vault ($D)

Citizen:          $CITIZEN (Jan Jansen)
Enrollment code:  $code   (valid until $until; single use)

Principals (key files without passphrase in $D/keys/):
  wijk-anna     professional  Anna de Vries, Wijkteam Noord
  wijk-bram     professional  Bram Bakker, Wijkteam Zuid
  schuld-carla  professional  Carla Jansen, Schuldhulp Voorbeeldstad
  burgemeester  mayor         Burgemeester M. van Dam (authority key: $D/keys/authority.key)
  fg-dirk       officer       Dirk Visser, privacy officer
  auditor-eva   auditor       Eva de Boer, Rekenkamer Voorbeeldstad
  beheer        admin
EOF
fi

code=$(sed -n 's/^Enrollment code: *\([^ ]*\).*/\1/p' "$README")
S=""
[ "$URL" = "http://127.0.0.1:8080" ] || S="KLUIS_SERVER=$URL "
cat <<MSG

Kluis demo vault: $D/vault   (people and code: $README)

Try it:
  1. Open $URL/ in a browser and choose "Account activeren" (Activate account).
     Login name: $CITIZEN   Activation code: $code
     Choose a passphrase; your browser makes your keys.
  2. "Toegang geven" (Give access): give Anna de Vries (wijk-anna) access, e.g. purpose
     "ondersteuning"; add a note under "Mijn dossier".
  3. As Anna, read and decrypt it:
       ${S}KLUIS_KEY=$D/keys/wijk-anna.key $KLUIS read $CITIZEN
     Then revoke her access on the page and run it again: refused.
  More: ${S}$KLUIS --key $D/keys/beheer.key help   (mayor: burgemeester.key; auditor: auditor-eva.key
        with "kluis audit verify"; vault info: curl $URL/v1/vault)

Serving on $LISTEN; Ctrl-C stops.
MSG
exec $KLUISD serve --dir "$D/vault" --listen "$LISTEN"
