/*
 * api/requests.c — access requests: POST /v1/requests (a professional asks), GET
 * /v1/citizens/{c}/requests (the citizen sees open ones), POST /v1/citizens/{c}/requests/{r}/decline
 * (SPEC §4, §6). A grant naming the request answers it (api/grants.c).
 *
 * Whether a citizen id exists is not disclosed to the asker: a well-formed request the charter
 * allows is answered 201 {id} whether or not the id names an enrolled citizen. For an unknown one
 * only the statement id is claimed (so a resubmission is 409 replay either way); nothing else is
 * stored and no journal exists to write to. A dossier's existence says that a person is known to
 * the social domain, which is itself personal data.
 */
#include "api/handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/access.h"
#include "api/auth.h"
#include "api/commit.h"
#include "api/signed.h"
#include "vault/citizen.h"
#include "vault/grant.h"
#include "vault/replay.h"
#include "vault/statement.h"


static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* ---------------------------------------------------------------- POST /requests */

struct request_op {
    struct signed_op s;         /* envelope, statement, caller (api/signed.h) */
    const char **sections;
    size_t n_sections;
    int known;                  /* the citizen is enrolled: store and journal */
};

static void request_op_free(void *arg)
{
    struct request_op *op = arg;
    if (!op)
        return;
    signed_op_release(&op->s);
    free(op->sections);
    free(op);
}

static kerr request_apply(store_txn *t, void *arg)
{
    struct request_op *op = arg;
    vault *v = op->s.v;
    const struct kstmt *st = &op->s.st;
    if (vault_claim_statement_id(v, t, KSTMT_REQUEST, st->id, op->s.now) != KERR_OK)
        return t->err;
    if (!op->known)
        return KERR_OK;
    struct grant_request q = {
        .id = st->id, .citizen = st->citizen, .requester = st->signer, .purpose = st->purpose,
        .sections = op->sections, .n_sections = op->n_sections, .write = !strcmp(st->access, "write"),
        .days = st->days, .note = st->note, .created = op->s.now, .statement = op->s.statement,
        .signature = op->s.signature,
    };
    kerr e = grant_request_put(t, v->tab, &q);
    if (e == KERR_CONFLICT)
        return KERR_REPLAY;
    if (e != KERR_OK)
        return e;
    journal_event ev;
    api_journal_event(&ev, &op->s.c, op->s.remote, op->s.now, "request", NULL, "", "allowed");
    return journal_append(v->journal, t, st->citizen, &ev, NULL, NULL);
}

void handle_request_create(struct request *r)
{
    vault *v = r->ctx;
    struct request_op *op = calloc(1, sizeof *op);
    struct jerr err;
    if (!op) {
        api_reply_error(r, KERR_INTERNAL, NULL);
        return;
    }
    signed_op_init(&op->s, r, v);
    if (api_parse_envelope(r, GRANT_MAX_B64, &op->s.body, &op->s.statement, &op->s.signature) != 0 || api_authenticate(r, &op->s.c) != 0)
        goto out;
    if (signed_op_verify(&op->s, r, "request") != 0)
        goto out;
    const struct kstmt *st = &op->s.st;
    if (!(op->sections = signed_sections(st, &op->n_sections))) {
        api_reply_error(r, KERR_INTERNAL, NULL);
        goto out;
    }
    struct policy_principal who = {.id = op->s.c.id, .role = op->s.c.role, .active = op->s.c.active};
    struct policy_request_req req = {
        .purpose = st->purpose, .sections = op->sections, .n_sections = op->n_sections,
        .write = !strcmp(st->access, "write"), .days = st->days,
    };
    const struct charter *ch = vault_charter_get(v);
    kerr pe = policy_request_check(ch, &req, &who, &err);
    vault_charter_put(v, ch);
    if (pe != KERR_OK) {
        char msg[sizeof err.msg + sizeof err.field + 4];
        snprintf(msg, sizeof msg, "%s%s%s%s", err.msg, err.field[0] ? " (" : "", err.field, err.field[0] ? ")" : "");
        api_reply_error(r, pe, msg);
        goto out;
    }
    store_txn t;
    struct citizen cz;
    store_txn_begin(v->st, &t, true);
    kerr e = citizen_get(v, &t, st->citizen, &cz);
    op->known = e == KERR_OK && cz.enrolled;
    if (e == KERR_NOT_FOUND || e == KERR_OK)
        e = vault_statement_id_used(v, &t, KSTMT_REQUEST, st->id);
    store_txn_abort(&t);
    if (e != KERR_OK) {
        if (e == KERR_REPLAY)
            api_reply_error(r, e, NULL);
        else
            api_reply_store_error(r, e);
        goto out;
    }
    json_t *reply = json_pack("{s:s}", "id", st->id);
    api_commit_reply(r, v, request_apply, op, request_op_free, API_CREATED, reply, KERR_OK);
    return;
out:
    request_op_free(op);
}

/* ---------------------------------------------------------------- GET /citizens/{c}/requests */

static json_t *request_out(vault *v, store_txn *t, const struct grant_request *q)
{
    struct vault_principal p;
    kerr e = vault_principal_get(v, t, q->requester, &p);
    if (e != KERR_OK && e != KERR_NOT_FOUND)
        return NULL;
    json_t *secs = json_array();
    for (size_t i = 0; secs && i < q->n_sections; i++)
        json_array_append_new(secs, json_string(q->sections[i]));
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:I, s:I, s:s, s:s, s:s}", "id", q->id,
                          "requester", q->requester, "display_name", e == KERR_OK ? p.display_name : "",
                          "organisation", e == KERR_OK ? p.organisation : "", "purpose", q->purpose,
                          "sections", secs, "access", q->write ? "write" : "read", "days", (json_int_t)q->days,
                          "created", (json_int_t)q->created, "state", grant_request_state_name(q->state),
                          "statement", q->statement, "signature", q->signature);
    if (o && q->note && json_object_set_new(o, "note", json_string(q->note)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

void handle_request_list(struct request *r)
{
    vault *v = r->ctx;
    const char *citizen = r->param[0];
    struct caller c;
    if (api_authenticate(r, &c) != 0 || api_require_owner(r, &c, citizen) != 0)
        return;
    store_txn t;
    struct grant_request *q = NULL;
    size_t n = 0;
    store_txn_begin(v->st, &t, true);
    kerr e = grant_request_list_open(&t, v->tab, citizen, &q, &n);
    json_t *a = e == KERR_OK ? json_array() : NULL;
    for (size_t i = 0; a && i < n; i++) {
        if (json_array_append_new(a, request_out(v, &t, &q[i])) != 0) {
            json_decref(a);
            a = NULL;
            e = t.err != KERR_OK ? t.err : KERR_INTERNAL;
        }
    }
    store_txn_abort(&t);
    grant_requests_free(q, n);
    if (e != KERR_OK) {
        json_decref(a);
        api_reply_store_error(r, e);
        return;
    }
    api_reply_json(r, API_OK, a ? json_pack("{s:o}", "requests", a) : NULL);
}

/* ---------------------------------------------------------------- POST /citizens/{c}/requests/{r}/decline */

struct decline_op {
    vault *v;
    char citizen[64], id[64];
    struct caller c;
    char remote[48];
    int64_t now;
};

static kerr decline_apply(store_txn *t, void *arg)
{
    struct decline_op *op = arg;
    kerr e = grant_request_close(t, op->v->tab, op->citizen, op->id, NULL, op->now);
    if (e != KERR_OK)
        return e;
    journal_event ev;
    api_journal_event(&ev, &op->c, op->remote, op->now, "decline", NULL, "own", "allowed");
    return journal_append(op->v->journal, t, op->citizen, &ev, NULL, NULL);
}

void handle_request_decline(struct request *r)
{
    vault *v = r->ctx;
    const char *citizen = r->param[0], *id = r->param[1];
    json_t *body = NULL;
    /* The body is optional; when sent it must be the empty object. */
    if (r->body_len > 0) {
        if (api_parse_body(r, NULL, 0, &body) != 0)
            return;
        json_decref(body);
    }
    struct decline_op *op = calloc(1, sizeof *op);
    if (!op) {
        api_reply_error(r, KERR_INTERNAL, NULL);
        return;
    }
    if (api_authenticate(r, &op->c) != 0 || api_require_owner(r, &op->c, citizen) != 0) {
        free(op);
        return;
    }
    op->v = v;
    op->now = now_s();
    snprintf(op->citizen, sizeof op->citizen, "%s", citizen);
    snprintf(op->id, sizeof op->id, "%s", id);
    snprintf(op->remote, sizeof op->remote, "%s", r->remote);
    store_txn t;
    struct grant_request q;
    store_txn_begin(v->st, &t, true);
    kerr e = grant_request_get(&t, v->tab, citizen, id, &q);
    if (e == KERR_OK && q.state != GREQ_OPEN)
        e = KERR_CONFLICT;
    grant_request_free(&q);
    store_txn_abort(&t);
    if (e != KERR_OK) {
        if (e == KERR_NOT_FOUND || e == KERR_CONFLICT)
            api_reply_error(r, e, e == KERR_CONFLICT ? "The request is no longer open." : NULL);
        else
            api_reply_store_error(r, e);
        free(op);
        return;
    }
    json_t *reply = json_pack("{s:s, s:s}", "id", id, "state", "declined");
    api_commit_reply(r, v, decline_apply, op, free, API_OK, reply, KERR_OK);
}
