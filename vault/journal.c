/*
 * vault/journal.c — the citizen journal (SPEC §9).
 *
 * This file owns the journal's byte format and its hash chain. The chain function is pure and is
 * what the citizen's client recomputes; everything stored goes through the store's sealed values,
 * so actors, organisations and remote addresses of a citizen's journal are not readable from
 * data.mdb. Each event is stored once, exactly as served; the head record (count and head) is
 * rewritten on each append in the same transaction, so a batch that aborts leaves neither.
 */
#include "vault/journal.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#define TAG_JOURNAL ((uint8_t)'J') /* format 2: 'J' || id16(citizen) || be64(seq) | 0xFF */
#define TAG_V1      ((uint8_t)'E') /* format 1: 'E' || id_hash(citizen) || be64(seq) | 0xFF */
#define TAG_V0_HEAD ((uint8_t)'H') /* format 0's head: 'H' || id_hash(citizen) */
#define HEAD_MARK ((uint8_t)0xFF)
#define HEADREC_LEN (8 + JOURNAL_HEADBYTES)

static const char journal_ctx[] = "kluis/v1/journal\n";

void journal_chain(unsigned char next[JOURNAL_HEADBYTES], const unsigned char prev[JOURNAL_HEADBYTES],
                   const unsigned char *event, size_t len)
{
    crypto_generichash_state s;
    unsigned char p[JOURNAL_HEADBYTES];

    memcpy(p, prev, sizeof p); /* NEXT may alias PREV */
    crypto_generichash_init(&s, NULL, 0, JOURNAL_HEADBYTES);
    crypto_generichash_update(&s, (const unsigned char *)journal_ctx, sizeof journal_ctx - 1);
    crypto_generichash_update(&s, p, sizeof p);
    crypto_generichash_update(&s, event, len);
    crypto_generichash_final(&s, next, JOURNAL_HEADBYTES);
}

/* Add string field NAME = V ("" when V is NULL) to O; -1 for invalid UTF-8 or memory. */
static int set_str(json_t *o, const char *name, const char *v)
{
    json_t *s = json_string(v ? v : "");
    return s ? json_object_set_new(o, name, s) : -1;
}

/* Printable ASCII without '"' and '\\': JSON carries it as is, and it is valid UTF-8. */
static int plain(const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
            return 0;
    }
    return 1;
}

/*
 * The event JSON written directly when every string is plain (ids, roles, actions, codes and
 * addresses always are; names of organisations nearly always): byte for byte what the Jansson
 * path below gives, at a fraction of its cost — this runs on the group committer's thread for
 * every audited read. NULL when some string is not plain (or memory runs out): use Jansson.
 */
static char *event_json_plain(size_t *len, uint64_t seq, const journal_event *ev)
{
    const char *f[8] = {ev->actor, ev->actor_role, ev->organisation, ev->action, ev->section, ev->basis,
                        ev->result, ev->remote};
    size_t cap = 200;
    for (int i = 0; i < 8; i++) {
        if (!plain(f[i]))
            return NULL;
        cap += f[i] ? strlen(f[i]) : 0;
    }
    char *out = malloc(cap);
    if (!out)
        return NULL;
#define S(x) ((x) ? (x) : "")
    int n = snprintf(out, cap,
                     "{\"seq\":%llu,\"time\":%lld,\"actor\":\"%s\",\"actor_role\":\"%s\",\"organisation\":\"%s\","
                     "\"action\":\"%s\"%s%s%s,\"basis\":\"%s\",\"result\":\"%s\",\"remote\":\"%s\"}",
                     (unsigned long long)seq, (long long)ev->time, S(ev->actor), S(ev->actor_role),
                     S(ev->organisation), S(ev->action), ev->section ? ",\"section\":\"" : "",
                     ev->section ? ev->section : "", ev->section ? "\"" : "", S(ev->basis), S(ev->result),
                     S(ev->remote));
#undef S
    if (n < 0 || (size_t)n >= cap) {
        free(out);
        return NULL;
    }
    *len = (size_t)n;
    return out;
}

kerr journal_event_json(char **json, size_t *len, uint64_t seq, const journal_event *ev)
{
    json_t *o, *num;
    int bad = 0;

    *json = NULL;
    *len = 0;
    if (seq <= (uint64_t)INT64_MAX && (*json = event_json_plain(len, seq, ev)) != NULL)
        return KERR_OK;
    o = json_object();
    if (!o)
        return KERR_INTERNAL;
    if (seq > (uint64_t)INT64_MAX) {
        json_decref(o);
        return KERR_INTERNAL;
    }
    if (!(num = json_integer((json_int_t)seq)) || json_object_set_new(o, "seq", num) != 0 ||
        !(num = json_integer((json_int_t)ev->time)) || json_object_set_new(o, "time", num) != 0) {
        json_decref(o);
        return KERR_INTERNAL;
    }
    bad |= set_str(o, "actor", ev->actor);
    bad |= set_str(o, "actor_role", ev->actor_role);
    bad |= set_str(o, "organisation", ev->organisation);
    bad |= set_str(o, "action", ev->action);
    if (ev->section)
        bad |= set_str(o, "section", ev->section);
    bad |= set_str(o, "basis", ev->basis);
    bad |= set_str(o, "result", ev->result);
    bad |= set_str(o, "remote", ev->remote);
    if (bad) {
        json_decref(o);
        return KERR_BAD_ENCODING; /* json_string() refuses invalid UTF-8 */
    }
    *json = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!*json)
        return KERR_INTERNAL;
    *len = strlen(*json);
    return KERR_OK;
}

/*
 * Keys. Since format 2 every key of a citizen's journal starts with 'J' || id16(citizen): the
 * 16-byte truncated keyed id hash (skey_id16) keeps the B-tree's branch pages 45 % fuller than the
 * full 32-byte hash did, so a group commit rewrites fewer of them (docs/performance.md, "Fourth
 * pass"). Event n is at prefix || be64(n); the head after it at prefix || be64(n) || 0xFF, which
 * sorts between event n and event n+1: always the last key of the citizen. An append writes event
 * n+1 and head n+1 and deletes head n, three neighbouring keys, so it dirties one leaf page. (With a
 * fixed head key after the events, a leaf split could leave the head first on its page and the
 * events on the page before, and from then on every append of that citizen wrote both pages; here
 * the next append moves the head back beside the events.) Iterations over the events stop at the
 * head (its key is one byte longer).
 */
#define HEADKEY_EXTRA 9u /* be64(count) || 0xFF after the prefix */

static void citizen_prefix(skey *k, const store *st, const char *citizen)
{
    skey_reset(k);
    skey_u8(k, TAG_JOURNAL);
    skey_id16(k, st, citizen, strlen(citizen));
}

void journal_event_key(skey *k, const store *st, const char *citizen, uint64_t seq)
{
    citizen_prefix(k, st, citizen);
    skey_u64(k, seq);
}

/* Whether KEY (KLEN bytes, after a prefix of PLEN) is a head key. */
static int is_head_key(const unsigned char *key, size_t klen, size_t plen)
{
    return klen == plen + HEADKEY_EXTRA && key[klen - 1] == HEAD_MARK;
}

/* journal_head(); *HK gets the head's key (empty when there is no event yet). */
static kerr head_get(store_txn *t, store_table tab, const char *citizen, unsigned char head[JOURNAL_HEADBYTES],
                     uint64_t *count, skey *hk)
{
    unsigned char rec[HEADREC_LEN];
    size_t len;
    skey prefix;
    kerr e;

    memset(head, 0, JOURNAL_HEADBYTES);
    *count = 0;
    citizen_prefix(&prefix, t->st, citizen);
    e = store_get_last(t, tab, &prefix, hk, rec, sizeof rec, &len);
    if (e == KERR_NOT_FOUND) {
        skey_reset(hk);
        return KERR_OK;
    }
    if (e != KERR_OK)
        return e;
    /* the last key must be the head, and name the count its record holds */
    if (len != HEADREC_LEN || !is_head_key(hk->b, hk->len, prefix.len) ||
        store_be64(hk->b + prefix.len) != store_be64(rec))
        return store_txn_fail(t, KERR_INTERNAL);
    *count = store_be64(rec);
    memcpy(head, rec + 8, JOURNAL_HEADBYTES);
    return KERR_OK;
}

kerr journal_head(store_txn *t, store_table tab, const char *citizen,
                  unsigned char head[JOURNAL_HEADBYTES], uint64_t *count)
{
    skey hk;
    return head_get(t, tab, citizen, head, count, &hk);
}

kerr journal_append(store_txn *t, store_table tab, const char *citizen, const journal_event *ev,
                    uint64_t *seq_out, unsigned char head_out[JOURNAL_HEADBYTES])
{
    unsigned char head[JOURNAL_HEADBYTES], rec[HEADREC_LEN];
    uint64_t count;
    char *json = NULL;
    size_t len;
    skey k, old_head;
    kerr e;

    if (head_get(t, tab, citizen, head, &count, &old_head) != KERR_OK)
        return t->err;
    if (count == UINT64_MAX)
        return store_txn_fail(t, KERR_INTERNAL);
    if ((e = journal_event_json(&json, &len, count + 1, ev)) != KERR_OK)
        return store_txn_fail(t, e);
    journal_chain(head, head, (const unsigned char *)json, len);

    if (old_head.len)
        store_del(t, tab, &old_head);
    journal_event_key(&k, t->st, citizen, count + 1);
    store_put(t, tab, &k, json, len);
    sodium_memzero(json, len);
    free(json);

    skey_u8(&k, HEAD_MARK); /* the head after event count + 1 */
    store_be64_put(rec, count + 1);
    memcpy(rec + 8, head, JOURNAL_HEADBYTES);
    if (store_put(t, tab, &k, rec, sizeof rec) != KERR_OK)
        return t->err;
    if (seq_out)
        *seq_out = count + 1;
    if (head_out)
        memcpy(head_out, head, JOURNAL_HEADBYTES);
    return KERR_OK;
}

void journal_entries_free(journal_entry *e, size_t n)
{
    if (!e)
        return;
    for (size_t i = 0; i < n; i++)
        store_val_free(e[i].raw, e[i].raw_len);
    free(e);
}

kerr journal_list(store_txn *t, store_table tab, const char *citizen, uint64_t after, size_t limit,
                  journal_entry **out, size_t *n)
{
    skey prefix, from;
    store_iter it;
    journal_entry *v = NULL;
    size_t cnt = 0, cap = 0;

    *out = NULL;
    *n = 0;
    if (t->err != KERR_OK)
        return t->err;
    if (limit == 0)
        return KERR_OK;
    citizen_prefix(&prefix, t->st, citizen);
    from = prefix;
    skey_u64(&from, after == UINT64_MAX ? after : after + 1);
    for (store_iter_begin(&it, t, tab, &prefix, &from); cnt < limit && store_iter_next(&it);) {
        size_t klen;
        const unsigned char *key = store_iter_key(&it, &klen);
        if (is_head_key(key, klen, prefix.len))
            break; /* the head, after the last event */
        if (klen != prefix.len + 8) {
            store_txn_fail(t, KERR_INTERNAL);
            break;
        }
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : (limit < 64 ? limit : 64);
            journal_entry *nv = realloc(v, ncap * sizeof *nv);
            if (!nv) {
                store_txn_fail(t, KERR_INTERNAL);
                break;
            }
            v = nv;
            cap = ncap;
        }
        v[cnt].seq = store_be64(key + prefix.len);
        if (store_iter_get(&it, &v[cnt].raw, &v[cnt].raw_len) != KERR_OK)
            break;
        cnt++;
    }
    store_iter_end(&it);
    if (t->err != KERR_OK) {
        journal_entries_free(v, cnt);
        return t->err;
    }
    *out = v;
    *n = cnt;
    return KERR_OK;
}

/* Whether RAW is a JSON object whose "seq" is SEQ. */
static int seq_matches(const unsigned char *raw, size_t len, uint64_t seq)
{
    json_t *o = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *s = o ? json_object_get(o, "seq") : NULL;
    int ok = s && json_is_integer(s) && json_integer_value(s) >= 0 &&
             (uint64_t)json_integer_value(s) == seq;
    json_decref(o);
    return ok;
}

kerr journal_verify(store_txn *t, store_table tab, const char *citizen, uint64_t *bad_seq)
{
    unsigned char head[JOURNAL_HEADBYTES], stored[JOURNAL_HEADBYTES];
    uint64_t count, expect = 1;
    skey prefix;
    store_iter it;
    kerr e;

    if (bad_seq)
        *bad_seq = 0;
    if ((e = journal_head(t, tab, citizen, stored, &count)) != KERR_OK)
        return e;
    memset(head, 0, sizeof head);
    citizen_prefix(&prefix, t->st, citizen);
    for (store_iter_begin(&it, t, tab, &prefix, NULL); store_iter_next(&it); expect++) {
        size_t klen, len;
        const unsigned char *key = store_iter_key(&it, &klen);
        unsigned char *raw;
        int ok;

        if (is_head_key(key, klen, prefix.len))
            break; /* the head, after the last event */
        if (klen != prefix.len + 8 || store_be64(key + prefix.len) != expect || expect > count) {
            store_iter_end(&it);
            if (bad_seq)
                *bad_seq = expect;
            return KERR_CONFLICT;
        }
        if (store_iter_get(&it, &raw, &len) != KERR_OK)
            break;
        ok = seq_matches(raw, len, expect);
        journal_chain(head, head, raw, len);
        store_val_free(raw, len);
        if (!ok) {
            store_iter_end(&it);
            if (bad_seq)
                *bad_seq = expect;
            return KERR_CONFLICT;
        }
    }
    store_iter_end(&it);
    if (t->err != KERR_OK)
        return t->err;
    if (expect != count + 1 || sodium_memcmp(head, stored, sizeof head) != 0) {
        if (bad_seq)
            *bad_seq = count + 1;
        return KERR_CONFLICT;
    }
    return KERR_OK;
}

/* ---------------------------------------------------------------- format migration */

/* One record of an older layout, read for a move. */
struct old_rec {
    unsigned char key[SKEY_MAX];
    size_t klen;
    unsigned char *val;
    size_t len;
};

/* The current key of old record R in K; -1 when R has no known older shape. A head record's key
 * takes its count from the record itself. */
static int new_key_of(skey *k, const struct old_rec *r)
{
    const size_t id = STORE_IDBYTES;
    skey_reset(k);
    skey_u8(k, TAG_JOURNAL);
    skey_bytes(k, r->key + 1, STORE_IDSHORT); /* skey_id16 is the full hash's first bytes */
    if (r->key[0] == TAG_V1 && r->klen == 1 + id + 8)
        skey_bytes(k, r->key + 1 + id, 8);
    else if (((r->key[0] == TAG_V1 && r->klen == 1 + id + 1 && r->key[1 + id] == HEAD_MARK) ||
              (r->key[0] == TAG_V0_HEAD && r->klen == 1 + id)) &&
             r->len == HEADREC_LEN) {
        skey_bytes(k, r->val, 8); /* be64(count) */
        skey_u8(k, HEAD_MARK);
    } else
        return -1;
    return 0;
}

/* Whether the citizen of current-layout key NK (prefix 'J' || id16) already has a head. */
static bool has_head(store_txn *t, store_table tab, const skey *nk)
{
    skey prefix, last;
    size_t len;
    skey_reset(&prefix);
    skey_bytes(&prefix, nk->b, 1 + STORE_IDSHORT);
    return store_get_last(t, tab, &prefix, &last, NULL, 0, &len) == KERR_OK &&
           is_head_key(last.b, last.len, prefix.len);
}

/* The first key bytes of the older layouts, in key order ('E' records move before 'H' ones). */
static const uint8_t old_tags[] = {TAG_V1, TAG_V0_HEAD};

/* Read up to MAX records of the older layouts into R. */
static size_t collect_old(store_txn *t, store_table tab, struct old_rec *r, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < sizeof old_tags && n < max && t->err == KERR_OK; i++) {
        skey prefix;
        store_iter it;
        skey_reset(&prefix);
        skey_u8(&prefix, old_tags[i]);
        for (store_iter_begin(&it, t, tab, &prefix, NULL); n < max && store_iter_next(&it);) {
            const unsigned char *key = store_iter_key(&it, &r[n].klen);
            memcpy(r[n].key, key, r[n].klen);
            if (store_iter_get(&it, &r[n].val, &r[n].len) != KERR_OK)
                break;
            n++;
        }
        store_iter_end(&it);
    }
    return n;
}

/* Whether TAB holds any record of an older layout: a read transaction, two seeks. */
static bool any_old(store *st, store_table tab)
{
    store_txn t;
    bool found = false;
    store_txn_begin(st, &t, true);
    for (size_t i = 0; i < sizeof old_tags && !found; i++) {
        skey prefix;
        store_iter it;
        skey_reset(&prefix);
        skey_u8(&prefix, old_tags[i]);
        store_iter_begin(&it, &t, tab, &prefix, NULL);
        found = store_iter_next(&it);
        store_iter_end(&it);
    }
    found = found || t.err != KERR_OK; /* let the write pass report the error */
    store_txn_abort(&t);
    return found;
}

kerr journal_migrate(store *st, store_table tab, size_t batch, size_t *moved)
{
    struct old_rec *r;
    kerr e = KERR_OK;

    *moved = 0;
    if (!any_old(st, tab))
        return KERR_OK; /* the usual case: no write transaction, so no writer lock taken */
    if (!batch)
        batch = 4096;
    if (!(r = calloc(batch, sizeof *r)))
        return KERR_INTERNAL;
    for (;;) {
        store_txn t;
        size_t n;
        store_txn_begin(st, &t, false);
        n = collect_old(&t, tab, r, batch);
        for (size_t i = 0; i < n && t.err == KERR_OK; i++) {
            skey nk, ok;
            const void *cur;
            size_t len;
            if (new_key_of(&nk, &r[i]) != 0) {
                store_txn_fail(&t, KERR_INTERNAL);
                break;
            }
            if (r[i].key[0] == TAG_V0_HEAD && has_head(&t, tab, &nk)) {
                /* a format-0 head 'H' beside a newer head (an append had moved it): drop it.
                 * Every 'E' record sorts, and so moves, before any 'H' one. */
            } else if (store_get_raw(&t, tab, &nk, &cur, &len) != KERR_OK) {
                store_put(&t, tab, &nk, r[i].val, r[i].len);
            } else {
                /* both layouts hold this record: an older kluisd wrote to a migrated vault.
                 * Overwriting either would lose an event; refuse and leave it to the operator. */
                store_txn_fail(&t, KERR_CONFLICT);
                break;
            }
            skey_reset(&ok);
            skey_bytes(&ok, r[i].key, r[i].klen);
            store_del(&t, tab, &ok);
        }
        for (size_t i = 0; i < n; i++) {
            store_val_free(r[i].val, r[i].len);
            r[i].val = NULL;
        }
        if (n == 0 || t.err != KERR_OK) {
            e = t.err;
            store_txn_abort(&t);
            break;
        }
        if ((e = store_txn_commit(&t)) != KERR_OK)
            break;
        *moved += n;
    }
    free(r);
    return e;
}
