/*
 * cli/admin.c — the functional administrator's commands: register and deactivate principals,
 * create citizen records (the enrollment code is shown once), adopt a charter. An administrator
 * never sees dossier content; nothing here touches a section key.
 */
#include "cli/cli.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/charter.h"
#include "vault/encoding.h"
#include "vault/keyfile.h"

int cmd_admin_register(int argc, char **argv)
{
    const char *role = NULL, *id = NULL, *name = NULL, *org = NULL, *pub = NULL, *pos[1];
    const struct cli_opt opts[] = {{"--role", OPT_STR, &role}, {"--id", OPT_STR, &id},   {"--name", OPT_STR, &name},
                                   {"--org", OPT_STR, &org},   {"--pub", OPT_STR, &pub}, {NULL, OPT_FLAG, NULL}};
    cli_parse(argc, argv, opts, pos, 0, 0, "admin register");
    if (!role || !name || !pub)
        cli_die(EXIT_USAGE, "usage: kluis admin register --role R --id ID --name N --org O --pub FILE");
    if (krole_parse(role) == KROLE_NONE)
        cli_die(EXIT_USAGE, "--role must be one of citizen, professional, mayor, officer, auditor, admin");
    char fid[KLUIS_ID_MAX + 1];
    unsigned char spk[32], bpk[32];
    struct jerr err = {0};
    if (keyfile_read_public(fid, spk, bpk, pub, &err) != 0)
        cli_die(EXIT_CRYPTO, "%s: %s", pub, err.msg[0] ? err.msg : "not a public key file");
    if (!id)
        id = fid;
    cli_need_id(id, "--id");
    if (strcmp(id, fid) != 0)
        cli_die(EXIT_USAGE, "--id %s does not match the id '%s' in %s", id, fid, pub);
    char *s64 = b64_encode(spk, 32), *b64 = b64_encode(bpk, 32);
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "id", id, "role", role, "display_name", name,
                             "organisation", org ? org : "", "sign_pk", s64, "box_pk", b64);
    free(s64);
    free(b64);
    json_t *ans = api_call("POST", "/v1/principals", body, API_AUTH);
    json_decref(body);
    if (cli_g.json)
        cli_emit(ans);
    else {
        printf("registered %s as %s: %s%s%s\n", id, role, name, org ? ", " : "", org ? org : "");
        json_decref(ans);
    }
    return EXIT_OK_;
}

int cmd_admin_deactivate(int argc, char **argv)
{
    const char *pos[1];
    const struct cli_opt opts[] = {{NULL, OPT_FLAG, NULL}};
    cli_parse(argc, argv, opts, pos, 1, 1, "admin deactivate");
    cli_need_id(pos[0], "ID");
    char path[128];
    snprintf(path, sizeof path, "/v1/principals/%s/deactivate", pos[0]);
    json_t *ans = api_call("POST", path, NULL, API_AUTH);
    if (cli_g.json)
        cli_emit(ans);
    else {
        int64_t n = cli_jint(ans, "sessions_ended");
        printf("deactivated %s", pos[0]);
        if (n >= 0)
            printf(" (%lld session(s) ended)", (long long)n);
        printf("\n");
        json_decref(ans);
    }
    return EXIT_OK_;
}

int cmd_admin_citizen_add(int argc, char **argv)
{
    const char *name = NULL, *pos[1];
    const struct cli_opt opts[] = {{"--name", OPT_STR, &name}, {NULL, OPT_FLAG, NULL}};
    cli_parse(argc, argv, opts, pos, 1, 1, "admin citizen-add");
    cli_need_id(pos[0], "ID");
    if (!name || !*name)
        cli_die(EXIT_USAGE, "usage: kluis admin citizen-add ID --name N");
    json_t *body = json_pack("{s:s, s:s}", "id", pos[0], "display_name", name);
    json_t *ans = api_call("POST", "/v1/citizens", body, API_AUTH);
    json_decref(body);
    const char *code = cli_jstr(ans, "enrollment_code");
    if (!code)
        cli_die(EXIT_CONNECT, "the answer has no enrollment code");
    if (cli_g.json)
        cli_emit(ans);
    else {
        printf("citizen %s (%s) created\nenrollment code: %s\nvalid until: %s\n"
               "Hand the code to the citizen in person; they run: kluis citizen enroll --id %s --code CODE\n",
               pos[0], name, code, cli_time(cli_jint(ans, "expires")), pos[0]);
        json_decref(ans);
    }
    return EXIT_OK_;
}

int cmd_admin_charter_adopt(int argc, char **argv)
{
    const char *pos[1];
    const struct cli_opt opts[] = {{NULL, OPT_FLAG, NULL}};
    cli_parse(argc, argv, opts, pos, 1, 1, "admin charter-adopt");
    size_t len;
    char *text = cli_read_file(pos[0], CHARTER_MAX_BYTES, &len);
    struct jerr err = {0};
    struct charter *c = charter_load(text, len, &err);
    if (!c)
        cli_die(EXIT_USAGE, "%s is not a valid charter: %s%s%s", pos[0], err.field, err.field[0] ? ": " : "",
                err.msg);
    struct api_result r;
    if (api_try_raw(&r, "POST", "/v1/charter", text, len, API_AUTH) != 0)
        api_refused(&r);
    json_decref(r.json);
    /* the vault now publishes the hash of what it adopted: it must be ours */
    json_t *v = api_call("GET", "/v1/vault", NULL, API_ANON);
    const char *h = cli_jstr(json_object_get(v, "charter"), "hash");
    if (!h || strlen(h) != 64 || sodium_memcmp(h, c->hash_hex, 64) != 0)
        cli_die(EXIT_CRYPTO, "the vault accepted the charter but publishes another hash (%s, ours %s)",
                h ? h : "none", c->hash_hex);
    if (cli_g.json)
        cli_emit(json_pack("{s:s, s:I, s:s}", "charter", c->id, "version", (json_int_t)c->version, "hash",
                           c->hash_hex));
    else
        printf("adopted charter %s version %lld (sha256 %s)\n", c->id, (long long)c->version, c->hash_hex);
    json_decref(v);
    charter_free(c);
    free(text);
    return EXIT_OK_;
}
