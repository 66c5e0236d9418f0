/*
 * vault/override.c — override records, wraps, held notices and the expiry sweep (see override.h).
 *
 * This file owns the layout of VT_OVERRIDES and the one piece of override logic that runs without
 * a request: closing expired overrides. Everything is small: a vault holds few overrides, so lists
 * walk the whole 'O' prefix.
 */
#include "vault/override.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "vault/tlog.h"
#include "vault/vault.h"

enum { TAG_REC = 'O', TAG_CITIZEN = 'C', TAG_WRAP = 'W', TAG_NOTICE = 'N' };

static store_table tab(struct vault *v)
{
    return v->tab[VT_OVERRIDES];
}

static void key_rec(skey *k, const store *st, const char *id)
{
    skey_reset(k);
    skey_u8(k, TAG_REC);
    skey_id(k, st, id, strlen(id));
}

static void key_citizen(skey *k, const store *st, const char *citizen, const char *id)
{
    skey_reset(k);
    skey_u8(k, TAG_CITIZEN);
    skey_id(k, st, citizen, strlen(citizen));
    if (id)
        skey_id(k, st, id, strlen(id));
}

static void key_wrap(skey *k, const store *st, const char *id, const char *section, int with_epoch, uint64_t epoch)
{
    skey_reset(k);
    skey_u8(k, TAG_WRAP);
    skey_id(k, st, id, strlen(id));
    if (section) {
        skey_id(k, st, section, strlen(section));
        if (with_epoch)
            skey_u64(k, epoch);
    }
}

const char *override_state_name(enum override_state s)
{
    switch (s) {
    case OVR_PENDING: return "pending";
    case OVR_ACTIVE: return "active";
    case OVR_CLOSED: return "closed";
    }
    return "unknown";
}

enum override_state override_state_at(const json_t *rec, int64_t now, int *expired_unswept)
{
    const char *s = json_string_value(json_object_get(rec, "state"));
    if (expired_unswept)
        *expired_unswept = 0;
    if (s && !strcmp(s, "pending"))
        return OVR_PENDING;
    if (s && !strcmp(s, "active")) {
        if (now < json_integer_value(json_object_get(rec, "expires")))
            return OVR_ACTIVE;
        if (expired_unswept)
            *expired_unswept = 1;
    }
    return OVR_CLOSED;
}

static json_t *parse_rec(const unsigned char *val, size_t len)
{
    json_t *o = json_loadb((const char *)val, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(o) || !json_is_string(json_object_get(o, "id")) ||
        !json_is_string(json_object_get(o, "citizen")) || !json_is_string(json_object_get(o, "state")) ||
        !json_is_array(json_object_get(o, "sections"))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

kerr override_get(struct vault *v, store_txn *t, const char *id, json_t **out)
{
    skey k;
    unsigned char *val = NULL;
    size_t len = 0;
    *out = NULL;
    key_rec(&k, t->st, id);
    kerr e = store_get(t, tab(v), &k, &val, &len);
    if (e != KERR_OK)
        return e;
    *out = parse_rec(val, len);
    store_val_free(val, len);
    if (!*out)
        return store_txn_fail(t, KERR_INTERNAL);
    return KERR_OK;
}

kerr override_put(struct vault *v, store_txn *t, const json_t *rec)
{
    const char *id = json_string_value(json_object_get(rec, "id"));
    const char *citizen = json_string_value(json_object_get(rec, "citizen"));
    if (!id || !citizen)
        return store_txn_fail(t, KERR_BAD_REQUEST);
    char *text = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text)
        return store_txn_fail(t, KERR_INTERNAL);
    skey k;
    key_rec(&k, t->st, id);
    store_put(t, tab(v), &k, text, strlen(text));
    free(text);
    key_citizen(&k, t->st, citizen, id);
    return store_put(t, tab(v), &k, id, strlen(id));
}

static int rec_cmp(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    json_int_t cx = json_integer_value(json_object_get(x, "created")),
               cy = json_integer_value(json_object_get(y, "created"));
    if (cx != cy)
        return cx < cy ? -1 : 1;
    return strcmp(json_string_value(json_object_get(x, "id")), json_string_value(json_object_get(y, "id")));
}

kerr override_list(struct vault *v, store_txn *t, const char *citizen, json_t **out)
{
    json_t *arr = json_array();
    skey p;
    store_iter it;
    kerr e = KERR_OK;
    *out = NULL;
    if (!arr)
        return store_txn_fail(t, KERR_INTERNAL);
    if (citizen)
        key_citizen(&p, t->st, citizen, NULL);
    else {
        skey_reset(&p);
        skey_u8(&p, TAG_REC);
    }
    /* Collect ids (citizen index) or records (all) first: no nested reads under the cursor. */
    json_t *ids = json_array();
    for (store_iter_begin(&it, t, tab(v), &p, NULL); store_iter_next(&it);) {
        unsigned char *val = NULL;
        size_t len = 0;
        if (store_iter_get(&it, &val, &len) != KERR_OK)
            break;
        json_t *item = citizen ? json_stringn((const char *)val, len) : parse_rec(val, len);
        store_val_free(val, len);
        if (!item) {
            store_txn_fail(t, KERR_INTERNAL);
            break;
        }
        json_array_append_new(citizen ? ids : arr, item);
    }
    store_iter_end(&it);
    e = t->err;
    for (size_t i = 0; e == KERR_OK && citizen && i < json_array_size(ids); i++) {
        json_t *rec = NULL;
        e = override_get(v, t, json_string_value(json_array_get(ids, i)), &rec);
        if (e == KERR_OK)
            json_array_append_new(arr, rec);
        else if (e == KERR_NOT_FOUND)
            e = store_txn_fail(t, KERR_INTERNAL);
    }
    json_decref(ids);
    if (e != KERR_OK) {
        json_decref(arr);
        return e;
    }
    size_t n = json_array_size(arr);
    if (n > 1) {
        json_t **tmp = malloc(n * sizeof *tmp);
        if (!tmp) {
            json_decref(arr);
            return store_txn_fail(t, KERR_INTERNAL);
        }
        for (size_t i = 0; i < n; i++)
            tmp[i] = json_incref(json_array_get(arr, i));
        qsort(tmp, n, sizeof *tmp, rec_cmp);
        json_array_clear(arr);
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, tmp[i]);
        free(tmp);
    }
    *out = arr;
    return KERR_OK;
}

int override_covers(const json_t *rec, const char *section)
{
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(rec, "sections"), i, s) {
        const char *x = json_string_value(s);
        if (x && (!strcmp(x, "*") || !strcmp(x, section)))
            return 1;
    }
    return 0;
}

/* The strings of one policy_override: section pointers and a buffer for the ids they point at. */
struct pov_store {
    const char *sec[64];
    char buf[65 * 65];
};

kerr override_policy_for(struct vault *v, store_txn *t, const char *citizen, const char *beneficiary,
                         int64_t now, struct policy_override **out, size_t *n, int *expired_unswept)
{
    json_t *all = NULL;
    *out = NULL;
    *n = 0;
    if (expired_unswept)
        *expired_unswept = 0;
    kerr e = override_list(v, t, citizen, &all);
    if (e != KERR_OK)
        return e;
    size_t cnt = 0, i;
    json_t *rec;
    json_array_foreach(all, i, rec) {
        int unswept = 0;
        (void)override_state_at(rec, now, &unswept);
        if (unswept && expired_unswept)
            *expired_unswept = 1;
        if (!strcmp(json_string_value(json_object_get(rec, "beneficiary")), beneficiary))
            cnt++;
    }
    if (!cnt) {
        json_decref(all);
        return KERR_OK;
    }
    /* One allocation: the policy structs (contiguous, as policy wants them), then their strings. */
    struct policy_override *arr = calloc(1, cnt * (sizeof *arr + sizeof(struct pov_store)));
    if (!arr) {
        json_decref(all);
        return store_txn_fail(t, KERR_INTERNAL);
    }
    struct pov_store *ps = (struct pov_store *)(void *)(arr + cnt);
    size_t k = 0;
    json_array_foreach(all, i, rec) {
        if (strcmp(json_string_value(json_object_get(rec, "beneficiary")), beneficiary) != 0)
            continue;
        json_t *secs = json_object_get(rec, "sections");
        size_t ns = json_array_size(secs);
        if (ns > 64)
            ns = 64;
        char *w = ps[k].buf;
        const char *id = json_string_value(json_object_get(rec, "id"));
        size_t l = strlen(id) + 1;
        memcpy(w, id, l < 65 ? l : 64);
        arr[k].id = w;
        w += 65;
        for (size_t s = 0; s < ns; s++) {
            const char *x = json_string_value(json_array_get(secs, s));
            l = strlen(x) + 1;
            memcpy(w, x, l < 65 ? l : 64);
            ps[k].sec[s] = w;
            w += 65;
        }
        arr[k].sections = ps[k].sec;
        arr[k].n_sections = ns;
        arr[k].active = override_state_at(rec, now, NULL) == OVR_ACTIVE;
        arr[k].activated = json_integer_value(json_object_get(rec, "activated"));
        arr[k].expires = json_integer_value(json_object_get(rec, "expires"));
        k++;
    }
    json_decref(all);
    *out = arr;
    *n = k;
    return KERR_OK;
}

void override_policy_free(struct policy_override *o, size_t n)
{
    (void)n;
    free(o);
}

kerr override_bwrap_put(struct vault *v, store_txn *t, const char *id, const char *section, uint64_t epoch,
                       const unsigned char wrap[KLUIS_WRAP_BYTES])
{
    skey k;
    key_wrap(&k, t->st, id, section, 1, epoch);
    return store_put(t, tab(v), &k, wrap, KLUIS_WRAP_BYTES);
}

kerr override_bwrap_get(struct vault *v, store_txn *t, const char *id, const char *section, uint64_t epoch,
                       unsigned char wrap[KLUIS_WRAP_BYTES])
{
    skey k;
    size_t len = 0;
    key_wrap(&k, t->st, id, section, 1, epoch);
    kerr e = store_get_buf(t, tab(v), &k, wrap, KLUIS_WRAP_BYTES, &len);
    if (e == KERR_OK && len != KLUIS_WRAP_BYTES)
        return store_txn_fail(t, KERR_INTERNAL);
    return e;
}

/* Delete every key under the wrap prefix P, in rounds of 256 (no deletes under an open cursor). */
static kerr delete_wraps(struct vault *v, store_txn *t, const skey *p, size_t *n)
{
    skey keys[256];
    size_t cnt = 0, total = 0;
    store_iter it;
    for (;;) {
        cnt = 0;
        for (store_iter_begin(&it, t, tab(v), p, NULL); cnt < 256 && store_iter_next(&it);) {
            size_t klen = 0;
            const unsigned char *kb = store_iter_key(&it, &klen);
            skey_reset(&keys[cnt]);
            skey_bytes(&keys[cnt], kb, klen);
            cnt++;
        }
        store_iter_end(&it);
        for (size_t i = 0; i < cnt; i++)
            store_del(t, tab(v), &keys[i]);
        total += cnt;
        if (cnt < 256 || t->err != KERR_OK)
            break;
    }
    if (n)
        *n = total;
    return t->err;
}

kerr override_wraps_delete(struct vault *v, store_txn *t, const char *id, size_t *n)
{
    skey p;
    key_wrap(&p, t->st, id, NULL, 0, 0);
    return delete_wraps(v, t, &p, n);
}

kerr override_bwrap_delete_section(struct vault *v, store_txn *t, const char *citizen, const char *section,
                                   size_t *n)
{
    json_t *all = NULL;
    size_t total = 0, i;
    json_t *rec;
    if (n)
        *n = 0;
    if (override_list(v, t, citizen, &all) != KERR_OK)
        return t->err;
    json_array_foreach(all, i, rec) {
        skey p;
        size_t cnt = 0;
        key_wrap(&p, t->st, json_string_value(json_object_get(rec, "id")), section, 0, 0);
        if (delete_wraps(v, t, &p, &cnt) != KERR_OK)
            break;
        total += cnt;
    }
    json_decref(all);
    if (n && t->err == KERR_OK)
        *n = total;
    return t->err;
}

static json_t *event_json(const journal_event *ev)
{
    json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "time", (json_int_t)ev->time, "actor",
                          ev->actor ? ev->actor : "", "actor_role", ev->actor_role ? ev->actor_role : "",
                          "organisation", ev->organisation ? ev->organisation : "", "action",
                          ev->action ? ev->action : "", "basis", ev->basis ? ev->basis : "", "result",
                          ev->result ? ev->result : "", "remote", ev->remote ? ev->remote : "");
    if (o && ev->section)
        json_object_set_new(o, "section", json_string(ev->section));
    return o;
}

kerr override_notice(struct vault *v, store_txn *t, const char *citizen, const journal_event *ev, int64_t due)
{
    if (due <= ev->time)
        return journal_append(v->journal, t, citizen, ev, NULL, NULL);
    json_t *o = json_pack("{s:s, s:o}", "citizen", citizen, "event", event_json(ev));
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!text)
        return store_txn_fail(t, KERR_INTERNAL);
    skey k;
    unsigned char rnd[16];
    randombytes_buf(rnd, sizeof rnd);
    skey_reset(&k);
    skey_u8(&k, TAG_NOTICE);
    skey_u64(&k, (uint64_t)due);
    skey_bytes(&k, rnd, sizeof rnd);
    store_put(t, tab(v), &k, text, strlen(text));
    free(text);
    return t->err;
}

kerr override_notices_release(struct vault *v, store_txn *t, int64_t now, size_t *n)
{
    skey p, keys[64];
    json_t *vals[64];
    size_t cnt = 0, total = 0;
    store_iter it;
    skey_reset(&p);
    skey_u8(&p, TAG_NOTICE);
    for (;;) {
        cnt = 0;
        for (store_iter_begin(&it, t, tab(v), &p, NULL); cnt < 64 && store_iter_next(&it);) {
            size_t klen = 0;
            const unsigned char *kb = store_iter_key(&it, &klen);
            if (klen < 9 || (int64_t)store_be64(kb + 1) > now)
                break;
            unsigned char *val = NULL;
            size_t len = 0;
            if (store_iter_get(&it, &val, &len) != KERR_OK)
                break;
            vals[cnt] = json_loadb((const char *)val, len, 0, NULL);
            store_val_free(val, len);
            skey_reset(&keys[cnt]);
            skey_bytes(&keys[cnt], kb, klen);
            cnt++;
        }
        store_iter_end(&it);
        for (size_t i = 0; i < cnt; i++) {
            json_t *o = vals[i], *e = json_object_get(o, "event");
            const char *citizen = json_string_value(json_object_get(o, "citizen"));
            if (!citizen || !json_is_object(e)) {
                store_txn_fail(t, KERR_INTERNAL);
            } else {
                journal_event ev = {
                    .time = json_integer_value(json_object_get(e, "time")),
                    .actor = json_string_value(json_object_get(e, "actor")),
                    .actor_role = json_string_value(json_object_get(e, "actor_role")),
                    .organisation = json_string_value(json_object_get(e, "organisation")),
                    .action = json_string_value(json_object_get(e, "action")),
                    .section = json_string_value(json_object_get(e, "section")),
                    .basis = json_string_value(json_object_get(e, "basis")),
                    .result = json_string_value(json_object_get(e, "result")),
                    .remote = json_string_value(json_object_get(e, "remote")),
                };
                journal_append(v->journal, t, citizen, &ev, NULL, NULL);
                store_del(t, tab(v), &keys[i]);
            }
            json_decref(o);
        }
        total += cnt;
        if (cnt < 64 || t->err != KERR_OK)
            break;
    }
    if (n)
        *n = total;
    return t->err;
}

static int64_t notice_due(struct vault *v, int64_t now)
{
    const struct charter *ch = vault_charter_get(v);
    int64_t h = ch->override.citizen_notice_hours;
    vault_charter_put(v, ch);
    return now + h * 3600;
}

kerr override_close_txn(struct vault *v, store_txn *t, json_t *rec, int64_t now, const char *reason,
                        const char *closed_by, const char *statement, const char *signature,
                        const journal_event *actor_ev)
{
    const char *id = json_string_value(json_object_get(rec, "id"));
    const char *citizen = json_string_value(json_object_get(rec, "citizen"));
    json_object_set_new(rec, "state", json_string("closed"));
    json_object_set_new(rec, "closed", json_integer((json_int_t)now));
    json_object_set_new(rec, "close_reason", json_string(reason));
    if (closed_by)
        json_object_set_new(rec, "closed_by", json_string(closed_by));
    if (statement && signature) {
        json_object_set_new(rec, "close_statement", json_string(statement));
        json_object_set_new(rec, "close_signature", json_string(signature));
    }
    if (!json_object_get(rec, "notice_at")) /* never activated: the citizen learns of it at close */
        json_object_set_new(rec, "notice_at", json_integer((json_int_t)notice_due(v, now)));
    if (override_put(v, t, rec) != KERR_OK || override_wraps_delete(v, t, id, NULL) != KERR_OK)
        return t->err;
    json_t *leaf = statement && signature
                       ? json_pack("{s:s, s:s, s:s, s:s}", "override", id, "reason", reason, "statement", statement,
                                   "signature", signature)
                       : json_pack("{s:s, s:s}", "override", id, "reason", reason);
    if (!leaf)
        return store_txn_fail(t, KERR_INTERNAL);
    tlog_append(v->log, t, now, "override.closed", leaf, NULL);
    json_decref(leaf);
    if (t->err != KERR_OK)
        return t->err;

    /* The citizen's client rotates every section whose keys left the vault: one event per
     * released section (section set), or one event without section when nothing was released. */
    char basis[80], result[96];
    snprintf(basis, sizeof basis, "override:%s", id);
    snprintf(result, sizeof result, "allowed");
    journal_event ev = {
        .time = now, .actor = "kluisd", .actor_role = "system", .organisation = "", .action = "override-closed",
        .basis = basis, .result = result, .remote = "",
    };
    if (actor_ev) {
        ev.actor = actor_ev->actor;
        ev.actor_role = actor_ev->actor_role;
        ev.organisation = actor_ev->organisation;
        ev.remote = actor_ev->remote;
    }
    int64_t due = notice_due(v, now);
    json_t *rel = json_object_get(rec, "released");
    json_t *seen = json_object();
    size_t i, sent = 0;
    json_t *item;
    json_array_foreach(rel, i, item) {
        const char *s = json_string_value(json_object_get(item, "section"));
        if (!s || json_object_get(seen, s))
            continue;
        json_object_set_new(seen, s, json_true());
        ev.section = s;
        override_notice(v, t, citizen, &ev, due);
        sent++;
    }
    json_decref(seen);
    if (!sent) {
        ev.section = NULL;
        override_notice(v, t, citizen, &ev, due);
    }
    return t->err;
}

kerr override_sweep_txn(struct vault *v, store_txn *t, int64_t now, size_t *n_closed)
{
    json_t *all = NULL;
    size_t closed = 0;
    if (n_closed)
        *n_closed = 0;
    if (override_list(v, t, NULL, &all) != KERR_OK)
        return t->err;
    size_t i;
    json_t *rec;
    json_array_foreach(all, i, rec) {
        int unswept = 0;
        (void)override_state_at(rec, now, &unswept);
        if (!unswept)
            continue;
        /* The leaf's time is the sweep's; the record keeps when it expired. */
        if (override_close_txn(v, t, rec, now, "expired", NULL, NULL, NULL, NULL) != KERR_OK)
            break;
        closed++;
    }
    json_decref(all);
    if (t->err == KERR_OK)
        override_notices_release(v, t, now, NULL);
    if (n_closed)
        *n_closed = closed;
    return t->err;
}

struct sweep_op {
    struct vault *v;
    int64_t now;
    size_t closed;
};

static kerr sweep_apply(store_txn *t, void *arg)
{
    struct sweep_op *op = arg;
    return override_sweep_txn(op->v, t, op->now, &op->closed);
}

kerr override_sweep(struct vault *v, int64_t now, size_t *n_closed)
{
    struct sweep_op op = {.v = v, .now = now};
    kerr e = gc_submit(v->gc, sweep_apply, &op);
    if (n_closed)
        *n_closed = e == KERR_OK ? op.closed : 0;
    return e;
}

static void sweep_done(kerr result, void *arg)
{
    (void)result;
    free(arg);
}

void override_sweep_async(struct vault *v)
{
    struct sweep_op *op = calloc(1, sizeof *op);
    if (!op)
        return;
    op->v = v;
    op->now = (int64_t)time(NULL);
    if (gc_submit_async(v->gc, sweep_apply, sweep_done, op) != KERR_OK)
        free(op);
}
