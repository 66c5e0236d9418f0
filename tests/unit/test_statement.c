/*
 * tests/unit/test_statement.c — signed statements (vault/statement.h): the statement vector of
 * ../shared/vectors/kluis-v1.json byte for byte, one valid statement of each of the eight types,
 * and every refusal with its code: tampering, wrong type or context, wrong key or signer, the
 * issued window, unknown, duplicate, missing and mistyped fields, bad base64.
 */
#include <jansson.h>
#include <sodium.h>
#include <stdint.h>

#include "tests/test.h"
#include "vault/crypto.h"
#include "vault/encoding.h"
#include "vault/secret.h"
#include "vault/statement.h"

TEST_MAIN_DEFS

static json_t *V;
static struct kluis_keys *K;  /* the vector's signer */
static struct kluis_keys *K2; /* someone else */

static const char *vstr(const char *group, const char *name)
{
    const char *s = json_string_value(json_object_get(json_object_get(V, group), name));
    if (!s) {
        fprintf(stderr, "vector %s.%s missing\n", group, name);
        exit(2);
    }
    return s;
}

/* Envelope strings for S signed under context TYPE (no checks: for malformed statements). */
struct env {
    char *s, *g;
};

static struct env raw_env(const char *s, const char *type, const struct kluis_keys *k)
{
    struct env e = {NULL, NULL};
    unsigned char sig[64];
    if (kstmt_sign_raw(sig, (const unsigned char *)s, strlen(s), type, k->sign_sk) != 0) {
        fprintf(stderr, "kstmt_sign_raw failed for %s\n", type);
        exit(2);
    }
    e.s = b64_encode((const unsigned char *)s, strlen(s));
    e.g = b64_encode(sig, 64);
    return e;
}

static void env_free(struct env *e)
{
    free(e->s);
    free(e->g);
}

/* Verify S signed by K as TYPE at NOW; returns the error code (KERR_OK on success). */
static kerr verify_code(const char *s, const char *sign_type, const char *want_type, int64_t now, char *field)
{
    struct env e = raw_env(s, sign_type, K);
    struct kstmt st;
    struct jerr err = {KERR_OK, "", ""};
    int rc = kstmt_verify(&st, e.s, e.g, want_type, NULL, K->sign_pk, now, &err);
    if (field)
        snprintf(field, 64, "%s", err.field);
    if (rc == 0)
        kstmt_free(&st);
    env_free(&e);
    return rc == 0 ? KERR_OK : err.code;
}

#define NOW 1790000000

static void test_vector(void)
{
    unsigned char seed[32], box_sk[32], want_sig[64], sig[64];
    const char *S = vstr("statement", "statement_bytes");
    const char *type = vstr("statement", "type");
    size_t len = strlen(S);
    if (hex_decode_exact(seed, 32, vstr("statement", "sign_seed")) != 0 ||
        hex_decode_exact(box_sk, 32, vstr("keys", "box_sk")) != 0 ||
        hex_decode_exact(want_sig, 64, vstr("statement", "signature")) != 0)
        exit(2);
    CHECK(kluis_keys_from_seeds(K, seed, box_sk) == 0, "statement: vector keys");

    /* signed_message = "kluis/v1/" || type || "\n" || S */
    const char *sm = vstr("statement", "signed_message");
    char built[4096];
    snprintf(built, sizeof built, "kluis/v1/%s\n%s", type, S);
    CHECK(strcmp(built, sm) == 0, "statement: signed_message vector is kluis/v1/type\\n || S");
    CHECK(crypto_sign_verify_detached(want_sig, (const unsigned char *)sm, strlen(sm), K->sign_pk) == 0,
          "statement: vector signature over signed_message");

    CHECK(kstmt_sign_raw(sig, (const unsigned char *)S, len, type, K->sign_sk) == 0 && memcmp(sig, want_sig, 64) == 0,
          "statement: signature vector");

    json_t *env = NULL;
    struct jerr err;
    CHECK(kstmt_sign(&env, (const unsigned char *)S, len, type, K->sign_sk, &err) == 0, "statement: sign envelope");
    json_t *want_env = json_object_get(json_object_get(V, "statement"), "envelope");
    const char *es = json_string_value(json_object_get(env, "statement"));
    const char *eg = json_string_value(json_object_get(env, "signature"));
    CHECK(es && strcmp(es, json_string_value(json_object_get(want_env, "statement"))) == 0,
          "statement: envelope.statement vector");
    CHECK(eg && strcmp(eg, json_string_value(json_object_get(want_env, "signature"))) == 0,
          "statement: envelope.signature vector");
    CHECK(json_object_size(env) == 2, "statement: envelope has exactly two fields");
    json_decref(env);

    struct kstmt st;
    const char *ws = json_string_value(json_object_get(want_env, "statement"));
    const char *wg = json_string_value(json_object_get(want_env, "signature"));
    int rc = kstmt_verify(&st, ws, wg, "grant", "burger-0001", K->sign_pk, NOW, &err);
    CHECK(rc == 0, "statement: vector envelope verifies at now = issued");
    if (rc != 0) {
        printf("# %s: %s\n", err.field, err.msg);
        return;
    }
    CHECK(st.verified == 1 && st.type == KSTMT_GRANT && strcmp(st.type_name, "grant") == 0, "statement: type");
    CHECK(strcmp(st.id, "g-0001") == 0 && strcmp(st.signer, "burger-0001") == 0 && st.issued == NOW,
          "statement: common fields");
    CHECK(st.len == len && memcmp(st.bytes, S, len) == 0, "statement: exact bytes kept");
    CHECK(strcmp(st.citizen, "burger-0001") == 0 && strcmp(st.grantee, "wijk-anna") == 0 &&
              strcmp(st.access, "read") == 0 && strcmp(st.purpose, "ondersteuning") == 0 &&
              st.not_before == 1790000000 && st.expires == 1797776000 && st.request == NULL && st.note == NULL,
          "statement: grant fields");
    CHECK(json_array_size(st.sections) == 1 && kstmt_covers_section(&st, "plan") &&
              !kstmt_covers_section(&st, "wonen") && !st.all_sections,
          "statement: grant sections");
    unsigned char h[32], hw[32];
    CHECK(kstmt_hash(h, &st) == 0 && kluis_hash(hw, (const unsigned char *)S, len) == 0 && memcmp(h, hw, 32) == 0,
          "statement: statement_hash over the exact bytes");
    kstmt_free(&st);

    /* The issued window, at its edges. */
    CHECK(kstmt_verify(&st, ws, wg, "grant", NULL, K->sign_pk, NOW - 300, &err) == 0, "issued: 300 s ahead accepted");
    kstmt_free(&st);
    CHECK(kstmt_verify(&st, ws, wg, "grant", NULL, K->sign_pk, NOW - 301, &err) == -1 &&
              err.code == KERR_BAD_STATEMENT && strcmp(err.field, "issued") == 0,
          "issued: 301 s in the future refused");
    CHECK(kstmt_verify(&st, ws, wg, "grant", NULL, K->sign_pk, NOW + 86400, &err) == 0, "issued: 24 h old accepted");
    kstmt_free(&st);
    CHECK(kstmt_verify(&st, ws, wg, "grant", NULL, K->sign_pk, NOW + 86401, &err) == -1 &&
              err.code == KERR_BAD_STATEMENT,
          "issued: 24 h + 1 s old refused");
    CHECK(st.obj == NULL && st.bytes == NULL, "issued: struct zeroed on failure");

    /* Auditor path: old statements stay verifiable without the window. */
    CHECK(kstmt_open(&st, ws, wg, NULL, &err) == 0 && st.verified == 0 && st.type == KSTMT_GRANT,
          "open: parses without verifying");
    CHECK(kstmt_check_issued(&st, NOW + 10 * 86400, &err) == -1, "open: check_issued refuses a 10-day-old one");
    CHECK(kstmt_check_signature(&st, K2->sign_pk, &err) == -1 && err.code == KERR_BAD_SIGNATURE && !st.verified,
          "open: wrong key refused");
    CHECK(kstmt_check_signature(&st, K->sign_pk, &err) == 0 && st.verified, "open: signature verifies afterwards");
    kstmt_free(&st);

    /* Refusals on the vector envelope. */
    CHECK(kstmt_verify(&st, ws, wg, "grant", "wijk-anna", K->sign_pk, NOW, &err) == -1 &&
              err.code == KERR_BAD_STATEMENT && strcmp(err.field, "signer") == 0,
          "verify: signer other than expected refused");
    CHECK(kstmt_verify(&st, ws, wg, "grant", NULL, K2->sign_pk, NOW, &err) == -1 && err.code == KERR_BAD_SIGNATURE,
          "verify: wrong key refused");
    CHECK(kstmt_verify(&st, ws, wg, "revoke", NULL, K->sign_pk, NOW, &err) == -1 && err.code == KERR_BAD_STATEMENT &&
              strcmp(err.field, "type") == 0,
          "verify: wrong expected type refused");

    char *t = strdup(wg);
    t[5] = t[5] == 'A' ? 'B' : 'A';
    CHECK(kstmt_verify(&st, ws, t, "grant", NULL, K->sign_pk, NOW, &err) == -1 && err.code == KERR_BAD_SIGNATURE,
          "verify: tampered signature refused");
    free(t);

    /* Tamper with S itself: change one digit of "expires", re-encode, keep the signature. */
    char *s2 = strdup(S);
    char *p = strstr(s2, "1797776000");
    p[0] = '2';
    char *s2b = b64_encode((const unsigned char *)s2, len);
    CHECK(kstmt_verify(&st, s2b, wg, "grant", NULL, K->sign_pk, NOW, &err) == -1 && err.code == KERR_BAD_SIGNATURE,
          "verify: tampered statement byte refused");
    free(s2b);
    /* Same bytes plus insignificant whitespace: the signature is over the exact bytes. */
    size_t l3 = len + 1;
    char *s3 = malloc(l3 + 1);
    memcpy(s3, S, len - 1);
    memcpy(s3 + len - 1, " }", 3);
    char *s3b = b64_encode((const unsigned char *)s3, l3);
    CHECK(kstmt_verify(&st, s3b, wg, "grant", NULL, K->sign_pk, NOW, &err) == -1 && err.code == KERR_BAD_SIGNATURE,
          "verify: re-serialised statement refused (exact bytes)");
    free(s3b);
    free(s3);
    free(s2);

    /* Same S signed under another type's context. */
    struct env e = raw_env(S, "revoke", K);
    CHECK(kstmt_verify(&st, e.s, e.g, "grant", NULL, K->sign_pk, NOW, &err) == -1 && err.code == KERR_BAD_SIGNATURE,
          "verify: signature under another type context refused");
    env_free(&e);

    /* Bad base64. */
    size_t wl = strlen(ws);
    char *pad = malloc(wl + 3);
    memcpy(pad, ws, wl);
    memcpy(pad + wl, "==", 3);
    CHECK(kstmt_verify(&st, pad, wg, "grant", NULL, K->sign_pk, NOW, &err) == -1 && err.code == KERR_BAD_ENCODING,
          "b64: padded statement refused");
    pad[wl] = '\0';
    pad[3] = '+';
    CHECK(kstmt_verify(&st, pad, wg, "grant", NULL, K->sign_pk, NOW, &err) == -1 && err.code == KERR_BAD_ENCODING,
          "b64: standard-alphabet character refused");
    pad[3] = ' ';
    CHECK(kstmt_verify(&st, pad, wg, "grant", NULL, K->sign_pk, NOW, &err) == -1 && err.code == KERR_BAD_ENCODING,
          "b64: whitespace refused");
    free(pad);
    char *sig63 = strdup(wg);
    sig63[strlen(sig63) - 2] = '\0';
    CHECK(kstmt_verify(&st, ws, sig63, "grant", NULL, K->sign_pk, NOW, &err) == -1 && err.code == KERR_BAD_ENCODING &&
              strcmp(err.field, "signature") == 0,
          "b64: short signature refused");
    free(sig63);
    CHECK(kstmt_verify(&st, ws, "", "grant", NULL, K->sign_pk, NOW, &err) == -1 && err.code == KERR_BAD_ENCODING,
          "b64: empty signature refused");
    CHECK(kstmt_verify(&st, "", wg, "grant", NULL, K->sign_pk, NOW, &err) == -1 && err.code == KERR_BAD_STATEMENT,
          "verify: empty statement refused");
}

/* A grant body with FIELDS spliced in (fields of the vector grant minus those named in DROP). */
static const char *GRANT_HEAD = "{\"type\":\"grant\",\"id\":\"g-2\",\"signer\":\"burger-0001\",\"issued\":1790000000,";

static void test_malformed(void)
{
    char s[2048], f[64];
    const char *tail = "\"citizen\":\"burger-0001\",\"grantee\":\"wijk-anna\",\"sections\":[\"plan\"],"
                       "\"access\":\"read\",\"purpose\":\"ondersteuning\",\"not_before\":1790000000,"
                       "\"expires\":1797776000";
    snprintf(s, sizeof s, "%s%s}", GRANT_HEAD, tail);
    CHECK(verify_code(s, "grant", "grant", NOW, f) == KERR_OK, "malformed: baseline grant verifies");

    snprintf(s, sizeof s, "%s%s,\"extra\":1}", GRANT_HEAD, tail);
    CHECK(verify_code(s, "grant", "grant", NOW, f) == KERR_BAD_STATEMENT && strcmp(f, "extra") == 0,
          "malformed: unknown field refused and named");
    snprintf(s, sizeof s, "%s%s,\"grantee\":\"wijk-bob\"}", GRANT_HEAD, tail);
    CHECK(verify_code(s, "grant", "grant", NOW, f) == KERR_BAD_STATEMENT, "malformed: duplicate key refused");
    snprintf(s, sizeof s, "{\"type\":\"grant\",\"type\":\"grant\",\"id\":\"g-2\",\"signer\":\"burger-0001\","
                          "\"issued\":1790000000,%s}", tail);
    CHECK(verify_code(s, "grant", "grant", NOW, f) == KERR_BAD_STATEMENT, "malformed: duplicate type refused");
    snprintf(s, sizeof s, "%s\"citizen\":\"burger-0001\",\"grantee\":\"wijk-anna\",\"sections\":[\"plan\"],"
                          "\"access\":\"read\",\"purpose\":\"ondersteuning\",\"not_before\":1790000000}", GRANT_HEAD);
    CHECK(verify_code(s, "grant", "grant", NOW, f) == KERR_BAD_STATEMENT && strcmp(f, "expires") == 0,
          "malformed: missing field refused and named");
    snprintf(s, sizeof s, "{\"type\":\"grant\",\"id\":\"g-2\",\"signer\":\"burger-0001\",\"issued\":\"1790000000\",%s}",
             tail);
    CHECK(verify_code(s, "grant", "grant", NOW, f) == KERR_BAD_STATEMENT && strcmp(f, "issued") == 0,
          "malformed: issued as a string refused");
    snprintf(s, sizeof s, "{\"type\":\"grant\",\"id\":\"G-2\",\"signer\":\"burger-0001\",\"issued\":1790000000,%s}",
             tail);
    CHECK(verify_code(s, "grant", "grant", NOW, f) == KERR_BAD_STATEMENT && strcmp(f, "id") == 0,
          "malformed: bad identifier refused");
    snprintf(s, sizeof s, "%s%s}", GRANT_HEAD, tail);
    char *a = strstr(s, "\"read\"");
    memcpy(a, "\"rea\" ", 6);
    CHECK(verify_code(s, "grant", "grant", NOW, f) == KERR_BAD_STATEMENT && strcmp(f, "access") == 0,
          "malformed: access other than read/write refused");
    snprintf(s, sizeof s, "%s%s}", GRANT_HEAD, tail);
    a = strstr(s, "[\"plan\"]");
    memcpy(a, "[\"*\"]   ", 8);
    CHECK(verify_code(s, "grant", "grant", NOW, f) == KERR_BAD_STATEMENT && strcmp(f, "sections") == 0,
          "malformed: [\"*\"] refused in a grant");
    snprintf(s, sizeof s, "%s%s,\"note\":17}", GRANT_HEAD, tail);
    CHECK(verify_code(s, "grant", "grant", NOW, f) == KERR_BAD_STATEMENT && strcmp(f, "note") == 0,
          "malformed: note as a number refused");
    snprintf(s, sizeof s, "%s%s,\"note\":\"ok\",\"request\":\"r-1\"}", GRANT_HEAD, tail);
    CHECK(verify_code(s, "grant", "grant", NOW, f) == KERR_OK, "malformed: optional note and request accepted");
    snprintf(s, sizeof s, "[%s%s}]", GRANT_HEAD, tail);
    CHECK(verify_code(s, "grant", "grant", NOW, f) == KERR_BAD_STATEMENT, "malformed: array top level refused");
    snprintf(s, sizeof s, "%s%s", GRANT_HEAD, tail);
    CHECK(verify_code(s, "grant", "grant", NOW, f) == KERR_BAD_STATEMENT, "malformed: truncated JSON refused");
    snprintf(s, sizeof s, "{\"id\":\"g-2\",\"signer\":\"burger-0001\",\"issued\":1790000000,%s}", tail);
    CHECK(verify_code(s, "grant", "grant", NOW, f) == KERR_BAD_STATEMENT && strcmp(f, "type") == 0,
          "malformed: missing type refused");
    snprintf(s, sizeof s, "{\"type\":\"grant\",\"id\":\"g-2\",\"signer\":\"burger-0001\",\"issued\":-5,%s}", tail);
    CHECK(verify_code(s, "grant", "grant", 0, f) == KERR_BAD_STATEMENT && strcmp(f, "issued") == 0,
          "malformed: negative issued refused");
    snprintf(s, sizeof s, "{\"type\":\"grant\",\"id\":\"g-2\",\"signer\":\"burger-0001\",\"issued\":1.79e9,%s}", tail);
    CHECK(verify_code(s, "grant", "grant", NOW, f) == KERR_BAD_STATEMENT, "malformed: real-number issued refused");
    snprintf(s, sizeof s, "{\"type\":\"nonsense\",\"id\":\"g-2\",\"signer\":\"burger-0001\",\"issued\":1}");
    CHECK(verify_code(s, "grant", "grant", NOW, f) == KERR_BAD_STATEMENT, "malformed: unknown type refused");
    /* A revoke posted where a grant is expected, correctly signed as a revoke. */
    snprintf(s, sizeof s, "{\"type\":\"revoke\",\"id\":\"x-1\",\"signer\":\"burger-0001\",\"issued\":%d,"
                          "\"citizen\":\"burger-0001\",\"grant\":\"g-1\"}", NOW);
    CHECK(verify_code(s, "revoke", "grant", NOW, f) == KERR_BAD_STATEMENT && strcmp(f, "type") == 0,
          "malformed: revoke where a grant is expected refused");
    CHECK(verify_code(s, "revoke", "revoke", NOW, f) == KERR_OK, "malformed: that revoke verifies as a revoke");

    /* Deep nesting inside an allowed field. */
    char big[4096];
    snprintf(big, sizeof big, "%s%s,\"note\":", GRANT_HEAD, tail);
    size_t bl = strlen(big);
    for (int i = 0; i < 20; i++)
        big[bl++] = '[';
    for (int i = 0; i < 20; i++)
        big[bl++] = ']';
    big[bl++] = '}';
    big[bl] = '\0';
    CHECK(verify_code(big, "grant", "grant", NOW, f) == KERR_BAD_STATEMENT, "malformed: nesting deeper than 16 refused");

    /* Oversized statement. */
    size_t n = KSTMT_MAX_BYTES + 100;
    char *huge = malloc(n + 1);
    int h = snprintf(huge, n + 1, "%s%s,\"note\":\"", GRANT_HEAD, tail);
    memset(huge + h, 'x', n - (size_t)h - 2);
    memcpy(huge + n - 2, "\"}", 3);
    char *hb = b64_encode((const unsigned char *)huge, n);
    unsigned char sig[64] = {0};
    char *gb = b64_encode(sig, 64);
    struct kstmt st;
    struct jerr err;
    CHECK(kstmt_verify(&st, hb, gb, "grant", NULL, K->sign_pk, NOW, &err) == -1 && err.code == KERR_BAD_STATEMENT,
          "malformed: statement over 64 KiB refused");
    unsigned char rs[64];
    CHECK(kstmt_sign_raw(rs, (const unsigned char *)huge, n, "grant", K->sign_sk) == -1,
          "sign_raw: over 64 KiB refused");
    free(gb);
    free(hb);
    free(huge);

    /* kstmt_sign refuses to sign what a verifier would refuse. */
    json_t *env = NULL;
    snprintf(s, sizeof s, "%s%s,\"extra\":1}", GRANT_HEAD, tail);
    CHECK(kstmt_sign(&env, (const unsigned char *)s, strlen(s), "grant", K->sign_sk, &err) == -1 &&
              err.code == KERR_BAD_STATEMENT && env == NULL,
          "sign: unknown field refused before signing");
    snprintf(s, sizeof s, "%s%s}", GRANT_HEAD, tail);
    CHECK(kstmt_sign(&env, (const unsigned char *)s, strlen(s), "revoke", K->sign_sk, &err) == -1 &&
              err.code == KERR_BAD_STATEMENT && env == NULL,
          "sign: type other than S's own refused");
    CHECK(kstmt_sign_raw(rs, (const unsigned char *)s, strlen(s), "bogus", K->sign_sk) == -1,
          "sign_raw: unknown type refused");
}

/* Build, sign (kstmt_sign_json) and verify one statement; returns 0 when it verifies. */
static int roundtrip(json_t *obj, const char *type, struct kstmt *st, struct jerr *err)
{
    json_t *env = NULL;
    if (kstmt_sign_json(&env, obj, K->sign_sk, err) != 0) {
        json_decref(obj);
        return -1;
    }
    json_decref(obj);
    int rc = kstmt_verify(st, json_string_value(json_object_get(env, "statement")),
                          json_string_value(json_object_get(env, "signature")), type, "burger-0001", K->sign_pk,
                          NOW, err);
    json_decref(env);
    return rc;
}

static json_t *common(const char *type, const char *id)
{
    return json_pack("{s:s, s:s, s:s, s:I}", "type", type, "id", id, "signer", "burger-0001", "issued",
                     (json_int_t)NOW);
}

static void test_types(void)
{
    struct kstmt st;
    struct jerr err;
    unsigned char h32[32];
    memset(h32, 0xab, 32);
    char *hb = b64_encode(h32, 32);

    json_t *o = common("epoch", "ep-1");
    json_object_set_new(o, "citizen", json_string("burger-0001"));
    json_object_set_new(o, "section", json_string("plan"));
    json_object_set_new(o, "epoch", json_integer(2));
    json_object_set_new(o, "commit", json_string(hb));
    CHECK(roundtrip(o, "epoch", &st, &err) == 0 && st.type == KSTMT_EPOCH && st.epoch == 2 &&
              strcmp(st.section, "plan") == 0 && memcmp(st.commit, h32, 32) == 0,
          "types: epoch");
    kstmt_free(&st);

    o = common("epoch", "ep-1");
    json_object_set_new(o, "citizen", json_string("burger-0001"));
    json_object_set_new(o, "section", json_string("plan"));
    json_object_set_new(o, "epoch", json_integer(0));
    json_object_set_new(o, "commit", json_string(hb));
    CHECK(roundtrip(o, "epoch", &st, &err) == -1 && err.code == KERR_BAD_STATEMENT && strcmp(err.field, "epoch") == 0,
          "types: epoch 0 refused");

    o = common("epoch", "ep-1");
    json_object_set_new(o, "citizen", json_string("burger-0001"));
    json_object_set_new(o, "section", json_string("plan"));
    json_object_set_new(o, "epoch", json_integer(2));
    json_object_set_new(o, "commit", json_string("q83vEjRWeJA"));
    CHECK(roundtrip(o, "epoch", &st, &err) == -1 && err.code == KERR_BAD_STATEMENT && strcmp(err.field, "commit") == 0,
          "types: 8-byte commit refused");

    o = common("entry", "e-0001");
    json_object_set_new(o, "citizen", json_string("burger-0001"));
    json_object_set_new(o, "section", json_string("plan"));
    json_object_set_new(o, "epoch", json_integer(3));
    json_object_set_new(o, "blob_hash", json_string(hb));
    json_object_set_new(o, "corrects", json_string("e-0000"));
    CHECK(roundtrip(o, "entry", &st, &err) == 0 && st.type == KSTMT_ENTRY && st.epoch == 3 &&
              memcmp(st.blob_hash, h32, 32) == 0 && st.corrects && strcmp(st.corrects, "e-0000") == 0,
          "types: entry with corrects");
    kstmt_free(&st);

    o = common("revoke", "rv-1");
    json_object_set_new(o, "citizen", json_string("burger-0001"));
    json_object_set_new(o, "grant", json_string("g-0001"));
    CHECK(roundtrip(o, "revoke", &st, &err) == 0 && st.type == KSTMT_REVOKE && strcmp(st.grant, "g-0001") == 0,
          "types: revoke");
    kstmt_free(&st);

    o = common("request", "rq-1");
    json_object_set_new(o, "citizen", json_string("burger-0001"));
    json_object_set_new(o, "sections", json_pack("[s,s]", "plan", "wonen"));
    json_object_set_new(o, "access", json_string("write"));
    json_object_set_new(o, "purpose", json_string("ondersteuning"));
    json_object_set_new(o, "days", json_integer(90));
    CHECK(roundtrip(o, "request", &st, &err) == 0 && st.type == KSTMT_REQUEST && st.days == 90 &&
              strcmp(st.access, "write") == 0 && kstmt_covers_section(&st, "wonen") && st.note == NULL,
          "types: request");
    kstmt_free(&st);

    o = common("request", "rq-1");
    json_object_set_new(o, "citizen", json_string("burger-0001"));
    json_object_set_new(o, "sections", json_pack("[s,s]", "plan", "plan"));
    json_object_set_new(o, "access", json_string("write"));
    json_object_set_new(o, "purpose", json_string("ondersteuning"));
    json_object_set_new(o, "days", json_integer(90));
    CHECK(roundtrip(o, "request", &st, &err) == -1 && err.code == KERR_BAD_STATEMENT,
          "types: request naming a section twice refused");

    const char *just = "Acuut gevaar voor de bewoner; hulpverlening kan niet wachten op toestemming.";
    o = common("override", "ov-1");
    json_object_set_new(o, "citizen", json_string("burger-0001"));
    json_object_set_new(o, "sections", json_pack("[s]", "*"));
    json_object_set_new(o, "beneficiary", json_string("wijk-anna"));
    json_object_set_new(o, "ground", json_string("acuut-gevaar"));
    json_object_set_new(o, "justification", json_string(just));
    json_object_set_new(o, "hours", json_integer(48));
    CHECK(roundtrip(o, "override", &st, &err) == 0 && st.type == KSTMT_OVERRIDE && st.all_sections &&
              kstmt_covers_section(&st, "anything") && st.hours == 48 && strcmp(st.justification, just) == 0,
          "types: override with [\"*\"]");
    kstmt_free(&st);

    o = common("override", "ov-2");
    json_object_set_new(o, "citizen", json_string("burger-0001"));
    json_object_set_new(o, "sections", json_pack("[s,s]", "plan", "wonen"));
    json_object_set_new(o, "beneficiary", json_string("wijk-anna"));
    json_object_set_new(o, "ground", json_string("acuut-gevaar"));
    json_object_set_new(o, "justification", json_string(just));
    json_object_set_new(o, "hours", json_integer(48));
    CHECK(roundtrip(o, "override", &st, &err) == 0 && !st.all_sections && kstmt_covers_section(&st, "wonen") &&
              !kstmt_covers_section(&st, "geld"),
          "types: override with named sections");
    kstmt_free(&st);

    o = common("override", "ov-3");
    json_object_set_new(o, "citizen", json_string("burger-0001"));
    json_object_set_new(o, "sections", json_pack("[s,s]", "plan", "*"));
    json_object_set_new(o, "beneficiary", json_string("wijk-anna"));
    json_object_set_new(o, "ground", json_string("acuut-gevaar"));
    json_object_set_new(o, "justification", json_string(just));
    json_object_set_new(o, "hours", json_integer(48));
    CHECK(roundtrip(o, "override", &st, &err) == -1 && err.code == KERR_BAD_STATEMENT &&
              strcmp(err.field, "sections") == 0,
          "types: override mixing \"*\" and names refused");

    o = common("override", "ov-4");
    json_object_set_new(o, "citizen", json_string("burger-0001"));
    json_object_set_new(o, "sections", json_array());
    json_object_set_new(o, "beneficiary", json_string("wijk-anna"));
    json_object_set_new(o, "ground", json_string("acuut-gevaar"));
    json_object_set_new(o, "justification", json_string(just));
    json_object_set_new(o, "hours", json_integer(48));
    CHECK(roundtrip(o, "override", &st, &err) == -1 && err.code == KERR_BAD_STATEMENT,
          "types: override with no sections refused");

    o = common("override-approval", "oa-1");
    json_object_set_new(o, "override", json_string("ov-1"));
    json_object_set_new(o, "statement_hash", json_string(hb));
    CHECK(roundtrip(o, "override-approval", &st, &err) == 0 && st.type == KSTMT_OVERRIDE_APPROVAL &&
              strcmp(st.override_id, "ov-1") == 0 && memcmp(st.statement_hash, h32, 32) == 0,
          "types: override-approval");
    kstmt_free(&st);

    o = common("override-close", "oc-1");
    json_object_set_new(o, "override", json_string("ov-1"));
    json_object_set_new(o, "reason", json_string("Situatie stabiel."));
    CHECK(roundtrip(o, "override-close", &st, &err) == 0 && st.type == KSTMT_OVERRIDE_CLOSE &&
              strcmp(st.reason, "Situatie stabiel.") == 0 && st.citizen == NULL,
          "types: override-close");
    kstmt_free(&st);

    o = common("override-close", "oc-1");
    json_object_set_new(o, "override", json_string("ov-1"));
    json_object_set_new(o, "reason", json_string("x"));
    json_object_set_new(o, "citizen", json_string("burger-0001"));
    CHECK(roundtrip(o, "override-close", &st, &err) == -1 && err.code == KERR_BAD_STATEMENT &&
              strcmp(err.field, "citizen") == 0,
          "types: a field of another type is unknown here");
    free(hb);

    /* Tables and names. */
    size_t n = 0;
    const struct kstmt_field *fl = kstmt_fields(KSTMT_GRANT, &n);
    CHECK(fl && n == 9 && strcmp(fl[0].name, "citizen") == 0, "types: grant table has 9 further fields");
    CHECK(kstmt_fields(KSTMT_TYPE_COUNT_, &n) == NULL && n == 0, "types: out-of-range table is NULL");
    int names_ok = 1;
    for (int t = 0; t < KSTMT_TYPE_COUNT_; t++) {
        enum kstmt_type back;
        names_ok &= kstmt_type_from_name(&back, kstmt_type_name((enum kstmt_type)t)) == 0 && (int)back == t;
    }
    CHECK(names_ok, "types: names round trip");
    enum kstmt_type dummy;
    CHECK(kstmt_type_from_name(&dummy, "Grant") == -1 && kstmt_type_name((enum kstmt_type)99) == NULL,
          "types: unknown names refused");
}

int main(void)
{
    char path[1024];
    json_error_t je;
    if (secret_init(0) != 0)
        return 2;
    snprintf(path, sizeof path, "%s/kluis-v1.json", test_vectors_dir());
    json_t *root = json_load_file(path, 0, &je);
    if (!root) {
        fprintf(stderr, "%s: %s\n", path, je.text);
        return 2;
    }
    V = json_object_get(root, "vectors");
    K = kluis_keys_new();
    K2 = kluis_keys_new();
    if (!V || !K || !K2 || kluis_keys_generate(K2) != 0)
        return 2;
    test_vector();
    test_malformed();
    test_types();
    kluis_keys_free(K);
    kluis_keys_free(K2);
    json_decref(root);
    return TEST_END();
}
