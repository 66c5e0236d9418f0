/*
 * api/auth.h — who is calling: the one authentication step every authenticated handler takes.
 *
 * Handlers follow SPEC's one-way flow: parse the body (api_parse_body), then
 *     struct caller c;
 *     if (api_authenticate(r, &c) != 0) return;           // 401 / 403 already answered
 *     if (api_require_role(r, &c, KROLE_ADMIN) != 0) return; // 403 forbidden answered
 * then decide (policy/), write (gc_submit), answer.
 *
 * api_authenticate() is on the hot read path: it decodes the bearer token, hashes it (BLAKE2b-256;
 * tokens are never stored), and in ONE read-only transaction reads the session record and the
 * caller's principal record (or, for a citizen, the citizen record; a principal record's decoding
 * is cached by its sealed bytes, vault/vault.c). No signature is verified, no memory allocated
 * beyond the store's value buffers. Thread-safe.
 */
#ifndef KLUIS_API_AUTH_H
#define KLUIS_API_AUTH_H

#include "api/api.h"
#include "policy/charter.h"
#include "vault/store.h"

/** The authenticated caller. Citizens have organisation "" and are always active. */
struct caller {
    char id[64];
    enum krole role;
    char organisation[201];
    int active;
    unsigned char sign_pk[32], box_pk[32];
};

/**
 * @brief Authenticate R's bearer token into C.
 * @param[out] c  filled on success; zeroed otherwise.
 * @return 0; or -1 having answered: 401 unauthenticated for a missing, malformed, unknown or
 *         expired token (also when its principal record has gone); 403 principal_inactive for a
 *         deactivated principal; 503 unavailable / 500 internal for storage trouble.
 */
int api_authenticate(struct request *r, struct caller *c) __attribute__((warn_unused_result));

/**
 * @brief api_authenticate() inside the caller's read-only transaction T, so that a handler can
 *        read everything of one request (session, principal, grants, data) from one snapshot and
 *        with one transaction (the hot read, api/entries.c). T is not ended; a store error met
 *        here stays in T (first error wins).
 * @return as api_authenticate().
 */
int api_authenticate_txn(struct request *r, store_txn *t, struct caller *c) __attribute__((warn_unused_result));

/**
 * @brief Require C's role to be ROLE.
 * @return 0; or -1 having answered 403 forbidden.
 */
int api_require_role(struct request *r, const struct caller *c, enum krole role) __attribute__((warn_unused_result));

#endif
