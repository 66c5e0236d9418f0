/*
 * tests/api/test_grants.c — consent against a real kluisd (SPEC §4–6, §9): grants with every
 * refusal code of POST /citizens/{c}/grants, their states, listing by citizen and by grantee,
 * revocation (effective before the answer, never twice), access requests asked, answered by a
 * grant and declined, and nothing stored after a refused request.
 *
 * The second part checks api_access() — the access rule with its nearest reasons and the journaling
 * of every denied attempt — on the same vault: kluisd is stopped and the vault opened in this
 * process behind the same server code, with kluisd's route table plus two test-only routes that
 * call api_access() (kluisd itself has no such route).
 */
#include "tests/test.h"
#include "tests/api/client.h"
#include "tests/api/harness.h"

#include <lmdb.h>
#include <sodium.h>
#include <time.h>

#include "api/access.h"
#include "api/api.h"
#include "api/auth.h"
#include "vault/encoding.h"
#include "vault/grant.h"
#include "vault/journal.h"
#include "vault/secret.h"
#include "vault/statement.h"
#include "vault/vault.h"

TEST_MAIN_DEFS

static struct kd K;
static char admin_tok[KC_TOKEN_MAX];
static struct kluis_keys *anna_k, *bert_k, *carla_k, *dave_k;
static char anna_tok[KC_TOKEN_MAX], bert_tok[KC_TOKEN_MAX], carla_tok[KC_TOKEN_MAX], dave_tok[KC_TOKEN_MAX];
static struct kc_citizen *b1, *b2;
static int64_t now0;

/* ---------------------------------------------------------------- helpers */

static int section_index(const struct kc_citizen *cz, const char *s)
{
    for (size_t i = 0; i < cz->n; i++)
        if (!strcmp(cz->section[i], s))
            return (int)i;
    return -1;
}

/* The envelope of a statement OBJ (taken) signed with SK. */
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

struct gspec {
    const char *id, *citizen, *grantee, *purpose, *access, *request;
    const char *sections[4];
    int64_t nb, exp, issued;
};

static json_t *grant_obj(const struct kc_citizen *signer, const struct gspec *g)
{
    json_t *secs = json_array();
    for (int i = 0; i < 4 && g->sections[i]; i++)
        json_array_append_new(secs, json_string(g->sections[i]));
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:o, s:s, s:s, s:I, s:I}", "type", "grant", "id", g->id,
                          "signer", signer->id, "issued", (json_int_t)(g->issued ? g->issued : now0), "citizen",
                          g->citizen ? g->citizen : signer->id, "grantee", g->grantee, "sections", secs, "access",
                          g->access ? g->access : "read", "purpose", g->purpose, "not_before", (json_int_t)g->nb,
                          "expires", (json_int_t)g->exp);
    if (g->request)
        json_object_set_new(o, "request", json_string(g->request));
    return o;
}

/* Wraps of every epoch (1..current) of every section of G for GRANTEE_BOX_PK. */
static json_t *wraps_for(const struct kc_citizen *cz, const struct gspec *g, const unsigned char *box_pk)
{
    json_t *a = json_array();
    for (int i = 0; i < 4 && g->sections[i]; i++) {
        int k = section_index(cz, g->sections[i]);
        if (k < 0)
            continue;
        for (uint64_t e = 1; e <= cz->epoch[k]; e++) {
            unsigned char w[KLUIS_WRAP_BYTES];
            if (kluis_wrap(w, cz->dek[k], box_pk) != 0)
                continue;
            char *b = b64_encode(w, sizeof w);
            json_array_append_new(a, json_pack("{s:s, s:I, s:s}", "section", g->sections[i], "epoch",
                                               (json_int_t)e, "wrap", b));
            free(b);
        }
    }
    return a;
}

/* POST the grant G signed by CZ (or SIGNER_SK), with WRAPS (taken; NULL: the right ones for BOX_PK). */
static int post_grant_ex(const struct kc_citizen *cz, const char *url_citizen, const char *token,
                         const struct gspec *g, const unsigned char *signer_sk, json_t *wraps,
                         const unsigned char *box_pk, struct kc_resp *out)
{
    char path[160];
    json_t *env = sign(grant_obj(cz, g), signer_sk ? signer_sk : cz->keys->sign_sk);
    if (!env)
        return -1;
    json_object_set_new(env, "wraps", wraps ? wraps : wraps_for(cz, g, box_pk));
    snprintf(path, sizeof path, "/v1/citizens/%s/grants", url_citizen);
    int st = kc_call(K.port, "POST", path, token, env, out);
    json_decref(env);
    return st;
}

static int post_grant(const struct kc_citizen *cz, const struct gspec *g, const unsigned char *box_pk,
                      struct kc_resp *out)
{
    return post_grant_ex(cz, cz->id, cz->token, g, NULL, NULL, box_pk, out);
}

static int is_err(const struct kc_resp *r, int status, const char *code)
{
    int ok = r->status == status && !strcmp(r->error, code);
    if (!ok)
        printf("# got %d %s: %.200s\n", r->status, r->error, r->body ? r->body : "");
    return ok;
}

static int expect(int status, const char *code, struct kc_resp *r)
{
    int ok = is_err(r, status, code);
    kc_resp_free(r);
    return ok;
}

static json_t *revoke_env(const struct kc_citizen *cz, const char *id, const char *citizen, const char *grant)
{
    return sign(json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "type", "revoke", "id", id, "signer", cz->id, "issued",
                          (json_int_t)now0, "citizen", citizen, "grant", grant),
                cz->keys->sign_sk);
}

static int post_revoke(const struct kc_citizen *cz, const char *grant, json_t *env, struct kc_resp *out)
{
    char path[200];
    snprintf(path, sizeof path, "/v1/citizens/%s/grants/%s/revoke", cz->id, grant);
    int st = kc_call(K.port, "POST", path, cz->token, env, out);
    json_decref(env);
    return st;
}

static json_t *request_env(const char *signer, const struct kluis_keys *k, const char *id, const char *citizen,
                           const char *purpose, const char *section, const char *access, int64_t days)
{
    return sign(json_pack("{s:s, s:s, s:s, s:I, s:s, s:[s], s:s, s:s, s:I, s:s}", "type", "request", "id", id,
                          "signer", signer, "issued", (json_int_t)now0, "citizen", citizen, "sections", section,
                          "access", access, "purpose", purpose, "days", (json_int_t)days, "note",
                          "Graag inzage voor het keukentafelgesprek."),
                k->sign_sk);
}

static int post_request(const char *token, json_t *env, struct kc_resp *out)
{
    int st = kc_call(K.port, "POST", "/v1/requests", token, env, out);
    json_decref(env);
    return st;
}

static json_t *find_id(json_t *arr, const char *id)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        const char *x = json_string_value(json_object_get(e, "id"));
        if (x && !strcmp(x, id))
            return e;
    }
    return NULL;
}

static const char *state_of(json_t *arr, const char *id)
{
    return json_string_value(json_object_get(find_id(arr, id), "state"));
}

/* ---------------------------------------------------------------- part 1: kluisd */

static void test_grant_refusals(void)
{
    struct kc_resp r;
    const int64_t day = 86400;
    struct gspec g = {.id = "g-ok", .grantee = "wijk-anna", .purpose = "ondersteuning",
                      .sections = {"plan", "wonen"}, .nb = now0 - 60, .exp = now0 + 30 * day};

    /* the good ones first: states */
    CHECK(post_grant(b1, &g, anna_k->box_pk, &r) == 201 &&
              !strcmp(json_string_value(json_object_get(r.json, "state")), "active") &&
              !strcmp(json_string_value(json_object_get(r.json, "id")), "g-ok"),
          "grant: 201 {id, state active}");
    kc_resp_free(&r);
    struct gspec gp = {.id = "g-pending", .grantee = "wijk-anna", .purpose = "ondersteuning",
                       .sections = {"zorg-gezondheid"}, .nb = now0 + day, .exp = now0 + 10 * day};
    CHECK(post_grant(b1, &gp, anna_k->box_pk, &r) == 201 &&
              !strcmp(json_string_value(json_object_get(r.json, "state")), "pending"),
          "grant starting tomorrow: state pending");
    kc_resp_free(&r);
    struct gspec ge = {.id = "g-expired", .grantee = "wijk-anna", .purpose = "schuldhulp",
                       .sections = {"schulden"}, .nb = now0 - 10 * day, .exp = now0 - day};
    CHECK(post_grant(b1, &ge, anna_k->box_pk, &r) == 201 &&
              !strcmp(json_string_value(json_object_get(r.json, "state")), "expired"),
          "grant that ended yesterday: state expired");
    kc_resp_free(&r);

    /* charter rules, each with its own code */
    struct gspec x = g;
    x.id = "g-x1";
    x.purpose = "koffie";
    post_grant(b1, &x, anna_k->box_pk, &r);
    CHECK(expect(403, "purpose_unknown", &r), "grant: purpose not in the charter → 403 purpose_unknown");
    x = g;
    x.id = "g-x2";
    x.sections[1] = "schulden";
    post_grant(b1, &x, anna_k->box_pk, &r);
    CHECK(expect(403, "section_not_in_purpose", &r), "grant: section outside the purpose → 403 section_not_in_purpose");
    x = g;
    x.id = "g-x3";
    x.purpose = "huisvesting";
    x.sections[0] = "wonen";
    x.sections[1] = NULL;
    x.exp = x.nb + 91 * day;
    post_grant(b1, &x, anna_k->box_pk, &r);
    CHECK(expect(403, "duration_exceeds_charter", &r), "grant: 91 days where 90 are allowed → 403 duration_exceeds_charter");
    x.exp = x.nb + 30 * day;
    x.access = "write";
    post_grant(b1, &x, anna_k->box_pk, &r);
    CHECK(expect(403, "write_not_allowed", &r), "grant: write for a read-only purpose → 403 write_not_allowed");
    x = g;
    x.id = "g-x4";
    x.grantee = "burg-carla";
    post_grant(b1, &x, carla_k->box_pk, &r);
    CHECK(expect(403, "forbidden", &r), "grant to a mayor (role not in grant_roles) → 403 forbidden");
    x.grantee = "wijk-bert";
    post_grant(b1, &x, bert_k->box_pk, &r);
    CHECK(expect(403, "principal_inactive", &r), "grant to a deactivated professional → 403 principal_inactive");
    x.grantee = "niemand";
    post_grant(b1, &x, anna_k->box_pk, &r);
    CHECK(expect(400, "bad_statement", &r), "grant to an unknown principal → 400 bad_statement");

    /* wraps */
    x = g;
    x.id = "g-wraps";
    post_grant_ex(b1, b1->id, b1->token, &x, NULL, json_array(), anna_k->box_pk, &r);
    CHECK(expect(409, "missing_wraps", &r), "grant without wraps → 409 missing_wraps");
    struct gspec one = x;
    one.sections[1] = NULL; /* wraps for plan only, grant names plan and wonen */
    post_grant_ex(b1, b1->id, b1->token, &x, NULL, wraps_for(b1, &one, anna_k->box_pk), anna_k->box_pk, &r);
    CHECK(expect(409, "missing_wraps", &r), "grant with a wrap for one of two sections → 409 missing_wraps");
    struct gspec extra = x;
    extra.sections[2] = "zorg-gezondheid";
    post_grant_ex(b1, b1->id, b1->token, &x, NULL, wraps_for(b1, &extra, anna_k->box_pk), anna_k->box_pk, &r);
    CHECK(expect(400, "bad_request", &r), "grant with a wrap for a section it does not grant → 400 bad_request");
    json_t *w = wraps_for(b1, &x, anna_k->box_pk);
    json_object_set_new(json_array_get(w, 0), "epoch", json_integer(7));
    post_grant_ex(b1, b1->id, b1->token, &x, NULL, w, anna_k->box_pk, &r);
    CHECK(expect(409, "missing_wraps", &r), "grant with a wrap for an epoch that does not exist → refused (409)");
    w = wraps_for(b1, &x, anna_k->box_pk);
    json_object_set_new(json_array_get(w, 0), "wrap", json_string("AAAA"));
    post_grant_ex(b1, b1->id, b1->token, &x, NULL, w, anna_k->box_pk, &r);
    CHECK(expect(400, "bad_encoding", &r), "grant with a wrap of the wrong length → 400 bad_encoding");
    CHECK(post_grant(b1, &x, anna_k->box_pk, &r) == 201,
          "after the refusals the same statement id is still free: nothing was stored or claimed");
    kc_resp_free(&r);

    /* replay */
    post_grant(b1, &x, anna_k->box_pk, &r);
    CHECK(expect(409, "replay", &r), "the same grant again → 409 replay");
    x.sections[1] = NULL;
    x.purpose = "ondersteuning";
    post_grant(b1, &x, anna_k->box_pk, &r);
    CHECK(expect(409, "replay", &r), "another grant with a used id → 409 replay");

    /* statements */
    x = g;
    x.id = "g-url";
    x.citizen = "burger-2";
    post_grant(b1, &x, anna_k->box_pk, &r);
    CHECK(expect(400, "bad_statement", &r), "grant whose citizen differs from the URL → 400 bad_statement");
    x = g;
    x.id = "g-future";
    x.issued = now0 + 3600;
    post_grant(b1, &x, anna_k->box_pk, &r);
    CHECK(expect(400, "bad_statement", &r), "grant issued an hour ahead → 400 bad_statement");
    x.id = "g-old";
    x.issued = now0 - 2 * day;
    post_grant(b1, &x, anna_k->box_pk, &r);
    CHECK(expect(400, "bad_statement", &r), "grant issued two days ago → 400 bad_statement");
    x = g;
    x.id = "g-forged";
    post_grant_ex(b1, b1->id, b1->token, &x, b2->keys->sign_sk, NULL, anna_k->box_pk, &r);
    CHECK(expect(401, "bad_signature", &r), "grant signed with another key → 401 bad_signature");

    /* who may */
    x.id = "g-who";
    post_grant_ex(b1, b1->id, NULL, &x, NULL, NULL, anna_k->box_pk, &r);
    CHECK(expect(401, "unauthenticated", &r), "grant without a session → 401 unauthenticated");
    post_grant_ex(b1, b1->id, "bm90LWEtdG9rZW4tYXQtYWxsLW5vdC1hLXRva2VuLWF0LWFsbA", &x, NULL, NULL, anna_k->box_pk, &r);
    CHECK(expect(401, "unauthenticated", &r), "grant with a made-up token → 401 unauthenticated");
    post_grant_ex(b1, b1->id, b2->token, &x, NULL, NULL, anna_k->box_pk, &r);
    CHECK(expect(403, "forbidden", &r), "another citizen granting on this dossier → 403 forbidden");
    post_grant_ex(b1, b1->id, anna_tok, &x, NULL, NULL, anna_k->box_pk, &r);
    CHECK(expect(403, "forbidden", &r), "a professional posting a grant → 403 forbidden");
    kc_call(K.port, "GET", "/v1/citizens/burger-1/grants", b2->token, NULL, &r);
    CHECK(expect(403, "forbidden", &r), "another citizen listing this dossier's grants → 403 forbidden");
    kc_call(K.port, "GET", "/v1/citizens/burger-1/grants", anna_tok, NULL, &r);
    CHECK(expect(403, "forbidden", &r), "a professional listing a citizen's grants → 403 forbidden");
    kc_call(K.port, "GET", "/v1/citizens/burger-1/grants", NULL, NULL, &r);
    CHECK(expect(401, "unauthenticated", &r), "listing grants without a session → 401 unauthenticated");
    kc_call_raw(K.port, "POST", "/v1/citizens/burger-1/grants", b1->token, "application/json", "{\"statement\":1}",
                15, &r);
    CHECK(expect(400, "bad_request", &r), "grant body with a wrong type → 400 bad_request");
}

static void test_grant_lists_and_revoke(void)
{
    struct kc_resp r;
    const int64_t day = 86400;
    CHECK(kc_call(K.port, "GET", "/v1/citizens/burger-1/grants", b1->token, NULL, &r) == 200, "citizen lists grants");
    json_t *a = json_object_get(r.json, "grants");
    json_t *gok = find_id(a, "g-ok");
    CHECK(json_array_size(a) == 4 && gok && !strcmp(state_of(a, "g-ok"), "active") &&
              !strcmp(state_of(a, "g-pending"), "pending") && !strcmp(state_of(a, "g-expired"), "expired") &&
              !strcmp(state_of(a, "g-wraps"), "active"),
          "the citizen's list holds the four accepted grants with their states (%zu)", json_array_size(a));
    struct kc_resp rs;
    json_t *secs = json_object_get(gok, "sections");
    CHECK(!strcmp(json_string_value(json_object_get(gok, "grantee")), "wijk-anna") &&
              json_array_size(secs) == 2 && !strcmp(json_string_value(json_object_get(gok, "access")), "read") &&
              !strcmp(json_string_value(json_object_get(gok, "purpose")), "ondersteuning") &&
              json_integer_value(json_object_get(gok, "expires")) == now0 + 30 * day &&
              json_is_integer(json_object_get(gok, "created")) && !json_object_get(gok, "revoked"),
          "a listed grant carries grantee, sections, access, purpose, period, created");
    /* the statement is served exactly as signed: it verifies with the citizen's key */
    struct kstmt st;
    struct jerr err;
    CHECK(gok && kstmt_verify(&st, json_string_value(json_object_get(gok, "statement")),
                              json_string_value(json_object_get(gok, "signature")), "grant", "burger-1",
                              b1->keys->sign_pk, now0, &err) == 0 &&
              !strcmp(st.id, "g-ok"),
          "the listed statement and signature verify against the citizen's key");
    kstmt_free(&st);
    kc_resp_free(&r);

    CHECK(kc_call(K.port, "GET", "/v1/grants", anna_tok, NULL, &rs) == 200, "professional lists own grants");
    a = json_object_get(rs.json, "grants");
    CHECK(json_array_size(a) == 4 && !strcmp(json_string_value(json_object_get(find_id(a, "g-ok"), "citizen")),
                                             "burger-1") && !strcmp(state_of(a, "g-pending"), "pending"),
          "GET /v1/grants: the caller's grants, each with citizen and state");
    kc_resp_free(&rs);
    kc_call(K.port, "GET", "/v1/grants", dave_tok, NULL, &rs);
    CHECK(rs.status == 200 && json_array_size(json_object_get(rs.json, "grants")) == 0,
          "GET /v1/grants: another professional sees none of them");
    kc_resp_free(&rs);
    kc_call(K.port, "GET", "/v1/grants", b1->token, NULL, &rs);
    CHECK(expect(403, "forbidden", &rs), "GET /v1/grants as a citizen → 403 forbidden");
    kc_call(K.port, "GET", "/v1/grants", carla_tok, NULL, &rs);
    CHECK(expect(403, "forbidden", &rs), "GET /v1/grants as a mayor → 403 forbidden");

    /* revoke */
    post_revoke(b1, "g-ok", revoke_env(b1, "rv-1", "burger-1", "g-wraps"), &r);
    CHECK(expect(400, "bad_statement", &r), "revoke whose grant differs from the URL → 400 bad_statement");
    post_revoke(b1, "g-ok", revoke_env(b1, "rv-1", "burger-2", "g-ok"), &r);
    CHECK(expect(400, "bad_statement", &r), "revoke whose citizen differs from the URL → 400 bad_statement");
    char path[128];
    json_t *env = revoke_env(b1, "rv-1", "burger-1", "g-ok");
    snprintf(path, sizeof path, "/v1/citizens/burger-1/grants/g-ok/revoke");
    kc_call(K.port, "POST", path, anna_tok, env, &r);
    CHECK(expect(403, "forbidden", &r), "a professional revoking → 403 forbidden");
    kc_call(K.port, "POST", path, NULL, env, &r);
    CHECK(expect(401, "unauthenticated", &r), "revoke without a session → 401 unauthenticated");
    CHECK(post_revoke(b1, "g-ok", env, &r) == 200 &&
              !strcmp(json_string_value(json_object_get(r.json, "state")), "revoked"),
          "revoke: 200 {id, state revoked}");
    kc_resp_free(&r);
    post_revoke(b1, "g-ok", revoke_env(b1, "rv-2", "burger-1", "g-ok"), &r);
    CHECK(expect(409, "conflict", &r), "revoking a revoked grant → 409 conflict");
    post_revoke(b1, "g-nope", revoke_env(b1, "rv-3", "burger-1", "g-nope"), &r);
    CHECK(expect(404, "not_found", &r), "revoking an unknown grant → 404 not_found");
    post_revoke(b1, "g-wraps", revoke_env(b1, "rv-1", "burger-1", "g-wraps"), &r);
    CHECK(expect(409, "replay", &r), "a revoke statement id used before → 409 replay");
    post_revoke(b1, "g-wraps", sign(json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "type", "revoke", "id", "rv-4",
                                              "signer", "burger-1", "issued", (json_int_t)now0, "citizen",
                                              "burger-1", "grant", "g-wraps"),
                                    b2->keys->sign_sk),
                &r);
    CHECK(expect(401, "bad_signature", &r), "a forged revoke → 401 bad_signature");

    kc_call(K.port, "GET", "/v1/citizens/burger-1/grants", b1->token, NULL, &r);
    a = json_object_get(r.json, "grants");
    gok = find_id(a, "g-ok");
    CHECK(!strcmp(state_of(a, "g-ok"), "revoked") && json_is_integer(json_object_get(gok, "revoked")) &&
              json_is_string(json_object_get(gok, "revoke_statement")) && !strcmp(state_of(a, "g-wraps"), "active"),
          "after revoke: g-ok revoked with its revoke statement, the others untouched");
    kc_resp_free(&r);
    kc_call(K.port, "GET", "/v1/grants", anna_tok, NULL, &r);
    CHECK(!strcmp(state_of(json_object_get(r.json, "grants"), "g-ok"), "revoked"),
          "the grantee sees the grant revoked at once");
    kc_resp_free(&r);
}

static void test_requests(void)
{
    struct kc_resp r;
    CHECK(post_request(anna_tok, request_env("wijk-anna", anna_k, "req-1", "burger-1", "ondersteuning", "plan", "read", 30),
                       &r) == 201 &&
              !strcmp(json_string_value(json_object_get(r.json, "id")), "req-1"),
          "request: 201 {id}");
    kc_resp_free(&r);
    post_request(anna_tok, request_env("wijk-anna", anna_k, "req-2", "burger-1", "koffie", "plan", "read", 30), &r);
    CHECK(expect(403, "purpose_unknown", &r), "request for an unknown purpose → 403 purpose_unknown");
    post_request(anna_tok, request_env("wijk-anna", anna_k, "req-2", "burger-1", "ondersteuning", "schulden", "read", 30),
                 &r);
    CHECK(expect(403, "section_not_in_purpose", &r), "request for a section outside the purpose → 403");
    post_request(anna_tok, request_env("wijk-anna", anna_k, "req-2", "burger-1", "huisvesting", "wonen", "read", 91),
                 &r);
    CHECK(expect(403, "duration_exceeds_charter", &r), "request for too many days → 403 duration_exceeds_charter");
    post_request(anna_tok, request_env("wijk-anna", anna_k, "req-2", "burger-1", "huisvesting", "wonen", "write", 30),
                 &r);
    CHECK(expect(403, "write_not_allowed", &r), "request to write a read-only purpose → 403 write_not_allowed");
    post_request(carla_tok, request_env("burg-carla", carla_k, "req-2", "burger-1", "ondersteuning", "plan", "read", 30),
                 &r);
    CHECK(expect(403, "forbidden", &r), "request by a mayor → 403 forbidden");
    post_request(b2->token, request_env("burger-2", b2->keys, "req-2", "burger-1", "ondersteuning", "plan", "read", 30),
                 &r);
    CHECK(expect(403, "forbidden", &r), "request by a citizen → 403 forbidden");
    post_request(dave_tok, request_env("wijk-anna", anna_k, "req-2", "burger-1", "ondersteuning", "plan", "read", 30),
                 &r);
    CHECK(r.status == 401 || r.status == 400, "request signed by someone else than the caller → refused (%d)", r.status);
    kc_resp_free(&r);
    post_request(NULL, request_env("wijk-anna", anna_k, "req-2", "burger-1", "ondersteuning", "plan", "read", 30), &r);
    CHECK(expect(401, "unauthenticated", &r), "request without a session → 401 unauthenticated");

    CHECK(kc_call(K.port, "GET", "/v1/citizens/burger-1/requests", b1->token, NULL, &r) == 200, "citizen lists requests");
    json_t *a = json_object_get(r.json, "requests"), *q = find_id(a, "req-1");
    CHECK(json_array_size(a) == 1 && q, "nothing was stored for the refused requests: only req-1 is open");
    CHECK(q && !strcmp(json_string_value(json_object_get(q, "requester")), "wijk-anna") &&
              !strcmp(json_string_value(json_object_get(q, "display_name")), "wijk-anna") &&
              !strcmp(json_string_value(json_object_get(q, "organisation")), "Gemeente Voorbeeldstad") &&
              !strcmp(json_string_value(json_object_get(q, "purpose")), "ondersteuning") &&
              json_integer_value(json_object_get(q, "days")) == 30 &&
              !strcmp(json_string_value(json_object_get(q, "note")), "Graag inzage voor het keukentafelgesprek."),
          "an open request shows the requester's name and organisation, purpose, days, note");
    kc_resp_free(&r);
    kc_call(K.port, "GET", "/v1/citizens/burger-1/requests", anna_tok, NULL, &r);
    CHECK(expect(403, "forbidden", &r), "a professional listing a citizen's requests → 403 forbidden");

    CHECK(post_request(anna_tok,
                       request_env("wijk-anna", anna_k, "req-2", "burger-1", "jeugdhulp", "jeugd-gezin", "read", 30),
                       &r) == 201,
          "the id of the refused requests was never claimed: req-2 is accepted now");
    kc_resp_free(&r);
    post_request(anna_tok, request_env("wijk-anna", anna_k, "req-2", "burger-1", "jeugdhulp", "jeugd-gezin", "read", 30),
                 &r);
    CHECK(expect(409, "replay", &r), "the same request id again → 409 replay");

    /* an unknown citizen is answered like a known one: nothing tells the asker who exists */
    CHECK(post_request(anna_tok, request_env("wijk-anna", anna_k, "req-ghost", "burger-ghost", "ondersteuning", "plan",
                                             "read", 30),
                       &r) == 201,
          "request to an unknown citizen: 201 like any other (existence not disclosed)");
    kc_resp_free(&r);
    post_request(anna_tok, request_env("wijk-anna", anna_k, "req-ghost", "burger-ghost", "ondersteuning", "plan", "read",
                                       30),
                 &r);
    CHECK(expect(409, "replay", &r), "...and its id is claimed like any other");

    /* answered by a grant */
    struct gspec g = {.id = "g-req", .grantee = "wijk-anna", .purpose = "ondersteuning", .sections = {"plan"},
                      .nb = now0 - 10, .exp = now0 + 30 * 86400, .request = "req-1"};
    CHECK(post_grant(b1, &g, anna_k->box_pk, &r) == 201, "a grant naming req-1");
    kc_resp_free(&r);
    kc_call(K.port, "GET", "/v1/citizens/burger-1/requests", b1->token, NULL, &r);
    a = json_object_get(r.json, "requests");
    CHECK(json_array_size(a) == 1 && find_id(a, "req-2") && !find_id(a, "req-1"),
          "the grant answered req-1: only req-2 is still open");
    kc_resp_free(&r);
    kc_call(K.port, "GET", "/v1/citizens/burger-1/grants", b1->token, NULL, &r);
    CHECK(!strcmp(json_string_value(json_object_get(find_id(json_object_get(r.json, "grants"), "g-req"), "request")),
                  "req-1"),
          "the grant names the request it answers");
    kc_resp_free(&r);

    /* declined */
    kc_call(K.port, "POST", "/v1/citizens/burger-1/requests/req-2/decline", anna_tok, NULL, &r);
    CHECK(expect(403, "forbidden", &r), "a professional declining → 403 forbidden");
    CHECK(kc_call(K.port, "POST", "/v1/citizens/burger-1/requests/req-2/decline", b1->token, NULL, &r) == 200 &&
              !strcmp(json_string_value(json_object_get(r.json, "state")), "declined"),
          "decline: 200 {id, state declined}");
    kc_resp_free(&r);
    kc_call(K.port, "POST", "/v1/citizens/burger-1/requests/req-2/decline", b1->token, NULL, &r);
    CHECK(expect(409, "conflict", &r), "declining twice → 409 conflict");
    kc_call(K.port, "POST", "/v1/citizens/burger-1/requests/req-1/decline", b1->token, NULL, &r);
    CHECK(expect(409, "conflict", &r), "declining an answered request → 409 conflict");
    kc_call_raw(K.port, "POST", "/v1/citizens/burger-1/requests/req-99/decline", b1->token, "application/json",
                "{\"reason\":\"nee\"}", 16, &r);
    CHECK(expect(400, "bad_request", &r), "decline with a body other than {} → 400 bad_request");
    kc_call(K.port, "POST", "/v1/citizens/burger-1/requests/req-99/decline", b1->token, NULL, &r);
    CHECK(expect(404, "not_found", &r), "declining an unknown request → 404 not_found");
    kc_call(K.port, "POST", "/v1/citizens/burger-2/requests/req-ghost/decline", b2->token, NULL, &r);
    CHECK(expect(404, "not_found", &r), "the request to an unknown citizen was stored nowhere");
    kc_call(K.port, "GET", "/v1/citizens/burger-1/requests", b1->token, NULL, &r);
    CHECK(r.status == 200 && json_array_size(json_object_get(r.json, "requests")) == 0, "no open requests remain");
    kc_resp_free(&r);

    /* the export holds every request, whatever its state */
    CHECK(kc_call(K.port, "GET", "/v1/citizens/burger-1/export", b1->token, NULL, &r) == 200, "the citizen exports");
    a = json_object_get(r.json, "requests");
    json_t *q1 = find_id(a, "req-1"), *q2 = find_id(a, "req-2");
    CHECK(json_array_size(a) == 2 && q1 && q2, "export: both requests, answered and declined (%zu)", json_array_size(a));
    CHECK(q1 && !strcmp(json_string_value(json_object_get(q1, "state")), "answered") &&
              !strcmp(json_string_value(json_object_get(q1, "answered_by")), "g-req") &&
              json_integer_value(json_object_get(q1, "closed")) >= now0 &&
              json_is_string(json_object_get(q1, "statement")),
          "export: req-1 answered by g-req, with its closing time and statement");
    CHECK(q2 && !strcmp(json_string_value(json_object_get(q2, "state")), "declined") &&
              json_integer_value(json_object_get(q2, "closed")) >= now0 && !json_object_get(q2, "answered_by"),
          "export: req-2 declined, with its closing time");
    kc_resp_free(&r);
}

/* ---------------------------------------------------------------- part 2: api_access in-process */

static void handle_test_access(struct request *r)
{
    struct caller c;
    struct access_result out;
    if (api_authenticate(r, &c) != 0)
        return;
    if (api_access(r, r->ctx, &c, r->param[0], r->param[1], strcmp(r->method, "POST") == 0, &out) != 0)
        return;
    api_reply_json(r, API_OK, json_pack("{s:s, s:s}", "basis", out.basis_text, "ref", out.ref));
}

static unsigned int port2;
static int entries_routed; /* kluisd serves GET .../entries: one more denial was journaled there */

static int access_call(const char *token, const char *method, const char *citizen, const char *section,
                       struct kc_resp *r)
{
    char path[200];
    snprintf(path, sizeof path, "/test/access/%s/%s", citizen, section);
    return kc_call(port2, method, path, token, NULL, r);
}

static int access_is(const char *token, const char *method, const char *citizen, const char *section, int status,
                     const char *what)
{
    struct kc_resp r;
    access_call(token, method, citizen, section, &r);
    int ok;
    if (status == 200)
        ok = r.status == 200 && !strcmp(json_string_value(json_object_get(r.json, "basis")), what);
    else
        ok = is_err(&r, status, what);
    kc_resp_free(&r);
    return ok;
}

/* Count the events of CITIZEN's journal whose JSON contains every one of the needles. */
static int journal_count(vault *v, const char *citizen, const char *n1, const char *n2, const char *n3)
{
    store_txn t;
    journal_pos pos;
    journal_entry *e = NULL;
    size_t n = 0;
    int count = 0;
    if (journal_read_begin(v->journal, citizen, &t, &pos) == KERR_OK &&
        journal_list(v->journal, &t, &pos, 0, 100000, &e, &n) == KERR_OK) {
        for (size_t i = 0; i < n; i++) {
            const char *s = (const char *)e[i].raw;
            if ((!n1 || strstr(s, n1)) && (!n2 || strstr(s, n2)) && (!n3 || strstr(s, n3)))
                count++;
        }
    }
    journal_entries_free(e, n);
    store_txn_abort(&t);
    return count;
}

/* Put the whole journal back in format 2, as a kluisd before format 3 left it: 'J' || id16 ||
 * be64(seq) → event, the head after the events at 'J' || id16 || be64(count) || 0xFF → be64(count)
 * || head; no 'T', 'S' or 'M' record. The vault must be closed. Returns the records written. */
static size_t journal_to_format2(void)
{
    struct cit {
        unsigned char id[STORE_IDSHORT];
        uint64_t count;
        unsigned char head[JOURNAL_HEADBYTES];
    } *c = NULL;
    size_t nc = 0, n = 0;
    vault *v = NULL;
    struct jerr err;
    store_txn t;
    store_iter it;
    skey all, from, k;
    if (vault_open(&v, K.vault, &err) != KERR_OK)
        return 0;
    store_txn_begin(v->st, &t, false);
    skey_reset(&all);
    skey_reset(&from);
    skey_u8(&from, 'K'); /* past the 'J' records written here: 'M', 'S' and 'T' */
    for (;;) { /* the first record left, until none: each is rewritten or deleted */
        unsigned char *val = NULL, key[SKEY_MAX];
        size_t len = 0, klen = 0;
        store_iter_begin(&it, &t, v->tab[VT_JOURNAL], &all, &from);
        if (store_iter_next(&it)) {
            const unsigned char *kk = store_iter_key(&it, &klen);
            memcpy(key, kk, klen);
            (void)store_iter_get(&it, &val, &len);
        }
        store_iter_end(&it);
        if (!val)
            break;
        if (key[0] == 'T') { /* id16 || be64(seq) || be64(prev) || event */
            size_t i = 0;
            while (i < nc && memcmp(c[i].id, val, STORE_IDSHORT) != 0)
                i++;
            if (i == nc) {
                c = realloc(c, ++nc * sizeof *c);
                memset(&c[i], 0, sizeof c[i]);
                memcpy(c[i].id, val, STORE_IDSHORT);
            }
            journal_chain(c[i].head, c[i].head, val + 32, len - 32);
            c[i].count++;
            skey_reset(&k);
            skey_u8(&k, 'J');
            skey_bytes(&k, c[i].id, STORE_IDSHORT);
            skey_u64(&k, c[i].count);
            store_put(&t, v->tab[VT_JOURNAL], &k, val + 32, len - 32);
            n++;
        }
        store_val_free(val, len);
        skey_reset(&k);
        skey_bytes(&k, key, klen);
        store_del(&t, v->tab[VT_JOURNAL], &k);
    }
    for (size_t i = 0; i < nc; i++) {
        unsigned char rec[8 + JOURNAL_HEADBYTES];
        skey_reset(&k);
        skey_u8(&k, 'J');
        skey_bytes(&k, c[i].id, STORE_IDSHORT);
        skey_u64(&k, c[i].count);
        skey_u8(&k, 0xFF);
        store_be64_put(rec, c[i].count);
        memcpy(rec + 8, c[i].head, JOURNAL_HEADBYTES);
        store_put(&t, v->tab[VT_JOURNAL], &k, rec, sizeof rec);
        n++;
    }
    free(c);
    if (store_txn_commit(&t) != KERR_OK)
        n = 0;
    vault_close(v);
    return n;
}

/* The ids of wijk-anna's grants in force from burger-1, as the access decision reads them. */
static void views_ids(vault *v, char *out, size_t cap)
{
    store_txn t;
    struct grant_views gv;
    out[0] = '\0';
    store_txn_begin(v->st, &t, true);
    if (grant_views_for(&t, v->tab, "wijk-anna", "burger-1", NULL, &gv) == KERR_OK)
        for (size_t i = 0; i < gv.n; i++)
            snprintf(out + strlen(out), cap - strlen(out), "%s ", gv.v[i].id);
    grant_views_free(&gv);
    store_txn_abort(&t);
}

/* What a kluisd from before the views' copies beside the entries leaves when it revokes GRANT of
 * burger-1 to wijk-anna in this vault: the record revoked and the view ended, but the copy beside
 * the entries, which it does not know, still there; and the table it keeps views in, which it
 * created when it opened the file (LMDB directly, as its store_open would). 1 when done. */
static int older_kluisd_revokes(const char *grant)
{
    vault *v = NULL;
    struct jerr err;
    if (vault_open(&v, K.vault, &err) != KERR_OK)
        return 0;
    store_txn t;
    skey k;
    unsigned char *copy = NULL;
    size_t len = 0;
    grant_view_copy_key(&k, v->st, "wijk-anna", "burger-1", grant);
    store_txn_begin(v->st, &t, false);
    int ok = store_get(&t, v->tab[VT_ENTRIES], &k, &copy, &len) == KERR_OK &&
             grant_revoke(&t, v->tab, "burger-1", grant, (int64_t)time(NULL), "cmV2", "c2ln") == KERR_OK;
    if (ok)
        store_put(&t, v->tab[VT_ENTRIES], &k, copy, len);
    if (copy)
        store_val_free(copy, len);
    ok = store_txn_commit(&t) == KERR_OK && ok;
    vault_close(v);
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    ok = ok && mdb_env_create(&env) == 0 && mdb_env_set_maxdbs(env, 32) == 0 &&
         mdb_env_set_mapsize(env, (size_t)1 << 30) == 0 && mdb_env_open(env, K.vault, 0, 0600) == 0 &&
         mdb_txn_begin(env, NULL, 0, &txn) == 0 && mdb_dbi_open(txn, "grants_by_grantee", MDB_CREATE, &dbi) == 0 &&
         mdb_txn_commit(txn) == 0;
    if (env)
        mdb_env_close(env);
    return ok;
}

/* CITIZEN's committed journal: head and count, and whether its chain verifies. */
static int journal_state(vault *v, const char *citizen, unsigned char head[JOURNAL_HEADBYTES], uint64_t *count)
{
    store_txn t;
    journal_pos pos;
    uint64_t bad = 0;
    kerr e = journal_read_begin(v->journal, citizen, &t, &pos);
    store_txn_abort(&t);
    memcpy(head, pos.head, JOURNAL_HEADBYTES);
    *count = pos.count;
    return e == KERR_OK && journal_verify(v->journal, citizen, &bad) == KERR_OK;
}

static void test_access(void)
{
    /* one more grant to revoke, for grant_revoked on its own section */
    struct kc_resp r;
    struct gspec g = {.id = "g-veilig", .grantee = "wijk-anna", .purpose = "veiligheidsplan",
                      .sections = {"veiligheid"}, .nb = now0 - 10, .exp = now0 + 86400};
    CHECK(post_grant(b1, &g, anna_k->box_pk, &r) == 201, "grant on veiligheid");
    kc_resp_free(&r);
    CHECK(post_revoke(b1, "g-veilig", revoke_env(b1, "rv-5", "burger-1", "g-veilig"), &r) == 200, "...revoked");
    kc_resp_free(&r);
    /* End to end through kluisd's own read endpoint, once it exists (issue 3 builds it beside this). */
    kc_call(K.port, "GET", "/v1/citizens/burger-1/sections/veiligheid/entries", anna_tok, NULL, &r);
    if (r.status == 404 && !strcmp(r.error, "not_found"))
        printf("# GET .../entries is not routed yet: the end-to-end revoke check waits for it\n");
    else {
        entries_routed = 1;
        CHECK(is_err(&r, 403, "grant_revoked"), "kluisd: the grantee's read after revoke → 403 grant_revoked");
    }
    kc_resp_free(&r);

    CHECK(kd_stop(&K) == 0, "kluisd stops cleanly");
    vault *v = NULL;
    struct jerr err;
    if (vault_open(&v, K.vault, &err) != KERR_OK) {
        CHECK(0, "open the vault in-process: %s", err.msg);
        return;
    }
    {
        /* kluisd's clean stop wrote every journal head (journal_flush): 'M' names the last event,
         * so this open had nothing to replay */
        store_txn t;
        skey k, prefix, last;
        unsigned char m[8];
        size_t len = 0;
        store_txn_begin(v->st, &t, true);
        skey_reset(&k);
        skey_u8(&k, 'M');
        skey_reset(&prefix);
        skey_u8(&prefix, 'T');
        int ok = store_get_buf(&t, v->tab[VT_JOURNAL], &k, m, sizeof m, &len) == KERR_OK && len == 8 &&
                 store_get_last(&t, v->tab[VT_JOURNAL], &prefix, &last, NULL, 0, &len) == KERR_OK &&
                 last.len == 9 && store_be64(last.b + 1) == store_be64(m);
        store_txn_abort(&t);
        CHECK(ok, "after kluisd's clean stop the journal checkpoint 'M' names its last event");
    }
    struct route *routes = calloc(api_routes_count + 2, sizeof *routes);
    memcpy(routes, api_routes, api_routes_count * sizeof *routes);
    routes[api_routes_count] = (struct route){"GET", "/test/access/{}/{}", handle_test_access};
    routes[api_routes_count + 1] = (struct route){"POST", "/test/access/{}/{}", handle_test_access};
    struct api_config cfg = {.listen = "127.0.0.1:0", .routes = routes, .nroutes = api_routes_count + 2, .ctx = v};
    struct api_server *srv = NULL;
    char msg[256];
    if (api_server_start(&cfg, &srv, msg, sizeof msg) != 0) {
        CHECK(0, "in-process server starts: %s", msg);
        vault_close(v);
        free(routes);
        return;
    }
    port2 = api_server_port(srv);
    int denied0 = journal_count(v, "burger-1", "\"denied:", NULL, NULL);

    CHECK(access_is(b1->token, "GET", "burger-1", "plan", 200, "own"), "access: the citizen reads own dossier (own)");
    CHECK(access_is(b1->token, "POST", "burger-1", "schulden", 200, "own"), "access: the citizen writes own dossier");
    CHECK(access_is(anna_tok, "GET", "burger-1", "plan", 200, "g-req"),
          "access: the grantee reads a section of an active grant (basis: the grant id)");
    CHECK(access_is(anna_tok, "GET", "burger-1", "veiligheid", 403, "grant_revoked"),
          "access: after revoke, the grantee's read → 403 grant_revoked");
    CHECK(access_is(anna_tok, "GET", "burger-1", "wonen", 200, "g-wraps"),
          "access: a revoked grant does not block another live grant on the same section");
    CHECK(access_is(anna_tok, "POST", "burger-1", "plan", 403, "write_not_allowed"),
          "access: writing under a read grant → 403 write_not_allowed");
    CHECK(access_is(anna_tok, "GET", "burger-1", "zorg-gezondheid", 403, "grant_not_yet_valid"),
          "access: a pending grant → 403 grant_not_yet_valid");
    CHECK(access_is(anna_tok, "GET", "burger-1", "schulden", 403, "grant_expired"),
          "access: an expired grant → 403 grant_expired");
    CHECK(access_is(anna_tok, "GET", "burger-1", "jeugd-gezin", 403, "section_not_granted"),
          "access: a section no grant names → 403 section_not_granted");
    CHECK(access_is(dave_tok, "GET", "burger-1", "plan", 403, "no_grant"),
          "access: a professional without grants → 403 no_grant");
    CHECK(access_is(dave_tok, "GET", "burger-nobody", "plan", 403, "no_grant"),
          "access: an unknown citizen gets the same 403 no_grant (existence not disclosed)");
    CHECK(access_is(b2->token, "GET", "burger-1", "plan", 403, "forbidden"),
          "access: another citizen → 403 forbidden");
    CHECK(access_is(carla_tok, "GET", "burger-1", "plan", 403, "forbidden"),
          "access: a mayor without override → 403 forbidden");
    CHECK(access_is(NULL, "GET", "burger-1", "plan", 401, "unauthenticated"), "access: no session → 401");

    int denied = journal_count(v, "burger-1", "\"denied:", NULL, NULL) - denied0;
    CHECK(denied == 8, "every denied attempt on burger-1 is one journal event (%d of 8)", denied);
    {
        /* the decisions above met g-expired among the grants in force; a refusal's commit moved it
         * to the ended ones (vault/grant.h grant_end_expired), and "schulden" still named it */
        store_txn t;
        struct grant_views gv;
        store_txn_begin(v->st, &t, true);
        kerr ge = grant_view_get(&t, v->tab, "wijk-anna", "burger-1", "g-expired", &gv);
        grant_views_free(&gv);
        kerr gl = grant_view_get(&t, v->tab, "wijk-anna", "burger-1", "g-req", &gv);
        grant_views_free(&gv);
        store_txn_abort(&t);
        CHECK(ge == KERR_NOT_FOUND && gl == KERR_OK,
              "the expired grant left the grants in force once a decision met it; the active one stays");
    }
    CHECK(journal_count(v, "burger-1", "\"result\":\"denied:grant_revoked\"", "\"actor\":\"wijk-anna\"",
                        "\"section\":\"veiligheid\"") == 1 + entries_routed &&
              journal_count(v, "burger-1", "\"basis\":\"g-veilig\"", "\"action\":\"read\"", "denied") ==
                  1 + entries_routed,
          "the denial event names actor, section, the revoked grant as basis and denied:grant_revoked");
    CHECK(journal_count(v, "burger-1", "\"result\":\"denied:no_grant\"", "\"actor\":\"wijk-dave\"", NULL) == 1 &&
              journal_count(v, "burger-1", "\"result\":\"denied:forbidden\"", "\"actor\":\"burger-2\"", NULL) == 1,
          "no_grant and forbidden denials are journaled too");
    CHECK(journal_count(v, "burger-1", "\"action\":\"read\"", "\"result\":\"allowed\"", NULL) == 0,
          "api_access itself journals no allowed access (the read handler does, with its effect)");
    CHECK(journal_count(v, "burger-nobody", NULL, NULL, NULL) == 0, "an unknown citizen gets no journal");

    /* journal events of the consent endpoints */
    CHECK(journal_count(v, "burger-1", "\"action\":\"grant\"", "\"basis\":\"g-ok\"", "\"actor\":\"burger-1\"") == 1 &&
              journal_count(v, "burger-1", "\"action\":\"grant\"", NULL, NULL) == 6,
          "one \"grant\" event per accepted grant (%d)", journal_count(v, "burger-1", "\"action\":\"grant\"", NULL, NULL));
    CHECK(journal_count(v, "burger-1", "\"action\":\"revoke\"", "\"basis\":\"g-ok\"", NULL) == 1 &&
              journal_count(v, "burger-1", "\"action\":\"revoke\"", NULL, NULL) == 2,
          "one \"revoke\" event per revocation");
    CHECK(journal_count(v, "burger-1", "\"action\":\"request\"", "\"actor\":\"wijk-anna\"",
                        "\"organisation\":\"Gemeente Voorbeeldstad\"") == 2,
          "one \"request\" event per accepted request, naming the professional and organisation");
    CHECK(journal_count(v, "burger-1", "\"action\":\"decline\"", "\"result\":\"allowed\"", NULL) == 1,
          "one \"decline\" event");
    unsigned char head0[JOURNAL_HEADBYTES], head1[JOURNAL_HEADBYTES];
    uint64_t count0 = 0, count1 = 0;
    CHECK(journal_state(v, "burger-1", head0, &count0) && count0 > 10, "burger-1's journal chain verifies (%llu events)",
          (unsigned long long)count0);
    char ids0[512], ids1[512];
    views_ids(v, ids0, sizeof ids0);
    api_server_stop(srv);
    vault_close(v);
    free(routes);

    /* An older kluisd revoked g-req without knowing the copies beside the entries: the next
     * vault_open() sees the table it created and writes every view again from the grant records
     * (grant_views_rebuild), so the decision no longer reads the stale copy. */
    CHECK(strstr(ids0, "g-req ") && older_kluisd_revokes("g-req"), "an older kluisd revokes g-req (%s)", ids0);
    v = NULL;
    CHECK(vault_open(&v, K.vault, &err) == KERR_OK && v->views_rebuilt > 0,
          "the next open writes the grant views again (%zu grant records)", v ? v->views_rebuilt : 0);
    if (!v)
        return;
    views_ids(v, ids1, sizeof ids1);
    CHECK(!strstr(ids1, "g-req") && strstr(ids1, "g-wraps"), "g-req is no longer in force for the decision (%s)",
          ids1);
    {
        store_txn t;
        struct grant_views gv;
        store_txn_begin(v->st, &t, true);
        int rev = grant_views_for(&t, v->tab, "wijk-anna", "burger-1", "plan", &gv) == KERR_OK;
        int found = 0;
        for (size_t i = 0; rev && i < gv.n; i++)
            found |= !strcmp(gv.v[i].id, "g-req") && gv.v[i].revoked;
        grant_views_free(&gv);
        store_txn_abort(&t);
        CHECK(found, "a refusal on plan names g-req as revoked");
    }
    vault_close(v);
    v = NULL;
    CHECK(vault_open(&v, K.vault, &err) == KERR_OK && v->views_rebuilt == 0, "the open after that rebuilds nothing");
    vault_close(v);

    /* A vault written before the journal's format 3: vault_open() moves it, and nothing changes. */
    size_t put_back = journal_to_format2();
    CHECK(put_back > count0 + 1, "the journal put back in format 2 (%zu records)", put_back);
    v = NULL;
    if (vault_open(&v, K.vault, &err) != KERR_OK) {
        CHECK(0, "reopen the vault: %s", err.msg);
        return;
    }
    CHECK(v->journal_moved == put_back, "vault_open moves the old journal records (%zu)", v->journal_moved);
    CHECK(journal_state(v, "burger-1", head1, &count1) && count1 == count0 && memcmp(head0, head1, sizeof head0) == 0,
          "after the move burger-1's journal has the same %llu events and head, and verifies",
          (unsigned long long)count0);

    /* An older kluisd writing to the upgraded vault: its event 1 of burger-1 in format 2 beside the
     * moved journal. vault_open refuses and changes nothing. */
    skey k;
    store_txn t;
    unsigned char h[STORE_IDBYTES];
    store_id_hash(v->st, h, "burger-1", 8);
    skey_reset(&k);
    skey_u8(&k, 'J');
    skey_bytes(&k, h, STORE_IDSHORT);
    skey_u64(&k, 1);
    store_txn_begin(v->st, &t, false);
    store_put(&t, v->tab[VT_JOURNAL], &k, "{}", 2);
    CHECK(store_txn_commit(&t) == KERR_OK, "an old-layout event 1 beside the current journal");
    vault_close(v);
    v = NULL;
    CHECK(vault_open(&v, K.vault, &err) == KERR_CONFLICT && v == NULL && strstr(err.msg, "both"),
          "vault_open refuses a journal record in both layouts: %s", err.msg);
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
    int ok = kc_login(K.port, "beheer", K.admin, admin_tok, NULL) == 200 &&
             kc_principal_new(K.port, admin_tok, "wijk-anna", "professional", &anna_k, anna_tok) == 0 &&
             kc_principal_new(K.port, admin_tok, "wijk-bert", "professional", &bert_k, bert_tok) == 0 &&
             kc_principal_new(K.port, admin_tok, "wijk-dave", "professional", &dave_k, dave_tok) == 0 &&
             kc_principal_new(K.port, admin_tok, "burg-carla", "mayor", &carla_k, carla_tok) == 0 &&
             (b1 = kc_citizen_setup(K.port, admin_tok, "burger-1", "correct horse battery")) != NULL &&
             (b2 = kc_citizen_setup(K.port, admin_tok, "burger-2", "staple paper clip")) != NULL;
    CHECK(ok, "setup: admin, four principals, two enrolled citizens");
    struct kc_resp r;
    CHECK(ok && kc_call(K.port, "POST", "/v1/principals/wijk-bert/deactivate", admin_tok, NULL, &r) == 200,
          "setup: wijk-bert deactivated");
    if (ok) {
        kc_resp_free(&r);
        test_grant_refusals();
        test_grant_lists_and_revoke();
        test_requests();
        test_access();
    }
    kc_citizen_free(b1);
    kc_citizen_free(b2);
    kluis_keys_free(anna_k);
    kluis_keys_free(bert_k);
    kluis_keys_free(carla_k);
    kluis_keys_free(dave_k);
    kd_cleanup(&K);
    return TEST_END();
}
