/*
 * cli/util.c — the small things every command of kluis shares: dying with the right exit code
 * (and, with --json, a machine-readable error on stdout), option parsing with the global options
 * accepted anywhere, progress lines, times, random ids, file helpers, and a jansson allocator that
 * wipes every block it frees, so tokens, keys and decrypted entries parsed into JSON do not linger
 * in freed heap memory.
 */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vault/encoding.h"
#include "vault/jspec.h"

struct cli_global cli_g = {0};

static const char *exit_kind(int code)
{
    switch (code) {
    case EXIT_REFUSED: return "refused";
    case EXIT_USAGE: return "usage";
    case EXIT_CONNECT: return "connection";
    case EXIT_CRYPTO: return "verification";
    default: return "error";
    }
}

static void __attribute__((noreturn, format(printf, 3, 0))) vfail(int code, const char *kind, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    cli_progress_done();
    fprintf(stderr, "kluis: %s\n", msg);
    if (cli_g.json) {
        json_t *o = json_pack("{s:s, s:s, s:i}", "error", kind ? kind : exit_kind(code), "message", msg,
                              "exit", code);
        if (o) {
            json_dumpf(o, stdout, JSON_INDENT(2));
            fputc('\n', stdout);
            json_decref(o);
        }
    }
    fflush(stdout);
    fflush(stderr);
    /* die fast: no exit handlers. What was allocated goes with the process; secret memory is
     * mlock'ed and never reaches swap or a core file (secret_init turned core dumps off). */
    _exit(code);
}

void cli_die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(code, NULL, fmt, ap);
}

void cli_fail(int code, const char *kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(code, kind, fmt, ap);
}

/* ---- options ---------------------------------------------------------------------------------- */

static const struct cli_opt global_opts[] = {
    {"--server", OPT_STR, &cli_g.server},
    {"--key", OPT_STR, &cli_g.key_path},
    {"--citizen", OPT_STR, &cli_g.citizen},
    {"--cacert", OPT_STR, &cli_g.cacert},
    {"--json", OPT_FLAG, &cli_g.json},
    {"--timeout", OPT_INT, NULL}, /* handled below: a long, not an int64_t */
    {NULL, OPT_FLAG, NULL},
};

static int parse_int(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0)
        return -1;
    *out = v;
    return 0;
}

/* Try OPTS for ARGV[*I]; 1 when consumed, 0 when not one of them. */
static int try_opts(const struct cli_opt *opts, int argc, char **argv, int *i, const char *cmd)
{
    const char *a = argv[*i];
    const char *eq = strchr(a, '=');
    size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
    for (const struct cli_opt *o = opts; o && o->name; o++) {
        if (strlen(o->name) != nlen || strncmp(o->name, a, nlen) != 0)
            continue;
        if (o->kind == OPT_FLAG) {
            if (eq)
                cli_die(EXIT_USAGE, "%s: %s takes no value", cmd, o->name);
            *(int *)o->out = 1;
            return 1;
        }
        const char *v = eq ? eq + 1 : (*i + 1 < argc ? argv[++*i] : NULL);
        if (!v)
            cli_die(EXIT_USAGE, "%s: %s needs a value (see: kluis help %s)", cmd, o->name, cmd);
        if (o->kind == OPT_STR) {
            *(const char **)o->out = v;
        } else {
            int64_t n;
            if (parse_int(v, &n) != 0)
                cli_die(EXIT_USAGE, "%s: %s wants a whole number, not '%s'", cmd, o->name, v);
            if (o->out)
                *(int64_t *)o->out = n;
            else if (strcmp(o->name, "--timeout") == 0) {
                if (n < 1 || n > 3600)
                    cli_die(EXIT_USAGE, "--timeout must be 1..3600 seconds");
                cli_g.timeout = (long)n;
            }
        }
        return 1;
    }
    return 0;
}

int cli_parse_globals(int argc, char **argv, int i)
{
    while (i < argc && argv[i][0] == '-' && argv[i][1] == '-' && argv[i][2] != 0 &&
           strcmp(argv[i], "--help") != 0) {
        if (!try_opts(global_opts, argc, argv, &i, "kluis"))
            cli_die(EXIT_USAGE, "unknown option '%s' (see: kluis help)", argv[i]);
        i++;
    }
    return i;
}

size_t cli_parse(int argc, char **argv, const struct cli_opt *opts, const char **pos, size_t min,
                 size_t max, const char *cmd)
{
    size_t n = 0;
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && a[0] == '-' && a[1] != 0) {
            if (try_opts(opts, argc, argv, &i, cmd) || try_opts(global_opts, argc, argv, &i, cmd))
                continue;
            cli_die(EXIT_USAGE, "%s: unknown option '%s' (see: kluis help %s)", cmd, a, cmd);
        }
        if (n >= max)
            cli_die(EXIT_USAGE, "%s: unexpected argument '%s' (see: kluis help %s)", cmd, a, cmd);
        pos[n++] = a;
    }
    if (n < min)
        cli_die(EXIT_USAGE, "%s: missing argument (see: kluis help %s)", cmd, cmd);
    return n;
}

void cli_need_id(const char *s, const char *what)
{
    if (!s)
        cli_die(EXIT_USAGE, "%s is required", what);
    if (!jspec_is_id(s))
        cli_die(EXIT_USAGE, "%s '%s' is not a valid identifier (^[a-z0-9][a-z0-9._-]{0,62}$)", what, s);
}

json_t *cli_id_list(const char *csv, const char *what)
{
    if (!csv || !*csv)
        cli_die(EXIT_USAGE, "%s is required", what);
    json_t *a = json_array();
    char buf[KLUIS_ID_MAX + 1];
    const char *p = csv;
    while (a) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0 || len > KLUIS_ID_MAX)
            cli_die(EXIT_USAGE, "%s: '%s' is not a comma-separated list of identifiers", what, csv);
        memcpy(buf, p, len);
        buf[len] = 0;
        cli_need_id(buf, what);
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v) if (strcmp(json_string_value(v), buf) == 0)
            cli_die(EXIT_USAGE, "%s names '%s' twice", what, buf);
        json_array_append_new(a, json_string(buf));
        if (!comma)
            break;
        p = comma + 1;
    }
    if (!a)
        cli_die(EXIT_CRYPTO, "out of memory");
    return a;
}

/* ---- output ----------------------------------------------------------------------------------- */

void cli_emit(json_t *obj)
{
    if (cli_g.json && obj) {
        json_dumpf(obj, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
    }
    json_decref(obj);
}

static int progress_shown;

void cli_progress(const char *fmt, ...)
{
    if (!isatty(STDERR_FILENO))
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("\r\033[K", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
    progress_shown = 1;
}

void cli_progress_done(void)
{
    if (progress_shown) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        progress_shown = 0;
    }
}

const char *cli_time(int64_t t)
{
    static char buf[32];
    time_t tt = (time_t)t;
    struct tm tm;
    if (t <= 0 || !localtime_r(&tt, &tm) || !strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm))
        return "-";
    return buf;
}

void cli_new_id(char out[KLUIS_ID_MAX + 1], const char *prefix)
{
    unsigned char r[12];
    char hex[2 * sizeof r + 1];
    randombytes_buf(r, sizeof r);
    snprintf(out, KLUIS_ID_MAX + 1, "%s-%s", prefix, hex_encode(hex, r, sizeof r));
}

int64_t cli_now(void)
{
    return (int64_t)time(NULL);
}

const char *cli_jstr(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

int64_t cli_jint(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

void cli_jb64(unsigned char *out, size_t n, const json_t *obj, const char *key, const char *what)
{
    const char *s = cli_jstr(obj, key);
    if (!s || b64_decode_exact(out, n, s) != 0)
        cli_die(EXIT_CRYPTO, "the server's %s has no valid '%s' of %zu bytes", what, key, n);
}

/* ---- files ------------------------------------------------------------------------------------ */

char *cli_read_file(const char *path, size_t max, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        cli_die(EXIT_CRYPTO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        cli_die(EXIT_CRYPTO, "%s is not a regular file", path);
    if ((size_t)st.st_size > max)
        cli_die(EXIT_CRYPTO, "%s is larger than %zu bytes", path, max);
    char *buf = malloc((size_t)st.st_size + 1);
    size_t n = 0;
    while (buf && n < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            cli_die(EXIT_CRYPTO, "cannot read %s", path);
        n += (size_t)r;
    }
    close(fd);
    if (!buf)
        cli_die(EXIT_CRYPTO, "out of memory");
    buf[n] = 0;
    *len = n;
    return buf;
}

unsigned char *cli_read_stdin(size_t max, size_t *len)
{
    size_t cap = 4096, n = 0;
    unsigned char *buf = malloc(cap + 1);
    for (;;) {
        if (!buf)
            cli_die(EXIT_CRYPTO, "out of memory");
        ssize_t r = read(STDIN_FILENO, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            cli_die(EXIT_USAGE, "cannot read standard input: %s", strerror(errno));
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max)
            cli_die(EXIT_USAGE, "standard input is longer than %zu bytes", max);
        if (n == cap) {
            cap *= 2;
            unsigned char *nb = realloc(buf, cap + 1);
            if (!nb)
                free(buf);
            buf = nb;
        }
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

int cli_write_new(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    const unsigned char *p = data;
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, p + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(path);
            errno = e;
            return -1;
        }
        done += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        unlink(path);
        errno = e;
        return -1;
    }
    return 0;
}

/* ---- a wiping allocator for jansson ------------------------------------------------------------- */

/* Plain malloc'd blocks (so that code freeing json_dumps() output with free() stays right), wiped
 * on free over their usable size. */
static void wipe_free(void *p)
{
    if (!p)
        return;
    sodium_memzero(p, malloc_usable_size(p));
    free(p);
}

void cli_json_wiping(void)
{
    json_set_alloc_funcs(malloc, wipe_free);
}
