/*
 * api/server.c — kluisd's HTTP server: libmicrohttpd, the bounded body, and the reply helpers.
 *
 * This file owns everything between the socket and a handler. libmicrohttpd runs a pool of epoll
 * threads and enforces the connection-level limits of SPEC §11 (connections, per-IP connections,
 * idle timeout, header memory; oversized request lines and headers it answers itself with
 * 413/414/431). We add the one thing it leaves to us: the request body. It is accumulated in one
 * bounded buffer; a declared Content-Length over the limit is 413 too_large before a byte of body
 * is read, and a chunked body is 413 the moment it crosses the limit. Nothing is ever truncated:
 * a handler sees the whole body or is not called.
 *
 * A request's state is allocated on the first callback and freed in the completion callback,
 * which libmicrohttpd calls exactly once however the connection ends. Replies are built by the
 * helpers into a stored MHD_Response and queued here after the handler returns, which also keeps
 * a later asynchronous mode (suspend, store the reply elsewhere, resume) a local change.
 *
 * Paths are not percent-decoded (a no-op unescape callback): the router sees the bytes the client
 * sent, and no "%2F" can turn into a segment boundary. libmicrohttpd's own error log stays off: it
 * could quote request bytes, and nothing personal may reach a log line.
 *
 * Deadlines (issue 8, row 6). libmicrohttpd 0.9.75 only has an idle timeout, so a client that sends
 * a byte every few seconds would hold its connection for ever. Every connection therefore carries
 * one deadline of our own: its header block must be complete within header_timeout_s of the
 * connection opening (or, on a kept-alive connection, within the idle timeout plus
 * header_timeout_s of the previous answer), and a body within body_timeout_s of its headers. While
 * a handler or the group commit behind a deferred request runs there is none. A sweeper thread
 * looks twice a second and shuts down (never closes) the socket of every connection past its
 * deadline; libmicrohttpd then sees the end of the stream and cleans up as for any client that
 * went away. Records are linked under one mutex at libmicrohttpd's connection-start notification
 * and unlinked at its close notification, which 0.9.75 gives before it closes the socket: so a
 * descriptor the sweeper finds in the list is still that connection's, never a reused number.
 * The hot path pays two relaxed atomic stores and one coarse clock read per request (one more of
 * each when it has a body), and a small allocation and two uncontended locks per connection.
 */
#include "api/api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vault/secret.h"

/* States of a deferred request (api_defer/api_resume), under request.mu_. */
enum { DEFER_NONE = 0, DEFER_PENDING, DEFER_SUSPENDED, DEFER_RELEASED };

/* api_server.stopping: serving; draining (every answer closes its connection); closed (a request
 * that reaches its handler now is answered 503 unavailable instead, so nothing new is deferred). */
enum { STOP_NONE = 0, STOP_DRAINING, STOP_CLOSED };

/* Largest TLS certificate chain or key file read. */
#define TLS_FILE_MAX (1024 * 1024)

/* How often the sweeper looks for connections past their deadline. */
#define SWEEP_MS 500

/* One open connection as the sweeper sees it; its socket_context in libmicrohttpd. */
struct conn_track {
    struct conn_track *prev, *next; /* in api_server.conns, under track_mu          */
    int fd;                         /* the connection's socket                       */
    int cut;                        /* shut down by the sweeper (under track_mu)     */
    uint64_t deadline_ms;           /* CLOCK_MONOTONIC_COARSE ms; 0: none (atomic)   */
};

struct api_server {
    struct MHD_Daemon *daemon;
    const struct route *routes;
    size_t nroutes;
    size_t body_limit;
    size_t body_budget;   /* most body bytes buffered at once, all requests together */
    size_t body_inflight; /* bytes reserved now (atomic)                             */
    unsigned int grace_ms;
    unsigned int port;
    void *ctx;
    const struct api_static *web; /* the web page, or NULL     */
    char *tls_cert;   /* PEM, NUL-terminated, malloc'd            */
    char *tls_key;    /* PEM, NUL-terminated, secret_new'd         */
    size_t tls_key_cap;
    /* deadlines (see the top of this file) */
    uint64_t header_ms, body_ms, idle_ms; /* idle_ms: idle timeout + header timeout */
    pthread_mutex_t track_mu;   /* guards conns, every cut flag, sweep_stop          */
    pthread_cond_t sweep_cv;    /* wakes the sweeper for stop                        */
    int track_init;             /* mutex and condvar initialised                     */
    struct conn_track *conns;   /* open connections                                  */
    int sweep_stop;
    int sweeper_running;
    pthread_t sweeper;
    unsigned long long cut;     /* connections shut down at their deadline (atomic)  */
    /* stopping (see api_server_stop) */
    int stopping;               /* STOP_* (atomic)                                    */
    unsigned long busy;         /* handlers running or deferred and not released (atomic) */
};

/* ------------------------------------------------------------------------------------------ */
/* Replies                                                                                     */
/* ------------------------------------------------------------------------------------------ */

static int header_ok(const char *s)
{
    return s && s[0] && !strpbrk(s, "\r\n");
}

struct api_prepared {
    unsigned int status;
    struct MHD_Response *resp; /* carries its headers already */
};

/* The headers every reply carries (and a JSON reply's two more); 0, or -1 when memory ran out. */
static int common_headers(struct MHD_Response *resp, int json)
{
    if (MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff") != MHD_YES ||
        MHD_add_response_header(resp, "Referrer-Policy", "no-referrer") != MHD_YES ||
        MHD_add_response_header(resp, "Cache-Control", "no-store") != MHD_YES ||
        (json && (MHD_add_response_header(resp, "Content-Type", "application/json") != MHD_YES ||
                  MHD_add_response_header(resp, "Content-Security-Policy",
                                          "default-src 'none'; frame-ancestors 'none'") != MHD_YES)))
        return -1;
    return 0;
}

/* Store RESP (NULL: out of memory, the connection will be closed) as R's reply with STATUS. */
static void store(struct request *r, unsigned int status, struct MHD_Response *resp, int json)
{
    if (r->replied_) {
        if (resp)
            MHD_destroy_response(resp);
        return;
    }
    r->replied_ = 1;
    r->status_ = status;
    r->resp_ = resp;
    if (!resp)
        return;
    if (common_headers(resp, json) != 0) {
        MHD_destroy_response(resp);
        r->resp_ = NULL;
    }
}

static struct MHD_Response *from_copy(const void *bytes, size_t len)
{
    return MHD_create_response_from_buffer(len, (void *)bytes, MHD_RESPMEM_MUST_COPY);
}

/* The body and status of a JSON reply; BODY is stolen. */
static void reply_json_status(struct request *r, unsigned int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        if (status >= 400) {
            store(r, status, NULL, 1);
            return;
        }
        api_reply_error(r, KERR_INTERNAL, NULL);
        return;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!resp)
        free(text);
    store(r, status, resp, 1);
}

struct api_prepared *api_prepare_json_text(enum api_ok ok, char *text, size_t len)
{
    struct api_prepared *p = text ? malloc(sizeof *p) : NULL;
    struct MHD_Response *resp = p ? MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE) : NULL;
    if (!resp) {
        free(text);
        free(p);
        return NULL;
    }
    if (common_headers(resp, 1) != 0) {
        MHD_destroy_response(resp); /* frees TEXT */
        free(p);
        return NULL;
    }
    p->status = ok == API_CREATED ? 201 : 200;
    p->resp = resp;
    return p;
}

struct api_prepared *api_prepare_json(enum api_ok ok, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    return text ? api_prepare_json_text(ok, text, strlen(text)) : NULL;
}

void api_prepared_free(struct api_prepared *p)
{
    if (!p)
        return;
    MHD_destroy_response(p->resp);
    free(p);
}

void api_reply_prepared(struct request *r, struct api_prepared *p)
{
    if (!p) {
        api_reply_error(r, KERR_INTERNAL, NULL);
        return;
    }
    if (r->replied_) {
        api_prepared_free(p);
        return;
    }
    r->replied_ = 1;
    r->status_ = p->status;
    r->resp_ = p->resp;
    free(p);
}

void api_reply_json(struct request *r, enum api_ok ok, json_t *body)
{
    if (!body) {
        api_reply_error(r, KERR_INTERNAL, NULL);
        return;
    }
    reply_json_status(r, ok == API_CREATED ? 201 : 200, body);
}

void api_reply_error(struct request *r, kerr code, const char *message)
{
    char clean[256];
    size_t i = 0;
    if (code == KERR_OK || code >= KERR_COUNT_)
        code = KERR_INTERNAL;
    if (!message)
        message = kerr_message(code);
    /* Only printable ASCII leaves: no control bytes, and always valid UTF-8 for Jansson. */
    for (; i < sizeof clean - 1 && message[i]; i++) {
        unsigned char c = (unsigned char)message[i];
        clean[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    clean[i] = '\0';
    reply_json_status(r, (unsigned int)kerr_status(code),
                      json_pack("{s:s,s:s}", "error", kerr_code(code), "message", clean));
}

void api_reply_error_retry(struct request *r, kerr code, const char *message, unsigned int seconds)
{
    char v[16];
    if (r->replied_)
        return;
    api_reply_error(r, code, message);
    snprintf(v, sizeof v, "%u", seconds);
    api_reply_header(r, "Retry-After", v);
}

void api_reply_text(struct request *r, enum api_ok ok, const char *content_type, const void *bytes,
                    size_t len)
{
    if (r->replied_)
        return;
    if (!header_ok(content_type) || (!bytes && len)) {
        api_reply_error(r, KERR_INTERNAL, NULL);
        return;
    }
    store(r, ok == API_CREATED ? 201 : 200, from_copy(bytes ? bytes : "", len), 0);
    api_reply_header(r, "Content-Type", content_type);
}

void api_reply_jerr(struct request *r, const struct jerr *err)
{
    char msg[sizeof err->msg + sizeof err->field + 4];
    if (err->field[0])
        snprintf(msg, sizeof msg, "%s (%s)", err->msg, err->field);
    else
        snprintf(msg, sizeof msg, "%s", err->msg);
    api_reply_error(r, err->code, msg);
}

void api_reply_store_error(struct request *r, kerr e)
{
    if (e == KERR_UNAVAILABLE)
        api_reply_error_retry(r, e, NULL, 1);
    else
        api_reply_error(r, e, NULL);
}

int api_reply_header(struct request *r, const char *name, const char *value)
{
    if (!r->resp_ || r->queued_ || !header_ok(name) || !value || strpbrk(value, "\r\n"))
        return -1;
    return MHD_add_response_header(r->resp_, name, value) == MHD_YES ? 0 : -1;
}

void api_reply_static(struct request *r, int not_modified, const void *bytes, size_t len,
                      const char *const *headers)
{
    if (r->replied_)
        return;
    store(r, not_modified ? 304 : 200,
          MHD_create_response_from_buffer(not_modified ? 0 : len, (void *)bytes,
                                          MHD_RESPMEM_PERSISTENT),
          0);
    for (size_t i = 0; r->resp_ && headers && headers[i] && headers[i + 1]; i += 2) {
        if (strcasecmp(headers[i], "Cache-Control") == 0)
            MHD_del_response_header(r->resp_, "Cache-Control", "no-store");
        api_reply_header(r, headers[i], headers[i + 1]);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Input helpers                                                                               */
/* ------------------------------------------------------------------------------------------ */

/* "application/json", any case, optionally followed by parameters; a charset must be utf-8. */
static int json_media_type(const char *ct)
{
    static const char mt[] = "application/json";
    if (!ct || strncasecmp(ct, mt, sizeof mt - 1) != 0)
        return 0;
    const char *p = ct + sizeof mt - 1;
    while (*p == ' ' || *p == '\t')
        p++;
    if (!*p)
        return 1;
    if (*p != ';')
        return 0;
    while (*p == ';') {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        const char *name = p;
        while (*p && *p != '=' && *p != ';')
            p++;
        if (*p != '=')
            return 0;
        size_t nlen = (size_t)(p - name);
        const char *val = ++p;
        while (*p && *p != ';')
            p++;
        size_t vlen = (size_t)(p - val);
        while (vlen && (val[vlen - 1] == ' ' || val[vlen - 1] == '\t'))
            vlen--;
        if (vlen >= 2 && val[0] == '"' && val[vlen - 1] == '"') {
            val++;
            vlen -= 2;
        }
        if (nlen == 7 && strncasecmp(name, "charset", 7) == 0 &&
            !(vlen == 5 && strncasecmp(val, "utf-8", 5) == 0))
            return 0;
    }
    return *p == '\0';
}

int api_parse_body(struct request *r, const struct jspec *spec, size_t n, json_t **json_out)
{
    struct jerr e = { 0 };
    *json_out = NULL;
    if (!json_media_type(MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type"))) {
        api_reply_error(r, KERR_UNSUPPORTED_MEDIA_TYPE, NULL);
        return -1;
    }
    json_t *j = jspec_parse(r->body, r->body_len, &e);
    if (!j) {
        api_reply_error(r, e.code, e.msg);
        return -1;
    }
    if (jspec_extract(j, spec, n, &e) != 0) {
        json_decref(j);
        api_reply_error(r, e.code, e.msg);
        return -1;
    }
    *json_out = j;
    return 0;
}

int api_parse_envelope(struct request *r, size_t max_b64, json_t **json_out, const char **statement,
                       const char **signature)
{
    const struct jspec spec[] = {
        {.name = "statement", .type = JS_STRING, .out = statement, .len = max_b64},
        {.name = "signature", .type = JS_STRING, .out = signature, .len = API_SIG_B64_MAX},
    };
    return api_parse_body(r, spec, sizeof spec / sizeof spec[0], json_out);
}

int api_require_json(struct request *r)
{
    if (!json_media_type(MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type"))) {
        api_reply_error(r, KERR_UNSUPPORTED_MEDIA_TYPE, NULL);
        return -1;
    }
    return 0;
}

const char *api_query(const struct request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

int api_query_u64(struct request *r, const char *name, int required, uint64_t max, uint64_t *out)
{
    const char *v = api_query(r, name);
    char msg[128];
    if (!v || !v[0]) {
        if (!required)
            return 0;
        snprintf(msg, sizeof msg, "missing query parameter '%.40s'", name);
        api_reply_error(r, KERR_BAD_REQUEST, msg);
        return -1;
    }
    uint64_t x = 0;
    size_t i = 0;
    for (; v[i]; i++) {
        unsigned d = (unsigned char)v[i] - '0';
        if (d > 9 || (i == 1 && v[0] == '0') || x > (UINT64_MAX - d) / 10)
            break;
        x = x * 10 + d;
    }
    if (v[i] || x > max) {
        snprintf(msg, sizeof msg, "query parameter '%.40s' must be an integer from 0 to %llu",
                 name, (unsigned long long)max);
        api_reply_error(r, KERR_BAD_REQUEST, msg);
        return -1;
    }
    *out = x;
    return 1;
}

int api_query_id(struct request *r, const char *name, int required, const char **out)
{
    const char *v = api_query(r, name);
    char msg[128];
    if (!v || !v[0]) {
        if (!required)
            return 0;
        snprintf(msg, sizeof msg, "missing query parameter '%.40s'", name);
        api_reply_error(r, KERR_BAD_REQUEST, msg);
        return -1;
    }
    if (!jspec_is_id(v)) {
        snprintf(msg, sizeof msg, "query parameter '%.40s' must be an identifier", name);
        api_reply_error(r, KERR_BAD_REQUEST, msg);
        return -1;
    }
    *out = v;
    return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* The request lifecycle                                                                       */
/* ------------------------------------------------------------------------------------------ */

static int b64tok_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

/* RFC 7235 token68: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static int token68(const char *s)
{
    size_t i = 0;
    while (b64tok_char(s[i]))
        i++;
    size_t body = i;
    while (s[i] == '=')
        i++;
    return body > 0 && s[i] == '\0' && i <= API_BEARER_MAX;
}

static const char *bearer_of(struct MHD_Connection *c)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!v || strncasecmp(v, "Bearer ", 7) != 0)
        return NULL;
    v += 7;
    while (*v == ' ')
        v++;
    return token68(v) ? v : NULL;
}

static void remote_of(struct MHD_Connection *c, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    out[0] = '\0';
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)cap);
}

/* ------------------------------------------------------------------------------------------ */
/* Framing: what libmicrohttpd 0.9.75 tolerates and we do not                                  */
/* ------------------------------------------------------------------------------------------ */

/* RFC 9110 tchar. */
static int tchar(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Headers that must appear at most once: a second copy is how a request means two things to two
 * parsers (a proxy in front and us), so it is refused rather than resolved either way. */
static const char *const singletons[] = { "Host", "Content-Length", "Content-Type", "Authorization",
                                          "Transfer-Encoding", "Expect", "Connection" };
#define NSINGLE (sizeof singletons / sizeof singletons[0])

struct framing {
    unsigned seen[NSINGLE];
    const char *fault;
    size_t nargs;
    const char *args[32];
};

static enum MHD_Result framing_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      size_t key_size, const char *value, size_t value_size)
{
    struct framing *f = cls;
    (void)kind;
    if (!key || key_size == 0 || key_size != strlen(key)) {
        f->fault = "malformed header name";
        return MHD_NO;
    }
    for (size_t i = 0; i < key_size; i++)
        if (!tchar((unsigned char)key[i])) {
            f->fault = "malformed header name";
            return MHD_NO;
        }
    /* field-value: no NUL (libmicrohttpd would cut the value there), no other control byte */
    if (value && value_size != strlen(value)) {
        f->fault = "malformed header value";
        return MHD_NO;
    }
    for (size_t i = 0; value && i < value_size; i++) {
        unsigned char c = (unsigned char)value[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            f->fault = "malformed header value";
            return MHD_NO;
        }
    }
    for (size_t i = 0; i < NSINGLE; i++)
        if (strcasecmp(key, singletons[i]) == 0 && ++f->seen[i] > 1) {
            f->fault = "repeated header";
            return MHD_NO;
        }
    return MHD_YES;
}

static enum MHD_Result framing_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size)
{
    struct framing *f = cls;
    (void)kind;
    (void)value;
    (void)value_size;
    if (!key || key_size != strlen(key)) {
        f->fault = "malformed query";
        return MHD_NO;
    }
    for (size_t i = 0; i < f->nargs; i++)
        if (strcmp(f->args[i], key) == 0) {
            f->fault = "repeated query parameter";
            return MHD_NO;
        }
    if (f->nargs == sizeof f->args / sizeof f->args[0]) {
        f->fault = "too many query parameters";
        return MHD_NO;
    }
    f->args[f->nargs++] = key;
    return MHD_YES;
}

/*
 * NULL when the request's headers and query are unambiguous, else what is wrong. libmicrohttpd
 * 0.9.75 has already refused broken request lines, bad Content-Length values, a Content-Length
 * beside chunked, and header blocks over the connection memory; it accepts header names with
 * spaces or other separators, values holding a NUL (cut there), repeated singleton headers (it
 * then uses the first), a Transfer-Encoding other than chunked (it then reads the body until the
 * connection closes), and repeated query parameters. Each is a way for a request to mean one thing
 * to a proxy in front of kluisd and another to kluisd: refused here, before anything is routed.
 */
static const char *framing_fault(struct MHD_Connection *c, int *coded)
{
    struct framing f;
    const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
    *coded = te != NULL; /* a body follows (chunked, or refused below and read by nobody) */
    memset(&f, 0, sizeof f);
    MHD_get_connection_values_n(c, MHD_HEADER_KIND, framing_header, &f);
    if (!f.fault && te && strcasecmp(te, "chunked") != 0)
        f.fault = "unsupported transfer coding";
    if (!f.fault)
        MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, framing_arg, &f);
    return f.fault;
}

/* Strict decimal Content-Length; UINT64_MAX when absent-but-unparsable or overflowing. */
static uint64_t content_length(struct MHD_Connection *c, int *present)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    uint64_t x = 0;
    *present = v != NULL;
    if (!v)
        return 0;
    if (!*v)
        return UINT64_MAX;
    for (; *v; v++) {
        unsigned d = (unsigned char)*v - '0';
        if (d > 9 || x > (UINT64_MAX - d) / 10)
            return UINT64_MAX;
        x = x * 10 + d;
    }
    return x;
}

/*
 * Make room for NEED body bytes (plus a NUL); the old buffer is wiped, never left to realloc.
 * Every request's buffer counts against the server's body budget: a thousand slow uploads that
 * each stop short of the body limit would otherwise hold a thousand times the limit. Over the
 * budget the upload is refused (-1), whatever its own size.
 */
static int body_reserve(struct request *r, size_t need, size_t limit)
{
    struct api_server *s = (struct api_server *)r->srv_;
    if (need <= r->bodycap_)
        return 0;
    size_t cap = r->bodycap_ ? r->bodycap_ : 16384;
    while (cap < need)
        cap = cap > limit / 2 ? limit : cap * 2;
    if (cap < need)
        cap = need;
    size_t grow = cap - r->bodycap_;
    if (__atomic_add_fetch(&s->body_inflight, grow, __ATOMIC_RELAXED) > s->body_budget) {
        __atomic_sub_fetch(&s->body_inflight, grow, __ATOMIC_RELAXED);
        return -1;
    }
    char *nb = malloc(cap + 1);
    if (!nb) {
        __atomic_sub_fetch(&s->body_inflight, grow, __ATOMIC_RELAXED);
        return -1;
    }
    if (r->bodybuf_) {
        memcpy(nb, r->bodybuf_, r->body_len);
        sodium_memzero(r->bodybuf_, r->bodycap_ + 1);
        free(r->bodybuf_);
    }
    r->bodybuf_ = nb;
    r->bodycap_ = cap;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Deadlines                                                                                   */
/* ------------------------------------------------------------------------------------------ */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The tracking record of CONN, or NULL (none could be allocated: see on_connection). */
static struct conn_track *track_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Set T's deadline to the absolute time WHEN (ms), or none with 0. */
static void track_set(struct conn_track *t, uint64_t when)
{
    if (t)
        __atomic_store_n(&t->deadline_ms, when, __ATOMIC_RELAXED);
}

/*
 * libmicrohttpd's connection notifications: a record per connection, linked while it is open.
 * CLOSED comes before libmicrohttpd closes the socket (0.9.75 daemon.c, MHD_cleanup_connections and
 * the error path of internal_add_connection), and unlinking waits for a sweep in progress.
 */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct api_server *s = cls;
    struct conn_track *t = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = NULL;
        if (!ci)
            return;
        t = malloc(sizeof *t);
        if (!t) {
            /* fail safe: a connection without a deadline is not served */
            shutdown(ci->connect_fd, SHUT_RDWR);
            return;
        }
        t->fd = ci->connect_fd;
        t->cut = 0;
        t->deadline_ms = now_ms() + s->header_ms;
        pthread_mutex_lock(&s->track_mu);
        t->prev = NULL;
        t->next = s->conns;
        if (s->conns)
            s->conns->prev = t;
        s->conns = t;
        pthread_mutex_unlock(&s->track_mu);
        *socket_context = t;
        return;
    }
    if (!t)
        return;
    pthread_mutex_lock(&s->track_mu);
    if (t->prev)
        t->prev->next = t->next;
    else
        s->conns = t->next;
    if (t->next)
        t->next->prev = t->prev;
    pthread_mutex_unlock(&s->track_mu);
    free(t);
    *socket_context = NULL;
}

/* Every SWEEP_MS: shut down each connection past its deadline (once). Nothing is logged. */
static void *sweeper_main(void *arg)
{
    struct api_server *s = arg;
    pthread_mutex_lock(&s->track_mu);
    while (!s->sweep_stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += SWEEP_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec += until.tv_nsec / 1000000000L;
            until.tv_nsec %= 1000000000L;
        }
        while (!s->sweep_stop && pthread_cond_timedwait(&s->sweep_cv, &s->track_mu, &until) == 0) {
        }
        if (s->sweep_stop)
            break;
        uint64_t now = now_ms();
        for (struct conn_track *t = s->conns; t; t = t->next) {
            uint64_t d = __atomic_load_n(&t->deadline_ms, __ATOMIC_RELAXED);
            if (t->cut || d == 0 || d > now)
                continue;
            /* shutdown, not close: the descriptor stays libmicrohttpd's, which reads the end of the
             * stream (or a send error) and closes the connection itself */
            shutdown(t->fd, SHUT_RDWR);
            t->cut = 1;
            __atomic_add_fetch(&s->cut, 1, __ATOMIC_RELAXED);
        }
    }
    pthread_mutex_unlock(&s->track_mu);
    return NULL;
}

static void sweeper_stop(struct api_server *s)
{
    if (!s->sweeper_running)
        return;
    pthread_mutex_lock(&s->track_mu);
    s->sweep_stop = 1;
    pthread_cond_signal(&s->sweep_cv);
    pthread_mutex_unlock(&s->track_mu);
    pthread_join(s->sweeper, NULL);
    s->sweeper_running = 0;
}

/* Hand the stored reply to libmicrohttpd; MHD_NO closes the connection. */
static enum MHD_Result queue(struct request *r)
{
    if (r->queued_)
        return MHD_YES;
    if (!r->resp_)
        return MHD_NO; /* out of memory while replying: closing is the only honest answer */
    /* Stopping: this answer ends its connection, so keep-alive clients drain instead of sending on. */
    if (__atomic_load_n(&((struct api_server *)r->srv_)->stopping, __ATOMIC_SEQ_CST) != STOP_NONE &&
        MHD_add_response_header(r->resp_, "Connection", "close") != MHD_YES)
        return MHD_NO;
    if (MHD_queue_response(r->conn, r->status_, r->resp_) != MHD_YES)
        return MHD_NO;
    MHD_destroy_response(r->resp_);
    r->resp_ = NULL;
    r->queued_ = 1;
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    struct api_server *s = cls;
    struct request *r = *req_cls;
    (void)version;

    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        *req_cls = r;
        pthread_mutex_init(&r->mu_, NULL);
        r->conn = conn;
        r->method = method;
        r->is_head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
        r->path = url;
        r->body = "";
        r->ctx = s->ctx;
        r->srv_ = s;
        r->bearer = bearer_of(conn);
        remote_of(conn, r->remote, sizeof r->remote);
        /* The header block is complete: its deadline ends. A body gets its own (kept even when a
         * reply is queued before it: whether libmicrohttpd still reads it is its business), which
         * ends when the body is in, before any handler runs. */
        r->track_ = track_of(conn);
        int coded, present;
        uint64_t cl = content_length(conn, &present);
        const char *fault = framing_fault(conn, &coded);
        if (coded || (present && cl > 0)) {
            r->timed_ = 1;
            track_set(r->track_, now_ms() + s->body_ms);
        } else {
            track_set(r->track_, 0);
        }
        if (fault) {
            /* The body, if any, is never read: the connection closes after this answer. */
            api_reply_error(r, KERR_BAD_REQUEST, fault);
            api_reply_header(r, "Connection", "close");
            return queue(r);
        }
        if (s->web && api_static_serve(s->web, r))
            return queue(r);
        if (api_route(r, s->routes, s->nroutes) != 0)
            return queue(r);
        if (present && cl > s->body_limit) {
            r->overflow_ = 1;
            api_reply_error(r, KERR_TOO_LARGE, NULL);
            return queue(r);
        }
        /* Reserve a little up front, not the declared length: memory follows bytes received,
         * so idle connections that merely announce 2 MiB cost nothing. */
        if (present && cl > 0 &&
            body_reserve(r, cl < 65536 ? (size_t)cl : 65536, s->body_limit) != 0) {
            api_reply_error_retry(r, KERR_RATE_LIMITED, "too many uploads in progress", 1);
            api_reply_header(r, "Connection", "close");
            return queue(r);
        }
        return MHD_YES;
    }

    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->replied_) {
            /* The answer is decided but could not be queued mid-upload: discard, within bounds. */
            r->discarded_ += n;
            return r->discarded_ > s->body_limit ? MHD_NO : MHD_YES;
        }
        if (n > s->body_limit - r->body_len) {
            r->overflow_ = 1;
            api_reply_error(r, KERR_TOO_LARGE, NULL);
            /* libmicrohttpd 0.9.75 refuses a reply while an upload is in progress (later versions
             * accept it). Then the rest of the body is read and dropped, and 413 goes out when it
             * ends — unless it runs on for more than another body_limit bytes: that client gets
             * the connection closed instead. Nothing of the body reaches a handler either way. */
            if (!r->resp_)
                return MHD_NO;
            if (queue(r) == MHD_YES)
                return MHD_YES;
            r->discarded_ = n;
            return MHD_YES;
        }
        if (body_reserve(r, r->body_len + n, s->body_limit) != 0) {
            /* over the body budget mid-upload: 0.9.75 cannot answer now, so the connection closes */
            api_reply_error_retry(r, KERR_RATE_LIMITED, "too many uploads in progress", 1);
            return queue(r);
        }
        memcpy(r->bodybuf_ + r->body_len, upload_data, n);
        r->body_len += n;
        r->bodybuf_[r->body_len] = '\0';
        r->body = r->bodybuf_;
        return MHD_YES;
    }

    if (r->timed_) {
        /* the body is in: no deadline while the handler, or the commit it waits for, runs */
        r->timed_ = 0;
        track_set(r->track_, 0);
    }
    if (!r->replied_ && r->defer_state_ == DEFER_NONE) {
        /* Counted busy before the stop flag is read, and the stop sets the flag before it reads
         * the count (both sequentially consistent): either the stop waits for this handler and the
         * commit it may defer to, or this request sees the stop and defers nothing. */
        __atomic_add_fetch(&s->busy, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&s->stopping, __ATOMIC_SEQ_CST) == STOP_CLOSED) {
            __atomic_sub_fetch(&s->busy, 1, __ATOMIC_SEQ_CST);
            api_reply_error_retry(r, KERR_UNAVAILABLE, "kluisd is stopping", 1);
            return queue(r);
        }
        r->route_->handler(r);
        if (r->suspended_) { /* busy until api_resume() */
            /* Deferred: suspend unless the reply was already stored and released meanwhile. */
            pthread_mutex_lock(&r->mu_);
            int early = r->defer_state_ == DEFER_RELEASED;
            if (!early) {
                MHD_suspend_connection(conn);
                r->defer_state_ = DEFER_SUSPENDED;
            }
            pthread_mutex_unlock(&r->mu_);
            if (!early)
                return MHD_YES;
        } else {
            __atomic_sub_fetch(&s->busy, 1, __ATOMIC_SEQ_CST);
            if (!r->replied_)
                api_reply_error(r, KERR_INTERNAL, "the handler gave no answer");
        }
    }
    if (r->suspended_) {
        /* Called again after MHD_resume_connection(): the reply is stored. */
        pthread_mutex_lock(&r->mu_);
        pthread_mutex_unlock(&r->mu_);
        if (!r->replied_)
            api_reply_error(r, KERR_INTERNAL, "the deferred handler gave no answer");
    }
    return queue(r);
}

void api_defer(struct request *r)
{
    r->suspended_ = 1;
    r->defer_state_ = DEFER_PENDING;
}

void api_resume(struct request *r)
{
    struct api_server *s = (struct api_server *)r->srv_; /* outlives R: api_server_stop() waits for it */
    pthread_mutex_lock(&r->mu_);
    if (r->defer_state_ == DEFER_SUSPENDED)
        MHD_resume_connection(r->conn);
    r->defer_state_ = DEFER_RELEASED;
    pthread_mutex_unlock(&r->mu_);
    __atomic_sub_fetch(&s->busy, 1, __ATOMIC_SEQ_CST);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct request *r = *req_cls;
    struct api_server *s = cls;
    (void)conn;
    if (!r)
        return;
    *req_cls = NULL;
    /* Answered; the connection may be kept alive: the next header block is due within the idle
     * timeout plus the header timeout. (Any other ending closes the connection anyway.) */
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        track_set(r->track_, now_ms() + s->idle_ms);
    if (r->resp_)
        MHD_destroy_response(r->resp_);
    if (r->bodybuf_) {
        sodium_memzero(r->bodybuf_, r->bodycap_ + 1);
        free(r->bodybuf_);
        __atomic_sub_fetch(&((struct api_server *)r->srv_)->body_inflight, r->bodycap_, __ATOMIC_RELAXED);
    }
    free(r->pathbuf_);
    pthread_mutex_destroy(&r->mu_);
    free(r);
}

/* Paths stay as sent: the router refuses what is not an identifier, escapes included. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

/* ------------------------------------------------------------------------------------------ */
/* Start and stop                                                                              */
/* ------------------------------------------------------------------------------------------ */

static int parse_port(const char *p, uint16_t *port)
{
    unsigned long v = 0;
    if (!*p || strlen(p) > 5)
        return -1;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

/* "1.2.3.4:80" or "[::1]:80", numeric hosts only (no DNS in a server's startup path). */
static int parse_listen(const char *spec, struct sockaddr_storage *ss, int *v6)
{
    char host[64];
    const char *colon;
    uint16_t port;
    memset(ss, 0, sizeof *ss);
    if (spec[0] == '[') {
        const char *end = strchr(spec, ']');
        if (!end || end[1] != ':' || (size_t)(end - spec - 1) >= sizeof host)
            return -1;
        memcpy(host, spec + 1, (size_t)(end - spec - 1));
        host[end - spec - 1] = '\0';
        colon = end + 1;
    } else {
        colon = strrchr(spec, ':');
        if (!colon || (size_t)(colon - spec) >= sizeof host)
            return -1;
        memcpy(host, spec, (size_t)(colon - spec));
        host[colon - spec] = '\0';
    }
    if (parse_port(colon + 1, &port) != 0)
        return -1;
    struct sockaddr_in *in4 = (struct sockaddr_in *)(void *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)ss;
    if (spec[0] != '[' && inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        *v6 = 0;
        return 0;
    }
    if (spec[0] == '[' && inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        *v6 = 1;
        return 0;
    }
    return -1;
}

/* Read a whole PEM file into a NUL-terminated buffer (secret memory when SECRET). */
static char *read_pem(const char *path, int secret, size_t *cap, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    char *buf = NULL;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
        st.st_size > TLS_FILE_MAX) {
        snprintf(err, errlen, "cannot read TLS file %s", path);
        goto out;
    }
    *cap = (size_t)st.st_size + 1;
    buf = secret ? secret_new(*cap) : calloc(1, *cap);
    if (!buf) {
        snprintf(err, errlen, "out of memory reading %s", path);
        goto out;
    }
    size_t got = 0;
    while (got < *cap - 1) {
        ssize_t n = read(fd, buf + got, *cap - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got != *cap - 1 || memchr(buf, '\0', got)) {
        snprintf(err, errlen, "cannot read TLS file %s", path);
        if (secret)
            secret_free(buf);
        else
            free(buf);
        buf = NULL;
        goto out;
    }
    buf[got] = '\0';
out:
    if (fd >= 0)
        close(fd);
    return buf;
}

static void server_free(struct api_server *s)
{
    if (!s)
        return;
    sweeper_stop(s);
    if (s->track_init) {
        /* libmicrohttpd has stopped: every connection was notified closed, the list is empty */
        while (s->conns) {
            struct conn_track *t = s->conns;
            s->conns = t->next;
            free(t);
        }
        pthread_cond_destroy(&s->sweep_cv);
        pthread_mutex_destroy(&s->track_mu);
    }
    free(s->tls_cert);
    secret_free(s->tls_key);
    free(s);
}

/* One worker per CPU but one: the group-commit thread keeps a CPU busy of its own under load (it
 * seals and writes every journal event and waits out each flush), and a third runnable thread on
 * two CPUs only adds context switches (bench: 22.0k against 20.8k reads/s at 64 connections). */
static unsigned int default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN) - 1;
    if (n < 1)
        return 1;
    return n > 16 ? 16 : (unsigned int)n;
}

int api_server_start(const struct api_config *cfg, struct api_server **out, char *err,
                     size_t errlen)
{
    struct sockaddr_storage ss;
    int v6 = 0;
    const char *listen = cfg->listen ? cfg->listen : "127.0.0.1:8080";
    *out = NULL;

    struct api_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->routes = cfg->routes ? cfg->routes : api_routes;
    s->nroutes = cfg->routes ? cfg->nroutes : api_routes_count;
    s->body_limit = cfg->body_limit ? cfg->body_limit : API_BODY_LIMIT_DEFAULT;
    /* 32 bodies of the limit at once (64 MiB by default): far above any honest load, and a cap
     * on what slow or stalled uploads can pin (issue 8, row 6). */
    s->body_budget = 32 * s->body_limit;
    s->grace_ms = cfg->grace_ms ? cfg->grace_ms : 5000;
    s->ctx = cfg->ctx;
    s->web = cfg->web;
    unsigned int idle_s = cfg->timeout_s ? cfg->timeout_s : 30;
    s->header_ms = 1000ull * (cfg->header_timeout_s ? cfg->header_timeout_s : 10);
    s->body_ms = 1000ull * (cfg->body_timeout_s ? cfg->body_timeout_s : 60);
    s->idle_ms = 1000ull * idle_s + s->header_ms;
    pthread_condattr_t ca;
    int cv = 0;
    if (pthread_condattr_init(&ca) == 0) {
        cv = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&s->sweep_cv, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (!cv || pthread_mutex_init(&s->track_mu, NULL) != 0) {
        snprintf(err, errlen, "cannot initialise the deadline sweeper");
        if (cv)
            pthread_cond_destroy(&s->sweep_cv);
        free(s);
        return -1;
    }
    s->track_init = 1;
    if (api_routes_check(s->routes, s->nroutes, err, errlen) != 0)
        goto fail;
    if (parse_listen(listen, &ss, &v6) != 0) {
        snprintf(err, errlen, "bad listen address '%.80s' (want 127.0.0.1:8080 or [::1]:8080)",
                 listen);
        goto fail;
    }
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME;
    if (v6)
        flags |= MHD_USE_IPv6;
    if (!cfg->tls_cert != !cfg->tls_key) {
        snprintf(err, errlen, "TLS needs both a certificate and a key file");
        goto fail;
    }
    if (cfg->tls_cert) {
        size_t cap;
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            snprintf(err, errlen, "TLS requested, but libmicrohttpd was built without TLS");
            goto fail;
        }
        if (!(s->tls_cert = read_pem(cfg->tls_cert, 0, &cap, err, errlen)) ||
            !(s->tls_key = read_pem(cfg->tls_key, 1, &s->tls_key_cap, err, errlen)))
            goto fail;
        flags |= MHD_USE_TLS;
    }

    unsigned int threads = cfg->threads ? cfg->threads : default_threads();
    struct MHD_OptionItem ops[12];
    size_t k = 0;
    ops[k++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, &ss };
    ops[k++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT,
                                        cfg->conn_limit ? cfg->conn_limit : 1024, NULL };
    ops[k++] = (struct MHD_OptionItem){ MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                        cfg->per_ip_limit ? cfg->per_ip_limit : 128, NULL };
    ops[k++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, idle_s, NULL };
    /* libmicrohttpd wipes the whole connection pool before each keep-alive request: 16 KiB (not
     * 32) halves that per-request cost and still holds any header block a client of this API
     * sends (a bearer token is at most API_BEARER_MAX; bodies go to our own accumulator). */
    ops[k++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                        (intptr_t)(cfg->conn_memory ? cfg->conn_memory : 16384),
                                        NULL };
    if (threads > 1)
        ops[k++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE, threads, NULL };
    if (s->tls_cert) {
        ops[k++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert };
        ops[k++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key };
    }
    ops[k++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };

    errno = 0;
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                                 MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
                                 MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(err, errlen, "cannot listen on %.80s: %s", listen,
                 errno ? strerror(errno) : "libmicrohttpd refused to start");
        goto fail;
    }
    if (pthread_create(&s->sweeper, NULL, sweeper_main, s) != 0) {
        snprintf(err, errlen, "cannot start the deadline sweeper");
        MHD_stop_daemon(s->daemon);
        goto fail;
    }
    s->sweeper_running = 1;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : 0;
    *out = s;
    return 0;
fail:
    server_free(s);
    return -1;
}

unsigned int api_server_port(const struct api_server *s)
{
    return s ? s->port : 0;
}

unsigned long long api_server_deadline_cuts(const struct api_server *s)
{
    return s ? __atomic_load_n(&s->cut, __ATOMIC_RELAXED) : 0;
}

void api_server_stop(struct api_server *s)
{
    if (!s)
        return;
    MHD_socket ls = MHD_quiesce_daemon(s->daemon);
    /* Draining: no new connections; every answer from now on closes its connection, so clients on
     * kept-alive connections get what they asked and go, rather than sending on for the whole
     * grace period. */
    __atomic_store_n(&s->stopping, STOP_DRAINING, __ATOMIC_SEQ_CST);
    struct timespec tick = { 0, 10 * 1000 * 1000 };
    for (unsigned int waited = 0; waited < s->grace_ms; waited += 10) {
        const union MHD_DaemonInfo *di =
            MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (!di || di->num_connections == 0)
            break;
        nanosleep(&tick, NULL);
    }
    /* Closed: a request that reaches a handler now is answered 503 at once. libmicrohttpd aborts
     * the process when it is stopped with a connection still suspended, so wait until every
     * deferred request has been released: the group commit, still running, ends every operation
     * it holds, committed or failed (a commit stuck on a dead disk would hold vault_close() too). */
    __atomic_store_n(&s->stopping, STOP_CLOSED, __ATOMIC_SEQ_CST);
    struct timespec short_tick = { 0, 1000 * 1000 };
    while (__atomic_load_n(&s->busy, __ATOMIC_SEQ_CST) != 0)
        nanosleep(&short_tick, NULL);
    /* the sweeper never outlives the daemon whose connections it watches */
    sweeper_stop(s);
    MHD_stop_daemon(s->daemon);
    if (ls != MHD_INVALID_SOCKET)
        close(ls);
    server_free(s);
}
