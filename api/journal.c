/*
 * api/journal.c — what the citizen sees of their own dossier (SPEC §6, §9):
 *   GET /v1/citizens/{c}/journal?after=&limit=   the journal, with `raw` per event and the head
 *   GET /v1/citizens/{c}/export                  everything the vault holds for the dossier
 *
 * Both are the citizen's only (403 forbidden for everyone else, existence not disclosed). Reading
 * the journal is not itself journaled (it would move the head the citizen is verifying); an export
 * is, as "export", durably before the answer. Each answer is built on one read snapshot, so the
 * head matches the events served and an export is one consistent state.
 */
#include "api/handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/access.h"
#include "api/auth.h"
#include "api/events.h"
#include "api/commit.h"
#include "vault/citizen.h"
#include "vault/dossier.h"
#include "vault/encoding.h"
#include "vault/grant.h"
#include "vault/journal.h"

/** Page size of GET .../journal: default and maximum (docs/protocol.md). */
#define JOURNAL_PAGE_DEFAULT 1000u
#define JOURNAL_PAGE_MAX 1000u

/* b64 of N bytes as a new JSON string (NULL on failure). */
static json_t *b64_json(const unsigned char *p, size_t n)
{
    char *s = b64_encode(p, n);
    json_t *j = s ? json_string(s) : NULL;
    free(s);
    return j;
}

/* One journal event as served: its own fields, then "raw" = b64 of the exact bytes. */
static json_t *event_json(const journal_entry *e)
{
    json_t *o = json_loadb((const char *)e->raw, e->raw_len, 0, NULL);
    if (!json_is_object(o) || json_object_set_new(o, "raw", b64_json(e->raw, e->raw_len)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The events of E as a JSON array (NULL on failure). */
static json_t *events_json(const journal_entry *e, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        if (json_array_append_new(a, event_json(&e[i])) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    return a;
}

void handle_journal_get(struct request *r)
{
    vault *v = r->ctx;
    const char *citizen = r->param[0];
    uint64_t after = 0, limit = JOURNAL_PAGE_DEFAULT;
    struct caller c;
    if (api_query_u64(r, "after", 0, INT64_MAX, &after) < 0 ||
        api_query_u64(r, "limit", 0, JOURNAL_PAGE_MAX, &limit) < 0)
        return;
    if (limit == 0) {
        api_reply_error(r, KERR_BAD_REQUEST, "limit must be 1 to 1000.");
        return;
    }
    if (api_authenticate(r, &c) != 0 || api_require_owner(r, &c, citizen) != 0)
        return;
    store_txn t;
    journal_pos pos;
    journal_entry *e = NULL;
    size_t n = 0;
    kerr err = journal_read_begin(v->journal, citizen, &t, &pos);
    if (err == KERR_OK)
        err = journal_list(v->journal, &t, &pos, after, (size_t)limit, &e, &n);
    store_txn_abort(&t);
    if (err != KERR_OK) {
        api_reply_store_error(r, err);
        return;
    }
    json_t *events = events_json(e, n);
    int more = n > 0 && e[n - 1].seq < pos.count;
    json_t *next = more ? json_integer((json_int_t)e[n - 1].seq) : json_null();
    journal_entries_free(e, n);
    api_reply_json(r, API_OK,
                   events ? json_pack("{s:o, s:o, s:I, s:o}", "events", events, "head",
                                      b64_json(pos.head, sizeof pos.head), "count", (json_int_t)pos.count, "next", next)
                          : (json_decref(next), NULL));
}

/* ---------------------------------------------------------------- export */

static json_t *ids_json(const char *const *ids, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_string(ids[i])) != 0) {
            json_decref(a);
            a = NULL;
        }
    return a;
}

/* Set KEY to VAL (taken) on O; a NULL VAL fails. */
static int set(json_t *o, const char *key, json_t *val)
{
    return val ? json_object_set_new(o, key, val) : -1;
}

static json_t *export_section(vault *v, store_txn *t, const char *citizen, const struct section_info *si)
{
    struct epoch_record *ep = NULL;
    size_t ne = 0;
    json_t *epochs = json_array(), *entries = json_array();
    int bad = !epochs || !entries || epoch_list(v, t, citizen, si->section, &ep, &ne) != KERR_OK;
    for (size_t k = 0; !bad && k < ne; k++) {
        json_t *o = json_pack("{s:I, s:s, s:s, s:I}", "epoch", (json_int_t)ep[k].epoch, "statement", ep[k].statement,
                              "signature", ep[k].signature, "created", (json_int_t)ep[k].created);
        bad = !o || set(o, "self_wrap", b64_json(ep[k].self_wrap, sizeof ep[k].self_wrap)) ||
              set(o, "escrow_wrap", b64_json(ep[k].escrow_wrap, sizeof ep[k].escrow_wrap)) ||
              json_array_append_new(epochs, o);
    }
    epoch_records_free(ep, ne);
    uint64_t after = 0;
    for (int more = 1; !bad && more;) {
        struct entry_rec *e = NULL;
        size_t n = 0;
        more = 0;
        if (entry_list(v, t, citizen, si->section, after, 1000, &e, &n, &more) != KERR_OK) {
            bad = 1;
            break;
        }
        for (size_t i = 0; !bad && i < n; i++) {
            json_t *o = json_object();
            bad = !o || set(o, "seq", json_integer((json_int_t)e[i].seq)) ||
                  set(o, "id", json_stringn_nocheck(e[i].id, e[i].id_len)) ||
                  set(o, "author", json_stringn_nocheck(e[i].author, e[i].author_len)) ||
                  set(o, "epoch", json_integer((json_int_t)e[i].epoch)) ||
                  set(o, "created", json_integer((json_int_t)e[i].created)) ||
                  set(o, "statement", json_stringn_nocheck(e[i].statement, e[i].statement_len)) ||
                  set(o, "signature", json_stringn_nocheck(e[i].signature, e[i].signature_len)) ||
                  set(o, "blob", json_stringn_nocheck(e[i].blob, e[i].blob_len)) || json_array_append_new(entries, o);
        }
        if (n)
            after = e[n - 1].seq;
        entry_recs_free(e, n);
    }
    if (bad) {
        json_decref(epochs);
        json_decref(entries);
        return NULL;
    }
    return json_pack("{s:s, s:I, s:I, s:I, s:b, s:o, s:o}", "section", si->section, "current_epoch",
                     (json_int_t)si->state.current_epoch, "next_seq", (json_int_t)si->state.next_seq, "entry_count",
                     (json_int_t)si->state.entries, "erased", si->state.erased, "epochs", epochs, "entries", entries);
}

/* A grant with its statements and every wrap the vault still holds for it. */
static json_t *export_grant(vault *v, store_txn *t, const struct grant_rec *g, int64_t now)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:s, s:I, s:I, s:s, s:I, s:s, s:s}", "id", g->id, "grantee",
                          g->grantee, "purpose", g->purpose, "sections", ids_json(g->sections, g->n_sections),
                          "access", g->write ? "write" : "read", "not_before", (json_int_t)g->not_before, "expires",
                          (json_int_t)g->expires, "state", policy_grant_state_name(grant_state_at(g, now)),
                          "created", (json_int_t)g->created, "statement", g->statement, "signature", g->signature);
    json_t *wraps = json_array();
    int bad = !o || !wraps;
    if (!bad && g->request)
        bad = set(o, "request", json_string(g->request));
    if (!bad && g->note)
        bad = set(o, "note", json_string(g->note));
    if (!bad && g->revoked)
        bad = set(o, "revoked", json_integer((json_int_t)g->revoked_at)) ||
              set(o, "revoke_statement", json_string(g->revoke_statement)) ||
              set(o, "revoke_signature", json_string(g->revoke_signature));
    for (size_t s = 0; !bad && s < g->n_sections; s++) {
        struct section_state st;
        kerr e = section_get(v, t, g->citizen, g->sections[s], &st);
        if (e == KERR_NOT_FOUND)
            continue;
        bad = e != KERR_OK;
        for (uint64_t ep = 1; !bad && ep <= st.current_epoch; ep++) {
            unsigned char w[KLUIS_WRAP_BYTES];
            e = grant_wrap_get(t, v->tab, g->citizen, g->id, g->sections[s], ep, w);
            if (e == KERR_NOT_FOUND)
                continue;
            json_t *wo = e == KERR_OK ? json_pack("{s:s, s:I}", "section", g->sections[s], "epoch", (json_int_t)ep)
                                      : NULL;
            bad = !wo || set(wo, "wrap", b64_json(w, sizeof w)) || json_array_append_new(wraps, wo);
        }
    }
    if (bad || set(o, "wraps", wraps)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *export_request(const struct grant_request *q)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:s, s:I, s:s, s:I, s:s, s:s}", "id", q->id, "requester",
                          q->requester, "purpose", q->purpose, "sections", ids_json(q->sections, q->n_sections),
                          "access", q->write ? "write" : "read", "days", (json_int_t)q->days, "state",
                          grant_request_state_name(q->state), "created", (json_int_t)q->created, "statement",
                          q->statement, "signature", q->signature);
    if (o && ((q->note && set(o, "note", json_string(q->note))) ||
              (q->state != GREQ_OPEN && set(o, "closed", json_integer((json_int_t)q->closed))) ||
              (q->answered_by && set(o, "answered_by", json_string(q->answered_by))))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Everything, on snapshot T; the journal ends at POS (journal_read_begin). */
static json_t *export_json(vault *v, store_txn *t, const journal_pos *pos, const char *citizen, int64_t now)
{
    struct citizen cz;
    struct section_info *si = NULL;
    struct grant_rec *g = NULL;
    struct grant_request *q = NULL;
    journal_entry *je = NULL;
    size_t ns = 0, ng = 0, nq = 0, nj = 0;
    json_t *out = NULL, *sections = json_array(), *grants = json_array(), *requests = json_array(), *events = NULL;

    if (citizen_get(v, t, citizen, &cz) != KERR_OK || section_list(v, t, citizen, &si, &ns) != KERR_OK ||
        grant_list_citizen(t, v->tab, citizen, &g, &ng) != KERR_OK ||
        grant_request_list_all(t, v->tab, citizen, &q, &nq) != KERR_OK ||
        journal_list(v->journal, t, pos, 0, SIZE_MAX, &je, &nj) != KERR_OK || !sections || !grants || !requests)
        goto done;
    int bad = 0;
    for (size_t i = 0; !bad && i < ns; i++)
        bad = json_array_append_new(sections, export_section(v, t, citizen, &si[i])) != 0;
    for (size_t i = 0; !bad && i < ng; i++)
        bad = json_array_append_new(grants, export_grant(v, t, &g[i], now)) != 0;
    for (size_t i = 0; !bad && i < nq; i++)
        bad = json_array_append_new(requests, export_request(&q[i])) != 0;
    if (bad || !(events = events_json(je, nj)))
        goto done;
    json_t *who = json_pack("{s:s, s:s, s:I, s:b}", "id", cz.id, "display_name", cz.display_name, "created",
                            (json_int_t)cz.created, "enrolled", cz.enrolled);
    if (!who || set(who, "sign_pk", b64_json(cz.sign_pk, sizeof cz.sign_pk)) ||
        set(who, "box_pk", b64_json(cz.box_pk, sizeof cz.box_pk))) {
        json_decref(who);
        goto done;
    }
    json_t *jn = json_pack("{s:o, s:I}", "events", events, "count", (json_int_t)pos->count);
    events = NULL;
    if (!jn || set(jn, "head", b64_json(pos->head, sizeof pos->head))) {
        json_decref(jn);
        goto done;
    }
    out = json_pack("{s:i, s:I, s:o, s:O, s:O, s:O, s:o}", "kluis_export", 1, "exported", (json_int_t)now,
                    "citizen", who, "sections", sections, "grants", grants, "requests", requests, "journal", jn);
done:
    json_decref(sections);
    json_decref(grants);
    json_decref(requests);
    json_decref(events);
    free(si);
    grant_recs_free(g, ng);
    grant_requests_free(q, nq);
    journal_entries_free(je, nj);
    return out;
}

void handle_export(struct request *r)
{
    vault *v = r->ctx;
    const char *citizen = r->param[0];
    struct caller c;
    if (api_authenticate(r, &c) != 0 || api_require_owner(r, &c, citizen) != 0)
        return;
    int64_t now = (int64_t)time(NULL);
    store_txn t;
    journal_pos pos;
    json_t *reply = NULL;
    if (journal_read_begin(v->journal, citizen, &t, &pos) == KERR_OK)
        reply = export_json(v, &t, &pos, citizen, now);
    kerr e = t.err;
    store_txn_abort(&t);
    if (!reply) {
        if (e != KERR_OK)
            api_reply_store_error(r, e);
        else
            api_reply_error(r, KERR_INTERNAL, NULL);
        return;
    }
    struct event_op *op = event_op_new(v, &c, r->remote, citizen, "export", NULL, "own", "allowed", now, 0);
    if (!op) {
        json_decref(reply);
        api_reply_error(r, KERR_INTERNAL, NULL);
        return;
    }
    api_commit_reply(r, v, event_apply, op, free, API_OK, reply, KERR_JOURNAL_UNAVAILABLE);
}
