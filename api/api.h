/*
 * api/api.h — the interface between kluisd's HTTP layer and its handlers (SPEC §6, §10, §11).
 *
 * The server (api/server.c) owns libmicrohttpd: it accepts, bounds and accumulates the body, finds
 * the route (api/router.c), builds a `struct request` and calls one handler once the whole body is
 * in. A handler reads the request, does its work and answers through exactly one reply helper
 * below; it never writes a status number (the error table vault/errors.def does) and never talks to
 * libmicrohttpd itself.
 *
 * Lifetime: a request and everything it points to (path, params, body, bearer, query values) stay
 * valid from the handler call until the server's completion callback frees them — after the reply
 * has been sent. A handler that keeps nothing beyond its return needs to free nothing but what it
 * allocated itself.
 *
 * Replies are stored on the request, not sent from inside the helper: the server queues the stored
 * reply after the handler returns. That keeps a later asynchronous mode cheap — a handler could
 * mark the request suspended (MHD_suspend_connection), finish elsewhere by storing its reply, and
 * have the server queue it on MHD_resume_connection — without changing any handler's code.
 *
 * Threads: handlers run on the server's worker threads, several at once; one request is only ever
 * touched by one thread at a time. `ctx` is shared by all of them.
 */
#ifndef KLUIS_API_H
#define KLUIS_API_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "vault/errors.h"
#include "vault/jspec.h"

struct MHD_Connection;
struct api_server;
struct conn_track;

/** Most path parameters a route pattern may capture ("{}" segments). */
#define API_MAX_PARAMS 4
/** Default request body limit (SPEC §11): 2 MiB. A body over the limit is 413 too_large. */
#define API_BODY_LIMIT_DEFAULT ((size_t)2 * 1024 * 1024)
/** Longest b64 signature field accepted (an Ed25519 signature is 86 characters). */
#define API_SIG_B64_MAX 128

/** Longest bearer token accepted; a longer or malformed one is treated as absent. */
#define API_BEARER_MAX 512

/** The two success statuses a handler may choose (SPEC §6): 200, or 201 on create. */
enum api_ok {
    API_OK = 200,
    API_CREATED = 201
};

/**
 * One HTTP request as a handler sees it. Fields above the line are for handlers (read-only);
 * those below are the server's and may change without notice.
 */
struct request {
    struct MHD_Connection *conn; /* the libmicrohttpd connection (for api/ internals only)       */
    const char *method;     /* as sent: "GET", "HEAD", "POST", "DELETE", ...                     */
    int is_head;            /* non-zero for HEAD: routed as GET, libmicrohttpd drops the body    */
    const char *path;       /* the raw path, without query; never percent-decoded                */
    /* The "{}" captures of the route pattern, in order; unused slots are NULL. Each is a SPEC §2
     * identifier (^[a-z0-9][a-z0-9._-]{0,62}$): a path whose segment at a capture is anything else
     * does not match the route at all, so it is 404 not_found (a name that is not an identifier
     * cannot name a resource, and percent-escapes are never decoded). */
    const char *param[API_MAX_PARAMS];
    size_t nparam;
    const char *body;       /* the whole body, NUL-terminated for convenience; "" when empty     */
    size_t body_len;        /* its length in bytes (a NUL inside the body is counted, not cut)   */
    char remote[48];        /* the peer's address, "127.0.0.1" or "::1"; "" if unknown           */
    const char *bearer;     /* the token of "Authorization: Bearer <token>", or NULL            */
    void *ctx;              /* the server's application state (api_config.ctx, kluisd's vault)   */
    /* ---- server-private ------------------------------------------------------------------ */
    const struct api_server *srv_;
    const struct route *route_;
    char *pathbuf_;         /* owned copy of the path, split in place for param[]                */
    char *bodybuf_;         /* owned body buffer (wiped on free)                                 */
    size_t bodycap_;
    struct MHD_Response *resp_; /* the stored reply, queued by the server                       */
    unsigned int status_;
    int replied_;           /* a reply is stored (or was queued); later replies are ignored     */
    int queued_;
    int overflow_;          /* the body went over the limit: 413 stored                          */
    size_t discarded_;      /* body bytes discarded after the reply was decided                  */
    int suspended_;         /* api_defer() was called: the reply comes later, from any thread    */
    int defer_state_;       /* DEFER_* in server.c, under mu_                                    */
    pthread_mutex_t mu_;    /* orders the deferred reply against the connection's suspension    */
    struct conn_track *track_; /* the connection's deadline record (server.c), or NULL          */
    int timed_;             /* a body deadline is armed                                          */
};

/** A handler: answers R through exactly one reply helper (or the server answers 500 internal). */
typedef void (*api_handler)(struct request *r);

/**
 * One route: METHOD ("GET", "POST", "DELETE"; HEAD is served by GET routes) on PATTERN, a path of
 * literal segments and "{}" captures, e.g. "/v1/citizens/{}/sections/{}/entries" (at most
 * API_MAX_PARAMS captures). Matching is exact per segment: no prefixes, no trailing slash.
 */
struct route {
    const char *method;
    const char *pattern;
    api_handler handler;
};

/** kluisd's route table (api/router.c) and its length; handlers are declared in api/handlers.h. */
extern const struct route api_routes[];
extern const size_t api_routes_count;

/* ---------------------------------------------------------------------------------------------
 * Replies. Each helper stores the reply on R; only the first reply of a request counts (a second
 * is ignored, so a handler's error path cannot overwrite an earlier answer). Every reply carries
 * X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer and Cache-Control: no-store.
 * Helpers never fail visibly: when memory runs out, the server answers 500 or closes the
 * connection.
 * ------------------------------------------------------------------------------------------- */

/**
 * @brief Answer with a JSON object and a success status.
 * @param[in] r     the request.
 * @param[in] ok    API_OK (200) or API_CREATED (201).
 * @param[in] body  a JSON value; the reference is stolen (decref'd here in every case). NULL (for
 *                  example a failed json_pack()) answers 500 internal.
 * Content-Type: application/json. Also carries Content-Security-Policy: default-src 'none'.
 */
void api_reply_json(struct request *r, enum api_ok ok, json_t *body);

/**
 * A success reply built ahead of time: the JSON text, its headers and status, made on the
 * handler's thread so that a deferred answer (api/commit.h) costs the group committer's thread
 * nothing but a pointer store. Opaque; from api_prepare_json*(), consumed by api_reply_prepared()
 * or api_prepared_free(). Thread-safe to hand from one thread to another.
 */
struct api_prepared;

/**
 * @brief Prepare a JSON reply from TEXT (LEN bytes of JSON, malloc'd; stolen in every case).
 * @return the prepared reply, or NULL when memory runs out.
 */
struct api_prepared *api_prepare_json_text(enum api_ok ok, char *text, size_t len);

/** @brief As api_prepare_json_text() from a JSON value (stolen; NULL gives NULL). */
struct api_prepared *api_prepare_json(enum api_ok ok, json_t *body);

/** @brief Store P (stolen) as R's reply, like api_reply_json(); NULL answers 500 internal. */
void api_reply_prepared(struct request *r, struct api_prepared *p);

/** @brief Free P unused. NULL is ignored. */
void api_prepared_free(struct api_prepared *p);

/**
 * @brief Answer with the SPEC §10 error CODE: status kerr_status(CODE) and the body
 *        {"error":"<kerr_code(CODE)>","message":"<MESSAGE>"}.
 * @param[in] code     any kerr except KERR_OK (which is answered as 500 internal).
 * @param[in] message  a human text, or NULL for kerr_message(CODE). Only printable ASCII is sent
 *                     (other bytes become '?'), at most 255 bytes; never put secrets or personal
 *                     data in it.
 */
void api_reply_error(struct request *r, kerr code, const char *message);

/**
 * @brief As api_reply_error(), adding "Retry-After: SECONDS" (for KERR_RATE_LIMITED,
 *        KERR_UNAVAILABLE, KERR_JOURNAL_UNAVAILABLE).
 */
void api_reply_error_retry(struct request *r, kerr code, const char *message, unsigned int seconds);

/**
 * @brief Answer with LEN bytes of BYTES (copied) as CONTENT_TYPE, e.g. the text/plain checkpoint.
 * @param[in] ok            API_OK or API_CREATED.
 * @param[in] content_type  e.g. "text/plain; charset=utf-8".
 */
void api_reply_text(struct request *r, enum api_ok ok, const char *content_type, const void *bytes,
                    size_t len);

/**
 * @brief Answer the refusal ERR of a parser, statement or charter rule: its code, and its message
 *        followed by the field at fault in parentheses when ERR names one.
 */
void api_reply_jerr(struct request *r, const struct jerr *err);

/**
 * @brief Answer a storage or committer error E; KERR_UNAVAILABLE carries "Retry-After: 1".
 */
void api_reply_store_error(struct request *r, kerr e);

/**
 * @brief Add one header NAME: VALUE to the reply already stored on R (e.g. Location).
 * @return 0, or -1 when R has no stored reply or the header is refused (CR/LF in it).
 */
int api_reply_header(struct request *r, const char *name, const char *value);

/**
 * @brief Answer a static file (api/static.c): 200 with the LEN bytes at BYTES, or 304 with no
 *        body when NOT_MODIFIED. BYTES is not copied and must outlive the server. HEADERS is a
 *        NULL-terminated list of NAME, VALUE pairs; a "Cache-Control" in it replaces no-store.
 */
void api_reply_static(struct request *r, int not_modified, const void *bytes, size_t len,
                      const char *const *headers);

/* ---------------------------------------------------------------------------------------------
 * Deferred replies: a handler that waits for something slow (a durable group commit) need not
 * hold a worker thread. It calls api_defer(r) and returns; later, on any thread, it stores its
 * reply with one reply helper and calls api_resume(r). The connection is suspended meanwhile
 * and resumed by api_resume(); the order of api_resume() and the suspension does not matter.
 * ------------------------------------------------------------------------------------------- */

/**
 * @brief Mark R as answered later. Call from the handler, then return without replying. The
 *        request and its body stay valid until the reply is sent after api_resume().
 */
void api_defer(struct request *r);

/**
 * @brief Release a deferred request whose reply has just been stored (by a reply helper on this
 *        thread). Thread-safe; call exactly once per api_defer(); never touch R afterwards.
 */
void api_resume(struct request *r);

/* ---------------------------------------------------------------------------------------------
 * Input helpers. Each either succeeds (>= 0) or has already stored the error reply (-1): the
 * handler then just returns.
 * ------------------------------------------------------------------------------------------- */

/**
 * @brief Parse R's body as the JSON object of SPEC §2 and extract the N fields of SPEC.
 *
 * Requires Content-Type application/json (parameters allowed; a charset other than utf-8 is
 * refused). Then jspec_parse() and jspec_extract().
 * @param[out] json_out  on success: a new reference to the parsed object (json_decref() it when
 *                       done; string, array and object outputs of SPEC borrow from it).
 * @return 0; or -1 having answered 415 unsupported_media_type, or the jspec error (400 bad_json /
 *         bad_request / bad_encoding, the message naming the field at fault).
 */
int api_parse_body(struct request *r, const struct jspec *spec, size_t n, json_t **json_out)
    __attribute__((warn_unused_result));

/**
 * @brief Only the media-type check of api_parse_body(), for a handler that parses its body itself
 *        (POST /v1/charter takes a whole charter, checked by charter_load()).
 * @return 0; or -1 having answered 415 unsupported_media_type.
 */
int api_require_json(struct request *r) __attribute__((warn_unused_result));

/**
 * @brief Parse R's body as exactly a signed-statement envelope {"statement", "signature"} (SPEC §4),
 *        both strings, the statement at most MAX_B64 bytes of b64; as api_parse_body().
 * @param[out] statement, signature  borrowed from *JSON_OUT.
 */
int api_parse_envelope(struct request *r, size_t max_b64, json_t **json_out, const char **statement,
                       const char **signature) __attribute__((warn_unused_result));

/**
 * @brief The raw value of query parameter NAME ("?after=5" → "5"), or NULL when absent.
 *        Values are not percent-decoded: SPEC query values are identifiers and integers.
 *        With a repeated name, the first value counts.
 */
const char *api_query(const struct request *r, const char *name);

/**
 * @brief Read query parameter NAME as a decimal integer in [0, MAX] (digits only, no sign, no
 *        leading zeros).
 * @param[in]  required  non-zero: absence is an error.
 * @param[out] out       set only when the parameter is present and valid.
 * @return 1 present and valid; 0 absent and optional; -1 having answered 400 bad_request naming
 *         NAME.
 */
int api_query_u64(struct request *r, const char *name, int required, uint64_t max, uint64_t *out)
    __attribute__((warn_unused_result));

/**
 * @brief Read query parameter NAME as a SPEC §2 identifier.
 * @return 1 present and valid (*out points into the request); 0 absent and optional; -1 having
 *         answered 400 bad_request naming NAME.
 */
int api_query_id(struct request *r, const char *name, int required, const char **out)
    __attribute__((warn_unused_result));

/* ---------------------------------------------------------------------------------------------
 * The server (api/server.c).
 * ------------------------------------------------------------------------------------------- */

/** How to run the server; zero fields take the defaults named. */
struct api_config {
    const char *listen;        /* "127.0.0.1:8080" or "[::1]:8080"; port 0 picks one. NULL:
                                  "127.0.0.1:8080"                                              */
    const char *tls_cert;      /* PEM file paths; both or neither. TLS needs a libmicrohttpd    */
    const char *tls_key;       /* built with GnuTLS, else api_server_start() fails              */
    unsigned int threads;      /* worker threads; 0: the number of CPUs minus one (the group-commit
                                  thread keeps one busy), clamped to [1, 16]                   */
    size_t body_limit;         /* 0: API_BODY_LIMIT_DEFAULT                                     */
    unsigned int conn_limit;   /* 0: 1024 connections                                           */
    unsigned int per_ip_limit; /* 0: 128 connections per IP address                             */
    unsigned int timeout_s;    /* 0: 30 s idle timeout per connection                           */
    unsigned int header_timeout_s; /* 0: 10 s. A request's header block must be complete within
                                  this long of the connection opening, or of the previous answer
                                  plus the idle timeout on a kept-alive connection; else the
                                  connection is closed (slowloris; issue 8, row 6)              */
    unsigned int body_timeout_s; /* 0: 60 s. A request body must be complete within this long of
                                  its headers; else the connection is closed. No deadline runs
                                  while a handler or a deferred commit works on the request     */
    size_t conn_memory;        /* 0: 16 KiB per connection; bounds request line + headers       */
    unsigned int grace_ms;     /* 0: 5000 ms; how long api_server_stop() lets requests finish   */
    const struct route *routes; /* NULL: api_routes / api_routes_count                          */
    size_t nroutes;
    const struct api_static *web; /* the web page's files (api_static_load()), or NULL: none   */
    void *ctx;                 /* handed to every request as r->ctx                             */
};

/**
 * @brief Validate the route table, bind and start serving.
 * @param[in]  cfg   the configuration (copied; the route table and ctx must outlive the server).
 * @param[out] out   the running server.
 * @param[out] err   on failure: a one-line reason ("cannot listen on ...: Address in use").
 * @return 0, or -1 (bad listen address, unreadable TLS files, TLS unsupported, invalid route
 *         table, bind failure, out of memory).
 */
int api_server_start(const struct api_config *cfg, struct api_server **out, char *err,
                     size_t errlen) __attribute__((warn_unused_result));

/** @brief The TCP port the server listens on (the actual one when started with port 0). */
unsigned int api_server_port(const struct api_server *s);

/**
 * @brief How many connections S has closed so far because their header block or body was not
 *        complete by its deadline (header_timeout_s, body_timeout_s). Thread-safe; 0 for NULL.
 */
unsigned long long api_server_deadline_cuts(const struct api_server *s);

/**
 * @brief Stop accepting, let requests in flight finish (up to grace_ms; deadlines still apply),
 *        stop the deadline sweeper, stop and free S. NULL is accepted. Not to be called from a
 *        handler. From the call on every answer carries `Connection: close`, so kept-alive
 *        clients leave; after grace_ms a request reaching its handler is answered 503
 *        `unavailable` (Retry-After: 1), and the call waits until every deferred request has
 *        been released (api_resume()): the group commit must still be running.
 */
void api_server_stop(struct api_server *s);

/* ---------------------------------------------------------------------------------------------
 * The citizen web page (api/static.c): the files of one folder, read once at start, served from
 * memory by exact path; "/" is index.html. GET and HEAD only; every other path goes to the router.
 * ------------------------------------------------------------------------------------------- */

struct api_static;

/** The Content-Security-Policy sent with every file of the page. */
extern const char api_static_csp[];

/**
 * @brief Read the page's files under DIR (regular files with a known type, no symlinks, no dot
 *        files, at most 4 folders deep) into memory. DIR must hold index.html.
 * @return 0 with *OUT set (free with api_static_free()), or -1 with a reason in ERR.
 */
int api_static_load(const char *dir, struct api_static **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/** @brief Free what api_static_load() made. NULL is accepted. */
void api_static_free(struct api_static *st);

/** @brief How many files ST holds. */
size_t api_static_count(const struct api_static *st);

/**
 * @brief Answer R from ST when R is a GET or HEAD of one of its paths (with ETag, If-None-Match,
 *        the page's CSP and Cache-Control: no-cache).
 * @return 1 when a reply has been stored, 0 when R is not for the page (route it as usual).
 */
int api_static_serve(const struct api_static *st, struct request *r);

/* ---------------------------------------------------------------------------------------------
 * The router (api/router.c), used by the server.
 * ------------------------------------------------------------------------------------------- */

/**
 * @brief Check a route table: methods and handlers set, patterns start with '/', at most
 *        API_MAX_PARAMS captures, no duplicate (method, pattern).
 * @return 0, or -1 with a reason in ERR.
 */
int api_routes_check(const struct route *routes, size_t n, char *err, size_t errlen);

/**
 * @brief Find R's route in ROUTES by r->path and r->method (HEAD as GET). On a match, sets
 *        r->route_ and r->param[]; otherwise stores 404 not_found, or 405 method_not_allowed
 *        with an Allow header when the path is known.
 * @return 0 on a match, -1 when a reply has been stored.
 */
int api_route(struct request *r, const struct route *routes, size_t n);

#endif
