/*
 * tests/cli/fakelog.c — a deliberately dishonest transparency log for tests/cli/dishonest.sh: it
 * holds its own Ed25519 log key and serves whatever leaves a scenario file says, signing a fresh
 * C2SP checkpoint over them on every request. It is exactly as much of a vault as
 * `kluis audit verify` / `kluis audit show` need: GET /v1/vault, GET /v1/log/checkpoint,
 * GET /v1/log/proof/consistency, GET /v1/log/entries, and a login (POST /v1/auth/challenge and
 * /v1/auth/session accept anyone: it is a test fixture). Built by the test script (not by make, never
 * committed as a binary) from this file and vault/{checkpoint,merkle,encoding}.c.
 *
 *   fakelog pk KEYFILE                 print the log key (b64url), creating KEYFILE (a hex seed)
 *   fakelog import KEYFILE < ENTRIES   turn a GET /v1/log/entries answer into a scenario on stdout:
 *                                      {"origin", "leaves":[exact leaf text, ...]}, with leaf 0's
 *                                      vault.created log_pk replaced by this log's key
 *   fakelog serve KEYFILE SCENARIO PORTFILE
 *                                      serve on 127.0.0.1 (a free port, written to PORTFILE);
 *                                      SCENARIO is re-read on every request, so a test switches
 *                                      what the "vault" shows by replacing the file
 *
 * Scenario: {"origin": O, "leaves": [text, ...], "entries": [text, ...]?}. The checkpoint and the
 * proofs are computed over "leaves"; GET /v1/log/entries serves "entries" when present (leaves that
 * do not match the signed tree), else "leaves".
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <microhttpd.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vault/checkpoint.h"
#include "vault/encoding.h"
#include "vault/merkle.h"

#if MHD_VERSION < 0x00097002
typedef int MHD_Result;
#else
typedef enum MHD_Result MHD_Result;
#endif

static unsigned char log_pk[32], log_sk[64];
static const char *scenario_path;

static void die(const char *msg)
{
    fprintf(stderr, "fakelog: %s\n", msg);
    exit(1);
}

/* The key from KEYFILE (64 hex digits of seed), created when absent. */
static void load_key(const char *path)
{
    unsigned char seed[32];
    char hex[65] = {0};
    FILE *f = fopen(path, "r");
    if (f) {
        size_t n = fread(hex, 1, 64, f);
        fclose(f);
        size_t bl = 0;
        if (n != 64 || sodium_hex2bin(seed, 32, hex, 64, NULL, &bl, NULL) != 0 || bl != 32)
            die("bad key file");
    } else {
        randombytes_buf(seed, 32);
        sodium_bin2hex(hex, sizeof hex, seed, 32);
        if (!(f = fopen(path, "w")) || fputs(hex, f) < 0 || fclose(f) != 0)
            die("cannot write the key file");
    }
    crypto_sign_seed_keypair(log_pk, log_sk, seed);
}

static char *pk_b64(void)
{
    char *s = b64_encode(log_pk, 32);
    if (!s)
        die("out of memory");
    return s;
}

/* ---- import ------------------------------------------------------------------------------------ */

static int do_import(void)
{
    json_error_t e;
    json_t *in = json_loadf(stdin, 0, &e), *leaves = json_array(), *origin = NULL;
    const json_t *list = json_object_get(in, "entries");
    if (!json_is_array(list))
        die("stdin is not a GET /v1/log/entries answer");
    size_t i;
    json_t *ent;
    json_array_foreach(list, i, ent) {
        const char *b = json_string_value(json_object_get(ent, "leaf"));
        size_t bl = b ? strlen(b) : 0, len = 0;
        char *leaf = malloc(bl + 1);
        if (!b || !leaf || b64_decode((unsigned char *)leaf, bl + 1, &len, b, bl) != 0)
            die("an entry is not b64url");
        leaf[len] = 0;
        if (i == 0) { /* this log's own key in vault.created */
            json_t *j = json_loadb(leaf, len, 0, &e);
            char *pk = pk_b64();
            if (!j || !json_object_get(j, "log_pk"))
                die("leaf 0 is not vault.created");
            origin = json_incref(json_object_get(j, "origin"));
            json_object_set_new(j, "log_pk", json_string(pk));
            free(pk);
            free(leaf);
            leaf = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
            json_decref(j);
        }
        json_array_append_new(leaves, json_string(leaf));
        free(leaf);
    }
    json_t *out = json_pack("{s:o, s:o}", "origin", origin ? origin : json_string("?"), "leaves", leaves);
    json_dumpf(out, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    putchar('\n');
    json_decref(out);
    json_decref(in);
    return 0;
}

/* ---- serving ----------------------------------------------------------------------------------- */

struct scen {
    json_t *j;
    const char *origin;
    const json_t *leaves, *entries;
    merkle_mem m;
    uint64_t size;
};

static int scen_load(struct scen *s)
{
    memset(s, 0, sizeof *s);
    merkle_mem_init(&s->m);
    json_error_t e;
    if (!(s->j = json_load_file(scenario_path, 0, &e)))
        return -1;
    s->origin = json_string_value(json_object_get(s->j, "origin"));
    s->leaves = json_object_get(s->j, "leaves");
    s->entries = json_object_get(s->j, "entries");
    if (!json_is_array(s->entries))
        s->entries = s->leaves;
    if (!s->origin || !json_is_array(s->leaves))
        return -1;
    size_t i;
    json_t *l;
    json_array_foreach(s->leaves, i, l) {
        unsigned char h[32];
        merkle_hash_leaf(h, (const unsigned char *)json_string_value(l), json_string_length(l));
        if (merkle_mem_append(&s->m, h) != 0)
            return -1;
    }
    s->size = json_array_size(s->leaves);
    return 0;
}

static void scen_free(struct scen *s)
{
    merkle_mem_free(&s->m);
    json_decref(s->j);
}

static MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *type, char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", type);
    MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return send_text(c, status, "application/json", s ? s : strdup("{}"));
}

static MHD_Result refuse(struct MHD_Connection *c, unsigned status, const char *code)
{
    return send_json(c, status, json_pack("{s:s, s:s}", "error", code, "message", "fakelog says no"));
}

static int64_t arg_u(struct MHD_Connection *c, const char *k)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, k);
    char *end;
    if (!v || !*v)
        return -1;
    long long n = strtoll(v, &end, 10);
    return *end || n < 0 ? -1 : n;
}

static json_t *b64j(const unsigned char *p, size_t n)
{
    char *s = b64_encode(p, n);
    json_t *j = json_string(s);
    free(s);
    return j;
}

static MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                         const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)version;
    (void)upload;
    static int marker;
    if (!*con_cls) { /* first call: headers only */
        *con_cls = &marker;
        return MHD_YES;
    }
    if (*upload_size) { /* the body is ignored */
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "POST") == 0 && strcmp(url, "/v1/auth/challenge") == 0) {
        unsigned char ch[32];
        randombytes_buf(ch, sizeof ch);
        return send_json(c, 200, json_pack("{s:o, s:I}", "challenge", b64j(ch, 32), "expires",
                                           (json_int_t)time(NULL) + 60));
    }
    if (strcmp(method, "POST") == 0 && strcmp(url, "/v1/auth/session") == 0)
        return send_json(c, 200, json_pack("{s:s, s:s, s:I}", "token", "fakelog-token", "role", "auditor", "expires",
                                           (json_int_t)time(NULL) + 1800));
    if (strcmp(method, "GET") != 0)
        return refuse(c, 404, "not_found");

    struct scen s;
    if (scen_load(&s) != 0) {
        scen_free(&s);
        return refuse(c, 503, "unavailable");
    }
    MHD_Result rc;
    unsigned char root[32];
    if (strcmp(url, "/v1/vault") == 0) {
        rc = send_json(c, 200, json_pack("{s:s, s:o, s:o, s:o, s:{s:s, s:i, s:s}}", "origin", s.origin, "log_pk",
                                         b64j(log_pk, 32), "gate_pk", b64j(log_pk, 32), "authority_pk",
                                         b64j(log_pk, 32), "charter", "id", "fake", "version", 1, "hash", "00"));
    } else if (strcmp(url, "/v1/log/checkpoint") == 0) {
        char *note = NULL;
        if (merkle_tree_hash(root, s.size, &s.m.reader) == MERKLE_OK)
            note = checkpoint_sign(s.origin, s.size, root, log_sk);
        rc = note ? send_text(c, 200, "text/plain; charset=utf-8", note) : refuse(c, 500, "internal");
    } else if (strcmp(url, "/v1/log/proof/consistency") == 0) {
        int64_t from = arg_u(c, "from"), to = arg_u(c, "to");
        unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES];
        size_t n = 0;
        if (from < 1 || to < from || (uint64_t)to > s.size ||
            merkle_prove_consistency(proof, &n, (uint64_t)from, (uint64_t)to, &s.m.reader) != MERKLE_OK) {
            rc = refuse(c, 400, "bad_request");
        } else {
            json_t *path = json_array();
            for (size_t i = 0; i < n; i++)
                json_array_append_new(path, b64j(proof[i], 32));
            rc = send_json(c, 200, json_pack("{s:o}", "path", path));
        }
    } else if (strcmp(url, "/v1/log/entries") == 0) {
        int64_t start = arg_u(c, "start"), end = arg_u(c, "end");
        int64_t have = (int64_t)json_array_size(s.entries);
        if (end > start + 1000)
            end = start + 1000;
        if (end > have)
            end = have;
        if (start < 0 || start >= end) {
            rc = refuse(c, 400, "bad_request");
        } else {
            json_t *list = json_array();
            for (int64_t i = start; i < end; i++) {
                const json_t *l = json_array_get(s.entries, (size_t)i);
                json_array_append_new(list, json_pack("{s:I, s:o}", "index", (json_int_t)i, "leaf",
                                                      b64j((const unsigned char *)json_string_value(l),
                                                           json_string_length(l))));
            }
            rc = send_json(c, 200, json_pack("{s:o}", "entries", list));
        }
    } else {
        rc = refuse(c, 404, "not_found");
    }
    scen_free(&s);
    return rc;
}

static volatile sig_atomic_t stop;
static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        die("sodium_init");
    if (argc == 3 && strcmp(argv[1], "pk") == 0) {
        load_key(argv[2]);
        char *pk = pk_b64();
        puts(pk);
        free(pk);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "import") == 0) {
        load_key(argv[2]);
        return do_import();
    }
    if (argc != 5 || strcmp(argv[1], "serve") != 0) {
        fprintf(stderr, "usage: fakelog pk KEYFILE | import KEYFILE < ENTRIES | serve KEYFILE SCENARIO PORTFILE\n");
        return 2;
    }
    load_key(argv[2]);
    scenario_path = argv[3];
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handle, NULL,
                                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_END);
    if (!d)
        die("cannot listen");
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[4]);
    FILE *f = fopen(tmp, "w");
    if (!info || !f || fprintf(f, "%u\n", (unsigned)info->port) < 0 || fclose(f) != 0 || rename(tmp, argv[4]) != 0)
        die("cannot write the port file");
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    while (!stop)
        pause();
    MHD_stop_daemon(d);
    return 0;
}
