/*
 * tests/api/test_deadline.c — kluisd's own header and body deadlines against slowloris and slow
 * bodies (issue 8, row 6; api/server.c "Deadlines").
 *
 * One kluisd runs with `--header-timeout 2 --body-timeout 3 --max-per-ip 8`. All at once:
 *   - dribblers: a header sent one byte every 300 ms, a connection that sends nothing, a body of a
 *     declared 1 MB sent one byte every 300 ms, and a chunked body likewise: each must be closed by
 *     the server within its deadline plus the sweep period, and not before;
 *   - the table full: eight header dribblers from 127.0.0.5 fill that address's eight places, and
 *     a normal request from it is refused; once the dribblers are cut it is served again;
 *   - honest clients beside them: a request whose header block arrives in three pieces over 1 s,
 *     and a kept-alive connection that sends three requests, 1 s and then 2.7 s apart (idle longer
 *     than the header deadline: between requests the idle timeout governs) — all answered.
 * Then, with the disk made slow (tests/torture/failsync.c preloaded, FAILSYNC_DELAY_MS: every
 * fdatasync on data.mdb takes 4 s while a flag file exists), a POST of an entry and an audited
 * read, both answered only after their group commit: they outlast both deadlines and are still
 * answered (no deadline runs while a deferred request waits); and the revocation race: a read
 * decided while a revocation's commit waits on the slow flush is refused at its own commit, and
 * the journal holds no allowed read after the revocation. Last, kluisd again with TLS: a raw
 * TCP client that dribbles a ClientHello, and one that sends nothing, are cut the same way, and an
 * honest TLS request (openssl s_client) is answered. kluisd reports how many connections it cut
 * in one line at stop, never one per connection.
 */
#include "tests/test.h"
#include "tests/api/client.h"
#include "tests/api/harness.h"
#include "tests/api/httpc.h"
#include "tests/api/load.h"
#include "tests/api/torture.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vault/encoding.h"
#include "vault/secret.h"

TEST_MAIN_DEFS

#define HDR_S 2
#define BODY_S 3
#define SWEEP_S 0.5

static struct kd K;
static char admin_tok[KC_TOKEN_MAX];
static struct kc_citizen *b1;
static double slack = 1; /* upper bounds stretch under valgrind */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double secs(int64_t from_us, int64_t to_us)
{
    return (double)(to_us - from_us) / 1e6;
}

/* ---- dribblers ------------------------------------------------------------------------------ */

struct drip {
    const char *name;
    const char *src;      /* source address */
    const char *open;     /* sent at once */
    int period_ms;        /* then one byte this often; 0: nothing more */
    int fd;
    int64_t t0;           /* start of the deadline: connect, or the headers sent */
    int64_t next;
    int64_t closed_at;    /* 0 while open */
    size_t answered;      /* bytes the server sent */
};

static int drip_start(struct drip *d)
{
    d->fd = load_connect(d->src, K.port, 0);
    d->t0 = load_now_us();
    d->closed_at = 0;
    d->answered = 0;
    if (d->fd < 0)
        return -1;
    if (d->open && send(d->fd, d->open, strlen(d->open), MSG_NOSIGNAL) != (ssize_t)strlen(d->open))
        return -1;
    d->t0 = load_now_us();
    d->next = d->t0 + d->period_ms * 1000;
    return 0;
}

/* Drip and watch until every dribbler is closed or UNTIL (µs) has passed. */
static void drip_watch(struct drip *d, size_t n, int64_t until)
{
    char sink[4096];
    for (;;) {
        int64_t now = load_now_us();
        size_t open = 0;
        for (size_t i = 0; i < n; i++) {
            if (d[i].fd < 0 || d[i].closed_at)
                continue;
            ssize_t r;
            while ((r = recv(d[i].fd, sink, sizeof sink, MSG_DONTWAIT)) > 0)
                d[i].answered += (size_t)r;
            int gone = r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
            if (!gone && d[i].period_ms && now >= d[i].next) {
                if (send(d[i].fd, "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN)
                    gone = 1;
                d[i].next = now + d[i].period_ms * 1000;
            }
            if (gone)
                d[i].closed_at = now;
            else
                open++;
        }
        if (!open || now >= until)
            return;
        sleep_ms(10);
    }
}

/* A GET /v1/health from SRC: 200, another status, 0 when closed without an answer, -1 when
 * nothing came within WAIT_MS. */
static int get_from(const char *src, int wait_ms)
{
    static const char req[] = "GET /v1/health HTTP/1.1\r\nHost: k\r\nConnection: close\r\n\r\n";
    int fd = load_connect(src, K.port, 0);
    if (fd < 0)
        return 0;
    char buf[512];
    size_t got = 0;
    int status = -1;
    if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof req - 1))
        status = 0;
    int64_t end = load_now_us() + (int64_t)wait_ms * 1000;
    while (status == -1) {
        int64_t left = (end - load_now_us()) / 1000;
        struct pollfd p = {fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            break;
        ssize_t r = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (r <= 0) {
            status = 0;
            break;
        }
        got += (size_t)r;
        buf[got] = '\0';
        int st;
        if (sscanf(buf, "HTTP/1.1 %d", &st) == 1)
            status = st;
    }
    close(fd);
    return status;
}

/* ---- honest clients beside the dribblers ------------------------------------------------------ */

struct honest {
    int slow_status;        /* the request sent in three pieces */
    int ka[3];              /* the three kept-alive requests */
};

static void *honest_main(void *arg)
{
    struct honest *h = arg;
    struct httpc_resp r;
    static const char piece[3][40] = {"GET /v1/health HTTP/1.1\r\n", "Host: k\r\nX-Slow: but honest\r\n",
                                      "Connection: close\r\n\r\n"};
    struct httpc *c = httpc_open("127.0.0.1", K.port);
    for (int i = 0; c && i < 3; i++) {
        if (i)
            sleep_ms(500);
        if (httpc_send(c, piece[i], strlen(piece[i])) != 0)
            break;
    }
    if (c && httpc_recv(c, 0, &r) == 0)
        h->slow_status = r.status;
    httpc_resp_free(&r);
    httpc_close(c);

    static const char req[] = "GET /v1/health HTTP/1.1\r\nHost: k\r\n\r\n";
    c = httpc_open("127.0.0.1", K.port);
    for (int i = 0; c && i < 3; i++) {
        if (i)
            sleep_ms(i == 1 ? 1000 : 2700); /* the second pause is longer than the header deadline */
        if (httpc_send(c, req, sizeof req - 1) != 0 || httpc_recv(c, 0, &r) != 0)
            break;
        h->ka[i] = r.status;
        httpc_resp_free(&r);
    }
    httpc_resp_free(&r);
    httpc_close(c);
    return NULL;
}

static void test_dribblers(void)
{
    static const char slow_hdr[] = "GET /v1/health HTTP/1.1\r\nHost: k\r\nX-Slow: ";
    static const char slow_body[] = "POST /v1/citizens/burger-1/sections/plan/entries HTTP/1.1\r\nHost: k\r\n"
                                    "Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{\"blob\":\"";
    static const char slow_chunk[] = "POST /v1/citizens/burger-1/sections/plan/entries HTTP/1.1\r\nHost: k\r\n"
                                     "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                                     "F4240\r\n{\"blob\":\"";
    struct drip d[12] = {
        {.name = "header one byte per 300 ms", .src = "127.0.0.1", .open = slow_hdr, .period_ms = 300},
        {.name = "connection that sends nothing", .src = "127.0.0.1"},
        {.name = "body of 1 MB one byte per 300 ms", .src = "127.0.0.1", .open = slow_body, .period_ms = 300},
        {.name = "chunked body one byte per 300 ms", .src = "127.0.0.1", .open = slow_chunk, .period_ms = 300},
    };
    for (size_t i = 4; i < 12; i++)
        d[i] = (struct drip){.name = "127.0.0.5 header dribbler", .src = "127.0.0.5", .open = slow_hdr, .period_ms = 300};
    struct honest h = {0};
    pthread_t th;
    int64_t start = load_now_us();
    int ok = 1;
    for (size_t i = 0; i < 12; i++)
        ok = ok && drip_start(&d[i]) == 0;
    CHECK(ok, "12 dribblers connected (4 from 127.0.0.1, 8 from 127.0.0.5)");
    pthread_create(&th, NULL, honest_main, &h);
    sleep_ms(300);
    drip_watch(d, 12, load_now_us()); /* one round of drips */
    int blocked = get_from("127.0.0.5", 800);
    CHECK(blocked != 200, "127.0.0.5's eight places are full: a normal request from it is not served (%d)", blocked);

    /* until 127.0.0.5's dribblers are gone, then at once a normal request from it */
    int64_t give_up = start + (int64_t)(12 * slack * 1e6);
    size_t cut5 = 0;
    while (cut5 < 8 && load_now_us() < give_up) {
        drip_watch(d, 12, load_now_us() + 50000);
        cut5 = 0;
        for (size_t i = 4; i < 12; i++)
            cut5 += d[i].closed_at != 0;
    }
    /* (libmicrohttpd frees the address's places when it has cleaned up: a moment after the FIN) */
    int again = 0;
    for (int64_t t_end = load_now_us() + (int64_t)(3 * slack * 1e6); again != 200 && load_now_us() < t_end;)
        if ((again = get_from("127.0.0.5", 1000)) != 200)
            sleep_ms(50);
    double when = secs(start, load_now_us());
    CHECK(again == 200, "127.0.0.5 is served again once its dribblers are cut (%d, %.2f s after they began)", again,
          when);
    drip_watch(d, 12, give_up);
    const double lo[4] = {HDR_S - 0.5, HDR_S - 0.5, BODY_S - 0.5, BODY_S - 0.5};
    const double hi = (BODY_S + SWEEP_S + 3.0) * slack;
    for (size_t i = 0; i < 4; i++) {
        double t = d[i].closed_at ? secs(d[i].t0, d[i].closed_at) : -1;
        CHECK(d[i].closed_at && t >= lo[i] && t <= (i < 2 ? (HDR_S + SWEEP_S + 3.0) * slack : hi) && !d[i].answered,
              "%s: closed by the server after %.2f s, unanswered (deadline %d s)", d[i].name, t, i < 2 ? HDR_S : BODY_S);
        printf("# %-34s closed after %.2f s\n", d[i].name, t);
    }
    double first = 1e9, last = 0;
    size_t cut = 0;
    for (size_t i = 4; i < 12; i++)
        if (d[i].closed_at && !d[i].answered) {
            double t = secs(d[i].t0, d[i].closed_at);
            cut++;
            first = t < first ? t : first;
            last = t > last ? t : last;
        }
    CHECK(cut == 8 && first >= HDR_S - 0.5 && last <= (HDR_S + SWEEP_S + 3.0) * slack,
          "all 8 dribblers of 127.0.0.5 cut by the server (%zu, after %.2f to %.2f s)", cut, cut ? first : 0, last);
    printf("# 127.0.0.5 dribblers: %zu cut, after %.2f to %.2f s\n", cut, cut ? first : 0, last);
    pthread_join(th, NULL);
    CHECK(h.slow_status == 200, "a header block sent in three pieces over 1 s is answered (%d)", h.slow_status);
    CHECK(h.ka[0] == 200 && h.ka[1] == 200 && h.ka[2] == 200,
          "a kept-alive connection's three requests, 1 s and 2.7 s apart, are all answered (%d %d %d)", h.ka[0],
          h.ka[1], h.ka[2]);
    for (size_t i = 0; i < 12; i++)
        if (d[i].fd >= 0)
            close(d[i].fd);
}

/* ---- deferred requests on a slow disk ---------------------------------------------------------- */

/* Create the flag file that makes the slow-disk shim hold each flush 4 s. */
static void touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT, 0600);
    if (fd >= 0)
        close(fd);
}

struct slow_call {
    int post;           /* POST an entry, else an audited read of the entries */
    const char *entry;  /* the POSTed entry's id; NULL: "e-slow" */
    int status;
    double took;
};

static void *slow_call_main(void *arg)
{
    struct slow_call *c = arg;
    struct kc_resp r;
    int64_t t0 = load_now_us();
    if (c->post) {
        json_t *e = load_entry_body(b1, "plan", c->entry ? c->entry : "e-slow", "burger-1", b1->keys->sign_sk, (int64_t)time(NULL));
        c->status = kc_call(K.port, "POST", "/v1/citizens/burger-1/sections/plan/entries", b1->token, e, &r);
        json_decref(e);
    } else {
        c->status = kc_call(K.port, "GET", "/v1/citizens/burger-1/sections/plan/entries?limit=5", b1->token, NULL, &r);
    }
    c->took = secs(t0, load_now_us());
    kc_resp_free(&r);
    return NULL;
}

static void test_deferred(const char *flag)
{
    struct slow_call w = {.post = 1}, rd = {.post = 0};
    touch(flag);
    /* one after the other: each waits for one slow commit, well within the client's 10 s */
    slow_call_main(&w);
    slow_call_main(&rd);
    unlink(flag);
    printf("# on the slow disk: POST entry %d after %.2f s, audited read %d after %.2f s\n", w.status, w.took,
           rd.status, rd.took);
    /* Both waited on their commit for longer than the body deadline (and the header deadline) plus a
     * sweep: had either deadline run while they waited, the connection would have been cut. */
    CHECK(w.status == 201 && w.took >= BODY_S + SWEEP_S,
          "a deferred write waiting %.2f s for its commit is answered 201, never cut (%d)", w.took, w.status);
    CHECK(rd.status == 200 && rd.took >= BODY_S + SWEEP_S,
          "a deferred audited read waiting %.2f s for its commit is answered 200, never cut (%d)", rd.took, rd.status);
}

/* ---- the revocation race ------------------------------------------------------------------------ */

#define RACE_PATH "/v1/citizens/burger-1/sections/plan/entries"

/* A new professional PRO (keys *PK, token PTOK) with burger-1's read grant GRANT on plan, valid
 * from a minute before NOW to ENDS, who has read plan once. @return 1, or 0 when a step failed. */
static int race_reader(const char *pro, const char *grant, int64_t now, int64_t ends, struct kluis_keys **pk,
                       char ptok[KC_TOKEN_MAX])
{
    struct kc_resp r;
    int ok = kc_principal_new(K.port, admin_tok, pro, "professional", pk, ptok) == 0;
    json_t *g = ok ? tt_grant(b1, grant, pro, (*pk)->box_pk, "plan", "read", "ondersteuning", now - 60, ends, now)
                   : NULL;
    ok = ok && g && kc_call(K.port, "POST", "/v1/citizens/burger-1/grants", b1->token, g, &r) == 201;
    json_decref(g);
    kc_resp_free(&r);
    ok = ok && kc_call(K.port, "GET", RACE_PATH, ptok, NULL, &r) == 200;
    kc_resp_free(&r);
    return ok;
}

struct revoke_call {
    json_t *body;
    int status;
};

static void *revoke_main(void *arg)
{
    struct revoke_call *rc = arg;
    struct kc_resp r;
    rc->status = kc_call(K.port, "POST", "/v1/citizens/burger-1/grants/g-race/revoke", b1->token, rc->body, &r);
    kc_resp_free(&r);
    return NULL;
}

/* Whether burger-1's journal holds, after the revocation of g-race, an allowed read by wijk-race. */
static int read_after_revoke(void)
{
    struct kc_resp r;
    int seen_revoke = 0, bad = 0;
    if (kc_call(K.port, "GET", "/v1/citizens/burger-1/journal?limit=1000", b1->token, NULL, &r) != 200) {
        kc_resp_free(&r);
        return -1;
    }
    size_t i;
    json_t *ev;
    json_array_foreach(json_object_get(r.json, "events"), i, ev) {
        unsigned char raw[4096];
        size_t n = 0;
        const char *b = json_string_value(json_object_get(ev, "raw"));
        json_t *e = b && b64_decode(raw, sizeof raw - 1, &n, b, strlen(b)) == 0 ? json_loadb((char *)raw, n, 0, NULL)
                                                                               : NULL;
        const char *action = json_string_value(json_object_get(e, "action"));
        const char *actor = json_string_value(json_object_get(e, "actor"));
        const char *result = json_string_value(json_object_get(e, "result"));
        if (action && !strcmp(action, "revoke"))
            seen_revoke = 1;
        else if (seen_revoke && action && actor && result && !strcmp(action, "read") && !strcmp(actor, "wijk-race") &&
                 !strcmp(result, "allowed"))
            bad = 1;
        json_decref(e);
    }
    kc_resp_free(&r);
    return seen_revoke ? bad : -1;
}

/*
 * A read decided on a snapshot from before a revocation, whose journal event commits after it, is
 * not answered: the commit-time re-check (api/events.c) must see the revocation even though the
 * read's own snapshot did not. The revocation's commit is held 4 s on the slow disk; the read is
 * decided meanwhile, and its event waits for the writer behind that commit.
 */
static void test_revoke_race(const char *flag)
{
    struct kluis_keys *pk = NULL;
    char ptok[KC_TOKEN_MAX];
    struct kc_resp r;
    int64_t now = (int64_t)time(NULL);
    const char *path = RACE_PATH;
    int ok = race_reader("wijk-race", "g-race", now, now + 86400, &pk, ptok);
    CHECK(ok, "race: a professional with a read grant on plan reads it (200)");
    if (!ok) {
        kluis_keys_free(pk);
        return;
    }
    touch(flag);
    struct revoke_call rc = {.body = tt_revoke(b1, "rv-race", "g-race", now)};
    pthread_t th;
    pthread_create(&th, NULL, revoke_main, &rc);
    usleep(800 * 1000); /* the revocation is written, its commit waits on the slow flush */
    unlink(flag);       /* later flushes are fast again */
    int64_t t0 = load_now_us();
    int st = kc_call(K.port, "GET", path, ptok, NULL, &r);
    double took = (double)(load_now_us() - t0) / 1e6;
    const char *code = json_string_value(json_object_get(r.json, "error"));
    char why[64];
    snprintf(why, sizeof why, "%s", code ? code : "");
    kc_resp_free(&r);
    pthread_join(th, NULL);
    json_decref(rc.body);
    printf("# revocation race: revoke %d; the read decided during its commit %d %s after %.2f s\n", rc.status, st, why,
           took);
    CHECK(rc.status == 200, "race: the revocation is answered 200");
    CHECK(st != 200 && (st == 503 || st == 403),
          "race: the read decided before the revocation's commit is refused at its own commit (%d %s after %.2f s)", st,
          why, took);
    CHECK(kc_call(K.port, "GET", path, ptok, NULL, &r) == 403, "race: the next read is 403");
    kc_resp_free(&r);
    CHECK(read_after_revoke() == 0, "race: burger-1's journal holds no allowed read by wijk-race after the revocation");
    kluis_keys_free(pk);
}

/*
 * A read decided while its grant was valid, whose journal event commits after the grant ran out,
 * is not answered either (503, the retry gets the 403): no grant was written in between, so the commit-time re-check does not
 * read the grant again (api/events.c), but it still takes the commit's clock. The citizen's own
 * entry holds the writer 4 s on the slow disk; the read is decided meanwhile, 1-2 s before the
 * grant's end, and committed after it.
 */
static void test_expiry_race(const char *flag)
{
    struct kluis_keys *pk = NULL;
    char ptok[KC_TOKEN_MAX];
    struct kc_resp r;
    const char *path = RACE_PATH;
    int64_t now = (int64_t)time(NULL), ends = now + 3;
    int ok = race_reader("wijk-exp", "g-exp", now, ends, &pk, ptok);
    CHECK(ok, "expiry race: a professional whose read grant ends in 3 s reads plan (200)");
    if (!ok) {
        kluis_keys_free(pk);
        return;
    }
    touch(flag);
    struct slow_call w = {.post = 1, .entry = "e-expiry"};
    pthread_t th;
    pthread_create(&th, NULL, slow_call_main, &w);
    usleep(800 * 1000); /* the entry is written, its commit waits on the slow flush */
    unlink(flag);
    int64_t decided = (int64_t)time(NULL);
    int st = kc_call(K.port, "GET", path, ptok, NULL, &r);
    int64_t answered = (int64_t)time(NULL);
    const char *code = json_string_value(json_object_get(r.json, "error"));
    char why[64];
    snprintf(why, sizeof why, "%s", code ? code : "");
    kc_resp_free(&r);
    pthread_join(th, NULL);
    printf("# expiry race: entry %d; the read sent %lld s before the grant's end: %d %s, %lld s after it\n",
           w.status, (long long)(ends - decided), st, why, (long long)(answered - ends));
    CHECK(w.status == 201, "expiry race: the entry that held the writer is stored (201)");
    CHECK(decided < ends && answered >= ends,
          "expiry race: the read was sent before the grant's end and answered after it (the premise)");
    CHECK(st == 503 && strcmp(why, "journal_unavailable") == 0,
          "expiry race: the read is refused at its commit, after its grant ended, as docs/protocol.md says: 503 "
          "journal_unavailable (%d %s)",
          st, why);
    CHECK(kc_call(K.port, "GET", path, ptok, NULL, &r) == 403 &&
              strcmp(json_string_value(json_object_get(r.json, "error")) ?: "", "grant_expired") == 0,
          "expiry race: the retry is 403 grant_expired");
    kc_resp_free(&r);
    kluis_keys_free(pk);
}

/* ---- TLS ---------------------------------------------------------------------------------------- */

/* @return 1 when kluisd ran with TLS (whatever the checks said), 0 when skipped. */
static int test_tls(void)
{
    char cert[400], key[400], cmd[1400];
    snprintf(cert, sizeof cert, "%s/c.pem", K.tmp);
    snprintf(key, sizeof key, "%s/k.pem", K.tmp);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout '%s' -out '%s' -days 1 "
             "-subj /CN=localhost >/dev/null 2>&1",
             key, cert);
    if (system(cmd) != 0) {
        printf("ok - # SKIP openssl unavailable: no TLS deadline test\n");
        return 0;
    }
    const char *extra[] = {"--tls-cert", cert, "--tls-key", key, "--header-timeout", "2", NULL};
    memset(K.serve_extra, 0, sizeof K.serve_extra);
    memcpy(K.serve_extra, extra, sizeof extra);
    if (kd_start(&K) != 0) {
        CHECK(0, "kluisd serves TLS");
        return 0;
    }
    /* a ClientHello's first bytes, then one byte every 300 ms */
    struct drip d[2] = {
        {.name = "TLS handshake one byte per 300 ms", .src = "127.0.0.1", .open = "\x16\x03\x01\x02", .period_ms = 300},
        {.name = "TLS connection that sends nothing", .src = "127.0.0.1"},
    };
    int ok = drip_start(&d[0]) == 0 && drip_start(&d[1]) == 0;
    drip_watch(d, 2, load_now_us() + (int64_t)(10 * slack * 1e6));
    for (size_t i = 0; i < 2; i++) {
        double t = d[i].closed_at ? secs(d[i].t0, d[i].closed_at) : -1;
        CHECK(ok && d[i].closed_at && t >= HDR_S - 0.5 && t <= (HDR_S + SWEEP_S + 3.0) * slack,
              "%s: closed by the server after %.2f s (deadline %d s)", d[i].name, t, HDR_S);
        printf("# %-34s closed after %.2f s\n", d[i].name, t);
        if (d[i].fd >= 0)
            close(d[i].fd);
    }
    snprintf(cmd, sizeof cmd,
             "printf 'GET /v1/health HTTP/1.1\\r\\nHost: k\\r\\nConnection: close\\r\\n\\r\\n' | "
             "timeout 20 openssl s_client -quiet -connect 127.0.0.1:%u 2>/dev/null",
             K.port);
    FILE *p = popen(cmd, "r");
    char line[256];
    int answered = 0;
    while (p && fgets(line, sizeof line, p))
        answered |= strncmp(line, "HTTP/1.1 200", 12) == 0;
    if (p)
        pclose(p);
    CHECK(answered, "an honest TLS request beside them is answered 200");
    CHECK(kd_stop(&K) == 0, "kluisd with TLS stops cleanly");
    return 1;
}

/* The connections kluisd said it cut, summed over its stop lines; LINES: how many such lines. */
static unsigned long long cuts_logged(int *lines)
{
    FILE *f = fopen(K.errlog, "r");
    char line[512];
    unsigned long long sum = 0;
    *lines = 0;
    while (f && fgets(line, sizeof line, f)) {
        unsigned long long n;
        if (strstr(line, "deadline")) {
            (*lines)++;
            if (sscanf(line, "kluisd: %llu connection(s) closed at their header or body deadline", &n) == 1)
                sum += n;
        }
    }
    if (f)
        fclose(f);
    return sum;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (getenv("KLUIS_VALGRIND"))
        slack = 4;
    char shimdir[] = "/tmp/kluis-shim-XXXXXX", shim[128] = "", flag[400], cmd[600];
    if (secret_init(0) != 0 || kd_setup(&K) != 0) {
        CHECK(0, "harness: kluisd init");
        kd_cleanup(&K);
        return TEST_END();
    }
    snprintf(K.errlog, sizeof K.errlog, "%s/kluisd.err", K.tmp);
    snprintf(flag, sizeof flag, "%s/slow", K.tmp);
    /* the slow-disk shim (a test without it is skipped, the rest still runs) */
    if (mkdtemp(shimdir) && access("tests/torture/failsync.c", R_OK) == 0) {
        snprintf(shim, sizeof shim, "%s/failsync.so", shimdir);
        snprintf(cmd, sizeof cmd, "cc -shared -fPIC -O2 -o '%s' tests/torture/failsync.c -ldl 2>&1", shim);
        if (system(cmd) != 0)
            shim[0] = '\0';
    }
    const char *extra[] = {"--header-timeout", "2", "--body-timeout", "3", "--max-per-ip", "8", NULL};
    memcpy(K.serve_extra, extra, sizeof extra);
    const char *asan = getenv("ASAN_OPTIONS");
    char asan_opts[512];
    if (shim[0]) {
        snprintf(asan_opts, sizeof asan_opts, "%s%sverify_asan_link_order=0", asan ? asan : "", asan && *asan ? ":" : "");
        setenv("ASAN_OPTIONS", asan_opts, 1);
        setenv("LD_PRELOAD", shim, 1);
        setenv("FAILSYNC_FLAG", flag, 1);
        setenv("FAILSYNC_CALLS", "fsync,fdatasync", 1);
        setenv("FAILSYNC_DELAY_MS", "4000", 1);
    }
    int ok = kd_start(&K) == 0;
    unsetenv("LD_PRELOAD");
    if (asan)
        setenv("ASAN_OPTIONS", asan, 1);
    else
        unsetenv("ASAN_OPTIONS");
    ok = ok && (b1 = load_first_citizen(K.port, K.admin, admin_tok)) != NULL;
    CHECK(ok, "setup: kluisd --header-timeout 2 --body-timeout 3 --max-per-ip 8, a citizen with one entry");
    if (ok) {
        test_dribblers();
        if (shim[0]) {
            test_deferred(flag);
            test_revoke_race(flag);
            test_expiry_race(flag);
        } else
            printf("ok - # SKIP cannot build the slow-disk shim: no deferred-request test\n");
        CHECK(kd_stop(&K) == 0, "kluisd stops cleanly");
        int lines;
        unsigned long long n = cuts_logged(&lines);
        CHECK(n >= 12 && lines == 1, "kluisd reports the connections it cut in one line at stop: %llu (%d line)", n,
              lines);
        if (test_tls()) {
            unsigned long long n2 = cuts_logged(&lines);
            CHECK(lines == 2 && n2 - n >= 2, "the TLS kluisd reports its cuts in one line too: %llu", n2 - n);
        }
    }
    if (shim[0])
        unlink(shim);
    rmdir(shimdir);
    kc_citizen_free(b1);
    kd_cleanup(&K);
    return TEST_END();
}
