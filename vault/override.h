/*
 * vault/override.h — emergency overrides in the store (SPEC §7): records, the citizen index, the
 * beneficiary's wraps and the delayed journal notices, all in the one table VT_OVERRIDES.
 *
 * Keys (one table, a u8 tag first; identifiers only as keyed hashes, values sealed):
 *   'O' || id-hash(override)                                  → record (compact JSON, below)
 *   'C' || id-hash(citizen) || id-hash(override)              → override id (the citizen index:
 *                                                               the access decision lists a
 *                                                               citizen's overrides from it)
 *   'W' || id-hash(override) || id-hash(section) || be64(epoch) → 80-byte wrap of that epoch's DEK
 *                                                               for the beneficiary (uploaded by
 *                                                               the mayor; deleted at close)
 *   'N' || be64(due) || 16 random bytes                       → {"citizen", "event":{...}}: a
 *                                                               journal event held back until
 *                                                               `due` (charter citizen_notice_hours)
 *
 * The record is a JSON object, read and written whole:
 *   {"id","citizen","requester","requester_org","beneficiary","ground","justification","hours",
 *    "sections":[..] (or ["*"]),"statement","signature","created","state":"pending|active|closed",
 *    "approvals":[{"approver","statement","signature","time"}],
 *    "activated"?,"expires"?,"released":[{"section","epoch"}]?,"release_time"?,
 *    "closed"?,"close_reason"?("closed"|"expired"),"closed_by"?,"close_statement"?,"close_signature"?,
 *    "notice_at"?}
 * notice_at is when the citizen may know of the override (activation, or the close of one never
 * activated, plus the charter's citizen_notice_hours then in force): the held journal notices and
 * GET /citizens/{c}/overrides both go by it.
 * statement/signature strings are the b64 envelopes exactly as received, so they are served and
 * logged byte for byte.
 *
 * Nothing here decides: the handlers (api/overrides.c) check the charter through policy/policy.h.
 * Functions taking a store_txn follow its first-error rule; "absent" is KERR_NOT_FOUND with T
 * healthy. Thread rules: those of the store_txn used.
 */
#ifndef KLUIS_OVERRIDE_H
#define KLUIS_OVERRIDE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"
#include "vault/crypto.h"
#include "vault/errors.h"
#include "vault/journal.h"
#include "vault/store.h"

struct vault;

/** States of an override (SPEC §7). An active override at or past `expires` is closed by the
 *  sweeper; until it runs, override_state_at() already reports it closed. */
enum override_state { OVR_PENDING, OVR_ACTIVE, OVR_CLOSED };

/** @brief "pending", "active", "closed". */
const char *override_state_name(enum override_state s);

/**
 * @brief The state of record REC at NOW: "closed" also for an active record whose expires <= NOW.
 * @param[out] expired_unswept  may be NULL; set to 1 when REC is active in the store but expired.
 */
enum override_state override_state_at(const json_t *rec, int64_t now, int *expired_unswept);

/**
 * @brief Read override ID.
 * @param[out] out  a new reference on KERR_OK (json_decref()); NULL otherwise.
 * @return KERR_OK; KERR_NOT_FOUND (T healthy); T's error (KERR_INTERNAL: record does not decode).
 */
kerr override_get(struct vault *v, store_txn *t, const char *id, json_t **out);

/**
 * @brief Create or replace record REC (its "id" and "citizen" set) and its citizen index entry.
 * @return T's error after the call.
 */
kerr override_put(struct vault *v, store_txn *t, const json_t *rec);

/**
 * @brief Every override record, or only those of CITIZEN (NULL: all), in order of `created`, then id.
 * @param[out] out  a new JSON array (json_decref()); NULL on error.
 * @return KERR_OK or T's error.
 */
kerr override_list(struct vault *v, store_txn *t, const char *citizen, json_t **out);

/**
 * @brief The policy view of the overrides of CITIZEN whose beneficiary is BENEFICIARY.
 * @param[out] out   malloc'd array of *N (NULL when none), freed with override_policy_free();
 *                   its strings live in it.
 * @param[out] expired_unswept  may be NULL; set to 1 when one of them is expired but still active
 *                   in the store (the caller asks the sweeper to close it).
 * @return KERR_OK or T's error.
 */
kerr override_policy_for(struct vault *v, store_txn *t, const char *citizen, const char *beneficiary,
                         int64_t now, struct policy_override **out, size_t *n, int *expired_unswept);

/** @brief Free an array of override_policy_for(). NULL ignored. */
void override_policy_free(struct policy_override *o, size_t n);

/** @brief Non-zero when record REC's sections cover SECTION (["*"] covers all). */
int override_covers(const json_t *rec, const char *section);

/** @brief Store WRAP as the beneficiary's wrap of SECTION at EPOCH under override ID. @return T's error. */
kerr override_bwrap_put(struct vault *v, store_txn *t, const char *id, const char *section, uint64_t epoch,
                       const unsigned char wrap[KLUIS_WRAP_BYTES]);

/**
 * @brief The beneficiary's wrap of SECTION at EPOCH under override ID.
 * @return KERR_OK; KERR_NOT_FOUND (T healthy); T's error.
 */
kerr override_bwrap_get(struct vault *v, store_txn *t, const char *id, const char *section, uint64_t epoch,
                       unsigned char wrap[KLUIS_WRAP_BYTES]);

/** @brief Delete every wrap of override ID. @param[out] n may be NULL. @return T's error. */
kerr override_wraps_delete(struct vault *v, store_txn *t, const char *id, size_t *n);

/**
 * @brief Delete the beneficiary wraps of SECTION (every epoch) under every override of CITIZEN,
 *        whatever its state: the erasure of a section (section_erase()) destroys every wrap of it.
 * @param[out] n  may be NULL: how many wraps were deleted.
 * @return T's error after the call.
 */
kerr override_bwrap_delete_section(struct vault *v, store_txn *t, const char *citizen, const char *section,
                                   size_t *n);

/**
 * @brief Journal EV for CITIZEN now (DUE <= EV->time) or hold it until DUE (citizen_notice_hours):
 *        a held event is appended by override_notices_release() at or after DUE, with its own
 *        original `time`.
 * @return T's error after the call.
 */
kerr override_notice(struct vault *v, store_txn *t, const char *citizen, const journal_event *ev, int64_t due);

/**
 * @brief Append every held notice whose due time is <= NOW to its citizen's journal, in due order.
 * @param[out] n  may be NULL: how many were released.
 * @return T's error after the call.
 */
kerr override_notices_release(struct vault *v, store_txn *t, int64_t now, size_t *n);

/**
 * @brief Close, in write txn T, every active override whose expires <= NOW: state closed, reason
 *        "expired", wraps deleted, leaf override.closed {"override","reason":"expired"}, journal
 *        event "override-closed" (per released section) — and release due notices.
 * @param[out] n_closed  may be NULL.
 * @return T's error after the call.
 */
kerr override_sweep_txn(struct vault *v, store_txn *t, int64_t now, size_t *n_closed);

/**
 * @brief The closing steps shared by the sweeper and POST /overrides/{o}/close, on record REC
 *        (modified in place and stored): state closed at NOW with REASON ("expired"/"closed"),
 *        CLOSED_BY (NULL for expiry), the close statement/signature (NULL for expiry); wraps
 *        deleted; the override.closed leaf; journal "override-closed" events (one per released
 *        section, or one without section), actor EV_ACTOR (NULL: the vault itself).
 * @return T's error after the call.
 */
kerr override_close_txn(struct vault *v, store_txn *t, json_t *rec, int64_t now, const char *reason,
                        const char *closed_by, const char *statement, const char *signature,
                        const journal_event *actor_ev);

/**
 * @brief Run override_sweep_txn() at NOW as one durable group-commit operation and wait.
 * @return KERR_OK or the commit error.
 */
kerr override_sweep(struct vault *v, int64_t now, size_t *n_closed);

/**
 * @brief Queue an override_sweep at the current time without waiting (the lazy check of a request
 *        that met an expired, still active override). Errors are ignored: the periodic sweep
 *        follows within a minute.
 */
void override_sweep_async(struct vault *v);

#endif
