/*
 * api/access.c — the access glue of dossier reads and writes (see access.h).
 *
 * This file owns two things: what the access decision is given (read from the vault in one
 * read-only transaction, so grants and the citizen record are one consistent snapshot: the
 * caller's own, for the *_txn forms), and the
 * journaling of denied attempts. A denial is answered only after its journal event is durable
 * (api_commit_error): the citizen sees every attempt that was refused, even one the server then
 * failed to answer.
 */
#include "api/access.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/commit.h"
#include "vault/str.h"
#include "vault/citizen.h"
#include "vault/grant.h"
#include "vault/override.h"

/*
 * The overrides of CITIZEN whose beneficiary is caller C, as policy sees them, read from
 * VT_OVERRIDES in the same transaction T, so grants and overrides are decided on one snapshot.
 * Only professionals can be beneficiaries. An override found active in the store but past its
 * expiry counts as closed here at once, and the sweeper is asked to close it (SPEC §7 step 5).
 */
static kerr load_overrides(vault *v, store_txn *t, const struct caller *c, const char *citizen, int64_t now,
                           struct policy_override **out, size_t *n)
{
    int unswept = 0;
    *out = NULL;
    *n = 0;
    if (c->role != KROLE_PROFESSIONAL)
        return KERR_OK;
    kerr e = override_policy_for(v, t, citizen, c->id, now, out, n, &unswept);
    if (e == KERR_OK && unswept)
        override_sweep_async(v);
    return e;
}

static void free_overrides(struct policy_override *o, size_t n)
{
    override_policy_free(o, n);
}

kerr api_access_check(vault *v, const struct caller *c, const char *citizen, const char *section, int want_write,
                      int64_t now, struct access_result *out, int *citizen_known, char ref[64])
{
    store_txn t;
    store_txn_begin(v->st, &t, true);
    kerr e = api_access_check_txn(v, &t, c, citizen, section, want_write, now, out, citizen_known, ref);
    store_txn_abort(&t);
    return e;
}

kerr api_access_check_txn(vault *v, store_txn *tp, const struct caller *c, const char *citizen, const char *section,
                          int want_write, int64_t now, struct access_result *out, int *citizen_known, char ref[64])
{
    struct citizen cz;
    struct grant_views gv = {0}; /* the caller's grants, from the index alone (vault/grant.h) */
    struct policy_override *ov = NULL;
    size_t nov = 0;
    int known = 0;

    memset(out, 0, sizeof *out);
    if (ref)
        ref[0] = '\0';
    /* Whether CITIZEN is enrolled, without opening the citizen record when the answer is already
     * known (the hot read path): a citizen's own session exists only once enrolled
     * (api_authenticate), and a grant only once its citizen, enrolled, signed it. The grants of an
     * unknown citizen are none, so reading them first changes no decision. */
    kerr e = grant_views_for(tp, v->tab, c->id, citizen, NULL, &gv);
    for (size_t i = 0; e == KERR_OK && i < gv.n && out->expired.n < ACCESS_EXPIRED_MAX; i++)
        if (policy_grant_state(&gv.v[i], now) == GRANT_EXPIRED)
            str_copy(out->expired.id[out->expired.n++], sizeof out->expired.id[0], gv.v[i].id);
    if (e == KERR_OK && (gv.n > 0 || (c->role == KROLE_CITIZEN && strcmp(c->id, citizen) == 0))) {
        known = 1;
    } else if (e == KERR_OK) {
        e = citizen_get(v, tp, citizen, &cz);
        if (e == KERR_OK)
            known = cz.enrolled;
        else if (e == KERR_NOT_FOUND)
            e = KERR_OK;
    }
    if (e == KERR_OK && known)
        e = load_overrides(v, tp, c, citizen, now, &ov, &nov);
    if (citizen_known)
        *citizen_known = known;
    if (e != KERR_OK) {
        grant_views_free(&gv);
        free_overrides(ov, nov);
        return e;
    }

    /* An unknown citizen is decided like a known one without grants: the same code comes back. */
    struct policy_principal who = {.id = c->id, .role = c->role, .active = c->active};
    struct policy_decision d;
    const struct charter *ch = vault_charter_get(v);
    e = policy_access_decide(ch, &who, citizen, section, want_write, gv.v, gv.n, ov, nov, now, &d);
    if (e != KERR_OK && e != KERR_FORBIDDEN && e != KERR_PRINCIPAL_INACTIVE && known && c->role != KROLE_CITIZEN) {
        /* Refused on the grants in force: decide again with what it takes of the ended ones
         * (the newest covering the section), so the refusal names the nearest reason
         * (grant_revoked, grant_expired). A revoked grant never allows, nor does an expired one
         * while the clock runs forward; allowed reads never come here. Should the clock be set
         * back after an expired grant was moved (grant_end_expired), the newest covering one
         * allows here again as its dates say. */
        struct grant_views all = {0};
        kerr le = grant_views_for(tp, v->tab, c->id, citizen, section, &all);
        if (le == KERR_OK && all.n > gv.n) {
            grant_views_free(&gv);
            gv = all;
            e = policy_access_decide(ch, &who, citizen, section, want_write, gv.v, gv.n, ov, nov, now, &d);
        } else {
            grant_views_free(&all);
            if (le != KERR_OK) {
                vault_charter_put(v, ch);
                grant_views_free(&gv);
                free_overrides(ov, nov);
                return le;
            }
        }
    }
    vault_charter_put(v, ch);
    if (e == KERR_OK) {
        out->basis = d.basis;
        str_copy(out->basis_text, sizeof out->basis_text, d.basis_text);
        if (d.basis != BASIS_OWN && d.ref)
            str_copy(out->ref, sizeof out->ref, d.ref);
        if (d.grant) {
            out->not_before = d.grant->not_before;
            out->expires = d.grant->expires;
            out->snapshot = store_txn_snapshot(tp);
        }
    } else if (ref && d.ref) {
        str_copy(ref, 64, d.ref);
    }
    grant_views_free(&gv);
    free_overrides(ov, nov);
    return e;
}

void api_expired_merge(struct access_expired *dst, const struct access_expired *src)
{
    for (unsigned i = 0; i < src->n && dst->n < ACCESS_EXPIRED_MAX; i++) {
        int seen = 0;
        for (unsigned j = 0; j < dst->n && !seen; j++)
            seen = strcmp(dst->id[j], src->id[i]) == 0;
        if (!seen)
            str_copy(dst->id[dst->n++], sizeof dst->id[0], src->id[i]);
    }
}

kerr api_end_expired(vault *v, store_txn *t, const char *grantee, const char *citizen,
                     const struct access_expired *x, int64_t now)
{
    for (unsigned i = 0; i < x->n && t->err == KERR_OK; i++)
        grant_end_expired(t, v->tab, grantee, citizen, x->id[i], now);
    return t->err;
}

void api_journal_event(journal_event *ev, const struct caller *c, const char *remote, int64_t now,
                       const char *action, const char *section, const char *basis, const char *result)
{
    memset(ev, 0, sizeof *ev);
    ev->time = now;
    ev->actor = c->id;
    ev->actor_role = krole_name(c->role);
    ev->organisation = c->organisation;
    ev->action = action;
    ev->section = section;
    ev->basis = basis;
    ev->result = result;
    ev->remote = remote;
}

/* A denied attempt on its way into the journal: copies, since the apply runs on the writer. */
struct denial {
    vault *v;
    char citizen[64];
    char basis[64];
    char result[96];
    char section[64];
    char actor[64];
    char organisation[256];
    char remote[48];
    const char *role;
    const char *action;
    int64_t now;
    struct access_expired expired;
};

static kerr denial_apply(store_txn *t, void *arg)
{
    struct denial *d = arg;
    journal_event ev = {
        .time = d->now, .actor = d->actor, .actor_role = d->role, .organisation = d->organisation,
        .action = d->action, .section = d->section, .basis = d->basis, .result = d->result, .remote = d->remote,
    };
    if (journal_append(d->v->journal, t, d->citizen, &ev, NULL, NULL) != KERR_OK)
        return t->err;
    return api_end_expired(d->v, t, d->actor, d->citizen, &d->expired, d->now);
}

int api_access(struct request *r, vault *v, const struct caller *c, const char *citizen, const char *section,
               int want_write, struct access_result *out)
{
    store_txn t;
    store_txn_begin(v->st, &t, true);
    int rc = api_access_txn(r, v, &t, c, citizen, section, want_write, out);
    store_txn_abort(&t);
    return rc;
}

int api_access_txn(struct request *r, vault *v, store_txn *t, const struct caller *c, const char *citizen,
                   const char *section, int want_write, struct access_result *out)
{
    int64_t now = (int64_t)time(NULL);
    int known = 0;
    char ref[64];
    kerr e = api_access_check_txn(v, t, c, citizen, section, want_write, now, out, &known, ref);
    if (e == KERR_OK)
        return 0;
    if (kerr_status(e) != 403) { /* the store failed: nothing was decided */
        if (e == KERR_UNAVAILABLE)
            api_reply_error_retry(r, e, NULL, 1);
        else
            api_reply_error(r, e, NULL);
        return -1;
    }
    if (!known) {
        api_reply_error(r, e, NULL);
        return -1;
    }
    struct denial *d = calloc(1, sizeof *d);
    if (!d) {
        api_reply_error(r, KERR_INTERNAL, NULL);
        return -1;
    }
    d->v = v;
    d->now = now;
    d->role = krole_name(c->role);
    d->action = want_write ? "write" : "read";
    str_copy(d->citizen, sizeof d->citizen, citizen);
    str_copy(d->basis, sizeof d->basis, ref);
    snprintf(d->result, sizeof d->result, "denied:%s", kerr_code(e));
    str_copy(d->section, sizeof d->section, section);
    str_copy(d->actor, sizeof d->actor, c->id);
    str_copy(d->organisation, sizeof d->organisation, c->organisation);
    str_copy(d->remote, sizeof d->remote, r->remote);
    d->expired = out->expired;
    api_commit_error(r, v, denial_apply, d, free, e, NULL, KERR_JOURNAL_UNAVAILABLE);
    return -1;
}

int api_require_owner(struct request *r, const struct caller *c, const char *citizen)
{
    if (c->role == KROLE_CITIZEN && strcmp(c->id, citizen) == 0)
        return 0;
    api_reply_error(r, KERR_FORBIDDEN, "Only the citizen may do this on their own dossier.");
    return -1;
}
