/*
 * vault/tlog.c — the transparency log on LMDB: Merkle hashes via vault/merkle.c, one signed C2SP
 * checkpoint per group commit via vault/checkpoint.c.
 *
 * State kept in memory is only what was committed: the signed size, its root and its note. The
 * size of the tree being built lives in the write transaction (meta key "size"), so the log can
 * never get ahead of what is durable, and a failed operation or batch leaves no trace. Leaves are
 * sealed like every personal value (they name citizens and carry statements); Merkle hashes and
 * checkpoints are public and stored unsealed.
 */
#include "vault/tlog.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vault/checkpoint.h"
#include "vault/encoding.h"
#include "vault/secret.h"

struct tlog {
    store *st;
    store_table t_leaf, t_hash, t_meta;
    char *origin;
    unsigned char log_pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char *log_sk; /* secret memory */

    pthread_mutex_t mu;    /* guards the committed view below */
    uint64_t size;
    char *note;

    /* prepared by pre_commit on the writer thread, adopted by post_commit */
    uint64_t pend_size;
    char *pend_note;
};

enum { META_SIZE = 1, META_CHECKPOINT = 2 };

static void meta_key(skey *k, int which)
{
    skey_reset(k);
    skey_u8(k, (uint8_t)which);
}

/* The merkle_reader over a transaction: one batched read of stored hashes. */
struct rctx {
    tlog *l;
    store_txn *t;
};

static int read_hashes(void *ctx, const uint64_t *idx, size_t n, unsigned char (*out)[MERKLE_HASH_BYTES])
{
    struct rctx *c = ctx;
    for (size_t i = 0; i < n; i++) {
        skey k;
        const void *v;
        size_t len;
        skey_reset(&k);
        skey_u64(&k, idx[i]);
        if (store_get_raw(c->t, c->l->t_hash, &k, &v, &len) != KERR_OK || len != MERKLE_HASH_BYTES)
            return -1;
        memcpy(out[i], v, MERKLE_HASH_BYTES);
    }
    return 0;
}

static kerr txn_size(tlog *l, store_txn *t, uint64_t *size)
{
    skey k;
    const void *v;
    size_t len;
    meta_key(&k, META_SIZE);
    kerr e = store_get_raw(t, l->t_meta, &k, &v, &len);
    if (e == KERR_NOT_FOUND) {
        *size = 0;
        return KERR_OK;
    }
    if (e != KERR_OK)
        return e;
    if (len != 8)
        return store_txn_fail(t, KERR_INTERNAL);
    *size = store_be64(v);
    return KERR_OK;
}

kerr tlog_open(tlog **out, store *st, store_table leaf, store_table hash, store_table meta,
               const char *origin, const unsigned char log_pk[crypto_sign_PUBLICKEYBYTES],
               const unsigned char log_sk[crypto_sign_SECRETKEYBYTES])
{
    *out = NULL;
    tlog *l = calloc(1, sizeof *l);
    if (!l)
        return KERR_INTERNAL;
    l->st = st;
    l->t_leaf = leaf;
    l->t_hash = hash;
    l->t_meta = meta;
    l->origin = strdup(origin);
    l->log_sk = secret_new(crypto_sign_SECRETKEYBYTES);
    pthread_mutex_init(&l->mu, NULL);
    if (!l->origin || !l->log_sk) {
        tlog_close(l);
        return KERR_INTERNAL;
    }
    memcpy(l->log_sk, log_sk, crypto_sign_SECRETKEYBYTES);
    memcpy(l->log_pk, log_pk, sizeof l->log_pk);

    store_txn t;
    store_txn_begin(st, &t, true);
    uint64_t size = 0;
    kerr e = txn_size(l, &t, &size);
    if (e == KERR_OK && size > 0) {
        skey k;
        const void *v;
        size_t len;
        unsigned char root[32], want[32];
        uint64_t csize = 0;
        struct rctx rc = {l, &t};
        merkle_reader r = {read_hashes, &rc};
        meta_key(&k, META_CHECKPOINT);
        e = store_get_raw(&t, meta, &k, &v, &len);
        if (e == KERR_OK) {
            l->note = strndup(v, len);
            if (!l->note || checkpoint_verify(&csize, root, l->note, len, origin, log_pk) != 0 ||
                csize != size || merkle_tree_hash(want, size, &r) != MERKLE_OK ||
                sodium_memcmp(root, want, 32) != 0)
                e = KERR_INTERNAL;
        } else {
            e = KERR_INTERNAL; /* a tree without a signed checkpoint cannot happen */
        }
    }
    store_txn_abort(&t);
    if (e != KERR_OK) {
        tlog_close(l);
        return e;
    }
    l->size = size;
    *out = l;
    return KERR_OK;
}

void tlog_close(tlog *l)
{
    if (!l)
        return;
    secret_free(l->log_sk);
    free(l->origin);
    free(l->note);
    free(l->pend_note);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

kerr tlog_append(tlog *l, store_txn *t, int64_t time, const char *event, const json_t *fields,
                 uint64_t *index)
{
    uint64_t size = 0;
    if (txn_size(l, t, &size) != KERR_OK)
        return t->err;

    json_t *leaf = json_pack("{s:I, s:I, s:s}", "index", (json_int_t)size, "time", (json_int_t)time,
                             "event", event);
    if (!leaf || (fields && json_object_update_missing(leaf, (json_t *)fields) != 0)) {
        json_decref(leaf);
        return store_txn_fail(t, KERR_INTERNAL);
    }
    char *text = json_dumps(leaf, JSON_COMPACT);
    json_decref(leaf);
    if (!text)
        return store_txn_fail(t, KERR_INTERNAL);

    unsigned char lh[MERKLE_HASH_BYTES];
    merkle_stored st[MERKLE_MAX_APPEND];
    size_t n = 0;
    struct rctx rc = {l, t};
    merkle_reader r = {read_hashes, &rc};
    merkle_hash_leaf(lh, (const unsigned char *)text, strlen(text));
    if (merkle_append(st, &n, size, lh, &r) != MERKLE_OK) {
        free(text);
        return store_txn_fail(t, KERR_INTERNAL);
    }
    skey k;
    skey_reset(&k);
    skey_u64(&k, size);
    store_put(t, l->t_leaf, &k, text, strlen(text));
    free(text);
    for (size_t i = 0; i < n; i++) {
        skey_reset(&k);
        skey_u64(&k, st[i].index);
        store_put_raw(t, l->t_hash, &k, st[i].hash, MERKLE_HASH_BYTES);
    }
    unsigned char be[8];
    for (int i = 0; i < 8; i++)
        be[i] = (unsigned char)((size + 1) >> (56 - 8 * i));
    meta_key(&k, META_SIZE);
    store_put_raw(t, l->t_meta, &k, be, sizeof be);
    if (t->err == KERR_OK && index)
        *index = size;
    return t->err;
}

kerr tlog_pre_commit(tlog *l, store_txn *t)
{
    uint64_t size = 0;
    free(l->pend_note);
    l->pend_note = NULL;
    if (txn_size(l, t, &size) != KERR_OK)
        return t->err;
    pthread_mutex_lock(&l->mu);
    uint64_t committed = l->size;
    pthread_mutex_unlock(&l->mu);
    if (size == committed)
        return KERR_OK; /* nothing logged in this batch */
    unsigned char root[MERKLE_HASH_BYTES];
    struct rctx rc = {l, t};
    merkle_reader r = {read_hashes, &rc};
    if (merkle_tree_hash(root, size, &r) != MERKLE_OK)
        return store_txn_fail(t, KERR_INTERNAL);
    char *note = checkpoint_sign(l->origin, size, root, l->log_sk);
    if (!note)
        return store_txn_fail(t, KERR_INTERNAL);
    skey k;
    meta_key(&k, META_CHECKPOINT);
    if (store_put_raw(t, l->t_meta, &k, note, strlen(note)) != KERR_OK) {
        free(note);
        return t->err;
    }
    l->pend_size = size;
    l->pend_note = note;
    return KERR_OK;
}

void tlog_post_commit(tlog *l, kerr result)
{
    if (!l->pend_note)
        return;
    if (result == KERR_OK) {
        pthread_mutex_lock(&l->mu);
        free(l->note);
        l->note = l->pend_note;
        l->size = l->pend_size;
        pthread_mutex_unlock(&l->mu);
    } else {
        free(l->pend_note);
    }
    l->pend_note = NULL;
}

uint64_t tlog_size(tlog *l)
{
    pthread_mutex_lock(&l->mu);
    uint64_t s = l->size;
    pthread_mutex_unlock(&l->mu);
    return s;
}

char *tlog_checkpoint(tlog *l)
{
    pthread_mutex_lock(&l->mu);
    char *n = l->note ? strdup(l->note) : NULL;
    pthread_mutex_unlock(&l->mu);
    return n;
}

static kerr prove(tlog *l, int consistency, uint64_t a, uint64_t b,
                  unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES], size_t *n)
{
    uint64_t size = tlog_size(l);
    if (b > size || b == 0 || (consistency ? (a == 0 || a > b) : a >= b))
        return KERR_BAD_REQUEST;
    store_txn t;
    store_txn_begin(l->st, &t, true);
    struct rctx rc = {l, &t};
    merkle_reader r = {read_hashes, &rc};
    int m = t.err != KERR_OK ? MERKLE_EREAD
            : consistency    ? merkle_prove_consistency(proof, n, a, b, &r)
                             : merkle_prove_inclusion(proof, n, a, b, &r);
    kerr e = t.err;
    store_txn_abort(&t);
    if (m == MERKLE_OK)
        return KERR_OK;
    return m == MERKLE_EINVAL ? KERR_BAD_REQUEST : (e == KERR_OK ? KERR_INTERNAL : e);
}

kerr tlog_prove_inclusion(tlog *l, uint64_t index, uint64_t size,
                          unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES], size_t *n)
{
    return prove(l, 0, index, size, proof, n);
}

kerr tlog_prove_consistency(tlog *l, uint64_t from, uint64_t to,
                            unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES], size_t *n)
{
    return prove(l, 1, from, to, proof, n);
}

kerr tlog_entries(tlog *l, uint64_t start, uint64_t end, json_t **out)
{
    *out = NULL;
    uint64_t size = tlog_size(l);
    if (end > size)
        end = size;
    if (start >= end || end - start > TLOG_MAX_ENTRIES)
        return KERR_BAD_REQUEST;
    json_t *arr = json_array();
    store_txn t;
    store_txn_begin(l->st, &t, true);
    for (uint64_t i = start; arr && i < end && t.err == KERR_OK; i++) {
        skey k;
        unsigned char *v = NULL;
        size_t len = 0;
        skey_reset(&k);
        skey_u64(&k, i);
        if (store_get(&t, l->t_leaf, &k, &v, &len) != KERR_OK) {
            store_txn_fail(&t, KERR_INTERNAL);
            break;
        }
        char *b = b64_encode(v, len);
        store_val_free(v, len);
        if (!b || json_array_append_new(arr, json_pack("{s:I, s:s}", "index", (json_int_t)i, "leaf", b)) != 0)
            store_txn_fail(&t, KERR_INTERNAL);
        free(b);
    }
    kerr e = arr ? t.err : KERR_INTERNAL;
    store_txn_abort(&t);
    if (e != KERR_OK) {
        json_decref(arr);
        return e;
    }
    *out = arr;
    return KERR_OK;
}
