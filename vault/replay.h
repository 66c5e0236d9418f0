/*
 * vault/replay.h — statement ids are never reused (SPEC §4: a replay is 409 replay).
 *
 * Every accepted signed statement claims its (type, id) pair in VT_STATEMENT_IDS, keyed
 * u8(type) || id-hash(id), in the same group-commit transaction that stores what the statement
 * does: the claim and the effect are durable together or not at all. Ids are scoped per type
 * (an `entry` and a `grant` may share an id), as SPEC §4 says "unique per type".
 */
#ifndef KLUIS_REPLAY_H
#define KLUIS_REPLAY_H

#include <stdint.h>

#include "vault/errors.h"
#include "vault/statement.h"
#include "vault/store.h"

struct vault;

/**
 * @brief Claim statement id ID of TYPE in write txn T, recording NOW with it.
 * @param[in] id  a SPEC §2 identifier (kstmt_verify() has checked it).
 * @return KERR_OK when the id was free and is now claimed; KERR_REPLAY when it was claimed before
 *         (also recorded in T, so the surrounding apply aborts: return T->err); KERR_BAD_REQUEST
 *         for a type out of range or an id that is not an identifier (recorded in T); T's error.
 */
kerr vault_claim_statement_id(struct vault *v, store_txn *t, enum kstmt_type type, const char *id, int64_t now);

/**
 * @brief Whether statement id ID of TYPE has been claimed, without claiming it (any txn): a cheap
 *        early refusal before expensive work; the claim itself must still follow in the apply.
 * @return KERR_OK when free; KERR_REPLAY when claimed (T stays healthy); T's error.
 */
kerr vault_statement_id_used(struct vault *v, store_txn *t, enum kstmt_type type, const char *id);

#endif
