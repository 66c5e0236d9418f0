/*
 * vault/session.h — login state (SPEC §4 "Session login", §6 /auth endpoints): challenges, sessions and
 * the login lockout.
 *
 * Three kinds of state, kept where their lifetime says:
 *  - Challenges live only in memory (struct auth_mem): 32 random bytes per POST /auth/challenge,
 *    valid for AUTH_CHALLENGE_TTL seconds, consumed by the first /auth/session attempt that names
 *    them, whatever its outcome. The table is bounded (AUTH_CHALLENGE_MAX) and mutex-protected;
 *    the challenge bytes themselves pick its bucket, so issue and take cost O(1). A restart drops
 *    every challenge: a client simply asks again.
 *  - Sessions live in the store, so they survive a restart and end at once with a principal's
 *    deactivation (same transaction). Only H = BLAKE2b-256(token) is stored, never the token:
 *        VT_SESSIONS               skey_bytes(H)                    → be64(expires) || u8(role) || id
 *        VT_SESSIONS_BY_PRINCIPAL  skey_id(principal) || skey_bytes(H) → be64(expires)
 *    Both values are sealed (they name a person). Expired sessions are refused on lookup and
 *    pruned when their principal next logs in.
 *  - Lockout counters (struct lockout) are a pure state machine over the charter's login rules;
 *    citizens' counters are persisted by the caller (vault/citizen.h), counters for ids that name
 *    no enrolled citizen live in a bounded in-memory table here, so that the answers to an unknown
 *    id follow the same 401…401, 429 sequence as a real one and reveal nothing.
 *
 * Functions taking a store_txn follow its first-error rule (vault/store.h). The store functions
 * run in a group-commit apply (writes) or any read transaction (reads). struct auth_mem is
 * thread-safe; everything else is as thread-safe as the transaction it is given.
 */
#ifndef KLUIS_SESSION_H
#define KLUIS_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "policy/charter.h"
#include "vault/errors.h"
#include "vault/store.h"

struct vault;

#define AUTH_TOKEN_BYTES    32u    /**< session token: 32 random bytes, b64 on the wire */
#define AUTH_CHALLENGE_TTL  60     /**< seconds a challenge stays valid (SPEC §6)        */
#define AUTH_CHALLENGE_MAX  8192u  /**< challenges outstanding at once, all clients      */
#define AUTH_GHOST_MAX      4096u  /**< unknown ids whose failed logins are remembered  */

/* ---------------------------------------------------------------- lockout (pure) */

/** A login lockout record (SPEC §5 login.max_failures / lockout_minutes). All zero: fresh. */
struct lockout {
    int64_t window_start;  /**< start of the counting window                          */
    int64_t failures;      /**< failures counted in the window                         */
    int64_t locked_until;  /**< attempts are refused while now < locked_until          */
};

/**
 * @brief Seconds a client must wait before its next attempt, or 0 when attempts are allowed.
 * @param[in] l    the record.
 * @param[in] now  current time, seconds.
 * @return locked_until - now when now < locked_until, else 0.
 */
int64_t lockout_retry_after(const struct lockout *l, int64_t now);

/**
 * @brief Count one failed attempt at NOW. Failures are counted in a window of WINDOW_S seconds
 *        opened by the first failure; the MAX_FAILURES-th failure inside one window locks the id
 *        for WINDOW_S seconds (locked_until = now + WINDOW_S) and starts a fresh count. So with
 *        max 5 and 15 minutes: five wrong keys within 15 minutes, then 429 for 15 minutes.
 * @param[in,out] l  the record.
 */
void lockout_fail(struct lockout *l, int64_t now, int64_t max_failures, int64_t window_s);

/** @brief Serialise L as 24 bytes (three be64) and back; lockout_decode returns 0 or -1 (length). */
void lockout_encode(unsigned char out[24], const struct lockout *l);
int lockout_decode(struct lockout *l, const unsigned char *in, size_t len) __attribute__((warn_unused_result));

/* ---------------------------------------------------------------- in-memory state */

/** Challenges and the lockout of unknown ids. Opaque; one per vault (vault->auth). */
struct auth_mem;

/**
 * @brief Allocate the in-memory login state.
 * @param[in] max_challenges  0: AUTH_CHALLENGE_MAX (rounded up to a multiple of 8).
 * @param[in] max_ghosts      0: AUTH_GHOST_MAX.
 * @return the state, or NULL when memory is exhausted. Free with auth_mem_free().
 */
struct auth_mem *auth_mem_new(size_t max_challenges, size_t max_ghosts) __attribute__((warn_unused_result));

/** @brief Wipe and free M. NULL is ignored. No other thread may use M any more. */
void auth_mem_free(struct auth_mem *m);

/**
 * @brief Issue a fresh challenge for ID, valid until *EXPIRES = NOW + AUTH_CHALLENGE_TTL.
 *        Whether ID names anyone is not looked at (an unknown id gets a challenge like any other).
 * @param[out] challenge  32 random bytes.
 * @param[out] expires    its expiry time.
 * @return 0; -1 when the table has no free slot (every slot holds an unexpired challenge: the
 *         caller answers 503 unavailable with Retry-After AUTH_CHALLENGE_TTL).
 */
int auth_challenge_issue(struct auth_mem *m, const char *id, int64_t now,
                         unsigned char challenge[32], int64_t *expires) __attribute__((warn_unused_result));

/**
 * @brief Consume CHALLENGE: whatever the outcome, a stored challenge with these bytes is removed.
 * @return 0 when it was issued for ID (exactly) and NOW < its expiry; -1 otherwise (never issued,
 *         already consumed, expired, or issued for another id).
 */
int auth_challenge_take(struct auth_mem *m, const char *id, const unsigned char challenge[32], int64_t now)
    __attribute__((warn_unused_result));

/**
 * @brief The lockout record of an unknown id, by its 32-byte id hash (store_id_hash()).
 *        A copy: fresh (all zero) when none is remembered.
 */
void auth_ghost_get(struct auth_mem *m, const unsigned char idhash[32], struct lockout *out);

/**
 * @brief Remember L for IDHASH (replacing the least recently written record when full).
 */
void auth_ghost_put(struct auth_mem *m, const unsigned char idhash[32], const struct lockout *l);

/* ---------------------------------------------------------------- sessions (store) */

/** A stored session. */
struct session {
    char principal[64];   /**< principal or citizen id */
    enum krole role;
    int64_t expires;      /**< the session is valid while now < expires */
};

/**
 * @brief H = BLAKE2b-256(token): the only form in which a token is stored or looked up.
 * @param[out] h      32 bytes.
 * @param[in]  token  AUTH_TOKEN_BYTES bytes.
 */
void session_token_hash(unsigned char h[32], const unsigned char token[AUTH_TOKEN_BYTES]);

/**
 * @brief Store session S under token hash H, index it under its principal, and prune that
 *        principal's sessions that expired at or before NOW.
 * @return T's error after the call: KERR_OK; KERR_BAD_REQUEST for a principal that is not an
 *         identifier or a role of KROLE_NONE (T poisoned); store errors.
 */
kerr session_put(struct vault *v, store_txn *t, const unsigned char h[32], const struct session *s, int64_t now);

/**
 * @brief Read the session under token hash H. Expiry is NOT checked here: compare out->expires
 *        with the clock (api_authenticate() does).
 * @return KERR_OK; KERR_NOT_FOUND (T healthy); T's error (KERR_INTERNAL for a record that does
 *         not decode).
 */
kerr session_get(struct vault *v, store_txn *t, const unsigned char h[32], struct session *out);

/**
 * @brief End the session under token hash H (both records).
 * @return KERR_OK; KERR_NOT_FOUND when there is none (T healthy); T's error.
 */
kerr session_del(struct vault *v, store_txn *t, const unsigned char h[32]);

/**
 * @brief End every session of PRINCIPAL (deactivation).
 * @param[out] n  number of sessions ended (expired ones included); may be NULL.
 * @return T's error after the call.
 */
kerr session_del_all(struct vault *v, store_txn *t, const char *principal, size_t *n);

#endif
