/*
 * tests/api/test_warm.c — readahead and the warm of kluisd serve (docs/performance.md, "Ninth
 * pass"): which readahead a vault gets (vault_readahead_wanted), that `--readahead off` reaches the
 * map as MADV_RANDOM (VmFlags "rr" in /proc/PID/smaps) and `on` does not, that kluisd warms the
 * read path's tables in the background and says so (and not with `--warm off`), that bad values
 * are refused, and what vault_warm() walks and leaves out for its budget.
 */
#include "tests/test.h"
#include "tests/api/harness.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vault/secret.h"
#include "vault/vault.h"

TEST_MAIN_DEFS

static struct kd K;

static void test_choice(void)
{
    const uint64_t G = 1000000000ull;
    CHECK(vault_readahead_wanted(VAULT_READAHEAD_AUTO, 13 * G, 24 * G), "auto: 13 GB on 24 GB of memory keeps readahead");
    CHECK(vault_readahead_wanted(VAULT_READAHEAD_AUTO, 18 * G, 24 * G), "auto: exactly 3/4 of memory keeps it");
    CHECK(!vault_readahead_wanted(VAULT_READAHEAD_AUTO, 18 * G + 1, 24 * G), "auto: one byte past 3/4 turns it off");
    CHECK(!vault_readahead_wanted(VAULT_READAHEAD_AUTO, 34 * G, 24 * G), "auto: 34 GB on 24 GB turns it off");
    /* 2^63 against 2^63: 4 x file wraps to 0 in 64 bits, which would keep readahead */
    CHECK(!vault_readahead_wanted(VAULT_READAHEAD_AUTO, 1ull << 63, 1ull << 63), "auto: no overflow at the top");
    CHECK(vault_readahead_wanted(VAULT_READAHEAD_AUTO, 3ull << 61, UINT64_MAX), "auto: 3/4 of the largest memory");
    CHECK(vault_readahead_wanted(VAULT_READAHEAD_ON, 34 * G, 24 * G), "on: kept whatever the sizes");
    CHECK(!vault_readahead_wanted(VAULT_READAHEAD_OFF, 1, 24 * G), "off: off whatever the sizes");
}

/* Whether kluisd's map of data.mdb carries the random-read advice ("rr" in VmFlags): 1, 0, or -1
 * when the mapping was not found. */
static int map_random(pid_t pid)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/smaps", (int)pid);
    FILE *f = fopen(path, "r");
    int in = 0, r = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        if (strchr(line, '-') && strstr(line, " r") && strchr(line, '/')) /* a mapping's first line */
            in = strstr(line, "/data.mdb") != NULL;
        else if (in && strncmp(line, "VmFlags:", 8) == 0) {
            r = strstr(line, " rr") != NULL;
            break;
        }
    }
    fclose(f);
    return r;
}

/* The lines kluisd wrote to its error log from byte FROM on, into BUF. */
static void log_since(long from, char *buf, size_t max)
{
    FILE *f = fopen(K.errlog, "r");
    size_t n = 0;
    if (f && fseek(f, from, SEEK_SET) == 0)
        n = fread(buf, 1, max - 1, f);
    buf[n] = '\0';
    if (f)
        fclose(f);
}

static long log_size(void)
{
    FILE *f = fopen(K.errlog, "r");
    long n = 0;
    if (f && fseek(f, 0, SEEK_END) == 0)
        n = ftell(f);
    if (f)
        fclose(f);
    return n;
}

/* Start kluisd with --readahead RA and --warm WARM (NULL: not passed); wait up to 10 s for its warm
 * line when WAIT. Returns the log since the start in BUF and the map's advice in *RANDOM. */
static int serve(const char *ra, const char *warm, int wait, char *buf, size_t max, int *random)
{
    int i = 0;
    if (ra) {
        K.serve_extra[i++] = "--readahead";
        K.serve_extra[i++] = ra;
    }
    if (warm) {
        K.serve_extra[i++] = "--warm";
        K.serve_extra[i++] = warm;
    }
    K.serve_extra[i] = NULL;
    long from = log_size();
    if (kd_start(&K) != 0)
        return -1;
    for (int t = 0; t < 100; t++) {
        log_since(from, buf, max);
        if (!wait || strstr(buf, "kluisd: warm"))
            break;
        usleep(100 * 1000);
    }
    *random = map_random(K.pid);
    int st = kd_stop(&K);
    log_since(from, buf, max);
    return st;
}

static void test_serve(void)
{
    char buf[8192];
    int random = -2;
    int st = serve("off", NULL, 1, buf, sizeof buf, &random);
    CHECK(st == 0, "kluisd serve --readahead off starts and stops cleanly");
    CHECK(random == 1, "--readahead off: the map of data.mdb is advised random (VmFlags rr; got %d)", random);
    CHECK(strstr(buf, "readahead off") != NULL, "--readahead off: kluisd says so");
    CHECK(strstr(buf, "kluisd: warm: 7 tables") != NULL && !strstr(buf, "left out"),
          "the warm runs by default and walks the 7 tables of the read path:\n%s", buf);

    st = serve("on", "off", 0, buf, sizeof buf, &random);
    CHECK(st == 0 && random == 0, "--readahead on: no random advice (got %d)", random);
    CHECK(strstr(buf, "readahead on") != NULL, "--readahead on: kluisd says so");
    CHECK(!strstr(buf, "kluisd: warm"), "--warm off: no warm");

    st = serve(NULL, "on", 1, buf, sizeof buf, &random);
    CHECK(st == 0 && random == 0 && strstr(buf, "readahead on"),
          "auto on a small vault: readahead kept (got %d)", random);
    CHECK(strstr(buf, "kluisd: warm: 7 tables") != NULL, "--warm on: warmed");

    const char *bad[][4] = {{"--readahead", "sometimes", NULL, NULL},
                            {"--readahead", "", NULL, NULL},
                            {"--warm", "yes", NULL, NULL},
                            {"--warm", "ON", NULL, NULL}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *argv[] = {"serve", "--dir", K.vault, "--listen", "127.0.0.1:0", bad[i][0], bad[i][1], NULL};
        CHECK(kd_run(&K, argv) == 2, "serve %s '%s' refused with exit 2", bad[i][0], bad[i][1]);
    }
}

/* vault_warm() in process: what it walks, what its budget leaves out, and a stop. */
static void test_vault_warm(void)
{
    vault *v = NULL;
    struct vault_open_opts o = {.readahead = VAULT_READAHEAD_OFF};
    CHECK(vault_open_with(&v, K.vault, &o, NULL) == KERR_OK && v && !v->readahead, "vault_open_with readahead off");
    if (!v)
        return;
    struct vault_warm_report r;
    CHECK(vault_warm(v, UINT64_MAX / 2, 4, NULL, &r) == KERR_OK && r.walked == 7 && !r.skipped[0] && r.records > 0 &&
              r.bytes > 0,
          "an ample budget: 7 tables walked, %zu records, %llu bytes, none left out", r.records,
          (unsigned long long)r.bytes);
    uint64_t all = r.bytes;
    /* A fresh vault: only the principals table (the admin) has a page; the others are empty and
     * cost nothing, so a budget of 0 leaves out exactly that one. */
    CHECK(vault_warm(v, 0, 4, NULL, &r) == KERR_OK && r.walked == 6 && r.bytes == 0 && !strcmp(r.skipped, "principals"),
          "budget 0: the table with pages left out and named (%s), the empty ones and the journal's heads walked (%u)",
          r.skipped, r.walked);
    CHECK(vault_warm(v, all - 1, 4, NULL, &r) == KERR_OK && r.walked < 7 && r.skipped[0] && r.bytes <= all - 1,
          "a budget one byte short: a table left out (%s), %llu bytes within it", r.skipped, (unsigned long long)r.bytes);
    atomic_bool stop;
    atomic_init(&stop, true);
    CHECK(vault_warm(v, UINT64_MAX / 2, 4, &stop, &r) == KERR_OK && r.walked == 0 && r.records == 0,
          "a stop set before: nothing walked");
    CHECK(vault_warm(v, UINT64_MAX / 2, 0, NULL, &r) == KERR_BAD_REQUEST, "0 threads refused");
    vault_close(v);
}

int main(void)
{
    if (secret_init(0) != 0) {
        CHECK(0, "libsodium");
        return TEST_END();
    }
    test_choice();
    int ok = kd_setup(&K) == 0;
    CHECK(ok, "kluisd init");
    if (ok) {
        snprintf(K.errlog, sizeof K.errlog, "%s/kluisd.err", K.tmp);
        test_serve();
        test_vault_warm();
    }
    kd_cleanup(&K);
    return TEST_END();
}
