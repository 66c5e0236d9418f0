/*
 * vault/jspec.c — the gate every JSON input passes: strict parsing and declarative field specs.
 *
 * Jansson does the parsing (it validates UTF-8, refuses "\u0000" unless asked, and refuses trailing
 * bytes); we add what SPEC §2 asks on top: duplicate keys are refused (JSON_REJECT_DUPLICATES), a
 * nesting limit of 16 checked by a bounded walk, and a top level that must be an object. Field specs
 * keep handlers declarative, in the manner of GNU Taler's GNUNET_JSON_spec: a handler lists what it
 * takes, and everything else is refused with the name of the field at fault.
 */
#include "vault/jspec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/encoding.h"

int jerr_set(struct jerr *err, kerr code, const char *field, const char *fmt, ...)
{
    if (!err)
        return -1;
    err->code = code;
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int jspec_is_id(const char *s)
{
    size_t i = 0;
    if (!s)
        return 0;
    for (; s[i]; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (i > 0)
            ok = ok || c == '.' || c == '_' || c == '-';
        if (!ok || i >= 63)
            return 0;
    }
    return i > 0;
}

/* Depth of containers, the top-level object counting as 1; stops early once over LIMIT. */
static int too_deep(json_t *v, int depth)
{
    if (!json_is_object(v) && !json_is_array(v))
        return 0;
    if (depth > JSPEC_MAX_DEPTH)
        return 1;
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach(v, k, c) {
            if (too_deep(c, depth + 1))
                return 1;
        }
    } else {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c) {
            if (too_deep(c, depth + 1))
                return 1;
        }
    }
    return 0;
}

json_t *jspec_parse(const char *buf, size_t len, struct jerr *err)
{
    json_error_t je;
    if (!buf) {
        jerr_set(err, KERR_BAD_JSON, NULL, "empty body");
        return NULL;
    }
    if (memchr(buf, '\0', len)) {
        jerr_set(err, KERR_BAD_JSON, NULL, "the body contains a NUL byte");
        return NULL;
    }
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!root && json_error_code(&je) == json_error_duplicate_key) {
        /* SPEC §2: duplicate keys are a 400 bad_request, like unknown fields. */
        jerr_set(err, KERR_BAD_REQUEST, NULL, "duplicate key in a JSON object (line %d column %d)", je.line,
                 je.column);
        return NULL;
    }
    if (!root) {
        jerr_set(err, KERR_BAD_JSON, NULL, "invalid JSON at line %d column %d: %s", je.line,
                 je.column, je.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        jerr_set(err, KERR_BAD_REQUEST, NULL, "the top level must be a JSON object");
        return NULL;
    }
    if (too_deep(root, 1)) {
        json_decref(root);
        jerr_set(err, KERR_BAD_JSON, NULL, "nesting deeper than %d levels", JSPEC_MAX_DEPTH);
        return NULL;
    }
    return root;
}

static const struct jspec *find(const struct jspec *spec, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(spec[i].name, name) == 0)
            return &spec[i];
    return NULL;
}

static int one(const struct jspec *s, json_t *v, struct jerr *err)
{
    switch (s->type) {
    case JS_STRING: {
        size_t max = s->len ? s->len : 65536;
        if (!json_is_string(v))
            return jerr_set(err, KERR_BAD_REQUEST, s->name, "'%s' must be a string", s->name);
        const char *str = json_string_value(v);
        size_t l = json_string_length(v);
        if (strlen(str) != l || l > max)
            return jerr_set(err, KERR_BAD_REQUEST, s->name,
                            "'%s' must be a string of at most %zu bytes without NUL", s->name, max);
        if (s->out)
            *(const char **)s->out = str;
        return 0;
    }
    case JS_ID: {
        if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
            !jspec_is_id(json_string_value(v)))
            return jerr_set(err, KERR_BAD_REQUEST, s->name,
                            "'%s' must be an identifier (^[a-z0-9][a-z0-9._-]{0,62}$)", s->name);
        if (s->out)
            *(const char **)s->out = json_string_value(v);
        return 0;
    }
    case JS_INT: {
        if (!json_is_integer(v))
            return jerr_set(err, KERR_BAD_REQUEST, s->name, "'%s' must be an integer", s->name);
        json_int_t x = json_integer_value(v);
        int64_t lo = s->min, hi = s->max;
        if (lo == 0 && hi == 0)
            hi = INT64_MAX;
        if (x < lo || x > hi)
            return jerr_set(err, KERR_BAD_REQUEST, s->name, "'%s' must be between %lld and %lld",
                            s->name, (long long)lo, (long long)hi);
        if (s->out)
            *(int64_t *)s->out = (int64_t)x;
        return 0;
    }
    case JS_BOOL:
        if (!json_is_boolean(v))
            return jerr_set(err, KERR_BAD_REQUEST, s->name, "'%s' must be true or false", s->name);
        if (s->out)
            *(int *)s->out = json_is_true(v);
        return 0;
    case JS_B64: {
        unsigned char tmp[512];
        if (!json_is_string(v))
            return jerr_set(err, KERR_BAD_REQUEST, s->name, "'%s' must be a base64url string", s->name);
        unsigned char *dst = s->out ? (unsigned char *)s->out : tmp;
        if (!s->out && s->len > sizeof tmp)
            return jerr_set(err, KERR_INTERNAL, s->name, "spec for '%s' too long to validate", s->name);
        if (b64_decode_exact(dst, s->len, json_string_value(v)) != 0)
            return jerr_set(err, KERR_BAD_ENCODING, s->name,
                            "'%s' must be base64url (no padding) of exactly %zu bytes", s->name, s->len);
        return 0;
    }
    case JS_B64_VAR: {
        if (!json_is_string(v))
            return jerr_set(err, KERR_BAD_REQUEST, s->name, "'%s' must be a base64url string", s->name);
        const char *str = json_string_value(v);
        size_t l = json_string_length(v);
        size_t cap = l / 4 * 3 + 3;
        if (cap > s->len + 3 || l == 0)
            return jerr_set(err, KERR_BAD_ENCODING, s->name,
                            "'%s' must be base64url of 1 to %zu bytes", s->name, s->len);
        unsigned char *buf = malloc(cap);
        size_t got = 0;
        if (!buf)
            return jerr_set(err, KERR_INTERNAL, s->name, "out of memory");
        if (b64_decode(buf, cap, &got, str, l) != 0 || got == 0 || got > s->len) {
            free(buf);
            return jerr_set(err, KERR_BAD_ENCODING, s->name,
                            "'%s' must be base64url (no padding) of 1 to %zu bytes", s->name, s->len);
        }
        if (s->out) {
            ((struct jspec_bytes *)s->out)->data = buf;
            ((struct jspec_bytes *)s->out)->len = got;
        } else {
            free(buf);
        }
        return 0;
    }
    case JS_ID_ARRAY: {
        size_t max = s->max ? (size_t)s->max : 64, i, j;
        json_t *e;
        if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > max)
            return jerr_set(err, KERR_BAD_REQUEST, s->name,
                            "'%s' must be an array of 1 to %zu identifiers", s->name, max);
        json_array_foreach(v, i, e) {
            if (!json_is_string(e) || !jspec_is_id(json_string_value(e)))
                return jerr_set(err, KERR_BAD_REQUEST, s->name, "'%s' item %zu is not an identifier",
                                s->name, i);
            for (j = 0; j < i; j++)
                if (strcmp(json_string_value(json_array_get(v, j)), json_string_value(e)) == 0)
                    return jerr_set(err, KERR_BAD_REQUEST, s->name, "'%s' names '%s' twice", s->name,
                                    json_string_value(e));
        }
        if (s->out)
            *(json_t **)s->out = v;
        return 0;
    }
    case JS_ARRAY: {
        size_t max = s->max ? (size_t)s->max : 1024;
        if (!json_is_array(v) || json_array_size(v) > max)
            return jerr_set(err, KERR_BAD_REQUEST, s->name, "'%s' must be an array of at most %zu items",
                            s->name, max);
        if (s->out)
            *(json_t **)s->out = v;
        return 0;
    }
    case JS_OBJECT:
        if (!json_is_object(v))
            return jerr_set(err, KERR_BAD_REQUEST, s->name, "'%s' must be an object", s->name);
        if (s->out)
            *(json_t **)s->out = v;
        return 0;
    case JS_ANY:
        if (s->out)
            *(json_t **)s->out = v;
        return 0;
    }
    return jerr_set(err, KERR_INTERNAL, s->name, "unknown spec type");
}

static void undo(const struct jspec *spec, size_t upto)
{
    for (size_t i = 0; i < upto; i++) {
        if (spec[i].type == JS_B64_VAR && spec[i].out) {
            struct jspec_bytes *b = spec[i].out;
            free(b->data);
            b->data = NULL;
            b->len = 0;
        }
    }
}

int jspec_extract(json_t *obj, const struct jspec *spec, size_t n, struct jerr *err)
{
    const char *key;
    json_t *v;
    if (!json_is_object(obj))
        return jerr_set(err, KERR_BAD_REQUEST, NULL, "expected a JSON object");
    json_object_foreach(obj, key, v) {
        if (!find(spec, n, key))
            return jerr_set(err, KERR_BAD_REQUEST, key, "unknown field '%.60s'", key);
    }
    for (size_t i = 0; i < n; i++) {
        const struct jspec *s = &spec[i];
        if (s->type == JS_B64_VAR && s->out) {
            ((struct jspec_bytes *)s->out)->data = NULL;
            ((struct jspec_bytes *)s->out)->len = 0;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct jspec *s = &spec[i];
        v = json_object_get(obj, s->name);
        if (s->present)
            *s->present = v != NULL;
        if (!v) {
            if (s->optional)
                continue;
            undo(spec, i);
            return jerr_set(err, KERR_BAD_REQUEST, s->name, "missing field '%s'", s->name);
        }
        if (one(s, v, err) != 0) {
            undo(spec, i);
            return -1;
        }
    }
    return 0;
}
