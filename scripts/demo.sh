#!/bin/sh
# `make run`: create the demo vault under ./var/demo the first time, then serve it on 127.0.0.1:8080.
# Demo key files are written WITHOUT passphrase (kluis keygen --no-passphrase): for a demo only.
set -eu
cd "$(dirname "$0")/.."
D=var/demo
LISTEN=${KLUIS_LISTEN:-127.0.0.1:8080}
KLUIS=build/kluis
KLUISD=build/kluisd
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
cat <<MSG

Kluis demo vault: $D/vault
  Citizen web page:  http://$LISTEN/
  Vault info:        curl http://$LISTEN/v1/vault
  Charter in force:  curl http://$LISTEN/v1/charter
  Log checkpoint:    curl http://$LISTEN/v1/log/checkpoint
  Demo key files (no passphrase, demo only): $D/keys/
  Try:  KLUIS_SERVER=http://$LISTEN $KLUIS --key $D/keys/beheer.key help

Serving on $LISTEN; Ctrl-C stops.
MSG
exec $KLUISD serve --dir "$D/vault" --listen "$LISTEN"
