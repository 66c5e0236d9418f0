/*
 * tests/api/test_crash.c — nothing acknowledged is ever lost (SPEC §11): concurrent writers append
 * entries (and a grant and its revocation go through) while kluisd is killed with SIGKILL in the
 * middle of the burst; after a restart every write that was answered 201 is there with the seq it
 * was given, every acknowledged grant and revocation is there, and the citizen's journal chain
 * recomputes from `raw` to the served head. Three rounds on the same vault.
 */
#include "tests/test.h"
#include "tests/api/client.h"
#include "tests/api/harness.h"

#include <pthread.h>
#include <sodium.h>
#include <time.h>
#include <unistd.h>

#include "vault/encoding.h"
#include "vault/journal.h"
#include "vault/secret.h"
#include "vault/statement.h"

TEST_MAIN_DEFS

#define ROUNDS 3
#define WRITERS 4
#define MAX_ACKS 20000

static struct kd K;
static char admin_tok[KC_TOKEN_MAX], bas_tok[KC_TOKEN_MAX];
static struct kluis_keys *bas_k;
static struct kc_citizen *b1;
static int64_t now0;

struct ack {
    char id[64];
    char section[64];
    int64_t seq;
};
static struct ack acks[MAX_ACKS];
static size_t n_acks;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static volatile int stop;

static int sec_ix(const char *s)
{
    for (size_t i = 0; i < b1->n; i++)
        if (!strcmp(b1->section[i], s))
            return (int)i;
    return 0;
}

static json_t *jb64(const unsigned char *p, size_t n)
{
    char *s = b64_encode(p, n);
    json_t *j = json_string(s);
    free(s);
    return j;
}

static json_t *sign(json_t *obj, const unsigned char *sk)
{
    json_t *env = NULL;
    struct jerr err;
    if (kstmt_sign_json(&env, obj, sk, &err) != 0)
        env = NULL;
    json_decref(obj);
    return env;
}

static json_t *entry_body(const char *id, const char *section, const char *signer, const unsigned char *sk)
{
    char pt[128];
    unsigned char blob[256], h[32];
    snprintf(pt, sizeof pt, "{\"kind\":\"note\",\"title\":\"%s\",\"body\":\"x\"}", id);
    size_t ptlen = strlen(pt);
    if (kluis_entry_encrypt(blob, (const unsigned char *)pt, ptlen, "burger-1", section, 1, id,
                            b1->dek[sec_ix(section)]) != 0 ||
        kluis_blob_hash(h, blob, ptlen + KLUIS_AEAD_OVERHEAD) != 0)
        return NULL;
    json_t *env = sign(json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:o}", "type", "entry", "id", id, "signer",
                                 signer, "issued", (json_int_t)now0, "citizen", "burger-1", "section", section,
                                 "epoch", (json_int_t)1, "blob_hash", jb64(h, 32)),
                       sk);
    if (env)
        json_object_set_new(env, "blob", jb64(blob, ptlen + KLUIS_AEAD_OVERHEAD));
    return env;
}

struct writer {
    int round, no;
    const char *section, *signer, *token;
    const unsigned char *sk;
    int acked, failed;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    char path[160];
    snprintf(path, sizeof path, "/v1/citizens/burger-1/sections/%s/entries", w->section);
    for (int i = 0; !stop && i < 100000; i++) {
        char id[64];
        snprintf(id, sizeof id, "c%d-w%d-%d", w->round, w->no, i);
        json_t *body = entry_body(id, w->section, w->signer, w->sk);
        struct kc_resp r;
        int st = kc_call(K.port, "POST", path, w->token, body, &r);
        json_decref(body);
        if (st == 201) {
            pthread_mutex_lock(&mu);
            if (n_acks < MAX_ACKS) {
                struct ack *a = &acks[n_acks++];
                snprintf(a->id, sizeof a->id, "%s", id);
                snprintf(a->section, sizeof a->section, "%s", w->section);
                a->seq = json_integer_value(json_object_get(r.json, "seq"));
            }
            pthread_mutex_unlock(&mu);
            w->acked++;
        } else {
            w->failed++;
        }
        kc_resp_free(&r);
        if (st < 0)
            break; /* the server is gone */
    }
    return NULL;
}

/* A grant and its revocation in the middle of the burst; records which were acknowledged. */
struct consent {
    int round;
    int grant_acked, revoke_acked;
};

static void *consent_main(void *arg)
{
    struct consent *c = arg;
    char gid[32], rid[32];
    snprintf(gid, sizeof gid, "g-crash-%d", c->round);
    snprintf(rid, sizeof rid, "rv-crash-%d", c->round);
    usleep(20000);
    json_t *secs = json_array(), *wraps = json_array();
    json_array_append_new(secs, json_string("wonen"));
    unsigned char w[KLUIS_WRAP_BYTES];
    if (kluis_wrap(w, b1->dek[sec_ix("wonen")], bas_k->box_pk) != 0)
        return NULL;
    json_array_append_new(wraps, json_pack("{s:s, s:i, s:o}", "section", "wonen", "epoch", 1, "wrap", jb64(w, sizeof w)));
    json_t *env = sign(json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:o, s:s, s:s, s:I, s:I}", "type", "grant", "id", gid,
                                 "signer", "burger-1", "issued", (json_int_t)now0, "citizen", "burger-1", "grantee",
                                 "wijk-bas", "sections", secs, "access", "read", "purpose", "ondersteuning",
                                 "not_before", (json_int_t)(now0 - 60), "expires", (json_int_t)(now0 + 86400)),
                       b1->keys->sign_sk);
    json_object_set_new(env, "wraps", wraps);
    struct kc_resp r;
    c->grant_acked = kc_call(K.port, "POST", "/v1/citizens/burger-1/grants", b1->token, env, &r) == 201;
    json_decref(env);
    kc_resp_free(&r);
    if (!c->grant_acked)
        return NULL;
    env = sign(json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "type", "revoke", "id", rid, "signer", "burger-1", "issued",
                         (json_int_t)now0, "citizen", "burger-1", "grant", gid),
               b1->keys->sign_sk);
    char path[128];
    snprintf(path, sizeof path, "/v1/citizens/burger-1/grants/%s/revoke", gid);
    c->revoke_acked = kc_call(K.port, "POST", path, b1->token, env, &r) == 200;
    json_decref(env);
    kc_resp_free(&r);
    return NULL;
}

/* Every entry of SECTION after restart: seq → statement id, via the citizen's paged reads. */
static int check_section(const char *section, size_t *found)
{
    int64_t after = 0;
    size_t missing = 0, ok = 0;
    char **ids = calloc(MAX_ACKS + 1, sizeof *ids);
    int64_t max = 0;
    for (;;) {
        char path[200];
        struct kc_resp r;
        snprintf(path, sizeof path, "/v1/citizens/burger-1/sections/%s/entries?after=%lld&limit=1000", section,
                 (long long)after);
        if (kc_call(K.port, "GET", path, b1->token, NULL, &r) != 200) {
            kc_resp_free(&r);
            free(ids);
            return -1;
        }
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(r.json, "entries"), i, e) {
            int64_t seq = json_integer_value(json_object_get(e, "seq"));
            struct kstmt st;
            struct jerr err;
            if (seq > 0 && seq <= MAX_ACKS &&
                kstmt_open(&st, json_string_value(json_object_get(e, "statement")),
                           json_string_value(json_object_get(e, "signature")), "entry", &err) == 0) {
                ids[seq] = strdup(st.id);
                kstmt_free(&st);
            }
            if (seq > max)
                max = seq;
            after = seq;
        }
        int done = json_is_null(json_object_get(r.json, "next"));
        kc_resp_free(&r);
        if (done)
            break;
    }
    for (size_t i = 0; i < n_acks; i++) {
        if (strcmp(acks[i].section, section) != 0)
            continue;
        if (acks[i].seq > 0 && acks[i].seq <= MAX_ACKS && ids[acks[i].seq] && !strcmp(ids[acks[i].seq], acks[i].id))
            ok++;
        else
            missing++;
    }
    for (int64_t s = 0; s <= MAX_ACKS; s++)
        free(ids[s]);
    free(ids);
    *found = ok;
    return (int)missing;
}

static int journal_verifies(size_t *n_events)
{
    unsigned char head[32] = {0};
    uint64_t after = 0, count = 0;
    char served[64] = "";
    for (;;) {
        char path[128];
        struct kc_resp r;
        snprintf(path, sizeof path, "/v1/citizens/burger-1/journal?after=%llu", (unsigned long long)after);
        if (kc_call(K.port, "GET", path, b1->token, NULL, &r) != 200) {
            kc_resp_free(&r);
            return 0;
        }
        size_t i;
        json_t *ev;
        json_array_foreach(json_object_get(r.json, "events"), i, ev) {
            unsigned char bytes[4096];
            size_t blen = 0;
            const char *raw = json_string_value(json_object_get(ev, "raw"));
            if (!raw || b64_decode(bytes, sizeof bytes, &blen, raw, strlen(raw)) != 0 ||
                (uint64_t)json_integer_value(json_object_get(ev, "seq")) != after + 1) {
                kc_resp_free(&r);
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
    char *mine = b64_encode(head, sizeof head);
    int ok = mine && after == count && !strcmp(mine, served);
    free(mine);
    *n_events = (size_t)after;
    return ok;
}

static const char *grant_state(const char *gid)
{
    static char state[32];
    struct kc_resp r;
    state[0] = '\0';
    if (kc_call(K.port, "GET", "/v1/citizens/burger-1/grants", b1->token, NULL, &r) == 200) {
        size_t i;
        json_t *g;
        json_array_foreach(json_object_get(r.json, "grants"), i, g)
            if (!strcmp(json_string_value(json_object_get(g, "id")), gid))
                snprintf(state, sizeof state, "%s", json_string_value(json_object_get(g, "state")));
    }
    kc_resp_free(&r);
    return state;
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
             kc_principal_new(K.port, admin_tok, "wijk-bas", "professional", &bas_k, bas_tok) == 0 &&
             (b1 = kc_citizen_setup(K.port, admin_tok, "burger-1", "correct horse battery")) != NULL;
    CHECK(ok, "setup: a professional and an enrolled citizen");
    if (ok) {
        /* bas may write schulden */
        json_t *secs = json_array(), *wraps = json_array();
        json_array_append_new(secs, json_string("schulden"));
        unsigned char w[KLUIS_WRAP_BYTES];
        ok = kluis_wrap(w, b1->dek[sec_ix("schulden")], bas_k->box_pk) == 0;
        json_array_append_new(wraps, json_pack("{s:s, s:i, s:o}", "section", "schulden", "epoch", 1, "wrap",
                                               jb64(w, sizeof w)));
        json_t *env = sign(json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:o, s:s, s:s, s:I, s:I}", "type", "grant", "id",
                                     "g-bas", "signer", "burger-1", "issued", (json_int_t)now0, "citizen", "burger-1",
                                     "grantee", "wijk-bas", "sections", secs, "access", "write", "purpose",
                                     "schuldhulp", "not_before", (json_int_t)(now0 - 60), "expires",
                                     (json_int_t)(now0 + 86400)),
                           b1->keys->sign_sk);
        json_object_set_new(env, "wraps", wraps);
        struct kc_resp r;
        ok = ok && kc_call(K.port, "POST", "/v1/citizens/burger-1/grants", b1->token, env, &r) == 201;
        json_decref(env);
        kc_resp_free(&r);
        CHECK(ok, "setup: a write grant for the professional");
    }
    for (int round = 0; ok && round < ROUNDS; round++) {
        struct writer w[WRITERS] = {
            {.section = "plan", .signer = "burger-1", .token = b1->token, .sk = b1->keys->sign_sk},
            {.section = "plan", .signer = "burger-1", .token = b1->token, .sk = b1->keys->sign_sk},
            {.section = "wonen", .signer = "burger-1", .token = b1->token, .sk = b1->keys->sign_sk},
            {.section = "schulden", .signer = "wijk-bas", .token = bas_tok, .sk = bas_k->sign_sk},
        };
        struct consent cs = {.round = round};
        pthread_t th[WRITERS], tc;
        size_t before = n_acks;
        stop = 0;
        for (int i = 0; i < WRITERS; i++) {
            w[i].round = round;
            w[i].no = i;
            pthread_create(&th[i], NULL, writer_main, &w[i]);
        }
        pthread_create(&tc, NULL, consent_main, &cs);
        usleep(400000 + 150000 * (useconds_t)round);
        kd_kill9(&K);
        stop = 1;
        for (int i = 0; i < WRITERS; i++)
            pthread_join(th[i], NULL);
        pthread_join(tc, NULL);
        CHECK(n_acks > before, "round %d: %zu writes acknowledged before SIGKILL", round, n_acks - before);
        CHECK(kd_start(&K) == 0, "round %d: kluisd restarts after SIGKILL", round);
        size_t found = 0, total = 0;
        int missing = 0;
        const char *secs[] = {"plan", "wonen", "schulden"};
        for (int s = 0; s < 3; s++) {
            size_t f = 0;
            int m = check_section(secs[s], &f);
            missing += m < 0 ? 1000000 : m;
            found += f;
        }
        total = n_acks;
        CHECK(missing == 0 && found == total,
              "round %d: every acknowledged write (%zu of %zu) is there with the seq it was given", round, found,
              total);
        char gid[32];
        snprintf(gid, sizeof gid, "g-crash-%d", round);
        const char *gs = grant_state(gid);
        CHECK((!cs.grant_acked || gs[0]) && (!cs.revoke_acked || !strcmp(gs, "revoked")),
              "round %d: the acknowledged grant (%d) and revocation (%d) survived (state '%s')", round, cs.grant_acked,
              cs.revoke_acked, gs);
        size_t nev = 0;
        CHECK(journal_verifies(&nev), "round %d: the citizen's journal chain verifies after restart (%zu events)",
              round, nev);
    }
    kc_citizen_free(b1);
    kluis_keys_free(bas_k);
    kd_cleanup(&K);
    return TEST_END();
}
