/*
 * tests/api/torture.h — what the fault tests (kill -9, full disk, full map, failing fsync, stale
 * readers, clock) share: statements a real client would sign (entries, grants, revocations),
 * and the checks an outsider makes after a fault — the citizen's journal chain recomputed from
 * `raw` to the served head, the transparency log recomputed from every leaf (GET /v1/log/entries as
 * an auditor) to the signed checkpoint's root, and consistency proofs from checkpoints saved
 * earlier. Everything goes through the real HTTP API of a kluisd started by tests/api/harness.h.
 */
#ifndef KLUIS_TESTS_TORTURE_H
#define KLUIS_TESTS_TORTURE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/api/client.h"

#define TT_ORIGIN "test.voorbeeldstad.nl/kluis"

/** @brief OBJ signed by SK as {statement, signature}; OBJ is consumed. NULL on failure. */
json_t *tt_sign(json_t *obj, const unsigned char *sk);

/** @brief A JSON string holding b64url(P, N). */
json_t *tt_b64(const unsigned char *p, size_t n);

/** @brief The index of SECTION among CZ's sections, -1 if absent. */
int tt_section(const struct kc_citizen *cz, const char *section);

/**
 * @brief An entry body {statement, signature, blob} for CZ's SECTION at its current epoch, id ID,
 *        signed by SIGNER with SK, issued ISSUED; the plaintext carries PAD extra bytes (≤ 1 MiB).
 */
json_t *tt_entry(const struct kc_citizen *cz, const char *id, const char *section, const char *signer,
                 const unsigned char *sk, int64_t issued, size_t pad);

/** @brief A grant of CZ to GRANTEE (box key BOX_PK) on one SECTION, with its wrap. */
json_t *tt_grant(const struct kc_citizen *cz, const char *gid, const char *grantee, const unsigned char *box_pk,
                 const char *section, const char *access, const char *purpose, int64_t not_before, int64_t expires,
                 int64_t issued);

/** @brief A revocation of CZ's grant GID with statement id RID. */
json_t *tt_revoke(const struct kc_citizen *cz, const char *rid, const char *gid, int64_t issued);

/** @brief POST the entry BODY (stolen; NULL counts as a failed client: -1); the status, *SEQ set on 201. */
int tt_post_entry(unsigned int port, const char *token, const char *citizen, const char *section, json_t *body,
                  int64_t *seq, char err[64]);

/** An acknowledged entry write: its statement id, section and the seq it was answered with. */
struct tt_ack {
    char id[48];
    char section[24];
    int64_t seq;
};

/**
 * @brief Read every entry of CZ's SECTION (pages of 1000, as CZ) and count the acknowledged writes
 *        of that section among ACKS[0..N) that are missing (absent, or another id at their seq).
 * @param[out] found  the acknowledged writes of SECTION that are there.
 * @return the number missing, or -1 when a page was refused.
 */
long tt_entries_missing(unsigned int port, const struct kc_citizen *cz, const char *section, const struct tt_ack *acks,
                        size_t n, size_t *found);

/**
 * @brief Recompute CZ's journal chain from `raw` over every page, as the citizen's client does.
 * @return 1 when it reaches the served head and the count, 0 otherwise (-1 when a page was refused).
 */
int tt_journal_verifies(unsigned int port, const struct kc_citizen *cz, size_t *n_events);

/** A verified checkpoint. */
struct tt_cp {
    uint64_t size;
    unsigned char root[32];
};

/** @brief GET /v1/log/checkpoint, verified with LOG_PK for TT_ORIGIN. @return 0 or -1. */
int tt_checkpoint(unsigned int port, const unsigned char log_pk[32], struct tt_cp *out);

/**
 * @brief Fetch every leaf of CP's tree as the auditor (TOKEN) and recompute the root; EACH (may be
 *        NULL) sees every leaf's exact bytes (NUL-terminated) in order.
 * @return 1 when it equals CP->root, 0 otherwise.
 */
int tt_log_verifies(unsigned int port, const char *auditor_token, const struct tt_cp *cp,
                    void (*each)(const char *leaf, size_t len, void *arg), void *arg);

/**
 * @brief GET /v1/log/proof/consistency from OLD to NOW and verify it against both roots.
 * @return 1 when NOW's tree extends OLD's (equal sizes: equal roots), 0 otherwise.
 */
int tt_consistent(unsigned int port, const struct tt_cp *old, const struct tt_cp *now);

#endif
