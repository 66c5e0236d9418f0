/*
 * api/overrides.c — the emergency override (SPEC §5, §7): POST /v1/overrides, approve, GET list,
 * GET escrow, POST wraps, POST close.
 *
 * Every step is one group-commit operation whose log leaf (and journal event) is durable before
 * the answer; the leaves carry the signed statements whole, in the exact shapes the auditor
 * (`kluis audit verify`) relies on:
 *   override.requested       {"override","citizen","statement","signature"}
 *   override.approved        {"override","approver","statement","signature"}
 *   override.activated       {"override","activated","expires"}
 *   override.escrow-released {"override","items":[{"section","epoch"}]}
 *   override.wraps-uploaded  {"override","items":[{"section","epoch"}]}
 *   override.closed          {"override","reason":"expired"} | {"override","reason":"closed","statement","signature"}
 *
 * The escrow is the one answer that must not even exist before its leaf does: the apply only
 * copies the (still doubly sealed) escrow wraps and appends override.escrow-released; the outer
 * layer is removed with the gate key in the completion, after the batch holding the leaf and its
 * signed checkpoint is durably committed (api_commit_build). A failed commit releases nothing.
 *
 * GET /v1/citizens/{c}/overrides is the citizen's own view of the overrides of their dossier
 * (docs/protocol.md): shown from the notice time on, names resolved, no statements.
 *
 * Each handler checks early in a read transaction for clear refusals; the apply checks again on
 * the writer, which orders it against every other step of the same override.
 */
#include "api/handlers.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "api/access.h"
#include "api/auth.h"
#include "api/commit.h"
#include "api/signed.h"
#include "vault/citizen.h"
#include "vault/dossier.h"
#include "vault/encoding.h"
#include "vault/override.h"
#include "vault/replay.h"
#include "vault/statement.h"

#define OVR_MAX_B64 90000u
#define MAX_WRAPS 1024

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

static enum krole charter_role(vault *v, int approver)
{
    const struct charter *ch = vault_charter_get(v);
    enum krole r = approver ? ch->override.approver_role : ch->override.authority_role;
    vault_charter_put(v, ch);
    return r;
}

static int64_t notice_due(vault *v, int64_t now)
{
    const struct charter *ch = vault_charter_get(v);
    int64_t h = ch->override.citizen_notice_hours;
    vault_charter_put(v, ch);
    return now + h * 3600;
}

/* The citizen-journal event of an override step, held back per citizen_notice_hours. */
static kerr notice(vault *v, store_txn *t, const json_t *rec, const char *action, const char *actor,
                   const char *role, const char *org, const char *remote, int64_t now)
{
    char basis[80];
    snprintf(basis, sizeof basis, "override:%s", json_string_value(json_object_get(rec, "id")));
    journal_event ev = {
        .time = now, .actor = actor, .actor_role = role, .organisation = org, .action = action,
        .basis = basis, .result = "allowed", .remote = remote,
    };
    return override_notice(v, t, json_string_value(json_object_get(rec, "citizen")), &ev, notice_due(v, now));
}

/* Make REC active at NOW: activated/expires, the override.activated leaf, the citizen's notice. */
static kerr activate_txn(vault *v, store_txn *t, json_t *rec, int64_t now, const char *remote)
{
    int64_t hours = json_integer_value(json_object_get(rec, "hours"));
    int64_t expires = now + hours * 3600;
    json_object_set_new(rec, "state", json_string("active"));
    json_object_set_new(rec, "activated", json_integer((json_int_t)now));
    json_object_set_new(rec, "expires", json_integer((json_int_t)expires));
    /* When the citizen may know (citizen_notice_hours): GET /citizens/{c}/overrides shows it then. */
    json_object_set_new(rec, "notice_at", json_integer((json_int_t)notice_due(v, now)));
    if (override_put(v, t, rec) != KERR_OK)
        return t->err;
    json_t *leaf = json_pack("{s:O, s:I, s:I}", "override", json_object_get(rec, "id"), "activated",
                             (json_int_t)now, "expires", (json_int_t)expires);
    if (!leaf)
        return store_txn_fail(t, KERR_INTERNAL);
    tlog_append(v->log, t, now, "override.activated", leaf, NULL);
    json_decref(leaf);
    if (t->err != KERR_OK)
        return t->err;
    return notice(v, t, rec, "override-activated", json_string_value(json_object_get(rec, "requester")), "mayor",
                  json_string_value(json_object_get(rec, "requester_org")), remote, now);
}

/* A record as GET /overrides shows it: the stored fields, the state at NOW. */
static json_t *record_out(const json_t *rec, int64_t now, int *unswept)
{
    json_t *o = json_deep_copy(rec);
    int u = 0;
    enum override_state s = override_state_at(rec, now, &u);
    if (!o)
        return NULL;
    json_object_set_new(o, "state", json_string(override_state_name(s)));
    if (u) {
        json_object_set_new(o, "closed", json_incref(json_object_get(rec, "expires")));
        json_object_set_new(o, "close_reason", json_string("expired"));
        if (unswept)
            *unswept = 1;
    }
    return o;
}

/* Read override ID for a handler: 404 / store errors answered (return -1). */
static int load_rec(struct request *r, vault *v, const char *id, json_t **rec)
{
    store_txn t;
    store_txn_begin(v->st, &t, true);
    kerr e = override_get(v, &t, id, rec);
    store_txn_abort(&t);
    if (e == KERR_NOT_FOUND) {
        api_reply_error(r, KERR_NOT_FOUND, "No such override.");
        return -1;
    }
    if (e != KERR_OK) {
        api_reply_store_error(r, e);
        return -1;
    }
    return 0;
}

/* ================================================================ POST /overrides */

struct create_op {
    struct signed_op s;         /* envelope, statement, caller (api/signed.h) */
    int64_t required;
    int active;
};
_Static_assert(offsetof(struct create_op, s) == 0, "signed_op_free() frees it from its signed_op");

static kerr create_apply(store_txn *t, void *arg)
{
    struct create_op *op = arg;
    vault *v = op->s.v;
    const struct kstmt *st = &op->s.st;
    if (vault_claim_statement_id(v, t, KSTMT_OVERRIDE, st->id, op->s.now) != KERR_OK)
        return t->err;
    json_t *existing = NULL;
    kerr e = override_get(v, t, st->id, &existing);
    json_decref(existing);
    if (e == KERR_OK)
        return KERR_REPLAY;
    if (e != KERR_NOT_FOUND)
        return e;
    json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:O, s:s, s:s, s:I, s:s, s:[]}", "id", st->id,
                            "citizen", st->citizen, "requester", op->s.c.id, "requester_org", op->s.c.organisation,
                            "beneficiary", st->beneficiary, "ground", st->ground, "justification", st->justification,
                            "hours", (json_int_t)st->hours, "sections", st->sections, "statement", op->s.statement,
                            "signature", op->s.signature, "created", (json_int_t)op->s.now, "state", "pending",
                            "approvals");
    if (!rec)
        return store_txn_fail(t, KERR_INTERNAL);
    override_put(v, t, rec);
    json_t *leaf = json_pack("{s:s, s:s, s:s, s:s}", "override", st->id, "citizen", st->citizen, "statement",
                             op->s.statement, "signature", op->s.signature);
    if (leaf)
        tlog_append(v->log, t, op->s.now, "override.requested", leaf, NULL);
    else
        store_txn_fail(t, KERR_INTERNAL);
    json_decref(leaf);
    if (t->err == KERR_OK && op->required == 0)
        activate_txn(v, t, rec, op->s.now, op->s.remote);
    op->active = op->required == 0;
    json_decref(rec);
    return t->err;
}

static json_t *create_build(void *arg, kerr *code)
{
    struct create_op *op = arg;
    (void)code;
    json_t *o = json_pack("{s:s, s:s}", "id", op->s.st.id, "state", op->active ? "active" : "pending");
    if (o && op->active) {
        json_object_set_new(o, "activated", json_integer((json_int_t)op->s.now));
        json_object_set_new(o, "expires", json_integer((json_int_t)op->s.now + (json_int_t)op->s.st.hours * 3600));
    }
    return o;
}

void handle_override_create(struct request *r)
{
    vault *v = r->ctx;
    struct create_op *op = calloc(1, sizeof *op);
    struct jerr err;
    if (!op) {
        api_reply_error(r, KERR_INTERNAL, NULL);
        return;
    }
    signed_op_init(&op->s, r, v);
    if (api_parse_envelope(r, OVR_MAX_B64, &op->s.body, &op->s.statement, &op->s.signature) != 0 || api_authenticate(r, &op->s.c) != 0)
        goto out;
    if (op->s.c.role != charter_role(v, 0)) {
        api_reply_error(r, KERR_FORBIDDEN, "Only the charter's override authority may request an override.");
        goto out;
    }
    if (signed_op_verify(&op->s, r, "override") != 0)
        goto out;
    const struct kstmt *st = &op->s.st;

    const char *secs[64];
    size_t ns = json_array_size(st->sections);
    if (ns > 64)
        ns = 64;
    for (size_t i = 0; i < ns; i++)
        secs[i] = json_string_value(json_array_get(st->sections, i));

    store_txn t;
    struct vault_principal bp;
    struct citizen cz;
    store_txn_begin(v->st, &t, true);
    kerr e = vault_principal_get(v, &t, st->beneficiary, &bp);
    if (e == KERR_NOT_FOUND) {
        store_txn_abort(&t);
        api_reply_error(r, KERR_BAD_STATEMENT, "The beneficiary is not a registered principal (beneficiary).");
        goto out;
    }
    if (e == KERR_OK) {
        struct policy_principal req = {.id = op->s.c.id, .role = op->s.c.role, .active = op->s.c.active};
        struct policy_principal ben = {.id = bp.id, .role = krole_parse(bp.role), .active = bp.active};
        struct policy_override_req o = {
            .requester = &req, .beneficiary = &ben, .ground = st->ground, .justification = st->justification,
            .hours = st->hours, .sections = secs, .n_sections = ns,
        };
        const struct charter *ch = vault_charter_get(v);
        kerr pe = policy_override_check(ch, &o, &err);
        op->required = ch->override.approvals_required;
        vault_charter_put(v, ch);
        if (pe != KERR_OK) {
            store_txn_abort(&t);
            api_reply_jerr(r, &err);
            goto out;
        }
        e = citizen_get(v, &t, st->citizen, &cz);
        if (e == KERR_OK && !cz.enrolled)
            e = KERR_NOT_FOUND;
        if (e == KERR_NOT_FOUND) {
            store_txn_abort(&t);
            api_reply_error(r, KERR_NOT_FOUND, "No enrolled citizen with this id (citizen).");
            goto out;
        }
        if (e == KERR_OK)
            e = vault_statement_id_used(v, &t, KSTMT_OVERRIDE, st->id);
    }
    store_txn_abort(&t);
    if (e != KERR_OK) {
        if (e == KERR_REPLAY)
            api_reply_error(r, e, NULL);
        else
            api_reply_store_error(r, e);
        goto out;
    }
    api_commit_build(r, v, create_apply, op, signed_op_free, API_CREATED, create_build, KERR_OK);
    return;
out:
    signed_op_free(op);
}

/* ================================================================ POST /overrides/{o}/approve */

struct approve_op {
    struct signed_op s;         /* envelope, statement, caller (api/signed.h) */
    char id[64];
    /* set by the apply */
    size_t n_approvals;
    int active;
    int64_t expires;
};
_Static_assert(offsetof(struct approve_op, s) == 0, "signed_op_free() frees it from its signed_op");

/* The refusal of an approval of REC by C with statement ST, or KERR_OK (shared by the early check
 * and the apply). MSG gets a reason. */
static kerr approval_refusal(vault *v, const json_t *rec, const struct caller *c, const struct kstmt *st,
                             int64_t now, const char **msg)
{
    enum override_state s = override_state_at(rec, now, NULL);
    if (s == OVR_CLOSED) {
        *msg = "The override is closed.";
        return KERR_OVERRIDE_NOT_ACTIVE;
    }
    if (s == OVR_ACTIVE) {
        *msg = "The override is already active.";
        return KERR_CONFLICT;
    }
    if (!strcmp(json_string_value(json_object_get(rec, "requester")), c->id)) {
        *msg = "The requester never approves their own override.";
        return KERR_FORBIDDEN;
    }
    /* statement_hash = BLAKE2b-256 of the exact statement bytes that were requested. */
    const char *b64 = json_string_value(json_object_get(rec, "statement"));
    size_t cap = strlen(b64), len = 0;
    unsigned char *bytes = malloc(cap + 1), h[KLUIS_HASH_BYTES];
    if (!bytes)
        return KERR_INTERNAL;
    int bad = b64_decode(bytes, cap + 1, &len, b64, strlen(b64)) != 0 || kluis_hash(h, bytes, len) != 0;
    free(bytes);
    if (bad)
        return KERR_INTERNAL;
    if (sodium_memcmp(h, st->statement_hash, sizeof h) != 0) {
        *msg = "statement_hash is not the hash of the override statement (statement_hash).";
        return KERR_BAD_STATEMENT;
    }
    json_t *apps = json_object_get(rec, "approvals");
    size_t n = json_array_size(apps);
    const char **by = calloc(n + 1, sizeof *by);
    if (!by)
        return KERR_INTERNAL;
    for (size_t i = 0; i < n; i++)
        by[i] = json_string_value(json_object_get(json_array_get(apps, i), "approver"));
    struct policy_principal who = {.id = c->id, .role = c->role, .active = c->active};
    struct jerr err;
    const struct charter *ch = vault_charter_get(v);
    kerr e = policy_approval_check(ch, &who, by, n, &err);
    vault_charter_put(v, ch);
    free(by);
    if (e == KERR_CONFLICT)
        *msg = "This officer has already approved the override.";
    else if (e != KERR_OK)
        *msg = NULL;
    return e;
}

static kerr approve_apply(store_txn *t, void *arg)
{
    struct approve_op *op = arg;
    vault *v = op->s.v;
    json_t *rec = NULL;
    const char *msg = NULL;
    kerr e = override_get(v, t, op->id, &rec);
    if (e != KERR_OK)
        return e;
    e = approval_refusal(v, rec, &op->s.c, &op->s.st, op->s.now, &msg);
    if (e != KERR_OK) {
        json_decref(rec);
        return e;
    }
    if (vault_claim_statement_id(v, t, KSTMT_OVERRIDE_APPROVAL, op->s.st.id, op->s.now) != KERR_OK) {
        json_decref(rec);
        return t->err;
    }
    json_t *apps = json_object_get(rec, "approvals");
    json_array_append_new(apps, json_pack("{s:s, s:s, s:s, s:I}", "approver", op->s.c.id, "statement", op->s.statement,
                                          "signature", op->s.signature, "time", (json_int_t)op->s.now));
    override_put(v, t, rec);
    json_t *leaf = json_pack("{s:s, s:s, s:s, s:s}", "override", op->id, "approver", op->s.c.id, "statement",
                             op->s.statement, "signature", op->s.signature);
    if (leaf)
        tlog_append(v->log, t, op->s.now, "override.approved", leaf, NULL);
    else
        store_txn_fail(t, KERR_INTERNAL);
    json_decref(leaf);
    op->n_approvals = json_array_size(apps);
    const struct charter *ch = vault_charter_get(v);
    int quorum = policy_quorum_reached(ch, op->n_approvals);
    vault_charter_put(v, ch);
    if (t->err == KERR_OK && quorum) {
        activate_txn(v, t, rec, op->s.now, op->s.remote);
        op->active = 1;
        op->expires = json_integer_value(json_object_get(rec, "expires"));
    }
    json_decref(rec);
    return t->err;
}

static json_t *approve_build(void *arg, kerr *code)
{
    struct approve_op *op = arg;
    (void)code;
    json_t *o = json_pack("{s:s, s:s, s:I}", "id", op->id, "state", op->active ? "active" : "pending", "approvals",
                          (json_int_t)op->n_approvals);
    if (o && op->active) {
        json_object_set_new(o, "activated", json_integer((json_int_t)op->s.now));
        json_object_set_new(o, "expires", json_integer((json_int_t)op->expires));
    }
    return o;
}

void handle_override_approve(struct request *r)
{
    vault *v = r->ctx;
    struct approve_op *op = calloc(1, sizeof *op);
    json_t *rec = NULL;
    if (!op) {
        api_reply_error(r, KERR_INTERNAL, NULL);
        return;
    }
    signed_op_init(&op->s, r, v);
    snprintf(op->id, sizeof op->id, "%s", r->param[0]);
    if (api_parse_envelope(r, OVR_MAX_B64, &op->s.body, &op->s.statement, &op->s.signature) != 0 || api_authenticate(r, &op->s.c) != 0)
        goto out;
    if (op->s.c.role != charter_role(v, 1)) {
        api_reply_error(r, KERR_FORBIDDEN, "Only the charter's approver role may approve an override.");
        goto out;
    }
    if (signed_op_verify(&op->s, r, "override-approval") != 0)
        goto out;
    if (strcmp(op->s.st.override_id, op->id) != 0) {
        api_reply_error(r, KERR_BAD_STATEMENT, "The statement's override is not the one in the URL.");
        goto out;
    }
    if (load_rec(r, v, op->id, &rec) != 0)
        goto out;
    const char *msg = NULL;
    kerr e = approval_refusal(v, rec, &op->s.c, &op->s.st, op->s.now, &msg);
    if (e == KERR_OK) {
        store_txn t;
        store_txn_begin(v->st, &t, true);
        e = vault_statement_id_used(v, &t, KSTMT_OVERRIDE_APPROVAL, op->s.st.id);
        store_txn_abort(&t);
    }
    json_decref(rec);
    if (e != KERR_OK) {
        api_reply_error(r, e, msg);
        goto out;
    }
    api_commit_build(r, v, approve_apply, op, signed_op_free, API_OK, approve_build, KERR_OK);
    return;
out:
    signed_op_free(op);
}

/* ================================================================ GET /overrides?state= */

void handle_override_list(struct request *r)
{
    vault *v = r->ctx;
    struct caller c;
    const char *want = NULL;
    if (api_authenticate(r, &c) != 0)
        return;
    if (c.role != KROLE_MAYOR && c.role != KROLE_OFFICER && c.role != KROLE_AUDITOR) {
        api_reply_error(r, KERR_FORBIDDEN, "Only mayor, officer and auditor see override records.");
        return;
    }
    if (api_query_id(r, "state", 0, &want) < 0)
        return;
    if (want && strcmp(want, "pending") && strcmp(want, "active") && strcmp(want, "closed")) {
        api_reply_error(r, KERR_BAD_REQUEST, "state must be pending, active or closed.");
        return;
    }
    store_txn t;
    json_t *all = NULL;
    store_txn_begin(v->st, &t, true);
    kerr e = override_list(v, &t, NULL, &all);
    store_txn_abort(&t);
    if (e != KERR_OK) {
        api_reply_store_error(r, e);
        return;
    }
    int64_t now = now_s();
    int unswept = 0;
    json_t *out = json_array();
    size_t i;
    json_t *rec;
    json_array_foreach(all, i, rec) {
        json_t *o = record_out(rec, now, &unswept);
        if (o && want && strcmp(json_string_value(json_object_get(o, "state")), want) != 0) {
            json_decref(o);
            continue;
        }
        json_array_append_new(out, o);
    }
    json_decref(all);
    if (unswept)
        override_sweep_async(v);
    api_reply_json(r, API_OK, json_pack("{s:o}", "overrides", out));
}

/* ================================================================ GET /citizens/{c}/overrides */

/* {id, display_name, organisation} of principal ID as the directory shows it (id only if unknown). */
static json_t *who_json(vault *v, store_txn *t, const char *id)
{
    struct vault_principal p;
    json_t *o = json_pack("{s:s}", "id", id ? id : "");
    if (o && id && vault_principal_get(v, t, id, &p) == KERR_OK) {
        json_object_set_new(o, "display_name", json_string(p.display_name));
        json_object_set_new(o, "organisation", json_string(p.organisation));
    }
    return o;
}

/*
 * The time from which the citizen may know of REC: the record's notice_at (set at activation, or
 * at the close of an override never activated), else — records written before notice_at existed —
 * that moment plus the charter's citizen_notice_hours. INT64_MAX: not yet (pending, never noticed).
 */
static int64_t citizen_notice_at(vault *v, const json_t *rec)
{
    json_t *n = json_object_get(rec, "notice_at");
    if (json_is_integer(n))
        return json_integer_value(n);
    json_t *at = json_object_get(rec, "activated");
    if (!json_is_integer(at))
        at = json_object_get(rec, "closed");
    if (!json_is_integer(at))
        return INT64_MAX;
    const struct charter *ch = vault_charter_get(v);
    int64_t h = ch->override.citizen_notice_hours;
    vault_charter_put(v, ch);
    return json_integer_value(at) + h * 3600;
}

/* One override as its citizen sees it (docs/protocol.md): no statements, names resolved. */
static json_t *citizen_view(vault *v, store_txn *t, const struct charter *ch, const json_t *rec, int64_t now,
                            int *unswept)
{
    json_t *full = record_out(rec, now, unswept);
    if (!full)
        return NULL;
    const char *ground = json_string_value(json_object_get(full, "ground"));
    const struct charter_ground *g = ground ? charter_ground(ch, ground) : NULL;
    json_t *o = json_pack("{s:O, s:O, s:s, s:O, s:O, s:O, s:o, s:o, s:O}", "id", json_object_get(full, "id"),
                          "state", json_object_get(full, "state"), "ground", ground ? ground : "",
                          "justification", json_object_get(full, "justification"), "hours",
                          json_object_get(full, "hours"), "sections", json_object_get(full, "sections"), "mayor",
                          who_json(v, t, json_string_value(json_object_get(full, "requester"))), "beneficiary",
                          who_json(v, t, json_string_value(json_object_get(full, "beneficiary"))), "requested",
                          json_object_get(full, "created"));
    if (!o) {
        json_decref(full);
        return NULL;
    }
    if (g) {
        json_object_set_new(o, "ground_title", json_string(g->title));
        if (g->title_en)
            json_object_set_new(o, "ground_title_en", json_string(g->title_en));
    }
    static const char *const copy[] = {"activated", "expires", "closed", "close_reason"};
    for (size_t i = 0; i < sizeof copy / sizeof copy[0]; i++) {
        json_t *x = json_object_get(full, copy[i]);
        if (x)
            json_object_set(o, copy[i], x);
    }
    const char *by = json_string_value(json_object_get(full, "closed_by"));
    if (by)
        json_object_set_new(o, "closed_by", who_json(v, t, by));
    json_t *approvals = json_array(), *released = json_array(), *a;
    size_t i;
    json_array_foreach(json_object_get(full, "approvals"), i, a) {
        json_t *w = who_json(v, t, json_string_value(json_object_get(a, "approver")));
        if (w)
            json_object_set(w, "time", json_object_get(a, "time"));
        json_array_append_new(approvals, w);
    }
    json_array_foreach(json_object_get(full, "released"), i, a) {
        json_t *sec = json_object_get(a, "section");
        size_t j;
        json_t *y;
        int seen = 0;
        json_array_foreach(released, j, y) seen |= json_equal(y, sec);
        if (!seen && json_is_string(sec))
            json_array_append(released, sec);
    }
    json_object_set_new(o, "approved_by", approvals);
    json_object_set_new(o, "released", released);
    json_decref(full);
    return o;
}

void handle_override_list_citizen(struct request *r)
{
    vault *v = r->ctx;
    const char *citizen = r->param[0];
    struct caller c;
    if (api_authenticate(r, &c) != 0 || api_require_owner(r, &c, citizen) != 0)
        return;
    int64_t now = now_s();
    int unswept = 0;
    store_txn t;
    json_t *all = NULL, *out = json_array();
    store_txn_begin(v->st, &t, true);
    kerr e = override_list(v, &t, citizen, &all);
    const struct charter *ch = vault_charter_get(v);
    size_t i;
    json_t *rec;
    json_array_foreach(all, i, rec) {
        if (e != KERR_OK || !out)
            break;
        if (citizen_notice_at(v, rec) > now) /* citizen_notice_hours: not before its time */
            continue;
        json_t *o = citizen_view(v, &t, ch, rec, now, &unswept);
        if (!o || json_array_append_new(out, o) != 0)
            e = KERR_INTERNAL;
    }
    vault_charter_put(v, ch);
    if (e == KERR_OK)
        e = t.err;
    store_txn_abort(&t);
    json_decref(all);
    if (unswept)
        override_sweep_async(v);
    if (e != KERR_OK || !out) {
        json_decref(out);
        api_reply_store_error(r, e != KERR_OK ? e : KERR_INTERNAL);
        return;
    }
    api_reply_json(r, API_OK, json_pack("{s:s, s:o}", "citizen", citizen, "overrides", out));
}

/* ================================================================ GET /overrides/{o}/escrow */

struct escrow_item {
    char section[64];
    uint64_t epoch;
    char *statement, *signature;
    unsigned char escrow[KLUIS_ESCROW_BYTES];
};

struct escrow_op {
    vault *v;
    struct caller c;
    char remote[48];
    char id[64];
    int64_t now;
    struct escrow_item *items;
    size_t n, cap;
    uint64_t leaf_index;
    char citizen[64];
    unsigned char citizen_sign_pk[KLUIS_SIGN_PK_BYTES]; /* verifies the epoch statements */
};

static void escrow_op_free(void *arg)
{
    struct escrow_op *op = arg;
    if (!op)
        return;
    for (size_t i = 0; i < op->n; i++) {
        free(op->items[i].statement);
        free(op->items[i].signature);
    }
    if (op->items)
        sodium_memzero(op->items, op->cap * sizeof *op->items);
    free(op->items);
    free(op);
}

static void escrow_items_clear(struct escrow_op *op)
{
    for (size_t i = 0; i < op->n; i++) {
        free(op->items[i].statement);
        free(op->items[i].signature);
    }
    op->n = 0;
}

static kerr escrow_collect(struct escrow_op *op, store_txn *t, const char *citizen, const char *section)
{
    struct epoch_record *ep = NULL;
    size_t ne = 0;
    kerr e = epoch_list(op->v, t, citizen, section, &ep, &ne);
    if (e != KERR_OK)
        return e;
    for (size_t k = 0; k < ne; k++) {
        if (op->n == op->cap) {
            size_t nc = op->cap ? op->cap * 2 : 16;
            struct escrow_item *ni = realloc(op->items, nc * sizeof *ni);
            if (!ni) {
                epoch_records_free(ep, ne);
                return store_txn_fail(t, KERR_INTERNAL);
            }
            op->items = ni;
            op->cap = nc;
        }
        struct escrow_item *it = &op->items[op->n];
        memset(it, 0, sizeof *it);
        snprintf(it->section, sizeof it->section, "%s", section);
        it->epoch = ep[k].epoch;
        it->statement = strdup(ep[k].statement);
        it->signature = strdup(ep[k].signature);
        memcpy(it->escrow, ep[k].escrow_wrap, KLUIS_ESCROW_BYTES);
        op->n++;
        if (!it->statement || !it->signature) {
            epoch_records_free(ep, ne);
            return store_txn_fail(t, KERR_INTERNAL);
        }
    }
    epoch_records_free(ep, ne);
    return KERR_OK;
}

static kerr escrow_apply(store_txn *t, void *arg)
{
    struct escrow_op *op = arg;
    vault *v = op->v;
    json_t *rec = NULL;
    escrow_items_clear(op); /* an apply may be retried in a new batch: start clean */
    kerr e = override_get(v, t, op->id, &rec);
    if (e != KERR_OK)
        return e;
    enum override_state s = override_state_at(rec, op->now, NULL);
    if (s != OVR_ACTIVE) {
        json_decref(rec);
        return s == OVR_PENDING ? KERR_QUORUM_PENDING : KERR_OVERRIDE_NOT_ACTIVE;
    }
    const char *citizen = json_string_value(json_object_get(rec, "citizen"));
    struct citizen cz;
    if ((e = citizen_get(v, t, citizen, &cz)) != KERR_OK) {
        json_decref(rec);
        return e == KERR_NOT_FOUND ? store_txn_fail(t, KERR_INTERNAL) : e;
    }
    snprintf(op->citizen, sizeof op->citizen, "%s", citizen);
    memcpy(op->citizen_sign_pk, cz.sign_pk, sizeof op->citizen_sign_pk);
    json_t *secs = json_object_get(rec, "sections");
    if (override_covers(rec, "*") && json_array_size(secs) == 1 &&
        !strcmp(json_string_value(json_array_get(secs, 0)), "*")) {
        const struct charter *ch = vault_charter_get(v);
        for (size_t i = 0; e == KERR_OK && i < ch->n_sections; i++)
            e = escrow_collect(op, t, citizen, ch->sections[i].id);
        vault_charter_put(v, ch);
    } else {
        for (size_t i = 0; e == KERR_OK && i < json_array_size(secs); i++)
            e = escrow_collect(op, t, citizen, json_string_value(json_array_get(secs, i)));
    }
    if (e != KERR_OK) {
        json_decref(rec);
        return e;
    }
    json_t *items = json_array();
    json_t *released = json_object_get(rec, "released");
    if (!json_is_array(released)) {
        released = json_array();
        json_object_set_new(rec, "released", released);
    }
    for (size_t i = 0; i < op->n; i++) {
        json_array_append_new(items, json_pack("{s:s, s:I}", "section", op->items[i].section, "epoch",
                                               (json_int_t)op->items[i].epoch));
        int have = 0;
        size_t k;
        json_t *x;
        json_array_foreach(released, k, x) {
            if (!strcmp(json_string_value(json_object_get(x, "section")), op->items[i].section) &&
                (uint64_t)json_integer_value(json_object_get(x, "epoch")) == op->items[i].epoch)
                have = 1;
        }
        if (!have)
            json_array_append_new(released, json_pack("{s:s, s:I}", "section", op->items[i].section, "epoch",
                                                      (json_int_t)op->items[i].epoch));
    }
    json_object_set_new(rec, "release_time", json_integer((json_int_t)op->now));
    json_t *leaf = json_pack("{s:s, s:o}", "override", op->id, "items", items);
    if (leaf)
        tlog_append(v->log, t, op->now, "override.escrow-released", leaf, &op->leaf_index);
    else
        store_txn_fail(t, KERR_INTERNAL);
    json_decref(leaf);
    if (t->err == KERR_OK)
        override_put(v, t, rec);
    if (t->err == KERR_OK)
        notice(v, t, rec, "escrow-released", op->c.id, krole_name(op->c.role), op->c.organisation, op->remote,
               op->now);
    json_decref(rec);
    return t->err;
}

/* Runs after the leaf is durably logged: only now does the gate key touch the escrow. */
static json_t *escrow_build(void *arg, kerr *code)
{
    struct escrow_op *op = arg;
    json_t *items = json_array();
    unsigned char inner[KLUIS_WRAP_BYTES];
    *code = KERR_INTERNAL;
    if (!items)
        return NULL;
    for (size_t i = 0; i < op->n; i++) {
        struct escrow_item *it = &op->items[i];
        if (kluis_escrow_open_outer(inner, it->escrow, op->v->gate_sk) != 0) {
            json_decref(items);
            sodium_memzero(inner, sizeof inner);
            return NULL;
        }
        char *b = b64_encode(inner, sizeof inner);
        sodium_memzero(inner, sizeof inner);
        if (!b || json_array_append_new(items, json_pack("{s:s, s:I, s:s, s:s, s:s}", "section", it->section, "epoch",
                                                         (json_int_t)it->epoch, "statement", it->statement,
                                                         "signature", it->signature, "inner", b)) != 0) {
            free(b);
            json_decref(items);
            return NULL;
        }
        free(b);
    }
    char *pk = b64_encode(op->citizen_sign_pk, sizeof op->citizen_sign_pk);
    json_t *o = pk ? json_pack("{s:s, s:s, s:s, s:I, s:o}", "override", op->id, "citizen", op->citizen, "sign_pk", pk,
                               "log_index", (json_int_t)op->leaf_index, "items", items)
                   : NULL;
    if (!pk)
        json_decref(items);
    free(pk);
    return o;
}

void handle_override_escrow(struct request *r)
{
    vault *v = r->ctx;
    struct escrow_op *op = calloc(1, sizeof *op);
    json_t *rec = NULL;
    if (!op) {
        api_reply_error(r, KERR_INTERNAL, NULL);
        return;
    }
    op->v = v;
    op->now = now_s();
    snprintf(op->id, sizeof op->id, "%s", r->param[0]);
    snprintf(op->remote, sizeof op->remote, "%s", r->remote);
    if (api_authenticate(r, &op->c) != 0)
        goto out;
    if (op->c.role != charter_role(v, 0)) {
        api_reply_error(r, KERR_FORBIDDEN, "Only the charter's override authority fetches the escrow.");
        goto out;
    }
    if (load_rec(r, v, op->id, &rec) != 0)
        goto out;
    int unswept = 0;
    enum override_state s = override_state_at(rec, op->now, &unswept);
    json_decref(rec);
    if (unswept)
        override_sweep_async(v);
    if (s != OVR_ACTIVE) {
        api_reply_error(r, s == OVR_PENDING ? KERR_QUORUM_PENDING : KERR_OVERRIDE_NOT_ACTIVE, NULL);
        goto out;
    }
    /* 503 when the leaf cannot be written: then nothing is released. */
    api_commit_build(r, v, escrow_apply, op, escrow_op_free, API_OK, escrow_build, KERR_UNAVAILABLE);
    return;
out:
    escrow_op_free(op);
}

/* ================================================================ POST /overrides/{o}/wraps */

struct owrap {
    const char *section;
    int64_t epoch;
    unsigned char wrap[KLUIS_WRAP_BYTES];
};

struct wraps_op {
    vault *v;
    json_t *body;
    struct caller c;
    char id[64];
    int64_t now;
    struct owrap *w;
    size_t n;
    char msg[160];
};

static void wraps_op_free(void *arg)
{
    struct wraps_op *op = arg;
    if (!op)
        return;
    if (op->w)
        sodium_memzero(op->w, op->n * sizeof *op->w);
    free(op->w);
    json_decref(op->body);
    free(op);
}

static kerr wraps_apply(store_txn *t, void *arg)
{
    struct wraps_op *op = arg;
    vault *v = op->v;
    json_t *rec = NULL;
    kerr e = override_get(v, t, op->id, &rec);
    if (e != KERR_OK)
        return e;
    enum override_state s = override_state_at(rec, op->now, NULL);
    if (s != OVR_ACTIVE) {
        json_decref(rec);
        return s == OVR_PENDING ? KERR_QUORUM_PENDING : KERR_OVERRIDE_NOT_ACTIVE;
    }
    const char *citizen = json_string_value(json_object_get(rec, "citizen"));
    json_t *items = json_array();
    for (size_t i = 0; e == KERR_OK && i < op->n; i++) {
        if (!override_covers(rec, op->w[i].section)) {
            e = KERR_BAD_REQUEST;
            break;
        }
        struct epoch_record ep;
        e = epoch_get(v, t, citizen, op->w[i].section, (uint64_t)op->w[i].epoch, &ep);
        epoch_record_clear(&ep);
        if (e == KERR_NOT_FOUND)
            e = KERR_BAD_REQUEST;
        if (e == KERR_OK)
            e = override_bwrap_put(v, t, op->id, op->w[i].section, (uint64_t)op->w[i].epoch, op->w[i].wrap);
        json_array_append_new(items, json_pack("{s:s, s:I}", "section", op->w[i].section, "epoch",
                                               (json_int_t)op->w[i].epoch));
    }
    json_decref(rec);
    if (e != KERR_OK) {
        json_decref(items);
        return e;
    }
    json_t *leaf = json_pack("{s:s, s:o}", "override", op->id, "items", items);
    if (!leaf)
        return store_txn_fail(t, KERR_INTERNAL);
    tlog_append(v->log, t, op->now, "override.wraps-uploaded", leaf, NULL);
    json_decref(leaf);
    return t->err;
}

void handle_override_wraps(struct request *r)
{
    vault *v = r->ctx;
    struct wraps_op *op = calloc(1, sizeof *op);
    json_t *wraps = NULL, *rec = NULL;
    if (!op) {
        api_reply_error(r, KERR_INTERNAL, NULL);
        return;
    }
    op->v = v;
    op->now = now_s();
    snprintf(op->id, sizeof op->id, "%s", r->param[0]);
    const struct jspec spec[] = {
        {.name = "wraps", .type = JS_ARRAY, .out = &wraps, .max = MAX_WRAPS},
    };
    if (api_parse_body(r, spec, 1, &op->body) != 0 || api_authenticate(r, &op->c) != 0)
        goto out;
    if (op->c.role != charter_role(v, 0)) {
        api_reply_error(r, KERR_FORBIDDEN, "Only the charter's override authority uploads override wraps.");
        goto out;
    }
    op->n = json_array_size(wraps);
    if (op->n == 0) {
        api_reply_error(r, KERR_BAD_REQUEST, "wraps is empty.");
        goto out;
    }
    if (!(op->w = calloc(op->n, sizeof *op->w))) {
        api_reply_error(r, KERR_INTERNAL, NULL);
        goto out;
    }
    for (size_t i = 0; i < op->n; i++) {
        struct jerr err;
        const struct jspec ws[] = {
            {.name = "section", .type = JS_ID, .out = &op->w[i].section},
            {.name = "epoch", .type = JS_INT, .out = &op->w[i].epoch, .min = 1, .max = INT64_MAX},
            {.name = "wrap", .type = JS_B64, .out = op->w[i].wrap, .len = KLUIS_WRAP_BYTES},
        };
        json_t *item = json_array_get(wraps, i);
        if (!json_is_object(item) || jspec_extract(item, ws, 3, &err) != 0) {
            char msg[96];
            snprintf(msg, sizeof msg, "wraps[%zu] is not {section, epoch, wrap}.", i);
            api_reply_error(r, json_is_object(item) ? err.code : KERR_BAD_REQUEST, msg);
            goto out;
        }
    }
    if (load_rec(r, v, op->id, &rec) != 0)
        goto out;
    int unswept = 0;
    enum override_state s = override_state_at(rec, op->now, &unswept);
    int covered = 1;
    for (size_t i = 0; i < op->n; i++)
        covered &= override_covers(rec, op->w[i].section);
    json_decref(rec);
    if (unswept)
        override_sweep_async(v);
    if (s != OVR_ACTIVE) {
        api_reply_error(r, s == OVR_PENDING ? KERR_QUORUM_PENDING : KERR_OVERRIDE_NOT_ACTIVE, NULL);
        goto out;
    }
    if (!covered) {
        api_reply_error(r, KERR_BAD_REQUEST, "A wrap names a section the override does not cover.");
        goto out;
    }
    json_t *reply = json_pack("{s:s, s:I}", "override", op->id, "wraps", (json_int_t)op->n);
    api_commit_reply(r, v, wraps_apply, op, wraps_op_free, API_OK, reply, KERR_OK);
    return;
out:
    wraps_op_free(op);
}

/* ================================================================ POST /overrides/{o}/close */

struct close_op {
    struct signed_op s;         /* envelope, statement, caller (api/signed.h) */
    char id[64];
};
_Static_assert(offsetof(struct close_op, s) == 0, "signed_op_free() frees it from its signed_op");

static kerr close_apply(store_txn *t, void *arg)
{
    struct close_op *op = arg;
    vault *v = op->s.v;
    json_t *rec = NULL;
    kerr e = override_get(v, t, op->id, &rec);
    if (e != KERR_OK)
        return e;
    if (override_state_at(rec, op->s.now, NULL) == OVR_CLOSED) {
        json_decref(rec);
        return KERR_CONFLICT;
    }
    if (vault_claim_statement_id(v, t, KSTMT_OVERRIDE_CLOSE, op->s.st.id, op->s.now) != KERR_OK) {
        json_decref(rec);
        return t->err;
    }
    journal_event who;
    api_journal_event(&who, &op->s.c, op->s.remote, op->s.now, "override-closed", NULL, NULL, "allowed");
    override_close_txn(v, t, rec, op->s.now, "closed", op->s.c.id, op->s.statement, op->s.signature, &who);
    json_decref(rec);
    return t->err;
}

void handle_override_close(struct request *r)
{
    vault *v = r->ctx;
    struct close_op *op = calloc(1, sizeof *op);
    json_t *rec = NULL;
    if (!op) {
        api_reply_error(r, KERR_INTERNAL, NULL);
        return;
    }
    signed_op_init(&op->s, r, v);
    snprintf(op->id, sizeof op->id, "%s", r->param[0]);
    if (api_parse_envelope(r, OVR_MAX_B64, &op->s.body, &op->s.statement, &op->s.signature) != 0 || api_authenticate(r, &op->s.c) != 0)
        goto out;
    if (op->s.c.role != charter_role(v, 0) && op->s.c.role != KROLE_PROFESSIONAL) {
        api_reply_error(r, KERR_FORBIDDEN, "Only the override authority or the beneficiary closes an override.");
        goto out;
    }
    if (signed_op_verify(&op->s, r, "override-close") != 0)
        goto out;
    if (strcmp(op->s.st.override_id, op->id) != 0) {
        api_reply_error(r, KERR_BAD_STATEMENT, "The statement's override is not the one in the URL.");
        goto out;
    }
    if (load_rec(r, v, op->id, &rec) != 0)
        goto out;
    int unswept = 0;
    enum override_state s = override_state_at(rec, op->s.now, &unswept);
    int is_ben = !strcmp(json_string_value(json_object_get(rec, "beneficiary")), op->s.c.id);
    json_decref(rec);
    if (unswept)
        override_sweep_async(v);
    if (op->s.c.role == KROLE_PROFESSIONAL && !is_ben) {
        api_reply_error(r, KERR_FORBIDDEN, "Only the override authority or the beneficiary closes an override.");
        goto out;
    }
    if (s == OVR_CLOSED) {
        api_reply_error(r, KERR_CONFLICT, "The override is already closed.");
        goto out;
    }
    store_txn t;
    store_txn_begin(v->st, &t, true);
    kerr e = vault_statement_id_used(v, &t, KSTMT_OVERRIDE_CLOSE, op->s.st.id);
    store_txn_abort(&t);
    if (e != KERR_OK) {
        api_reply_error(r, e, NULL);
        goto out;
    }
    json_t *reply = json_pack("{s:s, s:s, s:s}", "id", op->id, "state", "closed", "reason", "closed");
    api_commit_reply(r, v, close_apply, op, signed_op_free, API_OK, reply, KERR_OK);
    return;
out:
    signed_op_free(op);
}
