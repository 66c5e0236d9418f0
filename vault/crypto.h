/*
 * vault/crypto.h — every cryptographic construction of SPEC §3–4, over libsodium only.
 *
 * Key pairs, the citizen's passphrase bundle, key commitments, wraps and escrow wraps, entry
 * encryption, the login signature, and the generic XChaCha20-Poly1305 "nonce || ciphertext" seal
 * that key files and the bundle share. Signed statements live in vault/statement.h, key files in
 * vault/keyfile.h; both build on this header.
 *
 * Conventions (libsodium's): outputs first, then each const input with its length, key last.
 * Every function returns 0 on success and -1 on failure, and writes nothing to its outputs on
 * failure unless its comment says otherwise. Identifiers (citizen, section, entry, principal) are
 * NUL-terminated SPEC §2 identifiers (^[a-z0-9][a-z0-9._-]{0,62}$); anything else is refused, so
 * a context string can never be read two ways. Epochs start at 1.
 *
 * Thread-safe (no globals); sodium_init() (secret_init()) must have succeeded first.
 */
#ifndef KLUIS_CRYPTO_H
#define KLUIS_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define KLUIS_KEY_BYTES        32u  /* DEKs, enc/auth keys, master key                        */
#define KLUIS_HASH_BYTES       32u  /* BLAKE2b-256                                            */
#define KLUIS_SALT_BYTES       16u  /* crypto_pwhash salt                                     */
#define KLUIS_NONCE_BYTES      24u  /* XChaCha20-Poly1305-IETF nonce                          */
#define KLUIS_MAC_BYTES        16u  /* Poly1305 tag                                           */
#define KLUIS_AEAD_OVERHEAD    (KLUIS_NONCE_BYTES + KLUIS_MAC_BYTES) /* 40: nonce || c || tag */
#define KLUIS_SIGN_SEED_BYTES  32u
#define KLUIS_SIGN_PK_BYTES    32u
#define KLUIS_SIGN_SK_BYTES    64u  /* libsodium's seed || pk form                           */
#define KLUIS_SIG_BYTES        64u
#define KLUIS_BOX_PK_BYTES     32u
#define KLUIS_BOX_SK_BYTES     32u
#define KLUIS_SECRET_BYTES     64u  /* sign_seed32 || box_sk32, what bundles and key files seal */
#define KLUIS_BUNDLE_BYTES     (KLUIS_AEAD_OVERHEAD + KLUIS_SECRET_BYTES)   /* 104           */
#define KLUIS_WRAP_BYTES       80u  /* crypto_box_seal of a 32-byte key                       */
#define KLUIS_ESCROW_BYTES     128u /* crypto_box_seal of a wrap                              */
#define KLUIS_CHALLENGE_BYTES  32u
#define KLUIS_ID_MAX           63u  /* longest SPEC §2 identifier                             */

/* Argon2id parameter bounds: SPEC §3's minimum, and a ceiling so that a hostile server (prelogin)
 * or key file cannot make a client spend unbounded time or memory. */
#define KLUIS_PWHASH_OPSLIMIT_MIN 2ull                 /* crypto_pwhash_OPSLIMIT_INTERACTIVE */
#define KLUIS_PWHASH_MEMLIMIT_MIN 67108864ull          /* crypto_pwhash_MEMLIMIT_INTERACTIVE */
#define KLUIS_PWHASH_OPSLIMIT_MAX 16ull
#define KLUIS_PWHASH_MEMLIMIT_MAX 1073741824ull        /* crypto_pwhash_MEMLIMIT_SENSITIVE   */

/* ---------------------------------------------------------------------------------------------
 * Key pairs
 * ------------------------------------------------------------------------------------------- */

/** A principal's two key pairs. Secret: allocate with kluis_keys_new(), never on the stack. */
struct kluis_keys {
    unsigned char sign_seed[KLUIS_SIGN_SEED_BYTES];
    unsigned char sign_sk[KLUIS_SIGN_SK_BYTES];
    unsigned char sign_pk[KLUIS_SIGN_PK_BYTES];
    unsigned char box_sk[KLUIS_BOX_SK_BYTES];
    unsigned char box_pk[KLUIS_BOX_PK_BYTES];
};

/**
 * @brief Allocate a zeroed struct kluis_keys in secret memory (secret_new()). No parameters.
 * @return the struct, or NULL when memory is exhausted. Free with kluis_keys_free().
 */
struct kluis_keys *kluis_keys_new(void) __attribute__((warn_unused_result));

/**
 * @brief Wipe and free keys from kluis_keys_new().
 * @param[in] keys  the struct, or NULL (ignored).
 * @return nothing.
 */
void kluis_keys_free(struct kluis_keys *keys);

/**
 * @brief Fill KEYS from a 32-byte Ed25519 seed and a 32-byte X25519 secret key
 *        (crypto_sign_seed_keypair, crypto_scalarmult_base).
 * @param[out] keys       all five fields.
 * @param[in]  sign_seed  32 bytes.
 * @param[in]  box_sk     32 bytes.
 * @return 0, or -1 (KEYS untouched).
 */
int kluis_keys_from_seeds(struct kluis_keys *keys, const unsigned char sign_seed[32],
                          const unsigned char box_sk[32]) __attribute__((warn_unused_result));

/**
 * @brief Fill KEYS from the 64-byte sealed form sign_seed32 || box_sk32 (bundle, key file).
 * @param[out] keys    all five fields.
 * @param[in]  secret  sign_seed32 || box_sk32; may point into KEYS itself.
 * @return 0, or -1 (KEYS untouched).
 */
int kluis_keys_from_secret(struct kluis_keys *keys, const unsigned char secret[KLUIS_SECRET_BYTES])
    __attribute__((warn_unused_result));

/**
 * @brief Generate fresh key pairs from the system CSPRNG.
 * @param[out] keys  all five fields.
 * @return 0, or -1 (KEYS untouched).
 */
int kluis_keys_generate(struct kluis_keys *keys) __attribute__((warn_unused_result));

/**
 * @brief Write the 64-byte sealed form sign_seed32 || box_sk32 of KEYS to SECRET.
 * @param[out] secret  64 bytes; the caller keeps it in secret memory and wipes it.
 * @param[in]  keys    the key pairs.
 * @return nothing (cannot fail).
 */
void kluis_keys_export(unsigned char secret[KLUIS_SECRET_BYTES], const struct kluis_keys *keys);

/**
 * @brief X25519 public key of a box secret key (crypto_scalarmult_base).
 * @param[out] pk  32 bytes.
 * @param[in]  sk  32 bytes.
 * @return 0, or -1 when the result would be the all-zero point (PK untouched).
 */
int kluis_box_pk_from_sk(unsigned char pk[32], const unsigned char sk[32])
    __attribute__((warn_unused_result));

/**
 * @brief Generate an X25519 key pair (authority key, gate key).
 * @param[out] pk  32 bytes.
 * @param[out] sk  32 bytes; keep it in secret memory.
 * @return 0, or -1.
 */
int kluis_box_keypair(unsigned char pk[32], unsigned char sk[32]) __attribute__((warn_unused_result));

/* ---------------------------------------------------------------------------------------------
 * Hashing, passphrases, generic sealing
 * ------------------------------------------------------------------------------------------- */

/**
 * @brief BLAKE2b-256 without key: blob_hash of an entry (SPEC §4), statement_hash, auth_hash.
 * @param[out] out  32 bytes.
 * @param[in]  in   LEN bytes (may be NULL when LEN is 0).
 * @return 0, or -1.
 */
int kluis_hash(unsigned char out[KLUIS_HASH_BYTES], const unsigned char *in, size_t len);

/**
 * @brief Whether OPSLIMIT and MEMLIMIT are acceptable Argon2id13 parameters: at least
 *        OPSLIMIT_INTERACTIVE/MEMLIMIT_INTERACTIVE (SPEC §3) and at most KLUIS_PWHASH_*_MAX.
 *        The server calls it on enrolment and passphrase change; clients before deriving.
 * @param[in] opslimit  Argon2 passes.
 * @param[in] memlimit  Argon2 memory in bytes.
 * @return non-zero when acceptable, 0 otherwise.
 */
int kluis_pwhash_params_ok(unsigned long long opslimit, unsigned long long memlimit);

/**
 * @brief k = crypto_pwhash(32, passphrase, salt, opslimit, memlimit, ARGON2ID13).
 * @param[out] key         32 bytes, secret memory; untouched on failure.
 * @param[in]  passphrase  PASSPHRASE_LEN bytes (not necessarily NUL-terminated).
 * @param[in]  salt        16 bytes.
 * @param[in]  opslimit, memlimit  checked with kluis_pwhash_params_ok().
 * @return 0, or -1 (parameters refused by kluis_pwhash_params_ok(), or out of memory).
 */
int kluis_pwhash(unsigned char key[KLUIS_KEY_BYTES], const char *passphrase, size_t passphrase_len,
                 const unsigned char salt[KLUIS_SALT_BYTES], unsigned long long opslimit,
                 size_t memlimit) __attribute__((warn_unused_result));

/**
 * @brief out = nonce24 || XChaCha20-Poly1305-IETF(key, m, ad).
 * @param[out] out    MLEN + KLUIS_AEAD_OVERHEAD bytes; must not overlap M.
 * @param[in]  m      MLEN bytes of plaintext.
 * @param[in]  ad     ADLEN bytes of associated data (may be NULL when ADLEN is 0).
 * @param[in]  nonce  24 bytes, or NULL for a fresh random nonce (always NULL outside tests).
 * @param[in]  key    32 bytes.
 * @return 0, or -1.
 */
int kluis_aead_seal(unsigned char *out, const unsigned char *m, size_t mlen, const unsigned char *ad,
                    size_t adlen, const unsigned char *nonce, const unsigned char key[KLUIS_KEY_BYTES]);

/**
 * @brief Open IN = nonce24 || ciphertext of kluis_aead_seal().
 * @param[out] out  INLEN - KLUIS_AEAD_OVERHEAD bytes; zeroed on failure (libsodium).
 * @param[in]  in   INLEN bytes.
 * @param[in]  ad   ADLEN bytes, as sealed.
 * @param[in]  key  32 bytes.
 * @return 0, or -1 when INLEN < KLUIS_AEAD_OVERHEAD or the tag does not verify.
 */
int kluis_aead_open(unsigned char *out, const unsigned char *in, size_t inlen, const unsigned char *ad,
                    size_t adlen, const unsigned char key[KLUIS_KEY_BYTES])
    __attribute__((warn_unused_result));

/* ---------------------------------------------------------------------------------------------
 * Citizen key bundle (SPEC §3)
 * ------------------------------------------------------------------------------------------- */

/** The three passphrase-derived keys. Secret: allocate with kluis_bundle_keys_new(). */
struct kluis_bundle_keys {
    unsigned char master[KLUIS_KEY_BYTES];
    unsigned char enc_key[KLUIS_KEY_BYTES];
    unsigned char auth_key[KLUIS_KEY_BYTES];
};

/**
 * @brief Allocate a zeroed struct kluis_bundle_keys in secret memory. No parameters.
 * @return the struct, or NULL when memory is exhausted. Free with kluis_bundle_keys_free().
 */
struct kluis_bundle_keys *kluis_bundle_keys_new(void) __attribute__((warn_unused_result));

/**
 * @brief Wipe and free a struct from kluis_bundle_keys_new().
 * @param[in] bk  the struct, or NULL (ignored).
 * @return nothing.
 */
void kluis_bundle_keys_free(struct kluis_bundle_keys *bk);

/**
 * @brief master = crypto_pwhash(...ARGON2ID13); enc_key, auth_key = crypto_kdf_derive_from_key
 *        ids 1 and 2, context "kluisbnd".
 * @param[out] bk  all three keys.
 * @return 0, or -1 (parameters below the SPEC minimum or above the ceiling, out of memory).
 */
int kluis_bundle_derive(struct kluis_bundle_keys *bk, const char *passphrase, size_t passphrase_len,
                        const unsigned char salt[KLUIS_SALT_BYTES], unsigned long long opslimit,
                        size_t memlimit) __attribute__((warn_unused_result));

/**
 * @brief auth_hash = BLAKE2b-256(auth_key), what the server stores and compares (sodium_memcmp).
 * @param[out] out       32 bytes.
 * @param[in]  auth_key  32 bytes.
 * @return 0, or -1.
 */
int kluis_auth_hash(unsigned char out[KLUIS_HASH_BYTES], const unsigned char auth_key[KLUIS_KEY_BYTES]);

/**
 * @brief bundle = nonce24 || XChaCha20-Poly1305(enc_key, secret, "kluis/v1/bundle\n" || citizen).
 * @param[out] bundle   104 bytes.
 * @param[in]  secret   sign_seed32 || box_sk32.
 * @param[in]  citizen  identifier.
 * @return 0, or -1 (bad identifier).
 */
int kluis_bundle_seal(unsigned char bundle[KLUIS_BUNDLE_BYTES],
                      const unsigned char secret[KLUIS_SECRET_BYTES], const char *citizen,
                      const unsigned char enc_key[KLUIS_KEY_BYTES]);

/**
 * @brief kluis_bundle_seal() with an explicit nonce: known-answer tests only.
 * @param[out] bundle   104 bytes.
 * @param[in]  secret   sign_seed32 || box_sk32.
 * @param[in]  citizen  identifier.
 * @param[in]  nonce    24 bytes.
 * @param[in]  enc_key  32 bytes.
 * @return 0, or -1 (bad identifier).
 */
int kluis_bundle_seal_nonce(unsigned char bundle[KLUIS_BUNDLE_BYTES],
                            const unsigned char secret[KLUIS_SECRET_BYTES], const char *citizen,
                            const unsigned char nonce[KLUIS_NONCE_BYTES],
                            const unsigned char enc_key[KLUIS_KEY_BYTES]);

/**
 * @brief Open a bundle.
 * @param[out] secret  64 bytes sign_seed32 || box_sk32 (secret memory); untouched on failure.
 * @return 0, or -1 (wrong key, wrong citizen, tampered bundle, bad identifier).
 */
int kluis_bundle_open(unsigned char secret[KLUIS_SECRET_BYTES],
                      const unsigned char bundle[KLUIS_BUNDLE_BYTES], const char *citizen,
                      const unsigned char enc_key[KLUIS_KEY_BYTES]) __attribute__((warn_unused_result));

/* ---------------------------------------------------------------------------------------------
 * Section keys: commitment, wrap, escrow (SPEC §4)
 * ------------------------------------------------------------------------------------------- */

/**
 * @brief commit = BLAKE2b-256(key=DEK, "kluis/v1/key-commit\n" || citizen || "\n" || section ||
 *        "\n" || epoch(decimal)).
 * @param[out] commit   32 bytes.
 * @param[in]  citizen  identifier.
 * @param[in]  section  identifier.
 * @param[in]  epoch    >= 1.
 * @param[in]  dek      32-byte section key.
 * @return 0, or -1 (bad identifier, epoch 0).
 */
int kluis_key_commit(unsigned char commit[KLUIS_HASH_BYTES], const char *citizen, const char *section,
                     uint64_t epoch, const unsigned char dek[KLUIS_KEY_BYTES]);

/**
 * @brief Check DEK against COMMIT in constant time (sodium_memcmp). MUST precede any use of an
 *        unwrapped key.
 * @param[in] commit   32 bytes from the epoch statement.
 * @param[in] citizen, section, epoch  as for kluis_key_commit().
 * @param[in] dek      the unwrapped key.
 * @return 0 when it matches, -1 otherwise.
 */
int kluis_key_commit_check(const unsigned char commit[KLUIS_HASH_BYTES], const char *citizen,
                           const char *section, uint64_t epoch, const unsigned char dek[KLUIS_KEY_BYTES])
    __attribute__((warn_unused_result));

/**
 * @brief wrap = crypto_box_seal(DEK, recipient_box_pk).
 * @param[out] wrap  80 bytes.
 * @return 0, or -1.
 */
int kluis_wrap(unsigned char wrap[KLUIS_WRAP_BYTES], const unsigned char dek[KLUIS_KEY_BYTES],
               const unsigned char recipient_box_pk[KLUIS_BOX_PK_BYTES]);

/**
 * @brief Open a wrap with the recipient's box secret key (its public key is derived from it).
 * @param[out] dek  32 bytes (secret memory); untouched on failure.
 * @return 0, or -1.
 */
int kluis_unwrap(unsigned char dek[KLUIS_KEY_BYTES], const unsigned char wrap[KLUIS_WRAP_BYTES],
                 const unsigned char box_sk[KLUIS_BOX_SK_BYTES]) __attribute__((warn_unused_result));

/**
 * @brief escrow = crypto_box_seal(crypto_box_seal(DEK, authority_pk), gate_pk).
 * @param[out] escrow  128 bytes.
 * @return 0, or -1.
 */
int kluis_escrow_seal(unsigned char escrow[KLUIS_ESCROW_BYTES], const unsigned char dek[KLUIS_KEY_BYTES],
                      const unsigned char authority_pk[KLUIS_BOX_PK_BYTES],
                      const unsigned char gate_pk[KLUIS_BOX_PK_BYTES]);

/**
 * @brief Remove the vault's outer layer (gate key): the 80-byte inner wrap for the authority.
 * @param[out] inner    80 bytes.
 * @param[in]  escrow   128 bytes.
 * @param[in]  gate_sk  the vault's gate secret key.
 * @return 0, or -1 (INNER untouched).
 */
int kluis_escrow_open_outer(unsigned char inner[KLUIS_WRAP_BYTES],
                            const unsigned char escrow[KLUIS_ESCROW_BYTES],
                            const unsigned char gate_sk[KLUIS_BOX_SK_BYTES])
    __attribute__((warn_unused_result));

/**
 * @brief Remove the inner layer with the authority key: the DEK. Same as kluis_unwrap().
 * @param[out] dek           32 bytes (secret memory).
 * @param[in]  inner         80 bytes from kluis_escrow_open_outer().
 * @param[in]  authority_sk  the authority's secret key.
 * @return 0, or -1 (DEK untouched).
 */
int kluis_escrow_open_inner(unsigned char dek[KLUIS_KEY_BYTES], const unsigned char inner[KLUIS_WRAP_BYTES],
                            const unsigned char authority_sk[KLUIS_BOX_SK_BYTES])
    __attribute__((warn_unused_result));

/* ---------------------------------------------------------------------------------------------
 * Entries (SPEC §4)
 * ------------------------------------------------------------------------------------------- */

/** Capacity enough for any entry's associated data. */
#define KLUIS_ENTRY_AD_MAX 256u

/**
 * @brief ad = "kluis/v1/entry\n" || citizen || "\n" || section || "\n" || epoch || "\n" || entry_id.
 * @param[out] ad      KLUIS_ENTRY_AD_MAX bytes (not NUL-terminated).
 * @param[out] ad_len  bytes written.
 * @return 0, or -1 (bad identifier, epoch 0).
 */
int kluis_entry_ad(unsigned char ad[KLUIS_ENTRY_AD_MAX], size_t *ad_len, const char *citizen,
                   const char *section, uint64_t epoch, const char *entry_id);

/**
 * @brief blob = nonce24 || XChaCha20-Poly1305-IETF(DEK, pt, ad) with a random nonce.
 * @param[out] blob  PT_LEN + KLUIS_AEAD_OVERHEAD bytes.
 * @return 0, or -1 (bad identifier, epoch 0).
 */
int kluis_entry_encrypt(unsigned char *blob, const unsigned char *pt, size_t pt_len, const char *citizen,
                        const char *section, uint64_t epoch, const char *entry_id,
                        const unsigned char dek[KLUIS_KEY_BYTES]);

/**
 * @brief kluis_entry_encrypt() with an explicit nonce: known-answer tests only.
 * @param[out] blob   PT_LEN + KLUIS_AEAD_OVERHEAD bytes.
 * @param[in]  pt     PT_LEN bytes of plaintext.
 * @param[in]  citizen, section, epoch, entry_id  the associated data's parts.
 * @param[in]  nonce  24 bytes.
 * @param[in]  dek    32-byte section key.
 * @return 0, or -1 (bad identifier, epoch 0).
 */
int kluis_entry_encrypt_nonce(unsigned char *blob, const unsigned char *pt, size_t pt_len,
                              const char *citizen, const char *section, uint64_t epoch,
                              const char *entry_id, const unsigned char nonce[KLUIS_NONCE_BYTES],
                              const unsigned char dek[KLUIS_KEY_BYTES]);

/**
 * @brief Decrypt an entry blob.
 * @param[out] pt      BLOB_LEN - KLUIS_AEAD_OVERHEAD bytes; zeroed on failure.
 * @param[out] pt_len  may be NULL; the plaintext length on success.
 * @return 0, or -1 (blob too short, wrong key, wrong context, tampered).
 */
int kluis_entry_decrypt(unsigned char *pt, size_t *pt_len, const unsigned char *blob, size_t blob_len,
                        const char *citizen, const char *section, uint64_t epoch, const char *entry_id,
                        const unsigned char dek[KLUIS_KEY_BYTES]) __attribute__((warn_unused_result));

/**
 * @brief blob_hash = BLAKE2b-256(blob), what the entry statement carries.
 * @param[out] out   32 bytes.
 * @param[in]  blob  BLOB_LEN bytes.
 * @return 0, or -1.
 */
int kluis_blob_hash(unsigned char out[KLUIS_HASH_BYTES], const unsigned char *blob, size_t blob_len);

/* ---------------------------------------------------------------------------------------------
 * Session login (SPEC §4)
 * ------------------------------------------------------------------------------------------- */

/**
 * @brief sig = Ed25519(sk, "kluis/v1/auth\n" || challenge32 || principal_id).
 * @param[in] sign_sk  64-byte libsodium secret key (struct kluis_keys.sign_sk).
 * @return 0, or -1 (bad identifier).
 */
int kluis_auth_sign(unsigned char sig[KLUIS_SIG_BYTES], const unsigned char challenge[KLUIS_CHALLENGE_BYTES],
                    const char *principal_id, const unsigned char sign_sk[KLUIS_SIGN_SK_BYTES]);

/**
 * @brief Verify a login signature.
 * @param[in] sig           64 bytes.
 * @param[in] challenge     the 32-byte challenge the vault issued.
 * @param[in] principal_id  identifier.
 * @param[in] sign_pk       the principal's registered Ed25519 key.
 * @return 0 when it verifies, -1 otherwise.
 */
int kluis_auth_verify(const unsigned char sig[KLUIS_SIG_BYTES],
                      const unsigned char challenge[KLUIS_CHALLENGE_BYTES], const char *principal_id,
                      const unsigned char sign_pk[KLUIS_SIGN_PK_BYTES]) __attribute__((warn_unused_result));

/**
 * @brief The SPEC §2 identifier check used for every context string.
 * @param[in] s  NUL-terminated string, or NULL.
 * @return its length (1..63) when S is an identifier, else 0.
 */
size_t kluis_id_len(const char *s);

#endif
