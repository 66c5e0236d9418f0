/*
 * cli/http.c — the one place kluis talks HTTP, over libcurl.
 *
 * What it guarantees: only http and https, no redirects followed (a redirect is an answer like any
 * other, never a silent change of server); TLS 1.2 or later with certificate and host name checks
 * always on (--cacert adds a municipal CA, nothing turns checking off); plain http only to a
 * loopback address unless KLUIS_INSECURE_HTTP=1, since tokens, bundles and wraps would cross the
 * network in the clear; a connect timeout and a whole-request timeout; answers larger than
 * HTTP_MAX_ANSWER refused. Answer buffers are wiped when freed: they hold tokens and bundles.
 * Every transport failure ends the program with exit 3 and one sentence.
 */
#include "cli/cli.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vault/secret.h"

#define HTTP_MAX_ANSWER ((size_t)256 * 1024 * 1024)
#define HTTP_CONNECT_TIMEOUT 10L

static CURL *curl;

struct sink {
    char *buf;
    size_t len, cap;
    int overflow;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct sink *s = ud;
    size_t n = size * nmemb;
    if (n > HTTP_MAX_ANSWER - s->len) {
        s->overflow = 1;
        return 0;
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 16384;
        while (cap < s->len + n + 1)
            cap *= 2;
        char *nb = malloc(cap);
        if (!nb)
            return 0;
        if (s->buf) {
            memcpy(nb, s->buf, s->len);
            sodium_memzero(s->buf, s->cap);
            free(s->buf);
        }
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, ptr, n);
    s->len += n;
    s->buf[s->len] = 0;
    return n;
}

/* Is HOST (from the URL) a loopback address? */
static int loopback(const char *host)
{
    return strcmp(host, "127.0.0.1") == 0 || strncmp(host, "127.", 4) == 0 || strcmp(host, "[::1]") == 0 ||
           strcmp(host, "::1") == 0 || strcasecmp(host, "localhost") == 0;
}

static void check_server(void)
{
    const char *s = cli_g.server;
    const char *rest;
    if (strncmp(s, "https://", 8) == 0)
        return;
    if (strncmp(s, "http://", 7) != 0)
        cli_die(EXIT_USAGE, "--server must be an http:// or https:// URL, not '%s'", s);
    rest = s + 7;
    char host[256];
    size_t n = strcspn(rest, "/");
    if (rest[0] == '[') {
        const char *end = strchr(rest, ']');
        n = end ? (size_t)(end - rest) + 1 : n;
    } else {
        n = strcspn(rest, ":/");
    }
    if (n == 0 || n >= sizeof host)
        cli_die(EXIT_USAGE, "--server '%s' has no host", s);
    memcpy(host, rest, n);
    host[n] = 0;
    const char *ok = getenv("KLUIS_INSECURE_HTTP");
    if (!loopback(host) && !(ok && strcmp(ok, "1") == 0))
        cli_die(EXIT_USAGE,
                "refusing plain http to %s: use https:// (or set KLUIS_INSECURE_HTTP=1 for a test network)",
                host);
}

void http_cleanup(void)
{
    if (curl) {
        curl_easy_cleanup(curl);
        curl = NULL;
        curl_global_cleanup();
    }
}

void http_request(struct http_resp *resp, const char *method, const char *path, const char *body,
                  size_t body_len, const char *token)
{
    memset(resp, 0, sizeof *resp);
    if (!curl) {
        check_server();
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || !(curl = curl_easy_init()))
            cli_die(EXIT_CONNECT, "cannot initialise libcurl");
    } else {
        curl_easy_reset(curl);
    }
    size_t ulen = strlen(cli_g.server) + strlen(path) + 1;
    char *url = malloc(ulen);
    if (!url)
        cli_die(EXIT_CRYPTO, "out of memory");
    snprintf(url, ulen, "%s%s", cli_g.server, path);

    struct curl_slist *h = NULL;
    char *auth = NULL;
    h = curl_slist_append(h, "Accept: application/json");
    h = curl_slist_append(h, "Expect:");
    if (body)
        h = curl_slist_append(h, "Content-Type: application/json");
    if (token) {
        size_t alen = strlen(token) + 32;
        auth = secret_new(alen);
        if (!auth)
            cli_die(EXIT_CRYPTO, "out of secure memory");
        snprintf(auth, alen, "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    if (!h)
        cli_die(EXIT_CRYPTO, "out of memory");

    struct sink s = {0};
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, HTTP_CONNECT_TIMEOUT);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, cli_g.timeout > 0 ? cli_g.timeout : 60L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (cli_g.cacert)
        curl_easy_setopt(curl, CURLOPT_CAINFO, cli_g.cacert);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "kluis/1");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    } else {
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
        if (body || strcmp(method, "POST") == 0) {
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body ? body : "");
            curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
        }
    }

    CURLcode rc = curl_easy_perform(curl);
    curl_slist_free_all(h);
    secret_free(auth);
    if (rc != CURLE_OK) {
        if (s.buf) {
            sodium_memzero(s.buf, s.cap);
            free(s.buf);
        }
        if (s.overflow)
            cli_die(EXIT_CONNECT, "the answer of %s is larger than %zu bytes", url, HTTP_MAX_ANSWER);
        cli_fail(EXIT_CONNECT, "connection", "cannot reach %s: %s", url,
                 errbuf[0] ? errbuf : curl_easy_strerror(rc));
    }
    free(url);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
    char *ct = NULL;
    if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
        snprintf(resp->content_type, sizeof resp->content_type, "%s", ct);
    if (!s.buf) {
        s.buf = malloc(1);
        if (!s.buf)
            cli_die(EXIT_CRYPTO, "out of memory");
        s.buf[0] = 0;
        s.cap = 1;
    }
    resp->body = s.buf;
    resp->len = s.len;
}

void http_resp_free(struct http_resp *resp)
{
    if (resp->body) {
        sodium_memzero(resp->body, resp->len);
        free(resp->body);
    }
    memset(resp, 0, sizeof *resp);
}
