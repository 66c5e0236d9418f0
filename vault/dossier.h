/*
 * vault/dossier.h — the stored shape of a dossier: per section its state, per epoch its record.
 *
 *   VT_SECTIONS  id-hash(citizen) || id-hash(section)               → {"current_epoch","next_seq"}
 *   VT_EPOCHS    id-hash(citizen) || id-hash(section) || be64(epoch) → {"epoch","statement",
 *                "signature","self_wrap","escrow_wrap","created"}
 *
 * Both values are sealed JSON. An epoch record keeps the citizen-signed `epoch` statement exactly
 * as received (b64 strings, so it is served back byte for byte and anyone re-verifies it), the
 * citizen's own wrap of the epoch's DEK (80 bytes, crypto_box_seal to the citizen's box_pk) and the
 * escrow wrap (128 bytes, SPEC §4). Enrollment (POST /citizens/{c}/enroll) writes epoch 1 of every
 * charter section; rotation adds epochs; entries, grant wraps and erasure build on this module.
 *
 * Functions taking a store_txn follow its first-error rule. Records are validated on read: a
 * record that does not decode is KERR_INTERNAL (the transaction is poisoned).
 */
#ifndef KLUIS_DOSSIER_H
#define KLUIS_DOSSIER_H

#include <stddef.h>
#include <stdint.h>

#include "vault/crypto.h"
#include "vault/errors.h"
#include "vault/store.h"

struct vault;

/** The state of one section of one dossier. */
struct section_state {
    uint64_t current_epoch;  /**< the newest epoch (>= 1 once enrolled)                     */
    uint64_t next_seq;       /**< the seq the next entry of the section gets (1 when empty) */
};

/** One epoch of one section. The strings are malloc'd (epoch_record_clear() frees them). */
struct epoch_record {
    uint64_t epoch;
    char *statement;         /**< b64 of the epoch statement's exact bytes, as received */
    char *signature;         /**< b64 of its signature, as received                     */
    unsigned char self_wrap[KLUIS_WRAP_BYTES];
    unsigned char escrow_wrap[KLUIS_ESCROW_BYTES];
    int64_t created;         /**< when the vault accepted it                            */
};

/**
 * @brief Read the state of SECTION in CITIZEN's dossier.
 * @return KERR_OK; KERR_NOT_FOUND (T healthy) when the citizen has no such section; T's error.
 */
kerr section_get(struct vault *v, store_txn *t, const char *citizen, const char *section,
                 struct section_state *out);

/** @brief Create or replace the state of SECTION. @return T's error after the call. */
kerr section_put(struct vault *v, store_txn *t, const char *citizen, const char *section,
                 const struct section_state *s);

/**
 * @brief Store epoch record E (E->epoch >= 1, strings non-NULL) of SECTION, replacing any record
 *        of the same epoch (callers check stale or duplicate epochs before).
 * @return T's error after the call; KERR_BAD_REQUEST (T poisoned) for epoch 0 or NULL strings.
 */
kerr epoch_put(struct vault *v, store_txn *t, const char *citizen, const char *section,
               const struct epoch_record *e);

/**
 * @brief Read epoch EPOCH of SECTION into OUT (free its strings with epoch_record_clear()).
 * @return KERR_OK; KERR_NOT_FOUND (T healthy; OUT zeroed); T's error.
 */
kerr epoch_get(struct vault *v, store_txn *t, const char *citizen, const char *section, uint64_t epoch,
               struct epoch_record *out);

/**
 * @brief Every epoch of SECTION, in ascending epoch order.
 * @param[out] out  malloc'd array of *N records (NULL when none); epoch_records_free() it.
 * @return KERR_OK (possibly *N == 0) or T's error (then *OUT is NULL).
 */
kerr epoch_list(struct vault *v, store_txn *t, const char *citizen, const char *section,
                struct epoch_record **out, size_t *n);

/** @brief Free the strings of E and zero it. NULL ignored. */
void epoch_record_clear(struct epoch_record *e);

/** @brief Clear and free an array from epoch_list(). NULL ignored. */
void epoch_records_free(struct epoch_record *e, size_t n);

#endif
