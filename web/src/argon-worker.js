// web/src/argon-worker.js — Argon2id (crypto_pwhash) off the main thread, so the page stays
// responsive and can show progress while a passphrase becomes a key (SPEC §3, key bundle).
// In: {passphrase, salt, opslimit, memlimit}. Out: {master} (its buffer transferred) or {error}.
import sodium from './sodium.js';

self.onmessage = (e) => {
  const { passphrase, salt, opslimit, memlimit } = e.data || {};
  try {
    const master = sodium.crypto_pwhash(32, passphrase, salt, opslimit, memlimit, sodium.crypto_pwhash_ALG_ARGON2ID13);
    self.postMessage({ master }, [master.buffer]);
  } catch (err) {
    self.postMessage({ error: String(err && err.message || err) });
  }
};
self.postMessage({ ready: true });
