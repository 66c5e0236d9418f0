/*
 * api/auth.c — POST /v1/auth/challenge, POST and DELETE /v1/auth/session, POST /v1/auth/prelogin,
 * POST /v1/auth/bundle (SPEC §3, §4, §6), and api_authenticate() (api/auth.h).
 *
 * What an unauthenticated client may learn is kept to nothing about who exists:
 *  - a challenge is issued for any id; a login for an unknown id fails exactly like a wrong
 *    signature (401 bad_signature), after consuming the challenge like any attempt;
 *  - prelogin answers an unknown (or not yet enrolled) id with a stable fake salt and the default
 *    Argon2id parameters (vault/citizen.h citizen_fake_salt);
 *  - a bundle request for an unknown id fails with 401 bad_credentials and counts toward a
 *    lockout kept in memory, so it reaches 429 after the same number of failures as a real one.
 * Argon2id never runs here: the client derives auth_key, the vault compares BLAKE2b-256(auth_key)
 * with the stored hash in constant time.
 */
#include "api/auth.h"
#include "api/handlers.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vault/citizen.h"
#include "vault/crypto.h"
#include "vault/encoding.h"
#include "vault/session.h"
#include "vault/vault.h"

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* ---------------------------------------------------------------- api_authenticate */

int api_authenticate(struct request *r, struct caller *c)
{
    store_txn t;
    store_txn_begin(((vault *)r->ctx)->st, &t, true);
    int rc = api_authenticate_txn(r, &t, c);
    store_txn_abort(&t);
    return rc;
}

int api_authenticate_txn(struct request *r, store_txn *tp, struct caller *c)
{
    vault *v = r->ctx;
    unsigned char tok[AUTH_TOKEN_BYTES], h[32];
    memset(c, 0, sizeof *c);
    if (!r->bearer || b64_decode_exact(tok, sizeof tok, r->bearer) != 0) {
        sodium_memzero(tok, sizeof tok);
        api_reply_error(r, KERR_UNAUTHENTICATED, NULL);
        return -1;
    }
    session_token_hash(h, tok);
    sodium_memzero(tok, sizeof tok);

    struct session s;
    kerr e = session_get(v, tp, h, &s);
    if (e == KERR_OK && s.expires <= now_s())
        e = KERR_UNAUTHENTICATED;
    if (e == KERR_OK && s.role == KROLE_CITIZEN) {
        struct citizen cz;
        e = citizen_get(v, tp, s.principal, &cz);
        if (e == KERR_OK && !cz.enrolled)
            e = KERR_NOT_FOUND;
        if (e == KERR_OK) {
            memcpy(c->sign_pk, cz.sign_pk, 32);
            memcpy(c->box_pk, cz.box_pk, 32);
            c->active = 1;
        }
    } else if (e == KERR_OK) {
        struct vault_principal p;
        e = vault_principal_get(v, tp, s.principal, &p);
        if (e == KERR_OK && krole_parse(p.role) != s.role)
            e = KERR_NOT_FOUND;
        if (e == KERR_OK) {
            memcpy(c->sign_pk, p.sign_pk, 32);
            memcpy(c->box_pk, p.box_pk, 32);
            memcpy(c->organisation, p.organisation, sizeof c->organisation);
            c->active = p.active;
        }
    }
    if (e == KERR_NOT_FOUND)
        e = KERR_UNAUTHENTICATED;
    if (e == KERR_OK && !c->active)
        e = KERR_PRINCIPAL_INACTIVE;
    if (e != KERR_OK) {
        memset(c, 0, sizeof *c);
        api_reply_error(r, e, NULL);
        return -1;
    }
    memcpy(c->id, s.principal, sizeof c->id);
    c->role = s.role;
    return 0;
}

int api_require_role(struct request *r, const struct caller *c, enum krole role)
{
    if (c->role == role)
        return 0;
    api_reply_error(r, KERR_FORBIDDEN, NULL);
    return -1;
}

/* ---------------------------------------------------------------- challenge */

void handle_auth_challenge(struct request *r)
{
    vault *v = r->ctx;
    const char *id = NULL;
    json_t *body = NULL;
    struct jspec spec[] = {{.name = "id", .type = JS_ID, .out = &id}};
    if (api_parse_body(r, spec, 1, &body) != 0)
        return;
    unsigned char ch[32];
    int64_t expires = 0;
    if (auth_challenge_issue(v->auth, id, now_s(), ch, &expires) != 0) {
        json_decref(body);
        api_reply_error_retry(r, KERR_UNAVAILABLE, "too many logins in progress", AUTH_CHALLENGE_TTL);
        return;
    }
    json_decref(body);
    char *b = b64_encode(ch, sizeof ch);
    api_reply_json(r, API_OK, b ? json_pack("{s:s, s:I}", "challenge", b, "expires", (json_int_t)expires) : NULL);
    free(b);
}

/* ---------------------------------------------------------------- session */

struct login_op {
    vault *v;
    const char *id;
    enum krole role;
    unsigned char h[32];
    int64_t now, expires;
};

/* Re-check, on the writer thread, that the principal is still active: a deactivation committed
 * between the signature check and this write must not leave a live session behind. */
static kerr login_apply(store_txn *t, void *arg)
{
    struct login_op *op = arg;
    if (op->role != KROLE_CITIZEN) {
        struct vault_principal p;
        kerr e = vault_principal_get(op->v, t, op->id, &p);
        if (e == KERR_NOT_FOUND)
            return KERR_BAD_SIGNATURE;
        if (e != KERR_OK)
            return e;
        if (!p.active)
            return KERR_PRINCIPAL_INACTIVE;
    }
    struct session s = {.role = op->role, .expires = op->expires};
    snprintf(s.principal, sizeof s.principal, "%s", op->id);
    return session_put(op->v, t, op->h, &s, op->now);
}

void handle_auth_session_create(struct request *r)
{
    vault *v = r->ctx;
    const char *id = NULL;
    unsigned char ch[32], sig[64];
    json_t *body = NULL;
    struct jspec spec[] = {
        {.name = "id", .type = JS_ID, .out = &id},
        {.name = "challenge", .type = JS_B64, .out = ch, .len = 32},
        {.name = "signature", .type = JS_B64, .out = sig, .len = 64},
    };
    if (api_parse_body(r, spec, 3, &body) != 0)
        return;
    int64_t now = now_s();
    struct login_op op = {.v = v, .id = id, .now = now};
    kerr e = KERR_OK;
    if (auth_challenge_take(v->auth, id, ch, now) != 0)
        e = KERR_BAD_CREDENTIALS;

    unsigned char pk[32];
    int active = 0;
    if (e == KERR_OK) {
        store_txn t;
        struct vault_principal p;
        struct citizen cz;
        store_txn_begin(v->st, &t, true);
        e = vault_principal_get(v, &t, id, &p);
        if (e == KERR_OK) {
            memcpy(pk, p.sign_pk, 32);
            op.role = krole_parse(p.role);
            active = p.active;
        } else if (e == KERR_NOT_FOUND && (e = citizen_get(v, &t, id, &cz)) == KERR_OK) {
            memcpy(pk, cz.sign_pk, 32);
            op.role = KROLE_CITIZEN;
            active = 1;
            if (!cz.enrolled)
                e = KERR_NOT_FOUND;
        }
        store_txn_abort(&t);
        /* An unknown id fails like a wrong signature: a login reveals nobody's existence. */
        if (e == KERR_NOT_FOUND || (e == KERR_OK && kluis_auth_verify(sig, ch, id, pk) != 0))
            e = KERR_BAD_SIGNATURE;
        if (e == KERR_OK && !active)
            e = KERR_PRINCIPAL_INACTIVE;
    }
    unsigned char tok[AUTH_TOKEN_BYTES];
    char *token = NULL;
    if (e == KERR_OK) {
        const struct charter *c = vault_charter_get(v);
        op.expires = now + c->session_ttl_minutes * 60;
        vault_charter_put(v, c);
        randombytes_buf(tok, sizeof tok);
        session_token_hash(op.h, tok);
        token = b64_encode(tok, sizeof tok);
        sodium_memzero(tok, sizeof tok);
        e = token ? gc_submit(v->gc, login_apply, &op) : KERR_INTERNAL;
    }
    json_t *reply = NULL;
    if (e == KERR_OK)
        reply = json_pack("{s:s, s:I, s:s}", "token", token, "expires", (json_int_t)op.expires, "role",
                          krole_name(op.role));
    if (token) {
        sodium_memzero(token, strlen(token));
        free(token);
    }
    json_decref(body);
    if (e != KERR_OK)
        api_reply_error(r, e, NULL);
    else
        api_reply_json(r, API_OK, reply);
}

struct logout_op {
    vault *v;
    unsigned char h[32];
};

static kerr logout_apply(store_txn *t, void *arg)
{
    struct logout_op *op = arg;
    kerr e = session_del(op->v, t, op->h);
    return e == KERR_NOT_FOUND ? KERR_UNAUTHENTICATED : e;
}

void handle_auth_session_delete(struct request *r)
{
    vault *v = r->ctx;
    struct caller c;
    if (api_authenticate(r, &c) != 0)
        return;
    struct logout_op op = {.v = v};
    unsigned char tok[AUTH_TOKEN_BYTES];
    if (b64_decode_exact(tok, sizeof tok, r->bearer) != 0) { /* api_authenticate() decoded it already */
        api_reply_error(r, KERR_UNAUTHENTICATED, NULL);
        return;
    }
    session_token_hash(op.h, tok);
    sodium_memzero(tok, sizeof tok);
    kerr e = gc_submit(v->gc, logout_apply, &op);
    if (e != KERR_OK)
        api_reply_error(r, e, NULL);
    else
        api_reply_json(r, API_OK, json_pack("{s:b}", "ended", 1));
}

/* ---------------------------------------------------------------- passphrase path */

void handle_auth_prelogin(struct request *r)
{
    vault *v = r->ctx;
    const char *id = NULL;
    json_t *body = NULL;
    struct jspec spec[] = {{.name = "id", .type = JS_ID, .out = &id}};
    if (api_parse_body(r, spec, 1, &body) != 0)
        return;
    struct citizen cz;
    struct citizen_login l;
    store_txn t;
    store_txn_begin(v->st, &t, true);
    kerr e = citizen_get(v, &t, id, &cz);
    if (e == KERR_OK)
        e = cz.enrolled ? citizen_login_get(v, &t, id, &l) : KERR_NOT_FOUND;
    store_txn_abort(&t);
    if (e == KERR_NOT_FOUND) {
        /* The defaults every client of this project uses, so real and fake look alike. */
        citizen_fake_salt(v, id, l.salt);
        l.opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
        l.memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
        e = KERR_OK;
    }
    json_decref(body);
    if (e != KERR_OK) {
        api_reply_error(r, e, NULL);
        return;
    }
    char *salt = b64_encode(l.salt, sizeof l.salt);
    api_reply_json(r, API_OK,
                   salt ? json_pack("{s:s, s:I, s:I}", "salt", salt, "opslimit", (json_int_t)l.opslimit, "memlimit",
                                    (json_int_t)l.memlimit)
                        : NULL);
    free(salt);
}

struct bundle_op {
    vault *v;
    const char *id;
    unsigned char auth_hash[32];
    int64_t now, max_failures, window_s;
    /* out */
    kerr result;                /* KERR_OK, KERR_BAD_CREDENTIALS, KERR_RATE_LIMITED, KERR_NOT_FOUND */
    int64_t retry;
    struct citizen_login login;
    unsigned char sign_pk[32], box_pk[32];
};

/* Check and count on the writer thread, so concurrent guesses are counted exactly. Returns
 * KERR_OK whenever the counters must be kept, whatever the answer (op->result). */
static kerr bundle_apply(store_txn *t, void *arg)
{
    struct bundle_op *op = arg;
    struct citizen cz;
    struct lockout lk;
    kerr e = citizen_get(op->v, t, op->id, &cz);
    if (e == KERR_OK && !cz.enrolled)
        e = KERR_NOT_FOUND;
    if (e == KERR_NOT_FOUND) {
        op->result = KERR_NOT_FOUND;
        return KERR_OK;
    }
    if (e != KERR_OK || citizen_lockout_get(op->v, t, op->id, &lk) != KERR_OK ||
        citizen_login_get(op->v, t, op->id, &op->login) != KERR_OK)
        return t->err != KERR_OK ? t->err : e;
    if ((op->retry = lockout_retry_after(&lk, op->now)) > 0) {
        op->result = KERR_RATE_LIMITED;
        return KERR_OK;
    }
    if (sodium_memcmp(op->auth_hash, op->login.auth_hash, 32) != 0) {
        lockout_fail(&lk, op->now, op->max_failures, op->window_s);
        op->result = KERR_BAD_CREDENTIALS;
        sodium_memzero(&op->login, sizeof op->login);
        return citizen_lockout_put(op->v, t, op->id, &lk);
    }
    memcpy(op->sign_pk, cz.sign_pk, 32);
    memcpy(op->box_pk, cz.box_pk, 32);
    op->result = KERR_OK;
    if (lk.failures || lk.locked_until || lk.window_start) {
        struct lockout zero = {0};
        return citizen_lockout_put(op->v, t, op->id, &zero);
    }
    return KERR_OK;
}

void handle_auth_bundle(struct request *r)
{
    vault *v = r->ctx;
    const char *id = NULL;
    unsigned char auth_key[32];
    json_t *body = NULL;
    struct jspec spec[] = {
        {.name = "id", .type = JS_ID, .out = &id},
        {.name = "auth_key", .type = JS_B64, .out = auth_key, .len = 32},
    };
    if (api_parse_body(r, spec, 2, &body) != 0)
        return;
    struct bundle_op op = {.v = v, .id = id, .now = now_s()};
    const struct charter *c = vault_charter_get(v);
    op.max_failures = c->login_max_failures;
    op.window_s = c->login_lockout_minutes * 60;
    vault_charter_put(v, c);
    (void)kluis_auth_hash(op.auth_hash, auth_key);
    sodium_memzero(auth_key, sizeof auth_key);

    /* A locked citizen is refused from a read transaction, without a write. */
    struct lockout lk;
    store_txn t;
    store_txn_begin(v->st, &t, true);
    kerr e = citizen_lockout_get(v, &t, id, &lk);
    store_txn_abort(&t);
    if (e == KERR_OK && (op.retry = lockout_retry_after(&lk, op.now)) > 0)
        op.result = KERR_RATE_LIMITED;
    else if (e == KERR_OK && (e = gc_submit(v->gc, bundle_apply, &op)) == KERR_OK && op.result == KERR_NOT_FOUND) {
        /* Nobody by that id: count the failure in memory, exactly as for a real id. */
        unsigned char idh[STORE_IDBYTES];
        store_id_hash(v->st, idh, id, strlen(id));
        auth_ghost_get(v->auth, idh, &lk);
        if ((op.retry = lockout_retry_after(&lk, op.now)) > 0) {
            op.result = KERR_RATE_LIMITED;
        } else {
            lockout_fail(&lk, op.now, op.max_failures, op.window_s);
            auth_ghost_put(v->auth, idh, &lk);
            op.result = KERR_BAD_CREDENTIALS;
        }
    }
    sodium_memzero(op.auth_hash, sizeof op.auth_hash);
    json_decref(body);
    if (e != KERR_OK) {
        api_reply_error(r, e, NULL);
    } else if (op.result == KERR_RATE_LIMITED) {
        api_reply_error_retry(r, KERR_RATE_LIMITED, NULL, (unsigned)op.retry);
    } else if (op.result != KERR_OK) {
        api_reply_error(r, op.result, NULL);
    } else {
        char *b = b64_encode(op.login.bundle, sizeof op.login.bundle), *s = b64_encode(op.sign_pk, 32),
             *x = b64_encode(op.box_pk, 32);
        api_reply_json(r, API_OK,
                       (b && s && x) ? json_pack("{s:s, s:s, s:s}", "bundle", b, "sign_pk", s, "box_pk", x) : NULL);
        free(b);
        free(s);
        free(x);
    }
    sodium_memzero(&op.login, sizeof op.login);
}
