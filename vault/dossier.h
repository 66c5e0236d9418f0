/*
 * vault/dossier.h — the stored shape of a dossier: per section its state, per epoch its record.
 *
 *   VT_SECTIONS  id-hash(citizen) || id-hash(section)               → {"section","current_epoch",
 *                "next_seq","entries","erased"}
 *   VT_EPOCHS    id-hash(citizen) || id-hash(section) || be64(epoch) → {"epoch","statement",
 *                "signature","self_wrap","escrow_wrap","created"}
 *   VT_ENTRIES   'E' || id-hash(citizen) || id-hash(section) || be64(seq)      → entry (binary, below)
 *                'I' || id-hash(citizen) || id-hash(section) || id-hash(entry) → be64(seq)
 *                'E' || id-hash(citizen) || id-hash(0x00 || id-hash(grantee)) || id-hash(grant)
 *                    → the view of a grant in force, a copy of the by-grantee index's, owned by
 *                      vault/grant.c: beside the citizen's entries, so a read's access decision and
 *                      its entry page share one descent. A section name holds no NUL, so no
 *                      section's prefix ever covers one of these.
 *
 * Section and epoch values are sealed JSON. The section state names its section, so the sections
 * of a dossier can be listed although keys are hashes. An entry value is a fixed binary layout,
 * sealed like every value, chosen for the hot read path (no JSON parse, no base64 encode per read):
 *   u8 'e' || be64 seq || be64 epoch || be64 created || u8 id_len || u8 author_len ||
 *   be32 statement_len || be32 signature_len || be32 blob_len ||
 *   id || author || statement (b64, as received) || signature (b64) || blob (b64, canonical)
 * The 'I' index maps an entry id to its seq: `corrects` must name an entry of the same section.
 *
 * Sequence numbers of a section start at 1 and are never reused, not even after erasure. A section
 * record is never deleted (erasure marks it), so an entry of a section proves the section exists.
 * An epoch record keeps the citizen-signed `epoch` statement exactly
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

/** The tag of a citizen's entries in VT_ENTRIES, which the views of its grants share (vault/grant.c). */
#define DOSSIER_TAG_ENTRY ((uint8_t)'E')

/** The state of one section of one dossier. */
struct section_state {
    uint64_t current_epoch;  /**< the newest epoch (>= 1 once enrolled)                     */
    uint64_t next_seq;       /**< the seq the next entry of the section gets (1 when empty) */
    uint64_t entries;        /**< how many entries the section holds now                    */
    int erased;              /**< the section was erased and has not been rotated since: no
                                  epoch record exists, so nothing can be written until the
                                  citizen rotates to current_epoch + 1 with a fresh key      */
};

/** One section of a dossier, as section_list() returns it. */
struct section_info {
    char section[64];
    struct section_state state;
};

/** Largest entry blob accepted, decoded (SPEC §11 body limit is 2 MiB; b64 of this fits it). */
#define ENTRY_BLOB_MAX ((size_t)1024 * 1024)

/**
 * One stored entry. As input to entry_put(), every pointer is borrowed from the caller. As output
 * of entry_list(), every string points into the record's own buffer (entry_recs_free()); the
 * strings are NOT NUL-terminated: use the lengths.
 */
struct entry_rec {
    uint64_t seq;
    uint64_t epoch;
    int64_t created;
    const char *id;          size_t id_len;
    const char *author;      size_t author_len;
    const char *statement;   size_t statement_len;  /**< b64, as received            */
    const char *signature;   size_t signature_len;  /**< b64, as received            */
    const char *blob;        size_t blob_len;       /**< b64 of the ciphertext blob  */
    /* private */
    unsigned char *buf_;
    size_t buflen_;
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

/**
 * @brief Whether CITIZEN's dossier has SECTION, without opening (decrypting) its state: for the
 *        hot read of entries, which needs only the section's existence.
 * @return KERR_OK; KERR_NOT_FOUND (T healthy) when it has no such section; T's error.
 */
kerr section_exists(struct vault *v, store_txn *t, const char *citizen, const char *section);

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

/**
 * @brief The sections of CITIZEN's dossier with their states, sorted by section id.
 * @param[out] out  malloc'd array of *N (NULL when none); free().
 * @return KERR_OK (possibly *N == 0) or T's error (KERR_INTERNAL for a record that does not
 *         decode or names no section).
 */
kerr section_list(struct vault *v, store_txn *t, const char *citizen, struct section_info **out, size_t *n);

/**
 * @brief Store entry E (seq, epoch, id and the three b64 strings set; lengths within the layout's
 *        bounds) of SECTION and index its id. Does not touch the section state: the caller
 *        advances next_seq and entries in the same transaction.
 * @return T's error after the call; KERR_BAD_REQUEST (T poisoned) for an unstorable record.
 */
kerr entry_put(struct vault *v, store_txn *t, const char *citizen, const char *section,
               const struct entry_rec *e);

/**
 * @brief The seq of entry ID in SECTION of CITIZEN.
 * @return KERR_OK; KERR_NOT_FOUND (T healthy); T's error.
 */
kerr entry_seq_of(struct vault *v, store_txn *t, const char *citizen, const char *section, const char *id,
                  uint64_t *seq);

/**
 * @brief Up to LIMIT entries of SECTION with seq > AFTER, ascending.
 * @param[out] out   malloc'd array of *N (NULL when none); entry_recs_free() it.
 * @param[out] more  may be NULL; set to 1 when entries beyond the last one returned exist.
 * @return KERR_OK or T's error (KERR_INTERNAL for a value that does not decode); nothing is
 *         returned on error.
 */
kerr entry_list(struct vault *v, store_txn *t, const char *citizen, const char *section, uint64_t after,
                size_t limit, struct entry_rec **out, size_t *n, int *more);

/** @brief Wipe and free the N records of an entry_list() array. NULL ignored. */
void entry_recs_free(struct entry_rec *e, size_t n);

/**
 * @brief Crypto-shred SECTION of CITIZEN in write txn T: delete every entry and its index, every
 *        epoch record (statement, self wrap, escrow wrap), every grant wrap and every override
 *        beneficiary wrap (override_bwrap_delete_section()) of the section, and
 *        mark the state erased (entries 0; current_epoch and next_seq kept, so neither an epoch
 *        number nor a seq is ever reused).
 * @param[out] n_entries, n_epochs, n_wraps  what was deleted (n_wraps: grant and override wraps);
 *             each may be NULL.
 * @return KERR_OK; KERR_NOT_FOUND (no such section; T healthy); T's error.
 */
kerr section_erase(struct vault *v, store_txn *t, const char *citizen, const char *section, size_t *n_entries,
                   size_t *n_epochs, size_t *n_wraps);

/** @brief Free the strings of E and zero it. NULL ignored. */
void epoch_record_clear(struct epoch_record *e);

/** @brief Clear and free an array from epoch_list(). NULL ignored. */
void epoch_records_free(struct epoch_record *e, size_t n);

#endif
