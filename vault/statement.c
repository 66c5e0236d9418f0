/*
 * vault/statement.c — signed statements: the one place they are signed and verified.
 *
 * This file owns the statement context ("kluis/v1/" || type || "\n"), the per-type field tables of
 * SPEC §4 and the issued window. Verification never re-serialises: the signature is checked over
 * the bytes exactly as received, and those same bytes are kept in struct kstmt, because an
 * override-approval signs the hash of them and the transparency log carries them whole.
 *
 * Order of checks in kstmt_verify(): encoding, JSON, the expected type, then the signature, and only
 * then the field tables and the clock. The type is checked before the signature so that a statement
 * posted to the wrong endpoint is named as such (bad_statement) rather than as a forgery; nothing
 * parsed from unsigned bytes is used before the signature holds except that one string.
 *
 * Every refusal inside S is KERR_BAD_STATEMENT, whatever jspec would have called it: to the caller
 * a statement is either well-formed or not.
 */
#include "vault/statement.h"

#include <sodium.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "vault/encoding.h"

#define CTX_PREFIX "kluis/v1/"

static const char *const type_names[KSTMT_TYPE_COUNT_] = {
    [KSTMT_EPOCH] = "epoch",
    [KSTMT_ENTRY] = "entry",
    [KSTMT_GRANT] = "grant",
    [KSTMT_REVOKE] = "revoke",
    [KSTMT_REQUEST] = "request",
    [KSTMT_OVERRIDE] = "override",
    [KSTMT_OVERRIDE_APPROVAL] = "override-approval",
    [KSTMT_OVERRIDE_CLOSE] = "override-close",
};

/* Upper bounds keep callers' arithmetic (now + days * 86400) far from overflow. */
#define EPOCH_MAX 4294967295LL
#define DAYS_MAX  36500LL
#define HOURS_MAX 87600LL

/* ---- the tables of SPEC §4 ---------------------------------------------------------------------
 * A field's typed output is found by name (name_slots below), so one name always lands in the same
 * member of struct kstmt whatever the type. */

#define F_ID(n)         {n, JS_ID, 0, 0, 0, 0}
#define F_ID_OPT(n)     {n, JS_ID, 1, 0, 0, 0}
#define F_HASH(n)       {n, JS_B64, 0, KLUIS_HASH_BYTES, 0, 0}
#define F_TIME(n)       {n, JS_INT, 0, 0, 0, 0}
#define F_STR(n, l)     {n, JS_STRING, 0, l, 0, 0}
#define F_STR_OPT(n, l) {n, JS_STRING, 1, l, 0, 0}
#define F_EPOCH         {"epoch", JS_INT, 0, 0, 1, EPOCH_MAX}
#define F_SECTIONS      {"sections", JS_ID_ARRAY, 0, 0, 0, 64}

static const struct kstmt_field f_epoch[] = {
    F_ID("citizen"), F_ID("section"), F_EPOCH, F_HASH("commit"),
};
static const struct kstmt_field f_entry[] = {
    F_ID("citizen"), F_ID("section"), F_EPOCH, F_HASH("blob_hash"), F_ID_OPT("corrects"),
};
static const struct kstmt_field f_grant[] = {
    F_ID("citizen"), F_ID("grantee"), F_SECTIONS, F_STR("access", 5), F_ID("purpose"),
    F_TIME("not_before"), F_TIME("expires"), F_ID_OPT("request"), F_STR_OPT("note", KSTMT_NOTE_MAX),
};
static const struct kstmt_field f_revoke[] = {
    F_ID("citizen"), F_ID("grant"),
};
static const struct kstmt_field f_request[] = {
    F_ID("citizen"), F_SECTIONS, F_STR("access", 5), F_ID("purpose"), {"days", JS_INT, 0, 0, 1, DAYS_MAX},
    F_STR_OPT("note", KSTMT_NOTE_MAX),
};
static const struct kstmt_field f_override[] = {
    /* sections: distinct identifiers or ["*"]; JS_ARRAY here, checked by hand after extraction. */
    F_ID("citizen"), {"sections", JS_ARRAY, 0, 0, 0, 64}, F_ID("beneficiary"), F_ID("ground"),
    F_STR("justification", KSTMT_JUSTIFICATION_MAX), {"hours", JS_INT, 0, 0, 1, HOURS_MAX},
};
static const struct kstmt_field f_override_approval[] = {
    F_ID("override"), F_HASH("statement_hash"),
};
static const struct kstmt_field f_override_close[] = {
    F_ID("override"), F_STR("reason", KSTMT_REASON_MAX),
};

#define T(a) {(a), sizeof(a) / sizeof((a)[0])}
static const struct {
    const struct kstmt_field *f;
    size_t n;
} tables[KSTMT_TYPE_COUNT_] = {
    [KSTMT_EPOCH] = T(f_epoch),
    [KSTMT_ENTRY] = T(f_entry),
    [KSTMT_GRANT] = T(f_grant),
    [KSTMT_REVOKE] = T(f_revoke),
    [KSTMT_REQUEST] = T(f_request),
    [KSTMT_OVERRIDE] = T(f_override),
    [KSTMT_OVERRIDE_APPROVAL] = T(f_override_approval),
    [KSTMT_OVERRIDE_CLOSE] = T(f_override_close),
};
#undef T

/* The common fields every type has, then at most this many of the type's own. */
#define COMMON_FIELDS 4
#define MAX_TYPE_FIELDS 12

/* Where each field name's value goes in struct kstmt. */
static const struct {
    const char *name;
    size_t off;
} name_slots[] = {
    {"id", offsetof(struct kstmt, id)},
    {"signer", offsetof(struct kstmt, signer)},
    {"issued", offsetof(struct kstmt, issued)},
    {"citizen", offsetof(struct kstmt, citizen)},
    {"section", offsetof(struct kstmt, section)},
    {"epoch", offsetof(struct kstmt, epoch)},
    {"commit", offsetof(struct kstmt, commit)},
    {"blob_hash", offsetof(struct kstmt, blob_hash)},
    {"corrects", offsetof(struct kstmt, corrects)},
    {"grantee", offsetof(struct kstmt, grantee)},
    {"sections", offsetof(struct kstmt, sections)},
    {"access", offsetof(struct kstmt, access)},
    {"purpose", offsetof(struct kstmt, purpose)},
    {"not_before", offsetof(struct kstmt, not_before)},
    {"expires", offsetof(struct kstmt, expires)},
    {"request", offsetof(struct kstmt, request)},
    {"note", offsetof(struct kstmt, note)},
    {"grant", offsetof(struct kstmt, grant)},
    {"days", offsetof(struct kstmt, days)},
    {"beneficiary", offsetof(struct kstmt, beneficiary)},
    {"ground", offsetof(struct kstmt, ground)},
    {"justification", offsetof(struct kstmt, justification)},
    {"hours", offsetof(struct kstmt, hours)},
    {"override", offsetof(struct kstmt, override_id)},
    {"statement_hash", offsetof(struct kstmt, statement_hash)},
    {"reason", offsetof(struct kstmt, reason)},
};

static void *slot(struct kstmt *st, const char *name)
{
    for (size_t i = 0; i < sizeof name_slots / sizeof name_slots[0]; i++)
        if (strcmp(name_slots[i].name, name) == 0)
            return (char *)st + name_slots[i].off;
    return NULL; /* a table names a field without a slot: validated only */
}

const char *kstmt_type_name(enum kstmt_type t)
{
    return (unsigned)t < KSTMT_TYPE_COUNT_ ? type_names[t] : NULL;
}

int kstmt_type_from_name(enum kstmt_type *t, const char *name)
{
    if (!name)
        return -1;
    for (unsigned i = 0; i < KSTMT_TYPE_COUNT_; i++) {
        if (strcmp(type_names[i], name) == 0) {
            *t = (enum kstmt_type)i;
            return 0;
        }
    }
    return -1;
}

const struct kstmt_field *kstmt_fields(enum kstmt_type t, size_t *n)
{
    if ((unsigned)t >= KSTMT_TYPE_COUNT_) {
        *n = 0;
        return NULL;
    }
    *n = tables[t].n;
    return tables[t].f;
}

/* ---- signing ---------------------------------------------------------------------------------- */

/* "kluis/v1/" || type || "\n" || S in a malloc'd buffer; NULL when out of memory. */
static unsigned char *signed_message(size_t *mlen, const char *type, const unsigned char *s, size_t len)
{
    /* TYPE is a type_names[] entry (stage_parse sets it before check_sig runs); the analyzer takes
     * jerr_set() for a function that may return 0 and so follows a path with no type. */
    size_t pl = strlen(CTX_PREFIX), tl = strlen(type); // NOLINT(clang-analyzer-core.NonNullParamChecker)
    unsigned char *m = malloc(pl + tl + 1 + len + 1);
    if (!m)
        return NULL;
    memcpy(m, CTX_PREFIX, pl);
    memcpy(m + pl, type, tl);
    m[pl + tl] = '\n';
    if (len)
        memcpy(m + pl + tl + 1, s, len);
    *mlen = pl + tl + 1 + len;
    return m;
}

int kstmt_sign_raw(unsigned char sig[KLUIS_SIG_BYTES], const unsigned char *s, size_t len, const char *type,
                   const unsigned char sign_sk[KLUIS_SIGN_SK_BYTES])
{
    enum kstmt_type t;
    size_t mlen = 0;
    unsigned char out[KLUIS_SIG_BYTES];
    if (kstmt_type_from_name(&t, type) != 0 || len > KSTMT_MAX_BYTES || (!s && len))
        return -1;
    unsigned char *m = signed_message(&mlen, type_names[t], s, len);
    if (!m)
        return -1;
    int rc = crypto_sign_detached(out, NULL, m, mlen, sign_sk) == 0 ? 0 : -1;
    free(m);
    if (rc == 0)
        memcpy(sig, out, sizeof out);
    return rc;
}

static int check_sig(const struct kstmt *st, const unsigned char sign_pk[KLUIS_SIGN_PK_BYTES], struct jerr *err)
{
    size_t mlen = 0;
    unsigned char *m = signed_message(&mlen, st->type_name, st->bytes, st->len);
    if (!m)
        return jerr_set(err, KERR_INTERNAL, NULL, "out of memory");
    int ok = crypto_sign_verify_detached(st->sig, m, mlen, sign_pk) == 0;
    free(m);
    if (!ok)
        return jerr_set(err, KERR_BAD_SIGNATURE, "signature", "the %s statement's signature does not verify",
                        st->type_name);
    return 0;
}

/* ---- verification stages ------------------------------------------------------------------------ */

/* Stage 1b: parse S (st->bytes) strictly and find its type; TYPE NULL accepts any known type. */
static int stage_parse(struct kstmt *st, const char *type, struct jerr *err)
{
    struct jerr pe;
    enum kstmt_type want = KSTMT_TYPE_COUNT_, got;

    if (type && kstmt_type_from_name(&want, type) != 0)
        return jerr_set(err, KERR_INTERNAL, NULL, "unknown statement type '%.40s' expected", type);
    if (st->len > KSTMT_MAX_BYTES)
        return jerr_set(err, KERR_BAD_STATEMENT, "statement", "the statement is longer than %u bytes",
                        KSTMT_MAX_BYTES);
    st->obj = jspec_parse((const char *)st->bytes, st->len, &pe);
    if (!st->obj)
        return jerr_set(err, KERR_BAD_STATEMENT, "statement", "the statement is not a JSON object: %s", pe.msg);

    json_t *tv = json_object_get(st->obj, "type");
    const char *tn = json_string_value(tv);
    if (!tn || strlen(tn) != json_string_length(tv) || kstmt_type_from_name(&got, tn) != 0)
        return jerr_set(err, KERR_BAD_STATEMENT, "type", "the statement has no known 'type'");
    if (type && got != want)
        return jerr_set(err, KERR_BAD_STATEMENT, "type", "expected a %s statement, got %s", type_names[want],
                        type_names[got]);
    st->type = got;
    st->type_name = type_names[got];
    return 0;
}

/* Stage 1a: decode both envelope strings into st->bytes (NUL-terminated) and st->sig. */
static int stage_decode(struct kstmt *st, const char *statement_b64, const char *signature_b64, struct jerr *err)
{
    if (!statement_b64 || !signature_b64)
        return jerr_set(err, KERR_BAD_REQUEST, statement_b64 ? "signature" : "statement", "missing field");
    size_t in_len = strlen(statement_b64);
    if (in_len > (KSTMT_MAX_BYTES / 3 + 1) * 4)
        return jerr_set(err, KERR_BAD_STATEMENT, "statement", "the statement is longer than %u bytes",
                        KSTMT_MAX_BYTES);
    size_t cap = in_len / 4 * 3 + 3;
    st->bytes = malloc(cap + 1);
    if (!st->bytes)
        return jerr_set(err, KERR_INTERNAL, NULL, "out of memory");
    if (b64_decode(st->bytes, cap, &st->len, statement_b64, in_len) != 0)
        return jerr_set(err, KERR_BAD_ENCODING, "statement", "'statement' is not base64url without padding");
    st->bytes[st->len] = '\0';
    if (b64_decode_exact(st->sig, sizeof st->sig, signature_b64) != 0)
        return jerr_set(err, KERR_BAD_ENCODING, "signature",
                        "'signature' is not base64url of a 64-byte Ed25519 signature");
    return 0;
}

/* Stage 2: the common fields and the type's table, then the checks a table cannot express. */
static int stage_fields(struct kstmt *st, struct jerr *err)
{
    struct jspec spec[COMMON_FIELDS + MAX_TYPE_FIELDS];
    struct jerr je;
    size_t n = 0;
    const struct kstmt_field *f = tables[st->type].f;

    if (tables[st->type].n > MAX_TYPE_FIELDS)
        return jerr_set(err, KERR_INTERNAL, NULL, "field table too long");
    memset(spec, 0, sizeof spec);
    spec[n++] = (struct jspec){.name = "type", .type = JS_STRING, .len = 32};
    spec[n++] = (struct jspec){.name = "id", .type = JS_ID, .out = slot(st, "id")};
    spec[n++] = (struct jspec){.name = "signer", .type = JS_ID, .out = slot(st, "signer")};
    spec[n++] = (struct jspec){.name = "issued", .type = JS_INT, .out = slot(st, "issued")};
    for (size_t i = 0; i < tables[st->type].n; i++)
        spec[n++] = (struct jspec){.name = f[i].name, .type = f[i].type, .out = slot(st, f[i].name),
                                   .optional = f[i].optional, .len = f[i].len, .min = f[i].min, .max = f[i].max};

    if (jspec_extract(st->obj, spec, n, &je) != 0) {
        if (je.code == KERR_INTERNAL)
            return jerr_set(err, KERR_INTERNAL, je.field, "%s", je.msg);
        return jerr_set(err, KERR_BAD_STATEMENT, je.field, "%s statement: %s", st->type_name, je.msg);
    }

    if (st->access && strcmp(st->access, "read") != 0 && strcmp(st->access, "write") != 0)
        return jerr_set(err, KERR_BAD_STATEMENT, "access", "'access' must be \"read\" or \"write\"");

    if (st->type == KSTMT_OVERRIDE) {
        size_t cnt = json_array_size(st->sections), i, j;
        json_t *e;
        if (cnt == 0)
            return jerr_set(err, KERR_BAD_STATEMENT, "sections", "'sections' must not be empty");
        if (cnt == 1 && json_is_string(json_array_get(st->sections, 0)) &&
            strcmp(json_string_value(json_array_get(st->sections, 0)), "*") == 0 &&
            json_string_length(json_array_get(st->sections, 0)) == 1) {
            st->all_sections = 1;
        } else {
            json_array_foreach(st->sections, i, e) {
                if (!json_is_string(e) || strlen(json_string_value(e)) != json_string_length(e) ||
                    !jspec_is_id(json_string_value(e)))
                    return jerr_set(err, KERR_BAD_STATEMENT, "sections",
                                    "'sections' must be [\"*\"] or distinct identifiers");
                for (j = 0; j < i; j++)
                    if (strcmp(json_string_value(json_array_get(st->sections, j)), json_string_value(e)) == 0)
                        return jerr_set(err, KERR_BAD_STATEMENT, "sections", "'sections' names '%s' twice",
                                        json_string_value(e));
            }
        }
    }
    return 0;
}

/* Runs stages into a local struct and publishes it only on success. */
static int run(struct kstmt *st, const char *statement_b64, const char *signature_b64, const char *type,
               const char *signer_id, const unsigned char *sign_pk, int check_time, int64_t now, struct jerr *err)
{
    struct kstmt t;
    memset(&t, 0, sizeof t);
    int rc = stage_decode(&t, statement_b64, signature_b64, err);
    if (rc == 0)
        rc = stage_parse(&t, type, err);
    if (rc == 0 && sign_pk) {
        rc = check_sig(&t, sign_pk, err);
        t.verified = rc == 0;
    }
    if (rc == 0)
        rc = stage_fields(&t, err);
    if (rc == 0 && signer_id && strcmp(t.signer, signer_id) != 0)
        rc = jerr_set(err, KERR_BAD_STATEMENT, "signer", "the statement's signer is not '%.63s'", signer_id);
    if (rc == 0 && check_time)
        rc = kstmt_check_issued(&t, now, err);
    if (rc != 0) {
        kstmt_free(&t);
        memset(st, 0, sizeof *st);
        return -1;
    }
    *st = t;
    return 0;
}

int kstmt_verify(struct kstmt *st, const char *statement_b64, const char *signature_b64, const char *type,
                 const char *signer_id, const unsigned char sign_pk[KLUIS_SIGN_PK_BYTES], int64_t now,
                 struct jerr *err)
{
    if (!type || !sign_pk) {
        memset(st, 0, sizeof *st);
        return jerr_set(err, KERR_INTERNAL, NULL, "kstmt_verify needs a type and a key");
    }
    return run(st, statement_b64, signature_b64, type, signer_id, sign_pk, 1, now, err);
}

int kstmt_open(struct kstmt *st, const char *statement_b64, const char *signature_b64, const char *type,
               struct jerr *err)
{
    return run(st, statement_b64, signature_b64, type, NULL, NULL, 0, 0, err);
}

int kstmt_check_signature(struct kstmt *st, const unsigned char sign_pk[KLUIS_SIGN_PK_BYTES], struct jerr *err)
{
    if (!st->bytes || !st->type_name)
        return jerr_set(err, KERR_INTERNAL, NULL, "no statement");
    if (check_sig(st, sign_pk, err) != 0)
        return -1;
    st->verified = 1;
    return 0;
}

int kstmt_check_issued(const struct kstmt *st, int64_t now, struct jerr *err)
{
    /* issued >= 0 (jspec), and NOW is a real clock: the sums cannot overflow for any plausible NOW,
     * but compare by subtraction-free forms anyway. */
    if (now > INT64_MAX - KSTMT_MAX_FUTURE || now < INT64_MIN + KSTMT_MAX_AGE)
        return jerr_set(err, KERR_INTERNAL, "issued", "clock out of range");
    if (st->issued > now + KSTMT_MAX_FUTURE)
        return jerr_set(err, KERR_BAD_STATEMENT, "issued", "'issued' is more than %d s in the future",
                        KSTMT_MAX_FUTURE);
    if (st->issued < now - KSTMT_MAX_AGE)
        return jerr_set(err, KERR_BAD_STATEMENT, "issued", "'issued' is more than %d s old", KSTMT_MAX_AGE);
    return 0;
}

int kstmt_hash(unsigned char out[KLUIS_HASH_BYTES], const struct kstmt *st)
{
    if (!st->bytes)
        return -1;
    return kluis_hash(out, st->bytes, st->len);
}

int kstmt_covers_section(const struct kstmt *st, const char *section)
{
    size_t i;
    json_t *e;
    if (!st->sections || !section)
        return 0;
    if (st->all_sections)
        return 1;
    json_array_foreach(st->sections, i, e) {
        if (json_is_string(e) && strcmp(json_string_value(e), section) == 0)
            return 1;
    }
    return 0;
}

void kstmt_free(struct kstmt *st)
{
    if (!st)
        return;
    free(st->bytes);
    if (st->obj)
        json_decref(st->obj);
    memset(st, 0, sizeof *st);
}

/* ---- envelopes ---------------------------------------------------------------------------------- */

int kstmt_sign(json_t **envelope, const unsigned char *s, size_t len, const char *type,
               const unsigned char sign_sk[KLUIS_SIGN_SK_BYTES], struct jerr *err)
{
    unsigned char sig[KLUIS_SIG_BYTES];
    struct kstmt t;
    char *sb = NULL, *gb = NULL;
    json_t *env = NULL;

    if (!type)
        return jerr_set(err, KERR_INTERNAL, NULL, "no statement type");
    if (!s || len == 0 || len > KSTMT_MAX_BYTES)
        return jerr_set(err, KERR_BAD_STATEMENT, "statement", "the statement is empty or too long");

    /* Check S as a verifier would, short of the signature and the clock. */
    memset(&t, 0, sizeof t);
    t.bytes = malloc(len + 1);
    if (!t.bytes)
        return jerr_set(err, KERR_INTERNAL, NULL, "out of memory");
    memcpy(t.bytes, s, len);
    t.bytes[len] = '\0';
    t.len = len;
    int rc = stage_parse(&t, type, err);
    if (rc == 0)
        rc = stage_fields(&t, err);
    kstmt_free(&t);
    if (rc != 0)
        return -1;

    if (kstmt_sign_raw(sig, s, len, type, sign_sk) != 0)
        return jerr_set(err, KERR_INTERNAL, NULL, "signing failed");
    sb = b64_encode(s, len);
    gb = b64_encode(sig, sizeof sig);
    env = json_object();
    if (!sb || !gb || !env || json_object_set_new(env, "statement", json_string(sb)) != 0 ||
        json_object_set_new(env, "signature", json_string(gb)) != 0) {
        json_decref(env);
        env = NULL;
        jerr_set(err, KERR_INTERNAL, NULL, "out of memory");
    }
    free(sb);
    free(gb);
    if (!env)
        return -1;
    *envelope = env;
    return 0;
}

int kstmt_sign_json(json_t **envelope, const json_t *obj, const unsigned char sign_sk[KLUIS_SIGN_SK_BYTES],
                    struct jerr *err)
{
    const char *type = json_string_value(json_object_get(obj, "type"));
    if (!type)
        return jerr_set(err, KERR_BAD_STATEMENT, "type", "the statement has no 'type'");
    char *s = json_dumps(obj, JSON_COMPACT);
    if (!s)
        return jerr_set(err, KERR_INTERNAL, NULL, "cannot serialise the statement");
    int rc = kstmt_sign(envelope, (const unsigned char *)s, strlen(s), type, sign_sk, err);
    free(s);
    return rc;
}
