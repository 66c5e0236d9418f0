/*
 * vault/vault.c — creating and opening a vault; the glue between store, committer, log and charter.
 *
 * Creation order matters for durability and for refusing to overwrite: the directory and keys/ are
 * made with mkdir (which fails if they exist), key files with O_EXCL, then the first three log
 * leaves are committed through the same group committer every later write uses, and finally the
 * directory entries are fsynced. A crash half-way leaves a directory that vault_open() refuses and
 * vault_create() will not reuse: the operator removes it and starts again; nothing was served yet.
 */
#include "vault/vault.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "vault/checkpoint.h"
#include "vault/encoding.h"
#include "vault/grant.h"
#include "vault/journal.h"
#include "vault/jspec.h"
#include "vault/secret.h"
#include "vault/session.h"

static const char *const table_names[VT_COUNT_] = {
    [VT_META] = "meta",           [VT_CHARTER] = "charter",      [VT_PRINCIPALS] = "principals",
    [VT_LOG_LEAF] = TLOG_TABLE_LEAF, [VT_LOG_HASH] = TLOG_TABLE_HASH, [VT_LOG_META] = TLOG_TABLE_META,
    [VT_SESSIONS] = "sessions",   [VT_SESSIONS_BY_PRINCIPAL] = "sessions_by_principal",
    [VT_CITIZENS] = "citizens",   [VT_SECTIONS] = "sections",    [VT_EPOCHS] = "epochs",
    [VT_ENTRIES] = "entries",     [VT_GRANTS] = "grants",        [VT_GRANTS_BY_GRANTEE] = "grants_in_force",
    [VT_GRANT_WRAPS] = "grant_wraps", [VT_REQUESTS] = "requests", [VT_STATEMENT_IDS] = "statement_ids",
    [VT_JOURNAL] = "journal",     [VT_OVERRIDES] = "overrides", [VT_GRANTS_ENDED] = "grants_ended",
};

enum { META_CONFIG = 1 };

/* The table the grants in force were kept in before their views had copies beside the entries
 * (now "grants_in_force"). A kluisd that knows only that name creates it when it opens the vault. */
#define RETIRED_GRANT_INDEX "grants_by_grantee"

/* Grant records per write transaction when the views are written again at open. */
#define VIEWS_BATCH 10000
#define STORAGE_KEY_BYTES STORE_KEYBYTES

/* ---------------------------------------------------------------- the vault's own key files */

/* {"kluis_vault_key":1,"kind":KIND,"secret":b64} written 0600, O_EXCL|O_NOFOLLOW, fsynced. The text
 * is built in secret memory: no copy of the key is left in the ordinary heap. */
static int key_write(const char *dir, const char *kind, const unsigned char *secret, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/keys/%s.key", dir, kind);
    size_t b64len = sodium_base64_encoded_len(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    size_t cap = b64len + 128;
    char *text = secret_new(cap), *b = secret_new(b64len);
    int rc = -1;
    if (text && b) {
        sodium_bin2base64(b, b64len, secret, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        int len = snprintf(text, cap, "{\"kluis_vault_key\":1,\"kind\":\"%s\",\"secret\":\"%s\"}\n", kind, b);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0 && len > 0 && (size_t)len < cap) {
            rc = (write(fd, text, (size_t)len) == len && fsync(fd) == 0) ? 0 : -1;
        }
        if (fd >= 0)
            close(fd);
    }
    secret_free(text);
    secret_free(b);
    return rc;
}

static int key_read(const char *dir, const char *kind, unsigned char *secret, size_t n)
{
    char path[4096], buf[512];
    snprintf(path, sizeof path, "%s/keys/%s.key", dir, kind);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat sb;
    ssize_t got = -1;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && (sb.st_mode & 077) == 0)
        got = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (got <= 0)
        return -1;
    struct jerr err;
    json_t *j = jspec_parse(buf, (size_t)got, &err);
    sodium_memzero(buf, sizeof buf);
    int64_t version = 0;
    const char *k = NULL;
    struct jspec spec[] = {
        {.name = "kluis_vault_key", .type = JS_INT, .out = &version, .min = 1, .max = 1},
        {.name = "kind", .type = JS_STRING, .out = &k, .len = 16},
        {.name = "secret", .type = JS_B64, .out = secret, .len = n},
    };
    int rc = (j && jspec_extract(j, spec, 3, &err) == 0 && strcmp(k, kind) == 0) ? 0 : -1;
    json_decref(j);
    return rc;
}

/* ---------------------------------------------------------------- charter */

const struct charter *vault_charter_get(vault *v)
{
    pthread_rwlock_rdlock(&v->charter_lock);
    return v->charter;
}

void vault_charter_put(vault *v, const struct charter *c)
{
    (void)c;
    pthread_rwlock_unlock(&v->charter_lock);
}

/* ---------------------------------------------------------------- principals */

static json_t *principal_json(const struct vault_principal *p)
{
    char *s = b64_encode(p->sign_pk, sizeof p->sign_pk), *b = b64_encode(p->box_pk, sizeof p->box_pk);
    json_t *j = (s && b) ? json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "id", p->id, "role", p->role,
                                     "display_name", p->display_name, "organisation", p->organisation,
                                     "sign_pk", s, "box_pk", b, "active", p->active)
                         : NULL;
    free(s);
    free(b);
    return j;
}

kerr vault_principal_store(vault *v, store_txn *t, const struct vault_principal *p)
{
    json_t *j = principal_json(p);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return store_txn_fail(t, KERR_INTERNAL);
    skey k;
    skey_reset(&k);
    skey_id(&k, v->st, p->id, strlen(p->id));
    store_put(t, v->tab[VT_PRINCIPALS], &k, text, strlen(text));
    free(text);
    return t->err;
}

kerr vault_principal_put(vault *v, store_txn *t, const struct vault_principal *p, int64_t now)
{
    if (vault_principal_store(v, t, p) != KERR_OK)
        return t->err;
    json_t *j = principal_json(p);
    if (!j)
        return store_txn_fail(t, KERR_INTERNAL);
    json_object_del(j, "active");
    tlog_append(v->log, t, now, "principal.registered", j, NULL);
    json_decref(j);
    return t->err;
}

/* Decode a stored principal record; KERR_INTERNAL (T poisoned) when it does not parse. */
static kerr principal_parse(store_txn *t, const unsigned char *val, size_t len, struct vault_principal *out)
{
    struct jerr err;
    json_t *j = jspec_parse((const char *)val, len, &err);
    const char *pid = NULL, *role = NULL, *dn = NULL, *org = NULL;
    struct jspec spec[] = {
        {.name = "id", .type = JS_ID, .out = &pid},
        {.name = "role", .type = JS_STRING, .out = &role, .len = sizeof out->role - 1},
        {.name = "display_name", .type = JS_STRING, .out = &dn, .len = sizeof out->display_name - 1},
        {.name = "organisation", .type = JS_STRING, .out = &org, .len = sizeof out->organisation - 1},
        {.name = "sign_pk", .type = JS_B64, .out = out->sign_pk, .len = 32},
        {.name = "box_pk", .type = JS_B64, .out = out->box_pk, .len = 32},
        {.name = "active", .type = JS_BOOL, .out = &out->active},
    };
    if (!j || jspec_extract(j, spec, sizeof spec / sizeof spec[0], &err) != 0) {
        json_decref(j);
        return store_txn_fail(t, KERR_INTERNAL);
    }
    snprintf(out->id, sizeof out->id, "%s", pid);
    snprintf(out->role, sizeof out->role, "%s", role);
    snprintf(out->display_name, sizeof out->display_name, "%s", dn);
    snprintf(out->organisation, sizeof out->organisation, "%s", org);
    json_decref(j);
    return KERR_OK;
}

/*
 * The principal decode cache: every authenticated request of a principal reads its record, and
 * decoding it (open + JSON parse) was some 12 % of a read. A slot remembers the record's stored,
 * SEALED bytes together with what they decoded to; a later read whose stored bytes are identical
 * (same vault, same key) takes the decoded copy without opening or parsing anything. Identical
 * sealed bytes under the same table and key can only open to the same plaintext (AEAD, the key is
 * in the associated data), so there is nothing to invalidate: any change of the record —
 * deactivation included — is a new seal with a fresh nonce, hence a miss and a fresh decode, and
 * every read still looks at the record as its own snapshot has it. Direct-mapped by the keyed id
 * hash; vault_close() forgets the vault's slots.
 */
#define PCACHE_SLOTS 16u
#define PCACHE_SEALED_MAX 1024u

struct pcache_slot {
    const vault *v;                 /* NULL: empty */
    unsigned char key[STORE_IDBYTES];
    size_t sealed_len;
    unsigned char sealed[PCACHE_SEALED_MAX];
    struct vault_principal p;
};

static pthread_mutex_t pcache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pcache_slot pcache[PCACHE_SLOTS];

static struct pcache_slot *pcache_slot(const skey *k)
{
    return &pcache[k->b[0] % PCACHE_SLOTS]; /* k = the keyed id hash: uniform */
}

/* 1 and OUT filled when the slot holds exactly these stored bytes of this vault's key K. */
static int pcache_find(const vault *v, const skey *k, const void *sealed, size_t len, struct vault_principal *out)
{
    int hit = 0;
    struct pcache_slot *sl = pcache_slot(k);
    pthread_mutex_lock(&pcache_lock);
    if (sl->v == v && k->len == STORE_IDBYTES && memcmp(sl->key, k->b, STORE_IDBYTES) == 0 &&
        sl->sealed_len == len && memcmp(sl->sealed, sealed, len) == 0) {
        *out = sl->p;
        hit = 1;
    }
    pthread_mutex_unlock(&pcache_lock);
    return hit;
}

static void pcache_store(const vault *v, const skey *k, const void *sealed, size_t len, const struct vault_principal *p)
{
    if (k->len != STORE_IDBYTES || len > PCACHE_SEALED_MAX)
        return;
    struct pcache_slot *sl = pcache_slot(k);
    pthread_mutex_lock(&pcache_lock);
    sl->v = v;
    memcpy(sl->key, k->b, STORE_IDBYTES);
    memcpy(sl->sealed, sealed, len);
    sl->sealed_len = len;
    sl->p = *p;
    pthread_mutex_unlock(&pcache_lock);
}

static void pcache_forget(const vault *v)
{
    pthread_mutex_lock(&pcache_lock);
    for (size_t i = 0; i < PCACHE_SLOTS; i++)
        if (pcache[i].v == v)
            memset(&pcache[i], 0, sizeof pcache[i]);
    pthread_mutex_unlock(&pcache_lock);
}

kerr vault_principal_get(vault *v, store_txn *t, const char *id, struct vault_principal *out)
{
    skey k;
    unsigned char *val = NULL;
    size_t len = 0, slen = 0;
    const void *sealed = NULL;
    skey_reset(&k);
    skey_id(&k, v->st, id, strlen(id));
    /* the stored (sealed) bytes, only to compare with the cache: never used as plaintext */
    kerr e = store_get_raw(t, v->tab[VT_PRINCIPALS], &k, &sealed, &slen);
    if (e != KERR_OK)
        return e;
    if (pcache_find(v, &k, sealed, slen, out))
        return KERR_OK;
    e = store_get(t, v->tab[VT_PRINCIPALS], &k, &val, &len);
    if (e != KERR_OK)
        return e;
    e = principal_parse(t, val, len, out);
    store_val_free(val, len);
    if (e == KERR_OK)
        pcache_store(v, &k, sealed, slen, out);
    return e;
}

kerr vault_principal_list(vault *v, store_txn *t, const char *role, struct vault_principal **out, size_t *n)
{
    struct vault_principal *arr = NULL;
    size_t cnt = 0, cap = 0;
    store_iter it;
    *out = NULL;
    *n = 0;
    for (store_iter_begin(&it, t, v->tab[VT_PRINCIPALS], NULL, NULL); store_iter_next(&it);) {
        unsigned char *val = NULL;
        size_t len = 0;
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct vault_principal *na = realloc(arr, ncap * sizeof *arr);
            if (!na) {
                store_txn_fail(t, KERR_INTERNAL);
                break;
            }
            arr = na;
            cap = ncap;
        }
        if (store_iter_get(&it, &val, &len) != KERR_OK)
            break;
        kerr e = principal_parse(t, val, len, &arr[cnt]);
        store_val_free(val, len);
        if (e != KERR_OK)
            break;
        if (!role || strcmp(arr[cnt].role, role) == 0)
            cnt++;
    }
    store_iter_end(&it);
    if (t->err != KERR_OK) {
        free(arr);
        return t->err;
    }
    *out = arr;
    *n = cnt;
    return KERR_OK;
}

/* ---------------------------------------------------------------- committer hooks */

kerr vault_pre_commit(store_txn *t, size_t n_ok, void *arg)
{
    (void)n_ok;
    vault *v = arg;
    if (journal_pre_commit(v->journal, t) != KERR_OK)
        return t->err;
    return tlog_pre_commit(v->log, t);
}

void vault_post_commit(kerr result, void *arg)
{
    vault *v = arg;
    journal_post_commit(v->journal, result);
    tlog_post_commit(v->log, result);
}

void vault_op_end(bool kept, void *arg)
{
    vault *v = arg;
    journal_op_end(v->journal, kept);
}

/* ---------------------------------------------------------------- open / close */

bool vault_readahead_wanted(enum vault_readahead mode, uint64_t file_bytes, uint64_t mem_bytes)
{
    if (mode == VAULT_READAHEAD_ON)
        return true;
    if (mode == VAULT_READAHEAD_OFF)
        return false;
    return (unsigned __int128)file_bytes * 4 <= (unsigned __int128)mem_bytes * 3; /* exact, no overflow */
}

uint64_t vault_phys_mem(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : 0;
}

static kerr open_parts(vault *v, const unsigned char *storage_key, const unsigned char *log_sk,
                       const struct vault_open_opts *opts, struct jerr *err)
{
    struct stat sb;
    char path[4096];
    snprintf(path, sizeof path, "%s/data.mdb", v->dir);
    v->file_bytes = stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
    uint64_t mem = vault_phys_mem();
    v->readahead = vault_readahead_wanted(opts ? opts->readahead : VAULT_READAHEAD_AUTO, v->file_bytes,
                                          mem ? mem : UINT64_MAX);
    store_opts o = {.tables = table_names,
                    .n_tables = VT_COUNT_,
                    .map_size = opts ? opts->map_size : 0,
                    .env_flags = v->readahead ? 0 : MDB_NORDAHEAD};
    kerr e = store_open(&v->st, v->dir, storage_key, &o);
    if (e != KERR_OK)
        return jerr_set(err, e, NULL, "cannot open the store in %s: %s", v->dir, kerr_code(e)), e;
    for (int i = 0; i < VT_COUNT_; i++)
        v->tab[i] = (store_table)i;
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    crypto_sign_ed25519_sk_to_pk(pk, log_sk);
    memcpy(v->log_pk, pk, sizeof pk);
    return KERR_OK;
}

static kerr start_log(vault *v, const unsigned char *log_sk, struct jerr *err)
{
    kerr e = tlog_open(&v->log, v->st, v->tab[VT_LOG_LEAF], v->tab[VT_LOG_HASH], v->tab[VT_LOG_META], v->origin,
                       v->log_pk, log_sk);
    if (e != KERR_OK)
        return jerr_set(err, e, NULL, "the transparency log does not verify against its checkpoint"), e;
    gc_opts go = {.pre_commit = vault_pre_commit, .post_commit = vault_post_commit, .op_end = vault_op_end,
                  .hook_arg = v};
    e = gc_start(&v->gc, v->st, &go);
    if (e != KERR_OK)
        jerr_set(err, e, NULL, "cannot start the group committer");
    return e;
}

static vault *vault_alloc(const char *dir)
{
    vault *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->dir = strdup(dir);
    v->lock_fd = -1;
    v->gate_sk = secret_new(crypto_box_SECRETKEYBYTES);
    v->auth = auth_mem_new(0, 0);
    pthread_rwlock_init(&v->charter_lock, NULL);
    if (!v->dir || !v->gate_sk || !v->auth) {
        vault_close(v);
        return NULL;
    }
    return v;
}

void vault_close(vault *v)
{
    if (!v)
        return;
    pcache_forget(v);
    bool served = v->gc != NULL;
    gc_stop(v->gc);
    v->gc = NULL;
    if (served) /* a clean stop: the next start has no journal events to replay (else it replays them) */
        (void)journal_flush(v->journal);
    tlog_close(v->log);
    journal_close(v->journal);
    store_close(v->st);
    charter_free(v->charter);
    secret_free(v->gate_sk);
    auth_mem_free(v->auth);
    pthread_rwlock_destroy(&v->charter_lock);
    if (v->lock_fd >= 0)
        close(v->lock_fd); /* last: nothing of this process writes the store any more */
    free(v->dir);
    free(v);
}

/* ---------------------------------------------------------------- warming the page cache */

kerr vault_warm(vault *v, uint64_t budget, unsigned threads, const atomic_bool *stop, struct vault_warm_report *r)
{
    /* Most used first: every read's session and caller, then its journal event's head, its entry
     * page and grant view, then what writes and citizens' own requests read. */
    static const enum vault_table order[] = {VT_SESSIONS,        VT_PRINCIPALS, VT_JOURNAL,  VT_ENTRIES,
                                             VT_GRANTS_BY_GRANTEE, VT_CITIZENS,   VT_SECTIONS};
    uint64_t total = 0;
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        if (stop && atomic_load(stop))
            break;
        store_table tab = v->tab[order[i]];
        skey prefix, *pre = NULL;
        uint64_t bytes = 0;
        if (order[i] == VT_JOURNAL) { /* only the heads: the events are appended, never read by a read */
            journal_heads_prefix(&prefix);
            pre = &prefix;
        } else {
            kerr e = store_table_bytes(v->st, tab, &bytes);
            if (e != KERR_OK)
                return e;
            if (bytes > budget - total) { /* total <= budget throughout */
                size_t used = strlen(r->skipped);
                snprintf(r->skipped + used, sizeof r->skipped - used, "%s%s", used ? ", " : "",
                         store_table_name(v->st, tab));
                continue;
            }
        }
        size_t n = 0;
        kerr e = store_warm(v->st, tab, pre, threads, stop, &n);
        if (e != KERR_OK)
            return e;
        total += bytes;
        r->records += n;
        r->bytes += bytes;
        r->walked++;
    }
    return KERR_OK;
}

/* The one-process rule of vault_open(): an exclusive flock() on PATH (data.mdb), held in V. */
static kerr take_lock(vault *v, const char *path, struct jerr *err)
{
    v->lock_fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (v->lock_fd < 0)
        return jerr_set(err, KERR_INTERNAL, NULL, "cannot open %s: %s", path, strerror(errno)), KERR_INTERNAL;
    if (flock(v->lock_fd, LOCK_EX | LOCK_NB) == 0)
        return KERR_OK;
    if (errno == EWOULDBLOCK)
        return jerr_set(err, KERR_CONFLICT, NULL,
                        "the vault in %s is open in another process (is another kluisd serving it?)", v->dir),
               KERR_CONFLICT;
    return jerr_set(err, KERR_INTERNAL, NULL, "cannot lock %s: %s", path, strerror(errno)), KERR_INTERNAL;
}

static kerr load_config(vault *v, struct jerr *err)
{
    store_txn t;
    skey k;
    unsigned char *val = NULL;
    size_t len = 0;
    store_txn_begin(v->st, &t, true);
    skey_reset(&k);
    skey_u8(&k, META_CONFIG);
    kerr e = store_get(&t, v->tab[VT_META], &k, &val, &len);
    json_t *j = NULL;
    if (e == KERR_OK) {
        j = jspec_parse((const char *)val, len, err);
        store_val_free(val, len);
        const char *origin = NULL;
        int64_t created = 0;
        unsigned char gate_pk[32], log_pk[32];
        struct jspec spec[] = {
            {.name = "origin", .type = JS_STRING, .out = &origin, .len = sizeof v->origin - 1},
            {.name = "created", .type = JS_INT, .out = &created},
            {.name = "log_pk", .type = JS_B64, .out = log_pk, .len = 32},
            {.name = "gate_pk", .type = JS_B64, .out = gate_pk, .len = 32},
            {.name = "authority_pk", .type = JS_B64, .out = v->authority_pk, .len = 32},
        };
        if (!j || jspec_extract(j, spec, sizeof spec / sizeof spec[0], err) != 0)
            e = KERR_INTERNAL;
        else if (sodium_memcmp(log_pk, v->log_pk, 32) != 0 || sodium_memcmp(gate_pk, v->gate_pk, 32) != 0)
        {
            jerr_set(err, KERR_INTERNAL, NULL, "the key files do not belong to this vault");
            e = KERR_INTERNAL;
        }
        else
            snprintf(v->origin, sizeof v->origin, "%s", origin);
    }
    json_decref(j);
    /* the charter in force */
    if (e == KERR_OK) {
        skey_reset(&k);
        skey_u64(&k, 0);
        e = store_get(&t, v->tab[VT_CHARTER], &k, &val, &len);
        if (e == KERR_OK) {
            v->charter = charter_load((const char *)val, len, err);
            store_val_free(val, len);
            if (!v->charter)
                e = KERR_INTERNAL;
        }
    }
    store_txn_abort(&t);
    if (e != KERR_OK && err->msg[0] == 0)
        jerr_set(err, e, NULL, "the vault's configuration cannot be read (%s)", kerr_code(e));
    return e;
}

/*
 * The access decision reads the views of the grants in force beside the entries (vault/grant.c).
 * A file that still has the table older kluisds kept those views in comes from before, or an
 * older kluisd has opened it since and may have granted or revoked without the copies: every view
 * is written again from the grant records, and only then is that table dropped. A crash midway
 * leaves the table, so the next open does it again.
 */
static kerr rebuild_views(vault *v, struct jerr *err)
{
    bool old = false;
    size_t n = 0;
    kerr e = store_retired_table(v->st, RETIRED_GRANT_INDEX, false, &old);
    if (e == KERR_OK && old && (e = grant_views_rebuild(v->st, v->tab, (int64_t)time(NULL), VIEWS_BATCH, &n)) == KERR_OK)
        e = store_retired_table(v->st, RETIRED_GRANT_INDEX, true, &old);
    v->views_rebuilt = n;
    if (e != KERR_OK)
        jerr_set(err, e, NULL, "cannot write the grant views again from the grant records (%s)", kerr_code(e));
    return e;
}

/* Open the journal before the group committer starts (so nothing else writes meanwhile): bring a
 * journal written by an older kluisd to the current layout, and rebuild the heads changed after
 * its last checkpoint. A vault already current costs a few seeks and at most JOURNAL_CKPT_EVENTS
 * event reads. */
static kerr open_journal(vault *v, struct jerr *err)
{
    kerr e = journal_open(&v->journal, v->st, v->tab[VT_JOURNAL], &v->journal_moved);
    if (e == KERR_CONFLICT)
        jerr_set(err, e, NULL,
                 "the journal holds records in both its old and its current layout (an older kluisd wrote "
                 "to this vault after it was upgraded); nothing was changed: restore a backup");
    else if (e != KERR_OK)
        jerr_set(err, e, NULL,
                 "cannot open the journal: its records do not move to the current layout or do not continue "
                 "the heads of its last checkpoint (%s)",
                 kerr_code(e));
    return e;
}

kerr vault_open(vault **out, const char *dir, struct jerr *err)
{
    return vault_open_with(out, dir, NULL, err);
}

kerr vault_open_with(vault **out, const char *dir, const struct vault_open_opts *opts, struct jerr *err)
{
    struct jerr dummy;
    if (!err)
        err = &dummy;
    memset(err, 0, sizeof *err);
    *out = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    if (access(path, F_OK) != 0)
        return jerr_set(err, KERR_NOT_FOUND, NULL, "%s holds no vault (run kluisd init)", dir), KERR_NOT_FOUND;
    vault *v = vault_alloc(dir);
    if (!v)
        return KERR_INTERNAL;
    kerr e = take_lock(v, path, err);
    if (e != KERR_OK) {
        vault_close(v);
        return e;
    }
    unsigned char *storage_key = secret_new(STORAGE_KEY_BYTES), *log_seed = secret_new(32),
                  *log_sk = secret_new(crypto_sign_SECRETKEYBYTES);
    e = KERR_INTERNAL;
    if (storage_key && log_seed && log_sk) {
        unsigned char pk[32];
        if (key_read(dir, "storage", storage_key, STORAGE_KEY_BYTES) != 0 || key_read(dir, "log", log_seed, 32) != 0 ||
            key_read(dir, "gate", v->gate_sk, crypto_box_SECRETKEYBYTES) != 0) {
            jerr_set(err, KERR_INTERNAL, NULL, "cannot read the vault's key files in %s/keys (mode must be 0600)", dir);
        } else if (crypto_sign_seed_keypair(pk, log_sk, log_seed) == 0 &&
                   crypto_scalarmult_base(v->gate_pk, v->gate_sk) == 0) {
            e = open_parts(v, storage_key, log_sk, opts, err);
            if (e == KERR_OK)
                e = load_config(v, err);
            if (e == KERR_OK)
                e = rebuild_views(v, err);
            if (e == KERR_OK)
                e = open_journal(v, err);
            if (e == KERR_OK)
                e = start_log(v, log_sk, err);
        }
    }
    secret_free(storage_key);
    secret_free(log_seed);
    secret_free(log_sk);
    if (e != KERR_OK) {
        vault_close(v);
        return e;
    }
    int dead = 0;
    (void)store_reader_check(v->st, &dead);
    *out = v;
    return KERR_OK;
}

/* ---------------------------------------------------------------- create */

struct genesis {
    vault *v;
    const struct charter *c;
    const struct vault_principal *admin;
    int64_t now;
};

static kerr genesis_apply(store_txn *t, void *arg)
{
    struct genesis *g = arg;
    vault *v = g->v;
    char *lpk = b64_encode(v->log_pk, 32), *gpk = b64_encode(v->gate_pk, 32), *apk = b64_encode(v->authority_pk, 32);
    json_t *cfg = (lpk && gpk && apk) ? json_pack("{s:s, s:I, s:s, s:s, s:s}", "origin", v->origin, "created",
                                                  (json_int_t)g->now, "log_pk", lpk, "gate_pk", gpk, "authority_pk", apk)
                                      : NULL;
    free(lpk);
    free(gpk);
    free(apk);
    char *text = cfg ? json_dumps(cfg, JSON_COMPACT) : NULL;
    if (!text) {
        json_decref(cfg);
        return store_txn_fail(t, KERR_INTERNAL);
    }
    skey k;
    skey_reset(&k);
    skey_u8(&k, META_CONFIG);
    store_put(t, v->tab[VT_META], &k, text, strlen(text));
    free(text);
    json_object_del(cfg, "created");
    tlog_append(v->log, t, g->now, "vault.created", cfg, NULL);
    json_decref(cfg);

    /* The charter in force (key 0) and by version. */
    skey_reset(&k);
    skey_u64(&k, 0);
    store_put(t, v->tab[VT_CHARTER], &k, g->c->bytes, g->c->len);
    skey_reset(&k);
    skey_u64(&k, (uint64_t)g->c->version);
    store_put(t, v->tab[VT_CHARTER], &k, g->c->bytes, g->c->len);
    json_t *leaf = json_pack("{s:s, s:I, s:s, s:s#}", "charter", g->c->id, "version", (json_int_t)g->c->version,
                             "hash", g->c->hash_hex, "text", g->c->bytes, (int)g->c->len);
    if (!leaf)
        return store_txn_fail(t, KERR_INTERNAL);
    tlog_append(v->log, t, g->now, "charter.adopted", leaf, NULL);
    json_decref(leaf);

    return vault_principal_put(v, t, g->admin, g->now);
}

static int dir_is_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            empty = 0;
    closedir(d);
    return empty;
}

kerr vault_create(const char *dir, const char *origin, const char *charter_bytes, size_t charter_len,
                  const struct vault_principal *admin, const unsigned char authority_pk[32], int64_t now,
                  struct jerr *err)
{
    struct jerr dummy;
    if (!err)
        err = &dummy;
    memset(err, 0, sizeof *err);
    if (!checkpoint_origin_valid(origin) || strlen(origin) >= 256)
        return jerr_set(err, KERR_BAD_REQUEST, "origin", "the origin must be a non-empty line without spaces "
                                                         "(e.g. voorbeeldstad.nl/kluis)"), KERR_BAD_REQUEST;
    if (!jspec_is_id(admin->id) || strcmp(admin->role, "admin") != 0)
        return jerr_set(err, KERR_BAD_REQUEST, "admin", "the admin key file must name a valid id"), KERR_BAD_REQUEST;
    struct charter *c = charter_load(charter_bytes, charter_len, err);
    if (!c)
        return KERR_BAD_REQUEST;

    if (mkdir(dir, 0700) != 0 && !(errno == EEXIST && dir_is_empty(dir))) {
        charter_free(c);
        if (errno == EEXIST)
            return jerr_set(err, KERR_CONFLICT, NULL, "%s already exists and is not empty; refusing to touch it", dir),
                   KERR_CONFLICT;
        return jerr_set(err, KERR_INTERNAL, NULL, "cannot create %s: %s", dir, strerror(errno)), KERR_INTERNAL;
    }
    char keys[4096];
    snprintf(keys, sizeof keys, "%s/keys", dir);
    vault *v = vault_alloc(dir);
    unsigned char *storage_key = secret_new(STORAGE_KEY_BYTES), *log_seed = secret_new(32),
                  *log_sk = secret_new(crypto_sign_SECRETKEYBYTES);
    kerr e = KERR_INTERNAL;
    if (!v || !storage_key || !log_seed || !log_sk || mkdir(keys, 0700) != 0) {
        jerr_set(err, KERR_INTERNAL, NULL, "cannot create %s: %s", keys, strerror(errno));
        goto out;
    }
    snprintf(v->origin, sizeof v->origin, "%s", origin);
    memcpy(v->authority_pk, authority_pk, 32);
    randombytes_buf(storage_key, STORAGE_KEY_BYTES);
    randombytes_buf(log_seed, 32);
    unsigned char pk[32];
    if (crypto_sign_seed_keypair(pk, log_sk, log_seed) != 0 || crypto_box_keypair(v->gate_pk, v->gate_sk) != 0 ||
        key_write(dir, "storage", storage_key, STORAGE_KEY_BYTES) != 0 || key_write(dir, "log", log_seed, 32) != 0 ||
        key_write(dir, "gate", v->gate_sk, crypto_box_SECRETKEYBYTES) != 0 || store_fsync_dir(keys) != 0) {
        jerr_set(err, KERR_INTERNAL, NULL, "cannot write the vault's keys in %s: %s", keys, strerror(errno));
        goto out;
    }
    if ((e = open_parts(v, storage_key, log_sk, NULL, err)) != KERR_OK || (e = open_journal(v, err)) != KERR_OK ||
        (e = start_log(v, log_sk, err)) != KERR_OK)
        goto out;
    struct genesis g = {v, c, admin, now};
    e = gc_submit(v->gc, genesis_apply, &g);
    if (e != KERR_OK) {
        jerr_set(err, e, NULL, "cannot write the first log leaves: %s", kerr_code(e));
        goto out;
    }
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", dir);
    if (store_fsync_dir(dir) != 0 || store_fsync_dir(dirname(parent)) != 0) {
        e = KERR_INTERNAL;
        jerr_set(err, e, NULL, "cannot fsync %s: %s", dir, strerror(errno));
    }
out:
    secret_free(storage_key);
    secret_free(log_seed);
    secret_free(log_sk);
    vault_close(v);
    charter_free(c);
    return e;
}
