/*
 * api/main.c — kluisd: `init` creates a vault, `serve` serves one (SPEC §12).
 *
 * main() is the only place in the server allowed to die: it parses arguments, opens the vault, starts
 * the HTTP server and waits for SIGINT/SIGTERM with the signals blocked in every thread, so a signal
 * ends the process in exactly one orderly way: stop accepting, finish the requests in flight, drain the
 * group committer, close the store. While waiting, it clears stale LMDB readers once a minute.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "vault/keyfile.h"
#include "vault/override.h"
#include "vault/secret.h"
#include "vault/vault.h"

static const char usage[] =
    "usage: kluisd init  --dir DIR --origin NAME --charter FILE --admin-pub FILE --authority-pub FILE\n"
    "       kluisd serve --dir DIR [--listen 127.0.0.1:8080] [--tls-cert FILE --tls-key FILE]\n"
    "                    [--threads N] [--port-file FILE] [--web DIR|none] [--max-per-ip N]\n"
    "                    [--map-size BYTES[K|M|G]] [--sweep-seconds N]\n"
    "                    [--header-timeout SECONDS] [--body-timeout SECONDS]\n"
    "                    [--readahead auto|on|off] [--warm on|off]\n"
    "       kluisd help\n";

static void die(int code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
static void die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("kluisd: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(code);
}

/* --name VALUE options; every option of the command must be listed in NAMES. */
static const char *opt(int argc, char **argv, const char *name)
{
    for (int i = 2; i + 1 < argc; i += 2)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return NULL;
}

static void check_opts(int argc, char **argv, const char *const *names)
{
    for (int i = 2; i < argc; i += 2) {
        int known = 0;
        for (const char *const *n = names; *n; n++)
            known |= strcmp(argv[i], *n) == 0;
        if (!known)
            die(2, "unknown option '%s'\n%s", argv[i], usage);
        if (i + 1 >= argc)
            die(2, "option '%s' needs a value", argv[i]);
    }
}

static char *read_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die(1, "cannot read %s: %s", path, strerror(errno));
    char *buf = malloc(max + 1);
    if (!buf)
        die(1, "out of memory");
    size_t n = fread(buf, 1, max + 1, f);
    fclose(f);
    if (n > max)
        die(1, "%s is larger than %zu bytes", path, max);
    buf[n] = 0;
    *len = n;
    return buf;
}

/* "8M", "1048576", "2G" → bytes; 0 for anything malformed or under 1 MiB. */
static size_t parse_size(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 10);
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10, end++;
    else if (*end == 'M' || *end == 'm')
        shift = 20, end++;
    else if (*end == 'G' || *end == 'g')
        shift = 30, end++;
    if (errno || end == s || *end || n > (1ULL << 40) >> shift || (n << shift) < (1u << 20))
        return 0;
    return (size_t)(n << shift);
}

static int cmd_init(int argc, char **argv)
{
    static const char *const names[] = {"--dir", "--origin", "--charter", "--admin-pub", "--authority-pub", NULL};
    check_opts(argc, argv, names);
    const char *dir = opt(argc, argv, "--dir"), *origin = opt(argc, argv, "--origin"),
               *charter = opt(argc, argv, "--charter"), *admin_pub = opt(argc, argv, "--admin-pub"),
               *auth_pub = opt(argc, argv, "--authority-pub");
    if (!dir || !origin || !charter || !admin_pub || !auth_pub)
        die(2, "init needs --dir, --origin, --charter, --admin-pub and --authority-pub\n%s", usage);

    struct vault_principal admin = {.active = 1};
    unsigned char authority_pk[32];
    struct jerr err = {0};
    struct keyfile *kf = NULL;
    if (keyfile_load(&kf, admin_pub, &err) != 0 || keyfile_kind(kf) != KEYFILE_PUBLIC ||
        keyfile_public_keys(admin.sign_pk, admin.box_pk, kf) != 0)
        die(1, "%s: %s", admin_pub, err.msg[0] ? err.msg : "not a public key file (kluis_pub)");
    snprintf(admin.id, sizeof admin.id, "%s", keyfile_id(kf));
    keyfile_free(kf);
    snprintf(admin.role, sizeof admin.role, "admin");
    snprintf(admin.display_name, sizeof admin.display_name, "%s", admin.id);
    snprintf(admin.organisation, sizeof admin.organisation, "%s", origin);
    if (keyfile_load(&kf, auth_pub, &err) != 0 || keyfile_kind(kf) != KEYFILE_AUTHORITY_PUB ||
        keyfile_public_keys(NULL, authority_pk, kf) != 0)
        die(1, "%s: %s", auth_pub, err.msg[0] ? err.msg : "not an authority public key file (kluis_authority_pub)");
    keyfile_free(kf);

    size_t clen = 0;
    char *cbytes = read_file(charter, 1 << 20, &clen);
    kerr e = vault_create(dir, origin, cbytes, clen, &admin, authority_pk, (int64_t)time(NULL), &err);
    free(cbytes);
    if (e != KERR_OK)
        die(1, "init: %s%s%s", err.field[0] ? err.field : "", err.field[0] ? ": " : "", err.msg);
    printf("kluisd: created the vault '%s' in %s (admin: %s)\n", origin, dir, admin.id);
    return 0;
}

/* The citizen web page: --web DIR, "--web none", or by default the web/dist folder of the checkout
 * the binary was built in (BIN/../web/dist for build/kluisd, BIN/../../web/dist for build/asan/),
 * when it holds a built page. */
static struct api_static *load_web(const char *opt_web)
{
    char exe[4096], dir[4200], err[256];
    struct api_static *st = NULL;
    if (opt_web && strcmp(opt_web, "none") == 0)
        return NULL;
    if (opt_web) {
        if (api_static_load(opt_web, &st, err, sizeof err) != 0)
            die(1, "%s", err);
        return st;
    }
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    for (int up = 2; up <= 3; up++) {
        char *slash = NULL;
        snprintf(dir, sizeof dir, "%s", exe);
        for (int i = 0; i < up && (slash = strrchr(dir, '/')) != NULL; i++)
            *slash = '\0';
        if (!slash)
            break;
        size_t used = strlen(dir);
        snprintf(dir + used, sizeof dir - used, "/web/dist");
        if (access(dir, F_OK) == 0 && api_static_load(dir, &st, err, sizeof err) == 0)
            return st;
    }
    return NULL;
}

/* The background warm of kluisd serve (vault_warm): the read path's tables into the page cache,
 * within half the machine's memory, so that a restarted vault does not meet its first reads with
 * one disk read each. */
struct warmer {
    vault *v;
    atomic_bool stop;
    pthread_t tid;
};

enum { WARM_THREADS = 16 }; /* page reads in flight: most of a warm is waiting for the disk */

static void *warm_run(void *arg)
{
    struct warmer *w = arg;
    struct vault_warm_report r;
    struct timespec t0, t1;
    uint64_t budget = vault_phys_mem() / 2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    kerr e = vault_warm(w->v, budget, WARM_THREADS, &w->stop, &r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (e != KERR_OK)
        fprintf(stderr, "kluisd: warm: stopped by an error (%s) after %.1f s\n", kerr_code(e), s);
    else
        fprintf(stderr, "kluisd: warm%s: %u tables, %zu records, %.1f GB in %.1f s%s%s\n",
                atomic_load(&w->stop) ? " (cut short by the stop)" : "", r.walked, r.records,
                (double)r.bytes / 1e9, s, r.skipped[0] ? "; left out, larger than half of memory: " : "",
                r.skipped);
    return NULL;
}

static int cmd_serve(int argc, char **argv)
{
    static const char *const names[] = {"--dir", "--listen", "--tls-cert", "--tls-key", "--threads", "--port-file", "--web",
                                         "--max-per-ip", "--map-size", "--sweep-seconds", "--header-timeout",
                                         "--body-timeout", "--readahead", "--warm", NULL};
    check_opts(argc, argv, names);
    const char *dir = opt(argc, argv, "--dir"), *threads = opt(argc, argv, "--threads"),
               *port_file = opt(argc, argv, "--port-file"), *per_ip = opt(argc, argv, "--max-per-ip");
    if (!dir)
        die(2, "serve needs --dir\n%s", usage);
    struct vault_open_opts vo = {0};
    const char *map_size = opt(argc, argv, "--map-size"), *sweep_s = opt(argc, argv, "--sweep-seconds");
    if (map_size && (vo.map_size = parse_size(map_size)) == 0)
        die(2, "--map-size: a size in bytes, optionally with K, M or G (at least 1M)");
    unsigned long sweep = 20;
    if (sweep_s) {
        char *end;
        sweep = strtoul(sweep_s, &end, 10);
        if (*end || sweep < 1 || sweep > 3600)
            die(2, "--sweep-seconds: 1 to 3600");
    }
    /* Deadlines for a complete header block and body (default 10 s and 60 s; SECURITY.md). */
    const char *hdr_s = opt(argc, argv, "--header-timeout"), *body_s = opt(argc, argv, "--body-timeout");
    unsigned long hdr_to = 0, body_to = 0;
    if (hdr_s) {
        char *end;
        hdr_to = strtoul(hdr_s, &end, 10);
        if (!*hdr_s || *end || hdr_to < 1 || hdr_to > 3600)
            die(2, "--header-timeout: 1 to 3600 seconds");
    }
    if (body_s) {
        char *end;
        body_to = strtoul(body_s, &end, 10);
        if (!*body_s || *end || body_to < 1 || body_to > 3600)
            die(2, "--body-timeout: 1 to 3600 seconds");
    }

    const char *ra = opt(argc, argv, "--readahead"), *warm = opt(argc, argv, "--warm");
    if (ra && strcmp(ra, "auto") == 0)
        vo.readahead = VAULT_READAHEAD_AUTO;
    else if (ra && strcmp(ra, "on") == 0)
        vo.readahead = VAULT_READAHEAD_ON;
    else if (ra && strcmp(ra, "off") == 0)
        vo.readahead = VAULT_READAHEAD_OFF;
    else if (ra)
        die(2, "--readahead: auto, on or off");
    if (warm && strcmp(warm, "on") != 0 && strcmp(warm, "off") != 0)
        die(2, "--warm: on or off");

    /* Block the stop signals before any thread starts, so that only sigwait() below sees them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    vault *v = NULL;
    struct jerr err = {0};
    kerr e = vault_open_with(&v, dir, &vo, &err);
    if (e != KERR_OK)
        die(1, "cannot open the vault: %s", err.msg);
    if (v->journal_moved)
        fprintf(stderr, "kluisd: journal moved to its current layout: %zu records\n", v->journal_moved);
    if (v->views_rebuilt)
        fprintf(stderr, "kluisd: grant views written again beside the entries: %zu grants\n", v->views_rebuilt);
    bool gb = v->file_bytes >= 1000000000u;
    fprintf(stderr, "kluisd: data.mdb %.1f %s, readahead %s\n", (double)v->file_bytes / (gb ? 1e9 : 1e6),
            gb ? "GB" : "MB", v->readahead ? "on" : "off (a page fault reads its own page only)");

    struct api_static *web = load_web(opt(argc, argv, "--web"));
    struct api_config cfg = {
        .listen = opt(argc, argv, "--listen"),
        .tls_cert = opt(argc, argv, "--tls-cert"),
        .tls_key = opt(argc, argv, "--tls-key"),
        .threads = threads ? (unsigned)strtoul(threads, NULL, 10) : 0,
        /* connections from one address (default 128); load tests from 127.0.0.1 raise it */
        .per_ip_limit = per_ip ? (unsigned)strtoul(per_ip, NULL, 10) : 0,
        .header_timeout_s = (unsigned)hdr_to,
        .body_timeout_s = (unsigned)body_to,
        .ctx = v,
        .web = web,
    };
    char msg[256];
    struct api_server *srv = NULL;
    if (api_server_start(&cfg, &srv, msg, sizeof msg) != 0) {
        vault_close(v);
        die(1, "%s", msg);
    }
    unsigned port = api_server_port(srv);
    if (port_file) {
        FILE *f = fopen(port_file, "w");
        if (!f || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0)
            die(1, "cannot write %s", port_file);
    }
    fprintf(stderr, "kluisd: web page: %zu files%s\n", api_static_count(web),
            web ? "" : " (none: build it with web/build.sh, or pass --web DIR)");
    fprintf(stderr, "kluisd: serving %s on port %u (log size %llu)\n", v->origin, port,
            (unsigned long long)tlog_size(v->log));
    struct warmer wm = {.v = v};
    atomic_init(&wm.stop, false);
    bool warming = !(warm && strcmp(warm, "off") == 0) && pthread_create(&wm.tid, NULL, warm_run, &wm) == 0;

    /* Every second: say once when the group committer has failed (an I/O error or failed fsync:
     * every write is refused from then on). Every SWEEP s (default 20): close expired overrides
     * (SPEC §7: within a minute of expiry), release held override notices; every third sweep, clear
     * dead reader slots. */
    int failed_told = 0;
    for (unsigned long tick_no = 1, round = 0;; tick_no++) {
        struct timespec tick = {1, 0};
        int sig = sigtimedwait(&stop, NULL, &tick);
        if (sig == SIGINT || sig == SIGTERM)
            break;
        gc_stats gs;
        gc_get_stats(v->gc, &gs);
        if (gs.failed && !failed_told) {
            failed_told = 1;
            fprintf(stderr,
                    "kluisd: the store failed (%s): every write and every audited read is refused with 503 "
                    "from now on; the last committed state is intact; restart kluisd once the disk is sound\n",
                    mdb_strerror(gs.failed_rc));
        }
        if (tick_no % sweep != 0)
            continue;
        round++;
        size_t closed = 0;
        if (override_sweep(v, (int64_t)time(NULL), &closed) == KERR_OK && closed)
            fprintf(stderr, "kluisd: closed %zu expired override(s)\n", closed);
        if (round % 3 == 0)
            (void)store_reader_check(v->st, NULL);
    }
    if (warming) { /* its read transactions must end before the vault closes */
        atomic_store(&wm.stop, true);
        pthread_join(wm.tid, NULL);
    }
    fprintf(stderr, "kluisd: stopping: finishing requests in flight\n");
    unsigned long long cuts = api_server_deadline_cuts(srv);
    api_server_stop(srv);
    if (cuts) /* one line in all, never one per connection */
        fprintf(stderr, "kluisd: %llu connection(s) closed at their header or body deadline\n", cuts);
    api_static_free(web);
    {
        gc_stats gs; /* how well the group committer batched (docs/performance.md) */
        gc_get_stats(v->gc, &gs);
        fprintf(stderr, "kluisd: group commit: %llu operations in %llu commits (mean %.1f, largest %llu)\n",
                (unsigned long long)gs.ops, (unsigned long long)gs.commits,
                gs.commits ? (double)gs.ops / (double)gs.commits : 0.0, (unsigned long long)gs.max_batch);
    }
    vault_close(v);
    fprintf(stderr, "kluisd: stopped\n");
    return 0;
}

int main(int argc, char **argv)
{
    /* Pin glibc's mmap threshold (which also stops its dynamic raising): LMDB allocates a 2 MiB
     * dirty-page list for every write transaction (one per group commit), and once glibc has raised
     * the threshold past 2 MiB those lists are carved from the heap, whose freed holes then pin pages:
     * RssAnon crept up by ~15-20 bytes per call while the live heap stayed flat (massif). Mapped and
     * unmapped each time, they leave the heap to small objects. See SECURITY.md, hygiene results. */
    (void)mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    if (secret_init(1) != 0)
        die(1, "cannot initialise libsodium");
    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "init") == 0)
        return cmd_init(argc, argv);
    if (strcmp(argv[1], "serve") == 0)
        return cmd_serve(argc, argv);
    die(2, "unknown command '%s'\n%s", argv[1], usage);
}
