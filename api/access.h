/*
 * api/access.h — the access glue every dossier read and write goes through (SPEC §6 "Access rule",
 * §9 journal).
 *
 * The decision itself is policy_access_decide()'s (policy/policy.h: citizen-as-owner, roles,
 * activity, grants, overrides, the nearest reason). This module gathers what it needs from the
 * vault — the caller's grants for the citizen and, from issue 5 on, the caller's overrides — and,
 * for a refusal, makes the denied attempt durable in the citizen's journal (result
 * "denied:<code>") before the refusal is answered.
 *
 * Existence is not disclosed. A caller learns nothing from a refusal about whether a citizen id
 * exists: an unknown or not yet enrolled citizen gets exactly the refusal an enrolled citizen
 * without grants for the caller gets (no_grant for a professional, forbidden for other roles
 * and for other citizens). Only a denial against an enrolled citizen is journaled (there is no
 * journal, and no one to read it, otherwise).
 */
#ifndef KLUIS_API_ACCESS_H
#define KLUIS_API_ACCESS_H

#include <stdint.h>

#include "api/api.h"
#include "api/auth.h"
#include "policy/policy.h"
#include "vault/journal.h"
#include "vault/vault.h"

#define ACCESS_EXPIRED_MAX 4u /**< expired grants one decision hands on to be moved out of the index */

/**
 * The expired grants a decision met among the grants in force. Every decision between the same
 * caller and citizen reads them until they leave that index, so the operation that journals the
 * decision moves them, in its own commit, to the table of ended grants (api_end_expired(),
 * vault/grant.h grant_end_expired()). Decisions name the same reasons after the move.
 */
struct access_expired {
    unsigned n;                     /* ids in ID (the rest wait for a later decision) */
    char id[ACCESS_EXPIRED_MAX][64];
};

/** What allowed an access, for the journal event of the read or write that follows. */
struct access_result {
    enum policy_basis basis; /* BASIS_OWN, BASIS_GRANT or BASIS_OVERRIDE                          */
    char basis_text[80];     /* journal basis: "own", "<grant id>" or "override:<id>"              */
    char ref[64];            /* the grant or override id of the basis; "" for own                 */
    /* BASIS_GRANT: the grant's validity as the decision read it, and the decision's snapshot
     * (store_txn_snapshot(); 0 when decided in a write transaction), so that the commit-time
     * re-check need not read a grant that no commit since has touched (api/events.c) */
    int64_t not_before;
    int64_t expires;
    uint64_t snapshot;
    struct access_expired expired; /* set whatever the outcome, refusals included */
};

/**
 * @brief Decide, without journaling or answering, whether caller C may read (or, WANT_WRITE, write)
 *        SECTION of CITIZEN's dossier at NOW. For callers that must look at several sections at
 *        once (GET /citizens/{c}/dossier lists only what is open to the caller).
 * @param[out] out            filled when allowed; otherwise zeroed but for OUT->expired, which
 *                            is set either way.
 * @param[out] citizen_known  may be NULL; set to 1 when CITIZEN is an enrolled citizen, else 0.
 * @param[out] ref            may be NULL; on a refusal by grant state, the id of the grant whose
 *                            state is reported (64 bytes), else "".
 * @return KERR_OK (allowed); the refusal code (KERR_FORBIDDEN, KERR_PRINCIPAL_INACTIVE,
 *         KERR_NO_GRANT, KERR_SECTION_NOT_GRANTED, KERR_WRITE_NOT_ALLOWED, KERR_GRANT_REVOKED,
 *         KERR_GRANT_EXPIRED, KERR_GRANT_NOT_YET_VALID); or a store error (KERR_INTERNAL,
 *         KERR_UNAVAILABLE).
 */
kerr api_access_check(vault *v, const struct caller *c, const char *citizen, const char *section, int want_write,
                      int64_t now, struct access_result *out, int *citizen_known, char ref[64]);

/**
 * @brief api_access_check() inside the caller's read-only transaction T (not ended here; a store
 *        error met here stays in T), so one snapshot serves authentication, decision and data.
 */
kerr api_access_check_txn(vault *v, store_txn *t, const struct caller *c, const char *citizen, const char *section,
                          int want_write, int64_t now, struct access_result *out, int *citizen_known, char ref[64]);

/**
 * @brief THE access check of a dossier read or write: decide (api_access_check()), and on a
 *        refusal journal the denied attempt in CITIZEN's journal durably (action "read" or
 *        "write", result "denied:<code>", basis the grant whose state is reported, else "") and
 *        only then answer the refusal.
 * @param[in]  r           the request (its remote address goes into the journal event).
 * @param[in]  c           the authenticated caller (api_authenticate()).
 * @param[in]  citizen     the dossier's citizen id (from the URL).
 * @param[in]  section     the section id (from the URL).
 * @param[in]  want_write  non-zero for a write.
 * @param[out] out         on success: the basis of the access, for the caller's own journal event.
 * @return 0 when allowed (nothing answered, nothing journaled yet: the caller journals its read or
 *         write together with its effect); -1 when a reply is stored or pending (the refusal after
 *         its journal event is durable; 503 journal_unavailable when the event cannot be written;
 *         500/503 for store errors): the handler just returns and touches R no more.
 */
int api_access(struct request *r, vault *v, const struct caller *c, const char *citizen, const char *section,
               int want_write, struct access_result *out) __attribute__((warn_unused_result));

/**
 * @brief api_access() deciding from the caller's read-only transaction T (not ended here): the hot
 *        read takes authentication, access and its page from one snapshot (api/entries.c).
 * @return as api_access().
 */
int api_access_txn(struct request *r, vault *v, store_txn *t, const struct caller *c, const char *citizen,
                   const char *section, int want_write, struct access_result *out) __attribute__((warn_unused_result));

/** @brief Add the ids of SRC to DST, each once, up to ACCESS_EXPIRED_MAX. */
void api_expired_merge(struct access_expired *dst, const struct access_expired *src);

/**
 * @brief On the committer, in T: grant_end_expired() at NOW for each grant of X (to GRANTEE, of
 *        CITIZEN). Called by the apply that journals the decision, after its event.
 * @return T's error after the calls (KERR_OK when there was nothing to move): it fails only
 *         through T, so a flat apply (gc_submit_async_flat()) may call it after its writes.
 */
kerr api_end_expired(vault *v, store_txn *t, const char *grantee, const char *citizen,
                     const struct access_expired *x, int64_t now);

/**
 * @brief Fill EV (borrowing every string) for an action of C on a dossier: time NOW, actor, role and
 *        organisation from C, the client address REMOTE (r->remote), and the given ACTION, SECTION
 *        (may be NULL: omitted), BASIS and RESULT.
 */
void api_journal_event(journal_event *ev, const struct caller *c, const char *remote, int64_t now,
                       const char *action, const char *section, const char *basis, const char *result);

/**
 * @brief Require C to be the citizen CITIZEN itself (the owner-only endpoints of SPEC §6: grants,
 *        revocation, requests of one's own dossier).
 * @return 0; or -1 having answered 403 forbidden (any other role, or another citizen).
 */
int api_require_owner(struct request *r, const struct caller *c, const char *citizen)
    __attribute__((warn_unused_result));

#endif
