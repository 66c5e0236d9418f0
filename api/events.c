/*
 * api/events.c — journal events of audited dossier actions, with the commit-time re-check of the
 * grants and overrides a read relied on (see events.h). One allocation per op: the fixed fields,
 * then the basis text, then the relied-on bases.
 */
#include "api/events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/access.h"
#include "vault/str.h"
#include "vault/grant.h"
#include "vault/journal.h"
#include "vault/override.h"

struct rely {
    enum policy_basis basis; /* BASIS_GRANT or BASIS_OVERRIDE; anything else: not set */
    char ref[64];
    int64_t not_before;      /* BASIS_GRANT: the validity the decision read at snapshot SNAP */
    int64_t expires;
    uint64_t snap;           /* 0: no snapshot, always read the grant again */
};

struct event_op {
    vault *v;
    char citizen[64];
    char section[64];      /* "" : omitted */
    char actor[64];
    char organisation[201];
    char remote[48];
    char action[16];
    char result[96];
    const char *role;      /* static */
    int64_t now;
    struct access_expired expired; /* moved out of the grants in force after the event */
    size_t n_bases;
    struct rely *bases;    /* n_bases, inside this allocation */
    char basis[];          /* NUL-terminated */
};

struct event_op *event_op_new(vault *v, const struct caller *c, const char *remote, const char *citizen,
                              const char *action, const char *section, const char *basis, const char *result,
                              int64_t now, size_t n_bases)
{
    size_t blen = strlen(basis) + 1;
    size_t al = _Alignof(struct rely);
    size_t pad = (al - (sizeof(struct event_op) + blen) % al) % al;
    struct event_op *op = calloc(1, sizeof *op + blen + pad + n_bases * sizeof(struct rely));
    if (!op)
        return NULL;
    op->v = v;
    str_copy(op->citizen, sizeof op->citizen, citizen);
    str_copy(op->section, sizeof op->section, section ? section : "");
    str_copy(op->actor, sizeof op->actor, c->id);
    str_copy(op->organisation, sizeof op->organisation, c->organisation);
    str_copy(op->remote, sizeof op->remote, remote);
    str_copy(op->action, sizeof op->action, action);
    str_copy(op->result, sizeof op->result, result);
    op->role = krole_name(c->role);
    op->now = now;
    memcpy(op->basis, basis, blen);
    op->n_bases = n_bases;
    op->bases = (struct rely *)(void *)(op->basis + blen + pad);
    return op;
}

void event_op_rely(struct event_op *op, size_t i, const struct access_result *acc)
{
    if (i < op->n_bases && (acc->basis == BASIS_GRANT || acc->basis == BASIS_OVERRIDE)) {
        struct rely *b = &op->bases[i];
        b->basis = acc->basis;
        str_copy(b->ref, sizeof b->ref, acc->ref);
        if (acc->basis == BASIS_GRANT) {
            b->not_before = acc->not_before;
            b->expires = acc->expires;
            b->snap = acc->snapshot;
        }
    }
}

void event_op_expired(struct event_op *op, const struct access_expired *x)
{
    api_expired_merge(&op->expired, x);
}

/* event_grant_active() from the record, for GRANTEE's grant only when GRANTEE is set. */
static kerr record_active(vault *v, store_txn *t, const char *grantee, const char *citizen, const char *grant,
                          const char *section, int want_write, int64_t now)
{
    struct grant_rec g;
    kerr e = grant_get(t, v->tab, citizen, grant, &g);
    if (e == KERR_NOT_FOUND)
        return KERR_GRANT_REVOKED;
    if (e != KERR_OK)
        return e;
    e = grantee && strcmp(g.grantee, grantee) != 0 ? KERR_GRANT_REVOKED /* not GRANTEE's */
                                                   : policy_grant_state_code(grant_state_at(&g, now));
    if (e == KERR_OK && section && !grant_covers(&g, section))
        e = KERR_SECTION_NOT_GRANTED;
    if (e == KERR_OK && want_write && !g.write)
        e = KERR_WRITE_NOT_ALLOWED;
    grant_rec_free(&g);
    return e;
}

kerr event_grant_active(vault *v, store_txn *t, const char *citizen, const char *grant, const char *section,
                        int want_write, int64_t now)
{
    return record_active(v, t, NULL, citizen, grant, section, want_write, now);
}

kerr event_grant_active_for(vault *v, store_txn *t, const char *grantee, const char *citizen, const char *grant,
                            const char *section, int want_write, int64_t now)
{
    struct grant_views gv;
    kerr e = grant_view_get(t, v->tab, grantee, citizen, grant, &gv);
    if (e == KERR_NOT_FOUND) /* ended: revoked, or expired and moved out (grant_end_expired) */
        return record_active(v, t, grantee, citizen, grant, section, want_write, now);
    if (e != KERR_OK) {
        grant_views_free(&gv);
        return e;
    }
    const struct policy_grant *g = &gv.v[0];
    e = policy_grant_state_code(policy_grant_state(g, now));
    int covers = !section;
    for (size_t i = 0; !covers && i < g->n_sections; i++)
        covers = strcmp(g->sections[i], section) == 0;
    if (e == KERR_OK && !covers)
        e = KERR_SECTION_NOT_GRANTED;
    if (e == KERR_OK && want_write && !g->write)
        e = KERR_WRITE_NOT_ALLOWED;
    grant_views_free(&gv);
    return e;
}

kerr event_override_active(vault *v, store_txn *t, const char *citizen, const char *beneficiary,
                           const char *override, const char *section, int64_t now)
{
    json_t *rec = NULL;
    kerr e = override_get(v, t, override, &rec);
    if (e == KERR_NOT_FOUND)
        return KERR_OVERRIDE_NOT_ACTIVE;
    if (e != KERR_OK)
        return e;
    const char *cz = json_string_value(json_object_get(rec, "citizen"));
    const char *bf = json_string_value(json_object_get(rec, "beneficiary"));
    if (override_state_at(rec, now, NULL) != OVR_ACTIVE || !cz || strcmp(cz, citizen) != 0 || !bf ||
        strcmp(bf, beneficiary) != 0 || (section && !override_covers(rec, section)))
        e = KERR_OVERRIDE_NOT_ACTIVE;
    json_decref(rec);
    return e;
}

kerr event_append(store_txn *t, const struct event_op *op)
{
    journal_event ev = {
        .time = op->now, .actor = op->actor, .actor_role = op->role, .organisation = op->organisation,
        .action = op->action, .section = op->section[0] ? op->section : NULL, .basis = op->basis,
        .result = op->result, .remote = op->remote,
    };
    return journal_append(op->v->journal, t, op->citizen, &ev, NULL, NULL);
}

/* Whether no grant was written (created, revoked or rewritten) since snapshot SNAP: the grant index and
 * the grant records a re-check reads are then as the decision read them. */
static bool unchanged_since(vault *v, uint64_t snap)
{
    return store_unchanged_since(v->st, v->tab[VT_GRANTS_BY_GRANTEE], snap) &&
           store_unchanged_since(v->st, v->tab[VT_GRANTS], snap);
}

kerr event_apply(store_txn *t, void *arg)
{
    struct event_op *op = arg;
    /* The commit's own time: a grant or override that ran out since the decision counts too. */
    int64_t at = (int64_t)time(NULL);
    if (at < op->now)
        at = op->now;
    const char *section = op->section[0] ? op->section : NULL;
    for (size_t i = 0; i < op->n_bases; i++) {
        const struct rely *b = &op->bases[i];
        kerr e = KERR_OK;
        if (b->basis == BASIS_GRANT && unchanged_since(op->v, b->snap)) {
            /* what the decision read is what a read now would find: only the clock moved */
            struct policy_grant g = {.id = b->ref, .not_before = b->not_before, .expires = b->expires};
            e = policy_grant_state_code(policy_grant_state(&g, at));
        } else if (b->basis == BASIS_GRANT) {
            e = event_grant_active_for(op->v, t, op->actor, op->citizen, b->ref, NULL, 0, at);
        } else if (b->basis == BASIS_OVERRIDE) {
            e = event_override_active(op->v, t, op->citizen, op->actor, b->ref, section, at);
        }
        if (e != KERR_OK)
            return e;
    }
    /* gc_submit_async_flat()'s contract holds: after the first write, every failure is T's */
    if (event_append(t, op) != KERR_OK)
        return t->err;
    return api_end_expired(op->v, t, op->actor, op->citizen, &op->expired, op->now);
}
