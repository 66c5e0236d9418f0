/*
 * cli/override.c — the emergency override from the command line (SPEC §7, issue 5):
 *   kluis override request CITIZEN --beneficiary ID --ground G --hours H --sections a,b|all --justification T
 *   kluis override approve ID [--yes]
 *   kluis override unlock ID --authority-key FILE
 *   kluis override close ID --reason T
 *   kluis override list [--state S]
 * and the citizen's aftercare: after an override that released keys has closed, the citizen's
 * client rotates the opened sections on the next command (override_citizen_aftercare()).
 *
 * Nothing here trusts the vault further than it must: approve shows the request as the mayor
 * signed it (signature checked against the directory key of a principal with the authority role)
 * and hashes exactly those bytes; unlock checks every released key against the citizen-signed
 * commitment before wrapping it for the beneficiary, whose box key comes from the directory.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli.h"
#include "policy/charter.h"
#include "vault/encoding.h"
#include "vault/keyfile.h"
#include "vault/secret.h"
#include "vault/statement.h"

static json_t *sign_or_die(json_t *stmt)
{
    json_t *env = NULL;
    struct jerr err = {0};
    if (!stmt || kstmt_sign_json(&env, stmt, cli_keys()->sign_sk, &err) != 0)
        cli_die(EXIT_USAGE, "cannot sign the statement: %s (%s)", err.msg, err.field);
    json_decref(stmt);
    return env;
}

/* The record of override ID from GET /v1/overrides (a new reference); dies when absent. */
static json_t *fetch_record(const char *id)
{
    json_t *ans = api_call("GET", "/v1/overrides", NULL, API_AUTH);
    size_t i;
    json_t *o, *found = NULL;
    json_array_foreach(json_object_get(ans, "overrides"), i, o) {
        const char *x = cli_jstr(o, "id");
        if (x && !strcmp(x, id))
            found = json_incref(o);
    }
    json_decref(ans);
    if (!found)
        cli_fail(EXIT_REFUSED, "not_found", "no override %s", id);
    return found;
}

/* Open and verify the request statement of REC with its signer's directory key (an authority). */
static void open_request(struct kstmt *st, const json_t *rec)
{
    struct jerr err = {0};
    unsigned char spk[32], bpk[32];
    if (kstmt_open(st, cli_jstr(rec, "statement"), cli_jstr(rec, "signature"), "override", &err) != 0)
        cli_die(EXIT_CRYPTO, "the override statement is malformed: %s", err.msg);
    dir_keys(st->signer, spk, bpk);
    const json_t *p = dir_find(st->signer);
    const char *role = p ? cli_jstr(p, "role") : NULL;
    if (kstmt_check_signature(st, spk, &err) != 0)
        cli_die(EXIT_CRYPTO, "the override statement is not signed by %s", st->signer);
    if (!role || strcmp(role, "mayor") != 0)
        cli_die(EXIT_CRYPTO, "the override was signed by %s, who is not a mayor", st->signer);
    if (strcmp(st->id, cli_jstr(rec, "id")) != 0)
        cli_die(EXIT_CRYPTO, "the signed statement names another override than the record");
}

static const char *sections_text(const json_t *secs)
{
    static char buf[1024];
    buf[0] = 0;
    size_t i;
    json_t *s;
    json_array_foreach(secs, i, s) {
        size_t u = strlen(buf);
        const char *x = json_string_value(s);
        snprintf(buf + u, sizeof buf - u, "%s%s", u ? "," : "", x && !strcmp(x, "*") ? "all" : (x ? x : "?"));
    }
    return buf;
}

/* ---- request ------------------------------------------------------------------------------------ */

int cmd_override_request(int argc, char **argv)
{
    const char *ben = NULL, *ground = NULL, *sections = NULL, *just = NULL, *pos[1];
    int64_t hours = 0;
    const struct cli_opt opts[] = {{"--beneficiary", OPT_STR, &ben}, {"--ground", OPT_STR, &ground},
                                   {"--hours", OPT_INT, &hours},     {"--sections", OPT_STR, &sections},
                                   {"--justification", OPT_STR, &just}, {NULL, OPT_FLAG, NULL}};
    cli_parse(argc, argv, opts, pos, 1, 1, "override request");
    cli_need_id(pos[0], "CITIZEN");
    cli_need_id(ben, "--beneficiary");
    cli_need_id(ground, "--ground");
    if (hours < 1)
        cli_die(EXIT_USAGE, "--hours must be at least 1");
    if (!just || !just[0])
        cli_die(EXIT_USAGE, "--justification is required: say why, in full");
    if (!sections)
        cli_die(EXIT_USAGE, "--sections a,b or --sections all is required");
    json_t *secs = !strcmp(sections, "all") ? json_pack("[s]", "*") : cli_id_list(sections, "--sections");
    char id[KLUIS_ID_MAX + 1];
    cli_new_id(id, "ov");
    json_t *env = sign_or_die(json_pack("{s:s, s:s, s:s, s:I, s:s, s:o, s:s, s:s, s:s, s:I}", "type", "override", "id",
                                        id, "signer", cli_id(), "issued", (json_int_t)cli_now(), "citizen", pos[0],
                                        "sections", secs, "beneficiary", ben, "ground", ground, "justification", just,
                                        "hours", (json_int_t)hours));
    json_t *ans = api_call("POST", "/v1/overrides", env, API_AUTH);
    json_decref(env);
    if (cli_g.json) {
        cli_emit(ans);
        return EXIT_OK_;
    }
    const char *state = cli_jstr(ans, "state");
    printf("override %s requested for %s (beneficiary %s, %lld h, sections %s): %s\n", id, pos[0], ben,
           (long long)hours, sections, state ? state : "?");
    if (state && !strcmp(state, "pending"))
        printf("it becomes active once the charter's approvers have approved it (kluis override approve %s)\n", id);
    json_decref(ans);
    return EXIT_OK_;
}

/* ---- approve ------------------------------------------------------------------------------------ */

static int confirm(const char *question)
{
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        cli_die(EXIT_USAGE, "approval needs confirmation: use --yes when no terminal is attached");
    char buf[16] = {0};
    if (write(fd, question, strlen(question)) < 0 || read(fd, buf, sizeof buf - 1) <= 0) {
        close(fd);
        return 0;
    }
    close(fd);
    buf[strcspn(buf, "\r\n")] = 0;
    return !strcmp(buf, "yes") || !strcmp(buf, "ja");
}

int cmd_override_approve(int argc, char **argv)
{
    const char *pos[1];
    int yes = 0;
    const struct cli_opt opts[] = {{"--yes", OPT_FLAG, &yes}, {NULL, OPT_FLAG, NULL}};
    cli_parse(argc, argv, opts, pos, 1, 1, "override approve");
    cli_need_id(pos[0], "ID");
    json_t *rec = fetch_record(pos[0]);
    struct kstmt st;
    open_request(&st, rec);
    const struct charter *ch = cli_charter();
    const struct charter_ground *g = charter_ground(ch, st.ground);
    FILE *out = cli_g.json ? stderr : stdout;
    fprintf(out, "Override %s, requested %s by %s\n", st.id, cli_time(st.issued), dir_label(st.signer));
    fprintf(out, "  citizen:       %s\n", st.citizen);
    fprintf(out, "  beneficiary:   %s\n", dir_label(st.beneficiary));
    fprintf(out, "  ground:        %s%s%s%s\n", st.ground, g ? " (" : " (NOT IN THE CHARTER)", g ? g->title : "",
            g ? ")" : "");
    fprintf(out, "  duration:      %lld hours (charter maximum %lld)\n", (long long)st.hours,
            (long long)ch->override.max_hours);
    fprintf(out, "  sections:      %s\n", sections_text(st.sections));
    fprintf(out, "  justification: %s\n", st.justification);
    fprintf(out, "  state:         %s, %zu approval(s) of %lld required\n", cli_jstr(rec, "state"),
            json_array_size(json_object_get(rec, "approvals")), (long long)ch->override.approvals_required);
    if (!yes && !confirm("Approve this override? Type yes to approve: ")) {
        kstmt_free(&st);
        json_decref(rec);
        cli_die(EXIT_USAGE, "not approved");
    }
    unsigned char h[KLUIS_HASH_BYTES];
    if (kstmt_hash(h, &st) != 0)
        cli_die(EXIT_CRYPTO, "cannot hash the statement");
    char *hb = b64_encode(h, sizeof h);
    char id[KLUIS_ID_MAX + 1];
    cli_new_id(id, "ap");
    json_t *env = sign_or_die(json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "type", "override-approval", "id", id,
                                        "signer", cli_id(), "issued", (json_int_t)cli_now(), "override", st.id,
                                        "statement_hash", hb));
    free(hb);
    char path[160];
    snprintf(path, sizeof path, "/v1/overrides/%s/approve", st.id);
    json_t *ans = api_call("POST", path, env, API_AUTH);
    json_decref(env);
    kstmt_free(&st);
    json_decref(rec);
    if (cli_g.json) {
        cli_emit(ans);
        return EXIT_OK_;
    }
    const char *state = cli_jstr(ans, "state");
    printf("approved %s: %s", pos[0], state ? state : "?");
    if (state && !strcmp(state, "active"))
        printf(" until %s", cli_time(cli_jint(ans, "expires")));
    printf("\n");
    json_decref(ans);
    return EXIT_OK_;
}

/* ---- unlock ------------------------------------------------------------------------------------- */

static void open_authority(unsigned char *sk, const char *path)
{
    struct keyfile *kf = NULL;
    struct jerr err = {0};
    if (keyfile_load(&kf, path, &err) != 0)
        cli_die(EXIT_CRYPTO, "cannot read the authority key %s: %s", path, err.msg);
    if (keyfile_kind(kf) != KEYFILE_AUTHORITY)
        cli_die(EXIT_CRYPTO, "%s is not an authority key file", path);
    char *pass = NULL;
    size_t plen = 0;
    if (keyfile_needs_passphrase(kf))
        pass = cli_passphrase("Passphrase of the authority key: ", 0, &plen);
    int rc = keyfile_open_authority(sk, kf, pass, plen, &err);
    secret_free(pass);
    keyfile_free(kf);
    if (rc != 0)
        cli_die(EXIT_CRYPTO, "cannot open the authority key: %s", err.msg);
}

int cmd_override_unlock(int argc, char **argv)
{
    const char *keypath = NULL, *pos[1];
    const struct cli_opt opts[] = {{"--authority-key", OPT_STR, &keypath}, {NULL, OPT_FLAG, NULL}};
    cli_parse(argc, argv, opts, pos, 1, 1, "override unlock");
    cli_need_id(pos[0], "ID");
    if (!keypath)
        cli_die(EXIT_USAGE, "--authority-key FILE is required");
    unsigned char *ask = secret_new(KLUIS_BOX_SK_BYTES), *dek = secret_new(KLUIS_KEY_BYTES);
    if (!ask || !dek)
        cli_die(EXIT_CRYPTO, "out of memory");
    open_authority(ask, keypath);
    unsigned char apk[32];
    if (kluis_box_pk_from_sk(apk, ask) != 0 || sodium_memcmp(apk, cli_vault()->authority_pk, 32) != 0)
        cli_die(EXIT_CRYPTO, "this authority key is not the one the vault publishes");

    json_t *rec = fetch_record(pos[0]);
    struct kstmt req;
    open_request(&req, rec);
    unsigned char ben_sign[32], ben_box[32];
    dir_keys(req.beneficiary, ben_sign, ben_box);
    cli_pin_key("box", req.beneficiary, ben_box);

    char path[160];
    snprintf(path, sizeof path, "/v1/overrides/%s/escrow", pos[0]);
    json_t *esc = api_call("GET", path, NULL, API_AUTH);
    const char *citizen = cli_jstr(esc, "citizen");
    unsigned char cpk[32];
    if (!citizen || strcmp(citizen, req.citizen) != 0)
        cli_die(EXIT_CRYPTO, "the escrow answer names another citizen than the signed request");
    cli_jb64(cpk, sizeof cpk, esc, "sign_pk", "the citizen's signing key");
    cli_pin_key("citizen-sign", citizen, cpk);

    json_t *wraps = json_array();
    size_t i, n = 0;
    json_t *it;
    json_array_foreach(json_object_get(esc, "items"), i, it) {
        const char *sec = cli_jstr(it, "section");
        int64_t ep = cli_jint(it, "epoch");
        struct kstmt st;
        struct jerr err = {0};
        unsigned char inner[KLUIS_WRAP_BYTES], w[KLUIS_WRAP_BYTES];
        if (!sec || ep < 1 || !kstmt_covers_section(&req, sec))
            cli_die(EXIT_CRYPTO, "the escrow holds a key outside the override's sections");
        if (kstmt_open(&st, cli_jstr(it, "statement"), cli_jstr(it, "signature"), "epoch", &err) != 0 ||
            kstmt_check_signature(&st, cpk, &err) != 0 || strcmp(st.citizen, citizen) != 0 ||
            strcmp(st.section, sec) != 0 || st.epoch != ep)
            cli_die(EXIT_CRYPTO, "section %s epoch %lld: the epoch statement is not the citizen's", sec, (long long)ep);
        cli_jb64(inner, sizeof inner, it, "inner", "an escrow item");
        if (kluis_escrow_open_inner(dek, inner, ask) != 0)
            cli_die(EXIT_CRYPTO, "section %s epoch %lld: the escrow does not open with the authority key", sec,
                    (long long)ep);
        if (kluis_key_commit_check(st.commit, citizen, sec, (uint64_t)ep, dek) != 0)
            cli_die(EXIT_CRYPTO, "section %s epoch %lld: the key does not match the citizen's commitment", sec,
                    (long long)ep);
        kstmt_free(&st);
        if (kluis_wrap(w, dek, ben_box) != 0)
            cli_die(EXIT_CRYPTO, "cannot wrap a key");
        sodium_memzero(dek, KLUIS_KEY_BYTES);
        char *wb = b64_encode(w, sizeof w);
        json_array_append_new(wraps, json_pack("{s:s, s:I, s:s}", "section", sec, "epoch", (json_int_t)ep, "wrap", wb));
        free(wb);
        n++;
    }
    secret_free(ask);
    secret_free(dek);
    if (!n)
        cli_die(EXIT_REFUSED, "the escrow of %s holds no keys (erased sections?)", pos[0]);
    json_t *body = json_pack("{s:o}", "wraps", wraps);
    snprintf(path, sizeof path, "/v1/overrides/%s/wraps", pos[0]);
    json_t *ans = api_call("POST", path, body, API_AUTH);
    json_decref(body);
    if (cli_g.json) {
        json_object_set_new(ans, "checked", json_integer((json_int_t)n));
        cli_emit(ans);
    } else {
        printf("unlocked %s: %zu key(s) checked against the citizen's commitments and wrapped for %s\n", pos[0], n,
               dir_label(req.beneficiary));
        json_decref(ans);
    }
    kstmt_free(&req);
    json_decref(rec);
    json_decref(esc);
    return EXIT_OK_;
}

/* ---- close -------------------------------------------------------------------------------------- */

int cmd_override_close(int argc, char **argv)
{
    const char *reason = NULL, *pos[1];
    const struct cli_opt opts[] = {{"--reason", OPT_STR, &reason}, {NULL, OPT_FLAG, NULL}};
    cli_parse(argc, argv, opts, pos, 1, 1, "override close");
    cli_need_id(pos[0], "ID");
    if (!reason || !reason[0])
        cli_die(EXIT_USAGE, "--reason T is required");
    char id[KLUIS_ID_MAX + 1], path[160];
    cli_new_id(id, "oc");
    json_t *env = sign_or_die(json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "type", "override-close", "id", id,
                                        "signer", cli_id(), "issued", (json_int_t)cli_now(), "override", pos[0],
                                        "reason", reason));
    snprintf(path, sizeof path, "/v1/overrides/%s/close", pos[0]);
    json_t *ans = api_call("POST", path, env, API_AUTH);
    json_decref(env);
    if (cli_g.json)
        cli_emit(ans);
    else {
        printf("override %s closed: its wraps are destroyed and access under it has ended\n", pos[0]);
        json_decref(ans);
    }
    return EXIT_OK_;
}

/* ---- list --------------------------------------------------------------------------------------- */

int cmd_override_list(int argc, char **argv)
{
    const char *state = NULL, *pos[1];
    const struct cli_opt opts[] = {{"--state", OPT_STR, &state}, {NULL, OPT_FLAG, NULL}};
    cli_parse(argc, argv, opts, pos, 0, 0, "override list");
    char path[96] = "/v1/overrides";
    if (state) {
        cli_need_id(state, "--state");
        snprintf(path, sizeof path, "/v1/overrides?state=%s", state);
    }
    json_t *ans = api_call("GET", path, NULL, API_AUTH);
    if (cli_g.json) {
        cli_emit(ans);
        return EXIT_OK_;
    }
    json_t *list = json_object_get(ans, "overrides");
    if (!json_array_size(list))
        printf("no overrides%s%s\n", state ? " in state " : "", state ? state : "");
    size_t i;
    json_t *o;
    json_array_foreach(list, i, o) {
        printf("%s  %-7s  %s → %s for %s  %s, %lld h, sections %s, %zu approval(s)", cli_jstr(o, "id"),
               cli_jstr(o, "state"), cli_jstr(o, "requester"), cli_jstr(o, "beneficiary"), cli_jstr(o, "citizen"),
               cli_jstr(o, "ground"), (long long)cli_jint(o, "hours"), sections_text(json_object_get(o, "sections")),
               json_array_size(json_object_get(o, "approvals")));
        if (cli_jint(o, "expires") > 0)
            printf(", expires %s", cli_time(cli_jint(o, "expires")));
        if (cli_jstr(o, "close_reason"))
            printf(", closed (%s)", cli_jstr(o, "close_reason"));
        printf("\n");
    }
    json_decref(ans);
    return EXIT_OK_;
}

/* ---- the citizen's aftercare -------------------------------------------------------------------- */

void override_citizen_aftercare(void)
{
    /* Sections whose keys left the vault under an override that has since closed: the vault
     * journals one "override-closed" event per such section. A section rotated after that event
     * (a later "rotate" event in the same journal: sequence numbers, not clock seconds, order
     * them) needs nothing. */
    json_t *closed = json_object();  /* section → seq of its latest override-closed event */
    json_t *rotated = json_object(); /* section → seq of its latest rotate event */
    char path[200];
    uint64_t after = 0;
    for (int page = 0; page < 1000; page++) {
        snprintf(path, sizeof path, "/v1/citizens/%s/journal?after=%llu&limit=1000", cli_id(),
                 (unsigned long long)after);
        struct api_result r;
        if (api_try(&r, "GET", path, NULL, API_AUTH) != 0) {
            json_decref(r.json);
            json_decref(closed);
            json_decref(rotated);
            return;
        }
        json_t *ev = json_object_get(r.json, "events");
        size_t i, n = json_array_size(ev);
        json_t *e;
        json_array_foreach(ev, i, e) {
            const char *a = cli_jstr(e, "action"), *s = cli_jstr(e, "section"), *res = cli_jstr(e, "result");
            int64_t seq = cli_jint(e, "seq");
            if (a && s && !strcmp(a, "override-closed"))
                json_object_set_new(closed, s, json_integer((json_int_t)seq));
            else if (a && s && !strcmp(a, "rotate") && res && !strcmp(res, "allowed"))
                json_object_set_new(rotated, s, json_integer((json_int_t)seq));
            after = (uint64_t)seq;
        }
        json_decref(r.json);
        if (n < 1000)
            break;
    }
    if (!json_object_size(closed)) {
        json_decref(closed);
        json_decref(rotated);
        return;
    }
    struct dossier d;
    dossier_load(&d, cli_id(), NULL);
    const char *sec;
    json_t *tv;
    json_t *todo = json_array();
    json_object_foreach(closed, sec, tv) {
        json_t *rv = json_object_get(rotated, sec);
        if (!dossier_section(&d, sec) || dossier_current_epoch(&d, sec) < 1 ||
            (rv && json_integer_value(rv) > json_integer_value(tv)))
            continue;
        json_array_append_new(todo, json_string(sec));
    }
    json_decref(rotated);
    dossier_free(&d);
    size_t i;
    json_t *x;
    json_array_foreach(todo, i, x) {
        const char *s = json_string_value(x);
        fprintf(stderr, "kluis: an emergency override opened section %s and has closed: rotating its key\n", s);
        int64_t ep = citizen_rotate_section(s);
        fprintf(stderr, "kluis: section %s now uses key epoch %lld\n", s, (long long)ep);
    }
    json_decref(todo);
    json_decref(closed);
}
