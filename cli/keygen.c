/*
 * cli/keygen.c — `kluis keygen`: a principal key pair (Ed25519 + X25519) or, with --authority, the
 * mayor's office escrow key (X25519), sealed under a passphrase (Argon2id, SPEC §3), and its public
 * half in FILE.pub. Both files are created 0600 with O_EXCL|O_NOFOLLOW: an existing file is never
 * overwritten. --no-passphrase writes "kdf":"none" files, for automation and tests only.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "vault/crypto.h"
#include "vault/jspec.h"
#include "vault/keyfile.h"
#include "vault/secret.h"

/* Moderate Argon2id parameters for key files at rest: stronger than the interactive minimum. */
#define KEYGEN_OPSLIMIT crypto_pwhash_OPSLIMIT_MODERATE
#define KEYGEN_MEMLIMIT crypto_pwhash_MEMLIMIT_MODERATE

int cmd_keygen(int argc, char **argv)
{
    const char *id = NULL, *out = NULL;
    int authority = 0, plain = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--id") == 0 && i + 1 < argc)
            id = argv[++i];
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (strcmp(argv[i], "--authority") == 0)
            authority = 1;
        else if (strcmp(argv[i], "--no-passphrase") == 0)
            plain = 1;
        else
            cli_die(EXIT_USAGE, "keygen: unexpected '%s' (see: kluis help keygen)", argv[i]);
    }
    if (!out || (!id && !authority))
        cli_die(EXIT_USAGE, "usage: kluis keygen --id ID --out FILE [--authority] [--no-passphrase]");
    if (id && !jspec_is_id(id))
        cli_die(EXIT_USAGE, "keygen: '%s' is not a valid id (^[a-z0-9][a-z0-9._-]{0,62}$)", id);
    char pub[4096];
    if (snprintf(pub, sizeof pub, "%s.pub", out) >= (int)sizeof pub)
        cli_die(EXIT_USAGE, "keygen: path too long");
    if (access(out, F_OK) == 0 || access(pub, F_OK) == 0)
        cli_die(EXIT_CRYPTO, "keygen: %s or %s already exists; refusing to overwrite a key", out, pub);

    char *pass = NULL;
    size_t plen = 0;
    if (!plain)
        pass = cli_passphrase("Passphrase for the new key: ", 1, &plen);
    struct jerr err = {0};
    int rc;
    if (authority) {
        unsigned char *sk = secret_new(KLUIS_BOX_SK_BYTES);
        unsigned char pk[KLUIS_BOX_PK_BYTES];
        if (!sk || kluis_box_keypair(pk, sk) != 0)
            cli_die(EXIT_CRYPTO, "keygen: cannot make a key pair");
        rc = plain ? keyfile_write_authority_plain(out, sk, &err)
                   : keyfile_write_authority(out, sk, pass, plen, KEYGEN_OPSLIMIT, KEYGEN_MEMLIMIT, &err);
        if (rc == 0)
            rc = keyfile_write_authority_pub(pub, pk, &err);
        secret_free(sk);
    } else {
        struct kluis_keys *k = kluis_keys_new();
        if (!k || kluis_keys_generate(k) != 0)
            cli_die(EXIT_CRYPTO, "keygen: cannot make key pairs");
        rc = plain ? keyfile_write_principal_plain(out, id, k, &err)
                   : keyfile_write_principal(out, id, k, pass, plen, KEYGEN_OPSLIMIT, KEYGEN_MEMLIMIT, &err);
        if (rc == 0)
            rc = keyfile_write_public(pub, id, k->sign_pk, k->box_pk, &err);
        kluis_keys_free(k);
    }
    secret_free(pass);
    if (rc != 0)
        cli_die(EXIT_CRYPTO, "keygen: %s", err.msg[0] ? err.msg : "cannot write the key files");
    printf("%s key written to %s, public key to %s\n", authority ? "Authority" : "Principal", out, pub);
    return EXIT_OK_;
}
