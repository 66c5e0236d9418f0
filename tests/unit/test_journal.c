/*
 * tests/unit/test_journal.c — the citizen journal (SPEC §9): the chain against the shared vector,
 * the exact event bytes, stored append/list/head over 1,000 events through group commit, and
 * tampering found by recomputing the chain.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "tests/test.h"
#include "vault/encoding.h"
#include "vault/groupcommit.h"
#include "vault/journal.h"
#include "vault/store.h"

TEST_MAIN_DEFS

enum { T_JOURNAL, T_COUNT };
static const char *const tables[T_COUNT] = {"journal"};
static unsigned char skey1[STORE_KEYBYTES];

static void mktemp_dir(char *buf)
{
    strcpy(buf, "/tmp/kluis-journal-XXXXXX");
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

static void test_vector(void)
{
    char path[512];
    json_error_t jerr;
    json_t *root, *j, *events, *heads;
    unsigned char head[JOURNAL_HEADBYTES] = {0}, want[JOURNAL_HEADBYTES];

    snprintf(path, sizeof path, "%s/kluis-v1.json", test_vectors_dir());
    root = json_load_file(path, 0, &jerr);
    CHECK(root != NULL, "load %s", path);
    if (!root)
        return;
    j = json_object_get(json_object_get(root, "vectors"), "journal");
    if (!j)
        j = json_object_get(root, "journal");
    events = json_object_get(j, "events");
    heads = json_object_get(j, "heads");
    CHECK(json_array_size(events) == 2 && json_array_size(heads) == 2, "journal vector: two events, two heads");
    for (size_t i = 0; i < json_array_size(events); i++) {
        const char *ev = json_string_value(json_array_get(events, i));
        const char *hx = json_string_value(json_array_get(heads, i));
        if (!ev || !hx || hex_decode_exact(want, sizeof want, hx) != 0) {
            CHECK(0, "journal vector %zu well-formed", i);
            continue;
        }
        journal_chain(head, head, (const unsigned char *)ev, strlen(ev));
        CHECK_MEM(head, want, sizeof want, "journal vector: head %zu", i + 1);
    }
    json_decref(root);
}

static const journal_event ev_read = {
    .time = 1790000000,
    .actor = "wijk-anna",
    .actor_role = "professional",
    .organisation = "Wijkteam Noord / Zuid",
    .action = "read",
    .section = "plan",
    .basis = "g-1",
    .result = "allowed",
    .remote = "127.0.0.1",
};

static void test_event_json(void)
{
    const char *want = "{\"seq\":3,\"time\":1790000000,\"actor\":\"wijk-anna\",\"actor_role\":\"professional\","
                       "\"organisation\":\"Wijkteam Noord / Zuid\",\"action\":\"read\",\"section\":\"plan\","
                       "\"basis\":\"g-1\",\"result\":\"allowed\",\"remote\":\"127.0.0.1\"}";
    const char *want2 = "{\"seq\":1,\"time\":5,\"actor\":\"burger-0001\",\"actor_role\":\"citizen\","
                        "\"organisation\":\"\",\"action\":\"revoke\",\"basis\":\"own\",\"result\":\"allowed\","
                        "\"remote\":\"\"}";
    journal_event e2 = {.time = 5, .actor = "burger-0001", .actor_role = "citizen", .action = "revoke",
                        .basis = "own", .result = "allowed"};
    journal_event bad = ev_read;
    char *js;
    size_t n;

    CHECK(journal_event_json(&js, &n, 3, &ev_read) == KERR_OK && n == strlen(want) && !strcmp(js, want),
          "event JSON: exact compact bytes in field order");
    free(js);
    CHECK(journal_event_json(&js, &n, 1, &e2) == KERR_OK && !strcmp(js, want2),
          "event JSON: section omitted, NULL strings empty");
    free(js);
    bad.actor = "\xff\xfe";
    CHECK(journal_event_json(&js, &n, 1, &bad) == KERR_BAD_ENCODING && js == NULL, "event JSON: bad UTF-8 refused");
    bad = ev_read;
    bad.organisation = "Gemeente \xc3\xa9\xc3\xa9n";
    CHECK(journal_event_json(&js, &n, 1, &bad) == KERR_OK && strstr(js, "Gemeente \xc3\xa9\xc3\xa9n"),
          "event JSON: UTF-8 kept as is, not escaped");
    free(js);
}

/* ---------------------------------------------------------------- stored journal */

typedef struct append_op {
    const char *citizen;
    journal_event ev;
    uint64_t seq;
    unsigned char head[JOURNAL_HEADBYTES];
    kerr fail_after;
} append_op;

static kerr apply_append(store_txn *t, void *arg)
{
    append_op *a = arg;
    journal_append(t, T_JOURNAL, a->citizen, &a->ev, &a->seq, a->head);
    return a->fail_after;
}

typedef struct appender {
    gc *g;
    int n;
    int errors;
} appender;

static void *appender_main(void *p)
{
    appender *ap = p;
    for (int i = 0; i < ap->n; i++) {
        append_op a = {.citizen = "burger-0001", .ev = ev_read};
        a.ev.time = 1790000000 + i;
        if (gc_submit(ap->g, apply_append, &a) != KERR_OK)
            ap->errors++;
        /* interleave a second citizen */
        if (i % 25 == 0) {
            append_op b = {.citizen = "burger-0002", .ev = ev_read};
            if (gc_submit(ap->g, apply_append, &b) != KERR_OK)
                ap->errors++;
        }
    }
    return NULL;
}

/* Recompute the chain over every event of CITIZEN, listed in pages of PAGE. */
static int recompute(store *st, const char *citizen, size_t page, unsigned char head[JOURNAL_HEADBYTES],
                     uint64_t *count, int *seq_ok)
{
    store_txn t;
    uint64_t after = 0;
    journal_entry *e;
    size_t n;

    memset(head, 0, JOURNAL_HEADBYTES);
    *count = 0;
    *seq_ok = 1;
    store_txn_begin(st, &t, true);
    for (;;) {
        if (journal_list(&t, T_JOURNAL, citizen, after, page, &e, &n) != KERR_OK) {
            store_txn_abort(&t);
            return -1;
        }
        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++) {
            json_t *o = json_loadb((const char *)e[i].raw, e[i].raw_len, 0, NULL);
            if (e[i].seq != *count + 1 || !o ||
                json_integer_value(json_object_get(o, "seq")) != (json_int_t)e[i].seq)
                *seq_ok = 0;
            json_decref(o);
            journal_chain(head, head, e[i].raw, e[i].raw_len);
            (*count)++;
            after = e[i].seq;
        }
        journal_entries_free(e, n);
    }
    store_txn_abort(&t);
    return 0;
}

static void test_stored(const char *dir)
{
    store_opts o = {.tables = tables, .n_tables = T_COUNT};
    store *st = NULL;
    gc *g = NULL;
    appender ap[4];
    pthread_t th[4];
    int errors = 0, seq_ok;
    store_txn t;
    unsigned char head[JOURNAL_HEADBYTES], calc[JOURNAL_HEADBYTES];
    uint64_t count, ccount, bad_seq;
    journal_entry *e;
    size_t n;

    CHECK(store_open(&st, dir, skey1, &o) == KERR_OK && gc_start(&g, st, NULL) == KERR_OK, "open and start");
    if (!g)
        return;

    store_txn_begin(st, &t, true);
    CHECK(journal_head(&t, T_JOURNAL, "burger-0001", head, &count) == KERR_OK && count == 0 &&
          sodium_is_zero(head, sizeof head), "a fresh journal: count 0, head 32 zero bytes");
    CHECK(journal_list(&t, T_JOURNAL, "burger-0001", 0, 10, &e, &n) == KERR_OK && n == 0 && e == NULL,
          "a fresh journal lists nothing");
    store_txn_abort(&t);

    for (int i = 0; i < 4; i++) {
        ap[i] = (appender){.g = g, .n = 250};
        pthread_create(&th[i], NULL, appender_main, &ap[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        errors += ap[i].errors;
    }
    CHECK(errors == 0, "1,000 appends (and 40 for a second citizen) through group commit");

    {
        append_op a = {.citizen = "burger-0001", .ev = ev_read, .fail_after = KERR_CONFLICT};
        CHECK(gc_submit(g, apply_append, &a) == KERR_CONFLICT, "an append in a failing op fails");
        a = (append_op){.citizen = "burger-0001", .ev = ev_read};
        a.ev.actor = "\xc0\x80";
        CHECK(gc_submit(g, apply_append, &a) == KERR_BAD_ENCODING, "an append with bad UTF-8 fails its op");
    }
    gc_stop(g);

    store_txn_begin(st, &t, true);
    CHECK(journal_head(&t, T_JOURNAL, "burger-0001", head, &count) == KERR_OK && count == 1000,
          "head: count 1000 (failed appends left nothing)");
    CHECK(journal_verify(&t, T_JOURNAL, "burger-0001", &bad_seq) == KERR_OK, "journal_verify: chain intact");
    {
        /* one head per citizen, right after its last event: every append moved it along */
        skey p;
        store_iter it;
        size_t heads = 0, after_last = 0, nkeys = 0;
        journal_event_key(&p, st, "burger-0001", 0);
        p.len -= 8;
        for (store_iter_begin(&it, &t, T_JOURNAL, &p, NULL); store_iter_next(&it);) {
            size_t kl;
            const unsigned char *key = store_iter_key(&it, &kl);
            nkeys++;
            if (kl == p.len + 9 && key[kl - 1] == 0xFF) {
                heads++;
                after_last = store_be64(key + p.len) == 1000 && nkeys == 1001;
            }
        }
        store_iter_end(&it);
        CHECK(heads == 1 && after_last && nkeys == 1001,
              "one head key, prefix || be64(1000) || 0xFF, after the 1,000 events (%zu heads, %zu keys)", heads, nkeys);
    }
    CHECK(journal_verify(&t, T_JOURNAL, "burger-0002", &bad_seq) == KERR_OK, "journal_verify: second citizen intact");
    CHECK(journal_list(&t, T_JOURNAL, "burger-0001", 998, 10, &e, &n) == KERR_OK && n == 2 && e[0].seq == 999 &&
          e[1].seq == 1000, "list after 998: seq 999 and 1000");
    journal_entries_free(e, n);
    CHECK(journal_list(&t, T_JOURNAL, "burger-0001", 1000, 10, &e, &n) == KERR_OK && n == 0, "list after the end: none");
    {
        uint64_t c2;
        CHECK(journal_head(&t, T_JOURNAL, "burger-0002", calc, &c2) == KERR_OK && c2 == 40, "second citizen: 40 events");
    }
    store_txn_abort(&t);

    CHECK(recompute(st, "burger-0001", 100, calc, &ccount, &seq_ok) == 0 && ccount == 1000 && seq_ok,
          "list in pages of 100: seq 1..1000, each raw carries its seq");
    CHECK_MEM(calc, head, sizeof head, "recomputed chain over the raw bytes equals the stored head");
    CHECK(recompute(st, "burger-0001", 7, calc, &ccount, &seq_ok) == 0 && ccount == 1000 &&
          memcmp(calc, head, sizeof head) == 0, "same with pages of 7");

    /* Pure tampering: change one byte of one listed event. */
    {
        unsigned char h[JOURNAL_HEADBYTES] = {0};
        store_txn_begin(st, &t, true);
        journal_list(&t, T_JOURNAL, "burger-0001", 0, 1000, &e, &n);
        store_txn_abort(&t);
        CHECK(n == 1000, "list of 1000 in one call");
        if (n == 1000) {
            e[499].raw[10] ^= 1;
            for (size_t i = 0; i < n; i++)
                journal_chain(h, h, e[i].raw, e[i].raw_len);
            CHECK(memcmp(h, head, sizeof head) != 0, "one flipped byte in event 500 changes the head");
        }
        journal_entries_free(e, n);
    }

    /* Stored tampering by someone holding the storage key: rewrite event 500 with other content. */
    {
        skey k;
        char *js;
        size_t jl;
        journal_event forged = ev_read;
        forged.result = "denied:no_grant";
        store_txn_begin(st, &t, false);
        journal_event_key(&k, st, "burger-0001", 500);
        if (journal_event_json(&js, &jl, 500, &forged) == KERR_OK) {
            store_put(&t, T_JOURNAL, &k, js, jl);
            free(js);
        }
        CHECK(journal_verify(&t, T_JOURNAL, "burger-0001", &bad_seq) == KERR_CONFLICT,
              "journal_verify finds a rewritten event");
        store_txn_abort(&t);

        store_txn_begin(st, &t, false);
        journal_event_key(&k, st, "burger-0001", 700);
        store_del(&t, T_JOURNAL, &k);
        CHECK(journal_verify(&t, T_JOURNAL, "burger-0001", &bad_seq) == KERR_CONFLICT && bad_seq == 700,
              "journal_verify finds a deleted event (at seq %llu)", (unsigned long long)bad_seq);
        store_txn_abort(&t);

        store_txn_begin(st, &t, false);
        journal_event_key(&k, st, "burger-0001", 1000);
        store_del(&t, T_JOURNAL, &k);
        CHECK(journal_verify(&t, T_JOURNAL, "burger-0001", &bad_seq) == KERR_CONFLICT && bad_seq == 1001,
              "journal_verify finds a truncated tail");
        store_txn_abort(&t);

        store_txn_begin(st, &t, true);
        CHECK(journal_verify(&t, T_JOURNAL, "burger-0001", &bad_seq) == KERR_OK, "aborted tampering left it intact");
        store_txn_abort(&t);
    }
    store_close(st);
}


/* ---------------------------------------------------------------- older layouts */

/* Write CITIZEN's journal of N events as a vault before format 2 did: events under
 * 'E' || id_hash || be64(seq), the head beside them (format 1) or under 'H' || id_hash (format 0,
 * V0_HEAD); STALE_H adds a format-0 head left behind next to a format-1 one. HEAD gets the chain. */
static void write_old(store *st, const char *citizen, uint64_t n, int v0_head, int stale_h,
                      unsigned char head[JOURNAL_HEADBYTES])
{
    store_txn t;
    skey k;
    unsigned char rec[8 + JOURNAL_HEADBYTES] = {0};

    memset(head, 0, JOURNAL_HEADBYTES);
    store_txn_begin(st, &t, false);
    for (uint64_t i = 1; i <= n; i++) {
        char *js;
        size_t len;
        journal_event ev = ev_read;
        ev.time = 1780000000 + (int64_t)i;
        if (journal_event_json(&js, &len, i, &ev) != KERR_OK)
            break;
        journal_chain(head, head, (const unsigned char *)js, len);
        skey_reset(&k);
        skey_u8(&k, 'E');
        skey_id(&k, st, citizen, strlen(citizen));
        skey_u64(&k, i);
        store_put(&t, T_JOURNAL, &k, js, len);
        free(js);
    }
    store_be64_put(rec, n);
    memcpy(rec + 8, head, JOURNAL_HEADBYTES);
    skey_reset(&k);
    skey_u8(&k, v0_head ? 'H' : 'E');
    skey_id(&k, st, citizen, strlen(citizen));
    if (!v0_head)
        skey_u8(&k, 0xFF);
    store_put(&t, T_JOURNAL, &k, rec, sizeof rec);
    if (stale_h) {
        memset(rec, 0, sizeof rec);
        store_be64_put(rec, 1);
        skey_reset(&k);
        skey_u8(&k, 'H');
        skey_id(&k, st, citizen, strlen(citizen));
        store_put(&t, T_JOURNAL, &k, rec, sizeof rec);
    }
    CHECK(store_txn_commit(&t) == KERR_OK, "write %s's journal in the old layout (%llu events)", citizen,
          (unsigned long long)n);
}

/* How many keys of the journal table start with TAG. */
static size_t keys_with(store *st, uint8_t tag)
{
    store_txn t;
    store_iter it;
    skey p;
    size_t n = 0;
    skey_reset(&p);
    skey_u8(&p, tag);
    store_txn_begin(st, &t, true);
    for (store_iter_begin(&it, &t, T_JOURNAL, &p, NULL); store_iter_next(&it);)
        n++;
    store_iter_end(&it);
    store_txn_abort(&t);
    return n;
}

/* CITIZEN's stored head and count are WANT and N, and the chain over the stored events verifies. */
static int journal_is(store *st, const char *citizen, const unsigned char want[JOURNAL_HEADBYTES], uint64_t n)
{
    store_txn t;
    unsigned char head[JOURNAL_HEADBYTES];
    uint64_t count = 0, bad = 0;
    store_txn_begin(st, &t, true);
    int ok = journal_head(&t, T_JOURNAL, citizen, head, &count) == KERR_OK && count == n &&
             memcmp(head, want, sizeof head) == 0 && journal_verify(&t, T_JOURNAL, citizen, &bad) == KERR_OK;
    store_txn_abort(&t);
    return ok;
}

static void test_migrate(const char *dir)
{
    store_opts o = {.tables = tables, .n_tables = T_COUNT};
    store *st = NULL;
    gc *g = NULL;
    store_txn t;
    skey k;
    size_t moved = 99;
    unsigned char ha[JOURNAL_HEADBYTES], hb[JOURNAL_HEADBYTES], hc[JOURNAL_HEADBYTES];
    journal_entry *e = NULL;
    size_t n = 0;

    CHECK(store_open(&st, dir, skey1, &o) == KERR_OK, "open a store for the migration");
    if (!st)
        return;
    CHECK(journal_migrate(st, T_JOURNAL, 0, &moved) == KERR_OK && moved == 0, "an empty journal: nothing to move");

    write_old(st, "burger-A", 30, 0, 0, ha); /* format 1 */
    write_old(st, "burger-B", 5, 1, 0, hb);  /* format 1 events, format 0 head */
    write_old(st, "burger-C", 3, 0, 1, hc);  /* format 1, and a stale format-0 head */
    CHECK(keys_with(st, 'E') == 30 + 1 + 5 + 3 + 1 && keys_with(st, 'H') == 2 && keys_with(st, 'J') == 0,
          "the old layouts hold 42 records");
    CHECK(!journal_is(st, "burger-A", ha, 30), "before the move the journal does not read the old layout");

    /* The first batch's commit fails (EIO): nothing moves, and the next call does it all. */
    store_debug_fail_next_commit(st, EIO);
    CHECK(journal_migrate(st, T_JOURNAL, 7, &moved) != KERR_OK && moved == 0 && keys_with(st, 'J') == 0 &&
              keys_with(st, 'E') == 40,
          "a failed commit moves nothing");
    CHECK(journal_migrate(st, T_JOURNAL, 7, &moved) == KERR_OK && moved == 42,
          "the migration moves all 42 records, 7 per transaction (%zu)", moved);
    CHECK(keys_with(st, 'E') == 0 && keys_with(st, 'H') == 0 && keys_with(st, 'J') == 30 + 1 + 5 + 1 + 3 + 1,
          "afterwards every record is in the 'J' layout, the stale head dropped");
    CHECK(journal_is(st, "burger-A", ha, 30) && journal_is(st, "burger-B", hb, 5) && journal_is(st, "burger-C", hc, 3),
          "heads, counts and chains are those written (a format-0 head too)");
    store_txn_begin(st, &t, true);
    CHECK(journal_list(&t, T_JOURNAL, "burger-A", 28, 10, &e, &n) == KERR_OK && n == 2 && e[0].seq == 29 &&
              e[1].seq == 30 && strstr((const char *)e[1].raw, "\"seq\":30,\"time\":1780000030,"),
          "the moved events list with their exact bytes");
    journal_entries_free(e, n);
    store_txn_abort(&t);
    CHECK(journal_migrate(st, T_JOURNAL, 7, &moved) == KERR_OK && moved == 0, "a second run moves nothing");

    /* Appends go on from the moved head. */
    CHECK(gc_start(&g, st, NULL) == KERR_OK, "start a committer");
    append_op a = {.citizen = "burger-A", .ev = ev_read};
    CHECK(g && gc_submit(g, apply_append, &a) == KERR_OK && a.seq == 31, "the next append is seq 31");
    gc_stop(g);
    store_txn_begin(st, &t, true);
    uint64_t bad = 0;
    CHECK(journal_verify(&t, T_JOURNAL, "burger-A", &bad) == KERR_OK, "and the chain verifies across the move");
    store_txn_abort(&t);

    /* An older kluisd writing to the migrated vault: both layouts hold seq 31. Nothing is overwritten. */
    store_txn_begin(st, &t, false);
    skey_reset(&k);
    skey_u8(&k, 'E');
    skey_id(&k, st, "burger-A", 8);
    skey_u64(&k, 31);
    store_put(&t, T_JOURNAL, &k, "{}", 2);
    CHECK(store_txn_commit(&t) == KERR_OK, "an old-layout event beside the new one");
    CHECK(journal_migrate(st, T_JOURNAL, 0, &moved) == KERR_CONFLICT && moved == 0 && keys_with(st, 'E') == 1,
          "a record in both layouts is a conflict, and nothing moves");
    store_txn_begin(st, &t, true);
    CHECK(journal_verify(&t, T_JOURNAL, "burger-A", &bad) == KERR_OK, "the current journal is untouched");
    store_txn_abort(&t);

    /* A key of no known shape is refused. */
    store_txn_begin(st, &t, false);
    store_del(&t, T_JOURNAL, &k);
    skey_reset(&k);
    skey_u8(&k, 'E');
    skey_u8(&k, 1);
    store_put(&t, T_JOURNAL, &k, "x", 1);
    CHECK(store_txn_commit(&t) == KERR_OK, "a short 'E' key");
    CHECK(journal_migrate(st, T_JOURNAL, 0, &moved) == KERR_INTERNAL && keys_with(st, 'E') == 1,
          "a key of unknown shape is refused, nothing moved");
    store_close(st);
}

int main(void)
{
    char dir[64];
    if (sodium_init() < 0)
        return 2;
    randombytes_buf(skey1, sizeof skey1);
    test_vector();
    test_event_json();
    mktemp_dir(dir);
    test_stored(dir);
    rm_dir(dir);
    mktemp_dir(dir);
    test_migrate(dir);
    rm_dir(dir);
    return TEST_END();
}
