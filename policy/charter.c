/*
 * policy/charter.c — owns the charter: its schema, its rules, and the immutable in-memory form.
 *
 * Every level of the document is read with one jspec table, so an unknown field is refused where
 * it stands and the error names it by its full path ("purposes[2].max_days"): jspec names the
 * field inside the object, and this file prefixes where that object sits. The checks jspec cannot
 * make — identifiers unique within their list, a purpose's sections existing, roles being the
 * ones SPEC §1 allows, text without control characters — follow in document order, so the first
 * fault in reading order is the one reported.
 *
 * The loaded charter copies what it keeps (strings, arrays, the exact bytes) into allocations it
 * owns, chained on one list that charter_free() walks; nothing points back into Jansson, so the
 * parsed tree is dropped before charter_load() returns. Pure: no I/O, no clock, no globals.
 */
#include "policy/charter.h"

#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const role_names[] = {
    [KROLE_NONE] = "none",       [KROLE_CITIZEN] = "citizen", [KROLE_PROFESSIONAL] = "professional",
    [KROLE_MAYOR] = "mayor",     [KROLE_OFFICER] = "officer", [KROLE_AUDITOR] = "auditor",
    [KROLE_ADMIN] = "admin",
};
#define N_ROLES (sizeof role_names / sizeof role_names[0])

enum krole krole_parse(const char *name)
{
    if (!name)
        return KROLE_NONE;
    for (size_t r = 1; r < N_ROLES; r++)
        if (strcmp(role_names[r], name) == 0)
            return (enum krole)r;
    return KROLE_NONE;
}

const char *krole_name(enum krole r)
{
    return (unsigned)r < N_ROLES ? role_names[r] : "none";
}

/* ---- owned memory: a chain of blocks freed together ------------------------------------- */

struct blk {
    struct blk *next;
    max_align_t data[];
};

struct build {
    struct charter *c;
    struct blk *mem;
    struct jerr *err;
};

static void *own(struct build *b, size_t n)
{
    struct blk *k = calloc(1, sizeof *k + (n ? n : 1));
    if (!k)
        return NULL;
    k->next = b->mem;
    b->mem = k;
    return k->data;
}

static const char *own_str(struct build *b, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *d = own(b, n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

void charter_free(struct charter *c)
{
    if (!c)
        return;
    struct blk *k = c->mem_;
    while (k) {
        struct blk *next = k->next;
        free(k);
        k = next;
    }
    free(c);
}

/* ---- errors with paths ------------------------------------------------------------------- */

/* After jspec_extract() failed inside the object at PREFIX, make err->field the full path
 * (truncated to fit; paths of this schema are far shorter than the 63 bytes available). */
static int at(struct build *b, const char *prefix)
{
    struct jerr *e = b->err;
    if (!e || !prefix || !*prefix)
        return -1;
    char path[2 * sizeof e->field + 2];
    size_t n = strlen(prefix), m = strnlen(e->field, sizeof e->field);
    memcpy(path, prefix, n < sizeof e->field ? n : sizeof e->field - 1);
    n = n < sizeof e->field ? n : sizeof e->field - 1;
    if (m) {
        path[n++] = '.';
        memcpy(path + n, e->field, m);
        n += m;
    }
    if (n >= sizeof e->field)
        n = sizeof e->field - 1;
    memcpy(e->field, path, n);
    e->field[n] = '\0';
    return -1;
}

#define FAIL(b, path, ...) jerr_set((b)->err, KERR_BAD_REQUEST, (path), __VA_ARGS__)
#define OOM(b) jerr_set((b)->err, KERR_INTERNAL, NULL, "out of memory")

/* Text: no control characters and not only spaces (length and UTF-8 are jspec's and Jansson's). */
static int text_ok(const char *s)
{
    int seen = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return 0;
        if (*p != ' ')
            seen = 1;
    }
    return seen;
}

static int check_text(struct build *b, const char *path, const char *s)
{
    if (s && !text_ok(s))
        return FAIL(b, path, "'%s' must be text without control characters and not blank", path);
    return 0;
}

/* ---- the levels of the document ---------------------------------------------------------- */

/* Read {id, title, title_en?} (sections, grounds) or a purpose's same three into OUT. */
struct titled {
    const char *id, *title, *title_en;
};

static int titled_text(struct build *b, const char *path, const struct titled *t)
{
    char p[64];
    snprintf(p, sizeof p, "%s.title", path);
    if (check_text(b, p, t->title))
        return -1;
    snprintf(p, sizeof p, "%s.title_en", path);
    return check_text(b, p, t->title_en);
}

/* ID at PATH must not appear among the first N items at BASE (STRIDE bytes apart); every item type
 * passed here (sections, purposes, grounds) has `const char *id` as its first member. */
static int unique(struct build *b, const char *path, const char *id, const void *base, size_t n,
                  size_t stride)
{
    for (size_t j = 0; j < n; j++) {
        const char *other = *(const char *const *)((const char *)base + j * stride);
        if (strcmp(other, id) == 0)
            return FAIL(b, path, "'%s' is used twice", id);
    }
    return 0;
}

static int load_sections(struct build *b, json_t *arr)
{
    size_t n = json_array_size(arr), i;
    json_t *v;
    struct charter_section *out = own(b, n * sizeof *out);
    if (!out)
        return OOM(b);
    json_array_foreach(arr, i, v) {
        char path[64];
        struct titled t = {0};
        const struct jspec spec[] = {
            {.name = "id", .type = JS_ID, .out = &t.id},
            {.name = "title", .type = JS_STRING, .out = &t.title, .len = CHARTER_MAX_ITEM_TITLE},
            {.name = "title_en", .type = JS_STRING, .out = &t.title_en, .optional = 1,
             .len = CHARTER_MAX_ITEM_TITLE},
        };
        snprintf(path, sizeof path, "sections[%zu]", i);
        if (jspec_extract(v, spec, sizeof spec / sizeof spec[0], b->err))
            return at(b, path);
        if (titled_text(b, path, &t))
            return -1;
        snprintf(path, sizeof path, "sections[%zu].id", i);
        if (unique(b, path, t.id, out, i, sizeof *out))
            return -1;
        out[i].id = own_str(b, t.id);
        out[i].title = own_str(b, t.title);
        out[i].title_en = own_str(b, t.title_en);
        if (!out[i].id || !out[i].title || (t.title_en && !out[i].title_en))
            return OOM(b);
    }
    b->c->sections = out;
    b->c->n_sections = n;
    return 0;
}

static int load_purposes(struct build *b, json_t *arr)
{
    size_t n = json_array_size(arr), i;
    json_t *v;
    struct charter_purpose *out = own(b, n * sizeof *out);
    if (!out)
        return OOM(b);
    json_array_foreach(arr, i, v) {
        char path[64];
        struct titled t = {0};
        json_t *secs = NULL;
        int64_t max_days = 0;
        int write = 0;
        const struct jspec spec[] = {
            {.name = "id", .type = JS_ID, .out = &t.id},
            {.name = "title", .type = JS_STRING, .out = &t.title, .len = CHARTER_MAX_ITEM_TITLE},
            {.name = "title_en", .type = JS_STRING, .out = &t.title_en, .optional = 1,
             .len = CHARTER_MAX_ITEM_TITLE},
            {.name = "sections", .type = JS_ID_ARRAY, .out = &secs, .max = CHARTER_MAX_SECTIONS},
            {.name = "max_days", .type = JS_INT, .out = &max_days, .min = 1, .max = CHARTER_MAX_DAYS},
            {.name = "write", .type = JS_BOOL, .out = &write, .optional = 1},
        };
        snprintf(path, sizeof path, "purposes[%zu]", i);
        if (jspec_extract(v, spec, sizeof spec / sizeof spec[0], b->err))
            return at(b, path);
        if (titled_text(b, path, &t))
            return -1;
        snprintf(path, sizeof path, "purposes[%zu].id", i);
        if (unique(b, path, t.id, out, i, sizeof *out))
            return -1;
        size_t ns = json_array_size(secs), k;
        json_t *s;
        const char **ids = own(b, ns * sizeof *ids);
        if (!ids)
            return OOM(b);
        json_array_foreach(secs, k, s) {
            const char *sid = json_string_value(s);
            if (!charter_section(b->c, sid)) {
                snprintf(path, sizeof path, "purposes[%zu].sections[%zu]", i, k);
                return FAIL(b, path, "purpose '%s' names section '%s', which the charter does not have",
                            t.id, sid);
            }
            if (!(ids[k] = own_str(b, sid)))
                return OOM(b);
        }
        out[i].id = own_str(b, t.id);
        out[i].title = own_str(b, t.title);
        out[i].title_en = own_str(b, t.title_en);
        if (!out[i].id || !out[i].title || (t.title_en && !out[i].title_en))
            return OOM(b);
        out[i].sections = ids;
        out[i].n_sections = ns;
        out[i].max_days = max_days;
        out[i].write = write;
    }
    b->c->purposes = out;
    b->c->n_purposes = n;
    return 0;
}

static int load_principles(struct build *b, json_t *arr)
{
    size_t n = json_array_size(arr), i;
    json_t *v;
    if (n == 0)
        return FAIL(b, "principles", "'principles' must name at least one principle");
    const char **out = own(b, n * sizeof *out);
    if (!out)
        return OOM(b);
    json_array_foreach(arr, i, v) {
        char path[64];
        snprintf(path, sizeof path, "principles[%zu]", i);
        if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
            json_string_length(v) > CHARTER_MAX_PRINCIPLE || !text_ok(json_string_value(v)))
            return FAIL(b, path, "'%s' must be text of 1 to %d bytes without control characters",
                        path, CHARTER_MAX_PRINCIPLE);
        if (!(out[i] = own_str(b, json_string_value(v))))
            return OOM(b);
    }
    b->c->principles = out;
    b->c->n_principles = n;
    return 0;
}

static int load_grant_roles(struct build *b, json_t *arr)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        char path[64];
        enum krole r = krole_parse(json_string_value(v));
        snprintf(path, sizeof path, "grant_roles[%zu]", i);
        if (r != KROLE_PROFESSIONAL)
            return FAIL(b, path,
                        "'%s' may not receive grants: SPEC §1 gives dossier access under a grant to "
                        "professionals only", json_string_value(v));
        b->c->grant_roles |= 1u << r;
    }
    return 0;
}

static int load_grounds(struct build *b, json_t *arr)
{
    size_t n = json_array_size(arr), i;
    json_t *v;
    if (n == 0)
        return FAIL(b, "override.grounds", "'override.grounds' must name at least one ground");
    struct charter_ground *out = own(b, n * sizeof *out);
    if (!out)
        return OOM(b);
    json_array_foreach(arr, i, v) {
        char path[64];
        struct titled t = {0};
        const struct jspec spec[] = {
            {.name = "id", .type = JS_ID, .out = &t.id},
            {.name = "title", .type = JS_STRING, .out = &t.title, .len = CHARTER_MAX_ITEM_TITLE},
            {.name = "title_en", .type = JS_STRING, .out = &t.title_en, .optional = 1,
             .len = CHARTER_MAX_ITEM_TITLE},
        };
        snprintf(path, sizeof path, "override.grounds[%zu]", i);
        if (jspec_extract(v, spec, sizeof spec / sizeof spec[0], b->err))
            return at(b, path);
        if (titled_text(b, path, &t))
            return -1;
        snprintf(path, sizeof path, "override.grounds[%zu].id", i);
        if (unique(b, path, t.id, out, i, sizeof *out))
            return -1;
        out[i].id = own_str(b, t.id);
        out[i].title = own_str(b, t.title);
        out[i].title_en = own_str(b, t.title_en);
        if (!out[i].id || !out[i].title || (t.title_en && !out[i].title_en))
            return OOM(b);
    }
    b->c->override.grounds = out;
    b->c->override.n_grounds = n;
    return 0;
}

static int load_override(struct build *b, json_t *obj)
{
    struct charter *c = b->c;
    const char *auth = NULL, *appr = NULL;
    json_t *grounds = NULL;
    const struct jspec spec[] = {
        {.name = "authority_role", .type = JS_ID, .out = &auth},
        {.name = "approver_role", .type = JS_ID, .out = &appr},
        {.name = "approvals_required", .type = JS_INT, .out = &c->override.approvals_required,
         .min = 0, .max = CHARTER_MAX_APPROVALS},
        {.name = "max_hours", .type = JS_INT, .out = &c->override.max_hours, .min = 1,
         .max = CHARTER_MAX_OVERRIDE_HOURS},
        {.name = "min_justification_chars", .type = JS_INT, .out = &c->override.min_justification_chars,
         .min = 1, .max = CHARTER_MAX_JUSTIFICATION},
        {.name = "grounds", .type = JS_ARRAY, .out = &grounds, .max = CHARTER_MAX_GROUNDS},
        {.name = "citizen_notice_hours", .type = JS_INT, .out = &c->override.citizen_notice_hours,
         .optional = 1, .min = 0, .max = CHARTER_MAX_NOTICE_HOURS},
    };
    c->override.citizen_notice_hours = 0;
    if (jspec_extract(obj, spec, sizeof spec / sizeof spec[0], b->err))
        return at(b, "override");
    c->override.authority_role = krole_parse(auth);
    c->override.approver_role = krole_parse(appr);
    if (c->override.authority_role != KROLE_MAYOR)
        return FAIL(b, "override.authority_role",
                    "'override.authority_role' must be \"mayor\" (SPEC §1), not '%s'", auth);
    if (c->override.approver_role != KROLE_OFFICER)
        return FAIL(b, "override.approver_role",
                    "'override.approver_role' must be \"officer\" (SPEC §1), not '%s'", appr);
    return load_grounds(b, grounds);
}

/* A one-object level {NAME: int} etc.: sessions, enrollment, login. */
static int load_small(struct build *b, json_t *obj, const char *path, const struct jspec *spec, size_t n)
{
    if (jspec_extract(obj, spec, n, b->err))
        return at(b, path);
    return 0;
}

static int load_all(struct build *b, const char *text, size_t len)
{
    struct charter *c = b->c;
    json_t *root = jspec_parse(text, len, b->err);
    if (!root)
        return -1;
    const char *id = NULL, *title = NULL;
    json_t *principles = NULL, *sections = NULL, *purposes = NULL, *roles = NULL, *ovr = NULL,
           *sessions = NULL, *enrollment = NULL, *login = NULL;
    const struct jspec top[] = {
        {.name = "charter", .type = JS_ID, .out = &id},
        {.name = "version", .type = JS_INT, .out = &c->version, .min = 1, .max = CHARTER_MAX_VERSION},
        {.name = "title", .type = JS_STRING, .out = &title, .len = CHARTER_MAX_TITLE},
        {.name = "principles", .type = JS_ARRAY, .out = &principles, .max = CHARTER_MAX_PRINCIPLES},
        {.name = "sections", .type = JS_ARRAY, .out = &sections, .max = CHARTER_MAX_SECTIONS},
        {.name = "purposes", .type = JS_ARRAY, .out = &purposes, .max = CHARTER_MAX_PURPOSES},
        {.name = "grant_roles", .type = JS_ID_ARRAY, .out = &roles, .max = N_ROLES},
        {.name = "override", .type = JS_OBJECT, .out = &ovr},
        {.name = "sessions", .type = JS_OBJECT, .out = &sessions},
        {.name = "enrollment", .type = JS_OBJECT, .out = &enrollment},
        {.name = "login", .type = JS_OBJECT, .out = &login},
    };
    const struct jspec sess[] = {
        {.name = "ttl_minutes", .type = JS_INT, .out = &c->session_ttl_minutes, .min = 1,
         .max = CHARTER_MAX_TTL_MINUTES},
    };
    const struct jspec enrl[] = {
        {.name = "code_ttl_days", .type = JS_INT, .out = &c->enrollment_code_ttl_days, .min = 1,
         .max = CHARTER_MAX_CODE_TTL_DAYS},
    };
    const struct jspec lgn[] = {
        {.name = "max_failures", .type = JS_INT, .out = &c->login_max_failures, .min = 1,
         .max = CHARTER_MAX_FAILURES},
        {.name = "lockout_minutes", .type = JS_INT, .out = &c->login_lockout_minutes, .min = 1,
         .max = CHARTER_MAX_LOCKOUT_MIN},
    };
    int rc = -1;
    if (jspec_extract(root, top, sizeof top / sizeof top[0], b->err))
        goto out;
    if (check_text(b, "title", title) || load_principles(b, principles))
        goto out;
    if (json_array_size(sections) == 0) {
        FAIL(b, "sections", "'sections' must name at least one section");
        goto out;
    }
    if (load_sections(b, sections))
        goto out;
    if (json_array_size(purposes) == 0) {
        FAIL(b, "purposes", "'purposes' must name at least one purpose");
        goto out;
    }
    if (load_purposes(b, purposes) || load_grant_roles(b, roles) || load_override(b, ovr) ||
        load_small(b, sessions, "sessions", sess, 1) || load_small(b, enrollment, "enrollment", enrl, 1) ||
        load_small(b, login, "login", lgn, 2))
        goto out;
    if (!(c->id = own_str(b, id)) || !(c->title = own_str(b, title))) {
        OOM(b);
        goto out;
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

struct charter *charter_load(const char *buf, size_t len, struct jerr *err)
{
    struct jerr scratch;
    if (!err)
        err = &scratch;
    if (len > CHARTER_MAX_BYTES) {
        jerr_set(err, KERR_TOO_LARGE, NULL, "a charter is at most %u bytes", CHARTER_MAX_BYTES);
        return NULL;
    }
    struct charter *c = calloc(1, sizeof *c);
    if (!c) {
        jerr_set(err, KERR_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    struct build b = {.c = c, .mem = NULL, .err = err};
    int rc = load_all(&b, buf, len);
    char *copy = rc == 0 ? own(&b, len + 1) : NULL;
    c->mem_ = b.mem;
    if (rc != 0 || !copy) {
        if (rc == 0)
            jerr_set(err, KERR_INTERNAL, NULL, "out of memory");
        charter_free(c);
        return NULL;
    }
    memcpy(copy, buf, len);
    copy[len] = '\0';
    c->bytes = copy;
    c->len = len;
    crypto_hash_sha256(c->hash, (const unsigned char *)copy, len);
    sodium_bin2hex(c->hash_hex, sizeof c->hash_hex, c->hash, sizeof c->hash);
    return c;
}

/* ---- replacement and lookups ------------------------------------------------------------- */

int charter_may_replace(const struct charter *cur, const struct charter *next, struct jerr *err)
{
    if (!cur || !next)
        return jerr_set(err, KERR_INTERNAL, NULL, "no charter");
    if (next->version <= cur->version)
        return jerr_set(err, KERR_CONFLICT, "version",
                        "the new charter's version %lld must be greater than %lld", (long long)next->version,
                        (long long)cur->version);
    for (size_t i = 0; i < cur->n_sections; i++)
        if (!charter_section(next, cur->sections[i].id))
            return jerr_set(err, KERR_CONFLICT, "sections",
                            "the new charter drops section '%s', which dossiers hold", cur->sections[i].id);
    return 0;
}

const struct charter_section *charter_section(const struct charter *c, const char *id)
{
    if (!c || !id)
        return NULL;
    for (size_t i = 0; i < c->n_sections; i++)
        if (c->sections[i].id && strcmp(c->sections[i].id, id) == 0)
            return &c->sections[i];
    return NULL;
}

const struct charter_purpose *charter_purpose(const struct charter *c, const char *id)
{
    if (!c || !id)
        return NULL;
    for (size_t i = 0; i < c->n_purposes; i++)
        if (c->purposes[i].id && strcmp(c->purposes[i].id, id) == 0)
            return &c->purposes[i];
    return NULL;
}

const struct charter_ground *charter_ground(const struct charter *c, const char *id)
{
    if (!c || !id)
        return NULL;
    for (size_t i = 0; i < c->override.n_grounds; i++)
        if (strcmp(c->override.grounds[i].id, id) == 0)
            return &c->override.grounds[i];
    return NULL;
}

int charter_purpose_has_section(const struct charter_purpose *p, const char *section)
{
    if (!p || !section)
        return 0;
    for (size_t i = 0; i < p->n_sections; i++)
        if (strcmp(p->sections[i], section) == 0)
            return 1;
    return 0;
}

int charter_role_may_receive_grants(const struct charter *c, enum krole r)
{
    return c && r > KROLE_NONE && (unsigned)r < N_ROLES && (c->grant_roles & (1u << r)) != 0;
}
