/* tests/unit/test_charter.c — loading and validating the charter (SPEC §5), one row per rule. */
#include "tests/test.h"
#include "policy/charter.h"

#include <sodium.h>

TEST_MAIN_DEFS

/* A small valid charter; every mutation below changes one substring of it. */
#define SECTIONS                                                                                     \
    "[{\"id\":\"plan\",\"title\":\"Plan\",\"title_en\":\"Plan\"},"                                   \
    "{\"id\":\"wonen\",\"title\":\"Wonen\"},{\"id\":\"schulden\",\"title\":\"Schulden\"}]"
#define PURPOSES                                                                                     \
    "[{\"id\":\"ondersteuning\",\"title\":\"Ondersteuning\",\"sections\":[\"plan\",\"wonen\"],"         \
    "\"max_days\":180,\"write\":true},"                                                               \
    "{\"id\":\"schuldhulp\",\"title\":\"Schuldhulp\",\"title_en\":\"Debt\",\"sections\":[\"schulden\"],"  \
    "\"max_days\":365}]"
#define OVERRIDE                                                                                     \
    "{\"authority_role\":\"mayor\",\"approver_role\":\"officer\",\"approvals_required\":1,"           \
    "\"max_hours\":72,\"min_justification_chars\":50,"                                               \
    "\"grounds\":[{\"id\":\"acuut-gevaar\",\"title\":\"Acuut gevaar\"}],\"citizen_notice_hours\":0}"
static const char base[] =
    "{\"charter\":\"test-charter\",\"version\":3,\"title\":\"Testhandvest\","
    "\"principles\":[\"De burger regisseert.\"],"
    "\"sections\":" SECTIONS ",\"purposes\":" PURPOSES ",\"grant_roles\":[\"professional\"],"
    "\"override\":" OVERRIDE ","
    "\"sessions\":{\"ttl_minutes\":30},\"enrollment\":{\"code_ttl_days\":30},"
    "\"login\":{\"max_failures\":5,\"lockout_minutes\":15}}";

/* BASE with the first FROM replaced by TO, into a static buffer. */
static const char *mutate(const char *from, const char *to)
{
    static char doc[8192];
    const char *at = strstr(base, from);
    if (!at)
        return NULL;
    snprintf(doc, sizeof doc, "%.*s%s%s", (int)(at - base), base, to, at + strlen(from));
    return doc;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(CHARTER_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, CHARTER_MAX_BYTES + 1, f) : 0;
    fclose(f);
    *len = n;
    return buf;
}

static void test_example(void)
{
    size_t len = 0;
    const char *path = getenv("KLUIS_CHARTER_EXAMPLE");
    char *buf = slurp(path ? path : "policy/charter.example.json", &len);
    CHECK(buf != NULL, "example charter readable (run from the repository root)");
    if (!buf)
        return;
    struct jerr e = {0};
    struct charter *c = charter_load(buf, len, &e);
    CHECK(c != NULL, "example charter loads (%s at '%s': %s)", kerr_code(e.code), e.field, e.msg);
    if (!c) {
        free(buf);
        return;
    }
    unsigned char h[32];
    char hex[65];
    crypto_hash_sha256(h, (const unsigned char *)buf, len);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    CHECK(c->len == len && memcmp(c->bytes, buf, len) == 0 && c->bytes[len] == '\0',
          "example: keeps the exact bytes");
    memset(buf, 'x', len);
    free(buf); /* the charter must not borrow from its input (ASan watches) */
    CHECK(strcmp(c->hash_hex, hex) == 0 && memcmp(c->hash, h, 32) == 0, "example: hash is SHA-256 of the bytes");
    CHECK(strcmp(c->id, "voorbeeldstad-sociaal-domein") == 0 && c->version == 1, "example: id and version");
    CHECK(c->n_principles >= 5 && c->n_sections == 7 && c->n_purposes == 6, "example: counts");
    CHECK(charter_role_may_receive_grants(c, KROLE_PROFESSIONAL) &&
              !charter_role_may_receive_grants(c, KROLE_CITIZEN),
          "example: grants to professionals only");
    CHECK(c->override.authority_role == KROLE_MAYOR && c->override.approver_role == KROLE_OFFICER &&
              c->override.approvals_required == 1 && c->override.max_hours == 72 &&
              c->override.min_justification_chars == 50 && c->override.citizen_notice_hours == 0,
          "example: override rules");
    int all_en = 1, days_ok = 1, secs_ok = 1;
    for (size_t i = 0; i < c->n_sections; i++)
        all_en &= c->sections[i].title_en != NULL;
    for (size_t i = 0; i < c->n_purposes; i++) {
        all_en &= c->purposes[i].title_en != NULL;
        days_ok &= c->purposes[i].max_days >= 90 && c->purposes[i].max_days <= 365;
        secs_ok &= c->purposes[i].n_sections <= 3;
    }
    for (size_t i = 0; i < c->override.n_grounds; i++)
        all_en &= c->override.grounds[i].title_en != NULL;
    CHECK(all_en, "example: English titles everywhere");
    CHECK(days_ok && secs_ok, "example: purposes are narrow (90..365 days, at most 3 sections)");
    const struct charter_purpose *hv = charter_purpose(c, "huisvesting");
    CHECK(hv && !hv->write && charter_purpose_has_section(hv, "wonen") && !charter_purpose_has_section(hv, "plan"),
          "example: huisvesting reads wonen only");
    CHECK(charter_section(c, "plan") && strcmp(charter_section(c, "plan")->title, "Ondersteuningsplan") == 0,
          "example: section plan");
    CHECK(charter_ground(c, "acuut-gevaar") != NULL, "example: ground acuut-gevaar");
    charter_free(c);
}

static void test_loaded(void)
{
    struct jerr e = {0};
    struct charter *c = charter_load(base, strlen(base), &e);
    CHECK(c != NULL, "base charter loads (%s at '%s': %s)", kerr_code(e.code), e.field, e.msg);
    if (!c)
        return;
    const struct charter_purpose *p = charter_purpose(c, "ondersteuning"), *q = charter_purpose(c, "schuldhulp");
    CHECK(p && p->write == 1 && p->max_days == 180 && p->n_sections == 2 && p->title_en == NULL,
          "purpose fields; title_en absent is NULL");
    CHECK(q && q->write == 0 && strcmp(q->title_en, "Debt") == 0, "write absent means read-only");
    CHECK(charter_purpose_has_section(p, "wonen") && !charter_purpose_has_section(p, "schulden") &&
              !charter_purpose_has_section(NULL, "plan") && !charter_purpose_has_section(p, NULL),
          "purpose has section");
    CHECK(charter_section(c, "wonen") && !charter_section(c, "nope") && !charter_section(c, NULL) &&
              !charter_section(NULL, "plan"),
          "section lookup");
    CHECK(charter_purpose(c, "nope") == NULL && charter_ground(c, "nope") == NULL &&
              charter_ground(c, "acuut-gevaar") != NULL,
          "purpose and ground lookup");
    static const enum krole not_grantees[] = {KROLE_NONE, KROLE_CITIZEN, KROLE_MAYOR, KROLE_OFFICER,
                                              KROLE_AUDITOR, KROLE_ADMIN, (enum krole)99};
    for (size_t i = 0; i < sizeof not_grantees / sizeof not_grantees[0]; i++)
        CHECK(!charter_role_may_receive_grants(c, not_grantees[i]), "role %s receives no grants",
              krole_name(not_grantees[i]));
    CHECK(c->session_ttl_minutes == 30 && c->enrollment_code_ttl_days == 30 && c->login_max_failures == 5 &&
              c->login_lockout_minutes == 15,
          "sessions, enrollment, login");

    /* citizen_notice_hours is optional and defaults to at once */
    const char *d = mutate(",\"citizen_notice_hours\":0", "");
    struct charter *c2 = charter_load(d, strlen(d), &e);
    CHECK(c2 && c2->override.citizen_notice_hours == 0, "citizen_notice_hours absent is 0");
    charter_free(c2);
    d = mutate("\"citizen_notice_hours\":0", "\"citizen_notice_hours\":720");
    c2 = charter_load(d, strlen(d), &e);
    CHECK(c2 && c2->override.citizen_notice_hours == 720, "citizen_notice_hours 720 accepted");
    charter_free(c2);
    d = mutate("\"approvals_required\":1", "\"approvals_required\":0");
    c2 = charter_load(d, strlen(d), &e);
    CHECK(c2 && c2->override.approvals_required == 0, "approvals_required 0 accepted (active at once)");
    charter_free(c2);

    /* replacement */
    struct {
        const char *what, *from, *to, *field;
        kerr code;
    } rep[] = {
        {"higher version replaces", "\"version\":3", "\"version\":4", "", KERR_OK},
        {"new id, higher version", "\"charter\":\"test-charter\",\"version\":3",
         "\"charter\":\"ander-handvest\",\"version\":9", "", KERR_OK},
        {"same version refused", "\"title\":\"Testhandvest\"", "\"title\":\"Anders\"", "version", KERR_CONFLICT},
        {"lower version refused", "\"version\":3", "\"version\":2", "version", KERR_CONFLICT},
        {"added section allowed", "{\"id\":\"schulden\",\"title\":\"Schulden\"}],\"purposes\"",
         "{\"id\":\"schulden\",\"title\":\"Schulden\"},{\"id\":\"jeugd\",\"title\":\"Jeugd\"}],\"version\":4,"
         "\"purposes\"",
         "", KERR_OK},
    };
    for (size_t i = 0; i < sizeof rep / sizeof rep[0]; i++) {
        /* the "added section" row moves version after sections: rebuild version explicitly */
        const char *doc = mutate(rep[i].from, rep[i].to);
        char fixed[8192];
        if (strstr(doc, "\"version\":4,\"purposes\"")) {
            const char *v = strstr(doc, "\"version\":3,");
            snprintf(fixed, sizeof fixed, "%.*s%s", (int)(v - doc), doc, v + strlen("\"version\":3,"));
            doc = fixed;
        }
        struct jerr re = {0};
        struct charter *n = charter_load(doc, strlen(doc), &re);
        CHECK(n != NULL, "replacement candidate loads: %s (%s '%s')", rep[i].what, re.msg, re.field);
        int rc = n ? charter_may_replace(c, n, &re) : -1;
        CHECK(rep[i].code == KERR_OK ? rc == 0 : (rc == -1 && re.code == rep[i].code &&
                                                  strcmp(re.field, rep[i].field) == 0),
              "may_replace: %s", rep[i].what);
        charter_free(n);
    }
    {
        /* dropping a section is refused even with a higher version */
        const char *doc =
            "{\"charter\":\"test-charter\",\"version\":4,\"title\":\"T\",\"principles\":[\"P\"],"
            "\"sections\":[{\"id\":\"plan\",\"title\":\"Plan\"},{\"id\":\"wonen\",\"title\":\"Wonen\"}],"
            "\"purposes\":[{\"id\":\"o\",\"title\":\"O\",\"sections\":[\"plan\"],\"max_days\":30}],"
            "\"grant_roles\":[\"professional\"],\"override\":{\"authority_role\":\"mayor\","
            "\"approver_role\":\"officer\",\"approvals_required\":1,\"max_hours\":72,"
            "\"min_justification_chars\":50,\"grounds\":[{\"id\":\"g\",\"title\":\"G\"}]},"
            "\"sessions\":{\"ttl_minutes\":30},\"enrollment\":{\"code_ttl_days\":30},"
            "\"login\":{\"max_failures\":5,\"lockout_minutes\":15}}";
        struct jerr re = {0};
        struct charter *n = charter_load(doc, strlen(doc), &re);
        CHECK(n != NULL, "narrow charter loads (%s '%s')", re.msg, re.field);
        CHECK(n && charter_may_replace(c, n, &re) == -1 && re.code == KERR_CONFLICT &&
                  strcmp(re.field, "sections") == 0 && strstr(re.msg, "schulden"),
              "may_replace: dropping a section refused");
        CHECK(n && charter_may_replace(n, c, &re) == -1 && re.code == KERR_CONFLICT &&
                  strcmp(re.field, "version") == 0,
              "may_replace: version checked before sections");
        charter_free(n);
    }
    charter_free(c);
}

static void test_refusals(void)
{
    char t121[160], t120[160];
    snprintf(t121, sizeof t121, "\"title\":\"%0121d\"", 0); /* 121 bytes: one too many */
    snprintf(t120, sizeof t120, "\"title\":\"%0120d\"", 0);
    struct {
        const char *what, *from, *to, *field;
        kerr code;
    } rows[] = {
        /* unknown fields, at every level */
        {"unknown top-level field", "\"version\":3", "\"version\":3,\"extra\":1", "extra", KERR_BAD_REQUEST},
        {"unknown field in sections[]", "{\"id\":\"wonen\",\"title\":\"Wonen\"}",
         "{\"id\":\"wonen\",\"title\":\"Wonen\",\"color\":\"red\"}", "sections[1].color", KERR_BAD_REQUEST},
        {"unknown field in purposes[]", "\"max_days\":365}", "\"max_days\":365,\"note\":\"x\"}",
         "purposes[1].note", KERR_BAD_REQUEST},
        {"unknown field in override", "\"max_hours\":72", "\"max_hours\":72,\"extra\":1", "override.extra",
         KERR_BAD_REQUEST},
        {"unknown field in grounds[]", "\"title\":\"Acuut gevaar\"}", "\"title\":\"Acuut gevaar\",\"x\":1}",
         "override.grounds[0].x", KERR_BAD_REQUEST},
        {"unknown field in sessions", "\"ttl_minutes\":30", "\"ttl_minutes\":30,\"x\":1", "sessions.x",
         KERR_BAD_REQUEST},
        {"unknown field in enrollment", "\"code_ttl_days\":30", "\"code_ttl_days\":30,\"x\":1", "enrollment.x",
         KERR_BAD_REQUEST},
        {"unknown field in login", "\"lockout_minutes\":15", "\"lockout_minutes\":15,\"x\":1", "login.x",
         KERR_BAD_REQUEST},
        /* missing fields */
        {"missing charter id", "\"charter\":\"test-charter\",", "", "charter", KERR_BAD_REQUEST},
        {"missing version", "\"version\":3,", "", "version", KERR_BAD_REQUEST},
        {"missing principles", "\"principles\":[\"De burger regisseert.\"],", "", "principles", KERR_BAD_REQUEST},
        {"missing section title", ",\"title\":\"Wonen\"", "", "sections[1].title", KERR_BAD_REQUEST},
        {"missing purpose max_days", ",\"max_days\":180", "", "purposes[0].max_days", KERR_BAD_REQUEST},
        {"missing purpose sections", "\"sections\":[\"schulden\"],", "", "purposes[1].sections", KERR_BAD_REQUEST},
        {"missing grant_roles", "\"grant_roles\":[\"professional\"],", "", "grant_roles", KERR_BAD_REQUEST},
        {"missing approvals_required", "\"approvals_required\":1,", "", "override.approvals_required",
         KERR_BAD_REQUEST},
        {"missing grounds", "\"grounds\":[{\"id\":\"acuut-gevaar\",\"title\":\"Acuut gevaar\"}],", "",
         "override.grounds", KERR_BAD_REQUEST},
        {"missing ground title", ",\"title\":\"Acuut gevaar\"", "", "override.grounds[0].title", KERR_BAD_REQUEST},
        {"missing sessions", "\"sessions\":{\"ttl_minutes\":30},", "", "sessions", KERR_BAD_REQUEST},
        {"missing login.max_failures", "\"max_failures\":5,", "", "login.max_failures", KERR_BAD_REQUEST},
        /* identifiers and uniqueness */
        {"bad charter id", "\"test-charter\"", "\"Test Charter\"", "charter", KERR_BAD_REQUEST},
        {"bad section id", "{\"id\":\"wonen\"", "{\"id\":\"Wonen\"", "sections[1].id", KERR_BAD_REQUEST},
        {"duplicate section id", "{\"id\":\"wonen\"", "{\"id\":\"plan\"", "sections[1].id", KERR_BAD_REQUEST},
        {"duplicate purpose id", "{\"id\":\"schuldhulp\"", "{\"id\":\"ondersteuning\"", "purposes[1].id",
         KERR_BAD_REQUEST},
        {"duplicate ground id", "\"title\":\"Acuut gevaar\"}]",
         "\"title\":\"Acuut gevaar\"},{\"id\":\"acuut-gevaar\",\"title\":\"Nog eens\"}]",
         "override.grounds[1].id", KERR_BAD_REQUEST},
        {"purpose names unknown section", "[\"schulden\"]", "[\"schulden\",\"jeugd\"]", "purposes[1].sections[1]",
         KERR_BAD_REQUEST},
        {"purpose sections empty", "[\"schulden\"]", "[]", "purposes[1].sections", KERR_BAD_REQUEST},
        {"purpose section twice", "[\"schulden\"]", "[\"schulden\",\"schulden\"]", "purposes[1].sections",
         KERR_BAD_REQUEST},
        /* numbers */
        {"version 0", "\"version\":3", "\"version\":0", "version", KERR_BAD_REQUEST},
        {"version as string", "\"version\":3", "\"version\":\"3\"", "version", KERR_BAD_REQUEST},
        {"max_days 0", "\"max_days\":180", "\"max_days\":0", "purposes[0].max_days", KERR_BAD_REQUEST},
        {"max_days 3651", "\"max_days\":365", "\"max_days\":3651", "purposes[1].max_days", KERR_BAD_REQUEST},
        {"max_days negative", "\"max_days\":180", "\"max_days\":-1", "purposes[0].max_days", KERR_BAD_REQUEST},
        {"max_days float", "\"max_days\":180", "\"max_days\":180.0", "purposes[0].max_days", KERR_BAD_REQUEST},
        {"write not a bool", "\"write\":true", "\"write\":1", "purposes[0].write", KERR_BAD_REQUEST},
        {"approvals_required -1", "\"approvals_required\":1", "\"approvals_required\":-1",
         "override.approvals_required", KERR_BAD_REQUEST},
        {"approvals_required 10", "\"approvals_required\":1", "\"approvals_required\":10",
         "override.approvals_required", KERR_BAD_REQUEST},
        {"max_hours 0", "\"max_hours\":72", "\"max_hours\":0", "override.max_hours", KERR_BAD_REQUEST},
        {"max_hours 169", "\"max_hours\":72", "\"max_hours\":169", "override.max_hours", KERR_BAD_REQUEST},
        {"min_justification_chars 0", "\"min_justification_chars\":50", "\"min_justification_chars\":0",
         "override.min_justification_chars", KERR_BAD_REQUEST},
        {"citizen_notice_hours -1", "\"citizen_notice_hours\":0", "\"citizen_notice_hours\":-1",
         "override.citizen_notice_hours", KERR_BAD_REQUEST},
        {"citizen_notice_hours 721", "\"citizen_notice_hours\":0", "\"citizen_notice_hours\":721",
         "override.citizen_notice_hours", KERR_BAD_REQUEST},
        {"ttl_minutes 0", "\"ttl_minutes\":30", "\"ttl_minutes\":0", "sessions.ttl_minutes", KERR_BAD_REQUEST},
        {"ttl_minutes 1441", "\"ttl_minutes\":30", "\"ttl_minutes\":1441", "sessions.ttl_minutes",
         KERR_BAD_REQUEST},
        {"code_ttl_days 0", "\"code_ttl_days\":30", "\"code_ttl_days\":0", "enrollment.code_ttl_days",
         KERR_BAD_REQUEST},
        {"code_ttl_days 91", "\"code_ttl_days\":30", "\"code_ttl_days\":91", "enrollment.code_ttl_days",
         KERR_BAD_REQUEST},
        {"max_failures 0", "\"max_failures\":5", "\"max_failures\":0", "login.max_failures", KERR_BAD_REQUEST},
        {"lockout_minutes 0", "\"lockout_minutes\":15", "\"lockout_minutes\":0", "login.lockout_minutes",
         KERR_BAD_REQUEST},
        /* roles */
        {"grant_roles admin", "[\"professional\"]", "[\"admin\"]", "grant_roles[0]", KERR_BAD_REQUEST},
        {"grant_roles adds citizen", "[\"professional\"]", "[\"professional\",\"citizen\"]", "grant_roles[1]",
         KERR_BAD_REQUEST},
        {"grant_roles unknown role", "[\"professional\"]", "[\"buurman\"]", "grant_roles[0]", KERR_BAD_REQUEST},
        {"grant_roles empty", "[\"professional\"]", "[]", "grant_roles", KERR_BAD_REQUEST},
        {"authority_role officer", "\"authority_role\":\"mayor\"", "\"authority_role\":\"officer\"",
         "override.authority_role", KERR_BAD_REQUEST},
        {"approver_role auditor", "\"approver_role\":\"officer\"", "\"approver_role\":\"auditor\"",
         "override.approver_role", KERR_BAD_REQUEST},
        {"approver_role not a role", "\"approver_role\":\"officer\"", "\"approver_role\":\"wethouder\"",
         "override.approver_role", KERR_BAD_REQUEST},
        /* text */
        {"title empty", "\"title\":\"Testhandvest\"", "\"title\":\"\"", "title", KERR_BAD_REQUEST},
        {"title blank", "\"title\":\"Testhandvest\"", "\"title\":\"   \"", "title", KERR_BAD_REQUEST},
        {"title with newline", "\"title\":\"Testhandvest\"", "\"title\":\"Test\\nhandvest\"", "title",
         KERR_BAD_REQUEST},
        {"section title too long", "\"title\":\"Plan\"", t121, "sections[0].title", KERR_BAD_REQUEST},
        {"section title_en empty", "\"title_en\":\"Plan\"", "\"title_en\":\"\"", "sections[0].title_en",
         KERR_BAD_REQUEST},
        {"purpose title tab", "\"title\":\"Schuldhulp\"", "\"title\":\"Schuld\\thulp\"", "purposes[1].title",
         KERR_BAD_REQUEST},
        {"ground title_en blank", "\"title\":\"Acuut gevaar\"", "\"title\":\"Acuut gevaar\",\"title_en\":\" \"",
         "override.grounds[0].title_en", KERR_BAD_REQUEST},
        {"principles empty", "[\"De burger regisseert.\"]", "[]", "principles", KERR_BAD_REQUEST},
        {"principle empty", "[\"De burger regisseert.\"]", "[\"De burger regisseert.\",\"\"]", "principles[1]",
         KERR_BAD_REQUEST},
        {"principle not a string", "[\"De burger regisseert.\"]", "[1]", "principles[0]", KERR_BAD_REQUEST},
        /* shapes */
        {"sections empty", SECTIONS, "[]", "sections", KERR_BAD_REQUEST},
        {"sections an object", SECTIONS, "{\"plan\":1}", "sections", KERR_BAD_REQUEST},
        {"section item not an object", "{\"id\":\"wonen\",\"title\":\"Wonen\"}", "\"wonen\"", "sections[1]",
         KERR_BAD_REQUEST},
        {"purposes empty", PURPOSES, "[]", "purposes", KERR_BAD_REQUEST},
        {"purpose item not an object", PURPOSES, "[null]", "purposes[0]", KERR_BAD_REQUEST},
        {"grounds empty", "[{\"id\":\"acuut-gevaar\",\"title\":\"Acuut gevaar\"}]", "[]", "override.grounds",
         KERR_BAD_REQUEST},
        {"ground item not an object", "[{\"id\":\"acuut-gevaar\",\"title\":\"Acuut gevaar\"}]", "[\"x\"]",
         "override.grounds[0]", KERR_BAD_REQUEST},
        {"override an array", OVERRIDE, "[" OVERRIDE "]", "override", KERR_BAD_REQUEST},
        {"sessions not an object", "\"sessions\":{\"ttl_minutes\":30}", "\"sessions\":30", "sessions",
         KERR_BAD_REQUEST},
        {"too many sections", SECTIONS,
         "[{\"id\":\"s0\",\"title\":\"x\"},{\"id\":\"s1\",\"title\":\"x\"},{\"id\":\"s2\",\"title\":\"x\"},"
         "{\"id\":\"s3\",\"title\":\"x\"},{\"id\":\"s4\",\"title\":\"x\"},{\"id\":\"s5\",\"title\":\"x\"},"
         "{\"id\":\"s6\",\"title\":\"x\"},{\"id\":\"s7\",\"title\":\"x\"},{\"id\":\"s8\",\"title\":\"x\"},"
         "{\"id\":\"s9\",\"title\":\"x\"},{\"id\":\"s10\",\"title\":\"x\"},{\"id\":\"s11\",\"title\":\"x\"},"
         "{\"id\":\"s12\",\"title\":\"x\"},{\"id\":\"s13\",\"title\":\"x\"},{\"id\":\"s14\",\"title\":\"x\"},"
         "{\"id\":\"s15\",\"title\":\"x\"},{\"id\":\"s16\",\"title\":\"x\"},{\"id\":\"s17\",\"title\":\"x\"},"
         "{\"id\":\"s18\",\"title\":\"x\"},{\"id\":\"s19\",\"title\":\"x\"},{\"id\":\"s20\",\"title\":\"x\"},"
         "{\"id\":\"s21\",\"title\":\"x\"},{\"id\":\"s22\",\"title\":\"x\"},{\"id\":\"s23\",\"title\":\"x\"},"
         "{\"id\":\"s24\",\"title\":\"x\"},{\"id\":\"s25\",\"title\":\"x\"},{\"id\":\"s26\",\"title\":\"x\"},"
         "{\"id\":\"s27\",\"title\":\"x\"},{\"id\":\"s28\",\"title\":\"x\"},{\"id\":\"s29\",\"title\":\"x\"},"
         "{\"id\":\"s30\",\"title\":\"x\"},{\"id\":\"s31\",\"title\":\"x\"},{\"id\":\"s32\",\"title\":\"x\"}]",
         "sections", KERR_BAD_REQUEST},
        /* JSON level */
        {"duplicate top-level key", "\"version\":3", "\"version\":3,\"version\":4", "", KERR_BAD_REQUEST},
        {"duplicate key in a section", "{\"id\":\"wonen\"", "{\"id\":\"wonen\",\"id\":\"wonen\"", "", KERR_BAD_REQUEST},
        {"trailing garbage", "\"lockout_minutes\":15}}", "\"lockout_minutes\":15}} x", "", KERR_BAD_JSON},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const char *doc = mutate(rows[i].from, rows[i].to);
        if (!doc) {
            CHECK(0, "refuses: %s (mutation does not apply)", rows[i].what);
            continue;
        }
        struct jerr e = {0};
        struct charter *c = charter_load(doc, strlen(doc), &e);
        CHECK(c == NULL && e.code == rows[i].code && strcmp(e.field, rows[i].field) == 0,
              "refuses: %s (got %s at '%s': %s)", rows[i].what, kerr_code(e.code), e.field, e.msg);
        charter_free(c);
    }

    /* whole-document refusals, and the boundaries that pass */
    struct jerr e = {0};
    {
        const char *doc = mutate("\"title\":\"Plan\"", t120);
        struct charter *c = charter_load(doc, strlen(doc), &e);
        CHECK(c && strlen(c->sections[0].title) == CHARTER_MAX_ITEM_TITLE, "accepts: a title of 120 bytes");
        charter_free(c);
        doc = mutate("\"max_days\":365", "\"max_days\":3650");
        c = charter_load(doc, strlen(doc), &e);
        CHECK(c && c->purposes[1].max_days == CHARTER_MAX_DAYS, "accepts: max_days 3650");
        charter_free(c);
        doc = mutate("\"max_hours\":72", "\"max_hours\":168");
        c = charter_load(doc, strlen(doc), &e);
        CHECK(c && c->override.max_hours == 168, "accepts: max_hours 168");
        charter_free(c);
    }
    CHECK(charter_load("[]", 2, &e) == NULL && e.code == KERR_BAD_REQUEST && e.field[0] == '\0',
          "refuses: top level not an object");
    CHECK(charter_load("", 0, &e) == NULL && e.code == KERR_BAD_JSON, "refuses: empty input");
    char *big = malloc(CHARTER_MAX_BYTES + 2);
    if (big) {
        memset(big, ' ', CHARTER_MAX_BYTES + 1);
        memcpy(big, base, strlen(base));
        CHECK(charter_load(big, CHARTER_MAX_BYTES + 1, &e) == NULL && e.code == KERR_TOO_LARGE,
              "refuses: over CHARTER_MAX_BYTES");
        struct charter *c = charter_load(big, CHARTER_MAX_BYTES, &e);
        CHECK(c && c->len == CHARTER_MAX_BYTES,
              "accepts exactly CHARTER_MAX_BYTES; the adopted bytes include trailing white space");
        charter_free(c);
        free(big);
    }
    CHECK(charter_load("{", 1, NULL) == NULL, "a NULL err is allowed");
    {
        const char raw[] = "{\"charter\":\"a\0\"}";
        CHECK(charter_load(raw, sizeof raw - 1, &e) == NULL && e.code == KERR_BAD_JSON, "refuses: raw NUL");
    }
}

static void test_roles(void)
{
    static const char *const names[] = {"citizen", "professional", "mayor", "officer", "auditor", "admin"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        CHECK(krole_parse(names[i]) != KROLE_NONE && strcmp(krole_name(krole_parse(names[i])), names[i]) == 0,
              "role %s round-trips", names[i]);
    CHECK(krole_parse(NULL) == KROLE_NONE && krole_parse("") == KROLE_NONE && krole_parse("Mayor") == KROLE_NONE &&
              krole_parse("none") == KROLE_NONE,
          "non-roles parse to KROLE_NONE");
    CHECK(strcmp(krole_name((enum krole)42), "none") == 0, "out-of-range role name");
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_roles();
    test_example();
    test_loaded();
    test_refusals();
    return TEST_END();
}
