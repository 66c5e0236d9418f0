/*
 * tests/api/test_dossier.c — the dossier against a real kluisd with a client that does the crypto
 * (SPEC §4, §6, §9): enrolment → grants → the grantee reads the overview, unwraps its DEKs, checks
 * each key commitment in the citizen-signed epoch statement, decrypts the entries and checks each
 * entry statement's signature and blob_hash → a write grantee writes → revocation (403
 * grant_revoked) → rotation (409 missing_wraps, stale_epoch) → export → erasure → the journal chain
 * recomputed from `raw`, holding every kind of event. One test per refusal code of these
 * endpoints, a sweep of bad input (each refused with its code, nothing stored, the server keeps
 * serving), and — in-process, with a commit made to fail — 503 journal_unavailable for a read.
 */
#include "tests/test.h"
#include "tests/api/client.h"
#include "tests/api/harness.h"

#include <lmdb.h>
#include <sodium.h>
#include <time.h>

#include "api/api.h"
#include "vault/encoding.h"
#include "vault/journal.h"
#include "vault/secret.h"
#include "vault/statement.h"
#include "vault/vault.h"

TEST_MAIN_DEFS

#define MAX_EPOCHS 8

static struct kd K;
static struct kc_vault VI;
static char admin_tok[KC_TOKEN_MAX];
static struct kluis_keys *anna_k, *bas_k, *dave_k, *carla_k;
static char anna_tok[KC_TOKEN_MAX], bas_tok[KC_TOKEN_MAX], dave_tok[KC_TOKEN_MAX], carla_tok[KC_TOKEN_MAX];
static struct kc_citizen *b1, *b2;
static int64_t now0;
/* the citizen's client keeps the DEK of every epoch: deks[section index][epoch] */
static unsigned char (*deks)[MAX_EPOCHS + 1][KLUIS_KEY_BYTES];
static unsigned seqno;

/* ---------------------------------------------------------------- helpers */

static int sec_ix(const char *s)
{
    for (size_t i = 0; i < b1->n; i++)
        if (!strcmp(b1->section[i], s))
            return (int)i;
    return -1;
}

static int is_err(const struct kc_resp *r, int status, const char *code)
{
    int ok = r->status == status && !strcmp(r->error, code) && r->json && json_is_string(json_object_get(r->json, "message"));
    if (!ok)
        printf("# got %d %s: %.300s\n", r->status, r->error, r->body ? r->body : "");
    return ok;
}

static int expect(int status, const char *code, struct kc_resp *r)
{
    int ok = is_err(r, status, code);
    kc_resp_free(r);
    return ok;
}

static json_t *sign(json_t *obj, const unsigned char *sk)
{
    json_t *env = NULL;
    struct jerr err;
    if (kstmt_sign_json(&env, obj, sk, &err) != 0) {
        printf("# sign: %s (%s)\n", err.msg, err.field);
        env = NULL;
    }
    json_decref(obj);
    return env;
}

static json_t *jb64(const unsigned char *p, size_t n)
{
    char *s = b64_encode(p, n);
    json_t *j = json_string(s);
    free(s);
    return j;
}

/* An entry as its author's client makes it. */
struct espec {
    const char *id, *citizen, *section, *signer, *corrects, *text;
    uint64_t epoch;          /* also the DEK's epoch */
    int64_t issued;
    const unsigned char *sk; /* signing key */
    int bad_hash;            /* blob_hash over other bytes */
    int bad_sig;             /* signed with another key */
};

static json_t *entry_body(const struct espec *e)
{
    const char *section = e->section ? e->section : "plan";
    int k = sec_ix(section);
    char pt[512];
    snprintf(pt, sizeof pt, "{\"kind\":\"note\",\"title\":\"Gesprek\",\"body\":\"%s\",\"mime\":\"text/plain\"}",
             e->text ? e->text : "Keukentafelgesprek gevoerd.");
    size_t ptlen = strlen(pt), blen = ptlen + KLUIS_AEAD_OVERHEAD;
    unsigned char blob[600], h[32];
    const unsigned char *dek = deks[k < 0 ? 0 : k][e->epoch <= MAX_EPOCHS ? e->epoch : 1];
    /* an id outside the syntax cannot enter the associated data: encrypt under a stand-in */
    if (kluis_entry_encrypt(blob, (const unsigned char *)pt, ptlen, e->citizen ? e->citizen : "burger-1", section,
                            e->epoch, jspec_is_id(e->id) ? e->id : "x", dek) != 0)
        return NULL;
    if (kluis_blob_hash(h, blob, blen) != 0)
        return NULL;
    if (e->bad_hash)
        h[0] ^= 1;
    json_t *st = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:o}", "type", "entry", "id", e->id, "signer", e->signer,
                           "issued", (json_int_t)(e->issued ? e->issued : now0), "citizen",
                           e->citizen ? e->citizen : "burger-1", "section", section, "epoch", (json_int_t)e->epoch,
                           "blob_hash", jb64(h, 32));
    if (e->corrects)
        json_object_set_new(st, "corrects", json_string(e->corrects));
    json_t *env;
    if (jspec_is_id(e->id)) {
        env = sign(st, e->bad_sig ? b2->keys->sign_sk : e->sk);
    } else { /* kstmt_sign() refuses to sign what a vault must refuse: sign the raw bytes */
        char *bytes = json_dumps(st, JSON_COMPACT | JSON_PRESERVE_ORDER);
        unsigned char sig[KLUIS_SIG_BYTES];
        json_decref(st);
        env = bytes && kstmt_sign_raw(sig, (const unsigned char *)bytes, strlen(bytes), "entry", e->sk) == 0
                  ? json_pack("{s:o, s:o}", "statement", jb64((const unsigned char *)bytes, strlen(bytes)),
                              "signature", jb64(sig, sizeof sig))
                  : NULL;
        free(bytes);
    }
    if (env)
        json_object_set_new(env, "blob", jb64(blob, blen));
    return env;
}

static int post_entry_to(const char *token, const char *citizen, const char *section, json_t *body, struct kc_resp *r)
{
    char path[200];
    snprintf(path, sizeof path, "/v1/citizens/%s/sections/%s/entries", citizen, section);
    int st = kc_call(K.port, "POST", path, token, body, r);
    json_decref(body);
    return st;
}

static int post_entry(const char *token, const struct espec *e, struct kc_resp *r)
{
    return post_entry_to(token, e->citizen ? e->citizen : "burger-1", e->section ? e->section : "plan", entry_body(e),
                         r);
}

/* The citizen writes a fresh entry to SECTION under EPOCH: 201 expected; returns its seq or -1. */
static int64_t citizen_writes(const char *section, uint64_t epoch, const char *text)
{
    char id[64];
    struct kc_resp r;
    snprintf(id, sizeof id, "e-b1-%u", ++seqno);
    struct espec e = {.id = id, .section = section, .signer = "burger-1", .sk = b1->keys->sign_sk, .epoch = epoch,
                      .text = text};
    int64_t seq = -1;
    if (post_entry(b1->token, &e, &r) == 201)
        seq = json_integer_value(json_object_get(r.json, "seq"));
    else
        printf("# write %s: %d %s\n", id, r.status, r.error);
    kc_resp_free(&r);
    return seq;
}

static int get_entries(const char *token, const char *citizen, const char *section, const char *query,
                       struct kc_resp *r)
{
    char path[240];
    snprintf(path, sizeof path, "/v1/citizens/%s/sections/%s/entries%s", citizen, section, query ? query : "");
    return kc_call(K.port, "GET", path, token, NULL, r);
}

static int get_dossier(const char *token, const char *citizen, struct kc_resp *r)
{
    char path[160];
    snprintf(path, sizeof path, "/v1/citizens/%s/dossier", citizen);
    return kc_call(K.port, "GET", path, token, NULL, r);
}

static json_t *find_section(json_t *dossier, const char *s)
{
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(dossier, "sections"), i, x)
        if (!strcmp(json_string_value(json_object_get(x, "section")), s))
            return x;
    return NULL;
}

/* A grant of burger-1 to GRANTEE on the sections (NULL-terminated), wraps for every epoch. */
static int post_grant(const char *id, const char *grantee, const unsigned char *box_pk, const char *purpose,
                      const char *access, const char *const *sections, struct kc_resp *r)
{
    json_t *secs = json_array(), *wraps = json_array();
    for (int i = 0; sections[i]; i++) {
        json_array_append_new(secs, json_string(sections[i]));
        int k = sec_ix(sections[i]);
        for (uint64_t e = 1; e <= b1->epoch[k]; e++) {
            unsigned char w[KLUIS_WRAP_BYTES];
            if (kluis_wrap(w, deks[k][e], box_pk) != 0)
                return -1;
            json_array_append_new(wraps, json_pack("{s:s, s:I, s:o}", "section", sections[i], "epoch", (json_int_t)e,
                                                   "wrap", jb64(w, sizeof w)));
        }
    }
    json_t *env = sign(json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:o, s:s, s:s, s:I, s:I}", "type", "grant", "id", id,
                                 "signer", "burger-1", "issued", (json_int_t)now0, "citizen", "burger-1", "grantee",
                                 grantee, "sections", secs, "access", access, "purpose", purpose, "not_before",
                                 (json_int_t)(now0 - 60), "expires", (json_int_t)(now0 + 30 * 86400)),
                       b1->keys->sign_sk);
    json_object_set_new(env, "wraps", wraps);
    int st = kc_call(K.port, "POST", "/v1/citizens/burger-1/grants", b1->token, env, r);
    json_decref(env);
    return st;
}

static int post_revoke(const char *id, const char *grant, struct kc_resp *r)
{
    char path[160];
    json_t *env = sign(json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "type", "revoke", "id", id, "signer", "burger-1",
                                 "issued", (json_int_t)now0, "citizen", "burger-1", "grant", grant),
                       b1->keys->sign_sk);
    snprintf(path, sizeof path, "/v1/citizens/burger-1/grants/%s/revoke", grant);
    int st = kc_call(K.port, "POST", path, b1->token, env, r);
    json_decref(env);
    return st;
}

/* Rotation of SECTION to EPOCH: a fresh DEK (kept when STORE), wraps for the N grants of GRANTS/BOX. */
struct rspec {
    const char *section;
    uint64_t epoch, stmt_epoch;
    const char *grants[4];
    const unsigned char *box[4];
    const char *token;
    const char *stmt_id;
};

static json_t *rotate_body(const struct rspec *rs, unsigned char dek[KLUIS_KEY_BYTES])
{
    unsigned char w[KLUIS_WRAP_BYTES], esc[KLUIS_ESCROW_BYTES];
    randombytes_buf(dek, KLUIS_KEY_BYTES);
    json_t *env = kc_epoch_statement(b1, rs->section, rs->stmt_epoch ? rs->stmt_epoch : rs->epoch, dek, rs->stmt_id,
                                     now0);
    if (!env || kluis_wrap(w, dek, b1->keys->box_pk) != 0 ||
        kluis_escrow_seal(esc, dek, VI.authority_pk, VI.gate_pk) != 0)
        return NULL;
    json_t *gw = json_array();
    for (int i = 0; i < 4 && rs->grants[i]; i++) {
        unsigned char g[KLUIS_WRAP_BYTES];
        if (kluis_wrap(g, dek, rs->box[i]) != 0)
            return NULL;
        json_array_append_new(gw, json_pack("{s:s, s:o}", "grant", rs->grants[i], "wrap", jb64(g, sizeof g)));
    }
    json_object_set_new(env, "epoch", json_integer((json_int_t)rs->epoch));
    json_object_set_new(env, "self_wrap", jb64(w, sizeof w));
    json_object_set_new(env, "escrow_wrap", jb64(esc, sizeof esc));
    json_object_set_new(env, "grant_wraps", gw);
    return env;
}

static int post_rotate_body(const char *token, const char *section, json_t *body, struct kc_resp *r)
{
    char path[160];
    snprintf(path, sizeof path, "/v1/citizens/burger-1/sections/%s/rotate", section);
    int st = kc_call(K.port, "POST", path, token, body, r);
    json_decref(body);
    return st;
}

/* Rotate; on 200 the client adopts the new DEK. */
static int rotate(const struct rspec *rs, struct kc_resp *r)
{
    unsigned char dek[KLUIS_KEY_BYTES];
    int st = post_rotate_body(rs->token ? rs->token : b1->token, rs->section, rotate_body(rs, dek), r);
    int k = sec_ix(rs->section);
    if (st == 200 && rs->epoch <= MAX_EPOCHS) {
        memcpy(deks[k][rs->epoch], dek, sizeof dek);
        memcpy(b1->dek[k], dek, sizeof dek);
        b1->epoch[k] = rs->epoch;
    }
    sodium_memzero(dek, sizeof dek);
    return st;
}

/*
 * What a grantee's (or the citizen's) client does with the overview of SECTION: for every epoch,
 * verify the citizen-signed epoch statement, unwrap the DEK with BOX_SK, check the commitment.
 * Fills DEK_OUT[epoch]. Returns the number of epochs that passed, -1 when any failed.
 */
static int open_epochs(json_t *sec, const char *section, const unsigned char *box_sk,
                       unsigned char dek_out[MAX_EPOCHS + 1][KLUIS_KEY_BYTES])
{
    size_t i;
    json_t *ep;
    int n = 0;
    json_array_foreach(json_object_get(sec, "epochs"), i, ep) {
        struct kstmt st;
        struct jerr err;
        unsigned char w[KLUIS_WRAP_BYTES], dek[KLUIS_KEY_BYTES];
        uint64_t e = (uint64_t)json_integer_value(json_object_get(ep, "epoch"));
        if (e == 0 || e > MAX_EPOCHS ||
            kstmt_verify(&st, json_string_value(json_object_get(ep, "statement")),
                         json_string_value(json_object_get(ep, "signature")), "epoch", "burger-1", b1->keys->sign_pk,
                         now0, &err) != 0)
            return -1;
        int ok = (uint64_t)st.epoch == e && !strcmp(st.section, section) && !strcmp(st.citizen, "burger-1") &&
                 b64_decode_exact(w, sizeof w, json_string_value(json_object_get(ep, "wrap"))) == 0 &&
                 kluis_unwrap(dek, w, box_sk) == 0 && kluis_key_commit_check(st.commit, "burger-1", section, e, dek) == 0;
        kstmt_free(&st);
        if (!ok)
            return -1;
        memcpy(dek_out[e], dek, sizeof dek);
        n++;
    }
    return n;
}

/* Check and decrypt every entry of a page: statement signature by its author (KEYS by signer id),
 * blob_hash, decryption under the epoch's DEK. Returns how many passed, -1 when any failed. */
static const unsigned char *author_pk(const char *id)
{
    if (!strcmp(id, "burger-1"))
        return b1->keys->sign_pk;
    if (!strcmp(id, "wijk-bas"))
        return bas_k->sign_pk;
    if (!strcmp(id, "wijk-anna"))
        return anna_k->sign_pk;
    return NULL;
}

static int open_entries(json_t *page, const char *section, unsigned char dek[MAX_EPOCHS + 1][KLUIS_KEY_BYTES],
                        char *last_text, size_t last_len)
{
    size_t i;
    json_t *en;
    int n = 0;
    json_array_foreach(json_object_get(page, "entries"), i, en) {
        struct kstmt st;
        struct jerr err;
        const char *sb = json_string_value(json_object_get(en, "statement"));
        if (kstmt_open(&st, sb, json_string_value(json_object_get(en, "signature")), "entry", &err) != 0)
            return -1;
        const unsigned char *pk = author_pk(st.signer);
        unsigned char blob[1024], h[32], pt[1024];
        size_t blen = 0, ptlen = 0;
        const char *b = json_string_value(json_object_get(en, "blob"));
        int ok = pk && kstmt_check_signature(&st, pk, &err) == 0 && st.epoch >= 1 && st.epoch <= MAX_EPOCHS &&
                 !strcmp(st.section, section) && b && b64_decode(blob, sizeof blob, &blen, b, strlen(b)) == 0 &&
                 kluis_blob_hash(h, blob, blen) == 0 && sodium_memcmp(h, st.blob_hash, 32) == 0 &&
                 kluis_entry_decrypt(pt, &ptlen, blob, blen, "burger-1", section, (uint64_t)st.epoch, st.id,
                                     dek[st.epoch]) == 0;
        kstmt_free(&st);
        if (!ok)
            return -1;
        if (last_text)
            snprintf(last_text, last_len, "%.*s", (int)ptlen, (const char *)pt);
        n++;
    }
    return n;
}

/* The citizen's whole journal, paged with LIMIT, its chain recomputed from raw. Returns the events
 * (json array, caller decrefs) or NULL when the chain does not reach the served head. */
static json_t *journal_all(unsigned int port, size_t limit, int *verified)
{
    unsigned char head[32] = {0};
    uint64_t after = 0, count = 0;
    json_t *all = json_array();
    char served_head[64] = "";
    *verified = 0;
    for (;;) {
        char path[160];
        struct kc_resp r;
        snprintf(path, sizeof path, "/v1/citizens/burger-1/journal?after=%llu&limit=%zu", (unsigned long long)after,
                 limit);
        if (kc_call(port, "GET", path, b1->token, NULL, &r) != 200) {
            kc_resp_free(&r);
            json_decref(all);
            return NULL;
        }
        size_t i;
        json_t *ev;
        json_array_foreach(json_object_get(r.json, "events"), i, ev) {
            const char *raw = json_string_value(json_object_get(ev, "raw"));
            unsigned char bytes[4096];
            size_t blen = 0;
            if (!raw || b64_decode(bytes, sizeof bytes, &blen, raw, strlen(raw)) != 0 ||
                (uint64_t)json_integer_value(json_object_get(ev, "seq")) != after + 1) {
                kc_resp_free(&r);
                json_decref(all);
                return NULL;
            }
            journal_chain(head, head, bytes, blen);
            after++;
            json_array_append(all, ev);
        }
        count = (uint64_t)json_integer_value(json_object_get(r.json, "count"));
        snprintf(served_head, sizeof served_head, "%s", json_string_value(json_object_get(r.json, "head")));
        int done = json_is_null(json_object_get(r.json, "next"));
        kc_resp_free(&r);
        if (done)
            break;
    }
    char *mine = b64_encode(head, sizeof head);
    *verified = after == count && mine && !strcmp(mine, served_head);
    free(mine);
    return all;
}

static int count_events(json_t *all, const char *action, const char *result_prefix, const char *actor)
{
    size_t i;
    json_t *ev;
    int n = 0;
    json_array_foreach(all, i, ev) {
        const char *a = json_string_value(json_object_get(ev, "action"));
        const char *res = json_string_value(json_object_get(ev, "result"));
        const char *who = json_string_value(json_object_get(ev, "actor"));
        if ((!action || (a && !strcmp(a, action))) &&
            (!result_prefix || (res && !strncmp(res, result_prefix, strlen(result_prefix)))) &&
            (!actor || (who && !strcmp(who, actor))))
            n++;
    }
    return n;
}

static uint64_t journal_count(void)
{
    struct kc_resp r;
    uint64_t n = UINT64_MAX;
    if (kc_call(K.port, "GET", "/v1/citizens/burger-1/journal?limit=1", b1->token, NULL, &r) == 200)
        n = (uint64_t)json_integer_value(json_object_get(r.json, "count"));
    kc_resp_free(&r);
    return n;
}

static long log_size(void)
{
    struct kc_resp r;
    long n = -1;
    if (kc_call(K.port, "GET", "/v1/log/checkpoint", NULL, NULL, &r) == 200 && r.body) {
        const char *nl = strchr(r.body, '\n');
        if (nl)
            n = strtol(nl + 1, NULL, 10);
    }
    kc_resp_free(&r);
    return n;
}

/* ---------------------------------------------------------------- the flow */

static const char *const S_PLAN_WONEN[] = {"plan", "wonen", NULL};
static const char *const S_SCHULDEN[] = {"schulden", "werk-inkomen", NULL};

static void test_citizen_own(void)
{
    struct kc_resp r;
    CHECK(citizen_writes("plan", 1, "Eerste notitie.") == 1, "the citizen writes to own section: 201 {seq 1}");
    CHECK(citizen_writes("plan", 1, "Tweede notitie.") == 2, "...next write gets seq 2");
    CHECK(get_dossier(b1->token, "burger-1", &r) == 200, "the citizen reads the dossier overview");
    json_t *plan = find_section(r.json, "plan");
    unsigned char dk[MAX_EPOCHS + 1][KLUIS_KEY_BYTES];
    CHECK(json_array_size(json_object_get(r.json, "sections")) == b1->n &&
              !strcmp(json_string_value(json_object_get(r.json, "citizen")), "burger-1") && plan &&
              json_integer_value(json_object_get(plan, "current_epoch")) == 1 &&
              json_integer_value(json_object_get(plan, "entries")) == 2,
          "overview: every section, with current_epoch and the entry count");
    CHECK(open_epochs(plan, "plan", b1->keys->box_sk, dk) == 1 && !memcmp(dk[1], deks[sec_ix("plan")][1], 32),
          "the citizen's self wrap opens with the citizen's box key and matches the signed commitment");
    kc_resp_free(&r);
    CHECK(get_entries(b1->token, "burger-1", "plan", NULL, &r) == 200, "the citizen reads own entries");
    char text[600];
    CHECK(open_entries(r.json, "plan", dk, text, sizeof text) == 2 && strstr(text, "Tweede notitie.") &&
              json_is_null(json_object_get(r.json, "next")),
          "entries decrypt, statements verify, blob_hash matches; next is null on the last page");
    kc_resp_free(&r);
    get_entries(b1->token, "burger-1", "no-such-section", NULL, &r);
    CHECK(expect(404, "not_found", &r), "entries of a section the dossier does not have → 404 not_found");
}

static void test_grants_and_reads(void)
{
    struct kc_resp r;
    CHECK(post_grant("g-anna", "wijk-anna", anna_k->box_pk, "ondersteuning", "read", S_PLAN_WONEN, &r) == 201,
          "grant: anna may read plan and wonen");
    kc_resp_free(&r);
    CHECK(post_grant("g-bas", "wijk-bas", bas_k->box_pk, "schuldhulp", "write", S_SCHULDEN, &r) == 201,
          "grant: bas may write schulden and werk-inkomen");
    kc_resp_free(&r);

    CHECK(get_dossier(anna_tok, "burger-1", &r) == 200, "the grantee reads the overview");
    json_t *secs = json_object_get(r.json, "sections");
    json_t *plan = find_section(r.json, "plan");
    unsigned char dk[MAX_EPOCHS + 1][KLUIS_KEY_BYTES];
    unsigned char spk[32];
    CHECK(json_array_size(secs) == 2 && plan && find_section(r.json, "wonen") && !find_section(r.json, "schulden"),
          "the grantee's overview holds exactly the granted sections");
    CHECK(b64_decode_exact(spk, 32, json_string_value(json_object_get(r.json, "sign_pk"))) == 0 &&
              !memcmp(spk, b1->keys->sign_pk, 32),
          "the overview names the citizen's signing key (to verify the epoch statements)");
    CHECK(open_epochs(plan, "plan", anna_k->box_sk, dk) == 1, "the grantee unwraps the DEK with its own box key and "
                                                              "checks the commitment of the citizen-signed epoch statement");
    unsigned char w[KLUIS_WRAP_BYTES], x[32];
    json_t *ep0 = json_array_get(json_object_get(plan, "epochs"), 0);
    CHECK(b64_decode_exact(w, sizeof w, json_string_value(json_object_get(ep0, "wrap"))) == 0 &&
              kluis_unwrap(x, w, b1->keys->box_sk) != 0,
          "the wrap served to the grantee is the grant's, not the citizen's self wrap");
    kc_resp_free(&r);

    CHECK(get_entries(anna_tok, "burger-1", "plan", NULL, &r) == 200, "the grantee reads the entries");
    CHECK(open_entries(r.json, "plan", dk, NULL, 0) == 2, "the grantee decrypts and verifies every entry");
    kc_resp_free(&r);

    /* paging */
    CHECK(citizen_writes("plan", 1, "Derde.") == 3, "a third entry");
    CHECK(get_entries(anna_tok, "burger-1", "plan", "?limit=2", &r) == 200 &&
              json_array_size(json_object_get(r.json, "entries")) == 2 &&
              json_integer_value(json_object_get(r.json, "next")) == 2,
          "limit=2: two entries, next = 2");
    kc_resp_free(&r);
    CHECK(get_entries(anna_tok, "burger-1", "plan", "?after=2&limit=2", &r) == 200 &&
              json_array_size(json_object_get(r.json, "entries")) == 1 &&
              json_integer_value(json_object_get(json_array_get(json_object_get(r.json, "entries"), 0), "seq")) == 3 &&
              json_is_null(json_object_get(r.json, "next")),
          "after=2: the third entry, next null");
    kc_resp_free(&r);
    get_entries(anna_tok, "burger-1", "plan", "?limit=0", &r);
    CHECK(expect(400, "bad_request", &r), "limit=0 → 400 bad_request");
    get_entries(anna_tok, "burger-1", "plan", "?limit=1001", &r);
    CHECK(expect(400, "bad_request", &r), "limit=1001 (over the documented 1000) → 400 bad_request");
    get_entries(anna_tok, "burger-1", "plan", "?after=-1", &r);
    CHECK(expect(400, "bad_request", &r), "after=-1 → 400 bad_request");

    /* the access rule, each refusal with its code */
    get_entries(anna_tok, "burger-1", "schulden", NULL, &r);
    CHECK(expect(403, "section_not_granted", &r), "read of a section no grant covers → 403 section_not_granted");
    get_entries(dave_tok, "burger-1", "plan", NULL, &r);
    CHECK(expect(403, "no_grant", &r), "read by a professional without grant → 403 no_grant");
    get_dossier(dave_tok, "burger-1", &r);
    CHECK(expect(403, "no_grant", &r), "overview by a professional without grant → 403 no_grant");
    get_dossier(dave_tok, "burger-ghost", &r);
    CHECK(expect(403, "no_grant", &r), "overview of an unknown citizen: the same 403 no_grant");
    get_entries(b2->token, "burger-1", "plan", NULL, &r);
    CHECK(expect(403, "forbidden", &r), "read by another citizen → 403 forbidden");
    get_dossier(carla_tok, "burger-1", &r);
    CHECK(expect(403, "forbidden", &r), "overview by a mayor without override → 403 forbidden");
    get_entries(NULL, "burger-1", "plan", NULL, &r);
    CHECK(expect(401, "unauthenticated", &r), "read without a session → 401 unauthenticated");
    get_dossier("bWFkZS11cC10b2tlbi1tYWRlLXVwLXRva2VuLW1hZGUtdXA", "burger-1", &r);
    CHECK(expect(401, "unauthenticated", &r), "overview with a made-up token → 401 unauthenticated");
}

static void test_writes(void)
{
    struct kc_resp r;
    struct espec ok = {.id = "e-bas-1", .section = "schulden", .signer = "wijk-bas", .sk = bas_k->sign_sk, .epoch = 1,
                       .text = "Schuldenoverzicht opgesteld."};
    CHECK(post_entry(bas_tok, &ok, &r) == 201 && json_integer_value(json_object_get(r.json, "seq")) == 1,
          "the write grantee writes: 201 {seq 1}");
    kc_resp_free(&r);

    struct espec e = ok;
    e.id = "e-anna-1";
    e.section = "plan";
    e.signer = "wijk-anna";
    e.sk = anna_k->sign_sk;
    post_entry(anna_tok, &e, &r);
    CHECK(expect(403, "write_not_allowed", &r), "write under a read grant → 403 write_not_allowed");
    e = ok;
    e.id = "e-bas-x";
    e.section = "plan";
    post_entry(bas_tok, &e, &r);
    CHECK(expect(403, "section_not_granted", &r), "write to a section the grant does not cover → 403");
    post_entry(dave_tok, &(struct espec){.id = "e-dave", .section = "schulden", .signer = "wijk-dave",
                                         .sk = dave_k->sign_sk, .epoch = 1},
               &r);
    CHECK(expect(403, "no_grant", &r), "write by a professional without grant → 403 no_grant");

    e = ok;
    e.id = "e-bas-2";
    e.epoch = 2;
    post_entry(bas_tok, &e, &r);
    CHECK(expect(409, "stale_epoch", &r), "write under an epoch that is not the current one → 409 stale_epoch");
    e = ok;
    e.id = "e-bas-2";
    e.bad_hash = 1;
    post_entry(bas_tok, &e, &r);
    CHECK(expect(400, "bad_statement", &r), "blob_hash not over the blob → 400 bad_statement");
    e = ok;
    e.id = "e-bas-2";
    e.citizen = "burger-2";
    post_entry_to(bas_tok, "burger-1", "schulden", entry_body(&e), &r);
    CHECK(expect(400, "bad_statement", &r), "statement citizen differs from the URL → 400 bad_statement");
    e = ok;
    e.id = "e-bas-2";
    post_entry_to(bas_tok, "burger-1", "werk-inkomen", entry_body(&e), &r);
    CHECK(expect(400, "bad_statement", &r), "statement section differs from the URL → 400 bad_statement");
    e = ok;
    e.id = "e-bas-2";
    e.bad_sig = 1;
    post_entry(bas_tok, &e, &r);
    CHECK(expect(401, "bad_signature", &r), "entry statement signed with another key → 401 bad_signature");
    e = ok;
    e.id = "e-bas-2";
    e.signer = "burger-1";
    e.sk = b1->keys->sign_sk;
    post_entry(bas_tok, &e, &r);
    CHECK(r.status == 400 || r.status == 401, "entry signed by someone else than the caller → refused (%d)", r.status);
    kc_resp_free(&r);
    e = ok;
    e.id = "e-bas-2";
    e.corrects = "e-nope";
    post_entry(bas_tok, &e, &r);
    CHECK(expect(400, "bad_statement", &r), "corrects naming no entry of the section → 400 bad_statement");
    e.corrects = "e-b1-1"; /* an entry of plan, not of schulden */
    post_entry(bas_tok, &e, &r);
    CHECK(expect(400, "bad_statement", &r), "corrects naming an entry of another section → 400 bad_statement");
    e.corrects = "e-bas-1";
    CHECK(post_entry(bas_tok, &e, &r) == 201 && json_integer_value(json_object_get(r.json, "seq")) == 2,
          "a correction naming an entry of the section → 201 {seq 2}");
    kc_resp_free(&r);
    post_entry(bas_tok, &ok, &r);
    CHECK(expect(409, "replay", &r), "the same entry statement again → 409 replay");
    e = ok;
    e.id = "e-bas-3";
    e.issued = now0 + 3600;
    post_entry(bas_tok, &e, &r);
    CHECK(expect(400, "bad_statement", &r), "entry issued an hour ahead → 400 bad_statement");
    e.issued = now0 - 2 * 86400;
    post_entry(bas_tok, &e, &r);
    CHECK(expect(400, "bad_statement", &r), "entry issued two days ago → 400 bad_statement");
    e = ok;
    e.id = "e-bas-3";
    post_entry_to(bas_tok, "burger-1", "no-such", entry_body(&(struct espec){.id = "e-bas-3", .section = "no-such",
                                                                            .signer = "wijk-bas", .sk = bas_k->sign_sk,
                                                                            .epoch = 1}),
                  &r);
    CHECK(r.status == 403 || r.status == 404, "write to a section that does not exist → refused (%d)", r.status);
    kc_resp_free(&r);
    /* a blob over 1 MiB */
    json_t *big = entry_body(&(struct espec){.id = "e-big", .section = "plan", .signer = "burger-1",
                                             .sk = b1->keys->sign_sk, .epoch = 1});
    size_t n = 1024 * 1024 + 64;
    unsigned char *blob = calloc(1, n);
    json_object_set_new(big, "blob", jb64(blob, n));
    free(blob);
    post_entry_to(b1->token, "burger-1", "plan", big, &r);
    CHECK(expect(413, "too_large", &r), "a blob over the documented 1 MiB → 413 too_large");
    e = ok;
    e.id = "e-bas-3";
    json_t *bad = entry_body(&e);
    json_object_set_new(bad, "blob", json_string("AAAA*AAA"));
    post_entry_to(bas_tok, "burger-1", "schulden", bad, &r);
    CHECK(expect(400, "bad_encoding", &r), "a blob that is not base64url → 400 bad_encoding");
}

static void test_revoke_and_rotate(void)
{
    struct kc_resp r;
    CHECK(post_revoke("rv-anna", "g-anna", &r) == 200, "the citizen revokes anna's grant");
    kc_resp_free(&r);
    get_entries(anna_tok, "burger-1", "plan", NULL, &r);
    CHECK(expect(403, "grant_revoked", &r), "the revoked grantee's next read → 403 grant_revoked");
    get_dossier(anna_tok, "burger-1", &r);
    CHECK(expect(403, "grant_revoked", &r), "...and the overview → 403 grant_revoked");

    /* rotation of schulden, on which bas's grant is live */
    struct rspec rs = {.section = "schulden", .epoch = 2};
    rotate(&rs, &r);
    CHECK(expect(409, "missing_wraps", &r), "rotation without a wrap for the live grant → 409 missing_wraps");
    rs.grants[0] = "g-bas";
    rs.box[0] = bas_k->box_pk;
    rs.grants[1] = "g-anna";
    rs.box[1] = anna_k->box_pk;
    rotate(&rs, &r);
    CHECK(expect(400, "bad_request", &r), "a wrap for a grant that is not live on the section → 400 bad_request");
    rs.grants[1] = NULL;
    rs.epoch = 3;
    rotate(&rs, &r);
    CHECK(expect(409, "conflict", &r), "rotation skipping an epoch → 409 conflict");
    rs.epoch = 2;
    rs.stmt_epoch = 3;
    rotate(&rs, &r);
    CHECK(expect(400, "bad_statement", &r), "epoch statement naming another epoch than the body → 400 bad_statement");
    rs.stmt_epoch = 0;
    rs.token = bas_tok;
    rotate(&rs, &r);
    CHECK(expect(403, "forbidden", &r), "rotation by a grantee → 403 forbidden");
    rs.token = NULL;
    rs.stmt_id = "ep-rot-schulden-2";
    CHECK(rotate(&rs, &r) == 200 && json_integer_value(json_object_get(r.json, "epoch")) == 2,
          "rotation to epoch 2 with a wrap for every live grant → 200");
    kc_resp_free(&r);
    rs.epoch = 3;
    rotate(&rs, &r);
    CHECK(expect(409, "replay", &r), "an epoch statement id used before → 409 replay");
    rs.stmt_id = NULL;
    rs.epoch = 2;
    rotate(&rs, &r);
    CHECK(expect(409, "stale_epoch", &r), "rotating to an epoch the section already has → 409 stale_epoch");
    json_t *bad = rotate_body(&(struct rspec){.section = "schulden", .epoch = 3}, (unsigned char[32]){0});
    json_object_set_new(bad, "self_wrap", json_string("AAAA"));
    post_rotate_body(b1->token, "schulden", bad, &r);
    CHECK(expect(400, "bad_encoding", &r), "rotation with a self wrap of the wrong length → 400 bad_encoding");
    bad = rotate_body(&(struct rspec){.section = "no-such", .epoch = 2}, (unsigned char[32]){0});
    post_rotate_body(b1->token, "no-such", bad, &r);
    CHECK(expect(404, "not_found", &r), "rotation of a section the dossier does not have → 404 not_found");

    struct espec old = {.id = "e-bas-old", .section = "schulden", .signer = "wijk-bas", .sk = bas_k->sign_sk,
                        .epoch = 1};
    post_entry(bas_tok, &old, &r);
    CHECK(expect(409, "stale_epoch", &r), "a write under the old epoch after rotation → 409 stale_epoch");
    struct espec cur = old;
    cur.id = "e-bas-new";
    cur.epoch = 2;
    cur.text = "Onder de nieuwe sleutel.";
    CHECK(post_entry(bas_tok, &cur, &r) == 201 && json_integer_value(json_object_get(r.json, "seq")) == 3,
          "a write under the new epoch → 201 {seq 3}");
    kc_resp_free(&r);

    CHECK(get_dossier(bas_tok, "burger-1", &r) == 200, "bas reads the overview after rotation");
    unsigned char dk[MAX_EPOCHS + 1][KLUIS_KEY_BYTES];
    json_t *sch = find_section(r.json, "schulden");
    CHECK(sch && json_integer_value(json_object_get(sch, "current_epoch")) == 2 &&
              open_epochs(sch, "schulden", bas_k->box_sk, dk) == 2,
          "bas has a verified wrap for both epochs of schulden");
    kc_resp_free(&r);
    char text[600];
    CHECK(get_entries(bas_tok, "burger-1", "schulden", NULL, &r) == 200 &&
              open_entries(r.json, "schulden", dk, text, sizeof text) == 3 && strstr(text, "nieuwe sleutel"),
          "bas decrypts entries of both epochs");
    kc_resp_free(&r);
}

static void test_export(void)
{
    struct kc_resp r;
    kc_call(K.port, "GET", "/v1/citizens/burger-1/export", bas_tok, NULL, &r);
    CHECK(expect(403, "forbidden", &r), "export by a grantee → 403 forbidden");
    kc_call(K.port, "GET", "/v1/citizens/burger-1/export", b2->token, NULL, &r);
    CHECK(expect(403, "forbidden", &r), "export by another citizen → 403 forbidden");
    CHECK(kc_call(K.port, "GET", "/v1/citizens/burger-1/export", b1->token, NULL, &r) == 200, "the citizen exports");
    json_t *x = r.json;
    json_t *cz = json_object_get(x, "citizen");
    unsigned char pk[32];
    CHECK(cz && !strcmp(json_string_value(json_object_get(cz, "id")), "burger-1") &&
              b64_decode_exact(pk, 32, json_string_value(json_object_get(cz, "sign_pk"))) == 0 &&
              !memcmp(pk, b1->keys->sign_pk, 32) && !json_object_get(cz, "bundle") && !json_object_get(cz, "auth_hash"),
          "export: the citizen record's public parts (no bundle, no auth hash)");
    json_t *sch = NULL, *s;
    size_t i;
    json_array_foreach(json_object_get(x, "sections"), i, s)
        if (!strcmp(json_string_value(json_object_get(s, "section")), "schulden"))
            sch = s;
    CHECK(json_array_size(json_object_get(x, "sections")) == b1->n && sch &&
              json_array_size(json_object_get(sch, "epochs")) == 2 &&
              json_array_size(json_object_get(sch, "entries")) == 3 &&
              json_is_string(json_object_get(json_array_get(json_object_get(sch, "epochs"), 0), "escrow_wrap")) &&
              json_is_string(json_object_get(json_array_get(json_object_get(sch, "entries"), 0), "blob")),
          "export: every section with its epochs (self and escrow wraps) and entries (with blobs)");
    json_t *grants = json_object_get(x, "grants"), *ga = NULL, *gb = NULL;
    json_array_foreach(grants, i, s) {
        if (!strcmp(json_string_value(json_object_get(s, "id")), "g-anna"))
            ga = s;
        if (!strcmp(json_string_value(json_object_get(s, "id")), "g-bas"))
            gb = s;
    }
    CHECK(ga && gb && !strcmp(json_string_value(json_object_get(ga, "state")), "revoked") &&
              json_is_string(json_object_get(ga, "revoke_statement")) &&
              json_array_size(json_object_get(ga, "wraps")) == 0 &&
              json_array_size(json_object_get(gb, "wraps")) == 3 && json_is_string(json_object_get(gb, "statement")),
          "export: grants with statements, the revoked one without wraps, the live one with its three wraps");
    json_t *jr = json_object_get(x, "journal");
    json_t *ev0 = json_array_get(json_object_get(jr, "events"), 0);
    CHECK(json_is_array(json_object_get(x, "requests")) && jr && json_is_string(json_object_get(jr, "head")) &&
              json_integer_value(json_object_get(jr, "count")) ==
                  (json_int_t)json_array_size(json_object_get(jr, "events")) &&
              json_is_string(json_object_get(ev0, "raw")),
          "export: requests, and the full journal with raw and head");
    kc_resp_free(&r);
}

static void test_erase(void)
{
    struct kc_resp r;
    kc_call(K.port, "DELETE", "/v1/citizens/burger-1/sections/schulden", bas_tok, NULL, &r);
    CHECK(expect(403, "forbidden", &r), "erasure by a grantee → 403 forbidden");
    kc_call(K.port, "DELETE", "/v1/citizens/burger-1/sections/no-such", b1->token, NULL, &r);
    CHECK(expect(404, "not_found", &r), "erasure of a section the dossier does not have → 404 not_found");
    CHECK(kc_call(K.port, "DELETE", "/v1/citizens/burger-1/sections/schulden", b1->token, NULL, &r) == 200 &&
              json_integer_value(json_object_get(json_object_get(r.json, "destroyed"), "entries")) == 3 &&
              json_integer_value(json_object_get(json_object_get(r.json, "destroyed"), "epochs")) == 2 &&
              json_integer_value(json_object_get(json_object_get(r.json, "destroyed"), "wraps")) == 2 * 2 + 2,
          "erasure: 3 entries, 2 epochs, their self and escrow wraps and bas's 2 grant wraps destroyed");
    kc_resp_free(&r);
    CHECK(get_entries(b1->token, "burger-1", "schulden", NULL, &r) == 200 &&
              json_array_size(json_object_get(r.json, "entries")) == 0,
          "after erasure the section has no entries");
    kc_resp_free(&r);
    CHECK(get_dossier(b1->token, "burger-1", &r) == 200, "overview after erasure");
    json_t *sch = find_section(r.json, "schulden");
    CHECK(sch && json_array_size(json_object_get(sch, "epochs")) == 0 &&
              json_integer_value(json_object_get(sch, "entries")) == 0 &&
              json_integer_value(json_object_get(sch, "current_epoch")) == 2,
          "the section stays, with no epoch record and no entries (current_epoch kept: numbers are never reused)");
    kc_resp_free(&r);
    get_dossier(bas_tok, "burger-1", &r);
    sch = find_section(r.json, "schulden");
    CHECK(r.status == 200 && sch && json_array_size(json_object_get(sch, "epochs")) == 0,
          "the grantee gets no wrap of the erased section any more");
    kc_resp_free(&r);
    post_entry(bas_tok, &(struct espec){.id = "e-after-erase", .section = "schulden", .signer = "wijk-bas",
                                        .sk = bas_k->sign_sk, .epoch = 2},
               &r);
    CHECK(expect(409, "stale_epoch", &r), "a write to an erased section before rotation → 409 stale_epoch");
    struct rspec rs = {.section = "schulden", .epoch = 3, .grants = {"g-bas"}, .box = {bas_k->box_pk}};
    CHECK(rotate(&rs, &r) == 200, "the citizen rotates the erased section to epoch 3 with a fresh key");
    kc_resp_free(&r);
    CHECK(post_entry(bas_tok, &(struct espec){.id = "e-after-erase", .section = "schulden", .signer = "wijk-bas",
                                              .sk = bas_k->sign_sk, .epoch = 3},
                     &r) == 201 &&
              json_integer_value(json_object_get(r.json, "seq")) == 4,
          "writes resume under the new epoch, seq continuing (4: never reused)");
    kc_resp_free(&r);
}

static void test_journal(void)
{
    struct kc_resp r;
    kc_call(K.port, "GET", "/v1/citizens/burger-1/journal", bas_tok, NULL, &r);
    CHECK(expect(403, "forbidden", &r), "the journal by a grantee → 403 forbidden");
    kc_call(K.port, "GET", "/v1/citizens/burger-1/journal", b2->token, NULL, &r);
    CHECK(expect(403, "forbidden", &r), "the journal by another citizen → 403 forbidden");
    kc_call(K.port, "GET", "/v1/citizens/burger-1/journal?limit=5000", b1->token, NULL, &r);
    CHECK(expect(400, "bad_request", &r), "journal limit over the documented 1000 → 400 bad_request");
    int verified = 0;
    json_t *all = journal_all(K.port, 7, &verified);
    CHECK(all && verified, "the journal, paged 7 at a time, recomputes from raw to the served head (%zu events)",
          json_array_size(all));
    CHECK(count_events(all, "read", "allowed", "wijk-anna") >= 2 && count_events(all, "read", "allowed", "burger-1") >= 2 &&
              count_events(all, "write", "allowed", "wijk-bas") == 4 &&
              count_events(all, "write", "allowed", "burger-1") == 3 && count_events(all, "grant", "allowed", NULL) == 2 &&
              count_events(all, "revoke", "allowed", NULL) == 1 && count_events(all, "rotate", "allowed", NULL) == 2 &&
              count_events(all, "export", "allowed", NULL) == 1 && count_events(all, "erase", "allowed", NULL) == 1,
          "the journal holds read, write, grant, revoke, rotate, export and erase events");
    CHECK(count_events(all, "read", "denied:grant_revoked", "wijk-anna") == 2 &&
              count_events(all, "read", "denied:no_grant", "wijk-dave") == 2 &&
              count_events(all, "write", "denied:write_not_allowed", "wijk-anna") == 1 &&
              count_events(all, "read", "denied:forbidden", NULL) >= 2,
          "...and every denied attempt with its code");
    /* the fields of one read event */
    size_t i;
    json_t *ev, *one = NULL;
    json_array_foreach(all, i, ev)
        if (!one && !strcmp(json_string_value(json_object_get(ev, "action")), "read") &&
            !strcmp(json_string_value(json_object_get(ev, "actor")), "wijk-anna") &&
            json_object_get(ev, "section"))
            one = ev;
    CHECK(one && !strcmp(json_string_value(json_object_get(one, "basis")), "g-anna") &&
              !strcmp(json_string_value(json_object_get(one, "actor_role")), "professional") &&
              !strcmp(json_string_value(json_object_get(one, "remote")), "127.0.0.1") &&
              json_is_integer(json_object_get(one, "time")),
          "a read event carries section, basis (the grant), role, remote, time");
    json_decref(all);
}

/* ---------------------------------------------------------------- bad input */

static void test_bad_input(void)
{
    struct kc_resp r;
    const char *P = "/v1/citizens/burger-1/sections/plan/entries";
    uint64_t j0 = journal_count();
    long l0 = log_size();
    CHECK(get_entries(b1->token, "burger-1", "plan", NULL, &r) == 200, "entries before the sweep");
    size_t e0 = json_array_size(json_object_get(r.json, "entries"));
    kc_resp_free(&r);
    j0++; /* that read's own event */

#define RAW(body, ctype, st, code, what)                                                                          \
    do {                                                                                                          \
        kc_call_raw(K.port, "POST", P, b1->token, ctype, body, sizeof(body) - 1, &r);                             \
        CHECK(expect(st, code, &r), what);                                                                        \
    } while (0)
    RAW("{\"statement\":", "application/json", 400, "bad_json", "sweep: malformed JSON → 400 bad_json");
    RAW("{\"statement\":\"a\",\"statement\":\"b\",\"signature\":\"c\",\"blob\":\"d\"}", "application/json", 400,
        "bad_request", "sweep: duplicate keys → 400 bad_request");
    RAW("{\"statement\":\"a\",\"signature\":\"c\",\"blob\":\"AAAAAAAA\",\"extra\":1}", "application/json", 400,
        "bad_request", "sweep: an unknown field → 400 bad_request");
    RAW("{\"statement\":1,\"signature\":\"c\",\"blob\":\"d\"}", "application/json", 400, "bad_request",
        "sweep: a wrong type → 400 bad_request");
    RAW("{\"statement\":\"a\",\"signature\":\"c\"}", "application/json", 400, "bad_request",
        "sweep: a missing field → 400 bad_request");
    RAW("{\"statement\":\"a\",\"signature\":\"c\",\"blob\":\"d\"}", "text/plain", 415, "unsupported_media_type",
        "sweep: wrong content type → 415 unsupported_media_type");
    RAW("{\"statement\":\"a\",\"signature\":\"c\",\"blob\":\"d\"}", NULL, 415, "unsupported_media_type",
        "sweep: no content type → 415 unsupported_media_type");
    RAW("{\"a\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}", "application/json", 400, "bad_json",
        "sweep: nesting deeper than 16 → 400 bad_json");
    RAW("{\"statement\":\"a\\u0000b\",\"signature\":\"c\",\"blob\":\"d\"}", "application/json", 400, "bad_json",
        "sweep: an escaped NUL in a string → 400 bad_json");
    RAW("{\"statement\":\"a\",\"signature\":\"c\",\"blob\":\"d\"}\0", "application/json", 400, "bad_json",
        "sweep: a raw NUL byte in the body → 400 bad_json");
    RAW("[1,2,3]", "application/json", 400, "bad_request", "sweep: a top level that is not an object → 400");
    RAW("{\"statement\":\"!!!\",\"signature\":\"c\",\"blob\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
        "application/json", 400, "bad_encoding", "sweep: a statement that is not base64url → 400 bad_encoding");
#undef RAW
    /* oversized body */
    size_t big = 2 * 1024 * 1024 + 16;
    char *b = malloc(big);
    memset(b, 'A', big);
    memcpy(b, "{\"blob\":\"", 9);
    b[big - 2] = '"';
    b[big - 1] = '}';
    kc_call_raw(K.port, "POST", P, b1->token, "application/json", b, big, &r);
    CHECK(expect(413, "too_large", &r), "sweep: a body over the 2 MiB limit → 413 too_large");
    free(b);
    /* ids outside the syntax */
    kc_call(K.port, "GET", "/v1/citizens/Burger-1/sections/plan/entries", b1->token, NULL, &r);
    CHECK(expect(404, "not_found", &r), "sweep: a citizen id outside the id syntax → 404 not_found");
    kc_call(K.port, "GET", "/v1/citizens/burger-1/sections/pl%2Fan/entries", b1->token, NULL, &r);
    CHECK(expect(404, "not_found", &r), "sweep: a percent-escaped section id → 404 not_found");
    post_entry(b1->token, &(struct espec){.id = "Entry 1", .signer = "burger-1", .sk = b1->keys->sign_sk, .epoch = 1},
               &r);
    CHECK(expect(400, "bad_statement", &r), "sweep: an entry id outside the id syntax → 400 bad_statement");
    /* forged, replayed, far future, old, made-up token */
    post_entry(b1->token, &(struct espec){.id = "e-forged", .signer = "burger-1", .sk = b1->keys->sign_sk, .epoch = 1,
                                          .bad_sig = 1},
               &r);
    CHECK(expect(401, "bad_signature", &r), "sweep: a forged statement → 401 bad_signature");
    post_entry(b1->token, &(struct espec){.id = "e-b1-1", .signer = "burger-1", .sk = b1->keys->sign_sk, .epoch = 1},
               &r);
    CHECK(expect(409, "replay", &r), "sweep: a replayed statement id → 409 replay");
    post_entry(b1->token, &(struct espec){.id = "e-future", .signer = "burger-1", .sk = b1->keys->sign_sk, .epoch = 1,
                                          .issued = now0 + 86400 * 365},
               &r);
    CHECK(expect(400, "bad_statement", &r), "sweep: issued a year ahead → 400 bad_statement");
    post_entry(b1->token, &(struct espec){.id = "e-old", .signer = "burger-1", .sk = b1->keys->sign_sk, .epoch = 1,
                                          .issued = 1000},
               &r);
    CHECK(expect(400, "bad_statement", &r), "sweep: issued in 1970 → 400 bad_statement");
    post_entry("dGhpcy1pcy1ub3QtYS1yZWFsLXRva2VuLWF0LWFsbC1ubw", &(struct espec){.id = "e-tok", .signer = "burger-1",
                                                                                 .sk = b1->keys->sign_sk, .epoch = 1},
               &r);
    CHECK(expect(401, "unauthenticated", &r), "sweep: a made-up token → 401 unauthenticated");
    kc_call_raw(K.port, "DELETE", "/v1/citizens/burger-1/sections/plan", b1->token, "application/json", "{}", 2, &r);
    CHECK(expect(400, "bad_request", &r), "sweep: DELETE of a section with a body → 400 bad_request (nothing erased)");
    kc_call(K.port, "PUT", "/v1/citizens/burger-1/sections/plan/entries", b1->token, NULL, &r);
    CHECK(expect(405, "method_not_allowed", &r), "sweep: a wrong method → 405 method_not_allowed");

    CHECK(journal_count() == j0, "sweep: nothing reached the journal (%llu events)", (unsigned long long)journal_count());
    CHECK(log_size() == l0, "sweep: the transparency log did not grow (%ld)", log_size());
    CHECK(get_entries(b1->token, "burger-1", "plan", NULL, &r) == 200 &&
              json_array_size(json_object_get(r.json, "entries")) == e0,
          "sweep: the section's entries are unchanged (%zu)", e0);
    kc_resp_free(&r);
    CHECK(kc_call(K.port, "GET", "/v1/health", NULL, NULL, &r) == 200, "sweep: the server keeps serving");
    kc_resp_free(&r);
}

/* ---------------------------------------------------------------- 503 journal_unavailable */

static void test_journal_unavailable(void)
{
    struct kc_resp r;
    CHECK(kd_stop(&K) == 0, "kluisd stops cleanly");
    vault *v = NULL;
    struct jerr err;
    if (vault_open(&v, K.vault, &err) != KERR_OK) {
        CHECK(0, "open the vault in-process: %s", err.msg);
        return;
    }
    struct api_config cfg = {.listen = "127.0.0.1:0", .ctx = v};
    struct api_server *srv = NULL;
    char msg[256];
    if (api_server_start(&cfg, &srv, msg, sizeof msg) != 0) {
        CHECK(0, "in-process server starts: %s", msg);
        vault_close(v);
        return;
    }
    unsigned int port = api_server_port(srv);
    K.port = port; /* kluisd is stopped: every helper now talks to the in-process server */
    char path[128];
    snprintf(path, sizeof path, "/v1/citizens/burger-1/sections/plan/entries");
    int verified = 0;
    json_t *before = journal_all(port, 1000, &verified);
    size_t n0 = json_array_size(before);
    json_decref(before);

    store_debug_fail_next_commit(v->st, MDB_MAP_FULL);
    kc_call(port, "GET", path, b1->token, NULL, &r);
    CHECK(is_err(&r, 503, "journal_unavailable") && !json_object_get(r.json, "entries"),
          "a read whose journal event cannot be committed → 503 journal_unavailable, no entries served");
    kc_resp_free(&r);
    store_debug_fail_next_commit(v->st, MDB_MAP_FULL);
    kc_call(port, "GET", "/v1/citizens/burger-1/dossier", bas_tok, NULL, &r);
    CHECK(is_err(&r, 503, "journal_unavailable") && !json_object_get(r.json, "sections"),
          "an overview whose journal event cannot be committed → 503 journal_unavailable");
    kc_resp_free(&r);
    store_debug_fail_next_commit(v->st, MDB_MAP_FULL);
    kc_call(port, "GET", "/v1/citizens/burger-1/export", b1->token, NULL, &r);
    CHECK(is_err(&r, 503, "journal_unavailable"), "an export whose journal event cannot be committed → 503");
    kc_resp_free(&r);
    store_debug_fail_next_commit(v->st, MDB_MAP_FULL);
    post_entry_to(bas_tok, "burger-1", "schulden",
                  entry_body(&(struct espec){.id = "e-full", .section = "schulden", .signer = "wijk-bas",
                                             .sk = bas_k->sign_sk, .epoch = 3}),
                  &r);
    CHECK(is_err(&r, 507, "storage_full"), "a write whose commit fails for a full map → 507 storage_full");
    kc_resp_free(&r);
    json_t *after = journal_all(port, 1000, &verified);
    CHECK(after && verified && json_array_size(after) == n0, "none of them left a journal event; the chain verifies");
    json_decref(after);
    CHECK(kc_call(port, "GET", path, b1->token, NULL, &r) == 200, "the next read is served (and journaled) again");
    kc_resp_free(&r);
    post_entry_to(bas_tok, "burger-1", "schulden",
                  entry_body(&(struct espec){.id = "e-full", .section = "schulden", .signer = "wijk-bas",
                                             .sk = bas_k->sign_sk, .epoch = 3}),
                  &r);
    CHECK(r.status == 201, "the refused write's statement id was not claimed: it is accepted now");
    kc_resp_free(&r);
    api_server_stop(srv);
    vault_close(v);
}

int main(void)
{
    if (secret_init(0) != 0 || kd_setup(&K) != 0 || kd_start(&K) != 0) {
        CHECK(0, "harness: kluisd init and serve");
        kd_cleanup(&K);
        return TEST_END();
    }
    now0 = (int64_t)time(NULL);
    int ok = kc_vault_info(K.port, &VI) == 200 && kc_login(K.port, "beheer", K.admin, admin_tok, NULL) == 200 &&
             kc_principal_new(K.port, admin_tok, "wijk-anna", "professional", &anna_k, anna_tok) == 0 &&
             kc_principal_new(K.port, admin_tok, "wijk-bas", "professional", &bas_k, bas_tok) == 0 &&
             kc_principal_new(K.port, admin_tok, "wijk-dave", "professional", &dave_k, dave_tok) == 0 &&
             kc_principal_new(K.port, admin_tok, "burg-carla", "mayor", &carla_k, carla_tok) == 0 &&
             (b1 = kc_citizen_setup(K.port, admin_tok, "burger-1", "correct horse battery")) != NULL &&
             (b2 = kc_citizen_setup(K.port, admin_tok, "burger-2", "staple paper clip")) != NULL &&
             (deks = secret_new(KC_SECTIONS_MAX * sizeof *deks)) != NULL;
    CHECK(ok, "setup: admin, four principals, two enrolled citizens");
    if (ok) {
        for (size_t i = 0; i < b1->n; i++)
            memcpy(deks[i][1], b1->dek[i], KLUIS_KEY_BYTES);
        test_citizen_own();
        test_grants_and_reads();
        test_writes();
        test_revoke_and_rotate();
        test_export();
        test_erase();
        test_journal();
        test_bad_input();
        test_journal_unavailable();
    }
    secret_free(deks);
    kc_citizen_free(b1);
    kc_citizen_free(b2);
    kluis_keys_free(anna_k);
    kluis_keys_free(bas_k);
    kluis_keys_free(dave_k);
    kluis_keys_free(carla_k);
    kd_cleanup(&K);
    return TEST_END();
}
