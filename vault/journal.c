/*
 * vault/journal.c — the citizen journal (SPEC §9).
 *
 * This file owns the journal's byte format and its hash chain. The chain function is pure and is
 * what the citizen's client recomputes; everything stored goes through the store's sealed values,
 * so actors, organisations and remote addresses of a citizen's journal are not readable from
 * data.mdb. Each event is stored once, exactly as served, in append order; the heads changed since
 * the last checkpoint are kept in memory and follow the write transaction through an undo log.
 */
#include "vault/journal.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#define TAG_EVENT   ((uint8_t)'T') /* format 3: 'T' || be64(g) */
#define TAG_STATE   ((uint8_t)'S') /* format 3: 'S' || id16(citizen) */
#define TAG_META    ((uint8_t)'M') /* format 3: the checkpoint */
#define TAG_INDEX   ((uint8_t)'X') /* format 3: 'X' || id16('X' || id16 || be64(seq)) → be64(g) */
#define TAG_INDEXED ((uint8_t)'N') /* format 3: every event up to this g has its 'X' */
#define TAG_V2      ((uint8_t)'J') /* format 2: 'J' || id16(citizen) || be64(seq) | 0xFF */
#define TAG_V1      ((uint8_t)'E') /* format 1: 'E' || id_hash(citizen) || be64(seq) | 0xFF */
#define TAG_V0_HEAD ((uint8_t)'H') /* format 0's head: 'H' || id_hash(citizen) */
#define HEAD_MARK ((uint8_t)0xFF)
#define HEADREC_LEN (8 + JOURNAL_HEADBYTES)

static const char journal_ctx[] = "kluis/v1/journal\n";

void journal_chain(unsigned char next[JOURNAL_HEADBYTES], const unsigned char prev[JOURNAL_HEADBYTES],
                   const unsigned char *event, size_t len)
{
    crypto_generichash_state s;
    unsigned char p[JOURNAL_HEADBYTES];

    memcpy(p, prev, sizeof p); /* NEXT may alias PREV */
    crypto_generichash_init(&s, NULL, 0, JOURNAL_HEADBYTES);
    crypto_generichash_update(&s, (const unsigned char *)journal_ctx, sizeof journal_ctx - 1);
    crypto_generichash_update(&s, p, sizeof p);
    crypto_generichash_update(&s, event, len);
    crypto_generichash_final(&s, next, JOURNAL_HEADBYTES);
}

/* Add string field NAME = V ("" when V is NULL) to O; -1 for invalid UTF-8 or memory. */
static int set_str(json_t *o, const char *name, const char *v)
{
    json_t *s = json_string(v ? v : "");
    return s ? json_object_set_new(o, name, s) : -1;
}

/* Printable ASCII without '"' and '\\': JSON carries it as is, and it is valid UTF-8. */
static int plain(const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
            return 0;
    }
    return 1;
}

/*
 * The event JSON written directly when every string is plain (ids, roles, actions, codes and
 * addresses always are; names of organisations nearly always): byte for byte what the Jansson
 * path below gives, at a fraction of its cost — this runs on the group committer's thread for
 * every audited read. The JSON starts PRE bytes into the buffer (room for a record header). NULL
 * when some string is not plain (or memory runs out): use Jansson.
 */
static char *event_json_plain(size_t pre, size_t *len, uint64_t seq, const journal_event *ev)
{
    const char *f[8] = {ev->actor, ev->actor_role, ev->organisation, ev->action, ev->section, ev->basis,
                        ev->result, ev->remote};
    size_t cap = 200;
    for (int i = 0; i < 8; i++) {
        if (!plain(f[i]))
            return NULL;
        cap += f[i] ? strlen(f[i]) : 0;
    }
    char *out = malloc(pre + cap);
    if (!out)
        return NULL;
#define S(x) ((x) ? (x) : "")
    int n = snprintf(out + pre, cap,
                     "{\"seq\":%llu,\"time\":%lld,\"actor\":\"%s\",\"actor_role\":\"%s\",\"organisation\":\"%s\","
                     "\"action\":\"%s\"%s%s%s,\"basis\":\"%s\",\"result\":\"%s\",\"remote\":\"%s\"}",
                     (unsigned long long)seq, (long long)ev->time, S(ev->actor), S(ev->actor_role),
                     S(ev->organisation), S(ev->action), ev->section ? ",\"section\":\"" : "",
                     ev->section ? ev->section : "", ev->section ? "\"" : "", S(ev->basis), S(ev->result),
                     S(ev->remote));
#undef S
    if (n < 0 || (size_t)n >= cap) {
        free(out);
        return NULL;
    }
    *len = (size_t)n;
    return out;
}

/* journal_event_json() with the JSON starting PRE bytes into *BUF (*LEN counts the JSON only). */
static kerr event_json_at(char **buf, size_t pre, size_t *len, uint64_t seq, const journal_event *ev)
{
    json_t *o, *num;
    char *js;
    int bad = 0;

    *buf = NULL;
    *len = 0;
    if (seq <= (uint64_t)INT64_MAX && (*buf = event_json_plain(pre, len, seq, ev)) != NULL)
        return KERR_OK;
    o = json_object();
    if (!o)
        return KERR_INTERNAL;
    if (seq > (uint64_t)INT64_MAX) {
        json_decref(o);
        return KERR_INTERNAL;
    }
    if (!(num = json_integer((json_int_t)seq)) || json_object_set_new(o, "seq", num) != 0 ||
        !(num = json_integer((json_int_t)ev->time)) || json_object_set_new(o, "time", num) != 0) {
        json_decref(o);
        return KERR_INTERNAL;
    }
    bad |= set_str(o, "actor", ev->actor);
    bad |= set_str(o, "actor_role", ev->actor_role);
    bad |= set_str(o, "organisation", ev->organisation);
    bad |= set_str(o, "action", ev->action);
    if (ev->section)
        bad |= set_str(o, "section", ev->section);
    bad |= set_str(o, "basis", ev->basis);
    bad |= set_str(o, "result", ev->result);
    bad |= set_str(o, "remote", ev->remote);
    if (bad) {
        json_decref(o);
        return KERR_BAD_ENCODING; /* json_string() refuses invalid UTF-8 */
    }
    js = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!js)
        return KERR_INTERNAL;
    *len = strlen(js);
    if (pre == 0) {
        *buf = js;
        return KERR_OK;
    }
    if ((*buf = malloc(pre + *len + 1)) != NULL)
        memcpy(*buf + pre, js, *len + 1);
    sodium_memzero(js, *len);
    free(js);
    return *buf ? KERR_OK : KERR_INTERNAL;
}

kerr journal_event_json(char **json, size_t *len, uint64_t seq, const journal_event *ev)
{
    return event_json_at(json, 0, len, seq, ev);
}

/*
 * Format 3. Events are kept in append order under 'T' || be64(g), g a counter over the whole
 * vault: the B-tree grows at its right edge, so a group commit of many audited reads dirties a few
 * neighbouring pages however many citizens there are (format 2 kept each citizen's events
 * together, and at 250,000 citizens every read dirtied its own leaf and branch pages;
 * docs/performance.md, "Fifth pass"). An event's value starts with its citizen's id16, its seq and
 * the g of the citizen's previous event, so a citizen's journal is read by following these links
 * back from the head.
 *
 * The heads. 'S' || id16 holds a citizen's count, head and last g as of the last checkpoint; the
 * heads changed since are in memory, in an open-addressing table keyed by id16 (already a keyed
 * hash, so its first bytes index the table). Each slot has the writer's view (cur: the open
 * transaction's appends included) and the readers' view (com: committed). journal_append changes
 * cur and records the old value in an undo log; op_end(false) and a failed commit play the log
 * back; a successful commit copies cur to com under the lock. A checkpoint writes every cur to 'S'
 * and g to 'M' in a checkpoint round; a slot leaves the table when the round is done and its 'S'
 * record is current.
 *
 * A round. When JOURNAL_CKPT_HEADS slots or JOURNAL_CKPT_EVENTS events have gathered, the next
 * batch starts a round: R = the last g so far. Each batch from then on takes the next
 * 1/JOURNAL_ROUND_PARTS of the table's slots and writes the head of each one whose 'S' record is
 * behind; the batch of the last part also writes 'M' = R. A slot's home is the top bits of its
 * id16, so the table is in key order and a part dirties a narrow range of 'S' leaves; slots never
 * move during a round (nothing leaves the table until it ends; a table that must grow starts the
 * round over). One checkpoint in a single batch would hold up every writer for all of it (about
 * 0.2 s at 65,536 heads); a part costs its batch a millisecond or two. After a crash,
 * journal_open() reads the events after 'M' again: an event 'S' already holds (seq <= its count
 * and g <= its last g; a part may have written a head newer than R) is passed over, every other
 * one must continue its citizen's head exactly (checked), so the table is rebuilt as it was at the
 * last commit.
 */
#define EVHDR (STORE_IDSHORT + 8 + 8)        /* id16 || be64(seq) || be64(prev g) */
#define STATE_LEN (8 + JOURNAL_HEADBYTES + 8) /* be64(count) || head || be64(last g) */
/* The table is made at its full size when the journal opens: JOURNAL_SLOTS slots (84 MB of
 * address space), room for JOURNAL_CKPT_HEADS heads at most 5/8 full, and for the heads a round
 * adds before it ends up to 3/4 full (65,536; a round over a million citizens read at random at
 * 32,000 reads/s adds about 21,500). calloc() gives pages the kernel maps on first touch, and the
 * table touches only the pages of slots it has used (an unused slot is all zero, and only used
 * slots are wiped), so kluisd's own memory follows the heads gathered: 4 MB for a vault of 1,000
 * citizens, up to 84 MB from some 50,000 up. A table that had
 * to grow while serving held up every reader and the writer as it rehashed: 0.2 s at 262,144
 * slots, 0.4 s at 524,288, each a p99 of 150-300 ms in a 10 s round (docs/performance.md, "Tenth
 * pass"). It still doubles at 3/4 full, should a round ever gather more, but never shrinks. */
_Static_assert(JOURNAL_CKPT_HEADS <= JOURNAL_SLOTS / 8 * 5, "a round starts with the table at most 5/8 full");

struct jslot {
    unsigned char id[STORE_IDSHORT];
    bool used, cur_ok, com_ok;
    journal_pos cur, com;
    uint64_t sg; /* cur.last when a committed chunk wrote cur to 'S'; 0: 'S' is not known current */
};

struct jundo {
    unsigned char id[STORE_IDSHORT];
    bool cur_ok;
    journal_pos cur;
};

struct journal {
    store *st;
    store_table tab;
    pthread_mutex_t mu; /* the table's shape (id, used) and every com: readers and the writer */
    struct jslot *slot;
    size_t cap, used;   /* cap a power of two; used slots (cold ones included) */
    struct jundo *undo; /* the open transaction's changes of cur, oldest first; writer only */
    size_t nundo, capundo, mark;
    uint64_t next_g;    /* the next event's counter */
    uint64_t since;     /* events appended since the last round began (rolled back ones included) */
    unsigned bits;      /* cap = 2^bits */
    /* the checkpoint round (writer only) */
    bool round;         /* a round is on */
    size_t round_pos;   /* the slots before it are done */
    uint64_t round_g;   /* R: 'M' once every slot before cap is done */
    size_t chunk;       /* slots (from round_pos) the open transaction wrote to 'S'; it wrote 'M'
                           too when they reach cap (the round's last part) */
};

static void citizen_id16(unsigned char id[STORE_IDSHORT], const store *st, const char *citizen)
{
    skey k;
    skey_reset(&k);
    skey_id16(&k, st, citizen, strlen(citizen));
    memcpy(id, k.b, STORE_IDSHORT);
}

void journal_event_key(skey *k, uint64_t g)
{
    skey_reset(k);
    skey_u8(k, TAG_EVENT);
    skey_u64(k, g);
}

void journal_heads_prefix(skey *k)
{
    skey_reset(k);
    skey_u8(k, TAG_STATE);
}

static void state_key(skey *k, const unsigned char id[STORE_IDSHORT])
{
    journal_heads_prefix(k);
    skey_bytes(k, id, STORE_IDSHORT);
}

/* The index record of ID's event SEQ: a keyed hash of both, so the key names neither. */
void journal_index_key(skey *k, const store *st, const unsigned char id[STORE_IDSHORT], uint64_t seq)
{
    unsigned char in[1 + STORE_IDSHORT + 8];
    in[0] = TAG_INDEX;
    memcpy(in + 1, id, STORE_IDSHORT);
    store_be64_put(in + 1 + STORE_IDSHORT, seq);
    skey_reset(k);
    skey_u8(k, TAG_INDEX);
    skey_id16(k, st, in, sizeof in);
}

/* The 8-byte record K (a meta or an index record) into *V; KERR_NOT_FOUND (T healthy) when absent. */
static kerr u64_get(store_txn *t, store_table tab, const skey *k, uint64_t *v)
{
    unsigned char rec[8];
    size_t len;
    kerr e = store_get_buf(t, tab, k, rec, sizeof rec, &len);
    if (e != KERR_OK)
        return e;
    if (len != 8)
        return store_txn_fail(t, KERR_INTERNAL);
    *v = store_be64(rec);
    return KERR_OK;
}

static kerr u64_put(store_txn *t, store_table tab, const skey *k, uint64_t v)
{
    unsigned char rec[8];
    store_be64_put(rec, v);
    return store_put(t, tab, k, rec, sizeof rec);
}

/* Event SEQ of ID was appended with counter G: its index record when SEQ is a multiple of
 * JOURNAL_INDEX_EVERY, else nothing. */
static kerr index_put(store_txn *t, store_table tab, const unsigned char id[STORE_IDSHORT], uint64_t seq, uint64_t g)
{
    skey k;
    if (seq % JOURNAL_INDEX_EVERY != 0)
        return t->err;
    journal_index_key(&k, t->st, id, seq);
    return u64_put(t, tab, &k, g);
}

/* The g of ID's event SEQ from its index record; KERR_NOT_FOUND (T healthy) when it has none. */
static kerr index_get(store_txn *t, store_table tab, const unsigned char id[STORE_IDSHORT], uint64_t seq,
                      uint64_t *g)
{
    skey k;
    journal_index_key(&k, t->st, id, seq);
    return u64_get(t, tab, &k, g);
}

/* The checkpointed end of the journal of ID ('S'), zero when there is none. */
static kerr state_get(store_txn *t, store_table tab, const unsigned char id[STORE_IDSHORT], journal_pos *pos)
{
    unsigned char rec[STATE_LEN];
    size_t len;
    skey k;
    kerr e;

    memset(pos, 0, sizeof *pos);
    memcpy(pos->id, id, STORE_IDSHORT);
    state_key(&k, id);
    e = store_get_buf(t, tab, &k, rec, sizeof rec, &len);
    if (e == KERR_NOT_FOUND)
        return KERR_OK;
    if (e != KERR_OK)
        return e;
    if (len != STATE_LEN)
        return store_txn_fail(t, KERR_INTERNAL);
    pos->count = store_be64(rec);
    memcpy(pos->head, rec + 8, JOURNAL_HEADBYTES);
    pos->last = store_be64(rec + 8 + JOURNAL_HEADBYTES);
    sodium_memzero(rec, sizeof rec);
    return KERR_OK;
}

static kerr state_put(store_txn *t, store_table tab, const journal_pos *pos)
{
    unsigned char rec[STATE_LEN];
    skey k;
    state_key(&k, pos->id);
    store_be64_put(rec, pos->count);
    memcpy(rec + 8, pos->head, JOURNAL_HEADBYTES);
    store_be64_put(rec + 8 + JOURNAL_HEADBYTES, pos->last);
    kerr e = store_put(t, tab, &k, rec, sizeof rec);
    sodium_memzero(rec, sizeof rec);
    return e;
}

/* The g of meta record TAG ('M': the checkpoint, 'N': indexed up to); 0 when there is none. */
static kerr meta_get(store_txn *t, store_table tab, uint8_t tag, uint64_t *g)
{
    skey k;
    skey_reset(&k);
    skey_u8(&k, tag);
    *g = 0;
    kerr e = u64_get(t, tab, &k, g);
    return e == KERR_NOT_FOUND ? KERR_OK : e;
}

static kerr meta_set(store_txn *t, store_table tab, uint8_t tag, uint64_t g)
{
    skey k;
    skey_reset(&k);
    skey_u8(&k, tag);
    return u64_put(t, tab, &k, g);
}

/* The checkpoint CK: 'M', and 'N' with it (every writer of 'M' runs after index_backfill(), and
 * every event it appends has its 'X'). */
static kerr meta_put(store_txn *t, store_table tab, uint64_t ck)
{
    meta_set(t, tab, TAG_META, ck);
    return meta_set(t, tab, TAG_INDEXED, ck);
}

/* The g of the last event, 0 when there is none. */
static kerr last_g(store_txn *t, store_table tab, uint64_t *g)
{
    skey prefix, k;
    size_t len;
    skey_reset(&prefix);
    skey_u8(&prefix, TAG_EVENT);
    *g = 0;
    kerr e = store_get_last(t, tab, &prefix, &k, NULL, 0, &len);
    if (e == KERR_NOT_FOUND)
        return KERR_OK;
    if (e != KERR_OK)
        return e;
    if (k.len != 9)
        return store_txn_fail(t, KERR_INTERNAL);
    *g = store_be64(k.b + 1);
    return KERR_OK;
}

/* An event record, split. */
struct evrec {
    unsigned char *val; /* the opened value (store_val_free) */
    size_t len;
    uint64_t seq, prev;
    const unsigned char *json; /* into val */
    size_t json_len;
};

/* An event record's header: the citizen's ID, SEQ and the g of its previous event PREV. */
static void event_header(unsigned char h[EVHDR], const unsigned char id[STORE_IDSHORT], uint64_t seq, uint64_t prev)
{
    memcpy(h, id, STORE_IDSHORT);
    store_be64_put(h + STORE_IDSHORT, seq);
    store_be64_put(h + STORE_IDSHORT + 8, prev);
}

/* Split the opened value R->val (R->len bytes) into header fields and JSON; on failure (too short
 * to be an event) free it and poison T with KERR_INTERNAL. The inverse of event_header. */
static kerr event_split(store_txn *t, struct evrec *r)
{
    if (r->len <= EVHDR) {
        store_val_free(r->val, r->len);
        r->val = NULL;
        (void)store_txn_fail(t, KERR_INTERNAL);
        return KERR_INTERNAL; /* never KERR_OK, whatever T held before */
    }
    r->seq = store_be64(r->val + STORE_IDSHORT);
    r->prev = store_be64(r->val + STORE_IDSHORT + 8);
    r->json = r->val + EVHDR;
    r->json_len = r->len - EVHDR;
    return KERR_OK;
}

/* Read event G into R. KERR_NOT_FOUND when absent (T healthy); KERR_INTERNAL (T poisoned) when it
 * is too short to be an event. */
static kerr event_get(store_txn *t, store_table tab, uint64_t g, struct evrec *r)
{
    skey k;
    journal_event_key(&k, g);
    memset(r, 0, sizeof *r);
    kerr e = store_get(t, tab, &k, &r->val, &r->len);
    return e != KERR_OK ? e : event_split(t, r);
}

/* Double the array at *V (*CAP elements of SIZE bytes; FIRST when empty). false for memory (*V kept). */
static bool grow(void *v, size_t *cap, size_t size, size_t first)
{
    void **pv = v;
    size_t nc = *cap ? *cap * 2 : first;
    void *nv = realloc(*pv, nc * size);
    if (!nv)
        return false;
    *pv = nv;
    *cap = nc;
    return true;
}

/* ---------------------------------------------------------------- the table of heads */

/* The home slot of ID: the top BITS of its first 8 bytes, big-endian, so slots follow key order. */
static size_t slot_home(const unsigned char id[STORE_IDSHORT], unsigned bits)
{
    uint64_t h = 0;
    for (int i = 0; i < 8; i++)
        h = h << 8 | id[i];
    return (size_t)(h >> (64 - bits));
}

/* The slot of ID, or NULL. Writer: without the lock; readers: under it. */
static struct jslot *slot_find(const struct journal *j, const unsigned char id[STORE_IDSHORT])
{
    for (size_t i = slot_home(id, j->bits);; i = (i + 1) & (j->cap - 1)) {
        struct jslot *s = &j->slot[i];
        if (!s->used)
            return NULL;
        if (memcmp(s->id, id, STORE_IDSHORT) == 0)
            return s;
    }
}

static void slot_place(struct jslot *tbl, unsigned bits, const struct jslot *src)
{
    size_t cap = (size_t)1 << bits;
    for (size_t i = slot_home(src->id, bits);; i = (i + 1) & (cap - 1))
        if (!tbl[i].used) {
            tbl[i] = *src;
            return;
        }
}

/* Wipe the used slots of TBL (CAP slots): the others are all zero already, and stay untouched. */
static void slots_wipe(struct jslot *tbl, size_t cap)
{
    for (size_t i = 0; i < cap; i++)
        if (tbl[i].used)
            sodium_memzero(&tbl[i], sizeof tbl[i]);
}

/* The slot of ID, made (cold: no view yet) when missing; the table doubles at 3/4 full. Writer
 * only; takes the lock to change the table. NULL for memory. */
static struct jslot *slot_get(struct journal *j, const unsigned char id[STORE_IDSHORT])
{
    struct jslot *s = slot_find(j, id);
    if (s)
        return s;
    pthread_mutex_lock(&j->mu);
    if ((j->used + 1) * 4 > j->cap * 3) { /* 3/4 full */
        size_t ncap = j->cap * 2;
        struct jslot *nt = calloc(ncap, sizeof *nt);
        if (!nt) {
            pthread_mutex_unlock(&j->mu);
            return NULL;
        }
        for (size_t i = 0; i < j->cap; i++)
            if (j->slot[i].used)
                slot_place(nt, j->bits + 1, &j->slot[i]);
        slots_wipe(j->slot, j->cap);
        free(j->slot);
        j->slot = nt;
        j->cap = ncap;
        j->bits++;
        j->round_pos = 0; /* the slots moved: a round on goes over them again */
    }
    struct jslot fresh = {.used = true};
    memcpy(fresh.id, id, STORE_IDSHORT);
    slot_place(j->slot, j->bits, &fresh);
    j->used++;
    s = slot_find(j, id);
    pthread_mutex_unlock(&j->mu);
    return s;
}

/* Forget the open transaction's changes back to undo entry M (newest first). Writer only. */
static void rollback_to(struct journal *j, size_t m)
{
    while (j->nundo > m) {
        struct jundo *u = &j->undo[--j->nundo];
        struct jslot *s = slot_find(j, u->id);
        if (s) { /* always: slots leave the table only after a commit */
            s->cur = u->cur;
            s->cur_ok = u->cur_ok;
        }
        sodium_memzero(u, sizeof *u);
    }
}

/* The writer's view of ID's end: the table's cur, else the checkpointed 'S'. */
static kerr writer_pos(struct journal *j, store_txn *t, const unsigned char id[STORE_IDSHORT], journal_pos *pos)
{
    struct jslot *s = slot_find(j, id);
    if (s && s->cur_ok) {
        *pos = s->cur;
        return KERR_OK;
    }
    return state_get(t, j->tab, id, pos);
}

/* ---------------------------------------------------------------- appends and hooks */

kerr journal_append(journal *j, store_txn *t, const char *citizen, const journal_event *ev, uint64_t *seq_out,
                    unsigned char head_out[JOURNAL_HEADBYTES])
{
    unsigned char id[STORE_IDSHORT];
    journal_pos base, next;
    struct jslot *s;
    char *rec = NULL;
    size_t len;
    skey k;
    kerr e;

    if (t->err != KERR_OK)
        return t->err;
    if (j->nundo == j->capundo && !grow(&j->undo, &j->capundo, sizeof *j->undo, 64))
        return store_txn_fail(t, KERR_INTERNAL);
    citizen_id16(id, t->st, citizen);
    if (!(s = slot_get(j, id)))
        return store_txn_fail(t, KERR_INTERNAL);
    if (s->cur_ok)
        base = s->cur;
    else if (state_get(t, j->tab, id, &base) != KERR_OK)
        return t->err;
    if (base.count == UINT64_MAX || j->next_g == UINT64_MAX)
        return store_txn_fail(t, KERR_INTERNAL);
    /* the event's JSON straight after the record's header: one buffer, put as it is */
    if ((e = event_json_at(&rec, EVHDR, &len, base.count + 1, ev)) != KERR_OK)
        return store_txn_fail(t, e);
    event_header((unsigned char *)rec, id, base.count + 1, base.last);
    next = base;
    next.count = base.count + 1;
    next.last = j->next_g;
    journal_chain(next.head, base.head, (const unsigned char *)rec + EVHDR, len);
    journal_event_key(&k, j->next_g);
    store_put(t, j->tab, &k, rec, EVHDR + len);
    sodium_memzero(rec, EVHDR + len);
    free(rec);
    index_put(t, j->tab, id, next.count, j->next_g);
    if (t->err != KERR_OK)
        return t->err;

    struct jundo *u = &j->undo[j->nundo++];
    memcpy(u->id, id, STORE_IDSHORT);
    u->cur = s->cur;
    u->cur_ok = s->cur_ok;
    s->cur = next;
    s->cur_ok = true;
    j->next_g++;
    j->since++;
    if (seq_out)
        *seq_out = next.count;
    if (head_out)
        memcpy(head_out, next.head, JOURNAL_HEADBYTES);
    return KERR_OK;
}

kerr journal_head(journal *j, store_txn *t, const char *citizen, unsigned char head[JOURNAL_HEADBYTES],
                  uint64_t *count)
{
    unsigned char id[STORE_IDSHORT];
    journal_pos pos;

    memset(head, 0, JOURNAL_HEADBYTES);
    *count = 0;
    if (t->err != KERR_OK)
        return t->err;
    citizen_id16(id, t->st, citizen);
    if (writer_pos(j, t, id, &pos) != KERR_OK)
        return t->err;
    memcpy(head, pos.head, JOURNAL_HEADBYTES);
    *count = pos.count;
    return KERR_OK;
}

void journal_op_end(journal *j, bool kept)
{
    if (!kept)
        rollback_to(j, j->mark);
    j->mark = j->nundo;
}

/* Whether slot SL's 'S' record is behind its head. */
static bool behind(const struct jslot *sl)
{
    return sl->used && sl->cur_ok && sl->sg != sl->cur.last;
}

/* Write the head of every slot in [FROM, FROM+N) whose 'S' record is behind, in T. */
static kerr write_part(struct journal *j, store_txn *t, size_t from, size_t n)
{
    for (size_t i = from; i < from + n && t->err == KERR_OK; i++)
        if (behind(&j->slot[i]))
            state_put(t, j->tab, &j->slot[i].cur);
    return t->err;
}

/* What write_part(FROM, N) wrote is committed: those slots' 'S' records are current. */
static void mark_part(struct journal *j, size_t from, size_t n)
{
    for (size_t i = from; i < from + n; i++)
        if (behind(&j->slot[i]))
            j->slot[i].sg = j->slot[i].cur.last;
}

kerr journal_pre_commit(journal *j, store_txn *t)
{
    j->chunk = 0;
    if (t->err != KERR_OK)
        return t->err;
    if (!j->round && (j->used >= JOURNAL_CKPT_HEADS || j->since >= JOURNAL_CKPT_EVENTS)) {
        j->round = true;
        j->round_pos = 0;
        j->round_g = j->next_g - 1;
        j->since = 0;
    }
    if (!j->round)
        return KERR_OK;
    size_t n = j->cap / JOURNAL_ROUND_PARTS;
    if (n == 0 || n > j->cap - j->round_pos)
        n = j->cap - j->round_pos;
    if (write_part(j, t, j->round_pos, n) == KERR_OK && j->round_pos + n == j->cap)
        meta_put(t, j->tab, j->round_g);
    if (t->err != KERR_OK)
        return t->err;
    j->chunk = n;
    return KERR_OK;
}

/* The round is done: keep only the slots whose 'S' record is behind (under the lock). The table
 * is emptied and they go back in: no new table, so no allocation of its size that could fail. */
static void round_end(struct journal *j)
{
    size_t keep = 0;
    struct jslot *kept;
    for (size_t i = 0; i < j->cap; i++)
        keep += behind(&j->slot[i]);
    if ((kept = malloc((keep ? keep : 1) * sizeof *kept)) != NULL) { /* else only larger: nothing wrong */
        size_t n = 0;
        for (size_t i = 0; i < j->cap; i++) { /* one pass: copy what stays, wipe every used slot */
            if (behind(&j->slot[i]))
                kept[n++] = j->slot[i];
            if (j->slot[i].used)
                sodium_memzero(&j->slot[i], sizeof j->slot[i]);
        }
        for (size_t i = 0; i < n; i++)
            slot_place(j->slot, j->bits, &kept[i]);
        j->used = n;
        sodium_memzero(kept, n * sizeof *kept);
        free(kept);
    }
    j->round = false;
    j->round_pos = 0;
}

void journal_post_commit(journal *j, kerr result)
{
    if (result != KERR_OK) {
        rollback_to(j, 0);
    } else {
        pthread_mutex_lock(&j->mu);
        for (size_t i = 0; i < j->nundo; i++) {
            struct jslot *sl = slot_find(j, j->undo[i].id);
            if (sl) {
                sl->com = sl->cur;
                sl->com_ok = sl->cur_ok;
            }
        }
        mark_part(j, j->round_pos, j->chunk);
        j->round_pos += j->chunk;
        if (j->chunk && j->round_pos == j->cap) /* the part that wrote 'M' */
            round_end(j);
        pthread_mutex_unlock(&j->mu);
        sodium_memzero(j->undo, j->nundo * sizeof *j->undo);
    }
    j->nundo = 0;
    j->mark = 0;
    j->chunk = 0;
}

/* ---------------------------------------------------------------- readers */

kerr journal_read_begin(journal *j, const char *citizen, store_txn *t, journal_pos *pos)
{
    unsigned char id[STORE_IDSHORT];
    bool found = false;

    citizen_id16(id, j->st, citizen);
    memset(pos, 0, sizeof *pos);
    /* the head and the snapshot under one lock: a head in the table was adopted after its batch
     * committed, so T holds its events; a head not in it is in 'S' as of T */
    pthread_mutex_lock(&j->mu);
    struct jslot *s = slot_find(j, id);
    if (s && s->com_ok) {
        *pos = s->com;
        found = true;
    }
    store_txn_begin(j->st, t, true);
    pthread_mutex_unlock(&j->mu);
    if (!found && t->err == KERR_OK)
        state_get(t, j->tab, id, pos);
    return t->err;
}

/*
 * Follow the links back from POS to seq AFTER+1, putting the events with seq <= HI into OUT (index
 * seq - AFTER - 1). KERR_CONFLICT with *BAD the seq of the first link at fault (walking back) when
 * a record is missing or is not the citizen's event of that seq; T's error otherwise.
 */
static kerr walk(journal *j, store_txn *t, const journal_pos *pos, uint64_t after, uint64_t hi,
                 journal_entry *out, uint64_t *bad)
{
    uint64_t g = pos->last;
    for (uint64_t seq = pos->count; seq > after; seq--) {
        struct evrec r;
        kerr e = g ? event_get(t, j->tab, g, &r) : KERR_NOT_FOUND;
        if (e == KERR_NOT_FOUND) {
            *bad = seq;
            return KERR_CONFLICT;
        }
        if (e != KERR_OK)
            return e;
        if (r.seq != seq || sodium_memcmp(r.val, pos->id, STORE_IDSHORT) != 0 || (seq == 1 && r.prev != 0) ||
            (seq > 1 && r.prev == 0)) {
            store_val_free(r.val, r.len);
            *bad = seq;
            return KERR_CONFLICT;
        }
        if (out && seq <= hi) {
            journal_entry *o = &out[seq - after - 1];
            o->seq = seq;
            o->raw_len = r.json_len;
            if (!(o->raw = malloc(r.json_len + 1))) {
                store_val_free(r.val, r.len);
                return store_txn_fail(t, KERR_INTERNAL);
            }
            memcpy(o->raw, r.json, r.json_len);
            o->raw[r.json_len] = '\0';
        }
        g = r.prev;
        store_val_free(r.val, r.len);
    }
    return KERR_OK;
}

void journal_entries_free(journal_entry *e, size_t n)
{
    if (!e)
        return;
    for (size_t i = 0; i < n; i++)
        store_val_free(e[i].raw, e[i].raw_len);
    free(e);
}

kerr journal_list(journal *j, store_txn *t, const journal_pos *pos, uint64_t after, size_t limit,
                  journal_entry **out, size_t *n)
{
    journal_entry *v;
    uint64_t hi, bad = 0;
    size_t cnt;
    kerr e;

    *out = NULL;
    *n = 0;
    if (t->err != KERR_OK)
        return t->err;
    if (limit == 0 || after >= pos->count)
        return KERR_OK;
    hi = (uint64_t)limit >= pos->count - after ? pos->count : after + limit;
    cnt = (size_t)(hi - after);
    /* start from the first indexed event at or after HI when the head is past it (journal_open
     * indexed every event before this process's; without its record, from the head: longer) */
    journal_pos from = *pos;
    uint64_t k = (hi + JOURNAL_INDEX_EVERY - 1) / JOURNAL_INDEX_EVERY * JOURNAL_INDEX_EVERY, g = 0;
    if (k < pos->count) {
        if ((e = index_get(t, j->tab, pos->id, k, &g)) == KERR_OK) {
            from.count = k;
            from.last = g;
        } else if (e != KERR_NOT_FOUND) {
            return e;
        }
    }
    if (!(v = calloc(cnt, sizeof *v)))
        return store_txn_fail(t, KERR_INTERNAL);
    e = walk(j, t, &from, after, hi, v, &bad);
    if (e == KERR_CONFLICT)
        e = store_txn_fail(t, KERR_INTERNAL); /* a link that does not hold: the store is damaged */
    if (e != KERR_OK) {
        journal_entries_free(v, cnt);
        return e;
    }
    *out = v;
    *n = cnt;
    return KERR_OK;
}

/* Whether RAW is a JSON object whose "seq" is SEQ. */
static int seq_matches(const unsigned char *raw, size_t len, uint64_t seq)
{
    json_t *o = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *s = o ? json_object_get(o, "seq") : NULL;
    int ok = s && json_is_integer(s) && json_integer_value(s) >= 0 &&
             (uint64_t)json_integer_value(s) == seq;
    json_decref(o);
    return ok;
}

kerr journal_verify(journal *j, const char *citizen, uint64_t *bad_seq)
{
    unsigned char head[JOURNAL_HEADBYTES];
    journal_entry *v = NULL;
    journal_pos pos;
    uint64_t bad = 0;
    store_txn t;
    kerr e;

    if (bad_seq)
        *bad_seq = 0;
    if ((e = journal_read_begin(j, citizen, &t, &pos)) != KERR_OK) {
        store_txn_abort(&t);
        return e;
    }
    if (pos.count > SIZE_MAX / sizeof *v || (pos.count && !(v = calloc((size_t)pos.count, sizeof *v)))) {
        store_txn_abort(&t);
        return KERR_INTERNAL;
    }
    e = walk(j, &t, &pos, 0, pos.count, v, &bad);
    store_txn_abort(&t);
    memset(head, 0, sizeof head);
    for (uint64_t i = 0; e == KERR_OK && v && i < pos.count; i++) {
        if (!seq_matches(v[i].raw, v[i].raw_len, i + 1)) {
            bad = i + 1;
            e = KERR_CONFLICT;
            break;
        }
        journal_chain(head, head, v[i].raw, v[i].raw_len);
    }
    if (e == KERR_OK && sodium_memcmp(head, pos.head, sizeof head) != 0) {
        bad = pos.count + 1;
        e = KERR_CONFLICT;
    }
    journal_entries_free(v, (size_t)pos.count);
    if (e == KERR_CONFLICT && bad_seq)
        *bad_seq = bad;
    return e;
}


/* ---------------------------------------------------------------- opening */

#define MIGRATE_BATCH 4096u
static kerr migrate_v1(store *st, store_table tab, size_t batch, size_t *dropped);
static kerr migrate_v2(struct journal *j, store *st, store_table tab, size_t batch, size_t *moved);

/* 'X' records found by a walk over events, put once its cursor is closed (no put while a cursor is
 * open): the replay's and the backfill's. */
struct xpending {
    struct xrec {
        unsigned char id[STORE_IDSHORT];
        uint64_t seq, g;
    } *v;
    size_t n, cap;
};

/* Note the 'X' record of event SEQ (at G) of citizen ID when SEQ is one that has one. T fails
 * (KERR_INTERNAL) for memory. */
static kerr xpending_add(struct xpending *p, store_txn *t, const unsigned char id[STORE_IDSHORT], uint64_t seq,
                         uint64_t g)
{
    if (seq % JOURNAL_INDEX_EVERY != 0)
        return KERR_OK;
    if (p->n == p->cap && !grow(&p->v, &p->cap, sizeof *p->v, 1024))
        return store_txn_fail(t, KERR_INTERNAL);
    memcpy(p->v[p->n].id, id, STORE_IDSHORT);
    p->v[p->n].seq = seq;
    p->v[p->n++].g = g;
    return KERR_OK;
}

/* Put every noted record in T (table TAB) and forget them. */
static void xpending_put(struct xpending *p, store_txn *t, store_table tab)
{
    for (size_t i = 0; i < p->n; i++)
        index_put(t, tab, p->v[i].id, p->v[i].seq, p->v[i].g);
    p->n = 0;
}

/* Read the events after the checkpoint again into J's table (journal_open): each must continue its
 * citizen's chain exactly. In the same pass, each of them whose seq is a multiple of
 * JOURNAL_INDEX_EVERY gets its 'X' record again (an older kluisd may have appended it without), and
 * 'N' moves to the last event. T is a write transaction; *WROTE says whether the replay put
 * anything in it (after a clean stop there is nothing after 'M', and nothing is written). */
static kerr replay(struct journal *j, store_txn *t, uint64_t ck, bool *wrote)
{
    struct xpending xp = {0};
    uint64_t indexed = 0, g = ck;
    skey prefix, from;
    store_iter it;
    kerr e = KERR_OK;

    skey_reset(&prefix);
    skey_u8(&prefix, TAG_EVENT);
    journal_event_key(&from, ck + 1);
    for (store_iter_begin(&it, t, j->tab, &prefix, &from); e == KERR_OK && store_iter_next(&it);) {
        size_t klen;
        const unsigned char *key = store_iter_key(&it, &klen);
        struct evrec r = {0};
        journal_pos base;
        struct jslot *s;

        g = klen == 9 ? store_be64(key + 1) : 0;
        if (klen != 9 || store_iter_get(&it, &r.val, &r.len) != KERR_OK) {
            e = store_txn_fail(t, KERR_INTERNAL);
            break;
        }
        if ((e = event_split(t, &r)) != KERR_OK)
            break;
        if ((e = xpending_add(&xp, t, r.val, r.seq, g)) != KERR_OK ||
            (e = writer_pos(j, t, r.val, &base)) != KERR_OK) {
            store_val_free(r.val, r.len);
            break;
        }
        if (r.seq <= base.count && g <= base.last) {
            store_val_free(r.val, r.len); /* 'S' holds it already (a part of an unfinished round) */
            continue;
        }
        if (r.seq != base.count + 1 || r.prev != base.last || !(s = slot_get(j, r.val))) {
            store_val_free(r.val, r.len);
            e = store_txn_fail(t, KERR_INTERNAL); /* not the next event of its citizen (or memory) */
            break;
        }
        base.count++;
        base.last = g;
        journal_chain(base.head, base.head, r.json, r.json_len);
        s->cur = s->com = base;
        s->cur_ok = s->com_ok = true;
        j->since++;
        store_val_free(r.val, r.len);
    }
    store_iter_end(&it);
    *wrote = false;
    if (e == KERR_OK && meta_get(t, j->tab, TAG_INDEXED, &indexed) == KERR_OK && (xp.n || indexed < g)) {
        xpending_put(&xp, t, j->tab);
        if (indexed < g)
            meta_set(t, j->tab, TAG_INDEXED, g);
        *wrote = true;
    }
    free(xp.v);
    return e != KERR_OK ? e : t->err;
}

/*
 * Give the events after 'N' their 'X' records: those an older kluisd (format 3 before the index)
 * wrote. BATCH events per transaction, resumable: 'N' follows. TO_CHECKPOINT: only the events up
 * to 'M' (journal_open: the replay indexes those after it in the same pass as it reads them);
 * otherwise every event.
 */
static kerr index_backfill(store *st, store_table tab, size_t batch, bool to_checkpoint)
{
    struct xpending xp = {0};
    for (;;) {
        store_txn t;
        store_iter it;
        skey prefix, from;
        uint64_t done = 0, last = 0, upto, ck = UINT64_MAX;
        size_t scanned = 0;
        store_txn_begin(st, &t, false);
        if (to_checkpoint)
            meta_get(&t, tab, TAG_META, &ck);
        bool ok = meta_get(&t, tab, TAG_INDEXED, &done) == KERR_OK && last_g(&t, tab, &last) == KERR_OK;
        if (ok && last > ck)
            last = ck; /* up to 'M' */
        if (!ok || last <= done) {
            kerr e = t.err;
            store_txn_abort(&t);
            free(xp.v);
            return e;
        }
        upto = done;
        skey_reset(&prefix);
        skey_u8(&prefix, TAG_EVENT);
        journal_event_key(&from, done + 1);
        /* collect first, then write: no cursor open across the puts */
        for (store_iter_begin(&it, &t, tab, &prefix, &from); scanned < batch && store_iter_next(&it); scanned++) {
            size_t klen;
            const unsigned char *key = store_iter_key(&it, &klen);
            struct evrec r = {0};
            if (klen == 9 && store_be64(key + 1) > last)
                break; /* past 'M' (TO_CHECKPOINT): the replay's */
            if (klen != 9 || store_iter_get(&it, &r.val, &r.len) != KERR_OK) {
                store_txn_fail(&t, KERR_INTERNAL);
                break;
            }
            if (event_split(&t, &r) != KERR_OK)
                break;
            upto = store_be64(key + 1);
            kerr ea = xpending_add(&xp, &t, r.val, r.seq, upto);
            store_val_free(r.val, r.len);
            if (ea != KERR_OK)
                break;
        }
        store_iter_end(&it);
        xpending_put(&xp, &t, tab);
        meta_set(&t, tab, TAG_INDEXED, scanned < batch ? last : upto);
        kerr e = store_txn_commit(&t);
        if (e != KERR_OK) {
            free(xp.v);
            return e;
        }
    }
}

kerr journal_open(journal **out, store *st, store_table tab, size_t *moved)
{
    struct journal *j;
    bool wrote = false;
    size_t mv = 0, drop = 0;
    uint64_t ck = 0, g = 0;
    store_txn t;
    kerr e;

    *out = NULL;
    if (moved)
        *moved = 0;
    if ((e = migrate_v1(st, tab, MIGRATE_BATCH, &drop)) != KERR_OK ||
        (e = index_backfill(st, tab, MIGRATE_BATCH, true)) != KERR_OK)
        return e;
    if (!(j = calloc(1, sizeof *j)))
        return KERR_INTERNAL;
    j->st = st;
    j->tab = tab;
    j->cap = JOURNAL_SLOTS;
    for (j->bits = 0; ((size_t)1 << j->bits) < j->cap; j->bits++)
        ;
    if (pthread_mutex_init(&j->mu, NULL) != 0) {
        free(j);
        return KERR_INTERNAL;
    }
    if (!(j->slot = calloc(j->cap, sizeof *j->slot))) {
        journal_close(j);
        return KERR_INTERNAL;
    }
    /* a write transaction: the replay puts the 'X' records of the events it reads (committed only
     * when it put any; a clean start reads nothing after 'M' and writes nothing) */
    store_txn_begin(st, &t, false);
    if (meta_get(&t, tab, TAG_META, &ck) == KERR_OK && last_g(&t, tab, &g) == KERR_OK)
        replay(j, &t, ck, &wrote);
    if ((e = t.err) == KERR_OK && wrote)
        e = store_txn_commit(&t);
    else
        store_txn_abort(&t);
    /* format 2 after the replay, so that it sees every head, also those only memory held */
    if (e == KERR_OK && (e = migrate_v2(j, st, tab, MIGRATE_BATCH, &mv)) == KERR_OK) {
        store_txn_begin(st, &t, true);
        last_g(&t, tab, &g);
        e = t.err;
        store_txn_abort(&t);
    }
    if (e != KERR_OK) {
        journal_close(j);
        return e;
    }
    if (moved)
        *moved = mv + drop;
    j->next_g = (g > ck ? g : ck) + 1; /* R may name an event of a batch that failed */
    *out = j;
    return KERR_OK;
}

kerr journal_flush(journal *j)
{
    store_txn t;
    kerr e;

    if (!j)
        return KERR_OK;
    /* a whole round in one transaction: every part, then 'M' = the last g */
    store_txn_begin(j->st, &t, false);
    if (write_part(j, &t, 0, j->cap) == KERR_OK)
        meta_put(&t, j->tab, j->next_g - 1);
    if ((e = store_txn_commit(&t)) != KERR_OK)
        return e;
    pthread_mutex_lock(&j->mu);
    mark_part(j, 0, j->cap);
    round_end(j); /* nothing is behind: the table empties */
    pthread_mutex_unlock(&j->mu);
    j->since = 0;
    return KERR_OK;
}

void journal_close(journal *j)
{
    if (!j)
        return;
    if (j->slot) {
        slots_wipe(j->slot, j->cap);
        free(j->slot);
    }
    if (j->undo) {
        sodium_memzero(j->undo, j->capundo * sizeof *j->undo);
        free(j->undo);
    }
    pthread_mutex_destroy(&j->mu);
    free(j);
}
/* ---------------------------------------------------------------- format migration */

/* Format 2's keys: 'J' || id16 || be64(seq) for event seq; the head after event n at
 * 'J' || id16 || be64(n) || 0xFF, the citizen's last key. */
#define HEADKEY_EXTRA 9u /* be64(count) || 0xFF after the prefix */

/* Whether KEY (KLEN bytes, after a prefix of PLEN) is a format-2 head key. */
static int is_head_key(const unsigned char *key, size_t klen, size_t plen)
{
    return klen == plen + HEADKEY_EXTRA && key[klen - 1] == HEAD_MARK;
}


/* One record of an older layout, read for a move. */
struct old_rec {
    unsigned char key[SKEY_MAX];
    size_t klen;
    unsigned char *val;
    size_t len;
};

/* The current key of old record R in K; -1 when R has no known older shape. A head record's key
 * takes its count from the record itself. */
static int new_key_of(skey *k, const struct old_rec *r)
{
    const size_t id = STORE_IDBYTES;
    skey_reset(k);
    skey_u8(k, TAG_V2);
    skey_bytes(k, r->key + 1, STORE_IDSHORT); /* skey_id16 is the full hash's first bytes */
    if (r->key[0] == TAG_V1 && r->klen == 1 + id + 8)
        skey_bytes(k, r->key + 1 + id, 8);
    else if (((r->key[0] == TAG_V1 && r->klen == 1 + id + 1 && r->key[1 + id] == HEAD_MARK) ||
              (r->key[0] == TAG_V0_HEAD && r->klen == 1 + id)) &&
             r->len == HEADREC_LEN) {
        skey_bytes(k, r->val, 8); /* be64(count) */
        skey_u8(k, HEAD_MARK);
    } else
        return -1;
    return 0;
}

/* Whether the citizen of current-layout key NK (prefix 'J' || id16) already has a head. */
static bool has_head(store_txn *t, store_table tab, const skey *nk)
{
    skey prefix, last;
    size_t len;
    skey_reset(&prefix);
    skey_bytes(&prefix, nk->b, 1 + STORE_IDSHORT);
    return store_get_last(t, tab, &prefix, &last, NULL, 0, &len) == KERR_OK &&
           is_head_key(last.b, last.len, prefix.len);
}

/* The first key bytes of the older layouts, in key order ('E' records move before 'H' ones). */
static const uint8_t old_tags[] = {TAG_V1, TAG_V0_HEAD};

/* Read up to MAX records whose first key byte is one of TAGS (in that order) into R. */
static size_t collect_old(store_txn *t, store_table tab, const uint8_t *tags, size_t ntags, struct old_rec *r,
                          size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < ntags && n < max && t->err == KERR_OK; i++) {
        skey prefix;
        store_iter it;
        skey_reset(&prefix);
        skey_u8(&prefix, tags[i]);
        for (store_iter_begin(&it, t, tab, &prefix, NULL); n < max && store_iter_next(&it);) {
            const unsigned char *key = store_iter_key(&it, &r[n].klen);
            memcpy(r[n].key, key, r[n].klen);
            if (store_iter_get(&it, &r[n].val, &r[n].len) != KERR_OK)
                break;
            n++;
        }
        store_iter_end(&it);
    }
    return n;
}

/* Whether TAB holds any record with a first key byte of TAGS: a read transaction, one seek each. */
static bool any_old(store *st, store_table tab, const uint8_t *tags, size_t ntags)
{
    store_txn t;
    bool found = false;
    store_txn_begin(st, &t, true);
    for (size_t i = 0; i < ntags && !found; i++) {
        skey prefix;
        store_iter it;
        skey_reset(&prefix);
        skey_u8(&prefix, tags[i]);
        store_iter_begin(&it, &t, tab, &prefix, NULL);
        found = store_iter_next(&it);
        store_iter_end(&it);
    }
    found = found || t.err != KERR_OK; /* let the write pass report the error */
    store_txn_abort(&t);
    return found;
}

/* One batch of a move: rewrite the N records of R in T; *COUNT gets what the batch adds to the
 * caller's tally once committed. */
typedef kerr (*migrate_batch_fn)(store_txn *t, store_table tab, struct old_rec *r, size_t n, size_t *count,
                                 void *arg);

/* Move every record whose first key byte is one of TAGS, BATCH per synced write transaction, with
 * FN; *TOTAL sums the batches' counts. Nothing to move costs one read transaction (no writer lock). */
static kerr migrate_pass(store *st, store_table tab, const uint8_t *tags, size_t ntags, size_t batch,
                         migrate_batch_fn fn, void *arg, size_t *total)
{
    struct old_rec *r;
    kerr e = KERR_OK;

    *total = 0;
    if (!any_old(st, tab, tags, ntags))
        return KERR_OK;
    if (!(r = calloc(batch, sizeof *r)))
        return KERR_INTERNAL;
    for (;;) {
        store_txn t;
        size_t n, count = 0;
        store_txn_begin(st, &t, false);
        n = collect_old(&t, tab, tags, ntags, r, batch);
        if (n && t.err == KERR_OK)
            fn(&t, tab, r, n, &count, arg);
        for (size_t i = 0; i < n; i++) {
            store_val_free(r[i].val, r[i].len);
            r[i].val = NULL;
        }
        if (n == 0 || t.err != KERR_OK) {
            e = t.err;
            store_txn_abort(&t);
            break;
        }
        if ((e = store_txn_commit(&t)) != KERR_OK)
            break;
        *total += count;
    }
    free(r);
    return e;
}

/* Formats 0 and 1 → 2, one batch. *DROPPED counts the stale format-0 heads, which are not moved on. */
static kerr migrate_v1_batch(store_txn *t, store_table tab, struct old_rec *r, size_t n, size_t *dropped, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < n && t->err == KERR_OK; i++) {
        skey nk, ok;
        const void *cur;
        size_t len;
        if (new_key_of(&nk, &r[i]) != 0)
            return store_txn_fail(t, KERR_INTERNAL);
        if (r[i].key[0] == TAG_V0_HEAD && has_head(t, tab, &nk)) {
            /* a format-0 head 'H' beside a newer head (an append had moved it): drop it.
             * Every 'E' record sorts, and so moves, before any 'H' one. */
            (*dropped)++;
        } else if (store_get_raw(t, tab, &nk, &cur, &len) != KERR_OK) {
            store_put(t, tab, &nk, r[i].val, r[i].len);
        } else {
            /* both layouts hold this record: an older kluisd wrote to a migrated vault.
             * Overwriting either would lose an event; refuse and leave it to the operator. */
            return store_txn_fail(t, KERR_CONFLICT);
        }
        skey_reset(&ok);
        skey_bytes(&ok, r[i].key, r[i].klen);
        store_del(t, tab, &ok);
    }
    return t->err;
}

static kerr migrate_v1(store *st, store_table tab, size_t batch, size_t *dropped)
{
    return migrate_pass(st, tab, old_tags, sizeof old_tags, batch, migrate_v1_batch, NULL, dropped);
}

/*
 * Format 2 → 3. The 'J' records are read in key order, so each citizen's events come in seq order
 * followed by its head. Each event is given the next counter g and linked to the citizen's previous
 * one; the head is checked against the chain recomputed on the way; at the end of each batch the
 * heads of the citizens it touched go to 'S' and g to 'M'. A citizen whose events a batch split
 * goes on from its 'S' record in the next batch (so a crash between batches loses nothing).
 */
#define V2_EVENT_KLEN (1 + STORE_IDSHORT + 8)
#define V2_HEAD_KLEN (1 + STORE_IDSHORT + HEADKEY_EXTRA)

static kerr migrate_v2_batch(store_txn *t, store_table tab, struct old_rec *r, size_t n, size_t *moved, void *arg)
{
    struct journal *j = arg;
    journal_pos pos;
    uint64_t ck, g;
    bool open = false, after_ck;

    if (meta_get(t, tab, TAG_META, &ck) != KERR_OK || last_g(t, tab, &g) != KERR_OK)
        return t->err;
    /* Events after the checkpoint whose heads only memory holds: J, from journal_open(), has them
     * (replayed), and 'M' must then stay where it is; without J they are not ours to settle. */
    after_ck = g > ck;
    if (after_ck && !j)
        return store_txn_fail(t, KERR_CONFLICT);
    for (size_t i = 0; i < n && t->err == KERR_OK; i++) {
        const unsigned char *id = r[i].key + 1;
        skey ok;
        if (open && memcmp(pos.id, id, STORE_IDSHORT) != 0) {
            state_put(t, tab, &pos);
            open = false;
        }
        if (!open) {
            if (r[i].klen < 1 + STORE_IDSHORT || state_get(t, tab, id, &pos) != KERR_OK)
                return store_txn_fail(t, KERR_INTERNAL);
            if (j) {
                const struct jslot *sl = slot_find(j, id);
                if (sl && sl->cur_ok) /* format-3 events beside format-2 ones: an older kluisd wrote */
                    return store_txn_fail(t, KERR_CONFLICT);
            }
            open = true;
        }
        if (r[i].klen == V2_EVENT_KLEN) {
            skey k;
            unsigned char *rec;
            if (store_be64(r[i].key + 1 + STORE_IDSHORT) != pos.count + 1)
                return store_txn_fail(t, KERR_CONFLICT); /* not where this citizen's journal ends */
            if (!(rec = malloc(EVHDR + r[i].len)))
                return store_txn_fail(t, KERR_INTERNAL);
            event_header(rec, id, pos.count + 1, pos.last);
            memcpy(rec + EVHDR, r[i].val, r[i].len);
            journal_event_key(&k, ++g);
            store_put(t, tab, &k, rec, EVHDR + r[i].len);
            sodium_memzero(rec, EVHDR + r[i].len);
            free(rec);
            journal_chain(pos.head, pos.head, r[i].val, r[i].len);
            pos.count++;
            pos.last = g;
            index_put(t, tab, id, pos.count, g);
        } else if (is_head_key(r[i].key, r[i].klen, 1 + STORE_IDSHORT) && r[i].klen == V2_HEAD_KLEN) {
            if (r[i].len != HEADREC_LEN || store_be64(r[i].val) != pos.count ||
                store_be64(r[i].key + 1 + STORE_IDSHORT) != pos.count ||
                sodium_memcmp(r[i].val + 8, pos.head, JOURNAL_HEADBYTES) != 0)
                return store_txn_fail(t, KERR_INTERNAL); /* the head does not match its events */
        } else {
            return store_txn_fail(t, KERR_INTERNAL);
        }
        skey_reset(&ok);
        skey_bytes(&ok, r[i].key, r[i].klen);
        store_del(t, tab, &ok);
    }
    if (open)
        state_put(t, tab, &pos);
    if (!after_ck)
        meta_put(t, tab, g); /* every event is in 'S' */
    *moved = n;
    return t->err;
}

static kerr migrate_v2(struct journal *j, store *st, store_table tab, size_t batch, size_t *moved)
{
    static const uint8_t v2_tag[] = {TAG_V2};
    return migrate_pass(st, tab, v2_tag, sizeof v2_tag, batch, migrate_v2_batch, j, moved);
}

kerr journal_migrate(store *st, store_table tab, size_t batch, size_t *moved)
{
    size_t m1 = 0, m2 = 0;
    kerr e;

    *moved = 0;
    if (!batch)
        batch = MIGRATE_BATCH;
    e = migrate_v1(st, tab, batch, &m1);
    if (e == KERR_OK)
        e = index_backfill(st, tab, batch, false);
    if (e == KERR_OK)
        e = migrate_v2(NULL, st, tab, batch, &m2);
    *moved = m2 + m1; /* each record of format 0 or 1 went on to format 3, but the dropped heads */
    return e;
}
