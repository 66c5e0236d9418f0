/*
 * tests/unit/test_store.c — the LMDB store: durable flags only, first-error transactions, the key
 * serializer's bytes, sealed values bound to table and key, storage_full and recovery, and that a
 * closed vault directory holds none of the names or contents written into it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "tests/test.h"
#include "vault/secret.h"
#include "vault/store.h"

TEST_MAIN_DEFS

enum { T_DOSSIER, T_GRANTS, T_PUBLIC, T_COUNT };
static const char *const tables[T_COUNT] = {"dossier", "grants", "public"};

static unsigned char key1[STORE_KEYBYTES], key2[STORE_KEYBYTES];

static void mktemp_dir(char *buf)
{
    strcpy(buf, "/tmp/kluis-store-XXXXXX");
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        exit(2);
    }
}

static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char p[512];
    if (!d)
        return;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static store *open_store(const char *dir, const unsigned char *key, size_t map_size)
{
    store_opts o = {.map_size = map_size, .tables = tables, .n_tables = T_COUNT};
    store *st = NULL;
    kerr e = store_open(&st, dir, key, &o);
    if (e != KERR_OK) {
        printf("# store_open(%s): %s\n", dir, kerr_code(e));
        return NULL;
    }
    return st;
}

static void key_for(skey *k, uint8_t tag, uint64_t n)
{
    skey_reset(k);
    skey_u8(k, tag);
    skey_u64(k, n);
}

static void test_translate(void)
{
    CHECK(store_kerr(0) == KERR_OK, "translate: 0 is ok");
    CHECK(store_kerr(MDB_MAP_FULL) == KERR_STORAGE_FULL, "translate: MDB_MAP_FULL is storage_full");
    CHECK(store_kerr(ENOSPC) == KERR_STORAGE_FULL, "translate: ENOSPC is storage_full");
    CHECK(store_kerr(MDB_NOTFOUND) == KERR_NOT_FOUND, "translate: MDB_NOTFOUND is not_found");
    CHECK(store_kerr(MDB_READERS_FULL) == KERR_UNAVAILABLE, "translate: readers full is unavailable");
    CHECK(store_kerr(EIO) == KERR_INTERNAL, "translate: EIO is internal");
    CHECK(store_kerr(MDB_CORRUPTED) == KERR_INTERNAL, "translate: corrupted is internal");
    CHECK(store_rc_is_fatal(EIO) && store_rc_is_fatal(MDB_PANIC) && store_rc_is_fatal(MDB_CORRUPTED),
          "fatal: EIO, panic, corruption");
    CHECK(!store_rc_is_fatal(MDB_MAP_FULL) && !store_rc_is_fatal(0) && !store_rc_is_fatal(MDB_TXN_FULL),
          "not fatal: map full, success, txn full");
}

static void test_skey(const char *dir)
{
    static const unsigned char want[] = {0x45, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0x2a, 'a', 'b'};
    unsigned char h[STORE_IDBYTES];
    skey k;
    store *st = open_store(dir, key1, 0);

    skey_reset(&k);
    skey_u8(&k, 0x45);
    skey_u64(&k, 0x0102030405060708ull);
    skey_u64(&k, 42);
    skey_bytes(&k, "ab", 2);
    CHECK(!k.bad && k.len == sizeof want, "skey: length %zu", k.len);
    CHECK_MEM(k.b, want, sizeof want, "skey: tag, big-endian u64s, bytes in order");
    CHECK(store_be64(k.b + 1) == 0x0102030405060708ull, "skey: store_be64 inverts skey_u64");

    skey_reset(&k);
    skey_u8(&k, 'C');
    skey_id(&k, st, "burger-0001", 11);
    store_id_hash(st, h, "burger-0001", 11);
    CHECK(k.len == 1 + STORE_IDBYTES && k.b[0] == 'C' && memcmp(k.b + 1, h, STORE_IDBYTES) == 0,
          "skey_id: tag then the 32-byte keyed hash");
    {
        unsigned char plain[32];
        crypto_generichash(plain, 32, (const unsigned char *)"burger-0001", 11, NULL, 0);
        CHECK(memcmp(plain, h, 32) != 0, "skey_id: keyed, not a plain BLAKE2b of the id");
    }
    store_close(st);
    st = open_store(dir, key2, 0);
    {
        unsigned char h2[STORE_IDBYTES];
        store_id_hash(st, h2, "burger-0001", 11);
        CHECK(memcmp(h, h2, sizeof h) != 0, "skey_id: depends on the storage key");
    }
    store_close(st);

    skey_reset(&k);
    for (int i = 0; i < 40; i++)
        skey_u64(&k, (uint64_t)i);
    CHECK(k.bad, "skey: overflow past SKEY_MAX marks the key bad");
}

static void test_open_refusals(const char *dir)
{
    static const unsigned int bad[] = {MDB_NOSYNC, MDB_NOMETASYNC, MDB_WRITEMAP, MDB_MAPASYNC,
                                       MDB_NOMEMINIT, MDB_NOLOCK, MDB_RDONLY, MDB_NOSUBDIR};
    static const char *const names[] = {"NOSYNC", "NOMETASYNC", "WRITEMAP", "MAPASYNC",
                                        "NOMEMINIT", "NOLOCK", "RDONLY", "NOSUBDIR"};
    static const unsigned char zero[STORE_KEYBYTES];
    store *st;
    store_opts o = {.tables = tables, .n_tables = T_COUNT};

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o.env_flags = bad[i];
        st = (store *)1;
        CHECK(store_open(&st, dir, key1, &o) == KERR_BAD_REQUEST && st == NULL,
              "open refuses MDB_%s", names[i]);
    }
    o.env_flags = MDB_NORDAHEAD;
    CHECK(store_open(&st, dir, key1, &o) == KERR_OK && st, "open accepts MDB_NORDAHEAD");
    store_close(st);
    o.env_flags = 0;
    CHECK(store_open(&st, dir, zero, &o) == KERR_BAD_REQUEST, "open refuses an all-zero storage key");
    {
        const char *const dup[] = {"a", "b", "a"};
        store_opts od = {.tables = dup, .n_tables = 3};
        CHECK(store_open(&st, dir, key1, &od) == KERR_BAD_REQUEST, "open refuses duplicate table names");
        od.n_tables = 0;
        CHECK(store_open(&st, dir, key1, &od) == KERR_BAD_REQUEST, "open refuses an empty table list");
    }
    CHECK(store_open(&st, "/tmp/kluis-no-such-dir-4711", key1, &o) == KERR_NOT_FOUND,
          "open of a missing directory is not_found");
    {
        int dead = -1;
        st = open_store(dir, key1, 0);
        CHECK(st && store_reader_check(st, &dead) == KERR_OK && dead == 0, "reader check runs");
        store_close(st);
    }
    CHECK(store_fsync_dir(dir) == 0, "fsync_dir on the vault directory");
    CHECK(store_fsync_dir("/tmp/kluis-no-such-dir-4711") == -1, "fsync_dir of a missing dir fails");
}

static void test_basic_and_first_error(const char *dir)
{
    store *st = open_store(dir, key1, 0);
    store_txn t;
    skey k, bad;
    unsigned char *v;
    size_t n;
    unsigned char buf[8];

    store_txn_begin(st, &t, false);
    key_for(&k, 'A', 1);
    CHECK(store_put(&t, T_DOSSIER, &k, "hello", 5) == KERR_OK, "put sealed");
    key_for(&k, 'A', 2);
    CHECK(store_get(&t, T_DOSSIER, &k, &v, &n) == KERR_NOT_FOUND && v == NULL, "get absent: not_found");
    CHECK(t.err == KERR_OK, "absent does not poison the txn");
    CHECK(store_del(&t, T_DOSSIER, &k) == KERR_NOT_FOUND && t.err == KERR_OK, "del absent: not_found, healthy");
    key_for(&k, 'A', 1);
    CHECK(store_get(&t, T_DOSSIER, &k, &v, &n) == KERR_OK && n == 5 && memcmp(v, "hello", 5) == 0 && v[5] == 0,
          "get within the writing txn, NUL-terminated");
    store_val_free(v, n);
    CHECK(store_get_buf(&t, T_DOSSIER, &k, buf, sizeof buf, &n) == KERR_OK && n == 5, "get_buf");
    CHECK(store_txn_commit(&t) == KERR_OK, "commit");
    CHECK(store_txn_commit(&t) == KERR_INTERNAL, "second commit is refused, not a crash");

    /* First error wins; later steps are no-ops; commit aborts. */
    store_txn_begin(st, &t, false);
    key_for(&k, 'A', 10);
    store_put(&t, T_DOSSIER, &k, "lost", 4);
    skey_reset(&bad);
    CHECK(store_put(&t, T_DOSSIER, &bad, "x", 1) == KERR_INTERNAL, "empty key poisons with internal");
    store_txn_fail(&t, KERR_CONFLICT);
    CHECK(t.err == KERR_INTERNAL, "first error wins over a later one");
    key_for(&k, 'A', 11);
    CHECK(store_put(&t, T_DOSSIER, &k, "y", 1) == KERR_INTERNAL, "put after error is a no-op returning it");
    key_for(&k, 'A', 1);
    CHECK(store_get(&t, T_DOSSIER, &k, &v, &n) == KERR_INTERNAL && v == NULL, "get after error returns it");
    CHECK(store_del(&t, T_DOSSIER, &k) == KERR_INTERNAL, "del after error returns it");
    CHECK(store_txn_commit(&t) == KERR_INTERNAL && t.txn == NULL, "commit returns the first error and aborts");

    store_txn_begin(st, &t, false);
    store_txn_fail(&t, KERR_CONFLICT);
    store_txn_fail(&t, KERR_STORAGE_FULL);
    CHECK(store_txn_commit(&t) == KERR_CONFLICT, "caller-recorded error is the first error");

    store_txn_begin(st, &t, true);
    key_for(&k, 'A', 10);
    CHECK(store_get(&t, T_DOSSIER, &k, &v, &n) == KERR_NOT_FOUND, "aborted put did not land");
    key_for(&k, 'A', 1);
    CHECK(store_get_buf(&t, T_DOSSIER, &k, buf, 4, &n) == KERR_INTERNAL, "get_buf too small is internal");
    store_txn_abort(&t);

    /* Bad table handle. */
    store_txn_begin(st, &t, false);
    CHECK(store_put(&t, 99, &k, "x", 1) == KERR_INTERNAL, "unknown table handle poisons");
    store_txn_abort(&t);

    /* Durable across reopen. */
    store_close(st);
    st = open_store(dir, key1, 0);
    store_txn_begin(st, &t, true);
    CHECK(store_get(&t, T_DOSSIER, &k, &v, &n) == KERR_OK && n == 5 && !memcmp(v, "hello", 5),
          "committed value survives reopen");
    store_val_free(v, n);
    store_txn_abort(&t);

    /* Injected I/O error at commit. */
    store_debug_fail_next_commit(st, EIO);
    store_txn_begin(st, &t, false);
    key_for(&k, 'A', 20);
    store_put(&t, T_DOSSIER, &k, "z", 1);
    CHECK(store_txn_commit(&t) == KERR_INTERNAL && t.rc == EIO, "injected EIO: commit fails, rc kept");
    store_txn_begin(st, &t, true);
    CHECK(store_get(&t, T_DOSSIER, &k, &v, &n) == KERR_NOT_FOUND, "injected EIO: nothing committed");
    store_txn_abort(&t);
    store_close(st);
}

static void test_sealing(const char *dir)
{
    store *st = open_store(dir, key1, 0);
    store_txn t;
    skey a, b;
    const void *raw;
    size_t n, rn;
    unsigned char *v, *copy;

    key_for(&a, 'S', 1);
    key_for(&b, 'S', 2);
    store_txn_begin(st, &t, false);
    store_put(&t, T_DOSSIER, &a, "secret plan", 11);
    CHECK(store_get_raw(&t, T_DOSSIER, &a, &raw, &rn) == KERR_OK && rn == 11 + STORE_SEALBYTES,
          "sealed length is value + 40");
    CHECK(memmem(raw, rn, "secret plan", 11) == NULL, "stored bytes are not the plaintext");
    copy = malloc(rn);
    memcpy(copy, raw, rn);
    store_put_raw(&t, T_DOSSIER, &b, copy, rn);    /* same table, other key */
    store_put_raw(&t, T_GRANTS, &a, copy, rn);     /* other table, same key */
    CHECK(store_txn_commit(&t) == KERR_OK, "commit moved copies");

    store_txn_begin(st, &t, true);
    CHECK(store_get(&t, T_DOSSIER, &b, &v, &n) == KERR_INTERNAL, "value moved to another key does not open");
    store_txn_abort(&t);
    store_txn_begin(st, &t, true);
    CHECK(store_get(&t, T_GRANTS, &a, &v, &n) == KERR_INTERNAL, "value moved to another table does not open");
    store_txn_abort(&t);

    copy[30] ^= 1;
    store_txn_begin(st, &t, false);
    store_put_raw(&t, T_DOSSIER, &b, copy, rn);
    store_txn_commit(&t);
    store_txn_begin(st, &t, true);
    CHECK(store_get(&t, T_DOSSIER, &b, &v, &n) == KERR_INTERNAL, "a flipped ciphertext bit does not open");
    store_txn_abort(&t);
    free(copy);

    store_txn_begin(st, &t, true);
    CHECK(store_get(&t, T_DOSSIER, &a, &v, &n) == KERR_OK && n == 11 && !memcmp(v, "secret plan", 11),
          "the original still opens");
    store_val_free(v, n);
    store_txn_abort(&t);
    store_close(st);

    st = open_store(dir, key2, 0);
    store_txn_begin(st, &t, true);
    CHECK(store_get(&t, T_DOSSIER, &a, &v, &n) == KERR_INTERNAL, "another storage key does not open it");
    store_txn_abort(&t);
    store_close(st);
}

static void test_children_and_iter(const char *dir)
{
    store *st = open_store(dir, key1, 0);
    store_txn t, c;
    skey k, p, from;
    store_iter it;
    unsigned char *v;
    size_t n;
    uint64_t seen[8];
    size_t ns = 0;

    store_txn_begin(st, &t, false);
    key_for(&k, 'N', 1);
    store_put(&t, T_GRANTS, &k, "one", 3);
    store_txn_begin_child(&t, &c);
    key_for(&k, 'N', 2);
    store_put(&c, T_GRANTS, &k, "two", 3);
    store_txn_fail(&c, KERR_CONFLICT);
    CHECK(store_txn_commit(&c) == KERR_CONFLICT, "failed child commit returns its error");
    CHECK(t.err == KERR_OK && t.child == NULL, "a child's error does not poison the parent");
    CHECK(store_get(&t, T_GRANTS, &k, &v, &n) == KERR_NOT_FOUND, "aborted child's write is gone");
    store_txn_begin_child(&t, &c);
    key_for(&k, 'N', 3);
    store_put(&c, T_GRANTS, &k, "three", 5);
    CHECK(store_txn_commit(&c) == KERR_OK, "child commit");
    CHECK(store_get(&t, T_GRANTS, &k, &v, &n) == KERR_OK && n == 5, "child's write visible in parent");
    store_val_free(v, n);
    for (uint64_t i = 10; i < 15; i++) {
        key_for(&k, 'N', i);
        store_put(&t, T_GRANTS, &k, "x", 1);
    }
    key_for(&k, 'O', 0);
    store_put(&t, T_GRANTS, &k, "other", 5);
    CHECK(store_txn_commit(&t) == KERR_OK, "parent commit");

    store_txn_begin(st, &t, false);
    store_txn_begin_child(&t, &c);
    key_for(&k, 'N', 1);
    CHECK(store_get(&t, T_GRANTS, &k, &v, &n) == KERR_INTERNAL, "using a parent with an open child poisons it");
    store_txn_abort(&c);
    CHECK(store_txn_commit(&t) == KERR_INTERNAL, "... and it aborts");

    store_txn_begin(st, &t, true);
    skey_reset(&p);
    skey_u8(&p, 'N');
    key_for(&from, 'N', 3);
    for (store_iter_begin(&it, &t, T_GRANTS, &p, &from); store_iter_next(&it);) {
        size_t kl;
        const unsigned char *kb = store_iter_key(&it, &kl);
        if (ns < 8 && kl == 9)
            seen[ns++] = store_be64(kb + 1);
        if (store_iter_get(&it, &v, &n) == KERR_OK)
            store_val_free(v, n);
    }
    store_iter_end(&it);
    CHECK(t.err == KERR_OK && ns == 6 && seen[0] == 3 && seen[1] == 10 && seen[5] == 14,
          "iteration: prefix N from 3 gives 3,10..14 in order (got %zu)", ns);
    store_txn_abort(&t);
    store_close(st);
}

static void test_map_full(const char *dir)
{
    const size_t map = 256 * 1024;
    store *st = open_store(dir, key1, map);
    unsigned char val[1500];
    store_txn t;
    skey k;
    kerr e = KERR_OK;
    uint64_t i, written = 0;
    unsigned char *v;
    size_t n;

    memset(val, 'v', sizeof val);
    CHECK(st != NULL, "open with a 256 KiB map");
    if (!st)
        return;
    for (i = 0; i < 1000; i++) {
        store_txn_begin(st, &t, false);
        key_for(&k, 'F', i);
        store_put(&t, T_DOSSIER, &k, val, sizeof val);
        e = store_txn_commit(&t);
        if (e != KERR_OK)
            break;
        written++;
    }
    CHECK(e == KERR_STORAGE_FULL && t.rc == MDB_MAP_FULL, "filling the map ends in storage_full (after %llu)",
          (unsigned long long)written);

    store_txn_begin(st, &t, false);
    key_for(&k, 'F', 9999);
    store_put(&t, T_DOSSIER, &k, val, sizeof val);
    key_for(&k, 'F', 10000);
    CHECK(store_put(&t, T_DOSSIER, &k, val, sizeof val) == KERR_STORAGE_FULL, "a full txn stays storage_full");
    CHECK(store_txn_commit(&t) == KERR_STORAGE_FULL, "and its commit aborts with storage_full");

    store_txn_begin(st, &t, true);
    key_for(&k, 'F', written - 1);
    CHECK(store_get(&t, T_DOSSIER, &k, &v, &n) == KERR_OK && n == sizeof val, "reads still work when full");
    store_val_free(v, n);
    store_txn_abort(&t);

    for (i = 0; i < written / 2; i++) {
        store_txn_begin(st, &t, false);
        key_for(&k, 'F', i);
        store_del(&t, T_DOSSIER, &k);
        if (store_txn_commit(&t) != KERR_OK)
            break;
    }
    CHECK(i == written / 2, "deletes commit on a full map");
    store_txn_begin(st, &t, false);
    key_for(&k, 'G', 1);
    store_put(&t, T_DOSSIER, &k, val, sizeof val);
    CHECK(store_txn_commit(&t) == KERR_OK, "writes succeed again after deletes");
    store_close(st);
}

/* Whether NEEDLE occurs in any file of DIR; *files counts the files read, *bytes their size. */
static int dir_contains(const char *dir, const char *needle, int *files, size_t *bytes)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int found = 0;
    *files = 0;
    *bytes = 0;
    if (!d)
        return -1;
    while ((de = readdir(d))) {
        char p[512];
        FILE *f;
        unsigned char *buf;
        long sz;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (!(f = fopen(p, "rb")))
            continue;
        fseek(f, 0, SEEK_END);
        sz = ftell(f);
        fseek(f, 0, SEEK_SET);
        buf = malloc(sz > 0 ? (size_t)sz : 1);
        if (sz > 0 && fread(buf, 1, (size_t)sz, f) == (size_t)sz) {
            (*files)++;
            *bytes += (size_t)sz;
            if (memmem(buf, (size_t)sz, needle, strlen(needle)))
                found = 1;
        }
        free(buf);
        fclose(f);
    }
    closedir(d);
    return found;
}

static void test_markers(const char *dir)
{
    store *st = open_store(dir, key1, 0);
    store_txn t;
    skey k;
    char id[64], val[256];
    int files;
    size_t bytes;

    store_txn_begin(st, &t, false);
    for (int i = 0; i < 200; i++) {
        snprintf(id, sizeof id, "MARKER-burger-4711-%d", i);
        snprintf(val, sizeof val, "{\"title\":\"MARKER-plan-geheim %d\",\"owner\":\"MARKER-burger-4711\"}", i);
        skey_reset(&k);
        skey_u8(&k, 'D');
        skey_id(&k, st, id, strlen(id));
        store_put(&t, T_DOSSIER, &k, val, strlen(val));
        skey_reset(&k);
        skey_u8(&k, 'G');
        skey_id(&k, st, "MARKER-burger-4711", 18);
        skey_u64(&k, (uint64_t)i);
        store_put(&t, T_GRANTS, &k, id, strlen(id));
    }
    /* A control: a public value, unsealed on purpose, proves the scan sees values. */
    key_for(&k, 'P', 1);
    store_put_raw(&t, T_PUBLIC, &k, "CONTROL-public-root", 19);
    CHECK(store_txn_commit(&t) == KERR_OK, "marker records committed");
    store_close(st);

    CHECK(dir_contains(dir, "CONTROL-public-root", &files, &bytes) == 1,
          "control: the raw public value is visible on disk (scan works)");
    CHECK(dir_contains(dir, "MARKER", &files, &bytes) == 0, "no marker in any file of the vault (%d files, %zu bytes)",
          files, bytes);
    CHECK(dir_contains(dir, "burger-4711", &files, &bytes) == 0, "no citizen id on disk");
    CHECK(dir_contains(dir, "plan-geheim", &files, &bytes) == 0, "no content on disk");
    CHECK(files >= 1, "scanned data.mdb");
}


/* store_get_last: the last key under a prefix, whatever follows it in the table. */
static void put_key(store_txn *t, const char *k, size_t n, const char *val)
{
    skey key;
    skey_reset(&key);
    skey_bytes(&key, k, n);
    store_put(t, T_DOSSIER, &key, val, strlen(val));
}

static int last_is(store_txn *t, const char *prefix, size_t pn, const char *want, size_t wn, const char *val)
{
    skey p, k;
    unsigned char out[32];
    size_t len = 99;
    skey_reset(&p);
    skey_bytes(&p, prefix, pn);
    if (!want)
        return store_get_last(t, T_DOSSIER, &p, &k, out, sizeof out, &len) == KERR_NOT_FOUND && t->err == KERR_OK;
    if (store_get_last(t, T_DOSSIER, &p, &k, out, sizeof out, &len) != KERR_OK || k.len != wn ||
        memcmp(k.b, want, wn) != 0 || len != strlen(val) || memcmp(out, val, len) != 0)
        return 0;
    return store_get_last(t, T_DOSSIER, &p, &k, NULL, 0, &len) == KERR_OK && k.len == wn; /* key only */
}

static void test_get_last(const char *dir)
{
    store_opts o = {.tables = tables, .n_tables = T_COUNT};
    store *st = NULL;
    store_txn t;
    CHECK(store_open(&st, dir, key1, &o) == KERR_OK, "open for store_get_last");
    if (!st)
        return;
    store_txn_begin(st, &t, false);
    CHECK(last_is(&t, "a", 1, NULL, 0, NULL), "get_last on an empty table: not found, txn healthy");
    put_key(&t, "a", 1, "1");
    put_key(&t, "ab", 2, "2");
    put_key(&t, "ac", 2, "3");
    put_key(&t, "b", 1, "4");
    put_key(&t, "\x01\xff", 2, "5");
    put_key(&t, "\x01\xff\x05", 3, "6");
    put_key(&t, "\x02", 1, "7");
    put_key(&t, "\xff\xff\x01", 3, "8");
    CHECK(last_is(&t, "a", 1, "ac", 2, "3"), "the last key under a prefix, with keys after it");
    CHECK(last_is(&t, "b", 1, "b", 1, "4"), "a key equal to the prefix, the last under it");
    CHECK(last_is(&t, "\x01\xff", 2, "\x01\xff\x05", 3, "6"), "a prefix ending in 0xFF");
    CHECK(last_is(&t, "\xff\xff", 2, "\xff\xff\x01", 3, "8"), "a prefix of 0xFF bytes at the end of the table");
    CHECK(last_is(&t, "c", 1, NULL, 0, NULL), "no key under the prefix (keys before and after it): not found");
    CHECK(last_is(&t, "\x03", 1, NULL, 0, NULL), "none under a prefix between two keys");
    CHECK(store_txn_commit(&t) == KERR_OK, "commit");
    store_txn_begin(st, &t, true);
    CHECK(last_is(&t, "a", 1, "ac", 2, "3"), "get_last in a read transaction");
    store_txn_abort(&t);
    store_close(st);
}

/* store_txn_snapshot / store_unchanged_since: what a writer may take over from a reader's snapshot. */
static void test_unchanged_since(const char *dir)
{
    store *st = open_store(dir, key1, 0);
    store_txn w, r, r2;
    skey k;
    if (!st) {
        CHECK(0, "open for the change marks");
        return;
    }
    key_for(&k, 'g', 1);
    store_txn_begin(st, &w, false);
    CHECK(store_txn_snapshot(&w) == 0, "a write transaction has no snapshot (0)");
    store_put(&w, T_GRANTS, &k, "v1", 2);
    CHECK(store_txn_commit(&w) == KERR_OK, "a first grant written");

    store_txn_begin(st, &r, true);
    uint64_t snap = store_txn_snapshot(&r);
    CHECK(snap > 0, "a read transaction's snapshot is its commit's id (%llu)", (unsigned long long)snap);
    CHECK(store_unchanged_since(st, T_GRANTS, snap) && store_unchanged_since(st, T_DOSSIER, snap),
          "nothing written since the snapshot: every table unchanged");
    CHECK(!store_unchanged_since(st, T_GRANTS, 0) && !store_unchanged_since(st, T_COUNT, snap),
          "snapshot 0 and a table out of range: never unchanged");

    /* a write to another table leaves GRANTS unchanged */
    store_txn_begin(st, &w, false);
    key_for(&k, 'd', 1);
    store_put(&w, T_DOSSIER, &k, "x", 1);
    CHECK(!store_unchanged_since(st, T_DOSSIER, snap), "the open write transaction's own put counts at once");
    CHECK(store_unchanged_since(st, T_GRANTS, snap), "a put in another table leaves this one unchanged");
    CHECK(store_txn_commit(&w) == KERR_OK, "commit");

    /* a put, then discarded: counted (too much costs a re-read, never a missed change) */
    store_txn_begin(st, &w, false);
    key_for(&k, 'g', 2);
    store_put(&w, T_GRANTS, &k, "v2", 2);
    store_txn_abort(&w);
    CHECK(!store_unchanged_since(st, T_GRANTS, snap), "a discarded put counts too");

    /* a delete, committed: changed for the old snapshot, unchanged for one taken after it */
    store_txn_begin(st, &w, false);
    key_for(&k, 'g', 1);
    CHECK(store_del(&w, T_GRANTS, &k) == KERR_OK, "delete the grant");
    CHECK(store_txn_commit(&w) == KERR_OK, "commit the delete");
    CHECK(!store_unchanged_since(st, T_GRANTS, snap), "a delete after the snapshot: changed");
    store_txn_begin(st, &r2, true);
    uint64_t snap2 = store_txn_snapshot(&r2);
    CHECK(snap2 > snap && store_unchanged_since(st, T_GRANTS, snap2),
          "a snapshot that sees the delete: unchanged since it");
    store_txn_abort(&r2);
    store_txn_abort(&r);
    store_close(st);

    /* a reopened store: every snapshot sees what was written before */
    st = open_store(dir, key1, 0);
    if (st) {
        store_txn_begin(st, &r, true);
        CHECK(store_unchanged_since(st, T_GRANTS, store_txn_snapshot(&r)),
              "after store_open, a snapshot sees everything written before: unchanged");
        store_txn_abort(&r);
        store_close(st);
    }
}

/* store_warm() walks every record under its prefix exactly once, whatever the thread count and
 * the keys' lengths (the prefix itself, one byte after it, 0xFF after it, long keys). */
static size_t warm_count(store *st, store_table tab, const char *pre, size_t pn, unsigned threads, kerr *e)
{
    skey p;
    size_t n = 12345;
    skey_reset(&p);
    skey_bytes(&p, pre, pn);
    *e = store_warm(st, tab, pn ? &p : NULL, threads, NULL, &n);
    return n;
}

static void test_warm(const char *dir)
{
    store_opts o = {.tables = tables, .n_tables = T_COUNT, .env_flags = MDB_NORDAHEAD};
    store *st = NULL;
    store_txn t;
    kerr e;
    CHECK(store_open(&st, dir, key1, &o) == KERR_OK, "open for store_warm (readahead off)");
    if (!st)
        return;
    uint64_t b0 = 1, b1 = 0;
    CHECK(store_table_bytes(st, T_DOSSIER, &b0) == KERR_OK && b0 == 0, "an empty table takes no pages (%llu)",
          (unsigned long long)b0);
    CHECK(warm_count(st, T_DOSSIER, NULL, 0, 4, &e) == 0 && e == KERR_OK, "warming an empty table walks nothing");
    const size_t under_a = 5 + 3000, total = under_a + 4;
    store_txn_begin(st, &t, false);
    put_key(&t, "a", 1, "the prefix itself");
    put_key(&t, "a\x05", 2, "one byte after it");
    put_key(&t, "a\x05\x00", 3, "x");
    put_key(&t, "a\xff", 2, "x");
    put_key(&t, "a\xff\xff\xff", 4, "x");
    for (unsigned i = 0; i < 3000; i++) {
        unsigned char k[9] = {'a'};
        store_be64_put(k + 1, (uint64_t)i * 0x9E3779B97F4A7C15ULL);
        skey key;
        skey_reset(&key);
        skey_bytes(&key, k, sizeof k);
        store_put(&t, T_DOSSIER, &key, "value of a record, long enough to fill pages", 45);
    }
    put_key(&t, "\x00", 1, "x");
    put_key(&t, "b", 1, "x");
    put_key(&t, "b\x00\x00\x01", 4, "x");
    put_key(&t, "\xff\xff", 2, "x");
    skey g;
    skey_reset(&g);
    skey_bytes(&g, "a\x05", 2);
    store_put(&t, T_GRANTS, &g, "other table", 11);
    CHECK(store_txn_commit(&t) == KERR_OK, "commit %zu records", total);
    CHECK(store_table_bytes(st, T_DOSSIER, &b1) == KERR_OK && b1 >= 4 * 4096 && b1 % 4096 == 0,
          "the table's pages, in bytes (%llu)", (unsigned long long)b1);
    unsigned th[] = {1, 3, 16, STORE_WARM_THREADS_MAX};
    for (size_t i = 0; i < sizeof th / sizeof th[0]; i++) {
        size_t n = warm_count(st, T_DOSSIER, NULL, 0, th[i], &e);
        CHECK(e == KERR_OK && n == total, "whole table, %u threads: every record once (%zu of %zu)", th[i], n, total);
        n = warm_count(st, T_DOSSIER, "a", 1, th[i], &e);
        CHECK(e == KERR_OK && n == under_a, "prefix a, %u threads: %zu of %zu", th[i], n, under_a);
    }
    CHECK(warm_count(st, T_DOSSIER, "b", 1, 2, &e) == 2, "prefix b: the prefix itself and one longer key");
    size_t under_a5 = 2; /* "a\x05", "a\x05\x00", and the numbered keys whose first byte is 5 */
    for (unsigned i = 0; i < 3000; i++)
        under_a5 += ((uint64_t)i * 0x9E3779B97F4A7C15ULL) >> 56 == 5;
    CHECK(warm_count(st, T_DOSSIER, "a\x05", 2, 2, &e) == under_a5, "a two-byte prefix: %zu", under_a5);
    CHECK(warm_count(st, T_DOSSIER, "\xff", 1, 2, &e) == 1, "a 0xFF prefix at the end of the table");
    CHECK(warm_count(st, T_DOSSIER, "c", 1, 2, &e) == 0 && e == KERR_OK, "no key under the prefix");
    CHECK(warm_count(st, T_GRANTS, NULL, 0, 2, &e) == 1, "another table: its own records only");
    atomic_bool stop;
    atomic_init(&stop, true);
    size_t n = 99;
    CHECK(store_warm(st, T_DOSSIER, NULL, 4, &stop, &n) == KERR_OK && n == 0, "a stop set before: nothing walked");
    CHECK(warm_count(st, T_DOSSIER, NULL, 0, 0, &e) == 0 && e == KERR_BAD_REQUEST, "0 threads refused");
    CHECK(warm_count(st, T_DOSSIER, NULL, 0, STORE_WARM_THREADS_MAX + 1, &e) == 0 && e == KERR_BAD_REQUEST,
          "more than STORE_WARM_THREADS_MAX threads refused");
    CHECK(store_warm(st, T_COUNT, NULL, 1, NULL, &n) == KERR_BAD_REQUEST, "a bad table refused");
    CHECK(store_table_bytes(st, T_COUNT, &b1) == KERR_BAD_REQUEST, "table bytes: a bad table refused");
    store_close(st);
    /* Opened with another storage key no value opens; a warm that unsealed any would fail. */
    st = NULL;
    CHECK(store_open(&st, dir, key2, &o) == KERR_OK && st, "reopen with another storage key");
    if (!st)
        return;
    store_txn_begin(st, &t, true);
    unsigned char *val = NULL;
    size_t len = 0;
    skey ka;
    skey_reset(&ka);
    skey_bytes(&ka, "a", 1);
    CHECK(store_get(&t, T_DOSSIER, &ka, &val, &len) != KERR_OK, "another key: a value does not open");
    store_val_free(val, len);
    store_txn_abort(&t);
    CHECK(warm_count(st, T_DOSSIER, NULL, 0, 4, &e) == total && e == KERR_OK,
          "another key: the warm still walks every record (it unseals nothing)");
    store_close(st);
}

int main(void)
{
    char dir[64];
    if (sodium_init() < 0)
        return 2;
    randombytes_buf(key1, sizeof key1);
    randombytes_buf(key2, sizeof key2);

    test_translate();
#define WITH_DIR(fn)            \
    do {                        \
        mktemp_dir(dir);        \
        fn(dir);                \
        rm_dir(dir);            \
    } while (0)
    WITH_DIR(test_skey);
    WITH_DIR(test_open_refusals);
    WITH_DIR(test_basic_and_first_error);
    WITH_DIR(test_sealing);
    WITH_DIR(test_children_and_iter);
    WITH_DIR(test_map_full);
    WITH_DIR(test_markers);
    WITH_DIR(test_get_last);
    WITH_DIR(test_unchanged_since);
    WITH_DIR(test_warm);
    return TEST_END();
}
