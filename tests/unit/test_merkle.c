/*
 * tests/unit/test_merkle.c — vault/merkle: known answers, every transparency-dev proof vector
 * under ../shared/vectors/merkle/, and properties of the prover against the verifiers.
 */
#include "tests/test.h"
#include "vault/encoding.h"
#include "vault/merkle.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdint.h>
#include <sys/stat.h>

TEST_MAIN_DEFS

#define HB MERKLE_HASH_BYTES

/* ---- a reference tree: RFC 9162 MTH straight from the definition ---- */

static void ref_mth(unsigned char out[HB], unsigned char (*leaves)[HB], uint64_t n)
{
    if (n == 0) {
        merkle_empty_root(out);
        return;
    }
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
    merkle_hash_node(out, l, r);
}

static unsigned ceil_log2(uint64_t n)
{
    unsigned l = 0;
    while ((UINT64_C(1) << l) < n)
        l++;
    return l;
}

/* ---- known answers ---- */

static void test_known_answers(void)
{
    /* Go's tlog numbering: leaf0 leaf1 n(0-1) leaf2 leaf3 n(2-3) n(0-3) leaf4 ... */
    static const struct { unsigned level; uint64_t n, want; } idx[] = {
        {0, 0, 0}, {0, 1, 1}, {1, 0, 2}, {0, 2, 3}, {0, 3, 4}, {1, 1, 5}, {2, 0, 6}, {0, 4, 7},
        {0, 5, 8}, {1, 2, 9}, {0, 6, 10}, {0, 7, 11}, {1, 3, 12}, {2, 1, 13}, {3, 0, 14},
    };
    int ok = 1;
    for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++)
        ok &= merkle_stored_index(idx[i].level, idx[i].n) == idx[i].want;
    CHECK(ok, "merkle_stored_index matches the tlog numbering for the first 15 hashes");
    CHECK(merkle_stored_count(0) == 0 && merkle_stored_count(1) == 1 && merkle_stored_count(2) == 3 &&
              merkle_stored_count(3) == 4 && merkle_stored_count(8) == 15 &&
              merkle_stored_count(MERKLE_MAX_SIZE) == 2 * MERKLE_MAX_SIZE - 1,
          "merkle_stored_count = 2n - popcount(n)");

    unsigned char h[HB], want[HB];
    merkle_empty_root(h);
    CHECK(hex_decode_exact(want, HB, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0 &&
              memcmp(h, want, HB) == 0,
          "empty root is SHA-256(\"\")");
    merkle_hash_leaf(h, NULL, 0);
    CHECK(hex_decode_exact(want, HB, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d") == 0 &&
              memcmp(h, want, HB) == 0,
          "leaf hash of the empty leaf (RFC 6962 test tree)");
}

/* The RFC 6962 test tree of 8 leaves used by every transparency-dev vector. */
static const char *const rfc_leaves_hex[8] = {
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
};

static merkle_mem rfc_tree;
static unsigned char rfc_leaf[8][HB];

static void build_rfc_tree(void)
{
    merkle_mem_init(&rfc_tree);
    int ok = 1;
    for (int i = 0; i < 8; i++) {
        unsigned char buf[16];
        size_t n = strlen(rfc_leaves_hex[i]) / 2;
        ok &= n == 0 || hex_decode_exact(buf, n, rfc_leaves_hex[i]) == 0;
        merkle_hash_leaf(rfc_leaf[i], buf, n);
        ok &= merkle_mem_append(&rfc_tree, rfc_leaf[i]) == 0;
    }
    unsigned char root[HB], want[HB];
    ok &= merkle_tree_hash(root, 8, &rfc_tree.reader) == MERKLE_OK;
    ok &= hex_decode_exact(want, HB, "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328") == 0;
    CHECK(ok && memcmp(root, want, HB) == 0, "RFC 6962 8-leaf test tree has the known root");
}

/* ---- the transparency-dev vectors ---- */

/* Integers straight from the text: leafIdx can be 2^64-1, beyond jansson's json_int_t. */
static int raw_u64(const char *text, const char *key, uint64_t *out)
{
    char pat[32];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(text, pat);
    if (!p)
        return -1;
    p += strlen(pat);
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    if (*p++ != ':')
        return -1;
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    if (*p < '0' || *p > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p, &end, 10);
    if (errno || (*end != ',' && *end != '\n' && *end != ' ' && *end != '}'))
        return -1;
    *out = v;
    return 0;
}

/* A proof element must be a hash: exactly 32 bytes of standard base64, else the proof is refused
 * at parse time, as the API layer refuses it. */
static int dec_hash(unsigned char out[HB], const json_t *v)
{
    size_t got = 0;
    const char *s = json_string_value(v);
    if (!s || b64std_decode(out, HB, &got, s, strlen(s)) != 0 || got != HB)
        return -1;
    return 0;
}

/* A root: the vectors compare roots as opaque byte strings (like transparency-dev's verifier,
 * which checks the length of leaf and proof hashes but not of roots) and sometimes use non-hash
 * strings ("don't care 2"). A value that is not 32 bytes can never equal a computed hash, so it
 * stands in as a 32-byte tag of itself: equal strings stay equal, and no tag can equal a real
 * node hash (domain-separated). Leaf hashes and proof elements go through dec_hash(). */
static int dec_value(unsigned char out[HB], const json_t *v)
{
    unsigned char buf[256];
    size_t got = 0;
    const char *s = json_string_value(v);
    if (!s || b64std_decode(buf, sizeof buf, &got, s, strlen(s)) != 0)
        return -1;
    if (got == HB) {
        memcpy(out, buf, HB);
    } else {
        crypto_hash_sha256_state st;
        crypto_hash_sha256_init(&st);
        crypto_hash_sha256_update(&st, (const unsigned char *)"test: not a hash\n", 17);
        crypto_hash_sha256_update(&st, buf, got);
        crypto_hash_sha256_final(&st, out);
    }
    return 0;
}

/* Returns the number of proof elements parsed, or -1 when one is not a hash. */
static int dec_proof(unsigned char (*proof)[HB], size_t max, const json_t *arr)
{
    if (json_is_null(arr))
        return 0;
    if (!json_is_array(arr) || json_array_size(arr) > max)
        return -1;
    for (size_t i = 0; i < json_array_size(arr); i++)
        if (dec_hash(proof[i], json_array_get(arr, i)) != 0)
            return -1;
    return (int)json_array_size(arr);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(65536);
    size_t n = buf ? fread(buf, 1, 65535, f) : 0;
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

static int n_inclusion, n_consistency, n_proofs_matched;

static void run_vector(const char *path, int consistency)
{
    char *text = slurp(path);
    json_error_t jerr;
    json_t *v = text ? json_loads(text, JSON_DECODE_INT_AS_REAL, &jerr) : NULL;
    json_t *want_err = json_object_get(v, "wantErr");
    if (!v || !json_is_boolean(want_err)) {
        CHECK(0, "vector %s parses", path);
        json_decref(v);
        free(text);
        return;
    }
    int want_ok = !json_is_true(want_err);
    unsigned char proof[80][HB];
    int np = dec_proof(proof, 80, json_object_get(v, "proof"));
    int ok = 0;
    if (!consistency) {
        uint64_t idx, size;
        unsigned char leaf[HB], root[HB];
        n_inclusion++;
        if (raw_u64(text, "leafIdx", &idx) == 0 && raw_u64(text, "treeSize", &size) == 0 &&
            dec_hash(leaf, json_object_get(v, "leafHash")) == 0 &&
            dec_value(root, json_object_get(v, "root")) == 0 && np >= 0)
            ok = merkle_verify_inclusion(leaf, idx, size, (const unsigned char (*)[HB])proof,
                                         (size_t)np, root) == 0;
        /* Our prover must produce the very proof of each happy path over the RFC test tree. */
        if (want_ok && ok && size <= 8 && memcmp(leaf, rfc_leaf[idx], HB) == 0) {
            unsigned char mine[MERKLE_MAX_PROOF][HB];
            size_t n = 0;
            int same = merkle_prove_inclusion(mine, &n, idx, size, &rfc_tree.reader) == MERKLE_OK &&
                       n == (size_t)np && (n == 0 || memcmp(mine, proof, n * HB) == 0);
            CHECK(same, "prover reproduces the inclusion proof of %s", path);
            n_proofs_matched++;
        }
    } else {
        uint64_t s1, s2;
        unsigned char r1[HB], r2[HB];
        n_consistency++;
        if (raw_u64(text, "size1", &s1) == 0 && raw_u64(text, "size2", &s2) == 0 &&
            dec_value(r1, json_object_get(v, "root1")) == 0 &&
            dec_value(r2, json_object_get(v, "root2")) == 0 && np >= 0)
            ok = merkle_verify_consistency(s1, s2, (const unsigned char (*)[HB])proof, (size_t)np,
                                           r1, r2) == 0;
        unsigned char t1[HB], t2[HB];
        if (want_ok && ok && s2 <= 8 && merkle_tree_hash(t1, s1, &rfc_tree.reader) == MERKLE_OK &&
            merkle_tree_hash(t2, s2, &rfc_tree.reader) == MERKLE_OK && memcmp(t1, r1, HB) == 0 &&
            memcmp(t2, r2, HB) == 0) {
            unsigned char mine[MERKLE_MAX_PROOF][HB];
            size_t n = 0;
            int same = merkle_prove_consistency(mine, &n, s1, s2, &rfc_tree.reader) == MERKLE_OK &&
                       n == (size_t)np && (n == 0 || memcmp(mine, proof, n * HB) == 0);
            CHECK(same, "prover reproduces the consistency proof of %s", path);
            n_proofs_matched++;
        }
    }
    CHECK(ok == want_ok, "vector %s %s", path, want_ok ? "verifies" : "is rejected");
    json_decref(v);
    free(text);
}

static void walk(const char *dir, int consistency)
{
    DIR *d = opendir(dir);
    if (!d) {
        CHECK(0, "open vector directory %s", dir);
        return;
    }
    /* Sorted, so the output is the same on every machine. */
    char *names[512];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 512) {
        if (e->d_name[0] == '.')
            continue;
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            walk(path, consistency);
        else if (strlen(names[i]) > 5 && strcmp(names[i] + strlen(names[i]) - 5, ".json") == 0)
            run_vector(path, consistency);
        free(names[i]);
    }
}

static void test_vectors(void)
{
    char dir[4096];
    build_rfc_tree();
    snprintf(dir, sizeof dir, "%s/merkle/inclusion", test_vectors_dir());
    walk(dir, 0);
    snprintf(dir, sizeof dir, "%s/merkle/consistency", test_vectors_dir());
    walk(dir, 1);
    printf("# %d inclusion and %d consistency vectors, %d proofs reproduced\n", n_inclusion,
           n_consistency, n_proofs_matched);
    CHECK(n_inclusion + n_consistency >= 180, "all vector files found (%d)", n_inclusion + n_consistency);
    CHECK(n_inclusion > 0 && n_consistency > 0, "both vector directories walked");
    CHECK(n_proofs_matched >= 10, "prover reproduced the happy-path proofs (%d)", n_proofs_matched);
    merkle_mem_free(&rfc_tree);
}

/* ---- properties: prover against verifiers ---- */

#define MAXN 2000
static merkle_mem tree;
static uint64_t rng_state; /* xorshift64*: cheap, and the seed is printed for replay */

static uint32_t rnd(uint32_t bound)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)(((rng_state * UINT64_C(2685821657736338717)) >> 32) % bound);
}

static unsigned char leaves[MAXN][HB];

/* Flips of one bit in each proof hash: all bits for small proofs, one bit per byte otherwise. */
static int all_flips_fail_incl(const unsigned char *leaf, uint64_t i, uint64_t n,
                               unsigned char (*p)[HB], size_t len, const unsigned char *root, int all)
{
    for (size_t e = 0; e < len; e++)
        for (unsigned byte = 0; byte < HB; byte++)
            for (unsigned bit = 0; bit < 8; bit++) {
                if (!all && bit != rnd(8))
                    continue;
                p[e][byte] ^= (unsigned char)(1U << bit);
                int r = merkle_verify_inclusion(leaf, i, n, (const unsigned char (*)[HB])p, len, root);
                p[e][byte] ^= (unsigned char)(1U << bit);
                if (r == 0)
                    return 0;
                if (!all)
                    break;
            }
    return 1;
}

static int all_flips_fail_cons(uint64_t m, uint64_t n, unsigned char (*p)[HB], size_t len,
                               const unsigned char *r1, const unsigned char *r2, int all)
{
    for (size_t e = 0; e < len; e++)
        for (unsigned byte = 0; byte < HB; byte++)
            for (unsigned bit = 0; bit < 8; bit++) {
                if (!all && bit != rnd(8))
                    continue;
                p[e][byte] ^= (unsigned char)(1U << bit);
                int r = merkle_verify_consistency(m, n, (const unsigned char (*)[HB])p, len, r1, r2);
                p[e][byte] ^= (unsigned char)(1U << bit);
                if (r == 0)
                    return 0;
                if (!all)
                    break;
            }
    return 1;
}

struct tally {
    long proofs, bad_verify, bad_reads, bad_flip, bad_shape, bad_other;
};

static void check_inclusion(struct tally *t, uint64_t i, uint64_t n, const unsigned char *root, int all_bits)
{
    unsigned char p[MERKLE_MAX_PROOF + 1][HB];
    size_t len = 0;
    const unsigned char (*cp)[HB] = (const unsigned char (*)[HB])p;
    uint64_t reads = tree.reads, calls = tree.calls;
    t->proofs++;
    if (merkle_prove_inclusion(p, &len, i, n, &tree.reader) != MERKLE_OK) {
        t->bad_verify++;
        return;
    }
    if (tree.reads - reads > 2 * ceil_log2(n) || tree.calls - calls > 1)
        t->bad_reads++;
    if (merkle_verify_inclusion(leaves[i], i, n, cp, len, root) != 0)
        t->bad_verify++;
    if (!all_flips_fail_incl(leaves[i], i, n, p, len, root, all_bits))
        t->bad_flip++;
    /* truncated, extended at either end */
    if (len > 0 && (merkle_verify_inclusion(leaves[i], i, n, cp, len - 1, root) == 0 ||
                    merkle_verify_inclusion(leaves[i], i, n, cp + 1, len - 1, root) == 0))
        t->bad_shape++;
    memcpy(p[len], root, HB);
    if (merkle_verify_inclusion(leaves[i], i, n, cp, len + 1, root) == 0)
        t->bad_shape++;
    memmove(p[1], p[0], len * HB);
    memcpy(p[0], leaves[i], HB);
    if (merkle_verify_inclusion(leaves[i], i, n, cp, len + 1, root) == 0)
        t->bad_shape++;
    memmove(p[0], p[1], len * HB);
    /* wrong leaf, index, root */
    uint64_t j = (i ^ 1) < n ? i ^ 1 : i - 1; /* a neighbour, when there is one */
    if (n > 1 && (merkle_verify_inclusion(leaves[j], i, n, cp, len, root) == 0 ||
                  merkle_verify_inclusion(leaves[i], j, n, cp, len, root) == 0 ||
                  merkle_verify_inclusion(leaves[i], i, n, cp, len, leaves[i]) == 0))
        t->bad_other++;
    /* (A changed SIZE alone is not caught by the tree: RFC 9162 roots do not commit to the
     * size, which is why the checkpoint signs both.) */
}

static void check_consistency(struct tally *t, uint64_t m, uint64_t n, const unsigned char *r1,
                              const unsigned char *r2, int all_bits)
{
    unsigned char p[MERKLE_MAX_PROOF + 1][HB];
    size_t len = 0;
    const unsigned char (*cp)[HB] = (const unsigned char (*)[HB])p;
    uint64_t reads = tree.reads, calls = tree.calls;
    t->proofs++;
    if (merkle_prove_consistency(p, &len, m, n, &tree.reader) != MERKLE_OK) {
        t->bad_verify++;
        return;
    }
    if (tree.reads - reads > 2 * ceil_log2(n) || tree.calls - calls > 1)
        t->bad_reads++;
    if (merkle_verify_consistency(m, n, cp, len, r1, r2) != 0)
        t->bad_verify++;
    if (!all_flips_fail_cons(m, n, p, len, r1, r2, all_bits))
        t->bad_flip++;
    if (len > 0 && (merkle_verify_consistency(m, n, cp, len - 1, r1, r2) == 0 ||
                    merkle_verify_consistency(m, n, cp + 1, len - 1, r1, r2) == 0))
        t->bad_shape++;
    memcpy(p[len], r2, HB);
    if (merkle_verify_consistency(m, n, cp, len + 1, r1, r2) == 0)
        t->bad_shape++;
    memmove(p[1], p[0], len * HB);
    memcpy(p[0], r1, HB);
    if (merkle_verify_consistency(m, n, cp, len + 1, r1, r2) == 0)
        t->bad_shape++;
    memmove(p[0], p[1], len * HB);
    if (m < n && (merkle_verify_consistency(m, n, cp, len, r2, r1) == 0 ||
                  merkle_verify_consistency(m, n, cp, len, r1, r1) == 0 ||
                  merkle_verify_consistency(m, n, cp, len, r2, r2) == 0))
        t->bad_other++;
}

static void report(const struct tally *t, const char *what)
{
    CHECK(t->bad_verify == 0, "%s: %ld proofs made and verified", what, t->proofs);
    CHECK(t->bad_reads == 0, "%s: each proof read <= 2*ceil(log2 n) hashes in one call", what);
    CHECK(t->bad_flip == 0, "%s: every single-bit flip of a proof is rejected", what);
    CHECK(t->bad_shape == 0, "%s: truncated and extended proofs are rejected", what);
    CHECK(t->bad_other == 0, "%s: a wrong leaf, index or root is rejected", what);
}

static void test_properties(void)
{
    static unsigned char roots[MAXN + 1][HB];
    const char *seed = getenv("KLUIS_TEST_SEED");
    rng_state = seed ? strtoull(seed, NULL, 0) : 0;
    while (rng_state == 0)
        randombytes_buf(&rng_state, sizeof rng_state);
    printf("# property seed: KLUIS_TEST_SEED=%llu\n", (unsigned long long)rng_state);
    merkle_mem_init(&tree);
    int ok_append = 1, ok_root = 1, ok_reads = 1;
    for (uint64_t i = 0; i < MAXN; i++) {
        char leaf[32];
        int l = snprintf(leaf, sizeof leaf, "{\"index\":%llu}", (unsigned long long)i);
        merkle_hash_leaf(leaves[i], (const unsigned char *)leaf, (size_t)l);
        merkle_stored add[MERKLE_MAX_APPEND];
        size_t nadd = 0;
        ok_append &= merkle_append(add, &nadd, i, leaves[i], &tree.reader) == MERKLE_OK &&
                     add[0].index == merkle_stored_count(i) &&
                     add[nadd - 1].index == merkle_stored_count(i + 1) - 1 &&
                     memcmp(add[0].hash, leaves[i], HB) == 0;
        ok_append &= merkle_mem_append(&tree, leaves[i]) == 0 && tree.count == merkle_stored_count(i + 1);
        uint64_t reads = tree.reads;
        ok_root &= merkle_tree_hash(roots[i + 1], i + 1, &tree.reader) == MERKLE_OK;
        ok_reads &= tree.reads - reads == (uint64_t)__builtin_popcountll(i + 1);
    }
    merkle_empty_root(roots[0]);
    CHECK(ok_append, "merkle_append returns consecutive indexes from merkle_stored_count(size)");
    CHECK(ok_reads, "merkle_tree_hash(n) reads popcount(n) hashes");
    for (uint64_t n = 1; n <= MAXN; n += n < 300 ? 1 : 97) {
        unsigned char want[HB];
        ref_mth(want, leaves, n);
        ok_root &= memcmp(want, roots[n], HB) == 0;
    }
    CHECK(ok_root, "merkle_tree_hash equals the RFC 9162 MTH for sizes 1..300 and a sample to 2000");

    /* Every index and every pair of sizes up to 64, every bit flipped up to 32. */
    struct tally ti = {0}, tc = {0};
    for (uint64_t n = 1; n <= 64; n++) {
        for (uint64_t i = 0; i < n; i++)
            check_inclusion(&ti, i, n, roots[n], n <= 32);
        for (uint64_t m = 1; m <= n; m++)
            check_consistency(&tc, m, n, roots[m], roots[n], n <= 16);
    }
    report(&ti, "inclusion, all n <= 64");
    report(&tc, "consistency, all 1 <= m <= n <= 64");

    /* Random sizes up to 2000, sampled indexes and old sizes, one bit flipped per byte. */
    struct tally ri = {0}, rc = {0};
    for (int s = 0; s < 60; s++) {
        uint64_t n = 65 + rnd(MAXN - 64);
        uint64_t picks[12] = {0, n - 1, n / 2, 1};
        for (int k = 4; k < 12; k++)
            picks[k] = rnd((uint32_t)n);
        for (int k = 0; k < 12; k++) {
            check_inclusion(&ri, picks[k], n, roots[n], 0);
            uint64_t m = picks[k] ? picks[k] : n;
            check_consistency(&rc, m, n, roots[m], roots[n], 0);
        }
        uint64_t pow = 1;
        while (pow * 2 < n)
            pow *= 2;
        check_consistency(&rc, pow, n, roots[pow], roots[n], 0);
    }
    report(&ri, "inclusion, random n <= 2000");
    report(&rc, "consistency, random n <= 2000");
}

/* ---- argument errors and hostile sizes ---- */

static void test_errors(void)
{
    unsigned char p[MERKLE_MAX_PROOF][HB], root[HB];
    memset(root, 0x5a, sizeof root); /* the verifiers below compare against it (valgrind: no uninitialised root) */
    size_t len = 77;
    CHECK(merkle_prove_inclusion(p, &len, 5, 5, &tree.reader) == MERKLE_EINVAL && len == 77,
          "prove_inclusion: index >= size is EINVAL, outputs untouched");
    CHECK(merkle_prove_inclusion(p, &len, 0, MAXN + 1, &tree.reader) == MERKLE_EREAD,
          "prove_inclusion: size beyond the stored tree is EREAD");
    CHECK(merkle_prove_consistency(p, &len, 0, 5, &tree.reader) == MERKLE_EINVAL &&
              merkle_prove_consistency(p, &len, 6, 5, &tree.reader) == MERKLE_EINVAL,
          "prove_consistency: size1 == 0 or size1 > size2 is EINVAL");
    CHECK(merkle_prove_consistency(p, &len, 7, 7, &tree.reader) == MERKLE_OK && len == 0,
          "prove_consistency: equal sizes give the empty proof");
    CHECK(merkle_tree_hash(root, MAXN + 1, &tree.reader) == MERKLE_EREAD &&
              merkle_tree_hash(root, MERKLE_MAX_SIZE + 1, &tree.reader) == MERKLE_EINVAL,
          "tree_hash: beyond storage is EREAD, beyond MERKLE_MAX_SIZE is EINVAL");
    CHECK(merkle_prove_inclusion(p, &len, 0, MERKLE_MAX_SIZE + 1, &tree.reader) == MERKLE_EINVAL,
          "prove_inclusion: size beyond MERKLE_MAX_SIZE is EINVAL");

    merkle_stored add[MERKLE_MAX_APPEND];
    size_t n = 0;
    merkle_mem empty;
    merkle_mem_init(&empty);
    CHECK(merkle_append(add, &n, 1, root, &empty.reader) == MERKLE_EREAD,
          "append: a missing left sibling is EREAD");
    CHECK(merkle_append(add, &n, 0, root, NULL) == MERKLE_OK && n == 1,
          "append: leaf 0 needs no reader");
    CHECK(merkle_append(add, &n, MERKLE_MAX_SIZE, root, NULL) == MERKLE_EINVAL,
          "append: a full tree is EINVAL");

    /* Verifiers: hostile sizes run without overflow or out-of-range shifts (UBSan), and fail. */
    unsigned char junk[MERKLE_MAX_PROOF][HB];
    randombytes_buf(junk, sizeof junk);
    const unsigned char (*cj)[HB] = (const unsigned char (*)[HB])junk;
    CHECK(merkle_verify_inclusion(root, 0, UINT64_MAX, cj, 64, root) == -1 &&
              merkle_verify_inclusion(root, UINT64_MAX - 1, UINT64_MAX, cj, 64, root) == -1 &&
              merkle_verify_inclusion(root, UINT64_MAX, UINT64_MAX, cj, 0, root) == -1 &&
              merkle_verify_inclusion(root, 0, 0, NULL, 0, root) == -1,
          "verify_inclusion: extreme sizes are handled and rejected");
    CHECK(merkle_verify_consistency(1, UINT64_MAX, cj, 64, root, root) == -1 &&
              merkle_verify_consistency(UINT64_MAX - 1, UINT64_MAX, cj, 2, root, root) == -1 &&
              merkle_verify_consistency(UINT64_MAX, UINT64_MAX, NULL, 0, root, root) == 0 &&
              merkle_verify_consistency(0, 0, NULL, 0, root, root) == -1,
          "verify_consistency: extreme sizes are handled; size1 == 0 is always refused");
    CHECK(merkle_verify_inclusion(leaves[0], 0, 2, NULL, 1, root) == -1 &&
              merkle_verify_consistency(1, 2, NULL, 1, root, root) == -1,
          "verifiers: a NULL proof with a length is refused");
    merkle_mem_free(&tree);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_known_answers();
    test_vectors();
    test_properties();
    test_errors();
    return TEST_END();
}
