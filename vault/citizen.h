/*
 * vault/citizen.h — citizen records: enrollment, public keys, the passphrase bundle, the lockout.
 *
 * A citizen is created by an admin (POST /v1/citizens) with a one-time enrollment code and
 * enrolls with that code from their own device, bringing their key pairs, their passphrase
 * bundle (SPEC §3) and epoch 1 of every charter section. Three records per citizen, in
 * VT_CITIZENS, each sealed, keyed u8(tag) || id-hash(citizen):
 *
 *   'R' record   {"id","display_name","created","enrolled","code_hash","code_expires",
 *                 "sign_pk","box_pk"}     — keys all-zero until enrolled; code zeroed after
 *   'P' login    {"salt","opslimit","memlimit","bundle","auth_hash"} — only once enrolled
 *   'L' lockout  24 bytes, struct lockout (vault/session.h)          — only after a failure
 *
 * Separate records keep the hot paths small: api_authenticate() reads only 'R', a failed
 * passphrase login rewrites only 'L'.
 *
 * Enrollment codes are 20 symbols of Crockford's base32 (100 bits), shown as four groups of five
 * ("7K2QX-...") and read back leniently: case-insensitive, '-' and spaces ignored, I/L read as 1
 * and O as 0. Only BLAKE2b-256("kluis/v1/enrollment\n" || the 20 canonical symbols) is stored.
 *
 * Functions taking a store_txn follow its first-error rule. Thread-safe otherwise.
 */
#ifndef KLUIS_CITIZEN_H
#define KLUIS_CITIZEN_H

#include <stddef.h>
#include <stdint.h>

#include "vault/crypto.h"
#include "vault/errors.h"
#include "vault/session.h"
#include "vault/store.h"

struct vault;

#define CITIZEN_CODE_SYMBOLS 20u  /**< symbols of an enrollment code (100 bits)        */
#define CITIZEN_CODE_TEXT    24u  /**< its display form "XXXXX-XXXXX-XXXXX-XXXXX" + NUL */
#define CITIZEN_NAME_MAX     200u /**< longest display_name, bytes                     */

/** A citizen's record ('R'). */
struct citizen {
    char id[64];
    char display_name[CITIZEN_NAME_MAX + 1];
    int64_t created;
    int enrolled;
    unsigned char code_hash[KLUIS_HASH_BYTES];  /**< all-zero once enrolled */
    int64_t code_expires;                       /**< 0 once enrolled        */
    unsigned char sign_pk[KLUIS_SIGN_PK_BYTES]; /**< all-zero until enrolled */
    unsigned char box_pk[KLUIS_BOX_PK_BYTES];
};

/** A citizen's passphrase login ('P', SPEC §3). */
struct citizen_login {
    unsigned char salt[KLUIS_SALT_BYTES];
    int64_t opslimit;
    int64_t memlimit;
    unsigned char bundle[KLUIS_BUNDLE_BYTES];
    unsigned char auth_hash[KLUIS_HASH_BYTES];  /**< BLAKE2b-256(auth_key) */
};

/**
 * @brief Draw a fresh enrollment code.
 * @param[out] text  the display form, NUL-terminated (CITIZEN_CODE_TEXT bytes).
 * @param[out] hash  what is stored (citizen_code_hash() of TEXT).
 */
void citizen_code_new(char text[CITIZEN_CODE_TEXT], unsigned char hash[KLUIS_HASH_BYTES]);

/**
 * @brief Canonicalise a typed code (see the header comment) and hash it.
 * @param[out] hash  32 bytes; untouched on failure.
 * @return 0, or -1 when CODE is not exactly 20 base32 symbols (after dropping '-' and spaces).
 */
int citizen_code_hash(unsigned char hash[KLUIS_HASH_BYTES], const char *code) __attribute__((warn_unused_result));

/**
 * @brief Read the record of citizen ID.
 * @return KERR_OK; KERR_NOT_FOUND (T healthy); T's error (KERR_INTERNAL: record does not decode).
 */
kerr citizen_get(struct vault *v, store_txn *t, const char *id, struct citizen *out);

/** @brief Create or replace C's record. @return T's error after the call. */
kerr citizen_put(struct vault *v, store_txn *t, const struct citizen *c);

/** @brief Read ID's passphrase login. @return KERR_OK; KERR_NOT_FOUND (T healthy); T's error. */
kerr citizen_login_get(struct vault *v, store_txn *t, const char *id, struct citizen_login *out);

/** @brief Create or replace ID's passphrase login. @return T's error after the call. */
kerr citizen_login_put(struct vault *v, store_txn *t, const char *id, const struct citizen_login *l);

/** @brief Read ID's lockout record; a fresh (all-zero) one when none is stored. @return KERR_OK or T's error. */
kerr citizen_lockout_get(struct vault *v, store_txn *t, const char *id, struct lockout *out);

/** @brief Store ID's lockout record (all-zero L deletes it). @return T's error after the call. */
kerr citizen_lockout_put(struct vault *v, store_txn *t, const char *id, const struct lockout *l);

/**
 * @brief The stable fake salt POST /auth/prelogin answers for ID when ID names no enrolled citizen:
 *        the first 16 bytes of the store's keyed identifier hash of "kluis/v1/prelogin-salt\n" || ID.
 *        That key is secret (derived from the storage key), so the salt is unpredictable and the
 *        same on every call and across restarts; the input contains '\n' and '/', so it never
 *        equals an identifier hashed into a database key.
 */
void citizen_fake_salt(struct vault *v, const char *id, unsigned char salt[KLUIS_SALT_BYTES]);

#endif
