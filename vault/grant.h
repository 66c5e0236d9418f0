/*
 * vault/grant.h — the consent data layer: grants, their key wraps, access requests (SPEC §4–6).
 *
 * What is stored, all values sealed (vault/store.h), keys per vault/vault.h:
 *   VT_GRANTS            id-hash(citizen) || id-hash(grant)  → grant record (JSON): the statement
 *                        and signature exactly as received (b64), the parsed fields, `created`, and
 *                        once revoked `revoked` with the revoke statement and signature.
 *   VT_GRANTS_BY_GRANTEE id-hash(grantee) || id-hash(citizen) || id-hash(grant) ("grants_in_force")
 *                        → the policy view of a grant in force (binary, vault/grant.c), which names
 *                        citizen and grant: the hashes in the key cannot be read back.
 *   VT_GRANTS_ENDED      id-hash(grantee) || id-hash(citizen) || be64(~created) || id-hash(grant)
 *                        → the view of a revoked or expired grant, newest first.
 *   VT_ENTRIES           DOSSIER_TAG_ENTRY || id-hash(citizen) || id-hash(0x00 || id-hash(grantee))
 *                        || id-hash(grant) → the same view, beside the citizen's entries: what the
 *                        access decision reads (vault/dossier.h). Written and removed together with
 *                        the by-grantee index's.
 *   VT_GRANT_WRAPS       id-hash(citizen) || id-hash(grant) || id-hash(section) || be64(epoch)
 *                        → the 80-byte wrap of that epoch's DEK to the grantee.
 *   VT_REQUESTS          id-hash(citizen) || id-hash(request) → access request record (JSON).
 *
 * Nothing here decides anything: charter rules and the access rule are policy/policy.h's; this
 * module stores what the handlers decided and reads it back for the next decision. Functions that
 * take a store_txn follow its first-error rule (vault/store.h): the return value is T's error
 * after the call, except that "absent" is KERR_NOT_FOUND and leaves T healthy, and the refusals
 * named per function (KERR_CONFLICT) also leave T healthy, so the caller answers them itself.
 * Writes are meant to run inside a group-commit apply (vault/groupcommit.h).
 *
 * TAB is the vault's table array (v->tab), indexed by enum vault_table; only the tables above
 * are used (of VT_ENTRIES only the views' keys). Records returned own their memory (free with grant_rec_free() / grant_recs_free(),
 * grant_request_free() / grant_requests_free()); every string of a record is borrowed from it.
 * Lists come sorted by `created`, then id (bytewise), so answers are deterministic although keys
 * are hashes. Thread rules: those of the store_txn used.
 */
#ifndef KLUIS_GRANT_H
#define KLUIS_GRANT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"
#include "vault/crypto.h"
#include "vault/errors.h"
#include "vault/store.h"

/** Most sections a grant or request names (the statement's own bound). */
#define GRANT_MAX_SECTIONS 64u
/** Longest b64 statement kept (KSTMT_MAX_BYTES encoded, with room). */
#define GRANT_MAX_B64 90000u

/**
 * A grant. As input to grant_put(), fill every field but obj_ (pointers borrowed from the caller);
 * request and note may be NULL; revoked fields are ignored (a new grant is never revoked).
 * As output, everything is borrowed from the record itself.
 */
struct grant_rec {
    const char *id;
    const char *citizen;
    const char *grantee;
    const char *purpose;
    const char **sections;      /* n_sections section ids                                    */
    size_t n_sections;
    int write;                  /* access "write" (else "read")                              */
    int64_t not_before;
    int64_t expires;
    const char *request;        /* the request this grant answers, or NULL                   */
    const char *note;           /* or NULL                                                    */
    int64_t created;            /* when the vault accepted it                                 */
    const char *statement;      /* b64 of S, as received                                      */
    const char *signature;      /* b64 of the signature, as received                          */
    int revoked;                /* non-zero once revoked                                      */
    int64_t revoked_at;
    const char *revoke_statement; /* b64, NULL unless revoked                                 */
    const char *revoke_signature;
    /* private */
    json_t *obj_;
    const char **secbuf_;
};

/** SPEC §6 requests: open until declined or answered by a grant. */
enum grant_request_state { GREQ_OPEN, GREQ_DECLINED, GREQ_ANSWERED };

/** An access request (a professional asking a citizen). As grant_rec for input and output. */
struct grant_request {
    const char *id;
    const char *citizen;
    const char *requester;
    const char *purpose;
    const char **sections;
    size_t n_sections;
    int write;
    int64_t days;
    const char *note;           /* or NULL                                                    */
    int64_t created;
    const char *statement;
    const char *signature;
    enum grant_request_state state; /* input: ignored, a new request is open                  */
    int64_t closed;             /* when declined or answered; 0 while open                    */
    const char *answered_by;    /* the grant that answered it, or NULL                        */
    /* private */
    json_t *obj_;
    const char **secbuf_;
};

/* ---------------------------------------------------------------- grants */

/**
 * @brief Store the new grant G for G->citizen and index it under G->grantee.
 * @return KERR_OK; KERR_CONFLICT when the citizen already has a grant with this id (T healthy);
 *         KERR_BAD_REQUEST for a record that is not storable (no sections, too many, a NULL
 *         field; T poisoned); or T's error.
 */
kerr grant_put(store_txn *t, const store_table *tab, const struct grant_rec *g)
    __attribute__((warn_unused_result));

/**
 * @brief Read grant GRANT of CITIZEN.
 * @param[out] out  filled on KERR_OK (grant_rec_free() it); zeroed otherwise.
 * @return KERR_OK, KERR_NOT_FOUND (T healthy), or T's error (KERR_INTERNAL: unreadable record).
 */
kerr grant_get(store_txn *t, const store_table *tab, const char *citizen, const char *grant,
               struct grant_rec *out) __attribute__((warn_unused_result));

/**
 * @brief Revoke grant GRANT of CITIZEN at AT, keeping the revoke statement and signature (b64, as
 *        received), and delete every wrap of the grant: the vault stops holding keys for it.
 * @return KERR_OK; KERR_NOT_FOUND (no such grant); KERR_CONFLICT (already revoked); T stays
 *         healthy for those two; or T's error.
 */
kerr grant_revoke(store_txn *t, const store_table *tab, const char *citizen, const char *grant, int64_t at,
                  const char *revoke_statement, const char *revoke_signature)
    __attribute__((warn_unused_result));

/**
 * @brief Every grant of CITIZEN, in any state.
 * @param[out] out  malloc'd array of *N records (NULL when none); grant_recs_free() it.
 * @return KERR_OK or T's error (nothing returned then).
 */
kerr grant_list_citizen(store_txn *t, const store_table *tab, const char *citizen, struct grant_rec **out,
                        size_t *n) __attribute__((warn_unused_result));

/**
 * @brief Every grant to GRANTEE, of every citizen (GET /v1/grants); each record names its citizen.
 * @return as grant_list_citizen().
 */
kerr grant_list_grantee(store_txn *t, const store_table *tab, const char *grantee, struct grant_rec **out,
                        size_t *n) __attribute__((warn_unused_result));

/**
 * @brief Every grant to GRANTEE for CITIZEN, in any state: the input of policy_access_decide().
 * @return as grant_list_citizen().
 */
kerr grant_list_for(store_txn *t, const store_table *tab, const char *grantee, const char *citizen,
                    struct grant_rec **out, size_t *n) __attribute__((warn_unused_result));

/**
 * @brief The grants of CITIZEN that are live at NOW (not revoked, now < expires: active or still
 *        pending) and name SECTION: rotation must carry a new wrap for each (409 missing_wraps).
 * @return as grant_list_citizen().
 */
kerr grant_list_live_covering(store_txn *t, const store_table *tab, const char *citizen, const char *section,
                              int64_t now, struct grant_rec **out, size_t *n) __attribute__((warn_unused_result));

/**
 * The grants of one grantee for one citizen as the access rule sees them (policy/policy.h), read
 * from the by-grantee index alone: the hot path of every dossier read. V is sorted like the lists
 * above (created, then id); its strings live until grant_views_free().
 */
struct grant_views {
    struct policy_grant *v;
    size_t n;
    /* private */
    void **mem_;
    size_t nmem_;
};

/**
 * @brief The grants to GRANTEE for CITIZEN as policy views, without opening the grant records.
 *        With ENDED_SECTION NULL: those not revoked (pending, active, or expired and not yet
 *        moved by grant_end_expired()) — what can allow an access, so an access decision reads no
 *        more than the grants in force. With
 *        ENDED_SECTION set, for naming a refusal, also what policy_access_decide() needs of the
 *        revoked ones to name the same reason it would from all of them: the newest revoked grants
 *        covering ENDED_SECTION (those of the newest `created`), or, when none covers it, one
 *        revoked grant (the caller had grants). Revoked grants are kept newest first, so this
 *        reads one or a few of them, not all. The grants in force are read from their views'
 *        copies beside the citizen's entries (one B-tree descent shared with the entry page).
 * @param[out] out  zeroed, then filled on KERR_OK (grant_views_free() it in every case).
 * @return KERR_OK (possibly OUT->n == 0) or T's error (KERR_INTERNAL for a damaged index).
 */
kerr grant_views_for(store_txn *t, const store_table *tab, const char *grantee, const char *citizen,
                     const char *ended_section, struct grant_views *out) __attribute__((warn_unused_result));

/**
 * @brief The policy view of grant GRANT of CITIZEN to GRANTEE (OUT->n == 1): the commit-time
 *        re-check of a grant a read relied on.
 * @return KERR_OK; KERR_NOT_FOUND (no such grant to GRANTEE, or it ended: revoked, or expired
 *         and moved by grant_end_expired(); T healthy); T's error.
 */
kerr grant_view_get(store_txn *t, const store_table *tab, const char *grantee, const char *citizen,
                    const char *grant, struct grant_views *out) __attribute__((warn_unused_result));

/**
 * @brief Move grant GRANT of CITIZEN to GRANTEE out of the index every access decision reads when
 *        it has expired by NOW (now >= expires, not revoked): its view goes to the table of ended
 *        grants, as a revocation's does. Expiry is final (a grant's dates never change), and
 *        grant_views_for() with ENDED_SECTION gives policy the newest ended grants, so every
 *        decision names the same reason as before the move; only decisions stop reading it.
 *        Nothing happens when the grant is not in that index (moved, revoked, unknown) or has not
 *        expired. Its copy beside the entries goes with it. Writer: the committer calls it for
 *        the expired grants a decision met (api/access.h).
 * @return KERR_OK (moved or nothing to do); T's error (KERR_INTERNAL for a damaged value).
 */
kerr grant_end_expired(store_txn *t, const store_table *tab, const char *grantee, const char *citizen,
                       const char *grant, int64_t now);

/**
 * @brief Write every grant's view again from its record (VT_GRANTS, the truth): a grant in force
 *        (not revoked, not expired by NOW) into the grants in force and beside its citizen's
 *        entries (vault/dossier.h), any other into the ended grants, out of both. vault_open runs it
 *        once when the file still has the table an older kluisd kept its views in: a vault from
 *        before the copies beside the entries, or one an older kluisd has opened since (it would
 *        have revoked or granted without them). BATCH records per write transaction, each
 *        committed; idempotent, so a crash midway just runs it again. Runs before the group
 *        committer starts (it begins its own write transactions).
 * @param[out] grants  grant records read.
 * @return KERR_OK, or the failing transaction's error (KERR_INTERNAL for a damaged record).
 */
kerr grant_views_rebuild(store *st, const store_table *tab, int64_t now, size_t batch, size_t *grants)
    __attribute__((warn_unused_result));

/**
 * @brief K := the key of the copy beside CITIZEN's entries (VT_ENTRIES) of the view of GRANT to
 *        GRANTEE, as laid out above; with GRANT NULL, the prefix of all of GRANTEE's from CITIZEN.
 */
void grant_view_copy_key(skey *k, const store *st, const char *grantee, const char *citizen, const char *grant);

/** @brief Release OUT's memory and zero it. NULL and zeroed structs are fine. */
void grant_views_free(struct grant_views *g);

/** @brief Non-zero when G names SECTION. */
int grant_covers(const struct grant_rec *g, const char *section);

/** @brief G as policy/policy.h sees it; OUT borrows from G. */
void grant_policy_view(const struct grant_rec *g, struct policy_grant *out);

/** @brief G's SPEC §6 state at NOW (policy_grant_state()). */
enum grant_state grant_state_at(const struct grant_rec *g, int64_t now);

/** @brief Release what G holds and zero it. NULL and zeroed structs are fine. */
void grant_rec_free(struct grant_rec *g);
/** @brief grant_rec_free() each of the N records of G, then free(G). NULL is fine. */
void grant_recs_free(struct grant_rec *g, size_t n);

/* ---------------------------------------------------------------- wraps */

/**
 * @brief Store WRAP (KLUIS_WRAP_BYTES) of SECTION's epoch EPOCH (>= 1) for grant GRANT of CITIZEN,
 *        replacing one already there. The grant itself is not checked here.
 * @return T's error after the call (KERR_BAD_REQUEST, T poisoned, for epoch 0).
 */
kerr grant_wrap_put(store_txn *t, const store_table *tab, const char *citizen, const char *grant,
                    const char *section, uint64_t epoch, const unsigned char wrap[KLUIS_WRAP_BYTES])
    __attribute__((warn_unused_result));

/**
 * @brief Read the wrap of (GRANT, SECTION, EPOCH) of CITIZEN into WRAP.
 * @return KERR_OK, KERR_NOT_FOUND (T healthy), or T's error.
 */
kerr grant_wrap_get(store_txn *t, const store_table *tab, const char *citizen, const char *grant,
                    const char *section, uint64_t epoch, unsigned char wrap[KLUIS_WRAP_BYTES])
    __attribute__((warn_unused_result));

/**
 * @brief Delete every wrap of SECTION of CITIZEN, under every grant and epoch (erasure).
 * @param[out] deleted  how many were deleted; may be NULL.
 * @return KERR_OK (also when there were none) or T's error.
 */
kerr grant_wraps_delete_section(store_txn *t, const store_table *tab, const char *citizen, const char *section,
                                size_t *deleted) __attribute__((warn_unused_result));

/* ---------------------------------------------------------------- access requests */

/**
 * @brief Store the new, open request R of R->citizen.
 * @return KERR_OK; KERR_CONFLICT when the citizen already has a request with this id (T healthy);
 *         KERR_BAD_REQUEST for an unstorable record (T poisoned); or T's error.
 */
kerr grant_request_put(store_txn *t, const store_table *tab, const struct grant_request *r)
    __attribute__((warn_unused_result));

/**
 * @brief Read request ID of CITIZEN.
 * @return KERR_OK, KERR_NOT_FOUND (T healthy), or T's error.
 */
kerr grant_request_get(store_txn *t, const store_table *tab, const char *citizen, const char *id,
                       struct grant_request *out) __attribute__((warn_unused_result));

/**
 * @brief The open requests of CITIZEN.
 * @param[out] out  malloc'd array of *N (NULL when none); grant_requests_free() it.
 * @return KERR_OK or T's error.
 */
kerr grant_request_list_open(store_txn *t, const store_table *tab, const char *citizen,
                             struct grant_request **out, size_t *n) __attribute__((warn_unused_result));

/**
 * @brief Every request of CITIZEN, whatever its state (open, declined, answered): the export.
 * @param[out] out  malloc'd array of *N (NULL when none), in order of `created`, then id;
 *                  grant_requests_free() it.
 * @return KERR_OK or T's error.
 */
kerr grant_request_list_all(store_txn *t, const store_table *tab, const char *citizen,
                            struct grant_request **out, size_t *n) __attribute__((warn_unused_result));

/**
 * @brief Close open request ID of CITIZEN at AT: declined (GRANT NULL) or answered by GRANT.
 * @return KERR_OK; KERR_NOT_FOUND; KERR_CONFLICT when it is no longer open (T healthy for both);
 *         or T's error.
 */
kerr grant_request_close(store_txn *t, const store_table *tab, const char *citizen, const char *id,
                         const char *grant, int64_t at) __attribute__((warn_unused_result));

/** @brief "open", "declined" or "answered". */
const char *grant_request_state_name(enum grant_request_state s);

/** @brief Release what R holds and zero it. */
void grant_request_free(struct grant_request *r);
/** @brief grant_request_free() each of N, then free(R). */
void grant_requests_free(struct grant_request *r, size_t n);

#endif
