/*
 * vault/merkle.c — the Merkle tree behind the transparency log (SPEC §8, RFC 9162 §2.1).
 *
 * This file owns three things: the hash of a leaf and of a node, the numbering of the stored
 * hashes, and the arithmetic of proofs. It owns no bytes on disk and no clock: whoever keeps the
 * log hands us a reader, and we hand back the hashes it must keep. That split is Go's sumdb/tlog
 * design and it is why the log can be tested with an array and run on LMDB with the same code.
 *
 * Every proof element is the hash of a range of leaves [lo, hi) whose start is aligned to a power
 * of two at least as large as the range. Such a range is a run of complete subtrees, largest
 * first, each of which is stored; so a prover first *plans* (lists the stored-hash indexes it
 * needs), then does one batched read, then folds. At most one element of any proof is a ragged
 * right edge, so a proof costs at most 2*ceil(log2 n) reads.
 *
 * The verifiers never trust a length: they derive the exact number of proof hashes from the
 * sizes and indexes (where the paths to the leaf and to the last leaf part, RFC 9162 §2.1.3.2)
 * and refuse anything else before hashing a byte.
 */
#include "vault/merkle.h"

#include <assert.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* SQLite's NEVER(): a condition that cannot happen; asserts in debug, fails safe in release. */
#ifdef NDEBUG
#define NEVER(x) (x)
#else
#define NEVER(x) ((x) ? (assert(!"NEVER: " #x), 1) : 0)
#endif

#define HB MERKLE_HASH_BYTES
/* Hashes one plan may need: 64 complete siblings plus one ragged edge of at most 63 subtrees. */
#define PLAN_MAX 192U

static unsigned popcount64(uint64_t x) { return (unsigned)__builtin_popcountll(x); }
static unsigned bitlen64(uint64_t x) { return x ? 64U - (unsigned)__builtin_clzll(x) : 0U; }
static unsigned ctz64(uint64_t x) { return (unsigned)__builtin_ctzll(x); } /* x != 0 */
static uint64_t shr64(uint64_t x, unsigned s) { return s >= 64 ? 0 : x >> s; }

void merkle_hash_leaf(unsigned char out[HB], const unsigned char *leaf, size_t len)
{
    static const unsigned char prefix = 0x00;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &prefix, 1);
    if (len)
        crypto_hash_sha256_update(&st, leaf, len);
    crypto_hash_sha256_final(&st, out);
}

void merkle_hash_node(unsigned char out[HB], const unsigned char left[HB], const unsigned char right[HB])
{
    static const unsigned char prefix = 0x01;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &prefix, 1);
    crypto_hash_sha256_update(&st, left, HB);
    crypto_hash_sha256_update(&st, right, HB);
    crypto_hash_sha256_final(&st, out); /* after both reads: OUT may alias an input */
}

void merkle_empty_root(unsigned char out[HB])
{
    crypto_hash_sha256(out, NULL, 0);
}

/*
 * The stored hashes of leaf n come right after those of leaf n-1: the leaf, then each subtree
 * it completes. Subtree (L, n) is completed by leaf (n+1)*2^L - 1, as the L'th hash after that
 * leaf's own; and leaf m is preceded by m + m/2 + m/4 + ... = 2m - popcount(m) hashes.
 */
uint64_t merkle_stored_index(unsigned level, uint64_t n)
{
    assert(level <= 62 && n < (MERKLE_MAX_SIZE >> level));
    uint64_t last = ((n + 1) << level) - 1;
    return 2 * last - popcount64(last) + level;
}

uint64_t merkle_stored_count(uint64_t size)
{
    assert(size <= MERKLE_MAX_SIZE);
    return 2 * size - popcount64(size);
}

/* ---- planning: which stored hashes a root or proof needs ---- */

struct plan {
    uint64_t idx[PLAN_MAX];
    size_t nidx;
    size_t first[MERKLE_MAX_PROOF]; /* element e folds idx[first[e] .. first[e+1] or nidx) */
    size_t nelem;
    int err;                        /* first error, Knot-style: later steps are no-ops */
};

/* One element: the hash of [lo, hi), as its complete subtrees, largest first. */
static void plan_range(struct plan *p, uint64_t lo, uint64_t hi)
{
    if (p->err)
        return;
    if (NEVER(p->nelem >= MERKLE_MAX_PROOF || lo >= hi)) {
        p->err = MERKLE_EINVAL;
        return;
    }
    p->first[p->nelem++] = p->nidx;
    while (lo < hi) {
        /* hi - lo >= 1, so level <= 63: the analyzer cannot see that bitlen64() of a nonzero value is >= 1. */
        unsigned level = bitlen64(hi - lo) - 1;
        while (level > 0 && (lo & ((UINT64_C(1) << level) - 1)) != 0) // NOLINT(clang-analyzer-core.UndefinedBinaryOperatorResult)
            level--;
        if (NEVER(p->nidx >= PLAN_MAX)) {
            p->err = MERKLE_EINVAL;
            return;
        }
        p->idx[p->nidx++] = merkle_stored_index(level, lo >> level);
        lo += UINT64_C(1) << level;
    }
}

/* Largest power of two strictly below N (N >= 2): RFC 9162's split point k. */
static uint64_t split(uint64_t n)
{
    /* n >= 2, so bitlen64(n - 1) >= 1 (the analyzer does not model __builtin_clzll). */
    return UINT64_C(1) << (bitlen64(n - 1) - 1); // NOLINT(clang-analyzer-core.UndefinedBinaryOperatorResult)
}

/* RFC 9162 §2.1.3.1 PATH(m, D[lo:hi]), emitted leaf to root. */
static void plan_path(struct plan *p, uint64_t m, uint64_t lo, uint64_t hi)
{
    if (hi - lo <= 1)
        return;
    uint64_t k = split(hi - lo);
    if (m < lo + k) {
        plan_path(p, m, lo, lo + k);
        plan_range(p, lo + k, hi);
    } else {
        plan_path(p, m, lo + k, hi);
        plan_range(p, lo, lo + k);
    }
}

/* RFC 9162 §2.1.4.1 SUBPROOF(m, D[lo:hi], b), m the absolute size of the old tree. */
static void plan_subproof(struct plan *p, uint64_t m, uint64_t lo, uint64_t hi, int b)
{
    if (m == hi) {
        if (!b)
            plan_range(p, lo, hi);
        return;
    }
    uint64_t k = split(hi - lo);
    if (m <= lo + k) {
        plan_subproof(p, m, lo, lo + k, b);
        plan_range(p, lo + k, hi);
    } else {
        plan_subproof(p, m, lo + k, hi, 0);
        plan_range(p, lo, lo + k);
    }
}

/* One batched read of everything planned, then each element folded into OUT[e]. */
static int plan_run(struct plan *p, unsigned char (*out)[HB], const merkle_reader *r)
{
    unsigned char h[PLAN_MAX][HB];
    if (p->err)
        return p->err;
    if (p->nidx > 0) {
        if (!r || !r->read_hashes)
            return MERKLE_EINVAL;
        if (r->read_hashes(r->ctx, p->idx, p->nidx, h) != 0)
            return MERKLE_EREAD;
    }
    for (size_t e = 0; e < p->nelem; e++) {
        size_t a = p->first[e], b = e + 1 < p->nelem ? p->first[e + 1] : p->nidx;
        unsigned char acc[HB];
        memcpy(acc, h[b - 1], HB);
        for (size_t i = b - 1; i-- > a;)
            merkle_hash_node(acc, h[i], acc);
        memcpy(out[e], acc, HB);
    }
    return MERKLE_OK;
}

/* ---- the storage side ---- */

int merkle_append(merkle_stored out[MERKLE_MAX_APPEND], size_t *out_n, uint64_t size,
                  const unsigned char leaf_hash[HB], const merkle_reader *r)
{
    uint64_t idx[MERKLE_MAX_APPEND];
    unsigned char left[MERKLE_MAX_APPEND][HB];
    if (size >= MERKLE_MAX_SIZE)
        return MERKLE_EINVAL;
    /* Leaf SIZE closes one subtree per trailing one bit of SIZE; their left halves are stored. */
    unsigned ones = ctz64(~size);
    for (unsigned l = 0; l < ones; l++)
        idx[l] = merkle_stored_index(l, (size >> l) - 1);
    if (ones > 0) {
        if (!r || !r->read_hashes)
            return MERKLE_EINVAL;
        if (r->read_hashes(r->ctx, idx, ones, left) != 0)
            return MERKLE_EREAD;
    }
    uint64_t first = merkle_stored_count(size);
    out[0].index = first;
    memcpy(out[0].hash, leaf_hash, HB);
    for (unsigned l = 0; l < ones; l++) {
        out[l + 1].index = first + l + 1;
        merkle_hash_node(out[l + 1].hash, left[l], out[l].hash);
        assert(out[l + 1].index == merkle_stored_index(l + 1, size >> (l + 1)));
    }
    *out_n = (size_t)ones + 1;
    return MERKLE_OK;
}

int merkle_tree_hash(unsigned char root[HB], uint64_t size, const merkle_reader *r)
{
    struct plan p = {.nidx = 0};
    unsigned char out[1][HB];
    if (size > MERKLE_MAX_SIZE)
        return MERKLE_EINVAL;
    if (size == 0) {
        merkle_empty_root(root);
        return MERKLE_OK;
    }
    plan_range(&p, 0, size);
    int rc = plan_run(&p, out, r);
    if (rc == MERKLE_OK)
        memcpy(root, out[0], HB);
    return rc;
}

int merkle_prove_inclusion(unsigned char proof[MERKLE_MAX_PROOF][HB], size_t *proof_len,
                           uint64_t index, uint64_t size, const merkle_reader *r)
{
    struct plan p = {.nidx = 0};
    if (size > MERKLE_MAX_SIZE || index >= size)
        return MERKLE_EINVAL;
    plan_path(&p, index, 0, size);
    int rc = plan_run(&p, proof, r);
    if (rc == MERKLE_OK)
        *proof_len = p.nelem;
    return rc;
}

int merkle_prove_consistency(unsigned char proof[MERKLE_MAX_PROOF][HB], size_t *proof_len,
                             uint64_t size1, uint64_t size2, const merkle_reader *r)
{
    struct plan p = {.nidx = 0};
    if (size2 > MERKLE_MAX_SIZE || size1 == 0 || size1 > size2)
        return MERKLE_EINVAL;
    if (size1 < size2)
        plan_subproof(&p, size1, 0, size2, 1);
    int rc = plan_run(&p, proof, r);
    if (rc == MERKLE_OK)
        *proof_len = p.nelem;
    return rc;
}

/* ---- the verifiers: pure, exact length first ---- */

int merkle_verify_inclusion(const unsigned char leaf_hash[HB], uint64_t index, uint64_t size,
                            const unsigned char (*proof)[HB], size_t proof_len,
                            const unsigned char root[HB])
{
    if (index >= size) /* also size == 0 */
        return -1;
    /* Below level INNER the paths to INDEX and to SIZE-1 differ: a full path with a sibling on
     * each level. Above it INDEX rides the right border, with a left sibling where its bit is 1. */
    unsigned inner = bitlen64(index ^ (size - 1));
    unsigned border = popcount64(shr64(index, inner));
    if (proof_len != (size_t)inner + border)
        return -1;
    if (proof_len > 0 && !proof)
        return -1;

    unsigned char h[HB];
    memcpy(h, leaf_hash, HB);
    for (unsigned i = 0; i < inner; i++) {
        if ((index >> i) & 1)
            merkle_hash_node(h, proof[i], h);
        else
            merkle_hash_node(h, h, proof[i]);
    }
    for (size_t i = inner; i < proof_len; i++)
        merkle_hash_node(h, proof[i], h);
    return sodium_memcmp(h, root, HB) == 0 ? 0 : -1;
}

int merkle_verify_consistency(uint64_t size1, uint64_t size2, const unsigned char (*proof)[HB],
                              size_t proof_len, const unsigned char root1[HB],
                              const unsigned char root2[HB])
{
    if (size1 == 0 || size1 > size2)
        return -1;
    if (size1 == size2)
        return proof_len == 0 && sodium_memcmp(root1, root2, HB) == 0 ? 0 : -1;

    /* The proof is the tail of the inclusion proof of leaf SIZE1-1 in SIZE2, starting at the
     * level of the largest complete subtree ending at SIZE1 (level SHIFT), preceded by that
     * subtree's hash unless it is the whole old tree (SIZE1 a power of two: it is ROOT1). */
    uint64_t last = size1 - 1;
    unsigned inner = bitlen64(last ^ (size2 - 1));
    unsigned shift = ctz64(size1);
    unsigned border = popcount64(shr64(last, inner));
    size_t start = (size1 == UINT64_C(1) << shift) ? 0 : 1;
    if (NEVER(inner <= shift))
        return -1;
    if (proof_len != start + (inner - shift) + border)
        return -1;
    if (!proof) /* proof_len >= 1 here */
        return -1;

    unsigned char h1[HB], h2[HB];
    memcpy(h1, start ? proof[0] : root1, HB);
    memcpy(h2, h1, HB);
    const unsigned char (*p)[HB] = proof + start;
    uint64_t mask = last >> shift;
    for (unsigned i = 0; i < inner - shift; i++) {
        if ((mask >> i) & 1) {
            merkle_hash_node(h1, p[i], h1);
            merkle_hash_node(h2, p[i], h2);
        } else {
            merkle_hash_node(h2, h2, p[i]); /* right of the old tree: only in the new one */
        }
    }
    for (size_t i = inner - shift; i < proof_len - start; i++) {
        merkle_hash_node(h1, p[i], h1);
        merkle_hash_node(h2, p[i], h2);
    }
    int ok1 = sodium_memcmp(h1, root1, HB) == 0;
    int ok2 = sodium_memcmp(h2, root2, HB) == 0;
    return ok1 && ok2 ? 0 : -1;
}

/* ---- the in-memory store ---- */

static int mem_read(void *ctx, const uint64_t *indexes, size_t n, unsigned char (*out)[HB])
{
    merkle_mem *m = ctx;
    m->calls++;
    for (size_t i = 0; i < n; i++) {
        if (indexes[i] >= m->count)
            return -1;
        memcpy(out[i], m->hash[indexes[i]], HB);
    }
    m->reads += n;
    return 0;
}

void merkle_mem_init(merkle_mem *m)
{
    memset(m, 0, sizeof *m);
    m->reader.read_hashes = mem_read;
    m->reader.ctx = m;
}

int merkle_mem_append(merkle_mem *m, const unsigned char leaf_hash[HB])
{
    merkle_stored add[MERKLE_MAX_APPEND];
    size_t n = 0;
    /* Appends are not reads a caller asked for: keep the counters for proofs and roots. */
    uint64_t reads = m->reads, calls = m->calls;
    int rc = merkle_append(add, &n, m->size, leaf_hash, &m->reader);
    m->reads = reads;
    m->calls = calls;
    if (rc != MERKLE_OK)
        return -1;
    if (m->count + n > m->cap) {
        uint64_t cap = m->cap ? 2 * m->cap : 64;
        if (cap > SIZE_MAX / HB)
            return -1;
        void *h = realloc(m->hash, (size_t)cap * HB);
        if (!h)
            return -1;
        m->hash = h;
        m->cap = cap;
    }
    for (size_t i = 0; i < n; i++) {
        assert(add[i].index == m->count + i);
        memcpy(m->hash[m->count + i], add[i].hash, HB);
    }
    m->count += n;
    m->size++;
    return 0;
}

void merkle_mem_free(merkle_mem *m)
{
    free(m->hash);
    m->hash = NULL;
    m->count = m->cap = m->size = 0;
}
