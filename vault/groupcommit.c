/*
 * vault/groupcommit.c — the one writer of the vault.
 *
 * This file owns the store's write transactions while the committer runs: a single thread takes
 * queued operations in batches, gives each its own child transaction (so one caller's failure
 * cannot spoil another's write), and pays for one fsync per batch instead of one per request.
 * An operation's caller learns "committed" only after mdb_txn_commit of the batch returned
 * success: that is the moment an acknowledged write survives kill -9 and power loss.
 *
 * After an I/O error during commit we do not retry: Linux may have dropped the dirty pages whose
 * write failed and a second fsync can report success over lost data ("fsyncgate"). The committer
 * fails closed and every later write gets KERR_UNAVAILABLE until the process is restarted.
 *
 * Synchronous operations live on their caller's stack and are woken through their own condition
 * variable; asynchronous ones are malloc'd and freed by the writer after their completion ran.
 */
#include "vault/groupcommit.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct gc_op {
    struct gc_op *next;
    gc_apply_fn apply;
    gc_done_fn done;     /* NULL for a synchronous op */
    void *arg;
    kerr result;
    bool flat;           /* run in the batch transaction itself (gc_submit_async_flat) */
    bool finished;       /* sync: set under g->mu, then cv signalled */
    pthread_cond_t cv;   /* sync only */
} gc_op;

struct gc {
    store *st;
    gc_opts o;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work;
    gc_op *head, *tail;
    size_t queued;
    bool stopping;
    bool failed;
    gc_stats stats;      /* under mu */
};

/* Hand OP its RESULT: wake a synchronous caller or run an async completion. Writer thread only. */
static void op_finish(gc *g, gc_op *op, kerr result)
{
    if (op->done) {
        op->done(result, op->arg);
        free(op);
        return;
    }
    pthread_mutex_lock(&g->mu);
    op->result = result;
    op->finished = true;
    pthread_cond_signal(&op->cv);
    pthread_mutex_unlock(&g->mu);
}

static void run_batch(gc *g, gc_op *batch, size_t n)
{
    store_txn bt, ct;
    size_t n_ok = 0;
    kerr e, commit_err;
    int rc = 0;
    bool fatal = false;

    store_txn_begin(g->st, &bt, false);
    for (gc_op *op = batch; op; op = op->next) {
        if (op->flat) {
            /* No nested transaction (LMDB allocates a 2 MiB dirty list for each one): the op's
             * contract is to fail before its first write, or through BT, which then fails the whole
             * batch — every op of it is answered with the commit's error, none acknowledged. */
            e = bt.err;
            if (e == KERR_OK && (e = op->apply(&bt, op->arg)) == KERR_OK)
                e = bt.err;
            op->result = e;
            if (e == KERR_OK)
                n_ok++;
            if (g->o.op_end)
                g->o.op_end(e == KERR_OK, g->o.hook_arg);
            continue;
        }
        store_txn_begin_child(&bt, &ct);
        e = ct.err;
        if (e == KERR_OK) {
            e = op->apply(&ct, op->arg);
            if (e == KERR_OK)
                e = ct.err;
            if (e == KERR_OK)
                e = store_txn_commit(&ct); /* merges into the batch */
            else
                store_txn_abort(&ct);
        }
        op->result = e;
        if (e == KERR_OK)
            n_ok++;
        if (g->o.op_end)
            g->o.op_end(e == KERR_OK, g->o.hook_arg);
    }

    commit_err = KERR_OK;
    if (n_ok == 0) {
        store_txn_abort(&bt); /* nothing to make durable: skip the fsync */
        if (bt.err != KERR_OK) { /* the batch txn never began */
            commit_err = bt.err;
            rc = bt.rc;
        }
    } else {
        if (g->o.pre_commit && bt.err == KERR_OK) {
            e = g->o.pre_commit(&bt, n_ok, g->o.hook_arg);
            if (e != KERR_OK)
                store_txn_fail(&bt, e);
        }
        commit_err = store_txn_commit(&bt);
        rc = bt.rc;
        if (g->o.post_commit)
            g->o.post_commit(commit_err, g->o.hook_arg);
    }
    fatal = commit_err != KERR_OK && rc != 0 && store_rc_is_fatal(rc);

    pthread_mutex_lock(&g->mu);
    g->stats.ops += n;
    g->stats.batches++;
    if (n_ok)
        g->stats.commits++;
    if (n > g->stats.max_batch)
        g->stats.max_batch = n;
    if (commit_err == KERR_OK)
        g->stats.ops_ok += n_ok;
    if (fatal && !g->failed) {
        g->failed = true;
        g->stats.failed = 1;
        g->stats.failed_rc = rc;
    }
    pthread_mutex_unlock(&g->mu);

    for (gc_op *op = batch, *next; op; op = next) {
        next = op->next; /* OP may be freed or returned to its caller by op_finish */
        op_finish(g, op, op->result == KERR_OK ? commit_err : op->result);
    }
}

static void *writer(void *p)
{
    gc *g = p;
    pthread_mutex_lock(&g->mu);
    for (;;) {
        gc_op *batch, *last;
        size_t n;
        while (!g->head && !g->stopping)
            pthread_cond_wait(&g->work, &g->mu);
        if (!g->head)
            break; /* stopping and drained */
        batch = last = g->head;
        n = 1;
        while (last->next && n < g->o.max_batch) {
            last = last->next;
            n++;
        }
        g->head = last->next;
        if (!g->head)
            g->tail = NULL;
        last->next = NULL;
        g->queued -= n;
        if (g->failed) {
            pthread_mutex_unlock(&g->mu);
            for (gc_op *op = batch, *next; op; op = next) {
                next = op->next;
                op_finish(g, op, KERR_UNAVAILABLE);
            }
        } else {
            pthread_mutex_unlock(&g->mu);
            run_batch(g, batch, n);
        }
        pthread_mutex_lock(&g->mu);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

kerr gc_start(gc **out, store *st, const gc_opts *opts)
{
    gc *g;
    *out = NULL;
    if (!st || !(g = calloc(1, sizeof *g)))
        return KERR_INTERNAL;
    g->st = st;
    if (opts)
        g->o = *opts;
    if (!g->o.max_batch)
        g->o.max_batch = 1024;
    if (!g->o.max_queue)
        g->o.max_queue = 65536;
    if (pthread_mutex_init(&g->mu, NULL) != 0) {
        free(g);
        return KERR_INTERNAL;
    }
    if (pthread_cond_init(&g->work, NULL) != 0) {
        pthread_mutex_destroy(&g->mu);
        free(g);
        return KERR_INTERNAL;
    }
    if (pthread_create(&g->thread, NULL, writer, g) != 0) {
        pthread_cond_destroy(&g->work);
        pthread_mutex_destroy(&g->mu);
        free(g);
        return KERR_INTERNAL;
    }
    *out = g;
    return KERR_OK;
}

/* Queue OP, or say why not. Called with g->mu held. */
static kerr enqueue_locked(gc *g, gc_op *op)
{
    if (g->stopping || g->failed || g->queued >= g->o.max_queue)
        return KERR_UNAVAILABLE;
    op->next = NULL;
    if (g->tail)
        g->tail->next = op;
    else
        g->head = op;
    g->tail = op;
    g->queued++;
    pthread_cond_signal(&g->work);
    return KERR_OK;
}

kerr gc_submit(gc *g, gc_apply_fn apply, void *arg)
{
    gc_op op;
    kerr e;

    if (!g || !apply || pthread_equal(pthread_self(), g->thread))
        return KERR_INTERNAL;
    memset(&op, 0, sizeof op);
    op.apply = apply;
    op.arg = arg;
    if (pthread_cond_init(&op.cv, NULL) != 0)
        return KERR_INTERNAL;
    pthread_mutex_lock(&g->mu);
    e = enqueue_locked(g, &op);
    if (e == KERR_OK) {
        while (!op.finished)
            pthread_cond_wait(&op.cv, &g->mu);
        e = op.result;
    }
    pthread_mutex_unlock(&g->mu);
    pthread_cond_destroy(&op.cv);
    return e;
}

static kerr submit_async(gc *g, gc_apply_fn apply, gc_done_fn done, void *arg, bool flat)
{
    gc_op *op;
    kerr e;

    if (!g || !apply || !done)
        return KERR_INTERNAL;
    if (!(op = calloc(1, sizeof *op)))
        return KERR_INTERNAL;
    op->flat = flat;
    op->apply = apply;
    op->done = done;
    op->arg = arg;
    pthread_mutex_lock(&g->mu);
    e = enqueue_locked(g, op);
    pthread_mutex_unlock(&g->mu);
    if (e != KERR_OK)
        free(op);
    return e;
}

kerr gc_submit_async(gc *g, gc_apply_fn apply, gc_done_fn done, void *arg)
{
    return submit_async(g, apply, done, arg, false);
}

kerr gc_submit_async_flat(gc *g, gc_apply_fn apply, gc_done_fn done, void *arg)
{
    return submit_async(g, apply, done, arg, true);
}

void gc_stop(gc *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->mu);
    g->stopping = true;
    pthread_cond_signal(&g->work);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->thread, NULL);
    pthread_cond_destroy(&g->work);
    pthread_mutex_destroy(&g->mu);
    free(g);
}

void gc_get_stats(gc *g, gc_stats *out)
{
    pthread_mutex_lock(&g->mu);
    *out = g->stats;
    pthread_mutex_unlock(&g->mu);
}
