/*
 * vault/checkpoint.c — writing and reading the log's signed checkpoint (SPEC §8).
 *
 * A checkpoint is the one statement the log signs: "the tree of <size> leaves has <root>". This
 * file owns its text form, which is not ours to choose: C2SP tlog-checkpoint inside a C2SP signed
 * note, so that any witness or verifier written for Go's sumdb can check a Kluis log. It does not
 * own the key (the caller holds it in secret memory) nor the tree (vault/merkle.c).
 *
 * The reader is deliberately narrower than signed-note allows: exactly three body lines, because
 * our log writes no extension lines and a verifier that ignores lines is one that can be fooled by
 * them. What signed-note requires we keep: lines of signers we do not know are skipped, so a
 * witness's cosignature does not break us; but a line claiming our name and key ID must verify.
 */
#include "vault/checkpoint.h"

#include "vault/encoding.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROOT_BYTES 32U
#define ROOT_B64_LEN 44U   /* standard base64 of 32 bytes, with one '=' */
#define SIG_BLOB_BYTES (CHECKPOINT_KEYID_BYTES + crypto_sign_BYTES)
#define SIG_BLOB_MAX 1024U /* other signers' blobs may be longer than ours, not unboundedly */

static const char EM_DASH_SP[] = "\xE2\x80\x94 "; /* U+2014 then U+0020 */
#define EM_DASH_SP_LEN 4U

/* Decode one UTF-8 sequence at S (N bytes left): code point in *CP, length returned, 0 when the
 * sequence is invalid (truncated, overlong, surrogate, beyond U+10FFFF). */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    uint32_t c = s[0];
    size_t len;
    uint32_t min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        len = 2, min = 0x80, c &= 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, min = 0x800, c &= 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, min = 0x10000, c &= 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

/* Unicode White_Space (what Go's unicode.IsSpace reports), which a key name may not contain. */
static int is_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

/* Signed-note text rule: valid UTF-8, no ASCII control character but '\n'. */
static int text_valid(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t c;
        size_t l = utf8_next(s + i, n - i, &c);
        if (l == 0 || (c < 0x20 && c != '\n'))
            return 0;
        i += l;
    }
    return 1;
}

/* Key-name rule: non-empty, no Unicode space, no '+' (and, being text, no control character). */
static int name_valid(const unsigned char *s, size_t n)
{
    if (n == 0 || n > CHECKPOINT_ORIGIN_MAX)
        return 0;
    for (size_t i = 0; i < n;) {
        uint32_t c;
        size_t l = utf8_next(s + i, n - i, &c);
        if (l == 0 || c < 0x20 || c == '+' || is_space(c))
            return 0;
        i += l;
    }
    return 1;
}

int checkpoint_origin_valid(const char *origin)
{
    if (!origin)
        return 0;
    size_t n = strnlen(origin, CHECKPOINT_ORIGIN_MAX + 1);
    return name_valid((const unsigned char *)origin, n);
}

void checkpoint_key_id(unsigned char key_id[CHECKPOINT_KEYID_BYTES], const char *origin,
                       const unsigned char log_pk[crypto_sign_PUBLICKEYBYTES])
{
    static const unsigned char sep[2] = {0x0A, 0x01}; /* newline, then signature type Ed25519 */
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)origin, strlen(origin));
    crypto_hash_sha256_update(&st, sep, sizeof sep);
    crypto_hash_sha256_update(&st, log_pk, crypto_sign_PUBLICKEYBYTES);
    crypto_hash_sha256_final(&st, h);
    memcpy(key_id, h, CHECKPOINT_KEYID_BYTES);
}

char *checkpoint_sign(const char *origin, uint64_t size, const unsigned char root[ROOT_BYTES],
                      const unsigned char log_sk[crypto_sign_SECRETKEYBYTES])
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char blob[SIG_BLOB_BYTES];
    char *root_b64 = NULL, *sig_b64 = NULL, *note = NULL;

    if (!checkpoint_origin_valid(origin))
        return NULL;
    root_b64 = b64std_encode(root, ROOT_BYTES);
    if (!root_b64)
        return NULL;

    size_t olen = strlen(origin);
    /* body + blank line + "— " origin " " b64(68 bytes: 92 chars) "\n" + NUL */
    size_t cap = olen + 1 + 20 + 1 + ROOT_B64_LEN + 1 + 1 + EM_DASH_SP_LEN + olen + 1 + 92 + 1 + 1;
    note = malloc(cap);
    if (!note)
        goto out;
    int body_len = snprintf(note, cap, "%s\n%" PRIu64 "\n%s\n", origin, size, root_b64);
    if (body_len < 0 || (size_t)body_len >= cap)
        goto fail;

    crypto_sign_ed25519_sk_to_pk(pk, log_sk);
    checkpoint_key_id(blob, origin, pk);
    crypto_sign_detached(blob + CHECKPOINT_KEYID_BYTES, NULL, (const unsigned char *)note,
                         (unsigned long long)body_len, log_sk);
    sig_b64 = b64std_encode(blob, sizeof blob);
    if (!sig_b64)
        goto fail;
    int n = snprintf(note + body_len, cap - (size_t)body_len, "\n%s%s %s\n", EM_DASH_SP, origin,
                     sig_b64);
    if (n < 0 || (size_t)n >= cap - (size_t)body_len)
        goto fail;
    goto out;
fail:
    free(note);
    note = NULL;
out:
    free(root_b64);
    free(sig_b64);
    return note;
}

/* Decimal without sign or leading zeros, fitting uint64_t. */
static int parse_size(uint64_t *out, const char *s, size_t n)
{
    uint64_t v = 0;
    if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* The line starting at *POS (without its '\n'); *POS moves past the '\n'. -1 when none. */
static int next_line(const char *s, size_t n, size_t *pos, const char **line, size_t *len)
{
    if (*pos >= n)
        return -1;
    const char *nl = memchr(s + *pos, '\n', n - *pos);
    if (!nl)
        return -1;
    *line = s + *pos;
    *len = (size_t)(nl - *line);
    *pos += *len + 1;
    return 0;
}

int checkpoint_verify(uint64_t *size, unsigned char root[ROOT_BYTES], const char *note,
                      size_t note_len, const char *origin,
                      const unsigned char log_pk[crypto_sign_PUBLICKEYBYTES])
{
    const char *line;
    size_t len, pos = 0, got = 0;
    uint64_t sz = 0;
    unsigned char rt[ROOT_BYTES];
    unsigned char our_id[CHECKPOINT_KEYID_BYTES];

    if (!note || !checkpoint_origin_valid(origin) || note_len > CHECKPOINT_NOTE_MAX)
        return -1;
    if (memchr(note, '\0', note_len) || !text_valid((const unsigned char *)note, note_len))
        return -1;
    size_t olen = strlen(origin);

    /* The body: origin, size, root; then the blank line. */
    if (next_line(note, note_len, &pos, &line, &len) != 0 || len != olen ||
        memcmp(line, origin, olen) != 0)
        return -1;
    if (next_line(note, note_len, &pos, &line, &len) != 0 || parse_size(&sz, line, len) != 0)
        return -1;
    if (next_line(note, note_len, &pos, &line, &len) != 0 || len != ROOT_B64_LEN ||
        b64std_decode(rt, sizeof rt, &got, line, len) != 0 || got != ROOT_BYTES)
        return -1;
    size_t body_len = pos;
    if (next_line(note, note_len, &pos, &line, &len) != 0 || len != 0)
        return -1;

    /* The signatures: at least one line, each well-formed; ours must verify. */
    checkpoint_key_id(our_id, origin, log_pk);
    unsigned nsig = 0;
    int ours = 0;
    while (pos < note_len) {
        unsigned char blob[SIG_BLOB_MAX];
        size_t blen = 0;
        if (next_line(note, note_len, &pos, &line, &len) != 0 || ++nsig > CHECKPOINT_MAX_SIGS)
            return -1;
        if (len < EM_DASH_SP_LEN || memcmp(line, EM_DASH_SP, EM_DASH_SP_LEN) != 0)
            return -1;
        line += EM_DASH_SP_LEN, len -= EM_DASH_SP_LEN;
        const char *sp = memchr(line, ' ', len);
        if (!sp)
            return -1;
        size_t name_len = (size_t)(sp - line);
        const char *b64 = sp + 1;
        size_t b64_len = len - name_len - 1;
        if (!name_valid((const unsigned char *)line, name_len) || b64_len == 0 ||
            b64std_decode(blob, sizeof blob, &blen, b64, b64_len) != 0 ||
            blen < CHECKPOINT_KEYID_BYTES + 1)
            return -1;
        if (name_len != olen || memcmp(line, origin, olen) != 0 ||
            memcmp(blob, our_id, CHECKPOINT_KEYID_BYTES) != 0)
            continue; /* another signer: signed-note says ignore */
        if (blen != SIG_BLOB_BYTES ||
            crypto_sign_verify_detached(blob + CHECKPOINT_KEYID_BYTES, (const unsigned char *)note,
                                        body_len, log_pk) != 0)
            return -1;
        ours = 1;
    }
    if (nsig == 0 || !ours)
        return -1;
    *size = sz;
    memcpy(root, rt, ROOT_BYTES);
    return 0;
}
