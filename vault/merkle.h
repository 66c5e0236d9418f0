/*
 * vault/merkle.h — the RFC 9162 §2.1 Merkle tree of the transparency log (SPEC §8), SHA-256.
 *
 * Pure: hashes and integers in, hashes out. Storage is injected through one batched reader
 * (merkle_reader); nothing here allocates except the in-memory store at the end, does I/O,
 * keeps global state or looks at a clock. All functions are thread-safe as long as the reader
 * is. sodium_init() must have succeeded before any call.
 *
 * Storage model (Go's sumdb/tlog "stored hashes"): the log persists, for every complete subtree
 * (level L, the N'th subtree of 2^L leaves), its hash at the stored-hash index
 * merkle_stored_index(L, N). The indexes form one dense, append-only sequence: appending leaf
 * number `size` yields the hashes for indexes merkle_stored_count(size) ..
 * merkle_stored_count(size + 1) - 1, in order (the leaf hash first, then each subtree it
 * completes). A tree of SIZE leaves therefore keeps exactly 2*SIZE - popcount(SIZE) hashes, and
 * every root and proof below needs O(log SIZE) of them, fetched in a single reader call.
 */
#ifndef KLUIS_MERKLE_H
#define KLUIS_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define MERKLE_HASH_BYTES 32U
/** Longest proof for any tree size the prover accepts. */
#define MERKLE_MAX_PROOF 64U
/** Most hashes one merkle_append() returns (the leaf plus one per completed level). */
#define MERKLE_MAX_APPEND 64U
/** Largest tree size the storage model handles (stored-hash indexes stay below 2^63). */
#define MERKLE_MAX_SIZE (UINT64_C(1) << 62)

/** Return values of the functions that read storage. */
#define MERKLE_OK 0
#define MERKLE_EINVAL (-1) /* arguments out of range: index >= size, size1 == 0, size too big */
#define MERKLE_EREAD (-2)  /* the reader failed; its own reason stays in its context */

/**
 * The one storage interface: fill OUT[i] with the stored hash at INDEXES[i], for i < N.
 * Indexes are distinct and in no particular order; N >= 1. Return 0 when every hash was found,
 * anything else when one is missing or the storage failed (OUT may then be partly written).
 * Called at most once per merkle_* call.
 */
typedef struct merkle_reader {
    int (*read_hashes)(void *ctx, const uint64_t *indexes, size_t n,
                       unsigned char (*out)[MERKLE_HASH_BYTES]);
    void *ctx;
} merkle_reader;

/** One hash to persist: at stored-hash index INDEX. */
typedef struct merkle_stored {
    uint64_t index;
    unsigned char hash[MERKLE_HASH_BYTES];
} merkle_stored;

/**
 * @brief Leaf hash: SHA-256(0x00 || LEAF).
 * @param[out] out     32 bytes.
 * @param[in]  leaf    the leaf bytes (the event JSON); may be NULL when LEN is 0.
 * @param[in]  len     length of LEAF.
 */
void merkle_hash_leaf(unsigned char out[MERKLE_HASH_BYTES], const unsigned char *leaf, size_t len);

/**
 * @brief Interior node hash: SHA-256(0x01 || LEFT || RIGHT). OUT may alias LEFT or RIGHT.
 */
void merkle_hash_node(unsigned char out[MERKLE_HASH_BYTES], const unsigned char left[MERKLE_HASH_BYTES],
                      const unsigned char right[MERKLE_HASH_BYTES]);

/**
 * @brief Root of the empty tree: SHA-256 of the empty string (RFC 9162 §2.1.1).
 */
void merkle_empty_root(unsigned char out[MERKLE_HASH_BYTES]);

/**
 * @brief Stored-hash index of the N'th complete subtree of 2^LEVEL leaves (leaves N*2^LEVEL ..).
 * @param[in] level  0..62.
 * @param[in] n      with (N + 1) * 2^LEVEL <= MERKLE_MAX_SIZE.
 * @return the index; arguments out of range are a caller bug (asserted in debug builds).
 */
uint64_t merkle_stored_index(unsigned level, uint64_t n);

/**
 * @brief Number of stored hashes of a tree of SIZE leaves (= 2*SIZE - popcount(SIZE)), which is
 *        also the index of the first hash the append of leaf number SIZE produces.
 * @param[in] size  <= MERKLE_MAX_SIZE.
 */
uint64_t merkle_stored_count(uint64_t size);

/**
 * @brief Append leaf number SIZE (the tree holds SIZE leaves before the call): compute the hashes
 *        the storage must persist, like tlog.StoredHashes.
 * @param[out] out       up to MERKLE_MAX_APPEND entries: consecutive indexes starting at
 *                       merkle_stored_count(SIZE), the leaf hash first, then the root of each
 *                       complete subtree the new leaf closes.
 * @param[out] out_n     number of entries written (1 + trailing one bits of SIZE).
 * @param[in]  size      the current tree size, < MERKLE_MAX_SIZE.
 * @param[in]  leaf_hash merkle_hash_leaf() of the new leaf.
 * @param[in]  r         reads the left siblings (one call, none when SIZE is even).
 * @return MERKLE_OK; MERKLE_EINVAL when SIZE is too large; MERKLE_EREAD when the reader failed.
 *         Nothing is written to OUT/OUT_N on failure. The caller persists all entries or none.
 */
int merkle_append(merkle_stored out[MERKLE_MAX_APPEND], size_t *out_n, uint64_t size,
                  const unsigned char leaf_hash[MERKLE_HASH_BYTES], const merkle_reader *r)
    __attribute__((warn_unused_result));

/**
 * @brief Root hash of the first SIZE leaves, from popcount(SIZE) stored hashes (one reader call).
 * @param[out] root  32 bytes; the empty-tree root when SIZE is 0 (no read).
 * @param[in]  size  <= the number of leaves stored, <= MERKLE_MAX_SIZE.
 * @return MERKLE_OK, MERKLE_EINVAL (SIZE too large), MERKLE_EREAD (reader failed, e.g. SIZE is
 *         beyond what is stored). ROOT is untouched on failure.
 */
int merkle_tree_hash(unsigned char root[MERKLE_HASH_BYTES], uint64_t size, const merkle_reader *r)
    __attribute__((warn_unused_result));

/**
 * @brief Inclusion proof (RFC 9162 §2.1.3.1) of leaf INDEX in the tree of the first SIZE leaves.
 *        Reads at most 2*ceil(log2 SIZE) stored hashes, in one reader call.
 * @param[out] proof      room for MERKLE_MAX_PROOF hashes; ordered leaf to root.
 * @param[out] proof_len  number of hashes written.
 * @param[in]  index      < SIZE.
 * @param[in]  size       <= the number of leaves stored, <= MERKLE_MAX_SIZE.
 * @return MERKLE_OK; MERKLE_EINVAL when INDEX >= SIZE or SIZE is too large; MERKLE_EREAD.
 *         PROOF/PROOF_LEN are untouched on failure.
 */
int merkle_prove_inclusion(unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES], size_t *proof_len,
                           uint64_t index, uint64_t size, const merkle_reader *r)
    __attribute__((warn_unused_result));

/**
 * @brief Consistency proof (RFC 9162 §2.1.4.1) between the trees of the first SIZE1 and SIZE2
 *        leaves. Reads at most 2*ceil(log2 SIZE2) stored hashes, in one reader call.
 * @param[out] proof      room for MERKLE_MAX_PROOF hashes.
 * @param[out] proof_len  number of hashes written (0 when SIZE1 == SIZE2, with no read).
 * @param[in]  size1      0 < SIZE1 <= SIZE2: a proof from the empty tree is meaningless.
 * @param[in]  size2      <= the number of leaves stored, <= MERKLE_MAX_SIZE.
 * @return MERKLE_OK, MERKLE_EINVAL, MERKLE_EREAD. PROOF/PROOF_LEN are untouched on failure.
 */
int merkle_prove_consistency(unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES], size_t *proof_len,
                             uint64_t size1, uint64_t size2, const merkle_reader *r)
    __attribute__((warn_unused_result));

/**
 * @brief Verify an inclusion proof (RFC 9162 §2.1.3.2). Pure. The proof length must be exactly
 *        the one INDEX and SIZE imply; that is checked before any hashing.
 * @param[in] leaf_hash  merkle_hash_leaf() of the leaf.
 * @param[in] index      the leaf's index, < SIZE.
 * @param[in] size       tree size, > 0 (any uint64_t).
 * @param[in] proof      PROOF_LEN hashes, leaf to root; may be NULL when PROOF_LEN is 0.
 * @param[in] root       the tree's root hash (e.g. from a verified checkpoint).
 * @return 0 when the proof is valid, -1 otherwise (bad index/size, wrong length, mismatch).
 */
int merkle_verify_inclusion(const unsigned char leaf_hash[MERKLE_HASH_BYTES], uint64_t index,
                            uint64_t size, const unsigned char (*proof)[MERKLE_HASH_BYTES],
                            size_t proof_len, const unsigned char root[MERKLE_HASH_BYTES])
    __attribute__((warn_unused_result));

/**
 * @brief Verify a consistency proof (RFC 9162 §2.1.4.2). Pure; exact length checked first.
 *        SIZE1 == SIZE2 needs an empty proof and equal roots. SIZE1 == 0 is always rejected:
 *        no checkpoint of a Kluis log is empty, and the empty tree proves nothing.
 * @param[in] size1, size2  0 < SIZE1 <= SIZE2.
 * @param[in] proof         PROOF_LEN hashes; may be NULL when PROOF_LEN is 0.
 * @param[in] root1, root2  the roots of the two trees.
 * @return 0 when ROOT2's tree extends ROOT1's, -1 otherwise.
 */
int merkle_verify_consistency(uint64_t size1, uint64_t size2,
                              const unsigned char (*proof)[MERKLE_HASH_BYTES], size_t proof_len,
                              const unsigned char root1[MERKLE_HASH_BYTES],
                              const unsigned char root2[MERKLE_HASH_BYTES])
    __attribute__((warn_unused_result));

/**
 * An in-memory store of stored hashes, for tests and small trees (the whole tree in one
 * malloc'd array). Not thread-safe. `reader` reads from it; `reads`/`calls` count the hashes
 * and the reader calls served, so tests can check the O(log n) bound.
 */
typedef struct merkle_mem {
    merkle_reader reader;                    /* pass &m->reader to the functions above */
    unsigned char (*hash)[MERKLE_HASH_BYTES]; /* hash[i] is stored-hash index i */
    uint64_t count;                          /* stored hashes = merkle_stored_count(size) */
    uint64_t cap;
    uint64_t size;                           /* leaves */
    uint64_t reads;
    uint64_t calls;
} merkle_mem;

/** @brief Initialise an empty store (never fails; allocates nothing yet). */
void merkle_mem_init(merkle_mem *m);

/**
 * @brief Append one leaf by its hash: merkle_append() against the store itself, then persist.
 * @return 0, or -1 on allocation failure or a full tree (the store is then unchanged).
 */
int merkle_mem_append(merkle_mem *m, const unsigned char leaf_hash[MERKLE_HASH_BYTES])
    __attribute__((warn_unused_result));

/** @brief Release the store's memory; M may be reused after merkle_mem_init(). */
void merkle_mem_free(merkle_mem *m);

#endif
