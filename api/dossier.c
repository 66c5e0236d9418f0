/*
 * api/dossier.c — a dossier and its sections' keys (SPEC §4, §6, §9):
 *   GET    /v1/citizens/{c}/dossier                   (citizen, grantee, beneficiary)
 *   POST   /v1/citizens/{c}/sections/{s}/rotate       (citizen)
 *   DELETE /v1/citizens/{c}/sections/{s}              (citizen: crypto-shred)
 *
 * The overview shows each caller only what is open to them: the citizen every section with the
 * self wrap of every epoch; a grantee each section an active grant covers, with THAT grant's wraps
 * only (never another principal's); a beneficiary the sections of its active override, with the
 * wraps the mayor uploaded for it.
 * Each section's access is decided by api_access_check() — the same rule as a read of its entries.
 * When nothing is open the refusal names the nearest reason over all sections, and the denied
 * attempt is journaled before it is answered; an allowed overview is answered only once its "read"
 * event (section omitted, basis the grants relied on) is durable.
 *
 * Rotation starts epoch current+1 of a section with a citizen-signed epoch statement, the
 * citizen's self wrap and escrow wrap, and a wrap of the new key for every live grant on the
 * section (409 missing_wraps otherwise; a wrap for any other grant is 400). Erasure destroys every
 * entry and every wrap of every epoch of the section (vault/dossier.h section_erase()); the
 * section stays, marked erased, and takes writes again once the citizen rotates to a fresh key.
 */
#include "api/handlers.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/access.h"
#include "api/auth.h"
#include "api/commit.h"
#include "api/events.h"
#include "api/signed.h"
#include "vault/citizen.h"
#include "vault/dossier.h"
#include "vault/encoding.h"
#include "vault/grant.h"
#include "vault/override.h"
#include "vault/replay.h"
#include "vault/statement.h"

#define STMT_B64_MAX (KSTMT_MAX_BYTES / 3 * 4 + 4)
#define MAX_GRANT_WRAPS 1024

/* ---------------------------------------------------------------- GET dossier */

/* The wrap of (SECTION, EPOCH) uploaded for the beneficiary of override OVERRIDE (SPEC §7 step 3). */
static kerr override_wrap_get(vault *v, store_txn *t, const char *override, const char *section, uint64_t epoch,
                              unsigned char wrap[KLUIS_WRAP_BYTES])
{
    return override_bwrap_get(v, t, override, section, epoch, wrap);
}

/* The nearest reason over several sections' refusals: the most specific one wins. */
static int refusal_rank(kerr e)
{
    switch (e) {
    case KERR_GRANT_REVOKED: return 7;
    case KERR_GRANT_EXPIRED: return 6;
    case KERR_GRANT_NOT_YET_VALID: return 5;
    case KERR_SECTION_NOT_GRANTED: return 4;
    case KERR_NO_GRANT: return 3;
    case KERR_PRINCIPAL_INACTIVE: return 2;
    default: return 1;
    }
}

/* One section of the overview: the epochs whose wrap is open to the caller. */
static json_t *section_json(vault *v, store_txn *t, const char *citizen, const struct section_info *si,
                            const struct access_result *acc)
{
    struct epoch_record *ep = NULL;
    size_t ne = 0;
    if (epoch_list(v, t, citizen, si->section, &ep, &ne) != KERR_OK)
        return NULL;
    json_t *epochs = json_array();
    for (size_t k = 0; epochs && k < ne; k++) {
        unsigned char w[KLUIS_WRAP_BYTES];
        kerr e;
        if (acc->basis == BASIS_OWN) {
            memcpy(w, ep[k].self_wrap, sizeof w);
            e = KERR_OK;
        } else if (acc->basis == BASIS_GRANT) {
            e = grant_wrap_get(t, v->tab, citizen, acc->ref, si->section, ep[k].epoch, w);
        } else {
            e = override_wrap_get(v, t, acc->ref, si->section, ep[k].epoch, w);
        }
        if (e == KERR_NOT_FOUND)
            continue; /* no wrap for this caller: the epoch is not open to them */
        char *wb = e == KERR_OK ? b64_encode(w, sizeof w) : NULL;
        json_t *o = wb ? json_pack("{s:I, s:s, s:s, s:s}", "epoch", (json_int_t)ep[k].epoch, "statement",
                                   ep[k].statement, "signature", ep[k].signature, "wrap", wb)
                       : NULL;
        free(wb);
        if (!o || json_array_append_new(epochs, o) != 0) {
            json_decref(epochs);
            epochs = NULL;
        }
    }
    epoch_records_free(ep, ne);
    if (!epochs)
        return NULL;
    return json_pack("{s:s, s:I, s:I, s:o}", "section", si->section, "current_epoch",
                     (json_int_t)si->state.current_epoch, "entries", (json_int_t)si->state.entries, "epochs",
                     epochs);
}

void handle_dossier_get(struct request *r)
{
    vault *v = r->ctx;
    const char *citizen = r->param[0];
    struct caller c;
    if (api_authenticate(r, &c) != 0)
        return;
    int64_t now = (int64_t)time(NULL);
    int own = c.role == KROLE_CITIZEN && strcmp(c.id, citizen) == 0;

    store_txn t;
    struct section_info *si = NULL;
    size_t n = 0;
    store_txn_begin(v->st, &t, true);
    kerr e = section_list(v, &t, citizen, &si, &n);
    store_txn_abort(&t);
    if (e != KERR_OK) {
        api_reply_store_error(r, e);
        return;
    }
    struct access_result *acc = calloc(n ? n : 1, sizeof *acc);
    char *open = calloc(n ? n : 1, 1);
    if (!acc || !open) {
        free(si), free(acc), free(open);
        api_reply_error(r, KERR_INTERNAL, NULL);
        return;
    }
    /* Decide section by section; an unknown citizen is decided like a dossier without grants. */
    size_t n_open = 0;
    int known = 0;
    kerr refusal = KERR_OK;
    char ref[64] = "";
    for (size_t i = 0; i < (n ? n : 1); i++) {
        char r_ref[64];
        int k = 0;
        if (own && n) {
            acc[i].basis = BASIS_OWN;
            snprintf(acc[i].basis_text, sizeof acc[i].basis_text, "own");
            e = KERR_OK;
            k = 1;
        } else {
            e = api_access_check(v, &c, citizen, n ? si[i].section : "dossier", 0, now, &acc[i], &k, r_ref);
        }
        known |= k;
        if (e == KERR_OK && n) {
            open[i] = 1;
            n_open++;
        } else if (e != KERR_OK && kerr_status(e) != 403) {
            free(si), free(acc), free(open);
            api_reply_store_error(r, e);
            return;
        } else if (e != KERR_OK && (refusal == KERR_OK || refusal_rank(e) > refusal_rank(refusal))) {
            refusal = e;
            snprintf(ref, sizeof ref, "%s", r_ref);
        }
    }
    struct access_expired expired = {0}; /* met by any of the decisions: moved after the event */
    for (size_t i = 0; i < (n ? n : 1); i++)
        api_expired_merge(&expired, &acc[i].expired);
    if (n_open == 0) {
        free(si), free(acc), free(open);
        if (refusal == KERR_OK)
            refusal = KERR_FORBIDDEN;
        if (!known) {
            api_reply_error(r, refusal, NULL);
            return;
        }
        char result[96];
        snprintf(result, sizeof result, "denied:%s", kerr_code(refusal));
        struct event_op *op = event_op_new(v, &c, r->remote, citizen, "read", NULL, ref, result, now, 0);
        if (!op) {
            api_reply_error(r, KERR_INTERNAL, NULL);
            return;
        }
        event_op_expired(op, &expired);
        api_commit_error(r, v, event_apply, op, free, refusal, NULL, KERR_JOURNAL_UNAVAILABLE);
        return;
    }

    /* The answer, on one snapshot; the basis of the event names every grant relied on. */
    json_t *sections = json_array();
    char basis[1024] = "";
    size_t n_bases = 0;
    struct citizen cz;
    store_txn_begin(v->st, &t, true);
    kerr ce = citizen_get(v, &t, citizen, &cz); /* some section is open: the citizen is enrolled */
    if (ce != KERR_OK)
        store_txn_fail(&t, ce == KERR_NOT_FOUND ? KERR_INTERNAL : ce);
    for (size_t i = 0; sections && i < n; i++) {
        if (!open[i])
            continue;
        json_t *sj = section_json(v, &t, citizen, &si[i], &acc[i]);
        if (!sj || json_array_append_new(sections, sj) != 0) {
            json_decref(sections);
            sections = NULL;
            break;
        }
        int seen = 0;
        for (size_t j = 0; j < i; j++)
            seen |= open[j] && !strcmp(acc[j].basis_text, acc[i].basis_text);
        if (!seen) {
            size_t used = strlen(basis);
            snprintf(basis + used, sizeof basis - used, "%s%s", used ? "," : "", acc[i].basis_text);
            n_bases += acc[i].basis != BASIS_OWN;
        }
    }
    e = t.err;
    store_txn_abort(&t);
    if (!sections || e != KERR_OK) {
        json_decref(sections);
        free(si), free(acc), free(open);
        if (e != KERR_OK)
            api_reply_store_error(r, e);
        else
            api_reply_error(r, KERR_INTERNAL, NULL);
        return;
    }
    /* The citizen's signing key, so that a grantee's client can verify the epoch statements (and
     * pin the key); an addition to SPEC's overview, see docs/protocol.md. */
    char *spk = b64_encode(cz.sign_pk, sizeof cz.sign_pk);
    json_t *reply = spk ? json_pack("{s:s, s:s, s:o}", "citizen", citizen, "sign_pk", spk, "sections", sections)
                        : (json_decref(sections), NULL);
    free(spk);
    struct event_op *op = event_op_new(v, &c, r->remote, citizen, "read", NULL, basis, "allowed", now, n_bases);
    if (!op) {
        json_decref(reply);
        free(si), free(acc), free(open);
        api_reply_error(r, KERR_INTERNAL, NULL);
        return;
    }
    event_op_expired(op, &expired);
    size_t g = 0;
    for (size_t i = 0; i < n; i++) {
        if (!open[i] || acc[i].basis == BASIS_OWN)
            continue;
        int seen = 0;
        for (size_t j = 0; j < i; j++)
            seen |= open[j] && acc[j].basis == acc[i].basis && !strcmp(acc[j].ref, acc[i].ref);
        if (!seen)
            event_op_rely(op, g++, &acc[i]);
    }
    free(si), free(acc), free(open);
    api_commit_reply(r, v, event_apply, op, free, API_OK, reply, KERR_JOURNAL_UNAVAILABLE);
}

/* ---------------------------------------------------------------- POST rotate */

struct gwrap {
    const char *grant;          /* borrowed from the body */
    unsigned char wrap[KLUIS_WRAP_BYTES];
    int used;
};

struct rotate_op {
    struct signed_op s;         /* envelope, statement, caller (api/signed.h) */
    int64_t epoch;
    unsigned char self_wrap[KLUIS_WRAP_BYTES];
    unsigned char escrow_wrap[KLUIS_ESCROW_BYTES];
    struct gwrap *wraps;
    size_t n_wraps;
    char citizen[64], section[64];
    struct event_op *ev;
};

static void rotate_op_free(void *arg)
{
    struct rotate_op *op = arg;
    if (!op)
        return;
    signed_op_release(&op->s);
    free(op->wraps);
    free(op->ev);
    free(op);
}

/*
 * The checks that depend on state, in T: the section exists; EPOCH is current + 1 (409
 * stale_epoch when another rotation got there first, 409 conflict for a gap); a wrap for every
 * live grant on the section (409 missing_wraps). Wraps for other grants: 400 when STRICT (the
 * handler's check), skipped otherwise (at commit time a grant may just have been revoked or
 * expired: its wrap is then simply not stored). Marks the wraps to store as used.
 */
static kerr rotate_check(struct rotate_op *op, store_txn *t, int strict, struct section_state *s, char *msg,
                         size_t msglen)
{
    kerr e = section_get(op->s.v, t, op->citizen, op->section, s);
    if (e == KERR_NOT_FOUND) {
        snprintf(msg, msglen, "The dossier has no such section.");
        return e;
    }
    if (e != KERR_OK)
        return e;
    if ((uint64_t)op->epoch <= s->current_epoch) {
        snprintf(msg, msglen, "The section is at epoch %llu already; rotate to %llu.",
                 (unsigned long long)s->current_epoch, (unsigned long long)s->current_epoch + 1);
        return KERR_STALE_EPOCH;
    }
    if ((uint64_t)op->epoch != s->current_epoch + 1) {
        snprintf(msg, msglen, "The next epoch of the section is %llu.", (unsigned long long)s->current_epoch + 1);
        return KERR_CONFLICT;
    }
    struct grant_rec *g = NULL;
    size_t ng = 0;
    if ((e = grant_list_live_covering(t, op->s.v->tab, op->citizen, op->section, op->s.now, &g, &ng)) != KERR_OK)
        return e;
    for (size_t w = 0; w < op->n_wraps; w++)
        op->wraps[w].used = 0;
    for (size_t i = 0; i < ng && e == KERR_OK; i++) {
        size_t w;
        for (w = 0; w < op->n_wraps; w++)
            if (!strcmp(op->wraps[w].grant, g[i].id))
                break;
        if (w == op->n_wraps) {
            snprintf(msg, msglen, "No wrap for live grant %s.", g[i].id);
            e = KERR_MISSING_WRAPS;
        } else {
            op->wraps[w].used = 1;
        }
    }
    grant_recs_free(g, ng);
    for (size_t w = 0; strict && e == KERR_OK && w < op->n_wraps; w++) {
        if (!op->wraps[w].used) {
            snprintf(msg, msglen, "grant_wraps[%zu] names no live grant on this section.", w);
            e = KERR_BAD_REQUEST;
        }
    }
    return e;
}

static kerr rotate_apply(store_txn *t, void *arg)
{
    struct rotate_op *op = arg;
    vault *v = op->s.v;
    struct section_state s;
    char msg[160];
    kerr e = rotate_check(op, t, 0, &s, msg, sizeof msg);
    if (e != KERR_OK)
        return e;
    if (vault_claim_statement_id(v, t, KSTMT_EPOCH, op->s.st.id, op->s.now) != KERR_OK)
        return t->err;
    struct epoch_record rec = {.epoch = (uint64_t)op->epoch, .statement = (char *)op->s.statement,
                               .signature = (char *)op->s.signature, .created = op->s.now};
    memcpy(rec.self_wrap, op->self_wrap, sizeof rec.self_wrap);
    memcpy(rec.escrow_wrap, op->escrow_wrap, sizeof rec.escrow_wrap);
    if (epoch_put(v, t, op->citizen, op->section, &rec) != KERR_OK)
        return t->err;
    for (size_t w = 0; w < op->n_wraps; w++)
        if (op->wraps[w].used && grant_wrap_put(t, v->tab, op->citizen, op->wraps[w].grant, op->section,
                                                (uint64_t)op->epoch, op->wraps[w].wrap) != KERR_OK)
            return t->err;
    s.current_epoch = (uint64_t)op->epoch;
    s.erased = 0;
    if (section_put(v, t, op->citizen, op->section, &s) != KERR_OK)
        return t->err;
    return event_append(t, op->ev);
}

static int parse_grant_wraps(struct request *r, json_t *arr, struct rotate_op *op)
{
    size_t n = json_array_size(arr);
    op->wraps = n ? calloc(n, sizeof *op->wraps) : NULL;
    if (n && !op->wraps) {
        api_reply_error(r, KERR_INTERNAL, NULL);
        return -1;
    }
    op->n_wraps = n;
    for (size_t i = 0; i < n; i++) {
        struct gwrap *w = &op->wraps[i];
        struct jerr err;
        const struct jspec spec[] = {
            {.name = "grant", .type = JS_ID, .out = &w->grant},
            {.name = "wrap", .type = JS_B64, .out = w->wrap, .len = KLUIS_WRAP_BYTES},
        };
        json_t *item = json_array_get(arr, i);
        char msg[sizeof err.msg + sizeof err.field + 48];
        if (!json_is_object(item)) {
            snprintf(msg, sizeof msg, "grant_wraps[%zu] must be an object.", i);
            api_reply_error(r, KERR_BAD_REQUEST, msg);
            return -1;
        }
        if (jspec_extract(item, spec, sizeof spec / sizeof spec[0], &err) != 0) {
            snprintf(msg, sizeof msg, "grant_wraps[%zu].%s: %s", i, err.field, err.msg);
            api_reply_error(r, err.code, msg);
            return -1;
        }
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(op->wraps[j].grant, w->grant)) {
                snprintf(msg, sizeof msg, "grant_wraps[%zu] repeats a grant.", i);
                api_reply_error(r, KERR_BAD_REQUEST, msg);
                return -1;
            }
        }
    }
    return 0;
}

void handle_section_rotate(struct request *r)
{
    vault *v = r->ctx;
    const char *citizen = r->param[0], *section = r->param[1];
    struct rotate_op *op = calloc(1, sizeof *op);
    json_t *gw = NULL;
    if (!op) {
        api_reply_error(r, KERR_INTERNAL, NULL);
        return;
    }
    signed_op_init(&op->s, r, v);
    snprintf(op->citizen, sizeof op->citizen, "%s", citizen);
    snprintf(op->section, sizeof op->section, "%s", section);
    const struct jspec spec[] = {
        {.name = "epoch", .type = JS_INT, .out = &op->epoch, .min = 1, .max = INT64_MAX},
        {.name = "statement", .type = JS_STRING, .out = &op->s.statement, .len = STMT_B64_MAX},
        {.name = "signature", .type = JS_STRING, .out = &op->s.signature, .len = API_SIG_B64_MAX},
        {.name = "self_wrap", .type = JS_B64, .out = op->self_wrap, .len = KLUIS_WRAP_BYTES},
        {.name = "escrow_wrap", .type = JS_B64, .out = op->escrow_wrap, .len = KLUIS_ESCROW_BYTES},
        {.name = "grant_wraps", .type = JS_ARRAY, .out = &gw, .max = MAX_GRANT_WRAPS},
    };
    if (api_parse_body(r, spec, sizeof spec / sizeof spec[0], &op->s.body) != 0 || parse_grant_wraps(r, gw, op) != 0 ||
        api_authenticate(r, &op->s.c) != 0 || api_require_owner(r, &op->s.c, citizen) != 0)
        goto out;
    if (signed_op_verify(&op->s, r, "epoch") != 0)
        goto out;
    if (strcmp(op->s.st.citizen, citizen) != 0 || strcmp(op->s.st.section, section) != 0 || op->s.st.epoch != op->epoch) {
        api_reply_error(r, KERR_BAD_STATEMENT,
                        "The statement's citizen, section or epoch is not the one of the URL and body.");
        goto out;
    }
    if (!(op->ev = event_op_new(v, &op->s.c, op->s.remote, citizen, "rotate", section, "own", "allowed", op->s.now, 0))) {
        api_reply_error(r, KERR_INTERNAL, NULL);
        goto out;
    }
    store_txn t;
    struct section_state s;
    char msg[160] = "";
    store_txn_begin(v->st, &t, true);
    kerr e = rotate_check(op, &t, 1, &s, msg, sizeof msg);
    if (e == KERR_OK)
        e = vault_statement_id_used(v, &t, KSTMT_EPOCH, op->s.st.id);
    store_txn_abort(&t);
    if (e != KERR_OK) {
        int st = kerr_status(e);
        if (st == 400 || st == 404 || st == 409)
            api_reply_error(r, e, msg[0] ? msg : NULL);
        else
            api_reply_store_error(r, e);
        goto out;
    }
    json_t *reply = json_pack("{s:s, s:I}", "section", section, "epoch", (json_int_t)op->epoch);
    api_commit_reply(r, v, rotate_apply, op, rotate_op_free, API_OK, reply, KERR_OK);
    return;
out:
    rotate_op_free(op);
}

/* ---------------------------------------------------------------- DELETE section */

struct erase_op {
    vault *v;
    char citizen[64], section[64];
    struct event_op *ev;
    json_t *reply;              /* borrowed; counts set by the apply */
};

static void erase_op_free(void *arg)
{
    struct erase_op *op = arg;
    if (op)
        free(op->ev);
    free(op);
}

static kerr erase_apply(store_txn *t, void *arg)
{
    struct erase_op *op = arg;
    size_t ne = 0, nep = 0, nw = 0;
    kerr e = section_erase(op->v, t, op->citizen, op->section, &ne, &nep, &nw);
    if (e != KERR_OK)
        return e;
    if (event_append(t, op->ev) != KERR_OK)
        return t->err;
    json_t *counts = json_pack("{s:I, s:I, s:I}", "entries", (json_int_t)ne, "epochs", (json_int_t)nep, "wraps",
                               (json_int_t)nep * 2 + (json_int_t)nw);
    if (!counts || json_object_set_new(op->reply, "destroyed", counts) != 0)
        return store_txn_fail(t, KERR_INTERNAL);
    return KERR_OK;
}

void handle_section_erase(struct request *r)
{
    vault *v = r->ctx;
    const char *citizen = r->param[0], *section = r->param[1];
    struct caller c;
    if (r->body_len != 0) {
        api_reply_error(r, KERR_BAD_REQUEST, "DELETE takes no body.");
        return;
    }
    if (api_authenticate(r, &c) != 0 || api_require_owner(r, &c, citizen) != 0)
        return;
    store_txn t;
    struct section_state s;
    store_txn_begin(v->st, &t, true);
    kerr e = section_get(v, &t, citizen, section, &s);
    store_txn_abort(&t);
    if (e != KERR_OK) {
        if (e == KERR_NOT_FOUND)
            api_reply_error(r, e, "The dossier has no such section.");
        else
            api_reply_store_error(r, e);
        return;
    }
    struct erase_op *op = calloc(1, sizeof *op);
    json_t *reply = json_pack("{s:s, s:b}", "section", section, "erased", 1);
    if (!op || !reply ||
        !(op->ev = event_op_new(v, &c, r->remote, citizen, "erase", section, "own", "allowed", (int64_t)time(NULL), 0))) {
        erase_op_free(op);
        json_decref(reply);
        api_reply_error(r, KERR_INTERNAL, NULL);
        return;
    }
    op->v = v;
    snprintf(op->citizen, sizeof op->citizen, "%s", citizen);
    snprintf(op->section, sizeof op->section, "%s", section);
    op->reply = reply;
    api_commit_reply(r, v, erase_apply, op, erase_op_free, API_OK, reply, KERR_OK);
}
