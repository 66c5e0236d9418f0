/*
 * tests/api/httpc.c — the raw-socket HTTP/1.1 test client (see httpc.h).
 *
 * One buffered reader per connection, so bytes of a next keep-alive response that arrive with the
 * current one are kept. Parsing is deliberately strict about what a correct server sends and
 * forgiving of nothing: a malformed status line, header or chunk makes httpc_recv() fail, which
 * fails the test that called it.
 */
#include "tests/api/httpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define RESP_MAX ((size_t)32 * 1024 * 1024)

struct httpc {
    int fd;
    char *buf;
    size_t len;   /* bytes in buf */
    size_t off;   /* bytes consumed */
    size_t cap;
    int eof;
};

struct httpc *httpc_open(const char *host, unsigned int port)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in4 = (struct sockaddr_in *)(void *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)&ss;
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        sl = sizeof *in4;
    } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        sl = sizeof *in6;
    } else {
        return NULL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    struct timeval tv = { 10, 0 };
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&ss, sl) != 0) {
        close(fd);
        return NULL;
    }
    struct httpc *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return NULL;
    }
    c->fd = fd;
    return c;
}

void httpc_close(struct httpc *c)
{
    if (!c)
        return;
    close(c->fd);
    free(c->buf);
    free(c);
}

int httpc_send(struct httpc *c, const void *bytes, size_t len)
{
    const char *p = bytes;
    while (len) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Read more bytes into the buffer; -1 at EOF, error or the size cap. */
static int fill(struct httpc *c)
{
    if (c->eof)
        return -1;
    if (c->off > 0) { /* keep only unread bytes: a keep-alive connection must not grow */
        memmove(c->buf, c->buf + c->off, c->len - c->off);
        c->len -= c->off;
        c->off = 0;
    }
    if (c->len + 4096 > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16384;
        if (cap > RESP_MAX + 65536)
            return -1;
        char *nb = realloc(c->buf, cap);
        if (!nb)
            return -1;
        c->buf = nb;
        c->cap = cap;
    }
    for (;;) {
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            c->eof = 1;
            return -1;
        }
        c->len += (size_t)n;
        return 0;
    }
}

/* The next CRLF-terminated line (CRLF cut), NUL-terminated in a fresh allocation; NULL on EOF. */
static char *line(struct httpc *c)
{
    for (;;) {
        size_t avail = c->len - c->off;
        char *start = avail ? c->buf + c->off : NULL;
        char *nl = avail ? memchr(start, '\n', avail) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - start);
            if (n == 0 || start[n - 1] != '\r')
                return NULL; /* bare LF: a correct server never sends it */
            char *s = malloc(n);
            if (!s)
                return NULL;
            memcpy(s, start, n - 1);
            s[n - 1] = '\0';
            c->off += n + 1;
            return s;
        }
        if (avail > 65536 || fill(c) != 0)
            return NULL;
    }
}

/* Append exactly N body bytes to OUT. */
static int take(struct httpc *c, size_t n, struct httpc_resp *out)
{
    if (n > RESP_MAX || out->body_len + n > RESP_MAX)
        return -1;
    char *nb = realloc(out->body, out->body_len + n + 1);
    if (!nb)
        return -1;
    out->body = nb;
    while (n) {
        if (c->off == c->len && fill(c) != 0)
            return -1;
        size_t k = c->len - c->off < n ? c->len - c->off : n;
        memcpy(out->body + out->body_len, c->buf + c->off, k);
        out->body_len += k;
        c->off += k;
        n -= k;
    }
    out->body[out->body_len] = '\0';
    return 0;
}

static int crlf(struct httpc *c)
{
    char *l = line(c);
    int ok = l && l[0] == '\0';
    free(l);
    return ok ? 0 : -1;
}

static int hexsize(const char *s, size_t *out)
{
    size_t v = 0, i = 0;
    for (; s[i] && s[i] != ';' && s[i] != ' '; i++) {
        int d;
        char ch = s[i];
        if (ch >= '0' && ch <= '9')
            d = ch - '0';
        else if (ch >= 'a' && ch <= 'f')
            d = ch - 'a' + 10;
        else if (ch >= 'A' && ch <= 'F')
            d = ch - 'A' + 10;
        else
            return -1;
        if (v > RESP_MAX)
            return -1;
        v = v * 16 + (size_t)d;
    }
    if (i == 0)
        return -1;
    *out = v;
    return 0;
}

static int headers(struct httpc *c, struct httpc_resp *out)
{
    for (;;) {
        char *l = line(c);
        if (!l)
            return -1;
        if (!l[0]) {
            free(l);
            return 0;
        }
        char *colon = strchr(l, ':');
        if (!colon || colon == l || out->nhdr == HTTPC_MAX_HEADERS) {
            free(l);
            return -1;
        }
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t vl = strlen(v);
        while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
            v[--vl] = '\0';
        out->hdr[out->nhdr].name = l;
        out->hdr[out->nhdr].value = strdup(v);
        if (!out->hdr[out->nhdr].value)
            return -1;
        out->nhdr++;
    }
}

int httpc_recv(struct httpc *c, int head, struct httpc_resp *out)
{
    memset(out, 0, sizeof *out);
    for (;;) {
        char *l = line(c);
        int st = 0;
        if (!l)
            return -1;
        if (strncmp(l, "HTTP/1.", 7) != 0 || (l[7] != '0' && l[7] != '1') || l[8] != ' ' ||
            sscanf(l + 9, "%3d", &st) != 1 || st < 100 || st > 599) {
            free(l);
            return -1;
        }
        free(l);
        out->status = st;
        if (headers(c, out) != 0)
            return -1;
        if (st >= 200)
            break;
        httpc_resp_free(out); /* 100 Continue and friends */
    }
    out->body = calloc(1, 1);
    if (!out->body)
        return -1;
    if (head || out->status == 204 || out->status == 304)
        return 0;
    const char *te = httpc_header(out, "Transfer-Encoding");
    const char *cl = httpc_header(out, "Content-Length");
    if (te && strcasestr(te, "chunked")) {
        out->chunked = 1;
        for (;;) {
            char *l = line(c);
            size_t n;
            if (!l || hexsize(l, &n) != 0) {
                free(l);
                return -1;
            }
            free(l);
            if (n == 0)
                break;
            if (take(c, n, out) != 0 || crlf(c) != 0)
                return -1;
        }
        for (;;) { /* trailers up to the empty line */
            char *l = line(c);
            if (!l)
                return -1;
            int end = l[0] == '\0';
            free(l);
            if (end)
                return 0;
        }
    }
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno || *end || end == cl || n > RESP_MAX)
            return -1;
        return take(c, (size_t)n, out);
    }
    /* No length: the body runs to EOF. */
    for (;;) {
        if (c->off < c->len && take(c, c->len - c->off, out) != 0)
            return -1;
        if (fill(c) != 0)
            return 0;
    }
}

int httpc_peer_closed(struct httpc *c, int timeout_ms)
{
    if (c->off < c->len)
        return 0;
    if (c->eof)
        return 1;
    struct pollfd p = { c->fd, POLLIN, 0 };
    if (poll(&p, 1, timeout_ms) <= 0)
        return 0;
    char b;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK);
    if (n <= 0) {
        c->eof = 1;
        return 1;
    }
    return 0;
}

const char *httpc_header(const struct httpc_resp *r, const char *name)
{
    for (size_t i = 0; i < r->nhdr; i++)
        if (strcasecmp(r->hdr[i].name, name) == 0)
            return r->hdr[i].value;
    return NULL;
}

void httpc_resp_free(struct httpc_resp *r)
{
    for (size_t i = 0; i < r->nhdr; i++) {
        free(r->hdr[i].name);
        free(r->hdr[i].value);
    }
    free(r->body);
    memset(r, 0, sizeof *r);
}

int httpc_exchange(const char *host, unsigned int port, const void *req, size_t len,
                   struct httpc_resp *out)
{
    memset(out, 0, sizeof *out);
    struct httpc *c = httpc_open(host, port);
    if (!c)
        return -1;
    /* A send cut short by the server (it answered early and closed) still leaves its answer. */
    (void)httpc_send(c, req, len);
    int rc = httpc_recv(c, len >= 5 && memcmp(req, "HEAD ", 5) == 0, out);
    httpc_close(c);
    return rc;
}

int httpc_request(unsigned int port, const char *method, const char *path, const char *extra,
                  const void *body, size_t body_len, struct httpc_resp *out)
{
    char head[4096];
    int n;
    if (body)
        n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%sContent-Length: "
                     "%zu\r\n\r\n",
                     method, path, extra ? extra : "", body_len);
    else
        n = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s\r\n",
                     method, path, extra ? extra : "");
    memset(out, 0, sizeof *out);
    if (n < 0 || (size_t)n >= sizeof head)
        return -1;
    size_t total = (size_t)n + (body ? body_len : 0);
    char *req = malloc(total ? total : 1);
    if (!req)
        return -1;
    memcpy(req, head, (size_t)n);
    if (body && body_len)
        memcpy(req + n, body, body_len);
    int rc = httpc_exchange("127.0.0.1", port, req, total, out);
    free(req);
    return rc;
}
