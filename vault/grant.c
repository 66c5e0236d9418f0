/*
 * vault/grant.c — grants, grant wraps and access requests in the store (see vault/grant.h).
 *
 * This file owns the record formats of four tables. A record is compact JSON, sealed by the store;
 * it is parsed back with the same strict jspec tables it is written from, so a record this file did
 * not write (or a damaged one) is KERR_INTERNAL rather than half-read. The statement and signature
 * are kept as the b64 strings received: the citizen's client and any auditor re-verify them over
 * exactly those bytes. Listing by grantee goes through an index whose keys are hashes, so its values
 * name the citizen and grant they point at.
 */
#include "vault/grant.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vault/dossier.h"
#include "vault/jspec.h"
#include "vault/vault.h"

/* ---------------------------------------------------------------- helpers */

static void key_citizen(skey *k, const store *st, const char *citizen)
{
    skey_reset(k);
    skey_id(k, st, citizen, strlen(citizen));
}

static void key_grant(skey *k, const store *st, const char *citizen, const char *grant)
{
    key_citizen(k, st, citizen);
    skey_id(k, st, grant, strlen(grant));
}

static void key_index(skey *k, const store *st, const char *grantee, const char *citizen, const char *grant)
{
    skey_reset(k);
    skey_id(k, st, grantee, strlen(grantee));
    skey_id(k, st, citizen, strlen(citizen));
    skey_id(k, st, grant, strlen(grant));
}

/* An ended grant: newest first under GRANTEE || CITIZEN, so a refusal reads only the newest. */
static void key_ended(skey *k, const store *st, const char *grantee, const char *citizen, int64_t created,
                      const char *grant)
{
    skey_reset(k);
    skey_id(k, st, grantee, strlen(grantee));
    skey_id(k, st, citizen, strlen(citizen));
    skey_u64(k, UINT64_MAX - (uint64_t)(created < 0 ? 0 : created));
    skey_id(k, st, grant, strlen(grant));
}

/*
 * A copy of every view in force beside its citizen's entries, in VT_ENTRIES (vault/dossier.h):
 *   DOSSIER_TAG_ENTRY || id-hash(citizen) || id-hash(0x00 || id-hash(grantee)) || id-hash(grant)
 * A read's access decision reads it (grant_views_for), and the entry page the read answers with
 * sits under DOSSIER_TAG_ENTRY || id-hash(citizen) as well: the two share one descent of one
 * B-tree, where the by-grantee index cost a second descent of a second tree, each level a cache
 * miss in a large vault (docs/performance.md, eighth pass). The hashed 0x00 || id-hash(grantee)
 * keeps these keys apart from an entry's id-hash(section): a section name never holds a NUL. The
 * by-grantee index keeps every view too, for listings by grantee, the commit-time re-check and
 * the expiry move: put_index() and end_view() write and delete both in the same transaction, so
 * the two never differ (and grant_views_rebuild() makes them so after an older kluisd).
 */
void grant_view_copy_key(skey *k, const store *st, const char *grantee, const char *citizen, const char *grant)
{
    unsigned char sep[1 + STORE_IDBYTES];
    sep[0] = 0;
    store_id_hash(st, sep + 1, grantee, strlen(grantee));
    skey_reset(k);
    skey_u8(k, DOSSIER_TAG_ENTRY);
    skey_id(k, st, citizen, strlen(citizen));
    skey_id(k, st, sep, sizeof sep);
    if (grant)
        skey_id(k, st, grant, strlen(grant));
}

static void key_wrap(skey *k, const store *st, const char *citizen, const char *grant, const char *section,
                     uint64_t epoch)
{
    key_grant(k, st, citizen, grant);
    skey_id(k, st, section, strlen(section));
    skey_u64(k, epoch);
}

/*
 * The by-grantee index (table "grants_in_force"). Its keys are hashes, so a value names the grant
 * it points at, and carries the grant's policy view, so the access decision of every dossier read
 * (and the commit-time re-check of the grant a read relied on) opens one small value per grant
 * instead of the whole record with its statement and signature — a JSON parse of some 1.5 KiB each:
 *   u8 'G' || u8 flags (1 write, 2 revoked) || be64 not_before || be64 expires || be64 created ||
 *   u8 len || citizen || u8 len || grant || u8 n || n x (u8 len || section)
 * The same bytes are the copy beside the entries and the ended grants' values. grant_put writes
 * it, grant_revoke moves it. Older kluisds also wrote JSON {"c","g"} values into their table
 * "grants_by_grantee"; vault_open writes every view again from the records when that table is
 * there (grant_views_rebuild), so only this format is read.
 */
#define IDX_TAG ((unsigned char)'G')
#define IDX_WRITE 1u
#define IDX_REVOKED 2u
#define IDX_FIXED (2 + 3 * 8)
#define IDX_MAX (IDX_FIXED + 2 * 64 + 1 + GRANT_MAX_SECTIONS * 64)

static unsigned char *idx_str(unsigned char *p, const char *s)
{
    size_t n = strlen(s); /* an identifier: at most 63 bytes */
    *p++ = (unsigned char)n;
    memcpy(p, s, n);
    return p + n;
}

/*
 * A grant's view VAL (LEN bytes, under key IK of the index of grants in force) leaves that index
 * for the table of ended ones, read only to name a refusal or to list: so the index every access
 * decision reads stays as small as the grants in force. A revoked grant goes at its revocation
 * (put_index), an expired one once a decision has met it (grant_end_expired).
 */
static kerr end_view(store_txn *t, const store_table *tab, const skey *ik, const char *grantee, const char *citizen,
                     int64_t created, const char *grant, const void *val, size_t len)
{
    skey ek, nk;
    kerr e = store_del(t, tab[VT_GRANTS_BY_GRANTEE], ik);
    if (e != KERR_OK && e != KERR_NOT_FOUND)
        return e;
    grant_view_copy_key(&nk, t->st, grantee, citizen, grant);
    e = store_del(t, tab[VT_ENTRIES], &nk);
    if (e != KERR_OK && e != KERR_NOT_FOUND)
        return e;
    key_ended(&ek, t->st, grantee, citizen, created, grant);
    return store_put(t, tab[VT_GRANTS_ENDED], &ek, val, len);
}

/* Write G's view: in the grants in force and beside the entries when IN_FORCE, else (revoked, or
 * expired when the views are rebuilt) in the ended grants. */
static kerr put_index(store_txn *t, const store_table *tab, const struct grant_rec *g, int in_force)
{
    unsigned char buf[IDX_MAX], *p = buf;
    skey ik;
    *p++ = IDX_TAG;
    *p++ = (unsigned char)((g->write ? IDX_WRITE : 0) | (g->revoked ? IDX_REVOKED : 0));
    store_be64_put(p, (uint64_t)g->not_before);
    store_be64_put(p + 8, (uint64_t)g->expires);
    store_be64_put(p + 16, (uint64_t)g->created);
    p += 24;
    p = idx_str(p, g->citizen);
    p = idx_str(p, g->id);
    *p++ = (unsigned char)g->n_sections;
    for (size_t i = 0; i < g->n_sections; i++)
        p = idx_str(p, g->sections[i]);
    key_index(&ik, t->st, g->grantee, g->citizen, g->id);
    if (in_force) {
        skey nk;
        grant_view_copy_key(&nk, t->st, g->grantee, g->citizen, g->id);
        store_put(t, tab[VT_ENTRIES], &nk, buf, (size_t)(p - buf));
        return store_put(t, tab[VT_GRANTS_BY_GRANTEE], &ik, buf, (size_t)(p - buf));
    }
    return end_view(t, tab, &ik, g->grantee, g->citizen, g->created, g->id, buf, (size_t)(p - buf));
}

/* One decoded index value: strings point into the value (not NUL-terminated: lengths kept). */
struct idx_val {
    const unsigned char *c, *g;
    size_t c_len, g_len;
    unsigned flags;
    int64_t not_before, expires, created;
    size_t n;
    const unsigned char *sec[GRANT_MAX_SECTIONS];
    size_t sec_len[GRANT_MAX_SECTIONS];
};

static int idx_take(const unsigned char **p, const unsigned char *end, const unsigned char **s, size_t *len)
{
    if (*p >= end || (size_t)(end - *p - 1) < **p || **p == 0 || **p > 63)
        return -1;
    *len = **p;
    *s = *p + 1;
    *p += 1 + *len;
    return 0;
}

/* Decode a 'G' value; -1 when it is malformed. */
static int idx_decode(const unsigned char *v, size_t len, struct idx_val *out)
{
    const unsigned char *p = v + IDX_FIXED, *end = v + len;
    memset(out, 0, sizeof *out);
    if (len < IDX_FIXED || v[0] != IDX_TAG)
        return -1;
    out->flags = v[1];
    out->not_before = (int64_t)store_be64(v + 2);
    out->expires = (int64_t)store_be64(v + 10);
    out->created = (int64_t)store_be64(v + 18);
    if (idx_take(&p, end, &out->c, &out->c_len) || idx_take(&p, end, &out->g, &out->g_len) || p >= end)
        return -1;
    out->n = *p++;
    if (out->n == 0 || out->n > GRANT_MAX_SECTIONS)
        return -1;
    for (size_t i = 0; i < out->n; i++)
        if (idx_take(&p, end, &out->sec[i], &out->sec_len[i]))
            return -1;
    return p == end ? 0 : -1;
}

/* Seal OBJ's compact text under K of TAB; takes OBJ's reference. */
static kerr put_json(store_txn *t, store_table tab, const skey *k, json_t *obj)
{
    char *text = obj ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(obj);
    if (!text)
        return store_txn_fail(t, KERR_INTERNAL);
    store_put(t, tab, k, text, strlen(text));
    sodium_memzero(text, strlen(text));
    free(text);
    return t->err;
}

static json_t *ids_json(const char *const *ids, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        if (!ids[i] || !jspec_is_id(ids[i]) || json_array_append_new(a, json_string(ids[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* Build the const char * view of the identifier array A (at most GRANT_MAX_SECTIONS). */
static const char **ids_view(json_t *a, size_t *n)
{
    size_t m = json_array_size(a);
    const char **v = m ? calloc(m, sizeof *v) : NULL;
    if (!v)
        return NULL;
    for (size_t i = 0; i < m; i++)
        v[i] = json_string_value(json_array_get(a, i));
    *n = m;
    return v;
}

static int set_opt_str(json_t *o, const char *name, const char *v)
{
    return v ? json_object_set_new(o, name, json_string(v)) : 0;
}

static int set_int(json_t *o, const char *name, int64_t v)
{
    return json_object_set_new(o, name, json_integer((json_int_t)v));
}

static int valid_ids(const char *const *ids, size_t n)
{
    if (!ids || n == 0 || n > GRANT_MAX_SECTIONS)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!ids[i] || !jspec_is_id(ids[i]))
            return 0;
    return 1;
}

/* Open the value under K of TAB and parse it. KERR_NOT_FOUND leaves T healthy. */
static kerr get_json(store_txn *t, store_table tab, const skey *k, json_t **out)
{
    unsigned char *val = NULL;
    size_t len = 0;
    struct jerr err;
    *out = NULL;
    kerr e = store_get(t, tab, k, &val, &len);
    if (e != KERR_OK)
        return e;
    *out = jspec_parse((const char *)val, len, &err);
    store_val_free(val, len);
    return *out ? KERR_OK : store_txn_fail(t, KERR_INTERNAL);
}

/* ---------------------------------------------------------------- grant records */

static json_t *grant_json(const struct grant_rec *g)
{
    json_t *o = json_object(), *secs = ids_json(g->sections, g->n_sections);
    if (!o || !secs) {
        json_decref(o);
        json_decref(secs);
        return NULL;
    }
    int bad = 0;
    bad |= json_object_set_new(o, "id", json_string(g->id));
    bad |= json_object_set_new(o, "citizen", json_string(g->citizen));
    bad |= json_object_set_new(o, "grantee", json_string(g->grantee));
    bad |= json_object_set_new(o, "purpose", json_string(g->purpose));
    bad |= json_object_set_new(o, "sections", secs);
    bad |= json_object_set_new(o, "access", json_string(g->write ? "write" : "read"));
    bad |= set_int(o, "not_before", g->not_before);
    bad |= set_int(o, "expires", g->expires);
    bad |= set_opt_str(o, "request", g->request);
    bad |= set_opt_str(o, "note", g->note);
    bad |= set_int(o, "created", g->created);
    bad |= json_object_set_new(o, "statement", json_string(g->statement));
    bad |= json_object_set_new(o, "signature", json_string(g->signature));
    if (g->revoked) {
        bad |= set_int(o, "revoked", g->revoked_at);
        bad |= json_object_set_new(o, "revoke_statement", json_string(g->revoke_statement));
        bad |= json_object_set_new(o, "revoke_signature", json_string(g->revoke_signature));
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Fill OUT from the parsed record O (taking its reference). */
static kerr grant_from_json(store_txn *t, json_t *o, struct grant_rec *out)
{
    struct grant_rec g = {0};
    const char *access = NULL;
    json_t *secs = NULL;
    int has_rev = 0;
    struct jerr err;
    const struct jspec spec[] = {
        {.name = "id", .type = JS_ID, .out = &g.id},
        {.name = "citizen", .type = JS_ID, .out = &g.citizen},
        {.name = "grantee", .type = JS_ID, .out = &g.grantee},
        {.name = "purpose", .type = JS_ID, .out = &g.purpose},
        {.name = "sections", .type = JS_ID_ARRAY, .out = &secs, .max = GRANT_MAX_SECTIONS},
        {.name = "access", .type = JS_STRING, .out = &access, .len = 5},
        {.name = "not_before", .type = JS_INT, .out = &g.not_before},
        {.name = "expires", .type = JS_INT, .out = &g.expires},
        {.name = "request", .type = JS_ID, .out = &g.request, .optional = 1},
        {.name = "note", .type = JS_STRING, .out = &g.note, .optional = 1, .len = GRANT_MAX_B64},
        {.name = "created", .type = JS_INT, .out = &g.created},
        {.name = "statement", .type = JS_STRING, .out = &g.statement, .len = GRANT_MAX_B64},
        {.name = "signature", .type = JS_STRING, .out = &g.signature, .len = GRANT_MAX_B64},
        {.name = "revoked", .type = JS_INT, .out = &g.revoked_at, .optional = 1, .present = &has_rev},
        {.name = "revoke_statement", .type = JS_STRING, .out = &g.revoke_statement, .optional = 1,
         .len = GRANT_MAX_B64},
        {.name = "revoke_signature", .type = JS_STRING, .out = &g.revoke_signature, .optional = 1,
         .len = GRANT_MAX_B64},
    };
    if (jspec_extract(o, spec, sizeof spec / sizeof spec[0], &err) != 0 ||
        (strcmp(access, "read") != 0 && strcmp(access, "write") != 0) ||
        (has_rev && (!g.revoke_statement || !g.revoke_signature)) ||
        !(g.secbuf_ = ids_view(secs, &g.n_sections))) {
        json_decref(o);
        return store_txn_fail(t, KERR_INTERNAL);
    }
    g.sections = g.secbuf_;
    g.write = strcmp(access, "write") == 0;
    g.revoked = has_rev;
    g.obj_ = o;
    *out = g;
    return KERR_OK;
}

void grant_rec_free(struct grant_rec *g)
{
    if (!g)
        return;
    free(g->secbuf_);
    json_decref(g->obj_);
    memset(g, 0, sizeof *g);
}

void grant_recs_free(struct grant_rec *g, size_t n)
{
    if (!g)
        return;
    for (size_t i = 0; i < n; i++)
        grant_rec_free(&g[i]);
    free(g);
}

static int grant_order(const void *a, const void *b)
{
    const struct grant_rec *x = a, *y = b;
    if (x->created != y->created)
        return x->created < y->created ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* A growing array of records. */
struct glist {
    struct grant_rec *v;
    size_t n, cap;
};

static int glist_push(struct glist *l, const struct grant_rec *g)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        struct grant_rec *nv = realloc(l->v, cap * sizeof *nv);
        if (!nv)
            return -1;
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = *g;
    return 0;
}

static kerr glist_finish(store_txn *t, struct glist *l, struct grant_rec **out, size_t *n)
{
    if (t->err != KERR_OK) {
        grant_recs_free(l->v, l->n);
        return t->err;
    }
    if (l->n > 1)
        qsort(l->v, l->n, sizeof *l->v, grant_order);
    *out = l->v;
    *n = l->n;
    return KERR_OK;
}

kerr grant_put(store_txn *t, const store_table *tab, const struct grant_rec *g)
{
    skey k;
    if (t->err != KERR_OK)
        return t->err;
    if (!g || !g->id || !g->citizen || !g->grantee || !g->purpose || !g->statement || !g->signature ||
        !jspec_is_id(g->id) || !jspec_is_id(g->citizen) || !jspec_is_id(g->grantee) || !jspec_is_id(g->purpose) ||
        (g->request && !jspec_is_id(g->request)) || !valid_ids(g->sections, g->n_sections) || strlen(g->statement) > GRANT_MAX_B64 ||
        strlen(g->signature) > GRANT_MAX_B64)
        return store_txn_fail(t, KERR_BAD_REQUEST);
    key_grant(&k, t->st, g->citizen, g->id);
    unsigned char *old = NULL;
    size_t oldlen = 0;
    kerr e = store_get(t, tab[VT_GRANTS], &k, &old, &oldlen);
    store_val_free(old, oldlen);
    if (e == KERR_OK)
        return KERR_CONFLICT;
    if (e != KERR_NOT_FOUND)
        return e;
    struct grant_rec fresh = *g;
    fresh.revoked = 0;
    json_t *o = grant_json(&fresh);
    if (!o)
        return store_txn_fail(t, KERR_BAD_REQUEST);
    if (put_json(t, tab[VT_GRANTS], &k, o) != KERR_OK)
        return t->err;
    return put_index(t, tab, &fresh, !fresh.revoked);
}

kerr grant_get(store_txn *t, const store_table *tab, const char *citizen, const char *grant,
               struct grant_rec *out)
{
    skey k;
    json_t *o;
    memset(out, 0, sizeof *out);
    key_grant(&k, t->st, citizen, grant);
    kerr e = get_json(t, tab[VT_GRANTS], &k, &o);
    if (e != KERR_OK)
        return e;
    return grant_from_json(t, o, out);
}

/* Collect every key of TAB under PREFIX (so the caller may delete them afterwards). */
struct keylist {
    skey *v;
    size_t n, cap;
};

static kerr collect_keys(store_txn *t, store_table tab, const skey *prefix, struct keylist *l,
                         const unsigned char *match, size_t match_off, size_t match_len)
{
    store_iter it;
    for (store_iter_begin(&it, t, tab, prefix, NULL); store_iter_next(&it);) {
        size_t klen = 0;
        const unsigned char *kb = store_iter_key(&it, &klen);
        if (klen > SKEY_MAX) {
            store_txn_fail(t, KERR_INTERNAL);
            break;
        }
        if (match && (klen < match_off + match_len || memcmp(kb + match_off, match, match_len) != 0))
            continue;
        if (l->n == l->cap) {
            size_t cap = l->cap ? l->cap * 2 : 16;
            skey *nv = realloc(l->v, cap * sizeof *nv);
            if (!nv) {
                store_txn_fail(t, KERR_INTERNAL);
                break;
            }
            l->v = nv;
            l->cap = cap;
        }
        skey_reset(&l->v[l->n]);
        skey_bytes(&l->v[l->n], kb, klen);
        l->n++;
    }
    store_iter_end(&it);
    return t->err;
}

static kerr delete_keys(store_txn *t, store_table tab, struct keylist *l, size_t *deleted)
{
    size_t d = 0;
    for (size_t i = 0; i < l->n && t->err == KERR_OK; i++)
        if (store_del(t, tab, &l->v[i]) == KERR_OK)
            d++;
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
    if (deleted)
        *deleted = d;
    return t->err;
}

kerr grant_revoke(store_txn *t, const store_table *tab, const char *citizen, const char *grant, int64_t at,
                  const char *revoke_statement, const char *revoke_signature)
{
    struct grant_rec g;
    skey k;
    if (!revoke_statement || !revoke_signature)
        return store_txn_fail(t, KERR_BAD_REQUEST);
    kerr e = grant_get(t, tab, citizen, grant, &g);
    if (e != KERR_OK)
        return e;
    if (g.revoked) {
        grant_rec_free(&g);
        return KERR_CONFLICT;
    }
    g.revoked = 1;
    g.revoked_at = at;
    g.revoke_statement = revoke_statement;
    g.revoke_signature = revoke_signature;
    json_t *o = grant_json(&g);
    if (!o) {
        grant_rec_free(&g);
        return store_txn_fail(t, KERR_BAD_REQUEST);
    }
    key_grant(&k, t->st, citizen, grant);
    /* the index carries the grant's state too: revoked in the same transaction */
    if (put_json(t, tab[VT_GRANTS], &k, o) != KERR_OK || put_index(t, tab, &g, !g.revoked) != KERR_OK) {
        grant_rec_free(&g);
        return t->err;
    }
    grant_rec_free(&g);
    /* The grantee's wraps go with the grant: the vault no longer holds keys for it. */
    struct keylist l = {0};
    if (collect_keys(t, tab[VT_GRANT_WRAPS], &k, &l, NULL, 0, 0) != KERR_OK) {
        free(l.v);
        return t->err;
    }
    return delete_keys(t, tab[VT_GRANT_WRAPS], &l, NULL);
}

kerr grant_list_citizen(store_txn *t, const store_table *tab, const char *citizen, struct grant_rec **out,
                        size_t *n)
{
    struct glist l = {0};
    store_iter it;
    skey p;
    *out = NULL;
    *n = 0;
    key_citizen(&p, t->st, citizen);
    for (store_iter_begin(&it, t, tab[VT_GRANTS], &p, NULL); store_iter_next(&it);) {
        unsigned char *val = NULL;
        size_t len = 0;
        struct jerr err;
        struct grant_rec g;
        if (store_iter_get(&it, &val, &len) != KERR_OK)
            break;
        json_t *o = jspec_parse((const char *)val, len, &err);
        store_val_free(val, len);
        if (!o) {
            store_txn_fail(t, KERR_INTERNAL);
            break;
        }
        if (grant_from_json(t, o, &g) != KERR_OK)
            break;
        if (glist_push(&l, &g) != 0) {
            grant_rec_free(&g);
            store_txn_fail(t, KERR_INTERNAL);
            break;
        }
    }
    store_iter_end(&it);
    return glist_finish(t, &l, out, n);
}

/* Walk the by-grantee index under PREFIX and load each grant it names. */
static kerr list_by_index(store_txn *t, const store_table *tab, const skey *prefix, const char *grantee,
                          struct grant_rec **out, size_t *n)
{
    struct glist l = {0};
    store_iter it;
    json_t *refs = json_array();
    *out = NULL;
    *n = 0;
    if (!refs)
        return store_txn_fail(t, KERR_INTERNAL);
    /* First collect the references, then read the grants, so no cursor is open during the gets.
     * Grants in force, then the revoked ones. */
    static const enum vault_table both[] = {VT_GRANTS_BY_GRANTEE, VT_GRANTS_ENDED};
    for (size_t w = 0; w < 2 && t->err == KERR_OK; w++) {
        for (store_iter_begin(&it, t, tab[both[w]], prefix, NULL); store_iter_next(&it);) {
            unsigned char *val = NULL;
            size_t len = 0;
            struct jerr err;
            struct idx_val iv;
            if (store_iter_get(&it, &val, &len) != KERR_OK)
                break;
            json_t *o = NULL;
            if (len && val[0] == IDX_TAG)
                o = idx_decode(val, len, &iv) == 0 ? json_pack("{s:s%, s:s%}", "c", (const char *)iv.c, iv.c_len, "g",
                                                               (const char *)iv.g, iv.g_len)
                                                   : NULL;
            else
                o = jspec_parse((const char *)val, len, &err);
            store_val_free(val, len);
            if (!o || json_array_append_new(refs, o) != 0) {
                store_txn_fail(t, KERR_INTERNAL);
                break;
            }
        }
        store_iter_end(&it);
    }
    size_t i;
    json_t *ref;
    json_array_foreach(refs, i, ref) {
        if (t->err != KERR_OK)
            break;
        const char *c = NULL, *gid = NULL;
        struct jerr err;
        const struct jspec spec[] = {
            {.name = "c", .type = JS_ID, .out = &c},
            {.name = "g", .type = JS_ID, .out = &gid},
        };
        struct grant_rec g;
        if (jspec_extract(ref, spec, 2, &err) != 0) {
            store_txn_fail(t, KERR_INTERNAL);
            break;
        }
        kerr e = grant_get(t, tab, c, gid, &g);
        if (e == KERR_NOT_FOUND || (e == KERR_OK && strcmp(g.grantee, grantee) != 0)) {
            /* An index entry without its grant, or pointing elsewhere: the store is damaged. */
            grant_rec_free(&g);
            store_txn_fail(t, KERR_INTERNAL);
            break;
        }
        if (e != KERR_OK)
            break;
        if (glist_push(&l, &g) != 0) {
            grant_rec_free(&g);
            store_txn_fail(t, KERR_INTERNAL);
            break;
        }
    }
    json_decref(refs);
    return glist_finish(t, &l, out, n);
}

kerr grant_list_grantee(store_txn *t, const store_table *tab, const char *grantee, struct grant_rec **out,
                        size_t *n)
{
    skey p;
    skey_reset(&p);
    skey_id(&p, t->st, grantee, strlen(grantee));
    return list_by_index(t, tab, &p, grantee, out, n);
}

kerr grant_list_for(store_txn *t, const store_table *tab, const char *grantee, const char *citizen,
                    struct grant_rec **out, size_t *n)
{
    skey p;
    skey_reset(&p);
    skey_id(&p, t->st, grantee, strlen(grantee));
    skey_id(&p, t->st, citizen, strlen(citizen));
    kerr e = list_by_index(t, tab, &p, grantee, out, n);
    for (size_t i = 0; e == KERR_OK && i < *n; i++) {
        if (strcmp((*out)[i].citizen, citizen) != 0) {
            grant_recs_free(*out, *n);
            *out = NULL;
            *n = 0;
            e = store_txn_fail(t, KERR_INTERNAL);
        }
    }
    return e;
}

/* ---------------------------------------------------------------- policy views (the hot path) */

/* One view in one allocation: the policy_grant's strings and section array follow the header. */
struct view_block {
    struct policy_grant pg;
    const char *sec[];
};

/* Copy N bytes of S as a NUL-terminated string at *AT; returns it. */
static const char *view_str(char **at, const void *s, size_t n)
{
    char *r = *at;
    memcpy(r, s, n);
    r[n] = '\0';
    *at += n + 1;
    return r;
}

static struct view_block *view_from_idx(const struct idx_val *iv)
{
    size_t strs = iv->g_len + 1;
    for (size_t i = 0; i < iv->n; i++)
        strs += iv->sec_len[i] + 1;
    struct view_block *b = malloc(sizeof *b + iv->n * sizeof b->sec[0] + strs);
    if (!b)
        return NULL;
    char *at = (char *)(b->sec + iv->n);
    b->pg.id = view_str(&at, iv->g, iv->g_len);
    for (size_t i = 0; i < iv->n; i++)
        b->sec[i] = view_str(&at, iv->sec[i], iv->sec_len[i]);
    b->pg.sections = b->sec;
    b->pg.n_sections = iv->n;
    b->pg.write = (iv->flags & IDX_WRITE) != 0;
    b->pg.not_before = iv->not_before;
    b->pg.expires = iv->expires;
    b->pg.revoked = (iv->flags & IDX_REVOKED) != 0;
    b->pg.created = iv->created;
    return b;
}

/* The view in index value VAL of a grant of CITIZEN (format 'G'); NULL with T failed when the
 * value is not that (damaged: vault_open wrote every view in this format, grant_views_rebuild). */
static struct view_block *view_of(store_txn *t, const char *citizen, const unsigned char *val, size_t len)
{
    struct idx_val iv;
    struct view_block *b = NULL;
    if (idx_decode(val, len, &iv) != 0 || iv.c_len != strlen(citizen) || memcmp(iv.c, citizen, iv.c_len) != 0) {
        store_txn_fail(t, KERR_INTERNAL);
        return NULL;
    }
    if (!(b = view_from_idx(&iv)))
        store_txn_fail(t, KERR_INTERNAL);
    return b;
}

static int view_order(const void *a, const void *b)
{
    const struct policy_grant *x = a, *y = b;
    if (x->created != y->created)
        return x->created < y->created ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* Turn the N blocks of B into OUT (policy_grant copies in created, id order); takes B. */
static kerr views_finish(store_txn *t, struct view_block **b, size_t n, struct grant_views *out)
{
    if (t->err == KERR_OK && n && !(out->v = malloc(n * sizeof *out->v)))
        store_txn_fail(t, KERR_INTERNAL);
    /* Test the pointers too, not only the error store_txn_fail() keeps: no path indexes a NULL. */
    if (t->err != KERR_OK || (n && (!b || !out->v))) {
        for (size_t i = 0; b && i < n; i++)
            free(b[i]);
        free(b);
        free(out->v);
        out->v = NULL;
        return t->err != KERR_OK ? t->err : store_txn_fail(t, KERR_INTERNAL);
    }
    for (size_t i = 0; i < n; i++)
        out->v[i] = b[i]->pg; /* the strings stay in the blocks, kept in mem_ */
    if (n > 1)
        qsort(out->v, n, sizeof *out->v, view_order);
    out->n = n;
    out->mem_ = (void **)b;
    out->nmem_ = n;
    return KERR_OK;
}

/*
 * Append to B (N of CAP) what a refusal needs of GRANTEE's ended grants for CITIZEN, reading them
 * newest first: the newest that cover SECTION (all of the same `created`, since policy breaks such
 * ties itself), and stop there; if none covers SECTION, one ended grant all the same (policy then
 * knows the caller had grants: section_not_granted, not no_grant). Only format-'G' values are
 * written here (put_index), so a view needs no other read while the cursor is open.
 */
static void ended_views(store_txn *t, const store_table *tab, const skey *p, const char *citizen,
                        const char *section, struct view_block ***b, size_t *n, size_t *cap)
{
    store_iter it;
    struct view_block *witness = NULL;
    int64_t newest = 0;
    int found = 0;
    for (store_iter_begin(&it, t, tab[VT_GRANTS_ENDED], p, NULL); store_iter_next(&it);) {
        unsigned char *val = NULL;
        size_t len = 0;
        struct idx_val iv;
        if (store_iter_get(&it, &val, &len) != KERR_OK)
            break;
        struct view_block *v = NULL;
        if (!len || val[0] != IDX_TAG || idx_decode(val, len, &iv) != 0 || iv.c_len != strlen(citizen) ||
            memcmp(iv.c, citizen, iv.c_len) != 0 || !(v = view_from_idx(&iv))) {
            store_val_free(val, len);
            store_txn_fail(t, KERR_INTERNAL);
            break;
        }
        store_val_free(val, len);
        int covers = 0;
        for (size_t i = 0; i < v->pg.n_sections && !covers; i++)
            covers = strcmp(v->pg.sections[i], section) == 0;
        if (covers && found && v->pg.created != newest) {
            free(v); /* older than the newest covering one: policy would not look at it */
            break;
        }
        if (!covers) {
            if (witness || found)
                free(v);
            else
                witness = v;
            continue;
        }
        if (*n == *cap || !*b) {
            size_t nc = *n ? *n * 2 : 4;
            struct view_block **nb = realloc(*b, nc * sizeof *nb);
            if (!nb) {
                free(v);
                store_txn_fail(t, KERR_INTERNAL);
                break;
            }
            *b = nb;
            *cap = nc;
        }
        (*b)[(*n)++] = v;
        found = 1;
        newest = v->pg.created;
    }
    store_iter_end(&it);
    if (witness && !found && t->err == KERR_OK) {
        struct view_block **nb = *n == *cap ? realloc(*b, (*cap + 1) * sizeof *nb) : *b;
        if (!nb) {
            free(witness);
            store_txn_fail(t, KERR_INTERNAL);
            return;
        }
        if (*n == *cap)
            (*cap)++;
        *b = nb;
        (*b)[(*n)++] = witness;
        witness = NULL;
    }
    free(witness);
}

kerr grant_views_for(store_txn *t, const store_table *tab, const char *grantee, const char *citizen,
                     const char *ended_section, struct grant_views *out)
{
    struct view_block **b = NULL;
    size_t m = 0, bcap = 0;
    store_iter it;
    skey near;
    memset(out, 0, sizeof *out);
    grant_view_copy_key(&near, t->st, grantee, citizen, NULL);
    for (store_iter_begin(&it, t, tab[VT_ENTRIES], &near, NULL); store_iter_next(&it);) {
        unsigned char *val = NULL;
        size_t len = 0;
        if (store_iter_get(&it, &val, &len) != KERR_OK)
            break;
        struct view_block *v = view_of(t, citizen, val, len);
        store_val_free(val, len);
        if (!v)
            break; /* T failed */
        if (m == bcap) {
            size_t nc = bcap ? bcap * 2 : 4;
            struct view_block **nb = realloc(b, nc * sizeof *nb);
            if (!nb) {
                free(v);
                store_txn_fail(t, KERR_INTERNAL);
                break;
            }
            b = nb;
            bcap = nc;
        }
        b[m++] = v;
    }
    store_iter_end(&it);
    if (ended_section && t->err == KERR_OK) {
        skey p; /* the ended grants' prefix */
        skey_reset(&p);
        skey_id(&p, t->st, grantee, strlen(grantee));
        skey_id(&p, t->st, citizen, strlen(citizen));
        ended_views(t, tab, &p, citizen, ended_section, &b, &m, &bcap);
    }
    return views_finish(t, b, m, out);
}

kerr grant_view_get(store_txn *t, const store_table *tab, const char *grantee, const char *citizen,
                    const char *grant, struct grant_views *out)
{
    skey k;
    unsigned char *val = NULL;
    size_t len = 0;
    memset(out, 0, sizeof *out);
    key_index(&k, t->st, grantee, citizen, grant);
    kerr e = store_get(t, tab[VT_GRANTS_BY_GRANTEE], &k, &val, &len);
    if (e != KERR_OK)
        return e; /* KERR_NOT_FOUND also for a revoked grant: it left this index */
    struct view_block **b = calloc(1, sizeof *b);
    if (!b) {
        store_val_free(val, len);
        return store_txn_fail(t, KERR_INTERNAL);
    }
    b[0] = view_of(t, citizen, val, len);
    store_val_free(val, len);
    if (b[0] && strcmp(b[0]->pg.id, grant) != 0) {
        free(b[0]);
        b[0] = NULL;
        store_txn_fail(t, KERR_INTERNAL);
    }
    return views_finish(t, b, b[0] ? 1 : 0, out);
}

kerr grant_end_expired(store_txn *t, const store_table *tab, const char *grantee, const char *citizen,
                       const char *grant, int64_t now)
{
    skey k;
    unsigned char *val = NULL;
    size_t len = 0;
    struct idx_val iv;
    if (t->err != KERR_OK)
        return t->err;
    key_index(&k, t->st, grantee, citizen, grant);
    kerr e = store_get(t, tab[VT_GRANTS_BY_GRANTEE], &k, &val, &len);
    if (e != KERR_OK)
        return e == KERR_NOT_FOUND ? KERR_OK : e;
    if (idx_decode(val, len, &iv) != 0 || iv.g_len != strlen(grant) || memcmp(iv.g, grant, iv.g_len) != 0 ||
        iv.c_len != strlen(citizen) || memcmp(iv.c, citizen, iv.c_len) != 0) {
        store_val_free(val, len);
        return store_txn_fail(t, KERR_INTERNAL);
    }
    if (!(iv.flags & IDX_REVOKED) && now >= iv.expires)
        end_view(t, tab, &k, grantee, citizen, iv.created, grant, val, len);
    store_val_free(val, len);
    return t->err;
}

kerr grant_views_rebuild(store *st, const store_table *tab, int64_t now, size_t batch, size_t *grants)
{
    skey from;
    int started = 0;
    *grants = 0;
    struct kv { unsigned char key[2 * STORE_IDBYTES]; unsigned char *val; size_t len; } *w = calloc(batch, sizeof *w);
    if (!w)
        return KERR_INTERNAL;
    for (;;) {
        store_txn t;
        store_iter it;
        size_t n = 0;
        store_txn_begin(st, &t, false);
        /* collect first, then write: no cursor open across the puts */
        for (store_iter_begin(&it, &t, tab[VT_GRANTS], NULL, started ? &from : NULL); n < batch && store_iter_next(&it);) {
            size_t klen = 0;
            const unsigned char *kb = store_iter_key(&it, &klen);
            if (klen != sizeof w[n].key || store_iter_get(&it, &w[n].val, &w[n].len) != KERR_OK) {
                store_txn_fail(&t, KERR_INTERNAL);
                break;
            }
            memcpy(w[n++].key, kb, klen);
        }
        store_iter_end(&it);
        for (size_t i = 0; i < n; i++) {
            struct jerr err;
            struct grant_rec g;
            json_t *o = t.err == KERR_OK ? jspec_parse((const char *)w[i].val, w[i].len, &err) : NULL;
            if (t.err == KERR_OK && !o)
                store_txn_fail(&t, KERR_INTERNAL);
            if (o && grant_from_json(&t, o, &g) == KERR_OK) {
                int in_force = !g.revoked && now < g.expires;
                if (in_force) { /* moved at expiry under a clock that ran ahead: one place only */
                    skey ek;
                    key_ended(&ek, st, g.grantee, g.citizen, g.created, g.id);
                    store_del(&t, tab[VT_GRANTS_ENDED], &ek); /* usually absent: KERR_NOT_FOUND */
                }
                put_index(&t, tab, &g, in_force);
                grant_rec_free(&g);
            }
            sodium_memzero(w[i].val, w[i].len); /* a record holds the grant's note */
            store_val_free(w[i].val, w[i].len);
        }
        if (n) {
            skey_reset(&from);
            skey_bytes(&from, w[n - 1].key, sizeof w[n - 1].key);
            skey_u8(&from, 0); /* the next key after the last one read */
            started = 1;
        }
        kerr e = store_txn_commit(&t); /* aborts when T failed */
        *grants += n;
        if (e != KERR_OK || n < batch) {
            free(w);
            return e;
        }
    }
}

void grant_views_free(struct grant_views *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->nmem_; i++)
        free(g->mem_[i]);
    free(g->mem_);
    free(g->v);
    memset(g, 0, sizeof *g);
}

kerr grant_list_live_covering(store_txn *t, const store_table *tab, const char *citizen, const char *section,
                              int64_t now, struct grant_rec **out, size_t *n)
{
    struct grant_rec *all = NULL;
    size_t m = 0, k = 0;
    kerr e = grant_list_citizen(t, tab, citizen, &all, &m);
    *out = NULL;
    *n = 0;
    if (e != KERR_OK)
        return e;
    for (size_t i = 0; i < m; i++) {
        if (!all[i].revoked && now < all[i].expires && grant_covers(&all[i], section))
            all[k++] = all[i];
        else
            grant_rec_free(&all[i]);
    }
    if (k == 0) {
        free(all);
        return KERR_OK;
    }
    *out = all;
    *n = k;
    return KERR_OK;
}

int grant_covers(const struct grant_rec *g, const char *section)
{
    for (size_t i = 0; i < g->n_sections; i++)
        if (strcmp(g->sections[i], section) == 0)
            return 1;
    return 0;
}

void grant_policy_view(const struct grant_rec *g, struct policy_grant *out)
{
    out->id = g->id;
    out->sections = g->sections;
    out->n_sections = g->n_sections;
    out->write = g->write;
    out->not_before = g->not_before;
    out->expires = g->expires;
    out->revoked = g->revoked;
    out->created = g->created;
}

enum grant_state grant_state_at(const struct grant_rec *g, int64_t now)
{
    struct policy_grant p;
    grant_policy_view(g, &p);
    return policy_grant_state(&p, now);
}

/* ---------------------------------------------------------------- wraps */

kerr grant_wrap_put(store_txn *t, const store_table *tab, const char *citizen, const char *grant,
                    const char *section, uint64_t epoch, const unsigned char wrap[KLUIS_WRAP_BYTES])
{
    skey k;
    if (epoch == 0)
        return store_txn_fail(t, KERR_BAD_REQUEST);
    key_wrap(&k, t->st, citizen, grant, section, epoch);
    return store_put(t, tab[VT_GRANT_WRAPS], &k, wrap, KLUIS_WRAP_BYTES);
}

kerr grant_wrap_get(store_txn *t, const store_table *tab, const char *citizen, const char *grant,
                    const char *section, uint64_t epoch, unsigned char wrap[KLUIS_WRAP_BYTES])
{
    skey k;
    size_t len = 0;
    key_wrap(&k, t->st, citizen, grant, section, epoch);
    kerr e = store_get_buf(t, tab[VT_GRANT_WRAPS], &k, wrap, KLUIS_WRAP_BYTES, &len);
    if (e == KERR_OK && len != KLUIS_WRAP_BYTES)
        return store_txn_fail(t, KERR_INTERNAL);
    return e;
}

kerr grant_wraps_delete_section(store_txn *t, const store_table *tab, const char *citizen, const char *section,
                                size_t *deleted)
{
    skey p;
    unsigned char sh[STORE_IDBYTES];
    struct keylist l = {0};
    if (deleted)
        *deleted = 0;
    key_citizen(&p, t->st, citizen);
    store_id_hash(t->st, sh, section, strlen(section));
    /* Keys are citizen || grant || section || epoch: match the section hash at its offset. */
    if (collect_keys(t, tab[VT_GRANT_WRAPS], &p, &l, sh, 2 * STORE_IDBYTES, STORE_IDBYTES) != KERR_OK) {
        free(l.v);
        return t->err;
    }
    return delete_keys(t, tab[VT_GRANT_WRAPS], &l, deleted);
}

/* ---------------------------------------------------------------- access requests */

static const char *const greq_names[] = {[GREQ_OPEN] = "open", [GREQ_DECLINED] = "declined",
                                          [GREQ_ANSWERED] = "answered"};

const char *grant_request_state_name(enum grant_request_state s)
{
    return (unsigned)s < sizeof greq_names / sizeof greq_names[0] ? greq_names[s] : "unknown";
}

static json_t *request_json(const struct grant_request *r)
{
    json_t *o = json_object(), *secs = ids_json(r->sections, r->n_sections);
    if (!o || !secs) {
        json_decref(o);
        json_decref(secs);
        return NULL;
    }
    int bad = 0;
    bad |= json_object_set_new(o, "id", json_string(r->id));
    bad |= json_object_set_new(o, "citizen", json_string(r->citizen));
    bad |= json_object_set_new(o, "requester", json_string(r->requester));
    bad |= json_object_set_new(o, "purpose", json_string(r->purpose));
    bad |= json_object_set_new(o, "sections", secs);
    bad |= json_object_set_new(o, "access", json_string(r->write ? "write" : "read"));
    bad |= set_int(o, "days", r->days);
    bad |= set_opt_str(o, "note", r->note);
    bad |= set_int(o, "created", r->created);
    bad |= json_object_set_new(o, "statement", json_string(r->statement));
    bad |= json_object_set_new(o, "signature", json_string(r->signature));
    bad |= json_object_set_new(o, "state", json_string(grant_request_state_name(r->state)));
    if (r->state != GREQ_OPEN)
        bad |= set_int(o, "closed", r->closed);
    bad |= set_opt_str(o, "answered_by", r->answered_by);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static kerr request_from_json(store_txn *t, json_t *o, struct grant_request *out)
{
    struct grant_request r = {0};
    const char *access = NULL, *state = NULL;
    json_t *secs = NULL;
    struct jerr err;
    const struct jspec spec[] = {
        {.name = "id", .type = JS_ID, .out = &r.id},
        {.name = "citizen", .type = JS_ID, .out = &r.citizen},
        {.name = "requester", .type = JS_ID, .out = &r.requester},
        {.name = "purpose", .type = JS_ID, .out = &r.purpose},
        {.name = "sections", .type = JS_ID_ARRAY, .out = &secs, .max = GRANT_MAX_SECTIONS},
        {.name = "access", .type = JS_STRING, .out = &access, .len = 5},
        {.name = "days", .type = JS_INT, .out = &r.days},
        {.name = "note", .type = JS_STRING, .out = &r.note, .optional = 1, .len = GRANT_MAX_B64},
        {.name = "created", .type = JS_INT, .out = &r.created},
        {.name = "statement", .type = JS_STRING, .out = &r.statement, .len = GRANT_MAX_B64},
        {.name = "signature", .type = JS_STRING, .out = &r.signature, .len = GRANT_MAX_B64},
        {.name = "state", .type = JS_STRING, .out = &state, .len = 16},
        {.name = "closed", .type = JS_INT, .out = &r.closed, .optional = 1},
        {.name = "answered_by", .type = JS_ID, .out = &r.answered_by, .optional = 1},
    };
    int ok = jspec_extract(o, spec, sizeof spec / sizeof spec[0], &err) == 0 &&
             (strcmp(access, "read") == 0 || strcmp(access, "write") == 0);
    if (ok) {
        if (strcmp(state, "open") == 0)
            r.state = GREQ_OPEN;
        else if (strcmp(state, "declined") == 0)
            r.state = GREQ_DECLINED;
        else if (strcmp(state, "answered") == 0)
            r.state = GREQ_ANSWERED;
        else
            ok = 0;
    }
    if (!ok || !(r.secbuf_ = ids_view(secs, &r.n_sections))) {
        json_decref(o);
        return store_txn_fail(t, KERR_INTERNAL);
    }
    r.sections = r.secbuf_;
    r.write = strcmp(access, "write") == 0;
    r.obj_ = o;
    *out = r;
    return KERR_OK;
}

void grant_request_free(struct grant_request *r)
{
    if (!r)
        return;
    free(r->secbuf_);
    json_decref(r->obj_);
    memset(r, 0, sizeof *r);
}

void grant_requests_free(struct grant_request *r, size_t n)
{
    if (!r)
        return;
    for (size_t i = 0; i < n; i++)
        grant_request_free(&r[i]);
    free(r);
}

kerr grant_request_put(store_txn *t, const store_table *tab, const struct grant_request *r)
{
    skey k;
    if (t->err != KERR_OK)
        return t->err;
    if (!r || !r->id || !r->citizen || !r->requester || !r->purpose || !r->statement || !r->signature ||
        !jspec_is_id(r->id) || !jspec_is_id(r->citizen) || !jspec_is_id(r->requester) ||
        !jspec_is_id(r->purpose) || r->days < 1 || !valid_ids(r->sections, r->n_sections) || strlen(r->statement) > GRANT_MAX_B64 ||
        strlen(r->signature) > GRANT_MAX_B64)
        return store_txn_fail(t, KERR_BAD_REQUEST);
    key_grant(&k, t->st, r->citizen, r->id);
    unsigned char *old = NULL;
    size_t oldlen = 0;
    kerr e = store_get(t, tab[VT_REQUESTS], &k, &old, &oldlen);
    store_val_free(old, oldlen);
    if (e == KERR_OK)
        return KERR_CONFLICT;
    if (e != KERR_NOT_FOUND)
        return e;
    struct grant_request fresh = *r;
    fresh.state = GREQ_OPEN;
    fresh.closed = 0;
    fresh.answered_by = NULL;
    json_t *o = request_json(&fresh);
    if (!o)
        return store_txn_fail(t, KERR_BAD_REQUEST);
    return put_json(t, tab[VT_REQUESTS], &k, o);
}

kerr grant_request_get(store_txn *t, const store_table *tab, const char *citizen, const char *id,
                       struct grant_request *out)
{
    skey k;
    json_t *o;
    memset(out, 0, sizeof *out);
    key_grant(&k, t->st, citizen, id);
    kerr e = get_json(t, tab[VT_REQUESTS], &k, &o);
    if (e != KERR_OK)
        return e;
    return request_from_json(t, o, out);
}

static int request_order(const void *a, const void *b)
{
    const struct grant_request *x = a, *y = b;
    if (x->created != y->created)
        return x->created < y->created ? -1 : 1;
    return strcmp(x->id, y->id);
}

static kerr request_list(store_txn *t, const store_table *tab, const char *citizen, int only_open,
                         struct grant_request **out, size_t *n)
{
    struct grant_request *v = NULL;
    size_t m = 0, cap = 0;
    store_iter it;
    skey p;
    *out = NULL;
    *n = 0;
    key_citizen(&p, t->st, citizen);
    for (store_iter_begin(&it, t, tab[VT_REQUESTS], &p, NULL); store_iter_next(&it);) {
        unsigned char *val = NULL;
        size_t len = 0;
        struct jerr err;
        struct grant_request r;
        if (store_iter_get(&it, &val, &len) != KERR_OK)
            break;
        json_t *o = jspec_parse((const char *)val, len, &err);
        store_val_free(val, len);
        if (!o) {
            store_txn_fail(t, KERR_INTERNAL);
            break;
        }
        if (request_from_json(t, o, &r) != KERR_OK)
            break;
        if (only_open && r.state != GREQ_OPEN) {
            grant_request_free(&r);
            continue;
        }
        if (m == cap) {
            size_t nc = cap ? cap * 2 : 8;
            struct grant_request *nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                grant_request_free(&r);
                store_txn_fail(t, KERR_INTERNAL);
                break;
            }
            v = nv;
            cap = nc;
        }
        v[m++] = r;
    }
    store_iter_end(&it);
    if (t->err != KERR_OK) {
        grant_requests_free(v, m);
        return t->err;
    }
    if (m > 1)
        qsort(v, m, sizeof *v, request_order);
    *out = v;
    *n = m;
    return KERR_OK;
}

kerr grant_request_list_open(store_txn *t, const store_table *tab, const char *citizen,
                             struct grant_request **out, size_t *n)
{
    return request_list(t, tab, citizen, 1, out, n);
}

kerr grant_request_list_all(store_txn *t, const store_table *tab, const char *citizen,
                            struct grant_request **out, size_t *n)
{
    return request_list(t, tab, citizen, 0, out, n);
}

kerr grant_request_close(store_txn *t, const store_table *tab, const char *citizen, const char *id,
                         const char *grant, int64_t at)
{
    struct grant_request r;
    skey k;
    if (grant && !jspec_is_id(grant))
        return store_txn_fail(t, KERR_BAD_REQUEST);
    kerr e = grant_request_get(t, tab, citizen, id, &r);
    if (e != KERR_OK)
        return e;
    if (r.state != GREQ_OPEN) {
        grant_request_free(&r);
        return KERR_CONFLICT;
    }
    r.state = grant ? GREQ_ANSWERED : GREQ_DECLINED;
    r.closed = at;
    r.answered_by = grant;
    json_t *o = request_json(&r);
    grant_request_free(&r);
    if (!o)
        return store_txn_fail(t, KERR_INTERNAL);
    key_grant(&k, t->st, citizen, id);
    return put_json(t, tab[VT_REQUESTS], &k, o);
}
