/*
 * tests/api/test_clock.c — time windows through the real server (issue 8 row 8).
 *
 * What the other tests already show is not repeated: the exact `issued` edges (300 s ahead, 24 h
 * old) in tests/unit/test_statement.c; grants issued an hour ahead or two days ago and entries a
 * year ahead or in 1970 in test_grants.c/test_dossier.c; an expired session planted in the vault
 * in test_identity.c; a grant created already expired in test_grants.c. Added here:
 *  - the window near its edges at the API, for a grant and an override request (4 min ahead and
 *    23 h 58 min old accepted; 6 min ahead and 24 h 2 min old refused 400 bad_statement);
 *  - a grant that expires while kluisd runs: the grantee reads under it, then, once it has run
 *    out, is refused 403 grant_expired (journaled), the grant is listed "expired", and it stays
 *    expired after a restart; replaying its statement cannot renew it (409 replay);
 *  - an expired grant leaves the grants in force with the commit of the first decision that meets
 *    it — a refused read, a read, the dossier overview (allowed or refused) or a write allowed
 *    under a renewal — and is decided and listed as before.
 */
#include "tests/test.h"
#include "tests/api/client.h"
#include "tests/api/harness.h"
#include "tests/api/torture.h"

#include <sodium.h>
#include <time.h>
#include <unistd.h>

#include "vault/grant.h"
#include "vault/secret.h"
#include "vault/vault.h"

TEST_MAIN_DEFS

#define JUST "Acuut gevaar: de inwoner is sinds gisteren vermist en heeft gedreigd zichzelf iets aan te doen."

static struct kd K;
static char admin_tok[KC_TOKEN_MAX], anna_tok[KC_TOKEN_MAX], bob_tok[KC_TOKEN_MAX], carla_tok[KC_TOKEN_MAX];
static struct kluis_keys *anna_k, *bob_k, *carla_k;
static struct kc_citizen *b1;

static int post(const char *path, const char *token, json_t *body, char err[64])
{
    struct kc_resp r;
    int st = kc_call(K.port, "POST", path, token, body, &r);
    if (err)
        snprintf(err, 64, "%s", r.error);
    kc_resp_free(&r);
    return st;
}

static int grant_at(const char *gid, int64_t issued, int64_t nb, int64_t exp, char err[64])
{
    json_t *env = tt_grant(b1, gid, "wijk-anna", anna_k->box_pk, "plan", "read", "ondersteuning", nb, exp, issued);
    int st = post("/v1/citizens/burger-1/grants", b1->token, env, err);
    json_decref(env);
    return st;
}

/* A write grant on "plan" to wijk-anna, issued now, valid from a minute ago until EXP. */
static int write_grant(const char *gid, int64_t now, int64_t exp)
{
    json_t *env = tt_grant(b1, gid, "wijk-anna", anna_k->box_pk, "plan", "write", "ondersteuning", now - 60, exp, now);
    int st = post("/v1/citizens/burger-1/grants", b1->token, env, NULL);
    json_decref(env);
    return st;
}

static int override_at(const char *id, int64_t issued, char err[64])
{
    json_t *env = tt_sign(json_pack("{s:s, s:s, s:s, s:I, s:s, s:[s], s:s, s:s, s:s, s:I}", "type", "override", "id", id,
                                    "signer", "burg-carla", "issued", (json_int_t)issued, "citizen", "burger-1",
                                    "sections", "plan", "beneficiary", "wijk-anna", "ground", "acuut-gevaar",
                                    "justification", JUST, "hours", (json_int_t)24),
                          carla_k->sign_sk);
    int st = post("/v1/overrides", carla_tok, env, err);
    json_decref(env);
    return st;
}

static int anna_reads(char err[64])
{
    struct kc_resp r;
    int st = kc_call(K.port, "GET", "/v1/citizens/burger-1/sections/plan/entries", anna_tok, NULL, &r);
    snprintf(err, 64, "%s", r.error);
    kc_resp_free(&r);
    return st;
}

static const char *grant_state(const char *gid)
{
    static char state[32];
    struct kc_resp r;
    state[0] = 0;
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

/* With kluisd stopped: whether GID is among GRANTEE's grants in force for burger-1 (the index
 * every access decision reads): KERR_OK, KERR_NOT_FOUND when it left it, else an error. */
static kerr in_force(const char *grantee, const char *gid)
{
    vault *v = NULL;
    struct jerr err;
    struct grant_views gv;
    store_txn t;
    if (vault_open(&v, K.vault, &err) != KERR_OK)
        return KERR_INTERNAL;
    store_txn_begin(v->st, &t, true);
    kerr e = grant_view_get(&t, v->tab, grantee, "burger-1", gid, &gv);
    grant_views_free(&gv);
    store_txn_abort(&t);
    vault_close(v);
    return e;
}

/* Whether the citizen's journal ends with a denied read by the grantee for grant_expired. */
static int journal_denied_expired(void)
{
    struct kc_resp r;
    int found = 0;
    if (kc_call(K.port, "GET", "/v1/citizens/burger-1/journal?after=0", b1->token, NULL, &r) == 200) {
        size_t i;
        json_t *ev;
        json_array_foreach(json_object_get(r.json, "events"), i, ev) {
            const char *res = json_string_value(json_object_get(ev, "result"));
            const char *actor = json_string_value(json_object_get(ev, "actor"));
            found |= res && actor && !strcmp(actor, "wijk-anna") && strstr(res, "grant_expired") != NULL;
        }
    }
    kc_resp_free(&r);
    return found;
}

int main(void)
{
    if (secret_init(0) != 0 || kd_setup(&K) != 0 || kd_start(&K) != 0) {
        CHECK(0, "harness: kluisd init and serve");
        kd_cleanup(&K);
        return TEST_END();
    }
    int ok = kc_login(K.port, "beheer", K.admin, admin_tok, NULL) == 200 &&
             kc_principal_new(K.port, admin_tok, "wijk-anna", "professional", &anna_k, anna_tok) == 0 &&
             kc_principal_new(K.port, admin_tok, "wijk-bob", "professional", &bob_k, bob_tok) == 0 &&
             kc_principal_new(K.port, admin_tok, "burg-carla", "mayor", &carla_k, carla_tok) == 0 &&
             (b1 = kc_citizen_setup(K.port, admin_tok, "burger-1", "correct horse battery")) != NULL;
    CHECK(ok, "setup: a professional, a mayor, an enrolled citizen");
    if (!ok)
        goto out;
    char e[64];
    int64_t now = (int64_t)time(NULL), day = 86400;
    int st;
    st = grant_at("g-ahead-ok", now + 240, now - 60, now + day, e);
    CHECK(st == 201, "a grant issued 4 min ahead (inside 300 s) is accepted (%d %s)", st, e);
    st = grant_at("g-ahead-bad", now + 360, now - 60, now + day, e);
    CHECK(st == 400 && !strcmp(e, "bad_statement"), "a grant issued 6 min ahead → 400 bad_statement (%d %s)", st, e);
    st = grant_at("g-old-ok", now - day + 120, now - 60, now + day, e);
    CHECK(st == 201, "a grant issued 23 h 58 min ago is accepted (%d %s)", st, e);
    st = grant_at("g-old-bad", now - day - 120, now - 60, now + day, e);
    CHECK(st == 400 && !strcmp(e, "bad_statement"), "a grant issued 24 h 2 min ago → 400 bad_statement (%d %s)", st, e);
    st = override_at("ov-ahead", now + 360, e);
    CHECK(st == 400 && !strcmp(e, "bad_statement"), "an override request issued 6 min ahead → 400 bad_statement (%d %s)",
          st, e);
    st = override_at("ov-old", now - day - 120, e);
    CHECK(st == 400 && !strcmp(e, "bad_statement"),
          "an override request issued 24 h 2 min ago → 400 bad_statement (%d %s)", st, e);

    /* a grant that runs out while kluisd runs; the two accepted above are revoked first, so only it
     * covers "plan" for the grantee */
    json_t *rv = tt_revoke(b1, "rv-ahead", "g-ahead-ok", now);
    ok = post("/v1/citizens/burger-1/grants/g-ahead-ok/revoke", b1->token, rv, NULL) == 200;
    json_decref(rv);
    rv = tt_revoke(b1, "rv-old", "g-old-ok", now);
    ok = ok && post("/v1/citizens/burger-1/grants/g-old-ok/revoke", b1->token, rv, NULL) == 200;
    json_decref(rv);
    now = (int64_t)time(NULL);
    json_t *env = tt_grant(b1, "g-short", "wijk-anna", anna_k->box_pk, "plan", "read", "ondersteuning", now - 60, now + 3,
                           now);
    ok = ok && post("/v1/citizens/burger-1/grants", b1->token, env, e) == 201;
    st = anna_reads(e);
    CHECK(ok && st == 200, "a grant expiring in 3 s: the grantee reads under it (%d %s)", st, e);
    while ((int64_t)time(NULL) <= now + 3)
        usleep(100000);
    st = anna_reads(e);
    CHECK(st == 403 && !strcmp(e, "grant_expired"), "once it ran out: 403 grant_expired (%d %s)", st, e);
    CHECK(journal_denied_expired(), "the refused read is in the citizen's journal as denied:grant_expired");
    CHECK(!strcmp(grant_state("g-short"), "expired"), "the grant is listed as expired ('%s')", grant_state("g-short"));
    st = post("/v1/citizens/burger-1/grants", b1->token, env, e);
    CHECK(st == 409 && !strcmp(e, "replay"), "replaying its statement cannot renew it: 409 replay (%d %s)", st, e);
    json_decref(env);
    /* the refusal's commit took it out of the grants in force (vault/grant.h grant_end_expired);
     * the decisions from here on meet it among the ended ones, and name the same reason */
    CHECK(kd_stop(&K) == 0 && in_force("wijk-anna", "g-short") == KERR_NOT_FOUND,
          "the refused read's commit moved the expired grant out of the grants in force");
    CHECK(kd_start(&K) == 0, "kluisd starts again");
    kd_kill9(&K);
    CHECK(kd_start(&K) == 0, "kluisd restarts");
    st = anna_reads(e);
    CHECK(st == 403 && !strcmp(e, "grant_expired") && !strcmp(grant_state("g-short"), "expired"),
          "after the restart it stays expired: 403 grant_expired (%d %s)", st, e);

    /* a grant renewed before it ends: the grantee reads on under the renewal, and the first read
     * after the old one ran out moves it (an allowed read's commit) */
    now = (int64_t)time(NULL);
    st = grant_at("g-old", now, now - 60, now + 3, e);
    ok = st == 201 && grant_at("g-renewed", now, now - 60, now + day, e) == 201;
    CHECK(ok && anna_reads(e) == 200, "a grant expiring in 3 s and its renewal: the grantee reads (%d %s)", st, e);
    while ((int64_t)time(NULL) <= now + 3)
        usleep(100000);
    st = anna_reads(e);
    CHECK(st == 200, "once the old one ran out the grantee reads under the renewal (%d %s)", st, e);
    CHECK(kd_stop(&K) == 0 && in_force("wijk-anna", "g-old") == KERR_NOT_FOUND && in_force("wijk-anna", "g-renewed") == KERR_OK,
          "that read's commit moved the expired grant out of the grants in force, not the renewal");
    CHECK(kd_start(&K) == 0 && !strcmp(grant_state("g-old"), "expired") && !strcmp(grant_state("g-renewed"), "active"),
          "both are listed as before: g-old expired, g-renewed active");

    /* the same for the dossier overview and for a write: a write grant running out beside its
     * renewal; the overview's commit moves it, then another one the commit of an entry written
     * under the renewal */
    now = (int64_t)time(NULL);
    ok = write_grant("g-w-new", now, now + day) == 201 && write_grant("g-w-old", now, now + 3) == 201;
    while ((int64_t)time(NULL) <= now + 3)
        usleep(100000);
    struct kc_resp r;
    st = kc_call(K.port, "GET", "/v1/citizens/burger-1/dossier", anna_tok, NULL, &r);
    kc_resp_free(&r);
    CHECK(ok && st == 200, "once a write grant ran out the grantee reads the dossier overview (%d)", st);
    CHECK(kd_stop(&K) == 0 && in_force("wijk-anna", "g-w-old") == KERR_NOT_FOUND && in_force("wijk-anna", "g-w-new") == KERR_OK,
          "the overview's commit moved the expired grant out of the grants in force");
    /* and, beside it, wijk-bob's only grant runs out: his dossier overview is refused, and that
     * refusal's commit moves it */
    now = (int64_t)time(NULL);
    json_t *bob = tt_grant(b1, "g-bob", "wijk-bob", bob_k->box_pk, "plan", "read", "ondersteuning", now - 60, now + 3,
                           now);
    ok = kd_start(&K) == 0 && write_grant("g-w-old2", now, now + 3) == 201 &&
         post("/v1/citizens/burger-1/grants", b1->token, bob, NULL) == 201;
    json_decref(bob);
    while ((int64_t)time(NULL) <= now + 3)
        usleep(100000);
    st = tt_post_entry(K.port, anna_tok, "burger-1", "plan",
                       tt_entry(b1, "e-after-expiry", "plan", "wijk-anna", anna_k->sign_sk, now, 0), NULL, e);
    CHECK(ok && st == 201, "the grantee writes under the renewal (%d %s)", st, e);
    st = kc_call(K.port, "GET", "/v1/citizens/burger-1/dossier", bob_tok, NULL, &r);
    snprintf(e, sizeof e, "%s", r.error);
    kc_resp_free(&r);
    CHECK(st == 403 && !strcmp(e, "grant_expired"), "a grantee whose only grant ran out: overview 403 grant_expired (%d %s)",
          st, e);
    CHECK(kd_stop(&K) == 0 && in_force("wijk-anna", "g-w-old2") == KERR_NOT_FOUND &&
              in_force("wijk-anna", "g-w-new") == KERR_OK,
          "that write's commit moved the next expired write grant out of the grants in force");
    CHECK(in_force("wijk-bob", "g-bob") == KERR_NOT_FOUND,
          "the refused overview's commit moved wijk-bob's expired grant out of the grants in force");
out:
    kc_citizen_free(b1);
    kluis_keys_free(anna_k);
    kluis_keys_free(bob_k);
    kluis_keys_free(carla_k);
    kd_cleanup(&K);
    return TEST_END();
}
