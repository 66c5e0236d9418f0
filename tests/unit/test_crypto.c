/*
 * tests/unit/test_crypto.c — known answers for every construction of vault/crypto.h, taken from
 * ../shared/vectors/kluis-v1.json (made by an independent implementation), and the refusals that
 * must happen: tampered bytes, wrong keys, wrong contexts, bad identifiers, weak parameters.
 */
#include <jansson.h>
#include <sodium.h>
#include <stdint.h>

#include "tests/test.h"
#include "vault/crypto.h"
#include "vault/encoding.h"
#include "vault/secret.h"

TEST_MAIN_DEFS

static json_t *V; /* the "vectors" object */

static const char *vstr(const char *group, const char *name)
{
    json_t *g = json_object_get(V, group);
    const char *s = json_string_value(json_object_get(g, name));
    if (!s) {
        fprintf(stderr, "vector %s.%s missing\n", group, name);
        exit(2);
    }
    return s;
}

static int64_t vint(const char *group, const char *name)
{
    json_t *v = json_object_get(json_object_get(V, group), name);
    if (!json_is_integer(v)) {
        fprintf(stderr, "vector %s.%s missing\n", group, name);
        exit(2);
    }
    return json_integer_value(v);
}

/* Hex vector of exactly N bytes into OUT. */
static void vhex(unsigned char *out, size_t n, const char *group, const char *name)
{
    if (hex_decode_exact(out, n, vstr(group, name)) != 0) {
        fprintf(stderr, "vector %s.%s: not %zu bytes of hex\n", group, name, n);
        exit(2);
    }
}

/* Hex vector of any length: malloc'd bytes, length in *N. */
static unsigned char *vhex_any(size_t *n, const char *group, const char *name)
{
    const char *s = vstr(group, name);
    *n = strlen(s) / 2;
    unsigned char *b = malloc(*n ? *n : 1);
    if (!b || hex_decode_exact(b, *n, s) != 0) {
        fprintf(stderr, "vector %s.%s: bad hex\n", group, name);
        exit(2);
    }
    return b;
}

static void test_keys(void)
{
    struct kluis_keys *k = kluis_keys_new();
    unsigned char seed[32], box_sk[32], sign_pk[32], box_pk[32], secret[64];
    vhex(seed, 32, "keys", "sign_seed");
    vhex(box_sk, 32, "keys", "box_sk");
    vhex(sign_pk, 32, "keys", "sign_pk");
    vhex(box_pk, 32, "keys", "box_pk");

    CHECK(k != NULL, "keys: secret allocation");
    CHECK(kluis_keys_from_seeds(k, seed, box_sk) == 0, "keys: from seeds");
    CHECK_MEM(k->sign_pk, sign_pk, 32, "keys: sign_pk vector");
    CHECK_MEM(k->box_pk, box_pk, 32, "keys: box_pk vector");
    CHECK_MEM(k->sign_sk, seed, 32, "keys: sign_sk starts with the seed");
    CHECK_MEM(k->sign_sk + 32, sign_pk, 32, "keys: sign_sk ends with the pk");

    kluis_keys_export(secret, k);
    CHECK_MEM(secret, seed, 32, "keys: export seed");
    CHECK_MEM(secret + 32, box_sk, 32, "keys: export box_sk");
    memset(k, 0, sizeof *k);
    CHECK(kluis_keys_from_secret(k, secret) == 0 && memcmp(k->box_pk, box_pk, 32) == 0 &&
              memcmp(k->sign_pk, sign_pk, 32) == 0,
          "keys: from 64-byte secret");

    unsigned char pk[32];
    CHECK(kluis_box_pk_from_sk(pk, box_sk) == 0 && memcmp(pk, box_pk, 32) == 0, "keys: box pk from sk");

    struct kluis_keys *g = kluis_keys_new();
    CHECK(g && kluis_keys_generate(g) == 0, "keys: generate");
    CHECK(g && memcmp(g->sign_pk, k->sign_pk, 32) != 0, "keys: generated keys differ");
    unsigned char gpk[32];
    CHECK(g && kluis_box_pk_from_sk(gpk, g->box_sk) == 0 && memcmp(gpk, g->box_pk, 32) == 0,
          "keys: generated box pair consistent");
    unsigned char bpk[32], bsk[32];
    CHECK(kluis_box_keypair(bpk, bsk) == 0 && kluis_box_pk_from_sk(pk, bsk) == 0 &&
              memcmp(pk, bpk, 32) == 0,
          "keys: box keypair consistent");
    sodium_memzero(secret, sizeof secret);
    kluis_keys_free(g);
    kluis_keys_free(k);
}

static void test_pwhash_params(void)
{
    CHECK(kluis_pwhash_params_ok(crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE),
          "pwhash params: interactive accepted");
    CHECK(kluis_pwhash_params_ok(crypto_pwhash_OPSLIMIT_SENSITIVE, crypto_pwhash_MEMLIMIT_SENSITIVE),
          "pwhash params: sensitive accepted");
    CHECK(!kluis_pwhash_params_ok(1, crypto_pwhash_MEMLIMIT_INTERACTIVE), "pwhash params: opslimit 1 refused");
    CHECK(!kluis_pwhash_params_ok(2, crypto_pwhash_MEMLIMIT_INTERACTIVE - 1024),
          "pwhash params: memlimit below interactive refused");
    CHECK(!kluis_pwhash_params_ok(1000, crypto_pwhash_MEMLIMIT_INTERACTIVE), "pwhash params: huge opslimit refused");
    CHECK(!kluis_pwhash_params_ok(2, 1ull << 40), "pwhash params: huge memlimit refused");

    struct kluis_bundle_keys *bk = kluis_bundle_keys_new();
    unsigned char salt[16] = {0};
    memset(bk->enc_key, 0x55, 32);
    CHECK(kluis_bundle_derive(bk, "pw", 2, salt, 1, 8192) == -1, "bundle derive: weak params refused");
    unsigned char want[32];
    memset(want, 0x55, 32);
    CHECK_MEM(bk->enc_key, want, 32, "bundle derive: nothing written on failure");
    kluis_bundle_keys_free(bk);
}

static void test_bundle(void)
{
    unsigned char salt[16], master[32], enc[32], auth[32], auth_hash[32], nonce[24], seed[32], box_sk[32];
    unsigned char bundle[KLUIS_BUNDLE_BYTES], secret[64], got[KLUIS_BUNDLE_BYTES], h[32];
    const char *citizen = vstr("bundle", "citizen");
    const char *pass = vstr("bundle", "passphrase");
    vhex(salt, 16, "bundle", "salt");
    vhex(master, 32, "bundle", "master");
    vhex(enc, 32, "bundle", "enc_key");
    vhex(auth, 32, "bundle", "auth_key");
    vhex(auth_hash, 32, "bundle", "auth_hash");
    vhex(nonce, 24, "bundle", "nonce");
    vhex(bundle, KLUIS_BUNDLE_BYTES, "bundle", "bundle");
    vhex(seed, 32, "keys", "sign_seed");
    vhex(box_sk, 32, "keys", "box_sk");
    memcpy(secret, seed, 32);
    memcpy(secret + 32, box_sk, 32);

    struct kluis_bundle_keys *bk = kluis_bundle_keys_new();
    CHECK(bk && kluis_bundle_derive(bk, pass, strlen(pass), salt, (unsigned long long)vint("bundle", "opslimit"),
                                    (size_t)vint("bundle", "memlimit")) == 0,
          "bundle: derive");
    CHECK_MEM(bk->master, master, 32, "bundle: master vector");
    CHECK_MEM(bk->enc_key, enc, 32, "bundle: enc_key vector");
    CHECK_MEM(bk->auth_key, auth, 32, "bundle: auth_key vector");
    CHECK(kluis_auth_hash(h, bk->auth_key) == 0 && memcmp(h, auth_hash, 32) == 0, "bundle: auth_hash vector");

    CHECK(kluis_bundle_seal_nonce(got, secret, citizen, nonce, bk->enc_key) == 0, "bundle: seal with nonce");
    CHECK_MEM(got, bundle, KLUIS_BUNDLE_BYTES, "bundle: bytes vector");
    char *b64 = b64_encode(got, sizeof got);
    CHECK(b64 && strcmp(b64, vstr("bundle", "bundle_b64")) == 0, "bundle: bundle_b64 vector");
    free(b64);

    unsigned char *out = secret_new(64);
    CHECK(kluis_bundle_open(out, bundle, citizen, bk->enc_key) == 0 && memcmp(out, secret, 64) == 0,
          "bundle: vector opens to seed || box_sk");

    unsigned char fresh[KLUIS_BUNDLE_BYTES];
    CHECK(kluis_bundle_seal(fresh, secret, citizen, bk->enc_key) == 0 && memcmp(fresh, bundle, 24) != 0,
          "bundle: random nonce");
    memset(out, 0, 64);
    CHECK(kluis_bundle_open(out, fresh, citizen, bk->enc_key) == 0 && memcmp(out, secret, 64) == 0,
          "bundle: random-nonce round trip");

    /* Refusals: nothing written on failure. */
    memset(out, 0x77, 64);
    unsigned char ref[64];
    memset(ref, 0x77, 64);
    CHECK(kluis_bundle_open(out, bundle, "burger-0002", bk->enc_key) == -1, "bundle: other citizen refused");
    CHECK(kluis_bundle_open(out, bundle, citizen, bk->auth_key) == -1, "bundle: wrong key refused");
    int opened = 0;
    for (size_t i = 0; i < KLUIS_BUNDLE_BYTES; i++) {
        unsigned char t[KLUIS_BUNDLE_BYTES];
        memcpy(t, bundle, sizeof t);
        t[i] ^= (unsigned char)(1u << (i % 8));
        opened += kluis_bundle_open(out, t, citizen, bk->enc_key) != -1;
    }
    CHECK(opened == 0, "bundle: every tampered byte refused");
    CHECK(kluis_bundle_open(out, bundle, "Burger", bk->enc_key) == -1, "bundle: non-identifier refused");
    CHECK(kluis_bundle_seal(fresh, secret, "a\nb", bk->enc_key) == -1, "bundle: newline in id refused");
    CHECK_MEM(out, ref, 64, "bundle: failed opens wrote nothing");

    /* A different passphrase derives different keys. */
    struct kluis_bundle_keys *bk2 = kluis_bundle_keys_new();
    CHECK(bk2 && kluis_bundle_derive(bk2, "wrong", 5, salt, 2, 67108864) == 0 &&
              kluis_bundle_open(out, bundle, citizen, bk2->enc_key) == -1,
          "bundle: wrong passphrase cannot open");
    kluis_bundle_keys_free(bk2);
    secret_free(out);
    kluis_bundle_keys_free(bk);
    sodium_memzero(secret, sizeof secret);
}

static void test_key_commitment(void)
{
    unsigned char dek[32], want[32], got[32];
    const char *c = vstr("key_commitment", "citizen"), *s = vstr("key_commitment", "section");
    uint64_t e = (uint64_t)vint("key_commitment", "epoch");
    vhex(dek, 32, "key_commitment", "dek");
    vhex(want, 32, "key_commitment", "commit");
    CHECK(kluis_key_commit(got, c, s, e, dek) == 0 && memcmp(got, want, 32) == 0, "commit: vector");
    CHECK(kluis_key_commit_check(want, c, s, e, dek) == 0, "commit: check accepts");
    CHECK(kluis_key_commit_check(want, c, s, e + 1, dek) == -1, "commit: other epoch refused");
    CHECK(kluis_key_commit_check(want, c, "wonen", e, dek) == -1, "commit: other section refused");
    CHECK(kluis_key_commit_check(want, "burger-0002", s, e, dek) == -1, "commit: other citizen refused");
    dek[0] ^= 1;
    CHECK(kluis_key_commit_check(want, c, s, e, dek) == -1, "commit: other key refused");
    dek[0] ^= 1;
    want[31] ^= 0x80;
    CHECK(kluis_key_commit_check(want, c, s, e, dek) == -1, "commit: tampered commitment refused");
    CHECK(kluis_key_commit(got, c, s, 0, dek) == -1, "commit: epoch 0 refused");
    CHECK(kluis_key_commit(got, c, "", 1, dek) == -1, "commit: empty section refused");
    CHECK(kluis_key_commit(got, c, "plan\n3", 1, dek) == -1, "commit: newline in section refused");
    /* "1" || "\n" || "23" must never collide with "12" || "\n" || "3": identifiers cannot hold "\n". */
    unsigned char a[32], b[32];
    CHECK(kluis_key_commit(a, "x", "y1", 23, dek) == 0 && kluis_key_commit(b, "x", "y12", 3, dek) == 0 &&
              memcmp(a, b, 32) != 0,
          "commit: fields are separated");
}

static void test_entry(void)
{
    unsigned char dek[32], nonce[24], want_hash[32], h[32], ad[KLUIS_ENTRY_AD_MAX];
    size_t blob_len, ad_len;
    const char *c = vstr("entry", "citizen"), *s = vstr("entry", "section"), *id = vstr("entry", "entry_id");
    uint64_t e = (uint64_t)vint("entry", "epoch");
    const char *pt = vstr("entry", "plaintext");
    size_t pt_len = strlen(pt);
    unsigned char *blob = vhex_any(&blob_len, "entry", "blob");
    vhex(dek, 32, "entry", "dek");
    vhex(nonce, 24, "entry", "nonce");
    vhex(want_hash, 32, "entry", "blob_hash");

    const char *want_ad = vstr("entry", "ad");
    CHECK(kluis_entry_ad(ad, &ad_len, c, s, e, id) == 0 && ad_len == strlen(want_ad) &&
              memcmp(ad, want_ad, ad_len) == 0,
          "entry: ad vector");
    CHECK(blob_len == pt_len + KLUIS_AEAD_OVERHEAD, "entry: blob length");

    unsigned char *got = malloc(pt_len + KLUIS_AEAD_OVERHEAD);
    CHECK(kluis_entry_encrypt_nonce(got, (const unsigned char *)pt, pt_len, c, s, e, id, nonce, dek) == 0,
          "entry: encrypt with nonce");
    CHECK_MEM(got, blob, blob_len, "entry: blob vector");
    CHECK(kluis_blob_hash(h, blob, blob_len) == 0 && memcmp(h, want_hash, 32) == 0, "entry: blob_hash vector");

    unsigned char *back = malloc(blob_len);
    size_t back_len = 0;
    CHECK(kluis_entry_decrypt(back, &back_len, blob, blob_len, c, s, e, id, dek) == 0 && back_len == pt_len &&
              memcmp(back, pt, pt_len) == 0,
          "entry: vector decrypts to the plaintext");

    CHECK(kluis_entry_encrypt(got, (const unsigned char *)pt, pt_len, c, s, e, id, dek) == 0 &&
              memcmp(got, blob, 24) != 0,
          "entry: random nonce");
    CHECK(kluis_entry_decrypt(back, NULL, got, blob_len, c, s, e, id, dek) == 0 && memcmp(back, pt, pt_len) == 0,
          "entry: random-nonce round trip");

    CHECK(kluis_entry_decrypt(back, NULL, blob, blob_len, c, s, e + 1, id, dek) == -1, "entry: other epoch refused");
    CHECK(kluis_entry_decrypt(back, NULL, blob, blob_len, c, "wonen", e, id, dek) == -1,
          "entry: other section refused");
    CHECK(kluis_entry_decrypt(back, NULL, blob, blob_len, "burger-0002", s, e, id, dek) == -1,
          "entry: other citizen refused");
    CHECK(kluis_entry_decrypt(back, NULL, blob, blob_len, c, s, e, "e-0002", dek) == -1,
          "entry: other entry id refused");
    unsigned char dek2[32];
    memcpy(dek2, dek, 32);
    dek2[5] ^= 4;
    CHECK(kluis_entry_decrypt(back, NULL, blob, blob_len, c, s, e, id, dek2) == -1, "entry: wrong key refused");
    blob[blob_len - 1] ^= 1;
    CHECK(kluis_entry_decrypt(back, NULL, blob, blob_len, c, s, e, id, dek) == -1, "entry: tampered tag refused");
    blob[blob_len - 1] ^= 1;
    blob[30] ^= 1;
    CHECK(kluis_entry_decrypt(back, NULL, blob, blob_len, c, s, e, id, dek) == -1,
          "entry: tampered ciphertext refused");
    blob[30] ^= 1;
    blob[3] ^= 1;
    CHECK(kluis_entry_decrypt(back, NULL, blob, blob_len, c, s, e, id, dek) == -1, "entry: tampered nonce refused");
    blob[3] ^= 1;
    CHECK(kluis_entry_decrypt(back, NULL, blob, KLUIS_AEAD_OVERHEAD - 1, c, s, e, id, dek) == -1,
          "entry: short blob refused");
    CHECK(kluis_entry_decrypt(back, NULL, blob, blob_len - 1, c, s, e, id, dek) == -1,
          "entry: truncated blob refused");
    CHECK(kluis_entry_encrypt(got, (const unsigned char *)pt, pt_len, c, s, 0, id, dek) == -1,
          "entry: epoch 0 refused");
    CHECK(kluis_entry_encrypt(got, (const unsigned char *)pt, pt_len, c, s, e, "E-1", dek) == -1,
          "entry: uppercase id refused");
    char longid[80];
    memset(longid, 'a', 64);
    longid[64] = '\0';
    CHECK(kluis_entry_ad(ad, &ad_len, c, s, e, longid) == -1, "entry: 64-char id refused");
    longid[63] = '\0';
    CHECK(kluis_entry_ad(ad, &ad_len, longid, longid, UINT64_MAX, longid) == 0 &&
              ad_len == 15 + 63 * 3 + 3 + 20,
          "entry: longest ad fits");

    /* Empty plaintext is a valid (if useless) entry. */
    unsigned char e0[KLUIS_AEAD_OVERHEAD], p0[1];
    CHECK(kluis_entry_encrypt(e0, (const unsigned char *)"", 0, c, s, e, id, dek) == 0 &&
              kluis_entry_decrypt(p0, &back_len, e0, sizeof e0, c, s, e, id, dek) == 0 && back_len == 0,
          "entry: empty plaintext round trip");
    free(back);
    free(got);
    free(blob);
}

static void test_auth(void)
{
    unsigned char seed[32], box_sk[32], challenge[32], want[64], sig[64];
    vhex(seed, 32, "auth", "sign_seed");
    vhex(box_sk, 32, "keys", "box_sk");
    vhex(challenge, 32, "auth", "challenge");
    vhex(want, 64, "auth", "signature");
    const char *p = vstr("auth", "principal");
    struct kluis_keys *k = kluis_keys_new();
    CHECK(k && kluis_keys_from_seeds(k, seed, box_sk) == 0, "auth: keys");
    CHECK(kluis_auth_sign(sig, challenge, p, k->sign_sk) == 0 && memcmp(sig, want, 64) == 0,
          "auth: signature vector");
    CHECK(kluis_auth_verify(want, challenge, p, k->sign_pk) == 0, "auth: vector verifies");
    CHECK(kluis_auth_verify(want, challenge, "wijk-bob", k->sign_pk) == -1, "auth: other principal refused");
    challenge[0] ^= 1;
    CHECK(kluis_auth_verify(want, challenge, p, k->sign_pk) == -1, "auth: other challenge refused");
    challenge[0] ^= 1;
    want[10] ^= 1;
    CHECK(kluis_auth_verify(want, challenge, p, k->sign_pk) == -1, "auth: tampered signature refused");
    want[10] ^= 1;
    unsigned char other_pk[32];
    memcpy(other_pk, k->box_pk, 32);
    CHECK(kluis_auth_verify(want, challenge, p, other_pk) == -1, "auth: wrong key refused");
    CHECK(kluis_auth_sign(sig, challenge, "", k->sign_sk) == -1, "auth: empty principal refused");
    kluis_keys_free(k);
}

static void test_wrap(void)
{
    unsigned char box_sk[32], wrap[80], dek[32], want[32], pk[32], w2[80];
    vhex(box_sk, 32, "wrap", "box_sk");
    vhex(wrap, 80, "wrap", "wrap");
    vhex(want, 32, "wrap", "opens_to");
    CHECK(kluis_unwrap(dek, wrap, box_sk) == 0 && memcmp(dek, want, 32) == 0, "wrap: vector opens_to");

    CHECK(kluis_box_pk_from_sk(pk, box_sk) == 0 && kluis_wrap(w2, want, pk) == 0, "wrap: seal");
    CHECK(memcmp(w2, wrap, 80) != 0, "wrap: ephemeral key makes each wrap fresh");
    memset(dek, 0, 32);
    CHECK(kluis_unwrap(dek, w2, box_sk) == 0 && memcmp(dek, want, 32) == 0, "wrap: round trip");

    unsigned char other[32], keep[32];
    memset(keep, 0xee, 32);
    memcpy(dek, keep, 32);
    memcpy(other, box_sk, 32);
    other[0] ^= 0x40;
    CHECK(kluis_unwrap(dek, wrap, other) == -1, "wrap: wrong key refused");
    int opened = 0;
    for (size_t i = 0; i < 80; i++) {
        unsigned char t[80];
        memcpy(t, wrap, 80);
        t[i] ^= (unsigned char)(1u << (i % 8));
        opened += kluis_unwrap(dek, t, box_sk) != -1;
    }
    CHECK(opened == 0, "wrap: every tampered byte refused");
    CHECK_MEM(dek, keep, 32, "wrap: nothing written on failure");
}

static void test_escrow(void)
{
    unsigned char gate_sk[32], auth_sk[32], escrow[128], inner[80], dek[32], want[32];
    vhex(gate_sk, 32, "escrow", "gate_sk");
    vhex(auth_sk, 32, "escrow", "authority_sk");
    vhex(escrow, 128, "escrow", "escrow");
    vhex(want, 32, "escrow", "opens_to");
    CHECK(vint("escrow", "inner_len") == KLUIS_WRAP_BYTES, "escrow: inner_len is 80");
    CHECK(kluis_escrow_open_outer(inner, escrow, gate_sk) == 0, "escrow: vector outer opens with gate key");
    CHECK(kluis_escrow_open_inner(dek, inner, auth_sk) == 0 && memcmp(dek, want, 32) == 0,
          "escrow: vector inner opens_to with authority key");

    CHECK(kluis_escrow_open_outer(inner, escrow, auth_sk) == -1, "escrow: authority key cannot open outer");
    CHECK(kluis_unwrap(dek, escrow, gate_sk) == -1, "escrow: escrow is not a wrap");
    unsigned char tmp[80];
    CHECK(kluis_escrow_open_outer(tmp, escrow, gate_sk) == 0 && kluis_escrow_open_inner(dek, tmp, gate_sk) == -1,
          "escrow: gate key cannot open inner");

    unsigned char gate_pk[32], auth_pk[32], e2[128], in2[80], d2[32];
    CHECK(kluis_box_pk_from_sk(gate_pk, gate_sk) == 0 && kluis_box_pk_from_sk(auth_pk, auth_sk) == 0 &&
              kluis_escrow_seal(e2, want, auth_pk, gate_pk) == 0,
          "escrow: seal");
    CHECK(kluis_escrow_open_outer(in2, e2, gate_sk) == 0 && kluis_escrow_open_inner(d2, in2, auth_sk) == 0 &&
              memcmp(d2, want, 32) == 0,
          "escrow: round trip");
    escrow[100] ^= 1;
    CHECK(kluis_escrow_open_outer(inner, escrow, gate_sk) == -1, "escrow: tampered escrow refused");
}

static void test_aead(void)
{
    unsigned char key[32], out[5 + KLUIS_AEAD_OVERHEAD], back[5];
    randombytes_buf(key, sizeof key);
    CHECK(kluis_aead_seal(out, (const unsigned char *)"hello", 5, (const unsigned char *)"ad", 2, NULL, key) == 0,
          "aead: seal");
    CHECK(kluis_aead_open(back, out, sizeof out, (const unsigned char *)"ad", 2, key) == 0 &&
              memcmp(back, "hello", 5) == 0,
          "aead: open");
    CHECK(kluis_aead_open(back, out, sizeof out, (const unsigned char *)"ae", 2, key) == -1, "aead: other ad refused");
    CHECK(kluis_aead_open(back, out, 39, NULL, 0, key) == -1, "aead: short input refused");
    unsigned char h[32], want[32];
    CHECK(kluis_hash(h, (const unsigned char *)"", 0) == 0 &&
              hex_decode_exact(want, 32, "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8") == 0 &&
              memcmp(h, want, 32) == 0,
          "hash: BLAKE2b-256 of the empty string");
}

int main(void)
{
    char path[1024];
    json_error_t jerr;
    if (secret_init(0) != 0) {
        fprintf(stderr, "sodium_init failed\n");
        return 2;
    }
    snprintf(path, sizeof path, "%s/kluis-v1.json", test_vectors_dir());
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) {
        fprintf(stderr, "%s: %s\n", path, jerr.text);
        return 2;
    }
    V = json_object_get(root, "vectors");
    if (!json_is_object(V)) {
        fprintf(stderr, "%s: no vectors\n", path);
        return 2;
    }
    test_keys();
    test_pwhash_params();
    test_bundle();
    test_key_commitment();
    test_entry();
    test_auth();
    test_wrap();
    test_escrow();
    test_aead();
    json_decref(root);
    return TEST_END();
}
