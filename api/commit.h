/*
 * api/commit.h — "durable first, then answer", without holding a worker thread.
 *
 * The pattern of every audited request: the handler has decided and prepared its answer; what
 * remains is a write (a journal event, a grant, an entry) that must be durable before the answer
 * leaves. api_commit_reply() defers the request (api_defer), queues the write with the group
 * committer (gc_submit_async), and when the batch holding it is durably committed, stores the
 * prepared answer and resumes the connection. If the write fails, the prepared answer is dropped
 * and an error is sent instead — never the answer without its write (SPEC §9: a read's journal
 * event is durable before the bytes of the answer are sent).
 */
#ifndef KLUIS_API_COMMIT_H
#define KLUIS_API_COMMIT_H

#include "api/api.h"
#include "vault/groupcommit.h"
#include "vault/vault.h"

/**
 * @brief Commit APPLY(txn, ARG) durably, then answer R with REPLY (status OK); or, when the
 *        write fails, with ON_FAIL (KERR_OK: the write's own error code).
 * @param[in] free_arg  called with ARG once the write is done or refused (may be NULL).
 * @param[in] reply     the prepared answer; stolen. NULL answers 500 internal after the commit.
 * Call from a handler as its last step; afterwards, touch neither R nor ARG.
 */
void api_commit_reply(struct request *r, vault *v, gc_apply_fn apply, void *arg, void (*free_arg)(void *),
                      enum api_ok ok, json_t *reply, kerr on_fail);

/**
 * @brief Like api_commit_reply(), answering with an error CODE (e.g. a refusal whose journal
 *        event must be durable first). On a failed write, ON_FAIL (or the write's error) instead.
 */
void api_commit_error(struct request *r, vault *v, gc_apply_fn apply, void *arg, void (*free_arg)(void *),
                      kerr code, const char *message, kerr on_fail);

/**
 * @brief Like api_commit_reply(), but the answer is built only AFTER the write is durable:
 *        BUILD(ARG, &code) runs in the completion (on the committer's thread; keep it short) and
 *        returns the answer, or NULL with CODE set to the error to answer instead. For answers that
 *        must not exist before their log leaf does (the override escrow, SPEC §7 step 3). When the
 *        write fails, BUILD is never called and the answer is ON_FAIL (KERR_OK: the write's own
 *        error); a write refused by the apply with a 4xx code is answered with that code.
 */
void api_commit_build(struct request *r, vault *v, gc_apply_fn apply, void *arg, void (*free_arg)(void *),
                      enum api_ok ok, json_t *(*build)(void *arg, kerr *code), kerr on_fail);

/**
 * @brief Like api_commit_reply() with an answer already serialised (api_prepare_json*()), so that
 *        the committer's thread only stores it: the form for the hot audited reads, whose answer
 *        does not depend on the write. REPLY is stolen; NULL answers 500 internal at once.
 *        APPLY runs in the batch's own transaction (gc_submit_async_flat()): it must fail either
 *        before its first write or through its transaction, as event_apply() does.
 */
void api_commit_prepared(struct request *r, vault *v, gc_apply_fn apply, void *arg, void (*free_arg)(void *),
                         struct api_prepared *reply, kerr on_fail);

#endif
