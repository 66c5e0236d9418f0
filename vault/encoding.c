/*
 * vault/encoding.c — thin, strict wrappers over libsodium's constant-time codecs.
 */
#include "vault/encoding.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static char *enc(const unsigned char *in, size_t len, int variant)
{
    size_t n = sodium_base64_encoded_len(len, variant);
    char *s = malloc(n);
    if (s)
        sodium_bin2base64(s, n, in, len, variant);
    return s;
}

static int dec(unsigned char *out, size_t out_max, size_t *out_len, const char *in, size_t in_len,
               int variant)
{
    const char *end = NULL;
    size_t n = 0;
    if (!in)
        return -1;
    /* libsodium 1.0.18 reads each character as a signed char and decodes every byte >= 0x80 as
     * '_' or '/' (found by fuzz/fuzz_jspec): refuse them here, with NUL, so one value has one
     * spelling. */
    for (size_t i = 0; i < in_len; i++)
        if (in[i] == '\0' || (unsigned char)in[i] >= 0x80)
            return -1;
    if (sodium_base642bin(out, out_max, in, in_len, NULL, &n, &end, variant) != 0)
        return -1;
    if (end != in + in_len)
        return -1;
    *out_len = n;
    return 0;
}

char *b64_encode(const unsigned char *in, size_t len)
{
    return enc(in, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int b64_decode(unsigned char *out, size_t out_max, size_t *out_len, const char *in, size_t in_len)
{
    return dec(out, out_max, out_len, in, in_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int b64_decode_exact(unsigned char *out, size_t n, const char *in)
{
    size_t got = 0;
    if (!in)
        return -1;
    size_t len = strlen(in);
    /* Reject early what cannot be N bytes: also bounds the work on hostile input. */
    if (len != sodium_base64_encoded_len(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING) - 1)
        return -1;
    if (b64_decode(out, n, &got, in, len) != 0 || got != n)
        return -1;
    return 0;
}

char *b64std_encode(const unsigned char *in, size_t len)
{
    return enc(in, len, sodium_base64_VARIANT_ORIGINAL);
}

int b64std_decode(unsigned char *out, size_t out_max, size_t *out_len, const char *in, size_t in_len)
{
    return dec(out, out_max, out_len, in, in_len, sodium_base64_VARIANT_ORIGINAL);
}

int hex_decode_exact(unsigned char *out, size_t n, const char *hex)
{
    size_t got = 0;
    const char *end = NULL;
    if (!hex || strlen(hex) != 2 * n)
        return -1;
    if (sodium_hex2bin(out, n, hex, 2 * n, NULL, &got, &end) != 0 || got != n || end != hex + 2 * n)
        return -1;
    return 0;
}

char *hex_encode(char *out, const unsigned char *in, size_t n)
{
    return sodium_bin2hex(out, 2 * n + 1, in, n);
}
