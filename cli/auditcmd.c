/*
 * cli/auditcmd.c — `kluis audit verify`: the council auditor's independent check of the vault's
 * transparency log (SPEC §8), in the manner of GNU Taler's auditor and Go's sumdb client.
 *
 * Trust: only the log's Ed25519 key, pinned on the first run (from GET /v1/vault, or --log-key)
 * in a state file together with the origin and the last checkpoint this auditor verified. Each run:
 *
 *   1. the vault's published log key and origin must still be the pinned ones;
 *   2. the latest checkpoint must verify under the pinned key and origin;
 *   3. it must not be smaller than the one verified before (rollback), and a consistency proof
 *      from that one must verify (fork); equal sizes need equal roots;
 *   4. EVERY leaf is fetched (GET /v1/log/entries, 1000 a call) and the RFC 9162 root recomputed
 *      over all of them must equal the checkpoint's root; the first old-size leaves must also give
 *      the root verified before. Re-fetching the whole log each run keeps the state file tiny and
 *      lets the semantic replay (cli/audit.c) start from leaf 0, where the keys and charters it
 *      needs are registered; a municipal log of 10^5 leaves is ~100 requests;
 *   5. cli/audit.c replays the leaves and names every violation.
 *
 * Steps 1–4 failing is fatal (the leaves cannot be trusted; exit 4, the state is left as it
 * was). Otherwise the state advances to the new checkpoint — the log is append-only up to it,
 * even when step 5 found violations, which every later run reports again.
 *
 * `kluis audit verify` then prints the council auditor's report (one line per override: who, whom,
 * why, for whom, how long, approvals, verdict); `kluis audit show ID` runs the same steps and prints
 * one override's whole history (audit_override_detail()). Both exit 4 on a violation.
 */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/audit.h"
#include "vault/checkpoint.h"
#include "vault/encoding.h"
#include "vault/jspec.h"
#include "vault/merkle.h"

#define STATE_MAX 8192

struct audit_state {
    int have;                  /* a state file was read */
    char origin[CHECKPOINT_ORIGIN_MAX + 1];
    unsigned char log_pk[32];
    uint64_t size;
    unsigned char root[32];
};

/* A fatal integrity failure: one line naming the rule, exit 4, state untouched. */
static void __attribute__((noreturn)) integrity(const char *rule, const char *detail)
{
    cli_fail(EXIT_CRYPTO, rule, "audit failed: %s: %s", rule, detail);
}

/* mkdir -p of the directory part of PATH, each new level 0700. */
static void mkdirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            cli_die(EXIT_CRYPTO, "cannot create %s: %s", buf, strerror(errno));
        *p = '/';
    }
}

/* Default state file: $XDG_STATE_HOME/kluis (or ~/.local/state/kluis)/audit-<hash of server>.json. */
static const char *default_state_path(void)
{
    static char path[4096];
    unsigned char h[16];
    char hex[33];
    crypto_generichash(h, sizeof h, (const unsigned char *)cli_g.server, strlen(cli_g.server), NULL, 0);
    hex_encode(hex, h, sizeof h);
    const char *x = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    if (x && x[0] == '/' && strlen(x) < 2048)
        snprintf(path, sizeof path, "%s/kluis/audit-%s.json", x, hex);
    else if (home && home[0] == '/' && strlen(home) < 2048)
        snprintf(path, sizeof path, "%s/.local/state/kluis/audit-%s.json", home, hex);
    else
        cli_die(EXIT_USAGE, "no $XDG_STATE_HOME or $HOME: give --state FILE");
    return path;
}

/* Read the state file, when there is one: a regular file of ours that nobody else can write. */
static void state_read(struct audit_state *s, const char *path)
{
    memset(s, 0, sizeof *s);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return;
        cli_die(EXIT_CRYPTO, "cannot open the audit state %s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022) ||
        st.st_size > STATE_MAX) {
        close(fd);
        cli_die(EXIT_CRYPTO, "the audit state %s is not a regular file of ours that only we can write", path);
    }
    char buf[STATE_MAX + 1];
    ssize_t n = read(fd, buf, STATE_MAX);
    close(fd);
    if (n < 0)
        cli_die(EXIT_CRYPTO, "cannot read %s", path);
    buf[n] = 0;
    struct jerr err = {0};
    json_t *j = jspec_parse(buf, (size_t)n, &err);
    const char *origin = j ? cli_jstr(j, "origin") : NULL, *pk = j ? cli_jstr(j, "log_pk") : NULL;
    const char *root = j ? cli_jstr(j, "root") : NULL;
    json_int_t size = j ? json_integer_value(json_object_get(j, "size")) : 0;
    size_t rl = 0;
    if (!j || json_integer_value(json_object_get(j, "kluis_audit")) != 1 || !origin ||
        !checkpoint_origin_valid(origin) || !pk || b64_decode_exact(s->log_pk, 32, pk) != 0 || !root ||
        b64std_decode(s->root, 32, &rl, root, strlen(root)) != 0 || rl != 32 || size < 1)
        cli_die(EXIT_CRYPTO, "the audit state %s is damaged", path);
    snprintf(s->origin, sizeof s->origin, "%s", origin);
    s->size = (uint64_t)size;
    s->have = 1;
    json_decref(j);
}

/* Replace the state file atomically: a fresh 0600 file beside it, fsync'd, renamed into place. */
static void state_write(const struct audit_state *s, const char *path)
{
    char *pk = b64_encode(s->log_pk, 32), *root = b64std_encode(s->root, 32);
    json_t *j = (pk && root) ? json_pack("{s:i, s:s, s:s, s:s, s:I, s:s, s:I}", "kluis_audit", 1, "server",
                                         cli_g.server, "origin", s->origin, "log_pk", pk, "size",
                                         (json_int_t)s->size, "root", root, "verified", (json_int_t)cli_now())
                                : NULL;
    char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    free(pk);
    free(root);
    json_decref(j);
    if (!text)
        cli_die(EXIT_CRYPTO, "out of memory");
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    mkdirs(path);
    unlink(tmp);
    size_t len = strlen(text);
    text[len++] = '\n'; /* json_dumps leaves room: the NUL */
    if (cli_write_new(tmp, text, len) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        free(text);
        cli_die(EXIT_CRYPTO, "cannot write the audit state %s: %s", path, strerror(e));
    }
    free(text);
}

/* GET the latest checkpoint and verify it under the pinned origin and key. */
static void fetch_checkpoint(const struct audit_state *pin, uint64_t *size, unsigned char root[32])
{
    struct http_resp resp;
    http_request(&resp, "GET", "/v1/log/checkpoint", NULL, 0, NULL);
    if (resp.status != 200)
        cli_die(EXIT_CONNECT, "GET /v1/log/checkpoint answered HTTP %ld", resp.status);
    if (checkpoint_verify(size, root, resp.body, resp.len, pin->origin, pin->log_pk) != 0)
        integrity("checkpoint-signature", "the latest checkpoint does not verify with the pinned log key and origin");
    http_resp_free(&resp);
}

static void check_consistency(const struct audit_state *old, uint64_t size, const unsigned char root[32])
{
    char msg[256];
    if (size < old->size) {
        snprintf(msg, sizeof msg, "the vault's checkpoint has %llu leaves, fewer than the %llu verified before",
                 (unsigned long long)size, (unsigned long long)old->size);
        integrity("log-rollback", msg);
    }
    if (size == old->size) {
        if (sodium_memcmp(root, old->root, 32) != 0)
            integrity("log-fork", "a checkpoint of the same size as the one verified before, with another root");
        return;
    }
    char path[128];
    snprintf(path, sizeof path, "/v1/log/proof/consistency?from=%llu&to=%llu", (unsigned long long)old->size,
             (unsigned long long)size);
    json_t *ans = api_call("GET", path, NULL, API_ANON);
    const json_t *p = json_object_get(ans, "path");
    size_t n = json_array_size(p);
    if (!json_is_array(p) || n > MERKLE_MAX_PROOF)
        cli_die(EXIT_CONNECT, "the consistency proof is not a list of hashes");
    unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES];
    for (size_t i = 0; i < n; i++) {
        const char *h = json_string_value(json_array_get(p, i));
        if (!h || b64_decode_exact(proof[i], 32, h) != 0)
            cli_die(EXIT_CONNECT, "the consistency proof holds a malformed hash");
    }
    json_decref(ans);
    if (merkle_verify_consistency(old->size, size, (const unsigned char(*)[MERKLE_HASH_BYTES])proof, n, old->root,
                                  root) != 0) {
        snprintf(msg, sizeof msg,
                 "the tree of %llu leaves does not extend the one of %llu verified before (consistency proof fails)",
                 (unsigned long long)size, (unsigned long long)old->size);
        integrity("log-fork", msg);
    }
}

/* Fetch leaves [0, SIZE), hash them into M and feed them to A. */
static void fetch_leaves(struct audit *a, merkle_mem *m, uint64_t size)
{
    for (uint64_t start = 0; start < size;) {
        uint64_t end = size - start > 1000 ? start + 1000 : size;
        char path[128];
        snprintf(path, sizeof path, "/v1/log/entries?start=%llu&end=%llu", (unsigned long long)start,
                 (unsigned long long)end);
        cli_progress("fetching log entries %llu..%llu of %llu", (unsigned long long)start, (unsigned long long)end,
                     (unsigned long long)size);
        json_t *ans = api_call("GET", path, NULL, API_AUTH);
        const json_t *list = json_object_get(ans, "entries");
        size_t n = json_array_size(list);
        if (!json_is_array(list) || n == 0 || n > end - start)
            cli_die(EXIT_CONNECT, "GET %s answered no list of entries", path);
        for (size_t i = 0; i < n; i++) {
            const json_t *e = json_array_get(list, i);
            const char *b = cli_jstr(e, "leaf");
            if (cli_jint(e, "index") != (int64_t)(start + i) || !b)
                cli_die(EXIT_CONNECT, "GET %s answered entry %zu out of order", path, i);
            size_t bl = strlen(b), len = 0;
            unsigned char *leaf = malloc(bl + 1);
            if (!leaf)
                cli_die(EXIT_CRYPTO, "out of memory");
            if (b64_decode(leaf, bl + 1, &len, b, bl) != 0)
                cli_die(EXIT_CONNECT, "log entry %llu is not base64url", (unsigned long long)start + i);
            unsigned char h[MERKLE_HASH_BYTES];
            merkle_hash_leaf(h, leaf, len);
            if (merkle_mem_append(m, h) != 0 || audit_leaf(a, leaf, len) != 0)
                cli_die(EXIT_CRYPTO, "out of memory");
            free(leaf);
        }
        start += n;
        json_decref(ans);
    }
    cli_progress_done();
}

/* ---- text output: everything the log says is untrusted, printed without control characters ---- */

/* S with control characters as spaces, cut after MAX characters (UTF-8 aware) with "...". */
static const char *clean(char *out, size_t n, const char *s, size_t max)
{
    size_t o = 0, chars = 0;
    if (!s)
        s = "?";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        /* a character starts: room for it (4 bytes at most), "..." and the NUL, or stop here */
        if ((c & 0xc0) != 0x80 && (chars++ == max || o + 8 >= n)) {
            snprintf(out + o, n - o, "...");
            return out;
        }
        if (o + 4 >= n) /* only after a run of stray continuation bytes */
            break;
        out[o++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    out[o] = 0;
    return out;
}

static const char *str_or(const json_t *o, const char *k, const char *dflt)
{
    const char *v = cli_jstr(o, k);
    return v ? v : dflt;
}

/* "a, b" of the strings in array A, or NONE. */
static void list_of(char *out, size_t n, const json_t *a, const char *none)
{
    size_t i, o = 0;
    json_t *e;
    out[0] = 0;
    if (!json_array_size(a)) {
        snprintf(out, n, "%s", none);
        return;
    }
    json_array_foreach(a, i, e) {
        char c[80];
        int w = snprintf(out + o, n - o, "%s%s", i ? ", " : "", clean(c, sizeof c, json_string_value(e), 64));
        if (w < 0 || (size_t)w >= n - o)
            return;
        o += (size_t)w;
    }
}

/* "2025-06-01 10:00" of T into OUT (cli_time() has one static buffer). */
static const char *tm_(char out[32], int64_t t)
{
    snprintf(out, 32, "%s", cli_time(t));
    return out;
}

/* How long, in words: "24 h asked; active 2025-06-01 10:00 .. 2025-06-01 11:02 (1.0 h), closed by X". */
static void how_long(char *out, size_t n, const json_t *o)
{
    char a[32], b[32], by[80];
    int64_t hours = cli_jint(o, "hours");
    const char *st = str_or(o, "state", "?"), *reason = cli_jstr(o, "close_reason");
    int o_ = snprintf(out, n, "%lld h asked; ", (long long)(hours > 0 ? hours : 0));
    size_t at = o_ > 0 && (size_t)o_ < n ? (size_t)o_ : 0;
    clean(by, sizeof by, str_or(o, "closed_by", "?"), 64);
    if (!json_object_get(o, "activated")) {
        if (strcmp(st, "closed") == 0)
            snprintf(out + at, n - at, "never active, withdrawn %s by %s", tm_(a, cli_jint(o, "closed")), by);
        else
            snprintf(out + at, n - at, "never active (pending)");
        return;
    }
    int64_t act = cli_jint(o, "activated"), exp = cli_jint(o, "expires"), secs = cli_jint(o, "active_seconds");
    double h = secs > 0 ? (double)secs / 3600.0 : 0.0;
    if (strcmp(st, "closed") == 0) {
        int64_t end = cli_jint(o, "closed");
        snprintf(out + at, n - at, "active %s .. %s (%.1f h), %s", tm_(a, act), tm_(b, end < exp ? end : exp), h,
                 reason && strcmp(reason, "expired") == 0 ? "closed at expiry" : "closed by");
        if (!(reason && strcmp(reason, "expired") == 0)) {
            size_t l = strlen(out);
            snprintf(out + l, n - l, " %s", by);
        }
    } else {
        snprintf(out + at, n - at, "active since %s until %s (%.1f h so far), still open", tm_(a, act), tm_(b, exp), h);
    }
}

/* The verdict in words: "ok" or "VIOLATION (rule, rule)". */
static void verdict_words(char *out, size_t n, const json_t *o)
{
    const json_t *rules = json_object_get(o, "rules");
    if (strcmp(str_or(o, "verdict", "?"), "ok") == 0) {
        snprintf(out, n, "ok");
        return;
    }
    char r[512];
    list_of(r, sizeof r, rules, "see below");
    snprintf(out, n, "VIOLATION (%s)", r);
}

/* One line per override: who, whom, why, for whom, how long, approvals, verdict. */
static void print_override_line(const json_t *o)
{
    char id[80], mayor[80], cit[80], ben[80], ground[80], title[340], just[260], hl[256], ap[512], vd[600];
    clean(id, sizeof id, cli_jstr(o, "id"), 64);
    clean(mayor, sizeof mayor, cli_jstr(o, "mayor"), 64);
    clean(cit, sizeof cit, cli_jstr(o, "citizen"), 64);
    clean(ben, sizeof ben, cli_jstr(o, "beneficiary"), 64);
    clean(ground, sizeof ground, cli_jstr(o, "ground"), 64);
    clean(title, sizeof title, cli_jstr(o, "ground_title") ? cli_jstr(o, "ground_title") : "ground not in the charter",
          80);
    clean(just, sizeof just, cli_jstr(o, "justification"), 60);
    how_long(hl, sizeof hl, o);
    list_of(ap, sizeof ap, json_object_get(o, "approvals"), "nobody");
    verdict_words(vd, sizeof vd, o);
    printf("Override   %s: mayor %s opened citizen %s for %s; why: %s (%s) \"%s\"; %s; approved by %s; verdict: %s\n",
           id, mayor, cit, ben, title, ground, just, hl, ap, vd);
}

/* ---- the shared run: pin, checkpoint, consistency, every leaf, replay ---------------------------- */

struct run {
    struct audit *a;
    struct audit_state prev;   /* as verified before this run */
    uint64_t size;
    char *root64;
    const char *state_path;
    int pinned_now;
};

/* Steps 1-5 of the header comment; integrity failures exit 4 with the state untouched. On return
 * the state has advanced and R->a holds the replay (audit_finish()ed). */
static void run_audit(struct run *r, const char *state_path, const char *log_key)
{
    unsigned char given[32];
    if (log_key && b64_decode_exact(given, 32, log_key) != 0)
        cli_die(EXIT_USAGE, "--log-key must be the 32-byte log key in base64url, as GET /v1/vault shows it");
    if (!state_path)
        state_path = default_state_path();

    struct audit_state pin;
    state_read(&pin, state_path);
    const struct vault_info *vi = cli_vault();
    int pinned_now = !pin.have;
    if (pin.have) {
        if (log_key && sodium_memcmp(given, pin.log_pk, 32) != 0)
            integrity("log-key-changed", "--log-key differs from the key pinned in the audit state");
        if (sodium_memcmp(vi->log_pk, pin.log_pk, 32) != 0)
            integrity("log-key-changed", "the vault now publishes another log key than the one pinned");
        if (strcmp(vi->origin, pin.origin) != 0)
            integrity("log-key-changed", "the vault now publishes another origin than the one pinned");
    } else {
        if (!checkpoint_origin_valid(vi->origin))
            cli_die(EXIT_CONNECT, "the vault's origin is not a valid log name");
        if (log_key && sodium_memcmp(given, vi->log_pk, 32) != 0)
            integrity("log-key-changed", "the vault publishes another log key than --log-key");
        snprintf(pin.origin, sizeof pin.origin, "%s", vi->origin);
        memcpy(pin.log_pk, log_key ? given : vi->log_pk, 32);
    }

    uint64_t size = 0;
    unsigned char root[32];
    fetch_checkpoint(&pin, &size, root);
    if (pin.have)
        check_consistency(&pin, size, root);

    struct audit *a = audit_new(pin.origin, pin.log_pk);
    merkle_mem m;
    merkle_mem_init(&m);
    if (!a)
        cli_die(EXIT_CRYPTO, "out of memory");
    fetch_leaves(a, &m, size);
    unsigned char got[32];
    if (merkle_tree_hash(got, size, &m.reader) != MERKLE_OK || sodium_memcmp(got, root, 32) != 0)
        integrity("root-mismatch", "the leaves served do not hash to the root of the signed checkpoint");
    if (pin.have && (merkle_tree_hash(got, pin.size, &m.reader) != MERKLE_OK || sodium_memcmp(got, pin.root, 32) != 0))
        integrity("log-fork", "the first leaves no longer hash to the root verified before");
    merkle_mem_free(&m);
    if (audit_finish(a, cli_now()) != 0)
        cli_die(EXIT_CRYPTO, "out of memory");

    r->prev = pin;
    pin.size = size;
    memcpy(pin.root, root, 32);
    state_write(&pin, state_path);

    if (!(r->root64 = b64std_encode(root, 32)))
        cli_die(EXIT_CRYPTO, "out of memory");
    r->a = a;
    r->size = size;
    r->state_path = state_path;
    r->pinned_now = pinned_now;
}

static void run_free(struct run *r)
{
    audit_free(r->a);
    free(r->root64);
}

/* The integrity lines both commands print first. */
static void print_integrity(const struct run *r)
{
    printf("Log        %s: %llu leaves, root %s\n", r->prev.origin, (unsigned long long)r->size, r->root64);
    printf("           checkpoint signature verified with the pinned log key; root recomputed over every leaf\n");
    if (r->pinned_now)
        printf("           first run: log key pinned in %s\n", r->state_path);
    else
        printf("           append-only since the checkpoint verified before (%llu leaves)\n",
               (unsigned long long)r->prev.size);
}

static void print_report(const struct run *r)
{
    struct audit *a = r->a;
    struct audit_stats s;
    audit_get_stats(a, &s);
    size_t nv;
    const struct audit_violation *v = audit_violations(a, &nv);
    json_t *ovs = audit_overrides_json(a);
    if (!ovs)
        cli_die(EXIT_CRYPTO, "out of memory");
    if (cli_g.json) {
        json_t *vl = json_array();
        for (size_t i = 0; i < nv; i++)
            json_array_append_new(vl, json_pack("{s:I, s:s, s:s}", "index", (json_int_t)v[i].index, "rule", v[i].rule,
                                                "detail", v[i].detail));
        json_t *o = json_pack("{s:b, s:s, s:I, s:s, s:I, s:s, s:b, s:I, s:I, s:I, s:o, s:o}", "ok", nv == 0, "origin",
                              r->prev.origin, "size", (json_int_t)r->size, "root", r->root64, "previous_size",
                              (json_int_t)(r->pinned_now ? 0 : r->prev.size), "state", r->state_path, "pinned_now",
                              r->pinned_now, "principals", (json_int_t)s.principals, "charters",
                              (json_int_t)s.charters, "overrides_checked", (json_int_t)s.overrides, "overrides", ovs,
                              "violations", vl);
        cli_emit(o);
        return;
    }
    print_integrity(r);
    printf("Replayed   %zu charter(s), %zu principal(s), %zu override(s) checked\n", s.charters, s.principals,
           s.overrides);
    size_t i;
    json_t *o;
    json_array_foreach(ovs, i, o) print_override_line(o);
    json_decref(ovs);
    for (size_t k = 0; k < nv; k++) {
        char d[400];
        printf("leaf %llu: %s: %s\n", (unsigned long long)v[k].index, v[k].rule, clean(d, sizeof d, v[k].detail, 320));
    }
    if (nv == 0)
        printf("Verdict    all checks passed\n");
    else
        printf("Verdict    %zu violation(s)\n", nv);
}

int cmd_audit_verify(int argc, char **argv)
{
    const char *state_path = NULL, *log_key = NULL;
    const struct cli_opt opts[] = {
        {"--state", OPT_STR, &state_path}, {"--log-key", OPT_STR, &log_key}, {NULL, OPT_FLAG, NULL}};
    const char *pos[1];
    cli_parse(argc, argv, opts, pos, 0, 0, "audit verify");
    struct run r = {0};
    run_audit(&r, state_path, log_key);
    print_report(&r);
    size_t nv;
    audit_violations(r.a, &nv);
    run_free(&r);
    if (nv) {
        fflush(stdout);
        fprintf(stderr, "kluis: audit failed: %zu violation(s) in the log\n", nv);
        return EXIT_CRYPTO;
    }
    return EXIT_OK_;
}

/* ---- kluis audit show ID ------------------------------------------------------------------------- */

static void print_items(const json_t *items)
{
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        char sec[80];
        printf("%s%s@%lld", i ? ", " : " ", clean(sec, sizeof sec, cli_jstr(it, "section"), 64),
               (long long)cli_jint(it, "epoch"));
    }
}

static void print_show(const json_t *d)
{
    char b[600], c[600], t1[32], t2[32];
    const json_t *cr = json_object_get(d, "charter_rules");
    printf("Override   %s\n", clean(b, sizeof b, cli_jstr(d, "id"), 64));
    printf("  who      mayor %s (signed the request", clean(b, sizeof b, cli_jstr(d, "mayor"), 64));
    if (json_object_get(d, "requested_at"))
        printf(" at %s", tm_(t1, cli_jint(d, "requested_at")));
    printf(")\n");
    printf("  whom     citizen %s\n", clean(b, sizeof b, cli_jstr(d, "citizen"), 64));
    printf("  for whom %s, sections ", clean(b, sizeof b, cli_jstr(d, "beneficiary"), 64));
    list_of(c, sizeof c, json_object_get(d, "sections"), "?");
    printf("%s\n", strcmp(c, "*") == 0 ? "all" : c);
    printf("  why      %s (%s)\n",
           clean(b, sizeof b, cli_jstr(d, "ground_title") ? cli_jstr(d, "ground_title") : "ground not in the charter",
                 120),
           clean(c, sizeof c, cli_jstr(d, "ground"), 64));
    printf("           \"%s\"\n", clean(b, sizeof b, cli_jstr(d, "justification"), 500));
    how_long(b, sizeof b, d);
    printf("  how long %s\n", b);
    list_of(b, sizeof b, json_object_get(d, "approvals"), "nobody");
    printf("  approved %s (valid approvals only)\n", b);
    if (json_is_object(cr)) {
        printf("  charter  %s v%lld: requested by role %s, %lld approval(s) by role %s, at most %lld h, a "
               "justification of at least %lld characters\n",
               clean(b, sizeof b, cli_jstr(cr, "charter"), 64), (long long)cli_jint(cr, "version"),
               str_or(cr, "authority_role", "?"), (long long)cli_jint(cr, "approvals_required"),
               str_or(cr, "approver_role", "?"), (long long)cli_jint(cr, "max_hours"),
               (long long)cli_jint(cr, "min_justification_chars"));
    } else {
        printf("  charter  none in force at the request\n");
    }
    printf("History\n");
    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(d, "history"), i, h) {
        const char *ev = str_or(h, "event", "?");
        printf("  leaf %-5lld %s  %-26s", (long long)cli_jint(h, "index"), tm_(t1, cli_jint(h, "time")), ev);
        const json_t *st = json_object_get(h, "statement");
        if (st) {
            printf(" %s statement %s by %s", clean(b, sizeof b, cli_jstr(st, "type"), 32),
                   clean(c, sizeof c, cli_jstr(st, "id"), 64), clean(t2, sizeof t2, cli_jstr(st, "signer"), 28));
            if (cli_jstr(st, "signer_role"))
                printf(" (%s)", cli_jstr(st, "signer_role"));
            printf(", signature %s", str_or(st, "signature", "?"));
            if (cli_jstr(st, "reason"))
                printf(", reason \"%s\"", clean(b, sizeof b, cli_jstr(st, "reason"), 80));
        }
        if (json_object_get(h, "activated"))
            printf(" active %s until %s", tm_(t1, cli_jint(h, "activated")), tm_(t2, cli_jint(h, "expires")));
        if (json_object_get(h, "items"))
            print_items(json_object_get(h, "items"));
        if (cli_jstr(h, "reason") && !st)
            printf(" reason %s", clean(b, sizeof b, cli_jstr(h, "reason"), 32));
        const json_t *ch = json_object_get(h, "charter");
        if (ch)
            printf(" [charter %s v%lld]", clean(b, sizeof b, cli_jstr(ch, "id"), 64), (long long)cli_jint(ch, "version"));
        printf("\n");
        size_t k;
        json_t *v;
        json_array_foreach(json_object_get(h, "violations"), k, v)
            printf("           ! %s: %s\n", str_or(v, "rule", "?"), clean(b, sizeof b, cli_jstr(v, "detail"), 320));
    }
    /* findings not at one of its leaves (e.g. a missing closure at the end of the log) */
    json_t *f;
    json_array_foreach(json_object_get(d, "findings"), i, f) {
        int at_leaf = 0;
        size_t k;
        json_array_foreach(json_object_get(d, "history"), k, h) at_leaf |= cli_jint(h, "index") == cli_jint(f, "index");
        if (!at_leaf)
            printf("  leaf %-5lld ! %s: %s\n", (long long)cli_jint(f, "index"), str_or(f, "rule", "?"),
                   clean(b, sizeof b, cli_jstr(f, "detail"), 320));
    }
    verdict_words(b, sizeof b, d);
    printf("Verdict    %s\n", b);
}

int cmd_audit_show(int argc, char **argv)
{
    const char *state_path = NULL, *log_key = NULL;
    const struct cli_opt opts[] = {
        {"--state", OPT_STR, &state_path}, {"--log-key", OPT_STR, &log_key}, {NULL, OPT_FLAG, NULL}};
    const char *pos[1];
    cli_parse(argc, argv, opts, pos, 1, 1, "audit show");
    cli_need_id(pos[0], "the override ID");
    struct run r = {0};
    run_audit(&r, state_path, log_key);
    json_t *d = audit_override_detail(r.a, pos[0]);
    if (!d) {
        int known = audit_override_known(r.a, pos[0]);
        run_free(&r);
        if (known)
            cli_die(EXIT_CRYPTO, "out of memory");
        cli_fail(EXIT_USAGE, "unknown_override", "no override %s was requested in the log (%s)", pos[0],
                 "see: kluis audit verify");
    }
    int bad = strcmp(str_or(d, "verdict", "?"), "ok") != 0;
    size_t nv;
    audit_violations(r.a, &nv);
    if (cli_g.json) {
        json_object_set_new(d, "log", json_pack("{s:s, s:I, s:s, s:I}", "origin", r.prev.origin, "size",
                                                (json_int_t)r.size, "root", r.root64, "violations", (json_int_t)nv));
        cli_emit(d);
    } else {
        print_integrity(&r);
        print_show(d);
        json_decref(d);
        if (nv && !bad)
            printf("           (the log has %zu violation(s) elsewhere: see kluis audit verify)\n", nv);
    }
    run_free(&r);
    if (bad) {
        fflush(stdout);
        fprintf(stderr, "kluis: audit failed: override %s has violations\n", pos[0]);
        return EXIT_CRYPTO;
    }
    return EXIT_OK_;
}
