/*
 * api/audit.c — journal events of audited dossier actions, with the commit-time grant re-check
 * (see audit.h). One allocation per op: the fixed fields, then the basis text, then the grant ids.
 */
#include "api/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/access.h"
#include "vault/grant.h"
#include "vault/journal.h"

struct audit_op {
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
    size_t n_grants;
    char (*grants)[64];    /* n_grants ids, inside this allocation */
    char basis[];          /* NUL-terminated */
};

struct audit_op *audit_op_new(vault *v, const struct caller *c, const char *remote, const char *citizen,
                              const char *action, const char *section, const char *basis, const char *result,
                              int64_t now, size_t n_grants)
{
    size_t blen = strlen(basis) + 1;
    size_t pad = (64 - (sizeof(struct audit_op) + blen) % 64) % 64; /* keeps the id array simple */
    struct audit_op *op = calloc(1, sizeof *op + blen + pad + n_grants * 64);
    if (!op)
        return NULL;
    op->v = v;
    snprintf(op->citizen, sizeof op->citizen, "%s", citizen);
    snprintf(op->section, sizeof op->section, "%s", section ? section : "");
    snprintf(op->actor, sizeof op->actor, "%s", c->id);
    snprintf(op->organisation, sizeof op->organisation, "%s", c->organisation);
    snprintf(op->remote, sizeof op->remote, "%s", remote);
    snprintf(op->action, sizeof op->action, "%s", action);
    snprintf(op->result, sizeof op->result, "%s", result);
    op->role = krole_name(c->role);
    op->now = now;
    memcpy(op->basis, basis, blen);
    op->n_grants = n_grants;
    op->grants = (char (*)[64])(void *)(op->basis + blen + pad);
    return op;
}

void audit_op_grant(struct audit_op *op, size_t i, const char *grant)
{
    if (i < op->n_grants)
        snprintf(op->grants[i], 64, "%s", grant);
}

kerr audit_grant_active(vault *v, store_txn *t, const char *citizen, const char *grant, const char *section,
                        int want_write, int64_t now)
{
    struct grant_rec g;
    kerr e = grant_get(t, v->tab, citizen, grant, &g);
    if (e == KERR_NOT_FOUND)
        return KERR_GRANT_REVOKED;
    if (e != KERR_OK)
        return e;
    switch (grant_state_at(&g, now)) {
    case GRANT_ACTIVE:
        e = KERR_OK;
        break;
    case GRANT_PENDING:
        e = KERR_GRANT_NOT_YET_VALID;
        break;
    case GRANT_EXPIRED:
        e = KERR_GRANT_EXPIRED;
        break;
    default:
        e = KERR_GRANT_REVOKED;
        break;
    }
    if (e == KERR_OK && section && !grant_covers(&g, section))
        e = KERR_SECTION_NOT_GRANTED;
    if (e == KERR_OK && want_write && !g.write)
        e = KERR_WRITE_NOT_ALLOWED;
    grant_rec_free(&g);
    return e;
}

kerr audit_append(store_txn *t, const struct audit_op *op)
{
    journal_event ev = {
        .time = op->now, .actor = op->actor, .actor_role = op->role, .organisation = op->organisation,
        .action = op->action, .section = op->section[0] ? op->section : NULL, .basis = op->basis,
        .result = op->result, .remote = op->remote,
    };
    return journal_append(t, op->v->tab[VT_JOURNAL], op->citizen, &ev, NULL, NULL);
}

kerr audit_apply(store_txn *t, void *arg)
{
    struct audit_op *op = arg;
    for (size_t i = 0; i < op->n_grants; i++) {
        if (!op->grants[i][0])
            continue;
        kerr e = audit_grant_active(op->v, t, op->citizen, op->grants[i], NULL, 0, op->now);
        if (e != KERR_OK)
            return e;
    }
    return audit_append(t, op);
}
