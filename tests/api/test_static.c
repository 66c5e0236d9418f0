/*
 * tests/api/test_static.c — the web page's file server (api/static.c) over real sockets.
 *
 * A temporary web folder with a page, a nested module, a symlink, a dot file, a file of unknown type
 * and a "v1" folder is loaded once; the server then must serve exactly the listed files by exact
 * path (with the page's CSP, nosniff, ETag and 304), and 404 everything else however it is spelled:
 * traversal, escapes, directories, trailing slashes. API routes keep working beside the page.
 */
#include "api/api.h"
#include "tests/api/httpc.h"
#include "tests/test.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

TEST_MAIN_DEFS

static unsigned int port;

static void h_ping(struct request *r)
{
    api_reply_json(r, API_OK, json_pack("{s:s}", "pong", "yes"));
}

static const struct route routes[] = {
    { "GET", "/v1/ping", h_ping },
};

static void put(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static int get(const char *method, const char *path, const char *extra, struct httpc_resp *out)
{
    memset(out, 0, sizeof *out);
    return httpc_request(port, method, path, extra, NULL, 0, out);
}

static int status_of(const char *path)
{
    struct httpc_resp r;
    int st = get("GET", path, NULL, &r) == 0 ? r.status : -1;
    httpc_resp_free(&r);
    return st;
}

int main(void)
{
    char dir[] = "/tmp/kluis-static-XXXXXX", sub[600], err[256], path[600];
    struct api_static *st = NULL;
    struct api_server *srv = NULL;
    if (sodium_init() < 0 || !mkdtemp(dir))
        return 1;

    CHECK(api_static_load(dir, &st, err, sizeof err) != 0 && !st && strstr(err, "index.html"),
          "a folder without index.html is refused (%s)", err);
    CHECK(api_static_load("/nonexistent/kluis-web", &st, err, sizeof err) != 0 && !st,
          "a missing folder is refused");

    put(dir, "index.html", "<!doctype html><title>t</title>");
    put(dir, "app.js", "export const x = 1;\n");
    put(dir, "style.css", "body{}\n");
    put(dir, ".secret.js", "no");
    put(dir, "notes.md", "not a served type");
    put(dir, "binary.wasm", "\0asm");
    snprintf(sub, sizeof sub, "%s/vendor", dir);
    mkdir(sub, 0755);
    put(sub, "lib.mjs", "export default 2;\n");
    snprintf(sub, sizeof sub, "%s/v1", dir);
    mkdir(sub, 0755);
    put(sub, "health", "shadow");
    put(sub, "health.json", "{\"shadow\":1}");
    snprintf(path, sizeof path, "%s/link.js", dir);
    CHECK(symlink("/etc/hostname", path) == 0, "symlink made");
    snprintf(path, sizeof path, "%s/passwd.js", dir);
    CHECK(symlink("/etc/passwd", path) == 0, "second symlink made");

    CHECK(api_static_load(dir, &st, err, sizeof err) == 0 && st, "the folder loads: %s", st ? "ok" : err);
    CHECK(api_static_count(st) == 5, "exactly the five servable files are listed (%zu)",
          api_static_count(st));

    struct api_config cfg = {
        .listen = "127.0.0.1:0", .threads = 2, .routes = routes, .nroutes = 1, .web = st,
    };
    CHECK(api_server_start(&cfg, &srv, err, sizeof err) == 0, "server starts: %s", srv ? "ok" : err);
    if (!srv)
        return TEST_END();
    port = api_server_port(srv);

    struct httpc_resp r;
    CHECK(get("GET", "/", NULL, &r) == 0 && r.status == 200 && strstr(r.body, "<title>t</title>"),
          "GET / is index.html");
    const char *csp = httpc_header(&r, "Content-Security-Policy");
    CHECK(csp && strstr(csp, "default-src 'none'") && strstr(csp, "script-src 'self'") &&
              strstr(csp, "frame-ancestors 'none'") && strstr(csp, "form-action 'self'") &&
              !strstr(csp, "unsafe-inline"),
          "the page carries the strict CSP");
    CHECK(httpc_header(&r, "X-Content-Type-Options") &&
              strcmp(httpc_header(&r, "X-Content-Type-Options"), "nosniff") == 0,
          "nosniff");
    CHECK(httpc_header(&r, "Referrer-Policy") != NULL, "Referrer-Policy");
    CHECK(httpc_header(&r, "Content-Type") &&
              strncmp(httpc_header(&r, "Content-Type"), "text/html", 9) == 0,
          "text/html");
    const char *cc = httpc_header(&r, "Cache-Control");
    CHECK(cc && strcmp(cc, "no-cache") == 0, "Cache-Control: no-cache (revalidate) (%s)", cc ? cc : "-");
    char etag[80] = "";
    if (httpc_header(&r, "ETag"))
        snprintf(etag, sizeof etag, "%s", httpc_header(&r, "ETag"));
    CHECK(etag[0] == '"', "a strong ETag");
    httpc_resp_free(&r);

    char extra[160];
    snprintf(extra, sizeof extra, "If-None-Match: %s\r\n", etag);
    CHECK(get("GET", "/index.html", extra, &r) == 0 && r.status == 304 && r.body_len == 0,
          "If-None-Match with the ETag is 304 without a body");
    httpc_resp_free(&r);
    CHECK(get("GET", "/index.html", "If-None-Match: \"other\"\r\n", &r) == 0 && r.status == 200,
          "another ETag is 200");
    httpc_resp_free(&r);

    CHECK(get("GET", "/app.js", NULL, &r) == 0 && r.status == 200 &&
              strncmp(httpc_header(&r, "Content-Type"), "text/javascript", 15) == 0,
          "js is text/javascript");
    httpc_resp_free(&r);
    CHECK(get("GET", "/vendor/lib.mjs", NULL, &r) == 0 && r.status == 200 &&
              strncmp(httpc_header(&r, "Content-Type"), "text/javascript", 15) == 0,
          "a nested mjs is text/javascript");
    httpc_resp_free(&r);
    CHECK(get("GET", "/binary.wasm", NULL, &r) == 0 && r.status == 200 &&
              strcmp(httpc_header(&r, "Content-Type"), "application/wasm") == 0,
          "wasm is application/wasm");
    httpc_resp_free(&r);
    CHECK(get("GET", "/style.css", NULL, &r) == 0 && r.status == 200 &&
              strncmp(httpc_header(&r, "Content-Type"), "text/css", 8) == 0,
          "css is text/css");
    httpc_resp_free(&r);
    CHECK(get("HEAD", "/app.js", NULL, &r) == 0 && r.status == 200, "HEAD is served");
    httpc_resp_free(&r);

    static const char *const refused[] = {
        "/link.js", "/passwd.js", "/.secret.js", "/notes.md", "/vendor", "/vendor/",
        "/../index.html", "/vendor/../app.js", "/./app.js", "//app.js", "/app.js/",
        "/%2e%2e/etc/passwd", "/vendor%2flib.mjs", "/APP.JS", "/index.html%00", "/app.js%20",
        "/v1/health", "/v1/health.json", "/v1", "/etc/passwd",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        CHECK(status_of(refused[i]) == 404, "%s is 404", refused[i]);

    CHECK(get("POST", "/app.js", NULL, &r) == 0 && (r.status == 404 || r.status == 405),
          "POST to a page file is not served (%d)", r.status);
    httpc_resp_free(&r);
    CHECK(get("GET", "/v1/ping", NULL, &r) == 0 && r.status == 200 && strstr(r.body, "pong"),
          "API routes still answer beside the page");
    httpc_resp_free(&r);

    /* Files changed after the start are not seen: the list was read once. */
    put(dir, "late.js", "late");
    CHECK(status_of("/late.js") == 404, "a file added after the start is not served");

    api_server_stop(srv);
    api_static_free(st);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return TEST_END();
}
