/*
 * tests/unit/test_keyfile.c — key files (vault/keyfile.h): round trips of every kind and both kdfs,
 * file modes, O_EXCL and O_NOFOLLOW, wrong passphrases, and strict reading of hand-damaged files.
 * Argon2 runs at OPSLIMIT_INTERACTIVE/MEMLIMIT_INTERACTIVE to stay fast.
 */
#include <jansson.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/test.h"
#include "vault/crypto.h"
#include "vault/encoding.h"
#include "vault/keyfile.h"
#include "vault/secret.h"

TEST_MAIN_DEFS

#define OPS crypto_pwhash_OPSLIMIT_INTERACTIVE
#define MEM crypto_pwhash_MEMLIMIT_INTERACTIVE
#define PASS "correct horse battery staple"

static char DIR_[256];
static struct kluis_keys *K;

static const char *at(const char *name)
{
    static char buf[8][512];
    static int i;
    i = (i + 1) % 8;
    snprintf(buf[i], sizeof buf[i], "%s/%s", DIR_, name);
    return buf[i];
}

static int mode_of(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0 ? (int)(sb.st_mode & 07777) : -1;
}

static void put_text(const char *path, const char *text, mode_t mode)
{
    unlink(path);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

/* Copies the JSON file SRC to DST with FIELD set to VALUE (NULL: removed). */
static void mutate(const char *dst, const char *src, const char *field, json_t *value)
{
    json_error_t je;
    json_t *o = json_load_file(src, 0, &je);
    if (!o)
        exit(2);
    if (value)
        json_object_set_new(o, field, value);
    else
        json_object_del(o, field);
    char *s = json_dumps(o, JSON_COMPACT);
    put_text(dst, s, 0600);
    free(s);
    json_decref(o);
}

/* Loads PATH expecting failure; returns the code. */
static kerr load_code(const char *path)
{
    struct keyfile *kf = NULL;
    struct jerr err = {KERR_OK, "", ""};
    if (keyfile_load(&kf, path, &err) == 0) {
        keyfile_free(kf);
        return KERR_OK;
    }
    return err.code;
}

static void test_principal(void)
{
    struct jerr err;
    struct keyfile *kf = NULL;
    const char *p = at("anna.key");

    CHECK(keyfile_write_principal(p, "wijk-anna", K, PASS, strlen(PASS), OPS, MEM, &err) == 0,
          "principal: write (argon2id13)");
    CHECK(mode_of(p) == 0600, "principal: mode 0600");
    CHECK(keyfile_load(&kf, p, &err) == 0, "principal: load");
    CHECK(kf && keyfile_kind(kf) == KEYFILE_PRINCIPAL && keyfile_needs_passphrase(kf) &&
              strcmp(keyfile_id(kf), "wijk-anna") == 0,
          "principal: kind, id, needs passphrase");

    struct kluis_keys *got = kluis_keys_new();
    CHECK(kf && keyfile_open_principal(got, kf, PASS, strlen(PASS), &err) == 0 && sodium_memcmp(got, K, sizeof *K) == 0,
          "principal: opens to the same keys");
    memset(got, 0x33, sizeof *got);
    unsigned char ref[sizeof *got];
    memset(ref, 0x33, sizeof ref);
    CHECK(kf && keyfile_open_principal(got, kf, "wrong", 5, &err) == -1 && err.code == KERR_BAD_CREDENTIALS,
          "principal: wrong passphrase refused (bad_credentials)");
    CHECK(kf && keyfile_open_principal(got, kf, PASS, strlen(PASS) - 1, &err) == -1 &&
              err.code == KERR_BAD_CREDENTIALS,
          "principal: truncated passphrase refused");
    CHECK(kf && keyfile_open_principal(got, kf, NULL, 0, &err) == -1 && err.code == KERR_BAD_CREDENTIALS,
          "principal: missing passphrase refused");
    CHECK(memcmp(got, ref, sizeof ref) == 0, "principal: keys untouched on failure");
    unsigned char sk[32];
    CHECK(kf && keyfile_open_authority(sk, kf, PASS, strlen(PASS), &err) == -1 && err.code == KERR_BAD_REQUEST,
          "principal: is not an authority file");
    unsigned char pk1[32], pk2[32];
    CHECK(kf && keyfile_public_keys(pk1, pk2, kf) == -1, "principal: has no public keys to give");
    keyfile_free(kf);

    char id[KLUIS_ID_MAX + 1] = "";
    memset(got, 0, sizeof *got);
    CHECK(keyfile_read_principal(got, id, p, PASS, strlen(PASS), &err) == 0 && strcmp(id, "wijk-anna") == 0 &&
              memcmp(got->sign_pk, K->sign_pk, 32) == 0,
          "principal: one-call read");

    /* Never overwritten. */
    struct stat before, after;
    stat(p, &before);
    CHECK(keyfile_write_principal(p, "wijk-anna", K, PASS, strlen(PASS), OPS, MEM, &err) == -1 &&
              err.code == KERR_CONFLICT,
          "principal: O_EXCL refuses an existing file");
    CHECK(keyfile_write_principal_plain(p, "wijk-anna", K, &err) == -1 && err.code == KERR_CONFLICT,
          "principal: plain write refuses an existing file too");
    stat(p, &after);
    CHECK(before.st_ino == after.st_ino && before.st_size == after.st_size && before.st_mtime == after.st_mtime,
          "principal: existing file left alone");

    /* Symlinks: a planted link is neither followed on write nor on read. */
    const char *link = at("link.key"), *target = at("target.key");
    CHECK(symlink(target, link) == 0, "symlink: planted");
    CHECK(keyfile_write_principal_plain(link, "wijk-anna", K, &err) == -1, "symlink: write through a link refused");
    CHECK(access(target, F_OK) != 0, "symlink: target not created");
    unlink(link);
    CHECK(symlink(p, link) == 0, "symlink: link to a real key file");
    CHECK(load_code(link) == KERR_FORBIDDEN, "symlink: read through a link refused");
    unlink(link);

    /* Loose permissions on a secret key file. */
    const char *loose = at("loose.key");
    mutate(loose, p, "kluis_key", json_integer(1));
    chmod(loose, 0644);
    CHECK(load_code(loose) == KERR_FORBIDDEN, "principal: group/world-readable secret key file refused");
    chmod(loose, 0600);
    CHECK(load_code(loose) == KERR_OK, "principal: same file at 0600 accepted");

    /* Damaged files. */
    const char *d = at("damaged.key");
    mutate(d, p, "extra", json_true());
    CHECK(load_code(d) == KERR_BAD_REQUEST, "strict: unknown field refused");
    mutate(d, p, "kluis_key", json_integer(2));
    CHECK(load_code(d) == KERR_BAD_REQUEST, "strict: version 2 refused");
    mutate(d, p, "kluis_key", json_string("1"));
    CHECK(load_code(d) == KERR_BAD_REQUEST, "strict: version as a string refused");
    mutate(d, p, "sealed", NULL);
    CHECK(load_code(d) == KERR_BAD_REQUEST, "strict: missing sealed refused");
    mutate(d, p, "secret", json_string("AAAA"));
    CHECK(load_code(d) == KERR_BAD_REQUEST, "strict: secret beside sealed refused");
    mutate(d, p, "salt", json_string("AAAAAAAAAAAAAAAAAAAA"));
    CHECK(load_code(d) == KERR_BAD_ENCODING, "strict: 15-byte salt refused");
    mutate(d, p, "opslimit", json_integer(1));
    CHECK(load_code(d) == KERR_BAD_REQUEST, "strict: opslimit below interactive refused");
    mutate(d, p, "memlimit", json_integer(1LL << 40));
    CHECK(load_code(d) == KERR_BAD_REQUEST, "strict: 1 TiB memlimit refused");
    mutate(d, p, "kdf", json_string("scrypt"));
    CHECK(load_code(d) == KERR_BAD_REQUEST, "strict: unknown kdf refused");
    mutate(d, p, "id", json_string("Wijk Anna"));
    CHECK(load_code(d) == KERR_BAD_REQUEST, "strict: bad identifier refused");
    mutate(d, p, "kluis_pub", json_integer(1));
    CHECK(load_code(d) == KERR_BAD_REQUEST, "strict: two kinds in one file refused");

    /* The id is bound to the sealed keys: the same sealed bytes under another id do not open. */
    mutate(d, p, "id", json_string("wijk-bob"));
    CHECK(load_code(d) == KERR_OK && keyfile_read_principal(got, NULL, d, PASS, strlen(PASS), &err) == -1 &&
              err.code == KERR_BAD_CREDENTIALS,
          "strict: sealed keys moved to another id do not open");
    /* Tampered sealed bytes. */
    json_error_t je;
    json_t *o = json_load_file(p, 0, &je);
    char *sealed = strdup(json_string_value(json_object_get(o, "sealed")));
    sealed[40] = sealed[40] == 'A' ? 'B' : 'A';
    mutate(d, p, "sealed", json_string(sealed));
    CHECK(keyfile_read_principal(got, NULL, d, PASS, strlen(PASS), &err) == -1 && err.code == KERR_BAD_CREDENTIALS,
          "strict: tampered sealed bytes refused");
    free(sealed);
    json_decref(o);

    put_text(d, "{\"kluis_key\":1,\"kluis_key\":1}", 0600);
    CHECK(load_code(d) == KERR_BAD_REQUEST, "strict: duplicate key refused");
    put_text(d, "not json", 0600);
    CHECK(load_code(d) == KERR_BAD_JSON, "strict: not JSON refused");
    put_text(d, "", 0600);
    CHECK(load_code(d) == KERR_BAD_REQUEST, "strict: empty file refused");
    char *big = malloc(KEYFILE_MAX_BYTES + 10);
    memset(big, ' ', KEYFILE_MAX_BYTES + 9);
    big[0] = '{';
    big[KEYFILE_MAX_BYTES + 8] = '}';
    big[KEYFILE_MAX_BYTES + 9] = '\0';
    put_text(d, big, 0600);
    free(big);
    CHECK(load_code(d) == KERR_BAD_REQUEST, "strict: over 64 KiB refused");
    CHECK(load_code(at("nonexistent.key")) == KERR_NOT_FOUND, "read: missing file is not_found");
    CHECK(load_code(DIR_) == KERR_FORBIDDEN, "read: a directory is refused");

    /* Refused writes leave nothing behind. */
    const char *w = at("weak.key");
    CHECK(keyfile_write_principal(w, "wijk-anna", K, PASS, strlen(PASS), 1, 8192, &err) == -1 &&
              err.code == KERR_BAD_REQUEST && access(w, F_OK) != 0,
          "write: weak Argon2 parameters refused, no file");
    CHECK(keyfile_write_principal(w, "Anna!", K, PASS, strlen(PASS), OPS, MEM, &err) == -1 &&
              err.code == KERR_BAD_REQUEST && access(w, F_OK) != 0,
          "write: bad id refused, no file");
    CHECK(keyfile_write_principal(w, "wijk-anna", K, NULL, 0, OPS, MEM, &err) == -1 &&
              err.code == KERR_BAD_CREDENTIALS && access(w, F_OK) != 0,
          "write: no passphrase refused, no file");
    CHECK(keyfile_write_principal_plain(at("no/such/dir.key"), "wijk-anna", K, &err) == -1 &&
              err.code == KERR_NOT_FOUND,
          "write: missing directory is not_found");
    kluis_keys_free(got);
}

static void test_plain(void)
{
    struct jerr err;
    struct keyfile *kf = NULL;
    const char *p = at("plain.key");
    CHECK(keyfile_write_principal_plain(p, "wijk-anna", K, &err) == 0, "plain: write (kdf none)");
    CHECK(mode_of(p) == 0600, "plain: mode 0600");
    json_error_t je;
    json_t *o = json_load_file(p, 0, &je);
    CHECK(o && strcmp(json_string_value(json_object_get(o, "kdf")), "none") == 0 && json_object_get(o, "secret") &&
              !json_object_get(o, "sealed") && json_object_size(o) == 4,
          "plain: exact SPEC fields");
    unsigned char secret[64], want[64];
    kluis_keys_export(want, K);
    CHECK(o && b64_decode_exact(secret, 64, json_string_value(json_object_get(o, "secret"))) == 0 &&
              memcmp(secret, want, 64) == 0,
          "plain: secret is b64(sign_seed || box_sk)");
    json_decref(o);
    sodium_memzero(secret, 64);
    sodium_memzero(want, 64);

    CHECK(keyfile_load(&kf, p, &err) == 0 && !keyfile_needs_passphrase(kf), "plain: load, no passphrase needed");
    struct kluis_keys *got = kluis_keys_new();
    CHECK(kf && keyfile_open_principal(got, kf, NULL, 0, &err) == 0 && sodium_memcmp(got, K, sizeof *K) == 0,
          "plain: opens to the same keys");
    keyfile_free(kf);

    const char *d = at("plain-damaged.key");
    mutate(d, p, "secret", json_string("AAAA"));
    CHECK(load_code(d) == KERR_BAD_ENCODING, "plain: short secret refused");
    mutate(d, p, "salt", json_string("AAAAAAAAAAAAAAAAAAAAAA"));
    CHECK(load_code(d) == KERR_BAD_REQUEST, "plain: argon fields in a kdf none file refused");
    kluis_keys_free(got);
}

static void test_public(void)
{
    struct jerr err;
    const char *p = at("anna.pub");
    unsigned char sp[32], bp[32];
    char id[KLUIS_ID_MAX + 1];
    CHECK(keyfile_write_public(p, "wijk-anna", K->sign_pk, K->box_pk, &err) == 0, "public: write");
    CHECK(mode_of(p) == 0644, "public: mode 0644");
    CHECK(keyfile_read_public(id, sp, bp, p, &err) == 0 && strcmp(id, "wijk-anna") == 0 &&
              memcmp(sp, K->sign_pk, 32) == 0 && memcmp(bp, K->box_pk, 32) == 0,
          "public: round trip");
    json_error_t je;
    json_t *o = json_load_file(p, 0, &je);
    char *sb = b64_encode(K->sign_pk, 32);
    CHECK(o && json_object_size(o) == 4 && json_integer_value(json_object_get(o, "kluis_pub")) == 1 &&
              strcmp(json_string_value(json_object_get(o, "sign_pk")), sb) == 0,
          "public: exact SPEC fields, b64url keys");
    free(sb);
    json_decref(o);
    CHECK(keyfile_write_public(p, "wijk-anna", K->sign_pk, K->box_pk, &err) == -1 && err.code == KERR_CONFLICT,
          "public: O_EXCL");

    const char *d = at("pub-damaged.pub");
    mutate(d, p, "sign_pk", json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    CHECK(load_code(d) == KERR_BAD_REQUEST, "public: all-zero sign_pk refused");
    mutate(d, p, "box_pk", json_string("AAAA"));
    CHECK(load_code(d) == KERR_BAD_ENCODING, "public: 3-byte box_pk refused");
    mutate(d, p, "id", NULL);
    CHECK(load_code(d) == KERR_BAD_REQUEST, "public: missing id refused");
    chmod(p, 0666);
    CHECK(load_code(p) == KERR_OK, "public: loose mode is fine for a public file");
    struct kluis_keys *got = kluis_keys_new();
    CHECK(keyfile_read_principal(got, NULL, p, PASS, strlen(PASS), &err) == -1 && err.code == KERR_BAD_REQUEST,
          "public: is not a principal key file");
    kluis_keys_free(got);
}

static void test_authority(void)
{
    struct jerr err;
    struct keyfile *kf = NULL;
    unsigned char pk[32], *sk = secret_new(32), *got = secret_new(32);
    CHECK(kluis_box_keypair(pk, sk) == 0, "authority: keypair");

    const char *p = at("authority.key");
    CHECK(keyfile_write_authority(p, sk, PASS, strlen(PASS), OPS, MEM, &err) == 0, "authority: write");
    CHECK(mode_of(p) == 0600, "authority: mode 0600");
    json_error_t je;
    json_t *o = json_load_file(p, 0, &je);
    unsigned char sealed[72];
    CHECK(o && json_object_size(o) == 6 && !json_object_get(o, "id") &&
              b64_decode_exact(sealed, 72, json_string_value(json_object_get(o, "sealed"))) == 0,
          "authority: SPEC fields, 72-byte sealed");
    json_decref(o);
    CHECK(keyfile_load(&kf, p, &err) == 0 && keyfile_kind(kf) == KEYFILE_AUTHORITY && keyfile_id(kf) == NULL &&
              keyfile_needs_passphrase(kf),
          "authority: load");
    CHECK(kf && keyfile_open_authority(got, kf, PASS, strlen(PASS), &err) == 0 && sodium_memcmp(got, sk, 32) == 0,
          "authority: opens to the same key");
    CHECK(kf && keyfile_open_authority(got, kf, "nope", 4, &err) == -1 && err.code == KERR_BAD_CREDENTIALS,
          "authority: wrong passphrase refused");
    struct kluis_keys *kk = kluis_keys_new();
    CHECK(kf && keyfile_open_principal(kk, kf, PASS, strlen(PASS), &err) == -1 && err.code == KERR_BAD_REQUEST,
          "authority: is not a principal file");
    kluis_keys_free(kk);
    keyfile_free(kf);
    kf = NULL;
    const char *d = at("authority-id.key");
    mutate(d, p, "id", json_string("mayor"));
    CHECK(load_code(d) == KERR_BAD_REQUEST, "authority: an id field is unknown here");

    const char *pp = at("authority.pub");
    unsigned char bp[32];
    CHECK(keyfile_write_authority_pub(pp, pk, &err) == 0 && mode_of(pp) == 0644, "authority pub: write, 0644");
    CHECK(keyfile_read_authority_pub(bp, pp, &err) == 0 && memcmp(bp, pk, 32) == 0, "authority pub: round trip");
    CHECK(keyfile_read_authority_pub(bp, at("anna.pub"), &err) == -1 && err.code == KERR_BAD_REQUEST,
          "authority pub: a principal's public file is refused");
    CHECK(keyfile_load(&kf, pp, &err) == 0 && keyfile_public_keys(NULL, bp, kf) == 0 && memcmp(bp, pk, 32) == 0,
          "authority pub: public_keys");
    keyfile_free(kf);

    const char *pl = at("authority-plain.key");
    memset(got, 0, 32);
    CHECK(keyfile_write_authority_plain(pl, sk, &err) == 0 && mode_of(pl) == 0600, "authority plain: write, 0600");
    CHECK(keyfile_load(&kf, pl, &err) == 0 && !keyfile_needs_passphrase(kf) &&
              keyfile_open_authority(got, kf, NULL, 0, &err) == 0 && memcmp(got, sk, 32) == 0,
          "authority plain: round trip");
    keyfile_free(kf);

    /* The escrow chain with keys that went through files. */
    unsigned char dek[32], gate_pk[32], gate_sk[32], esc[128], inner[80], out[32];
    randombytes_buf(dek, 32);
    CHECK(kluis_box_keypair(gate_pk, gate_sk) == 0 && kluis_escrow_seal(esc, dek, bp, gate_pk) == 0 &&
              kluis_escrow_open_outer(inner, esc, gate_sk) == 0 && kluis_escrow_open_inner(out, inner, got) == 0 &&
              memcmp(out, dek, 32) == 0,
          "authority: escrow opens with the key read back from its file");
    secret_free(sk);
    secret_free(got);
}

static void cleanup(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", DIR_);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", DIR_);
}

int main(void)
{
    unsigned char seed[32], box_sk[32];
    if (secret_init(0) != 0)
        return 2;
    snprintf(DIR_, sizeof DIR_, "%s/kluis-keyfile-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(DIR_)) {
        perror("mkdtemp");
        return 2;
    }
    umask(022);
    K = kluis_keys_new();
    if (!K || hex_decode_exact(seed, 32, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f") != 0 ||
        hex_decode_exact(box_sk, 32, "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f") != 0 ||
        kluis_keys_from_seeds(K, seed, box_sk) != 0)
        return 2;
    test_principal();
    test_plain();
    test_public();
    test_authority();
    kluis_keys_free(K);
    cleanup();
    return TEST_END();
}
