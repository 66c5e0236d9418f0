/*
 * api/citizens.c — citizen records (SPEC §3, §6): POST /v1/citizens (admin creates a record and
 * a one-time enrollment code), POST /v1/citizens/{c}/enroll (the code authenticates; the citizen
 * brings keys, passphrase bundle and epoch 1 of every charter section), POST
 * /v1/citizens/{c}/passphrase (the citizen's session replaces the bundle).
 *
 * Enrollment verifies everything it can before taking the write: the code (read transaction,
 * constant-time), the section list against the charter, every epoch statement's signature against
 * the sign_pk being enrolled. The apply then re-checks the code (two racing enrollments: exactly
 * one wins), claims the statement ids, and writes record, bundle, section states, epoch records and
 * the journal event in one durable transaction. Nothing is stored for a refused request.
 */
#include "api/auth.h"
#include "api/handlers.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vault/citizen.h"
#include "vault/dossier.h"
#include "vault/encoding.h"
#include "vault/journal.h"
#include "vault/replay.h"
#include "vault/statement.h"
#include "vault/vault.h"

/* b64 of a statement of at most KSTMT_MAX_BYTES bytes */
#define STMT_B64_MAX (KSTMT_MAX_BYTES / 3 * 4 + 4)

static kerr journal_own(vault *v, store_txn *t, const char *citizen, const char *actor, const char *role,
                        const char *org, const char *action, const char *remote, int64_t now)
{
    journal_event ev = {.time = now, .actor = actor, .actor_role = role, .organisation = org, .action = action,
                        .basis = "own", .result = "allowed", .remote = remote};
    return journal_append(v->journal, t, citizen, &ev, NULL, NULL);
}

/* ---------------------------------------------------------------- create */

struct create_op {
    vault *v;
    struct citizen cz;
    const struct caller *by;
    const char *remote;
};

static kerr create_apply(store_txn *t, void *arg)
{
    struct create_op *op = arg;
    struct vault_principal p;
    struct citizen old;
    kerr e = vault_principal_get(op->v, t, op->cz.id, &p);
    if (e == KERR_NOT_FOUND)
        e = citizen_get(op->v, t, op->cz.id, &old);
    if (e == KERR_OK)
        return KERR_CONFLICT;
    if (e != KERR_NOT_FOUND)
        return e;
    citizen_put(op->v, t, &op->cz);
    return journal_own(op->v, t, op->cz.id, op->by->id, krole_name(op->by->role), op->by->organisation, "create",
                       op->remote, op->cz.created);
}

void handle_citizens_create(struct request *r)
{
    vault *v = r->ctx;
    const char *id = NULL, *dn = NULL;
    json_t *body = NULL;
    struct jspec spec[] = {
        {.name = "id", .type = JS_ID, .out = &id},
        {.name = "display_name", .type = JS_STRING, .out = &dn, .len = CITIZEN_NAME_MAX},
    };
    if (api_parse_body(r, spec, 2, &body) != 0)
        return;
    struct caller c;
    if (api_authenticate(r, &c) != 0 || api_require_role(r, &c, KROLE_ADMIN) != 0) {
        json_decref(body);
        return;
    }
    if (!dn[0]) {
        json_decref(body);
        api_reply_error(r, KERR_BAD_REQUEST, "display_name: must not be empty");
        return;
    }
    struct create_op op = {.v = v, .by = &c, .remote = r->remote};
    snprintf(op.cz.id, sizeof op.cz.id, "%s", id);
    snprintf(op.cz.display_name, sizeof op.cz.display_name, "%s", dn);
    json_decref(body);
    op.cz.created = (int64_t)time(NULL);
    const struct charter *ch = vault_charter_get(v);
    op.cz.code_expires = op.cz.created + ch->enrollment_code_ttl_days * 86400;
    vault_charter_put(v, ch);
    char code[CITIZEN_CODE_TEXT];
    citizen_code_new(code, op.cz.code_hash);
    kerr e = gc_submit(v->gc, create_apply, &op);
    if (e != KERR_OK)
        api_reply_error(r, e, e == KERR_CONFLICT ? "this id is already in use" : NULL);
    else
        api_reply_json(r, API_CREATED, json_pack("{s:s, s:s, s:I}", "id", op.cz.id, "enrollment_code", code,
                                                 "expires", (json_int_t)op.cz.code_expires));
    sodium_memzero(code, sizeof code);
    sodium_memzero(&op.cz, sizeof op.cz);
}

/* ---------------------------------------------------------------- enroll */

struct enroll_item {
    const char *section;
    const char *statement, *signature;
    struct kstmt st;
    struct epoch_record rec;
};

struct enroll_op {
    vault *v;
    const char *citizen;
    unsigned char code_hash[32];
    unsigned char sign_pk[32], box_pk[32];
    struct citizen_login login;
    struct enroll_item *items;
    size_t n;
    int64_t now;
    const char *remote;
};

/* Is CZ waiting for enrollment with code hash H at NOW? Constant time in the code. */
static int code_ok(const struct citizen *cz, const unsigned char h[32], int64_t now)
{
    int match = sodium_memcmp(cz->code_hash, h, 32) == 0;
    return match && !cz->enrolled && now < cz->code_expires;
}

static kerr enroll_apply(store_txn *t, void *arg)
{
    struct enroll_op *op = arg;
    struct citizen cz;
    kerr e = citizen_get(op->v, t, op->citizen, &cz);
    if (e == KERR_NOT_FOUND || (e == KERR_OK && !code_ok(&cz, op->code_hash, op->now)))
        return KERR_BAD_CREDENTIALS;
    if (e != KERR_OK)
        return e;
    for (size_t i = 0; i < op->n; i++)
        if (vault_claim_statement_id(op->v, t, KSTMT_EPOCH, op->items[i].st.id, op->now) != KERR_OK)
            return t->err;
    cz.enrolled = 1;
    sodium_memzero(cz.code_hash, sizeof cz.code_hash);
    cz.code_expires = 0;
    memcpy(cz.sign_pk, op->sign_pk, 32);
    memcpy(cz.box_pk, op->box_pk, 32);
    citizen_put(op->v, t, &cz);
    citizen_login_put(op->v, t, op->citizen, &op->login);
    struct section_state s = {.current_epoch = 1, .next_seq = 1};
    for (size_t i = 0; i < op->n; i++) {
        section_put(op->v, t, op->citizen, op->items[i].section, &s);
        epoch_put(op->v, t, op->citizen, op->items[i].section, &op->items[i].rec);
    }
    return journal_own(op->v, t, op->citizen, op->citizen, "citizen", "", "enroll", op->remote, op->now);
}

/* Parse and verify item I of SECTIONS into IT; on failure answer R and return -1. */
static int enroll_item(struct request *r, json_t *obj, size_t i, struct enroll_item *it, const char *citizen,
                       const unsigned char sign_pk[32], const struct charter *ch, int64_t now)
{
    char msg[200];
    int64_t epoch = 0;
    struct jerr err = {0};
    struct jspec spec[] = {
        {.name = "section", .type = JS_ID, .out = &it->section},
        {.name = "epoch", .type = JS_INT, .out = &epoch, .min = 1, .max = 1},
        {.name = "statement", .type = JS_STRING, .out = &it->statement, .len = STMT_B64_MAX},
        {.name = "signature", .type = JS_STRING, .out = &it->signature, .len = 128},
        {.name = "self_wrap", .type = JS_B64, .out = it->rec.self_wrap, .len = KLUIS_WRAP_BYTES},
        {.name = "escrow_wrap", .type = JS_B64, .out = it->rec.escrow_wrap, .len = KLUIS_ESCROW_BYTES},
    };
    if (!json_is_object(obj)) {
        snprintf(msg, sizeof msg, "sections[%zu]: must be an object", i);
        api_reply_error(r, KERR_BAD_REQUEST, msg);
        return -1;
    }
    if (jspec_extract(obj, spec, sizeof spec / sizeof spec[0], &err) != 0) {
        snprintf(msg, sizeof msg, "sections[%zu].%.100s", i, err.msg);
        api_reply_error(r, err.code, msg);
        return -1;
    }
    if (!charter_section(ch, it->section)) {
        snprintf(msg, sizeof msg, "sections[%zu].section: not a section of the charter", i);
        api_reply_error(r, KERR_BAD_REQUEST, msg);
        return -1;
    }
    if (kstmt_verify(&it->st, it->statement, it->signature, "epoch", citizen, sign_pk, now, &err) != 0) {
        snprintf(msg, sizeof msg, "sections[%zu]: %.150s", i, err.msg);
        api_reply_error(r, err.code, msg);
        return -1;
    }
    if (strcmp(it->st.citizen, citizen) != 0 || strcmp(it->st.section, it->section) != 0 || it->st.epoch != 1) {
        snprintf(msg, sizeof msg, "sections[%zu]: the statement's citizen, section and epoch must match", i);
        api_reply_error(r, KERR_BAD_STATEMENT, msg);
        return -1;
    }
    it->rec.epoch = 1;
    it->rec.created = now;
    it->rec.statement = (char *)it->statement; /* borrowed from the body for epoch_put() */
    it->rec.signature = (char *)it->signature;
    return 0;
}

void handle_citizen_enroll(struct request *r)
{
    vault *v = r->ctx;
    const char *code = NULL;
    json_t *sections = NULL, *body = NULL;
    struct enroll_op op = {.v = v, .citizen = r->param[0], .now = (int64_t)time(NULL), .remote = r->remote};
    struct jspec spec[] = {
        {.name = "enrollment_code", .type = JS_STRING, .out = &code, .len = 64},
        {.name = "sign_pk", .type = JS_B64, .out = op.sign_pk, .len = 32},
        {.name = "box_pk", .type = JS_B64, .out = op.box_pk, .len = 32},
        {.name = "salt", .type = JS_B64, .out = op.login.salt, .len = KLUIS_SALT_BYTES},
        {.name = "opslimit", .type = JS_INT, .out = &op.login.opslimit, .min = 1, .max = INT64_MAX},
        {.name = "memlimit", .type = JS_INT, .out = &op.login.memlimit, .min = 1, .max = INT64_MAX},
        {.name = "bundle", .type = JS_B64, .out = op.login.bundle, .len = KLUIS_BUNDLE_BYTES},
        {.name = "auth_hash", .type = JS_B64, .out = op.login.auth_hash, .len = 32},
        {.name = "sections", .type = JS_ARRAY, .out = &sections, .max = CHARTER_MAX_SECTIONS},
    };
    if (api_parse_body(r, spec, sizeof spec / sizeof spec[0], &body) != 0)
        return;
    kerr e = KERR_OK;
    const char *msg = NULL;
    if (!kluis_pwhash_params_ok((unsigned long long)op.login.opslimit, (unsigned long long)op.login.memlimit)) {
        e = KERR_BAD_REQUEST;
        msg = "opslimit/memlimit: outside the accepted Argon2id range";
    } else if (citizen_code_hash(op.code_hash, code) != 0) {
        e = KERR_BAD_CREDENTIALS;
    } else {
        /* The code first: nobody without it makes the vault verify signatures. */
        struct citizen cz;
        store_txn t;
        store_txn_begin(v->st, &t, true);
        e = citizen_get(v, &t, op.citizen, &cz);
        store_txn_abort(&t);
        if (e == KERR_NOT_FOUND || (e == KERR_OK && !code_ok(&cz, op.code_hash, op.now)))
            e = KERR_BAD_CREDENTIALS;
    }
    if (e != KERR_OK) {
        json_decref(body);
        api_reply_error(r, e, msg);
        return;
    }

    const struct charter *ch = vault_charter_get(v);
    op.n = json_array_size(sections);
    op.items = calloc(op.n ? op.n : 1, sizeof *op.items);
    int bad = !op.items;
    if (bad)
        api_reply_error(r, KERR_INTERNAL, NULL);
    for (size_t i = 0; !bad && i < op.n; i++) {
        bad = enroll_item(r, json_array_get(sections, i), i, &op.items[i], op.citizen, op.sign_pk, ch, op.now) != 0;
        for (size_t j = 0; !bad && j < i; j++)
            if (strcmp(op.items[j].section, op.items[i].section) == 0) {
                api_reply_error(r, KERR_BAD_REQUEST, "sections: a section is listed twice");
                bad = 1;
            }
    }
    if (!bad && op.n != ch->n_sections) {
        api_reply_error(r, KERR_BAD_REQUEST, "sections: exactly one entry per charter section is required");
        bad = 1;
    }
    vault_charter_put(v, ch);
    if (!bad) {
        e = gc_submit(v->gc, enroll_apply, &op);
        if (e != KERR_OK)
            api_reply_error(r, e, NULL);
        else
            api_reply_json(r, API_OK, json_pack("{s:s, s:b, s:I}", "id", op.citizen, "enrolled", 1, "sections",
                                                (json_int_t)op.n));
    }
    for (size_t i = 0; op.items && i < op.n; i++)
        kstmt_free(&op.items[i].st);
    free(op.items);
    sodium_memzero(&op.login, sizeof op.login);
    json_decref(body);
}

/* ---------------------------------------------------------------- passphrase */

struct passphrase_op {
    vault *v;
    const char *citizen;
    struct citizen_login login;
    int64_t now;
    const char *remote;
};

static kerr passphrase_apply(store_txn *t, void *arg)
{
    struct passphrase_op *op = arg;
    struct lockout zero = {0};
    citizen_login_put(op->v, t, op->citizen, &op->login);
    citizen_lockout_put(op->v, t, op->citizen, &zero);
    return journal_own(op->v, t, op->citizen, op->citizen, "citizen", "", "passphrase", op->remote, op->now);
}

void handle_citizen_passphrase(struct request *r)
{
    vault *v = r->ctx;
    json_t *body = NULL;
    struct passphrase_op op = {.v = v, .citizen = r->param[0], .now = (int64_t)time(NULL), .remote = r->remote};
    struct jspec spec[] = {
        {.name = "salt", .type = JS_B64, .out = op.login.salt, .len = KLUIS_SALT_BYTES},
        {.name = "opslimit", .type = JS_INT, .out = &op.login.opslimit, .min = 1, .max = INT64_MAX},
        {.name = "memlimit", .type = JS_INT, .out = &op.login.memlimit, .min = 1, .max = INT64_MAX},
        {.name = "bundle", .type = JS_B64, .out = op.login.bundle, .len = KLUIS_BUNDLE_BYTES},
        {.name = "auth_hash", .type = JS_B64, .out = op.login.auth_hash, .len = 32},
    };
    if (api_parse_body(r, spec, sizeof spec / sizeof spec[0], &body) != 0)
        return;
    json_decref(body);
    struct caller c;
    if (api_authenticate(r, &c) != 0)
        return;
    if (c.role != KROLE_CITIZEN || strcmp(c.id, op.citizen) != 0) {
        api_reply_error(r, KERR_FORBIDDEN, "only the citizen changes their own passphrase");
        return;
    }
    if (!kluis_pwhash_params_ok((unsigned long long)op.login.opslimit, (unsigned long long)op.login.memlimit)) {
        api_reply_error(r, KERR_BAD_REQUEST, "opslimit/memlimit: outside the accepted Argon2id range");
        return;
    }
    kerr e = gc_submit(v->gc, passphrase_apply, &op);
    sodium_memzero(&op.login, sizeof op.login);
    if (e != KERR_OK)
        api_reply_error(r, e, NULL);
    else
        api_reply_json(r, API_OK, json_pack("{s:s, s:b}", "id", op.citizen, "changed", 1));
}
