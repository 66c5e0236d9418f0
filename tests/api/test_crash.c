/*
 * tests/api/test_crash.c — nothing acknowledged is ever lost (SPEC §11, issue 8 row 1).
 *
 * Each round starts a burst against a real kluisd — four writers appending entries (the citizen
 * and a professional under a write grant), a consent thread granting and revoking, an override
 * thread walking request → approve → escrow → close, and a poller saving every signed checkpoint
 * it sees — and kills kluisd with SIGKILL at a random moment of the burst. After the restart:
 *  - every write answered 201 is there with the seq it was given;
 *  - every acknowledged grant is there, every acknowledged revocation has it revoked;
 *  - every acknowledged override step holds: requested → listed, approved → activated, escrow
 *    answered → its override.escrow-released leaf is in the log, closed → closed;
 *  - the citizen's journal chain recomputes from `raw` to the served head;
 *  - the log's root recomputed from every leaf (GET /v1/log/entries as an auditor) equals the new
 *    signed checkpoint's, and every checkpoint saved before any crash is consistent with it
 *    (consistency proof verified against both roots).
 *
 * KLUIS_CRASH_ROUNDS (default 5: make check; make torture runs 200), KLUIS_CRASH_PER_VAULT (rounds
 * on one vault before a fresh one, default 25, bounding the re-reads), KLUIS_CRASH_SEED (default:
 * time and pid; printed, so a failing run can be replayed).
 */
#include "tests/test.h"
#include "tests/api/client.h"
#include "tests/api/harness.h"
#include "tests/api/torture.h"

#include <pthread.h>
#include <sodium.h>
#include <time.h>
#include <unistd.h>

#include "vault/encoding.h"
#include "vault/secret.h"
#include "vault/statement.h"

TEST_MAIN_DEFS

#define WRITERS 4
#define MAX_ACKS 60000
#define MAX_CONSENT 4096
#define MAX_OVR 2048
#define MAX_CPS 4096

#define JUST "Acuut gevaar: de inwoner is sinds gisteren vermist en heeft gedreigd zichzelf iets aan te doen."

static struct kd K;
static struct kc_vault VI;
static char admin_tok[KC_TOKEN_MAX], bas_tok[KC_TOKEN_MAX], carla_tok[KC_TOKEN_MAX], olga_tok[KC_TOKEN_MAX],
    rob_tok[KC_TOKEN_MAX];
static struct kluis_keys *bas_k, *anna_k, *carla_k, *olga_k, *rob_k;
static struct kc_citizen *b1;
static int64_t now0;
static int vault_no;

static struct tt_ack acks[MAX_ACKS];
static size_t n_acks;

/* consent: grant ids acknowledged, and whether their revocation was */
struct consent_ack {
    char gid[40];
    int revoked;
};
static struct consent_ack cacks[MAX_CONSENT];
static size_t n_cacks;

/* override steps acknowledged: 1 requested, 2 approved, 3 escrow answered, 4 closed */
struct ovr_ack {
    char id[40];
    int step;
    int released_leaf; /* found in the log after restart */
};
static struct ovr_ack oacks[MAX_OVR];
static size_t n_oacks;

static struct tt_cp cps[MAX_CPS];
static size_t n_cps;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static volatile int stop;

/* ---------------------------------------------------------------- the burst */

struct writer {
    int round, no;
    const char *section, *signer, *token;
    const unsigned char *sk;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    for (int i = 0; !stop && i < 100000; i++) {
        char id[48];
        snprintf(id, sizeof id, "c%d-%d-w%d-%d", vault_no, w->round, w->no, i);
        int64_t seq = 0;
        int st = tt_post_entry(K.port, w->token, "burger-1", w->section, tt_entry(b1, id, w->section, w->signer, w->sk, now0, 0),
                               &seq, NULL);
        if (st == 201) {
            pthread_mutex_lock(&mu);
            if (n_acks < MAX_ACKS) {
                struct tt_ack *a = &acks[n_acks++];
                snprintf(a->id, sizeof a->id, "%s", id);
                snprintf(a->section, sizeof a->section, "%s", w->section);
                a->seq = seq;
            }
            pthread_mutex_unlock(&mu);
        }
        if (st < 0)
            break; /* the server is gone */
    }
    return NULL;
}

/* Grants (read, "wonen", to the professional) and their revocations, one after the other. */
static void *consent_main(void *arg)
{
    int round = *(int *)arg;
    for (int k = 0; !stop && k < 1000; k++) {
        char gid[40], rid[40], path[160];
        snprintf(gid, sizeof gid, "g-%d-%d-%d", vault_no, round, k);
        snprintf(rid, sizeof rid, "rv-%d-%d-%d", vault_no, round, k);
        struct kc_resp r;
        json_t *env = tt_grant(b1, gid, "wijk-bas", bas_k->box_pk, "wonen", "read", "ondersteuning", now0 - 60,
                               now0 + 86400, now0);
        int st = kc_call(K.port, "POST", "/v1/citizens/burger-1/grants", b1->token, env, &r);
        json_decref(env);
        kc_resp_free(&r);
        if (st != 201)
            break;
        size_t me = 0;
        pthread_mutex_lock(&mu);
        if (n_cacks < MAX_CONSENT) {
            me = n_cacks++;
            snprintf(cacks[me].gid, sizeof cacks[me].gid, "%s", gid);
            cacks[me].revoked = 0; /* the slot may hold a grant of the previous vault */
        }
        pthread_mutex_unlock(&mu);
        env = tt_revoke(b1, rid, gid, now0);
        snprintf(path, sizeof path, "/v1/citizens/burger-1/grants/%s/revoke", gid);
        st = kc_call(K.port, "POST", path, b1->token, env, &r);
        json_decref(env);
        kc_resp_free(&r);
        if (st != 200)
            break;
        pthread_mutex_lock(&mu);
        cacks[me].revoked = 1;
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}

static int statement_hash(unsigned char h[32], const json_t *env)
{
    const char *b = json_string_value(json_object_get(env, "statement"));
    unsigned char buf[8192];
    size_t len = 0;
    if (!b || b64_decode(buf, sizeof buf, &len, b, strlen(b)) != 0)
        return -1;
    return kluis_hash(h, buf, len);
}

static void ovr_step(size_t me, int step)
{
    pthread_mutex_lock(&mu);
    oacks[me].step = step;
    pthread_mutex_unlock(&mu);
}

/* The mayor's override of "plan" for the beneficiary, approved by the officer, escrow fetched, closed. */
static void *override_main(void *arg)
{
    int round = *(int *)arg;
    for (int k = 0; !stop && k < 1000; k++) {
        char id[40], apid[40], clid[40], path[160];
        snprintf(id, sizeof id, "ov-%d-%d-%d", vault_no, round, k);
        snprintf(apid, sizeof apid, "ap-%d-%d-%d", vault_no, round, k);
        snprintf(clid, sizeof clid, "cl-%d-%d-%d", vault_no, round, k);
        struct kc_resp r;
        json_t *env = tt_sign(json_pack("{s:s, s:s, s:s, s:I, s:s, s:[s], s:s, s:s, s:s, s:I}", "type", "override", "id",
                                        id, "signer", "burg-carla", "issued", (json_int_t)now0, "citizen", "burger-1",
                                        "sections", "plan", "beneficiary", "wijk-anna", "ground", "acuut-gevaar",
                                        "justification", JUST, "hours", (json_int_t)24),
                              carla_k->sign_sk);
        unsigned char h[32];
        int ok = env && statement_hash(h, env) == 0;
        int st = ok ? kc_call(K.port, "POST", "/v1/overrides", carla_tok, env, &r) : -1;
        json_decref(env);
        if (st != 201) {
            if (st > 0 && k == 0 && round == 0)
                printf("# override request: %d %s\n", st, r.error);
            kc_resp_free(&r);
            break;
        }
        kc_resp_free(&r);
        size_t me;
        pthread_mutex_lock(&mu);
        me = n_oacks < MAX_OVR ? n_oacks++ : MAX_OVR - 1;
        snprintf(oacks[me].id, sizeof oacks[me].id, "%s", id);
        oacks[me].step = 1;
        pthread_mutex_unlock(&mu);

        char *hb = b64_encode(h, 32);
        env = tt_sign(json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "type", "override-approval", "id", apid, "signer",
                                "fg-olga", "issued", (json_int_t)now0, "override", id, "statement_hash", hb),
                      olga_k->sign_sk);
        free(hb);
        snprintf(path, sizeof path, "/v1/overrides/%s/approve", id);
        st = kc_call(K.port, "POST", path, olga_tok, env, &r);
        json_decref(env);
        kc_resp_free(&r);
        if (st != 200)
            break;
        ovr_step(me, 2);

        snprintf(path, sizeof path, "/v1/overrides/%s/escrow", id);
        st = kc_call(K.port, "GET", path, carla_tok, NULL, &r);
        kc_resp_free(&r);
        if (st != 200)
            break;
        ovr_step(me, 3);

        env = tt_sign(json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "type", "override-close", "id", clid, "signer",
                                "burg-carla", "issued", (json_int_t)now0, "override", id, "reason",
                                "De inwoner is gevonden en veilig."),
                      carla_k->sign_sk);
        snprintf(path, sizeof path, "/v1/overrides/%s/close", id);
        st = kc_call(K.port, "POST", path, carla_tok, env, &r);
        json_decref(env);
        kc_resp_free(&r);
        if (st != 200)
            break;
        ovr_step(me, 4);
    }
    return NULL;
}

/* Saves every distinct signed checkpoint it sees (verified with the pinned log key). */
static void *poller_main(void *arg)
{
    (void)arg;
    while (!stop) {
        struct tt_cp cp;
        if (tt_checkpoint(K.port, VI.log_pk, &cp) != 0)
            break;
        pthread_mutex_lock(&mu);
        if (n_cps < MAX_CPS && (n_cps == 0 || cps[n_cps - 1].size != cp.size))
            cps[n_cps++] = cp;
        pthread_mutex_unlock(&mu);
        usleep(5000);
    }
    return NULL;
}

/* ---------------------------------------------------------------- the checks after restart */

static const char *state_in(const json_t *arr, const char *id)
{
    size_t i;
    json_t *g;
    json_array_foreach(arr, i, g)
        if (!strcmp(json_string_value(json_object_get(g, "id")), id))
            return json_string_value(json_object_get(g, "state"));
    return "";
}

/* Acknowledged grants present, acknowledged revocations revoked; the number that are not. */
static size_t consent_missing(void)
{
    struct kc_resp r;
    size_t bad = 0;
    if (kc_call(K.port, "GET", "/v1/citizens/burger-1/grants", b1->token, NULL, &r) != 200) {
        kc_resp_free(&r);
        return n_cacks + 1;
    }
    json_t *arr = json_object_get(r.json, "grants");
    for (size_t i = 0; i < n_cacks; i++) {
        const char *s = state_in(arr, cacks[i].gid);
        if (!s || !s[0] || (cacks[i].revoked && strcmp(s, "revoked") != 0)) {
            printf("# grant %s: state '%s', revocation acknowledged %d\n", cacks[i].gid, s ? s : "", cacks[i].revoked);
            size_t k;
            json_t *g;
            json_array_foreach(arr, k, g)
                if (!strcmp(json_string_value(json_object_get(g, "id")), cacks[i].gid)) {
                    char *d = json_dumps(g, JSON_COMPACT);
                    printf("#   %.600s\n", d ? d : "");
                    free(d);
                }
            bad++;
        }
    }
    kc_resp_free(&r);
    return bad;
}

static void find_released(const char *leaf, size_t len, void *arg)
{
    (void)len;
    (void)arg;
    const char *p = strstr(leaf, "\"event\":\"override.escrow-released\",\"override\":\"");
    if (!p)
        return;
    p += strlen("\"event\":\"override.escrow-released\",\"override\":\"");
    for (size_t i = 0; i < n_oacks; i++) {
        size_t n = strlen(oacks[i].id);
        if (!strncmp(p, oacks[i].id, n) && p[n] == '"')
            oacks[i].released_leaf = 1;
    }
}

/* Acknowledged override steps held; the number that did not. */
static size_t overrides_missing(void)
{
    struct kc_resp r;
    size_t bad = 0;
    if (kc_call(K.port, "GET", "/v1/overrides", rob_tok, NULL, &r) != 200) {
        kc_resp_free(&r);
        return n_oacks + 1;
    }
    json_t *arr = json_object_get(r.json, "overrides");
    for (size_t i = 0; i < n_oacks; i++) {
        const char *s = state_in(arr, oacks[i].id);
        int ok = s && s[0];
        if (oacks[i].step >= 2)
            ok = ok && (!strcmp(s, "active") || !strcmp(s, "closed"));
        if (oacks[i].step >= 3)
            ok = ok && oacks[i].released_leaf;
        if (oacks[i].step >= 4)
            ok = ok && !strcmp(s, "closed");
        if (!ok) {
            printf("# override %s: step %d acknowledged, state '%s', released leaf %d\n", oacks[i].id, oacks[i].step,
                   s ? s : "", oacks[i].released_leaf);
            bad++;
        }
    }
    kc_resp_free(&r);
    return bad;
}

/* ---------------------------------------------------------------- setup */

static int new_vault(void)
{
    n_acks = n_cacks = n_oacks = n_cps = 0;
    if (kd_setup(&K) != 0 || kd_start(&K) != 0 || kc_vault_info(K.port, &VI) != 200)
        return -1;
    now0 = (int64_t)time(NULL);
    struct kluis_keys **keys[] = {&bas_k, &anna_k, &carla_k, &olga_k, &rob_k};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        *keys[i] = NULL;
    char anna_tok[KC_TOKEN_MAX];
    int ok = kc_login(K.port, "beheer", K.admin, admin_tok, NULL) == 200 &&
             kc_principal_new(K.port, admin_tok, "wijk-bas", "professional", &bas_k, bas_tok) == 0 &&
             kc_principal_new(K.port, admin_tok, "wijk-anna", "professional", &anna_k, anna_tok) == 0 &&
             kc_principal_new(K.port, admin_tok, "burg-carla", "mayor", &carla_k, carla_tok) == 0 &&
             kc_principal_new(K.port, admin_tok, "fg-olga", "officer", &olga_k, olga_tok) == 0 &&
             kc_principal_new(K.port, admin_tok, "audit-rob", "auditor", &rob_k, rob_tok) == 0 &&
             (b1 = kc_citizen_setup(K.port, admin_tok, "burger-1", "correct horse battery")) != NULL;
    if (!ok)
        return -1;
    /* the professional may write "schulden" */
    struct kc_resp r;
    json_t *env = tt_grant(b1, "g-bas", "wijk-bas", bas_k->box_pk, "schulden", "write", "schuldhulp", now0 - 60,
                           now0 + 86400, now0);
    ok = kc_call(K.port, "POST", "/v1/citizens/burger-1/grants", b1->token, env, &r) == 201;
    json_decref(env);
    kc_resp_free(&r);
    struct tt_cp cp;
    if (ok && tt_checkpoint(K.port, VI.log_pk, &cp) == 0)
        cps[n_cps++] = cp;
    return ok ? 0 : -1;
}

static void end_vault(void)
{
    kc_citizen_free(b1);
    b1 = NULL;
    kluis_keys_free(bas_k);
    kluis_keys_free(anna_k);
    kluis_keys_free(carla_k);
    kluis_keys_free(olga_k);
    kluis_keys_free(rob_k);
    kd_cleanup(&K);
}

static long env_long(const char *name, long def)
{
    const char *s = getenv(name);
    return s && *s ? strtol(s, NULL, 10) : def;
}

int main(void)
{
    if (secret_init(0) != 0) {
        CHECK(0, "libsodium");
        return TEST_END();
    }
    long rounds = env_long("KLUIS_CRASH_ROUNDS", 5), per_vault = env_long("KLUIS_CRASH_PER_VAULT", 25);
    unsigned seed = (unsigned)env_long("KLUIS_CRASH_SEED", (long)(time(NULL) ^ getpid()));
    if (per_vault < 1)
        per_vault = 1;
    printf("# %ld rounds, %ld per vault, seed %u (KLUIS_CRASH_SEED replays it)\n", rounds, per_vault, seed);
    size_t t_writes = 0, t_consent = 0, t_ovr = 0, t_cps = 0, failures = 0;
    long kill_min = 1000000, kill_max = 0;
    int quiet = rounds > 20; /* the torture run prints one line per vault and every failure */
    int have_vault = 0;
    for (long round = 0; round < rounds; round++) {
        if (round % per_vault == 0) {
            if (have_vault)
                end_vault();
            have_vault = 1;
            vault_no = (int)(round / per_vault);
            int ok = new_vault() == 0;
            CHECK(ok, "vault %d: kluisd, a professional with a write grant, a beneficiary, a mayor, an officer, an "
                      "auditor and an enrolled citizen",
                  vault_no);
            if (!ok)
                break;
        }
        int rno = (int)(round % per_vault);
        size_t w0 = n_acks, c0 = n_cacks, o0 = n_oacks, cp0 = n_cps;
        struct writer w[WRITERS] = {
            {.section = "plan", .signer = "burger-1", .token = b1->token, .sk = b1->keys->sign_sk},
            {.section = "plan", .signer = "burger-1", .token = b1->token, .sk = b1->keys->sign_sk},
            {.section = "wonen", .signer = "burger-1", .token = b1->token, .sk = b1->keys->sign_sk},
            {.section = "schulden", .signer = "wijk-bas", .token = bas_tok, .sk = bas_k->sign_sk},
        };
        pthread_t th[WRITERS], tc, to, tp;
        stop = 0;
        for (int i = 0; i < WRITERS; i++) {
            w[i].round = rno;
            w[i].no = i;
            pthread_create(&th[i], NULL, writer_main, &w[i]);
        }
        pthread_create(&tc, NULL, consent_main, &rno);
        pthread_create(&to, NULL, override_main, &rno);
        pthread_create(&tp, NULL, poller_main, NULL);
        long kill_ms = 30 + (long)(rand_r(&seed) % 700);
        kill_min = kill_ms < kill_min ? kill_ms : kill_min;
        kill_max = kill_ms > kill_max ? kill_ms : kill_max;
        usleep((useconds_t)kill_ms * 1000);
        kd_kill9(&K);
        stop = 1;
        for (int i = 0; i < WRITERS; i++)
            pthread_join(th[i], NULL);
        pthread_join(tc, NULL);
        pthread_join(to, NULL);
        pthread_join(tp, NULL);
        t_writes += n_acks - w0;
        t_consent += n_cacks - c0;
        t_ovr += n_oacks - o0;
        t_cps += n_cps - cp0;

        int restarted = kd_start(&K) == 0;
        size_t found = 0, nev = 0;
        long missing = 0;
        const char *secs[] = {"plan", "wonen", "schulden"};
        for (int s = 0; restarted && s < 3; s++) {
            size_t f = 0;
            long m = tt_entries_missing(K.port, b1, secs[s], acks, n_acks, &f);
            missing += m < 0 ? 1000000 : m;
            found += f;
        }
        struct tt_cp now;
        int cp_ok = restarted && tt_checkpoint(K.port, VI.log_pk, &now) == 0;
        for (size_t i = 0; i < n_oacks; i++)
            oacks[i].released_leaf = 0;
        int log_ok = cp_ok && tt_log_verifies(K.port, rob_tok, &now, find_released, NULL);
        size_t inconsistent = 0;
        for (size_t i = 0; cp_ok && i < n_cps; i++)
            inconsistent += !tt_consistent(K.port, &cps[i], &now);
        size_t cmiss = restarted ? consent_missing() : 1, omiss = restarted ? overrides_missing() : 1;
        int jok = restarted && tt_journal_verifies(K.port, b1, &nev) == 1;
        int all = restarted && missing == 0 && found == n_acks && cmiss == 0 && omiss == 0 && jok && log_ok &&
                  inconsistent == 0;
        if (!all || !quiet) {
            CHECK(restarted, "round %ld (kill after %ld ms): kluisd restarts after SIGKILL", round, kill_ms);
            CHECK(missing == 0 && found == n_acks,
                  "round %ld: every acknowledged write (%zu of %zu; %zu this round) is there with the seq it was given",
                  round, found, n_acks, n_acks - w0);
            CHECK(cmiss == 0, "round %ld: every acknowledged grant (%zu) and revocation is there", round, n_cacks);
            CHECK(omiss == 0,
                  "round %ld: every acknowledged override step (%zu overrides) holds, released escrow leaves in the log",
                  round, n_oacks);
            CHECK(jok, "round %ld: the citizen's journal chain verifies (%zu events)", round, nev);
            CHECK(log_ok, "round %ld: the log root recomputed from all %llu leaves equals the signed checkpoint's", round,
                  (unsigned long long)now.size);
            CHECK(cp_ok && inconsistent == 0,
                  "round %ld: all %zu checkpoints saved before the crashes are consistent with the log after it", round,
                  n_cps);
        }
        failures += !all;
        if (!restarted)
            break;
        if (quiet && (rno == per_vault - 1 || round == rounds - 1))
            printf("# vault %d after round %ld: %zu writes, %zu grants, %zu overrides acknowledged; log %llu leaves, "
                   "%zu checkpoints saved\n",
                   vault_no, round, n_acks, n_cacks, n_oacks, (unsigned long long)now.size, n_cps);
    }
    if (quiet)
        CHECK(failures == 0, "%ld rounds of kill -9 at random moments (%ld..%ld ms into the burst): nothing acknowledged "
                             "lost, journal and log verify, every saved checkpoint consistent",
              rounds, kill_min, kill_max);
    printf("# totals: %zu writes, %zu grants, %zu overrides acknowledged; %zu checkpoints saved; kills at %ld..%ld ms\n",
           t_writes, t_consent, t_ovr, t_cps, kill_min, kill_max);
    CHECK(t_writes > 0 && t_consent > 0 && t_ovr > 0, "the bursts did acknowledge writes (%zu), grants (%zu) and "
                                                      "override steps (%zu)",
          t_writes, t_consent, t_ovr);
    if (have_vault)
        end_vault();
    return TEST_END();
}
