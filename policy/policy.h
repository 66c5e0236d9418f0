/*
 * policy/policy.h — the decisions of Kluis, taken against the charter in force (SPEC §5, §6, §7).
 *
 * Every function here is pure: the vault reads what a decision needs (the principal, the grants,
 * the overrides) from storage, passes it in with `now`, and gets back KERR_OK or the SPEC §10 code
 * that names why not. Nothing here touches storage, reads the clock, or keeps state, so the same
 * inputs always give the same answer — which is what lets the auditor re-check decisions later.
 *
 * Where a refusal has a field at fault, an optional struct jerr (may be NULL) names it ("purpose",
 * "sections[1]", "expires", "grantee", ...) and carries a human message for the 403 body.
 *
 * Decisions the SPEC leaves open, taken here (the lead documents them):
 *  - Times are seconds since the epoch; a grant is active on [not_before, expires): at now ==
 *    not_before it is active, at now == expires it has expired. Overrides likewise on
 *    [activated, expires).
 *  - A grant or request whose period is empty or negative (expires <= not_before, days < 1) is
 *    malformed: KERR_BAD_STATEMENT. A period longer than the purpose's max_days (exactly
 *    max_days * 86400 s is allowed) is KERR_DURATION_EXCEEDS_CHARTER.
 *  - An override's hours < 1 is KERR_BAD_STATEMENT; hours > max_hours is
 *    KERR_DURATION_EXCEEDS_CHARTER ("the period is longer than the charter allows").
 *  - An override naming a section the charter lacks, or mixing "*" with sections, is
 *    KERR_BAD_STATEMENT.
 *  - The justification's length is counted in Unicode code points (UTF-8 lead bytes), after
 *    leading and trailing white space (space, tab, CR, LF) is set aside, so padding does not count.
 *  - An active override covering the section allows reads and writes alike (SPEC §6 puts no
 *    write condition on overrides); only an active professional can be a beneficiary.
 *  - Among several grants, "the most recent" is the one with the greatest `created`, then the
 *    greatest not_before, then the greatest id (bytewise) — a total order, so decisions are
 *    deterministic whatever order the vault lists grants in. An allowing grant is chosen the same
 *    way among those that allow.
 *  - Revocation wins over time: a revoked grant is `revoked` whether or not it has also expired.
 */
#ifndef KLUIS_POLICY_POLICY_H
#define KLUIS_POLICY_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "policy/charter.h"
#include "vault/errors.h"
#include "vault/jspec.h"

/** A principal as the decision sees it (SPEC §1). ID is borrowed. */
struct policy_principal {
    const char *id;
    enum krole role;
    int active;
};

/** The fields of a `grant` statement that the charter rules (SPEC §4, §5). Borrowed. */
struct policy_grant_req {
    const char *purpose;
    const char *const *sections;
    size_t n_sections;
    int write;              /* access "write" */
    int64_t not_before;
    int64_t expires;
};

/** The fields of a `request` statement (a professional asking a citizen for access). Borrowed. */
struct policy_request_req {
    const char *purpose;
    const char *const *sections;
    size_t n_sections;
    int write;
    int64_t days;
};

/** A stored grant to the caller for the citizen at hand (SPEC §6). Borrowed. */
struct policy_grant {
    const char *id;
    const char *const *sections;
    size_t n_sections;
    int write;
    int64_t not_before;
    int64_t expires;
    int revoked;            /* non-zero once a revoke statement was accepted */
    int64_t created;        /* when the vault accepted the grant */
};

/** An override whose beneficiary is the caller, for the citizen at hand (SPEC §7). Borrowed. */
struct policy_override {
    const char *id;
    const char *const *sections;   /* section ids, or the single item "*" for all */
    size_t n_sections;
    int active;             /* non-zero when its state is `active` (quorum reached, not closed) */
    int64_t activated;
    int64_t expires;
};

/** The fields of an `override` statement plus the principals it involves. Borrowed. */
struct policy_override_req {
    const struct policy_principal *requester;    /* the signer; NULL: not checked here */
    const struct policy_principal *beneficiary;  /* the named beneficiary */
    const char *ground;
    const char *justification;
    int64_t hours;
    const char *const *sections;   /* section ids, or the single item "*" */
    size_t n_sections;
};

/** SPEC §6 grant states. */
enum grant_state { GRANT_PENDING, GRANT_ACTIVE, GRANT_EXPIRED, GRANT_REVOKED };

/** What allowed an access (journal `basis`, SPEC §9). */
enum policy_basis { BASIS_NONE, BASIS_OWN, BASIS_GRANT, BASIS_OVERRIDE };

/** The outcome of policy_access_decide(). */
struct policy_decision {
    kerr code;                /* KERR_OK when allowed, else the refusal (SPEC §6, §10) */
    enum policy_basis basis;  /* BASIS_NONE when refused */
    const char *ref;          /* grant or override id of the basis (borrowed from the input); on a
                                 refusal by grant state, the grant whose state is reported; else NULL */
    char basis_text[80];      /* "own", "<grant id>" or "override:<id>"; "" when refused */
    const struct policy_grant *grant; /* BASIS_GRANT: the allowing grant (borrowed); else NULL */
};

/**
 * @brief The state of grant G at NOW: revoked if revoked; else pending if now < not_before;
 *        expired if now >= expires; else active.
 */
enum grant_state policy_grant_state(const struct policy_grant *g, int64_t now);

/** @brief "pending", "active", "expired" or "revoked" ("unknown" for a value outside the enum). */
const char *policy_grant_state_name(enum grant_state s);

/** @brief What a grant in state S means for an access relying on it: KERR_OK (active),
 *         KERR_GRANT_NOT_YET_VALID, KERR_GRANT_EXPIRED or KERR_GRANT_REVOKED. */
kerr policy_grant_state_code(enum grant_state s);

/**
 * @brief Check a new grant against the charter (POST /citizens/{c}/grants), SPEC §5.
 * Checked in this order, the first failure answering:
 *   KERR_PURPOSE_UNKNOWN          purpose not in the charter                     field "purpose"
 *   KERR_BAD_STATEMENT            no sections                                    field "sections"
 *   KERR_SECTION_NOT_IN_PURPOSE   a section not among the purpose's sections     field "sections[i]"
 *   KERR_BAD_STATEMENT            not_before < 0 or expires <= not_before        field "expires"
 *   KERR_DURATION_EXCEEDS_CHARTER expires - not_before > max_days * 86400        field "expires"
 *   KERR_WRITE_NOT_ALLOWED        write asked, the purpose is read-only          field "access"
 *   KERR_FORBIDDEN                grantee's role not in grant_roles              field "grantee"
 *   KERR_PRINCIPAL_INACTIVE       grantee deactivated                            field "grantee"
 * @param[out] err  may be NULL; filled on refusal.
 * @return KERR_OK or the code above (KERR_INTERNAL for NULL inputs).
 */
kerr policy_grant_check(const struct charter *c, const struct policy_grant_req *g,
                        const struct policy_principal *grantee, struct jerr *err);

/**
 * @brief Check an access request (POST /requests) by REQUESTER against the charter.
 * Order: KERR_FORBIDDEN (requester's role not in grant_roles, field "signer"),
 * KERR_PRINCIPAL_INACTIVE ("signer"), KERR_PURPOSE_UNKNOWN ("purpose"), KERR_BAD_STATEMENT (no
 * sections), KERR_SECTION_NOT_IN_PURPOSE ("sections[i]"), KERR_BAD_STATEMENT (days < 1, "days"),
 * KERR_DURATION_EXCEEDS_CHARTER (days > max_days, "days"), KERR_WRITE_NOT_ALLOWED ("access").
 * The requester comes first: someone who may not receive grants has nothing to ask for.
 * @return KERR_OK or the code above.
 */
kerr policy_request_check(const struct charter *c, const struct policy_request_req *r,
                          const struct policy_principal *requester, struct jerr *err);

/**
 * @brief Decide a read or write of SECTION in CITIZEN's dossier by CALLER at NOW (SPEC §6).
 * @param[in] grants     every grant to CALLER for CITIZEN (any state); may be NULL when n is 0.
 * @param[in] overrides  every override for CITIZEN whose beneficiary is CALLER; may be NULL.
 * @param[out] out       the decision; out->code is also returned.
 * Order:
 *   1. role: a citizen may touch only their own dossier (other dossiers: KERR_FORBIDDEN); any
 *      role other than citizen or one in grant_roles (i.e. mayor, officer, auditor, admin):
 *      KERR_FORBIDDEN, whatever grants or overrides are passed in.
 *   2. CALLER inactive: KERR_PRINCIPAL_INACTIVE.
 *   3. citizen == caller id (role citizen): allowed, BASIS_OWN.
 *   4. an active grant covering SECTION (with write for a write): allowed, BASIS_GRANT.
 *   5. an active override covering SECTION ("*" covers all): allowed, BASIS_OVERRIDE.
 *   6. refusal, the nearest reason: KERR_NO_GRANT (no grant at all); KERR_SECTION_NOT_GRANTED
 *      (no grant names SECTION); KERR_WRITE_NOT_ALLOWED (a write, and an active read grant
 *      covers SECTION); else the state of the most recent grant naming SECTION:
 *      KERR_GRANT_REVOKED, KERR_GRANT_EXPIRED or KERR_GRANT_NOT_YET_VALID.
 * @return out->code.
 */
kerr policy_access_decide(const struct charter *c, const struct policy_principal *caller,
                          const char *citizen, const char *section, int want_write,
                          const struct policy_grant *grants, size_t n_grants,
                          const struct policy_override *overrides, size_t n_overrides, int64_t now,
                          struct policy_decision *out);

/**
 * @brief Non-zero when override O is active at NOW and covers SECTION ("*" covers every section).
 */
int policy_override_covers(const struct policy_override *o, const char *section, int64_t now);

/**
 * @brief Check a new override request (POST /overrides) against the charter (SPEC §5, §7).
 * Order:
 *   KERR_FORBIDDEN               requester's role is not the authority_role   field "signer"
 *   KERR_PRINCIPAL_INACTIVE      requester deactivated                        field "signer"
 *   KERR_GROUND_UNKNOWN          ground not in the charter                    field "ground"
 *   KERR_JUSTIFICATION_TOO_SHORT fewer than min_justification_chars code points  "justification"
 *   KERR_BAD_STATEMENT           hours < 1                                    field "hours"
 *   KERR_DURATION_EXCEEDS_CHARTER hours > max_hours                           field "hours"
 *   KERR_BAD_STATEMENT           no sections, "*" mixed with others, or a section the charter
 *                                lacks                                        field "sections[i]"
 *   KERR_FORBIDDEN               beneficiary is not a professional            field "beneficiary"
 *   KERR_PRINCIPAL_INACTIVE      beneficiary deactivated                      field "beneficiary"
 * @return KERR_OK or the code above.
 */
kerr policy_override_check(const struct charter *c, const struct policy_override_req *o,
                           struct jerr *err);

/**
 * @brief Check an override approval by APPROVER (POST /overrides/{o}/approve).
 * @param[in] approved_by  ids of the officers who already approved this override (n of them).
 * KERR_FORBIDDEN (role is not approver_role), KERR_PRINCIPAL_INACTIVE, KERR_CONFLICT (this
 * approver already approved: approvers must be distinct, SPEC §5).
 */
kerr policy_approval_check(const struct charter *c, const struct policy_principal *approver,
                           const char *const *approved_by, size_t n, struct jerr *err);

/** @brief Non-zero when N distinct approvals reach the charter's approvals_required. */
int policy_quorum_reached(const struct charter *c, size_t n_distinct_approvals);

/**
 * @brief The length of S in Unicode code points, leading and trailing white space (space, tab,
 *        CR, LF) excluded. S is valid UTF-8 (Jansson checked it); NULL counts 0.
 */
size_t policy_text_chars(const char *s);

#endif
