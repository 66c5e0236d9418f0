/*
 * fuzz/fuzz_merkle.c — Merkle proof verification (vault/merkle.h), differential against a
 * reference written straight from RFC 9162 §2.1.3.2 and §2.1.4.2 (the step-by-step algorithms,
 * which never compute a proof length up front).
 *
 * Input: byte 0 is the mode (mod 3), integers are big-endian u64, hashes 32 raw bytes.
 *   0  inclusion:   index, size, leaf_hash, root, then proof hashes to the end of the input
 *   1  consistency: size1, size2, root1, root2, then proof hashes to the end of the input
 *   2  real tree:   leaf seed (1 byte), leaf count - 1 (1 byte), a, b (1 byte each), then
 *                   mutations of 3 bytes {kind, where, bit}: a tree of 1..256 leaves is built with
 *                   merkle_mem, an inclusion and a consistency proof are made by the prover,
 *                   checked, then mutated and checked again.
 * Oracles: merkle_verify_* agree with the reference on every input; a proof the prover made
 * verifies; merkle_tree_hash agrees with the recursive RFC 9162 MTH.
 */
#include "fuzz/fuzz_common.h"
#include "vault/merkle.h"

#include <sodium.h>

#define HB MERKLE_HASH_BYTES
#define MAX_RAW_PROOF 130

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    if (sodium_init() < 0)
        abort();
    return 0;
}

static void node(unsigned char out[HB], const unsigned char l[HB], const unsigned char r[HB])
{
    unsigned char buf[1 + 2 * HB];
    buf[0] = 0x01;
    memcpy(buf + 1, l, HB);
    memcpy(buf + 1 + HB, r, HB);
    crypto_hash_sha256(out, buf, sizeof buf);
}

/* RFC 9162 §2.1.3.2, step by step. */
static int ref_inclusion(const unsigned char leaf[HB], uint64_t index, uint64_t size,
                         const unsigned char (*proof)[HB], size_t n, const unsigned char root[HB])
{
    if (index >= size)
        return -1;
    uint64_t fn = index, sn = size - 1;
    unsigned char r[HB];
    memcpy(r, leaf, HB);
    for (size_t i = 0; i < n; i++) {
        if (sn == 0)
            return -1;
        if ((fn & 1) || fn == sn) {
            node(r, proof[i], r);
            if (!(fn & 1))
                while (!(fn & 1) && fn != 0)
                    fn >>= 1, sn >>= 1;
        } else {
            node(r, r, proof[i]);
        }
        fn >>= 1, sn >>= 1;
    }
    return sn == 0 && memcmp(r, root, HB) == 0 ? 0 : -1;
}

/* RFC 9162 §2.1.4.2, step by step; size1 == 0 refused as Kluis does (merkle.h). */
static int ref_consistency(uint64_t size1, uint64_t size2, const unsigned char (*proof)[HB], size_t n,
                           const unsigned char root1[HB], const unsigned char root2[HB])
{
    if (size1 == 0 || size1 > size2)
        return -1;
    if (size1 == size2)
        return n == 0 && memcmp(root1, root2, HB) == 0 ? 0 : -1;
    if (n == 0)
        return -1;
    int pow2 = (size1 & (size1 - 1)) == 0;
    size_t total = n + (pow2 ? 1 : 0);
    uint64_t fn = size1 - 1, sn = size2 - 1;
    unsigned char fr[HB], sr[HB];
    while (fn & 1)
        fn >>= 1, sn >>= 1;
    memcpy(fr, pow2 ? root1 : proof[0], HB);
    memcpy(sr, fr, HB);
    for (size_t i = 1; i < total; i++) {
        const unsigned char *c = proof[pow2 ? i - 1 : i];
        if (sn == 0)
            return -1;
        if ((fn & 1) || fn == sn) {
            node(fr, c, fr);
            node(sr, c, sr);
            if (!(fn & 1))
                while (!(fn & 1) && fn != 0)
                    fn >>= 1, sn >>= 1;
        } else {
            node(sr, sr, c);
        }
        fn >>= 1, sn >>= 1;
    }
    return memcmp(fr, root1, HB) == 0 && memcmp(sr, root2, HB) == 0 && sn == 0 ? 0 : -1;
}

static int check_inclusion(const unsigned char leaf[HB], uint64_t index, uint64_t size,
                           const unsigned char (*proof)[HB], size_t n, const unsigned char root[HB])
{
    int got = merkle_verify_inclusion(leaf, index, size, n ? proof : NULL, n, root);
    int want = ref_inclusion(leaf, index, size, proof, n, root);
    FUZZ_ASSERT(got == want);
    return got;
}

static int check_consistency(uint64_t size1, uint64_t size2, const unsigned char (*proof)[HB], size_t n,
                             const unsigned char root1[HB], const unsigned char root2[HB])
{
    int got = merkle_verify_consistency(size1, size2, n ? proof : NULL, n, root1, root2);
    int want = ref_consistency(size1, size2, proof, n, root1, root2);
    FUZZ_ASSERT(got == want);
    return got;
}

/* RFC 9162 §2.1.1 MTH, recursively. */
static void ref_mth(unsigned char out[HB], unsigned char (*leaves)[HB], uint64_t n)
{
    if (n == 1) {
        memcpy(out, leaves[0], HB);
        return;
    }
    uint64_t k = 1;
    while (k * 2 < n)
        k *= 2;
    unsigned char l[HB], r[HB];
    ref_mth(l, leaves, k);
    ref_mth(r, leaves + k, n - k);
    node(out, l, r);
}

/* One mutation of a proof and its claims; returns 0 when the input has no more. */
static int mutate(struct fin *in, uint64_t *a, uint64_t *b, unsigned char (*proof)[HB], size_t *n,
                  unsigned char r1[HB], unsigned char r2[HB])
{
    if (in->n < 3)
        return 0;
    uint8_t kind = fin_u8(in), where = fin_u8(in), bit = fin_u8(in);
    switch (kind % 10) {
    case 0: if (*n) proof[where % *n][bit % HB] ^= (unsigned char)(1u << (bit % 8)); break;
    case 1: if (*n) (*n)--; break;
    case 2: if (*n < MERKLE_MAX_PROOF) { memset(proof[*n], where, HB); (*n)++; } break;
    case 3: *a += (uint64_t)(int8_t)where; break;
    case 4: *b += (uint64_t)(int8_t)where; break;
    case 5: *a ^= (uint64_t)1 << (where % 64); break;
    case 6: *b ^= (uint64_t)1 << (where % 64); break;
    case 7: r1[where % HB] ^= (unsigned char)(1u << (bit % 8)); break;
    case 8: { unsigned char t[HB]; memcpy(t, r1, HB); memcpy(r1, r2, HB); memcpy(r2, t, HB); break; }
    default:
        if (*n > 1) {
            unsigned char t[HB];
            size_t i = where % *n, j = bit % *n;
            memcpy(t, proof[i], HB), memcpy(proof[i], proof[j], HB), memcpy(proof[j], t, HB);
        }
        break;
    }
    return 1;
}

static void real_tree(struct fin *in)
{
    uint8_t seed = fin_u8(in);
    uint64_t n = 1 + (uint64_t)fin_u8(in);
    uint8_t a = fin_u8(in), b = fin_u8(in);
    unsigned char leaves[256][HB], root[HB], root1[HB], ref[HB];
    unsigned char proof[MERKLE_MAX_PROOF][HB];
    size_t plen = 0;
    merkle_mem m;

    merkle_mem_init(&m);
    for (uint64_t i = 0; i < n; i++) {
        unsigned char leaf[9] = {seed, (unsigned char)(i >> 8), (unsigned char)i};
        merkle_hash_leaf(leaves[i], leaf, sizeof leaf);
        FUZZ_ASSERT(merkle_mem_append(&m, leaves[i]) == 0);
    }
    uint64_t size = 1 + b % n, index = a % size, size1 = 1 + a % size;
    FUZZ_ASSERT(merkle_tree_hash(root, size, &m.reader) == MERKLE_OK);
    ref_mth(ref, leaves, size);
    FUZZ_ASSERT(memcmp(root, ref, HB) == 0);
    FUZZ_ASSERT(merkle_tree_hash(root1, size1, &m.reader) == MERKLE_OK);

    /* Inclusion: made by the prover, verified, then mutated. */
    FUZZ_ASSERT(merkle_prove_inclusion(proof, &plen, index, size, &m.reader) == MERKLE_OK);
    FUZZ_ASSERT(check_inclusion(leaves[index], index, size, proof, plen, root) == 0);
    struct fin save = *in;
    uint64_t ia = index, ib = size;
    unsigned char r2[HB];
    memcpy(r2, root, HB);
    while (mutate(in, &ia, &ib, proof, &plen, r2, root1))
        (void)check_inclusion(leaves[index], ia, ib, proof, plen, r2);
    FUZZ_ASSERT(merkle_tree_hash(root1, size1, &m.reader) == MERKLE_OK);

    /* Consistency from size1 to size, same mutations. */
    *in = save;
    FUZZ_ASSERT(merkle_prove_consistency(proof, &plen, size1, size, &m.reader) == MERKLE_OK);
    FUZZ_ASSERT(check_consistency(size1, size, proof, plen, root1, root) == 0);
    uint64_t c1 = size1, c2 = size;
    while (mutate(in, &c1, &c2, proof, &plen, root1, root))
        (void)check_consistency(c1, c2, proof, plen, root1, root);
    merkle_mem_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fin in = {data, size};
    uint8_t mode = fin_u8(&in) % 3;
    if (mode == 2) {
        real_tree(&in);
        return 0;
    }
    uint64_t x = fin_u64(&in), y = fin_u64(&in);
    unsigned char h1[HB], h2[HB], proof[MAX_RAW_PROOF][HB];
    fin_bytes(&in, h1, HB);
    fin_bytes(&in, h2, HB);
    size_t n = 0;
    while (in.n >= HB && n < MAX_RAW_PROOF)
        fin_bytes(&in, proof[n++], HB);
    if (mode == 0)
        (void)check_inclusion(h1, x, y, proof, n, h2);
    else
        (void)check_consistency(x, y, proof, n, h1, h2);
    return 0;
}
