/* tests/unit/test_jspec.c — strict JSON input and field specs (SPEC §2). */
#include "tests/test.h"
#include "vault/jspec.h"

#include <sodium.h>

TEST_MAIN_DEFS

static kerr parse_code(const char *txt)
{
    struct jerr e = {0};
    json_t *j = jspec_parse(txt, strlen(txt), &e);
    if (j) {
        json_decref(j);
        return KERR_OK;
    }
    return e.code;
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    CHECK(parse_code("{\"a\":1}") == KERR_OK, "plain object parses");
    CHECK(parse_code("{\"a\":1,\"a\":2}") == KERR_BAD_REQUEST, "duplicate key refused as bad_request");
    CHECK(parse_code("{\"o\":{\"a\":1,\"a\":2}}") == KERR_BAD_REQUEST, "nested duplicate key refused");
    CHECK(parse_code("[1]") == KERR_BAD_REQUEST, "top-level array refused");
    CHECK(parse_code("{\"a\":1} x") == KERR_BAD_JSON, "trailing garbage refused");
    CHECK(parse_code("{\"a\":\"x\\u0000y\"}") == KERR_BAD_JSON, "escaped NUL refused");
    CHECK(parse_code("{\"a\":\"\xff\"}") == KERR_BAD_JSON, "invalid UTF-8 refused");
    {
        struct jerr e = {0};
        const char raw[] = "{\"a\":\"x\0y\"}";
        CHECK(jspec_parse(raw, sizeof raw - 1, &e) == NULL && e.code == KERR_BAD_JSON, "raw NUL refused");
    }
    {
        char deep[256] = "", *p = deep;
        /* depth 16 accepted, 17 refused */
        for (int d = 0; d < 16; d++) p += sprintf(p, "{\"a\":");
        p += sprintf(p, "1");
        for (int d = 0; d < 16; d++) p += sprintf(p, "}");
        CHECK(parse_code(deep) == KERR_OK, "nesting of 16 accepted");
        p = deep;
        for (int d = 0; d < 17; d++) p += sprintf(p, "{\"a\":");
        p += sprintf(p, "1");
        for (int d = 0; d < 17; d++) p += sprintf(p, "}");
        CHECK(parse_code(deep) == KERR_BAD_JSON, "nesting of 17 refused");
    }
    CHECK(jspec_is_id("burger-0001") && jspec_is_id("a") && jspec_is_id("0.a_b-c"), "valid ids");
    CHECK(!jspec_is_id("") && !jspec_is_id("-a") && !jspec_is_id("A") && !jspec_is_id("a b") &&
              !jspec_is_id("a/b") && !jspec_is_id(".a"),
          "invalid ids refused");
    {
        char id63[64], id64[65];
        memset(id63, 'a', 63); id63[63] = 0;
        memset(id64, 'a', 64); id64[64] = 0;
        CHECK(jspec_is_id(id63) && !jspec_is_id(id64), "id length limit 63");
    }

    const char *id = NULL, *name = NULL;
    int64_t days = 0;
    unsigned char pk[32];
    struct jspec_bytes blob = {0};
    json_t *secs = NULL;
    int has_note = -1;
    const char *note = NULL;
    struct jspec spec[] = {
        {.name = "id", .type = JS_ID, .out = &id},
        {.name = "name", .type = JS_STRING, .out = &name, .len = 10},
        {.name = "days", .type = JS_INT, .out = &days, .min = 1, .max = 365},
        {.name = "pk", .type = JS_B64, .out = pk, .len = 32},
        {.name = "blob", .type = JS_B64_VAR, .out = &blob, .len = 8},
        {.name = "sections", .type = JS_ID_ARRAY, .out = &secs},
        {.name = "note", .type = JS_STRING, .out = &note, .optional = 1, .present = &has_note},
    };
    const size_t n = sizeof spec / sizeof spec[0];
    const char *good = "{\"id\":\"c-1\",\"name\":\"Anna\",\"days\":30,"
                       "\"pk\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"blob\":\"AQID\","
                       "\"sections\":[\"plan\",\"wonen\"]}";
    struct {
        const char *what, *json, *field;
        kerr code;
    } rows[] = {
        {"all good", good, "", KERR_OK},
        {"unknown field", "{\"id\":\"c\",\"zz\":1}", "zz", KERR_BAD_REQUEST},
        {"missing field", "{\"id\":\"c-1\"}", "name", KERR_BAD_REQUEST},
        {"bad id", "{\"id\":\"C 1\"}", "id", KERR_BAD_REQUEST},
        {"id wrong type", "{\"id\":5}", "id", KERR_BAD_REQUEST},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct jerr e = {0};
        json_t *j = jspec_parse(rows[i].json, strlen(rows[i].json), &e);
        int rc = j ? jspec_extract(j, spec, n, &e) : -1;
        CHECK((rows[i].code == KERR_OK) == (rc == 0) && (rc == 0 || (e.code == rows[i].code &&
                                                          strcmp(e.field, rows[i].field) == 0)),
              "extract: %s", rows[i].what);
        if (rc == 0) {
            CHECK(strcmp(id, "c-1") == 0 && days == 30 && blob.len == 3 && blob.data[2] == 3 &&
                      json_array_size(secs) == 2 && has_note == 0 && note == NULL,
                  "extract fills outputs");
            free(blob.data);
        }
        json_decref(j);
    }
    /* One-field mutations of the good document, each with its expected code and field. */
    struct {
        const char *what, *from, *to, *field;
        kerr code;
    } mut[] = {
        {"string too long", "\"Anna\"", "\"Annabellaaa\"", "name", KERR_BAD_REQUEST},
        {"int below min", "30", "0", "days", KERR_BAD_REQUEST},
        {"int above max", "30", "366", "days", KERR_BAD_REQUEST},
        {"int as float", "30", "30.0", "days", KERR_BAD_REQUEST},
        {"int as string", "30", "\"30\"", "days", KERR_BAD_REQUEST},
        {"key too short", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "AAAA", "pk", KERR_BAD_ENCODING},
        {"key padded", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
         "pk", KERR_BAD_ENCODING},
        {"key std alphabet", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+",
         "pk", KERR_BAD_ENCODING},
        {"blob too long", "\"AQID\"", "\"AQIDBAUGBwgJ\"", "blob", KERR_BAD_ENCODING},
        {"blob empty", "\"AQID\"", "\"\"", "blob", KERR_BAD_ENCODING},
        {"sections empty", "[\"plan\",\"wonen\"]", "[]", "sections", KERR_BAD_REQUEST},
        {"sections dup", "[\"plan\",\"wonen\"]", "[\"plan\",\"plan\"]", "sections", KERR_BAD_REQUEST},
        {"sections bad id", "[\"plan\",\"wonen\"]", "[\"Plan\"]", "sections", KERR_BAD_REQUEST},
    };
    for (size_t i = 0; i < sizeof mut / sizeof mut[0]; i++) {
        char doc[512];
        const char *at = strstr(good, mut[i].from);
        snprintf(doc, sizeof doc, "%.*s%s%s", (int)(at - good), good, mut[i].to, at + strlen(mut[i].from));
        struct jerr e = {0};
        json_t *j = jspec_parse(doc, strlen(doc), &e);
        int rc = j ? jspec_extract(j, spec, n, &e) : -1;
        CHECK(rc == -1 && e.code == mut[i].code && strcmp(e.field, mut[i].field) == 0 && blob.data == NULL,
              "extract refuses: %s (got %s field '%s')", mut[i].what, kerr_code(e.code), e.field);
        json_decref(j);
    }
    return TEST_END();
}
