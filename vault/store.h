/*
 * vault/store.h — the vault's LMDB environment: durable, encrypted at rest (SPEC §11).
 *
 * One store is one directory holding data.mdb (and LMDB's lock.mdb). It is opened with sync
 * commits only, a fixed list of named tables, and a 32-byte storage key held outside the file.
 *
 *  - Values are sealed: nonce24 || XChaCha20-Poly1305-IETF(seal_key, value,
 *    ad = table_name || 0x00 || db_key), so a value opens only under the table and key it was
 *    written to. store_put_raw()/store_get_raw() write and read unsealed bytes and are reserved for
 *    values that the protocol makes public anyway (Merkle node hashes, signed checkpoints, tree
 *    sizes): never for anything naming or describing a person, and never for log leaves, which
 *    carry citizen ids.
 *  - Keys are built by one serializer (struct skey): a u8 tag, big-endian u64s, and identifiers,
 *    which enter a key only as keyed BLAKE2b-256 hashes (skey_id), so data.mdb yields no names.
 *    Table names are stored by LMDB in clear: they must not be personal.
 *  - A transaction (struct store_txn) keeps its FIRST error. Every later put/get/del/iteration on
 *    it is a no-op returning that error, and store_txn_commit() aborts by itself and returns it;
 *    call sites stay straight-line. "Absent" is not an error: get and del return KERR_NOT_FOUND
 *    without poisoning the transaction.
 *  - LMDB errors are translated in exactly one place, store_kerr(): MDB_MAP_FULL and ENOSPC →
 *    KERR_STORAGE_FULL, transient resource limits → KERR_UNAVAILABLE, anything else →
 *    KERR_INTERNAL. The original code stays in store_txn.rc.
 *
 * Threads: the environment is opened with MDB_NOTLS, so a read-only transaction may be begun on
 * one thread and used or ended on another, but never by two threads at once. A write transaction
 * (and its children) belongs to the thread that began it; in the vault that is the group-commit
 * writer (vault/groupcommit.h). A store_txn and a store_iter are not thread-safe.
 */
#ifndef KLUIS_STORE_H
#define KLUIS_STORE_H

#include <lmdb.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vault/errors.h"

#define STORE_KEYBYTES 32u                  /**< storage key length */
#define STORE_IDBYTES 32u                   /**< length of an identifier hash (skey_id) */
#define STORE_IDSHORT 16u                   /**< length of a short identifier hash (skey_id16) */
#define STORE_SEALBYTES (24u + 16u)         /**< nonce + tag: sealed length = value length + this */
#define STORE_MAX_TABLES 32u                /**< most named tables a store may declare */
#define STORE_TABLE_NAME_MAX 63u            /**< longest table name, bytes */
/** 256 GiB of address space, not of disk: LMDB maps it but data.mdb grows only with the data (no
 *  MDB_WRITEMAP), and a full disk is still storage_full (ENOSPC). 1 GiB held some 30,000 citizens;
 *  a municipality's million needs tens of GiB (docs/performance.md). */
#define STORE_MAP_SIZE_DEFAULT ((size_t)256 << 30)
#define SKEY_MAX 256u                       /**< longest key the serializer builds (LMDB allows 511) */

typedef struct store store;
/** A table handle: the index of its name in store_opts.tables. */
typedef unsigned int store_table;

/** Options of store_open(). Zero-initialise, then set TABLES and N_TABLES. */
typedef struct store_opts {
    size_t map_size;            /**< map size in bytes; 0 → STORE_MAP_SIZE_DEFAULT */
    unsigned int max_readers;   /**< reader slots; 0 → 126 (LMDB default) */
    /** Extra MDB_* environment flags. Only MDB_NORDAHEAD is accepted: MDB_NOSYNC,
     *  MDB_NOMETASYNC, MDB_MAPASYNC and MDB_WRITEMAP weaken durability, MDB_NOMEMINIT could write
     *  stale heap bytes (plaintext) into data.mdb, MDB_NOLOCK/MDB_RDONLY/MDB_NOSUBDIR do not fit
     *  the vault; any of them makes store_open() fail with KERR_BAD_REQUEST. MDB_NOTLS is always set. */
    unsigned int env_flags;
    const char *const *tables;  /**< table names; handle i is tables[i] */
    unsigned int n_tables;      /**< 1..STORE_MAX_TABLES */
} store_opts;

/** The key serializer. Parts are appended in order; overflowing SKEY_MAX marks the key bad and
 *  every store function given a bad or empty key poisons its transaction with KERR_INTERNAL. */
typedef struct skey {
    size_t len;
    bool bad;
    unsigned char b[SKEY_MAX];
} skey;

/** A transaction. Fields are readable; change them only through the functions below. */
typedef struct store_txn {
    MDB_txn *txn;               /**< NULL once committed, aborted, or when begin failed */
    store *st;
    struct store_txn *parent;   /**< non-NULL for a child transaction */
    struct store_txn *child;    /**< the open child, if any: the parent is unusable meanwhile */
    kerr err;                   /**< first error, KERR_OK while healthy */
    int rc;                     /**< LMDB/errno code behind ERR, 0 when ERR did not come from LMDB */
    bool rdonly;
} store_txn;

/** A cursor walk over the keys of one table that start with a prefix. */
typedef struct store_iter {
    store_txn *t;
    MDB_cursor *cur;
    store_table tab;
    int state;                  /* 0 fresh, 1 positioned, 2 done */
    MDB_val k, v;
    skey prefix, from;
} store_iter;

/* ---------------------------------------------------------------- environment */

/**
 * @brief Open (creating data.mdb if needed) the store in directory DIR.
 *
 * Opens every table of OPTS->tables (creating missing ones), runs mdb_reader_check() to clear
 * reader slots of dead processes, and fsyncs DIR so a newly created data.mdb is durable. Keeps
 * two subkeys of STORAGE_KEY in secret memory: crypto_kdf_derive_from_key(1, "kluisval") seals
 * values, crypto_kdf_derive_from_key(1, "kluisidx") keys the identifier hashes. The caller keeps
 * (and wipes) its own copy of STORAGE_KEY.
 * @param[out] out          the store, on success; NULL otherwise.
 * @param[in]  dir          an existing directory.
 * @param[in]  storage_key  STORE_KEYBYTES bytes; all-zero is refused.
 * @param[in]  opts         see store_opts.
 * @return KERR_OK; KERR_BAD_REQUEST for refused flags, bad or duplicate table names or table
 *         count, or an all-zero key; KERR_NOT_FOUND when DIR does not exist; KERR_STORAGE_FULL when
 *         the map cannot hold the tables; KERR_INTERNAL for any other failure (LMDB, libsodium,
 *         memory).
 * Thread rules: call once per directory per process (LMDB forbids opening one environment twice
 * in a process).
 */
kerr store_open(store **out, const char *dir, const unsigned char storage_key[STORE_KEYBYTES],
                const store_opts *opts) __attribute__((warn_unused_result));

/**
 * @brief Close the store, wiping its keys. NULL is ignored.
 * Every transaction must have ended and no group committer may still run on it.
 */
void store_close(store *st);

/**
 * @brief Bring the pages of TAB's records whose keys start with PREFIX (NULL or empty: every
 *        record) into the page cache: read-only cursor walks over 65,536 key ranges (the two bytes
 *        after the prefix), spread over THREADS threads so that many page reads are in flight at
 *        once. Touches each key and the first byte of each value; opens nothing (no value is
 *        unsealed). Checks *STOP before each range and returns early once it is true.
 * @param[in]  prefix   NULL, or a valid key of at most SKEY_MAX - 2 bytes.
 * @param[in]  threads  1..STORE_WARM_THREADS_MAX; each holds one reader slot while it runs.
 * @param[in]  stop     NULL (never stop), or a flag another thread may set.
 * @param[out] n        records walked (NULL: not wanted).
 * @return KERR_OK (also when stopped); KERR_BAD_REQUEST for bad arguments; KERR_INTERNAL when a
 *         thread or a read transaction cannot be had.
 * Threads: any thread; the store must stay open until it returns.
 */
kerr store_warm(store *st, store_table tab, const skey *prefix, unsigned threads, const atomic_bool *stop,
                size_t *n) __attribute__((warn_unused_result));

#define STORE_WARM_THREADS_MAX 64u

/**
 * @brief *BYTES := the bytes TAB's pages take in data.mdb (branch, leaf and overflow pages, as of
 *        the last commit: mdb_stat).
 * @return KERR_OK; KERR_BAD_REQUEST for a bad table; KERR_INTERNAL when LMDB fails.
 */
kerr store_table_bytes(store *st, store_table tab, uint64_t *bytes) __attribute__((warn_unused_result));

/**
 * @brief Clear reader slots left by dead processes or threads (mdb_reader_check). Call
 *        periodically (e.g. once a minute) from any thread.
 * @param[out] dead  number of slots cleared; may be NULL.
 * @return KERR_OK or KERR_INTERNAL.
 */
kerr store_reader_check(store *st, int *dead);

/**
 * @brief fsync directory PATH, making entries created in it durable (call after creating a
 *        vault directory, on the parent directory and on the directory itself).
 * @return 0, or -1 with errno set.
 */
int store_fsync_dir(const char *path) __attribute__((warn_unused_result));

/** @brief The name of table TAB ("" for an unknown handle). Thread-safe. */
const char *store_table_name(const store *st, store_table tab);

/**
 * @brief The keyed BLAKE2b-256 hash under which identifier ID (LEN bytes) enters keys.
 *        Deterministic per storage key. Thread-safe.
 */
void store_id_hash(const store *st, unsigned char out[STORE_IDBYTES], const void *id, size_t len);

/**
 * @brief Translate an LMDB or errno code; the only place that does.
 * @return KERR_OK (0), KERR_NOT_FOUND (MDB_NOTFOUND), KERR_STORAGE_FULL (MDB_MAP_FULL, ENOSPC,
 *         EDQUOT), KERR_UNAVAILABLE (MDB_TXN_FULL, MDB_READERS_FULL, MDB_MAP_RESIZED, ENOMEM),
 *         KERR_INTERNAL otherwise.
 */
kerr store_kerr(int rc);

/**
 * @brief Whether a failed commit with code RC leaves the store doubtful (I/O errors, failed
 *        fsync, corruption, panic) so that a writer must stop writing. False for 0, MDB_NOTFOUND,
 *        MDB_MAP_FULL, MDB_TXN_FULL, MDB_READERS_FULL, MDB_MAP_RESIZED, MDB_KEYEXIST,
 *        MDB_BAD_VALSIZE, ENOMEM, ENOSPC and EDQUOT (a full disk: LMDB fails before it writes the
 *        meta page, so the committed state is intact and service resumes when space returns);
 *        true for anything else.
 */
bool store_rc_is_fatal(int rc);

/**
 * @brief Test hook: the next top-level write commit on ST aborts instead and fails with RC (an
 *        errno such as EIO or an MDB_* code), as if LMDB had returned it. 0 cancels. Thread-safe.
 */
void store_debug_fail_next_commit(store *st, int rc);

/**
 * @brief Whether table NAME, which ST does not declare (a table an older format kept), exists in
 *        the file; with DROP, delete it and its records in one durable commit. For vault_open's
 *        format moves only: it begins its own write transaction, so no other may be open.
 * @param[out] present  true when the table was there (and, with DROP, is now gone).
 * @return KERR_OK; KERR_BAD_REQUEST when ST declares NAME; else LMDB's error (store_kerr).
 */
kerr store_retired_table(store *st, const char *name, bool drop, bool *present)
    __attribute__((warn_unused_result));

/* ---------------------------------------------------------------- keys */

/** @brief Empty K. */
void skey_reset(skey *k);
/** @brief Append one byte (a table-internal tag). */
void skey_u8(skey *k, uint8_t v);
/** @brief Append V as 8 bytes big-endian, so keys sort numerically. */
void skey_u64(skey *k, uint64_t v);
/** @brief Append the STORE_IDBYTES keyed hash of identifier ID (store_id_hash). */
void skey_id(skey *k, const store *st, const void *id, size_t len);
/**
 * @brief Append the first STORE_IDSHORT bytes of the keyed hash of ID (store_id_hash): for the
 *        tables whose B-tree depth is on the hot write path (the journal). A truncated keyed
 *        BLAKE2b is still a PRF: two identifiers collide with probability 2^-128, and nobody
 *        without the storage key can search for a collision.
 */
void skey_id16(skey *k, const store *st, const void *id, size_t len);
/** @brief Append N raw bytes (e.g. a precomputed public hash). Never a raw identifier. */
void skey_bytes(skey *k, const void *p, size_t n);
/** @brief Read 8 big-endian bytes at P (the inverse of skey_u64). */
uint64_t store_be64(const unsigned char *p);
/** @brief Write V as 8 big-endian bytes at P (for fixed-layout values; skey_u64 uses it). */
void store_be64_put(unsigned char p[8], uint64_t v);

/* ---------------------------------------------------------------- transactions */

/**
 * @brief Begin a top-level transaction on ST; read-only when RDONLY.
 * On failure T->err is set (KERR_UNAVAILABLE when reader slots are exhausted, else per store_kerr)
 * and every later call on T is a no-op; T must still be ended with commit or abort.
 * Thread rules: one write transaction at a time per store (LMDB blocks a second writer); in the
 * vault, write transactions are begun only by the group committer.
 */
void store_txn_begin(store *st, store_txn *t, bool rdonly);

/**
 * @brief The snapshot of the read-only transaction T: the id of the newest commit it sees. 0 for a
 *        write transaction or one that failed (no snapshot: store_unchanged_since() says false).
 */
uint64_t store_txn_snapshot(const store_txn *t);

/**
 * @brief Whether no write transaction after snapshot SNAP (store_txn_snapshot()) has put or
 *        deleted a record of TAB, counting the open write transaction's own writes and writes
 *        that were then discarded. A writer may so rely on what a reader decided from snapshot SNAP
 *        about TAB without reading it again (api/events.c: the commit-time re-check of a grant).
 *        Counts this process's writes only: the vault is opened by one process (vault_open()'s
 *        lock). Any thread; exact while the caller holds the write transaction.
 * @return false for SNAP 0 and for a table handle out of range.
 */
bool store_unchanged_since(const store *st, store_table tab, uint64_t snap);

/**
 * @brief Begin CHILD as a nested transaction of the write transaction PARENT. While CHILD is open,
 *        PARENT must not be used (calls on it poison it with KERR_INTERNAL). Committing CHILD
 *        merges its changes into PARENT; aborting it (or a failed CHILD commit) discards only
 *        CHILD's changes. CHILD's error never poisons PARENT; to propagate it, call
 *        store_txn_fail(parent, child->err).
 * If PARENT already failed, CHILD starts failed with the same error.
 */
void store_txn_begin_child(store_txn *parent, store_txn *child);

/**
 * @brief End T: commit it when healthy (durably, for a top-level write transaction), else abort.
 * @return KERR_OK; the first error T met (it was aborted); or the translated commit error, with
 *         T->rc holding LMDB's code. Committing an ended transaction again returns
 *         its error, or KERR_INTERNAL when it had none; it never touches LMDB. A failed top-level
 *         commit with EIO while the file system has less than 16 MiB left is reported as ENOSPC
 *         (KERR_STORAGE_FULL): LMDB turns a short data-page write into EIO.
 */
kerr store_txn_commit(store_txn *t);

/** @brief Abort T (and nothing else). Harmless on an ended or failed transaction. */
void store_txn_abort(store_txn *t);

/** @brief Record error E on T unless T already has one (first error wins). Returns T->err. */
kerr store_txn_fail(store_txn *t, kerr e);

/* ---------------------------------------------------------------- values */

/**
 * @brief Seal VAL (LEN bytes) and store it under key K of table TAB (replacing any value).
 * @return T->err after the call: KERR_OK, KERR_STORAGE_FULL (map full; T is poisoned and will
 *         abort), or another error per store_kerr.
 */
kerr store_put(store_txn *t, store_table tab, const skey *k, const void *val, size_t len);

/**
 * @brief Store VAL unsealed. Only for values public by protocol (see the header comment).
 * @return as store_put().
 */
kerr store_put_raw(store_txn *t, store_table tab, const skey *k, const void *val, size_t len);

/**
 * @brief Read and open the sealed value under K of TAB into a malloc'd buffer.
 * @param[out] val  the plaintext, NUL-terminated one byte past LEN (handy for JSON); free it with
 *                  store_val_free(). Set to NULL unless KERR_OK is returned.
 * @param[out] len  plaintext length.
 * @return KERR_OK; KERR_NOT_FOUND when absent (T stays healthy); otherwise the error T now holds:
 *         KERR_INTERNAL when the value does not open (tampered, moved, wrong key), out of memory,
 *         or an LMDB failure.
 */
kerr store_get(store_txn *t, store_table tab, const skey *k, unsigned char **val, size_t *len);

/**
 * @brief Like store_get(), into the caller's buffer OUT of capacity OUT_MAX.
 * @return as store_get(); a value longer than OUT_MAX is KERR_INTERNAL (T poisoned).
 */
kerr store_get_buf(store_txn *t, store_table tab, const skey *k, unsigned char *out, size_t out_max,
                   size_t *len);

/**
 * @brief The last key of TAB that starts with PREFIX, into KEY, and its value opened into OUT (capacity
 *        OUT_MAX; OUT NULL: the key only): one cursor descent, for records kept at the end of a key
 *        range (a journal's head).
 * @return as store_get_buf(): KERR_NOT_FOUND when no key starts with PREFIX (T stays healthy).
 */
kerr store_get_last(store_txn *t, store_table tab, const skey *prefix, skey *key, unsigned char *out,
                    size_t out_max, size_t *len);

/**
 * @brief Read an unsealed value. *VAL points into the map: valid until the next write in T's
 *        transaction tree or the end of T, and must not be written to. On a sealed table it gives
 *        the stored, still sealed bytes: for presence checks and for comparing with a cached copy
 *        (vault_principal_get), never to be used as plaintext.
 * @return KERR_OK, KERR_NOT_FOUND (T healthy) or T's error.
 */
kerr store_get_raw(store_txn *t, store_table tab, const skey *k, const void **val, size_t *len);

/**
 * @brief Delete the value under K of TAB.
 * @return KERR_OK, KERR_NOT_FOUND when absent (T healthy), or T's error.
 */
kerr store_del(store_txn *t, store_table tab, const skey *k);

/** @brief Wipe and free a value from store_get()/store_iter_get(). NULL is ignored. */
void store_val_free(unsigned char *val, size_t len);

/* ---------------------------------------------------------------- iteration */

/**
 * @brief Prepare IT to walk, in key order, the keys of TAB that start with PREFIX, beginning at
 *        the first such key >= FROM (FROM may be NULL: the first key with PREFIX). Nothing is
 *        read until store_iter_next(). Typical use:
 *        for (store_iter_begin(&it, &t, TAB, &p, NULL); store_iter_next(&it); ) {...}
 *        store_iter_end(&it);
 */
void store_iter_begin(store_iter *it, store_txn *t, store_table tab, const skey *prefix, const skey *from);

/**
 * @brief Advance to the next key. @return true while positioned on a matching key; false at the
 *        end, or on an error (then recorded in the transaction).
 */
bool store_iter_next(store_iter *it);

/** @brief The current key (valid until the next call on IT or a write in the transaction). */
const unsigned char *store_iter_key(const store_iter *it, size_t *len);

/** @brief Open the current (sealed) value; as store_get(). */
kerr store_iter_get(store_iter *it, unsigned char **val, size_t *len);

/** @brief The current value, unsealed; as store_get_raw(). */
kerr store_iter_get_raw(store_iter *it, const void **val, size_t *len);

/** @brief Close IT's cursor. Call before the transaction ends. Harmless twice. */
void store_iter_end(store_iter *it);

#endif
