/*
 * tests/api/test_override.c — the emergency override against a real kluisd (SPEC §5, §7, §8, §9).
 *
 * Part 1 (kluisd): every refusal code of POST /overrides and of the approval; request → approve →
 * active; escrow refused before activation; escrow released only once its leaf is in a signed
 * checkpoint (checkpoint verified, size grown, inclusion proof of the override.escrow-released
 * leaf checked against its root); unlock with the authority key, every key commitment checked
 * against the citizen-signed epoch statement; wraps uploaded for the beneficiary; the beneficiary
 * reads under the override (basis override:<id> in the citizen's journal); close; reads refused,
 * escrow and wraps refused; GET /overrides by role and state; the exact leaf shapes.
 *
 * Part 2 (in-process, same vault): the sweeper closes an expired override (injected `now`), the
 * escrow answers 503 and releases nothing when the log cannot be written, held notices
 * (citizen_notice_hours) are released at their due time; the citizen's override view waits for
 * the notice time; erasure destroys the override wraps of the section; a beneficiary's read
 * decided before an override's close or expiry but committed after it is refused (503, then 403).
 */
#include "tests/test.h"
#include "tests/api/client.h"
#include "tests/api/harness.h"

#include <sodium.h>
#include <time.h>

#include "api/access.h"
#include "api/api.h"
#include "vault/checkpoint.h"
#include "vault/encoding.h"
#include "vault/journal.h"
#include "vault/merkle.h"
#include "vault/override.h"
#include "vault/secret.h"
#include "vault/statement.h"
#include "vault/tlog.h"
#include "vault/vault.h"

TEST_MAIN_DEFS

static struct kd K;
static struct kc_vault VI;
static char admin_tok[KC_TOKEN_MAX];
static struct kluis_keys *carla_k, *olga_k, *piet_k, *anna_k, *rob_k, *dave_k, *bert_k;
static char carla_tok[KC_TOKEN_MAX], olga_tok[KC_TOKEN_MAX], piet_tok[KC_TOKEN_MAX], anna_tok[KC_TOKEN_MAX],
    rob_tok[KC_TOKEN_MAX], dave_tok[KC_TOKEN_MAX], bert_tok[KC_TOKEN_MAX];
static struct kc_citizen *b1;
static int64_t now0;

#define JUST "Acuut gevaar: de inwoner is sinds gisteren vermist en heeft gedreigd zichzelf iets aan te doen."

/* ---------------------------------------------------------------- helpers */

static int is_err(const struct kc_resp *r, int status, const char *code)
{
    int ok = r->status == status && !strcmp(r->error, code);
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

struct ospec {
    const char *id, *signer, *citizen, *beneficiary, *ground, *justification;
    const char *sections[4];
    int64_t hours;
};

static json_t *override_env(const struct ospec *o, const unsigned char *sk)
{
    json_t *secs = json_array();
    for (int i = 0; i < 4 && o->sections[i]; i++)
        json_array_append_new(secs, json_string(o->sections[i]));
    return sign(json_pack("{s:s, s:s, s:s, s:I, s:s, s:o, s:s, s:s, s:s, s:I}", "type", "override", "id", o->id,
                          "signer", o->signer, "issued", (json_int_t)now0, "citizen", o->citizen ? o->citizen : "burger-1",
                          "sections", secs, "beneficiary", o->beneficiary ? o->beneficiary : "wijk-anna", "ground",
                          o->ground ? o->ground : "acuut-gevaar", "justification",
                          o->justification ? o->justification : JUST, "hours", (json_int_t)(o->hours ? o->hours : 24)),
                sk);
}

static int post_override(const char *token, json_t *env, struct kc_resp *r)
{
    int st = kc_call(K.port, "POST", "/v1/overrides", token, env, r);
    json_decref(env);
    return st;
}

/* statement_hash over the exact statement bytes of envelope ENV. */
static int statement_hash(unsigned char h[32], const json_t *env)
{
    const char *b = json_string_value(json_object_get(env, "statement"));
    unsigned char buf[8192];
    size_t len = 0;
    if (!b || b64_decode(buf, sizeof buf, &len, b, strlen(b)) != 0)
        return -1;
    return kluis_hash(h, buf, len);
}

static json_t *approval_env(const char *id, const char *signer, const char *ov, const unsigned char h[32],
                            const unsigned char *sk)
{
    char *hb = b64_encode(h, 32);
    json_t *env = sign(json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "type", "override-approval", "id", id, "signer",
                                 signer, "issued", (json_int_t)now0, "override", ov, "statement_hash", hb),
                       sk);
    free(hb);
    return env;
}

static int post_approve(const char *token, const char *ov, json_t *env, struct kc_resp *r)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/overrides/%s/approve", ov);
    int st = kc_call(K.port, "POST", path, token, env, r);
    json_decref(env);
    return st;
}

static json_t *close_env(const char *id, const char *signer, const char *ov, const unsigned char *sk)
{
    return sign(json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "type", "override-close", "id", id, "signer", signer,
                          "issued", (json_int_t)now0, "override", ov, "reason", "De inwoner is gevonden en veilig."),
                sk);
}

static int post_close(const char *token, const char *ov, json_t *env, struct kc_resp *r)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/overrides/%s/close", ov);
    int st = kc_call(K.port, "POST", path, token, env, r);
    json_decref(env);
    return st;
}

static int get_escrow(const char *token, const char *ov, struct kc_resp *r)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/overrides/%s/escrow", ov);
    return kc_call(K.port, "GET", path, token, NULL, r);
}

/* The verified checkpoint: size and root. */
static int checkpoint(uint64_t *size, unsigned char root[32])
{
    struct kc_resp r;
    int ok = kc_call(K.port, "GET", "/v1/log/checkpoint", NULL, NULL, &r) == 200 &&
             checkpoint_verify(size, root, r.body, r.body_len, "test.voorbeeldstad.nl/kluis", VI.log_pk) == 0;
    kc_resp_free(&r);
    return ok ? 0 : -1;
}

/* Leaf INDEX (its exact bytes) from GET /v1/log/entries as the auditor. */
static char *leaf_bytes(uint64_t index, size_t *len)
{
    char path[128];
    struct kc_resp r;
    char *out = NULL;
    snprintf(path, sizeof path, "/v1/log/entries?start=%llu&end=%llu", (unsigned long long)index,
             (unsigned long long)index + 1);
    if (kc_call(K.port, "GET", path, rob_tok, NULL, &r) == 200) {
        const char *b = json_string_value(json_object_get(json_array_get(json_object_get(r.json, "entries"), 0), "leaf"));
        if (b) {
            out = malloc(strlen(b) + 1);
            if (out && b64_decode((unsigned char *)out, strlen(b), len, b, strlen(b)) == 0)
                out[*len] = 0;
            else {
                free(out);
                out = NULL;
            }
        }
    }
    kc_resp_free(&r);
    return out;
}

static int inclusion_ok(uint64_t index, uint64_t size, const unsigned char root[32], const char *leaf, size_t len)
{
    char path[128];
    struct kc_resp r;
    unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES], lh[32];
    size_t n = 0;
    snprintf(path, sizeof path, "/v1/log/proof/inclusion?index=%llu&size=%llu", (unsigned long long)index,
             (unsigned long long)size);
    int ok = kc_call(K.port, "GET", path, NULL, NULL, &r) == 200;
    json_t *p = json_object_get(r.json, "path");
    for (size_t i = 0; ok && i < json_array_size(p) && i < MERKLE_MAX_PROOF; i++, n++)
        ok = b64_decode_exact(proof[i], 32, json_string_value(json_array_get(p, i))) == 0;
    kc_resp_free(&r);
    merkle_hash_leaf(lh, (const unsigned char *)leaf, len);
    return ok && merkle_verify_inclusion(lh, index, size, (const unsigned char(*)[32])proof, n, root) == 0;
}

static int section_index(const char *s)
{
    for (size_t i = 0; i < b1->n; i++)
        if (!strcmp(b1->section[i], s))
            return (int)i;
    return -1;
}

/* ---------------------------------------------------------------- part 1: kluisd */

static void test_requests(void)
{
    struct kc_resp r;
    struct ospec o = {.id = "ov-x", .signer = "burg-carla", .sections = {"plan"}};

    o.signer = "fg-olga";
    CHECK(post_override(olga_tok, override_env(&o, olga_k->sign_sk), &r) == 403 && expect(403, "forbidden", &r),
          "POST /overrides by an officer → 403 forbidden");
    o.signer = "burg-carla";
    o.ground = "zomaar";
    CHECK(post_override(carla_tok, override_env(&o, carla_k->sign_sk), &r) == 403 && expect(403, "ground_unknown", &r),
          "a ground the charter lacks → 403 ground_unknown");
    o.ground = NULL;
    o.justification = "Het moet.";
    CHECK(post_override(carla_tok, override_env(&o, carla_k->sign_sk), &r) == 403 &&
              expect(403, "justification_too_short", &r),
          "a justification under min_justification_chars → 403 justification_too_short");
    o.justification = NULL;
    o.hours = 73;
    CHECK(post_override(carla_tok, override_env(&o, carla_k->sign_sk), &r) == 403 &&
              expect(403, "duration_exceeds_charter", &r),
          "hours 73 > max_hours 72 → 403 duration_exceeds_charter");
    o.hours = 0;
    o.beneficiary = "fg-olga";
    CHECK(post_override(carla_tok, override_env(&o, carla_k->sign_sk), &r) == 403 && expect(403, "forbidden", &r),
          "a beneficiary who is not a professional → 403 forbidden");
    o.beneficiary = "wijk-bert";
    CHECK(post_override(carla_tok, override_env(&o, carla_k->sign_sk), &r) == 403 &&
              expect(403, "principal_inactive", &r),
          "an inactive beneficiary → 403 principal_inactive");
    o.beneficiary = "niemand";
    CHECK(post_override(carla_tok, override_env(&o, carla_k->sign_sk), &r) == 400 && expect(400, "bad_statement", &r),
          "an unregistered beneficiary → 400 bad_statement");
    o.beneficiary = NULL;
    o.sections[0] = "tuin";
    CHECK(post_override(carla_tok, override_env(&o, carla_k->sign_sk), &r) == 400 && expect(400, "bad_statement", &r),
          "a section the charter lacks → 400 bad_statement");
    o.sections[0] = "plan";
    o.citizen = "burger-nobody";
    CHECK(post_override(carla_tok, override_env(&o, carla_k->sign_sk), &r) == 404 && expect(404, "not_found", &r),
          "an unknown citizen → 404 not_found");
    o.citizen = NULL;
    CHECK(post_override(carla_tok, override_env(&o, olga_k->sign_sk), &r) == 401 && expect(401, "bad_signature", &r),
          "a statement not signed by the caller → 401 bad_signature");

    struct kc_resp l;
    CHECK(kc_call(K.port, "GET", "/v1/overrides", rob_tok, NULL, &l) == 200 &&
              json_array_size(json_object_get(l.json, "overrides")) == 0,
          "nothing was stored by a refused request");
    kc_resp_free(&l);
}

static json_t *ov1_env; /* the accepted request's envelope (for statement_hash) */
static uint64_t esc_index;

static void test_flow(void)
{
    struct kc_resp r;
    struct ospec o = {.id = "ov-1", .signer = "burg-carla", .sections = {"plan", "wonen"}, .hours = 24};
    ov1_env = override_env(&o, carla_k->sign_sk);
    CHECK(kc_call(K.port, "POST", "/v1/overrides", carla_tok, ov1_env, &r) == 201 &&
              !strcmp(json_string_value(json_object_get(r.json, "state")), "pending") &&
              !strcmp(json_string_value(json_object_get(r.json, "id")), "ov-1"),
          "POST /overrides by the mayor → 201 {id, state:pending} (approvals_required 1)");
    kc_resp_free(&r);
    CHECK(kc_call(K.port, "GET", "/v1/citizens/burger-1/overrides", b1->token, NULL, &r) == 200 &&
              json_array_size(json_object_get(r.json, "overrides")) == 0,
          "the citizen's GET /citizens/{c}/overrides: a pending override is not shown (no notice yet)");
    kc_resp_free(&r);
    CHECK(kc_call(K.port, "POST", "/v1/overrides", carla_tok, ov1_env, &r) == 409 && expect(409, "replay", &r),
          "the same statement again → 409 replay");

    CHECK(get_escrow(carla_tok, "ov-1", &r) == 403 && expect(403, "quorum_pending", &r),
          "escrow of a pending override → 403 quorum_pending");
    json_t *mal = json_pack("{s:[{s:s, s:i, s:s}]}", "wraps", "section", "plan", "epoch", 1, "wrap", "AAAA");
    CHECK(kc_call(K.port, "POST", "/v1/overrides/ov-1/wraps", carla_tok, mal, &r) == 400,
          "wraps with a malformed wrap → 400");
    json_decref(mal);
    kc_resp_free(&r);

    unsigned char h[32], bad[32];
    CHECK(statement_hash(h, ov1_env) == 0, "statement_hash of the request computed");
    memcpy(bad, h, 32);
    bad[0] ^= 1;
    CHECK(post_approve(carla_tok, "ov-1", approval_env("ap-m", "burg-carla", "ov-1", h, carla_k->sign_sk), &r) == 403 &&
              expect(403, "forbidden", &r),
          "a mayor approving → 403 forbidden");
    CHECK(post_approve(olga_tok, "ov-1", approval_env("ap-bad", "fg-olga", "ov-1", bad, olga_k->sign_sk), &r) == 400 &&
              expect(400, "bad_statement", &r),
          "an approval over another hash → 400 bad_statement");
    CHECK(post_approve(olga_tok, "ov-1", approval_env("ap-url", "fg-olga", "ov-2", h, olga_k->sign_sk), &r) == 400 &&
              expect(400, "bad_statement", &r),
          "an approval naming another override than the URL → 400 bad_statement");
    CHECK(post_approve(olga_tok, "ov-nope", approval_env("ap-nf", "fg-olga", "ov-nope", h, olga_k->sign_sk), &r) == 404 &&
              expect(404, "not_found", &r),
          "approving an unknown override → 404");
    CHECK(get_escrow(carla_tok, "ov-1", &r) == 403 && expect(403, "quorum_pending", &r),
          "refused approvals leave it pending");

    int64_t t0 = (int64_t)time(NULL);
    CHECK(post_approve(olga_tok, "ov-1", approval_env("ap-1", "fg-olga", "ov-1", h, olga_k->sign_sk), &r) == 200 &&
              !strcmp(json_string_value(json_object_get(r.json, "state")), "active") &&
              json_integer_value(json_object_get(r.json, "expires")) -
                      json_integer_value(json_object_get(r.json, "activated")) == 24 * 3600 &&
              json_integer_value(json_object_get(r.json, "activated")) >= t0,
          "the officer's approval reaches the quorum → active, expires = activated + 24 h");
    kc_resp_free(&r);
    CHECK(post_approve(olga_tok, "ov-1", approval_env("ap-2", "fg-olga", "ov-1", h, olga_k->sign_sk), &r) == 409 &&
              expect(409, "conflict", &r),
          "a second approval (double approval) → 409 conflict");
    CHECK(post_approve(piet_tok, "ov-1", approval_env("ap-1", "fg-piet", "ov-1", h, piet_k->sign_sk), &r) == 409,
          "another officer after activation → 409");
    kc_resp_free(&r);

    /* list by role and state */
    CHECK(kc_call(K.port, "GET", "/v1/overrides?state=active", rob_tok, NULL, &r) == 200 &&
              json_array_size(json_object_get(r.json, "overrides")) == 1 &&
              json_array_size(json_object_get(json_array_get(json_object_get(r.json, "overrides"), 0), "approvals")) == 1,
          "GET /overrides?state=active (auditor) → the record with its approval");
    kc_resp_free(&r);
    CHECK(kc_call(K.port, "GET", "/v1/overrides?state=pending", olga_tok, NULL, &r) == 200 &&
              json_array_size(json_object_get(r.json, "overrides")) == 0,
          "GET /overrides?state=pending (officer) → none");
    kc_resp_free(&r);
    CHECK(kc_call(K.port, "GET", "/v1/overrides", anna_tok, NULL, &r) == 403 && expect(403, "forbidden", &r),
          "GET /overrides by a professional → 403 forbidden");
    CHECK(kc_call(K.port, "GET", "/v1/overrides?state=open", rob_tok, NULL, &r) == 400 && expect(400, "bad_request", &r),
          "GET /overrides?state=open → 400");

    /* the beneficiary cannot read before wraps exist? The access rule allows; there are simply no wraps. */
    CHECK(get_escrow(olga_tok, "ov-1", &r) == 403 && expect(403, "forbidden", &r), "escrow by an officer → 403 forbidden");

    /* escrow: released only once its leaf is in a signed checkpoint */
    uint64_t size0 = 0, size1 = 0;
    unsigned char root0[32], root1[32];
    CHECK(checkpoint(&size0, root0) == 0, "checkpoint before the escrow verifies (size %llu)", (unsigned long long)size0);
    CHECK(get_escrow(carla_tok, "ov-1", &r) == 200, "GET escrow of the active override (mayor) → 200");
    json_t *items = json_object_get(r.json, "items");
    esc_index = (uint64_t)json_integer_value(json_object_get(r.json, "log_index"));
    CHECK(checkpoint(&size1, root1) == 0 && size1 > size0 && esc_index >= size0 && esc_index < size1,
          "right after the answer the signed checkpoint holds the escrow-released leaf (%llu < %llu)",
          (unsigned long long)esc_index, (unsigned long long)size1);
    size_t llen = 0;
    char *leaf = leaf_bytes(esc_index, &llen);
    json_t *lj = leaf ? json_loads(leaf, 0, NULL) : NULL;
    CHECK(lj && !strcmp(json_string_value(json_object_get(lj, "event")), "override.escrow-released") &&
              !strcmp(json_string_value(json_object_get(lj, "override")), "ov-1") &&
              json_array_size(json_object_get(lj, "items")) == 2,
          "the leaf is override.escrow-released naming both sections and their epochs");
    CHECK(leaf && inclusion_ok(esc_index, size1, root1, leaf, llen),
          "its inclusion proof verifies against the signed root");
    json_decref(lj);
    free(leaf);

    /* unlock: inner layer with the authority key, commitments checked, wraps for the beneficiary */
    size_t n = json_array_size(items), good = 0;
    json_t *wraps = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *it = json_array_get(items, i);
        const char *sec = json_string_value(json_object_get(it, "section"));
        int64_t ep = json_integer_value(json_object_get(it, "epoch"));
        unsigned char inner[KLUIS_WRAP_BYTES], dek[32], w[KLUIS_WRAP_BYTES];
        struct kstmt st;
        struct jerr err;
        int ok = b64_decode_exact(inner, sizeof inner, json_string_value(json_object_get(it, "inner"))) == 0 &&
                 kluis_escrow_open_inner(dek, inner, K.authority_sk) == 0 &&
                 kstmt_open(&st, json_string_value(json_object_get(it, "statement")),
                            json_string_value(json_object_get(it, "signature")), "epoch", &err) == 0;
        ok = ok && kstmt_check_signature(&st, b1->keys->sign_pk, &err) == 0 && !strcmp(st.section, sec) &&
             st.epoch == ep && kluis_key_commit_check(st.commit, "burger-1", sec, (uint64_t)ep, dek) == 0;
        int k = section_index(sec);
        ok = ok && k >= 0 && sodium_memcmp(dek, b1->dek[k], 32) == 0 && kluis_wrap(w, dek, anna_k->box_pk) == 0;
        kstmt_free(&st);
        if (ok) {
            char *wb = b64_encode(w, sizeof w);
            json_array_append_new(wraps, json_pack("{s:s, s:I, s:s}", "section", sec, "epoch", (json_int_t)ep, "wrap", wb));
            free(wb);
            good++;
        }
        sodium_memzero(dek, sizeof dek);
    }
    kc_resp_free(&r);
    CHECK(n == 2 && good == 2,
          "unlock: both escrow items open with the authority key and match the citizen's signed commitments");

    json_t *body = json_pack("{s:O}", "wraps", wraps);
    CHECK(kc_call(K.port, "POST", "/v1/overrides/ov-1/wraps", olga_tok, body, &r) == 403 && expect(403, "forbidden", &r),
          "wraps by an officer → 403 forbidden");
    json_t *bad_body = json_pack("{s:[{s:s, s:i, s:O}]}", "wraps", "section", "schulden", "epoch", 1, "wrap",
                                 json_object_get(json_array_get(wraps, 0), "wrap"));
    CHECK(kc_call(K.port, "POST", "/v1/overrides/ov-1/wraps", carla_tok, bad_body, &r) == 400 &&
              expect(400, "bad_request", &r),
          "a wrap for a section the override does not cover → 400");
    json_decref(bad_body);
    CHECK(kc_call(K.port, "POST", "/v1/overrides/ov-1/wraps", carla_tok, body, &r) == 200 &&
              json_integer_value(json_object_get(r.json, "wraps")) == 2,
          "the mayor uploads the beneficiary's wraps → 200");
    kc_resp_free(&r);
    json_decref(body);
    json_decref(wraps);

    /* the beneficiary reads under the override */
    CHECK(kc_call(K.port, "GET", "/v1/citizens/burger-1/sections/plan/entries", anna_tok, NULL, &r) == 200,
          "the beneficiary reads the entries of an override section → 200");
    kc_resp_free(&r);
    CHECK(kc_call(K.port, "GET", "/v1/citizens/burger-1/sections/schulden/entries", anna_tok, NULL, &r) == 403,
          "a section outside the override stays closed → 403");
    kc_resp_free(&r);
    CHECK(kc_call(K.port, "GET", "/v1/citizens/burger-1/dossier", anna_tok, NULL, &r) == 200,
          "the beneficiary's dossier overview → 200");
    json_t *secs = json_object_get(r.json, "sections");
    int plan_wrap = 0, nsec = (int)json_array_size(secs);
    for (size_t i = 0; i < json_array_size(secs); i++) {
        json_t *s = json_array_get(secs, i);
        if (strcmp(json_string_value(json_object_get(s, "section")), "plan"))
            continue;
        json_t *e0 = json_array_get(json_object_get(s, "epochs"), 0);
        unsigned char w[KLUIS_WRAP_BYTES], dek[32];
        const char *wb = json_string_value(json_object_get(e0, "wrap"));
        plan_wrap = wb && b64_decode_exact(w, sizeof w, wb) == 0 && kluis_unwrap(dek, w, anna_k->box_sk) == 0 &&
                    sodium_memcmp(dek, b1->dek[section_index("plan")], 32) == 0;
    }
    CHECK(nsec == 2 && plan_wrap,
          "the overview shows exactly the override's two sections with the wraps the mayor uploaded (%d)", nsec);
    kc_resp_free(&r);

    /* the citizen's journal */
    CHECK(kc_call(K.port, "GET", "/v1/citizens/burger-1/journal", b1->token, NULL, &r) == 200, "the citizen's journal");
    int act = 0, rel = 0, rd = 0;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(r.json, "events"), i, e) {
        const char *a = json_string_value(json_object_get(e, "action"));
        const char *b = json_string_value(json_object_get(e, "basis"));
        if (!a || !b || strcmp(b, "override:ov-1"))
            continue;
        act += !strcmp(a, "override-activated");
        rel += !strcmp(a, "escrow-released");
        rd += !strcmp(a, "read");
    }
    CHECK(act == 1 && rel == 1 && rd >= 1,
          "the journal shows override-activated, escrow-released and the reads, basis override:ov-1 (%d %d %d)", act,
          rel, rd);
    kc_resp_free(&r);

    /* the citizen's own view of the override: everything the notice must show */
    CHECK(kc_call(K.port, "GET", "/v1/citizens/burger-1/overrides", b1->token, NULL, &r) == 200,
          "GET /citizens/burger-1/overrides by the citizen → 200");
    json_t *ov = json_array_get(json_object_get(r.json, "overrides"), 0);
    json_t *mayor = json_object_get(ov, "mayor"), *bene = json_object_get(ov, "beneficiary");
    json_t *osecs = json_object_get(ov, "sections");
    json_int_t act_t = json_integer_value(json_object_get(ov, "activated"));
    CHECK(json_array_size(json_object_get(r.json, "overrides")) == 1 &&
              !strcmp(json_string_value(json_object_get(ov, "id")), "ov-1") &&
              !strcmp(json_string_value(json_object_get(ov, "state")), "active") &&
              !strcmp(json_string_value(json_object_get(ov, "ground")), "acuut-gevaar") &&
              json_string_length(json_object_get(ov, "ground_title")) > 0 &&
              !strcmp(json_string_value(json_object_get(ov, "justification")), JUST),
          "the citizen sees ov-1 active with the ground, its charter title and the justification");
    CHECK(mayor && !strcmp(json_string_value(json_object_get(mayor, "id")), "burg-carla") &&
              json_is_string(json_object_get(mayor, "display_name")) && bene &&
              !strcmp(json_string_value(json_object_get(bene, "id")), "wijk-anna") &&
              json_is_string(json_object_get(bene, "display_name")) &&
              json_is_string(json_object_get(bene, "organisation")),
          "…the mayor and the professional (beneficiary) with name and organisation");
    CHECK(json_array_size(osecs) == 2 && !strcmp(json_string_value(json_array_get(osecs, 0)), "plan") &&
              act_t >= now0 && json_integer_value(json_object_get(ov, "expires")) == act_t + 24 * 3600 &&
              json_integer_value(json_object_get(ov, "requested")) >= now0 && !json_object_get(ov, "closed") &&
              json_array_size(json_object_get(ov, "released")) == 2 &&
              !strcmp(json_string_value(json_object_get(json_array_get(json_object_get(ov, "approved_by"), 0), "id")),
                      "fg-olga"),
          "…the sections, the period (activated, expires = +24 h), the released sections and the approver");
    CHECK(ov && !json_object_get(ov, "statement") && !json_object_get(ov, "signature"),
          "…and no signed statements (the auditor's business)");
    kc_resp_free(&r);
    kc_call(K.port, "GET", "/v1/citizens/burger-1/overrides", anna_tok, NULL, &r);
    CHECK(expect(403, "forbidden", &r), "GET /citizens/{c}/overrides by the beneficiary → 403 forbidden");
    kc_call(K.port, "GET", "/v1/citizens/burger-1/overrides", carla_tok, NULL, &r);
    CHECK(expect(403, "forbidden", &r), "…by the mayor → 403 forbidden");
    kc_call(K.port, "GET", "/v1/citizens/burger-1/overrides", NULL, NULL, &r);
    CHECK(expect(401, "unauthenticated", &r), "…without a session → 401");

    /* close by the beneficiary */
    CHECK(post_close(dave_tok, "ov-1", close_env("cl-d", "wijk-dave", "ov-1", dave_k->sign_sk), &r) == 403,
          "close by someone else → 403");
    kc_resp_free(&r);
    CHECK(post_close(anna_tok, "ov-1", close_env("cl-1", "wijk-anna", "ov-1", anna_k->sign_sk), &r) == 200 &&
              !strcmp(json_string_value(json_object_get(r.json, "state")), "closed"),
          "the beneficiary closes the override → 200 closed");
    kc_resp_free(&r);
    CHECK(post_close(carla_tok, "ov-1", close_env("cl-2", "burg-carla", "ov-1", carla_k->sign_sk), &r) == 409 &&
              expect(409, "conflict", &r),
          "closing again → 409 conflict");
    CHECK(kc_call(K.port, "GET", "/v1/citizens/burger-1/sections/plan/entries", anna_tok, NULL, &r) == 403,
          "after close the beneficiary's read is refused (403 %s)", r.error);
    kc_resp_free(&r);
    CHECK(kc_call(K.port, "GET", "/v1/citizens/burger-1/dossier", anna_tok, NULL, &r) == 403 ||
              json_array_size(json_object_get(r.json, "sections")) == 0,
          "after close the overview serves no override wraps");
    kc_resp_free(&r);
    CHECK(get_escrow(carla_tok, "ov-1", &r) == 403 && expect(403, "override_not_active", &r),
          "escrow after close → 403 override_not_active");
    CHECK(kc_call(K.port, "GET", "/v1/overrides?state=closed", carla_tok, NULL, &r) == 200 &&
              json_array_size(json_object_get(r.json, "overrides")) == 1 &&
              !strcmp(json_string_value(json_object_get(json_array_get(json_object_get(r.json, "overrides"), 0),
                                                        "close_reason")),
                      "closed"),
          "GET /overrides?state=closed (mayor) → the closed record");
    kc_resp_free(&r);
    CHECK(kc_call(K.port, "GET", "/v1/citizens/burger-1/overrides", b1->token, NULL, &r) == 200, "citizen view again");
    ov = json_array_get(json_object_get(r.json, "overrides"), 0);
    CHECK(ov && !strcmp(json_string_value(json_object_get(ov, "state")), "closed") &&
              !strcmp(json_string_value(json_object_get(ov, "close_reason")), "closed") &&
              json_integer_value(json_object_get(ov, "closed")) >= act_t &&
              !strcmp(json_string_value(json_object_get(json_object_get(ov, "closed_by"), "id")), "wijk-anna"),
          "the citizen sees ov-1 closed, when and by whom");
    kc_resp_free(&r);
    CHECK(kc_call(K.port, "GET", "/v1/citizens/burger-1/journal", b1->token, NULL, &r) == 200, "journal again");
    int closed_plan = 0, closed_wonen = 0;
    json_array_foreach(json_object_get(r.json, "events"), i, e) {
        const char *a = json_string_value(json_object_get(e, "action"));
        const char *s = json_string_value(json_object_get(e, "section"));
        if (a && s && !strcmp(a, "override-closed")) {
            closed_plan += !strcmp(s, "plan");
            closed_wonen += !strcmp(s, "wonen");
        }
    }
    CHECK(closed_plan == 1 && closed_wonen == 1,
          "one override-closed event per released section tells the citizen's client what to rotate");
    kc_resp_free(&r);
}

/* ov-2 (expires by the sweeper in part 2) and ov-3 (escrow under a failing log) */
static void test_more(void)
{
    struct kc_resp r;
    unsigned char h[32];
    struct ospec o2 = {.id = "ov-2", .signer = "burg-carla", .sections = {"*"}, .hours = 1};
    json_t *env = override_env(&o2, carla_k->sign_sk);
    CHECK(kc_call(K.port, "POST", "/v1/overrides", carla_tok, env, &r) == 201, "ov-2 (all sections, 1 h) requested");
    kc_resp_free(&r);
    CHECK(statement_hash(h, env) == 0 &&
              post_approve(piet_tok, "ov-2", approval_env("ap-3", "fg-piet", "ov-2", h, piet_k->sign_sk), &r) == 200,
          "ov-2 approved");
    kc_resp_free(&r);
    json_decref(env);
    CHECK(get_escrow(carla_tok, "ov-2", &r) == 200 && json_array_size(json_object_get(r.json, "items")) == b1->n,
          "escrow of [\"*\"] releases every section's epoch (%zu)", json_array_size(json_object_get(r.json, "items")));
    kc_resp_free(&r);
    CHECK(kc_call(K.port, "GET", "/v1/citizens/burger-1/sections/veiligheid/entries", anna_tok, NULL, &r) == 200,
          "[\"*\"] covers every section for the beneficiary");
    kc_resp_free(&r);

    struct ospec o3 = {.id = "ov-3", .signer = "burg-carla", .sections = {"wonen"}, .hours = 2};
    env = override_env(&o3, carla_k->sign_sk);
    CHECK(kc_call(K.port, "POST", "/v1/overrides", carla_tok, env, &r) == 201, "ov-3 requested");
    kc_resp_free(&r);
    CHECK(statement_hash(h, env) == 0 &&
              post_approve(piet_tok, "ov-3", approval_env("ap-4", "fg-piet", "ov-3", h, piet_k->sign_sk), &r) == 200,
          "ov-3 approved");
    kc_resp_free(&r);
    json_decref(env);
}

/* Every override leaf has exactly the documented fields. */
static void test_leaf_shapes(void)
{
    uint64_t size = 0;
    unsigned char root[32];
    if (checkpoint(&size, root) != 0) {
        CHECK(0, "checkpoint");
        return;
    }
    static const struct {
        const char *event;
        const char *keys;
    } shapes[] = {
        {"override.requested", "index,time,event,override,citizen,statement,signature"},
        {"override.approved", "index,time,event,override,approver,statement,signature"},
        {"override.activated", "index,time,event,override,activated,expires"},
        {"override.escrow-released", "index,time,event,override,items"},
        {"override.wraps-uploaded", "index,time,event,override,items"},
        {"override.closed", "index,time,event,override,reason,statement,signature"},
    };
    int seen[6] = {0}, bad = 0;
    char path[128];
    struct kc_resp r;
    snprintf(path, sizeof path, "/v1/log/entries?start=0&end=%llu", (unsigned long long)size);
    if (kc_call(K.port, "GET", path, rob_tok, NULL, &r) != 200) {
        CHECK(0, "GET /log/entries as the auditor (%d)", r.status);
        kc_resp_free(&r);
        return;
    }
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(r.json, "entries"), i, e) {
        const char *b = json_string_value(json_object_get(e, "leaf"));
        unsigned char buf[16384];
        size_t len = 0;
        if (!b || b64_decode(buf, sizeof buf - 1, &len, b, strlen(b)) != 0)
            continue;
        buf[len] = 0;
        json_t *l = json_loads((const char *)buf, 0, NULL);
        const char *ev = json_string_value(json_object_get(l, "event"));
        for (size_t k = 0; ev && k < 6; k++) {
            if (strcmp(ev, shapes[k].event))
                continue;
            char keys[256] = "";
            const char *key;
            json_t *val;
            json_object_foreach(l, key, val) {
                size_t u = strlen(keys);
                snprintf(keys + u, sizeof keys - u, "%s%s", u ? "," : "", key);
            }
            if (strcmp(keys, shapes[k].keys)) {
                printf("# %s: %s\n", ev, keys);
                bad++;
            }
            seen[k]++;
        }
        json_decref(l);
    }
    kc_resp_free(&r);
    CHECK(!bad && seen[0] == 3 && seen[1] == 3 && seen[2] == 3 && seen[3] == 2 && seen[4] == 1 && seen[5] == 1,
          "every override leaf has exactly its documented fields, in order (%d %d %d %d %d %d)", seen[0], seen[1],
          seen[2], seen[3], seen[4], seen[5]);
}

/* ---------------------------------------------------------------- part 2: in-process */

static int64_t leaf_count(vault *v, const char *event, const char *needle)
{
    json_t *all = NULL;
    int64_t n = 0;
    uint64_t size = tlog_size(v->log);
    for (uint64_t s = 0; s < size; s += TLOG_MAX_ENTRIES) {
        uint64_t e = s + TLOG_MAX_ENTRIES < size ? s + TLOG_MAX_ENTRIES : size;
        if (tlog_entries(v->log, s, e, &all) != KERR_OK)
            return -1;
        size_t i;
        json_t *x;
        json_array_foreach(all, i, x) {
            const char *b = json_string_value(json_object_get(x, "leaf"));
            unsigned char buf[16384];
            size_t len = 0;
            if (b64_decode(buf, sizeof buf - 1, &len, b, strlen(b)) != 0)
                continue;
            buf[len] = 0;
            n += strstr((char *)buf, event) && (!needle || strstr((char *)buf, needle));
        }
        json_decref(all);
    }
    return n;
}

struct notice_arg {
    vault *v;
    int64_t now;
};

static kerr test_notice_apply(store_txn *t, void *arg)
{
    struct notice_arg *a = arg;
    journal_event ev = {.time = a->now, .actor = "burg-carla", .actor_role = "mayor", .organisation = "Gemeente",
                        .action = "override-activated", .basis = "override:ov-9", .result = "allowed", .remote = ""};
    return override_notice(a->v, t, "burger-1", &ev, a->now + 2 * 3600);
}

/* ---------------------------------------------------------------- part 2 helpers: synthetic records */

struct put_arg {
    vault *v;
    json_t *rec;                /* stored as is */
    const char *wrap_ov[4];     /* beneficiary wraps to store: override, section, epoch 1 */
    const char *wrap_sec[4];
};

static kerr test_put_apply(store_txn *t, void *arg)
{
    struct put_arg *a = arg;
    unsigned char w[KLUIS_WRAP_BYTES];
    memset(w, 0x5a, sizeof w);
    if (a->rec && override_put(a->v, t, a->rec) != KERR_OK)
        return t->err;
    for (int i = 0; i < 4 && a->wrap_ov[i]; i++)
        if (override_bwrap_put(a->v, t, a->wrap_ov[i], a->wrap_sec[i], 1, w) != KERR_OK)
            return t->err;
    return KERR_OK;
}

/* An active override record of burger-1 as the approve step would leave it (no leaves: the
 * in-process part checks the vault's behaviour, not the log). */
static json_t *synthetic_override(const char *id, const char *beneficiary, const char *s1, const char *s2,
                                  int64_t activated, int64_t expires, int64_t notice_at)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:[s,s], s:s, s:s, s:I, s:s, s:[], s:I, s:I, s:I}",
                     "id", id, "citizen", "burger-1", "requester", "burg-carla", "requester_org", "Gemeente",
                     "beneficiary", beneficiary, "ground", "acuut-gevaar", "justification", JUST, "hours", (json_int_t)1,
                     "sections", s1, s2, "statement", "", "signature", "", "created", (json_int_t)activated, "state",
                     "active", "approvals", "activated", (json_int_t)activated, "expires", (json_int_t)expires,
                     "notice_at", (json_int_t)notice_at);
}

/* Holds the writer for MS milliseconds, then (CLOSE_ID set) closes that override in the store, so
 * that a read decided meanwhile on a snapshot commits only after the close. */
struct blocker {
    vault *v;
    unsigned ms;
    const char *close_id;
    int started, done; /* set on the writer; read with __atomic_load_n */
};

static kerr blocker_apply(store_txn *t, void *arg)
{
    struct blocker *b = arg;
    struct timespec ts = {(time_t)(b->ms / 1000), (long)(b->ms % 1000) * 1000000L};
    __atomic_store_n(&b->started, 1, __ATOMIC_SEQ_CST);
    nanosleep(&ts, NULL);
    if (!b->close_id)
        return KERR_OK;
    json_t *rec = NULL;
    if (override_get(b->v, t, b->close_id, &rec) != KERR_OK)
        return t->err;
    json_object_set_new(rec, "state", json_string("closed"));
    json_object_set_new(rec, "closed", json_integer((json_int_t)time(NULL)));
    json_object_set_new(rec, "close_reason", json_string("closed"));
    override_put(b->v, t, rec);
    json_decref(rec);
    return t->err;
}

static void blocker_done(kerr e, void *arg)
{
    (void)e;
    __atomic_store_n(&((struct blocker *)arg)->done, 1, __ATOMIC_SEQ_CST);
}

/* Start B on the writer and return once its apply runs (the writer is held from then on). */
static int block_writer(vault *v, struct blocker *b)
{
    if (gc_submit_async(v->gc, blocker_apply, blocker_done, b) != KERR_OK)
        return -1;
    for (int i = 0; i < 5000; i++) {
        if (__atomic_load_n(&b->started, __ATOMIC_SEQ_CST))
            return 0;
        struct timespec ts = {0, 1000000L};
        nanosleep(&ts, NULL);
    }
    return -1;
}

static void wait_done(struct blocker *b)
{
    for (int i = 0; i < 10000 && !__atomic_load_n(&b->done, __ATOMIC_SEQ_CST); i++) {
        struct timespec ts = {0, 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* The number of events in burger-1's committed journal. */
static uint64_t jcount(vault *v)
{
    store_txn t;
    journal_pos pos = {0};
    (void)journal_read_begin(v->journal, "burger-1", &t, &pos);
    store_txn_abort(&t);
    return pos.count;
}

/* How many events of the citizen's journal have ACTION, RESULT and BASIS. */
static int journal_count_of(vault *v, const char *action, const char *result, const char *basis)
{
    store_txn t;
    journal_entry *je = NULL;
    size_t n = 0;
    int c = 0;
    char a[96], rs[128], b[128];
    snprintf(a, sizeof a, "\"action\":\"%s\"", action);
    snprintf(rs, sizeof rs, "\"result\":\"%s\"", result);
    snprintf(b, sizeof b, "\"basis\":\"%s\"", basis);
    journal_pos pos;
    if (journal_read_begin(v->journal, "burger-1", &t, &pos) == KERR_OK &&
        journal_list(v->journal, &t, &pos, 0, SIZE_MAX, &je, &n) == KERR_OK)
        for (size_t i = 0; i < n; i++)
            c += strstr((char *)je[i].raw, a) && strstr((char *)je[i].raw, rs) && strstr((char *)je[i].raw, b);
    store_txn_abort(&t);
    journal_entries_free(je, n);
    return c;
}

/* Erasure, the citizen's notice view and the commit-time re-check of an override basis. */
static void test_in_process_more(vault *v)
{
    struct kc_resp r;
    store_txn t;
    unsigned char w[KLUIS_WRAP_BYTES];
    int64_t now = (int64_t)time(NULL);

    /* ov-race: anna, plan+wonen, visible; ov-hidden: dave, wonen, notice due in 2 h */
    struct put_arg pa = {.v = v, .rec = synthetic_override("ov-race", "wijk-anna", "plan", "wonen", now, now + 3600, now),
                         .wrap_ov = {"ov-race", "ov-race"}, .wrap_sec = {"plan", "wonen"}};
    struct put_arg pb = {.v = v,
                         .rec = synthetic_override("ov-hidden", "wijk-dave", "wonen", "plan", now, now + 3600,
                                                   now + 7200),
                         .wrap_ov = {"ov-hidden"}, .wrap_sec = {"wonen"}};
    CHECK(pa.rec && pb.rec && gc_submit(v->gc, test_put_apply, &pa) == KERR_OK &&
              gc_submit(v->gc, test_put_apply, &pb) == KERR_OK,
          "two active overrides with beneficiary wraps stored in-process");
    json_decref(pa.rec);
    json_decref(pb.rec);

    /* citizen_notice_hours: an override whose notice is not yet due is not shown */
    CHECK(kc_call(K.port, "GET", "/v1/citizens/burger-1/overrides", b1->token, NULL, &r) == 200,
          "the citizen lists their overrides");
    int race = 0, hidden = 0;
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(r.json, "overrides"), i, o) {
        race += !strcmp(json_string_value(json_object_get(o, "id")), "ov-race");
        hidden += !strcmp(json_string_value(json_object_get(o, "id")), "ov-hidden");
    }
    CHECK(race == 1 && hidden == 0, "an override is shown from its notice time on, not before (%d %d)", race, hidden);
    kc_resp_free(&r);

    /* erasure destroys the override beneficiary wraps of the section too, under every override */
    CHECK(kc_call(K.port, "DELETE", "/v1/citizens/burger-1/sections/wonen", b1->token, NULL, &r) == 200,
          "the citizen erases wonen");
    kc_resp_free(&r);
    store_txn_begin(v->st, &t, true);
    CHECK(override_bwrap_get(v, &t, "ov-race", "wonen", 1, w) == KERR_NOT_FOUND &&
              override_bwrap_get(v, &t, "ov-hidden", "wonen", 1, w) == KERR_NOT_FOUND,
          "erasure deleted every override's beneficiary wrap of the erased section");
    CHECK(override_bwrap_get(v, &t, "ov-race", "plan", 1, w) == KERR_OK,
          "…and no wrap of another section");
    store_txn_abort(&t);

    /* a beneficiary's read racing the override's close: decided while active, committed after */
    const char *path = "/v1/citizens/burger-1/sections/plan/entries";
    CHECK(kc_call(K.port, "GET", path, anna_tok, NULL, &r) == 200, "anna reads plan under ov-race");
    kc_resp_free(&r);
    int allowed0 = journal_count_of(v, "read", "allowed", "override:ov-race");
    struct blocker b = {.v = v, .ms = 1500, .close_id = "ov-race"};
    CHECK(block_writer(v, &b) == 0, "the writer is held; ov-race gets closed when it is released");
    kc_call(K.port, "GET", path, anna_tok, NULL, &r);
    CHECK(is_err(&r, 503, "journal_unavailable") && !json_object_get(r.json, "entries"),
          "a read decided under the override but committed after its close → 503, nothing served (%d)", r.status);
    kc_resp_free(&r);
    wait_done(&b);
    kc_call(K.port, "GET", path, anna_tok, NULL, &r);
    CHECK(r.status == 403, "…and the retry is refused: 403 %s", r.error);
    kc_resp_free(&r);
    CHECK(journal_count_of(v, "read", "allowed", "override:ov-race") == allowed0,
          "the refused read left no 'allowed' event in the journal");

    /* the same when the override runs out between decision and commit */
    now = (int64_t)time(NULL);
    struct put_arg pc = {.v = v, .rec = synthetic_override("ov-exp", "wijk-anna", "plan", "plan", now, now + 2, now)};
    CHECK(pc.rec && gc_submit(v->gc, test_put_apply, &pc) == KERR_OK, "ov-exp: active for 2 s more");
    json_decref(pc.rec);
    struct blocker b2 = {.v = v, .ms = 3200};
    CHECK(block_writer(v, &b2) == 0, "the writer is held past ov-exp's expiry");
    kc_call(K.port, "GET", "/v1/citizens/burger-1/dossier", anna_tok, NULL, &r);
    CHECK(is_err(&r, 503, "journal_unavailable") && !json_object_get(r.json, "sections"),
          "an overview decided before the expiry but committed after it → 503, nothing served (%d)", r.status);
    kc_resp_free(&r);
    wait_done(&b2);
    kc_call(K.port, "GET", "/v1/citizens/burger-1/dossier", anna_tok, NULL, &r);
    CHECK(r.status == 403, "…and the retry is refused: 403 %s", r.error);
    kc_resp_free(&r);
}

static void test_in_process(void)
{
    vault *v = NULL;
    struct jerr err;
    if (kd_stop(&K) != 0 || vault_open(&v, K.vault, &err) != KERR_OK) {
        CHECK(0, "stop kluisd and open the vault in-process");
        return;
    }
    struct api_config cfg = {.listen = "127.0.0.1:0", .ctx = v};
    struct api_server *srv = NULL;
    char msg[256];
    if (api_server_start(&cfg, &srv, msg, sizeof msg) != 0) {
        CHECK(0, "in-process server: %s", msg);
        vault_close(v);
        return;
    }
    K.port = api_server_port(srv);

    /* the log cannot be written: nothing is released */
    struct kc_resp r;
    uint64_t size0 = tlog_size(v->log);
    int64_t rel0 = leaf_count(v, "override.escrow-released", "\"ov-3\"");
    store_debug_fail_next_commit(v->st, MDB_MAP_FULL);
    int st = get_escrow(carla_tok, "ov-3", &r);
    CHECK(st == 503 && !json_object_get(r.json, "items"),
          "escrow while the log cannot be written → 503 and no item leaves the vault (%d %s)", st, r.error);
    kc_resp_free(&r);
    CHECK(tlog_size(v->log) == size0 && leaf_count(v, "override.escrow-released", "\"ov-3\"") == rel0,
          "…and no escrow-released leaf was logged");
    CHECK(get_escrow(carla_tok, "ov-3", &r) == 200 && json_array_size(json_object_get(r.json, "items")) == 1,
          "once the log can be written again the escrow is released");
    kc_resp_free(&r);

    /* the sweeper, with an injected clock */
    int64_t now = (int64_t)time(NULL);
    size_t closed = 99;
    CHECK(override_sweep(v, now, &closed) == KERR_OK && closed == 0, "a sweep now closes nothing (%zu)", closed);
    CHECK(override_sweep(v, now + 3600 + 5, &closed) == KERR_OK && closed == 1,
          "a sweep just after ov-2's 1 h closes it (%zu)", closed);
    CHECK(leaf_count(v, "override.closed", "\"override\":\"ov-2\",\"reason\":\"expired\"}") == 1,
          "leaf override.closed {\"override\":\"ov-2\",\"reason\":\"expired\"}");
    store_txn t;
    json_t *rec = NULL;
    store_txn_begin(v->st, &t, true);
    CHECK(override_get(v, &t, "ov-2", &rec) == KERR_OK &&
              !strcmp(json_string_value(json_object_get(rec, "state")), "closed") &&
              !strcmp(json_string_value(json_object_get(rec, "close_reason")), "expired"),
          "ov-2's record: closed, reason expired");
    json_decref(rec);
    unsigned char w[KLUIS_WRAP_BYTES];
    CHECK(override_bwrap_get(v, &t, "ov-1", "plan", 1, w) == KERR_NOT_FOUND, "a closed override's wraps are gone");
    store_txn_abort(&t);
    struct caller anna = {.role = KROLE_PROFESSIONAL, .active = 1};
    snprintf(anna.id, sizeof anna.id, "wijk-anna");
    struct access_result ar;
    CHECK(api_access_check(v, &anna, "burger-1", "veiligheid", 0, now + 3600 + 10, &ar, NULL, NULL) != KERR_OK,
          "after expiry no access under ov-2");
    CHECK(api_access_check(v, &anna, "burger-1", "wonen", 0, now, &ar, NULL, NULL) == KERR_OK &&
              !strcmp(ar.basis_text, "override:ov-3"),
          "ov-3 (still active) allows wonen, basis override:ov-3");
    CHECK(api_access_check(v, &anna, "burger-1", "wonen", 0, now + 2 * 3600, &ar, NULL, NULL) != KERR_OK,
          "at ov-3's expires the access stops even before the sweep (lazy check)");
    CHECK(override_sweep(v, now + 3 * 3600, &closed) == KERR_OK && closed == 1, "the next sweep closes ov-3");
    CHECK(override_sweep(v, now + 3 * 3600, &closed) == KERR_OK && closed == 0, "sweeping again closes nothing");

    /* held notices (citizen_notice_hours): released at their due time, with their own time */
    uint64_t c0 = jcount(v);
    struct notice_arg nop = {v, now};
    CHECK(gc_submit(v->gc, test_notice_apply, &nop) == KERR_OK, "a notice due in 2 h is held");
    uint64_t c1 = jcount(v);
    CHECK(c1 == c0, "…and not yet in the journal");
    CHECK(override_sweep(v, now + 3600, &closed) == KERR_OK, "sweep at +1 h");
    c1 = jcount(v);
    CHECK(c1 == c0, "…still held at +1 h");
    CHECK(override_sweep(v, now + 2 * 3600, &closed) == KERR_OK, "sweep at +2 h");
    journal_entry *je = NULL;
    size_t nje = 0;
    journal_pos pos;
    if (journal_read_begin(v->journal, "burger-1", &t, &pos) == KERR_OK)
        (void)journal_list(v->journal, &t, &pos, c0, 10, &je, &nje);
    store_txn_abort(&t);
    c1 = pos.count;
    uint64_t bad = 0;
    CHECK(journal_verify(v->journal, "burger-1", &bad) == KERR_OK, "the journal chain still verifies");
    char want[64];
    snprintf(want, sizeof want, "\"time\":%lld", (long long)now);
    CHECK(c1 == c0 + 1 && nje == 1 && strstr((char *)je[0].raw, "\"action\":\"override-activated\"") &&
              strstr((char *)je[0].raw, want),
          "…released at its due time, keeping the time of the action");
    journal_entries_free(je, nje);

    test_in_process_more(v);

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
    struct kc_resp r;
    int ok = kc_vault_info(K.port, &VI) == 200 && kc_login(K.port, "beheer", K.admin, admin_tok, NULL) == 200 &&
             kc_principal_new(K.port, admin_tok, "burg-carla", "mayor", &carla_k, carla_tok) == 0 &&
             kc_principal_new(K.port, admin_tok, "fg-olga", "officer", &olga_k, olga_tok) == 0 &&
             kc_principal_new(K.port, admin_tok, "fg-piet", "officer", &piet_k, piet_tok) == 0 &&
             kc_principal_new(K.port, admin_tok, "wijk-anna", "professional", &anna_k, anna_tok) == 0 &&
             kc_principal_new(K.port, admin_tok, "wijk-dave", "professional", &dave_k, dave_tok) == 0 &&
             kc_principal_new(K.port, admin_tok, "audit-rob", "auditor", &rob_k, rob_tok) == 0 &&
             kc_principal_new(K.port, admin_tok, "wijk-bert", "professional", &bert_k, bert_tok) == 0 &&
             kc_call(K.port, "POST", "/v1/principals/wijk-bert/deactivate", admin_tok, NULL, &r) == 200 &&
             (b1 = kc_citizen_setup(K.port, admin_tok, "burger-1", "correct horse battery")) != NULL;
    kc_resp_free(&r);
    CHECK(ok, "setup: mayor, two officers, three professionals (one deactivated), an auditor, a citizen");
    if (ok) {
        test_requests();
        test_flow();
        test_more();
        test_leaf_shapes();
        test_in_process();
    }
    json_decref(ov1_env);
    kc_citizen_free(b1);
    kluis_keys_free(carla_k);
    kluis_keys_free(olga_k);
    kluis_keys_free(piet_k);
    kluis_keys_free(anna_k);
    kluis_keys_free(rob_k);
    kluis_keys_free(dave_k);
    kluis_keys_free(bert_k);
    kd_cleanup(&K);
    return TEST_END();
}
