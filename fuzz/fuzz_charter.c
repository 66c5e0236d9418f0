/*
 * fuzz/fuzz_charter.c — charter loading (policy/charter.h): charter_load() on arbitrary bytes.
 *
 * Input: the charter text. Oracles for a charter that loads: it keeps the exact bytes and their
 * SHA-256; every section, purpose and ground is found by its id; every purpose's sections are
 * sections of the charter; every bound of the schema holds; only professionals receive grants;
 * a charter may not replace itself (same version) but keeps all its own sections.
 */
#include "fuzz/fuzz_common.h"
#include "policy/charter.h"

#include <sodium.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    if (sodium_init() < 0)
        abort();
    return 0;
}

static void check(const struct charter *c, const uint8_t *data, size_t size)
{
    unsigned char h[32];
    char hex[65];
    struct jerr e;
    FUZZ_ASSERT(c->len == size && memcmp(c->bytes, data, size) == 0 && c->bytes[size] == '\0');
    crypto_hash_sha256(h, data, size);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    FUZZ_ASSERT(memcmp(c->hash, h, 32) == 0 && strcmp(c->hash_hex, hex) == 0);
    FUZZ_ASSERT(jspec_is_id(c->id) && c->version >= 1 && c->version <= CHARTER_MAX_VERSION && c->title);
    FUZZ_ASSERT(c->n_principles >= 1 && c->n_principles <= CHARTER_MAX_PRINCIPLES);
    for (size_t i = 0; i < c->n_principles; i++)
        FUZZ_ASSERT(c->principles[i][0] && strlen(c->principles[i]) <= CHARTER_MAX_PRINCIPLE);
    FUZZ_ASSERT(c->n_sections >= 1 && c->n_sections <= CHARTER_MAX_SECTIONS);
    for (size_t i = 0; i < c->n_sections; i++) {
        FUZZ_ASSERT(jspec_is_id(c->sections[i].id) && charter_section(c, c->sections[i].id) == &c->sections[i]);
        FUZZ_ASSERT(c->sections[i].title[0] && strlen(c->sections[i].title) <= CHARTER_MAX_ITEM_TITLE);
    }
    FUZZ_ASSERT(c->n_purposes >= 1 && c->n_purposes <= CHARTER_MAX_PURPOSES);
    for (size_t i = 0; i < c->n_purposes; i++) {
        const struct charter_purpose *p = &c->purposes[i];
        FUZZ_ASSERT(charter_purpose(c, p->id) == p);
        FUZZ_ASSERT(p->max_days >= 1 && p->max_days <= CHARTER_MAX_DAYS);
        FUZZ_ASSERT(p->n_sections >= 1 && p->n_sections <= CHARTER_MAX_SECTIONS);
        for (size_t k = 0; k < p->n_sections; k++)
            FUZZ_ASSERT(charter_section(c, p->sections[k]) && charter_purpose_has_section(p, p->sections[k]));
    }
    FUZZ_ASSERT(c->override.n_grounds >= 1 && c->override.n_grounds <= CHARTER_MAX_GROUNDS);
    for (size_t i = 0; i < c->override.n_grounds; i++)
        FUZZ_ASSERT(charter_ground(c, c->override.grounds[i].id) == &c->override.grounds[i]);
    FUZZ_ASSERT(c->override.authority_role == KROLE_MAYOR && c->override.approver_role == KROLE_OFFICER);
    FUZZ_ASSERT(c->override.approvals_required >= 0 && c->override.approvals_required <= CHARTER_MAX_APPROVALS);
    FUZZ_ASSERT(c->override.max_hours >= 1 && c->override.max_hours <= CHARTER_MAX_OVERRIDE_HOURS);
    FUZZ_ASSERT(c->override.min_justification_chars >= 1 &&
                c->override.min_justification_chars <= CHARTER_MAX_JUSTIFICATION);
    FUZZ_ASSERT(c->override.citizen_notice_hours >= 0 && c->override.citizen_notice_hours <= CHARTER_MAX_NOTICE_HOURS);
    FUZZ_ASSERT(c->session_ttl_minutes >= 1 && c->session_ttl_minutes <= CHARTER_MAX_TTL_MINUTES);
    FUZZ_ASSERT(c->enrollment_code_ttl_days >= 1 && c->enrollment_code_ttl_days <= CHARTER_MAX_CODE_TTL_DAYS);
    FUZZ_ASSERT(c->login_max_failures >= 1 && c->login_max_failures <= CHARTER_MAX_FAILURES);
    FUZZ_ASSERT(c->login_lockout_minutes >= 1 && c->login_lockout_minutes <= CHARTER_MAX_LOCKOUT_MIN);
    for (int r = KROLE_NONE; r <= KROLE_ADMIN + 1; r++)
        FUZZ_ASSERT(charter_role_may_receive_grants(c, (enum krole)r) == (r == KROLE_PROFESSIONAL));
    FUZZ_ASSERT(charter_may_replace(c, c, &e) != 0 && e.code == KERR_CONFLICT && strcmp(e.field, "version") == 0);
    FUZZ_ASSERT(!charter_section(c, "no such section!") && !charter_purpose(c, NULL));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct jerr e;
    memset(&e, 0, sizeof e);
    struct charter *c = charter_load((const char *)data, size, &e);
    if (c) {
        check(c, data, size);
        charter_free(c);
    } else {
        FUZZ_ASSERT(e.code == KERR_BAD_JSON || e.code == KERR_BAD_REQUEST || e.code == KERR_TOO_LARGE);
        FUZZ_ASSERT(memchr(e.field, '\0', sizeof e.field) && memchr(e.msg, '\0', sizeof e.msg));
    }
    return 0;
}
