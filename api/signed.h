/*
 * api/signed.h — what every operation on a statement its caller signed shares: a grant and its
 * revocation, an access request, an override's request, approval and close, an entry write and a
 * section's key rotation. The request body owns the envelope's strings; the statement is verified
 * against the authenticated caller's key at the operation's own time; the caller and the client's
 * address go into the journal event the operation's apply writes on the committer's thread.
 *
 * An op embeds `struct signed_op` as its member `s`; its handler parses the body, authenticates
 * into s.c, checks the caller's role, and calls signed_op_verify(); its free function calls
 * signed_op_release() and frees the op (signed_op_free() when the op holds nothing else). The
 * handler owns the op until it hands it to api_commit_*; from then on the commit does.
 */
#ifndef KLUIS_API_SIGNED_H
#define KLUIS_API_SIGNED_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "api/auth.h"
#include "vault/statement.h"
#include "vault/vault.h"

struct signed_op {
    vault *v;
    json_t *body;                      /* the request body: owns statement and signature */
    const char *statement, *signature; /* the envelope, borrowed from BODY */
    struct kstmt st;                   /* the verified statement (signed_op_verify()) */
    struct caller c;                   /* the authenticated caller */
    char remote[48];                   /* the client's address (r->remote), for the journal event */
    int64_t now;                       /* the operation's time: verification, records, event */
};

/** @brief Start S for request R on vault V: the operation's time and the client's address. */
void signed_op_init(struct signed_op *s, const struct request *r, vault *v);

/**
 * @brief Verify S's envelope as a statement of TYPE signed by the authenticated caller S->c, at
 *        S->now (kstmt_verify(): signature, signer, issued window, fields), into S->st.
 * @return 0; -1 when it fails, with R answered (the statement's error code and what is wrong).
 */
int signed_op_verify(struct signed_op *s, struct request *r, const char *type) __attribute__((warn_unused_result));

/**
 * @brief The `sections` of the verified statement ST as an array of N strings borrowed from ST
 *        (free() the array only), NULL-terminated.
 * @return the array, or NULL when out of memory.
 */
const char **signed_sections(const struct kstmt *st, size_t *n);

/** @brief Release what S holds (statement, body), not S itself. Zeroed structs are fine. */
void signed_op_release(struct signed_op *s);

/**
 * @brief The free function (api_commit_*'s) of an op whose first member is its signed_op and
 *        that holds nothing else: signed_op_release(), then free(ARG). NULL is fine.
 */
void signed_op_free(void *arg);

#endif
