/*
 * cli/audit.h — the auditor's semantic check of the transparency log (SPEC §8), the core of
 * `kluis audit verify` (cli/auditcmd.c).
 *
 * Pure in the sense of policy/: leaves in, violations out. No I/O, no clock (the caller passes
 * `now`), no globals. The caller has already tied the leaves to a verified checkpoint (signature,
 * consistency proof, recomputed root); this module checks what the leaves SAY, in log order, the
 * way GNU Taler's auditor re-checks what the exchange did:
 *
 *   - every leaf is a strict JSON object starting {"index","time","event"}; index = its position;
 *   - vault.created is the first leaf and only there, naming the pinned origin and log key;
 *   - charter.adopted: the text hashes (SHA-256, hex) to `hash`, loads as a charter whose id and
 *     version match the leaf, and versions increase; that charter is in force from this leaf on;
 *   - principal.registered / principal.deactivated keep the set of keys and roles;
 *   - override.* leaves: statements re-verified with keys registered EARLIER in the same log, by
 *     the role the charter in force names (mayor requests and closes, officers approve, the
 *     beneficiary may close), ground / justification / hours / sections / beneficiary per that
 *     charter, approvals over the exact statement hash by distinct approvers, the quorum before
 *     activation, escrow released and wraps uploaded only while active, closure by expiry no later
 *     than expires + AUDIT_EXPIRY_GRACE, and nothing about an override after it closed.
 *
 * Every violation found is recorded (not only the first): {leaf index, rule, detail}. Rules are
 * short stable names (AUDIT_RULES below lists them), so scripts and tests can match on them.
 * Not thread-safe; one struct audit per thread.
 */
#ifndef KLUIS_CLI_AUDIT_H
#define KLUIS_CLI_AUDIT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/** Seconds after `expires` by which an override.closed {"reason":"expired"} must be logged: the
 *  vault's sweeper runs every minute (SPEC issue 5), plus a minute of slack for clocks. */
#define AUDIT_EXPIRY_GRACE 120
/** Largest clock difference tolerated between an override.activated leaf's time and its
 *  "activated" field. */
#define AUDIT_CLOCK_SLACK 120

/*
 * The rules, by name:
 *   leaf-json leaf-format leaf-index leaf-mismatch unknown-event
 *   vault-created charter-missing charter-hash charter-load charter-fields charter-version
 *   principal-format principal-duplicate principal-unknown principal-deactivated
 *   override-unknown override-duplicate statement statement-replay statement-issued
 *   signer-unknown bad-signature wrong-role signer-inactive
 *   ground-unknown justification-too-short hours-exceed bad-hours sections
 *   beneficiary-unknown beneficiary-role beneficiary-inactive
 *   approval-statement approval-duplicate approval-self approval-not-pending
 *   activation-quorum activation-duplicate activation-times
 *   escrow-not-active escrow-section wraps-not-active wraps-section
 *   closed-early expiry-closure-late expiry-closure-missing after-close
 */

/** One violation: the leaf at fault (the log size for "end of log" findings), a rule name, and a
 *  human detail naming the objects involved. */
struct audit_violation {
    uint64_t index;
    char rule[32];
    char detail[320];
};

struct audit;

/**
 * @brief Start checking a log.
 * @param[in] origin  the pinned origin: vault.created must name it (NULL: not checked).
 * @param[in] log_pk  the pinned 32-byte log key: vault.created must carry it (NULL: not checked).
 * @return a new checker (audit_free() it), or NULL when memory is exhausted.
 */
struct audit *audit_new(const char *origin, const unsigned char *log_pk) __attribute__((warn_unused_result));

/**
 * @brief Check the next leaf. Leaves must be fed in log order, all of them, from index 0.
 * @param[in] leaf  the exact leaf bytes (as hashed into the tree).
 * @param[in] len   their length.
 * @return 0; -1 only when memory is exhausted (the checker is then unusable).
 */
int audit_leaf(struct audit *a, const unsigned char *leaf, size_t len) __attribute__((warn_unused_result));

/**
 * @brief End of the log: the findings that need it (an empty log; an override active past
 *        expires + AUDIT_EXPIRY_GRACE at NOW and never closed).
 * @param[in] now  the auditor's clock, seconds.
 * @return 0, or -1 when memory is exhausted.
 */
int audit_finish(struct audit *a, int64_t now) __attribute__((warn_unused_result));

/** @brief The violations found so far (borrowed, valid until the next call on A). */
const struct audit_violation *audit_violations(const struct audit *a, size_t *n);

/** @brief Whether a violation of RULE was recorded (for tests). */
int audit_has(const struct audit *a, const char *rule);

/** Counters for the summary. */
struct audit_stats {
    uint64_t leaves;
    size_t principals, charters, overrides;
};
void audit_get_stats(const struct audit *a, struct audit_stats *s);

/**
 * @brief One object per override, in order of request: {id, citizen, mayor, beneficiary, ground,
 *        justification, hours, sections, approvals:[ids], state ("pending"|"active"|"closed"),
 *        requested, activated?, expires?, closed?, close_reason?, closed_by?, escrow_released,
 *        wraps_uploaded, violations (count), verdict ("ok"|"violation"), rules:[the distinct rule
 *        names charged to it], requested_at? (the statement's issued), ground_title? (from the
 *        charter in force at the request), charter?:{id, version} (that charter), active_seconds?
 *        (activated until its close, expiry or now, whichever came first)}.
 * @return a new reference (json_decref()), or NULL when memory is exhausted.
 */
json_t *audit_overrides_json(const struct audit *a) __attribute__((warn_unused_result));

/** @brief Whether override ID was requested in the log replayed so far. */
int audit_override_known(const struct audit *a, const char *id);

/**
 * @brief One override with its whole history, for `kluis audit show`: the audit_overrides_json()
 *        summary plus charter_rules (the override rules of the charter in force at the request:
 *        {charter, version, authority_role, approver_role, approvals_required, max_hours,
 *        min_justification_chars, citizen_notice_hours, ground_title?}), history (every leaf about
 *        it, in log order: {index, time, event, charter:{id,version}, the leaf's own fields
 *        (citizen, approver, activated, expires, items, reason), statement?:{type, id, signer,
 *        signer_role?, issued?, reason? (of an override-close), signature: "verified" | "does not verify" | "signer not registered
 *        earlier" | "statement does not parse"}, violations?:[...]}) and findings (its violations:
 *        those charged to it and any found at one of its leaves, [{index, rule, detail}]);
 *        violations/verdict/rules count those findings.
 * @return a new reference, or NULL when ID is unknown (audit_override_known()) or memory is out.
 */
json_t *audit_override_detail(const struct audit *a, const char *id) __attribute__((warn_unused_result));

/** @brief Free A and everything it holds. NULL ignored. */
void audit_free(struct audit *a);

#endif
