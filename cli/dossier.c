/*
 * cli/dossier.c — reading and writing a dossier, for the citizen and for professionals.
 *
 * Nothing the vault serves is trusted before it is checked here:
 *   - every epoch statement must carry the citizen's signature (their key: our own when we are the
 *     citizen; otherwise the key the vault names, pinned on first use per server and citizen, so a
 *     vault cannot swap it later unnoticed), and name this citizen, section and epoch;
 *   - every DEK unwrapped must match the commitment of that statement before it is used (SPEC §4);
 *   - every entry statement must carry its author's signature (the citizen, or a principal from the
 *     directory), name this citizen and section, and its blob_hash must be BLAKE2b-256 of the blob;
 *   - the blob must decrypt under the epoch's key with the SPEC's associated data.
 * Any failure ends the command with exit 4 before anything is shown: a half-verified dossier is
 * never printed as if it were whole. DEKs live in secret memory and are wiped with the dossier.
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

#include "vault/encoding.h"
#include "vault/secret.h"
#include "vault/statement.h"

#define ENTRY_PAGE 100
#define WRITE_MAX ((size_t)1024 * 1024)

/* ---- the citizen's signing key ---------------------------------------------------------------- */

void cli_pin_key(const char *kind, const char *citizen, const unsigned char pk[32])
{
    const char *cfg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    char dir[2200], path[2400];
    if (cfg && cfg[0] == '/' && strlen(cfg) < 2000)
        snprintf(dir, sizeof dir, "%s/kluis", cfg);
    else if (home && home[0] == '/' && strlen(home) < 2000)
        snprintf(dir, sizeof dir, "%s/.config/kluis", home);
    else
        return;
    char parent[2200];
    snprintf(parent, sizeof parent, "%s", dir);
    *strrchr(parent, '/') = 0;
    if ((mkdir(parent, 0700) != 0 && errno != EEXIST) || (mkdir(dir, 0700) != 0 && errno != EEXIST)) {
        fprintf(stderr, "kluis: warning: cannot create %s: keys are not pinned\n", dir);
        return;
    }
    unsigned char h[16];
    char hex[33];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    /* Scoped by the vault's origin and log key, not the URL: the same vault behind another address
     * is the same vault, and a new vault under an old name (its own new log key) is another one. */
    const char *origin = cli_vault()->origin;
    crypto_generichash_update(&st, (const unsigned char *)origin, strlen(origin));
    crypto_generichash_update(&st, (const unsigned char *)"\n", 1);
    crypto_generichash_update(&st, cli_vault()->log_pk, sizeof cli_vault()->log_pk);
    crypto_generichash_update(&st, (const unsigned char *)"\n", 1);
    crypto_generichash_update(&st, (const unsigned char *)citizen, strlen(citizen));
    crypto_generichash_final(&st, h, sizeof h);
    snprintf(path, sizeof path, "%s/%s-%s.pin", dir, kind, hex_encode(hex, h, sizeof h));
    char *want = b64_encode(pk, 32);
    if (!want)
        cli_die(EXIT_CRYPTO, "out of memory");
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        char buf[128] = {0};
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n > 0 && buf[n - 1] == '\n')
            buf[n - 1] = 0;
        if (n <= 0 || strcmp(buf, want) != 0)
            cli_die(EXIT_CRYPTO,
                    "the vault now gives another %s key for %s than it did before (pinned in %s): "
                    "refusing to trust it",
                    kind, citizen, path);
    } else {
        char line[128];
        int len = snprintf(line, sizeof line, "%s\n", want);
        if (cli_write_new(path, line, (size_t)len) != 0 && errno != EEXIST)
            fprintf(stderr, "kluis: warning: cannot pin the key of %s in %s\n", citizen, path);
    }
    free(want);
}

static void citizen_sign_pk(struct dossier *d)
{
    if (strcmp(d->citizen, cli_id()) == 0) {
        memcpy(d->citizen_sign_pk, cli_keys()->sign_pk, 32);
        return;
    }
    const char *s = cli_jstr(d->json, "sign_pk");
    if (!s)
        cli_die(EXIT_CRYPTO, "the vault does not say citizen %s's signing key: their key commitments cannot be "
                             "checked, so nothing is read",
                d->citizen);
    if (b64_decode_exact(d->citizen_sign_pk, 32, s) != 0)
        cli_die(EXIT_CRYPTO, "the citizen's signing key in the dossier answer is malformed");
    cli_pin_key("citizen-sign", d->citizen, d->citizen_sign_pk);
}

/* ---- loading ---------------------------------------------------------------------------------- */

static void add_dek(struct dossier *d, const char *section, int64_t epoch, unsigned char *key)
{
    struct dek *n = realloc(d->deks, (d->ndeks + 1) * sizeof *n);
    if (!n)
        cli_die(EXIT_CRYPTO, "out of memory");
    d->deks = n;
    snprintf(n[d->ndeks].section, sizeof n[d->ndeks].section, "%s", section);
    n[d->ndeks].epoch = epoch;
    n[d->ndeks].key = key;
    d->ndeks++;
}

/* Verify the epoch statement of ITEM for SECTION; returns the commitment. */
static void check_epoch(const struct dossier *d, const char *section, const json_t *item, int64_t epoch,
                        unsigned char commit[32])
{
    const char *s = cli_jstr(item, "statement"), *sig = cli_jstr(item, "signature");
    struct kstmt st;
    struct jerr err = {0};
    if (!s || !sig || kstmt_open(&st, s, sig, "epoch", &err) != 0)
        cli_die(EXIT_CRYPTO, "section %s epoch %lld: the epoch statement is malformed (%s)", section,
                (long long)epoch, err.msg);
    if (kstmt_check_signature(&st, d->citizen_sign_pk, &err) != 0)
        cli_die(EXIT_CRYPTO, "section %s epoch %lld: the epoch statement is not signed by citizen %s", section,
                (long long)epoch, d->citizen);
    if (strcmp(st.signer, d->citizen) != 0 || strcmp(st.citizen, d->citizen) != 0 ||
        strcmp(st.section, section) != 0 || st.epoch != epoch)
        cli_die(EXIT_CRYPTO, "section %s epoch %lld: the signed epoch statement names another citizen, section or "
                             "epoch",
                section, (long long)epoch);
    memcpy(commit, st.commit, 32);
    kstmt_free(&st);
}

void dossier_load(struct dossier *d, const char *citizen, const char *only)
{
    memset(d, 0, sizeof *d);
    snprintf(d->citizen, sizeof d->citizen, "%s", citizen);
    char path[128];
    snprintf(path, sizeof path, "/v1/citizens/%s/dossier", citizen);
    d->json = api_call("GET", path, NULL, API_AUTH);
    const json_t *sections = json_object_get(d->json, "sections");
    if (!json_is_array(sections))
        cli_die(EXIT_CONNECT, "the dossier answer has no sections");
    const char *c2 = cli_jstr(d->json, "citizen");
    if (c2 && strcmp(c2, citizen) != 0)
        cli_die(EXIT_CRYPTO, "asked for the dossier of %s, the vault answered with %s's", citizen, c2);
    citizen_sign_pk(d);
    const struct kluis_keys *k = cli_keys();
    size_t i, j;
    json_t *sec, *ep;
    json_array_foreach(sections, i, sec) {
        const char *name = cli_jstr(sec, "section");
        if (!name || !jspec_is_id(name))
            cli_die(EXIT_CONNECT, "the dossier answer has a section without a valid name");
        if (only && strcmp(only, name) != 0)
            continue;
        json_array_foreach(json_object_get(sec, "epochs"), j, ep) {
            int64_t epoch = cli_jint(ep, "epoch");
            if (epoch < 1)
                cli_die(EXIT_CONNECT, "section %s: an epoch without a number", name);
            unsigned char commit[32];
            check_epoch(d, name, ep, epoch, commit);
            const char *w = cli_jstr(ep, "wrap");
            if (!w)
                continue; /* an epoch whose key we were not given */
            unsigned char wrap[KLUIS_WRAP_BYTES];
            if (b64_decode_exact(wrap, sizeof wrap, w) != 0)
                cli_die(EXIT_CRYPTO, "section %s epoch %lld: the key wrap is malformed", name, (long long)epoch);
            unsigned char *key = secret_new(KLUIS_KEY_BYTES);
            if (!key)
                cli_die(EXIT_CRYPTO, "out of secure memory");
            if (kluis_unwrap(key, wrap, k->box_sk) != 0)
                cli_die(EXIT_CRYPTO, "section %s epoch %lld: the key wrap does not open with your key", name,
                        (long long)epoch);
            if (kluis_key_commit_check(commit, citizen, name, (uint64_t)epoch, key) != 0)
                cli_fail(EXIT_CRYPTO, "commitment_mismatch",
                         "section %s epoch %lld: the key does not match the citizen's signed commitment", name,
                         (long long)epoch);
            add_dek(d, name, epoch, key);
        }
    }
}

void dossier_free(struct dossier *d)
{
    for (size_t i = 0; i < d->ndeks; i++)
        secret_free(d->deks[i].key);
    free(d->deks);
    json_decref(d->json);
    memset(d, 0, sizeof *d);
}

const struct dek *dossier_dek(const struct dossier *d, const char *section, int64_t epoch)
{
    for (size_t i = 0; i < d->ndeks; i++)
        if (d->deks[i].epoch == epoch && strcmp(d->deks[i].section, section) == 0)
            return &d->deks[i];
    return NULL;
}

const json_t *dossier_section(const struct dossier *d, const char *section)
{
    size_t i;
    json_t *sec;
    json_array_foreach(json_object_get(d->json, "sections"), i, sec) {
        const char *n = cli_jstr(sec, "section");
        if (n && strcmp(n, section) == 0)
            return sec;
    }
    return NULL;
}

int64_t dossier_current_epoch(const struct dossier *d, const char *section)
{
    int64_t e = cli_jint(dossier_section(d, section), "current_epoch");
    return e > 0 ? e : 0;
}

/* ---- entries ---------------------------------------------------------------------------------- */

json_t *dossier_open_entry(const struct dossier *d, const char *section, const json_t *item)
{
    int64_t seq = cli_jint(item, "seq");
    const char *s = cli_jstr(item, "statement"), *sig = cli_jstr(item, "signature"), *b = cli_jstr(item, "blob");
    struct kstmt st;
    struct jerr err = {0};
    if (!s || !sig || !b || kstmt_open(&st, s, sig, "entry", &err) != 0)
        cli_die(EXIT_CRYPTO, "section %s entry #%lld: malformed entry statement (%s)", section, (long long)seq,
                err.msg);
    unsigned char pk[32];
    const json_t *who = NULL;
    if (strcmp(st.signer, d->citizen) == 0) {
        memcpy(pk, d->citizen_sign_pk, 32);
    } else {
        who = dir_find(st.signer);
        if (!who)
            cli_die(EXIT_CRYPTO, "section %s entry %s: its author %s is not in the vault's directory", section, st.id,
                    st.signer);
        dir_keys(st.signer, pk, NULL);
    }
    if (kstmt_check_signature(&st, pk, &err) != 0)
        cli_fail(EXIT_CRYPTO, "bad_signature", "section %s entry %s: the signature of %s does not verify", section,
                 st.id, st.signer);
    if (strcmp(st.citizen, d->citizen) != 0 || strcmp(st.section, section) != 0)
        cli_die(EXIT_CRYPTO, "section %s entry %s: the signed statement names another citizen or section", section,
                st.id);
    size_t blen = strlen(b), n = 0;
    unsigned char *blob = malloc(blen * 3 / 4 + 4);
    if (!blob || b64_decode(blob, blen * 3 / 4 + 4, &n, b, blen) != 0)
        cli_die(EXIT_CRYPTO, "section %s entry %s: the blob is not base64url", section, st.id);
    unsigned char h[32];
    if (kluis_blob_hash(h, blob, n) != 0 || sodium_memcmp(h, st.blob_hash, 32) != 0)
        cli_fail(EXIT_CRYPTO, "blob_hash_mismatch", "section %s entry %s: the blob is not the one its author signed",
                 section, st.id);
    const struct dek *k = dossier_dek(d, section, st.epoch);
    if (!k)
        cli_die(EXIT_CRYPTO, "section %s entry %s: no key of epoch %lld was given to you", section, st.id,
                (long long)st.epoch);
    if (n < KLUIS_AEAD_OVERHEAD)
        cli_die(EXIT_CRYPTO, "section %s entry %s: the blob is too short", section, st.id);
    unsigned char *pt = malloc(n - KLUIS_AEAD_OVERHEAD + 1);
    size_t ptlen = 0;
    if (!pt || kluis_entry_decrypt(pt, &ptlen, blob, n, d->citizen, section, (uint64_t)st.epoch, st.id, k->key) != 0)
        cli_die(EXIT_CRYPTO, "section %s entry %s: does not decrypt under the epoch %lld key", section, st.id,
                (long long)st.epoch);
    free(blob);
    json_t *content = json_loadb((const char *)pt, ptlen, JSON_REJECT_DUPLICATES, NULL);
    sodium_memzero(pt, ptlen);
    free(pt);
    if (!json_is_object(content))
        cli_die(EXIT_CRYPTO, "section %s entry %s: the decrypted entry is not a JSON object", section, st.id);
    json_t *o = json_pack("{s:I, s:s, s:s, s:I, s:s, s:I, s:o}", "seq", (json_int_t)seq, "id", st.id, "section",
                          section, "epoch", (json_int_t)st.epoch, "author", st.signer, "issued",
                          (json_int_t)st.issued, "content", content);
    if (!o)
        cli_die(EXIT_CRYPTO, "out of memory");
    if (who) {
        json_object_set(o, "author_role", json_object_get(who, "role"));
        json_object_set(o, "author_name", json_object_get(who, "display_name"));
        json_object_set(o, "author_organisation", json_object_get(who, "organisation"));
    } else {
        json_object_set_new(o, "author_role", json_string("citizen"));
    }
    if (st.corrects)
        json_object_set_new(o, "corrects", json_string(st.corrects));
    kstmt_free(&st);
    return o;
}

json_t *dossier_read_section(const struct dossier *d, const char *section)
{
    json_t *all = json_array();
    int64_t after = 0;
    for (;;) {
        char path[256];
        snprintf(path, sizeof path, "/v1/citizens/%s/sections/%s/entries?after=%lld&limit=%d", d->citizen, section,
                 (long long)after, ENTRY_PAGE);
        json_t *page = api_call("GET", path, NULL, API_AUTH);
        const json_t *items = json_object_get(page, "entries");
        if (!json_is_array(items))
            cli_die(EXIT_CONNECT, "the entries answer has no list of entries");
        size_t i;
        json_t *it;
        int64_t last = after;
        json_array_foreach(items, i, it) {
            int64_t seq = cli_jint(it, "seq");
            if (seq <= last)
                cli_die(EXIT_CRYPTO, "section %s: entries out of order (seq %lld after %lld)", section,
                        (long long)seq, (long long)last);
            last = seq;
            json_array_append_new(all, dossier_open_entry(d, section, it));
            cli_progress("reading %s: %zu entries checked", section, json_array_size(all));
        }
        const json_t *next = json_object_get(page, "next");
        size_t got = json_array_size(items);
        json_decref(page);
        /* "next" null: the end; absent: a short page is the end */
        if (got == 0 || json_is_null(next) || (!next && got < ENTRY_PAGE))
            break;
        after = last;
    }
    cli_progress_done();
    return all;
}

/* ---- kluis read ------------------------------------------------------------------------------- */

static void mkdir_private(const char *path)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        cli_die(EXIT_CRYPTO, "cannot create %s: %s", path, strerror(errno));
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        cli_die(EXIT_CRYPTO, "%s is not a directory", path);
}

static void print_entry(const json_t *e)
{
    const json_t *c = json_object_get(e, "content");
    const char *kind = cli_jstr(c, "kind"), *title = cli_jstr(c, "title"), *body = cli_jstr(c, "body");
    const char *name = cli_jstr(e, "author_name"), *org = cli_jstr(e, "author_organisation");
    printf("#%lld  %s  %s", (long long)cli_jint(e, "seq"), cli_time(cli_jint(e, "issued")), kind ? kind : "entry");
    if (title && *title)
        printf("  \"%s\"", title);
    printf("\n    by %s", cli_jstr(e, "author"));
    if (name)
        printf(" (%s%s%s)", name, org && *org ? ", " : "", org ? org : "");
    printf(", %s", cli_jstr(e, "author_role") ? cli_jstr(e, "author_role") : "?");
    if (cli_jstr(e, "corrects"))
        printf("; corrects %s", cli_jstr(e, "corrects"));
    printf("   [%s]\n", cli_jstr(e, "id"));
    if (kind && strcmp(kind, "document") == 0)
        printf("    (document, %s; use --out DIR to save it)\n", cli_jstr(c, "mime") ? cli_jstr(c, "mime") : "?");
    else if (body) {
        printf("    ");
        for (const char *p = body; *p; p++) {
            unsigned char ch = (unsigned char)*p;
            if (ch == '\n')
                printf("\n    ");
            else if (ch < 0x20 && ch != '\t')
                putchar('?'); /* no terminal escapes from someone else's text */
            else
                putchar(ch);
        }
        printf("\n");
    }
}

int cmd_read(int argc, char **argv)
{
    const char *section = NULL, *out = NULL, *pos[1];
    const struct cli_opt opts[] = {{"--section", OPT_STR, &section}, {"--out", OPT_STR, &out}, {NULL, OPT_FLAG, NULL}};
    cli_parse(argc, argv, opts, pos, 1, 1, "read");
    cli_need_id(pos[0], "CITIZEN");
    if (section)
        cli_need_id(section, "--section");
    struct dossier d;
    dossier_load(&d, pos[0], section);
    json_t *result = json_array();
    size_t total = 0;
    if (section && !dossier_section(&d, section)) {
        /* not open to us: let the vault name the reason (no_grant, section_not_granted, ...) */
        json_decref(dossier_read_section(&d, section));
        cli_die(EXIT_REFUSED, "section %s of %s is not open to you", section, pos[0]);
    }
    size_t i;
    json_t *sec;
    json_array_foreach(json_object_get(d.json, "sections"), i, sec) {
        const char *name = cli_jstr(sec, "section");
        if (section && strcmp(name, section) != 0)
            continue;
        json_t *entries = dossier_read_section(&d, name);
        total += json_array_size(entries);
        json_array_append_new(result, json_pack("{s:s, s:I, s:o}", "section", name, "current_epoch",
                                                (json_int_t)dossier_current_epoch(&d, name), "entries", entries));
    }
    /* everything verified: now show it */
    if (out) {
        mkdir_private(out);
        json_t *s;
        json_array_foreach(result, i, s) {
            char dir[4096], file[4400];
            snprintf(dir, sizeof dir, "%s/%s", out, cli_jstr(s, "section"));
            mkdir_private(dir);
            size_t j;
            json_t *e;
            json_array_foreach(json_object_get(s, "entries"), j, e) {
                snprintf(file, sizeof file, "%s/%lld-%s.json", dir, (long long)cli_jint(e, "seq"), cli_jstr(e, "id"));
                char *text = json_dumps(e, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                if (!text || cli_write_new(file, text, strlen(text)) != 0)
                    cli_die(EXIT_CRYPTO, "cannot write %s: %s", file, text ? strerror(errno) : "out of memory");
                sodium_memzero(text, strlen(text));
                free(text);
            }
        }
    }
    if (cli_g.json) {
        cli_emit(json_pack("{s:s, s:b, s:I, s:o}", "citizen", pos[0], "verified", 1, "entries", (json_int_t)total,
                           "sections", result));
    } else {
        if (!out) {
            json_t *s;
            json_array_foreach(result, i, s) {
                printf("== %s (epoch %lld) ==\n", cli_jstr(s, "section"), (long long)cli_jint(s, "current_epoch"));
                size_t j;
                json_t *e;
                json_array_foreach(json_object_get(s, "entries"), j, e) print_entry(e);
                if (json_array_size(json_object_get(s, "entries")) == 0)
                    printf("    (no entries)\n");
            }
        }
        printf("%zu entr%s in %zu section(s) of %s%s%s; every key commitment, signature and hash checked\n", total,
               total == 1 ? "y" : "ies", json_array_size(result), pos[0], out ? ", written to " : "", out ? out : "");
        json_decref(result);
    }
    dossier_free(&d);
    return EXIT_OK_;
}

/* ---- kluis write ------------------------------------------------------------------------------ */

/* The first line of BODY, at most 80 bytes, cut at a UTF-8 boundary. */
static json_t *first_line(const char *body)
{
    size_t n = strcspn(body, "\n");
    if (n > 80) {
        n = 80;
        while (n > 0 && ((unsigned char)body[n] & 0xC0) == 0x80)
            n--;
    }
    return json_stringn(body, n);
}

int cmd_write(int argc, char **argv)
{
    const char *section = NULL, *title = NULL, *kind = "note", *mime = NULL, *corrects = NULL, *pos[1];
    const struct cli_opt opts[] = {{"--section", OPT_STR, &section}, {"--title", OPT_STR, &title},
                                   {"--kind", OPT_STR, &kind},       {"--mime", OPT_STR, &mime},
                                   {"--corrects", OPT_STR, &corrects}, {NULL, OPT_FLAG, NULL}};
    cli_parse(argc, argv, opts, pos, 1, 1, "write");
    cli_need_id(pos[0], "CITIZEN");
    cli_need_id(section, "--section");
    if (corrects)
        cli_need_id(corrects, "--corrects");
    int doc = strcmp(kind, "document") == 0;
    if (!doc && strcmp(kind, "note") != 0 && strcmp(kind, "plan") != 0)
        cli_die(EXIT_USAGE, "--kind must be note, plan or document");
    size_t len;
    unsigned char *data = cli_read_stdin(WRITE_MAX, &len);
    if (len == 0)
        cli_die(EXIT_USAGE, "write: nothing on standard input");
    json_t *content = json_pack("{s:s}", "kind", kind);
    json_t *body;
    if (doc) {
        char *b = b64_encode(data, len);
        body = b ? json_string(b) : NULL;
        free(b);
        json_object_set_new(content, "encoding", json_string("base64url"));
    } else {
        body = json_stringn((const char *)data, len);
        if (!body)
            cli_die(EXIT_USAGE, "write: standard input is not UTF-8 text (use --kind document for files)");
    }
    if (!body)
        cli_die(EXIT_CRYPTO, "out of memory");
    json_t *t = title ? json_string(title) : doc ? json_string("document") : first_line(json_string_value(body));
    if (!t)
        cli_die(EXIT_USAGE, "--title must be UTF-8 text");
    json_object_set_new(content, "title", t);
    json_object_set_new(content, "body", body);
    json_object_set_new(content, "mime",
                        json_string(mime ? mime : doc ? "application/octet-stream" : "text/plain; charset=utf-8"));
    sodium_memzero(data, len);
    free(data);
    char *pt = json_dumps(content, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(content);
    if (!pt)
        cli_die(EXIT_CRYPTO, "out of memory");
    size_t ptlen = strlen(pt);
    const struct kluis_keys *k = cli_keys();

    for (int attempt = 0;; attempt++) {
        struct dossier d;
        dossier_load(&d, pos[0], section);
        int64_t epoch = dossier_current_epoch(&d, section);
        const struct dek *dek = epoch ? dossier_dek(&d, section, epoch) : NULL;
        if (!dek) {
            if (!dossier_section(&d, section))
                json_decref(dossier_read_section(&d, section)); /* the vault names why */
            cli_die(EXIT_CRYPTO, "section %s of %s: you hold no key of its current epoch", section, pos[0]);
        }
        char id[KLUIS_ID_MAX + 1];
        cli_new_id(id, "n");
        size_t blen = ptlen + KLUIS_AEAD_OVERHEAD;
        unsigned char *blob = malloc(blen), h[32];
        if (!blob || kluis_entry_encrypt(blob, (const unsigned char *)pt, ptlen, pos[0], section, (uint64_t)epoch, id,
                                         dek->key) != 0 ||
            kluis_blob_hash(h, blob, blen) != 0)
            cli_die(EXIT_CRYPTO, "cannot encrypt the entry");
        char *h64 = b64_encode(h, 32), *blob64 = b64_encode(blob, blen);
        free(blob);
        json_t *stmt = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:s}", "type", "entry", "id", id, "signer",
                                 cli_id(), "issued", (json_int_t)cli_now(), "citizen", pos[0], "section", section,
                                 "epoch", (json_int_t)epoch, "blob_hash", h64);
        if (stmt && corrects)
            json_object_set_new(stmt, "corrects", json_string(corrects));
        json_t *env = NULL;
        struct jerr err = {0};
        if (!stmt || kstmt_sign_json(&env, stmt, k->sign_sk, &err) != 0)
            cli_die(EXIT_CRYPTO, "cannot sign the entry statement: %s", err.msg);
        json_object_set_new(env, "blob", json_string(blob64));
        free(h64);
        free(blob64);
        json_decref(stmt);
        char path[256];
        snprintf(path, sizeof path, "/v1/citizens/%s/sections/%s/entries", pos[0], section);
        struct api_result r;
        int rc = api_try(&r, "POST", path, env, API_AUTH);
        json_decref(env);
        dossier_free(&d);
        if (rc != 0 && strcmp(r.code, "stale_epoch") == 0 && attempt == 0) {
            json_decref(r.json);
            continue; /* rotated meanwhile: encrypt again under the new key */
        }
        if (rc != 0)
            api_refused(&r);
        sodium_memzero(pt, ptlen);
        free(pt);
        if (cli_g.json) {
            json_object_set_new(r.json, "id", json_string(id));
            json_object_set_new(r.json, "section", json_string(section));
            json_object_set_new(r.json, "epoch", json_integer(epoch));
            cli_emit(r.json);
        } else {
            printf("entry %s written to %s/%s (seq %lld, epoch %lld)\n", id, pos[0], section,
                   (long long)cli_jint(r.json, "seq"), (long long)epoch);
            json_decref(r.json);
        }
        return EXIT_OK_;
    }
}

/* ---- kluis request, kluis my-grants ------------------------------------------------------------ */

int cmd_request(int argc, char **argv)
{
    const char *purpose = NULL, *sections = NULL, *note = NULL, *pos[1];
    int64_t days = 0;
    int write = 0;
    const struct cli_opt opts[] = {{"--purpose", OPT_STR, &purpose}, {"--sections", OPT_STR, &sections},
                                   {"--days", OPT_INT, &days},       {"--write", OPT_FLAG, &write},
                                   {"--note", OPT_STR, &note},       {NULL, OPT_FLAG, NULL}};
    cli_parse(argc, argv, opts, pos, 1, 1, "request");
    cli_need_id(pos[0], "CITIZEN");
    cli_need_id(purpose, "--purpose");
    json_t *secs = cli_id_list(sections, "--sections");
    if (days < 1)
        cli_die(EXIT_USAGE, "--days must be at least 1");
    char id[KLUIS_ID_MAX + 1];
    cli_new_id(id, "r");
    json_t *stmt = json_pack("{s:s, s:s, s:s, s:I, s:s, s:o, s:s, s:s, s:I}", "type", "request", "id", id, "signer",
                             cli_id(), "issued", (json_int_t)cli_now(), "citizen", pos[0], "sections", secs, "access",
                             write ? "write" : "read", "purpose", purpose, "days", (json_int_t)days);
    if (stmt && note)
        json_object_set_new(stmt, "note", json_string(note));
    json_t *env = NULL;
    struct jerr err = {0};
    if (!stmt || kstmt_sign_json(&env, stmt, cli_keys()->sign_sk, &err) != 0)
        cli_die(EXIT_USAGE, "cannot make the request: %s", err.msg);
    json_decref(stmt);
    json_t *ans = api_call("POST", "/v1/requests", env, API_AUTH);
    json_decref(env);
    if (cli_g.json) {
        if (!json_object_get(ans, "id"))
            json_object_set_new(ans, "id", json_string(id));
        cli_emit(ans);
    } else {
        printf("request %s sent to %s (%s, %s, %lld days)\n", id, pos[0], purpose, sections, (long long)days);
        json_decref(ans);
    }
    return EXIT_OK_;
}

int cmd_my_grants(int argc, char **argv)
{
    const char *pos[1];
    const struct cli_opt opts[] = {{NULL, OPT_FLAG, NULL}};
    cli_parse(argc, argv, opts, pos, 0, 0, "my-grants");
    json_t *ans = api_call("GET", "/v1/grants", NULL, API_AUTH);
    cli_print_grants(ans, 1);
    return EXIT_OK_;
}
