/*
 * api/audit.h — the journal event of an audited dossier action, as one group-commit operation.
 *
 * Every dossier read (GET dossier, GET entries, export) answers only once its journal event is
 * durable (SPEC §9): the handler prepares its answer, fills an audit_op and hands both to
 * api_commit_reply() with audit_apply / free. The op copies everything it needs, since the apply
 * runs later on the committer's thread.
 *
 * Revocation race. A read is decided on a read snapshot; a revocation may commit between that
 * decision and the read's journal commit. So the apply re-checks, on the writer (which orders it
 * against every revocation), each grant the read relied on: when one is no longer active the apply
 * fails, nothing is journaled and the read is refused (503 journal_unavailable for reads, whose
 * on_fail is that code; the retry gets the plain 403). Once a revocation's answer is sent, no read
 * that relied on the grant is answered.
 */
#ifndef KLUIS_API_AUDIT_H
#define KLUIS_API_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "api/auth.h"
#include "vault/store.h"
#include "vault/vault.h"

struct audit_op;

/**
 * @brief A journal event for CITIZEN's journal: actor, role and organisation from C, REMOTE,
 *        ACTION, SECTION (NULL: omitted), BASIS, RESULT ("allowed" or "denied:<code>"), NOW; and
 *        room for N_GRANTS grant ids to re-check at commit time (audit_op_grant()).
 * @return the op (free() it, or hand it to api_commit_* with free), or NULL (out of memory).
 */
struct audit_op *audit_op_new(vault *v, const struct caller *c, const char *remote, const char *citizen,
                              const char *action, const char *section, const char *basis, const char *result,
                              int64_t now, size_t n_grants) __attribute__((warn_unused_result));

/** @brief Set the I-th (< n_grants) grant to re-check: it must still be active at NOW. */
void audit_op_grant(struct audit_op *op, size_t i, const char *grant);

/**
 * @brief The apply (gc_apply_fn): re-check the grants, then append the event.
 * @return KERR_OK; KERR_GRANT_REVOKED / KERR_GRANT_EXPIRED when a grant is no longer active
 *         (nothing written); journal_append()'s error.
 */
kerr audit_apply(store_txn *t, void *arg);

/**
 * @brief Append the event of OP in T from within another apply (writes, rotation, erasure). No
 *        grant re-check (the caller's apply does its own).
 * @return T's error after the call.
 */
kerr audit_append(store_txn *t, const struct audit_op *op);

/**
 * @brief Re-check, in T, that GRANT of CITIZEN is active at NOW (and allows writing when
 *        WANT_WRITE) and covers SECTION (NULL: any section).
 * @return KERR_OK; KERR_GRANT_REVOKED, KERR_GRANT_EXPIRED, KERR_GRANT_NOT_YET_VALID,
 *         KERR_SECTION_NOT_GRANTED or KERR_WRITE_NOT_ALLOWED; or T's error.
 */
kerr audit_grant_active(vault *v, store_txn *t, const char *citizen, const char *grant, const char *section,
                        int want_write, int64_t now);

#endif
