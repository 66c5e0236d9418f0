/*
 * tests/api/test_flood.c — slowloris, slow bodies and floods against a real kluisd while a normal
 * client keeps working (issue 8, row 6).
 *
 * kluisd runs with `--header-timeout 3 --body-timeout 4`, so within the attack the slowloris and
 * slow-body sockets are cut by the server (and reopened by the attacker at once).
 *
 * The attack, all at once, from addresses other than the normal client's (Linux routes the whole
 * of 127.0.0.0/8 to lo, so each attacker binds its own 127.0.0.N):
 *   - slowloris: 250 sockets that send a request's headers one byte a second, never ending them;
 *   - slow bodies: 250 sockets that announce a 1 MB entry and send it one byte a second;
 *   - a connection flood from one address: 600 connections opened and held, reopened when closed;
 *   - huge Content-Length (10^12) announced over and over;
 *   - endless chunked bodies streamed as fast as the socket takes them;
 *   - oversized headers (64 KB) and URLs (64 KB), over and over.
 * Meanwhile the normal client (127.0.0.1) logs in once and alternates authenticated reads and
 * writes of entries. In `make check` the test asserts only correctness: every one of the normal
 * client's answers is right during the attack, kluisd's resident memory stays under a bound and its
 * descriptors under the connection limit, and everything is served after. Latencies are measured
 * and printed (baseline and under attack) but not asserted; tests/torture/flood.sh runs the same
 * program longer (KLUIS_FLOOD_SECONDS) and reports them.
 */
#include "tests/test.h"
#include "tests/api/client.h"
#include "tests/api/harness.h"
#include "tests/api/load.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vault/secret.h"

TEST_MAIN_DEFS

static struct kd K;
static char admin_tok[KC_TOKEN_MAX];
static struct kc_citizen *b1;

enum kind { SLOW_HDR, SLOW_BODY, FLOOD, BIG_CL, CHUNKED, BIG_HDR, BIG_URL, NKIND };
static const char *const kind_name[NKIND] = {"slow headers", "slow bodies", "flood (one address)",
                                              "huge Content-Length", "endless chunked", "64 KB header",
                                              "64 KB URL"};

struct att {
    int fd;
    enum kind kind;
    const char *src;
    size_t off;          /* bytes of the opening sent */
    int64_t next_drip;
};

static struct att *atts;
static size_t natts;
static volatile int attack_on, client_on;
static size_t opened[NKIND], closed_by_server[NKIND];
static char *big_hdr, *big_url;
static size_t big_hdr_len, big_url_len;

static const char slow_hdr_open[] = "GET /v1/health HTTP/1.1\r\nHost: k\r\nX-Slow: ";
static const char slow_body_open[] = "POST /v1/citizens/burger-1/sections/plan/entries HTTP/1.1\r\nHost: k\r\n"
                                     "Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{\"blob\":\"";
static const char big_cl_open[] = "POST /v1/auth/challenge HTTP/1.1\r\nHost: k\r\nContent-Type: application/json\r\n"
                                  "Content-Length: 1000000000000\r\n\r\n";
static const char chunked_open[] = "POST /v1/auth/challenge HTTP/1.1\r\nHost: k\r\nContent-Type: application/json\r\n"
                                   "Transfer-Encoding: chunked\r\n\r\n";
static char chunk[8192 + 16];
static size_t chunk_len;

static void opening(const struct att *a, const char **p, size_t *n)
{
    switch (a->kind) {
    case SLOW_HDR: *p = slow_hdr_open; *n = sizeof slow_hdr_open - 1; break;
    case SLOW_BODY: *p = slow_body_open; *n = sizeof slow_body_open - 1; break;
    case BIG_CL: *p = big_cl_open; *n = sizeof big_cl_open - 1; break;
    case CHUNKED: *p = chunked_open; *n = sizeof chunked_open - 1; break;
    case BIG_HDR: *p = big_hdr; *n = big_hdr_len; break;
    case BIG_URL: *p = big_url; *n = big_url_len; break;
    default: *p = ""; *n = 0;
    }
}

static void reopen(struct att *a)
{
    a->fd = load_connect(a->src, K.port, 1);
    a->off = 0;
    a->next_drip = load_now_us() + 1000000;
    if (a->fd >= 0)
        opened[a->kind]++;
}

static void add(enum kind k, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct att *a = &atts[natts++];
        a->kind = k;
        a->src = src;
        reopen(a);
    }
}

/* One step of every attacker: send what is due, drain what came back, reopen what was closed. */
static void attack_step(void)
{
    char sink[4096];
    int64_t now = load_now_us();
    for (size_t i = 0; i < natts; i++) {
        struct att *a = &atts[i];
        if (a->fd < 0) {
            reopen(a);
            continue;
        }
        ssize_t r;
        int gone = 0;
        while ((r = recv(a->fd, sink, sizeof sink, MSG_DONTWAIT)) > 0) {
        }
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTCONN))
            gone = 1;
        const char *p;
        size_t n;
        opening(a, &p, &n);
        while (!gone && a->off < n) {
            ssize_t w = send(a->fd, p + a->off, n - a->off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w <= 0) {
                gone = w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTCONN;
                break;
            }
            a->off += (size_t)w;
        }
        if (!gone && a->off >= n) {
            if ((a->kind == SLOW_HDR || a->kind == SLOW_BODY) && now >= a->next_drip) {
                if (send(a->fd, "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN)
                    gone = 1;
                a->next_drip = now + 1000000;
            } else if (a->kind == CHUNKED) {
                for (int k = 0; k < 8; k++)
                    if (send(a->fd, chunk, chunk_len, MSG_NOSIGNAL | MSG_DONTWAIT) <= 0) {
                        gone = errno != EAGAIN && errno != EWOULDBLOCK;
                        break;
                    }
            }
        }
        if (gone) {
            close(a->fd);
            a->fd = -1;
            closed_by_server[a->kind]++;
        }
    }
}

static void *attacker(void *arg)
{
    (void)arg;
    while (attack_on) {
        attack_step();
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    for (size_t i = 0; i < natts; i++)
        if (atts[i].fd >= 0)
            close(atts[i].fd);
    return NULL;
}

/* ---- the normal client -------------------------------------------------------------------- */

struct client {
    int64_t *lat;
    size_t n, cap;
    size_t wrong, writes;
    int64_t seq_written;
    char why[160];
};

static int one_call(struct client *c, size_t i)
{
    struct kc_resp r;
    int ok;
    int64_t t0 = load_now_us();
    if (i % 4 == 3) {
        char id[64];
        snprintf(id, sizeof id, "fl-%zu-%u", i, (unsigned)randombytes_uniform(1000000));
        json_t *e = load_entry_body(b1, "plan", id, "burger-1", b1->keys->sign_sk, (int64_t)time(NULL));
        ok = kc_call(K.port, "POST", "/v1/citizens/burger-1/sections/plan/entries", b1->token, e, &r) == 201 &&
             json_integer_value(json_object_get(r.json, "seq")) > 0;
        json_decref(e);
        if (ok)
            c->writes++;
    } else if (i % 4 == 1) {
        ok = kc_call(K.port, "GET", "/v1/health", NULL, NULL, &r) == 200;
    } else {
        ok = kc_call(K.port, "GET", "/v1/citizens/burger-1/sections/plan/entries?limit=5", b1->token, NULL, &r) ==
                 200 &&
             json_array_size(json_object_get(r.json, "entries")) >= 1;
    }
    int64_t dt = load_now_us() - t0;
    if (!ok)
        snprintf(c->why, sizeof c->why, "call %zu: status %d %s", i, r.status, r.error);
    kc_resp_free(&r);
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 1024;
        c->lat = realloc(c->lat, c->cap * sizeof *c->lat);
    }
    c->lat[c->n++] = dt;
    return ok;
}

static void *client_main(void *arg)
{
    struct client *c = arg;
    for (size_t i = 0; client_on; i++)
        if (!one_call(c, i))
            c->wrong++;
    return NULL;
}

static void report(const char *what, struct client *c)
{
    int64_t p50 = load_percentile(c->lat, c->n, 50), p99 = load_percentile(c->lat, c->n, 99),
            mx = load_percentile(c->lat, c->n, 100);
    printf("# %s: %zu calls, p50 %.2f ms, p99 %.2f ms, max %.2f ms, wrong %zu\n", what, c->n, p50 / 1000.0,
           p99 / 1000.0, mx / 1000.0, c->wrong);
}

static int health_ok(void)
{
    struct kc_resp r;
    int ok = kc_call(K.port, "GET", "/v1/health", NULL, NULL, &r) == 200;
    kc_resp_free(&r);
    return ok;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const char *env = getenv("KLUIS_FLOOD_SECONDS");
    int seconds = env ? atoi(env) : 8;
    if (seconds < 2)
        seconds = 2;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096 && rl.rlim_max >= 4096) {
        rl.rlim_cur = 4096;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    /* Deadlines short enough to act within the attack: a header block within 3 s, a body within 4 s. */
    static const char *const deadlines[] = {"--header-timeout", "3", "--body-timeout", "4", NULL};
    int up = secret_init(0) == 0 && kd_setup(&K) == 0;
    if (up)
        memcpy(K.serve_extra, deadlines, sizeof deadlines);
    if (!up || kd_start(&K) != 0) {
        CHECK(0, "harness: kluisd init and serve");
        kd_cleanup(&K);
        return TEST_END();
    }
    int ok = (b1 = load_first_citizen(K.port, K.admin, admin_tok)) != NULL;
    CHECK(ok, "setup: an enrolled citizen with one entry");
    if (!ok) {
        kd_cleanup(&K);
        return TEST_END();
    }

    /* Baseline: the normal client alone. */
    struct client base = {0};
    for (size_t i = 0; i < 400; i++)
        if (!one_call(&base, i))
            base.wrong++;
    report("baseline", &base);
    long rss_base = proc_rss_kb(K.pid), fd_base = proc_fd_count(K.pid);

    /* The attack. */
    big_hdr = malloc(70000);
    big_hdr_len = (size_t)sprintf(big_hdr, "GET /v1/health HTTP/1.1\r\nHost: k\r\nX-Big: ");
    memset(big_hdr + big_hdr_len, 'h', 65536);
    big_hdr_len += 65536;
    memcpy(big_hdr + big_hdr_len, "\r\n\r\n", 4);
    big_hdr_len += 4;
    big_url = malloc(70000);
    big_url_len = (size_t)sprintf(big_url, "GET /v1/");
    memset(big_url + big_url_len, 'u', 65536);
    big_url_len += 65536;
    big_url_len += (size_t)sprintf(big_url + big_url_len, " HTTP/1.1\r\nHost: k\r\n\r\n");
    chunk_len = (size_t)sprintf(chunk, "%x\r\n", 8192);
    memset(chunk + chunk_len, 'c', 8192);
    chunk_len += 8192;
    memcpy(chunk + chunk_len, "\r\n", 2);
    chunk_len += 2;
    atts = calloc(2000, sizeof *atts);
    add(SLOW_HDR, "127.0.0.2", 125);
    add(SLOW_HDR, "127.0.0.3", 125);
    add(SLOW_BODY, "127.0.0.4", 125);
    add(SLOW_BODY, "127.0.0.5", 125);
    add(FLOOD, "127.0.0.6", 600);
    add(BIG_CL, "127.0.0.7", 10);
    add(CHUNKED, "127.0.0.8", 16);
    add(BIG_HDR, "127.0.0.9", 8);
    add(BIG_URL, "127.0.0.10", 8);
    attack_on = 1;
    pthread_t ta, tc;
    pthread_create(&ta, NULL, attacker, NULL);
    sleep(1); /* let the sockets pile up */
    struct client under = {0};
    client_on = 1;
    pthread_create(&tc, NULL, client_main, &under);
    long rss_max = 0, fd_max = 0;
    for (int t = 0; t < seconds * 10; t++) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        long rss = proc_rss_kb(K.pid), fds = proc_fd_count(K.pid);
        if (rss > rss_max)
            rss_max = rss;
        if (fds > fd_max)
            fd_max = fds;
    }
    client_on = 0;
    pthread_join(tc, NULL);
    attack_on = 0;
    pthread_join(ta, NULL);
    report("under attack", &under);
    for (int k = 0; k < NKIND; k++)
        printf("# attacker %-22s %6zu connections opened, %6zu ended by the server\n", kind_name[k], opened[k],
               closed_by_server[k]);
    printf("# kluisd RSS: %ld kB before, %ld kB peak during the attack; descriptors: %ld before, %ld peak\n",
           rss_base, rss_max, fd_base, fd_max);

    CHECK(base.wrong == 0, "baseline: every answer right (%zu calls)", base.n);
    CHECK(under.n >= 10 && under.wrong == 0, "under attack: the normal client is served, every answer right (%zu "
          "calls, %zu wrong%s%s)", under.n, under.wrong, under.wrong ? ": " : "", under.why);
    CHECK(under.writes > 0, "under attack: the normal client's writes are acknowledged (%zu)", under.writes);
    /* Bound: 1024 connections × 32 KiB of connection memory, plus the 64 MiB body budget, plus
     * slack for allocator arenas; far below what 500 slow bodies of 1 MB would pin unbounded. */
    CHECK(getenv("KLUIS_VALGRIND") || (rss_max > 0 && rss_max < rss_base + 160 * 1024 + LOAD_RSS_SLACK_KB), "kluisd's memory stays bounded during the attack "
          "(%ld kB peak, %ld kB before)", rss_max, rss_base);
    CHECK(fd_max > 0 && fd_max < 1024 + 64, "kluisd's descriptors stay under the connection limit (%ld peak)", fd_max);
    /* An endless chunked body is cut when it crosses the 2 MiB body limit: a kluisd under valgrind
     * (tests/valgrind.sh, 3 s) reads too slowly for 16 of them to get there, so there it is not asked. */
    CHECK(closed_by_server[FLOOD] > 0 && closed_by_server[BIG_CL] > 0 && closed_by_server[BIG_HDR] > 0 &&
              closed_by_server[BIG_URL] > 0 && (closed_by_server[CHUNKED] > 0 || getenv("KLUIS_VALGRIND")),
          "the flood beyond the per-address limit, huge lengths, endless chunked bodies, huge headers and URLs "
          "are all cut off by the server");
    /* Slowloris and slow bodies are ended by kluisd's header (3 s) and body (4 s) deadlines within the
     * attack; a kluisd under valgrind (3 s) is not asked. */
    CHECK((closed_by_server[SLOW_HDR] > 0 && closed_by_server[SLOW_BODY] > 0) || getenv("KLUIS_VALGRIND"),
          "slow headers and slow bodies are ended by the server at their deadlines (%zu and %zu connections)",
          closed_by_server[SLOW_HDR], closed_by_server[SLOW_BODY]);
    sleep(1);
    CHECK(health_ok() && kill(K.pid, 0) == 0, "after the attack: the same kluisd is healthy");
    struct client after = {0};
    for (size_t i = 0; i < 40; i++)
        if (!one_call(&after, i))
            after.wrong++;
    CHECK(after.wrong == 0, "after the attack: reads and writes right (%zu calls)", after.n);
    CHECK(kd_stop(&K) == 0, "kluisd stops cleanly after the attack");
    free(base.lat);
    free(under.lat);
    free(after.lat);
    free(atts);
    free(big_hdr);
    free(big_url);
    kc_citizen_free(b1);
    kd_cleanup(&K);
    return TEST_END();
}
