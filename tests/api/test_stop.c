/*
 * tests/api/test_stop.c — SIGTERM under load: kluisd stops cleanly and loses no answered write.
 *
 * A real kluisd with three worker threads; clients on kept-alive connections read a section (each
 * read is journaled, so its request waits, suspended, for the group commit) and post entries, as
 * fast as they are answered. Then SIGTERM, while they keep sending. libmicrohttpd aborts the
 * process when it is stopped while a connection is still suspended, which is what happened here
 * before the stop drained (issue 7, found while benchmarking: "Fatal error in GNU libmicrohttpd
 * ... MHD_stop_daemon() called while we have suspended connections").
 *
 * Checked: the exit status is 0 and kluisd's log has no fatal error; every connection ends with an
 * answer that says `Connection: close` (the drain), after which the server closes it; every answer
 * is 200/201 or 503 `unavailable`; after a restart, every entry answered 201 is in the section.
 * Then, on an in-process server with a 100 ms grace period: a request arriving after it is 503
 * `unavailable` (Retry-After: 1), and the stop waits for a deferred request, which still gets its
 * answer.
 */
#include "tests/test.h"
#include "tests/api/client.h"
#include "tests/api/harness.h"
#include "tests/api/httpc.h"
#include "tests/api/load.h"
#include "api/api.h"

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "vault/crypto.h"
#include "vault/secret.h"

TEST_MAIN_DEFS

#define NREADERS 4
#define NWRITERS 2
#define ACKED_MAX 50000

static struct kd K;
static char admin_tok[KC_TOKEN_MAX];
static struct kc_citizen *cz;
static volatile int stopping; /* set just before SIGTERM */

/* What the client threads saw, under mu. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned long answered, unavailable, wrong, ended_on_close, cut_early, cut_at_stop;
static char wrong_why[200];
static struct ack { uint64_t seq; char *statement; } *acked; /* entries answered 201 */
static size_t nacked;

static void note_wrong(const char *what, int status)
{
    pthread_mutex_lock(&mu);
    if (!wrong++)
        snprintf(wrong_why, sizeof wrong_why, "%s answered %d", what, status);
    pthread_mutex_unlock(&mu);
}

/* One client: requests on one kept-alive connection until the server ends it. WRITER posts
 * entries, else it reads the section. Bounded by 30 s so that a server that never closes fails the
 * checks instead of hanging the test. */
static void *client(void *arg)
{
    int writer = arg != NULL;
    struct httpc *c = httpc_open("127.0.0.1", K.port);
    if (!c) {
        note_wrong("connect", 0);
        return NULL;
    }
    int64_t end = load_now_us() + 30 * 1000000LL;
    for (unsigned long i = 0; load_now_us() < end; i++) {
        char id[64] = "", *req = NULL, *body = NULL, *statement = NULL;
        int n;
        if (writer) {
            snprintf(id, sizeof id, "st-%p-%lu", (void *)c, i);
            json_t *e = load_entry_body(cz, "plan", id, cz->id, cz->keys->sign_sk, (int64_t)time(NULL));
            body = e ? json_dumps(e, JSON_COMPACT) : NULL;
            statement = e ? strdup(json_string_value(json_object_get(e, "statement"))) : NULL;
            json_decref(e);
            n = body ? asprintf(&req,
                                "POST /v1/citizens/%s/sections/plan/entries HTTP/1.1\r\nHost: t\r\n"
                                "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                                "Content-Length: %zu\r\n\r\n%s",
                                cz->id, cz->token, strlen(body), body)
                     : -1;
        } else {
            n = asprintf(&req,
                         "GET /v1/citizens/%s/sections/plan/entries HTTP/1.1\r\nHost: t\r\n"
                         "Authorization: Bearer %s\r\n\r\n",
                         cz->id, cz->token);
        }
        free(body);
        struct httpc_resp r = {0};
        int sent = n > 0 && httpc_send(c, req, (size_t)n) == 0;
        free(req);
        if (!sent || httpc_recv(c, 0, &r) != 0) {
            /* Cut without an answer: wrong before the stop, and after it only the race of a
             * request sent while its connection was being closed for the drain. */
            pthread_mutex_lock(&mu);
            if (stopping)
                cut_at_stop++;
            else
                cut_early++;
            pthread_mutex_unlock(&mu);
            httpc_resp_free(&r);
            free(statement);
            break;
        }
        const char *conn = httpc_header(&r, "Connection");
        int closing = conn && strcasecmp(conn, "close") == 0;
        if (r.status == (writer ? 201 : 200)) {
            pthread_mutex_lock(&mu);
            answered++;
            json_t *j = writer ? json_loads(r.body, 0, NULL) : NULL;
            json_int_t seq = json_integer_value(json_object_get(j, "seq"));
            json_decref(j);
            if (writer && (seq <= 0 || nacked == ACKED_MAX))
                wrong++;
            else if (writer)
                acked[nacked++] = (struct ack){(uint64_t)seq, statement};
            statement = writer && seq > 0 ? NULL : statement;
            pthread_mutex_unlock(&mu);
        } else if (r.status == 503 && strstr(r.body, "\"unavailable\"")) {
            pthread_mutex_lock(&mu);
            unavailable++;
            pthread_mutex_unlock(&mu);
        } else {
            note_wrong(writer ? "a write" : "a read", r.status);
        }
        httpc_resp_free(&r);
        free(statement);
        if (closing) {
            int closed = httpc_peer_closed(c, 5000);
            pthread_mutex_lock(&mu);
            if (closed && stopping)
                ended_on_close++;
            pthread_mutex_unlock(&mu);
            if (!closed || !stopping)
                note_wrong("Connection: close", closed ? -2 : -1);
            break;
        }
    }
    httpc_close(c);
    return NULL;
}

/* Whether A is in the section, at its seq with its statement, as read after the restart. */
static int has_entry(const json_t *entries, const struct ack *a)
{
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e)
    {
        const char *st = json_string_value(json_object_get(e, "statement"));
        if ((uint64_t)json_integer_value(json_object_get(e, "seq")) == a->seq)
            return st && strcmp(st, a->statement) == 0;
    }
    return 0;
}

/* ---- after the grace period: 503 unavailable, and the stop waits for what is deferred ----
 * An in-process server (api_server_start) with two routes: /ping answers at once, /hold defers
 * until the test releases it, as a request waiting for a slow commit. */
static struct request *volatile held;

static void handle_ping(struct request *r)
{
    api_reply_json(r, API_OK, json_pack("{s:b}", "pong", 1));
}

static void handle_hold(struct request *r)
{
    api_defer(r);
    held = r;
}

static volatile int stop_returned; /* api_server_stop() returned */

static void *stopper(void *srv)
{
    api_server_stop(srv);
    stop_returned = 1;
    return NULL;
}

static int ask(struct httpc *c, const char *path, struct httpc_resp *out)
{
    char req[128];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    memset(out, 0, sizeof *out);
    return httpc_send(c, req, (size_t)n) == 0 ? httpc_recv(c, 0, out) : -1;
}

static int closes(const struct httpc_resp *r)
{
    const char *v = httpc_header(r, "Connection");
    return v && strcasecmp(v, "close") == 0;
}

static void test_after_grace(void)
{
    static const struct route routes[] = {{"GET", "/ping", handle_ping}, {"GET", "/hold", handle_hold}};
    struct api_config cfg = {.listen = "127.0.0.1:0", .routes = routes, .nroutes = 2, .grace_ms = 100};
    struct api_server *srv = NULL;
    char msg[256];
    if (api_server_start(&cfg, &srv, msg, sizeof msg) != 0) {
        CHECK(0, "grace: in-process server starts: %s", msg);
        return;
    }
    unsigned int port = api_server_port(srv);
    struct httpc *a = httpc_open("127.0.0.1", port), *b = httpc_open("127.0.0.1", port);
    struct httpc_resp ra = {0}, rb = {0};
    char req[] = "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n";
    int ok = a && b && ask(b, "/ping", &rb) == 0 && rb.status == 200 && !closes(&rb) &&
             httpc_send(a, req, sizeof req - 1) == 0;
    httpc_resp_free(&rb);
    for (int i = 0; ok && !held && i < 500; i++)
        usleep(10 * 1000);
    CHECK(ok && held, "grace: one kept-alive connection idle, one request deferred");
    pthread_t th;
    int stopping_started = ok && held && pthread_create(&th, NULL, stopper, srv) == 0;
    if (stopping_started) {
        usleep(400 * 1000); /* past the 100 ms grace: the stop now waits for the deferred one */
        CHECK(ask(b, "/ping", &rb) == 0 && rb.status == 503 && strstr(rb.body, "\"unavailable\"") &&
                  httpc_header(&rb, "Retry-After") && !strcmp(httpc_header(&rb, "Retry-After"), "1") && closes(&rb),
              "grace: a request after the grace period is 503 unavailable, Retry-After: 1, Connection: close (%d)",
              rb.status);
        httpc_resp_free(&rb);
        CHECK(!stop_returned, "grace: the stop is still waiting for the deferred request");
        struct request *r = held;
        api_reply_json(r, API_OK, json_pack("{s:b}", "held", 1));
        api_resume(r);
        CHECK(httpc_recv(a, 0, &ra) == 0 && ra.status == 200 && strstr(ra.body, "held") && closes(&ra),
              "grace: the deferred request still gets its own answer, with Connection: close");
        httpc_resp_free(&ra);
        pthread_join(th, NULL);
        CHECK(stop_returned, "grace: the stop returned once the deferred request was released");
    } else {
        api_server_stop(srv);
    }
    httpc_close(a);
    httpc_close(b);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    static const char *const extra[] = {"--threads", "3", NULL};
    acked = calloc(ACKED_MAX, sizeof *acked);
    if (!acked || secret_init(0) != 0 || kd_setup(&K) != 0) {
        CHECK(0, "harness: kluisd init");
        kd_cleanup(&K);
        return TEST_END();
    }
    snprintf(K.errlog, sizeof K.errlog, "%s/kluisd.err", K.tmp);
    memcpy(K.serve_extra, extra, sizeof extra);
    int ok = kd_start(&K) == 0 && kc_login(K.port, "beheer", K.admin, admin_tok, NULL) == 200 &&
             (cz = kc_citizen_setup(K.port, admin_tok, "burger-1", "correct horse battery")) != NULL;
    CHECK(ok, "setup: kluisd with three worker threads, one enrolled citizen");
    if (!ok) {
        kd_cleanup(&K);
        return TEST_END();
    }

    pthread_t th[NREADERS + NWRITERS];
    for (int i = 0; i < NREADERS + NWRITERS; i++)
        pthread_create(&th[i], NULL, client, i < NREADERS ? NULL : (void *)1);
    usleep(600 * 1000); /* under load */
    stopping = 1;
    int st = kd_stop(&K);
    for (int i = 0; i < NREADERS + NWRITERS; i++)
        pthread_join(th[i], NULL);

    printf("# before and during the stop: %lu answered, %lu unavailable, %lu connections ended on "
           "Connection: close, %lu cut at the stop, %zu entries acknowledged\n",
           answered, unavailable, ended_on_close, cut_at_stop, nacked);
    CHECK(st == 0, "SIGTERM under load: kluisd exits 0 (got %d; 134 is libmicrohttpd's abort)", st);
    FILE *f = fopen(K.errlog, "r");
    char line[512];
    int fatal = 0, stopped = 0;
    while (f && fgets(line, sizeof line, f)) {
        fatal |= strstr(line, "Fatal error") != NULL;
        stopped |= strstr(line, "kluisd: stopped") != NULL;
    }
    if (f)
        fclose(f);
    CHECK(!fatal && stopped, "kluisd's log: no fatal error, and \"stopped\" at the end");
    CHECK(wrong == 0 && cut_early == 0, "every answer was 200/201 or 503 unavailable (%s; %lu cut before the stop)",
          wrong ? wrong_why : "none wrong", cut_early);
    CHECK(answered > 0 && nacked > 0, "the load ran: %lu answers, %zu entries written", answered, nacked);
    CHECK(ended_on_close + cut_at_stop == NREADERS + NWRITERS && ended_on_close > 0,
          "every connection ended at the stop, on an answer with Connection: close (%lu of %d)", ended_on_close,
          NREADERS + NWRITERS);

    /* Nothing answered is lost: every acknowledged entry is there after a restart. */
    ok = kd_start(&K) == 0 && kc_login(K.port, cz->id, cz->keys, cz->token, NULL) == 200;
    size_t missing = nacked;
    if (ok) {
        json_t *all = json_array();
        char path[200];
        json_int_t after = 0;
        for (int page = 0; page < 1000 && after >= 0; page++) {
            struct kc_resp r;
            snprintf(path, sizeof path, "/v1/citizens/%s/sections/plan/entries?after=%lld&limit=1000", cz->id,
                     (long long)after);
            int got = kc_call(K.port, "GET", path, cz->token, NULL, &r);
            json_array_extend(all, got == 200 ? json_object_get(r.json, "entries") : NULL);
            json_t *next = got == 200 ? json_object_get(r.json, "next") : NULL;
            after = json_is_integer(next) ? json_integer_value(next) : -1;
            kc_resp_free(&r);
        }
        missing = 0;
        for (size_t i = 0; i < nacked; i++)
            missing += !has_entry(all, &acked[i]);
        json_decref(all);
    }
    CHECK(ok && missing == 0, "after a restart every entry answered 201 is there (%zu of %zu missing)", missing,
          nacked);
    CHECK(kd_stop(&K) == 0, "clean stop after the restart");
    test_after_grace();
    kc_citizen_free(cz);
    for (size_t i = 0; i < nacked; i++)
        free(acked[i].statement);
    free(acked);
    kd_cleanup(&K);
    return TEST_END();
}
