/*
 * bench/gen.c — the benchmark's data sets, written straight through the vault's C API.
 *
 * Enrolling a citizen over HTTP costs an Argon2id run on the client (the passphrase bundle); a
 * million of them would take days. This program writes, in the vault's own store and through its
 * own group committer, exactly the records the HTTP handlers write (api/citizens.c enroll_apply,
 * api/grants.c grant_apply, the entry writes), with real signatures made by deterministic keys:
 * every key of the data set is derived from its owner's id (seed_of()), so any bench program can
 * sign as any citizen without a key file. Only the opaque wraps (self, escrow, grant) are random
 * bytes of the right length unless --real-wraps is given: the vault stores and serves them but
 * never opens them on the paths measured here. kluisd must not be running on DIR meanwhile.
 *
 *   bench_gen vault DIR --charter FILE --citizens N [--entries E] [--out PREFIX] [--real-wraps|--fast]
 *       creates DIR (when it holds no vault) and adds citizens c0000001..cN (those not there yet):
 *       enrolled in every charter section (epoch 1), a read grant of purpose "ondersteuning" to the
 *       professional "bench-prof" on plan, wonen and zorg-gezondheid, and E entries of 1 KiB
 *       plaintext in section "plan". Writes PREFIX.token (a session of bench-prof), PREFIX.paths
 *       (one GET path per citizen), PREFIX.ctokens (sessions of the first 1000 citizens, "id token").
 *   bench_gen grants --ctokens FILE --count M --out FILE
 *       M pre-signed grant requests (citizen → bench-prof2, 3 sections, wraps for epoch 1), one per
 *       line "path<TAB>token<TAB>body", for the grant-creation benchmark (bench/grants.lua).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "vault/citizen.h"
#include "vault/crypto.h"
#include "vault/dossier.h"
#include "vault/encoding.h"
#include "vault/grant.h"
#include "vault/journal.h"
#include "vault/replay.h"
#include "vault/secret.h"
#include "vault/session.h"
#include "vault/statement.h"
#include "vault/vault.h"

#define PROF "bench-prof"
#define PROF2 "bench-prof2"
#define CHUNK 250
#define MAX_SECTIONS 16
#define ENTRY_PT 1024
#define GRANTED 3

static const char *const granted[GRANTED] = {"plan", "wonen", "zorg-gezondheid"};

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench_gen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* ---------------------------------------------------------------- deterministic keys */

static void seed_of(unsigned char out[32], const char *what, const char *id, const char *extra)
{
    static const unsigned char k[32] = "kluis-bench-data-set-seed-v1....";
    crypto_generichash_state s;
    crypto_generichash_init(&s, k, sizeof k, 32);
    crypto_generichash_update(&s, (const unsigned char *)what, strlen(what) + 1);
    crypto_generichash_update(&s, (const unsigned char *)id, strlen(id) + 1);
    if (extra)
        crypto_generichash_update(&s, (const unsigned char *)extra, strlen(extra) + 1);
    crypto_generichash_final(&s, out, 32);
}

static void keys_of(struct kluis_keys *k, const char *id)
{
    unsigned char ss[32], bs[32];
    seed_of(ss, "sign", id, NULL);
    seed_of(bs, "box", id, NULL);
    if (kluis_keys_from_seeds(k, ss, bs) != 0)
        die("keys");
    sodium_memzero(ss, sizeof ss);
    sodium_memzero(bs, sizeof bs);
}

static char *b64(const unsigned char *p, size_t n)
{
    char *s = b64_encode(p, n);
    if (!s)
        die("out of memory");
    return s;
}

static json_t *jb64(const unsigned char *p, size_t n)
{
    char *s = b64(p, n);
    json_t *j = json_string(s);
    free(s);
    return j;
}

/* --fast: statements carry a random signature of the right length instead of a real one (the
 * measured paths never verify one); for the million-citizen data set, where Ed25519 would be most
 * of the time spent. */
static int g_fast;

/* Sign OBJ (taken) with SK; *STATEMENT and *SIGNATURE are malloc'd b64 strings. */
static void sign(json_t *obj, const unsigned char *sk, char **statement, char **signature)
{
    json_t *env = NULL;
    struct jerr err;
    if (obj && g_fast) {
        char *text = json_dumps(obj, JSON_COMPACT);
        unsigned char sig[64];
        randombytes_buf(sig, sizeof sig);
        json_decref(obj);
        if (!text)
            die("out of memory");
        *statement = b64((const unsigned char *)text, strlen(text));
        *signature = b64(sig, sizeof sig);
        free(text);
        return;
    }
    if (!obj || kstmt_sign_json(&env, obj, sk, &err) != 0)
        die("cannot sign a statement");
    json_decref(obj);
    *statement = strdup(json_string_value(json_object_get(env, "statement")));
    *signature = strdup(json_string_value(json_object_get(env, "signature")));
    json_decref(env);
    if (!*statement || !*signature)
        die("out of memory");
}

/* ---------------------------------------------------------------- one citizen, prepared */

struct prep_entry {
    char id[64];
    char *statement, *signature, *blob;
};

struct prep {
    char id[64];
    unsigned char sign_pk[32], box_pk[32];
    struct citizen_login login;
    size_t n_sections;
    char section[MAX_SECTIONS][64];
    char ep_id[MAX_SECTIONS][64];
    struct epoch_record ep[MAX_SECTIONS];
    char grant_id[64];
    char *g_statement, *g_signature;
    unsigned char gwrap[GRANTED][KLUIS_WRAP_BYTES];
    size_t n_entries;
    struct prep_entry *entries;
};

struct gen {
    vault *v;
    const struct charter *ch;
    int64_t now;
    unsigned long first, last; /* citizens first..last (1-based, inclusive) */
    unsigned long next;        /* next chunk start, under mu */
    size_t entries;
    int real_wraps;
    unsigned char prof_box_pk[32], authority_pk[32];
    pthread_mutex_t mu;
    unsigned long done;
};

static void fill_wrap(unsigned char *out, size_t n, const unsigned char *dek, const unsigned char *pk, int real)
{
    if (!real) {
        randombytes_buf(out, n);
        return;
    }
    if (kluis_wrap(out, dek, pk) != 0)
        die("wrap");
}

static void prep_citizen(struct gen *g, unsigned long i, struct prep *p)
{
    struct kluis_keys *k = kluis_keys_new();
    if (!k)
        die("out of memory");
    memset(p, 0, sizeof *p);
    snprintf(p->id, sizeof p->id, "c%07lu", i);
    keys_of(k, p->id);
    memcpy(p->sign_pk, k->sign_pk, 32);
    memcpy(p->box_pk, k->box_pk, 32);
    randombytes_buf(p->login.salt, sizeof p->login.salt);
    p->login.opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    p->login.memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    randombytes_buf(p->login.bundle, sizeof p->login.bundle);
    randombytes_buf(p->login.auth_hash, sizeof p->login.auth_hash);

    p->n_sections = g->ch->n_sections;
    if (p->n_sections > MAX_SECTIONS)
        die("too many charter sections");
    for (size_t s = 0; s < p->n_sections; s++) {
        const char *sec = g->ch->sections[s].id;
        unsigned char dek[32], commit[32];
        snprintf(p->section[s], 64, "%s", sec);
        snprintf(p->ep_id[s], 64, "ep-%.40s-%zu", p->id, s);
        seed_of(dek, "dek", p->id, sec);
        if (kluis_key_commit(commit, p->id, sec, 1, dek) != 0)
            die("commit");
        sign(json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:o}", "type", "epoch", "id", p->ep_id[s], "signer",
                       p->id, "issued", (json_int_t)g->now, "citizen", p->id, "section", sec, "epoch", (json_int_t)1,
                       "commit", jb64(commit, 32)),
             k->sign_sk, &p->ep[s].statement, &p->ep[s].signature);
        p->ep[s].epoch = 1;
        p->ep[s].created = g->now;
        fill_wrap(p->ep[s].self_wrap, KLUIS_WRAP_BYTES, dek, k->box_pk, g->real_wraps);
        if (!g->real_wraps)
            randombytes_buf(p->ep[s].escrow_wrap, KLUIS_ESCROW_BYTES);
        else if (kluis_escrow_seal(p->ep[s].escrow_wrap, dek, g->authority_pk, g->v->gate_pk) != 0)
            die("escrow");
        sodium_memzero(dek, sizeof dek);
    }

    /* the grant: citizen → bench-prof, read, ondersteuning */
    snprintf(p->grant_id, sizeof p->grant_id, "g-%.40s", p->id);
    json_t *secs = json_array();
    for (int s = 0; s < GRANTED; s++) {
        unsigned char dek[32];
        json_array_append_new(secs, json_string(granted[s]));
        seed_of(dek, "dek", p->id, granted[s]);
        fill_wrap(p->gwrap[s], KLUIS_WRAP_BYTES, dek, g->prof_box_pk, g->real_wraps);
        sodium_memzero(dek, sizeof dek);
    }
    sign(json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:o, s:s, s:s, s:I, s:I}", "type", "grant", "id", p->grant_id,
                   "signer", p->id, "issued", (json_int_t)g->now, "citizen", p->id, "grantee", PROF, "sections", secs,
                   "access", "read", "purpose", "ondersteuning", "not_before", (json_int_t)(g->now - 3600), "expires",
                   (json_int_t)(g->now + 170 * 86400)),
         k->sign_sk, &p->g_statement, &p->g_signature);

    /* entries of 1 KiB plaintext in "plan" */
    p->n_entries = g->entries;
    p->entries = g->entries ? calloc(g->entries, sizeof *p->entries) : NULL;
    if (g->entries && !p->entries)
        die("out of memory");
    unsigned char dek[32], pt[ENTRY_PT], blob[ENTRY_PT + KLUIS_AEAD_OVERHEAD], bh[32];
    seed_of(dek, "dek", p->id, "plan");
    for (size_t e = 0; e < g->entries; e++) {
        struct prep_entry *pe = &p->entries[e];
        snprintf(pe->id, sizeof pe->id, "e-%.40s-%zu", p->id, e + 1);
        int n = snprintf((char *)pt, sizeof pt,
                         "{\"kind\":\"note\",\"title\":\"Gesprek %zu\",\"mime\":\"text/plain\",\"body\":\"", e + 1);
        memset(pt + n, 'x', sizeof pt - (size_t)n - 2);
        memcpy(pt + sizeof pt - 2, "\"}", 2);
        if (kluis_entry_encrypt(blob, pt, sizeof pt, p->id, "plan", 1, pe->id, dek) != 0 ||
            kluis_blob_hash(bh, blob, sizeof blob) != 0)
            die("entry");
        pe->blob = b64(blob, sizeof blob);
        sign(json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:o}", "type", "entry", "id", pe->id, "signer", p->id,
                       "issued", (json_int_t)g->now, "citizen", p->id, "section", "plan", "epoch", (json_int_t)1,
                       "blob_hash", jb64(bh, 32)),
             k->sign_sk, &pe->statement, &pe->signature);
    }
    sodium_memzero(dek, sizeof dek);
    kluis_keys_free(k);
}

static void prep_free(struct prep *p)
{
    for (size_t s = 0; s < p->n_sections; s++) {
        free(p->ep[s].statement);
        free(p->ep[s].signature);
    }
    free(p->g_statement);
    free(p->g_signature);
    for (size_t e = 0; e < p->n_entries; e++) {
        free(p->entries[e].statement);
        free(p->entries[e].signature);
        free(p->entries[e].blob);
    }
    free(p->entries);
}

/* ---------------------------------------------------------------- writing, on the committer */

struct chunk {
    struct gen *g;
    struct prep *p;
    size_t n;
};

static kerr add_event(vault *v, store_txn *t, const char *citizen, const char *actor, const char *role,
                    const char *org, const char *action, const char *section, const char *basis, int64_t now)
{
    journal_event ev = {.time = now, .actor = actor, .actor_role = role, .organisation = org, .action = action,
                        .section = section, .basis = basis, .result = "allowed", .remote = "127.0.0.1"};
    return journal_append(v->journal, t, citizen, &ev, NULL, NULL);
}

static kerr write_citizen(struct gen *g, store_txn *t, const struct prep *p)
{
    vault *v = g->v;
    struct citizen cz;
    memset(&cz, 0, sizeof cz);
    snprintf(cz.id, sizeof cz.id, "%s", p->id);
    snprintf(cz.display_name, sizeof cz.display_name, "Inwoner %s", p->id + 1);
    cz.created = g->now;
    cz.enrolled = 1;
    memcpy(cz.sign_pk, p->sign_pk, 32);
    memcpy(cz.box_pk, p->box_pk, 32);
    citizen_put(v, t, &cz);
    add_event(v, t, p->id, "beheer", "admin", "Gemeente Voorbeeldstad", "create", NULL, "own", g->now);
    citizen_login_put(v, t, p->id, &p->login);
    for (size_t s = 0; s < p->n_sections; s++) {
        struct section_state st = {.current_epoch = 1, .next_seq = 1};
        if (!strcmp(p->section[s], "plan")) {
            st.next_seq = p->n_entries + 1;
            st.entries = p->n_entries;
        }
        vault_claim_statement_id(v, t, KSTMT_EPOCH, p->ep_id[s], g->now);
        section_put(v, t, p->id, p->section[s], &st);
        epoch_put(v, t, p->id, p->section[s], &p->ep[s]);
    }
    add_event(v, t, p->id, p->id, "citizen", "", "enroll", NULL, "own", g->now);

    const char *secs[GRANTED] = {granted[0], granted[1], granted[2]};
    struct grant_rec gr = {
        .id = p->grant_id, .citizen = p->id, .grantee = PROF, .purpose = "ondersteuning", .sections = secs,
        .n_sections = GRANTED, .write = 0, .not_before = g->now - 3600, .expires = g->now + 170 * 86400,
        .created = g->now, .statement = p->g_statement, .signature = p->g_signature,
    };
    vault_claim_statement_id(v, t, KSTMT_GRANT, p->grant_id, g->now);
    if (grant_put(t, v->tab, &gr) != KERR_OK)
        return t->err ? t->err : KERR_CONFLICT;
    for (int s = 0; s < GRANTED; s++)
        if (grant_wrap_put(t, v->tab, p->id, p->grant_id, granted[s], 1, p->gwrap[s]) != KERR_OK)
            return t->err;
    add_event(v, t, p->id, p->id, "citizen", "", "grant", NULL, p->grant_id, g->now);

    for (size_t e = 0; e < p->n_entries; e++) {
        const struct prep_entry *pe = &p->entries[e];
        struct entry_rec er = {
            .seq = e + 1, .epoch = 1, .created = g->now, .id = pe->id, .id_len = strlen(pe->id), .author = p->id,
            .author_len = strlen(p->id), .statement = pe->statement, .statement_len = strlen(pe->statement),
            .signature = pe->signature, .signature_len = strlen(pe->signature), .blob = pe->blob,
            .blob_len = strlen(pe->blob),
        };
        vault_claim_statement_id(v, t, KSTMT_ENTRY, pe->id, g->now);
        entry_put(v, t, p->id, "plan", &er);
        add_event(v, t, p->id, p->id, "citizen", "", "write", "plan", "own", g->now);
    }
    return t->err;
}

static kerr chunk_apply(store_txn *t, void *arg)
{
    struct chunk *c = arg;
    for (size_t i = 0; i < c->n && t->err == KERR_OK; i++)
        write_citizen(c->g, t, &c->p[i]);
    return t->err;
}

static void *producer(void *arg)
{
    struct gen *g = arg;
    struct prep *p = calloc(CHUNK, sizeof *p);
    if (!p)
        die("out of memory");
    for (;;) {
        pthread_mutex_lock(&g->mu);
        unsigned long from = g->next;
        g->next += CHUNK;
        pthread_mutex_unlock(&g->mu);
        if (from > g->last)
            break;
        size_t n = 0;
        store_txn t;
        store_txn_begin(g->v->st, &t, true);
        for (unsigned long i = from; i <= g->last && i < from + CHUNK; i++) {
            char id[32];
            struct citizen cz;
            snprintf(id, sizeof id, "c%07lu", i);
            if (citizen_get(g->v, &t, id, &cz) != KERR_OK) /* data sets grow, never change */
                prep_citizen(g, i, &p[n++]);
        }
        store_txn_abort(&t);
        struct chunk c = {g, p, n};
        kerr e = gc_submit(g->v->gc, chunk_apply, &c);
        if (e != KERR_OK)
            die("writing citizens %lu..: %s", from, kerr_code(e));
        for (size_t i = 0; i < n; i++)
            prep_free(&p[i]);
        pthread_mutex_lock(&g->mu);
        g->done += n;
        unsigned long d = g->done;
        pthread_mutex_unlock(&g->mu);
        if (n && d % 10000 < CHUNK)
            fprintf(stderr, "bench_gen: %lu citizens written\n", d);
    }
    free(p);
    return NULL;
}

/* ---------------------------------------------------------------- principals and sessions */

struct prin_op {
    vault *v;
    const char *id;
    int64_t now;
};

static kerr prin_apply(store_txn *t, void *arg)
{
    struct prin_op *op = arg;
    struct vault_principal p;
    if (vault_principal_get(op->v, t, op->id, &p) == KERR_OK)
        return KERR_OK;
    struct kluis_keys *k = kluis_keys_new();
    if (!k)
        return KERR_INTERNAL;
    keys_of(k, op->id);
    memset(&p, 0, sizeof p);
    snprintf(p.id, sizeof p.id, "%s", op->id);
    snprintf(p.role, sizeof p.role, "professional");
    snprintf(p.display_name, sizeof p.display_name, "Wijkteam %s", op->id);
    snprintf(p.organisation, sizeof p.organisation, "Wijkteam Noord");
    memcpy(p.sign_pk, k->sign_pk, 32);
    memcpy(p.box_pk, k->box_pk, 32);
    p.active = 1;
    kluis_keys_free(k);
    return vault_principal_put(op->v, t, &p, op->now);
}

struct sess_op {
    vault *v;
    size_t n;
    const char **who;
    const enum krole *role;
    char (*tok)[64];
    int64_t now, expires;
};

static kerr sess_apply(store_txn *t, void *arg)
{
    struct sess_op *op = arg;
    for (size_t i = 0; i < op->n; i++) {
        unsigned char raw[AUTH_TOKEN_BYTES], h[32];
        randombytes_buf(raw, sizeof raw);
        char *s = b64(raw, sizeof raw);
        snprintf(op->tok[i], 64, "%s", s);
        free(s);
        session_token_hash(h, raw);
        struct session se = {.role = op->role[i], .expires = op->expires};
        snprintf(se.principal, sizeof se.principal, "%s", op->who[i]);
        session_put(op->v, t, h, &se, op->now);
    }
    return t->err;
}

/* ---------------------------------------------------------------- commands */

/* Sessions of bench-prof and of the first 1000 citizens (grant benchmark), valid 12 hours, and the
 * files PREFIX.token, PREFIX.ctokens and PREFIX.paths. */
static void write_sessions(vault *v, unsigned long n, const char *prefix, int64_t now)
{
    char path[4096];
    size_t nc = n < 1000 ? n : 1000;
    const char **who = calloc(nc + 1, sizeof *who);
    enum krole *role = calloc(nc + 1, sizeof *role);
    char (*tok)[64] = calloc(nc + 1, sizeof *tok);
    char (*ids)[32] = calloc(nc + 1, sizeof *ids);
    if (!who || !role || !tok || !ids)
        die("out of memory");
    who[0] = PROF;
    role[0] = KROLE_PROFESSIONAL;
    for (size_t i = 0; i < nc; i++) {
        snprintf(ids[i], sizeof ids[i], "c%07zu", i + 1);
        who[i + 1] = ids[i];
        role[i + 1] = KROLE_CITIZEN;
    }
    struct sess_op so = {v, nc + 1, who, role, tok, now, now + 12 * 3600};
    if (gc_submit(v->gc, sess_apply, &so) != KERR_OK)
        die("cannot write the sessions");
    snprintf(path, sizeof path, "%s.token", prefix);
    FILE *f = fopen(path, "w");
    if (!f)
        die("cannot write %s", path);
    fprintf(f, "%s\n", tok[0]);
    fclose(f);
    snprintf(path, sizeof path, "%s.ctokens", prefix);
    if (!(f = fopen(path, "w")))
        die("cannot write %s", path);
    for (size_t i = 0; i < nc; i++)
        fprintf(f, "%s %s\n", ids[i], tok[i + 1]);
    fclose(f);
    snprintf(path, sizeof path, "%s.paths", prefix);
    if (!(f = fopen(path, "w")))
        die("cannot write %s", path);
    for (unsigned long i = 1; i <= n; i++)
        fprintf(f, "/v1/citizens/c%07lu/sections/plan/entries\n", i);
    fclose(f);
    free(who);
    free(role);
    free(tok);
    free(ids);
}



static const char *arg(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 2; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return argv[i + 1];
    return def;
}

static int flag(int argc, char **argv, const char *name)
{
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], name))
            return 1;
    return 0;
}

static void create_vault(const char *dir, const char *charter_path, int64_t now)
{
    FILE *f = fopen(charter_path, "rb");
    if (!f)
        die("cannot read %s", charter_path);
    static char cbytes[1 << 20];
    size_t clen = fread(cbytes, 1, sizeof cbytes - 1, f);
    fclose(f);
    struct kluis_keys *admin = kluis_keys_new();
    if (!admin)
        die("out of memory");
    keys_of(admin, "beheer");
    struct vault_principal a = {.active = 1};
    snprintf(a.id, sizeof a.id, "beheer");
    snprintf(a.role, sizeof a.role, "admin");
    snprintf(a.display_name, sizeof a.display_name, "beheer");
    snprintf(a.organisation, sizeof a.organisation, "Gemeente Voorbeeldstad");
    memcpy(a.sign_pk, admin->sign_pk, 32);
    memcpy(a.box_pk, admin->box_pk, 32);
    kluis_keys_free(admin);
    unsigned char auth_sk[32], auth_pk[32];
    seed_of(auth_sk, "authority", "bench", NULL);
    if (kluis_box_pk_from_sk(auth_pk, auth_sk) != 0)
        die("authority key");
    sodium_memzero(auth_sk, sizeof auth_sk);
    struct jerr err = {0};
    if (vault_create(dir, "bench.voorbeeldstad.nl/kluis", cbytes, clen, &a, auth_pk, now, &err) != KERR_OK)
        die("vault_create: %s", err.msg);
}

static int cmd_vault(int argc, char **argv)
{
    const char *dir = argv[2];
    const char *charter = arg(argc, argv, "--charter", "policy/charter.example.json");
    unsigned long n = strtoul(arg(argc, argv, "--citizens", "1000"), NULL, 10);
    const char *prefix = arg(argc, argv, "--out", dir);
    struct gen g = {.entries = strtoul(arg(argc, argv, "--entries", "4"), NULL, 10),
                    .real_wraps = flag(argc, argv, "--real-wraps"), .now = (int64_t)time(NULL)};
    g_fast = flag(argc, argv, "--fast");
    char path[4096];
    struct stat sb;

    snprintf(path, sizeof path, "%s/data.mdb", dir);
    if (stat(path, &sb) != 0)
        create_vault(dir, charter, g.now);
    struct jerr err = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (vault_open(&g.v, dir, &err) != KERR_OK)
        die("vault_open: %s", err.msg);
    g.ch = vault_charter_get(g.v);
    memcpy(g.authority_pk, g.v->authority_pk, 32);

    struct prin_op po = {g.v, PROF, g.now};
    struct prin_op po2 = {g.v, PROF2, g.now};
    if (gc_submit(g.v->gc, prin_apply, &po) != KERR_OK || gc_submit(g.v->gc, prin_apply, &po2) != KERR_OK)
        die("cannot register the professionals");
    struct kluis_keys *pk = kluis_keys_new();
    keys_of(pk, PROF);
    memcpy(g.prof_box_pk, pk->box_pk, 32);
    kluis_keys_free(pk);

    g.first = 1;
    g.last = n;
    g.next = 1;
    pthread_mutex_init(&g.mu, NULL);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int nthr = ncpu > 1 ? (int)(ncpu > 8 ? 8 : ncpu) : 1;
    pthread_t th[8];
    for (int i = 0; i < nthr; i++)
        pthread_create(&th[i], NULL, producer, &g);
    for (int i = 0; i < nthr; i++)
        pthread_join(th[i], NULL);

    vault_charter_put(g.v, g.ch);
    write_sessions(g.v, n, prefix, g.now);
    vault_close(g.v);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "bench_gen: vault %s: %lu citizens, %zu entries each, in %.1f s\n", dir, n, g.entries,
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    return 0;
}

static int cmd_sessions(int argc, char **argv)
{
    const char *dir = argv[2];
    struct jerr err = {0};
    vault *v = NULL;
    if (vault_open(&v, dir, &err) != KERR_OK)
        die("vault_open: %s", err.msg);
    write_sessions(v, strtoul(arg(argc, argv, "--citizens", "1000"), NULL, 10), arg(argc, argv, "--out", dir),
                   (int64_t)time(NULL));
    vault_close(v);
    return 0;
}

static int cmd_grants(int argc, char **argv)
{
    const char *ctok = arg(argc, argv, "--ctokens", NULL), *out = arg(argc, argv, "--out", NULL);
    unsigned long count = strtoul(arg(argc, argv, "--count", "40000"), NULL, 10);
    if (!ctok || !out)
        die("grants needs --ctokens and --out");
    FILE *f = fopen(ctok, "r");
    if (!f)
        die("cannot read %s", ctok);
    char (*cid)[64] = NULL, (*tok)[128] = NULL;
    size_t n = 0, cap = 0;
    char a[64], b[128];
    while (fscanf(f, "%63s %127s", a, b) == 2) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            cid = realloc(cid, cap * sizeof *cid);
            tok = realloc(tok, cap * sizeof *tok);
        }
        snprintf(cid[n], 64, "%s", a);
        snprintf(tok[n], 128, "%s", b);
        n++;
    }
    fclose(f);
    if (!n)
        die("no citizen tokens in %s", ctok);
    FILE *o = fopen(out, "w");
    if (!o)
        die("cannot write %s", out);
    struct kluis_keys *pk = kluis_keys_new(), *ck = kluis_keys_new();
    keys_of(pk, PROF2);
    unsigned char rnd[6];
    char run[13];
    randombytes_buf(rnd, sizeof rnd);
    hex_encode(run, rnd, sizeof rnd);
    int64_t now = (int64_t)time(NULL);
    for (unsigned long i = 0; i < count; i++) {
        const char *c = cid[i % n];
        char gid[64];
        keys_of(ck, c);
        snprintf(gid, sizeof gid, "gb-%s-%lu", run, i);
        json_t *secs = json_array(), *wraps = json_array();
        for (int s = 0; s < GRANTED; s++) {
            unsigned char dek[32], w[KLUIS_WRAP_BYTES];
            seed_of(dek, "dek", c, granted[s]);
            if (kluis_wrap(w, dek, pk->box_pk) != 0)
                die("wrap");
            json_array_append_new(secs, json_string(granted[s]));
            json_array_append_new(wraps, json_pack("{s:s, s:I, s:o}", "section", granted[s], "epoch", (json_int_t)1,
                                                   "wrap", jb64(w, sizeof w)));
        }
        char *st, *sg;
        sign(json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:o, s:s, s:s, s:I, s:I}", "type", "grant", "id", gid, "signer",
                       c, "issued", (json_int_t)now, "citizen", c, "grantee", PROF2, "sections", secs, "access", "read",
                       "purpose", "ondersteuning", "not_before", (json_int_t)now, "expires",
                       (json_int_t)(now + 30 * 86400)),
             ck->sign_sk, &st, &sg);
        json_t *body = json_pack("{s:s, s:s, s:o}", "statement", st, "signature", sg, "wraps", wraps);
        char *text = json_dumps(body, JSON_COMPACT);
        fprintf(o, "/v1/citizens/%s/grants\t%s\t%s\n", c, tok[i % n], text);
        free(text);
        json_decref(body);
        free(st);
        free(sg);
    }
    fclose(o);
    kluis_keys_free(pk);
    kluis_keys_free(ck);
    free(cid);
    free(tok);
    return 0;
}

int main(int argc, char **argv)
{
    if (secret_init(0) != 0)
        die("libsodium");
    if (argc >= 3 && !strcmp(argv[1], "vault"))
        return cmd_vault(argc, argv);
    if (argc >= 3 && !strcmp(argv[1], "sessions"))
        return cmd_sessions(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "grants"))
        return cmd_grants(argc, argv);
    fprintf(stderr, "usage: bench_gen vault DIR [--charter F] [--citizens N] [--entries E] [--out PREFIX] "
                    "[--real-wraps]\n       bench_gen sessions DIR [--citizens N] [--out PREFIX]\n       bench_gen grants --ctokens F --count M --out F\n");
    return 2;
}
