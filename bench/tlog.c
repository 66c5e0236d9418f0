/*
 * bench/tlog.c — the transparency log's micro-benchmark (issue 7): appending 100,000 leaves
 * through the group committer, then inclusion and consistency proofs on a 1,000,000-leaf log.
 *
 * It drives vault/tlog.h exactly as the vault does: a store with the log's three tables, the group
 * committer with tlog_pre_commit/tlog_post_commit as batch hooks (one signed checkpoint per batch,
 * synced commits), and leaves the size of an override leaf (a signed statement inside). Appends are
 * submitted asynchronously with at most WINDOW in flight, as concurrent HTTP handlers would. Proof
 * latency is the time of one tlog_prove_*() call (a read transaction, one batched read of
 * O(log n) stored hashes, the proof), measured one at a time; a sample is verified with
 * vault/merkle.h against the signed root.
 *
 * usage: bench_tlog DIR [--append 100000] [--size 1000000] [--proofs 20000]
 * Prints "TLOG key=value ..." lines for bench/run.sh. DIR is created fresh (must not exist).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>

#include "vault/checkpoint.h"
#include "vault/encoding.h"
#include "vault/groupcommit.h"
#include "vault/merkle.h"
#include "vault/secret.h"
#include "vault/store.h"
#include "vault/tlog.h"

#define WINDOW 256
#define BULK 1000

static const char *const tables[] = {TLOG_TABLE_LEAF, TLOG_TABLE_HASH, TLOG_TABLE_META};
static tlog *L;
static json_t *fields;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static kerr pre(store_txn *t, size_t n, void *arg)
{
    (void)n;
    (void)arg;
    return tlog_pre_commit(L, t);
}

static void post(kerr r, void *arg)
{
    (void)arg;
    tlog_post_commit(L, r);
}

struct op {
    int count;
    double t0;
};

static kerr apply(store_txn *t, void *arg)
{
    struct op *o = arg;
    for (int i = 0; i < o->count && t->err == KERR_OK; i++)
        tlog_append(L, t, (int64_t)time(NULL), "override.requested", fields, NULL);
    return t->err;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int inflight;
static double *lat;
static size_t nlat;
static int failed;

static void done(kerr r, void *arg)
{
    struct op *o = arg;
    double d = now_s() - o->t0;
    pthread_mutex_lock(&mu);
    if (r != KERR_OK)
        failed = 1;
    lat[nlat++] = d;
    inflight--;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    free(o);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static unsigned long arg(int argc, char **argv, const char *name, unsigned long def)
{
    for (int i = 2; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return strtoul(argv[i + 1], NULL, 10);
    return def;
}

int main(int argc, char **argv)
{
    if (argc < 2 || secret_init(0) != 0) {
        fprintf(stderr, "usage: bench_tlog DIR [--append N] [--size N] [--proofs N]\n");
        return 2;
    }
    unsigned long n_append = arg(argc, argv, "--append", 100000), size = arg(argc, argv, "--size", 1000000),
                  n_proofs = arg(argc, argv, "--proofs", 20000);
    if (size < n_append)
        size = n_append;
    const char *dir = argv[1];
    if (mkdir(dir, 0700) != 0) {
        perror(dir);
        return 1;
    }
    unsigned char skey_[32], pk[32], sk[64];
    randombytes_buf(skey_, sizeof skey_);
    crypto_sign_keypair(pk, sk);
    store *st = NULL;
    store_opts so = {.tables = tables, .n_tables = 3};
    gc *g = NULL;
    if (store_open(&st, dir, skey_, &so) != KERR_OK ||
        tlog_open(&L, st, 0, 1, 2, "bench.voorbeeldstad.nl/kluis", pk, sk) != KERR_OK) {
        fprintf(stderr, "bench_tlog: cannot open the store\n");
        return 1;
    }
    gc_opts go = {.pre_commit = pre, .post_commit = post};
    if (gc_start(&g, st, &go) != KERR_OK)
        return 1;

    /* a leaf the size of an override leaf: a signed statement of ~600 bytes, b64 */
    unsigned char junk[600];
    randombytes_buf(junk, sizeof junk);
    char *stmt = b64_encode(junk, sizeof junk), *sig = b64_encode(junk, 64);
    fields = json_pack("{s:s, s:s, s:s, s:s}", "override", "ov-bench", "citizen", "c0000001", "statement", stmt,
                       "signature", sig);
    free(stmt);
    free(sig);

    /* 1. append N leaves, one per operation, WINDOW in flight */
    lat = calloc(n_append, sizeof *lat);
    gc_stats s0, s1;
    gc_get_stats(g, &s0);
    double t0 = now_s();
    for (unsigned long i = 0; i < n_append; i++) {
        pthread_mutex_lock(&mu);
        while (inflight >= WINDOW)
            pthread_cond_wait(&cv, &mu);
        inflight++;
        pthread_mutex_unlock(&mu);
        struct op *o = malloc(sizeof *o);
        o->count = 1;
        o->t0 = now_s();
        if (gc_submit_async(g, apply, done, o) != KERR_OK) {
            fprintf(stderr, "bench_tlog: submit failed\n");
            return 1;
        }
    }
    pthread_mutex_lock(&mu);
    while (inflight > 0)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    double t_append = now_s() - t0;
    gc_get_stats(g, &s1);
    qsort(lat, nlat, sizeof *lat, cmp);
    printf("TLOG append leaves=%lu seconds=%.3f leaves_per_s=%.0f commits=%llu mean_batch=%.1f p50_ms=%.3f "
           "p99_ms=%.3f failed=%d\n",
           n_append, t_append, (double)n_append / t_append, (unsigned long long)(s1.commits - s0.commits),
           (double)(s1.ops - s0.ops) / (double)(s1.commits - s0.commits ? s1.commits - s0.commits : 1),
           pct(lat, nlat, 50) * 1e3, pct(lat, nlat, 99) * 1e3, failed);
    fflush(stdout);

    /* 2. grow to SIZE leaves in bulk operations */
    t0 = now_s();
    for (unsigned long have = n_append; have < size;) {
        struct op o = {.count = (int)(size - have < BULK ? size - have : BULK)};
        if (gc_submit(g, apply, &o) != KERR_OK) {
            fprintf(stderr, "bench_tlog: bulk append failed\n");
            return 1;
        }
        have += (unsigned long)o.count;
    }
    printf("TLOG grow size=%llu seconds=%.1f\n", (unsigned long long)tlog_size(L), now_s() - t0);
    fflush(stdout);

    /* 3. proofs against the signed tree */
    uint64_t sz = tlog_size(L);
    char *note = tlog_checkpoint(L);
    uint64_t csize = 0;
    unsigned char root[32];
    if (!note || checkpoint_verify(&csize, root, note, strlen(note), "bench.voorbeeldstad.nl/kluis", pk) != 0 ||
        csize != sz) {
        fprintf(stderr, "bench_tlog: the checkpoint does not verify\n");
        return 1;
    }
    double *pl = calloc(n_proofs, sizeof *pl);
    unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES];
    size_t plen;
    int bad = 0;
    for (int kind = 0; kind < 2; kind++) {
        for (unsigned long i = 0; i < n_proofs; i++) {
            uint64_t a = (uint64_t)randombytes_uniform((uint32_t)sz) + (kind ? 1 : 0);
            if (a > sz)
                a = sz;
            double p0 = now_s();
            kerr e = kind ? tlog_prove_consistency(L, a, sz, proof, &plen) : tlog_prove_inclusion(L, a, sz, proof, &plen);
            pl[i] = now_s() - p0;
            if (e != KERR_OK)
                bad++;
            if (i % 1000 == 0 && e == KERR_OK) { /* verify a sample */
                if (kind == 0) {
                    json_t *ent = NULL;
                    unsigned char leaf[4096], lh[32];
                    size_t llen = 0;
                    const char *lb = NULL;
                    if (tlog_entries(L, a, a + 1, &ent) != KERR_OK ||
                        !(lb = json_string_value(json_object_get(json_array_get(ent, 0), "leaf"))) ||
                        b64_decode(leaf, sizeof leaf, &llen, lb, strlen(lb)) != 0)
                        bad++;
                    merkle_hash_leaf(lh, leaf, llen);
                    if (merkle_verify_inclusion(lh, a, sz, (const unsigned char(*)[32])proof, plen, root) != 0)
                        bad++;
                    json_decref(ent);
                }
            }
        }
        qsort(pl, n_proofs, sizeof *pl, cmp);
        printf("TLOG %s size=%llu proofs=%lu p50_ms=%.4f p99_ms=%.4f max_ms=%.4f bad=%d\n",
               kind ? "consistency" : "inclusion", (unsigned long long)sz, n_proofs, pct(pl, n_proofs, 50) * 1e3,
               pct(pl, n_proofs, 99) * 1e3, pl[n_proofs - 1] * 1e3, bad);
        fflush(stdout);
    }
    free(note);
    free(pl);
    free(lat);
    json_decref(fields);
    gc_stop(g);
    tlog_close(L);
    store_close(st);
    sodium_memzero(sk, sizeof sk);
    return bad ? 1 : 0;
}
