/*
 * fuzz/fuzz_common.h — what every libFuzzer harness of Kluis shares: a bounds-checked reader over
 * the input (so harness input formats are decoded one way), an oracle that aborts with a message
 * (libFuzzer records the input as a crash), and the fixed test keys of ../shared/vectors.
 *
 * Harnesses are deterministic: no clock, no randomness except what they take from the input, and
 * every allocation freed before LLVMFuzzerTestOneInput returns (LeakSanitizer is on).
 */
#ifndef KLUIS_FUZZ_COMMON_H
#define KLUIS_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the code under test: when it fails, that is a bug, and the input reproduces it. */
#define FUZZ_ASSERT(cond)                                                                       \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            fprintf(stderr, "FUZZ_ASSERT failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);     \
            abort();                                                                            \
        }                                                                                       \
    } while (0)

/* A cursor over the fuzzer's input; reading past the end yields zeros and sets nothing else. */
struct fin {
    const uint8_t *p;
    size_t n;
};

static inline uint8_t fin_u8(struct fin *f)
{
    if (f->n == 0)
        return 0;
    uint8_t v = f->p[0];
    f->p++, f->n--;
    return v;
}

/* Big-endian, so that seeds written by hand read naturally in a hex dump. */
static inline uint64_t fin_u64(struct fin *f)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | fin_u8(f);
    return v;
}

/* Copy N bytes (zero-filled past the end). */
static inline void fin_bytes(struct fin *f, unsigned char *out, size_t n)
{
    size_t k = n < f->n ? n : f->n;
    if (k)
        memcpy(out, f->p, k);
    if (k < n)
        memset(out + k, 0, n - k);
    f->p += k, f->n -= k;
}

/* The rest of the input as a malloc'd NUL-terminated string (embedded NULs kept; LEN tells). */
static inline char *fin_rest_str(struct fin *f, size_t *len)
{
    char *s = malloc(f->n + 1);
    if (!s)
        abort();
    if (f->n)
        memcpy(s, f->p, f->n);
    s[f->n] = '\0';
    *len = f->n;
    f->p += f->n, f->n = 0;
    return s;
}

/* Fixed test keys from ../shared/vectors/kluis-v1.json: the statement signer (sign_seed 00..1f)
 * and the checkpoint log key (log_seed 80..9f). */
static inline void fuzz_seed(unsigned char seed[32], unsigned char first)
{
    for (int i = 0; i < 32; i++)
        seed[i] = (unsigned char)(first + i);
}

#endif
