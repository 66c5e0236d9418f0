/* tests/api/torture.c — see torture.h. */
#include "tests/api/torture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/checkpoint.h"
#include "vault/encoding.h"
#include "vault/journal.h"
#include "vault/merkle.h"
#include "vault/statement.h"

json_t *tt_sign(json_t *obj, const unsigned char *sk)
{
    json_t *env = NULL;
    struct jerr err;
    if (!obj || kstmt_sign_json(&env, obj, sk, &err) != 0)
        env = NULL;
    json_decref(obj);
    return env;
}

json_t *tt_b64(const unsigned char *p, size_t n)
{
    char *s = b64_encode(p, n);
    json_t *j = s ? json_string(s) : NULL;
    free(s);
    return j;
}

int tt_section(const struct kc_citizen *cz, const char *section)
{
    for (size_t i = 0; i < cz->n; i++)
        if (!strcmp(cz->section[i], section))
            return (int)i;
    return -1;
}

json_t *tt_entry(const struct kc_citizen *cz, const char *id, const char *section, const char *signer,
                 const unsigned char *sk, int64_t issued, size_t pad)
{
    int s = tt_section(cz, section);
    if (s < 0 || pad > (1u << 20) - 256)
        return NULL;
    size_t cap = 200 + pad;
    char *pt = malloc(cap);
    unsigned char *blob = malloc(cap + KLUIS_AEAD_OVERHEAD), h[32];
    json_t *env = NULL;
    if (!pt || !blob)
        goto out;
    int n = snprintf(pt, cap, "{\"kind\":\"note\",\"title\":\"%s\",\"body\":\"", id);
    memset(pt + n, 'x', pad);
    memcpy(pt + n + pad, "\"}", 3);
    size_t ptlen = (size_t)n + pad + 2;
    if (kluis_entry_encrypt(blob, (const unsigned char *)pt, ptlen, cz->id, section, cz->epoch[s], id, cz->dek[s]) != 0 ||
        kluis_blob_hash(h, blob, ptlen + KLUIS_AEAD_OVERHEAD) != 0)
        goto out;
    env = tt_sign(json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:o}", "type", "entry", "id", id, "signer", signer,
                            "issued", (json_int_t)issued, "citizen", cz->id, "section", section, "epoch",
                            (json_int_t)cz->epoch[s], "blob_hash", tt_b64(h, 32)),
                  sk);
    if (env)
        json_object_set_new(env, "blob", tt_b64(blob, ptlen + KLUIS_AEAD_OVERHEAD));
out:
    free(pt);
    free(blob);
    return env;
}

json_t *tt_grant(const struct kc_citizen *cz, const char *gid, const char *grantee, const unsigned char *box_pk,
                 const char *section, const char *access, const char *purpose, int64_t not_before, int64_t expires,
                 int64_t issued)
{
    int s = tt_section(cz, section);
    unsigned char w[KLUIS_WRAP_BYTES];
    if (s < 0 || kluis_wrap(w, cz->dek[s], box_pk) != 0)
        return NULL;
    json_t *env = tt_sign(json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:[s], s:s, s:s, s:I, s:I}", "type", "grant", "id",
                                    gid, "signer", cz->id, "issued", (json_int_t)issued, "citizen", cz->id, "grantee",
                                    grantee, "sections", section, "access", access, "purpose", purpose, "not_before",
                                    (json_int_t)not_before, "expires", (json_int_t)expires),
                          cz->keys->sign_sk);
    if (env)
        json_object_set_new(env, "wraps",
                            json_pack("[{s:s, s:I, s:o}]", "section", section, "epoch", (json_int_t)cz->epoch[s],
                                      "wrap", tt_b64(w, sizeof w)));
    return env;
}

json_t *tt_revoke(const struct kc_citizen *cz, const char *rid, const char *gid, int64_t issued)
{
    return tt_sign(json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "type", "revoke", "id", rid, "signer", cz->id, "issued",
                             (json_int_t)issued, "citizen", cz->id, "grant", gid),
                   cz->keys->sign_sk);
}

int tt_post_entry(unsigned int port, const char *token, const char *citizen, const char *section, json_t *body,
                  int64_t *seq, char err[64])
{
    char path[200];
    struct kc_resp r;
    snprintf(path, sizeof path, "/v1/citizens/%s/sections/%s/entries", citizen, section);
    int st = body ? kc_call(port, "POST", path, token, body, &r) : -1;
    if (st == 201 && seq)
        *seq = json_integer_value(json_object_get(r.json, "seq"));
    if (err)
        snprintf(err, 64, "%s", body ? r.error : "");
    if (body)
        kc_resp_free(&r);
    json_decref(body);
    return st;
}

long tt_entries_missing(unsigned int port, const struct kc_citizen *cz, const char *section, const struct tt_ack *acks,
                        size_t n, size_t *found)
{
    /* seq → statement id of what is stored; seqs of a section are dense from 1 */
    size_t cap = 1024, missing = 0, ok = 0;
    char **ids = calloc(cap, sizeof *ids);
    long result = -1;
    int64_t after = 0;
    if (!ids)
        return -1;
    for (;;) {
        char path[200];
        struct kc_resp r;
        snprintf(path, sizeof path, "/v1/citizens/%s/sections/%s/entries?after=%lld&limit=1000", cz->id, section,
                 (long long)after);
        if (kc_call(port, "GET", path, cz->token, NULL, &r) != 200) {
            kc_resp_free(&r);
            goto out;
        }
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(r.json, "entries"), i, e) {
            int64_t seq = json_integer_value(json_object_get(e, "seq"));
            struct kstmt st;
            struct jerr err;
            while (seq > 0 && (size_t)seq >= cap && seq < (1 << 24)) {
                char **more = realloc(ids, 2 * cap * sizeof *ids);
                if (!more)
                    break;
                memset(more + cap, 0, cap * sizeof *more);
                ids = more;
                cap *= 2;
            }
            if (seq > 0 && (size_t)seq < cap && !ids[seq] &&
                kstmt_open(&st, json_string_value(json_object_get(e, "statement")),
                           json_string_value(json_object_get(e, "signature")), "entry", &err) == 0) {
                ids[seq] = strdup(st.id);
                kstmt_free(&st);
            }
            after = seq;
        }
        int done = json_is_null(json_object_get(r.json, "next"));
        kc_resp_free(&r);
        if (done)
            break;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(acks[i].section, section) != 0)
            continue;
        if (acks[i].seq > 0 && (size_t)acks[i].seq < cap && ids[acks[i].seq] && !strcmp(ids[acks[i].seq], acks[i].id))
            ok++;
        else
            missing++;
    }
    *found = ok;
    result = (long)missing;
out:
    for (size_t s = 0; s < cap; s++)
        free(ids[s]);
    free(ids);
    return result;
}

int tt_journal_verifies(unsigned int port, const struct kc_citizen *cz, size_t *n_events)
{
    unsigned char head[32] = {0};
    uint64_t after = 0, count = 0;
    char served[64] = "";
    unsigned char *bytes = malloc(1 << 16);
    if (!bytes)
        return 0;
    for (;;) {
        char path[160];
        struct kc_resp r;
        snprintf(path, sizeof path, "/v1/citizens/%s/journal?after=%llu", cz->id, (unsigned long long)after);
        if (kc_call(port, "GET", path, cz->token, NULL, &r) != 200) {
            kc_resp_free(&r);
            free(bytes);
            return -1;
        }
        size_t i;
        json_t *ev;
        json_array_foreach(json_object_get(r.json, "events"), i, ev) {
            size_t blen = 0;
            const char *raw = json_string_value(json_object_get(ev, "raw"));
            if (!raw || b64_decode(bytes, 1 << 16, &blen, raw, strlen(raw)) != 0 ||
                (uint64_t)json_integer_value(json_object_get(ev, "seq")) != after + 1) {
                kc_resp_free(&r);
                free(bytes);
                return 0;
            }
            journal_chain(head, head, bytes, blen);
            after++;
        }
        count = (uint64_t)json_integer_value(json_object_get(r.json, "count"));
        snprintf(served, sizeof served, "%s", json_string_value(json_object_get(r.json, "head")));
        int done = json_is_null(json_object_get(r.json, "next"));
        kc_resp_free(&r);
        if (done)
            break;
    }
    free(bytes);
    char *mine = b64_encode(head, sizeof head);
    int ok = mine && after == count && !strcmp(mine, served);
    free(mine);
    if (n_events)
        *n_events = (size_t)after;
    return ok;
}

int tt_checkpoint(unsigned int port, const unsigned char log_pk[32], struct tt_cp *out)
{
    struct kc_resp r;
    int ok = kc_call(port, "GET", "/v1/log/checkpoint", NULL, NULL, &r) == 200 &&
             checkpoint_verify(&out->size, out->root, r.body, r.body_len, TT_ORIGIN, log_pk) == 0;
    kc_resp_free(&r);
    return ok ? 0 : -1;
}

int tt_log_verifies(unsigned int port, const char *auditor_token, const struct tt_cp *cp,
                    void (*each)(const char *leaf, size_t len, void *arg), void *arg)
{
    merkle_mem m;
    merkle_mem_init(&m);
    unsigned char *leaf = malloc(1 << 20);
    int ok = leaf != NULL;
    for (uint64_t start = 0; ok && start < cp->size;) {
        char path[160];
        struct kc_resp r;
        snprintf(path, sizeof path, "/v1/log/entries?start=%llu&end=%llu", (unsigned long long)start,
                 (unsigned long long)cp->size);
        ok = kc_call(port, "GET", path, auditor_token, NULL, &r) == 200;
        json_t *arr = json_object_get(r.json, "entries");
        ok = ok && json_array_size(arr) > 0;
        size_t i;
        json_t *e;
        json_array_foreach(arr, i, e) {
            const char *b = json_string_value(json_object_get(e, "leaf"));
            size_t len = 0;
            unsigned char lh[32];
            if (!ok || !b || (uint64_t)json_integer_value(json_object_get(e, "index")) != start ||
                b64_decode(leaf, (1 << 20) - 1, &len, b, strlen(b)) != 0) {
                ok = 0;
                break;
            }
            leaf[len] = 0;
            if (each)
                each((const char *)leaf, len, arg);
            merkle_hash_leaf(lh, leaf, len);
            ok = merkle_mem_append(&m, lh) == 0;
            start++;
        }
        kc_resp_free(&r);
    }
    unsigned char root[32];
    ok = ok && m.size == cp->size && merkle_tree_hash(root, cp->size, &m.reader) == MERKLE_OK &&
         memcmp(root, cp->root, 32) == 0;
    merkle_mem_free(&m);
    free(leaf);
    return ok;
}

int tt_consistent(unsigned int port, const struct tt_cp *old, const struct tt_cp *now)
{
    if (old->size > now->size)
        return 0;
    if (old->size == now->size)
        return memcmp(old->root, now->root, 32) == 0;
    char path[160];
    struct kc_resp r;
    unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES];
    size_t n = 0;
    snprintf(path, sizeof path, "/v1/log/proof/consistency?from=%llu&to=%llu", (unsigned long long)old->size,
             (unsigned long long)now->size);
    int ok = kc_call(port, "GET", path, NULL, NULL, &r) == 200;
    json_t *p = json_object_get(r.json, "path");
    ok = ok && json_array_size(p) <= MERKLE_MAX_PROOF;
    for (size_t i = 0; ok && i < json_array_size(p); i++, n++)
        ok = b64_decode_exact(proof[i], 32, json_string_value(json_array_get(p, i))) == 0;
    kc_resp_free(&r);
    return ok && merkle_verify_consistency(old->size, now->size, (const unsigned char(*)[32])proof, n, old->root,
                                           now->root) == 0;
}
