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
 * Storage (format 3), in one table the caller declares to the store (e.g. "journal"), values sealed:
 *   'T' || be64(g)   →  id16(citizen) || be64(seq) || be64(prev g of this citizen, 0: none) || event_json
 *   'S' || id16(citizen) →  be64(count) || head || be64(g of the citizen's last event)      (48 bytes)
 *   'M'              →  be64(checkpoint g): every event up to it is reflected in the 'S' records
 *                       (it may name a g never stored: one of a batch that failed)
 *   'X' || id16('X' || id16(citizen) || be64(seq))  →  be64(g), for every seq that is a multiple
 *                       of JOURNAL_INDEX_EVERY: where a page of the journal starts its walk back
 *   'N'              →  be64(g): every event up to it has its 'X' record (events written before
 *                       the index existed get theirs in journal_open())
 * g is a vault-wide append counter, so an append writes at the right edge of one B-tree: a group
 * commit of many audited reads dirties a few neighbouring pages, whatever the number of citizens
 * (docs/performance.md, "Fifth pass"). The heads changed since they were last written to 'S' live
 * in memory (struct journal). When JOURNAL_CKPT_HEADS of them, or JOURNAL_CKPT_EVENTS events, have
 * gathered, a checkpoint round begins: the group committer's pre-commit hook writes a part of
 * them to 'S' in each of the next JOURNAL_ROUND_PARTS batches and 'M' with the last, so no batch
 * carries the whole checkpoint. journal_open() rebuilds the heads after a crash from the events
 * after 'M' (about JOURNAL_CKPT_EVENTS and those of a round's batches at most). A citizen's events
 * are found by following the prev links back from the head, or from the nearest 'X' record at or
 * after the page wanted: the key hashes the citizen's id16 with the seq, so 'X' keys tell nobody
 * without the storage key whose they are or how long anyone's journal is.
 * Vaults written before keep format 2 ('J' || id16 || be64(seq), head after the events), format 1
 * ('E' || id_hash ...) or format 0's head ('H' || id_hash); journal_open() moves them first.
 *
 * Transactions. The in-memory heads follow the write transaction they were changed in: whoever
 * commits a transaction that called journal_append() must tell the journal the outcome —
 * journal_op_end() after each nested operation of a batch (kept or discarded), journal_pre_commit()
 * before and journal_post_commit() after the commit. The vault wires these to the group committer's
 * hooks (vault/groupcommit.h). Readers on other threads see only committed heads:
 * journal_read_begin() takes the head and begins the read transaction under one lock, so the
 * transaction holds every event up to that head.
 * Threads: journal_append, journal_head and the hooks on the writer thread only (one writer);
 * journal_read_begin, journal_list and journal_verify from any thread.
 */
#ifndef KLUIS_JOURNAL_H
#define KLUIS_JOURNAL_H

#include <stdbool.h>
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

/** The journal of one store table: the in-memory heads and the append counter. */
typedef struct journal journal;

#define JOURNAL_CKPT_HEADS 327680u   /**< heads in memory that start a checkpoint round */
#define JOURNAL_CKPT_EVENTS 524288u  /**< events since the last round began that do (bounds the
                                          replay of journal_open) */
#define JOURNAL_ROUND_PARTS 1024u    /**< batches a checkpoint round is spread over (a part is
                                          1/1024 of the table of heads) */
#define JOURNAL_SLOTS 524288u        /**< slots of the table of heads as it is made (2^19; 160 bytes
                                          each, touched as used); it doubles past 3/4 full */
#define JOURNAL_INDEX_EVERY 64u      /**< every this many events of a citizen, one 'X' record */

/** Where a citizen's journal ends: what journal_read_begin() gives to journal_list(). */
typedef struct journal_pos {
    unsigned char id[STORE_IDSHORT];      /**< the citizen's id16 (skey_id16) */
    uint64_t count;                       /**< events (the last one's seq) */
    unsigned char head[JOURNAL_HEADBYTES];/**< head_count */
    uint64_t last;                        /**< g of the last event; 0 when count is 0 */
} journal_pos;

/**
 * @brief Open the journal in table TAB of ST: move records of formats 0 and 1, give events up to
 *        the checkpoint that lack them their 'X' records (an older kluisd's), rebuild the heads
 *        changed after the last checkpoint from the events after it (putting their 'X' records
 *        in the same pass, committed only when there were any), then move format 2's records
 *        (as journal_migrate(), see there). Needs
 *        the store to itself (no committer running yet). Cost: one pass over older records when
 *        there are any; otherwise independent of the vault's size (about JOURNAL_CKPT_EVENTS
 *        events read at most, and those of a round's batches; none after journal_flush()). The
 *        table of heads is made at JOURNAL_SLOTS slots; its pages are touched as heads arrive.
 * @param[out] out    the journal (journal_close()); NULL on failure.
 * @param[out] moved  records moved from older layouts; may be NULL.
 * @return KERR_OK; KERR_CONFLICT (records in two layouts, see journal_migrate()); KERR_INTERNAL
 *         when an event after the checkpoint does not continue its citizen's chain, or for memory;
 *         the store's error otherwise.
 */
kerr journal_open(journal **out, store *st, store_table tab, size_t *moved) __attribute__((warn_unused_result));

/**
 * @brief Write every head J holds to 'S', and 'M', in one synced write transaction of its own: a
 *        clean shutdown's checkpoint, after which journal_open() has nothing to replay. No other
 *        write transaction may be open or begin meanwhile (the vault calls it after stopping its
 *        committer). On failure nothing is lost: the next journal_open() replays as after a crash.
 * @return KERR_OK, or the store's error.
 */
kerr journal_flush(journal *j);

/** @brief Free J (NULL ignored). Heads not yet checkpointed are rebuilt by the next journal_open(). */
void journal_close(journal *j);

/**
 * @brief Append EV as the next event of CITIZEN's journal, in write transaction T (writer thread).
 * @param[out] seq_out   the event's seq (from 1); may be NULL.
 * @param[out] head_out  the new head; may be NULL.
 * @return T->err after the call: KERR_OK; KERR_BAD_ENCODING (bad UTF-8 in EV); KERR_STORAGE_FULL;
 *         KERR_INTERNAL (stored head does not open, memory, LMDB). Any error is recorded in T,
 *         so the surrounding transaction aborts and nothing is half-written.
 */
kerr journal_append(journal *j, store_txn *t, const char *citizen, const journal_event *ev, uint64_t *seq_out,
                    unsigned char head_out[JOURNAL_HEADBYTES]);

/**
 * @brief The writer's view of CITIZEN's journal in write transaction T (appends of the open
 *        transaction included): head and count (32 zero bytes and 0 when no event yet). Readers
 *        on other threads use journal_read_begin() instead.
 * @return KERR_OK, or T's error (KERR_INTERNAL when the stored head does not open).
 */
kerr journal_head(journal *j, store_txn *t, const char *citizen, unsigned char head[JOURNAL_HEADBYTES],
                  uint64_t *count);

/**
 * @brief Hooks for the writer of the transaction (see the header comment).
 * journal_op_end: one operation of a batch ended; KEPT false forgets every append since the
 * previous journal_op_end (its child transaction was aborted), so every append of a batch must
 * belong to an operation that is ended this way (the group committer ends each one).
 * journal_pre_commit: before the commit of T; starts a checkpoint round when one is due and writes
 * this batch's part of it (an error fails the batch). journal_post_commit: after the commit was
 * attempted; RESULT KERR_OK makes the batch's heads visible to readers, anything else forgets them.
 */
void journal_op_end(journal *j, bool kept);
kerr journal_pre_commit(journal *j, store_txn *t);
void journal_post_commit(journal *j, kerr result);

/**
 * @brief Begin read transaction T on the journal's store and give the committed end of CITIZEN's
 *        journal as of T. T must be ended by the caller (store_txn_abort), also on error.
 * @return KERR_OK, or T's error.
 */
kerr journal_read_begin(journal *j, const char *citizen, store_txn *t, journal_pos *pos);

/**
 * @brief Up to LIMIT events with seq > AFTER of the journal that ends at POS, in seq order. Walks
 *        the links back from the first indexed event at or after the page's last seq ('X'), else
 *        from POS: a page costs LIMIT + at most JOURNAL_INDEX_EVERY - 1 record reads, wherever it
 *        is in the journal.
 * @param[out] out  malloc'd array of *N entries (NULL when *N is 0); free with journal_entries_free().
 * @return KERR_OK (possibly with *N == 0); KERR_INTERNAL when a link does not lead to the event it
 *         should (T poisoned); or T's error.
 */
kerr journal_list(journal *j, store_txn *t, const journal_pos *pos, uint64_t after, size_t limit,
                  journal_entry **out, size_t *n);

/** @brief Wipe and free an array from journal_list(). NULL is ignored. */
void journal_entries_free(journal_entry *e, size_t n);

/**
 * @brief Recompute CITIZEN's whole committed chain from the stored events and compare it with the
 *        stored head and count (constant time). Events must be exactly seq 1..count, each one's
 *        JSON must carry its own seq. Any thread; its own read transaction.
 * @param[out] bad_seq  on KERR_CONFLICT: the seq at fault — walking back from the head, the first
 *                      event that is missing or is not this citizen's event of that seq (its link
 *                      leads elsewhere); else the first event whose JSON carries another seq; else
 *                      count+1 when the recomputed head differs. May be NULL.
 * @return KERR_OK; KERR_CONFLICT when the chain does not match; or the store's error.
 */
kerr journal_verify(journal *j, const char *citizen, uint64_t *bad_seq);

/**
 * @brief The key of the event with append counter G (the layout above): for tests and tools that
 *        must name one stored event.
 */
void journal_event_key(skey *k, uint64_t g);

/** @brief K := the prefix of the stored heads' keys ('S'): what vault_warm() walks of the journal. */
void journal_heads_prefix(skey *k);

/**
 * @brief The key of the index record of event SEQ of the citizen whose id16 is ID (the layout
 *        above; a multiple of JOURNAL_INDEX_EVERY has one): for tests and tools.
 */
void journal_index_key(skey *k, const store *st, const unsigned char id[STORE_IDSHORT], uint64_t seq);

/**
 * @brief Move every journal record of an older layout (format 0, 1 or 2) in table TAB of ST to
 *        format 3, BATCH records per synced write transaction (0 → 4096). Values are opened and
 *        sealed again under their new key (the key is the associated data); a citizen's events move
 *        in seq order, each given the next append counter, and its head is checked against the
 *        chain recomputed on the way. Each batch commits with the heads ('S') of the citizens it
 *        touched and the checkpoint ('M'), so a crash leaves every record in exactly one layout
 *        and the next call goes on. Needs the store to itself. For tools and tests: journal_open()
 *        runs the same moves itself, format 2's after its replay, so that it also sees heads that
 *        only memory held (then 'M' stays where it is); this function refuses (KERR_CONFLICT) a
 *        table with events after 'M' instead.
 *        Cost: one pass over the old records; nothing when there are none (a few cursor seeks in a
 *        read transaction; the writer lock is not taken).
 * @param[out] moved  old records moved (events and heads) or dropped (a stale format-0 head),
 *                    each counted once.
 * @return KERR_OK; KERR_CONFLICT when a citizen has records in two layouts that do not continue
 *         each other (an older kluisd wrote to a migrated vault: nothing is overwritten, the
 *         operator must decide); KERR_INTERNAL for a key of no known shape, a value that does not
 *         open or an old head that does not match its events; the store's error otherwise.
 */
kerr journal_migrate(store *st, store_table tab, size_t batch, size_t *moved) __attribute__((warn_unused_result));

#endif
