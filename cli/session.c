/*
 * cli/session.c — who kluis is speaking for, and how it proves it.
 *
 * An identity comes from a key file (--key, KLUIS_KEY) or, for a citizen without one, from the
 * passphrase bundle the vault keeps (--citizen ID, SPEC §3). The key file is read at once (for the
 * id) but opened — passphrase, Argon2id — only when a secret key is really needed: a command that
 * finds a live cached session never asks for the passphrase.
 *
 * Sessions (SPEC §6): challenge, Ed25519 signature, bearer token. The token is cached per server
 * and principal in $XDG_RUNTIME_DIR/kluis (or ~/.cache/kluis), a directory of mode 0700 owned by
 * us; each file is written to a fresh name with O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600, and renamed
 * into place, and read only when it is a regular file of ours that nobody else may read. A token
 * that has expired is renewed by logging in again, and so is one the server answers 401 to.
 *
 * This file also holds the authenticated call wrapper, the principal directory and the vault's
 * public keys and charter, checked against the hash the vault publishes.
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

#include "policy/charter.h"
#include "vault/encoding.h"
#include "vault/jspec.h"
#include "vault/keyfile.h"
#include "vault/secret.h"

#define TOKEN_MAX 512
#define SESSION_SLACK 30 /* renew this many seconds before the server's expiry */

static struct {
    int have_id;
    char id[KLUIS_ID_MAX + 1];
    struct keyfile *kf;
    struct kluis_keys *keys;
    char *token; /* secret_new(TOKEN_MAX + 1) */
    char role[32];
    int64_t expires;
} me;

/* ---- API calls -------------------------------------------------------------------------------- */

static const char *session_token(void);
static void session_forget(void);

void api_refused(const struct api_result *r)
{
    cli_fail(EXIT_REFUSED, r->code, "refused: %s: %s", r->code, r->message[0] ? r->message : "(no message)");
}

int api_try_raw(struct api_result *r, const char *method, const char *path, const char *raw,
                size_t raw_len, enum api_auth auth)
{
    struct http_resp resp;
    memset(r, 0, sizeof *r);
    for (int attempt = 0;; attempt++) {
        const char *tok = auth == API_AUTH ? session_token() : NULL;
        http_request(&resp, method, path, raw, raw_len, tok);
        if (auth == API_AUTH && resp.status == 401 && attempt == 0) {
            http_resp_free(&resp);
            session_forget();
            continue;
        }
        break;
    }
    r->status = resp.status;
    json_t *j = resp.len ? json_loadb(resp.body, resp.len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    http_resp_free(&resp);
    int ok = r->status >= 200 && r->status < 300;
    if (ok) {
        if (!j || !(json_is_object(j) || json_is_array(j)))
            cli_die(EXIT_CONNECT, "%s %s: the answer (HTTP %ld) is not JSON: is %s a Kluis server?", method, path,
                    r->status, cli_g.server);
        r->json = j;
        return 0;
    }
    const char *code = json_is_object(j) ? cli_jstr(j, "error") : NULL;
    if (!code) {
        json_decref(j);
        cli_die(EXIT_CONNECT, "%s %s: HTTP %ld without a Kluis error: is %s a Kluis server?", method, path,
                r->status, cli_g.server);
    }
    snprintf(r->code, sizeof r->code, "%s", code);
    const char *msg = cli_jstr(j, "message");
    snprintf(r->message, sizeof r->message, "%s", msg ? msg : "");
    /* what a hostile server sends is printed: keep it to printable characters */
    for (char *p = r->code; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    for (char *p = r->message; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    r->json = j;
    return -1;
}

int api_try(struct api_result *r, const char *method, const char *path, const json_t *body,
            enum api_auth auth)
{
    char *text = NULL;
    size_t len = 0;
    if (body) {
        text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!text)
            cli_die(EXIT_CRYPTO, "out of memory");
        len = strlen(text);
    } else if (strcmp(method, "POST") == 0) {
        text = strdup("{}");
        len = 2;
    }
    int rc = api_try_raw(r, method, path, text, len, auth);
    if (text) {
        sodium_memzero(text, len);
        free(text);
    }
    return rc;
}

json_t *api_call(const char *method, const char *path, const json_t *body, enum api_auth auth)
{
    struct api_result r;
    if (api_try(&r, method, path, body, auth) != 0)
        api_refused(&r);
    return r.json;
}

/* ---- identity --------------------------------------------------------------------------------- */

const char *cli_id(void)
{
    if (me.have_id)
        return me.id;
    if (cli_g.citizen) {
        cli_need_id(cli_g.citizen, "--citizen");
        snprintf(me.id, sizeof me.id, "%s", cli_g.citizen);
    } else if (cli_g.key_path) {
        struct jerr err = {0};
        if (keyfile_load(&me.kf, cli_g.key_path, &err) != 0)
            cli_die(err.code == KERR_NOT_FOUND ? EXIT_USAGE : EXIT_CRYPTO, "key file %s: %s", cli_g.key_path,
                    err.msg[0] ? err.msg : "cannot be read");
        if (keyfile_kind(me.kf) != KEYFILE_PRINCIPAL)
            cli_die(EXIT_USAGE, "%s is not a principal's secret key file (kluis keygen --id ID --out FILE)",
                    cli_g.key_path);
        snprintf(me.id, sizeof me.id, "%s", keyfile_id(me.kf));
    } else {
        cli_die(EXIT_USAGE, "who are you? give --key FILE (or KLUIS_KEY), or --citizen ID for a citizen's "
                            "passphrase login");
    }
    me.have_id = 1;
    return me.id;
}

void cli_adopt_keys(const char *id, const struct kluis_keys *keys)
{
    if (!me.keys && !(me.keys = kluis_keys_new()))
        cli_die(EXIT_CRYPTO, "out of secure memory");
    memcpy(me.keys, keys, sizeof *keys);
    snprintf(me.id, sizeof me.id, "%s", id);
    me.have_id = 1;
}

const struct kluis_keys *cli_keys(void)
{
    if (me.keys)
        return me.keys;
    const char *id = cli_id();
    struct kluis_keys *k = kluis_keys_new();
    if (!k)
        cli_die(EXIT_CRYPTO, "out of secure memory");
    if (me.kf) {
        char *pass = NULL;
        size_t plen = 0;
        if (keyfile_needs_passphrase(me.kf)) {
            char prompt[512];
            snprintf(prompt, sizeof prompt, "Passphrase for %s: ", cli_g.key_path);
            pass = cli_passphrase(prompt, 0, &plen);
        }
        struct jerr err = {0};
        int rc = keyfile_open_principal(k, me.kf, pass, plen, &err);
        secret_free(pass);
        if (rc != 0)
            cli_die(EXIT_CRYPTO, "cannot open %s: %s", cli_g.key_path,
                    err.code == KERR_BAD_CREDENTIALS ? "wrong passphrase" : err.msg);
    } else {
        cli_bundle_open(k, id);
    }
    me.keys = k;
    return k;
}

void cli_bundle_open(struct kluis_keys *keys, const char *id)
{
    char prompt[128];
    snprintf(prompt, sizeof prompt, "Passphrase of %s: ", id);
    size_t plen;
    char *pass = cli_passphrase(prompt, 0, &plen);
    cli_bundle_open_pass(keys, id, pass, plen);
    secret_free(pass);
}

void cli_bundle_open_pass(struct kluis_keys *keys, const char *id, const char *pass, size_t plen)
{
    json_t *req = json_pack("{s:s}", "id", id);
    json_t *pre = api_call("POST", "/v1/auth/prelogin", req, API_ANON);
    json_decref(req);
    unsigned char salt[KLUIS_SALT_BYTES];
    cli_jb64(salt, sizeof salt, pre, "salt", "prelogin answer");
    int64_t ops = cli_jint(pre, "opslimit"), mem = cli_jint(pre, "memlimit");
    json_decref(pre);
    if (ops < 0 || mem < 0 || !kluis_pwhash_params_ok((unsigned long long)ops, (unsigned long long)mem))
        cli_die(EXIT_CRYPTO, "the server asks for Argon2id parameters outside the SPEC's bounds; not deriving");

    struct kluis_bundle_keys *bk = kluis_bundle_keys_new();
    if (!bk)
        cli_die(EXIT_CRYPTO, "out of secure memory");
    cli_progress("deriving the key from the passphrase ...");
    int rc = kluis_bundle_derive(bk, pass, plen, salt, (unsigned long long)ops, (size_t)mem);
    cli_progress_done();
    if (rc != 0)
        cli_die(EXIT_CRYPTO, "cannot derive the passphrase key (out of memory?)");

    /* the body carries auth_key: built in secret memory, wiped after sending */
    char *akey = b64_encode(bk->auth_key, sizeof bk->auth_key);
    size_t blen = 128 + strlen(id);
    char *body = secret_new(blen);
    if (!akey || !body)
        cli_die(EXIT_CRYPTO, "out of memory");
    int n = snprintf(body, blen, "{\"id\":\"%s\",\"auth_key\":\"%s\"}", id, akey);
    sodium_memzero(akey, strlen(akey));
    free(akey);
    struct api_result r;
    rc = api_try_raw(&r, "POST", "/v1/auth/bundle", body, (size_t)n, API_ANON);
    secret_free(body);
    if (rc != 0) {
        kluis_bundle_keys_free(bk);
        if (strcmp(r.code, "bad_credentials") == 0)
            cli_fail(EXIT_REFUSED, r.code, "refused: bad_credentials: wrong passphrase or unknown citizen '%s'", id);
        api_refused(&r);
    }
    unsigned char bundle[KLUIS_BUNDLE_BYTES], spk[32], bpk[32];
    cli_jb64(bundle, sizeof bundle, r.json, "bundle", "bundle answer");
    cli_jb64(spk, sizeof spk, r.json, "sign_pk", "bundle answer");
    cli_jb64(bpk, sizeof bpk, r.json, "box_pk", "bundle answer");
    json_decref(r.json);
    unsigned char *secret = secret_new(KLUIS_SECRET_BYTES);
    if (!secret)
        cli_die(EXIT_CRYPTO, "out of secure memory");
    rc = kluis_bundle_open(secret, bundle, id, bk->enc_key);
    kluis_bundle_keys_free(bk);
    if (rc != 0 || kluis_keys_from_secret(keys, secret) != 0) {
        secret_free(secret);
        cli_die(EXIT_CRYPTO, "the key bundle the vault returned does not open: it was altered");
    }
    secret_free(secret);
    if (sodium_memcmp(keys->sign_pk, spk, 32) != 0 || sodium_memcmp(keys->box_pk, bpk, 32) != 0)
        cli_die(EXIT_CRYPTO, "the key bundle does not match the public keys the vault holds for %s", id);
}

/* ---- session cache ---------------------------------------------------------------------------- */

/* The cache directory, created 0700 when missing; NULL (no caching) when unsafe. */
static const char *cache_dir(void)
{
    static char dir[4096];
    static int done;
    if (done)
        return dir[0] ? dir : NULL;
    done = 1;
    const char *x = getenv("XDG_RUNTIME_DIR"), *home = getenv("HOME");
    if (x && x[0] == '/' && strlen(x) < 2048) {
        snprintf(dir, sizeof dir, "%s/kluis", x);
    } else if (home && home[0] == '/' && strlen(home) < 2048) {
        snprintf(dir, sizeof dir, "%s/.cache", home);
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return (dir[0] = 0, NULL);
        snprintf(dir, sizeof dir, "%s/.cache/kluis", home);
    } else {
        return NULL;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        dir[0] = 0;
        return NULL;
    }
    struct stat st;
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
        fprintf(stderr, "kluis: warning: %s is not a private directory of ours; sessions are not cached\n", dir);
        dir[0] = 0;
        return NULL;
    }
    return dir;
}

static int cache_path(char *out, size_t cap)
{
    const char *dir = cache_dir();
    if (!dir)
        return -1;
    unsigned char h[16];
    char hex[33];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, (const unsigned char *)cli_g.server, strlen(cli_g.server));
    crypto_generichash_update(&st, (const unsigned char *)"\n", 1);
    crypto_generichash_update(&st, (const unsigned char *)me.id, strlen(me.id));
    crypto_generichash_final(&st, h, sizeof h);
    return snprintf(out, cap, "%s/%s.session", dir, hex_encode(hex, h, sizeof h)) < (int)cap ? 0 : -1;
}

static int token_ok(const char *t)
{
    size_t n = t ? strlen(t) : 0;
    if (n == 0 || n > TOKEN_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (t[i] <= 0x20 || t[i] >= 0x7f)
            return 0;
    return 1;
}

static void set_token(const char *tok, const char *role, int64_t expires)
{
    if (!me.token && !(me.token = secret_new(TOKEN_MAX + 1)))
        cli_die(EXIT_CRYPTO, "out of secure memory");
    snprintf(me.token, TOKEN_MAX + 1, "%s", tok);
    snprintf(me.role, sizeof me.role, "%s", role ? role : "");
    me.expires = expires;
}

static int cache_load(void)
{
    char path[4200];
    if (cache_path(path, sizeof path) != 0)
        return -1;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    char *buf = NULL;
    int rc = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() && !(st.st_mode & 077) &&
        st.st_size > 0 && st.st_size < 4096 && (buf = secret_new((size_t)st.st_size + 1)) &&
        read(fd, buf, (size_t)st.st_size) == st.st_size) {
        json_t *j = json_loadb(buf, (size_t)st.st_size, JSON_REJECT_DUPLICATES, NULL);
        const char *srv = cli_jstr(j, "server"), *id = cli_jstr(j, "id"), *tok = cli_jstr(j, "token");
        int64_t exp = cli_jint(j, "expires");
        if (srv && id && strcmp(srv, cli_g.server) == 0 && strcmp(id, me.id) == 0 && token_ok(tok) &&
            exp > cli_now() + SESSION_SLACK) {
            set_token(tok, cli_jstr(j, "role"), exp);
            rc = 0;
        }
        json_decref(j);
    }
    secret_free(buf);
    close(fd);
    return rc;
}

static void cache_store(void)
{
    char path[4200], tmp[4300];
    if (cache_path(path, sizeof path) != 0)
        return;
    unsigned char r[8];
    char hex[17];
    randombytes_buf(r, sizeof r);
    snprintf(tmp, sizeof tmp, "%s.%s.tmp", path, hex_encode(hex, r, sizeof r));
    json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:s}", "server", cli_g.server, "id", me.id, "role", me.role,
                          "expires", (json_int_t)me.expires, "token", me.token);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return;
    if (cli_write_new(tmp, text, strlen(text)) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        fprintf(stderr, "kluis: warning: cannot cache the session in %s\n", path);
    }
    sodium_memzero(text, strlen(text));
    free(text);
}

static void session_forget(void)
{
    char path[4200];
    if (me.token)
        sodium_memzero(me.token, TOKEN_MAX + 1);
    me.expires = 0;
    if (me.have_id && cache_path(path, sizeof path) == 0)
        unlink(path);
}

const char *cli_login(void)
{
    const char *id = cli_id();
    const struct kluis_keys *k = cli_keys();
    json_t *req = json_pack("{s:s}", "id", id);
    json_t *ch = api_call("POST", "/v1/auth/challenge", req, API_ANON);
    json_decref(req);
    unsigned char challenge[KLUIS_CHALLENGE_BYTES], sig[KLUIS_SIG_BYTES];
    cli_jb64(challenge, sizeof challenge, ch, "challenge", "challenge answer");
    json_decref(ch);
    if (kluis_auth_sign(sig, challenge, id, k->sign_sk) != 0)
        cli_die(EXIT_CRYPTO, "cannot sign the login challenge");
    char *cb = b64_encode(challenge, sizeof challenge), *sb = b64_encode(sig, sizeof sig);
    req = (cb && sb) ? json_pack("{s:s, s:s, s:s}", "id", id, "challenge", cb, "signature", sb) : NULL;
    free(cb);
    free(sb);
    if (!req)
        cli_die(EXIT_CRYPTO, "out of memory");
    json_t *s = api_call("POST", "/v1/auth/session", req, API_ANON);
    json_decref(req);
    const char *tok = cli_jstr(s, "token"), *role = cli_jstr(s, "role");
    int64_t exp = cli_jint(s, "expires");
    if (!token_ok(tok) || !role || exp <= 0)
        cli_die(EXIT_CONNECT, "the session answer has no usable token, role and expiry");
    set_token(tok, role, exp);
    json_decref(s);
    cache_store();
    return me.role;
}

static const char *session_token(void)
{
    cli_id();
    if (me.token && me.token[0] && me.expires > cli_now() + SESSION_SLACK)
        return me.token;
    if (cache_load() == 0)
        return me.token;
    cli_login();
    return me.token;
}

const char *cli_role(void)
{
    session_token();
    return me.role;
}

const char *cli_session_role_held(void)
{
    return me.token && me.token[0] ? me.role : "";
}

int64_t cli_session_expires(void)
{
    session_token();
    return me.expires;
}

void cli_logout(void)
{
    cli_id();
    if (!(me.token && me.token[0]) && cache_load() != 0) {
        session_forget();
        return;
    }
    /* forget it here first: the token is gone locally even when the vault cannot be reached */
    char *tok = secret_new(TOKEN_MAX + 1);
    if (!tok)
        cli_die(EXIT_CRYPTO, "out of secure memory");
    memcpy(tok, me.token, TOKEN_MAX + 1);
    session_forget();
    struct http_resp resp;
    http_request(&resp, "DELETE", "/v1/auth/session", NULL, 0, tok);
    http_resp_free(&resp);
    secret_free(tok);
}

/* ---- directory -------------------------------------------------------------------------------- */

static json_t *directory;

const json_t *dir_find(const char *id)
{
    if (!directory) {
        json_t *j = api_call("GET", "/v1/principals", NULL, API_AUTH);
        directory = json_is_array(j) ? j : json_incref(json_object_get(j, "principals"));
        if (!json_is_array(j))
            json_decref(j);
        if (!json_is_array(directory))
            cli_die(EXIT_CONNECT, "the directory answer has no list of principals");
    }
    size_t i;
    json_t *p;
    json_array_foreach(directory, i, p) {
        const char *pid = cli_jstr(p, "id");
        if (pid && strcmp(pid, id) == 0)
            return p;
    }
    return NULL;
}

void dir_keys(const char *id, unsigned char sign_pk[32], unsigned char box_pk[32])
{
    const json_t *p = dir_find(id);
    if (!p)
        cli_die(EXIT_CRYPTO, "'%s' is not in the vault's directory: no key to check against", id);
    if (sign_pk) {
        cli_jb64(sign_pk, 32, p, "sign_pk", "directory entry");
        cli_pin_key("sign", id, sign_pk);
    }
    if (box_pk) {
        cli_jb64(box_pk, 32, p, "box_pk", "directory entry");
        cli_pin_key("box", id, box_pk);
    }
}

const char *dir_label(const char *id)
{
    static char buf[256];
    const json_t *p = dir_find(id);
    const char *name = cli_jstr(p, "display_name"), *org = cli_jstr(p, "organisation");
    if (name && org && *org)
        snprintf(buf, sizeof buf, "%s (%s, %s)", id, name, org);
    else if (name)
        snprintf(buf, sizeof buf, "%s (%s)", id, name);
    else
        snprintf(buf, sizeof buf, "%s", id);
    return buf;
}

/* ---- the vault -------------------------------------------------------------------------------- */

static struct vault_info vinfo;
static struct charter *charter;
static char *charter_text;
static size_t charter_len;

const struct vault_info *cli_vault(void)
{
    if (vinfo.json)
        return &vinfo;
    json_t *j = api_call("GET", "/v1/vault", NULL, API_ANON);
    vinfo.origin = cli_jstr(j, "origin");
    if (!vinfo.origin || !json_is_object(json_object_get(j, "charter")))
        cli_die(EXIT_CONNECT, "the vault answer has no origin or charter");
    cli_jb64(vinfo.log_pk, 32, j, "log_pk", "vault answer");
    cli_jb64(vinfo.gate_pk, 32, j, "gate_pk", "vault answer");
    cli_jb64(vinfo.authority_pk, 32, j, "authority_pk", "vault answer");
    vinfo.json = j;
    return &vinfo;
}

const void *cli_charter(void)
{
    if (charter)
        return charter;
    const struct vault_info *v = cli_vault();
    const char *want = cli_jstr(json_object_get(v->json, "charter"), "hash");
    struct http_resp resp;
    http_request(&resp, "GET", "/v1/charter", NULL, 0, NULL);
    if (resp.status != 200)
        cli_die(EXIT_CONNECT, "GET /v1/charter answered HTTP %ld", resp.status);
    unsigned char h[32];
    char hex[65];
    crypto_hash_sha256(h, (const unsigned char *)resp.body, resp.len);
    hex_encode(hex, h, sizeof h);
    if (!want || sodium_memcmp(hex, want, 64) != 0 || strlen(want) != 64)
        cli_die(EXIT_CRYPTO, "the charter served does not match the hash the vault publishes (%s)",
                want ? want : "none");
    struct jerr err = {0};
    charter = charter_load(resp.body, resp.len, &err);
    if (!charter)
        cli_die(EXIT_CRYPTO, "the charter in force does not validate: %s %s", err.field, err.msg);
    charter_text = malloc(resp.len + 1);
    if (!charter_text)
        cli_die(EXIT_CRYPTO, "out of memory");
    memcpy(charter_text, resp.body, resp.len + 1);
    charter_len = resp.len;
    http_resp_free(&resp);
    return charter;
}

const char *cli_charter_bytes(size_t *len)
{
    cli_charter();
    *len = charter_len;
    return charter_text;
}
