/*
 * vault/encoding.h — base64url without padding (SPEC §2), standard base64 (checkpoints, SPEC §8)
 * and hex (tests, logs of public values). Decoders are strict: no whitespace, no padding where
 * the variant has none, trailing bits must be zero (libsodium's decoder checks), exact lengths.
 */
#ifndef KLUIS_ENCODING_H
#define KLUIS_ENCODING_H

#include <stddef.h>

/**
 * @brief Encode LEN bytes as base64url without padding.
 * @return a malloc'd NUL-terminated string (caller frees), or NULL on allocation failure.
 */
char *b64_encode(const unsigned char *in, size_t len) __attribute__((warn_unused_result));

/**
 * @brief Decode base64url without padding into OUT (capacity OUT_MAX).
 * @param[out] out_len  decoded length on success.
 * @return 0, or -1 (bad character, padding, non-canonical trailing bits, too long); OUT is then
 *         unspecified.
 */
int b64_decode(unsigned char *out, size_t out_max, size_t *out_len, const char *in, size_t in_len)
    __attribute__((warn_unused_result));

/**
 * @brief Decode base64url that must decode to exactly N bytes.
 * @return 0, or -1 when IN is not valid base64url of exactly N bytes.
 */
int b64_decode_exact(unsigned char *out, size_t n, const char *in) __attribute__((warn_unused_result));

/** @brief Standard base64 with padding (RFC 4648 §4); malloc'd result or NULL. */
char *b64std_encode(const unsigned char *in, size_t len) __attribute__((warn_unused_result));

/** @brief Strict standard base64 with padding; 0 or -1 like b64_decode(). */
int b64std_decode(unsigned char *out, size_t out_max, size_t *out_len, const char *in, size_t in_len)
    __attribute__((warn_unused_result));

/** @brief Decode lowercase/uppercase hex of exactly 2*N chars into N bytes; 0 or -1. */
int hex_decode_exact(unsigned char *out, size_t n, const char *hex) __attribute__((warn_unused_result));

/** @brief Encode N bytes as lowercase hex into OUT (capacity 2*N+1). Returns OUT. */
char *hex_encode(char *out, const unsigned char *in, size_t n);

#endif
