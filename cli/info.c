/*
 * cli/info.c — commands that describe rather than change: `kluis vault`, `kluis charter show`,
 * `kluis whoami`, `kluis logout`. What they show about the vault is checked first: the charter
 * against the hash GET /v1/vault publishes, the log checkpoint against the vault's log key.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/charter.h"
#include "vault/checkpoint.h"
#include "vault/encoding.h"

static const struct cli_opt no_opts[] = {{NULL, OPT_FLAG, NULL}};

int cmd_vault(int argc, char **argv)
{
    const char *pos[1];
    cli_parse(argc, argv, no_opts, pos, 0, 0, "vault");
    const struct vault_info *v = cli_vault();
    const struct charter *c = cli_charter();

    struct http_resp resp;
    http_request(&resp, "GET", "/v1/log/checkpoint", NULL, 0, NULL);
    if (resp.status != 200)
        cli_die(EXIT_CONNECT, "GET /v1/log/checkpoint answered HTTP %ld", resp.status);
    uint64_t size = 0;
    unsigned char root[32];
    if (checkpoint_verify(&size, root, resp.body, resp.len, v->origin, v->log_pk) != 0)
        cli_die(EXIT_CRYPTO, "the log checkpoint does not verify with the vault's log key");
    http_resp_free(&resp);
    char *root64 = b64std_encode(root, sizeof root);
    if (!root64)
        cli_die(EXIT_CRYPTO, "out of memory");

    if (cli_g.json) {
        json_t *o = json_deep_copy(v->json);
        json_object_set_new(json_object_get(o, "charter"), "title", json_string(c->title));
        json_object_set_new(o, "log", json_pack("{s:I, s:s, s:b}", "size", (json_int_t)size, "root", root64,
                                                "verified", 1));
        json_object_set_new(o, "server", json_string(cli_g.server));
        cli_emit(o);
    } else {
        printf("Vault       %s  (%s)\n", v->origin, cli_g.server);
        printf("Log key     %s\n", cli_jstr(v->json, "log_pk"));
        printf("Gate key    %s\n", cli_jstr(v->json, "gate_pk"));
        printf("Authority   %s\n", cli_jstr(v->json, "authority_pk"));
        printf("Charter     %s version %lld: %s\n", c->id, (long long)c->version, c->title);
        printf("            sha256 %s (matches the text served)\n", c->hash_hex);
        printf("            %zu sections, %zu purposes; an override needs %lld approval(s), lasts at most %lld h\n",
               c->n_sections, c->n_purposes, (long long)c->override.approvals_required,
               (long long)c->override.max_hours);
        printf("Log         %llu entries, root %s (checkpoint signature verified)\n", (unsigned long long)size,
               root64);
    }
    free(root64);
    return EXIT_OK_;
}

int cmd_charter_show(int argc, char **argv)
{
    const char *pos[1];
    cli_parse(argc, argv, no_opts, pos, 0, 0, "charter show");
    const struct charter *c = cli_charter();
    if (cli_g.json) {
        size_t len;
        const char *text = cli_charter_bytes(&len);
        fwrite(text, 1, len, stdout);
        if (len && text[len - 1] != '\n')
            fputc('\n', stdout);
        return EXIT_OK_;
    }
    printf("%s\n%s, version %lld (sha256 %s)\n\nPrinciples:\n", c->title, c->id, (long long)c->version,
           c->hash_hex);
    for (size_t i = 0; i < c->n_principles; i++)
        printf("  %zu. %s\n", i + 1, c->principles[i]);
    printf("\nSections:\n");
    for (size_t i = 0; i < c->n_sections; i++)
        printf("  %-18s %s%s%s%s\n", c->sections[i].id, c->sections[i].title, c->sections[i].title_en ? " (" : "",
               c->sections[i].title_en ? c->sections[i].title_en : "", c->sections[i].title_en ? ")" : "");
    printf("\nPurposes (sections; longest consent; write):\n");
    for (size_t i = 0; i < c->n_purposes; i++) {
        const struct charter_purpose *p = &c->purposes[i];
        printf("  %-18s %s\n  %-18s ", p->id, p->title, "");
        for (size_t j = 0; j < p->n_sections; j++)
            printf("%s%s", j ? "," : "", p->sections[j]);
        printf("; %lld days; %s\n", (long long)p->max_days, p->write ? "read and write" : "read only");
    }
    printf("\nEmergency override: requested by the %s, approved by %lld %s(s), at most %lld hours,\n"
           "a justification of at least %lld characters; citizen notified %s.\nGrounds:\n",
           krole_name(c->override.authority_role), (long long)c->override.approvals_required,
           krole_name(c->override.approver_role), (long long)c->override.max_hours,
           (long long)c->override.min_justification_chars,
           c->override.citizen_notice_hours ? "after a delay" : "at once");
    for (size_t i = 0; i < c->override.n_grounds; i++)
        printf("  %-18s %s\n", c->override.grounds[i].id, c->override.grounds[i].title);
    printf("\nSessions last %lld minutes; enrollment codes %lld days; %lld failed logins lock for %lld minutes.\n",
           (long long)c->session_ttl_minutes, (long long)c->enrollment_code_ttl_days,
           (long long)c->login_max_failures, (long long)c->login_lockout_minutes);
    return EXIT_OK_;
}

int cmd_whoami(int argc, char **argv)
{
    const char *pos[1];
    cli_parse(argc, argv, no_opts, pos, 0, 0, "whoami");
    const char *id = cli_id();
    const char *role = cli_role();
    int64_t exp = cli_session_expires();
    /* the directory is shown when the vault lists us; a citizen may not be listed */
    struct api_result r;
    const json_t *entry = NULL;
    json_t *dir = NULL;
    if (api_try(&r, "GET", "/v1/principals", NULL, API_AUTH) == 0) {
        dir = r.json;
        const json_t *list = json_is_array(dir) ? dir : json_object_get(dir, "principals");
        size_t i;
        json_t *p;
        json_array_foreach(list, i, p) if (cli_jstr(p, "id") && strcmp(cli_jstr(p, "id"), id) == 0) entry = p;
    } else {
        json_decref(r.json);
    }
    if (cli_g.json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "id", id, "role", role, "server", cli_g.server, "expires",
                              (json_int_t)exp);
        if (entry) {
            json_object_set(o, "display_name", json_object_get(entry, "display_name"));
            json_object_set(o, "organisation", json_object_get(entry, "organisation"));
            json_object_set(o, "active", json_object_get(entry, "active"));
        }
        cli_emit(o);
    } else {
        printf("%s, %s at %s\n", id, role, cli_g.server);
        if (entry)
            printf("%s, %s%s\n", cli_jstr(entry, "display_name") ? cli_jstr(entry, "display_name") : "-",
                   cli_jstr(entry, "organisation") ? cli_jstr(entry, "organisation") : "-",
                   json_is_false(json_object_get(entry, "active")) ? " (inactive)" : "");
        printf("session until %s\n", cli_time(exp));
    }
    json_decref(dir);
    return EXIT_OK_;
}

int cmd_logout(int argc, char **argv)
{
    const char *pos[1];
    cli_parse(argc, argv, no_opts, pos, 0, 0, "logout");
    cli_logout();
    if (cli_g.json)
        cli_emit(json_pack("{s:s, s:b}", "id", cli_id(), "logged_out", 1));
    else
        printf("logged out %s\n", cli_id());
    return EXIT_OK_;
}
