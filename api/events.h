/*
 * api/events.h — the journal event of an audited dossier action, as one group-commit operation.
 * (Not to be confused with the auditor, cli/audit.c, which checks the transparency log.)
 *
 * Every dossier read (GET dossier, GET entries, export) answers only once its journal event is
 * durable (SPEC §9): the handler prepares its answer, fills an event_op and hands both to
 * api_commit_reply() with event_apply / free. The op copies everything it needs, since the apply
 * runs later on the committer's thread.
 *
 * Revocation race. A read is decided on a read snapshot; a revocation, an override close or an
 * expiry may happen between that decision and the read's journal commit. So the apply re-checks,
 * on the writer (which orders it against every revocation and close), each basis the read relied
 * on — every grant, every override — at the commit's own time: when one is no longer active the
 * apply fails, nothing is journaled and the read is refused (503 journal_unavailable for reads,
 * whose on_fail is that code; the retry gets the plain 403). Once a revocation's or a close's
 * answer is sent, no read that relied on the grant or override is answered.
 */
#ifndef KLUIS_API_EVENTS_H
#define KLUIS_API_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "api/auth.h"
#include "policy/policy.h"
#include "vault/store.h"
#include "vault/vault.h"

struct event_op;

/**
 * @brief A journal event for CITIZEN's journal: actor, role and organisation from C, REMOTE,
 *        ACTION, SECTION (NULL: omitted), BASIS, RESULT ("allowed" or "denied:<code>"), NOW; and
 *        room for N_BASES grant or override ids to re-check at commit time (event_op_rely()).
 * @return the op (free() it, or hand it to api_commit_* with free), or NULL (out of memory).
 */
struct event_op *event_op_new(vault *v, const struct caller *c, const char *remote, const char *citizen,
                              const char *action, const char *section, const char *basis, const char *result,
                              int64_t now, size_t n_bases) __attribute__((warn_unused_result));

struct access_result;

/**
 * @brief Set the I-th (< n_bases) basis to re-check at commit time, from the access decision ACC:
 *        BASIS_GRANT (grant ACC->ref must still be active) or BASIS_OVERRIDE (override ACC->ref
 *        must still be active, of this citizen, for this actor, covering the event's section if
 *        any). Other bases are ignored. A grant no commit has touched since ACC's snapshot is
 *        re-checked against the validity ACC saw, without reading it again.
 */
void event_op_rely(struct event_op *op, size_t i, const struct access_result *acc);

struct access_expired;

/**
 * @brief Hand on X, the expired grants the op's decisions met (access_result.expired), to be
 *        moved out of the grants in force once the event is appended (api_end_expired()). Each id
 *        once, up to ACCESS_EXPIRED_MAX.
 */
void event_op_expired(struct event_op *op, const struct access_expired *x);

/**
 * @brief The apply (gc_apply_fn): re-check the bases at the commit's time, then append the event,
 *        then move the expired grants handed on (event_op_expired()).
 *        A grant basis that no commit has written since the decision's snapshot is checked against
 *        the validity the decision read (store_unchanged_since()); any other is read again.
 * @return KERR_OK; KERR_GRANT_REVOKED / KERR_GRANT_EXPIRED when a grant is no longer active,
 *         KERR_OVERRIDE_NOT_ACTIVE when an override is not (nothing written); journal_append()'s
 *         error.
 */
kerr event_apply(store_txn *t, void *arg);

/**
 * @brief Append the event of OP in T from within another apply (writes, rotation, erasure). No
 *        basis re-check (the caller's apply does its own).
 * @return T's error after the call.
 */
kerr event_append(store_txn *t, const struct event_op *op);

/**
 * @brief Re-check, in T, that GRANT of CITIZEN is active at NOW (and allows writing when
 *        WANT_WRITE) and covers SECTION (NULL: any section).
 * @return KERR_OK; KERR_GRANT_REVOKED, KERR_GRANT_EXPIRED, KERR_GRANT_NOT_YET_VALID,
 *         KERR_SECTION_NOT_GRANTED or KERR_WRITE_NOT_ALLOWED; or T's error.
 */
kerr event_grant_active(vault *v, store_txn *t, const char *citizen, const char *grant, const char *section,
                        int want_write, int64_t now);

/**
 * @brief event_grant_active() for a grant to GRANTEE (the actor who relied on it), read from the
 *        by-grantee index alone (vault/grant.h grant_view_get): the commit-time re-check of every
 *        read, on the committer's thread, without opening the grant record. Same results. A
 *        grant no longer in that index (revoked, or expired and moved out) is judged from its
 *        record, and only when it is GRANTEE's.
 */
kerr event_grant_active_for(vault *v, store_txn *t, const char *grantee, const char *citizen, const char *grant,
                            const char *section, int want_write, int64_t now);

/**
 * @brief Re-check, in T, that override OVERRIDE is active at NOW, concerns CITIZEN, has
 *        BENEFICIARY as its beneficiary and covers SECTION (NULL: any section).
 * @return KERR_OK; KERR_OVERRIDE_NOT_ACTIVE (unknown, pending, closed, expired, another citizen's
 *         or another beneficiary's, not covering SECTION); or T's error.
 */
kerr event_override_active(vault *v, store_txn *t, const char *citizen, const char *beneficiary,
                           const char *override, const char *section, int64_t now);

#endif
