/* tests/api/client.c — see client.h. */
#include "tests/api/client.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/api/httpc.h"
#include "vault/encoding.h"
#include "vault/jspec.h"
#include "vault/secret.h"
#include "vault/statement.h"

void kc_resp_free(struct kc_resp *r)
{
    if (!r)
        return;
    json_decref(r->json);
    free(r->body);
    memset(r, 0, sizeof *r);
}

int kc_call_raw(unsigned int port, const char *method, const char *path, const char *token,
                const char *content_type, const void *body, size_t len, struct kc_resp *out)
{
    char extra[512] = "";
    size_t o = 0;
    memset(out, 0, sizeof *out);
    if (token && token[0])
        o += (size_t)snprintf(extra + o, sizeof extra - o, "Authorization: Bearer %s\r\n", token);
    if (content_type)
        o += (size_t)snprintf(extra + o, sizeof extra - o, "Content-Type: %s\r\n", content_type);
    struct httpc_resp r;
    if (httpc_request(port, method, path, extra, body, len, &r) != 0) {
        httpc_resp_free(&r);
        out->status = -1;
        return -1;
    }
    out->status = r.status;
    out->body = malloc(r.body_len + 1);
    if (out->body) {
        memcpy(out->body, r.body, r.body_len + 1);
        out->body_len = r.body_len;
    }
    out->json = json_loadb(r.body, r.body_len, 0, NULL);
    const char *e = json_string_value(json_object_get(out->json, "error"));
    if (e)
        snprintf(out->error, sizeof out->error, "%s", e);
    const char *ra = httpc_header(&r, "Retry-After");
    if (ra)
        out->retry_after = (unsigned)strtoul(ra, NULL, 10);
    httpc_resp_free(&r);
    return out->status;
}

int kc_call(unsigned int port, const char *method, const char *path, const char *token, const json_t *body,
            struct kc_resp *out)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (body && !text) {
        memset(out, 0, sizeof *out);
        out->status = -1;
        return -1;
    }
    int st = kc_call_raw(port, method, path, token, body ? "application/json" : NULL, text, text ? strlen(text) : 0,
                         out);
    free(text);
    return st;
}

static int get_b64(json_t *j, const char *name, unsigned char *out, size_t n)
{
    const char *s = json_string_value(json_object_get(j, name));
    return s ? b64_decode_exact(out, n, s) : -1;
}

static json_t *jb64(const unsigned char *p, size_t n)
{
    char *s = b64_encode(p, n);
    json_t *j = s ? json_string(s) : NULL;
    free(s);
    return j;
}

int kc_vault_info(unsigned int port, struct kc_vault *out)
{
    struct kc_resp r;
    int st = kc_call(port, "GET", "/v1/vault", NULL, NULL, &r);
    if (st == 200 && (get_b64(r.json, "log_pk", out->log_pk, 32) != 0 || get_b64(r.json, "gate_pk", out->gate_pk, 32) != 0 ||
                      get_b64(r.json, "authority_pk", out->authority_pk, 32) != 0))
        st = -1;
    kc_resp_free(&r);
    return st;
}

int kc_login(unsigned int port, const char *id, const struct kluis_keys *keys, char token[KC_TOKEN_MAX],
             struct kc_resp *resp)
{
    struct kc_resp r, dummy;
    unsigned char ch[32], sig[64];
    token[0] = '\0';
    if (!resp)
        resp = &dummy;
    memset(resp, 0, sizeof *resp);
    json_t *b = json_pack("{s:s}", "id", id);
    int st = kc_call(port, "POST", "/v1/auth/challenge", NULL, b, &r);
    json_decref(b);
    if (st != 200 || get_b64(r.json, "challenge", ch, 32) != 0) {
        kc_resp_free(&r);
        return st == 200 ? -1 : st;
    }
    kc_resp_free(&r);
    if (kluis_auth_sign(sig, ch, id, keys->sign_sk) != 0)
        return -1;
    b = json_pack("{s:s, s:o, s:o}", "id", id, "challenge", jb64(ch, 32), "signature", jb64(sig, 64));
    st = kc_call(port, "POST", "/v1/auth/session", NULL, b, resp);
    json_decref(b);
    const char *t = json_string_value(json_object_get(resp->json, "token"));
    if (st == 200 && t)
        snprintf(token, KC_TOKEN_MAX, "%s", t);
    if (resp == &dummy)
        kc_resp_free(&dummy);
    return st;
}

int kc_register(unsigned int port, const char *admin_token, const char *id, const char *role,
                const char *display_name, const char *organisation, const struct kluis_keys *keys)
{
    struct kc_resp r;
    json_t *b = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "id", id, "role", role, "display_name", display_name,
                          "organisation", organisation, "sign_pk", jb64(keys->sign_pk, 32), "box_pk",
                          jb64(keys->box_pk, 32));
    int st = kc_call(port, "POST", "/v1/principals", admin_token, b, &r);
    json_decref(b);
    kc_resp_free(&r);
    return st;
}

int kc_principal_new(unsigned int port, const char *admin_token, const char *id, const char *role,
                     struct kluis_keys **keys, char token[KC_TOKEN_MAX])
{
    *keys = kluis_keys_new();
    if (!*keys || kluis_keys_generate(*keys) != 0 ||
        kc_register(port, admin_token, id, role, id, "Gemeente Voorbeeldstad", *keys) != 201 ||
        kc_login(port, id, *keys, token, NULL) != 200) {
        kluis_keys_free(*keys);
        *keys = NULL;
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- citizens */

struct kc_citizen *kc_citizen_new(unsigned int port, const char *id, const char *passphrase)
{
    struct kc_resp r;
    if (kc_call(port, "GET", "/v1/charter", NULL, NULL, &r) != 200) {
        kc_resp_free(&r);
        return NULL;
    }
    struct kc_citizen *cz = calloc(1, sizeof *cz);
    json_t *secs = json_object_get(r.json, "sections"), *s;
    size_t i;
    if (!cz || !json_is_array(secs) || json_array_size(secs) > KC_SECTIONS_MAX)
        goto fail;
    snprintf(cz->id, sizeof cz->id, "%s", id);
    snprintf(cz->passphrase, sizeof cz->passphrase, "%s", passphrase);
    cz->n = json_array_size(secs);
    cz->keys = kluis_keys_new();
    cz->dek = secret_new(cz->n * KLUIS_KEY_BYTES);
    if (!cz->keys || !cz->dek || kluis_keys_generate(cz->keys) != 0)
        goto fail;
    json_array_foreach(secs, i, s) {
        snprintf(cz->section[i], sizeof cz->section[i], "%s", json_string_value(json_object_get(s, "id")));
        cz->epoch[i] = 1;
        randombytes_buf(cz->dek[i], KLUIS_KEY_BYTES);
    }
    kc_resp_free(&r);
    return cz;
fail:
    kc_resp_free(&r);
    kc_citizen_free(cz);
    return NULL;
}

void kc_citizen_free(struct kc_citizen *cz)
{
    if (!cz)
        return;
    kluis_keys_free(cz->keys);
    secret_free(cz->dek);
    sodium_memzero(cz, sizeof *cz);
    free(cz);
}

int kc_citizen_create(unsigned int port, const char *admin_token, const char *id, const char *display_name,
                      char code[64])
{
    struct kc_resp r;
    json_t *b = json_pack("{s:s, s:s}", "id", id, "display_name", display_name);
    int st = kc_call(port, "POST", "/v1/citizens", admin_token, b, &r);
    json_decref(b);
    const char *c = json_string_value(json_object_get(r.json, "enrollment_code"));
    snprintf(code, 64, "%s", st == 201 && c ? c : "");
    kc_resp_free(&r);
    return st;
}

json_t *kc_epoch_statement(const struct kc_citizen *cz, const char *section, uint64_t epoch,
                           const unsigned char dek[KLUIS_KEY_BYTES], const char *id, int64_t now)
{
    unsigned char commit[32], rnd[10];
    char sid[64], hex[21];
    if (!id) {
        randombytes_buf(rnd, sizeof rnd);
        snprintf(sid, sizeof sid, "ep-%s", hex_encode(hex, rnd, sizeof rnd));
        id = sid;
    }
    if (kluis_key_commit(commit, cz->id, section, epoch, dek) != 0)
        return NULL;
    json_t *st = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:o}", "type", "epoch", "id", id, "signer", cz->id,
                           "issued", (json_int_t)now, "citizen", cz->id, "section", section, "epoch",
                           (json_int_t)epoch, "commit", jb64(commit, 32));
    json_t *env = NULL;
    struct jerr err;
    if (!st || kstmt_sign_json(&env, st, cz->keys->sign_sk, &err) != 0)
        env = NULL;
    json_decref(st);
    return env;
}

json_t *kc_bundle_body(const char *id, const struct kluis_keys *keys, const char *passphrase)
{
    unsigned char salt[KLUIS_SALT_BYTES], bundle[KLUIS_BUNDLE_BYTES], ah[32];
    unsigned char *secret = secret_new(KLUIS_SECRET_BYTES);
    struct kluis_bundle_keys *bk = kluis_bundle_keys_new();
    json_t *j = NULL;
    randombytes_buf(salt, sizeof salt);
    if (secret && bk &&
        kluis_bundle_derive(bk, passphrase, strlen(passphrase), salt, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                            crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0) {
        kluis_keys_export(secret, keys);
        if (kluis_bundle_seal(bundle, secret, id, bk->enc_key) == 0 && kluis_auth_hash(ah, bk->auth_key) == 0)
            j = json_pack("{s:o, s:I, s:I, s:o, s:o}", "salt", jb64(salt, sizeof salt), "opslimit",
                          (json_int_t)crypto_pwhash_OPSLIMIT_INTERACTIVE, "memlimit",
                          (json_int_t)crypto_pwhash_MEMLIMIT_INTERACTIVE, "bundle", jb64(bundle, sizeof bundle),
                          "auth_hash", jb64(ah, 32));
    }
    secret_free(secret);
    kluis_bundle_keys_free(bk);
    return j;
}

json_t *kc_enroll_body(const struct kc_citizen *cz, const char *code, const struct kc_vault *vi)
{
    json_t *body = kc_bundle_body(cz->id, cz->keys, cz->passphrase), *secs = json_array();
    int64_t now = (int64_t)time(NULL);
    if (!body || !secs)
        goto fail;
    for (size_t i = 0; i < cz->n; i++) {
        unsigned char wrap[KLUIS_WRAP_BYTES], escrow[KLUIS_ESCROW_BYTES];
        json_t *env = kc_epoch_statement(cz, cz->section[i], 1, cz->dek[i], NULL, now);
        if (!env || kluis_wrap(wrap, cz->dek[i], cz->keys->box_pk) != 0 ||
            kluis_escrow_seal(escrow, cz->dek[i], vi->authority_pk, vi->gate_pk) != 0) {
            json_decref(env);
            goto fail;
        }
        json_object_set_new(env, "section", json_string(cz->section[i]));
        json_object_set_new(env, "epoch", json_integer(1));
        json_object_set_new(env, "self_wrap", jb64(wrap, sizeof wrap));
        json_object_set_new(env, "escrow_wrap", jb64(escrow, sizeof escrow));
        json_array_append_new(secs, env);
    }
    json_object_set_new(body, "enrollment_code", json_string(code));
    json_object_set_new(body, "sign_pk", jb64(cz->keys->sign_pk, 32));
    json_object_set_new(body, "box_pk", jb64(cz->keys->box_pk, 32));
    json_object_set_new(body, "sections", secs);
    return body;
fail:
    json_decref(body);
    json_decref(secs);
    return NULL;
}

int kc_citizen_enroll(unsigned int port, const struct kc_citizen *cz, const char *code, struct kc_resp *resp)
{
    struct kc_vault vi;
    struct kc_resp dummy;
    char path[160];
    if (!resp)
        resp = &dummy;
    memset(resp, 0, sizeof *resp);
    if (kc_vault_info(port, &vi) != 200)
        return -1;
    json_t *b = kc_enroll_body(cz, code, &vi);
    if (!b)
        return -1;
    snprintf(path, sizeof path, "/v1/citizens/%s/enroll", cz->id);
    int st = kc_call(port, "POST", path, NULL, b, resp);
    json_decref(b);
    if (resp == &dummy)
        kc_resp_free(&dummy);
    return st;
}

struct kc_citizen *kc_citizen_setup(unsigned int port, const char *admin_token, const char *id,
                                    const char *passphrase)
{
    char code[64];
    struct kc_citizen *cz = kc_citizen_new(port, id, passphrase);
    if (!cz || kc_citizen_create(port, admin_token, id, id, code) != 201 || kc_citizen_enroll(port, cz, code, NULL) != 200 ||
        kc_login(port, id, cz->keys, cz->token, NULL) != 200) {
        kc_citizen_free(cz);
        return NULL;
    }
    return cz;
}

int kc_bundle_login(unsigned int port, const char *id, const char *passphrase, struct kluis_keys **keys,
                    char token[KC_TOKEN_MAX], struct kc_resp *resp)
{
    struct kc_resp r, dummy;
    unsigned char salt[KLUIS_SALT_BYTES], bundle[KLUIS_BUNDLE_BYTES], spk[32], bpk[32];
    token[0] = '\0';
    if (keys)
        *keys = NULL;
    if (!resp)
        resp = &dummy;
    memset(resp, 0, sizeof *resp);
    json_t *b = json_pack("{s:s}", "id", id);
    int st = kc_call(port, "POST", "/v1/auth/prelogin", NULL, b, &r);
    json_decref(b);
    json_int_t ops = json_integer_value(json_object_get(r.json, "opslimit")),
               mem = json_integer_value(json_object_get(r.json, "memlimit"));
    int ok = st == 200 && get_b64(r.json, "salt", salt, sizeof salt) == 0;
    kc_resp_free(&r);
    if (!ok)
        return st == 200 ? -1 : st;
    struct kluis_bundle_keys *bk = kluis_bundle_keys_new();
    struct kluis_keys *k = kluis_keys_new();
    unsigned char *secret = secret_new(KLUIS_SECRET_BYTES);
    st = -1;
    if (bk && k && secret &&
        kluis_bundle_derive(bk, passphrase, strlen(passphrase), salt, (unsigned long long)ops, (size_t)mem) == 0) {
        b = json_pack("{s:s, s:o}", "id", id, "auth_key", jb64(bk->auth_key, 32));
        st = kc_call(port, "POST", "/v1/auth/bundle", NULL, b, resp);
        json_decref(b);
        if (st == 200) {
            if (get_b64(resp->json, "bundle", bundle, sizeof bundle) != 0 || get_b64(resp->json, "sign_pk", spk, 32) != 0 ||
                get_b64(resp->json, "box_pk", bpk, 32) != 0 || kluis_bundle_open(secret, bundle, id, bk->enc_key) != 0 ||
                kluis_keys_from_secret(k, secret) != 0 || sodium_memcmp(k->sign_pk, spk, 32) != 0 ||
                sodium_memcmp(k->box_pk, bpk, 32) != 0)
                st = -1;
            else
                st = kc_login(port, id, k, token, NULL);
        }
    }
    secret_free(secret);
    kluis_bundle_keys_free(bk);
    if (st == 200 && keys)
        *keys = k;
    else
        kluis_keys_free(k);
    if (resp == &dummy)
        kc_resp_free(&dummy);
    return st;
}
