/*
 * fuzz/fuzz_jspec.c — request JSON: jspec_parse() and jspec_extract() (vault/jspec.h).
 *
 * Input: the raw request body. It is parsed once, then checked against field tables — copies of
 * the enrollment body of POST /v1/citizens/{c}/enroll with its per-section items (api/citizens.c),
 * the grant body of POST /v1/citizens/{c}/grants with its wraps (api/grants.c), and one table
 * using every jspec type — first with typed outputs, then validation-only (every out NULL). Oracles: a parsed document
 * re-serialises and re-parses to an equal one; a successful extract means every key is in the
 * table, every required field is there, and every output is within the table's bounds; a failed
 * extract leaves no JS_B64_VAR output allocated; the validation-only run agrees with the typed one.
 */
#include "fuzz/fuzz_common.h"
#include "vault/encoding.h"
#include "vault/jspec.h"

#include <sodium.h>

#define MAX_SPEC 16

/* Outputs of one extraction, big enough for any table below. */
struct outs {
    const char *str[MAX_SPEC];
    int64_t i64[MAX_SPEC];
    int flag[MAX_SPEC];
    unsigned char b64[MAX_SPEC][128];
    struct jspec_bytes var[MAX_SPEC];
    json_t *js[MAX_SPEC];
    int present[MAX_SPEC];
};

/* A table written without outputs; wire() points each field at its slot in struct outs. */
struct table {
    const char *name;
    struct jspec spec[MAX_SPEC];
    size_t n;
};

static const struct table enroll = {
    "enroll",
    {
        {.name = "enrollment_code", .type = JS_STRING, .len = 64},
        {.name = "sign_pk", .type = JS_B64, .len = 32},
        {.name = "box_pk", .type = JS_B64, .len = 32},
        {.name = "salt", .type = JS_B64, .len = 16},
        {.name = "opslimit", .type = JS_INT, .min = 1, .max = INT64_MAX},
        {.name = "memlimit", .type = JS_INT, .min = 1, .max = INT64_MAX},
        {.name = "bundle", .type = JS_B64, .len = 104},
        {.name = "auth_hash", .type = JS_B64, .len = 32},
        {.name = "sections", .type = JS_ARRAY, .max = 32},
    },
    9,
};

static const struct table enroll_section = {
    "enroll.sections[]",
    {
        {.name = "section", .type = JS_ID},
        {.name = "epoch", .type = JS_INT, .min = 1, .max = 1},
        {.name = "statement", .type = JS_STRING, .len = 65536 / 3 * 4 + 4},
        {.name = "signature", .type = JS_STRING, .len = 128},
        {.name = "self_wrap", .type = JS_B64, .len = 80},
        {.name = "escrow_wrap", .type = JS_B64, .len = 128},
    },
    6,
};

static const struct table grant = {
    "grant",
    {
        {.name = "statement", .type = JS_STRING, .len = 90000},
        {.name = "signature", .type = JS_STRING, .len = 128},
        {.name = "wraps", .type = JS_ARRAY, .max = 1024},
    },
    3,
};

static const struct table grant_wrap = {
    "grant.wraps[]",
    {
        {.name = "section", .type = JS_ID},
        {.name = "epoch", .type = JS_INT, .min = 1, .max = INT64_MAX},
        {.name = "wrap", .type = JS_B64, .len = 80},
    },
    3,
};

/* Every type, all optional but one, a JS_B64_VAR first so that a later failure must undo it. */
static const struct table every = {
    "every",
    {
        {.name = "v", .type = JS_B64_VAR, .optional = 1, .len = 64},
        {.name = "w", .type = JS_B64_VAR, .optional = 1, .len = 3},
        {.name = "s", .type = JS_STRING, .optional = 1, .len = 8},
        {.name = "t", .type = JS_STRING, .optional = 1},
        {.name = "id", .type = JS_ID},
        {.name = "n", .type = JS_INT, .optional = 1, .min = -5, .max = 5},
        {.name = "u", .type = JS_INT, .optional = 1},
        {.name = "b", .type = JS_BOOL, .optional = 1},
        {.name = "k", .type = JS_B64, .optional = 1, .len = 32},
        {.name = "ids", .type = JS_ID_ARRAY, .optional = 1, .max = 4},
        {.name = "ids2", .type = JS_ID_ARRAY, .optional = 1},
        {.name = "a", .type = JS_ARRAY, .optional = 1, .max = 8},
        {.name = "o", .type = JS_OBJECT, .optional = 1},
        {.name = "x", .type = JS_ANY, .optional = 1},
    },
    14,
};

static void wire(struct jspec *spec, const struct table *t, struct outs *o, int with_outputs)
{
    memset(o, 0, sizeof *o);
    for (size_t i = 0; i < t->n; i++) {
        spec[i] = t->spec[i];
        spec[i].present = with_outputs ? &o->present[i] : NULL;
        void *out = NULL;
        switch (spec[i].type) {
        case JS_STRING:
        case JS_ID: out = &o->str[i]; break;
        case JS_INT: out = &o->i64[i]; break;
        case JS_BOOL: out = &o->flag[i]; break;
        case JS_B64: out = o->b64[i]; break;
        case JS_B64_VAR: out = &o->var[i]; break;
        default: out = &o->js[i]; break;
        }
        spec[i].out = with_outputs ? out : NULL;
        /* A poison value, so an untouched output on success is told from a written one. */
        if (spec[i].type == JS_B64_VAR)
            o->var[i].data = (unsigned char *)&o->var[i], o->var[i].len = 99999;
    }
}

static int in_table(const struct jspec *spec, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(spec[i].name, key) == 0)
            return 1;
    return 0;
}

/* Check the outputs of a successful extraction against the table. */
static void check_success(json_t *obj, const struct jspec *spec, size_t n, struct outs *o)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) FUZZ_ASSERT(in_table(spec, n, key));
    for (size_t i = 0; i < n; i++) {
        const struct jspec *s = &spec[i];
        json_t *val = json_object_get(obj, s->name);
        FUZZ_ASSERT(val || s->optional);
        FUZZ_ASSERT(o->present[i] == (val != NULL));
        if (!val)
            continue;
        switch (s->type) {
        case JS_STRING:
            FUZZ_ASSERT(o->str[i] && strlen(o->str[i]) <= (s->len ? s->len : 65536));
            break;
        case JS_ID:
            FUZZ_ASSERT(jspec_is_id(o->str[i]) && strlen(o->str[i]) <= 63);
            break;
        case JS_INT: {
            int64_t lo = s->min, hi = s->max ? s->max : INT64_MAX;
            FUZZ_ASSERT(o->i64[i] >= lo && o->i64[i] <= hi);
            break;
        }
        case JS_BOOL:
            FUZZ_ASSERT(o->flag[i] == 0 || o->flag[i] == 1);
            break;
        case JS_B64: {
            /* Decoding is strict, so what was accepted is the one encoding of what came out. */
            char *enc = b64_encode(o->b64[i], s->len);
            FUZZ_ASSERT(enc && strcmp(enc, json_string_value(val)) == 0);
            free(enc);
            break;
        }
        case JS_B64_VAR: {
            FUZZ_ASSERT(o->var[i].data && o->var[i].len >= 1 && o->var[i].len <= s->len);
            char *enc = b64_encode(o->var[i].data, o->var[i].len);
            FUZZ_ASSERT(enc && strcmp(enc, json_string_value(val)) == 0);
            free(enc);
            break;
        }
        case JS_ID_ARRAY: {
            size_t k;
            json_t *e;
            FUZZ_ASSERT(json_array_size(o->js[i]) >= 1 && json_array_size(o->js[i]) <= (s->max ? (size_t)s->max : 64));
            json_array_foreach(o->js[i], k, e) FUZZ_ASSERT(jspec_is_id(json_string_value(e)));
            break;
        }
        case JS_ARRAY:
            FUZZ_ASSERT(json_is_array(o->js[i]) && json_array_size(o->js[i]) <= (s->max ? (size_t)s->max : 1024));
            break;
        case JS_OBJECT:
            FUZZ_ASSERT(json_is_object(o->js[i]));
            break;
        default:
            FUZZ_ASSERT(o->js[i] == val);
            break;
        }
    }
}

static void release(const struct jspec *spec, size_t n, struct outs *o, int ok)
{
    for (size_t i = 0; i < n; i++) {
        if (spec[i].type != JS_B64_VAR || !spec[i].out)
            continue;
        if (ok) {
            if (o->var[i].data != (unsigned char *)&o->var[i])
                free(o->var[i].data);
        } else {
            /* On failure a filled JS_B64_VAR output is freed and zeroed (jspec.h); one never
             * reached (an unknown field is refused before any is filled) keeps our poison. */
            FUZZ_ASSERT((o->var[i].data == NULL && o->var[i].len == 0) ||
                        (o->var[i].data == (unsigned char *)&o->var[i] && o->var[i].len == 99999));
        }
    }
}

/* Extract with outputs, then validation-only; both must agree. Returns the typed run's result. */
static int apply(json_t *obj, const struct table *t, struct outs *o)
{
    struct jspec spec[MAX_SPEC], bare[MAX_SPEC];
    struct outs scratch;
    struct jerr e1, e2;
    memset(&e1, 0, sizeof e1);
    memset(&e2, 0, sizeof e2);
    wire(spec, t, o, 1);
    int rc = jspec_extract(obj, spec, t->n, &e1);
    if (rc == 0)
        check_success(obj, spec, t->n, o);
    else
        FUZZ_ASSERT(e1.code != KERR_OK && e1.code != KERR_INTERNAL && memchr(e1.field, 0, sizeof e1.field));
    wire(bare, t, &scratch, 0);
    int rc2 = jspec_extract(obj, bare, t->n, &e2);
    FUZZ_ASSERT(rc == rc2);
    if (rc != 0)
        FUZZ_ASSERT(e1.code == e2.code && strcmp(e1.field, e2.field) == 0);
    release(spec, t->n, o, rc == 0);
    return rc;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    if (sodium_init() < 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct jerr err;
    struct outs o;
    memset(&err, 0, sizeof err);
    json_t *obj = jspec_parse((const char *)data, size, &err);
    if (!obj) {
        FUZZ_ASSERT(err.code == KERR_BAD_JSON || err.code == KERR_BAD_REQUEST);
        return 0;
    }
    FUZZ_ASSERT(json_is_object(obj));

    /* What we accepted, we can write and read back unchanged. */
    char *text = json_dumps(obj, JSON_COMPACT | JSON_ENCODE_ANY);
    FUZZ_ASSERT(text);
    json_t *again = jspec_parse(text, strlen(text), &err);
    FUZZ_ASSERT(again && json_equal(obj, again));
    json_decref(again);
    free(text);

    size_t i;
    json_t *item, *arr;
    /* Keep the array: apply() reuses O for the items. */
    if (apply(obj, &enroll, &o) == 0 && (arr = o.js[8]) != NULL)
        json_array_foreach(arr, i, item) (void)apply(item, &enroll_section, &o);
    if (apply(obj, &grant, &o) == 0 && (arr = o.js[2]) != NULL)
        json_array_foreach(arr, i, item) (void)apply(item, &grant_wrap, &o);
    (void)apply(obj, &every, &o);
    if (json_is_object(json_object_get(obj, "o")))
        (void)apply(json_object_get(obj, "o"), &every, &o);

    json_decref(obj);
    return 0;
}
