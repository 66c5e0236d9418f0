/*
 * api/router.c — kluisd's route table and the dispatcher that reads it.
 *
 * The table is static data, in the manner of GNU Taler's exchange: {method, pattern, handler}, one
 * row per endpoint of SPEC §6. A pattern is a sequence of literal segments and "{}" captures.
 * Matching works on the raw path (libmicrohttpd is told not to percent-decode it): a literal must
 * be equal byte for byte, a capture must be a SPEC §2 identifier. So "%2F", ".." or an empty
 * segment never reach a handler, and a path that no pattern matches is 404 whatever the method. A
 * path some pattern matches with another method is 405 with an Allow header; HEAD is served by the
 * GET route (libmicrohttpd sends the headers only).
 *
 * The table is scanned linearly, byte by byte against the raw path: some forty rows cost about a
 * thousand instructions (most rows differ in their first bytes), and keep the router obviously
 * correct.
 */
#include "api/api.h"
#include "api/handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest request path routed; a longer one is 404 without looking further (libmicrohttpd's
 * 16 KiB connection memory bounds it anyway). */
#define API_PATH_MAX 1024

const struct route api_routes[] = {
    { "GET", "/v1/health", handle_health },
    { "GET", "/v1/vault", handle_vault_info },
    { "GET", "/v1/charter", handle_charter_get },
    { "GET", "/v1/log/checkpoint", handle_log_checkpoint },
    { "GET", "/v1/log/proof/inclusion", handle_log_inclusion },
    { "GET", "/v1/log/proof/consistency", handle_log_consistency },
    { "GET", "/v1/log/entries", handle_log_entries },
    { "POST", "/v1/charter", handle_charter_adopt },
    { "POST", "/v1/auth/challenge", handle_auth_challenge },
    { "POST", "/v1/auth/session", handle_auth_session_create },
    { "DELETE", "/v1/auth/session", handle_auth_session_delete },
    { "POST", "/v1/auth/prelogin", handle_auth_prelogin },
    { "POST", "/v1/auth/bundle", handle_auth_bundle },
    { "GET", "/v1/principals", handle_principals_list },
    { "POST", "/v1/principals", handle_principals_create },
    { "POST", "/v1/principals/{}/deactivate", handle_principal_deactivate },
    { "POST", "/v1/citizens", handle_citizens_create },
    { "POST", "/v1/citizens/{}/enroll", handle_citizen_enroll },
    { "POST", "/v1/citizens/{}/passphrase", handle_citizen_passphrase },
    { "POST", "/v1/citizens/{}/grants", handle_grant_create },
    { "GET", "/v1/citizens/{}/grants", handle_grant_list_citizen },
    { "POST", "/v1/citizens/{}/grants/{}/revoke", handle_grant_revoke },
    { "GET", "/v1/grants", handle_grant_list_mine },
    { "POST", "/v1/requests", handle_request_create },
    { "GET", "/v1/citizens/{}/requests", handle_request_list },
    { "POST", "/v1/citizens/{}/requests/{}/decline", handle_request_decline },
    { "GET", "/v1/citizens/{}/dossier", handle_dossier_get },
    { "GET", "/v1/citizens/{}/sections/{}/entries", handle_entries_list },
    { "POST", "/v1/citizens/{}/sections/{}/entries", handle_entry_create },
    { "POST", "/v1/citizens/{}/sections/{}/rotate", handle_section_rotate },
    { "DELETE", "/v1/citizens/{}/sections/{}", handle_section_erase },
    { "GET", "/v1/citizens/{}/journal", handle_journal_get },
    { "GET", "/v1/citizens/{}/export", handle_export },
    { "GET", "/v1/citizens/{}/overrides", handle_override_list_citizen },
    { "POST", "/v1/overrides", handle_override_create },
    { "GET", "/v1/overrides", handle_override_list },
    { "POST", "/v1/overrides/{}/approve", handle_override_approve },
    { "GET", "/v1/overrides/{}/escrow", handle_override_escrow },
    { "POST", "/v1/overrides/{}/wraps", handle_override_wraps },
    { "POST", "/v1/overrides/{}/close", handle_override_close },
};
const size_t api_routes_count = sizeof api_routes / sizeof api_routes[0];

/*
 * Does PATTERN match PATH, byte by byte? A "{}" takes one whole segment (up to the next '/' or the
 * end); its offset and length go to OFF/LEN. The identifier check of the captures is left to the
 * caller, for the route that matched: most of the table is a miss, and a miss usually shows in
 * the first bytes, so trying a request against every row costs little.
 */
static int match(const char *pattern, const char *path, size_t off[API_MAX_PARAMS],
                 size_t len[API_MAX_PARAMS], size_t *np)
{
    const char *p = pattern, *s = path;
    size_t n = 0;
    while (*p) {
        if (p[0] == '{' && p[1] == '}') {
            if (n == API_MAX_PARAMS)
                return 0;
            const char *start = s;
            while (*s && *s != '/')
                s++;
            off[n] = (size_t)(start - path);
            len[n++] = (size_t)(s - start);
            p += 2;
        } else if (*p == *s) {
            p++;
            s++;
        } else {
            return 0;
        }
    }
    if (*s)
        return 0;
    *np = n;
    return 1;
}

static size_t captures(const char *pattern)
{
    size_t n = 0;
    for (const char *p = pattern; (p = strstr(p, "{}")) != NULL; p += 2)
        n++;
    return n;
}

int api_routes_check(const struct route *routes, size_t n, char *err, size_t errlen)
{
    if (!routes && n) {
        snprintf(err, errlen, "route table missing");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const struct route *rt = &routes[i];
        if (!rt->method || !rt->method[0] || !rt->handler || !rt->pattern ||
            rt->pattern[0] != '/') {
            snprintf(err, errlen, "route %zu is incomplete", i);
            return -1;
        }
        for (const char *c = rt->pattern; (c = strstr(c, "{}")) != NULL; c += 2)
            if (c[-1] != '/' || (c[2] != '/' && c[2] != '\0')) {
                snprintf(err, errlen, "route %s %s: a capture must be a whole segment", rt->method,
                         rt->pattern);
                return -1;
            }
        if (captures(rt->pattern) > API_MAX_PARAMS) {
            snprintf(err, errlen, "route %s %s has more than %d captures", rt->method,
                     rt->pattern, API_MAX_PARAMS);
            return -1;
        }
        if (strcmp(rt->method, "HEAD") == 0) {
            snprintf(err, errlen, "route %s: HEAD is served by GET routes", rt->pattern);
            return -1;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(routes[j].method, rt->method) == 0 &&
                strcmp(routes[j].pattern, rt->pattern) == 0) {
                snprintf(err, errlen, "route %s %s listed twice", rt->method, rt->pattern);
                return -1;
            }
        }
    }
    return 0;
}

/* Append METHOD to the comma-separated ALLOW unless present. */
static void allow_add(char *allow, size_t cap, const char *method)
{
    size_t mlen = strlen(method);
    for (const char *p = allow; *p;) {
        const char *end = strstr(p, ", ");
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == mlen && memcmp(p, method, len) == 0)
            return;
        if (!end)
            break;
        p = end + 2;
    }
    size_t used = strlen(allow);
    snprintf(allow + used, cap - used, "%s%s", used ? ", " : "", method);
}

int api_route(struct request *r, const struct route *routes, size_t n)
{
    const char *method = r->is_head ? "GET" : r->method;
    const char *path = r->path ? r->path : "";
    char allow[128] = "";
    size_t off[API_MAX_PARAMS], len[API_MAX_PARAMS], np;

    if (path[0] != '/' || strlen(path) > API_PATH_MAX) {
        api_reply_error(r, KERR_NOT_FOUND, NULL);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!match(routes[i].pattern, path, off, len, &np))
            continue;
        /* the captures must be identifiers, or the path names nothing (no route matches it) */
        free(r->pathbuf_);
        if (!(r->pathbuf_ = strdup(path))) {
            api_reply_error(r, KERR_INTERNAL, NULL);
            return -1;
        }
        int ids = 1;
        for (size_t k = 0; k < np && ids; k++) {
            r->pathbuf_[off[k] + len[k]] = '\0';
            ids = jspec_is_id(r->pathbuf_ + off[k]);
        }
        if (!ids)
            continue;
        if (strcmp(routes[i].method, method) == 0) {
            r->route_ = &routes[i];
            memset(r->param, 0, sizeof r->param);
            for (size_t k = 0; k < np; k++)
                r->param[k] = r->pathbuf_ + off[k];
            r->nparam = np;
            return 0;
        }
        allow_add(allow, sizeof allow, routes[i].method);
        if (strcmp(routes[i].method, "GET") == 0)
            allow_add(allow, sizeof allow, "HEAD");
    }
    if (!allow[0]) {
        api_reply_error(r, KERR_NOT_FOUND, NULL);
        return -1;
    }
    api_reply_error(r, KERR_METHOD_NOT_ALLOWED, NULL);
    api_reply_header(r, "Allow", allow);
    return -1;
}
