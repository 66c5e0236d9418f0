/*
 * tests/unit/test_checkpoint.c — vault/checkpoint: the "checkpoint" known answer of
 * ../shared/vectors/kluis-v1.json byte for byte, then the strict reader: every malformed note,
 * even one carrying a valid signature over its body, is refused.
 */
#include "tests/test.h"
#include "vault/checkpoint.h"
#include "vault/encoding.h"
#include "vault/merkle.h"

#include <jansson.h>
#include <sodium.h>
#include <stdint.h>

TEST_MAIN_DEFS

static unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
static const char *origin;

/* A note with our valid signature over an arbitrary BODY, followed by EXTRA signature lines. */
static char *sign_body(const char *body, const char *extra)
{
    unsigned char blob[4 + crypto_sign_BYTES];
    checkpoint_key_id(blob, origin, pk);
    crypto_sign_detached(blob + 4, NULL, (const unsigned char *)body, strlen(body), sk);
    char *b64 = b64std_encode(blob, sizeof blob);
    size_t cap = strlen(body) + strlen(origin) + strlen(extra) + 200;
    char *note = malloc(cap);
    snprintf(note, cap, "%s\n\xE2\x80\x94 %s %s\n%s", body, origin, b64, extra);
    free(b64);
    return note;
}

static int verifies(const char *note)
{
    uint64_t size = 0;
    unsigned char root[32];
    return checkpoint_verify(&size, root, note, strlen(note), origin, pk) == 0;
}

static json_t *vec;
static unsigned char want_root[32];
static const char *want_note;

static void test_known_answer(void)
{
    char path[4096];
    json_error_t err;
    snprintf(path, sizeof path, "%s/kluis-v1.json", test_vectors_dir());
    json_t *all = json_load_file(path, 0, &err);
    vec = json_incref(json_object_get(json_object_get(all, "vectors"), "checkpoint"));
    json_decref(all);
    CHECK(vec != NULL, "kluis-v1.json has the checkpoint vector");
    if (!vec)
        exit(TEST_END());

    unsigned char seed[32], want_pk[32], want_id[4], id[4];
    origin = json_string_value(json_object_get(vec, "origin"));
    want_note = json_string_value(json_object_get(vec, "note"));
    CHECK(origin && want_note &&
              hex_decode_exact(seed, 32, json_string_value(json_object_get(vec, "log_seed"))) == 0 &&
              hex_decode_exact(want_pk, 32, json_string_value(json_object_get(vec, "log_pk"))) == 0 &&
              hex_decode_exact(want_root, 32, json_string_value(json_object_get(vec, "root"))) == 0 &&
              hex_decode_exact(want_id, 4, json_string_value(json_object_get(vec, "key_id"))) == 0,
          "checkpoint vector fields decode");
    crypto_sign_seed_keypair(pk, sk, seed);
    sodium_memzero(seed, sizeof seed);
    CHECK_MEM(pk, want_pk, 32, "log_seed gives log_pk");

    /* leaves -> root through the real append path */
    merkle_mem m;
    merkle_mem_init(&m);
    json_t *leaves = json_object_get(vec, "leaves");
    int ok = json_array_size(leaves) == 3;
    for (size_t i = 0; i < json_array_size(leaves); i++) {
        const char *leaf = json_string_value(json_array_get(leaves, i));
        unsigned char lh[32];
        merkle_hash_leaf(lh, (const unsigned char *)leaf, strlen(leaf));
        ok &= merkle_mem_append(&m, lh) == 0;
    }
    unsigned char root[32];
    ok &= merkle_tree_hash(root, m.size, &m.reader) == MERKLE_OK;
    CHECK(ok && memcmp(root, want_root, 32) == 0, "the three leaves give the vector's root");
    merkle_mem_free(&m);

    checkpoint_key_id(id, origin, pk);
    CHECK_MEM(id, want_id, 4, "key_id = SHA-256(origin || 0x0A || 0x01 || log_pk)[:4]");

    char *note = checkpoint_sign(origin, 3, root, sk);
    CHECK(note && strcmp(note, want_note) == 0, "checkpoint_sign reproduces the note byte for byte");
    free(note);

    uint64_t size = 0;
    unsigned char got[32] = {0};
    CHECK(checkpoint_verify(&size, got, want_note, strlen(want_note), origin, pk) == 0 && size == 3 &&
              memcmp(got, want_root, 32) == 0,
          "checkpoint_verify accepts the vector note: size 3 and the root");
}

static void test_tampering(void)
{
    size_t len = strlen(want_note);
    char *t = malloc(len + 1);
    long accepted = 0, tries = 0;
    /* Every single-bit flip anywhere in the note, and every byte dropped. */
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(t, want_note, len + 1);
            t[i] = (char)(t[i] ^ (1 << bit));
            uint64_t size;
            unsigned char root[32];
            tries++;
            accepted += checkpoint_verify(&size, root, t, len, origin, pk) == 0;
        }
        memcpy(t, want_note, i);
        memcpy(t + i, want_note + i + 1, len - i);
        tries++;
        accepted += verifies(t);
    }
    CHECK(accepted == 0, "all %ld single-bit flips and dropped bytes are refused", tries);
    free(t);

    uint64_t size = 77;
    unsigned char root[32] = {0}, other_pk[32], other_sk[64];
    crypto_sign_keypair(other_pk, other_sk);
    CHECK(checkpoint_verify(&size, root, want_note, strlen(want_note), origin, other_pk) == -1 &&
              size == 77,
          "wrong log key: refused, outputs untouched");
    CHECK(checkpoint_verify(&size, root, want_note, strlen(want_note), "testdam.example/other", pk) == -1,
          "wrong origin: refused");
    CHECK(checkpoint_verify(&size, root, want_note, strlen(want_note) - 1, origin, pk) == -1,
          "note without its final newline: refused");
    CHECK(checkpoint_verify(&size, root, want_note, strlen(want_note) + 1, origin, pk) == -1,
          "note with a NUL byte: refused");
    CHECK(checkpoint_verify(&size, root, want_note, strlen(want_note), "", pk) == -1 &&
              checkpoint_verify(&size, root, want_note, strlen(want_note), NULL, pk) == -1 &&
              checkpoint_verify(&size, root, NULL, 0, origin, pk) == -1,
          "empty or NULL origin or note: refused");
    /* A note signed by another key under our name is refused. */
    char *forged = checkpoint_sign(origin, 3, want_root, other_sk);
    CHECK(forged && !verifies(forged), "a note signed by another key under our origin: refused");
    free(forged);
}

/* Notes whose signature is valid over their body, yet the body or the framing is malformed. */
static void test_strict_format(void)
{
    const char *b = "testdam.example/kluis\n3\njut9cCJq/n0XodnY4xipMagIumW49KYCmPpDryFQMv4=\n";
    char *n = sign_body(b, "");
    CHECK(n && strcmp(n, want_note) == 0 && verifies(n), "the test signer reproduces the vector note");
    free(n);

    static const struct { const char *body, *why; } bad_bodies[] = {
        {"testdam.example/kluis\n03\njut9cCJq/n0XodnY4xipMagIumW49KYCmPpDryFQMv4=\n", "size with a leading zero"},
        {"testdam.example/kluis\n+3\njut9cCJq/n0XodnY4xipMagIumW49KYCmPpDryFQMv4=\n", "size with a sign"},
        {"testdam.example/kluis\n3 \njut9cCJq/n0XodnY4xipMagIumW49KYCmPpDryFQMv4=\n", "size with a trailing space"},
        {"testdam.example/kluis\n\njut9cCJq/n0XodnY4xipMagIumW49KYCmPpDryFQMv4=\n", "empty size line"},
        {"testdam.example/kluis\n0x3\njut9cCJq/n0XodnY4xipMagIumW49KYCmPpDryFQMv4=\n", "size in hex"},
        {"testdam.example/kluis\n18446744073709551616\njut9cCJq/n0XodnY4xipMagIumW49KYCmPpDryFQMv4=\n", "size beyond 2^64-1"},
        {"testdam.example/kluis\n3\njut9cCJq/n0XodnY4xipMagIumW49KYCmPpDryFQMv4\n", "root without padding"},
        {"testdam.example/kluis\n3\njut9cCJq_n0XodnY4xipMagIumW49KYCmPpDryFQMv4=\n", "root in base64url"},
        {"testdam.example/kluis\n3\njut9cCJq/n0XodnY4xipMagIumW49KYCmPpDryFQMv/=\n", "root with non-zero trailing bits"},
        {"testdam.example/kluis\n3\njut9cCJq/n0XodnY4xipMagIumW49KYCmPpDryFQ\n", "root of 30 bytes"},
        {"testdam.example/kluis\n3\njut9cCJq/n0XodnY4xipMagIumW49KYCmPpDryFQMv4=\nextension line\n", "an extension line"},
        {"testdam.example/kluis\n3\n", "no root line"},
        {"testdam.example/kluis \n3\njut9cCJq/n0XodnY4xipMagIumW49KYCmPpDryFQMv4=\n", "origin with a trailing space"},
        {"testdam.example/kluis\r\n3\r\njut9cCJq/n0XodnY4xipMagIumW49KYCmPpDryFQMv4=\r\n", "CRLF line ends"},
        {"testdam.example/kluis\n3\n\tjut9cCJq/n0XodnY4xipMagIumW49KYCmPpDryFQMv4=\n", "a control character"},
        /* Regression (fuzz/fuzz_checkpoint): libsodium 1.0.18 decodes any byte >= 0x80 as '/', so a root
         * spelt with a UTF-8 character in place of two base64 characters was accepted. */
        {"testdam.example/kluis\n3\njut9cCJ\xc2\xbfn0XodnY4xipMagIumW49KYCmPpDryFQMv4=\n", "root with a non-ASCII character"},
    };
    int ok = 1;
    for (size_t i = 0; i < sizeof bad_bodies / sizeof bad_bodies[0]; i++) {
        n = sign_body(bad_bodies[i].body, "");
        int v = verifies(n);
        if (v)
            printf("# accepted: %s\n", bad_bodies[i].why);
        ok &= !v;
        free(n);
    }
    CHECK(ok, "%zu malformed bodies with valid signatures are refused",
          sizeof bad_bodies / sizeof bad_bodies[0]);

    /* Framing: blank line, signature lines. */
    const char *good = want_note;
    const char *sig = strstr(good, "\n\n") + 2;
    size_t body_len = (size_t)(sig - good) - 1;
    char buf[4096];
    snprintf(buf, sizeof buf, "%.*s%s", (int)body_len, good, sig); /* no blank line */
    CHECK(!verifies(buf), "no blank line between body and signature: refused");
    snprintf(buf, sizeof buf, "%.*s\n\n%s", (int)body_len, good, sig); /* two blank lines */
    CHECK(!verifies(buf), "two blank lines: refused");
    snprintf(buf, sizeof buf, "%.*s\n", (int)body_len, good);
    CHECK(!verifies(buf), "no signature line: refused");
    snprintf(buf, sizeof buf, "%s\n", good);
    CHECK(!verifies(buf), "a trailing blank line: refused");
    snprintf(buf, sizeof buf, "%strailing\n", good);
    CHECK(!verifies(buf), "a trailing non-signature line: refused");
    snprintf(buf, sizeof buf, "%.*s\n-- %s", (int)body_len, good, sig + 4);
    CHECK(!verifies(buf), "'--' instead of the em dash: refused");
    snprintf(buf, sizeof buf, "%.*s\n\xE2\x80\x94  %s", (int)body_len, good, sig + 4);
    CHECK(!verifies(buf), "two spaces after the em dash: refused");

    /* Other signers (witnesses) are ignored; our own line must be valid. */
    unsigned char wpk[32], wsk[64], blob[68];
    crypto_sign_keypair(wpk, wsk);
    checkpoint_key_id(blob, "witness.example/w1", wpk);
    crypto_sign_detached(blob + 4, NULL, (const unsigned char *)b, strlen(b), wsk);
    char *wb64 = b64std_encode(blob, sizeof blob);
    char line[256];
    snprintf(line, sizeof line, "\xE2\x80\x94 witness.example/w1 %s\n", wb64);
    n = sign_body(b, line);
    CHECK(verifies(n), "a witness cosignature after ours is ignored: accepted");
    free(n);
    snprintf(buf, sizeof buf, "%.*s\n%s%s", (int)body_len, good, line, sig);
    CHECK(verifies(buf), "a witness cosignature before ours: accepted");
    snprintf(buf, sizeof buf, "%.*s\n%s", (int)body_len, good, line);
    CHECK(!verifies(buf), "only a witness signature, none of ours: refused");
    /* A line with our name and key ID but a bad signature poisons the note. */
    checkpoint_key_id(blob, origin, pk);
    memset(blob + 4, 0x42, 64);
    free(wb64);
    wb64 = b64std_encode(blob, sizeof blob);
    snprintf(line, sizeof line, "\xE2\x80\x94 %s %s\n", origin, wb64);
    n = sign_body(b, line);
    CHECK(!verifies(n), "a second line with our key ID and a bad signature: refused");
    free(n);
    /* Our name and key ID but a short blob. */
    free(wb64);
    wb64 = b64std_encode(blob, 40);
    snprintf(line, sizeof line, "\xE2\x80\x94 %s %s\n", origin, wb64);
    n = sign_body(b, line);
    CHECK(!verifies(n), "a line with our key ID and a truncated signature: refused");
    free(n);
    /* Malformed foreign lines are still malformed. */
    static const char *const bad_lines[] = {
        "\xE2\x80\x94 witness.example/w1 AAAA\n",            /* 3 bytes: no room for a key ID */
        "\xE2\x80\x94 witness+plus AAAAAAAA\n",              /* '+' in the name */
        "\xE2\x80\x94  AAAAAAAA\n",                          /* empty name */
        "\xE2\x80\x94 witness\xC2\xA0nbsp AAAAAAAA\n",       /* Unicode space in the name */
        "\xE2\x80\x94 witness.example/w1 AAAAAAAA=\n",       /* bad padding */
        "\xE2\x80\x94 witness.example/w1 AAAAAAAA extra\n",  /* a second space */
        "\xE2\x80\x94 witness.example/w1\n",                 /* no signature */
    };
    ok = 1;
    for (size_t i = 0; i < sizeof bad_lines / sizeof bad_lines[0]; i++) {
        n = sign_body(b, bad_lines[i]);
        int v = verifies(n);
        if (v)
            printf("# accepted line %zu\n", i);
        ok &= !v;
        free(n);
    }
    CHECK(ok, "%zu malformed foreign signature lines are refused",
          sizeof bad_lines / sizeof bad_lines[0]);
    free(wb64);

    /* Too many signature lines. */
    static char many[CHECKPOINT_NOTE_MAX + 2];
    size_t off = (size_t)snprintf(many, sizeof many, "%s", good);
    for (int i = 0; i < 99; i++)
        off += (size_t)snprintf(many + off, sizeof many - off, "\xE2\x80\x94 w%d AAAAAAAA\n", i);
    CHECK(verifies(many), "100 signature lines (ours and 99 others): accepted");
    snprintf(many + off, sizeof many - off, "\xE2\x80\x94 w99 AAAAAAAA\n");
    CHECK(!verifies(many), "101 signature lines: refused");
    CHECK(checkpoint_verify(&(uint64_t){0}, (unsigned char[32]){0}, many, CHECKPOINT_NOTE_MAX + 1,
                            origin, pk) == -1,
          "a note over CHECKPOINT_NOTE_MAX: refused");
}

static void test_sign(void)
{
    unsigned char root[32];
    randombytes_buf(root, sizeof root);
    static const uint64_t sizes[] = {0, 1, 2, 1000, UINT64_MAX};
    int ok = 1;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *n = checkpoint_sign(origin, sizes[i], root, sk);
        uint64_t size = 0;
        unsigned char got[32];
        ok &= n && checkpoint_verify(&size, got, n, strlen(n), origin, pk) == 0 && size == sizes[i] &&
              memcmp(got, root, 32) == 0;
        free(n);
    }
    CHECK(ok, "sign then verify round-trips sizes 0, 1, 2, 1000, 2^64-1");

    static const char *const bad[] = {"", "has space", "has+plus", "new\nline", "tab\there",
                                      "nbsp\xC2\xA0here", "bad\xC3utf8", "cr\rhere"};
    ok = 1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *n = checkpoint_sign(bad[i], 1, root, sk);
        ok &= n == NULL && !checkpoint_origin_valid(bad[i]);
        free(n);
    }
    ok &= checkpoint_sign(NULL, 1, root, sk) == NULL;
    CHECK(ok, "invalid origins (empty, spaces, '+', control, bad UTF-8) are refused by sign");
    CHECK(checkpoint_origin_valid("testdam.example/kluis") && checkpoint_origin_valid("gemeente.nl/logboek-ü"),
          "ordinary origins are valid");
    char longo[CHECKPOINT_ORIGIN_MAX + 2];
    memset(longo, 'a', sizeof longo - 1);
    longo[sizeof longo - 1] = '\0';
    CHECK(!checkpoint_origin_valid(longo), "an origin over CHECKPOINT_ORIGIN_MAX is refused");
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_known_answer();
    test_tampering();
    test_strict_format();
    test_sign();
    sodium_memzero(sk, sizeof sk);
    json_decref(vec);
    return TEST_END();
}
