// web/src/vault.js — the citizen's (and any principal's) client logic over the vault API: log in,
// enrol, open the dossier, write, grant, revoke, rotate, requests, overrides, journal, export,
// passphrase change. No DOM: the page
// (app.js) and the Node test client both use it.
//
// A session `s` is {id, role, token, expires, keys, deks: Map("section#epoch" → DEK), dir: Map(id →
// principal)}. Everything the vault says is checked before use: epoch statements are verified and
// every unwrapped key is checked against its commitment; entries are verified against their
// author's registered key and their blob hash; grants must carry the citizen's own signature.
import * as kc from './crypto.js';
import * as api from './api.js';

const now = () => Math.floor(Date.now() / 1000);
const enc = encodeURIComponent;
const list = (r, key) => (Array.isArray(r) ? r : (r && Array.isArray(r[key]) ? r[key] : []));

/** Challenge login with a principal's signing key (SPEC §4 "Session login"). */
export async function loginWithKeys(id, keys) {
  const c = await api.post('/auth/challenge', { id });
  const sig = kc.authSign(kc.unb64(c.challenge, 32), id, keys.signSk);
  const r = await api.post('/auth/session', { id, challenge: c.challenge, signature: kc.b64(sig) });
  return { id, role: r.role, token: r.token, expires: r.expires, keys, deks: new Map(), dir: new Map() };
}

/**
 * Bundle login (SPEC §3): prelogin → Argon2id (PWHASH, possibly in a worker) → auth_key → bundle →
 * keys → challenge login. Throws ApiError (401 bad_credentials, 429 rate_limited) or Error.
 */
export async function loginWithPassphrase(id, passphrase, pwhash) {
  const p = await api.post('/auth/prelogin', { id });
  const master = await pwhash(passphrase, kc.unb64(p.salt, 16), p.opslimit, p.memlimit);
  const bk = kc.bundleKeys(master);
  kc.wipe(master);
  let b;
  try {
    b = await api.post('/auth/bundle', { id, auth_key: kc.b64(bk.authKey) });
  } finally {
    kc.wipe(bk.authKey);
  }
  let keys;
  try {
    keys = kc.openBundle(bk.encKey, kc.unb64(b.bundle), id);
  } finally {
    kc.wipe(bk.encKey);
  }
  if (!kc.equal(keys.signPk, kc.unb64(b.sign_pk, 32)) || !kc.equal(keys.boxPk, kc.unb64(b.box_pk, 32))) {
    kc.wipeKeys(keys);
    throw new Error('the key bundle does not match the registered keys');
  }
  return loginWithKeys(id, keys);
}

export async function logout(s) {
  if (!s) return;
  try { await api.del('/auth/session', s.token); } catch { /* the session ends here anyway */ }
  forget(s);
}

/** Wipe every secret the session holds. */
export function forget(s) {
  if (!s) return;
  kc.wipeKeys(s.keys);
  for (const d of s.deks.values()) kc.wipe(d);
  s.deks.clear();
  s.token = null;
}

const statement = (s, type, fields) => ({ type, id: kc.newId(type.slice(0, 2)), signer: s.id, issued: now(), ...fields });

function epochStatement(s, citizen, section, epoch, dek) {
  return kc.signStatement(statement(s, 'epoch', { citizen, section, epoch, commit: kc.b64(kc.keyCommit(dek, citizen, section, epoch)) }), s.keys.signSk);
}

/**
 * Enrol (SPEC §6 POST /citizens/{c}/enroll): new key pairs, the passphrase bundle, and a first
 * section key per charter section with its self wrap and escrow wrap. MASTER is the Argon2id output
 * for (passphrase, salt, opslimit, memlimit). Returns the logged-in session.
 */
export async function enroll({ id, code, master, salt, opslimit, memlimit, vaultInfo, charter }) {
  const keys = kc.newKeys();
  const bk = kc.bundleKeys(master);
  const bundle = kc.sealBundle(bk.encKey, keys, id);
  const s = { id, keys, deks: new Map(), dir: new Map() };
  const authorityPk = kc.unb64(vaultInfo.authority_pk, 32);
  const gatePk = kc.unb64(vaultInfo.gate_pk, 32);
  const sections = charter.sections.map((sec) => {
    const dek = kc.newDek();
    const env = epochStatement(s, id, sec.id, 1, dek);
    const item = {
      section: sec.id, epoch: 1, statement: env.statement, signature: env.signature,
      self_wrap: kc.b64(kc.wrap(dek, keys.boxPk)), escrow_wrap: kc.b64(kc.escrowWrap(dek, authorityPk, gatePk)),
    };
    kc.wipe(dek);
    return item;
  });
  try {
    await api.post(`/citizens/${enc(id)}/enroll`, {
      enrollment_code: code, sign_pk: kc.b64(keys.signPk), box_pk: kc.b64(keys.boxPk),
      salt: kc.b64(salt), opslimit, memlimit, bundle: kc.b64(bundle), auth_hash: kc.b64(bk.authHash), sections,
    });
  } catch (e) {
    kc.wipeKeys(keys);
    throw e;
  } finally {
    kc.wipe(bk.encKey); kc.wipe(bk.authKey);
  }
  return loginWithKeys(id, keys);
}

/**
 * Check PASSPHRASE against the vault's bundle for this session's citizen (prelogin → Argon2id →
 * /auth/bundle → the bundle opens to this session's keys). A wrong one is a failure toward the
 * lockout, like a failed login. Returns true or false; throws ApiError on 429 and network errors.
 */
export async function checkPassphrase(s, passphrase, pwhash) {
  const p = await api.post('/auth/prelogin', { id: s.id });
  const master = await pwhash(passphrase, kc.unb64(p.salt, 16), p.opslimit, p.memlimit);
  const bk = kc.bundleKeys(master);
  kc.wipe(master);
  let b;
  try {
    b = await api.post('/auth/bundle', { id: s.id, auth_key: kc.b64(bk.authKey) });
  } catch (e) {
    kc.wipe(bk.encKey);
    if (e instanceof api.ApiError && (e.code === 'bad_credentials' || e.status === 401)) return false;
    throw e;
  } finally {
    kc.wipe(bk.authKey);
  }
  let keys;
  try {
    keys = kc.openBundle(bk.encKey, kc.unb64(b.bundle), s.id);
  } catch {
    return false;
  } finally {
    kc.wipe(bk.encKey);
  }
  const same = kc.equal(keys.signPk, s.keys.signPk) && kc.equal(keys.boxPk, s.keys.boxPk);
  kc.wipeKeys(keys);
  return same;
}

/** Change the passphrase: a new bundle for the same keys (SPEC §6 POST /citizens/{c}/passphrase). */
export async function changePassphrase(s, { master, salt, opslimit, memlimit }) {
  const bk = kc.bundleKeys(master);
  const bundle = kc.sealBundle(bk.encKey, s.keys, s.id);
  try {
    await api.post(`/citizens/${enc(s.id)}/passphrase`, { salt: kc.b64(salt), opslimit, memlimit, bundle: kc.b64(bundle), auth_hash: kc.b64(bk.authHash) }, s.token);
  } finally {
    kc.wipe(bk.encKey); kc.wipe(bk.authKey);
  }
}

// ---- directory ---------------------------------------------------------------------------------

export async function loadDirectory(s) {
  const r = await api.get('/principals', s.token);
  s.dir = new Map(list(r, 'principals').map((p) => [p.id, p]));
  return s.dir;
}

/** The signing key of SIGNER as this session knows it (its own, or the directory's). */
function signPkOf(s, signer, citizen, citizenSignPk) {
  if (signer === s.id) return s.keys.signPk;
  if (signer === citizen && citizenSignPk) return citizenSignPk;
  if (signer === citizen && s.citizenKeys && s.citizenKeys.get(citizen)) return s.citizenKeys.get(citizen);
  const p = s.dir.get(signer);
  return p ? kc.unb64(p.sign_pk, 32) : null;
}

// ---- dossier -----------------------------------------------------------------------------------

const dekKey = (section, epoch) => `${section}#${epoch}`;

/**
 * Open the dossier: verify each epoch statement (when the citizen's key is known), unwrap every
 * key open to us and check it against the commitment. Returns
 * {citizen, sections:[{section, current_epoch, epochs:[n...], commits: Map(epoch → commit)}]}.
 */
export async function loadDossier(s, citizen = s.id, citizenSignPk = null) {
  const r = await api.get(`/citizens/${enc(citizen)}/dossier`, s.token);
  // A grantee learns the citizen's signing key from the dossier (kluisd adds "sign_pk") and pins
  // it for the session: a later answer with another key is refused.
  let cpk = citizen === s.id ? s.keys.signPk : citizenSignPk;
  if (!cpk && typeof r.sign_pk === 'string') {
    const served = kc.unb64(r.sign_pk, 32);
    s.citizenKeys = s.citizenKeys || new Map();
    const pinned = s.citizenKeys.get(citizen);
    if (pinned && !kc.equal(pinned, served)) throw new Error('the citizen\'s signing key changed');
    s.citizenKeys.set(citizen, served);
    cpk = served;
  }
  const sections = [];
  for (const sec of list(r, 'sections')) {
    const out = { section: sec.section, current_epoch: sec.current_epoch, entries: sec.entries, epochs: [], commits: new Map(), problems: [] };
    for (const ep of sec.epochs || []) {
      try {
        const st = cpk ? kc.verifyStatement(ep, 'epoch', cpk) : kc.peekStatement(ep);
        if (st.type !== 'epoch' || st.citizen !== citizen || st.section !== sec.section || st.epoch !== ep.epoch || st.signer !== citizen)
          throw new Error('epoch statement does not match');
        const commit = kc.unb64(st.commit, 32);
        out.commits.set(ep.epoch, commit);
        if (ep.wrap) {
          const k = dekKey(sec.section, ep.epoch);
          if (!s.deks.has(k)) s.deks.set(k, kc.unwrapChecked(kc.unb64(ep.wrap, 80), s.keys, commit, citizen, sec.section, ep.epoch));
        }
        out.epochs.push(ep.epoch);
      } catch (e) {
        out.problems.push({ epoch: ep.epoch, error: String(e.message || e) });
      }
    }
    sections.push(out);
  }
  return { citizen, sections };
}

/** All entries of one section, each verified and decrypted: [{seq, id, signer, issued, epoch, ok, doc?, error?}]. */
export async function loadEntries(s, citizen, section, citizenSignPk = null) {
  const out = [];
  let after = 0;
  for (let guard = 0; guard < 1000; guard++) {
    const r = await api.get(`/citizens/${enc(citizen)}/sections/${enc(section)}/entries${after ? `?after=${after}` : ''}`, s.token);
    const items = list(r, 'entries');
    for (const it of items) out.push(openEntryItem(s, citizen, section, it, citizenSignPk));
    if (!items.length || r.next === null || r.next === undefined || r.next === after) break;
    after = r.next;
  }
  return out;
}

function openEntryItem(s, citizen, section, it, citizenSignPk) {
  const base = { seq: it.seq, ok: false };
  try {
    const peek = kc.peekStatement(it);
    Object.assign(base, { id: peek.id, signer: peek.signer, issued: peek.issued, epoch: peek.epoch, corrects: peek.corrects });
    const pk = signPkOf(s, peek.signer, citizen, citizenSignPk);
    if (!pk) throw new Error('unknown author');
    const st = kc.verifyStatement(it, 'entry', pk);
    if (st.citizen !== citizen || st.section !== section) throw new Error('entry names another dossier');
    const blob = kc.unb64(it.blob);
    if (!kc.equal(kc.blobHash(blob), kc.unb64(st.blob_hash, 32))) throw new Error('blob hash mismatch');
    const dek = s.deks.get(dekKey(section, st.epoch));
    if (!dek) throw new Error('no key for this epoch');
    const pt = kc.openEntry(dek, blob, citizen, section, st.epoch, st.id);
    base.doc = JSON.parse(kc.fromUtf8(pt));
    base.ok = true;
  } catch (e) {
    base.error = String(e.message || e);
  }
  return base;
}

/** Encrypt and post an entry into the current epoch of SECTION. Returns {seq, id}. */
export async function addEntry(s, citizen, section, currentEpoch, doc, corrects) {
  const dek = s.deks.get(dekKey(section, currentEpoch));
  if (!dek) throw new Error('no key for the current epoch');
  const fields = { citizen, section, epoch: currentEpoch, blob_hash: '' };
  const st = statement(s, 'entry', fields);
  const blob = kc.sealEntry(dek, JSON.stringify(doc), citizen, section, currentEpoch, st.id);
  st.blob_hash = kc.b64(kc.blobHash(blob));
  if (corrects) st.corrects = corrects;
  const env = kc.signStatement(st, s.keys.signSk);
  const r = await api.post(`/citizens/${enc(citizen)}/sections/${enc(section)}/entries`, { ...env, blob: kc.b64(blob) }, s.token);
  return { seq: r.seq, id: st.id };
}

// ---- grants ------------------------------------------------------------------------------------

/** A grant as the page shows it: the citizen's signed statement's fields, checked, plus its state. */
function normaliseGrant(s, g) {
  let st = g;
  let signed = false;
  if (g.statement && g.signature) {
    try {
      st = kc.verifyStatement(g, 'grant', s.keys.signPk);
      signed = st.signer === s.id && st.citizen === s.id;
    } catch {
      st = kc.peekStatement(g);
    }
  }
  return {
    id: st.id || g.id, grantee: st.grantee || g.grantee, sections: st.sections || g.sections || [],
    access: st.access || g.access, purpose: st.purpose || g.purpose, not_before: st.not_before ?? g.not_before,
    expires: st.expires ?? g.expires, request: st.request || g.request, state: g.state, signed,
  };
}

export async function loadGrants(s) {
  const r = await api.get(`/citizens/${enc(s.id)}/grants`, s.token);
  return list(r, 'grants').map((g) => normaliseGrant(s, g));
}

/**
 * Grant GRANTEE (a directory principal) ACCESS to SECTIONS for PURPOSE until EXPIRES: a wrap of every
 * epoch key of every granted section for the grantee's box key, and the signed grant statement.
 */
export async function createGrant(s, dossier, { grantee, sections, access, purpose, days, request, note }) {
  const p = s.dir.get(grantee);
  if (!p) throw new Error('unknown grantee');
  const boxPk = kc.unb64(p.box_pk, 32);
  const wraps = [];
  for (const sec of sections) {
    const ds = dossier.sections.find((x) => x.section === sec);
    for (const ep of ds ? ds.epochs : []) {
      const dek = s.deks.get(dekKey(sec, ep));
      if (dek) wraps.push({ section: sec, epoch: ep, wrap: kc.b64(kc.wrap(dek, boxPk)) });
    }
  }
  const t0 = now();
  const fields = { citizen: s.id, grantee, sections, access, purpose, not_before: t0, expires: t0 + days * 86400 };
  if (request) fields.request = request;
  if (note) fields.note = note;
  const st = statement(s, 'grant', fields);
  const env = kc.signStatement(st, s.keys.signSk);
  await api.post(`/citizens/${enc(s.id)}/grants`, { ...env, wraps }, s.token);
  return st;
}

/** Revoke a grant, effective at once (SPEC §6); then the caller rotates its sections. */
export async function revokeGrant(s, grantId) {
  const env = kc.signStatement(statement(s, 'revoke', { citizen: s.id, grant: grantId }), s.keys.signSk);
  return api.post(`/citizens/${enc(s.id)}/grants/${enc(grantId)}/revoke`, env, s.token);
}

/**
 * Rotate SECTION to a new epoch: new key, its commitment, self and escrow wraps, and a wrap for every
 * live grant on the section (SPEC §6 rotate). Retries once on 409 missing_wraps with fresh grants.
 */
export async function rotateSection(s, vaultInfo, section) {
  for (let attempt = 0; ; attempt++) {
    const d = await loadDossier(s);
    const ds = d.sections.find((x) => x.section === section);
    const epoch = (ds ? ds.current_epoch || 0 : 0) + 1;
    const grants = (await loadGrants(s)).filter((g) => (g.state === 'active' || g.state === 'pending') && g.sections.includes(section));
    const dek = kc.newDek();
    const env = epochStatement(s, s.id, section, epoch, dek);
    const grantWraps = [];
    for (const g of grants) {
      const p = s.dir.get(g.grantee) || (await loadDirectory(s)).get(g.grantee);
      if (p) grantWraps.push({ grant: g.id, wrap: kc.b64(kc.wrap(dek, kc.unb64(p.box_pk, 32))) });
    }
    try {
      await api.post(`/citizens/${enc(s.id)}/sections/${enc(section)}/rotate`, {
        epoch, ...env, self_wrap: kc.b64(kc.wrap(dek, s.keys.boxPk)),
        escrow_wrap: kc.b64(kc.escrowWrap(dek, kc.unb64(vaultInfo.authority_pk, 32), kc.unb64(vaultInfo.gate_pk, 32))),
        grant_wraps: grantWraps,
      }, s.token);
      s.deks.set(dekKey(section, epoch), dek);
      return epoch;
    } catch (e) {
      kc.wipe(dek);
      if (attempt === 0 && e.code === 'missing_wraps') continue;
      throw e;
    }
  }
}

export async function eraseSection(s, section) {
  await api.del(`/citizens/${enc(s.id)}/sections/${enc(section)}`, s.token);
  for (const k of [...s.deks.keys()]) if (k.startsWith(`${section}#`)) { kc.wipe(s.deks.get(k)); s.deks.delete(k); }
}

// ---- requests ----------------------------------------------------------------------------------

/** Open requests, each verified against the requesting professional's registered key. */
export async function loadRequests(s) {
  const r = await api.get(`/citizens/${enc(s.id)}/requests`, s.token);
  return list(r, 'requests').map((q) => {
    let st = q;
    let signed = false;
    if (q.statement && q.signature) {
      st = kc.peekStatement(q);
      const pk = signPkOf(s, st.signer);
      try { st = kc.verifyStatement(q, 'request', pk); signed = !!pk && st.citizen === s.id; } catch { signed = false; }
    }
    return { id: st.id || q.id, from: st.signer || q.signer || q.from, sections: st.sections || [], access: st.access, purpose: st.purpose, days: st.days, note: st.note, issued: st.issued, signed, state: q.state };
  });
}

export const declineRequest = (s, id) => api.post(`/citizens/${enc(s.id)}/requests/${enc(id)}/decline`, {}, s.token);

// ---- emergency overrides -----------------------------------------------------------------------

/**
 * The emergency overrides of the citizen's own dossier as the vault shows them to the citizen
 * (docs/protocol.md, GET /citizens/{c}/overrides): each from its notice time on, with ground,
 * justification, mayor, beneficiary, sections and period. [] when the vault has no such endpoint.
 */
export async function loadOverrides(s) {
  try {
    return list(await api.get(`/citizens/${enc(s.id)}/overrides`, s.token), 'overrides');
  } catch (e) {
    if (e instanceof api.ApiError && (e.status === 404 || e.status === 405)) return [];
    throw e;
  }
}

// ---- journal -----------------------------------------------------------------------------------

/**
 * The whole journal with its chain recomputed from head_0 (SPEC §9). Returns {events (parsed from
 * raw, never from the served copies), ok, head, heads: [b64 head after each event]}.
 */
export async function loadJournal(s) {
  const raws = [];
  let head = null;
  let after = 0;
  for (let guard = 0; guard < 10000; guard++) {
    const r = await api.get(`/citizens/${enc(s.id)}/journal${after ? `?after=${after}` : ''}`, s.token);
    const evs = list(r, 'events');
    head = r.head;
    for (const e of evs) raws.push(kc.unb64(e.raw));
    if (!evs.length || evs[evs.length - 1].seq === after) break;
    after = evs[evs.length - 1].seq;
    if (r.next === null) break;
  }
  return verifyJournal(raws, head);
}

export function verifyJournal(raws, head) {
  const events = [];
  const heads = [];
  let h = kc.JOURNAL_HEAD0;
  let ok = true;
  raws.forEach((raw, i) => {
    h = kc.journalNext(h, raw);
    heads.push(kc.b64(h));
    let ev;
    try { ev = JSON.parse(kc.fromUtf8(raw)); } catch { ev = { seq: i + 1, action: '?' }; ok = false; }
    if (ev.seq !== i + 1) ok = false;
    events.push(ev);
  });
  if (head !== null && head !== undefined) {
    let served;
    try { served = kc.unb64(head, 32); } catch { served = null; }
    if (!served || !kc.equal(served, h)) ok = false;
  }
  return { events, ok, head: kc.b64(h), heads };
}

// ---- export ------------------------------------------------------------------------------------

export const exportRaw = (s) => api.get(`/citizens/${enc(s.id)}/export`, s.token);
