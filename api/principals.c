/*
 * api/principals.c — the principal directory (SPEC §1, §6): POST /v1/principals (admin registers),
 * GET /v1/principals?role= (any authenticated caller reads), POST /v1/principals/{id}/deactivate
 * (admin). Registrations and deactivations are transparency-log leaves, so auditors know which key
 * belonged to whom and when it stopped counting. Citizens are never in this directory: they are
 * created through /v1/citizens and share its id space (an id is a principal or a citizen, never
 * both), so a session's id is never ambiguous.
 */
#include "api/auth.h"
#include "api/handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vault/citizen.h"
#include "vault/encoding.h"
#include "vault/session.h"
#include "vault/vault.h"

static json_t *principal_json(const struct vault_principal *p)
{
    char *s = b64_encode(p->sign_pk, 32), *b = b64_encode(p->box_pk, 32);
    json_t *j = (s && b) ? json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "id", p->id, "role", p->role,
                                     "display_name", p->display_name, "organisation", p->organisation, "sign_pk", s,
                                     "box_pk", b, "active", p->active)
                         : NULL;
    free(s);
    free(b);
    return j;
}

struct register_op {
    vault *v;
    const struct vault_principal *p;
    int64_t now;
};

static kerr register_apply(store_txn *t, void *arg)
{
    struct register_op *op = arg;
    struct vault_principal old;
    struct citizen cz;
    kerr e = vault_principal_get(op->v, t, op->p->id, &old);
    if (e == KERR_NOT_FOUND)
        e = citizen_get(op->v, t, op->p->id, &cz);
    if (e == KERR_OK)
        return KERR_CONFLICT;
    if (e != KERR_NOT_FOUND)
        return e;
    return vault_principal_put(op->v, t, op->p, op->now);
}

void handle_principals_create(struct request *r)
{
    vault *v = r->ctx;
    struct vault_principal p = {.active = 1};
    const char *id = NULL, *role = NULL, *dn = NULL, *org = NULL;
    json_t *body = NULL;
    struct jspec spec[] = {
        {.name = "id", .type = JS_ID, .out = &id},
        {.name = "role", .type = JS_STRING, .out = &role, .len = sizeof p.role - 1},
        {.name = "display_name", .type = JS_STRING, .out = &dn, .len = sizeof p.display_name - 1},
        {.name = "organisation", .type = JS_STRING, .out = &org, .len = sizeof p.organisation - 1},
        {.name = "sign_pk", .type = JS_B64, .out = p.sign_pk, .len = 32},
        {.name = "box_pk", .type = JS_B64, .out = p.box_pk, .len = 32},
    };
    if (api_parse_body(r, spec, sizeof spec / sizeof spec[0], &body) != 0)
        return;
    struct caller c;
    enum krole kr = krole_parse(role);
    if (api_authenticate(r, &c) != 0 || api_require_role(r, &c, KROLE_ADMIN) != 0) {
        json_decref(body);
        return;
    }
    if (kr == KROLE_NONE || kr == KROLE_CITIZEN) {
        json_decref(body);
        api_reply_error(r, KERR_BAD_REQUEST, "role: must be professional, mayor, officer, auditor or admin "
                                             "(citizens are created through /v1/citizens)");
        return;
    }
    if (!dn[0]) {
        json_decref(body);
        api_reply_error(r, KERR_BAD_REQUEST, "display_name: must not be empty");
        return;
    }
    snprintf(p.id, sizeof p.id, "%s", id);
    snprintf(p.role, sizeof p.role, "%s", role);
    snprintf(p.display_name, sizeof p.display_name, "%s", dn);
    snprintf(p.organisation, sizeof p.organisation, "%s", org);
    json_decref(body);
    struct register_op op = {v, &p, (int64_t)time(NULL)};
    kerr e = gc_submit(v->gc, register_apply, &op);
    if (e != KERR_OK)
        api_reply_error(r, e, e == KERR_CONFLICT ? "this id is already registered" : NULL);
    else
        api_reply_json(r, API_CREATED, principal_json(&p));
}

void handle_principals_list(struct request *r)
{
    vault *v = r->ctx;
    struct caller c;
    const char *role = NULL;
    if (api_query_id(r, "role", 0, &role) < 0 || api_authenticate(r, &c) != 0)
        return;
    if (role && krole_parse(role) == KROLE_NONE) {
        api_reply_error(r, KERR_BAD_REQUEST, "role: not a role");
        return;
    }
    struct vault_principal *ps = NULL;
    size_t n = 0;
    store_txn t;
    store_txn_begin(v->st, &t, true);
    kerr e = vault_principal_list(v, &t, role, &ps, &n);
    store_txn_abort(&t);
    if (e != KERR_OK) {
        api_reply_error(r, e, NULL);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        if (json_array_append_new(arr, principal_json(&ps[i])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    free(ps);
    api_reply_json(r, API_OK, arr);
}

struct deactivate_op {
    vault *v;
    const char *id, *by;
    int64_t now;
    size_t ended;
};

static kerr deactivate_apply(store_txn *t, void *arg)
{
    struct deactivate_op *op = arg;
    struct vault_principal p;
    kerr e = vault_principal_get(op->v, t, op->id, &p);
    if (e != KERR_OK)
        return e;
    if (!p.active || strcmp(op->id, op->by) == 0)
        return KERR_CONFLICT;
    p.active = 0;
    json_t *leaf = json_pack("{s:s, s:s}", "id", p.id, "role", p.role);
    if (!leaf)
        return store_txn_fail(t, KERR_INTERNAL);
    vault_principal_store(op->v, t, &p);
    session_del_all(op->v, t, p.id, &op->ended);
    tlog_append(op->v->log, t, op->now, "principal.deactivated", leaf, NULL);
    json_decref(leaf);
    return t->err;
}

void handle_principal_deactivate(struct request *r)
{
    vault *v = r->ctx;
    json_t *body = NULL;
    /* No fields: an empty body, or an empty JSON object. */
    if (r->body_len && api_parse_body(r, NULL, 0, &body) != 0)
        return;
    json_decref(body);
    struct caller c;
    if (api_authenticate(r, &c) != 0 || api_require_role(r, &c, KROLE_ADMIN) != 0)
        return;
    struct deactivate_op op = {.v = v, .id = r->param[0], .by = c.id, .now = (int64_t)time(NULL)};
    kerr e = gc_submit(v->gc, deactivate_apply, &op);
    if (e != KERR_OK)
        api_reply_error(r, e, e == KERR_CONFLICT ? "already inactive, or an admin deactivating themselves" : NULL);
    else
        api_reply_json(r, API_OK, json_pack("{s:s, s:b, s:I}", "id", op.id, "active", 0, "sessions_ended",
                                            (json_int_t)op.ended));
}
