/*
 * vault/keyfile.c — key files on disk: the only code that writes or reads a secret key to a file.
 *
 * Writing follows minisign and signify: a file is created once (O_EXCL, so a key is never silently
 * overwritten; O_NOFOLLOW, so a planted symlink cannot redirect it), 0600, fsync'd, and unlinked
 * again on any failure so no half-written key is left behind. The JSON text is produced with
 * snprintf into secret memory rather than by Jansson, because an unencrypted ("kdf":"none") file
 * carries the secret itself and Jansson's copies could not be wiped; identifiers, base64url and
 * integers need no escaping.
 *
 * Reading is strict in the same way as request bodies (vault/jspec.h): the exact field set of the
 * file's kind, exact decoded lengths, version 1. Argon2 parameters are bounded above as well as
 * below, so a crafted key file cannot make `kluis` allocate gigabytes. The text read from disk
 * sits in secret memory, and the one Jansson string that can hold a secret is wiped before the
 * parsed document is released.
 */
#include "vault/keyfile.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vault/secret.h"

#define AD_KEYFILE   "kluis/v1/keyfile\n"
#define AD_AUTHORITY "kluis/v1/authority\n"
#define KDF_ARGON    "argon2id13"
#define KDF_NONE     "none"

#define PRINCIPAL_SEALED_BYTES (KLUIS_AEAD_OVERHEAD + KLUIS_SECRET_BYTES) /* 104 */
#define AUTHORITY_SEALED_BYTES (KLUIS_AEAD_OVERHEAD + KLUIS_BOX_SK_BYTES) /* 72  */
#define TEXT_MAX 1024u /* every file we write is far shorter */

struct keyfile {
    enum keyfile_kind kind;
    int encrypted;
    char id[KLUIS_ID_MAX + 1];
    unsigned char salt[KLUIS_SALT_BYTES];
    int64_t opslimit, memlimit;
    unsigned char sealed[PRINCIPAL_SEALED_BYTES];
    size_t sealed_len;
    unsigned char secret[KLUIS_SECRET_BYTES]; /* kdf none: the secret itself */
    size_t secret_len;
    unsigned char sign_pk[KLUIS_SIGN_PK_BYTES];
    unsigned char box_pk[KLUIS_BOX_PK_BYTES];
};

static int io_error(struct jerr *err, int e, const char *what, const char *path)
{
    kerr code = KERR_INTERNAL;
    if (e == ENOENT)
        code = KERR_NOT_FOUND;
    else if (e == EEXIST)
        code = KERR_CONFLICT;
    else if (e == ELOOP)
        code = KERR_FORBIDDEN;
    return jerr_set(err, code, NULL, "%s %.200s: %s", what, path,
                    e == ELOOP ? "is a symbolic link" : strerror(e));
}

/* ---- writing ---------------------------------------------------------------------------------- */

static void fsync_parent(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        /* Best effort: some file systems refuse fsync on a directory; the file itself is synced. */
        (void)fsync(fd);
        close(fd);
    }
}

static int write_file(const char *path, const char *text, size_t len, mode_t mode, struct jerr *err)
{
    if (!path || !*path)
        return jerr_set(err, KERR_BAD_REQUEST, NULL, "no path");
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return io_error(err, errno, "cannot create", path);
    size_t off = 0;
    int e = 0;
    if (fchmod(fd, mode) != 0)
        e = errno;
    while (!e && off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            e = w < 0 ? errno : EIO;
        else
            off += (size_t)w;
    }
    if (!e && fsync(fd) != 0)
        e = errno;
    if (close(fd) != 0 && !e)
        e = errno;
    if (e) {
        unlink(path);
        return io_error(err, e, "cannot write", path);
    }
    fsync_parent(path);
    return 0;
}

/* b64url of IN into a fresh secret buffer (sodium_bin2base64 writes no other copy). */
static char *b64_secret(const unsigned char *in, size_t len)
{
    size_t n = sodium_base64_encoded_len(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *s = secret_new(n);
    if (s)
        sodium_bin2base64(s, n, in, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return s;
}

/* Formats with snprintf into secret memory and writes it. */
static int write_text(const char *path, mode_t mode, struct jerr *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int write_text(const char *path, mode_t mode, struct jerr *err, const char *fmt, ...)
{
    char *text = secret_new(TEXT_MAX);
    if (!text)
        return jerr_set(err, KERR_INTERNAL, NULL, "out of memory");
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, TEXT_MAX, fmt, ap);
    va_end(ap);
    int rc;
    if (n < 0 || (size_t)n >= TEXT_MAX)
        rc = jerr_set(err, KERR_INTERNAL, NULL, "key file text too long");
    else
        rc = write_file(path, text, (size_t)n, mode, err);
    secret_free(text);
    return rc;
}

/* Seals SECRET (LEN bytes) under a passphrase: fills salt and sealed (LEN + 40 bytes). */
static int seal_with_passphrase(unsigned char salt[KLUIS_SALT_BYTES], unsigned char *sealed,
                                const unsigned char *secret, size_t len, const unsigned char *ad, size_t adlen,
                                const char *passphrase, size_t passphrase_len, unsigned long long opslimit,
                                size_t memlimit, struct jerr *err)
{
    if (!passphrase)
        return jerr_set(err, KERR_BAD_CREDENTIALS, NULL, "a passphrase is required");
    if (!kluis_pwhash_params_ok(opslimit, memlimit))
        return jerr_set(err, KERR_BAD_REQUEST, "opslimit", "Argon2id parameters out of range");
    unsigned char *k = secret_new(KLUIS_KEY_BYTES);
    if (!k)
        return jerr_set(err, KERR_INTERNAL, NULL, "out of memory");
    randombytes_buf(salt, KLUIS_SALT_BYTES);
    int rc = 0;
    if (kluis_pwhash(k, passphrase, passphrase_len, salt, opslimit, memlimit) != 0)
        rc = jerr_set(err, KERR_INTERNAL, NULL, "key derivation failed (out of memory?)");
    else if (kluis_aead_seal(sealed, secret, len, ad, adlen, NULL, k) != 0)
        rc = jerr_set(err, KERR_INTERNAL, NULL, "sealing failed");
    secret_free(k);
    return rc;
}

int keyfile_write_principal(const char *path, const char *id, const struct kluis_keys *keys,
                            const char *passphrase, size_t passphrase_len, unsigned long long opslimit,
                            size_t memlimit, struct jerr *err)
{
    unsigned char salt[KLUIS_SALT_BYTES], sealed[PRINCIPAL_SEALED_BYTES], ad[sizeof AD_KEYFILE + KLUIS_ID_MAX];
    char salt_b[32], sealed_b[160];
    size_t idl = kluis_id_len(id);
    if (!idl)
        return jerr_set(err, KERR_BAD_REQUEST, "id", "not an identifier");
    memcpy(ad, AD_KEYFILE, strlen(AD_KEYFILE));
    memcpy(ad + strlen(AD_KEYFILE), id, idl);

    unsigned char *secret = secret_new(KLUIS_SECRET_BYTES);
    if (!secret)
        return jerr_set(err, KERR_INTERNAL, NULL, "out of memory");
    kluis_keys_export(secret, keys);
    int rc = seal_with_passphrase(salt, sealed, secret, KLUIS_SECRET_BYTES, ad, strlen(AD_KEYFILE) + idl,
                                  passphrase, passphrase_len, opslimit, memlimit, err);
    secret_free(secret);
    if (rc != 0)
        return -1;
    sodium_bin2base64(salt_b, sizeof salt_b, salt, sizeof salt, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_bin2base64(sealed_b, sizeof sealed_b, sealed, sizeof sealed, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return write_text(path, 0600, err,
                      "{\n  \"kluis_key\": 1,\n  \"id\": \"%s\",\n  \"kdf\": \"" KDF_ARGON "\",\n"
                      "  \"salt\": \"%s\",\n  \"opslimit\": %llu,\n  \"memlimit\": %zu,\n  \"sealed\": \"%s\"\n}\n",
                      id, salt_b, opslimit, memlimit, sealed_b);
}

int keyfile_write_principal_plain(const char *path, const char *id, const struct kluis_keys *keys,
                                  struct jerr *err)
{
    if (!kluis_id_len(id))
        return jerr_set(err, KERR_BAD_REQUEST, "id", "not an identifier");
    unsigned char *secret = secret_new(KLUIS_SECRET_BYTES);
    if (!secret)
        return jerr_set(err, KERR_INTERNAL, NULL, "out of memory");
    kluis_keys_export(secret, keys);
    char *sb = b64_secret(secret, KLUIS_SECRET_BYTES);
    secret_free(secret);
    if (!sb)
        return jerr_set(err, KERR_INTERNAL, NULL, "out of memory");
    int rc = write_text(path, 0600, err,
                        "{\n  \"kluis_key\": 1,\n  \"id\": \"%s\",\n  \"kdf\": \"" KDF_NONE "\",\n"
                        "  \"secret\": \"%s\"\n}\n",
                        id, sb);
    secret_free(sb);
    return rc;
}

int keyfile_write_public(const char *path, const char *id, const unsigned char sign_pk[KLUIS_SIGN_PK_BYTES],
                         const unsigned char box_pk[KLUIS_BOX_PK_BYTES], struct jerr *err)
{
    char sp[64], bp[64];
    if (!kluis_id_len(id))
        return jerr_set(err, KERR_BAD_REQUEST, "id", "not an identifier");
    sodium_bin2base64(sp, sizeof sp, sign_pk, KLUIS_SIGN_PK_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_bin2base64(bp, sizeof bp, box_pk, KLUIS_BOX_PK_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return write_text(path, 0644, err,
                      "{\n  \"kluis_pub\": 1,\n  \"id\": \"%s\",\n  \"sign_pk\": \"%s\",\n  \"box_pk\": \"%s\"\n}\n",
                      id, sp, bp);
}

int keyfile_write_authority(const char *path, const unsigned char box_sk[KLUIS_BOX_SK_BYTES],
                            const char *passphrase, size_t passphrase_len, unsigned long long opslimit,
                            size_t memlimit, struct jerr *err)
{
    unsigned char salt[KLUIS_SALT_BYTES], sealed[AUTHORITY_SEALED_BYTES];
    char salt_b[32], sealed_b[128];
    if (seal_with_passphrase(salt, sealed, box_sk, KLUIS_BOX_SK_BYTES, (const unsigned char *)AD_AUTHORITY,
                             strlen(AD_AUTHORITY), passphrase, passphrase_len, opslimit, memlimit, err) != 0)
        return -1;
    sodium_bin2base64(salt_b, sizeof salt_b, salt, sizeof salt, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_bin2base64(sealed_b, sizeof sealed_b, sealed, sizeof sealed, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return write_text(path, 0600, err,
                      "{\n  \"kluis_authority\": 1,\n  \"kdf\": \"" KDF_ARGON "\",\n  \"salt\": \"%s\",\n"
                      "  \"opslimit\": %llu,\n  \"memlimit\": %zu,\n  \"sealed\": \"%s\"\n}\n",
                      salt_b, opslimit, memlimit, sealed_b);
}

int keyfile_write_authority_plain(const char *path, const unsigned char box_sk[KLUIS_BOX_SK_BYTES],
                                  struct jerr *err)
{
    char *sb = b64_secret(box_sk, KLUIS_BOX_SK_BYTES);
    if (!sb)
        return jerr_set(err, KERR_INTERNAL, NULL, "out of memory");
    int rc = write_text(path, 0600, err,
                        "{\n  \"kluis_authority\": 1,\n  \"kdf\": \"" KDF_NONE "\",\n  \"secret\": \"%s\"\n}\n", sb);
    secret_free(sb);
    return rc;
}

int keyfile_write_authority_pub(const char *path, const unsigned char box_pk[KLUIS_BOX_PK_BYTES],
                                struct jerr *err)
{
    char bp[64];
    sodium_bin2base64(bp, sizeof bp, box_pk, KLUIS_BOX_PK_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return write_text(path, 0644, err, "{\n  \"kluis_authority_pub\": 1,\n  \"box_pk\": \"%s\"\n}\n", bp);
}

/* ---- reading ---------------------------------------------------------------------------------- */

/* Reads PATH (a regular file, not a symlink, at most KEYFILE_MAX_BYTES) into secret memory. */
static char *read_file(size_t *len, int *loose_mode, const char *path, struct jerr *err)
{
    struct stat sb;
    if (!path || !*path) {
        jerr_set(err, KERR_BAD_REQUEST, NULL, "no path");
        return NULL;
    }
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        io_error(err, errno, "cannot open", path);
        return NULL;
    }
    if (fstat(fd, &sb) != 0) {
        io_error(err, errno, "cannot stat", path);
        close(fd);
        return NULL;
    }
    if (!S_ISREG(sb.st_mode)) {
        jerr_set(err, KERR_FORBIDDEN, NULL, "%.200s is not a regular file", path);
        close(fd);
        return NULL;
    }
    if (sb.st_size <= 0 || (unsigned long long)sb.st_size > KEYFILE_MAX_BYTES) {
        jerr_set(err, KERR_BAD_REQUEST, NULL, "%.200s: a key file has 1 to %u bytes", path, KEYFILE_MAX_BYTES);
        close(fd);
        return NULL;
    }
    *loose_mode = (sb.st_mode & 077) != 0;
    char *buf = secret_new(KEYFILE_MAX_BYTES + 1);
    if (!buf) {
        jerr_set(err, KERR_INTERNAL, NULL, "out of memory");
        close(fd);
        return NULL;
    }
    size_t off = 0;
    for (;;) {
        ssize_t r = read(fd, buf + off, KEYFILE_MAX_BYTES + 1 - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            io_error(err, errno, "cannot read", path);
            secret_free(buf);
            close(fd);
            return NULL;
        }
        if (r == 0)
            break;
        off += (size_t)r;
        if (off > KEYFILE_MAX_BYTES) {
            jerr_set(err, KERR_BAD_REQUEST, NULL, "%.200s: a key file has at most %u bytes", path,
                     KEYFILE_MAX_BYTES);
            secret_free(buf);
            close(fd);
            return NULL;
        }
    }
    close(fd);
    *len = off;
    return buf;
}

/* Wipes the string value of FIELD in OBJ in place (Jansson's own copy of a secret). */
static void wipe_field(json_t *obj, const char *field)
{
    json_t *v = json_object_get(obj, field);
    if (json_is_string(v))
        sodium_memzero((char *)json_string_value(v), json_string_length(v));
}

static int parse_kind(struct keyfile *kf, json_t *obj, struct jerr *err)
{
    const char *id = NULL, *kdf = NULL;
    int64_t version = 0;
    const char *vname = NULL;
    static const struct {
        const char *tag;
        enum keyfile_kind kind;
    } kinds[] = {
        {"kluis_key", KEYFILE_PRINCIPAL},
        {"kluis_pub", KEYFILE_PUBLIC},
        {"kluis_authority", KEYFILE_AUTHORITY},
        {"kluis_authority_pub", KEYFILE_AUTHORITY_PUB},
    };

    /* The first tag found decides the field set; a second tag is then an unknown field. */
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0] && !vname; i++) {
        if (json_object_get(obj, kinds[i].tag)) {
            vname = kinds[i].tag;
            kf->kind = kinds[i].kind;
        }
    }
    if (!vname)
        return jerr_set(err, KERR_BAD_REQUEST, NULL, "not a Kluis key file");

    if (kf->kind == KEYFILE_PUBLIC) {
        struct jspec spec[] = {
            {.name = vname, .type = JS_INT, .out = &version, .min = 1, .max = 1},
            {.name = "id", .type = JS_ID, .out = &id},
            {.name = "sign_pk", .type = JS_B64, .out = kf->sign_pk, .len = KLUIS_SIGN_PK_BYTES},
            {.name = "box_pk", .type = JS_B64, .out = kf->box_pk, .len = KLUIS_BOX_PK_BYTES},
        };
        if (jspec_extract(obj, spec, sizeof spec / sizeof spec[0], err) != 0)
            return -1;
        if (crypto_core_ed25519_is_valid_point(kf->sign_pk) != 1)
            return jerr_set(err, KERR_BAD_REQUEST, "sign_pk", "'sign_pk' is not a valid Ed25519 public key");
        if (sodium_is_zero(kf->box_pk, KLUIS_BOX_PK_BYTES))
            return jerr_set(err, KERR_BAD_REQUEST, "box_pk", "'box_pk' is zero");
        snprintf(kf->id, sizeof kf->id, "%s", id);
        return 0;
    }
    if (kf->kind == KEYFILE_AUTHORITY_PUB) {
        struct jspec spec[] = {
            {.name = vname, .type = JS_INT, .out = &version, .min = 1, .max = 1},
            {.name = "box_pk", .type = JS_B64, .out = kf->box_pk, .len = KLUIS_BOX_PK_BYTES},
        };
        if (jspec_extract(obj, spec, sizeof spec / sizeof spec[0], err) != 0)
            return -1;
        if (sodium_is_zero(kf->box_pk, KLUIS_BOX_PK_BYTES))
            return jerr_set(err, KERR_BAD_REQUEST, "box_pk", "'box_pk' is zero");
        return 0;
    }

    /* Secret key files: the kdf decides the field set. */
    int principal = kf->kind == KEYFILE_PRINCIPAL;
    kdf = json_string_value(json_object_get(obj, "kdf"));
    if (!kdf)
        return jerr_set(err, KERR_BAD_REQUEST, "kdf", "missing field 'kdf'");
    if (strcmp(kdf, KDF_ARGON) == 0) {
        kf->encrypted = 1;
        kf->sealed_len = principal ? PRINCIPAL_SEALED_BYTES : AUTHORITY_SEALED_BYTES;
        struct jspec spec[] = {
            {.name = vname, .type = JS_INT, .out = &version, .min = 1, .max = 1},
            {.name = "kdf", .type = JS_STRING},
            {.name = "salt", .type = JS_B64, .out = kf->salt, .len = KLUIS_SALT_BYTES},
            {.name = "opslimit", .type = JS_INT, .out = &kf->opslimit, .min = (int64_t)KLUIS_PWHASH_OPSLIMIT_MIN,
             .max = (int64_t)KLUIS_PWHASH_OPSLIMIT_MAX},
            {.name = "memlimit", .type = JS_INT, .out = &kf->memlimit, .min = (int64_t)KLUIS_PWHASH_MEMLIMIT_MIN,
             .max = (int64_t)KLUIS_PWHASH_MEMLIMIT_MAX},
            {.name = "sealed", .type = JS_B64, .out = kf->sealed, .len = kf->sealed_len},
            {.name = "id", .type = JS_ID, .out = &id}, /* principal only: must stay last */
        };
        size_t n = sizeof spec / sizeof spec[0] - (principal ? 0 : 1);
        if (jspec_extract(obj, spec, n, err) != 0)
            return -1;
    } else if (strcmp(kdf, KDF_NONE) == 0) {
        kf->secret_len = principal ? KLUIS_SECRET_BYTES : KLUIS_BOX_SK_BYTES;
        struct jspec spec[] = {
            {.name = vname, .type = JS_INT, .out = &version, .min = 1, .max = 1},
            {.name = "kdf", .type = JS_STRING},
            {.name = "secret", .type = JS_B64, .out = kf->secret, .len = kf->secret_len},
            {.name = "id", .type = JS_ID, .out = &id},
        };
        size_t n = sizeof spec / sizeof spec[0] - (principal ? 0 : 1);
        int rc = jspec_extract(obj, spec, n, err);
        wipe_field(obj, "secret");
        if (rc != 0)
            return -1;
    } else {
        return jerr_set(err, KERR_BAD_REQUEST, "kdf", "'kdf' must be \"" KDF_ARGON "\" or \"" KDF_NONE "\"");
    }
    if (principal)
        snprintf(kf->id, sizeof kf->id, "%s", id);
    return 0;
}

int keyfile_load(struct keyfile **out, const char *path, struct jerr *err)
{
    size_t len = 0;
    int loose = 0;
    char *text = read_file(&len, &loose, path, err);
    if (!text)
        return -1;
    struct keyfile *kf = secret_new(sizeof *kf);
    json_t *obj = NULL;
    int rc = -1;
    if (!kf) {
        jerr_set(err, KERR_INTERNAL, NULL, "out of memory");
        goto done;
    }
    obj = jspec_parse(text, len, err);
    if (!obj)
        goto done;
    if (parse_kind(kf, obj, err) != 0)
        goto done;
    if (loose && (kf->kind == KEYFILE_PRINCIPAL || kf->kind == KEYFILE_AUTHORITY)) {
        jerr_set(err, KERR_FORBIDDEN, NULL, "%.200s is accessible to others: chmod 600 it", path);
        goto done;
    }
    rc = 0;
done:
    if (obj) {
        wipe_field(obj, "secret");
        json_decref(obj);
    }
    secret_free(text);
    if (rc != 0) {
        secret_free(kf);
        return -1;
    }
    *out = kf;
    return 0;
}

enum keyfile_kind keyfile_kind(const struct keyfile *kf)
{
    return kf->kind;
}

const char *keyfile_id(const struct keyfile *kf)
{
    return kf->id[0] ? kf->id : NULL;
}

int keyfile_needs_passphrase(const struct keyfile *kf)
{
    return kf->encrypted;
}

/* Opens KF's secret (OUT_LEN bytes) with AD: the sealed form under the passphrase, or the plain one. */
static int open_secret(unsigned char *out, size_t out_len, const struct keyfile *kf, const unsigned char *ad,
                       size_t adlen, const char *passphrase, size_t passphrase_len, struct jerr *err)
{
    if (!kf->encrypted) {
        if (kf->secret_len != out_len)
            return jerr_set(err, KERR_INTERNAL, NULL, "key file secret length");
        memcpy(out, kf->secret, out_len);
        return 0;
    }
    if (!passphrase)
        return jerr_set(err, KERR_BAD_CREDENTIALS, NULL, "this key file needs its passphrase");
    if (kf->sealed_len != out_len + KLUIS_AEAD_OVERHEAD)
        return jerr_set(err, KERR_INTERNAL, NULL, "key file sealed length");
    unsigned char *k = secret_new(KLUIS_KEY_BYTES);
    unsigned char *tmp = secret_new(out_len);
    int rc = -1;
    if (!k || !tmp)
        jerr_set(err, KERR_INTERNAL, NULL, "out of memory");
    else if (kluis_pwhash(k, passphrase, passphrase_len, kf->salt, (unsigned long long)kf->opslimit,
                          (size_t)kf->memlimit) != 0)
        jerr_set(err, KERR_INTERNAL, NULL, "key derivation failed (out of memory?)");
    else if (kluis_aead_open(tmp, kf->sealed, kf->sealed_len, ad, adlen, k) != 0)
        jerr_set(err, KERR_BAD_CREDENTIALS, NULL, "wrong passphrase (or a damaged key file)");
    else {
        memcpy(out, tmp, out_len);
        rc = 0;
    }
    secret_free(tmp);
    secret_free(k);
    return rc;
}

int keyfile_open_principal(struct kluis_keys *keys, const struct keyfile *kf, const char *passphrase,
                           size_t passphrase_len, struct jerr *err)
{
    unsigned char ad[sizeof AD_KEYFILE + KLUIS_ID_MAX];
    if (kf->kind != KEYFILE_PRINCIPAL)
        return jerr_set(err, KERR_BAD_REQUEST, NULL, "not a principal key file");
    size_t idl = strlen(kf->id);
    memcpy(ad, AD_KEYFILE, strlen(AD_KEYFILE));
    memcpy(ad + strlen(AD_KEYFILE), kf->id, idl);
    unsigned char *secret = secret_new(KLUIS_SECRET_BYTES);
    if (!secret)
        return jerr_set(err, KERR_INTERNAL, NULL, "out of memory");
    int rc = open_secret(secret, KLUIS_SECRET_BYTES, kf, ad, strlen(AD_KEYFILE) + idl, passphrase, passphrase_len,
                         err);
    if (rc == 0 && kluis_keys_from_secret(keys, secret) != 0)
        rc = jerr_set(err, KERR_BAD_REQUEST, "secret", "the key file holds an unusable key");
    secret_free(secret);
    return rc;
}

int keyfile_open_authority(unsigned char box_sk[KLUIS_BOX_SK_BYTES], const struct keyfile *kf,
                           const char *passphrase, size_t passphrase_len, struct jerr *err)
{
    unsigned char pk[KLUIS_BOX_PK_BYTES];
    if (kf->kind != KEYFILE_AUTHORITY)
        return jerr_set(err, KERR_BAD_REQUEST, NULL, "not an authority key file");
    unsigned char *sk = secret_new(KLUIS_BOX_SK_BYTES);
    if (!sk)
        return jerr_set(err, KERR_INTERNAL, NULL, "out of memory");
    int rc = open_secret(sk, KLUIS_BOX_SK_BYTES, kf, (const unsigned char *)AD_AUTHORITY, strlen(AD_AUTHORITY),
                         passphrase, passphrase_len, err);
    if (rc == 0 && kluis_box_pk_from_sk(pk, sk) != 0)
        rc = jerr_set(err, KERR_BAD_REQUEST, "secret", "the key file holds an unusable key");
    if (rc == 0)
        memcpy(box_sk, sk, KLUIS_BOX_SK_BYTES);
    secret_free(sk);
    return rc;
}

int keyfile_public_keys(unsigned char *sign_pk, unsigned char *box_pk, const struct keyfile *kf)
{
    if (kf->kind != KEYFILE_PUBLIC && kf->kind != KEYFILE_AUTHORITY_PUB)
        return -1;
    if (sign_pk && kf->kind == KEYFILE_PUBLIC)
        memcpy(sign_pk, kf->sign_pk, KLUIS_SIGN_PK_BYTES);
    if (box_pk)
        memcpy(box_pk, kf->box_pk, KLUIS_BOX_PK_BYTES);
    return 0;
}

void keyfile_free(struct keyfile *kf)
{
    secret_free(kf);
}

int keyfile_read_principal(struct kluis_keys *keys, char id[KLUIS_ID_MAX + 1], const char *path,
                           const char *passphrase, size_t passphrase_len, struct jerr *err)
{
    struct keyfile *kf = NULL;
    if (keyfile_load(&kf, path, err) != 0)
        return -1;
    int rc = keyfile_open_principal(keys, kf, passphrase, passphrase_len, err);
    if (rc == 0 && id)
        snprintf(id, KLUIS_ID_MAX + 1, "%s", kf->id);
    keyfile_free(kf);
    return rc;
}

int keyfile_read_public(char id[KLUIS_ID_MAX + 1], unsigned char sign_pk[KLUIS_SIGN_PK_BYTES],
                        unsigned char box_pk[KLUIS_BOX_PK_BYTES], const char *path, struct jerr *err)
{
    struct keyfile *kf = NULL;
    if (keyfile_load(&kf, path, err) != 0)
        return -1;
    int rc = 0;
    if (kf->kind != KEYFILE_PUBLIC)
        rc = jerr_set(err, KERR_BAD_REQUEST, NULL, "not a public key file");
    else {
        memcpy(sign_pk, kf->sign_pk, KLUIS_SIGN_PK_BYTES);
        memcpy(box_pk, kf->box_pk, KLUIS_BOX_PK_BYTES);
        if (id)
            snprintf(id, KLUIS_ID_MAX + 1, "%s", kf->id);
    }
    keyfile_free(kf);
    return rc;
}

int keyfile_read_authority_pub(unsigned char box_pk[KLUIS_BOX_PK_BYTES], const char *path, struct jerr *err)
{
    struct keyfile *kf = NULL;
    if (keyfile_load(&kf, path, err) != 0)
        return -1;
    int rc = 0;
    if (kf->kind != KEYFILE_AUTHORITY_PUB)
        rc = jerr_set(err, KERR_BAD_REQUEST, NULL, "not an authority public key file");
    else
        memcpy(box_pk, kf->box_pk, KLUIS_BOX_PK_BYTES);
    keyfile_free(kf);
    return rc;
}
