/*
 * api/charter.c — GET /v1/charter: the charter in force, byte for byte as adopted, so that its
 * SHA-256 equals the hash in GET /v1/vault and in the charter.adopted log leaf. POST /v1/charter
 * (admin): adopt a new one — validated (charter_load), allowed to replace the one in force
 * (charter_may_replace), stored and logged with its full text in one durable transaction, and
 * only then put in force in memory.
 */
#include "api/auth.h"
#include "api/handlers.h"
#include "vault/vault.h"

#include <stdio.h>
#include <time.h>

void handle_charter_get(struct request *r)
{
    vault *v = r->ctx;
    const struct charter *c = vault_charter_get(v);
    api_reply_text(r, API_OK, "application/json", c->bytes, c->len);
    vault_charter_put(v, c);
}

/* ---------------------------------------------------------------- POST /v1/charter */

struct adopt_op {
    vault *v;
    const struct charter *next;
    int64_t now;
};

/* Check against the charter STORED in force (not the one in memory, which is swapped only after
 * the commit): two adoptions racing are ordered by the writer thread, and only an increasing
 * version is ever committed. */
static kerr adopt_apply(store_txn *t, void *arg)
{
    struct adopt_op *op = arg;
    vault *v = op->v;
    skey k;
    unsigned char *val = NULL;
    size_t len = 0;
    skey_reset(&k);
    skey_u64(&k, 0);
    kerr e = store_get(t, v->tab[VT_CHARTER], &k, &val, &len);
    if (e != KERR_OK)
        return e == KERR_NOT_FOUND ? store_txn_fail(t, KERR_INTERNAL) : e;
    struct jerr err;
    struct charter *cur = charter_load((const char *)val, len, &err);
    store_val_free(val, len);
    if (!cur)
        return store_txn_fail(t, KERR_INTERNAL);
    int ok = charter_may_replace(cur, op->next, &err) == 0;
    charter_free(cur);
    if (!ok)
        return KERR_CONFLICT;
    const struct charter *c = op->next;
    store_put(t, v->tab[VT_CHARTER], &k, c->bytes, c->len);
    skey_reset(&k);
    skey_u64(&k, (uint64_t)c->version);
    store_put(t, v->tab[VT_CHARTER], &k, c->bytes, c->len);
    json_t *leaf = json_pack("{s:s, s:I, s:s, s:s#}", "charter", c->id, "version", (json_int_t)c->version, "hash",
                             c->hash_hex, "text", c->bytes, (int)c->len);
    if (!leaf)
        return store_txn_fail(t, KERR_INTERNAL);
    tlog_append(v->log, t, op->now, "charter.adopted", leaf, NULL);
    json_decref(leaf);
    return t->err;
}

void handle_charter_adopt(struct request *r)
{
    vault *v = r->ctx;
    struct caller who;
    struct jerr err = {0};
    if (api_require_json(r) != 0)
        return;
    struct charter *next = charter_load(r->body, r->body_len, &err);
    if (!next) {
        char msg[256];
        snprintf(msg, sizeof msg, "%.60s%s%.180s", err.field, err.field[0] ? ": " : "", err.msg);
        api_reply_error(r, err.code, msg);
        return;
    }
    if (api_authenticate(r, &who) != 0 || api_require_role(r, &who, KROLE_ADMIN) != 0) {
        charter_free(next);
        return;
    }
    /* An early, friendly refusal; adopt_apply() decides for good. */
    const struct charter *cur = vault_charter_get(v);
    int ok = charter_may_replace(cur, next, &err) == 0;
    vault_charter_put(v, cur);
    if (!ok) {
        charter_free(next);
        api_reply_error(r, KERR_CONFLICT, err.msg);
        return;
    }
    struct adopt_op op = {v, next, (int64_t)time(NULL)};
    kerr e = gc_submit(v->gc, adopt_apply, &op);
    if (e != KERR_OK) {
        charter_free(next);
        api_reply_error(r, e, e == KERR_CONFLICT ? "the version must increase and every section must remain" : NULL);
        return;
    }
    json_t *reply = json_pack("{s:s, s:I, s:s}", "charter", next->id, "version", (json_int_t)next->version, "hash",
                              next->hash_hex);
    /* Durable: now it is in force. Nobody holds the read lock while we hold the write lock, so the
     * old charter can go; a slower adoption of a lower version never replaces a newer one. */
    pthread_rwlock_wrlock(&v->charter_lock);
    if (next->version > v->charter->version) {
        struct charter *old = v->charter;
        v->charter = next;
        next = old;
    }
    pthread_rwlock_unlock(&v->charter_lock);
    charter_free(next);
    api_reply_json(r, API_CREATED, reply);
}
