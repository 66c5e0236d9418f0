/*
 * fuzz/fuzz_checkpoint.c — the checkpoint note parser (vault/checkpoint.h): checkpoint_verify().
 *
 * The log key is the vectors' (log_seed 80..9f), the origin "testdam.example/kluis". Input:
 * byte 0 is the mode.
 *   mode even  the rest is a whole note, verified as received (the vectors' note verifies).
 *   mode odd   the rest is BODY '\0' TAIL: the harness signs BODY with the log key and verifies
 *              BODY "\n— <origin> <sig>\n" TAIL, so the parser's paths after a valid signature
 *              (other signers' lines, a second line of ours, trailing junk) are reached.
 * Oracle: a note accepted is canonical — its body is byte for byte what checkpoint_sign() writes
 * for the size and root it returned, and that note verifies to the same size and root.
 */
#include "fuzz/fuzz_common.h"
#include "vault/checkpoint.h"
#include "vault/encoding.h"

#include <sodium.h>

static const char origin[] = "testdam.example/kluis";
static unsigned char log_pk[crypto_sign_PUBLICKEYBYTES], log_sk[crypto_sign_SECRETKEYBYTES];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    unsigned char seed[32];
    (void)argc, (void)argv;
    if (sodium_init() < 0)
        abort();
    fuzz_seed(seed, 0x80);
    crypto_sign_seed_keypair(log_pk, log_sk, seed);
    return 0;
}

static void accepted(const char *note, size_t len, uint64_t size, const unsigned char root[32])
{
    uint64_t size2 = 0;
    unsigned char root2[32];
    char *canon = checkpoint_sign(origin, size, root, log_sk);
    FUZZ_ASSERT(canon);
    size_t body = strstr(canon, "\n\n") - canon + 1;
    FUZZ_ASSERT(len > body + 1 && memcmp(note, canon, body) == 0 && note[body] == '\n');
    FUZZ_ASSERT(checkpoint_verify(&size2, root2, canon, strlen(canon), origin, log_pk) == 0);
    FUZZ_ASSERT(size2 == size && memcmp(root2, root, 32) == 0);
    free(canon);
}

static void verify(const char *note, size_t len)
{
    uint64_t size = 0x5a5a5a5a5a5a5a5aULL;
    unsigned char root[32];
    memset(root, 0x5a, sizeof root);
    if (checkpoint_verify(&size, root, note, len, origin, log_pk) == 0) {
        accepted(note, len, size, root);
    } else {
        /* Outputs are written only on success. */
        for (size_t i = 0; i < sizeof root; i++)
            FUZZ_ASSERT(root[i] == 0x5a);
        FUZZ_ASSERT(size == 0x5a5a5a5a5a5a5a5aULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fin in = {data, size};
    uint8_t mode = fin_u8(&in);
    size_t len = 0;
    char *rest = fin_rest_str(&in, &len);

    if ((mode & 1) == 0) {
        verify(rest, len);
    } else {
        const char *nul = memchr(rest, '\0', len);
        size_t blen = nul ? (size_t)(nul - rest) : len;
        const char *tail = nul ? nul + 1 : "";
        size_t tlen = nul ? len - blen - 1 : 0;
        unsigned char blob[CHECKPOINT_KEYID_BYTES + crypto_sign_BYTES];
        checkpoint_key_id(blob, origin, log_pk);
        crypto_sign_detached(blob + CHECKPOINT_KEYID_BYTES, NULL, (const unsigned char *)rest, blen, log_sk);
        char *sig = b64std_encode(blob, sizeof blob);
        FUZZ_ASSERT(sig);
        size_t cap = blen + tlen + strlen(origin) + strlen(sig) + 16;
        char *note = malloc(cap);
        FUZZ_ASSERT(note);
        memcpy(note, rest, blen);
        int n = snprintf(note + blen, cap - blen, "\n\xE2\x80\x94 %s %s\n", origin, sig);
        FUZZ_ASSERT(n > 0 && (size_t)n < cap - blen);
        if (tlen)
            memcpy(note + blen + (size_t)n, tail, tlen);
        verify(note, blen + (size_t)n + tlen);
        free(note);
        free(sig);
    }
    free(rest);
    return 0;
}
