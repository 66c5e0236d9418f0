/*
 * api/signed.c — the shared part of operations on caller-signed statements (see signed.h).
 */
#include "api/signed.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void signed_op_init(struct signed_op *s, const struct request *r, vault *v)
{
    s->v = v;
    s->now = (int64_t)time(NULL);
    snprintf(s->remote, sizeof s->remote, "%s", r->remote);
}

int signed_op_verify(struct signed_op *s, struct request *r, const char *type)
{
    struct jerr err;
    if (kstmt_verify(&s->st, s->statement, s->signature, type, s->c.id, s->c.sign_pk, s->now, &err) != 0) {
        api_reply_jerr(r, &err);
        return -1;
    }
    return 0;
}

const char **signed_sections(const struct kstmt *st, size_t *n)
{
    size_t m = json_array_size(st->sections);
    const char **out = (const char **)calloc(m + 1, sizeof *out);
    *n = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < m; i++)
        out[(*n)++] = json_string_value(json_array_get(st->sections, i));
    return out;
}

void signed_op_release(struct signed_op *s)
{
    kstmt_free(&s->st);
    json_decref(s->body);
    s->body = NULL;
    s->statement = s->signature = NULL;
}

void signed_op_free(void *arg)
{
    struct signed_op *s = arg; /* the op's first member */
    if (!s)
        return;
    signed_op_release(s);
    free(arg);
}
