/*
 * tests/unit/test_journal.c — the citizen journal, format 3 (SPEC §9, vault/journal.h).
 *
 * Pure parts: the chain against the shared vector and the exact event bytes. Stored journal: every
 * expectation is checked against a model kept here (count and head recomputed with journal_chain
 * over journal_event_json's bytes), not against the journal's own answers. The writer's side is
 * driven as the group committer drives it (child transactions + journal_op_end, journal_pre_commit,
 * store_txn_commit, journal_post_commit); readers use journal_read_begin/journal_list/journal_verify.
 * Covered: seq numbering and chains of interleaved citizens, pagination, readers seeing only
 * committed state (also from another thread, while the writer goes on), rollback of nested
 * operations and of whole batches (aborted, failed commit), replay after close/reopen, the
 * checkpoint ('S' records and 'M'; a round over a table that grows in its middle; the table's
 * memory touched only where heads are), stored tampering found by verify/list/open, and the migration
 * of formats 2, 1 and 0 (batches, a failed commit, resume of an interrupted migration, conflicts,
 * bad heads, unknown keys).
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "tests/test.h"
#include "tests/api/load.h"
#include "vault/encoding.h"
#include "vault/journal.h"
#include "vault/store.h"

TEST_MAIN_DEFS

enum { T_OTHER, T_JOURNAL, T_COUNT };
/* a second table first, so the journal's handle is not 0 */
static const char *const tables[T_COUNT] = {"other", "journal"};
static unsigned char skey1[STORE_KEYBYTES];

#define HB JOURNAL_HEADBYTES

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

static store *open_store(const char *dir)
{
    store_opts o = {.tables = tables, .n_tables = T_COUNT};
    store *st = NULL;
    kerr e = store_open(&st, dir, skey1, &o);
    CHECK(e == KERR_OK && st, "open a store in %s", dir);
    return e == KERR_OK ? st : NULL;
}

/* ---------------------------------------------------------------- pure parts */

static void test_vector(void)
{
    char path[512];
    json_error_t jerr;
    json_t *root, *j, *events, *heads;
    unsigned char head[HB] = {0}, want[HB];

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
    const char *want3 = "{\"seq\":18446744073709551615,\"time\":-1,";
    journal_event e2 = {.time = 5, .actor = "burger-0001", .actor_role = "citizen", .action = "revoke",
                        .basis = "own", .result = "allowed"};
    journal_event bad = ev_read;
    unsigned char h1[HB], h2[HB], z[HB] = {0};
    char *js;
    size_t n;

    CHECK(journal_event_json(&js, &n, 3, &ev_read) == KERR_OK && n == strlen(want) && !strcmp(js, want),
          "event JSON: exact compact bytes in field order");
    free(js);
    CHECK(journal_event_json(&js, &n, 1, &e2) == KERR_OK && n == strlen(want2) && !strcmp(js, want2),
          "event JSON: section omitted, NULL strings empty");
    free(js);
    bad.actor = "\xff\xfe";
    CHECK(journal_event_json(&js, &n, 1, &bad) == KERR_BAD_ENCODING && js == NULL, "event JSON: bad UTF-8 refused");
    bad = ev_read;
    bad.remote = "\xc0\x80"; /* overlong NUL */
    CHECK(journal_event_json(&js, &n, 1, &bad) == KERR_BAD_ENCODING && js == NULL,
          "event JSON: overlong UTF-8 refused");
    bad = ev_read;
    bad.organisation = "Gemeente \xc3\xa9\xc3\xa9n";
    CHECK(journal_event_json(&js, &n, 1, &bad) == KERR_OK &&
              strstr(js, "\"organisation\":\"Gemeente \xc3\xa9\xc3\xa9n\","),
          "event JSON: UTF-8 kept as is, not escaped");
    free(js);
    bad = ev_read;
    bad.organisation = "a\"b\\c\n";
    CHECK(journal_event_json(&js, &n, 1, &bad) == KERR_OK && n == strlen(js) &&
              strstr(js, "\"organisation\":\"a\\\"b\\\\c\\n\","),
          "event JSON: quote, backslash and newline escaped as JSON");
    free(js);
    /* a seq beyond INT64_MAX is either refused or written exactly; never wrapped to a negative */
    bad = ev_read;
    bad.time = -1;
    {
        kerr e = journal_event_json(&js, &n, UINT64_MAX, &bad);
        CHECK((e == KERR_OK && !strncmp(js, want3, strlen(want3))) || (e != KERR_OK && js == NULL),
              "event JSON: seq 2^64-1 written exactly or refused (%d)", (int)e);
        free(js);
    }
    journal_chain(h1, z, (const unsigned char *)want, strlen(want));
    memcpy(h2, z, HB);
    journal_chain(h2, h2, (const unsigned char *)want, strlen(want));
    CHECK_MEM(h1, h2, HB, "journal_chain: NEXT may alias PREV");
    journal_chain(h2, z, (const unsigned char *)want, strlen(want) - 1);
    CHECK(memcmp(h1, h2, HB) != 0, "journal_chain: covers the last byte");
}

/* ---------------------------------------------------------------- the model */

/* A citizen's journal as this test expects it: count and head recomputed here. */
typedef struct model {
    const char *citizen;
    uint64_t count;
    unsigned char head[HB];
    int64_t base; /* event seq s carries time base + s */
} model;

static journal_event event_of(const model *m, uint64_t seq)
{
    journal_event ev = ev_read;
    ev.time = m->base + (int64_t)seq;
    return ev;
}

/* The event JSON of M's event SEQ (free()); NULL on failure. */
static char *json_of(const model *m, uint64_t seq, size_t *len)
{
    char *js;
    journal_event ev = event_of(m, seq);
    if (journal_event_json(&js, len, seq, &ev) != KERR_OK)
        return NULL;
    return js;
}

/* Advance M by its next event, as the chain says. */
static void model_step(model *m)
{
    size_t len;
    char *js = json_of(m, m->count + 1, &len);
    if (js)
        journal_chain(m->head, m->head, (const unsigned char *)js, len);
    free(js);
    m->count++;
}

/* Append M's next event in T; M follows. 1 when the seq and head given back are the model's. */
static int m_add(journal *j, store_txn *t, model *m)
{
    uint64_t seq = 0;
    unsigned char h[HB];
    journal_event ev = event_of(m, m->count + 1);
    kerr e = journal_append(j, t, m->citizen, &ev, &seq, h);
    model_step(m);
    return e == KERR_OK && seq == m->count && memcmp(h, m->head, HB) == 0;
}

/* The writer's end of a batch, as the group committer does it. */
static kerr finish(journal *j, store_txn *t)
{
    kerr e = journal_pre_commit(j, t);
    if (e != KERR_OK)
        store_txn_fail(t, e);
    e = store_txn_commit(t);
    journal_post_commit(j, e);
    return e;
}

/*
 * Read CITIZEN's committed journal with journal_read_begin and journal_list in pages of PAGE and
 * check it on the way: seq 1..count in order, raw NUL-terminated and starting {"seq":N, — and the
 * chain over the raw bytes is the position's head. 1 when all holds; *POS gets the position.
 */
static int read_all(journal *j, const char *citizen, size_t page, journal_pos *pos_out)
{
    store_txn t;
    journal_pos pos;
    journal_entry *e;
    size_t n;
    uint64_t after = 0, got = 0;
    unsigned char h[HB] = {0};
    int ok = 1;

    memset(&pos, 0xAA, sizeof pos);
    if (journal_read_begin(j, citizen, &t, &pos) != KERR_OK) {
        store_txn_abort(&t);
        if (pos_out)
            memset(pos_out, 0, sizeof *pos_out);
        return 0;
    }
    for (;;) {
        if (journal_list(j, &t, &pos, after, page, &e, &n) != KERR_OK) {
            ok = 0;
            break;
        }
        if (n == 0) {
            ok &= e == NULL;
            break;
        }
        ok &= n <= page;
        for (size_t i = 0; i < n; i++) {
            char pre[40];
            int pl = snprintf(pre, sizeof pre, "{\"seq\":%llu,", (unsigned long long)(got + 1));
            ok &= e[i].seq == got + 1 && e[i].raw && e[i].raw[e[i].raw_len] == 0 && e[i].raw_len > (size_t)pl &&
                  memcmp(e[i].raw, pre, (size_t)pl) == 0;
            journal_chain(h, h, e[i].raw, e[i].raw_len);
            got++;
            after = e[i].seq;
        }
        journal_entries_free(e, n);
        if (!ok || got > pos.count)
            break;
    }
    store_txn_abort(&t);
    {
        skey idk;
        skey_reset(&idk);
        skey_id16(&idk, t.st, citizen, strlen(citizen));
        ok &= memcmp(pos.id, idk.b, STORE_IDSHORT) == 0;
    }
    ok &= got == pos.count && memcmp(h, pos.head, HB) == 0 && (pos.count == 0) == (pos.last == 0);
    if (pos_out)
        *pos_out = pos;
    return ok;
}

/* The committed journal of M's citizen is M: read and listed (pages of PAGE), and it verifies. */
static int m_is(journal *j, const model *m, size_t page)
{
    journal_pos pos;
    uint64_t bad = 12345;
    int ok = read_all(j, m->citizen, page, &pos);
    return ok && pos.count == m->count && memcmp(pos.head, m->head, HB) == 0 &&
           journal_verify(j, m->citizen, &bad) == KERR_OK;
}

/* The writer's view in T of M's citizen is M. */
static int m_head_is(journal *j, store_txn *t, const model *m)
{
    unsigned char h[HB];
    uint64_t c = 99;
    return journal_head(j, t, m->citizen, h, &c) == KERR_OK && c == m->count && memcmp(h, m->head, HB) == 0;
}

/* ---------------------------------------------------------------- raw records */

static void id16_of(store *st, const char *citizen, unsigned char out[STORE_IDSHORT])
{
    skey k;
    skey_reset(&k);
    skey_id16(&k, st, citizen, strlen(citizen));
    memcpy(out, k.b, STORE_IDSHORT);
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

/* The one-byte meta record TAG ('M', 'N'): 1 and *G when present (8 bytes), 0 when absent, -1
 * when malformed. */
static int get_tag(store *st, uint8_t tag, uint64_t *g)
{
    store_txn t;
    skey k;
    unsigned char v[64];
    size_t len = 0;
    kerr e;
    skey_reset(&k);
    skey_u8(&k, tag);
    store_txn_begin(st, &t, true);
    e = store_get_buf(&t, T_JOURNAL, &k, v, sizeof v, &len);
    store_txn_abort(&t);
    if (e == KERR_NOT_FOUND)
        return 0;
    if (e != KERR_OK || len != 8)
        return -1;
    *g = store_be64(v);
    return 1;
}

/* The checkpoint 'M', as get_tag(). */
static int get_m(store *st, uint64_t *g)
{
    return get_tag(st, 'M', g);
}

/* The stored (sealed) bytes of 'M' into OUT (capacity 128); their length, 0 when absent. */
static size_t m_raw(store *st, unsigned char out[128])
{
    store_txn t;
    skey k;
    const void *v;
    size_t len = 0;
    skey_reset(&k);
    skey_u8(&k, 'M');
    store_txn_begin(st, &t, true);
    if (store_get_raw(&t, T_JOURNAL, &k, &v, &len) != KERR_OK || len > 128)
        len = 0;
    else
        memcpy(out, v, len);
    store_txn_abort(&t);
    return len;
}

/* CITIZEN's 'S' record: 1 when present and 48 bytes, 0 absent, -1 malformed. */
static int get_s(store_txn *t, const char *citizen, journal_pos *s)
{
    skey k;
    unsigned char v[64];
    size_t len = 0;
    kerr e;
    skey_reset(&k);
    skey_u8(&k, 'S');
    skey_id16(&k, t->st, citizen, strlen(citizen));
    e = store_get_buf(t, T_JOURNAL, &k, v, sizeof v, &len);
    if (e == KERR_NOT_FOUND)
        return 0;
    if (e != KERR_OK || len != 8 + HB + 8)
        return -1;
    s->count = store_be64(v);
    memcpy(s->head, v + 8, HB);
    s->last = store_be64(v + 8 + HB);
    return 1;
}

/* One 'T' record, decoded. */
typedef struct trec {
    uint64_t g;
    unsigned char id[STORE_IDSHORT];
    uint64_t seq, prev;
} trec;

/* Every 'T' record in key order into *OUT (free()); *BAD counts records of a wrong shape. */
static size_t scan_t(store *st, trec **out, size_t *bad)
{
    store_txn t;
    store_iter it;
    skey p;
    size_t n = 0, cap = 0;
    trec *v = NULL;
    *bad = 0;
    skey_reset(&p);
    skey_u8(&p, 'T');
    store_txn_begin(st, &t, true);
    for (store_iter_begin(&it, &t, T_JOURNAL, &p, NULL); store_iter_next(&it);) {
        size_t kl, vl;
        const unsigned char *key = store_iter_key(&it, &kl);
        unsigned char *val;
        if (kl != 9) {
            (*bad)++;
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            v = realloc(v, cap * sizeof *v);
            if (!v)
                exit(2);
        }
        v[n].g = store_be64(key + 1);
        if (store_iter_get(&it, &val, &vl) != KERR_OK)
            break;
        if (vl < STORE_IDSHORT + 16 + 2) {
            (*bad)++;
        } else {
            memcpy(v[n].id, val, STORE_IDSHORT);
            v[n].seq = store_be64(val + STORE_IDSHORT);
            v[n].prev = store_be64(val + STORE_IDSHORT + 8);
            n++;
        }
        store_val_free(val, vl);
    }
    store_iter_end(&it);
    if (t.err != KERR_OK)
        (*bad)++;
    store_txn_abort(&t);
    *out = v;
    return n;
}

/* In the 'T' records R (N of them, key order), those of M's citizen are seq 1..count in g order,
 * each linked to the one before (prev 0 for the first). *LAST gets the g of the last one (may be
 * NULL). */
static int links_ok(store *st, const trec *r, size_t n, const model *m, uint64_t *last)
{
    unsigned char id[STORE_IDSHORT];
    uint64_t seq = 0, prev = 0;
    int ok = 1;
    id16_of(st, m->citizen, id);
    for (size_t i = 0; i < n; i++) {
        if (memcmp(r[i].id, id, sizeof id))
            continue;
        ok &= r[i].seq == seq + 1 && r[i].prev == prev && r[i].g > prev;
        seq = r[i].seq;
        prev = r[i].g;
    }
    if (last)
        *last = prev;
    return ok && seq == m->count;
}

static int m_links(store *st, const model *m, uint64_t *last)
{
    trec *r;
    size_t bad, n = scan_t(st, &r, &bad);
    int ok = bad == 0 && links_ok(st, r, n, m, last);
    free(r);
    return ok;
}

/* The g of CITIZEN's event SEQ (0: none). */
static uint64_t g_of(store *st, const char *citizen, uint64_t seq)
{
    trec *r;
    size_t bad, n = scan_t(st, &r, &bad);
    unsigned char id[STORE_IDSHORT];
    uint64_t g = 0;
    id16_of(st, citizen, id);
    for (size_t i = 0; i < n; i++)
        if (!memcmp(r[i].id, id, sizeof id) && r[i].seq == seq)
            g = r[i].g;
    free(r);
    return g;
}

/* The 'T' record G, decoded; 0 when absent or malformed. */
static int t_get(store *st, uint64_t g, trec *out)
{
    store_txn t;
    skey k;
    unsigned char *v = NULL;
    size_t len = 0;
    int ok;
    journal_event_key(&k, g);
    store_txn_begin(st, &t, true);
    ok = store_get(&t, T_JOURNAL, &k, &v, &len) == KERR_OK && len > STORE_IDSHORT + 16;
    if (ok) {
        out->g = g;
        memcpy(out->id, v, STORE_IDSHORT);
        out->seq = store_be64(v + STORE_IDSHORT);
        out->prev = store_be64(v + STORE_IDSHORT + 8);
    }
    store_val_free(v, len);
    store_txn_abort(&t);
    return ok;
}

/* The g of the last 'T' record (0: none). */
static uint64_t max_g(store *st)
{
    store_txn t;
    skey p, k;
    size_t len;
    uint64_t g = 0;
    skey_reset(&p);
    skey_u8(&p, 'T');
    store_txn_begin(st, &t, true);
    if (store_get_last(&t, T_JOURNAL, &p, &k, NULL, 0, &len) == KERR_OK && k.len == 9)
        g = store_be64(k.b + 1);
    store_txn_abort(&t);
    return g;
}

/* Write (commit) the 'T' record G: ID || be64(SEQ) || be64(PREV) || JSON. */
static kerr put_t(store *st, uint64_t g, const unsigned char id[STORE_IDSHORT], uint64_t seq, uint64_t prev,
                  const char *json, size_t len)
{
    store_txn t;
    skey k;
    unsigned char *v = malloc(STORE_IDSHORT + 16 + len);
    if (!v)
        exit(2);
    memcpy(v, id, STORE_IDSHORT);
    store_be64_put(v + STORE_IDSHORT, seq);
    store_be64_put(v + STORE_IDSHORT + 8, prev);
    memcpy(v + STORE_IDSHORT + 16, json, len);
    journal_event_key(&k, g);
    store_txn_begin(st, &t, false);
    store_put(&t, T_JOURNAL, &k, v, STORE_IDSHORT + 16 + len);
    free(v);
    return store_txn_commit(&t);
}

/* A saved stored value, to put back after tampering. */
typedef struct saved {
    skey k;
    unsigned char *v;
    size_t len;
} saved;

static void save(store *st, const skey *k, saved *s)
{
    store_txn t;
    s->k = *k;
    s->v = NULL;
    store_txn_begin(st, &t, true);
    if (store_get(&t, T_JOURNAL, k, &s->v, &s->len) != KERR_OK)
        s->v = NULL;
    store_txn_abort(&t);
}

static kerr restore(store *st, saved *s)
{
    store_txn t;
    kerr e;
    store_txn_begin(st, &t, false);
    if (s->v)
        store_put(&t, T_JOURNAL, &s->k, s->v, s->len);
    else
        store_del(&t, T_JOURNAL, &s->k);
    e = store_txn_commit(&t);
    store_val_free(s->v, s->len);
    s->v = NULL;
    return e;
}

static kerr del_key(store *st, const skey *k)
{
    store_txn t;
    store_txn_begin(st, &t, false);
    store_del(&t, T_JOURNAL, k);
    return store_txn_commit(&t);
}

/* A digest of every key and stored (sealed) value of the journal table: "nothing changed". */
static void digest(store *st, unsigned char out[32])
{
    crypto_generichash_state s;
    store_txn t;
    crypto_generichash_init(&s, NULL, 0, 32);
    store_txn_begin(st, &t, true);
    for (int b = 0; b < 256; b++) {
        skey p;
        store_iter it;
        skey_reset(&p);
        skey_u8(&p, (uint8_t)b);
        for (store_iter_begin(&it, &t, T_JOURNAL, &p, NULL); store_iter_next(&it);) {
            size_t kl, vl = 0;
            const unsigned char *key = store_iter_key(&it, &kl);
            const void *v = NULL;
            unsigned char l[8];
            store_be64_put(l, kl);
            crypto_generichash_update(&s, l, 8);
            crypto_generichash_update(&s, key, kl);
            if (store_iter_get_raw(&it, &v, &vl) == KERR_OK) {
                store_be64_put(l, vl);
                crypto_generichash_update(&s, l, 8);
                crypto_generichash_update(&s, v, vl);
            }
        }
        store_iter_end(&it);
    }
    if (t.err != KERR_OK)
        randombytes_buf(out, 32); /* never equal */
    store_txn_abort(&t);
    crypto_generichash_final(&s, out, 32);
}

/* journal_open refuses with WANT and gives NULL (a journal it opens anyway is closed). */
static int open_refused(store *st, kerr want)
{
    static char sentinel;
    journal *j = (journal *)&sentinel;
    kerr e = journal_open(&j, st, T_JOURNAL, NULL);
    if (e == KERR_OK) {
        journal_close(j);
        return 0;
    }
    if (e != want)
        printf("# journal_open gave %d\n", (int)e);
    return e == want && j == NULL;
}

/* ---------------------------------------------------------------- appends and reads */

/* journal_open on ST, checked as WHAT; on failure ST is closed and NULL comes back. */
static journal *open_or_close(store *st, const char *what)
{
    journal *j = NULL;
    CHECK(journal_open(&j, st, T_JOURNAL, NULL) == KERR_OK && j, "%s", what);
    if (!j)
        store_close(st);
    return j;
}

static void test_basic(const char *dir)
{
    store *st = open_store(dir);
    journal *j = NULL;
    size_t moved = 99;
    store_txn t, c;
    model a = {.citizen = "burger-0001", .base = 1790000000};
    model b = {.citizen = "burger-0002", .base = 1791000000};
    model none = {.citizen = "burger-9999"};
    journal_pos pos;
    journal_entry *e;
    size_t n;
    uint64_t bad;
    int ok;

    if (!st)
        return;
    CHECK(journal_open(&j, st, T_JOURNAL, &moved) == KERR_OK && j && moved == 0, "journal_open on an empty table");
    if (!j) {
        store_close(st);
        return;
    }

    /* a citizen without events */
    memset(&pos, 0xAA, sizeof pos);
    CHECK(journal_read_begin(j, none.citizen, &t, &pos) == KERR_OK && pos.count == 0 && pos.last == 0 &&
              sodium_is_zero(pos.head, HB),
          "read_begin of a fresh citizen: count 0, last 0, head 32 zero bytes");
    e = (journal_entry *)&pos;
    CHECK(journal_list(j, &t, &pos, 0, 10, &e, &n) == KERR_OK && n == 0 && e == NULL, "a fresh journal lists nothing");
    store_txn_abort(&t);
    bad = 7;
    CHECK(journal_verify(j, none.citizen, &bad) == KERR_OK, "an empty journal verifies");
    store_txn_begin(st, &t, false);
    CHECK(m_head_is(j, &t, &none), "writer's view of a fresh citizen: count 0, zero head");
    store_txn_abort(&t);

    /* one batch, two citizens interleaved: a1 b1 a2 a3 b2 */
    store_txn_begin(st, &t, false);
    ok = m_add(j, &t, &a) && m_add(j, &t, &b) && m_add(j, &t, &a) && m_add(j, &t, &a) && m_add(j, &t, &b);
    CHECK(ok, "interleaved appends: seq per citizen (1,1,2,3,2), head_out the chain over the event bytes");
    CHECK(m_head_is(j, &t, &a) && m_head_is(j, &t, &b) && m_head_is(j, &t, &none),
          "journal_head in the write transaction includes its appends");
    CHECK(journal_append(j, &t, a.citizen, &ev_read, NULL, NULL) == KERR_OK, "append with NULL seq_out and head_out");
    a.base = ev_read.time - 4; /* the model's event 4 is the one appended: ev_read's time */
    model_step(&a);
    CHECK(m_head_is(j, &t, &a), "the NULL-output append counted (seq 4)");
    CHECK(finish(j, &t) == KERR_OK, "pre_commit, commit, post_commit");
    CHECK(m_is(j, &a, 1) && m_is(j, &b, 1), "readers: both journals listed one by one, chain = head, verify OK");
    CHECK(m_is(j, &a, 1000) && m_is(j, &b, 2), "same in other page sizes");
    CHECK(keys_with(st, 'T') == 6 && keys_with(st, 'S') == 0,
          "six 'T' records; no checkpoint due, so no 'S' record written (%zu, %zu)", keys_with(st, 'T'),
          keys_with(st, 'S'));
    {
        uint64_t la = 0, lb = 0;
        journal_pos pa, pb;
        read_all(j, a.citizen, 10, &pa);
        read_all(j, b.citizen, 10, &pb);
        CHECK(m_links(st, &a, &la) && m_links(st, &b, &lb), "'T' records: id16, seq and prev links per citizen");
        CHECK(pa.last == la && pb.last == lb && la != lb && la > 0, "pos.last is the g of the last event");
        CHECK(max_g(st) == la, "g grows with each append (a's 4th event has the highest g)");
    }

    /* more batches, b only now and then */
    for (int i = 0; i < 20; i++) {
        store_txn_begin(st, &t, false);
        ok = m_add(j, &t, &a);
        if (i % 7 == 0)
            ok &= m_add(j, &t, &b);
        if (!ok || finish(j, &t) != KERR_OK)
            break;
    }
    CHECK(a.count == 24 && m_is(j, &a, 5) && m_is(j, &b, 3), "20 more batches: a has 24 events, b 5");
    store_txn_begin(st, &t, false);
    CHECK(m_head_is(j, &t, &a) && m_head_is(j, &t, &b), "the writer's view after commit is the committed one");
    store_txn_abort(&t);

    /* pagination */
    CHECK(journal_read_begin(j, a.citizen, &t, &pos) == KERR_OK && pos.count == 24, "read_begin: 24 events");
    CHECK(journal_list(j, &t, &pos, 0, 5, &e, &n) == KERR_OK && n == 5 && e[0].seq == 1 && e[4].seq == 5,
          "list after 0, limit 5: seq 1..5");
    journal_entries_free(e, n);
    CHECK(journal_list(j, &t, &pos, 20, 10, &e, &n) == KERR_OK && n == 4 && e[0].seq == 21 && e[3].seq == 24,
          "list after 20, limit 10: seq 21..24");
    journal_entries_free(e, n);
    CHECK(journal_list(j, &t, &pos, 10, 3, &e, &n) == KERR_OK && n == 3 && e[0].seq == 11 && e[2].seq == 13,
          "list after 10, limit 3: seq 11..13 (the first after AFTER, not the last)");
    journal_entries_free(e, n);
    {
        size_t jl;
        char *js = json_of(&a, 23, &jl);
        CHECK(journal_list(j, &t, &pos, 22, 1, &e, &n) == KERR_OK && n == 1 && e[0].seq == 23 && js &&
                  e[0].raw_len == jl && memcmp(e[0].raw, js, jl) == 0,
              "list after 22, limit 1: exactly event 23's bytes");
        free(js);
        journal_entries_free(e, n);
    }
    e = (journal_entry *)&pos;
    CHECK(journal_list(j, &t, &pos, 24, 10, &e, &n) == KERR_OK && n == 0 && e == NULL, "list after count: nothing");
    e = (journal_entry *)&pos;
    CHECK(journal_list(j, &t, &pos, 1000, 10, &e, &n) == KERR_OK && n == 0 && e == NULL, "list after > count: nothing");
    e = (journal_entry *)&pos;
    CHECK(journal_list(j, &t, &pos, UINT64_MAX, 10, &e, &n) == KERR_OK && n == 0 && e == NULL,
          "list after 2^64-1: nothing");
    e = (journal_entry *)&pos;
    CHECK(journal_list(j, &t, &pos, 0, 0, &e, &n) == KERR_OK && n == 0 && e == NULL, "limit 0: nothing");
    CHECK(journal_list(j, &t, &pos, 0, SIZE_MAX, &e, &n) == KERR_OK && n == 24 && e[23].seq == 24,
          "limit SIZE_MAX: all 24");
    journal_entries_free(e, n);
    CHECK(t.err == KERR_OK, "the read transaction stayed healthy");
    store_txn_abort(&t);
    journal_entries_free(NULL, 0);

    /* a nested operation that fails on bad UTF-8 is forgotten; kept ones around it stay */
    store_txn_begin(st, &t, false);
    store_txn_begin_child(&t, &c);
    ok = m_add(j, &c, &a);
    CHECK(ok && store_txn_commit(&c) == KERR_OK, "op 1 appends to a and is kept");
    journal_op_end(j, true);
    store_txn_begin_child(&t, &c);
    {
        journal_event ev = ev_read;
        uint64_t s = 0;
        ev.actor = "\xc0\x80";
        CHECK(journal_append(j, &c, a.citizen, &ev, &s, NULL) == KERR_BAD_ENCODING && c.err == KERR_BAD_ENCODING,
              "op 2: an append with bad UTF-8 fails and poisons its transaction");
    }
    store_txn_abort(&c);
    journal_op_end(j, false);
    CHECK(m_head_is(j, &t, &a), "after op 2 is discarded the writer sees op 1's head");
    store_txn_begin_child(&t, &c);
    ok = m_add(j, &c, &a);
    CHECK(ok && a.count == 26 && store_txn_commit(&c) == KERR_OK, "op 3 appends seq 26");
    journal_op_end(j, true);
    CHECK(finish(j, &t) == KERR_OK && m_is(j, &a, 10) && m_links(st, &a, NULL),
          "committed: a has 26 events, chain verifies");

    /* bad UTF-8 in the top-level transaction fails the batch */
    {
        model b0 = b;
        journal_event ev = ev_read;
        store_txn_begin(st, &t, false);
        m_add(j, &t, &b);
        ev.result = "\xed\xa0\x80"; /* a UTF-16 surrogate */
        CHECK(journal_append(j, &t, b.citizen, &ev, NULL, NULL) == KERR_BAD_ENCODING, "a surrogate is bad UTF-8");
        CHECK(finish(j, &t) == KERR_BAD_ENCODING, "the batch fails with it");
        b = b0;
        CHECK(m_is(j, &b, 4), "b's journal is as before the failed batch");
        store_txn_begin(st, &t, false);
        CHECK(m_head_is(j, &t, &b) && m_add(j, &t, &b) && finish(j, &t) == KERR_OK && m_is(j, &b, 4),
              "b's next append is seq %llu and verifies", (unsigned long long)b.count);
    }
    CHECK(keys_with(st, 'S') == 0, "still no 'S' record");
    journal_close(j);
    journal_close(NULL);
    store_close(st);
}

/* ---------------------------------------------------------------- visibility, rollback */

static void test_visibility(const char *dir)
{
    store *st = open_store(dir);
    journal *j = NULL;
    store_txn t, rt, c;
    model a = {.citizen = "burger-A", .base = 1000};
    model b = {.citizen = "burger-B", .base = 2000};
    model a0, b0;
    journal_pos pos, pos2;
    journal_entry *e;
    size_t n;
    uint64_t bad;

    if (!st)
        return;
    if (!(j = open_or_close(st, "journal_open (moved NULL)")))
        return;
    store_txn_begin(st, &t, false);
    m_add(j, &t, &a);
    m_add(j, &t, &a);
    m_add(j, &t, &a);
    m_add(j, &t, &b);
    CHECK(finish(j, &t) == KERR_OK && m_is(j, &a, 2) && m_is(j, &b, 2), "a has 3 events, b 1");

    /* an open write transaction is invisible to readers */
    a0 = a;
    store_txn_begin(st, &t, false);
    CHECK(m_add(j, &t, &a) && m_add(j, &t, &b), "append a4 and b2 in an open transaction");
    CHECK(journal_read_begin(j, a.citizen, &rt, &pos) == KERR_OK && pos.count == 3 &&
              memcmp(pos.head, a0.head, HB) == 0,
          "read_begin meanwhile (same thread): the committed count 3 and head");
    CHECK(journal_list(j, &rt, &pos, 0, 100, &e, &n) == KERR_OK && n == 3 && e[2].seq == 3, "and lists 3 events");
    journal_entries_free(e, n);
    CHECK(read_all(j, a.citizen, 2, &pos2) && pos2.count == 3, "a second reader sees 3 too");
    bad = 0;
    CHECK(journal_verify(j, a.citizen, &bad) == KERR_OK, "verify meanwhile: the committed chain is intact");
    CHECK(m_head_is(j, &t, &a), "journal_head in the write transaction: 4");
    CHECK(journal_pre_commit(j, &t) == KERR_OK, "pre_commit");
    CHECK(read_all(j, a.citizen, 2, &pos2) && pos2.count == 3, "after pre_commit, before commit: readers see 3");
    {
        kerr ce = store_txn_commit(&t);
        CHECK(ce == KERR_OK, "commit");
        CHECK(read_all(j, a.citizen, 2, &pos2) && pos2.count == 3 && !memcmp(pos2.head, a0.head, HB),
              "after commit, before post_commit: readers still get the old head, consistent");
        journal_post_commit(j, ce);
    }
    CHECK(m_is(j, &a, 3) && m_is(j, &b, 1), "after post_commit readers see a4 and b2");
    CHECK(journal_list(j, &rt, &pos, 0, 100, &e, &n) == KERR_OK && n == 3 && e[2].seq == 3,
          "the old read transaction still lists its 3 events (its snapshot)");
    journal_entries_free(e, n);
    store_txn_abort(&rt);

    /* a discarded nested operation after a kept one in the same batch */
    a0 = a;
    b0 = b;
    store_txn_begin(st, &t, false);
    store_txn_begin_child(&t, &c);
    CHECK(m_add(j, &c, &a) && store_txn_commit(&c) == KERR_OK, "op 1: a5, kept");
    journal_op_end(j, true);
    {
        model keep = a;
        store_txn_begin_child(&t, &c);
        CHECK(m_add(j, &c, &a) && m_add(j, &c, &b) && m_add(j, &c, &a), "op 2: a6, b3, a7 ...");
        store_txn_abort(&c);
        journal_op_end(j, false);
        a = keep;
        b = b0;
    }
    CHECK(m_head_is(j, &t, &a) && m_head_is(j, &t, &b), "... discarded: the writer sees a5 and b2");
    CHECK(m_add(j, &t, &a), "the next append (in the batch's own transaction) is a6 again");
    store_txn_begin_child(&t, &c);
    CHECK(m_add(j, &c, &b) && store_txn_commit(&c) == KERR_OK, "op 3: b3, kept");
    journal_op_end(j, true);
    CHECK(finish(j, &t) == KERR_OK && m_is(j, &a, 4) && m_is(j, &b, 4) && m_links(st, &a, NULL) &&
              m_links(st, &b, NULL),
          "committed: a has 6 events, b 3, chains and links verify");

    /* a whole batch aborted after pre_commit: post_commit with an error forgets it */
    a0 = a;
    b0 = b;
    store_txn_begin(st, &t, false);
    m_add(j, &t, &a);
    m_add(j, &t, &b);
    m_add(j, &t, &a);
    CHECK(journal_pre_commit(j, &t) == KERR_OK, "pre_commit of a batch that will be aborted");
    store_txn_abort(&t);
    journal_post_commit(j, KERR_INTERNAL);
    a = a0;
    b = b0;
    CHECK(m_is(j, &a, 3) && m_is(j, &b, 3), "aborted batch: readers see nothing of it");
    store_txn_begin(st, &t, false);
    CHECK(m_head_is(j, &t, &a) && m_head_is(j, &t, &b), "and the writer's view forgot it");
    CHECK(m_add(j, &t, &a) && m_add(j, &t, &b), "the next appends are a7 and b4");
    CHECK(finish(j, &t) == KERR_OK && m_is(j, &a, 3) && m_is(j, &b, 3) && m_links(st, &a, NULL),
          "committed, and the chains verify");

    /* a batch whose commit fails */
    a0 = a;
    store_txn_begin(st, &t, false);
    m_add(j, &t, &a);
    m_add(j, &t, &a);
    store_debug_fail_next_commit(st, EIO);
    CHECK(finish(j, &t) != KERR_OK, "a batch whose commit fails (EIO)");
    a = a0;
    CHECK(m_is(j, &a, 3), "is forgotten by readers");
    store_txn_begin(st, &t, false);
    CHECK(m_head_is(j, &t, &a) && m_add(j, &t, &a) && finish(j, &t) == KERR_OK && m_is(j, &a, 3) &&
              m_links(st, &a, NULL),
          "and by the writer: the next append is a8 and verifies");

    /* a batch with no journal append at all still goes through the hooks */
    store_txn_begin(st, &t, false);
    CHECK(finish(j, &t) == KERR_OK && m_is(j, &a, 3), "an empty batch changes nothing");
    journal_close(j);
    store_close(st);
}

/* ---------------------------------------------------------------- concurrent readers */

typedef struct reader_arg {
    journal *j;
    const char *const *citizens;
    atomic_int stop;
    long rounds, failures;
    uint64_t seen[2];
} reader_arg;

static void *reader_main(void *p)
{
    reader_arg *r = p;
    while (!atomic_load(&r->stop) || r->rounds < 4) {
        for (int i = 0; i < 2; i++) {
            journal_pos pos;
            uint64_t bad;
            if (!read_all(r->j, r->citizens[i], 50, &pos) || pos.count < r->seen[i])
                r->failures++;
            r->seen[i] = pos.count;
            if (r->rounds % 16 == 0 && journal_verify(r->j, r->citizens[i], &bad) != KERR_OK)
                r->failures++;
        }
        r->rounds++;
    }
    return NULL;
}

static void test_threads(const char *dir)
{
    store *st = open_store(dir);
    journal *j = NULL;
    static const char *const who[2] = {"burger-X", "burger-Y"};
    model m[2] = {{.citizen = "burger-X", .base = 10}, {.citizen = "burger-Y", .base = 20}};
    reader_arg ra;
    pthread_t th[2];
    reader_arg rb;
    int errors = 0;

    if (!st)
        return;
    if (!(j = open_or_close(st, "journal_open for the thread test")))
        return;
    memset(&ra, 0, sizeof ra);
    memset(&rb, 0, sizeof rb);
    ra.j = rb.j = j;
    ra.citizens = rb.citizens = who;
    atomic_init(&ra.stop, 0);
    atomic_init(&rb.stop, 0);
    pthread_create(&th[0], NULL, reader_main, &ra);
    pthread_create(&th[1], NULL, reader_main, &rb);
    for (int i = 0; i < 300; i++) {
        store_txn t, c;
        model keep[2];
        store_txn_begin(st, &t, false);
        for (int k = 0; k < 1 + i % 3; k++) {
            memcpy(keep, m, sizeof m);
            store_txn_begin_child(&t, &c);
            int ok = m_add(j, &c, &m[(i + k) % 2]);
            if (i % 5 == 1) { /* every fifth batch discards an operation */
                store_txn_abort(&c);
                journal_op_end(j, false);
                memcpy(m, keep, sizeof m);
            } else {
                ok &= store_txn_commit(&c) == KERR_OK;
                journal_op_end(j, true);
            }
            errors += !ok;
        }
        errors += finish(j, &t) != KERR_OK;
    }
    atomic_store(&ra.stop, 1);
    atomic_store(&rb.stop, 1);
    pthread_join(th[0], NULL);
    pthread_join(th[1], NULL);
    CHECK(errors == 0, "300 batches written while two threads read");
    CHECK(ra.failures == 0 && rb.failures == 0 && ra.rounds > 0 && rb.rounds > 0,
          "readers on other threads: every listing complete, chain = head, counts never go back (%ld+%ld rounds, "
          "%ld+%ld failures)",
          ra.rounds, rb.rounds, ra.failures, rb.failures);
    CHECK(m_is(j, &m[0], 64) && m_is(j, &m[1], 64), "both journals end as the model says (%llu, %llu events)",
          (unsigned long long)m[0].count, (unsigned long long)m[1].count);
    journal_close(j);
    store_close(st);
}

/* ---------------------------------------------------------------- replay, tampering */

static void test_replay_tamper(const char *dir)
{
    store *st = open_store(dir);
    journal *j = NULL;
    store_txn t;
    model a = {.citizen = "burger-R1", .base = 100}, b = {.citizen = "burger-R2", .base = 200},
          c = {.citizen = "burger-R3", .base = 300};
    journal_pos pa, pa2;
    unsigned char ida[STORE_IDSHORT], idb[STORE_IDSHORT];
    size_t moved = 9;
    uint64_t bad;
    int ok = 1;

    if (!st)
        return;
    id16_of(st, a.citizen, ida);
    id16_of(st, b.citizen, idb);
    if (!(j = open_or_close(st, "journal_open for replay")))
        return;
    for (int i = 0; i < 10; i++) {
        store_txn_begin(st, &t, false);
        ok &= m_add(j, &t, &a);
        if (i % 2)
            ok &= m_add(j, &t, &b);
        if (i == 9)
            ok &= m_add(j, &t, &c);
        ok &= finish(j, &t) == KERR_OK;
    }
    CHECK(ok && m_is(j, &a, 3) && m_is(j, &b, 3) && m_is(j, &c, 3), "10 batches: a 10 events, b 5, c 1");
    read_all(j, a.citizen, 100, &pa);
    journal_close(j);
    j = NULL;

    CHECK(journal_open(&j, st, T_JOURNAL, &moved) == KERR_OK && j && moved == 0, "reopen: nothing to move");
    if (!j) {
        store_close(st);
        return;
    }
    CHECK(m_is(j, &a, 4) && m_is(j, &b, 4) && m_is(j, &c, 4), "after reopen: the same heads, rebuilt; all verify");
    CHECK(read_all(j, a.citizen, 100, &pa2) && !memcmp(&pa, &pa2, sizeof pa), "the same position (count, head, last)");
    store_txn_begin(st, &t, false);
    CHECK(m_head_is(j, &t, &a) && m_head_is(j, &t, &c), "the writer's view after reopen");
    CHECK(m_add(j, &t, &a) && m_add(j, &t, &c), "appends continue the chains (a11, c2)");
    CHECK(finish(j, &t) == KERR_OK && m_is(j, &a, 4) && m_is(j, &c, 4), "and verify");
    CHECK(keys_with(st, 'T') == 18 && m_links(st, &a, NULL) && m_links(st, &c, NULL),
          "18 'T' records: the new ones did not overwrite old ones");
    journal_close(j);
    j = NULL;

    /* an event committed by hand after the last one (as a crash after commit leaves it): replayed */
    {
        uint64_t g = max_g(st) + 1, prev = g_of(st, b.citizen, 5);
        size_t len;
        char *js = json_of(&b, 6, &len);
        CHECK(js && prev && put_t(st, g, idb, 6, prev, js, len) == KERR_OK, "write b6 by hand at g %llu",
              (unsigned long long)g);
        free(js);
        model_step(&b);
        CHECK(journal_open(&j, st, T_JOURNAL, NULL) == KERR_OK && j, "reopen");
        CHECK(j && m_is(j, &b, 2), "b6 is replayed: count 6, the head over its bytes, verify OK");
        if (j) {
            store_txn_begin(st, &t, false);
            CHECK(m_add(j, &t, &b) && finish(j, &t) == KERR_OK && m_is(j, &b, 3) && m_links(st, &b, NULL) &&
                      g_of(st, b.citizen, 7) > g,
                  "the next append is b7, at a g after the hand-written one");
        }
        journal_close(j);
        j = NULL;
    }

    /* events after the checkpoint that do not continue their chain: journal_open refuses */
    {
        uint64_t g = g_of(st, a.citizen, 11), prev = g_of(st, a.citizen, 10);
        saved sv;
        size_t len;
        char *js = json_of(&a, 11, &len);
        skey k;
        journal_event_key(&k, g);
        save(st, &k, &sv);
        CHECK(sv.v != NULL && js, "read a11");

        put_t(st, g, ida, 12, prev, js, len);
        CHECK(open_refused(st, KERR_INTERNAL),
              "an event whose seq skips one: journal_open refuses (KERR_INTERNAL, out NULL)");
        put_t(st, g, ida, 10, prev, js, len);
        CHECK(open_refused(st, KERR_INTERNAL), "a repeated seq: refused");
        put_t(st, g, ida, 11, g_of(st, a.citizen, 9), js, len);
        CHECK(open_refused(st, KERR_INTERNAL),
              "a prev link to the wrong event: refused");
        put_t(st, g, ida, 11, 0, js, len);
        CHECK(open_refused(st, KERR_INTERNAL), "a prev link of 0: refused");
        CHECK(restore(st, &sv) == KERR_OK, "restore a11");
        free(js);

        /* an event of a citizen without events that claims seq 2 */
        g = max_g(st) + 1;
        js = json_of(&a, 2, &len);
        {
            unsigned char idn[STORE_IDSHORT];
            id16_of(st, "burger-nobody", idn);
            put_t(st, g, idn, 2, 0, js, len);
        }
        free(js);
        CHECK(open_refused(st, KERR_INTERNAL),
              "a first event that claims seq 2: refused");
        journal_event_key(&k, g);
        del_key(st, &k);
        if (!(j = open_or_close(st, "restored: journal_open accepts it again")))
            return;
        CHECK(m_is(j, &a, 3) && m_is(j, &b, 3) && m_is(j, &c, 3), "and every journal is as before");
    }

    /* stored tampering, committed: found by verify, by list where a link breaks */
    {
        uint64_t g5 = g_of(st, a.citizen, 5), g4 = g_of(st, a.citizen, 4), g7 = g_of(st, a.citizen, 7);
        saved sv;
        skey k;
        size_t len;
        char *js;
        journal_pos pos;
        journal_entry *e;
        size_t n;
        journal_event forged = event_of(&a, 5);
        kerr le;

        journal_event_key(&k, g5);
        save(st, &k, &sv);
        forged.result = "denied:no_grant";
        if (journal_event_json(&js, &len, 5, &forged) != KERR_OK)
            js = NULL;
        put_t(st, g5, ida, 5, g4, js, len);
        free(js);
        bad = 0;
        CHECK(journal_verify(j, a.citizen, &bad) == KERR_CONFLICT && bad == a.count + 1,
              "a rewritten event (valid, own seq): verify KERR_CONFLICT, bad_seq count+1 = %llu (%llu)",
              (unsigned long long)a.count + 1, (unsigned long long)bad);
        CHECK(journal_verify(j, b.citizen, &bad) == KERR_OK, "another citizen still verifies");
        CHECK(!read_all(j, a.citizen, 3, NULL), "the chain over the listed bytes no longer gives the head");

        js = json_of(&a, 6, &len); /* JSON of seq 6 stored as event 5 */
        put_t(st, g5, ida, 5, g4, js, len);
        free(js);
        bad = 0;
        CHECK(journal_verify(j, a.citizen, &bad) == KERR_CONFLICT && bad == 5,
              "an event whose JSON carries another seq: KERR_CONFLICT at seq 5 (%llu)", (unsigned long long)bad);

        js = json_of(&a, 5, &len);
        put_t(st, g5, idb, 5, g4, js, len); /* b's id16 */
        bad = 0;
        le = journal_verify(j, a.citizen, &bad);
        CHECK(le != KERR_OK && (le != KERR_CONFLICT || bad == 5),
              "a link to another citizen's record: verify fails (%d, bad_seq %llu)", (int)le, (unsigned long long)bad);
        CHECK(journal_read_begin(j, a.citizen, &t, &pos) == KERR_OK, "read_begin");
        CHECK(journal_list(j, &t, &pos, 0, 100, &e, &n) == KERR_INTERNAL && n == 0,
              "and list through it is KERR_INTERNAL");
        store_txn_abort(&t);
        CHECK(journal_read_begin(j, a.citizen, &t, &pos) == KERR_OK &&
                  journal_list(j, &t, &pos, 5, 100, &e, &n) == KERR_OK && n == a.count - 5 && e[0].seq == 6,
              "list after 5 does not reach it: OK");
        journal_entries_free(e, n);
        store_txn_abort(&t);
        CHECK(journal_verify(j, b.citizen, &bad) == KERR_OK, "b verifies");

        put_t(st, g5, ida, 4, g4, js, len); /* the record's own seq field wrong */
        bad = 0;
        le = journal_verify(j, a.citizen, &bad);
        CHECK(le != KERR_OK && (le != KERR_CONFLICT || bad == 5), "a record claiming seq 4 at seq 5: verify fails");
        CHECK(journal_read_begin(j, a.citizen, &t, &pos) == KERR_OK &&
                  journal_list(j, &t, &pos, 0, 100, &e, &n) == KERR_INTERNAL,
              "and list is KERR_INTERNAL");
        store_txn_abort(&t);

        put_t(st, g5, ida, 5, g_of(st, b.citizen, 2), js, len); /* prev into b's journal */
        le = journal_verify(j, a.citizen, &bad);
        CHECK(le != KERR_OK, "a prev link into another citizen's journal: verify fails (%d)", (int)le);
        CHECK(journal_read_begin(j, a.citizen, &t, &pos) == KERR_OK &&
                  journal_list(j, &t, &pos, 0, 100, &e, &n) == KERR_INTERNAL,
              "and list is KERR_INTERNAL");
        store_txn_abort(&t);
        free(js);
        CHECK(restore(st, &sv) == KERR_OK && journal_verify(j, a.citizen, &bad) == KERR_OK && m_is(j, &a, 4),
              "restored: a verifies again");

        journal_event_key(&k, g7);
        save(st, &k, &sv);
        del_key(st, &k);
        bad = 0;
        CHECK(journal_verify(j, a.citizen, &bad) == KERR_CONFLICT && bad == 7,
              "a deleted event: KERR_CONFLICT at seq 7 (%llu)", (unsigned long long)bad);
        CHECK(journal_read_begin(j, a.citizen, &t, &pos) == KERR_OK &&
                  journal_list(j, &t, &pos, 0, 100, &e, &n) == KERR_INTERNAL,
              "list across the hole: KERR_INTERNAL");
        store_txn_abort(&t);
        CHECK(journal_read_begin(j, a.citizen, &t, &pos) == KERR_OK &&
                  journal_list(j, &t, &pos, 7, 100, &e, &n) == KERR_OK && n == a.count - 7 && e[0].seq == 8,
              "list after 7: OK, %llu events", (unsigned long long)a.count - 7);
        journal_entries_free(e, n);
        store_txn_abort(&t);
        CHECK(restore(st, &sv) == KERR_OK && m_is(j, &a, 4), "restored");

        /* the last event deleted */
        journal_event_key(&k, g_of(st, a.citizen, a.count));
        save(st, &k, &sv);
        del_key(st, &k);
        bad = 0;
        le = journal_verify(j, a.citizen, &bad);
        CHECK(le == KERR_CONFLICT && (bad == a.count || bad == a.count + 1),
              "the last event deleted: KERR_CONFLICT (%d, bad_seq %llu)", (int)le, (unsigned long long)bad);
        CHECK(restore(st, &sv) == KERR_OK && m_is(j, &a, 4), "restored");

        /* a value sealed under another key does not open */
        {
            skey k4;
            const void *raw;
            size_t rl;
            unsigned char *copy = NULL;
            journal_event_key(&k4, g4);
            journal_event_key(&k, g5);
            save(st, &k, &sv);
            store_txn_begin(st, &t, false);
            if (store_get_raw(&t, T_JOURNAL, &k4, &raw, &rl) == KERR_OK && (copy = malloc(rl)))
                memcpy(copy, raw, rl);
            if (copy)
                store_put_raw(&t, T_JOURNAL, &k, copy, rl); /* event 4's sealed bytes under event 5's key */
            CHECK(copy && store_txn_commit(&t) == KERR_OK, "move event 4's sealed value to event 5's key");
            free(copy);
            le = journal_verify(j, a.citizen, &bad);
            CHECK(le != KERR_OK, "verify fails (%d)", (int)le);
            CHECK(journal_read_begin(j, a.citizen, &t, &pos) == KERR_OK &&
                      journal_list(j, &t, &pos, 0, 100, &e, &n) != KERR_OK,
                  "list fails");
            store_txn_abort(&t);
            CHECK(restore(st, &sv) == KERR_OK && m_is(j, &a, 4) && m_is(j, &b, 4) && m_is(j, &c, 4),
                  "restored: everything verifies");
        }
    }
    CHECK(keys_with(st, 'S') == 0, "no checkpoint was due: no 'S' records");
    journal_close(j);
    store_close(st);
}

/* ---------------------------------------------------------------- checkpoint */

#define CP_N (JOURNAL_CKPT_HEADS + 64u)
#define CP_BATCHES 4u

static void cp_name(char *buf, size_t n, unsigned i)
{
    snprintf(buf, n, "cp-%06u", i);
}

/* Citizen I's expected head after its single event (time 5000000 + I). */
static void cp_head(unsigned i, unsigned char head[HB])
{
    model m = {.base = 5000000 + (int64_t)i - 1};
    model_step(&m);
    memcpy(head, m.head, HB);
}

/* One batch appending to citizens FROM..TO-1 in one flat operation (kept); DISCARD_TAIL adds a
 * nested operation that appends and is discarded (as an audited read whose op fails after its
 * journal event); FAIL makes the commit fail. */
static kerr cp_batch(journal *j, store *st, unsigned from, unsigned to, int fail, int discard_tail)
{
    store_txn t;
    char name[32];
    store_txn_begin(st, &t, false);
    for (unsigned i = from; i < to; i++) {
        journal_event ev = ev_read;
        ev.time = 5000000 + (int64_t)i;
        cp_name(name, sizeof name, i);
        if (journal_append(j, &t, name, &ev, NULL, NULL) != KERR_OK)
            break;
    }
    journal_op_end(j, true);
    if (discard_tail) {
        store_txn c;
        store_txn_begin_child(&t, &c);
        journal_append(j, &c, "cp-discarded", &ev_read, NULL, NULL);
        store_txn_abort(&c);
        journal_op_end(j, false);
    }
    if (fail)
        store_debug_fail_next_commit(st, EIO);
    return finish(j, &t);
}

/* Batches until 'M' changes from (HAVE, M0), at most MAX: each appends TICKER's next event (one
 * kept operation) or, TICKER NULL, writes only another table (an operation without journal event).
 * 1 when 'M' changed; *BATCHES counts the batches; *S1 gets the 'S' count after the first one. */
static int run_round(journal *j, store *st, int have, uint64_t m0, model *ticker, int max, int *batches, size_t *s1)
{
    uint64_t m;
    for (*batches = 0; *batches < max;) {
        store_txn t;
        int h;
        store_txn_begin(st, &t, false);
        if (ticker) {
            if (!m_add(j, &t, ticker))
                return 0;
            journal_op_end(j, true);
        } else {
            skey k;
            skey_reset(&k);
            skey_u8(&k, 'x');
            skey_u64(&k, (uint64_t)*batches);
            store_put(&t, T_OTHER, &k, "x", 1);
            journal_op_end(j, true);
        }
        if (finish(j, &t) != KERR_OK)
            return 0;
        (*batches)++;
        if (*batches == 1 && s1)
            *s1 = keys_with(st, 'S');
        h = get_m(st, &m);
        if (h != have || (h == 1 && m != m0))
            return 1;
    }
    return 0;
}

static void test_checkpoint(const char *dir)
{
    store *st = open_store(dir);
    journal *j = NULL;
    unsigned per = CP_N / CP_BATCHES;
    uint64_t m0 = 0, m = 0;
    int have_m0, batches_ok = 1, nb = 0;
    size_t s1 = 0, ns;
    char name[32];
    model tick = {.citizen = "cp-ticker", .base = 900};

    if (!st)
        return;
    if (!(j = open_or_close(st, "journal_open for the checkpoint")))
        return;
    have_m0 = get_m(st, &m0);
    CHECK(have_m0 == 0 || (have_m0 == 1 && m0 == 0), "a fresh vault has no checkpoint (or 'M' = 0)");
    for (unsigned b = 0; b + 1 < CP_BATCHES; b++)
        batches_ok &= cp_batch(j, st, b * per, (b + 1) * per, 0, 0) == KERR_OK;
    CHECK(batches_ok && keys_with(st, 'S') == 0 && get_m(st, &m) == have_m0,
          "%u citizens in %u batches: below JOURNAL_CKPT_HEADS no 'S' and no new 'M'", (CP_BATCHES - 1) * per,
          CP_BATCHES - 1);

    /* the batch that makes the checkpoint due fails to commit: nothing of it stays */
    CHECK(cp_batch(j, st, (CP_BATCHES - 1) * per, CP_N, 1, 0) != KERR_OK, "the due batch's commit fails (EIO)");
    CHECK(keys_with(st, 'S') == 0 && get_m(st, &m) == have_m0 && keys_with(st, 'T') == (CP_BATCHES - 1) * per,
          "no 'S', no 'M', no 'T' of it");
    cp_name(name, sizeof name, CP_N - 1);
    {
        journal_pos p;
        CHECK(read_all(j, name, 10, &p) && p.count == 0, "readers do not see its citizens");
    }
    CHECK(cp_batch(j, st, (CP_BATCHES - 1) * per, CP_N, 0, 0) == KERR_OK, "the batch again: committed");
    ns = keys_with(st, 'S');
    CHECK(ns < CP_N, "that batch does not carry the whole checkpoint (%zu 'S')", ns);
    CHECK(run_round(j, st, have_m0, m0, &tick, 2 * JOURNAL_ROUND_PARTS, &nb, &s1) && get_m(st, &m) == 1 &&
              m > 0,
          "the checkpoint round ends with 'M' (g %llu; last g %llu) after %d more batches", (unsigned long long)m,
          (unsigned long long)max_g(st), nb);
    CHECK(nb > 8 && s1 < CP_N, "spread over batches: %zu 'S' after the first of them", s1);
    ns = keys_with(st, 'S');
    CHECK(ns == CP_N || ns == CP_N + 1, "one 'S' record per citizen (%zu)", ns);
    {
        /* every 'S' is the citizen's committed position */
        store_txn t;
        unsigned bad_s = 0, bad_pos = 0, checked = 0;
        store_txn_begin(st, &t, true);
        for (unsigned i = 0; i < CP_N; i += (i % 997 == 0 ? 1 : 7)) { /* a sample of about 1/7 */
            journal_pos s, p;
            store_txn rt;
            unsigned char want[HB];
            cp_name(name, sizeof name, i);
            cp_head(i, want);
            if (get_s(&t, name, &s) != 1 || s.count != 1 || memcmp(s.head, want, HB) || s.last == 0) {
                bad_s++;
                continue;
            }
            if (i % 8 == 0) {
                if (journal_read_begin(j, name, &rt, &p) != KERR_OK || p.count != s.count ||
                    memcmp(p.head, s.head, HB) || p.last != s.last)
                    bad_pos++;
                store_txn_abort(&rt);
                checked++;
            }
        }
        store_txn_abort(&t);
        CHECK(bad_s == 0, "every citizen's 'S' holds count 1 and its head (%u wrong)", bad_s);
        CHECK(bad_pos == 0 && checked > 500, "'S' = the reader's position (%u checked, %u differ)", checked, bad_pos);
    }
    {
        /* every event up to 'M' is reflected in the 'S' records (the ticker's too) */
        trec *r;
        size_t bad, n = scan_t(st, &r, &bad);
        unsigned char tid[STORE_IDSHORT];
        uint64_t tick_upto = 0, upto = 0;
        journal_pos s = {0};
        store_txn t;
        int hs;
        id16_of(st, tick.citizen, tid);
        for (size_t i = 0; i < n; i++) {
            upto += r[i].g <= m;
            if (r[i].g <= m && !memcmp(r[i].id, tid, sizeof tid))
                tick_upto = r[i].seq;
        }
        store_txn_begin(st, &t, true);
        hs = get_s(&t, tick.citizen, &s);
        store_txn_abort(&t);
        CHECK(bad == 0 && n == CP_N + (size_t)nb && upto >= CP_N - per &&
                  (tick_upto == 0 || (hs == 1 && s.count >= tick_upto)),
              "every event up to 'M' is reflected in 'S' (%llu of the ticker's)", (unsigned long long)tick_upto);
        free(r);
        CHECK(m_is(j, &tick, 5), "the ticker's journal verifies");
    }
    {
        /* the round is over: the next batches write neither 'M' nor the whole table again */
        unsigned char r1[128], r2[128];
        size_t l1 = m_raw(st, r1), l2, sb = keys_with(st, 'S');
        int ok = 1;
        for (int i = 0; i < 3; i++) {
            store_txn t;
            store_txn_begin(st, &t, false);
            ok &= m_add(j, &t, &tick);
            journal_op_end(j, true);
            ok &= finish(j, &t) == KERR_OK;
        }
        l2 = m_raw(st, r2);
        CHECK(ok && l1 > 0 && l1 == l2 && !memcmp(r1, r2, l1) && keys_with(st, 'S') == sb,
              "after the round, 3 more batches leave 'M' as stored (not rewritten)");
    }
    {
        journal_pos p;
        CHECK(read_all(j, "cp-discarded", 3, &p) && p.count == 0, "no trace of a citizen never written");
    }
    journal_close(j);
    j = NULL;
    CHECK(journal_open(&j, st, T_JOURNAL, NULL) == KERR_OK && j && m_is(j, &tick, 3), "reopen right after the round");
    if (!j) {
        store_close(st);
        return;
    }

    /* after the checkpoint: appends live in memory; reopen replays them on top of 'S' */
    {
        model sm[8];
        store_txn t;
        int ok = 1;
        for (unsigned i = 0; i < 8; i++) {
            char *nm = malloc(32);
            unsigned idx = i * 9000;
            cp_name(nm, 32, idx);
            sm[i] = (model){.citizen = nm, .base = 5000000 + (int64_t)idx - 1};
            model_step(&sm[i]);
            sm[i].base = 7000000;
        }
        for (int round = 0; round < 3; round++) {
            store_txn_begin(st, &t, false);
            for (unsigned i = 0; i < 8; i++)
                if (i % 3 != (unsigned)round)
                    ok &= m_add(j, &t, &sm[i]);
            ok &= finish(j, &t) == KERR_OK;
        }
        for (unsigned i = 0; i < 8; i++)
            ok &= m_is(j, &sm[i], 2);
        CHECK(ok, "3 batches on 8 checkpointed citizens: chains continue from the checkpoint");
        {
            uint64_t m2 = 0;
            journal_pos s;
            int sok = 1;
            store_txn_begin(st, &t, true);
            for (unsigned i = 0; i < 8; i++)
                sok &= get_s(&t, sm[i].citizen, &s) == 1 && s.count == 1;
            store_txn_abort(&t);
            CHECK(get_m(st, &m2) == 1 && m2 == m && sok, "no checkpoint due: 'M' and the 'S' records unchanged");
        }
        journal_close(j);
        j = NULL;
        if (!(j = open_or_close(st, "reopen after the checkpoint")))
            return;
        ok = 1;
        {
            trec *r;
            size_t bad, n = scan_t(st, &r, &bad);
            ok &= bad == 0;
            for (unsigned i = 0; i < 8; i++)
                ok &= m_is(j, &sm[i], 2) && links_ok(st, r, n, &sm[i], NULL);
            free(r);
        }
        CHECK(ok, "the 8 citizens: 'S' plus the events after 'M' give the heads again");
        {
            journal_pos p;
            model one = {.citizen = name};
            cp_name(name, sizeof name, 12345);
            one.base = 5000000 + 12345 - 1;
            model_step(&one);
            CHECK(read_all(j, name, 5, &p) && p.count == 1 && m_is(j, &one, 1), "an untouched citizen: from 'S'");
        }
        store_txn_begin(st, &t, false);
        for (unsigned i = 0; i < 8; i++)
            ok &= m_head_is(j, &t, &sm[i]) && m_add(j, &t, &sm[i]);
        ok &= finish(j, &t) == KERR_OK;
        for (unsigned i = 0; i < 8; i++)
            ok &= m_is(j, &sm[i], 3);
        CHECK(ok, "and appends go on after the reopen");

        /* an event after the checkpoint that breaks its chain: refused at open */
        {
            journal_pos p3;
            trec r3 = {0};
            read_all(j, sm[0].citizen, 10, &p3);
            t_get(st, p3.last, &r3);
            uint64_t g = p3.last, prev = r3.prev;
            unsigned char id[STORE_IDSHORT];
            saved sv;
            skey k;
            size_t len;
            char *js = json_of(&sm[0], 3, &len);
            journal_close(j);
            j = NULL;
            journal_event_key(&k, g);
            save(st, &k, &sv);
            id16_of(st, sm[0].citizen, id);
            put_t(st, g, id, 3, prev == 0 ? 1 : prev - 1, js, len);
            free(js);
            CHECK(open_refused(st, KERR_INTERNAL),
                  "an event after 'M' with a wrong prev link: journal_open refuses");
            restore(st, &sv);
            CHECK(journal_open(&j, st, T_JOURNAL, NULL) == KERR_OK && j && m_is(j, &sm[0], 2),
                  "restored: opens again");
        }
        for (unsigned i = 0; i < 8; i++)
            free((char *)sm[i].citizen);
    }

    /* A second round, begun by a batch that ends with a nested append that is discarded, and
     * carried on by batches without journal events: 'M' may then name an event that was never
     * stored. Reopening must work, and later events must land after 'M' (else a replay skips them). */
    {
        unsigned base = 100000;
        uint64_t m2 = 0, mx = 0;
        model x = {.citizen = "cp-after", .base = 42};
        journal_pos px;
        store_txn t;
        int nb2 = 0;
        batches_ok = 1;
        for (unsigned b = 0; b < CP_BATCHES; b++)
            batches_ok &= cp_batch(j, st, base + b * per, base + (b + 1 == CP_BATCHES ? CP_N : (b + 1) * per), 0,
                                   b + 1 == CP_BATCHES) == KERR_OK;
        mx = max_g(st);
        CHECK(batches_ok && run_round(j, st, 1, m, NULL, 2 * JOURNAL_ROUND_PARTS, &nb2, NULL) &&
                  get_m(st, &m2) == 1 && m2 > m,
              "a second round, in batches without journal events, ends with 'M' = %llu (last stored g %llu)",
              (unsigned long long)m2, (unsigned long long)mx);
        journal_close(j);
        j = NULL;
        CHECK(journal_open(&j, st, T_JOURNAL, NULL) == KERR_OK && j,
              "reopen right after that round");
        if (j) {
            store_txn_begin(st, &t, false);
            CHECK(m_add(j, &t, &x) && finish(j, &t) == KERR_OK && m_is(j, &x, 1), "append once more");
            journal_close(j);
            j = NULL;
            CHECK(journal_open(&j, st, T_JOURNAL, NULL) == KERR_OK && j && m_is(j, &x, 1) &&
                      read_all(j, x.citizen, 1, &px) && px.last > m2,
                  "reopen: that event is after 'M' and replayed");
        }
    }
    journal_close(j);
    store_close(st);
}

/* ---------------------------------------------------------------- older layouts */

/* TAG || the id hash of M's citizen: its first 16 bytes (format 2) or all of it (formats 0, 1). */
static void old_prefix(skey *k, store *st, const model *m, uint8_t tag, int full)
{
    skey_reset(k);
    skey_u8(k, tag);
    if (full)
        skey_id(k, st, m->citizen, strlen(m->citizen));
    else
        skey_id16(k, st, m->citizen, strlen(m->citizen));
}

/* An old head record be64(COUNT) || M's head under K. */
static void put_old_head(store_txn *t, const skey *k, const model *m, uint64_t count)
{
    unsigned char rec[8 + HB];
    store_be64_put(rec, count);
    memcpy(rec + 8, m->head, HB);
    store_put(t, T_JOURNAL, k, rec, sizeof rec);
}

/* M's events count+1..TO under TAG || hash (as old_prefix) || be64(seq); STALE_H adds a format-0
 * head of event 1 left behind. */
static void put_old_events(store_txn *t, store *st, model *m, uint64_t to, uint8_t tag, int full, int stale_h)
{
    skey k;
    for (uint64_t s = m->count + 1; s <= to && t->err == KERR_OK; s++) {
        size_t len;
        char *js = json_of(m, s, &len);
        if (!js) {
            store_txn_fail(t, KERR_INTERNAL);
            break;
        }
        old_prefix(&k, st, m, tag, full);
        skey_u64(&k, s);
        store_put(t, T_JOURNAL, &k, js, len);
        free(js);
        model_step(m);
        if (s == 1 && stale_h) {
            old_prefix(&k, st, m, 'H', 1);
            put_old_head(t, &k, m, 1);
        }
    }
}

/* Format 2: M's events count+1..TO under 'J' || id16 || be64(seq), the chain continuing in M; with
 * WITH_HEAD the head 'J' || id16 || be64(TO) || 0xFF → be64(TO) || head. */
static int write_v2(store *st, model *m, uint64_t to, int with_head)
{
    store_txn t;
    skey k;
    store_txn_begin(st, &t, false);
    put_old_events(&t, st, m, to, 'J', 0, 0);
    if (with_head) {
        old_prefix(&k, st, m, 'J', 0);
        skey_u64(&k, to);
        skey_u8(&k, 0xFF);
        put_old_head(&t, &k, m, to);
    }
    return store_txn_commit(&t) == KERR_OK;
}

/* Format 1 events 'E' || id_hash || be64(seq), 1..N; the head under 'E' || id_hash || 0xFF (format 1)
 * or, V0_HEAD, 'H' || id_hash (format 0); STALE_H adds a format-0 head of event 1 left behind. */
static int write_v1(store *st, model *m, uint64_t n, int v0_head, int stale_h)
{
    store_txn t;
    skey k;
    store_txn_begin(st, &t, false);
    put_old_events(&t, st, m, n, 'E', 1, stale_h);
    old_prefix(&k, st, m, v0_head ? 'H' : 'E', 1);
    if (!v0_head)
        skey_u8(&k, 0xFF);
    put_old_head(&t, &k, m, n);
    return store_txn_commit(&t) == KERR_OK;
}

/* Every listed event of M's citizen is exactly the bytes json_of() gives. */
static int m_bytes(journal *j, const model *m)
{
    store_txn t;
    journal_pos pos;
    journal_entry *e = NULL;
    size_t n = 0;
    int ok = journal_read_begin(j, m->citizen, &t, &pos) == KERR_OK &&
             journal_list(j, &t, &pos, 0, SIZE_MAX, &e, &n) == KERR_OK && n == m->count;
    for (size_t i = 0; ok && i < n; i++) {
        size_t len;
        char *js = json_of(m, i + 1, &len);
        ok = js && e[i].raw_len == len && memcmp(e[i].raw, js, len) == 0;
        free(js);
    }
    journal_entries_free(e, n);
    store_txn_abort(&t);
    return ok;
}

static void test_migrate(const char *dir)
{
    store *st = open_store(dir);
    journal *j = NULL;
    store_txn t;
    size_t moved = 99;
    unsigned char d0[32], d1[32];
    model a = {.citizen = "burger-A", .base = 1780000000}; /* format 2, 30 events */
    model b = {.citizen = "burger-B", .base = 1781000000}; /* format 2, 5 */
    model c = {.citizen = "burger-C", .base = 1782000000}; /* format 1, 10 */
    model d = {.citizen = "burger-D", .base = 1783000000}; /* format 1 events, format-0 head, 4 */
    model e = {.citizen = "burger-E", .base = 1784000000}; /* format 1, 3, and a stale format-0 head */
    uint64_t mg = 0;
    int ok;

    if (!st)
        return;
    CHECK(journal_migrate(st, T_JOURNAL, 0, &moved) == KERR_OK && moved == 0, "an empty table: nothing to move");
    CHECK(keys_with(st, 'M') == 0 && keys_with(st, 'S') == 0, "and nothing written");
    ok = write_v2(st, &a, 30, 1) && write_v2(st, &b, 5, 1) && write_v1(st, &c, 10, 0, 0) && write_v1(st, &d, 4, 1, 0) &&
         write_v1(st, &e, 3, 0, 1);
    CHECK(ok && keys_with(st, 'J') == 37 && keys_with(st, 'E') == 19 && keys_with(st, 'H') == 2,
          "old layouts: 37 'J', 19 'E', 2 'H' records");

    digest(st, d0);
    store_debug_fail_next_commit(st, EIO);
    CHECK(journal_migrate(st, T_JOURNAL, 7, &moved) != KERR_OK && moved == 0, "the first batch's commit fails: error");
    digest(st, d1);
    CHECK(!memcmp(d0, d1, 32), "and nothing changed");

    CHECK(journal_migrate(st, T_JOURNAL, 7, &moved) == KERR_OK && (moved == 57 || moved == 58),
          "the migration in batches of 7 moves 52 events and 5 heads (and perhaps counts the stale one) (%zu)",
          moved);
    CHECK(keys_with(st, 'J') == 0 && keys_with(st, 'E') == 0 && keys_with(st, 'H') == 0, "no old key left");
    CHECK(keys_with(st, 'T') == 52 && keys_with(st, 'S') == 5, "52 'T' records, one 'S' per citizen (%zu, %zu)",
          keys_with(st, 'T'), keys_with(st, 'S'));
    CHECK(get_m(st, &mg) == 1 && mg == max_g(st), "'M' is the last g (%llu)", (unsigned long long)mg);
    CHECK(m_links(st, &a, NULL) && m_links(st, &b, NULL) && m_links(st, &c, NULL) && m_links(st, &d, NULL) &&
              m_links(st, &e, NULL),
          "each citizen's events moved in seq order, linked");
    {
        store_txn rt;
        journal_pos s;
        int sok;
        store_txn_begin(st, &rt, true);
        sok = get_s(&rt, a.citizen, &s) == 1 && s.count == 30 && !memcmp(s.head, a.head, HB) &&
              s.last == g_of(st, a.citizen, 30);
        sok &= get_s(&rt, d.citizen, &s) == 1 && s.count == 4 && !memcmp(s.head, d.head, HB);
        sok &= get_s(&rt, e.citizen, &s) == 1 && s.count == 3 && !memcmp(s.head, e.head, HB);
        store_txn_abort(&rt);
        CHECK(sok, "the 'S' records hold count, head and last g");
    }
    digest(st, d0);
    CHECK(journal_migrate(st, T_JOURNAL, 7, &moved) == KERR_OK && moved == 0, "a second run moves nothing");
    digest(st, d1);
    CHECK(!memcmp(d0, d1, 32), "and writes nothing");

    CHECK(journal_open(&j, st, T_JOURNAL, &moved) == KERR_OK && j && moved == 0, "journal_open: nothing left to move");
    if (!j) {
        store_close(st);
        return;
    }
    CHECK(m_is(j, &a, 7) && m_is(j, &b, 2) && m_is(j, &c, 3) && m_is(j, &d, 100) && m_is(j, &e, 1),
          "heads and counts are those written (format-0 head too), chains verify");
    CHECK(m_bytes(j, &a) && m_bytes(j, &c) && m_bytes(j, &d), "the moved events list with their exact bytes");
    store_txn_begin(st, &t, false);
    CHECK(m_head_is(j, &t, &a) && m_add(j, &t, &a) && a.count == 31 && m_add(j, &t, &e),
          "the next append of a is seq 31, on the moved head");
    CHECK(finish(j, &t) == KERR_OK && m_is(j, &a, 8) && m_is(j, &e, 8) && m_links(st, &a, NULL),
          "and the chain verifies across the move");
    journal_close(j);
    j = NULL;
    CHECK(journal_open(&j, st, T_JOURNAL, &moved) == KERR_OK && j && moved == 0 && m_is(j, &a, 8) && m_is(j, &e, 8),
          "reopened: the same");
    journal_close(j);
    j = NULL;

    /* new citizens in format 2 on a migrated vault move after what is there */
    {
        model f = {.citizen = "burger-F", .base = 1785000000};
        uint64_t before = max_g(st);
        CHECK(write_v2(st, &f, 6, 1), "format-2 records of a new citizen on a migrated vault");
        kerr oe = journal_open(&j, st, T_JOURNAL, &moved);
        CHECK(oe == KERR_OK && j && moved == 7, "journal_open moves them (%d, %zu)", (int)oe, moved);
        CHECK(j && m_is(j, &f, 4) && m_is(j, &a, 8) && m_is(j, &e, 8) && g_of(st, f.citizen, 1) > before &&
                  keys_with(st, 'T') == 52 + 2 + 6,
              "at new g's after the others; all journals verify");
        journal_close(j);
        j = NULL;
    }
    store_close(st);
}

/* An interrupted migration: a citizen's first events in format 3, the rest and the head in format 2. */
static void test_migrate_resume(const char *dir)
{
    store *st = open_store(dir);
    journal *j = NULL;
    size_t moved = 0;
    model f = {.citizen = "burger-F", .base = 1786000000};
    model g = {.citizen = "burger-G", .base = 1787000000};

    if (!st)
        return;
    CHECK(write_v2(st, &f, 7, 1) && write_v2(st, &g, 3, 1), "f with 7 events, g with 3, in format 2");
    CHECK(journal_migrate(st, T_JOURNAL, 0, &moved) == KERR_OK && moved == 12, "moved (%zu)", moved);
    CHECK(write_v2(st, &f, 30, 1) && keys_with(st, 'J') == 24,
          "f's events 8..30 and its head 30 still in format 2, as a crash between batches leaves them");
    CHECK(journal_open(&j, st, T_JOURNAL, &moved) == KERR_OK && j && moved == 24, "journal_open goes on (%zu)", moved);
    if (!j) {
        store_close(st);
        return;
    }
    CHECK(m_is(j, &f, 6) && m_is(j, &g, 6) && m_links(st, &f, NULL) && m_bytes(j, &f) && keys_with(st, 'J') == 0,
          "f's journal is whole: 30 events, one chain, in order");
    journal_close(j);
    store_close(st);
}

/* Old records that do not fit: conflicts and bad heads refuse, and nothing changes. */
static void test_migrate_refusals(const char *dir)
{
    store *st = open_store(dir);
    journal *j = NULL;
    size_t moved = 0;
    unsigned char d0[32], d1[32];
    model h = {.citizen = "burger-H", .base = 1788000000};
    model i2 = {.citizen = "burger-I", .base = 1789000000};
    model k1 = {.citizen = "burger-K", .base = 1790000000};
    skey k;
    store_txn t;

    if (!st)
        return;
    CHECK(write_v2(st, &h, 5, 1) && journal_open(&j, st, T_JOURNAL, &moved) == KERR_OK && moved == 6,
          "h: 5 events migrated");
    journal_close(j);
    j = NULL;

    /* an older kluisd wrote to the migrated vault: h's format-2 journal starts at seq 1 again */
    {
        model h2 = {.citizen = "burger-H", .base = 1700000000};
        CHECK(write_v2(st, &h2, 3, 1) && write_v2(st, &i2, 4, 1), "h: 3 new events in format 2; i: 4 in format 2");
    }
    digest(st, d0);
    CHECK(open_refused(st, KERR_CONFLICT), "journal_open: KERR_CONFLICT, out NULL");
    CHECK(journal_migrate(st, T_JOURNAL, 0, &moved) == KERR_CONFLICT && moved == 0, "journal_migrate: KERR_CONFLICT");
    digest(st, d1);
    CHECK(!memcmp(d0, d1, 32), "nothing changed (one batch)");
    CHECK(journal_migrate(st, T_JOURNAL, 1, &moved) == KERR_CONFLICT && keys_with(st, 'J') >= 4,
          "in batches of 1: KERR_CONFLICT, h's format-2 records stay where they are");
    {
        /* the operator removes the strays */
        store_txn_begin(st, &t, false);
        for (uint64_t s = 1; s <= 3; s++) {
            skey_reset(&k);
            skey_u8(&k, 'J');
            skey_id16(&k, st, h.citizen, strlen(h.citizen));
            skey_u64(&k, s);
            store_del(&t, T_JOURNAL, &k);
        }
        skey_u8(&k, 0xFF);
        store_del(&t, T_JOURNAL, &k);
        CHECK(store_txn_commit(&t) == KERR_OK, "remove h's format-2 records");
    }
    CHECK(journal_open(&j, st, T_JOURNAL, &moved) == KERR_OK && j && m_is(j, &h, 2) && m_is(j, &i2, 2),
          "then journal_open goes on: h is its 5 migrated events, i moved");
    journal_close(j);
    j = NULL;

    /* a format-2 head that does not match its events */
    CHECK(write_v2(st, &k1, 4, 0), "k: 4 format-2 events");
    {
        unsigned char rec[8 + HB];
        skey_reset(&k);
        skey_u8(&k, 'J');
        skey_id16(&k, st, k1.citizen, strlen(k1.citizen));
        skey_u64(&k, 4);
        skey_u8(&k, 0xFF);
        store_be64_put(rec, 4);
        memcpy(rec + 8, k1.head, HB);
        rec[8] ^= 1;
        store_txn_begin(st, &t, false);
        store_put(&t, T_JOURNAL, &k, rec, sizeof rec);
        CHECK(store_txn_commit(&t) == KERR_OK, "and a head with one bit flipped");
        digest(st, d0);
        CHECK(journal_migrate(st, T_JOURNAL, 0, &moved) == KERR_INTERNAL, "journal_migrate: KERR_INTERNAL");
        CHECK(open_refused(st, KERR_INTERNAL), "journal_open: KERR_INTERNAL");
        digest(st, d1);
        CHECK(!memcmp(d0, d1, 32), "nothing changed");
        rec[8] ^= 1;
        store_be64_put(rec, 3); /* the right head, but a count that leaves out event 4 */
        store_txn_begin(st, &t, false);
        store_put(&t, T_JOURNAL, &k, rec, sizeof rec);
        store_txn_commit(&t);
        CHECK(journal_migrate(st, T_JOURNAL, 0, &moved) != KERR_OK,
              "a head record whose count is not its key's: refused");
        store_be64_put(rec, 4);
        store_txn_begin(st, &t, false);
        store_put(&t, T_JOURNAL, &k, rec, sizeof rec);
        store_txn_commit(&t);
        CHECK(journal_open(&j, st, T_JOURNAL, &moved) == KERR_OK && j && moved == 5 && m_is(j, &k1, 2),
              "with the right head: moved");
        journal_close(j);
        j = NULL;
    }

    /* a format-1 head that does not match */
    {
        model l = {.citizen = "burger-L", .base = 1791000000};
        unsigned char rec[8 + HB];
        write_v1(st, &l, 3, 0, 0);
        skey_reset(&k);
        skey_u8(&k, 'E');
        skey_id(&k, st, l.citizen, strlen(l.citizen));
        skey_u8(&k, 0xFF);
        store_be64_put(rec, 3);
        memset(rec + 8, 0x55, HB);
        store_txn_begin(st, &t, false);
        store_put(&t, T_JOURNAL, &k, rec, sizeof rec);
        store_txn_commit(&t);
        CHECK(journal_migrate(st, T_JOURNAL, 0, &moved) == KERR_INTERNAL, "a bad format-1 head: KERR_INTERNAL");
        memcpy(rec + 8, l.head, HB);
        store_txn_begin(st, &t, false);
        if (store_get_raw(&t, T_JOURNAL, &k, &(const void *){NULL}, &(size_t){0}) == KERR_NOT_FOUND) {
            /* the refusal may come after a first step moved the records to format 2 */
            skey_reset(&k);
            skey_u8(&k, 'J');
            skey_id16(&k, st, l.citizen, strlen(l.citizen));
            skey_u64(&k, 3);
            skey_u8(&k, 0xFF);
        }
        store_put(&t, T_JOURNAL, &k, rec, sizeof rec);
        store_txn_commit(&t);
        CHECK(journal_open(&j, st, T_JOURNAL, &moved) == KERR_OK && j && m_is(j, &l, 3), "fixed: moved");
        journal_close(j);
        j = NULL;
    }

    /* a key of no known shape; a value that does not open */
    skey_reset(&k);
    skey_u8(&k, 'J');
    skey_u8(&k, 1);
    store_txn_begin(st, &t, false);
    store_put(&t, T_JOURNAL, &k, "x", 1);
    CHECK(store_txn_commit(&t) == KERR_OK, "a short 'J' key");
    CHECK(journal_migrate(st, T_JOURNAL, 0, &moved) == KERR_INTERNAL && keys_with(st, 'J') == 1,
          "a key of unknown shape: KERR_INTERNAL");
    del_key(st, &k);
    {
        model q = {.citizen = "burger-Q", .base = 1};
        size_t len;
        char *js = json_of(&q, 1, &len);
        CHECK(write_v2(st, &q, 1, 1), "q: one format-2 event");
        skey_reset(&k);
        skey_u8(&k, 'J');
        skey_id16(&k, st, q.citizen, strlen(q.citizen));
        skey_u64(&k, 1);
        store_txn_begin(st, &t, false);
        store_put_raw(&t, T_JOURNAL, &k, js, len); /* not sealed */
        CHECK(store_txn_commit(&t) == KERR_OK, "its event stored unsealed");
        free(js);
        CHECK(journal_migrate(st, T_JOURNAL, 0, &moved) == KERR_INTERNAL, "a value that does not open: KERR_INTERNAL");
    }
    store_close(st);
}

/* Run one stored-journal test in a fresh directory; prints its time as a comment line. */
/* A clean shutdown's checkpoint: journal_flush writes every head and 'M' = the last g, so the
 * next open replays nothing (an event after 'M' that does not continue its head would be refused:
 * here it is passed over because 'S' holds it). */
static void test_flush(const char *dir)
{
    store *st = open_store(dir);
    journal *j = NULL;
    store_txn t;
    model a = {.citizen = "burger-F1", .base = 100}, b = {.citizen = "burger-F2", .base = 200};
    uint64_t m = 0;
    int ok = 1;

    if (!st)
        return;
    if (!(j = open_or_close(st, "journal_open")))
        return;
    for (int i = 0; i < 5; i++) {
        store_txn_begin(st, &t, false);
        ok &= m_add(j, &t, &a) && (i % 2 || m_add(j, &t, &b));
        ok &= finish(j, &t) == KERR_OK;
    }
    CHECK(ok && keys_with(st, 'S') == 0 && get_m(st, &m) == 0, "5 batches, no checkpoint due: no 'S', no 'M'");
    CHECK(journal_flush(j) == KERR_OK && get_m(st, &m) == 1 && m == 8 && keys_with(st, 'S') == 2,
          "journal_flush: 'M' is the last g (%llu) and both heads are in 'S'", (unsigned long long)m);
    CHECK(m_is(j, &a, 2) && m_is(j, &b, 2), "the journal reads the same after the flush");
    store_txn_begin(st, &t, false);
    ok = m_add(j, &t, &a) && finish(j, &t) == KERR_OK;
    CHECK(ok && m_is(j, &a, 4), "appends go on after it (seq %llu)", (unsigned long long)a.count);
    journal_close(j);
    j = NULL;
    CHECK(journal_open(&j, st, T_JOURNAL, NULL) == KERR_OK && j && m_is(j, &a, 3) && m_is(j, &b, 3),
          "reopened: the same heads (one event replayed on top of 'S')");
    journal_close(j);
    store_close(st);
}

/* One page of CITIZEN's committed journal: KERR_OK with seq AFTER+1.. in order, else the error. */
static kerr page_of(journal *j, const char *citizen, uint64_t after, size_t limit, size_t *n)
{
    store_txn t;
    journal_pos pos;
    journal_entry *e = NULL;
    kerr r = journal_read_begin(j, citizen, &t, &pos);
    *n = 0;
    if (r == KERR_OK)
        r = journal_list(j, &t, &pos, after, limit, &e, n);
    for (size_t i = 0; r == KERR_OK && i < *n; i++)
        if (e[i].seq != after + 1 + i)
            r = KERR_CONFLICT;
    journal_entries_free(e, *n);
    store_txn_abort(&t);
    return r;
}

/* The 'X' record of CITIZEN's event SEQ: its key in *K; 1 and *G when present. */
static int x_get(store *st, const char *citizen, uint64_t seq, skey *k, uint64_t *g)
{
    store_txn t;
    unsigned char id[STORE_IDSHORT], v[8];
    size_t len = 0;
    id16_of(st, citizen, id);
    journal_index_key(k, st, id, seq);
    store_txn_begin(st, &t, true);
    int ok = store_get_buf(&t, T_JOURNAL, k, v, sizeof v, &len) == KERR_OK && len == 8;
    store_txn_abort(&t);
    if (ok)
        *g = store_be64(v);
    return ok;
}

/* Whether 'N' is stored and equals G. */
static int n_is(store *st, uint64_t g)
{
    uint64_t n = 0;
    return get_tag(st, 'N', &n) == 1 && n == g;
}

/* Delete every key that starts with TAG (an older kluisd's vault: no 'X', no 'N'). */
static kerr del_tag(store *st, uint8_t tag)
{
    store_txn t;
    store_iter it;
    skey p, *ks = NULL;
    size_t n = 0;
    skey_reset(&p);
    skey_u8(&p, tag);
    store_txn_begin(st, &t, false);
    for (store_iter_begin(&it, &t, T_JOURNAL, &p, NULL); store_iter_next(&it); n++) {
        size_t kl;
        const unsigned char *kb = store_iter_key(&it, &kl);
        if (!(ks = realloc(ks, (n + 1) * sizeof *ks)))
            exit(2);
        skey_reset(&ks[n]);
        skey_bytes(&ks[n], kb, kl);
    }
    store_iter_end(&it);
    for (size_t i = 0; i < n; i++)
        store_del(&t, T_JOURNAL, &ks[i]);
    free(ks);
    return store_txn_commit(&t);
}

/* A round that gathers more heads than the table was made for: past 3/4 of JOURNAL_SLOTS the table
 * doubles in the middle of the round, its slots move, and the round starts over the moved table.
 * When it ends, every citizen has its 'S' record and reads back its own head. */
#define GROW_N (JOURNAL_SLOTS / 4 * 3 + 1024u)
#define GROW_STEP 8192u

static void test_grow(const char *dir)
{
    store *st = open_store(dir);
    journal *j = NULL;
    model tick = {.citizen = "cp-ticker", .base = 900};
    uint64_t m0 = 0;
    int ok = 1, have_m0, nb = 0, mid = 0;
    unsigned done = 0;

    if (!st)
        return;
    if (!(j = open_or_close(st, "journal_open for the growth")))
        return;
    have_m0 = get_m(st, &m0);
    /* up to the round's threshold in 4 batches, then GROW_STEP more citizens a batch while the
     * round goes on, a part per batch */
    for (unsigned b = 0; b < 4; b++)
        ok &= cp_batch(j, st, b * (JOURNAL_CKPT_HEADS / 4), (b + 1) * (JOURNAL_CKPT_HEADS / 4), 0, 0) == KERR_OK;
    for (done = JOURNAL_CKPT_HEADS; ok && done < GROW_N;) {
        unsigned to = done + GROW_STEP < GROW_N ? done + GROW_STEP : GROW_N;
        uint64_t m;
        ok &= cp_batch(j, st, done, to, 0, 0) == KERR_OK;
        mid |= get_m(st, &m) != have_m0 || (have_m0 == 1 && m != m0);
        done = to;
    }
    CHECK(ok && done == GROW_N && !mid && keys_with(st, 'S') > 0,
          "%u citizens, past 3/4 of the table, appended while a round runs: no 'M' yet, %zu 'S' so far", GROW_N,
          keys_with(st, 'S'));
    CHECK(run_round(j, st, have_m0, m0, &tick, 2 * JOURNAL_ROUND_PARTS, &nb, NULL),
          "the round over the grown table ends with 'M' (%d batches)", nb);
    {
        size_t ns = keys_with(st, 'S');
        CHECK(ns == GROW_N + 1 || ns == GROW_N, "one 'S' record per citizen (%zu of %u)", ns, GROW_N);
    }
    {
        store_txn t;
        unsigned bad = 0, checked = 0;
        char name[32];
        store_txn_begin(st, &t, true);
        for (unsigned i = 0; i < GROW_N; i += 97, checked++) {
            journal_pos s, p;
            unsigned char want[HB];
            cp_name(name, sizeof name, i);
            cp_head(i, want);
            if (get_s(&t, name, &s) != 1 || s.count != 1 || memcmp(s.head, want, HB) ||
                !read_all(j, name, 4, &p) || p.count != 1 || memcmp(p.head, want, HB))
                bad++;
        }
        store_txn_abort(&t);
        CHECK(checked > 4000 && bad == 0, "%u citizens sampled: each 'S' and each read is its own head (%u wrong)",
              checked, bad);
    }
    journal_close(j);
    j = NULL;
    CHECK(journal_open(&j, st, T_JOURNAL, NULL) == KERR_OK && j && m_is(j, &tick, 3), "reopened: the ticker verifies");
    journal_close(j);
    store_close(st);
}

/* The table of heads is made at its full size (84 MB of address space, so that it never rehashes
 * while a round gathers), but only the pages of the slots used are touched: the memory of a journal
 * of a thousand citizens stays a few MB, at the open, the appends, and the round that empties it.
 * Measured in the normal build only: AddressSanitizer's shadow and valgrind's calloc count every
 * page of the table. */
#define MEM_CITIZENS 1000u
#define MEM_SLACK_KB (16L * 1024)

static void test_table_memory(const char *dir)
{
#ifdef LOAD_ASAN
    (void)dir;
    printf("# table memory: not measured in the sanitizer build\n");
#else
    if (getenv("KLUIS_VALGRIND")) {
        printf("# table memory: not measured under valgrind\n");
        return;
    }
    store *st = open_store(dir);
    journal *j = NULL;
    long a0, a1, a2, a3;
    int ok = 1;

    if (!st)
        return;
    a0 = proc_status_kb(getpid(), "RssAnon");
    if (!(j = open_or_close(st, "journal_open")))
        return;
    a1 = proc_status_kb(getpid(), "RssAnon");
    for (unsigned b = 0; b < 10; b++)
        ok &= cp_batch(j, st, b * MEM_CITIZENS / 10, (b + 1) * MEM_CITIZENS / 10, 0, 0) == KERR_OK;
    a2 = proc_status_kb(getpid(), "RssAnon");
    ok &= journal_flush(j) == KERR_OK; /* a whole round: every used slot written and wiped */
    a3 = proc_status_kb(getpid(), "RssAnon");
    CHECK(ok && keys_with(st, 'S') == MEM_CITIZENS, "%u citizens appended to and checkpointed", MEM_CITIZENS);
    printf("# RssAnon %ld kB before the open, +%ld after it, +%ld after the appends, +%ld after the round\n", a0,
           a1 - a0, a2 - a0, a3 - a0);
    CHECK(a0 > 0 && a1 - a0 < MEM_SLACK_KB && a2 - a0 < MEM_SLACK_KB && a3 - a0 < MEM_SLACK_KB,
          "the table's untouched pages stay untouched: RssAnon +%ld / +%ld / +%ld kB (open, appends, round), "
          "under %ld",
          a1 - a0, a2 - a0, a3 - a0, MEM_SLACK_KB);
    journal_close(j);
    store_close(st);
#endif
}

/*
 * The index: every 64th event of a citizen has an 'X' record, so a page walks from the nearest one
 * after it and costs its own events wherever it is (shown by an event far after the page that is
 * gone, and a page that does reach it); a wrong 'X' is caught, never served; 'X' keys name nobody;
 * journal_open indexes the events an older kluisd left without.
 */
static void test_index(const char *dir)
{
    store *st = open_store(dir);
    journal *j;
    model a = {.citizen = "burger-0001", .base = 1790000000};
    model b = {.citizen = "burger-0002", .base = 1791000000};
    store_txn t;
    size_t n = 0;
    int ok = 1;
    if (!st || !(j = open_or_close(st, "index: journal_open")))
        return;
    for (int batch = 0; batch < 20 && ok; batch++) {
        store_txn_begin(st, &t, false);
        for (int i = 0; i < 50 && ok; i++) {
            ok &= m_add(j, &t, &a);
            if (i % 7 == 0)
                ok &= m_add(j, &t, &b);
        }
        ok &= finish(j, &t) == KERR_OK;
    }
    size_t want = (size_t)(a.count / JOURNAL_INDEX_EVERY + b.count / JOURNAL_INDEX_EVERY);
    CHECK(ok && a.count == 1000 && b.count == 160, "index: 1000 and 160 events appended, interleaved");
    CHECK(keys_with(st, 'X') == want, "index: one 'X' record per %u events of a citizen (%zu, want %zu)",
          JOURNAL_INDEX_EVERY, keys_with(st, 'X'), want);
    {
        skey k;
        uint64_t g = 0;
        unsigned char ida[STORE_IDSHORT];
        id16_of(st, a.citizen, ida);
        CHECK(x_get(st, a.citizen, 640, &k, &g) && g == g_of(st, a.citizen, 640) && k.len == 1 + STORE_IDSHORT &&
                  memcmp(k.b + 1, ida, STORE_IDSHORT) != 0 && !x_get(st, a.citizen, 641, &k, &g) &&
                  !x_get(st, a.citizen, 1024, &k, &g),
          "index: 'X' of seq 640 names its g under a key that is not the citizen's id16; none for 641 or 1024");
    }
    CHECK(m_is(j, &a, 7) && m_is(j, &b, 100) && m_is(j, &a, 1000),
          "index: pages of 7, 100 and 1000 give both journals whole, in order, and they verify");

    /* event 500 of a gone: pages that end before 448 never reach it */
    skey k500;
    saved sv;
    journal_event_key(&k500, g_of(st, a.citizen, 500));
    save(st, &k500, &sv);
    CHECK(sv.v && del_key(st, &k500) == KERR_OK, "index: event 500 of burger-0001 deleted");
    CHECK(page_of(j, a.citizen, 0, 10, &n) == KERR_OK && n == 10 && page_of(j, a.citizen, 100, 28, &n) == KERR_OK &&
              n == 28 && page_of(j, a.citizen, 380, 68, &n) == KERR_OK && n == 68,
          "index: pages 1-10, 101-128 and 381-448 walk from 'X' 64, 128 and 448: event 500 is not on their way");
    CHECK(page_of(j, a.citizen, 490, 5, &n) == KERR_INTERNAL && page_of(j, a.citizen, 449, 1, &n) == KERR_INTERNAL,
          "index: pages 491-495 and 450 walk from 'X' 512 through 500: refused (internal), not served short");
    CHECK(restore(st, &sv) == KERR_OK && page_of(j, a.citizen, 490, 5, &n) == KERR_OK && n == 5,
          "index: event 500 put back, page 491-495 is served");

    /* a wrong 'X' (seq 64 → the g of seq 63) is caught */
    skey kx;
    uint64_t g64 = 0;
    saved sx;
    x_get(st, a.citizen, 64, &kx, &g64);
    save(st, &kx, &sx);
    {
        unsigned char v[8];
        store_be64_put(v, g_of(st, a.citizen, 63));
        store_txn_begin(st, &t, false);
        store_put(&t, T_JOURNAL, &kx, v, 8);
        ok = store_txn_commit(&t) == KERR_OK;
    }
    CHECK(ok && page_of(j, a.citizen, 0, 50, &n) == KERR_INTERNAL,
          "index: an 'X' that leads to another event is refused (internal), never served as the page");
    CHECK(restore(st, &sx) == KERR_OK && page_of(j, a.citizen, 0, 50, &n) == KERR_OK && n == 50,
          "index: the right 'X' put back, the page is served");
    journal_close(j);

    /* as an older kluisd left it: no 'X', no 'N'; journal_open gives every event its 'X' again */
    CHECK(del_tag(st, 'X') == KERR_OK && del_tag(st, 'N') == KERR_OK && keys_with(st, 'X') == 0,
          "index: every 'X' and 'N' deleted");
    j = open_or_close(st, "index: journal_open on a journal without index");
    if (!j)
        return;
    {
        skey k;
        uint64_t g = 0;
        CHECK(keys_with(st, 'X') == want && x_get(st, a.citizen, 640, &k, &g) && g == g_of(st, a.citizen, 640) &&
                  n_is(st, max_g(st)),
              "index: journal_open wrote the %zu 'X' records again and 'N' = the last g", want);
    }
    save(st, &k500, &sv);
    CHECK(sv.v && del_key(st, &k500) == KERR_OK && page_of(j, a.citizen, 0, 10, &n) == KERR_OK && n == 10,
          "index: with event 500 gone again, page 1-10 is served from the rebuilt index");
    CHECK(restore(st, &sv) == KERR_OK, "index: event 500 put back");

    /* the same with a checkpoint between: the events up to 'M' get their 'X' from the backfill,
     * the ones after it from the replay, which reads them anyway */
    ok = journal_flush(j) == KERR_OK;
    for (int batch = 0; batch < 6 && ok; batch++) {
        store_txn_begin(st, &t, false);
        for (int i = 0; i < 50 && ok; i++)
            ok &= m_add(j, &t, &a);
        ok &= finish(j, &t) == KERR_OK;
    }
    journal_close(j);
    want = (size_t)(a.count / JOURNAL_INDEX_EVERY + b.count / JOURNAL_INDEX_EVERY);
    CHECK(ok && a.count == 1300 && del_tag(st, 'X') == KERR_OK && del_tag(st, 'N') == KERR_OK &&
              keys_with(st, 'X') == 0,
          "index: 300 more events after a checkpoint, then every 'X' and 'N' deleted");
    j = open_or_close(st, "index: journal_open with events on both sides of 'M'");
    if (!j)
        return;
    {
        skey k;
        uint64_t g1 = 0, g2 = 0;
        CHECK(keys_with(st, 'X') == want && x_get(st, a.citizen, 640, &k, &g1) && g1 == g_of(st, a.citizen, 640) &&
                  x_get(st, a.citizen, 1280, &k, &g2) && g2 == g_of(st, a.citizen, 1280) && n_is(st, max_g(st)),
              "index: %zu 'X' again, before 'M' (seq 640) and after it (seq 1280), 'N' = the last g", want);
        CHECK(m_is(j, &a, 100) && m_is(j, &b, 100), "index: both journals verify");
    }
    journal_close(j);
    store_close(st);
}

static void run(const char *what, void (*fn)(const char *))
{
    char dir[64];
    struct timespec a, b;
    mktemp_dir(dir);
    clock_gettime(CLOCK_MONOTONIC, &a);
    fn(dir);
    clock_gettime(CLOCK_MONOTONIC, &b);
    rm_dir(dir);
    printf("# %s: %.2f s\n", what, (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
}

int main(void)
{
    if (sodium_init() < 0)
        return 2;
    /* A deadlock is a failure, not a hang. Under valgrind (tests/valgrind.sh sets KLUIS_VALGRIND)
     * everything runs 20-50 times slower: the checkpoint cases alone outlast 300 s there. */
    alarm(getenv("KLUIS_VALGRIND") ? 3600 : 300);
    randombytes_buf(skey1, sizeof skey1);
    test_vector();
    test_event_json();
    run("basic", test_basic);
    run("visibility", test_visibility);
    run("threads", test_threads);
    run("replay and tampering", test_replay_tamper);
    run("checkpoint", test_checkpoint);
    run("flush", test_flush);
    run("table memory", test_table_memory);
    run("growth within a round", test_grow);
    run("index", test_index);
    run("migration", test_migrate);
    run("migration resumed", test_migrate_resume);
    run("migration refusals", test_migrate_refusals);
    return TEST_END();
}
