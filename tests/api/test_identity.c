/*
 * tests/api/test_identity.c — sessions, the passphrase path, principals, citizens and charter
 * adoption (SPEC §3–§6) against a real kluisd: every endpoint, one check per refusal code, and the
 * promises behind them — challenges are single-use, deactivation ends sessions at once, enrollment
 * codes are single-use, a passphrase change retires the old auth_key, the lockout answers 429 with
 * Retry-After, refused requests store nothing, data.mdb holds no citizen id or name in clear.
 */
#include "tests/test.h"
#include "tests/api/client.h"
#include "tests/api/harness.h"

#include <sodium.h>
#include <time.h>
#include <unistd.h>

#include "vault/encoding.h"
#include "vault/session.h"
#include "vault/vault.h"

TEST_MAIN_DEFS

static struct kd K;

static int post(const char *path, const char *token, json_t *body, struct kc_resp *r)
{
    int st = kc_call(K.port, "POST", path, token, body, r);
    json_decref(body);
    return st;
}

/* status and error code of one call, response freed */
static int call_code(const char *method, const char *path, const char *token, json_t *body, char code[64])
{
    struct kc_resp r;
    int st = kc_call(K.port, method, path, token, body, &r);
    json_decref(body);
    snprintf(code, 64, "%s", r.error);
    kc_resp_free(&r);
    return st;
}

#define EXPECT(method, path, token, body, status, err, ...)                                                  \
    do {                                                                                                     \
        char code_[64];                                                                                      \
        int st_ = call_code(method, path, token, body, code_);                                               \
        CHECK(st_ == (status) && strcmp(code_, err) == 0, __VA_ARGS__);                                      \
        if (st_ != (status) || strcmp(code_, err) != 0)                                                      \
            printf("#   got %d %s\n", st_, code_);                                                           \
    } while (0)

static uint64_t log_size(void)
{
    struct kc_resp r;
    uint64_t n = 0;
    if (kc_call(K.port, "GET", "/v1/log/checkpoint", NULL, NULL, &r) == 200) {
        const char *nl = strchr(r.body, '\n');
        if (nl)
            n = strtoull(nl + 1, NULL, 10);
    }
    kc_resp_free(&r);
    return n;
}

static json_t *jb64(const unsigned char *p, size_t n)
{
    char *s = b64_encode(p, n);
    json_t *j = json_string(s);
    free(s);
    return j;
}

static json_t *principal_body(const char *id, const char *role, const struct kluis_keys *k)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "id", id, "role", role, "display_name", "Anna de Vries",
                     "organisation", "Wijkteam Noord", "sign_pk", jb64(k->sign_pk, 32), "box_pk", jb64(k->box_pk, 32));
}

static int file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)n);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    int found = memmem(buf, got, needle, strlen(needle)) != NULL;
    free(buf);
    return found;
}

static int directory_has(const char *token, const char *id, int *active)
{
    struct kc_resp r;
    int found = 0;
    if (kc_call(K.port, "GET", "/v1/principals", token, NULL, &r) == 200 && json_is_array(r.json)) {
        size_t i;
        json_t *p;
        json_array_foreach(r.json, i, p) {
            if (strcmp(json_string_value(json_object_get(p, "id")), id) == 0) {
                found = 1;
                if (active)
                    *active = json_is_true(json_object_get(p, "active"));
            }
        }
    }
    kc_resp_free(&r);
    return found;
}

static void test_challenge_login(const char *admin)
{
    struct kc_resp r;
    unsigned char ch[32], sig[64];
    int64_t now = (int64_t)time(NULL);
    int st = post("/v1/auth/challenge", NULL, json_pack("{s:s}", "id", "beheer"), &r);
    const char *c = json_string_value(json_object_get(r.json, "challenge"));
    json_int_t exp = json_integer_value(json_object_get(r.json, "expires"));
    CHECK(st == 200 && c && b64_decode_exact(ch, 32, c) == 0 && exp >= now + 59 && exp <= now + 61,
          "challenge: 32 bytes, expires in 60 s");
    kc_resp_free(&r);
    st = post("/v1/auth/challenge", NULL, json_pack("{s:s}", "id", "niemand"), &r);
    CHECK(st == 200 && json_object_size(r.json) == 2 && json_is_string(json_object_get(r.json, "challenge")),
          "challenge for an unknown id is answered the same way");
    kc_resp_free(&r);

    /* a failed attempt consumes the challenge */
    (void)kluis_auth_sign(sig, ch, "beheer", K.admin->sign_sk);
    sig[0] ^= 1;
    EXPECT("POST", "/v1/auth/session", NULL,
           json_pack("{s:s, s:o, s:o}", "id", "beheer", "challenge", jb64(ch, 32), "signature", jb64(sig, 64)), 401,
           "bad_signature", "a wrong signature is 401 bad_signature");
    sig[0] ^= 1;
    EXPECT("POST", "/v1/auth/session", NULL,
           json_pack("{s:s, s:o, s:o}", "id", "beheer", "challenge", jb64(ch, 32), "signature", jb64(sig, 64)), 401,
           "bad_credentials", "the challenge was consumed by the failed attempt: 401 bad_credentials");

    /* a successful attempt consumes it too */
    st = post("/v1/auth/challenge", NULL, json_pack("{s:s}", "id", "beheer"), &r);
    if (b64_decode_exact(ch, 32, json_string_value(json_object_get(r.json, "challenge"))) != 0)
        memset(ch, 0, 32);
    kc_resp_free(&r);
    (void)kluis_auth_sign(sig, ch, "beheer", K.admin->sign_sk);
    st = post("/v1/auth/session", NULL,
              json_pack("{s:s, s:o, s:o}", "id", "beheer", "challenge", jb64(ch, 32), "signature", jb64(sig, 64)), &r);
    const char *role = json_string_value(json_object_get(r.json, "role"));
    exp = json_integer_value(json_object_get(r.json, "expires"));
    unsigned char tok[32];
    CHECK(st == 200 && role && strcmp(role, "admin") == 0 &&
              b64_decode_exact(tok, 32, json_string_value(json_object_get(r.json, "token"))) == 0 &&
              exp >= now + 30 * 60 - 1 && exp <= now + 30 * 60 + 5,
          "session: 32-byte token, role admin, expires after the charter's 30 minutes");
    kc_resp_free(&r);
    EXPECT("POST", "/v1/auth/session", NULL,
           json_pack("{s:s, s:o, s:o}", "id", "beheer", "challenge", jb64(ch, 32), "signature", jb64(sig, 64)), 401,
           "bad_credentials", "a challenge is single-use: the second use is 401 bad_credentials");

    /* a challenge is bound to its id */
    st = post("/v1/auth/challenge", NULL, json_pack("{s:s}", "id", "iemand-anders"), &r);
    if (b64_decode_exact(ch, 32, json_string_value(json_object_get(r.json, "challenge"))) != 0)
        memset(ch, 0, 32);
    kc_resp_free(&r);
    (void)kluis_auth_sign(sig, ch, "beheer", K.admin->sign_sk);
    EXPECT("POST", "/v1/auth/session", NULL,
           json_pack("{s:s, s:o, s:o}", "id", "beheer", "challenge", jb64(ch, 32), "signature", jb64(sig, 64)), 401,
           "bad_credentials", "a challenge issued for another id is refused");

    /* an unknown id fails like a bad signature */
    struct kluis_keys *k = kluis_keys_new();
    if (kluis_keys_generate(k) != 0)
        abort();
    char token[KC_TOKEN_MAX];
    st = kc_login(K.port, "niemand", k, token, &r);
    CHECK(st == 401 && strcmp(r.error, "bad_signature") == 0, "login for an unknown id is 401 bad_signature");
    kc_resp_free(&r);
    kluis_keys_free(k);

    /* input checks */
    EXPECT("POST", "/v1/auth/session", NULL,
           json_pack("{s:s, s:s, s:o}", "id", "beheer", "challenge", "!!", "signature", jb64(sig, 64)), 400,
           "bad_encoding", "bad base64 is 400 bad_encoding");
    EXPECT("POST", "/v1/auth/session", NULL,
           json_pack("{s:s, s:o, s:o}", "id", "beheer", "challenge", jb64(ch, 31), "signature", jb64(sig, 64)), 400,
           "bad_encoding", "a 31-byte challenge is 400 bad_encoding");
    EXPECT("POST", "/v1/auth/challenge", NULL, json_pack("{s:s}", "id", "Beheer!"), 400, "bad_request",
           "a bad identifier is 400 bad_request");
    EXPECT("POST", "/v1/auth/challenge", NULL, json_pack("{s:s, s:i}", "id", "beheer", "x", 1), 400, "bad_request",
           "an unknown field is 400 bad_request");
    st = kc_call_raw(K.port, "POST", "/v1/auth/challenge", NULL, "application/json",
                     "{\"id\":\"beheer\",\"id\":\"beheer\"}", 29, &r);
    CHECK(st == 400 && strcmp(r.error, "bad_request") == 0, "a duplicate key is 400 bad_request");
    kc_resp_free(&r);
    st = kc_call_raw(K.port, "POST", "/v1/auth/challenge", NULL, "text/plain", "{\"id\":\"beheer\"}", 15, &r);
    CHECK(st == 415 && strcmp(r.error, "unsupported_media_type") == 0, "text/plain is 415 unsupported_media_type");
    kc_resp_free(&r);
    (void)admin;
}

static void test_sessions(const char *admin)
{
    char code[64];
    EXPECT("GET", "/v1/principals", NULL, NULL, 401, "unauthenticated", "no token: 401 unauthenticated");
    EXPECT("GET", "/v1/principals", "not-a-token", NULL, 401, "unauthenticated", "a malformed token: 401");
    unsigned char rnd[32];
    randombytes_buf(rnd, sizeof rnd);
    char *fake = b64_encode(rnd, 32);
    EXPECT("GET", "/v1/principals", fake, NULL, 401, "unauthenticated", "an unknown token: 401 unauthenticated");
    free(fake);
    CHECK(call_code("GET", "/v1/principals", admin, NULL, code) == 200, "a valid token is accepted");

    /* logout */
    char t2[KC_TOKEN_MAX];
    CHECK(kc_login(K.port, "beheer", K.admin, t2, NULL) == 200, "a second admin session");
    EXPECT("DELETE", "/v1/auth/session", t2, NULL, 200, "", "DELETE /v1/auth/session ends the session");
    EXPECT("GET", "/v1/principals", t2, NULL, 401, "unauthenticated", "the ended token is refused at once");
    EXPECT("DELETE", "/v1/auth/session", t2, NULL, 401, "unauthenticated", "ending it again is 401");
    CHECK(call_code("GET", "/v1/principals", admin, NULL, code) == 200, "the other session lives on");
}

static void test_principals(const char *admin, char pro_token[KC_TOKEN_MAX], struct kluis_keys **pro)
{
    struct kc_resp r;
    char code[64];
    uint64_t before = log_size();
    *pro = kluis_keys_new();
    if (kluis_keys_generate(*pro) != 0)
        abort();
    int st = post("/v1/principals", admin, principal_body("wijk-anna", "professional", *pro), &r);
    CHECK(st == 201 && strcmp(json_string_value(json_object_get(r.json, "id")), "wijk-anna") == 0 &&
              json_is_true(json_object_get(r.json, "active")),
          "POST /v1/principals registers a professional: 201");
    kc_resp_free(&r);
    CHECK(log_size() == before + 1, "the registration appended one log leaf (principal.registered)");
    CHECK(kc_login(K.port, "wijk-anna", *pro, pro_token, &r) == 200 &&
              strcmp(json_string_value(json_object_get(r.json, "role")), "professional") == 0,
          "the professional logs in by challenge with role professional");
    kc_resp_free(&r);

    before = log_size();
    EXPECT("POST", "/v1/principals", admin, principal_body("wijk-anna", "professional", *pro), 409, "conflict",
           "a duplicate id is 409 conflict");
    EXPECT("POST", "/v1/principals", pro_token, principal_body("wijk-bob", "professional", *pro), 403, "forbidden",
           "a professional may not register principals: 403 forbidden");
    EXPECT("POST", "/v1/principals", NULL, principal_body("wijk-bob", "professional", *pro), 401, "unauthenticated",
           "registering without a session: 401");
    EXPECT("POST", "/v1/principals", admin, principal_body("wijk-bob", "citizen", *pro), 400, "bad_request",
           "role citizen is refused here: 400 bad_request");
    EXPECT("POST", "/v1/principals", admin, principal_body("wijk-bob", "koning", *pro), 400, "bad_request",
           "an unknown role: 400 bad_request");
    EXPECT("POST", "/v1/principals", admin, principal_body("Wijk Bob", "professional", *pro), 400, "bad_request",
           "a bad id: 400 bad_request");
    json_t *b = principal_body("wijk-bob", "professional", *pro);
    json_object_set_new(b, "admin", json_true());
    EXPECT("POST", "/v1/principals", admin, b, 400, "bad_request", "an unknown field: 400 bad_request");
    b = principal_body("wijk-bob", "professional", *pro);
    json_object_set_new(b, "sign_pk", jb64((*pro)->sign_pk, 31));
    EXPECT("POST", "/v1/principals", admin, b, 400, "bad_encoding", "a 31-byte sign_pk: 400 bad_encoding");
    b = principal_body("wijk-bob", "professional", *pro);
    json_object_set_new(b, "box_pk", json_string("AAAA$AAA"));
    EXPECT("POST", "/v1/principals", admin, b, 400, "bad_encoding", "bad base64 in box_pk: 400 bad_encoding");
    size_t big = 3u << 20;
    char *huge = malloc(big);
    memset(huge, ' ', big);
    memcpy(huge, "{\"id\":\"", 7);
    st = kc_call_raw(K.port, "POST", "/v1/principals", admin, "application/json", huge, big, &r);
    CHECK(st == 413 && strcmp(r.error, "too_large") == 0, "a 3 MiB body: 413 too_large");
    kc_resp_free(&r);
    free(huge);
    CHECK(log_size() == before && !directory_has(admin, "wijk-bob", NULL),
          "nothing was stored or logged for the refused registrations");

    /* the directory */
    st = kc_call(K.port, "GET", "/v1/principals?role=professional", pro_token, NULL, &r);
    json_t *p0 = json_array_get(r.json, 0);
    CHECK(st == 200 && json_array_size(r.json) == 1 &&
              strcmp(json_string_value(json_object_get(p0, "id")), "wijk-anna") == 0 &&
              json_object_size(p0) == 7,
          "GET /v1/principals?role=professional lists exactly the professional with its 7 fields");
    kc_resp_free(&r);
    int active = 0;
    CHECK(directory_has(pro_token, "beheer", &active) && active, "any session reads the whole directory");
    EXPECT("GET", "/v1/principals?role=koning", admin, NULL, 400, "bad_request", "?role=<not a role>: 400");
    (void)code;
}

static void test_deactivate(const char *admin)
{
    struct kluis_keys *k = NULL;
    char t1[KC_TOKEN_MAX], t2[KC_TOKEN_MAX], code[64];
    CHECK(kc_principal_new(K.port, admin, "wijk-carla", "professional", &k, t1) == 0 &&
              kc_login(K.port, "wijk-carla", k, t2, NULL) == 200,
          "a professional with two sessions");
    EXPECT("POST", "/v1/principals/wijk-carla/deactivate", t1, NULL, 403, "forbidden",
           "a professional may not deactivate: 403 forbidden");
    uint64_t before = log_size();
    struct kc_resp r;
    int st = kc_call(K.port, "POST", "/v1/principals/wijk-carla/deactivate", admin, NULL, &r);
    CHECK(st == 200 && json_integer_value(json_object_get(r.json, "sessions_ended")) == 2 &&
              json_is_false(json_object_get(r.json, "active")),
          "deactivation: 200, both sessions ended");
    kc_resp_free(&r);
    CHECK(log_size() == before + 1, "deactivation appended one log leaf (principal.deactivated)");
    EXPECT("GET", "/v1/principals", t1, NULL, 401, "unauthenticated", "the first session is dead at once");
    EXPECT("GET", "/v1/principals", t2, NULL, 401, "unauthenticated", "the second session is dead at once");
    st = kc_login(K.port, "wijk-carla", k, t1, &r);
    CHECK(st == 403 && strcmp(r.error, "principal_inactive") == 0,
          "an inactive principal's login: 403 principal_inactive");
    kc_resp_free(&r);
    int active = 1;
    CHECK(directory_has(admin, "wijk-carla", &active) && !active, "the directory shows active: false");
    EXPECT("POST", "/v1/principals/wijk-carla/deactivate", admin, NULL, 409, "conflict", "again: 409 conflict");
    EXPECT("POST", "/v1/principals/niemand/deactivate", admin, NULL, 404, "not_found", "unknown id: 404 not_found");
    EXPECT("POST", "/v1/principals/beheer/deactivate", admin, NULL, 409, "conflict",
           "an admin cannot deactivate themselves: 409");
    EXPECT("POST", "/v1/principals/wijk-carla/deactivate", admin, json_pack("{s:b}", "now", 1), 400, "bad_request",
           "deactivate takes no fields: 400 bad_request");
    EXPECT("GET", "/v1/principals/wijk-carla/deactivate", admin, NULL, 405, "method_not_allowed",
           "GET on deactivate: 405");
    kluis_keys_free(k);
    (void)code;
}

static void test_citizens(const char *admin, const char *pro_token)
{
    struct kc_resp r;
    char code[64], code2[64];
    int64_t now = (int64_t)time(NULL);
    int st = post("/v1/citizens", admin, json_pack("{s:s, s:s}", "id", "inwoner-jan", "display_name", "Jan Markertest"), &r);
    const char *c = json_string_value(json_object_get(r.json, "enrollment_code"));
    json_int_t exp = json_integer_value(json_object_get(r.json, "expires"));
    CHECK(st == 201 && c && strlen(c) == 23 && c[5] == '-' && c[11] == '-' && c[17] == '-' &&
              exp >= now + 30 * 86400 - 1 && exp <= now + 30 * 86400 + 5,
          "POST /v1/citizens: 201, a code XXXXX-XXXXX-XXXXX-XXXXX valid for the charter's 30 days");
    snprintf(code, sizeof code, "%s", c ? c : "");
    kc_resp_free(&r);
    EXPECT("POST", "/v1/citizens", admin, json_pack("{s:s, s:s}", "id", "inwoner-jan", "display_name", "X"), 409,
           "conflict", "an existing citizen id: 409 conflict");
    EXPECT("POST", "/v1/citizens", admin, json_pack("{s:s, s:s}", "id", "wijk-anna", "display_name", "X"), 409,
           "conflict", "a principal's id: 409 conflict");
    struct kluis_keys *k = kluis_keys_new();
    if (kluis_keys_generate(k) != 0)
        abort();
    EXPECT("POST", "/v1/principals", admin, principal_body("inwoner-jan", "professional", k), 409, "conflict",
           "a principal with a citizen's id: 409 conflict");
    EXPECT("POST", "/v1/citizens", pro_token, json_pack("{s:s, s:s}", "id", "inwoner-x", "display_name", "X"), 403,
           "forbidden", "a professional may not create citizens: 403");
    CHECK(kc_citizen_create(K.port, admin, "inwoner-x", "X", code2) == 201,
          "after the refused create, the id is still free");

    /* enrollment */
    struct kc_citizen *jan = kc_citizen_new(K.port, "inwoner-jan", "correct horse battery staple");
    struct kc_vault vi;
    CHECK(jan && kc_vault_info(K.port, &vi) == 200, "citizen client state and vault keys");
    json_t *body = kc_enroll_body(jan, "ABCDE-FGHJK-MNPQR-STVWX", &vi);
    EXPECT("POST", "/v1/citizens/inwoner-jan/enroll", NULL, body, 401, "bad_credentials",
           "a wrong enrollment code: 401 bad_credentials");
    body = kc_enroll_body(jan, code, &vi);
    json_object_set_new(body, "opslimit", json_integer(1));
    EXPECT("POST", "/v1/citizens/inwoner-jan/enroll", NULL, body, 400, "bad_request",
           "Argon2id opslimit below the SPEC minimum: 400 bad_request");
    body = kc_enroll_body(jan, code, &vi);
    json_array_remove(json_object_get(body, "sections"), 0);
    EXPECT("POST", "/v1/citizens/inwoner-jan/enroll", NULL, body, 400, "bad_request",
           "a charter section missing: 400 bad_request");
    body = kc_enroll_body(jan, code, &vi);
    json_t *s1 = json_array_get(json_object_get(body, "sections"), 1);
    json_array_append(json_object_get(body, "sections"), s1);
    EXPECT("POST", "/v1/citizens/inwoner-jan/enroll", NULL, body, 400, "bad_request",
           "a section twice: 400 bad_request");
    body = kc_enroll_body(jan, code, &vi);
    json_object_set_new(json_array_get(json_object_get(body, "sections"), 0), "self_wrap", jb64(vi.gate_pk, 32));
    EXPECT("POST", "/v1/citizens/inwoner-jan/enroll", NULL, body, 400, "bad_encoding",
           "a 32-byte self_wrap: 400 bad_encoding");
    body = kc_enroll_body(jan, code, &vi);
    json_object_set_new(body, "sign_pk", jb64(k->sign_pk, 32));
    EXPECT("POST", "/v1/citizens/inwoner-jan/enroll", NULL, body, 401, "bad_signature",
           "statements not signed by the enrolled sign_pk: 401 bad_signature");
    {
        /* a statement about another section than the entry it sits in */
        body = kc_enroll_body(jan, code, &vi);
        json_t *secs = json_object_get(body, "sections");
        json_t *a = json_array_get(secs, 0), *b = json_array_get(secs, 1);
        json_t *sa = json_copy(json_object_get(a, "statement")), *ga = json_copy(json_object_get(a, "signature"));
        json_object_set(a, "statement", json_object_get(b, "statement"));
        json_object_set(a, "signature", json_object_get(b, "signature"));
        json_object_set_new(b, "statement", sa);
        json_object_set_new(b, "signature", ga);
        EXPECT("POST", "/v1/citizens/inwoner-jan/enroll", NULL, body, 400, "bad_statement",
               "an epoch statement for another section: 400 bad_statement");
    }
    {
        /* two sections claiming one statement id */
        body = kc_enroll_body(jan, code, &vi);
        json_t *secs = json_object_get(body, "sections");
        for (int i = 0; i < 2; i++) {
            json_t *it = json_array_get(secs, (size_t)i);
            json_t *env = kc_epoch_statement(jan, jan->section[i], 1, jan->dek[i], "ep-dubbel", (int64_t)time(NULL));
            json_object_set(it, "statement", json_object_get(env, "statement"));
            json_object_set(it, "signature", json_object_get(env, "signature"));
            json_decref(env);
        }
        EXPECT("POST", "/v1/citizens/inwoner-jan/enroll", NULL, body, 409, "replay",
               "a statement id used twice: 409 replay");
    }
    body = kc_enroll_body(jan, code, &vi);
    json_object_set_new(body, "extra", json_true());
    EXPECT("POST", "/v1/citizens/inwoner-jan/enroll", NULL, body, 400, "bad_request", "an unknown field: 400");
    CHECK(kc_citizen_enroll(K.port, jan, code, NULL) == 200,
          "after all those refusals the code still works (nothing was stored or consumed): 200");
    CHECK(kc_citizen_enroll(K.port, jan, code, &r) == 401 && strcmp(r.error, "bad_credentials") == 0,
          "the enrollment code is single-use: 401 bad_credentials");
    kc_resp_free(&r);
    CHECK(kc_login(K.port, "inwoner-jan", jan->keys, jan->token, &r) == 200 &&
              strcmp(json_string_value(json_object_get(r.json, "role")), "citizen") == 0,
          "the enrolled citizen logs in by challenge with role citizen");
    kc_resp_free(&r);
    CHECK(!directory_has(jan->token, "inwoner-jan", NULL), "the directory never lists citizens");

    /* a replayed statement id across citizens */
    struct kc_citizen *els = kc_citizen_new(K.port, "inwoner-els", "els passphrase");
    CHECK(kc_citizen_create(K.port, admin, "inwoner-els", "Els", code2) == 201, "second citizen created");
    body = kc_enroll_body(els, code2, &vi);
    json_t *it = json_array_get(json_object_get(body, "sections"), 0);
    json_t *env = kc_epoch_statement(els, els->section[0], 1, els->dek[0], "ep-eenmalig", (int64_t)time(NULL));
    json_object_set(it, "statement", json_object_get(env, "statement"));
    json_object_set(it, "signature", json_object_get(env, "signature"));
    json_decref(env);
    char *text = json_dumps(body, JSON_COMPACT);
    EXPECT("POST", "/v1/citizens/inwoner-els/enroll", NULL, body, 200, "", "enroll with statement id ep-eenmalig");
    struct kc_citizen *kees = kc_citizen_new(K.port, "inwoner-kees", "kees passphrase");
    CHECK(kc_citizen_create(K.port, admin, "inwoner-kees", "Kees", code2) == 201, "third citizen created");
    body = kc_enroll_body(kees, code2, &vi);
    it = json_array_get(json_object_get(body, "sections"), 0);
    env = kc_epoch_statement(kees, kees->section[0], 1, kees->dek[0], "ep-eenmalig", (int64_t)time(NULL));
    json_object_set(it, "statement", json_object_get(env, "statement"));
    json_object_set(it, "signature", json_object_get(env, "signature"));
    json_decref(env);
    EXPECT("POST", "/v1/citizens/inwoner-kees/enroll", NULL, body, 409, "replay",
           "another citizen reusing a statement id: 409 replay");
    free(text);
    CHECK(kc_citizen_enroll(K.port, kees, code2, NULL) == 200, "with fresh ids it enrolls");

    /* the passphrase path */
    struct kluis_keys *got = NULL;
    char tok[KC_TOKEN_MAX];
    st = kc_bundle_login(K.port, "inwoner-jan", "correct horse battery staple", &got, tok, NULL);
    CHECK(st == 200 && got && sodium_memcmp(got->sign_pk, jan->keys->sign_pk, 32) == 0 &&
              sodium_memcmp(got->box_sk, jan->keys->box_sk, 32) == 0 && tok[0],
          "prelogin → Argon2id → bundle → open → challenge login recovers the citizen's keys");
    kluis_keys_free(got);
    st = kc_bundle_login(K.port, "inwoner-jan", "wrong passphrase", NULL, tok, &r);
    CHECK(st == 401 && strcmp(r.error, "bad_credentials") == 0, "a wrong passphrase: 401 bad_credentials");
    kc_resp_free(&r);

    /* prelogin: real and fake look alike; fake salts are stable */
    struct kc_resp a, b2, c2;
    post("/v1/auth/prelogin", NULL, json_pack("{s:s}", "id", "inwoner-jan"), &a);
    post("/v1/auth/prelogin", NULL, json_pack("{s:s}", "id", "inwoner-nobody"), &b2);
    post("/v1/auth/prelogin", NULL, json_pack("{s:s}", "id", "inwoner-nobody"), &c2);
    const char *sa = json_string_value(json_object_get(a.json, "salt")),
               *sb = json_string_value(json_object_get(b2.json, "salt")),
               *sc = json_string_value(json_object_get(c2.json, "salt"));
    unsigned char salt[16];
    CHECK(a.status == 200 && b2.status == 200 && sb && sc && strcmp(sb, sc) == 0 && strcmp(sa, sb) != 0 &&
              b64_decode_exact(salt, 16, sb) == 0,
          "prelogin: an unknown id gets a stable 16-byte fake salt");
    CHECK(json_object_size(a.json) == json_object_size(b2.json) &&
              json_integer_value(json_object_get(a.json, "opslimit")) ==
                  json_integer_value(json_object_get(b2.json, "opslimit")) &&
              json_integer_value(json_object_get(a.json, "memlimit")) ==
                  json_integer_value(json_object_get(b2.json, "memlimit")),
          "prelogin: the fake has the same shape and parameters as a real answer");
    kc_resp_free(&a);
    kc_resp_free(&b2);
    kc_resp_free(&c2);
    post("/v1/auth/prelogin", NULL, json_pack("{s:s}", "id", "inwoner-x"), &a);
    CHECK(a.status == 200 && json_is_string(json_object_get(a.json, "salt")),
          "prelogin for a created but not enrolled citizen is a fake too");
    kc_resp_free(&a);

    /* passphrase change (els) */
    CHECK(kc_login(K.port, "inwoner-els", els->keys, els->token, NULL) == 200, "els logs in");
    char path[128];
    snprintf(path, sizeof path, "/v1/citizens/inwoner-els/passphrase");
    EXPECT("POST", path, jan->token, kc_bundle_body("inwoner-els", els->keys, "x"), 403, "forbidden",
           "another citizen may not change it: 403 forbidden");
    EXPECT("POST", path, admin, kc_bundle_body("inwoner-els", els->keys, "x"), 403, "forbidden",
           "the admin may not change it: 403 forbidden");
    EXPECT("POST", path, els->token, kc_bundle_body("inwoner-els", els->keys, "nieuw wachtwoord"), 200, "",
           "the citizen changes the passphrase: 200");
    st = kc_bundle_login(K.port, "inwoner-els", "els passphrase", NULL, tok, &r);
    CHECK(st == 401 && strcmp(r.error, "bad_credentials") == 0, "the old passphrase's auth_key fails now");
    kc_resp_free(&r);
    got = NULL;
    st = kc_bundle_login(K.port, "inwoner-els", "nieuw wachtwoord", &got, tok, NULL);
    CHECK(st == 200 && got && sodium_memcmp(got->sign_pk, els->keys->sign_pk, 32) == 0,
          "the new passphrase opens the same key pairs");
    kluis_keys_free(got);

    /* lockout: jan has 1 failure; 4 more reach max_failures 5 */
    unsigned char ak[32];
    int fails_ok = 1;
    for (int i = 0; i < 4; i++) {
        randombytes_buf(ak, 32);
        fails_ok &= call_code("POST", "/v1/auth/bundle", NULL,
                              json_pack("{s:s, s:o}", "id", "inwoner-jan", "auth_key", jb64(ak, 32)), code2) == 401;
    }
    CHECK(fails_ok, "failures 2..5 are 401 bad_credentials");
    st = post("/v1/auth/bundle", NULL, json_pack("{s:s, s:o}", "id", "inwoner-jan", "auth_key", jb64(ak, 32)), &r);
    CHECK(st == 429 && strcmp(r.error, "rate_limited") == 0 && r.retry_after > 0 && r.retry_after <= 15 * 60,
          "after 5 failures: 429 rate_limited with Retry-After ≤ 15 minutes");
    kc_resp_free(&r);
    st = kc_bundle_login(K.port, "inwoner-jan", "correct horse battery staple", NULL, tok, &r);
    CHECK(st == 429 && strcmp(r.error, "rate_limited") == 0, "while locked, even the right passphrase is 429");
    kc_resp_free(&r);
    fails_ok = 1;
    for (int i = 0; i < 5; i++)
        fails_ok &= call_code("POST", "/v1/auth/bundle", NULL,
                              json_pack("{s:s, s:o}", "id", "inwoner-niemand", "auth_key", jb64(ak, 32)), code2) == 401;
    st = post("/v1/auth/bundle", NULL, json_pack("{s:s, s:o}", "id", "inwoner-niemand", "auth_key", jb64(ak, 32)), &r);
    CHECK(fails_ok && st == 429 && r.retry_after > 0, "an unknown id follows the same 401×5, 429 sequence");
    kc_resp_free(&r);
    EXPECT("POST", "/v1/auth/bundle", NULL, json_pack("{s:s, s:o}", "id", "inwoner-jan", "auth_key", jb64(ak, 16)), 400,
           "bad_encoding", "a 16-byte auth_key: 400 bad_encoding");
    EXPECT("POST", "/v1/citizens/inwoner-x/enroll", NULL, json_pack("{s:s}", "enrollment_code", code), 400,
           "bad_request", "an enrollment body missing fields: 400 bad_request");

    kluis_keys_free(k);
    kc_citizen_free(jan);
    kc_citizen_free(els);
    kc_citizen_free(kees);
}

/* The example charter with its version and (optionally) one section removed. */
static char *charter_variant(int version, int drop_safety, size_t *len)
{
    FILE *f = fopen(K.charter, "rb");
    char *buf = calloc(1, 1 << 17);
    size_t n = f ? fread(buf, 1, (1 << 17) - 1, f) : 0;
    if (f)
        fclose(f);
    char *v = strstr(buf, "\"version\": 1");
    if (v)
        v[11] = (char)('0' + version);
    if (drop_safety) {
        /* rename section "veiligheid" everywhere: a valid charter that no longer has it */
        for (char *s = buf; (s = strstr(s, "\"veiligheid\"")) != NULL;) {
            memmove(s + 7, s + 11, strlen(s + 11) + 1);
            s += 7;
        }
        n = strlen(buf);
    }
    *len = n;
    return buf;
}

static void test_charter(const char *admin, const char *pro_token)
{
    struct kc_resp r;
    size_t len = 0;
    char *c1 = charter_variant(1, 0, &len);
    int st = kc_call_raw(K.port, "POST", "/v1/charter", admin, "application/json", c1, len, &r);
    CHECK(st == 409 && strcmp(r.error, "conflict") == 0, "adopting the same version again: 409 conflict");
    kc_resp_free(&r);
    free(c1);
    char *c2 = charter_variant(2, 0, &len);
    st = kc_call_raw(K.port, "POST", "/v1/charter", pro_token, "application/json", c2, len, &r);
    CHECK(st == 403 && strcmp(r.error, "forbidden") == 0, "a professional may not adopt a charter: 403");
    kc_resp_free(&r);
    st = kc_call_raw(K.port, "POST", "/v1/charter", admin, "application/json", "{\"charter\":", 11, &r);
    CHECK(st == 400 && strcmp(r.error, "bad_json") == 0, "a broken charter: 400 bad_json");
    kc_resp_free(&r);
    st = kc_call_raw(K.port, "POST", "/v1/charter", admin, "text/plain", c2, len, &r);
    CHECK(st == 415, "a charter as text/plain: 415");
    kc_resp_free(&r);
    uint64_t before = log_size();
    st = kc_call_raw(K.port, "POST", "/v1/charter", admin, "application/json", c2, len, &r);
    CHECK(st == 201 && json_integer_value(json_object_get(r.json, "version")) == 2, "version 2 adopted: 201");
    kc_resp_free(&r);
    CHECK(log_size() == before + 1, "the adoption appended one log leaf (charter.adopted)");
    st = kc_call(K.port, "GET", "/v1/charter", NULL, NULL, &r);
    CHECK(st == 200 && r.body_len == len && memcmp(r.body, c2, len) == 0, "GET /v1/charter serves version 2 exactly");
    kc_resp_free(&r);
    st = kc_call(K.port, "GET", "/v1/vault", NULL, NULL, &r);
    CHECK(json_integer_value(json_object_get(json_object_get(r.json, "charter"), "version")) == 2,
          "GET /v1/vault names version 2");
    kc_resp_free(&r);
    free(c2);
    char *c3 = charter_variant(3, 1, &len);
    st = kc_call_raw(K.port, "POST", "/v1/charter", admin, "application/json", c3, len, &r);
    CHECK(st == 409 && strcmp(r.error, "conflict") == 0, "a charter dropping a section: 409 conflict");
    if (st != 409)
        printf("#   got %d %s\n", st, r.body);
    kc_resp_free(&r);
    free(c3);
}

struct plant {
    vault *v;
    unsigned char h[2][32];
    int64_t now;
};

static kerr plant_apply(store_txn *t, void *arg)
{
    struct plant *p = arg;
    struct session s = {.role = KROLE_ADMIN, .expires = p->now + 600};
    snprintf(s.principal, sizeof s.principal, "beheer");
    session_put(p->v, t, p->h[0], &s, p->now);
    s.expires = p->now - 1;
    return session_put(p->v, t, p->h[1], &s, p->now);
}

/* Session expiry through the real server: plant sessions in the stopped vault, restart. */
static void test_expiry(void)
{
    unsigned char live[32], dead[32];
    randombytes_buf(live, 32);
    randombytes_buf(dead, 32);
    CHECK(kd_stop(&K) == 0, "kluisd stops");
    vault *v = NULL;
    struct jerr err;
    int ok = vault_open(&v, K.vault, &err) == KERR_OK;
    struct plant p = {.v = v, .now = (int64_t)time(NULL)};
    session_token_hash(p.h[0], live);
    session_token_hash(p.h[1], dead);
    ok = ok && gc_submit(v->gc, plant_apply, &p) == KERR_OK;
    vault_close(v);
    CHECK(ok, "two sessions planted: one valid, one expired a second ago");
    CHECK(kd_start(&K) == 0, "kluisd restarts");
    char *tl = b64_encode(live, 32), *td = b64_encode(dead, 32), code[64];
    CHECK(call_code("GET", "/v1/principals", tl, NULL, code) == 200, "sessions survive a restart");
    EXPECT("GET", "/v1/principals", td, NULL, 401, "unauthenticated", "an expired session: 401 unauthenticated");
    free(tl);
    free(td);
}

int main(void)
{
    if (sodium_init() < 0 || kd_setup(&K) != 0 || kd_start(&K) != 0) {
        CHECK(0, "harness: kluisd with a fresh vault");
        kd_cleanup(&K);
        return TEST_END();
    }
    char admin[KC_TOKEN_MAX], pro_token[KC_TOKEN_MAX];
    CHECK(kc_login(K.port, "beheer", K.admin, admin, NULL) == 200, "the admin logs in by challenge");
    struct kluis_keys *pro = NULL;
    test_challenge_login(admin);
    test_sessions(admin);
    test_principals(admin, pro_token, &pro);
    test_deactivate(admin);
    test_citizens(admin, pro_token);
    test_charter(admin, pro_token);
    test_expiry();
    CHECK(kd_stop(&K) == 0, "clean stop");

    char db[512];
    snprintf(db, sizeof db, "%s/data.mdb", K.vault);
    const char *markers[] = {"inwoner-jan", "Jan Markertest", "inwoner-els", "wijk-anna", "Anna de Vries",
                             "Wijkteam Noord", "correct horse"};
    for (size_t i = 0; i < sizeof markers / sizeof markers[0]; i++)
        CHECK(file_contains(db, markers[i]) == 0, "data.mdb does not contain '%s' in clear", markers[i]);
    kluis_keys_free(pro);
    kd_cleanup(&K);
    return TEST_END();
}
