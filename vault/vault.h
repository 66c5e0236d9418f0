/*
 * vault/vault.h — one vault: its directory, its own keys, its store, its committer and its log.
 *
 * A vault directory holds data.mdb (vault/store.h) and keys/ with the vault's three secrets, each in
 * its own 0600 file written with O_EXCL|O_NOFOLLOW: log.key (Ed25519, signs checkpoints), gate.key
 * (X25519, the outer escrow layer) and storage.key (encryption at rest). The public halves and the
 * authority's public key are served by GET /v1/vault.
 *
 * Every write goes through the group committer (vault->gc): callers submit an apply function that
 * writes in a child transaction, may append log leaves with tlog_append(), and learns of durability
 * from the completion. The committer's per-batch hooks sign one checkpoint per batch.
 *
 * Threads: after vault_open() the struct is read-only except through the committer, the log and the
 * charter accessors, which are thread-safe.
 */
#ifndef KLUIS_VAULT_H
#define KLUIS_VAULT_H

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "policy/charter.h"
#include "vault/errors.h"
#include "vault/groupcommit.h"
#include "vault/journal.h"
#include "vault/store.h"
#include "vault/tlog.h"

struct auth_mem;

/** The tables of a vault, in the order given to store_open(). */
enum vault_table {
    VT_META,       /* vault configuration: origin, public keys, creation time        */
    VT_CHARTER,    /* adopted charters by version; the one in force under key 0        */
    VT_PRINCIPALS, /* principal records by keyed id hash                               */
    VT_LOG_LEAF,
    VT_LOG_HASH,
    VT_LOG_META,
    VT_SESSIONS,       /* session by BLAKE2b-256(token): {principal, role, expires}           */
    VT_SESSIONS_BY_PRINCIPAL, /* id-hash(principal) || token hash → "" (ends them all)       */
    VT_CITIZENS,       /* citizen record by id-hash: enrollment, keys, bundle, lockout        */
    VT_SECTIONS,       /* id-hash(citizen) || id-hash(section) → section state              */
    VT_EPOCHS,         /* id-hash(citizen) || id-hash(section) || be64(epoch) → epoch record */
    VT_ENTRIES,        /* 'E' || id-hash(c) || id-hash(s) || be64(seq) → entry; 'I' ... id index */
    VT_GRANTS,         /* id-hash(citizen) || id-hash(grant) → grant record                  */
    VT_GRANTS_BY_GRANTEE, /* "grants_in_force": id-hash(grantee) || id-hash(citizen) || id-hash(grant)
                             → policy view of a grant in force (vault/grant.h); its copy beside
                             the entries is what access decisions read */
    VT_GRANT_WRAPS,    /* id-hash(citizen) || id-hash(grant) || id-hash(section) || be64(epoch) */
    VT_REQUESTS,       /* id-hash(citizen) || id-hash(request) → access request              */
    VT_STATEMENT_IDS,  /* u8(type) || id-hash(statement id) → "" : ids are never reused     */
    VT_JOURNAL,        /* vault/journal.h's table                                             */
    VT_OVERRIDES,      /* overrides (issue 5)                                                 */
    VT_GRANTS_ENDED,   /* revoked grants' by-grantee entries (keys and values as in the index) */
    VT_COUNT_
};

/** A principal's public record (SPEC §1). */
struct vault_principal {
    char id[64];
    char role[16];
    char display_name[201];
    char organisation[201];
    unsigned char sign_pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char box_pk[crypto_box_PUBLICKEYBYTES];
    int active;
};

typedef struct vault {
    char *dir;
    char origin[256];
    unsigned char log_pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char gate_pk[crypto_box_PUBLICKEYBYTES];
    unsigned char authority_pk[crypto_box_PUBLICKEYBYTES];
    unsigned char *gate_sk; /* secret memory */
    store *st;
    store_table tab[VT_COUNT_];
    gc *gc;
    tlog *log;
    journal *journal;        /* the citizens' journals (vault/journal.h); its hooks ride on gc's */
    pthread_rwlock_t charter_lock;
    struct charter *charter; /* in force; replaced only under charter_lock */
    struct auth_mem *auth;   /* login challenges and unknown-id lockouts (vault/session.h) */
    size_t journal_moved;    /* journal records vault_open() moved to the current layout (journal_migrate) */
    size_t views_rebuilt;    /* grant records whose views vault_open() wrote again (grant_views_rebuild) */
    int lock_fd;             /* data.mdb, flock()ed exclusively while open (vault_open()); -1 if not */
    bool readahead;          /* the kernel reads ahead around a page fault in data.mdb (vault_readahead_wanted) */
    uint64_t file_bytes;     /* data.mdb's size when it was opened */
} vault;

/**
 * @brief Create a new vault in DIR (which must not exist, or be an empty directory): the vault's
 *        keys, the store, and the log leaves vault.created, charter.adopted and
 *        principal.registered for ADMIN, all durable before this returns.
 * @param[in] charter_bytes  the charter text (validated with charter_load()).
 * @param[out] err           message on failure (may be NULL).
 * @return KERR_OK; KERR_CONFLICT when DIR already holds a vault or is not empty; KERR_BAD_REQUEST
 *         for a bad origin, charter or admin record; KERR_INTERNAL for I/O or crypto failures.
 */
kerr vault_create(const char *dir, const char *origin, const char *charter_bytes, size_t charter_len,
                  const struct vault_principal *admin, const unsigned char authority_pk[32], int64_t now,
                  struct jerr *err) __attribute__((warn_unused_result));

/**
 * @brief Open the vault in DIR: keys, store (reader check), log (checkpoint verified), committer.
 *        One process at a time: the open vault holds an exclusive flock() on DIR/data.mdb until
 *        vault_close() (or the process's end, kill -9 included). The journal's heads and the
 *        log's tree live in this process's memory, so a second writer would fork them.
 * @return KERR_OK; KERR_NOT_FOUND when DIR holds no vault; KERR_CONFLICT when another process has
 *         it open; KERR_INTERNAL otherwise (ERR says why).
 */
kerr vault_open(vault **out, const char *dir, struct jerr *err) __attribute__((warn_unused_result));

/** Readahead on data.mdb's map (vault_open_opts.readahead). */
enum vault_readahead {
    VAULT_READAHEAD_AUTO = 0, /**< on while data.mdb fits in 3/4 of the machine's memory, off beyond */
    VAULT_READAHEAD_ON,       /**< the kernel's default: a page fault reads its neighbours too       */
    VAULT_READAHEAD_OFF,      /**< MDB_NORDAHEAD (madvise MADV_RANDOM): a fault reads its page only   */
};

/** Options of vault_open_with(). Zero-initialise. */
struct vault_open_opts {
    /** LMDB map size in bytes (the most data.mdb may hold); 0 → STORE_MAP_SIZE_DEFAULT. A size below
     *  what the file already holds is raised to it by LMDB. Writes beyond it are storage_full. */
    size_t map_size;
    /** Readahead around page faults in data.mdb (docs/performance.md, "Ninth pass"). A vault larger
     *  than memory is read at random: readahead there fills the page cache with neighbours nobody
     *  asked for and evicts the pages reads need. */
    enum vault_readahead readahead;
};

/**
 * @brief Whether a vault opened with MODE keeps the kernel's readahead: ON and OFF as they say;
 *        AUTO keeps it unless FILE_BYTES (data.mdb) exceeds 3/4 of MEM_BYTES (physical memory).
 *        Pure.
 */
bool vault_readahead_wanted(enum vault_readahead mode, uint64_t file_bytes, uint64_t mem_bytes);

/** @brief The machine's physical memory in bytes (sysconf); 0 when unknown (AUTO then keeps readahead). */
uint64_t vault_phys_mem(void);

/** What vault_warm() did. */
struct vault_warm_report {
    size_t records;        /**< records walked                                         */
    uint64_t bytes;        /**< the pages of the tables walked (store_table_bytes)     */
    unsigned walked;       /**< tables walked (the journal's heads count as one)       */
    char skipped[160];     /**< names of the tables left out for the budget, ", "-separated */
};

/**
 * @brief Bring into the page cache what an audited read, its access decision and its journal event
 *        touch, most used first: sessions, principals, the journal's heads, the entries table (entries
 *        and the grant views beside them), the grants in force, the citizens, the sections. A whole
 *        table that would take the total past BUDGET bytes is left out (and named in R->skipped); the
 *        journal's heads (one small record per citizen) are always walked. Reads keys only, with
 *        store_warm() over THREADS threads. Returns early once *STOP is true.
 * @return KERR_OK (also when stopped); KERR_BAD_REQUEST (threads) or KERR_INTERNAL from store_warm().
 * Threads: any thread, while V is open; the caller must have it return before vault_close().
 */
kerr vault_warm(vault *v, uint64_t budget, unsigned threads, const atomic_bool *stop, struct vault_warm_report *r)
    __attribute__((warn_unused_result));

/**
 * @brief vault_open() with OPTS (NULL: defaults). Same results.
 */
kerr vault_open_with(vault **out, const char *dir, const struct vault_open_opts *opts, struct jerr *err)
    __attribute__((warn_unused_result));

/** @brief Drain the committer, close the log and the store, wipe the keys. NULL ignored. */
void vault_close(vault *v);

/**
 * @brief The charter in force, with a reference the caller must release with vault_charter_put().
 *        Adoption of a new charter never frees one still held.
 */
const struct charter *vault_charter_get(vault *v);
void vault_charter_put(vault *v, const struct charter *c);

/** @brief Run every group-commit hook of the vault (the journal's and the log's; used as gc's
 *         pre_commit, post_commit and op_end hooks, ARG the vault). */
kerr vault_pre_commit(store_txn *t, size_t n_ok, void *arg);
void vault_post_commit(kerr result, void *arg);
void vault_op_end(bool kept, void *arg);

/**
 * @brief Store P in write txn T (creating or replacing its record) and append its
 *        principal.registered leaf {id, role, display_name, organisation, sign_pk, box_pk}.
 * @return T's error after the call.
 */
kerr vault_principal_put(vault *v, store_txn *t, const struct vault_principal *p, int64_t now);

/**
 * @brief Store P in write txn T WITHOUT a log leaf: for changes of an existing record whose leaf
 *        the caller appends itself (principal.deactivated).
 * @return T's error after the call.
 */
kerr vault_principal_store(vault *v, store_txn *t, const struct vault_principal *p);

/**
 * @brief Read principal ID in txn T into OUT.
 * @return KERR_OK, KERR_NOT_FOUND, or T's error.
 */
kerr vault_principal_get(vault *v, store_txn *t, const char *id, struct vault_principal *out);

/**
 * @brief Every principal in T (in key order, i.e. unordered by id), or only those whose role is
 *        ROLE ("professional", ...; NULL: all).
 * @param[out] out  malloc'd array (free()); NULL when *N is 0.
 * @return KERR_OK or T's error (then *OUT is NULL).
 */
kerr vault_principal_list(vault *v, store_txn *t, const char *role, struct vault_principal **out, size_t *n);

#endif
