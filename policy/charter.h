/*
 * policy/charter.h — the privacy charter in force (SPEC §5), loaded, validated and looked up.
 *
 * A charter arrives as bytes (kluisd init --charter, POST /v1/charter). charter_load() parses them
 * strictly (vault/jspec: duplicates, depth, NUL), checks every field at every level against the
 * schema below — refusing unknown fields everywhere — and checks the rules that tie fields
 * together. The result is an immutable struct charter that owns a copy of the exact bytes it was
 * loaded from and their SHA-256, so GET /v1/charter serves the adopted text byte for byte and
 * GET /v1/vault's charter.hash is lowercase hex of SHA-256(those bytes): anyone can recompute it
 * from the text, and the same hash appears in the `charter.adopted` log leaf.
 *
 * Schema (SPEC §5, with the project's decisions marked *):
 *
 *   charter      identifier                          required
 *   version      integer 1 .. 2^31-1                 required
 *   title        text, 1..200 bytes                  required
 *   principles   1..32 texts of 1..1000 bytes        required (*: at least one; a charter says why)
 *   sections     1..32 {id, title, title_en?}        ids unique; titles 1..120 bytes
 *   purposes     1..64 {id, title, title_en?, sections, max_days, write?}
 *                  sections: 1..32 distinct ids, each one of `sections`
 *                  max_days: 1..3650 (*: ten years is the ceiling of any consent)
 *                  write: optional, default false (*: read-only unless the charter says so)
 *   grant_roles  ["professional"]                    (*: see below)
 *   override     {authority_role, approver_role, approvals_required, max_hours,
 *                 min_justification_chars, grounds, citizen_notice_hours?}
 *                  authority_role must be "mayor", approver_role "officer" (*: the only roles SPEC §1
 *                  gives these powers; the fields exist so the charter says so in its own words)
 *                  approvals_required 0..9 — 0 means an override is active as soon as it is
 *                  requested (SPEC §7 step 1); the example charter asks for 1
 *                  max_hours 1..168 (*: an emergency is measured in days, not weeks)
 *                  min_justification_chars 1..2000, counted in code points (policy.h)
 *                  grounds 1..16 {id, title, title_en?}, ids unique
 *                  citizen_notice_hours 0..720, optional, default 0 (= notice at once)
 *   sessions     {ttl_minutes 1..1440}
 *   enrollment   {code_ttl_days 1..90}
 *   login        {max_failures 1..100, lockout_minutes 1..1440}
 *
 * "text" is UTF-8 without control characters (U+0000..U+001F, U+007F) and not only spaces.
 * title_en on purposes and grounds is a compatible extension of SPEC §5 (which shows it on
 * sections only): the web page shows English titles, and a charter without them still loads.
 *
 * grant_roles: SPEC §1 lets only professionals read or write under a grant; citizens own their
 * dossier, and mayor, officer, auditor and admin never see dossier content. A charter may
 * therefore narrow nothing and widen nothing: grant_roles must be exactly ["professional"]. The
 * field stays so that the charter states, in the log, who may receive grants.
 *
 * Thread rules: a loaded charter is never modified; any number of threads may read it at once.
 * Nothing here does I/O, reads the clock or keeps globals.
 */
#ifndef KLUIS_POLICY_CHARTER_H
#define KLUIS_POLICY_CHARTER_H

#include <stddef.h>
#include <stdint.h>

#include "vault/errors.h"
#include "vault/jspec.h"

/* Limits of the schema above, shared with the tests and with whoever writes charters. */
#define CHARTER_MAX_BYTES          (256u * 1024u)
#define CHARTER_MAX_VERSION        INT64_C(2147483647)
#define CHARTER_MAX_TITLE          200
#define CHARTER_MAX_ITEM_TITLE     120
#define CHARTER_MAX_PRINCIPLE      1000
#define CHARTER_MAX_PRINCIPLES     32
#define CHARTER_MAX_SECTIONS       32
#define CHARTER_MAX_PURPOSES       64
#define CHARTER_MAX_GROUNDS        16
#define CHARTER_MAX_DAYS           3650
#define CHARTER_MAX_APPROVALS      9
#define CHARTER_MAX_OVERRIDE_HOURS 168
#define CHARTER_MAX_JUSTIFICATION  2000
#define CHARTER_MAX_NOTICE_HOURS   720
#define CHARTER_MAX_TTL_MINUTES    1440
#define CHARTER_MAX_CODE_TTL_DAYS  90
#define CHARTER_MAX_FAILURES       100
#define CHARTER_MAX_LOCKOUT_MIN    1440

/** The roles of SPEC §1. KROLE_NONE is "not a role" (unknown name). */
enum krole {
    KROLE_NONE = 0,
    KROLE_CITIZEN,
    KROLE_PROFESSIONAL,
    KROLE_MAYOR,
    KROLE_OFFICER,
    KROLE_AUDITOR,
    KROLE_ADMIN
};

/** @brief The role named NAME ("citizen", ...), or KROLE_NONE when NAME (may be NULL) is no role. */
enum krole krole_parse(const char *name);
/** @brief The SPEC name of R; "none" for KROLE_NONE or an out-of-range value. */
const char *krole_name(enum krole r);

/** One dossier section (a life domain). Strings are owned by the charter. */
struct charter_section {
    const char *id;
    const char *title;
    const char *title_en; /* NULL when the charter gives none */
};

/** One purpose a grant may serve. */
struct charter_purpose {
    const char *id;
    const char *title;
    const char *title_en;           /* NULL when absent */
    const char *const *sections;    /* n_sections section ids, each in charter.sections */
    size_t n_sections;
    int64_t max_days;
    int write;                      /* non-zero: grants for this purpose may allow writing */
};

/** One ground an emergency override may invoke. */
struct charter_ground {
    const char *id;
    const char *title;
    const char *title_en;           /* NULL when absent */
};

/**
 * A validated charter. Every field is read-only; create with charter_load(), free with
 * charter_free(). Pointers inside stay valid until charter_free().
 */
struct charter {
    const char *bytes;            /* the exact adopted bytes, NUL-terminated after len */
    size_t len;
    unsigned char hash[32];       /* SHA-256(bytes[0..len)) */
    char hash_hex[65];            /* lowercase hex of hash, as served in GET /v1/vault */

    const char *id;
    int64_t version;
    const char *title;
    const char *const *principles;
    size_t n_principles;

    const struct charter_section *sections;
    size_t n_sections;
    const struct charter_purpose *purposes;
    size_t n_purposes;
    unsigned grant_roles;         /* bit (1u << enum krole) per role in grant_roles */

    struct {
        enum krole authority_role;
        enum krole approver_role;
        int64_t approvals_required;
        int64_t max_hours;
        int64_t min_justification_chars;
        int64_t citizen_notice_hours;
        const struct charter_ground *grounds;
        size_t n_grounds;
    } override;

    int64_t session_ttl_minutes;
    int64_t enrollment_code_ttl_days;
    int64_t login_max_failures;
    int64_t login_lockout_minutes;

    void *mem_;                   /* private: the allocation everything above lives in */
};

/**
 * @brief Parse and validate a charter from LEN bytes of JSON.
 * @param[in]  buf  the charter text; copied, so BUF may be freed afterwards.
 * @param[in]  len  its length in bytes; at most CHARTER_MAX_BYTES.
 * @param[out] err  on failure (may be NULL): code KERR_BAD_JSON (not JSON, duplicate key, depth,
 *                  NUL), KERR_TOO_LARGE (over CHARTER_MAX_BYTES), KERR_BAD_REQUEST (any schema
 *                  or rule violation) or KERR_INTERNAL (out of memory); `field` names the field at
 *                  fault as a path ("purposes[2].max_days", "override.grounds[0].id", "" for the
 *                  whole document).
 * @return a new charter (free with charter_free()), or NULL on failure.
 */
struct charter *charter_load(const char *buf, size_t len, struct jerr *err)
    __attribute__((warn_unused_result));

/** @brief Free C and everything it owns. NULL is a no-op. */
void charter_free(struct charter *c);

/**
 * @brief May NEXT replace CUR as the charter in force (POST /v1/charter)?
 * Rules: NEXT's version is greater than CUR's (the id may stay the same or change); every section
 * of CUR is still a section of NEXT — dossiers hold keys and entries per section, and dropping a
 * section would orphan them (a section is retired by a SPEC-level migration, not by a charter).
 * New sections and purposes may be added; purposes may be narrowed or removed, since grants
 * already given keep the sections, access and period they were signed with (SPEC §5: a new
 * charter never widens a grant already given).
 * @param[out] err  on refusal (may be NULL): KERR_CONFLICT with field "version" or
 *                  "sections" (the message names the dropped section).
 * @return 0 when the replacement is allowed, -1 otherwise.
 */
int charter_may_replace(const struct charter *cur, const struct charter *next, struct jerr *err)
    __attribute__((warn_unused_result));

/** @brief The section with id ID, or NULL. */
const struct charter_section *charter_section(const struct charter *c, const char *id);
/** @brief The purpose with id ID, or NULL. */
const struct charter_purpose *charter_purpose(const struct charter *c, const char *id);
/** @brief The override ground with id ID, or NULL. */
const struct charter_ground *charter_ground(const struct charter *c, const char *id);
/** @brief Non-zero when purpose P lists section SECTION. */
int charter_purpose_has_section(const struct charter_purpose *p, const char *section);
/** @brief Non-zero when role R is in the charter's grant_roles (may receive grants and requests). */
int charter_role_may_receive_grants(const struct charter *c, enum krole r);

#endif
