/*
 * fuzz/fuzz_keyfile.c — key-file and bundle decoding: keyfile_load() (vault/keyfile.h) and
 * kluis_bundle_open() (vault/crypto.h).
 *
 * Input: byte 0 holds flags, the rest is the content.
 *   bit 0 clear  the content is a key file. It is written to a fresh file on tmpfs (/dev/shm,
 *                else $TMPDIR or /tmp; unlinked after each run), mode 0644 when bit 1 is set
 *                and 0600 otherwise, and loaded through the public API exactly as `kluis` does.
 *                A file that loads is opened (kdf none) or refused without a passphrase
 *                (argon2id13: no Argon2 run, so the target stays fast), then written back with
 *                the matching keyfile_write_*() and reloaded: the same kind, id and keys.
 *   bit 0 set    the content is the JSON a client decodes a bundle from,
 *                {"bundle": b64(104), "sign_pk": b64(32), "box_pk": b64(32), "citizen"?: text}
 *                (the answer of POST /v1/auth/bundle plus the citizen the client asked for,
 *                "burger-0001" by default); the bundle is opened with the vectors' enc_key. An
 *                opened bundle reseals to the same bytes and does not open for another citizen.
 */
#include "fuzz/fuzz_common.h"
#include "vault/crypto.h"
#include "vault/encoding.h"
#include "vault/keyfile.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

static char path[256], rt_path[256];
static unsigned char enc_key[KLUIS_KEY_BYTES];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    if (sodium_init() < 0)
        abort();
    const char *dir = "/dev/shm";
    if (access(dir, W_OK) != 0)
        dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(path, sizeof path, "%s/kluis-fuzz-%ld.key", dir, (long)getpid());
    snprintf(rt_path, sizeof rt_path, "%s/kluis-fuzz-%ld.rt.key", dir, (long)getpid());
    unlink(path);
    unlink(rt_path);
    /* enc_key of the vectors' bundle (kluis-v1.json, bundle.enc_key). */
    if (hex_decode_exact(enc_key, sizeof enc_key,
                         "a9013fc327065d6d4ffa1797ce2f02d9e332aa4e20a81a4af10c1da5f32cbca1") != 0)
        abort();
    return 0;
}

static void put_file(const char *p, const uint8_t *data, size_t size, mode_t mode)
{
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    FUZZ_ASSERT(fd >= 0);
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        FUZZ_ASSERT(w > 0);
        off += (size_t)w;
    }
    FUZZ_ASSERT(fchmod(fd, mode) == 0);
    close(fd);
}

/* Reload what keyfile_write_*() just wrote to rt_path: it must load as KIND with ID. */
static struct keyfile *reload(enum keyfile_kind kind, const char *id)
{
    struct keyfile *kf = NULL;
    struct jerr e;
    FUZZ_ASSERT(keyfile_load(&kf, rt_path, &e) == 0);
    FUZZ_ASSERT(keyfile_kind(kf) == kind);
    FUZZ_ASSERT(id ? (keyfile_id(kf) && strcmp(keyfile_id(kf), id) == 0) : keyfile_id(kf) == NULL);
    unlink(rt_path);
    return kf;
}

static void loaded(struct keyfile *kf)
{
    struct jerr e;
    enum keyfile_kind kind = keyfile_kind(kf);
    const char *id = keyfile_id(kf);
    unsigned char spk[KLUIS_SIGN_PK_BYTES], bpk[KLUIS_BOX_PK_BYTES], spk2[KLUIS_SIGN_PK_BYTES], bpk2[KLUIS_BOX_PK_BYTES];
    struct keyfile *kf2 = NULL;

    FUZZ_ASSERT(kind >= KEYFILE_PRINCIPAL && kind <= KEYFILE_AUTHORITY_PUB);
    if (kind == KEYFILE_PRINCIPAL || kind == KEYFILE_PUBLIC)
        FUZZ_ASSERT(id && jspec_is_id(id));
    else
        FUZZ_ASSERT(id == NULL);
    int pub = kind == KEYFILE_PUBLIC || kind == KEYFILE_AUTHORITY_PUB;
    FUZZ_ASSERT((keyfile_public_keys(spk, bpk, kf) == 0) == pub);

    if (kind == KEYFILE_PUBLIC) {
        FUZZ_ASSERT(keyfile_write_public(rt_path, id, spk, bpk, &e) == 0);
        kf2 = reload(kind, id);
        FUZZ_ASSERT(keyfile_public_keys(spk2, bpk2, kf2) == 0);
        FUZZ_ASSERT(memcmp(spk, spk2, sizeof spk) == 0 && memcmp(bpk, bpk2, sizeof bpk) == 0);
    } else if (kind == KEYFILE_AUTHORITY_PUB) {
        FUZZ_ASSERT(keyfile_write_authority_pub(rt_path, bpk, &e) == 0);
        kf2 = reload(kind, NULL);
        FUZZ_ASSERT(keyfile_public_keys(NULL, bpk2, kf2) == 0 && memcmp(bpk, bpk2, sizeof bpk) == 0);
    } else if (kind == KEYFILE_PRINCIPAL) {
        struct kluis_keys *k = kluis_keys_new(), *k2 = kluis_keys_new();
        FUZZ_ASSERT(k && k2);
        FUZZ_ASSERT(keyfile_open_authority(bpk, kf, NULL, 0, &e) != 0 && e.code == KERR_BAD_REQUEST);
        if (keyfile_needs_passphrase(kf)) {
            FUZZ_ASSERT(keyfile_open_principal(k, kf, NULL, 0, &e) != 0 && e.code == KERR_BAD_CREDENTIALS);
        } else {
            FUZZ_ASSERT(keyfile_open_principal(k, kf, NULL, 0, &e) == 0);
            FUZZ_ASSERT(keyfile_write_principal_plain(rt_path, id, k, &e) == 0);
            kf2 = reload(kind, id);
            FUZZ_ASSERT(!keyfile_needs_passphrase(kf2) && keyfile_open_principal(k2, kf2, NULL, 0, &e) == 0);
            FUZZ_ASSERT(sodium_memcmp(k, k2, sizeof *k) == 0);
        }
        kluis_keys_free(k);
        kluis_keys_free(k2);
    } else {
        unsigned char *sk = sodium_malloc(KLUIS_BOX_SK_BYTES), *sk2 = sodium_malloc(KLUIS_BOX_SK_BYTES);
        struct kluis_keys *k = kluis_keys_new();
        FUZZ_ASSERT(sk && sk2 && k);
        FUZZ_ASSERT(keyfile_open_principal(k, kf, NULL, 0, &e) != 0 && e.code == KERR_BAD_REQUEST);
        if (keyfile_needs_passphrase(kf)) {
            FUZZ_ASSERT(keyfile_open_authority(sk, kf, NULL, 0, &e) != 0 && e.code == KERR_BAD_CREDENTIALS);
        } else {
            FUZZ_ASSERT(keyfile_open_authority(sk, kf, NULL, 0, &e) == 0);
            FUZZ_ASSERT(keyfile_write_authority_plain(rt_path, sk, &e) == 0);
            kf2 = reload(kind, NULL);
            FUZZ_ASSERT(keyfile_open_authority(sk2, kf2, NULL, 0, &e) == 0);
            FUZZ_ASSERT(sodium_memcmp(sk, sk2, KLUIS_BOX_SK_BYTES) == 0);
        }
        sodium_free(sk);
        sodium_free(sk2);
        kluis_keys_free(k);
    }
    keyfile_free(kf2);
}

static void one_keyfile(const uint8_t *data, size_t size, int loose)
{
    struct keyfile *kf = NULL;
    struct jerr e;
    memset(&e, 0, sizeof e);
    put_file(path, data, size, loose ? 0644 : 0600);
    int rc = keyfile_load(&kf, path, &e);
    unlink(path);
    if (rc != 0) {
        FUZZ_ASSERT(kf == NULL);
        FUZZ_ASSERT(e.code == KERR_BAD_JSON || e.code == KERR_BAD_REQUEST || e.code == KERR_BAD_ENCODING ||
                    (e.code == KERR_FORBIDDEN && loose));
        return;
    }
    FUZZ_ASSERT(kf);
    if (loose)
        FUZZ_ASSERT(keyfile_kind(kf) == KEYFILE_PUBLIC || keyfile_kind(kf) == KEYFILE_AUTHORITY_PUB);
    loaded(kf);
    keyfile_free(kf);
}

static void one_bundle(const uint8_t *data, size_t size)
{
    unsigned char bundle[KLUIS_BUNDLE_BYTES], sign_pk[32], box_pk[32], again[KLUIS_BUNDLE_BYTES];
    const char *citizen = "burger-0001";
    struct jerr e;
    json_t *obj = jspec_parse((const char *)data, size, &e);
    if (!obj)
        return;
    const struct jspec spec[] = {
        {.name = "bundle", .type = JS_B64, .out = bundle, .len = KLUIS_BUNDLE_BYTES},
        {.name = "sign_pk", .type = JS_B64, .out = sign_pk, .len = 32},
        {.name = "box_pk", .type = JS_B64, .out = box_pk, .len = 32},
        {.name = "citizen", .type = JS_STRING, .out = &citizen, .optional = 1, .len = 100},
    };
    if (jspec_extract(obj, spec, sizeof spec / sizeof spec[0], &e) == 0) {
        unsigned char *secret = sodium_malloc(KLUIS_SECRET_BYTES);
        FUZZ_ASSERT(secret);
        memset(secret, 0x5a, KLUIS_SECRET_BYTES);
        if (kluis_bundle_open(secret, bundle, citizen, enc_key) == 0) {
            struct kluis_keys *k = kluis_keys_new();
            char other[80];
            FUZZ_ASSERT(k && kluis_keys_from_secret(k, secret) == 0);
            /* What the client then checks against the directory; not an invariant of the input. */
            (void)(sodium_memcmp(k->sign_pk, sign_pk, 32) == 0 && sodium_memcmp(k->box_pk, box_pk, 32) == 0);
            FUZZ_ASSERT(kluis_bundle_seal_nonce(again, secret, citizen, bundle, enc_key) == 0);
            FUZZ_ASSERT(memcmp(again, bundle, sizeof bundle) == 0);
            snprintf(other, sizeof other, "%s-x", citizen);
            FUZZ_ASSERT(kluis_bundle_open(again, bundle, other, enc_key) != 0);
            kluis_keys_free(k);
        } else {
            for (size_t i = 0; i < KLUIS_SECRET_BYTES; i++)
                FUZZ_ASSERT(secret[i] == 0x5a); /* untouched on failure */
        }
        sodium_free(secret);
    }
    json_decref(obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fin in = {data, size};
    uint8_t flags = fin_u8(&in);
    if (flags & 1)
        one_bundle(in.p, in.n);
    else
        one_keyfile(in.p, in.n, (flags & 2) != 0);
    return 0;
}
