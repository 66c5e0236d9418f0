/*
 * fuzz/fuzz_statement.c — signed statements (vault/statement.h): kstmt_verify(), kstmt_open(),
 * kstmt_sign() and the per-type field tables behind the signature.
 *
 * Input: byte 0 is the mode, byte 1 the statement type (low 3 bits; bit 7 in mode 1: take the type
 * from S's own "type" field instead), bytes 2..9 the verifier's clock (big-endian seconds), byte 10
 * flags (bit 0: require signer "burger-0001"). Then:
 *   mode even  an envelope as received: statement_b64 '\n' signature_b64. The key is the vectors'
 *              signer (sign_seed 00..1f), so the vectors' envelope verifies and its mutations reach
 *              every check before and after the signature.
 *   mode odd   the statement bytes S themselves, signed here with that key under the chosen type
 *              and enveloped, so the field tables behind the signature are reached.
 * Oracles (mode odd): kstmt_open() and kstmt_sign() accept exactly the same S; what kstmt_sign()
 * enveloped verifies; kstmt_verify() succeeds exactly when kstmt_open() does and the signer and
 * issued window hold; an opened statement keeps S byte for byte and has every required field of its
 * type; a wrong key never verifies.
 */
#include "fuzz/fuzz_common.h"
#include "vault/encoding.h"
#include "vault/statement.h"

#include <sodium.h>

static unsigned char sign_pk[crypto_sign_PUBLICKEYBYTES], sign_sk[crypto_sign_SECRETKEYBYTES];
static unsigned char other_pk[crypto_sign_PUBLICKEYBYTES];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    unsigned char seed[32], osk[crypto_sign_SECRETKEYBYTES];
    (void)argc, (void)argv;
    if (sodium_init() < 0)
        abort();
    fuzz_seed(seed, 0x00);
    crypto_sign_seed_keypair(sign_pk, sign_sk, seed);
    fuzz_seed(seed, 0x40);
    crypto_sign_seed_keypair(other_pk, osk, seed);
    return 0;
}

/* Two results of the same statement must describe the same thing. */
static void same(const struct kstmt *a, const struct kstmt *b)
{
    FUZZ_ASSERT(a->type == b->type && a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0);
    FUZZ_ASSERT(strcmp(a->id, b->id) == 0 && strcmp(a->signer, b->signer) == 0 && a->issued == b->issued);
    FUZZ_ASSERT(memcmp(a->sig, b->sig, sizeof a->sig) == 0);
}

/* What any opened statement must satisfy, whatever its origin. */
static void check_opened(struct kstmt *st)
{
    size_t n = 0;
    const struct kstmt_field *f = kstmt_fields(st->type, &n);
    unsigned char h[KLUIS_HASH_BYTES];
    FUZZ_ASSERT(f && n > 0);
    FUZZ_ASSERT(st->bytes && st->bytes[st->len] == '\0' && st->len <= KSTMT_MAX_BYTES);
    FUZZ_ASSERT(strcmp(st->type_name, kstmt_type_name(st->type)) == 0);
    FUZZ_ASSERT(jspec_is_id(st->id) && jspec_is_id(st->signer) && st->issued >= 0);
    for (size_t i = 0; i < n; i++)
        FUZZ_ASSERT(f[i].optional || json_object_get(st->obj, f[i].name));
    if (st->access)
        FUZZ_ASSERT(strcmp(st->access, "read") == 0 || strcmp(st->access, "write") == 0);
    if (st->type == KSTMT_EPOCH || st->type == KSTMT_ENTRY)
        FUZZ_ASSERT(st->epoch >= 1);
    if (st->type == KSTMT_GRANT || st->type == KSTMT_REQUEST || st->type == KSTMT_OVERRIDE) {
        FUZZ_ASSERT(json_array_size(st->sections) >= 1);
        (void)kstmt_covers_section(st, "plan");
        FUZZ_ASSERT(kstmt_covers_section(st, json_string_value(json_array_get(st->sections, 0))));
    } else {
        FUZZ_ASSERT(!kstmt_covers_section(st, "plan"));
    }
    FUZZ_ASSERT(kstmt_hash(h, st) == 0);
}

static void envelope(const char *sb, const char *gb, const char *type, const char *signer, int64_t now)
{
    struct kstmt v, o;
    struct jerr e;
    int rv = kstmt_verify(&v, sb, gb, type, signer, sign_pk, now, &e);
    if (rv != 0)
        FUZZ_ASSERT(e.code == KERR_BAD_ENCODING || e.code == KERR_BAD_STATEMENT || e.code == KERR_BAD_SIGNATURE ||
                    e.code == KERR_BAD_REQUEST || (e.code == KERR_INTERNAL && now > INT64_MAX - KSTMT_MAX_FUTURE));
    int ro = kstmt_open(&o, sb, gb, type, &e);
    if (rv == 0) {
        FUZZ_ASSERT(v.verified && ro == 0 && !o.verified);
        same(&v, &o);
        check_opened(&v);
        FUZZ_ASSERT(kstmt_check_issued(&v, now, NULL) == 0);
        FUZZ_ASSERT(kstmt_check_signature(&o, other_pk, NULL) != 0 && !o.verified);
        FUZZ_ASSERT(kstmt_check_signature(&o, sign_pk, NULL) == 0 && o.verified);
    }
    if (ro == 0) {
        check_opened(&o);
        /* Without a required type, the same statement opens as its own type. */
        struct kstmt any;
        FUZZ_ASSERT(kstmt_open(&any, sb, gb, NULL, NULL) == 0);
        same(&any, &o);
        kstmt_free(&any);
    }
    kstmt_free(&v);
    kstmt_free(&o);
    kstmt_free(&o); /* idempotent by contract */
}

static void signed_statement(const unsigned char *s, size_t len, const char *type, const char *signer,
                             int64_t now)
{
    unsigned char sig[KLUIS_SIG_BYTES];
    struct kstmt o, v;
    struct jerr e;
    json_t *env = NULL;

    if (kstmt_sign_raw(sig, s, len, type, sign_sk) != 0) {
        FUZZ_ASSERT(len > KSTMT_MAX_BYTES);
        return;
    }
    char *sb = b64_encode(s, len), *gb = b64_encode(sig, sizeof sig);
    FUZZ_ASSERT(sb && gb);

    int ro = kstmt_open(&o, sb, gb, type, &e);
    int rs = len > 0 ? kstmt_sign(&env, s, len, type, sign_sk, &e) : -1;
    FUZZ_ASSERT((ro == 0) == (rs == 0) || len == 0);
    if (rs == 0) {
        /* What the signer enveloped verifies, at the moment it claims to have been issued. */
        struct kstmt w;
        const char *esb = json_string_value(json_object_get(env, "statement"));
        const char *egb = json_string_value(json_object_get(env, "signature"));
        FUZZ_ASSERT(esb && egb && strcmp(esb, sb) == 0);
        FUZZ_ASSERT(kstmt_verify(&w, esb, egb, type, NULL, sign_pk, o.issued, &e) == 0);
        same(&w, &o);
        kstmt_free(&w);
    }
    json_decref(env);

    int rv = kstmt_verify(&v, sb, gb, type, signer, sign_pk, now, &e);
    int expect = ro == 0 && (!signer || strcmp(o.signer, signer) == 0) && kstmt_check_issued(&o, now, NULL) == 0;
    FUZZ_ASSERT((rv == 0) == expect);
    if (rv == 0)
        same(&v, &o);
    if (ro == 0) {
        check_opened(&o);
        FUZZ_ASSERT(o.len == len && memcmp(o.bytes, s, len) == 0);
        FUZZ_ASSERT(kstmt_check_signature(&o, other_pk, NULL) != 0);
        FUZZ_ASSERT(kstmt_check_signature(&o, sign_pk, NULL) == 0);
    }
    kstmt_free(&o);
    kstmt_free(&v);
    free(sb);
    free(gb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fin in = {data, size};
    uint8_t mode = fin_u8(&in), tsel = fin_u8(&in);
    int64_t now = (int64_t)(fin_u64(&in) & 0x7fffffffffffffffULL);
    uint8_t flags = fin_u8(&in);
    const char *type = kstmt_type_name((enum kstmt_type)(tsel & 7));
    const char *signer = (flags & 1) ? "burger-0001" : NULL;
    size_t len = 0;
    char *rest = fin_rest_str(&in, &len);

    if ((mode & 1) == 0) {
        char *nl = memchr(rest, '\n', len);
        const char *gb = "";
        if (nl) {
            *nl = '\0';
            gb = nl + 1;
        }
        envelope(rest, gb, type, signer, now);
    } else {
        if (tsel & 0x80) {
            /* The type S claims, when it names one: the signer signs under it. */
            json_t *j = json_loadb(rest, len, 0, NULL);
            enum kstmt_type t;
            if (kstmt_type_from_name(&t, json_string_value(json_object_get(j, "type"))) == 0)
                type = kstmt_type_name(t);
            json_decref(j);
        }
        signed_statement((const unsigned char *)rest, len, type, signer, now);
    }
    free(rest);
    return 0;
}
