/*
 * policy/policy.c — owns the yes-or-no of Kluis: whether a grant, a request or an override may be
 * made under the charter, and whether a given read or write may happen now.
 *
 * Each check is a straight list of rules in the order its header documents, the first failure
 * answering; an allowed access names its basis for the journal, a refused one the nearest reason
 * (SPEC §6), so that a professional learns whether to ask for a new grant, a wider one, or a
 * write grant. The functions see only what they are given: no storage, no clock, no globals.
 */
#include "policy/policy.h"

#include <stdio.h>
#include <string.h>
#include "vault/str.h"

#define DAY INT64_C(86400)
#define HOUR INT64_C(3600)

enum grant_state policy_grant_state(const struct policy_grant *g, int64_t now)
{
    if (g->revoked)
        return GRANT_REVOKED;
    if (now < g->not_before)
        return GRANT_PENDING;
    if (now >= g->expires)
        return GRANT_EXPIRED;
    return GRANT_ACTIVE;
}

kerr policy_grant_state_code(enum grant_state s)
{
    switch (s) {
    case GRANT_ACTIVE: return KERR_OK;
    case GRANT_PENDING: return KERR_GRANT_NOT_YET_VALID;
    case GRANT_EXPIRED: return KERR_GRANT_EXPIRED;
    case GRANT_REVOKED: break;
    }
    return KERR_GRANT_REVOKED;
}

const char *policy_grant_state_name(enum grant_state s)
{
    switch (s) {
    case GRANT_PENDING: return "pending";
    case GRANT_ACTIVE: return "active";
    case GRANT_EXPIRED: return "expired";
    case GRANT_REVOKED: return "revoked";
    }
    return "unknown";
}

static int has(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] && strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

static kerr deny(struct jerr *err, kerr code, const char *field, const char *msg)
{
    jerr_set(err, code, field, "%s", msg);
    return code;
}

/* A principal's standing to receive grants: role in grant_roles, then active. */
static kerr standing(const struct charter *c, const struct policy_principal *p, const char *field,
                     struct jerr *err)
{
    if (!charter_role_may_receive_grants(c, p->role)) {
        jerr_set(err, KERR_FORBIDDEN, field, "the charter gives no grants to the role '%s'",
                 krole_name(p->role));
        return KERR_FORBIDDEN;
    }
    if (!p->active)
        return deny(err, KERR_PRINCIPAL_INACTIVE, field, "the principal is not active");
    return KERR_OK;
}

/* Purpose exists and holds every section; the common part of grants and requests. */
static kerr purpose_sections(const struct charter *c, const char *purpose, const char *const *sections,
                             size_t n, const struct charter_purpose **out, struct jerr *err)
{
    const struct charter_purpose *p = charter_purpose(c, purpose);
    if (!p) {
        jerr_set(err, KERR_PURPOSE_UNKNOWN, "purpose", "the charter has no purpose '%.64s'",
                 purpose ? purpose : "");
        return KERR_PURPOSE_UNKNOWN;
    }
    if (n == 0 || !sections)
        return deny(err, KERR_BAD_STATEMENT, "sections", "no sections named");
    for (size_t i = 0; i < n; i++) {
        if (!charter_purpose_has_section(p, sections[i])) {
            char f[32];
            snprintf(f, sizeof f, "sections[%zu]", i);
            jerr_set(err, KERR_SECTION_NOT_IN_PURPOSE, f, "purpose '%s' does not cover section '%.64s'",
                     p->id, sections[i] ? sections[i] : "");
            return KERR_SECTION_NOT_IN_PURPOSE;
        }
    }
    *out = p;
    return KERR_OK;
}

kerr policy_grant_check(const struct charter *c, const struct policy_grant_req *g,
                        const struct policy_principal *grantee, struct jerr *err)
{
    const struct charter_purpose *p = NULL;
    kerr k;
    if (!c || !g || !grantee)
        return deny(err, KERR_INTERNAL, NULL, "missing input");
    if ((k = purpose_sections(c, g->purpose, g->sections, g->n_sections, &p, err)) != KERR_OK)
        return k;
    if (g->not_before < 0 || g->expires <= g->not_before)
        return deny(err, KERR_BAD_STATEMENT, "expires", "the grant must expire after not_before");
    /* expires > not_before >= 0, so the difference cannot overflow; max_days <= 3650. */
    if (g->expires - g->not_before > p->max_days * DAY) {
        jerr_set(err, KERR_DURATION_EXCEEDS_CHARTER, "expires",
                 "purpose '%s' allows grants of at most %lld days", p->id, (long long)p->max_days);
        return KERR_DURATION_EXCEEDS_CHARTER;
    }
    if (g->write && !p->write) {
        jerr_set(err, KERR_WRITE_NOT_ALLOWED, "access", "purpose '%s' allows reading only", p->id);
        return KERR_WRITE_NOT_ALLOWED;
    }
    return standing(c, grantee, "grantee", err);
}

kerr policy_request_check(const struct charter *c, const struct policy_request_req *r,
                          const struct policy_principal *requester, struct jerr *err)
{
    const struct charter_purpose *p = NULL;
    kerr k;
    if (!c || !r || !requester)
        return deny(err, KERR_INTERNAL, NULL, "missing input");
    if ((k = standing(c, requester, "signer", err)) != KERR_OK)
        return k;
    if ((k = purpose_sections(c, r->purpose, r->sections, r->n_sections, &p, err)) != KERR_OK)
        return k;
    if (r->days < 1)
        return deny(err, KERR_BAD_STATEMENT, "days", "a request asks for at least one day");
    if (r->days > p->max_days) {
        jerr_set(err, KERR_DURATION_EXCEEDS_CHARTER, "days",
                 "purpose '%s' allows grants of at most %lld days", p->id, (long long)p->max_days);
        return KERR_DURATION_EXCEEDS_CHARTER;
    }
    if (r->write && !p->write) {
        jerr_set(err, KERR_WRITE_NOT_ALLOWED, "access", "purpose '%s' allows reading only", p->id);
        return KERR_WRITE_NOT_ALLOWED;
    }
    return KERR_OK;
}

/* ---- access ----------------------------------------------------------------------------- */

/* The SPEC §6 "most recent" order: created, then not_before, then id. Non-zero when A is newer. */
static int newer(const struct policy_grant *a, const struct policy_grant *b)
{
    if (a->created != b->created)
        return a->created > b->created;
    if (a->not_before != b->not_before)
        return a->not_before > b->not_before;
    return strcmp(a->id ? a->id : "", b->id ? b->id : "") > 0;
}

static int covers(const char *const *sections, size_t n, const char *section)
{
    return sections && has(sections, n, section);
}

int policy_override_covers(const struct policy_override *o, const char *section, int64_t now)
{
    if (!o || !section || !o->active || now < o->activated || now >= o->expires)
        return 0;
    if (o->n_sections == 1 && o->sections && o->sections[0] && strcmp(o->sections[0], "*") == 0)
        return 1;
    return covers(o->sections, o->n_sections, section);
}

static kerr decided(struct policy_decision *out, kerr code, enum policy_basis basis, const char *ref)
{
    out->code = code;
    out->basis = basis;
    out->ref = ref;
    out->grant = NULL;
    out->basis_text[0] = '\0';
    if (basis == BASIS_OWN)
        snprintf(out->basis_text, sizeof out->basis_text, "own");
    else if (basis == BASIS_GRANT)
        str_copy(out->basis_text, sizeof out->basis_text, ref);
    else if (basis == BASIS_OVERRIDE)
        snprintf(out->basis_text, sizeof out->basis_text, "override:%s", ref);
    return code;
}

kerr policy_access_decide(const struct charter *c, const struct policy_principal *caller,
                          const char *citizen, const char *section, int want_write,
                          const struct policy_grant *grants, size_t n_grants,
                          const struct policy_override *overrides, size_t n_overrides, int64_t now,
                          struct policy_decision *out)
{
    struct policy_decision scratch;
    if (!out)
        out = &scratch;
    if (!c || !caller || !citizen || !section || (n_grants && !grants) || (n_overrides && !overrides))
        return decided(out, KERR_INTERNAL, BASIS_NONE, NULL);

    /* 1-3: who the caller is. */
    if (caller->role == KROLE_CITIZEN) {
        if (!caller->id || strcmp(caller->id, citizen) != 0)
            return decided(out, KERR_FORBIDDEN, BASIS_NONE, NULL);
        if (!caller->active)
            return decided(out, KERR_PRINCIPAL_INACTIVE, BASIS_NONE, NULL);
        return decided(out, KERR_OK, BASIS_OWN, NULL);
    }
    if (!charter_role_may_receive_grants(c, caller->role))
        return decided(out, KERR_FORBIDDEN, BASIS_NONE, NULL);
    if (!caller->active)
        return decided(out, KERR_PRINCIPAL_INACTIVE, BASIS_NONE, NULL);

    /* 4: an active grant covering the section, with write for a write; the most recent wins. */
    const struct policy_grant *allow = NULL, *latest = NULL, *active_read = NULL;
    for (size_t i = 0; i < n_grants; i++) {
        const struct policy_grant *g = &grants[i];
        if (!covers(g->sections, g->n_sections, section))
            continue;
        if (!latest || newer(g, latest))
            latest = g;
        if (policy_grant_state(g, now) != GRANT_ACTIVE)
            continue;
        if (want_write && !g->write) {
            active_read = g;
            continue;
        }
        if (!allow || newer(g, allow))
            allow = g;
    }
    if (allow) {
        decided(out, KERR_OK, BASIS_GRANT, allow->id);
        out->grant = allow;
        return KERR_OK;
    }

    /* 5: an active override covering the section; beneficiaries are professionals only. */
    if (caller->role == KROLE_PROFESSIONAL) {
        const struct policy_override *best = NULL;
        for (size_t i = 0; i < n_overrides; i++) {
            const struct policy_override *o = &overrides[i];
            if (policy_override_covers(o, section, now) &&
                (!best || o->activated > best->activated ||
                 (o->activated == best->activated && strcmp(o->id, best->id) > 0)))
                best = o;
        }
        if (best)
            return decided(out, KERR_OK, BASIS_OVERRIDE, best->id);
    }

    /* 6: the nearest reason. */
    if (n_grants == 0)
        return decided(out, KERR_NO_GRANT, BASIS_NONE, NULL);
    if (!latest)
        return decided(out, KERR_SECTION_NOT_GRANTED, BASIS_NONE, NULL);
    if (active_read)
        return decided(out, KERR_WRITE_NOT_ALLOWED, BASIS_NONE, active_read->id);
    /* an active latest grant is only a read grant for a write (answered above) */
    kerr code = policy_grant_state_code(policy_grant_state(latest, now));
    return decided(out, code == KERR_OK ? KERR_WRITE_NOT_ALLOWED : code, BASIS_NONE, latest->id);
}

/* ---- overrides -------------------------------------------------------------------------- */

size_t policy_text_chars(const char *s)
{
    if (!s)
        return 0;
    const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
#define WS(ch) ((ch) == ' ' || (ch) == '\t' || (ch) == '\r' || (ch) == '\n')
    while (p < end && WS(*p))
        p++;
    while (end > p && WS(end[-1]))
        end--;
#undef WS
    size_t n = 0;
    for (; p < end; p++)
        if ((*p & 0xC0) != 0x80) /* every byte but a continuation byte starts a code point */
            n++;
    return n;
}

kerr policy_override_check(const struct charter *c, const struct policy_override_req *o, struct jerr *err)
{
    if (!c || !o || !o->beneficiary)
        return deny(err, KERR_INTERNAL, NULL, "missing input");
    if (o->requester) {
        if (o->requester->role != c->override.authority_role) {
            jerr_set(err, KERR_FORBIDDEN, "signer", "only the %s may request an override",
                     krole_name(c->override.authority_role));
            return KERR_FORBIDDEN;
        }
        if (!o->requester->active)
            return deny(err, KERR_PRINCIPAL_INACTIVE, "signer", "the requester is not active");
    }
    if (!charter_ground(c, o->ground)) {
        jerr_set(err, KERR_GROUND_UNKNOWN, "ground", "the charter has no ground '%.64s'",
                 o->ground ? o->ground : "");
        return KERR_GROUND_UNKNOWN;
    }
    size_t chars = policy_text_chars(o->justification);
    if (chars < (size_t)c->override.min_justification_chars) {
        jerr_set(err, KERR_JUSTIFICATION_TOO_SHORT, "justification",
                 "the justification has %zu characters; the charter asks for at least %lld", chars,
                 (long long)c->override.min_justification_chars);
        return KERR_JUSTIFICATION_TOO_SHORT;
    }
    if (o->hours < 1)
        return deny(err, KERR_BAD_STATEMENT, "hours", "an override lasts at least one hour");
    if (o->hours > c->override.max_hours) {
        jerr_set(err, KERR_DURATION_EXCEEDS_CHARTER, "hours",
                 "the charter allows overrides of at most %lld hours", (long long)c->override.max_hours);
        return KERR_DURATION_EXCEEDS_CHARTER;
    }
    if (o->n_sections == 0 || !o->sections)
        return deny(err, KERR_BAD_STATEMENT, "sections", "no sections named");
    int all = o->n_sections == 1 && o->sections[0] && strcmp(o->sections[0], "*") == 0;
    for (size_t i = 0; i < o->n_sections && !all; i++) {
        if (!charter_section(c, o->sections[i]) || has(o->sections, i, o->sections[i])) {
            char f[32];
            snprintf(f, sizeof f, "sections[%zu]", i);
            jerr_set(err, KERR_BAD_STATEMENT, f, "'%.64s' is not a section of the charter, or named twice",
                     o->sections[i] ? o->sections[i] : "");
            return KERR_BAD_STATEMENT;
        }
    }
    if (o->beneficiary->role != KROLE_PROFESSIONAL)
        return deny(err, KERR_FORBIDDEN, "beneficiary", "the beneficiary must be a professional");
    if (!o->beneficiary->active)
        return deny(err, KERR_PRINCIPAL_INACTIVE, "beneficiary", "the beneficiary is not active");
    return KERR_OK;
}

kerr policy_approval_check(const struct charter *c, const struct policy_principal *approver,
                           const char *const *approved_by, size_t n, struct jerr *err)
{
    if (!c || !approver || !approver->id || (n && !approved_by))
        return deny(err, KERR_INTERNAL, NULL, "missing input");
    if (approver->role != c->override.approver_role) {
        jerr_set(err, KERR_FORBIDDEN, "signer", "only an %s may approve an override",
                 krole_name(c->override.approver_role));
        return KERR_FORBIDDEN;
    }
    if (!approver->active)
        return deny(err, KERR_PRINCIPAL_INACTIVE, "signer", "the approver is not active");
    if (has(approved_by, n, approver->id))
        return deny(err, KERR_CONFLICT, "signer", "this approver has already approved the override");
    return KERR_OK;
}

int policy_quorum_reached(const struct charter *c, size_t n_distinct_approvals)
{
    return c && (int64_t)n_distinct_approvals >= c->override.approvals_required;
}
