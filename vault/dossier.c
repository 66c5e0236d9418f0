/*
 * vault/dossier.c — section states and epoch records (see dossier.h). Owns the key layout of
 * VT_SECTIONS and VT_EPOCHS; nothing else builds those keys.
 */
#include "vault/dossier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/encoding.h"
#include "vault/grant.h"
#include "vault/jspec.h"
#include "vault/override.h"
#include "vault/vault.h"

static void key_section(struct vault *v, skey *k, const char *citizen, const char *section)
{
    skey_reset(k);
    skey_id(k, v->st, citizen, strlen(citizen));
    skey_id(k, v->st, section, strlen(section));
}

static kerr put_json(store_txn *t, store_table tab, const skey *k, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return store_txn_fail(t, KERR_INTERNAL);
    store_put(t, tab, k, text, strlen(text));
    free(text);
    return t->err;
}

kerr section_put(struct vault *v, store_txn *t, const char *citizen, const char *section,
                 const struct section_state *s)
{
    skey k;
    key_section(v, &k, citizen, section);
    return put_json(t, v->tab[VT_SECTIONS], &k,
                    json_pack("{s:s, s:I, s:I, s:I, s:b}", "section", section, "current_epoch",
                              (json_int_t)s->current_epoch, "next_seq", (json_int_t)s->next_seq, "entries",
                              (json_int_t)s->entries, "erased", s->erased ? 1 : 0));
}

/* Decode one section state; NAME (64 bytes, may be NULL) gets the section it names ("" if none). */
static kerr section_parse(store_txn *t, const unsigned char *val, size_t len, struct section_state *out,
                          char *name)
{
    struct jerr err;
    json_t *j = jspec_parse((const char *)val, len, &err);
    int64_t ep = 0, seq = 0, entries = 0;
    int erased = 0;
    const char *sec = "";
    struct jspec spec[] = {
        {.name = "section", .type = JS_ID, .out = &sec, .optional = 1},
        {.name = "current_epoch", .type = JS_INT, .out = &ep, .min = 1, .max = INT64_MAX},
        {.name = "next_seq", .type = JS_INT, .out = &seq, .min = 1, .max = INT64_MAX},
        {.name = "entries", .type = JS_INT, .out = &entries, .optional = 1, .min = 0, .max = INT64_MAX},
        {.name = "erased", .type = JS_BOOL, .out = &erased, .optional = 1},
    };
    int ok = j && jspec_extract(j, spec, sizeof spec / sizeof spec[0], &err) == 0;
    if (ok && name)
        snprintf(name, 64, "%s", sec);
    json_decref(j);
    if (!ok)
        return store_txn_fail(t, KERR_INTERNAL);
    out->current_epoch = (uint64_t)ep;
    out->next_seq = (uint64_t)seq;
    out->entries = (uint64_t)entries;
    out->erased = erased;
    return KERR_OK;
}

kerr section_get(struct vault *v, store_txn *t, const char *citizen, const char *section,
                 struct section_state *out)
{
    skey k;
    unsigned char *val = NULL;
    size_t len = 0;
    key_section(v, &k, citizen, section);
    kerr e = store_get(t, v->tab[VT_SECTIONS], &k, &val, &len);
    if (e != KERR_OK)
        return e;
    e = section_parse(t, val, len, out, NULL);
    store_val_free(val, len);
    return e;
}

kerr section_exists(struct vault *v, store_txn *t, const char *citizen, const char *section)
{
    skey k;
    const void *val = NULL;
    size_t len = 0;
    key_section(v, &k, citizen, section);
    return store_get_raw(t, v->tab[VT_SECTIONS], &k, &val, &len); /* presence only: nothing opened */
}

static int section_cmp(const void *a, const void *b)
{
    return strcmp(((const struct section_info *)a)->section, ((const struct section_info *)b)->section);
}

kerr section_list(struct vault *v, store_txn *t, const char *citizen, struct section_info **out, size_t *n)
{
    struct section_info *arr = NULL;
    size_t cnt = 0, cap = 0;
    skey prefix;
    store_iter it;
    *out = NULL;
    *n = 0;
    skey_reset(&prefix);
    skey_id(&prefix, v->st, citizen, strlen(citizen));
    for (store_iter_begin(&it, t, v->tab[VT_SECTIONS], &prefix, NULL); store_iter_next(&it);) {
        unsigned char *val = NULL;
        size_t len = 0;
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct section_info *na = realloc(arr, ncap * sizeof *arr);
            if (!na) {
                store_txn_fail(t, KERR_INTERNAL);
                break;
            }
            arr = na;
            cap = ncap;
        }
        if (store_iter_get(&it, &val, &len) != KERR_OK)
            break;
        kerr e = section_parse(t, val, len, &arr[cnt].state, arr[cnt].section);
        store_val_free(val, len);
        if (e != KERR_OK)
            break;
        if (!arr[cnt].section[0]) { /* a state that does not name its section cannot be listed */
            store_txn_fail(t, KERR_INTERNAL);
            break;
        }
        cnt++;
    }
    store_iter_end(&it);
    if (t->err != KERR_OK || cnt == 0) {
        free(arr);
        return t->err;
    }
    qsort(arr, cnt, sizeof *arr, section_cmp);
    *out = arr;
    *n = cnt;
    return KERR_OK;
}

kerr epoch_put(struct vault *v, store_txn *t, const char *citizen, const char *section,
               const struct epoch_record *e)
{
    if (e->epoch == 0 || e->epoch > INT64_MAX || !e->statement || !e->signature)
        return store_txn_fail(t, KERR_BAD_REQUEST);
    char *sw = b64_encode(e->self_wrap, sizeof e->self_wrap), *ew = b64_encode(e->escrow_wrap, sizeof e->escrow_wrap);
    json_t *j = (sw && ew) ? json_pack("{s:I, s:s, s:s, s:s, s:s, s:I}", "epoch", (json_int_t)e->epoch, "statement",
                                       e->statement, "signature", e->signature, "self_wrap", sw, "escrow_wrap", ew,
                                       "created", (json_int_t)e->created)
                           : NULL;
    free(sw);
    free(ew);
    skey k;
    key_section(v, &k, citizen, section);
    skey_u64(&k, e->epoch);
    return put_json(t, v->tab[VT_EPOCHS], &k, j);
}

/* Decode one stored epoch record into OUT (strings copied). */
static kerr epoch_parse(store_txn *t, const unsigned char *val, size_t len, struct epoch_record *out)
{
    struct jerr err;
    memset(out, 0, sizeof *out);
    json_t *j = jspec_parse((const char *)val, len, &err);
    int64_t ep = 0, created = 0;
    const char *st = NULL, *sig = NULL;
    struct jspec spec[] = {
        {.name = "epoch", .type = JS_INT, .out = &ep, .min = 1, .max = INT64_MAX},
        {.name = "statement", .type = JS_STRING, .out = &st},
        {.name = "signature", .type = JS_STRING, .out = &sig},
        {.name = "self_wrap", .type = JS_B64, .out = out->self_wrap, .len = KLUIS_WRAP_BYTES},
        {.name = "escrow_wrap", .type = JS_B64, .out = out->escrow_wrap, .len = KLUIS_ESCROW_BYTES},
        {.name = "created", .type = JS_INT, .out = &created, .min = INT64_MIN, .max = INT64_MAX},
    };
    if (!j || jspec_extract(j, spec, sizeof spec / sizeof spec[0], &err) != 0 || !(out->statement = strdup(st)) ||
        !(out->signature = strdup(sig))) {
        json_decref(j);
        epoch_record_clear(out);
        return store_txn_fail(t, KERR_INTERNAL);
    }
    json_decref(j);
    out->epoch = (uint64_t)ep;
    out->created = created;
    return KERR_OK;
}

kerr epoch_get(struct vault *v, store_txn *t, const char *citizen, const char *section, uint64_t epoch,
               struct epoch_record *out)
{
    skey k;
    unsigned char *val = NULL;
    size_t len = 0;
    memset(out, 0, sizeof *out);
    key_section(v, &k, citizen, section);
    skey_u64(&k, epoch);
    kerr e = store_get(t, v->tab[VT_EPOCHS], &k, &val, &len);
    if (e != KERR_OK)
        return e;
    e = epoch_parse(t, val, len, out);
    store_val_free(val, len);
    return e;
}

kerr epoch_list(struct vault *v, store_txn *t, const char *citizen, const char *section,
                struct epoch_record **out, size_t *n)
{
    struct epoch_record *arr = NULL;
    size_t cnt = 0, cap = 0;
    skey prefix;
    store_iter it;
    *out = NULL;
    *n = 0;
    key_section(v, &prefix, citizen, section);
    for (store_iter_begin(&it, t, v->tab[VT_EPOCHS], &prefix, NULL); store_iter_next(&it);) {
        unsigned char *val = NULL;
        size_t len = 0;
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            struct epoch_record *na = realloc(arr, ncap * sizeof *arr);
            if (!na) {
                store_txn_fail(t, KERR_INTERNAL);
                break;
            }
            arr = na;
            cap = ncap;
        }
        if (store_iter_get(&it, &val, &len) != KERR_OK)
            break;
        kerr e = epoch_parse(t, val, len, &arr[cnt]);
        store_val_free(val, len);
        if (e != KERR_OK)
            break;
        cnt++;
    }
    store_iter_end(&it);
    if (t->err != KERR_OK) {
        epoch_records_free(arr, cnt);
        return t->err;
    }
    *out = arr;
    *n = cnt;
    return KERR_OK;
}

void epoch_record_clear(struct epoch_record *e)
{
    if (!e)
        return;
    free(e->statement);
    free(e->signature);
    memset(e, 0, sizeof *e);
}

void epoch_records_free(struct epoch_record *e, size_t n)
{
    for (size_t i = 0; e && i < n; i++)
        epoch_record_clear(&e[i]);
    free(e);
}

/* ---------------------------------------------------------------- entries */

#define ENTRY_HDR (1u + 8u + 8u + 8u + 1u + 1u + 4u + 4u + 4u)
/* b64 of ENTRY_BLOB_MAX bytes, and of a maximal statement, with room */
#define ENTRY_B64_MAX ((size_t)1500000)

static void key_entry(struct vault *v, skey *k, uint8_t tag, const char *citizen, const char *section)
{
    skey_reset(k);
    skey_u8(k, tag);
    skey_id(k, v->st, citizen, strlen(citizen));
    skey_id(k, v->st, section, strlen(section));
}

static void be32_put(unsigned char *p, uint32_t x)
{
    p[0] = (unsigned char)(x >> 24);
    p[1] = (unsigned char)(x >> 16);
    p[2] = (unsigned char)(x >> 8);
    p[3] = (unsigned char)x;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

kerr entry_put(struct vault *v, store_txn *t, const char *citizen, const char *section, const struct entry_rec *e)
{
    if (e->seq == 0 || e->epoch == 0 || !e->id || !e->author || !e->statement || !e->signature || !e->blob ||
        e->id_len == 0 || e->id_len > KLUIS_ID_MAX || e->author_len == 0 || e->author_len > KLUIS_ID_MAX ||
        e->statement_len > ENTRY_B64_MAX || e->signature_len > ENTRY_B64_MAX || e->blob_len > ENTRY_B64_MAX)
        return store_txn_fail(t, KERR_BAD_REQUEST);
    size_t len = ENTRY_HDR + e->id_len + e->author_len + e->statement_len + e->signature_len + e->blob_len;
    unsigned char *buf = malloc(len);
    if (!buf)
        return store_txn_fail(t, KERR_INTERNAL);
    unsigned char *p = buf;
    *p++ = 'e';
    store_be64_put(p, e->seq);
    store_be64_put(p + 8, e->epoch);
    store_be64_put(p + 16, (uint64_t)e->created);
    p += 24;
    *p++ = (unsigned char)e->id_len;
    *p++ = (unsigned char)e->author_len;
    be32_put(p, (uint32_t)e->statement_len);
    be32_put(p + 4, (uint32_t)e->signature_len);
    be32_put(p + 8, (uint32_t)e->blob_len);
    p += 12;
    memcpy(p, e->id, e->id_len);
    p += e->id_len;
    memcpy(p, e->author, e->author_len);
    p += e->author_len;
    memcpy(p, e->statement, e->statement_len);
    p += e->statement_len;
    memcpy(p, e->signature, e->signature_len);
    p += e->signature_len;
    memcpy(p, e->blob, e->blob_len);

    skey k;
    key_entry(v, &k, DOSSIER_TAG_ENTRY, citizen, section);
    skey_u64(&k, e->seq);
    store_put(t, v->tab[VT_ENTRIES], &k, buf, len);
    free(buf); /* ciphertext and public statements only: nothing to wipe */

    unsigned char seq[8];
    store_be64_put(seq, e->seq);
    key_entry(v, &k, 'I', citizen, section);
    skey_id(&k, v->st, e->id, e->id_len);
    return store_put(t, v->tab[VT_ENTRIES], &k, seq, sizeof seq);
}

kerr entry_seq_of(struct vault *v, store_txn *t, const char *citizen, const char *section, const char *id,
                  uint64_t *seq)
{
    skey k;
    unsigned char buf[8];
    size_t len = 0;
    key_entry(v, &k, 'I', citizen, section);
    skey_id(&k, v->st, id, strlen(id));
    kerr e = store_get_buf(t, v->tab[VT_ENTRIES], &k, buf, sizeof buf, &len);
    if (e != KERR_OK)
        return e;
    if (len != sizeof buf)
        return store_txn_fail(t, KERR_INTERNAL);
    *seq = store_be64(buf);
    return KERR_OK;
}

/* Take VAL (LEN bytes, from store_iter_get) as the buffer of OUT, checking the layout. */
static int entry_parse(unsigned char *val, size_t len, struct entry_rec *out)
{
    memset(out, 0, sizeof *out);
    if (len < ENTRY_HDR || val[0] != 'e')
        return -1;
    const unsigned char *p = val + 1;
    out->seq = store_be64(p);
    out->epoch = store_be64(p + 8);
    out->created = (int64_t)store_be64(p + 16);
    p += 24;
    out->id_len = *p++;
    out->author_len = *p++;
    out->statement_len = be32(p);
    out->signature_len = be32(p + 4);
    out->blob_len = be32(p + 8);
    p += 12;
    size_t need = ENTRY_HDR;
    const size_t parts[5] = {out->id_len, out->author_len, out->statement_len, out->signature_len, out->blob_len};
    for (int i = 0; i < 5; i++) {
        if (parts[i] > len - need)
            return -1;
        need += parts[i];
    }
    if (need != len)
        return -1;
    out->id = (const char *)p;
    out->author = out->id + out->id_len;
    out->statement = out->author + out->author_len;
    out->signature = out->statement + out->statement_len;
    out->blob = out->signature + out->signature_len;
    out->buf_ = val;
    out->buflen_ = len;
    return 0;
}

kerr entry_list(struct vault *v, store_txn *t, const char *citizen, const char *section, uint64_t after,
                size_t limit, struct entry_rec **out, size_t *n, int *more)
{
    struct entry_rec *arr = NULL;
    size_t cnt = 0, cap = 0;
    skey prefix, from;
    store_iter it;
    *out = NULL;
    *n = 0;
    if (more)
        *more = 0;
    if (limit == 0 || after == UINT64_MAX)
        return t->err;
    key_entry(v, &prefix, DOSSIER_TAG_ENTRY, citizen, section);
    from = prefix;
    skey_u64(&from, after + 1);
    for (store_iter_begin(&it, t, v->tab[VT_ENTRIES], &prefix, &from); store_iter_next(&it);) {
        if (cnt == limit) {
            if (more)
                *more = 1;
            break;
        }
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            if (ncap > limit)
                ncap = limit;
            struct entry_rec *na = realloc(arr, ncap * sizeof *arr);
            if (!na) {
                store_txn_fail(t, KERR_INTERNAL);
                break;
            }
            arr = na;
            cap = ncap;
        }
        unsigned char *val = NULL;
        size_t len = 0;
        if (store_iter_get(&it, &val, &len) != KERR_OK)
            break;
        if (entry_parse(val, len, &arr[cnt]) != 0) {
            store_val_free(val, len);
            store_txn_fail(t, KERR_INTERNAL);
            break;
        }
        cnt++;
    }
    store_iter_end(&it);
    if (t->err != KERR_OK || cnt == 0) {
        entry_recs_free(arr, cnt);
        return t->err;
    }
    *out = arr;
    *n = cnt;
    return KERR_OK;
}

void entry_recs_free(struct entry_rec *e, size_t n)
{
    for (size_t i = 0; e && i < n; i++)
        store_val_free(e[i].buf_, e[i].buflen_);
    free(e);
}

/* Delete every key of TAB under PREFIX (collected first: no deletes under an open cursor). */
static kerr delete_prefix(store_txn *t, store_table tab, const skey *prefix, size_t *deleted)
{
    skey *keys = NULL;
    size_t cnt = 0, cap = 0;
    store_iter it;
    for (store_iter_begin(&it, t, tab, prefix, NULL); store_iter_next(&it);) {
        size_t klen = 0;
        const unsigned char *kb = store_iter_key(&it, &klen);
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            skey *nk = realloc(keys, ncap * sizeof *keys);
            if (!nk) {
                store_txn_fail(t, KERR_INTERNAL);
                break;
            }
            keys = nk;
            cap = ncap;
        }
        skey_reset(&keys[cnt]);
        skey_bytes(&keys[cnt], kb, klen);
        cnt++;
    }
    store_iter_end(&it);
    for (size_t i = 0; t->err == KERR_OK && i < cnt; i++)
        store_del(t, tab, &keys[i]);
    free(keys);
    if (deleted)
        *deleted = t->err == KERR_OK ? cnt : 0;
    return t->err;
}

kerr section_erase(struct vault *v, store_txn *t, const char *citizen, const char *section, size_t *n_entries,
                   size_t *n_epochs, size_t *n_wraps)
{
    struct section_state s;
    skey prefix;
    size_t ne = 0, ni = 0, nep = 0, nw = 0;
    kerr e = section_get(v, t, citizen, section, &s);
    if (e != KERR_OK)
        return e;
    key_entry(v, &prefix, DOSSIER_TAG_ENTRY, citizen, section);
    delete_prefix(t, v->tab[VT_ENTRIES], &prefix, &ne);
    key_entry(v, &prefix, 'I', citizen, section);
    delete_prefix(t, v->tab[VT_ENTRIES], &prefix, &ni);
    key_section(v, &prefix, citizen, section);
    delete_prefix(t, v->tab[VT_EPOCHS], &prefix, &nep);
    if (t->err == KERR_OK && grant_wraps_delete_section(t, v->tab, citizen, section, &nw) != KERR_OK)
        return t->err;
    size_t nov = 0; /* the wraps mayors uploaded for override beneficiaries */
    if (override_bwrap_delete_section(v, t, citizen, section, &nov) != KERR_OK)
        return t->err;
    nw += nov;
    s.entries = 0;
    s.erased = 1;
    if (section_put(v, t, citizen, section, &s) != KERR_OK)
        return t->err;
    if (n_entries)
        *n_entries = ne;
    if (n_epochs)
        *n_epochs = nep;
    if (n_wraps)
        *n_wraps = nw;
    return KERR_OK;
}
