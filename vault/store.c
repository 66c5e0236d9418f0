/*
 * vault/store.c — the vault's LMDB environment.
 *
 * This file owns three things, and nothing else may do them: opening the LMDB environment with
 * durable settings (sync commits, no write map, MDB_NOTLS), translating LMDB's return codes into
 * kerr (store_kerr, the one place MDB_MAP_FULL becomes storage_full), and sealing values with the
 * storage key so that data.mdb at rest holds no personal data in clear (SPEC §11).
 *
 * The transaction wrapper follows Knot DNS's knot_lmdb: the first error sticks in the txn and
 * every later operation is a no-op, so a sequence of puts needs no error check per step; commit
 * notices the error and aborts. Reads of absent keys are answered KERR_NOT_FOUND without
 * poisoning, since absence is an answer, not a failure.
 *
 * Sealing is XChaCha20-Poly1305-IETF with a random 24-byte nonce per write, and the table name
 * and database key as associated data: a value copied to another key or table no longer opens.
 * Writes use MDB_RESERVE and encrypt straight into the map page, so no extra plaintext copy is
 * made.
 */
#include "vault/store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <sodium.h>

#include "vault/secret.h"

#define SEAL_KEY(st) ((st)->keys)
#define IDX_KEY(st)  ((st)->keys + 32)
#define NONCEBYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAGBYTES   crypto_aead_xchacha20poly1305_ietf_ABYTES
#define AD_MAX (STORE_TABLE_NAME_MAX + 1 + SKEY_MAX)

struct store {
    MDB_env *env;
    unsigned int n_tables;
    MDB_dbi dbi[STORE_MAX_TABLES];
    char name[STORE_MAX_TABLES][STORE_TABLE_NAME_MAX + 1];
    size_t name_len[STORE_MAX_TABLES];
    unsigned char *keys; /* secret_new(64): seal key, then index key */
    atomic_int fail_next_commit;
    uint64_t serial;     /* unique per store_open() in this process: tags the id-hash cache */
    /* per table: the id of the newest write transaction that put or deleted one of its records
     * (discarded ones too), 0 before the first (every snapshot sees what came before store_open()):
     * store_unchanged_since() */
    _Atomic uint64_t changed[STORE_MAX_TABLES];
};

static atomic_uint_fast64_t store_serials = 1;

_Static_assert(NONCEBYTES + TAGBYTES == STORE_SEALBYTES, "seal overhead");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == 32, "key size");

/* ---------------------------------------------------------------- error translation */

kerr store_kerr(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:      return KERR_OK;
    case MDB_NOTFOUND:     return KERR_NOT_FOUND;
    case MDB_MAP_FULL:
    case ENOSPC:
    case EDQUOT:           return KERR_STORAGE_FULL;
    case MDB_TXN_FULL:
    case MDB_READERS_FULL:
    case MDB_MAP_RESIZED:
    case ENOMEM:           return KERR_UNAVAILABLE;
    default:               return KERR_INTERNAL;
    }
}

bool store_rc_is_fatal(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
    case MDB_NOTFOUND:
    case MDB_MAP_FULL:
    case MDB_TXN_FULL:
    case MDB_READERS_FULL:
    case MDB_MAP_RESIZED:
    case MDB_KEYEXIST:
    case MDB_BAD_VALSIZE:
    case ENOMEM:
    case ENOSPC: /* only ever a data-page write or sync before the meta page: see store_txn_commit */
    case EDQUOT:
        return false;
    default:
        return true;
    }
}

/* Record an LMDB failure RC on T (first error wins). */
static kerr txn_mdb_fail(store_txn *t, int rc)
{
    if (t->err == KERR_OK) {
        t->err = store_kerr(rc);
        if (t->err == KERR_NOT_FOUND) /* never a poison: a caller bug at worst */
            t->err = KERR_INTERNAL;
        t->rc = rc;
    }
    return t->err;
}

kerr store_txn_fail(store_txn *t, kerr e)
{
    if (t->err == KERR_OK && e != KERR_OK)
        t->err = e;
    return t->err;
}

/* ---------------------------------------------------------------- keys */

void skey_reset(skey *k)
{
    k->len = 0;
    k->bad = false;
}

void skey_bytes(skey *k, const void *p, size_t n)
{
    if (k->bad || n > SKEY_MAX - k->len) {
        k->bad = true;
        return;
    }
    if (n)
        memcpy(k->b + k->len, p, n);
    k->len += n;
}

void skey_u8(skey *k, uint8_t v)
{
    skey_bytes(k, &v, 1);
}

void skey_u64(skey *k, uint64_t v)
{
    unsigned char b[8];
    store_be64_put(b, v);
    skey_bytes(k, b, sizeof b);
}

void skey_id(skey *k, const store *st, const void *id, size_t len)
{
    unsigned char h[STORE_IDBYTES];
    store_id_hash(st, h, id, len);
    skey_bytes(k, h, sizeof h);
}

void skey_id16(skey *k, const store *st, const void *id, size_t len)
{
    unsigned char h[STORE_IDBYTES];
    store_id_hash(st, h, id, len);
    skey_bytes(k, h, STORE_IDSHORT);
}

void store_be64_put(unsigned char p[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)(v & 0xff);
}

uint64_t store_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/*
 * A per-thread cache of identifier hashes. One audited read hashes the same few ids (caller,
 * citizen, section) some ten times across its steps and the journal event, each a keyed BLAKE2b
 * of ~2.6 k instructions; a hit is a short hash and a compare. Thread-local, so no lock; tagged
 * with the store's serial, so a hash is never taken for another store (another key). Holds what
 * the process computes anyway (ids of current requests, their keyed hashes), nothing secret
 * beyond the index key's outputs, which data.mdb's keys carry too.
 */
#define IDC_SLOTS 64u
#define IDC_IDMAX 64u
struct idc_slot {
    uint64_t serial; /* 0: empty */
    size_t len;
    unsigned char id[IDC_IDMAX];
    unsigned char h[STORE_IDBYTES];
};
static _Thread_local struct idc_slot idc[IDC_SLOTS];

void store_id_hash(const store *st, unsigned char out[STORE_IDBYTES], const void *id, size_t len)
{
    struct idc_slot *sl = NULL;
    if (len <= IDC_IDMAX) {
        uint32_t x = 2166136261u; /* FNV-1a: only picks the slot */
        for (size_t i = 0; i < len; i++)
            x = (x ^ ((const unsigned char *)id)[i]) * 16777619u;
        sl = &idc[(x ^ (x >> 16)) % IDC_SLOTS];
        if (sl->serial == st->serial && sl->len == len && memcmp(sl->id, id, len) == 0) {
            memcpy(out, sl->h, STORE_IDBYTES);
            return;
        }
    }
    /* Cannot fail for these sizes. */
    (void)crypto_generichash(out, STORE_IDBYTES, id, len, IDX_KEY(st), 32);
    if (sl) {
        sl->serial = st->serial;
        sl->len = len;
        memcpy(sl->id, id, len);
        memcpy(sl->h, out, STORE_IDBYTES);
    }
}

/* ---------------------------------------------------------------- environment */

static bool table_name_ok(const char *n)
{
    size_t l;
    if (!n || !(l = strlen(n)) || l > STORE_TABLE_NAME_MAX)
        return false;
    return true;
}

kerr store_open(store **out, const char *dir, const unsigned char storage_key[STORE_KEYBYTES],
                const store_opts *opts)
{
    static const unsigned char zero[STORE_KEYBYTES];
    const unsigned int allowed = MDB_NORDAHEAD;
    store *st = NULL;
    struct stat sb;
    MDB_txn *txn = NULL;
    unsigned int envf;
    int rc;
    kerr e = KERR_INTERNAL;

    *out = NULL;
    if (!dir || !storage_key || !opts || !opts->tables || opts->n_tables == 0 ||
        opts->n_tables > STORE_MAX_TABLES || (opts->env_flags & ~allowed) != 0 ||
        sodium_memcmp(storage_key, zero, sizeof zero) == 0)
        return KERR_BAD_REQUEST;
    for (unsigned int i = 0; i < opts->n_tables; i++) {
        if (!table_name_ok(opts->tables[i]))
            return KERR_BAD_REQUEST;
        for (unsigned int j = 0; j < i; j++)
            if (strcmp(opts->tables[i], opts->tables[j]) == 0)
                return KERR_BAD_REQUEST;
    }
    if (stat(dir, &sb) != 0)
        return errno == ENOENT || errno == ENOTDIR ? KERR_NOT_FOUND : KERR_INTERNAL;
    if (!S_ISDIR(sb.st_mode))
        return KERR_NOT_FOUND;
    if (sodium_init() < 0)
        return KERR_INTERNAL;

    if (!(st = calloc(1, sizeof *st)))
        return KERR_INTERNAL;
    atomic_init(&st->fail_next_commit, 0);
    st->serial = atomic_fetch_add(&store_serials, 1);
    if (!(st->keys = secret_new(64)))
        goto fail;
    if (crypto_kdf_derive_from_key(SEAL_KEY(st), 32, 1, "kluisval", storage_key) != 0 ||
        crypto_kdf_derive_from_key(IDX_KEY(st), 32, 1, "kluisidx", storage_key) != 0)
        goto fail;

    /* The default map is address space only; where less is to be had (a ulimit -v, valgrind's
     * address-space manager) mapping it fails (ENOMEM, or EINVAL under valgrind): halve it, down to 1 GiB, and retry. An
     * explicit map_size is taken as given. */
    size_t map = opts->map_size ? opts->map_size : STORE_MAP_SIZE_DEFAULT;
    for (;;) {
        if ((rc = mdb_env_create(&st->env)) != 0) {
            st->env = NULL;
            e = store_kerr(rc);
            goto fail;
        }
        if ((rc = mdb_env_set_mapsize(st->env, map)) ||
            (rc = mdb_env_set_maxdbs(st->env, STORE_MAX_TABLES)) ||
            (rc = mdb_env_set_maxreaders(st->env, opts->max_readers ? opts->max_readers : 126))) {
            e = store_kerr(rc);
            goto fail;
        }
        if ((rc = mdb_env_open(st->env, dir, MDB_NOTLS | opts->env_flags, 0600)) == 0)
            break;
        if ((rc == ENOMEM || rc == EINVAL) && !opts->map_size && map > ((size_t)1 << 30)) {
            mdb_env_close(st->env);
            st->env = NULL;
            map /= 2;
            continue;
        }
        e = rc == ENOENT ? KERR_NOT_FOUND : store_kerr(rc);
        goto fail;
    }
    /* Belt and braces: whatever LMDB made of our flags, it must sync. */
    if (mdb_env_get_flags(st->env, &envf) != 0 ||
        (envf & (MDB_NOSYNC | MDB_NOMETASYNC | MDB_MAPASYNC | MDB_WRITEMAP | MDB_RDONLY)))
        goto fail;
    (void)mdb_reader_check(st->env, NULL);

    if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0) {
        e = store_kerr(rc);
        goto fail;
    }
    st->n_tables = opts->n_tables;
    for (unsigned int i = 0; i < opts->n_tables; i++) {
        st->name_len[i] = strlen(opts->tables[i]);
        memcpy(st->name[i], opts->tables[i], st->name_len[i] + 1);
        if ((rc = mdb_dbi_open(txn, st->name[i], MDB_CREATE, &st->dbi[i])) != 0) {
            mdb_txn_abort(txn);
            e = store_kerr(rc);
            goto fail;
        }
    }
    if ((rc = mdb_txn_commit(txn)) != 0) {
        e = store_kerr(rc);
        goto fail;
    }
    /* data.mdb may have just been created: make its directory entry durable. */
    if (store_fsync_dir(dir) != 0)
        goto fail;
    *out = st;
    return KERR_OK;

fail:
    store_close(st);
    return e;
}

kerr store_retired_table(store *st, const char *name, bool drop, bool *present)
{
    MDB_txn *txn;
    MDB_dbi dbi;
    int rc;
    *present = false;
    for (unsigned int i = 0; i < st->n_tables; i++)
        if (strcmp(st->name[i], name) == 0)
            return KERR_BAD_REQUEST; /* one of ours: not retired */
    if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0)
        return store_kerr(rc);
    rc = mdb_dbi_open(txn, name, 0, &dbi); /* no MDB_CREATE: only look */
    if (rc == 0) {
        *present = true;
        if (drop && (rc = mdb_drop(txn, dbi, 1)) == 0)
            return (rc = mdb_txn_commit(txn)) == 0 ? KERR_OK : store_kerr(rc);
    }
    mdb_txn_abort(txn);
    return rc == 0 || rc == MDB_NOTFOUND ? KERR_OK : store_kerr(rc);
}

void store_close(store *st)
{
    if (!st)
        return;
    if (st->env)
        mdb_env_close(st->env);
    secret_free(st->keys);
    free(st);
}

kerr store_reader_check(store *st, int *dead)
{
    int d = 0, rc = mdb_reader_check(st->env, &d);
    if (dead)
        *dead = d;
    return rc ? KERR_INTERNAL : KERR_OK;
}

int store_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return close(fd);
}

/* ---------------------------------------------------------------- warming the page cache */

struct warm_part {
    store *st;
    const unsigned char *prefix;
    size_t plen;
    const atomic_bool *stop;
    size_t n;
    MDB_dbi dbi;
    unsigned first, step; /* the ranges first, first + step, ... of 65,536 */
    int rc;
};

static void *warm_run(void *arg)
{
    struct warm_part *w = arg;
    unsigned char from[SKEY_MAX], to[SKEY_MAX];
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    volatile unsigned char sink = 0;
    if ((w->rc = mdb_txn_begin(w->st->env, NULL, MDB_RDONLY, &txn)) != 0)
        return NULL;
    if ((w->rc = mdb_cursor_open(txn, w->dbi, &cur)) != 0) {
        mdb_txn_abort(txn);
        return NULL;
    }
    memcpy(from, w->prefix, w->plen);
    memcpy(to, w->prefix, w->plen);
    for (unsigned r = w->first; r < 65536 && !(w->stop && atomic_load(w->stop)); r += w->step) {
        /* A fresh snapshot per range: a walk never keeps the writer from reusing freed pages. */
        if (r != w->first) {
            mdb_txn_reset(txn);
            if ((w->rc = mdb_txn_renew(txn)) != 0 || (w->rc = mdb_cursor_renew(txn, cur)) != 0)
                break;
        }
        /* Range r holds the keys from prefix || be16(r) (range 0: from the prefix itself, so keys
         * shorter than prefix + 2 bytes fall in one range too) up to prefix || be16(r + 1). */
        from[w->plen] = (unsigned char)(r >> 8);
        from[w->plen + 1] = (unsigned char)r;
        to[w->plen] = (unsigned char)((r + 1) >> 8);
        to[w->plen + 1] = (unsigned char)(r + 1);
        MDB_val mk = {.mv_size = r ? w->plen + 2 : w->plen, .mv_data = from}, mv;
        MDB_val end = {.mv_size = w->plen + 2, .mv_data = to};
        int rc = mk.mv_size ? mdb_cursor_get(cur, &mk, &mv, MDB_SET_RANGE) : mdb_cursor_get(cur, &mk, &mv, MDB_FIRST);
        while (rc == 0 && mk.mv_size >= w->plen && memcmp(mk.mv_data, w->prefix, w->plen) == 0 &&
               (r == 65535 || mdb_cmp(txn, w->dbi, &mk, &end) < 0)) {
            if (mv.mv_size)
                sink ^= *(const unsigned char *)mv.mv_data; /* the value's first page, overflow or not */
            w->n++;
            rc = mdb_cursor_get(cur, &mk, &mv, MDB_NEXT);
        }
        if (rc != 0 && rc != MDB_NOTFOUND) {
            w->rc = rc;
            break;
        }
    }
    (void)sink;
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return NULL;
}

kerr store_warm(store *st, store_table tab, const skey *prefix, unsigned threads, const atomic_bool *stop, size_t *n)
{
    struct warm_part part[STORE_WARM_THREADS_MAX];
    pthread_t tid[STORE_WARM_THREADS_MAX];
    size_t plen = prefix ? prefix->len : 0;
    unsigned started = 0;
    kerr e = KERR_OK;
    if (n)
        *n = 0;
    if (!st || tab >= st->n_tables || threads < 1 || threads > STORE_WARM_THREADS_MAX ||
        (prefix && (prefix->bad || plen > SKEY_MAX - 2)))
        return KERR_BAD_REQUEST;
    /* Two bytes after the prefix name each range, so keys that start with a tag byte (or the
     * whole table under an empty prefix) still spread evenly over the threads. The ranges of one
     * thread are interleaved with the others', so every thread walks the whole key space. */
    for (unsigned i = 0; i < threads; i++) {
        part[i] = (struct warm_part){.st = st,
                                     .prefix = prefix ? prefix->b : (const unsigned char *)"",
                                     .plen = plen,
                                     .stop = stop,
                                     .dbi = st->dbi[tab],
                                     .first = i,
                                     .step = threads};
        if (pthread_create(&tid[i], NULL, warm_run, &part[i]) != 0) {
            e = KERR_INTERNAL;
            break;
        }
        started++;
    }
    for (unsigned i = 0; i < started; i++) {
        pthread_join(tid[i], NULL);
        if (n)
            *n += part[i].n;
        if (part[i].rc != 0)
            e = KERR_INTERNAL;
    }
    return e;
}

kerr store_table_bytes(store *st, store_table tab, uint64_t *bytes)
{
    MDB_txn *txn;
    MDB_stat ms;
    int rc;
    *bytes = 0;
    if (!st || tab >= st->n_tables)
        return KERR_BAD_REQUEST;
    if ((rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn)) != 0)
        return store_kerr(rc);
    rc = mdb_stat(txn, st->dbi[tab], &ms);
    mdb_txn_abort(txn);
    if (rc != 0)
        return KERR_INTERNAL;
    *bytes = (uint64_t)ms.ms_psize * (ms.ms_branch_pages + ms.ms_leaf_pages + ms.ms_overflow_pages);
    return KERR_OK;
}

const char *store_table_name(const store *st, store_table tab)
{
    return tab < st->n_tables ? st->name[tab] : "";
}

void store_debug_fail_next_commit(store *st, int rc)
{
    atomic_store(&st->fail_next_commit, rc);
}

/* ---------------------------------------------------------------- transactions */

void store_txn_begin(store *st, store_txn *t, bool rdonly)
{
    int rc;
    memset(t, 0, sizeof *t);
    t->st = st;
    t->rdonly = rdonly;
    if ((rc = mdb_txn_begin(st->env, NULL, rdonly ? MDB_RDONLY : 0, &t->txn)) != 0) {
        t->txn = NULL;
        txn_mdb_fail(t, rc);
    }
}

void store_txn_begin_child(store_txn *parent, store_txn *child)
{
    int rc;
    memset(child, 0, sizeof *child);
    child->st = parent->st;
    child->parent = parent;
    child->rdonly = parent->rdonly;
    if (parent->child || !parent->txn || parent->rdonly)
        store_txn_fail(parent, KERR_INTERNAL);
    if (parent->err != KERR_OK) {
        child->err = parent->err;
        child->rc = parent->rc;
        child->parent = NULL; /* never linked: nothing to unlink */
        return;
    }
    if ((rc = mdb_txn_begin(parent->st->env, parent->txn, 0, &child->txn)) != 0) {
        child->txn = NULL;
        child->parent = NULL;
        txn_mdb_fail(child, rc);
        return;
    }
    parent->child = child;
}

static void txn_unlink(store_txn *t)
{
    if (t->parent && t->parent->child == t)
        t->parent->child = NULL;
    t->parent = NULL;
    t->txn = NULL;
}

void store_txn_abort(store_txn *t)
{
    if (t->child)
        store_txn_abort(t->child);
    if (t->txn)
        mdb_txn_abort(t->txn);
    txn_unlink(t);
}

/* Whether the file system holding ST has less than STORE_FULL_SLACK bytes left (what root may use:
 * kluisd may run as root). LMDB reports a short write of data pages as EIO (mdb_page_flush), and a
 * full disk usually ends in one; with the disk (nearly) full that EIO is taken for what it is,
 * ENOSPC. Either way LMDB failed before writing the meta page (a failed meta write panics the
 * environment: MDB_PANIC, fatal), so the last committed state is intact and the next transaction
 * rewrites every page it references: not a doubtful store, storage_full until space returns. */
#define STORE_FULL_SLACK ((unsigned long long)16 << 20)
static bool disk_nearly_full(store *st)
{
    struct statvfs vs;
    mdb_filehandle_t fd;
    if (mdb_env_get_fd(st->env, &fd) != 0 || fstatvfs(fd, &vs) != 0)
        return false;
    unsigned long long avail = (unsigned long long)(geteuid() == 0 ? vs.f_bfree : vs.f_bavail) * vs.f_frsize;
    return avail < STORE_FULL_SLACK;
}

kerr store_txn_commit(store_txn *t)
{
    int rc, inj;
    if (t->child) /* committing over an open child is a caller bug */
        store_txn_fail(t, KERR_INTERNAL);
    if (t->err != KERR_OK || !t->txn) {
        store_txn_abort(t);
        return store_txn_fail(t, KERR_INTERNAL); /* KERR_INTERNAL only if it had no error */
    }
    if (!t->parent && !t->rdonly && (inj = atomic_exchange(&t->st->fail_next_commit, 0)) != 0) {
        store_txn_abort(t);
        return txn_mdb_fail(t, inj);
    }
    rc = mdb_txn_commit(t->txn); /* frees the txn, even on failure */
    txn_unlink(t);
    if (rc == EIO && !t->parent && disk_nearly_full(t->st))
        rc = ENOSPC;
    if (rc != 0)
        return txn_mdb_fail(t, rc);
    return KERR_OK;
}

/* Whether T can take an operation on TAB with key K; poisons T if not. */
static bool txn_usable(store_txn *t, store_table tab, const skey *k)
{
    if (t->err != KERR_OK)
        return false;
    if (!t->txn || t->child || tab >= t->st->n_tables || (k && (k->bad || k->len == 0))) {
        store_txn_fail(t, KERR_INTERNAL);
        return false;
    }
    return true;
}

static size_t make_ad(const store *st, store_table tab, const unsigned char *key, size_t klen,
                      unsigned char ad[AD_MAX])
{
    size_t n = st->name_len[tab];
    memcpy(ad, st->name[tab], n);
    ad[n++] = 0;
    memcpy(ad + n, key, klen);
    return n + klen;
}

/* ---------------------------------------------------------------- values */

/* Before a put or delete in TAB by write transaction T (even one that then fails or is discarded:
 * counting too much only costs store_unchanged_since()'s callers a re-read). */
static void mark_changed(store_txn *t, store_table tab)
{
    atomic_store_explicit(&t->st->changed[tab], (uint64_t)mdb_txn_id(t->txn), memory_order_relaxed);
}

uint64_t store_txn_snapshot(const store_txn *t)
{
    return t->rdonly && t->txn && t->err == KERR_OK ? (uint64_t)mdb_txn_id(t->txn) : 0;
}

bool store_unchanged_since(const store *st, store_table tab, uint64_t snap)
{
    return snap != 0 && tab < st->n_tables &&
           atomic_load_explicit(&st->changed[tab], memory_order_relaxed) <= snap;
}

kerr store_put(store_txn *t, store_table tab, const skey *k, const void *val, size_t len)
{
    unsigned char ad[AD_MAX];
    size_t adlen;
    MDB_val mk, mv;
    unsigned char *p;
    int rc;

    if (!txn_usable(t, tab, k))
        return t->err;
    if (len > SIZE_MAX - STORE_SEALBYTES || len > crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX)
        return store_txn_fail(t, KERR_INTERNAL);
    mk.mv_data = (void *)k->b;
    mk.mv_size = k->len;
    mv.mv_data = NULL;
    mv.mv_size = len + STORE_SEALBYTES;
    mark_changed(t, tab);
    if ((rc = mdb_put(t->txn, t->st->dbi[tab], &mk, &mv, MDB_RESERVE)) != 0)
        return txn_mdb_fail(t, rc);
    p = mv.mv_data;
    adlen = make_ad(t->st, tab, k->b, k->len, ad);
    randombytes_buf(p, NONCEBYTES);
    (void)crypto_aead_xchacha20poly1305_ietf_encrypt(p + NONCEBYTES, NULL, val, len, ad, adlen, NULL,
                                                     p, SEAL_KEY(t->st));
    return KERR_OK;
}

kerr store_put_raw(store_txn *t, store_table tab, const skey *k, const void *val, size_t len)
{
    MDB_val mk, mv;
    int rc;

    if (!txn_usable(t, tab, k))
        return t->err;
    mk.mv_data = (void *)k->b;
    mk.mv_size = k->len;
    mv.mv_data = (void *)val;
    mv.mv_size = len;
    mark_changed(t, tab);
    if ((rc = mdb_put(t->txn, t->st->dbi[tab], &mk, &mv, 0)) != 0)
        return txn_mdb_fail(t, rc);
    return KERR_OK;
}

/* Open sealed MV stored under KEY of TAB into OUT (capacity >= mv->mv_size - SEALBYTES). */
static kerr open_value(store_txn *t, store_table tab, const unsigned char *key, size_t klen,
                       const MDB_val *mv, unsigned char *out, size_t *len)
{
    unsigned char ad[AD_MAX];
    size_t adlen = make_ad(t->st, tab, key, klen, ad);
    const unsigned char *p = mv->mv_data;
    unsigned long long mlen;

    if (mv->mv_size < STORE_SEALBYTES ||
        crypto_aead_xchacha20poly1305_ietf_decrypt(out, &mlen, NULL, p + NONCEBYTES,
                                                   mv->mv_size - NONCEBYTES, ad, adlen, p,
                                                   SEAL_KEY(t->st)) != 0)
        return store_txn_fail(t, KERR_INTERNAL);
    *len = (size_t)mlen;
    return KERR_OK;
}

static kerr raw_get(store_txn *t, store_table tab, const skey *k, MDB_val *mv)
{
    MDB_val mk;
    int rc;
    if (!txn_usable(t, tab, k))
        return t->err;
    mk.mv_data = (void *)k->b;
    mk.mv_size = k->len;
    rc = mdb_get(t->txn, t->st->dbi[tab], &mk, mv);
    if (rc == MDB_NOTFOUND)
        return KERR_NOT_FOUND;
    if (rc != 0)
        return txn_mdb_fail(t, rc);
    return KERR_OK;
}

static kerr get_alloc(store_txn *t, store_table tab, const unsigned char *key, size_t klen,
                      const MDB_val *mv, unsigned char **val, size_t *len)
{
    unsigned char *buf;
    size_t cap = mv->mv_size >= STORE_SEALBYTES ? mv->mv_size - STORE_SEALBYTES : 0;
    kerr e;

    if (!(buf = malloc(cap + 1)))
        return txn_mdb_fail(t, ENOMEM);
    if ((e = open_value(t, tab, key, klen, mv, buf, len)) != KERR_OK) {
        free(buf);
        return e;
    }
    buf[*len] = 0;
    *val = buf;
    return KERR_OK;
}

kerr store_get(store_txn *t, store_table tab, const skey *k, unsigned char **val, size_t *len)
{
    MDB_val mv;
    kerr e;
    *val = NULL;
    *len = 0;
    if ((e = raw_get(t, tab, k, &mv)) != KERR_OK)
        return e;
    return get_alloc(t, tab, k->b, k->len, &mv, val, len);
}

kerr store_get_buf(store_txn *t, store_table tab, const skey *k, unsigned char *out, size_t out_max,
                   size_t *len)
{
    MDB_val mv;
    kerr e;
    *len = 0;
    if ((e = raw_get(t, tab, k, &mv)) != KERR_OK)
        return e;
    if (mv.mv_size < STORE_SEALBYTES || mv.mv_size - STORE_SEALBYTES > out_max)
        return store_txn_fail(t, KERR_INTERNAL);
    return open_value(t, tab, k->b, k->len, &mv, out, len);
}

kerr store_get_last(store_txn *t, store_table tab, const skey *prefix, skey *key, unsigned char *out,
                    size_t out_max, size_t *len)
{
    MDB_cursor *cur = NULL;
    MDB_val mk, mv;
    skey succ = *prefix;
    int rc;

    *len = 0;
    skey_reset(key);
    if (!txn_usable(t, tab, prefix))
        return t->err;
    /* the least key above every key that starts with PREFIX: PREFIX + 1 as a big-endian number */
    while (succ.len && succ.b[succ.len - 1] == 0xFF)
        succ.len--;
    if ((rc = mdb_cursor_open(t->txn, t->st->dbi[tab], &cur)) != 0)
        return txn_mdb_fail(t, rc);
    if (succ.len) {
        succ.b[succ.len - 1]++;
        mk.mv_data = succ.b;
        mk.mv_size = succ.len;
        rc = mdb_cursor_get(cur, &mk, &mv, MDB_SET_RANGE);
        if (rc == 0)
            rc = mdb_cursor_get(cur, &mk, &mv, MDB_PREV); /* the key just below the successor */
        else if (rc == MDB_NOTFOUND)
            rc = mdb_cursor_get(cur, &mk, &mv, MDB_LAST); /* nothing at or above it */
    } else {
        rc = mdb_cursor_get(cur, &mk, &mv, MDB_LAST); /* PREFIX is all 0xFF */
    }
    mdb_cursor_close(cur);
    if (rc == 0 && (mk.mv_size < prefix->len || memcmp(mk.mv_data, prefix->b, prefix->len) != 0))
        rc = MDB_NOTFOUND; /* the key found is below PREFIX */
    if (rc == MDB_NOTFOUND)
        return KERR_NOT_FOUND;
    if (rc != 0)
        return txn_mdb_fail(t, rc);
    if (mk.mv_size > SKEY_MAX)
        return store_txn_fail(t, KERR_INTERNAL);
    skey_bytes(key, mk.mv_data, mk.mv_size);
    if (!out)
        return KERR_OK;
    if (mv.mv_size < STORE_SEALBYTES || mv.mv_size - STORE_SEALBYTES > out_max)
        return store_txn_fail(t, KERR_INTERNAL);
    return open_value(t, tab, mk.mv_data, mk.mv_size, &mv, out, len);
}

kerr store_get_raw(store_txn *t, store_table tab, const skey *k, const void **val, size_t *len)
{
    MDB_val mv;
    kerr e;
    *val = NULL;
    *len = 0;
    if ((e = raw_get(t, tab, k, &mv)) != KERR_OK)
        return e;
    *val = mv.mv_data;
    *len = mv.mv_size;
    return KERR_OK;
}

kerr store_del(store_txn *t, store_table tab, const skey *k)
{
    MDB_val mk;
    int rc;
    if (!txn_usable(t, tab, k))
        return t->err;
    mk.mv_data = (void *)k->b;
    mk.mv_size = k->len;
    mark_changed(t, tab);
    rc = mdb_del(t->txn, t->st->dbi[tab], &mk, NULL);
    if (rc == MDB_NOTFOUND)
        return KERR_NOT_FOUND;
    if (rc != 0)
        return txn_mdb_fail(t, rc);
    return KERR_OK;
}

void store_val_free(unsigned char *val, size_t len)
{
    if (!val)
        return;
    sodium_memzero(val, len);
    free(val);
}

/* ---------------------------------------------------------------- iteration */

void store_iter_begin(store_iter *it, store_txn *t, store_table tab, const skey *prefix, const skey *from)
{
    memset(it, 0, sizeof *it);
    it->t = t;
    it->tab = tab;
    skey_reset(&it->prefix);
    skey_reset(&it->from);
    if (prefix)
        it->prefix = *prefix;
    if (from)
        it->from = *from;
    if (it->prefix.bad || it->from.bad)
        store_txn_fail(t, KERR_INTERNAL);
}

bool store_iter_next(store_iter *it)
{
    int rc;
    if (it->state == 2)
        return false;
    if (!txn_usable(it->t, it->tab, NULL)) {
        it->state = 2;
        return false;
    }
    if (it->state == 0) {
        const skey *start = it->from.len > it->prefix.len ? &it->from : &it->prefix;
        if ((rc = mdb_cursor_open(it->t->txn, it->t->st->dbi[it->tab], &it->cur)) != 0) {
            it->cur = NULL;
            txn_mdb_fail(it->t, rc);
            it->state = 2;
            return false;
        }
        it->state = 1;
        if (start->len) {
            it->k.mv_data = (void *)start->b;
            it->k.mv_size = start->len;
            rc = mdb_cursor_get(it->cur, &it->k, &it->v, MDB_SET_RANGE);
        } else {
            rc = mdb_cursor_get(it->cur, &it->k, &it->v, MDB_FIRST);
        }
    } else {
        rc = mdb_cursor_get(it->cur, &it->k, &it->v, MDB_NEXT);
    }
    if (rc != 0) {
        if (rc != MDB_NOTFOUND)
            txn_mdb_fail(it->t, rc);
        it->state = 2;
        return false;
    }
    if (it->k.mv_size < it->prefix.len || memcmp(it->k.mv_data, it->prefix.b, it->prefix.len) != 0) {
        it->state = 2;
        return false;
    }
    return true;
}

const unsigned char *store_iter_key(const store_iter *it, size_t *len)
{
    if (it->state != 1) {
        *len = 0;
        return NULL;
    }
    *len = it->k.mv_size;
    return it->k.mv_data;
}

kerr store_iter_get(store_iter *it, unsigned char **val, size_t *len)
{
    *val = NULL;
    *len = 0;
    if (it->state != 1)
        return store_txn_fail(it->t, KERR_INTERNAL);
    if (it->t->err != KERR_OK)
        return it->t->err;
    if (it->k.mv_size > SKEY_MAX)
        return store_txn_fail(it->t, KERR_INTERNAL);
    return get_alloc(it->t, it->tab, it->k.mv_data, it->k.mv_size, &it->v, val, len);
}

kerr store_iter_get_raw(store_iter *it, const void **val, size_t *len)
{
    *val = NULL;
    *len = 0;
    if (it->state != 1)
        return store_txn_fail(it->t, KERR_INTERNAL);
    if (it->t->err != KERR_OK)
        return it->t->err;
    *val = it->v.mv_data;
    *len = it->v.mv_size;
    return KERR_OK;
}

void store_iter_end(store_iter *it)
{
    /* A write txn's cursors die with it; closing one after the txn ended is undefined, so callers
     * end iterators first. Read-only cursors must always be closed explicitly. */
    if (it->cur)
        mdb_cursor_close(it->cur);
    it->cur = NULL;
    it->state = 2;
}
