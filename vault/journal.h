/*
 * vault/journal.h — the citizen journal (SPEC §9).
 *
 * Every action on a dossier is one event, a compact JSON object, chained per citizen:
 *     head_0 = 32 zero bytes
 *     head_n = BLAKE2b-256("kluis/v1/journal\n" || head_{n-1} || event_json)
 * The exact event bytes are stored and served (as `raw`), so the citizen's client recomputes
 * the chain over the bytes it received; there is no canonical JSON to agree on.
 *
 * Event bytes, as built by journal_event_json(): jansson JSON_COMPACT|JSON_PRESERVE_ORDER, keys in
 * this order, no whitespace, UTF-8 unescaped, '/' unescaped:
 *   {"seq":N,"time":T,"actor":"..","actor_role":"..","organisation":"..","action":"..",
 *    "section":"..","basis":"..","result":"..","remote":".."}
 * "section" is omitted when NULL; any other NULL string is written as "".
 *
 * Storage, in one table the caller declares to the store (e.g. "journal"), both values sealed
 * (format 2; id16 is the 16-byte truncated keyed id hash, skey_id16):
 *   'J' || id16(citizen) || be64(seq)           →  event_json
 *   'J' || id16(citizen) || be64(count) || 0xFF  →  be64(count) || head (40 bytes)
 * The head sorts right after the citizen's last event and is the last key of the citizen; an append
 * writes event and head count+1 and deletes head count, neighbours, so it dirties one leaf page. Vaults
 * written before keep format 1 ('E' || id_hash(citizen) || ..., 32-byte hash) and perhaps format
 * 0's head ('H' || id_hash(citizen)); journal_migrate() moves them, and vault_open() runs it before
 * anything else touches the journal.
 * Appends are meant to run inside a group-commit operation (vault/groupcommit.h); reads in any
 * transaction. Functions taking a store_txn follow its first-error rule.
 */
#ifndef KLUIS_JOURNAL_H
#define KLUIS_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "vault/errors.h"
#include "vault/store.h"

#define JOURNAL_HEADBYTES 32u

typedef struct journal_event {
    int64_t time;                /**< seconds since the epoch */
    const char *actor;           /**< principal id */
    const char *actor_role;      /**< SPEC §1 role */
    const char *organisation;
    const char *action;          /**< "read", "write", "grant", "revoke", ... */
    const char *section;         /**< NULL: omitted */
    const char *basis;           /**< grant id, "override:<id>" or "own" */
    const char *result;          /**< "allowed" or "denied:<code>" */
    const char *remote;          /**< client address */
} journal_event;

typedef struct journal_entry {
    uint64_t seq;
    unsigned char *raw;          /**< the exact event JSON, NUL-terminated at raw_len */
    size_t raw_len;
} journal_entry;

/**
 * @brief The chain step: NEXT = BLAKE2b-256("kluis/v1/journal\n" || PREV || EVENT[0..LEN)).
 *        NEXT may alias PREV. Pure; thread-safe.
 */
void journal_chain(unsigned char next[JOURNAL_HEADBYTES], const unsigned char prev[JOURNAL_HEADBYTES],
                   const unsigned char *event, size_t len);

/**
 * @brief Serialise event EV with sequence number SEQ (format in the header comment).
 * @param[out] json  malloc'd NUL-terminated bytes (free()); NULL on failure.
 * @param[out] len   their length.
 * @return KERR_OK; KERR_BAD_ENCODING when a string is not valid UTF-8; KERR_INTERNAL (memory).
 */
kerr journal_event_json(char **json, size_t *len, uint64_t seq, const journal_event *ev)
    __attribute__((warn_unused_result));

/**
 * @brief Append EV as the next event of CITIZEN's journal in table TAB.
 * @param[out] seq_out   the event's seq (from 1); may be NULL.
 * @param[out] head_out  the new head; may be NULL.
 * @return T->err after the call: KERR_OK; KERR_BAD_ENCODING (bad UTF-8 in EV); KERR_STORAGE_FULL;
 *         KERR_INTERNAL (stored head does not open, memory, LMDB). Any error is recorded in T,
 *         so the surrounding (group-commit child) transaction aborts and nothing is half-written.
 */
kerr journal_append(store_txn *t, store_table tab, const char *citizen, const journal_event *ev,
                    uint64_t *seq_out, unsigned char head_out[JOURNAL_HEADBYTES]);

/**
 * @brief The current head and event count of CITIZEN (32 zero bytes and 0 when no event yet).
 * @return KERR_OK, or T's error (KERR_INTERNAL when the stored head does not open).
 */
kerr journal_head(store_txn *t, store_table tab, const char *citizen,
                  unsigned char head[JOURNAL_HEADBYTES], uint64_t *count);

/**
 * @brief Up to LIMIT events of CITIZEN with seq > AFTER, in seq order.
 * @param[out] out  malloc'd array of *N entries (NULL when *N is 0); free with journal_entries_free().
 * @return KERR_OK (possibly with *N == 0), or T's error.
 */
kerr journal_list(store_txn *t, store_table tab, const char *citizen, uint64_t after, size_t limit,
                  journal_entry **out, size_t *n);

/** @brief Wipe and free an array from journal_list(). NULL is ignored. */
void journal_entries_free(journal_entry *e, size_t n);

/**
 * @brief Recompute CITIZEN's whole chain from the stored events and compare it with the stored
 *        head and count (constant time). Events must be exactly seq 1..count, each one's JSON
 *        must carry its own seq.
 * @param[out] bad_seq  on KERR_CONFLICT: the first seq at fault (count+1 when the head differs
 *                      or events are missing at the end); may be NULL.
 * @return KERR_OK; KERR_CONFLICT when the chain does not match; or T's error.
 */
kerr journal_verify(store_txn *t, store_table tab, const char *citizen, uint64_t *bad_seq);

/**
 * @brief The key of CITIZEN's event SEQ (the layout above): for tests and tools that must name one
 *        stored event.
 */
void journal_event_key(skey *k, const store *st, const char *citizen, uint64_t seq);

/**
 * @brief Move every journal record of an older layout (format 1 'E' keys, format 0 'H' heads) in
 *        table TAB of ST to format 2, BATCH records per synced write transaction (0 → 4096). Values
 *        are opened and sealed again under their new key; each record moves in one transaction, so
 *        a crash leaves every record in exactly one layout and the next call goes on. A format-0
 *        head beside a newer head is dropped. Needs the store to itself: no group committer may
 *        run (vault_open() calls it before starting one). Cost: one pass over the old records;
 *        nothing when there are none (two cursor seeks in a read transaction; the writer lock is
 *        not taken).
 * @param[out] moved  records moved.
 * @return KERR_OK; KERR_CONFLICT when a record exists in both layouts (an older kluisd wrote to a
 *         migrated vault: nothing is overwritten, the operator must decide); KERR_INTERNAL for a
 *         key of no known shape or a value that does not open; the store's error otherwise.
 */
kerr journal_migrate(store *st, store_table tab, size_t batch, size_t *moved) __attribute__((warn_unused_result));

#endif
