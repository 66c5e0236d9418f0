/*
 * vault/groupcommit.h — many writers, one durable commit (SPEC §11).
 *
 * One writer thread owns the store's write transaction. Callers submit operations; the writer
 * takes every queued operation (up to max_batch) into one batch transaction, runs each operation's
 * apply callback inside its own child transaction, runs the pre_commit hook once, and commits the
 * batch with one synced mdb_txn_commit. Only then is any caller told its operation succeeded.
 *
 *  - An apply that fails (returns an error, or leaves one in its child txn) has only its child
 *    aborted; only its caller gets the error, the rest of the batch goes on.
 *  - When the batch commit fails, every operation of the batch that had succeeded gets the commit
 *    error (KERR_STORAGE_FULL for a full map). When the failure is an I/O error, a failed fsync or
 *    corruption (store_rc_is_fatal), the committer enters the failed state: every queued and every
 *    later operation gets KERR_UNAVAILABLE; the process should be restarted, and LMDB's last
 *    committed state is what survives.
 *
 * Thread rules: gc_submit* may be called from any thread except the writer itself (that is, not
 * from apply, pre_commit, post_commit or a completion callback; gc_submit returns KERR_INTERNAL
 * there rather than deadlock). Apply, pre_commit, post_commit and completion callbacks all run on
 * the writer thread, one at a time, in submission order; they must not block for long, since they
 * hold up every writer. No other thread may begin a write transaction on the store while the
 * committer runs.
 */
#ifndef KLUIS_GROUPCOMMIT_H
#define KLUIS_GROUPCOMMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vault/errors.h"
#include "vault/store.h"

typedef struct gc gc;

/**
 * @brief An operation's body: run in child transaction TXN of the batch. Write with store_put()
 *        etc. Changes kept in memory outside TXN must not be trusted until the completion reports
 *        KERR_OK (the batch may still fail).
 * @return KERR_OK to keep the changes; any other code discards them and is handed to the caller.
 */
typedef kerr (*gc_apply_fn)(store_txn *txn, void *arg);

/** @brief Completion of an asynchronous operation: RESULT is KERR_OK only once durably committed. */
typedef void (*gc_done_fn)(kerr result, void *arg);

/**
 * @brief Run once per batch on the batch transaction TXN, after all applies, before the commit,
 *        when at least one operation succeeded (N_OK of them). An error (returned or left in TXN)
 *        fails the whole batch: every operation gets it.
 */
typedef kerr (*gc_pre_commit_fn)(store_txn *txn, size_t n_ok, void *arg);

/**
 * @brief Run once per batch after the commit was attempted (RESULT is its outcome), before any
 *        completion: the place to adopt or roll back in-memory state prepared in pre_commit.
 */
typedef void (*gc_post_commit_fn)(kerr result, void *arg);

/**
 * @brief Run after each operation of a batch, on the writer thread: KEPT when its changes stay in
 *        the batch (its apply succeeded and its child transaction merged), false when they were
 *        discarded. The place to forget in-memory state an apply prepared (vault/journal.h).
 */
typedef void (*gc_op_end_fn)(bool kept, void *arg);

typedef struct gc_opts {
    size_t max_batch;               /**< most operations per commit; 0 → 1024 */
    size_t max_queue;               /**< most queued operations; beyond → KERR_UNAVAILABLE; 0 → 65536 */
    gc_pre_commit_fn pre_commit;    /**< may be NULL */
    gc_post_commit_fn post_commit;  /**< may be NULL */
    gc_op_end_fn op_end;            /**< may be NULL */
    void *hook_arg;                 /**< passed to every hook */
} gc_opts;

typedef struct gc_stats {
    uint64_t ops;          /**< operations taken into batches */
    uint64_t ops_ok;       /**< operations acknowledged with KERR_OK */
    uint64_t batches;      /**< batches processed */
    uint64_t commits;      /**< mdb_txn_commit calls of batch transactions (successful or not) */
    uint64_t max_batch;    /**< largest batch seen */
    int failed;            /**< 1 once in the failed state */
    int failed_rc;         /**< the LMDB/errno code that caused it */
} gc_stats;

/**
 * @brief Start the writer thread on ST.
 * @param[out] out   the committer; NULL on failure.
 * @param[in]  opts  may be NULL for defaults.
 * @return KERR_OK, or KERR_INTERNAL (thread or memory). ST must outlive the committer.
 */
kerr gc_start(gc **out, store *st, const gc_opts *opts) __attribute__((warn_unused_result));

/**
 * @brief Run APPLY(txn, ARG) in the next batch and wait until it is durably committed or failed.
 * @return KERR_OK once committed; APPLY's error; the batch's commit error (KERR_STORAGE_FULL,
 *         KERR_INTERNAL, ...); KERR_UNAVAILABLE when the committer is stopping, failed, or its
 *         queue is full; KERR_INTERNAL when called from the writer thread.
 */
kerr gc_submit(gc *g, gc_apply_fn apply, void *arg);

/**
 * @brief Queue APPLY(txn, ARG); DONE(result, ARG) is called later from the writer thread, after
 *        the batch's durable commit (or failure).
 * @return KERR_OK when queued (DONE will be called exactly once); otherwise the error
 *         (KERR_UNAVAILABLE as for gc_submit, KERR_INTERNAL for memory) and DONE is never called.
 */
kerr gc_submit_async(gc *g, gc_apply_fn apply, gc_done_fn done, void *arg);

/**
 * @brief Like gc_submit_async(), but APPLY runs in the batch's transaction itself, not in a nested
 *        one: for the hot audited read's journal event, since LMDB mallocs (and, with a pinned mmap
 *        threshold, maps and unmaps) a 2 MiB dirty-page list for every nested transaction.
 *        APPLY's contract: it either fails BEFORE its first write (returning the error, T
 *        untouched), or fails through T (T poisoned: the whole batch then fails, and every op of it
 *        gets the commit's error — nothing is acknowledged that is not durable). Never both a write
 *        and a plain error return.
 * @return as gc_submit_async().
 */
kerr gc_submit_async_flat(gc *g, gc_apply_fn apply, gc_done_fn done, void *arg);

/**
 * @brief Stop accepting operations, run every queued one, join the writer and free G.
 *        NULL is ignored. Not from the writer thread.
 */
void gc_stop(gc *g);

/** @brief A snapshot of G's counters. Thread-safe. */
void gc_get_stats(gc *g, gc_stats *out);

#endif
