/*
 * vault/statement.h — signed statements (SPEC §4): signing, strict verification, typed fields.
 *
 * A statement travels as {"statement": b64(S), "signature": b64(sig)} with
 * sig = Ed25519(sk, "kluis/v1/" || type || "\n" || S). kstmt_verify() takes the envelope's two
 * strings exactly as received and returns a struct kstmt holding the exact bytes S (what was signed,
 * what statement_hash covers), the parsed object, and every field of the type's table already
 * extracted and type-checked. Unknown, missing and mistyped fields are refused per type.
 *
 * What kstmt_verify() does NOT check, because it needs state the caller has: that `id` was never
 * used before (409 replay), that fields naming an object in the URL (citizen, section, grant,
 * override) equal it, and every charter rule. Those are the caller's.
 *
 * Error codes (struct jerr .code): KERR_BAD_ENCODING — an envelope string is not base64url, or the
 * signature is not 64 bytes; KERR_BAD_STATEMENT — S is not a JSON object, has the wrong "type",
 * an unknown, missing or mistyped field, a bad identifier, a signer other than the one expected, or
 * `issued` outside [now - 86400, now + 300]; KERR_BAD_SIGNATURE — the signature does not verify;
 * KERR_INTERNAL — out of memory. .field names the field at fault where there is one.
 *
 * Thread-safe (no globals). A struct kstmt is owned by one thread at a time.
 */
#ifndef KLUIS_STATEMENT_H
#define KLUIS_STATEMENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "vault/crypto.h"
#include "vault/jspec.h"

/** The eight statement types of SPEC §4. */
enum kstmt_type {
    KSTMT_EPOCH,
    KSTMT_ENTRY,
    KSTMT_GRANT,
    KSTMT_REVOKE,
    KSTMT_REQUEST,
    KSTMT_OVERRIDE,
    KSTMT_OVERRIDE_APPROVAL,
    KSTMT_OVERRIDE_CLOSE,
    KSTMT_TYPE_COUNT_
};

/** Largest S accepted, in bytes (statements are small; this bounds the work on hostile input). */
#define KSTMT_MAX_BYTES 65536u
/** Longest free-text fields, in bytes. */
#define KSTMT_NOTE_MAX          2000u
#define KSTMT_JUSTIFICATION_MAX 8000u
#define KSTMT_REASON_MAX        2000u
/** The issued window of SPEC §4, in seconds. */
#define KSTMT_MAX_FUTURE 300
#define KSTMT_MAX_AGE    86400

/**
 * A verified (or, from kstmt_open(), parsed but unverified) statement. Strings and json_t pointers
 * are borrowed from OBJ and live until kstmt_free(). Fields the type does not have stay NULL/0;
 * optional fields absent from S stay NULL (has_* tells for the integers). Which fields each type
 * has is kstmt_fields().
 */
struct kstmt {
    enum kstmt_type type;
    const char *type_name;     /* "grant", "override-approval", ...                              */
    const char *id;
    const char *signer;
    int64_t issued;
    unsigned char *bytes;      /* S exactly as received (malloc'd), NUL-terminated after LEN       */
    size_t len;
    unsigned char sig[KLUIS_SIG_BYTES];
    json_t *obj;               /* the parsed S (one reference, owned)                              */
    int verified;              /* 1: the signature was checked by kstmt_verify/kstmt_check_signature */

    /* Typed fields (SPEC §4 table). */
    const char *citizen;       /* epoch entry grant revoke request override                      */
    const char *section;       /* epoch entry                                                     */
    int64_t epoch;             /* epoch entry (>= 1)                                              */
    unsigned char commit[KLUIS_HASH_BYTES];          /* epoch                                      */
    unsigned char blob_hash[KLUIS_HASH_BYTES];       /* entry                                      */
    const char *corrects;      /* entry (optional)                                                */
    const char *grantee;       /* grant                                                           */
    json_t *sections;          /* grant request override: array of distinct identifiers, or ["*"] (override only) */
    int all_sections;          /* override: 1 when sections is ["*"]                             */
    const char *access;        /* grant request: "read" or "write"                                */
    const char *purpose;       /* grant request                                                   */
    int64_t not_before;        /* grant                                                           */
    int64_t expires;           /* grant                                                           */
    const char *request;       /* grant (optional): the request it answers                        */
    const char *note;          /* grant request (optional)                                        */
    const char *grant;         /* revoke                                                          */
    int64_t days;              /* request (>= 1)                                                  */
    const char *beneficiary;   /* override                                                        */
    const char *ground;        /* override                                                        */
    const char *justification; /* override                                                        */
    int64_t hours;             /* override (>= 1)                                                 */
    const char *override_id;   /* override-approval override-close: field "override"             */
    unsigned char statement_hash[KLUIS_HASH_BYTES];  /* override-approval                         */
    const char *reason;        /* override-close                                                  */
};

/** One field of a type's table (besides type, id, signer, issued, which every type has), with the
 *  jspec bounds it is checked against. */
struct kstmt_field {
    const char *name;
    enum jspec_type type;
    int optional;
    size_t len;       /* JS_B64: exact bytes; JS_STRING: maximum bytes */
    int64_t min, max; /* JS_INT bounds; JS_ID_ARRAY/JS_ARRAY: max items in max */
};

/**
 * @brief The SPEC name of a type.
 * @param[in] t  the type.
 * @return "override-approval" etc. (static), or NULL for an out-of-range value.
 */
const char *kstmt_type_name(enum kstmt_type t);

/**
 * @brief Look up a type by its SPEC name.
 * @param[out] t  the type; untouched on failure.
 * @return 0, or -1 for an unknown name.
 */
int kstmt_type_from_name(enum kstmt_type *t, const char *name) __attribute__((warn_unused_result));

/**
 * @brief The further fields of type T (SPEC §4 table), for callers that inspect S themselves.
 * @param[out] n  number of entries.
 * @return a static table, or NULL (and *N = 0) for an out-of-range T.
 */
const struct kstmt_field *kstmt_fields(enum kstmt_type t, size_t *n);

/**
 * @brief sig = Ed25519(sign_sk, "kluis/v1/" || type || "\n" || S). No check of S at all: tests
 *        use it to sign malformed statements. Prefer kstmt_sign().
 * @param[in] type  a SPEC §4 type name.
 * @return 0, or -1 (unknown type, S longer than KSTMT_MAX_BYTES, out of memory).
 */
int kstmt_sign_raw(unsigned char sig[KLUIS_SIG_BYTES], const unsigned char *s, size_t len, const char *type,
                   const unsigned char sign_sk[KLUIS_SIGN_SK_BYTES]);

/**
 * @brief Sign S (bytes as the signer serialised them) and build the envelope
 *        {"statement": b64(S), "signature": b64(sig)}. S is first checked as a verifier would
 *        (strict JSON, "type" equal to TYPE, the type's exact field set), except for the issued
 *        window, so a client never signs what a vault must refuse.
 * @param[out] envelope  a new JSON object (json_decref() it); untouched on failure.
 * @param[out] err       on failure, as kstmt_verify() (may be NULL).
 * @return 0, or -1.
 */
int kstmt_sign(json_t **envelope, const unsigned char *s, size_t len, const char *type,
               const unsigned char sign_sk[KLUIS_SIGN_SK_BYTES], struct jerr *err)
    __attribute__((warn_unused_result));

/**
 * @brief Serialise OBJ compactly (key order kept) to S and kstmt_sign() it; the type is OBJ's own
 *        "type" field.
 * @param[out] envelope  as kstmt_sign().
 * @param[in]  obj       the statement object.
 * @param[in]  sign_sk   64-byte Ed25519 secret key.
 * @param[out] err       may be NULL.
 * @return 0, or -1 as kstmt_sign().
 */
int kstmt_sign_json(json_t **envelope, const json_t *obj, const unsigned char sign_sk[KLUIS_SIGN_SK_BYTES],
                    struct jerr *err) __attribute__((warn_unused_result));

/**
 * @brief Verify a statement as an endpoint receives it (SPEC §4), in this order: decode both
 *        strings; parse S strictly; require "type" == TYPE; verify the signature over the exact
 *        bytes; check the common and the type's fields; require signer == SIGNER_ID when given;
 *        require now - 86400 <= issued <= now + 300.
 * @param[out] st             filled on success (kstmt_free() it); zeroed on failure.
 * @param[in]  statement_b64  the envelope's "statement", NUL-terminated.
 * @param[in]  signature_b64  the envelope's "signature", NUL-terminated.
 * @param[in]  type           the type the endpoint expects.
 * @param[in]  signer_id      the principal SIGN_PK belongs to; NULL to skip this check (the caller
 *                            then MUST compare st->signer with the key's owner itself).
 * @param[in]  sign_pk        32-byte Ed25519 key of the expected signer.
 * @param[in]  now            current time, seconds.
 * @param[out] err            the refusal (may be NULL); see the file comment for codes.
 * @return 0, or -1.
 */
int kstmt_verify(struct kstmt *st, const char *statement_b64, const char *signature_b64, const char *type,
                 const char *signer_id, const unsigned char sign_pk[KLUIS_SIGN_PK_BYTES], int64_t now,
                 struct jerr *err) __attribute__((warn_unused_result));

/**
 * @brief Decode, parse and field-check a statement WITHOUT checking its signature or issued time:
 *        for callers that must read `signer` to find the key (auditors re-verifying log leaves).
 *        st->verified is 0; follow with kstmt_check_signature() before trusting anything.
 * @param[in] type  the expected type, or NULL to accept any of the eight.
 * @return 0, or -1 with ERR as kstmt_verify() (never KERR_BAD_SIGNATURE).
 */
int kstmt_open(struct kstmt *st, const char *statement_b64, const char *signature_b64, const char *type,
               struct jerr *err) __attribute__((warn_unused_result));

/**
 * @brief Verify the signature of a statement from kstmt_open() with SIGN_PK, without the issued
 *        window (old log leaves stay verifiable). Sets st->verified on success.
 * @param[in,out] st       from kstmt_open().
 * @param[in]     sign_pk  32-byte Ed25519 key of st->signer, as the caller looked it up.
 * @param[out]    err      may be NULL.
 * @return 0, or -1 with ERR code KERR_BAD_SIGNATURE.
 */
int kstmt_check_signature(struct kstmt *st, const unsigned char sign_pk[KLUIS_SIGN_PK_BYTES], struct jerr *err)
    __attribute__((warn_unused_result));

/**
 * @brief Check the issued window: now - KSTMT_MAX_AGE <= issued <= now + KSTMT_MAX_FUTURE.
 * @param[in]  st   a parsed statement.
 * @param[in]  now  current time, seconds.
 * @param[out] err  may be NULL.
 * @return 0, or -1 with ERR code KERR_BAD_STATEMENT, field "issued".
 */
int kstmt_check_issued(const struct kstmt *st, int64_t now, struct jerr *err) __attribute__((warn_unused_result));

/**
 * @brief statement_hash = BLAKE2b-256(S) over the exact bytes (override-approval, SPEC §4).
 * @param[out] out  32 bytes.
 * @param[in]  st   a parsed statement.
 * @return 0, or -1.
 */
int kstmt_hash(unsigned char out[KLUIS_HASH_BYTES], const struct kstmt *st);

/**
 * @brief Whether the statement's "sections" cover SECTION (["*"] covers all).
 * @param[in] st       a grant, request or override.
 * @param[in] section  identifier.
 * @return non-zero when covered; 0 otherwise, and for types without sections.
 */
int kstmt_covers_section(const struct kstmt *st, const char *section);

/**
 * @brief Release everything ST holds and zero it.
 * @param[in,out] st  a filled, zeroed or already-freed struct, or NULL.
 * @return nothing.
 */
void kstmt_free(struct kstmt *st);

#endif
