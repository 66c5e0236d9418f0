/*
 * vault/dossier.c — section states and epoch records (see dossier.h). Owns the key layout of
 * VT_SECTIONS and VT_EPOCHS; nothing else builds those keys.
 */
#include "vault/dossier.h"

#include <stdlib.h>
#include <string.h>

#include "vault/encoding.h"
#include "vault/jspec.h"
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
                    json_pack("{s:I, s:I}", "current_epoch", (json_int_t)s->current_epoch, "next_seq",
                              (json_int_t)s->next_seq));
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
    struct jerr err;
    json_t *j = jspec_parse((const char *)val, len, &err);
    store_val_free(val, len);
    int64_t ep = 0, seq = 0;
    struct jspec spec[] = {
        {.name = "current_epoch", .type = JS_INT, .out = &ep, .min = 1, .max = INT64_MAX},
        {.name = "next_seq", .type = JS_INT, .out = &seq, .min = 1, .max = INT64_MAX},
    };
    int ok = j && jspec_extract(j, spec, 2, &err) == 0;
    json_decref(j);
    if (!ok)
        return store_txn_fail(t, KERR_INTERNAL);
    out->current_epoch = (uint64_t)ep;
    out->next_seq = (uint64_t)seq;
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
