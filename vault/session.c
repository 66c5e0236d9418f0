/*
 * vault/session.c — challenges (memory), sessions (store) and the lockout state machine.
 *
 * The challenge table is an array of buckets of eight slots; a challenge's first four bytes,
 * random by construction, choose its bucket, so neither issue nor take scans more than eight
 * slots and nobody can aim challenges at one bucket. Expired slots are reused in place. The
 * ghost table (lockouts of unknown ids) is small and scanned linearly: it is touched only by
 * failed passphrase logins, which are rate-limited by themselves.
 */
#include "vault/session.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/crypto.h"
#include "vault/secret.h"
#include "vault/vault.h"

#define BUCKET 8u

/* ---------------------------------------------------------------- lockout */

int64_t lockout_retry_after(const struct lockout *l, int64_t now)
{
    return now < l->locked_until ? l->locked_until - now : 0;
}

void lockout_fail(struct lockout *l, int64_t now, int64_t max_failures, int64_t window_s)
{
    if (l->failures == 0 || now - l->window_start >= window_s || now < l->window_start) {
        l->window_start = now;
        l->failures = 0;
    }
    l->failures++;
    if (l->failures >= max_failures) {
        l->locked_until = now + window_s;
        l->failures = 0;
        l->window_start = now;
    }
}

void lockout_encode(unsigned char out[24], const struct lockout *l)
{
    store_be64_put(out, (uint64_t)l->window_start);
    store_be64_put(out + 8, (uint64_t)l->failures);
    store_be64_put(out + 16, (uint64_t)l->locked_until);
}

int lockout_decode(struct lockout *l, const unsigned char *in, size_t len)
{
    if (len != 24)
        return -1;
    l->window_start = (int64_t)store_be64(in);
    l->failures = (int64_t)store_be64(in + 8);
    l->locked_until = (int64_t)store_be64(in + 16);
    return 0;
}

/* ---------------------------------------------------------------- memory */

struct challenge_slot {
    unsigned char challenge[32];
    char id[64];
    int64_t expires;   /* 0: free */
};

struct ghost {
    unsigned char idhash[32];
    struct lockout l;
    uint64_t written;  /* 0: free; else a write counter, for least-recently-written eviction */
};

struct auth_mem {
    pthread_mutex_t lock;
    struct challenge_slot *slots; /* nbuckets * BUCKET */
    size_t nbuckets;
    struct ghost *ghosts;
    size_t nghosts;
    uint64_t writes;
};

struct auth_mem *auth_mem_new(size_t max_challenges, size_t max_ghosts)
{
    if (!max_challenges)
        max_challenges = AUTH_CHALLENGE_MAX;
    if (!max_ghosts)
        max_ghosts = AUTH_GHOST_MAX;
    struct auth_mem *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->nbuckets = (max_challenges + BUCKET - 1) / BUCKET;
    m->slots = calloc(m->nbuckets * BUCKET, sizeof *m->slots);
    m->nghosts = max_ghosts;
    m->ghosts = calloc(max_ghosts, sizeof *m->ghosts);
    if (!m->slots || !m->ghosts || pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m->slots);
        free(m->ghosts);
        free(m);
        return NULL;
    }
    return m;
}

void auth_mem_free(struct auth_mem *m)
{
    if (!m)
        return;
    sodium_memzero(m->slots, m->nbuckets * BUCKET * sizeof *m->slots);
    sodium_memzero(m->ghosts, m->nghosts * sizeof *m->ghosts);
    free(m->slots);
    free(m->ghosts);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static struct challenge_slot *bucket_of(struct auth_mem *m, const unsigned char c[32])
{
    uint32_t x = (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24;
    return &m->slots[(x % m->nbuckets) * BUCKET];
}

int auth_challenge_issue(struct auth_mem *m, const char *id, int64_t now, unsigned char challenge[32],
                         int64_t *expires)
{
    if (!kluis_id_len(id))
        return -1;
    int rc = -1;
    pthread_mutex_lock(&m->lock);
    /* A few fresh draws: a full bucket is only likely when the whole table is nearly full. */
    for (int attempt = 0; attempt < 4 && rc != 0; attempt++) {
        unsigned char c[32];
        randombytes_buf(c, sizeof c);
        struct challenge_slot *b = bucket_of(m, c);
        for (size_t i = 0; i < BUCKET; i++) {
            if (b[i].expires > now)
                continue;
            memcpy(b[i].challenge, c, 32);
            snprintf(b[i].id, sizeof b[i].id, "%s", id);
            b[i].expires = now + AUTH_CHALLENGE_TTL;
            memcpy(challenge, c, 32);
            *expires = b[i].expires;
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

int auth_challenge_take(struct auth_mem *m, const char *id, const unsigned char challenge[32], int64_t now)
{
    int rc = -1;
    pthread_mutex_lock(&m->lock);
    struct challenge_slot *b = bucket_of(m, challenge);
    for (size_t i = 0; i < BUCKET; i++) {
        if (b[i].expires == 0 || sodium_memcmp(b[i].challenge, challenge, 32) != 0)
            continue;
        if (now < b[i].expires && strcmp(b[i].id, id) == 0)
            rc = 0;
        sodium_memzero(&b[i], sizeof b[i]); /* consumed, whatever the outcome */
        break;
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

void auth_ghost_get(struct auth_mem *m, const unsigned char idhash[32], struct lockout *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->nghosts; i++)
        if (m->ghosts[i].written && memcmp(m->ghosts[i].idhash, idhash, 32) == 0) {
            *out = m->ghosts[i].l;
            break;
        }
    pthread_mutex_unlock(&m->lock);
}

void auth_ghost_put(struct auth_mem *m, const unsigned char idhash[32], const struct lockout *l)
{
    pthread_mutex_lock(&m->lock);
    struct ghost *slot = NULL, *oldest = &m->ghosts[0];
    for (size_t i = 0; i < m->nghosts && !slot; i++) {
        struct ghost *g = &m->ghosts[i];
        if (g->written && memcmp(g->idhash, idhash, 32) == 0)
            slot = g;
        else if (g->written < oldest->written)
            oldest = g;
    }
    if (!slot) {
        slot = oldest;
        memcpy(slot->idhash, idhash, 32);
    }
    slot->l = *l;
    slot->written = ++m->writes;
    pthread_mutex_unlock(&m->lock);
}

/* ---------------------------------------------------------------- sessions */

void session_token_hash(unsigned char h[32], const unsigned char token[AUTH_TOKEN_BYTES])
{
    crypto_generichash(h, 32, token, AUTH_TOKEN_BYTES, NULL, 0);
}

static void key_session(skey *k, const unsigned char h[32])
{
    skey_reset(k);
    skey_bytes(k, h, 32);
}

static void key_index(vault *v, skey *k, const char *principal, const unsigned char *h)
{
    skey_reset(k);
    skey_id(k, v->st, principal, strlen(principal));
    if (h)
        skey_bytes(k, h, 32);
}

/* Most expired sessions one login prunes; the rest go at the next login. */
#define PRUNE_MAX 32

kerr session_put(vault *v, store_txn *t, const unsigned char h[32], const struct session *s, int64_t now)
{
    size_t idlen = kluis_id_len(s->principal);
    if (!idlen || s->role == KROLE_NONE)
        return store_txn_fail(t, KERR_BAD_REQUEST);

    /* Prune this principal's expired sessions first (collect, then delete: no writes under a cursor). */
    unsigned char dead[PRUNE_MAX][32];
    size_t ndead = 0;
    skey prefix, k;
    store_iter it;
    key_index(v, &prefix, s->principal, NULL);
    for (store_iter_begin(&it, t, v->tab[VT_SESSIONS_BY_PRINCIPAL], &prefix, NULL);
         ndead < PRUNE_MAX && store_iter_next(&it);) {
        size_t klen = 0, vlen = 0;
        const unsigned char *key = store_iter_key(&it, &klen);
        unsigned char *val = NULL;
        if (klen != STORE_IDBYTES + 32 || store_iter_get(&it, &val, &vlen) != KERR_OK)
            break;
        if (vlen == 8 && (int64_t)store_be64(val) <= now)
            memcpy(dead[ndead++], key + STORE_IDBYTES, 32);
        store_val_free(val, vlen);
    }
    store_iter_end(&it);
    for (size_t i = 0; i < ndead; i++)
        (void)session_del(v, t, dead[i]);

    unsigned char rec[8 + 1 + 64], exp[8];
    store_be64_put(rec, (uint64_t)s->expires);
    rec[8] = (unsigned char)s->role;
    memcpy(rec + 9, s->principal, idlen);
    key_session(&k, h);
    store_put(t, v->tab[VT_SESSIONS], &k, rec, 9 + idlen);
    store_be64_put(exp, (uint64_t)s->expires);
    key_index(v, &k, s->principal, h);
    store_put(t, v->tab[VT_SESSIONS_BY_PRINCIPAL], &k, exp, sizeof exp);
    return t->err;
}

kerr session_get(vault *v, store_txn *t, const unsigned char h[32], struct session *out)
{
    unsigned char rec[8 + 1 + 64];
    size_t len = 0;
    skey k;
    key_session(&k, h);
    kerr e = store_get_buf(t, v->tab[VT_SESSIONS], &k, rec, sizeof rec, &len);
    if (e != KERR_OK)
        return e;
    if (len < 10 || len > 9 + KLUIS_ID_MAX)
        return store_txn_fail(t, KERR_INTERNAL);
    memset(out, 0, sizeof *out);
    out->expires = (int64_t)store_be64(rec);
    out->role = (enum krole)rec[8];
    memcpy(out->principal, rec + 9, len - 9);
    out->principal[len - 9] = '\0';
    if (!kluis_id_len(out->principal) || out->role == KROLE_NONE || strcmp(krole_name(out->role), "none") == 0)
        return store_txn_fail(t, KERR_INTERNAL);
    return KERR_OK;
}

kerr session_del(vault *v, store_txn *t, const unsigned char h[32])
{
    struct session s;
    kerr e = session_get(v, t, h, &s);
    if (e != KERR_OK)
        return e;
    skey k;
    key_session(&k, h);
    store_del(t, v->tab[VT_SESSIONS], &k);
    key_index(v, &k, s.principal, h);
    e = store_del(t, v->tab[VT_SESSIONS_BY_PRINCIPAL], &k);
    return e == KERR_NOT_FOUND ? t->err : e;
}

kerr session_del_all(vault *v, store_txn *t, const char *principal, size_t *n)
{
    size_t count = 0;
    skey prefix, k;
    key_index(v, &prefix, principal, NULL);
    /* Delete in rounds of collected keys, so no delete happens under the open cursor. */
    for (;;) {
        unsigned char batch[64][32];
        size_t nb = 0;
        store_iter it;
        for (store_iter_begin(&it, t, v->tab[VT_SESSIONS_BY_PRINCIPAL], &prefix, NULL);
             nb < 64 && store_iter_next(&it);) {
            size_t klen = 0;
            const unsigned char *key = store_iter_key(&it, &klen);
            if (klen != STORE_IDBYTES + 32) {
                store_txn_fail(t, KERR_INTERNAL);
                break;
            }
            memcpy(batch[nb++], key + STORE_IDBYTES, 32);
        }
        store_iter_end(&it);
        if (nb == 0 || t->err != KERR_OK)
            break;
        for (size_t i = 0; i < nb; i++) {
            key_session(&k, batch[i]);
            store_del(t, v->tab[VT_SESSIONS], &k);
            key_index(v, &k, principal, batch[i]);
            store_del(t, v->tab[VT_SESSIONS_BY_PRINCIPAL], &k);
            count++;
        }
    }
    if (n)
        *n = count;
    return t->err;
}
