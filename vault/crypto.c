/*
 * vault/crypto.c — the constructions of SPEC §3–4, and nothing else.
 *
 * This file owns every context string of the protocol ("kluis/v1/...") and the byte layout each
 * construction signs, seals or hashes; no other module concatenates them. It calls libsodium only,
 * does no I/O and keeps no state. Secrets that pass through here in temporaries (derived keys,
 * inner wraps, decrypted key material) sit on the stack only as long as one call and are wiped on
 * every exit path; what outlives a call goes in caller-owned secret memory (secret_new()). Outputs
 * are written only once everything has succeeded, so a failure leaves them untouched.
 *
 * Context strings are built from identifiers checked against SPEC §2, which contain no "\n": the
 * concatenations are therefore unambiguous, and their maximum length is fixed.
 */
#include "vault/crypto.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/secret.h"

/* A compile-time check that our sizes are libsodium's. */
_Static_assert(KLUIS_NONCE_BYTES == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce");
_Static_assert(KLUIS_MAC_BYTES == crypto_aead_xchacha20poly1305_ietf_ABYTES, "mac");
_Static_assert(KLUIS_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key");
_Static_assert(KLUIS_WRAP_BYTES == KLUIS_KEY_BYTES + crypto_box_SEALBYTES, "wrap");
_Static_assert(KLUIS_ESCROW_BYTES == KLUIS_WRAP_BYTES + crypto_box_SEALBYTES, "escrow");
_Static_assert(KLUIS_SIGN_SK_BYTES == crypto_sign_SECRETKEYBYTES, "sign sk");
_Static_assert(KLUIS_SIG_BYTES == crypto_sign_BYTES, "sig");
_Static_assert(KLUIS_SALT_BYTES == crypto_pwhash_SALTBYTES, "salt");
_Static_assert(KLUIS_PWHASH_OPSLIMIT_MIN == crypto_pwhash_OPSLIMIT_INTERACTIVE, "ops");
_Static_assert(KLUIS_PWHASH_MEMLIMIT_MIN == crypto_pwhash_MEMLIMIT_INTERACTIVE, "mem");

#define CTX_BUNDLE     "kluis/v1/bundle\n"
#define CTX_KEY_COMMIT "kluis/v1/key-commit\n"
#define CTX_ENTRY      "kluis/v1/entry\n"
#define CTX_AUTH       "kluis/v1/auth\n"
#define KDF_CONTEXT    "kluisbnd"

/* A "\n"-separated context never exceeds this: prefix + 3 identifiers + epoch + separators. */
#define CTX_MAX 256u

size_t kluis_id_len(const char *s)
{
    size_t n = 0;
    if (!s)
        return 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 (n > 0 && (c == '.' || c == '_' || c == '-'));
        if (!ok || n >= KLUIS_ID_MAX)
            return 0;
    }
    return n;
}

/* Appends LEN bytes to a bounded buffer; the bound is a bug guard, inputs are checked first. */
struct ctxbuf {
    unsigned char b[CTX_MAX];
    size_t n;
    int bad;
};

static void put(struct ctxbuf *c, const void *p, size_t len)
{
    if (c->bad || len > sizeof c->b - c->n) {
        c->bad = 1;
        return;
    }
    memcpy(c->b + c->n, p, len);
    c->n += len;
}

static void put_id(struct ctxbuf *c, const char *id)
{
    size_t n = kluis_id_len(id);
    if (n == 0)
        c->bad = 1;
    else
        put(c, id, n);
}

static void put_epoch(struct ctxbuf *c, uint64_t epoch)
{
    char d[24];
    if (epoch == 0) {
        c->bad = 1;
        return;
    }
    int n = snprintf(d, sizeof d, "%" PRIu64, epoch);
    put(c, d, (size_t)n);
}

/* "citizen\nsection\nepoch" after PREFIX: shared by the commitment and the entry ad. */
static int section_ctx(struct ctxbuf *c, const char *prefix, const char *citizen, const char *section,
                       uint64_t epoch)
{
    memset(c, 0, sizeof *c);
    put(c, prefix, strlen(prefix));
    put_id(c, citizen);
    put(c, "\n", 1);
    put_id(c, section);
    put(c, "\n", 1);
    put_epoch(c, epoch);
    return c->bad ? -1 : 0;
}

/* --------------------------------------------------------------------------------------------- */

struct kluis_keys *kluis_keys_new(void)
{
    return secret_new(sizeof(struct kluis_keys));
}

void kluis_keys_free(struct kluis_keys *keys)
{
    secret_free(keys);
}

int kluis_box_pk_from_sk(unsigned char pk[32], const unsigned char sk[32])
{
    unsigned char tmp[crypto_scalarmult_BYTES];
    if (crypto_scalarmult_base(tmp, sk) != 0 || sodium_is_zero(tmp, sizeof tmp)) {
        sodium_memzero(tmp, sizeof tmp);
        return -1;
    }
    memcpy(pk, tmp, sizeof tmp);
    return 0;
}

int kluis_keys_from_seeds(struct kluis_keys *keys, const unsigned char sign_seed[32],
                          const unsigned char box_sk[32])
{
    unsigned char sign_pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char sign_sk[crypto_sign_SECRETKEYBYTES];
    unsigned char box_pk[crypto_box_PUBLICKEYBYTES];
    int rc = -1;

    if (crypto_sign_seed_keypair(sign_pk, sign_sk, sign_seed) == 0 &&
        kluis_box_pk_from_sk(box_pk, box_sk) == 0) {
        /* sign_seed/box_sk may alias KEYS' own fields: memmove. */
        memmove(keys->sign_seed, sign_seed, sizeof keys->sign_seed);
        memmove(keys->box_sk, box_sk, sizeof keys->box_sk);
        memcpy(keys->sign_sk, sign_sk, sizeof sign_sk);
        memcpy(keys->sign_pk, sign_pk, sizeof sign_pk);
        memcpy(keys->box_pk, box_pk, sizeof box_pk);
        rc = 0;
    }
    sodium_memzero(sign_sk, sizeof sign_sk);
    return rc;
}

int kluis_keys_from_secret(struct kluis_keys *keys, const unsigned char secret[KLUIS_SECRET_BYTES])
{
    return kluis_keys_from_seeds(keys, secret, secret + KLUIS_SIGN_SEED_BYTES);
}

int kluis_keys_generate(struct kluis_keys *keys)
{
    unsigned char secret[KLUIS_SECRET_BYTES];
    randombytes_buf(secret, sizeof secret);
    int rc = kluis_keys_from_secret(keys, secret);
    sodium_memzero(secret, sizeof secret);
    return rc;
}

void kluis_keys_export(unsigned char secret[KLUIS_SECRET_BYTES], const struct kluis_keys *keys)
{
    memcpy(secret, keys->sign_seed, KLUIS_SIGN_SEED_BYTES);
    memcpy(secret + KLUIS_SIGN_SEED_BYTES, keys->box_sk, KLUIS_BOX_SK_BYTES);
}

int kluis_box_keypair(unsigned char pk[32], unsigned char sk[32])
{
    unsigned char s[KLUIS_BOX_SK_BYTES], p[KLUIS_BOX_PK_BYTES];
    int rc = -1;
    randombytes_buf(s, sizeof s);
    if (kluis_box_pk_from_sk(p, s) == 0) {
        memcpy(pk, p, sizeof p);
        memcpy(sk, s, sizeof s);
        rc = 0;
    }
    sodium_memzero(s, sizeof s);
    return rc;
}

/* --------------------------------------------------------------------------------------------- */

int kluis_hash(unsigned char out[KLUIS_HASH_BYTES], const unsigned char *in, size_t len)
{
    return crypto_generichash(out, KLUIS_HASH_BYTES, in, len, NULL, 0) == 0 ? 0 : -1;
}

int kluis_pwhash_params_ok(unsigned long long opslimit, unsigned long long memlimit)
{
    return opslimit >= KLUIS_PWHASH_OPSLIMIT_MIN && opslimit <= KLUIS_PWHASH_OPSLIMIT_MAX &&
           memlimit >= KLUIS_PWHASH_MEMLIMIT_MIN && memlimit <= KLUIS_PWHASH_MEMLIMIT_MAX &&
           memlimit <= SIZE_MAX;
}

int kluis_pwhash(unsigned char key[KLUIS_KEY_BYTES], const char *passphrase, size_t passphrase_len,
                 const unsigned char salt[KLUIS_SALT_BYTES], unsigned long long opslimit,
                 size_t memlimit)
{
    unsigned char k[KLUIS_KEY_BYTES];
    if (!passphrase || !kluis_pwhash_params_ok(opslimit, memlimit))
        return -1;
    if (crypto_pwhash(k, sizeof k, passphrase, passphrase_len, salt, opslimit, memlimit,
                      crypto_pwhash_ALG_ARGON2ID13) != 0) {
        sodium_memzero(k, sizeof k);
        return -1;
    }
    memcpy(key, k, sizeof k);
    sodium_memzero(k, sizeof k);
    return 0;
}

int kluis_aead_seal(unsigned char *out, const unsigned char *m, size_t mlen, const unsigned char *ad,
                    size_t adlen, const unsigned char *nonce, const unsigned char key[KLUIS_KEY_BYTES])
{
    unsigned char npub[KLUIS_NONCE_BYTES];
    if (mlen > SIZE_MAX - KLUIS_AEAD_OVERHEAD)
        return -1;
    if (nonce)
        memcpy(npub, nonce, sizeof npub);
    else
        randombytes_buf(npub, sizeof npub);
    /* Encrypt in place after the nonce; M may not alias OUT. */
    if (crypto_aead_xchacha20poly1305_ietf_encrypt(out + KLUIS_NONCE_BYTES, NULL, m, mlen, ad, adlen, NULL,
                                                   npub, key) != 0)
        return -1;
    memcpy(out, npub, sizeof npub);
    return 0;
}

int kluis_aead_open(unsigned char *out, const unsigned char *in, size_t inlen, const unsigned char *ad,
                    size_t adlen, const unsigned char key[KLUIS_KEY_BYTES])
{
    if (!in || inlen < KLUIS_AEAD_OVERHEAD)
        return -1;
    return crypto_aead_xchacha20poly1305_ietf_decrypt(out, NULL, NULL, in + KLUIS_NONCE_BYTES,
                                                      inlen - KLUIS_NONCE_BYTES, ad, adlen, in, key) == 0
               ? 0
               : -1;
}

/* --------------------------------------------------------------------------------------------- */

struct kluis_bundle_keys *kluis_bundle_keys_new(void)
{
    return secret_new(sizeof(struct kluis_bundle_keys));
}

void kluis_bundle_keys_free(struct kluis_bundle_keys *bk)
{
    secret_free(bk);
}

int kluis_bundle_derive(struct kluis_bundle_keys *bk, const char *passphrase, size_t passphrase_len,
                        const unsigned char salt[KLUIS_SALT_BYTES], unsigned long long opslimit,
                        size_t memlimit)
{
    unsigned char master[KLUIS_KEY_BYTES], enc[KLUIS_KEY_BYTES], auth[KLUIS_KEY_BYTES];
    int rc = -1;
    if (kluis_pwhash(master, passphrase, passphrase_len, salt, opslimit, memlimit) == 0 &&
        crypto_kdf_derive_from_key(enc, sizeof enc, 1, KDF_CONTEXT, master) == 0 &&
        crypto_kdf_derive_from_key(auth, sizeof auth, 2, KDF_CONTEXT, master) == 0) {
        memcpy(bk->master, master, sizeof master);
        memcpy(bk->enc_key, enc, sizeof enc);
        memcpy(bk->auth_key, auth, sizeof auth);
        rc = 0;
    }
    sodium_memzero(master, sizeof master);
    sodium_memzero(enc, sizeof enc);
    sodium_memzero(auth, sizeof auth);
    return rc;
}

int kluis_auth_hash(unsigned char out[KLUIS_HASH_BYTES], const unsigned char auth_key[KLUIS_KEY_BYTES])
{
    return kluis_hash(out, auth_key, KLUIS_KEY_BYTES);
}

static int bundle_ad(struct ctxbuf *c, const char *citizen)
{
    memset(c, 0, sizeof *c);
    put(c, CTX_BUNDLE, strlen(CTX_BUNDLE));
    put_id(c, citizen);
    return c->bad ? -1 : 0;
}

int kluis_bundle_seal_nonce(unsigned char bundle[KLUIS_BUNDLE_BYTES],
                            const unsigned char secret[KLUIS_SECRET_BYTES], const char *citizen,
                            const unsigned char nonce[KLUIS_NONCE_BYTES],
                            const unsigned char enc_key[KLUIS_KEY_BYTES])
{
    struct ctxbuf ad;
    if (bundle_ad(&ad, citizen) != 0)
        return -1;
    return kluis_aead_seal(bundle, secret, KLUIS_SECRET_BYTES, ad.b, ad.n, nonce, enc_key);
}

int kluis_bundle_seal(unsigned char bundle[KLUIS_BUNDLE_BYTES],
                      const unsigned char secret[KLUIS_SECRET_BYTES], const char *citizen,
                      const unsigned char enc_key[KLUIS_KEY_BYTES])
{
    return kluis_bundle_seal_nonce(bundle, secret, citizen, NULL, enc_key);
}

int kluis_bundle_open(unsigned char secret[KLUIS_SECRET_BYTES],
                      const unsigned char bundle[KLUIS_BUNDLE_BYTES], const char *citizen,
                      const unsigned char enc_key[KLUIS_KEY_BYTES])
{
    struct ctxbuf ad;
    unsigned char tmp[KLUIS_SECRET_BYTES];
    int rc = -1;
    if (bundle_ad(&ad, citizen) != 0)
        return -1;
    if (kluis_aead_open(tmp, bundle, KLUIS_BUNDLE_BYTES, ad.b, ad.n, enc_key) == 0) {
        memcpy(secret, tmp, sizeof tmp);
        rc = 0;
    }
    sodium_memzero(tmp, sizeof tmp);
    return rc;
}

/* --------------------------------------------------------------------------------------------- */

int kluis_key_commit(unsigned char commit[KLUIS_HASH_BYTES], const char *citizen, const char *section,
                     uint64_t epoch, const unsigned char dek[KLUIS_KEY_BYTES])
{
    struct ctxbuf m;
    if (section_ctx(&m, CTX_KEY_COMMIT, citizen, section, epoch) != 0)
        return -1;
    return crypto_generichash(commit, KLUIS_HASH_BYTES, m.b, m.n, dek, KLUIS_KEY_BYTES) == 0 ? 0 : -1;
}

int kluis_key_commit_check(const unsigned char commit[KLUIS_HASH_BYTES], const char *citizen,
                           const char *section, uint64_t epoch, const unsigned char dek[KLUIS_KEY_BYTES])
{
    unsigned char want[KLUIS_HASH_BYTES];
    int rc = -1;
    if (kluis_key_commit(want, citizen, section, epoch, dek) == 0 &&
        sodium_memcmp(want, commit, sizeof want) == 0)
        rc = 0;
    sodium_memzero(want, sizeof want);
    return rc;
}

int kluis_wrap(unsigned char wrap[KLUIS_WRAP_BYTES], const unsigned char dek[KLUIS_KEY_BYTES],
               const unsigned char recipient_box_pk[KLUIS_BOX_PK_BYTES])
{
    return crypto_box_seal(wrap, dek, KLUIS_KEY_BYTES, recipient_box_pk) == 0 ? 0 : -1;
}

/* Opens a crypto_box_seal of LEN bytes into OUT, writing only on success. */
static int seal_open(unsigned char *out, size_t len, const unsigned char *c, const unsigned char sk[32])
{
    unsigned char pk[KLUIS_BOX_PK_BYTES];
    unsigned char tmp[KLUIS_WRAP_BYTES]; /* the largest plaintext we open */
    int rc = -1;
    if (len > sizeof tmp)
        return -1;
    if (kluis_box_pk_from_sk(pk, sk) == 0 &&
        crypto_box_seal_open(tmp, c, len + crypto_box_SEALBYTES, pk, sk) == 0) {
        memcpy(out, tmp, len);
        rc = 0;
    }
    sodium_memzero(tmp, sizeof tmp);
    return rc;
}

int kluis_unwrap(unsigned char dek[KLUIS_KEY_BYTES], const unsigned char wrap[KLUIS_WRAP_BYTES],
                 const unsigned char box_sk[KLUIS_BOX_SK_BYTES])
{
    return seal_open(dek, KLUIS_KEY_BYTES, wrap, box_sk);
}

int kluis_escrow_seal(unsigned char escrow[KLUIS_ESCROW_BYTES], const unsigned char dek[KLUIS_KEY_BYTES],
                      const unsigned char authority_pk[KLUIS_BOX_PK_BYTES],
                      const unsigned char gate_pk[KLUIS_BOX_PK_BYTES])
{
    unsigned char inner[KLUIS_WRAP_BYTES];
    int rc = -1;
    if (crypto_box_seal(inner, dek, KLUIS_KEY_BYTES, authority_pk) == 0 &&
        crypto_box_seal(escrow, inner, sizeof inner, gate_pk) == 0)
        rc = 0;
    sodium_memzero(inner, sizeof inner);
    return rc;
}

int kluis_escrow_open_outer(unsigned char inner[KLUIS_WRAP_BYTES],
                            const unsigned char escrow[KLUIS_ESCROW_BYTES],
                            const unsigned char gate_sk[KLUIS_BOX_SK_BYTES])
{
    return seal_open(inner, KLUIS_WRAP_BYTES, escrow, gate_sk);
}

int kluis_escrow_open_inner(unsigned char dek[KLUIS_KEY_BYTES], const unsigned char inner[KLUIS_WRAP_BYTES],
                            const unsigned char authority_sk[KLUIS_BOX_SK_BYTES])
{
    return seal_open(dek, KLUIS_KEY_BYTES, inner, authority_sk);
}

/* --------------------------------------------------------------------------------------------- */

static int entry_ctx(struct ctxbuf *c, const char *citizen, const char *section, uint64_t epoch,
                     const char *entry_id)
{
    if (section_ctx(c, CTX_ENTRY, citizen, section, epoch) != 0)
        return -1;
    put(c, "\n", 1);
    put_id(c, entry_id);
    return c->bad ? -1 : 0;
}

int kluis_entry_ad(unsigned char ad[KLUIS_ENTRY_AD_MAX], size_t *ad_len, const char *citizen,
                   const char *section, uint64_t epoch, const char *entry_id)
{
    struct ctxbuf c;
    _Static_assert(KLUIS_ENTRY_AD_MAX >= CTX_MAX, "ad capacity");
    if (entry_ctx(&c, citizen, section, epoch, entry_id) != 0)
        return -1;
    memcpy(ad, c.b, c.n);
    *ad_len = c.n;
    return 0;
}

int kluis_entry_encrypt_nonce(unsigned char *blob, const unsigned char *pt, size_t pt_len,
                              const char *citizen, const char *section, uint64_t epoch,
                              const char *entry_id, const unsigned char nonce[KLUIS_NONCE_BYTES],
                              const unsigned char dek[KLUIS_KEY_BYTES])
{
    struct ctxbuf ad;
    if (entry_ctx(&ad, citizen, section, epoch, entry_id) != 0)
        return -1;
    return kluis_aead_seal(blob, pt, pt_len, ad.b, ad.n, nonce, dek);
}

int kluis_entry_encrypt(unsigned char *blob, const unsigned char *pt, size_t pt_len, const char *citizen,
                        const char *section, uint64_t epoch, const char *entry_id,
                        const unsigned char dek[KLUIS_KEY_BYTES])
{
    return kluis_entry_encrypt_nonce(blob, pt, pt_len, citizen, section, epoch, entry_id, NULL, dek);
}

int kluis_entry_decrypt(unsigned char *pt, size_t *pt_len, const unsigned char *blob, size_t blob_len,
                        const char *citizen, const char *section, uint64_t epoch, const char *entry_id,
                        const unsigned char dek[KLUIS_KEY_BYTES])
{
    struct ctxbuf ad;
    if (blob_len < KLUIS_AEAD_OVERHEAD || entry_ctx(&ad, citizen, section, epoch, entry_id) != 0)
        return -1;
    if (kluis_aead_open(pt, blob, blob_len, ad.b, ad.n, dek) != 0)
        return -1;
    if (pt_len)
        *pt_len = blob_len - KLUIS_AEAD_OVERHEAD;
    return 0;
}

int kluis_blob_hash(unsigned char out[KLUIS_HASH_BYTES], const unsigned char *blob, size_t blob_len)
{
    return kluis_hash(out, blob, blob_len);
}

/* --------------------------------------------------------------------------------------------- */

static int auth_msg(struct ctxbuf *c, const unsigned char challenge[KLUIS_CHALLENGE_BYTES],
                    const char *principal_id)
{
    memset(c, 0, sizeof *c);
    put(c, CTX_AUTH, strlen(CTX_AUTH));
    put(c, challenge, KLUIS_CHALLENGE_BYTES);
    put_id(c, principal_id);
    return c->bad ? -1 : 0;
}

int kluis_auth_sign(unsigned char sig[KLUIS_SIG_BYTES], const unsigned char challenge[KLUIS_CHALLENGE_BYTES],
                    const char *principal_id, const unsigned char sign_sk[KLUIS_SIGN_SK_BYTES])
{
    struct ctxbuf m;
    if (auth_msg(&m, challenge, principal_id) != 0)
        return -1;
    return crypto_sign_detached(sig, NULL, m.b, m.n, sign_sk) == 0 ? 0 : -1;
}

int kluis_auth_verify(const unsigned char sig[KLUIS_SIG_BYTES],
                      const unsigned char challenge[KLUIS_CHALLENGE_BYTES], const char *principal_id,
                      const unsigned char sign_pk[KLUIS_SIGN_PK_BYTES])
{
    struct ctxbuf m;
    if (auth_msg(&m, challenge, principal_id) != 0)
        return -1;
    return crypto_sign_verify_detached(sig, m.b, m.n, sign_pk) == 0 ? 0 : -1;
}
