// web/src/crypto.js — every cryptographic construction of the Kluis protocol (SPEC §2–4, §8, §9)
// that the citizen's page performs, over libsodium only. Pure functions: bytes and strings in,
// bytes out; no network, no DOM, no clock except where a statement needs `issued`.
//
// Byte values are Uint8Array; "b64" is base64url without padding (SPEC §2). Secret arrays are wiped
// with wipe() by the caller once used; functions wipe their own temporaries.
import sodium from './sodium.js';

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

export const ID_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** The smallest Argon2id parameters the vault accepts (SPEC §3): the INTERACTIVE ones. */
export const PWHASH_OPSLIMIT = sodium.crypto_pwhash_OPSLIMIT_INTERACTIVE;
export const PWHASH_MEMLIMIT = sodium.crypto_pwhash_MEMLIMIT_INTERACTIVE;

// ---- encodings (SPEC §2) ----------------------------------------------------------------------

export const utf8 = (s) => enc.encode(s);
export const fromUtf8 = (b) => dec.decode(b);

export function b64(bytes) {
  return sodium.to_base64(bytes, sodium.base64_variants.URLSAFE_NO_PADDING);
}

/** Decode b64 strictly (no padding, URL-safe alphabet); throws on anything else. */
export function unb64(s, expectLen) {
  if (typeof s !== 'string' || !/^[A-Za-z0-9_-]*$/.test(s)) throw new Error('bad b64');
  const out = sodium.from_base64(s, sodium.base64_variants.URLSAFE_NO_PADDING);
  if (expectLen !== undefined && out.length !== expectLen) throw new Error(`b64: want ${expectLen} bytes, got ${out.length}`);
  return out;
}

export const b64std = (bytes) => sodium.to_base64(bytes, sodium.base64_variants.ORIGINAL);
export const unb64std = (s) => sodium.from_base64(s, sodium.base64_variants.ORIGINAL);
export const hex = (b) => sodium.to_hex(b);
export const unhex = (s) => sodium.from_hex(s);

export function concat(...parts) {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

export const equal = (a, b) => a.length === b.length && sodium.memcmp(a, b);
export const wipe = (b) => { if (b instanceof Uint8Array) sodium.memzero(b); };
export const random = (n) => sodium.randombytes_buf(n);

/** A fresh identifier (SPEC §2) for a new object: PREFIX-<time>-<random>. */
export function newId(prefix) {
  const t = Math.floor(Date.now() / 1000).toString(36);
  return `${prefix}-${t}-${hex(random(6))}`;
}

// ---- keys (SPEC §3) ---------------------------------------------------------------------------

/** A principal's key pairs from their secret halves: Ed25519 from the seed, X25519 from box_sk. */
export function keysFromSecret(signSeed, boxSk) {
  const kp = sodium.crypto_sign_seed_keypair(signSeed);
  return {
    signPk: kp.publicKey,
    signSk: kp.privateKey, // 64 bytes: seed || pk
    boxPk: sodium.crypto_scalarmult_base(boxSk),
    boxSk: Uint8Array.from(boxSk),
    signSeed: Uint8Array.from(signSeed),
  };
}

export function newKeys() {
  const seed = random(32);
  const boxSk = random(32);
  const k = keysFromSecret(seed, boxSk);
  wipe(seed); wipe(boxSk);
  return k;
}

export function wipeKeys(k) {
  if (!k) return;
  wipe(k.signSk); wipe(k.boxSk); wipe(k.signSeed);
}

/** Argon2id13 (crypto_pwhash) → 32 bytes. Slow on purpose: the page runs it in a Web Worker. */
export function pwhash(passphrase, salt, opslimit, memlimit) {
  return sodium.crypto_pwhash(32, utf8(passphrase), salt, opslimit, memlimit, sodium.crypto_pwhash_ALG_ARGON2ID13);
}

/** enc_key and auth_key of the key bundle from the Argon2id master key (SPEC §3). */
export function bundleKeys(master) {
  const encKey = sodium.crypto_kdf_derive_from_key(32, 1, 'kluisbnd', master);
  const authKey = sodium.crypto_kdf_derive_from_key(32, 2, 'kluisbnd', master);
  return { encKey, authKey, authHash: sodium.crypto_generichash(32, authKey, null) };
}

const bundleAd = (citizen) => utf8('kluis/v1/bundle\n' + citizen);

/** bundle = nonce24 || XChaCha20-Poly1305(enc_key, sign_seed32 || box_sk32, ad) */
export function sealBundle(encKey, keys, citizen, nonce = random(24)) {
  const pt = concat(keys.signSeed, keys.boxSk);
  const ct = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(pt, bundleAd(citizen), null, nonce, encKey);
  wipe(pt);
  return concat(nonce, ct);
}

/** Open a bundle; throws when the key or the citizen id is wrong. */
export function openBundle(encKey, bundle, citizen) {
  if (bundle.length !== 24 + 64 + 16) throw new Error('bundle length');
  const pt = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, bundle.subarray(24), bundleAd(citizen), bundle.subarray(0, 24), encKey);
  const k = keysFromSecret(pt.subarray(0, 32), pt.subarray(32, 64));
  wipe(pt);
  return k;
}

/** The secret halves of a CLI key file (SPEC §3), for tests and tools: kdf "none" or argon2id13. */
export function openKeyFile(kf, passphrase) {
  if (kf.kluis_key !== 1 || !ID_RE.test(kf.id)) throw new Error('not a kluis key file');
  let secret;
  if (kf.kdf === 'none') {
    secret = unb64(kf.secret, 64);
  } else if (kf.kdf === 'argon2id13') {
    const k = pwhash(passphrase, unb64(kf.salt, 16), kf.opslimit, kf.memlimit);
    const sealed = unb64(kf.sealed, 24 + 64 + 16);
    secret = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, sealed.subarray(24), utf8('kluis/v1/keyfile\n' + kf.id), sealed.subarray(0, 24), k);
    wipe(k);
  } else {
    throw new Error('unknown kdf');
  }
  const keys = keysFromSecret(secret.subarray(0, 32), secret.subarray(32, 64));
  wipe(secret);
  return keys;
}

// ---- section keys (SPEC §4) -------------------------------------------------------------------

export const newDek = () => random(32);

/** commit = BLAKE2b-256(key=DEK, "kluis/v1/key-commit\n" || citizen || "\n" || section || "\n" || epoch) */
export function keyCommit(dek, citizen, section, epoch) {
  return sodium.crypto_generichash(32, utf8(`kluis/v1/key-commit\n${citizen}\n${section}\n${epoch}`), dek);
}

/** wrap = crypto_box_seal(DEK, recipient_box_pk), 80 bytes. */
export const wrap = (dek, boxPk) => sodium.crypto_box_seal(dek, boxPk);

/** Open a wrap with our box keys; throws when it is not for us. */
export function unwrap(w, keys) {
  if (w.length !== 80) throw new Error('wrap length');
  return sodium.crypto_box_seal_open(w, keys.boxPk, keys.boxSk);
}

/** Open a wrap and check it against the epoch's commitment (SPEC §4: MUST before use). */
export function unwrapChecked(w, keys, commit, citizen, section, epoch) {
  const dek = unwrap(w, keys);
  if (!equal(keyCommit(dek, citizen, section, epoch), commit)) {
    wipe(dek);
    throw new Error('commitment_mismatch');
  }
  return dek;
}

/** escrow = crypto_box_seal(crypto_box_seal(DEK, authority_pk), gate_pk), 128 bytes. */
export function escrowWrap(dek, authorityPk, gatePk) {
  const inner = sodium.crypto_box_seal(dek, authorityPk);
  return sodium.crypto_box_seal(inner, gatePk);
}

/** Remove one sealed-box layer with a raw X25519 secret key (the gate's or the authority's). */
export function openSealed(c, sk) {
  return sodium.crypto_box_seal_open(c, sodium.crypto_scalarmult_base(sk), sk);
}

// ---- entries (SPEC §4) ------------------------------------------------------------------------

export const entryAd = (citizen, section, epoch, entryId) =>
  utf8(`kluis/v1/entry\n${citizen}\n${section}\n${epoch}\n${entryId}`);

/** blob = nonce24 || XChaCha20-Poly1305-IETF(DEK, plaintext, ad) */
export function sealEntry(dek, plaintext, citizen, section, epoch, entryId, nonce = random(24)) {
  const pt = typeof plaintext === 'string' ? utf8(plaintext) : plaintext;
  const ct = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(pt, entryAd(citizen, section, epoch, entryId), null, nonce, dek);
  return concat(nonce, ct);
}

export function openEntry(dek, blob, citizen, section, epoch, entryId) {
  if (blob.length < 24 + 16) throw new Error('blob length');
  return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, blob.subarray(24), entryAd(citizen, section, epoch, entryId), blob.subarray(0, 24), dek);
}

export const blobHash = (blob) => sodium.crypto_generichash(32, blob, null);

// ---- signed statements (SPEC §4) --------------------------------------------------------------

const stmtMsg = (type, S) => concat(utf8(`kluis/v1/${type}\n`), S);

/**
 * Sign a statement. OBJ is serialised once with JSON.stringify (the bytes are what is signed; no
 * canonical form is needed) — or pass the exact bytes S.
 * @returns {{statement: string, signature: string}} the wire envelope.
 */
export function signStatement(obj, signSk, bytes) {
  const S = bytes || utf8(JSON.stringify(obj));
  const type = bytes ? JSON.parse(fromUtf8(bytes)).type : obj.type;
  if (typeof type !== 'string' || !/^[a-z-]+$/.test(type)) throw new Error('statement type');
  const sig = sodium.crypto_sign_detached(stmtMsg(type, S), signSk);
  return { statement: b64(S), signature: b64(sig) };
}

/**
 * Verify an envelope over the exact bytes received: decode S, parse it, require TYPE, verify with
 * SIGN_PK. @returns the parsed statement; throws when anything fails.
 */
export function verifyStatement(env, type, signPk) {
  const S = unb64(env.statement);
  const sig = unb64(env.signature, 64);
  const obj = JSON.parse(fromUtf8(S));
  if (!obj || typeof obj !== 'object' || obj.type !== type) throw new Error('statement type');
  if (!sodium.crypto_sign_verify_detached(sig, stmtMsg(type, S), signPk)) throw new Error('bad_signature');
  return obj;
}

/** Parse a statement's bytes without verifying (to learn its signer first). */
export const peekStatement = (env) => JSON.parse(fromUtf8(unb64(env.statement)));

/** sig = Ed25519(sk, "kluis/v1/auth\n" || challenge32 || principal_id) */
export function authSign(challenge, principalId, signSk) {
  return sodium.crypto_sign_detached(concat(utf8('kluis/v1/auth\n'), challenge, utf8(principalId)), signSk);
}

// ---- citizen journal (SPEC §9) ----------------------------------------------------------------

export const JOURNAL_HEAD0 = new Uint8Array(32);

/** head_n = BLAKE2b-256("kluis/v1/journal\n" || head_{n-1} || event_json) */
export function journalNext(prev, eventJson) {
  const ev = typeof eventJson === 'string' ? utf8(eventJson) : eventJson;
  return sodium.crypto_generichash(32, concat(utf8('kluis/v1/journal\n'), prev, ev), null);
}

/** Fold raw events (bytes) from PREV; returns the final head. */
export function journalChain(rawEvents, prev = JOURNAL_HEAD0) {
  let h = prev;
  for (const ev of rawEvents) h = journalNext(h, ev);
  return h;
}

// ---- transparency log (SPEC §8, RFC 9162) -----------------------------------------------------

const sha256 = (b) => sodium.crypto_hash_sha256(b);
export const leafHash = (leaf) => sha256(concat(Uint8Array.of(0), typeof leaf === 'string' ? utf8(leaf) : leaf));
export const nodeHash = (l, r) => sha256(concat(Uint8Array.of(1), l, r));

/** RFC 9162 MTH over the leaves (bytes or strings). */
export function merkleRoot(leaves) {
  const hashes = leaves.map(leafHash);
  const mth = (lo, hi) => {
    const n = hi - lo;
    if (n === 0) return sha256(new Uint8Array(0));
    if (n === 1) return hashes[lo];
    let k = 1;
    while (k * 2 < n) k *= 2;
    return nodeHash(mth(lo, lo + k), mth(lo + k, hi));
  };
  return mth(0, hashes.length);
}

/** keyID = SHA-256(origin || 0x0A || 0x01 || log_pk)[:4] */
export const checkpointKeyId = (origin, logPk) => sha256(concat(utf8(origin + '\n'), Uint8Array.of(1), logPk)).subarray(0, 4);

/**
 * Verify a C2SP signed checkpoint note against ORIGIN and LOG_PK.
 * @returns {{origin, size, root}}; throws when it does not verify.
 */
export function verifyCheckpoint(note, origin, logPk) {
  const split = note.indexOf('\n\n');
  if (split < 0) throw new Error('checkpoint: no signature block');
  const text = note.slice(0, split + 1);
  const lines = text.split('\n');
  if (lines.length < 4 || lines[0] !== origin || !/^(0|[1-9][0-9]*)$/.test(lines[1])) throw new Error('checkpoint: header');
  const root = unb64std(lines[2]);
  if (root.length !== 32) throw new Error('checkpoint: root');
  const want = checkpointKeyId(origin, logPk);
  const sigLines = note.slice(split + 2).split('\n').filter((l) => l.length);
  for (const l of sigLines) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(l);
    if (!m || m[1] !== origin) continue;
    const raw = unb64std(m[2]);
    if (raw.length !== 68 || !equal(raw.subarray(0, 4), want)) continue;
    if (sodium.crypto_sign_verify_detached(raw.subarray(4), utf8(text), logPk))
      return { origin, size: Number(lines[1]), root };
  }
  throw new Error('checkpoint: no valid signature');
}

export { sodium };
