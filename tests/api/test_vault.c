/*
 * tests/api/test_vault.c — kluisd init and serve against SPEC §6/§8/§12, through raw HTTP:
 * init refuses an existing vault; /v1/vault, /v1/charter, the signed checkpoint and the proofs
 * verify with nothing but what the server published; state survives a restart; the database file
 * holds none of the identifiers or charter text in clear.
 */
#include "tests/test.h"
#include "tests/api/harness.h"
#include "tests/api/httpc.h"

#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vault/checkpoint.h"
#include "vault/encoding.h"
#include "vault/jspec.h"
#include "vault/merkle.h"
#include "vault/vault.h"

TEST_MAIN_DEFS

static struct kd K;

static json_t *get_json(const char *path, int *status)
{
    struct httpc_resp r;
    json_t *j = NULL;
    *status = -1;
    if (httpc_request(K.port, "GET", path, NULL, NULL, 0, &r) == 0) {
        *status = r.status;
        j = json_loadb(r.body, r.body_len, 0, NULL);
        httpc_resp_free(&r);
    }
    return j;
}

static char *get_text(const char *path, int *status, size_t *len)
{
    struct httpc_resp r;
    *status = -1;
    if (httpc_request(K.port, "GET", path, NULL, NULL, 0, &r) != 0)
        return NULL;
    *status = r.status;
    char *s = malloc(r.body_len + 1);
    memcpy(s, r.body, r.body_len + 1);
    *len = r.body_len;
    httpc_resp_free(&r);
    return s;
}

static int proof_of(json_t *j, unsigned char (*p)[32], size_t *n)
{
    json_t *path = json_object_get(j, "path"), *e;
    size_t i;
    if (!json_is_array(path) || json_array_size(path) > MERKLE_MAX_PROOF)
        return -1;
    json_array_foreach(path, i, e) {
        if (b64_decode_exact(p[i], 32, json_string_value(e)) != 0)
            return -1;
    }
    *n = json_array_size(path);
    return 0;
}

static int file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)n);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    int found = memmem(buf, got, needle, strlen(needle)) != NULL;
    free(buf);
    return found;
}

int main(void)
{
    if (sodium_init() < 0 || kd_setup(&K) != 0) {
        CHECK(0, "harness: kluisd init of a fresh vault");
        return TEST_END();
    }
    CHECK(1, "kluisd init creates a vault");
    {
        const char *argv[] = {"init", "--dir", K.vault, "--origin", "x.example/kluis", "--charter", K.charter,
                              "--admin-pub", K.admin_pub, "--authority-pub", K.authority_pub, NULL};
        CHECK(kd_run(&K, argv) == 1, "kluisd init refuses a directory that holds a vault");
        const char *bad[] = {"init", "--dir", K.vault, NULL};
        CHECK(kd_run(&K, bad) == 2, "kluisd init without its options is a usage error");
        const char *badcharter[] = {"init", "--dir", "/tmp/kluis-never-created", "--origin", "x.example/kluis",
                                    "--charter", K.admin_pub, "--admin-pub", K.admin_pub, "--authority-pub",
                                    K.authority_pub, NULL};
        CHECK(kd_run(&K, badcharter) == 1 && access("/tmp/kluis-never-created", F_OK) != 0,
              "kluisd init refuses a file that is not a charter and creates nothing");
    }
    struct stat sb;
    char kp[512];
    snprintf(kp, sizeof kp, "%s/keys/storage.key", K.vault);
    CHECK(stat(kp, &sb) == 0 && (sb.st_mode & 0777) == 0600, "vault key files are mode 0600");

    if (kd_start(&K) != 0) {
        CHECK(0, "kluisd serve starts");
        kd_cleanup(&K);
        return TEST_END();
    }
    int st;
    json_t *j = get_json("/v1/health", &st);
    CHECK(st == 200 && json_is_string(json_object_get(j, "status")) &&
              strcmp(json_string_value(json_object_get(j, "status")), "ok") == 0,
          "GET /v1/health is ok");
    json_decref(j);

    /* /v1/vault: keys, origin, charter id/version/hash of the exact text */
    unsigned char log_pk[32] = {0}, gate_pk[32] = {0}, auth_pk[32] = {0};
    j = get_json("/v1/vault", &st);
    json_t *ch = json_object_get(j, "charter");
    CHECK(st == 200 && b64_decode_exact(log_pk, 32, json_string_value(json_object_get(j, "log_pk"))) == 0 &&
              b64_decode_exact(gate_pk, 32, json_string_value(json_object_get(j, "gate_pk"))) == 0 &&
              b64_decode_exact(auth_pk, 32, json_string_value(json_object_get(j, "authority_pk"))) == 0,
          "GET /v1/vault publishes three 32-byte keys");
    CHECK(memcmp(auth_pk, K.authority_pk, 32) == 0, "authority_pk is the one given to init");
    const char *origin = json_string_value(json_object_get(j, "origin"));
    CHECK(origin && strcmp(origin, "test.voorbeeldstad.nl/kluis") == 0, "origin is the one given to init");
    size_t clen = 0;
    char *ctext = get_text("/v1/charter", &st, &clen);
    FILE *cf = fopen(K.charter, "rb");
    char cfile[1 << 16];
    size_t cflen = cf ? fread(cfile, 1, sizeof cfile, cf) : 0;
    if (cf)
        fclose(cf);
    CHECK(st == 200 && ctext && clen == cflen && memcmp(ctext, cfile, clen) == 0,
          "GET /v1/charter serves the adopted bytes exactly");
    unsigned char h[32];
    char hex[65];
    crypto_hash_sha256(h, (const unsigned char *)cfile, cflen);
    hex_encode(hex, h, 32);
    CHECK(json_is_object(ch) && strcmp(json_string_value(json_object_get(ch, "hash")), hex) == 0 &&
              json_integer_value(json_object_get(ch, "version")) == 1,
          "charter hash in /v1/vault is SHA-256 of the charter text");
    free(ctext);

    /* the checkpoint verifies with the published key; size 3 after init */
    size_t nlen = 0;
    char *note = get_text("/v1/log/checkpoint", &st, &nlen);
    uint64_t size = 0;
    unsigned char root[32];
    CHECK(st == 200 && note && checkpoint_verify(&size, root, note, nlen, origin, log_pk) == 0 && size == 3,
          "checkpoint verifies under log_pk and covers the 3 genesis leaves");

    /* proofs, fetched now and checked against the leaves after a stop */
    unsigned char inc[3][MERKLE_MAX_PROOF][32], con[2][MERKLE_MAX_PROOF][32];
    size_t ninc[3] = {0}, ncon[2] = {0};
    int proofs_ok = 1;
    for (int i = 0; i < 3; i++) {
        char path[128];
        snprintf(path, sizeof path, "/v1/log/proof/inclusion?index=%d&size=3", i);
        json_t *p = get_json(path, &st);
        proofs_ok &= st == 200 && proof_of(p, inc[i], &ninc[i]) == 0 &&
                     json_integer_value(json_object_get(p, "index")) == i;
        json_decref(p);
    }
    for (int i = 0; i < 2; i++) {
        char path[128];
        snprintf(path, sizeof path, "/v1/log/proof/consistency?from=%d&to=3", i + 1);
        json_t *p = get_json(path, &st);
        proofs_ok &= st == 200 && proof_of(p, con[i], &ncon[i]) == 0;
        json_decref(p);
    }
    CHECK(proofs_ok, "inclusion and consistency proofs are served");
    const struct {
        const char *path;
        int status;
    } bad[] = {
        {"/v1/log/proof/inclusion?index=3&size=3", 400},  {"/v1/log/proof/inclusion?index=0&size=4", 400},
        {"/v1/log/proof/inclusion?size=3", 400},          {"/v1/log/proof/inclusion?index=x&size=3", 400},
        {"/v1/log/proof/inclusion?index=-1&size=3", 400}, {"/v1/log/proof/consistency?from=0&to=3", 400},
        {"/v1/log/proof/consistency?from=3&to=2", 400},   {"/v1/log/proof/consistency?from=1&to=99", 400},
        {"/v1/log/proof/consistency?from=1", 400},        {"/v1/nothing", 404},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *p = get_json(bad[i].path, &st);
        CHECK(st == bad[i].status && json_is_string(json_object_get(p, "error")), "%s → %d with a JSON error",
              bad[i].path, bad[i].status);
        json_decref(p);
    }
    /* One process at a time (vault_open's flock): the journal's heads and the log's tree live in
     * the serving kluisd's memory, and a second writer would fork them. */
    {
        vault *v2 = NULL;
        struct jerr err2;
        kerr e2 = vault_open(&v2, K.vault, &err2);
        CHECK(e2 == KERR_CONFLICT && !v2 && strstr(err2.msg, "another process"),
              "vault_open of a vault kluisd serves is refused (%s: %s)", kerr_code(e2), err2.msg);
        vault_close(v2);
        char cmd[5200], out[400], msg[512] = "";
        snprintf(out, sizeof out, "%s/second.err", K.tmp);
        snprintf(cmd, sizeof cmd, "timeout 20 '%s' serve --dir '%s' --listen 127.0.0.1:%u --web none 2>'%s'",
                 K.kluisd, K.vault, K.port + 1, out);
        int rc = system(cmd);
        FILE *f = fopen(out, "r");
        if (f) {
            size_t n = fread(msg, 1, sizeof msg - 1, f);
            msg[n] = '\0';
            fclose(f);
        }
        CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 1 && strstr(msg, "another process"),
              "a second kluisd serve on the same vault exits 1 and says why: %s", msg);
        json_t *j2 = get_json("/v1/health", &st);
        CHECK(st == 200, "the first kluisd serves on");
        json_decref(j2);
    }
    CHECK(kd_stop(&K) == 0, "SIGTERM stops kluisd cleanly (exit 0)");
    json_decref(j);

    /* Read the leaves with the vault's own code, then verify what the server proved. */
    vault *v = NULL;
    struct jerr err;
    json_t *entries = NULL;
    CHECK(vault_open(&v, K.vault, &err) == KERR_OK && tlog_entries(v->log, 0, 3, &entries) == KERR_OK,
          "the vault reopens and yields its leaves");
    unsigned char lh[3][32];
    const char *events[3] = {"vault.created", "charter.adopted", "principal.registered"};
    int leaves_ok = json_array_size(entries) == 3;
    for (size_t i = 0; leaves_ok && i < 3; i++) {
        unsigned char buf[1 << 16];
        size_t n = 0;
        const char *b = json_string_value(json_object_get(json_array_get(entries, i), "leaf"));
        leaves_ok &= b && b64_decode(buf, sizeof buf, &n, b, strlen(b)) == 0;
        merkle_hash_leaf(lh[i], buf, n);
        json_t *leaf = json_loadb((const char *)buf, n, 0, NULL);
        leaves_ok &= json_integer_value(json_object_get(leaf, "index")) == (json_int_t)i &&
                     strcmp(json_string_value(json_object_get(leaf, "event")), events[i]) == 0;
        if (i == 1) {
            const char *text = json_string_value(json_object_get(leaf, "text"));
            leaves_ok &= text && strlen(text) == cflen && memcmp(text, cfile, cflen) == 0 &&
                         strcmp(json_string_value(json_object_get(leaf, "hash")), hex) == 0;
        }
        if (i == 2) {
            unsigned char pk[32];
            leaves_ok &= strcmp(json_string_value(json_object_get(leaf, "id")), "beheer") == 0 &&
                         strcmp(json_string_value(json_object_get(leaf, "role")), "admin") == 0 &&
                         b64_decode_exact(pk, 32, json_string_value(json_object_get(leaf, "sign_pk"))) == 0 &&
                         memcmp(pk, K.admin->sign_pk, 32) == 0;
        }
        json_decref(leaf);
    }
    CHECK(leaves_ok, "genesis leaves: vault.created, charter.adopted (full text + hash), principal.registered");
    json_decref(entries);
    vault_close(v);

    int inc_ok = 1;
    for (int i = 0; i < 3; i++)
        inc_ok &= merkle_verify_inclusion(lh[i], (uint64_t)i, 3, (const unsigned char (*)[32])inc[i], ninc[i], root) == 0;
    CHECK(inc_ok, "every inclusion proof verifies against the signed root");
    unsigned char r1[32], r2[32];
    memcpy(r1, lh[0], 32);
    merkle_hash_node(r2, lh[0], lh[1]);
    CHECK(merkle_verify_consistency(1, 3, (const unsigned char (*)[32])con[0], ncon[0], r1, root) == 0 &&
              merkle_verify_consistency(2, 3, (const unsigned char (*)[32])con[1], ncon[1], r2, root) == 0,
          "consistency proofs 1→3 and 2→3 verify");
    inc[1][0][5] ^= 1;
    CHECK(merkle_verify_inclusion(lh[1], 1, 3, (const unsigned char (*)[32])inc[1], ninc[1], root) != 0,
          "a flipped bit in a served proof fails");

    /* restart: the same signed tree */
    CHECK(kd_start(&K) == 0, "kluisd serve starts again on the same vault");
    size_t n2 = 0;
    char *note2 = get_text("/v1/log/checkpoint", &st, &n2);
    CHECK(note2 && n2 == nlen && memcmp(note, note2, nlen) == 0, "the checkpoint survives a restart unchanged");
    free(note2);
    kd_kill9(&K);
    CHECK(kd_start(&K) == 0, "kluisd starts after kill -9 (its lock on the vault went with it)");
    note2 = get_text("/v1/log/checkpoint", &st, &n2);
    CHECK(note2 && n2 == nlen && memcmp(note, note2, nlen) == 0, "the checkpoint survives kill -9 unchanged");
    free(note2);
    free(note);
    CHECK(kd_stop(&K) == 0, "clean stop");

    /* encryption at rest: no identifier, origin or charter text in clear in the database file */
    char db[512];
    snprintf(db, sizeof db, "%s/data.mdb", K.vault);
    /* (the origin is public: it heads every checkpoint, which is stored as served) */
    const char *markers[] = {"beheer", "Ondersteuningsplan", "voorbeeldstad-sociaal-domein",
                             "principal.registered"};
    for (size_t i = 0; i < sizeof markers / sizeof markers[0]; i++)
        CHECK(file_contains(db, markers[i]) == 0, "data.mdb does not contain '%s' in clear", markers[i]);

    kd_cleanup(&K);
    return TEST_END();
}
