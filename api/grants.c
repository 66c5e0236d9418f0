/*
 * api/grants.c — consent: POST/GET /v1/citizens/{c}/grants, POST /v1/citizens/{c}/grants/{g}/revoke
 * and GET /v1/grants (SPEC §4, §5, §6).
 *
 * A grant is the citizen's signed statement plus a wrap of every epoch's key of every granted
 * section, sealed by the citizen's client to the grantee. The handler checks in SPEC's one-way
 * order: body, caller, signature (over the exact bytes, with the citizen's registered key), the URL
 * against the statement, the grantee, the charter (policy_grant_check), the wraps against the
 * section epochs; then one group-commit operation re-checks the wraps against the epochs as they are
 * at commit time (a rotation may have slipped in), claims the statement id, stores grant, index and
 * wraps, marks the request it answers and journals "grant" — all durable together, before the
 * answer. Revocation likewise: the grant is revoked and its wraps deleted in the durable commit that
 * precedes the answer, so the grantee's next read is refused with grant_revoked.
 */
#include "api/handlers.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/access.h"
#include "api/auth.h"
#include "api/commit.h"
#include "api/signed.h"
#include "vault/dossier.h"
#include "vault/grant.h"
#include "vault/replay.h"
#include "vault/statement.h"

#define MAX_WRAPS 1024

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* ---------------------------------------------------------------- the JSON of a grant */

static json_t *sections_json(const struct grant_rec *g)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < g->n_sections; i++)
        json_array_append_new(a, json_string(g->sections[i]));
    return a;
}

/* A grant as GET /citizens/{c}/grants and GET /grants show it; WITH_CITIZEN adds "citizen". */
static json_t *grant_out(const struct grant_rec *g, int64_t now, int with_citizen)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:s, s:I, s:I, s:s, s:I, s:s, s:s}", "id", g->id, "grantee",
                          g->grantee, "purpose", g->purpose, "sections", sections_json(g), "access",
                          g->write ? "write" : "read", "not_before", (json_int_t)g->not_before, "expires",
                          (json_int_t)g->expires, "state", policy_grant_state_name(grant_state_at(g, now)),
                          "created", (json_int_t)g->created, "statement", g->statement, "signature",
                          g->signature);
    if (!o)
        return NULL;
    int bad = 0;
    if (with_citizen)
        bad |= json_object_set_new(o, "citizen", json_string(g->citizen));
    if (g->request)
        bad |= json_object_set_new(o, "request", json_string(g->request));
    if (g->note)
        bad |= json_object_set_new(o, "note", json_string(g->note));
    if (g->revoked) {
        bad |= json_object_set_new(o, "revoked", json_integer((json_int_t)g->revoked_at));
        bad |= json_object_set_new(o, "revoke_statement", json_string(g->revoke_statement));
        bad |= json_object_set_new(o, "revoke_signature", json_string(g->revoke_signature));
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *grants_out(const struct grant_rec *g, size_t n, int64_t now, int with_citizen)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        if (json_array_append_new(a, grant_out(&g[i], now, with_citizen)) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a ? json_pack("{s:o}", "grants", a) : NULL;
}

/* ---------------------------------------------------------------- POST /citizens/{c}/grants */

struct wrap_in {
    const char *section;        /* borrowed from the body */
    int64_t epoch;
    unsigned char wrap[KLUIS_WRAP_BYTES];
    int used;                   /* matched to an epoch by check_wraps() */
};

struct grant_op {
    struct signed_op s;         /* envelope, statement, caller (api/signed.h); s.body also owns
                                 * the strings of WRAPS */
    const char **sections;
    size_t n_sections;
    struct wrap_in *wraps;
    size_t n_wraps;
};

static void grant_op_free(void *arg)
{
    struct grant_op *op = arg;
    if (!op)
        return;
    signed_op_release(&op->s);
    free(op->sections);
    if (op->wraps)
        sodium_memzero(op->wraps, op->n_wraps * sizeof *op->wraps);
    free(op->wraps);
    free(op);
}

/*
 * A wrap for every epoch of every granted section, and none besides: KERR_MISSING_WRAPS or
 * KERR_BAD_REQUEST (an extra wrap), with MSG saying which. Reads in T (the handler's read txn, or
 * the apply's child txn so the check holds at commit time).
 */
static kerr check_wraps(struct grant_op *op, store_txn *t, char *msg, size_t msglen)
{
    for (size_t i = 0; i < op->n_wraps; i++)
        op->wraps[i].used = 0;
    for (size_t s = 0; s < op->n_sections; s++) {
        struct epoch_record *ep = NULL;
        size_t ne = 0;
        kerr e = epoch_list(op->s.v, t, op->s.st.citizen, op->sections[s], &ep, &ne);
        if (e != KERR_OK)
            return e;
        for (size_t k = 0; k < ne; k++) {
            size_t w;
            for (w = 0; w < op->n_wraps; w++)
                if ((uint64_t)op->wraps[w].epoch == ep[k].epoch && !strcmp(op->wraps[w].section, op->sections[s]))
                    break;
            if (w == op->n_wraps) {
                snprintf(msg, msglen, "No wrap for section %s epoch %llu.", op->sections[s],
                         (unsigned long long)ep[k].epoch);
                epoch_records_free(ep, ne);
                return KERR_MISSING_WRAPS;
            }
            op->wraps[w].used = 1;
        }
        epoch_records_free(ep, ne);
    }
    for (size_t w = 0; w < op->n_wraps; w++) {
        if (!op->wraps[w].used) {
            snprintf(msg, msglen, "wraps[%zu] names no epoch of a granted section.", w);
            return KERR_BAD_REQUEST;
        }
    }
    return KERR_OK;
}

static kerr grant_apply(store_txn *t, void *arg)
{
    struct grant_op *op = arg;
    vault *v = op->s.v;
    const struct kstmt *st = &op->s.st;
    char msg[160];
    kerr e = check_wraps(op, t, msg, sizeof msg);
    if (e != KERR_OK)
        return e;
    if (vault_claim_statement_id(v, t, KSTMT_GRANT, st->id, op->s.now) != KERR_OK)
        return t->err;
    struct grant_rec g = {
        .id = st->id, .citizen = st->citizen, .grantee = st->grantee, .purpose = st->purpose,
        .sections = op->sections, .n_sections = op->n_sections, .write = !strcmp(st->access, "write"),
        .not_before = st->not_before, .expires = st->expires, .request = st->request, .note = st->note,
        .created = op->s.now, .statement = op->s.statement, .signature = op->s.signature,
    };
    e = grant_put(t, v->tab, &g);
    if (e == KERR_CONFLICT) /* the id was free as a statement id, so this cannot be; refuse anyway */
        return KERR_REPLAY;
    if (e != KERR_OK)
        return e;
    for (size_t w = 0; w < op->n_wraps; w++)
        if (grant_wrap_put(t, v->tab, st->citizen, st->id, op->wraps[w].section, (uint64_t)op->wraps[w].epoch,
                           op->wraps[w].wrap) != KERR_OK)
            return t->err;
    if (st->request) {
        /* A grant answers the open request it names when it goes to the one who asked. */
        struct grant_request q;
        e = grant_request_get(t, v->tab, st->citizen, st->request, &q);
        if (e == KERR_OK && q.state == GREQ_OPEN && !strcmp(q.requester, st->grantee))
            e = grant_request_close(t, v->tab, st->citizen, st->request, st->id, op->s.now);
        else if (e == KERR_OK || e == KERR_NOT_FOUND)
            e = KERR_OK;
        grant_request_free(&q);
        if (e != KERR_OK)
            return e;
    }
    journal_event ev;
    api_journal_event(&ev, &op->s.c, op->s.remote, op->s.now, "grant", NULL, st->id, "allowed");
    return journal_append(v->journal, t, st->citizen, &ev, NULL, NULL);
}

/* Parse and check the "wraps" array of the body into OP. */
static int parse_wraps(struct request *r, json_t *wraps, struct grant_op *op)
{
    size_t n = json_array_size(wraps);
    if (n > MAX_WRAPS) {
        api_reply_error(r, KERR_BAD_REQUEST, "Too many wraps.");
        return -1;
    }
    op->wraps = n ? calloc(n, sizeof *op->wraps) : NULL;
    if (n && !op->wraps) {
        api_reply_error(r, KERR_INTERNAL, NULL);
        return -1;
    }
    op->n_wraps = n;
    for (size_t i = 0; i < n; i++) {
        struct wrap_in *w = &op->wraps[i];
        struct jerr err;
        const struct jspec spec[] = {
            {.name = "section", .type = JS_ID, .out = &w->section},
            {.name = "epoch", .type = JS_INT, .out = &w->epoch, .min = 1, .max = INT64_MAX},
            {.name = "wrap", .type = JS_B64, .out = w->wrap, .len = KLUIS_WRAP_BYTES},
        };
        json_t *item = json_array_get(wraps, i);
        if (!json_is_object(item)) {
            char msg[64];
            snprintf(msg, sizeof msg, "wraps[%zu] must be an object.", i);
            api_reply_error(r, KERR_BAD_REQUEST, msg);
            return -1;
        }
        if (jspec_extract(item, spec, sizeof spec / sizeof spec[0], &err) != 0) {
            char msg[sizeof err.msg + sizeof err.field + 32];
            snprintf(msg, sizeof msg, "wraps[%zu].%s: %s", i, err.field, err.msg);
            api_reply_error(r, err.code, msg);
            return -1;
        }
        for (size_t j = 0; j < i; j++) {
            if (op->wraps[j].epoch == w->epoch && !strcmp(op->wraps[j].section, w->section)) {
                char msg[96];
                snprintf(msg, sizeof msg, "wraps[%zu] repeats a section and epoch.", i);
                api_reply_error(r, KERR_BAD_REQUEST, msg);
                return -1;
            }
        }
    }
    return 0;
}

void handle_grant_create(struct request *r)
{
    vault *v = r->ctx;
    const char *citizen = r->param[0];
    struct grant_op *op = calloc(1, sizeof *op);
    json_t *wraps = NULL;
    struct jerr err;
    if (!op) {
        api_reply_error(r, KERR_INTERNAL, NULL);
        return;
    }
    signed_op_init(&op->s, r, v);
    const struct jspec spec[] = {
        {.name = "statement", .type = JS_STRING, .out = &op->s.statement, .len = GRANT_MAX_B64},
        {.name = "signature", .type = JS_STRING, .out = &op->s.signature, .len = API_SIG_B64_MAX},
        {.name = "wraps", .type = JS_ARRAY, .out = &wraps, .max = MAX_WRAPS},
    };
    if (api_parse_body(r, spec, sizeof spec / sizeof spec[0], &op->s.body) != 0 || parse_wraps(r, wraps, op) != 0 ||
        api_authenticate(r, &op->s.c) != 0 || api_require_owner(r, &op->s.c, citizen) != 0)
        goto out;
    if (signed_op_verify(&op->s, r, "grant") != 0)
        goto out;
    const struct kstmt *st = &op->s.st;
    if (strcmp(st->citizen, citizen) != 0) {
        api_reply_error(r, KERR_BAD_STATEMENT, "The statement's citizen is not the one in the URL.");
        goto out;
    }
    if (!(op->sections = signed_sections(st, &op->n_sections))) {
        api_reply_error(r, KERR_INTERNAL, NULL);
        goto out;
    }

    /* The grantee: a registered principal (an unknown one is a malformed statement, 400). */
    store_txn t;
    struct vault_principal gp;
    char msg[160] = "";
    store_txn_begin(v->st, &t, true);
    kerr e = vault_principal_get(v, &t, st->grantee, &gp);
    if (e == KERR_NOT_FOUND) {
        store_txn_abort(&t);
        api_reply_error(r, KERR_BAD_STATEMENT, "The grantee is not a registered principal (grantee).");
        goto out;
    }
    if (e == KERR_OK) {
        struct policy_principal grantee = {.id = gp.id, .role = krole_parse(gp.role), .active = gp.active};
        struct policy_grant_req req = {
            .purpose = st->purpose, .sections = op->sections, .n_sections = op->n_sections,
            .write = !strcmp(st->access, "write"), .not_before = st->not_before, .expires = st->expires,
        };
        const struct charter *ch = vault_charter_get(v);
        kerr pe = policy_grant_check(ch, &req, &grantee, &err);
        vault_charter_put(v, ch);
        if (pe != KERR_OK) {
            store_txn_abort(&t);
            api_reply_jerr(r, &err);
            goto out;
        }
        e = vault_statement_id_used(v, &t, KSTMT_GRANT, st->id);
        if (e == KERR_OK)
            e = check_wraps(op, &t, msg, sizeof msg);
    }
    store_txn_abort(&t);
    if (e != KERR_OK) {
        if (kerr_status(e) == 400 || kerr_status(e) == 409)
            api_reply_error(r, e, msg[0] ? msg : NULL);
        else
            api_reply_store_error(r, e);
        goto out;
    }
    enum grant_state gs = policy_grant_state(
        &(struct policy_grant){.not_before = st->not_before, .expires = st->expires}, op->s.now);
    json_t *reply = json_pack("{s:s, s:s}", "id", st->id, "state", policy_grant_state_name(gs));
    api_commit_reply(r, v, grant_apply, op, grant_op_free, API_CREATED, reply, KERR_OK);
    return;
out:
    grant_op_free(op);
}

/* ---------------------------------------------------------------- GET /citizens/{c}/grants */

void handle_grant_list_citizen(struct request *r)
{
    vault *v = r->ctx;
    const char *citizen = r->param[0];
    struct caller c;
    if (api_authenticate(r, &c) != 0 || api_require_owner(r, &c, citizen) != 0)
        return;
    store_txn t;
    struct grant_rec *g = NULL;
    size_t n = 0;
    store_txn_begin(v->st, &t, true);
    kerr e = grant_list_citizen(&t, v->tab, citizen, &g, &n);
    store_txn_abort(&t);
    if (e != KERR_OK) {
        api_reply_store_error(r, e);
        return;
    }
    api_reply_json(r, API_OK, grants_out(g, n, now_s(), 0));
    grant_recs_free(g, n);
}

/* ---------------------------------------------------------------- GET /grants */

void handle_grant_list_mine(struct request *r)
{
    vault *v = r->ctx;
    struct caller c;
    if (api_authenticate(r, &c) != 0 || api_require_role(r, &c, KROLE_PROFESSIONAL) != 0)
        return;
    store_txn t;
    struct grant_rec *g = NULL;
    size_t n = 0;
    store_txn_begin(v->st, &t, true);
    kerr e = grant_list_grantee(&t, v->tab, c.id, &g, &n);
    store_txn_abort(&t);
    if (e != KERR_OK) {
        api_reply_store_error(r, e);
        return;
    }
    api_reply_json(r, API_OK, grants_out(g, n, now_s(), 1));
    grant_recs_free(g, n);
}

/* ---------------------------------------------------------------- POST /citizens/{c}/grants/{g}/revoke */

struct revoke_op {
    struct signed_op s; /* envelope, statement, caller (api/signed.h) */
};
_Static_assert(offsetof(struct revoke_op, s) == 0, "signed_op_free() frees it from its signed_op");

static kerr revoke_apply(store_txn *t, void *arg)
{
    struct revoke_op *op = arg;
    vault *v = op->s.v;
    kerr e = grant_revoke(t, v->tab, op->s.st.citizen, op->s.st.grant, op->s.now, op->s.statement, op->s.signature);
    if (e != KERR_OK)
        return e;
    if (vault_claim_statement_id(v, t, KSTMT_REVOKE, op->s.st.id, op->s.now) != KERR_OK)
        return t->err;
    journal_event ev;
    api_journal_event(&ev, &op->s.c, op->s.remote, op->s.now, "revoke", NULL, op->s.st.grant, "allowed");
    return journal_append(v->journal, t, op->s.st.citizen, &ev, NULL, NULL);
}

void handle_grant_revoke(struct request *r)
{
    vault *v = r->ctx;
    const char *citizen = r->param[0], *grant = r->param[1];
    struct revoke_op *op = calloc(1, sizeof *op);
    if (!op) {
        api_reply_error(r, KERR_INTERNAL, NULL);
        return;
    }
    signed_op_init(&op->s, r, v);
    if (api_parse_envelope(r, GRANT_MAX_B64, &op->s.body, &op->s.statement, &op->s.signature) != 0 || api_authenticate(r, &op->s.c) != 0 ||
        api_require_owner(r, &op->s.c, citizen) != 0)
        goto out;
    if (signed_op_verify(&op->s, r, "revoke") != 0)
        goto out;
    if (strcmp(op->s.st.citizen, citizen) != 0 || strcmp(op->s.st.grant, grant) != 0) {
        api_reply_error(r, KERR_BAD_STATEMENT, "The statement's citizen or grant is not the one in the URL.");
        goto out;
    }
    /* Early answers for the common refusals; the apply decides again at commit time. */
    store_txn t;
    struct grant_rec g;
    store_txn_begin(v->st, &t, true);
    kerr e = grant_get(&t, v->tab, citizen, grant, &g);
    if (e == KERR_OK && g.revoked)
        e = KERR_CONFLICT;
    grant_rec_free(&g);
    if (e == KERR_OK)
        e = vault_statement_id_used(v, &t, KSTMT_REVOKE, op->s.st.id);
    store_txn_abort(&t);
    if (e == KERR_CONFLICT) {
        api_reply_error(r, e, "The grant is already revoked.");
        goto out;
    }
    if (e != KERR_OK) {
        if (e == KERR_NOT_FOUND || e == KERR_REPLAY)
            api_reply_error(r, e, NULL);
        else
            api_reply_store_error(r, e);
        goto out;
    }
    json_t *reply = json_pack("{s:s, s:s}", "id", grant, "state", "revoked");
    api_commit_reply(r, v, revoke_apply, op, signed_op_free, API_OK, reply, KERR_OK);
    return;
out:
    signed_op_free(op);
}
