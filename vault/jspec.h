/*
 * vault/jspec.h — strict JSON input and declarative field specs (SPEC §2).
 *
 * Everything Kluis accepts from outside as JSON — request bodies, signed statements, charters, key
 * files — goes through here: jspec_parse() rejects what SPEC §2 forbids (duplicate keys, nesting
 * deeper than 16, NUL characters, a top level that is not an object); jspec_extract() takes a table
 * of the fields a caller accepts and fills typed outputs, refusing unknown fields, missing required
 * fields, wrong types, bad identifiers, bad base64url and wrong lengths, naming the field at fault.
 *
 * Outputs that point into the JSON (strings, arrays, objects) are borrowed: valid while the parsed
 * json_t lives. Thread-safe (no globals).
 */
#ifndef KLUIS_JSPEC_H
#define KLUIS_JSPEC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "vault/errors.h"

#define JSPEC_MAX_DEPTH 16

/** Why input was refused: the code, the field at fault ("" for the whole document), and a message. */
struct jerr {
    kerr code;
    char field[64];
    char msg[192];
};

enum jspec_type {
    JS_STRING,   /* out: const char **; len = max bytes (0: 65536); UTF-8, no NUL           */
    JS_ID,       /* out: const char **; SPEC §2 identifier ^[a-z0-9][a-z0-9._-]{0,62}$         */
    JS_INT,      /* out: int64_t *; a JSON integer in [min, max] (both 0: any >= 0)          */
    JS_BOOL,     /* out: int *; true/false                                                   */
    JS_B64,      /* out: unsigned char * of exactly len bytes; value must decode to len bytes */
    JS_B64_VAR,  /* out: struct jspec_bytes *; decoded into a malloc'd buffer, 1..len bytes  */
    JS_ID_ARRAY, /* out: json_t **; array of 1..max distinct identifiers (max 0: 64)          */
    JS_ARRAY,    /* out: json_t **; any array of at most max items (max 0: 1024)             */
    JS_OBJECT,   /* out: json_t **; any object                                               */
    JS_ANY       /* out: json_t **; any JSON value                                           */
};

/** A variable-length decoded value (JS_B64_VAR); free data with free(). */
struct jspec_bytes {
    unsigned char *data;
    size_t len;
};

/** One accepted field. Unlisted fields are refused by jspec_extract(). */
struct jspec {
    const char *name;
    enum jspec_type type;
    void *out;      /* see enum jspec_type; NULL: validate only                                 */
    int optional;   /* non-zero: may be absent (outputs are then left untouched)               */
    size_t len;     /* JS_B64: exact bytes; JS_B64_VAR/JS_STRING: maximum bytes                 */
    int64_t min, max; /* JS_INT bounds; JS_ID_ARRAY/JS_ARRAY: max items in max               */
    int *present;   /* optional: set to 1 when the field is present, 0 when absent              */
};

/**
 * @brief Parse LEN bytes of JSON text strictly; the top level must be an object.
 * @param[out] err  on failure: code KERR_BAD_JSON (syntax, depth > 16, NUL, invalid UTF-8) or
 *                  KERR_BAD_REQUEST (a duplicate key, SPEC §2; top level not an object).
 * @return a new reference (json_decref() it), or NULL on failure.
 */
json_t *jspec_parse(const char *buf, size_t len, struct jerr *err) __attribute__((warn_unused_result));

/**
 * @brief Check OBJ against the N fields of SPEC and fill their outputs.
 * @return 0, or -1 with ERR set: KERR_BAD_REQUEST for an unknown, missing or wrongly typed field
 *         or a bad identifier; KERR_BAD_ENCODING for bad base64url or a wrong decoded length.
 *         On failure, JS_B64_VAR outputs already filled are freed and zeroed.
 */
int jspec_extract(json_t *obj, const struct jspec *spec, size_t n, struct jerr *err)
    __attribute__((warn_unused_result));

/** @brief Non-zero when S (NUL-terminated) is a SPEC §2 identifier. */
int jspec_is_id(const char *s);

/** @brief Fill ERR with CODE, FIELD (may be NULL) and a printf-style message. Returns -1. */
int jerr_set(struct jerr *err, kerr code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
