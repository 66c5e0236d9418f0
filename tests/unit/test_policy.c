/* tests/unit/test_policy.c — pure decisions (SPEC §5, §6, §7): one row per rule and refusal code. */
#include "tests/test.h"
#include "policy/policy.h"

#include <sodium.h>

TEST_MAIN_DEFS

/* ondersteuning: plan+wonen, 180 days, write; schuldhulp: schulden, 365 days, read-only. */
static const char charter_text[] =
    "{\"charter\":\"test\",\"version\":1,\"title\":\"T\",\"principles\":[\"P\"],"
    "\"sections\":[{\"id\":\"plan\",\"title\":\"Plan\"},{\"id\":\"wonen\",\"title\":\"Wonen\"},"
    "{\"id\":\"schulden\",\"title\":\"Schulden\"}],"
    "\"purposes\":[{\"id\":\"ondersteuning\",\"title\":\"O\",\"sections\":[\"plan\",\"wonen\"],\"max_days\":180,"
    "\"write\":true},{\"id\":\"schuldhulp\",\"title\":\"S\",\"sections\":[\"schulden\"],\"max_days\":365}],"
    "\"grant_roles\":[\"professional\"],\"override\":{\"authority_role\":\"mayor\",\"approver_role\":\"officer\","
    "\"approvals_required\":APPROVALS,\"max_hours\":72,\"min_justification_chars\":50,"
    "\"grounds\":[{\"id\":\"acuut-gevaar\",\"title\":\"Acuut gevaar\"}]},"
    "\"sessions\":{\"ttl_minutes\":30},\"enrollment\":{\"code_ttl_days\":30},"
    "\"login\":{\"max_failures\":5,\"lockout_minutes\":15}}";

static struct charter *load(const char *approvals)
{
    char doc[4096];
    const char *at = strstr(charter_text, "APPROVALS");
    snprintf(doc, sizeof doc, "%.*s%s%s", (int)(at - charter_text), charter_text, approvals, at + 9);
    struct jerr e = {0};
    struct charter *c = charter_load(doc, strlen(doc), &e);
    if (!c)
        printf("# charter: %s at '%s': %s\n", kerr_code(e.code), e.field, e.msg);
    return c;
}

static size_t count(const char *const *list)
{
    size_t n = 0;
    while (list[n])
        n++;
    return n;
}

#define DAY INT64_C(86400)
#define T0 INT64_C(1700000000)
#define PRO KROLE_PROFESSIONAL

static void test_grant_check(const struct charter *c)
{
    struct {
        const char *what, *purpose, *sections[4];
        int write;
        int64_t nb, exp;
        enum krole role;
        int active;
        kerr code;
        const char *field;
    } rows[] = {
        {"read grant", "ondersteuning", {"plan"}, 0, T0, T0 + 30 * DAY, PRO, 1, KERR_OK, ""},
        {"write grant, both sections", "ondersteuning", {"plan", "wonen"}, 1, T0, T0 + 30 * DAY, PRO, 1, KERR_OK, ""},
        {"exactly max_days", "ondersteuning", {"plan"}, 0, T0, T0 + 180 * DAY, PRO, 1, KERR_OK, ""},
        {"one second past max_days", "ondersteuning", {"plan"}, 0, T0, T0 + 180 * DAY + 1, PRO, 1,
         KERR_DURATION_EXCEEDS_CHARTER, "expires"},
        {"one second long", "schuldhulp", {"schulden"}, 0, T0, T0 + 1, PRO, 1, KERR_OK, ""},
        {"huge expiry does not overflow", "schuldhulp", {"schulden"}, 0, 0, INT64_MAX, PRO, 1,
         KERR_DURATION_EXCEEDS_CHARTER, "expires"},
        {"unknown purpose", "spionage", {"plan"}, 0, T0, T0 + DAY, PRO, 1, KERR_PURPOSE_UNKNOWN, "purpose"},
        {"no purpose", NULL, {"plan"}, 0, T0, T0 + DAY, PRO, 1, KERR_PURPOSE_UNKNOWN, "purpose"},
        {"section outside purpose", "ondersteuning", {"plan", "schulden"}, 0, T0, T0 + DAY, PRO, 1,
         KERR_SECTION_NOT_IN_PURPOSE, "sections[1]"},
        {"section outside charter", "ondersteuning", {"dagboek"}, 0, T0, T0 + DAY, PRO, 1,
         KERR_SECTION_NOT_IN_PURPOSE, "sections[0]"},
        {"no sections", "ondersteuning", {NULL}, 0, T0, T0 + DAY, PRO, 1, KERR_BAD_STATEMENT, "sections"},
        {"expires == not_before", "ondersteuning", {"plan"}, 0, T0, T0, PRO, 1, KERR_BAD_STATEMENT, "expires"},
        {"expires before not_before", "ondersteuning", {"plan"}, 0, T0, T0 - 1, PRO, 1, KERR_BAD_STATEMENT,
         "expires"},
        {"negative not_before", "ondersteuning", {"plan"}, 0, -5, T0, PRO, 1, KERR_BAD_STATEMENT, "expires"},
        {"write under read-only purpose", "schuldhulp", {"schulden"}, 1, T0, T0 + DAY, PRO, 1,
         KERR_WRITE_NOT_ALLOWED, "access"},
        {"grantee citizen", "ondersteuning", {"plan"}, 0, T0, T0 + DAY, KROLE_CITIZEN, 1, KERR_FORBIDDEN, "grantee"},
        {"grantee mayor", "ondersteuning", {"plan"}, 0, T0, T0 + DAY, KROLE_MAYOR, 1, KERR_FORBIDDEN, "grantee"},
        {"grantee officer", "ondersteuning", {"plan"}, 0, T0, T0 + DAY, KROLE_OFFICER, 1, KERR_FORBIDDEN, "grantee"},
        {"grantee auditor", "ondersteuning", {"plan"}, 0, T0, T0 + DAY, KROLE_AUDITOR, 1, KERR_FORBIDDEN, "grantee"},
        {"grantee admin", "ondersteuning", {"plan"}, 0, T0, T0 + DAY, KROLE_ADMIN, 1, KERR_FORBIDDEN, "grantee"},
        {"grantee no role", "ondersteuning", {"plan"}, 0, T0, T0 + DAY, KROLE_NONE, 1, KERR_FORBIDDEN, "grantee"},
        {"grantee inactive", "ondersteuning", {"plan"}, 0, T0, T0 + DAY, PRO, 0, KERR_PRINCIPAL_INACTIVE, "grantee"},
        /* order: the first rule in the documented order answers */
        {"purpose before inactive", "spionage", {"plan"}, 1, T0, T0, PRO, 0, KERR_PURPOSE_UNKNOWN, "purpose"},
        {"section before period", "schuldhulp", {"plan"}, 0, T0, T0, PRO, 1, KERR_SECTION_NOT_IN_PURPOSE,
         "sections[0]"},
        {"duration before write", "schuldhulp", {"schulden"}, 1, T0, T0 + 400 * DAY, PRO, 1,
         KERR_DURATION_EXCEEDS_CHARTER, "expires"},
        {"write before role", "schuldhulp", {"schulden"}, 1, T0, T0 + DAY, KROLE_ADMIN, 0, KERR_WRITE_NOT_ALLOWED,
         "access"},
        {"role before inactive", "schuldhulp", {"schulden"}, 0, T0, T0 + DAY, KROLE_ADMIN, 0, KERR_FORBIDDEN,
         "grantee"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct policy_grant_req g = {rows[i].purpose, rows[i].sections, count(rows[i].sections), rows[i].write,
                                     rows[i].nb, rows[i].exp};
        struct policy_principal p = {"pro-1", rows[i].role, rows[i].active};
        struct jerr e = {0};
        kerr k = policy_grant_check(c, &g, &p, &e);
        CHECK(k == rows[i].code && (k == KERR_OK || (e.code == k && strcmp(e.field, rows[i].field) == 0)),
              "grant_check: %s (got %s at '%s')", rows[i].what, kerr_code(k), e.field);
    }
    struct policy_principal p = {"pro-1", PRO, 1};
    CHECK(policy_grant_check(c, NULL, &p, NULL) == KERR_INTERNAL && policy_grant_check(NULL, NULL, NULL, NULL) ==
              KERR_INTERNAL,
          "grant_check: NULL inputs are internal errors");
}

static void test_request_check(const struct charter *c)
{
    struct {
        const char *what, *purpose, *sections[4];
        int write;
        int64_t days;
        enum krole role;
        int active;
        kerr code;
        const char *field;
    } rows[] = {
        {"request", "ondersteuning", {"plan", "wonen"}, 1, 90, PRO, 1, KERR_OK, ""},
        {"exactly max_days", "schuldhulp", {"schulden"}, 0, 365, PRO, 1, KERR_OK, ""},
        {"max_days + 1", "schuldhulp", {"schulden"}, 0, 366, PRO, 1, KERR_DURATION_EXCEEDS_CHARTER, "days"},
        {"zero days", "schuldhulp", {"schulden"}, 0, 0, PRO, 1, KERR_BAD_STATEMENT, "days"},
        {"negative days", "schuldhulp", {"schulden"}, 0, -1, PRO, 1, KERR_BAD_STATEMENT, "days"},
        {"unknown purpose", "nope", {"schulden"}, 0, 10, PRO, 1, KERR_PURPOSE_UNKNOWN, "purpose"},
        {"section outside purpose", "schuldhulp", {"schulden", "wonen"}, 0, 10, PRO, 1, KERR_SECTION_NOT_IN_PURPOSE,
         "sections[1]"},
        {"no sections", "schuldhulp", {NULL}, 0, 10, PRO, 1, KERR_BAD_STATEMENT, "sections"},
        {"write under read-only purpose", "schuldhulp", {"schulden"}, 1, 10, PRO, 1, KERR_WRITE_NOT_ALLOWED,
         "access"},
        {"requester citizen", "schuldhulp", {"schulden"}, 0, 10, KROLE_CITIZEN, 1, KERR_FORBIDDEN, "signer"},
        {"requester mayor", "schuldhulp", {"schulden"}, 0, 10, KROLE_MAYOR, 1, KERR_FORBIDDEN, "signer"},
        {"requester inactive", "schuldhulp", {"schulden"}, 0, 10, PRO, 0, KERR_PRINCIPAL_INACTIVE, "signer"},
        {"requester before purpose", "nope", {"schulden"}, 0, 10, KROLE_ADMIN, 1, KERR_FORBIDDEN, "signer"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct policy_request_req r = {rows[i].purpose, rows[i].sections, count(rows[i].sections), rows[i].write,
                                       rows[i].days};
        struct policy_principal p = {"pro-1", rows[i].role, rows[i].active};
        struct jerr e = {0};
        kerr k = policy_request_check(c, &r, &p, &e);
        CHECK(k == rows[i].code && (k == KERR_OK || (e.code == k && strcmp(e.field, rows[i].field) == 0)),
              "request_check: %s (got %s at '%s')", rows[i].what, kerr_code(k), e.field);
    }
}

static void test_grant_state(void)
{
    static const char *const plan[] = {"plan"};
    struct {
        int64_t nb, exp;
        int revoked;
        int64_t now;
        enum grant_state want;
        const char *name;
    } rows[] = {
        {100, 200, 0, 99, GRANT_PENDING, "pending"},   {100, 200, 0, 100, GRANT_ACTIVE, "active"},
        {100, 200, 0, 199, GRANT_ACTIVE, "active"},    {100, 200, 0, 200, GRANT_EXPIRED, "expired"},
        {100, 200, 0, 9999, GRANT_EXPIRED, "expired"}, {100, 200, 1, 150, GRANT_REVOKED, "revoked"},
        {100, 200, 1, 50, GRANT_REVOKED, "revoked"},   {100, 200, 1, 300, GRANT_REVOKED, "revoked"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct policy_grant g = {"g", plan, 1, 0, rows[i].nb, rows[i].exp, rows[i].revoked, 0};
        enum grant_state s = policy_grant_state(&g, rows[i].now);
        CHECK(s == rows[i].want && strcmp(policy_grant_state_name(s), rows[i].name) == 0,
              "grant_state: [%lld,%lld) revoked=%d at %lld is %s", (long long)rows[i].nb, (long long)rows[i].exp,
              rows[i].revoked, (long long)rows[i].now, rows[i].name);
    }
    CHECK(policy_grant_state_code(GRANT_ACTIVE) == KERR_OK &&
              policy_grant_state_code(GRANT_PENDING) == KERR_GRANT_NOT_YET_VALID &&
              policy_grant_state_code(GRANT_EXPIRED) == KERR_GRANT_EXPIRED &&
              policy_grant_state_code(GRANT_REVOKED) == KERR_GRANT_REVOKED,
          "grant_state_code: active is allowed, the others their refusal");
}

#define N INT64_C(1000000)

static void test_access(const struct charter *c)
{
    static const char *const s_plan[] = {"plan"}, *const s_plan_wonen[] = {"plan", "wonen"},
                             *const s_wonen[] = {"wonen"}, *const s_schulden[] = {"schulden"}, *const s_all[] = {"*"};
    /* The grants a row may hold, by letter. */
    static const struct policy_grant G[] = {
        ['A' - 'A'] = {"g-active-read", s_plan, 1, 0, N - 100, N + 100, 0, 10},
        ['W' - 'A'] = {"g-active-write", s_plan_wonen, 2, 1, N - 100, N + 100, 0, 11},
        ['R' - 'A'] = {"g-revoked", s_plan, 1, 1, N - 100, N + 100, 1, 20},
        ['E' - 'A'] = {"g-expired", s_plan, 1, 1, N - 200, N - 100, 0, 15},
        ['P' - 'A'] = {"g-pending", s_plan, 1, 1, N + 100, N + 200, 0, 25},
        ['X' - 'A'] = {"g-ends-now", s_schulden, 1, 0, N - 100, N, 0, 5},
        ['S' - 'A'] = {"g-starts-now", s_schulden, 1, 0, N, N + 100, 0, 6},
        ['O' - 'A'] = {"g-other", s_wonen, 1, 0, N - 100, N + 100, 0, 1},
        ['B' - 'A'] = {"g-revoked-expired", s_plan, 1, 0, N - 200, N - 100, 1, 3},
        ['T' - 'A'] = {"g-tie-b", s_plan, 1, 0, N - 200, N - 100, 0, 30},
        ['U' - 'A'] = {"g-tie-a", s_plan, 1, 0, N + 50, N + 100, 0, 30},
        ['C' - 'A'] = {"g-tie-c", s_plan, 1, 0, N + 50, N + 100, 0, 30},
    };
    /* The overrides, by letter. */
    static const struct policy_override O[] = {
        ['a' - 'a'] = {"o-all", s_all, 1, 1, N - 10, N + 10},
        ['p' - 'a'] = {"o-plan", s_plan, 1, 1, N - 10, N + 10},
        ['q' - 'a'] = {"o-pending", s_plan, 1, 0, 0, 0},
        ['x' - 'a'] = {"o-ends-now", s_plan, 1, 1, N - 100, N},
        ['f' - 'a'] = {"o-future", s_plan, 1, 1, N + 1, N + 100},
    };
    struct {
        const char *what;
        enum krole role;
        const char *caller;
        int active;
        const char *section;
        int write;
        const char *grants, *overrides;
        int64_t now;
        kerr code;
        const char *basis; /* basis_text when allowed; ref when refused (NULL: no ref) */
    } rows[] = {
        /* who the caller is */
        {"citizen reads own", KROLE_CITIZEN, "burger-1", 1, "plan", 0, "", "", N, KERR_OK, "own"},
        {"citizen writes own", KROLE_CITIZEN, "burger-1", 1, "schulden", 1, "", "", N, KERR_OK, "own"},
        {"citizen, other dossier", KROLE_CITIZEN, "burger-2", 1, "plan", 0, "AW", "a", N, KERR_FORBIDDEN, NULL},
        {"citizen inactive", KROLE_CITIZEN, "burger-1", 0, "plan", 0, "", "", N, KERR_PRINCIPAL_INACTIVE, NULL},
        {"admin with grant and override", KROLE_ADMIN, "adm", 1, "plan", 0, "AW", "a", N, KERR_FORBIDDEN, NULL},
        {"auditor", KROLE_AUDITOR, "aud", 1, "plan", 0, "AW", "a", N, KERR_FORBIDDEN, NULL},
        {"mayor", KROLE_MAYOR, "burgemeester", 1, "plan", 0, "AW", "a", N, KERR_FORBIDDEN, NULL},
        {"officer", KROLE_OFFICER, "fg", 1, "plan", 0, "AW", "a", N, KERR_FORBIDDEN, NULL},
        {"no role", KROLE_NONE, "x", 1, "plan", 0, "AW", "a", N, KERR_FORBIDDEN, NULL},
        {"admin whose id is the citizen's", KROLE_ADMIN, "burger-1", 1, "plan", 0, "", "", N, KERR_FORBIDDEN, NULL},
        {"professional inactive", PRO, "pro-1", 0, "plan", 0, "AW", "a", N, KERR_PRINCIPAL_INACTIVE, NULL},
        /* allowed by grant */
        {"read under read grant", PRO, "pro-1", 1, "plan", 0, "A", "", N, KERR_OK, "g-active-read"},
        {"write under write grant", PRO, "pro-1", 1, "wonen", 1, "W", "", N, KERR_OK, "g-active-write"},
        {"read under write grant", PRO, "pro-1", 1, "wonen", 0, "W", "", N, KERR_OK, "g-active-write"},
        {"most recent allowing grant named", PRO, "pro-1", 1, "plan", 0, "AW", "", N, KERR_OK, "g-active-write"},
        {"same, other order", PRO, "pro-1", 1, "plan", 0, "WA", "", N, KERR_OK, "g-active-write"},
        {"active grant beats newer dead ones", PRO, "pro-1", 1, "plan", 0, "REPA", "", N, KERR_OK, "g-active-read"},
        {"now == not_before is active", PRO, "pro-1", 1, "schulden", 0, "S", "", N, KERR_OK, "g-starts-now"},
        {"grant beats override", PRO, "pro-1", 1, "plan", 0, "A", "a", N, KERR_OK, "g-active-read"},
        /* allowed by override */
        {"override * covers any section", PRO, "pro-1", 1, "schulden", 0, "", "a", N, KERR_OK, "override:o-all"},
        {"override allows writes", PRO, "pro-1", 1, "plan", 1, "", "p", N, KERR_OK, "override:o-plan"},
        {"override when the grant is read-only", PRO, "pro-1", 1, "plan", 1, "A", "p", N, KERR_OK, "override:o-plan"},
        {"override when the grant expired", PRO, "pro-1", 1, "plan", 0, "E", "p", N, KERR_OK, "override:o-plan"},
        {"override at activated", PRO, "pro-1", 1, "plan", 0, "", "f", N + 1, KERR_OK, "override:o-future"},
        /* refusals, nearest reason */
        {"no grant at all", PRO, "pro-1", 1, "plan", 0, "", "", N, KERR_NO_GRANT, NULL},
        {"override not covering", PRO, "pro-1", 1, "wonen", 0, "", "p", N, KERR_NO_GRANT, NULL},
        {"override pending", PRO, "pro-1", 1, "plan", 0, "", "q", N, KERR_NO_GRANT, NULL},
        {"override at its expiry", PRO, "pro-1", 1, "plan", 0, "", "x", N, KERR_NO_GRANT, NULL},
        {"override before activation", PRO, "pro-1", 1, "plan", 0, "", "f", N, KERR_NO_GRANT, NULL},
        {"live grant, other section", PRO, "pro-1", 1, "plan", 0, "O", "", N, KERR_SECTION_NOT_GRANTED, NULL},
        {"dead grant, other section", PRO, "pro-1", 1, "wonen", 0, "E", "", N, KERR_SECTION_NOT_GRANTED, NULL},
        {"write under read grant", PRO, "pro-1", 1, "plan", 1, "A", "", N, KERR_WRITE_NOT_ALLOWED, "g-active-read"},
        {"write: read grant before pending write", PRO, "pro-1", 1, "plan", 1, "AP", "", N, KERR_WRITE_NOT_ALLOWED,
         "g-active-read"},
        {"revoked", PRO, "pro-1", 1, "plan", 0, "R", "", N, KERR_GRANT_REVOKED, "g-revoked"},
        {"expired", PRO, "pro-1", 1, "plan", 0, "E", "", N, KERR_GRANT_EXPIRED, "g-expired"},
        {"not yet valid", PRO, "pro-1", 1, "plan", 0, "P", "", N, KERR_GRANT_NOT_YET_VALID, "g-pending"},
        {"write under expired write grant", PRO, "pro-1", 1, "plan", 1, "E", "", N, KERR_GRANT_EXPIRED, "g-expired"},
        {"now == expires is expired", PRO, "pro-1", 1, "schulden", 0, "X", "", N, KERR_GRANT_EXPIRED, "g-ends-now"},
        {"one second before not_before", PRO, "pro-1", 1, "schulden", 0, "S", "", N - 1, KERR_GRANT_NOT_YET_VALID,
         "g-starts-now"},
        {"revoked wins over expired", PRO, "pro-1", 1, "plan", 0, "B", "", N, KERR_GRANT_REVOKED,
         "g-revoked-expired"},
        {"most recent: pending over revoked, expired", PRO, "pro-1", 1, "plan", 0, "ERP", "", N,
         KERR_GRANT_NOT_YET_VALID, "g-pending"},
        {"most recent: revoked over expired", PRO, "pro-1", 1, "plan", 0, "ER", "", N, KERR_GRANT_REVOKED,
         "g-revoked"},
        {"most recent: other order", PRO, "pro-1", 1, "plan", 0, "RE", "", N, KERR_GRANT_REVOKED, "g-revoked"},
        {"uncovering grants do not count", PRO, "pro-1", 1, "plan", 0, "OEX", "", N, KERR_GRANT_EXPIRED, "g-expired"},
        {"tie on created: later not_before", PRO, "pro-1", 1, "plan", 0, "TU", "", N, KERR_GRANT_NOT_YET_VALID,
         "g-tie-a"},
        {"tie on created and not_before: greater id", PRO, "pro-1", 1, "plan", 0, "UC", "", N,
         KERR_GRANT_NOT_YET_VALID, "g-tie-c"},
        {"same, other order", PRO, "pro-1", 1, "plan", 0, "CU", "", N, KERR_GRANT_NOT_YET_VALID, "g-tie-c"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct policy_grant gs[16];
        struct policy_override os[8];
        size_t ng = 0, no = 0;
        for (const char *p = rows[i].grants; *p; p++)
            gs[ng++] = G[*p - 'A'];
        for (const char *p = rows[i].overrides; *p; p++)
            os[no++] = O[*p - 'a'];
        struct policy_principal caller = {rows[i].caller, rows[i].role, rows[i].active};
        struct policy_decision d;
        memset(&d, 0x5a, sizeof d);
        kerr k = policy_access_decide(c, &caller, "burger-1", rows[i].section, rows[i].write, ng ? gs : NULL, ng,
                                      no ? os : NULL, no, rows[i].now, &d);
        int ok = k == rows[i].code && d.code == k;
        /* an allowing grant is handed back too: one of the inputs, the one the basis names */
        int grant_ok = d.basis == BASIS_GRANT
                           ? d.grant && d.grant >= gs && d.grant < gs + ng && strcmp(d.grant->id, d.ref) == 0
                           : d.grant == NULL;
        if (k == KERR_OK)
            ok = ok && d.basis != BASIS_NONE && strcmp(d.basis_text, rows[i].basis) == 0 && grant_ok;
        else
            ok = ok && d.basis == BASIS_NONE && d.basis_text[0] == '\0' && grant_ok &&
                 (rows[i].basis ? d.ref && strcmp(d.ref, rows[i].basis) == 0 : d.ref == NULL);
        CHECK(ok, "access: %s (got %s, basis '%s')", rows[i].what, kerr_code(k),
              k == KERR_OK ? d.basis_text : (d.ref ? d.ref : "-"));
    }
    {
        struct policy_principal caller = {"pro-1", PRO, 1};
        struct policy_decision d;
        CHECK(policy_access_decide(c, &caller, "burger-1", "plan", 0, NULL, 1, NULL, 0, N, &d) == KERR_INTERNAL &&
                  policy_access_decide(c, &caller, "burger-1", NULL, 0, NULL, 0, NULL, 0, N, &d) == KERR_INTERNAL,
              "access: inconsistent input is an internal error");
        CHECK(policy_access_decide(c, &caller, "burger-1", "plan", 0, &G[0], 1, NULL, 0, N, NULL) == KERR_OK,
              "access: out may be NULL");
        struct policy_decision own;
        struct policy_principal cit = {"burger-1", KROLE_CITIZEN, 1};
        policy_access_decide(c, &cit, "burger-1", "plan", 0, NULL, 0, NULL, 0, N, &own);
        CHECK(own.basis == BASIS_OWN && own.ref == NULL, "access: own has no ref");
    }
    CHECK(policy_override_covers(&O[0], "anything", N) && !policy_override_covers(&O['q' - 'a'], "plan", N) &&
              !policy_override_covers(&O['p' - 'a'], "wonen", N) && policy_override_covers(&O['p' - 'a'], "plan", N) &&
              !policy_override_covers(NULL, "plan", N),
          "override_covers");
}

static void test_override_check(const struct charter *c)
{
    static const char j50[] = "Acuut gevaar: dreigende zelfdoding, wijkteam belt.";            /* 50 chars */
    static const char j49[] = "Acuut gevaar: dreigende zelfdoding, wijkteam belt";             /* 49 */
    /* 50 code points in 100 bytes, and 49 code points in 98 bytes (more than 50 bytes) */
    char e50[128] = "", e49[128] = "", pad49[128];
    for (int i = 0; i < 50; i++)
        strcat(e50, "\xc3\xa9");
    for (int i = 0; i < 49; i++)
        strcat(e49, "\xc3\xa9");
    snprintf(pad49, sizeof pad49, "  \t%s \n\r ", j49);
    struct {
        const char *what;
        enum krole req_role;
        int req_active, has_req;
        enum krole ben_role;
        int ben_active;
        const char *ground, *just;
        int64_t hours;
        const char *sections[4];
        kerr code;
        const char *field;
    } rows[] = {
        {"override, all sections", KROLE_MAYOR, 1, 1, PRO, 1, "acuut-gevaar", j50, 72, {"*"}, KERR_OK, ""},
        {"override, named sections", KROLE_MAYOR, 1, 1, PRO, 1, "acuut-gevaar", j50, 1, {"plan", "wonen"}, KERR_OK, ""},
        {"requester not checked when NULL", KROLE_NONE, 0, 0, PRO, 1, "acuut-gevaar", j50, 24, {"*"}, KERR_OK, ""},
        {"requester officer", KROLE_OFFICER, 1, 1, PRO, 1, "acuut-gevaar", j50, 24, {"*"}, KERR_FORBIDDEN, "signer"},
        {"requester professional", PRO, 1, 1, PRO, 1, "acuut-gevaar", j50, 24, {"*"}, KERR_FORBIDDEN, "signer"},
        {"requester inactive", KROLE_MAYOR, 0, 1, PRO, 1, "acuut-gevaar", j50, 24, {"*"}, KERR_PRINCIPAL_INACTIVE,
         "signer"},
        {"unknown ground", KROLE_MAYOR, 1, 1, PRO, 1, "nieuwsgierigheid", j50, 24, {"*"}, KERR_GROUND_UNKNOWN, "ground"},
        {"no ground", KROLE_MAYOR, 1, 1, PRO, 1, NULL, j50, 24, {"*"}, KERR_GROUND_UNKNOWN, "ground"},
        {"justification 49 chars", KROLE_MAYOR, 1, 1, PRO, 1, "acuut-gevaar", j49, 24, {"*"},
         KERR_JUSTIFICATION_TOO_SHORT, "justification"},
        {"50 code points in 100 bytes", KROLE_MAYOR, 1, 1, PRO, 1, "acuut-gevaar", e50, 24, {"*"}, KERR_OK, ""},
        {"49 code points in 98 bytes", KROLE_MAYOR, 1, 1, PRO, 1, "acuut-gevaar", e49, 24, {"*"},
         KERR_JUSTIFICATION_TOO_SHORT, "justification"},
        {"padding does not count", KROLE_MAYOR, 1, 1, PRO, 1, "acuut-gevaar", pad49, 24, {"*"},
         KERR_JUSTIFICATION_TOO_SHORT, "justification"},
        {"no justification", KROLE_MAYOR, 1, 1, PRO, 1, "acuut-gevaar", NULL, 24, {"*"}, KERR_JUSTIFICATION_TOO_SHORT,
         "justification"},
        {"hours 0", KROLE_MAYOR, 1, 1, PRO, 1, "acuut-gevaar", j50, 0, {"*"}, KERR_BAD_STATEMENT, "hours"},
        {"hours negative", KROLE_MAYOR, 1, 1, PRO, 1, "acuut-gevaar", j50, -3, {"*"}, KERR_BAD_STATEMENT, "hours"},
        {"hours max + 1", KROLE_MAYOR, 1, 1, PRO, 1, "acuut-gevaar", j50, 73, {"*"}, KERR_DURATION_EXCEEDS_CHARTER,
         "hours"},
        {"no sections", KROLE_MAYOR, 1, 1, PRO, 1, "acuut-gevaar", j50, 24, {NULL}, KERR_BAD_STATEMENT, "sections"},
        {"* mixed with a section", KROLE_MAYOR, 1, 1, PRO, 1, "acuut-gevaar", j50, 24, {"*", "plan"},
         KERR_BAD_STATEMENT, "sections[0]"},
        {"unknown section", KROLE_MAYOR, 1, 1, PRO, 1, "acuut-gevaar", j50, 24, {"plan", "dagboek"},
         KERR_BAD_STATEMENT, "sections[1]"},
        {"section twice", KROLE_MAYOR, 1, 1, PRO, 1, "acuut-gevaar", j50, 24, {"plan", "plan"}, KERR_BAD_STATEMENT,
         "sections[1]"},
        {"beneficiary mayor", KROLE_MAYOR, 1, 1, KROLE_MAYOR, 1, "acuut-gevaar", j50, 24, {"*"}, KERR_FORBIDDEN,
         "beneficiary"},
        {"beneficiary citizen", KROLE_MAYOR, 1, 1, KROLE_CITIZEN, 1, "acuut-gevaar", j50, 24, {"*"}, KERR_FORBIDDEN,
         "beneficiary"},
        {"beneficiary admin", KROLE_MAYOR, 1, 1, KROLE_ADMIN, 1, "acuut-gevaar", j50, 24, {"*"}, KERR_FORBIDDEN,
         "beneficiary"},
        {"beneficiary inactive", KROLE_MAYOR, 1, 1, PRO, 0, "acuut-gevaar", j50, 24, {"*"}, KERR_PRINCIPAL_INACTIVE,
         "beneficiary"},
        /* order */
        {"requester before ground", KROLE_ADMIN, 1, 1, PRO, 1, "nope", j49, 0, {NULL}, KERR_FORBIDDEN, "signer"},
        {"ground before justification", KROLE_MAYOR, 1, 1, PRO, 1, "nope", j49, 0, {NULL}, KERR_GROUND_UNKNOWN,
         "ground"},
        {"justification before hours", KROLE_MAYOR, 1, 1, PRO, 1, "acuut-gevaar", j49, 100, {NULL},
         KERR_JUSTIFICATION_TOO_SHORT, "justification"},
        {"hours before sections", KROLE_MAYOR, 1, 1, PRO, 0, "acuut-gevaar", j50, 100, {NULL},
         KERR_DURATION_EXCEEDS_CHARTER, "hours"},
        {"sections before beneficiary", KROLE_MAYOR, 1, 1, KROLE_ADMIN, 0, "acuut-gevaar", j50, 5, {"x"},
         KERR_BAD_STATEMENT, "sections[0]"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct policy_principal req = {"burgemeester", rows[i].req_role, rows[i].req_active};
        struct policy_principal ben = {"pro-1", rows[i].ben_role, rows[i].ben_active};
        struct policy_override_req o = {rows[i].has_req ? &req : NULL, &ben, rows[i].ground, rows[i].just,
                                        rows[i].hours, rows[i].sections, count(rows[i].sections)};
        struct jerr e = {0};
        kerr k = policy_override_check(c, &o, &e);
        CHECK(k == rows[i].code && (k == KERR_OK || (e.code == k && strcmp(e.field, rows[i].field) == 0)),
              "override_check: %s (got %s at '%s')", rows[i].what, kerr_code(k), e.field);
    }
}

static void test_approvals(const struct charter *c1, const struct charter *c0)
{
    static const char *const none[] = {NULL}, *const other[] = {"fg-2", NULL}, *const self[] = {"fg-2", "fg-1", NULL};
    struct {
        const char *what;
        enum krole role;
        int active;
        const char *const *prior;
        kerr code;
    } rows[] = {
        {"first approval", KROLE_OFFICER, 1, none, KERR_OK},
        {"second officer", KROLE_OFFICER, 1, other, KERR_OK},
        {"same officer twice", KROLE_OFFICER, 1, self, KERR_CONFLICT},
        {"mayor approves own request", KROLE_MAYOR, 1, none, KERR_FORBIDDEN},
        {"auditor approves", KROLE_AUDITOR, 1, none, KERR_FORBIDDEN},
        {"officer inactive", KROLE_OFFICER, 0, none, KERR_PRINCIPAL_INACTIVE},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct policy_principal p = {"fg-1", rows[i].role, rows[i].active};
        struct jerr e = {0};
        kerr k = policy_approval_check(c1, &p, rows[i].prior, count(rows[i].prior), &e);
        CHECK(k == rows[i].code && (k == KERR_OK || strcmp(e.field, "signer") == 0), "approval: %s (got %s)",
              rows[i].what, kerr_code(k));
    }
    CHECK(!policy_quorum_reached(c1, 0) && policy_quorum_reached(c1, 1) && policy_quorum_reached(c1, 2),
          "quorum: 1 required");
    CHECK(c0 && policy_quorum_reached(c0, 0), "quorum: 0 required means active at once");
}

static void test_text_chars(void)
{
    struct {
        const char *s;
        size_t n;
    } rows[] = {
        {NULL, 0}, {"", 0}, {"   ", 0}, {"abc", 3}, {" a b ", 3}, {"\xc3\xa9", 1}, {"\xe6\x97\xa5\xe6\x9c\xac", 2},
        {"\t\nx\r\n", 1}, {"\xf0\x9f\x98\x80!", 2},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        CHECK(policy_text_chars(rows[i].s) == rows[i].n, "text_chars row %zu = %zu", i, rows[i].n);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    struct charter *c = load("1"), *c0 = load("0");
    CHECK(c != NULL && c0 != NULL, "test charters load");
    if (!c || !c0)
        return TEST_END();
    test_grant_check(c);
    test_request_check(c);
    test_grant_state();
    test_access(c);
    test_override_check(c);
    test_approvals(c, c0);
    test_text_chars();
    charter_free(c);
    charter_free(c0);
    return TEST_END();
}
