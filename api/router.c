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
 * The table is scanned linearly: some forty rows, each compared segment by segment, cost less
 * than one TLS record and keep the router obviously correct.
 */
#include "api/api.h"
#include "api/handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Most segments a request path may have before it is 404 without looking further. */
#define MAX_SEGMENTS 16

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

/* Split a copy of PATH (leading '/' removed) at '/' into SEG; -1 when not a path or too long. */
static int split(char *path, char *seg[MAX_SEGMENTS], size_t *nseg)
{
    size_t n = 0;
    if (path[0] != '/')
        return -1;
    char *p = path + 1;
    for (;;) {
        if (n == MAX_SEGMENTS)
            return -1;
        seg[n++] = p;
        char *slash = strchr(p, '/');
        if (!slash)
            break;
        *slash = '\0';
        p = slash + 1;
    }
    *nseg = n;
    return 0;
}

/* Does PATTERN match the segments? Fills PARAM (if non-NULL) with the captures. Literal segments
 * are compared first and the captures checked as identifiers only when every literal matched: a
 * request is tried against most of the table, and this keeps the misses cheap. */
static int match(const char *pattern, char *const seg[], size_t nseg, const char **param,
                 size_t *nparam)
{
    const char *p = pattern + 1;
    size_t i = 0, cap[API_MAX_PARAMS], np = 0;
    for (;; i++) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (i >= nseg)
            return 0;
        if (len == 2 && p[0] == '{' && p[1] == '}') {
            if (np >= API_MAX_PARAMS)
                return 0;
            cap[np++] = i;
        } else if (strncmp(seg[i], p, len) != 0 || seg[i][len] != '\0') {
            return 0;
        }
        if (!end)
            break;
        p = end + 1;
    }
    if (i + 1 != nseg)
        return 0;
    for (size_t k = 0; k < np; k++) {
        if (!jspec_is_id(seg[cap[k]]))
            return 0;
        if (param)
            param[k] = seg[cap[k]];
    }
    if (nparam)
        *nparam = np;
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
    char *seg[MAX_SEGMENTS];
    size_t nseg = 0;
    const char *method = r->is_head ? "GET" : r->method;

    free(r->pathbuf_);
    r->pathbuf_ = strdup(r->path ? r->path : "");
    if (!r->pathbuf_) {
        api_reply_error(r, KERR_INTERNAL, NULL);
        return -1;
    }
    if (split(r->pathbuf_, seg, &nseg) != 0) {
        api_reply_error(r, KERR_NOT_FOUND, NULL);
        return -1;
    }
    char allow[128] = "";
    for (size_t i = 0; i < n; i++) {
        const char *param[API_MAX_PARAMS] = { 0 };
        size_t np = 0;
        if (!match(routes[i].pattern, seg, nseg, param, &np))
            continue;
        if (strcmp(routes[i].method, method) == 0) {
            r->route_ = &routes[i];
            memcpy(r->param, param, sizeof r->param);
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
