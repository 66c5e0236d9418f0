/*
 * api/commit.c — deferred answers released by the group committer (see commit.h). The completion
 * runs on the committer's thread: it only builds the stored reply and resumes the connection.
 */
#include "api/commit.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

struct pending {
    struct request *r;
    gc_apply_fn apply;
    void *arg;
    void (*free_arg)(void *);
    enum api_ok ok;
    json_t *reply;        /* answer on success (NULL with is_error) */
    int is_error;
    kerr code;            /* the error answer on success when is_error */
    char message[256];
    kerr on_fail;
    json_t *(*build)(void *arg, kerr *code); /* api_commit_build(): the answer, made after the commit */
    struct api_prepared *prepared; /* api_commit_prepared(): the answer, made before the commit */
};

static kerr apply(store_txn *t, void *arg)
{
    struct pending *p = arg;
    return p->apply(t, p->arg);
}

static void finish(struct pending *p, kerr result)
{
    if (result != KERR_OK) {
        json_decref(p->reply);
        api_prepared_free(p->prepared);
        if (p->build && kerr_status(result) >= 400 && kerr_status(result) < 500)
            api_reply_error(p->r, result, NULL);
        else
            api_reply_error(p->r, p->on_fail != KERR_OK ? p->on_fail : result, NULL);
    } else if (p->build) {
        kerr code = KERR_INTERNAL;
        json_t *ans = p->build(p->arg, &code);
        if (ans)
            api_reply_json(p->r, p->ok, ans);
        else
            api_reply_error(p->r, code, NULL);
    } else if (p->prepared) {
        api_reply_prepared(p->r, p->prepared);
    } else if (p->is_error) {
        api_reply_error(p->r, p->code, p->message[0] ? p->message : NULL);
    } else {
        api_reply_json(p->r, p->ok, p->reply);
    }
    if (p->free_arg)
        p->free_arg(p->arg);
    struct request *r = p->r;
    free(p);
    api_resume(r);
}

static void done(kerr result, void *arg)
{
    finish(arg, result);
}

static void submit(struct request *r, vault *v, struct pending *p)
{
    api_defer(r);
    /* the hot read's event meets gc_submit_async_flat()'s contract: no nested transaction */
    kerr e = p->prepared ? gc_submit_async_flat(v->gc, apply, done, p) : gc_submit_async(v->gc, apply, done, p);
    if (e != KERR_OK)
        finish(p, e); /* not queued: released at once, with the refusal */
}

static struct pending *pending_new(struct request *r, gc_apply_fn fn, void *arg, void (*free_arg)(void *),
                                   kerr on_fail)
{
    struct pending *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->r = r;
    p->apply = fn;
    p->arg = arg;
    p->free_arg = free_arg;
    p->on_fail = on_fail;
    return p;
}

void api_commit_reply(struct request *r, vault *v, gc_apply_fn fn, void *arg, void (*free_arg)(void *),
                      enum api_ok ok, json_t *reply, kerr on_fail)
{
    struct pending *p = pending_new(r, fn, arg, free_arg, on_fail);
    if (!p) {
        json_decref(reply);
        if (free_arg)
            free_arg(arg);
        api_reply_error(r, KERR_INTERNAL, NULL);
        return;
    }
    p->ok = ok;
    p->reply = reply;
    submit(r, v, p);
}

void api_commit_error(struct request *r, vault *v, gc_apply_fn fn, void *arg, void (*free_arg)(void *),
                      kerr code, const char *message, kerr on_fail)
{
    struct pending *p = pending_new(r, fn, arg, free_arg, on_fail);
    if (!p) {
        if (free_arg)
            free_arg(arg);
        api_reply_error(r, KERR_INTERNAL, NULL);
        return;
    }
    p->is_error = 1;
    p->code = code;
    if (message)
        snprintf(p->message, sizeof p->message, "%s", message);
    submit(r, v, p);
}

void api_commit_build(struct request *r, vault *v, gc_apply_fn fn, void *arg, void (*free_arg)(void *),
                      enum api_ok ok, json_t *(*build)(void *arg, kerr *code), kerr on_fail)
{
    struct pending *p = pending_new(r, fn, arg, free_arg, on_fail);
    if (!p) {
        if (free_arg)
            free_arg(arg);
        api_reply_error(r, KERR_INTERNAL, NULL);
        return;
    }
    p->ok = ok;
    p->build = build;
    submit(r, v, p);
}

void api_commit_prepared(struct request *r, vault *v, gc_apply_fn fn, void *arg, void (*free_arg)(void *),
                         struct api_prepared *reply, kerr on_fail)
{
    struct pending *p = reply ? pending_new(r, fn, arg, free_arg, on_fail) : NULL;
    if (!p) {
        api_prepared_free(reply);
        if (free_arg)
            free_arg(arg);
        api_reply_error(r, KERR_INTERNAL, NULL);
        return;
    }
    p->prepared = reply;
    submit(r, v, p);
}
