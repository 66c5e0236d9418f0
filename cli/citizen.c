/*
 * cli/citizen.c — the citizen's commands: enroll, log in with the passphrase bundle, grant,
 * list and revoke grants, rotate section keys, answer requests, erase a section.
 *
 * The citizen's client makes every key: the key pairs, one DEK per charter section and epoch
 * (fresh from the CSPRNG, in secret memory, wiped after wrapping), the signed epoch statements
 * that commit to them, the wraps for the citizen, the escrow and each grantee. Before the citizen
 * wraps an existing key for someone else, it is unwrapped from the citizen's own wrap and checked
 * against the citizen's own signed commitment (dossier_load), so a vault cannot make the citizen
 * hand out a key of its choosing.
 */
#include "cli/cli.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/charter.h"
#include "vault/encoding.h"
#include "vault/keyfile.h"
#include "vault/secret.h"
#include "vault/statement.h"

#define BUNDLE_OPSLIMIT crypto_pwhash_OPSLIMIT_INTERACTIVE
#define BUNDLE_MEMLIMIT crypto_pwhash_MEMLIMIT_INTERACTIVE

static const struct cli_opt no_opts[] = {{NULL, OPT_FLAG, NULL}};

static char *b64(const unsigned char *p, size_t n)
{
    char *s = b64_encode(p, n);
    if (!s)
        cli_die(EXIT_CRYPTO, "out of memory");
    return s;
}

/* Set KEY of OBJ to b64(P, N). */
static void set_b64(json_t *obj, const char *key, const unsigned char *p, size_t n)
{
    char *s = b64(p, n);
    json_object_set_new(obj, key, json_string(s));
    free(s);
}

/* Sign an epoch statement for DEK; returns the envelope {statement, signature}. */
static json_t *epoch_envelope(const char *citizen, const char *section, int64_t epoch, const unsigned char *dek,
                              const struct kluis_keys *k)
{
    unsigned char commit[32];
    if (kluis_key_commit(commit, citizen, section, (uint64_t)epoch, dek) != 0)
        cli_die(EXIT_CRYPTO, "cannot commit to the key of %s", section);
    char id[KLUIS_ID_MAX + 1];
    cli_new_id(id, "e");
    char *c64 = b64(commit, 32);
    json_t *stmt = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:s}", "type", "epoch", "id", id, "signer", citizen,
                             "issued", (json_int_t)cli_now(), "citizen", citizen, "section", section, "epoch",
                             (json_int_t)epoch, "commit", c64);
    free(c64);
    json_t *env = NULL;
    struct jerr err = {0};
    if (!stmt || kstmt_sign_json(&env, stmt, k->sign_sk, &err) != 0)
        cli_die(EXIT_CRYPTO, "cannot sign the epoch statement: %s", err.msg);
    json_decref(stmt);
    return env;
}

/* The wraps of DEK for the citizen and the escrow, added to OBJ. */
static void self_and_escrow(json_t *obj, const unsigned char *dek, const struct kluis_keys *k)
{
    const struct vault_info *v = cli_vault();
    unsigned char wrap[KLUIS_WRAP_BYTES], esc[KLUIS_ESCROW_BYTES];
    if (kluis_wrap(wrap, dek, k->box_pk) != 0 || kluis_escrow_seal(esc, dek, v->authority_pk, v->gate_pk) != 0)
        cli_die(EXIT_CRYPTO, "cannot wrap a section key");
    set_b64(obj, "self_wrap", wrap, sizeof wrap);
    set_b64(obj, "escrow_wrap", esc, sizeof esc);
}

/* ---- enroll ----------------------------------------------------------------------------------- */

int cmd_citizen_enroll(int argc, char **argv)
{
    const char *id = NULL, *code = NULL, *out = NULL, *pos[1];
    const struct cli_opt opts[] = {{"--id", OPT_STR, &id}, {"--code", OPT_STR, &code}, {"--out", OPT_STR, &out},
                                   {NULL, OPT_FLAG, NULL}};
    cli_parse(argc, argv, opts, pos, 0, 0, "citizen enroll");
    cli_need_id(id, "--id");
    if (!code || !*code)
        cli_die(EXIT_USAGE, "usage: kluis citizen enroll --id ID --code CODE [--out FILE]");
    char outbuf[128];
    if (!out) {
        snprintf(outbuf, sizeof outbuf, "%s.key", id);
        out = outbuf;
    }
    if (access(out, F_OK) == 0)
        cli_die(EXIT_CRYPTO, "%s already exists; refusing to overwrite a key (choose another --out)", out);
    const struct charter *c = cli_charter();

    size_t plen;
    char *pass = cli_passphrase("Passphrase for your dossier: ", 1, &plen);
    struct kluis_keys *k = kluis_keys_new();
    struct kluis_bundle_keys *bk = kluis_bundle_keys_new();
    unsigned char *secret = secret_new(KLUIS_SECRET_BYTES), *dek = secret_new(KLUIS_KEY_BYTES);
    if (!k || !bk || !secret || !dek || kluis_keys_generate(k) != 0)
        cli_die(EXIT_CRYPTO, "cannot make key pairs");
    unsigned char salt[KLUIS_SALT_BYTES], bundle[KLUIS_BUNDLE_BYTES], auth_hash[32];
    randombytes_buf(salt, sizeof salt);
    cli_progress("deriving the key from the passphrase ...");
    if (kluis_bundle_derive(bk, pass, plen, salt, BUNDLE_OPSLIMIT, BUNDLE_MEMLIMIT) != 0)
        cli_die(EXIT_CRYPTO, "cannot derive the passphrase key");
    cli_progress_done();
    kluis_keys_export(secret, k);
    if (kluis_bundle_seal(bundle, secret, id, bk->enc_key) != 0 || kluis_auth_hash(auth_hash, bk->auth_key) != 0)
        cli_die(EXIT_CRYPTO, "cannot seal the key bundle");
    secret_free(secret);
    kluis_bundle_keys_free(bk);

    json_t *secs = json_array();
    for (size_t i = 0; i < c->n_sections; i++) {
        const char *s = c->sections[i].id;
        randombytes_buf(dek, KLUIS_KEY_BYTES);
        json_t *item = json_pack("{s:s, s:i}", "section", s, "epoch", 1);
        json_t *env = epoch_envelope(id, s, 1, dek, k);
        json_object_update(item, env);
        json_decref(env);
        self_and_escrow(item, dek, k);
        json_array_append_new(secs, item);
    }
    secret_free(dek);
    json_t *body = json_pack("{s:s}", "enrollment_code", code);
    set_b64(body, "sign_pk", k->sign_pk, 32);
    set_b64(body, "box_pk", k->box_pk, 32);
    set_b64(body, "salt", salt, sizeof salt);
    json_object_set_new(body, "opslimit", json_integer((json_int_t)BUNDLE_OPSLIMIT));
    json_object_set_new(body, "memlimit", json_integer((json_int_t)BUNDLE_MEMLIMIT));
    set_b64(body, "bundle", bundle, sizeof bundle);
    set_b64(body, "auth_hash", auth_hash, sizeof auth_hash);
    json_object_set_new(body, "sections", secs);

    /* the key file first: if the vault accepts, the keys are safe on this computer as well */
    struct jerr err = {0};
    if (keyfile_write_principal(out, id, k, pass, plen, BUNDLE_OPSLIMIT, BUNDLE_MEMLIMIT, &err) != 0)
        cli_die(EXIT_CRYPTO, "cannot write %s: %s", out, err.msg);
    secret_free(pass);
    char path[128];
    snprintf(path, sizeof path, "/v1/citizens/%s/enroll", id);
    struct api_result r;
    if (api_try(&r, "POST", path, body, API_ANON) != 0) {
        unlink(out);
        api_refused(&r);
    }
    json_decref(body);
    json_decref(r.json);
    cli_adopt_keys(id, k);
    kluis_keys_free(k);
    cli_login();
    if (cli_g.json)
        cli_emit(json_pack("{s:s, s:b, s:I, s:s}", "id", id, "enrolled", 1, "sections", (json_int_t)c->n_sections,
                           "key_file", out));
    else
        printf("enrolled %s: %zu sections, each with its own key; your key file is %s\n"
               "Keep your passphrase safe: nobody, not even the municipality, can recover it.\n",
               id, c->n_sections, out);
    return EXIT_OK_;
}

/* ---- login ------------------------------------------------------------------------------------ */

int cmd_citizen_login(int argc, char **argv)
{
    const char *id = NULL, *out = NULL, *pos[1];
    const struct cli_opt opts[] = {{"--id", OPT_STR, &id}, {"--out", OPT_STR, &out}, {NULL, OPT_FLAG, NULL}};
    cli_parse(argc, argv, opts, pos, 0, 0, "citizen login");
    if (!id)
        id = cli_g.citizen;
    cli_need_id(id, "--id");
    if (out && access(out, F_OK) == 0)
        cli_die(EXIT_CRYPTO, "%s already exists; refusing to overwrite a key", out);
    struct kluis_keys *k = kluis_keys_new();
    if (!k)
        cli_die(EXIT_CRYPTO, "out of secure memory");
    size_t plen;
    char *pass = cli_passphrase("Passphrase: ", 0, &plen);
    cli_bundle_open_pass(k, id, pass, plen);
    cli_adopt_keys(id, k);
    const char *role = cli_login();
    if (out) {
        struct jerr err = {0};
        if (keyfile_write_principal(out, id, k, pass, plen, BUNDLE_OPSLIMIT, BUNDLE_MEMLIMIT, &err) != 0)
            cli_die(EXIT_CRYPTO, "cannot write %s: %s", out, err.msg);
    }
    secret_free(pass);
    kluis_keys_free(k);
    if (cli_g.json)
        cli_emit(json_pack("{s:s, s:s, s:I, s:s?}", "id", id, "role", role, "expires",
                           (json_int_t)cli_session_expires(), "key_file", out));
    else
        printf("logged in as %s (%s) until %s%s%s\n", id, role, cli_time(cli_session_expires()),
               out ? "; key file written to " : "", out ? out : "");
    return EXIT_OK_;
}

/* ---- grants ----------------------------------------------------------------------------------- */

static json_t *my_grants(void)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/citizens/%s/grants", cli_id());
    return api_call("GET", path, NULL, API_AUTH);
}

static const json_t *grant_list(const json_t *ans)
{
    const json_t *l = json_is_array(ans) ? ans : json_object_get(ans, "grants");
    if (!json_is_array(l))
        cli_die(EXIT_CONNECT, "the grants answer has no list of grants");
    return l;
}

static const char *join(const json_t *arr)
{
    static char buf[1024];
    size_t i, used = 0;
    json_t *v;
    buf[0] = 0;
    json_array_foreach(arr, i, v) {
        int n = snprintf(buf + used, sizeof buf - used, "%s%s", i ? "," : "", json_string_value(v) ? json_string_value(v) : "?");
        if (n < 0 || (size_t)n >= sizeof buf - used)
            break;
        used += (size_t)n;
    }
    return buf;
}

void cli_print_grants(json_t *ans, int mine)
{
    const json_t *l = grant_list(ans);
    if (cli_g.json) {
        cli_emit(ans);
        return;
    }
    size_t i;
    json_t *g;
    if (json_array_size(l) == 0)
        printf("no grants\n");
    json_array_foreach(l, i, g) {
        const char *who = mine ? cli_jstr(g, "citizen") : cli_jstr(g, "grantee");
        printf("%-28s %-8s %s %-18s %-16s %-5s %s", cli_jstr(g, "id") ? cli_jstr(g, "id") : "?",
               cli_jstr(g, "state") ? cli_jstr(g, "state") : "?", mine ? "from" : "to", who ? who : "?",
               cli_jstr(g, "purpose") ? cli_jstr(g, "purpose") : "?", cli_jstr(g, "access") ? cli_jstr(g, "access") : "?",
               join(json_object_get(g, "sections")));
        printf("  %s", cli_time(cli_jint(g, "not_before")));
        printf(" .. %s\n", cli_time(cli_jint(g, "expires")));
    }
    json_decref(ans);
}

int cmd_grants(int argc, char **argv)
{
    const char *pos[1];
    cli_parse(argc, argv, no_opts, pos, 0, 0, "grants");
    cli_print_grants(my_grants(), 0);
    return EXIT_OK_;
}

static const json_t *find_by_id(const json_t *list, const char *id)
{
    size_t i;
    json_t *g;
    json_array_foreach(list, i, g) if (cli_jstr(g, "id") && strcmp(cli_jstr(g, "id"), id) == 0) return g;
    return NULL;
}

static json_t *my_requests(void)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/citizens/%s/requests", cli_id());
    json_t *ans = api_call("GET", path, NULL, API_AUTH);
    const json_t *l = json_is_array(ans) ? ans : json_object_get(ans, "requests");
    if (!json_is_array(l))
        cli_die(EXIT_CONNECT, "the requests answer has no list of requests");
    return ans;
}

/* Verify request REQ's statement with its signer's key from the directory. */
static void check_request(const json_t *req)
{
    struct kstmt st;
    struct jerr err = {0};
    const char *s = cli_jstr(req, "statement"), *sig = cli_jstr(req, "signature");
    if (!s || !sig || kstmt_open(&st, s, sig, "request", &err) != 0)
        cli_die(EXIT_CRYPTO, "request %s: malformed statement", cli_jstr(req, "id"));
    unsigned char pk[32];
    dir_keys(st.signer, pk, NULL);
    if (kstmt_check_signature(&st, pk, &err) != 0)
        cli_fail(EXIT_CRYPTO, "bad_signature", "request %s: the signature of %s does not verify", st.id, st.signer);
    const char *rid = cli_jstr(req, "id"), *pur = cli_jstr(req, "purpose"), *rq = cli_jstr(req, "requester");
    if (strcmp(st.citizen, cli_id()) != 0 || !rid || strcmp(rid, st.id) != 0 || !pur || strcmp(pur, st.purpose) != 0 ||
        (rq && strcmp(rq, st.signer) != 0) || !json_equal(json_object_get(req, "sections"), st.sections) ||
        cli_jint(req, "days") != st.days)
        cli_die(EXIT_CRYPTO, "request %s: the vault's summary differs from what %s signed", st.id, st.signer);
    kstmt_free(&st);
}

int cmd_grant(int argc, char **argv)
{
    const char *to = NULL, *purpose = NULL, *sections = NULL, *request = NULL, *note = NULL, *pos[1];
    int64_t days = 0;
    int write = 0;
    const struct cli_opt opts[] = {{"--to", OPT_STR, &to},           {"--purpose", OPT_STR, &purpose},
                                   {"--sections", OPT_STR, &sections}, {"--days", OPT_INT, &days},
                                   {"--write", OPT_FLAG, &write},      {"--request", OPT_STR, &request},
                                   {"--note", OPT_STR, &note},         {NULL, OPT_FLAG, NULL}};
    cli_parse(argc, argv, opts, pos, 0, 0, "grant");
    const char *me = cli_id();
    json_t *reqs = NULL, *secs = NULL;
    if (request) {
        cli_need_id(request, "--request");
        reqs = my_requests();
        const json_t *l = json_is_array(reqs) ? reqs : json_object_get(reqs, "requests");
        const json_t *q = find_by_id(l, request);
        if (!q)
            cli_die(EXIT_USAGE, "there is no open request '%s' (see: kluis requests)", request);
        check_request(q);
        if (!to)
            to = cli_jstr(q, "requester");
        if (!purpose)
            purpose = cli_jstr(q, "purpose");
        if (!sections)
            secs = json_deep_copy(json_object_get(q, "sections"));
        if (days == 0)
            days = cli_jint(q, "days");
        if (cli_jstr(q, "access") && strcmp(cli_jstr(q, "access"), "write") == 0)
            write = 1;
    }
    cli_need_id(to, "--to");
    cli_need_id(purpose, "--purpose");
    if (!secs)
        secs = cli_id_list(sections, "--sections");
    if (days < 1 || days > 3650)
        cli_die(EXIT_USAGE, "--days must be 1..3650");
    unsigned char gbox[32];
    dir_keys(to, NULL, gbox);

    struct dossier d;
    dossier_load(&d, me, NULL);
    json_t *wraps = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(secs, i, s) {
        const char *sec = json_string_value(s);
        size_t n = 0;
        for (size_t j = 0; j < d.ndeks; j++) {
            if (strcmp(d.deks[j].section, sec) != 0)
                continue;
            unsigned char w[KLUIS_WRAP_BYTES];
            if (kluis_wrap(w, d.deks[j].key, gbox) != 0)
                cli_die(EXIT_CRYPTO, "cannot wrap a key");
            json_t *item = json_pack("{s:s, s:I}", "section", sec, "epoch", (json_int_t)d.deks[j].epoch);
            set_b64(item, "wrap", w, sizeof w);
            json_array_append_new(wraps, item);
            n++;
        }
        if (n == 0)
            cli_die(EXIT_USAGE, "your dossier has no section '%s'", sec);
    }
    dossier_free(&d);
    char id[KLUIS_ID_MAX + 1];
    cli_new_id(id, "g");
    int64_t now = cli_now();
    json_t *stmt = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:O, s:s, s:s, s:I, s:I}", "type", "grant", "id", id,
                             "signer", me, "issued", (json_int_t)now, "citizen", me, "grantee", to, "sections", secs,
                             "access", write ? "write" : "read", "purpose", purpose, "not_before", (json_int_t)now,
                             "expires", (json_int_t)now + (json_int_t)days * 86400);
    if (stmt && request)
        json_object_set_new(stmt, "request", json_string(request));
    if (stmt && note)
        json_object_set_new(stmt, "note", json_string(note));
    json_t *env = NULL;
    struct jerr err = {0};
    if (!stmt || kstmt_sign_json(&env, stmt, cli_keys()->sign_sk, &err) != 0)
        cli_die(EXIT_USAGE, "cannot make the grant: %s", err.msg);
    json_decref(stmt);
    json_object_set_new(env, "wraps", wraps);
    char path[128];
    snprintf(path, sizeof path, "/v1/citizens/%s/grants", me);
    json_t *ans = api_call("POST", path, env, API_AUTH);
    json_decref(env);
    json_decref(reqs);
    if (cli_g.json) {
        if (!json_object_get(ans, "id"))
            json_object_set_new(ans, "id", json_string(id));
        cli_emit(ans);
    } else {
        printf("grant %s: %s may %s %s for %s until %s (%s)\n", id, to, write ? "read and write" : "read", join(secs),
               purpose, cli_time(now + days * 86400), cli_jstr(ans, "state") ? cli_jstr(ans, "state") : "given");
        json_decref(ans);
    }
    json_decref(secs);
    return EXIT_OK_;
}

/* ---- rotate and revoke ------------------------------------------------------------------------ */

static int live(const json_t *g)
{
    const char *st = cli_jstr(g, "state");
    return st && (strcmp(st, "active") == 0 || strcmp(st, "pending") == 0);
}

static int covers(const json_t *g, const char *section)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(g, "sections"), i, v) if (json_string_value(v) &&
                                                                 strcmp(json_string_value(v), section) == 0) return 1;
    return 0;
}

int64_t citizen_rotate_section(const char *section)
{
    const char *me = cli_id();
    const struct kluis_keys *k = cli_keys();
    for (int attempt = 0;; attempt++) {
        struct dossier d;
        dossier_load(&d, me, section);
        int64_t cur = dossier_current_epoch(&d, section);
        dossier_free(&d);
        if (cur < 1)
            cli_die(EXIT_USAGE, "your dossier has no section '%s'", section);
        int64_t epoch = cur + 1;
        unsigned char *dek = secret_new(KLUIS_KEY_BYTES);
        if (!dek)
            cli_die(EXIT_CRYPTO, "out of secure memory");
        randombytes_buf(dek, KLUIS_KEY_BYTES);
        json_t *body = json_pack("{s:I}", "epoch", (json_int_t)epoch);
        json_t *env = epoch_envelope(me, section, epoch, dek, k);
        json_object_update(body, env);
        json_decref(env);
        self_and_escrow(body, dek, k);
        json_t *gw = json_array();
        json_t *grants = my_grants();
        size_t i;
        json_t *g;
        json_array_foreach(grant_list(grants), i, g) {
            if (!live(g) || !covers(g, section))
                continue;
            unsigned char box[32], w[KLUIS_WRAP_BYTES];
            dir_keys(cli_jstr(g, "grantee"), NULL, box);
            if (kluis_wrap(w, dek, box) != 0)
                cli_die(EXIT_CRYPTO, "cannot wrap a key");
            json_t *item = json_pack("{s:s}", "grant", cli_jstr(g, "id"));
            set_b64(item, "wrap", w, sizeof w);
            json_array_append_new(gw, item);
        }
        json_decref(grants);
        secret_free(dek);
        json_object_set_new(body, "grant_wraps", gw);
        char path[160];
        snprintf(path, sizeof path, "/v1/citizens/%s/sections/%s/rotate", me, section);
        struct api_result r;
        int rc = api_try(&r, "POST", path, body, API_AUTH);
        json_decref(body);
        if (rc != 0 && attempt == 0 && (strcmp(r.code, "missing_wraps") == 0 || strcmp(r.code, "stale_epoch") == 0)) {
            json_decref(r.json); /* a grant or rotation raced us: look again */
            continue;
        }
        if (rc != 0)
            api_refused(&r);
        json_decref(r.json);
        return epoch;
    }
}

int cmd_rotate(int argc, char **argv)
{
    const char *pos[1];
    cli_parse(argc, argv, no_opts, pos, 1, 1, "rotate");
    cli_need_id(pos[0], "SECTION");
    int64_t e = citizen_rotate_section(pos[0]);
    if (cli_g.json)
        cli_emit(json_pack("{s:s, s:I}", "section", pos[0], "epoch", (json_int_t)e));
    else
        printf("section %s now uses key epoch %lld\n", pos[0], (long long)e);
    return EXIT_OK_;
}

int cmd_revoke(int argc, char **argv)
{
    const char *pos[1];
    cli_parse(argc, argv, no_opts, pos, 1, 1, "revoke");
    cli_need_id(pos[0], "GRANT");
    const char *me = cli_id();
    json_t *grants = my_grants();
    const json_t *g = find_by_id(grant_list(grants), pos[0]);
    if (!g)
        cli_die(EXIT_USAGE, "you gave no grant '%s' (see: kluis grants)", pos[0]);
    json_t *secs = json_deep_copy(json_object_get(g, "sections"));
    json_decref(grants);
    char id[KLUIS_ID_MAX + 1];
    cli_new_id(id, "v");
    json_t *stmt = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "type", "revoke", "id", id, "signer", me, "issued",
                             (json_int_t)cli_now(), "citizen", me, "grant", pos[0]);
    json_t *env = NULL;
    struct jerr err = {0};
    if (!stmt || kstmt_sign_json(&env, stmt, cli_keys()->sign_sk, &err) != 0)
        cli_die(EXIT_CRYPTO, "cannot sign the revocation: %s", err.msg);
    json_decref(stmt);
    char path[160];
    snprintf(path, sizeof path, "/v1/citizens/%s/grants/%s/revoke", me, pos[0]);
    json_decref(api_call("POST", path, env, API_AUTH));
    json_decref(env);
    if (!cli_g.json)
        printf("grant %s revoked\n", pos[0]);
    json_t *rot = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(secs, i, s) {
        const char *sec = json_string_value(s);
        cli_progress("rotating the key of %s ...", sec);
        int64_t e = citizen_rotate_section(sec);
        cli_progress_done();
        json_array_append_new(rot, json_pack("{s:s, s:I}", "section", sec, "epoch", (json_int_t)e));
        if (!cli_g.json)
            printf("section %s now uses key epoch %lld\n", sec, (long long)e);
    }
    json_decref(secs);
    if (cli_g.json)
        cli_emit(json_pack("{s:s, s:s, s:o}", "grant", pos[0], "state", "revoked", "rotated", rot));
    else
        json_decref(rot);
    return EXIT_OK_;
}

/* ---- requests --------------------------------------------------------------------------------- */

int cmd_requests(int argc, char **argv)
{
    const char *pos[1];
    cli_parse(argc, argv, no_opts, pos, 0, 0, "requests");
    json_t *ans = my_requests();
    const json_t *l = json_is_array(ans) ? ans : json_object_get(ans, "requests");
    size_t i;
    json_t *q;
    json_array_foreach(l, i, q) check_request(q);
    if (cli_g.json) {
        cli_emit(ans);
        return EXIT_OK_;
    }
    if (json_array_size(l) == 0)
        printf("no open requests\n");
    json_array_foreach(l, i, q) {
        printf("%s  from %s", cli_jstr(q, "id"), cli_jstr(q, "requester") ? cli_jstr(q, "requester") : "?");
        if (cli_jstr(q, "display_name") && *cli_jstr(q, "display_name"))
            printf(" (%s, %s)", cli_jstr(q, "display_name"), cli_jstr(q, "organisation") ? cli_jstr(q, "organisation") : "");
        printf("\n    %s access to %s for %s, %lld days%s%s%s\n", cli_jstr(q, "access"), join(json_object_get(q, "sections")),
               cli_jstr(q, "purpose"), (long long)cli_jint(q, "days"), cli_jstr(q, "state") ? " [" : "",
               cli_jstr(q, "state") ? cli_jstr(q, "state") : "", cli_jstr(q, "state") ? "]" : "");
        if (cli_jstr(q, "note"))
            printf("    note: %s\n", cli_jstr(q, "note"));
    }
    json_decref(ans);
    return EXIT_OK_;
}

int cmd_decline(int argc, char **argv)
{
    const char *pos[1];
    cli_parse(argc, argv, no_opts, pos, 1, 1, "decline");
    cli_need_id(pos[0], "REQUEST");
    char path[192];
    snprintf(path, sizeof path, "/v1/citizens/%s/requests/%s/decline", cli_id(), pos[0]);
    json_t *ans = api_call("POST", path, NULL, API_AUTH);
    if (cli_g.json)
        cli_emit(ans);
    else {
        printf("request %s declined\n", pos[0]);
        json_decref(ans);
    }
    return EXIT_OK_;
}

/* ---- erase ------------------------------------------------------------------------------------ */

int cmd_erase(int argc, char **argv)
{
    const char *pos[1];
    int yes = 0;
    const struct cli_opt opts[] = {{"--yes", OPT_FLAG, &yes}, {NULL, OPT_FLAG, NULL}};
    cli_parse(argc, argv, opts, pos, 1, 1, "erase");
    cli_need_id(pos[0], "SECTION");
    if (!yes) {
        int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
            cli_die(EXIT_USAGE, "erase cannot be undone: confirm with --yes when no terminal is attached");
        char prompt[256], buf[80] = {0};
        int n = snprintf(prompt, sizeof prompt,
                         "Erasing destroys every entry and key of section %s for good.\nType the section name to "
                         "confirm: ",
                         pos[0]);
        if (write(fd, prompt, (size_t)n) < 0 || read(fd, buf, sizeof buf - 1) <= 0)
            cli_die(EXIT_USAGE, "no confirmation");
        close(fd);
        buf[strcspn(buf, "\r\n")] = 0;
        if (strcmp(buf, pos[0]) != 0)
            cli_die(EXIT_USAGE, "not confirmed; nothing was erased");
    }
    char path[160];
    snprintf(path, sizeof path, "/v1/citizens/%s/sections/%s", cli_id(), pos[0]);
    json_t *ans = api_call("DELETE", path, NULL, API_AUTH);
    if (cli_g.json)
        cli_emit(ans);
    else {
        printf("section %s erased: its keys and entries are destroyed\n", pos[0]);
        json_decref(ans);
    }
    return EXIT_OK_;
}
