/*
 * api/static.c — the citizen web page: a fixed set of files read once at start, served from memory.
 *
 * kluisd serves the page (SPEC §6 "GET / and static assets") from the folder the web build made
 * (web/dist). That folder is read exactly once, by api_static_load(), into an in-memory table of
 * {URL path, bytes, Content-Type, ETag}; a request is then answered by an exact, byte-for-byte
 * lookup of its raw path in that table. No path taken from a URL ever reaches the filesystem, so
 * there is nothing to traverse: "..", "%2e%2e", "//", symlinks, directories and files added after
 * the start simply are not in the table and are 404 like any unknown path. No directory listing
 * exists to be served.
 *
 * Loading is defensive too: only regular files (opened O_NOFOLLOW, checked with fstat), names of
 * [A-Za-z0-9._-] not starting with '.', at most MAX_DEPTH folders deep, with an extension from
 * the type table (anything else is left out), within file-count and size limits. A folder named
 * "v1" at the top is refused, so the page can never shadow the API.
 *
 * Every answer carries the page's Content-Security-Policy (the worker that runs Argon2id gets its
 * policy from its own script's response, so every file carries it), plus the headers every kluisd
 * reply has (nosniff, Referrer-Policy). Files are revalidated on every use (Cache-Control:
 * no-cache with a strong ETag, If-None-Match → 304): a vault upgrade is seen at once, and an
 * unchanged file costs one small round trip.
 */
#include "api/api.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILES 512
#define MAX_DEPTH 4
#define MAX_FILE_SIZE ((size_t)16 * 1024 * 1024)
#define MAX_TOTAL_SIZE ((size_t)96 * 1024 * 1024)
#define MAX_PATH_LEN 200

/*
 * The policy for the page. 'wasm-unsafe-eval' lets libsodium compile its WebAssembly (it
 * allows WebAssembly.instantiate only, not eval() or new Function()); data: images are the
 * NL Design System's inline SVG check marks. No inline script or style anywhere.
 */
const char api_static_csp[] =
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src 'self'; "
    "manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "
    "object-src 'none'";

struct static_file {
    char *path;          /* "/app.js": the URL path, exactly */
    unsigned char *data;
    size_t len;
    const char *ctype;
    char etag[40];       /* "\"<32 hex>\"" */
};

struct api_static {
    struct static_file *f;
    size_t n, cap;
    size_t total;
    const struct static_file *index; /* "/index.html", also served for "/" */
};

static const struct {
    const char *ext;
    const char *ctype;
} types[] = {
    { ".html", "text/html; charset=utf-8" },
    { ".js", "text/javascript; charset=utf-8" },
    { ".mjs", "text/javascript; charset=utf-8" },
    { ".css", "text/css; charset=utf-8" },
    { ".json", "application/json" },
    { ".wasm", "application/wasm" },
    { ".svg", "image/svg+xml" },
    { ".png", "image/png" },
    { ".ico", "image/x-icon" },
    { ".woff2", "font/woff2" },
    { ".txt", "text/plain; charset=utf-8" },
};

static const char *type_of(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        size_t e = strlen(types[i].ext);
        if (n > e && strcmp(name + n - e, types[i].ext) == 0)
            return types[i].ctype;
    }
    return NULL;
}

static int name_ok(const char *s)
{
    if (!s[0] || s[0] == '.' || strlen(s) > 100)
        return 0;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* Read all of FD (a regular file of SIZE bytes) into a new buffer. */
static unsigned char *slurp(int fd, size_t size)
{
    unsigned char *buf = malloc(size ? size : 1);
    size_t got = 0;
    if (!buf)
        return NULL;
    while (got < size) {
        ssize_t k = read(fd, buf + got, size - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    if (got != size) {
        free(buf);
        return NULL;
    }
    return buf;
}

static int add_file(struct api_static *st, int dirfd, const char *name, const char *urlpath,
                    const char *ctype, char *err, size_t errlen)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
    struct stat sb;
    if (fd < 0) {
        if (errno == ELOOP)
            return 0; /* a symlink: never served */
        snprintf(err, errlen, "cannot open web file %s: %s", urlpath, strerror(errno));
        return -1;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return 0;
    }
    if ((size_t)sb.st_size > MAX_FILE_SIZE || st->total + (size_t)sb.st_size > MAX_TOTAL_SIZE ||
        st->n >= MAX_FILES) {
        close(fd);
        snprintf(err, errlen, "web folder too large at %s", urlpath);
        return -1;
    }
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 32;
        struct static_file *nf = realloc(st->f, cap * sizeof *nf);
        if (!nf) {
            close(fd);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        st->f = nf;
        st->cap = cap;
    }
    struct static_file *f = &st->f[st->n];
    memset(f, 0, sizeof *f);
    f->len = (size_t)sb.st_size;
    f->data = slurp(fd, f->len);
    close(fd);
    f->path = strdup(urlpath);
    if (!f->data || !f->path) {
        free(f->data);
        free(f->path);
        snprintf(err, errlen, "cannot read web file %s", urlpath);
        return -1;
    }
    f->ctype = ctype;
    unsigned char h[16];
    char hex[33];
    crypto_generichash(h, sizeof h, f->data, f->len, NULL, 0);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    snprintf(f->etag, sizeof f->etag, "\"%s\"", hex);
    st->total += f->len;
    st->n++;
    return 0;
}

/* Add the files under DIRFD (whose URL prefix is PREFIX, "" at the top), recursing into folders. */
static int walk(struct api_static *st, int dirfd, const char *prefix, int depth, char *err,
                size_t errlen)
{
    DIR *d = fdopendir(dirfd);
    if (!d) {
        close(dirfd);
        snprintf(err, errlen, "cannot list the web folder: %s", strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        char urlpath[MAX_PATH_LEN + 1];
        struct stat sb;
        if (!name_ok(e->d_name))
            continue;
        if (fstatat(dirfd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        int n = snprintf(urlpath, sizeof urlpath, "%s/%s", prefix, e->d_name);
        if (n < 0 || (size_t)n >= sizeof urlpath)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            if (depth >= MAX_DEPTH || (depth == 0 && strcmp(e->d_name, "v1") == 0))
                continue;
            int sub = openat(dirfd, e->d_name,
                             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0)
                continue;
            rc = walk(st, sub, urlpath, depth + 1, err, errlen);
        } else if (S_ISREG(sb.st_mode)) {
            const char *ct = type_of(e->d_name);
            if (ct)
                rc = add_file(st, dirfd, e->d_name, urlpath, ct, err, errlen);
        }
    }
    closedir(d);
    return rc;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const struct static_file *)a)->path, ((const struct static_file *)b)->path);
}

void api_static_free(struct api_static *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n; i++) {
        free(st->f[i].path);
        free(st->f[i].data);
    }
    free(st->f);
    free(st);
}

int api_static_load(const char *dir, struct api_static **out, char *err, size_t errlen)
{
    *out = NULL;
    struct api_static *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open the web folder %s: %s", dir, strerror(errno));
        free(st);
        return -1;
    }
    if (walk(st, fd, "", 0, err, errlen) != 0) {
        api_static_free(st);
        return -1;
    }
    if (st->n)
        qsort(st->f, st->n, sizeof *st->f, by_path);
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->f[i].path, "/index.html") == 0)
            st->index = &st->f[i];
    if (!st->index) {
        snprintf(err, errlen, "the web folder %s has no index.html (run web/build.sh)", dir);
        api_static_free(st);
        return -1;
    }
    *out = st;
    return 0;
}

size_t api_static_count(const struct api_static *st)
{
    return st ? st->n : 0;
}

/* Does the If-None-Match header list ETAG (or "*")? */
static int etag_listed(const char *inm, const char *etag)
{
    size_t el = strlen(etag);
    const char *p = inm;
    while (p && *p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        if (*p == '*')
            return 1;
        if (strncmp(p, etag, el) == 0 && (p[el] == '\0' || p[el] == ',' || p[el] == ' '))
            return 1;
        p = strchr(p, ',');
    }
    return 0;
}

int api_static_serve(const struct api_static *st, struct request *r)
{
    const struct static_file *f = NULL;
    if (!st || !r->path || (strcmp(r->method, "GET") != 0 && !r->is_head))
        return 0;
    if (strcmp(r->path, "/") == 0) {
        f = st->index;
    } else if (strlen(r->path) <= MAX_PATH_LEN) {
        struct static_file key = { .path = (char *)r->path };
        f = st->n ? bsearch(&key, st->f, st->n, sizeof *st->f, by_path) : NULL;
    }
    if (!f)
        return 0;
    const char *inm = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "If-None-Match");
    int not_modified = inm && etag_listed(inm, f->etag);
    const char *const headers[] = {
        "Content-Type", f->ctype,
        "ETag", f->etag,
        "Cache-Control", "no-cache",
        "Content-Security-Policy", api_static_csp,
        "Cross-Origin-Opener-Policy", "same-origin",
        "Cross-Origin-Resource-Policy", "same-origin",
        "X-Frame-Options", "DENY",
        "Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
        NULL,
    };
    api_reply_static(r, not_modified, f->data, f->len, headers);
    return 1;
}
