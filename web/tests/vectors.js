// web/tests/vectors.js — checks web/src/crypto.js against every known answer of
// shared/vectors/kluis-v1.json. Runs in the browser (inside the served page, under its CSP) and in
// Node; returns [{name, ok, detail}].
export async function runVectors(kc, V) {
  const out = [];
  const H = kc.hex;
  const X = kc.unhex;
  const u = kc.utf8;
  const check = (name, fn) => {
    try {
      const r = fn();
      out.push({ name, ok: r === true, detail: r === true ? '' : String(r) });
    } catch (e) {
      out.push({ name, ok: false, detail: String(e && e.stack || e) });
    }
  };
  const eq = (got, want) => (got === want ? true : `got ${got}, want ${want}`);

  const k = V.keys;
  check('vector keys: sign_pk and box_pk from the secrets', () => {
    const keys = kc.keysFromSecret(X(k.sign_seed), X(k.box_sk));
    return eq(H(keys.signPk) + H(keys.boxPk), k.sign_pk + k.box_pk);
  });

  const b = V.bundle;
  let master;
  check('vector bundle: Argon2id master key', () => {
    master = kc.pwhash(b.passphrase, X(b.salt), b.opslimit, b.memlimit);
    return eq(H(master), b.master);
  });
  check('vector bundle: enc_key, auth_key, auth_hash', () => {
    const bk = kc.bundleKeys(X(b.master));
    return eq([H(bk.encKey), H(bk.authKey), H(bk.authHash)].join(' '), [b.enc_key, b.auth_key, b.auth_hash].join(' '));
  });
  check('vector bundle: sealed bundle bytes and b64', () => {
    const keys = kc.keysFromSecret(X(k.sign_seed), X(k.box_sk));
    const bundle = kc.sealBundle(X(b.enc_key), keys, b.citizen, X(b.nonce));
    return eq(H(bundle) + ' ' + kc.b64(bundle), b.bundle + ' ' + b.bundle_b64);
  });
  check('vector bundle: opens to the key pairs; wrong citizen refused', () => {
    const keys = kc.openBundle(X(b.enc_key), kc.unb64(b.bundle_b64), b.citizen);
    let refused = false;
    try { kc.openBundle(X(b.enc_key), kc.unb64(b.bundle_b64), 'burger-0002'); } catch { refused = true; }
    return eq(H(keys.signPk) + H(keys.boxPk) + refused, k.sign_pk + k.box_pk + 'true');
  });

  const c = V.key_commitment;
  check('vector key_commitment', () => eq(H(kc.keyCommit(X(c.dek), c.citizen, c.section, c.epoch)), c.commit));

  const e = V.entry;
  check('vector entry: associated data', () => eq(kc.fromUtf8(kc.entryAd(e.citizen, e.section, e.epoch, e.entry_id)), e.ad));
  check('vector entry: blob', () => eq(H(kc.sealEntry(X(e.dek), e.plaintext, e.citizen, e.section, e.epoch, e.entry_id, X(e.nonce))), e.blob));
  check('vector entry: blob_hash', () => eq(H(kc.blobHash(X(e.blob))), e.blob_hash));
  check('vector entry: opens to the plaintext; other entry id refused', () => {
    const pt = kc.fromUtf8(kc.openEntry(X(e.dek), X(e.blob), e.citizen, e.section, e.epoch, e.entry_id));
    let refused = false;
    try { kc.openEntry(X(e.dek), X(e.blob), e.citizen, e.section, e.epoch, 'e-0002'); } catch { refused = true; }
    return eq(pt + refused, e.plaintext + 'true');
  });

  const s = V.statement;
  check('vector statement: signature over the exact bytes', () => {
    const keys = kc.keysFromSecret(X(s.sign_seed), new Uint8Array(32).fill(1));
    const env = kc.signStatement(null, keys.signSk, u(s.statement_bytes));
    return eq(H(kc.unb64(env.signature)) + ' ' + env.statement, s.signature + ' ' + s.envelope.statement);
  });
  check('vector statement: envelope verifies; wrong type and altered bytes refused', () => {
    const pk = kc.keysFromSecret(X(s.sign_seed), new Uint8Array(32)).signPk;
    const st = kc.verifyStatement(s.envelope, 'grant', pk);
    let wrongType = false;
    try { kc.verifyStatement(s.envelope, 'revoke', pk); } catch { wrongType = true; }
    let altered = false;
    const bytes = u(s.statement_bytes.replace('"read"', '"writ"'));
    try { kc.verifyStatement({ statement: kc.b64(bytes), signature: s.envelope.signature }, 'grant', pk); } catch { altered = true; }
    return eq(`${st.id} ${st.grantee} ${wrongType} ${altered}`, 'g-0001 wijk-anna true true');
  });
  check('vector statement: signed_message is the type prefix and the bytes', () =>
    eq(`kluis/v1/${s.type}\n${s.statement_bytes}`, s.signed_message));

  const a = V.auth;
  check('vector auth: session login signature', () => {
    const keys = kc.keysFromSecret(X(a.sign_seed), new Uint8Array(32));
    return eq(H(kc.authSign(X(a.challenge), a.principal, keys.signSk)), a.signature);
  });

  const w = V.wrap;
  check('vector wrap: opens to the DEK with box_sk', () => {
    const keys = kc.keysFromSecret(new Uint8Array(32), X(w.box_sk));
    return eq(H(kc.unwrap(X(w.wrap), keys)), w.opens_to);
  });
  check('vector wrap: a fresh wrap round-trips and is 80 bytes', () => {
    const keys = kc.keysFromSecret(new Uint8Array(32), X(w.box_sk));
    const fresh = kc.wrap(X(w.opens_to), keys.boxPk);
    return eq(`${fresh.length} ${H(kc.unwrap(fresh, keys))}`, `80 ${w.opens_to}`);
  });

  const es = V.escrow;
  check('vector escrow: gate then authority layer', () => {
    const inner = kc.openSealed(X(es.escrow), X(es.gate_sk));
    return eq(`${inner.length} ${H(kc.openSealed(inner, X(es.authority_sk)))}`, `${es.inner_len} ${es.opens_to}`);
  });
  check('vector escrow: a fresh escrow wrap is 128 bytes and opens', () => {
    const gatePk = kc.sodium.crypto_scalarmult_base(X(es.gate_sk));
    const authPk = kc.sodium.crypto_scalarmult_base(X(es.authority_sk));
    const fresh = kc.escrowWrap(X(es.opens_to), authPk, gatePk);
    return eq(`${fresh.length} ${H(kc.openSealed(kc.openSealed(fresh, X(es.gate_sk)), X(es.authority_sk)))}`, `128 ${es.opens_to}`);
  });

  const j = V.journal;
  check('vector journal: hash chain heads', () => {
    let h = kc.JOURNAL_HEAD0;
    const heads = j.events.map((ev) => { h = kc.journalNext(h, ev); return H(h); });
    return eq(heads.join(' '), j.heads.join(' '));
  });

  const cp = V.checkpoint;
  check('vector checkpoint: log_pk, Merkle root, key id', () => {
    const kp = kc.sodium.crypto_sign_seed_keypair(X(cp.log_seed));
    return eq(`${H(kp.publicKey)} ${H(kc.merkleRoot(cp.leaves))} ${H(kc.checkpointKeyId(cp.origin, X(cp.log_pk)))}`, `${cp.log_pk} ${cp.root} ${cp.key_id}`);
  });
  check('vector checkpoint: signed note verifies; other origin and altered size refused', () => {
    const r = kc.verifyCheckpoint(cp.note, cp.origin, X(cp.log_pk));
    let other = false;
    try { kc.verifyCheckpoint(cp.note, 'other.example/kluis', X(cp.log_pk)); } catch { other = true; }
    let altered = false;
    try { kc.verifyCheckpoint(cp.note.replace('\n3\n', '\n4\n'), cp.origin, X(cp.log_pk)); } catch { altered = true; }
    return eq(`${r.size} ${H(r.root)} ${other} ${altered}`, `3 ${cp.root} true true`);
  });
  return out;
}
