/*
 * vault/tlog.h — the vault's transparency log (SPEC §8), persisted in the store.
 *
 * Owns three tables: TLOG_TABLE_LEAF (leaf index → the leaf JSON, sealed: leaves name citizens),
 * TLOG_TABLE_HASH (stored-hash index of vault/merkle.h → 32-byte hash, unsealed: public by
 * protocol) and TLOG_TABLE_META (the tree size and the latest signed checkpoint, unsealed).
 *
 * Appends run on the group-commit writer (vault/groupcommit.h), inside an operation's child
 * transaction: the tree size lives in the transaction, so an aborted operation takes its leaves
 * with it. Once per batch, tlog_pre_commit() computes the new root and signs ONE checkpoint for the
 * batch into the same transaction; tlog_post_commit() publishes it once the commit is durable. An
 * event is therefore "durably logged" (SPEC §8) exactly when its operation's completion reports
 * success. Readers (checkpoint, proofs, entries) only ever see committed, signed trees.
 *
 * Threads: tlog_append/tlog_pre_commit/tlog_post_commit on the writer thread only; everything else
 * from any thread.
 */
#ifndef KLUIS_TLOG_H
#define KLUIS_TLOG_H

#include <jansson.h>
#include <sodium.h>
#include <stdint.h>

#include "vault/errors.h"
#include "vault/merkle.h"
#include "vault/store.h"

#define TLOG_TABLE_LEAF "log_leaf"
#define TLOG_TABLE_HASH "log_hash"
#define TLOG_TABLE_META "log_meta"
#define TLOG_MAX_ENTRIES 1000 /* most leaves one tlog_entries() call returns (SPEC §6) */

typedef struct tlog tlog;

/**
 * @brief Open the log over ST, whose tables TLOG_TABLE_* were declared at store_open().
 *        Checks that the stored checkpoint verifies under LOG_PK and matches the stored tree
 *        (O(log n) reads: start-up time does not grow with the log).
 * @param[in] log_sk  Ed25519 secret key (64 bytes), copied into secret memory.
 * @return KERR_OK; KERR_INTERNAL when the stored log is inconsistent or memory fails.
 */
kerr tlog_open(tlog **out, store *st, store_table leaf, store_table hash, store_table meta,
               const char *origin, const unsigned char log_pk[crypto_sign_PUBLICKEYBYTES],
               const unsigned char log_sk[crypto_sign_SECRETKEYBYTES]) __attribute__((warn_unused_result));

/** @brief Free L, wiping its key. NULL ignored. */
void tlog_close(tlog *l);

/**
 * @brief Append the leaf {"index":n,"time":TIME,"event":EVENT, ...FIELDS} in write txn T.
 * @param[in]  fields  an object whose members follow the three fixed ones (may be NULL; not stolen;
 *                     must not contain index, time or event).
 * @param[out] index   the new leaf's index; may be NULL.
 * @return T's error after the call (KERR_OK, KERR_STORAGE_FULL, KERR_INTERNAL).
 */
kerr tlog_append(tlog *l, store_txn *t, int64_t time, const char *event, const json_t *fields,
                 uint64_t *index);

/** @brief Group-commit pre_commit step: sign one checkpoint for the batch's tree in T. */
kerr tlog_pre_commit(tlog *l, store_txn *t);

/** @brief Group-commit post_commit step: publish the signed checkpoint when RESULT is KERR_OK. */
void tlog_post_commit(tlog *l, kerr result);

/** @brief Size of the latest committed, signed tree. */
uint64_t tlog_size(tlog *l);

/**
 * @brief The latest signed checkpoint note (SPEC §8), malloc'd; caller frees.
 * @return NULL on memory failure.
 */
char *tlog_checkpoint(tlog *l);

/**
 * @brief Inclusion proof of leaf INDEX in the tree of SIZE leaves (SIZE <= tlog_size()).
 * @return KERR_OK; KERR_BAD_REQUEST when INDEX >= SIZE or SIZE exceeds the signed tree;
 *         KERR_INTERNAL on a storage failure.
 */
kerr tlog_prove_inclusion(tlog *l, uint64_t index, uint64_t size,
                          unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES], size_t *n);

/** @brief Consistency proof between sizes FROM and TO (0 < FROM <= TO <= tlog_size()); as above. */
kerr tlog_prove_consistency(tlog *l, uint64_t from, uint64_t to,
                            unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES], size_t *n);

/**
 * @brief Leaves [START, END) of the signed tree, at most TLOG_MAX_ENTRIES, as a JSON array of
 *        {"index", "leaf"} with leaf = b64url of the exact leaf bytes (auditors hash those bytes).
 * @return KERR_OK; KERR_BAD_REQUEST for a bad range; KERR_INTERNAL.
 */
kerr tlog_entries(tlog *l, uint64_t start, uint64_t end, json_t **out);

#endif
