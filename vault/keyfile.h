/*
 * vault/keyfile.h — the key files of SPEC §3: principal key files, public key files, the override
 * authority's key file and its public half.
 *
 *   principal  {"kluis_key":1, "id", "kdf":"argon2id13", "salt", "opslimit", "memlimit", "sealed"}
 *              sealed = nonce24 || XChaCha20-Poly1305(k, sign_seed32 || box_sk32, "kluis/v1/keyfile\n" || id)
 *              or {"kluis_key":1, "id", "kdf":"none", "secret": b64(sign_seed32 || box_sk32)}
 *   public     {"kluis_pub":1, "id", "sign_pk", "box_pk"}
 *   authority  {"kluis_authority":1, "kdf":"argon2id13", "salt", "opslimit", "memlimit", "sealed"}
 *              sealed = nonce24 || XChaCha20-Poly1305(k, box_sk32, "kluis/v1/authority\n")
 *              or {"kluis_authority":1, "kdf":"none", "secret": b64(box_sk32)}  (automation only)
 *   authority public  {"kluis_authority_pub":1, "box_pk"}
 * with k = crypto_pwhash(32, passphrase, salt, opslimit, memlimit, ARGON2ID13).
 *
 * Files are written once: open(O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC), mode 0600 for secret
 * key files and 0644 for public ones (set with fchmod, whatever the umask), fsync'd, and removed
 * again if any step fails. They are read strictly: a regular file (no symlink), at most 64 KiB, the
 * exact field set of its kind, exact lengths, version 1, Argon2 parameters within
 * kluis_pwhash_params_ok(); secret key files must not be accessible to group or others.
 *
 * Errors (struct jerr .code): KERR_NOT_FOUND — no such file; KERR_CONFLICT — the file to write
 * exists already; KERR_FORBIDDEN — a symlink, not a regular file, or a secret key file readable by
 * others; KERR_BAD_JSON, KERR_BAD_REQUEST, KERR_BAD_ENCODING — malformed content (jspec's codes,
 * .field names the field); KERR_BAD_CREDENTIALS — wrong passphrase (or none given for an encrypted
 * file); KERR_INTERNAL — I/O error or out of memory (.msg has the errno text).
 *
 * Secrets returned are written into caller-provided secret memory; everything here wipes its own
 * copies. Thread-safe (no globals).
 */
#ifndef KLUIS_KEYFILE_H
#define KLUIS_KEYFILE_H

#include <stddef.h>

#include "vault/crypto.h"
#include "vault/jspec.h"

#define KEYFILE_MAX_BYTES 65536u

enum keyfile_kind {
    KEYFILE_PRINCIPAL = 1, /* "kluis_key"            */
    KEYFILE_PUBLIC,        /* "kluis_pub"            */
    KEYFILE_AUTHORITY,     /* "kluis_authority"      */
    KEYFILE_AUTHORITY_PUB  /* "kluis_authority_pub"  */
};

/** A loaded, validated key file (opaque; lives in secret memory). */
struct keyfile;

/* ---- writing ---------------------------------------------------------------------------------- */

/**
 * @brief Write a passphrase-protected principal key file (kdf argon2id13, fresh random salt).
 * @param[in] path        must not exist.
 * @param[in] id          the principal's identifier.
 * @param[in] keys        the key pairs to seal.
 * @param[in] passphrase  PASSPHRASE_LEN bytes.
 * @param[in] opslimit, memlimit  Argon2id parameters; must pass kluis_pwhash_params_ok().
 * @param[out] err        the refusal (may be NULL).
 * @return 0, or -1 (nothing left on disk).
 */
int keyfile_write_principal(const char *path, const char *id, const struct kluis_keys *keys,
                            const char *passphrase, size_t passphrase_len, unsigned long long opslimit,
                            size_t memlimit, struct jerr *err) __attribute__((warn_unused_result));

/**
 * @brief Write an unencrypted principal key file (kdf none): for automation and tests only, when
 *        asked for explicitly (`kluis keygen --no-passphrase`).
 * @param[in]  path  must not exist.
 * @param[in]  id    the principal's identifier.
 * @param[in]  keys  the key pairs.
 * @param[out] err   may be NULL.
 * @return 0, or -1 (nothing left on disk).
 */
int keyfile_write_principal_plain(const char *path, const char *id, const struct kluis_keys *keys,
                                  struct jerr *err) __attribute__((warn_unused_result));

/**
 * @brief Write a public key file {"kluis_pub":1, "id", "sign_pk", "box_pk"} (mode 0644).
 * @param[in]  path     must not exist.
 * @param[in]  id       the principal's identifier.
 * @param[in]  sign_pk  32 bytes.
 * @param[in]  box_pk   32 bytes.
 * @param[out] err      may be NULL.
 * @return 0, or -1 (nothing left on disk).
 */
int keyfile_write_public(const char *path, const char *id, const unsigned char sign_pk[KLUIS_SIGN_PK_BYTES],
                         const unsigned char box_pk[KLUIS_BOX_PK_BYTES], struct jerr *err)
    __attribute__((warn_unused_result));

/**
 * @brief Write a passphrase-protected authority key file.
 * @param[in]  path        must not exist.
 * @param[in]  box_sk      the authority's X25519 secret key.
 * @param[in]  passphrase  PASSPHRASE_LEN bytes.
 * @param[in]  opslimit, memlimit  must pass kluis_pwhash_params_ok().
 * @param[out] err         may be NULL.
 * @return 0, or -1 (nothing left on disk).
 */
int keyfile_write_authority(const char *path, const unsigned char box_sk[KLUIS_BOX_SK_BYTES],
                            const char *passphrase, size_t passphrase_len, unsigned long long opslimit,
                            size_t memlimit, struct jerr *err) __attribute__((warn_unused_result));

/**
 * @brief Write an unencrypted authority key file (kdf none; automation and tests only).
 * @param[in]  path    must not exist.
 * @param[in]  box_sk  the authority's X25519 secret key.
 * @param[out] err     may be NULL.
 * @return 0, or -1 (nothing left on disk).
 */
int keyfile_write_authority_plain(const char *path, const unsigned char box_sk[KLUIS_BOX_SK_BYTES],
                                  struct jerr *err) __attribute__((warn_unused_result));

/**
 * @brief Write the authority's public half {"kluis_authority_pub":1, "box_pk"} (mode 0644).
 * @param[in]  path    must not exist.
 * @param[in]  box_pk  32 bytes.
 * @param[out] err     may be NULL.
 * @return 0, or -1 (nothing left on disk).
 */
int keyfile_write_authority_pub(const char *path, const unsigned char box_pk[KLUIS_BOX_PK_BYTES],
                                struct jerr *err) __attribute__((warn_unused_result));

/* ---- reading ---------------------------------------------------------------------------------- */

/**
 * @brief Read and validate a key file of any kind. Does not derive anything yet.
 * @param[out] out   the loaded file (keyfile_free() it); untouched on failure.
 * @param[in]  path  the file.
 * @param[out] err   may be NULL.
 * @return 0, or -1 with ERR.
 */
int keyfile_load(struct keyfile **out, const char *path, struct jerr *err) __attribute__((warn_unused_result));

/**
 * @brief The kind of a loaded file.
 * @param[in] kf  from keyfile_load().
 * @return its kind.
 */
enum keyfile_kind keyfile_kind(const struct keyfile *kf);

/**
 * @brief The principal id of a principal or public key file.
 * @param[in] kf  from keyfile_load().
 * @return the id (valid while KF lives), or NULL for authority files.
 */
const char *keyfile_id(const struct keyfile *kf);

/**
 * @brief Whether opening KF needs a passphrase (kdf argon2id13).
 * @param[in] kf  from keyfile_load().
 * @return non-zero when it does.
 */
int keyfile_needs_passphrase(const struct keyfile *kf);

/**
 * @brief Open a principal key file into KEYS.
 * @param[out] keys        (from kluis_keys_new()); untouched on failure.
 * @param[in]  passphrase  ignored (may be NULL) for kdf none.
 * @return 0, or -1: KERR_BAD_CREDENTIALS for a wrong or missing passphrase, KERR_BAD_REQUEST for a
 *         file of another kind, KERR_INTERNAL when out of memory.
 */
int keyfile_open_principal(struct kluis_keys *keys, const struct keyfile *kf, const char *passphrase,
                           size_t passphrase_len, struct jerr *err) __attribute__((warn_unused_result));

/**
 * @brief Open an authority key file: its X25519 secret key.
 * @param[out] box_sk  32 bytes of secret memory; untouched on failure.
 * @return 0, or -1 as keyfile_open_principal().
 */
int keyfile_open_authority(unsigned char box_sk[KLUIS_BOX_SK_BYTES], const struct keyfile *kf,
                           const char *passphrase, size_t passphrase_len, struct jerr *err)
    __attribute__((warn_unused_result));

/**
 * @brief The public keys of a public or authority-public key file.
 * @param[out] sign_pk  32 bytes, or NULL (always NULL-able; left untouched for authority files).
 * @param[out] box_pk   32 bytes, or NULL.
 * @return 0, or -1 when KF is a secret key file.
 */
int keyfile_public_keys(unsigned char *sign_pk, unsigned char *box_pk, const struct keyfile *kf)
    __attribute__((warn_unused_result));

/**
 * @brief Wipe and free a loaded key file.
 * @param[in] kf  from keyfile_load(), or NULL (ignored).
 * @return nothing.
 */
void keyfile_free(struct keyfile *kf);

/**
 * @brief One call: load a principal key file and open it.
 * @param[out] keys  untouched on failure.
 * @param[out] id    the principal id, NUL-terminated; may be NULL.
 * @return 0, or -1 with ERR (KERR_BAD_REQUEST for a file of another kind).
 */
int keyfile_read_principal(struct kluis_keys *keys, char id[KLUIS_ID_MAX + 1], const char *path,
                           const char *passphrase, size_t passphrase_len, struct jerr *err)
    __attribute__((warn_unused_result));

/**
 * @brief One call: read a public key file.
 * @param[out] id  NUL-terminated principal id; may be NULL.
 * @return 0, or -1 with ERR (KERR_BAD_REQUEST for a file of another kind).
 */
int keyfile_read_public(char id[KLUIS_ID_MAX + 1], unsigned char sign_pk[KLUIS_SIGN_PK_BYTES],
                        unsigned char box_pk[KLUIS_BOX_PK_BYTES], const char *path, struct jerr *err)
    __attribute__((warn_unused_result));

/**
 * @brief One call: read an authority public key file.
 * @param[out] box_pk  32 bytes; untouched on failure.
 * @param[in]  path    the file.
 * @param[out] err     may be NULL.
 * @return 0, or -1 with ERR (KERR_BAD_REQUEST for a file of another kind).
 */
int keyfile_read_authority_pub(unsigned char box_pk[KLUIS_BOX_PK_BYTES], const char *path, struct jerr *err)
    __attribute__((warn_unused_result));

#endif
