/*
 * cli/journal.c — the citizen's view of what happened: `kluis journal` and `kluis export`.
 *
 * The journal is a hash chain (SPEC §9): head_n = BLAKE2b-256("kluis/v1/journal\n" || head_{n-1}
 * || event_json). Events are shown from their `raw` bytes, the ones the chain covers, never from
 * the convenience fields beside them; --verify recomputes the chain from head_0 over every event,
 * requires the sequence numbers 1, 2, 3, ... without gaps, and compares the result with the head
 * the vault states. The export is built from verified parts only: every entry goes through the
 * same checks as `kluis read`, and the journal through the chain check.
 */
#include "cli/cli.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/charter.h"
#include "vault/encoding.h"
#include "vault/journal.h"

/* Decode a head as the vault states it: base64url of 32 bytes, or 64 hex digits. */
static int decode_head(unsigned char out[32], const char *s)
{
    if (!s)
        return -1;
    if (b64_decode_exact(out, 32, s) == 0)
        return 0;
    return strlen(s) == 64 ? hex_decode_exact(out, 32, s) : -1;
}

/*
 * Fetch the journal from AFTER on; with VERIFY (AFTER must be 0) check the chain and the head.
 * Returns a new array of the events parsed from their raw bytes.
 */
static json_t *fetch_journal(int64_t after, int verify, char head_hex[65])
{
    unsigned char head[32] = {0}, stated[32];
    json_t *events = json_array();
    int64_t expect = after + 1;
    int have_stated = 0;
    for (;;) {
        char path[160];
        snprintf(path, sizeof path, "/v1/citizens/%s/journal?after=%lld", cli_id(), (long long)after);
        json_t *ans = api_call("GET", path, NULL, API_AUTH);
        const json_t *list = json_object_get(ans, "events");
        if (!json_is_array(list))
            cli_die(EXIT_CONNECT, "the journal answer has no list of events");
        have_stated = decode_head(stated, cli_jstr(ans, "head")) == 0;
        size_t i;
        json_t *ev;
        json_array_foreach(list, i, ev) {
            const char *raw = cli_jstr(ev, "raw");
            int64_t seq = cli_jint(ev, "seq");
            size_t rlen = raw ? strlen(raw) : 0, n = 0;
            unsigned char *bytes = malloc(rlen * 3 / 4 + 4);
            if (!raw || !bytes || b64_decode(bytes, rlen * 3 / 4 + 4, &n, raw, rlen) != 0)
                cli_die(EXIT_CRYPTO, "journal event %lld: raw is not base64url", (long long)seq);
            json_t *obj = json_loadb((const char *)bytes, n, JSON_REJECT_DUPLICATES, NULL);
            if (!json_is_object(obj) || cli_jint(obj, "seq") != seq)
                cli_die(EXIT_CRYPTO, "journal event %lld: raw is not the event it claims to be", (long long)seq);
            if (seq != expect)
                cli_fail(EXIT_CRYPTO, "journal_broken", "the journal skips from event %lld to %lld",
                         (long long)expect - 1, (long long)seq);
            journal_chain(head, head, bytes, n);
            free(bytes);
            expect = seq + 1;
            after = seq;
            json_array_append_new(events, obj);
            cli_progress("journal: %zu events", json_array_size(events));
        }
        size_t got = json_array_size(list);
        json_decref(ans);
        if (got == 0)
            break;
    }
    cli_progress_done();
    if (verify) {
        if (!have_stated)
            cli_die(EXIT_CRYPTO, "the vault states no journal head to verify against");
        if (sodium_memcmp(head, stated, 32) != 0)
            cli_fail(EXIT_CRYPTO, "journal_broken",
                     "the journal does not hash to the head the vault states: events were altered, removed or "
                     "reordered");
    }
    hex_encode(head_hex, head, 32);
    return events;
}

static void print_event(const json_t *e)
{
    const char *sec = cli_jstr(e, "section"), *org = cli_jstr(e, "organisation");
    printf("%5lld  %s  %-18s %-12s %-8s %-14s %-28s %s\n", (long long)cli_jint(e, "seq"), cli_time(cli_jint(e, "time")),
           cli_jstr(e, "actor") ? cli_jstr(e, "actor") : "?", cli_jstr(e, "actor_role") ? cli_jstr(e, "actor_role") : "",
           cli_jstr(e, "action") ? cli_jstr(e, "action") : "?", sec ? sec : "-",
           cli_jstr(e, "basis") ? cli_jstr(e, "basis") : "", cli_jstr(e, "result") ? cli_jstr(e, "result") : "");
    (void)org;
}

int cmd_journal(int argc, char **argv)
{
    int verify = 0;
    int64_t after = 0;
    const char *pos[1];
    const struct cli_opt opts[] = {{"--verify", OPT_FLAG, &verify}, {"--after", OPT_INT, &after}, {NULL, OPT_FLAG, NULL}};
    cli_parse(argc, argv, opts, pos, 0, 0, "journal");
    if (verify && after)
        cli_die(EXIT_USAGE, "journal: --verify recomputes the chain from the first event; drop --after");
    char head[65];
    json_t *events = fetch_journal(after, verify, head);
    if (cli_g.json) {
        json_t *o = json_pack("{s:s, s:o}", "citizen", cli_id(), "events", events);
        if (verify)
            json_object_set_new(o, "verified", json_true());
        json_object_set_new(o, "head", json_string(head));
        cli_emit(o);
        return EXIT_OK_;
    }
    printf("%5s  %-16s  %-18s %-12s %-8s %-14s %-28s %s\n", "seq", "time", "who", "role", "action", "section", "basis",
           "result");
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e) print_event(e);
    if (verify)
        printf("journal verified: %zu events chain to head %s\n", json_array_size(events), head);
    json_decref(events);
    return EXIT_OK_;
}

int cmd_export(int argc, char **argv)
{
    const char *out = NULL, *pos[1];
    const struct cli_opt opts[] = {{"--out", OPT_STR, &out}, {NULL, OPT_FLAG, NULL}};
    cli_parse(argc, argv, opts, pos, 0, 0, "export");
    if (!out)
        cli_die(EXIT_USAGE, "usage: kluis export --out FILE");
    if (access(out, F_OK) == 0)
        cli_die(EXIT_CRYPTO, "%s already exists; not overwriting it", out);
    const char *me = cli_id();
    const struct charter *c = cli_charter();

    /* the vault's own export: asked for so that it is journaled; its content is checked below */
    char path[128];
    snprintf(path, sizeof path, "/v1/citizens/%s/export", me);
    json_decref(api_call("GET", path, NULL, API_AUTH));

    struct dossier d;
    dossier_load(&d, me, NULL);
    json_t *sections = json_array();
    size_t i, total = 0;
    json_t *sec;
    json_array_foreach(json_object_get(d.json, "sections"), i, sec) {
        const char *name = cli_jstr(sec, "section");
        const struct charter_section *cs = charter_section(c, name);
        json_t *entries = dossier_read_section(&d, name);
        total += json_array_size(entries);
        json_array_append_new(sections, json_pack("{s:s, s:s?, s:I, s:o}", "section", name, "title", cs ? cs->title : NULL,
                                                  "current_epoch", (json_int_t)dossier_current_epoch(&d, name),
                                                  "entries", entries));
        cli_progress("export: %zu entries", total);
    }
    dossier_free(&d);
    snprintf(path, sizeof path, "/v1/citizens/%s/grants", me);
    json_t *g = api_call("GET", path, NULL, API_AUTH);
    json_t *grants = json_deep_copy(json_is_array(g) ? g : json_object_get(g, "grants"));
    json_decref(g);
    size_t j;
    json_t *gi;
    json_array_foreach(grants, j, gi) {
        json_object_del(gi, "statement");
        json_object_del(gi, "signature");
        json_object_del(gi, "revoke_statement");
        json_object_del(gi, "revoke_signature");
    }
    char head[65];
    json_t *events = fetch_journal(0, 1, head);
    cli_progress_done();
    const struct vault_info *v = cli_vault();
    json_t *doc = json_pack("{s:s, s:s, s:I, s:{s:s, s:I, s:s}, s:s, s:o, s:o, s:{s:b, s:s, s:o}}", "citizen", me,
                            "vault", v->origin, "exported", (json_int_t)cli_now(), "charter", "id", c->id, "version",
                            (json_int_t)c->version, "hash", c->hash_hex, "verified",
                            "every key commitment, entry signature and blob hash, and the journal chain",
                            "sections", sections, "grants", grants ? grants : json_array(), "journal", "verified", 1,
                            "head", head, "events", events);
    char *text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    if (!text)
        cli_die(EXIT_CRYPTO, "out of memory");
    size_t len = strlen(text);
    text[len] = 0;
    int rc = cli_write_new(out, text, len);
    int e = errno;
    sodium_memzero(text, len);
    free(text);
    if (rc != 0)
        cli_die(EXIT_CRYPTO, "cannot write %s: %s", out, strerror(e));
    if (cli_g.json)
        cli_emit(json_pack("{s:s, s:I, s:s}", "file", out, "entries", (json_int_t)total, "journal_head", head));
    else
        printf("exported %zu entries, your grants and the verified journal to %s\n", total, out);
    return EXIT_OK_;
}
