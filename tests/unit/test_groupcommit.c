/*
 * tests/unit/test_groupcommit.c — one writer, many callers: every acknowledged write survives a
 * reopen, batching happens, a failing operation fails only its caller, completions come after the
 * durable commit, and an I/O error at commit puts the committer into its failed state.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

#include <sodium.h>

#include "tests/test.h"
#include "vault/groupcommit.h"
#include "vault/store.h"

TEST_MAIN_DEFS

enum { T_DATA, T_META, T_COUNT };
static const char *const tables[T_COUNT] = {"data", "meta"};
static unsigned char skey1[STORE_KEYBYTES];

#define NTHREADS 16
#define PER_THREAD 500

static void mktemp_dir(char *buf)
{
    strcpy(buf, "/tmp/kluis-gc-XXXXXX");
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        exit(2);
    }
}

static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char p[512];
    if (!d)
        return;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static store *open_store(const char *dir, size_t map)
{
    store_opts o = {.map_size = map, .tables = tables, .n_tables = T_COUNT};
    store *st = NULL;
    if (store_open(&st, dir, skey1, &o) != KERR_OK)
        return NULL;
    return st;
}

static void rec_key(skey *k, uint64_t thread, uint64_t i)
{
    skey_reset(k);
    skey_u8(k, 'R');
    skey_u64(k, thread);
    skey_u64(k, i);
}

/* ---------------------------------------------------------------- an op that writes one record */

typedef struct put_op {
    uint64_t thread, i;
    size_t size;           /* value size; 0 → a short text */
    kerr fail_with;        /* returned after writing, when set */
} put_op;

static kerr apply_put(store_txn *t, void *arg)
{
    put_op *op = arg;
    char val[64];
    skey k;
    rec_key(&k, op->thread, op->i);
    if (op->size) {
        unsigned char *big = calloc(1, op->size);
        store_put(t, T_DATA, &k, big, op->size);
        free(big);
    } else {
        snprintf(val, sizeof val, "value %llu/%llu", (unsigned long long)op->thread,
                 (unsigned long long)op->i);
        store_put(t, T_DATA, &k, val, strlen(val));
    }
    return op->fail_with;
}

static int record_present(store *st, uint64_t thread, uint64_t i)
{
    store_txn t;
    skey k;
    unsigned char *v;
    size_t n;
    kerr e;
    store_txn_begin(st, &t, true);
    rec_key(&k, thread, i);
    e = store_get(&t, T_DATA, &k, &v, &n);
    store_val_free(v, n);
    store_txn_abort(&t);
    return e == KERR_OK;
}

/* ---------------------------------------------------------------- many writers */

typedef struct worker {
    gc *g;
    uint64_t id;
    unsigned char acked[PER_THREAD];
    int errors;
} worker;

static void *worker_main(void *p)
{
    worker *w = p;
    for (uint64_t i = 0; i < PER_THREAD; i++) {
        put_op op = {.thread = w->id, .i = i};
        kerr e = gc_submit(w->g, apply_put, &op);
        w->acked[i] = e == KERR_OK;
        if (e != KERR_OK)
            w->errors++;
    }
    return NULL;
}

static atomic_int pre_calls, post_calls;

static kerr pre_commit(store_txn *t, size_t n_ok, void *arg)
{
    skey k;
    unsigned char rec[8];
    (void)arg;
    atomic_fetch_add(&pre_calls, 1);
    skey_reset(&k);
    skey_u8(&k, 'C');
    store_be64_put(rec, n_ok);
    /* Public by protocol (a batch size), so raw is fine here. */
    return store_put_raw(t, T_META, &k, rec, sizeof rec);
}

static void post_commit(kerr result, void *arg)
{
    (void)result;
    (void)arg;
    atomic_fetch_add(&post_calls, 1);
}

static void test_many_writers(const char *dir)
{
    store *st = open_store(dir, 0);
    gc *g = NULL;
    gc_opts o = {.pre_commit = pre_commit, .post_commit = post_commit};
    static worker w[NTHREADS];
    pthread_t th[NTHREADS];
    gc_stats s;
    int errors = 0, missing = 0, acked = 0;

    CHECK(st && gc_start(&g, st, &o) == KERR_OK, "start the committer");
    if (!g)
        return;
    for (int i = 0; i < NTHREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].g = g;
        w[i].id = (uint64_t)i;
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    }
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        errors += w[i].errors;
    }
    gc_get_stats(g, &s);
    gc_stop(g);
    store_close(st);

    CHECK(errors == 0, "%d x %d synchronous submits all acknowledged (%d errors)", NTHREADS, PER_THREAD, errors);
    CHECK(s.ops == NTHREADS * PER_THREAD && s.ops_ok == NTHREADS * PER_THREAD, "stats count every op (%llu)",
          (unsigned long long)s.ops);
    CHECK(s.commits < s.ops, "batching happened: %llu commits for %llu ops (largest batch %llu)",
          (unsigned long long)s.commits, (unsigned long long)s.ops, (unsigned long long)s.max_batch);
    CHECK(s.max_batch > 1 && s.max_batch <= 1024, "largest batch within bounds");
    CHECK((uint64_t)atomic_load(&pre_calls) == s.commits, "pre_commit ran once per batch (%d)",
          atomic_load(&pre_calls));
    CHECK((uint64_t)atomic_load(&post_calls) == s.commits, "post_commit ran once per batch");

    st = open_store(dir, 0);
    CHECK(st != NULL, "reopen");
    if (!st)
        return;
    for (int i = 0; i < NTHREADS; i++)
        for (uint64_t j = 0; j < PER_THREAD; j++)
            if (w[i].acked[j]) {
                acked++;
                missing += !record_present(st, (uint64_t)i, j);
            }
    CHECK(acked == NTHREADS * PER_THREAD && missing == 0, "every acknowledged record present after reopen (%d missing)",
          missing);
    store_close(st);
}

/* ---------------------------------------------------------------- one batch, mixed outcomes */

typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open, entered;
} gate;

static gate the_gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};

/* Holds the writer thread until the test opens the gate, so later submits pile into one batch. */
static kerr apply_wait(store_txn *t, void *arg)
{
    (void)t;
    (void)arg;
    pthread_mutex_lock(&the_gate.mu);
    the_gate.entered = 1;
    pthread_cond_broadcast(&the_gate.cv);
    while (!the_gate.open)
        pthread_cond_wait(&the_gate.cv, &the_gate.mu);
    pthread_mutex_unlock(&the_gate.mu);
    return KERR_OK;
}

typedef struct done_rec {
    store *st;
    put_op *op;
    kerr result;
    int calls;
    int visible_at_completion; /* was the record readable when the completion ran? */
    atomic_int *counter;
} done_rec;

static put_op batch_ops[4];
static done_rec batch_done[4];

static kerr apply_rec(store_txn *t, void *arg)
{
    return apply_put(t, ((done_rec *)arg)->op);
}

static void on_done(kerr result, void *arg)
{
    done_rec *d = arg;
    d->result = result;
    d->calls++;
    if (d->op)
        d->visible_at_completion = record_present(d->st, d->op->thread, d->op->i);
    if (d->counter)
        atomic_fetch_add(d->counter, 1);
}

static kerr apply_resubmit(store_txn *t, void *arg)
{
    (void)t;
    (void)arg;
    return KERR_OK;
}

static gc *self_gc;
static kerr self_submit_result = KERR_OK;

static void on_done_resubmit(kerr result, void *arg)
{
    (void)result;
    (void)arg;
    self_submit_result = gc_submit(self_gc, apply_resubmit, NULL);
}

static void test_batch_outcomes(const char *dir)
{
    store *st = open_store(dir, 0);
    gc *g = NULL;
    gc_stats s0, s1;
    done_rec wait_done = {0};

    CHECK(st && gc_start(&g, st, NULL) == KERR_OK, "start (no hooks)");
    if (!g)
        return;
    gc_get_stats(g, &s0);
    CHECK(gc_submit_async(g, apply_wait, on_done, &wait_done) == KERR_OK, "submit the gate op");
    pthread_mutex_lock(&the_gate.mu);
    while (!the_gate.entered)
        pthread_cond_wait(&the_gate.cv, &the_gate.mu);
    pthread_mutex_unlock(&the_gate.mu);

    for (int i = 0; i < 4; i++) {
        batch_ops[i] = (put_op){.thread = 100, .i = (uint64_t)i};
        batch_done[i] = (done_rec){.st = st, .op = &batch_ops[i]};
    }
    batch_ops[2].fail_with = KERR_CONFLICT;
    for (int i = 0; i < 4; i++)
        gc_submit_async(g, apply_rec, on_done, &batch_done[i]);

    pthread_mutex_lock(&the_gate.mu);
    the_gate.open = 1;
    pthread_cond_broadcast(&the_gate.cv);
    pthread_mutex_unlock(&the_gate.mu);

    /* A synchronous submit queues behind them; when it returns, they have all completed. */
    {
        put_op last = {.thread = 100, .i = 99};
        CHECK(gc_submit(g, apply_put, &last) == KERR_OK, "sync submit after the batch");
    }
    gc_get_stats(g, &s1);
    CHECK(wait_done.calls == 1 && wait_done.result == KERR_OK, "gate op completed ok");
    CHECK(batch_done[0].calls == 1 && batch_done[0].result == KERR_OK &&
          batch_done[1].result == KERR_OK && batch_done[3].result == KERR_OK,
          "the ops beside the failing one succeed");
    CHECK(batch_done[2].calls == 1 && batch_done[2].result == KERR_CONFLICT, "only the failing op gets its error");
    CHECK(batch_done[0].visible_at_completion && batch_done[3].visible_at_completion,
          "async completion runs after the commit (record visible to a new read txn)");
    CHECK(!batch_done[2].visible_at_completion && !record_present(st, 100, 2), "the failing op's write was discarded");
    CHECK(s1.max_batch >= 4, "the four queued ops shared one batch (largest %llu)", (unsigned long long)s1.max_batch);

    /* A batch where every op fails commits nothing. */
    {
        put_op bad = {.thread = 101, .i = 0, .fail_with = KERR_FORBIDDEN};
        gc_get_stats(g, &s0);
        CHECK(gc_submit(g, apply_put, &bad) == KERR_FORBIDDEN, "sync submit returns apply's error");
        gc_get_stats(g, &s1);
        CHECK(s1.commits == s0.commits, "an all-failed batch costs no commit");
    }

    /* Submitting from the writer thread is refused, not a deadlock. */
    {
        atomic_int cnt = 0;
        done_rec d = {.counter = &cnt};
        self_gc = g;
        CHECK(gc_submit_async(g, apply_resubmit, on_done_resubmit, &d) == KERR_OK, "queue an op whose completion resubmits");
        CHECK(gc_submit(g, apply_resubmit, NULL) == KERR_OK, "flush");
        CHECK(self_submit_result == KERR_INTERNAL, "gc_submit from the writer thread is refused");
    }

    /* Shutdown drains the queue. */
    {
        static done_rec drain[50];
        static put_op dops[50];
        atomic_int cnt = 0;
        for (int i = 0; i < 50; i++) {
            dops[i] = (put_op){.thread = 102, .i = (uint64_t)i};
            drain[i] = (done_rec){.st = st, .op = &dops[i], .counter = &cnt};
            gc_submit_async(g, apply_rec, on_done, &drain[i]);
        }
        gc_stop(g);
        g = NULL;
        int present = 0;
        for (int i = 0; i < 50; i++)
            present += record_present(st, 102, (uint64_t)i);
        CHECK(present == 50 && atomic_load(&cnt) == 50, "gc_stop ran every queued op and completion (%d/50)",
              present);
    }
    store_close(st);
}

/* ---------------------------------------------------------------- commit failures */

static int pre_fail;

static kerr pre_commit_maybe_fail(store_txn *t, size_t n_ok, void *arg)
{
    (void)t;
    (void)n_ok;
    (void)arg;
    return pre_fail ? KERR_JOURNAL_UNAVAILABLE : KERR_OK;
}

static void test_failures(const char *dir)
{
    store *st = open_store(dir, 256 * 1024);
    gc *g = NULL;
    gc_opts o = {.pre_commit = pre_commit_maybe_fail};
    gc_stats s;
    put_op op;
    atomic_int cnt = 0;
    done_rec d = {.counter = &cnt};

    CHECK(st && gc_start(&g, st, &o) == KERR_OK, "start on a 256 KiB map");
    if (!g)
        return;

    op = (put_op){.thread = 1, .i = 1, .size = 1024 * 1024};
    CHECK(gc_submit(g, apply_put, &op) == KERR_STORAGE_FULL, "an op too big for the map gets storage_full");
    op = (put_op){.thread = 1, .i = 2};
    CHECK(gc_submit(g, apply_put, &op) == KERR_OK, "the next op commits");

    pre_fail = 1;
    op = (put_op){.thread = 1, .i = 3};
    CHECK(gc_submit(g, apply_put, &op) == KERR_JOURNAL_UNAVAILABLE, "a failing pre_commit fails the batch");
    CHECK(!record_present(st, 1, 3), "... and nothing of it is committed");
    pre_fail = 0;

    store_debug_fail_next_commit(st, EIO);
    op = (put_op){.thread = 1, .i = 4};
    CHECK(gc_submit(g, apply_put, &op) == KERR_INTERNAL, "EIO at commit fails the batch");
    gc_get_stats(g, &s);
    CHECK(s.failed == 1 && s.failed_rc == EIO, "the committer is now failed (rc EIO)");
    op = (put_op){.thread = 1, .i = 5};
    CHECK(gc_submit(g, apply_put, &op) == KERR_UNAVAILABLE, "a failed committer refuses sync writes");
    CHECK(gc_submit_async(g, apply_put, on_done, &d) == KERR_UNAVAILABLE && atomic_load(&cnt) == 0,
          "and async ones, without calling the completion");
    CHECK(!record_present(st, 1, 4) && record_present(st, 1, 2), "reads still work; the failed write is absent");
    gc_stop(g);
    store_close(st);
}

/* ---------------------------------------------------------------- flat ops (gc_submit_async_flat) */

typedef struct flat_op {
    put_op put;
    int mode; /* 0 write; 1 refuse before writing; 2 write, then fail through the txn */
} flat_op;

static kerr apply_flat(store_txn *t, void *arg)
{
    flat_op *f = (flat_op *)((done_rec *)arg)->op; /* put is its first member */
    if (f->mode == 1)
        return KERR_FORBIDDEN;
    kerr e = apply_put(t, &f->put);
    if (f->mode == 2)
        return store_txn_fail(t, KERR_INTERNAL);
    return e;
}

/* Hold the writer, queue OPS (flat when FLAT[i]), release, and wait until all completed. */
static void run_gated(gc *g, done_rec *d, const int *flat, int n)
{
    done_rec wait_done = {0};
    pthread_mutex_lock(&the_gate.mu);
    the_gate.open = the_gate.entered = 0;
    pthread_mutex_unlock(&the_gate.mu);
    CHECK(gc_submit_async(g, apply_wait, on_done, &wait_done) == KERR_OK, "submit the gate op");
    pthread_mutex_lock(&the_gate.mu);
    while (!the_gate.entered)
        pthread_cond_wait(&the_gate.cv, &the_gate.mu);
    pthread_mutex_unlock(&the_gate.mu);
    for (int i = 0; i < n; i++)
        CHECK((flat[i] ? gc_submit_async_flat(g, apply_flat, on_done, &d[i])
                       : gc_submit_async(g, apply_rec, on_done, &d[i])) == KERR_OK, "queue op %d", i);
    pthread_mutex_lock(&the_gate.mu);
    the_gate.open = 1;
    pthread_cond_broadcast(&the_gate.cv);
    pthread_mutex_unlock(&the_gate.mu);
    /* Returns once the queued ops have completed; it may share (and fail with) their batch. */
    (void)gc_submit(g, apply_resubmit, NULL);
}

/* op_end's calls: all, and those with KEPT false. */
static int op_end_calls, op_end_dropped;
static void op_end(bool kept, void *arg)
{
    (void)arg;
    op_end_calls++;
    op_end_dropped += !kept;
}

static void test_flat_ops(const char *dir)
{
    store *st = open_store(dir, 0);
    gc *g = NULL;
    gc_opts o = {.op_end = op_end};
    gc_stats s0, s1;
    CHECK(st && gc_start(&g, st, &o) == KERR_OK, "start (with an op_end hook)");
    if (!g)
        return;
    static flat_op f[4];
    static done_rec d[4];
    for (int i = 0; i < 4; i++) {
        f[i] = (flat_op){.put = {.thread = 200, .i = (uint64_t)i}};
        d[i] = (done_rec){.st = st, .op = &f[i].put};
    }
    f[1].mode = 1; /* refuses before writing: only it fails */
    /* op 2 is nested (apply_rec reads d->op as a put_op: f[2].put is first in flat_op) */
    const int flat1[4] = {1, 1, 0, 1};
    gc_get_stats(g, &s0);
    op_end_calls = op_end_dropped = 0;
    run_gated(g, d, flat1, 4);
    gc_get_stats(g, &s1);
    CHECK(op_end_calls == (int)(s1.ops - s0.ops) && op_end_dropped == 1,
          "op_end ran once per op (%d of %llu), KEPT false only for the refused one (%d)", op_end_calls,
          (unsigned long long)(s1.ops - s0.ops), op_end_dropped);
    CHECK(d[0].result == KERR_OK && d[2].result == KERR_OK && d[3].result == KERR_OK,
          "flat and nested ops beside a flat refusal succeed");
    CHECK(d[1].calls == 1 && d[1].result == KERR_FORBIDDEN && !record_present(st, 200, 1),
          "the flat refusal gets its error and wrote nothing");
    CHECK(d[0].visible_at_completion && d[2].visible_at_completion && d[3].visible_at_completion,
          "completions run after the durable commit");

    for (int i = 0; i < 3; i++) {
        f[i] = (flat_op){.put = {.thread = 201, .i = (uint64_t)i}};
        d[i] = (done_rec){.st = st, .op = &f[i].put};
    }
    f[1].mode = 2; /* fails through the transaction: the whole batch fails */
    const int flat2[3] = {1, 1, 0};
    op_end_calls = op_end_dropped = 0;
    run_gated(g, d, flat2, 3);
    CHECK(op_end_dropped >= 2, "op_end: KEPT false for the failing flat op and the nested op after it (%d)",
          op_end_dropped);
    CHECK(d[0].result != KERR_OK && d[1].result != KERR_OK && d[2].result != KERR_OK,
          "a flat op failing through the txn fails every op of its batch (%d %d %d)", d[0].result, d[1].result,
          d[2].result);
    CHECK(!record_present(st, 201, 0) && !record_present(st, 201, 1) && !record_present(st, 201, 2),
          "and nothing of that batch was committed");
    {
        put_op after = {.thread = 201, .i = 9};
        CHECK(gc_submit(g, apply_put, &after) == KERR_OK && record_present(st, 201, 9),
              "the committer carries on after such a batch");
    }
    gc_stop(g);
    store_close(st);
}

int main(void)
{
    char dir[64];
    if (sodium_init() < 0)
        return 2;
    randombytes_buf(skey1, sizeof skey1);
    mktemp_dir(dir);
    test_many_writers(dir);
    rm_dir(dir);
    mktemp_dir(dir);
    test_batch_outcomes(dir);
    rm_dir(dir);
    mktemp_dir(dir);
    test_failures(dir);
    rm_dir(dir);
    mktemp_dir(dir);
    test_flat_ops(dir);
    rm_dir(dir);
    return TEST_END();
}
