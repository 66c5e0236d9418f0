/*
 * tests/api/test_faults.c — a failing disk under kluisd (issue 8 rows 3 and 4).
 *
 * kluisd runs with tests/torture/failsync.c preloaded (built here with cc; the test is skipped
 * when no compiler is found). Once the flag file exists, every fsync/fdatasync (phase 1) or every
 * pwrite/pwritev (phase 2) on data.mdb fails with EIO. Then:
 *  - the write in flight fails (5xx, never 201) and the server stops taking writes: every later
 *    write is 503 unavailable, also after the disk "recovers" (the flag removed) — it does not go
 *    on on a doubtful store — and kluisd says so on stderr;
 *  - the journal and the log cannot be written: every audited read (dossier, entries) is refused
 *    503 journal_unavailable, an override request and the escrow are refused 503 and the escrow
 *    releases nothing (fail closed, never served unlogged);
 *  - reads that need no journal event are still served from the last committed state (vault,
 *    charter, checkpoint, proofs, log entries, the citizen's own journal): documented in SECURITY.md;
 *  - after a restart on a sound disk: every acknowledged write is there with its seq, the journal
 *    chain and the log verify, the checkpoint from before the fault is consistent with the new one,
 *    and the override refused during the fault was never recorded.
 */
#include "tests/test.h"
#include "tests/api/client.h"
#include "tests/api/harness.h"
#include "tests/api/torture.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vault/encoding.h"
#include "vault/secret.h"

TEST_MAIN_DEFS

#define JUST "Acuut gevaar: de inwoner is sinds gisteren vermist en heeft gedreigd zichzelf iets aan te doen."

static struct kd K;
static struct kc_vault VI;
static char admin_tok[KC_TOKEN_MAX], rob_tok[KC_TOKEN_MAX], carla_tok[KC_TOKEN_MAX], olga_tok[KC_TOKEN_MAX],
    anna_tok[KC_TOKEN_MAX];
static struct kluis_keys *rob_k, *carla_k, *olga_k, *anna_k;
static struct kc_citizen *b1;
static int64_t now0;
static struct tt_ack acks[256];
static size_t n_acks;
static int seqno;
static char shim[400];

static int write_one(char err[64])
{
    char id[48];
    int64_t seq = 0;
    snprintf(id, sizeof id, "e-%d", seqno++);
    int st = tt_post_entry(K.port, b1->token, "burger-1", "plan", tt_entry(b1, id, "plan", "burger-1", b1->keys->sign_sk, now0, 0),
                           &seq, err);
    if (st == 201 && n_acks < 256) {
        snprintf(acks[n_acks].id, sizeof acks[n_acks].id, "%s", id);
        snprintf(acks[n_acks].section, sizeof acks[n_acks].section, "plan");
        acks[n_acks++].seq = seq;
    }
    return st;
}

static int call(const char *method, const char *path, const char *token, json_t *body, char err[64])
{
    struct kc_resp r;
    int st = kc_call(K.port, method, path, token, body, &r);
    if (err)
        snprintf(err, 64, "%s", r.error);
    kc_resp_free(&r);
    return st;
}

static json_t *override_env(const char *id)
{
    return tt_sign(json_pack("{s:s, s:s, s:s, s:I, s:s, s:[s], s:s, s:s, s:s, s:I}", "type", "override", "id", id,
                             "signer", "burg-carla", "issued", (json_int_t)now0, "citizen", "burger-1", "sections",
                             "plan", "beneficiary", "wijk-anna", "ground", "acuut-gevaar", "justification", JUST, "hours",
                             (json_int_t)24),
                   carla_k->sign_sk);
}

/* An active override "ov-<tag>" (request + the officer's approval) before the fault. */
static int active_override(const char *id)
{
    json_t *env = override_env(id);
    const char *b = json_string_value(json_object_get(env, "statement"));
    unsigned char buf[4096], h[32];
    size_t len = 0;
    int ok = b && b64_decode(buf, sizeof buf, &len, b, strlen(b)) == 0 && kluis_hash(h, buf, len) == 0 &&
             call("POST", "/v1/overrides", carla_tok, env, NULL) == 201;
    json_decref(env);
    char *hb = b64_encode(h, 32), apid[48], path[128];
    snprintf(apid, sizeof apid, "ap-%s", id);
    env = tt_sign(json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "type", "override-approval", "id", apid, "signer",
                            "fg-olga", "issued", (json_int_t)now0, "override", id, "statement_hash", hb),
                  olga_k->sign_sk);
    free(hb);
    snprintf(path, sizeof path, "/v1/overrides/%s/approve", id);
    ok = ok && call("POST", path, olga_tok, env, NULL) == 200;
    json_decref(env);
    return ok;
}

static int stderr_says(const char *needle)
{
    for (int i = 0; i < 40; i++) { /* kluisd looks once a second */
        FILE *f = fopen(K.errlog, "r");
        char line[1024];
        int found = 0;
        while (f && fgets(line, sizeof line, f))
            found |= strstr(line, needle) != NULL;
        if (f)
            fclose(f);
        if (found)
            return 1;
        usleep(100000);
    }
    return 0;
}

static void phase(const char *calls, const char *what)
{
    char flag[400], e[64] = "", ovid[48];
    n_acks = 0;
    int ok = kd_setup(&K) == 0;
    snprintf(flag, sizeof flag, "%s/fail", K.tmp);
    snprintf(K.errlog, sizeof K.errlog, "%s/kluisd.err", K.tmp);
    /* the shim in kluisd only: set for the fork in kd_start, unset right after */
    const char *asan = getenv("ASAN_OPTIONS");
    char asan_opts[512];
    snprintf(asan_opts, sizeof asan_opts, "%s%sverify_asan_link_order=0", asan ? asan : "", asan && *asan ? ":" : "");
    setenv("ASAN_OPTIONS", asan_opts, 1);
    setenv("LD_PRELOAD", shim, 1);
    setenv("FAILSYNC_FLAG", flag, 1);
    setenv("FAILSYNC_CALLS", calls, 1);
    ok = ok && kd_start(&K) == 0;
    unsetenv("LD_PRELOAD");
    if (asan)
        setenv("ASAN_OPTIONS", asan, 1);
    else
        unsetenv("ASAN_OPTIONS");
    now0 = (int64_t)time(NULL);
    ok = ok && kc_vault_info(K.port, &VI) == 200 && kc_login(K.port, "beheer", K.admin, admin_tok, NULL) == 200 &&
         kc_principal_new(K.port, admin_tok, "audit-rob", "auditor", &rob_k, rob_tok) == 0 &&
         kc_principal_new(K.port, admin_tok, "burg-carla", "mayor", &carla_k, carla_tok) == 0 &&
         kc_principal_new(K.port, admin_tok, "fg-olga", "officer", &olga_k, olga_tok) == 0 &&
         kc_principal_new(K.port, admin_tok, "wijk-anna", "professional", &anna_k, anna_tok) == 0 &&
         (b1 = kc_citizen_setup(K.port, admin_tok, "burger-1", "correct horse battery")) != NULL &&
         active_override("ov-before");
    for (int i = 0; ok && i < 10; i++)
        ok = write_one(e) == 201;
    struct tt_cp before;
    ok = ok && tt_checkpoint(K.port, VI.log_pk, &before) == 0;
    CHECK(ok, "%s: kluisd with the failsync shim; 10 writes, an active override, the checkpoint saved", what);
    if (!ok)
        goto out;

    int fd = open(flag, O_WRONLY | O_CREAT, 0600);
    if (fd >= 0)
        close(fd);
    int st = write_one(e);
    CHECK(st >= 500 && st != 507, "%s: the write in flight fails (%d %s), never 201", what, st, e);
    CHECK(stderr_says("the store failed"), "%s: kluisd says so on stderr (\"the store failed ...\")", what);
    unlink(flag);
    int st1 = write_one(e), st2 = write_one(e);
    CHECK(st1 == 503 && st2 == 503 && !strcmp(e, "unavailable"),
          "%s: the server stops taking writes: 503 unavailable, also once the disk answers again (%d, %d %s)", what, st1,
          st2, e);
    st = call("GET", "/v1/citizens/burger-1/sections/plan/entries", b1->token, NULL, e);
    CHECK(st == 503 && !strcmp(e, "journal_unavailable"),
          "%s: an audited read (entries) is refused 503 journal_unavailable, never served unlogged (%d %s)", what, st, e);
    st = call("GET", "/v1/citizens/burger-1/dossier", b1->token, NULL, e);
    CHECK(st == 503 && !strcmp(e, "journal_unavailable"), "%s: the dossier overview likewise (%d %s)", what, st, e);
    snprintf(ovid, sizeof ovid, "ov-during");
    json_t *env = override_env(ovid);
    st = call("POST", "/v1/overrides", carla_tok, env, e);
    json_decref(env);
    CHECK(st == 503, "%s: an override request is refused 503 (%s): nothing to log it in", what, e);
    struct kc_resp r;
    st = kc_call(K.port, "GET", "/v1/overrides/ov-before/escrow", carla_tok, NULL, &r);
    CHECK(st == 503 && !json_object_get(r.json, "items"),
          "%s: the escrow of an active override is refused 503 (%s) and releases no item", what, r.error);
    kc_resp_free(&r);
    struct tt_cp during;
    size_t nev = 0;
    CHECK(call("GET", "/v1/vault", NULL, NULL, NULL) == 200 && call("GET", "/v1/charter", NULL, NULL, NULL) == 200 &&
              tt_checkpoint(K.port, VI.log_pk, &during) == 0 && tt_log_verifies(K.port, rob_tok, &during, NULL, NULL) &&
              tt_journal_verifies(K.port, b1, &nev) == 1,
          "%s: reads that need no journal event are served from the last committed state (vault, charter, checkpoint, "
          "log entries, own journal: %zu events)",
          what, nev);

    kd_kill9(&K);
    CHECK(kd_start(&K) == 0, "%s: kluisd restarts without the shim", what);
    size_t found = 0;
    CHECK(tt_entries_missing(K.port, b1, "plan", acks, n_acks, &found) == 0 && found == n_acks,
          "%s: every acknowledged write (%zu) is there with its seq", what, found);
    CHECK(tt_journal_verifies(K.port, b1, &nev) == 1, "%s: the journal chain verifies (%zu events)", what, nev);
    struct tt_cp now;
    CHECK(tt_checkpoint(K.port, VI.log_pk, &now) == 0 && tt_log_verifies(K.port, rob_tok, &now, NULL, NULL) &&
              tt_consistent(K.port, &before, &now) && now.size == before.size,
          "%s: the log verifies, consistent with the checkpoint before the fault, and holds nothing from during it "
          "(%llu leaves)",
          what, (unsigned long long)now.size);
    CHECK(call("GET", "/v1/overrides/ov-during", rob_tok, NULL, NULL) != 200 &&
              write_one(e) == 201,
          "%s: the refused override was never recorded; writes are 201 again", what);
out:
    kd_kill9(&K);
    unsetenv("FAILSYNC_FLAG");
    unsetenv("FAILSYNC_CALLS");
    kc_citizen_free(b1);
    b1 = NULL;
    kluis_keys_free(rob_k);
    kluis_keys_free(carla_k);
    kluis_keys_free(olga_k);
    kluis_keys_free(anna_k);
    rob_k = carla_k = olga_k = anna_k = NULL;
    kd_cleanup(&K);
}

int main(void)
{
    if (secret_init(0) != 0) {
        CHECK(0, "libsodium");
        return TEST_END();
    }
    char dir[] = "/tmp/kluis-shim-XXXXXX", cmd[1200];
    if (!mkdtemp(dir) || access("tests/torture/failsync.c", R_OK) != 0) {
        printf("ok - # SKIP no tests/torture/failsync.c here (run from the checkout)\n");
        return TEST_END();
    }
    snprintf(shim, sizeof shim, "%s/failsync.so", dir);
    snprintf(cmd, sizeof cmd, "cc -shared -fPIC -O2 -o '%s' tests/torture/failsync.c -ldl 2>&1", shim);
    if (system(cmd) != 0) {
        printf("ok - # SKIP cannot build the LD_PRELOAD shim with cc\n");
        rmdir(dir);
        return TEST_END();
    }
    phase("fsync,fdatasync", "failing fdatasync");
    phase("pwrite,pwritev", "failing pwrite");
    unlink(shim);
    rmdir(dir);
    return TEST_END();
}
