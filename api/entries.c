/*
 * api/entries.c — the entries of a dossier section (SPEC §4, §6, §9):
 *   GET  /v1/citizens/{c}/sections/{s}/entries?after=&limit=   (citizen, grantee, beneficiary)
 *   POST /v1/citizens/{c}/sections/{s}/entries                 (citizen, write grantee)
 *
 * The read is THE hot path of the vault. Authentication, the access decision, the section's
 * existence and one page of entries come from ONE read-only transaction (one snapshot; the section
 * state is not even opened, and looked up only for an empty page), and the answer is built from
 * values stored ready to serve (b64 strings as received, no JSON parse, no base64 encode, no signature
 * check: entries are verified by whoever reads them, against the author's key), and answers only
 * once the "read" event is durable in the citizen's journal (api_commit_reply, 503
 * journal_unavailable when it cannot be written).
 *
 * The write checks in SPEC's one-way order: body, caller, access (write), the entry statement
 * (signed by the caller; citizen and section equal to the URL; blob_hash over the exact blob; the
 * section's current epoch; `corrects` naming an entry of the section; an unused id); then one
 * group-commit operation decides again at commit time (epoch, corrects, the grant still active and
 * writable), claims the id, stores the entry at the section's next seq and journals "write" — all
 * durable before the 201.
 */
#include "api/handlers.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/access.h"
#include "api/auth.h"
#include "api/commit.h"
#include "api/events.h"
#include "api/signed.h"
#include "vault/dossier.h"
#include "vault/encoding.h"
#include "vault/replay.h"
#include "vault/statement.h"

/** Page size of GET .../entries: default and maximum (docs/protocol.md). */
#define ENTRIES_PAGE_DEFAULT 100u
#define ENTRIES_PAGE_MAX 1000u

/* b64 of a statement of at most KSTMT_MAX_BYTES bytes; of a signature; of the largest blob */
#define STMT_B64_MAX (KSTMT_MAX_BYTES / 3 * 4 + 4)
#define BLOB_B64_MAX ((ENTRY_BLOB_MAX + 2) / 3 * 4)

/* ---------------------------------------------------------------- GET */

static json_t *entries_json(const struct entry_rec *e, size_t n, int more)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        /* the strings are b64 validated on the way in: no UTF-8 check needed on the way out */
        json_t *o = json_object();
        if (!o || json_object_set_new_nocheck(o, "seq", json_integer((json_int_t)e[i].seq)) ||
            json_object_set_new_nocheck(o, "statement", json_stringn_nocheck(e[i].statement, e[i].statement_len)) ||
            json_object_set_new_nocheck(o, "signature", json_stringn_nocheck(e[i].signature, e[i].signature_len)) ||
            json_object_set_new_nocheck(o, "blob", json_stringn_nocheck(e[i].blob, e[i].blob_len)) ||
            json_array_append_new(a, o)) {
            json_decref(o);
            json_decref(a);
            return NULL;
        }
    }
    if (!a)
        return NULL;
    json_t *next = more ? json_integer((json_int_t)e[n - 1].seq) : json_null();
    return json_pack("{s:o, s:o}", "entries", a, "next", next);
}

/* The base64url alphabet, which JSON carries without any escaping. */
static const unsigned char b64url_char[256] = {
    ['-'] = 1, ['_'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1,
    ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1,
    ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1,
    ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1,
    ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

/* Sixteen bytes at a time (GCC/Clang vector extensions: SSE2 on x86-64, NEON on arm64): the
 * table loop below cost ~5 instructions a byte, ~35 k per 7 KB answer; this ~1. */
typedef unsigned char b64v __attribute__((vector_size(16)));

/* All-ones lanes where C is a base64url character. */
static inline b64v b64url_lanes(b64v c)
{
    const b64v zero = {0};
    b64v d = c - (b64v)(zero + '0'), u = c - (b64v)(zero + 'A'), l = c - (b64v)(zero + 'a');
    return (b64v)((d < 10) | (u < 26) | (l < 26) | (c == '-') | (c == '_'));
}

/* Whether S (LEN bytes) is base64url text. */
static int b64url_text(const char *s, size_t len)
{
    b64v all = ~(b64v){0};
    size_t i = 0;
    for (; i + 16 <= len; i += 16) {
        b64v c;
        memcpy(&c, s + i, 16);
        all &= b64url_lanes(c);
    }
    uint64_t w[2];
    memcpy(w, &all, 16);
    unsigned char ok = (w[0] & w[1]) == UINT64_MAX;
    for (; i < len; i++)
        ok &= b64url_char[(unsigned char)s[i]];
    return ok;
}

static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

/* V in decimal at P (what "%llu" writes, without a format parser on the hot path). */
static char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

/*
 * The answer's JSON text written straight from the stored records, byte for byte what
 * json_dumps(entries_json(...), JSON_COMPACT) gives: the stored strings are base64url (checked
 * here again, since a served byte must never break the JSON), so they are copied, not escaped.
 * This is the hot read's whole serialisation: one allocation and a few memcpy's instead of a
 * Jansson tree and its per-character dump. NULL when a string is not base64url (then the caller
 * takes the Jansson path) or memory runs out; *LEN gets the length.
 */
static char *entries_text(const struct entry_rec *e, size_t n, int more, size_t *len)
{
    static const char head[] = "{\"entries\":[", tail_null[] = "],\"next\":null}";
    size_t cap = sizeof head + sizeof tail_null + 24;
    for (size_t i = 0; i < n; i++) {
        if (!b64url_text(e[i].statement, e[i].statement_len) || !b64url_text(e[i].signature, e[i].signature_len) ||
            !b64url_text(e[i].blob, e[i].blob_len))
            return NULL;
        cap += 64 + 24 + e[i].statement_len + e[i].signature_len + e[i].blob_len;
    }
    char *out = malloc(cap), *p = out;
    if (!out)
        return NULL;
    p = put(p, head, sizeof head - 1);
    for (size_t i = 0; i < n; i++) {
        p = i ? put(p, ",{\"seq\":", 8) : put(p, "{\"seq\":", 7);
        p = put_u64(p, e[i].seq);
        p = put(p, ",\"statement\":\"", 14);
        p = put(p, e[i].statement, e[i].statement_len);
        p = put(p, "\",\"signature\":\"", 15);
        p = put(p, e[i].signature, e[i].signature_len);
        p = put(p, "\",\"blob\":\"", 10);
        p = put(p, e[i].blob, e[i].blob_len);
        p = put(p, "\"}", 2);
    }
    if (more) {
        p = put(p, "],\"next\":", 9);
        p = put_u64(p, e[n - 1].seq);
        p = put(p, "}", 1);
    } else {
        p = put(p, tail_null, sizeof tail_null - 1);
    }
    *p = '\0';
    *len = (size_t)(p - out);
    return out;
}

void handle_entries_list(struct request *r)
{
    vault *v = r->ctx;
    const char *citizen = r->param[0], *section = r->param[1];
    uint64_t after = 0, limit = ENTRIES_PAGE_DEFAULT;
    struct caller c;
    struct access_result acc;
    if (api_query_u64(r, "after", 0, INT64_MAX, &after) < 0 ||
        api_query_u64(r, "limit", 0, ENTRIES_PAGE_MAX, &limit) < 0)
        return;
    if (limit == 0) {
        api_reply_error(r, KERR_BAD_REQUEST, "limit must be 1 to 1000.");
        return;
    }
    /* One read-only transaction, one snapshot: session, principal, grants, section, page. */
    store_txn t;
    store_txn_begin(v->st, &t, true);
    if (api_authenticate_txn(r, &t, &c) != 0 || api_access_txn(r, v, &t, &c, citizen, section, 0, &acc) != 0) {
        store_txn_abort(&t);
        return;
    }
    struct entry_rec *e = NULL;
    size_t n = 0;
    int more = 0;
    /* The section's existence is all this needs of its state, and an entry proves it: a section
     * record is never deleted (vault/dossier.h), so it is looked up only for an empty page. */
    kerr err = entry_list(v, &t, citizen, section, after, (size_t)limit, &e, &n, &more);
    if (err == KERR_OK && n == 0)
        err = section_exists(v, &t, citizen, section);
    store_txn_abort(&t);
    if (err != KERR_OK) {
        if (err == KERR_NOT_FOUND)
            api_reply_error(r, err, "The dossier has no such section.");
        else
            api_reply_store_error(r, err);
        return;
    }
    /* Serialised here, on this worker thread: the committer's thread only stores the answer. */
    size_t len = 0;
    char *text = entries_text(e, n, more, &len);
    struct api_prepared *reply = text ? api_prepare_json_text(API_OK, text, len)
                                      : api_prepare_json(API_OK, entries_json(e, n, more));
    entry_recs_free(e, n);

    int64_t now = (int64_t)time(NULL);
    struct event_op *op = event_op_new(v, &c, r->remote, citizen, "read", section, acc.basis_text, "allowed", now,
                                       acc.basis != BASIS_OWN ? 1 : 0);
    if (!op) {
        api_prepared_free(reply);
        api_reply_error(r, KERR_INTERNAL, NULL);
        return;
    }
    event_op_rely(op, 0, &acc);
    event_op_expired(op, &acc.expired);
    api_commit_prepared(r, v, event_apply, op, free, reply, KERR_JOURNAL_UNAVAILABLE);
}

/* ---------------------------------------------------------------- POST */

struct write_op {
    struct signed_op s;         /* envelope, statement, caller (api/signed.h) */
    const char *blob;           /* the entry, borrowed from s.body */
    struct access_result acc;
    char citizen[64], section[64];
    json_t *reply;              /* borrowed: owned by the pending commit; "seq" set by the apply */
};

static void write_op_free(void *arg)
{
    struct write_op *op = arg;
    if (!op)
        return;
    signed_op_release(&op->s);
    free(op);
}

/*
 * The checks that depend on the section's state, against T (the handler's snapshot or, at commit
 * time, the apply's transaction): the section exists, the statement's epoch is its current one
 * and has a key, `corrects` names an entry of it. SEQ_OUT gets the state.
 */
static kerr check_state(struct write_op *op, store_txn *t, struct section_state *s, const char **msg)
{
    kerr e = section_get(op->s.v, t, op->citizen, op->section, s);
    if (e == KERR_NOT_FOUND) {
        *msg = "The dossier has no such section.";
        return e;
    }
    if (e != KERR_OK)
        return e;
    if (s->erased || (uint64_t)op->s.st.epoch != s->current_epoch) {
        *msg = s->erased ? "The section was erased: rotate to a new epoch first."
                         : "The statement's epoch is not the section's current epoch.";
        return KERR_STALE_EPOCH;
    }
    if (op->s.st.corrects) {
        uint64_t seq = 0;
        e = entry_seq_of(op->s.v, t, op->citizen, op->section, op->s.st.corrects, &seq);
        if (e == KERR_NOT_FOUND) {
            *msg = "corrects names no entry of this section (corrects).";
            return KERR_BAD_STATEMENT;
        }
        if (e != KERR_OK)
            return e;
    }
    return KERR_OK;
}

static kerr write_apply(store_txn *t, void *arg)
{
    struct write_op *op = arg;
    vault *v = op->s.v;
    struct section_state s;
    const char *msg = NULL;
    kerr e;
    if (op->acc.basis == BASIS_GRANT &&
        (e = event_grant_active(v, t, op->citizen, op->acc.ref, op->section, 1, op->s.now)) != KERR_OK)
        return e;
    if (op->acc.basis == BASIS_OVERRIDE &&
        (e = event_override_active(v, t, op->citizen, op->s.c.id, op->acc.ref, op->section, op->s.now)) != KERR_OK)
        return e;
    if ((e = check_state(op, t, &s, &msg)) != KERR_OK)
        return e;
    if (vault_claim_statement_id(v, t, KSTMT_ENTRY, op->s.st.id, op->s.now) != KERR_OK)
        return t->err;
    struct entry_rec rec = {
        .seq = s.next_seq, .epoch = (uint64_t)op->s.st.epoch, .created = op->s.now,
        .id = op->s.st.id, .id_len = strlen(op->s.st.id), .author = op->s.c.id, .author_len = strlen(op->s.c.id),
        .statement = op->s.statement, .statement_len = strlen(op->s.statement),
        .signature = op->s.signature, .signature_len = strlen(op->s.signature),
        .blob = op->blob, .blob_len = strlen(op->blob),
    };
    if (entry_put(v, t, op->citizen, op->section, &rec) != KERR_OK)
        return t->err;
    s.next_seq++;
    s.entries++;
    if (section_put(v, t, op->citizen, op->section, &s) != KERR_OK)
        return t->err;
    journal_event ev;
    api_journal_event(&ev, &op->s.c, op->s.remote, op->s.now, "write", op->section, op->acc.basis_text, "allowed");
    if (journal_append(v->journal, t, op->citizen, &ev, NULL, NULL) != KERR_OK ||
        api_end_expired(v, t, op->s.c.id, op->citizen, &op->acc.expired, op->s.now) != KERR_OK)
        return t->err;
    if (json_object_set_new(op->reply, "seq", json_integer((json_int_t)rec.seq)) != 0)
        return store_txn_fail(t, KERR_INTERNAL);
    return KERR_OK;
}

void handle_entry_create(struct request *r)
{
    vault *v = r->ctx;
    const char *citizen = r->param[0], *section = r->param[1];
    struct write_op *op = calloc(1, sizeof *op);
    unsigned char *blob = NULL;
    if (!op) {
        api_reply_error(r, KERR_INTERNAL, NULL);
        return;
    }
    signed_op_init(&op->s, r, v);
    snprintf(op->citizen, sizeof op->citizen, "%s", citizen);
    snprintf(op->section, sizeof op->section, "%s", section);
    /* blob's bound here is the body limit's; its own limit is answered below as 413 */
    const struct jspec spec[] = {
        {.name = "statement", .type = JS_STRING, .out = &op->s.statement, .len = STMT_B64_MAX},
        {.name = "signature", .type = JS_STRING, .out = &op->s.signature, .len = API_SIG_B64_MAX},
        {.name = "blob", .type = JS_STRING, .out = &op->blob, .len = 4 * 1024 * 1024},
    };
    if (api_parse_body(r, spec, sizeof spec / sizeof spec[0], &op->s.body) != 0)
        goto out;
    size_t blob_b64 = strlen(op->blob);
    if (blob_b64 > BLOB_B64_MAX) { /* b64 of ENTRY_BLOB_MAX bytes: longer decodes to more */
        api_reply_error(r, KERR_TOO_LARGE, "The blob is larger than 1 MiB (blob).");
        goto out;
    }
    size_t blob_len = 0, blob_cap = blob_b64 / 4 * 3 + 3;
    if (!(blob = malloc(blob_cap))) {
        api_reply_error(r, KERR_INTERNAL, NULL);
        goto out;
    }
    if (b64_decode(blob, blob_cap, &blob_len, op->blob, blob_b64) != 0 || blob_len < KLUIS_AEAD_OVERHEAD) {
        api_reply_error(r, KERR_BAD_ENCODING, "The blob is not base64url of nonce || ciphertext (blob).");
        goto out;
    }
    if (blob_len > ENTRY_BLOB_MAX) {
        api_reply_error(r, KERR_TOO_LARGE, "The blob is larger than 1 MiB (blob).");
        goto out;
    }
    if (api_authenticate(r, &op->s.c) != 0 || api_access(r, v, &op->s.c, citizen, section, 1, &op->acc) != 0)
        goto out;
    if (signed_op_verify(&op->s, r, "entry") != 0)
        goto out;
    if (strcmp(op->s.st.citizen, citizen) != 0 || strcmp(op->s.st.section, section) != 0) {
        api_reply_error(r, KERR_BAD_STATEMENT, "The statement's citizen or section is not the one in the URL.");
        goto out;
    }
    unsigned char h[KLUIS_HASH_BYTES];
    if (kluis_blob_hash(h, blob, blob_len) != 0 || sodium_memcmp(h, op->s.st.blob_hash, sizeof h) != 0) {
        api_reply_error(r, KERR_BAD_STATEMENT, "blob_hash is not the BLAKE2b-256 of the blob (blob_hash).");
        goto out;
    }
    free(blob);
    blob = NULL;

    /* Early refusals on a snapshot; the apply decides again at commit time. */
    store_txn t;
    struct section_state s;
    const char *msg = NULL;
    store_txn_begin(v->st, &t, true);
    kerr e = check_state(op, &t, &s, &msg);
    if (e == KERR_OK)
        e = vault_statement_id_used(v, &t, KSTMT_ENTRY, op->s.st.id);
    store_txn_abort(&t);
    if (e != KERR_OK) {
        int st = kerr_status(e);
        if (st == 400 || st == 404 || st == 409)
            api_reply_error(r, e, msg);
        else
            api_reply_store_error(r, e);
        goto out;
    }
    json_t *reply = json_object();
    if (!reply) {
        api_reply_error(r, KERR_INTERNAL, NULL);
        goto out;
    }
    op->reply = reply;
    api_commit_reply(r, v, write_apply, op, write_op_free, API_CREATED, reply, KERR_OK);
    return;
out:
    free(blob);
    write_op_free(op);
}
