/*
 * vault/citizen.c — citizen records and enrollment codes (see citizen.h). Owns the key layout
 * and the record formats of VT_CITIZENS.
 */
#include "vault/citizen.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/encoding.h"
#include "vault/jspec.h"
#include "vault/vault.h"

enum { TAG_RECORD = 'R', TAG_LOGIN = 'P', TAG_LOCKOUT = 'L' };

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static void key_of(struct vault *v, skey *k, int tag, const char *id)
{
    skey_reset(k);
    skey_u8(k, (uint8_t)tag);
    skey_id(k, v->st, id, strlen(id));
}

static void hash_canonical(unsigned char hash[32], const char sym[CITIZEN_CODE_SYMBOLS])
{
    static const char ctx[] = "kluis/v1/enrollment\n";
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const unsigned char *)ctx, sizeof ctx - 1);
    crypto_generichash_update(&st, (const unsigned char *)sym, CITIZEN_CODE_SYMBOLS);
    crypto_generichash_final(&st, hash, 32);
    sodium_memzero(&st, sizeof st);
}

void citizen_code_new(char text[CITIZEN_CODE_TEXT], unsigned char hash[KLUIS_HASH_BYTES])
{
    char sym[CITIZEN_CODE_SYMBOLS];
    size_t o = 0;
    for (size_t i = 0; i < CITIZEN_CODE_SYMBOLS; i++) {
        sym[i] = crockford[randombytes_uniform(32)];
        if (i && i % 5 == 0)
            text[o++] = '-';
        text[o++] = sym[i];
    }
    text[o] = '\0';
    hash_canonical(hash, sym);
    sodium_memzero(sym, sizeof sym);
}

int citizen_code_hash(unsigned char hash[KLUIS_HASH_BYTES], const char *code)
{
    char sym[CITIZEN_CODE_SYMBOLS];
    size_t n = 0;
    int ok = code != NULL;
    for (const char *p = code; ok && *p; p++) {
        char c = *p;
        if (c == '-' || c == ' ')
            continue;
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c == 'I' || c == 'L')
            c = '1';
        else if (c == 'O')
            c = '0';
        if (c == '\0' || !strchr(crockford, c) || n == CITIZEN_CODE_SYMBOLS) {
            ok = 0;
            break;
        }
        sym[n++] = c;
    }
    if (ok && n == CITIZEN_CODE_SYMBOLS)
        hash_canonical(hash, sym);
    sodium_memzero(sym, sizeof sym);
    return ok && n == CITIZEN_CODE_SYMBOLS ? 0 : -1;
}

static kerr put_json(store_txn *t, store_table tab, const skey *k, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return store_txn_fail(t, KERR_INTERNAL);
    store_put(t, tab, k, text, strlen(text));
    sodium_memzero(text, strlen(text));
    free(text);
    return t->err;
}

/* b64 of N bytes as a new JSON string (NULL on memory failure: json_pack then fails). */
static json_t *jb64(const unsigned char *p, size_t n)
{
    char *s = b64_encode(p, n);
    json_t *j = s ? json_string(s) : NULL;
    free(s);
    return j;
}

kerr citizen_put(struct vault *v, store_txn *t, const struct citizen *c)
{
    skey k;
    key_of(v, &k, TAG_RECORD, c->id);
    return put_json(t, v->tab[VT_CITIZENS], &k,
                    json_pack("{s:s, s:s, s:I, s:b, s:o, s:I, s:o, s:o}", "id", c->id, "display_name",
                              c->display_name, "created", (json_int_t)c->created, "enrolled", c->enrolled,
                              "code_hash", jb64(c->code_hash, 32), "code_expires", (json_int_t)c->code_expires,
                              "sign_pk", jb64(c->sign_pk, 32), "box_pk", jb64(c->box_pk, 32)));
}

/* Read the sealed JSON under K into a parsed object. */
static kerr get_json(store_txn *t, store_table tab, const skey *k, json_t **out)
{
    unsigned char *val = NULL;
    size_t len = 0;
    *out = NULL;
    kerr e = store_get(t, tab, k, &val, &len);
    if (e != KERR_OK)
        return e;
    struct jerr err;
    *out = jspec_parse((const char *)val, len, &err);
    store_val_free(val, len);
    return *out ? KERR_OK : store_txn_fail(t, KERR_INTERNAL);
}

kerr citizen_get(struct vault *v, store_txn *t, const char *id, struct citizen *out)
{
    skey k;
    json_t *j = NULL;
    key_of(v, &k, TAG_RECORD, id);
    kerr e = get_json(t, v->tab[VT_CITIZENS], &k, &j);
    if (e != KERR_OK)
        return e;
    memset(out, 0, sizeof *out);
    const char *cid = NULL, *dn = NULL;
    struct jerr err;
    struct jspec spec[] = {
        {.name = "id", .type = JS_ID, .out = &cid},
        {.name = "display_name", .type = JS_STRING, .out = &dn, .len = CITIZEN_NAME_MAX},
        {.name = "created", .type = JS_INT, .out = &out->created, .min = INT64_MIN, .max = INT64_MAX},
        {.name = "enrolled", .type = JS_BOOL, .out = &out->enrolled},
        {.name = "code_hash", .type = JS_B64, .out = out->code_hash, .len = 32},
        {.name = "code_expires", .type = JS_INT, .out = &out->code_expires, .min = INT64_MIN, .max = INT64_MAX},
        {.name = "sign_pk", .type = JS_B64, .out = out->sign_pk, .len = 32},
        {.name = "box_pk", .type = JS_B64, .out = out->box_pk, .len = 32},
    };
    if (jspec_extract(j, spec, sizeof spec / sizeof spec[0], &err) != 0) {
        json_decref(j);
        return store_txn_fail(t, KERR_INTERNAL);
    }
    snprintf(out->id, sizeof out->id, "%s", cid);
    snprintf(out->display_name, sizeof out->display_name, "%s", dn);
    json_decref(j);
    return KERR_OK;
}

kerr citizen_login_put(struct vault *v, store_txn *t, const char *id, const struct citizen_login *l)
{
    skey k;
    key_of(v, &k, TAG_LOGIN, id);
    return put_json(t, v->tab[VT_CITIZENS], &k,
                    json_pack("{s:o, s:I, s:I, s:o, s:o}", "salt", jb64(l->salt, sizeof l->salt), "opslimit",
                              (json_int_t)l->opslimit, "memlimit", (json_int_t)l->memlimit, "bundle",
                              jb64(l->bundle, sizeof l->bundle), "auth_hash", jb64(l->auth_hash, 32)));
}

kerr citizen_login_get(struct vault *v, store_txn *t, const char *id, struct citizen_login *out)
{
    skey k;
    json_t *j = NULL;
    key_of(v, &k, TAG_LOGIN, id);
    kerr e = get_json(t, v->tab[VT_CITIZENS], &k, &j);
    if (e != KERR_OK)
        return e;
    struct jerr err;
    struct jspec spec[] = {
        {.name = "salt", .type = JS_B64, .out = out->salt, .len = sizeof out->salt},
        {.name = "opslimit", .type = JS_INT, .out = &out->opslimit, .min = 1, .max = INT64_MAX},
        {.name = "memlimit", .type = JS_INT, .out = &out->memlimit, .min = 1, .max = INT64_MAX},
        {.name = "bundle", .type = JS_B64, .out = out->bundle, .len = sizeof out->bundle},
        {.name = "auth_hash", .type = JS_B64, .out = out->auth_hash, .len = 32},
    };
    int ok = jspec_extract(j, spec, sizeof spec / sizeof spec[0], &err) == 0;
    json_decref(j);
    return ok ? KERR_OK : store_txn_fail(t, KERR_INTERNAL);
}

kerr citizen_lockout_get(struct vault *v, store_txn *t, const char *id, struct lockout *out)
{
    skey k;
    unsigned char buf[24];
    size_t len = 0;
    memset(out, 0, sizeof *out);
    key_of(v, &k, TAG_LOCKOUT, id);
    kerr e = store_get_buf(t, v->tab[VT_CITIZENS], &k, buf, sizeof buf, &len);
    if (e == KERR_NOT_FOUND)
        return KERR_OK;
    if (e != KERR_OK)
        return e;
    return lockout_decode(out, buf, len) == 0 ? KERR_OK : store_txn_fail(t, KERR_INTERNAL);
}

kerr citizen_lockout_put(struct vault *v, store_txn *t, const char *id, const struct lockout *l)
{
    skey k;
    key_of(v, &k, TAG_LOCKOUT, id);
    if (l->failures == 0 && l->locked_until == 0 && l->window_start == 0) {
        kerr e = store_del(t, v->tab[VT_CITIZENS], &k);
        return e == KERR_NOT_FOUND ? t->err : e;
    }
    unsigned char buf[24];
    lockout_encode(buf, l);
    return store_put(t, v->tab[VT_CITIZENS], &k, buf, sizeof buf);
}

void citizen_fake_salt(struct vault *v, const char *id, unsigned char salt[KLUIS_SALT_BYTES])
{
    static const char ctx[] = "kluis/v1/prelogin-salt\n";
    char buf[sizeof ctx + 64];
    size_t n = strlen(id);
    if (n > 63)
        n = 63;
    memcpy(buf, ctx, sizeof ctx - 1);
    memcpy(buf + sizeof ctx - 1, id, n);
    unsigned char h[STORE_IDBYTES];
    store_id_hash(v->st, h, buf, sizeof ctx - 1 + n);
    memcpy(salt, h, KLUIS_SALT_BYTES);
    sodium_memzero(h, sizeof h);
}
