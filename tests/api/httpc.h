/*
 * tests/api/httpc.h — a small raw-socket HTTP/1.1 client for API tests.
 *
 * It sends exactly the bytes a test gives it (so tests can send what no polite client would:
 * oversized headers, lying lengths, broken chunking) and reads one response at a time: status,
 * headers and body, de-chunking chunked bodies and skipping 1xx interim answers. A connection
 * may carry several requests (keep-alive) or one. Every read and write has a 10 s timeout, and a
 * response larger than 32 MiB is refused, so a misbehaving server fails a test instead of hanging.
 */
#ifndef KLUIS_TESTS_HTTPC_H
#define KLUIS_TESTS_HTTPC_H

#include <stddef.h>

#define HTTPC_MAX_HEADERS 64

struct httpc_header {
    char *name;
    char *value;
};

/** One response. status 0 means none arrived (connection closed or reset first). */
struct httpc_resp {
    int status;
    struct httpc_header hdr[HTTPC_MAX_HEADERS];
    size_t nhdr;
    char *body;        /* NUL-terminated (the NUL not counted); "" when empty, never NULL after recv */
    size_t body_len;
    int chunked;       /* the body came with Transfer-Encoding: chunked */
};

struct httpc;

/** @brief Connect to HOST (numeric IPv4 or IPv6) and PORT. @return a connection or NULL. */
struct httpc *httpc_open(const char *host, unsigned int port);

/** @brief Close C and free it. NULL is accepted. */
void httpc_close(struct httpc *c);

/** @brief Send all LEN bytes. @return 0, or -1 (peer closed or reset, timeout). Never SIGPIPE. */
int httpc_send(struct httpc *c, const void *bytes, size_t len);

/**
 * @brief Read one response from C. HEAD non-zero: the request was HEAD (no body follows).
 * @return 0 with OUT filled (free with httpc_resp_free()), or -1 (no complete response; OUT is
 *         still safe to free, and OUT->status is 0 when not even a status line arrived).
 */
int httpc_recv(struct httpc *c, int head, struct httpc_resp *out);

/** @brief 1 when the server closed C (EOF within TIMEOUT_MS and no more data), else 0. */
int httpc_peer_closed(struct httpc *c, int timeout_ms);

/** @brief The value of header NAME (case-insensitive; first one), or NULL. */
const char *httpc_header(const struct httpc_resp *r, const char *name);

/** @brief Free what httpc_recv() put in R; R is zeroed. */
void httpc_resp_free(struct httpc_resp *r);

/**
 * @brief One-shot: connect, send the LEN raw bytes of REQ, read one response, close.
 *        A request starting with "HEAD " is read as HEAD.
 * @return as httpc_recv(); -1 also when the connection cannot be made.
 */
int httpc_exchange(const char *host, unsigned int port, const void *req, size_t len,
                   struct httpc_resp *out);

/**
 * @brief One-shot request built for the test: "METHOD PATH HTTP/1.1", Host, Connection: close,
 *        the EXTRA header lines (each ending in "\r\n"; NULL for none), a Content-Length when
 *        BODY is non-NULL, then the BODY_LEN bytes of BODY.
 */
int httpc_request(unsigned int port, const char *method, const char *path, const char *extra,
                  const void *body, size_t body_len, struct httpc_resp *out);

#endif
